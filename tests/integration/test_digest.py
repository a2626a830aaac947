#!/usr/bin/python3
"""The digest against a real Dovecot and Postfix: members choose their
rhythm by mail, the organiser posts updates, `botu digest send` makes the
issues and the daemon delivers them. A weekly member gets every issue, a
monthly member only the monthly edition, an "uit" member none. Each mail
is multipart/alternative with the member's own unsubscribe address,
List-* headers and Auto-Submitted: auto-generated.

The HTML part is opened in headless Chromium; the screenshot stays in
build/test-output/digest.png for people to look at.

Each test has its own list address (its own mailbox and database).
"""
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
import time
import unittest
import zoneinfo

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import botutest  # noqa: E402

OUTPUT = os.path.join(botutest.REPO, "build", "test-output")
ASAN_BIN = os.path.join(botutest.REPO, "build-asan", "botu")
BOTU_BIN = os.environ.get("BOTU_BIN") or (
    ASAN_BIN if os.access(ASAN_BIN, os.X_OK) else botutest.BOTU_BIN)


TZ = zoneinfo.ZoneInfo("Europe/Amsterdam")
# libfaketime, preloaded directly (as test_ops_daemon.py does it).
FAKETIME = next((p for p in (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/faketime/libfaketimeMT.so.1") if os.path.exists(p)), None)


def fake_env(fake):
    """The environment for a botu whose clock starts at fake."""
    env = dict(os.environ)
    env["LD_PRELOAD"] = FAKETIME
    env["FAKETIME"] = fake.astimezone(datetime.timezone.utc).strftime(
        "@%Y-%m-%d %H:%M:%S")
    env["TZ"] = "UTC"
    env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
    opts = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + \
        "verify_asan_link_order=0"
    return env


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Digest(botutest.ServersTestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="botu-digest-")
        os.chmod(self.tmp, 0o755)
        short = self._testMethodName[5:17].replace("_", "")
        self.list = "dg-%s@lsabewoners.nl" % short
        self.weekly = "week-%s@example.org" % short
        self.monthly = "maand-%s@example.org" % short
        self.off = "uit-%s@example.org" % short
        self.conf = self.servers.write_config(
            os.path.join(self.tmp, "botu.conf"),
            {"list": {"name": "Energie community BoTu",
                      "authserv_id": "mx.test.example"},
             "digest": {"schedule": "off"}}, user=self.list)
        self.run_once()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def botu(self, *args, check=True, stdin=None, fake=None):
        out = subprocess.run([BOTU_BIN, "-c", self.conf] + list(args),
                             capture_output=True, text=True, timeout=120,
                             input=stdin, env=fake_env(fake) if fake
                             else None)
        if check and out.returncode != 0:
            self.fail("botu %s: exit %d\n%s%s" % (" ".join(args),
                      out.returncode, out.stdout, out.stderr))
        return out

    def run_once(self):
        return self.botu("run", "--once")

    def mail(self, sender, subject, body):
        msg = botutest.make_mail(sender, self.list, subject, body)
        mid = re.search(rb"Message-ID: (<[^>]+>)", msg, re.I).group(1)
        self.servers.send(sender, self.list, msg)
        self.servers.wait_for_mail(
            self.list, lambda m: m["Message-ID"] == mid.decode())

    def digests(self, user):
        return [m.msg for m in self.servers.fetch_all(user)
                if "Nieuwsbrief #" in str(m.msg["Subject"])]

    def members(self):
        return {m["email"]: m for m in
                json.loads(self.botu("members", "list", "--json").stdout)}

    def test_rhythms_by_mail_and_two_issues(self):
        for who in (self.weekly, self.monthly, self.off):
            self.botu("members", "add", who, "--name", who.split("@")[0])
        # The members choose by mail; each hears it at their address.
        self.mail(self.monthly, "digest maandelijks", "")
        self.mail(self.off, "Digest uit", "Verstuurd vanaf mijn iPhone")
        self.run_once()
        self.servers.wait_for_mail(
            self.monthly, lambda m: "nieuwsbrief" in str(m["Subject"]))
        self.servers.wait_for_mail(
            self.off, lambda m: "nieuwsbrief" in str(m["Subject"]))
        rhythm = {a: m["digest"] for a, m in self.members().items()}
        self.assertEqual(rhythm, {self.weekly: "weekly",
                                  self.monthly: "monthly",
                                  self.off: "off"})

        # Issue 1: the first of the month, so the monthly member too.
        self.botu("post", "--subject", "Zonnepanelen op de school",
                  "--name", "Kernteam", stdin="De school zegt ja!\n\n"
                  "We zoeken drie mensen voor de werkgroep.\n")
        out = self.botu("digest", "send").stdout
        self.assertIn("digest #1:", out)
        self.run_once()
        first = self.servers.wait_for_mail(
            self.weekly, lambda m: "Nieuwsbrief #1" in str(m["Subject"]))
        self.servers.wait_for_mail(
            self.monthly, lambda m: "Nieuwsbrief #1" in str(m["Subject"]))
        # Issue 2 in the same month: the weekly member only.
        month = time.localtime().tm_mon
        self.botu("post", "--subject", "Klusdag", stdin="Zaterdag!\n")
        self.assertIn("digest #2:", self.botu("digest", "send").stdout)
        self.run_once()
        self.servers.wait_for_mail(
            self.weekly, lambda m: "Nieuwsbrief #2" in str(m["Subject"]))
        self.servers.wait_queue_empty()
        self.assertEqual(len(self.digests(self.weekly)), 2)
        if time.localtime().tm_mon == month:
            self.assertEqual(len(self.digests(self.monthly)), 1,
                             "the monthly member gets the month's first")
        self.assertEqual(self.digests(self.off), [], "'uit' gets none")
        # Nothing happened since: no issue (send_empty is off).
        self.assertIn("none made", self.botu("digest", "send").stdout)

        # The form of the mail.
        msg = first.msg
        self.assertEqual(msg.get_content_type(), "multipart/alternative")
        self.assertEqual(msg["Auto-Submitted"], "auto-generated")
        self.assertIn("<dg-", msg["List-Id"])
        unsub = str(msg["List-Unsubscribe"])
        self.assertRegex(unsub, r"\+afmelden-[a-z2-7]{26}@")
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        self.assertIn("We zoeken drie mensen", text)
        self.assertIn("Kernteam", html)
        self.assertIn(re.search(r"<mailto:([^>?]+)", unsub).group(1), text)
        self.assertIn("digest maandelijks", text)
        self.assertLess(len(bytes(msg)), 90 * 1024)
        os.makedirs(OUTPUT, exist_ok=True)
        page = os.path.join(OUTPUT, "digest.html")
        with open(page, "w", encoding="utf-8") as f:
            f.write(html)
        self.screenshot(page)

        # The monthly member's own unsubscribe address is a different one.
        month_msg = self.digests(self.monthly)[0]
        self.assertNotEqual(str(month_msg["List-Unsubscribe"]), unsub)

    def test_who_left_after_the_issue_is_not_sent_it(self):
        """The sending connections render each member's mail; a member
        who left or turned the digest off since the issue is dropped,
        the others get it."""
        others = ["lid%d-%s" % (i, self.weekly) for i in range(6)]
        for who in [self.weekly, self.off] + others:
            self.botu("members", "add", who)
        self.botu("post", "--subject", "Klusdag", stdin="Zaterdag!\n")
        self.assertIn("digest #1:", self.botu("digest", "send").stdout)
        db = sqlite3.connect(os.path.join(self.tmp, "botu.db"))
        with db:
            db.execute("UPDATE members SET digest = 'off' WHERE email = ?",
                       (self.off,))
            db.execute("UPDATE members SET status = 'unsubscribed' WHERE "
                       "email = ?",
                       (others[0],))
        db.close()
        self.run_once()
        self.servers.wait_queue_empty()
        db = sqlite3.connect(os.path.join(self.tmp, "botu.db"))
        status = dict(db.execute("SELECT rcpt, status FROM outbox WHERE "
                                 "digest_id IS NOT NULL"))
        db.close()
        self.assertEqual(status, {**{w: "sent" for w in
                                     [self.weekly] + others[1:]},
                                  self.off: "dropped",
                                  others[0]: "dropped"})
        for who in [self.weekly] + others[1:]:
            self.assertEqual(len(self.digests(who)), 1, who)
        self.assertEqual(self.digests(self.off), [])
        self.assertEqual(self.digests(others[0]), [])

    def test_updates_by_mail(self):
        kern = "kern-%s" % self.weekly
        self.botu("members", "add", kern, "--name", "Karin Kern")
        self.botu("members", "set", kern, "--core")
        self.botu("members", "add", self.weekly, "--name", "Wim")
        # The trusted server's verdict on top: published at once.
        msg = botutest.make_mail(
            "Karin Kern <%s>" % kern, self.list.replace("@", "+update@"),
            "Subsidie voor isolatie", "De gemeente geeft weer subsidie.\n"
            "\nGroet,\nKarin\n",
            {"Authentication-Results": "mx.test.example; dmarc=pass "
             "header.from=example.org"})
        self.deliver(kern, msg, self.list.replace("@", "+update@"))
        # Without it, in Karin's name: only a code to Karin.
        forged = botutest.make_mail(
            "Karin Kern <%s>" % kern, self.list, "[update] Geld",
            "Maak geld over naar NL00BANK0123456789.\n")
        self.deliver("mallory@example.net", forged, self.list)
        self.run_once()
        self.servers.wait_for_mail(
            kern, lambda m: "volgende nieuwsbrief" in str(m["Subject"]))
        code = self.servers.wait_for_mail(
            kern, lambda m: "Klopt je update" in str(m["Subject"])).msg
        self.assertIn("NL00BANK", code.get_body(("plain",)).get_content())
        self.assertIn("digest #1:", self.botu("digest", "send").stdout)
        self.run_once()
        issue = self.servers.wait_for_mail(
            self.weekly, lambda m: "Nieuwsbrief #1" in str(m["Subject"])).msg
        text = issue.get_body(("plain",)).get_content()
        self.assertIn("Subsidie voor isolatie", text)
        self.assertIn("De gemeente geeft weer subsidie.", text)
        self.assertNotIn("Groet", text)
        self.assertNotIn("NL00BANK", text, "a forged update never appears")

        # An ordinary member: confirms by replying, then waits for a
        # moderator (here the organiser, with the command).
        self.mail(self.weekly, "[update] Buurtfeest", "Kom allemaal!\n")
        self.run_once()
        ask = self.servers.wait_for_mail(
            self.weekly, lambda m: "Klopt je update" in str(m["Subject"])).msg
        addr = email.utils.parseaddr(str(ask["Reply-To"]))[1]
        reply = botutest.make_mail(self.weekly, addr, "Re: " +
                                   str(ask["Subject"]), "Ja, klopt.\n")
        self.deliver(self.weekly, reply, addr)
        self.run_once()
        pending = json.loads(self.botu("updates", "list", "--json",
                                       "--status", "pending").stdout)
        self.assertEqual([u["subject"] for u in pending], ["Buurtfeest"])
        # Waiting for a moderator is not published.
        self.assertIn("none made", self.botu("digest", "send").stdout)
        self.botu("updates", "approve", str(pending[0]["id"]))
        self.assertIn("digest #2:", self.botu("digest", "send").stdout)
        self.run_once()
        self.servers.wait_for_mail(
            self.weekly, lambda m: "volgende nieuwsbrief" in str(m["Subject"]))
        second = self.servers.wait_for_mail(
            self.weekly, lambda m: "Nieuwsbrief #2" in str(m["Subject"])).msg
        self.assertIn("Kom allemaal!",
                      second.get_body(("plain",)).get_content())

    def test_schedule_through_the_daemon(self):
        if FAKETIME is None:
            self.skipTest("libfaketime is not installed")
        self.servers.write_config(
            self.conf, {"list": {"name": "Energie community BoTu"},
                        "digest": {"schedule": "mon 09:00"}},
            user=self.list)
        self.botu("members", "add", self.weekly, "--name", "Wim")

        # The test servers' certificates last a month from now: a Monday
        # 3 to 9 days ahead, at 09:00 in the list's zone.
        now = datetime.datetime.now(TZ)
        day = (now + datetime.timedelta(days=3)).date()
        day += datetime.timedelta(days=(7 - day.weekday()) % 7)

        def at(days, hour, minute=0):
            d = day + datetime.timedelta(days=days)
            return datetime.datetime(d.year, d.month, d.day, hour, minute,
                                     tzinfo=TZ)
        # The first start only records when the schedule began.
        self.botu("run", "--once", fake=at(-2, 10))
        self.botu("post", "--subject", "Nieuwjaarsborrel",
                  stdin="Zaterdag in het buurthuis.\n", fake=at(-1, 12))
        self.botu("run", "--once", fake=at(0, 8, 59))
        self.assertEqual(json.loads(self.botu("digest", "list",
                                              "--json").stdout), [])
        # Down over two Mondays: one issue when botu runs again.
        out = self.botu("run", "--once", fake=at(9, 10))
        self.assertIn("digest #1", out.stderr)
        self.botu("run", "--once", fake=at(9, 10, 20))
        issues = json.loads(self.botu("digest", "list", "--json").stdout)
        self.assertEqual([i["number"] for i in issues], [1])
        got = self.servers.wait_for_mail(
            self.weekly, lambda m: "Nieuwsbrief #1" in str(m["Subject"]))
        self.assertIn("Nieuwjaarsborrel",
                      got.msg.get_body(("plain",)).get_content())
        # Dated when it was made (faketime runs on from its start).
        made = email.utils.parsedate_to_datetime(str(got.msg["Date"]))
        self.assertLess(abs((made - at(9, 10)).total_seconds()), 120)
        self.servers.wait_queue_empty()
        self.assertEqual(len(self.digests(self.weekly)), 1)
        # The next Monday: nothing new, so no issue.
        self.botu("run", "--once", fake=at(14, 9, 1))
        self.assertEqual(len(json.loads(self.botu(
            "digest", "list", "--json").stdout)), 1)

    def deliver(self, sender, msg, to):
        mid = re.search(rb"Message-ID: (<[^>]+>)", msg, re.I).group(1)
        self.servers.send(sender, to, msg)
        self.servers.wait_for_mail(
            self.list, lambda m: m["Message-ID"] == mid.decode())

    def screenshot(self, page):
        exe = chromium()
        if exe is None:
            self.skipTest("chromium is not installed")
        profile = tempfile.mkdtemp(prefix="chromium-", dir=self.tmp)
        shot = os.path.join(OUTPUT, "digest.png")
        if os.path.exists(shot):
            os.unlink(shot)
        base = [exe, "--headless", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--user-data-dir=" + profile, "--enable-logging=stderr",
                "--v=0"]
        # A phone's width: the mail must read well there.
        out = subprocess.run(base + ["--window-size=414,1400",
                                     "--screenshot=" + shot,
                                     "file://" + page],
                             capture_output=True, text=True, timeout=120)
        self.assertTrue(os.path.exists(shot), out.stderr[-2000:])
        self.assertGreater(os.path.getsize(shot), 5000)
        dom = subprocess.run(base + ["--dump-dom", "file://" + page],
                             capture_output=True, text=True, timeout=120)
        self.assertIn("Zonnepanelen op de school", dom.stdout)
        errors = [line for line in dom.stderr.splitlines()
                  if ":CONSOLE" in line or "Uncaught" in line]
        self.assertEqual(errors, [])


if __name__ == "__main__":
    unittest.main()
