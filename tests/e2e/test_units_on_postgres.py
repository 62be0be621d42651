"""The catalog's unit tests, run a second time against PostgreSQL.

The store, web, notify, watch and milter unit tests open their catalogs through
tests/support/test_catalog.h; with ATTACHGATE_TEST_POSTGRES set, every
catalog they open is a schema of its own in one real PostgreSQL 15 (started
here, on loopback, as engines.py does), so the same assertions hold the
PostgreSQL back end to the same contracts as SQLite. Tests that are about
SQLite itself (its file, its PRAGMAs, its fsyncs) are named in SQLITE_ONLY and
left out, each for a reason given there.
"""

from __future__ import annotations

import os
import re
import subprocess
import unittest

from engines import EnginesTestCase

# Tests about SQLite itself, left out here, each with its reason.
SQLITE_ONLY = [
    # PRAGMA ignore_check_constraints: bypasses a CHECK to plant a bad value
    # (PostgreSQL has no such switch; its CHECKs hold).
    "CatalogDeathTest.TextNoValueNamesIsRefusedWhereTheRowIsRead",
    # secure_delete and the WAL checkpoint: about SQLite's file on disk.
    "CatalogOutboxTest.DeletedContentIsOverwrittenNotJustFreed",
    # SQLite's migrations 1..8 from older files (PostgreSQL begins at 8).
    "CatalogOutboxMigration.*", "CatalogMigration.*",
    # Counts SQLite's fsyncs through a VFS.
    "CatalogTest.ViewsCommitLazilyAndEverythingElseStaysFull",
    # The catalog file's and its WAL's modes.
    "Store.CatalogAndItsWalAreOwnerOnlyWhateverTheUmask", "Store.AWidenedCatalogIsMadePrivateAgain",
]

# app_test is not here yet: its commands open the catalog through the config.
UNIT_BINARIES = ["STORE_TEST_BIN", "WEB_TEST_BIN", "NOTIFY_TEST_BIN", "WATCH_TEST_BIN",
                 "MILTER_TEST_BIN"]


class UnitTestsOnPostgres(EnginesTestCase):

    def test_unit_tests_pass_with_every_catalog_on_postgresql(self):
        pg = self.start_postgres(fsync=False)
        env = dict(os.environ, ATTACHGATE_TEST_POSTGRES=pg.url,
                   PGPASSWORD=pg.password_file.read_text().strip())
        for var in UNIT_BINARIES:
            binary = os.environ.get(var)
            if not binary:
                self.fail("%s is not set: run through ctest" % var)
            with self.subTest(binary=os.path.basename(binary)):
                run = subprocess.run(
                    [binary, "--gtest_brief=1", "--gtest_filter=-" + ":".join(SQLITE_ONLY)],
                    env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                    timeout=900)
                out = run.stdout
                passed = re.search(r"\[  PASSED  \] (\d+) test", out)
                self.assertEqual(run.returncode, 0, "%s failed on PostgreSQL:\n%s"
                                 % (binary, out[-20000:]))
                self.assertIsNotNone(passed, out[-3000:])
                self.assertGreater(int(passed.group(1)), 10, out[-3000:])
        # The tests really used PostgreSQL: their schemas are there.
        schemas = pg.sql("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 't\\_%'")
        self.assertGreater(int(schemas[0][0]), 50)


if __name__ == "__main__":
    unittest.main()
