/* db.c - see db.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "botu/db.h"
#include "botu/log.h"
#include "botu/util.h"

#define BUSY_TIMEOUT_MS 10000
#define STMT_CACHE 512	/* every module's statements on one connection */

struct stmt_slot {
	const char	*sql;
	sqlite3_stmt	*st;
};

struct botu_db {
	sqlite3		*h;
	int		 readonly;
	struct stmt_slot cache[STMT_CACHE];
	size_t		 ncache;
};

/*
 * Migration i brings the schema from version i to i + 1. Never edit one
 * that has shipped: add another.
 */
static const char *const migrations[] = {
	/* 1: members and the events that explain them */
	"CREATE TABLE members ("
	"  id INTEGER PRIMARY KEY,"
	"  email TEXT NOT NULL COLLATE NOCASE UNIQUE,"
	"  name TEXT NOT NULL DEFAULT '',"
	"  role TEXT NOT NULL DEFAULT '',"
	"  language TEXT NOT NULL DEFAULT 'nl'"
	"    CHECK (language IN ('nl', 'en')),"
	"  status TEXT NOT NULL DEFAULT 'pending'"
	"    CHECK (status IN ('pending', 'active', 'unsubscribed')),"
	"  delivery TEXT NOT NULL DEFAULT 'on'"
	"    CHECK (delivery IN ('on', 'bouncing', 'disabled')),"
	"  digest TEXT NOT NULL DEFAULT 'weekly'"
	"    CHECK (digest IN ('weekly', 'monthly', 'off')),"
	"  core INTEGER NOT NULL DEFAULT 0 CHECK (core IN (0, 1)),"
	"  consent_at INTEGER,"
	"  consent_channel TEXT,"
	"  consent_message_id TEXT,"
	"  consent_text_version TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  member_id INTEGER REFERENCES members(id) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  message_id TEXT,"
	"  detail TEXT NOT NULL DEFAULT ''"
	") STRICT;"
	"CREATE INDEX events_member ON events(member_id);",

	/*
	 * 2: the outbox; small daemon state (pauses, last login) as keys;
	 * each member's unsubscribe token, valid as long as the membership
	 */
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY,"
	"  created_at INTEGER NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  member_id INTEGER REFERENCES members(id) ON DELETE CASCADE,"
	"  rcpt TEXT NOT NULL COLLATE NOCASE,"
	"  envelope_from TEXT NOT NULL,"
	"  message_id TEXT NOT NULL UNIQUE,"
	"  body BLOB,"
	"  status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN"
	"    ('queued', 'sent', 'failed', 'expired', 'dropped')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_try INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  ordered INTEGER NOT NULL DEFAULT 0,"
	"  last_code INTEGER,"
	"  last_error TEXT,"
	"  sent_at INTEGER,"
	"  cause TEXT"
	") STRICT;"
	"CREATE INDEX outbox_due ON outbox(status, next_try);"
	"CREATE INDEX outbox_rcpt ON outbox(rcpt, id);"
	"CREATE INDEX outbox_sent ON outbox(sent_at);"
	"CREATE TABLE state ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	") STRICT;"
	"ALTER TABLE members ADD COLUMN unsub_token TEXT;"
	"CREATE UNIQUE INDEX members_unsub ON members(unsub_token);",

	/*
	 * 3: intake. Per mailbox the UIDVALIDITY and the last UID looked at;
	 * per message its attempts (counted before parsing) and its fate:
	 * new (being handled), done (acted on), left (for the human), poison
	 * (set aside), skipped (a copy of one handled before, or gone).
	 */
	"CREATE TABLE mailbox_state ("
	"  mailbox TEXT PRIMARY KEY,"
	"  uidvalidity INTEGER NOT NULL,"
	"  last_uid INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE inbound ("
	"  id INTEGER PRIMARY KEY,"
	"  mailbox TEXT NOT NULL,"
	"  uidvalidity INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL,"
	"  message_id TEXT,"
	"  sender TEXT,"
	"  subject TEXT,"
	"  first_seen INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  state TEXT NOT NULL DEFAULT 'new' CHECK (state IN"
	"    ('new', 'done', 'left', 'poison', 'skipped')),"
	"  intent TEXT,"
	"  reason TEXT,"
	"  imap_done INTEGER NOT NULL DEFAULT 0,"
	"  finished_at INTEGER,"
	"  UNIQUE (mailbox, uidvalidity, uid)"
	") STRICT;"
	"CREATE INDEX inbound_message_id ON inbound(message_id);"
	"CREATE INDEX inbound_state ON inbound(state, imap_done);",

	/*
	 * 4: confirmation codes. A sign-up or a plain "afmelden" gets a code
	 * that the person proves to have received by replying.
	 */
	"CREATE TABLE tokens ("
	"  token TEXT PRIMARY KEY,"
	"  kind TEXT NOT NULL CHECK (kind IN ('subscribe', 'unsubscribe')),"
	"  member_id INTEGER NOT NULL REFERENCES members(id)"
	"    ON DELETE CASCADE,"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  used_at INTEGER,"
	"  message_id TEXT"
	") STRICT;"
	"CREATE INDEX tokens_member ON tokens(member_id);",

	/*
	 * 5: PS notes. Every version a member sent is kept (history); name
	 * and role are those the author confirmed with the text. Codes of
	 * their own: the author's consent, each moderator's verdict, a
	 * withdrawal; a moderator need not be a member.
	 */
	"CREATE TABLE notes ("
	"  id INTEGER PRIMARY KEY,"
	"  member_id INTEGER NOT NULL REFERENCES members(id)"
	"    ON DELETE CASCADE,"
	"  body TEXT NOT NULL,"
	"  name TEXT NOT NULL DEFAULT '',"
	"  role TEXT NOT NULL DEFAULT '',"
	"  status TEXT NOT NULL CHECK (status IN ('waiting', 'unconfirmed',"
	"    'pending', 'published', 'rejected', 'replaced', 'withdrawn')),"
	"  message_id TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  confirmed_at INTEGER,"
	"  decided_at INTEGER,"
	"  decided_by TEXT,"
	"  reason TEXT,"
	"  published_at INTEGER,"
	"  reminded_at INTEGER"
	") STRICT;"
	"CREATE INDEX notes_member ON notes(member_id, status);"
	"CREATE INDEX notes_status ON notes(status);"
	"CREATE TABLE note_tokens ("
	"  token TEXT PRIMARY KEY,"
	"  kind TEXT NOT NULL CHECK (kind IN ('author', 'moderator',"
	"    'withdraw')),"
	"  note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,"
	"  address TEXT NOT NULL COLLATE NOCASE,"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  used_at INTEGER"
	") STRICT;"
	"CREATE INDEX note_tokens_note ON note_tokens(note_id);",

	/*
	 * 6: a mail that fails for good is an event, whichever way it
	 * failed (refused, or retried until it expired), so the organiser's
	 * summary can say what went wrong and when.
	 */
	"CREATE INDEX events_at ON events(at, kind);"
	"CREATE TRIGGER outbox_failed_event AFTER UPDATE OF status ON outbox"
	"  WHEN NEW.status = 'failed' AND OLD.status IS NOT 'failed' "
	"BEGIN"
	"  INSERT INTO events (at, member_id, kind, actor, message_id,"
	"    detail)"
	"  VALUES (unixepoch(), NEW.member_id, 'send-failed', 'daemon',"
	"    NEW.message_id, NEW.rcpt || ': ' ||"
	"    coalesce(NEW.last_error, 'no reply'));"
	"END;",

	/*
	 * 7: bounces. Each delivery report (or SMTP refusal) about a member's
	 * mail that botu counted, with what it added to the member's score;
	 * per member the score (decaying from scored_at), why delivery
	 * stopped, and the probe sent before giving up on the address.
	 */
	"CREATE TABLE bounces ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  member_id INTEGER REFERENCES members(id) ON DELETE CASCADE,"
	"  outbox_id INTEGER,"
	"  message_id TEXT,"
	"  address TEXT NOT NULL,"
	"  status TEXT NOT NULL DEFAULT '',"
	"  class TEXT NOT NULL CHECK (class IN"
	"    ('hard', 'soft', 'ours', 'policy', 'complaint')),"
	"  score REAL NOT NULL DEFAULT 0,"
	"  detail TEXT NOT NULL DEFAULT ''"
	") STRICT;"
	"CREATE INDEX bounces_member ON bounces(member_id, at);"
	"CREATE INDEX bounces_outbox ON bounces(outbox_id);"
	"CREATE TABLE bounce_state ("
	"  member_id INTEGER PRIMARY KEY REFERENCES members(id)"
	"    ON DELETE CASCADE,"
	"  score REAL NOT NULL DEFAULT 0,"
	"  scored_at INTEGER NOT NULL,"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  since INTEGER,"
	"  probe_outbox_id INTEGER,"
	"  probe_at INTEGER"
	") STRICT;",

	/*
	 * 8: meetings and each member's copy of one (meetings.h): the UID
	 * only that member's calendar knows, the SEQUENCE last sent to
	 * them, and their answer.
	 */
	"CREATE TABLE meetings ("
	"  id INTEGER PRIMARY KEY,"
	"  title TEXT NOT NULL,"
	"  location TEXT NOT NULL DEFAULT '',"
	"  description TEXT NOT NULL DEFAULT '',"
	"  start_at INTEGER NOT NULL,"
	"  end_at INTEGER NOT NULL,"
	"  audience TEXT NOT NULL DEFAULT 'all'"
	"    CHECK (audience IN ('all', 'core')),"
	"  status TEXT NOT NULL DEFAULT 'planned'"
	"    CHECK (status IN ('planned', 'cancelled')),"
	"  sequence INTEGER NOT NULL DEFAULT 0,"
	"  answer_sequence INTEGER NOT NULL DEFAULT 0,"
	"  result TEXT NOT NULL DEFAULT '',"
	"  result_at INTEGER,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	") STRICT;"
	"CREATE INDEX meetings_start ON meetings(status, start_at);"
	"CREATE TABLE meeting_invites ("
	"  id INTEGER PRIMARY KEY,"
	"  meeting_id INTEGER NOT NULL REFERENCES meetings(id)"
	"    ON DELETE CASCADE,"
	"  member_id INTEGER NOT NULL REFERENCES members(id)"
	"    ON DELETE CASCADE,"
	"  uid TEXT NOT NULL COLLATE NOCASE UNIQUE,"
	"  email TEXT NOT NULL COLLATE NOCASE,"
	"  sequence INTEGER NOT NULL DEFAULT 0,"
	"  cancelled INTEGER NOT NULL DEFAULT 0 CHECK (cancelled IN (0, 1)),"
	"  sent_at INTEGER NOT NULL,"
	"  partstat TEXT NOT NULL DEFAULT 'NEEDS-ACTION',"
	"  comment TEXT NOT NULL DEFAULT '',"
	"  answered_at INTEGER,"
	"  answer_stamp INTEGER,"
	"  answer_sequence INTEGER,"
	"  reminded_at INTEGER,"
	"  created_at INTEGER NOT NULL,"
	"  UNIQUE (meeting_id, member_id)"
	") STRICT;"
	"CREATE INDEX meeting_invites_member ON meeting_invites(member_id);",

	/*
	 * 9: members' own data (GDPR/AVG). Addresses that were forgotten
	 * or left, as a salted hash only (retention.h); codes of the mail
	 * commands that change a member's data (selfservice.h); when a
	 * member left (set by the triggers, whoever changes the status);
	 * what the digest was before a pause; which events were
	 * pseudonymised and which outbox bodies were purged.
	 */
	"CREATE TABLE suppressed ("
	"  hash TEXT PRIMARY KEY,"
	"  reason TEXT NOT NULL CHECK (reason IN ('forgotten', 'left')),"
	"  at INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE privacy_tokens ("
	"  token TEXT PRIMARY KEY,"
	"  kind TEXT NOT NULL CHECK (kind IN ('forget', 'pause',"
	"    'address-old', 'address-new')),"
	"  member_id INTEGER NOT NULL REFERENCES members(id)"
	"    ON DELETE CASCADE,"
	"  address TEXT COLLATE NOCASE,"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  used_at INTEGER,"
	"  message_id TEXT"
	") STRICT;"
	"CREATE INDEX privacy_tokens_member ON privacy_tokens(member_id);"
	"ALTER TABLE members ADD COLUMN left_at INTEGER;"
	"UPDATE members SET left_at = updated_at"
	"  WHERE status = 'unsubscribed';"
	"CREATE TRIGGER members_left AFTER UPDATE OF status ON members"
	"  WHEN NEW.status = 'unsubscribed' AND OLD.status != 'unsubscribed' "
	"BEGIN"
	"  UPDATE members SET left_at = unixepoch() WHERE id = NEW.id;"
	"END;"
	"CREATE TRIGGER members_back AFTER UPDATE OF status ON members"
	"  WHEN NEW.status != 'unsubscribed' AND NEW.left_at IS NOT NULL "
	"BEGIN"
	"  UPDATE members SET left_at = NULL WHERE id = NEW.id;"
	"END;"
	"ALTER TABLE members ADD COLUMN paused_digest TEXT;"
	"ALTER TABLE events ADD COLUMN pseudonymised INTEGER NOT NULL"
	"  DEFAULT 0;"
	"CREATE INDEX events_pseudo ON events(pseudonymised, at);"
	"ALTER TABLE outbox ADD COLUMN purged_at INTEGER;",

	/*
	 * 10: updates and the digest. An update (a post) waits for its
	 * sender's code (unconfirmed) or a moderator (pending) before it is
	 * published; codes of its own, as the notes have. Each digest issue
	 * is stored once, with what it says in each language (content,
	 * JSON); a member's outbox row points to it (digest_id, body NULL)
	 * and is rendered when it is sent. One row per member per issue.
	 */
	"CREATE TABLE posts ("
	"  id INTEGER PRIMARY KEY,"
	"  member_id INTEGER REFERENCES members(id) ON DELETE CASCADE,"
	"  author TEXT NOT NULL DEFAULT '' COLLATE NOCASE,"
	"  name TEXT NOT NULL DEFAULT '',"
	"  subject TEXT NOT NULL DEFAULT '',"
	"  body TEXT NOT NULL,"
	"  status TEXT NOT NULL CHECK (status IN ('unconfirmed', 'pending',"
	"    'published', 'rejected')),"
	"  message_id TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  confirmed_at INTEGER,"
	"  published_at INTEGER,"
	"  decided_by TEXT,"
	"  reason TEXT"
	") STRICT;"
	"CREATE INDEX posts_status ON posts(status, published_at);"
	"CREATE INDEX posts_member ON posts(member_id);"
	"CREATE TABLE post_tokens ("
	"  token TEXT PRIMARY KEY,"
	"  kind TEXT NOT NULL CHECK (kind IN ('author', 'moderator')),"
	"  post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,"
	"  address TEXT NOT NULL COLLATE NOCASE,"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  used_at INTEGER"
	") STRICT;"
	"CREATE INDEX post_tokens_post ON post_tokens(post_id);"
	"CREATE TABLE digests ("
	"  id INTEGER PRIMARY KEY,"
	"  number INTEGER NOT NULL UNIQUE,"
	"  period_start INTEGER NOT NULL,"
	"  period_end INTEGER NOT NULL,"
	"  month_from INTEGER,"
	"  items INTEGER NOT NULL DEFAULT 0,"
	"  content TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL"
	") STRICT;"
	"ALTER TABLE outbox ADD COLUMN digest_id INTEGER"
	"  REFERENCES digests(id);"
	"CREATE UNIQUE INDEX outbox_digest ON outbox(digest_id, member_id)"
	"  WHERE digest_id IS NOT NULL;",

	/*
	 * 11: expiry of queued mail by its own index. deliver_once() expires
	 * before every batch of 256; without it that read every queued row,
	 * so a flush of n mails read n * n / 512 rows (100,000: 31 s instead
	 * of 16 s). Not a partial index (WHERE status = 'queued'): without
	 * ANALYZE the planner prefers outbox_due's equality on status.
	 */
	"CREATE INDEX outbox_expiry ON outbox(status, expires_at);",
};

int
db_latest_version(void)
{
	return (int)NELEM(migrations);
}

static void
set_err(char *err, struct botu_db *db, const char *what)
{
	snprintf(err, BOTU_ERRLEN, "%s: %s", what,
	    db->h != NULL ? sqlite3_errmsg(db->h) : "out of memory");
}

int
db_exec(struct botu_db *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_debug("sql failed: %s", msg != NULL ? msg : "?");
		sqlite3_free(msg);
		return BOTU_EDATA;
	}
	return BOTU_OK;
}

static int
pragma_text(struct botu_db *db, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		str_copy(out, db_col_text(st, 0), outlen);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int
db_version(struct botu_db *db)
{
	char v[32];
	long long n;

	if (pragma_text(db, "PRAGMA user_version", v, sizeof(v)) < 0 ||
	    str_to_int(v, 0, 1000000, &n) < 0)
		return -1;
	return (int)n;
}

/* Tests: BOTU_CRASH_AT=migration[:N] (see db.h). */
static void
crash_in_migration(int version)
{
	const char *want = getenv("BOTU_CRASH_AT");
	long long n = 0;

	if (want == NULL || strncmp(want, "migration", 9) != 0 ||
	    (want[9] != '\0' && want[9] != ':') ||
	    (want[9] == ':' && str_to_int(want + 10, 1, 1000000, &n) < 0) ||
	    (n != 0 && n != version))
		return;
	log_warnx("crash point migration:%d reached: aborting as asked",
	    version);
	abort();
}

static int
migrate(struct botu_db *db, int target, char *err)
{
	int v = db_version(db), rc;

	if (v < 0) {
		set_err(err, db, "cannot read the schema version");
		return BOTU_EDATA;
	}
	if (v > db_latest_version()) {
		snprintf(err, BOTU_ERRLEN, "the database has schema version "
		    "%d, newer than this botu knows (%d); use a newer botu",
		    v, db_latest_version());
		return BOTU_EDATA;
	}
	for (; v < target; v++) {
		char pragma[64];

		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
		    v + 1);
		/* DDL is transactional: a failed or interrupted step leaves
		 * version v, and the next start does it again. */
		if (db_begin(db) != BOTU_OK ||
		    db_exec(db, migrations[v]) != BOTU_OK ||
		    db_exec(db, pragma) != BOTU_OK)
			rc = BOTU_EDATA;
		else {
			crash_in_migration(v + 1);
			rc = db_commit(db);
		}
		if (rc != BOTU_OK) {
			char what[64];

			snprintf(what, sizeof(what), "schema upgrade to "
			    "version %d failed", v + 1);
			set_err(err, db, what);
			db_rollback(db);
			return BOTU_EDATA;
		}
		log_debug("database schema upgraded to version %d", v + 1);
	}
	return BOTU_OK;
}

static int
open_connection(const char *path, int readonly, struct botu_db **out,
    char *err)
{
	struct botu_db *db = xcalloc(1, sizeof(*db));
	char mode[16];
	int flags = readonly ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

	*out = NULL;
	db->readonly = readonly;
	if (sqlite3_open_v2(path, &db->h, flags, NULL) != SQLITE_OK) {
		snprintf(err, BOTU_ERRLEN, "cannot open database %s: %s",
		    path, db->h ? sqlite3_errmsg(db->h) : "out of memory");
		db_close(db);
		return BOTU_EDATA;
	}
	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_busy_timeout(db->h, BUSY_TIMEOUT_MS);
	/*
	 * temp_store = MEMORY: each outbox UPDATE in deliver's transaction
	 * keeps a statement journal of the pages it changes; past 64 KiB
	 * that went to a temp file, seven writes per mail sent (strace).
	 */
	if (db_exec(db, "PRAGMA foreign_keys = ON;"
	    "PRAGMA secure_delete = ON;"
	    "PRAGMA temp_store = MEMORY;") != BOTU_OK) {
		set_err(err, db, path);
		db_close(db);
		return BOTU_EDATA;
	}
	if (!readonly) {
		/* WAL is persistent, but the pragma reports what we got. */
		if (pragma_text(db, "PRAGMA journal_mode = WAL", mode,
		    sizeof(mode)) < 0 || strcmp(mode, "wal") != 0 ||
		    db_exec(db, "PRAGMA synchronous = FULL") != BOTU_OK) {
			snprintf(err, BOTU_ERRLEN, "%s: cannot use WAL mode "
			    "(is it on a network file system?): %s", path,
			    sqlite3_errmsg(db->h));
			db_close(db);
			return BOTU_EDATA;
		}
	}
	*out = db;
	return BOTU_OK;
}

int
db_open(const char *path, enum db_mode mode, struct botu_db **out,
    char err[BOTU_ERRLEN])
{
	struct botu_db *db;
	int rc, v;

	rc = open_connection(path, mode == DB_READONLY, &db, err);
	if (rc != BOTU_OK)
		return rc;
	if (mode == DB_READONLY) {
		v = db_version(db);
		if (v != db_latest_version()) {
			snprintf(err, BOTU_ERRLEN, "database %s has schema "
			    "version %d, this botu needs %d", path, v,
			    db_latest_version());
			db_close(db);
			return BOTU_EDATA;
		}
	} else if ((rc = migrate(db, db_latest_version(), err)) != BOTU_OK) {
		db_close(db);
		return rc;
	}
	*out = db;
	return BOTU_OK;
}

int
db_open_at(const char *path, int version, struct botu_db **out,
    char err[BOTU_ERRLEN])
{
	struct botu_db *db;
	int rc;

	if (version < 0 || version > db_latest_version()) {
		snprintf(err, BOTU_ERRLEN, "no schema version %d", version);
		return BOTU_EDATA;
	}
	rc = open_connection(path, 0, &db, err);
	if (rc == BOTU_OK && (rc = migrate(db, version, err)) != BOTU_OK) {
		db_close(db);
		return rc;
	}
	*out = db;
	return rc;
}

void
db_close(struct botu_db *db)
{
	if (db == NULL)
		return;
	for (size_t i = 0; i < db->ncache; i++)
		sqlite3_finalize(db->cache[i].st);
	if (db->h != NULL && sqlite3_close(db->h) != SQLITE_OK)
		log_warnx("database close: %s", sqlite3_errmsg(db->h));
	free(db);
}

sqlite3_stmt *
db_stmt(struct botu_db *db, const char *sql)
{
	struct stmt_slot *slot;
	size_t i;

	for (i = 0; i < db->ncache; i++)
		if (db->cache[i].sql == sql) {
			sqlite3_reset(db->cache[i].st);
			sqlite3_clear_bindings(db->cache[i].st);
			return db->cache[i].st;
		}
	if (db->ncache == STMT_CACHE)
		fatalx("db_stmt: more than %d statements", STMT_CACHE);
	slot = &db->cache[db->ncache];
	if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &slot->st, NULL) != SQLITE_OK)
		fatalx("db_stmt: %s: %s", sqlite3_errmsg(db->h), sql);
	slot->sql = sql;
	db->ncache++;
	return slot->st;
}

int
db_exec_stmt(struct botu_db *db, sqlite3_stmt *st)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_debug("sql failed: %s", sqlite3_errmsg(db->h));
		return BOTU_EDATA;
	}
	return BOTU_OK;
}

int
db_begin(struct botu_db *db)
{
	return db_exec(db, "BEGIN IMMEDIATE");
}

int
db_commit(struct botu_db *db)
{
	return db_exec(db, "COMMIT");
}

void
db_rollback(struct botu_db *db)
{
	if (!sqlite3_get_autocommit(db->h))
		(void)db_exec(db, "ROLLBACK");
}

const char *
db_errmsg(struct botu_db *db)
{
	return sqlite3_errmsg(db->h);
}

sqlite3 *
db_sqlite(struct botu_db *db)
{
	return db->h;
}

int64_t
db_last_id(struct botu_db *db)
{
	return sqlite3_last_insert_rowid(db->h);
}

int
db_changes(struct botu_db *db)
{
	return sqlite3_changes(db->h);
}

int
db_event(struct botu_db *db, int64_t member_id, const char *kind,
    const char *actor, const char *message_id, const char *detail)
{
	sqlite3_stmt *st = db_stmt(db,
	    "INSERT INTO events (at, member_id, kind, actor, message_id, "
	    "detail) VALUES (?, ?, ?, ?, ?, ?)");

	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	if (member_id > 0)
		sqlite3_bind_int64(st, 2, member_id);
	sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, actor, -1, SQLITE_STATIC);
	if (message_id != NULL)
		sqlite3_bind_text(st, 5, message_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, detail != NULL ? detail : "", -1,
	    SQLITE_STATIC);
	return db_exec_stmt(db, st);
}

const char *
db_col_text(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return s != NULL ? (const char *)s : "";
}

int
db_state_get(struct botu_db *db, const char *key, char **value)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT value FROM state WHERE key = ?");
	int rc;

	*value = NULL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*value = xstrdup(db_col_text(st, 0));
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : BOTU_EDATA;
}

int
db_state_set(struct botu_db *db, const char *key, const char *value)
{
	sqlite3_stmt *st;

	if (value == NULL) {
		st = db_stmt(db, "DELETE FROM state WHERE key = ?");
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		return db_exec_stmt(db, st);
	}
	st = db_stmt(db, "INSERT INTO state (key, value, updated_at) "
	    "VALUES (?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET "
	    "value = ?2, updated_at = ?3");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	return db_exec_stmt(db, st);
}
