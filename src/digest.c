/* digest.c - see digest.h */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "botu/addr.h"
#include "botu/compose.h"
#include "botu/dates.h"
#include "botu/digest.h"
#include "botu/log.h"
#include "botu/mailout.h"
#include "botu/meetings.h"
#include "botu/notes.h"
#include "botu/posts.h"
#include "botu/schedule.h"
#include "botu/textclean.h"
#include "botu/util.h"
#include "botu/verp.h"

/*
 * An issue made at now covers up to now - PERIOD_LAG: what was published
 * in the second the issue is made may still be committed after it (times
 * are whole seconds), so it goes into the next issue, never into none.
 * Every writer takes its time inside its write transaction, and the issue
 * holds the write lock, so nothing dated before that second can come
 * later.
 */
#define PERIOD_LAG 1

/* Rhythm answers to one member per hour. */
#define RHYTHM_ANSWERS_PER_HOUR 3

/* ---- the sections ---- */

static digest_fill_fn fill_updates, fill_notes;

/* How the monthly edition takes a list from the issues it covers. */
enum merge {
	MERGE_ALL,	/* every issue's items, oldest issue first */
	MERGE_NEWEST,	/* the newest issue's items only */
};

struct section {
	const char	*list;		/* the list variable it fills */
	digest_fill_fn	*fill;
	enum merge	 merge;
	int		 dedupe;	/* items with the same "key": only the
					   newest */
	size_t		 budget;	/* characters of "body" shared by the
					   items of one mail; 0: no limit */
};

/*
 * The digest, in the order the template shows it. Each list gets
 * <list>_count at rendering (unset when empty), so a template shows a
 * heading only when there is something under it.
 */
static const struct section sections[] = {
	{ "updates", fill_updates, MERGE_ALL, 0, 0 },
	{ "notes", fill_notes, MERGE_ALL, 1, DIGEST_NOTES_CHARS },
	{ "meetings", meetings_digest_upcoming, MERGE_NEWEST, 0, 0 },
	{ "agreements", meetings_digest_agreements, MERGE_ALL, 0, 0 },
};

/* Scalars of an issue, and how the monthly edition takes them. */
enum scalar_merge {
	SCALAR_FIRST,	/* from the oldest issue it covers */
	SCALAR_SUM,	/* added up */
};

static const struct {
	const char		*var;
	enum scalar_merge	 merge;
} scalars[] = {
	{ "since", SCALAR_FIRST },
	{ "first", SCALAR_FIRST },
	{ "new_members", SCALAR_SUM },
};

static void
set_day(const struct botu_conf *conf, struct tmpl_vars *v, const char *name,
    time_t t, const char *lang)
{
	char buf[96];

	if (date_format(t, conf->list.timezone, lang, DATE_DAY, buf,
	    sizeof(buf)) < 0)
		buf[0] = '\0';
	tmpl_set(v, name, buf);
}

struct fill {
	const struct botu_conf	*conf;
	const char		*lang;
	time_t			 from, to;
	struct tmpl_vars	*vars;
	int			*items;
};

static int
add_update(const struct post *p, void *arg)
{
	struct fill *f = arg;
	struct tmpl_vars *item = tmpl_add_item(f->vars, "updates");

	tmpl_set(item, "title", p->subject);
	tmpl_set(item, "author", p->name);
	set_day(f->conf, item, "when", (time_t)p->published_at, f->lang);
	tmpl_set(item, "body", p->body);
	/* Whose it is, so botu members forget can take it out again. */
	if (p->member_id > 0)
		tmpl_setf(item, "key", "m%lld", (long long)p->member_id);
	(*f->items)++;
	return 0;
}

static int
fill_updates(struct botu_db *db, const struct botu_conf *conf, time_t from,
    time_t to, const char *lang, struct tmpl_vars *vars, int *items)
{
	struct fill f = { conf, lang, from, to, vars, items };

	return posts_each_published(db, from, to, add_update, &f);
}

static int
add_note(const struct note *n, void *arg)
{
	struct fill *f = arg;
	struct tmpl_vars *item;

	if (n->published_at <= f->from || n->published_at > f->to)
		return 0;
	item = tmpl_add_item(f->vars, "notes");
	tmpl_set(item, "name", n->name);
	tmpl_set(item, "role", n->role);
	tmpl_set(item, "body", n->body);
	/* A member's newer note replaces the older in a monthly edition. */
	tmpl_setf(item, "key", "m%lld", (long long)n->member_id);
	(*f->items)++;
	return 0;
}

/* Newly published notes of members still active, by name. */
static int
fill_notes(struct botu_db *db, const struct botu_conf *conf, time_t from,
    time_t to, const char *lang, struct tmpl_vars *vars, int *items)
{
	struct fill f = { conf, lang, from, to, vars, items };

	return notes_each_published(db, add_note, &f);
}

/* People who joined in (from, to] and are members still: a number. */
static int
count_new_members(struct botu_db *db, time_t from, time_t to, int64_t *n)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT count(*) FROM members WHERE "
	    "status = 'active' AND id IN (SELECT member_id FROM events WHERE "
	    "at > ?1 AND at <= ?2 AND (kind = 'confirm' OR (kind IN ('add', "
	    "'readd') AND detail = 'active')))");
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)to);
	rc = sqlite3_step(st);
	*n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? BOTU_OK : BOTU_EDATA;
}

int
digest_collect(struct botu_db *db, const struct botu_conf *conf,
    time_t from, time_t to, const char *lang, struct tmpl_vars *vars,
    int *items)
{
	int64_t joined = 0;
	int rc;

	*items = 0;
	if (from > 0)
		set_day(conf, vars, "since", from, lang);
	else
		tmpl_set(vars, "first", "yes");
	set_day(conf, vars, "until", to, lang);
	for (size_t i = 0; i < NELEM(sections); i++) {
		rc = sections[i].fill(db, conf, from, to, lang, vars, items);
		if (rc != BOTU_OK)
			return BOTU_EDATA;
	}
	if (count_new_members(db, from, to, &joined) != BOTU_OK)
		return BOTU_EDATA;
	if (joined > 0)
		tmpl_setf(vars, "new_members", "%lld", (long long)joined);
	return BOTU_OK;
}

int
digest_forget_member(struct botu_db *db, int64_t member_id)
{
	char key[32], path[64];
	int rc = BOTU_OK;

	snprintf(key, sizeof(key), "m%lld", (long long)member_id);
	for (int l = 0; l < LANG_COUNT && rc == BOTU_OK; l++)
		for (size_t i = 0; i < NELEM(sections) && rc == BOTU_OK;
		    i++) {
			sqlite3_stmt *st = db_stmt(db, "UPDATE digests SET "
			    "content = json_set(content, ?1, (SELECT "
			    "json_group_array(json(e.value)) FROM "
			    "json_each(content, ?1) e WHERE "
			    "json_extract(e.value, '$.key') IS NOT ?2)) "
			    "WHERE EXISTS (SELECT 1 FROM json_each(content, "
			    "?1) e WHERE json_extract(e.value, '$.key') = ?2)");

			snprintf(path, sizeof(path), "$.%s.%s",
			    conf_languages[l], sections[i].list);
			sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
			rc = db_exec_stmt(db, st);
		}
	return rc;
}

/* ---- making an issue ---- */

/* What the issue says in every language, as one JSON object. */
static int
build_content(struct botu_db *db, const struct botu_conf *conf,
    time_t from, time_t to, struct buf *json, int *items)
{
	int n, rc = BOTU_OK;

	*items = 0;
	buf_addc(json, '{');
	for (int l = 0; l < LANG_COUNT && rc == BOTU_OK; l++) {
		struct tmpl_vars *vars = tmpl_vars_new();

		rc = digest_collect(db, conf, from, to, conf_languages[l],
		    vars, &n);
		if (l == conf->list.language)
			*items = n;
		buf_addf(json, "%s\"%s\":", l > 0 ? "," : "",
		    conf_languages[l]);
		tmpl_vars_json(vars, json);
		tmpl_vars_free(vars);
	}
	buf_addc(json, '}');
	return rc;
}

static int64_t
query_int(struct botu_db *db, sqlite3_stmt *st, int *ok)
{
	int64_t v = 0;
	int rc = sqlite3_step(st);

	(void)db;
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	*ok = rc == SQLITE_ROW || rc == SQLITE_DONE;
	sqlite3_reset(st);
	return v;
}

/* The end of the previous issue's period; 0 before the first issue. */
static int
last_end(struct botu_db *db, time_t *from)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT coalesce(max(period_end), 0) "
	    "FROM digests");
	int ok;

	*from = (time_t)query_int(db, st, &ok);
	return ok ? BOTU_OK : BOTU_EDATA;
}

/*
 * Is an issue made at now the first of its calendar month (list time
 * zone)? Then *month_from is the first issue its monthly edition covers:
 * the one after the previous monthly edition.
 */
static int
month_start(struct botu_db *db, const struct botu_conf *conf, time_t now,
    int number, int *month_from)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT created_at FROM digests "
	    "ORDER BY number DESC LIMIT 1");
	struct tm a, b;
	time_t prev;
	int ok;

	*month_from = 0;
	prev = (time_t)query_int(db, st, &ok);
	if (!ok)
		return BOTU_EDATA;
	if (prev != 0) {
		if (date_to_local(prev, conf->list.timezone, &a) < 0 ||
		    date_to_local(now, conf->list.timezone, &b) < 0)
			return BOTU_EDATA;
		if (a.tm_year == b.tm_year && a.tm_mon == b.tm_mon)
			return BOTU_OK;
	}
	st = db_stmt(db, "SELECT coalesce(max(number), 0) FROM digests "
	    "WHERE month_from IS NOT NULL AND number < ?");
	sqlite3_bind_int(st, 1, number);
	*month_from = (int)query_int(db, st, &ok) + 1;
	return ok ? BOTU_OK : BOTU_EDATA;
}

static int
insert_issue(struct botu_db *db, int number, time_t from, time_t now,
    int month_from, int items, const char *content, int64_t *id)
{
	sqlite3_stmt *st = db_stmt(db, "INSERT INTO digests (number, "
	    "period_start, period_end, month_from, items, content, "
	    "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
	int rc;

	sqlite3_bind_int(st, 1, number);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)from);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)(now - PERIOD_LAG));
	if (month_from > 0)
		sqlite3_bind_int(st, 4, month_from);
	sqlite3_bind_int(st, 5, items);
	sqlite3_bind_text(st, 6, content, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)now);
	rc = db_exec_stmt(db, st);
	if (rc == BOTU_OK)
		*id = db_last_id(db);
	return rc;
}

/*
 * One outbox row per reader, pointing to the issue: active, delivery on,
 * by rhythm. Streamed from the query (not read into memory first): the
 * issue's memory stays the same at 1,000 members and at 100,000.
 */
static int
queue_readers(struct botu_db *db, const struct botu_conf *conf, int64_t id,
    int month, int *rows)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id, email, digest = 'monthly' "
	    "FROM members WHERE status = 'active' AND delivery = 'on' AND "
	    "(digest = 'weekly' OR (digest = 'monthly' AND ?)) ORDER BY id");
	int rc = BOTU_OK, step = SQLITE_DONE;

	*rows = 0;
	if (st == NULL)
		return BOTU_EDATA;
	sqlite3_bind_int(st, 1, month);
	while (rc == BOTU_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		char *mid = compose_message_id(addr_domain(conf));
		struct outbox_mail om = {
			.kind = sqlite3_column_int(st, 2) ? "digest-month" :
			    "digest",
			.member_id = sqlite3_column_int64(st, 0),
			.rcpt = db_col_text(st, 1),
			.envelope_from = conf->list.address,
			.message_id = mid,
			.digest_id = id,
		};
		int64_t row = 0;

		rc = outbox_add(db, &om, &row);
		if (rc == BOTU_OK)
			rc = verp_apply(db, conf, row);
		free(mid);
		if (rc == BOTU_OK) {
			(*rows)++;
			crash_point("digest-rows");
		}
	}
	if (rc == BOTU_OK && step != SQLITE_DONE)
		rc = BOTU_EDATA;
	sqlite3_reset(st);
	return rc;
}

int
digest_issue(struct botu_db *db, const struct botu_conf *conf, time_t now,
    int force, struct digest_made *r, char err[BOTU_ERRLEN])
{
	sqlite3_stmt *st;
	struct buf content;
	int rc, ok, month_from = 0;

	memset(r, 0, sizeof(*r));
	buf_init(&content);
	rc = last_end(db, &r->from);
	if (rc == BOTU_OK)
		rc = build_content(db, conf, r->from, now - PERIOD_LAG,
		    &content, &r->items);
	if (rc != BOTU_OK)
		goto fail;
	if (r->items == 0 && !force && !conf->digest.send_empty) {
		rc = schedule_done(db, DIGEST_STATE_KEY, now);
		if (rc != BOTU_OK)
			goto fail;
		goto out;
	}
	st = db_stmt(db, "SELECT coalesce(max(number), 0) + 1 FROM digests");
	r->number = (int)query_int(db, st, &ok);
	rc = ok ? month_start(db, conf, now, r->number, &month_from) :
	    BOTU_EDATA;
	if (rc == BOTU_OK)
		rc = insert_issue(db, r->number, r->from, now, month_from,
		    r->items, content.s, &r->id);
	if (rc != BOTU_OK)
		goto fail;
	crash_point("digest-issue");
	r->monthly = month_from > 0;
	rc = queue_readers(db, conf, r->id, r->monthly, &r->rows);
	if (rc == BOTU_OK)
		rc = db_event(db, 0, "digest", "daemon", NULL, "");
	if (rc == BOTU_OK)
		rc = schedule_done(db, DIGEST_STATE_KEY, now);
	if (rc != BOTU_OK)
		goto fail;
	crash_point("digest-commit");
	goto out;
fail:
	snprintf(err, BOTU_ERRLEN, "digest: cannot make the issue: %s",
	    db_errmsg(db));
	r->id = 0;
	rc = BOTU_EDATA;
out:
	buf_free(&content);
	return rc;
}

/* One scheduled run in its own transaction; *rows the mails queued. */
static int
run(struct botu_db *db, const struct botu_conf *conf,
    const struct schedule *s, time_t now, int *rows, char *err)
{
	struct digest_made made = { 0 };
	time_t last, next;
	int rc;

	if (db_begin(db) != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "digest: %s", db_errmsg(db));
		return BOTU_ETEMP;
	}
	/* Again, inside the transaction: another botu may have made it. */
	rc = schedule_due(db, DIGEST_STATE_KEY, s, conf->list.timezone, now,
	    &last, &next);
	if (rc == 1)
		rc = digest_issue(db, conf, now, 0, &made, err);
	else if (rc < 0)
		snprintf(err, BOTU_ERRLEN, "digest: %s", db_errmsg(db));
	if (rc >= 0 && db_commit(db) == BOTU_OK) {
		crash_point("digest-committed");
		if (made.id != 0)
			log_info("digest #%d: %d thing%s; queued for %d "
			    "member%s%s", made.number, made.items,
			    made.items == 1 ? "" : "s", made.rows,
			    made.rows == 1 ? "" : "s", made.monthly ?
			    " (with the monthly edition)" : "");
		else if (rc == BOTU_OK && last != 0)
			log_info("digest: nothing happened since the last "
			    "issue; none sent");
		*rows = made.rows;
		return BOTU_OK;
	}
	if (rc >= 0)
		snprintf(err, BOTU_ERRLEN, "digest: %s", db_errmsg(db));
	db_rollback(db);
	return rc < 0 ? rc : BOTU_ETEMP;
}

int
digest_tick(struct botu_db *db, const struct botu_conf *conf, time_t now,
    int *rows, time_t *next, char err[BOTU_ERRLEN])
{
	struct schedule s;
	time_t last;
	int rc;

	*rows = 0;
	*next = 0;
	if (schedule_parse(conf->digest.schedule, &s, err, BOTU_ERRLEN) < 0)
		return BOTU_ECONFIG;
	if (s.kind == SCHED_OFF)
		return BOTU_OK;
	/* Most passes are not due: ask without a write lock first. */
	rc = schedule_due(db, DIGEST_STATE_KEY, &s, conf->list.timezone, now,
	    &last, next);
	if (rc == 1)
		rc = run(db, conf, &s, now, rows, err);
	else if (rc < 0)
		snprintf(err, BOTU_ERRLEN, "digest: cannot read when it last "
		    "ran: %s", db_errmsg(db));
	if (rc == BOTU_OK && *next == 0 &&
	    schedule_next(&s, conf->list.timezone, now, next) < 0)
		*next = 0;
	return rc < 0 ? rc : BOTU_OK;
}

/* ---- reading an issue back ---- */

/* Octets of the first max characters of s, cut after a word. */
static size_t
cut_at(const char *s, size_t max, int *cut)
{
	size_t i = 0, chars = 0, space = 0, n;

	*cut = 0;
	while (s[i] != '\0') {
		if (chars == max) {
			*cut = 1;
			break;
		}
		if (s[i] == ' ' || s[i] == '\n')
			space = i;
		n = utf8_charlen(s + i);
		i += n > 0 ? n : 1;
		chars++;
	}
	if (*cut && space > 0 && space > i / 2)
		i = space;
	return i;
}

/*
 * The HTML part shows a text as paragraphs: split at blank lines, the
 * lines of one paragraph joined by spaces.
 */
static void
set_paragraphs(struct tmpl_vars *item, const char *text)
{
	struct buf p;
	const char *s = text, *eol;
	size_t n;

	buf_init(&p);
	for (;;) {
		eol = strchr(s, '\n');
		n = eol != NULL ? (size_t)(eol - s) : strlen(s);
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r' ||
		    s[n - 1] == '\t'))
			n--;
		if (n == 0 && p.len > 0) {
			tmpl_set(tmpl_add_item(item, "paragraphs"), "text",
			    p.s);
			buf_truncate(&p, 0);
		} else if (n > 0) {
			if (p.len > 0)
				buf_addc(&p, ' ');
			buf_add(&p, s, n);
		}
		if (eol == NULL)
			break;
		s = eol + 1;
	}
	if (p.len > 0)
		tmpl_set(tmpl_add_item(item, "paragraphs"), "text", p.s);
	buf_free(&p);
}

/* A body as the mail shows it: shortened to limit characters (0: not). */
static void
set_body(struct tmpl_vars *item, const char *body, size_t limit,
    int *shortened)
{
	char *text, *cut_text;
	size_t n;
	int cut = 0;

	n = limit > 0 ? cut_at(body, limit, &cut) : strlen(body);
	if (cut) {
		cut_text = str_trim(xstrndup(body, n));
		text = xasprintf("%s …", cut_text);
		free(cut_text);
		*shortened = 1;
	} else
		text = xstrdup(body);
	tmpl_set(item, "body", text);
	tmpl_set(item, "shortened", cut ? "yes" : "");
	set_paragraphs(item, text);
	free(text);
}

struct field {
	char	*key;
	char	*value;		/* text, or the JSON of an array */
	int	 array;
};

/* The fields of one JSON object, read before any is used (recursion). */
static int
fields_of(struct botu_db *db, const char *json, struct field **out,
    size_t *n)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT key, value, type = 'array' "
	    "FROM json_each(?) WHERE type IN ('text', 'array', 'integer', "
	    "'real') ORDER BY id");
	struct field *f = NULL;
	size_t count = 0;
	int rc;

	sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		f = xrealloc(f, (count + 1) * sizeof(*f));
		f[count].key = xstrdup(db_col_text(st, 0));
		f[count].value = xstrdup(db_col_text(st, 1));
		f[count].array = sqlite3_column_int(st, 2);
		count++;
	}
	sqlite3_reset(st);
	*out = f;
	*n = count;
	return rc == SQLITE_DONE ? BOTU_OK : BOTU_EDATA;
}

static void
fields_free(struct field *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(f[i].key);
		free(f[i].value);
	}
	free(f);
}

static int load_object(struct botu_db *, const char *, struct tmpl_vars *,
    size_t, int *);

/* The objects of a JSON array as items of list name. */
static int
load_array(struct botu_db *db, const char *json, struct tmpl_vars *vars,
    const char *name)
{
	struct field *f = NULL;
	size_t n = 0;
	int rc, dummy = 0;

	rc = fields_of(db, json, &f, &n);
	for (size_t i = 0; i < n && rc == BOTU_OK; i++)
		rc = load_object(db, f[i].value, tmpl_add_item(vars, name), 0,
		    &dummy);
	fields_free(f, n);
	return rc;
}

/* A JSON object into vars; "body" as set_body() shows it. */
static int
load_object(struct botu_db *db, const char *json, struct tmpl_vars *vars,
    size_t limit, int *shortened)
{
	struct field *f = NULL;
	size_t n = 0;
	int rc;

	rc = fields_of(db, json, &f, &n);
	for (size_t i = 0; i < n && rc == BOTU_OK; i++) {
		if (f[i].array)
			rc = load_array(db, f[i].value, vars, f[i].key);
		else if (strcmp(f[i].key, "body") == 0)
			set_body(vars, f[i].value, limit, shortened);
		else
			tmpl_set(vars, f[i].key, f[i].value);
	}
	fields_free(f, n);
	return rc;
}

/* An issue as rendering needs it. */
struct issue {
	int64_t	 id;
	int	 number;
	int	 first;		/* the first issue it covers */
	time_t	 created_at;
};

static int
issue_get(struct botu_db *db, int64_t id, int monthly, struct issue *is)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT number, coalesce(month_from, "
	    "number), created_at FROM digests WHERE id = ?");
	int rc;

	memset(is, 0, sizeof(*is));
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		is->id = id;
		is->number = sqlite3_column_int(st, 0);
		is->first = monthly ? sqlite3_column_int(st, 1) : is->number;
		is->created_at = (time_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : BOTU_EDATA;
}

/* The scalars of the newest issue, then those the edition merges. */
static int
load_scalars(struct botu_db *db, const struct issue *is, const char *lang,
    struct tmpl_vars *vars)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT content FROM digests WHERE "
	    "id = ?");
	char *content = NULL, path[64];
	int rc;

	sqlite3_bind_int64(st, 1, is->id);
	if (sqlite3_step(st) == SQLITE_ROW)
		content = xstrdup(db_col_text(st, 0));
	sqlite3_reset(st);
	if (content == NULL)
		return BOTU_EDATA;
	st = db_stmt(db, "SELECT json_extract(?, ?)");
	sqlite3_bind_text(st, 1, content, -1, SQLITE_STATIC);
	snprintf(path, sizeof(path), "$.%s", lang);
	sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		char *obj = xstrdup(db_col_text(st, 0));
		struct field *f = NULL;
		size_t n = 0;

		sqlite3_reset(st);
		rc = fields_of(db, obj, &f, &n);
		for (size_t i = 0; i < n && rc == BOTU_OK; i++)
			if (!f[i].array)
				tmpl_set(vars, f[i].key, f[i].value);
		fields_free(f, n);
		free(obj);
	} else {
		sqlite3_reset(st);
		rc = BOTU_EDATA;
	}
	free(content);
	if (rc != BOTU_OK || is->first == is->number)
		return rc;
	for (size_t i = 0; i < NELEM(scalars); i++) {
		snprintf(path, sizeof(path), "$.%s.%s", lang, scalars[i].var);
		st = scalars[i].merge == SCALAR_SUM ?
		    db_stmt(db, "SELECT CAST(total(CAST(json_extract(content, "
		    "?1) AS INTEGER)) AS INTEGER) FROM digests WHERE number "
		    "BETWEEN ?2 AND ?3") :
		    db_stmt(db, "SELECT json_extract(content, ?1) FROM digests "
		    "WHERE number BETWEEN ?2 AND ?3 ORDER BY number LIMIT 1");
		sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, is->first);
		sqlite3_bind_int(st, 3, is->number);
		if (sqlite3_step(st) == SQLITE_ROW) {
			const char *v = db_col_text(st, 0);

			if (scalars[i].merge == SCALAR_SUM &&
			    strcmp(v, "0") == 0)
				v = "";
			tmpl_set(vars, scalars[i].var, v);
		}
		sqlite3_reset(st);
	}
	return BOTU_OK;
}

struct entry {
	char	*json;
	char	*key;
};

/* The items of a section from the issues the edition covers. */
static int
entries_of(struct botu_db *db, const struct section *sec,
    const struct issue *is, const char *lang, struct entry **out,
    size_t *n)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT e.value, "
	    "coalesce(json_extract(e.value, '$.key'), '') FROM digests d, "
	    "json_each(d.content, ?1) e WHERE d.number BETWEEN ?2 AND ?3 "
	    "AND e.type = 'object' ORDER BY d.number, e.key");
	struct entry *v = NULL;
	size_t count = 0;
	char path[96];
	int rc;

	snprintf(path, sizeof(path), "$.%s.%s", lang, sec->list);
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, sec->merge == MERGE_ALL ? is->first :
	    is->number);
	sqlite3_bind_int(st, 3, is->number);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xrealloc(v, (count + 1) * sizeof(*v));
		v[count].json = xstrdup(db_col_text(st, 0));
		v[count].key = xstrdup(db_col_text(st, 1));
		count++;
	}
	sqlite3_reset(st);
	/* The same thing twice (a note replaced within the month): the
	 * newest stays. */
	for (size_t i = 0; sec->dedupe && i < count; i++)
		for (size_t k = i + 1; k < count && v[i].key[0] != '\0'; k++)
			if (strcmp(v[i].key, v[k].key) == 0) {
				free(v[i].json);
				v[i].json = NULL;
				break;
			}
	*out = v;
	*n = count;
	return rc == SQLITE_DONE ? BOTU_OK : BOTU_EDATA;
}

/* A section's list into vars: *count items, *shortened any body cut. */
static int
load_section(struct botu_db *db, const struct section *sec,
    const struct issue *is, const char *lang, struct tmpl_vars *vars,
    int *count, int *shortened)
{
	struct entry *v = NULL;
	size_t n = 0, limit = 0;
	int rc;

	*count = 0;
	rc = entries_of(db, sec, is, lang, &v, &n);
	for (size_t i = 0; i < n; i++)
		*count += v[i].json != NULL;
	if (sec->budget > 0 && *count > 0) {
		limit = sec->budget / (size_t)*count;
		if (limit < DIGEST_NOTE_MIN)
			limit = DIGEST_NOTE_MIN;
	}
	for (size_t i = 0; i < n && rc == BOTU_OK; i++)
		if (v[i].json != NULL)
			rc = load_object(db, v[i].json,
			    tmpl_add_item(vars, sec->list), limit, shortened);
	for (size_t i = 0; i < n; i++) {
		free(v[i].json);
		free(v[i].key);
	}
	free(v);
	if (rc == BOTU_OK && *count > 0) {
		char name[64];

		snprintf(name, sizeof(name), "%s_count", sec->list);
		tmpl_setf(vars, name, "%d", *count);
	}
	return rc;
}

/* Unsubscribe: the member's own token address, else +afmelden. */
static char *
unsub_of(const struct botu_conf *conf, const struct member *m)
{
	if (m == NULL || m->unsub_token == NULL || m->unsub_token[0] == '\0')
		return NULL;
	return addr_token(conf, ADDR_UNSUBSCRIBE, m->unsub_token);
}

static const char *
lang_of(const struct botu_conf *conf, const struct member *m)
{
	for (int l = 0; m != NULL && l < LANG_COUNT; l++)
		if (strcmp(m->language, conf_languages[l]) == 0)
			return conf_languages[l];
	return conf_languages[conf->list.language];
}

/* What the template gets from issue is in lang, the same for everyone. */
static int
issue_part(struct botu_db *db, const struct issue *is, const char *lang,
    struct tmpl_vars *vars)
{
	int rc, count, all = 0, shortened = 0;

	rc = load_scalars(db, is, lang, vars);
	for (size_t i = 0; i < NELEM(sections) && rc == BOTU_OK; i++) {
		rc = load_section(db, &sections[i], is, lang, vars, &count,
		    &shortened);
		all += count;
	}
	if (rc != BOTU_OK)
		return rc;
	tmpl_setf(vars, "number", "%d", is->number);
	if (is->first != is->number) {
		tmpl_set(vars, "monthly", "yes");
		tmpl_setf(vars, "first_number", "%d", is->first);
	}
	tmpl_set(vars, "nothing", all == 0 ? "yes" : "");
	tmpl_set(vars, "any_shortened", shortened ? "yes" : "");
	return BOTU_OK;
}

/* What differs per member (set or replaced): the name, the addresses. */
static void
member_part(const struct botu_conf *conf, const struct member *m,
    struct tmpl_vars *vars)
{
	char *unsub = unsub_of(conf, m);

	tmpl_set(vars, "name", m != NULL ? m->name : "");
	mailout_list_vars(conf, vars, unsub);
	free(unsub);
}

/* Everything the template gets, for issue is and member m. */
static int
issue_vars(struct botu_db *db, const struct botu_conf *conf,
    const struct issue *is, const struct member *m, struct tmpl_vars *vars)
{
	int rc = issue_part(db, is, lang_of(conf, m), vars);

	if (rc == BOTU_OK)
		member_part(conf, m, vars);
	return rc;
}

struct digest_cache {
	int64_t			 id;	/* 0: empty */
	int			 monthly;
	const char		*lang;	/* a conf_languages entry */
	struct issue		 is;
	struct tmpl_vars	*vars;	/* issue_part() */
};

struct digest_cache *
digest_cache_new(void)
{
	return xcalloc(1, sizeof(struct digest_cache));
}

void
digest_cache_clear(struct digest_cache *c)
{
	if (c == NULL)
		return;
	tmpl_vars_free(c->vars);
	memset(c, 0, sizeof(*c));
}

void
digest_cache_free(struct digest_cache *c)
{
	digest_cache_clear(c);
	free(c);
}

/*
 * The issue's variables for member m in *vars (owned by the cache when
 * there is one: not to be freed), the member's part filled in; BOTU_OK,
 * or an error with err set.
 */
static int
row_vars(struct botu_db *db, const struct botu_conf *conf,
    struct digest_cache *c, int64_t id, int monthly, const struct member *m,
    struct issue *is, struct tmpl_vars **vars, char err[BOTU_ERRLEN])
{
	const char *lang = lang_of(conf, m);
	int rc;

	if (c != NULL && c->id == id && c->monthly == monthly &&
	    c->lang == lang) {
		*is = c->is;
		*vars = c->vars;
		member_part(conf, m, *vars);
		return BOTU_OK;
	}
	*vars = NULL;
	rc = issue_get(db, id, monthly, is);
	if (rc != 1) {
		snprintf(err, BOTU_ERRLEN, "digest: no issue %lld%s%s",
		    (long long)id, rc < 0 ? ": " : "",
		    rc < 0 ? db_errmsg(db) : "");
		return BOTU_EDATA;
	}
	*vars = tmpl_vars_new();
	rc = issue_part(db, is, lang, *vars);
	if (rc != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "digest: cannot read issue #%d: %s",
		    is->number, db_errmsg(db));
		tmpl_vars_free(*vars);
		*vars = NULL;
		return rc;
	}
	if (c != NULL) {
		digest_cache_clear(c);
		c->id = id;
		c->monthly = monthly;
		c->lang = lang;
		c->is = *is;
		c->vars = *vars;
	}
	member_part(conf, m, *vars);
	return BOTU_OK;
}

int
digest_render(struct botu_db *db, const struct botu_conf *conf, int64_t id,
    int monthly, const struct member *m, struct tmpl_mail *out,
    char err[BOTU_ERRLEN])
{
	const char *langs[] = { lang_of(conf, m),
	    conf_languages[conf->list.language], "en", NULL };
	struct tmpl_vars *vars = NULL;
	struct issue is;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = issue_get(db, id, monthly, &is);
	if (rc != 1) {
		snprintf(err, BOTU_ERRLEN, "digest: no issue %lld%s%s",
		    (long long)id, rc < 0 ? ": " : "",
		    rc < 0 ? db_errmsg(db) : "");
		return BOTU_EDATA;
	}
	vars = tmpl_vars_new();
	rc = issue_vars(db, conf, &is, m, vars);
	if (rc != BOTU_OK)
		snprintf(err, BOTU_ERRLEN, "digest: cannot read issue #%d: %s",
		    is.number, db_errmsg(db));
	else
		rc = tmpl_mail_render(tmpl_dir(conf->list.templates), langs,
		    "digest", vars, out, err);
	tmpl_vars_free(vars);
	return rc;
}

/* The complete message of issue id for member m, to rcpt. */
static int
compose_issue(struct botu_db *db, const struct botu_conf *conf,
    struct digest_cache *c, int64_t id, int monthly, const struct member *m,
    const char *rcpt, const char *message_id, struct buf *out,
    char err[BOTU_ERRLEN])
{
	const char *langs[] = { lang_of(conf, m),
	    conf_languages[conf->list.language], "en", NULL };
	struct tmpl_vars *vars = NULL;
	struct tmpl_mail tm = { 0 };
	struct issue is;
	char *unsub = NULL;
	int rc;

	rc = row_vars(db, conf, c, id, monthly, m, &is, &vars, err);
	if (rc == BOTU_OK)
		rc = tmpl_mail_render(tmpl_dir(conf->list.templates), langs,
		    "digest", vars, &tm, err);
	if (rc == BOTU_OK) {
		struct outgoing o = {
			.to = rcpt,
			.to_name = m != NULL && m->name[0] != '\0' ?
			    m->name : NULL,
			.subject = tm.subject,
			.text = tm.text,
			.html = tm.html,
			.auto_submitted = COMPOSE_AUTO_GENERATED,
			.boundary = message_id,
		};

		unsub = unsub_of(conf, m);
		o.unsubscribe = unsub;
		/* The issue's time as Date: every retry the same bytes. */
		rc = compose(conf, &o, message_id, is.created_at, out, err);
	}
	if (c == NULL)
		tmpl_vars_free(vars);
	free(unsub);
	tmpl_mail_clear(&tm);
	return rc;
}

int
digest_render_row(struct botu_db *db, const struct botu_conf *conf,
    struct outbox_row *row, char err[BOTU_ERRLEN])
{
	return digest_render_row_cached(db, conf, NULL, row, err);
}

int
digest_render_row_cached(struct botu_db *db, const struct botu_conf *conf,
    struct digest_cache *c, struct outbox_row *row, char err[BOTU_ERRLEN])
{
	struct member m = { 0 };
	struct buf b;
	int rc, monthly = row->kind != NULL &&
	    strcmp(row->kind, "digest-month") == 0;

	buf_init(&b);
	rc = members_get_id(db, row->member_id, &m);
	if (rc < 0) {
		snprintf(err, BOTU_ERRLEN, "digest: %s", db_errmsg(db));
		rc = BOTU_ETEMP;
		goto out;
	}
	/* Who left, stopped the digest or bounces since the issue was
	 * made does not get it. */
	if (rc == 0 || strcmp(m.status, "active") != 0 ||
	    strcmp(m.delivery, "on") != 0 || strcmp(m.digest, "off") == 0) {
		snprintf(err, BOTU_ERRLEN, "digest: the member %s",
		    rc == 0 ? "is gone" : strcmp(m.status, "active") != 0 ?
		    "left" : strcmp(m.delivery, "on") != 0 ?
		    "gets no mail now" : "turned the digest off");
		rc = BOTU_EPERM;
		goto out;
	}
	rc = compose_issue(db, conf, c, row->digest_id, monthly, &m,
	    row->rcpt, row->message_id, &b, err);
	if (rc != BOTU_OK)
		goto out;
	crash_point("digest-render");
	free(row->data);
	row->len = b.len;
	row->data = buf_detach(&b);
out:
	buf_free(&b);
	member_clear(&m);
	return rc;
}

int
digest_preview(struct botu_db *db, const struct botu_conf *conf, time_t now,
    const char *email, int monthly, struct tmpl_mail *out, int *items,
    char err[BOTU_ERRLEN])
{
	struct member m = { 0 };
	struct digest_made made;
	int rc, found = 0;

	memset(out, 0, sizeof(*out));
	*items = 0;
	if (email != NULL) {
		found = members_get(db, email, &m);
		if (found <= 0) {
			snprintf(err, BOTU_ERRLEN, "digest: %s is not a "
			    "member", email);
			return BOTU_EDATA;
		}
	}
	/* Made as it would be, shown, and never kept. */
	if (db_begin(db) != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "digest: %s", db_errmsg(db));
		member_clear(&m);
		return BOTU_ETEMP;
	}
	rc = digest_issue(db, conf, now, 1, &made, err);
	if (rc == BOTU_OK) {
		*items = made.items;
		rc = digest_render(db, conf, made.id, monthly, found ? &m :
		    NULL, out, err);
	}
	db_rollback(db);
	member_clear(&m);
	return rc;
}

int
digest_write(struct botu_db *db, FILE *f, int json)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT d.number, d.created_at, "
	    "d.period_start, d.items, d.month_from IS NOT NULL, "
	    "(SELECT count(*) FROM outbox o WHERE o.digest_id = d.id), "
	    "(SELECT count(*) FROM outbox o WHERE o.digest_id = d.id AND "
	    "o.status = 'sent') FROM digests d ORDER BY d.number DESC");
	int rc, n = 0;

	if (json)
		fputs("[", f);
	else
		fputs("NUMBER  MADE                  ITEMS  MONTHLY  QUEUED  "
		    "SENT\n", f);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char when[32];
		time_t t = (time_t)sqlite3_column_int64(st, 1);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (json)
			fprintf(f, "%s\n{\"number\":%d,\"made\":\"%s\","
			    "\"since\":%lld,\"items\":%d,\"monthly\":%s,"
			    "\"queued\":%d,\"sent\":%d}", n > 0 ? "," : "",
			    sqlite3_column_int(st, 0), when,
			    (long long)sqlite3_column_int64(st, 2),
			    sqlite3_column_int(st, 3),
			    sqlite3_column_int(st, 4) ? "true" : "false",
			    sqlite3_column_int(st, 5),
			    sqlite3_column_int(st, 6));
		else
			fprintf(f, "%-7d %-21s %5d  %-7s  %6d  %4d\n",
			    sqlite3_column_int(st, 0), when,
			    sqlite3_column_int(st, 3),
			    sqlite3_column_int(st, 4) ? "yes" : "no",
			    sqlite3_column_int(st, 5),
			    sqlite3_column_int(st, 6));
		n++;
	}
	sqlite3_reset(st);
	if (json)
		fputs(n > 0 ? "\n]\n" : "]\n", f);
	return rc == SQLITE_DONE ? BOTU_OK : BOTU_EDATA;
}

/* ---- the rhythm, by mail ---- */

/* The words, after "digest"/"nieuwsbrief"/"newsletter", and the rhythm. */
static const struct {
	const char	*word;
	const char	*rhythm;
} rhythm_words[] = {
	{ "wekelijks", "weekly" },
	{ "weekly", "weekly" },
	{ "maandelijks", "monthly" },
	{ "monthly", "monthly" },
	{ "uit", "off" },
	{ "off", "off" },
};

const char *
digest_rhythm_of(const char *text)
{
	const char *rhythm = NULL;
	char *copy, *w, *save = NULL;
	int named = 0, words = 0;

	if (text == NULL)
		return NULL;
	copy = xstrdup(text);
	for (char *p = copy; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
		else if (*p == ':' || *p == '.' || *p == '!' || *p == ',' ||
		    *p == '"' || *p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	/* Exactly two words: the name of the mail, then the rhythm (after
	 * "Re:" and the like). */
	for (w = strtok_r(copy, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save)) {
		if (words == 0 && (strcmp(w, "re") == 0 ||
		    strcmp(w, "aw") == 0 || strcmp(w, "antw") == 0 ||
		    strcmp(w, "fw") == 0 || strcmp(w, "fwd") == 0))
			continue;
		words++;
		if (words == 1)
			named = strcmp(w, "digest") == 0 ||
			    strcmp(w, "nieuwsbrief") == 0 ||
			    strcmp(w, "newsletter") == 0;
		else if (words == 2)
			for (size_t i = 0; i < NELEM(rhythm_words); i++)
				if (strcmp(w, rhythm_words[i].word) == 0)
					rhythm = rhythm_words[i].rhythm;
	}
	free(copy);
	return named && words == 2 ? rhythm : NULL;
}

int
digest_set_rhythm(struct botu_db *db, int64_t id, const char *rhythm,
    const char *actor, const char *message_id)
{
	sqlite3_stmt *st;
	int rc;

	if (!member_valid_digest(rhythm))
		return BOTU_EDATA;
	st = db_stmt(db, "UPDATE members SET digest = ?1, updated_at = ?2 "
	    "WHERE id = ?3");
	sqlite3_bind_text(st, 1, rhythm, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 3, id);
	rc = db_exec_stmt(db, st);
	if (rc == BOTU_OK)
		rc = db_event(db, id, "digest", actor, message_id, rhythm);
	return rc;
}

static void
rhythm_decide(struct digest_mail *x, int act, const char *reason,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
rhythm_decide(struct digest_mail *x, int act, const char *reason,
    const char *fmt, ...)
{
	va_list ap;

	x->d->act = act;
	if (reason != NULL)
		str_copy(x->d->reason, reason, sizeof(x->d->reason));
	va_start(ap, fmt);
	vsnprintf(x->d->action, sizeof(x->d->action), fmt, ap);
	va_end(ap);
}

/* Answers about the rhythm to this member in the last hour stay few. */
static int
rhythm_may_answer(struct digest_mail *x)
{
	sqlite3_stmt *st;
	int n = 0;

	if (x->db == NULL)
		return 1;
	st = db_stmt(x->db, "SELECT count(*) FROM outbox WHERE member_id = ? "
	    "AND created_at >= ? AND kind = 'digest-rhythm'");
	sqlite3_bind_int64(st, 1, x->sender->id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL) - 3600);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return n < RHYTHM_ANSWERS_PER_HOUR;
}

int
digest_on_rhythm(struct digest_mail *x)
{
	const struct member *m = x->sender;
	const char *rhythm;
	struct tmpl_vars *v;
	char *refs, *unsub;
	int rc;

	rhythm = digest_rhythm_of(x->c->channel == CHANNEL_SUBJECT ?
	    x->msg->subject : x->c->own_words);
	if (m == NULL || strcmp(m->status, "active") != 0) {
		rhythm_decide(x, 0, "the sender is not a member", "leave it "
		    "for a person");
		return BOTU_OK;
	}
	if (rhythm == NULL) {
		rhythm_decide(x, 0, "no rhythm in the text", "leave it for a "
		    "person");
		return BOTU_OK;
	}
	if (!rhythm_may_answer(x)) {
		rhythm_decide(x, 1, NULL, "set the digest of %s to %s, "
		    "without an answer (enough this hour)",
		    log_addr(m->email), rhythm);
		return x->dry || x->db == NULL ? BOTU_OK :
		    digest_set_rhythm(x->db, m->id, rhythm, "mail",
		    x->msg->message_id);
	}
	rhythm_decide(x, 1, NULL, "set the digest of %s to %s and tell them",
	    log_addr(m->email), rhythm);
	if (x->dry || x->db == NULL)
		return BOTU_OK;
	rc = digest_set_rhythm(x->db, m->id, rhythm, "mail",
	    x->msg->message_id);
	if (rc != BOTU_OK)
		return rc;
	refs = x->msg->references[0] == '\0' ?
	    xstrdup(x->msg->message_id) : xasprintf("%s %s",
	    x->msg->references, x->msg->message_id);
	unsub = unsub_of(x->conf, m);
	v = tmpl_vars_new();
	tmpl_set(v, "name", m->name);
	tmpl_set(v, rhythm, "yes");
	{
		/* To the member's own address: a forged From tells them. */
		struct mailout mo = {
			.to = m->email,
			.to_name = m->name[0] != '\0' ? m->name : NULL,
			.lang = m->language,
			.template = "digest-rhythm",
			.kind = "digest-rhythm",
			.member_id = m->id,
			.in_reply_to = x->msg->message_id,
			.references = refs,
			.unsubscribe = unsub,
			.auto_submitted = COMPOSE_AUTO_REPLIED,
		};

		rc = mailout_queue(x->db, x->conf, &mo, v, x->err);
	}
	tmpl_vars_free(v);
	free(unsub);
	free(refs);
	return rc;
}
