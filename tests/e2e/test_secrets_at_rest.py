"""No secret at rest in the clear: every download token, status token,
access code and download ticket handed out during a run through the whole
stack (`attachgate run` behind a private Postfix, receipts and a download
notice sent through it) is looked for in every file of the state directory
(catalog, its -wal and -shm, blobs, metrics) and in attachgate's log, as
raw text, as base64 and hex of it, and for tokens as the 32 bytes they
encode. None may be there: the catalog keeps keyed hashes of tokens and
seals outbox payloads (issue 13, item 4). Looked for while the service runs
(old pages in the WAL) and again after it stopped (WAL checkpointed).

Not covered, by design: Postfix's queue and the sink hold the mail itself,
whose links are the tokens; the milter's spool files have no name (see
milter/spool.h) and cannot be listed.
"""

from __future__ import annotations

import base64
import re
import unittest
from pathlib import Path

from harness import Attachment, wait_until
from recipient import file_buttons
from test_milter import EXTERNAL, EXTERNAL_2, TOKEN, body_text, leaf_parts
from test_sender import SenderStackTestCase


def encodings(secret: str) -> dict[str, bytes]:
    """The forms a secret could take in a file: as written, base64 and hex
    of it, and for a token the raw bytes it stands for."""
    raw = secret.encode()
    forms = {"text": raw, "hex": raw.hex().encode(), "HEX": raw.hex().upper().encode()}
    # base64 at each of the three alignments it can start at, without the
    # characters that depend on its neighbours.
    for pad in range(3):
        for name, enc in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            text = enc(b"\0" * pad + raw + b"\0\0")
            forms["%s@%d" % (name, pad)] = text[4 if pad else 0:-4]
    if re.fullmatch(TOKEN, secret):
        decoded = base64.urlsafe_b64decode(secret + "=")
        forms["bytes"] = decoded
        forms["bytes-hex"] = decoded.hex().encode()
    return forms


class SecretsAtRestTest(SenderStackTestCase):

    def files_at_rest(self) -> list[Path]:
        files = [p for p in self.milter.state_dir.rglob("*") if p.is_file()]
        return files + [self.milter.log]

    @staticmethod
    def find_secrets(files: list[Path], secrets: dict[str, str]) -> list[str]:
        found = []
        for path in files:
            data = path.read_bytes()
            for what, secret in secrets.items():
                for form, needle in encodings(secret).items():
                    if needle in data:
                        found.append("%s (%s) in %s" % (what, form, path.name))
        return found

    def assertNoSecretIn(self, files: list[Path], secrets: dict[str, str], when: str) -> None:
        self.assertEqual(self.find_secrets(files, secrets), [], "secrets on disk %s" % when)

    def assertSearchFindsWhatIsThere(self, secrets: dict[str, str]) -> None:
        """The search can fail: it finds what the catalog does hold in clear
        (a subject), and a secret planted in the state directory in each of
        the forms it looks for."""
        found = self.find_secrets(self.files_at_rest(), {"subject": "Photos"})
        self.assertTrue(any(f.startswith("subject (text) in catalog.db") for f in found), found)
        what, secret = next(iter(secrets.items()))
        planted = self.milter.state_dir / "planted"
        for form, needle in encodings(secret).items():
            planted.write_bytes(b"\0" * 100 + needle + b"\0" * 100)
            self.assertIn("%s (%s) in planted" % (what, form),
                          self.find_secrets(self.files_at_rest(), secrets))
        planted.unlink()

    def test_no_token_or_code_in_the_state_directory(self):
        secure = self.file_of_random_bytes("contract.pdf", 150_000, prefix=b"%PDF-1.4\n")
        plain = self.file_of_random_bytes("photos.zip", 150_000, prefix=b"PK\3\4")
        sent = [self.send([EXTERNAL], subject="[secure] Contract",
                          attachments=[Attachment(secure, "application/pdf")]),
                self.send([EXTERNAL, EXTERNAL_2], subject="Photos",
                          attachments=[Attachment(plain, "application/zip")])]
        secrets: dict[str, str] = {}
        links = []
        for queue_id in sent:
            text = body_text(leaf_parts(self.sink.find(queue_id).parse())[0])
            [token] = set(self.download_links(text))
            secrets["download token of %s" % queue_id] = token
            links.append(token)

        codes = []
        for i, receipt in enumerate(self.sink_mails("receipt", len(sent))):
            body = receipt.get_content()
            status = re.search(r"/s/(" + TOKEN + r")", body)
            self.assertIsNotNone(status, "no status link in a receipt:\n" + body)
            secrets["status token %d" % i] = status.group(1)
            code = re.search(r"^\s+(\d{10})\s*$", body, re.M)
            if code:
                secrets["access code %d" % i] = code.group(1)
                codes.append(code.group(1))
        self.assertEqual(len(codes), 1, "one message asked for a code")

        # A download with the code: its ticket is a secret too, and it
        # queues a download notice whose row must also end up sent.
        page = self.client.post_form("/d/" + links[0], {"code": codes[0]})
        self.assertEqual(page.status, 200, page.text[:300])
        [button] = file_buttons(page.text)
        claimed, got = self.client.download(links[0], button["value"], code=codes[0])
        self.assertEqual(claimed.status, 303, claimed.text[:300])
        self.assertEqual(got.status, 200)
        ticket = re.search(r"/t/([A-Za-z0-9_-]+)", claimed.header("Location"))
        self.assertIsNotNone(ticket, claimed.header("Location"))
        secrets["download ticket"] = ticket.group(1)
        self.sink_mail("download notice")

        # Every receipt and the notice marked sent: their payloads cleared.
        sent_line = r"outbox \d+: (receipt|download notice) to \S+ sent"
        self.assertTrue(wait_until(
            lambda: len(re.findall(sent_line, self.milter.log_text())) >= len(sent) + 1, 30, 0.2),
            "the notifier never marked every mail sent:\n" + self.milter.log_text()[-3000:])
        self.assertEqual(len(secrets), 2 * len(sent) + len(codes) + 1, secrets)

        files = self.files_at_rest()
        names = {p.name for p in files}
        for want in ("catalog.db", "catalog.db-wal", "catalog.db-shm", "master.key"):
            self.assertIn(want, names)
        self.assertTrue(any(p.parent.name != "state" and "blobs" in p.parts for p in files),
                        "no blob among %s" % sorted(names))
        self.assertSearchFindsWhatIsThere(secrets)
        self.assertNoSecretIn(files, secrets, "while running")
        self.milter.stop()
        self.assertNoSecretIn(self.files_at_rest(), secrets, "after a clean stop")


if __name__ == "__main__":
    unittest.main()
