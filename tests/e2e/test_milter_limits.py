"""The milter at libmilter's edges, spoken to directly (milter_client.py):
a header over 64 KiB is taken (libmilter's default drops the connection
there, and attachgate logged nothing), and a command over the 1 MiB it
takes ends the connection with a log line naming the queue id.
"""

import re
import unittest

from harness import E2ETestCase, LOOPBACK
from milter_client import MilterClient, MilterClosed

POLICY = """\
on_error = "tempfail"
[[rule]]
name = "all"
action = "offload"
"""


class MilterLimitsTest(E2ETestCase):

    def setUp(self):
        super().setUp()
        self.milter = self.start_milter(POLICY)

    def client(self) -> MilterClient:
        c = MilterClient(LOOPBACK, self.milter.port)
        self.addCleanup(c.close)
        return c

    def test_header_over_64k_is_taken(self):
        c = self.client()
        c.start_message("4AAA00001", "alice@example.org", "bob@example.net")
        folded = b"\r\n\t".join([b"x" * 70] * 3000)  # 216 KiB, one header
        self.assertEqual(c.header("X-Long", folded), b"c")
        self.assertEqual(c.header("Subject", b"after the long one"), b"c")
        self.assertEqual(c.ask(b"N"), b"c", "end of headers")
        # The connection is still good for the next message.
        c.send(b"A")
        c.macros(b"M", i="4AAA00002", mail_addr="alice@example.org")
        self.assertEqual(c.ask(b"M", b"<alice@example.org>\0"), b"c")

    def test_command_over_1m_is_logged_by_queue_id(self):
        c = self.client()
        c.start_message("4BBB00001", "alice@example.org", "bob@example.net")
        with self.assertRaises((MilterClosed, ConnectionResetError, BrokenPipeError)):
            c.header("X-Huge", b"y" * (1100 * 1024))
        line = self.milter.wait_for_log(r"4BBB00001: message ended before its end.*")
        self.assertRegex(line.group(0), r"over 1 MiB.*nothing was stored")
        # And the milter still serves the next connection.
        c2 = self.client()
        c2.start_message("4BBB00002", "alice@example.org", "bob@example.net")
        self.assertEqual(c2.header("Subject", b"fine"), b"c")


if __name__ == "__main__":
    unittest.main()
