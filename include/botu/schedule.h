/*
 * schedule.h - when a recurring job is due: the organiser's summary, and
 * later the digest.
 *
 * A schedule is written as in the configuration:
 *   "daily 08:00"     every day
 *   "mon 09:00"       every week (mon, tue, wed, thu, fri, sat, sun)
 *   "day 1 09:00"     every month, on day 1 to 28 (every month has them)
 *   "off"             never
 * Times are wall-clock times in the list's time zone and follow it through
 * daylight saving time: a time that does not exist on the day the clock
 * jumps forward is due the moment it jumps (date_from_local()), a time
 * that happens twice when it falls back is due the first time.
 *
 * A job runs at most once per due time, and exactly once after downtime
 * however many due times it missed: the time of its last run is kept in the
 * state table under a key of the caller's, and the job is due when the
 * first due time after that last run has come.
 */
#ifndef BOTU_SCHEDULE_H
#define BOTU_SCHEDULE_H

#include <stddef.h>
#include <time.h>

#include "botu/db.h"

enum schedule_kind {
	SCHED_OFF,
	SCHED_DAILY,
	SCHED_WEEKLY,
	SCHED_MONTHLY,
};

struct schedule {
	enum schedule_kind kind;
	int	wday;		/* SCHED_WEEKLY: 0 Sunday .. 6, as tm_wday */
	int	mday;		/* SCHED_MONTHLY: 1 .. 28 */
	int	hour;		/* 0 .. 23 */
	int	min;		/* 0 .. 59 */
};

/*
 * Parses text (above) into *out. 0, or -1 with err (errlen bytes) saying
 * what a schedule looks like.
 */
int	schedule_parse(const char *text, struct schedule *out, char *err,
	    size_t errlen);

/*
 * The first due time strictly after t, in zone tz, into *out; 0 for a
 * schedule that is off. Returns 0, or -1 for an unknown zone.
 */
int	schedule_next(const struct schedule *, const char *tz, time_t t,
	    time_t *out);

/*
 * Is the job whose last run is kept under key due at now? 1: yes, with
 * *last the time of its last run (the start of the period it covers);
 * 0: not yet, with *next when it will be (0: never). The first time a key
 * is asked about, now is recorded as its last run: a job never runs on a
 * first start for the time before it. BOTU_EDATA (negative) when the store
 * or the zone fails.
 */
int	schedule_due(struct botu_db *, const char *key,
	    const struct schedule *, const char *tz, time_t now, time_t *last,
	    time_t *next);

/*
 * Records now as the last run of key: in the caller's transaction, with
 * whatever the job stored, so a crash can neither lose nor repeat a run.
 */
int	schedule_done(struct botu_db *, const char *key, time_t now);

#endif
