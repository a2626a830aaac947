#!/usr/bin/python3
"""Checks the intent corpus: every .eml is listed in expected.tsv (and back),
is a well-formed RFC 5322 message with CRLF line ends that Python's email
package parses without defects, is at most 50 KB, and every token-shaped
string is where README says. Run with Debian's /usr/bin/python3 (it needs
python3-icalendar): tests/data/intent/check.py. Exit 0 when all is well.
"""
import collections
import email
import email.policy
import email.utils
import os
import re
import sys

try:
    import icalendar
except ImportError:
    icalendar = None

HERE = os.path.dirname(os.path.abspath(__file__))
INTENTS = {"subscribe", "confirm", "unsubscribe", "help", "note", "update",
           "rsvp", "bounce", "automatic", "leave-alone"}
MINIMUM = {"leave-alone": 25, "subscribe": 12, "confirm": 6,
           "unsubscribe": 6, "automatic": 6, "help": 3, "bounce": 3,
           "rsvp": 2, "note": 2, "update": 1}
TOKEN = re.compile(r"^[a-z2-7]{26}$")
LIST_DOMAIN = "lsabewoners.nl"

problems = []


def bad(name, what):
    problems.append("%s: %s" % (name, what))


def leaves(msg):
    if msg.is_multipart():
        for part in msg.iter_parts():
            yield from leaves(part)
    else:
        yield msg


def check_file(name, intent, lang):
    path = os.path.join(HERE, name)
    with open(path, "rb") as fh:
        raw = fh.read()
    if len(raw) > 50 * 1024:
        bad(name, "larger than 50 KB (%d)" % len(raw))
    if re.search(rb"(?<!\r)\n", raw) or re.search(rb"\r(?!\n)", raw):
        bad(name, "a line end that is not CRLF")
    head, sep, _ = raw.partition(b"\r\n\r\n")
    if not sep:
        bad(name, "no empty line after the header")
    if any(b > 127 for b in head):
        bad(name, "8-bit octets in the header (use RFC 2047)")
    for line in raw.split(b"\r\n"):
        if len(line) > 998:
            bad(name, "a line longer than 998 octets")
            break
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for hdr in ("From", "To", "Date", "Message-ID"):
        if msg[hdr] is None:
            bad(name, "no %s header" % hdr)
    if msg["Date"] is not None and msg["Date"].datetime is None:
        bad(name, "Date does not parse")
    for hdr in ("From", "To", "Cc"):
        if msg[hdr] is not None and not msg[hdr].addresses:
            bad(name, "%s has no address" % hdr)
    parts = [msg] + [p for p in msg.walk() if p is not msg]
    for part in parts:
        for d in part.defects:
            bad(name, "defect %s in %s" % (type(d).__name__,
                                           part.get_content_type()))
        for k, v in part.items():
            for d in getattr(v, "defects", ()):
                bad(name, "defect in %s: %s" % (k, d))
    texts = []
    for part in leaves(msg):
        ctype = part.get_content_type()
        try:
            content = part.get_content()
        except Exception as e:  # a body that does not decode
            bad(name, "%s does not decode: %s" % (ctype, e))
            continue
        if ctype.startswith("text/"):
            texts.append(content)
        if ctype == "text/calendar" and icalendar is not None:
            cal = icalendar.Calendar.from_ical(content)
            method = str(cal.get("METHOD", ""))
            param = part.get_param("method") or ""
            if method.upper() != param.upper():
                bad(name, "METHOD %s but method=%s" % (method, param))
            if intent == "rsvp" and method != "REPLY":
                bad(name, "rsvp without METHOD:REPLY")
    if intent == "rsvp" and not any(
            p.get_content_type() == "text/calendar" for p in leaves(msg)):
        bad(name, "rsvp without text/calendar")
    if intent == "bounce":
        rt = msg.get_param("report-type") or ""
        frm = str(msg["From"]).lower()
        if not (rt == "delivery-status" or
                ("mailer-daemon" in frm and
                 (msg["Return-Path"] or "").strip() == "<>")):
            bad(name, "bounce that is neither a DSN nor from MAILER-DAEMON")
    if not texts and intent not in ("bounce", "rsvp"):
        bad(name, "no text part at all")
    # Where the list address appears, it is ours, and a token-bearing
    # detail carries a well-formed token for the mails meant to act on it.
    rcpts = []
    for hdr in ("To", "Cc"):
        if msg[hdr] is not None:
            rcpts += [a.addr_spec.lower() for a in msg[hdr].addresses]
    details = [a.split("@")[0].partition("+")[2] for a in rcpts
               if a.endswith("@" + LIST_DOMAIN) and a.startswith("annerike")]
    if not details and msg["List-Id"] is None:
        # Only another list's post reaches us without our address in To/Cc.
        bad(name, "not sent to the list address")
    for d in details:
        for prefix in ("bevestig-", "afmelden-"):
            if d.startswith(prefix) and intent in ("confirm", "unsubscribe"):
                if not TOKEN.match(d[len(prefix):]):
                    bad(name, "malformed token in +%s" % d)
    subj = str(msg["Subject"] or "")
    m = re.search(r"\[([A-Za-z0-9]+)\]", subj)
    if intent == "confirm" and not any(
            d.startswith("bevestig-") for d in details):
        if not m or not TOKEN.match(m.group(1)):
            bad(name, "confirm without a token address or [TOKEN]")
    return msg


def main():
    rows = []
    with open(os.path.join(HERE, "expected.tsv"), encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        if header != ["file", "intent", "language", "note"]:
            bad("expected.tsv", "header is %r" % header)
        for n, line in enumerate(fh, 2):
            cols = line.rstrip("\n").split("\t")
            if len(cols) != 4 or not all(cols):
                bad("expected.tsv", "line %d has not 4 filled columns" % n)
                continue
            rows.append(cols)
    names = [r[0] for r in rows]
    for dup in [k for k, v in collections.Counter(names).items() if v > 1]:
        bad("expected.tsv", "%s listed twice" % dup)
    on_disk = sorted(f for f in os.listdir(HERE) if f.endswith(".eml"))
    for f in sorted(set(on_disk) - set(names)):
        bad(f, "not in expected.tsv")
    for f in sorted(set(names) - set(on_disk)):
        bad(f, "in expected.tsv but missing")
    count = collections.Counter()
    langs = collections.Counter()
    for name, intent, lang, note in rows:
        if intent not in INTENTS:
            bad(name, "unknown intent %s" % intent)
        if lang not in ("nl", "en"):
            bad(name, "unknown language %s" % lang)
        if not name.startswith(lang + "-" + intent + "-"):
            bad(name, "name does not start with %s-%s-" % (lang, intent))
        if name in on_disk:
            check_file(name, intent, lang)
        count[intent] += 1
        langs[lang] += 1
    for intent, least in MINIMUM.items():
        if count[intent] < least:
            bad("corpus", "%d %s, want at least %d" %
                (count[intent], intent, least))
    if len(rows) < 70:
        bad("corpus", "only %d mails" % len(rows))
    if langs["en"] < 20:
        bad("corpus", "only %d English mails" % langs["en"])
    for p in problems:
        print(p)
    print("%d mails: %s; %s" % (len(rows),
          ", ".join("%s %d" % kv for kv in sorted(count.items())),
          ", ".join("%s %d" % kv for kv in sorted(langs.items()))))
    if icalendar is None:
        print("note: python3-icalendar missing, calendars not checked")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
