/*
 * util.h - no-fail allocators, a growable string buffer, small string helpers.
 *
 * The x* allocators never return NULL: on out-of-memory they log and abort(),
 * so callers keep real error paths for I/O and parsing only.
 */
#ifndef BOTU_UTIL_H
#define BOTU_UTIL_H

#include <stdarg.h>
#include <stddef.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...)
	    __attribute__((format(printf, 1, 2)));

/*
 * A growable byte buffer. Invariant: s is never NULL after buf_init() and
 * s[len] == '\0', so s can always be printed. buf_detach() hands the storage
 * to the caller (release it with free(3)) and leaves the buffer empty;
 * buf_free() releases it.
 */
struct buf {
	char	*s;
	size_t	 len;
	size_t	 cap;
};

void	 buf_init(struct buf *);
void	 buf_add(struct buf *, const void *, size_t);
void	 buf_adds(struct buf *, const char *);
void	 buf_addc(struct buf *, char);
void	 buf_addf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_vaddf(struct buf *, const char *, va_list);
void	 buf_truncate(struct buf *, size_t);
/* Appends s as a JSON string literal, quotes included (RFC 8259). */
void	 buf_add_json(struct buf *, const char *s);
char	*buf_detach(struct buf *);
void	 buf_free(struct buf *);

/* A NULL-terminated array of owned strings. */
char	**strv_add(char **, const char *);
size_t	 strv_len(char *const *);
void	 strv_free(char **);

/* In-place helpers; they return their argument. */
char	*str_trim(char *);
char	*str_lower(char *);	/* ASCII only */

/* Parses a decimal integer in [min, max]; 0 on success, -1 otherwise. */
int	 str_to_int(const char *, long long min, long long max, long long *);

/*
 * 1 when s is a plain ASCII address local@domain.tld that botu will write
 * into an envelope and a header as it is: at most 64 octets before the @,
 * 254 in all, no spaces, controls, quotes or brackets.
 */
int	 str_is_address(const char *);

/*
 * A copy of s that is well-formed UTF-8 (RFC 3629): each ill-formed part
 * (a stray continuation byte, an overlong form, a surrogate, a code point
 * above U+10FFFF, a truncated sequence) becomes one U+FFFD per maximal
 * subpart, as Unicode §3.9 recommends and Python's errors="replace" does.
 * Owned by the caller.
 */
char	*utf8_sanitize(const char *s);
/* The octets of the well-formed UTF-8 character at s; 0 at '\0' or when
 * s does not start a well-formed character. */
size_t	 utf8_charlen(const char *s);

/* Copies src into dst (size dstsz), always NUL-terminated; like strlcpy. */
size_t	 str_copy(char *dst, const char *src, size_t dstsz);

/*
 * A named crash point, for the tests of each crash window: when
 * BOTU_CRASH_AT=name[:N] is in the environment, the Nth time (default the
 * first) any thread reaches crash_point(name) the process logs it and
 * abort()s. Names: intake.h (after-attempt, after-commit, after-move),
 * deliver.h (before-send, after-send) and digest.h; db.h has its own for
 * migrations.
 */
void	 crash_point(const char *name);

#endif
