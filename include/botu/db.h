/*
 * db.h - the store: one SQLite database in WAL mode.
 *
 * db_open() applies the pragmas every connection needs (busy_timeout,
 * foreign_keys, synchronous=FULL, secure_delete) and brings the schema up
 * to date by PRAGMA user_version, one migration per transaction, so an
 * upgrade that is interrupted (a crash, a kill, a full disk) leaves the
 * last version it finished and the next start goes on from there; for the
 * test of that, BOTU_CRASH_AT=migration[:N] in the environment aborts in
 * the middle of the step to version N (any step without N). Modules
 * that keep data (members, outbox, ...) get cached prepared statements with
 * db_stmt(); callers group their changes with db_begin()/db_commit(), so one
 * handled mail is one transaction. No module function begins a transaction
 * on its own.
 */
#ifndef BOTU_DB_H
#define BOTU_DB_H

#include <stdint.h>
#include <sqlite3.h>

#include "botu/err.h"

struct botu_db;

enum db_mode {
	DB_READWRITE,	/* create the file and migrate when needed */
	DB_READONLY,	/* refuse an out-of-date schema, write nothing */
};

int	db_open(const char *path, enum db_mode, struct botu_db **out,
	    char err[BOTU_ERRLEN]);
void	db_close(struct botu_db *);

/* The schema version this binary writes, and what the file has. */
int	db_latest_version(void);
int	db_version(struct botu_db *);
/* Tests: open without migrating, then migrate up to version (≤ latest). */
int	db_open_at(const char *path, int version, struct botu_db **out,
	    char err[BOTU_ERRLEN]);

/*
 * A prepared statement for sql, made once per connection and reset for
 * each use; sql must be a string literal (it is the cache key). The
 * statement belongs to the database: never finalize it. A statement that
 * does not compile is a bug: fatalx().
 */
sqlite3_stmt *db_stmt(struct botu_db *, const char *sql);

/* Runs a statement from db_stmt() that returns no rows; BOTU_OK or error. */
int	db_exec_stmt(struct botu_db *, sqlite3_stmt *);
/* Runs SQL text without parameters (several statements allowed). */
int	db_exec(struct botu_db *, const char *sql);

int	db_begin(struct botu_db *);	/* BEGIN IMMEDIATE */
int	db_commit(struct botu_db *);
void	db_rollback(struct botu_db *);

/* The last SQLite error as one line (borrowed). */
const char *db_errmsg(struct botu_db *);
sqlite3	*db_sqlite(struct botu_db *);
int64_t	 db_last_id(struct botu_db *);
int	 db_changes(struct botu_db *);

/*
 * Records a state change so it can be explained later: kind ("subscribe",
 * "confirm", ...), actor ("cli", "mail", "daemon"), the Message-ID that
 * caused it, if any, and a short free-text detail. member_id 0: none.
 */
int	db_event(struct botu_db *, int64_t member_id, const char *kind,
	    const char *actor, const char *message_id, const char *detail);

/*
 * Small named values of the daemon (a pause of the outbox, the last good
 * login). db_state_get: 1 and *value (owned) when set, 0 when not;
 * db_state_set with value NULL removes the key.
 */
int	db_state_get(struct botu_db *, const char *key, char **value);
int	db_state_set(struct botu_db *, const char *key, const char *value);

/* Text of a column, "" for NULL (borrowed until the next step/reset). */
const char *db_col_text(sqlite3_stmt *, int col);

#endif
