#!/usr/bin/python3
"""Intake against a real Dovecot and Postfix: botu takes each new mail
exactly once and leaves everything else as it was.

What is proven here (issue "Foundation 3 of 4: intake"):
  - a first start leaves the mail already in the mailbox alone; --since
    takes it; --dry-run prints a line per message and changes nothing;
  - a UIDVALIDITY reset and a handled mail moved back into INBOX are not
    handled twice, and the look back after a reset survives a crash;
  - a crash at each crash point (BOTU_CRASH_AT) and a restart handle each
    mail exactly once; a mail that stopped botu twice is set aside;
  - a certificate for the wrong host is refused before LOGIN;
  - every file of ../shared/corpora goes through intake under the
    AddressSanitizer build without a crash, a leak or a lost mail, and a
    libetpan crasher and a 20000-level nested mail are set aside while the
    rest goes on;
  - the daemon (IDLE, the delivery thread) answers a sign-up and stops
    cleanly on SIGTERM.

Each test has its own list address (its own mailbox) and its own database.
"""
import email
import email.message
import email.policy
import email.utils
import glob
import imaplib
import json
import os
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

DONE = "botu-done"
CORPORA = os.path.join(botutest.REPO, "..", "shared", "corpora")
ASAN_BIN = os.environ.get("BOTU_ASAN_BIN") or os.path.join(
    botutest.REPO, "build-asan", "botu")
# What AddressSanitizer, LeakSanitizer and UBSan find ends the process with
# this status (UBSan is built with -fno-sanitize-recover, so it aborts).
ASAN_EXIT = 86


def mail(from_, to, subject, body="Hallo.\n", when=None, headers=None):
    """A text mail as bytes (CRLF), dated when (a Unix time; None: now)."""
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"] = from_
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(when, localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(domain="botu.test")
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    return msg.as_bytes()


def message_id(raw):
    m = re.search(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)", raw, re.I | re.M)
    return m.group(1).decode() if m else None


class Intake(botutest.ServersTestCase):
    def setUp(self):
        parent = os.environ.get("BOTU_TEST_TMP") or None
        self.tmp = tempfile.mkdtemp(prefix="botu-intake-", dir=parent)
        # Unique also against a reused server set (BOTU_TEST_ENV).
        self.tag = "%s%s" % (self._testMethodName[5:15].replace("_", ""),
                             uuid.uuid4().hex[:6])
        self.list = "in-%s@lsabewoners.nl" % self.tag
        self.db = os.path.join(self.tmp, "botu.db")
        self.conf = self.servers.write_config(
            os.path.join(self.tmp, "botu.conf"),
            {"list": {"name": "Energie community BoTu"}}, user=self.list)
        if not os.environ.get("BOTU_TEST_KEEP"):  # keep them to look
            self.addCleanup(shutil.rmtree, self.tmp, True)

    # ---- running botu ----

    def botu(self, *args, env=None, binary=None, check=True, timeout=180,
             conf=None):
        full = dict(os.environ)
        full.update(env or {})
        out = subprocess.run([binary or botutest.BOTU_BIN, "-c",
                              conf or self.conf] + list(args),
                             capture_output=True, text=True, timeout=timeout,
                             env=full, stdin=subprocess.DEVNULL)
        if check and out.returncode != 0:
            self.fail("botu %s: exit %d\n%s%s" % (" ".join(args),
                      out.returncode, out.stdout, out.stderr))
        return out

    def run_once(self, *args, **kw):
        return self.botu("run", "--once", *args, **kw)

    def members(self):
        return json.loads(self.botu("members", "list", "--json").stdout)

    def outbox(self):
        return json.loads(self.botu("outbox", "list", "--json").stdout)

    def status(self):
        return json.loads(self.botu("status", "--json").stdout)

    def inbound(self):
        """The inbound rows as dicts, by id."""
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in
                    con.execute("SELECT * FROM inbound ORDER BY id")]
        finally:
            con.close()

    def db_dump(self):
        """Every row of every table, as SQL: equal dumps, equal data."""
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            return list(con.iterdump())
        finally:
            con.close()

    # ---- the mailboxes ----

    def append(self, raw, user=None, when=None, flags=()):
        return self.servers.append(user or self.list, raw, flags=flags,
                                   date=when)

    def boxes(self, user=None):
        """{mailbox: [(uid, flags, Message-ID, INTERNALDATE)]} of INBOX
        and botu-done ([] also when it does not exist), plus "uidvalidity".
        Read-only: EXAMINE and BODY.PEEK. \\Recent is left out: it says
        which session saw the mail first, not what botu did."""
        out = {}
        with self.servers.imap(user or self.list) as c:
            for box in ("INBOX", DONE):
                typ, data = c.select(box, readonly=True)
                if typ != "OK":
                    out[box] = []
                    continue
                if box == "INBOX":
                    out["uidvalidity"] = c.response("UIDVALIDITY")[1][0]
                out[box] = self._fetch_meta(c) if int(data[0]) else []
        return out

    @staticmethod
    def _fetch_meta(c):
        typ, data = c.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE "
                          "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        if typ != "OK":
            raise AssertionError("FETCH failed: %r" % data)
        rows = []
        for i, item in enumerate(data):
            if not isinstance(item, tuple):
                continue
            meta = item[0]
            if i + 1 < len(data) and isinstance(data[i + 1], bytes):
                meta += data[i + 1]
            uid = int(re.search(rb"UID (\d+)", meta).group(1))
            flags = re.search(rb"FLAGS \(([^)]*)\)", meta)
            date = re.search(rb'INTERNALDATE "([^"]+)"', meta)
            hdr = email.message_from_bytes(item[1],
                                           policy=email.policy.compat32)
            mid = hdr["Message-ID"]
            flags = flags.group(1).decode().split() if flags else []
            rows.append((uid,
                         tuple(sorted(f for f in flags if f != "\\Recent")),
                         " ".join(mid.split()) if mid else None,
                         date.group(1).decode() if date else None))
        return sorted(rows)

    def wait_queue_empty(self):
        self.servers.wait_queue_empty(timeout=30)

    def arrived(self, user):
        """The mails in user's INBOX, once Postfix is done."""
        self.wait_queue_empty()
        return self.servers.fetch_all(user)

    def first_start(self):
        out = self.run_once()
        self.assertIn("first start", out.stderr)
        return out

    # ---- first start, --since and --dry-run ----

    def test_first_start_leaves_old_mail_alone_since_takes_it(self):
        three_days_ago = time.time() - 3 * 86400
        signups, personal = [], []
        subjects = ["Aanmelden", "Ik wil graag op de hoogte blijven",
                    "Subscribe", "Keep me posted"]
        for i in range(8):
            who = "nieuw%d.%s@example.org" % (i, self.tag)
            raw = mail("Nieuw %d <%s>" % (i, who), self.list,
                       subjects[i % len(subjects)], "\n",
                       when=three_days_ago)
            signups.append((who, message_id(raw), raw))
        for i in range(42):
            who = "buur%d.%s@example.net" % (i, self.tag)
            raw = mail("Buur %d <%s>" % (i, who), self.list,
                       "Buurtborrel vrijdag %d" % i,
                       "Hoi Annerike,\n\nKomen jullie vrijdag ook naar de "
                       "borrel? Ik neem soep mee.\n\nGroet,\nBuur %d\n" % i,
                       when=three_days_ago)
            personal.append((who, message_id(raw), raw))
        # Old mail, mixed as in a real inbox; some of it read already.
        order = personal[:20] + signups[:4] + personal[20:] + signups[4:]
        seen = {p[1] for p in personal[::7]}
        for _, mid, raw in order:
            self.append(raw, when=three_days_ago,
                        flags=("\\Seen",) if mid in seen else ())
        before = self.boxes()
        self.assertEqual(len(before["INBOX"]), 50)

        out = self.first_start()
        self.assertIn("50 messages", out.stderr)
        self.wait_queue_empty()
        after = self.boxes()
        self.assertEqual(after, before, "the first start changed the "
                         "mailbox")
        for uid, flags, mid, _ in after["INBOX"]:
            self.assertNotIn("$BotuDone", flags)
            self.assertEqual("\\Seen" in flags, mid in seen, mid)
        self.assertFalse(after[DONE], "nothing may be in botu-done")
        for who, _, _ in signups:
            self.assertEqual(self.servers.fetch_all(who), [], who)
        st = self.status()
        self.assertEqual(st["mail"], {"handled": 0, "left": 0,
                                      "set_aside": 0})
        self.assertEqual(self.members(), [])
        self.assertEqual(self.outbox(), [])
        # A second plain run still takes nothing: the old mail is old.
        self.run_once()
        self.assertEqual(self.boxes(), before)
        self.assertEqual(self.status()["mail"]["handled"], 0)

        since = time.strftime("%Y-%m-%d",
                              time.localtime(time.time() - 7 * 86400))
        # --dry-run --since: one line per message, nothing changes.
        dump = self.db_dump()
        dry = self.botu("run", "--dry-run", "--since", since)
        lines = [ln for ln in dry.stdout.splitlines() if ln.strip()]
        self.assertEqual(len(lines), 50, dry.stdout)
        uids = {u for u, _, _, _ in before["INBOX"]}
        self.assertEqual({int(re.match(r"UID (\d+) ", ln).group(1))
                          for ln in lines}, uids, dry.stdout)
        for who, _, _ in signups:
            line = [ln for ln in lines if " from %s " % who in ln]
            self.assertEqual(len(line), 1, dry.stdout)
            self.assertIn("subscribe", line[0])
            self.assertIn("would ask", line[0])
            self.assertIn("confirm", line[0])
            self.assertIn("mark the mail done", line[0])
        for who, _, _ in personal:
            line = [ln for ln in lines if " from %s " % who in ln]
            self.assertEqual(len(line), 1, dry.stdout)
            self.assertIn('"Buurtborrel vrijdag', line[0])
            self.assertIn("leave the mail as it is", line[0])
        self.assertEqual(self.boxes(), before)
        self.assertEqual(self.db_dump(), dump, "--dry-run changed the "
                         "database")

        # --since takes the old mail: sign-ups answered, the rest stays.
        self.run_once("--since", since)
        for who, mid, _ in signups:
            got = self.servers.wait_for_mail(who, timeout=30).msg
            self.assertEqual(got["In-Reply-To"], mid)
            self.assertIn("[", got["Subject"])  # the confirmation code
        after = self.boxes()
        self.assertEqual(sorted(m for _, _, m, _ in after[DONE]),
                         sorted(mid for _, mid, _ in signups))
        self.assertEqual(after["INBOX"], [r for r in before["INBOX"]
                                          if r[2] not in
                                          {s[1] for s in signups}],
                         "the personal mail must stay exactly as it was")
        st = self.status()
        self.assertEqual(st["mail"], {"handled": 8, "left": 42,
                                      "set_aside": 0})
        self.assertEqual(sorted(m["email"] for m in self.members()),
                         sorted(s[0] for s in signups))
        for who, _, _ in personal:
            self.assertEqual(self.servers.fetch_all(who), [], who)
        for who, _, _ in signups:
            self.assertEqual(len(self.arrived(who)), 1, who)

    def test_dry_run_prints_a_line_per_new_mail_and_changes_nothing(self):
        self.append(mail("Old <old.%s@example.org>" % self.tag, self.list,
                         "Aanmelden", ""))
        dry = self.botu("run", "--dry-run")
        self.assertEqual(dry.stdout, "first start: the 1 messages in INBOX "
                         "stay as they are; mail from UID 2 on will be "
                         "read\n")
        # ... and it did not count as the first start.
        self.first_start()
        piet = "piet.%s@example.org" % self.tag
        ann = "ann.%s@example.net" % self.tag
        jan = "jan.%s@example.org" % self.tag
        bo = "bo.%s@example.org" % self.tag
        els = "els.%s@example.org" % self.tag
        self.append(mail("Piet <%s>" % piet, self.list, "Aanmelden", ""))
        self.append(mail("Ann <%s>" % ann, self.list, "Subscribe",
                         "Please subscribe me.\n"))
        self.append(mail("Jan <%s>" % jan, self.list, "Buurtborrel",
                         "Hoi! Tot vrijdag!\nJan\n"))
        self.append(mail("Bo <%s>" % bo, self.list, "Hulp", ""))
        self.append(mail("Els <%s>" % els, self.list,
                         "Automatisch antwoord: Aanmelden",
                         "Ik ben tot maandag afwezig.\n",
                         headers={"Auto-Submitted": "auto-replied"}))
        before = self.boxes()
        dump = self.db_dump()
        members, outbox, st = self.members(), self.outbox(), self.status()

        dry = self.botu("run", "--dry-run")
        lines = [ln for ln in dry.stdout.splitlines() if ln.strip()]
        self.assertEqual(len(lines), 5, dry.stdout)
        by = {}
        for (uid, _, _, _), line in zip(before["INBOX"][1:], lines):
            self.assertTrue(line.startswith("UID %d " % uid), line)
            by[re.search(r" from (\S+) ", line).group(1)] = line
        self.assertRegex(by[piet], r'"Aanmelden": subscribe .*would ask '
                         r'\S+ to confirm by replying.*mark the mail done')
        self.assertRegex(by[ann], r'"Subscribe": subscribe .*would ask')
        self.assertRegex(by[jan], r'"Buurtborrel": leave-alone .*would '
                         r'leave it for a person, and leave the mail as '
                         r'it is')
        self.assertRegex(by[bo], r'"Hulp": help .*would send \S+ the help '
                         r'text in nl.*mark the mail done')
        self.assertRegex(by[els], r'automatic .*never answer it, and '
                         r'leave the mail as it is')
        self.assertIn("dry run", dry.stderr)

        self.assertEqual(self.boxes(), before)
        self.assertEqual(self.db_dump(), dump)
        self.assertEqual(self.members(), members)
        self.assertEqual(self.outbox(), outbox)
        self.assertEqual(self.status(), st)
        self.wait_queue_empty()
        for who in (piet, ann, jan, bo, els):
            self.assertEqual(self.servers.fetch_all(who), [], who)

        # The real run does what the dry run said.
        self.run_once()
        for who in (piet, ann, bo):
            self.servers.wait_for_mail(who)
            self.assertEqual(len(self.arrived(who)), 1, who)
        for who in (jan, els):
            self.assertEqual(self.servers.fetch_all(who), [], who)
        after = self.boxes()
        self.assertEqual(len(after[DONE]), 3)
        stay = {before["INBOX"][i][0] for i in (0, 3, 5)}  # old, jan, els
        self.assertEqual(after["INBOX"], [r for r in before["INBOX"]
                                          if r[0] in stay])

    # ---- nothing twice ----

    def test_uidvalidity_reset_and_moved_back_mail_handle_nothing_twice(self):
        self.first_start()
        kim = "kim.%s@example.org" % self.tag
        raw = mail("Kim <%s>" % kim, self.list, "Aanmelden", "")
        mid = message_id(raw)
        self.append(raw)
        # A sign-up without Message-ID is known by its content.
        noid = "noid.%s@example.org" % self.tag
        self.append(re.sub(rb"(?im)^Message-ID:.*\r\n", b"",
                           mail(noid, self.list, "Subscribe", "")))
        self.append(mail("Jan <jan.%s@example.org>" % self.tag, self.list,
                         "Koffie?", "Zin in koffie morgen?\n"))
        self.run_once()
        self.servers.wait_for_mail(kim)
        self.servers.wait_for_mail(noid)
        self.assertEqual(len(self.arrived(kim)), 1)
        self.assertEqual(len(self.arrived(noid)), 1)
        first = self.boxes()
        self.assertEqual([m for _, _, m, _ in first[DONE]], [mid, None])
        self.assertEqual(len(first["INBOX"]), 1)
        sent = len(self.outbox())

        # Someone moves the handled mail back into the INBOX.
        with self.servers.imap(self.list) as c:
            c.select(DONE)
            typ, data = c.uid("MOVE", "1:*", "INBOX")
            self.assertEqual(typ, "OK", data)
        moved = self.boxes()
        self.assertEqual(moved[DONE], [])
        self.assertEqual(len(moved["INBOX"]), 3)
        self.run_once()
        self.assertEqual(self.boxes(), moved, "the moved-back mail must "
                         "stay where it was put")
        self.assertEqual(len(self.outbox()), sent)

        # The server gives the INBOX a new UIDVALIDITY.
        self.servers.set_uidvalidity(self.list, int(time.time()) % 100000
                                     + 7)
        reset = self.boxes()
        self.assertNotEqual(reset["uidvalidity"], moved["uidvalidity"])
        out = self.run_once()
        self.assertIn("UIDVALIDITY", out.stderr)
        self.assertEqual(self.boxes(), reset)
        self.assertEqual(len(self.outbox()), sent)
        # And once more, now that the new UIDVALIDITY is known.
        self.run_once()
        self.assertEqual(self.boxes(), reset)

        self.assertEqual(len(self.arrived(kim)), 1,
                         "a second confirmation arrived")
        self.assertEqual(len(self.arrived(noid)), 1,
                         "a second confirmation arrived")
        self.assertEqual(sorted(m["email"] for m in self.members()),
                         sorted([kim, noid]))
        self.assertEqual(self.status()["mail"]["handled"], 2)

        # New mail after the reset is still taken.
        lou = "lou.%s@example.org" % self.tag
        self.append(mail(lou, self.list, "Aanmelden", ""))
        self.run_once()
        self.servers.wait_for_mail(lou)
        self.assertEqual(len(self.boxes()[DONE]), 1)

    def test_uidvalidity_reset_look_back_survives_a_crash(self):
        """Mail that came while botu was away, then a new UIDVALIDITY:
        the look back takes it, also when it is broken off halfway."""
        self.first_start()
        people = ["q%d.%s@example.org" % (i, self.tag) for i in range(3)]
        for who in people:
            self.append(mail(who, self.list, "Aanmelden", ""))
        self.servers.set_uidvalidity(self.list, int(time.time()) % 100000
                                     + 11)
        out = self.run_once(env={"BOTU_CRASH_AT": "after-commit"},
                            check=False)
        self.assertEqual(out.returncode, -signal.SIGABRT, out.stderr)
        self.assertIn("UIDVALIDITY", out.stderr)
        self.run_once()
        for who in people:
            self.servers.wait_for_mail(who, timeout=30)
        for who in people:
            self.assertEqual(len(self.arrived(who)), 1, who)
        boxes = self.boxes()
        self.assertEqual(boxes["INBOX"], [])
        self.assertEqual(len(boxes[DONE]), 3)
        self.assertEqual(self.status()["mail"]["handled"], 3)

    def test_crash_twice_sets_the_mail_aside_and_the_rest_goes_on(self):
        self.first_start()
        people = ["c%d.%s@example.org" % (i, self.tag) for i in range(2)]
        raws = [mail(who, self.list, "Aanmelden", "") for who in people]
        for raw in raws:
            self.append(raw)
        for _ in range(2):  # the first mail "crashes botu" twice
            out = self.run_once(env={"BOTU_CRASH_AT": "after-attempt"},
                                check=False)
            self.assertEqual(out.returncode, -signal.SIGABRT, out.stderr)
        out = self.run_once()
        self.assertIn("set aside", out.stderr)
        self.servers.wait_for_mail(people[1], timeout=30)
        self.assertEqual(self.arrived(people[0]), [])
        boxes = self.boxes()
        self.assertEqual([m for _, _, m, _ in boxes["INBOX"]],
                         [message_id(raws[0])])
        self.assertEqual(boxes["INBOX"][0][1], ())  # untouched, unread
        self.assertEqual([m for _, _, m, _ in boxes[DONE]],
                         [message_id(raws[1])])
        st = self.status()
        self.assertEqual(st["mail"], {"handled": 1, "left": 0,
                                      "set_aside": 1})
        text = self.botu("status").stdout
        self.assertRegex(text, r"set aside: UID %d %s: reading it stopped "
                         r"botu 2 times" % (boxes["INBOX"][0][0],
                                            re.escape(message_id(raws[0]))))
        # Set aside stays aside.
        self.run_once()
        self.assertEqual(self.boxes(), boxes)

    # ---- crash points ----

    def crash_and_restart(self, point):
        self.first_start()
        people = ["p%d.%s@example.org" % (i, self.tag) for i in range(2)]
        mids = []
        for who in people:
            raw = mail(who, self.list, "Aanmelden", "")
            mids.append(message_id(raw))
            self.append(raw)

        out = self.run_once(env={"BOTU_CRASH_AT": point}, check=False)
        self.assertEqual(out.returncode, -signal.SIGABRT,
                         out.stdout + out.stderr)
        self.assertIn("crash point %s reached" % point, out.stderr)
        # The crash came where it was asked for.
        boxes, ob = self.boxes(), self.outbox()
        if point == "after-attempt":
            self.assertEqual(len(boxes["INBOX"]), 2)
            self.assertEqual(ob, [])
        elif point == "after-commit":
            self.assertEqual(len(boxes["INBOX"]), 2)
            self.assertEqual(len(ob), 1)
        else:
            self.assertEqual(len(boxes["INBOX"]), 1)
            self.assertEqual(len(boxes[DONE]), 1)
            self.assertEqual(len(ob), 1)

        self.run_once()
        self.run_once()  # and a third start changes nothing more
        for who in people:
            self.servers.wait_for_mail(who, timeout=30)
        for who in people:
            self.assertEqual(len(self.arrived(who)), 1,
                             "%s: confirmation not exactly once" % who)
        self.assertEqual(sorted(m["email"] for m in self.members()),
                         sorted(people))
        boxes = self.boxes()
        self.assertEqual(boxes["INBOX"], [])
        self.assertEqual(sorted(m for _, _, m, _ in boxes[DONE]),
                         sorted(mids))
        rows = self.inbound()
        self.assertEqual(len(rows), 2)
        for r in rows:
            self.assertEqual((r["state"], r["imap_done"]), ("done", 1), r)
        self.assertEqual(len(self.outbox()), 2)

    def test_crash_after_attempt(self):
        self.crash_and_restart("after-attempt")

    def test_crash_after_commit(self):
        self.crash_and_restart("after-commit")

    def test_crash_after_move(self):
        self.crash_and_restart("after-move")

    # ---- TLS ----

    def test_wrong_host_certificate_is_refused_before_login(self):
        self.append(mail("x.%s@example.org" % self.tag, self.list,
                         "Aanmelden", ""))
        before = self.boxes()
        conf = self.servers.write_config(
            os.path.join(self.tmp, "wrong.conf"),
            {"imap": {"port": self.servers.port("imaps_wrong")}},
            user=self.list)
        log = self.servers.env["BOTU_TEST_DOVECOT_LOG"]
        start = os.path.getsize(log)
        out = self.botu("run", "--once", conf=conf, check=False)
        self.assertNotEqual(out.returncode, 0)
        self.assertEqual(out.returncode, 78, out.stderr)  # EX_CONFIG
        self.assertRegex(out.stderr, r"certificate.*(wrong\.example|"
                         r"127\.0\.0\.1|host)")
        # The forwarder's connection reached Dovecot, but no login did.
        deadline = time.monotonic() + 5
        while True:
            with open(log, errors="replace") as f:
                f.seek(start)
                new = f.read()
            if "imap-login" in new or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertIn("no auth attempts", new)
        # (Our own IMAP session's logout may be logged late; it is not
        # an imap-login line.)
        self.assertNotRegex(new, r"imap-login: .*user=<%s>" %
                            re.escape(self.list))
        self.assertEqual(self.boxes(), before)
        st = json.loads(self.botu("status", "--json", conf=conf).stdout)
        self.assertIsNone(st["last_login"])
        self.assertEqual(st["mail"]["handled"], 0)

    # ---- the corpora under AddressSanitizer ----

    def check_asan_binary(self):
        if not os.access(ASAN_BIN, os.X_OK):
            self.fail("%s is missing: run `make asan` first (make "
                      "check-run and make integration build it)" % ASAN_BIN)
        built = os.path.getmtime(ASAN_BIN)
        for src in glob.glob(os.path.join(botutest.REPO, "src", "*.[ch]")) \
                + glob.glob(os.path.join(botutest.REPO, "include", "botu",
                                         "*.h")):
            if os.path.getmtime(src) > built:
                self.fail("%s is older than %s: run `make asan`" %
                          (ASAN_BIN, src))

    def asan_env(self, logdir):
        common = "halt_on_error=1:exitcode=%d:log_path=%s/asan" % (
            ASAN_EXIT, logdir)
        return {
            "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:"
                            "detect_stack_use_after_return=1:" + common,
            "LSAN_OPTIONS": "exitcode=%d" % ASAN_EXIT,
            "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:" + common,
        }

    def test_corpora_under_asan_nothing_lost_poison_set_aside(self):
        if not os.path.isdir(CORPORA):
            self.skipTest("no corpora at %s (../shared/corpora beside the "
                          "repository): nothing to test" % CORPORA)
        self.check_asan_binary()
        files = sorted(glob.glob(os.path.join(CORPORA, "mime", "*.eml")) +
                       glob.glob(os.path.join(CORPORA, "bounces", "*.eml")))
        self.assertGreater(len(files), 400)
        logdir = os.path.join(self.tmp, "asan")
        os.mkdir(logdir)
        env = self.asan_env(logdir)
        t0 = time.monotonic()
        out = self.botu("run", "--once", binary=ASAN_BIN, env=env)
        self.assertIn("first start", out.stderr)

        crasher = (b"From: Mallory <mallory@example.net>\r\n"
                   b"To: " + self.list.encode() + b"\r\n"
                   b"Subject: crasher\r\n"
                   b"Message-ID: <crasher." + self.tag.encode() +
                   b"@botu.test>\r\n"
                   b"MIME-Version: 1.0\r\n"
                   b'Content-Type: multipart/mixed; boundary="\\""\r\n'
                   b"\r\n"
                   b'--"\r\nContent-Type: text/plain\r\n\r\nboom\r\n'
                   b'--"--\r\n')
        depth = 20000
        deep = [b"From: Mallory <mallory@example.net>\r\n"
                b"To: " + self.list.encode() + b"\r\n"
                b"Subject: deep\r\n"
                b"Message-ID: <deep." + self.tag.encode() + b"@botu.test>\r\n"
                b"MIME-Version: 1.0\r\n"]
        for i in range(depth):
            deep.append(b'Content-Type: multipart/mixed; boundary="b%d"\r\n'
                        b"\r\n--b%d\r\n" % (i, i))
        deep.append(b"Content-Type: text/plain\r\n\r\nthe bottom\r\n")
        for i in reversed(range(depth)):
            deep.append(b"--b%d--\r\n" % i)
        deep = b"".join(deep)
        sam = "sam.%s@example.org" % self.tag
        signup = mail(sam, self.list, "Aanmelden", "")

        # The corpus, with the two poisons in the middle and a sign-up
        # after them: the rest must go on.
        marker = time.mktime((2001, 2, 3, 4, 5, 6, 0, 0, -1))
        appended = {}  # INBOX UID -> name
        names = [os.path.relpath(f, CORPORA) for f in files]
        blobs = []
        for f in files:
            with open(f, "rb") as fh:
                blobs.append(fh.read())
        half = len(files) // 2
        order = list(zip(names[:half], blobs[:half])) + \
            [("crasher", crasher), ("deep", deep)] + \
            list(zip(names[half:], blobs[half:])) + [("sign-up", signup)]
        with self.servers.imap(self.list) as c:
            when = imaplib.Time2Internaldate(marker)
            for name, raw in order:
                typ, data = c.append("INBOX", None, when, raw)
                self.assertEqual(typ, "OK", (name, data))
                uid = int(re.search(rb"\[APPENDUID \d+ (\d+)\]",
                                    data[0]).group(1))
                appended[uid] = name
        t_append = time.monotonic() - t0
        before = self.boxes()
        mine = {r[3] for r in before["INBOX"]}
        self.assertEqual(len(mine), 1)  # one INTERNALDATE for all
        stamp = mine.pop()

        t1 = time.monotonic()
        proc = subprocess.Popen([ASAN_BIN, "-c", self.conf, "run", "--once"],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL,
                                env=dict(os.environ, **env))
        stdout, stderr = proc.communicate(timeout=600)
        t_run = time.monotonic() - t1
        print("\n  corpus: %d messages appended in %.1f s, botu (ASan) "
              "took %.1f s" % (len(order), t_append, t_run))
        reports = []
        for r in sorted(os.listdir(logdir)):
            with open(os.path.join(logdir, r), errors="replace") as f:
                reports.append("--- %s\n%s" % (r, f.read()[:3000]))
        if reports:
            self.fail("sanitizer reports (botu is pid %d, the others are "
                      "parse workers):\n%s" % (proc.pid,
                                                "\n".join(reports)))
        self.assertEqual(proc.returncode, 0, stderr[-4000:])
        self.assertNotIn("Sanitizer", stderr)
        self.assertNotIn("runtime error", stderr)
        # A worker that died or had to be killed is reported like this.
        self.assertNotIn("parse worker ended", stderr)
        self.assertNotIn("did not exit", stderr)

        # Nothing lost: every appended mail is in INBOX or botu-done.
        after = self.boxes()
        ours = {b: [r for r in after[b] if r[3] == stamp]
                for b in ("INBOX", DONE)}
        self.assertEqual(len(ours["INBOX"]) + len(ours[DONE]), len(order))
        self.assertEqual(sorted(r[2] or "" for r in
                                ours["INBOX"] + ours[DONE]),
                         sorted(r[2] or "" for r in before["INBOX"]))
        # What stayed in INBOX stayed exactly as it was.
        by_uid = {r[0]: r for r in before["INBOX"]}
        for r in ours["INBOX"]:
            self.assertEqual(r, by_uid[r[0]], appended[r[0]])

        rows = [r for r in self.inbound()
                if r["uid"] in appended and r["mailbox"] == "INBOX"]
        self.assertEqual(len(rows), len(order), "every mail has a row")
        states = {}
        for r in rows:
            states.setdefault(r["state"], []).append(appended[r["uid"]])
        self.assertNotIn("new", states, "mail left half-done")
        # Moved means understood: botu-done holds exactly the done ones.
        done = [r for r in rows if r["state"] == "done"]
        self.assertEqual(len(ours[DONE]), len(done))
        self.assertTrue(all(r["imap_done"] == 1 for r in done))
        in_inbox = {r[0] for r in ours["INBOX"]}
        for r in rows:
            self.assertEqual(r["uid"] in in_inbox, r["state"] != "done",
                             (appended[r["uid"]], r["state"]))
        done_ids = {r["message_id"] for r in done}
        for r in ours[DONE]:
            if r[2] is not None:
                self.assertIn(r[2], done_ids)
        st = self.status()
        self.assertEqual(st["mail"]["handled"], len(done))
        self.assertEqual(st["mail"]["left"], len(states.get("left", [])))
        self.assertEqual(st["mail"]["set_aside"],
                         len(states.get("poison", [])))

        # The crasher and the deep one are set aside, listed, untouched.
        uid_of = {name: uid for uid, name in appended.items()}
        for name in ("crasher", "deep"):
            row = [r for r in rows if r["uid"] == uid_of[name]][0]
            self.assertEqual(row["state"], "poison", row)
            self.assertIn(uid_of[name], in_inbox)
        text = self.botu("status").stdout
        self.assertRegex(text, r"set aside: UID %d <crasher\." %
                         uid_of["crasher"])
        self.assertRegex(text, r"set aside: UID %d <deep\." %
                         uid_of["deep"])
        # ... while the rest went on: the sign-up after them is answered.
        got = self.servers.wait_for_mail(sam, timeout=60).msg
        self.assertEqual(got["In-Reply-To"], message_id(signup))
        print("  corpus: %s" % ", ".join("%d %s" % (len(v), k) for k, v in
                                         sorted(states.items())))

    # ---- the daemon ----

    def test_daemon_answers_with_idle_and_stops_on_sigterm(self):
        self.first_start()
        log = os.path.join(self.tmp, "daemon.log")
        with open(log, "w") as f:
            proc = subprocess.Popen([botutest.BOTU_BIN, "-v", "-c",
                                     self.conf, "run"],
                                    stdin=subprocess.DEVNULL, stdout=f,
                                    stderr=subprocess.STDOUT)
        try:
            # Deliver only once the daemon waits in IDLE.
            self.wait_log(log, r"imap S: \+ idling", proc)
            zoe = "zoe.%s@example.org" % self.tag
            raw = mail("Zoe <%s>" % zoe, self.list, "Aanmelden", "")
            t0 = time.monotonic()
            self.servers.send(zoe, self.list, raw)
            got = self.servers.wait_for_mail(zoe, timeout=20).msg
            took = time.monotonic() - t0
            self.assertEqual(got["In-Reply-To"], message_id(raw))
            self.assertIsNone(proc.poll(), "the daemon ended early")
            boxes = self.boxes()
            self.assertEqual([m for _, _, m, _ in boxes[DONE]],
                             [message_id(raw)])

            t1 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=10)
            stopped = time.monotonic() - t1
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        with open(log, errors="replace") as f:
            text = f.read()
        print("\n  daemon: answer after %.1f s, stopped %.2f s after "
              "SIGTERM" % (took, stopped))
        self.assertEqual(rc, 0, text[-3000:])
        self.assertLess(stopped, 5, text[-3000:])
        self.assertRegex(text, r"(?m)^botu: botu stopped$")
        self.assertRegex(text, r"outbox: 1 sent")
        self.assertEqual(len(self.arrived(zoe)), 1)

    def test_refused_login_waits_long_and_says_so(self):
        """A changed password must not get the account locked: after a
        refused login the daemon waits 15 minutes and says why."""
        wrong = os.path.join(self.tmp, "wrong.secret")
        with open(wrong, "w") as f:
            f.write("not-the-password\n")
        os.chmod(wrong, 0o600)
        conf = self.servers.write_config(
            os.path.join(self.tmp, "wrong.conf"),
            {"imap": {"password_file": wrong}}, user=self.list)
        log = os.path.join(self.tmp, "daemon.log")
        with open(log, "w") as f:
            proc = subprocess.Popen([botutest.BOTU_BIN, "-c", conf, "run"],
                                    stdin=subprocess.DEVNULL, stdout=f,
                                    stderr=subprocess.STDOUT)
        try:
            text = self.wait_log(log, r"trying again in 15 minutes", proc)
            self.assertIn("refused the login", text)
            # It waits: no second attempt within a few seconds.
            time.sleep(3)
            with open(log) as f:
                self.assertEqual(sum("refused the login" in line
                                     for line in f), 1)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=10), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def wait_log(self, path, pattern, proc, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            with open(path, errors="replace") as f:
                text = f.read()
            if re.search(pattern, text):
                return text
            if proc.poll() is not None or time.monotonic() > deadline:
                self.fail("no %r in the daemon's log (exit %r):\n%s" %
                          (pattern, proc.poll(), text[-3000:]))
            time.sleep(0.1)


if __name__ == "__main__":
    unittest.main()
