"""The engines of issue 15 are real, and each check made of them can fail.

PostgreSQL 15 from Debian and s3rver behind its SigV4 front
(tests/e2e/engines.py), started on loopback as the scale-out tests will
start them. Reached as attachgate's back ends will reach them: libpq (psql)
over TCP with a password from a file, and curl's --aws-sigv4, the same
libcurl signer as CURLOPT_AWS_SIGV4. Each test also asks for something
that must be refused (a wrong password, a wrong secret, a changed body),
so a front or server that let everything through would fail here.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import subprocess
import time
import unittest

from engines import EnginesTestCase, S3Server, write_secret
from harness import LOOPBACK, port_accepts
from sigv4_front import STREAMING, Credentials, chunk_signature, sign_headers

UNSIGNED = ["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]


class PostgresTest(EnginesTestCase):

    def test_sql_over_tcp_with_a_password_and_data_kept_across_restarts(self):
        started = time.monotonic()
        pg = self.start_postgres()
        print("\nPostgreSQL up in %.1f s at %s" % (time.monotonic() - started, pg.url))

        # The server runs as the unprivileged user, TCP on loopback only.
        uid = os.stat("/proc/%d" % pg.proc.pid).st_uid
        self.assertNotEqual(uid, 0, "postgres runs as root")
        self.assertEqual(pg.sql("SELECT inet_server_addr(), inet_server_port(), current_user"),
                         [[LOOPBACK, str(pg.port), "attachgate"]])
        self.assertEqual(pg.sql("SHOW fsync"), [["on"]], "fsync must stay on by default")
        self.assertEqual([p for p in pg.dir.rglob(".s.PGSQL.*")], [], "a unix socket was made")

        pg.sql("CREATE TABLE links (id bigint PRIMARY KEY, token_hash bytea NOT NULL);"
               "INSERT INTO links VALUES (1, '\\x00ff'), (2, '\\xabcd');")
        self.assertEqual(pg.sql("SELECT id, encode(token_hash, 'hex') FROM links ORDER BY id"),
                         [["1", "00ff"], ["2", "abcd"]])
        self.assertEqual(pg.password_file.read_text(), pg.password)
        self.assertEqual(pg.password_file.stat().st_mode & 0o077, 0, "password file is readable")

        # A wrong password is refused, and no table is seen through it.
        wrong = write_secret(self.workdir / "wrong.pgpass", "%s:%d:*:attachgate:%s\n"
                              % (LOOPBACK, pg.port, pg.password + "x"))
        run = pg.psql("SELECT count(*) FROM links", pgpass=wrong)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("password authentication failed", run.stderr)

        # Stopped: connections are refused. Started again: the rows are there.
        pg.stop()
        self.assertFalse(port_accepts(pg.port))
        run = pg.psql("SELECT 1")
        self.assertNotEqual(run.returncode, 0)
        self.assertRegex(run.stderr, "Connection refused|could not connect")
        pg.start()
        self.assertEqual(pg.sql("SELECT count(*) FROM links"), [["2"]])

        # Killed like a crash: a committed row survives recovery.
        pg.sql("INSERT INTO links VALUES (3, '\\x01')")
        pg.kill()
        self.assertFalse(port_accepts(pg.port))
        pg.start()
        self.assertEqual(pg.sql("SELECT id FROM links ORDER BY id"), [["1"], ["2"], ["3"]])
        print("PostgreSQL test done in %.1f s" % (time.monotonic() - started))

    def test_fsync_is_off_only_when_a_test_asks(self):
        started = time.monotonic()
        pg = self.start_postgres(fsync=False)
        self.assertEqual(pg.sql("SELECT current_setting('fsync'), "
                                "current_setting('synchronous_commit')"), [["off", "off"]])
        print("\nPostgreSQL without fsync up and checked in %.1f s" % (time.monotonic() - started))


class S3Test(EnginesTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.started = time.monotonic()
        self.s3 = self.start_s3()
        print("\ns3rver and its SigV4 front up in %.1f s at %s"
              % (time.monotonic() - self.started, self.s3.endpoint))

    def tearDown(self) -> None:
        print("S3 test done in %.1f s" % (time.monotonic() - self.started))

    def curl(self, *args: str, secret: str | None = None,
             data: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        """curl with SigV4; returns (status, response headers, body)."""
        headers = self.workdir / "curl-headers"
        run = subprocess.run(self.s3.curl_args(secret) + ["-D", str(headers), *args],
                             input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=60)
        if run.returncode != 0:
            raise ConnectionError("curl exit %d: %s" % (run.returncode, run.stderr.decode()))
        status, fields = 0, {}
        for line in headers.read_text(errors="replace").splitlines():
            if line.startswith("HTTP/"):
                status, fields = int(line.split()[1]), {}  # the last answer (after a 100)
            elif ":" in line:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
        return status, fields, run.stdout

    def put_file(self, key: str, size: int, **kw) -> bytes:
        path = self.file_of_random_bytes(key.replace("/", "_"), size)
        status, _, body = self.curl(*UNSIGNED, "-T", str(path), self.s3.url(key), **kw)
        self.assertEqual(status, 200, body)
        return path.read_bytes()

    def test_put_get_range_and_multipart_through_the_libcurl_signer(self):
        data = self.put_file("blobs/plain", 300_000)
        status, _, body = self.curl(*UNSIGNED, self.s3.url("blobs/plain"))
        self.assertEqual((status, body), (200, data))
        status, fields, body = self.curl(*UNSIGNED, "-r", "1000-1999", self.s3.url("blobs/plain"))
        self.assertEqual((status, body), (206, data[1000:2000]))
        self.assertEqual(fields["content-range"], "bytes 1000-1999/300000")

        # A body whose SHA-256 is signed; then one that differs from it.
        small = b"ciphertext only"
        signed = ["-H", "x-amz-content-sha256: " + hashlib.sha256(small).hexdigest()]
        status, _, body = self.curl(*signed, "-T", "-", self.s3.url("blobs/hashed"), data=small)
        self.assertEqual(status, 200, body)  # sent chunked, from stdin
        status, _, body = self.curl(*signed, "-T", "-", self.s3.url("blobs/changed"),
                                    data=small + b"!")
        self.assertEqual(status, 400)
        self.assertIn(b"XAmzContentSHA256Mismatch", body)

        # Multipart: initiate, two parts, complete. (libcurl 7.88 signs the
        # query as written: "uploads=" and parameters in sorted order.)
        key = "blobs/multipart"
        status, _, body = self.curl(*UNSIGNED, "-X", "POST", self.s3.url(key, "uploads="))
        self.assertEqual(status, 200, body)
        upload = re.search(rb"<UploadId>([^<]+)</UploadId>", body).group(1).decode()
        self.assertEqual(self.s3.pending_uploads(), [upload])
        parts, etags = [os.urandom(5 << 20), os.urandom(123_457)], []
        for number, part in enumerate(parts, 1):
            status, fields, body = self.curl(
                *UNSIGNED, "-T", "-", "-H", "Content-Length: %d" % len(part),
                self.s3.url(key, "partNumber=%d&uploadId=%s" % (number, upload)), data=part)
            self.assertEqual(status, 200, body)
            etags.append(fields["etag"])
        complete = ("<CompleteMultipartUpload>%s</CompleteMultipartUpload>" % "".join(
            "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>" % (n, e)
            for n, e in enumerate(etags, 1))).encode()
        status, _, body = self.curl(
            "-H", "x-amz-content-sha256: " + hashlib.sha256(complete).hexdigest(),
            "-X", "POST", "--data-binary", "@-", self.s3.url(key, "uploadId=" + upload),
            data=complete)
        self.assertEqual(status, 200, body)
        self.assertIn(b"CompleteMultipartUploadResult", body)
        status, _, body = self.curl(*UNSIGNED, self.s3.url(key))
        self.assertEqual(body, b"".join(parts))
        self.assertEqual(self.s3.pending_uploads(), [])

        # Aborted: no object, no parts left, and the id is gone.
        status, _, body = self.curl(*UNSIGNED, "-X", "POST", self.s3.url("blobs/aborted", "uploads="))
        upload = re.search(rb"<UploadId>([^<]+)</UploadId>", body).group(1).decode()
        part_query = "partNumber=1&uploadId=" + upload
        status, _, _ = self.curl(*UNSIGNED, "-T", "-", self.s3.url("blobs/aborted", part_query),
                                 data=b"x" * 1000)
        self.assertEqual(status, 200)
        self.assertEqual(self.s3.pending_uploads(), [upload])
        status, _, body = self.curl(*UNSIGNED, "-X", "DELETE",
                                    self.s3.url("blobs/aborted", "uploadId=" + upload))
        self.assertEqual(status, 204, body)
        self.assertEqual(self.s3.pending_uploads(), [])
        status, _, body = self.curl(*UNSIGNED, "-T", "-", self.s3.url("blobs/aborted", part_query),
                                    data=b"y")
        self.assertEqual(status, 404)
        self.assertIn(b"NoSuchUpload", body)

        self.assertEqual(self.s3.keys(), {"blobs/plain": 300_000, "blobs/hashed": len(small),
                                          "blobs/multipart": sum(map(len, parts))})
        self.s3.delete("blobs/hashed")
        self.assertNotIn("blobs/hashed", self.s3.keys())

    def test_wrong_secret_key_or_signature_is_refused(self):
        self.put_file("kept", 1000)
        before = self.s3.keys()
        path = self.file_of_random_bytes("big", 3 << 20)
        cases = [
            ("wrong secret", 403, b"SignatureDoesNotMatch",
             self.s3.curl_args(secret=self.s3.secret_key + "x") + UNSIGNED
             + ["-T", str(path), self.s3.url("forged")]),
            ("wrong secret, GET", 403, b"SignatureDoesNotMatch",
             self.s3.curl_args(secret="not-the-secret") + UNSIGNED + [self.s3.url("kept")]),
            ("unknown access key", 403, b"InvalidAccessKeyId",
             ["curl", "-sS", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user",
              "AKNOBODY:" + self.s3.secret_key] + UNSIGNED + [self.s3.url("kept")]),
            ("other region", 403, b"SignatureDoesNotMatch",
             ["curl", "-sS", "--aws-sigv4", "aws:amz:eu-west-1:s3", "--user",
              "%s:%s" % (self.s3.access_key, self.s3.secret_key)] + UNSIGNED
             + [self.s3.url("kept")]),
            ("unsigned", 403, b"AccessDenied", ["curl", "-sS", self.s3.url("kept")]),
            ("no x-amz-content-sha256 (libcurl 7.88 sends none itself)", 400, b"InvalidRequest",
             self.s3.curl_args() + [self.s3.url("kept")]),
            ("query not canonical (libcurl 7.88 signs ?uploads as written)", 403,
             b"SignatureDoesNotMatch",
             self.s3.curl_args() + UNSIGNED + ["-X", "POST", self.s3.url("forged", "uploads")]),
        ]
        for name, status, code, args in cases:
            with self.subTest(name):
                run = subprocess.run(args + ["-w", "\n%{http_code}"], stdout=subprocess.PIPE,
                                     timeout=60)
                body, _, got = run.stdout.rpartition(b"\n")
                self.assertEqual((int(got), code in body), (status, True), body)
        self.assertEqual(self.s3.keys(), before, "a refused request changed the bucket")
        self.assertEqual(self.s3.pending_uploads(), [])

    def test_streaming_payload_chunk_signatures_are_checked(self):
        """STREAMING-AWS4-HMAC-SHA256-PAYLOAD (as AWS SDKs send; libcurl does
        not): every chunk's signature is checked, and a forged one refused."""
        creds = Credentials(self.s3.access_key, self.s3.secret_key, self.s3.region)
        chunks = [os.urandom(64 << 10), os.urandom(1000), b""]

        def put(key: str, forge: bool) -> tuple[int, bytes]:
            path = "/%s/%s" % (self.s3.bucket, key)
            headers = sign_headers(creds, "PUT", path, {
                "host": "%s:%d" % (LOOPBACK, self.s3.port),
                "x-amz-decoded-content-length": str(sum(map(len, chunks))),
                "content-encoding": "aws-chunked"}, STREAMING)
            previous, body = headers["authorization"].rsplit("=", 1)[1], b""
            for i, data in enumerate(chunks):
                previous = chunk_signature(creds, headers["x-amz-date"], previous, data)
                sig = "0" * 64 if forge and i == 1 else previous
                body += b"%x;chunk-signature=%s\r\n%s\r\n" % (len(data), sig.encode(), data)
            conn = http.client.HTTPConnection(LOOPBACK, self.s3.port, timeout=30)
            try:
                conn.request("PUT", path, body=body, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.read()
            finally:
                conn.close()

        self.assertEqual(put("streamed", forge=False)[0], 200)
        status, body = put("forged", forge=True)
        self.assertEqual(status, 403)
        self.assertIn(b"chunk signature", body)
        self.assertEqual(self.s3.keys(), {"streamed": sum(map(len, chunks))})

    def test_stopped_refuses_connections_and_a_restart_keeps_objects(self):
        data = self.put_file("survivor", 70_000)
        self.s3.stop()
        self.assertFalse(port_accepts(self.s3.port))
        with self.assertRaisesRegex(ConnectionError, "curl exit 7"):
            self.curl(*UNSIGNED, self.s3.url("survivor"))
        self.s3.start()
        status, _, body = self.curl(*UNSIGNED, self.s3.url("survivor"))
        self.assertEqual((status, body), (200, data))
        self.s3.kill()
        self.assertFalse(port_accepts(self.s3.port))
        self.s3.start()
        self.assertEqual(self.s3.keys(), {"survivor": 70_000})


if __name__ == "__main__":
    unittest.main()
