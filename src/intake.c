/* intake.c - see intake.h */
#include <gnutls/crypto.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "botu/imap.h"
#include "botu/intake.h"
#include "botu/log.h"
#include "botu/msgworker.h"
#include "botu/util.h"

#define DONE_KEYWORD "$BotuDone"
#define MAX_ATTEMPTS 2

struct intake {
	const struct botu_conf	*conf;
	struct botu_db		*db;
	struct intake_handler	 h;
	struct intake_options	 o;
	struct imap		*imap;
	struct imap_mailbox	 box;
	struct msgworker	*worker;
	const char		*mailbox;
	int			 warned_no_mark;
	time_t			 look_back;	/* 0: none pending */
};

/* A stored message's row, as far as intake needs it. */
struct inrow {
	int64_t	id;
	int	attempts;
	char	state[16];
	int	imap_done;
	char	failure[BOTU_ERRLEN];	/* why the last attempt failed */
};

/* ---- the store's side ---- */

static int
load_state(struct intake *in, uint32_t *uidvalidity, uint32_t *last_uid,
    time_t *updated)
{
	sqlite3_stmt *st = db_stmt(in->db,
	    "SELECT uidvalidity, last_uid, updated_at FROM mailbox_state "
	    "WHERE mailbox = ?");
	int rc;

	sqlite3_bind_text(st, 1, in->mailbox, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*uidvalidity = (uint32_t)sqlite3_column_int64(st, 0);
		*last_uid = (uint32_t)sqlite3_column_int64(st, 1);
		*updated = (time_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : BOTU_EDATA;
}

/* Remembers how far we looked; never moves backwards in one UIDVALIDITY. */
static int
save_state(struct intake *in, uint32_t last_uid)
{
	sqlite3_stmt *st = db_stmt(in->db,
	    "INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid, "
	    "updated_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (mailbox) DO "
	    "UPDATE SET last_uid = CASE WHEN uidvalidity = ?2 THEN "
	    "max(last_uid, ?3) ELSE ?3 END, uidvalidity = ?2, updated_at = ?4");

	if (in->o.dry_run)
		return BOTU_OK;
	sqlite3_bind_text(st, 1, in->mailbox, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, in->box.uidvalidity);
	sqlite3_bind_int64(st, 3, last_uid);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	return db_exec_stmt(in->db, st);
}

static int
get_row(struct intake *in, uint32_t uid, struct inrow *r)
{
	sqlite3_stmt *st = db_stmt(in->db,
	    "SELECT id, attempts, state, imap_done, coalesce(reason, '') "
	    "FROM inbound "
	    "WHERE mailbox = ? AND uidvalidity = ? AND uid = ?");
	int rc;

	memset(r, 0, sizeof(*r));
	sqlite3_bind_text(st, 1, in->mailbox, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, in->box.uidvalidity);
	sqlite3_bind_int64(st, 3, uid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		r->id = sqlite3_column_int64(st, 0);
		r->attempts = sqlite3_column_int(st, 1);
		str_copy(r->state, db_col_text(st, 2), sizeof(r->state));
		r->imap_done = sqlite3_column_int(st, 3);
		str_copy(r->failure, db_col_text(st, 4), sizeof(r->failure));
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : BOTU_EDATA;
}

/*
 * The UID under which the same message (by Message-ID, or by content hash
 * when it has none) was handled before as another row, or 0.
 */
static uint32_t
seen_before(struct intake *in, const char *key, uint32_t uid)
{
	sqlite3_stmt *st = db_stmt(in->db,
	    "SELECT uid FROM inbound WHERE message_id = ?1 AND state IN "
	    "('done', 'left', 'poison') AND NOT (mailbox = ?2 AND "
	    "uidvalidity = ?3 AND uid = ?4) LIMIT 1");
	uint32_t found = 0;

	if (key == NULL || key[0] == '\0')
		return 0;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, in->mailbox, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, in->box.uidvalidity);
	sqlite3_bind_int64(st, 4, uid);
	if (sqlite3_step(st) == SQLITE_ROW)
		found = (uint32_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return found;
}

/*
 * Keeps why handling a message failed (its transaction was rolled back),
 * so that setting it aside later can say so.
 */
static void
note_failure(struct intake *in, uint32_t uid, const char *err)
{
	sqlite3_stmt *st = db_stmt(in->db,
	    "UPDATE inbound SET reason = ? WHERE mailbox = ? AND "
	    "uidvalidity = ? AND uid = ? AND state = 'new'");

	sqlite3_bind_text(st, 1, err, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, in->mailbox, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, in->box.uidvalidity);
	sqlite3_bind_int64(st, 4, uid);
	(void)db_exec_stmt(in->db, st);
}

/*
 * Counts an attempt, committed before the message is fetched or parsed.
 * The count guards against botu itself dying on a message, and a commit
 * survives that without an fsync (SQLite's pragma.html: WAL transactions
 * "are durable across application crashes regardless"); the decision's
 * own commit, with synchronous = FULL, syncs the WAL this frame is in. A
 * power loss in between only forgets one attempt. It halves the fsyncs
 * per message (about 1 ms each on the benchmark machine).
 */
static int
count_attempt(struct intake *in, const struct imap_msginfo *mi,
    int *attempts)
{
	sqlite3_stmt *st = db_stmt(in->db,
	    "INSERT INTO inbound (mailbox, uidvalidity, uid, message_id, "
	    "first_seen, attempts) VALUES (?, ?, ?, ?, ?, 1) "
	    "ON CONFLICT (mailbox, uidvalidity, uid) DO UPDATE SET "
	    "attempts = attempts + 1 RETURNING attempts");
	int rc;

	if (db_exec(in->db, "PRAGMA synchronous = NORMAL") != BOTU_OK)
		return BOTU_EDATA;

	sqlite3_bind_text(st, 1, in->mailbox, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, in->box.uidvalidity);
	sqlite3_bind_int64(st, 3, mi->uid);
	if (mi->message_id != NULL)
		sqlite3_bind_text(st, 4, mi->message_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(st);
	*attempts = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_reset(st);
	/* Every other commit stays FULL (LIBRARIES.md §4.2). */
	if (db_exec(in->db, "PRAGMA synchronous = FULL") != BOTU_OK)
		fatalx("cannot set synchronous = FULL again: %s",
		    db_errmsg(in->db));
	return rc == SQLITE_ROW ? BOTU_OK : BOTU_EDATA;
}

/* Records a message's fate (inside the caller's transaction). */
static int
finish_row(struct intake *in, uint32_t uid, const char *message_id,
    const char *state, const struct message *msg, const char *intent,
    const char *reason)
{
	sqlite3_stmt *st = db_stmt(in->db,
	    "INSERT INTO inbound (mailbox, uidvalidity, uid, message_id, "
	    "first_seen, state, sender, subject, intent, reason, "
	    "finished_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?5) "
	    "ON CONFLICT (mailbox, uidvalidity, uid) DO UPDATE SET "
	    "message_id = coalesce(?4, message_id), state = ?6, sender = ?7, "
	    "subject = ?8, intent = ?9, reason = ?10, finished_at = ?5");

	sqlite3_bind_text(st, 1, in->mailbox, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, in->box.uidvalidity);
	sqlite3_bind_int64(st, 3, uid);
	if (message_id != NULL && message_id[0] != '\0')
		sqlite3_bind_text(st, 4, message_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 6, state, -1, SQLITE_STATIC);
	if (msg != NULL) {
		sqlite3_bind_text(st, 7, msg->from.addr, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, msg->subject, -1, SQLITE_STATIC);
	}
	sqlite3_bind_text(st, 9, intent, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, reason, -1, SQLITE_STATIC);
	return db_exec_stmt(in->db, st);
}

static int
set_imap_done(struct intake *in, uint32_t uid)
{
	sqlite3_stmt *st = db_stmt(in->db,
	    "UPDATE inbound SET imap_done = 1 WHERE mailbox = ? AND "
	    "uidvalidity = ? AND uid = ?");

	sqlite3_bind_text(st, 1, in->mailbox, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, in->box.uidvalidity);
	sqlite3_bind_int64(st, 3, uid);
	return db_exec_stmt(in->db, st);
}

/* A fate that needs no handler: skipped, set aside. One transaction. */
static int
settle(struct intake *in, const struct imap_msginfo *mi, const char *state,
    const char *reason)
{
	int rc;

	if (in->o.dry_run) {
		fprintf(in->o.report, "UID %u: %s: %s\n", mi->uid,
		    strcmp(state, "poison") == 0 ? "would set aside" :
		    "would skip", reason);
		return BOTU_OK;
	}
	if (strcmp(state, "poison") == 0)
		log_warnx("message UID %u %s set aside, left in the mailbox: "
		    "%s", mi->uid, mi->message_id ? mi->message_id : "",
		    reason);
	if (db_begin(in->db) != BOTU_OK)
		return BOTU_ETEMP;
	rc = finish_row(in, mi->uid, mi->message_id, state, NULL, state,
	    reason);
	if (rc == BOTU_OK)
		rc = save_state(in, mi->uid);
	if (rc == BOTU_OK)
		rc = db_commit(in->db);
	if (rc != BOTU_OK)
		db_rollback(in->db);
	return rc;
}

/* ---- the mailbox's side ---- */

/* Marks a handled message done: moved, else flagged, else only stored. */
static int
mark_done(struct intake *in, uint32_t uid, char *err)
{
	const char *dest = in->conf->imap.done_mailbox;
	int rc = BOTU_EPERM;

	if (dest[0] != '\0')
		rc = imap_move(in->imap, uid, dest, err);
	if (rc == BOTU_EPERM && in->box.keywords)
		rc = imap_add_keyword(in->imap, uid, DONE_KEYWORD, err);
	if (rc == BOTU_EPERM) {
		if (!in->warned_no_mark)
			log_warnx("cannot move or flag handled mail in %s: "
			    "%s; the database alone records it", in->mailbox,
			    err);
		in->warned_no_mark = 1;
		rc = BOTU_OK;
	}
	if (rc != BOTU_OK)
		return rc;
	crash_point("after-move");
	return set_imap_done(in, uid);
}

/* After a crash between COMMIT and the move: finish those moves. */
static int
redo_marks(struct intake *in, char *err)
{
	sqlite3_stmt *st = db_stmt(in->db,
	    "SELECT uid FROM inbound WHERE mailbox = ? AND uidvalidity = ? "
	    "AND state = 'done' AND imap_done = 0 ORDER BY uid");
	uint32_t *uids = NULL;
	size_t n = 0;
	int rc = BOTU_OK;

	sqlite3_bind_text(st, 1, in->mailbox, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, in->box.uidvalidity);
	while (sqlite3_step(st) == SQLITE_ROW) {
		uids = xrealloc(uids, (n + 1) * sizeof(*uids));
		uids[n++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	for (size_t i = 0; i < n && rc == BOTU_OK; i++) {
		log_info("finishing the move of UID %u, handled before a "
		    "restart", uids[i]);
		rc = mark_done(in, uids[i], err);
		/* Gone meanwhile (a person moved it): nothing left to do. */
		if (rc == BOTU_EPERM)
			rc = set_imap_done(in, uids[i]);
	}
	free(uids);
	return rc;
}

static int
connect_and_select(struct intake *in, char *err)
{
	int rc;

	if (in->imap != NULL)
		return BOTU_OK;
	in->imap = imap_new(in->conf);
	rc = imap_connect(in->imap, err);
	if (rc == BOTU_OK)
		rc = imap_select(in->imap, in->mailbox, &in->box, err);
	if (rc == BOTU_OK && !in->o.dry_run) {
		char now[32];

		snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
		db_state_set(in->db, "imap.last_login", now);
		if (in->conf->imap.done_mailbox[0] != '\0')
			rc = imap_ensure_mailbox(in->imap,
			    in->conf->imap.done_mailbox, err);
		if (rc == BOTU_EPERM) {
			log_warnx("cannot create %s: %s",
			    in->conf->imap.done_mailbox, err);
			rc = BOTU_OK;
		}
		if (rc == BOTU_OK)
			rc = redo_marks(in, err);
	}
	if (rc != BOTU_OK)
		intake_disconnect(in, 0);
	return rc;
}

/* ---- one message ---- */

/* A key for a message without Message-ID: a hash of its bytes. */
static char *
content_key(const char *data, size_t len)
{
	unsigned char digest[32];
	struct buf b;

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, digest) < 0)
		return NULL;
	buf_init(&b);
	buf_adds(&b, "sha256:");
	for (size_t i = 0; i < sizeof(digest); i++)
		buf_addf(&b, "%02x", digest[i]);
	return buf_detach(&b);
}

static int
parse(struct intake *in, const struct imap_msginfo *mi, int *attempts,
    const char *raw, size_t len, struct message *msg, char *err)
{
	int rc;

	for (;;) {
		rc = msgworker_parse(in->worker, raw, len, msg, err);
		if (rc != BOTU_EPOISON || *attempts >= MAX_ATTEMPTS)
			return rc;
		/* Once more with a fresh worker, counted like the first. */
		if (!in->o.dry_run && count_attempt(in, mi, attempts) !=
		    BOTU_OK) {
			snprintf(err, BOTU_ERRLEN, "the database: %s",
			    db_errmsg(in->db));
			return BOTU_ETEMP;
		}
		if (in->o.dry_run)
			(*attempts)++;
	}
}

static void
report_decision(struct intake *in, const struct imap_msginfo *mi,
    const struct message *msg, const struct intake_decision *d)
{
	fprintf(in->o.report, "UID %u from %s \"%s\": %s (%s): would %s, "
	    "and %s\n", mi->uid, msg->from.addr, msg->subject, d->intent,
	    d->reason, d->action, d->act ? "mark the mail done" :
	    "leave the mail as it is");
}

static int
decide(struct intake *in, const struct imap_msginfo *mi, const char *key,
    const struct message *msg, char *err)
{
	struct intake_decision d = { 0 };
	int rc;

	if (in->o.dry_run) {
		rc = in->h.handle(in->h.arg, in->db, msg, 1, &d, err);
		if (rc == BOTU_OK)
			report_decision(in, mi, msg, &d);
		return rc;
	}
	err[0] = '\0';
	if (db_begin(in->db) != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "the database: %s",
		    db_errmsg(in->db));
		return BOTU_ETEMP;
	}
	rc = in->h.handle(in->h.arg, in->db, msg, 0, &d, err);
	if (rc == BOTU_OK)
		rc = finish_row(in, mi->uid, key, d.act ? "done" : "left",
		    d.erase_sender ? NULL : msg, d.intent, d.reason);
	if (rc == BOTU_OK)
		rc = save_state(in, mi->uid);
	if (rc == BOTU_OK)
		rc = db_commit(in->db);
	if (rc != BOTU_OK) {
		/* The store's own failures come without a text (a full
		 * disk): take it before the rollback replaces it. */
		if (err[0] == '\0')
			snprintf(err, BOTU_ERRLEN, "the database: %s",
			    db_errmsg(in->db));
		db_rollback(in->db);
		log_warnx("UID %u: cannot handle it now: %s", mi->uid, err);
		note_failure(in, mi->uid, err);
		return rc;
	}
	crash_point("after-commit");
	log_info("UID %u from %s: %s (%s)", mi->uid, d.erase_sender ?
	    "(erased)" : log_addr(msg->from.addr), d.intent,
	    d.act ? "handled" : "left for a person");
	return d.act ? mark_done(in, mi->uid, err) : BOTU_OK;
}

/* Fetches, parses and decides one message that is new to the store. */
static int
take(struct intake *in, const struct imap_msginfo *mi, int attempts,
    char *err)
{
	struct message msg = { 0 };
	char *raw = NULL, *key = NULL, why[BOTU_ERRLEN];
	size_t len = 0;
	uint32_t before;
	int rc;

	rc = imap_fetch(in->imap, mi->uid, msgworker_default_limits.max_size,
	    &raw, &len, err);
	if (rc == BOTU_EPERM)
		return settle(in, mi, "skipped", err);
	if (rc != BOTU_OK)
		return rc;
	rc = parse(in, mi, &attempts, raw, len, &msg, why);
	if (rc == BOTU_EPOISON) {
		rc = settle(in, mi, "poison", why);
		goto out;
	}
	if (rc == BOTU_EDATA) {
		rc = settle(in, mi, "left", why);
		goto out;
	}
	if (rc != BOTU_OK) {
		/* The worker could not start or the store failed: why says
		 * which, for the caller's log. */
		snprintf(err, BOTU_ERRLEN, "%s", why);
		goto out;
	}
	key = msg.message_id[0] != '\0' ? xstrdup(msg.message_id) :
	    content_key(raw, len);
	before = seen_before(in, key, mi->uid);
	if (before != 0) {
		snprintf(why, sizeof(why), "the same mail was handled before "
		    "as UID %u", before);
		rc = settle(in, mi, "skipped", why);
		goto out;
	}
	rc = decide(in, mi, key, &msg, err);
out:
	message_clear(&msg);
	free(raw);
	free(key);
	return rc;
}

static int
handle_one(struct intake *in, const struct imap_msginfo *mi, char *err)
{
	struct inrow row;
	uint32_t before;
	char why[BOTU_ERRLEN];
	int rc, attempts;

	rc = get_row(in, mi->uid, &row);
	if (rc < 0)
		return BOTU_ETEMP;
	if (rc == 1 && strcmp(row.state, "new") != 0) {
		/* Handled in an earlier run; finish a missing move. */
		if (strcmp(row.state, "done") == 0 && !row.imap_done &&
		    !in->o.dry_run)
			return mark_done(in, mi->uid, err);
		return save_state(in, mi->uid);
	}
	before = seen_before(in, mi->message_id, mi->uid);
	if (before != 0) {
		snprintf(why, sizeof(why), "%s was handled before as UID %u",
		    mi->message_id, before);
		return settle(in, mi, "skipped", why);
	}
	if (mi->size > msgworker_default_limits.max_size) {
		snprintf(why, sizeof(why), "larger than %zu MiB",
		    msgworker_default_limits.max_size >> 20);
		return settle(in, mi, "poison", why);
	}
	attempts = rc == 1 ? row.attempts : 0;
	if (!in->o.dry_run) {
		if (count_attempt(in, mi, &attempts) != BOTU_OK)
			return BOTU_ETEMP;
		crash_point("after-attempt");
	} else
		attempts++;
	if (attempts > MAX_ATTEMPTS) {
		if (rc == 1 && row.failure[0] != '\0')
			snprintf(why, sizeof(why), "handling it failed %d "
			    "times: %s", attempts - 1, row.failure);
		else
			snprintf(why, sizeof(why), "reading it stopped botu %d "
			    "times", attempts - 1);
		return settle(in, mi, "poison", why);
	}
	return take(in, mi, attempts, err);
}

/* ---- the cycle ---- */

/* The key of a look back after a UIDVALIDITY change still to finish. */
static char *
look_back_key(const struct intake *in)
{
	return xasprintf("intake.look_back.%s", in->mailbox);
}

/*
 * A new UIDVALIDITY: from now on as on a first start, plus a look back at
 * the mail of a day before the last run. The look back is stored with the
 * new state in one transaction and ends only after a whole pass, so that
 * a crash or a stop halfway does not lose the mail not yet looked at.
 */
static int
start_look_back(struct intake *in, time_t updated)
{
	char *key, when[32];
	int rc;

	in->look_back = updated - 86400 > 0 ? updated - 86400 : 1;
	if (in->o.dry_run)
		return BOTU_OK;
	key = look_back_key(in);
	snprintf(when, sizeof(when), "%lld", (long long)in->look_back);
	rc = db_begin(in->db);
	if (rc == BOTU_OK)
		rc = save_state(in, in->box.uidnext > 0 ?
		    in->box.uidnext - 1 : 0);
	if (rc == BOTU_OK)
		rc = db_state_set(in->db, key, when);
	if (rc == BOTU_OK)
		rc = db_commit(in->db);
	if (rc != BOTU_OK)
		db_rollback(in->db);
	free(key);
	return rc == BOTU_OK ? BOTU_OK : BOTU_ETEMP;
}

/* A look back that a crash or a stop broke off, or 0. */
static time_t
pending_look_back(struct intake *in)
{
	char *key = look_back_key(in), *v = NULL;
	long long t = 0;

	if (db_state_get(in->db, key, &v) == 1)
		(void)str_to_int(v, 1, LLONG_MAX, &t);
	free(v);
	free(key);
	return (time_t)t;
}

static void
end_look_back(struct intake *in)
{
	char *key;

	if (in->look_back == 0 || in->o.dry_run)
		return;
	key = look_back_key(in);
	if (db_state_set(in->db, key, NULL) == BOTU_OK)
		in->look_back = 0;
	free(key);
}

static int
list_work(struct intake *in, struct imap_msginfo **list, size_t *n,
    char *err)
{
	uint32_t uidvalidity = 0, last_uid = 0;
	time_t updated = 0, since;
	int known;

	known = load_state(in, &uidvalidity, &last_uid, &updated);
	if (known < 0)
		return BOTU_ETEMP;
	in->look_back = known ? pending_look_back(in) : 0;
	if (known && uidvalidity != in->box.uidvalidity) {
		log_warnx("UIDVALIDITY of %s changed from %u to %u: looking "
		    "again at mail since a day before the last run; mail "
		    "handled before is known by its Message-ID", in->mailbox,
		    uidvalidity, in->box.uidvalidity);
		if (start_look_back(in, updated) != BOTU_OK)
			return BOTU_ETEMP;
	} else if (in->look_back != 0)
		log_info("finishing the look back at %s after its UIDVALIDITY "
		    "changed", in->mailbox);
	since = in->o.since;
	if (in->look_back != 0 && (since == 0 || in->look_back < since))
		since = in->look_back;
	if (since != 0)
		return imap_list_since(in->imap, since, list, n, err);
	if (!known) {
		/* A person's inbox: leave everything that is already there. */
		if (in->o.dry_run)
			fprintf(in->o.report, "first start: the %u messages "
			    "in %s stay as they are; mail from UID %u on "
			    "will be read\n", in->box.exists, in->mailbox,
			    in->box.uidnext);
		else
			log_info("first start on %s: leaving the %u messages "
			    "there alone; reading from UID %u on",
			    in->mailbox, in->box.exists, in->box.uidnext);
		return save_state(in, in->box.uidnext > 0 ?
		    in->box.uidnext - 1 : 0);
	}
	return imap_list(in->imap, last_uid, list, n, err);
}

int
intake_cycle(struct intake *in, int *handled, char err[BOTU_ERRLEN])
{
	struct imap_msginfo *list = NULL;
	size_t n = 0, i = 0;
	int rc;

	*handled = 0;
	err[0] = '\0';
	rc = connect_and_select(in, err);
	if (rc != BOTU_OK)
		return rc;
	rc = list_work(in, &list, &n, err);
	for (i = 0; i < n && rc == BOTU_OK; i++) {
		if (in->o.stop != NULL && *in->o.stop)
			break;
		rc = handle_one(in, &list[i], err);
		if (rc == BOTU_OK)
			(*handled)++;
	}
	/*
	 * A look back ends with a whole pass, not with a stop halfway; so
	 * does --since in the daemon, which then reads on from the last UID
	 * instead of listing all that mail again in every cycle.
	 */
	if (rc == BOTU_OK && i == n) {
		end_look_back(in);
		in->o.since = 0;
	}
	imap_msginfo_free(list, n);
	/* The store's failures (BOTU_ETEMP) come without a text of their
	 * own; the caller logs and records err (valgrind saw it unset). */
	if (rc != BOTU_OK && err[0] == '\0')
		snprintf(err, BOTU_ERRLEN, "the database: %s",
		    db_errmsg(in->db));
	if (rc == BOTU_ECONN || rc == BOTU_EAUTH)
		intake_disconnect(in, 0);
	return rc;
}

int
intake_wait(struct intake *in, int timeout_s, int wake_fd,
    char err[BOTU_ERRLEN])
{
	struct imap_caps caps;
	int rc;

	if (in->imap == NULL)
		return BOTU_ECONN;
	caps = imap_caps(in->imap);
	if (in->conf->imap.idle && caps.idle) {
		if (timeout_s > in->conf->imap.idle_minutes * 60)
			timeout_s = in->conf->imap.idle_minutes * 60;
	} else if (timeout_s > in->conf->imap.poll_seconds)
		timeout_s = in->conf->imap.poll_seconds;
	rc = imap_wait(in->imap, timeout_s, wake_fd, err);
	if (rc < 0)
		intake_disconnect(in, 0);
	return rc;
}

void
intake_disconnect(struct intake *in, int logout)
{
	if (in->imap == NULL)
		return;
	if (logout)
		imap_logout(in->imap);
	else
		imap_free(in->imap);
	in->imap = NULL;
}

struct intake *
intake_new(const struct botu_conf *conf, struct botu_db *db,
    const struct intake_handler *h, const struct intake_options *o)
{
	struct intake *in = xcalloc(1, sizeof(*in));

	in->conf = conf;
	in->db = db;
	in->h = *h;
	in->o = *o;
	if (in->o.report == NULL)
		in->o.report = stdout;
	in->mailbox = conf->imap.mailbox;
	in->worker = msgworker_new(o->worker_exe != NULL ? o->worker_exe :
	    "/proc/self/exe", &msgworker_default_limits);
	return in;
}

void
intake_free(struct intake *in)
{
	if (in == NULL)
		return;
	intake_disconnect(in, 1);
	msgworker_free(in->worker);
	free(in);
}

int
intake_counts(struct botu_db *db, struct intake_counts *c)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT count(*) FILTER (WHERE state = 'done'), "
	    "count(*) FILTER (WHERE state = 'left'), "
	    "count(*) FILTER (WHERE state = 'poison') FROM inbound");
	int rc = sqlite3_step(st);

	memset(c, 0, sizeof(*c));
	if (rc == SQLITE_ROW) {
		c->done = sqlite3_column_int64(st, 0);
		c->left = sqlite3_column_int64(st, 1);
		c->poison = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? BOTU_OK : BOTU_EDATA;
}
