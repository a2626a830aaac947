/*
 * rsvp.h - answers to botu's invitations (iTIP METHOD:REPLY, RFC 5546
 * §3.2.3) read back from the mailbox. The calendar part alone decides
 * (RFC 6047 §2.3: not From, Reply-To or Subject, which calendars localise
 * and Apple may send from another of the member's addresses): its UID
 * names the member's own copy of a meeting (meetings.h), its ATTENDEE the
 * answer. Only a REPLY to a UID botu issued is botu's: it is recorded
 * (PARTSTAT and COMMENT) and filed, never answered. Every other calendar
 * mail (the organiser's own meetings, replies to them) stays for the
 * person who reads the mailbox.
 *
 * A reply counts when its SEQUENCE is at least that of the meeting's last
 * change of time or place, and when it is not older (DTSTAMP) than the
 * answer recorded; otherwise it is filed and changes nothing. A REPLY
 * whose ATTENDEE is another member's address (RFC 2447 §2.2.1: an answer
 * for someone else) changes nothing and stays for a person.
 *
 * Answers by mail: the invitation's Reply-To is the member's own
 * "+antwoord-<token>" address, the token being the random part of that
 * member's UID. A reply there whose own words begin with ja/yes,
 * nee/no or misschien/maybe records ACCEPTED, DECLINED or TENTATIVE, but
 * only when it comes From the member's own address: anyone else's stays
 * for a person. Other words there stay for a person too.
 */
#ifndef BOTU_RSVP_H
#define BOTU_RSVP_H

#include "botu/config.h"
#include "botu/db.h"
#include "botu/message.h"

struct rsvp_decision {
	int	act;		/* 1: botu's; the mail is filed as done */
	char	reason[256];	/* why, one line */
	char	action[256];	/* what botu does (or would do) */
};

/*
 * The Reply-To detail for the invitation with this UID
 * ("antwoord-<token>"), owned; NULL when uid is not one of botu's.
 */
char	*rsvp_reply_detail(const char *uid);

/*
 * The answer in a member's own words (textclean's own words): the
 * PARTSTAT "ACCEPTED", "DECLINED" or "TENTATIVE" (static), or NULL when
 * the first line says none of them, or more than one.
 */
const char *rsvp_words(const char *own_words);

/*
 * Decides about msg, a mail classified as an RSVP (token: the token of an
 * "+antwoord-" address it was sent to, "" or NULL for a calendar REPLY;
 * own_words: its text without quotes), and, unless dry_run,
 * records the answer in the caller's transaction. db NULL (explain without
 * a configuration): only describes, and leaves the mail (botu cannot tell
 * whether it issued the UID). BOTU_OK, or an error with err set when the
 * store fails.
 */
int	rsvp_decide(struct botu_db *, const struct botu_conf *,
	    const struct message *msg, const char *token,
	    const char *own_words, int dry_run, struct rsvp_decision *,
	    char err[BOTU_ERRLEN]);

#endif
