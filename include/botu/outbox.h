/*
 * outbox.h - every mail botu sends, stored before it is sent.
 *
 * A handler adds its mails with outbox_add() inside the same transaction as
 * the change that causes them, so a crash can lose neither. The delivery
 * loop (deliver.h) takes due rows, sends them and records each result here.
 * A row keeps its Message-ID across retries, so a mail that went out twice
 * after a crash can be recognised as one by the recipient's mail program.
 *
 * Status of a row: queued (waiting or retrying), sent, failed (refused for
 * good, or retried until it expired), expired (no longer made sense before
 * it could go: an invitation after the meeting began), dropped (by the
 * organiser).
 */
#ifndef BOTU_OUTBOX_H
#define BOTU_OUTBOX_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "botu/db.h"

/* How long a row without its own expiry is retried. */
#define OUTBOX_DEFAULT_LIFETIME (5 * 24 * 3600)

struct outbox_mail {
	/* confirm, welcome, help, digest, ... */
	const char	*kind;
	int64_t		 member_id;	/* 0: not about a member */
	const char	*rcpt;
	const char	*envelope_from;	/* the Return-Path to use */
	const char	*message_id;	/* of the composed message */
	const char	*data;		/* the complete message, CRLF */
	size_t		 len;
	time_t		 expires_at;	/* 0: now + OUTBOX_DEFAULT_LIFETIME */
	int		 ordered;	/* 1: never before earlier ordered mail
					   to the same recipient (a welcome
					   after its confirmation) */
	const char	*cause;		/* Message-ID of the mail that caused
					   it, or NULL */
	int64_t		 digest_id;	/* > 0: a digest issue; data is NULL
					   and the mail is rendered when it
					   is sent (digest.h) */
};

/* Adds a mail to send as soon as possible; *id gets its row (may be NULL). */
int	outbox_add(struct botu_db *, const struct outbox_mail *, int64_t *id);

/* A row taken for sending; strings owned, released by outbox_row_clear(). */
struct outbox_row {
	int64_t	 id;
	char	*rcpt;
	char	*envelope_from;
	char	*data;		/* NULL: a digest row, not rendered yet */
	size_t	 len;
	int	 attempts;
	char	*kind;
	char	*message_id;
	int64_t	 member_id;	/* 0: none */
	int64_t	 digest_id;	/* 0: none */
};

void	outbox_row_clear(struct outbox_row *);

/*
 * Up to max rows due at now (queued, next try reached, not expired, and no
 * earlier ordered mail to the same recipient still waiting), oldest first.
 * *rows is an array of *n, released with outbox_rows_free().
 */
int	outbox_due(struct botu_db *, time_t now, int max,
	    struct outbox_row **rows, size_t *n);
void	outbox_rows_free(struct outbox_row *, size_t n);

/*
 * When the next queued row is due (0: none queued). A row held back by
 * earlier ordered mail does not count: it goes after that one.
 */
int	outbox_next_due(struct botu_db *, time_t *when);

/* Results; each records the server's code and text. */
int	outbox_sent(struct botu_db *, int64_t id, time_t now, int code,
	    const char *text);
int	outbox_failed(struct botu_db *, int64_t id, time_t now, int code,
	    const char *text);
/*
 * A temporary failure: try again after a backoff that grows with the
 * attempts (1 min, 5, 15, 30, 60, then every 2 hours), or fail the row when
 * that would be past its expiry. count: 0 when the failure was not the
 * recipient's (our own problem, a pause): the attempt is not counted.
 */
int	outbox_retry_later(struct botu_db *, int64_t id, time_t now, int code,
	    const char *text, int count);
/*
 * Drops a queued row that must not go any more (a digest for someone who
 * left before it was sent), with why as its last error.
 */
int	outbox_skip(struct botu_db *, int64_t id, const char *why);
/* Marks queued rows whose expiry has passed as expired; *n gets how many. */
int	outbox_expire(struct botu_db *, time_t now, int *n);

/* Sent mails in the window [since, now): for max_per_minute/day. */
int	outbox_sent_since(struct botu_db *, time_t since, int64_t *n);

/* For botu outbox: */
int	outbox_write(struct botu_db *, FILE *, int json, const char *status);
/*
 * Queue again now: one row (id > 0), or (id 0) every failed or expired row
 * and every queued row still waiting for its retry.
 */
int	outbox_requeue(struct botu_db *, int64_t id, time_t now, int *n);
/* Drop one queued row (id > 0) or all failed rows (id 0). */
int	outbox_drop(struct botu_db *, int64_t id, int *n);
/* Counts per status, for botu status. */
int	outbox_count(struct botu_db *, const char *status, int64_t *n);

#endif
