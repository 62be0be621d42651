"""Part 8 of bench/run: how the cost of a request grows with the catalog.

For each engine (SQLite: the state directory's catalog.db; PostgreSQL 15:
tests/e2e/engines.py's Postgres, a private cluster on loopback, one fresh
database per size) and each catalog size (10^4, 10^5, 10^6 messages;
--quick: 10^3, 10^4), bench/growth_seed writes the catalog by rows (a
message: 2 recipients, 1 file, a link each, a status page, a sent receipt,
4-5 events; every tenth message's links expired, its file still stored),
then:

- purge: one `attachgate purge --json`, wall time (10 % of the files);
- list: `attachgate list` (the newest 20), --growth-list-runs runs, wall
  time of the whole command;
- commit: bench/growth_commit, the milter's catalog write for one offloaded
  message through its MilterCatalog (record_offload + release_outbox), and
  its undo (remove_message: the mail never left) every tenth round;
- `attachgate web`, then per probe message (spread over the ids, never
  expired), in turn on kept-alive connections: the landing page
  GET /d/{token}, a claim POST /d/{token} (303), the sender's status page
  GET /s/{token} (50 events) and GET /healthz; --growth-rounds rounds; and
  GET /metrics on the metrics port after every fifth probe.
  The first claim after the start waits for the web server's own start-up
  purge pass (it holds the catalog's writer); it is reported apart.

Figures: p50 and p99 (nearest rank) per request kind and size, and the
ratio of the largest size to the smallest. Flat is the goal.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path

import milter_message_size as mms
from code_flood import percentile
from milter_message_size import harness, log

KINDS = ["landing", "claim", "status", "healthz", "metrics", "list", "commit", "undo"]


def _ms(values: list[float]) -> dict:
    return {"p50_ms": 1000 * percentile(values, 50), "p99_ms": 1000 * percentile(values, 99),
            "samples": len(values)}


class Catalog:
    """Where one size's catalog lives: SQLite in the state directory, or a
    fresh database in the cluster."""

    def __init__(self, workdir: Path, engine: str, size: int, config: Path, pg):
        self.dir = workdir / ("%s-%d" % (engine, size))
        self.dir.mkdir(mode=0o755)
        self.state = self.dir / "state"
        self.engine, self.pg = engine, pg
        self.args: list[str] = []
        self.database = "growth_%d" % size
        text = config.read_text()
        if pg is not None:
            pg.sql("CREATE DATABASE %s OWNER %s" % (self.database, pg.role),
                   user="postgres", database="postgres")
            url = pg.url.replace("/%s?" % pg.database, "/%s?" % self.database)
            self.args = ["--catalog", url, "--password-file", str(pg.password_file)]
            if "\n[catalog]\n" not in text:
                raise RuntimeError("%s has no [catalog] table to point at PostgreSQL" % config)
            text = text.replace("\n[catalog]\n", "\n[catalog]\nurl = %s\npassword_file = %s\n"
                                % (json.dumps(url), json.dumps(str(pg.password_file))))
        self.config = self.dir / "attachgate.toml"
        self.config.write_text(text)

    def bytes(self) -> int:
        if self.pg is None:
            return sum(p.stat().st_size for p in self.state.glob("catalog.db*"))
        rows = self.pg.sql("SELECT pg_database_size('%s')" % self.database)
        return int(rows[0][0])

    def drop(self) -> None:
        if self.pg is not None:
            self.pg.sql("DROP DATABASE IF EXISTS %s" % self.database, user="postgres",
                        database="postgres")


def _tool(args: list[str], timeout: float) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    run = subprocess.run(args, cwd=harness.SOURCE_DIR, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, timeout=timeout)
    elapsed = time.perf_counter() - t0
    if run.returncode not in (0, 1) or (run.returncode == 1 and "purge" not in args):
        raise RuntimeError("%s failed (exit %d): %s" % (" ".join(args[:4]), run.returncode,
                                                        run.stderr[-2000:]))
    return elapsed, run


class Client:
    """One kept-alive connection per request kind, as a browser would hold."""

    def __init__(self, port: int):
        self.port = port
        self.conns: dict[str, http.client.HTTPConnection] = {}

    def time(self, kind: str, method: str, path: str, want: int, body: str | None = None) -> float:
        conn = self.conns.get(kind)
        if conn is None:
            conn = self.conns[kind] = http.client.HTTPConnection(harness.LOOPBACK, self.port,
                                                                 timeout=300)
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        t0 = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        elapsed = time.perf_counter() - t0
        if resp.status != want:
            raise RuntimeError("%s %s answered %d, not %d" % (method, path[:12], resp.status, want))
        return elapsed

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()


def web_figures(args, cat: Catalog, probes: list[dict]) -> dict:
    service = harness.Milter(cat.dir, harness.DEFAULT_POLICY, role="web", config=cat.config)
    times: dict[str, list[float]] = {k: [] for k in ("landing", "claim", "status", "healthz",
                                                     "metrics")}
    try:
        service.start(timeout=120)
        client, metrics = Client(service.web_port), Client(service.metrics_port)
        claim = urllib.parse.urlencode({"file": "all"})
        # The web server purges as it starts; a claim waits for that pass.
        first_claim = client.time("claim", "POST", "/d/" + probes[0]["link"], 303, claim)
        for _ in range(args.growth_rounds):
            for i, p in enumerate(probes):
                times["landing"].append(client.time("landing", "GET", "/d/" + p["link"], 200))
                times["claim"].append(client.time("claim", "POST", "/d/" + p["link"], 303, claim))
                times["status"].append(client.time("status", "GET", "/s/" + p["status"], 200))
                times["healthz"].append(client.time("healthz", "GET", "/healthz", 200))
                if i % 5 == 0:
                    times["metrics"].append(metrics.time("metrics", "GET", "/metrics", 200))
        client.close()
        metrics.close()
    finally:
        service.stop()
    out = {k: _ms(v) for k, v in times.items()}
    out["first_claim_ms"] = 1000 * first_claim
    return out


def one_size(args, workdir: Path, engine: str, size: int, pg) -> dict:
    cat = Catalog(workdir, engine, size, Path(args.config).resolve(), pg)
    try:
        probes = min(args.growth_probes, size)
        _, seeded = _tool([args.growth_seed, str(cat.state), str(size), "--probes", str(probes)]
                          + cat.args, args.timeout * 4)
        seed = json.loads(seeded.stdout)
        result: dict = {"messages": size, "seed_seconds": seed["seconds"], "rows": seed["rows"],
                        "catalog_bytes": cat.bytes()}
        log("part 8: %s %d messages seeded in %.1f s (%d rows, %.0f MB)"
            % (engine, size, seed["seconds"], sum(seed["rows"].values()),
               result["catalog_bytes"] / 1e6))
        cli = [args.bin, "--config", str(cat.config), "--state-dir", str(cat.state)]
        elapsed, run = _tool(cli + ["purge", "--json"], args.timeout * 4)
        purged = json.loads(run.stdout)
        result["purge"] = {"seconds": elapsed, "files": purged["files"],
                           "expected": seed["rows"]["files"] // 10}
        log("part 8: %s %d: purge of %d files took %.2f s"
            % (engine, size, purged["files"], elapsed))
        lists = [_tool(cli + ["list"], args.timeout)[0] for _ in range(args.growth_list_runs)]
        result["list"] = _ms(lists)
        _, committed = _tool([args.growth_commit, str(cat.state), str(args.growth_commits)]
                             + cat.args, args.timeout)
        commits = json.loads(committed.stdout)
        result["commit"] = _ms(commits["seconds"])
        result["undo"] = _ms(commits["undo"])
        result.update(web_figures(args, cat, seed["probes"][:probes]))
        log("part 8: %s %d: p99 ms landing %.2f, claim %.2f, status %.2f, healthz %.2f, "
            "metrics %.2f, list %.1f, commit %.2f, undo %.2f; first claim %.1f ms"
            % (engine, size, *(result[k]["p99_ms"] for k in KINDS), result["first_claim_ms"]))
        return result
    finally:
        if not args.keep:
            cat.drop()
            shutil.rmtree(cat.dir, ignore_errors=True)


def run(args, workdir: Path) -> dict:
    import engines  # tests/e2e/engines.py, on the path through harness
    out: dict = {"sizes": args.growth_sizes, "probes": args.growth_probes,
                 "rounds": args.growth_rounds, "list_runs": args.growth_list_runs,
                 "commits": args.growth_commits, "engines": {}}
    for engine in args.growth_engines:
        pg = None
        if engine == "postgresql":
            (workdir / "postgres-cluster").mkdir(mode=0o755)
            pg = engines.Postgres(workdir / "postgres-cluster")
            pg.start()
            out["postgres_settings"] = dict(
                pg.sql("SELECT name, setting FROM pg_settings WHERE name IN "
                       "('shared_buffers', 'fsync', 'synchronous_commit', 'server_version')"))
        try:
            out["engines"][engine] = [one_size(args, workdir, engine, n, pg)
                                      for n in args.growth_sizes]
        finally:
            if pg is not None:
                pg.stop()
    for engine, rows in out["engines"].items():
        if len(rows) > 1:
            out.setdefault("growth", {})[engine] = {
                k: rows[-1][k]["p99_ms"] / rows[0][k]["p99_ms"] for k in KINDS}
    return out
