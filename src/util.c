/* util.c - see util.h */
#include <ctype.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "botu/log.h"
#include "botu/util.h"

static void
oom(void)
{
	fatalx("out of memory");
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xrealloc(void *old, size_t n)
{
	void *p = realloc(old, n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		oom();
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		oom();
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b);
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return buf_detach(&b);
}

void
buf_init(struct buf *b)
{
	b->cap = 64;
	b->len = 0;
	b->s = xmalloc(b->cap);
	b->s[0] = '\0';
}

static void
buf_grow(struct buf *b, size_t more)
{
	size_t need;

	if (more > (size_t)-1 / 2 - b->len)
		oom();
	need = b->len + more + 1;
	if (need <= b->cap)
		return;
	while (b->cap < need)
		b->cap *= 2;
	b->s = xrealloc(b->s, b->cap);
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	buf_grow(b, n);
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

void
buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, cp);
	va_end(cp);
	if (n < 0)
		fatalx("vsnprintf failed");
	if ((size_t)n >= b->cap - b->len) {
		buf_grow(b, (size_t)n);
		n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

void
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void
buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->s[len] = '\0';
	}
}

void
buf_add_json(struct buf *b, const char *s)
{
	buf_addc(b, '"');
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			buf_addf(b, "\\%c", c);
		else if (c == '\n')
			buf_adds(b, "\\n");
		else if (c == '\t')
			buf_adds(b, "\\t");
		else if (c == '\r')
			buf_adds(b, "\\r");
		else if (c < 0x20 || c == 0x7f)
			buf_addf(b, "\\u%04x", c);
		else
			buf_addc(b, (char)c);
	}
	buf_addc(b, '"');
}

char *
buf_detach(struct buf *b)
{
	char *s = b->s;

	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

void
buf_free(struct buf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

char **
strv_add(char **v, const char *s)
{
	size_t n = strv_len(v);

	v = xrealloc(v, (n + 2) * sizeof(*v));
	v[n] = xstrdup(s);
	v[n + 1] = NULL;
	return v;
}

size_t
strv_len(char *const *v)
{
	size_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

void
strv_free(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

char *
str_trim(char *s)
{
	size_t n = strlen(s);
	char *p = s;

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	while (isspace((unsigned char)*p))
		p++;
	if (p != s)
		memmove(s, p, strlen(p) + 1);
	return s;
}

char *
str_lower(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return s;
}

int
str_to_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (*s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

size_t
str_copy(char *dst, const char *src, size_t dstsz)
{
	size_t n = strlen(src);

	if (dstsz > 0) {
		size_t k = n < dstsz - 1 ? n : dstsz - 1;

		memcpy(dst, src, k);
		dst[k] = '\0';
	}
	return n;
}

int
str_is_address(const char *s)
{
	const char *at = strrchr(s, '@');
	size_t len = strlen(s);

	if (at == NULL || at == s || at[1] == '\0' || len > 254 ||
	    (size_t)(at - s) > 64 || strchr(at + 1, '.') == NULL ||
	    at[1] == '.' || s[len - 1] == '.')
		return 0;
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= ' ' || c >= 0x7f || strchr("<>()[],;:\\\"", c) ||
		    (c == '@' && p != at))
			return 0;
	}
	return 1;
}

/*
 * RFC 3629 §4 (Unicode Table 3-7): the length a lead octet announces, 0 for
 * an octet that never starts a character, and the range of the second
 * octet, narrowed to exclude overlongs, surrogates and values > U+10FFFF.
 */
static size_t
utf8_lead(unsigned char c, unsigned char *lo, unsigned char *hi)
{
	*lo = 0x80;
	*hi = 0xbf;
	if (c < 0x80)
		return 1;
	if (c < 0xc2)
		return 0;
	if (c < 0xe0)
		return 2;
	if (c == 0xe0)
		*lo = 0xa0;
	if (c == 0xed)
		*hi = 0x9f;
	if (c < 0xf0)
		return 3;
	if (c == 0xf0)
		*lo = 0x90;
	if (c == 0xf4)
		*hi = 0x8f;
	return c < 0xf5 ? 4 : 0;
}

/* Octets of the character or of the maximal ill-formed subpart at s. */
static size_t
utf8_scan(const unsigned char *s, int *ok)
{
	unsigned char lo, hi;
	size_t need = utf8_lead(s[0], &lo, &hi), i;

	*ok = 0;
	if (need == 0)
		return 1;
	for (i = 1; i < need; i++) {
		if (s[i] < lo || s[i] > hi)
			return i;
		lo = 0x80;
		hi = 0xbf;
	}
	*ok = 1;
	return need;
}

size_t
utf8_charlen(const char *s)
{
	int ok;
	size_t n;

	if (*s == '\0')
		return 0;
	n = utf8_scan((const unsigned char *)s, &ok);
	return ok ? n : 0;
}

char *
utf8_sanitize(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	struct buf b;

	buf_init(&b);
	while (*p != '\0') {
		int ok;
		size_t n = utf8_scan(p, &ok);

		if (ok)
			buf_add(&b, p, n);
		else
			buf_adds(&b, "\xef\xbf\xbd");	/* U+FFFD */
		p += n;
	}
	return buf_detach(&b);
}

void
crash_point(const char *name)
{
	static atomic_int count;
	const char *want = getenv("BOTU_CRASH_AT");
	size_t len;
	long long nth = 1;

	if (want == NULL)
		return;
	len = strcspn(want, ":");
	if (strlen(name) != len || strncmp(want, name, len) != 0)
		return;
	if (want[len] == ':')
		(void)str_to_int(want + len + 1, 1, 1000000, &nth);
	if (atomic_fetch_add(&count, 1) + 1 == nth) {
		log_warnx("crash point %s reached: aborting as asked", name);
		abort();
	}
}
