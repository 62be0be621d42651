"""The sender's status page with a link per recipient, over real sockets and
in Debian's headless Chromium: `attachgate web` on a loopback port, a state
directory seeded through the real Store (seed_link --recipients: two
external recipients with links of their own, one internal who got the
attachment in the mail), one recipient's download and open through HTTP,
then the page in the browser, its per-recipient revoke button, and its
"Send a new link" button.

Screenshots are kept in $ATTACHGATE_TEST_OUTPUT/status-per-recipient
(status.png, status-mobile.png, status-after-revoke.png,
status-after-send-again.png);
docs/images/status-per-recipient.png is status.png from a run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import unittest
from pathlib import Path

from harness import SOURCE_DIR
from test_web import WebTestCase, seed_link_bin

ANN = "ann@partner.example"
BEN = "ben@client.example"
CAROL = "carol@corp.example"  # internal: no link


class StatusPerRecipientTest(WebTestCase):

    def seed_recipients(self) -> dict:
        run = subprocess.run([seed_link_bin(), "--recipients", str(self.web.state_dir), ANN, BEN,
                              "internal:" + CAROL],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(run.returncode, 0, "seed_link failed: %s" % run.stderr.decode())
        return json.loads(run.stdout)

    def browser(self, url: str, out_dir: Path, click: str) -> dict:
        if not (SOURCE_DIR / "tests" / "browser" / "node_modules" / "playwright-core").is_dir():
            self.fail("playwright-core is missing: npm ci --prefix tests/browser")
        shutil.rmtree(out_dir, ignore_errors=True)
        run = subprocess.run(["node", str(SOURCE_DIR / "tests" / "browser" / "download.mjs"),
                              "--url", url, "--out-dir", str(out_dir), "--click", click],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180,
                             env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"})
        try:
            result = json.loads(run.stdout or b"{}")
        except ValueError:
            self.fail("download.mjs printed no JSON (exit %d): %s %s"
                      % (run.returncode, run.stdout[-500:], run.stderr[-1500:]))
        self.assertTrue(result.get("ok"), "browser: %s %s" % (result, run.stderr[-1500:]))
        self.assertEqual(result["csp_violations"], [])
        # Chromium asks for /favicon.ico on its own; there is none (404).
        self.assertEqual([e for e in result["console_errors"] if "favicon.ico" not in e], [])
        return result

    def test_rows_per_recipient_in_the_browser_and_one_revoked(self):
        seeded = self.seed_recipients()
        ann, ben = seeded["links"][ANN], seeded["links"][BEN]
        self.assertNotIn(CAROL, seeded["links"])

        # Ann opens the mail (the pixel) and downloads the report; Ben only looks.
        self.assertEqual(self.client.get("/o/%s.gif" % ann["pixel"]).status, 200)
        claimed, got = self.client.download(ann["token"], seeded["file_ids"][0])
        self.assertEqual(claimed.status, 303, claimed.text[:300])
        self.assertEqual(got.status, 200)
        self.assertEqual(self.client.claim(ann["token"], seeded["file_ids"][0]).status, 410)
        self.assertEqual(self.client.get("/d/" + ben["token"]).status, 200)
        downloaded = self.wait_for_event(seeded["queue_id"], "downloaded")
        self.assertEqual(downloaded[0]["recipient"], ANN)
        self.assertEqual(self.wait_for_event(seeded["queue_id"], "opened")[0]["recipient"], ANN)

        status_path = "/s/" + seeded["status"]
        page = self.client.get(status_path)
        self.assertEqual(page.status, 200)
        for address in (ANN, BEN, CAROL):
            self.assertIn('<h3 class="file-name">%s</h3>' % address, page.text)
        self.assertRegex(page.text, r"q3-report\.pdf</dt><dd>1 of 1 downloads: \d{4}-\d\d-\d\d ")
        self.assertIn("got the attachment in the mail", page.text)
        self.assertEqual(len(re.findall(r'value="revoke-recipient"', page.text)), 2)

        out_dir = Path(os.environ.get("ATTACHGATE_TEST_OUTPUT", self.workdir)) / \
            "status-per-recipient"
        result = self.browser(self.web.public_url + status_path, out_dir,
                              "Revoke this recipient's link: " + BEN)
        self.assertEqual(result["status"], 200)
        self.assertEqual(result["clicked_status"], 200)
        for name, new in (("landing.png", "status.png"), ("landing-mobile.png", "status-mobile.png"),
                          ("clicked.png", "status-after-revoke.png")):
            shot = out_dir / name
            self.assertTrue(shot.is_file() and shot.stat().st_size > 1000, shot)
            shot.rename(out_dir / new)
        print("\nstatus page screenshots: %s" % out_dir)

        # Only Ben's link ended; Ann's second file still downloads.
        self.assertGone(self.client.get("/d/" + ben["token"]), "withdrawn")
        claimed, got = self.client.download(ann["token"], seeded["file_ids"][1])
        self.assertEqual(claimed.status, 303, claimed.text[:300])
        revoked = self.wait_for_event(seeded["queue_id"], "revoked")
        self.assertEqual([(e["recipient"], e["detail"]) for e in revoked], [(BEN, "by the sender")])

        # Ann's link: Send a new link, in the browser. Her old link stops,
        # and the new one waits in the outbox for the notify role.
        result = self.browser(self.web.public_url + status_path, out_dir / "send-again",
                              "Send a new link to " + ANN)
        self.assertEqual(result["clicked_status"], 200)
        (out_dir / "send-again" / "clicked.png").rename(out_dir / "status-after-send-again.png")
        self.assertGone(self.client.get("/d/" + ann["token"]), "withdrawn")
        resent = self.wait_for_event(seeded["queue_id"], "resent")
        self.assertEqual([(e["recipient"], e["detail"]) for e in resent], [(ANN, "by the sender; 2 files")])

        # The CLI lists the same links per recipient.
        show = self.web.cli("show", seeded["queue_id"])
        self.assertEqual(show.returncode, 0, show.stderr.decode(errors="replace"))
        text = show.stdout.decode()
        self.assertRegex(text, r"  %s \(link \d+\): revoked" % re.escape(ANN))
        self.assertRegex(text, r"  %s \(link \d+\): active" % re.escape(ANN))
        self.assertRegex(text, r"  %s \(link \d+\): revoked" % re.escape(BEN))
        self.assertIn("%s: no link of its own (got the attachment in the mail)" % CAROL, text)
        print(text)


if __name__ == "__main__":
    unittest.main()
