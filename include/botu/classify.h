/*
 * classify.h - what a mail means, as a pure function of the parsed message,
 * the configuration and what the store knows about the sender. No I/O.
 *
 * The order matters (DESIGN.md): first what botu owns (its own mail coming
 * back, a delivery report, an answer to an invitation); then anything
 * automatic, which is never answered and may never confirm, subscribe or
 * publish; then token addresses; then human commands, precision before
 * recall: the mailbox is a person's inbox, so a command counts only on a
 * plus-address, as the whole subject, or as the whole of a short text once
 * quotes, attributions, greetings and signatures are stripped.
 */
#ifndef BOTU_CLASSIFY_H
#define BOTU_CLASSIFY_H

#include "botu/config.h"
#include "botu/message.h"

enum intent {
	INTENT_LEAVE_ALONE = 0,
	INTENT_SUBSCRIBE,
	INTENT_CONFIRM,
	INTENT_UNSUBSCRIBE,
	INTENT_HELP,
	INTENT_NOTE,
	INTENT_NOTE_QUESTION,
	INTENT_UPDATE,
	INTENT_RSVP,
	INTENT_BOUNCE,
	INTENT_AUTOMATIC,
	INTENT_PROFILE,		/* "naam: ...", "rol: ..." from a member */
	INTENT_WITHDRAW,	/* "PS intrekken", "withdraw my note" */
};

/* The intent's name as explain and the logs show it ("leave-alone"). */
const char *intent_name(enum intent);

/* How the intent reached botu. */
enum channel {
	CHANNEL_NONE = 0,
	CHANNEL_HEADERS,	/* automatic mail, reports, invitations */
	CHANNEL_TOKEN_ADDRESS,	/* +bevestig-TOKEN, +afmelden-TOKEN */
	CHANNEL_SUBJECT_TOKEN,	/* "[TOKEN]" in the subject of a reply */
	CHANNEL_PLUS_ADDRESS,	/* +aanmelden, +help, ... */
	CHANNEL_SUBJECT,	/* the whole subject is the command */
	CHANNEL_BODY,		/* the whole short text is the command */
};

/* The channel's name as explain shows it ("plus-address"). */
const char *channel_name(enum channel);

/* What the store knows about the sender; NULL: an unknown sender. */
struct sender_facts {
	const char	*status;	/* pending, active, unsubscribed */
	const char	*language;	/* nl or en */
};

struct classification {
	enum intent	 intent;
	enum channel	 channel;
	int		 lang;		/* enum conf_language of the answer */
	char		 token[32];	/* for token channels, else "" */
	char		 rule[200];	/* what decided, in one line */
	char		*own_words;	/* the text botu read (owned) */
};

void	classify(const struct botu_conf *, const struct message *,
	    const struct sender_facts *, struct classification *out);
void	classification_clear(struct classification *);

/* 1 when s is a token as botu makes them: 26 characters of [a-z2-7]. */
int	classify_is_token(const char *s);

#endif
