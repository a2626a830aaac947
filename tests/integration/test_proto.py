#!/usr/bin/python3
"""Self-test of the scripted proto servers (tests/integration/proto/proto.py).

The clients here are Python's own smtplib, imaplib, ssl and raw sockets, so
the servers are checked before any botu code is pointed at them.  Every
"passes" case has a twin that must fail, so a server that accepts anything
cannot pass this file.

Run: /usr/bin/python3 tests/integration/test_proto.py [-v]
"""

import imaplib
import json
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "proto"))
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

import proto  # noqa: E402

TIMEOUT = 5.0       # per script; every case here ends far sooner


def raw_connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_until(sock, token, limit=5.0):
    """Read from sock until token was received; returns all bytes read."""
    data = b""
    end = time.monotonic() + limit
    while token not in data and time.monotonic() < end:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


class ProtoTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="test-proto-")
        cls.certs = proto.make_certs(os.path.join(cls.tmp, "certs"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def serve(self, script, cert="good", **kw):
        """Start a proto server with the good (or wrong/untrusted) cert."""
        kw.setdefault("timeout", TIMEOUT)
        kw.setdefault("grace", 0.2)
        if cert:
            kw["cert"] = getattr(self.certs, cert + "_cert")
            kw["key"] = getattr(self.certs, cert + "_key")
        srv = proto.ProtoServer(script, **kw).start()
        self.addCleanup(srv.stop)
        return srv

    def client_ctx(self):
        """A verifying client context that trusts only the test CA."""
        return ssl.create_default_context(cafile=self.certs.ca)

    def assertPassed(self, res, srv):
        self.assertTrue(res["ok"], f"{res}\n{srv.transcript_text()}")

    def assertFailed(self, res, srv, error_part):
        self.assertFalse(res["ok"], srv.transcript_text())
        self.assertIn(error_part, res["error"], srv.transcript_text())


# An SMTP session as smtplib speaks it (lower-case "mail FROM:", so (?i)).
SMTPLIB_SCRIPT = r"""
S: 220 proto.test ESMTP
C: (?i)EHLO \S+
S+: 250-proto.test
S: 250 STARTTLS
C: (?i)STARTTLS
S: 220 go ahead
TLS
C: (?i)EHLO \S+
S+: 250-proto.test
S: 250 AUTH PLAIN
C: (?i)AUTH PLAIN (?P<auth>\S+)
S: 235 ok
C: (?i)MAIL FROM:<(?P<from>[^>]*)>.*
S: 250 ok
C: (?i)RCPT TO:<(?P<rcpt>[^>]*)>.*
S: 250 ok
C: (?i)DATA
S: 354 go on
DATA body
S: 250 queued for ${rcpt}
C: (?i)QUIT
S: 221 bye
EXPECT-CLOSE
"""


class SmtpTests(ProtoTestCase):
    def smtplib_session(self, port, rcpt="b@example.org"):
        s = smtplib.SMTP("localhost", port, timeout=5)
        s.starttls(context=self.client_ctx())
        s.login("bot", "secret")
        s.sendmail("bot@example.org", [rcpt],
                   "Subject: x\r\n\r\n.leading dot\r\nend\r\n")
        s.quit()

    def test_conversation_passes(self):
        srv = self.serve(SMTPLIB_SCRIPT)
        self.smtplib_session(srv.port)
        res = srv.wait()
        self.assertPassed(res, srv)
        self.assertEqual(res["vars"]["from"], "bot@example.org")
        self.assertEqual(res["vars"]["rcpt"], "b@example.org")
        # DATA undoes the dot-stuffing smtplib did on the wire.
        self.assertEqual(res["data"], ["Subject: x\r\n\r\n.leading dot\r\n"
                                       "end\r\n"])
        self.assertIn("C: ..leading dot", srv.transcript)
        self.assertIn("S: 250 queued for b@example.org", srv.transcript)
        tls = [t for t in srv.transcript if t.startswith("TLS:")]
        self.assertEqual(len(tls), 1)
        self.assertTrue(tls[0].startswith("TLS: handshake ok"), tls)
        self.assertEqual(srv.transcript[-1], "C: <closed>")

    def test_unexpected_line_fails_with_mismatch(self):
        srv = self.serve(r"""
S: 220 proto.test ESMTP
C: EHLO \S+
S: 250 proto.test
C: QUIT
S: 221 bye
EXPECT-CLOSE
""", cert=None)
        c = raw_connect(srv.port)
        read_until(c, b"\r\n")
        c.sendall(b"HELO me.example\r\n")
        c.close()
        res = srv.wait()
        self.assertFailed(res, srv, "unexpected client line")
        self.assertEqual(res["script_line"], 3)
        self.assertEqual(res["got"], "HELO me.example")
        self.assertEqual(res["expected"], r"EHLO \S+")
        self.assertEqual(srv.transcript[res["transcript_line"] - 1],
                         "C: HELO me.example")
        self.assertTrue(any(t.startswith("FAIL: script line 3")
                            for t in srv.transcript))

    def test_line_after_quit_fails(self):
        srv = self.serve(SMTPLIB_SCRIPT)
        s = smtplib.SMTP("localhost", srv.port, timeout=5)
        s.starttls(context=self.client_ctx())
        s.login("bot", "secret")
        s.sendmail("bot@example.org", ["b@example.org"], "Subject: x\r\n\r\n")
        s.docmd("QUIT")
        s.sock.sendall(b"NOOP\r\n")         # a client that keeps talking
        res = srv.wait()
        s.close()
        self.assertFailed(res, srv, "should have closed")
        self.assertEqual(res["got"], "NOOP")

    def test_unread_line_at_end_of_script_fails(self):
        # "Expect nothing else": two lines arrive, the script reads one.
        srv = self.serve("S: 220 hi\nC: EHLO x\nS: 250 ok\n", cert=None)
        c = raw_connect(srv.port)
        read_until(c, b"\r\n")
        c.sendall(b"EHLO x\r\nMAIL FROM:<a@b>\r\n")
        res = srv.wait()
        c.close()
        self.assertFailed(res, srv, "after the end of connection 1")
        self.assertEqual(res["got"], "MAIL FROM:<a@b>")

    def test_optional_line_and_close(self):
        script = r"""
S: 220 proto.test ESMTP
C: (?i)EHLO \S+
S+: 250-proto.test
S: 250 STARTTLS
C: (?i)STARTTLS
S: 454 4.7.0 TLS not available
C?: (?i)QUIT
S: 221 bye
EXPECT-CLOSE
"""
        # 1. QUIT, then close: passes, and the 221 was sent.
        srv = self.serve(script, cert=None)
        c = raw_connect(srv.port)
        read_until(c, b"\r\n")
        c.sendall(b"EHLO x\r\n")
        read_until(c, b"250 STARTTLS\r\n")
        c.sendall(b"STARTTLS\r\n")
        read_until(c, b"\r\n")
        c.sendall(b"QUIT\r\n")
        self.assertEqual(read_until(c, b"\r\n"), b"221 bye\r\n")
        c.close()
        res = srv.wait()
        self.assertPassed(res, srv)
        # 2. Just close: passes, and no 221 is sent.
        srv = self.serve(script, cert=None)
        s = smtplib.SMTP("localhost", srv.port, timeout=5)
        with self.assertRaises(smtplib.SMTPResponseException) as cm:
            s.starttls()
        self.assertEqual(cm.exception.smtp_code, 454)
        s.close()                   # hang up without QUIT
        res = srv.wait()
        self.assertPassed(res, srv)
        self.assertNotIn("S: 221 bye", srv.transcript)
        # 3. Plaintext after the refused STARTTLS: fails.
        srv = self.serve(script, cert=None)
        s = smtplib.SMTP("localhost", srv.port, timeout=5)
        s.ehlo()
        s.docmd("STARTTLS")
        s.sock.sendall(b"AUTH PLAIN AGJvdABzZWNyZXQ=\r\n")
        res = srv.wait()
        s.close()
        self.assertFailed(res, srv, "should have closed")
        self.assertEqual(res["got"], "AUTH PLAIN AGJvdABzZWNyZXQ=")

    def test_data_after_starttls_before_handshake_fails(self):
        srv = self.serve("S: 220 hi\nC: STARTTLS\nS: 220 go\nTLS\n")
        c = raw_connect(srv.port)
        read_until(c, b"\r\n")
        c.sendall(b"STARTTLS\r\nEHLO injected\r\n")     # one segment
        res = srv.wait()
        c.close()
        self.assertFailed(res, srv, "after STARTTLS, before the TLS")
        self.assertEqual(res["got"], "EHLO injected")

    def test_data_keeps_bytes_and_bare_lf(self):
        srv = self.serve("S: 220 hi\nC: DATA\nS: 354 go\nDATA msg\n"
                         "S: 250 ${#msg} octets\nEXPECT-CLOSE\n", cert=None)
        c = raw_connect(srv.port)
        read_until(c, b"\r\n")
        c.sendall(b"DATA\r\n")
        read_until(c, b"\r\n")
        c.sendall(b"a\n.b\r\n..c\r\n.\r\n")
        reply = read_until(c, b"\r\n")
        c.close()
        res = srv.wait()
        self.assertPassed(res, srv)
        # Only "\r\n." is un-stuffed; the bare LF and ".b" after it stay.
        self.assertEqual(res["vars"]["msg"], "a\n.b\r\n.c\r\n")
        self.assertEqual(reply, b"250 10 octets\r\n")
        self.assertIn("C: a\\n.b", srv.transcript)

    def test_bare_lf_command_fails(self):
        srv = self.serve("S: 220 hi\nC: EHLO x\nS: 250 ok\n", cert=None)
        c = raw_connect(srv.port)
        read_until(c, b"\r\n")
        c.sendall(b"EHLO x\n")
        res = srv.wait()
        c.close()
        self.assertFailed(res, srv, "not terminated by CRLF")


class TlsTests(ProtoTestCase):
    def test_verifying_client_refuses_wrong_host(self):
        # The ready script: greeting, then the client must hang up.
        script = proto.load_script(proto.script_path("imap-wrong-cert"))
        srv = self.serve(script, cert="wrong", tls_implicit=True)
        with self.assertRaises(ssl.SSLCertVerificationError):
            imaplib.IMAP4_SSL("localhost", srv.port,
                              ssl_context=self.client_ctx(), timeout=5)
        res = srv.wait()
        self.assertPassed(res, srv)
        self.assertTrue(any(t.startswith("TLS: handshake failed:")
                            for t in srv.transcript), srv.transcript)
        self.assertIn("C: <closed>", srv.transcript)
        self.assertEqual(srv.client_lines(), [])    # no LOGIN, nothing

    def test_client_that_skips_the_host_check_fails(self):
        # The libetpan weakness: trust the CA but do not check the name.
        script = proto.load_script(proto.script_path("imap-wrong-cert"))
        srv = self.serve(script, cert="wrong", tls_implicit=True)
        ctx = self.client_ctx()
        ctx.check_hostname = False      # deliberately broken client
        c = ctx.wrap_socket(raw_connect(srv.port),
                            server_hostname="localhost")
        read_until(c, b"\r\n")
        c.sendall(b"a1 LOGIN bot secret\r\n")
        res = srv.wait()
        c.close()
        self.assertFailed(res, srv, "should have closed")
        self.assertEqual(res["got"], "a1 LOGIN bot secret")
        self.assertTrue(any(t.startswith("TLS: handshake ok")
                            for t in srv.transcript))

    def test_tls_fail_directive(self):
        script = "TLS-FAIL\n"
        srv = self.serve(script, cert="untrusted")
        c = raw_connect(srv.port)
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.client_ctx().wrap_socket(c, server_hostname="localhost")
        c.close()
        self.assertPassed(srv.wait(), srv)
        # A client that accepts the certificate fails TLS-FAIL.
        srv = self.serve(script, cert="good")
        c = raw_connect(srv.port)
        t = self.client_ctx().wrap_socket(c, server_hostname="localhost")
        res = srv.wait()
        t.close()
        self.assertFailed(res, srv, "should have rejected the certificate")

    def test_good_cert_verifies_by_name_and_ip(self):
        srv = self.serve("S: * OK hi\nEXPECT-CLOSE\n", tls_implicit=True)
        c = raw_connect(srv.port)
        t = self.client_ctx().wrap_socket(c, server_hostname="localhost")
        self.assertEqual(read_until(t, b"\r\n"), b"* OK hi\r\n")
        t.close()
        self.assertPassed(srv.wait(), srv)
        srv = self.serve("S: * OK hi\nEXPECT-CLOSE\n", tls_implicit=True)
        c = raw_connect(srv.port)
        t = self.client_ctx().wrap_socket(c, server_hostname="127.0.0.1")
        t.close()
        self.assertPassed(srv.wait(), srv)


IDLE_SCRIPT = r"""
S: * OK [CAPABILITY IMAP4rev1 IDLE] hi
C: (?P<tag>\S+) IDLE
S+: + idling
S: * 1 EXISTS
C: DONE
S: ${tag} OK done
EXPECT-CLOSE
"""


class ImapTests(ProtoTestCase):
    def test_same_segment_arrives_in_one_recv(self):
        for tls in (False, True):
            with self.subTest(tls=tls):
                srv = self.serve(IDLE_SCRIPT, tls_implicit=tls)
                c = raw_connect(srv.port)
                if tls:
                    c = self.client_ctx().wrap_socket(
                        c, server_hostname="localhost")
                read_until(c, b"\r\n")
                c.sendall(b"a1 IDLE\r\n")
                first = c.recv(4096)        # ONE read
                self.assertEqual(first, b"+ idling\r\n* 1 EXISTS\r\n")
                c.sendall(b"DONE\r\n")
                self.assertEqual(read_until(c, b"\r\n"), b"a1 OK done\r\n")
                c.close()
                res = srv.wait()
                self.assertPassed(res, srv)
                self.assertIn("S+: + idling", srv.transcript)
                self.assertIn("S: * 1 EXISTS", srv.transcript)

    def test_separate_sends_arrive_apart(self):
        # The control for the test above: the one-recv check can tell.
        srv = self.serve(IDLE_SCRIPT.replace("S+: + idling",
                                             "S: + idling\nSLEEP 0.2"),
                         cert=None)
        c = raw_connect(srv.port)
        read_until(c, b"\r\n")
        c.sendall(b"a1 IDLE\r\n")
        self.assertEqual(c.recv(4096), b"+ idling\r\n")
        self.assertEqual(read_until(c, b"EXISTS\r\n"), b"* 1 EXISTS\r\n")
        c.sendall(b"DONE\r\n")
        read_until(c, b"\r\n")
        c.close()
        self.assertPassed(srv.wait(), srv)

    def test_imaplib_session_with_literal(self):
        script = proto.load_script(proto.script_path("imap-basic"))
        srv = self.serve(script, tls_implicit=True)
        imap = imaplib.IMAP4_SSL("localhost", srv.port,
                                 ssl_context=self.client_ctx(), timeout=5)
        imap.login("bot", "secret")
        typ, _ = imap.select("INBOX")
        self.assertEqual(typ, "OK")
        typ, sizes = imap.uid("FETCH", "1:*", "(UID RFC822.SIZE)")
        typ, data = imap.uid("FETCH", "7", "(UID BODY.PEEK[])")
        body = data[0][1]
        self.assertTrue(body.startswith(b"From: Anne"), body)
        # ${#msg} and the literal agree with what imaplib received.
        self.assertEqual(sizes[1], b"2 (UID 7 RFC822.SIZE %d)" % len(body))
        imap.uid("STORE", "7", "+FLAGS.SILENT", r"($BotuDone)")
        imap.uid("MOVE", "7", "Archive")
        tag = imap._new_tag().decode()
        imap.send(f"{tag} IDLE\r\n".encode())
        self.assertTrue(imap.readline().startswith(b"+"))
        self.assertEqual(imap.readline(), b"* 2 EXISTS\r\n")
        imap.send(b"DONE\r\n")
        self.assertIn(b"OK", imap.readline())
        imap.logout()
        res = srv.wait()
        self.assertPassed(res, srv)
        self.assertEqual(res["vars"]["user"], "bot")
        self.assertEqual(res["vars"]["range"], "1:*")
        # The literal's octet count matched the body imaplib received.
        self.assertIn(f"S: * 2 FETCH (UID 7 BODY[] {{{len(body)}}}",
                      srv.transcript)

    def test_capture_reused_in_regex(self):
        # ${tag} in a C: regex means "this exact text".
        script = r"""
S: * OK hi
C: (?P<tag>\S+) NOOP
S: ${tag} OK
C: ${tag}\.x NOOP
S: ok
EXPECT-CLOSE
"""
        srv = self.serve(script, cert=None)
        c = raw_connect(srv.port)
        read_until(c, b"\r\n")
        c.sendall(b"a+1 NOOP\r\n")
        read_until(c, b"\r\n")
        c.sendall(b"a+1.x NOOP\r\n")
        read_until(c, b"\r\n")
        c.close()
        self.assertPassed(srv.wait(), srv)
        srv = self.serve(script, cert=None)
        c = raw_connect(srv.port)
        read_until(c, b"\r\n")
        c.sendall(b"a+1 NOOP\r\n")
        read_until(c, b"\r\n")
        c.sendall(b"aa1.x NOOP\r\n")        # "+" must not act as a regex
        res = srv.wait()
        c.close()
        self.assertFailed(res, srv, "unexpected client line")


class ConnectionTests(ProtoTestCase):
    SCRIPT = r"""
S: 220 one
C: (?i)EHLO \S+
S: 250 ok
C: (?i)MAIL FROM:<[^>]*>
S: 421 4.4.2 bye now
CLOSE
ACCEPT
S: 220 two
C: (?i)EHLO \S+
S: 250 ok
C: (?i)MAIL FROM:<(?P<from>[^>]*)>
S: 250 ok
C: (?i)QUIT
S: 221 bye
EXPECT-CLOSE
EXPECT-NO-CONNECT 0.3
"""

    def two_sessions(self, port):
        s = smtplib.SMTP("localhost", port, timeout=5)
        s.ehlo()
        code, _ = s.mail("a@example.org")
        self.assertEqual(code, 421)
        s.close()
        s = smtplib.SMTP("localhost", port, timeout=5)
        s.ehlo()
        self.assertEqual(s.mail("a@example.org")[0], 250)
        s.quit()

    def test_reconnect_after_421(self):
        srv = self.serve(self.SCRIPT, cert=None)
        self.two_sessions(srv.port)
        res = srv.wait()
        self.assertPassed(res, srv)
        self.assertEqual(res["connections"], 2)
        accepts = [t for t in srv.transcript if t.startswith("ACCEPT:")]
        self.assertEqual(len(accepts), 2)
        self.assertIn("S: <closed>", srv.transcript)

    def test_extra_connection_fails(self):
        srv = self.serve(self.SCRIPT, cert=None)
        self.two_sessions(srv.port)
        c = raw_connect(srv.port)           # a third, unwanted connection
        res = srv.wait()
        c.close()
        self.assertFailed(res, srv, "unexpected connection 3")

    def test_silent_client_times_out(self):
        srv = self.serve("S: 220 hi\nC: EHLO .*\n", cert=None, timeout=0.5)
        c = raw_connect(srv.port)
        t0 = time.monotonic()
        res = srv.wait()
        c.close()
        self.assertLess(time.monotonic() - t0, 2)
        self.assertFailed(res, srv, "timeout")
        self.assertEqual(res["script_line"], 2)

    def test_no_client_times_out(self):
        srv = self.serve("S: 220 hi\n", cert=None, timeout=0.3)
        res = srv.wait()
        self.assertFailed(res, srv, "no client connected")

    def test_within_limits_one_wait(self):
        script = "S: * OK\nWITHIN 0.3\nC: DONE\nEXPECT-CLOSE\n"
        srv = self.serve(script, cert=None)
        c = raw_connect(srv.port)
        read_until(c, b"\r\n")
        res = srv.wait()                    # the client never says DONE
        c.close()
        self.assertFailed(res, srv, "timeout (WITHIN 0.3 s)")
        self.assertLess(res["elapsed"], 2)

    def test_expect_nothing(self):
        script = "S: * OK\nEXPECT-NOTHING 0.2\nS: * BYE\nEXPECT-CLOSE\n"
        srv = self.serve(script, cert=None)
        c = raw_connect(srv.port)
        self.assertEqual(read_until(c, b"BYE\r\n"), b"* OK\r\n* BYE\r\n")
        c.close()
        self.assertPassed(srv.wait(), srv)
        srv = self.serve(script, cert=None)
        c = raw_connect(srv.port)
        read_until(c, b"\r\n")
        c.sendall(b"a NOOP\r\n")
        res = srv.wait()
        c.close()
        self.assertFailed(res, srv, "should have sent nothing")


class ScriptTests(ProtoTestCase):
    def test_ready_scripts_parse(self):
        names = sorted(os.listdir(proto.SCRIPTS_DIR))
        self.assertGreaterEqual(len(names), 8)
        for name in names:
            with self.subTest(name=name):
                s = proto.load_script(os.path.join(proto.SCRIPTS_DIR, name))
                self.assertTrue(s.connections[0], name)

    def test_bad_scripts_are_refused(self):
        for text, what in (("S: a\nFROB\n", "line 2: unknown directive"),
                           ("C: (unclosed\n", "line 1: bad regex"),
                           ("SLEEP x\n", "line 1: SLEEP needs a number"),
                           ("SET m <<END\nno end\n", "line 1: no 'END'"),
                           ("EXPECT-NO-CONNECT 1\nS: x\n",
                            "line 2: nothing may follow")):
            with self.subTest(text=text):
                with self.assertRaises(proto.ScriptError) as cm:
                    proto.parse_script(text)
                self.assertIn(what, str(cm.exception))

    def test_undefined_variable_fails(self):
        srv = self.serve("S: ${nope} OK\n", cert=None)
        raw_connect(srv.port).close()
        self.assertFailed(srv.wait(), srv, "undefined variable ${nope}")

    def test_cli_serve_writes_port_transcript_and_result(self):
        work = tempfile.mkdtemp(dir=self.tmp)
        path = os.path.join(work, "s.txt")
        with open(path, "w") as f:
            f.write("S: 220 hi\nC: QUIT\nS: 221 bye\nEXPECT-CLOSE\n")
        with proto.ProtoProcess(path, workdir=work, timeout=5) as p:
            with open(p.port_file) as f:
                self.assertEqual(int(f.read()), p.port)
            c = raw_connect(p.port)
            read_until(c, b"\r\n")
            c.sendall(b"QUIT\r\n")
            read_until(c, b"\r\n")
            c.close()
            res = p.wait()
        self.assertEqual(p.proc.returncode, 0)
        self.assertTrue(res["ok"], res)
        self.assertEqual(p.transcript_text().splitlines()[1:],
                         ["S: 220 hi", "C: QUIT", "S: 221 bye",
                          "C: <closed>"])
        with open(p.result_file) as f:
            self.assertEqual(json.load(f)["port"], p.port)

    def test_cli_exit_codes(self):
        work = tempfile.mkdtemp(dir=self.tmp)
        bad = os.path.join(work, "bad.txt")
        with open(bad, "w") as f:
            f.write("FROB\n")
        r = subprocess.run([sys.executable, proto.__file__, "serve", bad],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown directive", r.stderr)
        good = os.path.join(work, "t.txt")
        with open(good, "w") as f:
            f.write("S: 220 hi\n")
        res_file = os.path.join(work, "r.json")
        r = subprocess.run([sys.executable, proto.__file__, "serve", good,
                            "--timeout", "0.2", "--result", res_file],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)            # nobody connected
        with open(res_file) as f:
            self.assertIn("no client connected", json.load(f)["error"])


if __name__ == "__main__":
    unittest.main()
