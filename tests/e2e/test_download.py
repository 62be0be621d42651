"""The whole main path: a mail through a real Postfix whose milter is
`attachgate run` (milter and web server in one service, as in production),
relayed to smtp-sink; the link taken from the relayed mail and followed by
a recipient, first with Python's http.client, then in Debian's headless
Chromium. One-time links, so the second attempt must be refused.

Screenshots of the browser run are kept in $ATTACHGATE_TEST_OUTPUT/browser
(build/test-output/browser under ctest).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import unittest
from pathlib import Path

from harness import SOURCE_DIR, Attachment
from recipient import Recipient, file_buttons
from test_milter import EXTERNAL, POLICY, PER_RECIPIENT_DOWNLOADS, MilterTestCase, body_text, \
    leaf_parts, sha256_file
from test_web import seed_link_bin

# Every offloaded file may be downloaded once per recipient.
POLICY_ONCE = POLICY.replace("max_downloads = %d" % PER_RECIPIENT_DOWNLOADS, "max_downloads = 1")
assert POLICY_ONCE != POLICY


class MailDownloadTestCase(MilterTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.start_stack(POLICY_ONCE, role="run")
        self.client = Recipient(self.milter.public_url)

    def link_from_mail(self, queue_id: str) -> str:
        """The one /d/TOKEN link in the relayed mail's text part."""
        msg = self.sink.find(queue_id).parse()
        text = body_text(leaf_parts(msg)[0])
        tokens = set(self.download_links(text))
        self.assertEqual(len(tokens), 1, "want one link in:\n%s" % text)
        return tokens.pop()


class MailDownloadTest(MailDownloadTestCase):

    def test_link_from_relayed_mail_downloads_once(self):
        pdf = self.file_of_random_bytes("report.pdf", 400_000, prefix=b"%PDF-1.4\n")
        queue_id = self.send([EXTERNAL], body="Hello Bob,\nthe report.", subject="Report",
                             attachments=[Attachment(pdf, "application/pdf")])
        token = self.link_from_mail(queue_id)

        page = self.client.get("/d/" + token)
        self.assertEqual(page.status, 200, page.text[:300])
        self.assertIn("report.pdf", page.text)
        [button] = file_buttons(page.text)
        claimed, got = self.client.download(token, button["value"])
        self.assertEqual(claimed.status, 303, claimed.text[:300])
        self.assertEqual(got.status, 200)
        self.assertEqual(got.sha256, sha256_file(pdf))
        self.assertIn('filename="report.pdf"', got.header("Content-Disposition"))

        again = self.client.claim(token, button["value"])
        self.assertEqual(again.status, 410, "a one-time link refuses the second download")
        self.assertIn("already downloaded", again.text)
        self.assertEqual(self.client.get("/d/" + token).status, 410)
        kinds = [e["kind"] for e in self.show(queue_id)["events"]]
        self.assertEqual(kinds.count("downloaded"), 1, kinds)
        self.assertIn("viewed", kinds)


class BrowserTest(MailDownloadTestCase):

    CODE = "TEST-CODE-42"

    def set_known_code(self, queue_id: str) -> None:
        """The milter made the link with a random access code that only a
        receipt to the sender would carry (not built yet). Put a known code's
        hash on the link instead, as attachgate itself hashes codes."""
        run = subprocess.run([seed_link_bin(), "--hash-code", self.CODE],
                             stdout=subprocess.PIPE, check=True, timeout=60)
        code_hash = run.stdout.decode().strip()
        self.assertTrue(code_hash.startswith("$argon2id$"), code_hash)
        message_id = self.show(queue_id)["message"]["id"]
        db = sqlite3.connect(self.milter.state_dir / "catalog.db", timeout=10)
        try:
            with db:
                changed = db.execute(
                    "UPDATE links SET code_hash = ? WHERE code_hash IS NOT NULL AND message_id ="
                    " (SELECT id FROM messages WHERE public_id = ?)", (code_hash, message_id)).rowcount
        finally:
            db.close()
        self.assertEqual(changed, 1, "the [secure] mail's link has an access code to replace")

    def browser(self, url: str, out_dir: Path, **args: str) -> dict:
        for tool in ("node", "chromium"):
            if shutil.which(tool) is None:
                self.fail("%s is not installed (contrib/install-deps.sh --with-tests)" % tool)
        script = SOURCE_DIR / "tests" / "browser" / "download.mjs"
        if not (SOURCE_DIR / "tests" / "browser" / "node_modules" / "playwright-core").is_dir():
            self.fail("playwright-core is missing: npm ci --prefix tests/browser")
        cmd = ["node", str(script), "--url", url, "--out-dir", str(out_dir), "--timeout", "90"]
        for key, value in args.items():
            cmd += ["--" + key.replace("_", "-"), value]
        run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=150)
        try:
            result = json.loads(run.stdout)
        except ValueError:
            self.fail("download.mjs printed no JSON (exit %d): %s %s"
                      % (run.returncode, run.stdout[:500], run.stderr[-2000:]))
        return result

    def test_browser_enters_code_and_downloads(self):
        doc = self.file_of_random_bytes("contract.pdf", 600_000, prefix=b"%PDF-1.4\n")
        queue_id = self.send([EXTERNAL], body="Please sign.", subject="[secure] Contract",
                             attachments=[Attachment(doc, "application/pdf")])
        token = self.link_from_mail(queue_id)
        self.set_known_code(queue_id)

        out_dir = Path(os.environ.get("ATTACHGATE_TEST_OUTPUT", self.workdir)) / "browser"
        shutil.rmtree(out_dir, ignore_errors=True)
        url = "%s/d/%s" % (self.milter.public_url, token)
        result = self.browser(url, out_dir, code=self.CODE, file_name="contract.pdf")
        print("\nbrowser: %s" % json.dumps({k: result.get(k) for k in
                                            ("ok", "status", "suggested_filename", "bytes",
                                             "screenshots", "error")}))
        self.assertTrue(result["ok"], "browser run failed: %s" % result.get("error"))
        self.assertEqual(result["status"], 200)
        self.assertEqual(result["sha256"], sha256_file(doc))
        self.assertEqual(result["suggested_filename"], "contract.pdf")
        self.assertEqual(result["csp_violations"], [])
        # Chromium asks for /favicon.ico on its own; the 404 is expected.
        errors = [e for e in result["console_errors"] if "favicon.ico" not in e]
        self.assertEqual(errors, [])
        for name in ("landing.png", "landing-mobile.png", "unlocked.png"):
            shot = out_dir / name
            self.assertTrue(shot.is_file() and shot.stat().st_size > 1000, "screenshot %s" % shot)
            self.assertEqual(shot.read_bytes()[:8], b"\x89PNG\r\n\x1a\n")

        again = Recipient(self.milter.public_url).claim(token, self.show(queue_id)["files"][0]["id"],
                                                        code=self.CODE)
        self.assertEqual(again.status, 410, "the second attempt is refused")
        kinds = [e["kind"] for e in self.show(queue_id)["events"]]
        self.assertEqual(kinds.count("downloaded"), 1, kinds)
        [done] = [e for e in self.show(queue_id)["events"] if e["kind"] == "downloaded"]
        self.assertEqual(done["detail"], "complete")
        self.assertRegex(done["user_agent"], r"Chrome/\d+")


if __name__ == "__main__":
    unittest.main()
