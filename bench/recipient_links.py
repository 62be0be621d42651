"""Part 6 of bench/run: links per recipient against one shared link (issue 14).

smtp-source sends N messages with a 2 MB attachment, each to 5 external
recipients (`-r 5`: 1bob@example.net ... 5bob@example.net), into a private
Postfix that relays to smtp-sink. Two sides run side by side, each its own
Postfix and its own `attachgate run` (milter, web server, notify role) with
the bench policy but for one key:

  per_recipient  links = "per_recipient": the MTA's message keeps the first
                 recipient; the milter removes the other 4 and writes each an
                 encrypted recipient copy, which the notify role injects
                 through [notify] inject, here Postfix's injection service
                 (contrib/postfix/master.cf, no attachgate milter on it)
  shared         links = "shared": one message, 5 recipients, one link

A pass is timed from smtp-source's start until Postfix logged every one of
the N x 5 deliveries sent to the sink, injected copies included: that is
when the per_recipient side has done its work. Also recorded: when
smtp-source was done (intake) and when the MTA's own messages were sent.

Every pass is checked at the sink, so a broken side fails the bench rather
than being measured: per message (the X-Attachgate mark's message id), the
5 recipients each got exactly one delivery, offloaded, with one link; on the
per_recipient side 5 mails with 5 different links, 4 of them through the
injection service; on the shared side one link for all 5 and nothing
injected.

CPU per message, user+system: the milter worker, the notify worker and the
Postfix instance (master and daemons, the injection smtpd included). Receipts
to the sender are off on both sides (they would be the same on both).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import milter_message_size as mms
from mail_throughput import MaillogFollower, pass_problems, postfix_cpu_seconds, _median
from milter_message_size import harness, log

SIDES = ("per_recipient", "shared")
ATTACHMENT_BYTES = 2_000_000
LINK = re.compile(rb"/d/([A-Za-z0-9_-]{43})")
MARK = re.compile(rb"^X-Attachgate: ?offloaded=(\d+); message=([A-Za-z0-9_-]+)", re.M)
QID = re.compile(rb"with E?SMTP id ([0-9A-Za-z]+)")


def policy_text(links: str) -> str:
    """The bench policy (every attachment over 1 KB to an external recipient
    is offloaded) with this links mode and no receipts."""
    anchor = "internal_domains = []\n"
    assert anchor in mms.BENCH_POLICY
    return mms.BENCH_POLICY.replace(
        anchor, anchor + 'receipts = false\nlinks = "%s"\n' % links)


def gateway_config(base: Path, inject_port: int, out: Path) -> Path:
    """A copy of the service config with [notify] inject at Postfix's
    injection service."""
    text = base.read_text()
    if 'inject = ""' not in text:
        raise SystemExit("%s has no `inject = \"\"` line to point at the injection service" % base)
    out.write_text(text.replace('inject = ""', 'inject = "smtp://%s:%d"'
                                % (harness.LOOPBACK, inject_port)))
    return out


class DeliveryFollower(MaillogFollower):
    """Also notes which queue ids came in through the injection service."""

    INJECTED = re.compile(r"/attachgate-inject/smtpd\[\d+\]: ([0-9A-Za-z]+): client=")

    def __init__(self, pf: harness.PrivatePostfix):
        super().__init__(pf)
        self.injected: set[str] = set()

    def line(self, line: str) -> None:
        super().line(line)
        m = self.INJECTED.search(line)
        if m:
            self.injected.add(m.group(1))

    def originals_sent(self) -> int:
        return sum(1 for qid, _ in self.sent_to if qid not in self.injected)


class Side:
    """One Postfix with an injection service, and `attachgate run` on it."""

    def __init__(self, name: str, workdir: Path, sink: harness.SmtpSink, config: Path,
                 socket_kind: str, cleanups: list):
        self.name = name
        workdir.mkdir(mode=0o755)
        policy = workdir / "policy.toml"
        policy.write_text(policy_text(name))
        unix_path = None
        if socket_kind == "unix":
            unix_path = mms.milter_socket_dir(workdir / "milter-socket") / "attachgate.sock"
        gw_dir = workdir / "gateway"
        gw_dir.mkdir()
        self.gateway = harness.Milter(gw_dir, policy, port=harness.free_port(), role="run",
                                      config=workdir / "attachgate.toml", unix_path=unix_path)
        self.postfix = harness.PrivatePostfix(workdir)
        cleanups.append(self.postfix.stop)
        self.postfix.start(self.gateway.postfix_spec,
                           relay_to="%s:%d" % (harness.LOOPBACK, sink.port), inject_milters=[])
        gateway_config(config, self.postfix.inject_port, self.gateway.config)
        self.gateway.relay = "smtp://%s:%d" % (harness.LOOPBACK, self.postfix.port)
        cleanups.append(self.gateway.stop)
        self.gateway.start(timeout=30)
        self.milter_pid = self.role_pid("milter")
        self.notify_pid = self.role_pid("notify")

    def role_pid(self, role: str) -> int:
        """The worker of one role: its pid is in its log lines, and it is a
        child of the supervisor."""
        m = self.gateway.wait_for_log(r"attachgate/%s\[(\d+)\]: " % role, timeout=30)
        pid = int(m.group(1))
        if pid not in self.gateway.worker_pids():
            raise RuntimeError("%s: the %s worker %d is not running; log:\n%s"
                               % (self.name, role, pid, harness.tail(self.gateway.log)))
        return pid

    def check_workers(self) -> None:
        if set(self.gateway.worker_pids()) < {self.milter_pid, self.notify_pid}:
            raise RuntimeError("%s: a worker of attachgate run restarted; log:\n%s"
                               % (self.name, harness.tail(self.gateway.log)))


def run_pass(side: Side, sink: harness.SmtpSink, eml: Path, count: int, recipients: int,
             concurrency: int, timeout: float) -> dict:
    per_recipient = side.name == "per_recipient"
    deliveries = count * recipients
    originals = count * (1 if per_recipient else recipients)
    follower = DeliveryFollower(side.postfix)
    cmd = ["smtp-source", "-s", str(concurrency), "-m", str(count), "-r", str(recipients),
           "-f", mms.SENDER, "-t", mms.RECIPIENT, "-M", "client.example.org", "-F", str(eml),
           "%s:%d" % (harness.LOOPBACK, side.postfix.port)]
    cpu0 = {"milter": mms.cpu_seconds(side.milter_pid), "notify": mms.cpu_seconds(side.notify_pid),
            "postfix": postfix_cpu_seconds(side.postfix)}
    t0 = time.perf_counter()
    source = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    accepted_at = originals_at = None
    deadline = time.monotonic() + timeout
    while True:
        now = time.perf_counter()
        if accepted_at is None and source.poll() is not None:
            accepted_at = now
        follower.poll()
        if originals_at is None and follower.originals_sent() >= originals:
            originals_at = now
        if accepted_at is not None and len(follower.sent_to) >= deliveries:
            break
        if follower.failed or follower.rejects or (accepted_at is not None and source.returncode):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    done_at = time.perf_counter()
    cpu = {"milter": mms.cpu_seconds(side.milter_pid) - cpu0["milter"],
           "notify": mms.cpu_seconds(side.notify_pid) - cpu0["notify"],
           "postfix": postfix_cpu_seconds(side.postfix) - cpu0["postfix"]}
    if source.poll() is None:
        source.kill()
    out = source.communicate()[0].decode(errors="replace")
    problems = pass_problems(source, out, follower)
    if len(follower.sent_to) != deliveries:
        problems.append("%d of %d deliveries logged as sent after %.0f s"
                        % (len(follower.sent_to), deliveries, done_at - t0))
    if not problems:
        problems = check_sink(side.name, sink, follower, count, recipients)
    if problems:
        raise RuntimeError("%s pass failed: %s" % (side.name, "; ".join(problems)))
    side.check_workers()
    seconds = done_at - t0
    return {"side": side.name, "messages": count, "recipients": recipients,
            "concurrency": concurrency, "deliveries": deliveries,
            "injected": len(follower.injected),
            "accept_seconds": accepted_at - t0, "originals_seconds": originals_at - t0,
            "seconds": seconds, "messages_per_s": count / seconds,
            "accepted_per_s": count / (accepted_at - t0),
            "milter_cpu_seconds": cpu["milter"], "notify_cpu_seconds": cpu["notify"],
            "postfix_cpu_seconds": cpu["postfix"],
            "loadavg_1min": float(mms.loadavg().split()[0])}


def check_sink(side: str, sink: harness.SmtpSink, follower: DeliveryFollower, count: int,
               recipients: int) -> list[str]:
    """Checks every dump of this pass against what the side must deliver,
    then deletes them. Returns the problems found."""
    problems: list[str] = []
    by_message: dict[str, list[tuple[str, list[str], set[bytes]]]] = {}
    seen: set[str] = set()

    def collect() -> bool:
        sizes: dict[Path, tuple[str, int]] = {}
        for path in sink.files():
            with open(path, "rb") as f:
                head = f.read(65536)
            ids = [q.decode() for q in QID.findall(head) if q.decode() in follower.sent]
            if ids:
                sizes[path] = (ids[0], path.stat().st_size)
        time.sleep(0.1)  # one pause for all: a dump still growing waits for the next look
        for path, (qid, size) in sizes.items():
            if path.stat().st_size != size:
                continue
            got = harness.parse_sink_dump(path)
            seen.add(qid)
            mark = MARK.search(got.raw)
            size = len(got.raw)
            if not mark or mark.group(1) != b"1" or size > 1_000_000:
                problems.append("%s: not offloaded (%d bytes)" % (qid, size))
            else:
                tokens = set(LINK.findall(got.raw))
                if len(tokens) != 1:
                    problems.append("%s: %d links in the mail, not one" % (qid, len(tokens)))
                by_message.setdefault(mark.group(2).decode(), []).append((qid, got.rcpt_to, tokens))
            path.unlink()
        return len(seen) >= len(follower.sent)

    if not harness.wait_until(collect, 60, 0.1):
        problems.append("%d of %d delivered mails found at the sink"
                        % (len(seen), len(follower.sent)))
    if len(by_message) != count:
        problems.append("%d messages at the sink, sent %d" % (len(by_message), count))
    injected = len(seen & follower.injected)
    want_injected = count * (recipients - 1) if side == "per_recipient" else 0
    if injected != want_injected:
        problems.append("%d mails came through the injection service, expected %d"
                        % (injected, want_injected))
    for message, mails in sorted(by_message.items()):
        rcpts = sorted(r for _, rs, _ in mails for r in rs)
        links = set().union(*(t for _, _, t in mails))
        if len(rcpts) != recipients or len(set(rcpts)) != recipients:
            problems.append("message %s reached %s" % (message, rcpts))
        if side == "per_recipient":
            if len(mails) != recipients or any(len(rs) != 1 for _, rs, _ in mails):
                problems.append("message %s: %d mails for %s, not one each"
                                % (message, len(mails), rcpts))
            if len(links) != recipients:
                problems.append("message %s: %d different links for %d recipients"
                                % (message, len(links), recipients))
        elif len(links) != 1:
            problems.append("message %s: %d links, not one shared" % (message, len(links)))
        if len(problems) > 10:
            break
    return problems


def run(args, workdir: Path) -> dict:
    """Runs part 6; returns its results (see bench/README.md)."""
    count, recipients = args.recipients_messages, args.recipients_count
    concurrency, rounds = args.mail_concurrency, args.recipients_rounds
    shm = Path(tempfile.mkdtemp(prefix="attachgate-bench-sink-",
                                dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    shm.chmod(0o755)
    cleanups = [lambda: shutil.rmtree(shm, ignore_errors=True)]
    result = {"messages": count, "recipients": recipients, "concurrency": concurrency,
              "rounds": rounds, "attachment_bytes": ATTACHMENT_BYTES,
              "milter_socket": {"inet": "loopback TCP",
                                "unix": "a unix socket"}[args.milter_socket]}
    try:
        sink = harness.SmtpSink(shm)
        cleanups.append(sink.stop)
        sink.start()
        sides = {name: Side(name, workdir / name, sink, Path(args.config).resolve(),
                            args.milter_socket, cleanups) for name in SIDES}
        for s in sides.values():
            log("part 6: %s: Postfix on :%d, injection service on :%d, attachgate run (milter "
                "worker %d, notify worker %d)" % (s.name, s.postfix.port, s.postfix.inject_port,
                                                  s.milter_pid, s.notify_pid))
        eml = workdir / "2MB-attachment.eml"
        mms.write_message(eml, 0, "2MB-attachment", args.seed,
                          attachment_bytes=ATTACHMENT_BYTES, eol=b"\n")
        result["wire_bytes_per_message"] = eml.stat().st_size + eml.read_bytes().count(b"\n")

        for s in sides.values():  # warm-up: Postfix's daemons, the milter connection
            run_pass(s, sink, eml, 2, recipients, 2, args.timeout)
        log("part 6: warm-up done")

        passes: dict[str, list[dict]] = {name: [] for name in SIDES}
        for r in range(rounds):
            order = list(SIDES) if r % 2 == 0 else list(reversed(SIDES))
            for name in order:
                res = run_pass(sides[name], sink, eml, count, recipients, concurrency,
                               args.timeout)
                passes[name].append(res)
                log("part 6: round %d/%d %-13s %5.2f msg/s, all %d delivered in %.1f s "
                    "(accepted in %.1f s, the MTA's own in %.1f s), CPU ms/msg milter %.1f "
                    "notify %.1f Postfix %.1f"
                    % (r + 1, rounds, name, res["messages_per_s"], res["deliveries"],
                       res["seconds"], res["accept_seconds"], res["originals_seconds"],
                       1000 * res["milter_cpu_seconds"] / count,
                       1000 * res["notify_cpu_seconds"] / count,
                       1000 * res["postfix_cpu_seconds"] / count))
        if not args.keep:
            eml.unlink()

        def med(name: str, key: str, per_message: bool = False) -> float:
            return _median([p[key] / (p["messages"] if per_message else 1) for p in passes[name]])

        for name in SIDES:
            result[name] = {
                "messages_per_s": med(name, "messages_per_s"),
                "accepted_per_s": med(name, "accepted_per_s"),
                "seconds": med(name, "seconds"),
                "accept_seconds": med(name, "accept_seconds"),
                "originals_seconds": med(name, "originals_seconds"),
                "milter_cpu_seconds_per_message": med(name, "milter_cpu_seconds", True),
                "notify_cpu_seconds_per_message": med(name, "notify_cpu_seconds", True),
                "postfix_cpu_seconds_per_message": med(name, "postfix_cpu_seconds", True),
                "injected_per_pass": passes[name][0]["injected"]}
        pr, sh = result["per_recipient"], result["shared"]
        result["ratio"] = pr["messages_per_s"] / sh["messages_per_s"]
        result["accept_ratio"] = pr["accepted_per_s"] / sh["accepted_per_s"]
        result["milter_cpu_ratio"] = (pr["milter_cpu_seconds_per_message"]
                                      / sh["milter_cpu_seconds_per_message"])
        result["passes"] = passes
        for s in sides.values():
            result.setdefault("milter_worker_peak_rss_kb", {})[s.name] = \
                mms.proc_status(s.milter_pid)["VmHWM"]
        return result
    finally:
        for c in reversed(cleanups):
            try:
                c()
            except Exception as e:  # keep cleaning up
                log("warning: cleanup failed: %s" % e)
