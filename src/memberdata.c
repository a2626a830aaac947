/* memberdata.c - see memberdata.h */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "botu/dates.h"
#include "botu/memberdata.h"
#include "botu/util.h"

/* A Unix time as ISO 8601 UTC, NULL for NULL. */
#define ISO(x) "strftime('%Y-%m-%dT%H:%M:%SZ', " x ", 'unixepoch')"

/* JSON comes from SQLite's own functions: correct escaping for free. */
#define MEMBER_FIELDS \
	"'email', m.email, 'name', m.name, 'role', m.role, " \
	"'language', m.language, 'status', m.status, " \
	"'delivery', m.delivery, 'digest', m.digest, " \
	"'paused', json(CASE WHEN m.paused_digest IS NULL THEN 'false' " \
	"  ELSE 'true' END), " \
	"'core', json(CASE m.core WHEN 1 THEN 'true' ELSE 'false' END), " \
	"'consent', CASE WHEN m.consent_at IS NULL THEN NULL ELSE " \
	"  json_object('at', " ISO("m.consent_at") ", " \
	"  'channel', m.consent_channel, " \
	"  'message_id', m.consent_message_id, " \
	"  'text_version', m.consent_text_version) END, " \
	"'created', " ISO("m.created_at") ", " \
	"'left', " ISO("m.left_at") ", " \
	"'notes', json((SELECT coalesce(json_group_array(json(j)), '[]') " \
	"  FROM (SELECT json_object('id', id, 'status', status, " \
	"  'name', name, 'role', role, 'body', body, " \
	"  'created', " ISO("created_at") ", " \
	"  'confirmed', " ISO("confirmed_at") ", " \
	"  'published', " ISO("published_at") ", " \
	"  'decided_by', decided_by, 'reason', reason) AS j " \
	"  FROM notes WHERE member_id = m.id ORDER BY id)))"

/*
 * A member's own data: also the meetings they were invited to and their
 * answers. The digest issues they got are outbox rows ("mails").
 */
#define MEMBER_HISTORY \
	"'events', json((SELECT coalesce(json_group_array(json(j)), '[]') " \
	"  FROM (SELECT json_object('at', " ISO("at") ", 'kind', kind, " \
	"  'actor', actor, 'message_id', message_id, 'detail', detail) " \
	"  AS j FROM events WHERE member_id = m.id ORDER BY at, id))), " \
	"'mails', json((SELECT coalesce(json_group_array(json(j)), '[]') " \
	"  FROM (SELECT json_object('at', " ISO("created_at") ", " \
	"  'kind', kind, 'to', rcpt, 'status', status, " \
	"  'sent', " ISO("sent_at") ", 'message_id', message_id) AS j " \
	"  FROM outbox WHERE member_id = m.id OR rcpt = m.email " \
	"  ORDER BY id))), " \
	"'received', json((SELECT coalesce(json_group_array(json(j)), " \
	"  '[]') FROM (SELECT json_object('at', " ISO("first_seen") ", " \
	"  'subject', subject, 'message_id', message_id, " \
	"  'understood_as', intent) AS j FROM inbound WHERE " \
	"  sender = m.email COLLATE NOCASE ORDER BY id))), " \
	"'bounces', json((SELECT coalesce(json_group_array(json(j)), " \
	"  '[]') FROM (SELECT json_object('at', " ISO("at") ", " \
	"  'address', address, 'class', class, 'status', status, " \
	"  'score', score, 'detail', detail) AS j FROM bounces " \
	"  WHERE member_id = m.id ORDER BY id))), " \
	"'meetings', json((SELECT coalesce(json_group_array(json(j)), " \
	"  '[]') FROM (SELECT json_object('title', g.title, " \
	"  'start', " ISO("g.start_at") ", 'invited_as', i.email, " \
	"  'answer', i.partstat, 'comment', i.comment, " \
	"  'answered', " ISO("i.answered_at") ") AS j " \
	"  FROM meeting_invites i JOIN meetings g ON g.id = i.meeting_id " \
	"  WHERE i.member_id = m.id ORDER BY g.start_at)))"

/* ---- the export ---- */

static void
csv_field(FILE *f, const char *s, char delim, int last)
{
	if (strchr(s, delim) != NULL || strpbrk(s, "\"\r\n") != NULL) {
		fputc('"', f);
		for (; *s != '\0'; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else
		fputs(s, f);
	if (last)
		fputs("\r\n", f);
	else
		fputc(delim, f);
}

static const char *const csv_columns[] = {
	"email", "name", "role", "language", "status", "delivery", "digest",
	"core", "paused", "consent_at", "consent_channel",
	"consent_text_version", "created_at", "left_at", "note_status",
	"note",
};

static int
export_csv(struct botu_db *db, FILE *f, int excel)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT email, name, role, language, "
	    "status, delivery, digest, CASE core WHEN 1 THEN '1' ELSE '0' "
	    "END, CASE WHEN paused_digest IS NULL THEN '0' ELSE '1' END, "
	    ISO("consent_at") ", consent_channel, consent_text_version, "
	    ISO("created_at") ", " ISO("left_at") ", "
	    "(SELECT status FROM notes n WHERE n.member_id = m.id ORDER BY "
	    "  n.status = 'published' DESC, n.id DESC LIMIT 1), "
	    "(SELECT body FROM notes n WHERE n.member_id = m.id ORDER BY "
	    "  n.status = 'published' DESC, n.id DESC LIMIT 1) "
	    "FROM members m ORDER BY email");
	char delim = excel ? ';' : ',';
	size_t ncol = NELEM(csv_columns);
	int rc;

	if (excel)
		fputs("\xef\xbb\xbf", f);
	for (size_t i = 0; i < ncol; i++)
		csv_field(f, csv_columns[i], delim, i + 1 == ncol);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		for (size_t i = 0; i < ncol; i++)
			csv_field(f, db_col_text(st, (int)i), delim,
			    i + 1 == ncol);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? BOTU_OK : BOTU_EDATA;
}

static int
export_json(struct botu_db *db, FILE *f)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT coalesce(json_group_array(json(j)), '[]') FROM ("
	    "  SELECT json_object(" MEMBER_FIELDS ") AS j"
	    "  FROM members m ORDER BY email)");
	int rc;

	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		fprintf(f, "%s\n", db_col_text(st, 0));
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? BOTU_OK : BOTU_EDATA;
}

int
memberdata_export(struct botu_db *db, FILE *f, enum members_format fmt,
    int excel)
{
	if (fmt == MEMBERS_CSV)
		return export_csv(db, f, excel);
	if (fmt == MEMBERS_JSON)
		return export_json(db, f);
	return BOTU_EDATA;
}

/* ---- one member ---- */

int
memberdata_json(struct botu_db *db, int64_t id, char **json)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT json_object(" MEMBER_FIELDS
	    ", " MEMBER_HISTORY ") FROM members m WHERE m.id = ?");
	int rc;

	*json = NULL;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*json = xstrdup(db_col_text(st, 0));
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return BOTU_OK;
	return rc == SQLITE_DONE ? BOTU_EPERM : BOTU_EDATA;
}

/* A date as the mail's reader reads it; unset when t is 0. */
static void
set_date(const struct botu_conf *conf, struct tmpl_vars *v,
    const char *name, int64_t t, const char *lang)
{
	char when[96];

	if (t == 0)
		return;
	date_format((time_t)t, conf->list.timezone, lang, DATE_LONG, when,
	    sizeof(when));
	tmpl_set(v, name, when);
}

/*
 * One list of the template: each row of st (column 0 a time, then the
 * fields named in names) becomes an item with "when" and those fields.
 */
static int
add_list(const struct botu_conf *conf, struct tmpl_vars *v,
    const char *list, sqlite3_stmt *st, const char *const *names,
    const char *lang)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct tmpl_vars *item = tmpl_add_item(v, list);

		set_date(conf, item, "when", sqlite3_column_int64(st, 0), lang);
		for (int i = 0; names[i] != NULL; i++)
			tmpl_set(item, names[i], db_col_text(st, i + 1));
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? BOTU_OK : BOTU_EDATA;
}

static int
history_vars(struct botu_db *db, const struct botu_conf *conf,
    const struct member *m, const char *lang, struct tmpl_vars *v)
{
	static const char *const note_f[] = { "note_status", "note_name",
	    "note_role", "note_body", NULL };
	static const char *const event_f[] = { "what", "detail", NULL };
	static const char *const mail_f[] = { "what", "mail_status", NULL };
	static const char *const recv_f[] = { "subject", NULL };
	static const char *const bounce_f[] = { "bounce_class",
	    "bounce_status", NULL };
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(db, "SELECT created_at, status, name, role, body FROM "
	    "notes WHERE member_id = ? ORDER BY id");
	sqlite3_bind_int64(st, 1, m->id);
	rc = add_list(conf, v, "notes", st, note_f, lang);
	st = db_stmt(db, "SELECT at, kind, detail FROM events WHERE "
	    "member_id = ? ORDER BY at, id");
	sqlite3_bind_int64(st, 1, m->id);
	if (rc == BOTU_OK)
		rc = add_list(conf, v, "events", st, event_f, lang);
	st = db_stmt(db, "SELECT created_at, kind, status FROM outbox WHERE "
	    "member_id = ?1 OR rcpt = ?2 ORDER BY id");
	sqlite3_bind_int64(st, 1, m->id);
	sqlite3_bind_text(st, 2, m->email, -1, SQLITE_STATIC);
	if (rc == BOTU_OK)
		rc = add_list(conf, v, "mails", st, mail_f, lang);
	st = db_stmt(db, "SELECT first_seen, coalesce(subject, '') FROM "
	    "inbound WHERE sender = ? COLLATE NOCASE ORDER BY id");
	sqlite3_bind_text(st, 1, m->email, -1, SQLITE_STATIC);
	if (rc == BOTU_OK)
		rc = add_list(conf, v, "received", st, recv_f, lang);
	st = db_stmt(db, "SELECT at, class, status FROM bounces WHERE "
	    "member_id = ? ORDER BY id");
	sqlite3_bind_int64(st, 1, m->id);
	if (rc == BOTU_OK)
		rc = add_list(conf, v, "bounces", st, bounce_f, lang);
	return rc;
}

int
memberdata_vars(struct botu_db *db, const struct botu_conf *conf,
    int64_t id, const char *lang, struct tmpl_vars *v)
{
	sqlite3_stmt *st;
	struct member m;
	int rc, paused = 0;
	int64_t left = 0;

	rc = members_get_id(db, id, &m);
	if (rc != 1)
		return rc == 0 ? BOTU_EPERM : BOTU_EDATA;
	st = db_stmt(db, "SELECT paused_digest IS NOT NULL, "
	    "coalesce(left_at, 0) FROM members WHERE id = ?");
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		paused = sqlite3_column_int(st, 0);
		left = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	tmpl_set(v, "email", m.email);
	tmpl_set(v, "member_name", m.name);
	tmpl_set(v, "member_role", m.role);
	tmpl_set(v, "language", m.language);
	tmpl_set(v, "status", m.status);
	tmpl_set(v, "delivery", m.delivery);
	tmpl_set(v, "digest", m.digest);
	tmpl_set(v, "core", m.core ? "yes" : "");
	tmpl_set(v, "paused", paused ? "yes" : "");
	set_date(conf, v, "created", m.created_at, lang);
	set_date(conf, v, "left", left, lang);
	set_date(conf, v, "consent_at", m.consent_at, lang);
	tmpl_set(v, "consent_channel", m.consent_channel);
	tmpl_set(v, "consent_message_id", m.consent_message_id);
	tmpl_set(v, "consent_text_version", m.consent_text_version);
	rc = history_vars(db, conf, &m, lang, v);
	member_clear(&m);
	return rc;
}
