/* Unit tests of the organiser's summary: what it counts, what it says,
 * and that it goes once per period, only when something happened. */
#include "testutil.h"

#include "botu/config.h"
#include "botu/db.h"
#include "botu/mailout.h"
#include "botu/members.h"
#include "botu/summary.h"
#include "botu/util.h"

#define DAY 86400

struct fixture {
	char		 *dir;
	struct botu_conf *conf;
	struct botu_db	 *db;
	time_t		  now;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[BOTU_ERRLEN], text[1024], *path;

	f->dir = tmpdir_new();
	snprintf(text, sizeof(text), "[list]\n"
	    "address = annerike@lsabewoners.nl\n"
	    "name = Energie community BoTu\n"
	    "database = botu.db\n"
	    "templates = %s/templates\n"
	    "moderators = mod1@example.org, mod2@example.org\n"
	    "[summary]\n"
	    "schedule = daily 08:00\n", srcdir());
	path = write_file(f->dir, "botu.conf", text, 0600);
	if (conf_load(path, &f->conf, err) != BOTU_OK)
		fail_msg("%s", err);
	free(path);
	assert_int_equal(db_open(f->conf->list.database, DB_READWRITE, &f->db,
	    err), BOTU_OK);
	f->now = time(NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	db_close(f->db);
	conf_free(f->conf);
	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static void
sql(struct fixture *f, const char *fmt, ...)
{
	char *q = NULL;
	va_list ap;

	va_start(ap, fmt);
	assert_true(vasprintf(&q, fmt, ap) > 0);
	va_end(ap);
	if (db_exec(f->db, q) != BOTU_OK)
		fail_msg("%s: %s", q, db_errmsg(f->db));
	free(q);
}

/* A member added with status, its events moved to time at. */
static void
member(struct fixture *f, const char *email, const char *name,
    const char *status, time_t at)
{
	struct member m = { .email = (char *)email, .name = (char *)name,
	    .status = (char *)status };
	char err[BOTU_ERRLEN];

	assert_int_equal(members_add(f->db, &m, "cli", NULL, err), BOTU_OK);
	sql(f, "UPDATE events SET at = %lld WHERE member_id = %lld",
	    (long long)at, (long long)m.id);
}

static void
inbound(struct fixture *f, int uid, const char *state, const char *from,
    const char *subject, const char *mid, const char *reason, time_t at)
{
	sql(f, "INSERT INTO inbound (mailbox, uidvalidity, uid, message_id, "
	    "sender, subject, first_seen, state, reason, finished_at) VALUES "
	    "('INBOX', 1, %d, '%s', '%s', '%s', %lld, '%s', '%s', %lld)", uid,
	    mid, from, subject, (long long)at, state, reason, (long long)at);
}

/* Renders the summary from vars in lang. */
static char *
render(struct fixture *f, struct tmpl_vars *vars, const char *lang)
{
	const char *langs[] = { lang, NULL };
	struct tmpl_mail m = { 0 };
	char err[BOTU_ERRLEN], *out;

	mailout_list_vars(f->conf, vars, NULL);
	if (tmpl_mail_render(tmpl_dir(f->conf->list.templates), langs,
	    "summary", vars, &m, err) != BOTU_OK)
		fail_msg("%s", err);
	assert_true(asprintf(&out, "Subject: %s\n\n%s", m.subject,
	    m.text) > 0);
	tmpl_mail_clear(&m);
	return out;
}

static void
assert_in(const char *text, const char *word)
{
	if (strstr(text, word) == NULL)
		fail_msg("'%s' is not in:\n%s", word, text);
}

static void
assert_not_in(const char *text, const char *word)
{
	if (strstr(text, word) != NULL)
		fail_msg("'%s' should not be in:\n%s", word, text);
}

static void
test_collect_and_render(void **state)
{
	struct fixture *f = *state;
	time_t from = f->now - DAY, in = f->now - 3600, old = f->now - 3 * DAY;
	struct tmpl_vars *vars = tmpl_vars_new();
	char *text;
	int items;

	/* Joined in the period: added as active, or confirmed. */
	member(f, "fatima@example.org", "Fatima el Amrani", "active", in);
	member(f, "piet@example.org", "", "pending", old);
	sql(f, "UPDATE members SET status = 'active' WHERE email = "
	    "'piet@example.org'");
	sql(f, "INSERT INTO events (at, member_id, kind, actor) SELECT %lld, "
	    "id, 'confirm', 'mail' FROM members WHERE email = "
	    "'piet@example.org'", (long long)in);
	/* Before the period, and still waiting: not news. */
	member(f, "oud@example.org", "Oud Lid", "active", old);
	member(f, "wacht@example.org", "Wacht Nog", "pending", in);
	/* Left in the period. */
	member(f, "kees@example.org", "Kees", "active", old);
	sql(f, "UPDATE members SET status = 'unsubscribed' WHERE email = "
	    "'kees@example.org'");
	sql(f, "INSERT INTO events (at, member_id, kind, actor) SELECT %lld, "
	    "id, 'unsubscribe', 'mail' FROM members WHERE email = "
	    "'kees@example.org'", (long long)in);
	/* Mail: left for a person, set aside, and botu's own mail back. */
	inbound(f, 1, "left", "jan@example.org", "Buurtborrel", "<a@x>", "",
	    in);
	inbound(f, 2, "poison", "spam@example.net", "Vreemd", "<b@x>",
	    "the parse worker ran out of memory", in);
	inbound(f, 3, "left", "annerike@lsabewoners.nl", "Overzicht",
	    "<own@x>", "", in);
	inbound(f, 4, "left", "vorige@example.org", "Oud nieuws", "<c@x>",
	    "", old);
	inbound(f, 5, "done", "zoe@example.org", "Aanmelden", "<d@x>", "",
	    in);
	sql(f, "INSERT INTO outbox (created_at, kind, rcpt, envelope_from, "
	    "message_id, next_try, expires_at) VALUES (%lld, 'summary', "
	    "'mod1@example.org', 'annerike@lsabewoners.nl', '<own@x>', 0, "
	    "%lld)", (long long)old, (long long)(f->now + DAY));
	/* A mail that fails for good (the trigger records it now)... */
	sql(f, "INSERT INTO outbox (created_at, kind, rcpt, envelope_from, "
	    "message_id, next_try, expires_at) VALUES (%lld, 'welcome', "
	    "'weg@example.org', 'annerike@lsabewoners.nl', '<e@x>', 0, "
	    "%lld)", (long long)in, (long long)(f->now + DAY));
	sql(f, "UPDATE outbox SET status = 'failed', last_error = "
	    "'550 5.1.1 no such user' WHERE message_id = '<e@x>'");
	/* ...and a pause of sending and a refused login. */
	sql(f, "INSERT INTO events (at, kind, actor, detail) VALUES "
	    "(%lld, 'sending-paused', 'daemon', 'the server refused AUTH'), "
	    "(%lld, 'imap-login-refused', 'daemon', 'LOGIN failed')",
	    (long long)in, (long long)in + 60);

	assert_int_equal(summary_collect(f->db, f->conf, from, f->now + 60,
	    vars, &items), BOTU_OK);
	/* 2 joined, 1 left, 1 for you, 1 set aside, 1 failed, 2 problems */
	text = render(f, vars, "nl");
	if (items != 8)
		fail_msg("%d items:\n%s", items, text);
	assert_in(text, "Subject: Overzicht van Energie community BoTu tot ");
	assert_in(text, "Nieuwe leden: 2\n"
	    "- Fatima el Amrani, fatima@example.org\n"
	    "- piet@example.org\n");
	assert_in(text, "Afgemeld: 1\n- Kees, kees@example.org\n");
	assert_in(text, "Mails voor jou: 1\n");
	assert_in(text, "- jan@example.org: \"Buurtborrel\" (");
	assert_in(text, "Apart gezet: 1\n");
	assert_in(text, "- spam@example.net: \"Vreemd\" (the parse worker "
	    "ran out of memory)");
	assert_in(text, "Niet bezorgd: 1\n");
	assert_in(text, "weg@example.org: 550 5.1.1 no such user");
	assert_in(text, "Problemen met inloggen of versturen: 2\n");
	assert_in(text, "botu stopte even met versturen. De melding was: "
	    "the server refused AUTH");
	assert_in(text, "de mailserver weigerde het inloggen. De melding "
	    "was: LOGIN failed");
	assert_not_in(text, "oud@example.org");
	assert_not_in(text, "wacht@example.org");
	assert_not_in(text, "Overzicht\"");
	assert_not_in(text, "Oud nieuws");
	assert_not_in(text, "zoe@example.org");
	assert_not_in(text, "PS-noten");
	free(text);
	text = render(f, vars, "en");
	assert_in(text, "New members: 2\n");
	assert_in(text, "botu paused sending. The message was: the server "
	    "refused AUTH");
	free(text);
	tmpl_vars_free(vars);
}

static void
test_long_lists_are_cut(void **state)
{
	struct fixture *f = *state;
	struct tmpl_vars *vars = tmpl_vars_new();
	char email[64], *text;
	int items;

	for (int i = 0; i < SUMMARY_LIST_MAX + 5; i++) {
		snprintf(email, sizeof(email), "lid%02d@example.org", i);
		member(f, email, "", "active", f->now - 60);
	}
	assert_int_equal(summary_collect(f->db, f->conf, f->now - DAY,
	    f->now + 1, vars, &items), BOTU_OK);
	assert_int_equal(items, SUMMARY_LIST_MAX + 5);
	text = render(f, vars, "nl");
	assert_in(text, "Nieuwe leden: 30\n");
	assert_in(text, "- lid24@example.org\n- en nog 5\n");
	assert_not_in(text, "lid25@");
	free(text);
	tmpl_vars_free(vars);
}

/* Optional counts appear once their table is there. */
static void
test_counts_from_later_tables(void **state)
{
	struct fixture *f = *state;
	struct tmpl_vars *vars = tmpl_vars_new();
	char *text;
	int items;

	member(f, "auteur@example.org", "Auteur", "active", f->now - 2 * DAY);
	sql(f, "INSERT INTO notes (member_id, body, status, created_at, "
	    "updated_at, confirmed_at) SELECT id, 'x', s, t, t, t FROM "
	    "members, (SELECT 'pending' AS s, %lld AS t UNION ALL "
	    "SELECT 'pending', %lld UNION ALL SELECT 'published', %lld "
	    "UNION ALL SELECT 'pending', %lld)",
	    (long long)f->now - 60, (long long)f->now - 120,
	    (long long)f->now - 60, (long long)f->now - 3 * DAY);
	/* Two counted bounces in the period, one before it. */
	sql(f, "INSERT INTO bounces (at, address, class) VALUES "
	    "(%lld, 'a@example.org', 'hard'), (%lld, 'b@example.org', "
	    "'soft'), (%lld, 'c@example.org', 'hard')",
	    (long long)f->now - 60, (long long)f->now - 90,
	    (long long)f->now - 3 * DAY);
	assert_int_equal(summary_collect(f->db, f->conf, f->now - DAY,
	    f->now + 1, vars, &items), BOTU_OK);
	text = render(f, vars, "nl");
	if (items != 4)
		fail_msg("%d items:\n%s", items, text);
	assert_in(text, "Nieuwe PS-noten die op je goedkeuring wachten: 2\n");
	assert_in(text, "onbestelbaar: 2\n");
	free(text);
	tmpl_vars_free(vars);
}

static int64_t
queued(struct fixture *f, const char *rcpt)
{
	sqlite3_stmt *st;
	int64_t n;

	assert_int_equal(sqlite3_prepare_v2(db_sqlite(f->db), "SELECT "
	    "count(*) FROM outbox WHERE kind = 'summary' AND rcpt = ?", -1,
	    &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, rcpt, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void
test_tick_once_per_period_only_with_news(void **state)
{
	struct fixture *f = *state;
	char err[BOTU_ERRLEN];
	time_t next;
	int n;

	/* First start: nothing is due for the time before it. */
	member(f, "fatima@example.org", "Fatima", "active", f->now - 60);
	if (summary_tick(f->db, f->conf, f->now, &n, &next, err) != BOTU_OK)
		fail_msg("%s", err);
	assert_int_equal(n, 0);
	assert_true(next > f->now && next <= f->now + DAY);

	/* As if the last run was two days ago: due now, to each moderator,
	 * once. */
	sql(f, "UPDATE state SET value = '%lld' WHERE key = '%s'",
	    (long long)(f->now - 2 * DAY), SUMMARY_STATE_KEY);
	if (summary_tick(f->db, f->conf, f->now, &n, &next, err) != BOTU_OK)
		fail_msg("%s", err);
	assert_int_equal(n, 2);
	assert_int_equal(queued(f, "mod1@example.org"), 1);
	assert_int_equal(queued(f, "mod2@example.org"), 1);
	assert_true(next > f->now && next <= f->now + DAY);
	assert_int_equal(summary_tick(f->db, f->conf, f->now + 60, &n, &next,
	    err), BOTU_OK);
	assert_int_equal(n, 0);

	/* The next day, with nothing new: no mail, but the run counts. */
	assert_int_equal(summary_tick(f->db, f->conf, next, &n, &next, err),
	    BOTU_OK);
	assert_int_equal(n, 0);
	assert_int_equal(queued(f, "mod1@example.org"), 1);
}

static void
test_recipients_and_off(void **state)
{
	struct fixture *f = *state;
	char err[BOTU_ERRLEN], *v = NULL;
	time_t next;
	int n;

	/* No moderators: the list address itself, where the organiser
	 * reads. */
	strv_free(f->conf->list.moderators);
	f->conf->list.moderators = NULL;
	sql(f, "INSERT INTO state (key, value, updated_at) VALUES ('%s', "
	    "'%lld', 0)", SUMMARY_STATE_KEY, (long long)(f->now - 2 * DAY));
	member(f, "fatima@example.org", "Fatima", "active", f->now - 60);
	assert_int_equal(summary_tick(f->db, f->conf, f->now, &n, &next,
	    err), BOTU_OK);
	assert_int_equal(n, 1);
	assert_int_equal(queued(f, "annerike@lsabewoners.nl"), 1);

	/* [summary] schedule = off: never due, nothing recorded. */
	free(f->conf->summary.schedule);
	f->conf->summary.schedule = xstrdup("off");
	sql(f, "DELETE FROM state");
	assert_int_equal(summary_tick(f->db, f->conf, f->now, &n, &next,
	    err), BOTU_OK);
	assert_int_equal(n, 0);
	assert_int_equal(next, 0);
	assert_int_equal(db_state_get(f->db, SUMMARY_STATE_KEY, &v), 0);
	free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_collect_and_render, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_lists_are_cut, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_counts_from_later_tables,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_tick_once_per_period_only_with_news, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recipients_and_off, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
