/*
 * verp.h - VERP bounce addresses. With VERP each mail botu sends has its
 * own envelope sender, list+bounce-<id>-<mac>@domain, so a delivery
 * report names the mail that failed by the address it comes back to,
 * however unreadable the report itself is.
 *
 * <id> is the outbox row and <mac> the first 65 bits of
 * HMAC-SHA256(key, "bounce-<id>"), both lowercase base32 (RFC 4648 §6
 * alphabet, no padding; MTAs lowercase local parts). The id is a number in
 * base32 digits ("a" = 0, "b" = 1, "ba" = 32), written without leading
 * "a"s, so each id has one spelling. The key is 32 random octets made on
 * first use and kept in the state table; it never changes, so a bounce
 * address stays valid for good (late bounces). The local part stays
 * within RFC 5321's 64 octets: at most 28 (config.c) + 1 + 7 + 13 + 1 + 13
 * = 63.
 */
#ifndef BOTU_VERP_H
#define BOTU_VERP_H

#include <stdint.h>

#include "botu/config.h"
#include "botu/db.h"

/* The +detail prefix of bounce addresses. */
#define VERP_PREFIX "bounce-"
/* Characters of the MAC (13 x 5 = 65 bits). */
#define VERP_MAC_CHARS 13
/* The state keys: the secret, and what botu check --send-test learnt. */
#define VERP_KEY_STATE "verp.key"
#define VERP_WORKS_STATE "verp.works"

/*
 * 1 when outgoing mail gets a VERP envelope sender: [smtp] verp = yes, or
 * auto and botu check --send-test proved that plus-addresses arrive and
 * the envelope sender survives (state verp.works = yes); never before the
 * send test ran.
 */
int	verp_enabled(struct botu_db *, const struct botu_conf *);

/*
 * The bounce address for outbox row id (id 0: the send test's own mail,
 * which is never a row), owned, in *out. Makes the key on first use, so
 * it needs a writable database and, like every write, the caller's
 * transaction. BOTU_EDATA when the store fails.
 */
int	verp_address(struct botu_db *, const struct botu_conf *, int64_t id,
	    char **out);

/*
 * Gives outbox row id its bounce address as envelope sender when
 * verp_enabled(); otherwise changes nothing. In the caller's transaction.
 */
int	verp_apply(struct botu_db *, const struct botu_conf *, int64_t id);

/*
 * A +detail (lowercase) of the list address: 0 when it is no bounce
 * address at all; 1 with *id when it is one botu made; -1 when it has the
 * form but botu did not make it (wrong MAC, a mangled id) or cannot tell
 * (no key yet: then botu made none).
 */
int	verp_check(struct botu_db *, const char *detail, int64_t *id);

#endif
