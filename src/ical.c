/* ical.c - see ical.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libical/ical.h>

#include "botu/dates.h"
#include "botu/ical.h"
#include "botu/util.h"
#include "botu/version.h"

#define PRODID "-//botu//botu " BOTU_VERSION "//NL"

/*
 * CALENDAR.md §4: the VTIMEZONE Google and Outlook write for Amsterdam,
 * with no UNTIL, which every client reads (python-icalendar, vobject,
 * khal, Outlook, Gmail). The rules are the EU's since 1996.
 */
static const char vtz_amsterdam[] =
    "BEGIN:VTIMEZONE\r\n"
    "TZID:Europe/Amsterdam\r\n"
    "BEGIN:DAYLIGHT\r\n"
    "TZNAME:CEST\r\n"
    "TZOFFSETFROM:+0100\r\n"
    "TZOFFSETTO:+0200\r\n"
    "DTSTART:19700329T020000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"
    "END:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\n"
    "TZNAME:CET\r\n"
    "TZOFFSETFROM:+0200\r\n"
    "TZOFFSETTO:+0100\r\n"
    "DTSTART:19701025T030000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
    "END:STANDARD\r\n"
    "END:VTIMEZONE\r\n";

/* ---- writing ---- */

static int
is_utc(const char *tz)
{
	return strcmp(tz, "UTC") == 0 || strcmp(tz, "Etc/UTC") == 0 ||
	    strcmp(tz, "GMT") == 0 || strcmp(tz, "Etc/GMT") == 0;
}

/*
 * The VTIMEZONE for tz under its plain Olson name (owned), NULL for an
 * unknown zone. Other zones than Amsterdam: libical's rules from the
 * system tzdata, cut to what the meeting needs (RFC 5545 §3.6.5 allows
 * leaving out what no time of the object uses).
 */
static icalcomponent *
vtimezone_new(const char *tz, time_t start)
{
	icaltimezone *z;
	icalcomponent *vtz;
	icalproperty *p;
	struct icaltimetype from;

	if (strcmp(tz, "Europe/Amsterdam") == 0)
		return icalparser_parse_string(vtz_amsterdam);
	z = icaltimezone_get_builtin_timezone(tz);
	if (z == NULL || icaltimezone_get_component(z) == NULL)
		return NULL;
	vtz = icalcomponent_new_clone(icaltimezone_get_component(z));
	from = icaltime_from_timet_with_zone(start - 366 * 24 * 3600, 0,
	    icaltimezone_get_utc_timezone());
	icaltimezone_truncate_vtimezone(vtz, from, icaltime_null_time(), 1);
	p = icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY);
	if (p != NULL)
		icalproperty_set_tzid(p, tz);
	while ((p = icalcomponent_get_first_property(vtz,
	    ICAL_X_PROPERTY)) != NULL) {
		icalcomponent_remove_property(vtz, p);
		icalproperty_free(p);
	}
	return vtz;
}

/* DTSTART or DTEND at t: local time with TZID, or UTC. */
static icalproperty *
time_prop(icalproperty_kind kind, time_t t, const char *tz)
{
	struct icaltimetype it = icaltime_null_time();
	icalproperty *p;
	struct tm tm;

	if (is_utc(tz))
		it = icaltime_from_timet_with_zone(t, 0,
		    icaltimezone_get_utc_timezone());
	else {
		if (date_to_local(t, tz, &tm) != 0)
			return NULL;
		it.year = tm.tm_year + 1900;
		it.month = tm.tm_mon + 1;
		it.day = tm.tm_mday;
		it.hour = tm.tm_hour;
		it.minute = tm.tm_min;
		it.second = tm.tm_sec;
	}
	p = kind == ICAL_DTSTART_PROPERTY ? icalproperty_new_dtstart(it) :
	    icalproperty_new_dtend(it);
	if (!is_utc(tz))
		icalproperty_add_parameter(p, icalparameter_new_tzid(tz));
	return p;
}

static icalproperty *
organizer_prop(const struct ical_invite *inv)
{
	char *v = xasprintf("mailto:%s", inv->organizer);
	icalproperty *p = icalproperty_new_organizer(v);

	free(v);
	if (inv->organizer_name != NULL && inv->organizer_name[0] != '\0')
		icalproperty_add_parameter(p,
		    icalparameter_new_cn(inv->organizer_name));
	return p;
}

/*
 * CALENDAR.md §2: ROLE, PARTSTAT and RSVP written out, although they are
 * the defaults bar RSVP: Thunderbird shows no buttons without RSVP=TRUE.
 */
static icalproperty *
attendee_prop(const struct ical_invite *inv)
{
	char *v = xasprintf("mailto:%s", inv->attendee);
	icalproperty *p = icalproperty_new_attendee(v);
	const char *ps = inv->partstat != NULL && inv->partstat[0] != '\0' ?
	    inv->partstat : "NEEDS-ACTION";
	icalparameter *par;

	free(v);
	if (inv->attendee_name != NULL && inv->attendee_name[0] != '\0')
		icalproperty_add_parameter(p,
		    icalparameter_new_cn(inv->attendee_name));
	icalproperty_add_parameter(p,
	    icalparameter_new_cutype(ICAL_CUTYPE_INDIVIDUAL));
	icalproperty_add_parameter(p,
	    icalparameter_new_role(ICAL_ROLE_REQPARTICIPANT));
	if (inv->method == ICAL_REQUEST) {
		par = icalparameter_new_from_value_string(
		    ICAL_PARTSTAT_PARAMETER, ps);
		if (par == NULL)
			par = icalparameter_new_partstat(
			    ICAL_PARTSTAT_NEEDSACTION);
		icalproperty_add_parameter(p, par);
		icalproperty_add_parameter(p,
		    icalparameter_new_rsvp(ICAL_RSVP_TRUE));
	}
	return p;
}

/* The first X-LIC-ERROR libical left in c, or "". */
static void
first_error(icalcomponent *c, char err[BOTU_ERRLEN])
{
	icalproperty *p;
	icalcomponent *k;

	p = icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY);
	if (p != NULL) {
		snprintf(err, BOTU_ERRLEN, "iCalendar check: %s",
		    icalproperty_get_xlicerror(p));
		return;
	}
	for (k = icalcomponent_get_first_component(c, ICAL_ANY_COMPONENT);
	    k != NULL && err[0] == '\0';
	    k = icalcomponent_get_next_component(c, ICAL_ANY_COMPONENT))
		first_error(k, err);
}

/* RFC 5546 §3.2 restrictions for the METHOD, on a copy (the check adds
 * X-LIC-ERROR properties to what it checks). */
static int
restrictions_ok(icalcomponent *cal, char err[BOTU_ERRLEN])
{
	icalcomponent *copy = icalcomponent_new_clone(cal);
	int ok;

	err[0] = '\0';
	ok = icalrestriction_check(copy) && icalcomponent_count_errors(copy)
	    == 0;
	if (!ok) {
		first_error(copy, err);
		if (err[0] == '\0')
			snprintf(err, BOTU_ERRLEN, "iCalendar check failed");
	}
	icalcomponent_free(copy);
	return ok;
}

static icalcomponent *
event_new(const struct ical_invite *inv, icalproperty *dtstart,
    icalproperty *dtend)
{
	icalcomponent *ev = icalcomponent_vanew(ICAL_VEVENT_COMPONENT,
	    icalproperty_new_uid(inv->uid),
	    icalproperty_new_dtstamp(icaltime_from_timet_with_zone(
	    inv->dtstamp, 0, icaltimezone_get_utc_timezone())),
	    icalproperty_new_sequence(inv->sequence),
	    dtstart, dtend,
	    icalproperty_new_summary(inv->summary != NULL ? inv->summary :
	    ""),
	    icalproperty_new_status(inv->method == ICAL_CANCEL ?
	    ICAL_STATUS_CANCELLED : ICAL_STATUS_CONFIRMED),
	    icalproperty_new_transp(ICAL_TRANSP_OPAQUE),
	    organizer_prop(inv), attendee_prop(inv), (void *)0);

	if (inv->location != NULL && inv->location[0] != '\0')
		icalcomponent_add_property(ev,
		    icalproperty_new_location(inv->location));
	if (inv->description != NULL && inv->description[0] != '\0')
		icalcomponent_add_property(ev,
		    icalproperty_new_description(inv->description));
	return ev;
}

int
ical_invite_new(const struct ical_invite *inv, char **out,
    char err[BOTU_ERRLEN])
{
	icalcomponent *cal = NULL, *vtz = NULL;
	icalproperty *dtstart = NULL, *dtend = NULL;
	const char *tz = inv->tz != NULL ? inv->tz : "UTC";
	int rc = BOTU_EDATA;

	*out = NULL;
	if (!is_utc(tz) && (vtz = vtimezone_new(tz, inv->start)) == NULL) {
		snprintf(err, BOTU_ERRLEN, "unknown time zone '%s'", tz);
		goto out;
	}
	dtstart = time_prop(ICAL_DTSTART_PROPERTY, inv->start, tz);
	dtend = time_prop(ICAL_DTEND_PROPERTY, inv->end, tz);
	if (dtstart == NULL || dtend == NULL || inv->end <= inv->start) {
		snprintf(err, BOTU_ERRLEN, "the meeting's times are not "
		    "usable");
		goto out;
	}
	cal = icalcomponent_vanew(ICAL_VCALENDAR_COMPONENT,
	    icalproperty_new_prodid(PRODID),
	    icalproperty_new_version("2.0"),
	    icalproperty_new_calscale("GREGORIAN"),
	    icalproperty_new_method(inv->method == ICAL_CANCEL ?
	    ICAL_METHOD_CANCEL : ICAL_METHOD_REQUEST), (void *)0);
	if (vtz != NULL)
		icalcomponent_add_component(cal, vtz);
	vtz = NULL;
	icalcomponent_add_component(cal, event_new(inv, dtstart, dtend));
	dtstart = dtend = NULL;
	if (!restrictions_ok(cal, err))
		goto out;
	*out = icalcomponent_as_ical_string_r(cal);
	rc = BOTU_OK;
out:
	if (dtstart != NULL)
		icalproperty_free(dtstart);
	if (dtend != NULL)
		icalproperty_free(dtend);
	if (vtz != NULL)
		icalcomponent_free(vtz);
	if (cal != NULL)
		icalcomponent_free(cal);
	return rc;
}

/* ---- reading ---- */

char *
ical_address(const char *value)
{
	char *s = xstrdup(value != NULL ? value : ""), *p;

	str_trim(s);
	p = s;
	if (strncasecmp(p, "mailto:", 7) == 0)
		p += 7;
	p = xstrdup(p);
	free(s);
	return str_lower(str_trim(p));
}

static char *
upper_dup(const char *s)
{
	char *u = xstrdup(s != NULL ? s : "");

	for (char *p = u; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return u;
}

static char *
text_dup(const char *s)
{
	return utf8_sanitize(s != NULL ? s : "");
}

/* PARTSTAT as written, upper case: an X- name keeps its own name. */
static char *
partstat_of(icalproperty *p)
{
	icalparameter *ps = icalproperty_get_first_parameter(p,
	    ICAL_PARTSTAT_PARAMETER);
	icalparameter_partstat v;

	if (ps == NULL)
		return xstrdup("");
	v = icalparameter_get_partstat(ps);
	if (v == ICAL_PARTSTAT_X || v == ICAL_PARTSTAT_NONE)
		return upper_dup(icalparameter_get_xvalue(ps));
	return upper_dup(icalparameter_enum_to_string(v));
}

static void
read_attendees(icalcomponent *ev, struct ical_parsed *out)
{
	icalproperty *p;
	icalparameter *cn;
	struct ical_attendee *a;

	for (p = icalcomponent_get_first_property(ev, ICAL_ATTENDEE_PROPERTY);
	    p != NULL;
	    p = icalcomponent_get_next_property(ev, ICAL_ATTENDEE_PROPERTY)) {
		out->attendees = xrealloc(out->attendees,
		    (out->nattendees + 1) * sizeof(*out->attendees));
		a = &out->attendees[out->nattendees++];
		a->address = ical_address(icalproperty_get_attendee(p));
		cn = icalproperty_get_first_parameter(p, ICAL_CN_PARAMETER);
		a->name = text_dup(cn != NULL ? icalparameter_get_cn(cn) :
		    "");
		a->partstat = partstat_of(p);
	}
}

static void
read_event(icalcomponent *ev, struct ical_parsed *out)
{
	icalproperty *p;
	struct icaltimetype st;

	out->has_event = 1;
	free(out->uid);
	out->uid = text_dup(icalcomponent_get_uid(ev));
	str_trim(out->uid);
	p = icalcomponent_get_first_property(ev, ICAL_SEQUENCE_PROPERTY);
	out->sequence = p != NULL ? icalproperty_get_sequence(p) : 0;
	if (out->sequence < 0)
		out->sequence = 0;
	p = icalcomponent_get_first_property(ev, ICAL_DTSTAMP_PROPERTY);
	if (p != NULL) {
		st = icalproperty_get_dtstamp(p);
		if (!icaltime_is_null_time(st) && icaltime_is_valid_time(st))
			out->dtstamp = icaltime_as_timet_with_zone(st,
			    icaltimezone_get_utc_timezone());
	}
	p = icalcomponent_get_first_property(ev, ICAL_ORGANIZER_PROPERTY);
	free(out->organizer);
	out->organizer = ical_address(p != NULL ?
	    icalproperty_get_organizer(p) : "");
	p = icalcomponent_get_first_property(ev, ICAL_COMMENT_PROPERTY);
	free(out->comment);
	out->comment = text_dup(p != NULL ? icalproperty_get_comment(p) :
	    "");
	str_trim(out->comment);
	p = icalcomponent_get_first_property(ev, ICAL_SUMMARY_PROPERTY);
	free(out->summary);
	out->summary = text_dup(p != NULL ? icalproperty_get_summary(p) :
	    "");
	read_attendees(ev, out);
}

/* The VCALENDAR in root: root itself, or the first in an XROOT. */
static icalcomponent *
vcalendar_of(icalcomponent *root)
{
	if (icalcomponent_isa(root) == ICAL_VCALENDAR_COMPONENT)
		return root;
	return icalcomponent_get_first_component(root,
	    ICAL_VCALENDAR_COMPONENT);
}

static void
parsed_init(struct ical_parsed *out)
{
	memset(out, 0, sizeof(*out));
	out->method = xstrdup("");
	out->prodid = xstrdup("");
	out->uid = xstrdup("");
	out->organizer = xstrdup("");
	out->comment = xstrdup("");
	out->summary = xstrdup("");
}

int
ical_parse(const char *text, struct ical_parsed *out)
{
	icalcomponent *root, *cal, *ev;
	icalproperty *p;

	parsed_init(out);
	root = icalparser_parse_string(text != NULL ? text : "");
	cal = root != NULL ? vcalendar_of(root) : NULL;
	if (cal == NULL) {
		if (root != NULL)
			icalcomponent_free(root);
		ical_parsed_clear(out);
		return BOTU_EDATA;
	}
	p = icalcomponent_get_first_property(cal, ICAL_METHOD_PROPERTY);
	free(out->method);
	out->method = upper_dup(p != NULL ?
	    icalproperty_get_value_as_string(p) : "");
	p = icalcomponent_get_first_property(cal, ICAL_PRODID_PROPERTY);
	free(out->prodid);
	out->prodid = text_dup(p != NULL ? icalproperty_get_prodid(p) : "");
	ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
	if (ev != NULL)
		read_event(ev, out);
	icalcomponent_free(root);
	return BOTU_OK;
}

void
ical_parsed_clear(struct ical_parsed *p)
{
	if (p == NULL)
		return;
	free(p->method);
	free(p->prodid);
	free(p->uid);
	free(p->organizer);
	free(p->comment);
	free(p->summary);
	for (size_t i = 0; i < p->nattendees; i++) {
		free(p->attendees[i].address);
		free(p->attendees[i].name);
		free(p->attendees[i].partstat);
	}
	free(p->attendees);
	memset(p, 0, sizeof(*p));
}
