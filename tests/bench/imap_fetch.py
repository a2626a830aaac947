#!/usr/bin/python3
"""imap_fetch.py HOST PORT USER PASSWORD_FILE CA_FILE - the reference for
botu's intake in tests/bench/bench.py: logs in over IMAPS, and fetches every
message of INBOX with one UID FETCH BODY.PEEK[] each, one after the other,
as botu's intake does (it fetches one message, handles it, then the next).
Prints "MESSAGES OCTETS"."""
import imaplib
import ssl
import sys


def main():
    host, port, user, password_file, ca = sys.argv[1:6]
    with open(password_file) as f:
        password = f.read().strip()
    ctx = ssl.create_default_context(cafile=ca)
    c = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx, timeout=60)
    c.login(user, password)
    typ, data = c.select("INBOX", readonly=True)
    if typ != "OK":
        sys.exit(f"imap_fetch: SELECT: {data}")
    typ, data = c.uid("SEARCH", None, "ALL")
    if typ != "OK":
        sys.exit(f"imap_fetch: SEARCH: {data}")
    n = octets = 0
    for uid in data[0].split():
        typ, d = c.uid("FETCH", uid, "(BODY.PEEK[])")
        if typ != "OK" or not d or not isinstance(d[0], tuple):
            sys.exit(f"imap_fetch: FETCH {uid!r}: {d}")
        n += 1
        octets += len(d[0][1])
    c.logout()
    print(n, octets)


if __name__ == "__main__":
    main()
