/*
 * Unit tests of the digest: an issue stored once with a row per member,
 * crash points while issuing (a child process aborts at each, the next
 * pass makes exactly one issue per member), the golden text and HTML of a
 * fixed fixture and of an escaping fixture, the size at 80 long notes,
 * and the same bytes on every rendering of a row.
 *
 * BOTU_GOLDEN_UPDATE=1 writes the golden files instead of comparing (read
 * them before committing).
 */
#include "testutil.h"

#include <sys/wait.h>
#include <time.h>

#include "botu/config.h"
#include "botu/dates.h"
#include "botu/db.h"
#include "botu/digest.h"
#include "botu/handle.h"
#include "botu/message.h"
#include "botu/members.h"
#include "botu/outbox.h"
#include "botu/posts.h"
#include "botu/template.h"
#include "botu/util.h"

/* Monday 4 January 2027, 09:00 in Amsterdam (08:00 UTC). */
#define T_ISSUE ((time_t)1799049600)
#define DAY (24 * 3600)

struct fx {
	char			*dir;
	char			*path;
	struct botu_conf	*conf;
	struct botu_db		*db;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[BOTU_ERRLEN];
	struct botu_conf *c = conf_defaults();

	f->dir = tmpdir_new();
	free(c->list.address);
	c->list.address = xstrdup("annerike@lsabewoners.nl");
	free(c->list.name);
	c->list.name = xstrdup("Energie BoTu");
	free(c->list.templates);
	assert_true(asprintf(&c->list.templates, "%s/templates",
	    srcdir()) > 0);
	free(c->digest.schedule);
	c->digest.schedule = xstrdup("mon 09:00");
	f->conf = c;
	assert_true(asprintf(&f->path, "%s/botu.db", f->dir) > 0);
	if (db_open(f->path, DB_READWRITE, &f->db, err) != BOTU_OK)
		fail_msg("%s", err);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	db_close(f->db);
	conf_free(f->conf);
	tmpdir_remove(f->dir);
	free(f->path);
	free(f);
	return 0;
}

static long long
sql_int(struct fx *f, const char *sql)
{
	sqlite3_stmt *st = db_stmt(f->db, sql);
	long long v = -1;

	assert_non_null(st);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

static int64_t
member(struct fx *f, const char *email, const char *name,
    const char *digest)
{
	struct member m = { 0 };
	char err[BOTU_ERRLEN];

	m.email = (char *)email;
	m.name = (char *)name;
	m.status = (char *)"active";
	m.digest = (char *)digest;
	m.language = (char *)"nl";
	if (members_add(f->db, &m, "test", NULL, err) != BOTU_OK)
		fail_msg("%s", err);
	return m.id;
}

/* A published note of member id, published at t. */
static void
note(struct fx *f, int64_t id, const char *name, const char *role,
    const char *body, time_t t)
{
	sqlite3_stmt *st = db_stmt(f->db, "INSERT INTO notes (member_id, "
	    "body, name, role, status, created_at, updated_at, "
	    "confirmed_at, published_at) VALUES (?1, ?2, ?3, ?4, "
	    "'published', ?5, ?5, ?5, ?5)");

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, body, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, role, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)t);
	assert_int_equal(db_exec_stmt(f->db, st), BOTU_OK);
}

static void
update(struct fx *f, const char *subject, const char *body,
    const char *name, time_t t)
{
	char err[BOTU_ERRLEN];
	int64_t id = 0;
	sqlite3_stmt *st;

	if (posts_add(f->db, subject, body, name, &id, err) != BOTU_OK)
		fail_msg("%s", err);
	st = db_stmt(f->db, "UPDATE posts SET published_at = ?1, "
	    "created_at = ?1 WHERE id = ?2");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)t);
	sqlite3_bind_int64(st, 2, id);
	assert_int_equal(db_exec_stmt(f->db, st), BOTU_OK);
}

/* The fixed fixture: three members, two notes, one update. */
static void
fixture(struct fx *f)
{
	int64_t a, b;

	a = member(f, "fatima@example.org", "Fatima Öztürk", "weekly");
	b = member(f, "jan@example.org", "Jan Bakker", "monthly");
	(void)member(f, "els@example.org", "Els de Vries", "off");
	note(f, a, "Fatima Öztürk", "bewoner", "Ik doe mee omdat ik wil "
	    "dat iedereen in de wijk warm woont.\n\nBel me over isolatie: "
	    "ik heb het zelf gedaan.", T_ISSUE - 3 * DAY);
	note(f, b, "Jan Bakker", "", "Ik ben timmerman en help graag met "
	    "kleine klussen.", T_ISSUE - 2 * DAY);
	update(f, "Zonnepanelen op het dak van de school", "De school zegt "
	    "ja! We zoeken nog drie mensen voor de werkgroep.\nMail ons als "
	    "je mee wilt doen.", "Kernteam Noord", T_ISSUE - 4 * DAY);
}

static void
issue(struct fx *f, time_t now, int force, struct digest_made *made)
{
	char err[BOTU_ERRLEN] = "";

	assert_int_equal(db_begin(f->db), BOTU_OK);
	if (digest_issue(f->db, f->conf, now, force, made, err) != BOTU_OK)
		fail_msg("%s", err);
	assert_int_equal(db_commit(f->db), BOTU_OK);
}

static void
test_issue_stored_once(void **state)
{
	struct fx *f = *state;
	struct digest_made made;

	fixture(f);
	issue(f, T_ISSUE, 0, &made);
	assert_int_equal(made.number, 1);
	assert_int_equal(made.items, 3);
	/* The first issue of a month: the weekly and the monthly member. */
	assert_int_equal(made.monthly, 1);
	assert_int_equal(made.rows, 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM digests"), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE "
	    "digest_id IS NOT NULL AND body IS NULL"), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox o JOIN "
	    "members m ON m.id = o.member_id WHERE m.digest = 'off'"), 0);
	/* A week later with nothing new: no issue (send_empty off). */
	issue(f, T_ISSUE + 7 * DAY, 0, &made);
	assert_int_equal(made.id, 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM digests"), 1);
	/* Something new in the same month: weekly members only. */
	update(f, "Kort bericht", "Tot zaterdag.", "", T_ISSUE + 8 * DAY);
	issue(f, T_ISSUE + 14 * DAY, 0, &made);
	assert_int_equal(made.number, 2);
	assert_int_equal(made.monthly, 0);
	assert_int_equal(made.rows, 1);
	/* send_empty: an issue also when nothing happened. */
	f->conf->digest.send_empty = 1;
	issue(f, T_ISSUE + 21 * DAY, 0, &made);
	assert_int_equal(made.number, 3);
	assert_int_equal(made.items, 0);
}

/* Runs one digest pass at now in a child with BOTU_CRASH_AT=point. */
static int
tick_in_child(struct fx *f, const char *point, time_t now)
{
	pid_t pid = fork();
	int st = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct botu_db *db;
		char err[BOTU_ERRLEN];
		time_t next;
		int rows;

		setenv("BOTU_CRASH_AT", point, 1);
		if (db_open(f->path, DB_READWRITE, &db, err) != BOTU_OK)
			_exit(3);
		if (digest_tick(db, f->conf, now, &rows, &next, err) !=
		    BOTU_OK)
			_exit(4);
		db_close(db);
		_exit(rows > 0 ? 0 : 5);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
}

static void
test_crash_points(void **state)
{
	struct fx *f = *state;
	static const char *const points[] = { "digest-issue", "digest-rows:1",
	    "digest-rows:2", "digest-commit", "digest-committed" };
	char err[BOTU_ERRLEN];
	time_t next, start = T_ISSUE - 6 * DAY;
	int rows;

	/* The first pass only records when the schedule started. */
	assert_int_equal(digest_tick(f->db, f->conf, start, &rows, &next,
	    err), BOTU_OK);
	assert_int_equal(rows, 0);
	assert_int_equal(next, T_ISSUE);
	fixture(f);
	for (size_t i = 0; i < NELEM(points); i++) {
		/* Each crash leaves no issue or a whole one. */
		assert_int_equal(tick_in_child(f, points[i], T_ISSUE + 60),
		    -SIGABRT);
		if (strcmp(points[i], "digest-committed") == 0)
			break;
		assert_int_equal(sql_int(f, "SELECT count(*) FROM digests"),
		    0);
		assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox"),
		    0);
	}
	assert_int_equal(sql_int(f, "SELECT count(*) FROM digests"), 1);
	/* The restart after the last crash makes nothing more. */
	assert_int_equal(digest_tick(f->db, f->conf, T_ISSUE + 120, &rows,
	    &next, err), BOTU_OK);
	assert_int_equal(rows, 0);
	assert_int_equal(next, T_ISSUE + 7 * DAY);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM digests"), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox"), 2);
	assert_int_equal(sql_int(f, "SELECT count(DISTINCT member_id) FROM "
	    "outbox"), 2);

	/* Without a crash, after downtime of three weeks: one issue. */
	update(f, "Na de stilte", "We zijn er weer.", "", T_ISSUE + DAY);
	assert_int_equal(tick_in_child(f, "none", T_ISSUE + 22 * DAY), 0);
	assert_int_equal(digest_tick(f->db, f->conf, T_ISSUE + 22 * DAY + 60,
	    &rows, &next, err), BOTU_OK);
	assert_int_equal(rows, 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM digests"), 2);
}

/* A crash after rendering, before sending: the row waits, unchanged. */
static void
test_crash_while_rendering(void **state)
{
	struct fx *f = *state;
	struct digest_made made;
	struct outbox_row *rows = NULL;
	char err[BOTU_ERRLEN];
	size_t n = 0;
	pid_t pid;
	int st = 0;

	fixture(f);
	issue(f, T_ISSUE, 0, &made);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct botu_db *db;

		setenv("BOTU_CRASH_AT", "digest-render:2", 1);
		if (db_open(f->path, DB_READWRITE, &db, err) != BOTU_OK ||
		    outbox_due(db, time(NULL) + 1, 10, &rows, &n) != BOTU_OK)
			_exit(3);
		for (size_t i = 0; i < n; i++)
			(void)digest_render_row(db, f->conf, &rows[i], err);
		_exit(4);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE "
	    "status = 'queued' AND body IS NULL AND digest_id IS NOT NULL"),
	    2);
	assert_int_equal(outbox_due(f->db, time(NULL) + 1, 10, &rows, &n),
	    BOTU_OK);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(digest_render_row(f->db, f->conf, &rows[i],
		    err), BOTU_OK);
	outbox_rows_free(rows, n);
}

static char *
slurp_or_null(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *s = NULL;
	size_t len = 0, n;
	char chunk[4096];
	FILE *mem;

	if (fp == NULL)
		return NULL;
	mem = open_memstream(&s, &len);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		fwrite(chunk, 1, n, mem);
	fclose(fp);
	fclose(mem);
	return s;
}

/* Compares text with tests/data/digest/name (or writes it). */
static void
assert_golden(const char *name, const char *text)
{
	char *path = NULL, *want;
	FILE *fp;

	assert_true(asprintf(&path, "%s/tests/data/digest/%s", srcdir(),
	    name) > 0);
	if (getenv("BOTU_GOLDEN_UPDATE") != NULL) {
		fp = fopen(path, "w");
		assert_non_null(fp);
		fputs(text, fp);
		fclose(fp);
	}
	want = slurp_or_null(path);
	if (want == NULL)
		fail_msg("no golden file %s (BOTU_GOLDEN_UPDATE=1 makes it)",
		    path);
	if (strcmp(want, text) != 0)
		fail_msg("%s differs from what is rendered now:\n%s", path,
		    text);
	free(want);
	free(path);
}

static void
render_golden(struct fx *f, int64_t id, int monthly, const char *email,
    const char *stem)
{
	struct member m = { 0 };
	struct tmpl_mail tm;
	char err[BOTU_ERRLEN] = "", *name = NULL, *whole = NULL;

	assert_int_equal(members_get(f->db, email, &m), 1);
	if (digest_render(f->db, f->conf, id, monthly, &m, &tm, err) !=
	    BOTU_OK)
		fail_msg("%s", err);
	assert_true(asprintf(&whole, "Subject: %s\n\n%s", tm.subject,
	    tm.text) > 0);
	assert_true(asprintf(&name, "%s.txt", stem) > 0);
	assert_golden(name, whole);
	free(name);
	assert_non_null(tm.html);
	assert_true(asprintf(&name, "%s.html", stem) > 0);
	assert_golden(name, tm.html);
	free(name);
	free(whole);
	tmpl_mail_clear(&tm);
	member_clear(&m);
}

static void
test_golden_fixture(void **state)
{
	struct fx *f = *state;
	struct digest_made made;
	sqlite3_stmt *st;

	fixture(f);
	/* New members are counted, never named: the fixture's three
	 * joined "now", before the issue; fix the tokens for the golden. */
	assert_int_equal(db_exec(f->db, "UPDATE members SET unsub_token = "
	    "'tok' || id"), BOTU_OK);
	issue(f, T_ISSUE, 0, &made);
	render_golden(f, made.id, 0, "fatima@example.org", "fixture-nl");
	st = db_stmt(f->db, "UPDATE members SET language = 'en' WHERE "
	    "email = 'jan@example.org'");
	assert_int_equal(db_exec_stmt(f->db, st), BOTU_OK);
	render_golden(f, made.id, 1, "jan@example.org", "fixture-en");
}

static void
test_golden_escaping(void **state)
{
	struct fx *f = *state;
	struct digest_made made;
	int64_t a;

	a = member(f, "mallory@example.org", "<b>Mal & \"Lory\"</b>",
	    "weekly");
	assert_int_equal(db_exec(f->db, "UPDATE members SET unsub_token = "
	    "'tok' || id"), BOTU_OK);
	note(f, a, "<b>Mal & \"Lory\"</b>", "<i>rol</i>",
	    "<script>alert('x')</script> & {{list_name}} "
	    "<a href=\"javascript:x\">klik</a>", T_ISSUE - DAY);
	update(f, "<img src=x onerror=alert(1)> & co", "Regel 1 < 2\n\n"
	    "{{{unsubscribe_address}}} > 3", "O'Brien & <Zn>",
	    T_ISSUE - DAY);
	issue(f, T_ISSUE, 0, &made);
	render_golden(f, made.id, 0, "mallory@example.org", "escaping-nl");
	/* Whatever the golden says: no markup of theirs gets through. */
	{
		struct tmpl_mail tm;
		char err[BOTU_ERRLEN];

		assert_int_equal(digest_render(f->db, f->conf, made.id, 0,
		    NULL, &tm, err), BOTU_OK);
		assert_null(strstr(tm.html, "<script"));
		assert_null(strstr(tm.html, "<img"));
		assert_null(strstr(tm.html, "<b>Mal"));
		assert_non_null(strstr(tm.html, "&lt;script&gt;"));
		/* Values are never expanded as templates. */
		assert_non_null(strstr(tm.text, "{{list_name}}"));
		tmpl_mail_clear(&tm);
	}
}

/* The monthly edition: every issue of the month, a note replaced within
 * it only in its newest version, the new members added up. */
static void
test_golden_monthly(void **state)
{
	struct fx *f = *state;
	struct digest_made made;
	int64_t a;

	fixture(f);
	assert_int_equal(db_exec(f->db, "UPDATE members SET unsub_token = "
	    "'tok' || id"), BOTU_OK);
	issue(f, T_ISSUE - 7 * DAY, 1, &made);	/* December: #1 */
	issue(f, T_ISSUE, 1, &made);		/* January: #2, monthly */
	a = sql_int(f, "SELECT id FROM members WHERE email = "
	    "'fatima@example.org'");
	assert_int_equal(db_exec(f->db, "UPDATE notes SET status = "
	    "'replaced'"), BOTU_OK);
	note(f, a, "Fatima Öztürk", "bewoner", "Mijn nieuwe noot: ik "
	    "organiseer de klusdag.", T_ISSUE + DAY);
	update(f, "Klusdag", "Zaterdag is de klusdag.", "", T_ISSUE + DAY);
	issue(f, T_ISSUE + 7 * DAY, 0, &made);	/* #3 */
	assert_int_equal(made.monthly, 0);
	a = member(f, "nieuw@example.org", "Nieuw Lid", "weekly");
	update(f, "Nog een", "Tot snel.", "", T_ISSUE + 8 * DAY);
	issue(f, T_ISSUE + 14 * DAY, 0, &made);	/* #4 */
	assert_int_equal(db_exec(f->db, "UPDATE members SET unsub_token = "
	    "'tok' || id"), BOTU_OK);
	update(f, "Februari", "Een nieuwe maand.", "", T_ISSUE + 30 * DAY);
	issue(f, T_ISSUE + 35 * DAY, 0, &made);	/* #5: February */
	assert_int_equal(made.number, 5);
	assert_int_equal(made.monthly, 1);
	/* The monthly member gets #2 to #5 as one mail. */
	render_golden(f, made.id, 1, "jan@example.org", "monthly-nl");
}

/* A note replaced within the month shows once, in its newest version;
 * the new members of all issues are added up. */
static void
test_monthly_edition_merges(void **state)
{
	struct fx *f = *state;
	struct digest_made made;
	struct member m = { 0 };
	struct tmpl_mail tm;
	char err[BOTU_ERRLEN];
	int64_t a;

	a = member(f, "fatima@example.org", "Fatima", "weekly");
	(void)member(f, "jan@example.org", "Jan", "monthly");
	issue(f, T_ISSUE - 7 * DAY, 1, &made);	/* December */
	note(f, a, "Fatima", "bewoner", "Eerste versie.", T_ISSUE - DAY);
	issue(f, T_ISSUE, 0, &made);		/* January, monthly */
	assert_int_equal(made.monthly, 1);
	assert_int_equal(db_exec(f->db, "UPDATE notes SET status = "
	    "'replaced'"), BOTU_OK);
	note(f, a, "Fatima", "bewoner", "Tweede versie.", T_ISSUE + DAY);
	issue(f, T_ISSUE + 7 * DAY, 0, &made);
	assert_int_equal(db_exec(f->db, "UPDATE notes SET status = "
	    "'replaced'"), BOTU_OK);
	note(f, a, "Fatima", "bewoner", "Derde versie.", T_ISSUE + 8 * DAY);
	issue(f, T_ISSUE + 14 * DAY, 0, &made);
	update(f, "Februari", "Nieuw.", "", T_ISSUE + 30 * DAY);
	issue(f, T_ISSUE + 35 * DAY, 0, &made);	/* February, monthly */
	assert_int_equal(made.monthly, 1);
	assert_int_equal(members_get(f->db, "jan@example.org", &m), 1);
	assert_int_equal(digest_render(f->db, f->conf, made.id, 1, &m, &tm,
	    err), BOTU_OK);
	assert_null(strstr(tm.text, "Eerste versie"));	/* in January's */
	assert_null(strstr(tm.text, "Tweede versie"));	/* replaced */
	assert_non_null(strstr(tm.text, "Derde versie"));
	assert_non_null(strstr(tm.text, "PS-noten (1)"));
	assert_non_null(strstr(tm.text, "Februari"));
	tmpl_mail_clear(&tm);
	/* The weekly edition of the same issue: only its own week. */
	assert_int_equal(digest_render(f->db, f->conf, made.id, 0, &m, &tm,
	    err), BOTU_OK);
	assert_null(strstr(tm.text, "Derde versie"));
	assert_non_null(strstr(tm.text, "Februari"));
	tmpl_mail_clear(&tm);
	member_clear(&m);
}

/* botu members forget: a member's words leave the stored issues. */
static void
test_forget_member(void **state)
{
	struct fx *f = *state;
	struct digest_made made;
	struct tmpl_mail tm;
	char err[BOTU_ERRLEN];
	int64_t a;

	fixture(f);
	a = sql_int(f, "SELECT id FROM members WHERE email = "
	    "'fatima@example.org'");
	issue(f, T_ISSUE, 0, &made);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM digests WHERE "
	    "content LIKE '%warm woont%'"), 1);
	assert_int_equal(db_begin(f->db), BOTU_OK);
	assert_int_equal(digest_forget_member(f->db, a), BOTU_OK);
	assert_int_equal(db_commit(f->db), BOTU_OK);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM digests WHERE "
	    "content LIKE '%warm woont%'"), 0);
	assert_int_equal(digest_render(f->db, f->conf, made.id, 0, NULL, &tm,
	    err), BOTU_OK);
	assert_null(strstr(tm.text, "warm woont"));
	assert_non_null(strstr(tm.text, "timmerman"));	/* Jan's stays */
	assert_non_null(strstr(tm.text, "PS-noten (1)"));
	tmpl_mail_clear(&tm);
}

/* A meeting row as botu meeting add/result leave it (no invitations). */
static void
meeting(struct fx *f, const char *title, const char *where, time_t start,
    time_t created, const char *result, time_t result_at)
{
	sqlite3_stmt *st = db_stmt(f->db, "INSERT INTO meetings (title, "
	    "location, start_at, end_at, result, result_at, created_at, "
	    "updated_at) VALUES (?1, ?2, ?3, ?3 + 7200, ?4, ?5, ?6, ?6)");

	sqlite3_bind_text(st, 1, title, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, where, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)start);
	sqlite3_bind_text(st, 4, result, -1, SQLITE_STATIC);
	if (result_at != 0)
		sqlite3_bind_int64(st, 5, (sqlite3_int64)result_at);
	else
		sqlite3_bind_null(st, 5);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)created);
	assert_int_equal(db_exec_stmt(f->db, st), BOTU_OK);
}

/*
 * Upcoming meetings and agreements come from the meetings module; a
 * newly planned meeting is news, one still coming is only a reminder.
 */
static void
test_meetings_and_agreements(void **state)
{
	struct fx *f = *state;
	struct digest_made made;
	struct tmpl_mail tm;
	char err[BOTU_ERRLEN];

	(void)member(f, "fatima@example.org", "Fatima Öztürk", "weekly");
	meeting(f, "Buurtoverleg warmtenet", "Buurthuis De Hoek",
	    T_ISSUE + 7 * DAY + 37800, T_ISSUE - DAY, "", 0);
	meeting(f, "Werkgroep isolatie", "", T_ISSUE - 5 * DAY,
	    T_ISSUE - 20 * DAY, "We isoleren eerst de daken aan de "
	    "Schiedamseweg.", T_ISSUE - 2 * DAY);
	issue(f, T_ISSUE, 0, &made);
	assert_int_not_equal(made.id, 0);
	assert_int_equal(made.items, 2);
	assert_int_equal(digest_render(f->db, f->conf, made.id, 0, NULL, &tm,
	    err), BOTU_OK);
	assert_non_null(strstr(tm.text, "== Bijeenkomsten =="));
	assert_non_null(strstr(tm.text, "* Buurtoverleg warmtenet: "));
	assert_non_null(strstr(tm.text, "19:30, Buurthuis De Hoek"));
	assert_non_null(strstr(tm.text, "== Wat we hebben afgesproken =="));
	assert_non_null(strstr(tm.text, "* We isoleren eerst de daken aan de "
	    "Schiedamseweg. (Werkgroep isolatie)"));
	assert_null(strstr(tm.text, "Werkgroep isolatie:"));	/* past */
	tmpl_mail_clear(&tm);

	/* A week on the meeting is still coming, but that alone is no news. */
	issue(f, T_ISSUE + 7 * DAY, 0, &made);
	assert_int_equal(made.id, 0);
}

/* t as "YYYY-MM-DD Day HH:MM +ZZZZ" in the list's zone. */
static void
show_local(time_t t, char *out, size_t size)
{
	static const char *const days[] = { "sun", "mon", "tue", "wed", "thu",
	    "fri", "sat" };
	struct tm tm;

	assert_int_equal(date_to_local(t, "Europe/Amsterdam", &tm), 0);
	snprintf(out, size, "%04d-%02d-%02d %s %02d:%02d %+05ld",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, days[tm.tm_wday],
	    tm.tm_hour, tm.tm_min, tm.tm_gmtoff / 3600 * 100);
}

/*
 * The daemon's digest pass every 20 minutes from start for days, down in
 * the windows of down[] (pairs of times): the issues made, one line each
 * ("#N <local time> <mails>"), compared with the golden table name.
 */
static void
run_schedule(struct fx *f, const char *schedule, time_t start, int days,
    const time_t *down, size_t ndown, const char *name)
{
	sqlite3_stmt *st;
	struct buf table;
	char err[BOTU_ERRLEN], when[64];
	time_t t, next;
	int rows, skip;

	free(f->conf->digest.schedule);
	f->conf->digest.schedule = xstrdup(schedule);
	f->conf->digest.send_empty = 1;
	(void)member(f, "fatima@example.org", "Fatima", "weekly");
	for (t = start; t < start + (time_t)days * DAY; t += 1200) {
		skip = 0;
		for (size_t i = 0; i + 1 < ndown; i += 2)
			skip |= t >= down[i] && t < down[i + 1];
		if (skip)
			continue;
		if (digest_tick(f->db, f->conf, t, &rows, &next, err) !=
		    BOTU_OK)
			fail_msg("%s", err);
		assert_true(next > t);
	}
	buf_init(&table);
	st = db_stmt(f->db, "SELECT d.number, d.created_at, (SELECT count(*) "
	    "FROM outbox o WHERE o.digest_id = d.id) FROM digests d ORDER "
	    "BY number");
	while (sqlite3_step(st) == SQLITE_ROW) {
		show_local((time_t)sqlite3_column_int64(st, 1), when,
		    sizeof(when));
		buf_addf(&table, "#%d %s %d\n", sqlite3_column_int(st, 0),
		    when, sqlite3_column_int(st, 2));
	}
	sqlite3_reset(st);
	assert_golden(name, table.s);
	buf_free(&table);
}

static time_t
local_at(int y, int mon, int d, int h, int min)
{
	struct tm tm = { 0 };
	time_t t;

	tm.tm_year = y - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = min;
	assert_int_equal(date_from_local(&tm, "Europe/Amsterdam", &t), 0);
	return t;
}

/*
 * Two years of "mon 09:00": 09:00 on both sides of every DST change, one
 * issue after each downtime that missed a Monday, none twice.
 */
static void
test_schedule_two_years_weekly(void **state)
{
	struct fx *f = *state;
	const time_t down[] = {
		/* Over a whole Monday: one issue on coming back. */
		local_at(2027, 3, 27, 12, 0), local_at(2027, 3, 30, 15, 20),
		/* Three weeks, over the October change. */
		local_at(2027, 10, 20, 0, 0), local_at(2027, 11, 10, 7, 0),
		/* From just before to just after a due time. */
		local_at(2028, 5, 1, 8, 40), local_at(2028, 5, 1, 9, 20),
		/* Down and up again before a due time: nothing special. */
		local_at(2028, 8, 7, 6, 0), local_at(2028, 8, 7, 8, 0),
	};
	run_schedule(f, "mon 09:00", local_at(2027, 1, 1, 10, 0), 731, down,
	    NELEM(down), "schedule-weekly.txt");
	/* 2027-01-04 .. 2029-01-01: 105 Mondays; the second downtime
	 * missed three (25 Oct, 1 and 8 Nov) and made one issue on coming
	 * back; the others one each, late. */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM digests"), 103);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox"), 103);
}

/* A year of "day 1 09:00", monthly, through both DST changes. */
static void
test_schedule_monthly(void **state)
{
	struct fx *f = *state;
	const time_t down[] = {
		local_at(2027, 6, 30, 0, 0), local_at(2027, 8, 2, 11, 0),
	};

	run_schedule(f, "day 1 09:00", local_at(2027, 1, 1, 10, 0), 366,
	    down, NELEM(down), "schedule-monthly.txt");
	/* Feb .. Dec and 1 Jan 2028: 12 due times; July and August were
	 * down: one issue on 2 August. */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM digests"), 11);
}

/* The whole message of each row: the same bytes every time, < 90 KB. */
static void
test_size_and_same_bytes(void **state)
{
	struct fx *f = *state;
	struct digest_made made;
	struct outbox_row *rows = NULL;
	char err[BOTU_ERRLEN] = "", email[64], body[1600];
	size_t n = 0, i;
	int64_t id;

	/* 80 notes of 1500 characters, with non-ASCII (quoted-printable
	 * makes those longer). */
	for (i = 0; i + 1 < sizeof(body); i++)
		body[i] = i % 50 == 49 ? ' ' : "abcdefghij"[i % 10];
	body[1500] = '\0';
	memcpy(body + 10, "é", 2);
	for (i = 0; i < 80; i++) {
		snprintf(email, sizeof(email), "m%zu@example.org", i);
		id = member(f, email, "Naam Achternaam", "weekly");
		note(f, id, "Naam Achternaam", "bewoner", body,
		    T_ISSUE - DAY);
	}
	update(f, "Een lange update", body, "Kernteam", T_ISSUE - DAY);
	issue(f, T_ISSUE, 0, &made);
	assert_int_equal(made.rows, 80);
	assert_int_equal(outbox_due(f->db, time(NULL) + 1, 2, &rows, &n),
	    BOTU_OK);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++) {
		char *first;
		size_t len;

		assert_null(rows[i].data);
		assert_int_equal(digest_render_row(f->db, f->conf, &rows[i],
		    err), BOTU_OK);
		assert_true(rows[i].len < DIGEST_MAX_BYTES);
		assert_true(rows[i].len > 20000);
		/* Shortened to fit, and the reader is told so. */
		assert_non_null(strstr(rows[i].data, "korter gemaakt"));
		if (i == 0)
			print_message("digest with 80 notes: %zu octets\n",
			    rows[i].len);
		assert_non_null(strstr(rows[i].data,
		    "Auto-Submitted: auto-generated"));
		assert_non_null(strstr(rows[i].data, "List-Unsubscribe:"));
		assert_non_null(strstr(rows[i].data, "multipart/alternative"));
		assert_non_null(strstr(rows[i].data, "+afmelden-"));
		first = rows[i].data;
		len = rows[i].len;
		rows[i].data = NULL;
		assert_int_equal(digest_render_row(f->db, f->conf, &rows[i],
		    err), BOTU_OK);
		assert_int_equal(rows[i].len, len);
		assert_memory_equal(rows[i].data, first, len);
		free(first);
	}
	/* Their own unsubscribe address each. */
	assert_true(strcmp(strstr(rows[0].data, "+afmelden-"),
	    strstr(rows[1].data, "+afmelden-")) != 0);
	outbox_rows_free(rows, n);
}

/* Who left or turned the digest off after the issue does not get it. */
static void
test_left_members_skipped(void **state)
{
	struct fx *f = *state;
	struct digest_made made;
	struct outbox_row *rows = NULL;
	char err[BOTU_ERRLEN] = "";
	size_t n = 0;

	fixture(f);
	issue(f, T_ISSUE, 0, &made);
	assert_int_equal(db_exec(f->db, "UPDATE members SET digest = 'off' "
	    "WHERE email = 'jan@example.org'"), BOTU_OK);
	assert_int_equal(outbox_due(f->db, time(NULL) + 1, 10, &rows, &n),
	    BOTU_OK);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		int rc = digest_render_row(f->db, f->conf, &rows[i], err);

		if (strcmp(rows[i].rcpt, "jan@example.org") == 0)
			assert_int_equal(rc, BOTU_EPERM);
		else
			assert_int_equal(rc, BOTU_OK);
	}
	outbox_rows_free(rows, n);
}

/*
 * A sender's cache renders each row to the same bytes as a render of its
 * own: members of two languages, weekly and monthly, in turns (each
 * change of language or edition refills the cache).
 */
static void
test_cached_render_same_bytes(void **state)
{
	struct fx *f = *state;
	struct digest_made made;
	struct digest_cache *c = digest_cache_new();
	struct outbox_row *rows = NULL, *again = NULL;
	char err[BOTU_ERRLEN] = "";
	size_t n = 0, m = 0;

	fixture(f);
	(void)member(f, "ann@example.org", "Ann Smith", "weekly");
	(void)member(f, "piet@example.org", "Piet Jansen", "weekly");
	assert_int_equal(db_exec(f->db, "UPDATE members SET language = 'en' "
	    "WHERE email = 'ann@example.org'"), BOTU_OK);
	issue(f, T_ISSUE, 0, &made);
	assert_int_equal(made.rows, 4);
	assert_int_equal(outbox_due(f->db, time(NULL) + 1, 10, &rows, &n),
	    BOTU_OK);
	assert_int_equal(outbox_due(f->db, time(NULL) + 1, 10, &again, &m),
	    BOTU_OK);
	assert_int_equal(n, 4);
	assert_int_equal(m, 4);
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < n; i++) {
			if (digest_render_row_cached(f->db, f->conf, c,
			    &rows[i], err) != BOTU_OK)
				fail_msg("%s", err);
			if (round == 0 && digest_render_row(f->db, f->conf,
			    &again[i], err) != BOTU_OK)
				fail_msg("%s", err);
			assert_int_equal(rows[i].len, again[i].len);
			assert_memory_equal(rows[i].data, again[i].data,
			    rows[i].len);
			assert_non_null(strstr(rows[i].data, rows[i].rcpt));
		}
	/* The English member's mail is not the Dutch ones'. */
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].rcpt, "ann@example.org") == 0)
			assert_non_null(strstr(rows[i].data, "Hello Ann"));
	digest_cache_free(c);
	outbox_rows_free(rows, n);
	outbox_rows_free(again, m);
}

static void
test_rhythm_words(void **state)
{
	(void)state;
	assert_string_equal(digest_rhythm_of("digest maandelijks"),
	    "monthly");
	assert_string_equal(digest_rhythm_of("Digest Uit"), "off");
	assert_string_equal(digest_rhythm_of("nieuwsbrief wekelijks."),
	    "weekly");
	assert_string_equal(digest_rhythm_of("digest weekly"), "weekly");
	assert_string_equal(digest_rhythm_of("newsletter off"), "off");
	assert_string_equal(digest_rhythm_of("digest monthly"), "monthly");
	assert_string_equal(digest_rhythm_of("Re: digest uit"), "off");
	assert_string_equal(digest_rhythm_of("RE: AW: Digest Monthly"),
	    "monthly");
	assert_null(digest_rhythm_of("digest"));
	assert_null(digest_rhythm_of("digest maandelijks graag niet"));
	assert_null(digest_rhythm_of("afmelden"));
	assert_null(digest_rhythm_of("digest dagelijks"));
	assert_null(digest_rhythm_of(NULL));
}

static struct intake_decision
mail(struct fx *f, const char *from, const char *subject, const char *body)
{
	static int n;
	struct intake_decision d;
	struct classification c;
	struct message m = { 0 };
	char err[BOTU_ERRLEN] = "", *raw = NULL;

	assert_true(asprintf(&raw, "From: %s\nTo: annerike@lsabewoners.nl\n"
	    "Subject: %s\nMessage-ID: <r%d@example.org>\nMIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=utf-8\n\n%s\n", from,
	    subject, ++n, body) > 0);
	assert_int_equal(message_parse(raw, strlen(raw), &m, err), BOTU_OK);
	assert_int_equal(db_begin(f->db), BOTU_OK);
	if (handle_decide(f->conf, f->db, &m, 0, &c, &d, err) != BOTU_OK)
		fail_msg("handle_decide: %s", err);
	assert_int_equal(db_commit(f->db), BOTU_OK);
	assert_string_equal(intent_name(c.intent), d.intent);
	classification_clear(&c);
	message_clear(&m);
	free(raw);
	return d;
}

static void
test_rhythm_by_mail(void **state)
{
	struct fx *f = *state;
	struct intake_decision d;

	(void)member(f, "jan@example.org", "Jan", "weekly");
	d = mail(f, "Jan <jan@example.org>", "digest maandelijks", "");
	assert_string_equal(d.intent, "digest");
	assert_int_equal(d.act, 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM members WHERE "
	    "digest = 'monthly'"), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE "
	    "kind = 'digest-rhythm' AND rcpt = 'jan@example.org'"), 1);
	/* In the text, English. */
	d = mail(f, "jan@example.org", "Re: Newsletter #3", "digest off");
	assert_string_equal(d.intent, "digest");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM members WHERE "
	    "digest = 'off'"), 1);
	/* Someone who is not a member changes nothing. */
	d = mail(f, "els@example.org", "digest wekelijks", "");
	assert_int_equal(d.act, 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM members WHERE "
	    "digest = 'weekly'"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM events WHERE "
	    "kind = 'digest'"), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_issue_stored_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crash_points, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crash_while_rendering,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_golden_fixture, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_golden_escaping, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_golden_monthly, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_forget_member, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_monthly_edition_merges,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_schedule_two_years_weekly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schedule_monthly, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_size_and_same_bytes,
		    setup, teardown),
		cmocka_unit_test(test_rhythm_words),
		cmocka_unit_test_setup_teardown(test_meetings_and_agreements,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rhythm_by_mail, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cached_render_same_bytes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_left_members_skipped,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
