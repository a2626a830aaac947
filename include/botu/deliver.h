/*
 * deliver.h - sends what the outbox holds: several SMTP connections in
 * parallel (one thread and one libcurl handle each, because libcurl's multi
 * interface serialises SMTP transfers: LIBRARIES.md §3.x), within the
 * provider's limits, and with a circuit breaker.
 *
 * Results: 2xx sent; 4xx and network trouble retried with backoff; 5xx for
 * a recipient failed for that recipient. A refusal that is about us (5xx on
 * AUTH or MAIL FROM, a refused login, an untrusted certificate), or the same
 * 5xx for several recipients in a row, pauses all sending, counts nothing
 * against the members, and is reported (deliver_paused(), the log, botu
 * status). A "slow down" reply (421, 4.7.x) holds sending for a minute.
 *
 * A crash between the server's 250 and the commit of the result sends that
 * mail again at the next start, with the same Message-ID; nothing is lost.
 * Results are committed in groups (one fsync for many mails): whatever
 * came in while the previous commit ran, and the connections never run
 * more than DELIVER_GROUP answers each ahead of the commits, so a crash
 * repeats at most DELIVER_GROUP + 1 mails per connection.
 * For the tests of both windows: BOTU_CRASH_AT=before-send|after-send[:N]
 * (crash_point() in util.h).
 *
 * struct deliver has its own database connection, so it can run in a thread
 * of its own beside intake.
 */
#ifndef BOTU_DELIVER_H
#define BOTU_DELIVER_H

#include <time.h>

#include "botu/config.h"
#include "botu/db.h"

/* Consecutive identical 5xx replies that mean "this is about us". */
#define DELIVER_SAME_5XX 3
/* Answers per connection that may wait for one commit of their results. */
#define DELIVER_GROUP 16
/* The first pause; each further trip doubles it, up to 6 hours. */
#define DELIVER_PAUSE_FIRST (15 * 60)

struct deliver;

struct deliver_report {
	int	sent;
	int	retried;	/* 4xx or network: will be tried again */
	int	failed;		/* refused for good */
	int	expired;
	int	waiting;	/* due now, but held by a limit or a
				   slow-down: another pass will send it */
	int	paused;		/* the breaker is open */
	char	reason[BOTU_ERRLEN];	/* why it is paused */
};

/*
 * Opens its own connection to the database at db_path. BOTU_OK or an error
 * with err set.
 */
int	deliver_new(const struct botu_conf *, const char *db_path,
	    struct deliver **out, char err[BOTU_ERRLEN]);
void	deliver_free(struct deliver *);	/* ends the threads; accepts NULL */

/*
 * One pass: expires what no longer makes sense, then sends every due mail
 * the limits allow now, waits for the answers and records them. *next gets
 * when another pass is worth making (a retry, the end of a pause, the next
 * slot under max_per_minute), 0 when nothing is queued. Under
 * max_per_minute a pass may first wait up to a second for its slot.
 */
int	deliver_once(struct deliver *, struct deliver_report *, time_t *next);

/*
 * 1 and reason (when not NULL) if sending is paused, and until when.
 * deliver_resume() ends a pause (botu outbox retry does).
 */
int	deliver_paused(struct botu_db *, char reason[BOTU_ERRLEN],
	    time_t *until);
int	deliver_resume(struct botu_db *);

#endif
