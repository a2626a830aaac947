/*
 * mailout.h - one templated mail to one person, composed and stored in the
 * outbox in the caller's transaction. Every template gets the list's own
 * variables on top of the caller's:
 *   list_name, list_address, list_id, organizer_name ([meetings]
 *   organizer_name, when set), help_address, subscribe_address,
 *   unsubscribe_address (the person's own token address when given),
 *   ps_address, update_address
 */
#ifndef BOTU_MAILOUT_H
#define BOTU_MAILOUT_H

#include <stdint.h>
#include <time.h>

#include "botu/compose.h"
#include "botu/config.h"
#include "botu/db.h"
#include "botu/template.h"

struct mailout {
	const char	*to;
	const char	*to_name;	/* NULL: none */
	const char	*lang;		/* the person's; NULL: the list's */
	const char	*template;	/* e.g. "confirm-subscribe" */
	const char	*kind;		/* the outbox kind, e.g. "confirm" */
	int64_t		 member_id;	/* 0: none */
	const char	*in_reply_to;	/* Message-ID of the mail answered */
	const char	*references;	/* its References header */
	const char	*reply_to;	/* NULL: none */
	const char	*unsubscribe;	/* the person's token address */
	enum compose_auto auto_submitted;
	int		 ordered;
	time_t		 expires_at;	/* 0: the outbox default */
	int64_t		*outbox_id;	/* not NULL: gets the outbox row */
	const struct compose_part *parts; /* extra parts (an invitation's
					   text/calendar), may be NULL */
	size_t		 nparts;
};

/*
 * Renders, composes and queues; the row gets a VERP envelope sender when
 * verp_enabled() (verp.h). vars may be NULL; the list's variables are
 * added to it. BOTU_EDATA with err set when the template or an address is
 * wrong, or the store refuses the row.
 */
int	mailout_queue(struct botu_db *, const struct botu_conf *,
	    const struct mailout *, struct tmpl_vars *vars,
	    char err[BOTU_ERRLEN]);

/*
 * A mail to one person about a member's business (a note, an update):
 * the member's moderators and authors. Empty strings count as none.
 */
struct mailout_person {
	const char	*to;
	const char	*to_name;
	const char	*lang;
	const char	*tmpl;
	const char	*kind;		/* the outbox kind */
	int64_t		 member_id;	/* whom it is about; 0: nobody */
	const char	*reply_to;
	const char	*in_reply_to;
	const char	*references;
	int		 auto_generated; /* 0: an answer (auto-replied) */
};

/*
 * mailout_queue() for p, ordered, with member_id's own unsubscribe
 * address when that member is active.
 */
int	mailout_person(struct botu_db *, const struct botu_conf *,
	    const struct mailout_person *p, struct tmpl_vars *vars,
	    char err[BOTU_ERRLEN]);

/* Every template the code sends, NULL-terminated: botu check renders
 * each in every language. */
extern const char *const mailout_templates[];

/*
 * Renders every mail of mailout_templates in every language from the
 * configured templates, as a check. BOTU_OK with *n the number rendered,
 * or BOTU_EDATA with err naming the file and what is wrong.
 */
int	mailout_check(const struct botu_conf *, int *n, char err[BOTU_ERRLEN]);

/* Adds the list's own variables (above) to vars. */
void	mailout_list_vars(const struct botu_conf *, struct tmpl_vars *,
	    const char *unsubscribe);

#endif
