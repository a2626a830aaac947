/* retention.c - see retention.h */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "botu/digest.h"
#include "botu/log.h"
#include "botu/members.h"
#include "botu/notes.h"
#include "botu/retention.h"
#include "botu/token.h"
#include "botu/util.h"

#define SALT_KEY "privacy.salt"
#define CHECKPOINT_KEY "privacy.checkpoint"
#define LAST_RUN_KEY "privacy.last_run"
#define SALT_OCTETS 32
#define RUN_EVERY 3600		/* seconds between retention passes */
#define BATCH 100		/* members erased per transaction */
#define DAY 86400

/* ---- the salted hash ---- */

static int
salt(struct botu_db *db, char **out)
{
	unsigned char raw[SALT_OCTETS];
	struct buf b;
	int rc;

	rc = db_state_get(db, SALT_KEY, out);
	if (rc != 0)
		return rc == 1 ? BOTU_OK : BOTU_EDATA;
	token_random(raw, sizeof(raw));
	buf_init(&b);
	for (size_t i = 0; i < sizeof(raw); i++)
		buf_addf(&b, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	rc = db_state_set(db, SALT_KEY, b.s);
	if (rc != BOTU_OK) {
		buf_free(&b);
		return rc;
	}
	*out = buf_detach(&b);
	return BOTU_OK;
}

/* HMAC-SHA256 under the salt of the lowercased text, as hex. */
static int
hash_text(struct botu_db *db, const char *text, char out[RETENTION_HASH_LEN])
{
	unsigned char digest[32];
	char *key = NULL, *lower = str_lower(xstrdup(text));
	int rc;

	out[0] = '\0';
	rc = salt(db, &key);
	if (rc == BOTU_OK && gnutls_hmac_fast(GNUTLS_MAC_SHA256, key,
	    strlen(key), lower, strlen(lower), digest) < 0)
		rc = BOTU_EDATA;
	if (rc == BOTU_OK)
		for (size_t i = 0; i < sizeof(digest); i++)
			snprintf(out + 2 * i, 3, "%02x", digest[i]);
	free(key);
	free(lower);
	return rc;
}

int
retention_hash(struct botu_db *db, const char *address,
    char out[RETENTION_HASH_LEN])
{
	char *a = str_trim(xstrdup(address));
	int rc = hash_text(db, a, out);

	free(a);
	return rc;
}

int
retention_suppressed(struct botu_db *db, const char *address,
    const char **reason)
{
	char h[RETENTION_HASH_LEN];
	sqlite3_stmt *st;
	int rc;

	if (reason != NULL)
		*reason = NULL;
	if (retention_hash(db, address, h) != BOTU_OK)
		return BOTU_EDATA;
	st = db_stmt(db, "SELECT reason FROM suppressed WHERE hash = ?");
	sqlite3_bind_text(st, 1, h, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && reason != NULL)
		*reason = strcmp(db_col_text(st, 0), "left") == 0 ? "left" :
		    "forgotten";
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : BOTU_EDATA;
}

int
retention_suppress(struct botu_db *db, const char *address,
    const char *reason)
{
	char h[RETENTION_HASH_LEN];
	sqlite3_stmt *st;

	if (retention_hash(db, address, h) != BOTU_OK)
		return BOTU_EDATA;
	st = db_stmt(db, "INSERT INTO suppressed (hash, reason, at) "
	    "VALUES (?1, ?2, ?3) ON CONFLICT (hash) DO UPDATE SET "
	    "reason = ?2, at = ?3");
	sqlite3_bind_text(st, 1, h, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	return db_exec_stmt(db, st);
}

int
retention_unsuppress(struct botu_db *db, const char *address)
{
	char h[RETENTION_HASH_LEN];
	sqlite3_stmt *st;

	if (retention_hash(db, address, h) != BOTU_OK)
		return BOTU_EDATA;
	st = db_stmt(db, "DELETE FROM suppressed WHERE hash = ?");
	sqlite3_bind_text(st, 1, h, -1, SQLITE_STATIC);
	return db_exec_stmt(db, st);
}

/* ---- erasing ---- */

/*
 * Mail bodies as stored are quoted-printable: a soft line break ("=" at
 * a line end) may split an address, and a "." that starts a line is
 * written "=2E". Searched with both undone.
 */
#define BODY_TEXT "lower(replace(replace(CAST(body AS TEXT), " \
	"'=' || char(13, 10), ''), '=2E', '.'))"

/*
 * Everything that names the member, as literals (db_stmt caches by
 * pointer). ?1 the member's id, ?2 the address in lower case, ?3 now.
 * Rows of the member go with it (ON DELETE CASCADE): events, codes,
 * notes and their codes, bounces, the bounce state, outbox rows.
 */
/*
 * Invitations and answers (meeting_invites) go with the member row; the
 * member's notes and updates leave the stored digest issues by
 * digest_forget_member().
 */
static const char *const erase_sql[] = {
	/* mail to them, and queued mail about them */
	"DELETE FROM outbox WHERE member_id = ?1 OR rcpt = ?2 OR "
	"(status = 'queued' AND body IS NOT NULL AND "
	"instr(" BODY_TEXT ", ?2) > 0)",
	/* mail about them that went: the row stays, the text goes */
	"UPDATE outbox SET body = NULL, purged_at = ?3 WHERE "
	"body IS NOT NULL AND instr(" BODY_TEXT ", ?2) > 0",
	"UPDATE outbox SET last_error = NULL WHERE "
	"instr(lower(last_error), ?2) > 0",
	/* the record of handled mail keeps only the Message-ID */
	"UPDATE inbound SET sender = NULL, subject = NULL, reason = NULL "
	"WHERE lower(sender) = ?2 OR instr(lower(subject), ?2) > 0 OR "
	"instr(lower(reason), ?2) > 0",
	"UPDATE events SET detail = '' WHERE instr(lower(detail), ?2) > 0",
	"UPDATE events SET message_id = NULL WHERE "
	"instr(lower(message_id), ?2) > 0",
	"DELETE FROM bounces WHERE lower(address) = ?2",
	"UPDATE bounces SET detail = '' WHERE instr(lower(detail), ?2) > 0",
	"DELETE FROM note_tokens WHERE lower(address) = ?2",
	"DELETE FROM privacy_tokens WHERE lower(address) = ?2",
	"DELETE FROM post_tokens WHERE lower(address) = ?2",
	"DELETE FROM posts WHERE member_id = ?1 OR lower(author) = ?2",
	"DELETE FROM members WHERE id = ?1",
};

static const char *
erase_detail(enum retention_why why)
{
	switch (why) {
	case RETENTION_FORGOTTEN:
		return "a member was erased on request";
	case RETENTION_LEFT:
		return "a member who left was erased ([privacy] leavers_days)";
	default:
		return "a sign-up that nobody confirmed was erased";
	}
}

int
retention_erase(struct botu_db *db, const char *address,
    enum retention_why why, const char *actor, int *published,
    char err[BOTU_ERRLEN])
{
	struct member m;
	char *lower = NULL;
	sqlite3_stmt *st;
	int rc, pub = 0;

	if (published != NULL)
		*published = 0;
	rc = members_get(db, address, &m);
	if (rc <= 0) {
		snprintf(err, BOTU_ERRLEN, rc < 0 ? "%s" : "%s is not known",
		    rc < 0 ? db_errmsg(db) : address);
		return rc < 0 ? BOTU_EDATA : BOTU_EPERM;
	}
	lower = str_lower(xstrdup(m.email));
	rc = notes_forget(db, m.id, &pub);
	if (rc == BOTU_OK)
		rc = digest_forget_member(db, m.id);
	for (size_t i = 0; i < NELEM(erase_sql) && rc == BOTU_OK; i++) {
		st = db_stmt(db, erase_sql[i]);
		sqlite3_bind_int64(st, 1, m.id);
		sqlite3_bind_text(st, 2, lower, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
		rc = db_exec_stmt(db, st);
	}
	if (rc == BOTU_OK && why != RETENTION_EXPIRED)
		rc = retention_suppress(db, lower, why == RETENTION_LEFT ?
		    "left" : "forgotten");
	if (rc == BOTU_OK)
		rc = db_event(db, 0, "forget", actor, NULL, erase_detail(why));
	if (rc == BOTU_OK)
		rc = db_state_set(db, CHECKPOINT_KEY, "1");
	if (rc != BOTU_OK)
		snprintf(err, BOTU_ERRLEN, "cannot erase %s: %s", address,
		    db_errmsg(db));
	else if (published != NULL)
		*published = pub;
	member_clear(&m);
	free(lower);
	return rc;
}

int
retention_checkpoint(struct botu_db *db)
{
	sqlite3_stmt *st = NULL;
	int busy = 1, rc;

	/* Cleared first: this write lands in the log the checkpoint empties. */
	if (db_state_set(db, CHECKPOINT_KEY, NULL) != BOTU_OK)
		return BOTU_ETEMP;
	rc = sqlite3_prepare_v2(db_sqlite(db),
	    "PRAGMA wal_checkpoint(TRUNCATE)", -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		busy = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (busy == 0)
		return BOTU_OK;
	(void)db_state_set(db, CHECKPOINT_KEY, "1");
	return BOTU_ETEMP;
}

/* ---- the periodic pass ---- */

/* Up to BATCH addresses that a query (with ?1 = a time) finds. */
static char **
addresses(struct botu_db *db, sqlite3_stmt *st, int64_t t, int64_t t2)
{
	char **v = NULL;

	sqlite3_bind_int64(st, 1, t);
	sqlite3_bind_int64(st, 2, t2);
	while (sqlite3_step(st) == SQLITE_ROW)
		v = strv_add(v, db_col_text(st, 0));
	sqlite3_reset(st);
	(void)db;
	return v;
}

static int
erase_all(struct botu_db *db, char **who, enum retention_why why, int *n,
    char *err)
{
	int rc = BOTU_OK, done = 0;

	if (who == NULL)
		return BOTU_OK;
	if (db_begin(db) != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "%s", db_errmsg(db));
		return BOTU_ETEMP;
	}
	for (size_t i = 0; who[i] != NULL && rc == BOTU_OK; i++) {
		rc = retention_erase(db, who[i], why, "daemon", NULL, err);
		if (rc == BOTU_OK)
			done++;
	}
	if (rc == BOTU_OK && db_commit(db) != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "%s", db_errmsg(db));
		rc = BOTU_ETEMP;
	}
	if (rc != BOTU_OK)
		db_rollback(db);
	else
		*n += done;
	return rc;
}

/*
 * Erases, BATCH at a time, the members whose addresses st (?1 the cut-off,
 * ?2 the batch size) lists, until it lists none or none more go.
 */
static int
erase_batches(struct botu_db *db, sqlite3_stmt *st, int64_t cutoff,
    enum retention_why why, int *n, char *err)
{
	char **who;
	int rc, before, listed;

	do {
		before = *n;
		who = addresses(db, st, cutoff, BATCH);
		listed = who != NULL;
		rc = erase_all(db, who, why, n, err);
		strv_free(who);
	} while (rc == BOTU_OK && listed && *n != before);
	return rc;
}

/* Sign-ups whose every code expired pending_days ago and more. */
static int
purge_expired(const struct botu_conf *conf, struct botu_db *db, time_t now,
    int *n, char *err)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT email FROM members m WHERE "
	    "status = 'pending' AND EXISTS (SELECT 1 FROM tokens t WHERE "
	    "t.member_id = m.id) AND NOT EXISTS (SELECT 1 FROM tokens t "
	    "WHERE t.member_id = m.id AND t.expires_at > ?1) "
	    "ORDER BY id LIMIT ?2");

	return erase_batches(db, st, (int64_t)now -
	    (int64_t)conf->privacy.pending_days * DAY, RETENTION_EXPIRED, n,
	    err);
}

/* Members who left leavers_days ago and more. */
static int
purge_leavers(const struct botu_conf *conf, struct botu_db *db, time_t now,
    int *n, char *err)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT email FROM members WHERE "
	    "status = 'unsubscribed' AND coalesce(left_at, updated_at) <= ?1 "
	    "ORDER BY id LIMIT ?2");

	return erase_batches(db, st, (int64_t)now -
	    (int64_t)conf->privacy.leavers_days * DAY, RETENTION_LEFT, n, err);
}

/* One UPDATE with ?1 = now and ?2 = a cut-off, in a transaction. */
static int
update_before(struct botu_db *db, const char *sql, time_t now,
    int64_t cutoff, int *n, char *err)
{
	sqlite3_stmt *st;
	int rc;

	if (db_begin(db) != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "%s", db_errmsg(db));
		return BOTU_ETEMP;
	}
	st = db_stmt(db, sql);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 2, cutoff);
	rc = db_exec_stmt(db, st);
	if (rc == BOTU_OK)
		*n += db_changes(db);
	if (rc == BOTU_OK)
		rc = db_commit(db);
	if (rc != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "%s", db_errmsg(db));
		db_rollback(db);
	}
	return rc;
}

/*
 * Text with every address in it replaced by "h:" and the first 16 hex
 * digits of its hash: the same address stays the same pseudonym, so the
 * history still tells one person from another. Owned.
 */
static char *
pseudonymise(struct botu_db *db, const char *text)
{
	static const char addr_chars[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+/=?^_`{|}~-";
	char h[RETENTION_HASH_LEN];
	const char *p = text, *at;
	struct buf b;

	buf_init(&b);
	while ((at = strchr(p, '@')) != NULL) {
		const char *s = at, *e = at + 1;
		char *a;

		while (s > p && strchr(addr_chars, s[-1]) != NULL)
			s--;
		while (*e != '\0' && (isalnum((unsigned char)*e) ||
		    *e == '.' || *e == '-'))
			e++;
		while (e > at + 1 && e[-1] == '.')
			e--;
		if (s == at || e == at + 1) {
			buf_add(&b, p, (size_t)(at + 1 - p));
			p = at + 1;
			continue;
		}
		buf_add(&b, p, (size_t)(s - p));
		a = xstrndup(s, (size_t)(e - s));
		if (hash_text(db, a, h) == BOTU_OK)
			buf_addf(&b, "h:%.16s", h);
		free(a);
		p = e;
	}
	buf_adds(&b, p);
	return buf_detach(&b);
}

/* A Message-ID as a pseudonym ("h:..."); none stays NULL. */
static void
bind_pseudo_id(struct botu_db *db, sqlite3_stmt *st, int i, const char *id)
{
	char h[RETENTION_HASH_LEN];

	if (id[0] == '\0')
		return;
	if (strncmp(id, "h:", 2) == 0)
		sqlite3_bind_text(st, i, id, -1, SQLITE_TRANSIENT);
	else if (hash_text(db, id, h) == BOTU_OK)
		sqlite3_bind_text(st, i, xasprintf("h:%.32s", h), -1, free);
}

struct pseudo_row {
	int64_t	 id;
	char	*a;	/* message_id or address */
	char	*b;	/* detail */
	char	*c;	/* bounces: message_id */
};

/* Rows of a SELECT id, a, b[, c] into an array of up to BATCH. */
static struct pseudo_row *
pseudo_rows(sqlite3_stmt *st, int64_t cutoff, int cols, size_t *n)
{
	struct pseudo_row *v = xcalloc(BATCH, sizeof(*v));

	*n = 0;
	sqlite3_bind_int64(st, 1, cutoff);
	sqlite3_bind_int(st, 2, BATCH);
	while (*n < BATCH && sqlite3_step(st) == SQLITE_ROW) {
		v[*n].id = sqlite3_column_int64(st, 0);
		v[*n].a = xstrdup(db_col_text(st, 1));
		v[*n].b = xstrdup(db_col_text(st, 2));
		v[*n].c = xstrdup(cols > 3 ? db_col_text(st, 3) : "");
		(*n)++;
	}
	sqlite3_reset(st);
	return v;
}

static void
pseudo_rows_free(struct pseudo_row *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].a);
		free(v[i].b);
		free(v[i].c);
	}
	free(v);
}

/* One batch of events older than cutoff; *left: 1 when more wait. */
static int
pseudo_events(struct botu_db *db, int64_t cutoff, int *n, int *left)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id, coalesce(message_id, ''),"
	    " detail FROM events WHERE pseudonymised = 0 AND at <= ?1 "
	    "ORDER BY id LIMIT ?2");
	struct pseudo_row *rows;
	size_t count;
	int rc = BOTU_OK;

	rows = pseudo_rows(st, cutoff, 3, &count);
	*left = count == BATCH;
	st = db_stmt(db, "UPDATE events SET message_id = ?, detail = ?, "
	    "pseudonymised = 1 WHERE id = ?");
	for (size_t i = 0; i < count && rc == BOTU_OK; i++) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		bind_pseudo_id(db, st, 1, rows[i].a);
		sqlite3_bind_text(st, 2, pseudonymise(db, rows[i].b), -1, free);
		sqlite3_bind_int64(st, 3, rows[i].id);
		rc = db_exec_stmt(db, st);
		if (rc == BOTU_OK)
			(*n)++;
	}
	pseudo_rows_free(rows, count);
	return rc;
}

/* The same for bounce records: address, detail and Message-ID. */
static int
pseudo_bounces(struct botu_db *db, int64_t cutoff, int *n, int *left)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id, address, detail, "
	    "coalesce(message_id, '') FROM bounces WHERE at <= ?1 AND "
	    "address NOT LIKE 'h:%' ORDER BY id LIMIT ?2");
	struct pseudo_row *rows;
	size_t count;
	int rc = BOTU_OK;

	rows = pseudo_rows(st, cutoff, 4, &count);
	*left = count == BATCH;
	st = db_stmt(db, "UPDATE bounces SET address = ?, detail = ?, "
	    "message_id = ? WHERE id = ?");
	for (size_t i = 0; i < count && rc == BOTU_OK; i++) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		sqlite3_bind_text(st, 1, pseudonymise(db, rows[i].a), -1,
		    free);
		sqlite3_bind_text(st, 2, pseudonymise(db, rows[i].b), -1, free);
		bind_pseudo_id(db, st, 3, rows[i].c);
		sqlite3_bind_int64(st, 4, rows[i].id);
		rc = db_exec_stmt(db, st);
		if (rc == BOTU_OK)
			(*n)++;
	}
	pseudo_rows_free(rows, count);
	return rc;
}

static int
pseudo_all(const struct botu_conf *conf, struct botu_db *db, time_t now,
    int *n, char *err)
{
	int64_t cutoff = (int64_t)now - (int64_t)conf->privacy.events_days *
	    DAY;
	int rc = BOTU_OK, more = 1, more2 = 1;

	while (rc == BOTU_OK && (more || more2)) {
		if (db_begin(db) != BOTU_OK) {
			rc = BOTU_ETEMP;
			break;
		}
		rc = pseudo_events(db, cutoff, n, &more);
		if (rc == BOTU_OK)
			rc = pseudo_bounces(db, cutoff, n, &more2);
		if (rc == BOTU_OK)
			rc = db_commit(db);
		if (rc != BOTU_OK)
			db_rollback(db);
	}
	if (rc != BOTU_OK)
		snprintf(err, BOTU_ERRLEN, "%s", db_errmsg(db));
	return rc;
}

int
retention_run(const struct botu_conf *conf, struct botu_db *db, time_t now,
    struct retention_counts *c, char err[BOTU_ERRLEN])
{
	int rc;

	memset(c, 0, sizeof(*c));
	rc = purge_expired(conf, db, now, &c->expired, err);
	if (rc == BOTU_OK)
		rc = purge_leavers(conf, db, now, &c->leavers, err);
	if (rc == BOTU_OK)
		rc = update_before(db, "UPDATE outbox SET body = NULL, "
		    "purged_at = ?1 WHERE status != 'queued' AND body IS NOT "
		    "NULL AND coalesce(sent_at, created_at) <= ?2", now,
		    (int64_t)now - (int64_t)conf->privacy.mail_body_days * DAY,
		    &c->bodies, err);
	if (rc == BOTU_OK)
		rc = update_before(db, "UPDATE inbound SET sender = NULL, "
		    "subject = NULL, reason = NULL WHERE (sender IS NOT NULL "
		    "OR subject IS NOT NULL OR reason IS NOT NULL) AND "
		    "state != 'new' AND "
		    "coalesce(finished_at, first_seen) <= ?2", now,
		    (int64_t)now - (int64_t)conf->privacy.inbound_days * DAY,
		    &c->inbound, err);
	if (rc == BOTU_OK)
		rc = pseudo_all(conf, db, now, &c->events, err);
	if (c->expired + c->leavers + c->bodies > 0)
		(void)retention_checkpoint(db);
	return rc;
}

void
retention_tick(const struct botu_conf *conf, struct botu_db *db, time_t now)
{
	struct retention_counts c;
	char err[BOTU_ERRLEN], *v = NULL, when[32];
	long long last = 0;
	int rc;

	if (db_state_get(db, CHECKPOINT_KEY, &v) == 1 &&
	    retention_checkpoint(db) != BOTU_OK)
		log_info("privacy: the write-ahead log is in use; "
		    "checkpointing it later");
	free(v);
	v = NULL;
	if (db_state_get(db, LAST_RUN_KEY, &v) == 1)
		(void)str_to_int(v, 0, LLONG_MAX, &last);
	free(v);
	if (last != 0 && now >= last && now - last < RUN_EVERY)
		return;
	rc = retention_run(conf, db, now, &c, err);
	if (rc != BOTU_OK)
		log_warnx("privacy: retention: %s", err);
	if (c.expired + c.leavers > 0)
		log_info("privacy: erased %d sign-up%s nobody confirmed and %d "
		    "member%s who left", c.expired, c.expired == 1 ? "" : "s",
		    c.leavers, c.leavers == 1 ? "" : "s");
	if (c.bodies + c.inbound + c.events > 0)
		log_info("privacy: purged %d mail text%s, %d sender%s of "
		    "handled mail, pseudonymised %d record%s", c.bodies,
		    c.bodies == 1 ? "" : "s", c.inbound,
		    c.inbound == 1 ? "" : "s", c.events,
		    c.events == 1 ? "" : "s");
	snprintf(when, sizeof(when), "%lld", (long long)now);
	if (rc == BOTU_OK && db_state_set(db, LAST_RUN_KEY, when) != BOTU_OK)
		log_warnx("privacy: %s", db_errmsg(db));
}
