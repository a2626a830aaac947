/*
 * consent.h - codes for a thing that waits for a reply: its author's
 * consent or a moderator's verdict. PS notes (notes.c) and updates
 * (posts.c) share this flow; each keeps its own table of codes
 * (note_tokens, post_tokens) and its own mail texts (templates).
 *
 * A code is a token (token.h) in the reply address (addr_token(conf,
 * ADDR_CONFIRM, token)), of one kind: "author", "moderator" (one per
 * moderator) or, for notes, "withdraw". It works until it expires or is
 * used; a moderator's used code still answers ("already decided").
 */
#ifndef BOTU_CONSENT_H
#define BOTU_CONSENT_H

#include <stdint.h>
#include <time.h>

#include "botu/config.h"
#include "botu/db.h"
#include "botu/intake.h"
#include "botu/template.h"

/* What waits: it names the table of codes and the answers to count. */
enum consent_thing {
	CONSENT_NOTE,	/* note_tokens; note-confirm, -answer, -withdraw */
	CONSENT_POST	/* post_tokens; update-answer */
};

/* One stored code. */
struct consent_token {
	char	 kind[16];
	int64_t	 id;		/* the note's or update's */
	char	 address[256];	/* whom it was sent to */
	time_t	 expires_at;
	time_t	 used_at;	/* 0: not used */
};

/*
 * Stores a new code of kind for thing id, sent to address, working until
 * expires. *token gets it (owned), NULL on error; BOTU_OK or BOTU_EDATA.
 */
int	consent_token_create(struct botu_db *, enum consent_thing,
	    const char *kind, int64_t id, const char *address, time_t expires,
	    char **token);

/* Every unused code of thing id of kind stops working (NULL: all kinds). */
int	consent_tokens_use(struct botu_db *, enum consent_thing, int64_t id,
	    const char *kind);

/*
 * The first look at a code in a reply: 0 when it is not one of thing's,
 * < 0 on error. 1 with d filled when nothing more is to be done: the code
 * was used before (and is not a moderator's) or has expired. 2 and *t
 * when the caller goes on with the code.
 */
int	consent_token_open(struct botu_db *, enum consent_thing,
	    const char *token, struct intake_decision *d,
	    struct consent_token *t);

/*
 * Fills d: act, reason (NULL: left as it is) and the action, a printf
 * format.
 */
void	consent_decide(struct intake_decision *d, int act, const char *reason,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * 1 when rcpt had fewer than max answers about thing in the last hour
 * (mail loops and floods stay small); 1 as well when db is NULL.
 */
int	consent_may_answer(struct botu_db *, enum consent_thing,
	    const char *rcpt, int max);

/* Sets template variable name to t as a long date in lang, list's zone. */
void	consent_set_date(const struct botu_conf *, struct tmpl_vars *,
	    const char *name, time_t t, const char *lang);

/*
 * What to ask each moderator (consent_ask_moderators()): vars() sets the
 * thing's own variables (arg is the caller's); the code is added as
 * "token".
 */
struct consent_ask {
	enum consent_thing thing;
	int64_t		 id;
	time_t		 expires;
	const char	*tmpl;	/* the template */
	const char	*kind;	/* the outbox kind */
	void		(*vars)(struct tmpl_vars *, const struct botu_conf *,
			    const void *arg);
	const void	*arg;
};

/*
 * Sends the thing to each moderator in [list] moderators, in the list's
 * language, each with a "moderator" code of their own as reply address.
 * BOTU_OK, or an error with err filled.
 */
int	consent_ask_moderators(struct botu_db *, const struct botu_conf *,
	    const struct consent_ask *, char err[BOTU_ERRLEN]);

/*
 * The gate for a moderator's reply about what ("a note", "an update"):
 * 1 when from is one of [list] moderators and the reply has a verdict
 * (akkoord or afwijzen, notes_verdict()); else 0 with d filled, to leave
 * the mail for a person.
 */
int	consent_moderator_may(struct intake_decision *d,
	    const struct botu_conf *, const char *from, const char *what,
	    int has_verdict);

/*
 * For the organiser's approve and reject of what ("note", "update") id:
 * found is what its _get() returned (1, 0, < 0), status and decided_by
 * its own when found is 1. BOTU_OK when it waits for a moderator; else
 * err is filled and BOTU_EPERM ("there is no note 3", "note 3 is
 * published already (by x)"), or BOTU_EDATA when found < 0.
 */
int	consent_pending(struct botu_db *, int found, const char *what,
	    int64_t id, const char *status, const char *decided_by,
	    char err[BOTU_ERRLEN]);

#endif
