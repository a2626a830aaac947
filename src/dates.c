/* dates.c - see dates.h */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libical/ical.h>

#include "botu/dates.h"

#define DAY	(24 * 60 * 60)

struct date_names {
	const char	*days[7];	/* Sunday first, as tm_wday */
	const char	*months[12];
	const char	*short_months[12];
};

/* Dutch writes day and month names in lowercase (Taalunie). */
static const struct date_names nl_names = {
	{ "zondag", "maandag", "dinsdag", "woensdag", "donderdag",
	    "vrijdag", "zaterdag" },
	{ "januari", "februari", "maart", "april", "mei", "juni", "juli",
	    "augustus", "september", "oktober", "november", "december" },
	{ "jan.", "feb.", "mrt.", "apr.", "mei", "jun.", "jul.", "aug.",
	    "sep.", "okt.", "nov.", "dec." },
};

static const struct date_names en_names = {
	{ "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
	    "Saturday" },
	{ "January", "February", "March", "April", "May", "June", "July",
	    "August", "September", "October", "November", "December" },
	{ "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
	    "Oct", "Nov", "Dec" },
};

/*
 * libical's zones come from the system tzdata (zone.tab); NULL for a name
 * it does not know. "UTC" and "GMT" are libical's own UTC zone.
 */
static icaltimezone *
zone_get(const char *tz)
{
	if (tz == NULL || tz[0] == '\0')
		return NULL;
	return icaltimezone_get_builtin_timezone(tz);
}

/* Seconds east of UTC in zone z at instant t. */
static int
offset_at(icaltimezone *z, time_t t, int *isdst)
{
	struct icaltimetype u;
	int dst = 0, off;

	u = icaltime_from_timet_with_zone(t, 0,
	    icaltimezone_get_utc_timezone());
	off = icaltimezone_get_utc_offset_of_utc_time(z, &u, &dst);
	if (isdst != NULL)
		*isdst = dst;
	return off;
}

int
date_to_local(time_t t, const char *tz, struct tm *out)
{
	icaltimezone *z = zone_get(tz);
	time_t wall;
	int dst, off;

	memset(out, 0, sizeof(*out));
	if (z == NULL)
		return -1;
	off = offset_at(z, t, &dst);
	wall = t + off;
	if (gmtime_r(&wall, out) == NULL)
		return -1;
	out->tm_isdst = dst;
	out->tm_gmtoff = off;
	out->tm_zone = "";
	return 0;
}

/*
 * The first instant in (lo, hi] whose offset differs from lo's: where the
 * clock jumps forward. Thirty-odd halvings for a one-day window.
 */
static time_t
transition(icaltimezone *z, time_t lo, time_t hi)
{
	int off = offset_at(z, lo, NULL);
	time_t mid;

	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (offset_at(z, mid, NULL) == off)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/*
 * The wall-clock time w read with the offsets in force a day before and a
 * day after: each that maps back to itself is a real instant. Two of them
 * is the hour that happens twice (take the first); none is the hour that
 * is skipped (take the moment the clock jumps, the next valid time).
 */
int
date_from_local(const struct tm *local, const char *tz, time_t *out)
{
	icaltimezone *z = zone_get(tz);
	struct tm tm = *local;
	time_t w, a, b;
	int oa, ob, a_ok, b_ok;

	if (z == NULL)
		return -1;
	tm.tm_isdst = 0;
	w = timegm(&tm);
	ob = offset_at(z, w - DAY, NULL);
	oa = offset_at(z, w + DAY, NULL);
	b = w - ob;
	a = w - oa;
	b_ok = offset_at(z, b, NULL) == ob;
	a_ok = offset_at(z, a, NULL) == oa;
	if (a_ok && b_ok)
		*out = a < b ? a : b;
	else if (a_ok || b_ok)
		*out = a_ok ? a : b;
	else
		*out = transition(z, a < b ? a : b, a < b ? b : a);
	return 0;
}

static const struct date_names *
names_for(const char *lang)
{
	if (lang != NULL && strcmp(lang, "nl") == 0)
		return &nl_names;
	return &en_names;
}

int
date_format(time_t t, const char *tz, const char *lang,
    enum date_style style, char *out, size_t len)
{
	const struct date_names *n = names_for(lang);
	struct tm tm;
	int w = -1;

	if (out == NULL || len == 0)
		return -1;
	out[0] = '\0';
	if (date_to_local(t, tz, &tm) != 0)
		return -1;
	switch (style) {
	case DATE_LONG:
		w = snprintf(out, len, "%s %d %s %d, %02d:%02d",
		    n->days[tm.tm_wday], tm.tm_mday, n->months[tm.tm_mon],
		    tm.tm_year + 1900, tm.tm_hour, tm.tm_min);
		break;
	case DATE_DAY:
		w = snprintf(out, len, "%s %d %s %d", n->days[tm.tm_wday],
		    tm.tm_mday, n->months[tm.tm_mon], tm.tm_year + 1900);
		break;
	case DATE_SHORT:
		w = snprintf(out, len, "%d %s %d", tm.tm_mday,
		    n->short_months[tm.tm_mon], tm.tm_year + 1900);
		break;
	case DATE_TIME:
		w = snprintf(out, len, "%02d:%02d", tm.tm_hour, tm.tm_min);
		break;
	}
	if (w < 0 || (size_t)w >= len) {
		out[0] = '\0';
		return -1;
	}
	return w;
}

/*
 * RFC 5322 §3.3: day and month names are English whatever the reader's
 * language, and the zone is a numeric +hhmm offset (seconds dropped, as
 * for Amsterdam's +00:19:32 before 1937).
 */
int
date_rfc5322(time_t t, const char *tz, char *out, size_t len)
{
	struct tm tm;
	long off;
	int w;

	if (out == NULL || len == 0)
		return -1;
	out[0] = '\0';
	if (date_to_local(t, tz, &tm) != 0)
		return -1;
	off = tm.tm_gmtoff < 0 ? -tm.tm_gmtoff : tm.tm_gmtoff;
	w = snprintf(out, len, "%.3s, %02d %s %d %02d:%02d:%02d %c%02ld%02ld",
	    en_names.days[tm.tm_wday], tm.tm_mday,
	    en_names.short_months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, tm.tm_gmtoff < 0 ? '-' : '+', off / 3600,
	    off % 3600 / 60);
	if (w < 0 || (size_t)w >= len) {
		out[0] = '\0';
		return -1;
	}
	return w;
}
