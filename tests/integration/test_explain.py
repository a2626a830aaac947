#!/usr/bin/python3
"""botu explain on every real-world mail of ../shared/corpora/ and every
project test mail: valid JSON, a known intent, never a crash or a leak
(the sanitizer build, when there is one), and never an action on mail that
is not a command to the list.
"""
import concurrent.futures
import glob
import json
import os
import subprocess
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORPORA = os.path.join(os.path.dirname(ROOT), "shared", "corpora")
ASAN = os.path.join(ROOT, "build-asan", "botu")
BOTU = os.environ.get("BOTU") or (ASAN if os.path.exists(ASAN)
                                  else os.path.join(ROOT, "botu"))
INTENTS = {"subscribe", "confirm", "unsubscribe", "help", "note",
           "note-question", "update", "rsvp", "bounce", "automatic",
           "leave-alone", "digest"}
ACTING = {"subscribe", "confirm", "unsubscribe", "help", "digest"}
ENV = dict(os.environ,
           ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:exitcode=99",
           UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=99")


def explain(path):
    out = subprocess.run(
        [BOTU, "-c", "/nonexistent/botu.conf", "explain", "--json",
         "--list", "annerike@lsabewoners.nl", path],
        capture_output=True, text=True, timeout=120, env=ENV)
    return path, out


def run_all(paths):
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(explain, paths))


class ExplainEverything(unittest.TestCase):
    def check(self, results, may_act):
        problems = []
        for path, out in results:
            name = os.path.relpath(path, os.path.dirname(ROOT))
            if out.returncode != 0:
                problems.append("%s: exit %d: %s" % (
                    name, out.returncode, out.stderr[-2000:]))
                continue
            try:
                got = json.loads(out.stdout)
            except ValueError as e:
                problems.append("%s: not JSON (%s): %r" % (
                    name, e, out.stdout[:200]))
                continue
            if got.get("intent") not in INTENTS:
                problems.append("%s: intent %r" % (name, got.get("intent")))
            elif not may_act and got["intent"] in ACTING:
                problems.append("%s: would act: %s (%s)" % (
                    name, got["intent"], got["reason"]))
            if got.get("intent") == "bounce":
                self.assertIsInstance(got["bounces"], list, name)
            if "calendar" in got:
                self.assertIn("method", got["calendar"], name)
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    @unittest.skipUnless(os.path.isdir(CORPORA), "no ../shared/corpora")
    def test_corpora(self):
        paths = sorted(glob.glob(os.path.join(CORPORA, "*", "*.eml")))
        self.assertGreater(len(paths), 500)
        self.check(run_all(paths), may_act=False)

    def test_project_mails(self):
        paths = sorted(glob.glob(os.path.join(ROOT, "tests", "data",
                                              "intent", "*.eml")))
        self.assertGreater(len(paths), 60)
        self.check(run_all(paths), may_act=True)

    def test_standard_input_and_the_killers(self):
        """A mail on stdin, and the two libetpan killers set aside."""
        crasher = (b"From: x@example.org\r\nTo: annerike@lsabewoners.nl\r\n"
                   b"Content-Type: multipart/mixed; boundary=\"\\\"\"\r\n"
                   b"\r\n--\"\r\nbody\r\n")
        nested = [b"From: y@example.org\r\nSubject: deep\r\n"]
        for i in range(3000):
            nested.append(b"Content-Type: multipart/mixed; boundary=b%d"
                          b"\r\n\r\n--b%d\r\n" % (i, i))
        for raw in (crasher, b"".join(nested)):
            out = subprocess.run([BOTU, "-c", "/nonexistent", "explain",
                                  "--json", "-"], input=raw,
                                 capture_output=True, timeout=120, env=ENV)
            self.assertEqual(out.returncode, 0, out.stderr[-2000:])
            got = json.loads(out.stdout)
            self.assertEqual(got["intent"], "leave-alone")
            self.assertTrue(got.get("set_aside"), got)


if __name__ == "__main__":
    unittest.main()
