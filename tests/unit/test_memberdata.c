/*
 * Unit tests of the members' own data: the CSV reader (Dutch Excel),
 * the import into a real (temporary) store, the export that reads back,
 * erasing with a suppression entry, and the retention pass on a given
 * clock.
 */
#include "testutil.h"

#include <time.h>

#include "botu/config.h"
#include "botu/csvimport.h"
#include "botu/db.h"
#include "botu/log.h"
#include "botu/memberdata.h"
#include "botu/members.h"
#include "botu/retention.h"
#include "botu/util.h"

#define DAY 86400

struct fx {
	char		*dir;
	struct botu_conf *conf;
	struct botu_db	*db;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[BOTU_ERRLEN], *path = NULL;
	struct botu_conf *c = conf_defaults();

	f->dir = tmpdir_new();
	free(c->list.address);
	c->list.address = xstrdup("annerike@lsabewoners.nl");
	free(c->list.templates);
	assert_true(asprintf(&c->list.templates, "%s/templates",
	    srcdir()) > 0);
	free(c->notes.waaier_dir);
	c->notes.waaier_dir = xstrdup(f->dir);
	f->conf = c;
	assert_true(asprintf(&path, "%s/botu.db", f->dir) > 0);
	if (db_open(path, DB_READWRITE, &f->db, err) != BOTU_OK)
		fail_msg("%s", err);
	free(path);
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
scalar(struct fx *f, const char *sql)
{
	sqlite3_stmt *st;
	long long v;

	assert_int_equal(sqlite3_prepare_v2(db_sqlite(f->db), sql, -1, &st,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
sql(struct fx *f, const char *text)
{
	if (db_exec(f->db, text) != BOTU_OK)
		fail_msg("%s: %s", text, db_errmsg(f->db));
}

/* ---- the reader ---- */

/* What Dutch Excel writes: Windows-1252, ";", CRLF, a quoted newline. */
static const char excel_nl[] =
    "E-mailadres;Naam;Rol;Taal;Kernteam;Woonplaats\r\n"
    "jan@example.org;Jan M\xfcller;bewoner;nl;ja;Leiden\r\n"
    "ayse@example.org;\"Ay\xfe" "e \xc7" "elik\r\n(voorzitter)\";"
    "gemeente;Engels;nee;\r\n"
    "\r\n"
    "piet@example.org;\"Piet \"\"de Vries\"\"\";;;;\r\n";

static void
test_parse_excel_nl(void **state)
{
	struct csv_table t;
	char err[BOTU_ERRLEN];

	(void)state;
	assert_int_equal(csv_parse(excel_nl, sizeof(excel_nl) - 1, &t, err),
	    BOTU_OK);
	assert_string_equal(t.charset, "Windows-1252");
	assert_int_equal(t.delimiter, ';');
	assert_int_equal(t.nrows, 4);	/* the empty line is left out */
	assert_int_equal(t.rows[0].n, 6);
	assert_string_equal(t.rows[1].field[1], "Jan M\xc3\xbcller");
	/* 0xfe is þ in Windows-1252; Ç is 0xc7 */
	assert_string_equal(t.rows[2].field[1],
	    "Ay\xc3\xbe" "e \xc3\x87" "elik\n(voorzitter)");
	assert_int_equal(t.rows[2].line, 3);
	/* the quoted newline moves the next record's line number */
	assert_int_equal(t.rows[3].line, 6);
	assert_string_equal(t.rows[3].field[1], "Piet \"de Vries\"");
	csv_table_clear(&t);
}

static void
test_parse_utf8_bom_comma_sep(void **state)
{
	static const char bom[] = "\xef\xbb\xbf" "email,name\n"
	    "a@example.org,\xc3\x87" "elik\n";
	static const char sep[] = "sep=,\r\nemail,name\r\nb@example.org,B\r\n";
	struct csv_table t;
	char err[BOTU_ERRLEN];

	(void)state;
	assert_int_equal(csv_parse(bom, sizeof(bom) - 1, &t, err), BOTU_OK);
	assert_string_equal(t.charset, "UTF-8");
	assert_int_equal(t.delimiter, ',');
	assert_string_equal(t.rows[0].field[0], "email");
	assert_string_equal(t.rows[1].field[1], "\xc3\x87" "elik");
	csv_table_clear(&t);
	assert_int_equal(csv_parse(sep, sizeof(sep) - 1, &t, err), BOTU_OK);
	assert_int_equal(t.delimiter, ',');
	assert_int_equal(t.nrows, 2);
	assert_int_equal(t.rows[1].line, 3);
	csv_table_clear(&t);
}

/* Excel's "Unicode text": UTF-16LE with a byte order mark, tabs. */
static void
test_parse_utf16(void **state)
{
	static const char text[] = "email\tnaam\r\n"
	    "z@example.org\tZo\xc3\xab\r\n";
	char data[256], err[BOTU_ERRLEN];
	struct csv_table t;
	size_t n = 2;

	(void)state;
	data[0] = (char)0xff;
	data[1] = (char)0xfe;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		unsigned c = *p;

		if (c == 0xc3) {	/* the one two-octet letter: e-umlaut */
			c = 0xeb;
			p++;
		}
		data[n++] = (char)(c & 0xff);
		data[n++] = 0;
	}
	assert_int_equal(csv_parse(data, n, &t, err), BOTU_OK);
	assert_string_equal(t.charset, "UTF-16LE");
	assert_int_equal(t.delimiter, '\t');
	assert_int_equal(t.nrows, 2);
	assert_string_equal(t.rows[1].field[1], "Zo\xc3\xab");
	csv_table_clear(&t);
}

static void
test_parse_unclosed_quote(void **state)
{
	static const char bad[] = "email;naam\na@example.org;\"open\nb;c\n";
	struct csv_table t;
	char err[BOTU_ERRLEN];

	(void)state;
	assert_int_equal(csv_parse(bad, sizeof(bad) - 1, &t, err),
	    BOTU_EDATA);
	assert_string_equal(err, "line 2: a quote (\") is never closed");
	assert_int_equal(t.nrows, 0);
}

/* ---- importing ---- */

static int
import(struct fx *f, const char *text, struct import_result *r,
    char *err)
{
	struct import_options o = { .file = "leden.csv",
	    .basis = "signed the petition" };
	struct csv_table t;
	int rc;

	assert_int_equal(csv_parse(text, strlen(text), &t, err), BOTU_OK);
	assert_int_equal(db_begin(f->db), BOTU_OK);
	rc = import_members(f->db, f->conf, &t, &o, r, err);
	if (rc == BOTU_OK)
		assert_int_equal(db_commit(f->db), BOTU_OK);
	else
		db_rollback(f->db);
	csv_table_clear(&t);
	return rc;
}

static void
test_import_excel(void **state)
{
	struct fx *f = *state;
	struct import_result r;
	char err[BOTU_ERRLEN];
	struct member m;

	assert_int_equal(import(f, excel_nl, &r, err), BOTU_OK);
	assert_int_equal(r.rows, 3);
	assert_int_equal(r.imported, 3);
	assert_string_equal(r.ignored, "Woonplaats");
	import_result_clear(&r);
	assert_int_equal(members_get(f->db, "ayse@example.org", &m), 1);
	/* a name over two lines in a cell is one name */
	assert_string_equal(m.name,
	    "Ay\xc3\xbe" "e \xc3\x87" "elik (voorzitter)");
	assert_string_equal(m.language, "en");
	assert_string_equal(m.role, "gemeente");
	assert_string_equal(m.status, "active");
	assert_int_equal(m.core, 0);
	assert_string_equal(m.consent_channel, "import: signed the petition");
	member_clear(&m);
	assert_int_equal(members_get(f->db, "jan@example.org", &m), 1);
	assert_int_equal(m.core, 1);
	member_clear(&m);
	/* no welcome wave unless asked */
	assert_int_equal(scalar(f, "SELECT count(*) FROM outbox"), 0);
	/* a second import counts them as known and adds nothing */
	assert_int_equal(import(f, excel_nl, &r, err), BOTU_OK);
	assert_int_equal(r.imported, 0);
	assert_int_equal(r.known, 3);
	import_result_clear(&r);
	assert_int_equal(scalar(f, "SELECT count(*) FROM members"), 3);
}

static void
test_import_bad_row_imports_nothing(void **state)
{
	static const char text[] =
	    "email;naam;rol;taal;kernteam\n"
	    "a@example.org;A;;;\n"
	    "niet-een-adres;B;;;\n"
	    "c@example.org;C;astronaut;fr;misschien\n"
	    "A@example.org;A2;;;\n"
	    "d@example.org;D;;;\n";
	struct fx *f = *state;
	struct import_result r;
	char err[BOTU_ERRLEN];

	assert_int_equal(import(f, text, &r, err), BOTU_EDATA);
	assert_string_equal(err, "5 bad rows: nothing imported");
	assert_non_null(r.problems);
	assert_non_null(strstr(r.problems, "leden.csv:3: 'niet-een-adres' "
	    "is not an e-mail address\n"));
	assert_non_null(strstr(r.problems, "leden.csv:4: role 'astronaut'"));
	assert_non_null(strstr(r.problems, "leden.csv:4: language 'fr' is "
	    "not nl or en\n"));
	assert_non_null(strstr(r.problems, "leden.csv:4: core 'misschien'"));
	assert_non_null(strstr(r.problems, "leden.csv:5: A@example.org is "
	    "on line 2 too\n"));
	import_result_clear(&r);
	assert_int_equal(scalar(f, "SELECT count(*) FROM members"), 0);
}

static void
test_import_no_email_column(void **state)
{
	struct fx *f = *state;
	struct import_result r;
	char err[BOTU_ERRLEN];

	assert_int_equal(import(f, "naam;rol\nA;bewoner\n", &r, err),
	    BOTU_EDATA);
	assert_non_null(strstr(err, "leden.csv:1: no column email"));
	import_result_clear(&r);
}

/* ---- export reads back ---- */

static void
test_export_round_trip(void **state)
{
	struct fx *f = *state;
	struct import_result r;
	struct csv_table t;
	char err[BOTU_ERRLEN], *text = NULL;
	size_t len = 0;
	FILE *mem;

	assert_int_equal(import(f, excel_nl, &r, err), BOTU_OK);
	import_result_clear(&r);
	sql(f, "INSERT INTO notes (member_id, status, name, role, body, "
	    "created_at, updated_at) SELECT id, 'published', name, role, "
	    "'Zon op; elk dak', 1, 1 FROM members WHERE "
	    "email = 'jan@example.org'");
	mem = open_memstream(&text, &len);
	assert_int_equal(memberdata_export(f->db, mem, MEMBERS_CSV, 1),
	    BOTU_OK);
	fclose(mem);
	assert_memory_equal(text, "\xef\xbb\xbf" "email;name;", 14);
	assert_non_null(strstr(text, "\"Zon op; elk dak\""));
	assert_int_equal(csv_parse(text, len, &t, err), BOTU_OK);
	assert_int_equal(t.delimiter, ';');
	assert_int_equal(t.nrows, 4);
	assert_string_equal(t.rows[2].field[1], "Jan M\xc3\xbcller");
	csv_table_clear(&t);
	/* into an empty store: the same members, names and all */
	sql(f, "DELETE FROM notes; DELETE FROM events; DELETE FROM members");
	assert_int_equal(import(f, text, &r, err), BOTU_OK);
	assert_int_equal(r.imported, 3);
	import_result_clear(&r);
	free(text);
	assert_int_equal(scalar(f, "SELECT count(*) FROM members WHERE "
	    "email = 'ayse@example.org' AND language = 'en' AND "
	    "role = 'gemeente' AND name LIKE 'Ay%elik (voorzitter)'"), 1);
	assert_int_equal(scalar(f, "SELECT core FROM members WHERE "
	    "email = 'jan@example.org'"), 1);
	sql(f, "DELETE FROM notes; DELETE FROM events; DELETE FROM members");
	text = NULL;
	mem = open_memstream(&text, &len);
	assert_int_equal(memberdata_export(f->db, mem, MEMBERS_JSON, 0),
	    BOTU_OK);
	fclose(mem);
	assert_string_equal(text, "[]\n");
	free(text);
}

static void
test_export_json_has_notes(void **state)
{
	struct fx *f = *state;
	struct import_result r;
	char err[BOTU_ERRLEN], *text = NULL, *one = NULL;
	size_t len = 0;
	FILE *mem;

	assert_int_equal(import(f, excel_nl, &r, err), BOTU_OK);
	import_result_clear(&r);
	sql(f, "INSERT INTO notes (member_id, status, name, role, body, "
	    "created_at, updated_at) SELECT id, 'published', name, role, "
	    "'Zon \"op\"', 1, 1 FROM members WHERE email = 'jan@example.org'");
	mem = open_memstream(&text, &len);
	assert_int_equal(memberdata_export(f->db, mem, MEMBERS_JSON, 0),
	    BOTU_OK);
	fclose(mem);
	assert_non_null(strstr(text, "\"body\":\"Zon \\\"op\\\"\""));
	assert_non_null(strstr(text, "\"core\":true"));
	free(text);
	assert_int_equal(memberdata_json(f->db, scalar(f, "SELECT id FROM "
	    "members WHERE email = 'jan@example.org'"), &one), BOTU_OK);
	assert_non_null(strstr(one, "\"email\":\"jan@example.org\""));
	assert_non_null(strstr(one, "\"events\":[{"));
	assert_null(strstr(one, "ayse@"));
	free(one);
	assert_int_equal(memberdata_json(f->db, 999, &one), BOTU_EPERM);
}

/* ---- erasing and retention ---- */

static void
test_erase_suppresses(void **state)
{
	struct fx *f = *state;
	struct import_result r;
	char err[BOTU_ERRLEN];
	const char *why;

	assert_int_equal(import(f, excel_nl, &r, err), BOTU_OK);
	import_result_clear(&r);
	sql(f, "INSERT INTO outbox (rcpt, kind, body, created_at, status, "
	    "envelope_from, message_id, next_try, expires_at) VALUES "
	    "('mod@example.org', 'summary', "
	    "CAST('joined: jan@exam=\r\nple.org' AS BLOB), 1, 'sent', "
	    "'b@example.org', '<s1@x>', 0, 0)");
	sql(f, "INSERT INTO inbound (mailbox, uidvalidity, uid, message_id, "
	    "sender, subject, state, first_seen) VALUES ('INBOX', 1, 1, "
	    "'<x@y>', 'Jan@Example.org', 'hoi', 'done', 1)");
	assert_int_equal(db_begin(f->db), BOTU_OK);
	assert_int_equal(retention_erase(f->db, "JAN@example.org",
	    RETENTION_FORGOTTEN, "test", NULL, err), BOTU_OK);
	assert_int_equal(db_commit(f->db), BOTU_OK);
	assert_int_equal(scalar(f, "SELECT count(*) FROM members"), 2);
	assert_int_equal(scalar(f, "SELECT count(*) FROM outbox WHERE "
	    "body IS NULL AND purged_at IS NOT NULL"), 1);
	assert_int_equal(scalar(f, "SELECT count(*) FROM inbound WHERE "
	    "sender IS NULL AND subject IS NULL"), 1);
	assert_int_equal(scalar(f, "SELECT count(*) FROM events WHERE "
	    "kind = 'forget' AND detail NOT LIKE '%jan%'"), 1);
	assert_int_equal(scalar(f, "SELECT count(*) FROM suppressed WHERE "
	    "reason = 'forgotten' AND length(hash) = 64"), 1);
	assert_int_equal(retention_suppressed(f->db, "jan@EXAMPLE.org",
	    &why), 1);
	assert_string_equal(why, "forgotten");
	assert_int_equal(retention_suppressed(f->db, "piet@example.org",
	    NULL), 0);
	/* the import skips the forgotten address and says so */
	assert_int_equal(import(f, excel_nl, &r, err), BOTU_OK);
	assert_int_equal(r.imported, 0);
	assert_int_equal(r.suppressed, 1);
	assert_int_equal(r.known, 2);
	import_result_clear(&r);
	assert_int_equal(retention_erase(f->db, "nobody@example.org",
	    RETENTION_FORGOTTEN, "test", NULL, err), BOTU_EPERM);
}

static void
test_retention_run(void **state)
{
	struct fx *f = *state;
	struct retention_counts c;
	char err[BOTU_ERRLEN];
	time_t now = time(NULL);
	char q[1024];

	/* a leaver 31 days ago, one 29 days ago; a stale sign-up */
	snprintf(q, sizeof(q), "INSERT INTO members (email, status, "
	    "created_at, updated_at, unsub_token) VALUES "
	    "('old@example.org', 'active', 0, 0, 't1'), "
	    "('new@example.org', 'active', 0, 0, 't2'), "
	    "('pend@example.org', 'pending', 0, 0, 't3'), "
	    "('stay@example.org', 'active', 0, 0, 't4')");
	sql(f, q);
	sql(f, "UPDATE members SET status = 'unsubscribed' WHERE email IN "
	    "('old@example.org', 'new@example.org')");
	snprintf(q, sizeof(q), "UPDATE members SET left_at = %lld WHERE "
	    "email = 'old@example.org'", (long long)now - 31 * DAY);
	sql(f, q);
	snprintf(q, sizeof(q), "UPDATE members SET left_at = %lld WHERE "
	    "email = 'new@example.org'", (long long)now - 29 * DAY);
	sql(f, q);
	snprintf(q, sizeof(q), "INSERT INTO tokens (token, kind, member_id, "
	    "created_at, expires_at) SELECT 'abc', 'subscribe', id, %lld, "
	    "%lld FROM members WHERE email = 'pend@example.org'",
	    (long long)now - 9 * DAY, (long long)now - 2 * DAY);
	sql(f, q);
	snprintf(q, sizeof(q), "INSERT INTO outbox (rcpt, kind, body, "
	    "created_at, sent_at, status, envelope_from, message_id, "
	    "next_try, expires_at) VALUES ('stay@example.org', 'x', "
	    "CAST('old' AS BLOB), %lld, %lld, 'sent', 'b@x', '<o1@x>', 0, 0),"
	    " ('stay@example.org', 'x', CAST('new' AS BLOB), %lld, %lld, "
	    "'sent', 'b@x', '<o2@x>', 0, 0)",
	    (long long)now - 15 * DAY, (long long)now - 15 * DAY,
	    (long long)now - DAY, (long long)now - DAY);
	sql(f, q);
	snprintf(q, sizeof(q), "INSERT INTO events (at, kind, actor, "
	    "message_id, detail) VALUES (%lld, 'x', 'test', '<a@b>', "
	    "'mail from stay@example.org'), (%lld, 'y', 'test', NULL, "
	    "'stay@example.org')", (long long)now - 400 * DAY,
	    (long long)now - DAY);
	sql(f, q);

	assert_int_equal(retention_run(f->conf, f->db, now, &c, err),
	    BOTU_OK);
	assert_int_equal(c.leavers, 1);
	assert_int_equal(c.expired, 1);
	assert_int_equal(c.bodies, 1);
	assert_true(c.events >= 1);
	assert_int_equal(scalar(f, "SELECT count(*) FROM members WHERE "
	    "email IN ('old@example.org', 'pend@example.org')"), 0);
	assert_int_equal(scalar(f, "SELECT count(*) FROM members WHERE "
	    "email IN ('new@example.org', 'stay@example.org')"), 2);
	assert_int_equal(retention_suppressed(f->db, "old@example.org",
	    NULL), 1);
	/* an expired sign-up is not suppressed: they may try again */
	assert_int_equal(retention_suppressed(f->db, "pend@example.org",
	    NULL), 0);
	assert_int_equal(scalar(f, "SELECT count(*) FROM outbox WHERE "
	    "body IS NULL"), 1);
	assert_int_equal(scalar(f, "SELECT count(*) FROM events WHERE "
	    "kind = 'x' AND detail LIKE 'mail from h:%' AND message_id "
	    "LIKE 'h:%' AND pseudonymised = 1"), 1);
	assert_int_equal(scalar(f, "SELECT count(*) FROM events WHERE "
	    "kind = 'y' AND detail = 'stay@example.org'"), 1);
	/* a second pass at the same time does nothing more */
	assert_int_equal(retention_run(f->conf, f->db, now, &c, err),
	    BOTU_OK);
	assert_int_equal(c.leavers + c.expired + c.bodies + c.events, 0);
	/* the leaver of 29 days goes two days later */
	assert_int_equal(retention_run(f->conf, f->db, now + 2 * DAY, &c,
	    err), BOTU_OK);
	assert_int_equal(c.leavers, 1);
}

/* The daemon's tick: at most one pass an hour, remembered in the store. */
static void
test_retention_tick_hourly(void **state)
{
	struct fx *f = *state;
	time_t now = time(NULL);
	char q[512];

	log_init(0, LOG_LEVEL_WARN, 1);
	sql(f, "INSERT INTO members (email, status, created_at, updated_at, "
	    "unsub_token) VALUES ('a@example.org', 'unsubscribed', 0, 0, "
	    "'t1')");
	snprintf(q, sizeof(q), "UPDATE members SET left_at = %lld",
	    (long long)now - 31 * DAY);
	sql(f, q);
	retention_tick(f->conf, f->db, now);
	assert_int_equal(scalar(f, "SELECT count(*) FROM members"), 0);
	/* another leaver, due at once, waits for the next hour */
	sql(f, "INSERT INTO members (email, status, created_at, updated_at, "
	    "unsub_token) VALUES ('b@example.org', 'unsubscribed', 0, 0, "
	    "'t2')");
	sql(f, q);
	retention_tick(f->conf, f->db, now + 1800);
	assert_int_equal(scalar(f, "SELECT count(*) FROM members"), 1);
	retention_tick(f->conf, f->db, now + 3600);
	assert_int_equal(scalar(f, "SELECT count(*) FROM members"), 0);
	/* the checkpoint it wanted is done */
	assert_int_equal(scalar(f, "SELECT count(*) FROM state WHERE "
	    "key = 'privacy.checkpoint'"), 0);
}

static void
test_left_at_trigger(void **state)
{
	struct fx *f = *state;

	sql(f, "INSERT INTO members (email, status, created_at, updated_at, "
	    "unsub_token) VALUES ('x@example.org', 'active', 0, 0, 't')");
	assert_int_equal(scalar(f, "SELECT left_at IS NULL FROM members"), 1);
	sql(f, "UPDATE members SET status = 'unsubscribed'");
	assert_true(scalar(f, "SELECT left_at FROM members") > 0);
	sql(f, "UPDATE members SET status = 'active'");
	assert_int_equal(scalar(f, "SELECT left_at IS NULL FROM members"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_excel_nl),
		cmocka_unit_test(test_parse_utf8_bom_comma_sep),
		cmocka_unit_test(test_parse_utf16),
		cmocka_unit_test(test_parse_unclosed_quote),
		cmocka_unit_test_setup_teardown(test_import_excel, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_import_bad_row_imports_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_no_email_column,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_export_json_has_notes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_erase_suppresses, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retention_run, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retention_tick_hourly,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_left_at_trigger, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
