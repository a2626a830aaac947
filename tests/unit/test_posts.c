/*
 * Unit tests of updates by mail (posts.h) through handle_decide(), as the
 * daemon hands them over: who publishes at once, who confirms by code,
 * who waits for a moderator, and forged updates that are never published.
 */
#include "testutil.h"

#include "botu/config.h"
#include "botu/db.h"
#include "botu/handle.h"
#include "botu/members.h"
#include "botu/message.h"
#include "botu/posts.h"
#include "botu/util.h"

struct fx {
	char			*dir;
	struct botu_conf	*conf;
	struct botu_db		*db;
	int			 n;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[BOTU_ERRLEN], *path = NULL;
	struct botu_conf *c = conf_defaults();
	struct member m = { 0 };

	f->dir = tmpdir_new();
	free(c->list.address);
	c->list.address = xstrdup("annerike@lsabewoners.nl");
	free(c->list.name);
	c->list.name = xstrdup("Energie BoTu");
	free(c->list.templates);
	assert_true(asprintf(&c->list.templates, "%s/templates",
	    srcdir()) > 0);
	free(c->list.authserv_id);
	c->list.authserv_id = xstrdup("mx.lsabewoners.nl");
	c->list.moderators = strv_add(NULL, "mod@lsabewoners.nl");
	f->conf = c;
	assert_true(asprintf(&path, "%s/botu.db", f->dir) > 0);
	if (db_open(path, DB_READWRITE, &f->db, err) != BOTU_OK)
		fail_msg("%s", err);
	free(path);
	/* A core-team member and an ordinary member. */
	m.email = (char *)"kern@example.org";
	m.name = (char *)"Karin Kern";
	m.status = (char *)"active";
	m.core = 1;
	assert_int_equal(members_add(f->db, &m, "test", NULL, err), BOTU_OK);
	memset(&m, 0, sizeof(m));
	m.email = (char *)"lid@example.org";
	m.name = (char *)"Lies Lid";
	m.status = (char *)"active";
	assert_int_equal(members_add(f->db, &m, "test", NULL, err), BOTU_OK);
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
	free(f);
	return 0;
}

static long long
sql_int(struct fx *f, const char *sql)
{
	sqlite3_stmt *st = db_stmt(f->db, sql);
	long long v = -1;

	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

/* A text value from SQL (owned). */
static char *
sql_text(struct fx *f, const char *sql)
{
	sqlite3_stmt *st = db_stmt(f->db, sql);
	char *v = NULL;

	if (sqlite3_step(st) == SQLITE_ROW)
		v = xstrdup(db_col_text(st, 0));
	sqlite3_reset(st);
	assert_non_null(v);
	return v;
}

/* Hands one raw mail (headers on top) to botu as the daemon does. */
static struct intake_decision
mail(struct fx *f, const char *headers, const char *to, const char *subject,
    const char *body)
{
	struct intake_decision d;
	struct classification c;
	struct message m = { 0 };
	char err[BOTU_ERRLEN] = "", *raw = NULL;

	assert_true(asprintf(&raw, "%sTo: %s\nSubject: %s\n"
	    "Message-ID: <p%d@example.org>\nMIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=utf-8\n\n%s\n", headers, to,
	    subject, ++f->n, body) > 0);
	assert_int_equal(message_parse(raw, strlen(raw), &m, err), BOTU_OK);
	assert_int_equal(db_begin(f->db), BOTU_OK);
	if (handle_decide(f->conf, f->db, &m, 0, &c, &d, err) != BOTU_OK)
		fail_msg("handle_decide: %s", err);
	assert_int_equal(db_commit(f->db), BOTU_OK);
	classification_clear(&c);
	message_clear(&m);
	free(raw);
	return d;
}

#define PUBLISHED "SELECT count(*) FROM posts WHERE status = 'published'"

static const char update_text[] = "De gemeente geeft weer subsidie voor "
    "isolatie.\n\nGroet,\nKarin";

/* The code botu sent in its last mail to rcpt of kind (owned). */
static char *
code_to(struct fx *f, const char *kind)
{
	char *sql = NULL, *token;

	assert_true(asprintf(&sql, "SELECT token FROM post_tokens WHERE "
	    "kind = '%s' ORDER BY rowid DESC LIMIT 1", kind) > 0);
	token = sql_text(f, sql);
	free(sql);
	return token;
}

static void
test_trusted_header_publishes_at_once(void **state)
{
	struct fx *f = *state;
	struct intake_decision d;

	d = mail(f, "Authentication-Results: mx.lsabewoners.nl; dmarc=pass "
	    "header.from=example.org\nFrom: Karin Kern <kern@example.org>\n",
	    "annerike+update@lsabewoners.nl", "Subsidie", update_text);
	assert_string_equal(d.intent, "update");
	assert_int_equal(d.act, 1);
	assert_int_equal(sql_int(f, PUBLISHED), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE "
	    "kind = 'update-decided' AND rcpt = 'kern@example.org'"), 1);
	/* The subject channel works the same way. */
	d = mail(f, "Authentication-Results: mx.lsabewoners.nl; dmarc=pass "
	    "header.from=example.org\nFrom: kern@example.org\n",
	    "annerike@lsabewoners.nl", "[update] Klusdag", "Zaterdag!");
	assert_int_equal(sql_int(f, PUBLISHED), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM posts WHERE "
	    "subject = 'Klusdag'"), 1);
}

static void
test_forged_updates_are_not_published(void **state)
{
	struct fx *f = *state;
	struct intake_decision d;

	/* From a core member, no header: only a code to the real one. */
	d = mail(f, "From: Karin Kern <kern@example.org>\n",
	    "annerike+update@lsabewoners.nl", "Nep", update_text);
	assert_int_equal(d.act, 1);
	assert_int_equal(sql_int(f, PUBLISHED), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE "
	    "kind = 'update-answer' AND rcpt = 'kern@example.org'"), 1);
	/* A forged pass below the real (failing) header of our server. */
	d = mail(f, "Authentication-Results: mx.lsabewoners.nl; dmarc=fail "
	    "header.from=example.org\nAuthentication-Results: "
	    "mx.lsabewoners.nl; dmarc=pass header.from=example.org\n"
	    "From: kern@example.org\n", "annerike+update@lsabewoners.nl",
	    "Nep 2", update_text);
	assert_int_equal(sql_int(f, PUBLISHED), 0);
	/* A pass by a server we do not trust. */
	d = mail(f, "Authentication-Results: mx.evil.example; dmarc=pass "
	    "header.from=example.org\nFrom: kern@example.org\n",
	    "annerike+update@lsabewoners.nl", "Nep 3", update_text);
	assert_int_equal(sql_int(f, PUBLISHED), 0);
	/* A pass for another domain than From's. */
	d = mail(f, "Authentication-Results: mx.lsabewoners.nl; dmarc=pass "
	    "header.from=evil.example\nFrom: kern@example.org\n",
	    "annerike+update@lsabewoners.nl", "Nep 4", update_text);
	assert_int_equal(sql_int(f, PUBLISHED), 0);
	/* Someone else replying with a guessed code: nothing. */
	d = mail(f, "From: kern@example.org\n",
	    "annerike+bevestig-aaaaaaaaaaaaaaaaaaaaaaaaaa@lsabewoners.nl",
	    "Re: ja", "ja");
	assert_int_equal(sql_int(f, PUBLISHED), 0);
	/* Three codes an hour to one address; the fourth mail is left for
	 * a person (a flood of forgeries does not flood the member). */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM posts WHERE "
	    "status = 'unconfirmed'"), 3);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE "
	    "kind = 'update-answer'"), 3);
}

static void
test_core_member_confirms_by_code(void **state)
{
	struct fx *f = *state;
	struct intake_decision d;
	char *token, *to = NULL;

	(void)mail(f, "From: kern@example.org\n",
	    "annerike+update@lsabewoners.nl", "Subsidie", update_text);
	token = code_to(f, "author");
	assert_true(asprintf(&to, "annerike+bevestig-%s@lsabewoners.nl",
	    token) > 0);
	d = mail(f, "From: kern@example.org\n", to, "Re: Klopt je update",
	    "Ja, klopt.");
	assert_int_equal(d.act, 1);
	assert_int_equal(sql_int(f, PUBLISHED), 1);
	/* The same code again publishes nothing twice. */
	d = mail(f, "From: kern@example.org\n", to, "Re: Klopt je update",
	    "Ja.");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM posts"), 1);
	free(to);
	free(token);
}

static void
test_others_wait_for_a_moderator(void **state)
{
	struct fx *f = *state;
	struct intake_decision d;
	char *token, *to = NULL;

	/* An ordinary member, even with a trusted header: confirm, then a
	 * moderator. */
	(void)mail(f, "Authentication-Results: mx.lsabewoners.nl; dmarc=pass "
	    "header.from=example.org\nFrom: lid@example.org\n",
	    "annerike@lsabewoners.nl", "[update] Buurtfeest", "Kom ook!");
	assert_int_equal(sql_int(f, PUBLISHED), 0);
	token = code_to(f, "author");
	assert_true(asprintf(&to, "annerike+bevestig-%s@lsabewoners.nl",
	    token) > 0);
	(void)mail(f, "From: lid@example.org\n", to, "Re: update", "ja");
	free(to);
	free(token);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM posts WHERE "
	    "status = 'pending'"), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE "
	    "kind = 'update-moderate' AND rcpt = 'mod@lsabewoners.nl'"), 1);
	token = code_to(f, "moderator");
	assert_true(asprintf(&to, "annerike+bevestig-%s@lsabewoners.nl",
	    token) > 0);
	/* The member cannot approve with the moderator's code. */
	d = mail(f, "From: lid@example.org\n", to, "Re: update", "akkoord");
	assert_int_equal(d.act, 0);
	assert_int_equal(sql_int(f, PUBLISHED), 0);
	d = mail(f, "From: mod@lsabewoners.nl\n", to, "Re: update",
	    "akkoord");
	assert_int_equal(d.act, 1);
	assert_int_equal(sql_int(f, PUBLISHED), 1);
	free(to);
	free(token);
}

static void
test_attachments_not_forwarded(void **state)
{
	struct fx *f = *state;
	struct intake_decision d;
	struct classification c;
	struct message m = { 0 };
	char err[BOTU_ERRLEN] = "";
	static const char raw[] = "Authentication-Results: "
	    "mx.lsabewoners.nl; dmarc=pass header.from=example.org\n"
	    "From: kern@example.org\nTo: annerike+update@lsabewoners.nl\n"
	    "Subject: Met foto\nMessage-ID: <att@example.org>\n"
	    "MIME-Version: 1.0\nContent-Type: multipart/mixed; "
	    "boundary=\"b\"\n\n--b\nContent-Type: text/plain; "
	    "charset=utf-8\n\nKijk naar de foto.\n--b\nContent-Type: "
	    "image/jpeg; name=\"a.jpg\"\nContent-Disposition: attachment; "
	    "filename=\"a.jpg\"\nContent-Transfer-Encoding: base64\n\n"
	    "/9j/4AAQ\n--b--\n";
	char *body;

	assert_int_equal(message_parse(raw, strlen(raw), &m, err), BOTU_OK);
	assert_int_equal(db_begin(f->db), BOTU_OK);
	assert_int_equal(handle_decide(f->conf, f->db, &m, 0, &c, &d, err),
	    BOTU_OK);
	assert_int_equal(db_commit(f->db), BOTU_OK);
	assert_int_equal(sql_int(f, PUBLISHED), 1);
	/* The sender is told the attachment did not go along. */
	body = sql_text(f, "SELECT body FROM outbox WHERE kind = "
	    "'update-decided'");
	assert_non_null(strstr(body, "bijlage"));
	free(body);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM posts WHERE body "
	    "LIKE '%/9j/%'"), 0);
	classification_clear(&c);
	message_clear(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_trusted_header_publishes_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_forged_updates_are_not_published, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_core_member_confirms_by_code, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_others_wait_for_a_moderator, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_attachments_not_forwarded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
