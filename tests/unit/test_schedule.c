/* Unit tests of schedules: parsing, due times through DST, exactly once. */
#include "testutil.h"

#include "botu/dates.h"
#include "botu/db.h"
#include "botu/schedule.h"

#define TZ "Europe/Amsterdam"

/* A local wall-clock time in TZ as a time_t. */
static time_t
local(int y, int mon, int d, int h, int min)
{
	struct tm tm = { 0 };
	time_t t;

	tm.tm_year = y - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = min;
	assert_int_equal(date_from_local(&tm, TZ, &t), 0);
	return t;
}

/* t as "YYYY-MM-DD HH:MM +ZZZZ" in TZ, for readable failures. */
static const char *
show(time_t t)
{
	static char out[4][64];
	static int n;
	struct tm tm;
	char *o = out[n++ % 4];

	assert_int_equal(date_to_local(t, TZ, &tm), 0);
	snprintf(o, 64, "%04d-%02d-%02d %02d:%02d %+05ld", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_gmtoff / 3600 * 100);
	return o;
}

static void
expect_next(const char *sched, time_t after, const char *want)
{
	struct schedule s;
	char err[256];
	time_t at;

	if (schedule_parse(sched, &s, err, sizeof(err)) != 0)
		fail_msg("'%s': %s", sched, err);
	assert_int_equal(schedule_next(&s, TZ, after, &at), 0);
	if (strcmp(show(at), want) != 0)
		fail_msg("'%s' after %s: %s, want %s", sched, show(after),
		    show(at), want);
}

static void
test_parse(void **state)
{
	struct schedule s;
	char err[256];
	static const char *const bad[] = { "", "daily", "daily 8:00",
		"daily 24:00", "daily 08:60", "daily  08:00", "daily08:00",
		"monday 09:00", "Mon 09:00", "day 0 09:00", "day 29 09:00",
		"day x 09:00", "day 1  09:00", "weekly", "mon 09:00 extra",
		"on", NULL };

	(void)state;
	assert_int_equal(schedule_parse("daily 08:00", &s, err, sizeof(err)),
	    0);
	assert_int_equal(s.kind, SCHED_DAILY);
	assert_int_equal(s.hour, 8);
	assert_int_equal(s.min, 0);
	assert_int_equal(schedule_parse("sun 23:59", &s, err, sizeof(err)), 0);
	assert_int_equal(s.kind, SCHED_WEEKLY);
	assert_int_equal(s.wday, 0);
	assert_int_equal(s.hour, 23);
	assert_int_equal(s.min, 59);
	assert_int_equal(schedule_parse("day 28 00:00", &s, err, sizeof(err)),
	    0);
	assert_int_equal(s.kind, SCHED_MONTHLY);
	assert_int_equal(s.mday, 28);
	assert_int_equal(schedule_parse("off", &s, err, sizeof(err)), 0);
	assert_int_equal(s.kind, SCHED_OFF);
	for (size_t i = 0; bad[i] != NULL; i++) {
		err[0] = '\0';
		if (schedule_parse(bad[i], &s, err, sizeof(err)) != -1)
			fail_msg("'%s' was accepted", bad[i]);
		assert_non_null(strstr(err, "daily 08:00"));
	}
}

static void
test_next(void **state)
{
	(void)state;
	/* Before, at and after the time on the same day. */
	expect_next("daily 08:00", local(2026, 11, 28, 7, 59),
	    "2026-11-28 08:00 +0100");
	expect_next("daily 08:00", local(2026, 11, 28, 8, 0),
	    "2026-11-29 08:00 +0100");
	expect_next("daily 08:00", local(2026, 12, 31, 23, 0),
	    "2027-01-01 08:00 +0100");
	/* 28 November 2026 is a Saturday. */
	expect_next("mon 09:00", local(2026, 11, 28, 12, 0),
	    "2026-11-30 09:00 +0100");
	expect_next("sat 09:00", local(2026, 11, 28, 8, 0),
	    "2026-11-28 09:00 +0100");
	expect_next("sat 09:00", local(2026, 11, 28, 9, 0),
	    "2026-12-05 09:00 +0100");
	expect_next("day 1 09:00", local(2026, 11, 28, 12, 0),
	    "2026-12-01 09:00 +0100");
	expect_next("day 28 09:00", local(2027, 1, 28, 9, 30),
	    "2027-02-28 09:00 +0100");
	expect_next("day 1 00:00", local(2027, 2, 28, 23, 59),
	    "2027-03-01 00:00 +0100");
}

static void
test_daylight_saving(void **state)
{
	(void)state;
	/* 29 March 2026: 02:00 CET becomes 03:00 CEST. 02:30 does not
	 * exist that day: due when the clock jumps, then as usual. */
	expect_next("daily 02:30", local(2026, 3, 28, 12, 0),
	    "2026-03-29 03:00 +0200");
	expect_next("daily 02:30", local(2026, 3, 29, 3, 0),
	    "2026-03-30 02:30 +0200");
	/* The wall-clock time stays 08:00 on both sides of the change. */
	expect_next("daily 08:00", local(2026, 3, 28, 9, 0),
	    "2026-03-29 08:00 +0200");
	expect_next("sun 08:00", local(2026, 10, 24, 9, 0),
	    "2026-10-25 08:00 +0100");
	/* 25 October 2026: 02:30 happens twice; due the first time only. */
	expect_next("daily 02:30", local(2026, 10, 24, 12, 0),
	    "2026-10-25 02:30 +0200");
	expect_next("daily 02:30", local(2026, 10, 25, 2, 30),
	    "2026-10-26 02:30 +0100");
	expect_next("daily 02:30", local(2026, 10, 25, 2, 30) + 3600,
	    "2026-10-26 02:30 +0100");
}

static void
test_off_and_unknown_zone(void **state)
{
	struct schedule s;
	char err[256];
	time_t at = 1;

	(void)state;
	assert_int_equal(schedule_parse("off", &s, err, sizeof(err)), 0);
	assert_int_equal(schedule_next(&s, TZ, 0, &at), 0);
	assert_int_equal(at, 0);
	assert_int_equal(schedule_parse("daily 08:00", &s, err, sizeof(err)),
	    0);
	assert_int_equal(schedule_next(&s, "Europe/Rotterdam", 0, &at), -1);
}

/* A week of checks every 10 minutes, with two days of downtime. */
static void
test_due_exactly_once(void **state)
{
	char *dir = tmpdir_new(), *path = NULL, err[BOTU_ERRLEN];
	struct botu_db *db = NULL;
	struct schedule s;
	time_t t, last, next, start = local(2026, 11, 28, 10, 0);
	int runs = 0, rc;
	time_t ran[16];

	(void)state;
	assert_true(asprintf(&path, "%s/botu.db", dir) > 0);
	assert_int_equal(db_open(path, DB_READWRITE, &db, err), BOTU_OK);
	assert_int_equal(schedule_parse("daily 08:00", &s, err, sizeof(err)),
	    0);
	for (t = start; t < start + 7 * 86400; t += 600) {
		/* Down from Monday 30 Nov 06:00 to Wednesday 2 Dec 12:00. */
		if (t >= local(2026, 11, 30, 6, 0) &&
		    t < local(2026, 12, 2, 12, 0))
			continue;
		rc = schedule_due(db, "test.last", &s, TZ, t, &last, &next);
		assert_true(rc == 0 || rc == 1);
		if (rc == 0) {
			assert_true(next > t);
			continue;
		}
		assert_true(last < t);
		assert_true(runs < 16);
		ran[runs++] = t;
		assert_int_equal(schedule_done(db, "test.last", t), BOTU_OK);
	}
	/* The first start (Sat 10:00) runs nothing for the time before it;
	 * Sun 29 and Mon 30 at 08:00 would be due, but Monday is down: one
	 * run on coming back (Wed 12:00), none more that day, then daily. */
	assert_int_equal(runs, 5);
	assert_string_equal(show(ran[0]), "2026-11-29 08:00 +0100");
	assert_string_equal(show(ran[1]), "2026-12-02 12:00 +0100");
	assert_string_equal(show(ran[2]), "2026-12-03 08:00 +0100");
	assert_string_equal(show(ran[3]), "2026-12-04 08:00 +0100");
	assert_string_equal(show(ran[4]), "2026-12-05 08:00 +0100");
	db_close(db);
	free(path);
	tmpdir_remove(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_daylight_saving),
		cmocka_unit_test(test_off_and_unknown_zone),
		cmocka_unit_test(test_due_exactly_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
