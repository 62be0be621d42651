"""Part 1 of bench/run: Postfix mail throughput with and without attachgate.

smtp-source sends N messages at concurrency C to a private Postfix on
loopback, which relays them to smtp-sink. Two Postfix instances run side by
side, one without a milter and one with `attachgate milter` (on a unix
socket as in contrib/postfix/main.cf, or loopback TCP with --milter-socket
inet); for each message mix the two take turns in the same run, so the
ratio (with / without) holds on a busy shared machine.

A pass is timed from smtp-source's start until Postfix logged the last of
its N messages as sent to the sink. Every pass is checked: smtp-source must
exit 0, exactly N dumps of this pass must reach the sink, each whole (no
milter, or no attachment) or offloaded with an X-Attachgate header and under
1 MB (milter, attachment mixes). Dumps are checked and deleted as they come.

smtp-sink stands in for the next hop on another machine, so its dumps go to
tmpfs (/dev/shm) and its disk writes are not charged to the Postfix under
test; Postfix's queue and the milter's spool and blobs stay on disk.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import milter_message_size as mms
from milter_message_size import harness, log

SENDER, RECIPIENT = mms.SENDER, mms.RECIPIENT

# (name, decoded attachment bytes or None, whole message bytes for text only)
MIXES = [("10KB-text", None, 10_000), ("2MB-attachment", 2_000_000, None),
         ("25MB-attachment", 25_000_000, None)]


def write_text_message(path: Path, size: int) -> int:
    """A text-only message of about `size` bytes with LF line ends."""
    head = ("From: Alice <%s>\nTo: Bob <%s>\nSubject: attachgate bench text\n"
            "Date: Mon, 02 Mar 2026 10:00:00 +0000\nMessage-ID: <bench-text@example.org>\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n"
            % (SENDER, RECIPIENT))
    line = "The quick brown fox jumps over the lazy dog, and the report follows. 0123456789\n"
    body = line * max(1, (size - len(head)) // len(line))
    path.write_text(head + body)
    return path.stat().st_size


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and every process under it, live (utime +
    stime) or already exited and reaped (cutime + cstime). The machine is
    shared, so whole-machine busy time would count other people's work."""

    def ticks(p: int) -> int:
        try:
            f = Path("/proc/%d/stat" % p).read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0  # exited just now: counted in the parent's cutime soon after
        return int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])

    return (ticks(pid) + sum(ticks(c) for c in harness.child_pids(pid))) / mms.CLK_TCK


def postfix_cpu_seconds(pf: harness.PrivatePostfix) -> float:
    """CPU time of one Postfix instance: its master and every daemon under it."""
    return tree_cpu_seconds(int((pf.dir / "queue" / "pid" / "master.pid").read_text().split()[0]))


class MaillogFollower:
    """Reads a private Postfix's maillog incrementally: queue ids logged
    status=sent / other final states since the follower was made, and each
    (queue id, recipient) sent. line() takes one line; a subclass may note
    more."""

    FINAL = re.compile(r": ([0-9A-Za-z]+): to=<([^>]*)>.*, status=(sent|bounced|deferred|expired)")

    def __init__(self, pf: harness.PrivatePostfix):
        self.path = pf.maillog_path
        self.offset = self.path.stat().st_size if self.path.exists() else 0
        self.sent: set[str] = set()
        self.sent_to: set[tuple[str, str]] = set()  # (queue id, recipient): one per delivery
        self.failed: list[str] = []
        self.rejects: list[str] = []
        self._partial = ""

    def poll(self) -> None:
        with open(self.path, "r", errors="replace") as f:
            f.seek(self.offset)
            text = f.read()
            self.offset = f.tell()
        text = self._partial + text
        lines = text.split("\n")
        self._partial = lines.pop()  # an unfinished last line waits for the next poll
        for line in lines:
            self.line(line)

    def line(self, line: str) -> None:
        m = self.FINAL.search(line)
        if m:
            if m.group(3) == "sent":
                self.sent.add(m.group(1))
                self.sent_to.add((m.group(1), m.group(2)))
            else:
                self.failed.append(line)
        elif "milter-reject" in line or " reject: " in line:
            self.rejects.append(line)


class SinkReaper:
    """Checks and deletes smtp-sink dumps of messages Postfix logged as sent."""

    QID = re.compile(rb"with E?SMTP id ([0-9A-Za-z]+)")
    OFFLOADED = re.compile(rb"^X-Attachgate: ?offloaded=(\d+);", re.M)

    def __init__(self, sink: harness.SmtpSink, expect_offload: bool, whole_lf_bytes: int):
        self.sink = sink
        self.expect_offload = expect_offload
        self.whole = whole_lf_bytes
        self.checked: set[str] = set()
        self.relayed_bytes = 0
        self.problems: list[str] = []

    def reap(self, delivered: set[str]) -> None:
        for path in self.sink.files():
            try:
                with open(path, "rb") as f:
                    head = f.read(65536)
            except FileNotFoundError:
                continue
            # smtp-sink's own Received header comes first; Postfix's names its queue id.
            ids = [q.decode() for q in self.QID.findall(head) if q.decode() in delivered]
            if not ids:
                continue  # still being written: Postfix has not logged it sent
            qid = ids[0]
            size = path.stat().st_size
            off = self.OFFLOADED.search(head)
            if self.expect_offload:
                if not off or off.group(1) != b"1" or size > 1_000_000:
                    self.problems.append("%s: not offloaded (%d bytes relayed)" % (qid, size))
            else:
                if off:
                    self.problems.append("%s: unexpected X-Attachgate header" % qid)
                if size < self.whole:
                    self.problems.append("%s: relayed %d bytes, sent %d" % (qid, size, self.whole))
            self.checked.add(qid)
            self.relayed_bytes += size
            path.unlink()


def pass_problems(source: subprocess.Popen, out: str, follower: MaillogFollower) -> list[str]:
    """What went wrong in a pass that smtp-source and the maillog show."""
    problems = []
    if source.returncode != 0:
        problems.append("smtp-source exited %s: %s" % (source.returncode, out.strip()[-500:]))
    if follower.failed:
        problems.append("not delivered: %s" % follower.failed[:3])
    if follower.rejects:
        problems.append("rejected: %s" % follower.rejects[:3])
    return problems


def run_pass(side: str, pf: harness.PrivatePostfix, sink: harness.SmtpSink, eml: Path,
             count: int, concurrency: int, expect_offload: bool, whole_lf: int,
             worker_pid: int | None, timeout: float) -> dict:
    follower = MaillogFollower(pf)
    reaper = SinkReaper(sink, expect_offload, whole_lf)
    cmd = ["smtp-source", "-s", str(concurrency), "-m", str(count), "-f", SENDER, "-t", RECIPIENT,
           "-M", "client.example.org", "-F", str(eml), "%s:%d" % (harness.LOOPBACK, pf.port)]
    cpu0 = mms.cpu_seconds(worker_pid) if worker_pid else 0.0
    postfix0 = postfix_cpu_seconds(pf)
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    sink0 = mms.cpu_seconds(sink.proc.pid)
    t0 = time.perf_counter()
    source = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    accepted_at = None
    deadline = time.monotonic() + timeout
    while True:
        if accepted_at is None and source.poll() is not None:
            accepted_at = time.perf_counter()
        follower.poll()
        if len(follower.sent) >= count and accepted_at is not None:
            break
        if follower.failed or (accepted_at is not None and source.returncode != 0):
            break
        if time.monotonic() > deadline:
            break
        reaper.reap(follower.sent)
        time.sleep(0.05)
    done_at = time.perf_counter()
    cpu = (mms.cpu_seconds(worker_pid) - cpu0) if worker_pid else None
    postfix_cpu = postfix_cpu_seconds(pf) - postfix0
    sink_cpu = mms.cpu_seconds(sink.proc.pid) - sink0
    out = source.communicate()[0].decode(errors="replace") if source.poll() is not None else ""
    if source.poll() is None:
        source.kill()
        source.wait()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # smtp-source, now reaped
    source_cpu = (children.ru_utime + children.ru_stime) - (children0.ru_utime + children0.ru_stime)
    # The last dumps: wait until they are all there, then check them.
    harness.wait_until(lambda: (reaper.reap(follower.sent) or
                                len(reaper.checked) >= len(follower.sent)), 60, 0.1)
    problems = list(reaper.problems) + pass_problems(source, out, follower)
    if len(follower.sent) != count:
        problems.append("%d of %d messages logged as sent" % (len(follower.sent), count))
    if len(reaper.checked) != count:
        problems.append("%d of %d messages checked at the sink" % (len(reaper.checked), count))
    if problems:
        raise RuntimeError("%s pass of %s failed: %s" % (side, eml.name, "; ".join(problems)))
    seconds = done_at - t0
    msg_bytes = eml.stat().st_size + eml.read_bytes().count(b"\n")  # on the wire (CRLF)
    return {"side": side, "messages": count, "concurrency": concurrency,
            "seconds": seconds, "accept_seconds": accepted_at - t0,
            "messages_per_s": count / seconds, "mb_per_s": count * msg_bytes / 1e6 / seconds,
            "wire_bytes_per_message": msg_bytes, "relayed_bytes": reaper.relayed_bytes,
            "checked_at_sink": len(reaper.checked), "offloaded": expect_offload,
            "milter_cpu_seconds": cpu, "postfix_cpu_seconds": postfix_cpu,
            "smtp_source_cpu_seconds": source_cpu, "smtp_sink_cpu_seconds": sink_cpu,
            "loadavg_1min": float(mms.loadavg().split()[0])}


def run(args, workdir: Path) -> dict:
    """Runs part 1; returns its results (see bench/README.md)."""
    count, concurrency = args.mail_messages, args.mail_concurrency
    shm = Path(tempfile.mkdtemp(prefix="attachgate-bench-sink-",
                                dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    shm.chmod(0o755)
    cleanups = [lambda: shutil.rmtree(shm, ignore_errors=True)]
    result = {"messages": count, "concurrency": concurrency,
              "rounds": dict(zip((m[0] for m in MIXES), args.mail_rounds)),
              "milter_socket": {"inet": "loopback TCP",
                                "unix": "a unix socket"}[args.milter_socket],
              "sink_dumps_on": str(shm.parent),
              "mixes": []}
    try:
        policy = workdir / "policy.toml"
        policy.write_text(mms.BENCH_POLICY)
        sink = harness.SmtpSink(shm)
        cleanups.append(sink.stop)
        sink.start()
        relay = "%s:%d" % (harness.LOOPBACK, sink.port)
        (workdir / "milter").mkdir()
        unix_path = None
        if args.milter_socket == "unix":
            unix_path = mms.milter_socket_dir(workdir / "milter-socket") / "attachgate.sock"
        milter = mms.BenchMilter(workdir / "milter", policy, harness.free_port(),
                                 Path(args.config).resolve(), unix_path)
        cleanups.append(milter.stop)
        milter.start(timeout=30)
        worker = milter.worker_pid()
        plain, with_milter = mms.start_postfix_pair(workdir, relay, milter.postfix_spec, cleanups,
                                                    milter_dir="milter-postfix")
        log("part 1: Postfix without milter on :%d, with milter on :%d (%s), sink on :%d"
            % (plain.port, with_milter.port, milter.postfix_spec, sink.port))

        emls = {}
        for name, attachment, size in MIXES:
            eml = workdir / ("%s.eml" % name)
            if attachment is None:
                write_text_message(eml, size)
            else:
                mms.write_message(eml, 0, name, args.seed, attachment_bytes=attachment, eol=b"\n")
            emls[name] = eml

        # Warm-up: start smtpd, cleanup, smtp processes and the milter connection.
        for side, pf in (("plain", plain), ("milter", with_milter)):
            run_pass(side, pf, sink, emls["2MB-attachment"], 10, min(10, concurrency),
                     side == "milter", _lf_size(emls["2MB-attachment"]), None, args.timeout)
        log("part 1: warm-up done")

        for i, (name, attachment, _) in enumerate(MIXES):
            eml = emls[name]
            rounds = args.mail_rounds[i]
            passes = {"plain": [], "milter": []}
            for r in range(rounds):
                order = [("plain", plain), ("milter", with_milter)]
                if (i + r) % 2:
                    order.reverse()  # alternate who goes first, so drift hits both alike
                for side, pf in order:
                    res = run_pass(side, pf, sink, eml, count, concurrency,
                                   side == "milter" and attachment is not None, _lf_size(eml),
                                   worker if side == "milter" else None, args.timeout)
                    passes[side].append(res)
                    log("part 1: %s round %d/%d %-6s %6.1f msg/s %7.1f MB/s (%.1f s, accepted "
                        "in %.1f s)%s" % (name, r + 1, rounds, side, res["messages_per_s"],
                                          res["mb_per_s"], res["seconds"], res["accept_seconds"],
                                          " milter CPU %.1f ms/msg" % (
                                              1000 * res["milter_cpu_seconds"] / count)
                                          if res["milter_cpu_seconds"] is not None else ""))
            best = {s: _median([p["messages_per_s"] for p in passes[s]]) for s in passes}
            mbs = {s: _median([p["mb_per_s"] for p in passes[s]]) for s in passes}
            cpu = [p["milter_cpu_seconds"] / p["messages"] for p in passes["milter"]]
            result["mixes"].append({
                "mix": name, "attachment_bytes": attachment, "rounds": rounds,
                "wire_bytes_per_message": passes["plain"][0]["wire_bytes_per_message"],
                "plain_messages_per_s": best["plain"], "milter_messages_per_s": best["milter"],
                "plain_mb_per_s": mbs["plain"], "milter_mb_per_s": mbs["milter"],
                "ratio": best["milter"] / best["plain"],
                "milter_cpu_seconds_per_message": _median(cpu),
                "smtp_sink_cpu_seconds_per_message": {
                    s: _median([p["smtp_sink_cpu_seconds"] / p["messages"] for p in passes[s]])
                    for s in passes},
                "smtp_source_cpu_seconds_per_message": {
                    s: _median([p["smtp_source_cpu_seconds"] / p["messages"] for p in passes[s]])
                    for s in passes},
                "postfix_cpu_seconds_per_message": {
                    s: _median([p["postfix_cpu_seconds"] / p["messages"] for p in passes[s]])
                    for s in passes},
                "passes": passes})
            if not args.keep:
                eml.unlink()
        result["milter_worker_peak_rss_kb"] = mms.proc_status(worker)["VmHWM"]
        if milter.worker_pid() != worker:
            raise RuntimeError("the milter worker restarted during part 1")
        return result
    finally:
        for c in reversed(cleanups):
            try:
                c()
            except Exception as e:  # keep cleaning up
                log("warning: cleanup failed: %s" % e)


def _lf_size(eml: Path) -> int:
    """What smtp-sink stores of it at least: the file itself (LF line ends)."""
    return eml.stat().st_size


def _median(values: list[float]) -> float:
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
