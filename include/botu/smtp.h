/*
 * smtp.h - one SMTP connection through libcurl, kept open between mails.
 *
 * The only module that knows CURLcode and reply-code rules (LIBRARIES.md
 * §3). TLS (implicit or STARTTLS, never CURLUSESSL_TRY) with the peer's
 * certificate and host name verified by libcurl; [smtp] ca_file replaces
 * the system's trust store, nothing turns checking off. AUTH with the
 * password or, for auth = xoauth2, an OAuth2 bearer token; the secret is
 * fetched (conf_secret) when the connection is made. One recipient per
 * transaction, so each mail has its own result. A connection belongs to
 * one thread at a time; run several for parallel sending.
 *
 * A reused connection that the server has meanwhile closed with "421"
 * fails the next MAIL FROM: smtp_send() retries such a mail once at once on
 * a fresh connection.
 */
#ifndef BOTU_SMTP_H
#define BOTU_SMTP_H

#include <stddef.h>

#include "botu/config.h"
#include "botu/err.h"

enum smtp_outcome {
	SMTP_SENT,	/* 2xx after the final dot: the server has it */
	SMTP_TEMP,	/* 4xx or a network problem: try again later */
	SMTP_PERM,	/* 5xx for this recipient or this message: give up */
	SMTP_OURS,	/* refused because of us, not the recipient: 5xx on
			   AUTH or MAIL FROM, login denied, TLS refused,
			   certificate not trusted. Pause and tell the
			   organiser; count nothing against the member. */
};

/* The SMTP step a reply answered. */
enum smtp_stage {
	SMTP_STAGE_CONNECT,	/* TCP, greeting, EHLO, STARTTLS, TLS */
	SMTP_STAGE_AUTH,
	SMTP_STAGE_MAIL,
	SMTP_STAGE_RCPT,
	SMTP_STAGE_DATA,	/* DATA, the body, the final dot */
};

struct smtp_result {
	enum smtp_outcome outcome;
	enum smtp_stage	 stage;
	int		 code;		/* last reply code, 0: none */
	int		 rate_limited;	/* 421, 4.7.x, "rate": slow */
	char		 text[BOTU_ERRLEN]; /* the server's reply, or what
					       went wrong, one line */
};

struct smtp_conn;

/* A connection for conf's [smtp]; nothing is sent before smtp_send(). */
struct smtp_conn *smtp_conn_new(const struct botu_conf *);
void	smtp_conn_free(struct smtp_conn *);	/* QUIT; accepts NULL */

/*
 * Sends one message (complete RFC 5322 bytes with CRLF line ends) from
 * envelope sender from to one recipient. Returns BOTU_OK when res was
 * filled (whatever the outcome); res->outcome says what happened.
 */
int	smtp_send(struct smtp_conn *, const char *from, const char *rcpt,
	    const char *data, size_t len, struct smtp_result *res);

/*
 * Connects and logs in without sending (for botu check). BOTU_OK, or the
 * status with err saying what failed and what to do.
 */
int	smtp_check(const struct botu_conf *, char err[BOTU_ERRLEN]);

/* Call once at start, before any thread exists. */
void	smtp_global_init(void);

#endif
