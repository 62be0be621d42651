"""Links per recipient, end to end: a real Postfix with attachgate and then
Debian's OpenDKIM, its injection service (OpenDKIM only) for the recipient
copies, `attachgate run` (milter, web server and notify role), and an
smtp-sink that keeps every mail.

One message with a 6 MiB attachment goes To two external addresses, Cc one
internal and Bcc one external. The internal recipient gets the original
with its attachment; each external one gets a mail with a link of their
own, the first through the MTA's message and the others as recipient
copies that the notify role injects. Each carries a DKIM signature that
verifies, the headers are the same on every copy but for the MTA's own
lines, and one recipient's download leaves the others' links alone.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import os
import re
import signal
import smtplib
import socket
import threading
import unittest

from harness import (DEFAULT_CONFIG, DEFAULT_POLICY, LOOPBACK, E2ETestCase, Milter,
                     dkim_verify, free_port, mime_message, parse_sink_dump, wait_until)
from recipient import Recipient, file_buttons

SENDER = "alice@example.org"
TO = ["ann@example.net", "ben@example.com"]
CC = "carol@example.org"  # internal: the sender's own domain
BCC = "dan@example.net"
ENVELOPE = TO + [CC, BCC]
EXTERNAL = TO + [BCC]
DOMAIN, SELECTOR = "example.org", "ag2026"
ATTACHMENT_SIZE = 6 * 1024 * 1024
LINK = re.compile(r"/d/([A-Za-z0-9_-]{43})")
# Lines each MTA hop or the injection adds; everything else must match.
OWN_LINES = {"received", "dkim-signature", "x-attachgate-copy"}


class RecipientLinksTest(E2ETestCase):

    def setUp(self) -> None:
        super().setUp()
        self.sink = self.start_sink()
        self.signer = self.start_opendkim(DOMAIN, SELECTOR)
        # attachgate's ports first: Postfix needs the milter's address, and
        # attachgate's config needs Postfix's injection port.
        self.config = self.workdir / "attachgate.toml"
        self.gateway = Milter(self.workdir, DEFAULT_POLICY, role="run", config=self.config)
        self.postfix = self.start_postfix(
            milter=[self.gateway.postfix_spec, self.signer.milter_spec], sink=self.sink,
            inject_milters=[self.signer.milter_spec])
        self.gateway.relay = "smtp://%s:%d" % (LOOPBACK, self.postfix.port)
        self.gateway.postfix_log = self.postfix.maillog_path  # the delivery watcher follows it
        self.addCleanup(self.check_stopped_cleanly, self.gateway)

    def start_gateway(self, inject_port: int | None = None, policy: str | None = None) -> None:
        """`attachgate run` with [notify] inject at inject_port (default:
        Postfix's injection service)."""
        text = DEFAULT_CONFIG.read_text()
        self.assertIn('inject = ""', text)
        port = inject_port or self.postfix.inject_port
        self.config.write_text(text.replace('inject = ""', 'inject = "smtp://%s:%d"' % (LOOPBACK, port)))
        if policy is not None:
            self.gateway.policy = self.workdir / "policy.toml"
            self.gateway.policy.write_text(policy)
        self.gateway.start()

    def send(self, message: bytes, envelope: list[str] = ENVELOPE) -> str:
        with smtplib.SMTP(LOOPBACK, self.postfix.port, local_hostname="client.example.org",
                          timeout=600) as smtp:
            smtp.ehlo()
            code, reply = smtp.mail(SENDER)
            self.assertEqual(code, 250, reply)
            for r in envelope:
                code, reply = smtp.rcpt(r)
                self.assertEqual(code, 250, reply)
            code, reply = smtp.data(message)
        self.assertEqual(code, 250, reply)
        return re.search(r"queued as ([0-9A-Za-z]+)", reply.decode()).group(1)

    def copy_queue_id(self, recipient: str, timeout: float = 60) -> str:
        m = self.gateway.wait_for_log(r"recipient copy to %s queued as ([0-9A-Za-z]+)"
                                      % re.escape(recipient), timeout=timeout)
        return m.group(1)

    @staticmethod
    def headers(raw: bytes) -> list[tuple[str, str]]:
        """The header fields but the ones each hop adds, unfolded."""
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        return [(k, re.sub(r"\s+", " ", v)) for k, v in msg.items() if k.lower() not in OWN_LINES]

    @staticmethod
    def message(attachment: bytes) -> bytes:
        lf = mime_message("Hello all,\n\nthe plans.\n", attachment, "plans.bin",
                          subject="plans for everyone")
        lf = re.sub(rb"\nTo: [^\n]*", ("\nTo: %s\nCc: %s" % (", ".join(TO), CC)).encode(), lf, 1)
        lf = re.sub(rb"\nMessage-ID: [^\n]*", b"\nMessage-ID: <plans-1@example.org>", lf, 1)
        return lf.replace(b"\n", b"\r\n")

    def test_each_external_recipient_gets_their_own_link(self):
        self.start_gateway()
        attachment = os.urandom(ATTACHMENT_SIZE)
        queue_id = self.send(self.message(attachment))
        self.gateway.wait_for_log(
            r"%s: offloaded 1 file \(.*\) for 4 recipients, 3 with their own link "
            r"\(3 recipient copies queued\); 1 keeps the attachments" % re.escape(queue_id))

        # The MTA's own message went to the internal recipient alone, with
        # the attachment as the sender attached it.
        original = self.sink.find(queue_id, timeout=60)
        self.assertEqual(original.rcpt_to, [CC])
        parts = [p for p in original.parse().walk() if p.get_filename() == "plans.bin"]
        self.assertEqual(len(parts), 1)
        self.assertEqual(hashlib.sha256(parts[0].get_payload(decode=True)).hexdigest(),
                         hashlib.sha256(attachment).hexdigest())
        self.assertTrue(dkim_verify(original.raw, self.signer))

        # Each external recipient: a copy of their own, from the sender,
        # signed, with a link nobody else has.
        copies = {}
        for r in EXTERNAL:
            got = self.sink.find(self.copy_queue_id(r), timeout=60)
            self.assertEqual(got.rcpt_to, [r])
            self.assertEqual(got.mail_from, SENDER)
            self.assertLess(len(got.raw), ATTACHMENT_SIZE // 10, "the attachment is out")
            self.assertTrue(dkim_verify(got.raw, self.signer),
                            "the copy for %s does not verify; see %s" % (r, got.path))
            tokens = set(LINK.findall(got.raw.decode(errors="replace")))
            self.assertEqual(len(tokens), 1, "one link in the copy for %s" % r)
            copies[r] = (got, tokens.pop())
        self.assertEqual(len({token for _, token in copies.values()}), 3, "three different links")

        # The same headers on every copy (To, Cc, Message-ID, Subject ...),
        # the Bcc recipient's included: it reveals nobody new.
        first = self.headers(copies[EXTERNAL[0]][0].raw)
        self.assertIn(("Message-ID", "<plans-1@example.org>"), first)
        self.assertIn(("Cc", CC), first)
        for r in EXTERNAL[1:]:
            self.assertEqual(self.headers(copies[r][0].raw), first, r)
        self.assertNotIn(BCC, str(first))

        # Ann downloads; her second try is refused; Ben's link is untouched.
        web = Recipient(self.gateway.public_url)
        ann = copies[TO[0]][1]
        landing = web.get("/d/" + ann)
        self.assertEqual(landing.status, 200)
        file_id = file_buttons(landing.text)[0]["value"]
        claimed, got = web.download(ann, file_id)
        self.assertEqual(claimed.status, 303)
        self.assertEqual(got.sha256, hashlib.sha256(attachment).hexdigest())
        again, _ = web.download(ann, file_id)
        self.assertEqual(again.status, 410)
        ben = copies[TO[1]][1]
        self.assertEqual(web.get("/d/" + ben).status, 200)
        claimed, got = web.download(ben, file_id, keep_body=False)
        self.assertEqual(claimed.status, 303, "Ben's link still has its download")
        self.assertEqual(got.sha256, hashlib.sha256(attachment).hexdigest())

        # The trail: each copy queued under its own queue id, and the
        # delivery watcher's word on every recipient, copies included.
        def trail() -> list[dict]:
            shown = self.gateway.cli("show", "--json", queue_id)
            self.assertEqual(shown.returncode, 0, shown.stderr)
            return json.loads(shown.stdout)["events"]

        def delivered() -> set[str]:
            return {e["recipient"] for e in trail() if e["kind"] == "delivered"}

        wait_until(lambda: delivered() >= set(ENVELOPE), 30)
        self.assertEqual(delivered(), set(ENVELOPE))
        queued = {e["recipient"] for e in trail() if e["kind"] == "queued"}
        self.assertEqual(queued, set(EXTERNAL))
        links = json.loads(self.gateway.cli("show", "--json", queue_id).stdout)["links"]
        self.assertEqual(sorted(l["recipient"] for l in links), sorted(EXTERNAL))


    def test_copies_wait_while_the_injection_service_is_down(self):
        # [notify] inject points at a port nothing listens on, until a relay
        # to Postfix's injection service opens there.
        port = free_port()
        self.start_gateway(inject_port=port)
        attachment = os.urandom(ATTACHMENT_SIZE)
        queue_id = self.send(self.message(attachment))
        self.gateway.wait_for_log(r"%s: offloaded 1 file" % re.escape(queue_id))
        for r in EXTERNAL:
            self.gateway.wait_for_log(r"recipient copy to %s not sent \(.*\); next try in 60 s"
                                      % re.escape(r), timeout=60)
        self.assertNotIn("queued as", self.gateway.log_text())
        with TcpRelay(port, self.postfix.inject_port):
            for r in EXTERNAL:  # the first retry comes a minute later
                got = self.sink.find(self.copy_queue_id(r, timeout=120), timeout=60)
                self.assertEqual(got.rcpt_to, [r])
                self.assertTrue(dkim_verify(got.raw, self.signer))
        self.assertEqual(self.sink.find(queue_id, timeout=60).rcpt_to, [CC])

    def test_notify_killed_after_the_mta_took_a_copy_sends_it_again_and_says_so(self):
        # The notify role dies right after the MTA accepted the first copy
        # and before the catalog knew: after a restart every recipient has
        # a copy, the interrupted one perhaps twice, and the trail says so.
        os.environ["ATTACHGATE_FAULT_KILL_AT"] = "copy_injected:1"
        try:
            self.start_gateway()
        finally:
            del os.environ["ATTACHGATE_FAULT_KILL_AT"]
        queue_id = self.send(self.message(os.urandom(ATTACHMENT_SIZE)))
        self.gateway.wait_for_log(r"notify exited with status 137; restarting", timeout=60)
        os.killpg(self.gateway.proc.pid, signal.SIGKILL)  # before the supervisor restarts it
        self.gateway.proc.wait(30)
        self.gateway.start()
        copies = {r: self.sink.find(self.copy_queue_id(r), timeout=60) for r in EXTERNAL}
        self.gateway.wait_for_log(r"recipient copy to \S+ is sent again after an attempt that "
                                  r"was cut off")
        per_recipient = {r: 0 for r in EXTERNAL}
        for p in self.sink.files():
            for r in parse_sink_dump(p).rcpt_to:
                if r in per_recipient:
                    per_recipient[r] += 1
        self.assertEqual(sorted(per_recipient.values()), [1, 1, 2], per_recipient)
        twice = [r for r, n in per_recipient.items() if n == 2][0]
        trail = json.loads(self.gateway.cli("show", "--json", queue_id).stdout)["events"]
        queued = {e["recipient"]: e["detail"] for e in trail if e["kind"] == "queued"}
        self.assertEqual(set(queued), set(EXTERNAL))
        self.assertIn("may get the copy twice", queued[twice])
        for r in EXTERNAL:
            if r != twice:
                self.assertNotIn("twice", queued[r])
        self.assertEqual({r: c.rcpt_to for r, c in copies.items()}, {r: [r] for r in EXTERNAL})

    def fresh_link(self, recipient: str) -> tuple[object, str]:
        """The "send again" mail the notify role injected for recipient, and
        the link in it."""
        m = self.gateway.wait_for_log(r"fresh link to %s queued as ([0-9A-Za-z]+)"
                                      % re.escape(recipient), timeout=60)
        got = self.sink.find(m.group(1), timeout=60)
        body = got.parse().get_body(("plain",)).get_content()
        tokens = set(LINK.findall(body))
        self.assertEqual(len(tokens), 1, body)
        return got, tokens.pop()

    def test_send_again_mails_a_new_link_through_the_injection_service(self):
        # Ann uses her link up; an admin sends her a new one (`attachgate
        # resend`), and the sender sends Ben one from the status page. Each
        # new mail comes from the sender through the injection service,
        # signed; the new link downloads the same bytes, the old one is gone.
        self.start_gateway()
        attachment = os.urandom(ATTACHMENT_SIZE)
        queue_id = self.send(self.message(attachment), TO)
        ann_mail = self.sink.find(queue_id, timeout=60)
        self.assertEqual(ann_mail.rcpt_to, [TO[0]])
        ann = LINK.findall(ann_mail.raw.decode(errors="replace"))[0]
        web = Recipient(self.gateway.public_url)
        file_id = file_buttons(web.get("/d/" + ann).text)[0]["value"]
        self.assertEqual(web.download(ann, file_id)[0].status, 303)
        self.assertEqual(web.claim(ann, file_id).status, 410, "used up")

        resent = self.gateway.cli("resend", queue_id, "--recipient", TO[0])
        self.assertEqual(resent.returncode, 0, resent.stderr)
        got, fresh = self.fresh_link(TO[0])
        self.assertEqual((got.mail_from, got.rcpt_to), (SENDER, [TO[0]]))
        self.assertEqual(got.parse()["Subject"], "New link: plans for everyone")
        self.assertTrue(dkim_verify(got.raw, self.signer), "see %s" % got.path)
        self.assertNotEqual(fresh, ann)
        claimed, downloaded = web.download(fresh, file_id)
        self.assertEqual(claimed.status, 303)
        self.assertEqual(downloaded.sha256, hashlib.sha256(attachment).hexdigest())
        self.assertEqual(web.get("/d/" + ann).status, 410, "the old link is revoked")

        # The sender, from the receipt's status page.
        receipt = [parse_sink_dump(p) for p in self.sink.files()]
        receipt = [m for m in receipt if m.rcpt_to == [SENDER] and
                   m.parse()["Subject"].startswith("Sent as a download link")]
        self.assertEqual(len(receipt), 1)
        status = re.search(r"/s/([A-Za-z0-9_-]{43})",
                           receipt[0].parse().get_body(("plain",)).get_content()).group(0)
        page = web.get(status)
        self.assertEqual(page.status, 200)
        self.assertEqual(page.text.count('value="resend-recipient"'), 2)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        posted = web.post_form(status, {"csrf": csrf, "recipient": TO[1], "do": "resend-recipient"})
        self.assertEqual(posted.status, 303, posted.text[:300])
        got, ben = self.fresh_link(TO[1])
        self.assertTrue(dkim_verify(got.raw, self.signer))
        self.assertEqual(web.get("/d/" + ben).status, 200)

        # The trail: who sent which link again; the watcher sees each new
        # mail delivered under its own queue id.
        def trail() -> list[dict]:
            return json.loads(self.gateway.cli("show", "--json", queue_id).stdout)["events"]

        resends = [(e["recipient"], e["detail"].split(";")[0]) for e in trail()
                   if e["kind"] == "resent"]
        self.assertEqual(len(resends), 2)
        self.assertEqual(resends[0][0], TO[0])
        self.assertTrue(resends[0][1].startswith("by admin"), resends)
        self.assertEqual(resends[1], (TO[1], "by the sender"))
        wait_until(lambda: sum(e["kind"] == "delivered" for e in trail()) >= 4, 30)
        delivered = sorted(e["recipient"] for e in trail() if e["kind"] == "delivered")
        self.assertEqual(delivered, sorted(TO * 2))

    def test_over_max_split_recipients_one_link_is_shared(self):
        self.start_gateway()
        envelope = ["r%03d@example.net" % i for i in range(200)]
        queue_id = self.send(self.message(os.urandom(ATTACHMENT_SIZE)), envelope)
        self.gateway.wait_for_log(
            r"%s: offloaded 1 file \(.*\) for 200 recipients; one shared link: 200 recipients "
            r"with links, over max_split_recipients \(20\)" % re.escape(queue_id))
        shown = json.loads(self.gateway.cli("show", "--json", queue_id).stdout)
        self.assertEqual(len(shown["links"]), 1)
        self.assertIsNone(shown["links"][0]["recipient"])
        self.assertNotIn("recipient copy", self.gateway.log_text())
        # Postfix hands a relay 50 recipients per transaction: gather them all.
        def delivered() -> list[str]:
            needle = ("with ESMTP id %s" % queue_id).encode()
            return sorted(r for p in self.sink.files() if needle in p.read_bytes()[:16384]
                          for r in parse_sink_dump(p).rcpt_to)

        wait_until(lambda: len(delivered()) >= len(envelope), 60)
        self.assertEqual(delivered(), envelope)


class TcpRelay:
    """Forwards connections on 127.0.0.1:port to 127.0.0.1:target while open."""

    def __init__(self, port: int, target: int):
        self.server = socket.create_server((LOOPBACK, port))
        self.target = target
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def __enter__(self) -> "TcpRelay":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.close()

    def serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection((LOOPBACK, self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass


if __name__ == "__main__":
    unittest.main()
