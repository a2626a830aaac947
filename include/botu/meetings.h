/*
 * meetings.h - meetings of the community and their invitations: each
 * member of the meeting's audience (all members, or the core team) gets
 * the meeting as an invitation in their own calendar (ical.h), follows its
 * changes, and answers with their calendar's buttons (rsvp.h).
 *
 * Every member gets their own copy of the meeting, with a UID of its own
 * ("botu-<meeting>-<128 random bits>@<list domain>"): a REPLY names the
 * member by its UID alone, whatever address it comes from, and nobody can
 * answer for someone else without their invitation. Per member the store
 * keeps the SEQUENCE last sent to them, so what each member should get is
 * worked out again whenever anything changes (meetings_sync()):
 *
 *   in the audience, active, delivery on, meeting upcoming:
 *       no copy yet (or one withdrawn)  -> REQUEST  (kind "invite")
 *       an older SEQUENCE               -> REQUEST  (kind "invite-update")
 *   left the audience (update --audience core)   -> CANCEL ("invite-cancel")
 *   meeting cancelled, copy not yet cancelled     -> CANCEL ("invite-cancel")
 *
 * Members who left, or whose mail bounces (delivery not "on"), get no
 * list mail; they catch up when they come back. Every mail is queued in
 * the outbox in the caller's transaction, ordered after earlier mail to the
 * same member (an update never overtakes its invitation), and expires at
 * the meeting's start. A change of time or place raises the "answer
 * sequence": answers given before it no longer count (RFC 5546 §2.1.5:
 * the attendee is asked again), and reminders go again.
 *
 * Reminders: [meetings] reminder_hours before the start, once, to those
 * who accepted or did not answer, if their copy was sent before then.
 */
#ifndef BOTU_MEETINGS_H
#define BOTU_MEETINGS_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "botu/config.h"
#include "botu/db.h"
#include "botu/template.h"

/* Longest title, and description, in octets. */
#define MEETINGS_MAX_TITLE 200
#define MEETINGS_MAX_TEXT 20000

/* A meeting as stored; strings owned, released by meeting_clear(). */
struct meeting {
	int64_t	 id;
	char	*title;
	char	*location;	/* "" when none */
	char	*description;	/* "" when none */
	time_t	 start_at;
	time_t	 end_at;
	char	*audience;	/* all | core */
	char	*status;	/* planned | cancelled */
	int	 sequence;	/* RFC 5545 SEQUENCE of the latest version */
	int	 answer_sequence; /* SEQUENCE of the last change of time or
				   place: answers to older ones don't count */
	char	*result;	/* the agreement reached, "" when none */
	time_t	 result_at;	/* 0: none */
	time_t	 created_at;
	time_t	 updated_at;
};

void	meeting_clear(struct meeting *);

/*
 * Adds a meeting from m's title, location, description (NULL: ""),
 * start_at, end_at and audience (NULL: "all"), and queues the invitations;
 * sets m->id. actor ("cli") goes into the events. *queued (may be NULL)
 * gets the number of mails queued. BOTU_EDATA with err set when a field
 * is wrong (empty or long title, end not after start, start past, unknown
 * audience) or the store fails.
 */
int	meetings_add(struct botu_db *, const struct botu_conf *,
	    struct meeting *m, const char *actor, int *queued,
	    char err[BOTU_ERRLEN]);

/* What meetings_update() changes: NULL or 0 keeps a field. */
struct meeting_change {
	const char	*title;
	const char	*location;
	const char	*description;
	const char	*audience;
	time_t		 start_at;
	time_t		 end_at;
};

/*
 * Changes a planned, upcoming meeting: SEQUENCE + 1 and an update to every
 * member who has a copy (and invitations or cancellations where the
 * audience changed). A new time or place (start, end, location) also makes
 * earlier answers void. Nothing changed: BOTU_OK and nothing is sent.
 * BOTU_EPERM with err set when there is no such meeting, or it is
 * cancelled or over; BOTU_EDATA for a bad field.
 */
int	meetings_update(struct botu_db *, const struct botu_conf *,
	    int64_t id, const struct meeting_change *, const char *actor,
	    int *queued, char err[BOTU_ERRLEN]);

/*
 * Cancels a meeting: status cancelled, SEQUENCE + 1, a METHOD:CANCEL to
 * everyone who has a copy (if it has not begun). BOTU_EPERM with err set
 * when there is no such meeting or it is cancelled already.
 */
int	meetings_cancel(struct botu_db *, const struct botu_conf *,
	    int64_t id, const char *actor, int *queued,
	    char err[BOTU_ERRLEN]);

/*
 * Records text as the result (the agreement) of meeting id, replacing an
 * earlier one; the digest shows it (meetings_digest_agreements()). BOTU_EPERM
 * when there is no such meeting, BOTU_EDATA for an empty or long text.
 */
int	meetings_result(struct botu_db *, int64_t id, const char *text,
	    const char *actor, char err[BOTU_ERRLEN]);

/* 1 and *out filled when meeting id exists, 0 when not, BOTU_EDATA. */
int	meetings_get(struct botu_db *, int64_t id, struct meeting *out);

/*
 * Queues what members are owed for meeting id (0: every upcoming or
 * cancelled meeting), only for member_id when not 0, at now (table
 * above). Idempotent: a second call queues nothing. For members who join
 * (or come back, or join the core team) later.
 */
int	meetings_sync(struct botu_db *, const struct botu_conf *,
	    int64_t id, int64_t member_id, time_t now, int *queued,
	    char err[BOTU_ERRLEN]);

/*
 * The daemon's pass at now: reminders that are due, then meetings_sync()
 * for everything (a member may have joined the core team, or be back
 * from bouncing). *queued gets the mails queued; *next when the next
 * reminder is due (0: none planned). In the caller's transaction.
 */
int	meetings_tick(struct botu_db *, const struct botu_conf *, time_t now,
	    int *queued, time_t *next, char err[BOTU_ERRLEN]);

/* An invitation: one member's copy of a meeting. Strings owned. */
struct meeting_invite {
	int64_t	 id;
	int64_t	 meeting_id;
	int64_t	 member_id;
	char	*uid;
	char	*email;		/* the ATTENDEE address it went to */
	int	 sequence;	/* the last version sent to them */
	int	 cancelled;	/* their copy is cancelled */
	char	*partstat;	/* NEEDS-ACTION until they answer */
	char	*comment;
	time_t	 answered_at;	/* 0: never */
	time_t	 answer_stamp;	/* DTSTAMP of the answer recorded */
};

void	meeting_invite_clear(struct meeting_invite *);

/*
 * The invitation with this UID (case-insensitive): 1 with *out filled, 0
 * when botu issued no such UID, BOTU_EDATA on a store error.
 */
int	meetings_invite_by_uid(struct botu_db *, const char *uid,
	    struct meeting_invite *out);

/*
 * Records an answer to invitation id: PARTSTAT (upper case), COMMENT,
 * the reply's SEQUENCE and DTSTAMP; an event for the member names the
 * meeting, the answer and from which address and mail it came.
 */
int	meetings_record_answer(struct botu_db *, int64_t id,
	    const char *partstat, const char *comment, int sequence,
	    time_t stamp, const char *from, const char *message_id);

/*
 * botu meeting list: every meeting, by start. JSON: an array of objects
 * with id, title, start and end (ISO 8601 with the list zone's offset),
 * location, audience, status, sequence, invited, accepted, declined,
 * tentative, no_answer. TEXT: a line each, for people.
 */
int	meetings_write_list(struct botu_db *, const struct botu_conf *,
	    FILE *, int json);

/*
 * botu meeting show: the meeting (the list's fields plus description,
 * result, result_at) and who was invited with their answers (attendees:
 * email, name, partstat, comment, answered_at). BOTU_EPERM: no such id.
 */
int	meetings_write_show(struct botu_db *, const struct botu_conf *,
	    int64_t id, FILE *, int json);

/*
 * For the digest (or anyone who lists what is coming): the planned
 * meetings that start after now, soonest first, at most limit (0: no
 * limit), in *out (owned; release with meetings_free(*out, *n)). BOTU_OK,
 * or BOTU_EDATA when the store fails (*out NULL, *n 0).
 */
int	meetings_upcoming(struct botu_db *, time_t now, size_t limit,
	    struct meeting **out, size_t *n);
void	meetings_free(struct meeting *, size_t n);

/*
 * The digest's sections (digest_fill_fn in digest.h), in language lang
 * and the list's time zone.
 *   meetings_digest_upcoming: list "meetings" of the planned meetings
 *     that start after to, soonest first, at most 10, each with title,
 *     when (date_format(DATE_LONG)) and where (unset when none); those
 *     planned in (from, to] count in *items.
 *   meetings_digest_agreements: list "agreements" of the results
 *     recorded (botu meeting result) in (from, to], each with text,
 *     meeting (its title) and when (its day); each counts in *items.
 */
int	meetings_digest_upcoming(struct botu_db *, const struct botu_conf *,
	    time_t from, time_t to, const char *lang, struct tmpl_vars *vars,
	    int *items);
int	meetings_digest_agreements(struct botu_db *,
	    const struct botu_conf *, time_t from, time_t to, const char *lang,
	    struct tmpl_vars *vars, int *items);

#endif
