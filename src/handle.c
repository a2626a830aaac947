/* handle.c - see handle.h */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "botu/addr.h"
#include "botu/authres.h"
#include "botu/bounce.h"
#include "botu/confirm.h"
#include "botu/dates.h"
#include "botu/digest.h"
#include "botu/handle.h"
#include "botu/log.h"
#include "botu/mailout.h"
#include "botu/meetings.h"
#include "botu/members.h"
#include "botu/notes.h"
#include "botu/posts.h"
#include "botu/retention.h"
#include "botu/rsvp.h"
#include "botu/score.h"
#include "botu/selfservice.h"
#include "botu/util.h"

/* Everything one decision needs. */
struct ctx {
	const struct botu_conf	*conf;
	struct botu_db		*db;	/* NULL: describe only */
	const struct message	*msg;
	struct classification	*c;
	struct intake_decision	*d;
	int			 dry;
	char			*err;
	struct member		 m;	/* the sender, when known */
	int			 known;
	int			 note_waiting;	/* a note waits for sign-up */
	int64_t			 signup_id;	/* who was asked to confirm */
};

static void
decide(struct ctx *x, int act, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* act: 1 when the mail is handled (it will be marked done). */
static void
decide(struct ctx *x, int act, const char *reason, const char *fmt, ...)
{
	va_list ap;

	x->d->act = act;
	if (reason != NULL)
		str_copy(x->d->reason, reason, sizeof(x->d->reason));
	va_start(ap, fmt);
	vsnprintf(x->d->action, sizeof(x->d->action), fmt, ap);
	va_end(ap);
}

static const char *
lang_code(const struct ctx *x)
{
	return conf_languages[x->c->lang];
}

/* Answers to this address in the last hour stay under the limit. */
static int
may_answer(struct ctx *x, const char *to)
{
	sqlite3_stmt *st;
	int n = 0;

	if (x->db == NULL)
		return 1;
	st = db_stmt(x->db, "SELECT count(*) FROM outbox WHERE rcpt = ? AND "
	    "created_at >= ? AND kind IN ('confirm', 'help', 'already', "
	    "'confirm-leave')");
	sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL) - 3600);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return n < HANDLE_ANSWERS_PER_HOUR;
}


/* Queues an answer to the sender of the mail being handled. */
static int
answer(struct ctx *x, const char *to, const char *name, const char *lang,
    const char *tmpl, const char *kind, const char *reply_to,
    int64_t member_id, const char *unsub_token, time_t expires,
    struct tmpl_vars *vars)
{
	char *refs = message_references(x->msg), *unsub = NULL;
	struct mailout mo = {
		.to = to,
		.to_name = name != NULL && name[0] != '\0' ? name : NULL,
		.lang = lang,
		.template = tmpl,
		.kind = kind,
		.member_id = member_id,
		.in_reply_to = x->msg->message_id[0] != '\0' ?
		    x->msg->message_id : NULL,
		.references = refs[0] != '\0' ? refs : NULL,
		.reply_to = reply_to,
		.auto_submitted = COMPOSE_AUTO_REPLIED,
		.ordered = 1,
		.expires_at = expires,
	};
	int rc;

	if (unsub_token != NULL)
		mo.unsubscribe = unsub = addr_token(x->conf, ADDR_UNSUBSCRIBE,
		    unsub_token);
	tmpl_set(vars, "name", name != NULL ? name : "");
	rc = mailout_queue(x->db, x->conf, &mo, vars, x->err);
	free(refs);
	free(unsub);
	return rc;
}

/* ---- sign-up ---- */

/*
 * A new confirmation code for member_id and the address a reply to it
 * goes to (the Reply-To of the request); both owned by the caller.
 */
static int
new_code(struct ctx *x, const char *kind, int64_t member_id, time_t expires,
    char **token, char **reply_to)
{
	int rc;

	rc = confirm_create(x->db, kind, member_id, x->msg->message_id,
	    expires, token);
	if (rc != BOTU_OK) {
		snprintf(x->err, BOTU_ERRLEN, "cannot store a code: %s",
		    db_errmsg(x->db));
		return rc;
	}
	*reply_to = addr_token(x->conf, ADDR_CONFIRM, *token);
	return BOTU_OK;
}

static int
send_confirmation(struct ctx *x, int64_t member_id, const char *name)
{
	time_t expires = time(NULL) + CONFIRM_LIFETIME;
	struct tmpl_vars *vars;
	char *token = NULL, *reply_to = NULL, when[96];
	int rc;

	rc = new_code(x, "subscribe", member_id, expires, &token, &reply_to);
	if (rc != BOTU_OK)
		return rc;
	vars = tmpl_vars_new();
	date_format(expires, x->conf->list.timezone, lang_code(x), DATE_LONG,
	    when, sizeof(when));
	tmpl_set(vars, "token", token);
	tmpl_set(vars, "expires", when);
	tmpl_set(vars, "confirm_address", reply_to);
	tmpl_set(vars, "privacy_version", HANDLE_PRIVACY_VERSION);
	tmpl_set(vars, "note_waiting", x->note_waiting ? "yes" : "");
	x->signup_id = member_id;
	rc = answer(x, x->msg->from.addr, name, lang_code(x),
	    "confirm-subscribe", "confirm", reply_to, member_id, NULL, expires,
	    vars);
	tmpl_vars_free(vars);
	free(reply_to);
	free(token);
	return rc;
}

static int
subscribe(struct ctx *x)
{
	const char *from = x->msg->from.addr, *name = x->msg->from.name;
	struct member m = { 0 };
	int64_t recent = 0;
	int rc;

	if (x->known && strcmp(x->m.status, "active") == 0) {
		if (!may_answer(x, from)) {
			decide(x, 1, NULL, "not answer: %s had enough answers "
			    "this hour", log_addr(from));
			return BOTU_OK;
		}
		decide(x, 1, NULL, "tell %s they are a member already",
		    log_addr(from));
		if (x->dry)
			return BOTU_OK;
		struct tmpl_vars *vars = tmpl_vars_new();
		rc = answer(x, x->m.email, x->m.name, x->m.language,
		    "already-member", "already", NULL, x->m.id,
		    x->m.unsub_token, 0, vars);
		tmpl_vars_free(vars);
		return rc;
	}
	if (!may_answer(x, from)) {
		decide(x, 1, NULL, "not answer: %s had enough answers this "
		    "hour", log_addr(from));
		return BOTU_OK;
	}
	if (x->db != NULL && confirm_count_since(x->db, time(NULL) - 3600,
	    &recent) == BOTU_OK && recent >= HANDLE_CONFIRMS_PER_HOUR) {
		log_warnx("more than %d sign-ups in an hour: leaving the rest "
		    "for a person", HANDLE_CONFIRMS_PER_HOUR);
		decide(x, 0, "too many sign-ups this hour (a forged wave?)",
		    "leave it for a person");
		return BOTU_OK;
	}
	decide(x, 1, NULL, "ask %s to confirm by replying (double opt-in)",
	    log_addr(from));
	if (x->dry)
		return BOTU_OK;
	if (x->known && strcmp(x->m.status, "pending") == 0)
		return send_confirmation(x, x->m.id, name);
	m.email = (char *)from;
	m.name = (char *)name;
	m.language = (char *)lang_code(x);
	m.status = "pending";
	rc = members_add(x->db, &m, "mail", x->msg->message_id, x->err);
	if (rc == BOTU_OK)
		rc = send_confirmation(x, m.id, name);
	return rc;
}

/* ---- notes (notes.c does the work) ---- */

static void
notes_ctx(struct ctx *x, struct notes_mail *nm)
{
	memset(nm, 0, sizeof(*nm));
	nm->conf = x->conf;
	nm->db = x->db;
	nm->msg = x->msg;
	nm->c = x->c;
	nm->sender = x->known ? &x->m : NULL;
	nm->dry = x->dry;
	nm->d = x->d;
	nm->err = x->err;
}

/* A code of the notes' own: 1 when it was one, 0 when not, or error. */
static int
notes_code(struct ctx *x)
{
	struct notes_mail nm;

	notes_ctx(x, &nm);
	return notes_on_token(&nm);
}

/* What one handled mail gives the updates module. */
static void
posts_ctx(struct ctx *x, struct posts_mail *pm)
{
	memset(pm, 0, sizeof(*pm));
	pm->conf = x->conf;
	pm->db = x->db;
	pm->msg = x->msg;
	pm->c = x->c;
	pm->sender = x->known ? &x->m : NULL;
	pm->dry = x->dry;
	pm->d = x->d;
	pm->err = x->err;
}

/* A code of the updates' own: 1 when it was one, 0 when not, or error. */
static int
posts_code(struct ctx *x)
{
	struct posts_mail pm;

	posts_ctx(x, &pm);
	return posts_on_token(&pm);
}

static int
update(struct ctx *x)
{
	struct posts_mail pm;

	posts_ctx(x, &pm);
	return posts_on_update(&pm);
}

static int subscribe(struct ctx *);

/* ---- a member's own data (selfservice.c does the work) ---- */

static void
self_ctx(struct ctx *x, struct selfservice_mail *s)
{
	memset(s, 0, sizeof(*s));
	s->conf = x->conf;
	s->db = x->db;
	s->msg = x->msg;
	s->c = x->c;
	s->sender = x->known ? &x->m : NULL;
	s->dry = x->dry;
	s->d = x->d;
	s->err = x->err;
}

static int
self_service(struct ctx *x)
{
	struct selfservice_mail s;

	self_ctx(x, &s);
	return selfservice_on_mail(&s);
}

/* A code of the self-service requests: 1, 0 when not one, or error. */
static int
self_code(struct ctx *x)
{
	struct selfservice_mail s;

	self_ctx(x, &s);
	return selfservice_on_token(&s);
}

/* "Afwijzen" reads as a moderator's no; to a sign-up it is a no too. */
static int
refuses(struct ctx *x)
{
	char *reason = NULL;
	int no = notes_verdict(x->c->own_words, &reason) ==
	    NOTE_VERDICT_REJECT;

	free(reason);
	return no;
}

/* A note; from someone who is not a member yet, with their sign-up. */
static int
note(struct ctx *x)
{
	struct notes_mail nm;
	size_t len;
	int rc;

	notes_ctx(x, &nm);
	if (x->db == NULL) {
		decide(x, 1, NULL, "keep the PS note and ask the sender to "
		    "confirm it (after signing up, if they are no member)");
		return BOTU_OK;
	}
	rc = notes_on_note(&nm);
	if (rc != NOTES_SIGNUP)
		return rc;
	x->note_waiting = 1;
	rc = subscribe(x);
	if (rc != BOTU_OK || x->dry || x->signup_id == 0)
		return rc;
	len = strlen(x->d->action);
	snprintf(x->d->action + len, sizeof(x->d->action) - len,
	    "; keep the PS note until then");
	return notes_hold(&nm, x->signup_id);
}

static int
note_other(struct ctx *x)
{
	struct notes_mail nm;

	notes_ctx(x, &nm);
	switch (x->c->intent) {
	case INTENT_NOTE_QUESTION:
		return notes_on_question(&nm);
	case INTENT_PROFILE:
		return notes_on_profile(&nm);
	default:
		return notes_on_withdraw(&nm);
	}
}

/* ---- the digest's rhythm ---- */

static int
rhythm(struct ctx *x)
{
	struct digest_mail dm = {
		.conf = x->conf,
		.db = x->db,
		.msg = x->msg,
		.c = x->c,
		.sender = x->known ? &x->m : NULL,
		.dry = x->dry,
		.d = x->d,
		.err = x->err,
	};

	return digest_on_rhythm(&dm);
}

/* ---- confirmation ---- */

static int
welcome(struct ctx *x, const struct member *m)
{
	struct tmpl_vars *vars = tmpl_vars_new();
	int rc;

	rc = answer(x, m->email, m->name, m->language, "welcome", "welcome",
	    NULL, m->id, m->unsub_token, 0, vars);
	tmpl_vars_free(vars);
	return rc;
}

static int
apply_confirm(struct ctx *x, const struct confirm_code *code,
    struct member *m)
{
	char channel[64];
	int rc;

	if (strcmp(code->kind, "unsubscribe") == 0) {
		decide(x, 1, NULL, "end the membership of %s (confirmed)",
		    log_addr(m->email));
		if (x->dry)
			return BOTU_OK;
		rc = members_set_status(x->db, m->id, "unsubscribed",
		    "unsubscribe", "mail", x->msg->message_id,
		    "confirmed by reply");
		return rc == BOTU_OK ? confirm_use(x->db, x->c->token) : rc;
	}
	decide(x, 1, NULL, "make %s a member and send a welcome",
	    log_addr(m->email));
	if (x->dry)
		return BOTU_OK;
	snprintf(channel, sizeof(channel), "e-mail reply to a confirmation "
	    "request");
	rc = members_set_status(x->db, m->id, "active", "confirm", "mail",
	    x->msg->message_id, "double opt-in");
	if (rc == BOTU_OK)
		rc = members_set_consent(x->db, m->id, channel,
		    x->msg->message_id, HANDLE_PRIVACY_VERSION);
	if (rc == BOTU_OK)
		rc = confirm_use(x->db, x->c->token);
	/* Their own confirmation brings back someone who was forgotten. */
	if (rc == BOTU_OK)
		rc = retention_unsuppress(x->db, m->email);
	if (rc == BOTU_OK)
		rc = welcome(x, m);
	if (rc == BOTU_OK)
		rc = notes_after_signup(x->db, x->conf, m, x->msg->message_id,
		    x->err);
	/* Upcoming meetings reach a new member too, after the welcome. */
	if (rc == BOTU_OK)
		rc = meetings_sync(x->db, x->conf, 0, m->id, time(NULL), NULL,
		    x->err);
	return rc;
}

static int
confirm(struct ctx *x)
{
	struct confirm_code code;
	struct member m;
	int rc;

	if (x->db == NULL) {
		decide(x, 1, NULL, "confirm what the code %s was sent for, "
		    "if it is valid", x->c->token);
		return BOTU_OK;
	}
	rc = confirm_lookup(x->db, x->c->token, &code);
	if (rc < 0)
		return BOTU_ETEMP;
	if (rc == 0 && (rc = notes_code(x)) != 0)
		return rc < 0 ? rc : BOTU_OK;
	if (rc == 0 && (rc = self_code(x)) != 0)
		return rc < 0 ? rc : BOTU_OK;
	if (rc == 0 && (rc = posts_code(x)) != 0)
		return rc < 0 ? rc : BOTU_OK;
	if (rc == 0) {
		decide(x, 0, "no such confirmation code",
		    "leave it for a person");
		return BOTU_OK;
	}
	if (refuses(x)) {
		decide(x, 0, "a reply to a confirmation request that seems "
		    "to say no", "leave it for a person");
		return BOTU_OK;
	}
	if (code.used_at != 0) {
		decide(x, 1, "this code was used before", "do nothing more");
		return BOTU_OK;
	}
	if (code.expires_at <= time(NULL)) {
		decide(x, 0, "the confirmation code has expired",
		    "leave it for a person");
		return BOTU_OK;
	}
	if (members_get_id(x->db, code.member_id, &m) != 1) {
		decide(x, 0, "the code belongs to no member any more",
		    "leave it for a person");
		return BOTU_OK;
	}
	if (strcmp(code.kind, "subscribe") == 0 &&
	    strcmp(m.status, "active") == 0) {
		decide(x, 1, "already a member", "do nothing more");
		rc = x->dry ? BOTU_OK : confirm_use(x->db, x->c->token);
	} else
		rc = apply_confirm(x, &code, &m);
	member_clear(&m);
	return rc;
}

/* ---- leaving ---- */

static int
leave_by_token(struct ctx *x)
{
	struct member m;
	int rc;

	if (x->db == NULL) {
		decide(x, 1, NULL, "end the membership with this unsubscribe "
		    "code at once, without a goodbye mail");
		return BOTU_OK;
	}
	rc = members_get_unsub(x->db, x->c->token, &m);
	if (rc < 0)
		return BOTU_ETEMP;
	if (rc == 0) {
		decide(x, 0, "no member has this unsubscribe code",
		    "leave it for a person");
		return BOTU_OK;
	}
	if (strcmp(m.status, "unsubscribed") == 0) {
		decide(x, 1, "left before", "do nothing more");
		rc = BOTU_OK;
	} else {
		decide(x, 1, NULL, "end the membership of %s at once, "
		    "without a goodbye mail", log_addr(m.email));
		rc = x->dry ? BOTU_OK : members_set_status(x->db, m.id,
		    "unsubscribed", "unsubscribe", "mail", x->msg->message_id,
		    "List-Unsubscribe");
	}
	member_clear(&m);
	return rc;
}

static int
ask_to_confirm_leaving(struct ctx *x)
{
	time_t expires = time(NULL) + CONFIRM_LIFETIME;
	struct tmpl_vars *vars;
	char *token = NULL, *reply_to = NULL, when[96];
	int rc;

	rc = new_code(x, "unsubscribe", x->m.id, expires, &token, &reply_to);
	if (rc != BOTU_OK)
		return rc;
	vars = tmpl_vars_new();
	date_format(expires, x->conf->list.timezone, lang_code(x), DATE_LONG,
	    when, sizeof(when));
	tmpl_set(vars, "token", token);
	tmpl_set(vars, "expires", when);
	tmpl_set(vars, "confirm_address", reply_to);
	rc = answer(x, x->m.email, x->m.name, lang_code(x),
	    "confirm-unsubscribe", "confirm-leave", reply_to, x->m.id, NULL,
	    expires, vars);
	tmpl_vars_free(vars);
	free(reply_to);
	free(token);
	return rc;
}

static int
unsubscribe(struct ctx *x)
{
	if (x->c->channel == CHANNEL_TOKEN_ADDRESS)
		return leave_by_token(x);
	if (x->db != NULL && (!x->known ||
	    strcmp(x->m.status, "unsubscribed") == 0)) {
		decide(x, 0, "the sender is not a member (perhaps under "
		    "another address)", "leave it for a person");
		return BOTU_OK;
	}
	if (authres_dmarc_pass(x->msg, x->conf->list.authserv_id)) {
		decide(x, 1, NULL, "end the membership of %s at once (the "
		    "sender is verified: DMARC pass)",
		    log_addr(x->msg->from.addr));
		return x->dry || x->db == NULL ? BOTU_OK :
		    members_set_status(x->db, x->m.id, "unsubscribed",
		    "unsubscribe", "mail", x->msg->message_id, "DMARC pass");
	}
	if (!may_answer(x, x->msg->from.addr)) {
		decide(x, 1, NULL, "not answer: enough answers this hour");
		return BOTU_OK;
	}
	decide(x, 1, NULL, "ask %s to confirm leaving by replying",
	    log_addr(x->msg->from.addr));
	return x->dry || x->db == NULL ? BOTU_OK : ask_to_confirm_leaving(x);
}

/* ---- help ---- */

static int
help(struct ctx *x)
{
	struct tmpl_vars *vars;
	int rc;

	if (!may_answer(x, x->msg->from.addr)) {
		decide(x, 1, NULL, "not answer: enough answers this hour");
		return BOTU_OK;
	}
	decide(x, 1, NULL, "send %s the help text in %s",
	    log_addr(x->msg->from.addr), lang_code(x));
	if (x->dry || x->db == NULL)
		return BOTU_OK;
	vars = tmpl_vars_new();
	rc = answer(x, x->msg->from.addr, x->msg->from.name, lang_code(x),
	    "help", "help", NULL, x->known ? x->m.id : 0,
	    x->known ? x->m.unsub_token : NULL, 0, vars);
	tmpl_vars_free(vars);
	return rc;
}

/* ---- delivery reports ---- */

/*
 * Only a report about botu's own mail is botu's: it counts (score.h) and
 * is filed. Every other report belongs to the person whose inbox this is.
 */
static int
bounce(struct ctx *x)
{
	struct bounce_report r;
	struct score_match sm;
	char action[256], why[300];
	int rc;

	bounce_parse(x->msg, &r);
	rc = score_match(x->db, x->conf, x->msg, &r, &sm);
	if (rc != BOTU_OK) {
		snprintf(x->err, BOTU_ERRLEN, "cannot look up the outbox: %s",
		    db_errmsg(x->db));
		goto out;
	}
	if (sm.verp < 0)
		decide(x, 1, sm.how, "file it as done and change nothing");
	else if (sm.verp > 0 && sm.outbox_id == 0)
		decide(x, 1, "sent to a bounce address of no mail in the "
		    "outbox (the send test's own, or a forged number)",
		    "file it as done and change nothing");
	else if (sm.outbox_id == 0)
		decide(x, 0, x->db == NULL ? "a delivery report; without "
		    "botu's database it cannot tell whether it sent the "
		    "returned mail" : "a delivery report about mail botu did "
		    "not send (no Message-ID of its outbox in it)",
		    "leave it for a person");
	else {
		rc = score_report(x->db, x->conf, x->msg, &r, &sm, x->dry,
		    action, sizeof(action), x->err);
		snprintf(why, sizeof(why), "a delivery report about botu's "
		    "%s mail to %s (%s)", sm.kind, log_addr(sm.rcpt), sm.how);
		decide(x, 1, why, "%s", action);
	}
out:
	bounce_report_clear(&r);
	return rc;
}

/* ---- answers to invitations (rsvp.c does the work) ---- */

static int
rsvp(struct ctx *x)
{
	struct rsvp_decision r;
	int rc;

	rc = rsvp_decide(x->db, x->conf, x->msg, x->c->token,
	    x->c->own_words, x->dry, &r, x->err);
	if (rc == BOTU_OK)
		decide(x, r.act, r.reason, "%s", r.action);
	return rc;
}

/* ---- the decision ---- */

static int
dispatch(struct ctx *x)
{
	enum intent i = x->c->intent;

	if (i == INTENT_BOUNCE)
		return bounce(x);
	/* Before the From check: a REPLY is never answered. */
	if (i == INTENT_RSVP)
		return rsvp(x);
	if (i == INTENT_LEAVE_ALONE || i == INTENT_AUTOMATIC) {
		decide(x, 0, NULL, "leave it for a person%s",
		    i == INTENT_AUTOMATIC ? " and never answer it" : "");
		return BOTU_OK;
	}
	/* Answers go to From; an address botu cannot write to gets none. */
	if (!str_is_address(x->msg->from.addr) ||
	    addr_equal(x->msg->from.addr, x->conf->list.address)) {
		decide(x, 0, "the From address cannot be answered",
		    "leave it for a person");
		return BOTU_OK;
	}
	switch (i) {
	case INTENT_SUBSCRIBE:
		return subscribe(x);
	case INTENT_CONFIRM:
		return confirm(x);
	case INTENT_UNSUBSCRIBE:
		return unsubscribe(x);
	case INTENT_HELP:
		return help(x);
	case INTENT_NOTE:
		return note(x);
	case INTENT_NOTE_QUESTION:
	case INTENT_PROFILE:
	case INTENT_WITHDRAW:
		return note_other(x);
	case INTENT_MY_DATA:
	case INTENT_FORGET:
	case INTENT_LANGUAGE:
	case INTENT_PAUSE:
	case INTENT_RESUME:
	case INTENT_ADDRESS:
		return self_service(x);
	case INTENT_DIGEST:
		return rhythm(x);
	case INTENT_UPDATE:
		return update(x);
	default:
		decide(x, 0, NULL, "leave it for a person");
		return BOTU_OK;
	}
}

int
handle_decide(const struct botu_conf *conf, struct botu_db *db,
    const struct message *msg, int dry_run, struct classification *c,
    struct intake_decision *d, char err[BOTU_ERRLEN])
{
	struct ctx x = { .conf = conf, .db = db, .msg = msg, .c = c, .d = d,
	    .dry = dry_run, .err = err };
	struct sender_facts facts = { 0 };
	int rc;

	memset(d, 0, sizeof(*d));
	if (db != NULL) {
		rc = members_get(db, msg->from.addr, &x.m);
		if (rc < 0)
			return BOTU_ETEMP;
		x.known = rc == 1;
		facts.status = x.known ? x.m.status : NULL;
		facts.language = x.known ? x.m.language : NULL;
	}
	classify(conf, msg, x.known ? &facts : NULL, c);
	str_copy(d->intent, intent_name(c->intent), sizeof(d->intent));
	str_copy(d->reason, c->rule, sizeof(d->reason));
	/* A member whose mail bounced writes in: the address works. */
	rc = BOTU_OK;
	if (x.known && !dry_run && c->intent != INTENT_AUTOMATIC &&
	    c->intent != INTENT_BOUNCE)
		rc = score_wrote_in(db, &x.m, msg->message_id);
	if (rc == BOTU_OK)
		rc = dispatch(&x);
	member_clear(&x.m);
	return rc;
}

int
handle_message(void *arg, struct botu_db *db, const struct message *msg,
    int dry_run, struct intake_decision *d, char err[BOTU_ERRLEN])
{
	struct classification c;
	int rc;

	rc = handle_decide(arg, db, msg, dry_run, &c, d, err);
	classification_clear(&c);
	return rc;
}
