/* Unit tests of the members module on a real (temporary) database. */
#include "testutil.h"

#include "botu/db.h"
#include "botu/members.h"

struct fixture {
	char *dir;
	struct botu_db *db;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *path = NULL, err[BOTU_ERRLEN];

	f->dir = tmpdir_new();
	assert_true(asprintf(&path, "%s/botu.db", f->dir) > 0);
	assert_int_equal(db_open(path, DB_READWRITE, &f->db, err), BOTU_OK);
	free(path);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	db_close(f->db);
	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static int
add(struct fixture *f, struct member *m, char *err)
{
	int rc;

	assert_int_equal(db_begin(f->db), BOTU_OK);
	rc = members_add(f->db, m, "test", "<m1@example.org>", err);
	if (rc == BOTU_OK)
		assert_int_equal(db_commit(f->db), BOTU_OK);
	else
		db_rollback(f->db);
	return rc;
}

static char *
capture(struct fixture *f, enum members_format fmt, const char *status)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	assert_int_equal(members_write(f->db, mem, fmt, status), BOTU_OK);
	fclose(mem);
	return text;
}

static long long
scalar(struct fixture *f, const char *sql)
{
	sqlite3_stmt *st;
	long long v;

	assert_int_equal(sqlite3_prepare_v2(db_sqlite(f->db), sql, -1, &st,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
test_add_and_get(void **state)
{
	struct fixture *f = *state;
	struct member m = { 0 }, got;
	char err[BOTU_ERRLEN];

	m.email = "Fatima.Yilmaz@Example.org";
	m.name = "Fatima Yılmaz";
	m.role = "bewoner";
	m.language = "en";
	m.core = 1;
	m.status = "active";
	m.consent_at = 1764288000;
	m.consent_channel = "mail";
	m.consent_message_id = "<abc@example.org>";
	m.consent_text_version = "nl-1";
	assert_int_equal(add(f, &m, err), BOTU_OK);
	assert_true(m.id > 0);

	/* Addresses match without regard to case. */
	assert_int_equal(members_get(f->db, "fatima.yilmaz@example.org", &got),
	    1);
	assert_string_equal(got.email, "Fatima.Yilmaz@Example.org");
	assert_string_equal(got.name, "Fatima Yılmaz");
	assert_string_equal(got.role, "bewoner");
	assert_string_equal(got.language, "en");
	assert_string_equal(got.status, "active");
	assert_string_equal(got.delivery, "on");
	assert_string_equal(got.digest, "weekly");
	assert_int_equal(got.core, 1);
	assert_int_equal(got.consent_at, 1764288000);
	assert_string_equal(got.consent_channel, "mail");
	assert_string_equal(got.consent_message_id, "<abc@example.org>");
	assert_string_equal(got.consent_text_version, "nl-1");
	member_clear(&got);
	assert_int_equal(members_get(f->db, "nobody@example.org", &got), 0);

	/* Every change is explained by an event. */
	assert_int_equal(scalar(f, "SELECT count(*) FROM events WHERE "
	    "kind = 'add' AND message_id = '<m1@example.org>'"), 1);
}

static void
test_defaults_and_refusals(void **state)
{
	struct fixture *f = *state;
	struct member m = { 0 }, got;
	char err[BOTU_ERRLEN];

	m.email = "jan@example.org";
	assert_int_equal(add(f, &m, err), BOTU_OK);
	assert_int_equal(members_get(f->db, "jan@example.org", &got), 1);
	assert_string_equal(got.status, "pending");
	assert_string_equal(got.language, "nl");
	assert_int_equal(got.consent_at, 0);
	member_clear(&got);

	assert_int_equal(add(f, &m, err), BOTU_EDATA);
	assert_non_null(strstr(err, "waiting for confirmation"));
	m.email = "JAN@example.org";
	assert_int_equal(add(f, &m, err), BOTU_EDATA);

	m.email = "not an address";
	assert_int_equal(add(f, &m, err), BOTU_EDATA);
	assert_non_null(strstr(err, "not an e-mail address"));
	m.email = "x@example.org";
	m.language = "de";
	assert_int_equal(add(f, &m, err), BOTU_EDATA);
	assert_non_null(strstr(err, "language must be nl or en"));
	m.language = NULL;
	m.status = "gone";
	assert_int_equal(add(f, &m, err), BOTU_EDATA);
	m.status = NULL;
	m.digest = "daily";
	assert_int_equal(add(f, &m, err), BOTU_EDATA);
	assert_int_equal(scalar(f, "SELECT count(*) FROM members"), 1);
}

static void
test_remove_and_come_back(void **state)
{
	struct fixture *f = *state;
	struct member m = { 0 }, got;
	char err[BOTU_ERRLEN];
	int64_t n;

	m.email = "piet@example.org";
	m.status = "active";
	assert_int_equal(add(f, &m, err), BOTU_OK);
	assert_int_equal(db_begin(f->db), BOTU_OK);
	assert_int_equal(members_remove(f->db, "PIET@example.org", "test",
	    NULL, err), BOTU_OK);
	assert_int_equal(db_commit(f->db), BOTU_OK);
	assert_int_equal(members_get(f->db, "piet@example.org", &got), 1);
	assert_string_equal(got.status, "unsubscribed");
	member_clear(&got);
	assert_int_equal(members_count(f->db, "unsubscribed", &n), BOTU_OK);
	assert_int_equal(n, 1);

	/* Leaving twice, or someone unknown, is refused. */
	assert_int_equal(db_begin(f->db), BOTU_OK);
	assert_int_equal(members_remove(f->db, "piet@example.org", "test",
	    NULL, err), BOTU_EPERM);
	assert_int_equal(members_remove(f->db, "who@example.org", "test",
	    NULL, err), BOTU_EPERM);
	db_rollback(f->db);

	/* Coming back reuses the row with the new consent. */
	m.consent_at = 42;
	m.consent_channel = "cli: again";
	assert_int_equal(add(f, &m, err), BOTU_OK);
	assert_int_equal(members_get(f->db, "piet@example.org", &got), 1);
	assert_string_equal(got.status, "active");
	assert_string_equal(got.consent_channel, "cli: again");
	assert_int_equal(got.id, m.id);
	member_clear(&got);
	assert_int_equal(scalar(f, "SELECT count(*) FROM events WHERE "
	    "kind IN ('add', 'unsubscribe', 'readd')"), 3);
}

static void
test_json_and_csv(void **state)
{
	struct fixture *f = *state;
	struct member m = { 0 };
	char err[BOTU_ERRLEN], *text;
	sqlite3_stmt *st;

	m.email = "b@example.org";
	m.name = "Bram \"de Bouwer\", \\ <script>";
	m.role = "aannemer;\nzzp";
	m.status = "active";
	assert_int_equal(add(f, &m, err), BOTU_OK);
	memset(&m, 0, sizeof(m));
	m.email = "a@example.org";
	m.core = 1;
	assert_int_equal(add(f, &m, err), BOTU_OK);

	/* The JSON is valid and has the fields scripts rely on. */
	text = capture(f, MEMBERS_JSON, NULL);
	assert_int_equal(sqlite3_prepare_v2(db_sqlite(f->db),
	    "SELECT json_valid(?1), json_array_length(?1),"
	    " json_extract(?1, '$[0].email'), json_extract(?1, '$[0].core'),"
	    " json_extract(?1, '$[1].name'), json_extract(?1, '$[1].role'),"
	    " json_extract(?1, '$[1].status'), json_extract(?1,"
	    " '$[1].delivery'), json_extract(?1, '$[1].language'),"
	    " json_type(?1, '$[1].core')", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	assert_int_equal(sqlite3_column_int(st, 1), 2);
	assert_string_equal(db_col_text(st, 2), "a@example.org");
	assert_int_equal(sqlite3_column_int(st, 3), 1);
	assert_string_equal(db_col_text(st, 4),
	    "Bram \"de Bouwer\", \\ <script>");
	assert_string_equal(db_col_text(st, 5), "aannemer;\nzzp");
	assert_string_equal(db_col_text(st, 6), "active");
	assert_string_equal(db_col_text(st, 7), "on");
	assert_string_equal(db_col_text(st, 8), "nl");
	assert_string_equal(db_col_text(st, 9), "false");
	sqlite3_finalize(st);
	free(text);

	text = capture(f, MEMBERS_JSON, "pending");
	assert_non_null(strstr(text, "a@example.org"));
	assert_null(strstr(text, "b@example.org"));
	free(text);

	/* CSV quotes what needs it (RFC 4180) and ends lines with CRLF. */
	text = capture(f, MEMBERS_CSV, NULL);
	assert_true(strncmp(text, "email,name,role,", 16) == 0);
	assert_non_null(strstr(text, "\r\na@example.org,,,nl,pending,"));
	assert_non_null(strstr(text, "\r\nb@example.org,\"Bram \"\"de "
	    "Bouwer\"\", \\ <script>\",\"aannemer;\nzzp\",nl,active,on,"));
	free(text);

	text = capture(f, MEMBERS_TEXT, NULL);
	assert_non_null(strstr(text, "EMAIL"));
	assert_non_null(strstr(text, "a@example.org"));
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_and_get, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_defaults_and_refusals,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_and_come_back,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_and_csv, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
