/* summary.c - see summary.h */
#include <stdlib.h>
#include <string.h>

#include "botu/dates.h"
#include "botu/log.h"
#include "botu/mailout.h"
#include "botu/schedule.h"
#include "botu/summary.h"
#include "botu/util.h"

/*
 * A list in the mail: one item per row of sql (?1 from, ?2 to), the
 * columns named by fields. A column named "when" is a time, written out
 * in the list's language; another integer column is a flag ("yes" or "").
 * The template gets <var> (the items), <var>_count and, past
 * SUMMARY_LIST_MAX items, <var>_more.
 */
struct summary_list {
	const char	 *var;
	const char	 *sql;
	const char *const *fields;
};

static const char *const person_fields[] = { "name", "email", NULL };
static const char *const mail_fields[] = { "from", "subject", "when", NULL };
static const char *const aside_fields[] =
    { "from", "subject", "reason", NULL };
static const char *const failed_fields[] = { "when", "what", NULL };
static const char *const problem_fields[] =
    { "when", "paused", "login", "unreachable", "what", NULL };

static const struct summary_list lists[] = {
	{ "joined",
	  "SELECT name, email FROM members WHERE id IN ("
	  " SELECT member_id FROM events WHERE at >= ?1 AND at < ?2 AND"
	  " (kind = 'confirm' OR (kind IN ('add', 'readd') AND"
	  " detail = 'active'))) ORDER BY email",
	  person_fields },
	{ "left",
	  "SELECT name, email FROM members WHERE id IN ("
	  " SELECT member_id FROM events WHERE at >= ?1 AND at < ?2 AND"
	  " kind = 'unsubscribe') ORDER BY email",
	  person_fields },
	/* Mail botu sent itself (this summary, back in the mailbox botu
	 * reads) is no news for a person. */
	{ "for_you",
	  "SELECT coalesce(sender, ''), coalesce(subject, ''), finished_at"
	  " FROM inbound WHERE state = 'left' AND finished_at >= ?1 AND"
	  " finished_at < ?2 AND (message_id IS NULL OR message_id NOT IN"
	  " (SELECT message_id FROM outbox)) ORDER BY finished_at, id",
	  mail_fields },
	{ "set_aside",
	  "SELECT coalesce(sender, ''), coalesce(subject, ''),"
	  " coalesce(reason, '') FROM inbound WHERE state = 'poison' AND"
	  " finished_at >= ?1 AND finished_at < ?2 ORDER BY finished_at, id",
	  aside_fields },
	{ "failed",
	  "SELECT at, detail FROM events WHERE kind = 'send-failed' AND"
	  " at >= ?1 AND at < ?2 ORDER BY at, id",
	  failed_fields },
	{ "problems",
	  "SELECT at, kind = 'sending-paused', kind = 'imap-login-refused',"
	  " kind = 'imap-unreachable', detail FROM events WHERE kind IN"
	  " ('sending-paused', 'imap-login-refused', 'imap-unreachable') AND"
	  " at >= ?1 AND at < ?2 ORDER BY at, id",
	  problem_fields },
};

/*
 * A count that exists once its table does (other parts of botu add the
 * tables): one line each. The template shows <var> when it is above 0.
 * sql gets ?1 from and ?2 to; a statement that does not fit the table is
 * skipped with a debug line, never fatal.
 */
struct summary_count {
	const char	*var;
	const char	*table;
	const char	*sql;
};

static const struct summary_count counts[] = {
	/* Confirmed by their authors in the period, still to approve. */
	{ "notes_waiting", "notes",
	  "SELECT count(*) FROM notes WHERE status = 'pending' AND"
	  " confirmed_at >= ?1 AND confirmed_at < ?2" },
	{ "bounces", "bounces",
	  "SELECT count(*) FROM bounces WHERE at >= ?1 AND at < ?2" },
};

static void
set_time(struct tmpl_vars *v, const char *name, time_t t,
    const struct botu_conf *conf)
{
	char buf[96];

	if (date_format(t, conf->list.timezone,
	    conf_languages[conf->list.language], DATE_LONG, buf,
	    sizeof(buf)) < 0)
		buf[0] = '\0';
	tmpl_set(v, name, buf);
}

static void
add_item(struct tmpl_vars *vars, const struct summary_list *l,
    sqlite3_stmt *st, const struct botu_conf *conf)
{
	struct tmpl_vars *item = tmpl_add_item(vars, l->var);

	for (int i = 0; l->fields[i] != NULL; i++) {
		const char *f = l->fields[i];

		if (strcmp(f, "when") == 0)
			set_time(item, f, (time_t)sqlite3_column_int64(st, i),
			    conf);
		else if (sqlite3_column_type(st, i) == SQLITE_INTEGER)
			tmpl_set(item, f, sqlite3_column_int64(st, i) ?
			    "yes" : "");
		else
			tmpl_set(item, f, db_col_text(st, i));
	}
}

static int
collect_list(struct botu_db *db, const struct summary_list *l,
    time_t from, time_t to, struct tmpl_vars *vars,
    const struct botu_conf *conf)
{
	sqlite3_stmt *st = db_stmt(db, l->sql);
	int n = 0, rc;
	char name[64];

	sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)to);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n < SUMMARY_LIST_MAX)
			add_item(vars, l, st, conf);
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (n > 0) {
		snprintf(name, sizeof(name), "%s_count", l->var);
		tmpl_setf(vars, name, "%d", n);
	}
	if (n > SUMMARY_LIST_MAX) {
		snprintf(name, sizeof(name), "%s_more", l->var);
		tmpl_setf(vars, name, "%d", n - SUMMARY_LIST_MAX);
	}
	return n;
}

static int
has_table(struct botu_db *db, const char *table)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT 1 FROM sqlite_schema "
	    "WHERE type = 'table' AND name = ?");
	int rc;

	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_ROW;
}

static long long
collect_count(struct botu_db *db, const struct summary_count *c,
    time_t from, time_t to)
{
	sqlite3_stmt *st = NULL;
	long long n = 0;

	if (!has_table(db, c->table))
		return 0;
	if (sqlite3_prepare_v2(db_sqlite(db), c->sql, -1, &st, NULL) !=
	    SQLITE_OK) {
		log_debug("summary: no %s count: %s", c->var, db_errmsg(db));
		return 0;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)to);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

int
summary_collect(struct botu_db *db, const struct botu_conf *conf,
    time_t from, time_t to, struct tmpl_vars *vars, int *items)
{
	long long n;
	int k;

	*items = 0;
	set_time(vars, "since", from, conf);
	set_time(vars, "until", to, conf);
	for (size_t i = 0; i < NELEM(lists); i++) {
		k = collect_list(db, &lists[i], from, to, vars, conf);
		if (k < 0)
			return BOTU_EDATA;
		*items += k;
	}
	for (size_t i = 0; i < NELEM(counts); i++) {
		n = collect_count(db, &counts[i], from, to);
		if (n > 0) {
			tmpl_setf(vars, counts[i].var, "%lld", n);
			*items += (int)n;
		}
	}
	return BOTU_OK;
}

/* [summary] to, else the moderators, else the list address. */
static char *const *
recipients(const struct botu_conf *conf, const char **one)
{
	if (conf->summary.to != NULL && conf->summary.to[0] != NULL)
		return conf->summary.to;
	if (conf->list.moderators != NULL && conf->list.moderators[0] != NULL)
		return conf->list.moderators;
	one[0] = conf->list.address;
	one[1] = NULL;
	return (char *const *)one;
}

static int
queue_all(struct botu_db *db, const struct botu_conf *conf,
    struct tmpl_vars *vars, int *queued, char *err)
{
	const char *one[2];
	char *const *to = recipients(conf, one);
	int rc = BOTU_OK;

	for (size_t i = 0; to[i] != NULL && rc == BOTU_OK; i++) {
		struct mailout m = {
			.to = to[i],
			.template = "summary",
			.kind = "summary",
			.auto_submitted = COMPOSE_AUTO_GENERATED,
		};

		rc = mailout_queue(db, conf, &m, vars, err);
		if (rc == BOTU_OK)
			(*queued)++;
	}
	return rc;
}

/* One run, in one transaction: what happened, the mails, the record. */
static int
run(struct botu_db *db, const struct botu_conf *conf,
    const struct schedule *s, time_t now, int *queued, char *err)
{
	struct tmpl_vars *vars = NULL;
	time_t last, next;
	int rc, items = 0;

	if (db_begin(db) != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "summary: %s", db_errmsg(db));
		return BOTU_ETEMP;
	}
	/* Again, inside the transaction: another botu may have run it. */
	rc = schedule_due(db, SUMMARY_STATE_KEY, s, conf->list.timezone, now,
	    &last, &next);
	if (rc == 1) {
		vars = tmpl_vars_new();
		rc = summary_collect(db, conf, last, now, vars, &items);
		if (rc != BOTU_OK)
			snprintf(err, BOTU_ERRLEN, "summary: %s",
			    db_errmsg(db));
		if (rc == BOTU_OK && items > 0)
			rc = queue_all(db, conf, vars, queued, err);
		if (rc == BOTU_OK)
			rc = schedule_done(db, SUMMARY_STATE_KEY, now);
	} else if (rc < 0)
		snprintf(err, BOTU_ERRLEN, "summary: %s", db_errmsg(db));
	if (rc >= 0 && db_commit(db) == BOTU_OK) {
		if (vars != NULL && items == 0)
			log_info("summary: nothing happened; no mail");
		else if (vars != NULL)
			log_info("summary: %d thing%s to tell; queued for %d "
			    "recipient%s", items, items == 1 ? "" : "s",
			    *queued, *queued == 1 ? "" : "s");
		tmpl_vars_free(vars);
		return BOTU_OK;
	}
	db_rollback(db);
	tmpl_vars_free(vars);
	*queued = 0;
	return rc < 0 ? rc : BOTU_ETEMP;
}

int
summary_tick(struct botu_db *db, const struct botu_conf *conf, time_t now,
    int *queued, time_t *next, char err[BOTU_ERRLEN])
{
	struct schedule s;
	time_t last;
	int rc;

	*queued = 0;
	*next = 0;
	if (schedule_parse(conf->summary.schedule, &s, err, BOTU_ERRLEN) < 0)
		return BOTU_ECONFIG;
	if (s.kind == SCHED_OFF)
		return BOTU_OK;
	/* Most passes are not due: ask without a write lock first. */
	rc = schedule_due(db, SUMMARY_STATE_KEY, &s, conf->list.timezone,
	    now, &last, next);
	if (rc == 1)
		rc = run(db, conf, &s, now, queued, err);
	else if (rc < 0)
		snprintf(err, BOTU_ERRLEN, "summary: cannot read when it last "
		    "ran: %s", db_errmsg(db));
	if (rc == BOTU_OK && *next == 0 &&
	    schedule_next(&s, conf->list.timezone, now, next) < 0)
		*next = 0;
	return rc < 0 ? rc : BOTU_OK;
}
