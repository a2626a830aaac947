/* outbox.c - see outbox.h */
#include <stdlib.h>
#include <string.h>

#include "botu/log.h"
#include "botu/outbox.h"
#include "botu/util.h"

int
outbox_add(struct botu_db *db, const struct outbox_mail *m, int64_t *id)
{
	sqlite3_stmt *st = db_stmt(db,
	    "INSERT INTO outbox (created_at, kind, member_id, rcpt, "
	    "envelope_from, message_id, body, next_try, expires_at, ordered, "
	    "cause, digest_id) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?1, ?8, ?9, ?10, ?11)");
	time_t now = time(NULL);
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_text(st, 2, m->kind, -1, SQLITE_STATIC);
	if (m->member_id > 0)
		sqlite3_bind_int64(st, 3, m->member_id);
	sqlite3_bind_text(st, 4, m->rcpt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, m->envelope_from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, m->message_id, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 7, m->data, m->len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)(m->expires_at != 0 ?
	    m->expires_at : now + OUTBOX_DEFAULT_LIFETIME));
	sqlite3_bind_int(st, 9, m->ordered ? 1 : 0);
	if (m->cause != NULL)
		sqlite3_bind_text(st, 10, m->cause, -1, SQLITE_STATIC);
	if (m->digest_id > 0)
		sqlite3_bind_int64(st, 11, m->digest_id);
	rc = db_exec_stmt(db, st);
	if (rc == BOTU_OK && id != NULL)
		*id = db_last_id(db);
	return rc;
}

/*
 * A queued row that may go when its time comes: ordered mail waits for
 * earlier ordered mail to the same person (rcpt compares without case).
 */
#define SENDABLE "status = 'queued' AND " \
	"(body IS NOT NULL OR digest_id IS NOT NULL) AND NOT (" \
	"ordered AND EXISTS (SELECT 1 FROM outbox p WHERE p.rcpt = o.rcpt " \
	"AND p.ordered AND p.status = 'queued' AND p.id < o.id))"

void
outbox_row_clear(struct outbox_row *r)
{
	free(r->rcpt);
	free(r->envelope_from);
	free(r->data);
	free(r->kind);
	free(r->message_id);
	memset(r, 0, sizeof(*r));
}

void
outbox_rows_free(struct outbox_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		outbox_row_clear(&rows[i]);
	free(rows);
}

int
outbox_due(struct botu_db *db, time_t now, int max,
    struct outbox_row **rows, size_t *n)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT id, rcpt, envelope_from, body, attempts, kind, "
	    "message_id, coalesce(member_id, 0), coalesce(digest_id, 0) "
	    "FROM outbox o "
	    "WHERE " SENDABLE " AND next_try <= ?1 AND expires_at > ?1 "
	    "ORDER BY next_try, id LIMIT ?2");
	struct outbox_row *out = NULL;
	size_t count = 0;
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_int(st, 2, max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct outbox_row *r;
		const void *blob = sqlite3_column_blob(st, 3);
		size_t len = (size_t)sqlite3_column_bytes(st, 3);

		out = xrealloc(out, (count + 1) * sizeof(*out));
		r = &out[count++];
		r->id = sqlite3_column_int64(st, 0);
		r->rcpt = xstrdup(db_col_text(st, 1));
		r->envelope_from = xstrdup(db_col_text(st, 2));
		/* A digest row has no body: digest.h renders it. */
		if (sqlite3_column_type(st, 3) == SQLITE_NULL)
			r->data = NULL;
		else {
			r->data = xmalloc(len + 1);
			if (len > 0)
				memcpy(r->data, blob, len);
			r->data[len] = '\0';
		}
		r->len = r->data != NULL ? len : 0;
		r->attempts = sqlite3_column_int(st, 4);
		r->kind = xstrdup(db_col_text(st, 5));
		r->message_id = xstrdup(db_col_text(st, 6));
		r->member_id = sqlite3_column_int64(st, 7);
		r->digest_id = sqlite3_column_int64(st, 8);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		outbox_rows_free(out, count);
		return BOTU_EDATA;
	}
	*rows = out;
	*n = count;
	return BOTU_OK;
}

int
outbox_next_due(struct botu_db *db, time_t *when)
{
	/* Not a held row's own time, or the loop would spin until then. */
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT min(next_try) FROM outbox o WHERE " SENDABLE);
	int rc = sqlite3_step(st);

	*when = rc == SQLITE_ROW ? (time_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? BOTU_OK : BOTU_EDATA;
}

static int
set_result(struct botu_db *db, int64_t id, const char *status, time_t now,
    int code, const char *text)
{
	sqlite3_stmt *st = db_stmt(db,
	    "UPDATE outbox SET status = ?1, attempts = attempts + 1, "
	    "last_code = ?2, last_error = ?3, "
	    "sent_at = CASE ?1 WHEN 'sent' THEN ?4 ELSE sent_at END "
	    "WHERE id = ?5");

	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	if (code > 0)
		sqlite3_bind_int(st, 2, code);
	if (text != NULL && text[0] != '\0')
		sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 5, id);
	return db_exec_stmt(db, st);
}

int
outbox_sent(struct botu_db *db, int64_t id, time_t now, int code,
    const char *text)
{
	return set_result(db, id, "sent", now, code, text);
}

int
outbox_failed(struct botu_db *db, int64_t id, time_t now, int code,
    const char *text)
{
	return set_result(db, id, "failed", now, code, text);
}

static time_t
backoff(int attempts)
{
	static const int minutes[] = { 1, 5, 15, 30, 60 };

	if (attempts < 1)
		attempts = 1;
	if ((size_t)attempts <= NELEM(minutes))
		return (time_t)minutes[attempts - 1] * 60;
	return 2 * 3600;
}

int
outbox_retry_later(struct botu_db *db, int64_t id, time_t now, int code,
    const char *text, int count)
{
	/* Past its expiry the row fails; else it waits its backoff. */
	sqlite3_stmt *st = db_stmt(db,
	    "UPDATE outbox SET attempts = attempts + ?1, last_code = ?2, "
	    "last_error = ?3, "
	    "next_try = ?4 + CASE WHEN ?1 THEN ?5 ELSE ?6 END, "
	    "status = CASE WHEN ?1 AND ?4 + ?5 >= expires_at "
	    "  THEN 'failed' ELSE 'queued' END "
	    "WHERE id = ?7");
	sqlite3_stmt *q = db_stmt(db,
	    "SELECT attempts FROM outbox WHERE id = ?");
	int attempts = 0;

	sqlite3_bind_int64(q, 1, id);
	if (sqlite3_step(q) == SQLITE_ROW)
		attempts = sqlite3_column_int(q, 0);
	sqlite3_reset(q);
	sqlite3_bind_int(st, 1, count ? 1 : 0);
	if (code > 0)
		sqlite3_bind_int(st, 2, code);
	if (text != NULL && text[0] != '\0')
		sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)backoff(attempts + 1));
	sqlite3_bind_int64(st, 6, 60);
	sqlite3_bind_int64(st, 7, id);
	return db_exec_stmt(db, st);
}

int
outbox_skip(struct botu_db *db, int64_t id, const char *why)
{
	sqlite3_stmt *st = db_stmt(db,
	    "UPDATE outbox SET status = 'dropped', last_error = ?1 "
	    "WHERE id = ?2 AND status = 'queued'");

	sqlite3_bind_text(st, 1, why, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	return db_exec_stmt(db, st);
}

int
outbox_expire(struct botu_db *db, time_t now, int *n)
{
	sqlite3_stmt *st = db_stmt(db,
	    "UPDATE outbox SET status = 'expired' "
	    "WHERE status = 'queued' AND expires_at <= ?");
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	rc = db_exec_stmt(db, st);
	*n = rc == BOTU_OK ? db_changes(db) : 0;
	return rc;
}

int
outbox_sent_since(struct botu_db *db, time_t since, int64_t *n)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT count(*) FROM outbox WHERE sent_at >= ?");
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)since);
	rc = sqlite3_step(st);
	*n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? BOTU_OK : BOTU_EDATA;
}

int
outbox_count(struct botu_db *db, const char *status, int64_t *n)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT count(*) FROM outbox WHERE status = ?");
	int rc;

	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? BOTU_OK : BOTU_EDATA;
}

int
outbox_write(struct botu_db *db, FILE *f, int json, const char *status)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT id, status, kind, rcpt, attempts, "
	    "strftime('%Y-%m-%dT%H:%M:%SZ', created_at, 'unixepoch'), "
	    "strftime('%Y-%m-%dT%H:%M:%SZ', next_try, 'unixepoch'), "
	    "strftime('%Y-%m-%dT%H:%M:%SZ', expires_at, 'unixepoch'), "
	    "CASE WHEN sent_at IS NULL THEN NULL ELSE "
	    "  strftime('%Y-%m-%dT%H:%M:%SZ', sent_at, 'unixepoch') END, "
	    "last_code, last_error, message_id, "
	    "json_object('id', id, 'status', status, 'kind', kind, "
	    "  'rcpt', rcpt, 'attempts', attempts, "
	    "  'created', strftime('%Y-%m-%dT%H:%M:%SZ', created_at, "
	    "  'unixepoch'), "
	    "  'next_try', strftime('%Y-%m-%dT%H:%M:%SZ', next_try, "
	    "  'unixepoch'), "
	    "  'expires', strftime('%Y-%m-%dT%H:%M:%SZ', expires_at, "
	    "  'unixepoch'), "
	    "  'sent', CASE WHEN sent_at IS NULL THEN NULL ELSE "
	    "  strftime('%Y-%m-%dT%H:%M:%SZ', sent_at, 'unixepoch') END, "
	    "  'last_code', last_code, 'last_error', last_error, "
	    "  'message_id', message_id) "
	    "FROM outbox WHERE ?1 IS NULL OR status = ?1 ORDER BY id");
	int rc, first = 1;

	if (status != NULL)
		sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	if (json)
		fputc('[', f);
	else
		fprintf(f, "%-6s %-8s %-10s %-32s %3s  %s\n", "ID", "STATUS",
		    "KIND", "TO", "TRY", "NEXT TRY / LAST REPLY");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (json) {
			fprintf(f, "%s%s", first ? "" : ",",
			    db_col_text(st, 12));
			first = 0;
			continue;
		}
		fprintf(f, "%-6lld %-8s %-10s %-32s %3d  %s%s%s\n",
		    (long long)sqlite3_column_int64(st, 0),
		    db_col_text(st, 1), db_col_text(st, 2),
		    log_addr(db_col_text(st, 3)), sqlite3_column_int(st, 4),
		    strcmp(db_col_text(st, 1), "queued") == 0 ?
		    db_col_text(st, 6) : db_col_text(st, 8),
		    sqlite3_column_type(st, 10) != SQLITE_NULL ? "  " : "",
		    db_col_text(st, 10));
	}
	sqlite3_reset(st);
	if (json)
		fputs("]\n", f);
	return rc == SQLITE_DONE ? BOTU_OK : BOTU_EDATA;
}

int
outbox_requeue(struct botu_db *db, int64_t id, time_t now, int *n)
{
	sqlite3_stmt *st = db_stmt(db,
	    "UPDATE outbox SET status = 'queued', next_try = ?1, "
	    "expires_at = max(expires_at, ?1 + ?2) "
	    "WHERE (?3 = 0 AND (status IN ('failed', 'expired') OR "
	    "  (status = 'queued' AND next_try > ?1))) OR "
	    "(id = ?3 AND status IN ('queued', 'failed', 'expired'))");
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 2, OUTBOX_DEFAULT_LIFETIME);
	sqlite3_bind_int64(st, 3, id);
	rc = db_exec_stmt(db, st);
	*n = rc == BOTU_OK ? db_changes(db) : 0;
	return rc;
}

int
outbox_drop(struct botu_db *db, int64_t id, int *n)
{
	sqlite3_stmt *st = db_stmt(db,
	    "UPDATE outbox SET status = 'dropped' "
	    "WHERE (?1 = 0 AND status = 'failed') OR "
	    "(id = ?1 AND status IN ('queued', 'failed', 'expired'))");
	int rc;

	sqlite3_bind_int64(st, 1, id);
	rc = db_exec_stmt(db, st);
	*n = rc == BOTU_OK ? db_changes(db) : 0;
	return rc;
}
