"""The shared engines of a scale-out attachgate, started by the tests on loopback.

Postgres: PostgreSQL 15 from Debian (postgresql-15), the catalog engine of
issue 15. initdb makes a cluster in the test's temp dir, owned by Debian's
unprivileged `postgres` user (initdb and postgres refuse root; the package
creates that user, so it is there wherever the server is). It listens on
127.0.0.1 only, on a free port, with no unix socket, and takes passwords
(SCRAM) only. fsync stays on unless a test asks for speed with fsync=False.

S3Server: s3rver (npm, tests/s3) behind sigv4_front.py. s3rver is light
(one node process, objects as files, ready in about a second) where Ceph's
radosgw needs a monitor and OSDs; but s3rver does not check V4 signatures
(it accepts any signature for a known key, and anonymous requests), and has
no multipart abort. The front checks every request's SigV4 signature and
payload as S3 does, fills the abort, and forwards to s3rver on a port of its
own, so a request signed with the wrong secret gets 403. It follows the AWS
spec where libcurl 7.88 (Debian 12) does not: a client must send
x-amz-content-sha256 itself and write its query already canonical (sorted,
every parameter with "="), as real S3 requires too.

Secrets go through files (0600), never argv. Python standard library only.
"""

from __future__ import annotations

import http.client
import json
import os
import pwd
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path

from harness import (LOOPBACK, SOURCE_DIR, E2ETestCase, _terminate, child_pids, free_port,
                     port_accepts, tail, wait_until)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "postgres"  # made by Debian's postgresql-common
S3RVER = SOURCE_DIR / "tests" / "s3" / "node_modules" / "s3rver" / "bin" / "s3rver.js"
SIGV4_FRONT = Path(__file__).resolve().parent / "sigv4_front.py"


def write_secret(path: Path, text: str, owner: str | None = None) -> Path:
    """Writes text to a new 0600 file (owned by owner if given)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    if owner:
        pw = pwd.getpwnam(owner)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


def _alive(pid: int) -> bool:
    """pid runs (a zombie, waiting for a parent that may never reap it, does not)."""
    try:
        return Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class SqlError(AssertionError):
    pass


# ------------------------------------------------------------ postgres ----

class Postgres:
    """A private PostgreSQL 15 cluster under workdir/postgres.

    Holds database `attachgate` owned by role `attachgate`, whose password is
    in password_file (for the back end) and in pgpass (for psql). start()
    makes the cluster the first time and starts it again after stop() or
    kill(); the data stay. The log is workdir/postgres/postgres.log.
    """

    def __init__(self, workdir: Path, port: int | None = None, fsync: bool = True,
                 database: str = "attachgate", role: str = "attachgate"):
        self.dir = workdir / "postgres"
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = port or free_port()
        self.fsync = fsync
        self.database, self.role = database, role
        self.password = secrets.token_urlsafe(18)
        self.superuser_password = secrets.token_urlsafe(18)
        self.password_file = self.dir / ("%s.password" % role)
        self.pgpass = self.dir / "pgpass"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """A libpq URL without the password (that comes from password_file)."""
        return "postgresql://%s@%s:%d/%s?sslmode=disable" % (
            self.role, LOOPBACK, self.port, self.database)

    def _as_postgres(self, args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
        pw = pwd.getpwnam(PG_USER)
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(self.dir)}
        return subprocess.run(args, cwd=self.dir, env=env, user=pw.pw_uid, group=pw.pw_gid,
                              extra_groups=[], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout)

    def _initdb(self) -> None:
        try:
            pw = pwd.getpwnam(PG_USER)
        except KeyError:
            raise AssertionError("no user %r: install postgresql-15 "
                                 "(contrib/install-deps.sh --with-tests)" % PG_USER) from None
        if not (PG_BIN / "initdb").exists():
            raise AssertionError("%s/initdb is missing: install postgresql-15" % PG_BIN)
        self.dir.mkdir(mode=0o700)
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        pwfile = write_secret(self.dir / "superuser.password", self.superuser_password, PG_USER)
        run = self._as_postgres(
            [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", PG_USER, "--pwfile", str(pwfile),
             "--auth-local=reject", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C"]
            + ([] if self.fsync else ["--no-sync"]), timeout=120)
        pwfile.unlink()
        if run.returncode != 0:
            raise RuntimeError("initdb failed (exit %d):\n%s" % (run.returncode, run.stdout))
        settings = {
            "listen_addresses": "'%s'" % LOOPBACK, "port": str(self.port),
            "unix_socket_directories": "''",  # TCP only: no socket in /var/run
            "shared_buffers": "'32MB'", "max_connections": "100",
            "log_line_prefix": "'%m [%p] %u@%d '", "log_connections": "on",
        }
        if not self.fsync:  # speed only where a test asks: a crash may lose commits
            settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        with open(self.data / "postgresql.conf", "a") as f:
            f.write("\n# tests/e2e/engines.py\n")
            f.writelines("%s = %s\n" % kv for kv in settings.items())
        # Only loopback TCP with a password; nothing else may log in.
        (self.data / "pg_hba.conf").write_text(
            "host all all 127.0.0.1/32 scram-sha-256\n")
        write_secret(self.password_file, self.password)
        write_secret(self.pgpass, "".join(
            "%s:%d:*:%s:%s\n" % (LOOPBACK, self.port, user, pw)
            for user, pw in ((PG_USER, self.superuser_password), (self.role, self.password))))

    def _create_role_and_database(self) -> None:
        self.sql("CREATE ROLE %s LOGIN PASSWORD '%s'" % (self.role, self.password),
                 user=PG_USER, database="postgres")
        self.sql("CREATE DATABASE %s OWNER %s" % (self.database, self.role),
                 user=PG_USER, database="postgres")

    def start(self, timeout: float = 30) -> None:
        """Runs postgres as this process's child (not through pg_ctl start), so
        that a killed postmaster is reaped here and its pid cannot linger as
        a zombie that a new postmaster would take for a live one."""
        first = not self.data.exists()
        if first:
            self._initdb()
        pw = pwd.getpwnam(PG_USER)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(PG_BIN / "postgres"), "-D", str(self.data)], cwd=self.dir,
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, user=pw.pw_uid,
                group=pw.pw_gid, extra_groups=[], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_until(lambda: self.proc.poll() is not None or self._ready(), timeout) \
                or self.proc.poll() is not None:
            raise RuntimeError("PostgreSQL did not start on port %d (exit %s):\n%s"
                               % (self.port, self.proc.poll(), tail(self.log)))
        if first:
            self._create_role_and_database()

    def _ready(self) -> bool:
        # postmaster.pid's 8th line is the postmaster's status, as pg_ctl -w reads it.
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[7].strip() == "ready" and port_accepts(self.port)

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self, timeout: float = 20) -> None:
        """pg_ctl stop -m fast; SIGKILL if that does not end it."""
        if self.proc is None:
            return
        run = self._as_postgres([str(PG_BIN / "pg_ctl"), "stop", "-D", str(self.data),
                                 "-m", "fast", "-w", "-t", str(int(timeout))],
                                timeout=timeout + 10)
        try:
            self.proc.wait(5 if run.returncode == 0 else 0.1)
        except subprocess.TimeoutExpired:
            self.kill()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL the postmaster and its children, as a crash would (they must
        go too: a new postmaster refuses shared memory still attached)."""
        if self.proc is None:
            return
        pids = [self.proc.pid] + child_pids(self.proc.pid)
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)
        wait_until(lambda: not any(_alive(p) for p in pids), 10)
        self.proc = None

    def psql(self, sql: str, user: str | None = None, database: str | None = None,
             pgpass: Path | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
        """psql over TCP with the password from a pgpass file (never argv);
        SQL on stdin, unaligned tuples-only output, stops at the first error."""
        env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}  # it beats the file
        env.update(PGPASSFILE=str(pgpass or self.pgpass), PGCONNECT_TIMEOUT="5",
                   PGSSLMODE="disable")
        return subprocess.run(
            [str(PG_BIN / "psql"), "-X", "-q", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1",
             "-h", LOOPBACK, "-p", str(self.port), "-U", user or self.role,
             "-d", database or self.database],
            input=sql, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            timeout=timeout)

    def sql(self, sql: str, **kw) -> list[list[str]]:
        """Runs SQL as psql() does; returns the rows (fields split on |)."""
        run = self.psql(sql, **kw)
        if run.returncode != 0:
            raise SqlError("psql failed (exit %d): %s\nlog:\n%s"
                           % (run.returncode, run.stderr.strip(), tail(self.log, 10)))
        return [line.split("|") for line in run.stdout.splitlines() if line]


# ------------------------------------------------------------------ s3 ----

class S3Server:
    """s3rver behind the SigV4-checking front, one bucket, one key pair.

    endpoint is the front; credentials_file holds {"access_key",
    "secret_key", "region"} (0600). keys(), delete() and pending_uploads()
    look behind the front, at s3rver itself, so they work whatever a test
    does to the signing. Objects live in workdir/s3/data and outlive a
    stop() and start().
    """

    def __init__(self, workdir: Path, bucket: str = "attachgate", region: str = "us-east-1",
                 port: int | None = None):
        self.dir = workdir / "s3"
        self.data = self.dir / "data"
        self.bucket, self.region = bucket, region
        self.port = port or free_port()
        self.s3rver_port = free_port()
        self.access_key = "AG" + secrets.token_hex(9).upper()
        self.secret_key = secrets.token_urlsafe(30)
        self.credentials_file = self.dir / "credentials.json"
        self.front_log = self.dir / "front.log"
        self.s3rver_log = self.dir / "s3rver.log"
        self.front: subprocess.Popen | None = None
        self.s3rver: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return "http://%s:%d" % (LOOPBACK, self.port)

    def url(self, key: str = "", query: str = "") -> str:
        path = "/%s/%s" % (self.bucket, urllib.parse.quote(key, safe="/-_.~")) if key \
            else "/" + self.bucket
        return self.endpoint + path + ("?" + query if query else "")

    def curl_args(self, secret: str | None = None) -> list[str]:
        """curl signing with SigV4 as attachgate's libcurl will (curl blanks
        --user in its argv, so ps does not show the secret for long)."""
        return ["curl", "-sS", "--aws-sigv4", "aws:amz:%s:s3" % self.region,
                "--user", "%s:%s" % (self.access_key, secret or self.secret_key)]

    def start(self, timeout: float = 20) -> None:
        if not S3RVER.exists():
            raise AssertionError("%s is missing: run npm ci --prefix tests/s3" % S3RVER)
        if not self.data.exists():
            self.data.mkdir(parents=True)
            write_secret(self.credentials_file, json.dumps({
                "access_key": self.access_key, "secret_key": self.secret_key,
                "region": self.region}))
        with open(self.s3rver_log, "ab") as log:
            self.s3rver = subprocess.Popen(
                ["node", str(S3RVER), "--directory", str(self.data), "--address", LOOPBACK,
                 "--port", str(self.s3rver_port), "--no-vhost-buckets", "--silent",
                 "--configure-bucket", self.bucket],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        with open(self.front_log, "ab") as log:
            self.front = subprocess.Popen(
                [sys.executable, str(SIGV4_FRONT), "--listen", str(self.port),
                 "--upstream", str(self.s3rver_port), "--credentials", str(self.credentials_file),
                 "--s3rver-dir", str(self.data)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        for proc, port, log in ((self.s3rver, self.s3rver_port, self.s3rver_log),
                                (self.front, self.port, self.front_log)):
            if not wait_until(lambda: proc.poll() is not None or port_accepts(port), timeout) \
                    or proc.poll() is not None:
                raise RuntimeError("%s did not start on port %d:\n%s"
                                   % (proc.args[1], port, tail(log)))
        # s3rver makes the bucket after it listens.
        if not wait_until(lambda: self._behind("HEAD", "/" + self.bucket)[0] == 200, timeout):
            raise RuntimeError("s3rver has no bucket %s:\n%s" % (self.bucket, tail(self.s3rver_log)))

    def stop(self) -> None:
        _terminate(self.front)
        _terminate(self.s3rver)
        self.front = self.s3rver = None

    def kill(self) -> None:
        for proc in (self.front, self.s3rver):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
        self.front = self.s3rver = None

    def _behind(self, method: str, path: str) -> tuple[int, bytes]:
        """An unsigned request straight to s3rver (which lets it through)."""
        conn = http.client.HTTPConnection(LOOPBACK, self.s3rver_port, timeout=10)
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        except OSError:
            return 0, b""
        finally:
            conn.close()

    def keys(self, prefix: str = "") -> dict[str, int]:
        """Every object in the bucket: key -> size."""
        out: dict[str, int] = {}
        token = None
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            status, body = self._behind("GET", "/%s?%s" % (self.bucket,
                                                           urllib.parse.urlencode(query)))
            if status != 200:
                raise AssertionError("listing %s: %d %r" % (self.bucket, status, body[:300]))
            root = ET.fromstring(body)
            ns = re.match(r"\{[^}]*\}", root.tag)
            ns = ns.group(0) if ns else ""
            for item in root.iter(ns + "Contents"):
                out[item.findtext(ns + "Key")] = int(item.findtext(ns + "Size"))
            token = root.findtext(ns + "NextContinuationToken")
            if root.findtext(ns + "IsTruncated") != "true" or not token:
                return out

    def get_object(self, key: str) -> bytes:
        """An object's bytes as stored (behind the front)."""
        status, body = self._behind("GET", "/%s/%s" % (self.bucket, urllib.parse.quote(key)))
        if status != 200:
            raise AssertionError("getting %s: %d %r" % (key, status, body[:300]))
        return body

    def delete(self, key: str) -> None:
        status, body = self._behind("DELETE", "/%s/%s" % (self.bucket, urllib.parse.quote(key)))
        if status != 204:
            raise AssertionError("deleting %s: %d %r" % (key, status, body[:300]))

    def pending_uploads(self) -> list[str]:
        """Ids of multipart uploads begun and neither completed nor aborted
        (s3rver keeps each as BUCKET/._S3rver_uploads/ID/)."""
        uploads = self.data / self.bucket / "._S3rver_uploads"
        return sorted(p.name for p in uploads.iterdir()) if uploads.is_dir() else []


def config_on_engines(config_text: str, credentials: Path, pg: Postgres | None = None,
                      s3: S3Server | None = None, prefix: str = "blobs",
                      endpoint: str | None = None, key: tuple[str, str] | None = None,
                      database: str | None = None) -> str:
    """config_text with [catalog] on pg (its database, or `database`) and
    [blobs] in s3 under prefix, the key pair written to credentials (0600).
    endpoint and key, when given, replace the front's and the configured
    pair (e.g. s3rver's own port and built-in key, which bypass the SigV4
    check)."""
    if s3 is not None:
        access, secret = key or (s3.access_key, s3.secret_key)
        write_secret(credentials, "%s\n%s\n" % (access, secret))
        url = "s3://%s/%s?endpoint=%s&region=%s" % (s3.bucket, prefix, endpoint or s3.endpoint,
                                                    s3.region)
        if "\n[blobs]\n" not in config_text:
            raise ValueError("the config has no [blobs] section")
        config_text = config_text.replace("\n[blobs]\n", "\n[blobs]\nurl = %s\ncredentials_file = %s\n"
                                          % (json.dumps(url), json.dumps(str(credentials))), 1)
    if pg is not None:
        if "\n[catalog]\n" not in config_text:
            raise ValueError("the config has no [catalog] section")
        url = pg.url if database is None else pg.url.replace("/%s?" % pg.database, "/%s?" % database)
        config_text = config_text.replace(
            "\n[catalog]\n", "\n[catalog]\nurl = %s\npassword_file = %s\n"
            % (json.dumps(url), json.dumps(str(pg.password_file))), 1)
    return config_text


# ------------------------------------------------------------ test case ----

class EnginesMixin:
    """start_postgres() and start_s3() for an E2ETestCase: stopped after the
    test, their files in the temp dir (kept with their logs on failure)."""

    def start_postgres(self, fsync: bool = True) -> Postgres:
        pg = Postgres(self.workdir, fsync=fsync)
        self.addCleanup(pg.stop)
        pg.start()
        return pg

    def start_s3(self) -> S3Server:
        s3 = S3Server(self.workdir)
        self.addCleanup(s3.stop)
        s3.start()
        return s3

    def on_engines(self, config_text: str, pg: Postgres | None = None,
                   s3: S3Server | None = None, prefix: str = "blobs") -> str:
        """config_text (the shipped attachgate.toml, say) with [catalog] on
        pg and [blobs] in s3 under prefix, the password and key pair in 0600
        files: as an admin configures a node of a scale-out pair."""
        return config_on_engines(config_text, self.workdir / "s3.credentials", pg, s3, prefix)


class SharedEngines:
    """ATTACHGATE_E2E_ENGINES=postgresql+s3 (harness.ENGINES): the end-to-end
    suite on the scale-out back ends. One PostgreSQL and one S3 server per
    test process, started at first use and stopped at exit; each state
    directory gets a database and a key prefix of its own, so every node a
    test starts on one state directory shares them, as on one machine."""

    _shared: SharedEngines | None = None

    @classmethod
    def get(cls) -> SharedEngines:
        if cls._shared is None:
            cls._shared = SharedEngines()
        return cls._shared

    def __init__(self) -> None:
        import atexit
        self.dir = Path(tempfile.mkdtemp(prefix="attachgate-shared-engines-"))
        self.dir.chmod(0o755)  # the postgres user must reach dir/postgres
        self.pg = Postgres(self.dir, fsync=False)
        self.s3 = S3Server(self.dir)
        atexit.register(self.stop)
        self.pg.start()
        self.s3.start()
        self.databases: set[str] = set()

    def stop(self) -> None:
        self.s3.stop()
        self.pg.stop()
        if not os.environ.get("ATTACHGATE_E2E_KEEP"):
            import shutil
            shutil.rmtree(self.dir, ignore_errors=True)

    def config_for(self, state_dir: Path, config_text: str) -> str:
        import hashlib
        name = "ag_" + hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:16]
        if name not in self.databases:
            self.pg.sql("CREATE DATABASE %s OWNER %s" % (name, self.pg.role), user=PG_USER,
                        database="postgres")
            self.databases.add(name)
        return config_on_engines(config_text, self.dir / "s3.credentials", self.pg, self.s3,
                                 prefix=name, database=name)


class EnginesTestCase(EnginesMixin, E2ETestCase):
    """For tests of the engines alone: root (for the postgres user), no Postfix."""

    def setUp(self) -> None:
        if os.geteuid() != 0:
            self.fail("the engine tests start PostgreSQL as user postgres and must run as root")
        self.workdir = Path(tempfile.mkdtemp(prefix="attachgate-engines-"))
        self.workdir.chmod(0o755)  # the postgres user must reach workdir/postgres
