/* Unit tests of the outbox on a real (temporary) database. */
#include "testutil.h"

#include <time.h>

#include "botu/db.h"
#include "botu/outbox.h"

#define FROM "annerike@lsabewoners.nl"
#define DAY (24 * 3600)

struct fixture {
	char *dir;
	struct botu_db *db;
	int seq;
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

/* Queues one small mail to rcpt; returns its row. */
static int64_t
add(struct fixture *f, const char *rcpt, int ordered, time_t expires)
{
	struct outbox_mail m = { 0 };
	char mid[64], data[160];
	int64_t id = 0;

	snprintf(mid, sizeof(mid), "<m%d@lsabewoners.nl>", ++f->seq);
	snprintf(data, sizeof(data), "Message-ID: %s\r\nTo: %s\r\n\r\n"
	    "Hallo.\r\n", mid, rcpt);
	m.kind = "welcome";
	m.rcpt = rcpt;
	m.envelope_from = FROM;
	m.message_id = mid;
	m.data = data;
	m.len = strlen(data);
	m.expires_at = expires;
	m.ordered = ordered;
	assert_int_equal(outbox_add(f->db, &m, &id), BOTU_OK);
	assert_true(id > 0);
	return id;
}

static long long
scalar(struct fixture *f, const char *fmt, int64_t id)
{
	sqlite3_stmt *st;
	char sql[256];
	long long v;

	snprintf(sql, sizeof(sql), fmt, (long long)id);
	assert_int_equal(sqlite3_prepare_v2(db_sqlite(f->db), sql, -1, &st,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* A text column of row id; static, for assert_string_equal. */
static const char *
text_of(struct fixture *f, const char *col, int64_t id)
{
	static char buf[BOTU_ERRLEN];
	sqlite3_stmt *st;
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT %s FROM outbox WHERE id = ?", col);
	assert_int_equal(sqlite3_prepare_v2(db_sqlite(f->db), sql, -1, &st,
	    NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, id);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(buf, sizeof(buf), "%s", db_col_text(st, 0));
	sqlite3_finalize(st);
	return buf;
}

static const char *
status(struct fixture *f, int64_t id)
{
	return text_of(f, "status", id);
}

/* The ids outbox_due() gives at now, in its order, as "1 3 4". */
static char *
due(struct fixture *f, time_t now, int max)
{
	struct outbox_row *rows = NULL;
	size_t n = 0;
	static char buf[256];
	size_t len = 0;

	assert_int_equal(outbox_due(f->db, now, max, &rows, &n), BOTU_OK);
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%lld",
		    i > 0 ? " " : "", (long long)rows[i].id);
	outbox_rows_free(rows, n);
	return buf;
}

static time_t
next_due(struct fixture *f)
{
	time_t when = -1;

	assert_int_equal(outbox_next_due(f->db, &when), BOTU_OK);
	return when;
}

static void
test_add_and_take(void **state)
{
	struct fixture *f = *state;
	time_t before = time(NULL), now;
	struct outbox_row *rows = NULL;
	size_t n = 0;
	int64_t id, id2;

	id = add(f, "piet@example.org", 0, 0);
	id2 = add(f, "jan@example.org", 0, before + 3600);
	now = time(NULL);
	/* Due at once, and kept for OUTBOX_DEFAULT_LIFETIME by default. */
	assert_int_equal(scalar(f, "SELECT expires_at - created_at FROM "
	    "outbox WHERE id = %lld", id), OUTBOX_DEFAULT_LIFETIME);
	assert_int_equal(scalar(f, "SELECT expires_at FROM outbox WHERE "
	    "id = %lld", id2), before + 3600);
	assert_true(scalar(f, "SELECT next_try FROM outbox WHERE id = %lld",
	    id) >= before);
	assert_string_equal(status(f, id), "queued");
	assert_int_equal(next_due(f), scalar(f, "SELECT next_try FROM outbox "
	    "WHERE id = %lld", id));

	assert_string_equal(due(f, before - 1, 10), "");
	assert_int_equal(outbox_due(f->db, now, 10, &rows, &n), BOTU_OK);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].id, id);
	assert_string_equal(rows[0].rcpt, "piet@example.org");
	assert_string_equal(rows[0].envelope_from, FROM);
	assert_int_equal(rows[0].attempts, 0);
	assert_int_equal(rows[0].len, strlen(rows[0].data));
	assert_non_null(strstr(rows[0].data, "To: piet@example.org\r\n"));
	outbox_rows_free(rows, n);

	/* Not due once past its expiry, even before outbox_expire(). */
	assert_string_equal(due(f, before + 3600, 10), "1");

	/* Nothing queued: no next time. */
	outbox_sent(f->db, id, now, 250, "250 2.0.0 Ok");
	outbox_sent(f->db, id2, now, 250, "250 2.0.0 Ok");
	assert_int_equal(next_due(f), 0);
	assert_string_equal(due(f, now, 10), "");
}

static void
test_oldest_first(void **state)
{
	struct fixture *f = *state;
	time_t now;
	int64_t a, b, c;

	a = add(f, "a@example.org", 0, 0);
	b = add(f, "b@example.org", 0, 0);
	c = add(f, "c@example.org", 0, 0);
	now = time(NULL);
	assert_string_equal(due(f, now, 10), "1 2 3");
	assert_string_equal(due(f, now, 2), "1 2");

	/* A mail waiting for its retry goes after those due earlier. */
	outbox_retry_later(f->db, a, now, 451, "451 4.3.0 later", 1);
	assert_string_equal(due(f, now, 10), "2 3");
	assert_string_equal(due(f, now + 60, 10), "2 3 1");
	(void)b;
	(void)c;
}

static void
test_ordered(void **state)
{
	struct fixture *f = *state;
	time_t now;
	int64_t a, u, b, x, c, d;

	/* Addresses compare without regard to case. */
	a = add(f, "Piet@Example.org", 1, 0);
	u = add(f, "piet@example.org", 0, 0);
	b = add(f, "PIET@example.org", 1, 0);
	x = add(f, "jan@example.org", 1, 0);
	now = time(NULL);
	/* b waits for a; unordered u and other people's mail do not. */
	assert_string_equal(due(f, now, 10), "1 2 4");

	/* Still while a waits for its retry. */
	outbox_retry_later(f->db, a, now, 451, "451 4.3.0 later", 1);
	assert_string_equal(due(f, now, 10), "2 4");
	assert_string_equal(due(f, now + 60, 10), "2 4 1");
	outbox_sent(f->db, u, now, 250, "250 ok");
	outbox_sent(f->db, x, now, 250, "250 ok");
	/* b is held, so the next pass is worth making when a is due. */
	assert_int_equal(next_due(f), now + 60);

	outbox_sent(f->db, a, now + 60, 250, "250 ok");
	assert_string_equal(due(f, now + 60, 10), "3");

	/* A predecessor that failed or was dropped holds nothing back. */
	c = add(f, "karin@example.org", 1, 0);
	d = add(f, "karin@example.org", 1, 0);
	assert_string_equal(due(f, now + 60, 10), "3 5");
	outbox_failed(f->db, c, now + 60, 550, "550 no");
	assert_string_equal(due(f, now + 60, 10), "3 6");
	outbox_drop(f->db, b, &(int){ 0 });
	outbox_drop(f->db, d, &(int){ 0 });
	assert_string_equal(due(f, now + 60, 10), "");
}

static void
test_backoff_steps(void **state)
{
	struct fixture *f = *state;
	static const int steps[] = { 60, 300, 900, 1800, 3600, 7200, 7200 };
	time_t now = time(NULL), t = now;
	int64_t id = add(f, "piet@example.org", 0, now + 30 * DAY);

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		assert_int_equal(outbox_retry_later(f->db, id, t, 451,
		    "451 4.3.0 Try again later", 1), BOTU_OK);
		assert_int_equal(scalar(f, "SELECT next_try FROM outbox "
		    "WHERE id = %lld", id), t + steps[i]);
		assert_int_equal(scalar(f, "SELECT attempts FROM outbox "
		    "WHERE id = %lld", id), i + 1);
		assert_string_equal(status(f, id), "queued");
		t += steps[i];
	}
	assert_int_equal(scalar(f, "SELECT last_code FROM outbox WHERE "
	    "id = %lld", id), 451);
	assert_string_equal(text_of(f, "last_error", id),
	    "451 4.3.0 Try again later");
}

static void
test_fails_at_expiry(void **state)
{
	struct fixture *f = *state;
	time_t now = time(NULL);
	int64_t id = add(f, "piet@example.org", 0, now + 400);

	/* +60 and +300 still fall before the expiry, +900 does not. */
	outbox_retry_later(f->db, id, now, 421, "421 busy", 1);
	assert_string_equal(status(f, id), "queued");
	outbox_retry_later(f->db, id, now + 60, 421, "421 busy", 1);
	assert_string_equal(status(f, id), "queued");
	assert_int_equal(scalar(f, "SELECT next_try FROM outbox WHERE "
	    "id = %lld", id), now + 360);
	outbox_retry_later(f->db, id, now + 360, 450, "450 still busy", 1);
	assert_string_equal(status(f, id), "failed");
	assert_int_equal(scalar(f, "SELECT attempts FROM outbox WHERE "
	    "id = %lld", id), 3);
	assert_int_equal(scalar(f, "SELECT last_code FROM outbox WHERE "
	    "id = %lld", id), 450);
	assert_string_equal(due(f, now + 360, 10), "");
	assert_int_equal(next_due(f), 0);
}

static void
test_retry_uncounted(void **state)
{
	struct fixture *f = *state;
	time_t now = time(NULL);
	int64_t id = add(f, "piet@example.org", 0, now + 90);
	int n = -1;

	/* Not the recipient's fault: no attempt counted, a minute's wait. */
	for (int i = 0; i < 3; i++) {
		outbox_retry_later(f->db, id, now, 553, "553 not yours", 0);
		assert_int_equal(scalar(f, "SELECT attempts FROM outbox "
		    "WHERE id = %lld", id), 0);
		assert_int_equal(scalar(f, "SELECT next_try FROM outbox "
		    "WHERE id = %lld", id), now + 60);
		assert_int_equal(scalar(f, "SELECT last_code FROM outbox "
		    "WHERE id = %lld", id), 553);
	}
	/* Nor does it fail the mail at its expiry: expiring does that. */
	outbox_retry_later(f->db, id, now + 60, 553, "553 not yours", 0);
	assert_string_equal(status(f, id), "queued");
	assert_int_equal(outbox_expire(f->db, now + 89, &n), BOTU_OK);
	assert_int_equal(n, 0);
	assert_int_equal(outbox_expire(f->db, now + 90, &n), BOTU_OK);
	assert_int_equal(n, 1);
	assert_string_equal(status(f, id), "expired");

	/* A counted failure after uncounted ones starts at one minute. */
	id = add(f, "jan@example.org", 0, 0);
	outbox_retry_later(f->db, id, now, 553, "553 not yours", 0);
	outbox_retry_later(f->db, id, now, 451, "451 later", 1);
	assert_int_equal(scalar(f, "SELECT attempts FROM outbox WHERE "
	    "id = %lld", id), 1);
	assert_int_equal(scalar(f, "SELECT next_try FROM outbox WHERE "
	    "id = %lld", id), now + 60);
}

static void
test_expire(void **state)
{
	struct fixture *f = *state;
	time_t now = time(NULL);
	int64_t a, b, c, d;
	int n = -1;

	a = add(f, "a@example.org", 0, now + 100);
	b = add(f, "b@example.org", 0, now + 101);
	c = add(f, "c@example.org", 0, now + 100);
	d = add(f, "d@example.org", 0, now + 100);
	outbox_sent(f->db, c, now, 250, "250 ok");
	outbox_failed(f->db, d, now, 550, "550 no");
	assert_int_equal(outbox_expire(f->db, now + 99, &n), BOTU_OK);
	assert_int_equal(n, 0);
	assert_int_equal(outbox_expire(f->db, now + 100, &n), BOTU_OK);
	assert_int_equal(n, 1);
	assert_string_equal(status(f, a), "expired");
	assert_string_equal(status(f, b), "queued");
	assert_string_equal(status(f, c), "sent");
	assert_string_equal(status(f, d), "failed");
	/* The attempts are not touched: expiring is not a try. */
	assert_int_equal(scalar(f, "SELECT attempts FROM outbox WHERE "
	    "id = %lld", a), 0);
}

static void
test_requeue(void **state)
{
	struct fixture *f = *state;
	time_t now = time(NULL);
	int64_t fl, ex, se, dr, qd, qw;
	int n = -1;

	fl = add(f, "failed@example.org", 0, now + 100);
	ex = add(f, "expired@example.org", 0, now + 50);
	se = add(f, "sent@example.org", 0, 0);
	dr = add(f, "dropped@example.org", 0, 0);
	qd = add(f, "due@example.org", 0, 0);
	qw = add(f, "waiting@example.org", 0, 0);
	outbox_failed(f->db, fl, now, 550, "550 no");
	outbox_expire(f->db, now + 50, &n);
	assert_int_equal(n, 1);
	outbox_sent(f->db, se, now, 250, "250 ok");
	outbox_drop(f->db, dr, &n);
	outbox_retry_later(f->db, qw, now, 451, "451 later", 1);

	/* One row: a failed one goes again now, with a fresh lifetime. */
	assert_int_equal(outbox_requeue(f->db, se, now + 60, &n), BOTU_OK);
	assert_int_equal(n, 0);
	assert_int_equal(outbox_requeue(f->db, dr, now + 60, &n), BOTU_OK);
	assert_int_equal(n, 0);
	assert_int_equal(outbox_requeue(f->db, 999, now + 60, &n), BOTU_OK);
	assert_int_equal(n, 0);
	assert_int_equal(outbox_requeue(f->db, fl, now + 60, &n), BOTU_OK);
	assert_int_equal(n, 1);
	assert_string_equal(status(f, fl), "queued");
	assert_int_equal(scalar(f, "SELECT next_try FROM outbox WHERE "
	    "id = %lld", fl), now + 60);
	assert_int_equal(scalar(f, "SELECT expires_at FROM outbox WHERE "
	    "id = %lld", fl), now + 60 + OUTBOX_DEFAULT_LIFETIME);
	/* The history stays: attempts and the last reply. */
	assert_int_equal(scalar(f, "SELECT attempts FROM outbox WHERE "
	    "id = %lld", fl), 1);
	assert_int_equal(scalar(f, "SELECT last_code FROM outbox WHERE "
	    "id = %lld", fl), 550);

	/* All: failed, expired and those waiting for a retry go now. */
	outbox_failed(f->db, fl, now, 550, "550 no");
	assert_int_equal(outbox_requeue(f->db, 0, now + 10, &n), BOTU_OK);
	assert_int_equal(n, 3);
	assert_string_equal(status(f, fl), "queued");
	assert_string_equal(status(f, ex), "queued");
	assert_string_equal(status(f, se), "sent");
	assert_string_equal(status(f, dr), "dropped");
	/* Those due all along go first. */
	assert_string_equal(due(f, now + 10, 10), "5 1 2 6");
	assert_int_equal(scalar(f, "SELECT next_try FROM outbox WHERE "
	    "id = %lld", qw), now + 10);
	(void)qd;
}

static void
test_drop(void **state)
{
	struct fixture *f = *state;
	time_t now = time(NULL);
	int64_t q, s, f1, f2, e;
	int n = -1;

	q = add(f, "q@example.org", 0, 0);
	s = add(f, "s@example.org", 0, 0);
	f1 = add(f, "f1@example.org", 0, 0);
	f2 = add(f, "f2@example.org", 0, 0);
	e = add(f, "e@example.org", 0, now + 10);
	outbox_sent(f->db, s, now, 250, "250 ok");
	outbox_failed(f->db, f1, now, 550, "550 no");
	outbox_failed(f->db, f2, now, 550, "550 no");
	outbox_expire(f->db, now + 10, &n);

	/* A sent mail cannot be dropped; a queued one can, once. */
	assert_int_equal(outbox_drop(f->db, s, &n), BOTU_OK);
	assert_int_equal(n, 0);
	assert_int_equal(outbox_drop(f->db, q, &n), BOTU_OK);
	assert_int_equal(n, 1);
	assert_string_equal(status(f, q), "dropped");
	assert_int_equal(outbox_drop(f->db, q, &n), BOTU_OK);
	assert_int_equal(n, 0);
	assert_string_equal(due(f, now, 10), "");

	/* All: the failed ones only. */
	assert_int_equal(outbox_drop(f->db, 0, &n), BOTU_OK);
	assert_int_equal(n, 2);
	assert_string_equal(status(f, f1), "dropped");
	assert_string_equal(status(f, f2), "dropped");
	assert_string_equal(status(f, e), "expired");
	assert_string_equal(status(f, s), "sent");
	assert_int_equal(outbox_drop(f->db, e, &n), BOTU_OK);
	assert_int_equal(n, 1);
}

static void
test_sent_since_and_count(void **state)
{
	struct fixture *f = *state;
	time_t now = time(NULL);
	int64_t n = -1;
	int64_t a, b, c, d;

	a = add(f, "a@example.org", 0, 0);
	b = add(f, "b@example.org", 0, 0);
	c = add(f, "c@example.org", 0, 0);
	d = add(f, "d@example.org", 0, 0);
	add(f, "e@example.org", 0, 0);
	outbox_sent(f->db, a, now - 120, 250, "250 ok");
	outbox_sent(f->db, b, now - 60, 250, "250 ok");
	outbox_sent(f->db, c, now - 1, 250, "250 ok");
	outbox_failed(f->db, d, now - 1, 550, "550 no");
	assert_int_equal(outbox_sent_since(f->db, now - 60, &n), BOTU_OK);
	assert_int_equal(n, 2);
	assert_int_equal(outbox_sent_since(f->db, now - 300, &n), BOTU_OK);
	assert_int_equal(n, 3);
	assert_int_equal(outbox_sent_since(f->db, now, &n), BOTU_OK);
	assert_int_equal(n, 0);

	assert_int_equal(outbox_count(f->db, "sent", &n), BOTU_OK);
	assert_int_equal(n, 3);
	assert_int_equal(outbox_count(f->db, "failed", &n), BOTU_OK);
	assert_int_equal(n, 1);
	assert_int_equal(outbox_count(f->db, "queued", &n), BOTU_OK);
	assert_int_equal(n, 1);
	assert_int_equal(outbox_count(f->db, "expired", &n), BOTU_OK);
	assert_int_equal(n, 0);
}

static char *
capture(struct fixture *f, int json, const char *st)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	assert_int_equal(outbox_write(f->db, mem, json, st), BOTU_OK);
	fclose(mem);
	return text;
}

static void
test_write(void **state)
{
	struct fixture *f = *state;
	time_t now = time(NULL);
	int64_t a, b;
	char *text;

	a = add(f, "a@example.org", 0, 0);
	b = add(f, "b@example.org", 0, 0);
	outbox_failed(f->db, a, now, 550, "550 5.1.1 <a@example.org>: "
	    "\"unknown\"");

	text = capture(f, 1, NULL);
	assert_non_null(strstr(text, "[{\"id\":1,\"status\":\"failed\","
	    "\"kind\":\"welcome\",\"rcpt\":\"a@example.org\","
	    "\"attempts\":1,"));
	/* JSON escapes the server's quotes. */
	assert_non_null(strstr(text, "\"last_code\":550,\"last_error\":"
	    "\"550 5.1.1 <a@example.org>: \\\"unknown\\\"\","
	    "\"message_id\":\"<m1@lsabewoners.nl>\"}"));
	assert_non_null(strstr(text, "},{\"id\":2,\"status\":\"queued\","));
	assert_non_null(strstr(text, "\"sent\":null,\"last_code\":null,"
	    "\"last_error\":null,"));
	assert_string_equal(text + strlen(text) - 3, "}]\n");
	free(text);

	text = capture(f, 1, "queued");
	assert_null(strstr(text, "\"id\":1,"));
	assert_non_null(strstr(text, "[{\"id\":2,"));
	free(text);
	text = capture(f, 1, "sent");
	assert_string_equal(text, "[]\n");
	free(text);

	text = capture(f, 0, NULL);
	assert_true(strncmp(text, "ID     STATUS   KIND", 20) == 0);
	assert_non_null(strstr(text, "\n1      failed   welcome"));
	assert_non_null(strstr(text, "550 5.1.1"));
	free(text);
	(void)b;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_and_take, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_oldest_first, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ordered, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backoff_steps, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fails_at_expiry, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retry_uncounted, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_expire, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_requeue, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sent_since_and_count,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_write, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
