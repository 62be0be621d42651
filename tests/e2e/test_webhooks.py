"""Webhooks through the whole stack: `attachgate run` behind a private
Postfix, with [webhooks] pointing at a small HTTP receiver in this test.
A mail is offloaded and its file downloaded; the receiver must get the
offloaded and downloaded events (and delivered, from the delivery watcher)
as JSON, each signed with HMAC-SHA256 of the configured secret. The
receiver answers 500 to the very first request, which must come again
(same delivery id) after retry_first, set to 1s here.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import unittest

from harness import DEFAULT_CONFIG, Attachment, Milter, PrivatePostfix, wait_until
from recipient import Recipient, file_buttons
from test_milter import EXTERNAL, POLICY, SENDER, MilterTestCase, body_text, leaf_parts, \
    sha256_file

SECRET = "e2e-webhook-secret-0123456789"


class Receiver:
    """A threaded HTTP server on 127.0.0.1 that records each POST and
    answers 500 to the first one, 200 to the rest."""

    def __init__(self):
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    status = 500 if not receiver.requests else 200
                    receiver.requests.append({"headers": dict(self.headers), "body": body,
                                              "status": status, "path": self.path})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d/hooks/attachgate" % self.server.server_address[1]

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.requests)

    def accepted(self) -> list[dict]:
        """The bodies answered 200, parsed."""
        return [json.loads(r["body"]) for r in self.snapshot() if r["status"] == 200]


def webhook_config(url: str) -> str:
    """The shipped attachgate.toml with [webhooks] set."""
    text = DEFAULT_CONFIG.read_text()
    edits = {'urls = []': 'urls = ["%s"]' % url,
             'secret = ""': 'secret = "%s"' % SECRET,
             'retry_first = "60s"': 'retry_first = "1s"'}
    for old, new in edits.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


class WebhookTest(MilterTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.receiver = Receiver()
        self.receiver.start()
        self.addCleanup(self.receiver.stop)
        config = self.workdir / "attachgate.toml"
        config.write_text(webhook_config(self.receiver.url))
        self.sink = self.start_sink()
        self.postfix = PrivatePostfix(self.workdir)
        self.addCleanup(self.postfix.stop)
        policy = self.workdir / "policy.toml"
        policy.write_text(POLICY)
        self.milter = Milter(self.workdir, policy, role="run", postfix_log=self.postfix.maillog_path,
                             relay="smtp://127.0.0.1:%d" % self.postfix.port, config=config)
        self.addCleanup(self.check_stopped_cleanly, self.milter)
        self.milter.start()
        self.postfix.start(self.milter.postfix_spec, relay_to="127.0.0.1:%d" % self.sink.port)
        self.client = Recipient(self.milter.public_url)

    def wait_for_events(self, kinds: set[str], timeout: float = 60) -> list[dict]:
        if not wait_until(lambda: kinds <= {b["event"] for b in self.receiver.accepted()},
                          timeout, 0.2):
            self.fail("receiver got %s, wanted %s; attachgate log:\n%s"
                      % ([(r["status"], r["body"][:200]) for r in self.receiver.snapshot()],
                         kinds, self.milter.log_text()[-3000:]))
        return self.receiver.accepted()

    def test_offload_and_download_are_posted_signed_and_retried(self):
        pdf = self.file_of_random_bytes("plan.pdf", 200_000, prefix=b"%PDF-1.4\n")
        queue_id = self.send([EXTERNAL], body="The plan.", subject="Plan",
                             attachments=[Attachment(pdf, "application/pdf")])
        text = body_text(leaf_parts(self.sink.find(queue_id).parse())[0])
        [token] = set(self.download_links(text))
        page = self.client.get("/d/" + token)
        [button] = file_buttons(page.text)
        claimed, got = self.client.download(token, button["value"])
        self.assertEqual(claimed.status, 303, claimed.text[:300])
        self.assertEqual(got.sha256, sha256_file(pdf))

        bodies = self.wait_for_events({"offloaded", "downloaded", "delivered"})
        message_id = self.show(queue_id)["message"]["id"]
        by_kind = {b["event"]: b for b in bodies}
        offloaded = by_kind["offloaded"]
        self.assertEqual(offloaded["message"], {"id": message_id, "queue_id": queue_id,
                                                "sender": SENDER, "subject": "Plan"})
        self.assertRegex(offloaded["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(by_kind["downloaded"]["message"]["id"], message_id)
        # The link is the recipient's own: the download names who took it.
        self.assertEqual(by_kind["downloaded"]["recipient"], EXTERNAL)
        self.assertEqual(by_kind["delivered"]["recipient"], EXTERNAL)
        self.assertNotIn("viewed", by_kind, "page views are not reported")

        requests = self.receiver.snapshot()
        for r in requests:
            sig = r["headers"].get("X-Attachgate-Signature", "")
            want = "sha256=" + hmac.new(SECRET.encode(), r["body"], hashlib.sha256).hexdigest()
            self.assertTrue(hmac.compare_digest(sig, want), "bad signature %r on %r" % (sig, r["body"]))
            self.assertEqual(r["headers"].get("Content-Type"), "application/json")
            self.assertEqual(r["path"], "/hooks/attachgate")
            body = json.loads(r["body"])
            self.assertEqual(r["headers"].get("X-Attachgate-Event"), body["event"])
            self.assertNotIn(token, r["body"].decode(), "a link token in a webhook")

        # The first request got a 500 and came again with the same delivery id.
        first = requests[0]
        self.assertEqual(first["status"], 500)
        retries = [r for r in requests[1:] if r["headers"]["X-Attachgate-Delivery"]
                   == first["headers"]["X-Attachgate-Delivery"]]
        self.assertEqual(len(retries), 1, [r["headers"] for r in requests])
        self.assertEqual(retries[0]["body"], first["body"])
        self.assertEqual(retries[0]["status"], 200)
        self.assertRegex(self.milter.log_text(), r"webhook to .* not sent \(.*HTTP 500\); next try in 1 s")
        # Each event once: no replay after a retry.
        ids = [b["id"] for b in self.receiver.accepted()]
        self.assertEqual(len(ids), len(set(ids)), ids)


if __name__ == "__main__":
    unittest.main()
