"""The API for programs over real sockets: `attachgate web` on a loopback
port with an [api] key made by `attachgate api-key`, curl as the program
(multipart POST, raw PUT, Expect: 100-continue, chunked bodies), and
Python's http.client for reads, deletes and a client that sends its whole
body without waiting. The recipient then opens the link the API gave.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import subprocess
import time
import unittest
import uuid
from pathlib import Path

from harness import DEFAULT_CONFIG, ENGINES, E2ETestCase, LOOPBACK, proc_status
from recipient import Recipient

SANITIZED = os.environ.get("ATTACHGATE_SANITIZED", "OFF").upper() in ("ON", "1", "TRUE")
MAX_UPLOAD = 70_000_000  # [http] max_upload in the test's config



class ApiTest(E2ETestCase):

    def setUp(self) -> None:
        super().setUp()
        made = subprocess.run([os.environ.get("ATTACHGATE_BIN", "attachgate"), "--json", "api-key"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(made.returncode, 0, made.stderr.decode())
        key = json.loads(made.stdout)
        self.key, key_hash = key["key"], key["hash"]
        self.assertTrue(key_hash.startswith("sha256:"))
        config = DEFAULT_CONFIG.read_text()
        for old, new in (('keys = []', 'keys = ["%s"]' % key_hash),
                         ('max_upload = "1GB"', 'max_upload = "70MB"')):
            self.assertIn(old, config)
            config = config.replace(old, new, 1)
        self.web = self.start_web(config_text=config)
        self.base = self.web.public_url

    # -- clients -----------------------------------------------------------

    def curl(self, *args: str, key: str | None = "") -> tuple[int, dict]:
        """curl with the test's key (or `key`); (status, JSON body)."""
        out = self.workdir / ("curl-%s.json" % uuid.uuid4().hex)
        headers = [] if key is None else ["-H", "X-API-Key: " + (key or self.key)]
        run = subprocess.run(["curl", "-sS", "-o", str(out), "-w", "%{http_code}", *headers, *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        self.assertEqual(run.returncode, 0, "curl failed: %s" % run.stderr.decode())
        status = int(run.stdout)
        body = out.read_bytes()
        return status, (json.loads(body) if body else {})

    def api(self, method: str, path: str, body: bytes | None = None,
            headers: dict | None = None) -> tuple[int, dict]:
        conn = http.client.HTTPConnection(LOOPBACK, self.web.web_port, timeout=120)
        try:
            conn.request(method, path, body=body, headers={"X-API-Key": self.key, **(headers or {})})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 204:
                self.assertEqual(resp.getheader("Content-Type"), "application/json", data[:200])
            return resp.status, (json.loads(data) if data else {})
        finally:
            conn.close()

    def random_file(self, name: str, size: int) -> Path:
        path = self.workdir / name
        with open(path, "wb") as f:
            left = size
            while left > 0:
                f.write(os.urandom(min(left, 1 << 20)))
                left -= min(left, 1 << 20)
        return path

    def stored(self) -> tuple[int, list[str]]:
        """(files in the catalog, blob store temp files)."""
        listed = self.web.cli("--json", "list")
        self.assertEqual(listed.returncode, 0, listed.stderr.decode())
        files = sum(m["files"] for m in json.loads(listed.stdout))
        tmp = self.web.state_dir / "blobs" / "tmp"
        return files, sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []

    def download(self, url: str, file_id: str, code: str | None = None):
        token = url.rsplit("/", 1)[1]
        return Recipient(self.base).download(token, file_id, code)

    # -- the tests ---------------------------------------------------------

    def test_multipart_upload_then_download_read_and_delete(self):
        src = self.random_file("report.pdf", 3_000_000)
        digest = hashlib.sha256(src.read_bytes()).hexdigest()
        status, made = self.curl("-F", "file=@%s;type=application/pdf" % src,
                                 "-F", "expiration_days=2", "-F", "max_downloads=1",
                                 self.base + "/api/v1/files")
        self.assertEqual(status, 201, made)
        self.assertEqual(made["size"], 3_000_000)
        self.assertEqual(made["sha256"], digest)
        self.assertEqual(made["max_downloads"], 1)
        self.assertTrue(made["download_url"].startswith(self.base + "/d/"), made)
        self.assertRegex(made["expires_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

        claimed, got = self.download(made["download_url"], made["id"])
        self.assertEqual(claimed.status, 303, claimed.text[:300])
        self.assertEqual(got.status, 200)
        self.assertEqual(got.sha256, digest)
        again, _ = self.download(made["download_url"], made["id"])
        self.assertEqual(again.status, 410)

        status, shown = self.api("GET", "/api/v1/files/" + made["id"])
        self.assertEqual(status, 200, shown)
        self.assertEqual(shown["status"], "used_up")
        self.assertEqual(shown["downloads"], 1)
        kinds = [e["kind"] for e in shown["events"]]
        self.assertEqual(kinds[0], "offloaded")
        self.assertIn("downloaded", kinds)

        conn = http.client.HTTPConnection(LOOPBACK, self.web.web_port, timeout=60)
        conn.request("DELETE", "/api/v1/files/" + made["id"], headers={"X-API-Key": self.key})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 204)
        self.assertIsNone(resp.getheader("Content-Length"), "204 must not carry Content-Length")
        self.assertEqual(resp.read(), b"")
        conn.close()
        status, shown = self.api("GET", "/api/v1/files/" + made["id"])
        self.assertEqual(shown["status"], "revoked")

    def test_put_with_code_then_delete_makes_the_link_410(self):
        src = self.random_file("data.bin", 200_000)
        status, made = self.curl("-T", str(src), "-H", "Content-Type: application/zip",
                                 self.base + "/api/v1/files/q3%20figures.zip?max_downloads=3"
                                 "&access_code=Open-Sesame-42")
        self.assertEqual(status, 201, made)
        self.assertEqual(made["filename"], "q3 figures.zip")
        self.assertTrue(made["access_code_required"])
        wrong, _ = self.download(made["download_url"], made["id"], "nope-nope")
        self.assertEqual(wrong.status, 403)
        claimed, got = self.download(made["download_url"], made["id"], "Open-Sesame-42")
        self.assertEqual(got.status, 200, claimed.text[:300])
        self.assertEqual(got.sha256, hashlib.sha256(src.read_bytes()).hexdigest())

        status, _ = self.api("DELETE", "/api/v1/files/" + made["id"])
        self.assertEqual(status, 204)
        landing = Recipient(self.base).get("/d/" + made["download_url"].rsplit("/", 1)[1])
        self.assertEqual(landing.status, 410)
        self.assertIn("withdrawn", landing.text)

    def test_no_key_or_a_wrong_key_is_401(self):
        src = self.random_file("a.txt", 1000)
        for key in (None, "ag_not-a-key"):
            status, err = self.curl("-F", "file=@%s" % src, self.base + "/api/v1/files", key=key)
            self.assertEqual(status, 401)
            self.assertEqual(err["status"], 401)
            self.assertIn("X-API-Key", err["message"])
            status, err = self.curl(self.base + "/api/v1/files/0011223344556677", key=key)
            self.assertEqual(status, 401)
        self.assertEqual(self.stored(), (0, []))

    def test_over_the_limit_is_413_and_nothing_is_kept(self):
        big = self.random_file("big.bin", MAX_UPLOAD + 1_000_000)
        # Declared length: curl waits for 100-continue and gets 413 instead.
        status, err = self.curl("-T", str(big), self.base + "/api/v1/files/big.bin")
        self.assertEqual(status, 413, err)
        self.assertIn("limit", err["message"])
        # Chunked: no length up front, refused as the count passes the limit.
        status, err = self.curl("-T", str(big), "-H", "Transfer-Encoding: chunked",
                                self.base + "/api/v1/files/big.bin")
        self.assertEqual(status, 413, err)
        # A multipart form whose file is over the limit.
        status, err = self.curl("-F", "file=@%s" % big, self.base + "/api/v1/files")
        self.assertEqual(status, 413, err)
        # A client that sends a too-large body without waiting still reads the answer.
        conn = http.client.HTTPConnection(LOOPBACK, self.web.web_port, timeout=60)
        conn.putrequest("PUT", "/api/v1/files/eager.bin")
        conn.putheader("X-API-Key", self.key)
        conn.putheader("Content-Length", str(MAX_UPLOAD + 1))
        conn.endheaders()
        try:
            conn.send(b"x" * 65536)
        except OSError:
            pass
        resp = conn.getresponse()
        self.assertEqual(resp.status, 413)
        self.assertEqual(json.loads(resp.read())["status"], 413)
        conn.close()
        self.assertEqual(self.stored(), (0, []))

    def test_a_refused_client_that_trickles_is_closed_soon(self):
        # 401 without reading the body, then a lingering close: bounded in
        # time in all, however slowly the client keeps sending.
        sock = socket.create_connection((LOOPBACK, self.web.web_port), timeout=30)
        sock.sendall(b"PUT /api/v1/files/x.bin HTTP/1.1\r\nHost: t\r\n"
                     b"Content-Length: 1000000000\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        self.assertTrue(head.startswith(b"HTTP/1.1 401"), head[:100])
        start = time.monotonic()
        closed = False
        while time.monotonic() - start < 20 and not closed:
            try:
                sock.sendall(b"x")
                sock.settimeout(0.5)
                closed = sock.recv(4096) == b""
            except socket.timeout:
                pass
            except OSError:
                closed = True
        elapsed = time.monotonic() - start
        sock.close()
        self.assertTrue(closed, "the server still held the connection after 20 s")
        self.assertLess(elapsed, 10)

    def test_malformed_chunks_get_400_and_headers_their_own_limit(self):
        sock = socket.create_connection((LOOPBACK, self.web.web_port), timeout=30)
        sock.sendall(b"PUT /api/v1/files/x.bin HTTP/1.1\r\nHost: t\r\nX-API-Key: "
                     + self.key.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\nzz-not-a-size\r\n")
        reply = b""
        while b"\r\n\r\n" not in reply:
            data = sock.recv(4096)
            if not data:
                break
            reply += data
        sock.close()
        self.assertTrue(reply.startswith(b"HTTP/1.1 400"), reply[:100])
        self.assertEqual(self.stored(), (0, []))
        # [http] max_request_header_size is 16 KiB: 12 KiB of headers pass,
        # 20 KiB get 431 (not a 400 from a smaller read buffer).
        client = Recipient(self.base)
        self.assertEqual(client.get("/healthz", headers={"X-Pad": "p" * 12_000}).status, 200)
        self.assertEqual(client.get("/healthz", headers={"X-Pad": "p" * 20_000}).status, 431)

    def test_bad_terms_are_422_and_unknown_ids_404(self):
        src = self.random_file("a.txt", 1000)
        for field in ("expiration_days=365", "max_downloads=0", "access_code=123",
                      "expire_days=3"):
            status, err = self.curl("-F", "file=@%s" % src, "-F", field, self.base + "/api/v1/files")
            self.assertEqual(status, 422, field)
            self.assertIn(field.split("=")[0], err["message"])
        status, err = self.api("GET", "/api/v1/files/00112233aabbccdd")
        self.assertEqual(status, 404)
        self.assertEqual(err["error"], "Not Found")
        status, err = self.api("DELETE", "/api/v1/files/00112233aabbccdd")
        self.assertEqual(status, 404)
        self.assertEqual(self.stored(), (0, []))

    @unittest.skipIf(ENGINES, "counts the local blob directory; engines.s3_blobs bounds S3's memory")
    def test_large_upload_streams_with_flat_memory(self):
        size = 64 * 1024 * 1024
        src = self.random_file("large.bin", size)
        digest = hashlib.sha256(src.read_bytes()).hexdigest()
        worker = self.web.web_pid()
        before = proc_status(worker, "VmHWM")
        status, made = self.curl("-T", str(src), self.base + "/api/v1/files/large.bin")
        self.assertEqual(status, 201, made)
        self.assertEqual(made["sha256"], digest)
        self.assertEqual(made["size"], size)
        growth_mib = (proc_status(worker, "VmHWM") - before) / 1024
        print("\n64 MiB upload: web worker peak RSS %.1f MiB before, growth %.1f MiB"
              % (before / 1024, growth_mib))
        if not SANITIZED:  # ASan's quarantine makes RSS meaningless
            self.assertLess(growth_mib, 32)
        # The stored blob is encrypted: no run of the plain bytes on disk.
        blobs = [p for p in (self.web.state_dir / "blobs").rglob("*") if p.is_file()]
        self.assertEqual(len(blobs), 1)
        with open(src, "rb") as f:
            sample = f.read(4096)
        self.assertNotIn(sample[:64], blobs[0].read_bytes()[:1 << 20])


if __name__ == "__main__":
    unittest.main()
