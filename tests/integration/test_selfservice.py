#!/usr/bin/python3
"""A member in charge of their own data by mail alone, against a real
Dovecot and Postfix (issue 11): "mijn gegevens" with a forged From and an
attacker's Reply-To goes only to the stored address; "vergeet mij" asks
first and, after the reply, leaves no trace of the address in botu.db*;
"English please" changes the language; "pauze" asks first, "hervat"
brings the digest back; "nieuw adres: x@y" moves the membership only
when both addresses replied.

Each test has its own list address (its own mailbox and database).
"""
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

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import botutest  # noqa: E402

ASAN_BIN = os.path.join(botutest.REPO, "build-asan", "botu")
BOTU_BIN = os.environ.get("BOTU_BIN") or (
    ASAN_BIN if os.access(ASAN_BIN, os.X_OK) else botutest.BOTU_BIN)


class SelfService(botutest.ServersTestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="botu-self-")
        short = self._testMethodName[5:17].replace("_", "")
        self.list = "ss-%s@lsabewoners.nl" % short
        self.member = "jan-%s@example.org" % short
        self.attacker = "mallory-%s@example.org" % short
        self.conf = self.servers.write_config(
            os.path.join(self.tmp, "botu.conf"),
            {"list": {"name": "Energie community BoTu"}}, user=self.list)
        self.db = os.path.join(self.tmp, "botu.db")
        self.botu("members", "add", self.member, "--name", "Jan Müller")
        # The first start only notes where the mailbox is.
        self.run_once()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def botu(self, *args, code=0):
        out = subprocess.run([BOTU_BIN, "-c", self.conf] + list(args),
                             capture_output=True, text=True, timeout=120)
        if code is not None and out.returncode != code:
            self.fail("botu %s: exit %d\n%s%s" % (
                " ".join(args), out.returncode, out.stdout, out.stderr))
        return out

    def run_once(self):
        return self.botu("run", "--once")

    def deliver(self, envelope, msg, to):
        mid = re.search(rb"Message-ID: (<[^>]+>)", msg, re.I).group(1)
        self.servers.send(envelope, to, msg)
        self.servers.wait_for_mail(
            self.list, lambda m: m["Message-ID"] == mid.decode())

    def mail(self, sender, subject, body, headers=None, envelope=None):
        msg = botutest.make_mail(sender, self.list, subject, body, headers)
        self.deliver(envelope or email.utils.parseaddr(sender)[1], msg,
                     self.list)

    def reply(self, person, to_msg, body=""):
        quoted = "\n".join("> " + line for line in
                           to_msg.get_body(("plain",)).get_content()
                           .splitlines())
        text = "%s\n\nOp %s schreef %s:\n%s\n" % (
            body, email.utils.formatdate(localtime=True), to_msg["From"],
            quoted)
        addr = email.utils.parseaddr(str(to_msg["Reply-To"]))[1]
        msg = botutest.make_mail(person, addr, "Re: " + to_msg["Subject"],
                                 text, {"In-Reply-To": to_msg["Message-ID"],
                                        "References": to_msg["Message-ID"]})
        self.deliver(email.utils.parseaddr(person)[1], msg, addr)

    def wait(self, user, word):
        return self.servers.wait_for_mail(
            user, lambda m: word in str(m["Subject"])).msg

    @staticmethod
    def text(msg):
        return msg.get_body(("plain",)).get_content()

    def members(self):
        return {m["email"]: m for m in json.loads(
            self.botu("members", "list", "--json").stdout)}

    def raw_db(self):
        data = b""
        for name in os.listdir(self.tmp):
            if name.startswith("botu.db"):
                with open(os.path.join(self.tmp, name), "rb") as f:
                    data += f.read()
        return data.lower()

    def sql(self, query):
        with sqlite3.connect(self.db) as c:
            return c.execute(query).fetchall()

    # ---- the tests ----

    def test_my_data_forged_from_goes_to_stored_address(self):
        # The attacker forges the member's From (in other case) and asks
        # for the answer at their own Reply-To.
        self.mail("Jan <%s>" % self.member.upper(), "mijn gegevens",
                  "Stuur maar naar mijn nieuwe adres.\n",
                  {"Reply-To": self.attacker}, envelope=self.attacker)
        out = self.run_once()
        self.assertIn("my-data (handled)", out.stderr)
        got = self.wait(self.member, "weet")
        self.assertEqual(email.utils.parseaddr(got["To"])[1], self.member)
        body = self.text(got)
        self.assertIn("mailadres: %s" % self.member, body)
        self.assertIn("naam: Jan Müller", body)
        self.assertIn("toestemming:", body)
        # The JSON part parses and names the member.
        data = json.loads(body[body.index("{"):body.rindex("}") + 1])
        self.assertEqual(data["email"], self.member)
        self.assertEqual(data["name"], "Jan Müller")
        self.assertIn("events", data)
        self.servers.wait_queue_empty()
        self.assertEqual(self.servers.fetch_all(self.attacker), [])
        # At most three answers an hour to one address.
        for i in range(4):
            self.mail(self.member, "my data", "")
        self.run_once()
        self.servers.wait_queue_empty()
        self.assertEqual(self.sql(
            "SELECT count(*) FROM outbox WHERE kind = 'my-data'"), [(3,)])

    def test_my_data_from_a_stranger_is_left_for_a_person(self):
        self.mail(self.attacker, "my data", "")
        out = self.run_once()
        self.assertIn("my-data (left for a person)", out.stderr)
        self.servers.wait_queue_empty()
        self.assertEqual(self.servers.fetch_all(self.attacker), [])

    def test_forget_me_after_confirmation_leaves_no_trace(self):
        self.botu("members", "add", "blijft@example.org")
        self.mail("Jan Müller <%s>" % self.member, "Vergeet mij",
                  "Groetjes,\nJan\n")
        self.run_once()
        ask = self.wait(self.member, "wissen")
        self.assertRegex(ask["Subject"], r"\[[a-z2-7]{26}\]")
        # Asking alone erases nothing.
        self.assertIn(self.member, self.members())
        self.reply("Jan Müller <%s>" % self.member, ask)
        out = self.run_once()
        self.assertIn("erased on request", out.stderr)
        self.assertNotIn(self.member, self.members())
        self.assertIn("blijft@example.org", self.members())
        raw = self.raw_db()
        self.assertNotIn(self.member.encode(), raw)
        self.assertNotIn("jan müller".encode(), raw)
        self.assertEqual(self.sql(
            "SELECT count(*) FROM events WHERE kind = 'forget'"), [(1,)])
        self.assertEqual(self.sql(
            "SELECT count(*) FROM inbound WHERE state = 'done'"), [(2,)])
        # No mail after the erasure: only the question came.
        self.servers.wait_queue_empty()
        self.assertEqual(len(self.servers.fetch_all(self.member)), 1)

    def test_forget_needs_the_code(self):
        # A forged "forget me" only makes the owner get the question.
        self.mail(self.member, "forget me", "", envelope=self.attacker)
        self.run_once()
        self.wait(self.member, "delete everything")
        self.assertIn(self.member, self.members())
        self.assertEqual(self.servers.fetch_all(self.attacker), [])

    def test_language_and_pause_resume(self):
        self.mail(self.member, "Re: iets", "English please\n\nJan\n")
        self.run_once()
        got = self.wait(self.member, "in English from now on")
        self.assertIn("Dutch", self.text(got))
        self.assertEqual(self.members()[self.member]["language"], "en")

        # Not verified: a pause asks first.
        self.mail(self.member, "pause", "")
        self.run_once()
        ask = self.wait(self.member, "confirm your pause")
        self.assertEqual(self.members()[self.member]["digest"], "weekly")
        self.reply(self.member, ask, "yes")
        self.run_once()
        self.wait(self.member, "is paused")
        self.assertEqual(self.members()[self.member]["digest"], "off")
        export = json.loads(self.botu("members", "export",
                                      "--json").stdout)
        self.assertTrue(export[0]["paused"])

        self.mail(self.member, "resume", "")
        self.run_once()
        self.wait(self.member, "again")
        self.assertEqual(self.members()[self.member]["digest"], "weekly")

    def test_new_address_needs_both(self):
        new = self.member.replace("jan-", "jan.nieuw-")
        self.mail("Jan Müller <%s>" % self.member, "Nieuw adres: %s" % new,
                  "Groetjes,\nJan\n")
        self.run_once()
        to_old = self.wait(self.member, "nieuwe mailadres")
        to_new = self.wait(new, "nieuwe mailadres")
        self.assertIn(new, self.text(to_old))
        self.assertNotEqual(to_old["Subject"], to_new["Subject"])
        # The new address alone moves nothing.
        self.reply(new, to_new)
        self.run_once()
        self.assertIn(self.member, self.members())
        self.reply("Jan Müller <%s>" % self.member, to_old)
        self.run_once()
        done = self.wait(new, "is veranderd")
        self.assertEqual(email.utils.parseaddr(done["To"])[1], new)
        got = self.members()
        self.assertNotIn(self.member, got)
        self.assertEqual(got[new]["name"], "Jan Müller")
        self.assertEqual(got[new]["status"], "active")

    def test_forged_new_address_is_refused(self):
        self.mail(self.member, "new address: %s" % self.attacker, "",
                  {"Reply-To": self.attacker}, envelope=self.attacker)
        self.run_once()
        # In the member's language: the subject says none.
        to_old = self.wait(self.member, "nieuwe mailadres")
        to_new = self.wait(self.attacker, "nieuwe mailadres")
        self.assertIn(self.attacker, self.text(to_old))
        # The question to the new address carries no way to end the
        # owner's membership.
        token = self.sql("SELECT unsub_token FROM members WHERE "
                         "email = '%s'" % self.member)[0][0]
        self.assertIn(token, str(to_old["List-Unsubscribe"]))
        self.assertNotIn(token, str(to_new["List-Unsubscribe"]))
        self.assertNotIn(token, self.text(to_new))
        # The attacker confirms their side; the owner never does.
        self.reply(self.attacker, to_new)
        self.run_once()
        self.assertIn(self.member, self.members())
        self.assertNotIn(self.attacker, self.members())


if __name__ == "__main__":
    unittest.main()
