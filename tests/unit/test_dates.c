/*
 * Unit tests of the dates module: Dutch and English dates, the two DST
 * changes of Europe/Amsterdam, zones far from Europe, unknown zones, and
 * independence from the process's TZ.
 */
#include "testutil.h"

#include <time.h>

#include "botu/dates.h"

#define AMS	"Europe/Amsterdam"

/* An instant given as its UTC wall clock. */
static time_t
utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
		.tm_hour = h, .tm_min = mi, .tm_sec = s };

	return timegm(&tm);
}

static void
assert_format(time_t t, const char *tz, const char *lang,
    enum date_style style, const char *want)
{
	char out[128];
	int n = date_format(t, tz, lang, style, out, sizeof(out));

	assert_string_equal(out, want);
	assert_int_equal(n, (int)strlen(want));
}

static void
test_format_nl_en(void **state)
{
	time_t tue = utc(2026, 12, 8, 18, 30, 0);	/* 19:30 CET */
	time_t may = utc(2026, 5, 1, 7, 5, 0);		/* 09:05 CEST */

	(void)state;
	assert_format(tue, AMS, "nl", DATE_LONG,
	    "dinsdag 8 december 2026, 19:30");
	assert_format(tue, AMS, "en", DATE_LONG,
	    "Tuesday 8 December 2026, 19:30");
	assert_format(tue, AMS, "nl", DATE_DAY, "dinsdag 8 december 2026");
	assert_format(tue, AMS, "en", DATE_DAY, "Tuesday 8 December 2026");
	assert_format(tue, AMS, "nl", DATE_SHORT, "8 dec. 2026");
	assert_format(tue, AMS, "en", DATE_SHORT, "8 Dec 2026");
	assert_format(tue, AMS, "nl", DATE_TIME, "19:30");
	assert_format(may, AMS, "nl", DATE_LONG, "vrijdag 1 mei 2026, 09:05");
	assert_format(may, AMS, "nl", DATE_SHORT, "1 mei 2026");
	assert_format(may, AMS, "en", DATE_LONG, "Friday 1 May 2026, 09:05");
	assert_format(utc(2027, 3, 14, 12, 0, 0), AMS, "nl", DATE_SHORT,
	    "14 mrt. 2027");
	assert_format(utc(2026, 12, 10, 18, 30, 0), AMS, "nl", DATE_LONG,
	    "donderdag 10 december 2026, 19:30");
	/* Any other language is English. */
	assert_format(tue, AMS, "fr", DATE_DAY, "Tuesday 8 December 2026");
	assert_format(tue, AMS, NULL, DATE_SHORT, "8 Dec 2026");
	/* The day changes with the zone, not with UTC. */
	assert_format(utc(2026, 12, 31, 23, 30, 0), AMS, "nl", DATE_LONG,
	    "vrijdag 1 januari 2027, 00:30");
	assert_format(utc(2026, 12, 31, 23, 30, 0), "UTC", "en", DATE_LONG,
	    "Thursday 31 December 2026, 23:30");
}

static void
test_format_refuses(void **state)
{
	char out[32] = "junk";
	char small[8] = "junk";

	(void)state;
	assert_int_equal(date_format(0, "Mars/Olympus_Mons", "nl", DATE_LONG,
	    out, sizeof(out)), -1);
	assert_string_equal(out, "");
	out[0] = 'j';
	assert_int_equal(date_format(0, "", "nl", DATE_LONG, out,
	    sizeof(out)), -1);
	assert_string_equal(out, "");
	assert_int_equal(date_format(0, NULL, "nl", DATE_LONG, out,
	    sizeof(out)), -1);
	assert_int_equal(date_format(0, AMS, "nl", DATE_LONG, small,
	    sizeof(small)), -1);
	assert_string_equal(small, "");
	assert_int_equal(date_format(0, AMS, "nl", DATE_LONG, NULL, 0), -1);
	/* Exactly fits: "00:00" and its NUL. */
	assert_int_equal(date_format(utc(2026, 1, 1, 23, 0, 0), AMS, "nl",
	    DATE_TIME, small, 6), 5);
	assert_string_equal(small, "00:00");
	assert_int_equal(date_rfc5322(0, "Nowhere/Land", out, sizeof(out)),
	    -1);
	assert_string_equal(out, "");
}

static void
assert_local(time_t t, const char *tz, const char *want, int isdst,
    long gmtoff)
{
	struct tm tm;
	char got[32];

	assert_int_equal(date_to_local(t, tz, &tm), 0);
	snprintf(got, sizeof(got), "%04d-%02d-%02d %02d:%02d:%02d",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	assert_string_equal(got, want);
	assert_int_equal(tm.tm_isdst, isdst);
	assert_int_equal(tm.tm_gmtoff, gmtoff);
}

/* The wall clock "y-mo-d h:mi" in tz, as an instant. */
static time_t
from_local(const char *tz, int y, int mo, int d, int h, int mi)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
		.tm_hour = h, .tm_min = mi, .tm_isdst = -1 };
	time_t t = 12345;

	assert_int_equal(date_from_local(&tm, tz, &t), 0);
	return t;
}

/* 2026-03-29: at 02:00 CET the clocks go to 03:00 CEST (01:00 UTC). */
static void
test_spring_forward_amsterdam(void **state)
{
	(void)state;
	assert_local(utc(2026, 3, 29, 0, 59, 59), AMS, "2026-03-29 01:59:59",
	    0, 3600);
	assert_local(utc(2026, 3, 29, 1, 0, 0), AMS, "2026-03-29 03:00:00",
	    1, 7200);
	assert_int_equal(from_local(AMS, 2026, 3, 29, 1, 59),
	    utc(2026, 3, 29, 0, 59, 0));
	assert_int_equal(from_local(AMS, 2026, 3, 29, 3, 0),
	    utc(2026, 3, 29, 1, 0, 0));
	/* 02:00 and 02:30 do not exist: the next valid time is 03:00. */
	assert_int_equal(from_local(AMS, 2026, 3, 29, 2, 0),
	    utc(2026, 3, 29, 1, 0, 0));
	assert_int_equal(from_local(AMS, 2026, 3, 29, 2, 30),
	    utc(2026, 3, 29, 1, 0, 0));
	assert_format(utc(2026, 3, 29, 1, 0, 0), AMS, "nl", DATE_LONG,
	    "zondag 29 maart 2026, 03:00");
}

/* 2026-10-25: at 03:00 CEST the clocks go back to 02:00 CET. */
static void
test_fall_back_amsterdam(void **state)
{
	char out[64];

	(void)state;
	assert_local(utc(2026, 10, 25, 0, 30, 0), AMS, "2026-10-25 02:30:00",
	    1, 7200);
	assert_local(utc(2026, 10, 25, 0, 59, 59), AMS, "2026-10-25 02:59:59",
	    1, 7200);
	assert_local(utc(2026, 10, 25, 1, 0, 0), AMS, "2026-10-25 02:00:00",
	    0, 3600);
	assert_local(utc(2026, 10, 25, 1, 30, 0), AMS, "2026-10-25 02:30:00",
	    0, 3600);
	/* 02:30 happens twice: the first one (CEST) is meant. */
	assert_int_equal(from_local(AMS, 2026, 10, 25, 2, 30),
	    utc(2026, 10, 25, 0, 30, 0));
	assert_int_equal(from_local(AMS, 2026, 10, 25, 2, 0),
	    utc(2026, 10, 25, 0, 0, 0));
	assert_int_equal(from_local(AMS, 2026, 10, 25, 3, 0),
	    utc(2026, 10, 25, 2, 0, 0));
	assert_int_equal(from_local(AMS, 2026, 10, 25, 1, 59),
	    utc(2026, 10, 24, 23, 59, 0));
	assert_int_equal(date_rfc5322(utc(2026, 10, 25, 0, 30, 0), AMS, out,
	    sizeof(out)), 31);
	assert_string_equal(out, "Sun, 25 Oct 2026 02:30:00 +0200");
	date_rfc5322(utc(2026, 10, 25, 1, 30, 0), AMS, out, sizeof(out));
	assert_string_equal(out, "Sun, 25 Oct 2026 02:30:00 +0100");
}

/*
 * Every quarter of an hour of 2026 survives to_local and back, except the
 * second pass of the repeated hour, which comes back as the first.
 */
static void
test_round_trip_year(void **state)
{
	time_t t, back, start = utc(2026, 1, 1, 0, 0, 0);
	time_t rep0 = utc(2026, 10, 25, 1, 0, 0), rep1 = rep0 + 3600;
	struct tm tm;

	(void)state;
	for (t = start; t < start + 365 * 24 * 3600; t += 900) {
		assert_int_equal(date_to_local(t, AMS, &tm), 0);
		assert_int_equal(date_from_local(&tm, AMS, &back), 0);
		if (t >= rep0 && t < rep1)
			assert_int_equal(back, t - 3600);
		else
			assert_int_equal(back, t);
	}
}

static void
test_other_zones(void **state)
{
	char out[64];

	(void)state;
	/* New York springs forward on 2026-03-08 at 02:00 EST. */
	assert_local(utc(2026, 3, 8, 6, 59, 0), "America/New_York",
	    "2026-03-08 01:59:00", 0, -18000);
	assert_local(utc(2026, 3, 8, 7, 0, 0), "America/New_York",
	    "2026-03-08 03:00:00", 1, -14400);
	assert_int_equal(from_local("America/New_York", 2026, 3, 8, 2, 30),
	    utc(2026, 3, 8, 7, 0, 0));
	/* Half and three-quarter hours, both signs. */
	date_rfc5322(utc(2026, 11, 28, 9, 15, 0), "Asia/Kolkata", out,
	    sizeof(out));
	assert_string_equal(out, "Sat, 28 Nov 2026 14:45:00 +0530");
	date_rfc5322(utc(2026, 1, 15, 12, 0, 0), "America/St_Johns", out,
	    sizeof(out));
	assert_string_equal(out, "Thu, 15 Jan 2026 08:30:00 -0330");
	date_rfc5322(utc(2026, 7, 1, 0, 0, 0), "Asia/Kathmandu", out,
	    sizeof(out));
	assert_string_equal(out, "Wed, 01 Jul 2026 05:45:00 +0545");
	date_rfc5322(utc(2026, 11, 28, 9, 15, 0), AMS, out, sizeof(out));
	assert_string_equal(out, "Sat, 28 Nov 2026 10:15:00 +0100");
	date_rfc5322(utc(2026, 11, 28, 9, 15, 0), "UTC", out, sizeof(out));
	assert_string_equal(out, "Sat, 28 Nov 2026 09:15:00 +0000");
	/* Southern summer: Sydney is on daylight time in January. */
	assert_local(utc(2026, 1, 10, 0, 0, 0), "Australia/Sydney",
	    "2026-01-10 11:00:00", 1, 39600);
	assert_format(utc(2026, 1, 10, 0, 0, 0), "Australia/Sydney", "nl",
	    DATE_LONG, "zaterdag 10 januari 2026, 11:00");
}

static void
test_unknown_zone(void **state)
{
	struct tm tm = { .tm_year = 126, .tm_mday = 1 };
	time_t t = 42;

	(void)state;
	assert_int_equal(date_to_local(0, "Europe/Atlantis", &tm), -1);
	assert_int_equal(date_to_local(0, "../../etc/passwd", &tm), -1);
	assert_int_equal(date_to_local(0, NULL, &tm), -1);
	assert_int_equal(date_from_local(&tm, "Europe/Atlantis", &t), -1);
	assert_int_equal(date_from_local(&tm, "", &t), -1);
	assert_int_equal(t, 42);
}

/* Out-of-range fields are carried, as mktime does: 32 October. */
static void
test_from_local_normalises(void **state)
{
	(void)state;
	assert_int_equal(from_local(AMS, 2026, 10, 32, 10, 0),
	    utc(2026, 11, 1, 9, 0, 0));
	assert_int_equal(from_local(AMS, 2026, 12, 8, 19, 90),
	    utc(2026, 12, 8, 19, 30, 0));
}

/* The process's TZ is never used: the daemon may serve another zone. */
static void
test_ignores_process_tz(void **state)
{
	char out[64];

	(void)state;
	setenv("TZ", "America/Los_Angeles", 1);
	tzset();
	assert_format(utc(2026, 12, 8, 18, 30, 0), AMS, "nl", DATE_LONG,
	    "dinsdag 8 december 2026, 19:30");
	date_rfc5322(utc(2026, 12, 8, 18, 30, 0), AMS, out, sizeof(out));
	assert_string_equal(out, "Tue, 08 Dec 2026 19:30:00 +0100");
	assert_int_equal(from_local(AMS, 2026, 3, 29, 2, 30),
	    utc(2026, 3, 29, 1, 0, 0));
	unsetenv("TZ");
	tzset();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_nl_en),
		cmocka_unit_test(test_format_refuses),
		cmocka_unit_test(test_spring_forward_amsterdam),
		cmocka_unit_test(test_fall_back_amsterdam),
		cmocka_unit_test(test_round_trip_year),
		cmocka_unit_test(test_other_zones),
		cmocka_unit_test(test_unknown_zone),
		cmocka_unit_test(test_from_local_normalises),
		cmocka_unit_test(test_ignores_process_tz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
