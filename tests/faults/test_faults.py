"""Fault campaigns, short: the milter and the notify role killed with
SIGKILL while mail flows, a state directory that runs out of space
mid-message, a catalog locked by another process or made read-only. Each
time the promise is the same: every recipient gets every message, either
offloaded with a link of their own whose downloads match the originals'
SHA-256 or after a tempfail and the sending MTA's retry; a recipient who
gets one twice (a recipient copy sent again after a kill) is named in the
trail; and the state directory holds no blob without a row, no row without
a blob, no half-written file. See campaign.py for the stack
(front Postfix -> gateway Postfix with attachgate -> smtp-sink) and
bench/faults for the long run.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

import campaign
from campaign import Sender, Stack, build_message, harness, log, store_state, verify


class FaultTestCase(unittest.TestCase):

    def setUp(self) -> None:
        if os.geteuid() != 0:
            self.fail("fault tests run Postfix and mount tmpfs: they must run as root")
        self.workdir = Path(tempfile.mkdtemp(prefix="attachgate-faults-"))
        self.workdir.chmod(0o755)
        self._failed_before = None

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        bad = len(result.failures) + len(result.errors)
        try:
            return super().run(result)
        finally:
            if getattr(self, "workdir", None) and self.workdir.exists():
                if len(result.failures) + len(result.errors) > bad or \
                        os.environ.get("ATTACHGATE_E2E_KEEP"):
                    print("\n%s: kept %s" % (self.id(), self.workdir))
                else:
                    shutil.rmtree(self.workdir, ignore_errors=True)

    def assertCampaignClean(self, result: dict) -> None:
        self.assertEqual(result["failures"], [], json.dumps(result, indent=1))
        store = result["store"]
        for key in ("blobs_without_row", "rows_without_blob", "temp_files", "spool_files"):
            self.assertEqual(store[key], 0, "%s: %s" % (key, json.dumps(result, indent=1)))
        self.assertEqual(sum(result["outcomes"].values()), result["messages"])

    # ---- one message at a time, for the disk and catalog faults ----------

    def send_one(self, stack: Stack, seq: int, size: int) -> campaign.Sent:
        data, sent = build_message(seq, random.Random(seq), size, size, max_attachments=1)
        sender = Sender(stack.front.port)
        try:
            sent.front_qid = sender.send(data)
        finally:
            sender.close()
        return sent

    def wait_deferred(self, stack: Stack, sent: campaign.Sent, timeout: float = 120) -> str:
        """The front Postfix was told 4xx by the gateway for this message."""
        line = stack.front.wait_for_log(r"\b%s: to=<.*status=deferred.*" % sent.front_qid,
                                        timeout)
        self.assertRegex(line.group(0), r"said: 4\d\d ")
        return line.group(0)

    def assertNothingStored(self, stack: Stack) -> None:
        state = store_state(stack.milter.state_dir)
        self.assertTrue(state.consistent, state)
        self.assertEqual((state.rows, state.blobs_on_disk, len(state.messages)), (0, 0, 0),
                         "a tempfailed message left rows or blobs: %s" % state)

    def assertDeliveredAfterRetry(self, stack: Stack, sent: list[campaign.Sent]) -> dict:
        by_seq = {s.seq: s for s in sent}
        arrived = campaign.wait_all_arrived(stack, by_seq, 180, flush_every=3)
        result = verify(stack, by_seq, arrived)
        self.assertCampaignClean(result)
        self.assertEqual(result["outcomes"], {"offloaded after tempfail and retry": len(sent)},
                         json.dumps(result, indent=1))
        return result


class KillTest(FaultTestCase):
    """SIGKILL at random moments and at each named crash point, ~50 messages,
    a third of them to 2-4 recipients."""

    def test_kill_campaign_smoke(self):
        result = campaign.kill_campaign(self.workdir / "run", messages=50, kills=10, seed=13,
                                        high=2_000_000, settle_timeout=240, multi_share=1 / 3)
        log(json.dumps(result, indent=1))
        self.assertCampaignClean(result)
        self.assertGreaterEqual(result["kills"]["total"], 5, result["kills"])
        self.assertEqual(result["outcomes"].get("lost", 0), 0)
        self.assertGreater(result["messages_to_several"], 0, "no recipient copies were tried")


class CopyReleaseTest(FaultTestCase):
    """The gap the kill campaign found (docs/reliability.md, "An unnamed
    duplicate"), made certain: the milter dies at before_reply on a message
    to three recipients, after it released the recipient copies and before
    Postfix heard its answer. Postfix tempfails the original, the copies go
    out anyway, and the front's retry is offloaded again: the recipients of
    copies get a second link, which the retry's `queued` events must name
    (Catalog::copy_queued matches the earlier attempt by sender and
    Message-ID)."""

    def test_a_kill_before_the_reply_leaves_no_unnamed_duplicate(self):
        stack = Stack(self.workdir / "run", notify=True)
        self.addCleanup(stack.stop)
        stack.start()
        stack.milter.kill_all()
        stack.milter.start(fault="before_reply:1")
        data, sent = build_message(1, random.Random(1), 300_000, 300_000, max_attachments=1,
                                   recipients=campaign.RECIPIENTS[:3])
        start = len(stack.milter.log_text())
        sender = Sender(stack.front.port)
        try:
            sent.front_qid = sender.send(data, sent.recipients)
        finally:
            sender.close()
        stack.milter.wait_for_log(r"recipient copies queued\);.*\n.*milter exited with status 137",
                                  timeout=60, start=start)
        stack.milter.kill_all()  # before the supervisor restarts it with the same fault
        stack.milter.start()
        # Two offloads, each with two copies: wait until all four are out.
        def copies_out() -> bool:
            stack.flush()
            return len(re.findall(r"recipient copy to \S+ queued as",
                                  stack.milter.log_text()[start:])) >= 4
        self.assertTrue(harness.wait_until(copies_out, 120, 2), stack.milter.log_text()[start:])
        arrived = campaign.wait_all_arrived(stack, {1: sent}, 60, flush_every=3)
        time.sleep(2)  # the last copy from the sink's queue
        result = verify(stack, {1: sent}, stack.arrivals())
        log(json.dumps(result, indent=1))
        self.assertEqual(result["failures"], [], json.dumps(result, indent=1))


class TmpfsMixin:
    def mount_tmpfs(self, path: Path, size: str) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tmpfs",
                        str(path)], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", str(path)])
        return path


class FullDiskTest(FaultTestCase, TmpfsMixin):
    """The state directory on a small tmpfs that fills up mid-message."""

    def fill_leaving(self, state: Path, free_bytes: int) -> Path:
        ballast = state / "ballast"
        st = os.statvfs(state)
        have = st.f_bavail * st.f_frsize
        with open(ballast, "wb") as f:
            left = max(0, have - free_bytes)
            while left > 0:
                n = min(left, 1 << 20)
                f.write(b"\0" * n)
                left -= n
        return ballast

    def test_full_disk_tempfails_then_delivers(self):
        state = self.mount_tmpfs(self.workdir / "state", "40m")
        stack = Stack(self.workdir / "run", state_dir=state)
        self.addCleanup(stack.stop)
        stack.start()
        size = 6_000_000  # about 8.1 MB in the spool as base64, 6 MB as a blob
        cases = [("spool", 3_000_000), ("blob", 11_000_000)]
        sent = []
        for seq, (where, free) in enumerate(cases, 1):
            ballast = self.fill_leaving(state, free)
            log_start = len(stack.milter.log_text())
            s = self.send_one(stack, seq, size)
            sent.append(s)
            self.wait_deferred(stack, s)
            text = stack.milter.log_text()[log_start:]
            self.assertRegex(text, r"No space left on device|database or disk is full",
                             "%s case: the milter log should say why:\n%s" % (where, text))
            if where == "blob":
                self.assertRegex(text, r"storing f%d-0\.bin" % seq, text)
            self.assertNothingStored(stack)
            ballast.unlink()
        self.assertDeliveredAfterRetry(stack, sent)


class CatalogFaultTest(FaultTestCase):
    """Another process holds the catalog's write lock past busy_timeout, or
    the catalog's files become read-only."""

    def test_locked_catalog_tempfails_then_delivers(self):
        stack = Stack(self.workdir / "run")
        self.addCleanup(stack.stop)
        stack.start()
        db = sqlite3.connect(str(stack.milter.state_dir / "catalog.db"), isolation_level=None,
                             timeout=30)
        db.execute("BEGIN EXCLUSIVE")
        log_start = len(stack.milter.log_text())
        s = self.send_one(stack, 1, 300_000)
        # The milter waits busy_timeout (10 s) for the lock, then tempfails.
        self.wait_deferred(stack, s, timeout=90)
        db.execute("ROLLBACK")
        db.close()
        self.assertRegex(stack.milter.log_text()[log_start:], r"catalog: .*(locked|busy)")
        self.assertNothingStored(stack)
        self.assertDeliveredAfterRetry(stack, [s])

    def test_read_only_catalog_tempfails_then_delivers(self):
        if shutil.which("chattr") is None:
            self.skipTest("chattr (e2fsprogs) is not installed")
        stack = Stack(self.workdir / "run")
        self.addCleanup(stack.stop)
        stack.start()
        state = stack.milter.state_dir
        files = [p for p in (state / "catalog.db", state / "catalog.db-wal") if p.exists()]
        # Root ignores file modes; the immutable flag stops even its open
        # descriptors from writing (the workdir is on ext4 or similar).
        run = subprocess.run(["chattr", "+i", *map(str, files)], stderr=subprocess.PIPE)
        if run.returncode != 0:
            self.skipTest("chattr +i does not work here: %s" % run.stderr.decode())
        self.addCleanup(subprocess.run, ["chattr", "-i", *map(str, files)])
        log_start = len(stack.milter.log_text())
        s = self.send_one(stack, 1, 300_000)
        self.wait_deferred(stack, s, timeout=90)
        self.assertRegex(stack.milter.log_text()[log_start:], r"catalog: ")
        subprocess.run(["chattr", "-i", *map(str, files)], check=True)
        self.assertNothingStored(stack)
        self.assertDeliveredAfterRetry(stack, [s])


if __name__ == "__main__":
    unittest.main()
