"""DKIM after attachgate, through a real Postfix and Debian's OpenDKIM.

A private Postfix runs smtpd_milters = attachgate, OpenDKIM (in that order,
as contrib/postfix/main.cf says) and relays to an smtp-sink. Its second
smtpd is the injection service, copied from contrib/postfix/master.cf, where
the notify role hands in recipient copies: OpenDKIM only, no attachgate.
Messages are sent with smtplib, so their bytes are ours; python3-dkim checks
the signatures against the generated key, with no DNS.

The policy is the shipped conf/policy.toml: attachments of 5 MB and more to
external recipients are offloaded, so the 6 MiB attachment here goes.
"""

from __future__ import annotations

import os
import re
import smtplib
import unittest

from harness import DEFAULT_POLICY, LOOPBACK, E2ETestCase, dkim_verify, mime_message

SENDER = "alice@example.org"
EXTERNAL = "bob@example.net"
DOMAIN = "example.org"  # the sender's: OpenDKIM signs mail From: this domain
SELECTOR = "ag2026"
ATTACHMENT_SIZE = 6 * 1024 * 1024
TOKEN = r"[A-Za-z0-9_-]{43}"  # 32 random bytes, base64url without padding


def with_body_byte_changed(raw: bytes) -> bytes:
    """raw with the case of the first letter of its body swapped: a change
    that relaxed body canonicalization does not smooth away."""
    body = raw.index(b"\n\n") + 2
    m = re.compile(rb"[A-Za-z]").search(raw, body)
    return raw[:m.start()] + m.group(0).swapcase() + raw[m.end():]


class DkimTest(E2ETestCase):

    def setUp(self) -> None:
        super().setUp()
        self.sink = self.start_sink()
        self.signer = self.start_opendkim(DOMAIN, SELECTOR)
        self.milter = self.start_milter(DEFAULT_POLICY.read_text())
        self.addCleanup(self.check_stopped_cleanly, self.milter)
        self.postfix = self.start_postfix(
            milter=[self.milter.postfix_spec, self.signer.milter_spec], sink=self.sink,
            inject_milters=[self.signer.milter_spec])

    def submit(self, port: int, message: bytes) -> tuple[int, str]:
        """Send message (CRLF) to 127.0.0.1:port for EXTERNAL; returns the
        reply code to MAIL, or to the end of DATA, and that reply's text."""
        with smtplib.SMTP(LOOPBACK, port, local_hostname="client.example.org",
                          timeout=600) as smtp:
            smtp.ehlo()
            code, reply = smtp.mail(SENDER)
            if code == 250:
                code, reply = smtp.rcpt(EXTERNAL)
            if code == 250:
                code, reply = smtp.data(message)
        return code, reply.decode(errors="replace")

    def send(self, port: int, message: bytes) -> str:
        """Send, wait until Postfix relayed it; returns the queue id."""
        code, reply = self.submit(port, message)
        self.assertEqual(code, 250, "port %d refused the message: %s" % (port, reply))
        queue_id = re.search(r"queued as ([0-9A-Za-z]+)", reply).group(1)
        self.postfix.wait_for_delivery(queue_id)
        return queue_id

    def message(self, text: str) -> bytes:
        """A message from SENDER with a 6 MiB attachment, CRLF line ends."""
        lf = mime_message(text, os.urandom(ATTACHMENT_SIZE), "plans.bin",
                          subject="dkim check")
        return lf.replace(b"\n", b"\r\n")

    def assertSignedBySigner(self, raw: bytes) -> None:
        headers = raw[:raw.index(b"\n\n")].decode()
        sigs = re.findall(r"^DKIM-Signature:.*(?:\n[ \t].*)*", headers, re.M | re.I)
        self.assertEqual(len(sigs), 1, "want one DKIM-Signature, headers:\n" + headers)
        self.assertRegex(sigs[0], r"\bd=%s;" % re.escape(DOMAIN))
        self.assertRegex(sigs[0], r"\bs=%s;" % re.escape(SELECTOR))
        self.assertRegex(sigs[0], r"\bc=relaxed/relaxed;")

    def test_signature_covers_the_rewritten_message(self):
        queue_id = self.send(self.postfix.port, self.message("Hello Bob,"))
        got = self.sink.find(queue_id)
        self.milter.wait_for_log(r"%s: offloaded 1 file" % re.escape(queue_id))

        # attachgate rewrote it: the link block instead of the 6 MiB.
        msg = got.parse()
        self.assertRegex(str(msg["X-Attachgate"]), r"^offloaded=1; message=\S+$")
        self.assertEqual([p.get_filename() for p in msg.walk() if not p.is_multipart()
                          if p.get_filename()], [])
        self.assertLess(len(got.raw), ATTACHMENT_SIZE // 10)
        self.assertRegex(got.raw.decode(errors="replace"),
                         re.escape(self.milter.public_url) + r"/d/" + TOKEN)

        # OpenDKIM signed what attachgate made of it, and that verifies.
        self.assertSignedBySigner(got.raw)
        self.assertTrue(dkim_verify(got.raw, self.signer),
                        "the signature of the rewritten message does not verify; see %s" % got.path)
        # The check can fail: one body byte changed breaks it.
        self.assertFalse(dkim_verify(with_body_byte_changed(got.raw), self.signer))

    def test_injection_service_signs_without_attachgate(self):
        sent = self.message("Your own copy, Bob.")
        queue_id = self.send(self.postfix.inject_port, sent)
        got = self.sink.find(queue_id)

        # It came in through the injection smtpd and left as sent: the
        # attachment attachgate would have offloaded is still there, byte
        # for byte, behind Postfix's Received and OpenDKIM's signature.
        self.postfix.wait_for_log(r"/attachgate-inject/smtpd\[\d+\]: %s: client=" % re.escape(queue_id))
        lf = sent.replace(b"\r\n", b"\n")
        self.assertTrue(got.raw.endswith(lf), "the injected message was changed; see %s" % got.path)
        prefix = got.raw[:-len(lf)].decode()
        self.assertEqual(sorted(re.findall(r"^[^ \t][^:]*", prefix, re.M)),
                         ["DKIM-Signature", "Received"], prefix)
        self.assertSignedBySigner(got.raw)
        self.assertTrue(dkim_verify(got.raw, self.signer),
                        "the injected copy's signature does not verify; see %s" % got.path)
        self.assertFalse(dkim_verify(with_body_byte_changed(got.raw), self.signer))

        # attachgate logs one line for every message it sees: one through
        # the main port shows it would have, and the injected one has none.
        control_id = self.send(self.postfix.port, self.message("Hello Bob,"))
        self.milter.wait_for_log(r"%s: offloaded 1 file" % re.escape(control_id))
        self.assertNotIn(queue_id, self.milter.log_text())

        # The maillog says so too: with attachgate down, the main smtpd
        # fails to reach it and tempfails, and the injection smtpd neither
        # tries nor minds.
        self.milter.stop()
        refused = "connect to Milter service %s" % self.milter.postfix_spec
        code, reply = self.submit(self.postfix.port, self.message("Hello again,"))
        self.assertEqual(code // 100, 4, reply)
        self.postfix.wait_for_log(r"postfix-postfix/smtpd\[\d+\]: warning: %s" % re.escape(refused))
        queue_id = self.send(self.postfix.inject_port, self.message("Your copy, once more."))
        self.assertTrue(dkim_verify(self.sink.find(queue_id).raw, self.signer))
        inject_lines = [l for l in self.postfix.maillog().splitlines() if "/attachgate-inject/" in l]
        self.assertTrue(inject_lines)
        self.assertEqual([l for l in inject_lines if refused in l], [])


if __name__ == "__main__":
    unittest.main()
