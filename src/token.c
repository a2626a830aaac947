/* token.c - see token.h */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "botu/log.h"
#include "botu/token.h"
#include "botu/util.h"

/* RFC 4648 §6, lower-cased. */
static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

void
token_random(unsigned char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(buf + got, n - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			fatal("getrandom");
		got += (size_t)r;
	}
}

size_t
token_length(size_t bits)
{
	size_t octets = (bits + 7) / 8;

	return (octets * 8 + 4) / 5;
}

/* RFC 4648 §6 without the "=" padding (§3.2 allows leaving it out). */
static void
base32_lower(const unsigned char *in, size_t n, char *out)
{
	size_t nchars = (n * 8 + 4) / 5;

	for (size_t i = 0; i < nchars; i++) {
		size_t bit = i * 5, byte = bit / 8, shift = bit % 8;
		unsigned v = (unsigned)in[byte] << 8;

		if (byte + 1 < n)
			v |= in[byte + 1];
		out[i] = b32[(v >> (11 - shift)) & 31];
	}
	out[nchars] = '\0';
}

char *
token_new(size_t bits)
{
	size_t octets = (bits + 7) / 8;
	unsigned char raw[64];
	unsigned char *in = octets <= sizeof(raw) ? raw : xmalloc(octets);
	char *out = xmalloc(token_length(bits) + 1);

	token_random(in, octets);
	base32_lower(in, octets, out);
	explicit_bzero(in, octets);
	if (in != raw)
		free(in);
	return out;
}

int
token_valid(const char *s, size_t bits)
{
	size_t len = token_length(bits), unused;
	const char *last;

	if (s == NULL || bits == 0 || strlen(s) != len)
		return 0;
	if (strspn(s, b32) != len)
		return 0;
	/* The last character carries len*5 - octets*8 padding bits. */
	unused = len * 5 - (bits + 7) / 8 * 8;
	last = strchr(b32, s[len - 1]);
	return (((unsigned)(last - b32)) & ((1u << unused) - 1)) == 0;
}

int
token_equal(const char *a, const char *b)
{
	size_t la, lb;
	volatile unsigned char diff = 0;

	if (a == NULL || b == NULL)
		return 0;
	la = strlen(a);
	lb = strlen(b);
	if (la != lb)
		return 0;
	/* No early exit: every byte is looked at, whatever differs. */
	for (size_t i = 0; i < la; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}
