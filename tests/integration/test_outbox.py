#!/usr/bin/python3
"""test_outbox.py - botu's own outbox and delivery (src/outbox.c,
src/deliver.c, `botu outbox`, `botu check`) end to end, as an organiser
uses them: `botu members add ADDRESS --welcome` queues a welcome mail,
`botu outbox flush` or `botu run --once` sends it.

- Real Postfix and Dovecot (tests/servers.sh through botutest): 200 mails
  arrive, each exactly once, over 1 and over 4 connections; with Postfix
  stopped the outbox keeps them and delivers them once it is back; a
  Postfix that takes 30 mails a minute gets 200 without a 4xx reply when
  max_per_minute = 30 (the one slow test, about 7 minutes), and does answer
  4xx when botu is not told the limit.
- Scripted servers (tests/integration/proto): the circuit breaker (5xx on
  MAIL FROM; the same 5xx for three recipients in a row), a 550 for one
  recipient, a 452, and the `botu outbox` commands on the result.
- `botu check` logs in to the real IMAP and SMTP servers, and says what to
  do when the password or the certificate is wrong.

Run with Debian's /usr/bin/python3, as root (tests/servers.sh):
    tests/integration/run.sh tests/integration/test_outbox.py
"""
import calendar
import collections
import json
import os
import re
import shutil
import socket
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

# What Postfix's anvil makes smtpd say and log past the message rate limit.
RATE_WARNING = "Message delivery request rate limit exceeded"


def iso_time(s):
    """A "2026-11-28T02:51:51Z" of botu's JSON as a Unix time."""
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def write_conf(path, sections):
    """A botu.conf from {"section": {"key": value}}; returns path."""
    with open(path, "w") as f:
        for name, keys in sections.items():
            f.write(f"[{name}]\n")
            for key, value in keys.items():
                f.write(f"{key} = {value}\n")
    return path


class Botu:
    """botu with one configuration, run as the organiser would."""

    def __init__(self, test, conf):
        self.test = test
        self.conf = conf

    def __call__(self, *args, code=0, timeout=120):
        """Runs botu; fails the test unless it exits with code (None: any).
        Returns the CompletedProcess (text)."""
        p = subprocess.run([botutest.BOTU_BIN, "-c", self.conf, *args],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
        if code is not None and p.returncode != code:
            self.test.fail(f"botu {' '.join(args)}: exit {p.returncode}, "
                           f"wanted {code}\n{p.stdout}{p.stderr}")
        return p

    def popen(self, *args):
        return subprocess.Popen([botutest.BOTU_BIN, "-c", self.conf, *args],
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def add_members(self, addresses):
        """members add ADDRESS --welcome for each: one welcome mail each."""
        for a in addresses:
            out = self("members", "add", a, "--welcome").stdout
            self.test.assertIn("a welcome mail is queued", out)

    def outbox(self, *args):
        """botu outbox list --json [args] as a list of dicts."""
        return json.loads(self("outbox", "list", "--json", *args).stdout)

    def status(self):
        return json.loads(self("status", "--json").stdout)


def flush_summary(out):
    """(sent, retry, failed, expired) from botu outbox flush's last line."""
    m = re.search(r"^sent (\d+), to retry (\d+), failed (\d+), expired "
                  r"(\d+)$", out, re.M)
    if m is None:
        raise AssertionError(f"no summary in {out!r}")
    return tuple(int(x) for x in m.groups())


def log_offset(servers):
    return os.path.getsize(servers.env["BOTU_TEST_POSTFIX_LOG"])


def log_since(servers, offset):
    with open(servers.env["BOTU_TEST_POSTFIX_LOG"], errors="replace") as f:
        f.seek(offset)
        return f.read()


def wait_port(port, open_, timeout=15):
    """Waits until 127.0.0.1:port accepts connections (open_) or refuses
    them (not open_)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                up = True
        except OSError:
            up = False
        if up == open_:
            return
        if time.monotonic() > deadline:
            state = "closed" if open_ else "open"
            raise AssertionError(f"port {port} still {state}")
        time.sleep(0.1)


class MailCase(unittest.TestCase):
    """Helpers for tests that send many welcome mails through a real
    Postfix into Dovecot: recipients spread over a few mailboxes by plus
    addresses, and a check that each outbox mail arrived exactly once."""

    BOXES = 5

    @staticmethod
    def unique(tag):
        """tag made unique, so that mail of an earlier run in a kept
        server set (BOTU_TEST_ENV) does not count."""
        return f"{tag}{os.getpid()}x{int(time.time() * 1000) % 100000}"

    def recipients(self, tag, n):
        return [f"ontvanger{i % self.BOXES}+{tag}-{i}@example.net"
                for i in range(n)]

    def arrived(self, servers, tag):
        """Every message in the mailboxes of tag's recipients."""
        mails = []
        for k in range(self.BOXES):
            mails += servers.fetch_all(f"ontvanger{k}@example.net")
        prefix = f"+{tag}-"
        return [m for m in mails
                if prefix in str(m.msg["Delivered-To"] or "")]

    def assert_each_once(self, servers, tag, rows, timeout=90):
        """Every row of rows (the outbox JSON) is in its recipient's
        mailbox exactly once, by Message-ID, and nothing else is."""
        want = {r["message_id"]: r["rcpt"].lower() for r in rows}
        deadline = time.monotonic() + timeout
        while True:
            mails = self.arrived(servers, tag)
            if len(mails) >= len(want) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        # Whatever was still on its way has arrived too: no late copies.
        servers.wait_queue_empty(timeout=30)
        mails = self.arrived(servers, tag)
        ids = collections.Counter(m.msg["Message-ID"] for m in mails)
        twice = [i for i, c in ids.items() if c > 1]
        self.assertEqual(twice, [], "delivered more than once")
        self.assertEqual(set(ids), set(want),
                         f"{len(ids)} of {len(want)} arrived\n"
                         f"{servers.logs()}")
        for m in mails:
            self.assertEqual(str(m.msg["Delivered-To"]).lower(),
                             want[m.msg["Message-ID"]])
            self.assertEqual(m.msg["Auto-Submitted"], "auto-generated")


class RealPostfix(MailCase, botutest.ServersTestCase):
    """200 welcome mails through the shared real Postfix."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="botu-outbox-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def many(self, tag, connections, command):
        s = self.servers
        tag = self.unique(tag)
        lst = f"lijst-{tag}@lsabewoners.nl"
        botu = Botu(self, s.write_config(
            os.path.join(self.tmp, "botu.conf"),
            {"smtp": {"connections": str(connections)}}, user=lst))
        botu.add_members(self.recipients(tag, 200))
        queued = botu.outbox("--status", "queued")
        self.assertEqual(len(queued), 200)
        self.assertEqual({r["attempts"] for r in queued}, {0})

        offset = log_offset(s)
        start = time.monotonic()
        out = botu(*command).stdout
        took = time.monotonic() - start
        if command[0] == "outbox":
            self.assertEqual(flush_summary(out), (200, 0, 0, 0))
        rows = botu.outbox()
        self.assertEqual([(r["status"], r["attempts"], r["last_code"])
                          for r in rows], [("sent", 1, 250)] * 200)
        self.assertEqual(botu.status()["outbox"],
                         {"queued": 0, "sent": 200, "failed": 0})
        self.assert_each_once(s, tag, rows)
        # As many SMTP sessions as connections: each thread kept its own.
        log = log_since(s, offset)
        sessions = re.findall(r"postfix/submission/smtpd\[\d+\]: "
                              r"connect from", log)
        self.assertEqual(len(sessions), connections, log[-3000:])
        print(f"\n  200 mails over {connections} connection(s) with "
              f"botu {' '.join(command)}: {took:.1f} s", file=sys.stderr)

    def test_200_mails_over_one_connection(self):
        self.many("c1", 1, ("outbox", "flush"))

    def test_200_mails_over_four_connections(self):
        self.many("c4", 4, ("run", "--once"))


class PostfixDown(MailCase):
    """Postfix stopped and started again, on a server set of its own so
    that the shared one stays up for the other tests."""

    @classmethod
    def setUpClass(cls):
        cls.servers = botutest.Servers.start()

    @classmethod
    def tearDownClass(cls):
        cls.servers.stop()

    def postfix(self, verb, check=True):
        """postfix -c ... start|stop|status; start and stop wait for the
        submission port to open or close. Returns the exit status."""
        p = subprocess.run(["postfix", "-c",
                            self.servers.env["BOTU_TEST_POSTFIX_CONFIG"],
                            verb], check=check, capture_output=True,
                           timeout=60)
        if verb != "status":
            wait_port(self.servers.port("submission"), verb == "start")
        return p.returncode

    def restart_postfix(self):
        """After a failure halfway: Postfix runs again for other tests."""
        if self.postfix("status", check=False) != 0:
            self.postfix("start")

    def test_outbox_keeps_mail_while_the_server_is_down(self):
        s = self.servers
        tag = self.unique("down")
        tmp = tempfile.mkdtemp(prefix="botu-outbox-")
        self.addCleanup(shutil.rmtree, tmp, True)
        botu = Botu(self, s.write_config(
            os.path.join(tmp, "botu.conf"),
            {"smtp": {"connections": "4"}}, user="lijst-down@lsabewoners.nl"))
        botu.add_members(self.recipients(tag, 200))

        self.postfix("stop")
        self.addCleanup(self.restart_postfix)
        before = time.time()
        p = botu("outbox", "flush")
        # One try each, then it ends: it does not wait for the retries.
        self.assertEqual(flush_summary(p.stdout), (0, 200, 0, 0))
        port = s.port("submission")
        rows = botu.outbox()
        self.assertEqual(len(rows), 200)
        for r in rows:
            self.assertEqual((r["status"], r["attempts"], r["last_code"]),
                             ("queued", 1, None), r)
            self.assertIn(f"cannot reach 127.0.0.1:{port}", r["last_error"])
            # The first retry after a minute.
            self.assertGreaterEqual(iso_time(r["next_try"]),
                                    int(before) + 60)
        st = botu.status()
        self.assertEqual(st["outbox"], {"queued": 200, "sent": 0,
                                        "failed": 0})
        # An unreachable server is no reason to pause.
        self.assertIsNone(st["paused_until"])
        # Nothing is due before its backoff has passed: no second try.
        self.assertEqual(flush_summary(botu("outbox", "flush").stdout),
                         (0, 0, 0, 0))
        self.assertEqual({r["attempts"] for r in botu.outbox()}, {1})

        self.postfix("start")
        out = botu("outbox", "retry").stdout
        self.assertEqual(out, "200 mails queued again; sending is not "
                              "paused\n")
        self.assertEqual(flush_summary(botu("outbox", "flush").stdout),
                         (200, 0, 0, 0))
        rows = botu.outbox()
        self.assertEqual({(r["status"], r["attempts"], r["last_code"])
                          for r in rows}, {("sent", 2, 250)})
        self.assert_each_once(s, tag, rows)


class RateLimited(MailCase):
    """A Postfix that takes 30 mails a minute from a client (anvil) on each
    submission service, like a provider's limit."""

    LIMIT = 30

    @classmethod
    def setUpClass(cls):
        cls.servers = botutest.Servers.start(
            # The limits are off for $mynetworks (127.0.0.0/8) by default.
            main_cf="anvil_rate_time_unit = 60s\n"
                    "smtpd_client_event_limit_exceptions =",
            submission_opts={"smtpd_client_message_rate_limit":
                             str(cls.LIMIT)})

    @classmethod
    def tearDownClass(cls):
        cls.servers.stop()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="botu-outbox-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_without_max_per_minute_the_server_says_450(self):
        """The server really limits, so the paced test below can fail.
        Over submissions (port 465 role): anvil counts per service, so
        this does not use up the other test's allowance."""
        s = self.servers
        tag = self.unique("fast")
        port = s.port("submissions")
        botu = Botu(self, s.write_config(
            os.path.join(self.tmp, "botu.conf"),
            {"smtp": {"port": str(port), "security": "tls"}},
            user="lijst-fast@lsabewoners.nl"))
        botu.add_members(self.recipients(tag, self.LIMIT + 10))
        offset = log_offset(s)
        flush = botu.popen("outbox", "flush")
        self.addCleanup(lambda: flush.poll() is None and
                        (flush.kill(), flush.communicate()))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and flush.poll() is None:
            if any(r["last_code"] == 450 for r in botu.outbox()):
                break
            time.sleep(0.2)
        # botu now holds sending for a minute ("slow down"); enough seen.
        time.sleep(1)
        if flush.poll() is None:
            flush.terminate()
        flush.communicate(timeout=10)
        rows = botu.outbox()
        log = log_since(s, offset)
        self.assertRegex(log, re.escape(RATE_WARNING) +
                         rf": {self.LIMIT + 1} from \S+\[127\.0\.0\.1\] "
                         rf"for service 127\.0\.0\.1:{port}\n")
        sent = [r for r in rows if r["status"] == "sent"]
        slowed = [r for r in rows if r["last_code"] == 450]
        self.assertEqual(len(sent), self.LIMIT)
        # One 450 and then nothing more: the rest waits, nothing counted.
        self.assertEqual(log.count(RATE_WARNING), 1, log[-3000:])
        self.assertEqual(len(slowed), 1, rows)
        self.assertEqual((slowed[0]["status"], slowed[0]["attempts"]),
                         ("queued", 0))
        self.assertIn("4.7.1", slowed[0]["last_error"])
        self.assertEqual({(r["status"], r["attempts"]) for r in rows
                          if r not in sent and r not in slowed},
                         {("queued", 0)})

    def test_max_per_minute_keeps_within_the_limit(self):
        """The slow test: 200 mails at 30 a minute take about 7 minutes."""
        s = self.servers
        tag = self.unique("paced")
        botu = Botu(self, s.write_config(
            os.path.join(self.tmp, "botu.conf"),
            {"smtp": {"max_per_minute": str(self.LIMIT),
                      "connections": "4"}},
            user="lijst-paced@lsabewoners.nl"))
        botu.add_members(self.recipients(tag, 200))
        offset = log_offset(s)
        start = time.monotonic()
        out = botu("outbox", "flush", timeout=900).stdout
        took = time.monotonic() - start
        print(f"\n  200 mails at max_per_minute = {self.LIMIT}: "
              f"{took:.0f} s", file=sys.stderr)
        self.assertEqual(flush_summary(out), (200, 0, 0, 0))
        rows = botu.outbox()
        self.assertEqual({(r["status"], r["attempts"], r["last_code"])
                          for r in rows}, {("sent", 1, 250)})
        log = log_since(s, offset)
        self.assertNotIn(RATE_WARNING, log)
        # smtpd counts refused commands as "mail=30/31": none here.
        self.assertNotRegex(log, r" (mail|rcpt|data)=\d+/\d+ ")
        self.assertEqual(sum(int(n) for n in re.findall(
            r"postfix/submission/smtpd\[\d+\]: disconnect from .* "
            r"mail=(\d+) ", log)), 200)
        self.assertIsNone(re.search(r"\b4\d\d 4\.\d+\.\d+ ", log),
                          log[-3000:])
        # Paced, not lucky: 199 gaps of at least 60/30 s.
        self.assertGreaterEqual(took, 199 * 60 / self.LIMIT)
        self.assert_each_once(s, tag, rows)


# ---------------------------------------------------------------- proto

LIST = botutest.LIST_ADDRESS

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

# libcurl says QUIT after a refusal and closes; the next mail comes on a
# new connection (tests/integration/proto/README).
BYE = """\
C?: QUIT
S: 221 2.0.0 Bye
EXPECT-CLOSE
"""


def accepted(var):
    """One mail accepted on the current connection; its RCPT in ${var}."""
    return f"""\
C: MAIL FROM:<[^>]*>
S: 250 2.1.0 Ok
C: RCPT TO:<(?P<{var}>[^>]*)>
S: 250 2.1.5 Ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
DATA
S: 250 2.0.0 Ok: queued as {var.upper()}
"""


def rcpt_refused(var, reply):
    """RCPT answered with reply (where RCPT stands for the address), then
    the client's QUIT and close."""
    return f"""\
C: MAIL FROM:<[^>]*>
S: 250 2.1.0 Ok
C: RCPT TO:<(?P<{var}>[^>]*)>
S: {reply.replace("RCPT", "${" + var + "}")}
""" + BYE


def connections(*sessions, quiet=1.0):
    """A script of sessions, each on its own connection after a login;
    no further connection may come within quiet seconds."""
    return "ACCEPT\n".join(LOGIN + s for s in sessions) + \
        f"EXPECT-NO-CONNECT {quiet}\n"


class Breaker(unittest.TestCase):
    """The outbox against scripted SMTP servers: what is sent, in which
    order, and what botu records and says."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="botu-outbox-proto-")
        cls.certs = proto.make_certs(os.path.join(cls.tmp, "certs"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=self.tmp)
        secret = os.path.join(self.dir, "secret")
        with open(secret, "w") as f:
            f.write("s3cret\n")
        os.chmod(secret, 0o600)
        self.conf = os.path.join(self.dir, "botu.conf")
        self.botu = Botu(self, self.conf)
        self.sections = {
            "list": {"address": LIST,
                     "database": os.path.join(self.dir, "botu.db"),
                     "templates": os.path.join(REPO, "templates")},
            "smtp": {"host": "127.0.0.1", "port": "1",
                     "security": "starttls", "username": "annerike",
                     "password_file": secret, "ca_file": self.certs.ca,
                     "connections": "1"},
        }
        write_conf(self.conf, self.sections)

    def serve(self, script):
        """A scripted server; the configuration points at it."""
        srv = proto.ProtoServer(script, cert=self.certs.good_cert,
                                key=self.certs.good_key, timeout=20)
        srv.start()
        self.addCleanup(srv.stop)
        self.sections["smtp"]["port"] = str(srv.port)
        write_conf(self.conf, self.sections)
        return srv

    def assert_served(self, srv):
        res = srv.wait()
        self.assertTrue(res["ok"], f"{res['error']}\n{srv.transcript_text()}")
        return res

    def rows(self):
        return {r["rcpt"]: r for r in self.botu.outbox()}

    def assert_paused(self, reason):
        st = self.botu.status()
        self.assertIsNotNone(st["paused_until"], st)
        self.assertGreater(iso_time(st["paused_until"]), time.time() + 14 * 60)
        self.assertIn(reason, st["pause_reason"])
        p = self.botu("status")
        self.assertIn("SENDING PAUSED until", p.stdout)
        self.assertIn("botu outbox retry", p.stdout)

    def test_5xx_on_mail_from_pauses_sending(self):
        people = ["a@example.org", "b@example.org", "c@example.org"]
        self.botu.add_members(people)
        srv = self.serve(connections(
            "C: MAIL FROM:<(?P<from>[^>]*)>\n"
            "S: 553 5.7.1 <${from}>: Sender address rejected: not owned "
            "by user annerike\n" + BYE))
        p = self.botu("outbox", "flush", code=75)
        self.assert_served(srv)      # no second connection: nothing else
        # The log line of the pause, then the error with what to do.
        last = p.stderr.strip().splitlines()[-1]
        self.assertRegex(last, r"^botu: sending is paused: 553 5\.7\.1 <"
                         + re.escape(LIST) + r">: Sender address rejected: "
                         r"not owned by user annerike \(botu outbox retry "
                         r"ends the pause\)$")
        self.assertIn("sending paused for 15 minutes", p.stderr)
        self.assertEqual(flush_summary(p.stdout), (0, 0, 0, 0))
        self.assert_paused("Sender address rejected")
        rows = self.rows()
        # Nothing counts against the member; the others were not tried.
        self.assertEqual((rows[people[0]]["status"],
                          rows[people[0]]["attempts"],
                          rows[people[0]]["last_code"]), ("queued", 0, 553))
        for a in people[1:]:
            self.assertEqual((rows[a]["status"], rows[a]["attempts"],
                              rows[a]["last_code"]), ("queued", 0, None))

        # While paused, a flush tries nothing (the server is gone).
        p = self.botu("outbox", "flush", code=75)
        self.assertIn("sending is paused", p.stderr)
        self.assertEqual({r["attempts"] for r in self.botu.outbox()}, {0})

        # retry ends the pause, and the mail goes.
        out = self.botu("outbox", "retry").stdout
        self.assertEqual(out, "1 mail queued again; sending is not "
                              "paused\n")
        st = self.botu.status()
        self.assertIsNone(st["paused_until"])
        self.assertIsNone(st["pause_reason"])
        srv = self.serve(connections(
            accepted("r1") + accepted("r2") + accepted("r3") + BYE))
        p = self.botu("outbox", "flush")
        res = self.assert_served(srv)
        self.assertEqual(flush_summary(p.stdout), (3, 0, 0, 0))
        # Due longest first: a waited a minute after its refusal.
        self.assertEqual([res["vars"][v] for v in ("r1", "r2", "r3")],
                         people[1:] + people[:1])
        self.assertEqual({(r["status"], r["attempts"]) for r in
                          self.rows().values()}, {("sent", 1)})

    def test_same_5xx_three_times_pauses_sending(self):
        people = [f"p{i}@example.org" for i in range(5)]
        self.botu.add_members(people)
        # Not about the recipient (the text does not name them).
        reply = "550 5.7.1 Message rejected: daily sending quota exceeded"
        srv = self.serve(connections(
            rcpt_refused("r1", reply), rcpt_refused("r2", reply),
            rcpt_refused("r3", reply)))
        p = self.botu("outbox", "flush", code=75)
        res = self.assert_served(srv)
        self.assertEqual([res["vars"][v] for v in ("r1", "r2", "r3")],
                         people[:3])
        self.assertIn("refused 3 mails in a row with the same reply: "
                      + reply, p.stderr)
        self.assert_paused("daily sending quota exceeded")
        rows = self.rows()
        for a in people[:3]:
            self.assertEqual((rows[a]["status"], rows[a]["attempts"],
                              rows[a]["last_code"]), ("queued", 0, 550))
        for a in people[3:]:
            self.assertEqual((rows[a]["status"], rows[a]["attempts"],
                              rows[a]["last_code"]), ("queued", 0, None))

    def test_550_for_one_recipient_and_452(self):
        people = ["weg@example.org", "vol@example.org", "c@example.org",
                  "d@example.org"]
        self.botu.add_members(people)
        srv = self.serve(connections(
            rcpt_refused("r1", "550 5.1.1 <RCPT>: Recipient address "
                               "rejected: User unknown"),
            rcpt_refused("r2", "452 4.2.2 <RCPT>: Recipient address "
                               "rejected: Mailbox full"),
            accepted("r3") + accepted("r4") + BYE))
        before = time.time()
        p = self.botu("outbox", "flush")
        res = self.assert_served(srv)
        self.assertEqual([res["vars"][f"r{i}"] for i in range(1, 5)], people)
        self.assertEqual(flush_summary(p.stdout), (2, 1, 1, 0))
        self.assertIsNone(self.botu.status()["paused_until"])
        rows = self.rows()
        weg, vol = rows["weg@example.org"], rows["vol@example.org"]
        self.assertEqual((weg["status"], weg["attempts"], weg["last_code"]),
                         ("failed", 1, 550))
        self.assertEqual(weg["last_error"], "550 5.1.1 <weg@example.org>: "
                         "Recipient address rejected: User unknown")
        self.assertIsNone(weg["sent"])
        self.assertEqual((vol["status"], vol["attempts"], vol["last_code"]),
                         ("queued", 1, 452))
        self.assertIn("Mailbox full", vol["last_error"])
        self.assertGreaterEqual(iso_time(vol["next_try"]), int(before) + 60)
        for a in people[2:]:
            self.assertEqual((rows[a]["status"], rows[a]["attempts"],
                              rows[a]["last_code"]), ("sent", 1, 250))
            self.assertGreaterEqual(iso_time(rows[a]["sent"]), int(before))
        # Every field of a row, as the JSON names them.
        self.assertEqual(sorted(weg), sorted([
            "id", "status", "kind", "rcpt", "attempts", "created",
            "next_try", "expires", "sent", "last_code", "last_error",
            "message_id"]))
        self.assertEqual(weg["kind"], "welcome")
        self.assertRegex(weg["message_id"], r"^<[^<>@]+@lsabewoners\.nl>$")
        self.assertEqual(iso_time(weg["expires"]) - iso_time(weg["created"]),
                         5 * 24 * 3600)

        # --status
        b = self.botu
        self.assertEqual([r["rcpt"] for r in b.outbox("--status", "failed")],
                         ["weg@example.org"])
        self.assertEqual([r["rcpt"] for r in b.outbox("--status", "queued")],
                         ["vol@example.org"])
        self.assertEqual([r["rcpt"] for r in b.outbox("--status", "sent")],
                         people[2:])
        p = b("outbox", "list", "--status", "verstuurd", code=64)
        self.assertIn("queued, sent, failed, expired or dropped", p.stderr)
        text = b("outbox", "list").stdout.splitlines()
        self.assertTrue(text[0].startswith("ID     STATUS   KIND"))
        self.assertEqual(len(text), 5)
        self.assertRegex(text[1], r"^1 +failed +welcome .* 1 +550 5\.1\.1 ")
        self.assertRegex(text[2], r"^2 +queued +welcome .* 1  \d{4}-.*"
                         r"  452 4\.2\.2 ")

        # The 452: retry ID sends it now, and it goes.
        p = b("outbox", "retry", str(vol["id"]))
        self.assertEqual(p.stdout, "1 mail queued again; sending is not "
                                   "paused\n")
        self.assertLessEqual(iso_time(self.rows()["vol@example.org"]
                                      ["next_try"]), time.time())
        srv = self.serve(connections(accepted("r1") + BYE))
        p = b("outbox", "flush")
        res = self.assert_served(srv)
        self.assertEqual(res["vars"]["r1"], "vol@example.org")
        self.assertEqual(flush_summary(p.stdout), (1, 0, 0, 0))
        vol = self.rows()["vol@example.org"]
        self.assertEqual((vol["status"], vol["attempts"], vol["last_code"]),
                         ("sent", 2, 250))

        # Sent mail cannot be retried or dropped; unknown numbers neither.
        for verb in ("retry", "drop"):
            p = b("outbox", verb, str(vol["id"]), code=65)
            self.assertIn(f"no mail {vol['id']}", p.stderr)
            b("outbox", verb, "999", code=65)
            b("outbox", verb, "abc", code=64)
        b("outbox", "drop", code=64)

        # drop ID gives up on a queued mail; it is not sent any more.
        b.add_members(["e@example.org"])
        e = self.rows()["e@example.org"]
        self.assertEqual(e["status"], "queued")
        self.assertEqual(b("outbox", "drop", str(e["id"])).stdout,
                         "1 mail dropped\n")
        self.assertEqual(self.rows()["e@example.org"]["status"], "dropped")
        self.assertEqual(flush_summary(b("outbox", "flush").stdout),
                         (0, 0, 0, 0))
        b("outbox", "retry", str(e["id"]), code=65)

        # drop --failed clears the failed ones only.
        self.assertEqual(b("outbox", "drop", "--failed").stdout,
                         "1 mail dropped\n")
        self.assertEqual(b.outbox("--status", "failed"), [])
        self.assertEqual(sorted(r["rcpt"] for r in
                                b.outbox("--status", "dropped")),
                         ["e@example.org", "weg@example.org"])
        self.assertEqual(len(b.outbox("--status", "sent")), 3)
        self.assertEqual(b("outbox", "drop", "--failed").stdout,
                         "0 mails dropped\n")


# ---------------------------------------------------------------- check

class Check(botutest.ServersTestCase):
    """botu check logs in to the real servers and sends nothing."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="botu-check-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def check(self, overrides=None, code=0):
        conf = self.servers.write_config(
            os.path.join(self.tmp, "botu.conf"), overrides)
        p = Botu(self, conf)("check", code=code)
        return p.stdout.splitlines(), p.stderr

    def failed(self, lines):
        return {line[8:22].strip(): line[23:] for line in lines
                if line.startswith("FAILED  ")}

    def test_passes_against_the_real_servers(self):
        offset = log_offset(self.servers)
        lines, err = self.check()
        self.assertEqual(err, "")
        self.assertIn("ok      imap login     INBOX: ", "\n".join(lines))
        self.assertRegex("\n".join(lines), r"ok      imap login     "
                         r"INBOX: \d+ messages?\n")
        self.assertIn("ok      smtp login     127.0.0.1:%d"
                      % self.servers.port("submission"), lines)
        self.assertEqual(self.failed(lines), {})
        # It logged in (AUTH) and sent nothing.
        log = log_since(self.servers, offset)
        self.assertRegex(log, r"postfix/submission/smtpd\[\d+\]: "
                              r"disconnect from \S+ ehlo=2 starttls=1 "
                              r"auth=1 quit=1 commands=5\n")
        self.assertNotIn(" mail=", log)

    def test_wrong_password(self):
        bad = os.path.join(self.tmp, "bad.secret")
        with open(bad, "w") as f:
            f.write("not the password\n")
        os.chmod(bad, 0o600)
        lines, _ = self.check({"imap": {"password_file": bad},
                               "smtp": {"password_file": bad}}, code=78)
        failed = self.failed(lines)
        self.assertEqual(sorted(failed), ["imap login", "smtp login"])
        self.assertIn("refused the login", failed["imap login"])
        self.assertTrue(failed["imap login"].endswith(
            "check [imap] username, auth and the password"), failed)
        self.assertIn("refused the login (535 5.7.8", failed["smtp login"])
        self.assertTrue(failed["smtp login"].endswith(
            "check [smtp] username, auth and the password"), failed)
        self.assertEqual(lines[-1], "2 problems found")

    def test_wrong_host_certificate(self):
        s = self.servers
        lines, _ = self.check({
            "imap": {"port": str(s.port("imaps_wrong"))},
            "smtp": {"port": str(s.port("submission_wrong"))}}, code=78)
        failed = self.failed(lines)
        self.assertEqual(sorted(failed), ["imap login", "smtp login"])
        for what in ("imap", "smtp"):
            self.assertIn("wrong.example", failed[f"{what} login"])
            self.assertIn(f"check [{what}] host", failed[f"{what} login"])

    def test_smtp_only_unreachable(self):
        with socket.socket() as closed:  # bound, not listening: refused
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
            lines, _ = self.check({"smtp": {"port": str(port)}}, code=69)
        failed = self.failed(lines)
        # Found, but nothing answers: said before any login is tried.
        self.assertEqual(sorted(failed), ["smtp server"])
        self.assertIn("127.0.0.1 port %d: Connection refused" % port,
                      failed["smtp server"])
        self.assertIn("check [smtp] port and security",
                      failed["smtp server"])
        self.assertIn("ok      imap login     INBOX: ", "\n".join(lines))


if __name__ == "__main__":
    unittest.main(verbosity=2)
