/* confirm.c - see confirm.h */
#include <stdlib.h>
#include <string.h>

#include "botu/confirm.h"
#include "botu/token.h"
#include "botu/util.h"

int
confirm_create(struct botu_db *db, const char *kind, int64_t member_id,
    const char *message_id, time_t expires_at, char **token)
{
	sqlite3_stmt *st = db_stmt(db,
	    "INSERT INTO tokens (token, kind, member_id, created_at, "
	    "expires_at, message_id) VALUES (?, ?, ?, ?, ?, ?)");
	int rc;

	*token = token_new(128);
	sqlite3_bind_text(st, 1, *token, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, member_id);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 5, (sqlite3_int64)expires_at);
	if (message_id != NULL && message_id[0] != '\0')
		sqlite3_bind_text(st, 6, message_id, -1, SQLITE_STATIC);
	rc = db_exec_stmt(db, st);
	if (rc != BOTU_OK) {
		free(*token);
		*token = NULL;
	}
	return rc;
}

int
confirm_lookup(struct botu_db *db, const char *token,
    struct confirm_code *out)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT kind, member_id, expires_at, coalesce(used_at, 0) "
	    "FROM tokens WHERE token = ?");
	int rc;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		str_copy(out->kind, db_col_text(st, 0), sizeof(out->kind));
		out->member_id = sqlite3_column_int64(st, 1);
		out->expires_at = (time_t)sqlite3_column_int64(st, 2);
		out->used_at = (time_t)sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : BOTU_EDATA;
}

int
confirm_use(struct botu_db *db, const char *token)
{
	sqlite3_stmt *st = db_stmt(db,
	    "UPDATE tokens SET used_at = ? WHERE token = ?");

	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 2, token, -1, SQLITE_STATIC);
	return db_exec_stmt(db, st);
}

int
confirm_count_since(struct botu_db *db, time_t t, int64_t *n)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT count(*) FROM tokens WHERE created_at >= ?");
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)t);
	rc = sqlite3_step(st);
	*n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? BOTU_OK : BOTU_EDATA;
}
