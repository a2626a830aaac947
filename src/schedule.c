/* schedule.c - see schedule.h */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "botu/dates.h"
#include "botu/schedule.h"
#include "botu/util.h"

/* Sunday first, as tm_wday. */
static const char *const days[] =
    { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

/* "HH:MM" and nothing after it. */
static int
parse_time(const char *s, struct schedule *out)
{
	int hh, mm;

	if (strlen(s) != 5 || !isdigit((unsigned char)s[0]) ||
	    !isdigit((unsigned char)s[1]) || s[2] != ':' ||
	    !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
		return -1;
	hh = (s[0] - '0') * 10 + (s[1] - '0');
	mm = (s[3] - '0') * 10 + (s[4] - '0');
	if (hh > 23 || mm > 59)
		return -1;
	out->hour = hh;
	out->min = mm;
	return 0;
}

/* After a word and one space: "daily 08:00" -> "08:00". */
static const char *
after_word(const char *text, const char *word)
{
	size_t n = strlen(word);

	if (strncmp(text, word, n) != 0 || text[n] != ' ')
		return NULL;
	return text + n + 1;
}

int
schedule_parse(const char *text, struct schedule *out, char *err,
    size_t errlen)
{
	const char *rest;
	char *end;
	long day;

	memset(out, 0, sizeof(*out));
	if (strcmp(text, "off") == 0)
		return 0;
	rest = after_word(text, "daily");
	if (rest != NULL && parse_time(rest, out) == 0) {
		out->kind = SCHED_DAILY;
		return 0;
	}
	rest = after_word(text, "day");
	if (rest != NULL && isdigit((unsigned char)rest[0])) {
		day = strtol(rest, &end, 10);
		if (*end == ' ' && parse_time(end + 1, out) == 0 &&
		    day >= 1 && day <= 28) {
			out->kind = SCHED_MONTHLY;
			out->mday = (int)day;
			return 0;
		}
	}
	for (size_t i = 0; i < NELEM(days); i++) {
		rest = after_word(text, days[i]);
		if (rest != NULL && parse_time(rest, out) == 0) {
			out->kind = SCHED_WEEKLY;
			out->wday = (int)i;
			return 0;
		}
	}
	snprintf(err, errlen, "schedule '%s' is not 'daily 08:00', 'mon "
	    "09:00' (weekly), 'day 1 09:00' (monthly, day 1 to 28) or 'off'",
	    text);
	return -1;
}

/* Does the calendar day of tm (normalised, tm_wday set) match? */
static int
day_matches(const struct schedule *s, const struct tm *tm)
{
	switch (s->kind) {
	case SCHED_DAILY:
		return 1;
	case SCHED_WEEKLY:
		return tm->tm_wday == s->wday;
	case SCHED_MONTHLY:
		return tm->tm_mday == s->mday;
	case SCHED_OFF:
		break;
	}
	return 0;
}

int
schedule_next(const struct schedule *s, const char *tz, time_t t,
    time_t *out)
{
	struct tm local, day;
	time_t at, noon;

	*out = 0;
	if (s->kind == SCHED_OFF)
		return 0;
	if (date_to_local(t, tz, &local) < 0)
		return -1;
	/*
	 * Walk the calendar days from t's own day on: a month has the day
	 * (1 to 28) within 31 days, a week within 7. The day's date comes
	 * from UTC noon arithmetic, which has no daylight saving time.
	 */
	for (int d = 0; d <= 62; d++) {
		memset(&day, 0, sizeof(day));
		day.tm_year = local.tm_year;
		day.tm_mon = local.tm_mon;
		day.tm_mday = local.tm_mday + d;
		day.tm_hour = 12;
		noon = timegm(&day);
		if (gmtime_r(&noon, &day) == NULL)
			return -1;
		if (!day_matches(s, &day))
			continue;
		day.tm_hour = s->hour;
		day.tm_min = s->min;
		day.tm_sec = 0;
		if (date_from_local(&day, tz, &at) < 0)
			return -1;
		if (at > t) {
			*out = at;
			return 0;
		}
	}
	return -1;
}

static int
state_time(struct botu_db *db, const char *key, time_t *out)
{
	char *v = NULL;
	long long n;
	int rc;

	*out = 0;
	rc = db_state_get(db, key, &v);
	if (rc == 1 && str_to_int(v, 0, (long long)1 << 40, &n) == 0)
		*out = (time_t)n;
	free(v);
	return rc < 0 ? BOTU_EDATA : BOTU_OK;
}

int
schedule_due(struct botu_db *db, const char *key, const struct schedule *s,
    const char *tz, time_t now, time_t *last, time_t *next)
{
	time_t at;

	*next = 0;
	if (state_time(db, key, last) != BOTU_OK)
		return BOTU_EDATA;
	if (*last == 0 || *last > now) {
		/* First use, or a clock that went back: start from now. */
		if (schedule_done(db, key, now) != BOTU_OK)
			return BOTU_EDATA;
		*last = now;
	}
	if (schedule_next(s, tz, *last, &at) < 0)
		return BOTU_EDATA;
	if (at != 0 && at <= now)
		return 1;
	*next = at;
	return 0;
}

int
schedule_done(struct botu_db *db, const char *key, time_t now)
{
	char v[32];

	snprintf(v, sizeof(v), "%lld", (long long)now);
	return db_state_set(db, key, v);
}
