/*
 * ical.h - iCalendar (RFC 5545) for iMIP (RFC 6047): the invitations botu
 * writes and the calendar parts it reads, both through libical.
 *
 * Writing: one VCALENDAR per member (METHOD:REQUEST or CANCEL, PRODID,
 * VERSION, CALSCALE) holding one VEVENT with that member as its only
 * ATTENDEE (CALENDAR.md §5) and the list address as ORGANIZER (replies go
 * to the ORGANIZER, RFC 6047 §2.3, so it must be the mailbox botu reads).
 * Times carry TZID=<Olson name> with a VTIMEZONE under that same plain
 * name: libical's own zones are named "/freeassociation.sourceforge.net/
 * Europe/Amsterdam", which python-icalendar and khal fail on
 * (collective/icalendar#708). Europe/Amsterdam gets the small two-rule
 * VTIMEZONE Google and Outlook write; any other zone libical's rules from
 * the system tzdata cut to the meeting's years; UTC plain "Z" times.
 * Every object passes icalrestriction_check() (RFC 5546's tables) before
 * it leaves.
 *
 * Reading: any text/calendar or .ics part, whoever wrote it (Gmail,
 * Outlook/Exchange without ORGANIZER and with Windows zone names, Apple,
 * Thunderbird), LF or CRLF, folded or not. botu explain and the RSVP
 * handler use the same reader.
 */
#ifndef BOTU_ICAL_H
#define BOTU_ICAL_H

#include <stddef.h>
#include <time.h>

#include "botu/err.h"

enum ical_method {
	ICAL_REQUEST,		/* an invitation or an update */
	ICAL_CANCEL,		/* the meeting is off */
};

/* One member's copy of a meeting; every string borrowed, UTF-8. */
struct ical_invite {
	enum ical_method method;
	const char	*uid;		/* this meeting for this member */
	int		 sequence;	/* RFC 5545 §3.8.7.4 */
	time_t		 dtstamp;	/* when this version was made */
	time_t		 start;
	time_t		 end;		/* after start */
	const char	*tz;		/* Olson name of the list's zone */
	const char	*summary;
	const char	*location;	/* NULL or "": none */
	const char	*description;	/* NULL or "": none */
	const char	*organizer;	/* the list address */
	const char	*organizer_name; /* NULL or "": no CN */
	const char	*attendee;	/* the member's address */
	const char	*attendee_name;	/* NULL or "": no CN */
	const char	*partstat;	/* what they answered so far; NULL:
					   NEEDS-ACTION */
};

/*
 * The iCalendar object for inv, CRLF line ends, folded at 75 octets
 * (libical), owned by the caller in *out. BOTU_EDATA with err set when
 * the zone is unknown, a time is out of range, or the object fails
 * libical's iTIP restriction check (the first complaint is in err).
 */
int	ical_invite_new(const struct ical_invite *, char **out,
	    char err[BOTU_ERRLEN]);

/* An ATTENDEE of a parsed object. */
struct ical_attendee {
	char	*address;	/* lower case, "mailto:" taken off */
	char	*name;		/* CN, "" when none */
	char	*partstat;	/* upper case: ACCEPTED, DECLINED, TENTATIVE,
				   DELEGATED, NEEDS-ACTION, an X- name; ""
				   when none */
};

/*
 * What a calendar part says, from its first VEVENT (the whole event; an
 * override of one occurrence is not what botu sends). Strings owned,
 * never NULL; release with ical_parsed_clear().
 */
struct ical_parsed {
	char			*method;	/* upper case, "" when none */
	char			*prodid;
	int			 has_event;	/* a VEVENT was found */
	char			*uid;		/* "" when none */
	int			 sequence;	/* 0 when none */
	time_t			 dtstamp;	/* 0 when none */
	char			*organizer;	/* as attendee addresses */
	char			*comment;	/* "" when none */
	char			*summary;
	struct ical_attendee	*attendees;
	size_t			 nattendees;
};

/*
 * Reads text (a decoded calendar part, NUL-terminated). BOTU_OK with *out
 * filled, or BOTU_EDATA (and *out empty) when it holds no VCALENDAR.
 * Lines libical cannot read are skipped, as libical does.
 */
int	ical_parse(const char *text, struct ical_parsed *out);
void	ical_parsed_clear(struct ical_parsed *);

/*
 * The address in a CAL-ADDRESS value: "mailto:" (any case) taken off,
 * white space trimmed, lower case; owned.
 */
char	*ical_address(const char *value);

#endif
