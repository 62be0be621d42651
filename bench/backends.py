"""Part 7 of bench/run: the back ends of issue 15, SQLite + files against
PostgreSQL + S3, and two nodes against one.

One node keeps its catalog in SQLite and its blobs in files (the default);
the other keeps them in PostgreSQL 15 and S3 (tests/e2e/engines.py starts
both on loopback: initdb as user postgres in the work directory, fsync on;
s3rver behind sigv4_front.py, which checks every request's SigV4
signature). The two sides take turns in the same invocation:

- mail: smtp-source -> a private Postfix per side -> smtp-sink, each Postfix
  with its own `attachgate milter`; a 10 KB and a 2 MB attachment, every
  message offloaded (the PostgreSQL side's blobs go to the bucket);
- downloads of one large file behind one link (seed_link --config, so the
  link is made as the node would make it), 1 and 4 curl clients; a third
  node reads the same blob from s3rver directly, without the SigV4 front,
  to show what the front (Python) costs;
- the landing page, with wrk.

Then, all on PostgreSQL + S3, two `attachgate web` nodes (node B: its own
state directory, the same master key file, catalog and bucket, as
tests/e2e/test_scale_out.py configures it) against one: 4 download clients
and wrk, the client spreading the load over both nodes.

Every process of both sides and both engines runs on this one shared
machine, so each figure comes with the CPU that the engines (PostgreSQL,
the front, s3rver) spent on it.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
from pathlib import Path

import downloads
import mail_throughput
import milter_message_size as mms
from milter_message_size import harness, log

import engines  # tests/e2e/engines.py, on the path through the harness import

SIDES = {"sqlite": "SQLite + files", "pg": "PostgreSQL + S3"}
MIXES = [("10KB-attachment", 10_000), ("2MB-attachment", 2_000_000)]
PREFIX = "bench"  # key prefix in the bucket
S3RVER_KEY = ("S3RVER", "S3RVER")  # s3rver's built-in key; it checks no signature


class Engines:
    """PostgreSQL and s3rver behind the SigV4 front, with one master key
    file for every node on them (each node's catalog check needs the same)."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.pg = engines.Postgres(workdir, fsync=True)
        self.s3 = engines.S3Server(workdir)
        self.master_key = workdir / "master.key"

    def start(self, cleanups: list) -> None:
        cleanups.append(self.pg.stop)
        self.pg.start()
        cleanups.append(self.s3.stop)
        self.s3.start()
        fd = os.open(self.master_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of PostgreSQL (postmaster and backends), the
        front and s3rver."""
        return {"postgres": mail_throughput.tree_cpu_seconds(self.pg.proc.pid),
                "sigv4_front": mms.cpu_seconds(self.s3.front.pid),
                "s3rver": mms.cpu_seconds(self.s3.s3rver.pid)}

    def config(self, source: Path, out: Path, direct: bool = False) -> Path:
        """source with [catalog] and [blobs] on the engines and the run's
        master key file; direct: the blobs straight from s3rver, with its
        built-in key, without the front."""
        s3 = self.s3
        text = engines.config_on_engines(
            source.read_text(), out.with_suffix(".s3"), self.pg, s3, PREFIX,
            endpoint="http://%s:%d" % (harness.LOOPBACK, s3.s3rver_port) if direct else None,
            key=S3RVER_KEY if direct else None)
        out.write_text("master_key_file = %s\n" % json.dumps(str(self.master_key)) + text)
        return out


def _cpu_delta(before: dict, after: dict) -> dict:
    return {k: after[k] - before[k] for k in before}


def _per(values: dict, n: float, scale: float = 1.0) -> dict:
    return {k: scale * v / n for k, v in values.items()}


def _median_dict(dicts: list[dict]) -> dict:
    return {k: statistics.median(d[k] for d in dicts) for k in dicts[0]} if dicts else {}


def _turns(sides: list[str], r: int) -> list[str]:
    """Who goes first moves round by round."""
    k = r % len(sides)
    return sides[k:] + sides[:k]


# ---------------------------------------------------------------- mail ----

def mail(args, workdir: Path, eng: Engines, configs: dict, cleanups: list) -> dict:
    count, concurrency = args.backends_messages, args.mail_concurrency
    shm = Path(tempfile.mkdtemp(prefix="attachgate-bench-sink-",
                                dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    shm.chmod(0o755)
    cleanups.append(lambda: shutil.rmtree(shm, ignore_errors=True))
    policy = workdir / "policy.toml"
    policy.write_text(mms.BENCH_POLICY)
    sink = harness.SmtpSink(shm)
    cleanups.append(sink.stop)
    sink.start()
    relay = "%s:%d" % (harness.LOOPBACK, sink.port)
    postfix, workers, milters = {}, {}, []
    for side in SIDES:
        (workdir / ("milter-" + side)).mkdir()
        unix_path = None
        if args.milter_socket == "unix":
            unix_path = mms.milter_socket_dir(workdir / ("socket-" + side)) / "attachgate.sock"
        milter = mms.BenchMilter(workdir / ("milter-" + side), policy, harness.free_port(),
                                 configs[side], unix_path)
        cleanups.append(milter.stop)
        milters.append(milter)
        milter.start(timeout=30)
        workers[side] = milter.worker_pid()
        pf = harness.PrivatePostfix(workdir / ("postfix-" + side))
        cleanups.append(pf.stop)
        pf.start(milter.postfix_spec, relay_to=relay)
        postfix[side] = pf
        log("part 7: %s: Postfix on :%d, milter %s" % (SIDES[side], pf.port, milter.postfix_spec))
    emls = {}
    for name, attachment in MIXES:
        emls[name] = workdir / ("%s.eml" % name)
        mms.write_message(emls[name], 0, name, args.seed, attachment_bytes=attachment, eol=b"\n")
    offloaded_pg = 0
    for side in SIDES:  # warm-up: Postfix's daemons, the milter connection, the engines
        mail_throughput.run_pass(side, postfix[side], sink, emls["2MB-attachment"], 10,
                                 min(10, concurrency), True, emls["2MB-attachment"].stat().st_size,
                                 None, args.timeout)
    offloaded_pg += 10
    log("part 7: mail warm-up done")
    out = {"messages": count, "concurrency": concurrency, "rounds": args.backends_rounds,
           "milter_socket": {"inet": "loopback TCP", "unix": "a unix socket"}[args.milter_socket],
           "mixes": []}
    for name, attachment in MIXES:
        eml = emls[name]
        passes: dict[str, list] = {s: [] for s in SIDES}
        for r in range(args.backends_rounds):
            for side in _turns(list(SIDES), r):
                cpu0 = eng.cpu()
                res = mail_throughput.run_pass(side, postfix[side], sink, eml, count, concurrency,
                                               True, eml.stat().st_size, workers[side],
                                               args.timeout)
                res["engines_cpu_seconds"] = _cpu_delta(cpu0, eng.cpu())
                passes[side].append(res)
                offloaded_pg += count if side == "pg" else 0
                log("part 7: mail %s round %d/%d %-6s %6.1f msg/s (%.1f s) milter CPU %.1f "
                    "ms/msg; engines %s" % (
                        name, r + 1, args.backends_rounds, side, res["messages_per_s"],
                        res["seconds"], 1000 * res["milter_cpu_seconds"] / count,
                        ", ".join("%s %.1f ms/msg" % (k, 1000 * v / count)
                                  for k, v in res["engines_cpu_seconds"].items())))
        med = {s: statistics.median(p["messages_per_s"] for p in passes[s]) for s in SIDES}
        out["mixes"].append({
            "mix": name, "attachment_bytes": attachment,
            "wire_bytes_per_message": passes["sqlite"][0]["wire_bytes_per_message"],
            "messages_per_s": med, "ratio": med["pg"] / med["sqlite"],
            "milter_cpu_ms_per_message": {s: statistics.median(
                1000 * p["milter_cpu_seconds"] / count for p in passes[s]) for s in SIDES},
            "postfix_cpu_ms_per_message": {s: statistics.median(
                1000 * p["postfix_cpu_seconds"] / count for p in passes[s]) for s in SIDES},
            "engines_cpu_ms_per_message": {s: _median_dict(
                [_per(p["engines_cpu_seconds"], count, 1000) for p in passes[s]]) for s in SIDES},
            "passes": passes})
        if not args.keep:
            eml.unlink()
    # The PostgreSQL side really stored in the bucket: one object per message.
    objects = len(eng.s3.keys(PREFIX + "/"))
    if objects != offloaded_pg:
        raise RuntimeError("%d messages offloaded on PostgreSQL + S3 but %d objects in the "
                           "bucket" % (offloaded_pg, objects))
    out["bucket_objects"] = objects
    for side in SIDES:  # the web parts need neither
        postfix[side].stop()
    for milter in milters:
        milter.stop()
    return out


# ----------------------------------------------------------- downloads ----

class Node(downloads.Attachgate):
    """`attachgate web` on a config of our choosing; seeds through it."""

    def __init__(self, workdir: Path, config: Path, seed_link: Path):
        workdir.mkdir()
        super().__init__(workdir, config, seed_link)
        self.seed_options = ["--config", str(config)]

    @property
    def url(self) -> str:
        return "http://%s:%d%s" % (harness.LOOPBACK, self.port, self.landing_path())

    def complete_downloads(self, queue_id: str) -> int:
        run = subprocess.run([str(self.service.bin), "--config", str(self.service.config),
                              "--state-dir", str(self.service.state_dir), "--json", "show",
                              queue_id], cwd=harness.SOURCE_DIR, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=120)
        if run.returncode != 0:
            raise RuntimeError("show %s: %s" % (queue_id, run.stderr.decode(errors="replace")))
        return sum(1 for e in json.loads(run.stdout)["events"]
                   if e["kind"] == "downloaded" and e["detail"].startswith("complete"))


def batch(nodes: list[Node], clients: int, size: int, eng: Engines) -> dict:
    """clients downloads at once, spread over nodes in turn; CPU of the web
    workers and of the engines, per GB."""
    urls = [nodes[i % len(nodes)].claim() for i in range(clients)]  # claimed before the clock
    cpu0 = eng.cpu()
    res = downloads.curl_batch(urls, size, [n.pid for n in nodes])
    gb = size * clients / 1e9
    res["engines_cpu_s_per_gb"] = _per(_cpu_delta(cpu0, eng.cpu()), gb)
    return res


def download_rounds(args, sides: dict[str, list[Node]], clients: int, size: int,
                    eng: Engines, label: str) -> dict:
    runs: dict[str, list] = {s: [] for s in sides}
    for r in range(args.backends_rounds):
        for side in _turns(list(sides), r):
            res = batch(sides[side], clients, size, eng)
            runs[side].append(res)
            log("part 7: %s, %d client(s) round %d/%d %-10s %6.0f MB/s; web CPU %.2f s/GB, "
                "engines %s" % (label, clients, r + 1, args.backends_rounds, side,
                                res["mb_per_s"], res["server_cpu_seconds_per_gb"],
                                ", ".join("%s %.2f s/GB" % kv
                                          for kv in res["engines_cpu_s_per_gb"].items())))
    return {"clients": clients,
            "mb_per_s": {s: statistics.median(x["mb_per_s"] for x in runs[s]) for s in runs},
            "web_cpu_s_per_gb": {s: statistics.median(x["server_cpu_seconds_per_gb"]
                                                      for x in runs[s]) for s in runs},
            "engines_cpu_s_per_gb": {s: _median_dict([x["engines_cpu_s_per_gb"] for x in runs[s]])
                                     for s in runs},
            "runs": runs}


def wrk_at_once(urls: list[str], seconds: int, connections: int) -> dict:
    """One wrk (one thread) per URL at the same time, the connections split
    between them; requests/s summed."""
    results: list = [None] * len(urls)

    def one(i: int) -> None:
        try:
            results[i] = downloads.wrk(urls[i], seconds, connections // len(urls), 1)
        except Exception as e:  # reported below
            results[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(urls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for url, res in zip(urls, results):
        if isinstance(res, Exception):
            raise res
        if res["non_2xx"] or res["socket_errors"]:
            raise RuntimeError("wrk on %s: %d non-2xx, %d socket errors"
                               % (url, res["non_2xx"], res["socket_errors"]))
    return {"requests_per_s": sum(x["requests_per_s"] for x in results),
            "latency_ms_p50": max(x["latency_ms_p50"] or 0 for x in results),
            "latency_ms_p99": max(x["latency_ms_p99"] or 0 for x in results),
            "wrk": results}


def landing_rounds(args, sides: dict[str, list[Node]], eng: Engines, label: str) -> dict:
    """One wrk per entry of a side's list (a node twice: two wrk on it)."""
    runs: dict[str, list] = {s: [] for s in sides}
    for r in range(args.backends_rounds):
        for side in _turns(list(sides), r):
            pids = sorted({n.pid for n in sides[side]})
            cpu0, web0 = eng.cpu(), sum(downloads._cpu(p) for p in pids)
            res = wrk_at_once([n.url for n in sides[side]], args.wrk_seconds,
                              args.wrk_connections)
            requests = res["requests_per_s"] * args.wrk_seconds
            res["engines_cpu_ms_per_request"] = _per(_cpu_delta(cpu0, eng.cpu()), requests, 1000)
            res["web_cpu_ms_per_request"] = 1000 * (
                sum(downloads._cpu(p) for p in pids) - web0) / requests
            runs[side].append(res)
            log("part 7: %s landing page round %d/%d %-10s %7.0f requests/s (p99 %.2f ms); "
                "PostgreSQL CPU %.3f ms/request" % (
                    label, r + 1, args.backends_rounds, side, res["requests_per_s"],
                    res["latency_ms_p99"], res["engines_cpu_ms_per_request"]["postgres"]))
    return {"connections": args.wrk_connections, "seconds": args.wrk_seconds,
            "requests_per_s": {s: statistics.median(x["requests_per_s"] for x in runs[s])
                               for s in runs},
            "latency_ms_p99": {s: statistics.median(x["latency_ms_p99"] for x in runs[s])
                               for s in runs},
            "engines_cpu_ms_per_request": {s: _median_dict(
                [x["engines_cpu_ms_per_request"] for x in runs[s]]) for s in runs},
            "web_cpu_ms_per_request": {s: statistics.median(
                x["web_cpu_ms_per_request"] for x in runs[s]) for s in runs},
            "runs": runs}


def web(args, workdir: Path, eng: Engines, configs: dict, cleanups: list) -> dict:
    seed_link = Path(args.seed_link)
    size = args.backends_file_mb * 1_000_000
    original = workdir / "bench.bin"
    log("part 7: writing a %d MB file of random bytes" % args.backends_file_mb)
    digest = downloads.random_file(original, size)
    nodes = {}
    for name, config in (("sqlite", configs["sqlite"]), ("a", configs["pg"]),
                         ("b", configs["pg"]), ("direct", configs["direct"])):
        node = Node(workdir / ("web-" + name), config, seed_link)
        cleanups.append(node.stop)
        node.start()
        nodes[name] = node
    links = {"sqlite": nodes["sqlite"].seed(original, 100_000)}
    links["pg"] = nodes["a"].seed(original, 100_000)
    for name in ("b", "direct"):  # the same link, through the shared catalog
        nodes[name].link = links["pg"]
    # Each node sends the file's exact bytes (and warms the page cache).
    for name, node in nodes.items():
        st, n, h = downloads.hash_download(node.claim())
        if (st, n, h) != (200, size, digest):
            raise RuntimeError("node %s served %d, %d bytes, sha256 %s; want 200, %d, %s"
                               % (name, st, n, h, size, digest))
    log("part 7: every node sends the file's exact bytes (web pids %s)"
        % ", ".join("%s %d" % (k, v.pid) for k, v in nodes.items()))
    out: dict = {"file_bytes": size, "downloads": {}}
    one = {"sqlite": [nodes["sqlite"]], "pg": [nodes["a"]], "pg_direct": [nodes["direct"]]}
    for clients in (1, 4):
        out["downloads"]["%d_clients" % clients] = download_rounds(
            args, one, clients, size, eng, "one node")
    out["landing"] = landing_rounds(args, {"sqlite": [nodes["sqlite"]] * 2,
                                           "pg": [nodes["a"]] * 2}, eng, "one node")
    out["two_nodes"] = {
        "downloads": download_rounds(args, {"one": [nodes["a"]], "two": [nodes["a"], nodes["b"]]},
                                     4, size, eng, "pg"),
        "landing": landing_rounds(args, {"one": [nodes["a"]] * 2,
                                         "two": [nodes["a"], nodes["b"]]}, eng, "pg")}
    # Every timed download was recorded complete, on each catalog.
    claims = {"sqlite": nodes["sqlite"].claims,
              "pg": sum(nodes[n].claims for n in ("a", "b", "direct"))}
    complete = {"sqlite": nodes["sqlite"].complete_downloads(links["sqlite"]["queue_id"]),
                "pg": nodes["a"].complete_downloads(links["pg"]["queue_id"])}
    if claims != complete:
        raise RuntimeError("downloads claimed %s but recorded complete %s" % (claims, complete))
    out["claims"] = claims
    out["web_vmhwm_kb"] = {k: mms.proc_status(v.pid)["VmHWM"] for k, v in nodes.items()}
    if not args.keep:
        original.unlink()
    return out


def versions(eng: Engines) -> dict:
    pg = subprocess.run([str(engines.PG_BIN / "postgres"), "--version"], stdout=subprocess.PIPE,
                        text=True).stdout.strip()
    package = engines.S3RVER.parents[1] / "package.json"
    s3rver = json.loads(package.read_text()).get("version", "?") if package.exists() else "?"
    node = subprocess.run(["node", "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    return {"postgres": pg, "s3rver": s3rver, "node": node}


def run(args, workdir: Path) -> dict:
    """Runs part 7; returns its results (see bench/README.md)."""
    cleanups: list = []
    try:
        eng = Engines(workdir)
        eng.start(cleanups)
        source = Path(args.config).resolve()
        configs = {"sqlite": source,
                   "pg": eng.config(source, workdir / "attachgate-pg.toml"),
                   "direct": eng.config(source, workdir / "attachgate-pg-direct.toml", direct=True)}
        log("part 7: PostgreSQL on :%d (fsync on), s3rver on :%d behind the SigV4 front on :%d"
            % (eng.pg.port, eng.s3.s3rver_port, eng.s3.port))
        result = {"engines": versions(eng), "postgres_fsync": True}
        d = workdir / "mail"
        d.mkdir(mode=0o755)
        result["mail"] = mail(args, d, eng, configs, cleanups)
        d = workdir / "web"
        d.mkdir(mode=0o755)
        result.update(web(args, d, eng, configs, cleanups))
        return result
    finally:
        for c in reversed(cleanups):
            try:
                c()
            except Exception as e:  # keep cleaning up
                log("warning: cleanup failed: %s" % e)
