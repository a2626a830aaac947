#!/usr/bin/python3
"""check-ical.py [--eml] FILE EXPECT.json

Independent readers for the invitations botu sends (CALENDAR.md): the
iCalendar object must read the same in python3-icalendar, in python3-vobject
(which applies the VTIMEZONE's own rules) and in khal (a real calendar
program: `khal import` into a throwaway calendar, then `khal list`), and say
what EXPECT.json says. Exit 0 when all holds, 1 with one line per failure
on stderr. Run it with Debian's /usr/bin/python3.

FILE is an .ics, or with --eml a whole mail, whose MIME tree must then be
CALENDAR.md §0's: multipart/mixed { multipart/alternative { text/plain,
text/html, text/calendar; method=M (inline, base64) }, application/ics
invite.ics (attachment, base64, the same octets) }, one To, no Cc.

EXPECT.json keys (all optional):
  method, uid, sequence, status, summary, location, description,
  organizer, organizer_name, attendee, attendee_name, partstat,
  start, end    local wall-clock "YYYY-MM-DD HH:MM" in tz
  tz            the zone (default Europe/Amsterdam)
  to            the mail's one recipient (--eml)
  khal          false to skip khal (default: run it when installed)
"""
import datetime
import email
import email.policy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zoneinfo

import icalendar
import vobject

failures = []


def fail(msg):
    failures.append(msg)


def check_text_form(ics):
    """RFC 5545 §3.1: CRLF everywhere, lines of at most 75 octets, UTF-8
    that no fold splits."""
    if not ics.endswith(b"\r\n"):
        fail("the object does not end in CRLF")
    if b"\n" in ics.replace(b"\r\n", b""):
        fail("a bare LF in the object")
    for i, line in enumerate(ics.split(b"\r\n")):
        if len(line) > 75:
            fail("line %d has %d octets" % (i + 1, len(line)))
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            fail("line %d is not whole UTF-8 (a fold split a character)"
                 % (i + 1))


def check_mime(raw, exp):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for d in msg.defects:
        fail("mail defect: %r" % d)
    tos = msg.get_all("To") or []
    addrs = [a.addr_spec for h in tos for a in h.addresses]
    if len(addrs) != 1:
        fail("To has %d addresses, want 1" % len(addrs))
    elif "to" in exp and addrs[0].lower() != exp["to"].lower():
        fail("To is %s, want %s" % (addrs[0], exp["to"]))
    if msg.get("Cc"):
        fail("a Cc header")
    tree = [p.get_content_type() for p in msg.walk()]
    want = ["multipart/mixed", "multipart/alternative", "text/plain",
            "text/html", "text/calendar", "application/ics"]
    if tree != want:
        fail("MIME tree %s, want %s" % (tree, want))
        return None
    parts = list(msg.walk())
    cal, ics = parts[4], parts[5]
    if cal.get_content_disposition() not in (None, "inline"):
        fail("the text/calendar part is an attachment")
    if cal["Content-Transfer-Encoding"] != "base64":
        fail("the text/calendar part is not base64")
    if (cal.get_param("charset") or "").lower() != "utf-8":
        fail("the text/calendar part has no charset=UTF-8")
    method = (cal.get_param("method") or "").upper()
    if ics.get_content_disposition() != "attachment" or \
            ics.get_filename() != "invite.ics":
        fail("the .ics is not an attachment called invite.ics")
    if ics["Content-Transfer-Encoding"] != "base64":
        fail("the .ics is not base64")
    a = cal.get_payload(decode=True)
    b = ics.get_payload(decode=True)
    if a != b:
        fail("the inline calendar and invite.ics differ")
    return a, method


def local(dt, tz):
    if isinstance(dt, datetime.datetime) and dt.tzinfo is not None:
        return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    fail("a time without a zone: %r" % (dt,))
    return None


def addr(v):
    s = str(v)
    return s[7:].lower() if s.lower().startswith("mailto:") else s.lower()


def check_icalendar(ics, exp, tz):
    cal = icalendar.Calendar.from_ical(ics)
    if str(cal.get("METHOD", "")) != exp.get("method", "REQUEST"):
        fail("icalendar: METHOD %s" % cal.get("METHOD"))
    if str(cal.get("VERSION")) != "2.0" or not cal.get("PRODID"):
        fail("icalendar: VERSION 2.0 and a PRODID are required")
    events = [c for c in cal.walk() if c.name == "VEVENT"]
    if len(events) != 1:
        fail("icalendar: %d VEVENTs" % len(events))
        return None
    ev = events[0]
    tzids = {str(c["TZID"]) for c in cal.walk() if c.name == "VTIMEZONE"}
    for name in ("DTSTART", "DTEND"):
        p = ev.get(name)
        tzid = p.params.get("TZID") if p is not None else None
        if tzid is not None and tzid not in tzids:
            fail("icalendar: %s TZID %s has no VTIMEZONE" % (name, tzid))
    if "DTSTAMP" not in ev or ev.decoded("DTSTAMP").tzinfo is None:
        fail("icalendar: DTSTAMP missing or not UTC")
    simple = {"uid": "UID", "summary": "SUMMARY", "location": "LOCATION",
              "description": "DESCRIPTION", "status": "STATUS"}
    for key, prop in simple.items():
        if key in exp and str(ev.get(prop, "")) != exp[key]:
            fail("icalendar: %s %r, want %r" % (prop, str(ev.get(prop, "")),
                                                exp[key]))
    if "sequence" in exp and int(ev.get("SEQUENCE", 0)) != exp["sequence"]:
        fail("icalendar: SEQUENCE %s, want %s" % (ev.get("SEQUENCE"),
                                                  exp["sequence"]))
    org = ev.get("ORGANIZER")
    if org is None or not str(org).lower().startswith("mailto:"):
        fail("icalendar: ORGANIZER is not a mailto: URI")
    elif "organizer" in exp and addr(org) != exp["organizer"].lower():
        fail("icalendar: ORGANIZER %s" % org)
    elif "organizer_name" in exp and \
            org.params.get("CN") != exp["organizer_name"]:
        fail("icalendar: ORGANIZER CN %r" % org.params.get("CN"))
    att = ev.get("ATTENDEE")
    if not isinstance(att, icalendar.prop.vCalAddress):
        fail("icalendar: want exactly one ATTENDEE, got %r" % (att,))
    else:
        if "attendee" in exp and addr(att) != exp["attendee"].lower():
            fail("icalendar: ATTENDEE %s" % att)
        if "attendee_name" in exp and \
                att.params.get("CN") != exp["attendee_name"]:
            fail("icalendar: ATTENDEE CN %r" % att.params.get("CN"))
        if exp.get("method", "REQUEST") == "REQUEST":
            if att.params.get("RSVP") != "TRUE":
                fail("icalendar: ATTENDEE without RSVP=TRUE")
            if att.params.get("ROLE") != "REQ-PARTICIPANT":
                fail("icalendar: ATTENDEE ROLE %r" % att.params.get("ROLE"))
            want = exp.get("partstat", "NEEDS-ACTION")
            if att.params.get("PARTSTAT") != want:
                fail("icalendar: PARTSTAT %r, want %s"
                     % (att.params.get("PARTSTAT"), want))
    start = ev.decoded("DTSTART")
    end = ev.decoded("DTEND")
    for key, dt in (("start", start), ("end", end)):
        got = local(dt, tz)
        if key in exp and got != exp[key]:
            fail("icalendar: %s %s, want %s" % (key, got, exp[key]))
    return start, end


def check_vobject(ics, exp, tz, instants):
    cal = vobject.readOne(ics.decode("utf-8"))
    ev = cal.vevent
    start, end = ev.dtstart.value, ev.dtend.value
    for key, dt in (("start", start), ("end", end)):
        got = local(dt, tz)
        if key in exp and got != exp[key]:
            fail("vobject: %s %s, want %s" % (key, got, exp[key]))
    if instants is not None and (start != instants[0] or
                                 end != instants[1]):
        fail("vobject and icalendar disagree on the instants: %s/%s vs "
             "%s/%s" % (start, end, instants[0], instants[1]))
    if "summary" in exp and ev.summary.value != exp["summary"]:
        fail("vobject: SUMMARY %r" % ev.summary.value)
    if "uid" in exp and ev.uid.value != exp["uid"]:
        fail("vobject: UID %r" % ev.uid.value)


KHAL_CONF = """[calendars]
[[botu]]
path = {cal}
type = calendar
[sqlite]
path = {tmp}/khal.db
[locale]
timeformat = %H:%M
dateformat = %Y-%m-%d
longdateformat = %Y-%m-%d
datetimeformat = %Y-%m-%d %H:%M
longdatetimeformat = %Y-%m-%d %H:%M
local_timezone = {tz}
default_timezone = {tz}
"""


def check_khal(ics, exp, tzname):
    khal = shutil.which("khal")
    if khal is None or exp.get("khal") is False:
        return
    with tempfile.TemporaryDirectory(prefix="botu-khal-") as tmp:
        cal = os.path.join(tmp, "cal")
        os.mkdir(cal)
        conf = os.path.join(tmp, "khal.conf")
        with open(conf, "w") as f:
            f.write(KHAL_CONF.format(cal=cal, tmp=tmp, tz=tzname))
        path = os.path.join(tmp, "invite.ics")
        with open(path, "wb") as f:
            f.write(ics)
        env = dict(os.environ, HOME=tmp, XDG_CONFIG_HOME=tmp,
                   XDG_DATA_HOME=tmp)
        run = subprocess.run([khal, "-c", conf, "import", "--batch", "-a",
                              "botu", path], capture_output=True, text=True,
                             env=env, timeout=60)
        if run.returncode != 0:
            fail("khal import: exit %d: %s" % (run.returncode,
                                               run.stderr[-500:]))
            return
        if "start" not in exp:
            return
        day = exp["start"][:10]
        run = subprocess.run([khal, "-c", conf, "list", "-f",
                              "{start} {end} {title} | {location}", day,
                              "1d"], capture_output=True, text=True,
                             env=env, timeout=60)
        out = run.stdout
        want = "%s %s %s" % (exp["start"], exp.get("end", ""),
                             exp.get("summary", ""))
        if want.replace("  ", " ") not in out:
            fail("khal list shows %r, want a line with %r" % (out, want))
        if exp.get("location") and ("| " + exp["location"]) not in out:
            fail("khal list: no location %r in %r" % (exp["location"], out))


def main():
    args = sys.argv[1:]
    eml = args and args[0] == "--eml"
    if eml:
        args = args[1:]
    if len(args) != 2:
        sys.exit(__doc__)
    with open(args[0], "rb") as f:
        raw = f.read()
    with open(args[1]) as f:
        exp = json.load(f)
    tzname = exp.get("tz", "Europe/Amsterdam")
    tz = zoneinfo.ZoneInfo(tzname)
    ics = raw
    if eml:
        got = check_mime(raw, exp)
        if got is None:
            report()
        ics, method = got
        if method != exp.get("method", "REQUEST"):
            fail("Content-Type method=%s, want %s"
                 % (method, exp.get("method", "REQUEST")))
    check_text_form(ics)
    instants = None
    try:
        instants = check_icalendar(ics, exp, tz)
    except Exception as e:  # a parser that fails is the finding
        fail("icalendar cannot read it: %r" % e)
    try:
        check_vobject(ics, exp, tz, instants)
    except Exception as e:
        fail("vobject cannot read it: %r" % e)
    check_khal(ics, exp, tzname)
    report()


def report():
    for f in failures:
        print(f, file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
