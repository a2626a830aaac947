/*
 * Unit tests of the self-service module: reading a change of address
 * (pure), moving a member and pausing their digest on a real store.
 */
#include "testutil.h"

#include "botu/db.h"
#include "botu/members.h"
#include "botu/retention.h"
#include "botu/selfservice.h"
#include "botu/util.h"

static void
test_new_address(void **state)
{
	static const struct {
		const char	*subject, *own, *want;
		int		 how;
	} cases[] = {
		{ "Nieuw adres: Jan@Nieuw.example.org", "",
		    "jan@nieuw.example.org", 'S' },
		{ "nieuw mailadres: <jan@nieuw.example.org>",
		    "Groetjes,\nJan", "jan@nieuw.example.org", 'S' },
		{ "Nieuw adres", "Hoi,\n\njan@nieuw.example.org\n\nJan\n",
		    "jan@nieuw.example.org", 'B' },
		{ "Adreswijziging", "jan@nieuw.example.org.",
		    "jan@nieuw.example.org", 'B' },
		{ "", "Mijn nieuwe mailadres is jan@nieuw.example.org\n"
		    "Groet, Jan", "jan@nieuw.example.org", 'B' },
		{ NULL, "New address: jan@new.example.org\n\nThanks,\nJan\n",
		    "jan@new.example.org", 'B' },
		{ "Change of address: jan@new.example.org", "",
		    "jan@new.example.org", 'S' },
		/* more than a command: a person reads it */
		{ "Nieuw adres: jan@nieuw.example.org", "Ik ben verhuisd naar "
		    "de Schiedamseweg en heb sindsdien ook een nieuw "
		    "mailadres, dus stuur alles voortaan daarheen.", "", 0 },
		{ "Nieuw adres", "Weet je het nieuwe adres van Piet? "
		    "piet@example.org\n", "", 0 },
		{ "Nieuw adres", "Schiedamseweg 12, Rotterdam\n", "", 0 },
		{ "Nieuw adres: geen-adres", "", "", 0 },
		{ "Re: nieuw adres: jan@nieuw.example.org", "", "", 0 },
	};
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int how = selfservice_new_address(cases[i].subject,
		    cases[i].own, out, sizeof(out));

		if (how != cases[i].how || strcmp(out, cases[i].want) != 0)
			fail_msg("case %zu: %c '%s', not %c '%s'", i,
			    how ? how : '0', out, cases[i].how ?
			    cases[i].how : '0', cases[i].want);
	}
}

struct fx {
	char		*dir;
	struct botu_db	*db;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[BOTU_ERRLEN], *path = NULL;

	f->dir = tmpdir_new();
	assert_true(asprintf(&path, "%s/botu.db", f->dir) > 0);
	if (db_open(path, DB_READWRITE, &f->db, err) != BOTU_OK)
		fail_msg("%s", err);
	free(path);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	db_close(f->db);
	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static int64_t
add(struct fx *f, const char *email, const char *status)
{
	struct member m = { .email = (char *)email, .status = (char *)status };
	char err[BOTU_ERRLEN];

	assert_int_equal(members_add(f->db, &m, "test", NULL, err), BOTU_OK);
	return m.id;
}

static void
test_move(void **state)
{
	struct fx *f = *state;
	char err[BOTU_ERRLEN];
	struct member m;
	int64_t jan, piet, gone;

	jan = add(f, "jan@oud.example.org", "active");
	piet = add(f, "piet@example.org", "active");
	gone = add(f, "weg@example.org", "active");
	assert_int_equal(db_exec(f->db, "UPDATE members SET status = "
	    "'unsubscribed' WHERE email = 'weg@example.org'"), BOTU_OK);
	assert_int_equal(db_exec(f->db, "INSERT INTO notes (member_id, body, "
	    "status, created_at, updated_at) SELECT id, 'Mijn noot', "
	    "'published', 1, 1 FROM members WHERE email LIKE 'jan@%'"),
	    BOTU_OK);
	/* not onto another member, not to nonsense */
	assert_int_equal(selfservice_move(f->db, jan, "PIET@example.org",
	    "test", NULL, err), BOTU_EPERM);
	assert_int_equal(selfservice_move(f->db, jan, "geen adres", "test",
	    NULL, err), BOTU_EPERM);
	/* onto a leaver's old record: that record goes */
	assert_int_equal(retention_suppress(f->db, "weg@example.org",
	    "forgotten"), BOTU_OK);
	assert_int_equal(selfservice_move(f->db, jan, "Weg@Example.org",
	    "test", "<m@x>", err), BOTU_OK);
	assert_int_equal(members_get_id(f->db, gone, &m), 0);
	assert_int_equal(members_get_id(f->db, jan, &m), 1);
	assert_string_equal(m.email, "weg@example.org");
	assert_string_equal(m.status, "active");
	member_clear(&m);
	assert_int_equal(retention_suppressed(f->db, "weg@example.org",
	    NULL), 0);
	assert_int_equal(members_get(f->db, "jan@oud.example.org", &m), 0);
	(void)piet;
}

static void
test_pause_resume(void **state)
{
	struct fx *f = *state;
	struct member m;
	int64_t id = add(f, "jan@example.org", "active");
	int changed;

	assert_int_equal(db_exec(f->db, "UPDATE members SET digest = "
	    "'monthly'"), BOTU_OK);
	assert_int_equal(selfservice_pause(f->db, id, 1, "test", NULL,
	    &changed), BOTU_OK);
	assert_int_equal(changed, 1);
	assert_int_equal(selfservice_pause(f->db, id, 1, "test", NULL,
	    &changed), BOTU_OK);
	assert_int_equal(changed, 0);
	assert_int_equal(members_get_id(f->db, id, &m), 1);
	assert_string_equal(m.digest, "off");
	member_clear(&m);
	assert_int_equal(selfservice_pause(f->db, id, 0, "test", NULL,
	    &changed), BOTU_OK);
	assert_int_equal(changed, 1);
	assert_int_equal(members_get_id(f->db, id, &m), 1);
	assert_string_equal(m.digest, "monthly");
	member_clear(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_address),
		cmocka_unit_test_setup_teardown(test_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_resume, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
