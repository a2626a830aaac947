#!/usr/bin/python3
"""botu installed and run as a service, as an operator meets it:

  - `make install` into a PREFIX and a DESTDIR, the installed binary run
    against the test servers with the installed templates, `make
    uninstall`;
  - the man pages lint clean and name every command and key;
  - etc/botu.service passes `systemd-analyze verify`, and botu works under
    the sandbox its lines describe (read-only system, writable state folder
    only, an unprivileged user, the secrets as credentials), emulated with
    a mount namespace since systemd does not run here;
  - `botu check` says in one line what is wrong and what to do;
  - the log: syslog when asked, addresses masked, and protocol traces
    without passwords or tokens.
"""
import configparser
import email.utils
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import botutest  # noqa: E402

REPO = botutest.REPO
NOBODY = 65534
UNIT = os.path.join(REPO, "etc", "botu.service")


def read_unit(path):
    """The unit file as {section: [(key, value), ...]} (keys repeat)."""
    out, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            m = re.fullmatch(r"\[(\w+)\]", line)
            if m:
                section = out.setdefault(m.group(1), [])
                continue
            key, _, value = line.partition("=")
            section.append((key.strip(), value.strip()))
    return out


def unit_value(unit, key, section="Service"):
    values = [v for k, v in unit.get(section, []) if k == key]
    return values[-1] if values else None


def unit_values(unit, key, section="Service"):
    return [v for k, v in unit.get(section, []) if k == key]


def example_defaults():
    """botu.conf.example as {(section, key): value}, commented or not."""
    out, section = {}, None
    with open(os.path.join(REPO, "botu.conf.example")) as f:
        for line in f:
            m = re.match(r"\[(\w+)\]", line)
            if m:
                section = m.group(1)
                continue
            m = re.match(r"#?(\w+) = ?(.*)$", line.rstrip("\n"))
            if m and section:
                out[(section, m.group(1))] = m.group(2)
    return out


class Install(botutest.ServersTestCase):
    """Installs once for the class: make install into a temporary PREFIX."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        parent = os.environ.get("BOTU_TEST_TMP") or None
        cls.root = tempfile.mkdtemp(prefix="botu-install-", dir=parent)
        # The sandboxed user must reach the installed files.
        os.chmod(cls.root, 0o755)
        cls.prefix = os.path.join(cls.root, "usr")
        cls.build = os.path.join(cls.root, "build")
        t0 = time.monotonic()
        cls.make("install")
        cls.install_time = time.monotonic() - t0
        cls.bin = os.path.join(cls.prefix, "bin", "botu")

    @classmethod
    def tearDownClass(cls):
        if not os.environ.get("BOTU_TEST_KEEP"):
            shutil.rmtree(cls.root, True)
        super().tearDownClass()

    @classmethod
    def make(cls, *targets, **vars_):
        args = ["make", "-s", "-j2", "-C", REPO, "BUILD=" + cls.build,
                "PREFIX=" + cls.prefix]
        args += ["%s=%s" % kv for kv in vars_.items()] + list(targets)
        r = subprocess.run(args, capture_output=True, text=True,
                           timeout=600, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise AssertionError("%s failed:\n%s%s" % (" ".join(args),
                                                       r.stdout, r.stderr))
        return r

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="botu-ops-", dir=self.root)
        os.chmod(self.tmp, 0o755)
        self.tag = "%s%s" % (self._testMethodName[5:12].replace("_", ""),
                             uuid.uuid4().hex[:6])
        self.list = "inst-%s@lsabewoners.nl" % self.tag

    def installed(self, root):
        out = set()
        for d, _, files in os.walk(root):
            for f in files:
                out.add(os.path.relpath(os.path.join(d, f), root))
        return out

    def shipped_templates(self):
        out = {"README"}
        for lang in os.listdir(os.path.join(REPO, "templates")):
            d = os.path.join(REPO, "templates", lang)
            if os.path.isdir(d):
                out |= {"%s/%s" % (lang, f) for f in os.listdir(d)}
        return out

    # ---- make install / uninstall ----

    def test_install_tree_destdir_and_uninstall(self):
        print("\n  make install (build and copy): %.1f s" % self.install_time)
        want = {"bin/botu", "lib/systemd/system/botu.service",
                "share/man/man8/botu.8", "share/man/man5/botu.conf.5",
                "share/doc/botu/botu.conf.example",
                "share/doc/botu/README.md"}
        want |= {"share/botu/templates/" + t
                 for t in self.shipped_templates()}
        self.assertEqual(self.installed(self.prefix), want)
        self.assertTrue(os.access(self.bin, os.X_OK))
        mode = os.stat(os.path.join(self.prefix, "share/botu/templates/nl/"
                                    "welcome.txt")).st_mode
        self.assertEqual(stat.S_IMODE(mode), 0o644)
        # The unit runs the installed binary.
        with open(os.path.join(self.prefix, "lib/systemd/system/"
                               "botu.service")) as f:
            self.assertIn("ExecStart=%s -c /etc/botu/botu.conf run"
                          % self.bin, f.read())
        # The binary looks for its templates where they were installed.
        with open(self.bin, "rb") as f:
            self.assertIn(os.path.join(self.prefix, "share/botu/templates")
                          .encode(), f.read())

        # A package build: the same tree under DESTDIR, for /usr.
        stage = os.path.join(self.tmp, "stage")
        self.make("install", DESTDIR=stage, PREFIX="/usr")
        self.assertEqual(self.installed(os.path.join(stage, "usr")), want)
        with open(os.path.join(stage, "usr/bin/botu"), "rb") as f:
            self.assertIn(b"/usr/share/botu/templates", f.read())
        with open(os.path.join(stage, "usr/lib/systemd/system/"
                               "botu.service")) as f:
            self.assertIn("ExecStart=/usr/bin/botu ", f.read())
        # The staged binary works against the servers, with the staged
        # templates named in its configuration.
        conf = self.servers.write_config(
            os.path.join(self.tmp, "stage.conf"),
            {"list": {"templates": os.path.join(
                stage, "usr/share/botu/templates")}}, user=self.list)
        r = subprocess.run([os.path.join(stage, "usr/bin/botu"), "-c", conf,
                            "check"], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"ok +imap login +INBOX: ")
        self.assertRegex(r.stdout, r"ok +smtp login ")
        self.make("uninstall", DESTDIR=stage, PREFIX="/usr")
        self.assertEqual(self.installed(stage), set())
        # Back to this class's PREFIX for the other tests.
        self.make("install")

    def test_installed_binary_runs_with_installed_templates(self):
        conf = self.servers.write_config(
            os.path.join(self.tmp, "botu.conf"),
            {"list": {"templates": None, "name": "Geïnstalleerd"}},
            user=self.list)
        with open(conf) as f:
            self.assertNotIn("templates", f.read())
        env = dict(os.environ, BOTU_CONF=conf)
        r = subprocess.run([self.bin, "check"], capture_output=True,
                           text=True, env=env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"ok +templates +\d+ mails in %s"
                         % re.escape(os.path.join(self.prefix,
                                                  "share/botu/templates")))
        r = subprocess.run([self.bin, "run", "--once"], capture_output=True,
                           text=True, env=env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        kim = "kim.%s@example.org" % self.tag
        self.servers.send(kim, self.list, botutest.make_mail(
            kim, self.list, "Aanmelden"))
        self.servers.wait_for_mail(self.list)
        r = subprocess.run([self.bin, "run", "--once"], capture_output=True,
                           text=True, env=env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = self.servers.wait_for_mail(kim, timeout=30).msg
        self.assertIn("Geïnstalleerd", str(got["From"]))
        self.assertIn("Bevestig", str(got["Subject"]))

    # ---- man pages ----

    def test_man_pages_lint_clean_and_complete(self):
        pages = [os.path.join(self.prefix, "share/man/man8/botu.8"),
                 os.path.join(self.prefix, "share/man/man5/botu.conf.5")]
        mandoc = shutil.which("mandoc")
        if mandoc:
            r = subprocess.run([mandoc, "-T", "lint", "-W", "style"] + pages,
                               capture_output=True, text=True)
            # Cross references to pages this machine lacks are no fault
            # of the pages.
            problems = [line for line in (r.stdout + r.stderr).splitlines()
                        if "referenced manual not found" not in line and
                        "outdated mandoc.db" not in line and line.strip()]
            self.assertEqual(problems, [])
        else:
            print("\n  mandoc is not installed: man --warnings only")
        man = shutil.which("man")
        self.assertTrue(mandoc or man, "neither mandoc nor man is here")
        for page in pages if man else []:
            r = subprocess.run([man, "--warnings", "-l", page],
                               capture_output=True, text=True,
                               env=dict(os.environ, MANWIDTH="80"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr, "", page)
            self.assertGreater(len(r.stdout), 2000)
        with open(pages[0]) as f:
            botu8 = f.read()
        usage = subprocess.run([self.bin, "--help"], capture_output=True,
                               text=True).stdout
        commands = re.findall(r"(?m)^  (\w[\w-]*) {2,}", usage)
        self.assertIn("backup", commands)
        for cmd in commands:
            self.assertRegex(botu8, r"(?m)^\.(It|It Xo\n)\s*Cm %s\b|"
                             r"^\.Cm %s\b" % (cmd, cmd),
                             "botu.8 does not describe %s" % cmd)
        for sig in ("SIGTERM", "SIGHUP"):
            self.assertIn(sig, botu8)
        for section in ("FILES", "EXIT STATUS", "EXAMPLES", "SIGNALS",
                        "MAIL INTERFACE", "RUNNING AS A SERVICE"):
            self.assertIn(".Sh " + section, botu8)
        with open(pages[1]) as f:
            conf5 = f.read()
        for (section, key) in example_defaults():
            self.assertIn("\n.It Cm %s\n" % key, conf5,
                          "[%s] %s" % (section, key))

    # ---- the systemd unit ----

    def test_unit_file_verify_and_paths(self):
        unit = read_unit(UNIT)
        svc = dict(unit["Service"])
        self.assertEqual(svc["User"], "botu")
        self.assertEqual(svc["ProtectSystem"], "strict")
        self.assertEqual(svc["NoNewPrivileges"], "yes")
        self.assertEqual(svc["ExecReload"], "/bin/kill -HUP $MAINPID")
        exec_start = svc["ExecStart"].split()
        self.assertEqual(exec_start[1:], ["-c", "/etc/botu/botu.conf", "run"])
        # The default database is in the one folder the unit can write.
        ex = example_defaults()
        db = ex[("list", "database")]
        writable = ["/var/lib/" + d for d in
                    unit_value(unit, "StateDirectory").split()]
        writable += (unit_value(unit, "ReadWritePaths") or "").split()
        self.assertTrue(any(db.startswith(w + "/") for w in writable),
                        "%s is not under %s" % (db, writable))
        for hidden in ("/home", "/root", "/run/user"):
            self.assertFalse(db.startswith(hidden))
        # Each secret of the example is handed over as a credential.
        creds = dict(v.split(":", 1) for v in
                     unit_values(unit, "LoadCredential"))
        for sec in ("imap", "smtp"):
            path = ex[(sec, "password_file")]
            self.assertEqual(creds[os.path.basename(path)], path)
        # systemd itself, on the installed unit (it checks that the
        # binary and the man pages exist).
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze is not installed")
        installed = os.path.join(self.prefix, "lib/systemd/system/"
                                 "botu.service")
        r = subprocess.run([analyze, "verify", installed],
                           capture_output=True, text=True,
                           env=dict(os.environ, MANPATH=os.path.join(
                               self.prefix, "share/man") + ":"))
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))
        # ...and it can fail: a typo in a sandbox line is reported.
        bad = os.path.join(self.tmp, "bad", "botu.service")
        os.mkdir(os.path.dirname(bad))
        with open(installed) as f, open(bad, "w") as g:
            g.write(f.read().replace("NoNewPrivileges=yes",
                                     "NoNewPrivileges=maybe"))
        r = subprocess.run([analyze, "verify", bad], capture_output=True,
                           text=True, env=dict(os.environ, MANPATH=os.path
                                               .join(self.prefix,
                                                     "share/man") + ":"))
        self.assertIn("Failed to parse boolean value, ignoring: maybe",
                      r.stdout + r.stderr)

    def sandbox(self, args, conf_text, creds=True):
        """Runs the installed botu as the unit's [Service] lines describe,
        in a mount namespace: ProtectSystem=strict (/ read-only),
        ProtectHome=yes, StateDirectory=botu (only /var/lib/botu, here a
        folder of the test, writable), LoadCredential= (copies only the
        user can read in $CREDENTIALS_DIRECTORY), UMask=, User= (nobody:
        there is no botu user here) and NoNewPrivileges=. PrivateTmp= is
        left out: the installed files are under /tmp."""
        unit = read_unit(UNIT)
        self.assertEqual(unit_value(unit, "ProtectSystem"), "strict")
        self.assertEqual(unit_value(unit, "ProtectHome"), "yes")
        state = unit_value(unit, "StateDirectory")
        umask = unit_value(unit, "UMask")
        etc = os.path.join(self.tmp, "etc")
        for d in ("up", "work"):
            os.makedirs(os.path.join(etc, d), exist_ok=True)
        host_state = os.path.join(self.tmp, "state")
        os.makedirs(host_state, exist_ok=True)
        os.chown(host_state, NOBODY, NOBODY)
        os.chmod(host_state, 0o700)
        conf_file = os.path.join(self.tmp, "botu.conf.in")
        with open(conf_file, "w") as f:
            f.write(conf_text)
        cred_dir = "/run/credentials/botu.service"
        lines = [
            "set -e",
            # /etc/botu as an operator makes it: root's secrets, mode 600.
            "mount -t overlay overlay -o lowerdir=/etc,upperdir=%s/up,"
            "workdir=%s/work /etc" % (etc, etc),
            "mkdir -p /etc/botu && chmod 755 /etc/botu",
            "install -m 644 %s /etc/botu/botu.conf" % conf_file,
            "install -m 644 %s /etc/botu/ca.pem" % self.servers.ca,
        ]
        for cred in unit_values(unit, "LoadCredential"):
            name, path = cred.split(":", 1)
            lines.append("install -m 600 %s %s" % (
                self.servers.env["BOTU_TEST_PASSWORD_FILE"], path))
        lines += [
            "mount -o remount,ro /etc",
            # StateDirectory=: the only writable folder.
            "mount -t tmpfs -o mode=755 tmpfs /var/lib",
            "mkdir /var/lib/%s" % state,
            "mount --bind %s /var/lib/%s" % (host_state, state),
            "mount -o remount,ro /var/lib",
            # LoadCredential=: copies for the user alone.
            "mount -t tmpfs -o mode=755 tmpfs /run",
            "mkdir -p %s" % cred_dir,
        ]
        for cred in unit_values(unit, "LoadCredential"):
            name, path = cred.split(":", 1)
            lines.append("install -m 400 -o %d %s %s/%s" % (
                NOBODY, path, cred_dir, name))
        lines += [
            "chown %d %s && chmod 500 %s" % (NOBODY, cred_dir, cred_dir),
            "mount -o remount,ro /run",
            # ProtectHome=yes, ProtectSystem=strict.
            "mount -t tmpfs -o ro tmpfs /home",
            "mount -t tmpfs -o ro tmpfs /root",
            "mount -o remount,bind,ro /",
            "cd /",
            "umask %s" % umask,
            "exec setpriv --reuid=%d --regid=%d --clear-groups %s "
            "env -i PATH=/usr/bin:/bin %s %s %s" % (
                NOBODY, NOBODY,
                "--no-new-privs" if unit_value(
                    unit, "NoNewPrivileges") == "yes" else "",
                "CREDENTIALS_DIRECTORY=" + cred_dir if creds else "",
                self.bin, " ".join(args)),
        ]
        r = subprocess.run(["unshare", "-m", "--propagation", "private",
                            "sh", "-c", "\n".join(lines)],
                           capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        return r, host_state

    def test_runs_under_the_units_sandbox(self):
        unit = read_unit(UNIT)
        exec_start = unit_value(unit, "ExecStart").split()[1:]
        conf = ("[list]\naddress = %s\nname = Sandbox\n"
                "[imap]\nhost = 127.0.0.1\nport = %s\nsecurity = tls\n"
                "username = %s\npassword_file = /etc/botu/imap.secret\n"
                "ca_file = /etc/botu/ca.pem\n"
                "[smtp]\nhost = 127.0.0.1\nport = %s\nsecurity = starttls\n"
                "username = %s\npassword_file = /etc/botu/smtp.secret\n"
                "ca_file = /etc/botu/ca.pem\n" % (
                    self.list, self.servers.port("imaps"), self.list,
                    self.servers.port("submission"), self.list))
        # Without the credentials the secrets are root's: refused.
        r, _ = self.sandbox(exec_start + ["--once"], conf, creds=False)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("cannot read password_file /etc/botu/imap.secret: "
                      "Permission denied", r.stderr)
        # As the unit has it: the first start, then a sign-up answered.
        r, state = self.sandbox(exec_start + ["--once"], conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("first start", r.stderr)
        zoe = "zoe.%s@example.org" % self.tag
        self.servers.send(zoe, self.list, botutest.make_mail(
            zoe, self.list, "Aanmelden"))
        self.servers.wait_for_mail(self.list)
        r, state = self.sandbox(exec_start + ["--once"], conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = self.servers.wait_for_mail(zoe, timeout=30).msg
        self.assertIn("Sandbox", str(got["From"]))
        # The database is the unit's default, private to the user.
        db = os.path.join(state, "botu.db")
        st = os.stat(db)
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)),
                         (NOBODY, 0o600))
        # botu backup and status work there too.
        r, _ = self.sandbox(["-c", "/etc/botu/botu.conf", "backup",
                             "/var/lib/botu/copy.db"], conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(os.path.join(state, "copy.db")))
        # Nothing else is writable: a backup elsewhere is refused.
        r, _ = self.sandbox(["-c", "/etc/botu/botu.conf", "backup",
                             "/var/tmp-botu-copy.db"], conf)
        self.assertEqual(r.returncode, 73, r.stderr)
        self.assertIn("Read-only file system", r.stderr)

    # ---- botu check ----

    def check(self, overrides, user=None, name="c.conf"):
        conf = self.servers.write_config(os.path.join(self.tmp, name),
                                         overrides, user=user or self.list)
        r = subprocess.run([self.bin, "-c", conf, "check"],
                           capture_output=True, text=True, timeout=120)
        return r

    def line(self, out, item):
        m = re.search(r"(?m)^(ok|FAILED) +%s +(.*)$" % re.escape(item),
                      out.stdout)
        self.assertTrue(m, "no line for %s:\n%s" % (item, out.stdout))
        return m.group(1), m.group(2)

    def test_check_says_what_is_wrong_and_what_to_do(self):
        r = self.check({})
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for item in ("imap server", "imap login", "smtp server",
                     "smtp login", "permissions", "database"):
            self.assertEqual(self.line(r, item)[0], "ok", item)

        r = self.check({"imap": {"host": "imap.no-such-host.invalid"}})
        self.assertEqual(r.returncode, 78, r.stdout)
        self.assertEqual(self.line(r, "imap server"), (
            "FAILED", "cannot find host imap.no-such-host.invalid (Name or "
            "service not known): check [imap] host"))
        self.assertEqual(self.line(r, "smtp login")[0], "ok")

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        r = self.check({"smtp": {"port": str(closed)}})
        self.assertEqual(r.returncode, 69, r.stdout)
        self.assertEqual(self.line(r, "smtp server"), (
            "FAILED", "127.0.0.1 port %d: Connection refused: check [smtp] "
            "port and security (starttls: 587, tls: 465)" % closed))

        wrong = os.path.join(self.tmp, "wrong.secret")
        with open(wrong, "w") as f:
            f.write("not-the-password\n")
        os.chmod(wrong, 0o600)
        r = self.check({"imap": {"password_file": wrong}})
        self.assertEqual(r.returncode, 78)
        state, text = self.line(r, "imap login")
        self.assertEqual(state, "FAILED")
        self.assertRegex(text, r"refused the login .*; check \[imap\] "
                         r"username, auth and the password$")

        r = self.check({"imap": {"mailbox": "Nergens"}})
        self.assertEqual(r.returncode, 78)
        self.assertRegex(self.line(r, "imap login")[1],
                         r"Nergens.*; check \[imap\] mailbox$")

        other_ca = os.path.join(self.tmp, "other-ca.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", os.path.join(self.tmp, "k.pem"), "-out",
                        other_ca, "-days", "2", "-subj", "/CN=Other CA"],
                       check=True, capture_output=True)
        r = self.check({"imap": {"ca_file": other_ca},
                        "smtp": {"ca_file": other_ca}})
        self.assertEqual(r.returncode, 78)
        self.assertRegex(self.line(r, "imap login")[1], r"ca_file")
        self.assertRegex(self.line(r, "smtp login")[1],
                         r"not trusted .*ca_file")

        loose = os.path.join(self.tmp, "loose.secret")
        shutil.copy(self.servers.env["BOTU_TEST_PASSWORD_FILE"], loose)
        os.chmod(loose, 0o644)
        r = self.check({"smtp": {"password_file": loose}})
        self.assertEqual(r.returncode, 78)
        self.assertEqual(self.line(r, "smtp secret"), (
            "FAILED", "%s can be read by others: chmod 600 %s"
            % (loose, loose)))

    def test_check_permissions_as_an_unprivileged_user(self):
        folder = os.path.join(self.tmp, "rootonly")
        os.mkdir(folder, 0o755)
        conf = os.path.join(self.tmp, "p.conf")
        with open(conf, "w") as f:
            f.write("[list]\naddress = %s\ndatabase = %s/botu.db\n"
                    % (self.list, folder))
        os.chmod(conf, 0o644)
        r = subprocess.run(["setpriv", "--reuid=%d" % NOBODY,
                            "--regid=%d" % NOBODY, "--clear-groups",
                            self.bin, "-c", conf, "check"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 73, r.stdout + r.stderr)
        self.assertEqual(self.line(r, "permissions"), (
            "FAILED", "cannot write in %s (Permission denied): botu keeps "
            "the database and two files beside it there; create the folder "
            "or make it writable for this user" % folder))
        # It stops there: no database is made where it cannot be.
        self.assertNotRegex(r.stdout, r"(?m)^(ok|FAILED) +database ")
        os.chown(folder, NOBODY, NOBODY)
        r = subprocess.run(["setpriv", "--reuid=%d" % NOBODY,
                            "--regid=%d" % NOBODY, "--clear-groups",
                            self.bin, "-c", conf, "check"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.line(r, "permissions")[0], "ok")

    # ---- the log ----

    def test_syslog_target_one_line_per_event_masked(self):
        """[log] target = syslog: lines reach /dev/log (here a socket of
        the test, mounted there in a namespace of its own), facility mail,
        addresses masked."""
        conf = self.servers.write_config(
            os.path.join(self.tmp, "s.conf"),
            {"log": {"target": "syslog"}}, user=self.list)
        dev = os.path.join(self.tmp, "dev")
        os.mkdir(dev)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(os.path.join(dev, "log"))
        os.chmod(os.path.join(dev, "log"), 0o666)
        self.addCleanup(sock.close)
        script = ["set -e"]
        for name in ("null", "zero", "random", "urandom"):
            script.append("touch %s/%s && mount --bind /dev/%s %s/%s"
                          % (dev, name, name, dev, name))
        script.append("mount --bind %s /dev" % dev)

        def run():
            return subprocess.run(
                ["unshare", "-m", "--propagation", "private", "sh", "-c",
                 "\n".join(script + ["exec %s -c %s run --once"
                                     % (self.bin, conf)])],
                capture_output=True, text=True, timeout=120)

        r = run()
        self.assertEqual(r.returncode, 0, r.stderr)
        eve = "eve.%s@example.org" % self.tag
        self.servers.send(eve, self.list, botutest.make_mail(
            eve, self.list, "Aanmelden"))
        self.servers.wait_for_mail(self.list)
        r = run()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "", "the log went to stderr")
        sock.settimeout(2)
        lines = []
        try:
            while True:
                lines.append(sock.recv(4096).decode())
        except socket.timeout:
            pass
        text = "\n".join(lines)
        # <22>: facility mail (2) * 8 + info (6).
        self.assertRegex(text, r"<22>.*botu\[\d+\]: botu started for ")
        self.assertRegex(text, r"<22>.*botu\[\d+\]: UID \d+ from "
                         r"e\*\*\*@example\.org: subscribe \(handled\)")
        self.assertNotIn(eve, text)
        for line in lines:
            self.assertNotIn("\n", line.rstrip("\n"))

    def test_debug_trace_shows_no_password_token_or_address(self):
        conf = self.servers.write_config(os.path.join(self.tmp, "v.conf"),
                                         {}, user=self.list)
        first = subprocess.run([self.bin, "-c", conf, "run", "--once"],
                               capture_output=True, text=True, timeout=120)
        self.assertEqual(first.returncode, 0, first.stderr)
        sam = "sam.%s@example.org" % self.tag
        self.servers.send(sam, self.list, botutest.make_mail(
            sam, self.list, "Aanmelden"))
        self.servers.wait_for_mail(self.list)
        logs = []
        for full in (False, True):
            if full:
                conf = self.servers.write_config(
                    conf, {"log": {"addresses": "full"}}, user=self.list)
                ask = self.servers.wait_for_mail(sam, timeout=30).msg
                token = re.search(r"\[([a-z2-7]{26})\]",
                                  str(ask["Subject"])).group(1)
                reply_to = email.utils.parseaddr(str(ask["Reply-To"]))[1]
                self.servers.send(sam, reply_to, botutest.make_mail(
                    sam, reply_to, "Re: " + str(ask["Subject"]), "Ja"))
                self.servers.wait_for_mail(
                    self.list, lambda m: "Re:" in str(m["Subject"]))
            r = subprocess.run([self.bin, "-v", "-c", conf, "run", "--once"],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            logs.append(r.stderr)
        masked, full = logs
        password = self.servers.password
        for text in logs:
            self.assertIn("imap C:", text)
            self.assertRegex(text, r"smtp \S+: > RCPT TO:")
            self.assertIn("[redacted]", text)
            self.assertNotIn(password, text)
            self.assertNotIn(token, text)
        self.assertNotIn(sam, masked)
        self.assertIn("RCPT TO:<s***@example.org>", masked)
        # Full addresses: the person's, but still not the token.
        self.assertIn("RCPT TO:<%s>" % sam, full)
        self.assertEqual(json.loads(subprocess.run(
            [self.bin, "-c", conf, "members", "list", "--json"],
            capture_output=True, text=True).stdout)[0]["status"], "active")


if __name__ == "__main__":
    unittest.main()
