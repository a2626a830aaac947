/* score.c - see score.h */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "botu/addr.h"
#include "botu/dates.h"
#include "botu/log.h"
#include "botu/mailout.h"
#include "botu/score.h"
#include "botu/verp.h"

#define REASON_MAX 160
#define ALERT_DAYS 30

/* ---- finding the mail ---- */

static int
row_from(sqlite3_stmt *st, struct score_match *out)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		out->outbox_id = sqlite3_column_int64(st, 0);
		out->member_id = sqlite3_column_int64(st, 1);
		str_copy(out->rcpt, db_col_text(st, 2), sizeof(out->rcpt));
		str_copy(out->kind, db_col_text(st, 3), sizeof(out->kind));
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : BOTU_EDATA;
}

static int
row_by_id(struct botu_db *db, int64_t id, struct score_match *out)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id, coalesce(member_id, 0), "
	    "rcpt, kind FROM outbox WHERE id = ?");

	sqlite3_bind_int64(st, 1, id);
	return row_from(st, out);
}

static int
row_by_message_id(struct botu_db *db, const char *mid,
    struct score_match *out)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id, coalesce(member_id, 0), "
	    "rcpt, kind FROM outbox WHERE message_id = ?");

	sqlite3_bind_text(st, 1, mid, -1, SQLITE_STATIC);
	return row_from(st, out);
}

/* The addresses m was delivered to: envelope headers, then To and Cc. */
static char **
delivered_to(const struct message *m)
{
	static const char *const names[] = { "Delivered-To", "X-Original-To",
	    "Envelope-To", NULL };
	char **v = NULL;

	for (size_t i = 0; names[i] != NULL; i++)
		for (const struct msg_header *h = NULL;
		    (h = message_header_next(m, names[i], h)) != NULL;) {
			char *a = str_trim(xstrdup(h->value));
			size_t n = strlen(a);

			if (n > 1 && a[0] == '<' && a[n - 1] == '>') {
				a[n - 1] = '\0';
				memmove(a, a + 1, n - 1);
			}
			v = strv_add(v, a);
			free(a);
		}
	for (size_t i = 0; i < m->nrcpts; i++)
		v = strv_add(v, m->rcpts[i].addr);
	return v;
}

/* A bounce address among the recipients: 1 botu's, -1 forged, 0 none. */
static int
by_verp(struct botu_db *db, const struct botu_conf *conf,
    const struct message *m, struct score_match *out, int64_t *id)
{
	char **to = delivered_to(m), *detail = NULL;
	int found = 0;

	for (size_t i = 0; to != NULL && to[i] != NULL && found <= 0; i++) {
		int v;

		if (!addr_detail(conf, to[i], &detail) ||
		    strncmp(detail, VERP_PREFIX, strlen(VERP_PREFIX)) != 0) {
			free(detail);
			detail = NULL;
			continue;
		}
		v = verp_check(db, detail, id);
		if (v != 0)
			snprintf(out->how, sizeof(out->how), "%s %s",
			    v > 0 ? "sent to the bounce address" :
			    "sent to a bounce address botu did not make:",
			    to[i]);
		found = v;
		free(detail);
		detail = NULL;
	}
	strv_free(to);
	return found;
}

int
score_match(struct botu_db *db, const struct botu_conf *conf,
    const struct message *m, const struct bounce_report *r,
    struct score_match *out)
{
	int64_t id = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (db == NULL)
		return BOTU_OK;
	out->verp = by_verp(db, conf, m, out, &id);
	if (out->verp < 0)
		return BOTU_OK;
	if (out->verp > 0) {
		rc = row_by_id(db, id, out);
		return rc < 0 ? rc : BOTU_OK;
	}
	for (size_t i = 0; r->message_ids != NULL && r->message_ids[i] != NULL;
	    i++) {
		rc = row_by_message_id(db, r->message_ids[i], out);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			snprintf(out->how, sizeof(out->how), "the returned "
			    "mail's Message-ID %s", r->message_ids[i]);
			break;
		}
	}
	return BOTU_OK;
}

/* ---- the score ---- */

struct state {
	int	 exists;
	double	 score;		/* as stored */
	int64_t	 scored_at;
	int64_t	 since;
	int64_t	 probe_outbox_id;
};

static int
state_get(struct botu_db *db, int64_t member_id, struct state *s)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT score, scored_at, "
	    "coalesce(since, 0), coalesce(probe_outbox_id, 0) "
	    "FROM bounce_state WHERE member_id = ?");
	int rc;

	memset(s, 0, sizeof(*s));
	sqlite3_bind_int64(st, 1, member_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		s->exists = 1;
		s->score = sqlite3_column_double(st, 0);
		s->scored_at = sqlite3_column_int64(st, 1);
		s->since = sqlite3_column_int64(st, 2);
		s->probe_outbox_id = sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? BOTU_OK : BOTU_EDATA;
}

/* The score now: halved every SCORE_HALF_LIFE since it was computed. */
static double
decayed(const struct state *s, time_t now)
{
	double age = (double)(now - s->scored_at);

	if (!s->exists || s->score <= 0)
		return 0;
	return age <= 0 ? s->score : s->score * pow(0.5, age /
	    SCORE_HALF_LIFE);
}

static int
state_set(struct botu_db *db, int64_t member_id, double score, time_t now,
    const char *reason, int64_t since)
{
	sqlite3_stmt *st = db_stmt(db, "INSERT INTO bounce_state (member_id, "
	    "score, scored_at, reason, since) VALUES (?1, ?2, ?3, ?4, "
	    "nullif(?5, 0)) ON CONFLICT (member_id) DO UPDATE SET "
	    "score = ?2, scored_at = ?3, reason = ?4, since = nullif(?5, 0)");

	sqlite3_bind_int64(st, 1, member_id);
	sqlite3_bind_double(st, 2, score);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
	sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, since);
	return db_exec_stmt(db, st);
}

/* The probe of a member's address: its outbox row (0: none) and when. */
static int
set_probe(struct botu_db *db, int64_t member_id, int64_t probe_id,
    time_t at)
{
	sqlite3_stmt *st = db_stmt(db, "UPDATE bounce_state SET "
	    "probe_outbox_id = nullif(?, 0), probe_at = nullif(?, 0) "
	    "WHERE member_id = ?");

	sqlite3_bind_int64(st, 1, probe_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)at);
	sqlite3_bind_int64(st, 3, member_id);
	return db_exec_stmt(db, st);
}

/* Back to a clean start: score 0, no reason, no probe. */
static int
state_reset(struct botu_db *db, int64_t member_id, time_t now)
{
	int rc = state_set(db, member_id, 0, now, "", 0);

	return rc == BOTU_OK ? set_probe(db, member_id, 0, 0) : rc;
}

/* The reason kept with the state: a status, a class, the server's words. */
static void
reason_of(char *out, size_t len, const char *status, enum bounce_class cls,
    const char *diag)
{
	snprintf(out, len, "%s%s%s%s%.*s", status, status[0] ? " " : "",
	    bounce_class_name(cls), diag[0] ? ": " : "", REASON_MAX, diag);
}

static int
record(struct botu_db *db, int64_t member_id, int64_t outbox_id,
    const char *message_id, const char *address, const char *status,
    enum bounce_class cls, double score, const char *detail)
{
	sqlite3_stmt *st = db_stmt(db, "INSERT INTO bounces (at, member_id, "
	    "outbox_id, message_id, address, status, class, score, detail) "
	    "VALUES (?, nullif(?, 0), nullif(?, 0), ?, ?, ?, ?, ?, ?)");

	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 2, member_id);
	sqlite3_bind_int64(st, 3, outbox_id);
	if (message_id != NULL && message_id[0] != '\0')
		sqlite3_bind_text(st, 4, message_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, address, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, bounce_class_name(cls), -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 8, score);
	sqlite3_bind_text(st, 9, detail, -1, SQLITE_STATIC);
	return db_exec_stmt(db, st);
}

/* 1 when a failure of this outbox mail was counted before. */
static int
counted_before(struct botu_db *db, int64_t outbox_id)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT 1 FROM bounces WHERE "
	    "outbox_id = ? AND score > 0");
	int rc;

	sqlite3_bind_int64(st, 1, outbox_id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_ROW;
}

/* What one failure is, for counting it. */
struct failure {
	const struct score_match *mail;
	const char	*address;	/* as the report names it */
	const char	*status;
	enum bounce_class cls;
	const char	*diag;
	const char	*message_id;	/* of the report, or NULL */
	const char	*actor;		/* "mail", "daemon" */
	int		 dry;
	char		*action;
	size_t		 actionlen;
};

static void
say(struct failure *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
say(struct failure *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->action, f->actionlen, fmt, ap);
	va_end(ap);
}

/* Counts a hard or soft failure of a member's mail. */
static int
count(struct botu_db *db, struct failure *f, const struct member *mem)
{
	double add = f->cls == BOUNCE_HARD ? SCORE_HARD : SCORE_SOFT, score;
	time_t now = time(NULL);
	struct state s;
	char reason[REASON_MAX + 64], ev[REASON_MAX + 96];
	const char *who = log_addr(mem->email);
	int probe, rc;

	if ((rc = state_get(db, mem->id, &s)) != BOTU_OK)
		return rc;
	score = decayed(&s, now) + add;
	probe = strcmp(f->mail->kind, "probe") == 0 ||
	    (s.probe_outbox_id != 0 && s.probe_outbox_id == f->mail->outbox_id);
	reason_of(reason, sizeof(reason), f->status, f->cls, f->diag);
	if (probe && strcmp(mem->delivery, "disabled") != 0)
		say(f, "count a %s failure of the probe to %s: stop all mail "
		    "to them (delivery disabled)", bounce_class_name(f->cls),
		    who);
	else if (score >= SCORE_THRESHOLD && strcmp(mem->delivery, "on") == 0)
		say(f, "count a %s failure for %s (score %.2f, limit %.2f): "
		    "stop list mail to them (delivery bouncing); a probe "
		    "follows in %d days", bounce_class_name(f->cls), who,
		    score, SCORE_THRESHOLD, SCORE_PROBE_AFTER / 86400);
	else
		say(f, "count a %s failure for %s (score %.2f, limit %.2f)",
		    bounce_class_name(f->cls), who, score, SCORE_THRESHOLD);
	if (f->dry)
		return BOTU_OK;
	rc = record(db, mem->id, f->mail->outbox_id, f->message_id,
	    f->address, f->status, f->cls, add, f->diag);
	if (rc != BOTU_OK)
		return rc;
	snprintf(ev, sizeof(ev), "score %.2f: %s", score, reason);
	if (probe && strcmp(mem->delivery, "disabled") != 0) {
		log_info("%s: the probe failed too; delivery disabled", who);
		rc = members_set_delivery(db, mem->id, "disabled", "disabled",
		    f->actor, f->message_id, ev);
		if (rc == BOTU_OK)
			rc = state_set(db, mem->id, score, now, reason,
			    s.since != 0 ? s.since : now);
		return rc;
	}
	if (score >= SCORE_THRESHOLD && strcmp(mem->delivery, "on") == 0) {
		log_info("%s: bouncing (%s)", who, ev);
		rc = members_set_delivery(db, mem->id, "bouncing", "bouncing",
		    f->actor, f->message_id, ev);
		if (rc == BOTU_OK)
			rc = state_set(db, mem->id, score, now, reason, now);
		if (rc == BOTU_OK)
			rc = set_probe(db, mem->id, 0, 0);
		return rc;
	}
	return state_set(db, mem->id, score, now, reason, s.since);
}

/* Tells the organiser: the log, an event, botu status. */
static int
alert(struct botu_db *db, struct failure *f, int64_t member_id)
{
	char detail[REASON_MAX + 64];
	int rc;

	say(f, "our own sending was refused (%s): tell the organiser; count "
	    "nothing against %s", f->status[0] ? f->status : "ours",
	    log_addr(f->address));
	if (f->dry)
		return BOTU_OK;
	reason_of(detail, sizeof(detail), f->status, f->cls, f->diag);
	log_warnx("a server refused mail because of our sender address or "
	    "login, not the recipient: %s (check [smtp], and SPF, DKIM and "
	    "DMARC of the list's domain)", detail);
	rc = db_event(db, 0, "alert", f->actor, f->message_id, detail);
	if (rc == BOTU_OK && member_id != 0)
		rc = record(db, member_id, f->mail->outbox_id, f->message_id,
		    f->address, f->status, f->cls, 0, f->diag);
	return rc;
}

/* A complaint: the member leaves at once, the organiser hears of it. */
static int
complaint(struct botu_db *db, struct failure *f, const struct member *mem)
{
	char detail[REASON_MAX + 64];
	int rc;

	if (strcmp(mem->status, "unsubscribed") == 0) {
		say(f, "%s complained about our mail, but left before: do "
		    "nothing more", log_addr(mem->email));
		return BOTU_OK;
	}
	say(f, "%s called our mail spam: end the membership at once and "
	    "tell the organiser", log_addr(mem->email));
	if (f->dry)
		return BOTU_OK;
	snprintf(detail, sizeof(detail), "spam complaint (%s)", f->diag);
	log_warnx("%s called our mail spam (%s): membership ended",
	    log_addr(mem->email), f->diag);
	rc = members_set_status(db, mem->id, "unsubscribed", "complaint",
	    f->actor, f->message_id, detail);
	if (rc == BOTU_OK)
		rc = record(db, mem->id, f->mail->outbox_id, f->message_id,
		    f->address, "", BOUNCE_COMPLAINT, 0, f->diag);
	return rc;
}

/* One failure of a matched mail, whatever told us of it. */
static int
apply(struct botu_db *db, struct failure *f)
{
	struct member mem = { 0 };
	int rc, have = 0;

	if (f->mail->member_id != 0) {
		have = members_get_id(db, f->mail->member_id, &mem);
		if (have < 0)
			return BOTU_EDATA;
	}
	if (f->cls == BOUNCE_OURS) {
		rc = alert(db, f, have ? mem.id : 0);
		goto out;
	}
	rc = BOTU_OK;
	if (!have)
		say(f, "the mail was to no member (%s): count nothing",
		    f->mail->kind);
	else if (f->cls == BOUNCE_COMPLAINT)
		rc = complaint(db, f, &mem);
	else if (f->cls == BOUNCE_POLICY) {
		say(f, "a refusal of this mail, not of the address (%s): count "
		    "nothing against %s", f->status[0] ? f->status : "policy",
		    log_addr(mem.email));
		if (!f->dry)
			rc = record(db, mem.id, f->mail->outbox_id,
			    f->message_id, f->address, f->status, f->cls, 0,
			    f->diag);
	} else if (counted_before(db, f->mail->outbox_id))
		say(f, "this mail's failure was counted before: count nothing "
		    "more");
	else
		rc = count(db, f, &mem);
out:
	member_clear(&mem);
	return rc;
}

/* The recipient of r that says most about the mail that went to rcpt. */
static const struct bounce_rcpt *
significant(const struct bounce_report *r, const char *rcpt)
{
	const struct bounce_rcpt *failed = NULL, *delayed = NULL;

	for (size_t i = 0; i < r->nrcpts; i++) {
		const struct bounce_rcpt *p = &r->rcpts[i];

		if (p->cls == BOUNCE_COMPLAINT)
			return p;
		if (strcmp(p->action, "failed") == 0 &&
		    (failed == NULL || addr_equal(p->address, rcpt)))
			failed = p;
		else if (delayed == NULL)
			delayed = p;
	}
	return failed != NULL ? failed : delayed;
}

int
score_report(struct botu_db *db, const struct botu_conf *conf,
    const struct message *m, const struct bounce_report *r,
    const struct score_match *sm, int dry, char *action, size_t actionlen,
    char err[BOTU_ERRLEN])
{
	const struct bounce_rcpt *p = significant(r, sm->rcpt);
	struct failure f = { .mail = sm, .address = sm->rcpt, .status = "",
	    .diag = "", .message_id = m->message_id, .actor = "mail",
	    .dry = dry, .action = action, .actionlen = actionlen };
	int rc;

	(void)conf;
	if (r->format == BOUNCE_FORMAT_ARF && p == NULL) {
		/* the complainer's address is often blanked: the mail's */
		f.cls = BOUNCE_COMPLAINT;
		f.diag = "abuse";
	} else if (p == NULL || strcmp(p->action, "delayed") == 0) {
		snprintf(action, actionlen, "%s: count nothing", p != NULL ?
		    "a delay, not a failure" : r->warning ? "a delay warning" :
		    r->format == BOUNCE_FORMAT_NONE ? "no delivery report" :
		    "a report that names no failed recipient");
		return BOTU_OK;
	} else {
		f.address = p->address;
		f.status = p->status;
		f.cls = p->cls;
		f.diag = p->diagnostic;
	}
	rc = apply(db, &f);
	if (rc != BOTU_OK)
		snprintf(err, BOTU_ERRLEN, "cannot record the bounce: %s",
		    db_errmsg(db));
	return rc;
}

int
score_refused(struct botu_db *db, int64_t outbox_id, const char *reply)
{
	struct score_match sm;
	char action[256], status[16] = "";
	struct failure f = { .mail = &sm, .diag = reply, .actor = "daemon",
	    .status = status, .action = action, .actionlen = sizeof(action) };
	int rc;

	memset(&sm, 0, sizeof(sm));
	rc = row_by_id(db, outbox_id, &sm);
	if (rc <= 0)
		return rc < 0 ? rc : BOTU_OK;
	bounce_find_status(reply, status, sizeof(status));
	f.address = sm.rcpt;
	f.cls = bounce_classify(status, reply);
	/* the breaker already paused and told: one alert is enough */
	if (f.cls == BOUNCE_OURS)
		return BOTU_OK;
	rc = apply(db, &f);
	if (rc == BOTU_OK)
		log_debug("outbox %lld refused: %s", (long long)outbox_id,
		    action);
	else
		log_warnx("outbox %lld: cannot count the refusal: %s",
		    (long long)outbox_id, db_errmsg(db));
	return rc;
}

/* ---- probes and coming back ---- */

int
score_wrote_in(struct botu_db *db, const struct member *mem,
    const char *message_id)
{
	int rc;

	if (strcmp(mem->delivery, "on") == 0)
		return BOTU_OK;
	log_info("%s wrote in: delivery on again", log_addr(mem->email));
	rc = members_set_delivery(db, mem->id, "on", "delivery-on", "mail",
	    message_id, "wrote in");
	if (rc == BOTU_OK)
		rc = state_reset(db, mem->id, time(NULL));
	return rc;
}

static int
queue_probe(struct botu_db *db, const struct botu_conf *conf,
    const struct member *mem, time_t now, char *err)
{
	int64_t id = 0;
	char *unsub = addr_token(conf, ADDR_UNSUBSCRIBE, mem->unsub_token);
	struct mailout mo = {
		.to = mem->email,
		.to_name = mem->name[0] != '\0' ? mem->name : NULL,
		.lang = mem->language,
		.template = "probe",
		.kind = "probe",
		.member_id = mem->id,
		.unsubscribe = unsub,
		.auto_submitted = COMPOSE_AUTO_GENERATED,
		.outbox_id = &id,
	};
	struct tmpl_vars *vars = tmpl_vars_new();
	int rc;

	tmpl_set(vars, "name", mem->name);
	rc = mailout_queue(db, conf, &mo, vars, err);
	if (rc == BOTU_OK)
		rc = set_probe(db, mem->id, id, now);
	if (rc == BOTU_OK)
		rc = db_event(db, mem->id, "probe", "daemon", NULL,
		    "a probe to see whether the address works again");
	tmpl_vars_free(vars);
	free(unsub);
	return rc;
}

/* Members whose delivery is bouncing, by what is due for them. */
#define DUE_PROBE "SELECT m.id FROM members m JOIN bounce_state b ON " \
	"b.member_id = m.id WHERE m.delivery = 'bouncing' AND " \
	"m.status != 'unsubscribed' AND b.probe_outbox_id IS NULL AND " \
	"coalesce(b.since, 0) <= ?"
#define PROBE_DONE "SELECT m.id, o.status FROM members m JOIN bounce_state " \
	"b ON b.member_id = m.id JOIN outbox o ON o.id = b.probe_outbox_id " \
	"WHERE m.delivery = 'bouncing' AND ((o.status = 'sent' AND " \
	"o.sent_at <= ?) OR o.status IN ('failed', 'expired', 'dropped'))"

static int64_t *
ids_of(sqlite3_stmt *st, size_t *n, char ***statuses)
{
	int64_t *v = NULL;

	*n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		v = xrealloc(v, (*n + 1) * sizeof(*v));
		v[(*n)++] = sqlite3_column_int64(st, 0);
		if (statuses != NULL)
			*statuses = strv_add(*statuses, db_col_text(st, 1));
	}
	sqlite3_reset(st);
	return v;
}

/* A probe that went out and came back with nothing, or never went. */
static int
probe_done(struct botu_db *db, int64_t member_id, const char *status,
    time_t now)
{
	int rc;

	if (strcmp(status, "sent") == 0) {
		log_info("member %lld: the probe was not refused; delivery on "
		    "again", (long long)member_id);
		rc = members_set_delivery(db, member_id, "on", "delivery-on",
		    "daemon", NULL, "the probe was not refused");
		return rc == BOTU_OK ? state_reset(db, member_id, now) : rc;
	}
	if (strcmp(status, "failed") == 0)
		return members_set_delivery(db, member_id, "disabled",
		    "disabled", "daemon", NULL, "the probe was refused");
	/* expired or dropped before it went: another one */
	return set_probe(db, member_id, 0, 0);
}

int
score_tick(struct botu_db *db, const struct botu_conf *conf, time_t now,
    int *queued, char err[BOTU_ERRLEN])
{
	sqlite3_stmt *st;
	char **statuses = NULL;
	int64_t *ids;
	size_t n;
	int rc = BOTU_OK;

	*queued = 0;
	st = db_stmt(db, PROBE_DONE);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(now - SCORE_PROBE_WAIT));
	ids = ids_of(st, &n, &statuses);
	for (size_t i = 0; i < n && rc == BOTU_OK; i++)
		rc = probe_done(db, ids[i], statuses[i], now);
	free(ids);
	strv_free(statuses);
	st = db_stmt(db, DUE_PROBE);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(now - SCORE_PROBE_AFTER));
	ids = ids_of(st, &n, NULL);
	for (size_t i = 0; i < n && rc == BOTU_OK; i++) {
		struct member mem;

		if (members_get_id(db, ids[i], &mem) != 1)
			continue;
		rc = queue_probe(db, conf, &mem, now, err);
		if (rc == BOTU_OK)
			(*queued)++;
		member_clear(&mem);
	}
	free(ids);
	if (rc != BOTU_OK && err[0] == '\0')
		snprintf(err, BOTU_ERRLEN, "%s", db_errmsg(db));
	return rc;
}

/* ---- botu status ---- */

void
score_status_text(struct botu_db *db, const struct botu_conf *conf,
    FILE *f)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT m.email, m.delivery, "
	    "coalesce(b.since, 0), coalesce(b.reason, '') FROM members m "
	    "LEFT JOIN bounce_state b ON b.member_id = m.id "
	    "WHERE m.delivery != 'on' AND m.status != 'unsubscribed' "
	    "ORDER BY m.delivery, m.email LIMIT 20");
	char when[96];
	int64_t counted = 0;

	while (sqlite3_step(st) == SQLITE_ROW) {
		time_t t = (time_t)sqlite3_column_int64(st, 2);

		if (t == 0 || date_format(t, conf->list.timezone, "en",
		    DATE_LONG, when, sizeof(when)) < 0)
			str_copy(when, "?", sizeof(when));
		fprintf(f, "  %s %s since %s: %s\n", db_col_text(st, 1),
		    db_col_text(st, 0), when, db_col_text(st, 3));
	}
	sqlite3_reset(st);
	st = db_stmt(db, "SELECT count(*) FROM bounces WHERE at >= ?");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL) -
	    ALERT_DAYS * 86400);
	if (sqlite3_step(st) == SQLITE_ROW)
		counted = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (counted > 0)
		fprintf(f, "  %lld delivery report%s about members' mail in "
		    "the last %d days\n", (long long)counted,
		    counted == 1 ? "" : "s", ALERT_DAYS);
	st = db_stmt(db, "SELECT e.at, e.kind, e.detail, "
	    "coalesce(m.email, '') FROM events e LEFT JOIN members m ON "
	    "m.id = e.member_id WHERE e.kind IN ('alert', 'complaint') AND "
	    "e.at >= ? ORDER BY e.id DESC LIMIT 10");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL) -
	    ALERT_DAYS * 86400);
	while (sqlite3_step(st) == SQLITE_ROW) {
		time_t t = (time_t)sqlite3_column_int64(st, 0);

		if (date_format(t, conf->list.timezone, "en", DATE_LONG, when,
		    sizeof(when)) < 0)
			str_copy(when, "?", sizeof(when));
		if (strcmp(db_col_text(st, 1), "alert") == 0)
			fprintf(f, "ALERT %s: our sending was refused: %s\n"
			    "  (check [smtp], and SPF, DKIM and DMARC of the "
			    "list's domain)\n", when, db_col_text(st, 2));
		else
			fprintf(f, "COMPLAINT %s: %s called our mail spam; "
			    "the membership ended\n", when,
			    db_col_text(st, 3));
	}
	sqlite3_reset(st);
}

int
score_status_json(struct botu_db *db, struct buf *out)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT json_object("
	    " 'bouncing', (SELECT count(*) FROM members WHERE delivery = "
	    "   'bouncing' AND status != 'unsubscribed'),"
	    " 'disabled', (SELECT count(*) FROM members WHERE delivery = "
	    "   'disabled' AND status != 'unsubscribed'),"
	    " 'reports', (SELECT count(*) FROM bounces WHERE at >= ?1),"
	    " 'members', (SELECT coalesce(json_group_array(json_object("
	    "   'email', m.email, 'delivery', m.delivery, 'since',"
	    "   strftime('%Y-%m-%dT%H:%M:%SZ', b.since, 'unixepoch'),"
	    "   'reason', coalesce(b.reason, ''))), json('[]'))"
	    "   FROM members m LEFT JOIN bounce_state b ON"
	    "   b.member_id = m.id WHERE m.delivery != 'on' AND"
	    "   m.status != 'unsubscribed'),"
	    " 'alerts', (SELECT coalesce(json_group_array(json_object("
	    "   'at', strftime('%Y-%m-%dT%H:%M:%SZ', e.at, 'unixepoch'),"
	    "   'kind', e.kind, 'detail', e.detail, 'email',"
	    "   (SELECT email FROM members WHERE id = e.member_id))),"
	    "   json('[]')) FROM events e WHERE e.kind IN ('alert',"
	    "   'complaint') AND e.at >= ?1))");
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL) -
	    ALERT_DAYS * 86400);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		buf_adds(out, db_col_text(st, 0));
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? BOTU_OK : BOTU_EDATA;
}
