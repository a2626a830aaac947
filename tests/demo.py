#!/usr/bin/python3
"""make demo: botu at work, as a newcomer would watch it.

Starts a real Dovecot and Postfix on 127.0.0.1 (tests/servers.sh), drops
four realistic mails into the organiser's mailbox (a Dutch sign-up, an
English one, a personal mail and an out-of-office), runs botu, plays the
people's replies as their mail programs would send them, plans a meeting
(an invitation for the calendar, answered), sends a digest, and shows
what happened. The servers stop at the end; the mailboxes stay on disk so the
mails botu sent can be read.
"""
import email.utils
import json
import os
import re
import subprocess
import sys
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "integration", "lib"))
import botutest  # noqa: E402

LIST = "annerike@lsabewoners.nl"
PIET = "piet.jansen@example.org"
ANN = "ann.smith@example.net"
JAN = "jan.bakker@example.org"
ELS = "els.devries@example.org"


def say(text=""):
    print(textwrap.fill(text, 76) if text else "", flush=True)


def step(title):
    print("\n== %s\n" % title, flush=True)


class Demo:
    def __init__(self):
        self.s = botutest.Servers.start()
        self.dir = self.s.dir
        self.conf = self.s.write_config(
            os.path.join(self.dir, "botu.conf"),
            {"list": {"name": "Energie community BoTu"}})

    def botu(self, *args, show=True):
        cmd = [botutest.BOTU_BIN, "-c", self.conf] + list(args)
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=120)
        if show:
            print("$ botu %s" % " ".join(args))
            for line in (out.stdout + out.stderr).splitlines():
                print("  " + line)
        if out.returncode != 0:
            raise SystemExit("demo: botu %s failed with exit %d"
                             % (" ".join(args), out.returncode))
        return out.stdout

    def drop(self, sender, to, subject, body, headers=None):
        msg = botutest.make_mail(sender, to, subject, body, headers)
        mid = re.search(rb"Message-ID: (<[^>]+>)", msg).group(1).decode()
        self.s.send(email.utils.parseaddr(sender)[1], to, msg)
        self.s.wait_for_mail(LIST, lambda m: m["Message-ID"] == mid)

    def newest(self, user, predicate=None):
        return self.s.wait_for_mail(
            user, predicate or (lambda m: True), timeout=20).msg

    def show_mail(self, who, msg):
        print("  In %s's mailbox:" % who)
        for h in ("From", "To", "Reply-To", "Subject", "List-Unsubscribe",
                  "Auto-Submitted"):
            if msg[h]:
                print("    %-17s %s" % (h + ":", msg[h]))
        body = msg.get_body(("plain",)).get_content()
        lines = [l for l in body.splitlines()][:12]
        print("    | " + "\n    | ".join(lines))
        print("    | ...")

    def reply(self, person, msg, text):
        """As a mail program answers: to Reply-To, with "Re:" and quotes."""
        quoted = "\n".join("> " + l for l in
                           msg.get_body(("plain",)).get_content()
                           .splitlines())
        to = email.utils.parseaddr(str(msg["Reply-To"] or msg["From"]))[1]
        body = "%s\n\nOp %s schreef %s:\n%s\n" % (
            text, email.utils.formatdate(localtime=True), msg["From"],
            quoted)
        self.drop(person, to, "Re: " + msg["Subject"], body,
                  {"In-Reply-To": msg["Message-ID"],
                   "References": msg["Message-ID"]})

    def inbox_state(self):
        for m in self.s.fetch_all(LIST):
            seen = "read" if "\\Seen" in m.flags else "unread"
            print("    %-7s %-28s %s" % (seen, m.msg["From"][:28],
                                         m.msg["Subject"]))

    def run(self):
        step("1. A fresh mailbox and botu's first start")
        say("The mailbox %s is the organiser's own inbox. On its first "
            "start botu only notes where the mailbox is: it never touches "
            "mail that was already there." % LIST)
        self.botu("run", "--once")

        step("2. Four mails arrive")
        self.drop("Piet Jansen <%s>" % PIET, LIST, "Nieuwsbrief",
                  "Hoi Annerike,\n\nIk wil graag op de hoogte blijven!\n\n"
                  "Groetjes,\nPiet\n")
        self.drop("Ann Smith <%s>" % ANN, LIST, "Subscribe",
                  "Hello,\n\nPlease subscribe me.\n\nKind regards,\nAnn\n")
        self.drop("Jan Bakker <%s>" % JAN, LIST, "Buurtborrel",
                  "Hoi Annerike,\n\nIk wil me aanmelden voor de buurtborrel "
                  "van vrijdag. Neem ik iets mee?\n\nJan\n")
        self.drop("Els de Vries <%s>" % ELS, LIST,
                  "Automatisch antwoord: Energie in de wijk",
                  "Ik ben tot maandag 7 december afwezig.\n",
                  {"Auto-Submitted": "auto-replied"})
        say("A Dutch sign-up in free text, an English one, a personal mail "
            "that uses the word 'aanmelden', and an out-of-office. What "
            "botu makes of each, without changing anything:")
        self.botu("run", "--dry-run")

        step("3. botu handles them")
        self.botu("run", "--once")
        say("The sign-ups got a request to confirm (double opt-in). The "
            "personal mail and the out-of-office are untouched:")
        self.inbox_state()
        confirm_piet = self.newest(PIET)
        self.show_mail("Piet", confirm_piet)

        step("4. Piet and Ann answer, as their mail programs do")
        self.reply("Piet Jansen <%s>" % PIET, confirm_piet, "Ja!")
        confirm_ann = self.newest(ANN)
        self.reply("Ann Smith <%s>" % ANN, confirm_ann, "Yes please.")
        self.botu("run", "--once")
        welcome = self.newest(PIET, lambda m: "Welkom" in m["Subject"])
        self.show_mail("Piet", welcome)
        self.newest(ANN, lambda m: "Welcome" in m["Subject"])
        self.botu("members", "list")

        step("5. A meeting lands in their calendars")
        start = time.strftime("%Y-%m-%d 19:30",
                              time.localtime(time.time() + 10 * 86400))
        say("The organiser plans a meeting. Every member gets their own "
            "invitation, with the meeting for the calendar inside: Gmail, "
            "Outlook and Apple Mail show Yes/No/Maybe buttons.")
        self.botu("meeting", "add", "--title", "Buurtoverleg warmtenet",
                  "--start", start, "--location", "Buurthuis De Hoek")
        self.botu("run", "--once", show=False)
        invite = self.newest(ANN, lambda m: "Buurtoverleg" in
                             str(m["Subject"]))
        self.show_mail("Ann", invite)
        print("    parts: " + ", ".join(
            p.get_content_type() + (" (%s)" % p.get_filename()
                                    if p.get_filename() else "")
            for p in invite.walk() if not p.is_multipart()))
        say("Ann answers with a plain reply; a click on Yes in her "
            "calendar would do the same.")
        self.reply("Ann Smith <%s>" % ANN, invite, "Yes, I'll be there.")
        self.botu("run", "--once", show=False)
        self.botu("meeting", "show", "1")

        step("6. The digest")
        say("The core team shares news; the periodic digest gathers it with "
            "the new PS notes and the meetings to come, one mail per "
            "member with their own way to leave.")
        news = os.path.join(self.dir, "news.txt")
        with open(news, "w") as f:
            f.write("De school zegt ja! We zoeken nog drie mensen voor de "
                    "werkgroep zonnepanelen.\n")
        self.botu("post", "--subject", "Zonnepanelen op de school",
                  "--name", "Kernteam", "--file", news)
        self.botu("digest", "send")
        self.botu("run", "--once", show=False)
        digest = self.newest(PIET, lambda m: "Nieuwsbrief" in
                             str(m["Subject"]))
        self.show_mail("Piet", digest)

        step("7. Piet leaves with one click in his mail program")
        unsub = re.search(r"<mailto:([^?>]+)", welcome["List-Unsubscribe"])
        say("His mail program sends an empty mail to the address in the "
            "List-Unsubscribe header, %s. botu ends the membership at once "
            "and sends no goodbye." % unsub.group(1))
        self.drop(PIET, unsub.group(1), "unsubscribe", "")
        self.botu("run", "--once")
        self.botu("members", "list")
        self.botu("status")

        step("8. Where to read it all")
        maildirs = self.s.env["BOTU_TEST_MAILDIRS"]
        say("The servers stop now; the mailboxes stay. The mails botu sent "
            "are Maildir files:")
        for who in (PIET, ANN):
            local, domain = who.split("@")
            print("    %s/%s/%s/" % (maildirs, domain, local))
        print("  for example:  ls %s/example.org/piet.jansen/new/"
              % maildirs)
        print("  botu's database: %s/botu.db  (botu -c %s status)"
              % (self.dir, self.conf))
        print("  remove it all with:  rm -rf %s" % self.dir)


def main():
    demo = Demo()
    try:
        demo.run()
    finally:
        demo.s.stop(keep=True)
    print("\nThe demo is done.")


if __name__ == "__main__":
    main()
