#!/usr/bin/python3
"""The command line as a script or an organiser meets it: --help
everywhere, one-line errors with sysexits(3) codes, FILE:LINE for
configuration mistakes, members and JSON output. No servers needed."""
import json
import os
import subprocess
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BOTU = os.environ.get("BOTU_BIN") or os.path.join(ROOT, "botu")

COMMANDS = [["run"], ["status"], ["check"], ["explain"], ["members"],
            ["members", "list"], ["members", "add"], ["members", "remove"],
            ["members", "export"], ["outbox"], ["outbox", "list"],
            ["outbox", "retry"], ["outbox", "drop"], ["outbox", "flush"],
            ["backup"]]


class Cli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="botu-cli-")
        self.conf = os.path.join(self.tmp, "botu.conf")
        with open(self.conf, "w") as f:
            f.write("[list]\naddress = annerike@lsabewoners.nl\n"
                    "database = botu.db\ntemplates = %s\n"
                    % os.path.join(ROOT, "templates"))

    def botu(self, *args, conf=None, stdin=None):
        return subprocess.run([BOTU, "-c", conf or self.conf] + list(args),
                              capture_output=True, text=True, timeout=60,
                              input=stdin)

    def assertOneLineError(self, out, code, *words):
        self.assertEqual(out.returncode, code, out.stderr)
        first = out.stderr.splitlines()[0]
        self.assertTrue(first.startswith("botu: "), out.stderr)
        for w in words:
            self.assertIn(w, first)

    def test_help_everywhere(self):
        for cmd in COMMANDS:
            out = self.botu(*cmd, "--help")
            self.assertEqual(out.returncode, 0, cmd)
            self.assertIn("usage: botu", out.stdout, cmd)
        out = subprocess.run([BOTU, "--help"], capture_output=True,
                             text=True)
        self.assertEqual(out.returncode, 0)
        for name in ("run", "status", "check", "explain", "members",
                     "outbox", "backup"):
            self.assertIn(name, out.stdout)
        self.assertNotIn("parse-worker", out.stdout)

    def test_usage_errors_are_64(self):
        self.assertOneLineError(self.botu("frobnicate"), 64,
                                "unknown command")
        self.assertOneLineError(self.botu("members", "list", "--bogus"), 64,
                                "--bogus")
        self.assertOneLineError(self.botu("members", "add"), 64)
        self.assertOneLineError(self.botu("run", "--since", "gisteren"),
                                78, "[imap] host")

    def test_config_errors_are_78_with_file_and_line(self):
        bad = os.path.join(self.tmp, "bad.conf")
        with open(bad, "w") as f:
            f.write("[list]\naddress = annerike@lsabewoners.nl\n"
                    "[imap]\nport = 99999\n")
        out = self.botu("members", "list", conf=bad)
        self.assertOneLineError(out, 78, bad + ":4:", "port")
        out = self.botu("status", conf=os.path.join(self.tmp, "none.conf"))
        self.assertOneLineError(out, 78, "cannot open")

    def test_database_unavailable_is_69(self):
        conf = os.path.join(self.tmp, "nodb.conf")
        with open(conf, "w") as f:
            f.write("[list]\naddress = annerike@lsabewoners.nl\n"
                    "database = /nonexistent/dir/botu.db\n")
        self.assertOneLineError(self.botu("members", "list", conf=conf), 69,
                                "/nonexistent/dir/botu.db")

    def test_members_round_trip(self):
        out = self.botu("members", "add", "fatima@example.org", "--name",
                        "Fatima el Amrani", "--role", "bewoner", "--core")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertOneLineError(
            self.botu("members", "add", "FATIMA@example.org"), 65,
            "already")
        self.assertOneLineError(self.botu("members", "add", "no-address"),
                                65, "not an e-mail address")
        self.assertOneLineError(
            self.botu("members", "add", "x@example.org", "--language", "de"),
            65, "nl or en")
        got = json.loads(self.botu("members", "list", "--json").stdout)
        self.assertEqual(len(got), 1)
        m = got[0]
        for key in ("email", "name", "role", "status", "delivery",
                    "language", "core"):
            self.assertIn(key, m)
        self.assertEqual((m["email"], m["name"], m["role"], m["status"],
                          m["core"]), ("fatima@example.org",
                                       "Fatima el Amrani", "bewoner",
                                       "active", True))
        self.assertEqual(self.botu("members", "remove",
                                   "fatima@example.org").returncode, 0)
        self.assertOneLineError(
            self.botu("members", "remove", "fatima@example.org"), 65,
            "not a member")
        exported = self.botu("members", "export").stdout
        self.assertTrue(exported.startswith("email,name,role,"))
        self.assertIn("fatima@example.org,Fatima el Amrani,bewoner,nl,"
                      "unsubscribed", exported)
        js = json.loads(self.botu("members", "export", "--json").stdout)
        self.assertEqual(js[0]["status"], "unsubscribed")

    def test_check_reports_the_database_and_templates(self):
        out = self.botu("check")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("database", out.stdout)
        self.assertIn("schema version", out.stdout)
        # Every mail in both languages: each shipped .txt of nl, twice.
        texts = [f for f in os.listdir(os.path.join(ROOT, "templates", "nl"))
                 if f.endswith(".txt")]
        self.assertRegex(out.stdout, r"ok +templates +%d mails"
                         % (2 * len(texts)))
        # A language without its texts is a configuration error.
        tdir = os.path.join(self.tmp, "templates")
        subprocess.run(["cp", "-r", os.path.join(ROOT, "templates"), tdir],
                       check=True)
        os.remove(os.path.join(tdir, "en", "welcome.txt"))
        conf2 = os.path.join(self.tmp, "t.conf")
        with open(conf2, "w") as f:
            f.write("[list]\naddress = annerike@lsabewoners.nl\n"
                    "database = botu.db\ntemplates = %s\n" % tdir)
        out = self.botu("check", conf=conf2)
        self.assertEqual(out.returncode, 78, out.stdout)
        self.assertRegex(out.stdout,
                         r"FAILED +templates +no template welcome .*"
                         r"en/welcome.txt")

    def test_version(self):
        out = subprocess.run([BOTU, "-V"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0)
        self.assertRegex(out.stdout, r"^botu \d+\.\d+")


if __name__ == "__main__":
    unittest.main()
