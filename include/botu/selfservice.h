/*
 * selfservice.h - members in charge of their own data, by mail alone
 * (GDPR/AVG art. 15-17, 20). What a member can write, as the whole
 * subject or the whole of a short text (classify.h):
 *
 *   "mijn gegevens", "my data"      everything botu keeps about them, as
 *                                   a readable mail and as JSON (my-data)
 *   "vergeet mij", "forget me"      asks to confirm by replying, then
 *                                   erases them (retention_erase); no
 *                                   mail follows, there is nobody to
 *                                   write to
 *   "nieuw adres: x@y",             asks both addresses to confirm by
 *   "new address: x@y"              replying; when both did, the
 *                                   membership moves to x@y with its
 *                                   notes and history
 *   "English please",               the language botu writes to them in
 *   "in het Nederlands graag"
 *   "pauze", "pause"                no digest until "hervat"/"resume";
 *                                   asks to confirm by replying unless
 *                                   the sender is verified (DMARC pass)
 *   "hervat", "resume"              the digest again, as it was
 *
 * Every answer goes to the member's stored address (never to Reply-To,
 * and never to a From that only differs in case), at most three an hour,
 * with at most 50 confirmation codes an hour in all. So a forged From
 * can at most make the real owner receive their own data, a question to
 * confirm, or a changed language they can change back; only a reply with
 * the code sent to the stored address erases, pauses or moves anything
 * (a move also needs the new address's code: the question to the new
 * address is the one answer that does not go to the stored address).
 * The sender must be a member (any status for "mijn gegevens" and
 * "vergeet mij", not one who left for the others); other senders' mail
 * is left for a person.
 * *
 * A pause keeps the member's digest setting in members.paused_digest and
 * sets digest to "off"; "hervat" puts it back.
 */
#ifndef BOTU_SELFSERVICE_H
#define BOTU_SELFSERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "botu/classify.h"
#include "botu/config.h"
#include "botu/db.h"
#include "botu/intake.h"
#include "botu/members.h"
#include "botu/message.h"

/* How long the codes of these requests work. */
#define SELFSERVICE_TOKEN_LIFETIME (7 * 24 * 3600)
/* Answers to one address an hour; codes made an hour in all. */
#define SELFSERVICE_ANSWERS_PER_HOUR 3
#define SELFSERVICE_CODES_PER_HOUR 50

/* What one handled mail gives this module (as notes_mail does). */
struct selfservice_mail {
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
 * INTENT_MY_DATA, INTENT_FORGET, INTENT_ADDRESS, INTENT_LANGUAGE (to
 * c->lang), INTENT_PAUSE, INTENT_RESUME.
 */
int	selfservice_on_mail(struct selfservice_mail *);

/*
 * A reply carrying a code (c->token) of this module: 1 when it was one
 * (d is filled, and d->erase_sender is set when the sender was erased),
 * 0 when not, <0 on error.
 */
int	selfservice_on_token(struct selfservice_mail *);

/*
 * The new address of a change-of-address mail (pure): subject (NULL for
 * a reply or forward) or own words that are nothing but "nieuw adres:
 * x@y", "mijn nieuwe mailadres is x@y", "new address: x@y", "change of
 * address: x@y" (a greeting and a closing aside), or the subject "nieuw
 * adres" with the text only x@y. Returns 'S' (the subject said it), 'B'
 * (the text) or 0; out gets the address (len octets, lower case).
 */
int	selfservice_new_address(const char *subject, const char *own_words,
	    char *out, size_t len);

/*
 * Moves member id to new_address (both confirmed, or the organiser's
 * "botu members set --email"): notes and history stay, delivery starts
 * afresh, a leaver's old record of new_address is erased. In the caller's
 * transaction. BOTU_EPERM with err set when new_address is invalid or
 * belongs to a member or a pending sign-up.
 */
int	selfservice_move(struct botu_db *, int64_t id, const char *new_address,
	    const char *actor, const char *message_id, char err[BOTU_ERRLEN]);

/* Pauses (pause 1) or resumes (0) member id's digest; *changed (may be
 * NULL) gets 1 when that changed anything. */
int	selfservice_pause(struct botu_db *, int64_t id, int pause,
	    const char *actor, const char *message_id, int *changed);

#endif
