/*
 * imap.h - the mailbox, through libetpan, as a careful guest.
 *
 * The only module that knows MAILIMAP_ERROR_*. It never sets \Seen (every
 * fetch is BODY.PEEK), never expunges anything but the one UID it moved
 * (UID EXPUNGE, and only with UIDPLUS), and never sends LOGIN or
 * AUTHENTICATE before tls_verify_chain() accepted the server's certificate
 * for [imap] host. STARTTLS missing or failing with security = starttls
 * ends the connection: no plaintext fallback. Every wait has a timeout.
 *
 * Status codes: BOTU_ECONN (drop the connection, reconnect with backoff),
 * BOTU_EAUTH (login refused: wait long before trying again), BOTU_ECONFIG
 * (certificate not trusted, STARTTLS missing: an organiser must act),
 * BOTU_EPERM (the server said NO to this command; the connection is fine).
 * err always gets one line, with the server's own words when it said any.
 */
#ifndef BOTU_IMAP_H
#define BOTU_IMAP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "botu/config.h"
#include "botu/err.h"

struct imap;

struct imap_caps {
	int	idle;
	int	move;
	int	uidplus;
};

struct imap_mailbox {
	uint32_t uidvalidity;
	uint32_t uidnext;	/* UID FETCH * when the server omits it */
	uint32_t exists;
	int	 keywords;	/* PERMANENTFLAGS has \* */
	int	 read_only;
};

/* What imap_list() reports per message, without fetching bodies. */
struct imap_msginfo {
	uint32_t uid;
	uint32_t size;		/* RFC822.SIZE */
	time_t	 internaldate;
	char	*message_id;	/* "<...>" as in the header, or NULL */
};

struct imap *imap_new(const struct botu_conf *);
/* Drops the connection at once (no LOGOUT wait); accepts NULL. */
void	imap_free(struct imap *);
/* Sends LOGOUT with a short timeout, then imap_free(). */
void	imap_logout(struct imap *);

/* Connect, TLS, certificate check, capabilities, login. */
int	imap_connect(struct imap *, char err[BOTU_ERRLEN]);
struct imap_caps imap_caps(const struct imap *);

/* SELECT (read-write) and what it reported. */
int	imap_select(struct imap *, const char *mailbox,
	    struct imap_mailbox *out, char err[BOTU_ERRLEN]);

/*
 * The messages with UID > after_uid, in UID order (RFC 3501: "N:*" also
 * matches the highest UID when N is above it, so the answer is filtered).
 * *out is an array of *n items, released with imap_msginfo_free().
 */
int	imap_list(struct imap *, uint32_t after_uid,
	    struct imap_msginfo **out, size_t *n, char err[BOTU_ERRLEN]);
/* The same for messages that arrived on or after the day of since. */
int	imap_list_since(struct imap *, time_t since,
	    struct imap_msginfo **out, size_t *n, char err[BOTU_ERRLEN]);
void	imap_msginfo_free(struct imap_msginfo *, size_t n);

/*
 * The whole message (BODY.PEEK[]): *data owned by the caller, *len bytes.
 * BOTU_EPERM when the UID is gone (expunged meanwhile) or larger than
 * max_size octets (then nothing is fetched).
 */
int	imap_fetch(struct imap *, uint32_t uid, size_t max_size, char **data,
	    size_t *len, char err[BOTU_ERRLEN]);

/* Creates mailbox unless it exists. */
int	imap_ensure_mailbox(struct imap *, const char *mailbox,
	    char err[BOTU_ERRLEN]);
/*
 * Moves one message to mailbox: MOVE where offered, else COPY, STORE
 * \Deleted and UID EXPUNGE of that UID (UIDPLUS). Without MOVE and UIDPLUS
 * it returns BOTU_EPERM and changes nothing: the caller flags instead.
 */
int	imap_move(struct imap *, uint32_t uid, const char *mailbox,
	    char err[BOTU_ERRLEN]);
/* Adds a keyword flag (e.g. "$BotuDone") to one message. */
int	imap_add_keyword(struct imap *, uint32_t uid, const char *keyword,
	    char err[BOTU_ERRLEN]);
/* 1 when the message carries the keyword, 0 when not. */
int	imap_has_keyword(struct imap *, uint32_t uid, const char *keyword,
	    char err[BOTU_ERRLEN]);

/*
 * Waits until the server reports a change in the selected mailbox, up to
 * timeout_s seconds, or until wake_fd (when >= 0) becomes readable: with
 * IDLE when offered (RFC 2177, renewed by the caller), else it only sleeps
 * and sends NOOP. Returns 1 when something may have changed (the caller
 * then lists new UIDs; it never trusts EXISTS alone), 0 on timeout, 2 when
 * wake_fd woke it, or an error status. Handles libetpan 1.9.4's IDLE bugs:
 * data that arrived together with "+ idling" is already buffered.
 */
int	imap_wait(struct imap *, int timeout_s, int wake_fd,
	    char err[BOTU_ERRLEN]);

/* NOOP, to keep the session and learn of changes. */
int	imap_noop(struct imap *, char err[BOTU_ERRLEN]);

#endif
