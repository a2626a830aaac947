/* compose.c - see compose.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "botu/compose.h"
#include "botu/dates.h"
#include "botu/token.h"

#define HDR_LINE	78	/* RFC 5322 §2.1.1: SHOULD be no more */
#define EW_MAX		75	/* RFC 2047 §2: longest word */
#define EW_OVERHEAD	12	/* "=?utf-8?q?" and "?=" */
#define EW_MIN		(EW_OVERHEAD + 12) /* 4 octets in Q */
#define QP_LINE		76	/* RFC 2045 §6.7 (5) */
#define MSGID_MAX	900	/* References lines < 998 */
#define FN_PLAIN	60	/* a quoted filename= that fits */

/* A header being written, with the column for folding. */
struct fold {
	struct buf	*b;
	size_t		 col;
	int		 used;	/* a word follows "Name:" */
};

/*
 * Every header text passes here first: well-formed UTF-8, and C0 controls
 * (CR, LF, NUL, TAB, ...), DEL, C1 controls and the Unicode line and
 * paragraph separators become spaces, so no input can end a header line
 * or start a new one. Leading and trailing space is trimmed. Owned.
 */
static char *
hdr_text_new(const char *s)
{
	char *u = utf8_sanitize(s != NULL ? s : "");
	const unsigned char *p = (const unsigned char *)u;
	struct buf b;

	buf_init(&b);
	while (*p != '\0') {
		if (*p < 0x20 || *p == 0x7f) {
			buf_addc(&b, ' ');
			p++;
		} else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			buf_addc(&b, ' ');
			p += 2;
		} else if (p[0] == 0xe2 && p[1] == 0x80 &&
		    (p[2] == 0xa8 || p[2] == 0xa9)) {
			buf_addc(&b, ' ');
			p += 3;
		} else
			buf_addc(&b, (char)*p++);
	}
	free(u);
	return str_trim(buf_detach(&b));
}

/*
 * A display name: header text with each run of spaces made one, as RFC
 * 5322 §3.2.2 reads a phrase (and readers do even inside encoded words).
 */
static char *
hdr_name_new(const char *s)
{
	char *t = hdr_text_new(s), *w = t;

	for (char *p = t; *p != '\0'; p++)
		if (!(p[0] == ' ' && p[1] == ' '))
			*w++ = *p;
	*w = '\0';
	return t;
}

/* Text for a structured header built by botu: visible ASCII and spaces. */
static char *
hdr_ascii_new(const char *s)
{
	char *t = hdr_text_new(s);

	for (char *p = t; *p != '\0'; p++)
		if ((unsigned char)*p > 0x7e)
			*p = '?';
	return t;
}

/* An address or id as botu writes it: no white space, nothing but ASCII. */
static char *
hdr_token_new(const char *s)
{
	char *t = hdr_ascii_new(s), *w = t;

	for (char *p = t; *p != '\0'; p++)
		if (*p != ' ')
			*w++ = *p;
	*w = '\0';
	return t;
}

static void
fold_start(struct fold *f, struct buf *b, const char *name)
{
	f->b = b;
	buf_adds(b, name);
	buf_addc(b, ':');
	f->col = strlen(name) + 1;
	f->used = 0;
}

/* Columns left on this line for a word after one space. */
static size_t
fold_room(const struct fold *f)
{
	return f->col + 1 < HDR_LINE ? HDR_LINE - f->col - 1 : 0;
}

static void
fold_break(struct fold *f)
{
	buf_adds(f->b, "\r\n");
	f->col = 0;
}

/*
 * Adds white space ws and a word; RFC 5322 §2.2.3: a header folds by a
 * CRLF put before white space, so a line that would pass 78 columns breaks
 * there (ws is never empty, so each continuation starts with it).
 */
static void
fold_add(struct fold *f, const char *ws, size_t wslen, const char *w,
    size_t wlen)
{
	if (f->col + wslen + wlen > HDR_LINE && f->col > 0)
		fold_break(f);
	buf_add(f->b, ws, wslen);
	buf_add(f->b, w, wlen);
	f->col += wslen + wlen;
	f->used = 1;
}

static void
fold_end(struct fold *f)
{
	buf_adds(f->b, "\r\n");
}

/* Printable ASCII with no "=?" a reader could take for an encoded word. */
static int
printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
		if (s[i] == '=' && i + 1 < n && s[i + 1] == '?')
			return 0;
	}
	return 1;
}

/* Appends s word by word, keeping its white space exactly. */
static void
plain_emit(struct fold *f, const char *s)
{
	size_t ws = 0, w;

	while (*s != '\0') {
		w = strcspn(s, " ");
		if (ws == 0)
			fold_add(f, " ", 1, s, w);
		else
			fold_add(f, s - ws, ws, s, w);
		s += w;
		ws = strspn(s, " ");
		s += ws;
	}
}

/* RFC 5322 §3.2.3: atext, what a phrase word may hold unquoted. */
static int
atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/*
 * 1 when word w (n octets) after ws spaces may go out as it is: printable
 * ASCII (atext in a phrase) that fits a line with its white space.
 */
static int
word_plain(const char *w, size_t n, size_t ws, int phrase)
{
	if (!printable(w, n) || ws + n > HDR_LINE)
		return 0;
	for (size_t i = 0; phrase && i < n; i++)
		if (!atext((unsigned char)w[i]))
			return 0;
	return 1;
}

/* RFC 2047 §5 (3): the only octets Q may leave as they are in a phrase;
 * the strictest rule, used everywhere. */
static int
q_literal(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!*+-/", c));
}

/* The length of s (n octets) encoded as B or Q, without the frame. */
static size_t
ew_len(const char *s, size_t n, int b64)
{
	size_t k = 0;

	if (b64)
		return (n + 2) / 3 * 4;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		k += (q_literal(c) || c == ' ') ? 1 : 3;
	}
	return k;
}

static void
q_encode(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (q_literal(c))
			buf_addc(b, (char)c);
		else if (c == ' ')
			buf_addc(b, '_');	/* RFC 2047 §4.2 (2) */
		else
			buf_addf(b, "=%02X", c);
	}
}

/* RFC 4648 §4. */
static void
b64_encode(struct buf *b, const char *s, size_t n)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		buf_addc(b, a[(v >> 18) & 63]);
		buf_addc(b, a[(v >> 12) & 63]);
		buf_addc(b, i + 1 < n ? a[(v >> 6) & 63] : '=');
		buf_addc(b, i + 2 < n ? a[v & 63] : '=');
	}
}

/* The octets of s (n), in whole characters, whose encoding fits room. */
static size_t
ew_chunk(const char *s, size_t n, size_t room, int b64)
{
	size_t k = 0, c;

	while (k < n) {
		c = utf8_charlen(s + k);
		if (c == 0 || k + c > n)
			c = 1;
		if (ew_len(s, k + c, b64) > room)
			break;
		k += c;
	}
	return k;
}

/*
 * Where to end an encoded word that cannot hold the rest (k octets fit):
 * after a space in its second half if there is one, so a reader that
 * wrongly shows a space between adjacent words shows it between words.
 */
static size_t
ew_cut(const char *s, size_t k)
{
	for (size_t j = k; j > k / 2; j--)
		if (s[j - 1] == ' ')
			return j;
	return k;
}

/*
 * RFC 2047 §2, §5: s (n octets) as encoded words of at most 75 characters
 * holding whole UTF-8 characters (§5 (3)), white space inside the words:
 * the space between two encoded words is not text (§6.2). B or Q,
 * whichever is shorter: Dutch is mostly ASCII and Q keeps it short and
 * readable in logs; emoji and runs of non-ASCII come out shorter in B.
 */
static void
ew_emit(struct fold *f, const char *s, size_t n)
{
	int b64 = ew_len(s, n, 1) < ew_len(s, n, 0);
	size_t room, k, whole = ew_len(s, n, b64) + EW_OVERHEAD;
	struct buf w;

	/* One word on the next line rather than two adjacent ones: some
	 * readers show a space between them (CPython gh-128110). */
	if (f->used && whole <= EW_MAX && whole > fold_room(f))
		fold_break(f);
	buf_init(&w);
	while (n > 0) {
		room = fold_room(f);
		if (room < EW_MIN) {
			fold_break(f);
			room = fold_room(f);
		}
		k = ew_chunk(s, n, (room > EW_MAX ? EW_MAX : room) -
		    EW_OVERHEAD, b64);
		if (k < n)
			k = ew_cut(s, k);
		buf_truncate(&w, 0);
		buf_adds(&w, b64 ? "=?utf-8?b?" : "=?utf-8?q?");
		if (b64)
			b64_encode(&w, s, k);
		else
			q_encode(&w, s, k);
		buf_adds(&w, "?=");
		fold_add(f, " ", 1, w.s, w.len);
		s += k;
		n -= k;
	}
	buf_free(&w);
}

/* The white space and the word at p. */
static void
token_at(const char *p, size_t *ws, size_t *w)
{
	*ws = strspn(p, " ");
	*w = strcspn(p + *ws, " ");
}

/*
 * Header text word by word: words that may go as they are do, and each run
 * of words that may not becomes encoded words, the white space between
 * them inside (RFC 2047 §5: (1) for text, (3) for a phrase). Encoding only
 * what needs it keeps adjacent encoded words rare.
 */
static void
words_emit(struct fold *f, const char *s, int phrase)
{
	const char *p = s, *q;
	size_t ws, w;

	while (*p != '\0') {
		token_at(p, &ws, &w);
		if (word_plain(p + ws, w, ws, phrase) &&
		    (p != s || w <= fold_room(f))) {
			fold_add(f, p == s ? " " : p, p == s ? 1 : ws, p + ws,
			    w);
			p += ws + w;
			continue;
		}
		for (q = p + ws + w; *q != '\0'; q += ws + w) {
			token_at(q, &ws, &w);
			if (word_plain(q + ws, w, ws, phrase))
				break;
		}
		if (p != s)
			p++;	/* one space separates; the rest is text */
		ew_emit(f, p, (size_t)(q - p));
		p = q;
	}
}

void
compose_header(struct buf *b, const char *name, const char *value)
{
	char *v = hdr_text_new(value);
	struct fold f;

	fold_start(&f, b, name);
	words_emit(&f, v, 0);
	fold_end(&f);
	free(v);
}

/* A structured header botu builds itself: folded, never encoded. */
static void
raw_header(struct buf *b, const char *name, const char *value)
{
	char *v = hdr_ascii_new(value);
	struct fold f;

	fold_start(&f, b, name);
	plain_emit(&f, v);
	fold_end(&f);
	free(v);
}

/*
 * RFC 5322 §3.2.4/§3.2.5: a display name as one quoted-string when it is
 * printable ASCII that fits the line, else word by word with encoded words
 * (RFC 2047 §5 (3)), never inside quotes.
 */
static void
phrase_emit(struct fold *f, const char *d)
{
	struct buf q;

	buf_init(&q);
	buf_addc(&q, '"');
	for (const char *p = d; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_addc(&q, '\\');
		buf_addc(&q, *p);
	}
	buf_addc(&q, '"');
	if (printable(d, strlen(d)) && q.len <= fold_room(f))
		fold_add(f, " ", 1, q.s, q.len);
	else
		words_emit(f, d, 1);
	buf_free(&q);
}

/* "Name: phrase tail", the phrase left out when display is empty. */
static void
phrase_header(struct buf *b, const char *name, const char *display,
    const char *tail)
{
	struct fold f;

	fold_start(&f, b, name);
	if (*display != '\0')
		phrase_emit(&f, display);
	fold_add(&f, " ", 1, tail, strlen(tail));
	fold_end(&f);
}

void
compose_address_header(struct buf *b, const char *name,
    const char *display, const char *addr)
{
	char *d = hdr_name_new(display);
	char *a = hdr_token_new(addr);
	char *tail = *d != '\0' ? xasprintf("<%s>", a) : xstrdup(a);

	phrase_header(b, name, d, tail);
	free(tail);
	free(a);
	free(d);
}

/*
 * RFC 5322 §3.6.4: the "<...>" ids in s, space-separated; an id with white
 * space, controls, non-ASCII or brackets inside is dropped, and so is all
 * text outside brackets. Owned; "" when none is left.
 */
static char *
msgids_clean_new(const char *s)
{
	struct buf b;
	const char *p = s != NULL ? s : "", *q;

	buf_init(&b);
	while ((p = strchr(p, '<')) != NULL) {
		for (q = p + 1; *q > 0x20 && *q < 0x7f && *q != '<' &&
		    *q != '>'; q++)
			;
		if (*q == '>' && q > p + 1 && (size_t)(q - p) < MSGID_MAX) {
			if (b.len > 0)
				buf_addc(&b, ' ');
			buf_add(&b, p, (size_t)(q - p) + 1);
		}
		p = *q == '>' ? q + 1 : q;
	}
	return buf_detach(&b);
}

/* In-Reply-To or References, left out when no valid id remains. */
static void
msgids_header(struct buf *b, const char *name, const char *ids)
{
	char *v = msgids_clean_new(ids);
	struct fold f;

	if (*v != '\0') {
		fold_start(&f, b, name);
		plain_emit(&f, v);
		fold_end(&f);
	}
	free(v);
}

char *
compose_message_id(const char *domain)
{
	char *t = token_new(TOKEN_BITS);
	char *d = hdr_token_new(domain);
	char *id;

	id = xasprintf("<%s.%lld@%s>", t, (long long)time(NULL),
	    *d != '\0' ? d : "localhost");
	free(d);
	free(t);
	return id;
}

static int
add_date(struct buf *b, const struct botu_conf *c, time_t t,
    char err[BOTU_ERRLEN])
{
	const char *tz = c->list.timezone != NULL ? c->list.timezone : "UTC";
	char d[64];

	if (date_rfc5322(t, tz, d, sizeof(d)) < 0) {
		snprintf(err, BOTU_ERRLEN, "cannot write the date in %s", tz);
		return BOTU_ECONFIG;
	}
	raw_header(b, "Date", d);
	return BOTU_OK;
}

/* local + delimiter + ext + "@" + domain of the list address. Owned. */
static char *
list_plus_new(const struct botu_conf *c, const char *ext)
{
	const char *a = c->list.address, *at = strrchr(a, '@');
	const char *d = c->list.recipient_delimiter;
	char delim = d != NULL && *d != '\0' ? *d : '+';

	return xasprintf("%.*s%c%s%s", (int)(at - a), a, delim, ext, at);
}

/* RFC 6068 §2: "<mailto:addr?subject=word>", addr percent-encoded. */
static char *
mailto_new(const char *addr, const char *subject)
{
	struct buf b;

	buf_init(&b);
	buf_adds(&b, "<mailto:");
	for (const unsigned char *p = (const unsigned char *)addr; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~!$'*+=@", *p))
			buf_addc(&b, (char)*p);
		else
			buf_addf(&b, "%%%02X", *p);
	}
	buf_addf(&b, "?subject=%s>", subject);
	return buf_detach(&b);
}

/* RFC 2919 §3: List-Id: phrase <id>; the id defaults to local.domain. */
static void
add_list_id(struct buf *b, const struct botu_conf *c)
{
	const char *a = c->list.address, *at = strrchr(a, '@');
	char *id, *raw, *name = hdr_name_new(c->list.name), *tail;

	if (c->list.id != NULL && c->list.id[0] != '\0')
		raw = xstrdup(c->list.id);
	else
		raw = xasprintf("%.*s.%s", (int)(at - a), a, at + 1);
	id = hdr_token_new(raw);
	tail = xasprintf("<%s>", id);
	phrase_header(b, "List-Id", name, tail);
	free(tail);
	free(id);
	free(raw);
	free(name);
}

/* RFC 2369 §3: List-Help, List-Unsubscribe, List-Post. */
static void
add_list_headers(struct buf *b, const struct botu_conf *c,
    const struct outgoing *o)
{
	char *help = list_plus_new(c, "help");
	char *unsub = o->unsubscribe != NULL ? xstrdup(o->unsubscribe) :
	    list_plus_new(c, "afmelden");
	char *v;

	add_list_id(b, c);
	v = mailto_new(unsub, "unsubscribe");
	raw_header(b, "List-Unsubscribe", v);
	free(v);
	v = mailto_new(help, "help");
	raw_header(b, "List-Help", v);
	free(v);
	raw_header(b, "List-Post", "NO");
	free(unsub);
	free(help);
}

/* RFC 3834 §5 and the loop guards other responders look for. */
static void
add_auto_headers(struct buf *b, const struct botu_conf *c,
    const struct outgoing *o)
{
	int gen = o->auto_submitted == COMPOSE_AUTO_GENERATED;

	raw_header(b, "Auto-Submitted", gen ? "auto-generated" :
	    "auto-replied");
	if (gen)
		raw_header(b, "Precedence", "bulk");
	/* Exchange: no out-of-office or auto-replies to us. */
	raw_header(b, "X-Auto-Response-Suppress", "OOF, AutoReply");
	raw_header(b, "X-Loop", c->list.address);
}

static int
add_headers(struct buf *b, const struct botu_conf *c,
    const struct outgoing *o, const char *message_id, time_t date,
    char err[BOTU_ERRLEN])
{
	int rc = add_date(b, c, date, err);

	if (rc != BOTU_OK)
		return rc;
	compose_address_header(b, "From", c->list.name, c->list.address);
	compose_address_header(b, "To", o->to_name, o->to);
	compose_header(b, "Subject", o->subject);
	raw_header(b, "Message-ID", message_id);
	msgids_header(b, "In-Reply-To", o->in_reply_to);
	msgids_header(b, "References", o->references);
	if (o->reply_to != NULL)
		compose_address_header(b, "Reply-To", NULL, o->reply_to);
	raw_header(b, "MIME-Version", "1.0");
	add_list_headers(b, c, o);
	add_auto_headers(b, c, o);
	return BOTU_OK;
}

/* ---- Bodies ---------------------------------------------------------- */

/*
 * RFC 2045 §6.7: the encoding of one character (n octets) at p, len octets
 * being left on the hard line. at_start: first on a physical line, where
 * "." (SMTP dot-stuffing, RFC 5321 §4.5.2) and "From " (mbox) are encoded
 * so no relay changes the line; at_end: last before a hard line break,
 * where white space must be encoded (rule 3).
 */
static size_t
qp_unit(const char *p, size_t n, size_t len, int at_start, int at_end,
    char *out)
{
	unsigned char c = (unsigned char)p[0];
	size_t k = 0;

	if (n == 1 && c > 32 && c < 127 && c != '=' &&
	    !(at_start && c == '.') &&
	    !(at_start && len >= 5 && memcmp(p, "From ", 5) == 0))
		out[k++] = (char)c;
	else if (n == 1 && (c == ' ' || c == '\t') && !at_end)
		out[k++] = (char)c;
	else
		for (size_t i = 0; i < n; i++)
			k += (size_t)snprintf(out + k, 4, "=%02X",
			    (unsigned char)p[i]);
	return k;
}

/* One hard line, with soft breaks ("=" CRLF) to stay within 76. */
static void
qp_line(struct buf *b, const char *s, size_t len)
{
	size_t col = 0, i = 0, n, k, limit;
	char enc[16];
	int last;

	while (i < len) {
		n = utf8_charlen(s + i);
		if (n == 0 || i + n > len)
			n = 1;
		last = i + n == len;
		k = qp_unit(s + i, n, len - i, col == 0, last, enc);
		limit = last ? QP_LINE : QP_LINE - 1;	/* room for "=" */
		if (col + k > limit) {
			buf_adds(b, "=\r\n");
			col = 0;
			k = qp_unit(s + i, n, len - i, 1, last, enc);
		}
		buf_add(b, enc, k);
		col += k;
		i += n;
	}
	buf_adds(b, "\r\n");
}

void
compose_qp(struct buf *b, const char *text)
{
	const char *p = text;
	size_t n;

	/* LF, CRLF and a bare CR all end a line; each becomes CRLF. */
	while (*p != '\0') {
		n = strcspn(p, "\r\n");
		qp_line(b, p, n);
		p += n;
		if (p[0] == '\r' && p[1] == '\n')
			p += 2;
		else if (*p != '\0')
			p++;
	}
}

/* RFC 2045 §5.1; RFC 2046 §4.1.2: text parts say their charset. */
static void
ctype_header(struct buf *e, const char *ctype)
{
	char *v = hdr_ascii_new(ctype != NULL ? ctype : "text/plain");
	char *full;

	if (strncasecmp(v, "text/", 5) == 0 && strcasestr(v, "charset=") ==
	    NULL)
		full = xasprintf("%s; charset=utf-8", v);
	else
		full = xstrdup(v);
	raw_header(e, "Content-Type", full);
	free(full);
	free(v);
}

/* RFC 2045 §5.1 tspecials and RFC 2231 §7 attribute-char. */
static int
param_char(unsigned char c)
{
	return c > 32 && c < 127 && strchr("()<>@,;:\\\"/[]?=*'%", c) ==
	    NULL;
}

/* The RFC 2231 §7 form of the character at s (n octets). */
static void
pct_char(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (param_char((unsigned char)s[i]))
			buf_addc(b, s[i]);
		else
			buf_addf(b, "%%%02X", (unsigned char)s[i]);
}

/* The length of s in RFC 2231 §7 percent form. */
static size_t
pct_len(const char *s)
{
	size_t k = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		k += param_char(*p) ? 1 : 3;
	return k;
}

/* Whole characters of s onto seg while " " seg ";" fits a line; returns
 * the octets of s used. */
static size_t
pct_segment(struct buf *seg, const char *s)
{
	size_t i = 0, n, start = seg->len, before;

	while (s[i] != '\0') {
		n = utf8_charlen(s + i) ? utf8_charlen(s + i) : 1;
		before = seg->len;
		pct_char(seg, s + i, n);
		if (seg->len + 2 > HDR_LINE && before > start) {
			buf_truncate(seg, before);
			break;
		}
		i += n;
	}
	return i;
}

/*
 * RFC 2231 §3-4: filename*=utf-8''%XX..., or, when that is too long for a
 * line, filename*0*=utf-8''...; filename*1*=...; cut between characters.
 */
static void
filename_2231(struct fold *f, const char *fn)
{
	int many = pct_len(fn) + strlen(" filename*=utf-8''") > HDR_LINE;
	size_t i = 0, nseg = 0;
	struct buf seg;

	buf_init(&seg);
	while (fn[i] != '\0') {
		buf_truncate(&seg, 0);
		if (!many)
			buf_adds(&seg, "filename*=utf-8''");
		else
			buf_addf(&seg, "filename*%zu*=%s", nseg,
			    nseg == 0 ? "utf-8''" : "");
		i += pct_segment(&seg, fn + i);
		if (fn[i] != '\0')
			buf_addc(&seg, ';');
		fold_add(f, " ", 1, seg.s, seg.len);
		nseg++;
	}
	buf_free(&seg);
}

/* RFC 2183: Content-Disposition: kind; filename="x" or RFC 2231. */
static void
disposition_header(struct buf *e, const char *kind, const char *filename)
{
	char *fn = hdr_text_new(filename), *q = NULL, *k = NULL;
	struct fold f;

	fold_start(&f, e, "Content-Disposition");
	k = xasprintf("%s%s", kind, *fn != '\0' ? ";" : "");
	fold_add(&f, " ", 1, k, strlen(k));
	if (*fn != '\0' && printable(fn, strlen(fn)) &&
	    strpbrk(fn, "\"\\") == NULL && strlen(fn) <= FN_PLAIN) {
		q = xasprintf("filename=\"%s\"", fn);
		fold_add(&f, " ", 1, q, strlen(q));
	} else if (*fn != '\0')
		filename_2231(&f, fn);
	fold_end(&f);
	free(q);
	free(k);
	free(fn);
}

/* RFC 2045 §6.8: base64 in lines of 76 characters, each ending in CRLF. */
static void
b64_lines(struct buf *e, const char *s, size_t n)
{
	const size_t chunk = QP_LINE / 4 * 3;	/* 57 octets: 76 chars */

	for (size_t i = 0; i < n; i += chunk) {
		b64_encode(e, s + i, n - i < chunk ? n - i : chunk);
		buf_adds(e, "\r\n");
	}
}

/*
 * A single part: headers, blank line, body in quoted-printable or, for a
 * part that asks (iCalendar), base64.
 */
static void
leaf_new(struct buf *e, const char *ctype, const char *disposition,
    const char *filename, const char *body, int base64)
{
	char *text = utf8_sanitize(body != NULL ? body : "");

	buf_init(e);
	ctype_header(e, ctype);
	raw_header(e, "Content-Transfer-Encoding", base64 ? "base64" :
	    "quoted-printable");
	if (disposition != NULL)
		disposition_header(e, disposition, filename);
	buf_adds(e, "\r\n");
	if (base64)
		b64_lines(e, text, strlen(text));
	else
		compose_qp(e, text);
	free(text);
}

/* Letters, digits and dots of s, at most 40 (RFC 2046 bchars; <= 70). */
static char *
bchars_new(const char *s)
{
	struct buf b;

	buf_init(&b);
	for (; *s != '\0' && b.len < 40; s++)
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '.')
			buf_addc(&b, *s);
	return buf_detach(&b);
}

/*
 * RFC 2046 §5.1.1: a boundary that occurs in no part. "=_" cannot occur
 * in quoted-printable (an "=" is followed by hex digits or a line break)
 * nor in base64 (no "_"), so the check is belt and braces. base (may be
 * NULL) makes it the same every time: "=_<base>.<subtype>", then a
 * counter should it occur.
 */
static char *
boundary_new(const struct buf *parts, size_t n, const char *base,
    const char *subtype)
{
	char *t, *bnd;
	size_t i;
	int tries = 0;

	for (;;) {
		t = base != NULL ? bchars_new(base) : token_new(TOKEN_BITS);
		if (base == NULL)
			bnd = xasprintf("=_%s", t);
		else if (tries == 0)
			bnd = xasprintf("=_%s.%s", t, subtype);
		else
			bnd = xasprintf("=_%s.%s%d", t, subtype, tries);
		tries++;
		free(t);
		for (i = 0; i < n; i++)
			if (memmem(parts[i].s, parts[i].len, bnd,
			    strlen(bnd)) != NULL)
				break;
		if (i == n)
			return bnd;
		free(bnd);
	}
}

/*
 * multipart/subtype around parts (freed here). Each part is followed by an
 * extra CRLF: the CRLF before "--boundary" belongs to the delimiter (RFC
 * 2046 §5.1.1), and the part's own last line break must survive.
 */
static void
multipart_new(struct buf *e, const char *subtype, struct buf *parts,
    size_t n, const char *base)
{
	char *bnd = boundary_new(parts, n, base, subtype);

	buf_init(e);
	buf_addf(e, "Content-Type: multipart/%s;\r\n boundary=\"%s\"\r\n\r\n",
	    subtype, bnd);
	for (size_t i = 0; i < n; i++) {
		buf_addf(e, "--%s\r\n", bnd);
		buf_add(e, parts[i].s, parts[i].len);
		buf_adds(e, "\r\n");
		buf_free(&parts[i]);
	}
	buf_addf(e, "--%s--\r\n", bnd);
	free(bnd);
}

/*
 * text, then HTML, then the in_alternative parts (RFC 2046 §5.1.4: the
 * richest last; RFC 6047 §2.4 puts text/calendar here); one part alone
 * needs no multipart.
 */
static void
alternative_new(struct buf *e, const struct outgoing *o)
{
	struct buf *alt = xcalloc(o->nparts + 2, sizeof(*alt));
	size_t n = 0;

	leaf_new(&alt[n++], "text/plain", NULL, NULL, o->text, 0);
	if (o->html != NULL)
		leaf_new(&alt[n++], "text/html", NULL, NULL, o->html, 0);
	for (size_t i = 0; i < o->nparts; i++) {
		const struct compose_part *p = &o->parts[i];

		/* Not "attachment": clients then show no invitation. */
		if (p->in_alternative)
			leaf_new(&alt[n++], p->content_type,
			    p->filename != NULL ? "inline" : NULL,
			    p->filename, p->body, p->base64);
	}
	if (n == 1)
		*e = alt[0];
	else
		multipart_new(e, "alternative", alt, n, o->boundary);
	free(alt);
}

/* The alternative, then the attachments in a multipart/mixed if any. */
static void
body_new(struct buf *e, const struct outgoing *o)
{
	struct buf *mix = xcalloc(o->nparts + 1, sizeof(*mix));
	size_t n = 0;

	alternative_new(&mix[n++], o);
	for (size_t i = 0; i < o->nparts; i++) {
		const struct compose_part *p = &o->parts[i];

		if (!p->in_alternative)
			leaf_new(&mix[n++], p->content_type,
			    p->filename != NULL ? "attachment" : "inline",
			    p->filename, p->body, p->base64);
	}
	if (n == 1)
		*e = mix[0];
	else
		multipart_new(e, "mixed", mix, n, o->boundary);
	free(mix);
}

/* ---- The whole message ------------------------------------------------ */

static int
check_address(const char *what, const char *addr, int rc,
    char err[BOTU_ERRLEN])
{
	if (addr != NULL && str_is_address(addr))
		return BOTU_OK;
	snprintf(err, BOTU_ERRLEN, "%s is not a usable address: '%.100s'",
	    what, addr != NULL ? addr : "(none)");
	return rc;
}

static int
check_inputs(const struct botu_conf *c, const struct outgoing *o,
    const char *message_id, char err[BOTU_ERRLEN])
{
	char *mid = msgids_clean_new(message_id);
	int rc, same = message_id != NULL && strcmp(mid, message_id) == 0 &&
	    strchr(mid, ' ') == NULL && *mid != '\0';

	free(mid);
	rc = check_address("[list] address", c->list.address, BOTU_ECONFIG,
	    err);
	if (rc == BOTU_OK)
		rc = check_address("to", o->to, BOTU_EDATA, err);
	if (rc == BOTU_OK && o->reply_to != NULL)
		rc = check_address("reply_to", o->reply_to, BOTU_EDATA, err);
	if (rc == BOTU_OK && o->unsubscribe != NULL)
		rc = check_address("unsubscribe", o->unsubscribe, BOTU_EDATA,
		    err);
	if (rc == BOTU_OK && !same) {
		snprintf(err, BOTU_ERRLEN, "not a Message-ID: '%.100s'",
		    message_id != NULL ? message_id : "(none)");
		rc = BOTU_EDATA;
	}
	return rc;
}

int
compose(const struct botu_conf *c, const struct outgoing *o,
    const char *message_id, time_t date, struct buf *out,
    char err[BOTU_ERRLEN])
{
	struct buf body;
	size_t start = out->len;
	int rc;

	rc = check_inputs(c, o, message_id, err);
	if (rc != BOTU_OK)
		return rc;
	rc = add_headers(out, c, o, message_id, date, err);
	if (rc != BOTU_OK) {
		buf_truncate(out, start);
		return rc;
	}
	body_new(&body, o);
	buf_add(out, body.s, body.len);
	buf_free(&body);
	return BOTU_OK;
}
