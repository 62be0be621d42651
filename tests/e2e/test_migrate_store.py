"""`attachgate migrate-store`: an installation on the embedded defaults
(SQLite and blob files under state_dir) with 100 offloaded mails from the
test's Postfix is moved to PostgreSQL 15 and S3 (s3rver behind the SigV4
front, engines.py).

The first run is killed (SIGKILL) once its progress shows blobs going up;
the second finishes the job without copying a row or a blob twice. The
row counts of the new catalog match the old one's, the source's catalog
file and blob directory are byte for byte as they were, and a second
attachgate on the new back ends, with the same master key file, serves the
links from the original mails byte for byte. Before that, a destination
blob changed behind attachgate's back is reported by the check (exit 1),
and deleting it and running again copies it anew.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import unittest
from pathlib import Path

from engines import EnginesMixin, write_secret
from harness import LOOPBACK, SOURCE_DIR, Attachment, Milter, free_port, sha256_file, swaks
from recipient import Recipient, file_buttons
from test_download import MailDownloadTestCase
from test_milter import EXTERNAL, SENDER

MESSAGES = 100
PREFIX = "moved"
TABLES = ["messages", "recipients", "files", "links", "link_files", "events", "downloads",
          "download_files", "outbox", "watch_position", "webhook_cursor", "key_check"]


def tree_hashes(path: Path) -> dict[str, str]:
    """SHA-256 of a file, or of every file under a directory, by path."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


class MigrateStoreTest(EnginesMixin, MailDownloadTestCase):

    def sqlite_counts(self) -> dict[str, int]:
        db = sqlite3.connect("file:%s?mode=ro" % (self.milter.state_dir / "catalog.db"), uri=True)
        try:
            return {t: db.execute("SELECT count(*) FROM %s" % t).fetchone()[0] for t in TABLES}
        finally:
            db.close()

    def pg_counts(self) -> dict[str, int]:
        return {t: int(self.pg.sql("SELECT count(*) FROM %s" % t)[0][0]) for t in TABLES}

    def migrate_args(self, to_catalog: str | None = None) -> list[str]:
        # Options before and after the subcommand, as an admin may write them.
        return [str(self.milter.bin), "--config", str(self.milter.config),
                "--state-dir", str(self.milter.state_dir), "migrate-store",
                "--to-catalog", to_catalog or self.pg.url,
                "--to-catalog-password-file", str(self.pg.password_file),
                "--to-blobs", self.blobs_url, "--to-blobs-credentials-file", str(self.credentials),
                "--batch-rows", "40"]

    def migrate(self, *extra: str, to_catalog: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(self.migrate_args(to_catalog) + list(extra), cwd=SOURCE_DIR,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=600)

    def migrate_killed_halfway(self) -> str:
        """Runs migrate-store and SIGKILLs it once 20 blobs are through;
        returns what it printed on stderr until then."""
        seen = []
        with subprocess.Popen(self.migrate_args(), cwd=SOURCE_DIR, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) as proc:
            try:
                for line in proc.stderr:
                    seen.append(line)
                    m = re.search(r"blobs (\d+)/(\d+)", line)
                    if m and int(m.group(1)) >= 20:
                        os.kill(proc.pid, signal.SIGKILL)
                        break
            finally:
                if proc.poll() is None and not seen:
                    proc.kill()
                proc.wait(30)
        text = "".join(seen)
        self.assertEqual(proc.returncode, -signal.SIGKILL,
                         "migrate-store was to be killed halfway, but it ended first:\n" + text)
        return text

    def test_moves_100_mails_resumes_after_a_kill_and_the_links_work_on_the_new_back_ends(self):
        # An installation on the embedded defaults, with 100 offloaded mails.
        sent = []
        for i in range(MESSAGES):
            data = self.file_of_random_bytes("file%03d.pdf" % i, 120_000 + 97 * i,
                                             prefix=b"%PDF-1.4\n")
            result = swaks(self.postfix.port, SENDER, [EXTERNAL], body="Hello Bob,\nfile %d." % i,
                           subject="File %d" % i, attachments=[Attachment(data, "application/pdf")])
            sent.append((self.assertAccepted(result), data))
        for queue_id, _ in sent:
            self.postfix.wait_for_delivery(queue_id)
        # attachgate is stopped while it moves.
        self.milter.stop()
        before = self.sqlite_counts()
        self.assertEqual(before["files"], MESSAGES, before)
        state = self.milter.state_dir
        source = {**tree_hashes(state / "catalog.db"), **tree_hashes(state / "blobs")}
        self.assertEqual(len(source), 1 + MESSAGES)

        self.pg = self.start_postgres(fsync=False)
        self.s3 = self.start_s3()
        self.credentials = write_secret(self.workdir / "s3.credentials",
                                        "%s\n%s\n" % (self.s3.access_key, self.s3.secret_key))
        self.blobs_url = "s3://%s/%s?endpoint=%s&region=%s" % (
            self.s3.bucket, PREFIX, self.s3.endpoint, self.s3.region)

        # A catalog that does not answer: a clear error, nothing else done.
        nowhere = "postgresql://attachgate@%s:%d/attachgate?sslmode=disable" % (LOOPBACK, free_port())
        run = self.migrate(to_catalog=nowhere)
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn("destination catalog", run.stderr)
        self.assertIn("Check --to-catalog", run.stderr)
        self.assertEqual(self.s3.keys(), {})

        # Killed once halfway through the blobs: the rows are all there, some blobs.
        first = self.migrate_killed_halfway()
        self.assertIn("migrate-store: messages: %d rows (%d copied, 0 already there)"
                      % (MESSAGES, MESSAGES), first)
        uploaded = len(self.s3.keys(PREFIX + "/"))
        print("\nkilled after %d of %d blobs" % (uploaded, MESSAGES))
        self.assertTrue(20 <= uploaded < MESSAGES, uploaded)

        # Run again: it finishes without copying anything twice, and checks.
        second = self.migrate("--json")
        self.assertEqual(second.returncode, 0, second.stderr[-3000:])
        summary = json.loads(second.stdout)
        self.assertTrue(summary["ok"], summary)
        self.assertEqual(summary["problems"], [])
        blobs = summary["blobs"]
        self.assertEqual(blobs["total"], MESSAGES)
        self.assertEqual(blobs["already_there"], uploaded)
        self.assertEqual(blobs["copied"], MESSAGES - uploaded)
        self.assertEqual(blobs["verified"], MESSAGES)
        for table in summary["tables"]:
            self.assertEqual(table["copied"], 0, table)
            self.assertEqual(table["already_there"], table["source_rows"], table)
            self.assertEqual(table["destination_rows"], before[table["table"]], table)
        self.assertIn("migrate-store: blobs %d/%d" % (MESSAGES, MESSAGES), second.stderr)
        self.assertEqual(self.pg_counts(), before)
        self.assertEqual(self.pg.sql("SELECT count(DISTINCT blob_id) FROM files")[0][0], str(MESSAGES))
        self.assertEqual(len(self.s3.keys(PREFIX + "/")), MESSAGES)
        self.assertEqual(self.s3.pending_uploads(), [])

        # The source is as it was, to the byte.
        self.assertEqual({**tree_hashes(state / "catalog.db"), **tree_hashes(state / "blobs")},
                         source)

        # A destination blob changed behind attachgate's back is found; and
        # as the message says, deleting it and running again mends it.
        [[blob_id]] = self.pg.sql("SELECT blob_id FROM files ORDER BY id LIMIT 1 OFFSET 5")
        [stored] = list(self.s3.data.rglob("%s._S3rver_object" % blob_id))
        raw = bytearray(stored.read_bytes())
        raw[len(raw) // 2] ^= 0x01
        stored.write_bytes(bytes(raw))
        third = self.migrate("--json")
        self.assertEqual(third.returncode, 1, third.stderr[-3000:])
        summary = json.loads(third.stdout)
        self.assertFalse(summary["ok"])
        self.assertEqual(len(summary["problems"]), 1, summary["problems"])
        self.assertIn("blob %s differs in the destination" % blob_id, summary["problems"][0])
        self.assertIn("blob %s differs" % blob_id, third.stderr)
        self.assertEqual(summary["blobs"]["verified"], MESSAGES - 1)
        self.s3.delete("%s/%s" % (PREFIX, blob_id))
        fourth = self.migrate("--json")
        self.assertEqual(fourth.returncode, 0, fourth.stderr[-3000:])
        summary = json.loads(fourth.stdout)
        self.assertEqual((summary["blobs"]["copied"], summary["blobs"]["verified"]), (1, MESSAGES))

        # attachgate on the new back ends, with the same master key file,
        # serves the links of the original mails.
        node = self.start_node()
        client = Recipient(node.public_url)
        for i in (0, 1, 42, 77, MESSAGES - 1):
            queue_id, data = sent[i]
            token = self.link_from_mail(queue_id)
            page = client.get("/d/" + token)
            self.assertEqual(page.status, 200, page.text[:300])
            [button] = file_buttons(page.text)
            claimed, got = client.download(token, button["value"])
            self.assertEqual(claimed.status, 303, claimed.text[:300])
            self.assertEqual(got.status, 200)
            self.assertEqual(got.sha256, sha256_file(data), "message %d" % i)
        node.stop()

        # Now the new catalog has moved on (downloads counted there): the
        # old installation is no longer a beginning of it, and another run
        # says so rather than mixing the two.
        late = self.migrate()
        self.assertEqual(late.returncode, 2, late.stderr[-3000:])
        self.assertIn("already holds data that is not this installation's", late.stderr)

    def start_node(self) -> Milter:
        """`attachgate web` with [catalog] and [blobs] on the new back ends."""
        text = self.milter.config.read_text()
        for section in ("[catalog]", "[blobs]"):
            self.assertIn("\n%s\n" % section, text)
        text = text.replace("\n[blobs]\n", "\n[blobs]\nurl = %s\ncredentials_file = %s\n" % (
            json.dumps(self.blobs_url), json.dumps(str(self.credentials))))
        text = text.replace("\n[catalog]\n", "\n[catalog]\nurl = %s\npassword_file = %s\n" % (
            json.dumps(self.pg.url), json.dumps(str(self.pg.password_file))))
        key = self.milter.state_dir / "master.key"
        config = self.workdir / "moved.toml"
        config.write_text("master_key_file = %s\n" % json.dumps(str(key)) + text)
        (self.workdir / "moved").mkdir()
        node = Milter(self.workdir / "moved", self.milter.policy, role="web", config=config)
        self.addCleanup(node.stop)
        node.start()
        return node


if __name__ == "__main__":
    unittest.main()
