/*
 * test_score.c - bounce scores, delivery states, probes, complaints and
 * VERP addresses (src/score.c, src/verp.c) on a real temporary database:
 * which report counts, how much, and what happens to the member.
 */
#include "testutil.h"

#include <math.h>
#include <time.h>

#include "botu/bounce.h"
#include "botu/config.h"
#include "botu/db.h"
#include "botu/handle.h"
#include "botu/mailout.h"
#include "botu/members.h"
#include "botu/message.h"
#include "botu/outbox.h"
#include "botu/score.h"
#include "botu/util.h"
#include "botu/verp.h"

#define LIST "annerike@lsabewoners.nl"
#define DAY (24 * 3600)

struct fixture {
	char		*dir;
	struct botu_db	*db;
	struct botu_conf *conf;
	int		 seq;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *path = NULL, err[BOTU_ERRLEN];

	f->dir = tmpdir_new();
	assert_true(asprintf(&path, "%s/botu.db", f->dir) > 0);
	assert_int_equal(db_open(path, DB_READWRITE, &f->db, err), BOTU_OK);
	free(path);
	f->conf = conf_defaults();
	free(f->conf->list.address);
	f->conf->list.address = xstrdup(LIST);
	free(f->conf->list.templates);
	f->conf->list.templates = xasprintf("%s/templates", srcdir());
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	db_close(f->db);
	conf_free(f->conf);
	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static int64_t
member(struct fixture *f, const char *email)
{
	struct member m = { 0 };
	char err[BOTU_ERRLEN];

	m.email = (char *)email;
	m.status = "active";
	assert_int_equal(members_add(f->db, &m, "cli", NULL, err), BOTU_OK);
	return m.id;
}

/* A sent mail to rcpt (member_id) of kind; its Message-ID into mid. */
static int64_t
sent(struct fixture *f, const char *kind, const char *rcpt,
    int64_t member_id, char mid[64])
{
	struct outbox_mail m = { 0 };
	char data[160];
	int64_t id = 0;

	snprintf(mid, 64, "<t%d.%lld@lsabewoners.nl>", ++f->seq,
	    (long long)time(NULL));
	snprintf(data, sizeof(data), "Message-ID: %s\r\nTo: %s\r\n\r\nHoi\r\n",
	    mid, rcpt);
	m.kind = kind;
	m.member_id = member_id;
	m.rcpt = rcpt;
	m.envelope_from = LIST;
	m.message_id = mid;
	m.data = data;
	m.len = strlen(data);
	assert_int_equal(outbox_add(f->db, &m, &id), BOTU_OK);
	assert_int_equal(outbox_sent(f->db, id, time(NULL), 250, "ok"),
	    BOTU_OK);
	return id;
}

static void
get(struct fixture *f, const char *email, struct member *m)
{
	assert_int_equal(members_get(f->db, email, m), 1);
}

static double
score_of(struct fixture *f, int64_t member_id)
{
	sqlite3_stmt *st = db_stmt(f->db,
	    "SELECT score FROM bounce_state WHERE member_id = ?");
	double s = -1;

	sqlite3_bind_int64(st, 1, member_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		s = sqlite3_column_double(st, 0);
	sqlite3_reset(st);
	return s;
}

static int64_t
count(struct fixture *f, const char *sql)
{
	sqlite3_stmt *st;
	int64_t n = -1;

	assert_int_equal(sqlite3_prepare_v2(db_sqlite(f->db), sql, -1, &st,
	    NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void
sql(struct fixture *f, const char *text)
{
	assert_int_equal(db_exec(f->db, text), BOTU_OK);
}

/* A Postfix-like report of the mail mid to rcpt, delivered to "to". */
static void
report(struct message *m, const char *to, const char *rcpt,
    const char *status, const char *mid)
{
	char *raw = xasprintf(
	    "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
	    "To: %s\r\nDelivered-To: %s\r\n"
	    "Subject: Undelivered Mail Returned to Sender\r\n"
	    "Message-ID: <dsn.%d@mx.example.org>\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status; "
	    "boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
	    "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
	    "Reporting-MTA: dns; mx.example.org\r\n\r\n"
	    "Final-Recipient: rfc822; %s\r\nAction: failed\r\n"
	    "Status: %s\r\nDiagnostic-Code: smtp; 550 %s whatever\r\n"
	    "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
	    "From: " LIST "\r\nTo: %s\r\nMessage-ID: %s\r\n\r\n--b--\r\n",
	    to, to, rand(), rcpt, status, status, rcpt, mid);
	char err[BOTU_ERRLEN];

	if (message_parse(raw, strlen(raw), m, err) != BOTU_OK)
		fail_msg("%s", err);
	free(raw);
}

/* Runs one report through match + score; returns the action line. */
static char *
apply_report(struct fixture *f, const struct message *m, int64_t want_row,
    int dry)
{
	struct bounce_report r;
	struct score_match sm;
	char action[256] = "", err[BOTU_ERRLEN];

	bounce_parse(m, &r);
	assert_int_equal(score_match(f->db, f->conf, m, &r, &sm), BOTU_OK);
	assert_int_equal(sm.outbox_id, want_row);
	if (want_row != 0) {
		assert_int_equal(db_begin(f->db), BOTU_OK);
		assert_int_equal(score_report(f->db, f->conf, m, &r, &sm, dry,
		    action, sizeof(action), err), BOTU_OK);
		assert_int_equal(db_commit(f->db), BOTU_OK);
	}
	bounce_report_clear(&r);
	return xstrdup(action);
}

/* Two hard failures within a month: bouncing; counted once per mail. */
static void
test_hard_failures(void **state)
{
	struct fixture *f = *state;
	int64_t id = member(f, "weg@example.org"), row1, row2;
	char mid1[64], mid2[64], *a;
	struct message m;
	struct member mem;

	row1 = sent(f, "welcome", "weg@example.org", id, mid1);
	row2 = sent(f, "digest", "weg@example.org", id, mid2);

	/* explain (dry) changes nothing */
	report(&m, LIST, "weg@example.org", "5.1.1", mid1);
	a = apply_report(f, &m, row1, 1);
	assert_non_null(strstr(a, "count a hard failure"));
	free(a);
	assert_true(score_of(f, id) < 0);

	a = apply_report(f, &m, row1, 0);
	assert_non_null(strstr(a, "score 1.00, limit 1.50"));
	free(a);
	assert_true(fabs(score_of(f, id) - 1.0) < 1e-6);
	/* the same report again, or another about the same mail */
	a = apply_report(f, &m, row1, 0);
	assert_non_null(strstr(a, "counted before"));
	free(a);
	message_clear(&m);
	assert_true(fabs(score_of(f, id) - 1.0) < 1e-6);
	get(f, "weg@example.org", &mem);
	assert_string_equal(mem.delivery, "on");
	member_clear(&mem);

	/* a week later the second one: 1.0 * 2^(-7/30) + 1.0 */
	sql(f, "UPDATE bounce_state SET scored_at = scored_at - 7 * 86400");
	report(&m, LIST, "weg@example.org", "5.1.1", mid2);
	a = apply_report(f, &m, row2, 0);
	message_clear(&m);
	assert_non_null(strstr(a, "delivery bouncing"));
	free(a);
	assert_true(fabs(score_of(f, id) - (pow(0.5, 7.0 / 30) + 1)) < 1e-3);
	get(f, "weg@example.org", &mem);
	assert_string_equal(mem.delivery, "bouncing");
	member_clear(&mem);
	assert_int_equal(count(f, "SELECT count(*) FROM events WHERE "
	    "kind = 'bouncing'"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM bounce_state WHERE "
	    "reason LIKE '5.1.1 hard: 550 5.1.1%' AND since IS NOT NULL"), 1);
}

/* Soft failures count a quarter and decay; policy and ours nothing. */
static void
test_soft_policy_ours(void **state)
{
	struct fixture *f = *state;
	int64_t id = member(f, "vol@example.org"), rows[8];
	char mid[64];
	struct member mem;

	for (size_t i = 0; i < NELEM(rows); i++)
		rows[i] = sent(f, "digest", "vol@example.org", id, mid);
	assert_int_equal(score_refused(f->db, rows[0],
	    "552 5.2.2 <vol@example.org>: Mailbox full"), BOTU_OK);
	assert_true(fabs(score_of(f, id) - 0.25) < 1e-6);
	/* 30 days later half is left */
	sql(f, "UPDATE bounce_state SET scored_at = scored_at - 30 * 86400");
	assert_int_equal(score_refused(f->db, rows[1],
	    "452 4.2.2 Mailbox full"), BOTU_OK);
	assert_true(fabs(score_of(f, id) - 0.375) < 1e-3);
	/* a spam refusal and "our sender" count nothing */
	assert_int_equal(score_refused(f->db, rows[2],
	    "550 5.7.1 Message rejected as spam"), BOTU_OK);
	assert_int_equal(score_refused(f->db, rows[3],
	    "550 5.7.30 Basic authentication is not supported"), BOTU_OK);
	assert_int_equal(score_refused(f->db, rows[4],
	    "553 5.1.8 <" LIST ">: Sender address rejected"), BOTU_OK);
	assert_true(fabs(score_of(f, id) - 0.375) < 1e-3);
	assert_int_equal(count(f, "SELECT count(*) FROM bounces WHERE "
	    "class = 'policy' AND score = 0"), 1);
	/* four more soft ones close together: over the limit */
	for (size_t i = 5; i < NELEM(rows); i++)
		assert_int_equal(score_refused(f->db, rows[i],
		    "552 5.2.2 Mailbox full"), BOTU_OK);
	get(f, "vol@example.org", &mem);
	assert_string_equal(mem.delivery, "on");
	member_clear(&mem);
	assert_int_equal(score_refused(f->db, sent(f, "digest",
	    "vol@example.org", id, mid), "552 5.2.2 Mailbox full"), BOTU_OK);
	assert_int_equal(score_refused(f->db, sent(f, "digest",
	    "vol@example.org", id, mid), "552 5.2.2 Mailbox full"), BOTU_OK);
	get(f, "vol@example.org", &mem);
	assert_string_equal(mem.delivery, "bouncing");
	member_clear(&mem);
}

static void
to_bouncing(struct fixture *f, int64_t id, const char *email)
{
	char mid[64];

	assert_int_equal(score_refused(f->db, sent(f, "digest", email, id,
	    mid), "550 5.1.1 User unknown"), BOTU_OK);
	assert_int_equal(score_refused(f->db, sent(f, "digest", email, id,
	    mid), "550 5.1.1 User unknown"), BOTU_OK);
}

static int64_t
probe_row(struct fixture *f, int64_t member_id)
{
	sqlite3_stmt *st = db_stmt(f->db, "SELECT coalesce(probe_outbox_id, "
	    "0) FROM bounce_state WHERE member_id = ?");
	int64_t id = -1;

	sqlite3_bind_int64(st, 1, member_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return id;
}

/* After a week a probe; refused too: disabled; writing in: on again. */
static void
test_probe_fails(void **state)
{
	struct fixture *f = *state;
	int64_t id = member(f, "dood@example.org");
	char err[BOTU_ERRLEN] = "";
	struct member mem;
	int queued = -1;

	to_bouncing(f, id, "dood@example.org");
	assert_int_equal(score_tick(f->db, f->conf, time(NULL), &queued, err),
	    BOTU_OK);
	assert_int_equal(queued, 0);
	sql(f, "UPDATE bounce_state SET since = since - 8 * 86400");
	assert_int_equal(score_tick(f->db, f->conf, time(NULL), &queued, err),
	    BOTU_OK);
	assert_int_equal(queued, 1);
	assert_true(probe_row(f, id) > 0);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE kind = "
	    "'probe' AND rcpt = 'dood@example.org' AND status = 'queued' AND "
	    "CAST(body AS TEXT) LIKE "
	    "'%Subject: Komt onze mail nog bij je aan?%'"), 1);
	/* only one probe */
	assert_int_equal(score_tick(f->db, f->conf, time(NULL), &queued, err),
	    BOTU_OK);
	assert_int_equal(queued, 0);
	/* the probe is refused: disabled */
	assert_int_equal(score_refused(f->db, probe_row(f, id),
	    "550 5.1.1 <dood@example.org>: User unknown"), BOTU_OK);
	get(f, "dood@example.org", &mem);
	assert_string_equal(mem.delivery, "disabled");
	/* the member writes in: on again, score 0 */
	assert_int_equal(score_wrote_in(f->db, &mem, "<hoi@example.org>"),
	    BOTU_OK);
	member_clear(&mem);
	get(f, "dood@example.org", &mem);
	assert_string_equal(mem.delivery, "on");
	member_clear(&mem);
	assert_true(fabs(score_of(f, id)) < 1e-9);
	assert_int_equal(count(f, "SELECT count(*) FROM events WHERE kind IN "
	    "('bouncing', 'probe', 'disabled', 'delivery-on')"), 4);
}

/* A probe that was sent a week ago and not refused: on again. */
static void
test_probe_passes(void **state)
{
	struct fixture *f = *state;
	int64_t id = member(f, "terug@example.org");
	char err[BOTU_ERRLEN] = "";
	struct member mem;
	int queued;

	to_bouncing(f, id, "terug@example.org");
	sql(f, "UPDATE bounce_state SET since = since - 8 * 86400");
	assert_int_equal(score_tick(f->db, f->conf, time(NULL), &queued, err),
	    BOTU_OK);
	assert_int_equal(queued, 1);
	/* sent, but only three days ago: still bouncing */
	sql(f, "UPDATE outbox SET status = 'sent', sent_at = strftime('%s') "
	    "- 3 * 86400 WHERE kind = 'probe'");
	assert_int_equal(score_tick(f->db, f->conf, time(NULL), &queued, err),
	    BOTU_OK);
	get(f, "terug@example.org", &mem);
	assert_string_equal(mem.delivery, "bouncing");
	member_clear(&mem);
	sql(f, "UPDATE outbox SET sent_at = sent_at - 5 * 86400 WHERE "
	    "kind = 'probe'");
	assert_int_equal(score_tick(f->db, f->conf, time(NULL), &queued, err),
	    BOTU_OK);
	get(f, "terug@example.org", &mem);
	assert_string_equal(mem.delivery, "on");
	member_clear(&mem);
	assert_true(fabs(score_of(f, id)) < 1e-9);
	assert_int_equal(probe_row(f, id), 0);
}

/* An ARF complaint about a member's mail ends the membership. */
static void
test_complaint(void **state)
{
	struct fixture *f = *state;
	int64_t id = member(f, "boos@example.org"), row;
	char mid[64], *raw, err[BOTU_ERRLEN], *a;
	struct message m;
	struct member mem;

	row = sent(f, "digest", "boos@example.org", id, mid);
	raw = xasprintf("From: staff@fbl.example.net\r\nTo: " LIST "\r\n"
	    "Subject: FW: complaint\r\nContent-Type: multipart/report; "
	    "report-type=feedback-report; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nA complaint\r\n"
	    "--b\r\nContent-Type: message/feedback-report\r\n\r\n"
	    "Feedback-Type: abuse\r\nVersion: 1\r\n"
	    "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
	    "From: " LIST "\r\nTo: redacted@example.org\r\n"
	    "Message-ID: %s\r\n\r\n--b--\r\n", mid);
	assert_int_equal(message_parse(raw, strlen(raw), &m, err), BOTU_OK);
	free(raw);
	a = apply_report(f, &m, row, 0);
	message_clear(&m);
	assert_non_null(strstr(a, "called our mail spam"));
	free(a);
	get(f, "boos@example.org", &mem);
	assert_string_equal(mem.status, "unsubscribed");
	member_clear(&mem);
	assert_int_equal(count(f, "SELECT count(*) FROM events WHERE kind = "
	    "'complaint'"), 1);
}

/* "our sender address was refused" scores nobody and raises an alert. */
static void
test_alert(void **state)
{
	struct fixture *f = *state;
	int64_t id = member(f, "lid@example.org"), row;
	char mid[64], *a;
	struct message m;

	row = sent(f, "digest", "lid@example.org", id, mid);
	report(&m, LIST, "lid@example.org", "5.7.26", mid);
	a = apply_report(f, &m, row, 0);
	message_clear(&m);
	assert_non_null(strstr(a, "tell the organiser"));
	free(a);
	assert_true(score_of(f, id) < 0);
	assert_int_equal(count(f, "SELECT count(*) FROM events WHERE kind = "
	    "'alert' AND detail LIKE '5.7.26 ours%'"), 1);
}

/* A report of someone else's mail matches nothing. */
static void
test_not_ours(void **state)
{
	struct fixture *f = *state;
	struct message m;
	char *a;

	member(f, "lid@example.org");
	report(&m, LIST, "lid@example.org", "5.1.1",
	    "<van-de-organisator@gmail.com>");
	a = apply_report(f, &m, 0, 0);
	message_clear(&m);
	free(a);
	assert_int_equal(count(f, "SELECT count(*) FROM bounces"), 0);
}

/* What the organiser reads: members list and status. */
static void
test_listings(void **state)
{
	struct fixture *f = *state;
	int64_t id = member(f, "weg@example.org");
	char *text = NULL;
	size_t len = 0;
	struct buf json;
	FILE *mem;

	member(f, "blijft@example.org");
	to_bouncing(f, id, "weg@example.org");
	assert_int_equal(db_event(f->db, 0, "alert", "mail", NULL,
	    "5.7.26 ours: unauthenticated"), BOTU_OK);

	mem = open_memstream(&text, &len);
	assert_int_equal(members_write(f->db, mem, MEMBERS_TEXT, NULL),
	    BOTU_OK);
	fclose(mem);
	assert_non_null(strstr(text, "weg@example.org"));
	assert_non_null(strstr(text, "bouncing since "));
	assert_non_null(strstr(text, ": 5.1.1 hard: 550 5.1.1 User unknown"));
	/* only the bouncing member gets the second line */
	assert_null(strstr(strstr(text, " since ") + 1, " since "));
	free(text);

	mem = open_memstream(&text, &len);
	assert_int_equal(members_write(f->db, mem, MEMBERS_JSON, NULL),
	    BOTU_OK);
	fclose(mem);
	assert_non_null(strstr(text, "\"bounce\":null"));
	assert_non_null(strstr(text, "\"bounce\":{\"score\":2.0,"
	    "\"reason\":\"5.1.1 hard: 550 5.1.1 User unknown\",\"since\":"));
	free(text);

	mem = open_memstream(&text, &len);
	score_status_text(f->db, f->conf, mem);
	fclose(mem);
	assert_non_null(strstr(text, "  bouncing weg@example.org since "));
	assert_non_null(strstr(text, "2 delivery reports about members' "
	    "mail in the last 30 days"));
	assert_non_null(strstr(text, "ALERT "));
	assert_non_null(strstr(text, "our sending was refused: 5.7.26 ours"));
	free(text);

	buf_init(&json);
	assert_int_equal(score_status_json(f->db, &json), BOTU_OK);
	assert_non_null(strstr(json.s, "\"bouncing\":1,\"disabled\":0,"
	    "\"reports\":2,"));
	assert_non_null(strstr(json.s, "\"kind\":\"alert\""));
	buf_free(&json);
}

/* ---- VERP ---- */

static void
test_verp_addresses(void **state)
{
	struct fixture *f = *state;
	char *a = NULL, *b = NULL, *detail, *at, *mac;
	int64_t id = -1;

	assert_int_equal(db_begin(f->db), BOTU_OK);
	assert_int_equal(verp_address(f->db, f->conf, 1, &a), BOTU_OK);
	assert_int_equal(verp_address(f->db, f->conf, 1, &b), BOTU_OK);
	assert_int_equal(db_commit(f->db), BOTU_OK);
	/* annerike+bounce-b-<13>@lsabewoners.nl, the same each time */
	assert_string_equal(a, b);
	assert_int_equal(strncmp(a, "annerike+bounce-b-", 18), 0);
	at = strchr(a, '@');
	assert_int_equal(at - a, 18 + VERP_MAC_CHARS);
	assert_string_equal(at, "@lsabewoners.nl");
	assert_int_equal(strspn(a + 18, "abcdefghijklmnopqrstuvwxyz234567"),
	    VERP_MAC_CHARS);
	detail = xstrndup(a + 9, (size_t)(at - a - 9));
	assert_int_equal(verp_check(f->db, detail, &id), 1);
	assert_int_equal(id, 1);
	/* one character of the MAC changed */
	detail[strlen(detail) - 1] = detail[strlen(detail) - 1] == 'a' ?
	    'b' : 'a';
	assert_int_equal(verp_check(f->db, detail, &id), -1);
	free(detail);
	/* another id with this MAC, a padded id, garbage */
	mac = xstrndup(a + 18, VERP_MAC_CHARS);
	detail = xasprintf("bounce-c-%s", mac);
	assert_int_equal(verp_check(f->db, detail, &id), -1);
	free(detail);
	detail = xasprintf("bounce-ab-%s", mac);
	assert_int_equal(verp_check(f->db, detail, &id), -1);
	free(detail);
	free(mac);
	assert_int_equal(verp_check(f->db, "bounce-x", &id), -1);
	assert_int_equal(verp_check(f->db, "bounce-zzzzzzzzzzzzzz-"
	    "aaaaaaaaaaaaa", &id), -1);
	assert_int_equal(verp_check(f->db, "ps", &id), 0);
	free(a);
	free(b);

	/* the longest: 28 characters before the @ and the largest id */
	free(f->conf->list.address);
	f->conf->list.address = xstrdup("abcdefghijklmnopqrstuvwxyz12"
	    "@lsabewoners.nl");
	assert_int_equal(verp_address(f->db, f->conf, INT64_MAX, &a),
	    BOTU_OK);
	assert_true(strchr(a, '@') - a <= 64);
	detail = xstrndup(a + 29, (size_t)(strchr(a, '@') - a - 29));
	assert_int_equal(verp_check(f->db, detail, &id), 1);
	assert_true(id == INT64_MAX);
	free(detail);
	free(a);
}

/* verp = auto: only after the send test said yes; the outbox row. */
static void
test_verp_enabled(void **state)
{
	struct fixture *f = *state;
	struct mailout mo = { .to = "lid@example.org", .lang = "nl",
	    .template = "help", .kind = "help",
	    .auto_submitted = COMPOSE_AUTO_REPLIED };
	char err[BOTU_ERRLEN];
	int64_t row = 0;

	mo.outbox_id = &row;
	assert_int_equal(f->conf->smtp.verp, VERP_AUTO);
	assert_false(verp_enabled(f->db, f->conf));
	assert_int_equal(mailout_queue(f->db, f->conf, &mo, NULL, err),
	    BOTU_OK);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE "
	    "envelope_from = '" LIST "'"), 1);
	assert_int_equal(db_state_set(f->db, VERP_WORKS_STATE, "no"),
	    BOTU_OK);
	assert_false(verp_enabled(f->db, f->conf));
	assert_int_equal(db_state_set(f->db, VERP_WORKS_STATE, "yes"),
	    BOTU_OK);
	assert_true(verp_enabled(f->db, f->conf));
	assert_int_equal(mailout_queue(f->db, f->conf, &mo, NULL, err),
	    BOTU_OK);
	assert_true(row > 1);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE "
	    "envelope_from LIKE 'annerike+bounce-%@lsabewoners.nl'"), 1);
	f->conf->smtp.verp = VERP_NO;
	assert_false(verp_enabled(f->db, f->conf));
	assert_int_equal(db_state_set(f->db, VERP_WORKS_STATE, NULL),
	    BOTU_OK);
	f->conf->smtp.verp = VERP_YES;
	assert_true(verp_enabled(f->db, f->conf));
}

/* A report to a bounce address: the row by its number, forged: -1. */
static void
test_verp_match(void **state)
{
	struct fixture *f = *state;
	int64_t id = member(f, "weg@example.org"), row;
	char mid[64], *to = NULL, *forged;
	struct message m;
	struct bounce_report r;
	struct score_match sm;

	row = sent(f, "welcome", "weg@example.org", id, mid);
	assert_int_equal(verp_address(f->db, f->conf, row, &to), BOTU_OK);
	/* no Message-ID in it at all: the address says it all */
	report(&m, to, "forward@example.net", "5.1.1", "<x@y.example>");
	bounce_parse(&m, &r);
	assert_int_equal(score_match(f->db, f->conf, &m, &r, &sm), BOTU_OK);
	assert_int_equal(sm.verp, 1);
	assert_int_equal(sm.outbox_id, row);
	assert_string_equal(sm.rcpt, "weg@example.org");
	bounce_report_clear(&r);
	message_clear(&m);

	forged = xstrdup(to);
	forged[strchr(forged, '@') - forged - 1] ^= 1;
	report(&m, forged, "weg@example.org", "5.1.1", mid);
	bounce_parse(&m, &r);
	assert_int_equal(score_match(f->db, f->conf, &m, &r, &sm), BOTU_OK);
	assert_int_equal(sm.verp, -1);
	assert_int_equal(sm.outbox_id, 0);
	bounce_report_clear(&r);
	message_clear(&m);
	free(forged);
	free(to);
}

/* The whole decision: a bounce address of no outbox mail is filed. */
static void
test_unknown_id_is_filed(void **state)
{
	struct fixture *f = *state;
	struct classification c;
	struct intake_decision d;
	char *to = NULL, err[BOTU_ERRLEN];
	struct message m;

	member(f, "lid@example.org");
	assert_int_equal(verp_address(f->db, f->conf, 999, &to), BOTU_OK);
	report(&m, to, "lid@example.org", "5.1.1", "<whatever@example.org>");
	assert_int_equal(handle_decide(f->conf, f->db, &m, 0, &c, &d, err),
	    BOTU_OK);
	assert_int_equal(c.intent, INTENT_BOUNCE);
	assert_int_equal(d.act, 1);
	assert_non_null(strstr(d.reason, "of no mail in the outbox"));
	assert_string_equal(d.action, "file it as done and change nothing");
	classification_clear(&c);
	message_clear(&m);
	free(to);
	assert_int_equal(count(f, "SELECT count(*) FROM bounces"), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM bounce_state"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hard_failures, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_soft_policy_ours, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_probe_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_probe_passes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_complaint, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_alert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_ours, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_listings, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_verp_addresses, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_verp_enabled, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_verp_match, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unknown_id_is_filed,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
