"""Two attachgate nodes sharing one state: the catalog on PostgreSQL 15 and
the blobs in S3 (engines.py starts both on loopback), one master key file.

Node A is `attachgate run` behind the test's Postfix; node B is a second
`attachgate web` with a state directory of its own, on another port. Mail
goes in through A and its link downloads through B byte for byte; 50 POSTs
racing on one one-time link, split over A and B, win exactly once; a
download claimed and begun on A resumes with Range on B after A is killed;
the upload API and the sender's status page (its revoke too) work the same
from either node.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import subprocess
import unittest
from collections import Counter
from pathlib import Path

from engines import EnginesMixin
from harness import (DEFAULT_CONFIG, LOOPBACK, Attachment, Milter, PrivatePostfix, attachgate_bin,
                     child_pids, wait_until)
from recipient import Recipient, file_buttons, race_claims
from test_download import MailDownloadTestCase
from test_milter import EXTERNAL, POLICY, TOKEN, MilterTestCase, body_text, leaf_parts, sha256_file
from test_sender import SenderStackTestCase, hidden_fields
from test_web import seed_link_bin

PREFIX = "shared"


class ScaleOutTest(EnginesMixin, MailDownloadTestCase):

    def shared_config(self, name: str, extra: str = "") -> Path:
        if not hasattr(self, "api_key"):
            self.api_key, self.api_key_hash = new_api_key()
        text = self.on_engines(DEFAULT_CONFIG.read_text(), self.pg, self.s3, PREFIX)
        self.assertIn("keys = []", text)
        path = self.workdir / name
        path.write_text(extra + text.replace("keys = []", 'keys = ["%s"]' % self.api_key_hash, 1))
        return path

    def start_milter(self, policy_text: str, role: str = "milter") -> Milter:
        self.pg = self.start_postgres(fsync=False)
        self.s3 = self.start_s3()
        policy = self.workdir / "policy.toml"
        policy.write_text(policy_text)
        self.config_a = self.shared_config("a.toml")
        node_a = Milter(self.workdir, policy, role=role, config=self.config_a)
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

    def test_link_seeded_through_the_config_downloads_through_b(self):
        # seed_link --config opens the store as the nodes do (the benchmarks
        # seed their PostgreSQL + S3 links this way): rows in PostgreSQL, the
        # blob in the bucket, not under node A's state directory.
        data = self.file_of_random_bytes("seeded.bin", 700_000)
        before = set(self.s3.keys(PREFIX + "/"))
        run = subprocess.run([seed_link_bin(), "--config", str(self.config_a),
                              str(self.milter.state_dir), str(data), b"seeded.bin".hex(), "1",
                              "3600"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(run.returncode, 0, run.stderr.decode(errors="replace"))
        link = json.loads(run.stdout)
        self.assertEqual(len(set(self.s3.keys(PREFIX + "/")) - before), 1)
        self.assertEqual(self.pg.sql("SELECT count(*) FROM messages WHERE queue_id = '%s'"
                                     % link["queue_id"])[0][0], "1")
        self.assertFalse((self.milter.state_dir / "catalog.db").exists())
        claimed, got = self.client_b.download(link["token"], link["file_id"])
        self.assertEqual(claimed.status, 303, claimed.text[:300])
        self.assertEqual(got.status, 200)
        self.assertEqual(got.sha256, sha256_file(data))

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

    def test_a_download_begun_on_a_resumes_with_range_on_b_after_a_is_killed(self):
        # Through the API and large: socket buffers cannot hold it all, so A
        # cannot have sent the whole file by the time it dies.
        size = 40 << 20
        data = self.file_of_random_bytes("big.bin", size)
        made = self.api(self.milter, "PUT", "/api/v1/files/big.bin", data.read_bytes(), 201)
        token = made["download_url"].rsplit("/", 1)[1]
        claimed = self.client.claim(token, made["id"])
        self.assertEqual(claimed.status, 303, claimed.text[:300])
        ticket = claimed.header("Location")
        conn = http.client.HTTPConnection(LOOPBACK, self.milter.web_port, timeout=60)
        conn.request("GET", ticket)
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        head = resp.read(1_000_000)
        self.assertEqual(len(head), 1_000_000)
        # A dies mid-download, every process of it.
        pids = [self.milter.proc.pid] + child_pids(self.milter.proc.pid)
        self.milter.kill()
        for pid in pids:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        conn.close()
        # A's transfer still holds the ticket's lease (one transfer at a
        # time), which a dead node cannot end: B says so, and when to come
        # back, until the lease runs out (60 s after A last renewed it).
        rest = self.client_b.get(ticket, headers={"Range": "bytes=%d-" % len(head)})
        self.assertEqual(rest.status, 409, rest.text[:300])
        self.assertEqual(rest.header("Retry-After"), "60")

        def resumed() -> bool:
            nonlocal rest
            rest = self.client_b.get(ticket, headers={"Range": "bytes=%d-" % len(head)})
            return rest.status != 409
        self.assertTrue(wait_until(resumed, 90, 2), "the dead node's lease never ran out")
        self.assertEqual(rest.status, 206, rest.text[:300])
        self.assertEqual(rest.header("Content-Range"),
                         "bytes %d-%d/%d" % (len(head), size - 1, size))
        whole = hashlib.sha256(head + rest.body).hexdigest()
        self.assertEqual(whole, sha256_file(data))

    def test_the_upload_api_works_from_either_node(self):
        src = self.file_of_random_bytes("data.bin", 500_000)
        made = self.api(self.milter, "PUT", "/api/v1/files/data.bin?max_downloads=3",
                        src.read_bytes(), 201)
        self.assertTrue(made["download_url"].startswith(self.milter.public_url + "/d/"), made)
        shown = self.api(self.node_b, "GET", "/api/v1/files/" + made["id"], None, 200)
        self.assertEqual((shown["status"], shown["size"]), ("active", 500_000))
        token = made["download_url"].rsplit("/", 1)[1]
        claimed, got = self.client_b.download(token, made["id"])
        self.assertEqual(got.sha256, sha256_file(src))
        self.assertEqual(self.api(self.milter, "GET", "/api/v1/files/" + made["id"], None,
                                  200)["downloads"], 1)
        self.api(self.node_b, "DELETE", "/api/v1/files/" + made["id"], None, 204)
        gone = self.client.get("/d/" + token)
        self.assertEqual(gone.status, 410)
        self.assertIn("withdrawn", gone.text)
        # And the other way round: made on B, deleted on A.
        made_b = self.api(self.node_b, "PUT", "/api/v1/files/b.bin", b"from b" * 1000, 201)
        self.api(self.milter, "DELETE", "/api/v1/files/" + made_b["id"], None, 204)
        self.assertEqual(self.api(self.node_b, "GET", "/api/v1/files/" + made_b["id"], None,
                                  200)["status"], "revoked")

    def api(self, node: Milter, method: str, path: str, body: bytes | None,
            expect: int) -> dict:
        conn = http.client.HTTPConnection(LOOPBACK, node.web_port, timeout=120)
        try:
            conn.request(method, path, body=body, headers={"X-API-Key": self.api_key})
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        self.assertEqual(resp.status, expect, "%s %s on %s: %s" % (method, path, node.role, data[:300]))
        return json.loads(data) if data else {}


def new_api_key() -> tuple[str, str]:
    """(key, its hash for [api] keys) from `attachgate --json api-key`."""
    made = subprocess.run([str(attachgate_bin()), "--json", "api-key"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60, check=True)
    key = json.loads(made.stdout)
    return key["key"], key["hash"]


class ScaleOutSenderTest(EnginesMixin, SenderStackTestCase):
    """Node A is `attachgate run` with its notifier (receipts go through the
    test's Postfix to the sink); node B a second web node on the same
    engines. The receipt's status page works on both, and a revoke from B's
    copy of it ends the link on A."""

    def setUp(self) -> None:
        MilterTestCase.setUp(self)
        pg = self.start_postgres(fsync=False)
        s3 = self.start_s3()
        config = self.on_engines(DEFAULT_CONFIG.read_text(), pg, s3, PREFIX)
        self.sink = self.start_sink()
        self.postfix = PrivatePostfix(self.workdir)
        self.addCleanup(self.postfix.stop)
        policy = self.workdir / "policy.toml"
        policy.write_text(POLICY)
        (self.workdir / "a.toml").write_text(config)
        self.milter = Milter(self.workdir, policy, role="run", config=self.workdir / "a.toml",
                             postfix_log=self.postfix.maillog_path,
                             relay="smtp://127.0.0.1:%d" % self.postfix.port)
        self.addCleanup(self.milter.stop)
        self.milter.start()
        self.postfix.start(self.milter.postfix_spec, relay_to="127.0.0.1:%d" % self.sink.port)
        (self.workdir / "b").mkdir()
        key = self.milter.state_dir / "master.key"
        (self.workdir / "b.toml").write_text("master_key_file = %s\n" % json.dumps(str(key)) + config)
        self.node_b = Milter(self.workdir / "b", policy, role="web", config=self.workdir / "b.toml")
        self.addCleanup(self.node_b.stop)
        self.node_b.start()
        self.client = Recipient(self.milter.public_url)
        self.client_b = Recipient(self.node_b.public_url)

    def test_the_status_page_and_its_revoke_work_from_either_node(self):
        doc = self.file_of_random_bytes("contract.pdf", 200_000, prefix=b"%PDF-1.4\n")
        queue_id = self.send([EXTERNAL], body="Please sign.", subject="[secure] Contract",
                             attachments=[Attachment(doc, "application/pdf")])
        text = body_text(leaf_parts(self.sink.find(queue_id).parse())[0])
        [token] = set(self.download_links(text))
        body = self.sink_mail("receipt").get_content()
        status = re.search(re.escape(self.milter.public_url) + r"(/s/" + TOKEN + r")", body)
        self.assertIsNotNone(status, "no status page link in the receipt:\n" + body)
        path = status.group(1)
        page_a, page_b = self.client.get(path), self.client_b.get(path)
        for page in (page_a, page_b):
            self.assertEqual(page.status, 200, page.text[:300])
            for want in ("Contract", EXTERNAL, "contract.pdf", "active"):
                self.assertIn(want, page.text)
        # The form as node A served it, posted to node B.
        fields = hidden_fields(page_a.text)
        fields["do"] = "revoke"
        revoked = self.client_b.post_form(path, fields)
        self.assertIn(revoked.status, (200, 303), revoked.text[:300])
        gone = self.client.get("/d/" + token)
        self.assertEqual(gone.status, 410)
        self.assertIn("withdrawn", gone.text)
        self.assertTrue(wait_until(lambda: "revoked" in self.client.get(path).text, 10, 0.5))


if __name__ == "__main__":
    unittest.main()
