#!/usr/bin/python3
"""Members' own data against a real Dovecot and Postfix (issue 11): the
CSV that Dutch Excel writes goes in and comes back out; one bad row
imports nothing; imported people get no mail unless asked; "botu members
forget" leaves no trace of the address in any botu.db* file, only counts;
retention on a scripted clock (libfaketime) erases a leaver after 30 days.

Each test has its own list address (its own mailbox and database).
"""
import csv
import datetime
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import botutest  # noqa: E402

ASAN_BIN = os.path.join(botutest.REPO, "build-asan", "botu")
BOTU_BIN = os.environ.get("BOTU_BIN") or (
    ASAN_BIN if os.access(ASAN_BIN, os.X_OK) else botutest.BOTU_BIN)
DATA = os.path.join(botutest.REPO, "tests", "data", "members")
FAKETIME = next((p for p in (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/faketime/libfaketimeMT.so.1") if os.path.exists(p)), None)


def fake_env(fake):
    """The environment for a botu whose clock starts at fake (UTC)."""
    env = dict(os.environ)
    env["LD_PRELOAD"] = FAKETIME
    env["FAKETIME"] = fake.strftime("@%Y-%m-%d %H:%M:%S")
    env["TZ"] = "UTC"
    env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
    opts = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + \
        "verify_asan_link_order=0"
    return env


class MembersData(botutest.ServersTestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="botu-members-")
        short = self._testMethodName[5:17].replace("_", "")
        self.list = "md-%s@lsabewoners.nl" % short
        self.conf = self.servers.write_config(
            os.path.join(self.tmp, "botu.conf"),
            {"list": {"name": "Energie community BoTu"}}, user=self.list)
        self.db = os.path.join(self.tmp, "botu.db")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def botu(self, *args, code=0, env=None, conf=None):
        out = subprocess.run([BOTU_BIN, "-c", conf or self.conf] +
                             list(args), capture_output=True, text=True,
                             timeout=120, env=env)
        if code is not None and out.returncode != code:
            self.fail("botu %s: exit %d, not %d\n%s%s" % (
                " ".join(args), out.returncode, code, out.stdout,
                out.stderr))
        return out

    def members(self, conf=None):
        return {m["email"]: m for m in json.loads(
            self.botu("members", "list", "--json", conf=conf).stdout)}

    def sql(self, query):
        with sqlite3.connect(self.db) as c:
            return c.execute(query).fetchall()

    def raw_db(self):
        """Every octet of botu.db and its -wal/-shm files, lower case."""
        data = b""
        for name in os.listdir(self.tmp):
            if name.startswith("botu.db"):
                with open(os.path.join(self.tmp, name), "rb") as f:
                    data += f.read()
        return data.lower()

    # ---- the tests ----

    def test_import_excel_export_round_trip(self):
        src = os.path.join(DATA, "leden-excel.csv")
        out = self.botu("members", "import", src, "--basis",
                        "tekende de petitie van 2025")
        self.assertIn("imported 4 of 4 rows", out.stdout)
        self.assertIn("columns ignored: Opmerking", out.stdout)
        self.assertIn("nobody was sent mail", out.stdout)
        got = self.members()
        self.assertEqual(got["jan.muller@example.org"]["name"],
                         "Jan Müller")
        self.assertEqual(got["ayse.celik@example.org"]["name"],
                         "Ayse Çelik (voorzitter)")
        self.assertEqual(got["ayse.celik@example.org"]["language"], "en")
        self.assertEqual(got["francois@example.org"]["name"],
                         'François "Frans" Lefèvre')
        self.assertEqual(got["zoe@example.org"]["name"], "Zoë Bakker")
        self.assertTrue(got["jan.muller@example.org"]["core"])
        self.assertFalse(got["ayse.celik@example.org"]["core"])
        for m in got.values():
            self.assertEqual(m["status"], "active")
            self.assertEqual(m["consent"]["channel"],
                             "import: tekende de petitie van 2025")
        # No welcome wave: nothing queued, nothing sent.
        self.botu("run", "--once")
        self.assertEqual(self.sql("SELECT count(*) FROM outbox"), [(0,)])
        self.assertEqual(self.servers.fetch_all("zoe@example.org"), [])

        # The Excel export reads back into a fresh list, the same people.
        exported = self.botu("members", "export", "--excel").stdout
        self.assertTrue(exported.startswith("\ufeffemail;name;"))
        path = os.path.join(self.tmp, "export.csv")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(exported)
        other = os.path.join(self.tmp, "other")
        os.mkdir(other)
        conf2 = self.servers.write_config(
            os.path.join(other, "botu.conf"), user=self.list)
        out = self.botu("members", "import", path, "--basis", "export",
                        conf=conf2)
        self.assertIn("imported 4 of 4 rows", out.stdout)
        again = self.members(conf=conf2)
        for addr, m in got.items():
            for key in ("name", "role", "language", "core", "status"):
                self.assertEqual(again[addr][key], m[key], (addr, key))
        # Plain CSV with every field, too.
        rows = list(csv.DictReader(io.StringIO(
            self.botu("members", "export", "--csv").stdout)))
        self.assertEqual(sorted(r["email"] for r in rows), sorted(got))

    def test_bad_row_in_the_middle_imports_nothing(self):
        src = os.path.join(DATA, "leden-fout.csv")
        out = self.botu("members", "import", src, "--basis", "petitie",
                        code=65)
        self.assertIn("%s:4: 'drie-zonder-apenstaartje' is not an e-mail "
                      "address" % src, out.stderr)
        self.assertIn("%s:5: role 'astronaut' is not one of" % src,
                      out.stderr)
        self.assertIn("2 bad rows: nothing imported", out.stderr)
        self.assertEqual(self.members(), {})
        # A dry run of a good file changes nothing either.
        out = self.botu("members", "import",
                        os.path.join(DATA, "leden-excel.csv"),
                        "--basis", "petitie", "--dry-run", "--json")
        self.assertEqual(json.loads(out.stdout)["imported"], 4)
        self.assertEqual(self.members(), {})
        self.botu("members", "import", src, code=64)   # no --basis

    def test_forget_leaves_no_trace(self):
        who = "vergeet.mij@example.org"
        self.botu("members", "add", who, "--name", "Vera Vergeet",
                  "--welcome")
        self.botu("members", "add", "blijft@example.org")
        self.botu("run", "--once")
        self.servers.wait_for_mail(who, lambda m: True)
        # Mail from them is handled and recorded too.
        msg = botutest.make_mail("Vera <%s>" % who, self.list, "help",
                                 "Hoe werkt dit?\n")
        self.servers.send(who, self.list, msg)
        self.servers.wait_for_mail(self.list, lambda m: True)
        self.botu("run", "--once")
        self.assertIn(who.encode(), self.raw_db())
        events_before = self.sql("SELECT count(*) FROM events")[0][0]

        out = self.botu("members", "forget", who.upper())
        self.assertIn("forgot", out.stdout)
        self.assertNotIn(who.encode(), self.raw_db())
        self.assertNotIn(b"vera vergeet", self.raw_db())
        self.assertNotIn(b"vergeet.mij", self.raw_db())
        # Counts stay: the history has one event more, without them.
        # Their own events went with them; the others' stay.
        self.assertGreaterEqual(events_before, 2)
        self.assertEqual(self.sql(
            "SELECT count(*) FROM events e JOIN members m ON "
            "m.id = e.member_id WHERE m.email = 'blijft@example.org'"),
            [(1,)])
        self.assertEqual(self.sql(
            "SELECT count(*) FROM events WHERE kind = 'forget'"), [(1,)])
        self.assertEqual(self.sql("SELECT count(*) FROM suppressed"),
                         [(1,)])
        self.assertIn("blijft@example.org", self.members())
        # Neither an import nor the organiser adds them back.
        path = os.path.join(self.tmp, "weer.csv")
        with open(path, "w") as f:
            f.write("email;naam\n%s;Vera\n" % who)
        out = self.botu("members", "import", path, "--basis", "x")
        self.assertIn("imported 0 of 1 rows", out.stdout)
        self.assertIn("1 asked to be forgotten", out.stdout)
        out = self.botu("members", "add", who, code=65)
        self.assertIn("asked to be forgotten", out.stderr)
        self.botu("members", "forget", who, code=65)

    @unittest.skipIf(FAKETIME is None, "libfaketime is not installed")
    def test_retention_on_a_scripted_clock(self):
        # The test servers' certificates last 30 days: a short period.
        self.conf = self.servers.write_config(
            self.conf, {"privacy": {"leavers_days": "3"}}, user=self.list)
        start = datetime.datetime.now(datetime.timezone.utc).replace(
            microsecond=0) + datetime.timedelta(hours=1)
        env0 = fake_env(start)
        self.botu("members", "add", "weg@example.org", env=env0)
        self.botu("members", "add", "blijft@example.org", env=env0)
        self.botu("members", "remove", "weg@example.org", env=env0)
        self.botu("run", "--once", env=env0)
        self.assertIn(b"weg@example.org", self.raw_db())
        # 2 days later: still there (leavers_days = 3).
        self.botu("run", "--once",
                  env=fake_env(start + datetime.timedelta(days=2)))
        self.assertIn("weg@example.org", self.members())
        # 4 days later: erased, only the hash and the counts stay.
        out = self.botu("run", "--once",
                        env=fake_env(start + datetime.timedelta(days=4)))
        self.assertIn("erased 0 sign-ups nobody confirmed and 1 member "
                      "who left", out.stderr)
        self.assertNotIn("weg@example.org", self.members())
        self.assertIn("blijft@example.org", self.members())
        self.assertNotIn(b"weg@example.org", self.raw_db())
        self.assertEqual(self.sql(
            "SELECT reason FROM suppressed"), [("left",)])


if __name__ == "__main__":
    unittest.main()
