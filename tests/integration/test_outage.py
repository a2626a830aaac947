#!/usr/bin/python3
"""Outages against the real Dovecot and Postfix: while a server or the
disk is away botu keeps everything, says clearly what is wrong, and when it
is back nothing is lost and nothing is done twice.

  - SMTP answering 4xx for a while, then back: every answer delivered once,
    after a backoff (no hammering meanwhile);
  - the IMAP connection cut in the middle of a FETCH: the mail is fetched
    again and handled once;
  - Dovecot restarted under the running daemon, then a UIDVALIDITY change:
    IDLE resumes, new mail is answered, old mail is not handled again;
  - SQLite busy (another writer holds the lock): botu waits, then says so
    and changes nothing; handled once when the lock is gone;
  - SQLite full (the database on a full file system): a clear error,
    nothing half-written, everything handled once when there is room;
  - a parse worker that does not start: said in the log (valgrind found
    the reason left unset).

(SMTP refusing connections altogether is in test_outbox.py, "keeps mail
while the server is down".)
"""
import email.message
import email.policy
import email.utils
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import botutest  # noqa: E402


def mail(from_, to, subject="Hulp", body="Hoe werkt dit?\n", size=0):
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"] = from_
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(domain="botu.test")
    if size:
        body += ("Een regel om de mail groot te maken. " * 2 + "\n") * \
            (size // 76)
    msg.set_content(body)
    return msg.as_bytes()


class Proxy:
    """A TCP forwarder to 127.0.0.1:target (TLS passes through) with a
    mode: "forward"; "refuse" (greets with `greeting` and closes);
    "cut" (the first connection is cut after `cut` octets from the
    server, later ones forward). Counts the connections."""

    def __init__(self, target):
        self.target = target
        self.mode = "forward"
        self.greeting = b"421 4.3.2 Service shutting down, try later\r\n"
        self.cut = 0
        self.connections = 0
        self.cuts = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.stopping = True
        self.sock.close()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            if self.mode == "refuse":
                try:
                    c.sendall(self.greeting)
                    time.sleep(0.2)
                finally:
                    c.close()
                continue
            limit = None
            if self.mode == "cut" and self.cuts == 0:
                self.cuts = 1
                limit = self.cut
            s = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pump, args=(c, s, None),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(s, c, limit),
                             daemon=True).start()

    @staticmethod
    def _pump(src, dst, limit):
        n = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if limit is not None and n + len(data) >= limit:
                    dst.sendall(data[:max(0, limit - n)])
                    break
                n += len(data)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class Outage(botutest.ServersTestCase):
    def setUp(self):
        parent = os.environ.get("BOTU_TEST_TMP") or None
        self.tmp = tempfile.mkdtemp(prefix="botu-outage-", dir=parent)
        os.chmod(self.tmp, 0o755)
        self.tag = "%s%s" % (self._testMethodName[5:12].replace("_", ""),
                             uuid.uuid4().hex[:6])
        self.list = "o-%s@lsabewoners.nl" % self.tag
        self.db = os.path.join(self.tmp, "botu.db")
        self.log = os.path.join(self.tmp, "botu.log")
        self.proc = None
        if not os.environ.get("BOTU_TEST_KEEP"):
            self.addCleanup(shutil.rmtree, self.tmp, True)
        self.addCleanup(self.stop_daemon)

    def configure(self, overrides=None):
        conf = {"list": {"name": "Energie community BoTu",
                         "database": self.db}}
        for section, keys in (overrides or {}).items():
            conf.setdefault(section, {}).update(keys)
        self.conf = self.servers.write_config(
            os.path.join(self.tmp, "botu.conf"), conf, user=self.list)

    def who(self, i):
        return "p%d-%s@example.org" % (i, self.tag)

    def botu(self, *args, env=None, check=True, timeout=180):
        full = dict(os.environ)
        full.update(env or {})
        out = subprocess.run([botutest.BOTU_BIN, "-c", self.conf] +
                             list(args), capture_output=True, text=True,
                             timeout=timeout, env=full,
                             stdin=subprocess.DEVNULL, errors="replace")
        if check and out.returncode != 0:
            self.fail("botu %s: exit %d\n%s%s" % (
                " ".join(args), out.returncode, out.stdout, out.stderr))
        return out

    def start_daemon(self, env=None):
        full = dict(os.environ)
        full.update(env or {})
        f = open(self.log, "a")
        self.addCleanup(f.close)
        self.proc = subprocess.Popen(
            [botutest.BOTU_BIN, "-v", "-c", self.conf, "run"],
            stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
            env=full)

    def stop_daemon(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.assertEqual(self.proc.wait(timeout=20), 0,
                                 self.log_text()[-3000:])
            finally:
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait()
        self.proc = None

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=60, start=0):
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_text()
            m = re.search(pattern, text[start:])
            if m:
                return start + m.end()
            if self.proc is not None and self.proc.poll() is not None:
                self.fail("botu ended: %s\n%s" % (self.proc.returncode,
                                                  text[-3000:]))
            if time.monotonic() > deadline:
                self.fail("no %r in the log after %d s\n%s"
                          % (pattern, timeout, text[-3000:]))
            time.sleep(0.1)

    def query(self, sql, *args):
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True,
                              timeout=30)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def answers(self, n, timeout=30):
        """The answers in the mailboxes of who(0..n-1), once each."""
        self.servers.wait_queue_empty(timeout=timeout)
        got = {}
        for i in range(n):
            got[i] = len(self.servers.fetch_all(self.who(i)))
        return got

    def inbox(self):
        return self.servers.fetch_all(self.list)

    # ---- SMTP ----

    def test_smtp_4xx_for_a_while_then_back_delivers_after_backoff(self):
        proxy = Proxy(self.servers.port("submission"))
        self.addCleanup(proxy.close)
        proxy.mode = "refuse"
        proxy.greeting = b"451 4.3.0 Temporary local problem, try later\r\n"
        self.configure({"smtp": {"port": str(proxy.port)}})
        self.botu("run", "--once")
        for i in range(3):
            self.servers.append(self.list, mail(self.who(i), self.list))
        t0 = time.time()
        self.start_daemon()
        deadline = time.monotonic() + 60
        while self.query("SELECT count(*) FROM outbox WHERE attempts = 1 "
                         "AND last_code = 451") != [(3,)]:
            if time.monotonic() > deadline:
                self.fail("not tried after 60 s\n%s"
                          % self.log_text()[-3000:])
            time.sleep(0.2)
        rows = self.query("SELECT attempts, last_code, next_try "
                          "FROM outbox")
        self.assertEqual(len(rows), 3)
        for attempts, code, next_try in rows:
            self.assertEqual((attempts, code), (1, 451), rows)
            # The first backoff: a minute (outbox.h).
            self.assertGreaterEqual(next_try, t0 + 55, rows)
        # A while of 4xx: botu does not hammer the server meanwhile.
        time.sleep(20)
        during = proxy.connections
        self.assertLessEqual(during, 4, "connections during the outage")
        proxy.mode = "forward"
        back = time.time()
        # In one pass or more: the retries fall due in the same second
        # or in the next.
        deadline = time.monotonic() + 120
        while self.query("SELECT count(*) FROM outbox WHERE status = "
                         "'sent'") != [(3,)]:
            if time.monotonic() > deadline:
                self.fail("not sent after 120 s\n%s"
                          % self.log_text()[-3000:])
            time.sleep(0.5)
        took = time.time() - back
        self.assertEqual(self.answers(3), {0: 1, 1: 1, 2: 1})
        rows = self.query("SELECT status, attempts FROM outbox")
        self.assertEqual(rows, [("sent", 2)] * 3)
        print("\n  smtp 451 outage: %d connections while refused, "
              "delivered %.0f s after the server was back (backoff 60 s)"
              % (during, took))

    # ---- IMAP ----

    def test_imap_cut_mid_fetch_fetches_again_and_handles_once(self):
        proxy = Proxy(self.servers.port("imaps"))
        self.addCleanup(proxy.close)
        self.configure({"imap": {"port": str(proxy.port)}})
        self.botu("run", "--once")
        big = mail(self.who(0), self.list, size=3 * 1024 * 1024)
        self.servers.append(self.list, big)
        proxy.cuts = 0
        proxy.cut = 1024 * 1024  # octets into this session's replies
        proxy.mode = "cut"
        out = self.botu("run", "--once", check=False)
        cut = proxy.cuts
        self.botu("run", "--once")
        self.assertEqual(cut, 1)
        rows = self.query("SELECT state, attempts FROM inbound")
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][0], "done", rows)
        self.assertEqual(self.answers(1), {0: 1})
        self.assertEqual(self.inbox(), [])
        print("\n  imap cut mid-fetch: first run exit %d (%s), handled "
              "once after: attempts %d" % (
                  out.returncode, (re.findall(r"mailbox: .*", out.stderr)
                                   or ["-"])[-1][:80], rows[0][1]))

    def dovecot(self, *args):
        conf = os.path.join(self.servers.dir, "dovecot", "dovecot.conf")
        # Its output to a file: the master keeps it open.
        with open(os.path.join(self.tmp, "dovecot.out"), "a") as f:
            subprocess.run(["dovecot", "-c", conf] + list(args),
                           check=True, stdin=subprocess.DEVNULL, timeout=60,
                           stdout=f, stderr=f)

    def test_dovecot_restart_and_uidvalidity_change_idle_resumes(self):
        self.configure()
        self.botu("run", "--once")
        self.start_daemon()
        at = self.wait_log(r"imap S: \+ idling")
        self.servers.append(self.list, mail(self.who(0), self.list))
        self.wait_log(r"UID \d+ from .*: help \(handled\)", start=at)

        # Dovecot goes away under the IDLE, and comes back.
        self.dovecot("stop")
        time.sleep(2)
        self.dovecot()
        at = self.wait_log(r"imap S: \+ idling", timeout=90,
                           start=len(self.log_text()))
        self.servers.append(self.list, mail(self.who(1), self.list))
        at = self.wait_log(r"UID \d+ from .*: help \(handled\)", start=at)

        # A new UIDVALIDITY: old mail moved back is not handled again.
        done = self.servers.fetch_all(self.list, "botu-done")
        self.assertEqual(len(done), 2)
        self.servers.append(self.list, done[0].msg.as_bytes())
        self.servers.set_uidvalidity(self.list, 77777)
        # The daemon sees it at its next cycle; a new mail wakes it.
        self.servers.append(self.list, mail(self.who(2), self.list))
        self.wait_log(r"UID \d+ from .*: help \(handled\)", start=at,
                      timeout=90)
        time.sleep(2)
        self.stop_daemon()
        self.assertEqual(self.answers(3), {0: 1, 1: 1, 2: 1})
        states = self.query("SELECT state, count(*) FROM inbound "
                            "GROUP BY state ORDER BY state")
        self.assertEqual(dict(states).get("done"), 3, states)
        log = self.log_text()
        self.assertRegex(log, r"(?i)uidvalidity")
        print("\n  dovecot restart: IDLE resumed; UIDVALIDITY change: %s"
              % dict(states))

    # ---- SQLite ----

    def test_sqlite_busy_waits_then_says_so_and_changes_nothing(self):
        self.configure()
        self.botu("run", "--once")
        self.servers.append(self.list, mail(self.who(0), self.list))
        before = self.query("SELECT count(*) FROM inbound")
        con = sqlite3.connect(self.db, timeout=1, isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        try:
            t0 = time.monotonic()
            out = self.botu("run", "--once", check=False)
            waited = time.monotonic() - t0
        finally:
            con.execute("ROLLBACK")
            con.close()
        self.assertNotEqual(out.returncode, 0)
        self.assertRegex(out.stderr, r"database is locked")
        self.assertGreaterEqual(waited, 9)  # BUSY_TIMEOUT_MS, db.c
        self.assertEqual(self.query("SELECT count(*) FROM inbound"), before)
        self.assertEqual(len(self.inbox()), 1)
        self.botu("run", "--once")
        self.assertEqual(self.answers(1), {0: 1})
        self.assertEqual(self.query("SELECT state FROM inbound"),
                         [("done",)])
        print("\n  sqlite busy: waited %.1f s, then: %s" % (
            waited, out.stderr.strip().splitlines()[-1][:100]))

    def test_sqlite_full_says_so_writes_nothing_half_and_recovers(self):
        # 16 MB: the WAL alone grows to 4 MB before its checkpoint.
        fs = os.path.join(self.tmp, "fs")
        os.mkdir(fs)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m",
                            "tmpfs", fs], capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs: %s" % r.stderr)
        self.addCleanup(subprocess.run, ["umount", "-l", fs])
        self.db = os.path.join(fs, "botu.db")
        self.configure()
        self.botu("run", "--once")
        # Leave about 150 KB: room for some answers, not for 60.
        filler = os.path.join(fs, "filler")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        os.truncate(filler, os.path.getsize(filler) - 150 * 1024)
        n = 60
        with self.servers.imap(self.list) as c:
            for i in range(n):
                c.append("INBOX", None, None,
                         mail(self.who(i), self.list, size=2000))
        out = self.botu("run", "--once", check=False)
        self.assertRegex(out.stderr, r"database or disk is full")
        # Sending stops at the first results it cannot record (it used to
        # send the same mails again and again); what went out unrecorded
        # is said, and goes once more later (a 250 before no commit): at
        # most one group of results and the mail in flight (deliver.h),
        # over the one connection.
        self.assertRegex(out.stderr, r"sending stops until it can")
        unrecorded = sum(int(x) for x in re.findall(
            r"(\d+) mails went out but their results could not be "
            r"recorded", out.stderr))
        self.assertLessEqual(unrecorded, botutest.deliver_group() + 1)
        # Nothing half-written: each handled mail has its answer queued,
        # and nothing else is marked.
        done = self.query("SELECT count(*) FROM inbound WHERE state = "
                          "'done'")[0][0]
        queued = self.query("SELECT count(*) FROM outbox")[0][0]
        self.assertEqual(done, queued)
        self.assertLess(done, n)
        self.assertEqual(self.query("PRAGMA integrity_check"), [("ok",)])
        left = len(self.inbox())
        self.assertGreaterEqual(left, n - done)
        os.unlink(filler)
        self.botu("run", "--once")
        self.botu("run", "--once")
        self.assertEqual(self.query("SELECT count(*) FROM inbound WHERE "
                                    "state = 'done'"), [(n,)])
        got = self.answers(n)
        self.assertEqual(sorted(got.values()),
                         [1] * (n - unrecorded) + [2] * unrecorded, got)
        self.assertEqual(self.inbox(), [])
        print("\n  sqlite full: %d of %d handled before the disk was "
              "full, %d answers queued, then: %s; all %d handled once "
              "after, %d answer sent twice (sent, then not recorded)"
              % (done, n, queued, re.findall(r".*disk is full.*",
                                            out.stderr)[0][:90], n,
                 unrecorded))

    # ---- the parse worker ----

    def test_a_parse_worker_that_does_not_start_is_said(self):
        self.configure()
        self.botu("run", "--once")
        self.servers.append(self.list, mail(self.who(0), self.list))
        out = self.botu("run", "--once", check=False,
                        env={"BOTU_PARSE_WORKER": "/bin/false"})
        self.assertRegex(out.stderr, r"mailbox: parse worker /bin/false "
                         r"did not start")
        self.assertEqual(len(self.inbox()), 1)
        self.botu("run", "--once")
        self.assertEqual(self.answers(1), {0: 1})


if __name__ == "__main__":
    unittest.main()
