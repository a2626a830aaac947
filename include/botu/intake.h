/*
 * intake.h - takes new mail from the mailbox, exactly once.
 *
 * Per message: its attempt is counted in the store before it is fetched and
 * parsed (so a message that crashes botu or the parse worker twice is set
 * aside instead of crash-looping); then the handler decides and acts inside
 * ONE transaction that also records the UID as handled and stores every
 * mail to send; only after COMMIT is the message moved to done_mailbox (or
 * flagged). A restart redoes missing moves and never handles a UID twice.
 * Mail the handler does not understand is left exactly as it was: unread,
 * in place. A Message-ID once handled is never handled again, also after a
 * move back into the mailbox or a UIDVALIDITY change.
 *
 * First start: only mail that arrives from then on (UIDNEXT) is taken,
 * unless since is given (older mail from that day on).
 *
 * For tests of each crash window, BOTU_CRASH_AT=after-attempt|after-commit|
 * after-move[:N] in the environment makes botu abort() at that point (the
 * Nth time, default the first).
 */
#ifndef BOTU_INTAKE_H
#define BOTU_INTAKE_H

#include <stdio.h>
#include <time.h>

#include "botu/config.h"
#include "botu/db.h"
#include "botu/message.h"

/* What the handler decided about one message. */
struct intake_decision {
	int	act;		/* 1: understood and handled: mark it done */
	char	intent[32];	/* "subscribe", "automatic", "leave-alone" */
	char	reason[256];	/* one line: why */
	char	action[256];	/* what botu does (or would do) */
	int	erase_sender;	/* the sender was erased (retention.h): the
				 * record of handled mail keeps neither
				 * From nor Subject */
};

/*
 * Decides about msg and, unless dry_run, applies it through db inside the
 * transaction intake holds. Returns BOTU_OK, or an error that rolls the
 * transaction back (the message is then tried again later).
 */
struct intake_handler {
	int	(*handle)(void *arg, struct botu_db *, const struct message *,
		    int dry_run, struct intake_decision *,
		    char err[BOTU_ERRLEN]);
	void	*arg;
};

struct intake_options {
	int	 dry_run;	/* print what would happen, change nothing */
	time_t	 since;		/* 0: none; else take older mail from then */
	FILE	*report;	/* dry-run lines go here */
	const char *worker_exe;	/* the botu binary for the parse worker */
	/* Set (by a signal) to stop after the message being handled. */
	volatile const int *stop;
};

struct intake;

struct intake *intake_new(const struct botu_conf *, struct botu_db *,
	    const struct intake_handler *, const struct intake_options *);
void	intake_free(struct intake *);

/*
 * Connects when needed and handles every new message once. Returns BOTU_OK
 * or the status of what stopped it (BOTU_ECONN: reconnect later,
 * BOTU_EAUTH: login refused, BOTU_ECONFIG: an organiser must act).
 * *handled gets the number of messages acted on.
 */
int	intake_cycle(struct intake *, int *handled, char err[BOTU_ERRLEN]);

/*
 * Waits for new mail (IDLE or polling, as configured) up to timeout_s or
 * until wake_fd is readable. 1: maybe new mail, 0: timeout, 2: woken.
 */
int	intake_wait(struct intake *, int timeout_s, int wake_fd,
	    char err[BOTU_ERRLEN]);

/* Drops the connection (after an error, or at exit). */
void	intake_disconnect(struct intake *, int logout);

/* Counts for botu status. */
struct intake_counts {
	int64_t	done;
	int64_t	left;		/* left for the human */
	int64_t	poison;		/* set aside */
};
int	intake_counts(struct botu_db *, struct intake_counts *);

#endif
