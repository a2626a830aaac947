"""The test servers themselves (tests/servers.sh and botutest): every other
integration test relies on what is checked here, so each check also makes
sure it can fail (a wrong CA, a wrong name, no AUTH must be refused)."""
import configparser
import imaplib
import os
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import botutest  # noqa: E402
from botutest import LIST_ADDRESS, make_mail, subject  # noqa: E402


def unique(text):
    """A subject no other test uses, so tests can share mailboxes."""
    return f"{text} {uuid.uuid4().hex[:8]}"


class ServersTest(botutest.ServersTestCase):

    # -------------------------------------------------------- IMAP

    def test_imaps_login_checks_the_certificate(self):
        with self.servers.imap(LIST_ADDRESS) as c:
            self.assertEqual(c.state, "AUTH")
            self.assertIsInstance(c.sock, ssl.SSLSocket)
        # Not trusting the test CA, the same server is refused.
        with self.assertRaises(ssl.SSLCertVerificationError):
            imaplib.IMAP4_SSL("127.0.0.1", self.servers.port("imaps"),
                              ssl_context=ssl.create_default_context(),
                              timeout=10)

    def test_imap_starttls_login(self):
        with self.servers.imap(LIST_ADDRESS, starttls=True) as c:
            self.assertEqual(c.state, "AUTH")
            self.assertIsInstance(c.sock, ssl.SSLSocket)

    def test_wrong_password_is_refused(self):
        c = imaplib.IMAP4_SSL("127.0.0.1", self.servers.port("imaps"),
                              ssl_context=self.servers.ssl_context(),
                              timeout=10)
        with self.assertRaises(imaplib.IMAP4.error):
            c.login(LIST_ADDRESS, "not-the-password")
        c.logout()

    def test_wrong_host_imaps_is_refused(self):
        port = self.servers.port("imaps_wrong")
        with self.assertRaises(ssl.SSLCertVerificationError):
            imaplib.IMAP4_SSL("127.0.0.1", port,
                              ssl_context=self.servers.ssl_context(),
                              timeout=10)
        # The endpoint itself works: it is refused for its name only.
        ctx = self.servers.ssl_context()
        ctx.check_hostname = False
        with imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx,
                               timeout=10) as c:
            c.login(LIST_ADDRESS, self.servers.password)
            self.assertIn("wrong.example",
                          str(c.sock.getpeercert()["subjectAltName"]))

    def test_idle_move_and_keywords(self):
        s = self.servers
        user = "features@botu.test"
        uid = s.append(user, make_mail("a@example.org", user, "features"))
        with s.imap(user) as c:
            typ, _ = c.select("INBOX")
            self.assertEqual(typ, "OK")
            # After login (c.capabilities holds the ones before).
            caps = c.capability()[1][0].split()
            self.assertIn(b"IDLE", caps)
            self.assertIn(b"MOVE", caps)
            permanent = c.untagged_responses.get("PERMANENTFLAGS", [b""])[0]
            self.assertIn(b"\\*", permanent)  # any keyword can be stored
            typ, _ = c.uid("STORE", str(uid), "+FLAGS", "($BotuDone)")
            self.assertEqual(typ, "OK")
            typ, _ = c.uid("MOVE", str(uid), "botu-done")
            self.assertEqual(typ, "NO")  # the mailbox does not exist yet
            c.create("botu-done")
            typ, _ = c.uid("MOVE", str(uid), "botu-done")
            self.assertEqual(typ, "OK")
        moved = s.fetch_all(user, "botu-done")
        self.assertEqual([m.msg["Subject"] for m in moved], ["features"])
        self.assertIn("$BotuDone", moved[0].flags)
        self.assertEqual(s.fetch_all(user), [])

        # IDLE: a mail that arrives meanwhile is announced at once.
        with s.imap(user) as c:
            c.select("INBOX")
            c.send(b"I1 IDLE\r\n")
            self.assertTrue(c.readline().startswith(b"+"))
            s.send("a@example.org", user, make_mail("a@example.org", user,
                                                    "during idle"))
            c.sock.settimeout(10)
            line = c.readline()
            while b"EXISTS" not in line:
                self.assertTrue(line, "connection closed during IDLE")
                line = c.readline()
            c.send(b"DONE\r\n")
            while not line.startswith(b"I1 "):
                line = c.readline()
            self.assertTrue(line.startswith(b"I1 OK"), line)

    def test_doveadm_and_uidvalidity(self):
        s = self.servers
        user = "uidvalidity@botu.test"
        s.append(user, make_mail("a@example.org", user, "one"))
        out = s.doveadm("mailbox", "status", "-u", user, "messages", "INBOX")
        self.assertIn("messages=1", out)
        s.set_uidvalidity(user, 4242)
        with s.imap(user) as c:
            c.select("INBOX", readonly=True)
            self.assertEqual(c.untagged_responses["UIDVALIDITY"], [b"4242"])

    # -------------------------------------------------------- SMTP

    def test_submission_delivers_a_plus_address_once(self):
        s = self.servers
        subj = unique("PS-noot")
        s.submit(LIST_ADDRESS, "piet@example.org", "annerike+ps@lsabewoners.nl",
                 make_mail("piet@example.org", "annerike+ps@lsabewoners.nl",
                           subj))
        mail = s.wait_for_mail(LIST_ADDRESS, subject(subj))
        self.assertEqual(mail.msg["Delivered-To"], "annerike+ps@lsabewoners.nl")
        self.assertEqual(mail.msg["Return-Path"], "<piet@example.org>")
        self.assertNotIn("\\Seen", mail.flags)
        # Exactly once: nothing left in the queue that could still come.
        s.wait_queue_empty()
        same = [m for m in s.fetch_all(LIST_ADDRESS)
                if m.msg["Subject"] == subj]
        self.assertEqual(len(same), 1)

    def test_submissions_with_implicit_tls(self):
        s = self.servers
        subj = unique("implicit TLS")
        s.submit(LIST_ADDRESS, LIST_ADDRESS, "bob@example.net",
                 make_mail(LIST_ADDRESS, "bob@example.net", subj),
                 implicit_tls=True)
        s.wait_for_mail("bob@example.net", subject(subj))

    def test_submission_requires_starttls_and_auth(self):
        s = self.servers
        msg = make_mail(LIST_ADDRESS, "x@outside.invalid", "relay?")
        with smtplib.SMTP("127.0.0.1", s.port("submission"), timeout=10) as c:
            c.ehlo()
            self.assertTrue(c.has_extn("starttls"))
            self.assertFalse(c.has_extn("auth"))  # no AUTH in clear text
            code, _ = c.mail(LIST_ADDRESS)
            self.assertEqual(code, 530)  # STARTTLS first
            c.starttls(context=s.ssl_context())
            c.ehlo()
            self.assertTrue(c.has_extn("auth"))
            # Without AUTH nothing is accepted: not for outside ...
            with self.assertRaises(smtplib.SMTPRecipientsRefused) as e:
                c.sendmail(LIST_ADDRESS, ["x@outside.invalid"], msg)
            code = e.exception.recipients["x@outside.invalid"][0]
            self.assertTrue(500 <= code < 600, code)
            # ... nor for a test domain.
            with self.assertRaises(smtplib.SMTPRecipientsRefused):
                c.sendmail(LIST_ADDRESS, ["bob@example.net"], msg)
            # A wrong password is refused (after Dovecot's 2 s delay). One
            # mechanism: login() would try PLAIN and LOGIN, 2 s each.
            c.user, c.password = LIST_ADDRESS, "not-the-password"
            with self.assertRaises(smtplib.SMTPAuthenticationError):
                c.auth("PLAIN", c.auth_plain)

    def test_wrong_host_submission_is_refused(self):
        s = self.servers
        port = s.port("submission_wrong")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
            with self.assertRaises(ssl.SSLCertVerificationError):
                c.starttls(context=s.ssl_context())
        # The endpoint itself works: it is refused for its name only.
        ctx = s.ssl_context()
        ctx.check_hostname = False
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
            c.starttls(context=ctx)
            c.login(LIST_ADDRESS, s.password)

    def test_outside_domain_bounces_to_the_sender(self):
        s = self.servers
        subj = unique("to the outside")
        s.send("bouncer@example.org", "someone@outside.invalid",
               make_mail("bouncer@example.org", "someone@outside.invalid",
                         subj))
        bounce = s.wait_for_mail("bouncer@example.org")
        self.assertEqual(bounce.msg.get_content_type(), "multipart/report")
        self.assertIn(subj, bounce.msg.as_string())

    def test_config_file(self):
        s = self.servers
        path = s.write_config(os.path.join(s.dir, "botu-test.conf"),
                              {"imap": {"security": "starttls",
                                        "port": s.port("imap")},
                               "smtp": {"ca_file": None}})
        conf = configparser.ConfigParser()
        conf.read(path)
        self.assertEqual(conf["list"]["address"], LIST_ADDRESS)
        self.assertEqual(conf["imap"]["port"], str(s.port("imap")))
        self.assertEqual(conf["imap"]["security"], "starttls")
        self.assertEqual(conf["imap"]["ca_file"], s.ca)
        self.assertNotIn("ca_file", conf["smtp"])
        pwfile = conf["smtp"]["password_file"]
        self.assertEqual(os.stat(pwfile).st_mode & 0o777, 0o600)
        with open(pwfile) as f:
            self.assertEqual(f.readline().strip(), s.password)


class StopTest(botutest.ServersTestCase):

    def test_a_second_instance_and_stop_leaves_nothing(self):
        first = self.servers
        second = botutest.Servers.start()
        try:
            self.assertNotEqual(first.port("imaps"), second.port("imaps"))
            with second.imap("x@example.org"):
                pass
            procs = botutest.instance_processes(second.dir)
            names = " ".join(procs.values())
            for what in ("sbin/dovecot", "/auth", "postfix/sbin/master",
                         "smtpd", "tls-forward.py"):
                self.assertIn(what, names)
        finally:
            t = time.monotonic()
            second.stop()
            took = time.monotonic() - t
        self.assertFalse(os.path.exists(second.dir))
        self.assertEqual(botutest.instance_processes(second.dir), {})
        for pid, cmd in procs.items():
            self.assertFalse(_running(pid, cmd), f"{pid} {cmd} still runs")
        for role in ("imap", "imaps", "smtp", "submission", "imaps_wrong"):
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", second.port(role)), 2)
        # Stopping again, or what never ran, is fine.
        subprocess.run([botutest.SERVERS_SH, "stop", second.dir], check=True)
        # The other instance did not notice.
        with first.imap(LIST_ADDRESS):
            pass
        print(f"\n  stop took {took:.2f} s", file=sys.stderr)


def _running(pid, cmd):
    """Whether pid still runs the same command (a zombie does not run)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rpartition(b")")[2].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            now = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return state != b"Z" and now == cmd


if __name__ == "__main__":
    import unittest
    unittest.main(verbosity=2)
