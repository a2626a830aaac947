/*
 * message.c - see message.h.
 *
 * The MIME structure comes from libetpan's mailmime_parse(); everything
 * that turns bytes into text (top-level headers, RFC 2047, charsets,
 * format=flowed, HTML) is done here, because that is where mail is most
 * often broken and where we want to decide how to repair it. Every string
 * that leaves this file went through utf8_fix() or utf8_put(), so it is
 * valid UTF-8 without NUL bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libetpan/libetpan.h>

#include "botu/message.h"
#include "botu/util.h"

#define MAX_DEPTH	30	/* MIME levels walked */
#define MAX_PARTS	1000	/* MIME parts looked at */
#define MAX_HEADERS	2000	/* top-level headers kept */
#define MAX_ADDRS	1000	/* addresses kept per kind */
#define MAX_NESTING	50	/* pre-check: multipart levels */
#define MAX_MULTIPARTS	2000	/* pre-check: multipart fields */
#define MAX_REPAIRS	1000	/* header lines re-indented */
#define CHARSET_MAX	64

#define PACK_MAGIC	"BOTUMSG1"
#define PACK_NULL	0xffffffffU

struct ctx {
	struct message	*m;
	struct mailmime	*root;
	int		 nparts;
	int		 nomem;
};

/* ---- UTF-8 and windows-1252 ---------------------------------------- */

/* windows-1252 0x80..0x9f; 0 where the code page leaves a hole. */
static const uint16_t cp1252_high[32] = {
	0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
	0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
};

static void
utf8_put(struct buf *b, uint32_t cp)
{
	char s[4];

	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		buf_addc(b, (char)cp);
	} else if (cp < 0x800) {
		s[0] = (char)(0xc0 | (cp >> 6));
		s[1] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, s, 2);
	} else if (cp < 0x10000) {
		s[0] = (char)(0xe0 | (cp >> 12));
		s[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[2] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, s, 3);
	} else {
		s[0] = (char)(0xf0 | (cp >> 18));
		s[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		s[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[3] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, s, 4);
	}
}

static uint32_t
cp1252(unsigned char c)
{
	if (c >= 0x80 && c < 0xa0)
		return cp1252_high[c - 0x80] ? cp1252_high[c - 0x80] : 0xfffd;
	return c;
}

/* Length of the valid UTF-8 sequence at s (n > 0 octets left), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* overlong forms, surrogates and code points above U+10FFFF */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return len;
}

/* 1 when s is valid UTF-8 without NUL. */
static int
utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		k = u[i] == 0 ? 0 : utf8_seq(u + i, n - i);
		if (k == 0)
			return 0;
		i += k;
	}
	return 1;
}

/*
 * Appends s as UTF-8: valid sequences as they are, every other octet read
 * as windows-1252 (the usual suspect for raw 8-bit mail), NUL as U+FFFD.
 */
static void
utf8_fix(struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k, run = 0;

	while (i < n) {
		k = u[i] == 0 ? 0 : utf8_seq(u + i, n - i);
		if (k > 0) {
			i += k;
			continue;
		}
		buf_add(b, s + run, i - run);
		utf8_put(b, u[i] == 0 ? 0xfffd : cp1252(u[i]));
		run = ++i;
	}
	buf_add(b, s + run, i - run);
}

static char *
utf8_dup(const char *s, size_t n)
{
	struct buf b;

	buf_init(&b);
	utf8_fix(&b, s, n);
	return buf_detach(&b);
}

/* ---- charsets ------------------------------------------------------ */

/* The charset name lower-cased without quotes or spaces; "" if absurd. */
static void
charset_norm(const char *cs, char out[CHARSET_MAX])
{
	size_t i, j = 0;

	out[0] = '\0';
	if (cs == NULL)
		return;
	for (i = 0; cs[i] != '\0'; i++) {
		if (cs[i] == '"' || cs[i] == '\'' || cs[i] == ' ' ||
		    cs[i] == '\t')
			continue;
		if (j + 1 >= CHARSET_MAX) {
			out[0] = '\0';
			return;
		}
		out[j++] = cs[i];
	}
	out[j] = '\0';
	str_lower(out);
}

static int
charset_in(const char *cs, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(cs, *list) == 0)
			return 1;
	return 0;
}

/* Labels that mean "whatever bytes there are": check UTF-8, else 1252. */
static const char *const cs_raw[] = {
	"", "us-ascii", "ascii", "ansi_x3.4-1968", "utf-8", "utf8",
	"unknown-8bit", "x-unknown", "unknown", "default", "x-user-defined",
	"8bit", "7bit", NULL,
};

/*
 * Latin-1 labels are decoded as windows-1252, as browsers do (WHATWG
 * Encoding): Outlook's smart quotes in 0x80..0x9f come out right.
 */
static const char *const cs_1252[] = {
	"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1",
	"l1", "windows-1252", "cp1252", "x-cp1252", "cp819", "ibm819", NULL,
};

/* Names glibc iconv does not know, mapped to ones it does. */
static const char *const cs_alias[][2] = {
	{ "ks_c_5601-1987", "CP949" },
	{ "ks_c_5601", "CP949" },
	{ "x-mac-cyrillic", "MAC-CYRILLIC" },
	{ "x-mac-roman", "MACINTOSH" },
	{ "unicode-1-1-utf-7", "UTF-7" },
	{ "iso-8859-8-i", "ISO-8859-8" },
	{ "x-sjis", "SHIFT_JIS" },
	{ "x-euc-jp", "EUC-JP" },
	{ "gb2312", "GB18030" },
	{ "gbk", "GB18030" },
	{ "x-gbk", "GB18030" },
	{ "tis-620", "CP874" },
	{ "windows-874", "CP874" },
};

/*
 * Appends the octets s (in charset cs) as UTF-8. A text that claims a
 * Western single-octet charset but is valid multi-octet UTF-8 was
 * mislabelled, and is taken as UTF-8. Unknown charsets: UTF-8 if valid,
 * else windows-1252. Returns -1 only when memory ran out.
 */
static int
to_utf8(struct buf *b, const char *cs, const char *s, size_t n)
{
	char name[CHARSET_MAX];
	const char *from;
	char *res = NULL;
	size_t reslen = 0, i;
	int r;

	charset_norm(cs, name);
	if (charset_in(name, cs_raw) || n == 0) {
		utf8_fix(b, s, n);
		return 0;
	}
	if (charset_in(name, cs_1252) || strcmp(name, "iso-8859-15") == 0) {
		if (utf8_valid(s, n)) {
			buf_add(b, s, n);
			return 0;
		}
		if (strcmp(name, "iso-8859-15") != 0) {
			for (i = 0; i < n; i++)
				utf8_put(b, s[i] == 0 ? 0xfffd :
				    cp1252((unsigned char)s[i]));
			return 0;
		}
	}
	from = name;
	for (i = 0; i < NELEM(cs_alias); i++)
		if (strcmp(name, cs_alias[i][0]) == 0)
			from = cs_alias[i][1];
	r = charconv_buffer("utf-8", from, s, n, &res, &reslen);
	if (r == MAIL_CHARCONV_ERROR_MEMORY)
		return -1;
	if (r != MAIL_CHARCONV_NO_ERROR) {
		utf8_fix(b, s, n);
		return 0;
	}
	utf8_fix(b, res, reslen);
	charconv_buffer_free(res);
	return 0;
}

/* ---- small string helpers ------------------------------------------ */

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
	    c == '\v';
}

/* Turns controls (CR, LF, TAB, ...) into spaces and trims; in place. */
static char *
oneline(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return str_trim(s);
}

/* Collapses runs of white space into one space and trims; in place. */
static char *
squeeze(char *s)
{
	char *r = s, *w = s;
	int sp = 0;

	for (; *r != '\0'; r++) {
		if (is_space(*r)) {
			sp = 1;
			continue;
		}
		if (sp && w != s)
			*w++ = ' ';
		sp = 0;
		*w++ = *r;
	}
	*w = '\0';
	return s;
}

/* CRLF and lone CR become LF; appends to b. */
static void
add_lf(struct buf *b, const char *s, size_t n)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		if (s[i] != '\r')
			continue;
		buf_add(b, s + run, i - run);
		buf_addc(b, '\n');
		if (i + 1 < n && s[i + 1] == '\n')
			i++;
		run = i + 1;
	}
	buf_add(b, s + run, n - run);
}

/* ---- RFC 2047 encoded words ---------------------------------------- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Lenient base64: skips what is not in the alphabet, keeps partial tails. */
static void
b64_decode(struct buf *out, const char *s, size_t n)
{
	uint32_t acc = 0;
	int bits = 0, v;
	size_t i;

	for (i = 0; i < n; i++) {
		v = b64val(s[i]);
		if (v < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_addc(out, (char)((acc >> bits) & 0xff));
		}
	}
}

/* RFC 2047 §4.2: "_" is a space, "=XX" an octet. */
static void
q_decode(struct buf *out, const char *s, size_t n)
{
	size_t i;
	int h, l;

	for (i = 0; i < n; i++) {
		h = i + 2 < n && s[i] == '=' ? hexval(s[i + 1]) : -1;
		l = h >= 0 ? hexval(s[i + 2]) : -1;
		if (s[i] == '_') {
			buf_addc(out, ' ');
		} else if (l >= 0) {
			buf_addc(out, (char)(h * 16 + l));
			i += 2;
		} else {
			buf_addc(out, s[i]);
		}
	}
}

struct ew {
	char	 charset[CHARSET_MAX];
	char	 enc;
	const char *text;
	size_t	 textlen;
	size_t	 len;		/* of the whole "=?...?=" */
};

/*
 * Recognises "=?charset[*lang]?B|Q?text?=" at s (RFC 2047 §2, RFC 2231
 * §5). Spaces are tolerated inside the text because some mailers put them
 * there; a line end is not.
 */
static int
ew_parse(const char *s, size_t n, struct ew *ew)
{
	size_t i = 2, cs, j;

	if (n < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	cs = i;
	while (i < n && s[i] != '?' && !is_space(s[i]) && i - cs < 60)
		i++;
	if (i >= n || s[i] != '?' || i == cs)
		return 0;
	memcpy(ew->charset, s + cs, i - cs);
	ew->charset[i - cs] = '\0';
	for (j = 0; ew->charset[j] != '\0'; j++)
		if (ew->charset[j] == '*')
			ew->charset[j] = '\0';
	i++;
	if (i + 1 >= n || s[i + 1] != '?')
		return 0;
	ew->enc = s[i];
	if (ew->enc != 'Q' && ew->enc != 'q' && ew->enc != 'B' &&
	    ew->enc != 'b')
		return 0;
	i += 2;
	ew->text = s + i;
	for (; i + 1 < n; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			return 0;
		if (s[i] == '?' && s[i + 1] == '=') {
			ew->textlen = (size_t)(s + i - ew->text);
			ew->len = i + 2;
			return 1;
		}
	}
	return 0;
}

static int
all_wsp(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_space(s[i]))
			return 0;
	return 1;
}

/*
 * Decodes encoded words in s into b as UTF-8; the rest is taken as UTF-8
 * or windows-1252 (raw 8-bit headers). Adjacent words in one charset are
 * joined before conversion, so a character split over two words (RFC 2047
 * §5 forbids it; Apple Mail and ISO-2022-JP senders do it) survives; the
 * white space between two encoded words goes (§6.2).
 */
static int
rfc2047_decode(struct buf *b, const char *s, size_t n)
{
	struct buf pend;
	char pcs[CHARSET_MAX] = "";
	size_t i = 0, lit = 0;
	int after_ew = 0, rc = 0;
	struct ew ew;

	buf_init(&pend);
	while (i < n) {
		if (s[i] != '=' || !ew_parse(s + i, n - i, &ew)) {
			i++;
			continue;
		}
		if (!after_ew || !all_wsp(s + lit, i - lit) ||
		    strcasecmp(pcs, ew.charset) != 0) {
			if (to_utf8(b, pcs, pend.s, pend.len) < 0)
				rc = -1;
			buf_truncate(&pend, 0);
			if (!after_ew || !all_wsp(s + lit, i - lit))
				utf8_fix(b, s + lit, i - lit);
		}
		str_copy(pcs, ew.charset, sizeof(pcs));
		if (ew.enc == 'B' || ew.enc == 'b')
			b64_decode(&pend, ew.text, ew.textlen);
		else
			q_decode(&pend, ew.text, ew.textlen);
		i += ew.len;
		lit = i;
		after_ew = 1;
	}
	if (to_utf8(b, pcs, pend.s, pend.len) < 0)
		rc = -1;
	utf8_fix(b, s + lit, n - lit);
	buf_free(&pend);
	return rc;
}

/* A decoded one-line header text (subject, display name). */
static char *
decode_phrase(struct ctx *c, const char *s)
{
	struct buf b;

	buf_init(&b);
	if (rfc2047_decode(&b, s, strlen(s)) < 0)
		c->nomem = 1;
	return oneline(buf_detach(&b));
}

/* ---- top-level headers --------------------------------------------- */

/* Length of the field name at s if the line is "name:", else 0. */
static size_t
header_name_len(const char *s, size_t n)
{
	size_t i = 0, name;

	while (i < n && (unsigned char)s[i] > 32 &&
	    (unsigned char)s[i] < 127 && s[i] != ':')
		i++;
	name = i;
	while (i < n && is_wsp(s[i]))	/* RFC 5322 §4.5.3 obs-optional */
		i++;
	if (name == 0 || i >= n || s[i] != ':')
		return 0;
	return name;
}

static void
header_add(struct message *m, const char *name, size_t namelen,
    struct buf *value)
{
	struct msg_header *h;

	m->headers = xrealloc(m->headers,
	    (m->nheaders + 1) * sizeof(*m->headers));
	h = &m->headers[m->nheaders++];
	h->name = utf8_dup(name, namelen);
	h->value = str_trim(utf8_dup(value->s, value->len));
}

/* The end of the line at s[i] (before CR LF) and the start of the next. */
static void
line_at(const char *s, size_t n, size_t i, size_t *eol, size_t *next)
{
	const char *e = memchr(s + i, '\n', n - i);

	*next = e != NULL ? (size_t)(e - s) + 1 : n;
	*eol = *next;
	if (*eol > i && s[*eol - 1] == '\n')
		(*eol)--;
	if (*eol > i && s[*eol - 1] == '\r')
		(*eol)--;
}

/* "name=" at s: a MIME parameter at the start of a line. */
static int
is_param_line(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
	    s[i] <= 'Z') || (i > 0 && ((s[i] >= '0' && s[i] <= '9') ||
	    s[i] == '-' || s[i] == '_' || s[i] == '*' || s[i] == '.'))))
		i++;
	return i > 0 && i < n && s[i] == '=';
}

/*
 * Normalises every line end to CRLF (bare CR files exist: old Mac mail)
 * and skips what may stand in front of the header block: a byte order
 * mark, an mbox "From " line, blank lines; *start is where the message
 * begins in the result. A header line that ends in ";" followed by a
 * line "boundary=..." lost the indent of its fold (seen from Apache James
 * and others): the indent is put back, or libetpan ends the part's
 * header block there and loses the boundary.
 */
static void
normalise(const char *raw, size_t len, struct buf *b, size_t *start)
{
	size_t i = 0, eol, k;
	int hdr = 0, semi = 0;
	char *e;

	while (i < len) {
		for (eol = i; eol < len && raw[eol] != '\r' &&
		    raw[eol] != '\n'; eol++)
			;
		if (semi && header_name_len(raw + i, eol - i) == 0 &&
		    is_param_line(raw + i, eol - i))
			buf_addc(b, ' ');
		else if (!(i < eol && is_wsp(raw[i])))
			hdr = header_name_len(raw + i, eol - i) > 0;
		buf_add(b, raw + i, eol - i);
		for (k = eol; k > i && is_wsp(raw[k - 1]); k--)
			;
		semi = hdr && k > i && raw[k - 1] == ';';
		if (eol == len)
			break;
		buf_add(b, "\r\n", 2);
		i = eol + 1;
		if (raw[eol] == '\r' && i < len && raw[i] == '\n')
			i++;
	}
	*start = 0;
	/* a UTF-8 byte order mark, as some Windows tools save mail */
	if (b->len >= 3 && memcmp(b->s, "\xef\xbb\xbf", 3) == 0)
		*start = 3;
	if (b->len - *start > 5 && memcmp(b->s + *start, "From ", 5) == 0) {
		e = memchr(b->s + *start, '\n', b->len - *start);
		*start = e != NULL ? (size_t)(e - b->s) + 1 : b->len;
	}
	/* blank lines in front of the header block (seen in the wild) */
	for (i = *start; i < b->len && is_space(b->s[i]); i++)
		if (b->s[i] == '\n')
			*start = i + 1;
}

/*
 * A line inside the header block that is no field, but followed within a
 * few lines by a field, is a continuation that lost its indent (seen in
 * the wild: whole header blocks unfolded by a broken gateway).
 */
static int
lost_indent(const struct buf *b, size_t next)
{
	size_t eol, after;
	int k;

	for (k = 0; k < 10 && next < b->len; k++, next = after) {
		line_at(b->s, b->len, next, &eol, &after);
		if (eol == next)
			return 0;
		if (header_name_len(b->s + next, eol - next) > 0)
			return 1;
	}
	return 0;
}

/* Puts a space in front of each of the n offsets fix (ascending) in b. */
static void
indent_lines(struct buf *b, const size_t *fix, size_t n)
{
	struct buf nb;
	size_t i, from = 0;

	buf_init(&nb);
	for (i = 0; i < n; i++) {
		buf_add(&nb, b->s + from, fix[i] - from);
		buf_addc(&nb, ' ');
		from = fix[i];
	}
	buf_add(&nb, b->s + from, b->len - from);
	buf_free(b);
	*b = nb;
}

/*
 * Reads the header block of b from start (CRLF line ends) into
 * m->headers, unfolded. Returns the offset of the body: after the empty
 * line, or at the first line that is neither a field nor a continuation
 * (as libetpan does). Continuations that lost their indent (at most
 * MAX_REPAIRS) are indented in b, so that libetpan reads the same header
 * block as we do.
 */
static size_t
parse_headers(struct message *m, struct buf *b, size_t start)
{
	struct buf val;
	size_t fix[MAX_REPAIRS], nfix = 0;
	size_t i = start, eol, next, name = 0, namelen = 0, k;
	int have = 0;

	buf_init(&val);
	while (i < b->len) {
		line_at(b->s, b->len, i, &eol, &next);
		if (eol == i) {
			i = next;
			break;
		}
		k = is_wsp(b->s[i]) ? 0 : header_name_len(b->s + i, eol - i);
		if (k == 0 && !is_wsp(b->s[i])) {
			if (i == start || nfix == MAX_REPAIRS ||
			    !lost_indent(b, next))
				break;
			fix[nfix++] = i;
			buf_addc(&val, ' ');
		}
		if (k == 0) {
			if (i == start)
				break;
			if (have)
				buf_add(&val, b->s + i, eol - i);
			i = next;
			continue;
		}
		if (have)
			header_add(m, b->s + name, namelen, &val);
		name = i;
		namelen = k;
		have = m->nheaders < MAX_HEADERS;
		buf_truncate(&val, 0);
		k = (size_t)((char *)memchr(b->s + i, ':', eol - i) - b->s) + 1;
		buf_add(&val, b->s + k, eol - k);
		i = next;
	}
	if (have)
		header_add(m, b->s + name, namelen, &val);
	buf_free(&val);
	if (nfix > 0)
		indent_lines(b, fix, nfix);
	return i + nfix;
}

const struct msg_header *
message_header_next(const struct message *m, const char *name,
    const struct msg_header *prev)
{
	size_t i = 0;

	if (prev != NULL) {
		if (prev < m->headers || prev >= m->headers + m->nheaders)
			return NULL;
		i = (size_t)(prev - m->headers) + 1;
	}
	for (; i < m->nheaders; i++)
		if (strcasecmp(m->headers[i].name, name) == 0)
			return &m->headers[i];
	return NULL;
}

const char *
message_header(const struct message *m, const char *name)
{
	const struct msg_header *h = message_header_next(m, name, NULL);

	return h != NULL ? h->value : NULL;
}

/* ---- addresses ----------------------------------------------------- */

static int
addr_char(char c)
{
	return (unsigned char)c > 32 && c != '<' && c != '>' && c != '"' &&
	    c != ',' && c != ';' && c != ':' && c != '(' && c != ')' &&
	    c != '[' && c != ']' && c != '\\' && c != 0x7f;
}

static void
addr_set(struct ctx *c, struct msg_addr *a, const char *addr,
    const char *name)
{
	a->addr = squeeze(utf8_dup(addr, strlen(addr)));
	a->name = decode_phrase(c, name != NULL ? name : "");
	/* a quoted display name may keep its quotes after decoding */
	if (a->name[0] == '"') {
		size_t n = strlen(a->name);

		if (n >= 2 && a->name[n - 1] == '"') {
			memmove(a->name, a->name + 1, n - 2);
			a->name[n - 2] = '\0';
			str_trim(a->name);
		}
	}
}

/*
 * For headers libetpan cannot parse ("Sandy M. <s@x>", stray brackets):
 * finds the next local@domain in s from *pos, and the text before a "<"
 * in front of it as the name. 0 when there is none.
 */
static int
addr_scan(struct ctx *c, const char *s, size_t *pos, struct msg_addr *a)
{
	const char *at, *b, *e, *lt, *ns, *start = s + *pos;
	char *addr, *name;

	for (at = strchr(start, '@'); at != NULL; at = strchr(at + 1, '@')) {
		for (b = at; b > start && addr_char(b[-1]); b--)
			;
		for (e = at + 1; *e != '\0' && addr_char(*e); e++)
			;
		if (b < at && e > at + 1)
			break;
	}
	if (at == NULL)
		return 0;
	addr = xstrndup(b, (size_t)(e - b));
	name = NULL;
	if (b > start && b[-1] == '<') {
		/* the name: from the last separator to the first '<' */
		for (ns = b - 1; ns > start && ns[-1] != ',' &&
		    ns[-1] != ';' && ns[-1] != '>'; ns--)
			;
		lt = memchr(ns, '<', (size_t)(b - ns));
		name = xstrndup(ns, (size_t)(lt - ns));
	}
	addr_set(c, a, addr, name);
	free(addr);
	free(name);
	*pos = (size_t)(e - s);
	return 1;
}

/*
 * The old form "addr (Name)" (RFC 822 §6.1 comment, still sent by some
 * tools): the comment after addr in the header value, else NULL.
 */
static char *
comment_name(const char *value, const char *addr)
{
	const char *p, *e;

	if (strchr(value, '(') == NULL || addr[0] == '\0')
		return NULL;
	p = strstr(value, addr);
	if (p == NULL)
		return NULL;
	for (p += strlen(addr); *p == '>' || is_space(*p); p++)
		;
	if (*p != '(')
		return NULL;
	e = strchr(p, ')');
	return e != NULL ? xstrndup(p + 1, (size_t)(e - p - 1)) : NULL;
}

/*
 * What libetpan returns as an address: "MAILER-DAEMON <>" comes back as
 * "MAILER-DAEMON<", an encoded word as a local part. Such are not taken.
 */
static int
addr_ok(const char *a)
{
	size_t i;

	if (a[0] == '\0' || strncmp(a, "=?", 2) == 0)
		return 0;
	for (i = 0; a[i] != '\0'; i++)
		if (!addr_char(a[i]))
			return 0;
	return 1;
}

static void
addr_push(struct ctx *c, struct msg_addr **v, size_t *n,
    const struct mailimf_mailbox *mb, const char *value)
{
	char *name = NULL;

	if (*n >= MAX_ADDRS || mb == NULL || mb->mb_addr_spec == NULL)
		return;
	if (mb->mb_display_name == NULL)
		name = comment_name(value, mb->mb_addr_spec);
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	addr_set(c, &(*v)[*n], mb->mb_addr_spec,
	    name != NULL ? name : mb->mb_display_name);
	(*n)++;
	free(name);
}

static void
mblist_push(struct ctx *c, struct msg_addr **v, size_t *n,
    const struct mailimf_mailbox_list *l, const char *value)
{
	clistiter *it;

	if (l == NULL || l->mb_list == NULL)
		return;
	for (it = clist_begin(l->mb_list); it != NULL; it = clist_next(it))
		addr_push(c, v, n, clist_content(it), value);
}

/*
 * An address libetpan returned is taken when it looks like one and is
 * in the value as written, after the previous one (*pos): from "no
 * address at all" it makes "noaddressatall".
 */
static int
mailbox_ok(const struct mailimf_mailbox *mb, const char *value,
    size_t *pos)
{
	const char *p;

	if (mb == NULL || mb->mb_addr_spec == NULL ||
	    !addr_ok(mb->mb_addr_spec))
		return 0;
	p = strstr(value + *pos, mb->mb_addr_spec);
	if (p == NULL)
		return 0;
	*pos = (size_t)(p - value) + strlen(mb->mb_addr_spec);
	return 1;
}

/* 1 when every mailbox of the list has an address worth taking. */
static int
list_ok(const struct mailimf_address_list *al, const char *value)
{
	const struct mailimf_address *ad;
	const struct mailimf_mailbox_list *ml;
	clistiter *it, *jt;
	size_t pos = 0;

	for (it = clist_begin(al->ad_list); it != NULL; it = clist_next(it)) {
		ad = clist_content(it);
		if (ad->ad_type == MAILIMF_ADDRESS_MAILBOX) {
			if (!mailbox_ok(ad->ad_data.ad_mailbox, value, &pos))
				return 0;
			continue;
		}
		ml = ad->ad_data.ad_group != NULL ?
		    ad->ad_data.ad_group->grp_mb_list : NULL;
		for (jt = ml != NULL ? clist_begin(ml->mb_list) : NULL;
		    jt != NULL; jt = clist_next(jt))
			if (!mailbox_ok(clist_content(jt), value, &pos))
				return 0;
	}
	return 1;
}

/* "Name <>" or "<local>": the part in <> and the name before it. */
static int
addr_bracket(struct ctx *c, const char *value, struct msg_addr *a)
{
	const char *lt = strchr(value, '<'), *gt;
	char *addr, *name;

	gt = lt != NULL ? strchr(lt, '>') : NULL;
	if (gt == NULL)
		return 0;
	addr = xstrndup(lt + 1, (size_t)(gt - lt - 1));
	str_trim(addr);
	if (addr[0] != '\0' && !addr_ok(addr)) {
		free(addr);
		return 0;
	}
	name = xstrndup(value, (size_t)(lt - value));
	addr_set(c, a, addr, name);
	free(addr);
	free(name);
	return 1;
}

/*
 * Appends the addresses of one address-list header value. What libetpan
 * parses keeps its display names; when it cannot parse the value, or
 * returns nonsense, the value is scanned for local@domain forms instead,
 * and as a last resort for "Name <>" (the null sender of a bounce).
 */
static void
addrs_add(struct ctx *c, const char *value, struct msg_addr **v,
    size_t *n)
{
	struct mailimf_address_list *al = NULL;
	struct mailimf_address *ad;
	struct msg_addr a;
	clistiter *it;
	size_t idx = 0, len = strlen(value), before = *n;
	int r;

	r = mailimf_address_list_parse(value, len, &idx, &al);
	if (r == MAILIMF_ERROR_MEMORY)
		c->nomem = 1;
	if (r == MAILIMF_NO_ERROR && !list_ok(al, value)) {
		mailimf_address_list_free(al);
		r = MAILIMF_ERROR_PARSE;
	}
	if (r != MAILIMF_NO_ERROR) {
		idx = 0;
		al = NULL;
	}
	for (it = al != NULL ? clist_begin(al->ad_list) : NULL; it != NULL;
	    it = clist_next(it)) {
		ad = clist_content(it);
		if (ad->ad_type == MAILIMF_ADDRESS_MAILBOX)
			addr_push(c, v, n, ad->ad_data.ad_mailbox, value);
		else if (ad->ad_type == MAILIMF_ADDRESS_GROUP &&
		    ad->ad_data.ad_group != NULL)
			mblist_push(c, v, n, ad->ad_data.ad_group->grp_mb_list,
			    value);
	}
	if (al != NULL)
		mailimf_address_list_free(al);
	while (*n < MAX_ADDRS && addr_scan(c, value, &idx, &a)) {
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		(*v)[(*n)++] = a;
	}
	if (*n == before && *n < MAX_ADDRS && addr_bracket(c, value, &a)) {
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		(*v)[(*n)++] = a;
	}
}

/* The first mailbox of a From or Sender value into *a. */
static void
addr_first(struct ctx *c, const char *value, struct msg_addr *a)
{
	struct msg_addr *v = NULL;
	size_t n = 0, i;

	if (value != NULL)
		addrs_add(c, value, &v, &n);
	if (n > 0) {
		*a = v[0];
	} else {
		a->addr = xstrdup("");
		a->name = xstrdup("");
	}
	for (i = 1; i < n; i++) {
		free(v[i].addr);
		free(v[i].name);
	}
	free(v);
}

/* ---- other header fields ------------------------------------------- */

/* "<id>" from a Message-ID value: the first <...>, or the bare token. */
static char *
msgid_of(const char *v)
{
	const char *lt, *gt;
	struct buf b;
	size_t i;

	if (v == NULL)
		return xstrdup("");
	buf_init(&b);
	lt = strchr(v, '<');
	gt = lt != NULL ? strchr(lt, '>') : NULL;
	if (lt != NULL && gt != NULL) {
		for (i = 0; lt + i <= gt; i++)
			if (!is_space(lt[i]))
				buf_addc(&b, lt[i]);
	} else {
		while (is_space(*v))
			v++;
		for (i = 0; v[i] != '\0' && !is_space(v[i]); i++)
			;
		if (i > 0)
			buf_addf(&b, "<%.*s>", (int)i, v);
	}
	return buf_detach(&b);
}

/* Return-Path: the address in <>, "" for <> (RFC 5321 §4.4). */
static char *
return_path_of(const char *v)
{
	const char *lt, *gt;
	char *s;

	lt = strchr(v, '<');
	gt = lt != NULL ? strchr(lt, '>') : NULL;
	if (lt != NULL && gt != NULL)
		s = xstrndup(lt + 1, (size_t)(gt - lt - 1));
	else
		s = xstrdup(v);
	return squeeze(s);
}

/* RFC 5322 §3.3 date-time, via libetpan; 0 when it makes no sense. */
static time_t
date_of(const char *v)
{
	struct mailimf_date_time *dt = NULL;
	struct tm tm;
	size_t idx = 0;
	time_t t = 0;
	int year, zone;

	if (v == NULL ||
	    mailimf_date_time_parse(v, strlen(v), &idx, &dt) !=
	    MAILIMF_NO_ERROR)
		return 0;
	year = dt->dt_year;
	/* RFC 5322 §4.3 obs-year */
	if (year >= 0 && year < 50)
		year += 2000;
	else if (year >= 50 && year < 1000)
		year += 1900;
	if (year < 1970 || year > 9999 || dt->dt_month < 1 ||
	    dt->dt_month > 12 || dt->dt_day < 1 || dt->dt_day > 31 ||
	    dt->dt_hour < 0 || dt->dt_hour > 23 || dt->dt_min < 0 ||
	    dt->dt_min > 59 || dt->dt_sec < 0 || dt->dt_sec > 60 ||
	    dt->dt_zone < -9959 || dt->dt_zone > 9959)
		goto out;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = dt->dt_month - 1;
	tm.tm_mday = dt->dt_day;
	tm.tm_hour = dt->dt_hour;
	tm.tm_min = dt->dt_min;
	tm.tm_sec = dt->dt_sec;
	zone = dt->dt_zone / 100 * 60 + dt->dt_zone % 100;
	t = timegm(&tm);
	if (t == (time_t)-1 || t - (time_t)zone * 60 <= 0)
		t = 0;
	else
		t -= (time_t)zone * 60;
out:
	mailimf_date_time_free(dt);
	return t;
}

static char *
hdr_dup(const struct message *m, const char *name)
{
	const char *v = message_header(m, name);

	return squeeze(xstrdup(v != NULL ? v : ""));
}

static void
fill_headers(struct ctx *c)
{
	struct message *m = c->m;
	const struct msg_header *h;
	const char *v;

	m->message_id = msgid_of(message_header(m, "Message-ID"));
	addr_first(c, message_header(m, "From"), &m->from);
	addr_first(c, message_header(m, "Sender"), &m->sender);
	for (h = message_header_next(m, "Reply-To", NULL); h != NULL;
	    h = message_header_next(m, "Reply-To", h))
		addrs_add(c, h->value, &m->reply_to, &m->nreply_to);
	for (h = message_header_next(m, "To", NULL); h != NULL;
	    h = message_header_next(m, "To", h))
		addrs_add(c, h->value, &m->rcpts, &m->nrcpts);
	for (h = message_header_next(m, "Cc", NULL); h != NULL;
	    h = message_header_next(m, "Cc", h))
		addrs_add(c, h->value, &m->rcpts, &m->nrcpts);
	v = message_header(m, "Return-Path");
	m->return_path = v != NULL ? return_path_of(v) : NULL;
	v = message_header(m, "Subject");
	m->subject = decode_phrase(c, v != NULL ? v : "");
	m->date = date_of(message_header(m, "Date"));
	m->in_reply_to = hdr_dup(m, "In-Reply-To");
	m->references = hdr_dup(m, "References");
}

/* ---- format=flowed (RFC 3676) -------------------------------------- */

/*
 * RFC 3676 §4: a line ending in a space continues in the next one of the
 * same quote depth; "-- " is the signature separator and never flows;
 * a leading space after the quote marks is stuffing (§4.4) and goes; with
 * DelSp=yes the trailing space goes too (§4.2). s has LF line ends.
 */
static void
unflow(struct buf *out, const char *s, size_t n, int delsp)
{
	const char *line, *e, *p;
	size_t len, depth, k;
	int open = 0, flowed;
	size_t open_depth = 0;

	for (line = s; line < s + n; line = e + 1) {
		e = memchr(line, '\n', (size_t)(s + n - line));
		if (e == NULL)
			e = s + n;
		for (depth = 0; line + depth < e && line[depth] == '>';)
			depth++;
		p = line + depth;
		len = (size_t)(e - p);
		if (len > 0 && p[0] == ' ') {
			p++;
			len--;
		}
		flowed = len > 0 && p[len - 1] == ' ' &&
		    !(len == 3 && memcmp(p, "-- ", 3) == 0);
		if (open && depth != open_depth) {
			buf_addc(out, '\n');	/* RFC 3676 4.5 */
			open = 0;
		}
		if (!open && depth > 0) {
			for (k = 0; k < depth; k++)
				buf_addc(out, '>');
			if (len > 0)
				buf_addc(out, ' ');
		}
		if (flowed && delsp)
			len--;
		buf_add(out, p, len);
		open = flowed;
		open_depth = depth;
		if (!flowed && e < s + n)
			buf_addc(out, '\n');
	}
	if (open)
		buf_addc(out, '\n');
}

/* ---- HTML to text -------------------------------------------------- */

struct html {
	struct buf	*out;
	int		 nl;	/* pending line breaks, at most 2 */
	int		 sp;	/* pending space */
	int		 quote;	/* blockquote depth */
	int		 pre;
};

/* HTML 4 Latin-1 entities: U+00A0 + index (HTML 4.01 §24.2). */
static const char *const ent_latin1[96] = {
	"nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect",
	"uml", "copy", "ordf", "laquo", "not", "shy", "reg", "macr",
	"deg", "plusmn", "sup2", "sup3", "acute", "micro", "para", "middot",
	"cedil", "sup1", "ordm", "raquo", "frac14", "frac12", "frac34",
	"iquest", "Agrave", "Aacute", "Acirc", "Atilde", "Auml", "Aring",
	"AElig", "Ccedil", "Egrave", "Eacute", "Ecirc", "Euml", "Igrave",
	"Iacute", "Icirc", "Iuml", "ETH", "Ntilde", "Ograve", "Oacute",
	"Ocirc", "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute",
	"Ucirc", "Uuml", "Yacute", "THORN", "szlig", "agrave", "aacute",
	"acirc", "atilde", "auml", "aring", "aelig", "ccedil", "egrave",
	"eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml",
	"eth", "ntilde", "ograve", "oacute", "ocirc", "otilde", "ouml",
	"divide", "oslash", "ugrave", "uacute", "ucirc", "uuml", "yacute",
	"thorn", "yuml",
};

static const struct {
	const char	*name;
	uint32_t	 cp;
} ent_other[] = {
	{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' },
	{ "apos", '\'' }, { "euro", 0x20ac }, { "ndash", 0x2013 },
	{ "mdash", 0x2014 }, { "lsquo", 0x2018 }, { "rsquo", 0x2019 },
	{ "sbquo", 0x201a }, { "ldquo", 0x201c }, { "rdquo", 0x201d },
	{ "bdquo", 0x201e }, { "hellip", 0x2026 }, { "bull", 0x2022 },
	{ "trade", 0x2122 }, { "dagger", 0x2020 }, { "Dagger", 0x2021 },
	{ "permil", 0x2030 }, { "lsaquo", 0x2039 }, { "rsaquo", 0x203a },
	{ "OElig", 0x152 }, { "oelig", 0x153 }, { "Scaron", 0x160 },
	{ "scaron", 0x161 }, { "Yuml", 0x178 }, { "fnof", 0x192 },
	{ "circ", 0x2c6 }, { "tilde", 0x2dc }, { "ensp", 0x2002 },
	{ "emsp", 0x2003 }, { "thinsp", 0x2009 }, { "zwnj", 0x200c },
	{ "zwj", 0x200d }, { "lrm", 0x200e }, { "rlm", 0x200f },
	{ "larr", 0x2190 }, { "uarr", 0x2191 }, { "rarr", 0x2192 },
	{ "darr", 0x2193 }, { "harr", 0x2194 }, { "minus", 0x2212 },
	{ "hearts", 0x2665 }, { "check", 0x2713 },
};

/*
 * An entity at s ("&...;"); returns its length and sets *cp, or 0 when
 * it is not one (then "&" is literal text, as in "AT&T").
 */
static size_t
html_entity(const char *s, size_t n, uint32_t *cp)
{
	char name[16];
	size_t i = 1, k;
	uint32_t v = 0;
	int hex = 0, d;

	if (n > 2 && s[1] == '#') {
		i = 2;
		if (i < n && (s[i] == 'x' || s[i] == 'X')) {
			hex = 1;
			i++;
		}
		for (k = i; i < n && i - k < 8; i++) {
			d = hex ? hexval(s[i]) :
			    (s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1);
			if (d < 0)
				break;
			v = v * (hex ? 16 : 10) + (uint32_t)d;
		}
		if (i == k)
			return 0;
		if (i < n && s[i] == ';')
			i++;
		/* HTML5 §13.2.5.80: C1 codes mean windows-1252 */
		*cp = v >= 0x80 && v < 0xa0 ? cp1252((unsigned char)v) : v;
		if (v < 0x20 && v != '\t' && v != '\n')
			*cp = ' ';
		return i;
	}
	for (; i < n && i < sizeof(name) && ((s[i] >= 'a' && s[i] <= 'z') ||
	    (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'));
	    i++)
		name[i - 1] = s[i];
	if (i == 1 || i >= n || s[i] != ';' || i - 1 >= sizeof(name))
		return 0;
	name[i - 1] = '\0';
	for (k = 0; k < NELEM(ent_latin1); k++)
		if (strcmp(name, ent_latin1[k]) == 0) {
			*cp = 0xa0 + (uint32_t)k;
			return i + 1;
		}
	for (k = 0; k < NELEM(ent_other); k++)
		if (strcmp(name, ent_other[k].name) == 0) {
			*cp = ent_other[k].cp;
			return i + 1;
		}
	return 0;
}

static void
html_break(struct html *h, int n)
{
	if (n > h->nl)
		h->nl = n > 2 ? 2 : n;
	h->sp = 0;
}

/* Writes pending breaks and space, then the quote marks of a new line. */
static void
html_flush(struct html *h)
{
	int i;

	if (h->out->len == 0) {
		h->nl = 0;
		h->sp = 0;
	}
	if (h->nl > 0) {
		for (i = 0; i < h->nl; i++)
			buf_addc(h->out, '\n');
		h->nl = 0;
		h->sp = 0;
	}
	if (h->out->len == 0 || h->out->s[h->out->len - 1] == '\n') {
		for (i = 0; i < h->quote && i < MAX_DEPTH; i++)
			buf_adds(h->out, "> ");
		h->sp = 0;
	}
	if (h->sp) {
		buf_addc(h->out, ' ');
		h->sp = 0;
	}
}

static void
html_char(struct html *h, const char *s, size_t n)
{
	html_flush(h);
	buf_add(h->out, s, n);
}

/* Case-insensitive search for needle in s[0..n); offset or n. */
static size_t
find_ci(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle), i;

	for (i = 0; i + k <= n; i++)
		if (strncasecmp(s + i, needle, k) == 0)
			return i;
	return n;
}

/*
 * End of the tag starting at s[0] == '<': just past its '>'. Quotes are
 * honoured for a while only, so that a stray quote costs no more than
 * that (and many of them cannot make this quadratic).
 */
static size_t
tag_end(const char *s, size_t n)
{
	size_t i;
	char q = 0;

	for (i = 1; i < n && i < 4096; i++) {
		if (q != 0) {
			if (s[i] == q)
				q = 0;
		} else if (s[i] == '"' || s[i] == '\'') {
			if (s[i - 1] == '=' || is_space(s[i - 1]))
				q = s[i];
		} else if (s[i] == '>') {
			return i + 1;
		}
	}
	/* an unbalanced quote: fall back to the first '>' */
	for (i = 1; i < n; i++)
		if (s[i] == '>')
			return i + 1;
	return n;
}

static int
name_in(const char *name, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcasecmp(name, *list) == 0)
			return 1;
	return 0;
}

static const char *const html_blocks[] = {
	"p", "div", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table", "h1",
	"h2", "h3", "h4", "h5", "h6", "hr", "center", "section", "article",
	"header", "footer", "address", "form", "fieldset", "nav", "aside",
	"main", "figure", "figcaption", "caption", "tbody", "thead", "tfoot",
	NULL,
};

/* Elements whose content is not text (RFC 2854 mail: mostly style). */
static const char *const html_skip[] = {
	"script", "style", "head", "title", "template", "xml", NULL,
};

/* Handles the tag at s; returns how much of s it consumed. */
static size_t
html_tag(struct html *h, const char *s, size_t n)
{
	char name[16], close[20];
	size_t i = 1, k = 0, end, skip;
	int closing = 0;

	if (n >= 4 && memcmp(s, "<!--", 4) == 0) {
		k = find_ci(s + 4, n - 4, "-->");
		return k == n - 4 ? n : k + 7;
	}
	if (n >= 2 && (s[1] == '!' || s[1] == '?'))
		return tag_end(s, n);
	if (i < n && s[i] == '/') {
		closing = 1;
		i++;
	}
	while (i < n && k + 1 < sizeof(name) && ((s[i] >= 'a' &&
	    s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
	    (k > 0 && ((s[i] >= '0' && s[i] <= '9') || s[i] == ':'))))
		name[k++] = s[i++];
	name[k] = '\0';
	if (k == 0) {
		html_char(h, "<", 1);	/* "a < b" is text */
		return 1;
	}
	end = tag_end(s, n);
	if (!closing && name_in(name, html_skip)) {
		snprintf(close, sizeof(close), "</%s", name);
		skip = find_ci(s + end, n - end, close);
		/* a <head> never closed: keep the rest rather than drop it */
		if (skip == n - end && strcasecmp(name, "head") == 0)
			return end;
		return skip == n - end ? n : end + skip;
	}
	if (strcasecmp(name, "br") == 0) {
		html_break(h, h->nl + 1);
	} else if (strcasecmp(name, "blockquote") == 0) {
		html_break(h, 1);
		h->quote += closing ? (h->quote > 0 ? -1 : 0) : 1;
	} else if (strcasecmp(name, "pre") == 0) {
		html_break(h, 1);
		h->pre += closing ? (h->pre > 0 ? -1 : 0) : 1;
	} else if (name_in(name, html_blocks)) {
		html_break(h, 1);
	} else if (strcasecmp(name, "td") == 0 ||
	    strcasecmp(name, "th") == 0) {
		h->sp = 1;
	}
	return end;
}

/*
 * Text of an HTML part: tags gone, <script>/<style>/<head> dropped,
 * block elements and <br> as line breaks, <blockquote> as "> " quoting
 * (so quoted replies look like quoted plain text), entities decoded,
 * white space collapsed as a browser would.
 */
static void
html_to_text(struct buf *out, const char *s, size_t n)
{
	struct html h = { out, 0, 0, 0, 0 };
	uint32_t cp;
	size_t i = 0, k;

	while (i < n) {
		if (s[i] == '<') {
			i += html_tag(&h, s + i, n - i);
		} else if (s[i] == '&' && html_entity(s + i, n - i, &cp) > 0) {
			k = html_entity(s + i, n - i, &cp);
			if (cp == 0xa0)
				cp = ' ';	/* a hard space, kept */
			html_flush(&h);
			utf8_put(out, cp);
			i += k;
		} else if (is_space(s[i]) && !h.pre) {
			h.sp = 1;
			i++;
		} else if (s[i] == '\n' && h.pre) {
			html_break(&h, h.nl + 1);
			i++;
		} else if (s[i] == '\r') {
			i++;
		} else {
			html_char(&h, s + i, 1);
			i++;
		}
	}
}

/*
 * Tidies text made from HTML: no trailing spaces on a line, at most one
 * empty line in a row, none at the start or the end.
 */
static char *
tidy_lines(char *s)
{
	char *r = s, *w = s, *line;
	int blank = 0;

	while (*r != '\0') {
		line = w;
		while (*r != '\0' && *r != '\n')
			*w++ = *r++;
		while (w > line && (w[-1] == ' ' || w[-1] == '\t'))
			w--;
		if (w == line) {
			if (*r == '\n')
				r++;
			blank++;
			continue;
		}
		if (line != s) {
			memmove(line + (blank > 0 ? 2 : 1), line,
			    (size_t)(w - line));
			w += blank > 0 ? 2 : 1;
			*line = '\n';
			if (blank > 0)
				line[1] = '\n';
		}
		blank = 0;
		if (*r == '\n')
			r++;
	}
	*w = '\0';
	return s;
}

/* ---- MIME parts ---------------------------------------------------- */

static void
ctype_of(const struct mailmime_content *ct, char *dst, size_t dstsz)
{
	const char *type = "application";

	if (ct == NULL || ct->ct_type == NULL) {
		str_copy(dst, "text/plain", dstsz);
		return;
	}
	if (ct->ct_type->tp_type == MAILMIME_TYPE_DISCRETE_TYPE &&
	    ct->ct_type->tp_data.tp_discrete_type != NULL) {
		switch (ct->ct_type->tp_data.tp_discrete_type->dt_type) {
		case MAILMIME_DISCRETE_TYPE_TEXT:
			type = "text";
			break;
		case MAILMIME_DISCRETE_TYPE_IMAGE:
			type = "image";
			break;
		case MAILMIME_DISCRETE_TYPE_AUDIO:
			type = "audio";
			break;
		case MAILMIME_DISCRETE_TYPE_VIDEO:
			type = "video";
			break;
		case MAILMIME_DISCRETE_TYPE_EXTENSION:
			if (ct->ct_type->tp_data.tp_discrete_type->dt_extension)
				type = ct->ct_type->tp_data.tp_discrete_type->
				    dt_extension;
			break;
		}
	} else if (ct->ct_type->tp_type == MAILMIME_TYPE_COMPOSITE_TYPE &&
	    ct->ct_type->tp_data.tp_composite_type != NULL) {
		switch (ct->ct_type->tp_data.tp_composite_type->ct_type) {
		case MAILMIME_COMPOSITE_TYPE_MESSAGE:
			type = "message";
			break;
		case MAILMIME_COMPOSITE_TYPE_MULTIPART:
			type = "multipart";
			break;
		case MAILMIME_COMPOSITE_TYPE_EXTENSION:
			if (ct->ct_type->tp_data.tp_composite_type->ct_token)
				type = ct->ct_type->tp_data.tp_composite_type->
				    ct_token;
			break;
		}
	}
	snprintf(dst, dstsz, "%s/%s", type,
	    ct->ct_subtype != NULL ? ct->ct_subtype : "");
	str_lower(dst);
}

static int
part_is(const struct mailmime *p, const char *type)
{
	char name[128];

	ctype_of(p->mm_content_type, name, sizeof(name));
	return strcmp(name, type) == 0;
}

static const char *
part_param(const struct mailmime *p, const char *name)
{
	if (p->mm_content_type == NULL)
		return NULL;
	return mailmime_content_param_get(p->mm_content_type, (char *)name);
}

/* A parameter name "name", or its RFC 2231 forms "name*", "name*0*". */
static int
param_named(const char *pname, const char *name)
{
	size_t k = strlen(name);

	return pname != NULL && strncasecmp(pname, name, k) == 0 &&
	    (pname[k] == '\0' || pname[k] == '*');
}

/* The Content-Disposition of p, or NULL; *has_id when it has an ID. */
static const struct mailmime_disposition *
part_disposition(const struct mailmime *p, int *has_id)
{
	const struct mailmime_disposition *d = NULL;
	const struct mailmime_field *f;
	clistiter *it;

	*has_id = 0;
	if (p->mm_mime_fields == NULL)
		return NULL;
	for (it = clist_begin(p->mm_mime_fields->fld_list); it != NULL;
	    it = clist_next(it)) {
		f = clist_content(it);
		if (f->fld_type == MAILMIME_FIELD_ID)
			*has_id = 1;
		if (f->fld_type == MAILMIME_FIELD_DISPOSITION && d == NULL)
			d = f->fld_data.fld_disposition;
	}
	return d;
}

/* Content-Disposition: attachment (RFC 2183 §2.2). */
static int
said_attachment(const struct mailmime *p)
{
	const struct mailmime_disposition *d;
	int has_id;

	d = part_disposition(p, &has_id);
	return d != NULL && d->dsp_type != NULL &&
	    d->dsp_type->dsp_type == MAILMIME_DISPOSITION_TYPE_ATTACHMENT;
}

/*
 * An attachment: Content-Disposition: attachment, or a file name in the
 * disposition or (older mailers) in Content-Type's name. In multipart/
 * related, a part with a Content-ID is an inline image of the HTML, not
 * something the sender attached, unless it says attachment.
 */
static int
is_attachment(const struct mailmime *p, int in_related)
{
	const struct mailmime_disposition *d;
	const struct mailmime_disposition_parm *dp;
	const struct mailmime_parameter *pp;
	clistiter *it;
	int named = 0, has_id;

	if (said_attachment(p))
		return 1;
	d = part_disposition(p, &has_id);
	for (it = d != NULL ? clist_begin(d->dsp_parms) : NULL; it != NULL;
	    it = clist_next(it)) {
		dp = clist_content(it);
		if (dp->pa_type == MAILMIME_DISPOSITION_PARM_FILENAME ||
		    (dp->pa_type == MAILMIME_DISPOSITION_PARM_PARAMETER &&
		    param_named(dp->pa_data.pa_parameter->pa_name,
		    "filename")))
			named = 1;
	}
	for (it = p->mm_content_type != NULL ?
	    clist_begin(p->mm_content_type->ct_parameters) : NULL;
	    it != NULL; it = clist_next(it)) {
		pp = clist_content(it);
		if (param_named(pp->pa_name, "name"))
			named = 1;
	}
	return named && !(in_related && has_id);
}

/* The body of p with its transfer encoding undone, into out. */
static int
part_decode(struct ctx *c, const struct mailmime *p, struct buf *out)
{
	const struct mailmime_data *d;
	char *dec = NULL;
	size_t idx = 0, declen = 0;
	int enc, r;

	d = p->mm_type == MAILMIME_SINGLE ? p->mm_data.mm_single : p->mm_body;
	if (d == NULL || d->dt_type != MAILMIME_DATA_TEXT ||
	    d->dt_data.dt_text.dt_data == NULL)
		return 0;
	enc = d->dt_encoding;
	/* "Content-Transfer-Encoding: 7-bit" and other inventions: as is */
	if (!d->dt_encoded || (enc != MAILMIME_MECHANISM_QUOTED_PRINTABLE &&
	    enc != MAILMIME_MECHANISM_BASE64))
		enc = MAILMIME_MECHANISM_8BIT;
	r = mailmime_part_parse(d->dt_data.dt_text.dt_data,
	    d->dt_data.dt_text.dt_length, &idx, enc, &dec, &declen);
	if (r == MAILIMF_ERROR_MEMORY) {
		c->nomem = 1;
		return -1;
	}
	if (r != MAILIMF_NO_ERROR)
		return 0;
	buf_add(out, dec, declen);
	mailmime_decoded_part_free(dec);
	return 0;
}

/* <meta charset=...> of an HTML part that did not say in its header. */
static void
html_charset(const char *s, size_t n, char out[CHARSET_MAX])
{
	size_t i, k;

	out[0] = '\0';
	if (n > 4096)
		n = 4096;
	i = find_ci(s, n, "charset=");
	if (i == n)
		return;
	i += 8;
	while (i < n && (s[i] == '"' || s[i] == '\''))
		i++;
	for (k = 0; i < n && k + 1 < CHARSET_MAX && (s[i] == '-' ||
	    s[i] == '_' || s[i] == ':' || s[i] == '.' ||
	    (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
	    (s[i] >= 'A' && s[i] <= 'Z')); i++)
		out[k++] = s[i];
	out[k] = '\0';
}

/* The decoded content of a part as UTF-8 with LF line ends. */
static char *
part_text(struct ctx *c, const struct mailmime *p, const char *defcs)
{
	struct buf raw, u, lf;
	char meta[CHARSET_MAX];
	const char *cs;

	buf_init(&raw);
	buf_init(&u);
	buf_init(&lf);
	part_decode(c, p, &raw);
	cs = part_param(p, "charset");
	if (cs == NULL && part_is(p, "text/html")) {
		html_charset(raw.s, raw.len, meta);
		cs = meta;
	}
	if (to_utf8(&u, cs != NULL ? cs : defcs, raw.s, raw.len) < 0)
		c->nomem = 1;
	add_lf(&lf, u.s, u.len);
	buf_free(&raw);
	buf_free(&u);
	return buf_detach(&lf);
}

/* The header block at the start of s: up to the first empty line. */
static char *
header_block(char *s)
{
	char *e = strstr(s, "\n\n");

	if (e != NULL)
		e[1] = '\0';
	return s;
}

/*
 * Picks the part with the human text under p: in multipart/alternative
 * the text/plain, else its HTML; in other multiparts the first child that
 * has text; never inside an attached message/rfc822 nor a part that says
 * "attachment". A text part that is inline with a file name (XEmacs VM,
 * Apple Mail) does count: mail clients show it as the text.
 */
static struct mailmime *
pick_text(struct ctx *c, struct mailmime *p, int depth, int *html)
{
	struct mailmime *r, *best = NULL;
	clistiter *it;
	int alt, h;

	if (depth > MAX_DEPTH || ++c->nparts > MAX_PARTS)
		return NULL;
	switch (p->mm_type) {
	case MAILMIME_SINGLE:
		if (said_attachment(p))
			return NULL;
		if (part_is(p, "text/plain")) {
			*html = 0;
			return p;
		}
		if (part_is(p, "text/html")) {
			*html = 1;
			return p;
		}
		return NULL;
	case MAILMIME_MULTIPLE:
		alt = part_is(p, "multipart/alternative");
		for (it = clist_begin(p->mm_data.mm_multipart.mm_mp_list);
		    it != NULL; it = clist_next(it)) {
			h = 0;
			r = pick_text(c, clist_content(it), depth + 1, &h);
			if (r == NULL)
				continue;
			if (!alt || !h) {
				*html = h;
				return r;
			}
			if (best == NULL)
				best = r;
		}
		*html = 1;
		return best;
	case MAILMIME_MESSAGE:
		if (p == c->root && p->mm_data.mm_message.mm_msg_mime != NULL)
			return pick_text(c, p->mm_data.mm_message.mm_msg_mime,
			    depth + 1, html);
		return NULL;
	}
	return NULL;
}

static void
set_text(struct ctx *c)
{
	struct message *m = c->m;
	struct mailmime *p;
	struct buf b;
	const char *fmt, *delsp;
	char *t;
	int html = 0;

	c->nparts = 0;
	p = pick_text(c, c->root, 0, &html);
	if (p == NULL) {
		m->text = xstrdup("");
		return;
	}
	t = part_text(c, p, "us-ascii");
	buf_init(&b);
	fmt = part_param(p, "format");
	delsp = part_param(p, "delsp");
	if (html) {
		html_to_text(&b, t, strlen(t));
		m->text = tidy_lines(buf_detach(&b));
		m->text_from_html = 1;
	} else if (fmt != NULL && strcasecmp(fmt, "flowed") == 0) {
		unflow(&b, t, strlen(t), delsp != NULL &&
		    strcasecmp(delsp, "yes") == 0);
		m->text = buf_detach(&b);
	} else {
		buf_free(&b);
		m->text = t;
		t = NULL;
	}
	free(t);
}

static void visit_report(struct ctx *, struct mailmime *, int);

/* 1 when s (may be NULL) ends in ".ics", in any case. */
static int
ics_name(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n >= 4 && strcasecmp(s + n - 4, ".ics") == 0;
}

/*
 * A calendar attached under a name ending in .ics, whatever its type
 * (Apple and webmails send application/octet-stream).
 */
static int
ics_file(const struct mailmime *p)
{
	const struct mailmime_disposition *d;
	const struct mailmime_disposition_parm *dp;
	clistiter *it;
	int has_id;

	if (ics_name(part_param(p, "name")))
		return 1;
	d = part_disposition(p, &has_id);
	for (it = d != NULL ? clist_begin(d->dsp_parms) : NULL; it != NULL;
	    it = clist_next(it)) {
		dp = clist_content(it);
		if (dp->pa_type == MAILMIME_DISPOSITION_PARM_FILENAME &&
		    ics_name(dp->pa_data.pa_filename))
			return 1;
	}
	return 0;
}

/*
 * RFC 5545 §3.7.2: the METHOD line of an iCalendar text, when the part's
 * Content-Type has no method= (attachments): "" when there is none.
 */
static char *
method_in(const char *ics)
{
	const char *p = ics;
	size_t n;

	while (p != NULL && *p != '\0') {
		if (strncasecmp(p, "METHOD:", 7) == 0) {
			p += 7;
			n = strcspn(p, "\r\n");
			return utf8_dup(p, n);
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return xstrdup("");
}

/*
 * The calendar part: the first text/calendar, application/ics or .ics
 * file, unless a later one says its method= where the first did not (an
 * invite.ics beside the inline text/calendar of a reply).
 */
static void
visit_calendar(struct ctx *c, struct mailmime *p)
{
	struct message *m = c->m;
	const char *method = part_param(p, "method");
	char *s;

	if (!(part_is(p, "text/calendar") || part_is(p, "application/ics") ||
	    ics_file(p)))
		return;
	if (m->calendar != NULL && (method == NULL || m->calendar_method[0]))
		return;
	free(m->calendar);
	free(m->calendar_method);
	m->calendar = part_text(c, p, "utf-8");
	m->calendar_method = oneline(method != NULL ?
	    utf8_dup(method, strlen(method)) : method_in(m->calendar));
	str_trim(m->calendar_method);
	/* iCalendar names are case-insensitive (RFC 5545 §3.1) */
	for (s = m->calendar_method; *s != '\0'; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

/* The report parts: text/calendar, delivery-status, returned headers. */
static void
visit_single(struct ctx *c, struct mailmime *p, int in_report)
{
	visit_calendar(c, p);
	visit_report(c, p, in_report);
}

/* Delivery status, complaint and returned headers. */
static void
visit_report(struct ctx *c, struct mailmime *p, int in_report)
{
	struct message *m = c->m;

	if (m->dsn == NULL && (part_is(p, "message/delivery-status") ||
	    part_is(p, "message/global-delivery-status")))
		m->dsn = part_text(c, p, "utf-8");
	if (m->feedback == NULL && part_is(p, "message/feedback-report"))
		m->feedback = part_text(c, p, "utf-8");
	if (!(part_is(p, "text/rfc822-headers") ||
	    part_is(p, "message/rfc822") || part_is(p, "message/global") ||
	    part_is(p, "message/global-headers")))
		return;
	if (m->returned_headers == NULL && in_report)
		m->returned_headers = header_block(part_text(c, p, "utf-8"));
	else if (m->attached_headers == NULL && !in_report)
		m->attached_headers = header_block(part_text(c, p, "utf-8"));
}

/*
 * A report that a gateway forwarded as an attached message: its delivery
 * status, complaint and returned headers count, nothing else of it.
 */
static void
walk_report(struct ctx *c, struct mailmime *p, int depth, int in_report)
{
	clistiter *it;
	int rep;

	if (depth > MAX_DEPTH || ++c->nparts > MAX_PARTS)
		return;
	if (p->mm_type == MAILMIME_MULTIPLE) {
		rep = part_is(p, "multipart/report");
		for (it = clist_begin(p->mm_data.mm_multipart.mm_mp_list);
		    it != NULL; it = clist_next(it))
			walk_report(c, clist_content(it), depth + 1, rep);
	} else if (in_report)
		visit_report(c, p, in_report);
}

/*
 * Walks the tree (bounded depth and part count) for attachments and the
 * special parts. An attached message/rfc822 is not entered: its
 * attachments and invitations are not this message's (a report inside
 * one is read by walk_report()).
 */
static void
walk(struct ctx *c, struct mailmime *p, int depth, int in_related,
    int in_report)
{
	clistiter *it;
	int rel, rep;

	if (depth > MAX_DEPTH || ++c->nparts > MAX_PARTS)
		return;
	if (p != c->root && is_attachment(p, in_related))
		c->m->has_attachments = 1;
	switch (p->mm_type) {
	case MAILMIME_SINGLE:
		visit_single(c, p, in_report);
		break;
	case MAILMIME_MULTIPLE:
		rel = part_is(p, "multipart/related");
		rep = part_is(p, "multipart/report");
		for (it = clist_begin(p->mm_data.mm_multipart.mm_mp_list);
		    it != NULL; it = clist_next(it))
			walk(c, clist_content(it), depth + 1, rel, rep);
		break;
	case MAILMIME_MESSAGE:
		if (p == c->root) {
			if (p->mm_data.mm_message.mm_msg_mime != NULL)
				walk(c, p->mm_data.mm_message.mm_msg_mime,
				    depth + 1, 0, 0);
		} else {
			visit_single(c, p, in_report);
			if (p->mm_data.mm_message.mm_msg_mime != NULL &&
			    part_is(p->mm_data.mm_message.mm_msg_mime,
			    "multipart/report"))
				walk_report(c,
				    p->mm_data.mm_message.mm_msg_mime,
				    depth + 1, 0);
		}
		break;
	}
}

/* ---- the pre-check ------------------------------------------------- */

struct mp_level {
	char	*boundary;
	int	 opened;	/* a "--boundary" line was seen */
};

/*
 * A delimiter line "--b" or "--b--" closes every multipart opened inside
 * b's current part. libetpan matches the boundary as a prefix of the line
 * and the outer multipart sees its delimiters first, so the outermost
 * level that matches wins.
 */
static void
precheck_delimiter(struct mp_level *st, size_t *depth, const char *line,
    size_t len)
{
	size_t j, bl;
	int close;

	for (j = 0; j < *depth; j++) {
		bl = strlen(st[j].boundary);
		if (len >= bl + 2 && memcmp(line + 2, st[j].boundary, bl) == 0)
			break;
	}
	if (j == *depth)
		return;
	close = len >= bl + 4 && memcmp(line + 2 + bl, "--", 2) == 0;
	while (*depth > j + 1)
		free(st[--(*depth)].boundary);
	st[j].opened = 1;
	if (close)
		free(st[--(*depth)].boundary);
}

/*
 * Debian's libetpan 1.9.4 crashes on a boundary whose unquoted value
 * starts with a quote (mailmime_extract_boundary() copies len - 2 octets
 * of a 1-octet value: LIBRARIES.md §2.5) and takes quadratic time on deep
 * multipart nesting. Both are refused here, before mailmime_parse(), by
 * looking at every Content-Type field at a line start (a superset of what
 * libetpan reads as part headers) with libetpan's own field parser, which
 * is not the code that crashes, and following the nesting through the
 * delimiter lines. *open gets the boundaries of multiparts that were
 * started but never closed, innermost first.
 */
static int
precheck(const char *s, size_t n, char ***open, char err[BOTU_ERRLEN])
{
	struct mailmime_content *ct = NULL;
	struct mp_level st[MAX_NESTING];
	struct buf val;
	const char *b;
	size_t i = 0, next, eol, idx, depth = 0, total = 0;
	int rc = BOTU_OK;

	buf_init(&val);
	while (i < n && rc == BOTU_OK) {
		line_at(s, n, i, &eol, &next);
		if (eol - i > 2 && s[i] == '-' && s[i + 1] == '-') {
			precheck_delimiter(st, &depth, s + i, eol - i);
			i = next;
			continue;
		}
		if (header_name_len(s + i, eol - i) != 12 ||
		    strncasecmp(s + i, "Content-Type", 12) != 0) {
			i = next;
			continue;
		}
		buf_truncate(&val, 0);
		b = (const char *)memchr(s + i, ':', eol - i) + 1;
		buf_add(&val, b, (size_t)(s + eol - b));
		for (i = next; i < n && is_wsp(s[i]); i = next) {
			line_at(s, n, i, &eol, &next);
			buf_add(&val, s + i, eol - i);
		}
		idx = 0;
		ct = NULL;
		if (mailmime_content_parse(val.s, val.len, &idx, &ct) !=
		    MAILIMF_NO_ERROR)
			continue;
		b = mailmime_content_param_get(ct, "boundary");
		if (b != NULL && (b[0] == '\0' || b[0] == '"' ||
		    strcmp(b, "\\") == 0)) {
			snprintf(err, BOTU_ERRLEN, "refused before parsing: "
			    "boundary parameter '%.20s' would crash libetpan's "
			    "MIME parser", b);
			rc = BOTU_EPOISON;
		} else if (b != NULL && ct->ct_type != NULL &&
		    ct->ct_type->tp_type == MAILMIME_TYPE_COMPOSITE_TYPE &&
		    ct->ct_type->tp_data.tp_composite_type->ct_type ==
		    MAILMIME_COMPOSITE_TYPE_MULTIPART) {
			if (depth >= MAX_NESTING || ++total > MAX_MULTIPARTS) {
				snprintf(err, BOTU_ERRLEN, "refused before "
				    "parsing: multipart nesting deeper than %d "
				    "levels or more than %d multiparts",
				    MAX_NESTING, MAX_MULTIPARTS);
				rc = BOTU_EPOISON;
			} else {
				st[depth].boundary = xstrdup(b);
				st[depth++].opened = 0;
			}
		}
		mailmime_content_free(ct);
	}
	while (depth > 0) {
		depth--;
		if (st[depth].opened && rc == BOTU_OK)
			*open = strv_add(*open, st[depth].boundary);
		free(st[depth].boundary);
	}
	buf_free(&val);
	return rc;
}

/* ---- parse --------------------------------------------------------- */

static void
addr_clear(struct msg_addr *a)
{
	free(a->addr);
	free(a->name);
}

void
message_clear(struct message *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nheaders; i++) {
		free(m->headers[i].name);
		free(m->headers[i].value);
	}
	free(m->headers);
	free(m->message_id);
	addr_clear(&m->from);
	addr_clear(&m->sender);
	for (i = 0; i < m->nreply_to; i++)
		addr_clear(&m->reply_to[i]);
	free(m->reply_to);
	for (i = 0; i < m->nrcpts; i++)
		addr_clear(&m->rcpts[i]);
	free(m->rcpts);
	free(m->return_path);
	free(m->subject);
	free(m->in_reply_to);
	free(m->references);
	free(m->text);
	free(m->content_type);
	free(m->calendar);
	free(m->calendar_method);
	free(m->dsn);
	free(m->returned_headers);
	free(m->attached_headers);
	free(m->feedback);
	memset(m, 0, sizeof(*m));
}

/* When libetpan gives up: the body as text, in the top-level charset. */
static void
fallback_text(struct ctx *c, const char *body, size_t n)
{
	struct buf u, lf;

	buf_init(&u);
	buf_init(&lf);
	if (to_utf8(&u, NULL, body, n) < 0)
		c->nomem = 1;
	add_lf(&lf, u.s, u.len);
	c->m->text = buf_detach(&lf);
	c->m->content_type = xstrdup("text/plain");
	buf_free(&u);
}

/*
 * A message cut short (a size limit on the way, a truncated copy) leaves
 * multiparts without their close delimiter, and libetpan 1.9.4 then drops
 * every part of a nested one. When the message is a multipart, the
 * missing close delimiters are added at the end, innermost first; one
 * that was not needed lands in an epilogue, where nobody looks.
 */
static void
close_multiparts(const struct message *m, struct buf *norm, char **open)
{
	const char *ct = message_header(m, "Content-Type");
	size_t i;

	if (open == NULL || ct == NULL || strncasecmp(ct, "multipart/", 10))
		return;
	for (i = 0; open[i] != NULL; i++)
		buf_addf(norm, "%s--%s--\r\n", norm->len > 0 &&
		    norm->s[norm->len - 1] == '\n' ? "" : "\r\n", open[i]);
}

int
message_parse(const char *raw, size_t len, struct message *out,
    char err[BOTU_ERRLEN])
{
	struct mailmime *mime = NULL;
	struct ctx c = { out, NULL, 0, 0 };
	struct buf norm;
	size_t start, body, idx = 0;
	char ct[128], **open = NULL;
	int rc = BOTU_OK, r;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	buf_init(&norm);
	normalise(raw, len, &norm, &start);
	out->size = len;
	body = parse_headers(out, &norm, start);
	if (out->nheaders == 0) {
		snprintf(err, BOTU_ERRLEN, "not a mail: no header block");
		rc = BOTU_EDATA;
		goto out;
	}
	rc = precheck(norm.s + start, norm.len - start, &open, err);
	if (rc != BOTU_OK)
		goto out;
	close_multiparts(out, &norm, open);
	fill_headers(&c);
	r = mailmime_parse(norm.s + start, norm.len - start, &idx, &mime);
	if (r == MAILIMF_ERROR_MEMORY) {
		c.nomem = 1;
	} else if (r != MAILIMF_NO_ERROR || mime == NULL) {
		fallback_text(&c, norm.s + body, norm.len - body);
	} else {
		c.root = mime;
		if (mime->mm_type == MAILMIME_MESSAGE &&
		    mime->mm_data.mm_message.mm_msg_mime != NULL)
			ctype_of(mime->mm_data.mm_message.mm_msg_mime->
			    mm_content_type, ct, sizeof(ct));
		else
			str_copy(ct, "text/plain", sizeof(ct));
		out->content_type = oneline(utf8_dup(ct, strlen(ct)));
		walk(&c, mime, 0, 0, 0);
		set_text(&c);
	}
	if (c.nomem) {
		snprintf(err, BOTU_ERRLEN, "out of memory while parsing");
		rc = BOTU_ETEMP;
		goto out;
	}
	if (out->content_type == NULL)
		out->content_type = xstrdup("text/plain");
	if (out->text == NULL)
		out->text = xstrdup("");
	if (out->calendar_method == NULL)
		out->calendar_method = xstrdup("");
out:
	if (mime != NULL)
		mailmime_free(mime);
	strv_free(open);
	buf_free(&norm);
	if (rc != BOTU_OK)
		message_clear(out);
	return rc;
}

/* ---- pack / unpack ------------------------------------------------- */

static void
put_u32(struct buf *b, uint32_t v)
{
	unsigned char s[4];

	s[0] = (unsigned char)(v >> 24);
	s[1] = (unsigned char)(v >> 16);
	s[2] = (unsigned char)(v >> 8);
	s[3] = (unsigned char)v;
	buf_add(b, s, 4);
}

static void
put_u64(struct buf *b, uint64_t v)
{
	put_u32(b, (uint32_t)(v >> 32));
	put_u32(b, (uint32_t)v);
}

/* A string: its length, then its octets; NULL as length PACK_NULL. */
static void
put_str(struct buf *b, const char *s)
{
	size_t n;

	if (s == NULL) {
		put_u32(b, PACK_NULL);
		return;
	}
	n = strlen(s);
	if (n >= PACK_NULL)
		n = PACK_NULL - 1;
	put_u32(b, (uint32_t)n);
	buf_add(b, s, n);
}

static void
put_addr(struct buf *b, const struct msg_addr *a)
{
	put_str(b, a->addr != NULL ? a->addr : "");
	put_str(b, a->name != NULL ? a->name : "");
}

void
message_pack(const struct message *m, struct buf *out)
{
	size_t i;

	buf_add(out, PACK_MAGIC, 8);
	put_u32(out, (uint32_t)m->nheaders);
	for (i = 0; i < m->nheaders; i++) {
		put_str(out, m->headers[i].name);
		put_str(out, m->headers[i].value);
	}
	put_str(out, m->message_id != NULL ? m->message_id : "");
	put_addr(out, &m->from);
	put_addr(out, &m->sender);
	put_u32(out, (uint32_t)m->nreply_to);
	for (i = 0; i < m->nreply_to; i++)
		put_addr(out, &m->reply_to[i]);
	put_u32(out, (uint32_t)m->nrcpts);
	for (i = 0; i < m->nrcpts; i++)
		put_addr(out, &m->rcpts[i]);
	put_str(out, m->return_path);
	put_str(out, m->subject != NULL ? m->subject : "");
	put_u64(out, (uint64_t)(int64_t)m->date);
	put_str(out, m->in_reply_to != NULL ? m->in_reply_to : "");
	put_str(out, m->references != NULL ? m->references : "");
	put_str(out, m->text != NULL ? m->text : "");
	put_u32(out, (uint32_t)(m->text_from_html ? 1 : 0));
	put_u32(out, (uint32_t)(m->has_attachments ? 1 : 0));
	put_str(out, m->content_type != NULL ? m->content_type : "");
	put_str(out, m->calendar);
	put_str(out, m->calendar_method != NULL ? m->calendar_method : "");
	put_str(out, m->dsn);
	put_str(out, m->returned_headers);
	put_str(out, m->attached_headers);
	put_str(out, m->feedback);
	put_u64(out, (uint64_t)m->size);
}

struct reader {
	const unsigned char *p;
	size_t	 left;
	int	 bad;
};

static uint32_t
get_u32(struct reader *r)
{
	uint32_t v;

	if (r->bad || r->left < 4) {
		r->bad = 1;
		return 0;
	}
	v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	    (uint32_t)r->p[2] << 8 | (uint32_t)r->p[3];
	r->p += 4;
	r->left -= 4;
	return v;
}

static uint64_t
get_u64(struct reader *r)
{
	uint64_t hi = get_u32(r);

	return hi << 32 | get_u32(r);
}

/* A string; NULL when packed as NULL and nullable, else marks r bad. */
static char *
get_str(struct reader *r, int nullable)
{
	uint32_t n = get_u32(r);
	char *s;

	if (r->bad)
		return NULL;
	if (n == PACK_NULL) {
		if (!nullable)
			r->bad = 1;
		return NULL;
	}
	if (n > r->left || !utf8_valid((const char *)r->p, n)) {
		r->bad = 1;
		return NULL;
	}
	s = xstrndup((const char *)r->p, n);
	r->p += n;
	r->left -= n;
	return s;
}

static void
get_addr(struct reader *r, struct msg_addr *a)
{
	a->addr = get_str(r, 0);
	a->name = get_str(r, 0);
}

/* A count of items of at least min octets each: never more than fits. */
static size_t
get_count(struct reader *r, size_t min)
{
	uint32_t n = get_u32(r);

	if (r->bad || n > r->left / min) {
		r->bad = 1;
		return 0;
	}
	return n;
}

static int
get_flag(struct reader *r)
{
	uint32_t v = get_u32(r);

	if (v > 1)
		r->bad = 1;
	return (int)v;
}

int
message_unpack(const char *data, size_t len, struct message *m)
{
	struct reader r = { (const unsigned char *)data, len, 0 };
	size_t i, n;

	memset(m, 0, sizeof(*m));
	if (len < 8 || memcmp(data, PACK_MAGIC, 8) != 0)
		return BOTU_EDATA;
	r.p += 8;
	r.left -= 8;
	n = get_count(&r, 8);
	m->headers = xcalloc(n, sizeof(*m->headers));
	for (i = 0; i < n && !r.bad; i++, m->nheaders++) {
		m->headers[i].name = get_str(&r, 0);
		m->headers[i].value = get_str(&r, 0);
	}
	m->message_id = get_str(&r, 0);
	get_addr(&r, &m->from);
	get_addr(&r, &m->sender);
	n = get_count(&r, 8);
	m->reply_to = xcalloc(n, sizeof(*m->reply_to));
	for (i = 0; i < n && !r.bad; i++, m->nreply_to++)
		get_addr(&r, &m->reply_to[i]);
	n = get_count(&r, 8);
	m->rcpts = xcalloc(n, sizeof(*m->rcpts));
	for (i = 0; i < n && !r.bad; i++, m->nrcpts++)
		get_addr(&r, &m->rcpts[i]);
	m->return_path = get_str(&r, 1);
	m->subject = get_str(&r, 0);
	m->date = (time_t)(int64_t)get_u64(&r);
	m->in_reply_to = get_str(&r, 0);
	m->references = get_str(&r, 0);
	m->text = get_str(&r, 0);
	m->text_from_html = get_flag(&r);
	m->has_attachments = get_flag(&r);
	m->content_type = get_str(&r, 0);
	m->calendar = get_str(&r, 1);
	m->calendar_method = get_str(&r, 0);
	m->dsn = get_str(&r, 1);
	m->returned_headers = get_str(&r, 1);
	m->attached_headers = get_str(&r, 1);
	m->feedback = get_str(&r, 1);
	m->size = (size_t)get_u64(&r);
	if (r.bad || r.left != 0) {
		message_clear(m);
		return BOTU_EDATA;
	}
	return BOTU_OK;
}

char *
message_references(const struct message *m)
{
	if (m->message_id[0] == '\0')
		return xstrdup(m->references);
	if (m->references[0] == '\0')
		return xstrdup(m->message_id);
	return xasprintf("%s %s", m->references, m->message_id);
}
