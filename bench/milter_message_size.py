#!/usr/bin/env python3
"""Milter cost per message size: peak RSS and end-of-message time.

For each message size (default 1MB, 25MB, 200MB of message on the wire), one
message with a single base64 attachment and an external recipient is sent
through two private Postfix instances on loopback, both relaying to one
smtp-sink:

  plain   Postfix with no milter (the baseline)
  milter  Postfix with smtpd_milters = the attachgate milter

The two are measured side by side, alternating, in the same run, so the ratio
holds even on a busy shared machine.

For each size a FRESH `attachgate milter` is started (VmHWM never goes down,
so a process that already handled a bigger message would report its peak),
and after the size's messages the peak RSS of its worker (the child forked by
the supervisor, app/supervisor.cc) is read from /proc/PID/status (VmHWM).

End-of-message time is measured by the client: from the moment the final
"." of DATA has been written to the socket until Postfix's reply to it
arrives. With the milter this covers Postfix's cleanup sending the message
to the milter, the milter spooling, parsing, storing the attachment and
replacing the body, and Postfix writing the new body; without the milter,
cleanup finishing the queue file. The milter logs no timing of its own.

Decoded MB/s = decoded attachment bytes / end-of-message time with milter.

Reuses tests/e2e/harness.py (PrivatePostfix, SmtpSink, Milter, free_port).
Must run as root (Postfix's master runs as root). Python standard library.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import json
import os
import platform
import pwd
import random
import re
import shutil
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SOURCE_DIR / "tests" / "e2e"))
import harness  # noqa: E402  (tests/e2e/harness.py)

SENDER = "alice@example.org"
RECIPIENT = "bob@example.net"  # another domain than the sender's: external
DEFAULT_BIN = SOURCE_DIR / "build-bench" / "app" / "attachgate"

# Offload every attachment to an external recipient, however small, so the
# 1 MB message is offloaded too (the shipped policy only takes > 5 MB).
BENCH_POLICY = """\
# Written by bench/milter_message_size.py
on_error = "tempfail"
internal_domains = []

[defaults]
expires = "7d"
max_downloads = 1
access_code = false
track_opens = true

[[rule]]
name = "internal-only"
recipients = "all_internal"
action = "keep"

[[rule]]
name = "bench-offload-external"
recipients = "any_external"
min_size = "1KB"
action = "offload"
"""


def log(msg: str) -> None:
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# ------------------------------------------------------------- sizes ----

_UNITS = {"": 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3,
          "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3}


def parse_size(text: str) -> int:
    """'200MB' (powers of 1000, as in attachgate's config) or '200MiB'."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    if not m or m.group(2).upper() not in _UNITS:
        raise argparse.ArgumentTypeError("not a size: %r (e.g. 1MB, 25MB, 200MiB)" % text)
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def parse_sizes(text: str) -> list[tuple[str, int, int | None]]:
    """'1MB,25MB:10' -> [(label, bytes, repeat or None)]; ':N' sets that
    size's own repeat count (None: --repeat)."""
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        size, _, count = item.partition(":")
        if count and (not count.isdigit() or int(count) < 1):
            raise argparse.ArgumentTypeError("not a repeat count: %r in %r" % (count, item))
        out.append((size.strip(), parse_size(size), int(count) if count else None))
    if not out:
        raise argparse.ArgumentTypeError("no sizes given")
    return out


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile: with fewer than 100 values p99 is the maximum."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil(n * pct / 100)
    return ordered[int(rank) - 1]


def mb(n: float) -> float:
    return n / 1e6


# ----------------------------------------------------------- message ----

LINE_IN = 57  # bytes of attachment per base64 line of 76 characters


def base64_wire_len(n: int) -> int:
    """Length of n bytes base64-encoded in 76-character CRLF lines."""
    full, rest = divmod(n, LINE_IN)
    return full * 78 + ((rest + 2) // 3 * 4 + 2 if rest else 0)


def message_parts(label: str) -> tuple[bytes, bytes]:
    head = (
        "From: Alice <%s>\r\n"
        "To: Bob <%s>\r\n"
        "Subject: attachgate bench %s\r\n"
        "Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
        "Message-ID: <bench-%s@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"bench-boundary\"\r\n"
        "\r\n"
        "--bench-boundary\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "Hello Bob,\r\n\r\nthe data you asked for is attached.\r\n\r\nAlice\r\n"
        "\r\n"
        "--bench-boundary\r\n"
        "Content-Type: application/octet-stream; name=\"data-%s.bin\"\r\n"
        "Content-Disposition: attachment; filename=\"data-%s.bin\"\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n" % (SENDER, RECIPIENT, label, label, label, label)).encode()
    tail = b"--bench-boundary--\r\n"
    return head, tail


def attachment_size_for(message_size: int, label: str) -> int:
    """Largest attachment whose message is at most message_size bytes."""
    head, tail = message_parts(label)
    room = message_size - len(head) - len(tail)
    if room <= 80:
        raise SystemExit("size %s is too small for a message with an attachment" % label)
    n = room * LINE_IN // 78
    while base64_wire_len(n) > room:
        n -= 1
    while base64_wire_len(n + 1) <= room:
        n += 1
    return n


def write_message(path: Path, message_size: int, label: str, seed: int,
                  attachment_bytes: int | None = None,
                  eol: bytes = b"\r\n") -> tuple[int, int, int]:
    """Write the message in SMTP wire form (CRLF; no line starts with ".", so
    no dot-stuffing is needed) streaming to disk. Returns (message bytes,
    attachment bytes, line count). The attachment is pseudo-random bytes
    from seed. attachment_bytes, if given, sets the attachment's decoded size
    instead of message_size; eol=b"\n" writes LF line ends (for smtp-source
    -F, which appends CRLF to every line itself)."""
    head, tail = message_parts(label)
    n = attachment_bytes if attachment_bytes is not None else attachment_size_for(message_size, label)
    rng = random.Random(seed)
    chunk = LINE_IN * 16384  # ~0.9 MB of attachment per write
    tmp = path.with_suffix(".tmp")
    lines = head.count(b"\n") + tail.count(b"\n")
    with open(tmp, "wb") as f:
        f.write(head if eol == b"\r\n" else head.replace(b"\r\n", eol))
        left = n
        while left > 0:
            take = min(chunk, left)
            encoded = base64.encodebytes(rng.randbytes(take))  # 76-char lines, LF
            lines += encoded.count(b"\n")
            f.write(encoded if eol == b"\n" else encoded.replace(b"\n", eol))
            left -= take
        f.write(tail if eol == b"\r\n" else tail.replace(b"\r\n", eol))
    tmp.rename(path)
    size = path.stat().st_size
    if eol == b"\r\n":
        assert size == len(head) + base64_wire_len(n) + len(tail), "message size mismatch"
    return size, n, lines


# ------------------------------------------------------------ client ----

class SendResult:
    def __init__(self, queue_id: str, eom_seconds: float, data_seconds: float, reply: str):
        self.queue_id = queue_id
        self.eom_seconds = eom_seconds    # final "." written -> reply read
        self.data_seconds = data_seconds  # DATA command -> reply read
        self.reply = reply


def send(port: int, eml: Path, timeout: float) -> SendResult:
    with smtplib.SMTP(harness.LOOPBACK, port, local_hostname="client.example.org",
                      timeout=timeout) as smtp:
        smtp.ehlo()
        code, msg = smtp.mail(SENDER)
        if code != 250:
            raise RuntimeError("MAIL FROM refused: %d %s" % (code, msg.decode(errors="replace")))
        code, msg = smtp.rcpt(RECIPIENT)
        if code not in (250, 251):
            raise RuntimeError("RCPT TO refused: %d %s" % (code, msg.decode(errors="replace")))
        t_data = time.perf_counter()
        smtp.putcmd("data")
        code, msg = smtp.getreply()
        if code != 354:
            raise RuntimeError("DATA refused: %d %s" % (code, msg.decode(errors="replace")))
        with open(eml, "rb") as f:
            smtp.sock.sendfile(f)  # already CRLF, ends in CRLF, nothing to stuff
        smtp.sock.sendall(b".\r\n")
        t_eom = time.perf_counter()
        code, msg = smtp.getreply()
        t_reply = time.perf_counter()
        reply = "%d %s" % (code, msg.decode(errors="replace"))
        if code != 250:
            raise RuntimeError("end of DATA answered %s" % reply)
        m = re.search(r"queued as ([0-9A-Za-z]+)", reply)
        if not m:
            raise RuntimeError("no queue id in %r" % reply)
        return SendResult(m.group(1), t_reply - t_eom, t_reply - t_data, reply)


# ------------------------------------------------------------- /proc ----

def children_of(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path("/proc/%d/task/%d/children" % (pid, pid)).read_text().split()]
    except OSError:
        pass
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return sorted(out)


def proc_status(pid: int) -> dict[str, int]:
    """The kB fields of /proc/PID/status (VmHWM, VmRSS, RssAnon, ...)."""
    out = {}
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB":
            out[key] = int(parts[0])
        elif key == "Threads":
            out[key] = int(parts[0])
    return out


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime, all threads


class RssSampler:
    """Samples a process's RSS split every interval; keeps the peaks. VmHWM
    is authoritative for the peak; this says whether it was anonymous memory
    (heap) or file pages mapped into the process."""

    def __init__(self, pid: int, interval: float = 0.02):
        self.pid, self.interval = pid, interval
        self.peak = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0, "RssShmem": 0, "Threads": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                st = proc_status(self.pid)
            except OSError:
                return
            for k in self.peak:
                self.peak[k] = max(self.peak[k], st.get(k, 0))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# ------------------------------------------------------------ pieces ----

class BenchMilter(harness.Milter):
    """harness.Milter with a service config of our choosing, listening on
    loopback TCP or, with unix_path, on a unix socket in a directory made by
    milter_socket_dir()."""

    def __init__(self, workdir: Path, policy: Path, port: int, config: Path,
                 unix_path: Path | None = None):
        super().__init__(workdir, policy, port=port, config=config, unix_path=unix_path)

    def worker_pid(self, timeout: float = 30) -> int:
        found: list[int] = []

        def look() -> bool:
            pids = children_of(self.proc.pid) if self.proc.poll() is None else []
            if len(pids) == 1 and self.milter_accepts():
                found.append(pids[0])
                return True
            return False

        if not harness.wait_until(look, timeout):
            raise RuntimeError("no single milter worker under supervisor %d; log:\n%s"
                               % (self.proc.pid, harness.tail(self.log)))
        return found[0]


def start_postfix_pair(workdir: Path, relay: str, milter_spec: str, cleanups: list,
                       milter_dir: str = "milter") -> tuple[harness.PrivatePostfix,
                                                             harness.PrivatePostfix]:
    """Two private Postfix instances relaying to the same sink: "plain" without
    a milter, and one using milter_spec; each stop is added to cleanups."""
    plain = harness.PrivatePostfix(workdir / "plain")
    cleanups.append(plain.stop)
    plain.start("none", relay_to=relay)
    with_milter = harness.PrivatePostfix(workdir / milter_dir)
    cleanups.append(with_milter.stop)
    with_milter.start(milter_spec, relay_to=relay)
    return plain, with_milter


def milter_socket_dir(path: Path) -> Path:
    """A directory for the milter's unix socket that Postfix's daemons (user
    postfix) may reach, as in the deployment (contrib/systemd/): a setgid
    directory of group postfix, so the socket bind() makes in it takes the
    group postfix, and attachgate makes it 0660 (milter/listener.h). Here
    the milter runs as root, so the directory is root:postfix. No user's
    groups change."""
    path.mkdir(mode=0o750)
    os.chown(path, 0, pwd.getpwnam("postfix").pw_gid)
    path.chmod(0o2750)  # mkdir's mode loses the setgid bit
    return path


class MilterFactory:
    """Fresh milter processes that all listen where one Postfix expects them."""

    def __init__(self, workdir: Path, policy: Path, config: Path, kind: str):
        self.workdir, self.policy, self.config = workdir, policy, config
        self.port = harness.free_port()
        self.unix_path = None
        if kind == "unix":
            self.unix_path = milter_socket_dir(workdir / "milter-socket") / "attachgate.sock"

    @property
    def postfix_spec(self) -> str:
        if self.unix_path:
            return "unix:%s" % self.unix_path
        return "inet:%s:%d" % (harness.LOOPBACK, self.port)

    def start(self, name: str) -> BenchMilter:
        d = self.workdir / name
        d.mkdir()
        m = BenchMilter(d, self.policy, self.port, self.config, self.unix_path)
        try:
            m.start(timeout=30)
        except BaseException:
            m.stop()  # it may be running but not accepting: do not leave it behind
            raise
        return m


def stop_milter(m: BenchMilter, keep_state: bool) -> None:
    m.stop()
    if not keep_state:
        shutil.rmtree(m.state_dir, ignore_errors=True)


def deliver_and_check(pf: harness.PrivatePostfix, sink: harness.SmtpSink, res: SendResult,
                      offloaded: bool, lf_bytes: int, timeout: float) -> int:
    """Wait until Postfix relayed the message; check it; delete the dump.
    lf_bytes is the sent message's size with LF line ends, as smtp-sink
    stores it. Returns the relayed (dumped) size."""
    pf.wait_for_delivery(res.queue_id, timeout)
    path = sink.find_path(res.queue_id, timeout)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(65536)
    if offloaded:
        # (The milter negotiates SMFIP_HDR_LEADSPC, so Postfix writes its
        # header as "X-Attachgate:offloaded=1", without a space.)
        if not re.search(rb"^X-Attachgate: ?offloaded=1;", head, re.M) or size > 1_000_000:
            raise RuntimeError("message %s was not offloaded (relayed %d bytes); see %s"
                               % (res.queue_id, size, path))
    elif size < lf_bytes:
        raise RuntimeError("message %s relayed with %d bytes (LF), sent %d; see %s"
                           % (res.queue_id, size, lf_bytes, path))
    path.unlink()
    return size


def provenance(binary: Path) -> dict:
    """Which code was measured: the git revision of the checkout the harness
    runs from ($ATTACHGATE_SOURCE_DIR, default this one), or, for an export
    made with `git archive` (see README.md), the revision in its REVISION."""
    source = harness.SOURCE_DIR

    def git(*args: str) -> str:
        r = subprocess.run(["git", "-C", str(source), *args], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
        return r.stdout.rstrip() if r.returncode == 0 else ""  # keep status columns

    if not (source / ".git").exists() and (source / "REVISION").exists():
        info = {"git_head": (source / "REVISION").read_text().strip(), "git_dirty_files": [],
                "git_diff_sha256": "", "source": "export of %s at %s"
                % ((source / "REVISION").read_text().strip(), source), "binary": str(binary)}
        _binary_info(info, binary)
        return info

    # --no-optional-locks: a benchmark never writes to the checkout's index.
    info = {"git_head": git("rev-parse", "--short", "HEAD").strip(),
            "git_dirty_files": git("--no-optional-locks", "status", "--porcelain",
                                   "--untracked-files=no").splitlines(),
            "binary": str(binary)}
    diff = git("diff", "HEAD")
    info["git_diff_sha256"] = hashlib.sha256(diff.encode()).hexdigest()[:16] if diff else ""
    info["source"] = str(source)
    _binary_info(info, binary)
    return info


def _binary_info(info: dict, binary: Path) -> None:
    try:
        info["binary_mtime"] = datetime.datetime.fromtimestamp(
            binary.stat().st_mtime).isoformat(timespec="seconds")
    except OSError:
        pass
    cache = binary.parents[1] / "CMakeCache.txt"
    if cache.exists():
        m = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", cache.read_text(), re.M)
        info["build_type"] = m.group(1) if m else ""


def machine() -> dict:
    cpu = ""
    try:
        m = re.search(r"^model name\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = m.group(1) if m else ""
    except OSError:
        pass
    mem = proc_meminfo_total()
    return {"host": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(),
            "cpu": cpu, "mem_total_mb": mem, "python": platform.python_version(),
            "postfix": subprocess.run(["postconf", "-h", "mail_version"], stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True).stdout.strip()}


def proc_meminfo_total() -> int:
    m = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    return int(m.group(1)) // 1024 if m else 0


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -------------------------------------------------------------- main ----

def run(args) -> dict:
    if os.geteuid() != 0:
        raise SystemExit("must run as root (Postfix's master runs as root)")
    if "/usr/sbin" not in os.environ.get("PATH", ""):
        os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    for tool in ("postfix", "smtp-sink", "script", "postconf"):
        if shutil.which(tool) is None:
            raise SystemExit("%s is not installed (contrib/install-deps.sh --with-tests)" % tool)
    binary = Path(args.bin).resolve()
    if not os.access(binary, os.X_OK):
        raise SystemExit("no attachgate executable at %s; build it (see bench/README.md) or "
                         "pass --bin" % binary)
    os.environ["ATTACHGATE_BIN"] = str(binary)
    config = Path(args.config).resolve()

    workdir = Path(tempfile.mkdtemp(prefix="attachgate-bench-", dir=args.tmpdir))
    workdir.chmod(0o755)  # Postfix daemons and smtp-sink run as postfix
    log("work directory %s" % workdir)
    report = {"benchmark": "milter_message_size",
              "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
              "command": " ".join([sys.argv[0]] + sys.argv[1:]),
              "machine": machine(), "attachgate": provenance(binary),
              "config": str(config), "repeat": args.repeat, "milter_socket": args.socket,
              "method": {
                  "eom_seconds": "client side: final '.' of DATA written -> reply read; median "
                                 "over repeats",
                  "peak_rss": "VmHWM of the milter worker (supervisor's child), fresh "
                              "`attachgate milter` per size",
                  "decoded_mb_per_s": "decoded attachment bytes / eom_seconds with milter "
                                      "(MB = 10^6 bytes)"},
              "loadavg_before": loadavg(), "sizes": []}
    cleanups = []
    ok = False
    try:
        policy = workdir / "policy.toml"
        policy.write_text(BENCH_POLICY)
        sink = harness.SmtpSink(workdir)
        cleanups.append(sink.stop)
        sink.start()
        relay = "%s:%d" % (harness.LOOPBACK, sink.port)
        milters = MilterFactory(workdir, policy, config, args.socket)
        plain, with_milter = start_postfix_pair(workdir, relay, milters.postfix_spec, cleanups)
        log("Postfix without milter on :%d, with milter on :%d (milter %s), sink on :%d"
            % (plain.port, with_milter.port, milters.postfix_spec, sink.port))

        # Warm up both Postfix instances (process start-up, first connection
        # to the milter) with a throwaway milter process.
        warm_eml = workdir / "warmup.eml"
        warm_size, _, warm_lines = write_message(warm_eml, 200_000, "warmup", args.seed)
        m = milters.start("milter-warmup")
        try:
            for pf, off in ((plain, False), (with_milter, True)):
                r = send(pf.port, warm_eml, args.timeout)
                deliver_and_check(pf, sink, r, off, warm_size - warm_lines, args.timeout)
        finally:
            stop_milter(m, args.keep)
        log("warm-up done")

        for label, target, own_repeat in args.sizes:
            repeat = own_repeat or args.repeat
            eml = workdir / ("msg-%s.eml" % re.sub(r"[^A-Za-z0-9]", "_", label))
            log("%s: writing a %d-byte message" % (label, target))
            t = time.perf_counter()
            msg_bytes, att_bytes, msg_lines = write_message(eml, target, label, args.seed)
            log("%s: message %d bytes, attachment %d bytes decoded (%.1f s)"
                % (label, msg_bytes, att_bytes, time.perf_counter() - t))

            m = milters.start("milter-" + eml.stem)
            try:
                worker = m.worker_pid()
                supervisor = m.proc.pid
                idle = proc_status(worker)
                cpu0 = cpu_seconds(worker)
                runs = {"plain": [], "milter": []}
                with RssSampler(worker) as sampler:
                    for i in range(repeat):
                        # Alternate which goes first so drift hits both alike.
                        order = [("plain", plain), ("milter", with_milter)]
                        if i % 2:
                            order.reverse()
                        for name, pf in order:
                            offset = len(m.log.read_text(errors="replace")) if m.log.exists() else 0
                            res = send(pf.port, eml, args.timeout)
                            relayed = deliver_and_check(pf, sink, res, name == "milter",
                                                        msg_bytes - msg_lines, args.timeout)
                            entry = {"queue_id": res.queue_id, "eom_seconds": res.eom_seconds,
                                     "data_seconds": res.data_seconds, "relayed_bytes": relayed}
                            if name == "milter":
                                text = m.log.read_text(errors="replace")[offset:]
                                line = re.search(r"^.*%s: offloaded .*$" % res.queue_id, text, re.M)
                                if not line:
                                    raise RuntimeError(
                                        "milter log has no 'offloaded' line for %s:\n%s"
                                        % (res.queue_id, harness.tail(m.log)))
                                entry["milter_log"] = line.group(0)
                            runs[name].append(entry)
                            log("%s: run %d/%d %-6s eom %.3f s (DATA..250 %.3f s), relayed %d bytes"
                                % (label, i + 1, repeat, name, res.eom_seconds,
                                   res.data_seconds, relayed))
                if m.worker_pid() != worker:
                    raise RuntimeError("the milter worker restarted during %s; VmHWM is "
                                       "meaningless. Log:\n%s" % (label, harness.tail(m.log)))
                after = proc_status(worker)
                sup = proc_status(supervisor)
                cpu = cpu_seconds(worker) - cpu0
            finally:
                stop_milter(m, args.keep)

            eom_m = statistics.median(r["eom_seconds"] for r in runs["milter"])
            eom_p = statistics.median(r["eom_seconds"] for r in runs["plain"])
            row = {
                "label": label, "repeat": repeat,
                "message_bytes": msg_bytes, "attachment_bytes": att_bytes,
                "milter_peak_rss_kb": after["VmHWM"], "milter_idle_rss_kb": idle["VmHWM"],
                "milter_sampled_peak_kb": dict(sampler.peak),
                "supervisor_peak_rss_kb": sup["VmHWM"],
                "eom_seconds_milter": eom_m, "eom_seconds_plain": eom_p,
                "eom_ratio": eom_m / eom_p if eom_p > 0 else None,
                "eom_seconds_milter_min": min(r["eom_seconds"] for r in runs["milter"]),
                "eom_seconds_plain_min": min(r["eom_seconds"] for r in runs["plain"]),
                "eom_seconds_milter_p50": eom_m,
                "eom_seconds_milter_p99": percentile([r["eom_seconds"] for r in runs["milter"]], 99),
                "eom_seconds_plain_p99": percentile([r["eom_seconds"] for r in runs["plain"]], 99),
                "decoded_mb_per_s": mb(att_bytes) / eom_m if eom_m > 0 else None,
                "milter_cpu_seconds_per_message": cpu / repeat,
                "runs": runs,
            }
            report["sizes"].append(row)
            log("%s: milter worker peak RSS %.1f MiB (idle %.1f MiB), eom %.3f s vs %.3f s"
                % (label, after["VmHWM"] / 1024, idle["VmHWM"] / 1024, eom_m, eom_p))
            if not args.keep:
                eml.unlink()
        report["loadavg_after"] = loadavg()
        ok = True
        return report
    finally:
        for c in reversed(cleanups):
            try:
                c()
            except Exception as e:  # keep cleaning up
                print("warning: cleanup failed: %s" % e, file=sys.stderr)
        if args.keep or not ok:
            log("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def dirty_note(files: list[str]) -> str:
    """' + uncommitted changes in tests/, milter/' from git status lines."""
    dirs = sorted({line[3:].split("/", 1)[0] + ("/" if "/" in line[3:] else "") for line in files})
    return " + uncommitted changes in %s" % ", ".join(dirs) if dirs else ""


def table(report: dict, target_mb: float) -> str:
    head = ("size", "n", "message MB", "decoded MB", "peak RSS MiB", "eom s milter",
            "p99 milter", "eom s plain", "ratio", "decoded MB/s", "CPU s/msg")
    rows = [head]
    for r in report["sizes"]:
        rows.append((r["label"], str(r.get("repeat", report["repeat"])),
                     "%.1f" % mb(r["message_bytes"]),
                     "%.1f" % mb(r["attachment_bytes"]),
                     "%.1f" % (r["milter_peak_rss_kb"] / 1024),
                     "%.3f" % r["eom_seconds_milter"],
                     "%.3f" % r.get("eom_seconds_milter_p99", float("nan")),
                     "%.3f" % r["eom_seconds_plain"],
                     "%.1f" % r["eom_ratio"] if r["eom_ratio"] else "-",
                     "%.1f" % r["decoded_mb_per_s"] if r["decoded_mb_per_s"] else "-",
                     "%.3f" % r["milter_cpu_seconds_per_message"]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    # The target is read as 10^6-byte MB, the stricter of the two readings.
    peaks = [r["milter_peak_rss_kb"] * 1024 / 1e6 for r in report["sizes"]]
    verdict = "MET" if max(peaks) < target_mb else "MISSED"
    a = report["attachgate"]
    lines += ["",
              "peak RSS = VmHWM of the milter worker process, a fresh `attachgate milter` per size "
              "(idle: %s MiB)" % ", ".join("%.1f" % (r["milter_idle_rss_kb"] / 1024)
                                          for r in report["sizes"]),
              "eom = client side, final '.' written -> reply read, median (and nearest-rank p99) "
              "of n messages; ratio = with milter / without; milter socket: %s"
              % report["milter_socket"],
              "target peak RSS < %g MB (10^6 bytes) at every size: %s" % (target_mb, verdict),
              "attachgate checkout %s%s; binary %s built %s; %d CPUs, load %s -> %s, %s"
              % (a.get("git_head", "?"), dirty_note(a.get("git_dirty_files", [])),
                 a.get("build_type", "?"), a.get("binary_mtime", "?"), report["machine"]["cpus"],
                 report["loadavg_before"], report.get("loadavg_after", "?"), report["date"])]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(
        description="Measure the attachgate milter per message size through a real private "
                    "Postfix on loopback: the milter worker's peak RSS (VmHWM), end-of-message "
                    "time with and without the milter (and their ratio), decoded MB/s. Needs "
                    "root, postfix, smtp-sink and a built attachgate.",
        epilog="Sizes are whole messages on the wire (one base64 attachment of about 73% of "
               "it); MB = 10^6 bytes, MiB = 2^20. Progress goes to stderr, the table to stdout.")
    p.add_argument("--sizes", type=parse_sizes, default=parse_sizes("1MB,25MB,200MB"),
                   help="comma-separated message sizes, each optionally with its own repeat "
                        "count as SIZE:N (default: 1MB,25MB,200MB)")
    p.add_argument("--repeat", type=int, default=3,
                   help="messages per size and per Postfix; eom is the median (default: 3)")
    p.add_argument("--bin", default=os.environ.get("ATTACHGATE_BIN", str(DEFAULT_BIN)),
                   help="attachgate executable (default: $ATTACHGATE_BIN or %s)" % DEFAULT_BIN)
    p.add_argument("--config", default=str(harness.DEFAULT_CONFIG),
                   help="service config for the milter (default: conf/attachgate.toml; its "
                        "limits.max_message_size is 256MB, so larger messages pass unchanged)")
    p.add_argument("--socket", choices=("inet", "unix"), default="unix",
                   help="how Postfix reaches the milter: unix = a unix socket, as in "
                        "contrib/postfix/main.cf (default); inet = loopback TCP, as in the "
                        "e2e tests")
    p.add_argument("--json", metavar="FILE",
                   help="also write the full results as JSON to FILE ('-' for stdout)")
    p.add_argument("--tmpdir", default=None,
                   help="where to make the work directory (default: the system temp dir); "
                        "needs about 2.5x the largest size free")
    p.add_argument("--timeout", type=float, default=900,
                   help="seconds to wait for any one SMTP reply or delivery (default: 900)")
    p.add_argument("--seed", type=int, default=1, help="seed for the attachment bytes")
    p.add_argument("--target-mb", type=float, default=64,
                   help="peak RSS target in MB, reported as MET or MISSED (default: 64)")
    p.add_argument("--keep", action="store_true",
                   help="keep the work directory (logs, milter state, messages)")
    args = p.parse_args()
    if args.repeat < 1:
        p.error("--repeat must be at least 1")

    report = run(args)
    text = table(report, args.target_mb)
    if args.json == "-":
        print(text, file=sys.stderr)
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        print(text)
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
            log("wrote %s" % args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
