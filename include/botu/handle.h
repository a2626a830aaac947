/*
 * handle.h - what botu does with a mail it understood: sign-ups with
 * double opt-in, confirmations, leaving, help. Every change and every mail
 * to send happens through the store inside the caller's transaction
 * (intake holds it), so a crash loses neither. Answers go to the From
 * address (never Reply-To), in the language of the mail, with
 * In-Reply-To/References, and are limited per sender; sign-up
 * confirmations are capped per hour overall (forged sign-up waves).
 */
#ifndef BOTU_HANDLE_H
#define BOTU_HANDLE_H

#include "botu/classify.h"
#include "botu/config.h"
#include "botu/db.h"
#include "botu/intake.h"
#include "botu/message.h"

/* Answers to one sender per hour, and sign-up codes overall per hour. */
#define HANDLE_ANSWERS_PER_HOUR 3
#define HANDLE_CONFIRMS_PER_HOUR 50
/* The version of the privacy notice in the confirmation mails. */
#define HANDLE_PRIVACY_VERSION "2026-11"

/*
 * Classifies msg and, unless dry_run, acts on it. db may be NULL (botu
 * explain without a configuration): the sender is then unknown and d only
 * describes what would happen. c gets the classification (release it with
 * classification_clear()).
 */
int	handle_decide(const struct botu_conf *, struct botu_db *,
	    const struct message *, int dry_run, struct classification *c,
	    struct intake_decision *d, char err[BOTU_ERRLEN]);

/* The intake callback: arg is the const struct botu_conf *. */
int	handle_message(void *arg, struct botu_db *, const struct message *,
	    int dry_run, struct intake_decision *, char err[BOTU_ERRLEN]);

#endif
