#!/usr/bin/python3
"""Impersonation, against the real Dovecot and Postfix: someone who writes
in another person's name changes nothing for that person, and gets nothing
back. Each attempt here adds a Reply-To of the attacker, so an answer that
went to the wrong place would show in the attacker's mailbox.

The README's Reliability section has the whole table; the other rows are
tested where their feature is: a forged confirmation token (test_flow.py),
a forged Authentication-Results below the real one (test_flow.py,
tests/unit/test_classify.c), a note with a forged From (test_notes.py), a
forged VERP bounce address (test_bounce.py).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import botutest  # noqa: E402


class Impersonation(botutest.ServersTestCase):
    def setUp(self):
        parent = os.environ.get("BOTU_TEST_TMP") or None
        self.tmp = tempfile.mkdtemp(prefix="botu-imp-", dir=parent)
        tag = uuid.uuid4().hex[:8]
        self.list = "imp-%s@lsabewoners.nl" % tag
        self.victim = "victim-%s@example.org" % tag
        self.mallory = "mallory-%s@example.net" % tag
        self.conf = self.servers.write_config(
            os.path.join(self.tmp, "botu.conf"),
            {"list": {"name": "Energie community BoTu"}}, user=self.list)
        if not os.environ.get("BOTU_TEST_KEEP"):
            self.addCleanup(shutil.rmtree, self.tmp, True)
        self.botu("run", "--once")

    def botu(self, *args):
        out = subprocess.run([botutest.BOTU_BIN, "-c", self.conf] +
                             list(args), capture_output=True, text=True,
                             timeout=120, stdin=subprocess.DEVNULL)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out

    def members(self):
        return {m["email"]: m for m in
                json.loads(self.botu("members", "list", "--json").stdout)}

    def forged(self, subject, body=""):
        """A mail in the victim's name, answers asked to the attacker."""
        raw = botutest.make_mail(self.victim, self.list, subject, body,
                                 {"Reply-To": self.mallory})
        self.servers.append(self.list, raw)
        self.botu("run", "--once")
        self.servers.wait_queue_empty(timeout=30)

    def test_subscribe_someone_else(self):
        self.forged("Aanmelden", "Zet me op de lijst.\n")
        # Only a pending sign-up: nobody is a member before the victim
        # answers the confirmation, which went to the victim.
        self.assertEqual(self.members()[self.victim]["status"], "pending")
        self.assertEqual(len(self.servers.fetch_all(self.victim)), 1)
        self.assertEqual(self.servers.fetch_all(self.mallory), [])

    def test_unsubscribe_someone_else_without_token(self):
        self.botu("members", "add", self.victim)
        self.forged("Afmelden")
        self.assertEqual(self.members()[self.victim]["status"], "active")
        # The question "do you really want to leave?" goes to the member.
        mails = self.servers.fetch_all(self.victim)
        self.assertEqual(len(mails), 1)
        self.assertEqual(self.servers.fetch_all(self.mallory), [])


if __name__ == "__main__":
    unittest.main()
