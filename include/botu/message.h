/*
 * message.h - one mail, parsed and decoded: what classify and the handlers
 * look at. Mail is hostile input and Debian's libetpan MIME parser can crash
 * or take quadratic time on crafted mail (LIBRARIES.md §2.5), so the daemon
 * never calls message_parse() itself: msgworker.h runs it in a separate,
 * limited process and passes the result back through message_pack().
 */
#ifndef BOTU_MESSAGE_H
#define BOTU_MESSAGE_H

#include <stddef.h>
#include <time.h>

#include "botu/err.h"
#include "botu/util.h"

/* A top-level header as it came, unfolded (CRLF+WSP joined), not decoded. */
struct msg_header {
	char	*name;
	char	*value;
};

/* An address from a header, decoded. */
struct msg_addr {
	char	*addr;		/* local@domain as written, no <> */
	char	*name;		/* UTF-8 display name, "" when none */
};

/*
 * Every string is UTF-8 (invalid sequences replaced by U+FFFD), owned by
 * the struct, and never NULL unless the comment says so.
 */
struct message {
	struct msg_header *headers;	/* top level, in order */
	size_t		 nheaders;

	char		*message_id;	/* "<id@host>", "" when missing */
	struct msg_addr	 from;		/* first From mailbox */
	struct msg_addr	 sender;	/* Sender, when present */
	struct msg_addr	*reply_to;	/* Reply-To mailboxes */
	size_t		 nreply_to;
	struct msg_addr	*rcpts;		/* To, then Cc */
	size_t		 nrcpts;
	char		*return_path;	/* NULL: no header; "": <> (a DSN) */
	char		*subject;	/* RFC 2047 decoded */
	time_t		 date;		/* 0 when missing or unparsable */
	char		*in_reply_to;	/* "" when missing */
	char		*references;	/* "" when missing */

	/*
	 * The human text: text/plain (the first, outside attachments), else
	 * the first text/html with tags removed and entities decoded.
	 * Charsets, quoted-printable, base64 and format=flowed are undone;
	 * line ends are LF.
	 */
	char		*text;
	int		 text_from_html;
	int		 has_attachments;	/* parts with a filename or
						   Content-Disposition:
						   attachment */
	char		*content_type;	/* top-level type/subtype, lower */

	char		*calendar;	/* a text/calendar part, NULL: none */
	char		*calendar_method; /* its method= parameter, or "" */
	char		*dsn;		/* message/delivery-status, NULL:
					   none */
	char		*returned_headers; /* the header block of the
					      returned message in a report
					      (text/rfc822-headers or
					      message/rfc822), NULL: none */
	size_t		 size;		/* octets of the raw message */
};

/*
 * Parses raw (len octets; CRLF, LF or bare CR line ends). Fills *out, which
 * the caller releases with message_clear(). BOTU_EDATA with err set when
 * the bytes are not a mail at all (no header block).
 */
int	message_parse(const char *raw, size_t len, struct message *out,
	    char err[BOTU_ERRLEN]);
void	message_clear(struct message *);

/*
 * The first top-level header called name (case-insensitive), or NULL.
 * message_header_next() finds the following ones (after *prev).
 */
const char *message_header(const struct message *, const char *name);
const struct msg_header *message_header_next(const struct message *,
	    const char *name, const struct msg_header *prev);

/*
 * A flat, length-prefixed form for the pipe between the parse worker and
 * the daemon. message_unpack() checks every length: bad input is
 * BOTU_EDATA, never a crash.
 */
void	message_pack(const struct message *, struct buf *out);
int	message_unpack(const char *data, size_t len, struct message *out);

#endif
