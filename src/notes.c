/* notes.c - see notes.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "botu/addr.h"
#include "botu/authres.h"
#include "botu/consent.h"
#include "botu/log.h"
#include "botu/mailout.h"
#include "botu/notes.h"
#include "botu/textclean.h"
#include "botu/util.h"
#include "botu/waaier.h"

/* Answers about notes to one sender per hour. */
#define NOTES_ANSWERS_PER_HOUR 3
#define WAAIER_STALE_KEY "waaier_stale"

#define NOTE_COLUMNS \
	"n.id, n.member_id, m.email, m.language, n.body, n.name, n.role, " \
	"n.status, coalesce(n.decided_by, ''), coalesce(n.reason, ''), " \
	"n.created_at, coalesce(n.confirmed_at, 0), " \
	"coalesce(n.decided_at, 0), coalesce(n.published_at, 0)"

void
note_clear(struct note *n)
{
	free(n->email);
	free(n->language);
	free(n->body);
	free(n->name);
	free(n->role);
	free(n->status);
	free(n->decided_by);
	free(n->reason);
	memset(n, 0, sizeof(*n));
}

void
note_text_clear(struct note_text *t)
{
	free(t->body);
	free(t->name);
	free(t->role);
	memset(t, 0, sizeof(*t));
}

size_t
notes_length(const char *s)
{
	size_t n = 0, k;

	while (*s != '\0') {
		k = utf8_charlen(s);
		s += k > 0 ? k : 1;
		n++;
	}
	return n;
}

/* ---- reading what people write ---- */

/* "naam: Fatima", "Rol = bewoner": 'n' or 'r' and *value (owned). */
static int
profile_line(const char *line, char **value)
{
	static const struct {
		const char	*word;
		int		 what;
	} words[] = {
		{ "naam", 'n' }, { "name", 'n' }, { "rol", 'r' },
		{ "role", 'r' },
	};
	const char *p = line;
	char *core;
	int nwords;

	while (*p == ' ' || *p == '*' || *p == '-')
		p++;
	for (size_t i = 0; i < NELEM(words); i++) {
		size_t k = strlen(words[i].word);
		const char *v = p + k;

		if (strncasecmp(p, words[i].word, k) != 0)
			continue;
		while (*v == ' ' || *v == '*')
			v++;
		if (*v != ':')
			continue;
		v++;
		*value = str_trim(xstrdup(v));
		/* "naam:" alone says nothing; a sentence is no name. */
		core = text_core(*value);
		nwords = text_count_words(core);
		free(core);
		if ((*value)[0] == '\0' || nwords > 6 ||
		    strpbrk(*value, "?!") != NULL) {
			free(*value);
			*value = NULL;
			return 0;
		}
		return words[i].what;
	}
	return 0;
}

static void
take_profile(struct note_text *out, int what, char *value)
{
	char **slot = what == 'n' ? &out->name : &out->role;

	free(*slot);
	*slot = value;
}

/* Splits text into lines (owned array of owned strings), trimmed. */
static char **
lines_of(const char *text, size_t *n)
{
	char **v = NULL, *copy = xstrdup(text), *p = copy, *nl;

	*n = 0;
	for (;;) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		v = xrealloc(v, (*n + 1) * sizeof(*v));
		v[(*n)++] = str_trim(xstrdup(p));
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	free(copy);
	return v;
}

static void
lines_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* "Hier is mijn PS-noot:", "Here is my note." alone above the text. */
static int
is_preamble(const char *line)
{
	static const char *const marks[] = { "ps-noot", "ps noot", "psnoot",
	    "samenwerkingsnoot", "mijn noot", "my note", "ps note",
	    "ps-note", "hierbij", "here is", "here's", "bij deze", NULL };
	size_t len = strlen(line);
	char *core = text_core(line);
	int words = text_count_words(core);

	free(core);
	if (len == 0 || words > 12)
		return 0;
	for (size_t i = 0; marks[i] != NULL; i++)
		if (strcasestr(line, marks[i]) != NULL)
			return 1;
	return line[len - 1] == ':';
}

void
notes_extract(const char *mail_text, struct note_text *out)
{
	char *own = text_own_words(mail_text), *msg = text_message(own);
	char **lines, *value;
	size_t n, first = 0, last, i;
	struct buf b;
	int what, preamble = 0;

	memset(out, 0, sizeof(*out));
	lines = lines_of(msg, &n);
	last = n;
	/* Profile lines, blank lines and one preamble at the start. */
	for (; first < last; first++) {
		if (lines[first][0] == '\0')
			continue;
		what = profile_line(lines[first], &value);
		if (what != 0) {
			take_profile(out, what, value);
			continue;
		}
		if (preamble || !is_preamble(lines[first]))
			break;
		/* Only when text follows it. */
		for (i = first + 1; i < last && lines[i][0] == '\0'; i++)
			;
		if (i == last)
			break;
		preamble = 1;
	}
	for (; last > first; last--) {
		if (lines[last - 1][0] == '\0')
			continue;
		what = profile_line(lines[last - 1], &value);
		if (what == 0)
			break;
		take_profile(out, what, value);
	}
	buf_init(&b);
	for (i = first; i < last; i++) {
		/* Paragraphs stay; runs of blank lines become one. */
		if (lines[i][0] == '\0' && (b.len == 0 ||
		    (b.len >= 2 && b.s[b.len - 2] == '\n')))
			continue;
		buf_adds(&b, lines[i]);
		buf_addc(&b, '\n');
	}
	while (b.len > 0 && b.s[b.len - 1] == '\n')
		buf_truncate(&b, b.len - 1);
	out->body = buf_detach(&b);
	lines_free(lines, n);
	free(msg);
	free(own);
}

int
notes_profile_lines(const char *own_words, struct note_text *out)
{
	char *msg = text_message(own_words), **lines, *value;
	size_t n;
	int found = 0, other = 0, what;

	memset(out, 0, sizeof(*out));
	lines = lines_of(msg, &n);
	for (size_t i = 0; i < n && !other; i++) {
		if (lines[i][0] == '\0')
			continue;
		what = profile_line(lines[i], &value);
		if (what == 0)
			other = 1;
		else {
			take_profile(out, what, value);
			found = 1;
		}
	}
	lines_free(lines, n);
	free(msg);
	if (!found || other) {
		note_text_clear(out);
		return 0;
	}
	out->body = xstrdup("");
	return 1;
}

enum note_verdict
notes_verdict(const char *own_words, char **reason)
{
	static const char *const approve[] = { "akkoord", "ok", "oké",
	    "oke", "okay", "approve", "approved", "approved.", "goedkeuren",
	    "goedgekeurd", NULL };
	static const char *const reject[] = { "afwijzen", "afgewezen",
	    "reject", "rejected", "weigeren", NULL };
	char *msg = text_message(own_words), *core = text_core(msg);
	char *word, *p;
	enum note_verdict v = NOTE_VERDICT_NONE;
	size_t k;

	*reason = NULL;
	k = strcspn(core, " ");
	word = xstrndup(core, k);
	for (size_t i = 0; approve[i] != NULL; i++)
		if (strcmp(word, approve[i]) == 0)
			v = NOTE_VERDICT_APPROVE;
	for (size_t i = 0; reject[i] != NULL; i++)
		if (strcmp(word, reject[i]) == 0)
			v = NOTE_VERDICT_REJECT;
	if (v == NOTE_VERDICT_REJECT) {
		/* The reason: what follows the word, as written. */
		p = msg;
		while (*p == ' ' || *p == '\n')
			p++;
		p += strcspn(p, " \n:,.;!-");
		p += strspn(p, " \n:,.;!-");
		*reason = str_trim(xstrdup(p));
	}
	free(word);
	free(core);
	free(msg);
	return v;
}

const char *
notes_role(const struct botu_conf *conf, const char *role)
{
	char *want, *have;
	const char *found = NULL;

	if (role == NULL || conf->notes.roles == NULL)
		return NULL;
	want = text_core(role);
	for (char **r = conf->notes.roles; *r != NULL && !found; r++) {
		have = text_core(*r);
		if (strcmp(want, have) == 0 && want[0] != '\0')
			found = *r;
		free(have);
	}
	free(want);
	return found;
}

char *
notes_roles_line(const struct botu_conf *conf)
{
	struct buf b;

	buf_init(&b);
	for (char **r = conf->notes.roles; r != NULL && *r != NULL; r++)
		buf_addf(&b, "%s%s", b.len > 0 ? ", " : "", *r);
	return buf_detach(&b);
}

int
notes_valid_status(const char *s)
{
	static const char *const w[] = { "waiting", "unconfirmed", "pending",
	    "published", "rejected", "replaced", "withdrawn", NULL };

	for (size_t i = 0; s != NULL && w[i] != NULL; i++)
		if (strcmp(s, w[i]) == 0)
			return 1;
	return 0;
}

/* ---- the store ---- */

static void
note_from_row(sqlite3_stmt *st, struct note *n)
{
	n->id = sqlite3_column_int64(st, 0);
	n->member_id = sqlite3_column_int64(st, 1);
	n->email = xstrdup(db_col_text(st, 2));
	n->language = xstrdup(db_col_text(st, 3));
	n->body = xstrdup(db_col_text(st, 4));
	n->name = xstrdup(db_col_text(st, 5));
	n->role = xstrdup(db_col_text(st, 6));
	n->status = xstrdup(db_col_text(st, 7));
	n->decided_by = xstrdup(db_col_text(st, 8));
	n->reason = xstrdup(db_col_text(st, 9));
	n->created_at = sqlite3_column_int64(st, 10);
	n->confirmed_at = sqlite3_column_int64(st, 11);
	n->decided_at = sqlite3_column_int64(st, 12);
	n->published_at = sqlite3_column_int64(st, 13);
}

int
notes_get(struct botu_db *db, int64_t id, struct note *out)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT " NOTE_COLUMNS " FROM notes n "
	    "JOIN members m ON m.id = n.member_id WHERE n.id = ?");
	int rc;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		note_from_row(st, out);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : BOTU_EDATA;
}

/* The member's newest note in one of two states; 1, 0 or error. */
static int
latest(struct botu_db *db, int64_t member_id, const char *s1,
    const char *s2, struct note *out)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT " NOTE_COLUMNS " FROM notes n "
	    "JOIN members m ON m.id = n.member_id WHERE n.member_id = ? AND "
	    "n.status IN (?, ?) ORDER BY n.id DESC LIMIT 1");
	int rc;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_int64(st, 1, member_id);
	sqlite3_bind_text(st, 2, s1, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, s2, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		note_from_row(st, out);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : BOTU_EDATA;
}

static int
set_status(struct botu_db *db, int64_t id, const char *status)
{
	sqlite3_stmt *st = db_stmt(db, "UPDATE notes SET status = ?, "
	    "updated_at = ? WHERE id = ?");

	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 3, id);
	return db_exec_stmt(db, st);
}

/* A newer version replaces the unfinished ones (not the published). */
static int
replace_unfinished(struct botu_db *db, int64_t member_id)
{
	sqlite3_stmt *st = db_stmt(db, "UPDATE notes SET status = 'replaced', "
	    "updated_at = ?, decided_by = coalesce(decided_by, 'author') "
	    "WHERE member_id = ? AND status IN ('waiting', 'unconfirmed', "
	    "'pending')");

	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 2, member_id);
	return db_exec_stmt(db, st);
}

static int
insert_note(struct botu_db *db, int64_t member_id, const char *body,
    const char *name, const char *role, const char *status,
    const char *message_id, int64_t *id)
{
	sqlite3_stmt *st = db_stmt(db, "INSERT INTO notes (member_id, body, "
	    "name, role, status, message_id, created_at, updated_at) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?)");
	time_t now = time(NULL);
	int rc;

	rc = replace_unfinished(db, member_id);
	if (rc != BOTU_OK)
		return rc;
	sqlite3_bind_int64(st, 1, member_id);
	sqlite3_bind_text(st, 2, body, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name != NULL ? name : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, role != NULL ? role : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, status, -1, SQLITE_STATIC);
	if (message_id != NULL && message_id[0] != '\0')
		sqlite3_bind_text(st, 6, message_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)now);
	rc = db_exec_stmt(db, st);
	if (rc == BOTU_OK)
		*id = db_last_id(db);
	return rc;
}

int
notes_waaier_stale(struct botu_db *db)
{
	return db_state_set(db, WAAIER_STALE_KEY, "1");
}

static int
note_event(struct botu_db *db, const struct note *n, const char *kind,
    const char *actor, const char *message_id)
{
	char detail[64];

	snprintf(detail, sizeof(detail), "note %lld", (long long)n->id);
	return db_event(db, n->member_id, kind, actor, message_id, detail);
}

/* ---- mail ---- */

/* One mail about a note. */
#define decide(x, ...) consent_decide((x)->d, __VA_ARGS__)

static const char *
mail_lang(const struct notes_mail *x)
{
	return conf_languages[x->c->lang];
}

/* Answers about notes to this address in the last hour stay few. */
static int
may_answer(struct notes_mail *x)
{
	return consent_may_answer(x->db, CONSENT_NOTE, x->msg->from.addr,
	    NOTES_ANSWERS_PER_HOUR);
}

/* An answer to the sender of the mail being handled. */
static int
answer(struct notes_mail *x, const char *tmpl, const char *kind,
    const char *reply_to, struct tmpl_vars *vars)
{
	const struct member *m = x->sender;
	char *refs = message_references(x->msg);
	const char *name = m != NULL && m->name[0] != '\0' ? m->name :
	    x->msg->from.name;
	struct mailout_person nm = {
		.to = x->msg->from.addr,
		.to_name = name,
		.lang = mail_lang(x),
		.tmpl = tmpl,
		.kind = kind,
		.member_id = m != NULL ? m->id : 0,
		.reply_to = reply_to,
		.in_reply_to = x->msg->message_id,
		.references = refs,
	};
	int rc;

	tmpl_set(vars, "name", name);
	rc = mailout_person(x->db, x->conf, &nm, vars, x->err);
	free(refs);
	return rc;
}

static void
set_note_vars(struct tmpl_vars *v, const struct note *n)
{
	tmpl_set(v, "note_name", n->name);
	tmpl_set(v, "note_role", n->role);
	tmpl_set(v, "note_body", n->body);
}

/*
 * Asks the author to confirm note n: the exact text, name, role, where.
 * in_reply_to/references thread it with the mail it answers.
 */
static int
request_consent(struct botu_db *db, const struct botu_conf *conf,
    const struct note *n, const char *lang, const char *in_reply_to,
    const char *references_, int attachments, int profile_changed,
    char *err)
{
	time_t expires = time(NULL) + NOTES_TOKEN_LIFETIME;
	struct tmpl_vars *v;
	char *token = NULL, *reply_to, *roles;
	struct member m;
	int rc;

	rc = consent_token_create(db, CONSENT_NOTE, "author", n->id, n->email,
	    expires, &token);
	if (rc != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "cannot store a code: %s",
		    db_errmsg(db));
		return rc;
	}
	if (members_get_id(db, n->member_id, &m) != 1) {
		free(token);
		snprintf(err, BOTU_ERRLEN, "the note's author is gone");
		return BOTU_EDATA;
	}
	reply_to = addr_token(conf, ADDR_CONFIRM, token);
	roles = notes_roles_line(conf);
	v = tmpl_vars_new();
	set_note_vars(v, n);
	tmpl_set(v, "name", m.name);
	tmpl_set(v, "token", token);
	tmpl_set(v, "roles", roles);
	tmpl_set(v, "moderated", conf->notes.moderation ? "yes" : "");
	tmpl_set(v, "attachments_dropped", attachments ? "yes" : "");
	tmpl_set(v, "profile_changed", profile_changed ? "yes" : "");
	consent_set_date(conf, v, "expires", expires, lang);
	struct mailout_person nm = {
		.to = m.email, .to_name = m.name, .lang = lang,
		.tmpl = "note-confirm", .kind = "note-confirm",
		.member_id = m.id, .reply_to = reply_to,
		.in_reply_to = in_reply_to, .references = references_,
	};
	rc = mailout_person(db, conf, &nm, v, err);
	tmpl_vars_free(v);
	member_clear(&m);
	free(roles);
	free(reply_to);
	free(token);
	return rc;
}

/* A note's own variables in the mail to a moderator. */
static void
moderate_vars(struct tmpl_vars *v, const struct botu_conf *conf,
    const void *arg)
{
	const struct note *n = arg;

	set_note_vars(v, n);
	tmpl_setf(v, "note_id", "%lld", (long long)n->id);
	tmpl_set(v, "author_address", n->email);
	consent_set_date(conf, v, "confirmed", n->confirmed_at != 0 ?
	    (time_t)n->confirmed_at : time(NULL),
	    conf_languages[conf->list.language]);
}

/* The note as it will look, to each moderator with a code of their own. */
static int
ask_moderators(struct botu_db *db, const struct botu_conf *conf,
    const struct note *n, const char *tmpl, char *err)
{
	struct consent_ask a = {
		.thing = CONSENT_NOTE, .id = n->id,
		.expires = time(NULL) + NOTES_TOKEN_LIFETIME,
		.tmpl = tmpl, .kind = "note-moderate",
		.vars = moderate_vars, .arg = n,
	};

	return consent_ask_moderators(db, conf, &a, err);
}

/* Tells the author once: published, or rejected (with the reason). */
static int
tell_author(struct botu_db *db, const struct botu_conf *conf,
    const struct note *n, const char *tmpl, const char *message_id)
{
	struct tmpl_vars *v = tmpl_vars_new();
	char err[BOTU_ERRLEN];
	struct member m;
	int rc;

	if (members_get_id(db, n->member_id, &m) != 1) {
		tmpl_vars_free(v);
		return BOTU_EDATA;
	}
	set_note_vars(v, n);
	tmpl_set(v, "reason", n->reason);
	tmpl_set(v, "name", m.name);
	struct mailout_person nm = {
		.to = m.email, .to_name = m.name, .lang = m.language,
		.tmpl = tmpl, .kind = "note-decided", .member_id = m.id,
		.in_reply_to = message_id, .references = message_id,
		.auto_generated = 1,
	};
	rc = mailout_person(db, conf, &nm, v, err);
	if (rc != BOTU_OK)
		log_warnx("note %lld: %s", (long long)n->id, err);
	tmpl_vars_free(v);
	member_clear(&m);
	return rc;
}

/* The note's original Message-ID, to thread the author's mail with. */
static char *
note_message_id(struct botu_db *db, int64_t id)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT coalesce(message_id, '') FROM "
	    "notes WHERE id = ?");
	char *mid = NULL;

	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		mid = xstrdup(db_col_text(st, 0));
	sqlite3_reset(st);
	return mid != NULL ? mid : xstrdup("");
}

static int
decided(struct botu_db *db, int64_t id, const char *status,
    const char *actor, const char *reason)
{
	sqlite3_stmt *st = db_stmt(db, "UPDATE notes SET status = ?1, "
	    "decided_at = ?2, decided_by = ?3, reason = ?4, updated_at = ?2, "
	    "published_at = CASE WHEN ?1 = 'published' THEN ?2 ELSE "
	    "published_at END WHERE id = ?5");

	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 3, actor, -1, SQLITE_STATIC);
	if (reason != NULL && reason[0] != '\0')
		sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, id);
	return db_exec_stmt(db, st);
}

/* Publishes n: the member's older published note is replaced. */
static int
publish(struct botu_db *db, const struct botu_conf *conf, struct note *n,
    const char *actor, const char *message_id)
{
	sqlite3_stmt *st = db_stmt(db, "UPDATE notes SET status = 'replaced', "
	    "updated_at = ? WHERE member_id = ? AND status = 'published'");
	char *mid;
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 2, n->member_id);
	rc = db_exec_stmt(db, st);
	if (rc == BOTU_OK)
		rc = decided(db, n->id, "published", actor, NULL);
	if (rc == BOTU_OK)
		rc = consent_tokens_use(db, CONSENT_NOTE, n->id, "moderator");
	if (rc == BOTU_OK)
		rc = note_event(db, n, "note-published", actor, message_id);
	if (rc == BOTU_OK)
		rc = notes_waaier_stale(db);
	if (rc != BOTU_OK)
		return rc;
	mid = note_message_id(db, n->id);
	rc = tell_author(db, conf, n, "note-published", mid);
	free(mid);
	return rc;
}

/* After the author's consent: to the moderators, or straight out. */
static int
after_consent(struct botu_db *db, const struct botu_conf *conf,
    struct note *n, const char *message_id, char *err)
{
	sqlite3_stmt *st = db_stmt(db, "UPDATE notes SET confirmed_at = ?, "
	    "status = 'pending', updated_at = ? WHERE id = ?");
	time_t now = time(NULL);
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 3, n->id);
	rc = db_exec_stmt(db, st);
	if (rc == BOTU_OK)
		rc = consent_tokens_use(db, CONSENT_NOTE, n->id, "author");
	if (rc == BOTU_OK)
		rc = note_event(db, n, "note-consent", "mail", message_id);
	if (rc != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "%s", db_errmsg(db));
		return rc;
	}
	n->confirmed_at = now;
	if (!conf->notes.moderation)
		return publish(db, conf, n, "author", message_id);
	if (conf->list.moderators == NULL)
		log_warnx("note %lld waits for a moderator, and [list] "
		    "moderators is empty: botu notes approve %lld",
		    (long long)n->id, (long long)n->id);
	return ask_moderators(db, conf, n, "note-moderate", err);
}

/* ---- the mail handlers ---- */

/* The name to show: given in the mail, the member's, or From's. */
static const char *
pick_name(const struct notes_mail *x, const struct note_text *t)
{
	if (t->name != NULL)
		return t->name;
	if (x->sender != NULL && x->sender->name[0] != '\0')
		return x->sender->name;
	return x->msg->from.name;
}

/* Checks a note's text; 0, or answers and returns 1 (handled). */
static int
unusable(struct notes_mail *x, const struct note_text *t, int *rc)
{
	size_t len = notes_length(t->body);
	struct tmpl_vars *v;
	char buf[32];
	int empty = t->body[0] == '\0';

	*rc = BOTU_OK;
	if (!empty && (int)len <= x->conf->notes.max_length)
		return 0;
	if (!may_answer(x)) {
		decide(x, 1, NULL, "not answer: enough answers this hour");
		return 1;
	}
	decide(x, 1, empty ? "a PS note without text of its own" :
	    "the PS note is too long", "tell %s why the note cannot be "
	    "taken", log_addr(x->msg->from.addr));
	if (x->dry || x->db == NULL)
		return 1;
	v = tmpl_vars_new();
	tmpl_set(v, "attachments_dropped",
	    x->msg->has_attachments ? "yes" : "");
	snprintf(buf, sizeof(buf), "%zu", len);
	tmpl_set(v, "note_length", buf);
	snprintf(buf, sizeof(buf), "%d", x->conf->notes.max_length);
	tmpl_set(v, "max_length", buf);
	*rc = answer(x, empty ? "note-empty" : "note-too-long",
	    "note-answer", NULL, v);
	tmpl_vars_free(v);
	return 1;
}

/* A name that cannot be shown; NULL when fine. */
static const char *
bad_name(const char *name)
{
	if (name == NULL)
		return NULL;
	if (notes_length(name) > NOTES_MAX_NAME)
		return "too long";
	return NULL;
}

int
notes_on_note(struct notes_mail *x)
{
	struct note_text t;
	struct note n = { 0 };
	const char *role = NULL, *name;
	char *refs = NULL;
	int rc = BOTU_OK;

	notes_extract(x->msg->text, &t);
	if (unusable(x, &t, &rc))
		goto out;
	if (x->sender == NULL || strcmp(x->sender->status, "active") != 0) {
		rc = NOTES_SIGNUP;
		goto out;
	}
	role = t.role != NULL ? notes_role(x->conf, t.role) : NULL;
	if (role == NULL && x->sender->role[0] != '\0')
		role = x->sender->role;
	name = pick_name(x, &t);
	if (bad_name(name) != NULL)
		name = x->sender->name;
	if (!may_answer(x)) {
		decide(x, 1, NULL, "not answer: enough answers this hour");
		goto out;
	}
	decide(x, 1, NULL, "keep the PS note of %s (%zu characters) and ask "
	    "them to confirm it%s", log_addr(x->sender->email),
	    notes_length(t.body), x->msg->has_attachments ?
	    "; tell them attachments are not kept" : "");
	if (x->dry || x->db == NULL)
		goto out;
	/* What the mail said about name and role goes to the member too. */
	rc = members_set_profile(x->db, x->sender->id, name, role, NULL, -1,
	    "mail", x->msg->message_id);
	if (rc == BOTU_OK)
		rc = insert_note(x->db, x->sender->id, t.body, name, role,
		    "unconfirmed", x->msg->message_id, &n.id);
	if (rc != BOTU_OK) {
		snprintf(x->err, BOTU_ERRLEN, "cannot store the note: %s",
		    db_errmsg(x->db));
		goto out;
	}
	if (notes_get(x->db, n.id, &n) != 1) {
		rc = BOTU_EDATA;
		goto out;
	}
	rc = note_event(x->db, &n, "note", "mail", x->msg->message_id);
	refs = message_references(x->msg);
	if (rc == BOTU_OK)
		rc = request_consent(x->db, x->conf, &n, mail_lang(x),
		    x->msg->message_id, refs, x->msg->has_attachments, 0,
		    x->err);
out:
	free(refs);
	note_clear(&n);
	note_text_clear(&t);
	return rc;
}

int
notes_hold(struct notes_mail *x, int64_t member_id)
{
	struct note_text t;
	const char *role;
	int64_t id;
	int rc;

	notes_extract(x->msg->text, &t);
	role = t.role != NULL ? notes_role(x->conf, t.role) : NULL;
	rc = insert_note(x->db, member_id, t.body, t.name != NULL &&
	    bad_name(t.name) == NULL ? t.name : x->msg->from.name, role,
	    "waiting", x->msg->message_id, &id);
	if (rc == BOTU_OK)
		rc = db_event(x->db, member_id, "note", "mail",
		    x->msg->message_id, "waits for the sign-up");
	if (rc != BOTU_OK)
		snprintf(x->err, BOTU_ERRLEN, "cannot store the note: %s",
		    db_errmsg(x->db));
	note_text_clear(&t);
	return rc;
}

int
notes_after_signup(struct botu_db *db, const struct botu_conf *conf,
    const struct member *m, const char *in_reply_to, char err[BOTU_ERRLEN])
{
	struct note n;
	int rc;

	rc = latest(db, m->id, "waiting", "waiting", &n);
	if (rc <= 0)
		return rc < 0 ? BOTU_EDATA : BOTU_OK;
	rc = set_status(db, n.id, "unconfirmed");
	if (rc == BOTU_OK && n.name[0] == '\0' && m->name[0] != '\0') {
		free(n.name);
		n.name = xstrdup(m->name);
	}
	if (rc == BOTU_OK)
		rc = request_consent(db, conf, &n, m->language, in_reply_to,
		    in_reply_to, 0, 0, err);
	note_clear(&n);
	return rc;
}

int
notes_on_question(struct notes_mail *x)
{
	struct tmpl_vars *v;
	int rc;

	if (!may_answer(x)) {
		decide(x, 0, NULL, "leave it for a person (enough answers to "
		    "this sender this hour)");
		return BOTU_OK;
	}
	decide(x, 0, NULL, "ask %s whether this is their PS note, and leave "
	    "the mail for a person", log_addr(x->msg->from.addr));
	if (x->dry || x->db == NULL)
		return BOTU_OK;
	v = tmpl_vars_new();
	rc = answer(x, "note-question", "note-answer", NULL, v);
	tmpl_vars_free(v);
	return rc;
}

/* Sends the "profile" answer: what is set now, or what is wrong. */
static int
profile_answer(struct notes_mail *x, const char *name, const char *role,
    const char *unknown_role, int name_missing)
{
	struct tmpl_vars *v = tmpl_vars_new();
	char *roles = notes_roles_line(x->conf);
	int rc;

	tmpl_set(v, "member_name", name);
	tmpl_set(v, "member_role", role);
	tmpl_set(v, "role_unknown", unknown_role);
	tmpl_set(v, "name_missing", name_missing ? "yes" : "");
	tmpl_set(v, "roles", roles);
	rc = answer(x, "profile", "note-answer", NULL, v);
	free(roles);
	tmpl_vars_free(v);
	return rc;
}

int
notes_on_profile(struct notes_mail *x)
{
	const struct member *m = x->sender;
	struct note_text t;
	struct note n = { 0 };
	const char *role = NULL, *name;
	int rc = BOTU_OK, has;

	if (m == NULL || strcmp(m->status, "unsubscribed") == 0) {
		decide(x, 0, "the sender is not a member", "leave it for a "
		    "person");
		return BOTU_OK;
	}
	if (!notes_profile_lines(x->c->own_words, &t)) {
		decide(x, 0, "no name or role in the text", "leave it for a "
		    "person");
		return BOTU_OK;
	}
	if (t.role != NULL && (role = notes_role(x->conf, t.role)) == NULL) {
		decide(x, 1, NULL, "tell %s the role '%s' is not one of the "
		    "list's", log_addr(m->email), t.role);
		if (!x->dry && x->db != NULL && may_answer(x))
			rc = profile_answer(x, m->name, m->role, t.role, 0);
		goto out;
	}
	name = t.name != NULL && bad_name(t.name) == NULL ? t.name : m->name;
	if (role == NULL)
		role = m->role;
	if (!may_answer(x)) {
		decide(x, 1, NULL, "set the name and role of %s, without an "
		    "answer (enough this hour)", log_addr(m->email));
		goto out;
	}
	decide(x, 1, NULL, "set the name and role of %s and tell them",
	    log_addr(m->email));
	if (x->dry || x->db == NULL)
		goto out;
	rc = members_set_profile(x->db, m->id, name, role, NULL, -1, "mail",
	    x->msg->message_id);
	if (rc != BOTU_OK)
		goto out;
	/* A note already out (or on its way) shows them after a new yes. */
	has = latest(x->db, m->id, "published", "pending", &n);
	if (has == 0)
		has = latest(x->db, m->id, "unconfirmed", "unconfirmed", &n);
	if (has < 0) {
		rc = BOTU_EDATA;
		goto out;
	}
	if (has == 1 && (strcmp(n.name, name) != 0 ||
	    strcmp(n.role, role) != 0)) {
		int64_t id;
		char *refs = message_references(x->msg);

		rc = insert_note(x->db, m->id, n.body, name, role,
		    "unconfirmed", x->msg->message_id, &id);
		note_clear(&n);
		if (rc == BOTU_OK && notes_get(x->db, id, &n) == 1)
			rc = request_consent(x->db, x->conf, &n, mail_lang(x),
			    x->msg->message_id, refs, 0, 1, x->err);
		free(refs);
		goto out;
	}
	rc = profile_answer(x, name, role, NULL, 0);
out:
	note_clear(&n);
	note_text_clear(&t);
	return rc;
}

static int
withdraw_now(struct notes_mail *x, int64_t member_id)
{
	struct tmpl_vars *v;
	int n = 0, rc;

	rc = notes_withdraw(x->db, member_id, "mail", x->msg->message_id, &n);
	if (rc != BOTU_OK)
		return rc;
	v = tmpl_vars_new();
	rc = answer(x, "note-withdrawn", "note-answer", NULL, v);
	tmpl_vars_free(v);
	return rc;
}

int
notes_on_withdraw(struct notes_mail *x)
{
	const struct member *m = x->sender;
	struct tmpl_vars *v;
	struct note n = { 0 };
	char *token = NULL, *reply_to = NULL;
	time_t expires = time(NULL) + NOTES_TOKEN_LIFETIME;
	int rc = BOTU_OK, has;

	if (x->db == NULL) {
		decide(x, 1, NULL, "ask the sender to confirm withdrawing "
		    "their PS note, if they have one");
		return BOTU_OK;
	}
	if (m == NULL) {
		decide(x, 0, "the sender is not a member", "leave it for a "
		    "person");
		return BOTU_OK;
	}
	has = latest(x->db, m->id, "published", "pending", &n);
	if (has == 0)
		has = latest(x->db, m->id, "unconfirmed", "waiting", &n);
	if (has < 0)
		return BOTU_ETEMP;
	if (has == 0) {
		decide(x, 0, "the sender has no PS note", "leave it for a "
		    "person");
		goto out;
	}
	if (!may_answer(x)) {
		decide(x, 1, NULL, "not answer: enough answers this hour");
		goto out;
	}
	if (authres_dmarc_pass(x->msg, x->conf->list.authserv_id)) {
		decide(x, 1, NULL, "withdraw the PS note of %s at once (DMARC "
		    "pass) and tell them", log_addr(m->email));
		if (!x->dry)
			rc = withdraw_now(x, m->id);
		goto out;
	}
	decide(x, 1, NULL, "ask %s to confirm withdrawing their PS note",
	    log_addr(m->email));
	if (x->dry)
		goto out;
	rc = consent_token_create(x->db, CONSENT_NOTE, "withdraw", n.id,
	    m->email, expires, &token);
	if (rc != BOTU_OK)
		goto out;
	reply_to = addr_token(x->conf, ADDR_CONFIRM, token);
	v = tmpl_vars_new();
	set_note_vars(v, &n);
	tmpl_set(v, "token", token);
	consent_set_date(x->conf, v, "expires", expires, mail_lang(x));
	rc = answer(x, "note-withdraw-confirm", "note-withdraw", reply_to, v);
	tmpl_vars_free(v);
out:
	free(reply_to);
	free(token);
	note_clear(&n);
	return rc;
}

/* ---- replies with a code ---- */

static int
author_reply(struct notes_mail *x, struct note *n)
{
	struct note_text t = { 0 };
	const char *role = NULL;
	struct member m;
	int rc = BOTU_OK;

	if (strcmp(n->status, "unconfirmed") != 0) {
		decide(x, 1, "this version of the note was replaced or "
		    "handled before", "do nothing more");
		return BOTU_OK;
	}
	if (members_get_id(x->db, n->member_id, &m) != 1)
		return BOTU_ETEMP;
	x->sender = &m;
	/* "Ja, maar met naam: ..." in the reply changes name or role. */
	notes_extract(x->c->own_words, &t);
	if (t.role != NULL && (role = notes_role(x->conf, t.role)) == NULL) {
		decide(x, 1, NULL, "tell %s the role '%s' is not one of the "
		    "list's; the note waits", log_addr(m.email), t.role);
		if (!x->dry)
			rc = profile_answer(x, n->name, n->role, t.role, 0);
		goto out;
	}
	if (t.name != NULL && bad_name(t.name) == NULL) {
		free(n->name);
		n->name = xstrdup(t.name);
	}
	if (role != NULL) {
		free(n->role);
		n->role = xstrdup(role);
	}
	if (n->name[0] == '\0') {
		decide(x, 1, NULL, "ask %s for a name to show with the note",
		    log_addr(m.email));
		if (!x->dry)
			rc = profile_answer(x, "", n->role, NULL, 1);
		goto out;
	}
	decide(x, 1, NULL, "record the consent of %s to note %lld and %s",
	    log_addr(m.email), (long long)n->id,
	    x->conf->notes.moderation ? "send it to the moderators" :
	    "publish it");
	if (x->dry)
		goto out;
	if (t.name != NULL || role != NULL) {
		sqlite3_stmt *st = db_stmt(x->db, "UPDATE notes SET name = ?, "
		    "role = ? WHERE id = ?");

		sqlite3_bind_text(st, 1, n->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, n->role, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, n->id);
		rc = db_exec_stmt(x->db, st);
		if (rc == BOTU_OK)
			rc = members_set_profile(x->db, m.id, n->name,
			    n->role, NULL, -1, "mail", x->msg->message_id);
		if (rc != BOTU_OK)
			goto out;
	}
	rc = after_consent(x->db, x->conf, n, x->msg->message_id, x->err);
out:
	x->sender = NULL;
	note_text_clear(&t);
	member_clear(&m);
	return rc;
}

/* "al afgehandeld door ...": to a moderator who came second. */
static int
already_decided(struct notes_mail *x, const struct note *n)
{
	struct tmpl_vars *v = tmpl_vars_new();
	const char *by = n->decided_by;
	int rc;

	set_note_vars(v, n);
	tmpl_set(v, "decided_by", strcmp(by, "author") == 0 ||
	    strcmp(by, "mail") == 0 ? n->name : by);
	tmpl_set(v, "approved", strcmp(n->status, "published") == 0 ||
	    (strcmp(n->status, "replaced") == 0 && n->published_at != 0) ?
	    "yes" : "");
	tmpl_set(v, "rejected", strcmp(n->status, "rejected") == 0 ?
	    "yes" : "");
	tmpl_set(v, "withdrawn", strcmp(n->status, "withdrawn") == 0 ||
	    (strcmp(n->status, "replaced") == 0 && n->published_at == 0) ?
	    "yes" : "");
	rc = answer(x, "note-already-decided", "note-answer", NULL, v);
	tmpl_vars_free(v);
	return rc;
}

static int
moderator_reply(struct notes_mail *x, struct note *n)
{
	const char *from = x->msg->from.addr;
	enum note_verdict v;
	char *reason = NULL;
	int rc = BOTU_OK;

	v = notes_verdict(x->c->own_words, &reason);
	if (!consent_moderator_may(x->d, x->conf, from, "a note",
	    v != NOTE_VERDICT_NONE))
		goto out;
	if (strcmp(n->status, "pending") != 0) {
		decide(x, 1, NULL, "tell %s note %lld was handled already "
		    "(%s by %s)", log_addr(from), (long long)n->id, n->status,
		    n->decided_by[0] != '\0' ? n->decided_by : "?");
		if (!x->dry)
			rc = already_decided(x, n);
		goto out;
	}
	decide(x, 1, NULL, "%s note %lld of %s, as moderator %s says",
	    v == NOTE_VERDICT_APPROVE ? "publish" : "reject",
	    (long long)n->id, log_addr(n->email), log_addr(from));
	if (x->dry)
		goto out;
	if (v == NOTE_VERDICT_APPROVE)
		rc = notes_approve(x->db, x->conf, n->id, from,
		    x->msg->message_id, x->err);
	else
		rc = notes_reject(x->db, x->conf, n->id, from, reason,
		    x->msg->message_id, x->err);
out:
	free(reason);
	return rc;
}

static int
withdraw_reply(struct notes_mail *x, struct note *n)
{
	struct member m;
	int rc;

	decide(x, 1, NULL, "withdraw the PS note of %s (confirmed)",
	    log_addr(n->email));
	if (x->dry)
		return BOTU_OK;
	if (members_get_id(x->db, n->member_id, &m) != 1)
		return BOTU_ETEMP;
	x->sender = &m;
	rc = withdraw_now(x, m.id);
	x->sender = NULL;
	member_clear(&m);
	return rc;
}

int
notes_on_token(struct notes_mail *x)
{
	struct consent_token t;
	struct note n;
	int rc;

	if (x->db == NULL)
		return 0;
	rc = consent_token_open(x->db, CONSENT_NOTE, x->c->token, x->d, &t);
	if (rc <= 1)
		return rc;
	rc = notes_get(x->db, t.id, &n);
	if (rc <= 0) {
		decide(x, 0, "the code's note is gone", "leave it for a "
		    "person");
		return rc < 0 ? BOTU_ETEMP : 1;
	}
	if (strcmp(t.kind, "author") == 0)
		rc = author_reply(x, &n);
	else if (strcmp(t.kind, "moderator") == 0)
		rc = moderator_reply(x, &n);
	else if (t.used_at == 0)
		rc = withdraw_reply(x, &n);
	note_clear(&n);
	return rc < 0 ? rc : 1;
}

/* ---- the organiser's decisions ---- */

static int
pending_note(struct botu_db *db, int64_t id, struct note *n, char *err)
{
	int found = notes_get(db, id, n), rc;

	rc = consent_pending(db, found, "note", id, n->status,
	    n->decided_by, err);
	if (rc != BOTU_OK && found == 1)
		note_clear(n);
	return rc;
}

int
notes_approve(struct botu_db *db, const struct botu_conf *conf, int64_t id,
    const char *actor, const char *message_id, char err[BOTU_ERRLEN])
{
	struct note n;
	int rc;

	rc = pending_note(db, id, &n, err);
	if (rc != BOTU_OK)
		return rc;
	rc = publish(db, conf, &n, actor, message_id);
	if (rc != BOTU_OK)
		snprintf(err, BOTU_ERRLEN, "cannot publish note %lld: %s",
		    (long long)id, db_errmsg(db));
	note_clear(&n);
	return rc;
}

int
notes_reject(struct botu_db *db, const struct botu_conf *conf, int64_t id,
    const char *actor, const char *reason, const char *message_id,
    char err[BOTU_ERRLEN])
{
	struct note n;
	char *mid;
	int rc;

	rc = pending_note(db, id, &n, err);
	if (rc != BOTU_OK)
		return rc;
	rc = decided(db, id, "rejected", actor, reason);
	if (rc == BOTU_OK)
		rc = consent_tokens_use(db, CONSENT_NOTE, id, "moderator");
	if (rc == BOTU_OK)
		rc = note_event(db, &n, "note-rejected", actor, message_id);
	if (rc == BOTU_OK) {
		free(n.reason);
		n.reason = xstrdup(reason != NULL ? reason : "");
		mid = note_message_id(db, id);
		rc = tell_author(db, conf, &n, "note-rejected", mid);
		free(mid);
	}
	if (rc != BOTU_OK)
		snprintf(err, BOTU_ERRLEN, "cannot reject note %lld: %s",
		    (long long)id, db_errmsg(db));
	note_clear(&n);
	return rc;
}

int
notes_withdraw(struct botu_db *db, int64_t member_id, const char *actor,
    const char *message_id, int *n)
{
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(db, "SELECT count(*) FROM notes WHERE member_id = ? AND "
	    "status = 'published'");
	sqlite3_bind_int64(st, 1, member_id);
	*n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_reset(st);
	st = db_stmt(db, "UPDATE notes SET status = 'withdrawn', "
	    "decided_by = ?1, decided_at = ?2, updated_at = ?2 WHERE "
	    "member_id = ?3 AND status IN ('waiting', 'unconfirmed', "
	    "'pending', 'published')");
	sqlite3_bind_text(st, 1, actor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 3, member_id);
	rc = db_exec_stmt(db, st);
	if (rc == BOTU_OK) {
		st = db_stmt(db, "UPDATE note_tokens SET used_at = ? WHERE "
		    "used_at IS NULL AND note_id IN (SELECT id FROM notes "
		    "WHERE member_id = ?)");
		sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
		sqlite3_bind_int64(st, 2, member_id);
		rc = db_exec_stmt(db, st);
	}
	if (rc == BOTU_OK)
		rc = db_event(db, member_id, "note-withdrawn", actor,
		    message_id, "");
	if (rc == BOTU_OK && *n > 0)
		rc = notes_waaier_stale(db);
	return rc;
}

int
notes_forget(struct botu_db *db, int64_t member_id, int *published)
{
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(db, "SELECT count(*) FROM notes WHERE member_id = ? AND "
	    "status = 'published'");
	sqlite3_bind_int64(st, 1, member_id);
	*published = sqlite3_step(st) == SQLITE_ROW ?
	    sqlite3_column_int(st, 0) : 0;
	sqlite3_reset(st);
	st = db_stmt(db, "DELETE FROM notes WHERE member_id = ?");
	sqlite3_bind_int64(st, 1, member_id);
	rc = db_exec_stmt(db, st);
	if (rc == BOTU_OK && *published > 0)
		rc = notes_waaier_stale(db);
	return rc;
}

/* ---- listings ---- */

int
notes_count(struct botu_db *db, const char *status, int64_t *n)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT count(*) FROM notes WHERE status = ?");
	int rc;

	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? BOTU_OK : BOTU_EDATA;
}

static int
write_json(struct botu_db *db, FILE *f, const char *status)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT coalesce(json_group_array(json(j)), '[]') FROM ("
	    "  SELECT json_object('id', n.id, 'email', m.email,"
	    "    'name', n.name, 'role', n.role, 'status', n.status,"
	    "    'body', n.body, 'length', length(n.body),"
	    "    'decided_by', n.decided_by, 'reason', n.reason,"
	    "    'created', strftime('%Y-%m-%dT%H:%M:%SZ', n.created_at,"
	    "      'unixepoch'),"
	    "    'confirmed', strftime('%Y-%m-%dT%H:%M:%SZ', n.confirmed_at,"
	    "      'unixepoch'),"
	    "    'decided', strftime('%Y-%m-%dT%H:%M:%SZ', n.decided_at,"
	    "      'unixepoch'),"
	    "    'published', strftime('%Y-%m-%dT%H:%M:%SZ', n.published_at,"
	    "      'unixepoch')) AS j"
	    "  FROM notes n JOIN members m ON m.id = n.member_id"
	    "  WHERE ?1 IS NULL OR n.status = ?1 ORDER BY n.id DESC)");
	int rc;

	if (status != NULL)
		sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		fprintf(f, "%s\n", db_col_text(st, 0));
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? BOTU_OK : BOTU_EDATA;
}

/* The first line of a body, cut at n characters, for a table. */
static void
excerpt(const char *body, char *out, size_t len, size_t chars)
{
	size_t i = 0, k = 0, c;

	while (body[i] != '\0' && body[i] != '\n' && k < chars &&
	    i + 4 < len) {
		c = utf8_charlen(body + i);
		if (c == 0)
			c = 1;
		memcpy(out + i, body + i, c);
		i += c;
		k++;
	}
	out[i] = '\0';
	if ((body[i] != '\0') && i + 4 < len)
		str_copy(out + i, "...", len - i);
}

int
notes_write(struct botu_db *db, FILE *f, int json, const char *status)
{
	sqlite3_stmt *st;
	struct note n;
	char ex[256];
	int rc;

	if (json)
		return write_json(db, f, status);
	fprintf(f, "%-5s %-11s %-28s %-20s %s\n", "ID", "STATUS", "EMAIL",
	    "NAME (ROLE)", "TEXT");
	st = db_stmt(db, "SELECT " NOTE_COLUMNS " FROM notes n JOIN members m "
	    "ON m.id = n.member_id WHERE ?1 IS NULL OR n.status = ?1 "
	    "ORDER BY n.id DESC");
	if (status != NULL)
		sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char who[160];

		note_from_row(st, &n);
		snprintf(who, sizeof(who), "%s%s%s%s", n.name,
		    n.role[0] != '\0' ? " (" : "", n.role,
		    n.role[0] != '\0' ? ")" : "");
		excerpt(n.body, ex, sizeof(ex), 40);
		fprintf(f, "%-5lld %-11s %-28s %-20s %s\n", (long long)n.id,
		    n.status, n.email, who, ex);
		note_clear(&n);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? BOTU_OK : BOTU_EDATA;
}

int
notes_each_published(struct botu_db *db, notes_each_cb *cb, void *arg)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT " NOTE_COLUMNS " FROM notes n "
	    "JOIN members m ON m.id = n.member_id WHERE n.status = "
	    "'published' AND m.status = 'active' ORDER BY n.name COLLATE "
	    "NOCASE, n.id");
	struct note n;
	int rc, stop = 0;

	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		note_from_row(st, &n);
		stop = cb(&n, arg);
		note_clear(&n);
	}
	sqlite3_reset(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? BOTU_OK : BOTU_EDATA;
}

/* ---- now and then ---- */

static void
remind(const struct botu_conf *conf, struct botu_db *db, time_t now)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id FROM notes WHERE status = "
	    "'pending' AND reminded_at IS NULL AND confirmed_at <= ? "
	    "ORDER BY id LIMIT 20");
	int64_t ids[20];
	int n = 0;

	if (conf->list.moderators == NULL)
		return;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(now - NOTES_REMIND_AFTER));
	while (n < 20 && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	for (int i = 0; i < n; i++) {
		char err[BOTU_ERRLEN];
		struct note note;
		int rc;

		if (db_begin(db) != BOTU_OK)
			return;
		rc = notes_get(db, ids[i], &note) == 1 ? BOTU_OK : BOTU_EDATA;
		if (rc == BOTU_OK)
			rc = ask_moderators(db, conf, &note, "note-remind",
			    err);
		if (rc == BOTU_OK) {
			st = db_stmt(db, "UPDATE notes SET reminded_at = ? "
			    "WHERE id = ?");
			sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
			sqlite3_bind_int64(st, 2, ids[i]);
			rc = db_exec_stmt(db, st);
		}
		note_clear(&note);
		if (rc == BOTU_OK && db_commit(db) == BOTU_OK) {
			log_info("note %lld: reminded the moderators",
			    (long long)ids[i]);
			continue;
		}
		db_rollback(db);
		log_warnx("note %lld: cannot remind the moderators",
		    (long long)ids[i]);
		return;
	}
}

/*
 * Which notes the waaier shows, in one line: a member who left (or was
 * forgotten) changes it too, without a mark.
 */
static char *
waaier_signature(struct botu_db *db)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT count(*), "
	    "coalesce(sum(n.id), 0), coalesce(max(n.id), 0) FROM notes n "
	    "JOIN members m ON m.id = n.member_id WHERE n.status = "
	    "'published' AND m.status = 'active'");
	char *sig = NULL;

	if (sqlite3_step(st) == SQLITE_ROW)
		sig = xasprintf("%lld:%lld:%lld",
		    (long long)sqlite3_column_int64(st, 0),
		    (long long)sqlite3_column_int64(st, 1),
		    (long long)sqlite3_column_int64(st, 2));
	sqlite3_reset(st);
	return sig;
}

void
notes_tick(const struct botu_conf *conf, struct botu_db *db, time_t now)
{
	char err[BOTU_ERRLEN], *stale = NULL, *sig, *old = NULL;
	int marked;

	remind(conf, db, now);
	if (conf->notes.waaier_dir[0] == '\0')
		return;
	marked = db_state_get(db, WAAIER_STALE_KEY, &stale) == 1;
	sig = waaier_signature(db);
	if (sig == NULL)
		return;
	if (!marked && db_state_get(db, "waaier_signature", &old) == 1 &&
	    strcmp(old, sig) == 0)
		goto out;
	if (waaier_refresh(db, conf, err) != BOTU_OK) {
		log_warnx("waaier: %s", err);
		goto out;
	}
	log_info("waaier: wrote %s/index.html", conf->notes.waaier_dir);
	if (db_state_set(db, WAAIER_STALE_KEY, NULL) != BOTU_OK ||
	    db_state_set(db, "waaier_signature", sig) != BOTU_OK)
		log_warnx("waaier: cannot note the page as current: %s",
		    db_errmsg(db));
out:
	free(stale);
	free(old);
	free(sig);
}
