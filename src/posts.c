/* posts.c - see posts.h */
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
#include "botu/posts.h"
#include "botu/textclean.h"
#include "botu/util.h"

/* Answers about updates to one sender per hour. */
#define POSTS_ANSWERS_PER_HOUR 3

#define POST_COLUMNS \
	"id, coalesce(member_id, 0), author, name, subject, body, status, " \
	"coalesce(decided_by, ''), coalesce(reason, ''), created_at, " \
	"coalesce(confirmed_at, 0), coalesce(published_at, 0)"

void
post_clear(struct post *p)
{
	free(p->author);
	free(p->name);
	free(p->subject);
	free(p->body);
	free(p->status);
	free(p->decided_by);
	free(p->reason);
	memset(p, 0, sizeof(*p));
}

int
posts_valid_status(const char *s)
{
	static const char *const w[] = { "unconfirmed", "pending",
	    "published", "rejected", NULL };

	for (size_t i = 0; s != NULL && w[i] != NULL; i++)
		if (strcmp(s, w[i]) == 0)
			return 1;
	return 0;
}

/* ---- reading an update (pure) ---- */

/* Octets of the first max characters of s, cut after a whole word. */
static size_t
cut_at(const char *s, size_t max, int *cut)
{
	size_t i = 0, chars = 0, space = 0, n;

	*cut = 0;
	while (s[i] != '\0') {
		if (chars == max) {
			*cut = 1;
			break;
		}
		if (s[i] == ' ' || s[i] == '\n')
			space = i;
		n = utf8_charlen(s + i);
		i += n > 0 ? n : 1;
		chars++;
	}
	if (*cut && space > max / 2)
		i = space;
	return i;
}

void
posts_extract(const char *subject, const char *text, char **title,
    char **body, int *shortened)
{
	char *own = text_own_words(text != NULL ? text : "");
	char *msg = text_message(own), *t;
	const char *s = subject != NULL ? subject : "";
	size_t n;
	int cut;

	while (*s == ' ' || *s == '\t')
		s++;
	if (strncasecmp(s, "[update]", 8) == 0)
		s += 8;
	t = utf8_sanitize(s);
	str_trim(t);
	n = cut_at(t, POSTS_MAX_TITLE, &cut);
	t[n] = '\0';
	*title = t;
	str_trim(msg);
	n = cut_at(msg, POSTS_MAX_LENGTH, shortened);
	if (*shortened) {
		msg[n] = '\0';
		str_trim(msg);
		*body = xasprintf("%s …", msg);
		free(msg);
	} else
		*body = msg;
	free(own);
}

/* ---- the store ---- */

static void
post_from_row(sqlite3_stmt *st, struct post *p)
{
	p->id = sqlite3_column_int64(st, 0);
	p->member_id = sqlite3_column_int64(st, 1);
	p->author = xstrdup(db_col_text(st, 2));
	p->name = xstrdup(db_col_text(st, 3));
	p->subject = xstrdup(db_col_text(st, 4));
	p->body = xstrdup(db_col_text(st, 5));
	p->status = xstrdup(db_col_text(st, 6));
	p->decided_by = xstrdup(db_col_text(st, 7));
	p->reason = xstrdup(db_col_text(st, 8));
	p->created_at = sqlite3_column_int64(st, 9);
	p->confirmed_at = sqlite3_column_int64(st, 10);
	p->published_at = sqlite3_column_int64(st, 11);
}

int
posts_get(struct botu_db *db, int64_t id, struct post *out)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT " POST_COLUMNS " FROM posts "
	    "WHERE id = ?");
	int rc;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		post_from_row(st, out);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : BOTU_EDATA;
}

static int
insert_post(struct botu_db *db, int64_t member_id, const char *author,
    const char *name, const char *subject, const char *body,
    const char *status, const char *message_id, int64_t *id)
{
	sqlite3_stmt *st = db_stmt(db, "INSERT INTO posts (member_id, author, "
	    "name, subject, body, status, message_id, created_at, updated_at, "
	    "published_at, decided_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
	    "?8, ?8, CASE WHEN ?6 = 'published' THEN ?8 END, "
	    "CASE WHEN ?6 = 'published' THEN ?9 END)");
	time_t now = time(NULL);
	int rc;

	if (member_id > 0)
		sqlite3_bind_int64(st, 1, member_id);
	sqlite3_bind_text(st, 2, author, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name != NULL ? name : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, body, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, status, -1, SQLITE_STATIC);
	if (message_id != NULL && message_id[0] != '\0')
		sqlite3_bind_text(st, 7, message_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)now);
	sqlite3_bind_text(st, 9, author[0] != '\0' ? author : "cli", -1,
	    SQLITE_STATIC);
	rc = db_exec_stmt(db, st);
	if (rc == BOTU_OK)
		*id = db_last_id(db);
	return rc;
}

/* A decision: published (or confirmed on the way), pending, rejected. */
static int
set_state(struct botu_db *db, int64_t id, const char *status,
    const char *actor, const char *reason)
{
	sqlite3_stmt *st = db_stmt(db, "UPDATE posts SET status = ?1, "
	    "updated_at = ?2, "
	    "confirmed_at = CASE WHEN ?1 IN ('pending', 'published') AND "
	    "  confirmed_at IS NULL THEN ?2 ELSE confirmed_at END, "
	    "published_at = CASE WHEN ?1 = 'published' THEN ?2 ELSE "
	    "  published_at END, "
	    "decided_by = CASE WHEN ?1 IN ('published', 'rejected') THEN ?3 "
	    "  ELSE decided_by END, "
	    "reason = ?4 WHERE id = ?5");

	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 3, actor, -1, SQLITE_STATIC);
	if (reason != NULL && reason[0] != '\0')
		sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, id);
	return db_exec_stmt(db, st);
}

static int
post_event(struct botu_db *db, const struct post *p, const char *kind,
    const char *actor, const char *message_id)
{
	char detail[64];

	snprintf(detail, sizeof(detail), "update %lld", (long long)p->id);
	return db_event(db, p->member_id, kind, actor, message_id, detail);
}

/* ---- who may post ---- */

/* A moderator, or an active member of the core team. */
static int
trusted(struct botu_db *db, const struct botu_conf *conf, const char *addr)
{
	struct member m;
	int yes;

	if (addr_in(conf->list.moderators, addr))
		return 1;
	if (db == NULL || members_get(db, addr, &m) != 1)
		return 0;
	yes = m.core && strcmp(m.status, "active") == 0;
	member_clear(&m);
	return yes;
}

/* ---- mail ---- */

#define decide(x, ...) consent_decide((x)->d, __VA_ARGS__)

static void
set_post_vars(struct tmpl_vars *v, const struct post *p)
{
	tmpl_set(v, "update_title", p->subject);
	tmpl_set(v, "update_body", p->body);
	tmpl_set(v, "update_author", p->name);
}

/* The sender's language: the member's, else what the mail was in. */
static const char *
author_lang(struct botu_db *db, const struct post *p, const char *fallback)
{
	struct member m;
	static const char *const langs[] = { "nl", "en" };
	const char *l = fallback;

	if (p->member_id > 0 && members_get_id(db, p->member_id, &m) == 1) {
		for (size_t i = 0; i < NELEM(langs); i++)
			if (strcmp(m.language, langs[i]) == 0)
				l = langs[i];
		member_clear(&m);
	}
	return l;
}

/* Tells the sender once: published or rejected (with the reason). */
static int
tell_author(struct botu_db *db, const struct botu_conf *conf,
    const struct post *p, const char *tmpl, int attachments, char *err)
{
	const char *lang = author_lang(db, p,
	    conf_languages[conf->list.language]);
	struct tmpl_vars *v;
	int rc;

	if (p->author[0] == '\0')
		return BOTU_OK;		/* the organiser's own */
	v = tmpl_vars_new();
	set_post_vars(v, p);
	tmpl_set(v, "name", p->name);
	tmpl_set(v, "reason", p->reason);
	tmpl_set(v, "attachments_dropped", attachments ? "yes" : "");
	struct mailout_person pm = {
		.to = p->author, .to_name = p->name, .lang = lang,
		.tmpl = tmpl, .kind = "update-decided",
		.member_id = p->member_id, .auto_generated = 1,
	};
	rc = mailout_person(db, conf, &pm, v, err);
	tmpl_vars_free(v);
	return rc;
}

/* An update's own variables in the mail to a moderator. */
static void
moderate_vars(struct tmpl_vars *v, const struct botu_conf *conf,
    const void *arg)
{
	const struct post *p = arg;

	set_post_vars(v, p);
	tmpl_setf(v, "post_id", "%lld", (long long)p->id);
	tmpl_set(v, "author_address", p->author);
	consent_set_date(conf, v, "confirmed", time(NULL),
	    conf_languages[conf->list.language]);
}

/* The update as it will look, to each moderator with a code of their own. */
static int
ask_moderators(struct botu_db *db, const struct botu_conf *conf,
    const struct post *p, char *err)
{
	struct consent_ask a = {
		.thing = CONSENT_POST, .id = p->id,
		.expires = time(NULL) + POSTS_TOKEN_LIFETIME,
		.tmpl = "update-moderate", .kind = "update-moderate",
		.vars = moderate_vars, .arg = p,
	};

	if (conf->list.moderators == NULL)
		log_warnx("update %lld waits for a moderator, and [list] "
		    "moderators is empty: nobody is asked",
		    (long long)p->id);
	return consent_ask_moderators(db, conf, &a, err);
}

static int
publish(struct botu_db *db, const struct botu_conf *conf, struct post *p,
    const char *actor, const char *message_id, int attachments, char *err)
{
	int rc;

	rc = set_state(db, p->id, "published", actor, NULL);
	if (rc == BOTU_OK)
		rc = consent_tokens_use(db, CONSENT_POST, p->id, NULL);
	if (rc == BOTU_OK)
		rc = post_event(db, p, "update-published", actor, message_id);
	if (rc != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "cannot publish update %lld: %s",
		    (long long)p->id, db_errmsg(db));
		return rc;
	}
	return tell_author(db, conf, p, "update-published", attachments, err);
}

/* The sender confirmed: published, or on to the moderators. */
static int
after_consent(struct botu_db *db, const struct botu_conf *conf,
    struct post *p, const char *message_id, char *err)
{
	int rc;

	if (trusted(db, conf, p->author))
		return publish(db, conf, p, p->author, message_id, 0, err);
	rc = set_state(db, p->id, "pending", NULL, NULL);
	if (rc == BOTU_OK)
		rc = consent_tokens_use(db, CONSENT_POST, p->id, "author");
	if (rc == BOTU_OK)
		rc = post_event(db, p, "update-consent", "mail", message_id);
	if (rc != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "%s", db_errmsg(db));
		return rc;
	}
	return ask_moderators(db, conf, p, err);
}

/* The name to show: the member's, else the name in From. */
static const char *
pick_name(const struct posts_mail *x)
{
	if (x->sender != NULL && x->sender->name[0] != '\0')
		return x->sender->name;
	return x->msg->from.name;
}

/* Asks the sender to confirm the update p by replying. */
static int
request_consent(struct posts_mail *x, const struct post *p, int moderated,
    int attachments, int shortened)
{
	time_t expires = time(NULL) + POSTS_TOKEN_LIFETIME;
	const char *lang = conf_languages[x->c->lang];
	struct tmpl_vars *v;
	char *token = NULL, *reply_to, *refs;
	int rc;

	rc = consent_token_create(x->db, CONSENT_POST, "author", p->id,
	    p->author, expires, &token);
	if (rc != BOTU_OK) {
		snprintf(x->err, BOTU_ERRLEN, "cannot store a code: %s",
		    db_errmsg(x->db));
		return rc;
	}
	reply_to = addr_token(x->conf, ADDR_CONFIRM, token);
	refs = message_references(x->msg);
	v = tmpl_vars_new();
	set_post_vars(v, p);
	tmpl_set(v, "name", p->name);
	tmpl_set(v, "token", token);
	tmpl_set(v, "moderated", moderated ? "yes" : "");
	tmpl_set(v, "attachments_dropped", attachments ? "yes" : "");
	tmpl_set(v, "shortened", shortened ? "yes" : "");
	tmpl_setf(v, "max_length", "%d", POSTS_MAX_LENGTH);
	consent_set_date(x->conf, v, "expires", expires, lang);
	struct mailout_person pm = {
		.to = p->author, .to_name = p->name, .lang = lang,
		.tmpl = "update-confirm", .kind = "update-answer",
		.member_id = p->member_id, .reply_to = reply_to,
		.in_reply_to = x->msg->message_id, .references = refs,
	};
	rc = mailout_person(x->db, x->conf, &pm, v, x->err);
	tmpl_vars_free(v);
	free(refs);
	free(reply_to);
	free(token);
	return rc;
}

int
posts_on_update(struct posts_mail *x)
{
	const char *from = x->msg->from.addr;
	char *title = NULL, *body = NULL;
	struct post p = { 0 };
	int shortened = 0, trust, now, rc = BOTU_OK;

	posts_extract(x->msg->subject, x->msg->text, &title, &body,
	    &shortened);
	if (body[0] == '\0') {
		decide(x, 0, "an update without text of its own",
		    "leave it for a person");
		goto out;
	}
	trust = trusted(x->db, x->conf, from);
	now = trust && authres_dmarc_pass(x->msg, x->conf->list.authserv_id);
	if (!now && !consent_may_answer(x->db, CONSENT_POST,
	    x->msg->from.addr, POSTS_ANSWERS_PER_HOUR)) {
		decide(x, 0, "enough answers to this sender this hour",
		    "leave it for a person");
		goto out;
	}
	if (now)
		decide(x, 1, NULL, "publish the update of %s at once (core "
		    "team or moderator, DMARC pass) and tell them",
		    log_addr(from));
	else
		decide(x, 1, NULL, "keep the update of %s and ask them to "
		    "confirm it%s%s", log_addr(from), trust ? "" :
		    "; then a moderator decides", x->msg->has_attachments ?
		    "; attachments are not forwarded" : "");
	if (x->dry || x->db == NULL)
		goto out;
	rc = insert_post(x->db, x->sender != NULL ? x->sender->id : 0, from,
	    pick_name(x), title, body, now ? "published" : "unconfirmed",
	    x->msg->message_id, &p.id);
	if (rc == BOTU_OK && posts_get(x->db, p.id, &p) != 1)
		rc = BOTU_EDATA;
	if (rc == BOTU_OK)
		rc = post_event(x->db, &p, now ? "update-published" : "update",
		    "mail", x->msg->message_id);
	if (rc != BOTU_OK) {
		snprintf(x->err, BOTU_ERRLEN, "cannot store the update: %s",
		    db_errmsg(x->db));
		goto out;
	}
	if (now)
		rc = tell_author(x->db, x->conf, &p, "update-published",
		    x->msg->has_attachments, x->err);
	else
		rc = request_consent(x, &p, !trust, x->msg->has_attachments,
		    shortened);
out:
	post_clear(&p);
	free(title);
	free(body);
	return rc;
}

/* ---- replies with a code ---- */

static int
author_reply(struct posts_mail *x, struct post *p)
{
	if (strcmp(p->status, "unconfirmed") != 0) {
		decide(x, 1, "this update was confirmed or decided before",
		    "do nothing more");
		return BOTU_OK;
	}
	decide(x, 1, NULL, "record that %s confirmed update %lld and %s",
	    log_addr(p->author), (long long)p->id,
	    trusted(x->db, x->conf, p->author) ? "publish it" :
	    "send it to the moderators");
	if (x->dry)
		return BOTU_OK;
	return after_consent(x->db, x->conf, p, x->msg->message_id, x->err);
}

static int
moderator_reply(struct posts_mail *x, struct post *p)
{
	const char *from = x->msg->from.addr;
	enum note_verdict v;
	char *reason = NULL;
	int rc = BOTU_OK;

	v = notes_verdict(x->c->own_words, &reason);
	if (!consent_moderator_may(x->d, x->conf, from, "an update",
	    v != NOTE_VERDICT_NONE))
		goto out;
	if (strcmp(p->status, "pending") != 0) {
		decide(x, 1, "the update was decided before", "do nothing "
		    "more (it is %s, by %s)", p->status,
		    p->decided_by[0] != '\0' ? p->decided_by : "?");
		goto out;
	}
	decide(x, 1, NULL, "%s update %lld of %s, as moderator %s says",
	    v == NOTE_VERDICT_APPROVE ? "publish" : "reject",
	    (long long)p->id, log_addr(p->author), log_addr(from));
	if (x->dry)
		goto out;
	if (v == NOTE_VERDICT_APPROVE)
		rc = posts_approve(x->db, x->conf, p->id, from,
		    x->msg->message_id, x->err);
	else
		rc = posts_reject(x->db, x->conf, p->id, from, reason,
		    x->msg->message_id, x->err);
out:
	free(reason);
	return rc;
}

int
posts_on_token(struct posts_mail *x)
{
	struct consent_token t;
	struct post p;
	int rc;

	if (x->db == NULL)
		return 0;
	rc = consent_token_open(x->db, CONSENT_POST, x->c->token, x->d, &t);
	if (rc <= 1)
		return rc;
	rc = posts_get(x->db, t.id, &p);
	if (rc <= 0) {
		decide(x, 0, "the code's update is gone", "leave it for a "
		    "person");
		return rc < 0 ? BOTU_ETEMP : 1;
	}
	if (strcmp(t.kind, "author") == 0)
		rc = author_reply(x, &p);
	else
		rc = moderator_reply(x, &p);
	post_clear(&p);
	return rc < 0 ? rc : 1;
}

/* ---- the organiser ---- */

int
posts_add(struct botu_db *db, const char *subject, const char *body,
    const char *name, int64_t *id, char err[BOTU_ERRLEN])
{
	struct post p = { 0 };
	int rc;

	rc = insert_post(db, 0, "", name, subject, body, "published", NULL,
	    id);
	if (rc == BOTU_OK) {
		p.id = *id;
		rc = post_event(db, &p, "update-published", "cli", NULL);
	}
	if (rc != BOTU_OK)
		snprintf(err, BOTU_ERRLEN, "cannot store the update: %s",
		    db_errmsg(db));
	return rc;
}

static int
pending_post(struct botu_db *db, int64_t id, struct post *p, char *err)
{
	int found = posts_get(db, id, p), rc;

	rc = consent_pending(db, found, "update", id, p->status,
	    p->decided_by, err);
	if (rc != BOTU_OK && found == 1)
		post_clear(p);
	return rc;
}

int
posts_approve(struct botu_db *db, const struct botu_conf *conf, int64_t id,
    const char *actor, const char *message_id, char err[BOTU_ERRLEN])
{
	struct post p;
	int rc;

	rc = pending_post(db, id, &p, err);
	if (rc != BOTU_OK)
		return rc;
	rc = publish(db, conf, &p, actor, message_id, 0, err);
	post_clear(&p);
	return rc;
}

int
posts_reject(struct botu_db *db, const struct botu_conf *conf, int64_t id,
    const char *actor, const char *reason, const char *message_id,
    char err[BOTU_ERRLEN])
{
	struct post p;
	int rc;

	rc = pending_post(db, id, &p, err);
	if (rc != BOTU_OK)
		return rc;
	rc = set_state(db, id, "rejected", actor, reason);
	if (rc == BOTU_OK)
		rc = consent_tokens_use(db, CONSENT_POST, id, NULL);
	if (rc == BOTU_OK)
		rc = post_event(db, &p, "update-rejected", actor, message_id);
	if (rc != BOTU_OK)
		snprintf(err, BOTU_ERRLEN, "cannot reject update %lld: %s",
		    (long long)id, db_errmsg(db));
	if (rc == BOTU_OK) {
		free(p.reason);
		p.reason = xstrdup(reason != NULL ? reason : "");
		rc = tell_author(db, conf, &p, "update-rejected", 0, err);
	}
	post_clear(&p);
	return rc;
}

/* ---- listings ---- */

static int
write_json(struct botu_db *db, FILE *f, const char *status)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT coalesce(json_group_array(json(j)), '[]') FROM ("
	    "  SELECT json_object('id', id, 'status', status,"
	    "    'author', author, 'name', name, 'subject', subject,"
	    "    'body', body, 'decided_by', decided_by, 'reason', reason,"
	    "    'created', strftime('%Y-%m-%dT%H:%M:%SZ', created_at,"
	    "      'unixepoch'),"
	    "    'published', strftime('%Y-%m-%dT%H:%M:%SZ', published_at,"
	    "      'unixepoch')) AS j"
	    "  FROM posts WHERE ?1 IS NULL OR status = ?1 ORDER BY id DESC)");
	int rc;

	if (status != NULL)
		sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		fprintf(f, "%s\n", db_col_text(st, 0));
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? BOTU_OK : BOTU_EDATA;
}

int
posts_write(struct botu_db *db, FILE *f, int json, const char *status)
{
	sqlite3_stmt *st;
	struct post p;
	char title[256];
	size_t n;
	int rc, cut;

	if (json)
		return write_json(db, f, status);
	fprintf(f, "%-5s %-11s %-28s %s\n", "ID", "STATUS", "FROM", "TITLE");
	st = db_stmt(db, "SELECT " POST_COLUMNS " FROM posts WHERE ?1 IS NULL "
	    "OR status = ?1 ORDER BY id DESC");
	if (status != NULL)
		sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		post_from_row(st, &p);
		n = cut_at(p.subject, 40, &cut);
		snprintf(title, sizeof(title), "%.*s%s", (int)n, p.subject,
		    cut ? "..." : "");
		fprintf(f, "%-5lld %-11s %-28s %s\n", (long long)p.id,
		    p.status, p.author[0] != '\0' ? p.author : "(botu post)",
		    title);
		post_clear(&p);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? BOTU_OK : BOTU_EDATA;
}

int
posts_each_published(struct botu_db *db, time_t from, time_t to,
    posts_each_cb *cb, void *arg)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT " POST_COLUMNS " FROM posts "
	    "WHERE status = 'published' AND published_at > ? AND "
	    "published_at <= ? ORDER BY published_at, id");
	struct post p;
	int rc, stop = 0;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)to);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		post_from_row(st, &p);
		stop = cb(&p, arg);
		post_clear(&p);
	}
	sqlite3_reset(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? BOTU_OK : BOTU_EDATA;
}
