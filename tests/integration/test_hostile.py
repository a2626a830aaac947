#!/usr/bin/python3
"""Hostile input: mail anyone can write, against the real Dovecot and
Postfix. Each row of the table is one mail in the list's mailbox; after one
`botu run --once` each is handled or set aside (never stuck, never a crash:
the tests run the sanitizer build), what botu stored and shows is safe (no
CR or LF in a stored name, valid UTF-8 in every listing), and what it sends
carries no header the sender smuggled in.

The table (printed at the end; the README's Reliability section quotes it):
  crlf-name      a display name with CR LF and a Bcc: header in it
  crlf-subject   a question whose Subject has CR LF and a Bcc: in it
  sql-name       a sign-up whose name is SQL: quotes, ; and a comment
  sql-subject    a question whose Subject is SQL
  nul-body       NUL octets in the body
  nul-header     a NUL octet in the Subject
  bad-utf8       invalid UTF-8 octets in the name, the Subject and body
  big-body       a 50 MB body
  many-headers   10,000 header fields
"""
import email
import email.header
import email.policy
import email.utils
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import botutest  # noqa: E402


def raw_mail(from_, to, subject, body=b"Hallo.\r\n", extra=b""):
    """A mail as raw bytes: nothing here is checked or encoded."""
    mid = email.utils.make_msgid(domain="botu.test").encode()
    head = (b"From: " + from_ + b"\r\nTo: " + to.encode() +
            b"\r\nSubject: " + subject + b"\r\nDate: " +
            email.utils.formatdate(localtime=True).encode() +
            b"\r\nMessage-ID: " + mid + b"\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n" + extra)
    return head + b"\r\n" + body, mid.decode()


class Hostile(botutest.ServersTestCase):
    def setUp(self):
        parent = os.environ.get("BOTU_TEST_TMP") or None
        self.tmp = tempfile.mkdtemp(prefix="botu-hostile-", dir=parent)
        self.tag = uuid.uuid4().hex[:8]
        self.list = "h-%s@lsabewoners.nl" % self.tag
        self.db = os.path.join(self.tmp, "botu.db")
        self.conf = self.servers.write_config(
            os.path.join(self.tmp, "botu.conf"),
            {"list": {"name": "Energie community BoTu"}}, user=self.list)
        if not os.environ.get("BOTU_TEST_KEEP"):
            self.addCleanup(shutil.rmtree, self.tmp, True)

    def botu(self, *args, check=True):
        out = subprocess.run([botutest.BOTU_BIN, "-c", self.conf] +
                             list(args), capture_output=True, timeout=600,
                             stdin=subprocess.DEVNULL)
        if check and out.returncode != 0:
            self.fail("botu %s: exit %d\n%s" % (
                " ".join(args), out.returncode,
                out.stderr.decode(errors="replace")[-3000:]))
        return out

    def who(self, case):
        return "%s-%s@example.org" % (case, self.tag)

    def test_hostile_mail_is_handled_or_set_aside_never_smuggled(self):
        self.botu("run", "--once")  # the first start takes nothing
        evil = "evil-%s@example.net" % self.tag
        bcc = ("Bcc: %s" % evil).encode()
        L = self.list
        cases = {}

        def add(case, raw_mid):
            cases[case] = raw_mid

        add("crlf-name", raw_mail(
            b"=?utf-8?q?Piet=0D=0A" + bcc.replace(b" ", b"_") +
            b"?= <" + self.who("crlf-name").encode() + b">", L,
            b"Aanmelden"))
        add("crlf-subject", raw_mail(
            self.who("crlf-subject").encode(), L,
            b"=?utf-8?q?Hulp=0D=0A" + bcc.replace(b" ", b"_") + b"?="))
        add("sql-name", raw_mail(
            b"\"Robert'); DROP TABLE members;--\" <" +
            self.who("sql-name").encode() + b">", L, b"Aanmelden"))
        add("sql-subject", raw_mail(
            self.who("sql-subject").encode(), L,
            b"Hulp' OR 1=1; DELETE FROM outbox; --"))
        add("nul-body", raw_mail(
            self.who("nul-body").encode(), L, b"Hulp",
            b"Hoe werkt\x00 dit?\r\n\x00\x00\r\n"))
        add("nul-header", raw_mail(
            self.who("nul-header").encode(), L, b"Hu\x00lp"))
        add("bad-utf8", raw_mail(
            b"Pi\xffet \xc3\x28 <" + self.who("bad-utf8").encode() + b">",
            L, b"Aanmelden \xfe\xff", b"Graag \xe2\x82 lid\r\n"))
        line = b"Dit is een lange regel tekst in een grote mail. " * 2
        add("big-body", raw_mail(
            self.who("big-body").encode(), L, b"Hulp",
            (line + b"\r\n") * (50 * 1024 * 1024 // (len(line) + 2))))
        add("many-headers", raw_mail(
            self.who("many-headers").encode(), L, b"Hulp", b"Hallo.\r\n",
            b"".join(b"X-Filler-%d: waarde %d\r\n" % (i, i)
                     for i in range(10000))))

        appended = {}
        with self.servers.imap(self.list) as c:
            for case, (raw, mid) in cases.items():
                typ, data = c.append("INBOX", None, None, raw)
                appended[case] = (typ == "OK", data)
        self.assertTrue(appended["big-body"][0], appended["big-body"])

        out = self.botu("run", "--once")
        log = out.stderr.decode(errors="replace")

        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            inbound = {r[0]: (r[1], r[2]) for r in con.execute(
                "SELECT message_id, state, coalesce(reason, '') "
                "FROM inbound")}
            subjects = {r[0]: r[1] for r in con.execute(
                "SELECT message_id, coalesce(subject, '') FROM inbound")}
            names = [r[0] for r in con.execute(
                "SELECT coalesce(name, '') FROM members")]
            tables = {r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            ob = con.execute("SELECT rcpt, body FROM outbox").fetchall()
        finally:
            con.close()
        self.assertIn("members", tables)
        self.assertIn("outbox", tables)

        # Every listing is valid JSON in valid UTF-8.
        for args in (("members", "list", "--json"),
                     ("outbox", "list", "--json"), ("status", "--json")):
            json.loads(self.botu(*args).stdout.decode("utf-8"))
        for n in names:
            self.assertNotRegex(n, r"[\r\n\x00]", names)

        # Nothing smuggled into what botu sends, and the Bcc got nothing.
        for rcpt, body in ob:
            head = bytes(body).split(b"\r\n\r\n", 1)[0]
            msg = email.message_from_bytes(head, policy=email.policy.compat32)
            self.assertIsNone(msg["Bcc"], head)
            # A mail program reads one recipient in To, the right one.
            to = email.utils.getaddresses([str(email.header.make_header(
                email.header.decode_header(msg["To"])))]) \
                if "=?" not in msg["To"] else \
                email.utils.getaddresses([msg["To"]])
            self.assertEqual([a.lower() for _, a in to], [rcpt.lower()],
                             msg["To"])
            for line_ in head.split(b"\r\n"):
                self.assertFalse(line_.lower().startswith(b"bcc:"), head)
            self.assertNotIn(b"\x00", bytes(body))
            self.assertNotIn(evil.lower(), rcpt.lower())
        self.servers.wait_queue_empty(timeout=60)
        self.assertEqual(self.servers.fetch_all(evil), [])

        table = []
        for case, (raw, mid) in cases.items():
            if not appended[case][0]:
                table.append((case, "refused by Dovecot's APPEND"))
                continue
            self.assertIn(mid, inbound, "%s: not taken in\n%s"
                          % (case, log[-3000:]))
            state, reason = inbound[mid]
            self.assertIn(state, ("done", "left", "poison", "skipped"),
                          case)
            answered = [r for r, _ in ob if r.lower() ==
                        self.who(case).lower()]
            table.append((case, "%s%s%s" % (
                {"done": "handled", "left": "left for a person",
                 "poison": "set aside", "skipped": "skipped"}[state],
                ", answered" if answered else "",
                " (%s)" % reason[:60] if reason and state != "done"
                else "")))
        # The ones that are a command are handled as usual, safely; the
        # rest is not a command botu knows and stays for a person.
        for case in ("crlf-name", "sql-name", "nul-body", "many-headers"):
            self.assertIn("handled, answered", dict(table)[case], table)
        for case in ("crlf-subject", "sql-subject", "nul-header",
                     "bad-utf8"):
            self.assertIn("left for a person", dict(table)[case], table)
        self.assertIn("set aside", dict(table)["big-body"])
        # Stored as written, SQL and all; the name without its CR LF.
        self.assertIn("Robert'); DROP TABLE members;--", names)
        self.assertIn("DELETE FROM outbox", subjects[cases["sql-subject"][1]])
        crlf = [n for n in names if n.startswith("Piet")]
        self.assertEqual(len(crlf), 1, names)
        print("\n  stored names: %r" % names)
        print("\n  hostile input:")
        for case, what in table:
            print("    %-13s %s" % (case, what))


if __name__ == "__main__":
    unittest.main()
