#!/usr/bin/python3
"""The ready proto scripts against the real client libraries.

tests/integration/proto/clients/ holds two small reference clients, one on
libcurl (SMTP) and one on libetpan (IMAP), that follow the LIBRARIES.md
recipes.  Each ready script in proto/scripts/ is played to them here, so a
script that stops matching what Debian 12's libcurl 7.88.1 or libetpan 1.9.4
really send fails at once, long before a botu test trips over it.  Each
"bad client" case (no retry after a stale 421, no look at libetpan's
buffer after IDLE, LOGIN despite a wrong certificate) must fail.

Skipped when gcc or the -dev packages are missing (tests/install-deps.sh
installs them).  About 10 s.

Run: /usr/bin/python3 tests/integration/test_proto_clients.py [-v]
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "proto"))
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

import proto  # noqa: E402

CLIENTS = os.path.join(HERE, "proto", "clients")
BUILD = {
    "curl_smtp": ("curl/curl.h", "-lcurl"),
    "etpan_imap": ("libetpan/libetpan.h", "-letpan"),
}


def build(out_dir):
    """Compile the reference clients; returns {name: path}.

    Raises unittest.SkipTest when gcc or a library's header is missing; a
    client that does not compile with them present is an error."""
    if shutil.which("gcc") is None:
        raise unittest.SkipTest("gcc is not installed")
    paths = {}
    for name, (header, lib) in BUILD.items():
        probe = subprocess.run(["gcc", "-E", "-x", "c", "-"],
                               input=f"#include <{header}>\n",
                               capture_output=True, text=True)
        if probe.returncode != 0:
            raise unittest.SkipTest(f"<{header}> is missing")
        out = os.path.join(out_dir, name)
        subprocess.run(["gcc", "-std=c11", "-D_GNU_SOURCE", "-Wall",
                        "-Wextra", "-Werror", "-o", out,
                        os.path.join(CLIENTS, name + ".c"), lib],
                       check=True)
        paths[name] = out
    return paths


class ClientTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="test-proto-clients-")
        try:
            cls.bin = build(cls.tmp)
        except unittest.SkipTest:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise
        cls.certs = proto.make_certs(os.path.join(cls.tmp, "certs"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def play(self, script, argv, cert="good", tls_implicit=False, env=None,
             timeout=6.0):
        """Serve a ready script, run a client against it.

        argv is the client command; "{port}" and "{ca}" in it are filled
        in.  Returns (result, server, client stdout)."""
        srv = proto.ProtoServer(
            proto.load_script(proto.script_path(script)),
            cert=getattr(self.certs, cert + "_cert"),
            key=getattr(self.certs, cert + "_key"),
            tls_implicit=tls_implicit, timeout=timeout, grace=0.2).start()
        self.addCleanup(srv.stop)
        cmd = [self.bin[argv[0]]] + [a.format(port=srv.port,
                                              ca=self.certs.ca)
                                     for a in argv[1:]]
        run_env = dict(os.environ, **(env or {}))
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=timeout + 5, env=run_env).stdout
        res = srv.wait()
        return res, srv, out

    def assertPlayed(self, played, *client_says):
        res, srv, out = played
        self.assertTrue(res["ok"], f"{res}\n{srv.transcript_text()}\n{out}")
        for line in client_says:
            self.assertIn(line, out.splitlines(), out)

    def assertRefused(self, played, error_part):
        res, srv, out = played
        self.assertFalse(res["ok"], f"{srv.transcript_text()}\n{out}")
        self.assertIn(error_part, res["error"])


SMTP_URL = "smtp://localhost:{port}/bot.example.org"


def smtp(n, *rcpts):
    return ["curl_smtp", SMTP_URL, "{ca}", str(n)] + list(
        rcpts or ["<a@example.org>"])


class CurlSmtpTests(ClientTestCase):
    def test_basic(self):
        res, srv, out = self.play("smtp-basic", smtp(1))
        self.assertPlayed((res, srv, out), "msg 0 rc=0 code=250 connects=1")
        self.assertEqual(res["vars"]["ehlo"], "bot.example.org")
        self.assertEqual(res["vars"]["rcpt"], "a@example.org")
        self.assertIn(".dot\r\n", res["data"][0])       # un-stuffed

    def test_reuse_two_messages(self):
        self.assertPlayed(self.play("smtp-reuse-2", smtp(2)),
                          "msg 1 rc=0 code=250 connects=0")

    def test_stale_421_retried_once(self):
        self.assertPlayed(self.play("smtp-stale-421", smtp(2),
                                    env={"RETRY421": "1"}),
                          "msg 1 rc=55 code=421 connects=0",
                          "retry 1 rc=0 code=250 connects=1")

    def test_stale_421_without_retry_fails(self):
        self.assertRefused(self.play("smtp-stale-421", smtp(2), timeout=2),
                           "no client connected (connection 2)")

    def test_rcpt_452_550(self):
        self.assertPlayed(self.play("smtp-rcpt-452-550", smtp(3)),
                          "msg 1 rc=55 code=452 connects=0",
                          "msg 2 rc=55 code=550 connects=1")

    def test_mail_from_5xx(self):
        self.assertPlayed(self.play("smtp-mail-from-5xx", smtp(1)),
                          "msg 0 rc=55 code=553 connects=1")

    def test_starttls_refused(self):
        self.assertPlayed(self.play("smtp-starttls-refused", smtp(1)),
                          "msg 0 rc=64 code=454 connects=1")

    def test_no_starttls(self):
        self.assertPlayed(self.play("smtp-no-starttls", smtp(1)),
                          "msg 0 rc=64 code=250 connects=1")

    def test_wrong_cert(self):
        for cert in ("wrong", "untrusted"):
            with self.subTest(cert=cert):
                res, srv, out = self.play("smtp-wrong-cert", smtp(1),
                                          cert=cert)
                self.assertPlayed((res, srv, out),
                                  "msg 0 rc=60 code=220 connects=1")
                # GnuTLS libcurl checks after the handshake (README).
                after = srv.transcript[srv.transcript.index(
                    "S: 220 2.0.0 Ready to start TLS") + 1:]
                self.assertTrue(after[0].startswith("TLS: handshake ok"))
                self.assertEqual(after[1:], ["C: <closed>"])

    def test_wrong_cert_in_basic_fails(self):
        self.assertRefused(self.play("smtp-basic", smtp(1), cert="wrong"),
                           "client closed")


class EtpanImapTests(ClientTestCase):
    def imap(self, script, *words, cert="good", tls_implicit=True):
        return self.play(script, ["etpan_imap", "{port}"] + list(words),
                         cert=cert, tls_implicit=tls_implicit)

    def test_basic(self):
        res, srv, out = self.imap("imap-basic")
        self.assertPlayed((res, srv, out), "select r=0 uidvalidity=1234 "
                          "uidnext=8", "move r=0", "idle ready r=1",
                          "logout r=0")
        self.assertEqual(res["vars"]["user"], '"bot@example.org"')

    def test_no_move_no_idle(self):
        self.assertPlayed(self.imap("imap-no-move-no-idle"),
                          "copy r=0", "store deleted r=0", "uid expunge r=0",
                          "logout r=0")

    def test_idle_same_segment(self):
        self.assertPlayed(self.imap("imap-idle-same-segment", "idleonly"),
                          "idle r=0", "idle ready r=1", "idle done r=0",
                          "fetch after idle r=0")

    def test_idle_same_segment_poll_only_fails(self):
        self.assertRefused(self.imap("imap-idle-same-segment", "idleonly",
                                     "buggy"), "timeout (WITHIN 2 s)")

    def test_idle_untagged_before_plus(self):
        # libetpan 1.9.4 waits for its stream timeout, then gives up (4).
        self.assertPlayed(self.imap("imap-idle-untagged-before-plus",
                                    "idleonly", "timeout=1"), "idle r=4")

    def test_wrong_cert_hangup(self):
        res, srv, out = self.imap("imap-wrong-cert", "hangup", cert="wrong")
        self.assertPlayed((res, srv, out), "hung up r=0")
        self.assertEqual(srv.client_lines(), [])

    def test_wrong_cert_login_fails(self):
        # libetpan itself does not verify: without botu's own check the
        # client logs in, and the script catches it.
        res, srv, out = self.imap("imap-wrong-cert", cert="wrong")
        self.assertRefused((res, srv, out), "should have closed")
        self.assertRegex(res["got"], r'^\S+ LOGIN "bot@example.org" ')

    def test_starttls(self):
        self.assertPlayed(self.imap("imap-starttls", "starttls",
                                    "selectonly", tls_implicit=False),
                          "starttls r=0", "capability r=0", "login r=0",
                          "logout r=0")

    def test_starttls_refused(self):
        res, srv, out = self.imap("imap-starttls-refused", "starttls",
                                  tls_implicit=False)
        self.assertPlayed((res, srv, out), "hung up r=0")
        self.assertNotIn("LOGIN", " ".join(srv.client_lines()))


if __name__ == "__main__":
    unittest.main()
