/*
 * compose.h - builds the RFC 5322 / MIME bytes of every mail botu sends.
 *
 * Always From the list address (DMARC: members' words are quoted in the
 * body, never sent in their name). Headers: Date, Message-ID on the list's
 * domain, MIME-Version, From, To, Subject (RFC 2047 encoded words of at
 * most 75 characters where needed), Reply-To and In-Reply-To/References
 * when given, List-Id (RFC 2919), List-Unsubscribe (a mailto; no
 * List-Unsubscribe-Post until there is an HTTPS endpoint), List-Help and
 * List-Post: NO (RFC 2369), Auto-Submitted (RFC 3834), Precedence: bulk on
 * auto-generated mail, X-Auto-Response-Suppress: OOF, AutoReply, and
 * X-Loop: <list address>. Bodies are UTF-8 quoted-printable with CRLF line
 * ends and no line over 76 octets; text plus HTML becomes
 * multipart/alternative; extra parts (a text/calendar invitation) make
 * multipart/mixed or go inside the alternative as calendar clients expect.
 * No CR, LF or other control character from any input reaches a header.
 */
#ifndef BOTU_COMPOSE_H
#define BOTU_COMPOSE_H

#include <time.h>

#include "botu/config.h"
#include "botu/err.h"
#include "botu/util.h"

enum compose_auto {
	COMPOSE_AUTO_REPLIED,	/* an answer to a person's mail */
	COMPOSE_AUTO_GENERATED,	/* digests, reminders, invitations */
};

/* An extra body part, e.g. "text/calendar; method=REQUEST". */
struct compose_part {
	const char	*content_type;	/* with its parameters */
	const char	*body;		/* UTF-8 text */
	const char	*filename;	/* NULL: inline, no file name */
	int		 in_alternative; /* 1: a sibling of text and HTML */
	int		 base64;	/* 1: base64 (RFC 2045 §6.8), as
					   CALENDAR.md §0 wants for iCalendar:
					   CRLFs and UTF-8 pass any MTA */
};

struct outgoing {
	const char	*to;		/* the recipient's address */
	const char	*to_name;	/* UTF-8; NULL: none */
	const char	*subject;	/* UTF-8 */
	const char	*text;		/* UTF-8; LF, CRLF or CR */
	const char	*html;		/* NULL: text only */
	const char	*reply_to;	/* NULL: answers go to From */
	const char	*in_reply_to;	/* "<id@host>" answered */
	const char	*references;	/* its References plus its id */
	const char	*unsubscribe;	/* mailto address; NULL:
					   the list's +afmelden */
	enum compose_auto auto_submitted;
	const struct compose_part *parts;	/* extra parts, may be NULL */
	size_t		 nparts;
	const char	*boundary;	/* NULL: random MIME boundaries; else
					   their base (ASCII, e.g. from the
					   Message-ID), so the same mail
					   composes to the same bytes */
};

/*
 * A new Message-ID, "<random.time@domain>" with 128 random bits; owned by
 * the caller. domain is the part after the @ of the list address.
 */
char	*compose_message_id(const char *domain);

/*
 * Appends the complete message (headers and body, CRLF everywhere) to out.
 * message_id comes from compose_message_id() and is stored with the mail
 * so a retry sends the same id. date is the Date header's time, shown in
 * the list's time zone. BOTU_EDATA with err set when to, reply_to or
 * unsubscribe is not an address (str_is_address()) or message_id not one
 * "<id>"; BOTU_ECONFIG when the list address is not. On error out is as
 * it was. Invalid UTF-8 in any text becomes U+FFFD; In-Reply-To and
 * References keep only their well-formed "<id>"s. Text bodies end in a
 * line break. Parts go: text, HTML, in_alternative parts (in a
 * multipart/alternative; inline when they have a filename), then the
 * others in a multipart/mixed (attachment with a filename, else inline).
 * A part's body is quoted-printable, or base64 (lines of 76) when it asks;
 * base64 keeps its octets as they are (after UTF-8 repair), CRLFs too.
 */
int	compose(const struct botu_conf *, const struct outgoing *,
	    const char *message_id, time_t date, struct buf *out,
	    char err[BOTU_ERRLEN]);

/* Building blocks, exposed for tests and for other modules. */

/*
 * Appends "Name: value" folded at 78 columns, value encoded as RFC 2047
 * words (UTF-8, B or Q, each at most 75 characters, never splitting a
 * UTF-8 sequence) when it is not plain printable ASCII. Control characters
 * in value become spaces.
 * Only the runs of words that need it are encoded (a word with non-ASCII,
 * "=?", or too long for a line), each run in B or Q as is shorter; value
 * is trimmed, inner white space kept.
 */
void	compose_header(struct buf *, const char *name, const char *value);
/* Appends an address header: "Name: "Display" <addr>", the display name
 * quoted or encoded as needed. */
/* (A printable ASCII display name that fits the line is one quoted-string;
 * otherwise atoms and encoded words. Runs of spaces in it become one. No
 * display name: the bare address.) */
void	compose_address_header(struct buf *, const char *name,
	    const char *display, const char *addr);
/* Appends text as quoted-printable (RFC 2045) with CRLF line ends. */
/* (LF, CRLF and a bare CR each end a line; a final line break is added
 * when text has none; "." and "From " never start a line; lines <= 76.) */
void	compose_qp(struct buf *, const char *text);

#endif
