#!/usr/bin/python3
"""botu run as an operator meets it, against a real Dovecot and Postfix:

  - SIGTERM in the middle of a batch finishes the mail in hand and exits 0;
    each mail is then handled exactly once, before or after the restart;
  - SIGHUP with a good configuration goes on with it (also in the middle of
    a batch, dropping nothing), with a bad one keeps the old and says why;
  - `botu backup` taken while the daemon and the command line write holds
    every change committed before it began, and restores;
  - the organiser's summary over a scripted week (faketime): once per
    period, only when something happened, with the right names and counts,
    once after downtime; and the daemon wakes up for it.

Each test has its own list address (its own mailbox) and database.
"""
import datetime
import email.utils
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
import zoneinfo

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import botutest  # noqa: E402

DONE = "botu-done"
TZ = zoneinfo.ZoneInfo("Europe/Amsterdam")
# libfaketime (Debian's faketime package), preloaded directly rather than
# through the faketime program, so signals reach botu itself; the MT
# variant because botu runs threads.
FAKETIME = next((p for p in (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/faketime/libfaketimeMT.so.1") if os.path.exists(p)), None)


def fake_env(env, fake):
    """env for a process whose clock starts at fake (a datetime)."""
    utc = fake.astimezone(datetime.timezone.utc)
    env = dict(env)
    env["LD_PRELOAD"] = FAKETIME
    env["FAKETIME"] = utc.strftime("@%Y-%m-%d %H:%M:%S")
    env["TZ"] = "UTC"
    env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
    # Under the sanitizer build libfaketime comes before the ASan runtime;
    # that order is harmless here (libfaketime only wraps clock calls).
    opts = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + \
        "verify_asan_link_order=0"
    return env


def body(msg):
    """The plain-text body, with LF line ends."""
    return msg.get_body(("plain",)).get_content().replace("\r\n", "\n")


class Ops(botutest.ServersTestCase):
    def setUp(self):
        parent = os.environ.get("BOTU_TEST_TMP") or None
        self.tmp = tempfile.mkdtemp(prefix="botu-ops-", dir=parent)
        self.tag = "%s%s" % (self._testMethodName[5:13].replace("_", ""),
                             uuid.uuid4().hex[:6])
        self.list = "ops-%s@lsabewoners.nl" % self.tag
        self.db = os.path.join(self.tmp, "botu.db")
        self.conf = os.path.join(self.tmp, "botu.conf")
        self.write_conf()
        self.procs = []
        if not os.environ.get("BOTU_TEST_KEEP"):
            self.addCleanup(shutil.rmtree, self.tmp, True)
        self.addCleanup(self.kill_all)

    def write_conf(self, extra=None, path=None):
        over = {"list": {"name": "Energie community BoTu"}}
        for sec, keys in (extra or {}).items():
            over.setdefault(sec, {}).update(keys)
        return self.servers.write_config(path or self.conf, over,
                                         user=self.list)

    def kill_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    # ---- running botu ----

    def botu(self, *args, check=True, conf=None, fake=None, timeout=180):
        """Runs botu; fake is a local datetime to run at (faketime)."""
        cmd = [botutest.BOTU_BIN, "-c", conf or self.conf] + list(args)
        env = dict(os.environ)
        if fake is not None:
            env = fake_env(env, fake)
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=timeout, env=env,
                             stdin=subprocess.DEVNULL)
        if check and out.returncode != 0:
            self.fail("botu %s: exit %d\n%s%s" % (" ".join(args),
                      out.returncode, out.stdout, out.stderr))
        return out

    def run_once(self, **kw):
        return self.botu("run", "--once", **kw)

    def first_start(self, **kw):
        out = self.run_once(**kw)
        self.assertIn("first start", out.stderr)

    def daemon(self, *args, fake=None, verbose=True):
        """Starts botu run; returns (process, log path)."""
        log = os.path.join(self.tmp, "daemon-%d.log" % len(self.procs))
        cmd = [botutest.BOTU_BIN] + (["-v"] if verbose else []) + \
            ["-c", self.conf, "run"] + list(args)
        env = dict(os.environ)
        if fake is not None:
            env = fake_env(env, fake)
        with open(log, "w") as f:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f,
                                 stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        return p, log

    def wait_log(self, path, pattern, proc, timeout=30, count=1):
        deadline = time.monotonic() + timeout
        while True:
            with open(path, errors="replace") as f:
                text = f.read()
            if len(re.findall(pattern, text)) >= count:
                return text
            if proc.poll() is not None or time.monotonic() > deadline:
                self.fail("no %r (x%d) in the daemon's log (exit %r):\n%s"
                          % (pattern, count, proc.poll(), text[-4000:]))
            time.sleep(0.05)

    def members(self, conf=None):
        return {m["email"]: m for m in json.loads(
            self.botu("members", "list", "--json", conf=conf).stdout)}

    def query(self, sql, db=None):
        con = sqlite3.connect("file:%s?mode=ro" % (db or self.db), uri=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    # ---- mail ----

    def mail(self, sender, subject, body="", to=None, headers=None):
        """Delivers a mail to the list's mailbox and waits until it is
        there; returns its Message-ID."""
        to = to or self.list
        raw = botutest.make_mail(sender, to, subject, body, headers)
        mid = re.search(rb"Message-ID: (<[^>]+>)", raw, re.I).group(1)
        self.servers.send(email.utils.parseaddr(sender)[1], to, raw)
        self.servers.wait_for_mail(
            self.list, lambda m: m["Message-ID"] == mid.decode())
        return mid.decode()

    def append_signups(self, n, prefix):
        """n sign-ups, straight into the mailbox (APPEND)."""
        people = []
        for i in range(n):
            who = "%s%02d.%s@example.org" % (prefix, i, self.tag)
            raw = botutest.make_mail(who, self.list, "Aanmelden", "")
            self.servers.append(self.list, raw)
            people.append(who)
        return people

    def confirm(self, person, **kw):
        """Answers the confirmation request in person's mailbox."""
        ask = self.servers.wait_for_mail(
            person, lambda m: "[" in str(m["Subject"])).msg
        to = email.utils.parseaddr(str(ask["Reply-To"]))[1]
        self.mail(person, "Re: " + str(ask["Subject"]), "Ja", to=to)
        self.run_once(**kw)
        return ask

    def mails_to(self, user, predicate=None):
        self.servers.wait_queue_empty(timeout=30)
        return [m for m in self.servers.fetch_all(user)
                if predicate is None or predicate(m.msg)]

    def assert_each_once(self, people):
        """Every person is a member once and got one confirmation."""
        members = self.members()
        self.servers.wait_queue_empty(timeout=60)
        for who in people:
            self.assertEqual(members[who]["status"], "pending", who)
            got = self.servers.fetch_all(who)
            self.assertEqual(len(got), 1, "%s got %d mails" % (who,
                                                              len(got)))
        rows = self.query("SELECT state, imap_done, count(*) FROM inbound "
                          "GROUP BY state, imap_done")
        self.assertEqual(rows, [("done", 1, len(people))])
        with self.servers.imap(self.list) as c:
            typ, data = c.select("INBOX", readonly=True)
            self.assertEqual(int(data[0]), 0)
            typ, data = c.select(DONE, readonly=True)
            self.assertEqual(int(data[0]), len(people))

    # ---- signals ----

    def test_sigterm_mid_batch_finishes_the_mail_and_exits_0(self):
        self.first_start()
        people = self.append_signups(20, "term")
        p, log = self.daemon(verbose=False)
        self.wait_log(log, r"UID \d+ from \S+: subscribe \(handled\)", p,
                      count=3)
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=20)
        took = time.monotonic() - t0
        with open(log) as f:
            text = f.read()
        self.assertEqual(rc, 0, text[-3000:])
        self.assertLess(took, 10, text[-3000:])
        self.assertRegex(text, r"(?m)^botu: botu stopped$")
        handled = len(re.findall(r"subscribe \(handled\)", text))
        print("\n  SIGTERM after 3 of 20: %d handled, stopped in %.2f s"
              % (handled, took))
        self.assertLess(handled, 20, "the batch should have been cut")
        # What was handled is complete: recorded, moved, answered.
        rows = self.query("SELECT state, imap_done, count(*) FROM inbound "
                          "GROUP BY state, imap_done")
        self.assertEqual(rows, [("done", 1, handled)])
        self.assertEqual(len(self.members()), handled)
        # The rest is taken by the next start, nothing twice.
        self.run_once()
        self.assert_each_once(people)

    def test_sighup_good_bad_and_mid_batch(self):
        self.first_start()
        p, log = self.daemon()
        self.wait_log(log, r"imap S: \+ idling", p)

        # A good new configuration: used from the next mail on.
        self.write_conf({"list": {"name": "Nieuwe Naam"}})
        p.send_signal(signal.SIGHUP)
        self.wait_log(log, r"configuration reloaded from " +
                      re.escape(self.conf), p)
        self.wait_log(log, r"imap S: \+ idling", p, count=2)
        ann = "ann.%s@example.org" % self.tag
        self.mail(ann, "Aanmelden")
        got = self.servers.wait_for_mail(ann, timeout=30).msg
        self.assertIn("Nieuwe Naam", str(got["From"]))

        # A bad one: refused with its line, the old one kept.
        with open(self.conf, "a") as f:
            f.write("[imap]\n")
        with open(self.conf) as f:
            lines = f.read().splitlines()
        lines.append("idle_minutes = 99")
        bad_line = len(lines)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        p.send_signal(signal.SIGHUP)
        text = self.wait_log(log, r"keeping the old configuration", p)
        self.assertRegex(text, r"botu: %s:%d: idle_minutes must be a whole "
                         r"number from 1 to 29, not '99'; keeping the old "
                         r"configuration" % (re.escape(self.conf), bad_line))
        self.assertIsNone(p.poll())
        bob = "bob.%s@example.org" % self.tag
        self.mail(bob, "Aanmelden")
        got = self.servers.wait_for_mail(bob, timeout=30).msg
        self.assertIn("Nieuwe Naam", str(got["From"]))

        # A mail text that no longer renders is refused the same way.
        self.write_conf({"list": {"name": "Derde Naam",
                                  "templates": self.tmp + "/none"}})
        p.send_signal(signal.SIGHUP)
        self.wait_log(log, r"templates: .*; keeping the old configuration",
                      p, count=1)

        # In the middle of a batch: the batch goes on, nothing dropped.
        self.write_conf({"list": {"name": "Vierde Naam"}})
        people = self.append_signups(12, "hup")
        self.wait_log(log, r"subscribe \(handled\)", p, count=3)
        p.send_signal(signal.SIGHUP)
        self.wait_log(log, r"configuration reloaded", p, count=2)
        self.wait_log(log, r"subscribe \(handled\)", p, count=2 + 12,
                      timeout=60)
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=20), 0)
        members = self.members()
        for who in people:
            self.assertEqual(members[who]["status"], "pending")
        self.servers.wait_queue_empty(timeout=60)
        for who in people:
            self.assertEqual(len(self.servers.fetch_all(who)), 1, who)
        self.assertEqual(self.query("SELECT count(*) FROM inbound WHERE "
                                    "state != 'done' OR imap_done = 0"),
                         [(0,)])

    # ---- backup ----

    def test_backup_during_a_busy_run_restores_every_committed_change(self):
        self.first_start()
        p, log = self.daemon(verbose=False)
        self.wait_log(log, r"botu started", p)
        done = []      # (address, monotonic time its add returned)
        started = []   # (address, monotonic time its add began)
        stop = threading.Event()

        def writer():
            for i in range(400):
                if stop.is_set():
                    break
                who = "lid%03d.%s@example.org" % (i, self.tag)
                started.append((who, time.monotonic()))
                self.botu("members", "add", who)
                done.append((who, time.monotonic()))

        t = threading.Thread(target=writer)
        t.start()
        signups = self.append_signups(15, "bk")
        self.wait_log(log, r"subscribe \(handled\)", p, count=2)
        while len(done) < 20:
            time.sleep(0.05)
        backup = os.path.join(self.tmp, "backups", "botu-copy.db")
        os.mkdir(os.path.dirname(backup))
        t_begin = time.monotonic()
        out = self.botu("backup", backup)
        t_end = time.monotonic()
        time.sleep(0.5)
        stop.set()
        t.join()
        self.wait_log(log, r"subscribe \(handled\)", p, count=15,
                      timeout=60)
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=20), 0)

        self.assertRegex(out.stdout, r"botu-copy.db: a copy of .*botu.db "
                         r"\(schema version \d+\), intact")
        self.assertEqual(os.stat(backup).st_mode & 0o777, 0o600)
        self.assertEqual(os.listdir(os.path.dirname(backup)),
                         ["botu-copy.db"])
        # One self-contained file, intact, at the latest schema.
        con = sqlite3.connect(backup)
        self.assertEqual(con.execute("PRAGMA journal_mode").fetchone()[0],
                         "delete")
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchone(),
                         ("ok",))
        copied = {r[0] for r in con.execute("SELECT email FROM members")}
        handled_rows = con.execute("SELECT count(*) FROM inbound WHERE "
                                   "state = 'done'").fetchone()[0]
        con.close()
        before = {w for w, at in done if at < t_begin}
        possible = {w for w, at in started if at < t_end} | set(signups)
        print("\n  backup: %d members added before it began, %d in the "
              "copy, %d mails handled in it" % (len(before), len(copied),
                                                handled_rows))
        self.assertTrue(before <= copied, before - copied)
        self.assertTrue(copied <= possible, copied - possible)
        self.assertGreater(len(done), len(before), "writes went on")

        # Restored as the database of another botu, it works.
        restored = os.path.join(self.tmp, "restored.db")
        shutil.copy(backup, restored)
        conf2 = self.write_conf({"list": {"database": restored}},
                                path=os.path.join(self.tmp, "r.conf"))
        self.assertEqual(set(self.members(conf=conf2)), copied)
        check = self.botu("status", conf=conf2)
        self.assertIn("members", check.stdout)

    def test_backup_refuses_the_database_itself_and_a_bad_folder(self):
        self.botu("members", "add", "x.%s@example.org" % self.tag)
        out = self.botu("backup", self.db, check=False)
        self.assertEqual(out.returncode, 64, out.stderr)
        self.assertIn("is the database itself", out.stderr)
        out = self.botu("backup", "/nonexistent/folder/b.db", check=False)
        self.assertEqual(out.returncode, 73, out.stderr)
        self.assertRegex(out.stderr, r"^botu: backup: cannot write in "
                         r"/nonexistent/folder")
        self.assertEqual(self.botu("backup", check=False).returncode, 64)

    # ---- the organiser's summary ----

    def summaries(self, moderator):
        return [m.msg for m in self.mails_to(
            moderator, lambda m: str(m["Subject"]).startswith("Overzicht"))]

    @unittest.skipUnless(FAKETIME, "libfaketime is not installed "
                         "(tests/install-deps.sh)")
    def test_summary_over_a_scripted_week(self):
        mod = "mod-%s@example.org" % self.tag
        self.write_conf({"list": {"moderators": mod}})
        # Monday a week from now at the latest: inside the 30 days of the
        # test certificates, which the fake clock must not leave.
        today = datetime.datetime.now(TZ).date()
        monday = today + datetime.timedelta(days=7 - today.weekday())

        def at(day, hh, mm=0):
            d = monday + datetime.timedelta(days=day)
            return datetime.datetime(d.year, d.month, d.day, hh, mm,
                                     tzinfo=TZ)

        piet = "piet.%s@example.org" % self.tag
        jan = "jan.%s@example.org" % self.tag

        # Monday: first start at 06:00, Piet joins at 06:40.
        self.first_start(fake=at(0, 6))
        self.mail("Piet Jansen <%s>" % piet, "Aanmelden")
        self.run_once(fake=at(0, 6, 30))
        self.confirm(piet, fake=at(0, 6, 40))
        self.assertEqual(self.members()[piet]["status"], "active")
        self.run_once(fake=at(0, 7, 59))
        self.assertEqual(self.summaries(mod), [])
        self.run_once(fake=at(0, 8, 1))
        sums = self.summaries(mod)
        self.assertEqual(len(sums), 1)
        first = body(sums[0])
        self.assertIn("Nieuwe leden: 1\n- Piet Jansen, %s\n" % piet, first)
        self.assertNotIn("Afgemeld", first)
        self.assertNotIn("Mails voor jou", first)
        self.assertEqual(sums[0]["Auto-Submitted"], "auto-generated")
        self.assertIn("maandag", sums[0]["Subject"])
        self.run_once(fake=at(0, 12))

        # Tuesday: due, but nothing happened: no mail.
        self.run_once(fake=at(1, 8, 5))
        self.assertEqual(len(self.summaries(mod)), 1)

        # Wednesday: a personal mail for the organiser, and Piet leaves
        # with one click (List-Unsubscribe).
        self.mail("Jan Bakker <%s>" % jan, "Buurtborrel vrijdag",
                  "Hoi Annerike, neem ik iets mee?\nJan\n")
        self.run_once(fake=at(2, 10))
        welcome = self.servers.wait_for_mail(
            piet, lambda m: "Welkom" in str(m["Subject"])).msg
        unsub = re.search(r"<mailto:([^?>]+)", welcome["List-Unsubscribe"])
        self.mail(piet, "unsubscribe", to=unsub.group(1))
        self.run_once(fake=at(2, 11))
        self.assertEqual(self.members()[piet]["status"], "unsubscribed")

        # Thursday 09:00 (botu was not running at 08:00): one summary.
        self.run_once(fake=at(3, 9))
        sums = self.summaries(mod)
        self.assertEqual(len(sums), 2)
        second = body(sums[1])
        self.assertNotIn("Nieuwe leden", second)
        self.assertIn("Afgemeld: 1\n- Piet Jansen, %s\n" % piet, second)
        self.assertIn("Mails voor jou: 1\n", second)
        self.assertIn("- %s: \"Buurtborrel vrijdag\" (woensdag " % jan,
                      second)

        # Thursday afternoon the password is wrong for one run...
        wrong = os.path.join(self.tmp, "wrong.secret")
        with open(wrong, "w") as f:
            f.write("not-the-password\n")
        os.chmod(wrong, 0o600)
        bad = self.write_conf({"list": {"moderators": mod},
                               "imap": {"password_file": wrong}},
                              path=os.path.join(self.tmp, "wrong.conf"))
        out = self.botu("run", "--once", conf=bad, fake=at(3, 13),
                        check=False)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("refused the login", out.stderr)

        # ...and botu is down on Friday and Saturday: on Sunday one
        # summary for all three days, then none again that day.
        self.run_once(fake=at(6, 10))
        self.run_once(fake=at(6, 10, 30))
        sums = self.summaries(mod)
        self.assertEqual(len(sums), 3)
        third = body(sums[2])
        self.assertIn("van donderdag ", third)
        self.assertIn("Problemen met inloggen of versturen: 1\n", third)
        self.assertIn("de mailserver weigerde het inloggen", third)
        self.assertNotIn("Afgemeld", third)
        # Monday again: quiet.
        self.run_once(fake=at(7, 8, 30))
        self.assertEqual(len(self.summaries(mod)), 3)
        # The summaries never count as mail left for the organiser, and
        # went to the moderator only.
        self.assertEqual(self.mails_to(self.list, lambda m: str(
            m["Subject"]).startswith("Overzicht")), [])
        for s in sums:
            self.assertEqual(email.utils.parseaddr(str(s["To"]))[1], mod)
        print("\n  summaries: " + " | ".join(str(s["Subject"])
                                             for s in sums))

    @unittest.skipUnless(FAKETIME, "libfaketime is not installed "
                         "(tests/install-deps.sh)")
    def test_daemon_wakes_up_for_the_summary(self):
        """The summary is due at 08:00 while the daemon waits in IDLE."""
        self.write_conf({"list": {"language": "en"}})
        today = datetime.datetime.now(TZ).date() + datetime.timedelta(days=2)

        def at(hh, mm, ss=0):
            return datetime.datetime(today.year, today.month, today.day,
                                     hh, mm, ss, tzinfo=TZ)

        # No moderators: the summary goes to the list address itself.
        self.first_start(fake=at(7, 0))
        self.botu("members", "add", "eva.%s@example.org" % self.tag,
                  "--name", "Eva", fake=at(7, 30))
        p, log = self.daemon(fake=at(7, 59, 50))
        self.wait_log(log, r"imap S: \+ idling", p)
        got = self.servers.wait_for_mail(
            self.list, lambda m: str(m["Subject"]).startswith("Summary"),
            timeout=40).msg
        self.assertIn("New members: 1\n- Eva, eva.%s@example.org" % self.tag,
                      body(got))
        self.wait_log(log, r"summary: 1 thing to tell; queued for 1 "
                      r"recipient", p)
        # Back in the mailbox botu reads, it is left for the organiser...
        self.wait_log(log, r"from \S+: automatic \(left for a person\)", p)
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=20), 0)
        # ...and is no news for the next summary.
        self.run_once(fake=at(8, 0) + datetime.timedelta(days=1, minutes=1))
        self.assertEqual(len(self.mails_to(self.list, lambda m: str(
            m["Subject"]).startswith("Summary"))), 1)


if __name__ == "__main__":
    unittest.main()
