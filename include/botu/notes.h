/*
 * notes.h - PS notes ("Persoonlijke Samenwerkingsnoot"): one paragraph per
 * member about why they take part, what they find important and what you
 * can call them for. Together they are the waaier (waaier.h).
 *
 * The way of a note, each step by mail (or by the organiser's command):
 *
 *   a member's mail to +ps, or with subject "PS-noot" ──► unconfirmed
 *       the author gets the exact text, name, role and where it appears,
 *       and confirms by replying (the code proves the mail reached them,
 *       so a forged From never publishes anything)
 *   ──► pending: each moderator gets the note as it will look; the first
 *       "akkoord"/"ok"/"approve" publishes, "afwijzen"/"reject REASON"
 *       tells the author kindly; a reminder after three days
 *       ([notes] moderation = no: published at once)
 *   ──► published: the newest published note of a member replaces the
 *       older one (replaced); "PS intrekken" withdraws it (withdrawn)
 *
 * A note from someone who is not a member yet waits (waiting) with their
 * sign-up and moves on only when they confirm it. Every version stays in
 * the store (history) until the member is forgotten.
 *
 * Functions that change the store run inside the caller's transaction.
 */
#ifndef BOTU_NOTES_H
#define BOTU_NOTES_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "botu/classify.h"
#include "botu/config.h"
#include "botu/db.h"
#include "botu/intake.h"
#include "botu/members.h"
#include "botu/message.h"

/* Moderators are reminded once, this long after the author confirmed. */
#define NOTES_REMIND_AFTER (3 * 24 * 3600)
/* How long a note's codes (author, moderator, withdrawal) work. */
#define NOTES_TOKEN_LIFETIME (30 * 24 * 3600)
/* The longest name shown with a note, in characters. */
#define NOTES_MAX_NAME 80

/* A stored note; strings owned, released by note_clear(). */
struct note {
	int64_t	 id;
	int64_t	 member_id;
	char	*email;		/* the author's address */
	char	*language;	/* the author's language */
	char	*body;
	char	*name;
	char	*role;
	char	*status;	/* waiting unconfirmed pending published
				   rejected replaced withdrawn */
	char	*decided_by;	/* who approved, rejected or withdrew */
	char	*reason;	/* a rejection's reason */
	int64_t	 created_at;
	int64_t	 confirmed_at;	/* 0: not yet */
	int64_t	 decided_at;
	int64_t	 published_at;
};

void	note_clear(struct note *);

/* ---- reading what people write (pure) ---- */

/*
 * What a mail says as a note: body is the text without quotes,
 * attributions, signature, greeting, closing and a leading "Hier is mijn
 * PS-noot:"; lines "naam: ..."/"name: ..." and "rol: ..."/"role: ..." at
 * its start or end are taken out into name and role (NULL when absent).
 * All owned; release with note_text_clear().
 */
struct note_text {
	char	*body;
	char	*name;
	char	*role;
};

void	notes_extract(const char *mail_text, struct note_text *out);
void	note_text_clear(struct note_text *);

/*
 * 1 when the own words are nothing but "naam:"/"rol:" lines (after a
 * greeting and before a closing), with out filled (body ""); else 0.
 */
int	notes_profile_lines(const char *own_words, struct note_text *out);

/* Characters (not octets) of a UTF-8 text. */
size_t	notes_length(const char *);

enum note_verdict {
	NOTE_VERDICT_NONE = 0,
	NOTE_VERDICT_APPROVE,	/* akkoord, ok, oké, approve, goedgekeurd */
	NOTE_VERDICT_REJECT,	/* afwijzen, reject (+ the reason) */
};

/*
 * A moderator's answer: its first unquoted word (after a greeting).
 * *reason (owned, may be "") gets the text after a rejection word.
 */
enum note_verdict notes_verdict(const char *own_words, char **reason);

/*
 * The configured role that role names (case-insensitive), or NULL when
 * it is none of [notes] roles. Borrowed from the configuration.
 */
const char *notes_role(const struct botu_conf *, const char *role);

/* The roles as one line: "bewoner, gemeente, ..." (owned). */
char	*notes_roles_line(const struct botu_conf *);

/* ---- mail: called by handle.c inside the intake transaction ---- */

/* What one handled mail gives the notes module. */
struct notes_mail {
	const struct botu_conf	*conf;
	struct botu_db		*db;	/* NULL: describe only */
	const struct message	*msg;
	const struct classification *c;
	const struct member	*sender; /* NULL: unknown sender */
	int			 dry;	/* decide and describe only */
	struct intake_decision	*d;	/* act, action, reason */
	char			*err;	/* BOTU_ERRLEN */
};

/*
 * INTENT_NOTE. From an active member: the author is asked to confirm
 * (or told why not: empty, too long). From anyone else with a usable
 * note: returns NOTES_SIGNUP and decides nothing; the caller starts the
 * sign-up and then calls notes_hold().
 */
#define NOTES_SIGNUP 1
int	notes_on_note(struct notes_mail *);

/* Keeps the note of a mail for member_id until their sign-up is
 * confirmed (notes_after_signup()). */
int	notes_hold(struct notes_mail *, int64_t member_id);

/* INTENT_NOTE_QUESTION: asks "is this your PS note?", leaves the mail. */
int	notes_on_question(struct notes_mail *);

/* INTENT_PROFILE: "naam: ...", "rol: ..." from a member. */
int	notes_on_profile(struct notes_mail *);

/* INTENT_WITHDRAW: "PS intrekken", "withdraw note". */
int	notes_on_withdraw(struct notes_mail *);

/*
 * A reply carrying a code (c->token) that is not a sign-up code: the
 * author's consent, a moderator's verdict or a withdrawal. 1 when the
 * code is one of the notes' (d is filled), 0 when not, <0 on error.
 */
int	notes_on_token(struct notes_mail *);

/*
 * After member m confirmed their sign-up: a note that waited for it is
 * sent to them to confirm. in_reply_to: the confirming mail, or NULL.
 */
int	notes_after_signup(struct botu_db *, const struct botu_conf *,
	    const struct member *m, const char *in_reply_to,
	    char err[BOTU_ERRLEN]);

/* ---- the organiser (botu notes) ---- */

/* 1 and *out when note id exists, 0 when not, BOTU_EDATA on error. */
int	notes_get(struct botu_db *, int64_t id, struct note *out);

/*
 * Publishes (approve) or rejects a pending note as actor ("cli", or a
 * moderator's address) and tells the author. BOTU_EPERM with err set
 * when the note is not waiting for a moderator (err names who decided).
 */
int	notes_approve(struct botu_db *, const struct botu_conf *, int64_t id,
	    const char *actor, const char *message_id,
	    char err[BOTU_ERRLEN]);
int	notes_reject(struct botu_db *, const struct botu_conf *, int64_t id,
	    const char *actor, const char *reason, const char *message_id,
	    char err[BOTU_ERRLEN]);

/*
 * Withdraws the member's published (and any unfinished) notes. *n gets
 * how many were published. Marks the waaier for a rewrite.
 */
int	notes_withdraw(struct botu_db *, int64_t member_id, const char *actor,
	    const char *message_id, int *n);

/* Erases every note of the member (botu members forget). */
int	notes_forget(struct botu_db *, int64_t member_id, int *published);

/*
 * Writes the notes (only those with status, when not NULL), newest first:
 * a table for people, or a JSON array.
 */
int	notes_write(struct botu_db *, FILE *, int json, const char *status);
int	notes_valid_status(const char *);

/* How many notes have status, for status screens and summaries. */
int	notes_count(struct botu_db *, const char *status, int64_t *n);

/* Published notes, one per member, for the waaier and the digest. */
typedef int notes_each_cb(const struct note *, void *arg);
int	notes_each_published(struct botu_db *, notes_each_cb *, void *arg);

/*
 * What the daemon does now and then, each in its own transaction: one
 * reminder to the moderators of a note pending for NOTES_REMIND_AFTER,
 * and a new waaier page when a note was published or withdrawn. Logs
 * what fails.
 */
void	notes_tick(const struct botu_conf *, struct botu_db *, time_t now);

/* Marks the waaier page out of date (a state key), in the transaction. */
int	notes_waaier_stale(struct botu_db *);

#endif
