#!/usr/bin/python3
"""Reads HTML on stdin and exits 1, naming the problem, when a tag is left
open, closed twice or closed out of order. Strict on purpose: our mail
templates close every element, even where HTML would allow leaving out the
end tag, because some mail clients repair markup differently."""
import sys
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "source", "track", "wbr"}


class Checker(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.problems = []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append((tag, self.getpos()[0]))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            top = self.stack[-1] if self.stack else ("nothing", 0)
            self.problems.append("line %d: </%s> while <%s> of line %d "
                                 "is open" % (self.getpos()[0], tag, *top))
            return
        self.stack.pop()


def main():
    c = Checker()
    c.feed(sys.stdin.read())
    c.close()
    for tag, line in c.stack:
        c.problems.append("line %d: <%s> is never closed" % (line, tag))
    for p in c.problems:
        print("check-html: " + p, file=sys.stderr)
    return 1 if c.problems else 0


if __name__ == "__main__":
    sys.exit(main())
