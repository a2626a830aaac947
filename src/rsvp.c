/* rsvp.c - see rsvp.h */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "botu/addr.h"
#include "botu/classify.h"
#include "botu/ical.h"
#include "botu/log.h"
#include "botu/meetings.h"
#include "botu/members.h"
#include "botu/rsvp.h"
#include "botu/textclean.h"
#include "botu/util.h"

/* The Reply-To detail of an invitation: "antwoord-" and its token. */
#define DETAIL_PREFIX "antwoord-"

static void
set(struct rsvp_decision *d, int act, const char *reason,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
set(struct rsvp_decision *d, int act, const char *reason, const char *fmt,
    ...)
{
	va_list ap;

	d->act = act;
	str_copy(d->reason, reason, sizeof(d->reason));
	va_start(ap, fmt);
	vsnprintf(d->action, sizeof(d->action), fmt, ap);
	va_end(ap);
}

/* What a PARTSTAT means, for people. */
static const char *
answer_word(const char *partstat)
{
	if (strcmp(partstat, "ACCEPTED") == 0)
		return "comes";
	if (strcmp(partstat, "DECLINED") == 0)
		return "does not come";
	if (strcmp(partstat, "TENTATIVE") == 0)
		return "may come";
	return "answered";
}

/*
 * The ATTENDEE of p that answers for the invitation sent to email: that
 * address; or the only ATTENDEE, when a calendar answers under another
 * of the member's addresses (Exchange writes the mailbox's primary
 * address). The UID already names the member. NULL: none.
 */
static const struct ical_attendee *
answering(const struct ical_parsed *p, const char *email)
{
	for (size_t i = 0; i < p->nattendees; i++)
		if (addr_equal(p->attendees[i].address, email))
			return &p->attendees[i];
	return p->nattendees == 1 ? &p->attendees[0] : NULL;
}

/*
 * 1 when address is not the invitation's but belongs to another member:
 * someone answering with their own calendar for a member whose
 * invitation they hold.
 */
static int
other_member(struct botu_db *db, const char *address,
    const struct meeting_invite *inv)
{
	struct member mb;
	int found, other;

	if (addr_equal(address, inv->email))
		return 0;
	found = members_get(db, address, &mb);
	other = found == 1 && mb.id != inv->member_id;
	if (found == 1)
		member_clear(&mb);
	return other;
}

/* Whether the reply may change what is recorded; if not, d says why. */
static int
counts(const struct ical_parsed *p, const struct meeting *m,
    const struct meeting_invite *inv, struct rsvp_decision *d)
{
	if (strcmp(m->status, "cancelled") == 0)
		set(d, 1, "an answer to a meeting that is cancelled",
		    "file it as done and change nothing");
	else if (inv->cancelled)
		set(d, 1, "an answer from someone no longer invited to this "
		    "meeting", "file it as done and change nothing");
	else if (p->sequence < m->answer_sequence)
		snprintf(d->reason, sizeof(d->reason), "an answer to an "
		    "earlier time or place of meeting %lld (SEQUENCE %d; "
		    "answers count from %d)", (long long)m->id, p->sequence,
		    m->answer_sequence);
	else if (p->dtstamp != 0 && p->dtstamp < inv->answer_stamp)
		snprintf(d->reason, sizeof(d->reason), "an older answer "
		    "than the one recorded (DTSTAMP)");
	else
		return 1;
	if (d->action[0] == '\0') {
		d->act = 1;
		snprintf(d->action, sizeof(d->action), "file it as done and "
		    "change nothing");
	}
	return 0;
}

/* A REPLY for one of botu's UIDs: record it, or say why not. */
static int
ours(struct botu_db *db, const struct message *msg,
    const struct ical_parsed *p, const struct meeting_invite *inv,
    int dry, struct rsvp_decision *d, char err[BOTU_ERRLEN])
{
	const struct ical_attendee *a = answering(p, inv->email);
	struct meeting m;
	char why[256];
	int rc = BOTU_OK;

	if (meetings_get(db, inv->meeting_id, &m) != 1) {
		snprintf(err, BOTU_ERRLEN, "cannot read meeting %lld: %s",
		    (long long)inv->meeting_id, db_errmsg(db));
		return BOTU_EDATA;
	}
	if (a == NULL || a->partstat[0] == '\0') {
		set(d, 0, a == NULL ? "an answer to botu's invitation that "
		    "names no attendee it can read" : "an answer to botu's "
		    "invitation without PARTSTAT", "leave it for a person");
		goto out;
	}
	if (other_member(db, a->address, inv)) {
		set(d, 0, "an answer to botu's invitation that names another "
		    "member as the attendee (RFC 2447 §2.2.1: nobody answers "
		    "for someone else)", "change nothing; leave it for a "
		    "person");
		goto out;
	}
	if (!counts(p, &m, inv, d))
		goto out;
	/* RFC 2447 §2.2.1: answers for others are refused; here the UID
	 * names the member, so another From only goes into the record. */
	snprintf(why, sizeof(why), "an answer to botu's invitation to "
	    "meeting %lld (its UID)%s%s", (long long)m.id,
	    addr_equal(msg->from.addr, inv->email) ? "" :
	    ", sent from another address: ", addr_equal(msg->from.addr,
	    inv->email) ? "" : log_addr(msg->from.addr));
	set(d, 1, why, "record that %s %s (%s)%s; never answer it",
	    log_addr(inv->email), answer_word(a->partstat), a->partstat,
	    p->comment[0] != '\0' ? ", with a comment" : "");
	if (!dry)
		rc = meetings_record_answer(db, inv->id, a->partstat,
		    p->comment, p->sequence, p->dtstamp, msg->from.addr,
		    msg->message_id);
	if (rc != BOTU_OK)
		snprintf(err, BOTU_ERRLEN, "cannot record the answer: %s",
		    db_errmsg(db));
out:
	meeting_clear(&m);
	return rc;
}

char *
rsvp_reply_detail(const char *uid)
{
	const char *dash = strrchr(uid, '-'), *at = strchr(uid, '@');
	char *t;

	if (strncmp(uid, "botu-", 5) != 0 || dash == NULL || at == NULL ||
	    at < dash)
		return NULL;
	t = xstrndup(dash + 1, (size_t)(at - dash - 1));
	if (!classify_is_token(t)) {
		free(t);
		return NULL;
	}
	free(t);
	return xasprintf(DETAIL_PREFIX "%.*s", (int)(at - dash - 1),
	    dash + 1);
}

/* The first words of an answer by mail and what they say. */
static const struct {
	const char	*word;
	const char	*partstat;
} words[] = {
	{ "ja", "ACCEPTED" }, { "jawel", "ACCEPTED" }, { "yes", "ACCEPTED" },
	{ "graag", "ACCEPTED" }, { "accept", "ACCEPTED" },
	{ "nee", "DECLINED" }, { "neen", "DECLINED" }, { "no", "DECLINED" },
	{ "helaas", "DECLINED" }, { "decline", "DECLINED" },
	{ "misschien", "TENTATIVE" }, { "wellicht", "TENTATIVE" },
	{ "maybe", "TENTATIVE" }, { "perhaps", "TENTATIVE" },
	{ "tentative", "TENTATIVE" },
};

/* The PARTSTAT word w says, or NULL. */
static const char *
word_partstat(const char *w, size_t n)
{
	for (size_t i = 0; i < NELEM(words); i++)
		if (strlen(words[i].word) == n &&
		    strncmp(words[i].word, w, n) == 0)
			return words[i].partstat;
	return NULL;
}

/*
 * The first word must say it; the first few words may say nothing else
 * ("ja, misschien" is for a person).
 */
const char *
rsvp_words(const char *own_words)
{
	char *core = text_core(own_words != NULL ? own_words : "");
	const char *p = core, *first = NULL, *ps;
	int k = 0;
	size_t n;

	while (*p != '\0' && k < 6) {
		n = strcspn(p, " \n");
		ps = word_partstat(p, n);
		if (k == 0 && ps == NULL)
			break;
		if (k == 0)
			first = ps;
		else if (ps != NULL && strcmp(ps, first) != 0) {
			first = NULL;
			break;
		}
		k++;
		p += n;
		p += strspn(p, " \n");
	}
	free(core);
	return first;
}

/* The invitation whose UID carries token. 1, 0 or BOTU_EDATA. */
static int
invite_by_token(struct botu_db *db, const char *token,
    struct meeting_invite *inv)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT uid FROM meeting_invites WHERE uid LIKE 'botu-%-' || ? "
	    "|| '@%'");
	char *uid = NULL;
	int rc;

	memset(inv, 0, sizeof(*inv));
	sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		uid = xstrdup(db_col_text(st, 0));
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? 0 : BOTU_EDATA;
	rc = meetings_invite_by_uid(db, uid, inv);
	free(uid);
	return rc;
}

/* From the member's own address: the invitation's, or their current. */
static int
from_member(struct botu_db *db, const struct message *msg,
    const struct meeting_invite *inv)
{
	struct member mb;
	int own;

	if (addr_equal(msg->from.addr, inv->email))
		return 1;
	if (members_get_id(db, inv->member_id, &mb) != 1)
		return 0;
	own = addr_equal(msg->from.addr, mb.email);
	member_clear(&mb);
	return own;
}

/* "ja", "nee", "misschien" by mail to the invitation's Reply-To. */
static int
by_mail(struct botu_db *db, const struct message *msg, const char *token,
    const char *own_words, int dry, struct rsvp_decision *d,
    char err[BOTU_ERRLEN])
{
	struct meeting_invite inv;
	struct meeting m = { 0 };
	const char *ps;
	int rc = BOTU_OK, found;

	found = invite_by_token(db, token, &inv);
	if (found < 0) {
		snprintf(err, BOTU_ERRLEN, "cannot look up the invitation: "
		    "%s", db_errmsg(db));
		return BOTU_ETEMP;
	}
	if (found == 0) {
		set(d, 0, "sent to an answer address of an invitation botu "
		    "does not know", "leave it for a person");
		return BOTU_OK;
	}
	if (!from_member(db, msg, &inv)) {
		set(d, 0, "an answer by mail to someone else's invitation: "
		    "From is not the invited member's address", "change "
		    "nothing; leave it for a person");
		goto out;
	}
	if ((ps = rsvp_words(own_words)) == NULL) {
		set(d, 0, "a mail to an invitation's answer address that "
		    "does not begin with ja, nee or misschien", "leave it for "
		    "a person");
		goto out;
	}
	if (meetings_get(db, inv.meeting_id, &m) != 1) {
		snprintf(err, BOTU_ERRLEN, "cannot read meeting %lld: %s",
		    (long long)inv.meeting_id, db_errmsg(db));
		rc = BOTU_EDATA;
		goto out;
	}
	if (strcmp(m.status, "cancelled") == 0 || inv.cancelled) {
		set(d, 1, "an answer by mail to a meeting that is cancelled "
		    "(for this member)", "file it as done and change nothing");
		goto out;
	}
	set(d, 1, "an answer by mail from the invited member",
	    "record that %s %s (%s); never answer it", log_addr(inv.email),
	    answer_word(ps), ps);
	if (!dry && meetings_record_answer(db, inv.id, ps, "", m.sequence,
	    time(NULL), msg->from.addr, msg->message_id) != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "cannot record the answer: %s",
		    db_errmsg(db));
		rc = BOTU_EDATA;
	}
out:
	meeting_clear(&m);
	meeting_invite_clear(&inv);
	return rc;
}

int
rsvp_decide(struct botu_db *db, const struct botu_conf *conf,
    const struct message *msg, const char *token, const char *own_words,
    int dry, struct rsvp_decision *d, char err[BOTU_ERRLEN])
{
	struct ical_parsed p;
	struct meeting_invite inv = { 0 };
	int rc = BOTU_OK, found;

	(void)conf;
	memset(d, 0, sizeof(*d));
	if (msg->calendar == NULL && token != NULL && token[0] != '\0') {
		if (db == NULL) {
			set(d, 0, "an answer by mail to an invitation; without "
			    "botu's database it cannot tell whose",
			    "leave it for a person");
			return BOTU_OK;
		}
		return by_mail(db, msg, token, own_words, dry, d, err);
	}
	if (msg->calendar == NULL || ical_parse(msg->calendar, &p) !=
	    BOTU_OK) {
		set(d, 0, "a calendar part botu cannot read",
		    "leave it for a person");
		return BOTU_OK;
	}
	if (strcmp(p.method, "REPLY") != 0 || p.uid[0] == '\0')
		set(d, 0, "not an iTIP REPLY with a UID",
		    "leave it for a person");
	else if (db == NULL)
		set(d, 0, "an answer to an invitation; without botu's "
		    "database it cannot tell whether botu sent it",
		    "leave it for a person");
	else if ((found = meetings_invite_by_uid(db, p.uid, &inv)) < 0) {
		snprintf(err, BOTU_ERRLEN, "cannot look up the invitation: "
		    "%s", db_errmsg(db));
		rc = BOTU_ETEMP;
	} else if (found == 0)
		set(d, 0, "an answer to an invitation botu did not send (not "
		    "one of its UIDs)", "leave it for a person");
	else
		rc = ours(db, msg, &p, &inv, dry, d, err);
	meeting_invite_clear(&inv);
	ical_parsed_clear(&p);
	return rc;
}
