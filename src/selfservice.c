/* selfservice.c - see selfservice.h */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "botu/addr.h"
#include "botu/authres.h"
#include "botu/dates.h"
#include "botu/log.h"
#include "botu/mailout.h"
#include "botu/memberdata.h"
#include "botu/retention.h"
#include "botu/selfservice.h"
#include "botu/token.h"
#include "botu/util.h"

/* The outbox kinds of this module's answers that a mail alone brings
 * (the answer to a reply with a code does not count), for the limit. */
#define ANSWER_KINDS "('my-data', 'confirm-forget', 'language', " \
	"'confirm-pause', 'resumed')"

static void
decide(struct selfservice_mail *s, int act, const char *reason,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
decide(struct selfservice_mail *s, int act, const char *reason,
    const char *fmt, ...)
{
	va_list ap;

	s->d->act = act;
	if (reason != NULL)
		str_copy(s->d->reason, reason, sizeof(s->d->reason));
	va_start(ap, fmt);
	vsnprintf(s->d->action, sizeof(s->d->action), fmt, ap);
	va_end(ap);
}

/* Answers to the stored address in the last hour stay under the limit. */
static int
may_answer(struct selfservice_mail *s)
{
	sqlite3_stmt *st;
	int n = 0;

	if (s->db == NULL)
		return 1;
	st = db_stmt(s->db, "SELECT count(*) FROM outbox WHERE rcpt = ? AND "
	    "created_at >= ? AND kind IN " ANSWER_KINDS);
	sqlite3_bind_text(st, 1, s->sender->email, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL) - 3600);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return n < SELFSERVICE_ANSWERS_PER_HOUR;
}

/* Codes made in the last hour, all members together, under the limit. */
static int
may_make_code(struct selfservice_mail *s)
{
	sqlite3_stmt *st;
	int n = 0;

	if (s->db == NULL)
		return 1;
	st = db_stmt(s->db, "SELECT count(*) FROM privacy_tokens WHERE "
	    "created_at >= ?");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL) - 3600);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return n < SELFSERVICE_CODES_PER_HOUR;
}

static char *
references(const struct message *msg)
{
	if (msg->message_id[0] == '\0')
		return xstrdup(msg->references);
	if (msg->references[0] == '\0')
		return xstrdup(msg->message_id);
	return xasprintf("%s %s", msg->references, msg->message_id);
}

/*
 * Queues an answer to the member's stored address: never to Reply-To or
 * From, so a forged sender only makes the owner receive it.
 */
static int
answer(struct selfservice_mail *s, const char *lang, const char *tmpl,
    const char *kind, const char *reply_to, time_t expires,
    struct tmpl_vars *vars)
{
	const struct member *m = s->sender;
	char *refs = references(s->msg), *detail, *unsub;
	struct mailout mo = {
		.to = m->email,
		.to_name = m->name[0] != '\0' ? m->name : NULL,
		.lang = lang,
		.template = tmpl,
		.kind = kind,
		.member_id = m->id,
		.in_reply_to = s->msg->message_id[0] != '\0' ?
		    s->msg->message_id : NULL,
		.references = refs[0] != '\0' ? refs : NULL,
		.reply_to = reply_to,
		.auto_submitted = COMPOSE_AUTO_REPLIED,
		.ordered = 1,
		.expires_at = expires,
	};
	size_t len;
	int rc;

	/* A change (language, resume) is made; only its answer waits. */
	if (strcmp(kind, "paused") != 0 && !may_answer(s)) {
		len = strlen(s->d->action);
		snprintf(s->d->action + len, sizeof(s->d->action) - len,
		    " (no answer: enough answers this hour)");
		free(refs);
		return BOTU_OK;
	}
	detail = xasprintf("afmelden-%s", m->unsub_token);
	unsub = addr_plus(s->conf, detail);
	if (strcmp(m->status, "unsubscribed") != 0)
		mo.unsubscribe = unsub;
	tmpl_set(vars, "name", m->name);
	rc = mailout_queue(s->db, s->conf, &mo, vars, s->err);
	free(refs);
	free(unsub);
	free(detail);
	return rc;
}

/* A code of kind for the sender, and the address a reply goes to. */
static int
new_code(struct selfservice_mail *s, const char *kind, time_t expires,
    char **token, char **reply_to)
{
	sqlite3_stmt *st;
	char *detail;
	int rc;

	*token = token_new(128);
	st = db_stmt(s->db, "INSERT INTO privacy_tokens (token, kind, "
	    "member_id, address, created_at, expires_at, message_id) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?)");
	sqlite3_bind_text(st, 1, *token, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, s->sender->id);
	sqlite3_bind_text(st, 4, s->sender->email, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 6, (sqlite3_int64)expires);
	if (s->msg->message_id[0] != '\0')
		sqlite3_bind_text(st, 7, s->msg->message_id, -1,
		    SQLITE_STATIC);
	rc = db_exec_stmt(s->db, st);
	if (rc != BOTU_OK) {
		snprintf(s->err, BOTU_ERRLEN, "cannot store a code: %s",
		    db_errmsg(s->db));
		free(*token);
		*token = NULL;
		return rc;
	}
	detail = xasprintf("bevestig-%s", *token);
	*reply_to = addr_plus(s->conf, detail);
	free(detail);
	return BOTU_OK;
}

/* Asks the member to confirm kind by replying (template tmpl). */
static int
ask(struct selfservice_mail *s, const char *kind, const char *tmpl,
    const char *outbox_kind)
{
	time_t expires = time(NULL) + SELFSERVICE_TOKEN_LIFETIME;
	const char *lang = conf_languages[s->c->lang];
	struct tmpl_vars *vars;
	char *token = NULL, *reply_to = NULL, when[96];
	int rc;

	rc = new_code(s, kind, expires, &token, &reply_to);
	if (rc != BOTU_OK)
		return rc;
	vars = tmpl_vars_new();
	date_format(expires, s->conf->list.timezone, lang, DATE_LONG, when,
	    sizeof(when));
	tmpl_set(vars, "token", token);
	tmpl_set(vars, "expires", when);
	rc = answer(s, lang, tmpl, outbox_kind, reply_to, expires, vars);
	tmpl_vars_free(vars);
	free(reply_to);
	free(token);
	return rc;
}

/* ---- the requests ---- */

/* The answer's language: the one the member wrote in, else theirs. */
static const char *
mail_lang(const struct selfservice_mail *s)
{
	return conf_languages[s->c->lang];
}

static int
my_data(struct selfservice_mail *s)
{
	const char *lang = mail_lang(s);
	struct tmpl_vars *vars;
	char *json = NULL;
	int rc;

	decide(s, 1, NULL, "send %s everything botu keeps about them, to "
	    "the stored address", log_addr(s->sender->email));
	if (s->dry || s->db == NULL)
		return BOTU_OK;
	vars = tmpl_vars_new();
	rc = memberdata_vars(s->db, s->conf, s->sender->id, lang, vars);
	if (rc == BOTU_OK)
		rc = memberdata_json(s->db, s->sender->id, &json);
	if (rc == BOTU_OK) {
		tmpl_set(vars, "json", json);
		rc = answer(s, lang, "my-data", "my-data", NULL, 0, vars);
	} else
		snprintf(s->err, BOTU_ERRLEN, "cannot read the member's data: "
		    "%s", db_errmsg(s->db));
	free(json);
	tmpl_vars_free(vars);
	return rc;
}

static int
forget(struct selfservice_mail *s)
{
	decide(s, 1, NULL, "ask %s to confirm by replying that everything "
	    "about them is to be erased", log_addr(s->sender->email));
	if (s->dry || s->db == NULL)
		return BOTU_OK;
	return ask(s, "forget", "confirm-forget", "confirm-forget");
}

static int
language(struct selfservice_mail *s)
{
	const char *lang = conf_languages[s->c->lang];
	struct tmpl_vars *vars;
	int rc;

	if (strcmp(s->sender->language, lang) == 0) {
		decide(s, 1, "they get mail in that language already",
		    "do nothing more");
		return BOTU_OK;
	}
	decide(s, 1, NULL, "write to %s in %s from now on, and tell them so",
	    log_addr(s->sender->email), lang);
	if (s->dry || s->db == NULL)
		return BOTU_OK;
	rc = members_set_profile(s->db, s->sender->id, NULL, NULL, lang, -1,
	    "mail", s->msg->message_id);
	if (rc != BOTU_OK) {
		snprintf(s->err, BOTU_ERRLEN, "%s", db_errmsg(s->db));
		return rc;
	}
	vars = tmpl_vars_new();
	rc = answer(s, lang, "language", "language", NULL, 0, vars);
	tmpl_vars_free(vars);
	return rc;
}

/* The answer after a pause or a resume: "paused" or "resumed". */
static int
tell_pause(struct selfservice_mail *s, int pause, const char *lang)
{
	struct tmpl_vars *vars = tmpl_vars_new();
	int rc;

	rc = answer(s, lang, pause ? "paused" : "resumed",
	    pause ? "paused" : "resumed", NULL, 0, vars);
	tmpl_vars_free(vars);
	return rc;
}

static int
is_paused(struct selfservice_mail *s, int *paused)
{
	sqlite3_stmt *st;
	int rc;

	*paused = 0;
	if (s->db == NULL)
		return BOTU_OK;
	st = db_stmt(s->db, "SELECT paused_digest IS NOT NULL FROM members "
	    "WHERE id = ?");
	sqlite3_bind_int64(st, 1, s->sender->id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*paused = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? BOTU_OK : BOTU_EDATA;
}

static int
pause_or_resume(struct selfservice_mail *s, int pause)
{
	int paused, rc;

	if (is_paused(s, &paused) != BOTU_OK)
		return BOTU_ETEMP;
	if (paused == pause) {
		decide(s, 1, pause ? "the digest is paused already" :
		    "the digest is not paused", "do nothing more");
		return BOTU_OK;
	}
	if (!pause || authres_dmarc_pass(s->msg,
	    s->conf->list.authserv_id)) {
		decide(s, 1, NULL, "%s the digest of %s%s", pause ? "pause" :
		    "resume", log_addr(s->sender->email), pause ?
		    " at once (the sender is verified: DMARC pass)" : "");
		if (s->dry || s->db == NULL)
			return BOTU_OK;
		rc = selfservice_pause(s->db, s->sender->id, pause, "mail",
		    s->msg->message_id, NULL);
		return rc == BOTU_OK ? tell_pause(s, pause, mail_lang(s)) :
		    rc;
	}
	if (!may_answer(s)) {
		decide(s, 1, NULL, "not answer: %s had enough answers this "
		    "hour", log_addr(s->sender->email));
		return BOTU_OK;
	}
	decide(s, 1, NULL, "ask %s to confirm the pause by replying",
	    log_addr(s->sender->email));
	if (s->dry || s->db == NULL)
		return BOTU_OK;
	return ask(s, "pause", "confirm-pause", "confirm-pause");
}

int
selfservice_on_mail(struct selfservice_mail *s)
{
	enum intent i = s->c->intent;
	int any_status = i == INTENT_MY_DATA || i == INTENT_FORGET;

	if (s->db != NULL && (s->sender == NULL || (!any_status &&
	    strcmp(s->sender->status, "unsubscribed") == 0))) {
		decide(s, 0, "the sender is not a member (perhaps under "
		    "another address)", "leave it for a person");
		return BOTU_OK;
	}
	if (s->db == NULL && s->sender == NULL) {
		decide(s, 1, NULL, "answer a member's request about their "
		    "own data (%s), to their stored address", intent_name(i));
		return BOTU_OK;
	}
	/* Nothing to do without an answer: no data sent, no code made. */
	if ((i == INTENT_MY_DATA || i == INTENT_FORGET) && !may_answer(s)) {
		decide(s, 1, NULL, "not answer: %s had enough answers this "
		    "hour", log_addr(s->sender->email));
		return BOTU_OK;
	}
	if ((i == INTENT_FORGET || i == INTENT_PAUSE) && !may_make_code(s)) {
		log_warnx("more than %d privacy codes in an hour: leaving the "
		    "rest for a person", SELFSERVICE_CODES_PER_HOUR);
		decide(s, 0, "too many requests this hour (a forged wave?)",
		    "leave it for a person");
		return BOTU_OK;
	}
	switch (i) {
	case INTENT_MY_DATA:
		return my_data(s);
	case INTENT_FORGET:
		return forget(s);
	case INTENT_LANGUAGE:
		return language(s);
	case INTENT_PAUSE:
		return pause_or_resume(s, 1);
	case INTENT_RESUME:
		return pause_or_resume(s, 0);
	default:
		decide(s, 0, NULL, "leave it for a person");
		return BOTU_OK;
	}
}

/* ---- replies with a code ---- */

struct code {
	char	*kind;
	int64_t	 member_id;
	int64_t	 expires_at;
	int64_t	 used_at;
};

static int
code_lookup(struct botu_db *db, const char *token, struct code *c)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT kind, member_id, expires_at, "
	    "coalesce(used_at, 0) FROM privacy_tokens WHERE token = ?");
	int rc;

	memset(c, 0, sizeof(*c));
	sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		c->kind = xstrdup(db_col_text(st, 0));
		c->member_id = sqlite3_column_int64(st, 1);
		c->expires_at = sqlite3_column_int64(st, 2);
		c->used_at = sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
code_use(struct botu_db *db, const char *token)
{
	sqlite3_stmt *st = db_stmt(db, "UPDATE privacy_tokens SET used_at = ? "
	    "WHERE token = ?");

	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 2, token, -1, SQLITE_STATIC);
	return db_exec_stmt(db, st);
}

static int
confirmed_forget(struct selfservice_mail *s, const struct member *m)
{
	int published = 0, rc;

	/* No address in what is recorded: the record of handled mail
	 * would keep it. */
	decide(s, 1, NULL, "erase the member who asked to be forgotten "
	    "(confirmed by reply)");
	s->d->erase_sender = 1;
	if (s->dry)
		return BOTU_OK;
	rc = retention_erase(s->db, m->email, RETENTION_FORGOTTEN, "mail",
	    &published, s->err);
	if (rc == BOTU_OK)
		log_info("privacy: a member was erased on request%s",
		    published ? "; the waaier is rewritten" : "");
	return rc;
}

static int
confirmed_pause(struct selfservice_mail *s, struct member *m)
{
	const struct member *asker = s->sender;
	int rc;

	decide(s, 1, NULL, "pause the digest of %s (confirmed by reply)",
	    log_addr(m->email));
	if (s->dry)
		return BOTU_OK;
	rc = selfservice_pause(s->db, m->id, 1, "mail", s->msg->message_id,
	    NULL);
	if (rc == BOTU_OK)
		rc = code_use(s->db, s->c->token);
	/* The answer goes to the member the code is for, not the replier. */
	s->sender = m;
	if (rc == BOTU_OK)
		rc = tell_pause(s, 1, m->language);
	s->sender = asker;
	return rc;
}

int
selfservice_on_token(struct selfservice_mail *s)
{
	struct code c;
	struct member m;
	int rc;

	if (s->db == NULL || s->c->token[0] == '\0')
		return 0;
	rc = code_lookup(s->db, s->c->token, &c);
	if (rc <= 0)
		return rc < 0 ? BOTU_ETEMP : 0;
	if (c.used_at != 0) {
		decide(s, 1, "this code was used before", "do nothing more");
		rc = 1;
	} else if (c.expires_at <= (int64_t)time(NULL)) {
		decide(s, 0, "the confirmation code has expired",
		    "leave it for a person");
		rc = 1;
	} else if ((rc = members_get_id(s->db, c.member_id, &m)) != 1) {
		decide(s, 0, "the code belongs to no member any more",
		    "leave it for a person");
		rc = rc < 0 ? BOTU_ETEMP : 1;
	} else {
		rc = strcmp(c.kind, "forget") == 0 ? confirmed_forget(s, &m) :
		    confirmed_pause(s, &m);
		member_clear(&m);
		rc = rc == BOTU_OK ? 1 : rc;
	}
	free(c.kind);
	return rc;
}

/* ---- the store ---- */

int
selfservice_pause(struct botu_db *db, int64_t id, int pause,
    const char *actor, const char *message_id, int *changed)
{
	sqlite3_stmt *st;
	int rc;

	if (changed != NULL)
		*changed = 0;
	/* Two literals: db_stmt caches by pointer. */
	if (pause)
		st = db_stmt(db, "UPDATE members SET paused_digest = digest, "
		    "digest = 'off', updated_at = ?2 WHERE id = ?1 AND "
		    "paused_digest IS NULL");
	else
		st = db_stmt(db, "UPDATE members SET digest = paused_digest, "
		    "paused_digest = NULL, updated_at = ?2 WHERE id = ?1 AND "
		    "paused_digest IS NOT NULL");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	rc = db_exec_stmt(db, st);
	if (rc != BOTU_OK || db_changes(db) == 0)
		return rc;
	if (changed != NULL)
		*changed = 1;
	return db_event(db, id, pause ? "pause" : "resume", actor,
	    message_id, pause ? "the digest is paused" :
	    "the digest is back as it was");
}
