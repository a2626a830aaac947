#!/usr/bin/python3
"""proto.py - tiny scripted IMAP and SMTP servers that check the client.

A proto server listens on 127.0.0.1 (port 0: the kernel picks a free port),
plays the *server* side of one or more connections from a script, and checks
every line the client sends against the script.  It writes the whole
conversation (both directions, TLS events) to a transcript and a pass/fail
result with the first mismatch.  botu's integration tests point botu's own
IMAP client (libetpan) and SMTP client (libcurl) at it; tests/integration/
test_proto.py checks the server itself with Python's imaplib/smtplib/ssl.

Standard library only; run it with Debian's /usr/bin/python3.

SCRIPT FORMAT (also in tests/integration/proto/README)
======================================================

One directive per line.  Blank lines and lines starting with '#' are ignored.
The script starts with connection 1 already accepted.

  S: text       Send "text" + CRLF.  "S:" alone sends an empty line.  Exactly
                one space after the colon is dropped; everything else,
                trailing spaces included, is sent as written.
  S+: text      Queue "text" + CRLF without sending it.  Queued lines go out
                together with the next S: line in ONE send() call (one TCP
                segment, or one TLS record), so "+ idling" and "* 1 EXISTS"
                can arrive in the same read on the client side.  Any other
                directive also flushes the queue first.
  C: regex      Read the next client line and require that the regex matches
                the WHOLE line (re.fullmatch, without the CRLF).  Named groups
                become variables: "C: (?P<tag>\\S+) LOGIN .*" then
                "S: ${tag} OK".  A line ending in a bare LF, or a client that
                closes, is a mismatch.  Use (?i) for case-insensitive verbs.
  C?: regex     Optional client line.  If the next client line matches, it is
                consumed and the S:/S+: lines right after this directive are
                sent.  If it does not match (it stays unread for the next
                directive) or the client has closed, those S:/S+: lines are
                skipped.  Example: "the client must QUIT or just hang up".
  DATA [name]   Read an SMTP DATA body up to the lone "." line (CRLF.CRLF,
                exactly as an RFC 5321 server does), undo dot-stuffing and
                store the body in variable "name" (default "data") and in the
                result's "data" list.  Bare LFs inside the body are kept.
  TLS           (alias STARTTLS) Upgrade this connection to TLS with the
                server's --cert/--key.  Data the client sent after its
                STARTTLS command but before the handshake is a failure
                (command injection).  If the client aborts the handshake
                (e.g. it rejected the certificate) the transcript gets
                "TLS: handshake failed: REASON" and "C: <closed>": the
                connection then counts as closed by the client (below).
  TLS-FAIL      Like TLS, but the client MUST abort the handshake; a
                completed handshake is a failure.  Only for clients that
                verify inside the handshake (OpenSSL, Python): libcurl with
                GnuTLS completes the handshake, then checks and hangs up.
  EXPECT-CLOSE [secs]
                The client must close the connection now (within secs, by
                default until the script's deadline).  Any line that arrives
                instead is a failure.  A reset counts as a close.
  EXPECT-NOTHING secs
                No client line may arrive for secs seconds.  A close is fine.
  EXPECT-NO-CONNECT secs
                Only as the last directive: after the last connection, no
                new connection may arrive for secs seconds (e.g. "retried
                once, not twice").  Without it, later connections are simply
                refused once the script has ended.
  WITHIN secs   From here on, each wait for the client (C:, C?:, DATA,
                EXPECT-CLOSE) may take at most secs seconds ("DONE must
                come at once, not after the client's poll timeout").
                "WITHIN 0" goes back to the script's deadline only.
  CLOSE         The server closes the connection (e.g. after a 421).
  SLEEP secs    Pause (fractions allowed).
  SET name value            Set a variable to a one-line value.
  SET name <<END            Set a variable to the following lines up to a
  ...                       line "END"; every line gets CRLF, so the value
  END                       can be an IMAP literal or a message.
  ACCEPT        End of this connection's directives; wait for the next
                connection (e.g. the retry after a 421).  If the previous
                connection is still open it is checked like the end of the
                script (below) and then closed by the server.

Variables: "${name}" in S: lines is replaced by the value; "${#name}" by its
length in octets (for IMAP literals: "S: * 1 FETCH (UID 7 BODY[] {${#msg}}"
then "S: ${msg})").  In C: regexes "${name}" matches the value literally.
Built in: ${SP} (a space, for trailing spaces editors would strip) and
${CRLF}.  An undefined variable is a failure.  IMAP literals {N} need no
escaping because only "${" starts a variable.

Closed clients: once the client has closed (or aborted the TLS handshake),
S: lines are recorded as "NOT SENT: ..." and dropped, C: and DATA fail, C?:
does not match and EXPECT-CLOSE passes.  So "TLS", "S: * OK greeting",
"EXPECT-CLOSE" passes for a client that rejects the certificate during the
handshake and for one that hangs up right after it, and fails for a client
that sends anything (LOGIN).

End of a connection: when a connection's directives run out and the client is
still connected, a client line that has already arrived is a failure ("expect
nothing else"); then the server closes.  End connections with EXPECT-CLOSE
(the client hangs up) or CLOSE to be explicit.  After the first failure the
server records whatever the client still sends for a short grace period (so
the transcript shows, say, the LOGIN that followed), then stops.

Implicit TLS (--tls-implicit / tls_implicit=True): every connection starts
with a TLS handshake, as if its first directive were TLS; write TLS or
TLS-FAIL as the first directive to control it yourself.

Timeout: the whole script must finish within --timeout seconds (default 10);
a timeout is a failure naming the directive that waited.

TRANSCRIPT (one event per line, in order)
=========================================

  ACCEPT: connection N from 127.0.0.1:PORT
  S: line           server line (the last line of one send() call)
  S+: line          server line sent in the same send() as the next S: line
  C: line           client line, without CRLF; a bare CR or LF inside a line
                    is shown as \\r or \\n
  C: <closed>       the client closed (EOF); C: <reset> for a reset
  S: <closed>       the server closed
  NOT SENT: line    an S: line dropped because the client had already gone
  TLS: handshake ok (TLSv1.3, TLS_AES_256_GCM_SHA384)
  TLS: handshake failed: REASON
  FAIL: script line N: what went wrong

RESULT (JSON)
=============

  {"ok": true|false, "error": null|"...", "script_line": N|null,
   "transcript_line": N|null, "expected": ..., "got": ...,
   "connections": N, "port": N, "elapsed": secs, "vars": {...},
   "data": ["body", ...]}

"transcript_line" is the 1-based line of the offending client line (or of the
FAIL line); "script_line" the directive that failed.

CLI
===

  proto.py serve SCRIPT --port-file F --transcript T --result R
                 [--cert C --key K] [--tls-implicit] [--timeout S]
      Prints the port on stdout (and writes it to F) once listening, plays the
      script, writes T and R, exits 0 on pass, 1 on fail, 2 on a bad script.
  proto.py check SCRIPT...        parse scripts only (exit 2 on an error)
  proto.py make-certs DIR         make a throwaway CA and certificates in DIR

PYTHON API
==========

  certs = make_certs(dir)                    # Certs(ca, good_cert, ...)
  with ProtoServer(text, cert=c, key=k) as srv:   # started, in a thread
      ... connect to srv.port ...
      res = srv.wait()                       # dict as in RESULT
      srv.transcript_text(), srv.client_lines()
  ProtoProcess(path, ...) does the same with a child process (the CLI).
"""

import argparse
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS_DIR = os.path.join(HERE, "scripts")

# Bounds on what a client may send, so a runaway client cannot eat memory.
MAX_LINE = 1 << 20          # one command line
MAX_DATA = 64 << 20         # one SMTP DATA body
GRACE = 0.5                 # seconds to keep recording after a failure
SLICE = 0.05                # poll interval for stop requests

DIRECTIVES = ("DATA", "TLS", "STARTTLS", "TLS-FAIL", "EXPECT-CLOSE",
              "EXPECT-NOTHING", "CLOSE", "SLEEP", "SET", "ACCEPT",
              "EXPECT-NO-CONNECT", "WITHIN")
VAR_RE = re.compile(r"\$\{(#?)([A-Za-z_][A-Za-z0-9_]*)\}")
BUILTIN_VARS = {"SP": " ", "CRLF": "\r\n"}


# --------------------------------------------------------------------------
# Script parsing
# --------------------------------------------------------------------------

class ScriptError(Exception):
    """The script itself is malformed (reported with its line number)."""


@dataclass
class Step:
    op: str             # S, S+, C, C?, DATA, TLS, TLS-FAIL, EXPECT-CLOSE, ...
    arg: str            # text after the directive ('' if none)
    line: int           # 1-based line number in the script
    value: str = ""     # SET: the value


@dataclass
class Script:
    name: str
    connections: list = field(default_factory=list)   # list of [Step]
    accept_lines: list = field(default_factory=list)  # ACCEPT line, or 0
    no_connect: Step = None     # EXPECT-NO-CONNECT at the end, if any


def _number(arg, lineno, what):
    try:
        v = float(arg)
    except ValueError:
        raise ScriptError(f"line {lineno}: {what} needs a number of "
                          f"seconds, got {arg!r}") from None
    if v < 0:
        raise ScriptError(f"line {lineno}: {what}: negative time")
    return v


def _check_regex(rx, lineno):
    # Variables are substituted at run time; compile with a stand-in now so
    # that a typo in a regex is reported before any client connects.
    try:
        re.compile(VAR_RE.sub("x", rx))
    except re.error as e:
        raise ScriptError(f"line {lineno}: bad regex {rx!r}: {e}") from None


def parse_script(text, name="<script>"):
    """Parse script text into a Script; raises ScriptError."""
    script = Script(name=name, connections=[[]], accept_lines=[0])
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        raw = lines[i].rstrip("\r")
        lineno = i + 1
        i += 1
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if script.no_connect:
            raise ScriptError(f"line {lineno}: nothing may follow "
                              "EXPECT-NO-CONNECT")
        m = re.match(r"(S\+?|C\??):(.*)\Z", raw)
        if m:
            op, arg = m.group(1), m.group(2)
            if arg.startswith(" "):
                arg = arg[1:]
            if op in ("C", "C?"):
                _check_regex(arg, lineno)
            script.connections[-1].append(Step(op, arg, lineno))
            continue
        word, _, arg = raw.strip().partition(" ")
        arg = arg.strip()
        if word not in DIRECTIVES:
            raise ScriptError(f"line {lineno}: unknown directive {raw!r}")
        if word == "STARTTLS":
            word = "TLS"
        step = Step(word, arg, lineno)
        if word == "ACCEPT":
            if arg:
                raise ScriptError(f"line {lineno}: ACCEPT takes no argument")
            # Connection 1 is accepted implicitly; a leading ACCEPT before
            # any other directive is allowed and changes nothing.
            if len(script.connections) > 1 or script.connections[0]:
                script.connections.append([])
                script.accept_lines.append(lineno)
            continue
        if word == "EXPECT-NO-CONNECT":
            _number(arg, lineno, word)
            script.no_connect = step
            continue
        if word in ("SLEEP", "EXPECT-NOTHING"):
            _number(arg, lineno, word)
        elif word == "WITHIN":
            step.arg = str(_number(arg, lineno, word)) if arg else "0"
        elif word == "EXPECT-CLOSE" and arg:
            _number(arg, lineno, word)
        elif word in ("TLS", "TLS-FAIL", "CLOSE") and arg:
            raise ScriptError(f"line {lineno}: {word} takes no argument")
        elif word == "DATA":
            if arg and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", arg):
                raise ScriptError(f"line {lineno}: bad variable name {arg!r}")
            step.arg = arg or "data"
        elif word == "SET":
            vname, _, value = arg.partition(" ")
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", vname):
                raise ScriptError(f"line {lineno}: SET needs a variable name")
            hd = re.fullmatch(r"<<(\S+)", value.strip())
            if hd:
                body = []
                while i < len(lines) and lines[i].rstrip("\r") != hd.group(1):
                    body.append(lines[i].rstrip("\r"))
                    i += 1
                if i == len(lines):
                    raise ScriptError(f"line {lineno}: no {hd.group(1)!r} "
                                      "line ends this SET block")
                i += 1
                value = "".join(b + "\r\n" for b in body)
            step.arg, step.value = vname, value
        script.connections[-1].append(step)
    return script


def load_script(path):
    with open(path, encoding="utf-8") as f:
        return parse_script(f.read(), name=path)


def script_path(name):
    """Path of a ready script in scripts/, e.g. script_path('smtp-basic')."""
    if not name.endswith(".txt"):
        name += ".txt"
    return os.path.join(SCRIPTS_DIR, name)


# --------------------------------------------------------------------------
# One client connection: a socket (plain, later maybe TLS) and our own read
# buffer, so that we see exactly which bytes arrived before a TLS upgrade.
# --------------------------------------------------------------------------

class _Timeout(Exception):
    pass


class _Stopped(Exception):
    pass


class _Abort(Exception):
    """A failure has been recorded; unwind the script."""


def _show(b):
    """Bytes of one line -> transcript text (bare CR/LF made visible)."""
    s = b.decode("utf-8", "surrogateescape")
    return s.replace("\r", "\\r").replace("\n", "\\n")


class _Conn:
    def __init__(self, server, sock, number, peer):
        self.server = server
        self.sock = sock
        self.number = number
        self.peer = peer
        self.buf = b""
        self.eof = False            # the client closed (or reset, or TLS abort)
        self.why_closed = ""        # e.g. "TLS handshake failed: ..."
        self.closed_by_us = False
        self.pending = []           # S+: lines waiting for one send()

    # -- reading ----------------------------------------------------------

    def _recv(self, until):
        """Read more bytes into buf; sets eof.  Raises _Timeout/_Stopped."""
        while True:
            if self.closed_by_us:
                self.eof = True
                self.why_closed = self.why_closed or "the server closed it"
                return
            if self.server._stop.is_set():
                raise _Stopped()
            left = until - time.monotonic()
            if left <= 0:
                raise _Timeout()
            self.sock.settimeout(min(left, SLICE))
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            except (ConnectionError, ssl.SSLError, OSError) as e:
                self._mark_eof("<reset>", f"connection reset ({e})")
                return
            if not data:
                self._mark_eof("<closed>", "client closed the connection")
                return
            self.buf += data
            return

    def _mark_eof(self, what, why):
        if not self.eof:
            self.eof = True
            self.why_closed = self.why_closed or why
            self.server._record("C", what)

    def peek_line(self, until):
        """Next client line without consuming it.

        Returns (text, terminator) with terminator b"\\r\\n", b"\\n" or b""
        (unterminated line before EOF), or None once the client has closed.
        """
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                raw = self.buf[:nl + 1]
                if raw.endswith(b"\r\n"):
                    return raw[:-2], b"\r\n"
                return raw[:-1], b"\n"
            if self.eof:
                return (self.buf, b"") if self.buf else None
            if len(self.buf) > MAX_LINE:
                self.server._fail_now(f"client line longer than {MAX_LINE} "
                                      "octets", got=_show(self.buf[:200]))
            self._recv(until)

    def take_line(self):
        """Consume the line peek_line() returned and record it."""
        nl = self.buf.find(b"\n")
        raw = self.buf[:nl + 1] if nl >= 0 else self.buf
        self.buf = self.buf[len(raw):]
        if raw.endswith(b"\r\n"):
            raw = raw[:-2]
        elif raw.endswith(b"\n"):
            raw = raw[:-1]
        return self.server._record("C", _show(raw))

    def read_data(self, until):
        """Read an SMTP DATA body through CRLF.CRLF; returns the raw body
        (dot-stuffed, ending in CRLF unless it is empty)."""
        while True:
            # The body is "implicitly preceded by CRLF" (RFC 5321 4.1.1.4),
            # so an empty body is just ".\r\n".
            if self.buf.startswith(b".\r\n"):
                self.buf = self.buf[3:]
                return b""
            end = self.buf.find(b"\r\n.\r\n")
            if end >= 0:
                body = self.buf[:end + 2]
                self.buf = self.buf[end + 5:]
                return body
            if self.eof:
                return None
            if len(self.buf) > MAX_DATA:
                self.server._fail_now(f"DATA body over {MAX_DATA} octets")
            self._recv(until)

    def poll_unread(self):
        """Anything the client sent that nobody read?  Waits a tiny bit."""
        if not self.buf and not self.eof:
            try:
                self._recv(time.monotonic() + 0.01)
            except _Timeout:
                pass
        return bool(self.buf)

    # -- writing ----------------------------------------------------------

    def flush(self, until):
        """Send the queued lines in one send() call and record them.

        Once the client is gone, lines are recorded as "NOT SENT:" and
        dropped, not failed: the next directive that needs the client (C:,
        DATA) fails, and EXPECT-CLOSE passes.  So "TLS" + "S: greeting" +
        "EXPECT-CLOSE" passes for a client that rejects the certificate in
        the handshake and for one that hangs up after it."""
        if not self.pending:
            return
        lines, self.pending = self.pending, []
        if self.closed_by_us:
            self.server._fail_now("the server closed this connection, but "
                                  "the script sends: " + lines[0])
        if self.eof:
            for text in lines:
                self.server._record("NOT SENT", text.replace("\n", "\\n"))
            return
        payload = "".join(x + "\r\n" for x in lines)
        data = payload.encode("utf-8", "surrogateescape")
        self.sock.settimeout(max(until - time.monotonic(), 0.01))
        try:
            # One sendall of < 16 KiB on loopback is one segment (TCP_NODELAY
            # is set) or one TLS record: that is what S+: promises.
            self.sock.sendall(data)
        except socket.timeout:
            raise _Timeout() from None
        except (ConnectionError, ssl.SSLError, OSError) as e:
            self._mark_eof("<reset>", f"send failed ({e})")
            for text in lines:
                self.server._record("NOT SENT", text.replace("\n", "\\n"))
            return
        shown = payload[:-2].split("\r\n")
        for n, text in enumerate(shown):
            self.server._record("S" if n == len(shown) - 1 else "S+",
                                text.replace("\n", "\\n"))

    def close(self, record):
        if not self.closed_by_us:
            self.closed_by_us = True
            try:
                if isinstance(self.sock, ssl.SSLSocket) and not self.eof:
                    # Say close_notify, as real servers do; a client that
                    # sees a bare FIN on TLS reports a "non-properly
                    # terminated" connection instead.
                    self.sock.settimeout(0.05)
                    self.sock.unwrap()
            except (OSError, ValueError):
                pass
            try:
                self.sock.close()
            except OSError:
                pass
            if record:
                self.server._record("S", "<closed>")


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------

class ProtoServer:
    """A scripted server running in a background thread.

    script: script text, or a Script from parse_script()/load_script().
    cert, key: PEM files for TLS/STARTTLS (needed by TLS directives).
    tls_implicit: start every connection with a TLS handshake (IMAPS/SMTPS).
    timeout: seconds the whole script may take; then it fails.
    transcript_path: if set, the transcript is also written there, live.
    grace: seconds to keep recording client lines after a failure.
    """

    def __init__(self, script, *, cert=None, key=None, tls_implicit=False,
                 timeout=10.0, transcript_path=None, host="127.0.0.1",
                 grace=GRACE):
        if isinstance(script, str):
            script = parse_script(script)
        self.script = script
        self.cert, self.key = cert, key
        self.tls_implicit = tls_implicit
        self.timeout = timeout
        self.grace = grace
        self.host = host
        self.port = None
        self.transcript = []          # list of "KIND: text" strings
        self.result = None            # dict once finished
        self.vars = dict(BUILTIN_VARS)
        self.data = []
        self.transcript_path = transcript_path
        self._tfile = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._listener = None
        self._thread = None
        self._conn = None
        self._step = None
        self._fail_info = None
        self._tls_ctx = None
        self._deadline = None
        self._within = 0.0          # WITHIN: per-wait limit (0 = none)
        self._connections = 0

    # -- public API -----------------------------------------------------

    def start(self):
        """Bind 127.0.0.1:0, start the script thread; returns self."""
        if self.cert:
            self._tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls_ctx.load_cert_chain(self.cert, self.key)
        if self.transcript_path:
            self._tfile = open(self.transcript_path, "wb")
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((self.host, 0))
        self._listener.listen(8)
        self.port = self._listener.getsockname()[1]
        self._t0 = time.monotonic()
        self._deadline = self._t0 + self.timeout
        self._thread = threading.Thread(target=self._main, daemon=True,
                                        name=f"proto:{self.port}")
        self._thread.start()
        return self

    def wait(self, timeout=None):
        """Block until the script has ended; returns the result dict.

        timeout defaults to the script's own timeout plus a margin, so it
        never blocks for ever."""
        if timeout is None:
            timeout = self.timeout + self.grace + 5
        if not self._done.wait(timeout):
            self.stop()
            self._done.wait(5)
        return self.result

    def stop(self):
        """Abort the script (a still running script then fails)."""
        self._stop.set()
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(10)

    def transcript_text(self):
        return "".join(line + "\n" for line in self.transcript)

    def client_lines(self):
        """The client's lines (C: events, without "<closed>"/"<reset>")."""
        return [t[3:] for t in self.transcript
                if t.startswith("C: ") and t not in ("C: <closed>",
                                                     "C: <reset>")]

    def __enter__(self):
        return self.start() if self.port is None else self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- recording --------------------------------------------------------

    def _record(self, kind, text):
        """Append one transcript event; returns its 1-based line number."""
        line = f"{kind}: {text}"
        with self._lock:
            self.transcript.append(line)
            n = len(self.transcript)
        if self._tfile:
            self._tfile.write(line.encode("utf-8", "surrogateescape") + b"\n")
            self._tfile.flush()
        return n

    def _fail_now(self, what, expected=None, got=None, tline=None):
        """Record the first failure and unwind the script."""
        step = self._step
        where = f"script line {step.line}" if step and step.line else "script"
        n = self._record("FAIL", f"{where}: {what}")
        if self._fail_info is None:
            self._fail_info = {
                "error": what,
                "script_line": step.line if step and step.line else None,
                "transcript_line": tline or n,
                "expected": expected,
                "got": got,
            }
        raise _Abort()

    # -- main loop ----------------------------------------------------------

    def _main(self):
        try:
            conns = self.script.connections
            for number, steps in enumerate(conns, 1):
                # Until the connection is there, failures point at ACCEPT.
                self._step = Step("ACCEPT", "",
                                  self.script.accept_lines[number - 1])
                conn = self._accept(number)
                self._run_connection(conn, steps)
            if self.script.no_connect:
                self._expect_no_connect(self.script.no_connect)
        except _Abort:
            self._grace()
        except _Stopped:
            if self._fail_info is None:
                try:
                    self._fail_now("stopped before the script ended")
                except _Abort:
                    pass
        except Exception as e:              # a bug here must not hang tests
            try:
                self._fail_now(f"internal error: {type(e).__name__}: {e}")
            except _Abort:
                pass
        finally:
            self._finish()

    def _accept(self, number):
        self._listener.settimeout(SLICE)
        while True:
            if self._stop.is_set():
                raise _Stopped()
            if time.monotonic() >= self._deadline:
                self._fail_now(f"timeout: no client connected "
                               f"(connection {number})")
            try:
                sock, peer = self._listener.accept()
                break
            except socket.timeout:
                continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._connections = number
        self._conn = _Conn(self, sock, number, peer)
        self._record("ACCEPT", f"connection {number} from "
                     f"{peer[0]}:{peer[1]}")
        return self._conn

    def _expect_no_connect(self, step):
        """EXPECT-NO-CONNECT secs: no further connection may arrive."""
        self._step = step
        until = min(self._deadline, time.monotonic() + float(step.arg))
        self._listener.settimeout(SLICE)
        while time.monotonic() < until:
            if self._stop.is_set():
                raise _Stopped()
            try:
                sock, peer = self._listener.accept()
            except socket.timeout:
                continue
            self._record("ACCEPT", f"connection {self._connections + 1} "
                         f"from {peer[0]}:{peer[1]}")
            sock.close()
            self._record("S", "<closed>")
            self._fail_now("unexpected connection "
                           f"{self._connections + 1}: the script has no "
                           "more connections")

    def _run_connection(self, conn, steps):
        if self.tls_implicit and not (steps and steps[0].op in
                                      ("TLS", "TLS-FAIL")):
            steps = [Step("TLS", "", 0)] + list(steps)
        skip_sends = False          # set by a C?: that did not match
        for step in steps:
            self._step = step
            try:
                if step.op in ("S", "S+"):
                    if not skip_sends:
                        conn.pending.append(self._subst(step.arg))
                        if step.op == "S":
                            conn.flush(self._deadline)
                    continue
                skip_sends = False
                conn.flush(self._deadline)
                if step.op == "C?":
                    skip_sends = not self._optional_line(conn, step)
                else:
                    getattr(self, "_do_" + step.op.replace("-", "_")
                            .lower())(conn, step)
            except _Timeout:
                what = step.op + (": " + step.arg if step.arg else "")
                limit = (f"WITHIN {self._within:g} s" if self._within and
                         time.monotonic() < self._deadline
                         else f"script timeout {self.timeout:g} s")
                self._fail_now(f"timeout ({limit}) at {what}",
                               expected=step.arg or step.op)
        self._step = None
        conn.flush(self._deadline)
        self._end_connection(conn)

    def _end_connection(self, conn):
        # "Expect nothing else": a line that already arrived and that no
        # directive read is a failure.
        if not conn.closed_by_us and not conn.eof and conn.poll_unread():
            try:
                got = conn.peek_line(time.monotonic() + 0.05)
            except _Timeout:
                got = (conn.buf, b"")       # a partial line is enough
            n = conn.take_line()
            self._fail_now("unexpected client line after the end of "
                           f"connection {conn.number}'s script",
                           got=_show(got[0]) if got else None, tline=n)
        conn.close(record=not conn.eof)

    def _grace(self):
        """After a failure, keep recording what the client sends for a
        moment, so the transcript shows what it did next."""
        conn = self._conn
        if conn is None or conn.closed_by_us:
            return
        until = time.monotonic() + self.grace
        conn.pending = []           # never send after a failure
        try:
            while not conn.eof:
                if conn.peek_line(until) is None:
                    break
                conn.take_line()
        except (_Timeout, _Stopped, _Abort):
            pass
        conn.close(record=not conn.eof)

    def _finish(self):
        if self._conn:
            self._conn.close(record=False)
        try:
            self._listener.close()
        except OSError:
            pass
        info = self._fail_info or {"error": None, "script_line": None,
                                   "transcript_line": None, "expected": None,
                                   "got": None}
        user_vars = {k: v for k, v in self.vars.items()
                     if k not in BUILTIN_VARS}
        self.result = dict(ok=self._fail_info is None, **info,
                           connections=self._connections, port=self.port,
                           elapsed=round(time.monotonic() - self._t0, 3),
                           vars=user_vars, data=list(self.data))
        if self._tfile:
            self._tfile.close()
        self._done.set()

    # -- directives -------------------------------------------------------

    def _subst(self, text, for_regex=False):
        def repl(m):
            name = m.group(2)
            if name not in self.vars:
                self._fail_now(f"undefined variable ${{{name}}}")
            v = self.vars[name]
            if m.group(1) == "#":
                return str(len(v.encode("utf-8", "surrogateescape")))
            return re.escape(v) if for_regex else v
        return VAR_RE.sub(repl, text)

    def _match(self, step, text):
        rx = self._subst(step.arg, for_regex=True)
        m = re.fullmatch(rx, text)
        if m:
            self.vars.update({k: v for k, v in m.groupdict().items()
                              if v is not None})
        return m

    def _until(self):
        """When the current wait for the client must end: the script's
        deadline, or sooner under WITHIN."""
        if self._within:
            return min(self._deadline, time.monotonic() + self._within)
        return self._deadline

    def _do_within(self, conn, step):
        self._within = float(step.arg)

    def _do_c(self, conn, step):
        got = conn.peek_line(self._until())
        if got is None:
            self._fail_now(f"client closed ({conn.why_closed}); expected a "
                           "line matching: " + step.arg, expected=step.arg,
                           got="<closed>")
        text, term = got
        n = conn.take_line()
        shown = _show(text)
        if term != b"\r\n":
            self._fail_now("client line not terminated by CRLF",
                           expected=step.arg, got=shown, tline=n)
        if not self._match(step, text.decode("utf-8", "surrogateescape")):
            self._fail_now("unexpected client line", expected=step.arg,
                           got=shown, tline=n)

    def _optional_line(self, conn, step):
        got = conn.peek_line(self._until())
        if got is None or got[1] != b"\r\n":
            return False
        if not self._match(step, got[0].decode("utf-8", "surrogateescape")):
            return False
        conn.take_line()
        return True

    def _do_data(self, conn, step):
        body = conn.read_data(self._until())
        if body is None:
            self._fail_now("client closed during DATA", expected="DATA body",
                           got="<closed>")
        lines = body.split(b"\r\n")[:-1] if body else []
        for raw in lines:
            self._record("C", _show(raw))
        self._record("C", ".")
        # Undo dot-stuffing (RFC 5321 4.5.2): only after CRLF, as servers do.
        plain = b"\r\n".join(x[1:] if x.startswith(b".") else x
                             for x in lines) + (b"\r\n" if lines else b"")
        text = plain.decode("utf-8", "surrogateescape")
        self.vars[step.arg] = text
        self.data.append(text)

    def _do_tls(self, conn, step):
        self._handshake(conn, step, must_fail=False)

    def _do_tls_fail(self, conn, step):
        self._handshake(conn, step, must_fail=True)

    def _handshake(self, conn, step, must_fail):
        if self._tls_ctx is None:
            self._fail_now("TLS directive but the server has no cert/key")
        if conn.eof:
            self._fail_now(f"client closed ({conn.why_closed}) before TLS")
        if conn.buf:
            # RFC 3207 / CVE-2011-0411 style injection: bytes pipelined after
            # STARTTLS would be read as if they came over TLS.
            n = conn.take_line()
            self._fail_now("client sent data after STARTTLS, before the TLS "
                           "handshake", got=self.transcript[n - 1][3:],
                           tline=n)
        tls = self._tls_ctx.wrap_socket(conn.sock, server_side=True,
                                        do_handshake_on_connect=False)
        tls.settimeout(max(self._deadline - time.monotonic(), 0.01))
        try:
            tls.do_handshake()
        except socket.timeout:
            raise _Timeout() from None
        except (ssl.SSLError, ConnectionError, OSError) as e:
            text = str(e) or type(e).__name__
            text = re.sub(r"\s*\(_ssl\.c:\d+\)", "", text)
            conn.sock = tls
            self._record("TLS", f"handshake failed: {text}")
            conn._mark_eof("<closed>", f"TLS handshake failed: {text}")
            return
        conn.sock = tls
        self._record("TLS", f"handshake ok ({tls.version()}, "
                     f"{tls.cipher()[0]})")
        if must_fail:
            self._fail_now("the client completed the TLS handshake; it "
                           "should have rejected the certificate",
                           expected="TLS handshake failure", got="handshake ok")

    def _do_expect_close(self, conn, step):
        until = self._until()
        if step.arg:
            until = min(until, time.monotonic() + float(step.arg))
        got = conn.peek_line(until)
        if got is not None:
            n = conn.take_line()
            self._fail_now("client sent a line, but it should have closed "
                           "the connection", expected="<closed>",
                           got=_show(got[0]), tline=n)

    def _do_expect_nothing(self, conn, step):
        until = min(self._deadline, time.monotonic() + float(step.arg))
        try:
            got = conn.peek_line(until)
        except _Timeout:
            return
        if got is not None:
            n = conn.take_line()
            self._fail_now("client sent a line, but should have sent nothing",
                           expected="nothing", got=_show(got[0]), tline=n)

    def _do_close(self, conn, step):
        conn.close(record=True)

    def _do_sleep(self, conn, step):
        until = time.monotonic() + float(step.arg)
        if until > self._deadline:
            raise _Timeout()
        while time.monotonic() < until:
            if self._stop.is_set():
                raise _Stopped()
            time.sleep(min(SLICE, max(until - time.monotonic(), 0)))

    def _do_set(self, conn, step):
        self.vars[step.arg] = step.value


# --------------------------------------------------------------------------
# Running the CLI in a child process (for tests that prefer a process)
# --------------------------------------------------------------------------

class ProtoProcess:
    """The same server as a child process running "proto.py serve".

    script_file: path of a script.  Files go to workdir (a new mktemp dir if
    None).  .port is known after start(); wait() returns the result dict."""

    def __init__(self, script_file, *, cert=None, key=None, tls_implicit=False,
                 timeout=10.0, workdir=None):
        self.script_file = script_file
        self.cert, self.key = cert, key
        self.tls_implicit = tls_implicit
        self.timeout = timeout
        self.workdir = workdir or tempfile.mkdtemp(prefix="proto-")
        self.port_file = os.path.join(self.workdir, "port")
        self.transcript_file = os.path.join(self.workdir, "transcript")
        self.result_file = os.path.join(self.workdir, "result.json")
        self.proc = None
        self.port = None
        self.result = None

    def start(self):
        cmd = [sys.executable, os.path.abspath(__file__), "serve",
               self.script_file, "--port-file", self.port_file,
               "--transcript", self.transcript_file,
               "--result", self.result_file, "--timeout", str(self.timeout)]
        if self.cert:
            cmd += ["--cert", self.cert, "--key", self.key]
        if self.tls_implicit:
            cmd.append("--tls-implicit")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            err = self.proc.stderr.read()
            self.proc.wait()
            raise RuntimeError(f"proto.py serve did not start: {err.strip()}")
        self.port = int(line)
        return self

    def wait(self, timeout=None):
        if timeout is None:
            timeout = self.timeout + GRACE + 5
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        with open(self.result_file, encoding="utf-8") as f:
            self.result = json.load(f)
        return self.result

    def transcript_text(self):
        with open(self.transcript_file, encoding="utf-8",
                  errors="surrogateescape") as f:
            return f.read()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        return False


# --------------------------------------------------------------------------
# Throwaway certificates
# --------------------------------------------------------------------------

@dataclass
class Certs:
    ca: str              # CA certificate (what a client trusts: ca_file)
    good_cert: str       # signed by ca, SAN DNS:localhost, IP:127.0.0.1
    good_key: str
    wrong_cert: str      # signed by ca, but for wrong.example only
    wrong_key: str
    untrusted_cert: str  # self-signed, for localhost/127.0.0.1 (unknown issuer)
    untrusted_key: str
    expired_cert: str = ""  # signed by ca for localhost/127.0.0.1, but its
    expired_key: str = ""   # days ended a year ago ("" without faketime)


def _openssl(*args, faketime=None):
    pre = ["faketime", "-f", faketime] if faketime else []
    r = subprocess.run(pre + ["openssl", *args], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl " + " ".join(args) + ": " + r.stdout)


def make_certs(directory, days=30):
    """Create a throwaway CA and server certificates in directory.

    EC P-256 keys: fast to make, and GnuTLS's "NORMAL" priority (libetpan,
    libcurl-gnutls) accepts them."""
    os.makedirs(directory, exist_ok=True)
    p = lambda name: os.path.join(directory, name)     # noqa: E731
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", p("ca.key"), "-out", p("ca.pem"),
             "-days", str(days), "-subj", "/CN=botu proto test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def leaf(name, cn, san, faketime=None):
        ext = p(name + ".ext")
        with open(ext, "w") as f:
            f.write(f"subjectAltName={san}\n"
                    "basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectKeyIdentifier=hash\n"
                    "authorityKeyIdentifier=keyid\n")
        _openssl("req", *ec, "-keyout", p(name + ".key"), "-out",
                 p(name + ".csr"), "-subj", "/CN=" + cn)
        _openssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.pem"),
                 "-CAkey", p("ca.key"), "-CAcreateserial", "-days", str(days),
                 "-extfile", ext, "-out", p(name + ".pem"),
                 faketime=faketime)

    leaf("good", "localhost", "DNS:localhost,IP:127.0.0.1")
    leaf("wrong", "wrong.example", "DNS:wrong.example")
    _openssl("req", "-x509", *ec, "-keyout", p("untrusted.key"), "-out",
             p("untrusted.pem"), "-days", str(days), "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")
    expired = shutil.which("faketime") is not None
    if expired:  # signed "a year ago" for `days` days
        leaf("expired", "localhost", "DNS:localhost,IP:127.0.0.1",
             faketime="-365d")
    return Certs(ca=p("ca.pem"), good_cert=p("good.pem"),
                 good_key=p("good.key"), wrong_cert=p("wrong.pem"),
                 wrong_key=p("wrong.key"), untrusted_cert=p("untrusted.pem"),
                 untrusted_key=p("untrusted.key"),
                 expired_cert=p("expired.pem") if expired else "",
                 expired_key=p("expired.key") if expired else "")


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

def _write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _cmd_serve(a):
    try:
        script = load_script(a.script)
    except (OSError, ScriptError) as e:
        print(f"proto.py: {a.script}: {e}", file=sys.stderr)
        return 2
    if (a.cert is None) != (a.key is None):
        print("proto.py: --cert and --key go together", file=sys.stderr)
        return 2
    srv = ProtoServer(script, cert=a.cert, key=a.key,
                      tls_implicit=a.tls_implicit, timeout=a.timeout,
                      transcript_path=a.transcript)
    srv.start()
    if a.port_file:
        _write_atomic(a.port_file, f"{srv.port}\n")
    print(srv.port, flush=True)
    res = srv.wait()
    if a.result:
        _write_atomic(a.result, json.dumps(res, indent=1, ensure_ascii=True,
                                           default=str) + "\n")
    if not res["ok"]:
        print(f"proto.py: FAIL: {res['error']} (script line "
              f"{res['script_line']}, transcript line "
              f"{res['transcript_line']})", file=sys.stderr)
    return 0 if res["ok"] else 1


def _cmd_check(a):
    rc = 0
    for path in a.scripts:
        try:
            s = load_script(path)
            print(f"{path}: ok, {len(s.connections)} connection(s)")
        except (OSError, ScriptError) as e:
            print(f"{path}: {e}", file=sys.stderr)
            rc = 2
    return rc


def _cmd_make_certs(a):
    c = make_certs(a.dir)
    print(json.dumps(c.__dict__, indent=1))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="proto.py", description="scripted IMAP/SMTP test servers")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="play a script on 127.0.0.1:<free port>")
    s.add_argument("script")
    s.add_argument("--port-file")
    s.add_argument("--transcript")
    s.add_argument("--result")
    s.add_argument("--cert")
    s.add_argument("--key")
    s.add_argument("--tls-implicit", action="store_true")
    s.add_argument("--timeout", type=float, default=10.0)
    s.set_defaults(func=_cmd_serve)
    c = sub.add_parser("check", help="parse scripts")
    c.add_argument("scripts", nargs="+")
    c.set_defaults(func=_cmd_check)
    m = sub.add_parser("make-certs", help="throwaway CA and certificates")
    m.add_argument("dir")
    m.set_defaults(func=_cmd_make_certs)
    a = ap.parse_args(argv)
    return a.func(a)


if __name__ == "__main__":
    sys.exit(main())
