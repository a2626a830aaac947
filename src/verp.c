/* verp.c - see verp.h */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "botu/addr.h"
#include "botu/token.h"
#include "botu/util.h"
#include "botu/verp.h"

#define KEY_OCTETS 32
#define ID_CHARS 13		/* 63 bits */

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

int
verp_enabled(struct botu_db *db, const struct botu_conf *conf)
{
	char *v = NULL;
	int yes;

	if (conf->smtp.verp == VERP_YES)
		return 1;
	if (conf->smtp.verp == VERP_NO)
		return 0;
	yes = db_state_get(db, VERP_WORKS_STATE, &v) == 1 &&
	    strcmp(v, "yes") == 0;
	free(v);
	return yes;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The key from the store: 1, 0 when there is none, -1 when unreadable. */
static int
load_key(struct botu_db *db, unsigned char key[KEY_OCTETS])
{
	char *v = NULL;
	int rc = 0;

	if (db_state_get(db, VERP_KEY_STATE, &v) != 1)
		return 0;
	if (strlen(v) != 2 * KEY_OCTETS)
		rc = -1;
	for (size_t i = 0; rc == 0 && i < KEY_OCTETS; i++) {
		int hi = hexval(v[2 * i]), lo = hexval(v[2 * i + 1]);

		if (hi < 0 || lo < 0)
			rc = -1;
		else
			key[i] = (unsigned char)(hi << 4 | lo);
	}
	explicit_bzero(v, strlen(v));
	free(v);
	return rc == 0 ? 1 : -1;
}

static int
make_key(struct botu_db *db, unsigned char key[KEY_OCTETS])
{
	char hex[2 * KEY_OCTETS + 1];
	int rc;

	token_random(key, KEY_OCTETS);
	for (size_t i = 0; i < KEY_OCTETS; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	rc = db_state_set(db, VERP_KEY_STATE, hex);
	explicit_bzero(hex, sizeof(hex));
	return rc;
}

/* The id in base32 digits, most significant first, no leading "a". */
static void
id_encode(int64_t id, char out[ID_CHARS + 1])
{
	char tmp[ID_CHARS];
	uint64_t v = (uint64_t)id;
	size_t n = 0;

	do {
		tmp[n++] = b32[v & 31];
		v >>= 5;
	} while (v != 0 && n < ID_CHARS);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
}

/* -1 unless s (len octets) is an id as id_encode() writes it. */
static int
id_decode(const char *s, size_t len, int64_t *id)
{
	uint64_t v = 0;

	if (len == 0 || len > ID_CHARS || (len > 1 && s[0] == 'a'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		const char *p = strchr(b32, s[i]);

		if (s[i] == '\0' || p == NULL || v > (uint64_t)INT64_MAX >> 5)
			return -1;
		v = v << 5 | (uint64_t)(p - b32);
	}
	*id = (int64_t)v;
	return 0;
}

/* The 13-character MAC of "bounce-<id32>". */
static int
mac(const unsigned char key[KEY_OCTETS], const char *id32,
    char out[VERP_MAC_CHARS + 1])
{
	unsigned char digest[32];
	char *msg = xasprintf(VERP_PREFIX "%s", id32);
	int rc;

	rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, KEY_OCTETS, msg,
	    strlen(msg), digest);
	free(msg);
	if (rc < 0)
		return -1;
	/* 65 bits: 5 at a time from the start of the digest */
	for (int i = 0; i < VERP_MAC_CHARS; i++) {
		int bit = i * 5, v = 0;

		for (int k = 0; k < 5; k++, bit++)
			v = v << 1 | ((digest[bit / 8] >> (7 - bit % 8)) & 1);
		out[i] = b32[v];
	}
	out[VERP_MAC_CHARS] = '\0';
	explicit_bzero(digest, sizeof(digest));
	return 0;
}

int
verp_address(struct botu_db *db, const struct botu_conf *conf, int64_t id,
    char **out)
{
	unsigned char key[KEY_OCTETS];
	char id32[ID_CHARS + 1], m[VERP_MAC_CHARS + 1], *detail;
	int rc;

	*out = NULL;
	rc = load_key(db, key);
	if (rc == 0)
		rc = make_key(db, key) == BOTU_OK ? 1 : -1;
	if (rc < 0 || id < 0)
		return BOTU_EDATA;
	id_encode(id, id32);
	rc = mac(key, id32, m);
	explicit_bzero(key, sizeof(key));
	if (rc < 0)
		return BOTU_EDATA;
	detail = xasprintf(VERP_PREFIX "%s-%s", id32, m);
	*out = addr_plus(conf, detail);
	free(detail);
	return BOTU_OK;
}

int
verp_apply(struct botu_db *db, const struct botu_conf *conf, int64_t id)
{
	sqlite3_stmt *st;
	char *from = NULL;
	int rc;

	if (!verp_enabled(db, conf))
		return BOTU_OK;
	rc = verp_address(db, conf, id, &from);
	if (rc != BOTU_OK)
		return rc;
	st = db_stmt(db, "UPDATE outbox SET envelope_from = ? WHERE id = ?");
	sqlite3_bind_text(st, 1, from, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, id);
	rc = db_exec_stmt(db, st);
	free(from);
	return rc;
}

int
verp_check(struct botu_db *db, const char *detail, int64_t *id)
{
	size_t plen = strlen(VERP_PREFIX), n;
	const char *p, *dash;
	unsigned char key[KEY_OCTETS];
	char id32[ID_CHARS + 1], want[VERP_MAC_CHARS + 1];
	int rc;

	if (strncmp(detail, VERP_PREFIX, plen) != 0)
		return 0;
	p = detail + plen;
	dash = strrchr(p, '-');
	if (dash == NULL || strlen(dash + 1) != VERP_MAC_CHARS)
		return -1;
	n = (size_t)(dash - p);
	if (id_decode(p, n, id) < 0)
		return -1;
	memcpy(id32, p, n);
	id32[n] = '\0';
	if (db == NULL || load_key(db, key) != 1)
		return -1;
	rc = mac(key, id32, want);
	explicit_bzero(key, sizeof(key));
	if (rc < 0 || !token_equal(want, dash + 1))
		return -1;
	return 1;
}
