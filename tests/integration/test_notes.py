#!/usr/bin/python3
"""PS notes by e-mail alone, against a real Dovecot and Postfix: a member
sends a note, confirms the exact text, a moderator approves it by replying,
the author is told and the waaier shows it; a second moderator comes too
late; a forged note never appears; withdrawing takes it off again.

And the waaier itself: 80 generated notes rendered by `botu waaier` and
opened in headless Chromium, which must show every note without a single
console error. Screenshots stay in build/test-output/ for people to look
at.

Each test has its own list address (its own mailbox and database).
"""
import email.utils
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import botutest  # noqa: E402

OUTPUT = os.path.join(botutest.REPO, "build", "test-output")

# The sanitizer build when make check-run made it: every step of a note
# then runs under ASan and UBSan too.
ASAN_BIN = os.path.join(botutest.REPO, "build-asan", "botu")
BOTU_BIN = os.environ.get("BOTU_BIN") or (
    ASAN_BIN if os.access(ASAN_BIN, os.X_OK) else botutest.BOTU_BIN)

NOTE = ("Ik woon al twintig jaar in Bospolder en ik doe mee omdat mijn "
        "buren het 's winters koud hebben.\nBelangrijk vind ik dat "
        "niemand er in woonlasten op achteruit gaat.\n\nBel me over de "
        "huurdersvereniging of als je hulp wilt bij een subsidie.")


class Notes(botutest.ServersTestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="botu-notes-")
        short = self._testMethodName[5:17].replace("_", "")
        self.list = "ps-%s@lsabewoners.nl" % short
        self.mod1 = "mod1-%s@example.org" % short
        self.mod2 = "mod2-%s@example.org" % short
        self.waaier = os.path.join(self.tmp, "waaier")
        os.mkdir(self.waaier)
        self.conf = self.servers.write_config(
            os.path.join(self.tmp, "botu.conf"),
            {"list": {"name": "Energie community BoTu",
                      "moderators": "%s, %s" % (self.mod1, self.mod2)},
             "notes": {"waaier_dir": self.waaier}}, user=self.list)
        self.run_once()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- helpers, as in test_flow.py ----

    def botu(self, *args, check=True):
        out = subprocess.run([BOTU_BIN, "-c", self.conf] +
                             list(args), capture_output=True, text=True,
                             timeout=120)
        if check and out.returncode != 0:
            self.fail("botu %s: exit %d\n%s%s" % (" ".join(args),
                      out.returncode, out.stdout, out.stderr))
        return out

    def run_once(self):
        return self.botu("run", "--once")

    def notes(self):
        return json.loads(self.botu("notes", "list", "--json").stdout)

    def deliver(self, sender, msg, to):
        mid = re.search(rb"Message-ID: (<[^>]+>)", msg, re.I).group(1)
        self.servers.send(sender, to, msg)
        self.servers.wait_for_mail(
            self.list, lambda m: m["Message-ID"] == mid.decode())

    def mail(self, sender, subject, body, to=None, envelope=None):
        msg = botutest.make_mail(sender, to or self.list, subject, body)
        addr = email.utils.parseaddr(sender)[1]
        self.deliver(envelope or addr, msg, to or self.list)
        return msg

    def reply(self, person, to_msg, body):
        """Answers to_msg as a mail client does: to Reply-To, "Re:",
        the quoted text under a Dutch attribution."""
        quoted = "\n".join("> " + line for line in
                           to_msg.get_body(("plain",)).get_content()
                           .splitlines())
        text = "%s\n\nOp %s schreef %s:\n%s\n" % (
            body, email.utils.formatdate(localtime=True), to_msg["From"],
            quoted)
        addr = email.utils.parseaddr(str(to_msg["Reply-To"]))[1]
        msg = botutest.make_mail(person, addr, "Re: " + to_msg["Subject"],
                                 text, {"In-Reply-To": to_msg["Message-ID"],
                                        "References": to_msg["Message-ID"]})
        self.deliver(email.utils.parseaddr(person)[1], msg, addr)

    def wait(self, user, word):
        return self.servers.wait_for_mail(
            user, lambda m: word in str(m["Subject"])).msg

    def count(self, user, word):
        return sum(1 for m in self.servers.fetch_all(user)
                   if word in str(m.msg["Subject"]))

    def page(self):
        with open(os.path.join(self.waaier, "index.html"),
                  encoding="utf-8") as f:
            return f.read()

    @staticmethod
    def text(msg):
        return msg.get_body(("plain",)).get_content()

    # ---- the tests ----

    def test_note_confirm_approve_late_moderator_withdraw(self):
        fatima = "fatima@example.org"
        self.botu("members", "add", fatima, "--name", "Fatima Öztürk")
        self.mail("Fatima <%s>" % fatima, "Mijn PS",
                  "Hoi Annerike,\n\nrol: bewoner\n\n%s\n\nGroetjes,\n"
                  "Fatima\n\nVerstuurd vanaf mijn iPhone\n" % NOTE,
                  to=self.list.replace("@", "+ps@"))
        self.run_once()

        ask = self.wait(fatima, "PS-noot?")
        token = re.search(r"\[([a-z2-7]{26})\]", ask["Subject"]).group(1)
        self.assertEqual(email.utils.parseaddr(ask["Reply-To"])[1],
                         self.list.replace("@", "+bevestig-%s@" % token))
        body = self.text(ask)
        # The exact text, name, role and where it appears.
        self.assertIn("Bel me over de huurdersvereniging", body)
        self.assertIn("Fatima Öztürk - bewoner", body)
        self.assertIn("waaier", body)
        self.assertIn("nieuwsmail", body)
        self.assertNotIn("Groetjes", body)
        self.assertNotIn("iPhone", body)
        self.assertEqual(self.notes()[0]["status"], "unconfirmed")
        self.servers.wait_queue_empty()
        self.assertEqual(self.servers.fetch_all(self.mod1), [],
                         "nothing for a moderator before the author's yes")

        self.reply(fatima, ask, "Ja, klopt!")
        self.run_once()
        first = self.wait(self.mod1, "ter beoordeling")
        late = self.wait(self.mod2, "ter beoordeling")
        self.assertIn("Fatima Öztürk", first["Subject"])
        self.assertIn("Bel me over de huurdersvereniging", self.text(first))
        self.assertEqual(self.notes()[0]["status"], "pending")
        # The page is there from the start, without unpublished notes.
        self.assertNotIn("huurdersvereniging", self.page())
        self.assertIn("Er staan nog geen PS-noten", self.page())

        self.reply(self.mod1, first, "Akkoord")
        self.run_once()
        told = self.wait(fatima, "staat erop")
        self.assertIn("Bel me over de huurdersvereniging", self.text(told))
        note = self.notes()[0]
        self.assertEqual(note["status"], "published")
        self.assertEqual(note["decided_by"], self.mod1)
        page = self.page()
        self.assertIn("Fatima Öztürk", page)
        self.assertIn("huurdersvereniging", page)

        # The second moderator comes too late.
        self.reply(self.mod2, late, "akkoord")
        self.run_once()
        handled = self.wait(self.mod2, "al afgehandeld")
        self.assertIn(self.mod1, self.text(handled))
        self.servers.wait_queue_empty()
        self.assertEqual(self.count(fatima, "staat erop"), 1,
                         "the author hears once")

        # Withdraw: asked to confirm (no trusted DMARC), then gone.
        self.mail(fatima, "PS intrekken", "")
        self.run_once()
        sure = self.wait(fatima, "intrekken?")
        self.assertEqual(self.notes()[0]["status"], "published")
        self.reply(fatima, sure, "Ja")
        self.run_once()
        self.wait(fatima, "ingetrokken")
        self.assertEqual(self.notes()[0]["status"], "withdrawn")
        self.assertNotIn("huurdersvereniging", self.page())
        self.assertIn("Er staan nog geen PS-noten", self.page())

    def test_forged_note_never_appears(self):
        jan = "jan@example.org"
        self.botu("members", "add", jan, "--name", "Jan de Vries")
        # Mallory writes in Jan's name (From: jan, envelope: mallory).
        self.mail("Jan de Vries <%s>" % jan, "PS-noot",
                  "Iedereen moet mij geld sturen.",
                  envelope="mallory@example.net")
        self.run_once()
        # The question goes to the real Jan, who never answers it.
        self.wait(jan, "PS-noot?")
        self.servers.wait_queue_empty()
        self.assertEqual(self.servers.fetch_all("mallory@example.net"), [])
        # A guessed code confirms nothing.
        forged = "abcdefghijklmnopqrstuvwxyz"
        self.mail(jan, "Re: Klopt je PS-noot? [%s]" % forged, "Ja",
                  to=self.list.replace("@", "+bevestig-%s@" % forged),
                  envelope="mallory@example.net")
        self.run_once()
        self.assertEqual([n["status"] for n in self.notes()],
                         ["unconfirmed"])
        self.servers.wait_queue_empty()
        self.assertEqual(self.servers.fetch_all(self.mod1), [])
        self.assertNotIn("geld sturen", self.page())
        out = self.botu("waaier", "--html", "-").stdout
        self.assertNotIn("geld sturen", out)

    def test_ps_question_and_bad_notes(self):
        piet = "piet@example.org"
        self.botu("members", "add", piet, "--name", "Piet")
        self.mail(piet, "PS: bijlage vergeten", "Hier is hij alsnog.\n")
        self.mail(piet, "PS-noot", "<script>alert(1)</script> {{x}} "
                  + "lang " * 400)
        self.run_once()
        self.wait(piet, "Is dit je PS-noot?")
        self.wait(piet, "te lang")
        # The "PS:" mail stays, unread, for the person.
        left = [m for m in self.servers.fetch_all(self.list)
                if m.msg["Subject"] == "PS: bijlage vergeten"]
        self.assertEqual(len(left), 1)
        self.assertNotIn("\\Seen", left[0].flags)
        self.assertEqual(self.notes(), [])

    def test_organiser_approves_with_the_command(self):
        ann = "ann@example.net"
        self.botu("members", "add", ann, "--name", "Ann Smith",
                  "--language", "en", "--role", "Kunstenaar")
        self.mail(ann, "My note", "I paint the murals on the "
                  "Schiedamseweg. Call me about art in the energy "
                  "transition.", to=self.list.replace("@", "+ps@"))
        self.run_once()
        ask = self.wait(ann, "PS note right?")
        self.assertIn("Ann Smith - kunstenaar", self.text(ask))
        self.reply(ann, ask, "Yes")
        self.run_once()
        note = self.notes()[0]
        self.assertEqual(note["status"], "pending")
        out = self.botu("notes", "approve", str(note["id"]))
        self.assertIn("published", out.stdout)
        self.assertIn("murals", self.page())
        again = self.botu("notes", "reject", str(note["id"]), check=False)
        self.assertEqual(again.returncode, 65)
        self.assertIn("already (by cli)", again.stderr)
        self.run_once()
        self.assertIn("is up", str(self.wait(ann, "is up")["Subject"]))
        # forget: the note leaves the waaier with the member.
        self.botu("members", "forget", ann)
        self.assertNotIn("murals", self.page())
        self.assertEqual(self.notes(), [])


# ---------------------------------------------------------------- waaier

FIRST = ["Fatima", "Jan", "Anouk", "Mohamed", "Sanne", "Kees", "Yusuf",
         "Ingrid", "Priya", "Ruud", "Esra", "Henk", "Lotte", "Bram",
         "Naima", "Wim", "Shanti", "Joost", "Hatice", "Daan"]
LAST = ["de Vries", "Jansen", "El Amrani", "Bakker", "Öztürk", "Visser",
        "Smit", "Demir", "Meijer", "van den Berg", "Mulder", "Kaya",
        "Bos", "van Dijk", "Boukhari", "Hendriks"]
ROLES = ["bewoner", "gemeente", "woningcorporatie", "energiebedrijf",
         "energiecoöperatie", "ondernemer", "maatschappelijke organisatie",
         "kunstenaar", ""]
SENTENCES = [
    "Ik doe mee omdat ik wil dat iedereen in de wijk warm woont.",
    "Belangrijk vind ik dat we elkaar verstaan, ook als Nederlands niet "
    "je eerste taal is.",
    "Bel me over isolatie, zonnepanelen of subsidies.",
    "Ik werk al vijftien jaar in Bospolder-Tussendijken.",
    "Samen kunnen we meer dan ieder voor zich.",
    "Mijn deur staat open: kom gerust langs voor een kop koffie.",
    "Ik ken de portiekflats aan de Mathenesserdijk als mijn broekzak.",
    "Bel me als je wilt meedenken over de warmtevisie.",
]

# Added to a copy of the page only: the page itself has no script.
CHECKER = """<script>
(function () {
  var out = {cards: 0, hidden: [], clipped: [], names: []};
  var cards = document.querySelectorAll('.card');
  out.cards = cards.length;
  for (var i = 0; i < cards.length; i++) {
    var c = cards[i], r = c.getBoundingClientRect();
    var s = getComputedStyle(c);
    var name = c.querySelector('.name').textContent;
    out.names.push(name);
    if (r.width < 100 || r.height < 40 || s.visibility !== 'visible' ||
        s.display === 'none' || parseFloat(s.opacity) < 0.9)
      out.hidden.push(name);
    var n = c.querySelector('.note');
    if (n.scrollHeight > n.clientHeight + 2 ||
        c.scrollWidth > c.clientWidth + 2)
      out.clipped.push(name);
  }
  document.body.setAttribute('data-check', JSON.stringify(out));
})();
</script>"""


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Waaier(unittest.TestCase):
    """The page with 80 notes in a real browser."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="botu-waaier-")
        os.chmod(cls.tmp, 0o755)
        cls.conf = os.path.join(cls.tmp, "botu.conf")
        with open(cls.conf, "w") as f:
            f.write("[list]\naddress = annerike@lsabewoners.nl\n"
                    "name = Energie community BoTu\n"
                    "database = %s/botu.db\ntemplates = %s/templates\n"
                    % (cls.tmp, botutest.REPO))
        cls.names = cls.make_notes(80)
        os.makedirs(OUTPUT, exist_ok=True)
        cls.page = os.path.join(OUTPUT, "waaier.html")
        out = subprocess.run([BOTU_BIN, "-c", cls.conf, "waaier",
                              "--html", cls.page], capture_output=True,
                             text=True, timeout=60)
        if out.returncode != 0:
            raise AssertionError("botu waaier: %s" % out.stderr)
        cls.wrote = out.stdout

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def make_notes(cls, n):
        """n published notes of n members, straight into the store."""
        subprocess.run([BOTU_BIN, "-c", cls.conf, "members",
                        "list"], check=True, capture_output=True)
        rnd = random.Random(8)
        db = sqlite3.connect(os.path.join(cls.tmp, "botu.db"))
        names = []
        for i in range(n):
            name = "%s %s" % (FIRST[i % len(FIRST)],
                              LAST[(i * 7) % len(LAST)])
            if i == 0:
                name = "Kees <b>\"de\"</b> & Zonen"
            names.append(name)
            role = ROLES[i % len(ROLES)]
            if i % 11 == 3:  # a long note
                body = " ".join(rnd.choice(SENTENCES) for _ in range(14))
                body += "\n\nEn nog een alinea: " + SENTENCES[2]
            elif i % 5 == 1:  # a short one
                body = "Bel me!"
            else:
                body = " ".join(rnd.choice(SENTENCES)
                                for _ in range(rnd.randint(2, 5)))
            if i == 0:
                body = ("<script>alert('x')</script> {{list_name}} "
                        "<img src=x onerror=alert(1)> &amp; </p></li>")
            cur = db.execute(
                "INSERT INTO members (email, name, role, status, "
                "created_at, updated_at) VALUES (?, ?, ?, 'active', 1, 1)",
                ("lid%d@example.org" % i, name, role))
            db.execute(
                "INSERT INTO notes (member_id, body, name, role, status, "
                "created_at, updated_at, confirmed_at, published_at) "
                "VALUES (?, ?, ?, ?, 'published', 1, 1, 1, 1)",
                (cur.lastrowid, body, name, role))
        db.commit()
        db.close()
        return names

    def browser(self, *args):
        exe = chromium()
        if exe is None:
            self.skipTest("chromium is not installed (tests/install-deps.sh "
                          "installs it)")
        profile = tempfile.mkdtemp(prefix="chromium-", dir=self.tmp)
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync",
               "--user-data-dir=" + profile, "--enable-logging=stderr",
               "--v=0"] + list(args)
        try:
            out = subprocess.run(cmd, capture_output=True, text=True,
                                 timeout=120)
        except subprocess.TimeoutExpired:
            self.fail("chromium did not finish in 120 s")
        if out.returncode != 0 and "--dump-dom" in args and not out.stdout:
            self.fail("chromium failed: %s" % out.stderr[-2000:])
        return out

    @staticmethod
    def console_errors(stderr):
        return [line for line in stderr.splitlines()
                if ":CONSOLE" in line or "Uncaught" in line]

    def test_botu_says_what_it_wrote(self):
        self.assertIn("80 notes", self.wrote)

    def test_page_is_self_contained_and_escaped(self):
        with open(self.page, encoding="utf-8") as f:
            html = f.read()
        self.assertNotIn("<script", html)
        self.assertNotIn("<img", html)
        self.assertIsNone(re.search(r"(src|href)=\"?(https?:)?//", html))
        self.assertIn("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; "
                      "{{list_name}}", html.replace("&#x27;", "&#39;"))
        self.assertIn("@media print", html)

    def test_the_console_check_can_fail(self):
        bad = os.path.join(self.tmp, "bad.html")
        with open(bad, "w") as f:
            f.write("<!DOCTYPE html><p>x</p><script>nope();</script>")
        out = self.browser("--dump-dom", "file://" + bad)
        self.assertTrue(self.console_errors(out.stderr),
                        "the browser's console errors are not seen: "
                        "this test could not fail")

    def test_every_note_is_visible_without_console_errors(self):
        out = self.browser("--dump-dom", "file://" + self.page)
        self.assertEqual(self.console_errors(out.stderr), [])
        checked = os.path.join(self.tmp, "checked.html")
        with open(self.page, encoding="utf-8") as f:
            html = f.read()
        with open(checked, "w", encoding="utf-8") as f:
            f.write(html.replace("</body>", CHECKER + "</body>"))
        for width in ("1280,2000", "390,844"):  # a screen and a phone
            out = self.browser("--window-size=" + width, "--dump-dom",
                               "file://" + checked)
            m = re.search(r"data-check=\"([^\"]*)\"", out.stdout)
            self.assertIsNotNone(m, "the check did not run:\n%s"
                                 % out.stderr[-2000:])
            check = json.loads(m.group(1).replace("&quot;", '"')
                               .replace("&lt;", "<").replace("&gt;", ">")
                               .replace("&amp;", "&"))
            self.assertEqual(check["cards"], 80, width)
            self.assertEqual(sorted(check["names"]), sorted(self.names))
            self.assertEqual(check["hidden"], [], width)
            self.assertEqual(check["clipped"], [], width)
            self.assertEqual(self.console_errors(out.stderr), [], width)

    def test_screenshots_and_print(self):
        shots = []
        for name, size in (("waaier.png", "1280,2400"),
                           ("waaier-phone.png", "390,1800")):
            path = os.path.join(OUTPUT, name)
            if os.path.exists(path):
                os.unlink(path)
            self.browser("--window-size=" + size, "--hide-scrollbars",
                         "--screenshot=" + path, "file://" + self.page)
            self.assertTrue(os.path.exists(path), name)
            self.assertGreater(os.path.getsize(path), 20000, name)
            shots.append(path)
        pdf = os.path.join(OUTPUT, "waaier.pdf")
        if os.path.exists(pdf):
            os.unlink(pdf)
        self.browser("--no-pdf-header-footer", "--print-to-pdf=" + pdf,
                     "file://" + self.page)
        self.assertTrue(os.path.exists(pdf))
        with open(pdf, "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"%PDF"))
        pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
        self.assertGreater(pages, 3, "80 notes on fewer than 4 pages?")
        print("\nwaaier screenshots: %s; printed: %s (%d pages)"
              % (", ".join(shots), pdf, pages))


if __name__ == "__main__":
    unittest.main()
