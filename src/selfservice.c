/* selfservice.c - see selfservice.h */
#include <ctype.h>
#include <pthread.h>
#include <regex.h>
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
	"'confirm-pause', 'resumed', 'confirm-address')"

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

/*
 * Queues an answer to the member's stored address: never to Reply-To or
 * From, so a forged sender only makes the owner receive it.
 */
static int
answer_to(struct selfservice_mail *s, const char *to, const char *lang,
    const char *tmpl, const char *kind, const char *reply_to,
    time_t expires, struct tmpl_vars *vars)
{
	const struct member *m = s->sender;
	char *refs = message_references(s->msg), *unsub;
	struct mailout mo = {
		.to = to,
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
	if (strcmp(kind, "paused") != 0 && addr_equal(to, m->email) &&
	    !may_answer(s)) {
		len = strlen(s->d->action);
		snprintf(s->d->action + len, sizeof(s->d->action) - len,
		    " (no answer: enough answers this hour)");
		free(refs);
		return BOTU_OK;
	}
	unsub = addr_token(s->conf, ADDR_UNSUBSCRIBE, m->unsub_token);
	if (!addr_equal(to, m->email)) {
		/*
		 * The question to a new address, not yet theirs: no
		 * unsubscribe token (whoever reads it could end the
		 * membership) and no member (its bounces are not theirs).
		 */
		mo.member_id = 0;
	} else if (strcmp(m->status, "unsubscribed") != 0)
		mo.unsubscribe = unsub;
	tmpl_set(vars, "name", m->name);
	rc = mailout_queue(s->db, s->conf, &mo, vars, s->err);
	free(refs);
	free(unsub);
	return rc;
}

static int
answer(struct selfservice_mail *s, const char *lang, const char *tmpl,
    const char *kind, const char *reply_to, time_t expires,
    struct tmpl_vars *vars)
{
	return answer_to(s, s->sender->email, lang, tmpl, kind, reply_to,
	    expires, vars);
}

/* A code of kind for the sender, and the address a reply goes to. */
static int
new_code(struct selfservice_mail *s, const char *kind, const char *address,
    time_t expires, char **token, char **reply_to)
{
	sqlite3_stmt *st;
	int rc;

	*token = token_new(128);
	st = db_stmt(s->db, "INSERT INTO privacy_tokens (token, kind, "
	    "member_id, address, created_at, expires_at, message_id) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?)");
	sqlite3_bind_text(st, 1, *token, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, s->sender->id);
	sqlite3_bind_text(st, 4, address, -1, SQLITE_STATIC);
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
	*reply_to = addr_token(s->conf, ADDR_CONFIRM, *token);
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

	rc = new_code(s, kind, s->sender->email, expires, &token, &reply_to);
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

/*
 * Both addresses get a question with a code of their own; the new one is
 * the only answer that does not go to the stored address.
 */
static int
ask_both(struct selfservice_mail *s, const char *new_address)
{
	static const char *const kinds[] = { "address-old", "address-new" };
	time_t expires = time(NULL) + SELFSERVICE_TOKEN_LIFETIME;
	const char *lang = mail_lang(s);
	struct tmpl_vars *vars;
	char *token = NULL, *reply_to = NULL, when[96];
	int rc = BOTU_OK;

	date_format(expires, s->conf->list.timezone, lang, DATE_LONG, when,
	    sizeof(when));
	for (int i = 0; i < 2 && rc == BOTU_OK; i++) {
		rc = new_code(s, kinds[i], new_address, expires, &token,
		    &reply_to);
		if (rc != BOTU_OK)
			break;
		vars = tmpl_vars_new();
		tmpl_set(vars, "token", token);
		tmpl_set(vars, "expires", when);
		tmpl_set(vars, "old_address", s->sender->email);
		tmpl_set(vars, "new_address", new_address);
		tmpl_set(vars, "to_new", i == 1 ? "yes" : "");
		rc = answer_to(s, i == 0 ? s->sender->email : new_address,
		    lang, "confirm-address", "confirm-address", reply_to,
		    expires, vars);
		tmpl_vars_free(vars);
		free(reply_to);
		free(token);
		reply_to = token = NULL;
	}
	return rc;
}

static int
new_address(struct selfservice_mail *s)
{
	char addr[256];
	struct member other;
	int rc;

	/* classify() found it; read again here (a pure function). */
	rc = selfservice_new_address(s->msg->subject, s->c->own_words, addr,
	    sizeof(addr));
	if (rc == 0) {
		decide(s, 0, "no new address found", "leave it for a person");
		return BOTU_OK;
	}
	if (addr_equal(addr, s->sender->email)) {
		decide(s, 1, "that is the address botu has already",
		    "do nothing more");
		return BOTU_OK;
	}
	if (s->db != NULL) {
		rc = members_get(s->db, addr, &other);
		if (rc < 0)
			return BOTU_ETEMP;
		if (rc == 1 && strcmp(other.status, "unsubscribed") != 0) {
			member_clear(&other);
			decide(s, 0, "the new address is another member's",
			    "leave it for a person");
			return BOTU_OK;
		}
		if (rc == 1)
			member_clear(&other);
	}
	decide(s, 1, NULL, "ask %s and the new address %s to confirm the "
	    "move by replying", log_addr(s->sender->email), log_addr(addr));
	if (s->dry || s->db == NULL)
		return BOTU_OK;
	return ask_both(s, addr);
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
	int makes_code = i == INTENT_FORGET || i == INTENT_PAUSE ||
	    i == INTENT_ADDRESS;

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
	if ((i == INTENT_MY_DATA || i == INTENT_FORGET ||
	    i == INTENT_ADDRESS) && !may_answer(s)) {
		decide(s, 1, NULL, "not answer: %s had enough answers this "
		    "hour", log_addr(s->sender->email));
		return BOTU_OK;
	}
	if (makes_code && !may_make_code(s)) {
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
	case INTENT_ADDRESS:
		return new_address(s);
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
	char	*address;
	int64_t	 member_id;
	int64_t	 expires_at;
	int64_t	 used_at;
};

static int
code_lookup(struct botu_db *db, const char *token, struct code *c)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT kind, member_id, expires_at, "
	    "coalesce(used_at, 0), coalesce(address, '') FROM privacy_tokens "
	    "WHERE token = ?");
	int rc;

	memset(c, 0, sizeof(*c));
	sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		c->kind = xstrdup(db_col_text(st, 0));
		c->member_id = sqlite3_column_int64(st, 1);
		c->expires_at = sqlite3_column_int64(st, 2);
		c->used_at = sqlite3_column_int64(st, 3);
		c->address = xstrdup(db_col_text(st, 4));
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

/* Did the other address confirm this move already? 1, 0, or <0. */
static int
other_confirmed(struct botu_db *db, const struct code *c)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT count(*) FROM privacy_tokens "
	    "WHERE member_id = ?1 AND address = ?2 AND kind = ?3 AND "
	    "used_at IS NOT NULL AND expires_at > ?4");
	int rc, n = 0;

	sqlite3_bind_int64(st, 1, c->member_id);
	sqlite3_bind_text(st, 2, c->address, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, strcmp(c->kind, "address-old") == 0 ?
	    "address-new" : "address-old", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? n > 0 : -1;
}

static int
confirmed_address(struct selfservice_mail *s, const struct code *c,
    struct member *m)
{
	const struct member *asker = s->sender;
	struct tmpl_vars *vars;
	char *old = NULL;
	int rc, both;

	both = other_confirmed(s->db, c);
	if (both < 0)
		return BOTU_ETEMP;
	if (!both) {
		decide(s, 1, NULL, "note that %s confirmed the move; wait for "
		    "the other address", strcmp(c->kind, "address-old") == 0 ?
		    "the old address" : "the new address");
		return s->dry ? BOTU_OK : code_use(s->db, s->c->token);
	}
	decide(s, 1, NULL, "move the membership of %s to %s (both "
	    "addresses confirmed)", log_addr(m->email), log_addr(c->address));
	if (s->dry)
		return BOTU_OK;
	rc = code_use(s->db, s->c->token);
	old = xstrdup(m->email);
	if (rc == BOTU_OK)
		rc = selfservice_move(s->db, m->id, c->address, "mail",
		    s->msg->message_id, s->err);
	/* Told at the new address, in the member's language. */
	if (rc == BOTU_OK) {
		free(m->email);
		m->email = xstrdup(c->address);
		s->sender = m;
		vars = tmpl_vars_new();
		tmpl_set(vars, "old_address", old);
		tmpl_set(vars, "new_address", c->address);
		rc = answer(s, m->language, "address-changed",
		    "address-changed", NULL, 0, vars);
		tmpl_vars_free(vars);
		s->sender = asker;
	}
	free(old);
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
		if (strcmp(c.kind, "forget") == 0)
			rc = confirmed_forget(s, &m);
		else if (strcmp(c.kind, "pause") == 0)
			rc = confirmed_pause(s, &m);
		else
			rc = confirmed_address(s, &c, &m);
		member_clear(&m);
		rc = rc == BOTU_OK ? 1 : rc;
	}
	free(c.kind);
	free(c.address);
	return rc;
}

/* ---- a change of address: reading it ---- */

#define NEW_ADDRESS_WORDS "(nieuw ((e-?)?mail ?)?adres|nieuwe ((e-?)?mail ?)?" \
	"adres|mijn nieuwe ((e-?)?mail ?)?adres( is)?|new (e-?mail )?" \
	"address|my new (e-?mail )?address( is)?|change of (e-?mail )?" \
	"address|adreswijziging)"

static regex_t phrase_re, keyword_re;
static pthread_once_t compiled = PTHREAD_ONCE_INIT;

static void
compile(void)
{
	if (regcomp(&phrase_re, "^" NEW_ADDRESS_WORDS " *:? *",
	    REG_EXTENDED) != 0 ||
	    regcomp(&keyword_re, "^" NEW_ADDRESS_WORDS " *:?$",
	    REG_EXTENDED | REG_NOSUB) != 0)
		fatalx("selfservice: bad pattern");
}

/* s as one address ("<x@y>", "x@y."), lower case, into out; 1 or 0. */
static int
only_address(const char *s, char *out, size_t len)
{
	char *a = str_trim(xstrdup(s));
	size_t n = strlen(a);
	int ok;

	if (n > 0 && a[n - 1] == '.')
		a[--n] = '\0';
	if (n > 1 && a[0] == '<' && a[n - 1] == '>') {
		memmove(a, a + 1, n - 2);
		a[n - 2] = '\0';
	}
	ok = str_is_address(a) && strlen(a) < len;
	if (ok)
		str_copy(out, str_lower(a), len);
	free(a);
	return ok;
}

/* "nieuw adres: x@y" as a whole line (lower case); 1 or 0. */
static int
phrase_line(const char *line, char *out, size_t len)
{
	regmatch_t m;

	if (regexec(&phrase_re, line, 1, &m, 0) != 0 || m.rm_eo == 0)
		return 0;
	return only_address(line + m.rm_eo, out, len);
}

/* An aside around the command: a greeting, a name, "groetjes". */
static int
aside(const char *line)
{
	int words = 0, in = 0;

	if (strpbrk(line, "@?") != NULL)
		return 0;
	for (const char *p = line; *p != '\0'; p++) {
		if (isspace((unsigned char)*p))
			in = 0;
		else if (!in) {
			in = 1;
			words++;
		}
	}
	return words <= 4;
}

/*
 * The own words as lines: exactly one is the command (phrase, or the
 * address alone when keyword_only), the others at most four asides.
 */
static int
body_address(const char *own, int keyword_only, char *out, size_t len)
{
	char *copy = str_lower(xstrdup(own)), *line, *save = NULL;
	int found = 0, asides = 0, ok = 1;

	for (line = strtok_r(copy, "\n", &save); line != NULL && ok;
	    line = strtok_r(NULL, "\n", &save)) {
		char *t = str_trim(line);

		if (t[0] == '\0')
			continue;
		if (!found && (keyword_only ? only_address(t, out, len) :
		    phrase_line(t, out, len)))
			found = 1;
		else if (aside(t) && ++asides <= 4)
			continue;
		else
			ok = 0;
	}
	free(copy);
	return found && ok;
}

/* Nothing in the text but asides (or nothing at all). */
static int
only_asides(const char *own)
{
	char *copy, *line, *save = NULL;
	int n = 0, ok = 1;

	if (own == NULL)
		return 1;
	copy = xstrdup(own);
	for (line = strtok_r(copy, "\n", &save); line != NULL && ok;
	    line = strtok_r(NULL, "\n", &save)) {
		char *t = str_trim(line);

		if (t[0] != '\0')
			ok = aside(t) && ++n <= 4;
	}
	free(copy);
	return ok;
}

int
selfservice_new_address(const char *subject, const char *own_words,
    char *out, size_t len)
{
	char *subj = NULL;
	int how = 0;

	pthread_once(&compiled, compile);
	out[0] = '\0';
	if (subject != NULL)
		subj = str_trim(str_lower(xstrdup(subject)));
	/* The subject says it all, and the text has nothing else. */
	if (subj != NULL && phrase_line(subj, out, len) &&
	    only_asides(own_words))
		how = 'S';
	else if (subj != NULL && regexec(&keyword_re, subj, 0, NULL, 0) == 0 &&
	    own_words != NULL && body_address(own_words, 1, out, len))
		how = 'B';
	else if (own_words != NULL && body_address(own_words, 0, out, len))
		how = 'B';
	if (how == 0)
		out[0] = '\0';
	free(subj);
	return how;
}

/* ---- the store ---- */

int
selfservice_move(struct botu_db *db, int64_t id, const char *new_address,
    const char *actor, const char *message_id, char err[BOTU_ERRLEN])
{
	static const char *const sql[] = {
		/* a leaver's old record of the new address goes */
		"DELETE FROM members WHERE email = ?2 AND id != ?1 AND "
		"status = 'unsubscribed'",
		"UPDATE members SET email = ?2, delivery = 'on', "
		"updated_at = ?3 WHERE id = ?1",
		/* delivery starts afresh: the old address's bounces */
		"DELETE FROM bounce_state WHERE member_id = ?1",
	};
	char *addr = str_lower(str_trim(xstrdup(new_address)));
	struct member other;
	sqlite3_stmt *st;
	int rc;

	if (!str_is_address(addr)) {
		snprintf(err, BOTU_ERRLEN, "'%s' is not an e-mail address",
		    new_address);
		free(addr);
		return BOTU_EPERM;
	}
	rc = members_get(db, addr, &other);
	if (rc == 1) {
		if (other.id != id && strcmp(other.status, "unsubscribed") != 0)
			rc = 2;
		member_clear(&other);
	}
	if (rc < 0 || rc == 2) {
		snprintf(err, BOTU_ERRLEN, rc < 0 ? "%s" : "%s is a member or "
		    "signing up already", rc < 0 ? db_errmsg(db) : addr);
		free(addr);
		return rc < 0 ? BOTU_EDATA : BOTU_EPERM;
	}
	rc = BOTU_OK;
	for (size_t i = 0; i < NELEM(sql) && rc == BOTU_OK; i++) {
		st = db_stmt(db, sql[i]);
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, addr, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
		rc = db_exec_stmt(db, st);
	}
	/* They confirmed it themselves: a forgotten address may come back. */
	if (rc == BOTU_OK)
		rc = retention_unsuppress(db, addr);
	/* No address in the history: the old one is gone on purpose. */
	if (rc == BOTU_OK)
		rc = db_event(db, id, "address", actor, message_id,
		    "the membership moved to a new address");
	if (rc != BOTU_OK)
		snprintf(err, BOTU_ERRLEN, "cannot move the member: %s",
		    db_errmsg(db));
	free(addr);
	return rc;
}

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
