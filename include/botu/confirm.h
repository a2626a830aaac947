/*
 * confirm.h - confirmation codes: a sign-up (or a plain "afmelden" without
 * a trusted sender check) takes effect only when the person replies to the
 * mail that carried the code, proving the address is theirs. Codes are 128
 * random bits (token.h), expire, and work once.
 */
#ifndef BOTU_CONFIRM_H
#define BOTU_CONFIRM_H

#include <stdint.h>
#include <time.h>

#include "botu/db.h"

#define CONFIRM_LIFETIME (7 * 24 * 3600)

struct confirm_code {
	char	 kind[16];	/* subscribe | unsubscribe */
	int64_t	 member_id;
	time_t	 expires_at;
	time_t	 used_at;	/* 0: not used */
};

/* A new code for member; *token (owned) is what goes into the mail. */
int	confirm_create(struct botu_db *, const char *kind, int64_t member_id,
	    const char *message_id, time_t expires_at, char **token);

/* 1 and *out when token exists, 0 when not, BOTU_EDATA on error. */
int	confirm_lookup(struct botu_db *, const char *token,
	    struct confirm_code *out);

/* Marks token used now. */
int	confirm_use(struct botu_db *, const char *token);

/* How many codes were made since t, overall: the sign-up wave cap. */
int	confirm_count_since(struct botu_db *, time_t t, int64_t *n);

#endif
