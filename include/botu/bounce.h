/*
 * bounce.h - delivery reports read: which recipients failed, how badly, and
 * which mail came back. A pure function of the parsed message, like
 * classify.h; whether the report is about botu's own mail (a VERP address,
 * a Message-ID from the outbox) and what follows from it is score.h's.
 *
 * Formats: RFC 3464 delivery status notifications (message/delivery-status,
 * per-recipient blocks), RFC 5965 ARF complaints (message/feedback-report),
 * and the common plain-text formats of MTAs that predate RFC 3464 or ignore
 * it (qmail and Yahoo, Exim, old Postfix and Sendmail, Exchange and
 * GroupWise, Domino, SMTP32/IMail, MDaemon, AOL, ...). Precision before
 * recall: an address counts only where the report says it failed, never
 * from the copy of the returned mail, and delay warnings, challenge-response
 * requests and auto-replies yield nothing.
 */
#ifndef BOTU_BOUNCE_H
#define BOTU_BOUNCE_H

#include <stddef.h>

#include "botu/message.h"

/*
 * What a failure means for the member it names:
 *   hard       the address is gone (5.1.1, 5.1.2, 5.1.3, 5.1.6, 5.1.10,
 *              5.2.1, or the words "user unknown" in the report)
 *   soft       it may work again (4.x.x, 5.2.2 mailbox full, a permanent
 *              failure without a known reason)
 *   ours       about our sender address or login (5.1.7, 5.1.8, 5.7.x after
 *              MAIL FROM or AUTH): the organiser must act, nobody is scored
 *   policy     the receiving side refused this mail (5.7.x, 5.4.x on RCPT,
 *              spam filters, 5.3.4 and 5.2.3 too large): never scored
 *   complaint  the recipient called the mail spam (ARF)
 */
enum bounce_class {
	BOUNCE_HARD = 0,
	BOUNCE_SOFT,
	BOUNCE_OURS,
	BOUNCE_POLICY,
	BOUNCE_COMPLAINT,
};

/* "hard", "soft", "ours", "policy", "complaint". */
const char *bounce_class_name(enum bounce_class);

/* One recipient a report is about. */
struct bounce_rcpt {
	char		*address;	/* as the report has it (owned) */
	/* "failed", "delayed" (a full mailbox, 4.2.x, only), or
	   "complaint" (ARF) */
	char		 action[16];
	char		 status[16];	/* "5.1.1"; "" when none is given */
	enum bounce_class cls;
	char		*diagnostic;	/* one line, maybe "" (owned) */
};

/* How the report was written. */
enum bounce_format {
	BOUNCE_FORMAT_NONE = 0,	/* not a delivery report */
	BOUNCE_FORMAT_DSN,	/* RFC 3464 */
	BOUNCE_FORMAT_ARF,	/* RFC 5965 */
	BOUNCE_FORMAT_TEXT,	/* words for people, no standard fields */
};

struct bounce_report {
	enum bounce_format format;
	/* 1: a delay warning ("will keep trying"): nothing failed yet */
	int		   warning;
	struct bounce_rcpt *rcpts;
	size_t		   nrcpts;
	/* Message-IDs ("<...>") of the returned mail, from its headers
	   (returned part, attached message, or the copy in the text);
	   NULL-terminated, NULL when none */
	char		 **message_ids;
	/* the To of the returned mail, when the report names no one
	   usable (ARF reports often redact the recipient) */
	char		 **returned_to;
};

/*
 * 1 when m looks like a delivery report or complaint: a delivery-status or
 * feedback-report part, or mail from a mailer daemon or postmaster, or with
 * the subject of a non-delivery report, that is not an auto-reply. Only a
 * gate: bounce_parse() decides what it says.
 */
int	bounce_looks_like(const struct message *m);

/*
 * Reads the report in m into *out (release with bounce_report_clear()).
 * Always succeeds; out->format is BOUNCE_FORMAT_NONE and nrcpts 0 for mail
 * that is not a report. Recipients are unique (case-insensitive); delayed
 * recipients other than full mailboxes, and senders, postmasters and
 * addresses quoted from the returned mail, are not listed.
 */
void	bounce_parse(const struct message *m, struct bounce_report *out);
void	bounce_report_clear(struct bounce_report *);

/*
 * The class of a failure from its enhanced status code (RFC 3463; "" or
 * NULL when unknown) and the server's words (NULL: none). The words decide
 * when the code does not ("5.0.0 user unknown" is hard, "after MAIL FROM"
 * makes a 5.7.x ours).
 */
enum bounce_class bounce_classify(const char *status, const char *text);

/*
 * The first enhanced status code ("5.1.1") in an SMTP reply or diagnostic
 * text, into out (size >= 16); 0 when there is none.
 */
int	bounce_find_status(const char *text, char *out, size_t len);

#endif
