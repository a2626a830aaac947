#!/usr/bin/python3
"""Every mail in tests/data/intent/ is understood as its table says.

Runs `botu explain --json` on each file, the same parse and classify code
the daemon runs, and compares the intent (and the answer's language where it
matters) with tests/data/intent/expected.tsv. A personal mail that botu
would act on is the worst failure, so it is reported first.
"""
import csv
import email
import email.policy
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import botutest  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.path.join(ROOT, "tests", "data", "intent")
BOTU = os.environ.get("BOTU", os.path.join(ROOT, "botu"))
LIST = "annerike@lsabewoners.nl"

# Intents botu answers or acts on; the others leave the mail alone.
ACTING = {"subscribe", "confirm", "unsubscribe", "help"}


def answers_in_mail_language(got):
    """Answers that follow the mail's language (a welcome after a
    confirmation follows the member's stored one; a one-click unsubscribe
    gets no answer)."""
    return (got["intent"] in ("subscribe", "help")
            or (got["intent"] == "unsubscribe"
                and got["channel"] != "token-address"))


def explain(path):
    out = subprocess.run(
        [BOTU, "-c", "/nonexistent/botu.conf", "explain", "--json",
         "--list", LIST, path],
        capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError("botu explain %s: exit %d: %s"
                             % (path, out.returncode, out.stderr))
    return json.loads(out.stdout)


def expectations():
    with open(os.path.join(DATA, "expected.tsv"), newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


class IntentTable(unittest.TestCase):
    def test_every_mail(self):
        rows = expectations()
        self.assertGreaterEqual(len(rows), 60)
        wrong, acted_on_personal = [], []
        for row in rows:
            got = explain(os.path.join(DATA, row["file"]))
            if got["intent"] != row["intent"]:
                wrong.append("%s: got %s (%s), want %s" % (
                    row["file"], got["intent"], got["reason"],
                    row["intent"]))
                if (row["intent"] in ("leave-alone", "automatic")
                        and got["intent"] in ACTING):
                    acted_on_personal.append(row["file"])
            elif (answers_in_mail_language(got)
                  and got["language"] != row["language"]):
                wrong.append("%s: answers in %s, want %s" % (
                    row["file"], got["language"], row["language"]))
        self.assertEqual(acted_on_personal, [],
                         "botu would act on mail it must leave alone")
        self.assertEqual(wrong, [], "\n" + "\n".join(wrong))

    def test_leave_alone_mails_stay_untouched(self):
        """explain says the mail stays as it is for every leave-alone."""
        for row in expectations():
            if row["intent"] not in ("leave-alone", "automatic"):
                continue
            got = explain(os.path.join(DATA, row["file"]))
            self.assertFalse(got["act"], row["file"])


class SameThroughTheDaemon(botutest.ServersTestCase):
    """The daemon reads each mail as explain does: the same table, read
    from the inbound rows of `botu run --once` over a real mailbox."""

    def test_daemon_agrees_with_the_table(self):
        s = self.servers
        tmp = tempfile.mkdtemp(prefix="botu-intent-")
        conf = s.write_config(os.path.join(tmp, "botu.conf"), user=LIST)
        run = [botutest.BOTU_BIN, "-c", conf, "run", "--once"]
        subprocess.run(run, check=True, capture_output=True, timeout=120)
        rows, by_id = expectations(), {}
        for row in rows:
            with open(os.path.join(DATA, row["file"]), "rb") as f:
                raw = f.read()
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            by_id[msg["Message-ID"].strip()] = row
            s.append(LIST, raw)
        out = subprocess.run(run, capture_output=True, text=True,
                             timeout=600)
        self.assertEqual(out.returncode, 0, out.stderr[-3000:])
        db = sqlite3.connect(os.path.join(tmp, "botu.db"))
        got = dict(db.execute("SELECT message_id, intent FROM inbound"))
        wrong = ["%s: daemon %s, table %s" % (row["file"],
                                              got.get(mid), row["intent"])
                 for mid, row in by_id.items()
                 if got.get(mid) != row["intent"]]
        self.assertEqual(wrong, [], "\n" + "\n".join(wrong))
        # What it did not act on is still in the inbox, unread.
        acted = {mid for (mid,) in db.execute(
            "SELECT message_id FROM inbound WHERE state = 'done'")}
        for m in s.fetch_all(LIST):
            self.assertNotIn(m.msg["Message-ID"].strip(), acted)
            self.assertNotIn("\\Seen", m.flags)


if __name__ == "__main__":
    unittest.main()
