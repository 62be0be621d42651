"""The shared engines failing under a running node (issue 15): the catalog
on PostgreSQL 15 and the blobs in S3 (s3rver behind the SigV4 front), both
started by engines.py on loopback, behind the campaign's Postfix pair
(front Postfix -> gateway Postfix with the milter -> smtp-sink).

- PostgreSQL stopped mid-run: the milter tempfails (the front keeps the
  message), the web answers 503, no blob is left behind; once it is back
  the retry is offloaded and its link downloads the original.
- The object store stopped: the same, and a download claimed meanwhile
  fails with a page, then resumes once the store is back.
- A blob deleted behind attachgate's back: the link says the file is no
  longer available, and nothing crashes.
"""

from __future__ import annotations

import unittest

import campaign
from campaign import Stack, harness
from engines import EnginesMixin
from recipient import Recipient, file_buttons
from test_faults import FaultTestCase

PREFIX = "faults"


class EngineFaultTest(EnginesMixin, FaultTestCase):

    def start_stack(self) -> Stack:
        self.pg = self.start_postgres(fsync=False)
        self.s3 = self.start_s3()
        config = self.on_engines(harness.DEFAULT_CONFIG.read_text(), self.pg, self.s3, PREFIX)
        stack = Stack(self.workdir / "run", config_text=config)
        self.addCleanup(stack.stop)
        stack.start()
        self.client = Recipient(stack.web.public_url, timeout=60)
        return stack

    def arrived(self, stack: Stack, sent: list[campaign.Sent]) -> dict[int, str]:
        """Waits until each message reached the sink once, offloaded; its
        token by seq."""
        by_seq = {s.seq: s for s in sent}
        arrived = campaign.wait_all_arrived(stack, by_seq, 180, flush_every=3)
        tokens = {}
        for s in sent:
            paths = arrived.get(s.seq, [])
            self.assertEqual(len(paths), 1, "seq %d reached the sink %d times; milter log:\n%s"
                             % (s.seq, len(paths), stack.milter.log_text()[-3000:]))
            msg = harness.parse_sink_dump(paths[0]).parse()
            self.assertIsNotNone(msg["X-Attachgate"], "seq %d was not offloaded" % s.seq)
            tokens[s.seq] = campaign.find_token(msg)
        return tokens

    def assertDownloads(self, stack: Stack, sent: campaign.Sent, token: str) -> None:
        self.assertEqual(campaign.check_link(sent, token, self.client), "offloaded",
                         stack.web.log_text()[-2000:])

    def messages_in_catalog(self) -> int:
        return int(self.pg.sql("SELECT count(*) FROM messages")[0][0])

    def objects(self) -> dict[str, int]:
        return self.s3.keys(PREFIX + "/")

    def test_postgres_stopped_mid_run_tempfails_then_resumes(self):
        stack = self.start_stack()
        first = self.send_one(stack, 1, 300_000)
        tokens = self.arrived(stack, [first])
        self.assertDownloads(stack, first, tokens[1])
        before = self.objects()

        self.pg.stop()
        log_start = len(stack.milter.log_text())
        second = self.send_one(stack, 2, 300_000)
        self.wait_deferred(stack, second)
        self.assertRegex(stack.milter.log_text()[log_start:], r"(?i)catalog|postgres|connect")
        landing = self.client.get("/d/" + tokens[1])
        self.assertEqual(landing.status, 503, "the web without its catalog: " + landing.text[:300])
        self.assertIn("Temporarily unavailable", landing.text)
        self.assertEqual(self.objects(), before, "the tempfailed message left a blob in S3")
        self.assertEqual(self.s3.pending_uploads(), [])

        self.pg.start()
        tokens.update(self.arrived(stack, [second]))
        self.assertDownloads(stack, second, tokens[2])
        self.assertEqual(self.client.get("/d/" + tokens[1]).status, 200,
                         "the web reconnected to its catalog")
        self.assertEqual(self.messages_in_catalog(), 2)
        self.assertEqual(len(self.objects()), 2, self.objects())

    def test_object_store_stopped_mid_run_tempfails_then_resumes(self):
        stack = self.start_stack()
        first = self.send_one(stack, 1, 300_000)
        tokens = self.arrived(stack, [first])
        [button] = file_buttons(self.client.get("/d/" + tokens[1]).text)

        self.s3.stop()
        log_start = len(stack.milter.log_text())
        second = self.send_one(stack, 2, 300_000)
        self.wait_deferred(stack, second)
        self.assertRegex(stack.milter.log_text()[log_start:], r"(?i)s3|blob|connect")
        self.assertEqual(self.messages_in_catalog(), 1, "the tempfailed message left rows")
        # A download claimed while the store is down fails with a page...
        claimed = self.client.claim(tokens[1], button["value"])
        self.assertEqual(claimed.status, 303, claimed.text[:300])
        ticket = claimed.header("Location")
        failed = self.client.get(ticket)
        self.assertGreaterEqual(failed.status, 500, failed.text[:300])
        self.assertIn("<html", failed.text)

        self.s3.start()
        # ...and the same ticket serves the file once the store is back.
        got = self.client.get(ticket)
        self.assertEqual(got.status, 200, got.text[:300])
        self.assertEqual(got.sha256, first.attachments[0])
        tokens.update(self.arrived(stack, [second]))
        self.assertDownloads(stack, second, tokens[2])
        self.assertEqual(self.messages_in_catalog(), 2)
        self.assertEqual(self.s3.pending_uploads(), [])

    def test_a_blob_deleted_behind_its_back_is_no_longer_available(self):
        stack = self.start_stack()
        first = self.send_one(stack, 1, 300_000)
        tokens = self.arrived(stack, [first])
        [key] = self.objects()
        self.s3.delete(key)
        page = self.client.get("/d/" + tokens[1])
        self.assertEqual(page.status, 200)
        [button] = file_buttons(page.text)
        claimed, got = self.client.download(tokens[1], button["value"])
        self.assertEqual(claimed.status, 303, claimed.text[:300])
        self.assertEqual(got.status, 410, got.text[:300])
        self.assertIn("no longer available", got.text)
        self.assertEqual(self.pg.sql("SELECT state FROM files"), [["missing"]])
        again = self.client.get("/d/" + tokens[1])
        self.assertEqual(again.status, 410)
        self.assertIn("no longer available", again.text)
        self.assertEqual(self.client.get("/healthz").status, 200, "the web server still runs")


if __name__ == "__main__":
    unittest.main()
