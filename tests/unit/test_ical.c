/*
 * Unit tests of ical.c: the invitations botu writes (REQUEST, an update,
 * CANCEL) read back by libical and by independent readers
 * (tests/check-ical.py: python3-icalendar, python3-vobject, khal), and the
 * replies botu reads, in the shapes the calendars write them.
 */
#include "testutil.h"

#include <sys/wait.h>

#include "botu/ical.h"
#include "botu/message.h"
#include "botu/util.h"

/* 2026-12-10 19:30 in Amsterdam (CET, UTC+1) is 18:30 UTC. */
#define START ((time_t)1796927400)
#define DAYTIME_SUMMER ((time_t)1783272600)	/* 2026-07-05 19:30 CEST */

static struct ical_invite
sample(void)
{
	struct ical_invite inv = {
		.method = ICAL_REQUEST,
		.uid = "botu-1-abcdefghijklmnopqrstuvwxyz@lsabewoners.nl",
		.sequence = 0,
		.dtstamp = START - 86400 * 7,
		.start = START,
		.end = START + 2 * 3600,
		.tz = "Europe/Amsterdam",
		.summary = "Buurtoverleg; agenda, koffie & taart \xe2\x80\x93 "
		    "caf\xc3\xa9 \"De Hoek\"",
		.location = "Buurthuis De Hoek, Schiedamseweg 1",
		.description = "We kiezen samen de volgende stap.\nTot dan!",
		.organizer = "annerike@lsabewoners.nl",
		.organizer_name = "Energie BoTu",
		.attendee = "jan@example.org",
		.attendee_name = "de Vries, Jan",
	};
	return inv;
}

/* Runs tests/check-ical.py on ics with the expectations; exit status. */
static int
check_ical(const char *ics, const char *expect, int quiet)
{
	char *dir = tmpdir_new(), *p1, *p2, *cmd = NULL;
	int st;

	p1 = write_file(dir, "invite.ics", ics, 0600);
	p2 = write_file(dir, "expect.json", expect, 0600);
	assert_true(asprintf(&cmd, "/usr/bin/python3 '%s/tests/check-ical.py'"
	    " '%s' '%s'%s", srcdir(), p1, p2, quiet ? " 2>/dev/null" : "") >
	    0);
	st = system(cmd);
	free(cmd);
	free(p1);
	free(p2);
	tmpdir_remove(dir);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_request(void **state)
{
	struct ical_invite inv = sample();
	struct ical_parsed p;
	char err[BOTU_ERRLEN], *ics = NULL;

	(void)state;
	assert_int_equal(ical_invite_new(&inv, &ics, err), BOTU_OK);
	assert_non_null(strstr(ics, "METHOD:REQUEST\r\n"));
	assert_non_null(strstr(ics, "TZID:Europe/Amsterdam\r\n"));
	assert_null(strstr(ics, "freeassociation"));
	assert_non_null(strstr(ics,
	    "DTSTART;TZID=Europe/Amsterdam:20261210T193000\r\n"));
	assert_non_null(strstr(ics, "RSVP=TRUE"));
	assert_non_null(strstr(ics, "CN=\"de Vries, Jan\""));
	assert_null(strstr(ics, "X-LIC-ERROR"));
	assert_int_equal(ical_parse(ics, &p), BOTU_OK);
	assert_string_equal(p.method, "REQUEST");
	assert_string_equal(p.uid, inv.uid);
	assert_int_equal(p.sequence, 0);
	assert_int_equal(p.dtstamp, inv.dtstamp);
	assert_string_equal(p.organizer, "annerike@lsabewoners.nl");
	assert_int_equal(p.nattendees, 1);
	assert_string_equal(p.attendees[0].address, "jan@example.org");
	assert_string_equal(p.attendees[0].partstat, "NEEDS-ACTION");
	assert_string_equal(p.summary, inv.summary);
	ical_parsed_clear(&p);
	assert_int_equal(check_ical(ics, "{\"method\": \"REQUEST\", "
	    "\"sequence\": 0, \"status\": \"CONFIRMED\", "
	    "\"uid\": \"botu-1-abcdefghijklmnopqrstuvwxyz@lsabewoners.nl\", "
	    "\"summary\": \"Buurtoverleg; agenda, koffie & taart \\u2013 "
	    "caf\\u00e9 \\\"De Hoek\\\"\", "
	    "\"location\": \"Buurthuis De Hoek, Schiedamseweg 1\", "
	    "\"description\": \"We kiezen samen de volgende stap.\\nTot "
	    "dan!\", \"organizer\": \"annerike@lsabewoners.nl\", "
	    "\"organizer_name\": \"Energie BoTu\", "
	    "\"attendee\": \"jan@example.org\", "
	    "\"attendee_name\": \"de Vries, Jan\", "
	    "\"start\": \"2026-12-10 19:30\", \"end\": \"2026-12-10 21:30\"}",
	    0), 0);
	/* The checker can fail: a wrong local time is found. */
	assert_int_equal(check_ical(ics, "{\"start\": \"2026-12-10 18:30\", "
	    "\"khal\": false}", 1), 1);
	free(ics);
}

/* Summer time, an update (SEQUENCE 2, an answer kept) and a CANCEL. */
static void
test_update_cancel(void **state)
{
	struct ical_invite inv = sample();
	char err[BOTU_ERRLEN], *ics = NULL;

	(void)state;
	inv.start = DAYTIME_SUMMER;
	inv.end = DAYTIME_SUMMER + 5400;
	inv.sequence = 2;
	inv.partstat = "ACCEPTED";
	inv.location = NULL;
	assert_int_equal(ical_invite_new(&inv, &ics, err), BOTU_OK);
	assert_non_null(strstr(ics, "SEQUENCE:2\r\n"));
	assert_null(strstr(ics, "LOCATION"));
	assert_int_equal(check_ical(ics, "{\"sequence\": 2, "
	    "\"partstat\": \"ACCEPTED\", \"start\": \"2026-07-05 19:30\", "
	    "\"end\": \"2026-07-05 21:00\"}", 0), 0);
	free(ics);
	inv.method = ICAL_CANCEL;
	inv.sequence = 3;
	assert_int_equal(ical_invite_new(&inv, &ics, err), BOTU_OK);
	assert_non_null(strstr(ics, "METHOD:CANCEL\r\n"));
	assert_non_null(strstr(ics, "STATUS:CANCELLED\r\n"));
	assert_null(strstr(ics, "RSVP"));
	assert_int_equal(check_ical(ics, "{\"method\": \"CANCEL\", "
	    "\"sequence\": 3, \"status\": \"CANCELLED\", "
	    "\"start\": \"2026-07-05 19:30\"}", 0), 0);
	free(ics);
}

/* Other zones: libical's rules under the plain name; UTC: "Z" times. */
static void
test_zones(void **state)
{
	struct ical_invite inv = sample();
	char err[BOTU_ERRLEN], *ics = NULL;

	(void)state;
	inv.tz = "America/New_York";
	assert_int_equal(ical_invite_new(&inv, &ics, err), BOTU_OK);
	assert_non_null(strstr(ics, "TZID:America/New_York\r\n"));
	assert_null(strstr(ics, "freeassociation"));
	assert_int_equal(check_ical(ics, "{\"tz\": \"America/New_York\", "
	    "\"start\": \"2026-12-10 13:30\"}", 0), 0);
	free(ics);
	inv.tz = "UTC";
	assert_int_equal(ical_invite_new(&inv, &ics, err), BOTU_OK);
	assert_non_null(strstr(ics, "DTSTART:20261210T183000Z\r\n"));
	assert_null(strstr(ics, "VTIMEZONE"));
	free(ics);
	inv.tz = "Mars/Olympus_Mons";
	assert_int_equal(ical_invite_new(&inv, &ics, err), BOTU_EDATA);
	assert_null(ics);
	assert_non_null(strstr(err, "time zone"));
	inv.tz = "Europe/Amsterdam";
	inv.end = inv.start;
	assert_int_equal(ical_invite_new(&inv, &ics, err), BOTU_EDATA);
	assert_null(ics);
}

/* RFC 5545 §3.3.11: TEXT escaping done by libical; an empty SUMMARY. */
static void
test_escaping(void **state)
{
	struct ical_invite inv = sample();
	char err[BOTU_ERRLEN], *ics = NULL;

	(void)state;
	inv.summary = "";
	inv.description = "Regel met \\ en ; en ,";
	assert_int_equal(ical_invite_new(&inv, &ics, err), BOTU_OK);
	assert_non_null(strstr(ics, "Regel met \\\\ en \\; en \\,"));
	free(ics);
}

/* Replies as calendars write them (CALENDAR.md §6). */
static const char gmail_reply[] =
    "BEGIN:VCALENDAR\n"
    "PRODID:-//Google Inc//Google Calendar 70.9054//EN\n"
    "VERSION:2.0\n"
    "CALSCALE:GREGORIAN\n"
    "METHOD:REPLY\n"
    "BEGIN:VEVENT\n"
    "DTSTART:20261210T183000Z\n"
    "DTEND:20261210T203000Z\n"
    "DTSTAMP:20261201T120000Z\n"
    "ORGANIZER;CN=Energie BoTu:mailto:annerike@lsabewoners.nl\n"
    "UID:botu-1-abcdefghijklmnopqrstuvwxyz@lsabewoners.nl\n"
    "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=ja\n"
    " n@example.org;X-NUM-GUESTS=0:mailto:Jan@Example.org\n"
    "SEQUENCE:1\n"
    "STATUS:CONFIRMED\n"
    "SUMMARY:Buurtoverleg\n"
    "END:VEVENT\n"
    "END:VCALENDAR\n";

static const char exchange_reply[] =
    "BEGIN:VCALENDAR\r\n"
    "METHOD:REPLY\r\n"
    "PRODID:Microsoft Exchange Server 2010\r\n"
    "VERSION:2.0\r\n"
    "BEGIN:VTIMEZONE\r\n"
    "TZID:W. Europe Standard Time\r\n"
    "BEGIN:STANDARD\r\n"
    "DTSTART:16010101T030000\r\n"
    "TZOFFSETFROM:+0200\r\n"
    "TZOFFSETTO:+0100\r\n"
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r\n"
    "END:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\n"
    "DTSTART:16010101T020000\r\n"
    "TZOFFSETFROM:+0100\r\n"
    "TZOFFSETTO:+0200\r\n"
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r\n"
    "END:DAYLIGHT\r\n"
    "END:VTIMEZONE\r\n"
    "BEGIN:VEVENT\r\n"
    "ATTENDEE;PARTSTAT=Declined;CN=Piet Jansen:MAILTO:PIET@example.org\r\n"
    "COMMENT;LANGUAGE=nl-NL:Sorry\\, ik ben op vakantie.\r\n"
    "SUMMARY;LANGUAGE=nl-NL:Geweigerd: Buurtoverleg\r\n"
    "DTSTART;TZID=W. Europe Standard Time:20261210T193000\r\n"
    "DTEND;TZID=W. Europe Standard Time:20261210T213000\r\n"
    "UID:botu-1-BBBBBBBBBBBBBBBBBBBBBBBBBB@lsabewoners.nl\r\n"
    "DTSTAMP:20261202T080000Z\r\n"
    "SEQUENCE:0\r\n"
    "END:VEVENT\r\n"
    "END:VCALENDAR\r\n";

static void
test_parse_replies(void **state)
{
	struct ical_parsed p;

	(void)state;
	assert_int_equal(ical_parse(gmail_reply, &p), BOTU_OK);
	assert_string_equal(p.method, "REPLY");
	assert_int_equal(p.has_event, 1);
	assert_int_equal(p.sequence, 1);
	assert_int_equal(p.dtstamp, 1796126400);
	assert_int_equal(p.nattendees, 1);
	assert_string_equal(p.attendees[0].address, "jan@example.org");
	assert_string_equal(p.attendees[0].name, "jan@example.org");
	assert_string_equal(p.attendees[0].partstat, "ACCEPTED");
	ical_parsed_clear(&p);

	assert_int_equal(ical_parse(exchange_reply, &p), BOTU_OK);
	assert_string_equal(p.method, "REPLY");
	assert_string_equal(p.organizer, "");
	assert_string_equal(p.uid,
	    "botu-1-BBBBBBBBBBBBBBBBBBBBBBBBBB@lsabewoners.nl");
	assert_string_equal(p.attendees[0].address, "piet@example.org");
	assert_string_equal(p.attendees[0].partstat, "DECLINED");
	assert_string_equal(p.comment, "Sorry, ik ben op vakantie.");
	ical_parsed_clear(&p);

	assert_int_equal(ical_parse("hello, not a calendar", &p), BOTU_EDATA);
	assert_int_equal(ical_parse("", &p), BOTU_EDATA);
}

static void
test_address(void **state)
{
	char *a;

	(void)state;
	a = ical_address("  MAILTO:Jan@Example.ORG ");
	assert_string_equal(a, "jan@example.org");
	free(a);
	a = ical_address(NULL);
	assert_string_equal(a, "");
	free(a);
}

/* The mail in path as botu reads it, into m (message_clear() it). */
static void
read_mail(const char *path, struct message *m)
{
	char err[BOTU_ERRLEN], *raw;
	size_t len = 0;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		fail_msg("cannot read %s", path);
	raw = xmalloc(1 << 20);
	len = fread(raw, 1, (1 << 20) - 1, f);
	fclose(f);
	raw[len] = '\0';
	memset(m, 0, sizeof(*m));
	if (message_parse(raw, len, m, err) != BOTU_OK)
		fail_msg("%s: %s", path, err);
	free(raw);
}

/*
 * The project's samples of each client family (tests/data/intent): the
 * answer is read from the calendar part, whatever the subject says.
 */
static void
test_reply_samples(void **state)
{
	static const struct {
		const char	*file;
		const char	*partstat;
	} s[] = {
		{ "nl-rsvp-outlook-accepted.eml", "ACCEPTED" },
		{ "en-rsvp-gmail-declined.eml", "DECLINED" },
		{ "en-rsvp-thunderbird-tentative.eml", "TENTATIVE" },
	};
	struct message m;
	struct ical_parsed p;
	char *path;

	(void)state;
	for (size_t i = 0; i < NELEM(s); i++) {
		path = xasprintf("%s/tests/data/intent/%s", srcdir(),
		    s[i].file);
		read_mail(path, &m);
		assert_non_null(m.calendar);
		assert_string_equal(m.calendar_method, "REPLY");
		assert_int_equal(ical_parse(m.calendar, &p), BOTU_OK);
		assert_string_equal(p.method, "REPLY");
		assert_true(p.uid[0] != '\0');
		assert_int_equal(p.nattendees, 1);
		if (strcmp(p.attendees[0].partstat, s[i].partstat) != 0)
			fail_msg("%s: PARTSTAT %s, want %s", s[i].file,
			    p.attendees[0].partstat, s[i].partstat);
		ical_parsed_clear(&p);
		message_clear(&m);
		free(path);
	}
}

/* Verbatim third-party invitations (../shared/corpora/mime). */
static void
test_corpus_requests(void **state)
{
	const char *base = getenv("BOTU_CORPUS");
	struct message m;
	struct ical_parsed p;
	char *path;

	(void)state;
	if (base == NULL || access(base, R_OK) != 0) {
		printf("   no corpus at %s: skipped\n",
		    base != NULL ? base : "(unset)");
		skip();
	}
	path = xasprintf("%s/mime/postalmime_calendar-event.eml", base);
	read_mail(path, &m);
	free(path);
	assert_non_null(m.calendar);
	assert_string_equal(m.calendar_method, "REQUEST");
	assert_int_equal(ical_parse(m.calendar, &p), BOTU_OK);
	assert_string_equal(p.method, "REQUEST");
	assert_string_equal(p.uid, "1utaf3eftt1agbnisfcc3a5ps0@google.com");
	assert_string_equal(p.organizer, "andris@postalsys.com");
	assert_true(p.nattendees >= 2);
	assert_string_equal(p.attendees[0].partstat, "ACCEPTED");
	assert_string_equal(p.attendees[1].partstat, "NEEDS-ACTION");
	ical_parsed_clear(&p);
	message_clear(&m);

	path = xasprintf("%s/mime/phpmime_m0020.eml", base);
	read_mail(path, &m);
	free(path);
	assert_non_null(m.calendar);
	assert_string_equal(m.calendar_method, "REQUEST");
	assert_int_equal(ical_parse(m.calendar, &p), BOTU_OK);
	assert_string_equal(p.method, "REQUEST");
	assert_int_equal(p.has_event, 1);
	assert_true(p.uid[0] != '\0');
	ical_parsed_clear(&p);
	message_clear(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_update_cancel),
		cmocka_unit_test(test_zones),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_parse_replies),
		cmocka_unit_test(test_address),
		cmocka_unit_test(test_reply_samples),
		cmocka_unit_test(test_corpus_requests),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
