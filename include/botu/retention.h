/*
 * retention.h - how long botu keeps what (GDPR/AVG art. 5(1)(e) and 17),
 * and forgetting for good.
 *
 * Erasing a member (retention_erase) removes the member's row with
 * everything that hangs on it (consent, events, codes, notes, bounces),
 * every outbox mail to them, the bodies of other mails that name their
 * address (a summary to the organiser: queued ones are dropped, sent ones
 * lose their body), their address and subjects in the record of handled
 * mail, and their address in event and bounce details. What stays is one
 * event without the address, and for someone who asked to be forgotten
 * or who left, a suppression entry: SHA-256 over a secret salt of the
 * installation (the state table) and the lowercased address. So the
 * address itself is nowhere, yet "members import" and "members add"
 * recognise it and skip it; a sign-up by mail still works, because the
 * person confirms it themselves, and that confirmation lifts the entry.
 *
 * SQLite overwrites deleted content with zeros (secure_delete, db.h), but
 * the old pages live on in the write-ahead log until a checkpoint:
 * retention_erase() marks one as wanted, and retention_checkpoint() (the
 * daemon's tick, the command line) copies the log back and truncates it.
 *
 * The periodic part (retention_run, [privacy] in botu.conf):
 *   - a sign-up nobody confirmed is erased when its last code expired
 *     (plus pending_days);
 *   - a member who left is erased leavers_days after leaving;
 *   - outbox mails that are no longer queued lose their body
 *     mail_body_days after they were made (the row stays: bounces are
 *     matched by it, verp.h);
 *   - the sender and subject of handled mail go after inbound_days (the
 *     Message-ID stays: no mail is handled twice);
 *   - events and bounce records older than events_days are
 *     pseudonymised: Message-IDs and addresses in them become hashes.
 */
#ifndef BOTU_RETENTION_H
#define BOTU_RETENTION_H

#include <stdint.h>
#include <time.h>

#include "botu/config.h"
#include "botu/db.h"

/* 64 hex digits and a NUL. */
#define RETENTION_HASH_LEN 65

/*
 * The salted hash of an address (case-insensitive) into out. Makes the
 * installation's salt on first use (inside the caller's transaction).
 */
int	retention_hash(struct botu_db *, const char *address,
	    char out[RETENTION_HASH_LEN]);

/* 1 when address is suppressed (*reason, if not NULL, gets "forgotten"
 * or "left", borrowed), 0 when not, BOTU_EDATA on error. */
int	retention_suppressed(struct botu_db *, const char *address,
	    const char **reason);

/* Adds (reason "forgotten" or "left") or lifts a suppression entry. */
int	retention_suppress(struct botu_db *, const char *address,
	    const char *reason);
int	retention_unsuppress(struct botu_db *, const char *address);

enum retention_why {
	RETENTION_FORGOTTEN,	/* on request: suppressed */
	RETENTION_LEFT,		/* leavers_days after leaving: suppressed */
	RETENTION_EXPIRED,	/* a sign-up never confirmed: not suppressed */
};

/*
 * Erases the member with this address (see above), in the caller's
 * transaction, and marks a WAL checkpoint as wanted. *published (may be
 * NULL) gets how many published notes went (the waaier is marked for a
 * rewrite). BOTU_EPERM with err set when there is no such member.
 */
int	retention_erase(struct botu_db *, const char *address,
	    enum retention_why, const char *actor, int *published,
	    char err[BOTU_ERRLEN]);

/*
 * Copies the write-ahead log into the database and truncates it, so
 * erased pages are nowhere but as zeros; outside any transaction.
 * BOTU_OK, or BOTU_ETEMP when a reader kept it from finishing (the mark
 * stays and the next call tries again).
 */
int	retention_checkpoint(struct botu_db *);

/* What one retention pass did. */
struct retention_counts {
	int	expired;	/* sign-ups never confirmed, erased */
	int	leavers;	/* members who left, erased */
	int	bodies;		/* outbox bodies purged */
	int	inbound;	/* handled mails whose sender went */
	int	events;		/* events and bounces pseudonymised */
};

/*
 * One pass at time now, each step in its own transaction; a checkpoint
 * follows when anything was erased. BOTU_OK, or the first error with err
 * set (the steps before it stay done).
 */
int	retention_run(const struct botu_conf *, struct botu_db *, time_t now,
	    struct retention_counts *, char err[BOTU_ERRLEN]);

/*
 * The daemon's tick: a checkpoint when one is wanted, and retention_run()
 * at most once an hour. Logs what it did and what fails.
 */
void	retention_tick(const struct botu_conf *, struct botu_db *,
	    time_t now);

#endif
