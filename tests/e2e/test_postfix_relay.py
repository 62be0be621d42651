"""The harness itself, without attachgate: a private Postfix with no milter
relays mail to the smtp-sink unchanged. If this fails, the milter tests'
failures say nothing about attachgate.
"""

import os
import re
import unittest

from harness import (Attachment, E2ETestCase, mime_message, postfix_received_re, swaks,
                     write_data_file)

SENDER = "alice@example.org"
RECIPIENT = "bob@example.net"


class PostfixRelayTest(E2ETestCase):

    def test_postfix_relays_without_milter(self):
        sink = self.start_sink()
        postfix = self.start_postfix(milter="none", sink=sink)

        # 1. Exact bytes: a message we wrote ourselves arrives byte for byte,
        #    with nothing but Postfix's Received header added in front.
        sent = mime_message("Hello Bob,", os.urandom(20000), "data.bin")
        data_file = write_data_file(self.workdir / "exact.eml", sent)
        result = swaks(postfix.port, SENDER, [RECIPIENT], data_file=data_file)
        queue_id = self.assertAccepted(result)
        self.assertRegex(result.final_reply, r"^250 ")
        postfix.wait_for_delivery(queue_id)
        got = sink.find(queue_id)
        self.assertEqual(got.mail_from, SENDER)
        self.assertEqual(got.rcpt_to, [RECIPIENT])
        self.assertTrue(got.raw.endswith(sent),
                        "relayed message differs from what was sent; see %s" % got.path)
        self.assertRegex(got.raw[:-len(sent)].decode(), postfix_received_re(queue_id))

        # 2. swaks --attach, as the milter tests send: the attachment decodes
        #    to the file's bytes and the body text is untouched.
        payload = self.file_of_random_bytes("report.pdf", 300_000, prefix=b"%PDF-1.4\n")
        result = swaks(postfix.port, SENDER, [RECIPIENT], body="See the report.",
                       attachments=[Attachment(payload, "application/pdf")])
        queue_id = self.assertAccepted(result)
        postfix.wait_for_delivery(queue_id)
        msg = sink.find(queue_id).parse()
        parts = [p for p in msg.walk() if not p.is_multipart()]
        self.assertEqual([p.get_content_type() for p in parts], ["text/plain", "application/pdf"])
        self.assertEqual(parts[0].get_content().strip(), "See the report.")
        self.assertEqual(parts[1].get_filename(), "report.pdf")
        self.assertEqual(parts[1].get_payload(decode=True), payload.read_bytes())

        # The milter tests read the log for failures; make sure it is written.
        self.assertRegex(postfix.maillog(), r"%s: removed" % re.escape(queue_id))


if __name__ == "__main__":
    unittest.main()
