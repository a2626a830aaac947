#!/usr/bin/python3
"""bench.py - botu's throughput and footprint, side by side with the
physical limit and with mlmmj (issue #13). Run through tests/bench/run.sh
(`make bench`, `make bench-smoke`), as root, with Debian's /usr/bin/python3.

Every figure that is compared is a ratio of two programs measured in the
same run, one after the other and in alternating order, medians of the
runs: the machine is shared and absolute figures drift.

1. Outbound: the digest to N members, one transaction each:
   tests/bench/enqueue.c adds the members and a few updates and notes and
   makes one issue with digest_issue() (one stored issue, a row without a
   body per member), then `botu outbox flush` renders each member's ~5 KB
   mail and sends it with [smtp] connections = 1 and 4 to Postfix's
   smtp-sink. References: smtp-source with the same size over 1 and 4
   connections (the limit of this machine), mlmmj-send 1.3.0 in its
   default per-recipient mode (no control/verp) on a smaller list, and
   botu's own SMTP client without the outbox (build/tests/smtp_driver).
   Every sink counts what it received; a count that is off fails the run.
2. Inbound: N generated mails (from tests/data/intent: mostly personal mail
   that botu leaves alone, some sign-ups, notes, bounces, auto-replies)
   written into a Maildir of the test Dovecot (tests/servers.sh), handled
   to committed state by `botu run --once --since`; reference: a
   /usr/bin/python3 imaplib loop with one UID FETCH BODY.PEEK[] a message
   (imap_fetch.py) on an identical mailbox. botu answers the sign-ups to
   smtp-sink.
3. Footprint: binary size, start-up time, peak RSS (what GNU time -v
   reports) of issuing the digest and of `botu outbox flush` sending it to
   1,000 / 10,000 / 100,000 members, and the database's growth per issue:
   made, then sent (each row's result recorded).
4. Limits (only with BENCH_LIMITS=1 or --limits; about 7 minutes): a
   digest to 200 members with max_per_minute = 30 to a Postfix that takes
   30 a minute.

Options: --smoke (a few seconds: 200 mails, one run, for make check; it
fails when something does not work, never on a slow ratio), --runs N,
--count N, --inbound N, --mlmmj N, --limits, --only 1,2,3,4, --botu PATH
(default ./botu: a benchmark measures the normal -O2 build; the smoke run
also works with build-asan/botu). The smoke run kills any program after
60 s and stops as a whole after 240 s: it can fail, not hang.
The table goes to stdout and to build/bench/results.txt (smoke:
build/bench/smoke.txt).
"""
import argparse
import datetime
import os
import platform
import pwd
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "lib"))
import botutest  # noqa: E402

BOTU = os.path.join(REPO, "botu")
ENQUEUE = os.path.join(REPO, "build", "bench", "enqueue")
SMTP_DRIVER = os.path.join(REPO, "build", "tests", "smtp_driver")
IMAP_FETCH = os.path.join(HERE, "imap_fetch.py")
INTENT = os.path.join(REPO, "tests", "data", "intent")
OUTDIR = os.path.join(REPO, "build", "bench")
PY = "/usr/bin/python3"
LIST = botutest.LIST_ADDRESS
# What smtp-source adds to its -l body (headers, CRLF ends): the mail it
# sends is as large as botu's when -l is botu's size less this.
SOURCE_HEADERS = 64

WIDTH = 88  # columns of the table

# What Postfix's anvil makes smtpd log past the message rate limit.
RATE_WARNING = "Message delivery request rate limit exceeded"


class BenchError(Exception):
    """Something did not work (not: something was slow)."""


# ------------------------------------------------------------ processes

class Result:
    def __init__(self, argv, rc, wall, cpu, rss_kb, out, err):
        self.argv, self.rc, self.wall, self.cpu = argv, rc, wall, cpu
        self.rss_kb, self.out, self.err = rss_kb, out, err

    def check(self, what):
        if self.rc != 0:
            raise BenchError(f"{what}: exit {self.rc}: "
                             f"{' '.join(self.argv)}\n{self.out}{self.err}")
        return self


# The most seconds any one program may run before it is killed (the
# smoke run: SMOKE_TIMEOUT); run()'s own default is 900.
TIMEOUT = 3600
SMOKE_TIMEOUT = 60
# The smoke run as a whole: past this it stops, its servers with it.
SMOKE_DEADLINE = 240


def run(argv, timeout=None, env=None, cwd=None, rss=False):
    """Runs argv to its end: wall time, CPU time (user + system), its
    output and, with rss, its peak RSS in KiB as GNU time reports it. (Not
    wait4's own figure: a child forked from this Python process counts
    Python's pages until it execs.) Killed after timeout seconds (default
    TIMEOUT), and when anything (the smoke run's alarm) interrupts the
    wait."""
    timeout = min(timeout or 900, TIMEOUT)
    rss_file = None
    if rss:
        fd, rss_file = tempfile.mkstemp(prefix="rss.")
        os.close(fd)
        argv = ["/usr/bin/time", "-f", "%M", "-o", rss_file] + list(argv)
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fo,
                             stderr=fe, env=env, cwd=cwd)
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except BaseException:
            p.kill()
            p.wait()
            raise
        finally:
            timer.cancel()
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        peak = 0
        if rss_file is not None:
            with open(rss_file) as f:
                text = f.read().split()
            os.unlink(rss_file)
            peak = int(text[-1]) if text and text[-1].isdigit() else 0
        return Result(argv, p.returncode, wall, ru.ru_utime + ru.ru_stime,
                      peak, fo.read().decode(errors="replace"),
                      fe.read().decode(errors="replace"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


class Sink:
    """Postfix's smtp-sink on a free port of 127.0.0.1; stop() says how
    many messages it received (its -c counters)."""

    def __init__(self, tmp, extra=()):
        fd, self.path = tempfile.mkstemp(prefix="sink.", dir=tmp)
        os.close(fd)
        for _ in range(5):  # the port may be taken between bind and use
            self.port = free_port()
            user = ["-u", "nobody"] if os.geteuid() == 0 else []
            self.out = open(self.path, "wb")
            self.p = subprocess.Popen(
                ["smtp-sink", *user, *extra, "-c",
                 f"127.0.0.1:{self.port}", "1000"],
                stdin=subprocess.DEVNULL, stdout=self.out,
                stderr=subprocess.STDOUT)
            if wait_port(self.port) and self.p.poll() is None:
                return
            self.stop()
        raise BenchError(f"smtp-sink does not start: {self.text()}")

    def text(self):
        with open(self.path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.out.close()
        counts = re.findall(r"mesg=(\d+)", self.text())
        return int(counts[-1]) if counts else 0


def received(sink, want, what):
    got = sink.stop()
    if got != want:
        raise BenchError(f"{what}: smtp-sink received {got} messages, "
                         f"not {want}")


def keyvals(text):
    return dict(line.split("=", 1) for line in text.split() if "=" in line)


def botu_conf(path, db, smtp_port, connections=1, extra=None):
    lines = ["[list]", f"address = {LIST}", f"database = {db}",
             f"templates = {os.path.join(REPO, 'templates')}",
             "[smtp]", "host = 127.0.0.1", f"port = {smtp_port}",
             "security = none", f"connections = {connections}"]
    for key, value in (extra or {}).items():
        lines.append(f"{key} = {value}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def copy_db(src, dst):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(dst + suffix):
            os.unlink(dst + suffix)
    shutil.copyfile(src, dst)


def enqueue(conf, n, domain=None):
    """n members and a digest issued to them; its figures, and the peak
    RSS of doing so (rss_kb)."""
    argv = [ENQUEUE, "-c", conf, "-n", str(n)]
    if domain:
        argv += ["-d", domain]
    r = run(argv, timeout=3600, rss=True).check("enqueue")
    kv = {k: float(v) for k, v in keyvals(r.out).items()}
    if kv.get("rows") != n or not kv.get("bytes"):
        raise BenchError(f"enqueue: {r.out.strip()}, not {n} rows")
    kv["rss_kb"] = r.rss_kb
    return kv


def db_size(db):
    return sum(os.path.getsize(db + x) for x in ("", "-wal")
               if os.path.exists(db + x))


# ------------------------------------------------------------ statistics

def median(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_int(x):
    return f"{x:,.0f}" if x == x else "-"


def fmt_ratio(x):
    if x != x:
        return "-"
    return f"{x:.2f}" if x < 10 else f"{x:,.0f}"


class Series:
    """One program's rate in each run."""

    def __init__(self, label):
        self.label = label
        self.rates = []
        self.walls = []
        self.cpus = []

    def add(self, n, r):
        self.rates.append(n / r.wall)
        self.walls.append(r.wall)
        self.cpus.append(r.cpu)

    @property
    def rate(self):
        return median(self.rates)


def ratio(a, b):
    """Ratio of the medians, and the range of the paired per-run ratios."""
    m = a.rate / b.rate if b.rate else float("nan")
    pairs = [x / y for x, y in zip(a.rates, b.rates) if y]
    return m, pairs


# ------------------------------------------------------------ report

class Report:
    def __init__(self):
        self.lines = []
        self.goals = []  # (text, measured, met or None)

    def say(self, line=""):
        self.lines.append(line)
        print(line, flush=True)

    def wrap(self, text, indent="   "):
        """Says text in lines of at most WIDTH columns."""
        for line in textwrap.wrap(text, WIDTH, initial_indent=indent,
                                  subsequent_indent=indent + "  "):
            self.say(line)

    def goal(self, text, measured, met):
        state = {True: "met", False: "MISSED", None: "see note"}[met]
        self.goals.append((text, measured, state))
        self.say(f"   goal: {text:<48} {measured:>19}  {state}")


def machine(report, args):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short",
                                 "HEAD"], capture_output=True, text=True,
                                timeout=10).stdout.strip()
    except OSError:
        commit = ""
    version = run([BOTU, "-V"]).out.strip()
    now = datetime.datetime.now(datetime.timezone.utc)
    report.say(f"botu benchmarks{' (smoke run)' if args.smoke else ''}, "
               f"{now:%Y-%m-%d %H:%M} UTC, {version}"
               f"{' (commit ' + commit + ')' if commit else ''}")
    report.say(f"machine: {os.cpu_count()} CPUs (nproc), {cpu}, Linux "
               f"{platform.release()}")
    report.wrap(f"load average {os.getloadavg()[0]:.1f} at the start. "
                f"{args.runs} run{'s' if args.runs > 1 else ''}; in each, "
                f"the programs compared run one after the other, in turns. "
                f"Figures are medians; ratios are of the medians, with "
                f"[the range of the ratios within each run].", indent="")


def fmt_short(x):
    return f"{x / 1000:.1f}k" if x >= 1000 else f"{x:.0f}"


def row(report, label, series):
    runs = " ".join(fmt_short(x) for x in series.rates)
    report.say(f"   {label:<50} {fmt_int(series.rate):>7}  [{runs}]")


def ratio_text(a, b):
    m, pairs = ratio(a, b)
    if len(pairs) > 1:
        return f"{fmt_ratio(m)} x [{fmt_ratio(min(pairs))}-" \
               f"{fmt_ratio(max(pairs))}]", m
    return f"{fmt_ratio(m)} x", m


# ------------------------------------------------------------ 1. outbound

def mlmmj_list(tmp, members, size):
    """A list made by mlmmj-make-ml (it only asks on stdin) with members in
    one subscribers.d file, so mlmmj-send uses one connection."""
    d = os.path.join(tmp, "mlmmj")
    os.makedirs(d)
    r = subprocess.run(["mlmmj-make-ml", "-L", "lijst", "-s", d],
                       input="bench.example\nowner@bench.example\nen\n",
                       capture_output=True, text=True, timeout=60)
    listdir = os.path.join(d, "lijst")
    if r.returncode != 0 or not os.path.isdir(listdir):
        raise BenchError(f"mlmmj-make-ml: {r.stdout}{r.stderr}")
    with open(os.path.join(listdir, "subscribers.d", "l"), "w") as f:
        for i in range(members):
            f.write(f"lid{i:06d}@bench.example\n")
    with open(os.path.join(listdir, "control", "relayhost"), "w") as f:
        f.write("127.0.0.1\n")
    # No control/verp: mlmmj then sends one transaction per recipient,
    # with its own VERP return path (TUNABLES).
    post = os.path.join(d, "post.eml")
    with open(post, "w") as f:
        f.write("From: Annerike <owner@bench.example>\n"
                "To: lijst@bench.example\n"
                "Subject: Nieuwsbrief energiecommunity, week 48\n"
                "Message-ID: <post.1@bench.example>\n"
                "Date: Sat, 28 Nov 2026 10:00:00 +0100\n"
                "MIME-Version: 1.0\n"
                "Content-Type: text/plain; charset=utf-8\n\n")
        f.write(("x" * 78 + "\n") * ((size - 300) // 79))
    return listdir, post


def mlmmj_send(tmp, listdir, post, members, r):
    sink = Sink(tmp)
    try:
        with open(os.path.join(listdir, "control", "smtpport"), "w") as f:
            f.write(f"{sink.port}\n")
        queued = os.path.join(listdir, "queue", f"bench.{r}")
        shutil.copyfile(post, queued)
        # Not -a: 1.3.0 then builds its VERP address from a NULL archive
        # file name and crashes. It archives the post instead.
        res = run(["/usr/bin/mlmmj-send", "-L", listdir, "-m", queued])
    except BaseException:
        sink.stop()
        raise
    received(sink, members, "mlmmj-send")
    return res.check("mlmmj-send")


def outbound(report, args, tmp):
    n, nm = args.count, min(args.mlmmj, args.count)
    s = {k: Series(k) for k in ("botu1", "src1", "botu4", "src4", "mlmmj",
                                "drv1", "drv4", "enqueue")}
    listdir, post, size = None, None, 0
    for r in range(args.runs):
        d = os.path.join(tmp, f"out{r}")
        os.makedirs(d)
        master = os.path.join(d, "master.db")
        conf0 = botu_conf(os.path.join(d, "enqueue.conf"), master, 25)
        kv = enqueue(conf0, n)
        size = int(kv["bytes"])
        s["enqueue"].rates.append(n / kv["enqueue_s"])
        if listdir is None:
            listdir, post = mlmmj_list(tmp, nm, size)

        def botu(conns, r=r, d=d, master=master):
            sink = Sink(tmp)
            try:
                db = os.path.join(d, "botu.db")
                copy_db(master, db)
                conf = botu_conf(os.path.join(d, f"botu{conns}.conf"), db,
                                 sink.port, conns)
                res = run([BOTU, "-c", conf, "outbox", "flush"])
            finally:
                got = sink.stop()
            res.check("botu outbox flush")
            if f"sent {n}," not in res.out or got != n:
                raise BenchError(f"botu outbox flush: {res.out.strip()}; "
                                 f"smtp-sink received {got}, not {n}")
            s[f"botu{conns}"].add(n, res)

        def source(conns):
            sink = Sink(tmp)
            try:
                res = run(["smtp-source", "-s", str(conns), "-m", str(n),
                           "-l", str(size - SOURCE_HEADERS), "-d",
                           f"127.0.0.1:{sink.port}"])
            except BaseException:
                sink.stop()
                raise
            received(sink, n, f"smtp-source -s {conns}")
            s[f"src{conns}"].add(n, res.check("smtp-source"))

        def driver(conns, d=d):
            sink = Sink(tmp)
            try:
                conf = botu_conf(os.path.join(d, f"drv{conns}.conf"),
                                 os.path.join(d, "unused.db"), sink.port,
                                 conns)
                res = run([SMTP_DRIVER, "-c", conf, "-n", str(n), "-j",
                           str(conns), "-b", str(size),
                           "lid000000@bench.example"])
            except BaseException:
                sink.stop()
                raise
            received(sink, n, "smtp_driver")
            if res.out.count('"outcome":"sent"') != n:
                raise BenchError("smtp_driver: not every mail was sent")
            s[f"drv{conns}"].add(n, res.check("smtp_driver"))

        def mlmmj():
            s["mlmmj"].add(nm, mlmmj_send(tmp, listdir, post, nm, r))

        # Each program next to the one it is compared with: the load of
        # this machine changes from one second to the next.
        steps = [lambda: botu(1), lambda: source(1), lambda: driver(1),
                 lambda: botu(4), lambda: source(4), lambda: driver(4),
                 mlmmj]
        if r % 2:
            steps.reverse()
        for step in steps:
            step()
        shutil.rmtree(d)

    report.say()
    report.wrap(f"1. Outbound, the digest: {n:,} members, one mail of "
                f"{size:,} octets each, one transaction each, to smtp-sink",
                indent="")
    report.say(f"   {'':<50} {'msgs/s':>7}  [each run]")
    row(report, "botu outbox flush, 1 connection", s["botu1"])
    row(report, "smtp-source -s 1 -d (the limit, 1 connection)", s["src1"])
    row(report, "botu outbox flush, 4 connections", s["botu4"])
    row(report, "smtp-source -s 4 -d (the limit, 4 connections)", s["src4"])
    row(report, f"mlmmj-send 1.3.0 per recipient, {nm:,} members, 1 conn.",
        s["mlmmj"])
    row(report, "botu's SMTP client alone, 1 connection (no outbox)",
        s["drv1"])
    row(report, "botu's SMTP client alone, 4 connections (no outbox)",
        s["drv4"])
    row(report, "issuing it: digest_issue(), one transaction",
        s["enqueue"])
    report.wrap(f"CPU seconds (user+system) for the {n:,}, 1 / 4 connections: "
                f"botu {median(s['botu1'].cpus):.2f} / "
                f"{median(s['botu4'].cpus):.2f}; its SMTP client alone "
                f"{median(s['drv1'].cpus):.2f} / {median(s['drv4'].cpus):.2f}"
                f"; smtp-source {median(s['src1'].cpus):.2f} / "
                f"{median(s['src4'].cpus):.2f}")
    t, m = ratio_text(s["botu1"], s["src1"])
    report.goal("botu >= 0.8 x smtp-source, 1 connection", t, m >= 0.8)
    t, m = ratio_text(s["botu4"], s["src4"])
    report.goal("botu >= 0.8 x smtp-source, 4 connections", t, m >= 0.8)
    t, m = ratio_text(s["botu1"], s["mlmmj"])
    report.goal("botu ahead of mlmmj (1 connection each, msgs/s)", t, m > 1)
    t1, _ = ratio_text(s["drv1"], s["src1"])
    t4, _ = ratio_text(s["drv4"], s["src4"])
    report.wrap(f"botu's SMTP client alone: {t1} smtp-source over 1 "
                f"connection, {t4} over 4")
    t1, _ = ratio_text(s["botu1"], s["drv1"])
    t4, _ = ratio_text(s["botu4"], s["drv4"])
    report.wrap(f"botu with its outbox: {t1} its SMTP client alone over 1 "
                f"connection, {t4} over 4")


# ------------------------------------------------------------ 2. inbound

# What a list's own mailbox gets, roughly, per 1,000 mails: mostly personal
# mail that botu leaves alone. Sign-ups are few (botu answers at most
# HANDLE_CONFIRMS_PER_HOUR = 50 an hour and leaves the rest for a person, a
# guard against a forged wave): 5 per 1,000, at most 50 in all.
MIX = [("leave-alone", 778), ("automatic", 80), ("note", 50), ("bounce", 50),
       ("help", 20), ("unsubscribe", 17), ("subscribe", 5)]
MAX_SIGNUPS = 50


def mix_counts(n):
    counts = {k: n * share // 1000 for k, share in MIX}
    counts["subscribe"] = min(MAX_SIGNUPS, max(1, counts["subscribe"]))
    counts["leave-alone"] += n - sum(counts.values())
    return counts


def corpus():
    by_intent = {}
    with open(os.path.join(INTENT, "expected.tsv")) as f:
        next(f)
        for line in f:
            name, intent = line.rstrip("\n").split("\t")[:2]
            with open(os.path.join(INTENT, name), "rb") as m:
                by_intent.setdefault(intent, []).append(m.read())
    return by_intent


def set_header(head, name, value):
    """head (bytes, CRLF) with header name replaced by value (or added)."""
    lines = head.split(b"\r\n")
    out, skip, done = [], False, False
    for line in lines:
        if skip and line[:1] in (b" ", b"\t"):
            continue
        skip = False
        if line.lower().startswith(name.lower() + b":"):
            skip = True
            if not done:
                out.append(name + b": " + value)
                done = True
            continue
        out.append(line)
    if not done:
        out.append(name + b": " + value)
    return b"\r\n".join(out)


def inbound_mails(n):
    """n mails from the corpus in MIX proportions, spread evenly, each with
    its own Message-ID, and a sender of its own unless it is a bounce or an
    auto-reply (they are about their sender)."""
    by_intent = corpus()
    counts = mix_counts(n)
    # Mail j of an intent with c mails goes at position (j + 0.5) / c.
    order = sorted(((j + 0.5) / c, intent) for intent, c in counts.items()
                   for j in range(c))
    mails, used = [], {}
    for i, (_, intent) in enumerate(order):
        files = by_intent[intent]
        k = used.get(intent, 0)
        used[intent] = k + 1
        raw = files[k % len(files)]
        head, sep, body = raw.partition(b"\r\n\r\n")
        head = set_header(head, b"Message-ID",
                          f"<bench.{i}@bench.example>".encode())
        if intent not in ("bounce", "automatic"):
            head = set_header(head, b"From",
                              f"Afzender {i} <afzender{i}@example.net>"
                              .encode())
        mails.append(head + sep + body)
    return mails, counts


def fill_maildir(servers, user, mails):
    """Writes the mails straight into user's Maildir/new (Dovecot's own
    files: owned by the dovecot user), then has Dovecot index them, so
    neither side of the comparison pays for that."""
    dv = pwd.getpwnam("dovecot")
    home = os.path.join(servers.dir, "mail", "lsabewoners.nl", user)
    paths = [os.path.join(servers.dir, "mail", "lsabewoners.nl"), home,
             os.path.join(home, "Maildir")]
    paths += [os.path.join(home, "Maildir", s) for s in ("cur", "new",
                                                         "tmp")]
    for p in paths:
        os.makedirs(p, mode=0o700, exist_ok=True)
        os.chown(p, dv.pw_uid, dv.pw_gid)
    new = os.path.join(home, "Maildir", "new")
    base = int(time.time())
    for i, m in enumerate(mails):
        p = os.path.join(new, f"{base}.M{i}P{os.getpid()}.bench")
        with open(p, "wb") as f:
            f.write(m)
        os.chown(p, dv.pw_uid, dv.pw_gid)
    out = servers.doveadm("mailbox", "status", "-u",
                          f"{user}@lsabewoners.nl", "messages", "INBOX")
    if f"messages={len(mails)}" not in out:
        raise BenchError(f"Dovecot sees {out.strip()}, not "
                         f"{len(mails)} messages")


def inbound(report, args, tmp):
    n = args.inbound
    if os.geteuid() != 0:
        report.say()
        report.say("2. Inbound: not run (tests/servers.sh needs root)")
        return
    mails, kinds = inbound_mails(n)
    octets = sum(len(m) for m in mails)
    servers = botutest.Servers.start()
    bot, ref = Series("botu"), Series("fetch")
    states = {}
    answered = []
    try:
        since = (datetime.date.today() -
                 datetime.timedelta(days=1)).isoformat()
        for r in range(args.runs):
            d = os.path.join(tmp, f"in{r}")
            os.makedirs(d)
            fill_maildir(servers, f"bench-botu{r}", mails)
            fill_maildir(servers, f"bench-ref{r}", mails)

            def botu(r=r, d=d):
                sink = Sink(tmp)
                try:
                    conf = servers.write_config(
                        os.path.join(d, "botu.conf"),
                        {"imap": {"username": f"bench-botu{r}@lsabewoners.nl"},
                         "smtp": {"port": str(sink.port), "security": "none",
                                  "username": None, "password_file": None,
                                  "ca_file": None}})
                    res = run([BOTU, "-c", conf, "run", "--once", "--since",
                               since], timeout=3600)
                finally:
                    got = sink.stop()
                res.check("botu run --once")
                db = sqlite3.connect(os.path.join(d, "botu.db"))
                st = dict(db.execute("SELECT state, count(*) FROM inbound "
                                     "GROUP BY state").fetchall())
                db.close()
                if sum(st.values()) != n or st.get("new", 0):
                    raise BenchError(f"botu run --once: inbound states "
                                     f"{st}, not {n} handled\n{res.err}")
                states.update(st)
                answered.append(got)
                bot.add(n, res)

            def fetch(r=r):
                res = run([PY, IMAP_FETCH, "127.0.0.1",
                           str(servers.port("imaps")),
                           f"bench-ref{r}@lsabewoners.nl",
                           servers.env["BOTU_TEST_PASSWORD_FILE"],
                           servers.ca], timeout=3600).check("imap_fetch.py")
                if res.out.split()[0] != str(n):
                    raise BenchError(f"imap_fetch.py: {res.out}")
                ref.add(n, res)

            for step in ([botu, fetch] if r % 2 == 0 else [fetch, botu]):
                step()
    finally:
        servers.stop()
    mix = ", ".join(f"{kinds.get(k, 0):,} {k}" for k, _ in MIX)
    report.say()
    report.wrap(f"2. Inbound: {n:,} mails ({octets / n / 1024:.1f} KB on "
                f"average) in Dovecot's Maildir, over IMAPS", indent="")
    report.wrap(f"mix: {mix}")
    report.say(f"   {'':<50} {'msgs/s':>7}  [each run]")
    row(report, "botu run --once --since (to committed state)", bot)
    row(report, "imaplib: one UID FETCH BODY.PEEK[] a message", ref)
    report.wrap(f"botu {median(bot.walls):.1f} s, the fetch loop "
                f"{median(ref.walls):.1f} s; botu's verdicts: " +
                ", ".join(f"{v:,} {k}" for k, v in sorted(states.items())) +
                f"; answers sent: {median(answered):,.0f}")
    m, pairs = ratio(ref, bot)  # time ratio: botu's time / the fetch's
    t = f"{fmt_ratio(m)} x" + (f" [{fmt_ratio(min(pairs))}-"
                               f"{fmt_ratio(max(pairs))}]"
                               if len(pairs) > 1 else "")
    report.goal("botu's time within 2 x the raw fetch", t, m <= 2)


# ------------------------------------------------------------ 3. footprint

def shared_libs():
    r = subprocess.run(["ldd", BOTU], capture_output=True, text=True)
    return sum(1 for line in r.stdout.splitlines() if "=>" in line)


def footprint(report, args, tmp):
    report.say()
    report.say("3. Footprint")
    size = os.path.getsize(BOTU)
    stripped = os.path.join(tmp, "botu.stripped")
    subprocess.run(["strip", "-o", stripped, BOTU], check=True)
    report.say(f"   binary {os.path.relpath(BOTU, REPO)}: "
               f"{size / 1024:,.0f} KiB as built,"
               f" {os.path.getsize(stripped) / 1024:,.0f} KiB stripped")
    d = os.path.join(tmp, "fp")
    os.makedirs(d)
    conf = botu_conf(os.path.join(d, "empty.conf"),
                     os.path.join(d, "empty.db"), 25)
    run([BOTU, "-c", conf, "status"]).check("botu status")  # makes the db
    loops = 5 if args.smoke else 30
    ver = [run([BOTU, "-V"]).check("botu -V").wall for _ in range(loops)]
    sta = [run([BOTU, "-c", conf, "status"]).check("botu status").wall
           for _ in range(loops)]
    true = [run(["/bin/true"]).wall for _ in range(loops)]
    report.wrap(f"start-up (median of {loops}): botu -V "
                f"{median(ver) * 1000:.1f} ms, botu status on an empty "
                f"database {median(sta) * 1000:.1f} ms (/bin/true started "
                f"the same way: {median(true) * 1000:.1f} ms; botu loads "
                f"{shared_libs()} shared libraries)")
    report.wrap("the digest issued (enqueue: digest_issue()), then sent by "
                "botu outbox flush, 4 connections, to smtp-sink (one run "
                "each); peak RSS of each; the database's growth by the "
                "issue, and by it and the sending:")
    report.say(f"   {'members':>10} {'time':>9} {'msgs/s':>8} "
               f"{'RSS flush':>10} {'RSS issue':>10} {'db: issue':>10} "
               f"{'and sent':>10}")
    rss, rate, qrss = {}, {}, {}
    growth = {}
    for n in args.sizes:
        db = os.path.join(d, f"fp{n}.db")
        sink = Sink(tmp)
        try:
            c = botu_conf(os.path.join(d, f"fp{n}.conf"), db, sink.port, 4)
            kv = enqueue(c, n)
            res = run([BOTU, "-c", c, "outbox", "flush"], timeout=3600,
                      rss=True)
        finally:
            got = sink.stop()
        res.check("botu outbox flush")
        if got != n or res.rss_kb == 0:
            raise BenchError(f"footprint flush of {n}: smtp-sink got {got}"
                             f", peak RSS {res.rss_kb} KiB")
        grow = kv["db_after"] - kv["db_before"]
        total = db_size(db) - kv["db_before"]
        growth[n] = total
        rss[n] = res.rss_kb
        qrss[n] = kv["rss_kb"]
        rate[n] = n / res.wall
        report.say(f"   {n:>10,} {res.wall:>7.1f} s {rate[n]:>8,.0f} "
                   f"{res.rss_kb / 1024:>6.1f} MiB {qrss[n] / 1024:>6.1f} MiB "
                   f"{grow / 2**20:>6.1f} MiB {total / 2**20:>6.1f} MiB")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.unlink(db + suffix)
    lo, hi = min(rss), max(rss)
    m = rss[hi] / rss[lo]
    report.goal(f"peak RSS at {hi:,} <= 1.2 x at {lo:,}: flush",
                f"{m:.2f} x", m <= 1.2)
    m = qrss[hi] / qrss[lo] if qrss[lo] else float("nan")
    report.goal(f"peak RSS at {hi:,} <= 1.2 x at {lo:,}: issuing",
                f"{m:.2f} x", m <= 1.2)
    at = 10000 if 10000 in growth else max(growth)
    report.goal(f"database growth per issue < 20 MB at {at:,}",
                f"{growth[at] / 2**20:.1f} MiB", growth[at] < 20e6)
    mid = sorted(rate)[-2]
    report.say(f"   scaling: msgs/s at {hi:,} = {rate[hi] / rate[mid]:.2f} x "
               f"at {mid:,} (1.00: linear)")


# ------------------------------------------------------------ 4. limits

def limits(report, args, tmp):
    report.say()
    limit, n = 30, 200
    if not args.limits:
        report.say("4. Limits: not run (about 7 minutes; BENCH_LIMITS=1 "
                   "make bench runs it)")
        return
    servers = botutest.Servers.start(
        main_cf="anvil_rate_time_unit = 60s\n"
                "smtpd_client_event_limit_exceptions =",
        submission_opts={"smtpd_client_message_rate_limit": str(limit)})
    try:
        d = os.path.join(tmp, "limits")
        os.makedirs(d)
        user = "lijst-paced@lsabewoners.nl"
        conf = servers.write_config(
            os.path.join(d, "botu.conf"),
            {"smtp": {"max_per_minute": str(limit), "connections": "4"}},
            user=user)
        enqueue(conf, n, domain="example.org")
        log = servers.env["BOTU_TEST_POSTFIX_LOG"]
        offset = os.path.getsize(log)
        res = run([BOTU, "-c", conf, "outbox", "flush"], timeout=1800)
        res.check("botu outbox flush")
        with open(log, errors="replace") as f:
            f.seek(offset)
            text = f.read()
    finally:
        servers.stop()
    refused = len(re.findall(r"\b4\d\d 4\.\d+\.\d+ ", text)) + \
        text.count(RATE_WARNING)
    report.wrap(f"4. Limits: {n} mails, max_per_minute = {limit}, to a "
                f"Postfix that takes {limit} a minute (anvil)", indent="")
    report.wrap(f"{res.out.strip()}; {res.wall:.0f} s = "
                f"{n / res.wall * 60:.1f} a minute; 4xx replies: {refused}")
    ok = f"sent {n}," in res.out and refused == 0
    report.goal("no 4xx, every mail sent", f"{refused} x 4xx", ok)


# ------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--runs", type=int)
    ap.add_argument("--count", type=int)
    ap.add_argument("--inbound", type=int)
    ap.add_argument("--mlmmj", type=int)
    ap.add_argument("--limits", action="store_true",
                    default=os.environ.get("BENCH_LIMITS") == "1")
    ap.add_argument("--only", default="1,2,3,4")
    ap.add_argument("--botu", help="the botu binary to measure (default: "
                    "./botu, the normal build; build-asan/botu works too, "
                    "for a smoke run under the sanitizers)")
    args = ap.parse_args()
    global BOTU, TIMEOUT
    if args.botu:
        BOTU = os.path.abspath(args.botu)
    if args.smoke:
        TIMEOUT = SMOKE_TIMEOUT
        defaults = {"runs": 1, "count": 200, "inbound": 100, "mlmmj": 20}
        args.sizes = [100, 1000]
        args.limits = False
    else:
        defaults = {"runs": 5, "count": 10000, "inbound": 10000,
                    "mlmmj": 500}
        args.sizes = [1000, 10000, 100000]
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    only = set(args.only.split(","))
    for path in (BOTU, ENQUEUE, SMTP_DRIVER):
        if not os.access(path, os.X_OK):
            sys.exit(f"bench: {path} is missing: make all drivers "
                     f"build/bench/enqueue")
    parent = os.environ.get("BOTU_TEST_TMP") or "/tmp"
    tmp = tempfile.mkdtemp(prefix="botu-bench.", dir=parent)
    os.chmod(tmp, 0o755)  # smtp-sink runs as nobody
    report = Report()
    status = 0
    if args.smoke:
        # It is part of make check: it may fail, never hang. The alarm
        # interrupts whatever waits; the finally clauses stop the servers.
        def expired(signum, frame):
            raise BenchError(f"the smoke run took more than "
                             f"{SMOKE_DEADLINE} s")
        signal.signal(signal.SIGALRM, expired)
        signal.alarm(SMOKE_DEADLINE)
    try:
        machine(report, args)
        if "1" in only:
            outbound(report, args, tmp)
        if "2" in only:
            inbound(report, args, tmp)
        if "3" in only:
            footprint(report, args, tmp)
        if "4" in only:
            limits(report, args, tmp)
        report.say()
        report.say(f"load average {os.getloadavg()[0]:.1f} at the end")
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        status = 1
    finally:
        signal.alarm(0)
        shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(OUTDIR, exist_ok=True)
    out = os.path.join(OUTDIR, "smoke.txt" if args.smoke else "results.txt")
    with open(out, "w") as f:
        f.write("\n".join(report.lines) + "\n")
    if status == 0:
        print(f"(also in {os.path.relpath(out, REPO)})")
    return status


if __name__ == "__main__":
    sys.exit(main())
