"""GET /metrics of `attachgate run`, after real mail: one message offloaded
and one kept go through a private Postfix whose milter is attachgate, the
offloaded file is downloaded, and the Prometheus text must then count both
messages (the milter's numbers reach the web role through its metrics file
in the state directory), the download, the responses and the stored file.
The metrics are scraped from their own listener ([metrics] listen); that
the public port answers /metrics with 404 is in test_web.py.
"""

from __future__ import annotations

import re
import time
import unittest

from harness import ENGINES, Attachment
from recipient import Recipient, file_buttons
from test_download import MailDownloadTestCase
from test_milter import EXTERNAL, INTERNAL, sha256_file

# name, optional {labels}, value; the text format's sample line.
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse_metrics(text: str) -> tuple[dict[str, float], dict[str, str]]:
    """({"name{labels}": value}, {name: type}); fails on a line that is
    neither a comment nor a sample, or on a metric without HELP and TYPE."""
    samples: dict[str, float] = {}
    types: dict[str, str] = {}
    helps: set[str] = set()
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            types[name] = kind
        elif line.startswith("#"):
            continue
        else:
            m = SAMPLE.match(line)
            if not m:
                raise AssertionError("not a sample line: %r" % line)
            samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    for key in samples:
        name = key.split("{")[0]
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        if family not in types or family not in helps:
            raise AssertionError("%s has no HELP or TYPE line" % name)
    return samples, types


class MetricsTest(MailDownloadTestCase):

    def scrape(self) -> tuple[dict[str, float], dict[str, str]]:
        reply = Recipient(self.milter.metrics_url).get("/metrics")
        self.assertEqual(reply.status, 200, reply.text[:300])
        self.assertEqual(reply.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        return parse_metrics(reply.text)

    def test_metrics_count_mail_downloads_and_responses(self):
        pdf = self.file_of_random_bytes("report.pdf", 300_000, prefix=b"%PDF-1.4\n")
        offloaded = self.send([EXTERNAL], body="The report.", subject="Report",
                              attachments=[Attachment(pdf, "application/pdf")])
        kept = self.send([INTERNAL], body="Lunch at noon?", subject="Lunch")
        self.assertNotIn("X-Attachgate", self.sink.find(kept).parse(), "internal mail is kept")

        token = self.link_from_mail(offloaded)
        page = self.client.get("/d/" + token)
        self.assertEqual(page.status, 200)
        [button] = file_buttons(page.text)
        claimed, got = self.client.download(token, button["value"])
        self.assertEqual(claimed.status, 303)
        self.assertEqual(got.sha256, sha256_file(pdf))

        # The milter writes its numbers every 2 s, and the download is
        # counted once its last byte has left: poll for a while.
        deadline = time.monotonic() + 20
        while True:
            m, types = self.scrape()
            if (m.get("attachgate_messages_seen_total") == 2
                    and m.get('attachgate_downloads_total{outcome="complete"}') == 1) \
                    or time.monotonic() > deadline:
                break
            time.sleep(0.5)

        self.assertEqual(m.get("attachgate_messages_seen_total"), 2, m)
        self.assertEqual(m.get("attachgate_messages_offloaded_total"), 1)
        self.assertEqual(m.get("attachgate_messages_passed_total"), 1, "a kept message is passed")
        self.assertEqual(m.get("attachgate_messages_tempfailed_total"), 0)
        self.assertEqual(types.get("attachgate_end_of_message_seconds"), "histogram")
        self.assertEqual(m.get("attachgate_end_of_message_seconds_count"), 2)
        self.assertEqual(m.get('attachgate_end_of_message_seconds_bucket{le="+Inf"}'), 2)
        self.assertGreater(m.get("attachgate_end_of_message_seconds_sum"), 0)
        self.assertEqual(m.get('attachgate_downloads_total{outcome="complete"}'), 1)
        self.assertEqual(m.get('attachgate_downloads_total{outcome="interrupted"}'), 0)
        self.assertGreaterEqual(m.get('attachgate_http_responses_total{code="200"}', 0), 2)
        self.assertEqual(m.get('attachgate_http_responses_total{code="303"}'), 1)
        self.assertEqual(m.get("attachgate_stored_files"), 1)
        self.assertEqual(m.get("attachgate_stored_bytes"), 300_000)
        for kind in ("receipt", "download notice", "webhook"):
            self.assertIn('attachgate_outbox_depth{kind="%s"}' % kind, m)
        # The back ends it runs on: the embedded default, or (ctest
        # engines.e2e) PostgreSQL and S3.
        catalog, blobs = ("postgresql", "s3") if ENGINES else ("sqlite", "file")
        self.assertEqual(m.get('attachgate_catalog_backend_info{engine="%s"}' % catalog), 1)
        self.assertEqual(m.get('attachgate_blob_backend_info{kind="%s"}' % blobs), 1)

        metrics_file = self.milter.state_dir / "metrics" / "milter.prom"
        self.assertEqual(metrics_file.stat().st_mode & 0o777, 0o600)


if __name__ == "__main__":
    unittest.main()
