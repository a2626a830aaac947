/* log.c - see log.h */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sysexits.h>

#include "botu/log.h"
#include "botu/util.h"

static int log_syslog;
static int log_mask = 1;
static enum log_level log_level = LOG_LEVEL_INFO;
static FILE *log_stream;

void
log_init(int to_syslog, enum log_level level, int mask_addresses)
{
	if (log_syslog && !to_syslog)
		closelog();
	log_syslog = to_syslog;
	log_level = level;
	log_mask = mask_addresses;
	if (to_syslog)
		openlog("botu", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_stream(FILE *f)
{
	log_stream = f;
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

int
log_debug_enabled(void)
{
	return log_level >= LOG_LEVEL_DEBUG;
}

static void
vlog(int prio, const char *err, const char *fmt, va_list ap)
{
	char line[2048];
	int n;

	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	/* One event, one line: never let a value from outside break it. */
	for (char *p = line; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (log_syslog && log_stream == NULL) {
		if (err != NULL)
			syslog(prio, "%s: %s", line, err);
		else
			syslog(prio, "%s", line);
		return;
	}
	FILE *f = log_stream != NULL ? log_stream : stderr;
	if (err != NULL)
		fprintf(f, "botu: %s: %s\n", line, err);
	else
		fprintf(f, "botu: %s\n", line);
	fflush(f);
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_level < LOG_LEVEL_INFO)
		return;
	va_start(ap, fmt);
	vlog(LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_level < LOG_LEVEL_DEBUG)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, strerror(saved), fmt, ap);
	va_end(ap);
	exit(EX_SOFTWARE);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	exit(EX_SOFTWARE);
}

/*
 * A token: 20 letters and digits or more in a row (token.c makes 26 of
 * base32), too long for a word people use in an address.
 */
static size_t
token_run(const char *s, const char *end)
{
	size_t n = 0;

	while (s + n < end && isalnum((unsigned char)s[n]))
		n++;
	return n >= 20 ? n : 0;
}

/*
 * A full address, but a token in it (annerike+bevestig-TOKEN@...) is a
 * secret that acts for someone: keep 4 characters of it.
 */
static void
full_addr(char *out, size_t len, const char *addr, const char *at)
{
	struct buf b;
	const char *p = addr;
	size_t n;

	buf_init(&b);
	while (p < at) {
		buf_addc(&b, *p);
		n = *p == '+' || *p == '-' ? token_run(p + 1, at) : 0;
		if (n > 0) {
			buf_add(&b, p + 1, 4);
			buf_adds(&b, "***");
			p += n;
		}
		p++;
	}
	buf_adds(&b, at);
	str_copy(out, b.s, len);
	buf_free(&b);
}

const char *
log_addr(const char *addr)
{
	static _Thread_local char ring[4][320];
	static _Thread_local unsigned next;
	char *out = ring[next++ % NELEM(ring)];
	const char *at;

	if (addr == NULL)
		return "(none)";
	at = strrchr(addr, '@');
	if (at == NULL || at == addr) {
		str_copy(out, addr, sizeof(ring[0]));
		return out;
	}
	if (!log_mask) {
		full_addr(out, sizeof(ring[0]), addr, at);
		return out;
	}
	snprintf(out, sizeof(ring[0]), "%c***%s", addr[0], at);
	return out;
}

void
log_mask_line(char *line, size_t size)
{
	struct buf b;
	char addr[320];
	const char *p = line, *open, *close;

	buf_init(&b);
	while ((open = strchr(p, '<')) != NULL &&
	    (close = strchr(open, '>')) != NULL) {
		size_t n = (size_t)(close - open - 1);

		buf_add(&b, p, (size_t)(open - p) + 1);
		if (n < sizeof(addr) && memchr(open + 1, '@', n) != NULL &&
		    memchr(open + 1, ' ', n) == NULL) {
			memcpy(addr, open + 1, n);
			addr[n] = '\0';
			buf_adds(&b, log_addr(addr));
		} else
			buf_add(&b, open + 1, n);
		buf_addc(&b, '>');
		p = close + 1;
	}
	buf_adds(&b, p);
	str_copy(line, b.s, size);
	buf_free(&b);
}
