#!/usr/bin/python3
"""Every mail in tests/data/intent/ is understood as its table says.

Runs `botu explain --json` on each file, the same parse and classify code
the daemon runs, and compares the intent (and the answer's language where it
matters) with tests/data/intent/expected.tsv. A personal mail that botu
would act on is the worst failure, so it is reported first.
"""
import csv
import json
import os
import subprocess
import unittest

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


if __name__ == "__main__":
    unittest.main()
