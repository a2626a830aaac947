#!/usr/bin/python3
"""test_bounce.py - bounces end to end, against a real Dovecot and Postfix
and scripted SMTP servers, as an organiser sees them:

- `botu check --send-test` mails the list's own +test address through the
  real submission port, finds the mail in the mailbox, reports that
  plus-addresses arrive and the envelope sender survives, files the test
  mail away, and from then on `[smtp] verp = auto` uses bounce addresses.
  With a list domain that is not delivered, the test says so and VERP stays
  off.
- A welcome to an address Postfix does not know (gone@example.org, a
  transport map entry "error:5.1.1") comes back as a real Postfix DSN to the
  VERP address; `botu run --once` counts it for that member (hard, 5.1.1,
  score 1.0), files the report, and `members list` and `status` show it.
- A bounce of the organiser's own mail (sent from the list's mailbox with a
  mail client) stays in the inbox, unread.
- A report to a forged bounce address is filed and changes nothing.
- An ARF complaint about a member's mail ends the membership and shows in
  `botu status`.
- A scripted SMTP server that answers "550 5.7.30" to every recipient
  pauses the outbox; nobody's delivery or score changes.

Run with Debian's /usr/bin/python3, as root (tests/servers.sh):
    tests/integration/run.sh tests/integration/test_bounce.py
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
sys.path.insert(0, os.path.join(HERE, "proto"))
import botutest  # noqa: E402
import proto  # noqa: E402

REPO = botutest.REPO
GONE = "gone@example.org"

# Postfix refuses mail for GONE after accepting it: a real DSN comes back.
MAIN_CF = ("transport_maps = inline:{ {%s = error:5.1.1 User unknown "
           "(no such member here)} }" % GONE)

_servers = None


def servers():
    global _servers
    if _servers is None:
        env = os.environ.get("BOTU_TEST_ENV")
        _servers = (botutest.Servers.attach(env) if env else
                    botutest.Servers.start(main_cf=MAIN_CF))
    return _servers


class Case(unittest.TestCase):
    """One list address, mailbox and database per test."""

    def setUp(self):
        self.servers = servers()
        self.tmp = tempfile.mkdtemp(prefix="botu-bounce-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        tag = re.sub(r"[^a-z0-9]", "", self._testMethodName[5:])[:12]
        self.list = "b%s%d@lsabewoners.nl" % (tag, os.getpid() % 1000)
        self.conf = os.path.join(self.tmp, "botu.conf")
        self.write_config()

    def write_config(self, overrides=None, address=None):
        o = {"list": {"name": "Energie community BoTu"}}
        if address is not None:
            o["list"]["address"] = address
        for section, keys in (overrides or {}).items():
            o.setdefault(section, {}).update(keys)
        self.servers.write_config(self.conf, o, user=self.list)

    def botu(self, *args, code=0, timeout=180):
        p = subprocess.run([botutest.BOTU_BIN, "-c", self.conf, *args],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
        if code is not None and p.returncode != code:
            self.fail("botu %s: exit %d, wanted %d\n%s%s" % (
                " ".join(args), p.returncode, code, p.stdout, p.stderr))
        return p

    def members(self):
        return {m["email"]: m for m in
                json.loads(self.botu("members", "list", "--json").stdout)}

    def status(self):
        return json.loads(self.botu("status", "--json").stdout)

    def outbox(self):
        return json.loads(self.botu("outbox", "list", "--json").stdout)

    def db(self):
        path = os.path.join(self.tmp, "botu.db")
        return sqlite3.connect("file:%s?mode=ro" % path, uri=True)

    def inbox(self, mailbox="INBOX"):
        return self.servers.fetch_all(self.list, mailbox)

    def inject(self, msg, to=None):
        """Puts msg (bytes) into the list's mailbox over plain SMTP."""
        mid = re.search(rb"Message-ID: (<[^>]+>)", msg, re.I).group(1)
        self.servers.send("", to or self.list, msg)
        self.servers.wait_for_mail(
            self.list, lambda m: m["Message-ID"] == mid.decode())

    def send_test(self, timeout=30, code=0):
        return self.botu("check", "--send-test", "--timeout", str(timeout),
                         code=code, timeout=timeout + 60)


class SendTestAndVerp(Case):
    def test_send_test_then_a_real_postfix_bounce_is_counted(self):
        self.botu("run", "--once")          # first start: remembers UIDNEXT
        before = self.status()
        self.assertFalse(before["verp"])    # never before the send test

        p = self.send_test()
        lines = {line[8:23].strip(): line for line in p.stdout.splitlines()}
        local, domain = self.list.split("@")
        self.assertRegex(lines["send test"], r"^ok +send test +%s\+test-"
                         r"[a-z2-7]{26}@%s arrived after [\d.]+ s; moved "
                         r"out of the inbox$" % (re.escape(local),
                                                 re.escape(domain)))
        self.assertRegex(lines["plus-address"], r"^ok .*they arrive, and "
                         r"Delivered-To keeps the \+detail")
        self.assertRegex(lines["envelope"], r"^ok .*Return-Path is the "
                         r"bounce address")
        self.assertRegex(lines["authentication"], r"^note .*no "
                         r"Authentication-Results header")
        self.assertIn("[smtp] verp = auto: botu uses bounce addresses",
                      lines["verp"])
        # The test mail is out of the inbox, in botu-done.
        self.assertEqual([m.msg["Subject"] for m in self.inbox()], [])
        done = self.inbox("botu-done")
        self.assertEqual(len(done), 1)
        self.assertIn("Testmail van botu", done[0].msg["Subject"])
        self.assertNotIn("\\Seen", done[0].flags)
        self.assertTrue(self.status()["verp"])
        with self.db() as db:
            state = dict(db.execute("SELECT key, value FROM state"))
        self.assertEqual((state["sendtest.plus"], state["sendtest.envelope"],
                          state["verp.works"]), ("yes", "yes", "yes"))

        # A welcome to an address Postfix refuses: a DSN to the VERP address.
        self.botu("members", "add", GONE, "--welcome")
        row = self.outbox()[0]
        with self.db() as db:
            envelope = db.execute("SELECT envelope_from FROM outbox WHERE "
                                  "id = ?", (row["id"],)).fetchone()[0]
        self.assertRegex(envelope, r"^%s\+bounce-[a-z2-7]+-[a-z2-7]{13}@%s$"
                         % (re.escape(local), re.escape(domain)))
        self.assertLessEqual(len(envelope.split("@")[0]), 64)
        self.botu("run", "--once")           # sends it
        self.servers.wait_queue_empty(timeout=20)
        dsn = self.servers.wait_for_mail(
            self.list, lambda m: m["Delivered-To"] == envelope)
        self.assertIn("multipart/report", dsn.msg["Content-Type"])

        # explain (read-only) tells what run will do, then run does it.
        raw = dsn.msg.as_bytes()
        path = os.path.join(self.tmp, "dsn.eml")
        with open(path, "wb") as f:
            f.write(raw)
        ex = json.loads(self.botu("explain", "--json", path).stdout)
        self.assertEqual(ex["intent"], "bounce")
        self.assertTrue(ex["act"])
        self.assertIn("count a hard failure", ex["action"])
        self.assertEqual(ex["bounces"], [{
            "address": GONE, "status": "5.1.1", "class": "hard",
            "action": "failed",
            "diagnostic": "User unknown (no such member here)"}])
        self.assertEqual(ex["report"]["message_ids"], [row["message_id"]])
        self.assertIn("sent to the bounce address", ex["reason"])
        self.assertEqual(self.members()[GONE]["bounce"], None)

        self.botu("run", "--once")
        m = self.members()[GONE]
        self.assertEqual(m["delivery"], "on")     # one failure: not yet
        self.assertEqual(m["bounce"]["score"], 1.0)
        self.assertTrue(m["bounce"]["reason"].startswith(
            "5.1.1 hard: User unknown"), m["bounce"])
        self.assertEqual([x.msg["Message-ID"] for x in self.inbox()], [])
        filed = [x for x in self.inbox("botu-done")
                 if x.msg["Message-ID"] == dsn.msg["Message-ID"]]
        self.assertEqual(len(filed), 1)
        with self.db() as db:
            got = db.execute("SELECT address, status, class, score, "
                             "outbox_id FROM bounces").fetchall()
        self.assertEqual(got, [(GONE, "5.1.1", "hard", 1.0, row["id"])])
        self.assertEqual(self.status()["bounces"]["reports"], 1)

        # The same report again (a copy) counts nothing more.
        self.inject(raw.replace(dsn.msg["Message-ID"].encode(),
                                b"<copy-of-the-dsn@mail.botu.test>"),
                    to=envelope)
        self.botu("run", "--once")
        self.assertEqual(self.members()[GONE]["bounce"]["score"], 1.0)

    def test_send_test_without_plus_delivery(self):
        # The list's domain is not delivered here: nothing can arrive.
        self.write_config(address=self.list.replace("lsabewoners.nl",
                                                    "elders.example"))
        self.botu("run", "--once")
        p = self.send_test(timeout=5, code=69)
        self.assertRegex(p.stdout, r"FAILED +plus-address +the mail to "
                         r"\S+\+test-[a-z2-7]{26}@elders\.example did not "
                         r"arrive within 5 s")
        self.assertIn("verp = auto: botu does not use bounce addresses",
                      p.stdout)
        self.assertFalse(self.status()["verp"])
        with self.db() as db:
            state = dict(db.execute("SELECT key, value FROM state"))
        self.assertEqual((state["sendtest.plus"], state["verp.works"]),
                         ("no", "no"))
        self.botu("members", "add", "lid@example.org", "--welcome")
        with self.db() as db:
            envelope = db.execute("SELECT envelope_from FROM outbox"
                                  ).fetchone()[0]
        self.assertEqual(envelope, self.list.replace("lsabewoners.nl",
                                                     "elders.example"))


# A provider that rewrites the envelope sender to the plain address.
REWRITE_CF = ("sender_canonical_classes = envelope_sender\n"
              "sender_canonical_maps = regexp:{ "
              "{/^([^+]*)\\+bounce-[^@]*@(.*)$$/ $$1@$$2} }")


class EnvelopeRewritten(Case):
    """Plus-addresses arrive, but the provider replaces the envelope
    sender: the send test says so and VERP stays off."""

    own = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.own = botutest.Servers.start(main_cf=REWRITE_CF)

    @classmethod
    def tearDownClass(cls):
        if cls.own is not None:
            cls.own.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.servers = self.own
        self.write_config()

    def test_send_test_sees_the_rewritten_envelope(self):
        self.botu("run", "--once")
        p = self.send_test()
        self.assertRegex(p.stdout, r"ok +plus-address +they arrive")
        self.assertRegex(p.stdout, r"note +envelope +Return-Path is <%s>, "
                         r"not the bounce address <[^>]+\+bounce-a-"
                         r"[a-z2-7]{13}@" % re.escape(self.list))
        self.assertIn("botu does not use bounce addresses", p.stdout)
        self.assertFalse(self.status()["verp"])
        with self.db() as db:
            state = dict(db.execute("SELECT key, value FROM state"))
        self.assertEqual((state["sendtest.plus"], state["sendtest.envelope"],
                          state["verp.works"]), ("yes", "no", "no"))
        # verp = yes overrides what the test found.
        self.write_config({"smtp": {"verp": "yes"}})
        self.assertTrue(self.status()["verp"])


class NotOurs(Case):
    def test_bounce_of_the_organisers_own_mail_stays_unread(self):
        self.botu("run", "--once")
        # The organiser writes from the list's mailbox with a mail client
        # to an address that does not exist: the bounce comes back.
        msg = botutest.make_mail(self.list, "niemand@nergens.invalid",
                                 "Vraag over de buurtborrel")
        self.servers.submit(self.list, self.list, "niemand@nergens.invalid",
                            msg)
        dsn = self.servers.wait_for_mail(
            self.list, lambda m: "Undelivered" in str(m["Subject"]),
            timeout=20)
        self.botu("run", "--once")
        left = self.inbox()
        self.assertEqual([m.msg["Message-ID"] for m in left],
                         [dsn.msg["Message-ID"]])
        self.assertNotIn("\\Seen", left[0].flags)
        with self.db() as db:
            state, intent, reason = db.execute(
                "SELECT state, intent, reason FROM inbound").fetchone()
        self.assertEqual((state, intent), ("left", "bounce"))
        self.assertIn("mail botu did not send", reason)

    def test_forged_bounce_address_changes_nothing(self):
        self.botu("run", "--once")
        self.botu("members", "add", "lid@example.org", "--welcome")
        self.botu("outbox", "flush")
        mid = self.outbox()[0]["message_id"]
        local, domain = self.list.split("@")
        forged = "%s+bounce-b-abcdefghijklm@%s" % (local, domain)
        dsn = (
            "From: MAILER-DAEMON@mx.example.org\r\n"
            "To: %s\r\nSubject: Undelivered Mail Returned to Sender\r\n"
            "Message-ID: <forged.1@mx.example.org>\r\n"
            "Content-Type: multipart/report; report-type=delivery-status; "
            "boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
            "failed\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.example.org\r\n\r\n"
            "Final-Recipient: rfc822; lid@example.org\r\nAction: failed\r\n"
            "Status: 5.1.1\r\n--b\r\nContent-Type: text/rfc822-headers"
            "\r\n\r\nTo: lid@example.org\r\nMessage-ID: %s\r\n\r\n--b--\r\n"
            % (forged, mid)).encode()
        self.inject(dsn, to=forged)
        self.botu("run", "--once")
        self.assertEqual(self.inbox(), [])         # filed as done
        self.assertEqual(self.members()["lid@example.org"]["bounce"], None)
        with self.db() as db:
            reason = db.execute("SELECT reason FROM inbound").fetchone()[0]
            self.assertEqual(db.execute("SELECT count(*) FROM bounces")
                             .fetchone()[0], 0)
        self.assertIn("bounce address botu did not make", reason)

    def test_complaint_ends_the_membership(self):
        self.botu("run", "--once")
        self.botu("members", "add", "boos@example.org", "--welcome")
        self.botu("outbox", "flush")
        mid = self.outbox()[0]["message_id"]
        arf = (
            "From: staff@fbl.example.net\r\nTo: %s\r\n"
            "Subject: complaint about message from %s\r\n"
            "Message-ID: <arf.1@fbl.example.net>\r\n"
            "Content-Type: multipart/report; report-type=feedback-report; "
            "boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
            "This is an email abuse report.\r\n"
            "--b\r\nContent-Type: message/feedback-report\r\n\r\n"
            "Feedback-Type: abuse\r\nUser-Agent: FBL/1.0\r\nVersion: 1\r\n"
            "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            "From: %s\r\nTo: redacted@example.org\r\nMessage-ID: %s\r\n"
            "\r\n--b--\r\n" % (self.list, self.list, self.list, mid)).encode()
        self.inject(arf)
        self.botu("run", "--once")
        self.assertEqual(self.members()["boos@example.org"]["status"],
                         "unsubscribed")
        alerts = self.status()["bounces"]["alerts"]
        self.assertEqual([(a["kind"], a["email"]) for a in alerts],
                         [("complaint", "boos@example.org")])
        text = self.botu("status").stdout
        self.assertRegex(text, r"COMPLAINT .*: boos@example\.org called our "
                         r"mail spam; the membership ended")
        self.assertEqual(self.inbox(), [])


# ---------------------------------------------------------------- 5.7.30

LOGIN = """\
S: 220 proto.test ESMTP proto
C: EHLO \\S+
S+: 250-proto.test
S+: 250-8BITMIME
S: 250 STARTTLS
C: STARTTLS
S: 220 2.0.0 Ready to start TLS
TLS
C: EHLO \\S+
S+: 250-proto.test
S+: 250-AUTH PLAIN
S: 250 8BITMIME
C: AUTH PLAIN
S: 334${SP}
C: [A-Za-z0-9+/]+=*
S: 235 2.7.0 Authentication successful
"""

BYE = """\
C?: QUIT
S: 221 2.0.0 Bye
EXPECT-CLOSE
"""

REFUSAL = ("550 5.7.30 Basic authentication is not supported for Client "
           "Submission.")


def refused(var):
    return """\
C: MAIL FROM:<[^>]*>
S: 250 2.1.0 Ok
C: RCPT TO:<(?P<%s>[^>]*)>
S: %s
""" % (var, REFUSAL) + BYE


class Provider5730(unittest.TestCase):
    """A provider that turned basic authentication off answers 5.7.30 to
    every recipient: the outbox pauses and nobody is counted."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="botu-5730-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.certs = proto.make_certs(os.path.join(self.tmp, "certs"))
        secret = os.path.join(self.tmp, "secret")
        with open(secret, "w") as f:
            f.write("s3cret\n")
        os.chmod(secret, 0o600)
        self.conf = os.path.join(self.tmp, "botu.conf")
        self.sections = {
            "list": {"address": botutest.LIST_ADDRESS,
                     "database": os.path.join(self.tmp, "botu.db"),
                     "templates": os.path.join(REPO, "templates")},
            "smtp": {"host": "127.0.0.1", "port": "1",
                     "security": "starttls", "username": "annerike",
                     "password_file": secret, "ca_file": self.certs.ca,
                     "connections": "1", "verp": "yes"},
        }

    def write(self):
        with open(self.conf, "w") as f:
            for name, keys in self.sections.items():
                f.write("[%s]\n" % name)
                for k, v in keys.items():
                    f.write("%s = %s\n" % (k, v))

    def botu(self, *args, code=0):
        p = subprocess.run([botutest.BOTU_BIN, "-c", self.conf, *args],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=120)
        if code is not None and p.returncode != code:
            self.fail("botu %s: exit %d\n%s%s" % (" ".join(args),
                      p.returncode, p.stdout, p.stderr))
        return p

    def serve(self, script):
        srv = proto.ProtoServer(script, cert=self.certs.good_cert,
                                key=self.certs.good_key, timeout=20)
        srv.start()
        self.addCleanup(srv.stop)
        self.sections["smtp"]["port"] = str(srv.port)
        self.write()
        return srv

    def members(self):
        return json.loads(self.botu("members", "list", "--json").stdout)

    def test_5730_to_everyone_pauses_and_counts_nobody(self):
        self.write()
        people = ["a@example.org", "b@example.org", "c@example.org",
                  "d@example.org"]
        for a in people:
            self.botu("members", "add", a, "--welcome")
        srv = self.serve(LOGIN + ("ACCEPT\n" + LOGIN).join(
            refused("r%d" % i) for i in range(3)) + "EXPECT-NO-CONNECT 1\n")
        p = self.botu("outbox", "flush", code=75)
        res = srv.wait()
        self.assertTrue(res["ok"], res.get("error"))
        self.assertIn("sending is paused", p.stderr)
        self.assertIn("5.7.30", p.stderr)
        st = json.loads(self.botu("status", "--json").stdout)
        self.assertIn("5.7.30", st["pause_reason"])
        rows = json.loads(self.botu("outbox", "list", "--json").stdout)
        self.assertEqual({(r["status"], r["attempts"]) for r in rows},
                         {("queued", 0)})
        for m in self.members():
            self.assertEqual((m["delivery"], m["bounce"]), ("on", None))
        self.assertEqual(st["bounces"]["reports"], 0)
        self.assertIn("delivery    0 bouncing, 0 disabled",
                      self.botu("status").stdout)

    def test_5730_for_fewer_than_three_fails_them_but_counts_nobody(self):
        """Two mails only: too few to trip the breaker, so they fail; the
        5.7.30 class still counts against nobody."""
        self.write()
        for a in ("a@example.org", "b@example.org"):
            self.botu("members", "add", a, "--welcome")
        srv = self.serve(LOGIN + ("ACCEPT\n" + LOGIN).join(
            refused("r%d" % i) for i in range(2)) + "EXPECT-NO-CONNECT 1\n")
        self.botu("outbox", "flush", code=None)
        self.assertTrue(srv.wait()["ok"])
        rows = json.loads(self.botu("outbox", "list", "--json").stdout)
        self.assertEqual({r["status"] for r in rows}, {"failed"})
        for m in self.members():
            self.assertEqual((m["delivery"], m["bounce"]), ("on", None))


if __name__ == "__main__":
    unittest.main()
