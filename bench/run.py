#!/usr/bin/env python3
"""bench/run: attachgate's benchmark suite, every part in one invocation.

  1 mail         Postfix throughput (smtp-source -> Postfix -> smtp-sink), with
                 and without the milter, for 10 KB text, 2 MB and 25 MB
                 attachments                         (bench/mail_throughput.py)
  2 milter       milter cost per message: end-of-message p50/p99, peak RSS,
                 decoded MB/s, CPU for 1, 25 and 200 MB (milter_message_size.py)
  3 downloads    attachgate web vs nginx on one 512 MB file, 1 and 8 clients;
                 landing page requests/s with wrk      (bench/downloads.py)
  4 connections  1,000 idle connections held 30 s during downloads
  5 codes        p99 of /healthz and of a landing page with and without 8 clients
                 flooding the server with access-code checks  (bench/code_flood.py)
  6 recipients   a 2 MB attachment to 5 external recipients: links = "per_recipient"
                 (4 recipient copies injected by the notify role) against "shared";
                 msg/s until all deliveries reached the sink, milter and notify CPU
                                                       (bench/recipient_links.py)
  7 backends     one node on SQLite + files against one on PostgreSQL + S3 (mail
                 10 KB / 2 MB, downloads 1 and 4 clients, landing pages), then two
                 nodes against one on PostgreSQL + S3         (bench/backends.py)
  8 growth       p50/p99 of a landing page, a claim, a status page, /healthz,
                 `attachgate list` and the milter's catalog commit, and a purge's
                 time, as the catalog grows to 10^4, 10^5, 10^6 messages, on
                 SQLite and PostgreSQL                  (bench/growth.py)

Each comparison runs side by side, taking turns, and is reported as a ratio.
Writes docs/benchmarks.md and docs/benchmarks.svg on a full run. Needs root
(Postfix's master runs as root) and contrib/install-deps.sh --with-bench.
Python standard library only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
PARTS = ["mail", "milter", "downloads", "connections", "codes", "recipients", "backends",
         "growth"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/run", description=__doc__.split("\n\n")[0] + " Runs, in order: "
        "1 mail, 2 milter, 3 downloads, 4 connections, 5 codes, 6 recipients, 7 backends, "
        "8 growth.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--only", action="append", metavar="PART",
                   help="run only this part: mail, milter, downloads, connections, codes, recipients, "
                        "backends, growth or 1-8; "
                        "repeat or comma-separate for several")
    p.add_argument("--quick", action="store_true",
                   help="smaller counts for a smoke run (about 4 minutes); figures are noisy")
    p.add_argument("--json", metavar="FILE", help="also write every result as JSON to FILE")
    p.add_argument("--docs", dest="docs", action="store_true", default=None,
                   help="write docs/benchmarks.md and the chart even for --quick or --only")
    p.add_argument("--no-docs", dest="docs", action="store_false",
                   help="do not write docs/ (the default for --quick and --only)")
    p.add_argument("--md", default=str(REPO / "docs" / "benchmarks.md"), help=argparse.SUPPRESS)
    p.add_argument("--chart", default=str(REPO / "docs" / "benchmarks.svg"), help=argparse.SUPPRESS)
    p.add_argument("--source", default=None,
                   help="the checkout or `git archive` export the binary was built from; its "
                        "conf/, templates/ and contrib/ are used (default: this checkout)")
    p.add_argument("--bin", default=None,
                   help="attachgate executable (default: $ATTACHGATE_BIN or "
                        "build-bench/app/attachgate)")
    p.add_argument("--seed-link", default=None,
                   help="the tests' seed_link fixture (default: $SEED_LINK_BIN or "
                        "build-bench/tests/e2e/seed_link)")
    p.add_argument("--config", default=None,
                   help="service config (default: SOURCE/conf/attachgate.toml)")
    p.add_argument("--tmpdir", default=None, help="where the work directory goes")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--milter-socket", choices=("inet", "unix"), default="unix",
                   help="how Postfix reaches the milter in parts 1 and 2: unix = a unix socket "
                        "as in contrib/postfix/main.cf (default), inet = loopback TCP")
    p.add_argument("--timeout", type=float, default=900, help="seconds for any one wait")
    p.add_argument("--seed", type=int, default=1, help="seed for attachment bytes")
    p.add_argument("--report-from", metavar="FILE",
                   help="run nothing: write docs/ again from a --json FILE of an earlier run "
                        "(e.g. after editing bench/analysis.md)")
    g = p.add_argument_group("sizes (defaults are the issue's; --quick lowers them)")
    g.add_argument("--mail-messages", type=int, help="messages per pass (200)")
    g.add_argument("--mail-concurrency", type=int, help="smtp-source sessions (10)")
    g.add_argument("--mail-rounds", help="passes per side for each mix, 10KB,2MB,25MB (3,3,1)")
    g.add_argument("--milter-sizes", help="part 2 sizes with repeats (1MB:20,25MB:10,200MB:5)")
    g.add_argument("--file-mb", type=int, help="download file size in MB (512)")
    g.add_argument("--download-rounds", type=int, help="rounds per client count (3)")
    g.add_argument("--wrk-seconds", type=int, help="seconds per wrk run (10)")
    g.add_argument("--wrk-rounds", type=int, help="wrk runs per server (2)")
    g.add_argument("--wrk-connections", type=int, help="wrk connections (16)")
    g.add_argument("--idle-connections", type=int, help="idle connections (1000)")
    g.add_argument("--idle-seconds", type=float, help="how long they are held (30)")
    g.add_argument("--code-flooders", type=int, help="clients posting access codes (8)")
    g.add_argument("--code-rounds", type=int, help="quiet/flood rounds (3)")
    g.add_argument("--code-seconds", type=float, help="seconds per phase and round (10)")
    g.add_argument("--probe-gap", type=float, help="pause between probe requests, s (0.02)")
    g.add_argument("--recipients-messages", type=int,
                   help="part 6: messages per pass, each to --recipients-count recipients (50)")
    g.add_argument("--recipients-count", type=int,
                   help="part 6: external recipients per message, 2-20 (5)")
    g.add_argument("--recipients-rounds", type=int, help="part 6: passes per side (3)")
    g.add_argument("--backends-messages", type=int, help="part 7: messages per mail pass (100)")
    g.add_argument("--backends-rounds", type=int, help="part 7: rounds per side and figure (2)")
    g.add_argument("--backends-file-mb", type=int, help="part 7: download file size in MB (256)")
    g.add_argument("--growth-sizes", help="part 8: catalog sizes in messages (10000,100000,1000000)")
    g.add_argument("--growth-engines", help="part 8: sqlite, postgresql or both (sqlite,postgresql)")
    g.add_argument("--growth-probes", type=int, help="part 8: probe messages per size (200)")
    g.add_argument("--growth-rounds", type=int, help="part 8: requests per probe and kind (2)")
    g.add_argument("--growth-list-runs", type=int, help="part 8: `attachgate list` runs (20)")
    g.add_argument("--growth-commits", type=int, help="part 8: offload commits timed (200)")
    args = p.parse_args(argv)

    full = {"mail_messages": 200, "mail_concurrency": 10, "mail_rounds": "3,3,1",
            "milter_sizes": "1MB:20,25MB:10,200MB:5", "file_mb": 512, "download_rounds": 3,
            "wrk_seconds": 10, "wrk_rounds": 2, "wrk_connections": 16,
            "idle_connections": 1000, "idle_seconds": 30, "code_flooders": 8, "code_rounds": 3,
            "code_seconds": 10, "probe_gap": 0.02, "recipients_messages": 50,
            "recipients_count": 5, "recipients_rounds": 3, "backends_messages": 100,
            "backends_rounds": 2, "backends_file_mb": 256,
            "growth_sizes": "10000,100000,1000000", "growth_engines": "sqlite,postgresql",
            "growth_probes": 200, "growth_rounds": 2, "growth_list_runs": 20,
            "growth_commits": 200}
    quick = dict(full, mail_messages=20, mail_rounds="1,1,1", milter_sizes="1MB:3,25MB:2,200MB:1", file_mb=64,
                 download_rounds=1, wrk_seconds=3, wrk_rounds=1, idle_seconds=5, code_rounds=1,
                 code_seconds=4, recipients_messages=20, recipients_rounds=1,
                 backends_messages=20, backends_rounds=1, backends_file_mb=64,
                 growth_sizes="1000,10000", growth_probes=50, growth_rounds=1,
                 growth_list_runs=5, growth_commits=50)
    for k, v in (quick if args.quick else full).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    try:
        args.mail_rounds = [int(x) for x in str(args.mail_rounds).split(",")]
        if len(args.mail_rounds) == 1:
            args.mail_rounds *= 3
        assert len(args.mail_rounds) == 3 and min(args.mail_rounds) >= 1
    except (ValueError, AssertionError):
        p.error("--mail-rounds takes N or N,N,N (one per mix), each at least 1")
    parts: list[str] = []
    for item in args.only or []:
        for name in item.split(","):
            name = name.strip()
            name = PARTS[int(name) - 1] if name.isdigit() and 1 <= int(name) <= len(PARTS) \
                else name
            if name not in PARTS:
                p.error("unknown part %r (mail, milter, downloads, connections, codes, "
                        "recipients, backends, growth or 1-8)" % name)
            parts.append(name)
    args.parts = [x for x in PARTS if x in parts] if parts else list(PARTS)
    if not 2 <= args.recipients_count <= 20:
        p.error("--recipients-count must be 2 to 20 (the policy's max_split_recipients)")
    try:
        args.growth_sizes = [int(x) for x in str(args.growth_sizes).split(",")]
        args.growth_engines = [x.strip() for x in str(args.growth_engines).split(",")]
        assert min(args.growth_sizes) >= 1 and args.growth_probes >= 1
        assert set(args.growth_engines) <= {"sqlite", "postgresql"}
    except (ValueError, AssertionError):
        p.error("--growth-sizes takes N,N,... (each at least 1); --growth-engines sqlite, "
                "postgresql or both")
    if args.docs is None:
        args.docs = not args.quick and not args.only
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.report_from:
        sys.path.insert(0, str(BENCH_DIR))
        import report
        results = json.loads(Path(args.report_from).read_text())
        print(report.console_table(results))
        report.write(results, Path(args.md), Path(args.chart), BENCH_DIR / "analysis.md")
        print("wrote %s and %s" % (args.md, args.chart), file=sys.stderr)
        return 0
    if args.source:
        os.environ["ATTACHGATE_SOURCE_DIR"] = str(Path(args.source).resolve())
    build = REPO / "build-bench"
    args.bin = str(Path(args.bin or os.environ.get("ATTACHGATE_BIN")
                        or build / "app" / "attachgate").resolve())
    args.seed_link = str(Path(args.seed_link or os.environ.get("SEED_LINK_BIN")
                              or build / "tests" / "e2e" / "seed_link").resolve())
    os.environ["ATTACHGATE_BIN"] = args.bin
    tools = Path(args.seed_link).parents[2] / "bench"  # part 8's tools, built beside seed_link
    args.growth_seed, args.growth_commit = str(tools / "growth_seed"), str(tools / "growth_commit")
    sys.dont_write_bytecode = True  # no __pycache__ in bench/ or tests/e2e/
    sys.path.insert(0, str(BENCH_DIR))
    import milter_message_size as mms  # after ATTACHGATE_SOURCE_DIR: it imports the harness
    import mail_throughput
    import code_flood
    import recipient_links
    import backends
    import growth
    import downloads
    import report
    from milter_message_size import harness, log

    if args.config is None:
        args.config = str(harness.DEFAULT_CONFIG)
    if os.geteuid() != 0:
        raise SystemExit("bench/run must run as root (Postfix's master runs as root)")
    if "/usr/sbin" not in os.environ.get("PATH", ""):
        os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    need = {"mail": ["postfix", "smtp-source", "smtp-sink", "script"],
            "milter": ["postfix", "smtp-sink", "script"],
            "downloads": ["nginx", "curl", "wrk"], "connections": ["curl"], "codes": [],
            "recipients": ["postfix", "smtp-source", "smtp-sink", "script"],
            "backends": ["postfix", "smtp-source", "smtp-sink", "script", "curl", "wrk", "node"],
            "growth": []}
    missing = sorted({t for part in args.parts for t in need[part] if shutil.which(t) is None})
    if missing:
        raise SystemExit("missing %s: run contrib/install-deps.sh --with-bench" % ", ".join(missing))
    if not os.access(args.bin, os.X_OK):
        raise SystemExit("no attachgate executable at %s; build it (see bench/README.md) or "
                         "pass --bin" % args.bin)

    started = time.monotonic()
    machine = mms.machine()
    nginx = subprocess.run(["nginx", "-v"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True) if shutil.which("nginx") else None
    machine["nginx"] = nginx.stdout.strip().split("/")[-1] if nginx else ""
    results = {"benchmark": "bench/run",
               "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
               "command": " ".join(["bench/run"] + argv), "quick": args.quick,
               "parts": args.parts, "machine": machine,
               "attachgate": mms.provenance(Path(args.bin)), "config": args.config,
               "loadavg_before": mms.loadavg()}
    workdir = Path(tempfile.mkdtemp(prefix="attachgate-bench-", dir=args.tmpdir))
    workdir.chmod(0o755)  # Postfix daemons and smtp-sink run as postfix
    log("bench/run: parts %s, work directory %s" % (", ".join(args.parts), workdir))
    ok = False
    try:
        if "mail" in args.parts:
            log("part 1: mail throughput, %d messages at concurrency %d per pass"
                % (args.mail_messages, args.mail_concurrency))
            d = workdir / "mail"
            d.mkdir(mode=0o755)
            results["mail"] = mail_throughput.run(args, d)
        if "milter" in args.parts:
            log("part 2: milter cost per message (%s)" % args.milter_sizes)
            ns = argparse.Namespace(sizes=mms.parse_sizes(args.milter_sizes), repeat=1,
                                    bin=args.bin, config=args.config, socket=args.milter_socket,
                                    tmpdir=str(workdir), timeout=args.timeout, seed=args.seed,
                                    keep=args.keep)
            results["milter"] = mms.run(ns)
        if "downloads" in args.parts or "connections" in args.parts:
            log("parts 3-4: downloads and idle connections")
            d = workdir / "downloads"
            d.mkdir(mode=0o755)
            results["downloads"] = downloads.run(args, d, set(args.parts))
        if "codes" in args.parts:
            log("part 5: latency during a flood of access-code checks")
            d = workdir / "codes"
            d.mkdir(mode=0o755)
            results["codes"] = code_flood.run(args, d)
        if "recipients" in args.parts:
            log("part 6: links per recipient against one shared link, %d messages to %d "
                "recipients per pass" % (args.recipients_messages, args.recipients_count))
            d = workdir / "recipients"
            d.mkdir(mode=0o755)
            results["recipients"] = recipient_links.run(args, d)
        if "backends" in args.parts:
            log("part 7: SQLite + files against PostgreSQL + S3, then two nodes against one")
            d = workdir / "backends"
            d.mkdir(mode=0o755)
            results["backends"] = backends.run(args, d)
        if "growth" in args.parts:
            log("part 8: cost as the catalog grows to %s messages on %s"
                % (", ".join(str(n) for n in args.growth_sizes), ", ".join(args.growth_engines)))
            d = workdir / "growth"
            d.mkdir(mode=0o755)
            results["growth"] = growth.run(args, d)
        ok = True
    finally:
        if args.keep or not ok:
            log("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["loadavg_after"] = mms.loadavg()
    results["elapsed_seconds"] = time.monotonic() - started

    print(report.console_table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        log("wrote %s" % args.json)
    if args.docs and args.parts == ["growth"]:  # its section alone, the others kept
        report.splice_section(Path(args.md), report.growth_section(results["growth"]))
        log("wrote part 8's section into %s" % args.md)
    elif args.docs:
        report.write(results, Path(args.md), Path(args.chart), BENCH_DIR / "analysis.md")
        log("wrote %s and %s" % (args.md, args.chart))
    log("bench/run: done in %.0f s" % results["elapsed_seconds"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
