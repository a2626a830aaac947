/*
 * smtp_internal.h - the pure parts of smtp.c, visible to its unit test
 * (tests/unit/test_smtp.c) and to nothing else: the reply classifier
 * (LIBRARIES.md §3.5), the stale-connection rule (§3.3) and the protocol
 * trace that follows the SMTP stage and keeps the last reply.
 */
#ifndef BOTU_SMTP_INTERNAL_H
#define BOTU_SMTP_INTERNAL_H

#include <stddef.h>

#include "botu/config.h"
#include "botu/smtp.h"

enum smtp_dir {
	SMTP_DIR_TEXT,	/* libcurl's own remarks */
	SMTP_DIR_IN,	/* a server reply line */
	SMTP_DIR_OUT,	/* a command we sent; AUTH lines carry secrets */
};

/* What the debug callback learnt during one transfer. */
struct smtp_trace {
	enum smtp_stage	 stage;	/* of the last command sent */
	int		 code;	/* of the last reply line, 0: none */
	char		 reply[BOTU_ERRLEN]; /* the last reply line */
	int		 quit;	/* QUIT sent: its 221 is no answer */
	const char	*host;	/* borrowed; names the debug log */
};

void	smtp_trace_reset(struct smtp_trace *);

/*
 * Feeds what libcurl saw (len bytes, not NUL-terminated, possibly several
 * lines). Commands move the stage; replies replace reply and code. With
 * debug logging on, lines go to the log, AUTH and the SASL exchange after
 * it as "[redacted]": never a credential.
 */
void	smtp_trace_feed(struct smtp_trace *, enum smtp_dir, const char *,
	    size_t);

/*
 * Fills res from a finished transfer: rc (a CURLcode), code (its
 * CURLINFO_RESPONSE_CODE), t (the trace), the server (for texts) and
 * curlerr (CURLOPT_ERRORBUFFER; "" or NULL: curl_easy_strerror(rc)).
 */
void	smtp_classify(int rc, long code, const struct smtp_trace *t,
	    const char *host, int port, const char *curlerr,
	    struct smtp_result *res);

/* 1 when a 4xx reply asks us to slow down: 421, 4.7.x, "rate", "too many". */
int	smtp_rate_limited(int code, const char *reply);

/*
 * 1 when a failed transfer on a reused connection found that connection
 * dead (a stale 421 or a network error before MAIL FROM was answered), so
 * the same mail should go once more at once on a fresh connection.
 */
int	smtp_stale(int rc, long code, enum smtp_stage, int reused);

/* The URL for conf's [smtp]: scheme, host, port and the EHLO name. */
char	*smtp_url_new(const struct botu_conf *);

#endif
