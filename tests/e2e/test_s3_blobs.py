"""attachgate's S3 blob back end against s3rver behind the SigV4 front.

blob_tool (blob_tool.cc) drives the real Store opened with
`[blobs] url = s3://...`, so what runs here is the C++ back end
(store/s3_backend.cc over libcurl's CURLOPT_AWS_SIGV4) as the milter and
the web server run it. The front refuses a bad signature or payload hash
with 403, so a client that signed wrongly would fail every test here.
Each test also asks for something that must fail or be refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import unittest
from pathlib import Path

from engines import EnginesTestCase, write_secret
from harness import wait_until

BLOB_TOOL = os.environ.get("BLOB_TOOL_BIN", "")
PREFIX = "blobs/"
MIB = 1 << 20


def v2_object_size(size: int) -> int:
    """Format v2: 80-byte header, then 64 KiB chunks with a 16-byte tag each
    (an empty blob is one empty chunk)."""
    chunks = max(1, -(-size // 65536))
    return 80 + size + 16 * chunks


class S3BlobsTest(EnginesTestCase):

    def setUp(self) -> None:
        super().setUp()
        if not BLOB_TOOL:
            self.fail("BLOB_TOOL_BIN is not set (run through ctest)")
        self.s3 = self.start_s3()
        self.state = self.workdir / "state"
        self.url = "s3://%s/%s?endpoint=%s&region=%s" % (
            self.s3.bucket, PREFIX.rstrip("/"), self.s3.endpoint, self.s3.region)

    def tool(self, *args: str, secret: str | None = None, url: str | None = None,
             expect: int = 0) -> tuple[dict, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["AWS_ACCESS_KEY_ID"] = self.s3.access_key
        env["AWS_SECRET_ACCESS_KEY"] = secret or self.s3.secret_key
        run = subprocess.run([BLOB_TOOL, str(self.state), url or self.url, *args], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        self.assertEqual(run.returncode, expect, "blob_tool %s: %s" % (args, run.stderr.decode()))
        out = json.loads(run.stdout) if run.stdout.strip() else {}
        return out, run.stderr.decode()

    def write(self, name: str, size: int) -> tuple[dict, bytes]:
        path = self.file_of_random_bytes(name, size)
        out, _ = self.tool("write", str(path))
        return out, path.read_bytes()

    def read(self, blob_id: str, *skip_length: int, **kw) -> tuple[dict, bytes]:
        out_path = self.workdir / ("read-" + blob_id)
        out, _ = self.tool("read", blob_id, str(out_path), *map(str, skip_length), **kw)
        return out, out_path.read_bytes() if out_path.exists() else b""

    def test_round_trip_of_edge_sizes_and_a_multipart_blob(self):
        for size in (0, 1, 65535, 65536, 65537, 20 * MIB + 12345):
            with self.subTest(size=size):
                info, data = self.write("plain-%d" % size, size)
                self.assertEqual(info["size"], size)
                self.assertEqual(info["sha256"], hashlib.sha256(data).hexdigest())
                self.assertEqual(self.s3.keys(PREFIX + info["id"]),
                                 {PREFIX + info["id"]: v2_object_size(size)})
                got, body = self.read(info["id"])
                self.assertEqual((got["size"], got["sha256"]), (size, info["sha256"]))
                self.assertEqual(body, data)
        self.assertEqual(self.s3.pending_uploads(), [])
        listed, _ = self.tool("list")
        self.assertEqual(len(listed["ids"]), 6)
        self.assertEqual(listed["unfinished"], [])  # s3rver: 501 for the listing, not an error
        # The 20 MiB blob went up in parts: the front logged part uploads.
        self.assertIn("partNumber=3", self.s3.front_log.read_text(errors="replace"))

    def test_reads_at_offsets_through_skip_are_the_plaintext_slice(self):
        info, data = self.write("ranged", 5 * MIB + 333)
        size = len(data)
        for skip, length in ((0, 10), (1, 65536), (65535, 2), (65536, 70000), (65537, 1),
                             (3 * MIB + 7, MIB), (size - 1, 5), (size, 5), (2 * MIB - 3, 0)):
            with self.subTest(skip=skip, length=length):
                got, body = self.read(info["id"], skip, length)
                self.assertEqual(body, data[skip:skip + length])
        _, err = self.tool("read", info["id"], str(self.workdir / "past"), str(size + 1),
                           expect=1)
        self.assertIn("skip past the end", err)

    def test_the_store_holds_only_ciphertext_in_the_file_format(self):
        info, data = self.write("secret", 200_000)
        stored = self.s3.get_object(PREFIX + info["id"])
        self.assertEqual(len(stored), v2_object_size(len(data)))
        self.assertTrue(stored.startswith(b"AGBLOB2\n"))
        self.assertNotIn(data[1000:1064], stored)
        # Byte-identical to a local blob: the same object under the file back
        # end (same master key) reads back the same plaintext.
        blobs = self.workdir / "local-blobs"
        (blobs / info["id"][:2]).mkdir(parents=True)
        (blobs / info["id"][:2] / info["id"]).write_bytes(stored)
        got, body = self.read(info["id"], url="file:" + str(blobs))
        self.assertEqual((got["sha256"], body), (info["sha256"], data))

    def test_a_wrong_secret_is_a_clear_error_and_stores_nothing(self):
        path = self.file_of_random_bytes("refused", 1000)
        _, err = self.tool("write", str(path), secret=self.s3.secret_key + "x", expect=1)
        self.assertIn("HTTP 403", err)
        self.assertIn(self.s3.endpoint, err)
        self.assertIn("check the access key and secret", err)
        self.assertEqual(self.s3.keys(), {})

    def test_credentials_from_a_file_and_never_from_the_url(self):
        creds = write_secret(self.workdir / "s3.credentials",
                             "aws_access_key_id = %s\naws_secret_access_key = %s\n"
                             % (self.s3.access_key, self.s3.secret_key))
        path = self.file_of_random_bytes("from-file", 70_000)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        run = subprocess.run([BLOB_TOOL, "--credentials", str(creds), str(self.state), self.url,
                              "write", str(path)], env=env, capture_output=True, timeout=60)
        self.assertEqual(run.returncode, 0, run.stderr.decode())
        self.assertEqual(len(self.s3.keys(PREFIX)), 1)
        creds.chmod(0o644)
        run = subprocess.run([BLOB_TOOL, "--credentials", str(creds), str(self.state), self.url,
                              "list"], env=env, capture_output=True, timeout=60)
        self.assertEqual(run.returncode, 1)
        self.assertIn(b"chmod 0600", run.stderr)
        run = subprocess.run([BLOB_TOOL, str(self.state), self.url, "list"], env=env,
                             capture_output=True, timeout=60)
        self.assertEqual(run.returncode, 1)
        self.assertIn(b"AWS_ACCESS_KEY_ID", run.stderr)

    def test_a_dropped_writer_leaves_no_upload_and_no_object(self):
        path = self.file_of_random_bytes("dropped", 20 * MIB)
        for written in (20 * MIB, MIB, 0):
            with self.subTest(written=written):
                self.tool("drop", str(path), str(written))
                self.assertEqual(self.s3.pending_uploads(), [])
                self.assertEqual(self.s3.keys(), {})
        # The front saw a multipart upload begun and aborted.
        log = self.s3.front_log.read_text(errors="replace")
        self.assertIn("aborted upload", log)

    def test_a_stopped_store_is_an_error_and_a_restart_serves_again(self):
        info, data = self.write("survivor", 100_000)
        self.s3.stop()
        path = self.file_of_random_bytes("while-down", 1000)
        _, err = self.tool("write", str(path), expect=1)
        self.assertIn(self.s3.endpoint, err)
        self.assertIn("check that the endpoint is up", err)
        _, err = self.tool("read", info["id"], str(self.workdir / "down"), expect=1)
        self.assertIn("check that the endpoint is up", err)
        self.s3.start()
        got, body = self.read(info["id"])
        self.assertEqual(body, data)
        after, _ = self.write("after-restart", 1000)
        self.assertIn(PREFIX + after["id"], self.s3.keys())

    def test_a_store_that_dies_mid_upload_is_an_error_and_no_object(self):
        path = self.file_of_random_bytes("cut", 200 * MIB)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=self.s3.access_key, AWS_SECRET_ACCESS_KEY=self.s3.secret_key)
        tool = subprocess.Popen([BLOB_TOOL, str(self.state), self.url, "write", str(path)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(tool.kill)
        self.assertTrue(wait_until(lambda: self.s3.pending_uploads() or tool.poll() is not None,
                                   60), "no multipart upload began")
        self.s3.kill()
        _, err = tool.communicate(timeout=120)
        self.assertEqual(tool.returncode, 1, err.decode())
        self.assertIn("check that the endpoint is up", err.decode())
        self.s3.start()
        self.assertEqual(self.s3.keys(), {})
        # The abort could not reach a dead store: the upload stays until a
        # lifecycle rule (or a store that lists uploads, at start-up) ends it.
        print("uploads left by a store that died mid-upload: %d" % len(self.s3.pending_uploads()))

    def test_an_object_deleted_behind_our_back_reads_as_missing(self):
        info, _ = self.write("doomed", 1000)
        self.s3.delete(PREFIX + info["id"])
        out, _ = self.tool("read", info["id"], str(self.workdir / "gone"), expect=3)
        self.assertEqual(out["missing"], True)
        # Not missing: a store that cannot be asked is an error, never "missing".
        self.s3.stop()
        out, err = self.tool("read", info["id"], str(self.workdir / "gone"), expect=1)
        self.assertNotIn("missing", out)
        self.s3.start()

    @unittest.skipIf(os.environ.get("ATTACHGATE_SANITIZED", "OFF").upper() in ("ON", "1", "TRUE"),
                     "ASan's quarantine holds freed memory: RSS says nothing there")
    def test_a_200_mib_blob_is_written_and_read_in_bounded_memory(self):
        path = self.file_of_random_bytes("big", 200 * MIB)
        info, _ = self.tool("write", str(path))
        self.assertGreater(info["max_rss_kib"], 0)
        self.assertLess(info["max_rss_kib"], 64 * 1024, "write peak RSS")
        got, _ = self.tool("read", info["id"], "/dev/null")
        self.assertEqual(got["sha256"], info["sha256"])
        self.assertLess(got["max_rss_kib"], 64 * 1024, "read peak RSS")
        print("200 MiB: write peak RSS %d KiB, read peak RSS %d KiB"
              % (info["max_rss_kib"], got["max_rss_kib"]))


if __name__ == "__main__":
    unittest.main()
