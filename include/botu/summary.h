/*
 * summary.h - the organiser's summary: one mail to each of [summary] to
 * (default: the moderators, else the list address itself), on [summary]
 * schedule, about what happened since the last one, and only when
 * something did. It names who joined and who left, the mails left for a
 * person and those set aside, mails that could not be delivered, pauses of
 * sending and refused logins or an unreachable mailbox, and counts such as
 * notes waiting and bounces once the store keeps them.
 *
 * What happened comes from the store: the events table (joins, leaves,
 * "send-failed", "sending-paused", "imap-login-refused",
 * "imap-unreachable") and the inbound table. Mail botu sent itself (the
 * summary coming back into a mailbox it reads) never counts as a mail left
 * for a person.
 */
#ifndef BOTU_SUMMARY_H
#define BOTU_SUMMARY_H

#include <time.h>

#include "botu/config.h"
#include "botu/db.h"
#include "botu/template.h"

/* The state key that keeps the time of the last run (schedule.h). */
#define SUMMARY_STATE_KEY "summary.last_run"

/* At most this many names per list in one mail; the rest is counted. */
#define SUMMARY_LIST_MAX 25

/*
 * Fills vars with what happened in [from, to): the variables of the
 * summary template (templates/README, [summary]). *items gets how many
 * things happened; 0 means there is nothing to tell.
 */
int	summary_collect(struct botu_db *, const struct botu_conf *,
	    time_t from, time_t to, struct tmpl_vars *vars, int *items);

/*
 * The summary's part of a daemon's pass, at now: when it is due, collects
 * what happened since the last run and, if anything did, queues one mail
 * per recipient; the run is recorded in the same transaction. *queued
 * gets the number of mails queued, *next when it is due again (0: never,
 * [summary] schedule = off). BOTU_OK, or an error with err set (nothing is
 * queued then, and the next call tries again).
 */
int	summary_tick(struct botu_db *, const struct botu_conf *, time_t now,
	    int *queued, time_t *next, char err[BOTU_ERRLEN]);

#endif
