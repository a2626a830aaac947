/*
 * Unit tests of PS notes: what botu takes as the note from real replies
 * (Gmail, Outlook, Apple Mail, with Dutch attributions), name and role
 * lines, a moderator's verdict, the "PS:" question, and the whole way of a
 * note through handle_decide() on a real database: the author's consent by
 * code, two moderators, a forged From, withdrawing, forgetting, the waaier.
 */
#include "testutil.h"

#include <sqlite3.h>

#include "botu/classify.h"
#include "botu/config.h"
#include "botu/db.h"
#include "botu/handle.h"
#include "botu/members.h"
#include "botu/message.h"
#include "botu/notes.h"
#include "botu/util.h"
#include "botu/waaier.h"

/* ---- extraction ---- */

static void
assert_note(const char *mail_text, const char *body, const char *name,
    const char *role)
{
	struct note_text t;

	notes_extract(mail_text, &t);
	if (strcmp(t.body, body) != 0)
		fail_msg("body:\n[%s]\nwant:\n[%s]", t.body, body);
	if ((name == NULL) != (t.name == NULL) ||
	    (name != NULL && strcmp(name, t.name) != 0))
		fail_msg("name [%s], want [%s]", t.name ? t.name : "(none)",
		    name ? name : "(none)");
	if ((role == NULL) != (t.role == NULL) ||
	    (role != NULL && strcmp(role, t.role) != 0))
		fail_msg("role [%s], want [%s]", t.role ? t.role : "(none)",
		    role ? role : "(none)");
	note_text_clear(&t);
}

#define PARA1 "Ik doe mee omdat ik wil dat iedereen in de wijk warm woont,\n" \
	"ook als je weinig geld hebt. Best wel belangrijk vind ik dat we\n" \
	"elkaar gewoon kunnen bellen."
#define PARA2 "Bel me over isolatie, subsidies en de huurdersvereniging."

static void
test_extract_gmail_reply(void **state)
{
	(void)state;
	assert_note("Hoi Annerike,\n\n" PARA1 "\n\n" PARA2 "\n\n"
	    "Groetjes,\nFatima\n\n"
	    "Op ma 16 nov. 2026 om 10:15 schreef Annerike <annerike@"
	    "lsabewoners.nl>:\n\n> Welkom bij de energiecommunity!\n"
	    "> Stuur je PS-noot naar annerike+ps@lsabewoners.nl\n",
	    PARA1 "\n\n" PARA2, NULL, NULL);
}

static void
test_extract_outlook_signature(void **state)
{
	(void)state;
	assert_note("Beste Annerike,\n\n" PARA1 "\n\n"
	    "Met vriendelijke groet,\n\nMarco Verbeek\nProjectleider "
	    "renovatie\nWoonstad Rotterdam\nT 010 123 45 67\n\n"
	    "Van: Annerike <annerike@lsabewoners.nl>\n"
	    "Verzonden: maandag 16 november 2026 10:15\n"
	    "Aan: Marco Verbeek <m.verbeek@woonstad.example>\n"
	    "Onderwerp: Welkom\n\nWelkom bij de community!\n", PARA1, NULL,
	    NULL);
}

static void
test_extract_apple_mail(void **state)
{
	(void)state;
	assert_note(PARA2 "\n\nVerstuurd vanaf mijn iPhone\n\n"
	    "Op 16 nov. 2026 om 10:15 heeft Annerike <annerike@lsabewoners.nl>"
	    " het volgende geschreven:\n\n> Welkom!\n", PARA2, NULL, NULL);
}

static void
test_extract_profile_lines_and_preamble(void **state)
{
	(void)state;
	assert_note("Hallo,\n\nHierbij mijn PS-noot:\n\nnaam: Fatima Öztürk\n"
	    "Rol: Bewoner\n\n" PARA2 "\n\n-- \nFatima\n06 12345678\n",
	    PARA2, "Fatima Öztürk", "Bewoner");
	assert_note(PARA2 "\n\nrole: kunstenaar\n", PARA2, NULL,
	    "kunstenaar");
	/* "naam:" inside the text is text. */
	assert_note("Mijn naam: die ken je wel.\n" PARA2,
	    "Mijn naam: die ken je wel.\n" PARA2, NULL, NULL);
	/* A greeting that starts the text is text. */
	assert_note("Hoi, ik ben Piet en ik woon in de Schiedamseweg.\n"
	    "Bel me gerust.", "Hoi, ik ben Piet en ik woon in de "
	    "Schiedamseweg.\nBel me gerust.", NULL, NULL);
}

static void
test_extract_empty_and_quotes_only(void **state)
{
	(void)state;
	assert_note("", "", NULL, NULL);
	assert_note("Hoi,\n\nGroetjes,\nPiet\n", "", NULL, NULL);
	assert_note("> quoted only\n> more\n", "", NULL, NULL);
	assert_note("\n\n\n" PARA2 "\n\n\n\n\n" PARA1 "\n\n\n",
	    PARA2 "\n\n" PARA1, NULL, NULL);
}

static void
test_length_counts_characters(void **state)
{
	(void)state;
	assert_int_equal(notes_length(""), 0);
	assert_int_equal(notes_length("Öztürk"), 6);
	assert_int_equal(notes_length("☀️ zon"), 6);
}

/* ---- profile lines, roles, verdicts ---- */

static void
test_profile_lines(void **state)
{
	struct note_text t;

	(void)state;
	assert_int_equal(notes_profile_lines("Hoi,\n\nnaam: Piet Jansen\n"
	    "rol: ondernemer\n\nGroet,\nPiet", &t), 1);
	assert_string_equal(t.name, "Piet Jansen");
	assert_string_equal(t.role, "ondernemer");
	note_text_clear(&t);
	assert_int_equal(notes_profile_lines("naam: Piet\nEn verder wil ik "
	    "zeggen dat...", &t), 0);
	assert_null(t.name);
	assert_int_equal(notes_profile_lines("Hallo", &t), 0);
	assert_int_equal(notes_profile_lines("naam:", &t), 0);
}

static void
test_roles(void **state)
{
	struct botu_conf *c = conf_defaults();
	char *line;

	(void)state;
	assert_string_equal(notes_role(c, "Bewoner"), "bewoner");
	assert_string_equal(notes_role(c, "  Maatschappelijke organisatie!"),
	    "maatschappelijke organisatie");
	assert_string_equal(notes_role(c, "energiecoöperatie"),
	    "energiecoöperatie");
	assert_null(notes_role(c, "wethouder"));
	assert_null(notes_role(c, ""));
	line = notes_roles_line(c);
	assert_non_null(strstr(line, "bewoner, gemeente, "));
	free(line);
	conf_free(c);
}

static void
assert_verdict(const char *text, enum note_verdict want,
    const char *reason)
{
	char *r = NULL;
	enum note_verdict v = notes_verdict(text, &r);

	if (v != want)
		fail_msg("verdict of [%s]: %d, want %d", text, v, want);
	if (reason != NULL && (r == NULL || strcmp(r, reason) != 0))
		fail_msg("reason of [%s]: [%s], want [%s]", text,
		    r ? r : "(none)", reason);
	free(r);
}

static void
test_verdicts(void **state)
{
	(void)state;
	assert_verdict("Akkoord!", NOTE_VERDICT_APPROVE, NULL);
	assert_verdict("ok", NOTE_VERDICT_APPROVE, NULL);
	assert_verdict("Oké, prima noot.", NOTE_VERDICT_APPROVE, NULL);
	assert_verdict("Hoi allemaal,\n\nApprove\n\nGroet,\nAnn",
	    NOTE_VERDICT_APPROVE, NULL);
	assert_verdict("Afwijzen: graag zonder telefoonnummer.",
	    NOTE_VERDICT_REJECT, "graag zonder telefoonnummer.");
	assert_verdict("reject - no phone numbers please",
	    NOTE_VERDICT_REJECT, "no phone numbers please");
	assert_verdict("afwijzen", NOTE_VERDICT_REJECT, "");
	assert_verdict("Ik twijfel, wat vind jij?", NOTE_VERDICT_NONE, NULL);
	assert_verdict("", NOTE_VERDICT_NONE, NULL);
	/* The first word counts, not one further on. */
	assert_verdict("Niet akkoord", NOTE_VERDICT_NONE, NULL);
}

/* ---- classify: the "PS:" question, withdraw, profile, verdicts ---- */

static enum intent
intent_of(const char *mail, const char *status, char *token)
{
	struct botu_conf *c = conf_defaults();
	struct sender_facts f = { status, "nl" };
	struct classification cl;
	struct message m = { 0 };
	char err[BOTU_ERRLEN];
	enum intent i;

	free(c->list.address);
	c->list.address = xstrdup("annerike@lsabewoners.nl");
	assert_int_equal(message_parse(mail, strlen(mail), &m, err), BOTU_OK);
	classify(c, &m, status != NULL ? &f : NULL, &cl);
	i = cl.intent;
	if (token != NULL)
		str_copy(token, cl.token, 32);
	classification_clear(&cl);
	message_clear(&m);
	conf_free(c);
	return i;
}

#define FROM "From: Piet <piet@example.org>\nTo: annerike@lsabewoners.nl\n"

static void
test_classify_ps_question(void **state)
{
	static const char mail[] = FROM "Subject: PS: bijlage vergeten\n\n"
	    "Hierbij alsnog de bijlage.\n";

	(void)state;
	assert_int_equal(intent_of(mail, "active", NULL),
	    INTENT_NOTE_QUESTION);
	assert_int_equal(intent_of(mail, NULL, NULL), INTENT_LEAVE_ALONE);
	assert_int_equal(intent_of(mail, "pending", NULL),
	    INTENT_LEAVE_ALONE);
	/* "Re: PS: ..." is a reply in a thread, not a question. */
	assert_int_equal(intent_of(FROM "Subject: Re: PS: bijlage\n\nok\n",
	    "active", NULL), INTENT_LEAVE_ALONE);
	assert_int_equal(intent_of(FROM "Subject: PS-noot\n\n" PARA2 "\n",
	    "active", NULL), INTENT_NOTE);
}

static void
test_classify_withdraw_and_profile(void **state)
{
	(void)state;
	assert_int_equal(intent_of(FROM "Subject: PS intrekken\n\n\n",
	    "active", NULL), INTENT_WITHDRAW);
	assert_int_equal(intent_of(FROM "Subject: x\n\nIk wil mijn PS-noot "
	    "intrekken.\n\nGroet, Piet\n", "active", NULL), INTENT_WITHDRAW);
	assert_int_equal(intent_of(FROM "Subject: note\n\nPlease withdraw my "
	    "note.\n", "active", NULL), INTENT_WITHDRAW);
	assert_int_equal(intent_of(FROM "Subject: Re: Welkom\n\n"
	    "naam: Piet Jansen\nrol: bewoner\n\nOp 1 dec. 2026 schreef A:\n"
	    "> Welkom\n", "active", NULL), INTENT_PROFILE);
	/* Only from someone botu knows. */
	assert_int_equal(intent_of(FROM "Subject: hoi\n\nnaam: Piet\n", NULL,
	    NULL), INTENT_LEAVE_ALONE);
}

static void
test_classify_moderator_words_are_no_refusal(void **state)
{
	char token[32];

	(void)state;
	assert_int_equal(intent_of(FROM "Subject: Re: PS-noot van Fatima [abc"
	    "defghijklmnopqrstuvwxyz]\n\nafwijzen, no phone numbers please\n",
	    "active", token), INTENT_CONFIRM);
	assert_string_equal(token, "abcdefghijklmnopqrstuvwxyz");
	assert_int_equal(intent_of(FROM "Subject: Re: x [abcdefghijklmnopqrs"
	    "tuvwxyz]\n\nNee, dat was ik niet.\n", "active", token),
	    INTENT_LEAVE_ALONE);
}

/* ---- the whole way through handle_decide() on a real database ---- */

struct fx {
	char		*dir;
	struct botu_conf *conf;
	struct botu_db	*db;
	int		 n;	/* Message-IDs */
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
	free(c->list.name);
	c->list.name = xstrdup("Energie BoTu");
	free(c->list.templates);
	assert_true(asprintf(&c->list.templates, "%s/templates",
	    srcdir()) > 0);
	c->list.moderators = strv_add(strv_add(NULL, "mod1@example.org"),
	    "mod2@example.org");
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

/* Hands one mail to botu as the daemon does; returns the decision. */
static struct intake_decision
mail(struct fx *f, const char *from, const char *to, const char *subject,
    const char *body)
{
	struct intake_decision d;
	struct classification c;
	struct message m = { 0 };
	char err[BOTU_ERRLEN] = "", *raw = NULL;

	assert_true(asprintf(&raw, "From: %s\nTo: %s\nSubject: %s\n"
	    "Message-ID: <m%d@example.org>\nMIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=utf-8\n\n%s\n", from, to,
	    subject, ++f->n, body) > 0);
	assert_int_equal(message_parse(raw, strlen(raw), &m, err), BOTU_OK);
	if (handle_decide(f->conf, f->db, &m, 0, &c, &d, err) != BOTU_OK)
		fail_msg("handle_decide: %s", err);
	classification_clear(&c);
	message_clear(&m);
	free(raw);
	return d;
}

static void
add_member(struct fx *f, const char *email, const char *name)
{
	struct member m = { 0 };
	char err[BOTU_ERRLEN];

	m.email = (char *)email;
	m.name = (char *)name;
	m.status = "active";
	if (members_add(f->db, &m, "test", NULL, err) != BOTU_OK)
		fail_msg("%s", err);
}

/* One number from SQL (a count). */
static long long
sql_int(struct fx *f, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	assert_int_equal(sqlite3_prepare_v2(db_sqlite(f->db), sql, -1, &st,
	    NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* One text from SQL, owned; fails when there is none. */
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

/* The newest unused code of a kind for an address. */
static char *
code_for(struct fx *f, const char *kind, const char *addr)
{
	return sql_text(f, "SELECT token FROM note_tokens WHERE kind = '%s' "
	    "AND address = '%s' ORDER BY rowid DESC LIMIT 1", kind, addr);
}

static char *
code_address(const char *token)
{
	char *a = NULL;

	assert_true(asprintf(&a, "annerike+bevestig-%s@lsabewoners.nl",
	    token) > 0);
	return a;
}

static long long
mails_to(struct fx *f, const char *rcpt, const char *kind)
{
	char *sql = NULL;
	long long n;

	assert_true(asprintf(&sql, "SELECT count(*) FROM outbox WHERE rcpt = "
	    "'%s' AND kind = '%s'", rcpt, kind) > 0);
	n = sql_int(f, sql);
	free(sql);
	return n;
}

/* The body of the newest mail to rcpt (quoted-printable as stored). */
static char *
last_mail(struct fx *f, const char *rcpt)
{
	return sql_text(f, "SELECT CAST(body AS TEXT) FROM outbox WHERE rcpt "
	    "= '%s' ORDER BY id DESC LIMIT 1", rcpt);
}

static const char *
status_of_newest(struct fx *f)
{
	static char buf[32];
	char *s = sql_text(f, "SELECT status FROM notes ORDER BY id DESC "
	    "LIMIT 1");

	str_copy(buf, s, sizeof(buf));
	free(s);
	return buf;
}

#define FATIMA "fatima@example.org"
#define NOTE_TEXT "Ik doe mee omdat mijn buren het koud hebben.\n" \
	"Bel me over de huurdersvereniging."

static void
test_flow_consent_moderation_second_moderator(void **state)
{
	struct fx *f = *state;
	struct intake_decision d;
	char *tok, *addr, *body;

	add_member(f, FATIMA, "Fatima Öztürk");
	d = mail(f, "Fatima <" FATIMA ">", "annerike+ps@lsabewoners.nl",
	    "Mijn PS", "Hoi Annerike,\n\nrol: bewoner\n\n" NOTE_TEXT
	    "\n\nGroetjes,\nFatima");
	assert_true(d.act);
	assert_string_equal(d.intent, "note");
	assert_string_equal(status_of_newest(f), "unconfirmed");
	assert_int_equal(mails_to(f, FATIMA, "note-confirm"), 1);
	body = last_mail(f, FATIMA);
	assert_non_null(strstr(body, "Bel me over de huurdersvereniging."));
	assert_non_null(strstr(body, "waaier"));
	free(body);
	/* Nothing reached the moderators yet: the author has not said yes. */
	assert_int_equal(mails_to(f, "mod1@example.org", "note-moderate"), 0);

	/* The author says yes by replying to the code. */
	tok = code_for(f, "author", FATIMA);
	addr = code_address(tok);
	d = mail(f, FATIMA, addr, "Re: Klopt je PS-noot?", "Ja hoor!\n\n"
	    "Op 1 dec. 2026 schreef Energie BoTu:\n> Klopt je PS-noot?");
	assert_true(d.act);
	assert_string_equal(status_of_newest(f), "pending");
	assert_int_equal(mails_to(f, "mod1@example.org", "note-moderate"), 1);
	assert_int_equal(mails_to(f, "mod2@example.org", "note-moderate"), 1);
	free(addr);
	free(tok);
	/* The same code again does nothing more. */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox"), 3);

	/* Someone who is no moderator cannot use a moderator's code. */
	tok = code_for(f, "moderator", "mod1@example.org");
	addr = code_address(tok);
	d = mail(f, "mallory@example.net", addr, "Re: x", "akkoord");
	assert_false(d.act);
	assert_string_equal(status_of_newest(f), "pending");

	/* The first moderator approves; the author hears once. */
	d = mail(f, "Mod One <mod1@example.org>", addr, "Re: PS-noot",
	    "Akkoord!\n\n> Wat wil je doen?");
	assert_true(d.act);
	assert_string_equal(status_of_newest(f), "published");
	assert_int_equal(mails_to(f, FATIMA, "note-decided"), 1);
	free(addr);
	free(tok);
	body = sql_text(f, "SELECT role || '|' || name FROM notes");
	assert_string_equal(body, "bewoner|Fatima Öztürk");
	free(body);

	/* The second moderator comes later: "al afgehandeld door ...". */
	tok = code_for(f, "moderator", "mod2@example.org");
	addr = code_address(tok);
	d = mail(f, "mod2@example.org", addr, "Re: PS-noot", "afwijzen, te "
	    "persoonlijk");
	assert_true(d.act);
	assert_string_equal(status_of_newest(f), "published");
	assert_int_equal(mails_to(f, "mod2@example.org", "note-answer"), 1);
	body = last_mail(f, "mod2@example.org");
	assert_non_null(strstr(body, "mod1@example.org"));
	free(body);
	assert_int_equal(mails_to(f, FATIMA, "note-decided"), 1);
	free(addr);
	free(tok);

	/* The waaier is out of date until the daemon's tick writes it. */
	notes_tick(f->conf, f->db, time(NULL));
	body = sql_text(f, "SELECT count(*) FROM state WHERE key = "
	    "'waaier_stale'");
	assert_string_equal(body, "0");
	free(body);
}

static void
test_flow_forged_from_never_publishes(void **state)
{
	struct fx *f = *state;
	struct intake_decision d;
	char *tok, *addr;

	add_member(f, FATIMA, "Fatima");
	/* Mallory writes a note in Fatima's name. */
	d = mail(f, "Fatima <" FATIMA ">", "annerike+ps@lsabewoners.nl",
	    "PS", "Ik vind dat iedereen mij geld moet sturen.");
	assert_true(d.act);
	/* The question goes to the real Fatima, who does not answer. A
	 * guessed code does nothing. */
	d = mail(f, FATIMA, "annerike+bevestig-abcdefghijklmnopqrstuvwxyz@"
	    "lsabewoners.nl", "Re: x [abcdefghijklmnopqrstuvwxyz]", "ja");
	assert_false(d.act);
	assert_string_equal(status_of_newest(f), "unconfirmed");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox WHERE kind "
	    "= 'note-moderate'"), 0);
	/* "Nee" to the real code publishes nothing either. */
	tok = code_for(f, "author", FATIMA);
	addr = code_address(tok);
	d = mail(f, FATIMA, addr, "Re: Klopt je PS-noot?", "Nee, dit heb ik "
	    "niet gestuurd!");
	assert_false(d.act);
	assert_string_equal(status_of_newest(f), "unconfirmed");
	free(addr);
	free(tok);
}

/* 1 when the waaier page in the fixture's folder contains text. */
static int
page_has(struct fx *f, const char *text)
{
	char *path = NULL, buf[65536];
	size_t n;
	FILE *fp;

	assert_true(asprintf(&path, "%s/index.html", f->dir) > 0);
	fp = fopen(path, "r");
	free(path);
	if (fp == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

static void
test_flow_cli_reject_and_withdraw(void **state)
{
	struct fx *f = *state;
	struct intake_decision d;
	char err[BOTU_ERRLEN], *tok, *addr, *body;
	int64_t id;

	add_member(f, FATIMA, "Fatima");
	mail(f, FATIMA, "annerike+ps@lsabewoners.nl", "PS-noot", NOTE_TEXT);
	tok = code_for(f, "author", FATIMA);
	addr = code_address(tok);
	mail(f, FATIMA, addr, "Re: x", "ja");
	free(addr);
	free(tok);
	id = sql_int(f, "SELECT max(id) FROM notes");
	assert_int_equal(notes_reject(f->db, f->conf, id, "cli", "Graag "
	    "zonder telefoonnummer.", NULL, err), BOTU_OK);
	body = last_mail(f, FATIMA);
	assert_non_null(strstr(body, "Graag zonder telefoonnummer."));
	free(body);
	/* A second decision is refused and says who decided. */
	assert_int_equal(notes_approve(f->db, f->conf, id, "cli", NULL, err),
	    BOTU_EPERM);
	assert_non_null(strstr(err, "rejected already (by cli)"));

	/* A new version, approved by the organiser, then withdrawn. */
	mail(f, FATIMA, "annerike+ps@lsabewoners.nl", "PS-noot", PARA2);
	tok = code_for(f, "author", FATIMA);
	addr = code_address(tok);
	mail(f, FATIMA, addr, "Re: x", "ja");
	free(addr);
	free(tok);
	id = sql_int(f, "SELECT max(id) FROM notes");
	assert_int_equal(notes_approve(f->db, f->conf, id, "cli", NULL, err),
	    BOTU_OK);
	/* The page follows: with the note, and without it once she left. */
	notes_tick(f->conf, f->db, time(NULL));
	assert_true(page_has(f, "Bel me over isolatie"));
	id = sql_int(f, "SELECT id FROM members");
	assert_int_equal(members_set_status(f->db, id, "unsubscribed",
	    "unsubscribe", "test", NULL, NULL), BOTU_OK);
	notes_tick(f->conf, f->db, time(NULL));
	assert_false(page_has(f, "Bel me over isolatie"));
	assert_int_equal(members_set_status(f->db, id, "active", "add",
	    "test", NULL, NULL), BOTU_OK);
	notes_tick(f->conf, f->db, time(NULL));
	assert_true(page_has(f, "Bel me over isolatie"));
	d = mail(f, FATIMA, "annerike@lsabewoners.nl", "PS intrekken", "");
	assert_true(d.act);
	assert_string_equal(status_of_newest(f), "published");
	tok = code_for(f, "withdraw", FATIMA);
	addr = code_address(tok);
	d = mail(f, FATIMA, addr, "Re: Wil je je PS-noot intrekken?", "Ja");
	assert_true(d.act);
	assert_string_equal(status_of_newest(f), "withdrawn");
	assert_int_equal(mails_to(f, FATIMA, "note-answer"), 1);
	free(addr);
	free(tok);
}

static void
test_flow_bad_notes_get_friendly_answers(void **state)
{
	struct fx *f = *state;
	struct intake_decision d;
	char *big = malloc(2100), *body;

	add_member(f, FATIMA, "Fatima");
	d = mail(f, FATIMA, "annerike+ps@lsabewoners.nl", "PS-noot",
	    "Hoi,\n\nGroetjes,\nFatima");
	assert_true(d.act);
	assert_int_equal(mails_to(f, FATIMA, "note-answer"), 1);
	body = last_mail(f, FATIMA);
	assert_non_null(strstr(body, "geen tekst"));
	free(body);
	memset(big, 'a', 2000);
	big[2000] = '\0';
	d = mail(f, FATIMA, "annerike+ps@lsabewoners.nl", "PS-noot", big);
	assert_true(d.act);
	body = last_mail(f, FATIMA);
	assert_non_null(strstr(body, "2000"));
	free(body);
	free(big);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM notes"), 0);
}

static void
test_flow_non_member_note_waits_for_sign_up(void **state)
{
	struct fx *f = *state;
	struct intake_decision d;
	char *tok, *addr;

	d = mail(f, "Yusuf Demir <yusuf@example.net>",
	    "annerike+ps@lsabewoners.nl", "PS-noot", NOTE_TEXT);
	assert_true(d.act);
	assert_non_null(strstr(d.action, "keep the PS note"));
	assert_string_equal(status_of_newest(f), "waiting");
	assert_int_equal(mails_to(f, "yusuf@example.net", "confirm"), 1);
	assert_int_equal(mails_to(f, "yusuf@example.net", "note-confirm"), 0);
	/* The sign-up is confirmed: now the note is shown to him. */
	tok = sql_text(f, "SELECT token FROM tokens");
	addr = code_address(tok);
	d = mail(f, "yusuf@example.net", addr, "Re: Bevestig", "Ja");
	assert_true(d.act);
	assert_int_equal(mails_to(f, "yusuf@example.net", "welcome"), 1);
	assert_int_equal(mails_to(f, "yusuf@example.net", "note-confirm"), 1);
	assert_string_equal(status_of_newest(f), "unconfirmed");
	free(addr);
	free(tok);
}

static void
test_flow_ps_question_leaves_the_mail(void **state)
{
	struct fx *f = *state;
	struct intake_decision d;

	add_member(f, FATIMA, "Fatima");
	d = mail(f, FATIMA, "annerike@lsabewoners.nl", "PS: bijlage vergeten",
	    "Hier is hij alsnog.");
	assert_false(d.act);
	assert_int_equal(mails_to(f, FATIMA, "note-answer"), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM notes"), 0);
}

static void
test_flow_profile_and_forget(void **state)
{
	struct fx *f = *state;
	struct intake_decision d;
	char err[BOTU_ERRLEN], *s;
	int published = 0;
	int64_t id;

	add_member(f, FATIMA, "Fatima");
	d = mail(f, FATIMA, "annerike@lsabewoners.nl", "Re: Welkom",
	    "naam: Fatima Öztürk\nrol: Gemeente");
	assert_true(d.act);
	s = sql_text(f, "SELECT name || '|' || role FROM members");
	assert_string_equal(s, "Fatima Öztürk|gemeente");
	free(s);
	d = mail(f, FATIMA, "annerike@lsabewoners.nl", "Re: Welkom",
	    "rol: wethouder");
	assert_true(d.act);
	s = last_mail(f, FATIMA);
	assert_non_null(strstr(s, "wethouder"));
	free(s);
	s = sql_text(f, "SELECT role FROM members");
	assert_string_equal(s, "gemeente");
	free(s);

	/* forget: the member, their notes and their mail are gone. */
	mail(f, FATIMA, "annerike+ps@lsabewoners.nl", "PS-noot", NOTE_TEXT);
	id = sql_int(f, "SELECT id FROM members");
	assert_int_equal(notes_forget(f->db, id, &published), BOTU_OK);
	assert_int_equal(members_forget(f->db, FATIMA, "cli", &id, err),
	    BOTU_OK);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM notes"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM note_tokens"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM members"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM outbox"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM events WHERE "
	    "detail LIKE '%fatima%'"), 0);
	assert_int_equal(members_forget(f->db, FATIMA, "cli", &id, err),
	    BOTU_EPERM);
}

static void
test_flow_html_only_odd_charset_and_reminder(void **state)
{
	static const char raw[] = "From: Els <els@example.org>\n"
	    "To: annerike+ps@lsabewoners.nl\nSubject: PS\n"
	    "Message-ID: <html1@example.org>\nMIME-Version: 1.0\n"
	    "Content-Type: text/html; charset=iso-8859-1\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n"
	    "<html><head><style>p{color:red}</style><script>alert(1)"
	    "</script></head><body><p>Hoi Annerike,</p><p>Ik ben Els M=FCller "
	    "en ik doe mee omdat &lt;energie&gt; {{x}} telt.</p><p>Bel me!"
	    "</p><p>Groetjes,<br>Els</p></body></html>\n";
	struct fx *f = *state;
	struct intake_decision d;
	struct classification c;
	struct message m = { 0 };
	char err[BOTU_ERRLEN], *s, *tok, *addr;
	int64_t n = 0;

	add_member(f, "els@example.org", "Els");
	assert_int_equal(message_parse(raw, strlen(raw), &m, err), BOTU_OK);
	assert_int_equal(handle_decide(f->conf, f->db, &m, 0, &c, &d, err),
	    BOTU_OK);
	classification_clear(&c);
	message_clear(&m);
	assert_true(d.act);
	s = sql_text(f, "SELECT body FROM notes");
	assert_string_equal(s, "Ik ben Els Müller en ik doe mee omdat "
	    "<energie> {{x}} telt.\nBel me!");
	free(s);

	/* Confirmed four days ago and still waiting: one reminder. */
	tok = code_for(f, "author", "els@example.org");
	addr = code_address(tok);
	mail(f, "els@example.org", addr, "Re: x", "ja");
	free(addr);
	free(tok);
	assert_int_equal(notes_count(f->db, "pending", &n), BOTU_OK);
	assert_int_equal(n, 1);
	assert_int_equal(mails_to(f, "mod1@example.org", "note-moderate"), 1);
	notes_tick(f->conf, f->db, time(NULL));
	assert_int_equal(mails_to(f, "mod1@example.org", "note-moderate"), 1);
	notes_tick(f->conf, f->db, time(NULL) + NOTES_REMIND_AFTER + 60);
	assert_int_equal(mails_to(f, "mod1@example.org", "note-moderate"), 2);
	assert_int_equal(mails_to(f, "mod2@example.org", "note-moderate"), 2);
	s = last_mail(f, "mod2@example.org");
	assert_non_null(strstr(s, "Herinnering"));
	free(s);
	notes_tick(f->conf, f->db, time(NULL) + 2 * NOTES_REMIND_AFTER);
	assert_int_equal(mails_to(f, "mod1@example.org", "note-moderate"), 2);
}

/* ---- the waaier ---- */

static void
publish_note(struct fx *f, const char *email, const char *name,
    const char *role, const char *body)
{
	sqlite3_stmt *st;

	add_member(f, email, name);
	assert_int_equal(sqlite3_prepare_v2(db_sqlite(f->db), "INSERT INTO "
	    "notes (member_id, body, name, role, status, created_at, "
	    "updated_at, published_at) SELECT id, ?, ?, ?, 'published', 1, 1, "
	    "1 FROM members WHERE email = ?", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, body, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, email, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
}

static void
test_waaier_escapes_and_groups(void **state)
{
	struct fx *f = *state;
	char err[BOTU_ERRLEN], *html = NULL, *path = NULL, *a, *b, *c;
	int count = 0;

	/* No notes yet: a page that says so. */
	assert_int_equal(waaier_render(f->db, f->conf, 0, &html, err),
	    BOTU_OK);
	assert_non_null(strstr(html, "Er staan nog geen PS-noten"));
	free(html);
	publish_note(f, "k@example.org", "Kees <b>de</b> Vries", "kunstenaar",
	    "<script>alert(1)</script> {{x}} & \"quotes\"");
	publish_note(f, "a@example.org", "Anna", "bewoner", "Zon op het dak.");
	publish_note(f, "z@example.org", "Zeynep", "", "Zonder rol.");
	assert_int_equal(waaier_render(f->db, f->conf, 0, &html, err),
	    BOTU_OK);
	assert_null(strstr(html, "<script>"));
	assert_null(strstr(html, "<b>de</b>"));
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt; "
	    "{{x}} &amp; &quot;quotes&quot;"));
	assert_non_null(strstr(html, "Kees &lt;b&gt;de&lt;/b&gt; Vries"));
	/* bewoner before kunstenaar (the roles' order), no role last */
	a = strstr(html, ">Anna<");
	b = strstr(html, ">Kees");
	c = strstr(html, ">Zeynep<");
	assert_true(a != NULL && b != NULL && c != NULL && a < b && b < c);
	assert_non_null(strstr(html, "3 persoonlijke boodschappen"));
	assert_null(strstr(html, "http"));
	free(html);
	assert_true(asprintf(&path, "%s/w.html", f->dir) > 0);
	assert_int_equal(waaier_write(f->db, f->conf, path, &count, err),
	    BOTU_OK);
	assert_int_equal(count, 3);
	assert_int_equal(access(path, R_OK), 0);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extract_gmail_reply),
		cmocka_unit_test(test_extract_outlook_signature),
		cmocka_unit_test(test_extract_apple_mail),
		cmocka_unit_test(test_extract_profile_lines_and_preamble),
		cmocka_unit_test(test_extract_empty_and_quotes_only),
		cmocka_unit_test(test_length_counts_characters),
		cmocka_unit_test(test_profile_lines),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_classify_ps_question),
		cmocka_unit_test(test_classify_withdraw_and_profile),
		cmocka_unit_test(test_classify_moderator_words_are_no_refusal),
		cmocka_unit_test_setup_teardown(
		    test_flow_consent_moderation_second_moderator, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_flow_forged_from_never_publishes, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_flow_cli_reject_and_withdraw, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_flow_bad_notes_get_friendly_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_flow_non_member_note_waits_for_sign_up, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_flow_ps_question_leaves_the_mail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_profile_and_forget,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_flow_html_only_odd_charset_and_reminder, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_waaier_escapes_and_groups, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
