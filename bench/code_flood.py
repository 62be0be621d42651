"""Part 5 of bench/run: other clients' latency while access codes are checked.

An access code is checked with Argon2id (16 MiB, 4 passes: tens of
milliseconds of CPU). `attachgate web` runs those checks on a pool of their
own at a lower priority, so that a flood of them does not slow anyone
else's pages. This part measures that.

Two links are seeded with tests/e2e/seed_link: one with an access code, one
without. A probe sends, one after another on one kept-alive connection each,
`GET /healthz` and `GET /d/{token}` (the landing page of the link without a
code: it renders the page and records a `viewed` event), every `--probe-gap`
seconds. Each round runs the probe for `--code-seconds`, once quiet and once
while `--code-flooders` clients (processes, one kept-alive connection each) post
the right access code to the other link as fast as the server answers
(without a file, so nothing is claimed: every request is one full code check,
and a right code never pauses the link). Quiet and flood take turns, which
goes first alternating. Figures: p50 and p99 (nearest rank) per endpoint and
phase over all rounds, the ratio flood / quiet and the difference in ms,
and the code checks answered per second.
"""

from __future__ import annotations

import http.client
import json
import math
import multiprocessing
import subprocess
import time
import urllib.parse
from collections import Counter
from pathlib import Path

import milter_message_size as mms
from milter_message_size import harness, log

CODE = "K7P-4QX-M2W"


def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def seed(seed_link: Path, state_dir: Path, path: Path, code: str | None) -> dict:
    run = subprocess.run([str(seed_link), str(state_dir), str(path), b"bench.pdf".hex(),
                          "100000", "86400"] + ([code] if code else []),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    if run.returncode != 0:
        raise RuntimeError("seed_link failed: %s" % run.stderr.decode(errors="replace"))
    return json.loads(run.stdout)


class Probe:
    """Times GET /healthz and the landing page, in turn, every gap seconds."""

    def __init__(self, port: int, landing: str, gap: float):
        self.port, self.landing, self.gap = port, landing, gap
        self.times: dict[str, list[float]] = {"healthz": [], "landing": []}
        self.errors = 0

    def run(self, seconds: float) -> None:
        conns = {k: http.client.HTTPConnection(harness.LOOPBACK, self.port, timeout=60)
                 for k in self.times}
        paths = {"healthz": "/healthz", "landing": self.landing}
        end = time.monotonic() + seconds
        try:
            while time.monotonic() < end:
                for name, conn in conns.items():
                    t0 = time.perf_counter()
                    try:
                        conn.request("GET", paths[name])
                        resp = conn.getresponse()
                        resp.read()
                        ok = resp.status == 200
                    except (OSError, http.client.HTTPException):
                        ok = False
                        conn.close()
                    elapsed = time.perf_counter() - t0
                    if ok:
                        self.times[name].append(elapsed)
                    else:
                        self.errors += 1
                    time.sleep(self.gap)
        finally:
            for conn in conns.values():
                conn.close()


def _post_codes(port: int, path: str, body: str, stop, answers) -> None:
    """One flooding client: posts the code until stop is set."""
    conn = http.client.HTTPConnection(harness.LOOPBACK, port, timeout=120)
    counted: Counter = Counter()
    try:
        while not stop.is_set():
            try:
                conn.request("POST", path, body=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
                resp = conn.getresponse()
                resp.read()
                counted[str(resp.status)] += 1
            except (OSError, http.client.HTTPException):
                counted["error"] += 1
                conn.close()
    finally:
        conn.close()
        answers.put(dict(counted))


class Flood:
    """Clients posting the right access code as fast as they are answered.

    Each is a process of its own: as threads of this one they would hold
    the GIL (switched every 5 ms) while the probe waits for it, and the
    probe's p99 would measure Python, not the server."""

    def __init__(self, port: int, token: str, clients: int):
        self.port, self.path, self.clients = port, "/d/" + token, clients
        self.body = urllib.parse.urlencode({"code": CODE})
        self.answers: Counter = Counter()
        self.mp = multiprocessing.get_context("fork")
        self.stop = self.mp.Event()
        self.queue = self.mp.Queue()
        self.procs: list = []

    def start(self) -> None:
        self.stop.clear()
        self.procs = [self.mp.Process(target=_post_codes, daemon=True,
                                      args=(self.port, self.path, self.body, self.stop, self.queue))
                      for _ in range(self.clients)]
        for proc in self.procs:
            proc.start()

    def finish(self) -> None:
        self.stop.set()
        for _ in self.procs:
            self.answers.update(self.queue.get(timeout=180))
        for proc in self.procs:
            proc.join(60)


def run(args, workdir: Path) -> dict:
    seed_link = Path(args.seed_link)
    config = Path(args.config).resolve()
    service = harness.Milter(workdir, harness.DEFAULT_POLICY, role="web", config=config)
    try:
        service.start(timeout=30)
        pid = service.web_pid()
        doc = workdir / "bench.pdf"
        doc.write_bytes(b"%PDF-1.4\n" + b"x" * 20_000)
        coded = seed(seed_link, service.state_dir, doc, CODE)
        open_link = seed(seed_link, service.state_dir, doc, None)
        landing = "/d/" + open_link["token"]
        flood = Flood(service.web_port, coded["token"], args.code_flooders)
        # The right code opens the page: a full check, with nothing claimed.
        flood.start()
        time.sleep(0.5)
        flood.finish()
        if flood.answers.get("200", 0) == 0:
            raise RuntimeError("posting the access code answered %s" % dict(flood.answers))
        log("part 5: attachgate web (pid %d) on :%d; %d flooders, %d rounds of %g s per phase"
            % (pid, service.web_port, args.code_flooders, args.code_rounds, args.code_seconds))

        phases = {"quiet": Probe(service.web_port, landing, args.probe_gap),
                  "flood": Probe(service.web_port, landing, args.probe_gap)}
        flood_seconds, answers = 0.0, Counter()
        cpu0 = mms.cpu_seconds(pid)
        for r in range(args.code_rounds):
            order = ["quiet", "flood"] if r % 2 == 0 else ["flood", "quiet"]
            for phase in order:
                if phase == "flood":
                    flood = Flood(service.web_port, coded["token"], args.code_flooders)
                    flood.start()
                    time.sleep(0.3)  # under way before the probe starts
                    t0 = time.monotonic()
                phases[phase].run(args.code_seconds)
                if phase == "flood":
                    flood_seconds += time.monotonic() - t0
                    flood.finish()
                    answers.update(flood.answers)
                p = phases[phase]
                log("part 5: round %d/%d %-5s /healthz p99 %.2f ms, landing p99 %.2f ms (%d, %d "
                    "samples so far)" % (r + 1, args.code_rounds, phase,
                                         1000 * percentile(p.times["healthz"], 99),
                                         1000 * percentile(p.times["landing"], 99),
                                         len(p.times["healthz"]), len(p.times["landing"])))
        result: dict = {"flooders": args.code_flooders, "rounds": args.code_rounds,
                        "seconds_per_phase": args.code_seconds, "probe_gap": args.probe_gap,
                        "code_check_answers": {str(k): v for k, v in answers.items()},
                        "code_checks_per_s": sum(answers.values()) / flood_seconds
                        if flood_seconds else 0.0,
                        "web_cpu_seconds": mms.cpu_seconds(pid) - cpu0,
                        "probe_errors": {k: p.errors for k, p in phases.items()}}
        for name in ("healthz", "landing"):
            q, f = phases["quiet"].times[name], phases["flood"].times[name]
            entry = {"samples_quiet": len(q), "samples_flood": len(f)}
            for pct in (50, 99):
                qv, fv = 1000 * percentile(q, pct), 1000 * percentile(f, pct)
                entry.update({"quiet_ms_p%d" % pct: qv, "flood_ms_p%d" % pct: fv,
                              "ratio_p%d" % pct: fv / qv if qv else float("nan"),
                              "added_ms_p%d" % pct: fv - qv})
            result[name] = entry
            log("part 5: %-7s p99 quiet %.2f ms, flood %.2f ms: ratio %.2f (+%.2f ms); p50 %.2f → "
                "%.2f ms" % (name, entry["quiet_ms_p99"], entry["flood_ms_p99"], entry["ratio_p99"],
                             entry["added_ms_p99"], entry["quiet_ms_p50"], entry["flood_ms_p50"]))
        log("part 5: %.1f code checks answered per second during the flood (%s)"
            % (result["code_checks_per_s"], result["code_check_answers"]))
        if any(result["probe_errors"].values()):
            raise RuntimeError("probe requests failed: %s" % result["probe_errors"])
        return result
    finally:
        service.stop()
