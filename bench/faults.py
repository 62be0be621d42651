#!/usr/bin/env python3
"""bench/faults: send messages with attachments (a few KB to a few MB)
through a real Postfix pair while the milter and the notify role are
killed with SIGKILL at random moments and at named crash points
(util/fault.h); then let Postfix and the outbox retry, download every link
through the web role, and check each file's SHA-256, that each recipient's
link is their own, and the store (no blob without a row, no row without a
blob). A third of the messages (--multi-share) go to 2-4 recipients, each
with a link of their own, the copies injected by the notify role.

Prints progress, then the outcome counts; exit status 1 if any recipient
lost a message, got someone else's link or a download that differs, or got
a message twice without the trail saying so, or the store disagrees with
itself.
The stack and checks are tests/faults/campaign.py; `ctest -L faults` runs a
50-message version.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "faults"))


def main() -> int:
    p = argparse.ArgumentParser(prog="bench/faults", description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=1000, help="messages to send (1000)")
    p.add_argument("--kills", type=int, help="kills to aim for (default: messages / 10)")
    p.add_argument("--min-size", type=int, default=4_000, help="smallest attachment, bytes")
    p.add_argument("--max-size", type=int, default=4_000_000, help="largest attachment, bytes")
    p.add_argument("--multi-share", type=float, default=1 / 3, metavar="SHARE",
                   help="share of messages to 2-4 recipients, whose copies the notify role "
                        "injects (1/3); 0 runs the milter and web roles alone")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--settle", type=float, default=900,
                   help="seconds to wait for retried mail after the kills stop (900)")
    p.add_argument("--bin", help="attachgate executable (default: $ATTACHGATE_BIN or "
                                 "build/app/attachgate)")
    p.add_argument("--json", metavar="FILE", help="also write the result as JSON to FILE")
    p.add_argument("--tmpdir", help="where the work directory goes")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args()
    if not 0 <= args.multi_share <= 1:
        p.error("--multi-share must be between 0 and 1")
    if os.geteuid() != 0:
        p.error("must run as root (Postfix's master runs as root)")
    os.environ["ATTACHGATE_BIN"] = args.bin or os.environ.get("ATTACHGATE_BIN") or \
        str(REPO / "build" / "app" / "attachgate")
    os.environ.setdefault("ATTACHGATE_SOURCE_DIR", str(REPO))
    import campaign

    workdir = Path(tempfile.mkdtemp(prefix="attachgate-faults-", dir=args.tmpdir))
    workdir.chmod(0o755)  # Postfix daemons and smtp-sink (user postfix) reach inside
    ok = False
    try:
        result = campaign.kill_campaign(
            workdir / "run", messages=args.messages,
            kills=args.kills if args.kills is not None else max(1, args.messages // 10),
            seed=args.seed, low=args.min_size, high=args.max_size,
            settle_timeout=args.settle, multi_share=args.multi_share)
        ok = not result["failures"]
        print(json.dumps(result, indent=1))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
        return 0 if ok else 1
    finally:
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print("work directory kept: %s" % workdir, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
