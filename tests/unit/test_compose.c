/*
 * Unit tests of compose (and token, utf8_sanitize): header injection,
 * RFC 2047 encoded words decoded back by a decoder of our own, quoted-
 * printable round trips, line lengths and CRLF, the List-* headers, and
 * composed messages read by an independent reader: Python's email package
 * (tests/unit/check_mail.py).
 */
#include "testutil.h"

#include <signal.h>
#include <strings.h>
#include <sys/wait.h>

#include "botu/compose.h"
#include "botu/config.h"
#include "botu/token.h"
#include "botu/util.h"

#define LIST	"annerike@lsabewoners.nl"
#define T0	1795774500	/* Fri, 27 Nov 2026 10:15:00 UTC */
#define DUTCH	"Bevestig je aanmelding \xe2\x80\x94 " \
		"Bospolder-Tussendijken \xe2\x98\x80\xef\xb8\x8f caf\xc3\xa9"
#define LONGASCII "Vereniging van Eigenaren Bospolder-Tussendijken, " \
	"afdeling Schiedamseweg (blok A t/m F)"
#define VIET "\xc4\x90\xe1\xba\xb7ng Th\xe1\xbb\x8b Ng\xe1\xbb\x8d" "c " \
	"H\xc3\xa2n Nguy\xe1\xbb\x85n Tr\xe1\xba\xa7n Th\xe1\xbb\x8b " \
	"B\xc3\xad" "ch Ng\xe1\xbb\x8d" "c Ph\xc6\xb0\xe1\xbb\xa3ng"

/* ---- Helpers ---------------------------------------------------------- */

static void
set(char **field, const char *v)
{
	free(*field);
	*field = strdup(v);
}

static struct botu_conf *
conf_new(const char *name)
{
	struct botu_conf *c = conf_defaults();

	set(&c->list.address, LIST);
	set(&c->list.name, name);
	set(&c->list.id, "annerike.lsabewoners.nl");
	return c;
}

static char *
compose_new(const struct botu_conf *c, const struct outgoing *o)
{
	char err[BOTU_ERRLEN] = "", *mid = compose_message_id("lsabewoners.nl");
	struct buf b;
	int rc;

	buf_init(&b);
	rc = compose(c, o, mid, T0, &b, err);
	if (rc != BOTU_OK)
		fail_msg("compose: %d %s", rc, err);
	free(mid);
	return buf_detach(&b);
}

/* CRLF only, 7-bit only, no physical line over max octets. */
static void
assert_lines(const char *m, size_t max)
{
	size_t col = 0;

	for (const char *p = m; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80)
			fail_msg("8-bit octet at %zu", (size_t)(p - m));
		if (*p == '\r' && p[1] != '\n')
			fail_msg("bare CR at %zu", (size_t)(p - m));
		if (*p == '\n' && (p == m || p[-1] != '\r'))
			fail_msg("bare LF at %zu", (size_t)(p - m));
		if (*p == '\r' || *p == '\n') {
			col = 0;
			continue;
		}
		if (++col > max)
			fail_msg("line over %zu: %.60s", max, p - max + 1);
	}
	assert_true(strlen(m) == 0 || strcmp(m + strlen(m) - 2, "\r\n") == 0);
}

/* The top-level header section, up to and without the blank line. */
static char *
head_new(const char *m)
{
	const char *end = strstr(m, "\r\n\r\n");

	assert_non_null(end);
	return strndup(m, (size_t)(end - m) + 2);
}

/* The names of the top-level header fields, "Date,From,...". */
static char *
names_new(const char *m)
{
	char *h = head_new(m);
	struct buf b;

	buf_init(&b);
	for (char *line = h; *line != '\0'; line = strstr(line, "\r\n") + 2) {
		if (*line == ' ' || *line == '\t')
			continue;
		if (b.len > 0)
			buf_addc(&b, ',');
		buf_add(&b, line, strcspn(line, ":"));
	}
	free(h);
	return buf_detach(&b);
}

/* The unfolded value of the first top-level header name (CRLF removed,
 * the space after the colon too), or NULL. */
static char *
header_new(const char *m, const char *name)
{
	char *h = head_new(m), *p = h, *v = NULL;
	size_t n = strlen(name);
	struct buf b;

	while (*p != '\0' && !(strncasecmp(p, name, n) == 0 && p[n] == ':'))
		p = strstr(p, "\r\n") + 2;
	if (*p != '\0') {
		buf_init(&b);
		for (p += n + 1; *p != '\0'; p++) {
			if (p[0] == '\r' && p[1] == '\n' && p[2] != ' ')
				break;
			if (*p != '\r' && *p != '\n')
				buf_addc(&b, *p);
		}
		v = buf_detach(&b);
		if (*v == ' ')
			memmove(v, v + 1, strlen(v));
	}
	free(h);
	return v;
}

static int
hexval(char c)
{
	const char *d = "0123456789ABCDEF", *p = strchr(d, c);

	return c != '\0' && p != NULL ? (int)(p - d) : -1;
}

static int
b64val(char c)
{
	const char *d =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = strchr(d, c);

	return c != '\0' && p != NULL ? (int)(p - d) : -1;
}

/* Whole UTF-8 characters only: no lead without its continuation bytes,
 * no continuation byte without its lead. */
static void
assert_whole_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0, need;

	while (i < n) {
		need = s[i] < 0x80 ? 1 : s[i] >= 0xf0 ? 4 : s[i] >= 0xe0 ? 3 :
		    s[i] >= 0xc0 ? 2 : 0;
		if (need == 0 || i + need > n)
			fail_msg("a UTF-8 character is split");
		i += need;
	}
}

/* One RFC 2047 word, checked (≤ 75, utf-8, whole characters), decoded. */
static void
ew_decode_word(struct buf *out, const char *w, size_t len)
{
	size_t start = out->len, i;
	unsigned acc = 0;
	int q, bits = 0;

	if (len > 75)
		fail_msg("encoded word of %zu characters", len);
	assert_true(len >= 12 && memcmp(w + len - 2, "?=", 2) == 0);
	q = strncmp(w, "=?utf-8?q?", 10) == 0;
	assert_true(q || strncmp(w, "=?utf-8?b?", 10) == 0);
	for (i = 10; i < len - 2; i++) {
		if (q && w[i] == '_')
			buf_addc(out, ' ');
		else if (q && w[i] == '=') {
			assert_true(hexval(w[i + 1]) >= 0 &&
			    hexval(w[i + 2]) >= 0);
			buf_addc(out, (char)(hexval(w[i + 1]) * 16 +
			    hexval(w[i + 2])));
			i += 2;
		} else if (q) {
			assert_true(strchr("!*+-/", w[i]) != NULL ||
			    b64val(w[i]) >= 0);
			buf_addc(out, w[i]);
		} else if (w[i] != '=') {
			assert_true(b64val(w[i]) >= 0);
			acc = (acc << 6 | (unsigned)b64val(w[i])) & 0xffffff;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				buf_addc(out, (char)((acc >> bits) & 0xff));
			}
		}
	}
	assert_whole_utf8((unsigned char *)out->s + start, out->len - start);
}

/*
 * An unfolded header value decoded as RFC 2047 §6.2 says: encoded words
 * decoded, the white space between two of them dropped, the rest kept.
 * Counts the Q and B words.
 */
static char *
ew_decode_new(const char *v, int *nq, int *nb)
{
	struct buf b;
	const char *p = v;
	size_t ws, n;
	int prev = 0, ew;

	*nq = *nb = 0;
	buf_init(&b);
	while (*p != '\0') {
		ws = strspn(p, " ");
		n = strcspn(p + ws, " ");
		ew = n >= 12 && strncmp(p + ws, "=?", 2) == 0 &&
		    memcmp(p + ws + n - 2, "?=", 2) == 0;
		if (!(ew && prev))
			buf_add(&b, p, ws);
		if (ew) {
			ew_decode_word(&b, p + ws, n);
			*(p[ws + 8] == 'q' ? nq : nb) += 1;
		} else
			buf_add(&b, p + ws, n);
		prev = ew;
		p += ws + n;
	}
	return buf_detach(&b);
}

/* The text with every line end made CRLF and a final one added. */
static char *
crlf_new(const char *s)
{
	struct buf b;

	buf_init(&b);
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '\r' && p[1] == '\n')
			continue;
		if (*p == '\r' || *p == '\n')
			buf_adds(&b, "\r\n");
		else
			buf_addc(&b, *p);
	}
	if (b.len > 0 && b.s[b.len - 1] != '\n')
		buf_adds(&b, "\r\n");
	return buf_detach(&b);
}

/* RFC 2045 §6.7 decoding, asserting "=" is followed by hex or CRLF. */
static char *
qp_decode_new(const char *s)
{
	struct buf b;

	buf_init(&b);
	for (const char *p = s; *p != '\0'; p++) {
		if (*p != '=') {
			buf_addc(&b, *p);
		} else if (p[1] == '\r' && p[2] == '\n') {
			p += 2;
		} else {
			assert_true(hexval(p[1]) >= 0 && hexval(p[2]) >= 0);
			buf_addc(&b, (char)(hexval(p[1]) * 16 + hexval(p[2])));
			p += 2;
		}
	}
	return buf_detach(&b);
}

/* ---- token and utf8_sanitize --------------------------------------------- */

static void
test_token(void **state)
{
	char *a = token_new(TOKEN_BITS), *b = token_new(TOKEN_BITS);
	char seen[32] = { 0 };

	(void)state;
	assert_int_equal(token_length(128), 26);
	assert_int_equal(token_length(160), 32);
	assert_int_equal(token_length(1), 2);
	assert_int_equal(strlen(a), 26);
	assert_true(token_valid(a, 128));
	assert_true(token_valid(b, 128));
	assert_string_not_equal(a, b);
	assert_true(token_equal(a, a));
	assert_false(token_equal(a, b));
	assert_false(token_equal(a, NULL));
	assert_false(token_equal("abc", "abcd"));
	assert_true(token_equal("", ""));
	/* 128 bits in 26 characters leave 2 bits that must be zero. */
	assert_true(strchr("aeimquy4", a[25]) != NULL);
	assert_false(token_valid("aaaaaaaaaaaaaaaaaaaaaaaaab", 128));
	assert_true(token_valid("aaaaaaaaaaaaaaaaaaaaaaaaae", 128));
	assert_false(token_valid("AAAAAAAAAAAAAAAAAAAAAAAAAA", 128));
	assert_false(token_valid("aaaaaaaaaaaaaaaaaaaaaaaa1a", 128));
	assert_false(token_valid("aaaaaaaaaaaaaaaaaaaaaaaaa", 128));
	assert_false(token_valid(NULL, 128));
	free(a);
	free(b);
	/* Every symbol of the alphabet turns up in first position. */
	for (int i = 0; i < 2000; i++) {
		char *t = token_new(TOKEN_BITS);
		const char *al = "abcdefghijklmnopqrstuvwxyz234567";

		assert_true(token_valid(t, 128));
		seen[strchr(al, t[0]) - al] = 1;
		free(t);
	}
	for (int i = 0; i < 32; i++)
		assert_true(seen[i]);
}

static void
test_utf8_sanitize(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "plain", "plain" },
		{ "caf\xc3\xa9 \xe2\x98\x80\xf0\x9f\x98\x80",
		  "caf\xc3\xa9 \xe2\x98\x80\xf0\x9f\x98\x80" },
		/* a stray continuation byte, an overlong NUL */
		{ "a\x80z", "a\xef\xbf\xbdz" },
		{ "\xc0\x80", "\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xe0\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		/* above U+10FFFF, truncated, truncated at the end */
		{ "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
		  "\xef\xbf\xbd" },
		{ "\xf0\x9f\x98" "A", "\xef\xbf\xbd" "A" },
		{ "x\xe2\x82", "x\xef\xbf\xbd" },
		{ "\xff\xfe", "\xef\xbf\xbd\xef\xbf\xbd" },
	};

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		char *s = utf8_sanitize(cases[i].in);

		assert_string_equal(s, cases[i].out);
		free(s);
	}
	assert_int_equal(utf8_charlen("\xf0\x9f\x98\x80"), 4);
	assert_int_equal(utf8_charlen("\xf0\x9f\x98"), 0);
	assert_int_equal(utf8_charlen(""), 0);
}

/* ---- Headers ---------------------------------------------------------- */

static void
test_encoded_words(void **state)
{
	static const struct { const char *in; char how; const char *raw; }
	    cases[] = {
		{ "Hallo allemaal", 'p', "Hallo allemaal" },
		{ "a  b   c", 'p', "a  b   c" },
		/* Only what needs it is encoded, B or Q as is shorter. */
		{ DUTCH, 'b', "Bevestig je aanmelding =?utf-8?b?4oCU?= "
		  "Bospolder-Tussendijken =?utf-8?b?4piA77iPIGNhZsOp?=" },
		{ DUTCH " " DUTCH " " DUTCH, 'e', NULL },
		{ "Groeten van Hoff-M\xc3\xbcller", 'q',
		  "Groeten van =?utf-8?q?Hoff-M=C3=BCller?=" },
		{ "de caf\xc3\xa9houder M\xc3\xbcller", 'q',
		  "de =?utf-8?q?caf=C3=A9houder_M=C3=BCller?=" },
		{ "\xe2\x98\x80\xef\xb8\x8f\xe2\x98\x80\xef\xb8\x8f\xf0\x9f\x98"
		  "\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f"
		  "\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80",
		  'b', NULL },
		{ "=?utf-8?q?nep?=", 'e', NULL },  /* looks encoded: encode */
		{ "echt =?utf-8?q?nep?= ", 'e', NULL },
		{ "x        \xc3\xa9", 'e', NULL },	/* spaces kept */
		{ "Z\xc3\xab" "Z\xc3\xab" "Z\xc3\xab" "Z\xc3\xab" "Z\xc3\xab"
		  "Z\xc3\xab" "Z\xc3\xab" "Z\xc3\xab" "Z\xc3\xab" "Z\xc3\xab"
		  "Z\xc3\xab" "Z\xc3\xab" "Z\xc3\xab" "Z\xc3\xab" "Z\xc3\xab"
		  "Z\xc3\xab" "Z\xc3\xab" "Z\xc3\xab" "Z\xc3\xab", 'b', NULL },
	};
	char longword[301];

	(void)state;
	memset(longword, 'w', 300);
	longword[300] = '\0';
	for (size_t i = 0; i < NELEM(cases) + 1; i++) {
		const char *in = i < NELEM(cases) ? cases[i].in : longword;
		char how = i < NELEM(cases) ? cases[i].how : 'e';
		const char *raw = i < NELEM(cases) ? cases[i].raw : NULL;
		char *v, *d, *want = strdup(in);
		struct buf b;
		int nq, nb;

		buf_init(&b);
		compose_header(&b, "Subject", in);
		assert_lines(b.s, 78);
		buf_adds(&b, "\r\n");		/* the end of the header */
		v = header_new(b.s, "Subject");
		d = ew_decode_new(v, &nq, &nb);
		str_trim(want);
		assert_string_equal(d, want);
		assert_int_equal(how == 'p', nq + nb == 0);
		if (how == 'q')
			assert_true(nq > 0 && nb == 0);
		if (how == 'b')
			assert_true(nb > 0 && nq == 0);
		if (raw != NULL)
			assert_string_equal(v, raw);
		free(want);
		free(d);
		free(v);
		buf_free(&b);
	}
}

static void
test_header_controls(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	compose_header(&b, "Subject", "a\rb\nc\r\nBcc: x@example.org\t\x7f"
	    "d\xc2\x85" "e");
	assert_string_equal(b.s,
	    "Subject: a b c  Bcc: x@example.org  d e\r\n");
	buf_truncate(&b, 0);
	compose_header(&b, "Subject", "  \r\n  ");
	assert_string_equal(b.s, "Subject:\r\n");
	buf_truncate(&b, 0);
	compose_address_header(&b, "To", "Jan \"de\"  V\\ries, jr.",
	    "jan@example.org");
	assert_string_equal(b.s,
	    "To: \"Jan \\\"de\\\" V\\\\ries, jr.\" <jan@example.org>\r\n");
	buf_truncate(&b, 0);
	compose_address_header(&b, "To", "Zo\xc3\xab van 't Hoff-M\xc3\xbcller",
	    "zoe@example.org");
	assert_string_equal(b.s, "To: =?utf-8?q?Zo=C3=AB?= van 't "
	    "=?utf-8?q?Hoff-M=C3=BCller?= <zoe@example.org>\r\n");
	buf_truncate(&b, 0);
	compose_address_header(&b, "To", "Zo\xc3\xab  van\t Dijk",
	    "zoe@example.org");	/* a run of spaces reads as one */
	assert_string_equal(b.s, "To: =?utf-8?q?Zo=C3=AB?= van Dijk "
	    "<zoe@example.org>\r\n");
	buf_truncate(&b, 0);
	compose_address_header(&b, "From", LONGASCII, LIST);
	assert_lines(b.s, 78);
	assert_string_equal(b.s, "From: Vereniging van Eigenaren "
	    "=?utf-8?q?Bospolder-Tussendijken=2C?= afdeling\r\n "
	    "Schiedamseweg =?utf-8?q?=28blok?= A t/m =?utf-8?q?F=29?=\r\n"
	    " <" LIST ">\r\n");
	buf_truncate(&b, 0);
	compose_address_header(&b, "To", "", "jan@example.org\r\nBcc: x@y.nl");
	assert_string_equal(b.s, "To: jan@example.orgBcc:x@y.nl\r\n");
	buf_free(&b);
}

static void
test_msgids(void **state)
{
	static const char *const cases[][2] = {
		{ "<a@b.nl>", "<a@b.nl>" },
		{ "Re: <a@b.nl> (Jan)\r\n\t<c@d.nl>", "<a@b.nl> <c@d.nl>" },
		{ "<a<b@c.nl>", "<b@c.nl>" },
		{ "<a b@c.nl> <\xc3\xa9@c.nl> <x@y.nl", NULL },
		{ "<>", NULL },
		{ "", NULL },
	};
	struct outgoing o = { .to = "jan@example.org", .text = "x" };
	struct botu_conf *c = conf_new("L");

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		char *m, *v;

		o.in_reply_to = o.references = cases[i][0];
		m = compose_new(c, &o);
		v = header_new(m, "In-Reply-To");
		if (cases[i][1] == NULL)
			assert_null(v);
		else
			assert_string_equal(v, cases[i][1]);
		free(v);
		v = header_new(m, "References");
		if (cases[i][1] != NULL)
			assert_string_equal(v, cases[i][1]);
		free(v);
		free(m);
	}
	conf_free(c);
}

/* A run too long for one encoded word is cut after a space, so a reader
 * that shows the whitespace between words (gh-128110) splits no word. */
static void
test_encoded_word_cuts(void **state)
{
	struct buf b, d;
	const char *p;
	size_t n, words = 0;

	(void)state;
	buf_init(&b);
	buf_init(&d);
	compose_header(&b, "Subject", VIET " " VIET);
	for (p = strstr(b.s, "=?"); p != NULL; p = strstr(p + n, "=?")) {
		n = strcspn(p, " \r");
		buf_truncate(&d, 0);
		ew_decode_word(&d, p, n);
		if (p[n] != '\r' || p[n + 2] == ' ')	/* not the last */
			assert_int_equal(d.s[d.len - 1], ' ');
		words++;
	}
	assert_true(words >= 3);
	buf_free(&d);
	buf_free(&b);
}

static void
test_header_injection(void **state)
{
	const char *evil = "x\r\nBcc: evil@example.org\r\n\r\nbody";
	struct compose_part part = { "text/calendar; method=REQUEST\r\n"
	    "X-Evil: 1", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
	    "a.ics\r\nX-Evil: 1", 0, 0 };
	struct outgoing o = { .to = "jan@example.org", .to_name = evil,
	    .subject = evil, .text = "tekst\n", .html = "<p>x</p>",
	    .in_reply_to = "<a@b.nl>\r\nBcc: evil@example.org",
	    .references = evil, .auto_submitted = COMPOSE_AUTO_REPLIED,
	    .parts = &part, .nparts = 1 };
	struct botu_conf *c = conf_new(evil);
	char *m = compose_new(c, &o), *names = names_new(m);

	(void)state;
	assert_string_equal(names, "Date,From,To,Subject,Message-ID,"
	    "In-Reply-To,MIME-Version,List-Id,List-Unsubscribe,List-Help,"
	    "List-Post,Auto-Submitted,X-Auto-Response-Suppress,X-Loop,"
	    "Content-Type");
	for (const char *p = m; p != NULL; p = strstr(p + 1, "\r\n")) {
		const char *line = p == m ? p : p + 2;

		assert_true(strncasecmp(line, "Bcc:", 4) != 0);
		assert_true(strncasecmp(line, "X-Evil:", 7) != 0);
		assert_true(strncmp(line, "body", 4) != 0);
	}
	assert_lines(m, 78);
	free(names);
	free(m);
	conf_free(c);
}

static void
test_list_headers(void **state)
{
	struct outgoing o = { .to = "jan@example.org", .subject = "Hoi",
	    .text = "x", .reply_to = "annerike+bevestig-abc@lsabewoners.nl",
	    .auto_submitted = COMPOSE_AUTO_REPLIED };
	static const char *const want[][2] = {
		{ "From", "\"Buurtlijst\" <" LIST ">" },
		{ "To", "jan@example.org" },
		{ "Reply-To", "annerike+bevestig-abc@lsabewoners.nl" },
		{ "List-Id", "\"Buurtlijst\" <annerike.lsabewoners.nl>" },
		{ "List-Unsubscribe", "<mailto:annerike+afmelden@"
		  "lsabewoners.nl?subject=unsubscribe>" },
		{ "List-Help",
		  "<mailto:annerike+help@lsabewoners.nl?subject=help>" },
		{ "List-Post", "NO" },
		{ "Auto-Submitted", "auto-replied" },
		{ "X-Auto-Response-Suppress", "OOF, AutoReply" },
		{ "X-Loop", LIST },
		{ "MIME-Version", "1.0" },
		{ "Content-Type", "text/plain; charset=utf-8" },
		{ "Content-Transfer-Encoding", "quoted-printable" },
	};
	struct botu_conf *c = conf_new("Buurtlijst");
	char *m = compose_new(c, &o), *v;

	(void)state;
	for (size_t i = 0; i < NELEM(want); i++) {
		v = header_new(m, want[i][0]);
		assert_non_null(v);
		assert_string_equal(v, want[i][1]);
		free(v);
	}
	v = header_new(m, "Precedence");
	assert_null(v);
	assert_null(header_new(m, "List-Unsubscribe-Post"));
	assert_true(strncmp(m, "Date: Fri, 27 Nov 2026 ", 23) == 0);
	free(m);

	/* Generated mail: bulk; a given unsubscribe address; the "-"
	 * delimiter; no list name: a bare From and List-Id. */
	o.auto_submitted = COMPOSE_AUTO_GENERATED;
	o.unsubscribe = "annerike+afmelden-tok%en@lsabewoners.nl";
	set(&c->list.recipient_delimiter, "-");
	set(&c->list.name, "");
	set(&c->list.id, "");
	m = compose_new(c, &o);
	v = header_new(m, "Precedence");
	assert_string_equal(v, "bulk");
	free(v);
	v = header_new(m, "Auto-Submitted");
	assert_string_equal(v, "auto-generated");
	free(v);
	v = header_new(m, "List-Unsubscribe");
	assert_string_equal(v, "<mailto:annerike+afmelden-tok%25en@"
	    "lsabewoners.nl?subject=unsubscribe>");
	free(v);
	v = header_new(m, "List-Help");
	assert_string_equal(v,
	    "<mailto:annerike-help@lsabewoners.nl?subject=help>");
	free(v);
	v = header_new(m, "From");
	assert_string_equal(v, LIST);
	free(v);
	v = header_new(m, "List-Id");
	assert_string_equal(v, "<annerike.lsabewoners.nl>");
	free(v);
	free(m);
	conf_free(c);
}

static void
test_bad_input(void **state)
{
	struct outgoing o = { .to = "jan@example.org", .subject = "x",
	    .text = "x" };
	struct botu_conf *c = conf_new("L");
	char err[BOTU_ERRLEN], *mid = compose_message_id("lsabewoners.nl");
	static const char *const bad_to[] = { "jan", "jan@example.org\r\n",
	    "Jan <jan@example.org>", "", "a b@example.org" };
	static const char *const bad_id[] = { "x@y", "<a b@c>", "<a@b> <c@d>",
	    "<>", "<a@b>\r\nBcc: x@y" };
	struct buf b;

	(void)state;
	buf_init(&b);
	buf_adds(&b, "kept");
	for (size_t i = 0; i < NELEM(bad_to); i++) {
		o.to = bad_to[i];
		err[0] = '\0';
		assert_int_equal(compose(c, &o, mid, T0, &b, err), BOTU_EDATA);
		assert_true(err[0] != '\0');
	}
	o.to = "jan@example.org";
	o.reply_to = "not an address";
	assert_int_equal(compose(c, &o, mid, T0, &b, err), BOTU_EDATA);
	o.reply_to = NULL;
	o.unsubscribe = "x";
	assert_int_equal(compose(c, &o, mid, T0, &b, err), BOTU_EDATA);
	o.unsubscribe = NULL;
	for (size_t i = 0; i < NELEM(bad_id); i++)
		assert_int_equal(compose(c, &o, bad_id[i], T0, &b, err),
		    BOTU_EDATA);
	assert_int_equal(compose(c, &o, NULL, T0, &b, err), BOTU_EDATA);
	set(&c->list.address, "annerike");
	assert_int_equal(compose(c, &o, mid, T0, &b, err), BOTU_ECONFIG);
	assert_string_equal(b.s, "kept");	/* nothing half-written */
	buf_free(&b);
	free(mid);
	conf_free(c);
}

static void
test_message_id(void **state)
{
	char *a = compose_message_id("lsabewoners.nl");
	char *b = compose_message_id("lsabewoners.nl");
	char tok[27], *dot, *end;
	long long t;

	(void)state;
	assert_string_not_equal(a, b);
	assert_int_equal(a[0], '<');
	memcpy(tok, a + 1, 26);
	tok[26] = '\0';
	assert_true(token_valid(tok, 128));
	dot = a + 27;
	assert_int_equal(*dot, '.');
	t = strtoll(dot + 1, &end, 10);
	assert_true(llabs(t - (long long)time(NULL)) < 5);
	assert_string_equal(end, "@lsabewoners.nl>");
	free(a);
	free(b);
}

/* ---- Bodies --------------------------------------------------------- */

static void
test_qp(void **state)
{
	char longline[400], longutf8[401];
	static const char *const cases[] = {
		"Hallo\n", "zonder einde", "crlf\r\nen\rbare cr\n\nleeg",
		".\n..\n.punt\n", "From mij\nFrom\nfrom klein\n",
		"spatie aan het eind \ntab\t\n \n", "a=b ==\n",
		"\x01\x1b ctrl\n", "",
	};

	(void)state;
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	for (size_t i = 0; i < sizeof(longline) - 1; i += 75)
		longline[i] = i % 2 ? '.' : 'F';
	memcpy(longline + 150, "From ", 5);
	for (size_t i = 0; i < 400; i += 2)
		memcpy(longutf8 + i, "\xc3\xa9", 2);
	longutf8[400] = '\0';
	for (size_t i = 0; i < NELEM(cases) + 2; i++) {
		const char *in = i < NELEM(cases) ? cases[i] :
		    i == NELEM(cases) ? longline : longutf8;
		char *want = crlf_new(in), *got;
		struct buf b;

		buf_init(&b);
		compose_qp(&b, in);
		assert_lines(b.s, 76);
		for (const char *p = b.s; *p != '\0';
		    p = strstr(p, "\r\n") + 2) {
			size_t n = strcspn(p, "\r\n");

			char *line = strndup(p, n), *dec;

			assert_true(*p != '.' && strncmp(p, "From ", 5) != 0);
			assert_true(n == 0 || (p[n - 1] != ' ' &&
			    p[n - 1] != '\t'));
			if (n > 0 && line[n - 1] == '=')	/* soft break */
				line[n - 1] = '\0';
			dec = qp_decode_new(line);	/* whole characters */
			assert_whole_utf8((unsigned char *)dec, strlen(dec));
			free(dec);
			free(line);
		}
		got = qp_decode_new(b.s);
		assert_string_equal(got, want);
		free(got);
		free(want);
		buf_free(&b);
	}
}

/* The Content-Type values of the message in order, "a;b;...". */
static char *
types_new(const char *m)
{
	struct buf b;

	buf_init(&b);
	for (const char *p = m; (p = strstr(p, "Content-Type: ")) != NULL;) {
		p += 14;
		if (b.len > 0)
			buf_addc(&b, ',');
		buf_add(&b, p, strcspn(p, ";\r"));
	}
	return buf_detach(&b);
}

static void
test_structure(void **state)
{
	struct compose_part parts[] = {
		{ "text/calendar; method=REQUEST", "BEGIN:VCALENDAR\r\n",
		  "uitnodiging.ics", 1, 0 },
		{ "application/ics", "BEGIN:VCALENDAR\r\n", "invite.ics", 0,
		  1 },
	};
	struct outgoing o = { .to = "jan@example.org", .subject = "s",
	    .text = "t", .parts = parts };
	static const struct { int html; size_t nparts; const char *types; }
	    cases[] = {
		{ 0, 0, "text/plain" },
		{ 1, 0, "multipart/alternative,text/plain,text/html" },
		{ 0, 1, "multipart/alternative,text/plain,text/calendar" },
		{ 1, 1, "multipart/alternative,text/plain,text/html,"
		  "text/calendar" },
		{ 1, 2, "multipart/mixed,multipart/alternative,text/plain,"
		  "text/html,text/calendar,application/ics" },
	};
	struct botu_conf *c = conf_new("L");

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		char *m, *t;

		o.html = cases[i].html ? "<p>h</p>" : NULL;
		o.nparts = cases[i].nparts;
		m = compose_new(c, &o);
		t = types_new(m);
		assert_string_equal(t, cases[i].types);
		assert_lines(m, 78);
		if (cases[i].nparts == 2) {
			assert_non_null(strstr(m, "Content-Disposition: "
			    "attachment; filename=\"invite.ics\"\r\n"));
			assert_non_null(strstr(m, "Content-Disposition: "
			    "inline; filename=\"uitnodiging.ics\"\r\n"));
			assert_non_null(strstr(m, "Content-Type: text/calendar;"
			    " method=REQUEST; charset=utf-8\r\n"));
		}
		free(t);
		free(m);
	}
	conf_free(c);
}

/* ---- The independent reader ------------------------------------------- */

/* Minimal JSON with every string as hex (check_mail.py decodes). */
static void
jsep(struct buf *b)
{
	char c = b->len > 0 ? b->s[b->len - 1] : '{';

	if (c != '{' && c != '[' && c != ':')
		buf_addc(b, ',');
}

static void
jstr(struct buf *b, const char *v)
{
	jsep(b);
	if (v == NULL) {
		buf_adds(b, "null");
		return;
	}
	buf_addc(b, '"');
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		buf_addf(b, "%02x", *p);
	buf_addc(b, '"');
}

static void
jkey(struct buf *b, const char *k)
{
	jsep(b);
	buf_addf(b, "\"%s\":", k);
}

static void
jkv(struct buf *b, const char *k, const char *v)
{
	jkey(b, k);
	jstr(b, v);
}

static void
jleaf(struct buf *b, const char *type, const char *body,
    const char *filename, const char *disposition, int base64)
{
	jsep(b);
	buf_addc(b, '{');
	jkv(b, "type", type);
	jkv(b, "body", body);
	jkv(b, "filename", filename);
	jkv(b, "disposition", disposition);
	jkv(b, "encoding", base64 ? "base64" : "quoted-printable");
	buf_addc(b, '}');
}

/* The first word of a Content-Type value. */
static char *
mime_type_new(const char *ct)
{
	return strndup(ct, strcspn(ct, "; "));
}

/* The leaves in the order compose.h documents. */
static void
jleaves(struct buf *b, const struct outgoing *o)
{
	jkey(b, "leaves");
	buf_addc(b, '[');
	jleaf(b, "text/plain", o->text, NULL, NULL, 0);
	if (o->html != NULL)
		jleaf(b, "text/html", o->html, NULL, NULL, 0);
	for (int alt = 1; alt >= 0; alt--) {
		for (size_t i = 0; i < o->nparts; i++) {
			const struct compose_part *p = &o->parts[i];
			char *t = mime_type_new(p->content_type);

			if (p->in_alternative == alt)
				jleaf(b, t, p->body, p->filename,
				    p->filename == NULL ? (alt ? NULL :
				    "inline") : alt ? "inline" : "attachment",
				    p->base64);
			free(t);
		}
	}
	buf_addc(b, ']');
}

struct variant {
	const char		*label;
	const char		*list_name;
	struct outgoing		 o;
	const char		*structure[8];
	const char		*headers[4][2];
};

static char *
expect_new(const struct variant *v)
{
	struct buf b;

	buf_init(&b);
	buf_addc(&b, '{');
	jkv(&b, "from", LIST);
	jkv(&b, "from_name", v->list_name);
	jkv(&b, "to", v->o.to);
	jkv(&b, "to_name", v->o.to_name);
	jkv(&b, "subject", v->o.subject);
	jkv(&b, "reply_to", v->o.reply_to);
	jkey(&b, "date");
	buf_addf(&b, "%d", T0);
	jkey(&b, "structure");
	buf_addc(&b, '[');
	for (size_t i = 0; v->structure[i] != NULL; i++)
		jstr(&b, v->structure[i]);
	buf_addc(&b, ']');
	jleaves(&b, &v->o);
	jkey(&b, "headers");
	buf_addc(&b, '{');
	for (size_t i = 0; i < 4 && v->headers[i][0] != NULL; i++)
		jkv(&b, v->headers[i][0], v->headers[i][1]);
	buf_adds(&b, "}}");
	return buf_detach(&b);
}

/* Runs check_mail.py on message m; its exit status. quiet: the failures
 * are expected, keep them off stderr. */
static int
run_checker(const char *m, const char *json, int quiet)
{
	char *dir = tmpdir_new(), *path, *cmd = NULL;
	FILE *p;
	int st;

	path = write_file(dir, "expect.json", json, 0600);
	assert_true(asprintf(&cmd, "/usr/bin/python3 '%s/tests/unit/"
	    "check_mail.py' '%s'%s", srcdir(), path,
	    quiet ? " 2>/dev/null" : "") > 0);
	p = popen(cmd, "w");
	assert_non_null(p);
	fwrite(m, 1, strlen(m), p);
	st = pclose(p);
	free(cmd);
	free(path);
	tmpdir_remove(dir);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define CAL "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\n" \
	"SUMMARY:Buurtoverleg in caf\xc3\xa9 De Boeg\r\nEND:VCALENDAR\r\n"
#define LONGNAME "Zo\xc3\xab van 't Hoff-M\xc3\xbcller, " \
	"bewonerscommissie Bospolder-Tussendijken \xe2\x98\x80\xef\xb8\x8f " \
	"(penningmeester) \"de Buurtcamping\""
#define HOSTILE "Hallo\r\n.\r\n..twee\nFrom mij\rFrom\n" \
	"spatie \ntab\t\n=?utf-8?q?x?= =41\n\xc3\x28 kapot \xe2\x82\n" \
	"\x01\x1b\n"

static const struct compose_part cal_alt[] = {
	{ "text/calendar; method=REQUEST", CAL, "uitnodiging.ics", 1, 0 },
};
static const struct compose_part cal_both[] = {
	{ "text/calendar; method=REQUEST", CAL, NULL, 1, 1 },
	{ "application/ics", CAL, "Buurtoverleg caf\xc3\xa9 De Boeg, "
	  "Bospolder-Tussendijken \xe2\x80\x94 december 2026.ics", 0, 1 },
	{ "text/plain", "notulen\n", NULL, 0, 0 },
};

static void
test_python_reader(void **state)
{
	char big[3000], lines[2000];
	struct variant v[] = {
	    { "plain", "Annerike", { .to = "jan@example.org",
	      .to_name = "Jan de Vries", .subject = "Welkom bij de lijst",
	      .text = "Hallo Jan,\n\n.\nFrom nu af aan\nGroet\n",
	      .auto_submitted = COMPOSE_AUTO_REPLIED },
	      { "text/plain" }, { { "List-Post", "NO" } } },
	    { "html", "Buurtlijst Bospolder-Tussendijken \xe2\x80\x94 caf\xc3"
	      "\xa9 \xe2\x98\x80\xef\xb8\x8f",
	      { .to = "zoe@example.org", .to_name = LONGNAME,
	      .subject = DUTCH " " DUTCH, .text = big, .html = lines,
	      .auto_submitted = COMPOSE_AUTO_GENERATED },
	      { "multipart/alternative", "text/plain", "text/html" },
	      { { "Precedence", "bulk" },
	      { "Auto-Submitted", "auto-generated" } } },
	    { "calendar", LONGASCII, { .to = "jan@example.org",
	      .to_name = "Zo\xc3\xab  van  Dijk",
	      .subject = "Uitnodiging: buurtoverleg 10 december",
	      .text = "Je bent uitgenodigd.\r\n", .html = "<p>Je bent "
	      "uitgenodigd.</p>\r\n", .parts = cal_alt, .nparts = 1,
	      .auto_submitted = COMPOSE_AUTO_GENERATED },
	      { "multipart/alternative", "text/plain", "text/html",
	      "text/calendar" }, { { NULL } } },
	    { "mixed", "", { .to = "jan@example.org", .to_name = "",
	      .subject = "", .text = "", .parts = cal_both, .nparts = 3,
	      .auto_submitted = COMPOSE_AUTO_GENERATED },
	      { "multipart/mixed", "multipart/alternative", "text/plain",
	      "text/calendar", "application/ics", "text/plain" },
	      { { NULL } } },
	    { "hostile", "Lijst \"A\\B\"\r\nBcc: x@y.nl", {
	      .to = "jan@example.org", .to_name = "Jan\r\n\r\nBcc: x@y.nl",
	      .subject = "=?utf-8?q?nep?= \xc3\x28 \r\nBcc: x@y.nl\x7f",
	      .text = HOSTILE, .html = HOSTILE,
	      .reply_to = "annerike+bevestig-x@lsabewoners.nl",
	      .in_reply_to = "kapot <a@b.nl> <c d@e.nl>\r\nBcc: x@y.nl",
	      .references = "<r1@x.nl>\n <r2@x.nl> <\xc3\xa9@x.nl>",
	      .auto_submitted = COMPOSE_AUTO_REPLIED },
	      { "multipart/alternative", "text/plain", "text/html" },
	      { { "In-Reply-To", "<a@b.nl>" },
	      { "References", "<r1@x.nl> <r2@x.nl>" } } },
	    /* A name that needs adjacent encoded words (see check_mail). */
	    { "vietnamese", VIET, { .to = "dang@example.org",
	      .to_name = VIET " " VIET, .subject = VIET, .text = VIET,
	      .auto_submitted = COMPOSE_AUTO_REPLIED }, { "text/plain" },
	      { { NULL } } },
	};

	(void)state;
	/* 2999 octets without a space, then lines of 60 to 80 characters
	 * that start with "." and "From " and end in white space. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big + 1000, "\xf0\x9f\x98\x80\xc3\xa9", 6);
	lines[0] = '\0';
	for (int i = 0; strlen(lines) + 100 < sizeof(lines); i++)
		snprintf(lines + strlen(lines), sizeof(lines) - strlen(lines),
		    "%s %.*s \n", i % 2 ? "From" : ".", 60 + i % 20,
		    "caf\xc3\xa9 =? ?= tekst tekst tekst tekst tekst tekst "
		    "tekst tekst tekst tekst tekst tekst tekst tekst");
	for (size_t i = 0; i < NELEM(v); i++) {
		struct botu_conf *c = conf_new(v[i].list_name);
		char *m = compose_new(c, &v[i].o), *json = expect_new(&v[i]);

		if (run_checker(m, json, 0) != 0)
			fail_msg("variant %s rejected:\n%s", v[i].label, m);
		free(json);
		free(m);
		conf_free(c);
	}
}

/* The checker must be able to say no. */
static void
test_python_reader_fails(void **state)
{
	struct variant v = { "plain", "Annerike", { .to = "jan@example.org",
	    .to_name = "Jan", .subject = "Welkom", .text = "Hallo\n" },
	    { "text/plain" }, { { NULL } } };
	struct botu_conf *c = conf_new(v.list_name);
	char *m = compose_new(c, &v.o), *json = expect_new(&v), *bad, *p;

	(void)state;
	assert_int_equal(run_checker(m, json, 0), 0);
	v.o.subject = "Welkom!";		/* another subject */
	free(json);
	json = expect_new(&v);
	assert_int_equal(run_checker(m, json, 1), 1);
	v.o.subject = "Welkom";
	free(json);
	json = expect_new(&v);
	bad = strdup(m);			/* a bare LF */
	p = strstr(bad, "\r\nTo:");
	p[0] = ' ';
	assert_int_equal(run_checker(bad, json, 1), 1);
	free(bad);
	bad = strdup(m);			/* a body that changed */
	p = strstr(bad, "Hallo");
	p[0] = 'h';
	assert_int_equal(run_checker(bad, json, 1), 1);
	free(bad);
	/* 8-bit in a header */
	bad = xasprintf("X-A: caf\xc3\xa9\r\n%s", m);
	assert_int_equal(run_checker(bad, json, 1), 1);
	free(bad);
	free(json);
	free(m);
	conf_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_utf8_sanitize),
		cmocka_unit_test(test_encoded_words),
		cmocka_unit_test(test_encoded_word_cuts),
		cmocka_unit_test(test_header_controls),
		cmocka_unit_test(test_msgids),
		cmocka_unit_test(test_header_injection),
		cmocka_unit_test(test_list_headers),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_message_id),
		cmocka_unit_test(test_qp),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_python_reader),
		cmocka_unit_test(test_python_reader_fails),
	};

	/* check_mail.py may exit before reading all of a message. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
