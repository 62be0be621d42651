"""Soak: many messages and many downloads through one milter and one web
role that are never restarted, with the RSS of every attachgate process
sampled all along. Shared by tests/faults/test_soak.py (a few hundred) and
bench/soak (10,000 of each).

Senders talk to the gateway Postfix directly (the front one only matters
when something tempfails); a downloader follows the sink, downloads every
file of every arrived message through the web role, checks its SHA-256 and
deletes the dump, so the run's disk use stays bounded.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import threading
import time
from pathlib import Path

from campaign import (Sender, Stack, build_message, find_token, harness, log, rss_kib,
                      store_state)
from recipient import Recipient, file_buttons


class RssSampler(threading.Thread):
    """Every `every` seconds: VmRSS (KiB) of each role's supervisor and worker."""

    def __init__(self, stack: Stack, every: float):
        super().__init__(daemon=True)
        self.stack, self.every = stack, every
        self.samples: list[dict] = []
        self.stopping = threading.Event()
        self.progress = {"sent": 0, "downloads": 0}

    def sample(self) -> dict:
        row = {"t": round(time.monotonic(), 2), **self.progress}
        for service in (self.stack.milter, self.stack.web):
            if service.proc is None or service.proc.poll() is not None:
                continue
            row[service.role + "_supervisor"] = rss_kib(service.proc.pid)
            workers = service.worker_pids()
            row[service.role] = sum(rss_kib(p) for p in workers)
        return row

    def run(self) -> None:
        while not self.stopping.wait(self.every):
            self.samples.append(self.sample())

    def stop(self) -> None:
        self.stopping.set()
        self.join(30)
        self.samples.append(self.sample())


def rss_summary(samples: list[dict], role: str) -> dict:
    """Start = median of the samples in the second tenth of the run (after
    warm-up), end = median of the last tenth; flat if end grew by less than
    max(8 MiB, 15% of start)."""
    values = [s[role] for s in samples if s.get(role)]
    if len(values) < 10:
        return {"samples": len(values), "flat": None}
    tenth = max(1, len(values) // 10)
    start = statistics.median(values[tenth:2 * tenth])
    end = statistics.median(values[-tenth:])
    growth = end - start
    return {"samples": len(values), "start_kib": int(start), "end_kib": int(end),
            "max_kib": max(values), "growth_kib": int(growth),
            "flat": growth < max(8 * 1024, 0.15 * start)}


def soak(workdir: Path, messages: int, downloads: int, seed: int = 1, low: int = 2_000,
         high: int = 200_000, senders: int = 4, sample_every: float = 2.0,
         max_seconds: float = 3600, progress=log) -> dict:
    rng_lock = threading.Lock()
    rng = random.Random(seed)
    stack = Stack(workdir)
    started = time.monotonic()
    deadline = started + max_seconds
    originals: dict[int, list[str]] = {}
    failures: list[str] = []
    counts = {"sent": 0, "downloads": 0, "messages_checked": 0}
    next_seq = iter(range(1, messages + 1))
    try:
        stack.start()
        sampler = RssSampler(stack, sample_every)
        sampler.start()

        def send_loop() -> None:
            sender = Sender(stack.gateway.port)
            try:
                while time.monotonic() < deadline:
                    with rng_lock:
                        seq = next(next_seq, None)
                        if seq is None:
                            return
                        data, sent = build_message(seq, rng, low, high, max_attachments=1)
                        originals[seq] = sent.attachments
                    sender.send(data)
                    with rng_lock:
                        counts["sent"] += 1
                        sampler.progress["sent"] = counts["sent"]
            except Exception as e:  # reported below
                failures.append("sender: %s" % e)
            finally:
                sender.close()

        threads = [threading.Thread(target=send_loop, daemon=True) for _ in range(senders)]
        for t in threads:
            t.start()

        client = Recipient(stack.web.public_url, timeout=120)
        done: set[Path] = set()
        last_report = 0.0
        while time.monotonic() < deadline:
            sending = any(t.is_alive() for t in threads)
            batch = [p for p in stack.sink.files() if p not in done]
            if not batch and not sending:
                break
            if counts["downloads"] >= downloads and not sending:
                break
            for path in batch:
                if not harness._size_stable(path, 0.05):
                    continue
                done.add(path)
                counts["messages_checked"] += 1
                problem = _download_all(path, originals, client, counts,
                                        downloads - counts["downloads"])
                sampler.progress["downloads"] = counts["downloads"]
                if problem:
                    failures.append(problem)
                else:
                    path.unlink()
            if not batch:
                time.sleep(0.2)
            if time.monotonic() - last_report > 15:
                last_report = time.monotonic()
                row = sampler.sample()
                progress("sent %d/%d, downloaded %d/%d; RSS KiB milter %s, web %s"
                         % (counts["sent"], messages, counts["downloads"], downloads,
                            row.get("milter"), row.get("web")))
        for t in threads:
            t.join(60)
        sampler.stop()
        state = store_state(stack.milter.state_dir)
        if not state.consistent:
            failures.append("store inconsistent: %s" % state)
        roles = ["milter", "milter_supervisor", "web", "web_supervisor"]
        return {
            "messages": messages, "sent": counts["sent"], "downloads": counts["downloads"],
            "messages_checked": counts["messages_checked"],
            "seconds": round(time.monotonic() - started, 1),
            "timed_out": time.monotonic() >= deadline,
            "failures": failures[:50], "failure_count": len(failures),
            "rss": {r: rss_summary(sampler.samples, r) for r in roles},
            "samples": sampler.samples,
            "store": {"rows": state.rows, "blobs": state.blobs_on_disk,
                      "consistent": state.consistent},
        }
    finally:
        stack.stop()


def _download_all(path: Path, originals: dict[int, list[str]], client: Recipient,
                  counts: dict, budget: int) -> str | None:
    msg = harness.parse_sink_dump(path).parse()
    if msg["X-Fault-Seq"] is None:
        return "%s: no X-Fault-Seq" % path
    seq = int(msg["X-Fault-Seq"])
    token = find_token(msg)
    if not token:
        return "seq %d: no link (passed unchanged?)" % seq
    if budget <= 0:
        return None
    page = client.get("/d/" + token)
    if page.status != 200:
        return "seq %d: landing page %d" % (seq, page.status)
    got = []
    for button in file_buttons(page.text):
        if button["value"] == "all":  # the zip of every file
            continue
        claimed, reply = client.download(token, button["value"], keep_body=False)
        if reply is None or reply.status != 200:
            return "seq %d: claim %d" % (seq, claimed.status)
        counts["downloads"] += 1
        got.append(reply.sha256)
    if sorted(got) != sorted(originals.get(seq, [])):
        return "seq %d: downloads differ from the originals" % seq
    return None
