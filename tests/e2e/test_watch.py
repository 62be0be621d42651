"""The delivery watcher through a real Postfix: `attachgate run` with
--postfix-log pointed at the private Postfix's maillog_file. Offloaded mail
relayed to smtp-sink must show `delivered` (with the relay and its reply)
in `attachgate show`; with the sink gone, `deferred`; with a sink that
refuses every recipient, `bounced`. Across `postfix logrotate` (rename,
then gzip of the old file) and a restart of attachgate, each event is
recorded once and none is missed.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import unittest

from harness import ENGINES, LOOPBACK, Attachment, Milter, _terminate, port_accepts, swaks, wait_until
from test_milter import EXTERNAL, POLICY, SENDER, MilterTestCase


class WatchTestCase(MilterTestCase):

    def setUp(self) -> None:
        super().setUp()
        self.sink = self.start_sink()
        # PrivatePostfix keeps its log here (maillog_file); the watcher starts
        # first and waits for the file to appear.
        self.maillog = self.workdir / "postfix" / "maillog"
        policy = self.workdir / "policy.toml"
        policy.write_text(POLICY)
        self.milter = Milter(self.workdir, policy, role="run", postfix_log=self.maillog)
        self.addCleanup(self.check_stopped_cleanly, self.milter)
        self.milter.start()
        self.milter.wait_for_log(r"attachgate/watch\[\d+\]: delivery watcher following")
        self.postfix = self.start_postfix(milter=self.milter.postfix_spec, sink=self.sink)
        self.assertEqual(self.postfix.maillog_path, self.maillog)

    def send_offloaded(self, wait: bool = True) -> str:
        """An attachment over the policy's 100 KB to an outside recipient;
        returns the queue id (after Postfix relayed it, if wait)."""
        pdf = self.file_of_random_bytes("report-%s.pdf" % os.urandom(3).hex(), 150_000,
                                        prefix=b"%PDF-1.4\n")
        kw = dict(body="Hello Bob", subject="Report",
                  attachments=[Attachment(pdf, "application/pdf")])
        if wait:
            return self.send([EXTERNAL], **kw)
        return self.assertAccepted(swaks(self.postfix.port, SENDER, [EXTERNAL], **kw))

    def deliveries(self, queue_id: str, kind: str) -> list[dict]:
        return [e for e in self.show(queue_id)["events"] if e["kind"] == kind]

    def wait_for_event(self, queue_id: str, kind: str, timeout: float = 60) -> dict:
        found: list[dict] = []

        def look() -> bool:
            found[:] = self.deliveries(queue_id, kind)
            return bool(found)

        if not wait_until(look, timeout, 0.5):
            self.fail("no %s event for %s after %g s; events: %s\nmaillog:\n%s\nattachgate log:\n%s"
                      % (kind, queue_id, timeout, self.show(queue_id)["events"],
                         self.postfix.maillog()[-3000:], self.milter.log_text()[-3000:]))
        self.assertEqual(found[0]["recipient"], EXTERNAL)
        return found[0]

    def postfix_command(self, *args: str) -> None:
        run = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=120)
        self.assertEqual(run.returncode, 0, "%s failed:\n%s" % (" ".join(args), run.stdout))

    def start_refusing_sink(self) -> None:
        """An smtp-sink on the old sink's port that refuses every RCPT TO
        with 500 5.3.0, so Postfix bounces."""
        with open(self.workdir / "smtp-sink-refusing.log", "ab") as log:
            proc = subprocess.Popen(["smtp-sink", "-u", "postfix", "-f", "RCPT",
                                     "%s:%d" % (LOOPBACK, self.sink.port), "64"],
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.addCleanup(_terminate, proc)
        self.assertTrue(wait_until(lambda: port_accepts(self.sink.port), 10),
                        "the refusing smtp-sink did not start")


class WatchTest(WatchTestCase):

    def test_delivered_deferred_and_bounced(self):
        sent = self.send_offloaded()
        delivered = self.wait_for_event(sent, "delivered")
        self.assertIn("relay=127.0.0.1[127.0.0.1]:%d" % self.sink.port, delivered["detail"])
        self.assertIn("dsn=2.0.0", delivered["detail"])
        self.assertIn("250 2.0.0 Ok", delivered["detail"])

        # No relay: Postfix keeps the mail and says why.
        self.sink.stop()
        held = self.send_offloaded(wait=False)
        deferred = self.wait_for_event(held, "deferred")
        self.assertIn("Connection refused", deferred["detail"])
        self.assertEqual(self.deliveries(held, "delivered"), [])

        # The relay is back but refuses the recipient: the next try bounces.
        self.start_refusing_sink()
        self.postfix_command("postqueue", "-c", str(self.postfix.dir / "etc"), "-f")
        bounced = self.wait_for_event(held, "bounced")
        self.assertIn("dsn=5.3.0", bounced["detail"])
        self.assertIn("500 5.3.0", bounced["detail"])
        # The first mail's one delivery is still one.
        self.assertEqual(len(self.deliveries(sent, "delivered")), 1)

    @unittest.skipIf(ENGINES, "reads the watcher's position from the SQLite catalog file")
    def test_rotation_and_restart_record_each_delivery_once(self):
        first = self.send_offloaded()
        self.wait_for_event(first, "delivered")

        # postfix logrotate renames maillog, reloads (postlogd opens a new
        # file), waits a second and gzips the old one.
        self.postfix_command("postfix", "-c", str(self.postfix.dir / "etc"), "logrotate")
        self.assertTrue(list(self.maillog.parent.glob("maillog.*.gz")), "no rotated maillog")
        second = self.send_offloaded()
        self.wait_for_event(second, "delivered")
        self.milter.wait_for_log(r"watch: .*maillog was rotated; reading the new file")

        # A restart continues from the saved position in the new file.
        self.milter.stop()
        self.milter.start()
        third = self.send_offloaded()
        self.wait_for_event(third, "delivered")
        for queue_id in (first, second, third):
            self.assertEqual(len(self.deliveries(queue_id, "delivered")), 1, queue_id)
        self.assertEqual(len({first, second, third}), 3)

        # The catalog's place is in the file Postfix writes now, at a line end.
        db = sqlite3.connect(self.milter.state_dir / "catalog.db", timeout=10)
        try:
            row = db.execute("SELECT inode, offset FROM watch_position WHERE log_path = ?",
                             (str(self.maillog),)).fetchone()
        finally:
            db.close()
        self.assertIsNotNone(row)
        self.assertEqual(row[0], self.maillog.stat().st_ino)
        text = self.maillog.read_bytes()
        self.assertLessEqual(row[1], len(text))
        self.assertEqual(text[row[1] - 1:row[1]], b"\n")


if __name__ == "__main__":
    unittest.main()
