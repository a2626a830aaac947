/*
 * daemon.h - botu run: intake and delivery together, in the foreground
 * (it never forks; systemd or a terminal keeps it).
 *
 * The main thread reads the mailbox (IDLE or polling) and handles mail; a
 * delivery thread with its own database connection sends the outbox, woken
 * when intake stored new mail. Connection problems are retried with a
 * growing backoff (up to 5 minutes); a refused login waits 15 minutes and
 * then longer, so a changed password does not get the account locked.
 * SIGTERM and SIGINT finish the message being handled, let running SMTP
 * transactions end, and exit 0. SIGHUP reads the configuration file again
 * and, if it is good (and its templates render), goes on with it after the
 * message being handled and the running SMTP transactions; a bad file is
 * refused with one log line and the old configuration kept. The
 * organiser's summary (summary.h) goes out between cycles when it is due.
 */
#ifndef BOTU_DAEMON_H
#define BOTU_DAEMON_H

#include <stdio.h>
#include <time.h>

#include "botu/config.h"

struct daemon_options {
	int	 once;		/* one intake cycle, send what is due, exit */
	int	 dry_run;	/* report what would happen; implies once */
	time_t	 since;		/* also take older mail from this time on */
	FILE	*report;	/* dry-run lines */
};

/* Returns a sysexits(3) code. */
int	daemon_run(const struct botu_conf *, const struct daemon_options *);

#endif
