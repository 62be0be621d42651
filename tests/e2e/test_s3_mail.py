"""The main path with blobs in S3: `attachgate run` with
`[blobs] url = s3://...` (s3rver behind the SigV4 front, engines.py) behind
a real Postfix; a mail with a 2 MB attachment is offloaded, its blob goes to
the bucket as ciphertext (none under the state directory), and the link in
the relayed mail downloads it byte for byte.
"""

from __future__ import annotations

import unittest

from engines import EnginesMixin
from harness import DEFAULT_CONFIG, Attachment, Milter
from test_download import MailDownloadTestCase
from test_milter import EXTERNAL, sha256_file
from recipient import file_buttons

PREFIX = "node1/"


class S3MailDownloadTest(EnginesMixin, MailDownloadTestCase):

    def start_milter(self, policy_text: str, role: str = "milter") -> Milter:
        self.s3 = self.start_s3()
        config = self.workdir / "attachgate.toml"
        config.write_text(self.on_engines(DEFAULT_CONFIG.read_text(), s3=self.s3,
                                          prefix=PREFIX.rstrip("/")))
        policy = self.workdir / "policy.toml"
        policy.write_text(policy_text)
        milter = Milter(self.workdir, policy, role=role, config=config)
        self.addCleanup(milter.stop)
        milter.start()
        return milter

    def test_a_2_mb_attachment_goes_to_s3_and_downloads_byte_identical(self):
        data = self.file_of_random_bytes("plan.pdf", 2_000_000, prefix=b"%PDF-1.4\n")
        queue_id = self.send([EXTERNAL], body="Hello Bob,\nthe plan.", subject="Plan",
                             attachments=[Attachment(data, "application/pdf")])
        objects = self.s3.keys(PREFIX)
        self.assertEqual(len(objects), 1, objects)
        [(key, size)] = objects.items()
        self.assertEqual(size, 80 + 2_000_000 + 16 * 31)  # format v2, 31 chunks
        self.assertNotIn(data.read_bytes()[5000:5064], self.s3.get_object(key))
        local = self.milter.state_dir / "blobs"
        self.assertEqual([p for p in local.rglob("*") if p.is_file()], [],
                         "no blob under the state directory")
        self.assertEqual(self.s3.pending_uploads(), [])

        token = self.link_from_mail(queue_id)
        page = self.client.get("/d/" + token)
        self.assertEqual(page.status, 200, page.text[:300])
        [button] = file_buttons(page.text)
        claimed, got = self.client.download(token, button["value"])
        self.assertEqual(claimed.status, 303, claimed.text[:300])
        self.assertEqual(got.status, 200)
        self.assertEqual(got.sha256, sha256_file(data))


if __name__ == "__main__":
    unittest.main()
