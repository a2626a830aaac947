"""botutest - helpers for botu's integration tests (stdlib only).

A test file shares one server set (a real Dovecot and Postfix on 127.0.0.1,
made by tests/servers.sh) between all its tests:

    import os, sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
    import botutest

    class Joining(botutest.ServersTestCase):
        def test_hello(self):
            s = self.servers
            s.send("piet@example.org", "annerike@lsabewoners.nl",
                   botutest.make_mail("piet@example.org",
                                      "annerike@lsabewoners.nl", "Hallo"))
            mail = s.wait_for_mail("annerike@lsabewoners.nl",
                                   botutest.subject("Hallo"))
            self.assertNotIn("\\\\Seen", mail.flags)

Every user name logs in with the one password (BOTU_TEST_PASSWORD), and
mail to any address in the test domains (lsabewoners.nl, example.org,
example.net, botu.test) lands in that user's INBOX; user+detail@domain
lands in user@domain's. Mail to any other domain bounces back to the sender.

The server set is stopped when the test process exits, also on an error,
Ctrl-C or SIGTERM. With BOTU_TEST_ENV=DIR/env the tests use that running
set instead (start one with `tests/servers.sh start DIR`), and leave it
running: handy when writing a test.
"""
import atexit
import collections
import email
import email.message
import email.policy
import email.utils
import imaplib
import os
import re
import signal
import smtplib
import ssl
import subprocess
import tempfile
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
SERVERS_SH = os.path.join(REPO, "tests", "servers.sh")

# The botu binary under test (run.sh passes BOTU_BIN through).
BOTU_BIN = os.environ.get("BOTU_BIN") or os.path.join(REPO, "botu")

# The list's address in the tests, as in botu.conf.example.
LIST_ADDRESS = "annerike@lsabewoners.nl"

# One message: its UID, its flags (a tuple of str such as "\\Seen" or
# "$BotuDone") and the parsed message (email.message.EmailMessage).
Mail = collections.namedtuple("Mail", "uid flags msg")


def deliver_group():
    """DELIVER_GROUP of include/botu/deliver.h: the answers per SMTP
    connection that may wait for one commit of their results (so many,
    and the one in flight, may go out twice after a crash)."""
    with open(os.path.join(REPO, "include", "botu", "deliver.h")) as f:
        m = re.search(r"^#define DELIVER_GROUP (\d+)", f.read(), re.M)
    assert m, "no DELIVER_GROUP in deliver.h"
    return int(m.group(1))


def load_env(path):
    """Reads an env file of tests/servers.sh into a dict of str."""
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                env[key] = value
    return env


def subject(text):
    """A predicate for wait_for_mail: the Subject is exactly text."""
    return lambda msg: msg["Subject"] == text


def make_mail(from_, to, subject_, body="Hallo.\n", headers=None):
    """A small text mail as bytes (CRLF line ends), ready for send/append."""
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"] = from_
    msg["To"] = to
    msg["Subject"] = subject_
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(domain="botu.test")
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    return msg.as_bytes()


def write_config(env, path, overrides=None, user=LIST_ADDRESS):
    """Writes a botu config file for the server set of env (a dict from
    load_env, or Servers.env) to path, and returns path.

    [imap] uses IMAPS, [smtp] the submission port with STARTTLS, both as
    user with the test password and the test CA. The database goes next to
    path. overrides is {"section": {"key": value}}; a value None removes
    that key, e.g. {"imap": {"security": "starttls",
    "port": env["BOTU_TEST_IMAP_PORT"]}, "list": {"moderators": "x@y"}}.
    """
    conf = {
        "list": {
            "address": user,
            "database": os.path.join(os.path.dirname(os.path.abspath(path)),
                                     "botu.db"),
        },
        "imap": {
            "host": "127.0.0.1",
            "port": env["BOTU_TEST_IMAPS_PORT"],
            "security": "tls",
            "username": user,
            "password_file": env["BOTU_TEST_PASSWORD_FILE"],
            "ca_file": env["BOTU_TEST_CA"],
        },
        "smtp": {
            "host": "127.0.0.1",
            "port": env["BOTU_TEST_SUBMISSION_PORT"],
            "security": "starttls",
            "username": user,
            "password_file": env["BOTU_TEST_PASSWORD_FILE"],
            "ca_file": env["BOTU_TEST_CA"],
        },
    }
    templates = os.path.join(REPO, "templates")
    if os.path.isdir(templates):  # run from the source tree, not installed
        conf["list"]["templates"] = templates
    for section, keys in (overrides or {}).items():
        conf.setdefault(section, {})
        for key, value in keys.items():
            if value is None:
                conf[section].pop(key, None)
            else:
                conf[section][key] = value
    with open(path, "w") as f:
        f.write("# written by tests/integration/lib/botutest.py\n")
        for section, keys in conf.items():
            f.write(f"\n[{section}]\n")
            for key, value in keys.items():
                f.write(f"{key} = {value}\n")
    return path


class Servers:
    """One server set of tests/servers.sh: its env and helpers to use it."""

    # Started by this process and not stopped yet; stopped at exit.
    _running = set()

    def __init__(self, env, owned):
        self.env = env
        self.dir = env["BOTU_TEST_DIR"]
        self.password = env["BOTU_TEST_PASSWORD"]
        self.ca = env["BOTU_TEST_CA"]
        self.owned = owned  # started here, so stopped here

    @classmethod
    def start(cls, main_cf=None, submission_opts=None):
        """Starts a new server set in a fresh folder (under $BOTU_TEST_TMP
        when run.sh set it, else /tmp) and returns it.

        main_cf: lines for Postfix's main.cf (after, so overriding, the
        usual ones); submission_opts: {"name": "value"} given as -o options
        to the services with AUTH. For a stricter provider, e.g.
        submission_opts={"smtpd_client_message_rate_limit": "30"}."""
        _install_signal_handlers()
        parent = os.environ.get("BOTU_TEST_TMP") or "/tmp"
        d = tempfile.mkdtemp(prefix="botu-test.", dir=parent)
        env = dict(os.environ)
        env["BOTU_TEST_POSTFIX_MAIN_CF"] = main_cf or ""
        opts = []
        for name, value in (submission_opts or {}).items():
            if re.search(r"\s", f"{name}={value}"):
                raise ValueError(f"no spaces in -o {name}={value}")
            opts.append(f"{name}={value}")
        env["BOTU_TEST_POSTFIX_SUBMISSION_OPTS"] = " ".join(opts)
        r = subprocess.run([SERVERS_SH, "start", d], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=120, env=env)
        if r.returncode != 0:
            subprocess.run([SERVERS_SH, "stop", d], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL)
            raise RuntimeError(f"tests/servers.sh start failed:\n{r.stderr}")
        s = cls(load_env(os.path.join(d, "env")), owned=True)
        cls._running.add(s)
        return s

    @classmethod
    def attach(cls, env_path):
        """A server set that runs already (not stopped by this process)."""
        return cls(load_env(env_path), owned=False)

    def stop(self, keep=False):
        """Stops the server set and removes its folder (unless keep)."""
        args = [SERVERS_SH, "stop"] + (["--keep"] if keep else []) + [self.dir]
        Servers._running.discard(self)
        subprocess.run(args, check=True, stdin=subprocess.DEVNULL, timeout=60)

    def port(self, name):
        """The port of a role: "imap", "imaps", "imaps_wrong", "lmtp",
        "smtp", "submission", "submissions", "submission_wrong"."""
        return int(self.env[f"BOTU_TEST_{name.upper()}_PORT"])

    def ssl_context(self):
        """A client context that trusts the test CA only and checks names."""
        return ssl.create_default_context(cafile=self.ca)

    # ------------------------------------------------------------ IMAP

    def imap(self, user=LIST_ADDRESS, starttls=False):
        """A logged-in IMAP client for user: IMAPS (imaplib.IMAP4_SSL), or
        plain IMAP after STARTTLS. The certificate is checked against the
        test CA for 127.0.0.1. Use it in a with-statement to log out."""
        if starttls:
            c = imaplib.IMAP4("127.0.0.1", self.port("imap"), timeout=10)
            c.starttls(ssl_context=self.ssl_context())
        else:
            c = imaplib.IMAP4_SSL("127.0.0.1", self.port("imaps"),
                                  ssl_context=self.ssl_context(), timeout=10)
        c.login(user, self.password)
        return c

    def append(self, user, msg, mailbox="INBOX", flags=(), date=None):
        """APPENDs msg (bytes) to user's mailbox (made if missing) with the
        given flags, e.g. ("\\\\Seen", "$Label1"); returns the new UID."""
        with self.imap(user) as c:
            if mailbox.upper() != "INBOX":
                c.create(_quote(mailbox))  # fails harmlessly if it exists
            flag_list = "(" + " ".join(flags) + ")" if flags else None
            when = imaplib.Time2Internaldate(date) if date else None
            typ, data = c.append(_quote(mailbox), flag_list, when, msg)
            if typ != "OK":
                raise RuntimeError(f"APPEND to {mailbox} failed: {data}")
            m = re.search(rb"\[APPENDUID \d+ (\d+)\]", data[0] or b"")
            return int(m.group(1)) if m else None

    def fetch_all(self, user, mailbox="INBOX", client=None):
        """Every message of user's mailbox as a list of Mail, oldest first.
        Read-only (EXAMINE, BODY.PEEK): flags such as \\Seen stay as they
        are. A mailbox that does not exist gives []."""
        if client is None:
            with self.imap(user) as c:
                return self.fetch_all(user, mailbox, c)
        c = client
        typ, data = c.select(_quote(mailbox), readonly=True)
        if typ != "OK":
            return []
        if int(data[0]) == 0:
            return []
        typ, data = c.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
        if typ != "OK":
            raise RuntimeError(f"FETCH in {mailbox} failed: {data}")
        mails = []
        for i, item in enumerate(data):
            if not isinstance(item, tuple):
                continue
            meta = item[0]
            # FLAGS may also come after the literal, in the next item.
            if i + 1 < len(data) and isinstance(data[i + 1], bytes):
                meta += data[i + 1]
            uid = re.search(rb"UID (\d+)", meta)
            flags = re.search(rb"FLAGS \(([^)]*)\)", meta)
            mails.append(Mail(
                int(uid.group(1)),
                tuple(flags.group(1).decode().split()) if flags else (),
                email.message_from_bytes(item[1], policy=email.policy.default)))
        return sorted(mails, key=lambda m: m.uid)

    def wait_for_mail(self, user, predicate=None, timeout=10,
                      mailbox="INBOX"):
        """Polls user's mailbox until a message for which predicate(msg)
        is true (msg: EmailMessage; None: any message) is there, and
        returns it as a Mail. Fails the test (AssertionError) after timeout
        seconds, with what was there and the end of the mail logs."""
        deadline = time.monotonic() + timeout
        with self.imap(user) as c:
            while True:
                mails = self.fetch_all(user, mailbox, c)
                for m in mails:
                    if predicate is None or predicate(m.msg):
                        return m
                if time.monotonic() > deadline:
                    seen = [m.msg["Subject"] for m in mails]
                    raise AssertionError(
                        f"no matching mail for {user} in {mailbox} after "
                        f"{timeout} s; subjects there: {seen}\n{self.logs()}")
                time.sleep(0.1)

    def set_uidvalidity(self, user, value, mailbox="INBOX"):
        """Gives user's mailbox a new UIDVALIDITY, as a server may do."""
        self.doveadm("mailbox", "update", "--uid-validity", str(value),
                     "-u", user, mailbox)

    def doveadm(self, *args):
        """Runs doveadm against this Dovecot; returns its output."""
        r = subprocess.run([SERVERS_SH, "doveadm", self.dir, *args],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)}: {r.stderr}")
        return r.stdout

    # ------------------------------------------------------------ SMTP

    def send(self, from_, to, msg):
        """Injects msg (bytes) over plain SMTP (the port 25 role, no AUTH)
        with envelope sender from_ and recipient(s) to (str or list).
        Delivery is asynchronous: use wait_for_mail."""
        with smtplib.SMTP("127.0.0.1", self.port("smtp"), timeout=10) as s:
            s.sendmail(from_, [to] if isinstance(to, str) else list(to), msg)

    def submit(self, user, from_, to, msg, implicit_tls=False):
        """Sends msg like a mail client: submission with STARTTLS (or
        submissions, implicit TLS) and AUTH as user."""
        ctx = self.ssl_context()
        if implicit_tls:
            s = smtplib.SMTP_SSL("127.0.0.1", self.port("submissions"),
                                 context=ctx, timeout=10)
        else:
            s = smtplib.SMTP("127.0.0.1", self.port("submission"), timeout=10)
            s.starttls(context=ctx)
        with s:
            s.login(user, self.password)
            s.sendmail(from_, [to] if isinstance(to, str) else list(to), msg)

    def queue_size(self):
        """Messages in Postfix's queue not yet delivered or bounced."""
        q = self.env["BOTU_TEST_POSTFIX_QUEUE"]
        return sum(len(files) for sub in ("maildrop", "incoming", "active",
                                          "deferred", "hold")
                   for _, _, files in os.walk(os.path.join(q, sub)))

    def wait_queue_empty(self, timeout=10):
        """Waits until Postfix has delivered (or bounced) everything."""
        deadline = time.monotonic() + timeout
        while self.queue_size():
            if time.monotonic() > deadline:
                raise AssertionError(f"Postfix queue not empty after "
                                     f"{timeout} s\n{self.logs()}")
            time.sleep(0.1)

    # ------------------------------------------------------------ misc

    def write_config(self, path, overrides=None, user=LIST_ADDRESS):
        """write_config() for this server set."""
        return write_config(self.env, path, overrides, user)

    def logs(self, lines=30):
        """The last lines of the Postfix and Dovecot logs, for messages."""
        out = []
        for key in ("BOTU_TEST_POSTFIX_LOG", "BOTU_TEST_DOVECOT_LOG"):
            try:
                with open(self.env[key], errors="replace") as f:
                    tail = f.readlines()[-lines:]
            except OSError:
                tail = []
            out.append(f"--- {self.env[key]}\n" + "".join(tail))
        return "\n".join(out)


def instance_processes(d):
    """The running processes (pid -> command line) that belong to the server
    set in folder d: those naming d on their command line or in their
    environment (Postfix's MAIL_CONFIG), and the children of those. Zombies
    do not count. Independent of servers.sh's own bookkeeping, so a test can
    check that "stop" leaves nothing behind."""
    needle = (d.rstrip("/") + "/").encode()
    procs = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read().rpartition(b")")[2].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    env = f.read()
            except OSError:
                env = b""
        except OSError:
            continue
        if stat[0] != b"Z" and int(pid) != os.getpid():
            procs[int(pid)] = (int(stat[1]), cmd, env)
    mine = {pid for pid, (_, cmd, env) in procs.items()
            if needle in cmd or needle in env}
    grew = True
    while grew:  # add children, grandchildren, ...
        more = {pid for pid, (ppid, _, _) in procs.items() if ppid in mine}
        grew = not more <= mine
        mine |= more
    return {pid: procs[pid][1].replace(b"\0", b" ").decode(errors="replace")
            for pid in mine}


def _quote(mailbox):
    """A mailbox name as an IMAP string when it needs quotes."""
    if re.fullmatch(r"[A-Za-z0-9_.\-/]+", mailbox):
        return mailbox
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------- sharing

_shared = None


def shared_servers():
    """The server set shared by this test process: BOTU_TEST_ENV's, or one
    started on first use and stopped when the process exits."""
    global _shared
    if _shared is None:
        env_path = os.environ.get("BOTU_TEST_ENV")
        _shared = Servers.attach(env_path) if env_path else Servers.start()
    return _shared


class ServersTestCase(unittest.TestCase):
    """A TestCase with self.servers, the shared server set."""

    servers = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.servers = shared_servers()


@atexit.register
def _stop_all():
    for s in list(Servers._running):
        try:
            s.stop()
        except Exception as e:  # noqa: BLE001 - go on with the others
            print(f"botutest: stopping {s.dir} failed: {e}")


def _interrupt(signum, frame):
    # KeyboardInterrupt, not SystemExit: unittest records SystemExit raised
    # in a test as an error and goes on, but stops on KeyboardInterrupt.
    # Either way atexit then stops the servers.
    raise KeyboardInterrupt(f"signal {signum}")


def _install_signal_handlers():
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, _interrupt)
