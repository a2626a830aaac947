#!/usr/bin/python3
"""Meetings against a real Dovecot and Postfix: `botu meeting add` mails
each member an invitation whose calendar part python3-icalendar, vobject
and khal read at the right local time (tests/check-ical.py); members answer
with a calendar REPLY (Gmail-like inline, Exchange-like as an .ics without
ORGANIZER) and with a plain "misschien" to the Reply-To; a REPLY in which
one member answers for another changes nothing; `meeting show` counts the
answers; an update arrives with SEQUENCE 1 and a cancellation as
METHOD:CANCEL.

Each test has its own list address (its own mailbox and database).
"""
import base64
import datetime
import email.utils
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest
import zoneinfo

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import botutest  # noqa: E402

ASAN_BIN = os.path.join(botutest.REPO, "build-asan", "botu")
BOTU_BIN = os.environ.get("BOTU_BIN") or (
    ASAN_BIN if os.access(ASAN_BIN, os.X_OK) else botutest.BOTU_BIN)
CHECK = os.path.join(botutest.REPO, "tests", "check-ical.py")
# libfaketime, as test_ops_daemon.py preloads it: the daemon's tick runs
# at the time a reminder is due.
FAKETIME = next((p for p in (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/faketime/libfaketimeMT.so.1") if os.path.exists(p)), None)


def fake_env(when):
    """The environment of a botu whose clock starts at when (UTC)."""
    env = dict(os.environ)
    env["LD_PRELOAD"] = FAKETIME
    env["FAKETIME"] = when.strftime("@%Y-%m-%d %H:%M:%S")
    env["TZ"] = "UTC"
    env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
    opts = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + \
        "verify_asan_link_order=0"
    return env


def calendar_part(msg):
    for part in msg.walk():
        if part.get_content_type() == "text/calendar":
            return part.get_payload(decode=True).decode("utf-8")
    raise AssertionError("no text/calendar part")


def field(ics, name):
    m = re.search(r"^%s[;:](?:[^\r\n]*:)?([^\r\n]*)" % name, ics, re.M)
    return m.group(1) if m else None


class Meetings(botutest.ServersTestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="botu-meetings-")
        short = self._testMethodName[5:15].replace("_", "")
        self.list = "mt-%s@lsabewoners.nl" % short
        self.jan = "jan-%s@example.org" % short
        self.piet = "piet-%s@example.org" % short
        self.kees = "kees-%s@example.org" % short
        self.conf = self.servers.write_config(
            os.path.join(self.tmp, "botu.conf"),
            {"list": {"name": "Energie BoTu"}}, user=self.list)
        self.db = os.path.join(self.tmp, "botu.db")
        self.botu("run", "--once")
        self.n = 0

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def botu(self, *args, check=True, env=None):
        out = subprocess.run([BOTU_BIN, "-c", self.conf] + list(args),
                             capture_output=True, text=True, timeout=120,
                             env=env, stdin=subprocess.DEVNULL)
        if check and out.returncode != 0:
            self.fail("botu %s: exit %d\n%s%s" % (" ".join(args),
                      out.returncode, out.stdout, out.stderr))
        return out

    def wait(self, user, pred):
        return self.servers.wait_for_mail(user, pred, timeout=20).msg

    def check_ical(self, msg, expect):
        path = os.path.join(self.tmp, "mail-%d.eml" % self.n)
        self.n += 1
        with open(path, "wb") as f:
            f.write(msg.as_bytes())
        exp = os.path.join(self.tmp, "expect.json")
        with open(exp, "w") as f:
            json.dump(expect, f)
        r = subprocess.run(["/usr/bin/python3", CHECK, "--eml", path, exp],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)

    def deliver(self, sender, to, raw):
        mid = re.search(rb"Message-ID: (<[^>]+>)", raw, re.I).group(1)
        self.servers.send(sender, to, raw)
        self.servers.wait_for_mail(
            self.list, lambda m: m["Message-ID"] == mid.decode())

    def reply_mail(self, sender, uid, seq, attendee, partstat, exchange):
        """A calendar's answer: Gmail-like (inline text/calendar, marked
        automatic) or Exchange-like (no ORGANIZER, Windows zone, an
        application/ics attachment, upper-case MAILTO)."""
        self.n += 1
        if exchange:
            ics = ("BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nPRODID:Microsoft "
                   "Exchange Server 2010\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\n"
                   "ATTENDEE;PARTSTAT=%s;CN=X:MAILTO:%s\r\n"
                   "COMMENT:Sorry\\, op vakantie.\r\n"
                   "SUMMARY:Geweigerd: Buurtoverleg\r\n"
                   "DTSTART;TZID=W. Europe Standard Time:20261210T193000\r\n"
                   "UID:%s\r\nDTSTAMP:20261201T100000Z\r\nSEQUENCE:%d\r\n"
                   "END:VEVENT\r\nEND:VCALENDAR\r\n" % (
                       partstat, attendee.upper(), uid, seq))
            body = ("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                    "Geweigerd.\r\n--b\r\nContent-Type: application/ics; "
                    "name=\"invite.ics\"\r\nContent-Disposition: attachment;"
                    " filename=\"invite.ics\"\r\nContent-Transfer-Encoding: "
                    "base64\r\n\r\n%s\r\n--b--\r\n" % base64.encodebytes(
                        ics.encode()).decode().replace("\n", "\r\n"))
            extra = ""
        else:
            ics = ("BEGIN:VCALENDAR\nPRODID:-//Google Inc//Google Calendar "
                   "70.9054//EN\nVERSION:2.0\nMETHOD:REPLY\nBEGIN:VEVENT\n"
                   "DTSTART:20261210T183000Z\nDTSTAMP:20261201T120000Z\n"
                   "ORGANIZER:mailto:%s\nUID:%s\nSEQUENCE:%d\n"
                   "ATTENDEE;CUTYPE=INDIVIDUAL;PARTSTAT=%s;CN=%s;"
                   "X-NUM-GUESTS=0:mailto:%s\nEND:VEVENT\nEND:VCALENDAR\n"
                   % (self.list, uid, seq, partstat, attendee, attendee))
            body = ("Content-Type: multipart/alternative; boundary=b\r\n\r\n"
                    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                    "Answered.\r\n--b\r\nContent-Type: text/calendar; "
                    "method=REPLY; charset=UTF-8\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--b--\r\n"
                    % base64.encodebytes(ics.encode()).decode()
                    .replace("\n", "\r\n"))
            extra = "Auto-Submitted: auto-generated\r\n"
        raw = ("From: %s\r\nTo: %s\r\nSubject: Accepted: Buurtoverleg\r\n"
               "Date: %s\r\nMessage-ID: <rsvp%d-%s>\r\n%sMIME-Version: 1.0"
               "\r\n%s" % (sender, self.list, email.utils.formatdate(),
                           self.n, sender, extra, body))
        self.deliver(sender, self.list, raw.encode())

    def partstat(self, who):
        with sqlite3.connect(self.db) as c:
            return c.execute("SELECT partstat FROM meeting_invites i JOIN "
                             "members m ON m.id = i.member_id WHERE "
                             "m.email = ?", (who,)).fetchone()[0]

    def test_invite_answer_update_cancel(self):
        for who, name in ((self.jan, "de Vries, Jan"), (self.piet, "Piet"),
                          (self.kees, "Kees")):
            self.botu("members", "add", who, "--name", name)
        out = self.botu("meeting", "add", "--title", "Buurtoverleg "
                        "warmtenet", "--start", "2026-12-10 19:30",
                        "--duration", "2h", "--location",
                        "Buurthuis De Hoek, Schiedamseweg 1")
        self.assertIn("3 invitations queued", out.stdout)
        self.botu("run", "--once")
        invites = {}
        for who in (self.jan, self.piet, self.kees):
            msg = self.wait(who, lambda m: "Uitnodiging" in str(
                m["Subject"]))
            invites[who] = msg
        jan = invites[self.jan]
        self.check_ical(jan, {
            "method": "REQUEST", "sequence": 0, "to": self.jan,
            "attendee": self.jan, "attendee_name": "de Vries, Jan",
            "organizer": self.list, "organizer_name": "Energie BoTu",
            "summary": "Buurtoverleg warmtenet",
            "location": "Buurthuis De Hoek, Schiedamseweg 1",
            "start": "2026-12-10 19:30", "end": "2026-12-10 21:30"})
        self.assertEqual(email.utils.parseaddr(str(jan["From"]))[1],
                         self.list)
        uids = {w: field(calendar_part(m), "UID")
                for w, m in invites.items()}
        self.assertEqual(len(set(uids.values())), 3)

        # Jan accepts from Gmail; Piet declines from Exchange.
        self.reply_mail(self.jan, uids[self.jan], 0, self.jan, "ACCEPTED",
                        False)
        self.reply_mail(self.piet, uids[self.piet], 0, self.piet,
                        "DECLINED", True)
        # Kees, with his own UID, tries to decline for Jan: refused.
        self.reply_mail(self.kees, uids[self.kees], 0, self.jan, "DECLINED",
                        False)
        # Kees answers "misschien" to the invitation's Reply-To.
        reply_to = email.utils.parseaddr(str(invites[self.kees]
                                             ["Reply-To"]))[1]
        self.assertIn("+antwoord-", reply_to)
        msg = botutest.make_mail(self.kees, reply_to, "Re: " + str(
            invites[self.kees]["Subject"]), "Misschien, ik laat het nog "
            "weten.\n\nKees\n")
        self.servers.send(self.kees, reply_to, msg)
        self.servers.wait_for_mail(self.list, lambda m: str(
            m["From"]).startswith(self.kees) and "Re:" in str(m["Subject"]))
        self.botu("run", "--once")
        self.assertEqual(self.partstat(self.jan), "ACCEPTED")
        self.assertEqual(self.partstat(self.piet), "DECLINED")
        self.assertEqual(self.partstat(self.kees), "TENTATIVE")
        show = json.loads(self.botu("meeting", "show", "1",
                                    "--json").stdout)
        self.assertEqual((show["invited"], show["accepted"],
                          show["declined"], show["tentative"],
                          show["no_answer"]), (3, 1, 1, 1, 0))
        piet = [a for a in show["attendees"] if a["email"] == self.piet][0]
        self.assertEqual(piet["comment"], "Sorry, op vakantie.")
        lst = json.loads(self.botu("meeting", "list", "--json").stdout)
        self.assertEqual([(m["id"], m["title"], m["start"], m["status"])
                          for m in lst],
                         [(1, "Buurtoverleg warmtenet",
                           "2026-12-10T19:30+01:00", "planned")])
        # No answer went back to anyone who answered.
        for who in (self.jan, self.piet):
            self.assertEqual(len(self.servers.fetch_all(who)), 1)
        # The forged answer stays in the inbox for a person.
        left = [m for m in self.servers.fetch_all(self.list)
                if str(m.msg["Message-ID"]).endswith("-%s>" % self.kees)
                and "Accepted" in str(m.msg["Subject"])]
        self.assertEqual(len(left), 1)

        # A new place: SEQUENCE 1, everyone asked again.
        self.botu("meeting", "update", "1", "--location", "Bibliotheek")
        self.botu("run", "--once")
        upd = self.wait(self.jan, lambda m: "Gewijzigd" in str(
            m["Subject"]) or "wijzig" in str(m["Subject"]).lower())
        self.check_ical(upd, {"method": "REQUEST", "sequence": 1,
                              "uid": uids[self.jan],
                              "location": "Bibliotheek",
                              "partstat": "NEEDS-ACTION",
                              "start": "2026-12-10 19:30"})
        self.assertEqual(self.partstat(self.jan), "NEEDS-ACTION")

        self.botu("meeting", "cancel", "1")
        self.botu("run", "--once")
        can = self.wait(self.piet, lambda m: calendar_has(m, "CANCEL"))
        self.check_ical(can, {"method": "CANCEL", "sequence": 2,
                              "status": "CANCELLED",
                              "uid": uids[self.piet], "khal": False})

    def test_cli_errors(self):
        """--help answers with 0; wrong input is refused with sysexits
        codes and changes nothing."""
        for sub in ("add", "update", "cancel", "result", "list", "show"):
            out = self.botu("meeting", sub, "--help")
            self.assertIn("usage: botu meeting " + sub, out.stdout)
        for args, code in (
                (("add", "--title", "x", "--start", "2026-13-01 10:00"),
                 64),
                (("add", "--title", "x", "--start", "2026-12-01 10:00",
                  "--duration", "3x"), 64),
                (("add", "--title", "x", "--start", "2020-12-01 10:00"),
                 65),
                (("add", "--title", "x", "--start", "2026-12-01 10:00",
                  "--audience", "bestuur"), 64),
                (("cancel", "7"), 65),
                (("show", "7"), 65),
                (("update", "x"), 64)):
            out = self.botu("meeting", *args, check=False)
            self.assertEqual(out.returncode, code, (args, out.stderr))
        self.assertEqual(json.loads(self.botu("meeting", "list",
                                              "--json").stdout), [])

    @unittest.skipIf(FAKETIME is None, "libfaketime is not installed")
    def test_reminder(self):
        """The daemon's tick reminds, once, 24 hours before the start,
        those who accepted or did not answer; not who declined."""
        for who in (self.jan, self.piet, self.kees):
            self.botu("members", "add", who)
        start = (datetime.datetime.now(datetime.timezone.utc) +
                 datetime.timedelta(days=3)).replace(second=0,
                                                      microsecond=0)
        local = start.astimezone(zoneinfo.ZoneInfo("Europe/Amsterdam"))
        self.botu("meeting", "add", "--title", "Klusdag", "--start",
                  local.strftime("%Y-%m-%d %H:%M"))
        self.botu("run", "--once")
        invites = {w: self.wait(w, lambda m: "Uitnodiging" in str(
            m["Subject"])) for w in (self.jan, self.piet, self.kees)}
        uid = field(calendar_part(invites[self.piet]), "UID")
        self.reply_mail(self.piet, uid, 0, self.piet, "DECLINED", False)
        uid = field(calendar_part(invites[self.jan]), "UID")
        self.reply_mail(self.jan, uid, 0, self.jan, "ACCEPTED", False)
        self.botu("run", "--once")
        self.assertEqual(self.partstat(self.piet), "DECLINED")
        # Two days before: not yet.
        self.botu("run", "--once", env=fake_env(
            start - datetime.timedelta(hours=48)))
        self.servers.wait_queue_empty()
        self.assertFalse([m for m in self.servers.fetch_all(self.jan)
                          if "Herinnering" in str(m.msg["Subject"])])
        # 23 hours before: due.
        self.botu("run", "--once", env=fake_env(
            start - datetime.timedelta(hours=23)))
        for who in (self.jan, self.kees):
            msg = self.wait(who, lambda m: "Herinnering" in str(
                m["Subject"]))
            text = msg.get_body(("plain",)).get_content()
            self.assertIn("Klusdag", text)
        self.assertIn("Fijn dat je komt", self.wait(
            self.jan, lambda m: "Herinnering" in str(m["Subject"]))
            .get_body(("plain",)).get_content())
        # Once only, and none for Piet.
        self.botu("run", "--once", env=fake_env(
            start - datetime.timedelta(hours=22)))
        self.servers.wait_queue_empty()
        for who, n in ((self.jan, 1), (self.kees, 1), (self.piet, 0)):
            got = [m for m in self.servers.fetch_all(who)
                   if "Herinnering" in str(m.msg["Subject"])]
            self.assertEqual(len(got), n, who)


def calendar_has(msg, method):
    for part in msg.walk():
        if part.get_content_type() == "text/calendar":
            return (part.get_param("method") or "").upper() == method
    return False


if __name__ == "__main__":
    unittest.main()
