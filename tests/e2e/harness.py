"""End-to-end harness: a real Postfix, an smtp-sink, swaks and attachgate.

Each test gets a temp directory holding a private Postfix (started through
contrib/private-postfix.sh, listening on 127.0.0.1 only), an smtp-sink that
dumps every relayed message into a file, and optionally an attachgate milter
process. Ports are picked free on 127.0.0.1 outside the ephemeral range, so
several runs can share a machine. Everything is stopped after each test; the
temp directory is removed on success and kept (its path printed) on failure,
or always with ATTACHGATE_E2E_KEEP=1.

Needs root (Postfix's master runs as root), postfix, smtp-sink and swaks.
The attachgate binary comes from $ATTACHGATE_BIN, the checkout from
$ATTACHGATE_SOURCE_DIR (both set by ctest). Python standard library only,
but for the DKIM tests: OpenDKIM, and python3-dkim imported when first used.
"""

from __future__ import annotations

import base64
import email
import hashlib
import email.message
import email.policy
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from dataclasses import dataclass, field
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("ATTACHGATE_SOURCE_DIR")
                  or Path(__file__).resolve().parents[2])
PRIVATE_POSTFIX = SOURCE_DIR / "contrib" / "private-postfix.sh"
DEFAULT_CONFIG = SOURCE_DIR / "conf" / "attachgate.toml"
# "postgresql+s3": every attachgate a test starts keeps its catalog in
# PostgreSQL and its blobs in S3 (engines.SharedEngines), not in its state
# directory; ctest's engines.e2e runs the suite's modules that way.
ENGINES = os.environ.get("ATTACHGATE_E2E_ENGINES", "")
DEFAULT_POLICY = SOURCE_DIR / "conf" / "policy.toml"
LOOPBACK = "127.0.0.1"
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:")


# ---------------------------------------------------------------- ports ----

_ports_handed_out: set[int] = set()
_port_rng = random.SystemRandom()  # unaffected by any test seeding random


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    Chosen at random below the ephemeral range, so it cannot collide with the
    local end of an outgoing connection (Postfix's own SMTP client uses those),
    and never handed out twice by this process. ATTACHGATE_E2E_PORTS=LOW-HIGH
    narrows the range (several people testing on one machine).
    """
    low_ephemeral, _ = _ephemeral_range()
    low, high = 20000, min(low_ephemeral, 32768) - 1
    if os.environ.get("ATTACHGATE_E2E_PORTS"):  # "LOW-HIGH": a share of a busy machine
        low, high = (int(x) for x in os.environ["ATTACHGATE_E2E_PORTS"].split("-"))
    for _ in range(1000):
        port = _port_rng.randint(low, high)
        if port in _ports_handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                continue
        _ports_handed_out.add(port)
        return port
    raise RuntimeError("no free TCP port on 127.0.0.1 between %d and %d" % (low, high))


def port_accepts(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def unix_accepts(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(str(path))
            return True
        except OSError:
            return False


def wait_until(predicate, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)
    return "\n".join(text.splitlines()[-lines:])


# ----------------------------------------------------------- smtp-sink ----

# Lines smtp-sink puts before the message it received (see smtp-sink(1),
# DUMP FILE FORMAT), ending with its own three-line Received header.
_SINK_PREFIXES = (b"X-Client-Addr:", b"X-Client-Proto:", b"X-Helo-Args:",
                  b"X-Mail-Args:", b"X-Rcpt-Args:")


@dataclass
class SinkMessage:
    path: Path
    mail_from: str
    rcpt_to: list[str]
    raw: bytes  # the message as Postfix sent it, LF line ends, dots unstuffed

    def parse(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)


def parse_sink_dump(path: Path) -> SinkMessage:
    data = path.read_bytes()
    lines = data.split(b"\n")
    mail_from, rcpts, i = "", [], 0
    while i < len(lines) and lines[i].startswith(_SINK_PREFIXES):
        if lines[i].startswith(b"X-Mail-Args:"):
            mail_from = lines[i].split(b"<", 1)[-1].split(b">", 1)[0].decode()
        elif lines[i].startswith(b"X-Rcpt-Args:"):
            rcpts.append(lines[i].split(b"<", 1)[-1].split(b">", 1)[0].decode())
        i += 1
    if i < len(lines) and lines[i].startswith(b"Received:") and b"(smtp-sink)" in data[:4096]:
        i += 1
        while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
            i += 1
    raw = b"\n".join(lines[i:])
    # smtp-sink ends each dump with one empty line of its own.
    if raw.endswith(b"\n\n"):
        raw = raw[:-1]
    return SinkMessage(path, mail_from, rcpts, raw)


class SmtpSink:
    """smtp-sink on 127.0.0.1:port writing each message to DIR/msg.<hex>."""

    def __init__(self, workdir: Path, port: int | None = None):
        self.port = port or free_port()
        self.dir = workdir / "sink"
        self.log = workdir / "smtp-sink.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        # smtp-sink drops to the postfix user before it writes dumps.
        pw = pwd.getpwnam("postfix")
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["smtp-sink", "-u", "postfix", "-d", str(self.dir / "msg."),
                 "%s:%d" % (LOOPBACK, self.port), "64"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_until(lambda: port_accepts(self.port) or self.proc.poll() is not None, 10) \
                or self.proc.poll() is not None:
            raise RuntimeError("smtp-sink did not start on port %d:\n%s" % (self.port, tail(self.log)))

    def stop(self) -> None:
        _terminate(self.proc)
        self.proc = None

    def files(self) -> list[Path]:
        return sorted(p for p in self.dir.glob("msg.*") if p.is_file())

    def find(self, queue_id: str, timeout: float = 10) -> SinkMessage:
        """The dump of the message Postfix relayed with this queue id."""
        return parse_sink_dump(self.find_path(queue_id, timeout))

    def find_path(self, queue_id: str, timeout: float = 10) -> Path:
        """The dump file of that message, once it stopped growing, unparsed
        (a benchmark's 200 MB message is not worth reading into memory)."""
        needle = ("with ESMTP id %s" % queue_id).encode()
        found: list[Path] = []

        def look() -> bool:
            for p in self.files():
                with open(p, "rb") as f:
                    if needle in f.read(16384):
                        found.append(p)
                        return True
            return False

        if not wait_until(look, timeout):
            raise AssertionError("no message with queue id %s in %s" % (queue_id, self.dir))
        path = found[0]
        # Postfix logs status=sent once smtp-sink answered 250; make sure the
        # dump is no longer growing before reading it.
        wait_until(lambda: _size_stable(path), 10)
        return path


def _size_stable(path: Path, pause: float = 0.2) -> bool:
    before = path.stat().st_size
    time.sleep(pause)
    return path.stat().st_size == before


def _terminate(proc: subprocess.Popen | None, grace: float = 10) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def mime_message(text: str, attachment: bytes, filename: str,
                 content_type: str = "application/octet-stream",
                 subject: str = "harness check") -> bytes:
    """A multipart/mixed message whose exact bytes are known (LF line ends):
    a text part, with lines starting with dots to exercise SMTP dot-stuffing,
    and one base64 attachment. Send it with swaks(data_file=...); see
    write_data_file for the final newline."""
    return (
        b"From: Alice <alice@example.org>\n"
        b"To: Bob <bob@example.net>\n"
        b"Subject: " + subject.encode() + b"\n"
        b"Date: Mon, 02 Mar 2026 10:00:00 +0000\n"
        b"Message-ID: <" + os.urandom(8).hex().encode() + b"@example.org>\n"
        b"MIME-Version: 1.0\n"
        b"Content-Type: multipart/mixed; boundary=\"b1\"\n"
        b"\n"
        b"--b1\n"
        b"Content-Type: text/plain; charset=us-ascii\n"
        b"\n" + text.encode() + b"\n"
        b".a line that starts with a dot\n"
        b"..and one with two\n"
        b"\n"
        b"--b1\n"
        b"Content-Type: " + content_type.encode() + b"; name=\"" + filename.encode() + b"\"\n"
        b"Content-Disposition: attachment; filename=\"" + filename.encode() + b"\"\n"
        b"Content-Transfer-Encoding: base64\n"
        b"\n" + base64.encodebytes(attachment) +
        b"--b1--\n"
    )


def write_data_file(path: Path, message: bytes) -> Path:
    """Write message for swaks --data. swaks ends DATA with CRLF "." CRLF
    after the text, so the message's own final newline is left out; otherwise
    it would arrive as an extra empty line."""
    path.write_bytes(message[:-1] if message.endswith(b"\n") else message)
    return path


# Postfix's smtpd puts exactly this in front of a message it receives.
def postfix_received_re(queue_id: str) -> str:
    return (r"^Received: from client\.example\.org \(unknown \[127\.0\.0\.1\]\)\n"
            r"\tby mail\.attachgate\.test \(Postfix\) with ESMTP id %s\n"
            r"\tfor <[^>]+>; .*\n$" % re.escape(queue_id))


# ------------------------------------------------------------- postfix ----

class PrivatePostfix:
    """A Postfix instance run by contrib/private-postfix.sh.

    milter is one Postfix milter spec, or a list of them called in that
    order (attachgate, then a DKIM signer). With inject_milters (a list,
    maybe empty), a second smtpd listens on inject_port: the injection
    service of contrib/postfix/master.cf, whose only milters those are.
    """

    def __init__(self, workdir: Path, port: int | None = None,
                 inject_port: int | None = None):
        self.dir = workdir / "postfix"
        self.port = port or free_port()
        self.inject_port = inject_port  # picked at start if an injection service is asked for
        self.maillog_path = self.dir / "maillog"
        self.started = False

    def start(self, milter: str | list[str] = "none", relay_to: str | None = None,
              mailbox_dir: Path | None = None, chroot: bool = False,
              inject_milters: list[str] | None = None) -> None:
        args = [str(PRIVATE_POSTFIX), "start", str(self.dir), "--port", str(self.port)]
        for spec in [milter] if isinstance(milter, str) else milter:
            args += ["--milter", spec]
        args += ["--relay-to", relay_to] if relay_to else ["--mailbox-dir", str(mailbox_dir)]
        args += ["--chroot"] if chroot else []
        if inject_milters is not None:
            self.inject_port = self.inject_port or free_port()
            args += ["--inject-port", str(self.inject_port)]
            for spec in inject_milters:
                args += ["--inject-milter", spec]
        self.started = True  # stop even if start failed half way
        run = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=120)
        if run.returncode != 0:
            raise RuntimeError("private Postfix did not start (exit %d):\n%s"
                               % (run.returncode, run.stdout))

    def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        run = subprocess.run([str(PRIVATE_POSTFIX), "stop", str(self.dir)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=120)
        if run.returncode != 0:
            print("warning: stopping private Postfix failed:\n" + run.stdout, file=sys.stderr)

    def maillog(self) -> str:
        try:
            return self.maillog_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern: str, timeout: float = 30) -> re.Match:
        found: list[re.Match] = []

        def look() -> bool:
            m = re.search(pattern, self.maillog(), re.M)
            if m:
                found.append(m)
            return m is not None

        if not wait_until(look, timeout, 0.2):
            raise AssertionError("maillog has no line matching %r after %g s; last lines:\n%s"
                                 % (pattern, timeout, tail(self.maillog_path)))
        return found[0]

    def wait_for_delivery(self, queue_id: str, timeout: float = 120) -> str:
        """Wait for Postfix's final word on queue_id; fail unless it was sent."""
        m = self.wait_for_log(r"^.*\b%s: to=<[^>]*>.*, status=(sent|bounced|deferred|expired).*$"
                              % re.escape(queue_id), timeout)
        if m.group(1) != "sent":
            raise AssertionError("message %s was not delivered:\n%s" % (queue_id, m.group(0)))
        return m.group(0)


# ------------------------------------------------------------- opendkim ---

class OpenDkim:
    """Debian's OpenDKIM as a signing milter on inet:PORT@127.0.0.1.

    start() makes a fresh key with opendkim-genkey in WORKDIR/opendkim and
    runs `opendkim -f` (in the foreground, so it is stopped like the other
    pieces) with a config of its own that signs mail From: domain with
    relaxed/relaxed. OpenDKIM 2.11 runs as root without a UserID. It logs
    only to syslog, which these tests do not have, so its log file holds
    only its start-up errors. txt_record() is the key's DNS TXT value, for
    dkim_verify.
    """

    def __init__(self, workdir: Path, domain: str, selector: str, port: int | None = None):
        self.domain, self.selector = domain, selector
        self.port = port or free_port()
        self.dir = workdir / "opendkim"
        self.key_file = self.dir / ("%s.private" % selector)
        self.conf = self.dir / "opendkim.conf"
        self.log = workdir / "opendkim.log"
        self.proc: subprocess.Popen | None = None

    @property
    def milter_spec(self) -> str:
        """The milter as Postfix names it, for smtpd_milters."""
        return "inet:%s:%d" % (LOOPBACK, self.port)

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["opendkim-genkey", "--directory", str(self.dir), "--domain", self.domain,
                        "--selector", self.selector, "--bits", "2048"], check=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        # RequireSafeKeys: OpenDKIM refuses a key on a path through a
        # directory others may write, and the temp dir is under /tmp.
        self.conf.write_text(
            "Mode s\n"
            "Domain %s\n"
            "Selector %s\n"
            "KeyFile %s\n"
            "RequireSafeKeys no\n"
            "Socket inet:%d@%s\n"
            "Canonicalization relaxed/relaxed\n"
            "Syslog no\n" % (self.domain, self.selector, self.key_file, self.port, LOOPBACK))
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(["opendkim", "-f", "-x", str(self.conf)],
                                         stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        if not wait_until(lambda: port_accepts(self.port) or self.proc.poll() is not None, 10) \
                or self.proc.poll() is not None:
            raise RuntimeError("opendkim did not start on port %d:\n%s" % (self.port, tail(self.log)))

    def stop(self) -> None:
        _terminate(self.proc)
        self.proc = None

    def txt_record(self) -> str:
        """The TXT value opendkim-genkey wrote for SELECTOR._domainkey.DOMAIN
        ("v=DKIM1; h=sha256; k=rsa; p=..."): its quoted strings joined."""
        zone = (self.dir / ("%s.txt" % self.selector)).read_text()
        return "".join(re.findall(r'"([^"]*)"', zone))


def _dkim_module():
    """python3-dkim, Debian's package. An interpreter not from Debian (pyenv,
    a venv) does not see Debian's dist-packages; then they are looked in last."""
    try:
        import dkim
    except ImportError:
        sys.path.append("/usr/lib/python3/dist-packages")
        try:
            import dkim
        except ImportError:
            raise AssertionError("python3-dkim is not installed (contrib/install-deps.sh --with-tests)")
    return dkim


def dkim_verify(message: bytes, signer: OpenDkim) -> bool:
    """Does the message's first DKIM-Signature verify against signer's key?
    No DNS: the selector's TXT query is answered from the generated key, and
    every other name has no record."""
    dkim = _dkim_module()
    want = ("%s._domainkey.%s" % (signer.selector, signer.domain)).lower()

    def txt(name: bytes, timeout: float = 5) -> bytes | None:
        if name.decode("ascii", "replace").lower().rstrip(".") == want:
            return signer.txt_record().encode()
        return None

    return bool(dkim.verify(message, dnsfunc=txt))


# ---------------------------------------------------------------- swaks ----

@dataclass
class Attachment:
    path: Path
    content_type: str = "application/octet-stream"
    name: str | None = None  # file name in the MIME part; default: path's name


@dataclass
class SwaksResult:
    returncode: int
    output: str
    queue_id: str | None = None
    # Every reply line from the server, e.g. "451 4.7.1 Service unavailable".
    replies: list[str] = field(default_factory=list)

    @property
    def final_reply(self) -> str:
        """The reply to the end of DATA (or the last reply before QUIT)."""
        real = [r for r in self.replies if not r.startswith("221")]
        return real[-1] if real else ""

    def describe(self) -> str:
        return "swaks exit %d, output:\n%s" % (self.returncode, self.output)


def swaks_args(port: int, sender: str, recipients: list[str], *,
               attachments: list[Attachment] = (), body: str | None = None,
               data_file: Path | None = None, headers: list[str] = (),
               subject: str | None = None, timeout: str = "600s") -> list[str]:
    args = ["swaks", "--suppress-data", "--server", "%s:%d" % (LOOPBACK, port),
            "--from", sender, "--to", ",".join(recipients), "--helo", "client.example.org",
            "--timeout", timeout]
    if data_file is not None:
        args += ["--data", "@%s" % data_file]
    if subject is not None:
        args += ["--header", "Subject: %s" % subject]
    for h in headers:
        args += ["--add-header", h]
    if body is not None:
        args += ["--body", body]
    for a in attachments:
        args += ["--attach-type", a.content_type, "--attach-name", a.name or a.path.name,
                 "--attach", "@%s" % a.path]
    return args


def _parse_swaks(returncode: int, output: str) -> SwaksResult:
    replies = [m.group(1) for m in re.finditer(r"^<[-*~ ]{2}\s?(\d{3}[ -].*)$", output, re.M)]
    qid = re.search(r"^<-\s+250 .*queued as ([0-9A-Za-z]+)", output, re.M)
    return SwaksResult(returncode, output, qid.group(1) if qid else None, replies)


def swaks(port: int, sender: str, recipients: list[str], timeout: float = 600,
          **kw) -> SwaksResult:
    run = subprocess.run(swaks_args(port, sender, recipients, **kw), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, errors="replace", timeout=timeout)
    return _parse_swaks(run.returncode, run.stdout)


class SwaksSession:
    """swaks running in the background, its transcript read as it goes.

    wait_for(pattern) blocks until a transcript line matches, e.g. r"^<-\\s+354"
    once the server invited the message data.
    """

    def __init__(self, port: int, sender: str, recipients: list[str], **kw):
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(swaks_args(port, sender, recipients, **kw),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     errors="replace", bufsize=1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._cond:
                self._lines.append(line)
                self._cond.notify_all()
        self.proc.stdout.close()
        with self._cond:
            self._lines.append(None)  # end of transcript
            self._cond.notify_all()

    def wait_for(self, pattern: str, timeout: float = 60) -> str:
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                while seen < len(self._lines):
                    line = self._lines[seen]
                    seen += 1
                    if line is None:
                        raise AssertionError("swaks ended before %r appeared:\n%s"
                                             % (pattern, self.transcript()))
                    if rx.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %r from swaks within %g s:\n%s"
                                         % (pattern, timeout, self.transcript()))
                self._cond.wait(left)

    def transcript(self) -> str:
        return "".join(l for l in self._lines if l is not None)

    def finish(self, timeout: float = 600) -> SwaksResult:
        self.proc.wait(timeout)
        self._reader.join(10)
        return _parse_swaks(self.proc.returncode, self.transcript())

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------- milter ---

def child_pids(pid: int) -> list[int]:
    """Direct children of pid, from /proc."""
    try:
        text = Path("/proc/%d/task/%d/children" % (pid, pid)).read_text()
        return [int(p) for p in text.split()]
    except OSError:
        pass
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name (field 2) may hold spaces; ppid follows its ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return sorted(children)


def proc_status(pid: int, field: str) -> int:
    """A /proc/PID/status field in KiB (VmRSS, VmHWM)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def attachgate_bin() -> Path:
    path = os.environ.get("ATTACHGATE_BIN")
    if path:
        return Path(path)
    fallback = SOURCE_DIR / "build" / "app" / "attachgate"
    if fallback.exists():
        return fallback
    raise AssertionError("set ATTACHGATE_BIN to the attachgate executable (ctest does)")


class Milter:
    """One attachgate service: `attachgate milter` on inet:PORT@127.0.0.1
    (or on the unix socket unix_path), `attachgate web` on
    127.0.0.1:WEB_PORT with its metrics on 127.0.0.1:METRICS_PORT, or
    `attachgate run` with both.

    Runs from the source dir so conf/attachgate.toml's relative paths
    (templates) resolve; its state lives in the test's temp dir. With user,
    it runs as that user and its group (the state dir must be theirs), and
    with umask under that umask, as the systemd unit does; bin and cwd then
    name a copy that user can read, as a checkout may sit in a private home.
    """

    def __init__(self, workdir: Path, policy: Path, port: int | None = None,
                 web_port: int | None = None, role: str = "milter",
                 postfix_log: Path | None = None, relay: str | None = None,
                 config: Path | None = None, unix_path: Path | None = None,
                 user: str | None = None, umask: int | None = None,
                 bin: Path | None = None, cwd: Path | None = None):
        assert role in ("milter", "web", "run"), role
        self.config = config or DEFAULT_CONFIG  # given: a test's own attachgate.toml
        self.postfix_log = postfix_log  # given: the delivery watcher follows it
        self.relay = relay  # given: receipts and notices go there (smtp://host:port)
        self.bin = bin or attachgate_bin()
        self.cwd = cwd or SOURCE_DIR  # given: where a copy of conf/ and templates/ is
        self.policy = policy
        self.role = role
        self.port = port or free_port()
        self.web_port = web_port or free_port()
        self.metrics_port = free_port()  # [metrics] listen
        self.unix_path = unix_path
        self.user, self.umask = user, umask
        self.state_dir = workdir / "state"
        self.log = workdir / ("attachgate-%s.log" % role)
        self.proc: subprocess.Popen | None = None

    @property
    def postfix_spec(self) -> str:
        if self.unix_path:
            return "unix:%s" % self.unix_path
        return "inet:%s:%d" % (LOOPBACK, self.port)

    @property
    def milter_socket(self) -> str:
        if self.unix_path:
            return "unix:%s" % self.unix_path
        return "inet:%d@%s" % (self.port, LOOPBACK)

    @property
    def public_url(self) -> str:
        return "http://%s:%d" % (LOOPBACK, self.web_port)

    @property
    def metrics_url(self) -> str:
        return "http://%s:%d" % (LOOPBACK, self.metrics_port)

    def config_path(self) -> Path:
        """The config this node runs with: the test's, or with ENGINES that
        one on the shared engines (written at first use)."""
        if not ENGINES:
            return self.config
        if ENGINES != "postgresql+s3":
            raise AssertionError("ATTACHGATE_E2E_ENGINES=%s: only postgresql+s3 is known" % ENGINES)
        path = self.state_dir.parent / ("engines-%s" % self.config.name)
        if not path.exists():
            import engines  # engines imports this module
            path.write_text(engines.SharedEngines.get().config_for(self.state_dir,
                                                                   self.config.read_text()))
        return path

    def command(self) -> list[str]:
        return [str(self.bin), "--config", str(self.config_path()), "--policy", str(self.policy),
                "--state-dir", str(self.state_dir),
                "--milter-socket", self.milter_socket,
                "--listen", "%s:%d" % (LOOPBACK, self.web_port),
                "--metrics-listen", "%s:%d" % (LOOPBACK, self.metrics_port),
                "--public-url", self.public_url] + \
            (["--postfix-log", str(self.postfix_log)] if self.postfix_log else []) + \
            (["--relay", self.relay] if self.relay else []) + [self.role]

    def ports(self) -> list[int]:
        """The TCP ports this role listens on."""
        milter = [] if self.unix_path else [self.port]
        return {"milter": milter, "web": [self.web_port, self.metrics_port],
                "run": milter + [self.web_port, self.metrics_port]}[self.role]

    def milter_accepts(self) -> bool:
        """The milter takes connections, from Postfix's user too: on a unix
        socket, once attachgate made it group-writable (milter/listener.h)."""
        if not self.unix_path:
            return port_accepts(self.port)
        if not unix_accepts(self.unix_path):
            return False
        try:  # after the connect: a restarted milter's new socket, not the old file
            return self.unix_path.stat().st_mode & 0o060 == 0o060
        except OSError:
            return False

    def accepting(self) -> bool:
        return all(port_accepts(p) for p in self.ports()) and \
            (self.role == "web" or self.milter_accepts())

    def start(self, timeout: float = 10) -> None:
        as_user = {}
        if self.user:
            as_user = {"user": self.user, "group": pwd.getpwnam(self.user).pw_gid,
                       "extra_groups": []}
        if self.umask is not None:
            as_user["umask"] = self.umask
        with open(self.log, "ab") as log:
            log.write(("--- start: %s\n" % " ".join(self.command())).encode())
            log.flush()
            self.proc = subprocess.Popen(self.command(), cwd=self.cwd, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         **as_user)
        ready = wait_until(lambda: self.proc.poll() is not None or self.accepting(), timeout)
        if self.proc.poll() is not None:
            raise AssertionError("attachgate %s exited with %s at start; its log:\n%s"
                                 % (self.role, self.proc.returncode, tail(self.log)))
        if not ready:
            where = self.ports() + ([str(self.unix_path)] if self.unix_path else [])
            raise AssertionError("attachgate %s did not accept on %s within %g s; its log:\n%s"
                                 % (self.role, where, timeout, tail(self.log)))

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            self.proc.wait(30)

    def stop(self) -> None:
        _terminate(self.proc)

    def worker_pids(self) -> list[int]:
        """The supervisor's children: the processes that serve the milter
        protocol (app/supervisor.cc forks one per role)."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        return child_pids(self.proc.pid)

    def wait_for_worker(self, not_pid: int | None = None, timeout: float = 30) -> int:
        """Wait until a worker other than not_pid runs and the port accepts;
        returns its pid."""
        found: list[int] = []

        def look() -> bool:
            pids = [p for p in self.worker_pids() if p != not_pid]
            if pids and self.milter_accepts():
                found.append(pids[0])
                return True
            return False

        if not wait_until(look, timeout):
            raise AssertionError("no attachgate milter worker (other than %s) accepting on %s "
                                 "after %g s; its log:\n%s"
                                 % (not_pid, self.milter_socket, timeout, tail(self.log)))
        return found[0]

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern: str, timeout: float = 30, start: int = 0) -> re.Match:
        """Wait for a line matching pattern in the milter's log, looking only
        at text from offset start (e.g. len(log_text()) before an action)."""
        found: list[re.Match] = []

        def look() -> bool:
            m = re.search(pattern, self.log_text()[start:], re.M)
            if m:
                found.append(m)
            return m is not None

        if not wait_until(look, timeout, 0.1):
            raise AssertionError("attachgate log has no line matching %r after %g s; last lines:\n%s"
                                 % (pattern, timeout, tail(self.log)))
        return found[0]

    def web_pid(self) -> int:
        """The pid of the process that serves HTTP (a child of the supervisor,
        named in its start line)."""
        m = self.wait_for_log(r"attachgate/web\[(\d+)\]: web server listening")
        return int(m.group(1))

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run `attachgate --state-dir STATE ARGS...` (an admin command);
        with ENGINES, on the node's config, to reach its catalog."""
        config = ["--config", str(self.config_path())] if ENGINES else []
        return subprocess.run([str(self.bin), *config, "--state-dir", str(self.state_dir), *args],
                              cwd=SOURCE_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout)


# ------------------------------------------------------------ test case ----

class E2ETestCase(unittest.TestCase):
    """Base class: a temp dir, and helpers that start pieces torn down after.

    The temp dir is removed after a passing test, kept after a failing one.
    """

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        bad_before = len(result.failures) + len(result.errors)
        self.workdir: Path | None = None
        try:
            return super().run(result)
        finally:
            failed = len(result.failures) + len(result.errors) > bad_before
            if self.workdir is not None and self.workdir.exists():
                if failed or os.environ.get("ATTACHGATE_E2E_KEEP"):
                    print("\n%s: kept %s" % (self.id(), self.workdir), file=sys.stderr)
                else:
                    shutil.rmtree(self.workdir, ignore_errors=True)

    def setUp(self) -> None:
        if os.geteuid() != 0:
            self.fail("end-to-end tests run Postfix and must run as root")
        for tool in ("postfix", "smtp-sink", "swaks", "script"):
            if shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
                self.fail("%s is not installed (contrib/install-deps.sh --with-tests)" % tool)
        if "/usr/sbin" not in os.environ.get("PATH", ""):
            os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
        self.workdir = Path(tempfile.mkdtemp(prefix="attachgate-e2e-"))
        # Postfix daemons and smtp-sink run as postfix and must reach inside.
        self.workdir.chmod(0o755)

    def start_sink(self) -> SmtpSink:
        sink = SmtpSink(self.workdir)
        self.addCleanup(sink.stop)
        sink.start()
        return sink

    def start_postfix(self, milter: str | list[str] = "none", sink: SmtpSink | None = None,
                      mailbox_dir: Path | None = None, chroot: bool = False,
                      inject_milters: list[str] | None = None) -> PrivatePostfix:
        pf = PrivatePostfix(self.workdir)
        self.addCleanup(pf.stop)
        pf.start(milter, relay_to="%s:%d" % (LOOPBACK, sink.port) if sink else None,
                 mailbox_dir=mailbox_dir, chroot=chroot, inject_milters=inject_milters)
        return pf

    def start_opendkim(self, domain: str, selector: str) -> OpenDkim:
        for tool in ("opendkim", "opendkim-genkey"):
            if shutil.which(tool, path=os.environ["PATH"]) is None:
                self.fail("%s is not installed (contrib/install-deps.sh --with-tests)" % tool)
        signer = OpenDkim(self.workdir, domain, selector)
        self.addCleanup(signer.stop)
        signer.start()
        return signer

    def start_milter(self, policy_text: str, role: str = "milter") -> Milter:
        policy = self.workdir / "policy.toml"
        policy.write_text(policy_text)
        milter = Milter(self.workdir, policy, role=role)
        self.addCleanup(milter.stop)
        milter.start()
        return milter

    def start_web(self, role: str = "web", policy_text: str | None = None,
                  config_text: str | None = None) -> Milter:
        """Starts `attachgate web` (or `run`) on a state dir in the temp dir;
        the shipped policy and config unless their text is given."""
        policy = DEFAULT_POLICY
        if policy_text is not None:
            policy = self.workdir / "policy.toml"
            policy.write_text(policy_text)
        config = None
        if config_text is not None:
            config = self.workdir / "attachgate.toml"
            config.write_text(config_text)
        service = Milter(self.workdir, policy, role=role, config=config)
        self.addCleanup(self.check_stopped_cleanly, service)
        service.start()
        return service

    def check_stopped_cleanly(self, service: Milter) -> None:
        """Stop the service with SIGTERM; under the sanitizer build a report
        in its log (from any run of it in this test) fails the test."""
        service.stop()
        report = SANITIZER_REPORT.search(service.log_text())
        if report:
            self.fail("sanitizer report in %s:\n%s"
                      % (service.log, service.log_text()[report.start():][:4000]))
        if service.proc is not None and service.proc.returncode not in (0, -signal.SIGKILL):
            self.fail("attachgate %s exited with %s after SIGTERM; its log:\n%s"
                      % (service.role, service.proc.returncode, service.log_text()[-4000:]))

    def file_of_random_bytes(self, name: str, size: int, prefix: bytes = b"",
                             suffix: bytes = b"") -> Path:
        path = self.workdir / name
        with open(path, "wb") as f:
            f.write(prefix)
            left = size - len(prefix) - len(suffix)
            while left > 0:
                chunk = os.urandom(min(left, 1 << 20))
                f.write(chunk)
                left -= len(chunk)
            f.write(suffix)
        return path

    def assertAccepted(self, result: SwaksResult) -> str:
        """The mail was accepted with 250; returns its Postfix queue id."""
        if result.returncode != 0 or not result.queue_id:
            self.fail("mail was not accepted: " + result.describe())
        return result.queue_id
