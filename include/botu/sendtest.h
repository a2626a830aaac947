/*
 * sendtest.h - botu check --send-test: the list mails itself and learns
 * from what arrives what the provider does with plus-addresses and with
 * the envelope sender, and what the receiving server says about SPF, DKIM
 * and DMARC. VERP ([smtp] verp = auto) is used only after this test showed
 * that it works.
 *
 * The test mail goes through the configured SMTP server to the list's own
 * +test-TOKEN address, with a bounce address (verp.h, id 0: no outbox row)
 * as envelope sender. botu waits for it in the mailbox (IMAP), reads it,
 * and moves it to done_mailbox (or flags it) so nobody has to.
 */
#ifndef BOTU_SENDTEST_H
#define BOTU_SENDTEST_H

#include "botu/config.h"
#include "botu/db.h"

/* The state keys the result is kept under (and verp.works). */
#define SENDTEST_AT_STATE "sendtest.at"
#define SENDTEST_PLUS_STATE "sendtest.plus"
#define SENDTEST_ENVELOPE_STATE "sendtest.envelope"
#define SENDTEST_AUTH_STATE "sendtest.auth"

struct sendtest_result {
	int	 sent;		/* the SMTP server took the mail */
	int	 arrived;	/* it was in the mailbox in time */
	int	 detail_kept;	/* Delivered-To (or X-Original-To) has the
				   +test detail, not only the To header */
	int	 envelope;	/* Return-Path is the bounce address */
	int	 removed;	/* moved to done_mailbox or flagged */
	double	 seconds;	/* from sending to finding it */
	char	 address[320];	/* list+test-TOKEN@domain */
	char	 verp[320];	/* the envelope sender used */
	char	 return_path[320];	/* as it arrived, "" when none */
	char	 delivered_to[320];	/* "" when none */
	char	 spf[32];	/* results of the topmost
				   Authentication-Results, "" when */
	char	 dkim[32];	/* it says nothing of them */
	char	 dmarc[32];
	int	 has_authres;	/* there was such a header */
	char	 err[BOTU_ERRLEN];	/* what went wrong, if anything */
};

/*
 * Sends the test mail and waits up to timeout_s seconds for it. Fills *r
 * and, once the mail was sent, stores what was learnt (the keys above;
 * verp.works = yes only when it arrived and kept its envelope sender).
 * BOTU_OK when the test ran to its end (whatever it found), else the
 * status of what stopped it (SMTP or IMAP trouble) with r->err set.
 */
int	sendtest_run(const struct botu_conf *, struct botu_db *,
	    int timeout_s, struct sendtest_result *r);

#endif
