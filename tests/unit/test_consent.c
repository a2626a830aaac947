/*
 * Unit tests of consent.h: the codes of notes and updates, each in its
 * own table; when a code still works; the moderator's gate and the
 * organiser's "is it waiting?" check, with the words a user sees.
 */
#include "testutil.h"

#include "botu/config.h"
#include "botu/consent.h"
#include "botu/db.h"
#include "botu/posts.h"
#include "botu/util.h"

struct fx {
	char			*dir;
	struct botu_conf	*conf;
	struct botu_db		*db;
	int64_t			 post;	/* a published update */
	int64_t			 note;	/* a pending note */
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[BOTU_ERRLEN], *path = NULL;
	struct botu_conf *c = conf_defaults();

	f->dir = tmpdir_new();
	c->list.moderators = strv_add(NULL, "mod@example.org");
	f->conf = c;
	assert_true(asprintf(&path, "%s/botu.db", f->dir) > 0);
	if (db_open(path, DB_READWRITE, &f->db, err) != BOTU_OK)
		fail_msg("%s", err);
	free(path);
	assert_int_equal(posts_add(f->db, "Title", "Body", "", &f->post,
	    err), BOTU_OK);
	assert_int_equal(db_exec(f->db, "INSERT INTO members (email, name, "
	    "status, created_at, updated_at) VALUES ('a@example.org', 'A', "
	    "'active', 0, 0); INSERT INTO notes (member_id, body, status, "
	    "created_at, updated_at) VALUES (last_insert_rowid(), 'x', "
	    "'pending', 0, 0);"), BOTU_OK);
	f->note = db_last_id(f->db);
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

static void
test_codes_live_in_their_own_table(void **state)
{
	struct fx *f = *state;
	struct intake_decision d = { 0 };
	struct consent_token t;
	char *tok = NULL;

	assert_int_equal(consent_token_create(f->db, CONSENT_POST, "author",
	    f->post, "a@example.org", time(NULL) + 60, &tok), BOTU_OK);
	assert_int_equal(strlen(tok), 26);
	/* An update's code is no note's. */
	assert_int_equal(consent_token_open(f->db, CONSENT_NOTE, tok, &d, &t),
	    0);
	assert_int_equal(consent_token_open(f->db, CONSENT_POST, tok, &d, &t),
	    2);
	assert_string_equal(t.kind, "author");
	assert_int_equal(t.id, f->post);
	assert_string_equal(t.address, "a@example.org");
	assert_int_equal(t.used_at, 0);
	assert_int_equal(consent_token_open(f->db, CONSENT_POST,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaa", &d, &t), 0);
	free(tok);
}

static void
test_used_and_expired_codes(void **state)
{
	struct fx *f = *state;
	struct intake_decision d = { 0 };
	struct consent_token t;
	char *author = NULL, *mod = NULL, *old = NULL;

	assert_int_equal(consent_token_create(f->db, CONSENT_NOTE, "author",
	    f->note, "a@example.org", time(NULL) + 60, &author), BOTU_OK);
	assert_int_equal(consent_token_create(f->db, CONSENT_NOTE,
	    "moderator", f->note, "mod@example.org", time(NULL) + 60, &mod),
	    BOTU_OK);
	assert_int_equal(consent_token_create(f->db, CONSENT_NOTE, "author",
	    f->note, "a@example.org", time(NULL) - 1, &old), BOTU_OK);
	/* Only the author's codes stop working. */
	assert_int_equal(consent_tokens_use(f->db, CONSENT_NOTE, f->note,
	    "author"), BOTU_OK);
	assert_int_equal(consent_token_open(f->db, CONSENT_NOTE, author, &d,
	    &t), 1);
	assert_int_equal(d.act, 1);
	assert_string_equal(d.reason, "this code was used before");
	assert_string_equal(d.action, "do nothing more");
	/* A moderator who comes second still gets an answer. */
	assert_int_equal(consent_token_open(f->db, CONSENT_NOTE, mod, &d, &t),
	    2);
	assert_int_equal(t.used_at, 0);
	assert_int_equal(consent_tokens_use(f->db, CONSENT_NOTE, f->note,
	    NULL), BOTU_OK);
	assert_int_equal(consent_token_open(f->db, CONSENT_NOTE, mod, &d, &t),
	    2);
	assert_true(t.used_at != 0);
	/* The update's codes are untouched by the note's. */
	free(old);
	assert_int_equal(consent_token_create(f->db, CONSENT_POST, "author",
	    f->post, "a@example.org", time(NULL) - 1, &old), BOTU_OK);
	memset(&d, 0, sizeof(d));
	assert_int_equal(consent_token_open(f->db, CONSENT_POST, old, &d, &t),
	    1);
	assert_int_equal(d.act, 0);
	assert_string_equal(d.reason, "the code has expired");
	assert_string_equal(d.action, "leave it for a person");
	free(author);
	free(mod);
	free(old);
}

static void
test_moderator_gate(void **state)
{
	struct fx *f = *state;
	struct intake_decision d = { 0 };

	assert_int_equal(consent_moderator_may(&d, f->conf, "x@example.org",
	    "an update", 1), 0);
	assert_int_equal(d.act, 0);
	assert_string_equal(d.reason, "only the moderators in [list] "
	    "moderators can approve or reject an update");
	assert_string_equal(d.action, "leave it for a person");
	assert_int_equal(consent_moderator_may(&d, f->conf,
	    "mod@example.org", "a note", 0), 0);
	assert_string_equal(d.reason, "a moderator's answer without "
	    "akkoord or afwijzen");
	assert_int_equal(consent_moderator_may(&d, f->conf,
	    "mod@example.org", "a note", 1), 1);
}

static void
test_pending(void **state)
{
	struct fx *f = *state;
	char err[BOTU_ERRLEN];

	assert_int_equal(consent_pending(f->db, 1, "note", 3, "pending", "",
	    err), BOTU_OK);
	assert_int_equal(consent_pending(f->db, 0, "note", 3, NULL, NULL,
	    err), BOTU_EPERM);
	assert_string_equal(err, "there is no note 3");
	assert_int_equal(consent_pending(f->db, 1, "update", 4, "published",
	    "mod@example.org", err), BOTU_EPERM);
	assert_string_equal(err, "update 4 is published already (by "
	    "mod@example.org)");
	assert_int_equal(consent_pending(f->db, 1, "note", 5, "unconfirmed",
	    "", err), BOTU_EPERM);
	assert_string_equal(err, "note 5 is unconfirmed, not waiting for a "
	    "moderator");
	assert_int_equal(consent_pending(f->db, -1, "note", 5, NULL, NULL,
	    err), BOTU_EDATA);
}

static void
test_may_answer_without_db(void **state)
{
	(void)state;
	assert_int_equal(consent_may_answer(NULL, CONSENT_NOTE,
	    "a@example.org", 3), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_codes_live_in_their_own_table, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_used_and_expired_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_moderator_gate, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pending, setup, teardown),
		cmocka_unit_test(test_may_answer_without_db),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
