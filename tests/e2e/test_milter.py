"""attachgate's milter through a real Postfix: mail sent with swaks to a
private Postfix whose smtpd_milters is `attachgate milter`, relayed to an
smtp-sink. The tests read what the sink got, and follow the catalog
(`attachgate show`, `attachgate export`) back to the stored blobs.

Each test starts its own sink, milter and Postfix in its own temp dir (see
harness.py), so tests may run in parallel with each other and with other
builds' runs. The policy below keeps attachments small so the tests are fast;
only the crash tests send a large message, so that the kill lands while the
milter is busy with it.
"""

from __future__ import annotations

import base64
import calendar
import html.parser
import json
import os
import re
import signal
import sqlite3
import time
import unittest
from pathlib import Path

from harness import (Attachment, E2ETestCase, Milter, SwaksSession, mime_message,
                     postfix_received_re, sha256_file, swaks, wait_until, write_data_file)

SENDER = "alice@example.org"
EXTERNAL = "bob@example.net"
EXTERNAL_2 = "carol@example.com"
INTERNAL = "dave@example.org"

PER_RECIPIENT_DOWNLOADS = 3

POLICY = """\
# Test policy: example.org is internal; attachments over 100 KB to anyone
# outside are offloaded; "[secure]" asks for an access code and 3 days.
on_error = "tempfail"
internal_domains = ["example.org"]

[defaults]
expires = "7d"
max_downloads = %d

[[rule]]
name = "secure-tag"
subject_tag = "[secure]"
action = "offload"
access_code = true
expires = "3d"

[[rule]]
name = "internal-only"
recipients = "all_internal"
action = "keep"

[[rule]]
name = "large-to-external"
recipients = "any_external"
min_size = "100KB"
action = "offload"
""" % PER_RECIPIENT_DOWNLOADS

# A policy that is valid but different: only attachments over 1 MB go.
POLICY_1MB = POLICY.replace('min_size = "100KB"', 'min_size = "1MB"')

# Valid TOML that the policy loader must refuse as a whole: if it took the
# first rule and skipped the bad one, every attachment would be kept.
POLICY_BROKEN = """\
on_error = "tempfail"
internal_domains = ["example.org"]

[[rule]]
name = "keep-everything"
action = "keep"

[[rule]]
name = "bad-action"
action = "shred"
"""

TOKEN = r"[A-Za-z0-9_-]{43}"  # 32 random bytes, base64url without padding


class _LinkCollector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])


def html_links(text: str) -> tuple[list[str], list[str]]:
    """(a href values, img src values) as a browser reads them, entities undone."""
    collector = _LinkCollector()
    collector.feed(text)
    collector.close()
    return collector.hrefs, collector.images


def leaf_parts(msg) -> list:
    return [p for p in msg.walk() if not p.is_multipart()]


def body_text(part) -> str:
    """A text part's content, transfer encoding and charset undone."""
    return part.get_content()


class MilterTestCase(E2ETestCase):
    """Starts sink, milter and Postfix; checks the milter's log at the end."""

    def start_stack(self, policy: str = POLICY, role: str = "milter"):
        """Sink, attachgate (`milter`, or `run` to serve links too), Postfix."""
        self.sink = self.start_sink()
        self.milter = self.start_milter(policy, role)
        self.addCleanup(self.check_stopped_cleanly, self.milter)
        self.postfix = self.start_postfix(milter=self.milter.postfix_spec, sink=self.sink)

    # ---- sending and reading back ------------------------------------------

    def send(self, recipients: list[str], **kw) -> str:
        """Send with swaks, wait until Postfix relayed it; returns the queue id."""
        result = swaks(self.postfix.port, SENDER, recipients, **kw)
        queue_id = self.assertAccepted(result)
        self.postfix.wait_for_delivery(queue_id)
        return queue_id

    def show(self, queue_id: str) -> dict:
        run = self.milter.cli("--json", "show", queue_id)
        self.assertEqual(run.returncode, 0, "attachgate show %s failed: %s"
                         % (queue_id, run.stderr.decode(errors="replace")))
        return json.loads(run.stdout)

    def export(self, file_id: str) -> Path:
        out = self.workdir / ("export-%s" % file_id)
        run = self.milter.cli("export", file_id, "-o", str(out))
        self.assertEqual(run.returncode, 0, "attachgate export %s failed: %s"
                         % (file_id, run.stderr.decode(errors="replace")))
        return out

    def assertOffloadHeader(self, msg, count: int) -> str:
        """The relayed message has one X-Attachgate header for count files;
        returns the message id it names."""
        values = msg.get_all("X-Attachgate") or []
        self.assertEqual(len(values), 1, "want one X-Attachgate header, got %r" % values)
        m = re.fullmatch(r"offloaded=(\d+); message=(\S+)", str(values[0]).strip())
        self.assertIsNotNone(m, "malformed X-Attachgate: %r" % values[0])
        self.assertEqual(int(m.group(1)), count)
        return m.group(2)

    def assertNoAttachments(self, msg, allowed=("text/plain", "text/html")) -> None:
        for part in leaf_parts(msg):
            self.assertIn(part.get_content_type(), allowed,
                          "an attachment part is left: %s" % part.get_content_type())
            self.assertIsNone(part.get_filename(), "a part with a file name is left")
            self.assertNotEqual(part.get_content_disposition(), "attachment")

    def download_links(self, text: str) -> list[str]:
        return re.findall(re.escape(self.milter.public_url) + r"/d/(" + TOKEN + r")(?![A-Za-z0-9_-])",
                          text)

    def assertFileMatches(self, record: dict, original: Path, name: str) -> None:
        """A catalog file record describes original, and its blob decrypts to it."""
        self.assertEqual(record["filename"], name)
        self.assertEqual(record["size"], original.stat().st_size)
        self.assertEqual(record["state"], "stored")
        want = sha256_file(original)
        self.assertEqual(record["sha256"], want, "catalog sha256 of %s" % name)
        exported = self.export(record["id"])
        self.assertEqual(sha256_file(exported), want, "decrypted blob of %s" % name)

    # ---- the store on disk -------------------------------------------------

    def catalog_blob_ids(self) -> set[str]:
        db = self.milter.state_dir / "catalog.db"
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
        try:
            # 'missing' rows count: reconciliation marks a row whose blob vanished.
            return {row[0] for row in con.execute("SELECT blob_id FROM files WHERE state != 'purged'")}
        finally:
            con.close()

    def blob_files(self) -> tuple[set[str], list[str]]:
        """(blob ids stored under state/blobs, any other files there)."""
        blobs, other = set(), []
        root = self.milter.state_dir / "blobs"
        for path in root.rglob("*"):
            if path.is_dir():
                continue
            rel = path.relative_to(root)
            if len(rel.parts) == 2 and re.fullmatch(r"[0-9a-f]{32}", rel.name) \
                    and rel.name.startswith(rel.parts[0]):
                blobs.add(rel.name)
            else:
                other.append(str(rel))
        return blobs, other

    def assertStoreConsistent(self) -> None:
        """state/blobs holds exactly the blobs the catalog lists, no temp
        files; no spool file is left either."""
        blobs, other = self.blob_files()
        self.assertEqual(other, [], "unfinished or stray files under state/blobs")
        self.assertEqual(blobs, self.catalog_blob_ids(), "blob files differ from the catalog")
        spool = self.milter.state_dir / "spool"
        left = [p.name for p in spool.iterdir()] if spool.is_dir() else []
        self.assertEqual(left, [], "spool files left behind")


class OffloadTest(MilterTestCase):

    def test_pdf_attachment_is_offloaded(self):
        """(a) One PDF to an external recipient: the relayed mail carries a
        link instead, and the catalog leads to a blob with the same bytes."""
        self.start_stack()
        pdf = self.file_of_random_bytes("report.pdf", 300_000, prefix=b"%PDF-1.4\n",
                                        suffix=b"\n%%EOF\n")
        queue_id = self.send([EXTERNAL], body="Hello Bob,\nthe report is attached.",
                             subject="Quarterly report",
                             attachments=[Attachment(pdf, "application/pdf")])

        got = self.sink.find(queue_id)
        self.assertEqual(got.rcpt_to, [EXTERNAL])
        msg = got.parse()
        self.assertEqual(msg["Subject"], "Quarterly report")
        message_id = self.assertOffloadHeader(msg, 1)
        self.assertNoAttachments(msg, allowed=("text/plain",))
        [text_part] = leaf_parts(msg)
        text = body_text(text_part)
        self.assertIn("the report is attached.", text, "the sender's text is kept")
        self.assertIn("report.pdf", text)
        self.assertEqual(len(set(self.download_links(text))), 1,
                         "want one %s/d/TOKEN link in:\n%s" % (self.milter.public_url, text))
        self.assertNotIn("access code", text.lower())
        self.assertNotIn(pdf.read_bytes()[1000:1100], got.raw)
        self.assertRegex(self.milter.log_text(),
                         r"\b%s: offloaded 1 file \(.*\) for 1 recipient;" % re.escape(queue_id))

        shown = self.show(queue_id)
        self.assertEqual(shown["message"]["id"], message_id)
        self.assertEqual(shown["message"]["queue_id"], queue_id)
        self.assertEqual(shown["message"]["sender"], SENDER)
        self.assertEqual(shown["recipients"], [EXTERNAL])
        self.assertEqual(len(shown["files"]), 1)
        self.assertFileMatches(shown["files"][0], pdf, "report.pdf")
        [link] = shown["links"]
        self.assertEqual(link["max_downloads"], PER_RECIPIENT_DOWNLOADS)
        self.assertFalse(link["access_code"])

        # Encrypted at rest: the blob file does not hold the plaintext.
        [blob_id] = self.catalog_blob_ids()
        blob = (self.milter.state_dir / "blobs" / blob_id[:2] / blob_id).read_bytes()
        self.assertNotIn(pdf.read_bytes()[5000:5064], blob)
        self.assertStoreConsistent()

    def test_alternative_body_two_attachments_two_recipients(self):
        """(b) text and HTML alternatives both get the link; with links =
        "shared" the one link allows the per-recipient limit times the
        number of recipients (links per recipient: test_recipient_links)."""
        self.start_stack('links = "shared"\n' + POLICY)
        pdf = self.file_of_random_bytes("slides.pdf", 200_000, prefix=b"%PDF-1.5\n")
        data = self.file_of_random_bytes("data.zip", 150_000, prefix=b"PK\x03\x04")
        html = ("<html><body><p>Hello both,</p><p>slides and data attached.</p>"
                "</body></html>")
        sent = (
            "From: Alice <alice@example.org>\n"
            "To: Bob <bob@example.net>, Carol <carol@example.com>\n"
            "Subject: Slides and data\n"
            "Date: Mon, 02 Mar 2026 10:00:00 +0000\n"
            "Message-ID: <%s@example.org>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=\"outer\"\n"
            "\n"
            "--outer\n"
            "Content-Type: multipart/alternative; boundary=\"alt\"\n"
            "\n"
            "--alt\n"
            "Content-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: quoted-printable\n"
            "\n"
            "Hello both,\n"
            "slides and data attached. Gr=C3=BC=C3=9Fe, Alice\n"
            "--alt\n"
            "Content-Type: text/html; charset=utf-8\n"
            "Content-Transfer-Encoding: base64\n"
            "\n%s"
            "--alt--\n"
            "\n"
            "--outer\n"
            "Content-Type: application/pdf; name=\"slides.pdf\"\n"
            "Content-Disposition: attachment; filename=\"slides.pdf\"\n"
            "Content-Transfer-Encoding: base64\n"
            "\n%s"
            "--outer\n"
            "Content-Type: application/zip; name=\"data.zip\"\n"
            "Content-Disposition: attachment; filename=\"data.zip\"\n"
            "Content-Transfer-Encoding: base64\n"
            "\n%s"
            "--outer--\n"
        ) % (os.urandom(8).hex(), base64.encodebytes(html.encode()).decode(),
             base64.encodebytes(pdf.read_bytes()).decode(),
             base64.encodebytes(data.read_bytes()).decode())
        data_file = write_data_file(self.workdir / "alternative.eml", sent.encode())
        queue_id = self.send([EXTERNAL, EXTERNAL_2], data_file=data_file)

        got = self.sink.find(queue_id)
        self.assertEqual(sorted(got.rcpt_to), sorted([EXTERNAL, EXTERNAL_2]))
        msg = got.parse()
        self.assertOffloadHeader(msg, 2)
        self.assertNoAttachments(msg)
        parts = leaf_parts(msg)
        self.assertEqual([p.get_content_type() for p in parts], ["text/plain", "text/html"])
        alternative = [p for p in msg.walk() if p.get_content_type() == "multipart/alternative"]
        self.assertEqual(len(alternative), 1, "the alternative structure is kept")

        text, html_out = body_text(parts[0]), body_text(parts[1])
        self.assertIn("Grüße, Alice", text, "the text part's charset and content survive")
        self.assertIn("slides and data attached.", html_out)
        text_links = set(self.download_links(text))
        self.assertEqual(len(text_links), 1, "one link in the text part:\n%s" % text)
        hrefs, images = html_links(html_out)
        self.assertEqual(set(self.download_links(" ".join(hrefs))), text_links,
                         "the HTML part links to the same URL:\n%s" % html_out)
        for name in ("slides.pdf", "data.zip"):
            self.assertIn(name, text)
            self.assertIn(name, html_out)
        pixel = re.escape(self.milter.public_url) + r"/o/[0-9A-Za-z_-]+\.gif"
        self.assertTrue(any(re.fullmatch(pixel, src) for src in images),
                        "no tracking pixel among %r" % images)
        self.assertNotRegex(text, r"/o/", "the pixel is for HTML only")

        shown = self.show(queue_id)
        self.assertEqual(sorted(shown["recipients"]), sorted([EXTERNAL, EXTERNAL_2]))
        files = {f["filename"]: f for f in shown["files"]}
        self.assertEqual(sorted(files), ["data.zip", "slides.pdf"])
        self.assertFileMatches(files["slides.pdf"], pdf, "slides.pdf")
        self.assertFileMatches(files["data.zip"], data, "data.zip")
        [link] = shown["links"]
        self.assertEqual(link["max_downloads"], PER_RECIPIENT_DOWNLOADS * 2)
        self.assertStoreConsistent()

    def test_nothing_selected_passes_unchanged(self):
        """(c) An internal recipient, or a small attachment: the mail
        arrives byte for byte as sent, only Postfix's Received added."""
        self.start_stack()
        cases = [
            ("internal recipient, large attachment", INTERNAL, 300_000),
            ("external recipient, small attachment", EXTERNAL, 20_000),
        ]
        for what, recipient, size in cases:
            with self.subTest(what):
                sent = mime_message("Hello,", os.urandom(size), "notes.bin",
                                    subject="unchanged: " + what)
                data_file = write_data_file(self.workdir / "unchanged.eml", sent)
                queue_id = self.send([recipient], data_file=data_file)
                got = self.sink.find(queue_id)
                self.assertNotIn(b"X-Attachgate", got.raw)
                self.assertTrue(got.raw.endswith(sent),
                                "relayed message differs from what was sent; see %s" % got.path)
                self.assertRegex(got.raw[:-len(sent)].decode(), postfix_received_re(queue_id))
                # The milter did see it (the test is void if Postfix skipped it).
                self.assertRegex(self.milter.log_text(),
                                 r"\b%s: kept: 1 attachments?, none selected" % re.escape(queue_id))
                run = self.milter.cli("--json", "show", queue_id)
                self.assertEqual(run.returncode, 1, "no catalog entry for a kept message")
        self.assertStoreConsistent()
        self.assertEqual(self.catalog_blob_ids(), set())

    def test_secure_subject_tag(self):
        """(d) "[secure]" comes off the subject and the notice asks for a code."""
        self.start_stack()
        doc = self.file_of_random_bytes("contract.pdf", 20_000, prefix=b"%PDF-1.4\n")
        before = time.time()
        queue_id = self.send([EXTERNAL], body="Please sign.", subject="[secure] Q3 contract",
                             attachments=[Attachment(doc, "application/pdf")])
        msg = self.sink.find(queue_id).parse()
        self.assertEqual(msg["Subject"], "Q3 contract")
        self.assertOffloadHeader(msg, 1)
        self.assertNoAttachments(msg, allowed=("text/plain",))
        text = body_text(leaf_parts(msg)[0])
        self.assertEqual(len(set(self.download_links(text))), 1, text)
        self.assertRegex(text, r"(?i)need an access code")

        shown = self.show(queue_id)
        self.assertEqual(shown["message"]["subject"], "Q3 contract")
        self.assertFileMatches(shown["files"][0], doc, "contract.pdf")
        [link] = shown["links"]
        self.assertTrue(link["access_code"])
        expires = calendar.timegm(time.strptime(link["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
        self.assertAlmostEqual(expires - before, 3 * 86400, delta=600, msg="the tag's 3d expiry")


class ReloadTest(MilterTestCase):

    def test_sighup_reload(self):
        """(f) A broken policy is refused on SIGHUP and the old one stays in
        force; a valid one is taken and applies to the next mail."""
        self.start_stack()
        attachment = self.file_of_random_bytes("sheet.xlsx", 150_000, prefix=b"PK\x03\x04")

        def send_and_offloaded(subject: str) -> bool:
            queue_id = self.send([EXTERNAL], body="Numbers attached.", subject=subject,
                                 attachments=[Attachment(attachment)])
            return "X-Attachgate" in self.sink.find(queue_id).parse()

        self.assertTrue(send_and_offloaded("before any reload"))

        def replace_policy(text: str) -> int:
            tmp = self.milter.policy.with_suffix(".new")
            tmp.write_text(text)
            os.replace(tmp, self.milter.policy)
            start = len(self.milter.log_text())
            os.kill(self.milter.proc.pid, signal.SIGHUP)
            return start

        start = replace_policy(POLICY_BROKEN)
        refused = self.milter.wait_for_log(r"^.*reload refused.*$", start=start)
        self.assertIn(str(self.milter.policy), refused.group(0), "the log names the file")
        self.assertIn("shred", refused.group(0), "the log says what is wrong")
        self.assertTrue(send_and_offloaded("after a refused reload"),
                        "the old policy (offload over 100 KB) stays in force")

        start = replace_policy(POLICY_1MB)
        self.milter.wait_for_log(r"reloaded policy and templates", start=start)
        self.assertFalse(send_and_offloaded("after a good reload"),
                         "the new policy (offload over 1 MB) keeps a 150 KB attachment")
        self.assertNotRegex(self.milter.log_text()[start:], r"warning")


class CrashTest(MilterTestCase):
    """Killing the milter while it works on a message: Postfix answers 4xx,
    nothing is relayed, and after a restart the same mail goes through and
    the store has no leftovers."""

    SIZE = 30_000_000

    def kill_mid_message(self, whole_service: bool) -> None:
        self.start_stack()
        big = self.file_of_random_bytes("big.pdf", self.SIZE, prefix=b"%PDF-1.4\n")
        sent = mime_message("The big file, as promised.", big.read_bytes(), "big.pdf",
                            "application/pdf", subject="big file")
        data_file = write_data_file(self.workdir / "big.eml", sent)
        blob_tmp = self.milter.state_dir / "blobs" / "tmp"
        [worker] = self.milter.worker_pids()

        session = SwaksSession(self.postfix.port, SENDER, [EXTERNAL], data_file=data_file)
        self.addCleanup(session.kill)
        session.wait_for(r"^<-\s+354", 60)
        # The milter writes the attachment into a temp blob once the whole
        # message reached it: kill it then, well before it answers Postfix.
        if not wait_until(lambda: any(blob_tmp.glob("*")), 120, 0.002):
            self.fail("the milter never started storing the attachment; swaks:\n"
                      + session.transcript())
        os.kill(worker, signal.SIGKILL)
        if whole_service:
            self.milter.kill(signal.SIGKILL)  # the supervisor, before it restarts the worker
        result = session.finish(120)
        self.assertRegex(result.final_reply, r"^4\d\d[ -]", "Postfix must tempfail the mail:\n"
                         + result.describe())
        self.assertIsNone(result.queue_id)
        # Postfix's cleanup lost the milter at end of message and tempfailed
        # (milter_default_action = tempfail); nothing was queued.
        self.assertRegex(self.postfix.maillog(),
                         r"milter-reject: END-OF-MESSAGE from .*: 4\.\d+\.\d+ ")

        log_start = len(self.milter.log_text())
        if whole_service:
            self.milter.start()
        else:
            self.milter.wait_for_log(r"milter exited with status 137; restarting")
        self.milter.wait_for_worker(not_pid=worker)
        # The new worker cleaned up what the killed one left half done.
        self.milter.wait_for_log(r"start-up: removed [1-9]\d* unfinished and \d+ unrecorded blobs|"
                                 r"start-up: removed \d+ unfinished and [1-9]\d* unrecorded blobs",
                                 start=log_start)
        self.assertStoreConsistent()
        self.assertEqual(self.catalog_blob_ids(), set(), "nothing was recorded for the failed try")

        # The client tries again, and now it works.
        result = swaks(self.postfix.port, SENDER, [EXTERNAL], data_file=data_file)
        queue_id = self.assertAccepted(result)
        self.postfix.wait_for_delivery(queue_id)
        got = self.sink.find(queue_id)
        self.assertEqual(len(self.sink.files()), 1, "only the second try was relayed")
        msg = got.parse()
        self.assertOffloadHeader(msg, 1)
        self.assertNoAttachments(msg, allowed=("text/plain",))
        shown = self.show(queue_id)
        self.assertFileMatches(shown["files"][0], big, "big.pdf")
        self.assertStoreConsistent()
        self.assertEqual(len(self.catalog_blob_ids()), 1)

    def test_kill_worker_mid_message(self):
        """(e) SIGKILL to the worker; the supervisor starts a new one."""
        self.kill_mid_message(whole_service=False)

    def test_kill_whole_service_mid_message(self):
        """(e) SIGKILL to worker and supervisor; the admin starts it again."""
        self.kill_mid_message(whole_service=True)


if __name__ == "__main__":
    unittest.main()
