#!/usr/bin/python3
"""Kills: botu is SIGKILLed at random moments, and stopped at every named
crash point, while it takes in questions (Hulp) and sends the answers, against
the real Dovecot and Postfix. Then nothing was handled twice, nothing was
lost, every answer arrived at least once, and a duplicate arrived only
for a kill between the server's 250 and the commit of that result.

The size comes from the environment; the defaults are the full size, which
takes about half a minute (make check-run runs it):
  BOTU_KILL_MAILS   incoming mails, each answered by one mail (1000)
  BOTU_KILL_RANDOM  SIGKILLs at random moments, besides the crash points (50)
  BOTU_KILL_SEED    the random seed (printed, so a failure can be repeated)

The figures are printed at the end (and written to $BOTU_KILL_REPORT when
set): the README's Reliability section quotes them.
"""
import email
import email.message
import email.policy
import email.utils
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import botutest  # noqa: E402

MAILS = int(os.environ.get("BOTU_KILL_MAILS") or 1000)
RANDOM_KILLS = int(os.environ.get("BOTU_KILL_RANDOM") or 50)
SEED = int(os.environ.get("BOTU_KILL_SEED") or random.randrange(1 << 30))

CONNECTIONS = 4

# Every named crash point (util.h crash_point(), db.h). migration runs on
# the fresh database; the others stop a run that has work, the Nth time.
CRASH_POINTS = ("after-attempt", "after-commit", "after-move",
                "before-send", "after-send")


def received_time(msg):
    """When Postfix accepted this copy: the date of its top Received."""
    rcvd = msg.get_all("Received") or []
    if not rcvd:
        return None
    when = str(rcvd[0]).rpartition(";")[2].strip()
    return email.utils.parsedate_to_datetime(when).timestamp()


class Kill(botutest.ServersTestCase):
    def setUp(self):
        parent = os.environ.get("BOTU_TEST_TMP") or None
        self.tmp = tempfile.mkdtemp(prefix="botu-kill-", dir=parent)
        tag = uuid.uuid4().hex[:8]
        self.list = "kill-%s@lsabewoners.nl" % tag
        # Every answer lands in this one mailbox (user+detail@domain).
        self.people = "kp%s@example.org" % tag
        self.db = os.path.join(self.tmp, "botu.db")
        self.log = os.path.join(self.tmp, "botu.log")
        self.conf = self.servers.write_config(
            os.path.join(self.tmp, "botu.conf"),
            {"list": {"name": "Energie community BoTu"},
             "smtp": {"connections": str(CONNECTIONS)}}, user=self.list)
        if not os.environ.get("BOTU_TEST_KEEP"):
            self.addCleanup(shutil.rmtree, self.tmp, True)

    # ---- botu ----

    def start(self, crash_at=None):
        env = dict(os.environ)
        env.pop("BOTU_CRASH_AT", None)
        if crash_at:
            env["BOTU_CRASH_AT"] = crash_at
        f = open(self.log, "a")
        f.write("==== start%s\n" % (" BOTU_CRASH_AT=" + crash_at
                                     if crash_at else ""))
        f.flush()
        self.addCleanup(f.close)
        return subprocess.Popen([botutest.BOTU_BIN, "-c", self.conf, "run"],
                                stdin=subprocess.DEVNULL, stdout=f,
                                stderr=subprocess.STDOUT, env=env)

    def botu(self, *args, env=None):
        full = dict(os.environ)
        full.update(env or {})
        return subprocess.run([botutest.BOTU_BIN, "-c", self.conf] +
                              list(args), capture_output=True, text=True,
                              timeout=120, env=full, stdin=subprocess.DEVNULL)

    def log_tail(self, n=4000):
        with open(self.log, errors="replace") as f:
            return f.read()[-n:]

    def progress(self):
        """(inbound handled or set aside, outbox rows, outbox sent, inbound
        handled) as committed."""
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True,
                              timeout=30)
        try:
            done, handled = con.execute(
                "SELECT count(*), coalesce(sum(state = 'done'), 0) FROM "
                "inbound WHERE state IN ('done', 'poison')").fetchone()
            rows, sent = con.execute(
                "SELECT count(*), coalesce(sum(status = 'sent'), 0) "
                "FROM outbox").fetchone()
            return done, rows, sent, handled
        except sqlite3.OperationalError:  # not made yet
            return 0, 0, 0, 0
        finally:
            con.close()

    def finished(self):
        done, rows, sent, handled = self.progress()
        return done == MAILS and rows == sent and rows >= handled

    # ---- the mail ----

    def questions(self):
        """MAILS questions as {Message-ID: (sender, raw)}, in order."""
        out = {}
        for i in range(MAILS):
            who = self.people.replace("@", "+%d@" % i)
            msg = email.message.EmailMessage(policy=email.policy.SMTP)
            msg["From"] = "Lid %d <%s>" % (i, who)
            msg["To"] = self.list
            # Help, not sign-ups: botu answers at most 50 sign-ups an hour
            # (a forged wave) and leaves the rest for a person.
            msg["Subject"] = "Hulp"
            msg["Date"] = email.utils.formatdate(localtime=True)
            msg["Message-ID"] = email.utils.make_msgid(
                "k%d" % i, domain="botu.test")
            msg.set_content("Hoe werkt deze lijst?\n")
            out[msg["Message-ID"]] = (who, msg.as_bytes())
        return out

    def append(self, raws):
        """Appends the mails to the list's INBOX over one session."""
        if not raws:
            return
        with self.servers.imap(self.list) as c:
            for raw in raws:
                typ, data = c.append("INBOX", None, None, raw)
                self.assertEqual(typ, "OK", data)

    # ---- the test ----

    def test_kills_lose_nothing_and_repeat_nothing(self):
        rnd = random.Random(SEED)
        print("\n  kill test: %d mails, %d random kills, seed %d"
              % (MAILS, RANDOM_KILLS, SEED))
        t_start = time.monotonic()
        kills = []      # (time.time(), what, (done, rows, sent) before)

        # A crash in the first migration of a fresh database, then a first
        # start that remembers where the mailbox is.
        out = self.botu("run", "--once", env={"BOTU_CRASH_AT": "migration"})
        self.assertEqual(out.returncode, -signal.SIGABRT, out.stderr)
        self.assertIn("crash point migration", out.stderr)
        kills.append((time.time(), "crash point migration", (0, 0, 0, 0)))
        out = self.botu("run", "--once")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("first start", out.stderr)

        questions = self.questions()
        mids = {m: who for m, (who, _) in questions.items()}
        raws = [raw for _, raw in questions.values()]

        # The schedule: each crash point once, at a random Nth time, mixed
        # with the random kills; each run goes on until its kill. The mail
        # comes in waves, one before each run (while botu is down), so
        # every run has mail to take in and answers to send.
        plan = [("point", p) for p in CRASH_POINTS]
        plan += [("random", None)] * RANDOM_KILLS
        rnd.shuffle(plan)
        wave = -(-MAILS // (len(plan) + 1))
        # A run lives long enough to log in and get some work done, not
        # so long that it finishes its wave (about 20 ms a mail under the
        # sanitizers).
        busy = max(0.4, min(3.0, wave * 0.03))
        idle_kills = 0
        appended = 0
        for kind, point in plan:
            self.append(raws[:wave])
            appended += len(raws[:wave])
            del raws[:wave]
            before = self.progress()
            if kind == "point":
                done, rows, sent, _ = before
                left = appended - done
                if point in ("before-send", "after-send"):
                    left += rows - sent
                self.assertGreaterEqual(left, 2, "no work for %s" % point)
                nth = rnd.randint(1, min(10, left - 1))
                proc = self.start("%s:%d" % (point, nth))
                try:
                    rc = proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    self.fail("crash point %s:%d not reached in 120 s\n%s"
                              % (point, nth, self.log_tail()))
                self.assertEqual(rc, -signal.SIGABRT, self.log_tail())
                self.assertIn("crash point %s reached" % point,
                              self.log_tail(20000))
                kills.append((time.time(), "crash point %s:%d"
                              % (point, nth), before))
            elif kind == "random":
                proc = self.start()
                time.sleep(rnd.uniform(0.15, busy))
                self.assertIsNone(proc.poll(), "botu ended by itself\n%s"
                                  % self.log_tail())
                when = time.time()
                before = self.progress()
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                if self.finished():
                    idle_kills += 1
                kills.append((when, "SIGKILL", before))

        # The final run, until everything is done; then a clean stop.
        self.append(raws)
        proc = self.start()
        deadline = time.monotonic() + max(120, MAILS * 0.5)
        try:
            # A SIGTERM before botu has its handlers would just kill it.
            while "botu started" not in self.log_tail(20000).rpartition(
                    "==== start")[2]:
                if proc.poll() is not None or \
                        time.monotonic() > deadline:
                    self.fail("botu did not start\n%s" % self.log_tail())
                time.sleep(0.05)
            while not self.finished():
                if proc.poll() is not None:
                    self.fail("botu ended: %d\n%s" % (proc.returncode,
                                                      self.log_tail()))
                if time.monotonic() > deadline:
                    self.fail("not done: %r\n%s" % (self.progress(),
                                                    self.log_tail()))
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=30)
        self.assertEqual(rc, 0, self.log_tail())
        self.servers.wait_queue_empty(timeout=120)
        took = time.monotonic() - t_start

        # ---- handled exactly once ----
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            inbound = con.execute(
                "SELECT message_id, state FROM inbound").fetchall()
            outbox = con.execute(
                "SELECT message_id, rcpt, status, kind FROM outbox"
            ).fetchall()
            members = [r[0] for r in con.execute(
                "SELECT email FROM members")]
        finally:
            con.close()
        by_mid = {}
        for mid, state in inbound:
            by_mid.setdefault(mid, []).append(state)
        self.assertEqual(sorted(by_mid), sorted(mids), "a mail lost")
        twice = {m: s for m, s in by_mid.items() if len(s) != 1}
        self.assertEqual(twice, {}, "a mail stored twice")
        states = {}
        for mid, (state,) in by_mid.items():
            states[state] = states.get(state, 0) + 1
        # A kill in the same window twice sets a mail aside (poison): it is
        # kept for the organiser, not lost. Everything else was handled.
        self.assertEqual(set(states) - {"done", "poison"}, set(), states)
        set_aside = states.get("poison", 0)
        self.assertLessEqual(set_aside, len(kills) // 2)
        handled = states.get("done", 0)
        self.assertEqual(members, [])
        rcpts = [r[1].lower() for r in outbox]
        self.assertEqual(len(rcpts), len(set(rcpts)),
                         "a question answered twice")
        self.assertEqual(sorted(rcpts),
                         sorted(w.lower() for m, w in mids.items()
                                if by_mid[m] == ["done"]))
        self.assertEqual(len(outbox), handled)
        self.assertEqual({r[2] for r in outbox}, {"sent"})

        # ---- delivered at least once; duplicates only after a 250 ----
        copies = {}
        for m in self.servers.fetch_all(self.people):
            copies.setdefault(m.msg["Message-ID"], []).append(
                received_time(m.msg))
        missing = [r[0] for r in outbox if r[0] not in copies]
        self.assertEqual(missing, [], "answers never delivered")
        strangers = set(copies) - {r[0] for r in outbox}
        self.assertEqual(strangers, set(), "mail that botu did not queue")
        duplicates = 0
        kill_times = [k[0] for k in kills]
        for mid, times in copies.items():
            if len(times) < 2:
                continue
            times.sort()
            duplicates += len(times) - 1
            for first, again in zip(times, times[1:]):
                # A kill after the server took it and before it was sent
                # again (Received has whole seconds).
                self.assertTrue(
                    any(first - 1 <= k <= again + 1 for k in kill_times),
                    "%s arrived twice without a kill between: %r"
                    % (mid, times))

        # Results are committed in groups and the connections never run
        # more than DELIVER_GROUP answers each ahead of the commits: a kill
        # repeats at most those and the mails in flight, per connection.
        bound = (botutest.deliver_group() + 1) * CONNECTIONS * len(kills)
        self.assertLessEqual(duplicates, bound)

        during_intake = sum(1 for k in kills if k[2][0] < MAILS and
                            k[1] != "crash point migration")
        during_delivery = sum(1 for k in kills if k[2][1] > k[2][2])
        report = (
            "kill test (seed %d): %d questions in, %d answers out, "
            "%d kills (%d SIGKILL at random moments, %d named crash points "
            "incl. migration), %d during intake, %d during delivery, "
            "%d after the work was done; handled twice: 0, lost: 0, "
            "set aside after two kills in one mail: %d, "
            "not delivered: 0, delivered twice (kill between 250 and "
            "commit): %d (at most %d); %.0f s"
            % (SEED, MAILS, len(outbox), len(kills), RANDOM_KILLS,
               len(kills) - RANDOM_KILLS, during_intake, during_delivery,
               idle_kills, set_aside, duplicates, bound, took))
        print("  " + report)
        if os.environ.get("BOTU_KILL_REPORT"):
            with open(os.environ["BOTU_KILL_REPORT"], "a") as f:
                f.write(report + "\n")
        # The kills must have hit work, not an idle daemon.
        self.assertGreaterEqual(during_intake, len(kills) // 3, report)
        self.assertGreaterEqual(during_delivery, 1, report)


if __name__ == "__main__":
    unittest.main()
