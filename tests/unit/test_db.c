/* Unit tests of the store: pragmas, migrations, statements, events. */
#include "testutil.h"

#include "botu/db.h"
#include "botu/members.h"

static int
setup(void **state)
{
	*state = tmpdir_new();
	return 0;
}

static int
teardown(void **state)
{
	tmpdir_remove(*state);
	return 0;
}

static char *
db_path(void **state)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/botu.db", (char *)*state) > 0);
	return p;
}

static long long
pragma_int(struct botu_db *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v;

	assert_int_equal(sqlite3_prepare_v2(db_sqlite(db), sql, -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
no_rows(struct botu_db *db, const char *sql)
{
	sqlite3_stmt *st;
	int rc;

	assert_int_equal(sqlite3_prepare_v2(db_sqlite(db), sql, -1, &st, NULL),
	    SQLITE_OK);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE;
}

static void
test_open_sets_pragmas(void **state)
{
	char *path = db_path(state), err[BOTU_ERRLEN];
	struct botu_db *db = NULL;
	sqlite3_stmt *st;

	assert_int_equal(db_open(path, DB_READWRITE, &db, err), BOTU_OK);
	assert_int_equal(db_version(db), db_latest_version());
	assert_int_equal(pragma_int(db, "PRAGMA foreign_keys"), 1);
	assert_int_equal(pragma_int(db, "PRAGMA synchronous"), 2);
	assert_int_equal(pragma_int(db, "PRAGMA secure_delete"), 1);
	assert_true(pragma_int(db, "PRAGMA busy_timeout") >= 5000);
	assert_int_equal(sqlite3_prepare_v2(db_sqlite(db),
	    "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal(db_col_text(st, 0), "wal");
	sqlite3_finalize(st);
	db_close(db);
	free(path);
}

/* A member row that every schema version since 1 can hold. */
static void
insert_member(struct botu_db *db, const char *email)
{
	struct member m = { 0 };
	char err[BOTU_ERRLEN];

	m.email = (char *)email;
	m.name = "Fatima";
	m.status = "active";
	assert_int_equal(db_begin(db), BOTU_OK);
	assert_int_equal(members_add(db, &m, "test", "<id@x>", err), BOTU_OK);
	assert_int_equal(db_commit(db), BOTU_OK);
}

/* From every earlier version, with data in it, up to the latest. */
static void
test_migrations_from_every_version(void **state)
{
	char err[BOTU_ERRLEN];
	int latest = db_latest_version();

	assert_true(latest >= 1);
	for (int v = 0; v <= latest; v++) {
		char *path = NULL;
		struct botu_db *db = NULL;
		struct member m;

		assert_true(asprintf(&path, "%s/v%d.db", (char *)*state,
		    v) > 0);
		assert_int_equal(db_open_at(path, v, &db, err), BOTU_OK);
		assert_int_equal(db_version(db), v);
		/* Plain SQL that every version since 1 understands. */
		if (v >= 1)
			assert_int_equal(db_exec(db, "INSERT INTO members "
			    "(email, name, status, created_at, updated_at) "
			    "VALUES ('fatima@example.org', 'Fatima', 'active', "
			    "1, 1)"), BOTU_OK);
		db_close(db);

		assert_int_equal(db_open(path, DB_READWRITE, &db, err),
		    BOTU_OK);
		assert_int_equal(db_version(db), latest);
		assert_true(no_rows(db, "PRAGMA foreign_key_check"));
		if (v >= 1) {
			assert_int_equal(members_get(db, "FATIMA@example.org",
			    &m), 1);
			assert_string_equal(m.name, "Fatima");
			member_clear(&m);
		}
		/* The upgraded schema works like a fresh one. */
		insert_member(db, "new@example.org");
		db_close(db);
		free(path);
	}
}

static void
test_newer_schema_refused(void **state)
{
	char *path = db_path(state), err[BOTU_ERRLEN], sql[64];
	struct botu_db *db = NULL;

	assert_int_equal(db_open(path, DB_READWRITE, &db, err), BOTU_OK);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	    db_latest_version() + 1);
	assert_int_equal(db_exec(db, sql), BOTU_OK);
	db_close(db);
	db = NULL;
	assert_int_equal(db_open(path, DB_READWRITE, &db, err), BOTU_EDATA);
	assert_null(db);
	assert_non_null(strstr(err, "newer than this botu knows"));
	free(path);
}

static void
test_readonly_needs_current_schema(void **state)
{
	char *path = db_path(state), err[BOTU_ERRLEN];
	struct botu_db *db = NULL;

	assert_int_equal(db_open(path, DB_READONLY, &db, err), BOTU_EDATA);
	assert_int_equal(db_open_at(path, 0, &db, err), BOTU_OK);
	db_close(db);
	assert_int_equal(db_open(path, DB_READONLY, &db, err), BOTU_EDATA);
	assert_non_null(strstr(err, "this botu needs"));
	assert_int_equal(db_open(path, DB_READWRITE, &db, err), BOTU_OK);
	db_close(db);
	assert_int_equal(db_open(path, DB_READONLY, &db, err), BOTU_OK);
	assert_int_not_equal(db_exec(db, "CREATE TABLE x (a)"), BOTU_OK);
	db_close(db);
	free(path);
}

static void
test_rollback_leaves_nothing(void **state)
{
	char *path = db_path(state), err[BOTU_ERRLEN];
	struct botu_db *db = NULL;
	struct member m = { 0 }, got;

	assert_int_equal(db_open(path, DB_READWRITE, &db, err), BOTU_OK);
	m.email = "piet@example.org";
	assert_int_equal(db_begin(db), BOTU_OK);
	assert_int_equal(members_add(db, &m, "test", NULL, err), BOTU_OK);
	db_rollback(db);
	assert_int_equal(members_get(db, "piet@example.org", &got), 0);
	assert_int_equal(pragma_int(db, "SELECT count(*) FROM events"), 0);
	db_close(db);
	free(path);
}

static void
test_missing_folder_is_a_clear_error(void **state)
{
	char err[BOTU_ERRLEN];
	struct botu_db *db = NULL;

	(void)state;
	assert_int_equal(db_open("/nonexistent/folder/botu.db", DB_READWRITE,
	    &db, err), BOTU_EDATA);
	assert_non_null(strstr(err, "cannot open database "
	    "/nonexistent/folder/botu.db"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_sets_pragmas, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_migrations_from_every_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_readonly_needs_current_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_leaves_nothing,
		    setup, teardown),
		cmocka_unit_test(test_missing_folder_is_a_clear_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
