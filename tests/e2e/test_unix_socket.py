"""The milter on a unix socket, deployed the way contrib/systemd and
contrib/postfix/main.cf describe: the socket in a directory inside Postfix's
queue directory that belongs to the milter's own user with group postfix
and the setgid bit (2750), the milter under umask 077 (the unit's UMask=),
and Postfix's smtpd and cleanup chrooted in the queue directory (Debian's
default) naming the socket by a path relative to it.

The test makes that user (and its group) and removes them afterwards; a
lock keeps two runs on one machine from sharing them. No group membership
changes: postfix reaches the socket through the directory's group.
The milter then runs as that user, from a copy of the binary, conf/ and
templates/ that the user can read: the checkout may sit in a private home.
"""

from __future__ import annotations

import fcntl
import grp
import os
import pwd
import re
import shutil
import subprocess
import time
import unittest
from pathlib import Path

from harness import (SOURCE_DIR, Attachment, E2ETestCase, Milter, attachgate_bin, child_pids,
                     swaks, tail)

USER = "attachgate-e2e"  # the milter's user, like attachgate in production
LOCK = Path("/run/lock/attachgate-e2e-user.lock")
SOCKET_DIR = "attachgate"  # inside the queue directory, as /var/spool/postfix/attachgate

POLICY = """\
on_error = "tempfail"
internal_domains = ["example.org"]

[[rule]]
name = "large-to-external"
recipients = "any_external"
min_size = "100KB"
action = "offload"
"""


def _run(*args: str) -> None:
    run = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if run.returncode != 0:
        raise AssertionError("%s failed (exit %d): %s" % (" ".join(args), run.returncode, run.stdout))


def _install_readable(workdir: Path) -> Path:
    """The binary, conf/ and templates/, copied where any user may read them
    (files 0644, the binary and directories 0755); returns that directory."""
    stage = workdir / "install"
    stage.mkdir(mode=0o755)
    shutil.copyfile(attachgate_bin(), stage / "attachgate")
    (stage / "attachgate").chmod(0o755)
    for tree in ("conf", "templates"):
        shutil.copytree(SOURCE_DIR / tree, stage / tree, copy_function=shutil.copyfile)
    for path in stage.rglob("*"):
        if path.name != "attachgate":
            path.chmod(0o755 if path.is_dir() else 0o644)
    return stage


def _exists(getter, name: str) -> bool:
    try:
        getter(name)
        return True
    except KeyError:
        return False


class UnixSocketChrootTest(E2ETestCase):

    def setUp(self) -> None:
        super().setUp()
        for tool in ("useradd", "userdel", "groupdel"):
            if shutil.which(tool) is None:
                self.fail("%s is not installed (package passwd)" % tool)
        LOCK.parent.mkdir(parents=True, exist_ok=True)
        lock = open(LOCK, "w")
        self.addCleanup(lock.close)
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Cleanups run last-in first-out: the user and group go, then the lock.
        self.addCleanup(self.remove_user)
        # A run killed half way may have left the user, or only its group.
        if not _exists(pwd.getpwnam, USER):
            if _exists(grp.getgrnam, USER):
                _run("groupdel", USER)
            _run("useradd", "--system", "--user-group", "--no-create-home",
                 "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", USER)

    def remove_user(self) -> None:
        # userdel refuses while a process of the user's is still exiting.
        deadline = time.monotonic() + 30
        while _exists(pwd.getpwnam, USER):
            run = subprocess.run(["userdel", USER], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
            if run.returncode != 0 and time.monotonic() > deadline:
                raise AssertionError("userdel %s: %s" % (USER, run.stdout))
            time.sleep(0.2)
        if _exists(grp.getgrnam, USER):
            _run("groupdel", USER)

    def test_chrooted_postfix_reaches_the_milter_through_a_relative_unix_path(self):
        user = pwd.getpwnam(USER)
        queue_dir = self.workdir / "postfix" / "queue"
        socket_dir = queue_dir / SOCKET_DIR
        postfix_gid = grp.getgrnam("postfix").gr_gid
        socket_dir.mkdir(parents=True)
        os.chown(socket_dir, user.pw_uid, postfix_gid)
        socket_dir.chmod(0o2750)
        state_dir = self.workdir / "state"
        state_dir.mkdir(mode=0o700)
        os.chown(state_dir, user.pw_uid, user.pw_gid)
        policy = self.workdir / "policy.toml"
        policy.write_text(POLICY)
        policy.chmod(0o644)

        sink = self.start_sink()
        stage = _install_readable(self.workdir)
        milter = Milter(self.workdir, policy, unix_path=socket_dir / "milter.sock",
                        user=USER, umask=0o077, bin=stage / "attachgate", cwd=stage,
                        config=stage / "conf" / "attachgate.toml")
        self.addCleanup(self.check_stopped_cleanly, milter)
        milter.start(timeout=30)
        # Under umask 077 libmilter made it 0700; attachgate made it 0660,
        # and it took group postfix from the setgid directory.
        st = milter.unix_path.stat()
        self.assertEqual(oct(st.st_mode & 0o7777), oct(0o660))
        self.assertEqual((st.st_uid, st.st_gid), (user.pw_uid, postfix_gid))
        self.assertNotIn("postfix", grp.getgrnam(USER).gr_mem)
        milter.wait_for_log(r"milter socket %s mode 0660, group postfix$"
                            % re.escape(str(milter.unix_path)))

        pf = self.start_postfix(milter="unix:%s/milter.sock" % SOCKET_DIR, sink=sink, chroot=True)
        attachment = self.file_of_random_bytes("report.bin", 300_000)
        result = swaks(pf.port, "alice@example.org", ["bob@example.net"],
                       attachments=[Attachment(attachment)])
        queue_id = self.assertAccepted(result)
        pf.wait_for_delivery(queue_id)
        self.assertNotIn("warning: connect to Milter", pf.maillog())

        # The smtpd that took the mail is still there, idle, inside its jail.
        master = int((queue_dir / "pid" / "master.pid").read_text().split()[0])
        smtpds = [pid for pid in child_pids(master)
                  if Path("/proc/%d/comm" % pid).read_text().strip() == "smtpd"]
        self.assertTrue(smtpds, "no smtpd under master %d" % master)
        self.assertEqual(os.readlink("/proc/%d/root" % smtpds[0]), str(queue_dir.resolve()))

        message = sink.find(queue_id).parse()
        self.assertRegex(str(message["X-Attachgate"] or ""), r"^offloaded=1; message=[0-9a-f]+$",
                         "no offload header; milter log:\n" + tail(milter.log))
        self.assertNotIn("report.bin", [part.get_filename() for part in message.walk()])
        milter.wait_for_log(r"%s: offloaded 1 file" % queue_id)


if __name__ == "__main__":
    unittest.main()
