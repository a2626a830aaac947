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
 * Every string is UTF-8 (invalid sequences replaced: see message.c), has
 * no NUL, is owned by the struct, and is never NULL unless the comment
 * says so.
 */
struct message {
	struct msg_header *headers;	/* top level, in order */
	size_t		 nheaders;

	/* "<id@host>", "" when missing */
	char		*message_id;
	struct msg_addr	 from;		/* first From mailbox */
	struct msg_addr	 sender;	/* Sender, when present */
	struct msg_addr	*reply_to;	/* Reply-To mailboxes */
	size_t		 nreply_to;
	struct msg_addr	*rcpts;		/* To, then Cc */
	size_t		 nrcpts;
	/* NULL: no header; "": <> (a DSN) */
	char		*return_path;
	char		*subject;	/* RFC 2047 decoded */
	/* 0 when missing or unparsable */
	time_t		 date;
	char		*in_reply_to;	/* "" when missing */
	char		*references;	/* "" when missing */

	/*
	 * The human text: text/plain (the first, outside attachments), else
	 * the first text/html with tags removed and entities decoded.
	 * Charsets, quoted-printable, base64 and format=flowed are undone;
	 * line ends are LF. Within multipart/alternative the text/plain is
	 * taken; in other multiparts the first child that has text; a part
	 * marked "Content-Disposition: attachment" never. HTML <blockquote>
	 * becomes "> " quoting.
	 */
	char		*text;
	int		 text_from_html;
	/*
	 * Parts with a file name or Content-Disposition: attachment (not
	 * counting the Content-ID images of a multipart/related).
	 */
	int		 has_attachments;
	/* top-level type/subtype, lower case */
	char		*content_type;

	/* The parts below are decoded to UTF-8 with LF line ends. */
	/* a text/calendar part, NULL: none */
	char		*calendar;
	/* its method= parameter in upper case, or "" */
	char		*calendar_method;
	/* message/delivery-status, NULL: none */
	char		*dsn;
	/*
	 * The header block of the returned message in a multipart/report
	 * (text/rfc822-headers or message/rfc822), NULL: none.
	 */
	char		*returned_headers;
	/*
	 * Outside a multipart/report: the header block of the first
	 * attached message (message/rfc822, text/rfc822-headers), as older
	 * MTAs return a bounced mail in a multipart/mixed. NULL: none.
	 */
	char		*attached_headers;
	/* message/feedback-report (RFC 5965, an ARF complaint), NULL: none */
	char		*feedback;
	size_t		 size;		/* octets of the raw mail */
};

/*
 * Parses raw (len octets; CRLF, LF or bare CR line ends). Fills *out, which
 * the caller releases with message_clear(). BOTU_EDATA with err set when
 * the bytes are not a mail at all (no header block). BOTU_EPOISON when
 * the message carries what is known to crash or stall libetpan's MIME
 * parser (an empty or quote boundary, multipart nesting deeper than 50):
 * refused before parsing, so this is safe even in-process. BOTU_ETEMP when
 * memory ran out. On any error *out is left empty.
 */
int	message_parse(const char *raw, size_t len, struct message *out,
	    char err[BOTU_ERRLEN]);
void	message_clear(struct message *);

/*
 * The References of an answer to m: its References and its Message-ID
 * (RFC 5322 §3.6.4); owned by the caller, "" when m has neither.
 */
char	*message_references(const struct message *m);

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
