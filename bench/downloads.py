"""Parts 3 and 4 of bench/run: downloads against nginx, and idle connections.

Part 3. One file of random bytes (512 MB by default) is put behind one link
with tests/e2e/seed_link (the real Store: encrypted blob, catalog rows), and
`attachgate web` serves it. nginx (Debian's package, a private config under
the work directory, `sendfile on`) serves the same plaintext file, and the
landing page's exact bytes as a static file. curl downloads it with 1 and
with 8 clients at once, attachgate and nginx taking turns in the same run.

An attachgate download is two requests: POST /d/{token} (the claim, 303 to
/t/{ticket}) and GET /t/{ticket}, which sends the bytes. Only the GET is
timed: the tickets are claimed before the clock starts. Each client is one
curl process; a batch's figure is bytes / wall time from starting the
curls to the last one finishing. Every response must be 200 with the whole
length, and one download from each server is hashed against the original.

The landing page (GET /d/{token}, which renders the page and records a
`viewed` event) is loaded with wrk, against nginx serving a file of the
same bytes.

Part 4. 1,000 TCP connections are opened to attachgate's web port and held,
sending nothing, for 30 s while downloads run one after another. Errors:
connections refused or closed by the server, downloads that fail, and idle
connections that do not answer a request sent on them at the end. The web
worker's RSS is sampled throughout.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

import milter_message_size as mms
from milter_message_size import harness, log

NGINX_CONF = """\
# Written by bench/downloads.py: a private nginx for the download baseline.
daemon off;
master_process on;
user root;
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
worker_rlimit_nofile 8192;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    default_type application/octet-stream;
    types {{ text/html html; }}
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {prefix}/www;
        location / {{ }}
    }}
}}
"""


def bench_config(workdir: Path, source_config: Path, timeout: str) -> Path:
    """A copy of the service config with [http] timeout changed (so idle
    connections outlive the hold in part 4)."""
    text = source_config.read_text()
    new, n = re.subn(r'(?m)^timeout = "[^"]*"', 'timeout = "%s"' % timeout, text)
    if n != 1:
        raise RuntimeError("cannot find [http] timeout in %s" % source_config)
    out = workdir / "attachgate-bench.toml"
    out.write_text(new)
    return out


def random_file(path: Path, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left > 0:
            chunk = os.urandom(min(left, 4 << 20))
            h.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return h.hexdigest()


class Nginx:
    def __init__(self, workdir: Path, workers: int):
        self.prefix = workdir / "nginx"
        self.port = harness.free_port()
        self.workers = workers
        self.proc: subprocess.Popen | None = None
        self.www = self.prefix / "www"

    def start(self) -> None:
        for d in ("www", "tmp", "logs"):
            (self.prefix / d).mkdir(parents=True, exist_ok=True)
        conf = self.prefix / "nginx.conf"
        conf.write_text(NGINX_CONF.format(prefix=self.prefix, port=self.port, workers=self.workers))
        log_file = open(self.prefix / "stdout.log", "ab")
        self.proc = subprocess.Popen(["nginx", "-p", str(self.prefix), "-c", str(conf)],
                                     stdout=log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log_file.close()
        if not harness.wait_until(lambda: self.proc.poll() is not None
                                  or harness.port_accepts(self.port), 10) or self.proc.poll() is not None:
            raise RuntimeError("nginx did not start:\n%s\n%s" % (
                harness.tail(self.prefix / "stdout.log"), harness.tail(self.prefix / "error.log")))

    def worker_pids(self) -> list[int]:
        return harness.child_pids(self.proc.pid) if self.proc and self.proc.poll() is None else []

    def stop(self) -> None:
        harness._terminate(self.proc)

    def url(self, name: str) -> str:
        return "http://%s:%d/%s" % (harness.LOOPBACK, self.port, name)


class Attachgate:
    """`attachgate web` on a state dir with one seeded link."""

    def __init__(self, workdir: Path, config: Path, seed_link: Path):
        self.service = harness.Milter(workdir, harness.DEFAULT_POLICY, role="web", config=config)
        self.seed_link = seed_link
        self.seed_options: list[str] = []  # e.g. --config FILE: a store on PostgreSQL + S3
        self.link: dict = {}
        self.pid = 0
        self.claims = 0

    def start(self) -> None:
        self.service.start(timeout=30)
        self.pid = self.service.web_pid()

    def seed(self, path: Path, max_downloads: int) -> dict:
        run = subprocess.run([str(self.seed_link)] + self.seed_options + [
                              str(self.service.state_dir), str(path),
                              b"bench.bin".hex(), str(max_downloads), "86400"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
        if run.returncode != 0:
            raise RuntimeError("seed_link failed: %s" % run.stderr.decode(errors="replace"))
        self.link = json.loads(run.stdout)
        return self.link

    @property
    def port(self) -> int:
        return self.service.web_port

    def landing_path(self) -> str:
        return "/d/" + self.link["token"]

    def claim(self) -> str:
        """POST the Download button; returns the ticket URL (untimed)."""
        conn = http.client.HTTPConnection(harness.LOOPBACK, self.port, timeout=60)
        try:
            conn.request("POST", self.landing_path(),
                         body=urllib.parse.urlencode({"file": self.link["file_id"]}),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            resp = conn.getresponse()
            resp.read()
            if resp.status != 303:
                raise RuntimeError("claim answered %d" % resp.status)
            self.claims += 1
            return "http://%s:%d%s" % (harness.LOOPBACK, self.port, resp.getheader("Location"))
        finally:
            conn.close()

    def stop(self) -> None:
        self.service.stop()


def http_get(url: str) -> tuple[int, bytes]:
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request("GET", u.path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def hash_download(url: str) -> tuple[int, int, str]:
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    h, n = hashlib.sha256(), 0
    try:
        conn.request("GET", u.path)
        resp = conn.getresponse()
        while True:
            chunk = resp.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
        return resp.status, n, h.hexdigest()
    finally:
        conn.close()


def curl_batch(urls: list[str], size: int, cpu_pids: list[int]) -> dict:
    """Runs one curl per URL at once; bytes / wall time to the last one."""
    fmt = "%{http_code} %{size_download} %{time_total}"
    cpu0 = sum(_cpu(p) for p in cpu_pids)
    t0 = time.perf_counter()
    procs = [subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", fmt, u],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for u in urls]
    outs = [p.communicate()[0].decode() for p in procs]
    wall = time.perf_counter() - t0
    cpu = sum(_cpu(p) for p in cpu_pids) - cpu0
    errors = []
    for p, out in zip(procs, outs):
        parts = out.split()
        if p.returncode != 0 or len(parts) != 3 or parts[0] != "200" or int(parts[1]) != size:
            errors.append("curl exit %s: %r" % (p.returncode, out))
    if errors:
        raise RuntimeError("download batch failed: %s" % "; ".join(errors[:3]))
    total = size * len(urls)
    return {"clients": len(urls), "seconds": wall, "mb_per_s": total / 1e6 / wall,
            "server_cpu_seconds": cpu, "server_cpu_seconds_per_gb": cpu / (total / 1e9),
            "client_seconds": [float(o.split()[2]) for o in outs]}


def _cpu(pid: int) -> float:
    try:
        return mms.cpu_seconds(pid)
    except OSError:
        return 0.0


def wrk(url: str, seconds: int, connections: int, threads: int) -> dict:
    run = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds,
                          "--latency", url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=seconds + 60)
    out = run.stdout
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if run.returncode != 0 or not m:
        raise RuntimeError("wrk failed on %s:\n%s" % (url, out))
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    lat = {p: _ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M)}
    return {"requests_per_s": float(m.group(1)), "non_2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sum(int(x) for x in sock.groups()) if sock else 0,
            "latency_ms_p50": lat.get("50"), "latency_ms_p99": lat.get("99")}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[m.group(2)]


def raise_fd_limit(want: int) -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return {"before": soft, "hard": hard,
            "now": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}


def idle_hold(ag: Attachgate, file_size: int, connections: int, hold: float) -> dict:
    """Part 4."""
    rss: list[int] = []
    fds: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                rss.append(mms.proc_status(ag.pid)["VmRSS"])
                fds.append(len(os.listdir("/proc/%d/fd" % ag.pid)))
            except OSError:
                return
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    idle, connect_errors = [], []
    t0 = time.perf_counter()
    for _ in range(connections):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect((harness.LOOPBACK, ag.port))
            idle.append(s)
        except OSError as e:
            connect_errors.append(str(e))
            s.close()
    opened = time.perf_counter() - t0
    log("part 4: %d idle connections open in %.2f s (%d failed); holding %g s with downloads"
        % (len(idle), opened, len(connect_errors), hold))
    downloads, download_errors = [], []
    end = time.monotonic() + hold
    while time.monotonic() < end:
        try:
            downloads.append(curl_batch([ag.claim()], file_size, [ag.pid]))
        except Exception as e:  # counted, and the hold goes on
            download_errors.append(str(e))
    # Still there? A closed connection reads as EOF without blocking.
    closed = 0
    for s in idle:
        s.setblocking(False)
        try:
            if s.recv(1, socket.MSG_PEEK) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        s.setblocking(True)
    # And each still answers a request.
    answered, unanswered = 0, 0
    for s in idle:
        try:
            s.settimeout(10)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            data = b""
            while not data.endswith(b"ok\n") and len(data) < 4096:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            answered += data.startswith(b"HTTP/1.1 200")
            unanswered += not data.startswith(b"HTTP/1.1 200")
        except OSError:
            unanswered += 1
        finally:
            s.close()
    stop.set()
    sampler.join()
    status = mms.proc_status(ag.pid)
    return {"connections": connections, "opened": len(idle), "open_seconds": opened,
            "hold_seconds": hold, "connect_errors": len(connect_errors),
            "closed_by_server": closed, "answered_after_hold": answered,
            "unanswered_after_hold": unanswered,
            "downloads": len(downloads), "download_errors": len(download_errors),
            "download_error_samples": download_errors[:3],
            "download_mb_per_s": statistics.median(d["mb_per_s"] for d in downloads)
            if downloads else None,
            "errors": len(connect_errors) + closed + unanswered + len(download_errors),
            "web_rss_kb_max": max(rss) if rss else None,
            "web_rss_kb_min": min(rss) if rss else None, "web_vmhwm_kb": status["VmHWM"],
            "web_fds_max": max(fds) if fds else None}


def run(args, workdir: Path, parts: set[str]) -> dict:
    """Runs parts 3 and/or 4 ('downloads', 'connections')."""
    seed_link = Path(args.seed_link)
    if not os.access(seed_link, os.X_OK):
        raise SystemExit("no seed_link at %s: build the tests' fixture (cmake -DATTACHGATE_TESTS=ON"
                         " ... --target seed_link; see bench/README.md) or pass --seed-link"
                         % seed_link)
    fd_limit = raise_fd_limit(args.idle_connections + 1024)  # the server inherits it
    result: dict = {"fd_limit": fd_limit}
    cleanups = []
    try:
        size = args.file_mb * 1_000_000
        original = workdir / "bench.bin"
        log("parts 3-4: writing a %d MB file of random bytes" % args.file_mb)
        digest = random_file(original, size)
        # Idle connections must outlive the hold: the shipped 30 s timeout
        # would close them at the end of it.
        config = bench_config(workdir, Path(args.config).resolve(),
                              "%ds" % max(60, int(args.idle_seconds * 2)))
        agdir = workdir / "attachgate-web"
        agdir.mkdir()
        ag = Attachgate(agdir, config, seed_link)
        cleanups.append(ag.stop)
        ag.start()
        link = ag.seed(original, 100_000)
        status, page = http_get("http://%s:%d%s" % (harness.LOOPBACK, ag.port, ag.landing_path()))
        if status != 200 or link["file_id"].encode() not in page:
            raise RuntimeError("landing page answered %d without the file's button" % status)
        nginx = Nginx(workdir, os.cpu_count() or 1)
        cleanups.append(nginx.stop)
        nginx.www.mkdir(parents=True, exist_ok=True)
        os.link(original, nginx.www / "bench.bin")  # the same bytes, the same page cache
        (nginx.www / "landing.html").write_bytes(page)
        nginx.start()
        log("parts 3-4: attachgate web (pid %d) on :%d, nginx on :%d" % (ag.pid, ag.port, nginx.port))
        result.update({"file_bytes": size, "landing_page_bytes": len(page),
                       "server_timeout": "%ds" % max(60, int(args.idle_seconds * 2)),
                       "attachgate_web_threads": 4, "nginx_workers": nginx.workers})

        # Check the bytes once from each (untimed), which also warms the page cache.
        for name, url in (("attachgate", ag.claim()), ("nginx", nginx.url("bench.bin"))):
            st, n, h = hash_download(url)
            if (st, n, h) != (200, size, digest):
                raise RuntimeError("%s served %d, %d bytes, sha256 %s; want 200, %d, %s"
                                   % (name, st, n, h, size, digest))
        log("parts 3-4: both servers send the file's exact bytes")

        if "downloads" in parts:
            result["downloads"] = downloads(args, ag, nginx, size)
            result["landing"] = landing(args, ag, nginx)
        if "connections" in parts:
            result["connections"] = idle_hold(ag, size, args.idle_connections, args.idle_seconds)
            c = result["connections"]
            log("part 4: %d errors (%d connect, %d closed, %d unanswered, %d downloads failed); "
                "%d downloads at %.0f MB/s; web RSS %.1f-%.1f MiB, %s fds"
                % (c["errors"], c["connect_errors"], c["closed_by_server"],
                   c["unanswered_after_hold"], c["download_errors"], c["downloads"],
                   c["download_mb_per_s"] or 0, (c["web_rss_kb_min"] or 0) / 1024,
                   (c["web_rss_kb_max"] or 0) / 1024, c["web_fds_max"]))
        result["web_vmhwm_kb"] = mms.proc_status(ag.pid)["VmHWM"]
        # Every timed attachgate download must have been recorded complete.
        show = ag.service.cli("--json", "show", link["queue_id"])
        events = json.loads(show.stdout)["events"] if show.returncode == 0 else []
        result["complete_download_events"] = sum(
            1 for e in events if e["kind"] == "downloaded" and e["detail"].startswith("complete"))
        result["claims"] = ag.claims
        if result["complete_download_events"] != ag.claims:
            raise RuntimeError("%d downloads claimed but %d recorded complete"
                               % (ag.claims, result["complete_download_events"]))
        return result
    finally:
        for c in reversed(cleanups):
            try:
                c()
            except Exception as e:
                log("warning: cleanup failed: %s" % e)


def downloads(args, ag: Attachgate, nginx: Nginx, size: int) -> dict:
    out = {}
    for clients in (1, 8):
        runs = {"attachgate": [], "nginx": []}
        for r in range(args.download_rounds):
            order = ["attachgate", "nginx"] if r % 2 == 0 else ["nginx", "attachgate"]
            for side in order:
                if side == "attachgate":
                    urls = [ag.claim() for _ in range(clients)]  # claimed before the clock
                    res = curl_batch(urls, size, [ag.pid])
                else:
                    res = curl_batch([nginx.url("bench.bin")] * clients, size, nginx.worker_pids())
                runs[side].append(res)
                log("part 3: %d client(s) round %d/%d %-10s %7.0f MB/s (%.2f s; server CPU "
                    "%.2f s/GB)" % (clients, r + 1, args.download_rounds, side, res["mb_per_s"],
                                    res["seconds"], res["server_cpu_seconds_per_gb"]))
        med = {s: statistics.median(x["mb_per_s"] for x in runs[s]) for s in runs}
        out["%d_clients" % clients] = {
            "clients": clients, "attachgate_mb_per_s": med["attachgate"],
            "nginx_mb_per_s": med["nginx"], "ratio": med["attachgate"] / med["nginx"],
            "attachgate_cpu_s_per_gb": statistics.median(
                x["server_cpu_seconds_per_gb"] for x in runs["attachgate"]),
            "nginx_cpu_s_per_gb": statistics.median(
                x["server_cpu_seconds_per_gb"] for x in runs["nginx"]),
            "runs": runs}
    return out


def landing(args, ag: Attachgate, nginx: Nginx) -> dict:
    url_ag = "http://%s:%d%s" % (harness.LOOPBACK, ag.port, ag.landing_path())
    url_ng = nginx.url("landing.html")
    runs = {"attachgate": [], "nginx": []}
    for r in range(args.wrk_rounds):
        order = [("attachgate", url_ag), ("nginx", url_ng)]
        if r % 2:
            order.reverse()
        for side, url in order:
            res = wrk(url, args.wrk_seconds, args.wrk_connections, 2)
            if res["non_2xx"] or res["socket_errors"]:
                raise RuntimeError("wrk on %s: %d non-2xx, %d socket errors"
                                   % (side, res["non_2xx"], res["socket_errors"]))
            runs[side].append(res)
            log("part 3: landing page round %d/%d %-10s %8.0f requests/s (p50 %.2f ms, p99 %.2f ms)"
                % (r + 1, args.wrk_rounds, side, res["requests_per_s"], res["latency_ms_p50"] or 0,
                   res["latency_ms_p99"] or 0))
    med = {s: statistics.median(x["requests_per_s"] for x in runs[s]) for s in runs}
    return {"attachgate_requests_per_s": med["attachgate"], "nginx_requests_per_s": med["nginx"],
            "ratio": med["attachgate"] / med["nginx"], "seconds": args.wrk_seconds,
            "connections": args.wrk_connections, "wrk_threads": 2, "runs": runs}
