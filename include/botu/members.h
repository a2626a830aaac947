/*
 * members.h - the community: who is on the list, in which state, with what
 * consent. Functions change rows and record an event; the caller holds the
 * transaction (db_begin/db_commit) around them.
 */
#ifndef BOTU_MEMBERS_H
#define BOTU_MEMBERS_H

#include <stdint.h>
#include <stdio.h>

#include "botu/db.h"

/*
 * A member as stored. Strings are owned by the struct and released by
 * member_clear(). Enumerated fields hold the words the store uses:
 *   status   pending | active | unsubscribed
 *   delivery on | bouncing | disabled
 *   digest   weekly | monthly | off
 *   language nl | en
 */
struct member {
	int64_t	 id;
	char	*email;
	char	*name;
	char	*role;
	char	*language;
	char	*status;
	char	*delivery;
	char	*digest;
	int	 core;
	int64_t	 consent_at;		/* 0: none recorded */
	char	*consent_channel;	/* how consent was given */
	char	*consent_message_id;
	char	*consent_text_version;	/* the notice they saw */
	int64_t	 created_at;
	int64_t	 updated_at;
	char	*unsub_token;		/* List-Unsubscribe token */
};

void	member_clear(struct member *);

/* 1 if the word is allowed in that field, else 0. */
int	member_valid_status(const char *);
int	member_valid_delivery(const char *);
int	member_valid_digest(const char *);
int	member_valid_language(const char *);

/*
 * Looks up a member by address (case-insensitive). Returns 1 and fills *out
 * when found, 0 when not, BOTU_EDATA on a database error.
 */
int	members_get(struct botu_db *, const char *email, struct member *out);

/* The same by row id, and by List-Unsubscribe token. */
int	members_get_id(struct botu_db *, int64_t id, struct member *out);
int	members_get_unsub(struct botu_db *, const char *token,
	    struct member *out);

/*
 * Adds a member from the fields of m that are set (NULL: the default);
 * m->email is required. Someone who left (unsubscribed) is taken back on
 * the same row with the new status and consent. Sets m->id. BOTU_EDATA with
 * err set when the address is invalid or already pending or active.
 */
int	members_add(struct botu_db *, struct member *m, const char *actor,
	    const char *message_id, char err[BOTU_ERRLEN]);

/*
 * Ends a membership: status unsubscribed, the row kept (consent history).
 * BOTU_EPERM with err set when there is no such member or they already left.
 */
int	members_remove(struct botu_db *, const char *email,
	    const char *actor, const char *message_id, char err[BOTU_ERRLEN]);

/*
 * Changes a member's status (pending, active, unsubscribed) and records
 * why: kind names the event ("confirm", "unsubscribe"), detail adds to it.
 */
int	members_set_status(struct botu_db *, int64_t id, const char *status,
	    const char *kind, const char *actor, const char *message_id,
	    const char *detail);

/*
 * Changes a member's delivery (on, bouncing, disabled: score.h decides)
 * and records why, like members_set_status().
 */
int	members_set_delivery(struct botu_db *, int64_t id,
	    const char *delivery, const char *kind, const char *actor,
	    const char *message_id, const char *detail);

/* Records consent as given now: how, by which mail, after which notice. */
int	members_set_consent(struct botu_db *, int64_t id, const char *channel,
	    const char *message_id, const char *text_version);

/*
 * Changes what is shown of a member: name, role, language (NULL: keep)
 * and core (-1: keep); records a "profile" event naming what changed.
 * The caller validates the values (role against [notes] roles).
 */
int	members_set_profile(struct botu_db *, int64_t id, const char *name,
	    const char *role, const char *language, int core,
	    const char *actor, const char *message_id);

/*
 * Erases a member (GDPR/AVG art. 17): the row, its events, codes and
 * notes, every mail to them in the outbox (queued or sent), and their
 * address and subjects in the record of handled mail. One event without
 * the address says that someone was forgotten. *id gets the row's id.
 * BOTU_EPERM with err set when there is no such member.
 */
int	members_forget(struct botu_db *, const char *email, const char *actor,
	    int64_t *id, char err[BOTU_ERRLEN]);

/* Counts per status, for status screens. */
int	members_count(struct botu_db *, const char *status, int64_t *out);
/* Members (not unsubscribed) whose delivery is bouncing, disabled. */
int	members_count_delivery(struct botu_db *, int64_t *bouncing,
	    int64_t *disabled);

enum members_format { MEMBERS_TEXT, MEMBERS_JSON, MEMBERS_CSV };

/*
 * Writes the members (only those with status, when not NULL) ordered by
 * address. JSON: one array of objects with every stored field; CSV: a
 * header line, then RFC 4180 rows; TEXT: aligned columns for people.
 */
int	members_write(struct botu_db *, FILE *, enum members_format,
	    const char *status);

#endif
