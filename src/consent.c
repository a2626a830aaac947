/* consent.c - see consent.h */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "botu/addr.h"
#include "botu/consent.h"
#include "botu/dates.h"
#include "botu/mailout.h"
#include "botu/token.h"
#include "botu/util.h"

/*
 * The statements of one thing. db_stmt() caches by the SQL's address, so
 * each is a literal of its own.
 */
struct thing_sql {
	const char	*create;
	const char	*lookup;
	const char	*use;
	const char	*answers;	/* ?1 rcpt, ?2 since */
};

#define THING_SQL(table, column, kinds) {				\
	"INSERT INTO " table " (token, kind, " column ", address, "	\
	    "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",	\
	"SELECT kind, " column ", address, expires_at, "		\
	    "coalesce(used_at, 0) FROM " table " WHERE token = ?",	\
	"UPDATE " table " SET used_at = ?1 WHERE " column " = ?2 AND "	\
	    "used_at IS NULL AND (?3 IS NULL OR kind = ?3)",		\
	"SELECT count(*) FROM outbox WHERE rcpt = ?1 AND "		\
	    "created_at >= ?2 AND kind IN " kinds,			\
}

static const struct thing_sql things[] = {
	[CONSENT_NOTE] = THING_SQL("note_tokens", "note_id",
	    "('note-confirm', 'note-answer', 'note-withdraw')"),
	[CONSENT_POST] = THING_SQL("post_tokens", "post_id",
	    "('update-answer')"),
};

int
consent_token_create(struct botu_db *db, enum consent_thing thing,
    const char *kind, int64_t id, const char *address, time_t expires,
    char **token)
{
	sqlite3_stmt *st = db_stmt(db, things[thing].create);
	int rc;

	*token = token_new(TOKEN_BITS);
	sqlite3_bind_text(st, 1, *token, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, id);
	sqlite3_bind_text(st, 4, address, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 6, (sqlite3_int64)expires);
	rc = db_exec_stmt(db, st);
	if (rc != BOTU_OK) {
		free(*token);
		*token = NULL;
	}
	return rc;
}

/* 1 and *t when token is one of thing's codes, 0 when not, BOTU_EDATA. */
static int
token_lookup(struct botu_db *db, enum consent_thing thing,
    const char *token, struct consent_token *t)
{
	sqlite3_stmt *st = db_stmt(db, things[thing].lookup);
	int rc;

	memset(t, 0, sizeof(*t));
	sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		str_copy(t->kind, db_col_text(st, 0), sizeof(t->kind));
		t->id = sqlite3_column_int64(st, 1);
		str_copy(t->address, db_col_text(st, 2), sizeof(t->address));
		t->expires_at = (time_t)sqlite3_column_int64(st, 3);
		t->used_at = (time_t)sqlite3_column_int64(st, 4);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : BOTU_EDATA;
}

int
consent_tokens_use(struct botu_db *db, enum consent_thing thing,
    int64_t id, const char *kind)
{
	sqlite3_stmt *st = db_stmt(db, things[thing].use);

	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 2, id);
	if (kind != NULL)
		sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
	return db_exec_stmt(db, st);
}

int
consent_token_open(struct botu_db *db, enum consent_thing thing,
    const char *token, struct intake_decision *d, struct consent_token *t)
{
	int rc;

	rc = token_lookup(db, thing, token, t);
	if (rc <= 0)
		return rc;
	/* A moderator who comes second is told who decided. */
	if (t->used_at != 0 && strcmp(t->kind, "moderator") != 0) {
		consent_decide(d, 1, "this code was used before",
		    "do nothing more");
		return 1;
	}
	if (t->expires_at <= time(NULL)) {
		consent_decide(d, 0, "the code has expired",
		    "leave it for a person");
		return 1;
	}
	return 2;
}

void
consent_decide(struct intake_decision *d, int act, const char *reason,
    const char *fmt, ...)
{
	va_list ap;

	d->act = act;
	if (reason != NULL)
		str_copy(d->reason, reason, sizeof(d->reason));
	va_start(ap, fmt);
	vsnprintf(d->action, sizeof(d->action), fmt, ap);
	va_end(ap);
}

int
consent_may_answer(struct botu_db *db, enum consent_thing thing,
    const char *rcpt, int max)
{
	sqlite3_stmt *st;
	int n = 0;

	if (db == NULL)
		return 1;
	st = db_stmt(db, things[thing].answers);
	sqlite3_bind_text(st, 1, rcpt, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL) - 3600);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return n < max;
}

void
consent_set_date(const struct botu_conf *conf, struct tmpl_vars *v,
    const char *name, time_t t, const char *lang)
{
	char when[96];

	date_format(t, conf->list.timezone, lang, DATE_LONG, when,
	    sizeof(when));
	tmpl_set(v, name, when);
}

int
consent_ask_moderators(struct botu_db *db, const struct botu_conf *conf,
    const struct consent_ask *a, char err[BOTU_ERRLEN])
{
	const char *lang = conf_languages[conf->list.language];
	int rc = BOTU_OK;

	for (char **mod = conf->list.moderators; mod != NULL && *mod != NULL &&
	    rc == BOTU_OK; mod++) {
		struct tmpl_vars *v;
		char *token = NULL, *reply_to;

		rc = consent_token_create(db, a->thing, "moderator", a->id,
		    *mod, a->expires, &token);
		if (rc != BOTU_OK) {
			snprintf(err, BOTU_ERRLEN, "cannot store a code: %s",
			    db_errmsg(db));
			break;
		}
		reply_to = addr_token(conf, ADDR_CONFIRM, token);
		v = tmpl_vars_new();
		a->vars(v, conf, a->arg);
		tmpl_set(v, "token", token);
		struct mailout_person pm = {
			.to = *mod, .lang = lang, .tmpl = a->tmpl,
			.kind = a->kind, .reply_to = reply_to,
			.auto_generated = 1,
		};
		rc = mailout_person(db, conf, &pm, v, err);
		tmpl_vars_free(v);
		free(reply_to);
		free(token);
	}
	return rc;
}

int
consent_moderator_may(struct intake_decision *d,
    const struct botu_conf *conf, const char *from, const char *what,
    int has_verdict)
{
	if (!addr_in(conf->list.moderators, from)) {
		consent_decide(d, 0, NULL, "leave it for a person");
		snprintf(d->reason, sizeof(d->reason), "only the moderators "
		    "in [list] moderators can approve or reject %s", what);
		return 0;
	}
	if (!has_verdict) {
		consent_decide(d, 0, "a moderator's answer without akkoord "
		    "or afwijzen", "leave it for a person");
		return 0;
	}
	return 1;
}

int
consent_pending(struct botu_db *db, int found, const char *what,
    int64_t id, const char *status, const char *decided_by,
    char err[BOTU_ERRLEN])
{
	if (found < 0) {
		snprintf(err, BOTU_ERRLEN, "%s", db_errmsg(db));
		return BOTU_EDATA;
	}
	if (found == 0) {
		snprintf(err, BOTU_ERRLEN, "there is no %s %lld", what,
		    (long long)id);
		return BOTU_EPERM;
	}
	if (strcmp(status, "pending") != 0) {
		if (decided_by[0] != '\0')
			snprintf(err, BOTU_ERRLEN, "%s %lld is %s already "
			    "(by %s)", what, (long long)id, status,
			    decided_by);
		else
			snprintf(err, BOTU_ERRLEN, "%s %lld is %s, not "
			    "waiting for a moderator", what, (long long)id,
			    status);
		return BOTU_EPERM;
	}
	return BOTU_OK;
}
