/*
 * Unit tests of meetings and answers on a real database: an added meeting
 * queues one invitation per member (the calendar part checked by
 * tests/check-ical.py), a REPLY for the member's own UID is recorded, one
 * naming another member or a UID botu never issued is not, "ja"/"nee" by
 * mail counts only From the member, an update raises SEQUENCE and asks
 * again, a cancellation is METHOD:CANCEL, reminders go once, and the
 * digest's list of what is coming.
 */
#include "testutil.h"

#include <sys/wait.h>
#include <sqlite3.h>

#include "botu/classify.h"
#include "botu/config.h"
#include "botu/db.h"
#include "botu/handle.h"
#include "botu/meetings.h"
#include "botu/memberdata.h"
#include "botu/members.h"
#include "botu/message.h"
#include "botu/retention.h"
#include "botu/rsvp.h"
#include "botu/util.h"

#define LIST "annerike@lsabewoners.nl"

struct fx {
	char		*dir;
	struct botu_conf *conf;
	struct botu_db	*db;
	int		 n;
	int64_t		 jan, piet;
};

static void
add_member(struct fx *f, const char *email, const char *name, int core,
    int64_t *id)
{
	struct member m = { 0 };
	char err[BOTU_ERRLEN];

	m.email = (char *)email;
	m.name = (char *)name;
	m.status = "active";
	m.core = core;
	if (members_add(f->db, &m, "test", NULL, err) != BOTU_OK)
		fail_msg("%s", err);
	*id = m.id;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[BOTU_ERRLEN], *path = NULL;
	struct botu_conf *c = conf_defaults();
	int64_t id;

	f->dir = tmpdir_new();
	free(c->list.address);
	c->list.address = xstrdup(LIST);
	free(c->list.name);
	c->list.name = xstrdup("Energie BoTu");
	free(c->list.templates);
	assert_true(asprintf(&c->list.templates, "%s/templates",
	    srcdir()) > 0);
	f->conf = c;
	assert_true(asprintf(&path, "%s/botu.db", f->dir) > 0);
	if (db_open(path, DB_READWRITE, &f->db, err) != BOTU_OK)
		fail_msg("%s", err);
	free(path);
	add_member(f, "jan@example.org", "Jan de Vries", 1, &f->jan);
	add_member(f, "piet@example.org", "Piet", 0, &f->piet);
	add_member(f, "gone@example.org", "", 0, &id);
	assert_int_equal(members_set_status(f->db, id, "unsubscribed",
	    "unsubscribe", "test", NULL, NULL), BOTU_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	db_close(f->db);
	conf_free(f->conf);
	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static long long
sql_int(struct fx *f, const char *fmt, ...)
{
	sqlite3_stmt *st;
	char *sql = NULL;
	long long v = -1;
	va_list ap;

	va_start(ap, fmt);
	assert_true(vasprintf(&sql, fmt, ap) > 0);
	va_end(ap);
	assert_int_equal(sqlite3_prepare_v2(db_sqlite(f->db), sql, -1, &st,
	    NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	free(sql);
	return v;
}

static char *
sql_text(struct fx *f, const char *fmt, ...)
{
	sqlite3_stmt *st;
	char *sql = NULL, *v = NULL;
	va_list ap;

	va_start(ap, fmt);
	assert_true(vasprintf(&sql, fmt, ap) > 0);
	va_end(ap);
	assert_int_equal(sqlite3_prepare_v2(db_sqlite(f->db), sql, -1, &st,
	    NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (v == NULL)
		fail_msg("no row for: %s", sql);
	free(sql);
	return v;
}

/* A meeting a week from now, 2 hours. */
static int64_t
plan(struct fx *f, const char *audience, int *queued)
{
	struct meeting m = { 0 };
	char err[BOTU_ERRLEN];

	m.title = "Buurtoverleg warmtenet";
	m.location = "Buurthuis De Hoek";
	m.start_at = time(NULL) + 7 * 86400;
	m.end_at = m.start_at + 7200;
	m.audience = (char *)audience;
	if (meetings_add(f->db, f->conf, &m, "test", queued, err) != BOTU_OK)
		fail_msg("%s", err);
	return m.id;
}

/* Hands one raw mail to botu as the daemon does. */
static struct intake_decision
deliver(struct fx *f, const char *raw)
{
	struct intake_decision d;
	struct classification c;
	struct message m = { 0 };
	char err[BOTU_ERRLEN] = "";

	assert_int_equal(message_parse(raw, strlen(raw), &m, err), BOTU_OK);
	if (handle_decide(f->conf, f->db, &m, 0, &c, &d, err) != BOTU_OK)
		fail_msg("handle_decide: %s", err);
	classification_clear(&c);
	message_clear(&m);
	return d;
}

/* A Gmail-like REPLY from `from` answering for `attendee` on uid. */
static struct intake_decision
reply(struct fx *f, const char *from, const char *attendee, const char *uid,
    int seq, const char *partstat)
{
	struct intake_decision d;
	char *raw = NULL;

	assert_true(asprintf(&raw, "From: %s\nTo: " LIST "\n"
	    "Subject: Accepted: Buurtoverleg\nMessage-ID: <r%d@example.org>\n"
	    "Auto-Submitted: auto-generated\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/alternative; boundary=b\n\n--b\n"
	    "Content-Type: text/plain; charset=utf-8\n\nAnswered.\n--b\n"
	    "Content-Type: text/calendar; method=REPLY; charset=UTF-8\n\n"
	    "BEGIN:VCALENDAR\nPRODID:-//Google Inc//Google Calendar//EN\n"
	    "VERSION:2.0\nMETHOD:REPLY\nBEGIN:VEVENT\n"
	    "DTSTART:20261210T183000Z\nDTSTAMP:20261201T1%05dZ\n"
	    "ORGANIZER:mailto:" LIST "\nUID:%s\nSEQUENCE:%d\n"
	    "ATTENDEE;PARTSTAT=%s;CN=x:mailto:%s\nCOMMENT:tot dan\n"
	    "END:VEVENT\nEND:VCALENDAR\n--b--\n", from, f->n + 1, f->n + 1,
	    uid,
	    seq, partstat, attendee) > 0);
	f->n++;
	d = deliver(f, raw);
	free(raw);
	return d;
}

static char *
uid_of(struct fx *f, int64_t meeting, int64_t member)
{
	return sql_text(f, "SELECT uid FROM meeting_invites WHERE meeting_id"
	    " = %lld AND member_id = %lld", (long long)meeting,
	    (long long)member);
}

static char *
partstat_of(struct fx *f, int64_t meeting, int64_t member)
{
	return sql_text(f, "SELECT partstat FROM meeting_invites WHERE "
	    "meeting_id = %lld AND member_id = %lld", (long long)meeting,
	    (long long)member);
}

static void
assert_partstat(struct fx *f, int64_t meeting, int64_t member,
    const char *want)
{
	char *got = partstat_of(f, meeting, member);

	if (strcmp(got, want) != 0)
		fail_msg("PARTSTAT %s, want %s", got, want);
	free(got);
}

/* Runs check-ical.py --eml on the newest outbox mail to rcpt. */
static int
check_mail(struct fx *f, const char *rcpt, const char *expect)
{
	char *path, *exp, *cmd = NULL, *body;
	int st;

	body = sql_text(f, "SELECT CAST(body AS TEXT) FROM outbox WHERE rcpt"
	    " = '%s' ORDER BY id DESC LIMIT 1", rcpt);
	path = write_file(f->dir, "mail.eml", body, 0600);
	free(body);
	exp = write_file(f->dir, "expect.json", expect, 0600);
	assert_true(asprintf(&cmd, "/usr/bin/python3 '%s/tests/check-ical.py'"
	    " --eml '%s' '%s'", srcdir(), path, exp) > 0);
	st = system(cmd);
	free(cmd);
	free(exp);
	free(path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_invite_and_replies(void **state)
{
	struct fx *f = *state;
	struct intake_decision d;
	char err[BOTU_ERRLEN], *jan_uid, *piet_uid, *reply_to, *json;
	int queued = -1;
	int64_t id = plan(f, "all", &queued);

	/* One invitation per active member; none for the one who left. */
	assert_int_equal(queued, 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE kind "
	    "= 'invite'"), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE rcpt "
	    "= 'gone@example.org'"), 0);
	jan_uid = uid_of(f, id, f->jan);
	piet_uid = uid_of(f, id, f->piet);
	assert_string_not_equal(jan_uid, piet_uid);
	assert_int_equal(check_mail(f, "jan@example.org", "{\"method\": "
	    "\"REQUEST\", \"sequence\": 0, \"to\": \"jan@example.org\", "
	    "\"attendee\": \"jan@example.org\", \"attendee_name\": "
	    "\"Jan de Vries\", \"organizer\": \"" LIST "\", \"summary\": "
	    "\"Buurtoverleg warmtenet\", \"location\": \"Buurthuis De Hoek\","
	    " \"khal\": false}"), 0);
	/* The mail's Reply-To is Jan's own answer address. */
	reply_to = rsvp_reply_detail(jan_uid);
	assert_non_null(reply_to);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE rcpt "
	    "= 'jan@example.org' AND instr(CAST(body AS TEXT), "
	    "'Reply-To: annerike+%s@lsabewoners.nl') > 0", reply_to), 1);
	free(reply_to);

	/* Jan accepts (Gmail marks it automatic: it still counts). */
	d = reply(f, "jan@example.org", "jan@example.org", jan_uid, 0,
	    "ACCEPTED");
	assert_int_equal(d.act, 1);
	assert_string_equal(d.intent, "rsvp");
	assert_partstat(f, id, f->jan, "ACCEPTED");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE rcpt "
	    "= 'jan@example.org' AND kind != 'invite'"), 0);

	/* Jan, holding his own UID, cannot answer for Piet. */
	d = reply(f, "jan@example.org", "piet@example.org", jan_uid, 0,
	    "DECLINED");
	assert_int_equal(d.act, 0);
	assert_partstat(f, id, f->jan, "ACCEPTED");
	assert_partstat(f, id, f->piet, "NEEDS-ACTION");

	/* Piet's UID from another address of his counts for Piet only. */
	d = reply(f, "p.other@example.net", "p.other@example.net", piet_uid,
	    0, "TENTATIVE");
	assert_int_equal(d.act, 1);
	assert_partstat(f, id, f->piet, "TENTATIVE");
	assert_partstat(f, id, f->jan, "ACCEPTED");

	/* A UID botu never issued stays for a person. */
	d = reply(f, "jan@example.org", "jan@example.org",
	    "040000008200E00074C5B7101A82E008@outlook.com", 0, "DECLINED");
	assert_int_equal(d.act, 0);
	assert_partstat(f, id, f->jan, "ACCEPTED");

	/* Piet's own data ("mijn gegevens") lists the meeting, his answer. */
	assert_int_equal(memberdata_json(f->db, f->piet, &json), BOTU_OK);
	assert_non_null(strstr(json, "\"title\":\"Buurtoverleg warmtenet\""));
	assert_non_null(strstr(json, "\"answer\":\"TENTATIVE\""));
	free(json);

	/* Forgetting Piet forgets his invitation and his answer. */
	assert_int_equal(retention_erase(f->db, "piet@example.org",
	    RETENTION_FORGOTTEN, "test", NULL, err), BOTU_OK);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM meeting_invites "
	    "WHERE member_id = %lld", (long long)f->piet), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM events WHERE "
	    "kind = 'rsvp' AND detail LIKE '%%p.other%%'"), 0);
	free(jan_uid);
	free(piet_uid);
}

static char *
mail_answer(struct fx *f, const char *from, const char *detail,
    const char *body)
{
	char *raw = NULL;

	assert_true(asprintf(&raw, "From: %s\nTo: annerike+%s@lsabewoners.nl"
	    "\nSubject: Re: Uitnodiging: Buurtoverleg\nMessage-ID: "
	    "<a%d@example.org>\nMIME-Version: 1.0\nContent-Type: text/plain;"
	    " charset=utf-8\n\n%s\n\nOp 1 dec. 2026 schreef Energie BoTu:\n"
	    "> Kom je? Ja of nee\n", from, detail, ++f->n, body) > 0);
	return raw;
}

static void
test_answer_by_mail(void **state)
{
	struct fx *f = *state;
	struct intake_decision d;
	char *uid, *detail, *raw;
	int64_t id = plan(f, "all", NULL);

	uid = uid_of(f, id, f->piet);
	detail = rsvp_reply_detail(uid);
	/* Jan forges an answer for Piet's invitation: refused. */
	raw = mail_answer(f, "jan@example.org", detail, "Nee");
	d = deliver(f, raw);
	free(raw);
	assert_string_equal(d.intent, "rsvp");
	assert_int_equal(d.act, 0);
	assert_partstat(f, id, f->piet, "NEEDS-ACTION");
	/* Piet says no, then "Ja hoor, ik kom!". */
	raw = mail_answer(f, "Piet <PIET@example.org>", detail, "Nee, "
	    "helaas.\n\nPiet");
	d = deliver(f, raw);
	free(raw);
	assert_int_equal(d.act, 1);
	assert_partstat(f, id, f->piet, "DECLINED");
	raw = mail_answer(f, "piet@example.org", detail, "Ja hoor, ik kom!");
	d = deliver(f, raw);
	free(raw);
	assert_int_equal(d.act, 1);
	assert_partstat(f, id, f->piet, "ACCEPTED");
	/* Unclear words stay for a person and change nothing. */
	raw = mail_answer(f, "piet@example.org", detail, "Hoe laat was het "
	    "ook alweer?");
	d = deliver(f, raw);
	free(raw);
	assert_int_equal(d.act, 0);
	assert_partstat(f, id, f->piet, "ACCEPTED");
	free(detail);
	free(uid);

	assert_string_equal(rsvp_words("Misschien, ik laat het weten"),
	    "TENTATIVE");
	assert_null(rsvp_words("ja, misschien"));
	assert_null(rsvp_words("Hallo"));
	assert_string_equal(rsvp_words("Yes!"), "ACCEPTED");
	assert_null(rsvp_reply_detail("040000008200E0@outlook.com"));
}

static void
test_update_cancel(void **state)
{
	struct fx *f = *state;
	struct meeting_change c = { 0 };
	struct intake_decision d;
	struct meeting m;
	char err[BOTU_ERRLEN], *uid;
	int queued = 0;
	int64_t id = plan(f, "all", NULL);

	uid = uid_of(f, id, f->jan);
	d = reply(f, "jan@example.org", "jan@example.org", uid, 0,
	    "ACCEPTED");
	assert_int_equal(d.act, 1);
	/* A new title only: SEQUENCE 1, the answer stands. */
	c.title = "Buurtoverleg warmtenet (2)";
	assert_int_equal(meetings_update(f->db, f->conf, id, &c, "test",
	    &queued, err), BOTU_OK);
	assert_int_equal(queued, 2);
	assert_partstat(f, id, f->jan, "ACCEPTED");
	assert_int_equal(check_mail(f, "jan@example.org", "{\"method\": "
	    "\"REQUEST\", \"sequence\": 1, \"partstat\": \"ACCEPTED\", "
	    "\"summary\": \"Buurtoverleg warmtenet (2)\", \"khal\": false}"),
	    0);
	/* A new place: SEQUENCE 2, everybody is asked again. */
	c.title = NULL;
	c.location = "Bibliotheek";
	assert_int_equal(meetings_update(f->db, f->conf, id, &c, "test",
	    &queued, err), BOTU_OK);
	assert_partstat(f, id, f->jan, "NEEDS-ACTION");
	assert_int_equal(check_mail(f, "jan@example.org", "{\"sequence\": 2,"
	    " \"partstat\": \"NEEDS-ACTION\", \"location\": \"Bibliotheek\", "
	    "\"khal\": false}"), 0);
	/* An answer to the old place (SEQUENCE 1) no longer counts. */
	d = reply(f, "jan@example.org", "jan@example.org", uid, 1,
	    "ACCEPTED");
	assert_int_equal(d.act, 1);
	assert_partstat(f, id, f->jan, "NEEDS-ACTION");
	d = reply(f, "jan@example.org", "jan@example.org", uid, 2,
	    "DECLINED");
	assert_partstat(f, id, f->jan, "DECLINED");
	/* Nothing changed: nothing sent. */
	assert_int_equal(meetings_update(f->db, f->conf, id, &c, "test",
	    &queued, err), BOTU_OK);
	assert_int_equal(queued, 0);

	assert_int_equal(meetings_cancel(f->db, f->conf, id, "test", &queued,
	    err), BOTU_OK);
	assert_int_equal(queued, 2);
	assert_int_equal(check_mail(f, "piet@example.org", "{\"method\": "
	    "\"CANCEL\", \"sequence\": 3, \"status\": \"CANCELLED\", "
	    "\"khal\": false}"), 0);
	assert_int_equal(meetings_get(f->db, id, &m), 1);
	assert_string_equal(m.status, "cancelled");
	meeting_clear(&m);
	assert_int_equal(meetings_cancel(f->db, f->conf, id, "test", &queued,
	    err), BOTU_EPERM);
	assert_int_equal(meetings_update(f->db, f->conf, id, &c, "test",
	    &queued, err), BOTU_EPERM);
	free(uid);
}

static void
test_core_audience_and_late_joiner(void **state)
{
	struct fx *f = *state;
	struct meeting_change c = { 0 };
	char err[BOTU_ERRLEN];
	int queued = 0;
	int64_t id = plan(f, "core", &queued), kees;

	assert_int_equal(queued, 1);	/* Jan only */
	/* A member who joins later gets the meetings of their audience. */
	c.audience = "all";
	assert_int_equal(meetings_update(f->db, f->conf, id, &c, "test",
	    &queued, err), BOTU_OK);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE rcpt "
	    "= 'piet@example.org' AND kind = 'invite'"), 1);
	add_member(f, "kees@example.org", "Kees", 0, &kees);
	assert_int_equal(meetings_sync(f->db, f->conf, 0, kees, time(NULL),
	    &queued, err), BOTU_OK);
	assert_int_equal(queued, 1);
	assert_int_equal(meetings_sync(f->db, f->conf, 0, kees, time(NULL),
	    &queued, err), BOTU_OK);
	assert_int_equal(queued, 0);
	/* Back to the core team: the others get a CANCEL. */
	c.audience = "core";
	assert_int_equal(meetings_update(f->db, f->conf, id, &c, "test",
	    &queued, err), BOTU_OK);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE kind "
	    "= 'invite-cancel'"), 2);
}

static void
test_reminders_and_upcoming(void **state)
{
	struct fx *f = *state;
	struct meeting *v = NULL;
	struct meeting_change later = { 0 };
	char err[BOTU_ERRLEN], *uid;
	int queued = 0;
	time_t next = 0, start;
	size_t n = 0;
	int64_t id = plan(f, "all", NULL);

	start = (time_t)sql_int(f, "SELECT start_at FROM meetings WHERE id ="
	    " %lld", (long long)id);
	uid = uid_of(f, id, f->piet);
	(void)reply(f, "piet@example.org", "piet@example.org", uid, 0,
	    "DECLINED");
	free(uid);
	/* Not yet due: nothing, and when it will be. */
	assert_int_equal(meetings_tick(f->db, f->conf, time(NULL), &queued,
	    &next, err), BOTU_OK);
	assert_int_equal(queued, 0);
	assert_int_equal(next, start - 24 * 3600);
	/* Due: Jan (no answer) gets one, Piet (declined) none; once. */
	assert_int_equal(meetings_tick(f->db, f->conf, start - 3600, &queued,
	    &next, err), BOTU_OK);
	assert_int_equal(queued, 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE kind "
	    "= 'reminder' AND rcpt = 'jan@example.org'"), 1);
	assert_int_equal(meetings_tick(f->db, f->conf, start - 1800, &queued,
	    &next, err), BOTU_OK);
	assert_int_equal(queued, 0);

	/* A second meeting a day later; the first leads. */
	later.start_at = start + 86400;
	later.end_at = start + 86400 + 3600;
	assert_int_equal(meetings_update(f->db, f->conf, plan(f, "core",
	    NULL), &later, "test", &queued, err), BOTU_OK);
	assert_int_equal(meetings_upcoming(f->db, time(NULL), 0, &v, &n),
	    BOTU_OK);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].title, "Buurtoverleg warmtenet");
	assert_true(v[0].start_at <= v[1].start_at);
	meetings_free(v, n);
	assert_int_equal(meetings_upcoming(f->db, time(NULL), 1, &v, &n),
	    BOTU_OK);
	assert_int_equal(n, 1);
	meetings_free(v, n);
	assert_int_equal(meetings_upcoming(f->db, start + 1, 0, &v, &n),
	    BOTU_OK);
	assert_int_equal(n, 1);
	meetings_free(v, n);
}

static void
test_bad_fields(void **state)
{
	struct fx *f = *state;
	struct meeting m = { 0 };
	char err[BOTU_ERRLEN];

	m.title = "";
	m.start_at = time(NULL) + 3600;
	m.end_at = m.start_at + 60;
	assert_int_equal(meetings_add(f->db, f->conf, &m, "test", NULL, err),
	    BOTU_EDATA);
	m.title = "Oud";
	m.start_at = time(NULL) - 3600;
	assert_int_equal(meetings_add(f->db, f->conf, &m, "test", NULL, err),
	    BOTU_EDATA);
	assert_non_null(strstr(err, "past"));
	m.start_at = time(NULL) + 3600;
	m.end_at = m.start_at;
	assert_int_equal(meetings_add(f->db, f->conf, &m, "test", NULL, err),
	    BOTU_EDATA);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM meetings"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_invite_and_replies,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_by_mail, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_update_cancel, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_core_audience_and_late_joiner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reminders_and_upcoming,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_fields, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
