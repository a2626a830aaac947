/* meetings.c - see meetings.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "botu/addr.h"
#include "botu/dates.h"
#include "botu/ical.h"
#include "botu/log.h"
#include "botu/mailout.h"
#include "botu/meetings.h"
#include "botu/rsvp.h"
#include "botu/token.h"
#include "botu/util.h"

/* The digest shows at most this many upcoming meetings. */
#define DIGEST_MAX 10

#define MEETING_COLUMNS \
	"id, title, location, description, start_at, end_at, audience, " \
	"status, sequence, answer_sequence, result, coalesce(result_at, 0), " \
	"created_at, updated_at"

#define INVITE_COLUMNS \
	"id, meeting_id, member_id, uid, email, sequence, cancelled, " \
	"partstat, comment, coalesce(answered_at, 0), " \
	"coalesce(answer_stamp, 0)"

void
meeting_clear(struct meeting *m)
{
	if (m == NULL)
		return;
	free(m->title);
	free(m->location);
	free(m->description);
	free(m->audience);
	free(m->status);
	free(m->result);
	memset(m, 0, sizeof(*m));
}

void
meeting_invite_clear(struct meeting_invite *i)
{
	if (i == NULL)
		return;
	free(i->uid);
	free(i->email);
	free(i->partstat);
	free(i->comment);
	memset(i, 0, sizeof(*i));
}

static char *
col_dup(sqlite3_stmt *st, int col)
{
	return xstrdup(db_col_text(st, col));
}

static void
meeting_from_row(sqlite3_stmt *st, struct meeting *m)
{
	m->id = sqlite3_column_int64(st, 0);
	m->title = col_dup(st, 1);
	m->location = col_dup(st, 2);
	m->description = col_dup(st, 3);
	m->start_at = (time_t)sqlite3_column_int64(st, 4);
	m->end_at = (time_t)sqlite3_column_int64(st, 5);
	m->audience = col_dup(st, 6);
	m->status = col_dup(st, 7);
	m->sequence = sqlite3_column_int(st, 8);
	m->answer_sequence = sqlite3_column_int(st, 9);
	m->result = col_dup(st, 10);
	m->result_at = (time_t)sqlite3_column_int64(st, 11);
	m->created_at = (time_t)sqlite3_column_int64(st, 12);
	m->updated_at = (time_t)sqlite3_column_int64(st, 13);
}

int
meetings_get(struct botu_db *db, int64_t id, struct meeting *out)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT " MEETING_COLUMNS
	    " FROM meetings WHERE id = ?");
	int rc;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		meeting_from_row(st, out);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : BOTU_EDATA;
}

static void
invite_from_row(sqlite3_stmt *st, struct meeting_invite *i)
{
	i->id = sqlite3_column_int64(st, 0);
	i->meeting_id = sqlite3_column_int64(st, 1);
	i->member_id = sqlite3_column_int64(st, 2);
	i->uid = col_dup(st, 3);
	i->email = col_dup(st, 4);
	i->sequence = sqlite3_column_int(st, 5);
	i->cancelled = sqlite3_column_int(st, 6);
	i->partstat = col_dup(st, 7);
	i->comment = col_dup(st, 8);
	i->answered_at = (time_t)sqlite3_column_int64(st, 9);
	i->answer_stamp = (time_t)sqlite3_column_int64(st, 10);
}

int
meetings_invite_by_uid(struct botu_db *db, const char *uid,
    struct meeting_invite *out)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT " INVITE_COLUMNS
	    " FROM meeting_invites WHERE uid = ?");
	int rc;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		invite_from_row(st, out);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : BOTU_EDATA;
}

/* ---- what a member is owed ---- */

/* One member who is owed a mail about one meeting. */
struct owed {
	int64_t	 member_id;
	char	*email;
	char	*name;
	char	*language;
	char	*unsub_token;
	int	 core;
	int64_t	 invite_id;	/* 0: no copy yet */
	char	*uid;
	int	 sequence;	/* last sent; -1 when none */
	int	 cancelled;
	char	*partstat;
};

static void
owed_free(struct owed *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(o[i].email);
		free(o[i].name);
		free(o[i].language);
		free(o[i].unsub_token);
		free(o[i].uid);
		free(o[i].partstat);
	}
	free(o);
}

/*
 * The active members with delivery on (only member_id when not 0) who
 * are owed something for m (meetings.h's table), with their copy.
 */
static int
owed_list(struct botu_db *db, const struct meeting *m, int64_t member_id,
    struct owed **out, size_t *n)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT mb.id, mb.email, mb.name, mb.language, "
	    "coalesce(mb.unsub_token, ''), mb.core, coalesce(i.id, 0), "
	    "coalesce(i.uid, ''), coalesce(i.sequence, -1), "
	    "coalesce(i.cancelled, 0), coalesce(i.partstat, 'NEEDS-ACTION') "
	    "FROM members mb LEFT JOIN meeting_invites i "
	    "ON i.member_id = mb.id AND i.meeting_id = ?1 "
	    "WHERE mb.status = 'active' AND mb.delivery = 'on' "
	    "AND (?2 = 0 OR mb.id = ?2) AND ("
	    " (?5 AND (NOT ?4 OR mb.core = 1) AND (i.id IS NULL OR "
	    "  i.cancelled = 1 OR i.sequence < ?3)) OR "
	    " (i.id IS NOT NULL AND i.cancelled = 0 AND "
	    "  (NOT ?5 OR NOT (NOT ?4 OR mb.core = 1)))) "
	    "ORDER BY mb.id");
	struct owed *v = NULL, *o;
	size_t k = 0;
	int rc;

	sqlite3_bind_int64(st, 1, m->id);
	sqlite3_bind_int64(st, 2, member_id);
	sqlite3_bind_int(st, 3, m->sequence);
	sqlite3_bind_int(st, 4, strcmp(m->audience, "core") == 0);
	sqlite3_bind_int(st, 5, strcmp(m->status, "planned") == 0);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xrealloc(v, (k + 1) * sizeof(*v));
		o = &v[k++];
		o->member_id = sqlite3_column_int64(st, 0);
		o->email = col_dup(st, 1);
		o->name = col_dup(st, 2);
		o->language = col_dup(st, 3);
		o->unsub_token = col_dup(st, 4);
		o->core = sqlite3_column_int(st, 5);
		o->invite_id = sqlite3_column_int64(st, 6);
		o->uid = col_dup(st, 7);
		o->sequence = sqlite3_column_int(st, 8);
		o->cancelled = sqlite3_column_int(st, 9);
		o->partstat = col_dup(st, 10);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		owed_free(v, k);
		return BOTU_EDATA;
	}
	*out = v;
	*n = k;
	return BOTU_OK;
}

/* The ORGANIZER's name: [meetings] organizer_name, else the list's. */
static const char *
organizer_name(const struct botu_conf *conf)
{
	if (conf->meetings.organizer_name[0] != '\0')
		return conf->meetings.organizer_name;
	return conf->list.name;
}

/* "when" and "until" of m in lang: the end as a time on the same day. */
static void
set_when(struct tmpl_vars *v, const struct botu_conf *conf,
    const struct meeting *m, const char *lang, const char *when_name,
    const char *until_name)
{
	const char *tz = conf->list.timezone;
	char when[96], until[96], d1[64], d2[64];

	date_format(m->start_at, tz, lang, DATE_LONG, when, sizeof(when));
	date_format(m->start_at, tz, lang, DATE_DAY, d1, sizeof(d1));
	date_format(m->end_at, tz, lang, DATE_DAY, d2, sizeof(d2));
	date_format(m->end_at, tz, lang, strcmp(d1, d2) == 0 ? DATE_TIME :
	    DATE_LONG, until, sizeof(until));
	tmpl_set(v, when_name, when);
	tmpl_set(v, until_name, until);
}

/* The variables of the meeting mails (templates/README). */
static struct tmpl_vars *
mail_vars(const struct botu_conf *conf, const struct meeting *m,
    const struct owed *o)
{
	struct tmpl_vars *v = tmpl_vars_new();

	tmpl_set(v, "name", o->name);
	tmpl_set(v, "title", m->title);
	set_when(v, conf, m, o->language, "when", "until");
	tmpl_set(v, "location", m->location);
	tmpl_set(v, "description", m->description);
	tmpl_set(v, "core", strcmp(m->audience, "core") == 0 ? "yes" : "");
	return v;
}

/* The person's own List-Unsubscribe address; owned. */

/* One queued mail to o about m. */
struct copy {
	enum ical_method method;
	const char	*tmpl;
	const char	*kind;
	struct tmpl_vars *vars;		/* borrowed, filled */
	time_t		 now;
};

/*
 * RFC 6047 §2.4 and CALENDAR.md §0: the calendar inline inside the
 * alternative (method= as in the object), and the same octets as
 * invite.ics for clients that only look at attachments.
 */
static int
queue_copy(struct botu_db *db, const struct botu_conf *conf,
    const struct meeting *m, const struct owed *o, const struct copy *c,
    char err[BOTU_ERRLEN])
{
	struct ical_invite inv = {
		.method = c->method,
		.uid = o->uid,
		.sequence = m->sequence,
		.dtstamp = c->now,
		.start = m->start_at,
		.end = m->end_at,
		.tz = conf->list.timezone,
		.summary = m->title,
		.location = m->location,
		.description = m->description,
		.organizer = conf->list.address,
		.organizer_name = organizer_name(conf),
		.attendee = o->email,
		.attendee_name = o->name,
		.partstat = o->partstat,
	};
	struct compose_part parts[2] = {
		{ c->method == ICAL_CANCEL ?
		    "text/calendar; method=CANCEL; charset=UTF-8" :
		    "text/calendar; method=REQUEST; charset=UTF-8",
		    NULL, NULL, 1, 1 },
		{ "application/ics; name=\"invite.ics\"", NULL, "invite.ics",
		    0, 1 },
	};
	struct mailout mo = {
		.to = o->email,
		.to_name = o->name[0] != '\0' ? o->name : NULL,
		.lang = o->language,
		.template = c->tmpl,
		.kind = c->kind,
		.member_id = o->member_id,
		.auto_submitted = COMPOSE_AUTO_GENERATED,
		.ordered = 1,
		.expires_at = m->start_at,
		.parts = parts,
		.nparts = NELEM(parts),
	};
	char *ics = NULL, *unsub = NULL, *detail = NULL, *reply = NULL;
	int rc;

	rc = ical_invite_new(&inv, &ics, err);
	if (rc != BOTU_OK)
		return rc;
	parts[0].body = parts[1].body = ics;
	mo.unsubscribe = unsub = addr_token(conf, ADDR_UNSUBSCRIBE,
	    o->unsub_token);
	/* rsvp.h: "ja" or "nee" in a reply to this mail answers too. */
	if (c->method == ICAL_REQUEST &&
	    (detail = rsvp_reply_detail(o->uid)) != NULL)
		mo.reply_to = reply = addr_plus(conf, detail);
	rc = mailout_queue(db, conf, &mo, c->vars, err);
	free(detail);
	free(reply);
	free(unsub);
	free(ics);
	return rc;
}

/* A new copy of m for o: a UID nobody can guess. */
static int
invite_create(struct botu_db *db, const struct botu_conf *conf,
    const struct meeting *m, struct owed *o, time_t now)
{
	sqlite3_stmt *st = db_stmt(db,
	    "INSERT INTO meeting_invites (meeting_id, member_id, uid, email, "
	    "sequence, sent_at, created_at) VALUES (?1, ?2, ?3, ?4, -1, ?5, "
	    "?5)");
	char *t = token_new(TOKEN_BITS);
	int rc;

	free(o->uid);
	o->uid = xasprintf("botu-%lld-%s@%s", (long long)m->id, t,
	    addr_domain(conf));
	free(t);
	sqlite3_bind_int64(st, 1, m->id);
	sqlite3_bind_int64(st, 2, o->member_id);
	sqlite3_bind_text(st, 3, o->uid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, o->email, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)now);
	rc = db_exec_stmt(db, st);
	if (rc == BOTU_OK)
		o->invite_id = db_last_id(db);
	return rc;
}

/*
 * What was sent to o: the version, whether their copy is off, and (for a
 * copy they get anew) no answer yet.
 */
static int
invite_sent(struct botu_db *db, const struct owed *o, int sequence,
    int cancelled, int fresh, time_t now)
{
	sqlite3_stmt *st = db_stmt(db,
	    "UPDATE meeting_invites SET sequence = ?1, cancelled = ?2, "
	    "sent_at = ?3, email = ?4, "
	    "partstat = CASE WHEN ?6 THEN 'NEEDS-ACTION' ELSE partstat END, "
	    "comment = CASE WHEN ?6 THEN '' ELSE comment END, "
	    "reminded_at = CASE WHEN ?6 THEN NULL ELSE reminded_at END "
	    "WHERE id = ?5");

	sqlite3_bind_int(st, 1, sequence);
	sqlite3_bind_int(st, 2, cancelled);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
	sqlite3_bind_text(st, 4, o->email, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, o->invite_id);
	sqlite3_bind_int(st, 6, fresh);
	return db_exec_stmt(db, st);
}

/* Works out and queues the one mail o is owed for m. */
static int
sync_one(struct botu_db *db, const struct botu_conf *conf,
    const struct meeting *m, struct owed *o, time_t now,
    char err[BOTU_ERRLEN])
{
	int planned = strcmp(m->status, "planned") == 0;
	int in = planned && (strcmp(m->audience, "all") == 0 || o->core);
	struct copy c = { .now = now };
	int rc, fresh = o->invite_id == 0 || o->cancelled;

	if (in && o->invite_id == 0 && invite_create(db, conf, m, o, now) !=
	    BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "cannot store an invitation: %s",
		    db_errmsg(db));
		return BOTU_EDATA;
	}
	c.vars = mail_vars(conf, m, o);
	if (in) {
		c.method = ICAL_REQUEST;
		c.tmpl = fresh ? "meeting-invite" : "meeting-update";
		c.kind = fresh ? "invite" : "invite-update";
		if (!fresh && m->answer_sequence > o->sequence)
			tmpl_set(c.vars, "ask_again", "yes");
		if (fresh || m->answer_sequence > o->sequence) {
			free(o->partstat);
			o->partstat = xstrdup("NEEDS-ACTION");
		}
	} else {
		c.method = ICAL_CANCEL;
		c.tmpl = "meeting-cancel";
		c.kind = "invite-cancel";
		if (planned)
			tmpl_set(c.vars, "uninvited", "yes");
	}
	rc = queue_copy(db, conf, m, o, &c, err);
	if (rc == BOTU_OK && invite_sent(db, o, m->sequence, !in,
	    in && fresh, now) != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "cannot store an invitation: %s",
		    db_errmsg(db));
		rc = BOTU_EDATA;
	}
	tmpl_vars_free(c.vars);
	return rc;
}

static int
sync_meeting(struct botu_db *db, const struct botu_conf *conf,
    const struct meeting *m, int64_t member_id, time_t now, int *queued,
    char err[BOTU_ERRLEN])
{
	struct owed *o = NULL;
	size_t n = 0;
	int rc;

	/* Mail about a meeting that has begun is of no use any more. */
	if (m->start_at <= now)
		return BOTU_OK;
	rc = owed_list(db, m, member_id, &o, &n);
	if (rc != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "cannot read the members: %s",
		    db_errmsg(db));
		return rc;
	}
	for (size_t i = 0; i < n && rc == BOTU_OK; i++) {
		rc = sync_one(db, conf, m, &o[i], now, err);
		if (rc == BOTU_OK)
			(*queued)++;
	}
	owed_free(o, n);
	return rc;
}

/* The meetings that have not begun at now, as ids (owned, 0-ended). */
static int
upcoming_ids(struct botu_db *db, time_t now, int64_t **out)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT id FROM meetings WHERE start_at > ? ORDER BY start_at");
	int64_t *v = xcalloc(1, sizeof(*v));
	size_t n = 0;
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xrealloc(v, (n + 2) * sizeof(*v));
		v[n++] = sqlite3_column_int64(st, 0);
		v[n] = 0;
	}
	sqlite3_reset(st);
	*out = v;
	return rc == SQLITE_DONE ? BOTU_OK : BOTU_EDATA;
}

int
meetings_sync(struct botu_db *db, const struct botu_conf *conf, int64_t id,
    int64_t member_id, time_t now, int *queued, char err[BOTU_ERRLEN])
{
	struct meeting m;
	int64_t *ids = NULL, one[2] = { id, 0 };
	int rc = BOTU_OK, n = 0;

	if (id == 0 && upcoming_ids(db, now, &ids) != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "cannot read the meetings: %s",
		    db_errmsg(db));
		free(ids);
		return BOTU_EDATA;
	}
	for (int64_t *p = id != 0 ? one : ids; *p != 0 && rc == BOTU_OK;
	    p++) {
		rc = meetings_get(db, *p, &m);
		if (rc == 1)
			rc = sync_meeting(db, conf, &m, member_id, now, &n,
			    err);
		else if (rc == 0)
			rc = BOTU_OK;
		else
			snprintf(err, BOTU_ERRLEN, "cannot read meeting %lld: "
			    "%s", (long long)*p, db_errmsg(db));
		meeting_clear(&m);
	}
	free(ids);
	if (queued != NULL)
		*queued = n;
	return rc;
}

/* ---- the organiser's changes ---- */

static int
check_fields(const struct meeting *m, time_t now, char err[BOTU_ERRLEN])
{
	size_t tl = m->title != NULL ? strlen(m->title) : 0;

	if (tl == 0 || tl > MEETINGS_MAX_TITLE) {
		snprintf(err, BOTU_ERRLEN, "a meeting needs a title of at most "
		    "%d octets", MEETINGS_MAX_TITLE);
		return BOTU_EDATA;
	}
	if (strlen(m->location) > MEETINGS_MAX_TITLE ||
	    strlen(m->description) > MEETINGS_MAX_TEXT) {
		snprintf(err, BOTU_ERRLEN, "the location (%d octets) or the "
		    "description (%d) is too long", MEETINGS_MAX_TITLE,
		    MEETINGS_MAX_TEXT);
		return BOTU_EDATA;
	}
	if (strcmp(m->audience, "all") != 0 && strcmp(m->audience, "core")) {
		snprintf(err, BOTU_ERRLEN, "the audience is all or core, not "
		    "'%.100s'", m->audience);
		return BOTU_EDATA;
	}
	if (m->end_at <= m->start_at) {
		snprintf(err, BOTU_ERRLEN, "the end must come after the "
		    "start");
		return BOTU_EDATA;
	}
	if (m->start_at <= now) {
		snprintf(err, BOTU_ERRLEN, "the start is in the past");
		return BOTU_EDATA;
	}
	return BOTU_OK;
}

/* Text fields as they are stored: valid UTF-8, trimmed. */
static char *
field_new(const char *s)
{
	return str_trim(utf8_sanitize(s != NULL ? s : ""));
}

static int
meeting_event(struct botu_db *db, const char *kind, const char *actor,
    const struct meeting *m, const char *what)
{
	char *d = xasprintf("meeting %lld (%s)%s%s", (long long)m->id,
	    m->title, what != NULL ? ": " : "", what != NULL ? what : "");
	int rc = db_event(db, 0, kind, actor, NULL, d);

	free(d);
	return rc;
}

int
meetings_add(struct botu_db *db, const struct botu_conf *conf,
    struct meeting *in, const char *actor, int *queued,
    char err[BOTU_ERRLEN])
{
	sqlite3_stmt *st = db_stmt(db,
	    "INSERT INTO meetings (title, location, description, start_at, "
	    "end_at, audience, created_at, updated_at) VALUES (?1, ?2, ?3, "
	    "?4, ?5, ?6, ?7, ?7)");
	struct meeting m = { .start_at = in->start_at, .end_at = in->end_at,
	    .status = "planned" };
	time_t now = time(NULL);
	int rc;

	m.title = field_new(in->title);
	m.location = field_new(in->location);
	m.description = utf8_sanitize(in->description != NULL ?
	    in->description : "");
	m.audience = in->audience != NULL ? in->audience : "all";
	rc = check_fields(&m, now, err);
	if (rc != BOTU_OK)
		goto out;
	sqlite3_bind_text(st, 1, m.title, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, m.location, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, m.description, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)m.start_at);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)m.end_at);
	sqlite3_bind_text(st, 6, m.audience, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)now);
	rc = db_exec_stmt(db, st);
	if (rc == BOTU_OK) {
		m.id = in->id = db_last_id(db);
		rc = meeting_event(db, "meeting-add", actor, &m, NULL);
	}
	if (rc != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "cannot store the meeting: %s",
		    db_errmsg(db));
		goto out;
	}
	rc = meetings_sync(db, conf, m.id, 0, now, queued, err);
out:
	free(m.title);
	free(m.location);
	free(m.description);
	return rc;
}

/* Replaces *field by a copy of value when value is set and different. */
static int
change_str(char **field, const char *value, int trim)
{
	char *v;

	if (value == NULL)
		return 0;
	v = trim ? field_new(value) : utf8_sanitize(value);
	if (strcmp(v, *field) == 0) {
		free(v);
		return 0;
	}
	free(*field);
	*field = v;
	return 1;
}

static int
change_time(time_t *field, time_t value)
{
	if (value == 0 || value == *field)
		return 0;
	*field = value;
	return 1;
}

/* The meeting as it is now, one the organiser may still change. */
static int
changeable(struct botu_db *db, int64_t id, struct meeting *m, time_t now,
    char err[BOTU_ERRLEN])
{
	int rc = meetings_get(db, id, m);

	if (rc < 0) {
		snprintf(err, BOTU_ERRLEN, "cannot read the meeting: %s",
		    db_errmsg(db));
		return BOTU_EDATA;
	}
	if (rc == 0) {
		snprintf(err, BOTU_ERRLEN, "there is no meeting %lld",
		    (long long)id);
		return BOTU_EPERM;
	}
	if (strcmp(m->status, "cancelled") == 0) {
		snprintf(err, BOTU_ERRLEN, "meeting %lld is cancelled",
		    (long long)id);
		return BOTU_EPERM;
	}
	if (m->start_at <= now) {
		snprintf(err, BOTU_ERRLEN, "meeting %lld has begun",
		    (long long)id);
		return BOTU_EPERM;
	}
	return BOTU_OK;
}

static int
store_change(struct botu_db *db, const struct meeting *m, int place,
    time_t now)
{
	sqlite3_stmt *st = db_stmt(db,
	    "UPDATE meetings SET title = ?1, location = ?2, description = ?3,"
	    " start_at = ?4, end_at = ?5, audience = ?6, sequence = ?7, "
	    "answer_sequence = ?8, status = ?9, updated_at = ?10 "
	    "WHERE id = ?11");
	/* RFC 5546 §2.1.5: a new time asks every attendee again. */
	sqlite3_stmt *reset = db_stmt(db,
	    "UPDATE meeting_invites SET partstat = 'NEEDS-ACTION', "
	    "comment = '', answered_at = NULL, answer_stamp = NULL, "
	    "answer_sequence = NULL, reminded_at = NULL WHERE meeting_id = ?");
	int rc;

	sqlite3_bind_text(st, 1, m->title, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, m->location, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, m->description, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)m->start_at);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)m->end_at);
	sqlite3_bind_text(st, 6, m->audience, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, m->sequence);
	sqlite3_bind_int(st, 8, m->answer_sequence);
	sqlite3_bind_text(st, 9, m->status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 11, m->id);
	rc = db_exec_stmt(db, st);
	if (rc == BOTU_OK && place) {
		sqlite3_bind_int64(reset, 1, m->id);
		rc = db_exec_stmt(db, reset);
	}
	return rc;
}

int
meetings_update(struct botu_db *db, const struct botu_conf *conf,
    int64_t id, const struct meeting_change *c, const char *actor,
    int *queued, char err[BOTU_ERRLEN])
{
	struct meeting m;
	time_t now = time(NULL);
	int rc, place, other;

	if (queued != NULL)
		*queued = 0;
	rc = changeable(db, id, &m, now, err);
	if (rc != BOTU_OK)
		goto out;
	place = change_time(&m.start_at, c->start_at);
	place |= change_time(&m.end_at, c->end_at);
	place |= change_str(&m.location, c->location, 1);
	other = change_str(&m.title, c->title, 1);
	other |= change_str(&m.description, c->description, 0);
	other |= change_str(&m.audience, c->audience, 1);
	if (!place && !other)
		goto out;
	rc = check_fields(&m, now, err);
	if (rc != BOTU_OK)
		goto out;
	/* RFC 5545 §3.8.7.4: each revision the attendees get raises it. */
	m.sequence++;
	if (place)
		m.answer_sequence = m.sequence;
	rc = store_change(db, &m, place, now);
	if (rc == BOTU_OK)
		rc = meeting_event(db, "meeting-update", actor, &m, place ?
		    "new time or place" : NULL);
	if (rc != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "cannot store the meeting: %s",
		    db_errmsg(db));
		goto out;
	}
	rc = meetings_sync(db, conf, id, 0, now, queued, err);
out:
	meeting_clear(&m);
	return rc;
}

int
meetings_cancel(struct botu_db *db, const struct botu_conf *conf,
    int64_t id, const char *actor, int *queued, char err[BOTU_ERRLEN])
{
	struct meeting m;
	time_t now = time(NULL);
	int rc;

	if (queued != NULL)
		*queued = 0;
	rc = meetings_get(db, id, &m);
	if (rc <= 0 || strcmp(m.status, "cancelled") == 0) {
		snprintf(err, BOTU_ERRLEN, "meeting %lld: %s", (long long)id,
		    rc < 0 ? db_errmsg(db) : rc == 0 ? "there is no such "
		    "meeting" : "it is cancelled already");
		rc = rc < 0 ? BOTU_EDATA : BOTU_EPERM;
		goto out;
	}
	free(m.status);
	m.status = xstrdup("cancelled");
	m.sequence++;
	rc = store_change(db, &m, 0, now);
	if (rc == BOTU_OK)
		rc = meeting_event(db, "meeting-cancel", actor, &m, NULL);
	if (rc != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "cannot store the meeting: %s",
		    db_errmsg(db));
		goto out;
	}
	rc = meetings_sync(db, conf, id, 0, now, queued, err);
out:
	meeting_clear(&m);
	return rc;
}

int
meetings_result(struct botu_db *db, int64_t id, const char *text,
    const char *actor, char err[BOTU_ERRLEN])
{
	sqlite3_stmt *st = db_stmt(db,
	    "UPDATE meetings SET result = ?1, result_at = ?2, updated_at = ?2"
	    " WHERE id = ?3");
	char *t = field_new(text);
	struct meeting m;
	int rc;

	rc = meetings_get(db, id, &m);
	if (rc <= 0) {
		snprintf(err, BOTU_ERRLEN, "meeting %lld: %s", (long long)id,
		    rc < 0 ? db_errmsg(db) : "there is no such meeting");
		rc = rc < 0 ? BOTU_EDATA : BOTU_EPERM;
		goto out;
	}
	if (t[0] == '\0' || strlen(t) > MEETINGS_MAX_TEXT) {
		snprintf(err, BOTU_ERRLEN, "a result needs text, at most %d "
		    "octets", MEETINGS_MAX_TEXT);
		rc = BOTU_EDATA;
		goto out;
	}
	sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 3, id);
	rc = db_exec_stmt(db, st);
	if (rc == BOTU_OK)
		rc = meeting_event(db, "meeting-result", actor, &m, NULL);
	if (rc != BOTU_OK)
		snprintf(err, BOTU_ERRLEN, "cannot store the result: %s",
		    db_errmsg(db));
out:
	meeting_clear(&m);
	free(t);
	return rc;
}

/* ---- answers ---- */

int
meetings_record_answer(struct botu_db *db, int64_t id, const char *partstat,
    const char *comment, int sequence, time_t stamp, const char *from,
    const char *message_id)
{
	sqlite3_stmt *st = db_stmt(db,
	    "UPDATE meeting_invites SET partstat = ?1, comment = ?2, "
	    "answer_sequence = ?3, answer_stamp = ?4, answered_at = ?5 "
	    "WHERE id = ?6 RETURNING member_id, meeting_id");
	int64_t member = 0, meeting = 0;
	char *detail;
	int rc;

	sqlite3_bind_text(st, 1, partstat, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, comment != NULL ? comment : "", -1,
	    SQLITE_STATIC);
	sqlite3_bind_int(st, 3, sequence);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)stamp);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 6, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		member = sqlite3_column_int64(st, 0);
		meeting = sqlite3_column_int64(st, 1);
		rc = sqlite3_step(st);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE || member == 0)
		return BOTU_EDATA;
	detail = xasprintf("meeting %lld: %s (from %s)", (long long)meeting,
	    partstat, from != NULL ? from : "?");
	rc = db_event(db, member, "rsvp", "mail", message_id, detail);
	free(detail);
	return rc;
}

/* ---- reminders ---- */

/* A reminder that is due, with what its mail needs. */
struct due {
	int64_t	 invite_id;
	int64_t	 meeting_id;
	struct owed o;
};

static int
due_list(struct botu_db *db, time_t now, int hours, struct due **out,
    size_t *n)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT i.id, i.meeting_id, mb.id, mb.email, mb.name, "
	    "mb.language, coalesce(mb.unsub_token, ''), mb.core, i.uid, "
	    "i.partstat FROM meeting_invites i "
	    "JOIN meetings m ON m.id = i.meeting_id "
	    "JOIN members mb ON mb.id = i.member_id "
	    "WHERE m.status = 'planned' AND m.start_at > ?1 "
	    "AND m.start_at - ?2 <= ?1 AND i.sent_at <= m.start_at - ?2 "
	    "AND i.cancelled = 0 AND i.reminded_at IS NULL "
	    "AND i.partstat IN ('ACCEPTED', 'NEEDS-ACTION') "
	    "AND mb.status = 'active' AND mb.delivery = 'on' "
	    "ORDER BY m.start_at, i.id");
	struct due *v = NULL, *d;
	size_t k = 0;
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)hours * 3600);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xrealloc(v, (k + 1) * sizeof(*v));
		d = &v[k++];
		memset(d, 0, sizeof(*d));
		d->invite_id = sqlite3_column_int64(st, 0);
		d->meeting_id = sqlite3_column_int64(st, 1);
		d->o.member_id = sqlite3_column_int64(st, 2);
		d->o.email = col_dup(st, 3);
		d->o.name = col_dup(st, 4);
		d->o.language = col_dup(st, 5);
		d->o.unsub_token = col_dup(st, 6);
		d->o.core = sqlite3_column_int(st, 7);
		d->o.uid = col_dup(st, 8);
		d->o.partstat = col_dup(st, 9);
	}
	sqlite3_reset(st);
	*out = v;
	*n = k;
	return rc == SQLITE_DONE ? BOTU_OK : BOTU_EDATA;
}

static void
due_free(struct due *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(d[i].o.email);
		free(d[i].o.name);
		free(d[i].o.language);
		free(d[i].o.unsub_token);
		free(d[i].o.uid);
		free(d[i].o.partstat);
	}
	free(d);
}

/* The reminder: a plain mail, no calendar part (the event is there). */
static int
remind_one(struct botu_db *db, const struct botu_conf *conf,
    const struct due *d, time_t now, char err[BOTU_ERRLEN])
{
	sqlite3_stmt *st = db_stmt(db,
	    "UPDATE meeting_invites SET reminded_at = ? WHERE id = ?");
	struct tmpl_vars *v = NULL;
	struct meeting m;
	char *unsub = NULL;
	int rc;

	if (meetings_get(db, d->meeting_id, &m) != 1) {
		snprintf(err, BOTU_ERRLEN, "cannot read meeting %lld",
		    (long long)d->meeting_id);
		return BOTU_EDATA;
	}
	v = mail_vars(conf, &m, &d->o);
	tmpl_set(v, "accepted", strcmp(d->o.partstat, "ACCEPTED") == 0 ?
	    "yes" : "");
	unsub = addr_token(conf, ADDR_UNSUBSCRIBE, d->o.unsub_token);
	struct mailout mo = {
		.to = d->o.email,
		.to_name = d->o.name[0] != '\0' ? d->o.name : NULL,
		.lang = d->o.language,
		.template = "meeting-reminder",
		.kind = "reminder",
		.member_id = d->o.member_id,
		.unsubscribe = unsub,
		.auto_submitted = COMPOSE_AUTO_GENERATED,
		.ordered = 1,
		.expires_at = m.start_at,
	};
	rc = mailout_queue(db, conf, &mo, v, err);
	if (rc == BOTU_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
		sqlite3_bind_int64(st, 2, d->invite_id);
		rc = db_exec_stmt(db, st);
		if (rc != BOTU_OK)
			snprintf(err, BOTU_ERRLEN, "cannot note the reminder:"
			    " %s", db_errmsg(db));
	}
	free(unsub);
	tmpl_vars_free(v);
	meeting_clear(&m);
	return rc;
}

/* When the next reminder falls due after now; 0: none planned. */
static time_t
next_reminder(struct botu_db *db, time_t now, int hours)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT min(m.start_at - ?2) FROM meetings m "
	    "WHERE m.status = 'planned' AND m.start_at - ?2 > ?1 AND EXISTS "
	    "(SELECT 1 FROM meeting_invites i WHERE i.meeting_id = m.id AND "
	    "i.cancelled = 0 AND i.reminded_at IS NULL)");
	time_t t = 0;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)hours * 3600);
	if (sqlite3_step(st) == SQLITE_ROW)
		t = (time_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return t;
}

int
meetings_tick(struct botu_db *db, const struct botu_conf *conf, time_t now,
    int *queued, time_t *next, char err[BOTU_ERRLEN])
{
	int hours = conf->meetings.reminder_hours, n = 0, rc = BOTU_OK;
	struct due *d = NULL;
	size_t nd = 0;

	*queued = 0;
	*next = 0;
	if (hours > 0) {
		if (due_list(db, now, hours, &d, &nd) != BOTU_OK) {
			snprintf(err, BOTU_ERRLEN, "cannot read the "
			    "invitations: %s", db_errmsg(db));
			due_free(d, nd);
			return BOTU_EDATA;
		}
		for (size_t i = 0; i < nd && rc == BOTU_OK; i++) {
			rc = remind_one(db, conf, &d[i], now, err);
			if (rc == BOTU_OK)
				(*queued)++;
		}
		due_free(d, nd);
		*next = next_reminder(db, now, hours);
	}
	if (rc == BOTU_OK)
		rc = meetings_sync(db, conf, 0, 0, now, &n, err);
	*queued += n;
	return rc;
}

/* ---- listings ---- */

/* ISO 8601 in the list's zone, with its offset: "2026-12-10T19:30+01:00". */
static void
iso_time(time_t t, const char *tz, char *out, size_t len)
{
	struct tm tm;
	long off;

	if (date_to_local(t, tz, &tm) != 0) {
		snprintf(out, len, "%lld", (long long)t);
		return;
	}
	off = tm.tm_gmtoff < 0 ? -tm.tm_gmtoff : tm.tm_gmtoff;
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d%c%02ld:%02ld",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_gmtoff < 0 ? '-' : '+', off / 3600,
	    off % 3600 / 60);
}

/* Who was invited and how they answered. */
struct counts {
	int64_t	invited, accepted, declined, tentative, no_answer;
};

/*
 * Copies that count: not withdrawn (a cancelled meeting counts them all)
 * and the member still active.
 */
static int
count_answers(struct botu_db *db, int64_t id, struct counts *c)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT count(*), coalesce(sum(i.partstat = 'ACCEPTED'), 0), "
	    "coalesce(sum(i.partstat = 'DECLINED'), 0), "
	    "coalesce(sum(i.partstat = 'TENTATIVE'), 0) "
	    "FROM meeting_invites i JOIN meetings m ON m.id = i.meeting_id "
	    "JOIN members mb ON mb.id = i.member_id WHERE i.meeting_id = ? "
	    "AND (i.cancelled = 0 OR m.status = 'cancelled') "
	    "AND mb.status = 'active'");
	int rc;

	memset(c, 0, sizeof(*c));
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		c->invited = sqlite3_column_int64(st, 0);
		c->accepted = sqlite3_column_int64(st, 1);
		c->declined = sqlite3_column_int64(st, 2);
		c->tentative = sqlite3_column_int64(st, 3);
		c->no_answer = c->invited - c->accepted - c->declined -
		    c->tentative;
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? BOTU_OK : BOTU_EDATA;
}

static void
json_meeting(struct buf *o, const struct botu_conf *conf,
    const struct meeting *m, const struct counts *c)
{
	char t[64];

	buf_addf(o, "{\"id\":%lld,\"title\":", (long long)m->id);
	buf_add_json(o, m->title);
	iso_time(m->start_at, conf->list.timezone, t, sizeof(t));
	buf_adds(o, ",\"start\":");
	buf_add_json(o, t);
	iso_time(m->end_at, conf->list.timezone, t, sizeof(t));
	buf_adds(o, ",\"end\":");
	buf_add_json(o, t);
	buf_adds(o, ",\"location\":");
	buf_add_json(o, m->location);
	buf_adds(o, ",\"audience\":");
	buf_add_json(o, m->audience);
	buf_adds(o, ",\"status\":");
	buf_add_json(o, m->status);
	buf_addf(o, ",\"sequence\":%d,\"invited\":%lld,\"accepted\":%lld,"
	    "\"declined\":%lld,\"tentative\":%lld,\"no_answer\":%lld",
	    m->sequence, (long long)c->invited, (long long)c->accepted,
	    (long long)c->declined, (long long)c->tentative,
	    (long long)c->no_answer);
}

/* Every meeting by start, as ids (owned, 0-ended). */
static int
all_ids(struct botu_db *db, int64_t **out)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT id FROM meetings ORDER BY start_at, id");
	int64_t *v = xcalloc(1, sizeof(*v));
	size_t n = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xrealloc(v, (n + 2) * sizeof(*v));
		v[n++] = sqlite3_column_int64(st, 0);
		v[n] = 0;
	}
	sqlite3_reset(st);
	*out = v;
	return rc == SQLITE_DONE ? BOTU_OK : BOTU_EDATA;
}

static void
text_meeting(struct buf *o, const struct botu_conf *conf,
    const struct meeting *m, const struct counts *c)
{
	char when[96];

	date_format(m->start_at, conf->list.timezone, "en", DATE_LONG, when,
	    sizeof(when));
	buf_addf(o, "%4lld  %-9s  %s  %s%s%s\n      invited %lld, accepted "
	    "%lld, declined %lld, tentative %lld, no answer %lld\n",
	    (long long)m->id, m->status, when, m->title,
	    strcmp(m->audience, "core") == 0 ? " (core team)" : "",
	    m->result[0] != '\0' ? " [result recorded]" : "",
	    (long long)c->invited, (long long)c->accepted,
	    (long long)c->declined, (long long)c->tentative,
	    (long long)c->no_answer);
}

int
meetings_write_list(struct botu_db *db, const struct botu_conf *conf,
    FILE *f, int json)
{
	int64_t *ids = NULL;
	struct meeting m;
	struct counts c;
	struct buf o;
	int rc, first = 1;

	buf_init(&o);
	rc = all_ids(db, &ids);
	if (json)
		buf_adds(&o, "[");
	for (int64_t *p = ids; rc == BOTU_OK && *p != 0; p++) {
		if (meetings_get(db, *p, &m) != 1 ||
		    count_answers(db, *p, &c) != BOTU_OK) {
			meeting_clear(&m);
			rc = BOTU_EDATA;
			break;
		}
		if (json) {
			buf_adds(&o, first ? "\n" : ",\n");
			json_meeting(&o, conf, &m, &c);
			buf_adds(&o, "}");
		} else
			text_meeting(&o, conf, &m, &c);
		first = 0;
		meeting_clear(&m);
	}
	if (json)
		buf_adds(&o, first ? "]\n" : "\n]\n");
	else if (first)
		buf_adds(&o, "no meetings\n");
	if (rc == BOTU_OK)
		fputs(o.s, f);
	buf_free(&o);
	free(ids);
	return rc;
}

/* The invitees of meeting id, for show. */
static int
write_invitees(struct botu_db *db, int64_t id, int json, struct buf *o)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT mb.email, mb.name, i.partstat, i.comment, "
	    "coalesce(i.answered_at, 0) FROM meeting_invites i "
	    "JOIN meetings m ON m.id = i.meeting_id "
	    "JOIN members mb ON mb.id = i.member_id WHERE i.meeting_id = ? "
	    "AND (i.cancelled = 0 OR m.status = 'cancelled') "
	    "AND mb.status = 'active' ORDER BY i.partstat, mb.email");
	int rc, first = 1;

	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!json) {
			buf_addf(o, "  %-36s %-12s%s%s%s\n",
			    db_col_text(st, 0), db_col_text(st, 2),
			    *db_col_text(st, 3) ? " \"" : "",
			    db_col_text(st, 3), *db_col_text(st, 3) ? "\"" :
			    "");
			continue;
		}
		buf_adds(o, first ? "{\"email\":" : ",{\"email\":");
		buf_add_json(o, db_col_text(st, 0));
		buf_adds(o, ",\"name\":");
		buf_add_json(o, db_col_text(st, 1));
		buf_adds(o, ",\"partstat\":");
		buf_add_json(o, db_col_text(st, 2));
		buf_adds(o, ",\"comment\":");
		buf_add_json(o, db_col_text(st, 3));
		buf_addf(o, ",\"answered_at\":%lld}",
		    (long long)sqlite3_column_int64(st, 4));
		first = 0;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? BOTU_OK : BOTU_EDATA;
}

static void
text_show(struct buf *o, const struct botu_conf *conf,
    const struct meeting *m, const struct counts *c)
{
	char when[96], until[96];

	date_format(m->start_at, conf->list.timezone, "en", DATE_LONG, when,
	    sizeof(when));
	date_format(m->end_at, conf->list.timezone, "en", DATE_LONG, until,
	    sizeof(until));
	buf_addf(o, "meeting %lld: %s\nwhen:      %s until %s\n"
	    "where:     %s\naudience:  %s\nstatus:    %s (SEQUENCE %d)\n",
	    (long long)m->id, m->title, when, until, m->location[0] ?
	    m->location : "-", strcmp(m->audience, "core") == 0 ?
	    "the core team" : "all members", m->status, m->sequence);
	if (m->description[0] != '\0')
		buf_addf(o, "about:     %s\n", m->description);
	buf_addf(o, "invited:   %lld\naccepted:  %lld\ndeclined:  %lld\n"
	    "tentative: %lld\nno answer: %lld\n", (long long)c->invited,
	    (long long)c->accepted, (long long)c->declined,
	    (long long)c->tentative, (long long)c->no_answer);
}

int
meetings_write_show(struct botu_db *db, const struct botu_conf *conf,
    int64_t id, FILE *f, int json)
{
	struct meeting m;
	struct counts c;
	struct buf o;
	int rc;

	rc = meetings_get(db, id, &m);
	if (rc <= 0)
		return rc < 0 ? BOTU_EDATA : BOTU_EPERM;
	buf_init(&o);
	rc = count_answers(db, id, &c);
	if (rc == BOTU_OK && json) {
		json_meeting(&o, conf, &m, &c);
		buf_adds(&o, ",\"description\":");
		buf_add_json(&o, m.description);
		buf_adds(&o, ",\"result\":");
		buf_add_json(&o, m.result);
		buf_addf(&o, ",\"result_at\":%lld,\"attendees\":[",
		    (long long)m.result_at);
		rc = write_invitees(db, id, 1, &o);
		buf_adds(&o, "]}\n");
	} else if (rc == BOTU_OK) {
		text_show(&o, conf, &m, &c);
		rc = write_invitees(db, id, 0, &o);
		if (m.result[0] != '\0')
			buf_addf(&o, "result:\n%s\n", m.result);
	}
	if (rc == BOTU_OK)
		fputs(o.s, f);
	buf_free(&o);
	meeting_clear(&m);
	return rc;
}

/* ---- the digest ---- */

int
meetings_upcoming(struct botu_db *db, time_t now, size_t limit,
    struct meeting **out, size_t *n)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT " MEETING_COLUMNS
	    " FROM meetings WHERE status = 'planned' AND start_at > ? "
	    "ORDER BY start_at, id LIMIT ?");
	struct meeting *v = NULL;
	size_t k = 0;
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 2, limit > 0 ? (sqlite3_int64)limit : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xrealloc(v, (k + 1) * sizeof(*v));
		meeting_from_row(st, &v[k++]);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		meetings_free(v, k);
		v = NULL;
		k = 0;
	}
	*out = v;
	*n = k;
	return rc == SQLITE_DONE ? BOTU_OK : BOTU_EDATA;
}

void
meetings_free(struct meeting *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		meeting_clear(&v[i]);
	free(v);
}

/*
 * The digest's "meetings" section (digest_fill_fn): the planned meetings
 * that start after to. Only those planned in (from, to] are news that
 * make an issue worth sending; the others are a reminder.
 */
int
meetings_digest_upcoming(struct botu_db *db, const struct botu_conf *conf,
    time_t from, time_t to, const char *lang, struct tmpl_vars *vars,
    int *items)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT " MEETING_COLUMNS
	    " FROM meetings WHERE status = 'planned' AND start_at > ? "
	    "ORDER BY start_at, id LIMIT ?");
	struct tmpl_vars *item;
	struct meeting m;
	char when[96];
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)to);
	sqlite3_bind_int(st, 2, DIGEST_MAX);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		meeting_from_row(st, &m);
		item = tmpl_add_item(vars, "meetings");
		tmpl_set(item, "title", m.title);
		date_format(m.start_at, conf->list.timezone, lang, DATE_LONG,
		    when, sizeof(when));
		tmpl_set(item, "when", when);
		if (m.location[0] != '\0')
			tmpl_set(item, "where", m.location);
		if (m.created_at > from && m.created_at <= to)
			(*items)++;
		meeting_clear(&m);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? BOTU_OK : BOTU_EDATA;
}

/*
 * The digest's "agreements" section (digest_fill_fn): the results
 * recorded in (from, to], in the order of their meetings.
 */
int
meetings_digest_agreements(struct botu_db *db, const struct botu_conf *conf,
    time_t from, time_t to, const char *lang, struct tmpl_vars *vars,
    int *items)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT title, start_at, result "
	    "FROM meetings WHERE result != '' AND result_at > ? AND "
	    "result_at <= ? ORDER BY start_at, id");
	struct tmpl_vars *item;
	char day[64];
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)to);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		item = tmpl_add_item(vars, "agreements");
		tmpl_set(item, "meeting", db_col_text(st, 0));
		date_format((time_t)sqlite3_column_int64(st, 1),
		    conf->list.timezone, lang, DATE_DAY, day, sizeof(day));
		tmpl_set(item, "when", day);
		tmpl_set(item, "text", db_col_text(st, 2));
		(*items)++;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? BOTU_OK : BOTU_EDATA;
}
