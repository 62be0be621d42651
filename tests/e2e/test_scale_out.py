"""Two attachgate nodes sharing one state: the catalog on PostgreSQL 15 and
the blobs in S3 (engines.py starts both on loopback), one master key file.

Node A is `attachgate run` behind the test's Postfix; node B is a second
`attachgate web` with a state directory of its own, on another port. Mail
goes in through A and its link downloads through B byte for byte, and 50
POSTs racing on one one-time link, split over A and B, win exactly once.
"""

from __future__ import annotations

import json
import unittest
from collections import Counter
from pathlib import Path

from engines import EnginesMixin
from harness import DEFAULT_CONFIG, Attachment, Milter
from recipient import Recipient, file_buttons, race_claims
from test_download import MailDownloadTestCase
from test_milter import EXTERNAL, sha256_file

PREFIX = "shared"


class ScaleOutTest(EnginesMixin, MailDownloadTestCase):

    def shared_config(self, name: str, extra: str = "") -> Path:
        path = self.workdir / name
        path.write_text(extra + self.on_engines(DEFAULT_CONFIG.read_text(), self.pg, self.s3,
                                                PREFIX))
        return path

    def start_milter(self, policy_text: str, role: str = "milter") -> Milter:
        self.pg = self.start_postgres(fsync=False)
        self.s3 = self.start_s3()
        policy = self.workdir / "policy.toml"
        policy.write_text(policy_text)
        node_a = Milter(self.workdir, policy, role=role, config=self.shared_config("a.toml"))
        self.addCleanup(node_a.stop)
        node_a.start()
        # Node B: its own state directory, the same master key (as a file
        # provisioned to every node), the same catalog and bucket.
        (self.workdir / "b").mkdir()
        key = node_a.state_dir / "master.key"
        self.assertTrue(key.exists(), "node A made no master key")
        config_b = self.shared_config("b.toml", "master_key_file = %s\n" % json.dumps(str(key)))
        self.node_b = Milter(self.workdir / "b", policy, role="web", config=config_b)
        self.addCleanup(self.node_b.stop)
        self.node_b.start()
        self.client_b = Recipient(self.node_b.public_url)
        return node_a

    def mail_a_file(self, size: int) -> tuple[str, Path]:
        data = self.file_of_random_bytes("plan.pdf", size, prefix=b"%PDF-1.4\n")
        queue_id = self.send([EXTERNAL], body="Hello Bob,\nthe plan.", subject="Plan",
                             attachments=[Attachment(data, "application/pdf")])
        return self.link_from_mail(queue_id), data

    def test_mail_through_a_downloads_through_b(self):
        token, data = self.mail_a_file(2_000_000)
        self.assertEqual(len(self.s3.keys(PREFIX + "/")), 1)
        self.assertEqual(self.pg.sql("SELECT count(*) FROM files")[0][0], "1")
        page = self.client_b.get("/d/" + token)
        self.assertEqual(page.status, 200, page.text[:300])
        [button] = file_buttons(page.text)
        claimed, got = self.client_b.download(token, button["value"])
        self.assertEqual(claimed.status, 303, claimed.text[:300])
        self.assertEqual(got.status, 200)
        self.assertEqual(got.sha256, sha256_file(data))
        # The one download is used up on A as well.
        self.assertEqual(self.client.claim(token, button["value"]).status, 410)

    def test_fifty_racing_posts_over_two_nodes_win_once(self):
        token, data = self.mail_a_file(300_000)
        [button] = file_buttons(self.client.get("/d/" + token).text)
        racers = 50
        results = race_claims(token, button["value"],
                              [self.milter.public_url, self.node_b.public_url], racers)
        claims = Counter(status for status, _ in results)
        print("\n50 racing POSTs over two nodes: %s" % dict(claims))
        self.assertEqual(claims, Counter({303: 1, 410: racers - 1}))
        [winner] = [final for _, final in results if final is not None]
        self.assertEqual(winner.status, 200)
        self.assertEqual(winner.sha256, sha256_file(data))


if __name__ == "__main__":
    unittest.main()
