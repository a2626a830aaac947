/*
 * dates.h - dates and times as people read them, in nl and en, in a given
 * time zone. Debian ships no nl_NL locale, so the month and day names live
 * here, and zones come from libical's tables, not from the process's TZ.
 */
#ifndef BOTU_DATES_H
#define BOTU_DATES_H

#include <stddef.h>
#include <time.h>

enum date_style {
	DATE_LONG,	/* "dinsdag 8 december 2026, 19:30" /
			   "Tuesday 8 December 2026, 19:30" */
	DATE_DAY,	/* "dinsdag 8 december 2026" /
			   "Tuesday 8 December 2026" */
	DATE_SHORT,	/* "8 dec. 2026" / "8 Dec 2026" */
	DATE_TIME,	/* "19:30" */
};

/*
 * Formats t in zone tz (an Olson name such as "Europe/Amsterdam") for
 * language lang ("nl" or "en"; anything else is "en"). Returns the length
 * written, or -1 (out set to "") when the zone is unknown or len too small.
 */
int	date_format(time_t t, const char *tz, const char *lang,
	    enum date_style, char *out, size_t len);

/*
 * The local wall-clock time in tz as a struct tm (tm_isdst and tm_gmtoff
 * set), and back: mktime for a zone. Both return 0, or -1 for an unknown
 * zone. date_from_local() resolves a time that does not exist (spring
 * forward) to the next valid one and an ambiguous one (fall back) to the
 * first. That next valid time is the moment the clock jumps: 02:30 on the
 * last Sunday of March in Europe/Amsterdam is 03:00 CEST.
 */
int	date_to_local(time_t t, const char *tz, struct tm *out);
int	date_from_local(const struct tm *local, const char *tz, time_t *out);

/*
 * RFC 5322 date ("Sat, 28 Nov 2026 10:15:00 +0100") in tz. Returns the
 * length written, or -1 as date_format() does.
 */
int	date_rfc5322(time_t t, const char *tz, char *out, size_t len);

#endif
