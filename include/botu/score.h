/*
 * score.h - what delivery failures mean for the members: a score per
 * member that decays, the member's delivery (on, bouncing, disabled), the
 * probe before botu gives up on an address, complaints, and alerts for the
 * organiser when a failure is about botu's own setup. Only reports about
 * botu's own mail count (a VERP address, or a returned Message-ID from the
 * outbox), and each outbox mail counts once, however many reports about
 * it come back. Every function works inside the caller's transaction.
 *
 * The numbers (botu(8) documents them):
 *   a hard failure adds 1.0, a soft one 0.25; ours, policy and delays add
 *   nothing. The score halves every 30 days. At 1.5 (two hard failures
 *   within a month; a hard and two soft ones close together; about six
 *   soft ones in a row) delivery becomes "bouncing": list mail stops.
 *   After 7 days a probe (the "probe" template) goes to the address: if it
 *   fails as well, delivery becomes "disabled"; if no failure came back 7
 *   days after it was sent, delivery is "on" again with score 0. A member
 *   who writes in is "on" again at once.
 *   A complaint (ARF) ends the membership at once. A failure about our
 *   sender address or login scores nobody and raises an alert (log, an
 *   event, botu status).
 */
#ifndef BOTU_SCORE_H
#define BOTU_SCORE_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "botu/bounce.h"
#include "botu/config.h"
#include "botu/db.h"
#include "botu/members.h"
#include "botu/message.h"
#include "botu/util.h"

#define SCORE_HARD 1.0
#define SCORE_SOFT 0.25
#define SCORE_HALF_LIFE (30 * 86400)
#define SCORE_THRESHOLD 1.5
#define SCORE_PROBE_AFTER (7 * 86400)
#define SCORE_PROBE_WAIT (7 * 86400)

/* Which mail of botu's a report returns. */
struct score_match {
	int	 verp;		/* 1: sent to a bounce address botu made;
				   -1: to one it did not make (forged) */
	int64_t	 outbox_id;	/* 0: none of botu's mail */
	int64_t	 member_id;	/* 0: that mail was to no member */
	char	 rcpt[320];	/* the mail's recipient */
	char	 kind[32];	/* its outbox kind: welcome, probe, ... */
	char	 how[300];	/* how it was found, for people */
};

/*
 * Finds the outbox mail m returns: a recipient of m (Delivered-To,
 * X-Original-To, To, ...) that is one of botu's bounce addresses, else a
 * Message-ID of the returned mail (r) that is in the outbox. With db NULL
 * nothing is found. BOTU_OK, or BOTU_EDATA when the store fails.
 */
int	score_match(struct botu_db *, const struct botu_conf *,
	    const struct message *m, const struct bounce_report *r,
	    struct score_match *out);

/*
 * Applies report r about the matched mail (out->outbox_id != 0): counts
 * the failure, changes the member's delivery, ends the membership of a
 * complainer, alerts the organiser. action gets one line saying what is
 * done (with dry, what would be done: nothing is written). BOTU_OK, or an
 * error with err set.
 */
int	score_report(struct botu_db *, const struct botu_conf *,
	    const struct message *m, const struct bounce_report *r,
	    const struct score_match *, int dry, char *action,
	    size_t actionlen, char err[BOTU_ERRLEN]);

/*
 * The SMTP server refused outbox row id for good (reply: its words, code
 * included): counted like a delivery report (deliver.c calls it; the
 * circuit breaker keeps refusals that are about us from coming here).
 */
int	score_refused(struct botu_db *, int64_t outbox_id, const char *reply);

/*
 * Time-driven work, from the daemon's loop: queues the probes that are
 * due and puts members whose probe passed back on. *queued gets the
 * number of mails queued.
 */
int	score_tick(struct botu_db *, const struct botu_conf *, time_t now,
	    int *queued, char err[BOTU_ERRLEN]);

/*
 * The member wrote in (any mail that is neither automatic nor a report):
 * delivery is on again and the score 0. Nothing changes when it was on.
 */
int	score_wrote_in(struct botu_db *, const struct member *,
	    const char *message_id);

/* For botu status: members not on, recent alerts and complaints. */
void	score_status_text(struct botu_db *, const struct botu_conf *,
	    FILE *);
/* The same as a JSON object value ({"bouncing": n, ...}) into out. */
int	score_status_json(struct botu_db *, struct buf *out);

#endif
