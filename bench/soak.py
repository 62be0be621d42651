#!/usr/bin/env python3
"""bench/soak: messages with small attachments through Postfix and the
milter, and downloads of every link through the web role, in one bounded
run of services that are never restarted. The RSS of every attachgate
process (each role's worker and supervisor) is sampled throughout and
reported as start (after warm-up), end and peak; a role is flat when it grew
by less than max(8 MiB, 15%).

Exit status 1 if a download differed from its original, the store disagrees
with itself, or a role's RSS was not flat. tests/faults/soak.py holds the
run; `ctest -L faults` runs a 300-message version.
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
    p = argparse.ArgumentParser(prog="bench/soak", description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=10000, help="messages to send (10000)")
    p.add_argument("--downloads", type=int, default=10000, help="files to download (10000)")
    p.add_argument("--max-seconds", type=float, default=3600, help="bound on the run (3600)")
    p.add_argument("--senders", type=int, default=4, help="concurrent SMTP sessions (4)")
    p.add_argument("--sample-every", type=float, default=2.0, help="seconds between RSS samples")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--bin", help="attachgate executable (default: $ATTACHGATE_BIN or "
                                 "build/app/attachgate)")
    p.add_argument("--json", metavar="FILE", help="also write the result (with every sample)")
    p.add_argument("--tmpdir", help="where the work directory goes")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args()
    if os.geteuid() != 0:
        p.error("must run as root (Postfix's master runs as root)")
    os.environ["ATTACHGATE_BIN"] = args.bin or os.environ.get("ATTACHGATE_BIN") or \
        str(REPO / "build" / "app" / "attachgate")
    os.environ.setdefault("ATTACHGATE_SOURCE_DIR", str(REPO))
    import soak

    workdir = Path(tempfile.mkdtemp(prefix="attachgate-soak-", dir=args.tmpdir))
    workdir.chmod(0o755)  # Postfix daemons and smtp-sink (user postfix) reach inside
    ok = False
    try:
        result = soak.soak(workdir / "run", messages=args.messages, downloads=args.downloads,
                           seed=args.seed, senders=args.senders,
                           sample_every=args.sample_every, max_seconds=args.max_seconds)
        flat = all(r.get("flat") is not False for r in result["rss"].values())
        ok = not result["failures"] and result["store"]["consistent"] and flat
        print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=1))
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
