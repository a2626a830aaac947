/*
 * addr.h - the list's own addresses: annerike@... and its plus-addresses
 * annerike+ps@..., annerike+bevestig-TOKEN@... (the delimiter comes from
 * [list] recipient_delimiter). MTAs lower-case local parts, so details are
 * compared without case, and tokens are lowercase base32.
 */
#ifndef BOTU_ADDR_H
#define BOTU_ADDR_H

#include "botu/config.h"

/* Longest local part RFC 5321 allows. */
#define ADDR_LOCAL_MAX 64

/* "local+detail@domain"; owned by the caller. detail NULL or "": plain. */
char	*addr_plus(const struct botu_conf *, const char *detail);

/* The details of botu's code addresses; classify.c reads them back. */
#define ADDR_CONFIRM	 "bevestig"	/* a confirmation code */
#define ADDR_UNSUBSCRIBE "afmelden"	/* a member's leave token */

/*
 * "local+kind-token@domain" (kind: ADDR_CONFIRM, ...); owned by the
 * caller. token NULL or "": "local+kind@domain".
 */
char	*addr_token(const struct botu_conf *, const char *kind,
	    const char *token);

/*
 * 1 when addr is the list address or one of its plus-addresses, with
 * *detail (owned, lowercase; "" for the plain address); 0 otherwise.
 */
int	addr_detail(const struct botu_conf *, const char *addr, char **detail);

/* The domain of the list address (borrowed, points into the config). */
const char *addr_domain(const struct botu_conf *);

/* 1 when a and b are the same address: domain without case, and local
 * part without case too (what every provider botu meets does). */
int	addr_equal(const char *a, const char *b);

/* 1 when addr is one of list (NULL-terminated; NULL: empty), by
 * addr_equal(): a moderator, say. */
int	addr_in(char *const *list, const char *addr);

#endif
