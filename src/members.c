/* members.c - see members.h */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "botu/log.h"
#include "botu/members.h"
#include "botu/token.h"
#include "botu/util.h"

#define MEMBER_COLUMNS \
	"id, email, name, role, language, status, delivery, digest, core, " \
	"consent_at, consent_channel, consent_message_id, " \
	"consent_text_version, created_at, updated_at, unsub_token"

static int
in_list(const char *s, const char *const *words)
{
	for (size_t i = 0; s != NULL && words[i] != NULL; i++)
		if (strcmp(s, words[i]) == 0)
			return 1;
	return 0;
}

int
member_valid_status(const char *s)
{
	static const char *const w[] =
	    { "pending", "active", "unsubscribed", NULL };
	return in_list(s, w);
}

int
member_valid_delivery(const char *s)
{
	static const char *const w[] = { "on", "bouncing", "disabled", NULL };
	return in_list(s, w);
}

int
member_valid_digest(const char *s)
{
	static const char *const w[] = { "weekly", "monthly", "off", NULL };
	return in_list(s, w);
}

int
member_valid_language(const char *s)
{
	static const char *const w[] = { "nl", "en", NULL };
	return in_list(s, w);
}

void
member_clear(struct member *m)
{
	free(m->email);
	free(m->name);
	free(m->role);
	free(m->language);
	free(m->status);
	free(m->delivery);
	free(m->digest);
	free(m->consent_channel);
	free(m->consent_message_id);
	free(m->consent_text_version);
	free(m->unsub_token);
	memset(m, 0, sizeof(*m));
}

static char *
col_dup(sqlite3_stmt *st, int col)
{
	return xstrdup(db_col_text(st, col));
}

static void
member_from_row(sqlite3_stmt *st, struct member *m)
{
	m->id = sqlite3_column_int64(st, 0);
	m->email = col_dup(st, 1);
	m->name = col_dup(st, 2);
	m->role = col_dup(st, 3);
	m->language = col_dup(st, 4);
	m->status = col_dup(st, 5);
	m->delivery = col_dup(st, 6);
	m->digest = col_dup(st, 7);
	m->core = sqlite3_column_int(st, 8);
	m->consent_at = sqlite3_column_int64(st, 9);
	m->consent_channel = col_dup(st, 10);
	m->consent_message_id = col_dup(st, 11);
	m->consent_text_version = col_dup(st, 12);
	m->created_at = sqlite3_column_int64(st, 13);
	m->updated_at = sqlite3_column_int64(st, 14);
	m->unsub_token = col_dup(st, 15);
}

int
members_get(struct botu_db *db, const char *email, struct member *out)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT " MEMBER_COLUMNS " FROM members WHERE email = ?");
	int rc;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		member_from_row(st, out);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : BOTU_EDATA;
}

static int
get_where(struct botu_db *db, sqlite3_stmt *st, struct member *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		member_from_row(st, out);
	sqlite3_reset(st);
	(void)db;
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : BOTU_EDATA;
}

int
members_get_id(struct botu_db *db, int64_t id, struct member *out)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT " MEMBER_COLUMNS " FROM members WHERE id = ?");

	sqlite3_bind_int64(st, 1, id);
	return get_where(db, st, out);
}

int
members_get_unsub(struct botu_db *db, const char *token, struct member *out)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT " MEMBER_COLUMNS " FROM members WHERE unsub_token = ?");

	sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
	return get_where(db, st, out);
}

int
members_set_status(struct botu_db *db, int64_t id, const char *status,
    const char *kind, const char *actor, const char *message_id,
    const char *detail)
{
	sqlite3_stmt *st = db_stmt(db, "UPDATE members SET status = ?, "
	    "updated_at = ? WHERE id = ?");
	int rc;

	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 3, id);
	rc = db_exec_stmt(db, st);
	if (rc == BOTU_OK)
		rc = db_event(db, id, kind, actor, message_id, detail);
	return rc;
}

int
members_set_delivery(struct botu_db *db, int64_t id, const char *delivery,
    const char *kind, const char *actor, const char *message_id,
    const char *detail)
{
	sqlite3_stmt *st = db_stmt(db, "UPDATE members SET delivery = ?, "
	    "updated_at = ? WHERE id = ?");
	int rc;

	sqlite3_bind_text(st, 1, delivery, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 3, id);
	rc = db_exec_stmt(db, st);
	if (rc == BOTU_OK)
		rc = db_event(db, id, kind, actor, message_id, detail);
	return rc;
}

int
members_set_consent(struct botu_db *db, int64_t id, const char *channel,
    const char *message_id, const char *text_version)
{
	sqlite3_stmt *st = db_stmt(db, "UPDATE members SET consent_at = ?, "
	    "consent_channel = ?, consent_message_id = ?, "
	    "consent_text_version = ?, updated_at = ? WHERE id = ?");
	time_t now = time(NULL);

	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_text(st, 2, channel, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, message_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, text_version, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 6, id);
	return db_exec_stmt(db, st);
}

static void
bind_or_default(sqlite3_stmt *st, int i, const char *v, const char *def)
{
	sqlite3_bind_text(st, i, v != NULL ? v : def, -1, SQLITE_STATIC);
}

static int
validate(const struct member *m, char *err)
{
	if (m->email == NULL || !str_is_address(m->email)) {
		snprintf(err, BOTU_ERRLEN, "'%s' is not an e-mail address",
		    m->email != NULL ? m->email : "");
		return -1;
	}
	if (m->language != NULL && !member_valid_language(m->language)) {
		snprintf(err, BOTU_ERRLEN, "language must be nl or en, not "
		    "'%s'", m->language);
		return -1;
	}
	if (m->status != NULL && !member_valid_status(m->status)) {
		snprintf(err, BOTU_ERRLEN, "status must be pending, active or "
		    "unsubscribed, not '%s'", m->status);
		return -1;
	}
	if (m->delivery != NULL && !member_valid_delivery(m->delivery)) {
		snprintf(err, BOTU_ERRLEN, "delivery must be on, bouncing or "
		    "disabled, not '%s'", m->delivery);
		return -1;
	}
	if (m->digest != NULL && !member_valid_digest(m->digest)) {
		snprintf(err, BOTU_ERRLEN, "digest must be weekly, monthly or "
		    "off, not '%s'", m->digest);
		return -1;
	}
	return 0;
}

/* Someone who left comes back: a new status and consent, same row. */
static int
readd(struct botu_db *db, struct member *m, const char *actor,
    const char *message_id, char *err)
{
	struct member old;
	sqlite3_stmt *st;
	char *unsub;
	int rc;

	rc = members_get(db, m->email, &old);
	if (rc != 1 || strcmp(old.status, "unsubscribed") != 0) {
		snprintf(err, BOTU_ERRLEN, "%s is already %s", m->email,
		    rc == 1 && strcmp(old.status, "pending") == 0 ?
		    "waiting for confirmation" : "a member");
		member_clear(&old);
		return BOTU_EDATA;
	}
	/* A new membership: links in old mail no longer act for it. */
	st = db_stmt(db, "UPDATE members SET status = ?, consent_at = ?, "
	    "consent_channel = ?, consent_message_id = ?, "
	    "consent_text_version = ?, updated_at = ?, unsub_token = ? "
	    "WHERE id = ?");
	sqlite3_bind_text(st, 1, m->status != NULL ? m->status : "pending",
	    -1, SQLITE_STATIC);
	if (m->consent_at != 0)
		sqlite3_bind_int64(st, 2, m->consent_at);
	sqlite3_bind_text(st, 3, m->consent_channel, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, m->consent_message_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, m->consent_text_version, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
	unsub = token_new(128);
	sqlite3_bind_text(st, 7, unsub, -1, SQLITE_TRANSIENT);
	free(unsub);
	sqlite3_bind_int64(st, 8, old.id);
	m->id = old.id;
	member_clear(&old);
	rc = db_exec_stmt(db, st);
	if (rc == BOTU_OK)
		rc = db_event(db, m->id, "readd", actor, message_id,
		    m->status != NULL ? m->status : "pending");
	if (rc != BOTU_OK)
		snprintf(err, BOTU_ERRLEN, "cannot add %s again: %s",
		    m->email, db_errmsg(db));
	return rc;
}

int
members_add(struct botu_db *db, struct member *m, const char *actor,
    const char *message_id, char err[BOTU_ERRLEN])
{
	sqlite3_stmt *st;
	int64_t now = (int64_t)time(NULL);

	if (validate(m, err) < 0)
		return BOTU_EDATA;
	st = db_stmt(db,
	    "INSERT INTO members (email, name, role, language, status, "
	    "delivery, digest, core, consent_at, consent_channel, "
	    "consent_message_id, consent_text_version, created_at, "
	    "updated_at, unsub_token) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING");
	char *unsub = token_new(128);
	sqlite3_bind_text(st, 1, m->email, -1, SQLITE_STATIC);
	bind_or_default(st, 2, m->name, "");
	bind_or_default(st, 3, m->role, "");
	bind_or_default(st, 4, m->language, "nl");
	bind_or_default(st, 5, m->status, "pending");
	bind_or_default(st, 6, m->delivery, "on");
	bind_or_default(st, 7, m->digest, "weekly");
	sqlite3_bind_int(st, 8, m->core ? 1 : 0);
	if (m->consent_at != 0)
		sqlite3_bind_int64(st, 9, m->consent_at);
	if (m->consent_channel != NULL)
		sqlite3_bind_text(st, 10, m->consent_channel, -1,
		    SQLITE_STATIC);
	if (m->consent_message_id != NULL)
		sqlite3_bind_text(st, 11, m->consent_message_id, -1,
		    SQLITE_STATIC);
	if (m->consent_text_version != NULL)
		sqlite3_bind_text(st, 12, m->consent_text_version, -1,
		    SQLITE_STATIC);
	sqlite3_bind_int64(st, 13, now);
	sqlite3_bind_int64(st, 14, now);
	sqlite3_bind_text(st, 15, unsub, -1, SQLITE_TRANSIENT);
	free(unsub);
	if (db_exec_stmt(db, st) != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "cannot add %s: %s", m->email,
		    db_errmsg(db));
		return BOTU_EDATA;
	}
	if (db_changes(db) == 0)
		return readd(db, m, actor, message_id, err);
	m->id = db_last_id(db);
	if (db_event(db, m->id, "add", actor, message_id,
	    m->status != NULL ? m->status : "pending") != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "cannot record event: %s",
		    db_errmsg(db));
		return BOTU_EDATA;
	}
	return BOTU_OK;
}

int
members_remove(struct botu_db *db, const char *email, const char *actor,
    const char *message_id, char err[BOTU_ERRLEN])
{
	struct member m;
	sqlite3_stmt *st;
	int rc;

	rc = members_get(db, email, &m);
	if (rc < 0) {
		snprintf(err, BOTU_ERRLEN, "%s", db_errmsg(db));
		return BOTU_EDATA;
	}
	if (rc == 0 || strcmp(m.status, "unsubscribed") == 0) {
		snprintf(err, BOTU_ERRLEN, "%s is not a member", email);
		member_clear(&m);
		return BOTU_EPERM;
	}
	st = db_stmt(db, "UPDATE members SET status = 'unsubscribed', "
	    "updated_at = ? WHERE id = ?");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 2, m.id);
	rc = db_exec_stmt(db, st);
	if (rc == BOTU_OK)
		rc = db_event(db, m.id, "unsubscribe", actor, message_id,
		    m.status);
	if (rc != BOTU_OK)
		snprintf(err, BOTU_ERRLEN, "cannot remove %s: %s", email,
		    db_errmsg(db));
	member_clear(&m);
	return rc;
}

int
members_set_profile(struct botu_db *db, int64_t id, const char *name,
    const char *role, const char *language, int core, const char *actor,
    const char *message_id)
{
	sqlite3_stmt *st = db_stmt(db, "UPDATE members SET "
	    "name = coalesce(?1, name), role = coalesce(?2, role), "
	    "language = coalesce(?3, language), "
	    "core = CASE WHEN ?4 < 0 THEN core ELSE ?4 END, updated_at = ?5 "
	    "WHERE id = ?6 AND (name IS NOT coalesce(?1, name) OR "
	    "role IS NOT coalesce(?2, role) OR "
	    "language IS NOT coalesce(?3, language) OR "
	    "core IS NOT CASE WHEN ?4 < 0 THEN core ELSE ?4 END)");
	struct buf detail;
	int rc;

	if (name != NULL)
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (role != NULL)
		sqlite3_bind_text(st, 2, role, -1, SQLITE_STATIC);
	if (language != NULL)
		sqlite3_bind_text(st, 3, language, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, core < 0 ? -1 : core != 0);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 6, id);
	rc = db_exec_stmt(db, st);
	if (rc != BOTU_OK || db_changes(db) == 0)
		return rc;
	buf_init(&detail);
	buf_addf(&detail, "%s%s%s%s", name != NULL ? "name " : "",
	    role != NULL ? "role " : "", language != NULL ? "language " : "",
	    core >= 0 ? "core" : "");
	rc = db_event(db, id, "profile", actor, message_id, detail.s);
	buf_free(&detail);
	return rc;
}

int
members_forget(struct botu_db *db, const char *email, const char *actor,
    int64_t *id, char err[BOTU_ERRLEN])
{
	static const char *const erase[] = {
		"DELETE FROM outbox WHERE member_id = ?1 OR rcpt = ?2",
		"UPDATE inbound SET sender = NULL, subject = NULL WHERE "
		"sender = ?2 COLLATE NOCASE",
		"DELETE FROM members WHERE id = ?1",
	};
	struct member m;
	sqlite3_stmt *st;
	int rc;

	*id = 0;
	rc = members_get(db, email, &m);
	if (rc <= 0) {
		snprintf(err, BOTU_ERRLEN, rc < 0 ? "%s" : "%s is not known",
		    rc < 0 ? db_errmsg(db) : email);
		return rc < 0 ? BOTU_EDATA : BOTU_EPERM;
	}
	*id = m.id;
	for (size_t i = 0; i < NELEM(erase) && rc >= 0; i++) {
		/* Each is a literal: db_stmt caches by pointer. */
		st = db_stmt(db, erase[i]);
		sqlite3_bind_int64(st, 1, m.id);
		sqlite3_bind_text(st, 2, m.email, -1, SQLITE_STATIC);
		rc = db_exec_stmt(db, st);
	}
	if (rc == BOTU_OK)
		rc = db_event(db, 0, "forget", actor, NULL,
		    "a member was erased on request");
	if (rc != BOTU_OK)
		snprintf(err, BOTU_ERRLEN, "cannot forget %s: %s", email,
		    db_errmsg(db));
	member_clear(&m);
	return rc;
}

int
members_count(struct botu_db *db, const char *status, int64_t *out)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT count(*) FROM members WHERE status = ?");
	int rc;

	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? BOTU_OK : BOTU_EDATA;
}

int
members_count_delivery(struct botu_db *db, int64_t *bouncing,
    int64_t *disabled)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT "
	    "count(*) FILTER (WHERE delivery = 'bouncing'), "
	    "count(*) FILTER (WHERE delivery = 'disabled') "
	    "FROM members WHERE status != 'unsubscribed'");
	int rc;

	rc = sqlite3_step(st);
	*bouncing = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	*disabled = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? BOTU_OK : BOTU_EDATA;
}

/* RFC 4180: quote every field that needs it, double inner quotes. */
static void
csv_field(FILE *f, const char *s, int last)
{
	if (strpbrk(s, ",\"\r\n;") != NULL) {
		fputc('"', f);
		for (; *s != '\0'; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else
		fputs(s, f);
	fputs(last ? "\r\n" : ",", f);
}

static const char *
iso_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL) {
		buf[0] = '\0';
		return buf;
	}
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* Why mail to a member stopped (score.h), for the text listing. */
static void
write_delivery_reason(struct botu_db *db, FILE *f, const struct member *m)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT reason, coalesce(strftime("
	    "'%Y-%m-%d', since, 'unixepoch'), '') FROM bounce_state "
	    "WHERE member_id = ? AND reason != ''");

	sqlite3_bind_int64(st, 1, m->id);
	if (sqlite3_step(st) == SQLITE_ROW)
		fprintf(f, "%-32s %s since %s: %s\n", "", m->delivery,
		    db_col_text(st, 1), db_col_text(st, 0));
	sqlite3_reset(st);
}

static void
write_row(FILE *f, enum members_format fmt, const struct member *m)
{
	char t1[32], t2[32];

	if (fmt == MEMBERS_CSV) {
		csv_field(f, m->email, 0);
		csv_field(f, m->name, 0);
		csv_field(f, m->role, 0);
		csv_field(f, m->language, 0);
		csv_field(f, m->status, 0);
		csv_field(f, m->delivery, 0);
		csv_field(f, m->digest, 0);
		csv_field(f, m->core ? "1" : "0", 0);
		csv_field(f, iso_time(m->consent_at, t1, sizeof(t1)), 0);
		csv_field(f, m->consent_channel, 0);
		csv_field(f, iso_time(m->created_at, t2, sizeof(t2)), 1);
		return;
	}
	fprintf(f, "%-32s %-12s %-8s %-4s %-4s %s%s%s%s\n", m->email,
	    m->status, m->delivery, m->language, m->core ? "yes" : "",
	    m->name, m->role[0] != '\0' ? " (" : "", m->role,
	    m->role[0] != '\0' ? ")" : "");
}

/* JSON comes from SQLite's own functions: correct escaping for free. */
static int
write_json(struct botu_db *db, FILE *f, const char *status)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT coalesce(json_group_array(json(j)), '[]') FROM ("
	    "  SELECT json_object("
	    "    'email', email, 'name', name, 'role', role,"
	    "    'language', language, 'status', status,"
	    "    'delivery', delivery, 'digest', digest,"
	    "    'core', json(CASE core WHEN 1 THEN 'true' ELSE 'false' END),"
	    "    'consent', CASE WHEN consent_at IS NULL THEN NULL ELSE"
	    "      json_object('at', strftime('%Y-%m-%dT%H:%M:%SZ',"
	    "        consent_at, 'unixepoch'), 'channel', consent_channel,"
	    "        'message_id', consent_message_id,"
	    "        'text_version', consent_text_version) END,"
	    "    'created', strftime('%Y-%m-%dT%H:%M:%SZ', created_at,"
	    "      'unixepoch'),"
	    "    'bounce', (SELECT json_object('score', round(b.score, 2),"
	    "      'reason', b.reason, 'since', strftime("
	    "      '%Y-%m-%dT%H:%M:%SZ', b.since, 'unixepoch'))"
	    "      FROM bounce_state b WHERE b.member_id = members.id AND"
	    "      (b.score > 0 OR b.reason != ''))) AS j"
	    "  FROM members WHERE ?1 IS NULL OR status = ?1"
	    "  ORDER BY email)");
	int rc;

	if (status != NULL)
		sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		fprintf(f, "%s\n", db_col_text(st, 0));
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? BOTU_OK : BOTU_EDATA;
}

int
members_write(struct botu_db *db, FILE *f, enum members_format fmt,
    const char *status)
{
	sqlite3_stmt *st;
	struct member m;
	int rc;

	if (fmt == MEMBERS_JSON)
		return write_json(db, f, status);
	if (fmt == MEMBERS_CSV)
		fputs("email,name,role,language,status,delivery,digest,core,"
		    "consent_at,consent_channel,created_at\r\n", f);
	else
		fprintf(f, "%-32s %-12s %-8s %-4s %-4s %s\n", "EMAIL", "STATUS",
		    "DELIVERY", "LANG", "CORE", "NAME (ROLE)");
	st = db_stmt(db, "SELECT " MEMBER_COLUMNS " FROM members "
	    "WHERE ?1 IS NULL OR status = ?1 ORDER BY email");
	if (status != NULL)
		sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		member_from_row(st, &m);
		write_row(f, fmt, &m);
		if (fmt == MEMBERS_TEXT && strcmp(m.delivery, "on") != 0)
			write_delivery_reason(db, f, &m);
		member_clear(&m);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? BOTU_OK : BOTU_EDATA;
}
