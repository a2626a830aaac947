#!/usr/bin/python3
"""check_mail.py EXPECT.json < message

An independent reader for the mail botu composes: Python's email package
(policy.default, the strict modern parser) must read the message without a
single defect and find in it what the C test put in. Exit 0 when all holds,
1 with one line per failure on stderr otherwise.

Every string in EXPECT.json is hex of the raw UTF-8 octets the C side passed
in (so invalid UTF-8 and control characters travel safely); null is None.
Keys (all optional but "from"):
  from, from_name, to, to_name, subject, reply_to
  structure   content types in walk order, e.g. ["multipart/alternative",
              "text/plain", "text/html"]
  leaves      [{type, body, filename, disposition, params{}}] in walk order
  headers     {name: exact decoded value}
  absent      [header names that must not be there]
  max_line    longest physical line allowed, a number (default 78; RFC
              5322's limit of 998 is always checked)
  date        the Date header's instant, a number (seconds since 1970)
"""
import email
import email.header
import email.policy
import json
import re
import sys

failures = []


def fail(msg):
    failures.append(msg)


def unhex(v):
    if v is None or isinstance(v, int):
        return v
    if isinstance(v, list):
        return [unhex(x) for x in v]
    if isinstance(v, dict):
        return {k: unhex(x) for k, x in v.items()}
    return bytes.fromhex(v).decode("utf-8", "replace")


def header_text(s):
    """What compose promises for header text: controls (C0, DEL, C1,
    U+2028/9) become spaces, then leading and trailing spaces go."""
    if s is None:
        return None
    s = re.sub("[\x00-\x1f\x7f\x80-\x9f\u2028\u2029]", " ", s)
    return s.strip(" ")


def name_text(s):
    """Display names: header text with each run of spaces made one."""
    return re.sub(" +", " ", header_text(s) or "")


def body_text(s, add_final=False):
    """Line ends normalised; for the input, the final line break compose
    adds when the text has none (a part must end in one, and an iCalendar
    object in CRLF: RFC 5545 §3.1)."""
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    if add_final and s and not s.endswith("\n"):
        s += "\n"
    return s


EW = r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?="
ADJACENT_EWS = re.compile(r"^%s(\s+%s)+$" % (EW, EW))


def raw_value(head, field):
    """The unfolded raw value of a top-level header, or None."""
    for line in head.replace(b"\r\n ", b" ").split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == field.encode():
            return value.decode("ascii").strip()
    return None


def rfc2047_phrase(raw):
    """The display name as RFC 2047 §6.2 reads it, for the one case where
    Python 3.11's policy.default does not (CPython gh-128110, fixed in
    PR #130749): a phrase made only of adjacent encoded words, between
    which the parser wrongly shows a space. None in every other case."""
    phrase = raw.rsplit("<", 1)[0].strip()
    if not ADJACENT_EWS.match(phrase):
        return None
    return "".join(b.decode(cs or "ascii")
                   for b, cs in email.header.decode_header(phrase))


def check_raw(raw, max_line):
    if not raw.endswith(b"\r\n"):
        fail("message does not end in CRLF")
    lines = raw.split(b"\r\n")[:-1]
    for i, line in enumerate(lines, 1):
        if b"\r" in line or b"\n" in line:
            fail("line %d: bare CR or LF: %r" % (i, line[:80]))
        if len(line) > 998:
            fail("line %d: %d octets > 998" % (i, len(line)))
        elif len(line) > max_line:
            fail("line %d: %d octets > %d: %r" % (i, len(line), max_line,
                                                   line[:100]))
        if any(c >= 0x80 for c in line):
            fail("line %d: 8-bit octets: %r" % (i, line[:80]))
    head = raw.split(b"\r\n\r\n", 1)[0]
    if b"\r\n\r\n" not in raw:
        fail("no blank line after the header")
    return head


def check_defects(msg):
    for part in msg.walk():
        if part.defects:
            fail("defects in %s: %r" % (part.get_content_type(),
                                        part.defects))
        for name, value in part.items():
            d = getattr(value, "defects", ())
            if d:
                fail("defects in header %s: %r" % (name, d))


def check_address(msg, head, field, addr, name):
    h = msg[field]
    if h is None:
        fail("no %s header" % field)
        return
    if len(msg.get_all(field)) != 1:
        fail("%d %s headers" % (len(msg.get_all(field)), field))
    got = h.addresses
    if len(got) != 1:
        fail("%s has %d addresses: %r" % (field, len(got), str(h)))
        return
    if got[0].addr_spec != addr:
        fail("%s address %r != %r" % (field, got[0].addr_spec, addr))
    want = name_text(name)
    if got[0].display_name != want and \
            rfc2047_phrase(raw_value(head, field) or "") != want:
        fail("%s name %r != %r" % (field, got[0].display_name, want))


def check_leaf(i, part, want):
    if part.get_content_type() != want["type"]:
        fail("leaf %d: type %s != %s" % (i, part.get_content_type(),
                                          want["type"]))
        return
    if part.get_content_maintype() == "text":
        if (part.get_content_charset() or "").lower() != "utf-8":
            fail("leaf %d: charset %r" % (i, part.get_content_charset()))
    if part["content-transfer-encoding"] != want.get("encoding",
                                                     "quoted-printable"):
        fail("leaf %d: encoding %r" % (i, part["content-transfer-encoding"]))
    got = part.get_content()
    if isinstance(got, bytes):  # not text/*: the octets, UTF-8 as sent
        got = got.decode("utf-8", "strict")
    got = body_text(got)
    exp = body_text(want["body"], add_final=True)
    if got != exp:
        fail("leaf %d: body differs:\n got %r\nwant %r" % (i, got[:300],
                                                             exp[:300]))
    if part.get_filename() != header_text(want.get("filename")):
        fail("leaf %d: filename %r != %r" % (i, part.get_filename(),
                                             want.get("filename")))
    if part.get_content_disposition() != want.get("disposition"):
        fail("leaf %d: disposition %r != %r" % (
            i, part.get_content_disposition(), want.get("disposition")))
    for k, v in (want.get("params") or {}).items():
        if part.get_param(k) != v:
            fail("leaf %d: %s=%r != %r" % (i, k, part.get_param(k), v))


def check(raw, exp):
    head = check_raw(raw, exp.get("max_line") or 78)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    check_defects(msg)
    check_address(msg, head, "from", exp["from"], exp.get("from_name"))
    if "to" in exp:
        check_address(msg, head, "to", exp["to"], exp.get("to_name"))
    if exp.get("reply_to") is not None:
        check_address(msg, head, "reply-to", exp["reply_to"], None)
    if "subject" in exp:
        got = str(msg["subject"])
        want = header_text(exp["subject"])
        if got != want:
            fail("subject %r != %r" % (got, want))
    for name, want in (exp.get("headers") or {}).items():
        got = msg.get_all(name)
        if got is None or len(got) != 1 or str(got[0]) != want:
            fail("header %s: %r != %r" % (name, got, want))
    for name in exp.get("absent") or []:
        if msg[name] is not None:
            fail("header %s should be absent: %r" % (name, str(msg[name])))
    if exp.get("date") is not None:
        d = msg["date"]
        if d is None or d.datetime is None or \
                int(d.datetime.timestamp()) != exp["date"]:
            fail("date %r is not %d" % (d and str(d), exp["date"]))
    if "structure" in exp:
        got = [p.get_content_type() for p in msg.walk()]
        if got != exp["structure"]:
            fail("structure %r != %r" % (got, exp["structure"]))
    if "leaves" in exp:
        leaves = [p for p in msg.walk() if not p.is_multipart()]
        if len(leaves) != len(exp["leaves"]):
            fail("%d leaves, want %d" % (len(leaves), len(exp["leaves"])))
        for i, (part, want) in enumerate(zip(leaves, exp["leaves"])):
            check_leaf(i, part, want)


def main():
    if len(sys.argv) != 2:
        print("usage: check_mail.py EXPECT.json < message", file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="ascii") as f:
        exp = unhex(json.load(f))
    try:
        check(sys.stdin.buffer.read(), exp)
    except Exception as e:  # a crash in the reader is a failure too
        fail("exception: %r" % (e,))
    for f in failures:
        print("check_mail: " + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
