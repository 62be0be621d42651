"""Fault campaigns against a real Postfix: the shared machinery of
tests/faults/ (short ctest runs) and bench/faults, bench/soak (long runs).

The stack, all on 127.0.0.1 ports 18400-18599:

  smtplib -> front Postfix (no milter) -> gateway Postfix (smtpd_milters =
  `attachgate milter`) -> smtp-sink;  `attachgate web` on the same state dir.

With notify (the kill campaign), one `attachgate run` serves milter, web and
notify roles instead, and the notify role injects the recipient copies of
mail to several recipients through the gateway Postfix's injection service
(contrib/postfix/master.cf's, no milter) into the same sink.

The front instance stands for the sending MTA: when the gateway answers 4xx
(the milter was killed, tempfailed, or could not be reached) it keeps the
message and retries, and `flush()` makes it retry now. Every message carries
an X-Fault-Seq header, so each arrival at the sink is matched to what was
sent; `verify()` then downloads every link through the web role (claim, then
the /t/ ticket) and compares SHA-256 with the originals, and compares the
blob files on disk with the catalog's rows.

Python standard library only; needs root (Postfix) like tests/e2e.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import hashlib
import json
import os
import random
import re
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
import harness  # noqa: E402
from recipient import Recipient, file_buttons  # noqa: E402

SENDER = "alice@example.org"
RECIPIENT = "bob@example.net"
# The pool a message to several recipients draws from: all external, so
# each gets a link of their own (the first through the MTA's message, the
# others as recipient copies).
RECIPIENTS = [RECIPIENT, "carol@example.com", "dave@example.net", "erin@example.com"]

POLICY = """\
# Fault campaigns: every attachment to outside goes behind a link.
on_error = "tempfail"
internal_domains = ["example.org"]
receipts = true

[defaults]
expires = "7d"
max_downloads = 5

[[rule]]
name = "everything-to-external"
recipients = "any_external"
min_size = "1KB"
action = "offload"
"""

# The named crash points of util/fault.h and how many passes a message
# makes through each (roughly), for picking N.
POINTS = {
    "spool_append": 60,        # milter/spool.cc: each header line and body chunk
    "blob_write": 40,          # store/blob_store.cc: each decoded piece of an attachment
    "blob_committed": 6,       # store/blob_store.cc: blob renamed into place, no row yet
    "catalog_committed": 5,    # milter/callbacks.cc: rows committed, Postfix not told
    "before_reply": 5,         # milter/callbacks.cc: Postfix has the new body, not our answer
}
# The notify role's points: armed only when the stack runs it.
NOTIFY_POINTS = {
    "copy_injected": 3,        # notify/notifier.cc: the MTA took a recipient copy, the catalog does not know
}


def log(msg: str) -> None:
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def free_port() -> int:
    """A free TCP port, from the same wide random range as the e2e tests.

    Never a narrow fixed range: the fault tests run side by side under ctest,
    and a port one campaign leaves free while it restarts a killed service
    must not be handed to another campaign (CI saw exactly that collision).
    """
    return harness.free_port()


def ensure_path() -> None:
    if "/usr/sbin" not in os.environ.get("PATH", ""):
        os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"


# ------------------------------------------------------------ messages ----

@dataclass
class Sent:
    seq: int
    attachments: list[str]      # SHA-256 of each original attachment
    sizes: list[int]
    recipients: list[str] = field(default_factory=lambda: [RECIPIENT])  # the envelope's
    front_qid: str = ""
    arrivals: int = 0
    outcome: str = ""


def random_size(rng: random.Random, low: int, high: int) -> int:
    """Log-uniform between low and high bytes: mostly small, some large."""
    return int(round(low * (high / low) ** rng.random()))


def build_message(seq: int, rng: random.Random, low: int, high: int,
                  max_attachments: int = 2, multi_share: float = 0,
                  recipients: list[str] | None = None) -> tuple[bytes, Sent]:
    """A message to recipients; by default to Bob, or with probability
    multi_share to 2-4 external recipients (Bob among them)."""
    if recipients is None:
        recipients = [RECIPIENT]
        if multi_share and rng.random() < multi_share:
            recipients = RECIPIENTS[:rng.randint(2, len(RECIPIENTS))]
    msg = email.message.EmailMessage()
    msg["From"] = "Alice <%s>" % SENDER
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = "fault campaign message %d" % seq
    msg["Message-ID"] = "<fault-%d-%s@example.org>" % (seq, os.urandom(6).hex())
    msg["X-Fault-Seq"] = str(seq)
    msg.set_content("Message %d of the fault campaign.\n" % seq)
    hashes, sizes = [], []
    for j in range(rng.randint(1, max_attachments)):
        size = random_size(rng, low, high)
        data = rng.randbytes(size)
        hashes.append(hashlib.sha256(data).hexdigest())
        sizes.append(size)
        msg.add_attachment(data, maintype="application", subtype="octet-stream",
                           filename="f%d-%d.bin" % (seq, j))
    return msg.as_bytes(policy=email.policy.SMTP), Sent(seq, hashes, sizes, recipients)


class Sender:
    """One SMTP session to the front Postfix, reconnecting when it drops."""

    def __init__(self, port: int):
        self.port = port
        self.smtp: smtplib.SMTP | None = None

    def send(self, data: bytes, recipients: list[str] = [RECIPIENT]) -> str:
        for attempt in range(5):
            try:
                if self.smtp is None:
                    self.smtp = smtplib.SMTP(harness.LOOPBACK, self.port, "client.example.org",
                                             timeout=120)
                    self.smtp.ehlo()
                code, _ = self.smtp.mail(SENDER)
                if code != 250:
                    raise smtplib.SMTPException("MAIL %d" % code)
                for r in recipients:
                    code, _ = self.smtp.rcpt(r)
                    if code not in (250, 251):
                        raise smtplib.SMTPException("RCPT %d" % code)
                code, reply = self.smtp.data(data)
                if code != 250:
                    raise smtplib.SMTPException("DATA %d %r" % (code, reply))
                m = re.search(rb"queued as ([0-9A-Za-z]+)", reply)
                return m.group(1).decode() if m else ""
            except (smtplib.SMTPException, OSError) as e:
                self.close()
                if attempt == 4:
                    raise
                log("send: %s; reconnecting" % e)
                time.sleep(1)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
        self.smtp = None


# ------------------------------------------------------------- service ----

class Service(harness.Milter):
    """`attachgate milter` (or web) that the campaign starts, kills and
    starts again: a process group of the supervisor and its worker, with an
    optional fault spec (ATTACHGATE_FAULT_KILL_AT) in its environment."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.fault: str | None = None

    def start(self, timeout: float = 20, fault: str | None = None) -> None:
        self.fault = fault
        env = dict(os.environ)
        env.pop("ATTACHGATE_FAULT_KILL_AT", None)
        if fault:
            env["ATTACHGATE_FAULT_KILL_AT"] = fault
        # A killed predecessor's worker may still hold the port a moment;
        # one that holds it for long outlived its supervisor's SIGKILL,
        # which is a bug to report, not to wait out.
        if not harness.wait_until(lambda: not any(harness.port_accepts(p) for p in self.ports()), 30):
            holders = subprocess.run(["ss", "-ltnpH"], stdout=subprocess.PIPE, text=True).stdout
            raise AssertionError("a process from a killed attachgate %s still listens on %s:\n%s"
                                 % (self.role, self.ports(), holders))
        with open(self.log, "ab") as logf:
            logf.write(("--- start%s: %s\n" % (" with %s" % fault if fault else "",
                                               " ".join(self.command()))).encode())
            logf.flush()
            self.proc = subprocess.Popen(self.command(), cwd=self.cwd, stdout=logf,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         env=env)
        ready = harness.wait_until(lambda: self.proc.poll() is not None or self.accepting(),
                                   timeout)
        if self.proc.poll() is not None or not ready:
            raise AssertionError("attachgate %s did not start (%s); its log:\n%s"
                                 % (self.role, self.proc.returncode, harness.tail(self.log)))
        # Accepting, but is it this process that listens? One that could not
        # bind exits at once.
        time.sleep(0.5)
        if self.proc.poll() is not None:
            raise AssertionError("attachgate %s exited after start (%s); its log:\n%s"
                                 % (self.role, self.proc.returncode, harness.tail(self.log)))

    def kill_all(self) -> None:
        """SIGKILL to the supervisor and every worker at once."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(30)
        # Children of the group die with it; wait for them to be reaped by init.
        harness.wait_until(lambda: not _group_alive(self.proc.pid), 10, 0.02)

    def stop(self) -> None:
        harness._terminate(self.proc, grace=60)

    def role_pid(self, role: str) -> int | None:
        """The living worker of `role`, known by the pid in its log lines
        ("attachgate/notify[PID]: ..."): `attachgate run` forks one per role
        and restarts each on its own."""
        workers = set(self.worker_pids())
        if self.role != "run":
            return min(workers) if workers and role == self.role else None
        pids = [int(m.group(1)) for m in
                re.finditer(r"^attachgate/%s\[(\d+)\]" % role, self.log_text(), re.M)]
        alive = [p for p in pids if p in workers]
        return alive[-1] if alive else None

    def wait_for_role(self, role: str, not_pid: int | None = None, timeout: float = 30) -> int:
        """Wait until `role` has a worker other than not_pid (and the milter
        port accepts, for the milter); returns its pid."""
        found: list[int] = []

        def look() -> bool:
            pid = self.role_pid(role)
            if pid is None or pid == not_pid or (role == "milter" and not self.milter_accepts()):
                return False
            found.append(pid)
            return True

        if not harness.wait_until(look, timeout, 0.05):
            raise AssertionError("no attachgate %s worker (other than %s) after %g s; its log:\n%s"
                                 % (role, not_pid, timeout, harness.tail(self.log)))
        return found[0]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def rss_kib(pid: int) -> int:
    try:
        return harness.proc_status(pid, "VmRSS")
    except (OSError, AssertionError):
        return 0


# --------------------------------------------------------------- stack ----

class Stack:
    """Sink, gateway Postfix with the milter, front Postfix, web role; with
    notify, `attachgate run` (milter, web and notify roles in one service,
    self.milter and self.web both) and the gateway's injection service."""

    def __init__(self, workdir: Path, policy: str = POLICY, state_dir: Path | None = None,
                 config_text: str | None = None, notify: bool = False):
        ensure_path()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        workdir.chmod(0o755)
        self.policy_path = workdir / "policy.toml"
        self.policy_path.write_text(policy)
        self.notify = notify
        self.gateway = harness.PrivatePostfix(workdir / "gateway", port=free_port(),
                                              inject_port=free_port() if notify else None)
        self.front = harness.PrivatePostfix(workdir / "front", port=free_port())
        if notify and config_text is None:
            # Recipient copies into the injection service (no milter), as
            # contrib/postfix/master.cf sets it up.
            config_text = harness.DEFAULT_CONFIG.read_text()
            assert 'inject = ""' in config_text
            config_text = config_text.replace(
                'inject = ""', 'inject = "smtp://%s:%d"' % (harness.LOOPBACK, self.gateway.inject_port))
        self.config = None
        if config_text is not None:
            self.config = workdir / "attachgate.toml"
            self.config.write_text(config_text)
        self.cleanups: list = []
        self._rcpts: dict[Path, list[str]] = {}
        self.sink = harness.SmtpSink(workdir, port=free_port())
        milter_port, web_port = free_port(), free_port()
        self.milter = Service(workdir, self.policy_path, port=milter_port, web_port=web_port,
                              role="run" if notify else "milter", config=self.config)
        if notify:  # receipts go through the gateway, which passes them by their mark
            self.milter.relay = "smtp://%s:%d" % (harness.LOOPBACK, self.gateway.port)
        self.web = self.milter if notify else \
            Service(workdir, self.policy_path, port=milter_port, web_port=web_port,
                    role="web", config=self.config)
        if state_dir is not None:
            self.milter.state_dir = self.web.state_dir = state_dir

    def start(self, with_web: bool = True) -> None:
        self.cleanups.append(self.sink.stop)
        self.sink.start()
        self.cleanups.append(self.milter.stop)
        self.milter.start()
        if with_web and self.web is not self.milter:
            self.cleanups.append(self.web.stop)
            self.web.start()
        self.cleanups.append(self.gateway.stop)
        self.gateway.start(self.milter.postfix_spec,
                           relay_to="%s:%d" % (harness.LOOPBACK, self.sink.port),
                           inject_milters=[] if self.notify else None)
        self.cleanups.append(self.front.stop)
        self.front.start("none", relay_to="%s:%d" % (harness.LOOPBACK, self.gateway.port))
        log("stack: front :%d -> gateway :%d (milter %s) -> sink :%d; web %s;%s in %s"
            % (self.front.port, self.gateway.port, self.milter.postfix_spec, self.sink.port,
               self.web.public_url, " copies injected at :%d;" % self.gateway.inject_port
               if self.notify else "", self.workdir))

    def stop(self) -> None:
        while self.cleanups:
            try:
                self.cleanups.pop()()
            except Exception as e:  # keep stopping the rest
                log("stop: %s" % e)

    # ---- Postfix queues -----------------------------------------------------

    def postqueue(self, pf: harness.PrivatePostfix, *args: str) -> str:
        run = subprocess.run(["postqueue", "-c", str(pf.dir / "etc"), *args],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=60)
        return run.stdout

    def flush(self) -> None:
        """Ask both Postfix instances to retry every deferred message now."""
        for pf in (self.front, self.gateway):
            self.postqueue(pf, "-f")

    def queued(self, pf: harness.PrivatePostfix) -> int:
        out = self.postqueue(pf, "-j")
        return sum(1 for line in out.splitlines() if line.startswith("{"))

    # ---- what arrived -------------------------------------------------------

    def arrivals(self) -> dict[int, list[Path]]:
        """Sink dumps by X-Fault-Seq (a dump still being written is skipped)."""
        found: dict[int, list[Path]] = {}
        for path in self.sink.files():
            with open(path, "rb") as f:
                head = f.read(65536)
            m = re.search(rb"^X-Fault-Seq: (\d+)", head, re.M)
            if m:
                found.setdefault(int(m.group(1)), []).append(path)
                self._rcpts[path] = [r.decode() for r in
                                     re.findall(rb"^X-Rcpt-Args:[^<\n]*<([^>]*)>", head, re.M)]
        return found

    def recipients_of(self, path: Path) -> list[str]:
        """The envelope recipients of a dump arrivals() found."""
        return self._rcpts.get(path, [])


# -------------------------------------------------------------- killer ----

@dataclass
class KillLog:
    random_worker: int = 0          # SIGKILL to the worker; attachgate's supervisor restarts it
    random_notify: int = 0          # the same to the notify role's worker
    random_service: int = 0         # SIGKILL to supervisor and worker; the campaign restarts it
    points: Counter = field(default_factory=Counter)  # worker killed itself at a named point
    points_not_reached: int = 0     # armed, but no message reached it in time
    random_with_blob_tmp: int = 0   # random kills that found a blob being written

    @property
    def total(self) -> int:
        return self.random_worker + self.random_notify + self.random_service + \
            sum(self.points.values())

    def as_dict(self) -> dict:
        return {"total": self.total, "random_worker": self.random_worker,
                "random_notify_worker": self.random_notify,
                "random_service": self.random_service, "at_points": dict(self.points),
                "random_during_blob_write": self.random_with_blob_tmp,
                "points_not_reached": self.points_not_reached}


class Killer(threading.Thread):
    """The campaign's supervisor loop: kills the milter at random moments
    and at named crash points, and starts it again each time.

    Each round either arms a crash point (restart the service with
    ATTACHGATE_FAULT_KILL_AT=point:N, wait for the worker to die there, then
    SIGKILL the rest and restart clean) or waits a random time and sends
    SIGKILL to the worker (attachgate's own supervisor restarts it) or to the
    whole service (this loop restarts it). With the notify role in the
    stack, its points are armed too, and a fifth of the random kills go to
    its worker."""

    def __init__(self, stack: Stack, rng: random.Random, mean_gap: float,
                 point_share: float = 0.5, point_timeout: float = 15):
        super().__init__(daemon=True)
        self.stack, self.rng, self.mean_gap = stack, rng, mean_gap
        self.point_share, self.point_timeout = point_share, point_timeout
        self.kills = KillLog()
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        self.passes = dict(POINTS, **(NOTIFY_POINTS if stack.notify else {}))
        self._points = list(self.passes)

    def run(self) -> None:
        try:
            round_no = 0
            while not self.stopping.is_set():
                round_no += 1
                if self.rng.random() < self.point_share:
                    point = self._points[round_no % len(self._points)]
                    self._point_round(point, self.rng.randint(1, self.passes[point]))
                else:
                    self._random_round()
        except BaseException as e:  # reported by the campaign
            self.error = e

    def _wait(self, seconds: float) -> bool:
        return self.stopping.wait(seconds)

    def _random_round(self) -> None:
        if self._wait(self.rng.expovariate(1 / self.mean_gap)):
            return
        m = self.stack.milter
        if self.stack.notify and self.rng.random() < 0.2:
            notify = m.role_pid("notify")
            if notify:
                os.kill(notify, signal.SIGKILL)
                self.kills.random_notify += 1
                m.wait_for_role("notify", not_pid=notify)
                return
        worker = m.role_pid("milter")
        if any((m.state_dir / "blobs" / "tmp").glob("*.tmp")):
            self.kills.random_with_blob_tmp += 1
        if worker and self.rng.random() < 0.75:
            os.kill(worker, signal.SIGKILL)
            self.kills.random_worker += 1
            m.wait_for_role("milter", not_pid=worker)
        else:
            m.kill_all()
            self.kills.random_service += 1
            m.start()
        self.stack.flush()

    def _point_round(self, point: str, n: int) -> None:
        m = self.stack.milter
        m.kill_all()
        self.kills.random_service += 1
        m.start(fault="%s:%d" % (point, n))
        self.stack.flush()  # the kill just now deferred mail: bring it back
        worker = m.wait_for_role("notify" if point in NOTIFY_POINTS else "milter")
        died = harness.wait_until(lambda: self.stopping.is_set() or not _alive(worker),
                                  self.point_timeout, 0.01)
        if died and not _alive(worker):
            self.kills.points[point] += 1
        else:
            self.kills.points_not_reached += 1
        # Before attachgate's supervisor starts a new worker with the same
        # spec (it waits a second): end this service and start a clean one.
        m.kill_all()
        m.start()
        self._wait(self.rng.uniform(0.2, 1.0))

    def stop(self) -> None:
        self.stopping.set()
        self.join(120)


def _alive(pid: int) -> bool:
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


# ------------------------------------------------------------- checking ---

@dataclass
class StoreState:
    rows: int
    blobs_on_disk: int
    blobs_without_row: list[str]
    rows_without_blob: list[str]
    temp_files: list[str]
    spool_files: list[str]
    messages: dict[str, str]  # public_id -> queue_id
    held_outbox: int
    copies_waiting: int = 0   # recipient copies in the outbox, their blob kept until sent

    @property
    def consistent(self) -> bool:
        return not (self.blobs_without_row or self.rows_without_blob or self.temp_files
                    or self.spool_files)


def store_state(state_dir: Path) -> StoreState:
    db = sqlite3.connect("file:%s?mode=ro" % (state_dir / "catalog.db"), uri=True, timeout=30)
    try:
        rows = {r[0] for r in db.execute("SELECT blob_id FROM files WHERE state = 'stored'")}
        messages = dict(db.execute("SELECT public_id, queue_id FROM messages"))
        # A held receipt (store::kOutboxHeld): its mail never reached the MTA.
        held = db.execute("SELECT count(*) FROM outbox WHERE kind = 'receipt' AND "
                          "next_attempt_at = 9223372036854775807").fetchone()[0]
        # A recipient copy's mail is a blob too, its row the outbox's, until sent.
        copies = {r[0] for r in db.execute("SELECT blob_id FROM outbox WHERE blob_id IS NOT NULL")}
    finally:
        db.close()
    blobs = state_dir / "blobs"
    on_disk = {p.name for p in blobs.glob("[0-9a-f][0-9a-f]/*") if p.is_file()}
    spool = state_dir / "spool"
    in_use = rows | copies
    return StoreState(len(rows), len(on_disk), sorted(on_disk - in_use), sorted(in_use - on_disk),
                      sorted(str(p) for p in (blobs / "tmp").glob("*")),
                      sorted(str(p) for p in spool.glob("*")) if spool.exists() else [],
                      messages, held, len(copies))


def front_outcomes(maillog: str) -> dict[str, list[str]]:
    """Front Postfix's delivery statuses per queue id, in order."""
    out: dict[str, list[str]] = {}
    for m in re.finditer(r"\b([0-9A-F]{6,}): to=<[^>]*>.*?, status=(\w+)", maillog):
        out.setdefault(m.group(1), []).append(m.group(2))
    return out


LINK_RE = re.compile(r"(http://127\.0\.0\.1:\d+)/d/([A-Za-z0-9_-]{43})")


def find_token(msg) -> str | None:
    """The download link's token in a rewritten mail's text part."""
    text = "".join(p.get_content() for p in msg.walk()
                   if p.get_content_type() == "text/plain")
    m = LINK_RE.search(text)
    return m.group(2) if m else None


def check_delivery(sent: Sent, msg, client: Recipient) -> tuple[str, str | None]:
    """('offloaded', token) when the mail's link downloads the originals,
    ('passed', None) when it carries the attachments unchanged, or a
    failure text and the token."""
    if msg["X-Attachgate"] is None:
        got = sorted(hashlib.sha256(p.get_payload(decode=True)).hexdigest()
                     for p in msg.walk() if p.get_filename())
        return ("passed" if got == sorted(sent.attachments) else
                "seq %d passed with attachments that differ" % sent.seq), None
    token = find_token(msg)
    if not token:
        return "seq %d: no link" % sent.seq, None
    return check_link(sent, token, client), token


def check_link(sent: Sent, token: str, client: Recipient) -> str:
    """'offloaded' when each file of the link downloads an original, else
    what went wrong."""
    page = client.get("/d/" + token)
    if page.status != 200:
        return "seq %d: landing page %d" % (sent.seq, page.status)
    hashes = []
    for button in file_buttons(page.text):
        if button["value"] == "all":  # the zip of every file
            continue
        claimed, got = client.download(token, button["value"], keep_body=False)
        if got is None or got.status != 200:
            return "seq %d: download of %s: claim %d, get %s" % (
                sent.seq, button["value"], claimed.status, got and got.status)
        hashes.append(got.sha256)
    if sorted(hashes) != sorted(sent.attachments):
        return "seq %d: downloads' SHA-256 differ from the originals (%d files, %d sent)" % (
            sent.seq, len(hashes), len(sent.attachments))
    return "offloaded"


def user_agent(token: str) -> str:
    """The User-Agent of the downloads through token: the trail's downloaded
    events then say whose link each was."""
    return "attachgate-faults/%s" % token[:16]


class Trails:
    """`attachgate show --json`, once per message, once its downloads are in."""

    def __init__(self, service: Service):
        self.service = service
        self.cache: dict[str, dict] = {}

    def get(self, public_id: str, want_agents: set[str] = frozenset()) -> dict:
        """The trail, waiting a little for downloaded events with want_agents
        (the web role records one as the transfer ends)."""
        deadline = time.monotonic() + 10
        while True:
            if public_id not in self.cache:
                shown = self.service.cli("show", "--json", public_id)
                if shown.returncode != 0:
                    raise AssertionError("attachgate show %s: %s" % (public_id, shown.stderr))
                self.cache[public_id] = json.loads(shown.stdout)
            seen = {e["user_agent"] for e in self.cache[public_id]["events"]
                    if e["kind"] == "downloaded"}
            if want_agents <= seen or time.monotonic() > deadline:
                return self.cache[public_id]
            del self.cache[public_id]
            time.sleep(0.2)


@dataclass
class Copy:
    """One mail for one recipient at the sink."""
    path: Path
    kind: str
    token: str | None
    public_id: str | None


def duplicate_causes(detail: str) -> list[str]:
    """The duplicates a `queued` event's detail names (Catalog::copy_queued):
    a copy sent again after an attempt that was cut off, and a copy an
    earlier attempt at the message released."""
    return [cause for cause, phrase in (("cut off", "attempt that was cut off"),
                                        ("earlier attempt", "an earlier attempt at this message"))
            if phrase in detail]


def check_recipients(sent: Sent, mails: dict[str, list[Copy]], trails: Trails) -> list[str]:
    """What is wrong with the links the recipients got: each link is its
    recipient's own (the trail's download through it names them), and a
    recipient who got the message more than once is named in a `queued`
    event that says "twice"."""
    problems = []
    owners: dict[str, str] = {}
    for r, got in mails.items():
        for c in got:
            if c.token and owners.setdefault(c.token, r) != r:
                problems.append("seq %d: %s and %s got the same link" % (sent.seq, owners[c.token], r))
    for r, got in mails.items():
        for c in got:
            if not c.token:
                continue
            trail = trails.get(c.public_id, {user_agent(c.token)})
            whose = {e["recipient"] for e in trail["events"]
                     if e["kind"] == "downloaded" and e["user_agent"] == user_agent(c.token)}
            # A message to one recipient may have one shared link.
            if whose != {r} and not (len(sent.recipients) == 1 and whose == {""}):
                problems.append("seq %d: the link in %s's mail %s is %s's, by the trail of %s"
                                % (sent.seq, r, c.path.name, sorted(whose) or "nobody", c.public_id))
        if len(got) > 1:
            # Each mail past the first needs its own word in a trail: two
            # copies of one offload, one `queued` event saying "twice"; mail
            # from two offloads of the message (a retry after a kill), a
            # word in the trail of one of them.
            # One `queued` event may name two causes: a copy sent again
            # after a cut-off attempt that is also a retry's copy.
            offloads = sorted({c.public_id for c in got if c.public_id})
            named = [cause for pid in offloads for e in trails.get(pid)["events"]
                     if e["kind"] == "queued" and e["recipient"] == r and "twice" in e["detail"]
                     for cause in (duplicate_causes(e["detail"]) or ["twice"])]
            if len(named) < len(got) - 1:
                problems.append(
                    "seq %d: %s got it %d times (%s); the trail names %d of the %d duplicates%s"
                    % (sent.seq, r, len(got), ", ".join(
                        "%s: link %s of %s" % (c.path.name, c.token and c.token[:8], c.public_id)
                        for c in got), len(named), len(got) - 1,
                       " (%d different offloads)" % len(offloads) if len(offloads) > 1 else ""))
    return problems


def wait_all_arrived(stack: Stack, sent: dict[int, Sent], timeout: float,
                     flush_every: float = 5) -> dict[int, list[Path]]:
    """Flush the queues until every recipient of every message has a mail
    from it at the sink, or timeout."""
    deadline = time.monotonic() + timeout
    last_flush = 0.0
    while True:
        arrived = stack.arrivals()
        missing = [seq for seq, s in sent.items()
                   if set(s.recipients) - {r for p in arrived.get(seq, [])
                                           for r in stack.recipients_of(p)}]
        if not missing:
            # Let dumps that are still being written finish.
            time.sleep(0.5)
            return stack.arrivals()
        if time.monotonic() >= deadline:
            return arrived
        if time.monotonic() - last_flush > flush_every:
            stack.flush()
            last_flush = time.monotonic()
        time.sleep(0.5)


def verify(stack: Stack, sent: dict[int, Sent], arrived: dict[int, list[Path]]) -> dict:
    """Outcome counts, failures, and the store's state. Per message and
    envelope recipient: at least one mail; each mail's link is that
    recipient's own and downloads the originals; more than one mail is a
    duplicate, which the trail must name."""
    front = front_outcomes(stack.front.maillog())
    trails = Trails(stack.milter)
    outcomes: Counter = Counter()
    duplicates: Counter = Counter()
    failures: list[str] = []
    delivered_public_ids: set[str] = set()
    for seq, s in sorted(sent.items()):
        mails: dict[str, list[Copy]] = {r: [] for r in s.recipients}
        bad = []
        for path in arrived.get(seq, []):
            dump = harness.parse_sink_dump(path)
            msg = dump.parse()
            m = re.search(r"message=([A-Za-z0-9_-]+)", msg["X-Attachgate"] or "")
            public_id = m.group(1) if m else None
            # One client per mail: its User-Agent names the token in the trail.
            token = find_token(msg)
            client = Recipient(stack.web.public_url, timeout=120,
                               user_agent=user_agent(token) if token else "attachgate-faults")
            kind, token = check_delivery(s, msg, client)
            if kind not in ("offloaded", "passed"):
                bad.append("%s (%s)" % (kind, path.name))
            elif public_id:
                delivered_public_ids.add(public_id)
            for r in dump.rcpt_to:
                if r not in mails:
                    bad.append("seq %d: a mail to %s, who was not a recipient" % (seq, r))
                    continue
                mails[r].append(Copy(path, kind, token, public_id))
        lost = [r for r, got in mails.items() if not got]
        if lost:
            outcomes["lost"] += 1
            failures.append("seq %d (front %s) never arrived for %s; front log: %s"
                            % (seq, s.front_qid, ", ".join(lost), front.get(s.front_qid)))
            continue
        if bad:
            outcomes["bad download"] += 1
            failures.extend(bad)
            continue
        wrong = check_recipients(s, mails, trails)
        duplicates["recipients who got a message more than once"] += \
            sum(1 for got in mails.values() if len(got) > 1)
        duplicates["of which the trail does not name"] += \
            sum(1 for w in wrong if "the trail names" in w)
        if wrong:
            outcomes["wrong link or unnamed duplicate"] += 1
            failures.extend(wrong)
            continue
        kinds = sorted({c.kind for got in mails.values() for c in got})
        retried = "deferred" in front.get(s.front_qid, [])
        s.outcome = "%s%s%s" % ("+".join(kinds), " after tempfail and retry" if retried else
                                " at first try",
                                "" if len(s.recipients) == 1 else ", %d recipients"
                                % len(s.recipients))
        outcomes[s.outcome] += 1
    state = store_state(stack.milter.state_dir)
    undelivered = sorted(set(state.messages) - delivered_public_ids)
    if not state.consistent:
        failures.append("store: %d blobs without row, %d rows without blob, %d temp files, "
                        "%d spool files" % (len(state.blobs_without_row),
                                            len(state.rows_without_blob),
                                            len(state.temp_files), len(state.spool_files)))
    return {
        "messages": len(sent),
        "recipients": sum(len(s.recipients) for s in sent.values()),
        "messages_to_several": sum(1 for s in sent.values() if len(s.recipients) > 1),
        "outcomes": dict(outcomes),
        "duplicates": dict(duplicates),
        "deferrals_at_front": sum(v.count("deferred") for v in front.values()),
        "failures": failures,
        "store": {"rows": state.rows, "blobs": state.blobs_on_disk,
                  "blobs_without_row": len(state.blobs_without_row),
                  "rows_without_blob": len(state.rows_without_blob),
                  "temp_files": len(state.temp_files), "spool_files": len(state.spool_files),
                  "messages_in_catalog": len(state.messages),
                  "offloads_never_delivered": len(undelivered),
                  "held_receipts": state.held_outbox,
                  "recipient_copies_waiting": state.copies_waiting},
    }


# ------------------------------------------------------------ campaign ----

def kill_campaign(workdir: Path, messages: int, kills: int, seed: int = 1,
                  low: int = 4_000, high: int = 4_000_000, send_rate: float = 0,
                  settle_timeout: float = 600, multi_share: float = 0,
                  progress=log) -> dict:
    """Sends `messages` through the stack while a Killer kills the milter
    (and the notify role) about `kills` times; then lets Postfix and the
    outbox retry everything and verifies. A multi_share of the messages go
    to 2-4 recipients, whose copies the notify role injects; with 0 the
    stack runs the milter and web roles alone, as before recipient copies."""
    rng = random.Random(seed)
    stack = Stack(workdir, notify=multi_share > 0)
    started = time.monotonic()
    try:
        stack.start()
        sent: dict[int, Sent] = {}
        sender = Sender(stack.front.port)
        # Spread the kills over the time the messages take to go through:
        # about 0.25 s a message on this machine's two shared cores.
        expected = max(10.0, messages * 0.25)
        killer = Killer(stack, rng, mean_gap=expected / max(1, kills) / 1.5)
        killer.start()
        for seq in range(1, messages + 1):
            data, s = build_message(seq, rng, low, high, multi_share=multi_share)
            s.front_qid = sender.send(data, s.recipients)
            sent[seq] = s
            if seq % max(1, messages // 20) == 0:
                progress("sent %d/%d, arrived %d, kills %d"
                         % (seq, messages, len(stack.arrivals()), killer.kills.total))
            if send_rate:
                time.sleep(1 / send_rate)
            if killer.error:
                raise killer.error
        # Keep killing until the wanted count is reached. When the mail has
        # drained first, send more, up to twice the number asked for: a kill
        # with no mail in flight proves nothing.
        deadline = time.monotonic() + settle_timeout
        seq, flushed = messages, time.monotonic()
        while killer.kills.total < kills and time.monotonic() < deadline:
            if len(stack.arrivals()) >= len(sent):
                if seq >= 2 * messages:
                    break
                seq += 1
                data, s = build_message(seq, rng, low, high, multi_share=multi_share)
                s.front_qid = sender.send(data, s.recipients)
                sent[seq] = s
            time.sleep(0.5)
            if time.monotonic() - flushed >= 2:
                stack.flush()
                flushed = time.monotonic()
            if killer.error:
                raise killer.error
        sender.close()
        messages = len(sent)
        killer.stop()
        if killer.error:
            raise killer.error
        # A clean milter from here on; Postfix retries what it holds.
        stack.milter.kill_all()
        stack.milter.start()
        progress("killing stopped after %d kills; flushing queues" % killer.kills.total)
        arrived = wait_all_arrived(stack, sent, settle_timeout)
        progress("%d/%d arrived; downloading every link" % (len(arrived), messages))
        result = verify(stack, sent, arrived)
        result["kills"] = killer.kills.as_dict()
        result["seconds"] = round(time.monotonic() - started, 1)
        result["bytes_sent"] = sum(sum(s.sizes) for s in sent.values())
        result["attachments"] = sum(len(s.sizes) for s in sent.values())
        return result
    finally:
        stack.stop()
