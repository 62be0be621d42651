"""What the sender is told, through the whole stack: `attachgate run`
(milter, web, notifier, delivery watcher) behind a private Postfix that
relays to smtp-sink. The notifier's relay is that same Postfix, whose milter
is attachgate, so receipts and download notices cross the milter and must
pass it untouched. The test reads the receipt from the sink, uses its
access code to download, reads the download notice, opens the status page
(screenshot kept in $ATTACHGATE_TEST_OUTPUT/status) and revokes from it.
"""

from __future__ import annotations

import email.message
import html.parser
import json
import os
import re
import shutil
import subprocess
import unittest
from pathlib import Path

from harness import SOURCE_DIR, Attachment, Milter, PrivatePostfix, parse_sink_dump, wait_until
from recipient import Recipient, file_buttons
from test_milter import EXTERNAL, POLICY, SENDER, TOKEN, MilterTestCase, body_text, leaf_parts, \
    sha256_file


class _FormFields(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value", "")


def hidden_fields(page: str) -> dict[str, str]:
    parser = _FormFields()
    parser.feed(page)
    return parser.fields


class SenderStackTestCase(MilterTestCase):
    """`attachgate run` behind a private Postfix that relays to smtp-sink,
    with the notifier's relay that same Postfix; no tests of its own."""

    def setUp(self) -> None:
        super().setUp()
        self.sink = self.start_sink()
        # Postfix's port is chosen first, so attachgate can be told to send
        # its mail there; Postfix starts after attachgate, whose milter it uses.
        self.postfix = PrivatePostfix(self.workdir)
        self.addCleanup(self.postfix.stop)
        policy = self.workdir / "policy.toml"
        policy.write_text(POLICY)
        self.milter = Milter(self.workdir, policy, role="run", postfix_log=self.postfix.maillog_path,
                             relay="smtp://127.0.0.1:%d" % self.postfix.port)
        self.addCleanup(self.check_stopped_cleanly, self.milter)
        self.milter.start()
        self.postfix.start(self.milter.postfix_spec, relay_to="127.0.0.1:%d" % self.sink.port)
        self.client = Recipient(self.milter.public_url)

    def sink_mail(self, kind: str, timeout: float = 60) -> email.message.EmailMessage:
        """The first mail in the sink whose X-Attachgate-Kind is kind."""
        return self.sink_mails(kind, 1, timeout)[0]

    def sink_mails(self, kind: str, count: int, timeout: float = 60) -> list:
        """At least count mails in the sink whose X-Attachgate-Kind is kind."""
        found: list = []

        def look() -> bool:
            found.clear()
            for path in self.sink.files():
                try:
                    msg = parse_sink_dump(path).parse()
                except (OSError, ValueError):
                    continue  # still being written
                if msg.get("X-Attachgate-Kind") == kind:
                    found.append(msg)
            return len(found) >= count

        if not wait_until(look, timeout, 0.5):
            self.fail("%d %s(s) in the sink after %g s, not %d; attachgate log:\n%s"
                      % (len(found), kind, timeout, count, self.milter.log_text()[-3000:]))
        return list(found)


class SenderTest(SenderStackTestCase):

    def browser_click(self, url: str, button: str, name: str) -> dict:
        """Opens url in headless Chromium, screenshots it, presses the button
        and screenshots the page it leads to, in $ATTACHGATE_TEST_OUTPUT/name."""
        out_dir = Path(os.environ.get("ATTACHGATE_TEST_OUTPUT", self.workdir)) / name
        shutil.rmtree(out_dir, ignore_errors=True)
        run = subprocess.run(["node", str(SOURCE_DIR / "tests" / "browser" / "download.mjs"),
                              "--url", url, "--out-dir", str(out_dir), "--click", button],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        result = json.loads(run.stdout or b"{}")
        self.assertTrue(result.get("ok"), "browser: %s %s" % (result, run.stderr[-1500:]))
        self.assertEqual(result["csp_violations"], [])
        for shot in (out_dir / "landing.png", out_dir / "clicked.png"):
            self.assertTrue(shot.is_file() and shot.stat().st_size > 1000, shot)
        (out_dir / "landing.png").rename(out_dir / "status.png")
        (out_dir / "clicked.png").rename(out_dir / "status-after-revoke.png")
        return result

    def test_receipt_code_notice_status_page_and_revoke(self):
        doc = self.file_of_random_bytes("contract.pdf", 200_000, prefix=b"%PDF-1.4\n")
        queue_id = self.send([EXTERNAL], body="Please sign.", subject="[secure] Contract",
                             attachments=[Attachment(doc, "application/pdf")])
        text = body_text(leaf_parts(self.sink.find(queue_id).parse())[0])
        [token] = set(self.download_links(text))

        # The receipt: to the sender, marked, untouched by the milter.
        receipt = self.sink_mail("receipt")
        self.assertEqual(receipt["To"], SENDER)
        self.assertEqual(receipt["Auto-Submitted"], "auto-generated")
        self.assertRegex(self.milter.log_text(), r"passed unchanged: attachgate's own notice to a sender")
        body = receipt.get_content()
        self.assertIn("contract.pdf", body)
        self.assertIn(EXTERNAL, body)
        code = re.search(r"^\s+(\d{10})\s*$", body, re.M)
        self.assertIsNotNone(code, "no access code in the receipt:\n" + body)
        status = re.search(re.escape(self.milter.public_url) + r"(/s/" + TOKEN + r")", body)
        self.assertIsNotNone(status, "no status page link in the receipt:\n" + body)
        status_path = status.group(1)

        # The code from the receipt opens the link.
        self.assertEqual(self.client.claim(token, "x", code="0000000000").status, 403)
        unlocked = self.client.post_form("/d/" + token, {"code": code.group(1)})
        [button] = file_buttons(unlocked.text)
        claimed, got = self.client.download(token, button["value"], code=code.group(1))
        self.assertEqual(claimed.status, 303, claimed.text[:300])
        self.assertEqual(got.sha256, sha256_file(doc))

        notice = self.sink_mail("download notice")
        self.assertEqual(notice["To"], SENDER)
        self.assertIn("contract.pdf", notice.get_content())
        self.assertIn("127.0.0.1", notice.get_content())

        # The status page: delivery (from the watcher), the download, every event.
        self.assertTrue(wait_until(
            lambda: "delivered" in self.client.get(status_path).text, 60, 0.5),
            "the status page never showed the delivery")
        page = self.client.get(status_path)
        self.assertEqual(page.status, 200)
        self.assertEqual(page.header("Cache-Control"), "no-store")
        self.assertEqual(page.header("Referrer-Policy"), "no-referrer")
        for want in ("Contract", EXTERNAL, "contract.pdf", "downloaded", "denied", "active"):
            self.assertIn(want, page.text)
        # A form without the page's csrf field is refused.
        self.assertIn("csrf", hidden_fields(page.text))
        forged = self.client.post_form(status_path, {"do": "revoke"})
        self.assertEqual(forged.status, 403)
        self.assertEqual(self.client.get("/d/" + token).status, 200, "still active after a forged POST")

        # The sender revokes in the browser: the page, the button, the page after.
        clicked = self.browser_click(self.milter.public_url + status_path, "Revoke the link now",
                                     "status")
        print("\nstatus page screenshots: %s" % clicked["screenshots"])
        self.assertEqual(clicked["clicked_status"], 200)
        gone = self.client.get("/d/" + token)
        self.assertEqual(gone.status, 410)
        self.assertIn("withdrawn", gone.text)
        after = self.client.get(status_path).text
        self.assertIn("revoked", after)
        self.assertNotIn('value="revoke"', after, "no buttons on a revoked link")
        kinds = [e["kind"] for e in self.show(queue_id)["events"]]
        self.assertIn("revoked", kinds)
        self.assertIn("delivered", kinds)

    def test_unknown_status_token_is_404(self):
        self.assertEqual(self.client.get("/s/" + "A" * 43).status, 404)
        self.assertEqual(self.client.post_form("/s/" + "A" * 43, {"do": "revoke"}).status, 404)


if __name__ == "__main__":
    unittest.main()
