/*
 * token.h - secrets that travel in mail: confirmation and unsubscribe
 * tokens in plus-addresses and subjects, Message-IDs, MIME boundaries.
 *
 * Tokens are RFC 4648 §6 base32 in lowercase without padding: MTAs
 * lower-case local parts, and base32 has no characters that need quoting in
 * an address. 128 bits make 26 characters, so "+bevestig-TOKEN" keeps a
 * local part well under the 64 octets of RFC 5321 §4.5.3.1.1.
 */
#ifndef BOTU_TOKEN_H
#define BOTU_TOKEN_H

#include <stddef.h>

/* The strength botu uses for every token it hands out. */
#define TOKEN_BITS 128

/*
 * Fills buf with n bytes from getrandom(2), the kernel's CSPRNG. Retries on
 * EINTR and short reads; any other failure is fatal (there is no safe
 * fallback for a secret).
 */
void	 token_random(unsigned char *buf, size_t n);

/*
 * The number of characters of a token of bits random bits: bits rounded up
 * to whole octets, then 5 bits a character (128 -> 26).
 */
size_t	 token_length(size_t bits);

/* A new random token of at least bits bits (bits > 0); owned. */
char	*token_new(size_t bits);

/*
 * 1 when s is a token token_new(bits) could have returned: exactly
 * token_length(bits) characters of a-z and 2-7, and the unused low bits of
 * the last character zero (so each value has one spelling). Uppercase is
 * refused: lower-case what came from an address first (str_lower()).
 */
int	 token_valid(const char *s, size_t bits);

/*
 * 1 when a and b are the same string, 0 otherwise (also when either is
 * NULL). The time taken depends on the lengths only, never on where the
 * strings differ, so a guesser learns nothing from timing.
 */
int	 token_equal(const char *a, const char *b);

#endif
