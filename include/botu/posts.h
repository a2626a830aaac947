/*
 * posts.h - updates: what the core team and the moderators share with
 * every member, in the next digest (digest.h).
 *
 * By mail, to +update or with a subject that starts with "[update]":
 *
 *   from a moderator ([list] moderators) or an active core-team member
 *   (members.core) whose mail a trusted Authentication-Results header
 *   shows as dmarc=pass (authres.h) ──► published at once
 *
 *   from anyone else, or without that header ──► unconfirmed: the sender
 *       gets the exact text with a code and confirms by replying (the code
 *       proves the mail reached the real address, so a forged From never
 *       publishes anything)
 *   ──► a moderator or core member's update is published; anyone else's
 *       is pending: each moderator gets it with a code of their own, and
 *       the first "akkoord"/"ok" publishes, "afwijzen REASON" rejects it
 *
 * Attachments are never forwarded: the sender is told. The organiser
 * posts with `botu post`, published at once. A published update goes
 * into the first digest issue made after it.
 *
 * Functions that change the store run inside the caller's transaction.
 */
#ifndef BOTU_POSTS_H
#define BOTU_POSTS_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "botu/classify.h"
#include "botu/config.h"
#include "botu/db.h"
#include "botu/intake.h"
#include "botu/members.h"
#include "botu/message.h"

/* How long the codes of an update (sender, moderators) work. */
#define POSTS_TOKEN_LIFETIME (14 * 24 * 3600)
/* The longest update in characters: a longer text is cut (and the sender
 * sees the cut text before it is published). */
#define POSTS_MAX_LENGTH 4000
/* The longest title (the subject) in characters. */
#define POSTS_MAX_TITLE 200

/* A stored update; strings owned, released by post_clear(). */
struct post {
	int64_t	 id;
	int64_t	 member_id;	/* 0: not a member (a moderator, the CLI) */
	char	*author;	/* the sender's address; "" for the CLI */
	char	*name;		/* the name shown with it; may be "" */
	char	*subject;	/* the title; may be "" */
	char	*body;
	char	*status;	/* unconfirmed pending published rejected */
	char	*decided_by;
	char	*reason;
	int64_t	 created_at;
	int64_t	 confirmed_at;
	int64_t	 published_at;
};

void	post_clear(struct post *);

/*
 * What a mail says as an update (pure): *title is the subject without a
 * leading "[update]", *body the sender's own words without quotes,
 * signature, greeting and closing, cut at POSTS_MAX_LENGTH characters at a
 * word (*shortened 1 then). Both owned.
 */
void	posts_extract(const char *subject, const char *text, char **title,
	    char **body, int *shortened);

/* What one handled mail gives this module (as notes.h has it). */
struct posts_mail {
	const struct botu_conf	*conf;
	struct botu_db		*db;	/* NULL: describe only */
	const struct message	*msg;
	const struct classification *c;
	const struct member	*sender; /* NULL: unknown sender */
	int			 dry;
	struct intake_decision	*d;
	char			*err;	/* BOTU_ERRLEN */
};

/* INTENT_UPDATE: publish, ask the sender to confirm, or leave it. */
int	posts_on_update(struct posts_mail *);

/*
 * A reply carrying a code (c->token): the sender's confirmation or a
 * moderator's verdict. 1 when the code is an update's (d is filled), 0
 * when not, < 0 on error.
 */
int	posts_on_token(struct posts_mail *);

/* ---- the organiser (botu post) ---- */

/*
 * Publishes an update now, as the organiser ("cli"); name is shown with
 * it ("" for none). *id gets its number.
 */
int	posts_add(struct botu_db *, const char *subject, const char *body,
	    const char *name, int64_t *id, char err[BOTU_ERRLEN]);

/*
 * A moderator's decision on a pending update, by actor ("cli" or an
 * address); the sender is told. BOTU_EPERM with err set when the update
 * is not waiting for a moderator.
 */
int	posts_approve(struct botu_db *, const struct botu_conf *, int64_t id,
	    const char *actor, const char *message_id,
	    char err[BOTU_ERRLEN]);
int	posts_reject(struct botu_db *, const struct botu_conf *, int64_t id,
	    const char *actor, const char *reason, const char *message_id,
	    char err[BOTU_ERRLEN]);

/* 1 and *out when update id exists, 0 when not, BOTU_EDATA on error. */
int	posts_get(struct botu_db *, int64_t id, struct post *out);

/* The updates (only those with status, when not NULL), newest first. */
int	posts_write(struct botu_db *, FILE *, int json, const char *status);
int	posts_valid_status(const char *);

/*
 * Updates published in (from, to], oldest first, for the digest. The
 * callback returns 0 to go on; anything else stops and is returned.
 */
typedef int posts_each_cb(const struct post *, void *arg);
int	posts_each_published(struct botu_db *, time_t from, time_t to,
	    posts_each_cb *, void *arg);

#endif
