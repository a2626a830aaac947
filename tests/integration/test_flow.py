#!/usr/bin/python3
"""Joining, confirming, a welcome and leaving, by e-mail alone, against a
real Dovecot and Postfix: what a person would see in their own mailbox.

Each test has its own list address (its own mailbox and database), so the
tests do not see each other's mail.
"""
import email.utils
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import botutest  # noqa: E402


class Flow(botutest.ServersTestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="botu-flow-")
        self.list = "lijst-%s@lsabewoners.nl" % self._testMethodName[5:17] \
            .replace("_", "")
        self.conf = self.servers.write_config(
            os.path.join(self.tmp, "botu.conf"),
            {"list": {"name": "Energie community BoTu"}}, user=self.list)
        # The first start remembers where the mailbox is and takes nothing.
        self.run_once()

    def botu(self, *args, check=True):
        out = subprocess.run([botutest.BOTU_BIN, "-c", self.conf] +
                             list(args), capture_output=True, text=True,
                             timeout=120)
        if check and out.returncode != 0:
            self.fail("botu %s: exit %d\n%s%s" % (" ".join(args),
                      out.returncode, out.stdout, out.stderr))
        return out

    def run_once(self):
        return self.botu("run", "--once")

    def members(self):
        return {m["email"]: m for m in
                json.loads(self.botu("members", "list", "--json").stdout)}

    def outbox(self):
        return json.loads(self.botu("outbox", "list", "--json").stdout)

    def deliver(self, sender, msg, to=None):
        """Puts a mail from sender into the list's mailbox and waits."""
        mid = re.search(rb"Message-ID: (<[^>]+>)", msg, re.I).group(1)
        self.servers.send(sender, to or self.list, msg)
        self.servers.wait_for_mail(
            self.list, lambda m: m["Message-ID"] == mid.decode())

    def mail(self, sender, subject, body, headers=None, to=None):
        msg = botutest.make_mail(sender, to or self.list, subject, body,
                                 headers)
        self.deliver(sender, msg, to)
        return msg

    def inbox(self, user):
        return self.servers.fetch_all(user)

    def list_mail(self, uid_flags=None):
        """The list mailbox as (subject, flags) of what is still there."""
        return [(m.msg["Subject"], m.flags) for m in self.inbox(self.list)]

    def reply(self, person, to_msg, body, to=None):
        """Answers to_msg as a mail client does: to Reply-To, "Re:", the
        quoted text, In-Reply-To and References."""
        quoted = "\n".join("> " + line for line in
                           to_msg.get_body(("plain",)).get_content()
                           .splitlines())
        when = email.utils.formatdate(localtime=True)
        text = "%s\n\nOp %s schreef %s:\n%s\n" % (body, when,
                                                  to_msg["From"], quoted)
        headers = {"In-Reply-To": to_msg["Message-ID"],
                   "References": to_msg["Message-ID"]}
        target = to or str(to_msg["Reply-To"] or to_msg["From"])
        addr = email.utils.parseaddr(target)[1]
        msg = botutest.make_mail(person, addr, "Re: " + to_msg["Subject"],
                                 text, headers)
        self.deliver(person, msg, addr)

    # ---- the tests ----

    def test_dutch_sign_up_confirm_welcome_and_one_click_leave(self):
        piet = "piet.jansen@example.org"
        self.mail("Piet Jansen <%s>" % piet, "Nieuwsbrief",
                  "Hoi Annerike,\n\nIk wil graag op de hoogte blijven!\n\n"
                  "Groetjes,\nPiet\n")
        self.run_once()

        confirm = self.servers.wait_for_mail(piet).msg
        self.assertEqual(email.utils.parseaddr(confirm["From"])[1],
                         self.list)
        self.assertIn("Energie community BoTu", confirm["From"])
        token = re.search(r"\[([a-z2-7]{26})\]", confirm["Subject"]).group(1)
        self.assertIn("Bevestig", confirm["Subject"])
        self.assertEqual(email.utils.parseaddr(confirm["Reply-To"])[1],
                         self.list.replace("@", "+bevestig-%s@" % token))
        self.assertEqual(confirm["Auto-Submitted"], "auto-replied")
        self.assertTrue(confirm["In-Reply-To"])
        self.assertIn("List-Id", confirm)
        body = confirm.get_body(("plain",)).get_content()
        # The privacy notice: who, why, how long, how to leave (AVG art. 13).
        for word in ("Energie community BoTu", "afmelden", "bewaart",
                     "Hoe lang", "Waarom"):
            self.assertIn(word, body)
        self.assertEqual(self.members()[piet]["status"], "pending")
        self.assertEqual(self.members()[piet]["name"], "Piet Jansen")
        # The sign-up is done: moved out of the inbox.
        self.assertEqual(self.list_mail(), [])

        self.reply("Piet Jansen <%s>" % piet, confirm, "Ja!")
        self.run_once()
        welcome = self.servers.wait_for_mail(
            piet, lambda m: "[" not in m["Subject"]).msg
        self.assertIn("Welkom", welcome["Subject"])
        member = self.members()[piet]
        self.assertEqual(member["status"], "active")
        self.assertEqual(member["language"], "nl")
        self.assertTrue(member["consent"]["at"])
        self.assertTrue(member["consent"]["message_id"])
        self.assertIn("confirmation", member["consent"]["channel"])

        unsub = re.search(r"<mailto:([^?>]+)", welcome["List-Unsubscribe"])
        self.assertTrue(unsub, welcome["List-Unsubscribe"])
        before = len(self.inbox(piet))
        self.mail(piet, "unsubscribe", "", to=unsub.group(1))
        self.run_once()
        self.assertEqual(self.members()[piet]["status"], "unsubscribed")
        self.servers.wait_queue_empty()
        self.assertEqual(len(self.inbox(piet)), before,
                         "leaving must not send a goodbye mail")

    def test_plain_afmelden_needs_a_confirmation(self):
        lies = "lies@example.org"
        self.botu("members", "add", lies, "--name", "Lies")
        self.mail("Lies <%s>" % lies, "Afmelden", "Graag afmelden.\nLies\n")
        self.run_once()
        ask = self.servers.wait_for_mail(lies).msg
        self.assertRegex(ask["Subject"], r"\[[a-z2-7]{26}\]")
        self.assertEqual(self.members()[lies]["status"], "active")
        self.reply(lies, ask, "Ja")
        self.run_once()
        self.assertEqual(self.members()[lies]["status"], "unsubscribed")

    def test_afmelden_with_trusted_dmarc_pass_acts_at_once(self):
        self.conf = self.servers.write_config(
            self.conf, {"list": {"authserv_id": "mx.botu.test"}},
            user=self.list)
        bas = "bas@example.org"
        self.botu("members", "add", bas)
        self.mail(bas, "Afmelden", "", {
            "Authentication-Results": "mx.botu.test; spf=pass "
            "smtp.mailfrom=example.org; dmarc=pass header.from=example.org"})
        self.run_once()
        self.assertEqual(self.members()[bas]["status"], "unsubscribed")
        self.servers.wait_queue_empty()
        self.assertEqual(self.inbox(bas), [], "no confirmation, no goodbye")
        # A forged header below a real one from another server does not.
        eva = "eva@example.org"
        self.botu("members", "add", eva)
        self.mail(eva, "Afmelden", "", {
            "Authentication-Results": "mx.other.test; dmarc=pass "
            "header.from=example.org"})
        self.run_once()
        self.assertEqual(self.members()[eva]["status"], "active")
        self.servers.wait_for_mail(eva)

    def test_english_sign_up_gets_english_mail(self):
        ann = "ann.smith@example.net"
        self.mail("Ann Smith <%s>" % ann, "Subscribe",
                  "Please subscribe me.\n\nKind regards,\nAnn\n")
        self.run_once()
        confirm = self.servers.wait_for_mail(ann).msg
        self.assertIn("confirm", confirm["Subject"].lower())
        self.reply(ann, confirm, "Yes please")
        self.run_once()
        welcome = self.servers.wait_for_mail(
            ann, lambda m: "[" not in m["Subject"]).msg
        self.assertIn("Welcome", welcome["Subject"])
        self.assertEqual(self.members()[ann]["language"], "en")

    def test_personal_mail_and_out_of_office_stay_untouched(self):
        self.mail("Jan <jan@example.org>", "Buurtborrel",
                  "Hoi! Ik wil me aanmelden voor de buurtborrel. Tot "
                  "vrijdag!\nJan\n")
        self.mail("Els <els@example.org>", "Automatisch antwoord: Aanmelden",
                  "Ik ben tot maandag afwezig.\n",
                  {"Auto-Submitted": "auto-replied"})
        self.run_once()
        self.servers.wait_queue_empty()
        there = self.list_mail()
        self.assertEqual(len(there), 2)
        for subj, flags in there:
            self.assertNotIn("\\Seen", flags, subj)
            self.assertNotIn("$BotuDone", flags, subj)
        self.assertEqual(self.inbox("jan@example.org"), [])
        self.assertEqual(self.inbox("els@example.org"), [])
        self.assertEqual(self.members(), {})
        self.assertEqual(self.outbox(), [])

    def test_forged_confirmation_changes_nothing(self):
        kim = "kim@example.org"
        self.mail(kim, "Aanmelden", "")
        self.run_once()
        self.servers.wait_for_mail(kim)
        forged = "abcdefghijklmnopqrstuvwxyz"
        self.mail("mallory@example.net", "Re: Bevestig je aanmelding [%s]"
                  % forged, "Ja", to=self.list.replace(
                      "@", "+bevestig-%s@" % forged))
        self.run_once()
        self.assertEqual(self.members()[kim]["status"], "pending")
        self.assertNotIn("mallory@example.net", self.members())
        # The forged mail stays for the person who reads the mailbox.
        self.assertEqual(len(self.list_mail()), 1)

    def test_idle_second_cycle_sends_nothing(self):
        self.mail("Bo <bo@example.org>", "Hulp", "")
        self.run_once()
        self.servers.wait_for_mail("bo@example.org")
        sent = len(self.outbox())
        self.run_once()
        self.run_once()
        self.assertEqual(len(self.outbox()), sent)
        self.servers.wait_queue_empty()
        self.assertEqual(len(self.inbox("bo@example.org")), 1)

    def test_twenty_requests_stay_within_the_rate_limit(self):
        for _ in range(20):
            self.mail("Spam <flood@example.org>", "Aanmelden", "")
        self.run_once()
        self.servers.wait_queue_empty()
        got = self.inbox("flood@example.org")
        self.assertGreaterEqual(len(got), 1)
        self.assertLessEqual(len(got), 3)
        # Understood, so moved out of the inbox, but not answered again.
        self.assertEqual(self.list_mail(), [])


if __name__ == "__main__":
    unittest.main()
