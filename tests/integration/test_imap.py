#!/usr/bin/python3
"""Integration tests of botu's IMAP client (src/imap.c, src/tls.c).

The client runs as build/tests/imap_driver (tests/integration/imap_driver.c),
which reads commands on stdin and answers with one JSON line each.

ProtoTests point it at scripted servers (tests/integration/proto/proto.py)
that assert the exact client transcript: no LOGIN after a failed certificate
check, no plaintext after a missing STARTTLS, MOVE fallbacks that touch one
UID only, libetpan 1.9.4's IDLE bug, NOOP polling without IDLE.

DovecotTests use the real Dovecot that tests/servers.sh starts (through
tests/integration/lib/botutest.py) and check the results with imaplib.

Run with Debian's /usr/bin/python3: tests/integration/run.sh does.
"""

import base64
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "proto"))
sys.path.insert(0, os.path.join(HERE, "lib"))

import proto  # noqa: E402

try:
    import botutest  # noqa: E402
except ImportError:  # the servers part is not there: DovecotTests skip
    botutest = None

DRIVER = os.environ.get("BOTU_IMAP_DRIVER",
                        os.path.join(ROOT, "build", "tests", "imap_driver"))
PASSWORD = "s3cret-Pass"
USER = "botu"


class Driver:
    """imap_driver as a child: send(cmd) returns its JSON answer."""

    def __init__(self, conf, debug=False):
        cmd = [DRIVER] + (["-d"] if debug else []) + [conf]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     errors="replace")
        self.log = []
        self.logq = queue.Queue()
        self.reader = threading.Thread(target=self._read_log, daemon=True)
        self.reader.start()

    def _read_log(self):
        for line in self.proc.stderr:
            self.log.append(line)
            self.logq.put(line)

    def send(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"imap_driver died at {cmd!r}; stderr:\n"
                                 + "".join(self.log))
        return json.loads(line)

    def start(self, cmd):
        """Sends cmd without waiting; finish() returns its answer."""
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def finish(self):
        return json.loads(self.proc.stdout.readline())

    def wait_log(self, needle, timeout=10):
        """Waits until stderr has a line containing needle."""
        end = time.monotonic() + timeout
        while True:
            if any(needle in line for line in self.log):
                return
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {needle!r} in the log:\n"
                                     + "".join(self.log))
            try:
                self.logq.get(timeout=left)
            except queue.Empty:
                pass

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        log = "".join(self.log)
        # Under ASan a leak or a bad access ends the driver with non-zero.
        if self.proc.returncode != 0:
            raise AssertionError(f"imap_driver exited with "
                                 f"{self.proc.returncode}:\n{log}")
        return log


def write_conf(directory, port, security, ca_file=None, host="127.0.0.1",
               user=USER, password=PASSWORD, auth="password", idle="yes"):
    pw = os.path.join(directory, "imap.pw")
    with open(pw, "w") as f:
        f.write(password + "\n")
    os.chmod(pw, 0o600)
    path = os.path.join(directory, "botu.conf")
    with open(path, "w") as f:
        f.write("[list]\naddress = annerike@lsabewoners.nl\n\n[imap]\n"
                f"host = {host}\nport = {port}\nsecurity = {security}\n"
                f"username = {user}\npassword_file = {pw}\nauth = {auth}\n"
                f"idle = {idle}\n")
        if ca_file:
            f.write(f"ca_file = {ca_file}\n")
    return path


# Server lines shared by the scripts. The login OK carries the capability
# list (RFC 3501 §7.1), so the client needs no CAPABILITY after LOGIN.
def greeting(caps):
    return f"S: * OK [CAPABILITY IMAP4rev1 {caps}] proto.test ready\n"


def login(caps):
    return (f"C: (?P<tag>\\S+) LOGIN {USER} {PASSWORD}\n"
            f"S: ${{tag}} OK [CAPABILITY IMAP4rev1 {caps}] Logged in\n")


SELECT = r"""C: (?P<tag>\S+) SELECT INBOX
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Ok
S: * 3 EXISTS
S: * 0 RECENT
S: * OK [UIDVALIDITY 1234] UIDs valid
S: * OK [UIDNEXT 7] Predicted next UID
S: ${tag} OK [READ-WRITE] Select completed
"""

LOGOUT = r"""C?: (?P<tag>\S+) LOGOUT
S: * BYE Logging out
S: ${tag} OK Logout completed
EXPECT-CLOSE
"""

LIST_FETCH = (r"(?P<tag>\S+) UID FETCH {set} \(UID RFC822\.SIZE INTERNALDATE "
              r"BODY\.PEEK\[HEADER\.FIELDS \(MESSAGE-ID\)\]\)")


class ProtoTests(unittest.TestCase):
    """The exact transcript against scripted servers."""

    @classmethod
    def setUpClass(cls):
        if not os.access(DRIVER, os.X_OK):
            raise unittest.SkipTest(f"{DRIVER} not built (make "
                                    "build/tests/imap_driver)")
        cls.tmp = tempfile.mkdtemp(prefix="botu-imap-proto-")
        cls.certs = proto.make_certs(os.path.join(cls.tmp, "certs"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=self.tmp)

    def run_script(self, script, commands, security="tls", cert="good",
                   debug=False, timeout=15, hook=None, **conf):
        """Plays script against the driver running commands; returns
        (answers, result, transcript, driver log). hook(i, answer, srv)
        runs after each answer."""
        tls = security == "tls"
        srv = proto.ProtoServer(script,
                                cert=getattr(self.certs, cert + "_cert"),
                                key=getattr(self.certs, cert + "_key"),
                                tls_implicit=tls, timeout=timeout)
        with srv:
            path = write_conf(self.dir, srv.port, security, self.certs.ca,
                              **conf)
            drv = Driver(path, debug=debug)
            try:
                answers = []
                for i, c in enumerate(commands):
                    answers.append(drv.send(c))
                    if hook:
                        hook(i, answers[-1], srv)
            finally:
                log = drv.close()
            result = srv.wait()
            return answers, result, srv.transcript_text(), log

    def assertPassed(self, result, transcript):
        self.assertTrue(result["ok"], f"{result['error']}\n{transcript}")

    # -- certificates: no LOGIN unless the chain is good for the host -----

    def check_refused_cert(self, cert, needle, security="tls"):
        script = ""
        if security == "starttls":
            script = (greeting("STARTTLS LOGINDISABLED") +
                      "C: (?P<tag>\\S+) STARTTLS\n"
                      "S: ${tag} OK Begin TLS negotiation now\nTLS\n")
        else:
            script = greeting("AUTH=PLAIN")
        # The client reads the greeting, checks, and hangs up: no LOGIN,
        # not even a LOGOUT on a connection it does not trust.
        script += "EXPECT-CLOSE 5\n"
        answers, result, tr, _ = self.run_script(
            script, ["connect"], security=security, cert=cert)
        self.assertPassed(result, tr)
        self.assertEqual(answers[0]["status"], "ECONFIG", answers[0])
        self.assertIn(needle, answers[0]["err"])
        self.assertNotIn("LOGIN", "\n".join(
            line for line in tr.splitlines() if line.startswith("C:")))
        self.assertIn("TLS: handshake ok", tr)
        self.assertTrue(tr.rstrip().endswith("C: <closed>"), tr)

    def test_wrong_host_cert_no_login(self):
        self.check_refused_cert(
            "wrong", "the certificate is for wrong.example, not 127.0.0.1")

    def test_untrusted_cert_no_login(self):
        self.check_refused_cert("untrusted", "issuer unknown")

    @unittest.skipUnless(shutil.which("faketime"), "needs faketime")
    def test_expired_cert_no_login(self):
        self.check_refused_cert("expired", "expired")

    def test_wrong_host_cert_starttls_no_login(self):
        self.check_refused_cert(
            "wrong", "the certificate is for wrong.example, not 127.0.0.1",
            security="starttls")

    # -- STARTTLS: never on in plain text ---------------------------------

    def test_starttls_not_offered_no_login(self):
        script = greeting("AUTH=PLAIN IDLE") + "EXPECT-CLOSE 5\n"
        answers, result, tr, _ = self.run_script(script, ["connect"],
                                                 security="starttls")
        self.assertPassed(result, tr)
        self.assertEqual(answers[0]["status"], "ECONFIG")
        self.assertIn("does not offer STARTTLS", answers[0]["err"])
        self.assertEqual(len([x for x in tr.splitlines()
                              if x.startswith("C:")]), 1, tr)

    def test_starttls_not_offered_greeting_without_caps(self):
        script = ("S: * OK proto.test ready\n"
                  "C: (?P<tag>\\S+) CAPABILITY\n"
                  "S: * CAPABILITY IMAP4rev1 AUTH=PLAIN\n"
                  "S: ${tag} OK done\n"
                  "EXPECT-CLOSE 5\n")
        answers, result, tr, _ = self.run_script(script, ["connect"],
                                                 security="starttls")
        self.assertPassed(result, tr)
        self.assertEqual(answers[0]["status"], "ECONFIG")

    def test_starttls_refused_no_login(self):
        script = (greeting("STARTTLS AUTH=PLAIN") +
                  "C: (?P<tag>\\S+) STARTTLS\n"
                  "S: ${tag} NO TLS is broken today\n"
                  "EXPECT-CLOSE 5\n")
        answers, result, tr, _ = self.run_script(script, ["connect"],
                                                 security="starttls")
        self.assertPassed(result, tr)
        self.assertEqual(answers[0]["status"], "ECONFIG", answers[0])
        self.assertIn("TLS is broken today", answers[0]["err"])

    def test_starttls_preauth_refused(self):
        script = "S: * PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] hi\n" \
                 "EXPECT-CLOSE 5\n"
        answers, result, tr, _ = self.run_script(script, ["connect"],
                                                 security="starttls")
        self.assertPassed(result, tr)
        self.assertEqual(answers[0]["status"], "ECONFIG")
        self.assertIn("PREAUTH", answers[0]["err"])

    def test_starttls_refetches_capabilities(self):
        # Before TLS an attacker may add or remove anything; only the list
        # asked for over TLS counts: MOVE here is a lie, IDLE is real.
        script = (greeting("STARTTLS MOVE UIDPLUS AUTH=PLAIN") +
                  "C: (?P<tag>\\S+) STARTTLS\n"
                  "S: ${tag} OK Begin TLS negotiation now\nTLS\n"
                  "C: (?P<tag>\\S+) CAPABILITY\n"
                  "S: * CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN\n"
                  "S: ${tag} OK done\n" +
                  login("IDLE") + LOGOUT)
        answers, result, tr, _ = self.run_script(
            script, ["connect", "logout"], security="starttls")
        self.assertPassed(result, tr)
        self.assertEqual(answers[0]["status"], "OK", answers[0])
        self.assertEqual(answers[0]["caps"],
                         {"idle": 1, "move": 0, "uidplus": 0})

    def test_tcp_keepalive_is_on(self):
        # libetpan 1.9.4 sets none; imap.c does, so a dead peer is noticed
        # during a long IDLE. ss shows the socket's keepalive timer.
        seen = []

        def look(i, answer, srv):
            if i == 0:
                out = subprocess.run(
                    ["ss", "-tnoH", "state", "established",
                     f"( dport = :{srv.port} )"], stdout=subprocess.PIPE,
                    text=True).stdout
                seen.append(out)

        script = greeting("AUTH=PLAIN") + login("UIDPLUS") + LOGOUT
        answers, result, tr, _ = self.run_script(
            script, ["connect", "logout"], hook=look)
        self.assertPassed(result, tr)
        self.assertEqual(answers[0]["status"], "OK")
        # ss writes a timer of a whole minute as "1min".
        self.assertRegex(seen[0], r"timer:\(keepalive,((59|60)sec|1min,)")

    def test_logindisabled_no_login(self):
        script = greeting("LOGINDISABLED AUTH=PLAIN") + "EXPECT-CLOSE 5\n"
        answers, result, tr, _ = self.run_script(script, ["connect"])
        self.assertPassed(result, tr)
        self.assertEqual(answers[0]["status"], "ECONFIG")
        self.assertIn("LOGINDISABLED", answers[0]["err"])

    def test_login_refused_is_eauth_with_server_text(self):
        script = (greeting("AUTH=PLAIN") +
                  f"C: (?P<tag>\\S+) LOGIN {USER} {PASSWORD}\n"
                  "S: ${tag} NO [AUTHENTICATIONFAILED] Authentication "
                  "failed.\n" + LOGOUT)
        answers, result, tr, _ = self.run_script(script, ["connect"])
        self.assertPassed(result, tr)
        self.assertEqual(answers[0]["status"], "EAUTH")
        self.assertIn("Authentication failed.", answers[0]["err"])

    def test_xoauth2(self):
        script = (greeting("AUTH=PLAIN AUTH=XOAUTH2") +
                  "C: (?P<tag>\\S+) AUTHENTICATE XOAUTH2 (?P<ir>\\S+)\n"
                  "S: ${tag} OK [CAPABILITY IMAP4rev1 UIDPLUS] Hello\n" +
                  LOGOUT)
        answers, result, tr, log = self.run_script(
            script, ["connect", "logout"], auth="xoauth2", debug=True)
        self.assertPassed(result, tr)
        self.assertEqual(answers[0]["status"], "OK", answers[0])
        # The SASL initial response of XOAUTH2 carries the token.
        ir = base64.b64decode(result["vars"]["ir"]).decode()
        self.assertEqual(ir, f"user={USER}\x01auth=Bearer {PASSWORD}"
                         "\x01\x01")
        self.assertNotIn(result["vars"]["ir"], log)

    def test_xoauth2_refused_is_eauth(self):
        # The server's error comes as a continuation; the client answers
        # with an empty line and gets the NO.
        script = (greeting("AUTH=XOAUTH2") +
                  "C: (?P<tag>\\S+) AUTHENTICATE XOAUTH2 \\S+\n"
                  "S: + eyJzdGF0dXMiOiI0MDEifQ==\n"
                  "C: \n"
                  "S: ${tag} NO [AUTHENTICATIONFAILED] Invalid "
                  "credentials (Failure)\n" + LOGOUT)
        answers, result, tr, _ = self.run_script(script, ["connect"],
                                                 auth="xoauth2")
        self.assertPassed(result, tr)
        self.assertEqual(answers[0]["status"], "EAUTH", answers[0])
        self.assertIn("Invalid credentials", answers[0]["err"])

    def test_xoauth2_not_offered(self):
        script = greeting("AUTH=PLAIN") + "EXPECT-CLOSE 5\n"
        answers, result, tr, _ = self.run_script(script, ["connect"],
                                                 auth="xoauth2")
        self.assertPassed(result, tr)
        self.assertEqual(answers[0]["status"], "ECONFIG", answers[0])
        self.assertIn("AUTH=XOAUTH2", answers[0]["err"])

    def test_capability_after_login_when_ok_has_none(self):
        # RFC 3501 §6.2.3: the list may change after login; here MOVE
        # comes only then.
        script = (greeting("AUTH=PLAIN") +
                  f"C: (?P<tag>\\S+) LOGIN {USER} {PASSWORD}\n"
                  "S: ${tag} OK Logged in\n"
                  "C: (?P<tag>\\S+) CAPABILITY\n"
                  "S: * CAPABILITY IMAP4rev1 MOVE UIDPLUS\n"
                  "S: ${tag} OK done\n" + LOGOUT)
        answers, result, tr, _ = self.run_script(script,
                                                 ["connect", "logout"])
        self.assertPassed(result, tr)
        self.assertEqual(answers[0]["caps"],
                         {"idle": 0, "move": 1, "uidplus": 1})

    def test_debug_trace_hides_password_and_bodies(self):
        body = ("Message-ID: <x1@example.org>\r\nSubject: private\r\n\r\n"
                "the secret body text\r\n")
        script = (greeting("AUTH=PLAIN") + login("UIDPLUS") + SELECT +
                  "SET msg <<END\n" + body.replace("\r\n", "\n") + "END\n"
                  r"C: (?P<tag>\S+) UID FETCH 5 \(UID RFC822\.SIZE\)" "\n"
                  "S: * 1 FETCH (UID 5 RFC822.SIZE ${#msg})\n"
                  "S: ${tag} OK done\n"
                  r"C: (?P<tag>\S+) UID FETCH 5 \(UID BODY\.PEEK\[\]\)" "\n"
                  "S: * 1 FETCH (UID 5 BODY[] {${#msg}}\n"
                  "S: ${msg})\n"
                  "S: ${tag} OK done\n" + LOGOUT)
        answers, result, tr, log = self.run_script(
            script, ["connect", "select INBOX", "fetch 5", "logout"],
            debug=True)
        self.assertPassed(result, tr)
        self.assertEqual(answers[2]["data"], body)
        self.assertNotIn(PASSWORD, log)
        self.assertNotIn("secret body", log)
        self.assertIn("octets of login not shown", log)
        self.assertIn(f"[{len(body)} octets not shown]", log)
        self.assertIn("SELECT INBOX", log)

    # -- listing and fetching ---------------------------------------------

    def test_list_filters_highest_uid_and_reads_message_ids(self):
        hdr = {
            "6": "Message-ID: <six@example.org>\r\n\r\n",
            "8": "message-id:\r\n  <eight.folded@example.org>\r\n\r\n",
            "9": "Message-Id: <not a valid id>\r\n\r\n",
            "10": "\r\n",
            "11": "Message-ID: junk <first@x> <second@x>\r\n\r\n",
        }
        script = greeting("AUTH=PLAIN") + login("UIDPLUS") + SELECT
        for k, v in hdr.items():
            script += f"SET h{k} <<END\n" + v.replace("\r\n", "\n") + "END\n"
        script += (
            # Nothing new: 7:* still matches UID 6 (RFC 3501 §6.4.8).
            "C: " + LIST_FETCH.format(set=r"7:\*") + "\n"
            "S: * 3 FETCH (UID 6 RFC822.SIZE 300 INTERNALDATE "
            "\"17-Jul-1996 02:44:25 -0700\" BODY[HEADER.FIELDS (MESSAGE-ID)]"
            " {${#h6}}\n"
            "S: ${h6})\n"
            "S: ${tag} OK Fetch completed\n"
            "C: " + LIST_FETCH.format(set=r"6:\*") + "\n"
            # Unsolicited flag news of another message comes in between.
            "S: * 1 FETCH (FLAGS (\\Seen))\n")
        for seq, uid in ((5, "11"), (4, "10"), (3, "9"), (2, "8")):
            script += (f"S: * {seq} FETCH (UID {uid} RFC822.SIZE 1{uid} "
                       "INTERNALDATE \"01-Jan-2024 00:00:00 +0000\" "
                       "BODY[HEADER.FIELDS (MESSAGE-ID)] {${#h" + uid +
                       "}}\nS: ${h" + uid + "})\n")
        script += "S: ${tag} OK Fetch completed\n" + LOGOUT
        answers, result, tr, _ = self.run_script(
            script, ["connect", "select INBOX", "list 6", "list 5",
                     "logout"])
        self.assertPassed(result, tr)
        sel = answers[1]
        self.assertEqual((sel["uidvalidity"], sel["uidnext"], sel["exists"],
                          sel["keywords"], sel["read_only"]),
                         (1234, 7, 3, 1, 0))
        self.assertEqual(answers[2]["messages"], [])
        got = answers[3]["messages"]
        self.assertEqual([m["uid"] for m in got], [8, 9, 10, 11])
        self.assertEqual([m["size"] for m in got], [18, 19, 110, 111])
        self.assertEqual([m["message_id"] for m in got],
                         ["<eight.folded@example.org>", None, None,
                          "<first@x>"])
        self.assertEqual(got[0]["internaldate"], 1704067200)

    def test_internaldate_zone(self):
        script = (greeting("AUTH=PLAIN") + login("UIDPLUS") + SELECT +
                  "C: " + LIST_FETCH.format(set=r"1:\*") + "\n"
                  "S: * 1 FETCH (UID 3 RFC822.SIZE 10 INTERNALDATE "
                  "\"17-Jul-1996 02:44:25 -0730\" "
                  "BODY[HEADER.FIELDS (MESSAGE-ID)] \"\")\n"
                  "S: ${tag} OK Fetch completed\n" + LOGOUT)
        answers, result, tr, _ = self.run_script(
            script, ["connect", "select INBOX", "list 0", "logout"])
        self.assertPassed(result, tr)
        # 1996-07-17 02:44:25 -07:30 is 10:14:25 UTC.
        self.assertEqual(answers[2]["messages"][0]["internaldate"],
                         837598465)

    def test_fetch_refuses_large_message_without_fetching_it(self):
        script = (greeting("AUTH=PLAIN") + login("UIDPLUS") + SELECT +
                  r"C: (?P<tag>\S+) UID FETCH 5 \(UID RFC822\.SIZE\)" "\n"
                  "S: * 1 FETCH (UID 5 RFC822.SIZE 2000)\n"
                  "S: ${tag} OK done\n" + LOGOUT)
        answers, result, tr, _ = self.run_script(
            script, ["connect", "select INBOX", "fetch 5 1000", "logout"])
        self.assertPassed(result, tr)
        self.assertEqual(answers[2]["status"], "EPERM")
        self.assertIn("2000 octets", answers[2]["err"])

    def test_fetch_expunged_is_eperm_and_connection_stays(self):
        script = (greeting("AUTH=PLAIN") + login("UIDPLUS") + SELECT +
                  r"C: (?P<tag>\S+) UID FETCH 5 \(UID RFC822\.SIZE\)" "\n"
                  "S: ${tag} OK done\n"
                  r"C: (?P<tag>\S+) NOOP" "\n"
                  "S: ${tag} OK done\n" + LOGOUT)
        answers, result, tr, _ = self.run_script(
            script, ["connect", "select INBOX", "fetch 5", "noop", "logout"])
        self.assertPassed(result, tr)
        self.assertEqual(answers[2]["status"], "EPERM")
        self.assertIn("gone", answers[2]["err"])
        self.assertEqual(answers[3]["status"], "OK")

    def test_bad_is_eperm_but_foreign_tag_is_econn(self):
        script = (greeting("AUTH=PLAIN") + login("UIDPLUS") + SELECT +
                  r"C: (?P<tag>\S+) UID FETCH 5 \(UID RFC822\.SIZE\)" "\n"
                  "S: ${tag} BAD Error in IMAP command\n"
                  r"C: (?P<tag>\S+) NOOP" "\n"
                  "S: 999 OK not your tag\n"
                  "EXPECT-CLOSE 5\n")
        answers, result, tr, _ = self.run_script(
            script, ["connect", "select INBOX", "fetch 5", "noop", "noop"])
        self.assertPassed(result, tr)
        self.assertEqual(answers[2]["status"], "EPERM")
        self.assertIn("Error in IMAP command", answers[2]["err"])
        self.assertEqual(answers[3]["status"], "ECONN")
        self.assertEqual(answers[4]["status"], "ECONN")
        self.assertIn("not connected", answers[4]["err"])

    # -- moving: one UID only, never a plain EXPUNGE ----------------------

    def test_move_with_move(self):
        script = (greeting("AUTH=PLAIN") + login("MOVE UIDPLUS") + SELECT +
                  r"C: (?P<tag>\S+) UID MOVE 5 botu-done" "\n"
                  "S: * OK [COPYUID 1234 5 1] Moved\n"
                  "S: * 2 EXPUNGE\n"
                  "S: ${tag} OK Move completed\n" + LOGOUT)
        answers, result, tr, _ = self.run_script(
            script, ["connect", "select INBOX", "move 5 botu-done", "logout"])
        self.assertPassed(result, tr)
        self.assertEqual(answers[2]["status"], "OK", answers[2])

    def test_move_without_move_and_uidplus_changes_nothing(self):
        script = (greeting("AUTH=PLAIN") + login("IDLE") + SELECT + LOGOUT)
        answers, result, tr, _ = self.run_script(
            script, ["connect", "select INBOX", "move 5 botu-done", "logout"])
        self.assertPassed(result, tr)
        self.assertEqual(answers[2]["status"], "EPERM")
        self.assertIn("neither MOVE nor UIDPLUS", answers[2]["err"])
        sent = [x for x in tr.splitlines() if x.startswith("C: ")]
        self.assertFalse(any("COPY" in x or "STORE" in x or "EXPUNGE" in x
                             for x in sent), tr)

    def test_move_with_uidplus_only(self):
        script = (greeting("AUTH=PLAIN") + login("UIDPLUS") + SELECT +
                  r"C: (?P<tag>\S+) UID COPY 5 botu-done" "\n"
                  "S: ${tag} OK [COPYUID 1234 5 1] Copy completed\n"
                  r"C: (?P<tag>\S+) UID STORE 5 \+FLAGS\.SILENT \(\\Deleted\)"
                  "\n"
                  "S: ${tag} OK Store completed\n"
                  r"C: (?P<tag>\S+) UID EXPUNGE 5" "\n"
                  "S: * 2 EXPUNGE\n"
                  "S: ${tag} OK Expunge completed\n" + LOGOUT)
        answers, result, tr, _ = self.run_script(
            script, ["connect", "select INBOX", "move 5 botu-done", "logout"])
        self.assertPassed(result, tr)
        self.assertEqual(answers[2]["status"], "OK", answers[2])

    def test_move_copy_refused_stops_there(self):
        script = (greeting("AUTH=PLAIN") + login("UIDPLUS") + SELECT +
                  r"C: (?P<tag>\S+) UID COPY 5 botu-done" "\n"
                  "S: ${tag} NO [TRYCREATE] Mailbox doesn't exist\n" +
                  LOGOUT)
        answers, result, tr, _ = self.run_script(
            script, ["connect", "select INBOX", "move 5 botu-done", "logout"])
        self.assertPassed(result, tr)
        self.assertEqual(answers[2]["status"], "EPERM")
        self.assertIn("Mailbox doesn't exist", answers[2]["err"])

    def test_keyword_and_ensure_mailbox(self):
        script = (greeting("AUTH=PLAIN") + login("UIDPLUS") + SELECT +
                  r"C: (?P<tag>\S+) UID STORE 5 \+FLAGS\.SILENT \(\$BotuDone\)"
                  "\n"
                  "S: ${tag} OK Store completed\n"
                  r"C: (?P<tag>\S+) UID FETCH 5 \(UID FLAGS\)" "\n"
                  "S: * 2 FETCH (UID 5 FLAGS ($botudone \\Seen))\n"
                  "S: ${tag} OK done\n"
                  r"C: (?P<tag>\S+) LIST \"\" \"?botu-done\"?" "\n"
                  "S: ${tag} OK List completed\n"
                  r"C: (?P<tag>\S+) CREATE \"?botu-done\"?" "\n"
                  "S: ${tag} NO [ALREADYEXISTS] Mailbox already exists\n"
                  r"C: (?P<tag>\S+) LIST \"\" \"?Archive\"?" "\n"
                  "S: * LIST (\\HasNoChildren) \".\" Archive\n"
                  "S: ${tag} OK List completed\n" + LOGOUT)
        answers, result, tr, _ = self.run_script(
            script, ["connect", "select INBOX", "keyword 5 $BotuDone",
                     "has 5 $BotuDone", "ensure botu-done", "ensure Archive",
                     "keyword 5 \\Seen", "logout"])
        self.assertPassed(result, tr)
        self.assertEqual([a["rc"] for a in answers[2:6]], [0, 1, 0, 0])
        # \Seen is no keyword: refused before anything is sent.
        self.assertEqual(answers[6]["status"], "EDATA")

    # -- waiting -----------------------------------------------------------

    def test_idle_news_in_same_segment_as_continuation(self):
        # libetpan 1.9.4 reads "* 2 EXISTS" together with "+ idling"; a
        # client that only polls the socket would sleep the whole timeout.
        script = (greeting("AUTH=PLAIN") + login("IDLE UIDPLUS") + SELECT +
                  "C: (?P<idle>\\S+) IDLE\n"
                  "S+: + idling\n"
                  "S: * 4 EXISTS\n"
                  "WITHIN 2\n"
                  "C: DONE\n"
                  "S: ${idle} OK Idle completed\n"
                  "WITHIN 0\n" + LOGOUT)
        answers, result, tr, _ = self.run_script(
            script, ["connect", "select INBOX", "wait 20", "logout"],
            timeout=30)
        self.assertPassed(result, tr)
        self.assertEqual(answers[2]["rc"], 1, answers[2])
        self.assertLess(answers[2]["elapsed"], 2)

    def test_idle_untagged_before_continuation_gives_up_soon(self):
        # libetpan 1.9.4 waits for "+" until the stream times out when
        # "* 4 EXISTS" comes first (§1.7 bug 2, libetpan#393): imap.c keeps
        # that wait at 10 s and then reports the connection as broken, so
        # the caller reconnects and lists; it must not take 60 s.
        script = (greeting("AUTH=PLAIN") + login("IDLE UIDPLUS") + SELECT +
                  "C: (?P<idle>\\S+) IDLE\n"
                  "S: * 4 EXISTS\n"
                  "S: + idling\n"
                  "C?: DONE\n"
                  "S: ${idle} OK Idle completed\n" + LOGOUT)
        answers, result, tr, _ = self.run_script(
            script, ["connect", "select INBOX", "wait 60", "noop"],
            timeout=30)
        self.assertPassed(result, tr)
        if answers[2]["rc"] != 1:
            self.assertEqual(answers[2]["status"], "ECONN", answers[2])
            self.assertLess(answers[2]["elapsed"], 12)
            self.assertEqual(answers[3]["status"], "ECONN")

    def test_idle_news_later(self):
        script = (greeting("AUTH=PLAIN") + login("IDLE UIDPLUS") + SELECT +
                  "C: (?P<idle>\\S+) IDLE\n"
                  "S: + idling\n"
                  "SLEEP 1\n"
                  "S: * 4 EXISTS\n"
                  "WITHIN 2\n"
                  "C: DONE\n"
                  "S: ${idle} OK Idle completed\n"
                  "WITHIN 0\n" + LOGOUT)
        answers, result, tr, _ = self.run_script(
            script, ["connect", "select INBOX", "wait 20", "logout"],
            timeout=30)
        self.assertPassed(result, tr)
        self.assertEqual(answers[2]["rc"], 1, answers[2])
        self.assertGreaterEqual(answers[2]["elapsed"], 0.9)
        self.assertLess(answers[2]["elapsed"], 3)

    def test_idle_timeout_and_wake(self):
        script = (greeting("AUTH=PLAIN") + login("IDLE UIDPLUS") + SELECT +
                  "C: (?P<idle>\\S+) IDLE\n"
                  "S: + idling\n"
                  "C: DONE\n"
                  "S: ${idle} OK Idle completed\n"
                  "C: (?P<idle>\\S+) IDLE\n"
                  "S: + idling\n"
                  "C: DONE\n"
                  "S: ${idle} OK Idle completed\n" + LOGOUT)
        answers, result, tr, _ = self.run_script(
            script, ["connect", "select INBOX", "wait 1", "wait 20 300",
                     "logout"], timeout=30)
        self.assertPassed(result, tr)
        self.assertEqual(answers[2]["rc"], 0, answers[2])
        self.assertGreaterEqual(answers[2]["elapsed"], 0.9)
        self.assertEqual(answers[3]["rc"], 2, answers[3])
        self.assertLess(answers[3]["elapsed"], 2)

    def test_idle_refused_is_econn(self):
        script = (greeting("AUTH=PLAIN") + login("IDLE UIDPLUS") + SELECT +
                  "C: (?P<idle>\\S+) IDLE\n"
                  "S: ${idle} NO not today\n"
                  "EXPECT-CLOSE 5\n")
        answers, result, tr, _ = self.run_script(
            script, ["connect", "select INBOX", "wait 5"])
        self.assertPassed(result, tr)
        self.assertEqual(answers[2]["status"], "ECONN", answers[2])

    def test_no_idle_polls_with_noop(self):
        script = (greeting("AUTH=PLAIN") + login("UIDPLUS") + SELECT +
                  "EXPECT-NOTHING 0.8\n"
                  "C: (?P<tag>\\S+) NOOP\n"
                  "S: * 4 EXISTS\n"
                  "S: ${tag} OK NOOP completed\n" + LOGOUT)
        answers, result, tr, _ = self.run_script(
            script, ["connect", "select INBOX", "wait 1", "logout"])
        self.assertPassed(result, tr)
        self.assertEqual(answers[2]["rc"], 1, answers[2])
        self.assertGreaterEqual(answers[2]["elapsed"], 0.9)

    def test_idle_off_in_config_polls_with_noop(self):
        script = (greeting("AUTH=PLAIN") + login("IDLE UIDPLUS") + SELECT +
                  "C: (?P<tag>\\S+) NOOP\n"
                  "S: ${tag} OK NOOP completed\n" + LOGOUT)
        answers, result, tr, _ = self.run_script(
            script, ["connect", "select INBOX", "wait 1", "logout"],
            idle="no")
        self.assertPassed(result, tr)
        self.assertEqual(answers[2]["rc"], 1, answers[2])

    def test_signal_during_command_keeps_connection(self):
        # libetpan 1.9.4 takes EINTR in its select() for a broken stream;
        # the driver's timer signal arrives while the server still thinks
        # about the NOOP, and the session must survive it.
        script = (greeting("AUTH=PLAIN") + login("UIDPLUS") + SELECT +
                  "C: (?P<tag>\\S+) NOOP\n"
                  "SLEEP 1\n"
                  "S: ${tag} OK NOOP completed\n"
                  "C: (?P<tag>\\S+) NOOP\n"
                  "S: ${tag} OK NOOP completed\n" + LOGOUT)
        answers, result, tr, _ = self.run_script(
            script, ["connect", "select INBOX", "wait 1 1500", "noop",
                     "logout"])
        self.assertPassed(result, tr)
        self.assertEqual(answers[2]["rc"], 1, answers[2])
        self.assertGreaterEqual(answers[2]["elapsed"], 1.9)
        self.assertEqual(answers[3]["status"], "OK", answers[3])

    def test_no_idle_wake_skips_noop(self):
        # The LOGOUT after the wait is the next line: no NOOP in between.
        script = (greeting("AUTH=PLAIN") + login("UIDPLUS") + SELECT +
                  LOGOUT)
        answers, result, tr, _ = self.run_script(
            script, ["connect", "select INBOX", "wait 20 200", "logout"])
        self.assertPassed(result, tr)
        self.assertEqual(answers[2]["rc"], 2, answers[2])
        self.assertLess(answers[2]["elapsed"], 1)


# ---------------------------------------------------------------- Dovecot

MESSAGE = ("From: Annerike <annerike@lsabewoners.nl>\r\n"
           "To: buurt@lsabewoners.nl\r\n"
           "Subject: {subject}\r\n"
           "Message-ID: <{mid}@lsabewoners.nl>\r\n"
           "Date: Mon, 1 Jan 2024 10:00:00 +0100\r\n"
           "\r\n"
           "{body}\r\n")


class DovecotTests(botutest.ServersTestCase if botutest else unittest.TestCase):
    """Against the real Dovecot of tests/servers.sh, checked with imaplib."""

    counter = 0

    @classmethod
    def setUpClass(cls):
        if not os.access(DRIVER, os.X_OK):
            raise unittest.SkipTest(f"{DRIVER} not built")
        if botutest is None:
            raise unittest.SkipTest("tests/integration/lib/botutest.py "
                                    "is missing")
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="botu-imap-dovecot-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        # Any user logs in (static passdb) and gets a fresh Maildir: one
        # user per test keeps the tests apart.
        DovecotTests.counter += 1
        self.user = (f"imap{os.getpid()}x{DovecotTests.counter}"
                     "@botu.test")
        self.dir = tempfile.mkdtemp(dir=self.tmp)
        self.drivers = []

    def tearDown(self):
        for d in self.drivers:
            d.close()

    def driver(self, debug=False, port="imaps", security="tls",
               host="127.0.0.1", password=None):
        path = write_conf(self.dir, self.servers.port(port), security,
                          self.servers.ca, host=host, user=self.user,
                          password=password or self.servers.password)
        d = Driver(path, debug=debug)
        self.drivers.append(d)
        return d

    def connected(self, **kw):
        d = self.driver(**kw)
        a = d.send("connect")
        self.assertEqual(a["status"], "OK", a)
        return d

    def append(self, mid, body="Hoi allemaal", flags=()):
        """Puts a message into the user's INBOX; returns (uid, text)."""
        text = MESSAGE.format(subject="hallo", mid=mid, body=body)
        return self.servers.append(self.user, text.encode(),
                                   flags=flags), text

    def mails(self, mailbox="INBOX"):
        return self.servers.fetch_all(self.user, mailbox)

    def flags(self, uid):
        return [m.flags for m in self.mails() if m.uid == uid][0]

    # -- TLS and login -------------------------------------------------------

    def test_login_imaps(self):
        a = self.driver().send("connect")
        self.assertEqual(a["status"], "OK", a)
        self.assertEqual(a["caps"], {"idle": 1, "move": 1, "uidplus": 1})

    def test_login_imaps_by_name(self):
        # localhost: the DNS name entry of the certificate, and SNI.
        a = self.driver(host="localhost").send("connect")
        self.assertEqual(a["status"], "OK", a)

    def test_login_starttls(self):
        d = self.driver(debug=True, port="imap", security="starttls")
        a = d.send("connect")
        self.assertEqual(a["status"], "OK", a)
        self.assertEqual(a["caps"], {"idle": 1, "move": 1, "uidplus": 1})
        d.send("logout")
        self.drivers.remove(d)
        log = d.close()
        self.assertIn("STARTTLS", log)
        self.assertIn("octets of login not shown", log)
        self.assertNotIn(self.servers.password, log)

    def test_wrong_host_refused(self):
        a = self.driver(port="imaps_wrong").send("connect")
        self.assertEqual(a["status"], "ECONFIG", a)
        self.assertIn("the certificate is for wrong.example, not 127.0.0.1",
                      a["err"])

    def test_wrong_password_is_eauth(self):
        a = self.driver(password="not-the-password").send("connect")
        self.assertEqual(a["status"], "EAUTH", a)
        self.assertIn("Authentication failed", a["err"])

    # -- reading leaves mail unseen ------------------------------------------

    def test_list_and_fetch_leave_messages_unseen(self):
        u1, t1 = self.append("one", body="eerste")
        u2, t2 = self.append("two", body="tweede " * 50)
        d = self.connected()
        sel = d.send("select INBOX")
        self.assertEqual(sel["status"], "OK", sel)
        self.assertEqual((sel["exists"], sel["uidnext"], sel["keywords"]),
                         (2, u2 + 1, 1))
        self.assertGreater(sel["uidvalidity"], 0)
        lst = d.send("list 0")
        self.assertEqual([(m["uid"], m["size"], m["message_id"])
                          for m in lst["messages"]],
                         [(u1, len(t1), "<one@lsabewoners.nl>"),
                          (u2, len(t2), "<two@lsabewoners.nl>")])
        self.assertEqual(d.send(f"fetch {u1}")["data"], t1)
        self.assertEqual(d.send(f"fetch {u2}")["data"], t2)
        for m in self.mails():
            self.assertNotIn("\\Seen", m.flags)

    def test_fetch_larger_than_max_is_refused(self):
        uid, text = self.append("big", body="x" * 5000)
        d = self.connected()
        d.send("select INBOX")
        a = d.send(f"fetch {uid} 1000")
        self.assertEqual(a["status"], "EPERM", a)
        self.assertIn(f"{len(text)} octets", a["err"])

    def test_uid_fetch_above_highest_returns_nothing(self):
        u1, _ = self.append("a1")
        u2, _ = self.append("a2")
        d = self.connected()
        d.send("select INBOX")
        # "u2+1:*" matches u2 on the server (RFC 3501 §6.4.8).
        self.assertEqual(d.send(f"list {u2}")["messages"], [])
        self.assertEqual(d.send(f"list {u2 + 100}")["messages"], [])
        self.assertEqual([m["uid"] for m in d.send(f"list {u1}")["messages"]],
                         [u2])

    def test_list_empty_mailbox(self):
        d = self.connected()
        sel = d.send("select INBOX")
        self.assertEqual((sel["status"], sel["exists"]), ("OK", 0), sel)
        a = d.send("list 0")
        self.assertEqual((a["status"], a["messages"]), ("OK", []), a)

    def test_list_since(self):
        u1, _ = self.append("s1")
        d = self.connected()
        d.send("select INBOX")
        now = int(time.time())
        a = d.send(f"since {now - 86400}")
        self.assertEqual([m["uid"] for m in a["messages"]], [u1], a)
        self.assertLess(abs(a["messages"][0]["internaldate"] - now), 300)
        self.assertEqual(d.send(f"since {now + 3 * 86400}")["messages"], [])

    def test_fetch_expunged_is_eperm(self):
        d = self.connected()
        d.send("select INBOX")
        a = d.send("fetch 4242")
        self.assertEqual(a["status"], "EPERM", a)
        self.assertIn("gone", a["err"])
        self.assertEqual(d.send("noop")["status"], "OK")

    # -- changing --------------------------------------------------------------

    def test_move_to_created_done_mailbox(self):
        ua, _ = self.append("move-me")
        ub, _ = self.append("someone-elses", flags=("\\Deleted",))
        d = self.connected()
        d.send("select INBOX")
        self.assertEqual(d.send("ensure botu-done")["status"], "OK")
        self.assertEqual(d.send("ensure botu-done")["status"], "OK")
        a = d.send(f"move {ua} botu-done")
        self.assertEqual(a["status"], "OK", a)
        # Gone from INBOX; another client's \Deleted mail is still there.
        self.assertEqual([m.uid for m in self.mails()], [ub])
        done = self.mails("botu-done")
        self.assertEqual([m.msg["Message-ID"] for m in done],
                         ["<move-me@lsabewoners.nl>"])
        self.assertNotIn("\\Seen", done[0].flags)

    def test_keyword_flag(self):
        u1, _ = self.append("k1")
        u2, _ = self.append("k2")
        d = self.connected()
        d.send("select INBOX")
        self.assertEqual(d.send(f"has {u1} $BotuDone")["rc"], 0)
        self.assertEqual(d.send(f"keyword {u1} $BotuDone")["status"], "OK")
        self.assertEqual(d.send(f"has {u1} $BotuDone")["rc"], 1)
        self.assertEqual(d.send(f"has {u2} $BotuDone")["rc"], 0)
        self.assertIn("$BotuDone", self.flags(u1))
        self.assertNotIn("\\Seen", self.flags(u1))
        self.assertNotIn("$BotuDone", self.flags(u2))

    # -- waiting -------------------------------------------------------------

    def test_idle_wakes_when_mail_arrives(self):
        self.append("before")
        d = self.driver(debug=True)
        self.assertEqual(d.send("connect")["status"], "OK")
        d.send("select INBOX")
        d.start("wait 60")
        d.wait_log("imap S: + idling")
        t0 = time.monotonic()
        # Through Postfix (SMTP, then LMTP into Dovecot), as in real life.
        self.servers.send("annerike@lsabewoners.nl", self.user,
                          MESSAGE.format(subject="nieuw", mid="fresh",
                                         body="net binnen").encode())
        a = d.finish()
        self.assertEqual(a["rc"], 1, a)
        self.assertLess(time.monotonic() - t0, 20)
        ids = [m["message_id"] for m in d.send("list 1")["messages"]]
        self.assertEqual(ids, ["<fresh@lsabewoners.nl>"])


if __name__ == "__main__":
    unittest.main()
