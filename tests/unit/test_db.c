/* Unit tests of the store: pragmas, migrations, statements, events. */
#include "testutil.h"

#include "botu/db.h"
#include "botu/members.h"

#include <signal.h>
#include <sys/wait.h>

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

/* The schema as SQL text, to compare two databases. */
static char *
schema_of(const char *path)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st;
	char *out = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len);

	assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT type, name, "
	    "coalesce(sql, '') FROM sqlite_schema ORDER BY type, name", -1,
	    &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		fprintf(mem, "%s %s %s\n", sqlite3_column_text(st, 0),
		    sqlite3_column_text(st, 1), sqlite3_column_text(st, 2));
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	fprintf(mem, "version %d\n", sqlite3_column_int(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
	fclose(mem);
	return out;
}

/*
 * An upgrade killed in the middle of its last step (BOTU_CRASH_AT, an
 * abort() before COMMIT) leaves the database exactly at the step before,
 * with its data, and the next start finishes it.
 */
static void
test_interrupted_upgrade_completes_next_time(void **state)
{
	char *path = db_path(state), *before = NULL, *want_old, *want_new;
	char *ref = NULL, err[BOTU_ERRLEN];
	int latest = db_latest_version(), status;
	struct botu_db *db = NULL;
	struct member m;
	pid_t pid;

	/* What the schema is at each end, from databases of their own. */
	assert_true(asprintf(&ref, "%s/old.db", (char *)*state) > 0);
	assert_int_equal(db_open_at(ref, latest - 1, &db, err), BOTU_OK);
	db_close(db);
	want_old = schema_of(ref);
	free(ref);
	assert_true(asprintf(&ref, "%s/new.db", (char *)*state) > 0);
	assert_int_equal(db_open(ref, DB_READWRITE, &db, err), BOTU_OK);
	db_close(db);
	want_new = schema_of(ref);
	free(ref);

	assert_int_equal(db_open_at(path, latest - 1, &db, err), BOTU_OK);
	insert_member(db, "fatima@example.org");
	db_close(db);
	before = schema_of(path);
	assert_string_equal(before, want_old);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char var[64];

		snprintf(var, sizeof(var), "migration:%d", latest);
		setenv("BOTU_CRASH_AT", var, 1);
		/* Only the abort() ends this child. */
		(void)db_open(path, DB_READWRITE, &db, err);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	free(before);
	before = schema_of(path);
	assert_string_equal(before, want_old);

	assert_int_equal(db_open(path, DB_READWRITE, &db, err), BOTU_OK);
	assert_int_equal(db_version(db), latest);
	assert_int_equal(members_get(db, "fatima@example.org", &m), 1);
	member_clear(&m);
	db_close(db);
	free(before);
	before = schema_of(path);
	assert_string_equal(before, want_new);
	free(before);
	free(want_old);
	free(want_new);
	free(path);
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
		cmocka_unit_test_setup_teardown(
		    test_interrupted_upgrade_completes_next_time, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
