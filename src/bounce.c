/* bounce.c - see bounce.h */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "botu/bounce.h"
#include "botu/util.h"

#define MAX_RCPTS 200		/* per report; more is not a bounce */
#define DIAG_MAX 300		/* octets of diagnostic kept */
#define ADDR_MAX 320

/* ---- words ---- */

/* Any of words in s, without case. */
static int
has_any(const char *s, const char *const *words)
{
	for (size_t i = 0; s != NULL && words[i] != NULL; i++)
		if (strcasestr(s, words[i]) != NULL)
			return 1;
	return 0;
}

/*
 * Refusals that say the sender must do something first: challenge-
 * response filters and whitelists. Not a dead address: nothing to count.
 */
static const char *const challenge_words[] = {
	"requires confirmation", "confirm this mail server", "whitelist",
	"white list", "waitlisted", "guest list", "not pre-approved",
	"allowed list", "verify your", "verification link",
	"challenge", "boxbe", "bluebottle", NULL,
};

/* About our sender address, login or authentication (RFC 7372). */
static const char *const ours_words[] = {
	"mail from", "sender address", "sender rejected", "sender domain",
	"sender verify", "sender policy framework", "spf", "dkim", "dmarc",
	"authentication", "not authorized to send", "auth ", NULL,
};

/* ... and the part of them that no other reading shares. */
static const char *const sender_words[] = {
	"mail from", "sender address", "sender rejected", "sender domain",
	"sender verify", "not authorized to send", NULL,
};

static const char *const policy_words[] = {
	"spam", "blocked", "blacklist", "blocklist", "block list", "dnsbl",
	"rbl", "reputation", "policy", "virus", "content rejected",
	"not accepting mail with", "too large", "too big", "size limit",
	"message size", "exceeds the maximum size", "maximum message size",
	"relay", "not permitted", "access denied", "administrative",
	"prohibited", NULL,
};

static const char *const soft_words[] = {
	"quota", "mailbox full", "mailbox is full", "mailfolder is full",
	"box is full", "space not enough", "insufficient", "exceed",
	"too much mail", "storage", "temporar", "try again",
	"not been collected", NULL,
};

static const char *const hard_words[] = {
	"user unknown", "unknown user", "no such user", "no such mailbox",
	"no such recipient", "no such address", "nosuchuser", "no mailbox",
	"mailbox unavailable", "mailbox not found", "user not found",
	"recipient not found", "address not found", "does not exist",
	"doesn't exist", "not exist", "invalid recipient", "invalid mailbox",
	"invalid address", "invalid final delivery", "recipient unknown",
	"unknown recipient", "addressee unknown", "address unknown",
	"unknown or illegal", "not listed", "not recognized",
	"no longer valid", "no longer active", "illegal user",
	"account disabled", "account has been disabled", "discontinued",
	"not a valid user", "unrouteable address", "unknown host",
	"host unknown", "no such domain", "domain does not exist",
	"final email delivery point", "doesn't have a", "wrong or no longer",
	"not known", "user doesn't", "invalid mailbox", NULL,
};

/* A delay, not a failure: the MTA keeps trying. */
static const char *const warning_words[] = {
	"not yet been delivered", "warning message only", "just a warning",
	"has been delayed", "will be retried", "attempts will continue",
	"continue to attempt", "will continue trying", "will keep trying",
	"no action is required", "delivery is delayed", "still trying",
	"will retry", "will be tried again", NULL,
};

/* An auto-reply's subject (not a report even from a mailer daemon). */
static const char *const autoreply_subjects[] = {
	"automatic reply", "auto reply", "autoreply", "auto-reply", "auto:",
	"automatic response", "automatisch antwoord", "out of office",
	"out of the office", "afwezig", "vacation", "abwesenheit",
	"réponse automatique", "thank you for your e-mail",
	"thank you for your email", "thank you for your message", NULL,
};

static const char *const bounce_subjects[] = {
	"undeliverable", "undelivered", "undeliverable mail",
	"delivery status notification", "delivery failure",
	"delivery failed", "delivery problem", "delivery has failed",
	"delivery report", "delivery notification", "mail delivery",
	"returned mail", "failure notice", "failed mail", "non-delivery",
	"nondeliverable", "non delivery", "mail system error",
	"could not be delivered", "permanent delivery failure",
	"returned to sender", "returning message", "mail failed",
	"mail error", "processing error", "user unknown",
	"unzustellbar", "onbestelbaar", "niet bezorgd", "non remis",
	"non recapitabile", "no se puede entregar", NULL,
};

const char *
bounce_class_name(enum bounce_class c)
{
	static const char *const names[] = {
		[BOUNCE_HARD] = "hard",
		[BOUNCE_SOFT] = "soft",
		[BOUNCE_OURS] = "ours",
		[BOUNCE_POLICY] = "policy",
		[BOUNCE_COMPLAINT] = "complaint",
	};

	return (size_t)c < NELEM(names) ? names[c] : "?";
}

/* ---- status codes ---- */

int
bounce_find_status(const char *text, char *out, size_t len)
{
	/* RFC 3463: class "." subject "." detail, 1-3 digits each */
	for (const char *p = text; p != NULL && *p != '\0'; p++) {
		const char *q = p;
		size_t n;

		if ((*p != '2' && *p != '4' && *p != '5') || p[1] != '.' ||
		    (p > text && (isalnum((unsigned char)p[-1]) ||
		    p[-1] == '.')))
			continue;
		q = p + 2;
		n = strspn(q, "0123456789");
		if (n < 1 || n > 3 || q[n] != '.')
			continue;
		q += n + 1;
		n = strspn(q, "0123456789");
		if (n < 1 || n > 3 || isalnum((unsigned char)q[n]) ||
		    (q[n] == '.' && isalnum((unsigned char)q[n + 1])))
			continue;
		q += n;
		if ((size_t)(q - p) >= len)
			return 0;
		memcpy(out, p, (size_t)(q - p));
		out[q - p] = '\0';
		return 1;
	}
	return 0;
}

/* "5.1.10" -> 5, 1, 10; -1 for what is not there. */
static void
split_status(const char *st, int *cls, int *sub, int *det)
{
	char *end;

	*cls = *sub = *det = -1;
	if (st == NULL || !isdigit((unsigned char)st[0]))
		return;
	*cls = st[0] - '0';
	if (st[1] != '.')
		return;
	*sub = (int)strtol(st + 2, &end, 10);
	if (*end == '.')
		*det = (int)strtol(end + 1, NULL, 10);
}

enum bounce_class
bounce_classify(const char *status, const char *text)
{
	char st[16] = "";
	int cls, sub, det;

	if (status != NULL && status[0] != '\0')
		str_copy(st, status, sizeof(st));
	else if (text != NULL)
		bounce_find_status(text, st, sizeof(st));
	split_status(st, &cls, &sub, &det);
	if (cls == 4)
		return BOUNCE_SOFT;
	if (cls == 5 && sub == 1 && (det == 7 || det == 8))
		return BOUNCE_OURS;
	if (cls == 5 && sub == 7) {
		/* RFC 7372 §3: SPF, DKIM, DMARC, reverse DNS; and 5.7.30,
		 * the provider's "basic authentication is not supported" */
		if ((det >= 20 && det <= 27) || det == 30 ||
		    has_any(text, ours_words))
			return BOUNCE_OURS;
		return BOUNCE_POLICY;
	}
	if (cls == 5 && sub == 1 && (det == 1 || det == 2 || det == 3 ||
	    det == 6 || det == 10))
		return BOUNCE_HARD;
	if (cls == 5 && sub == 2 && det == 1)
		return BOUNCE_HARD;
	if (cls == 5 && sub == 2 && det == 2)
		return BOUNCE_SOFT;
	if (cls == 5 && (sub == 4 || sub == 6 || (sub == 2 && det == 3) ||
	    (sub == 3 && det == 4)))
		return BOUNCE_POLICY;
	/* The code says too little (5.0.0, 5.5.x, none): the words. */
	if (cls == 5 && has_any(text, sender_words))
		return BOUNCE_OURS;
	if (has_any(text, policy_words))
		return BOUNCE_POLICY;
	if (has_any(text, soft_words))
		return BOUNCE_SOFT;
	if (has_any(text, hard_words))
		return BOUNCE_HARD;
	return BOUNCE_SOFT;
}

/* ---- the report being built ---- */

static int
known(const struct bounce_report *r, const char *addr)
{
	for (size_t i = 0; i < r->nrcpts; i++)
		if (strcasecmp(r->rcpts[i].address, addr) == 0)
			return 1;
	return 0;
}

/* The words of s on one line, at most DIAG_MAX octets; owned. */
static char *
one_line(const char *s)
{
	struct buf b;
	int space = 0;

	buf_init(&b);
	for (; s != NULL && *s != '\0' && b.len < DIAG_MAX; s++) {
		if (isspace((unsigned char)*s)) {
			space = b.len > 0;
			continue;
		}
		if (space)
			buf_addc(&b, ' ');
		space = 0;
		buf_addc(&b, *s);
	}
	return buf_detach(&b);
}

static void
add_rcpt(struct bounce_report *r, const char *addr, const char *action,
    const char *status, const char *diag)
{
	struct bounce_rcpt *p;

	if (known(r, addr) || r->nrcpts >= MAX_RCPTS)
		return;
	r->rcpts = xrealloc(r->rcpts, (r->nrcpts + 1) * sizeof(*r->rcpts));
	p = &r->rcpts[r->nrcpts++];
	memset(p, 0, sizeof(*p));
	p->address = xstrdup(addr);
	p->diagnostic = one_line(diag);
	str_copy(p->action, action, sizeof(p->action));
	if (status != NULL && status[0] != '\0')
		str_copy(p->status, status, sizeof(p->status));
	else
		bounce_find_status(p->diagnostic, p->status,
		    sizeof(p->status));
	p->cls = strcmp(action, "complaint") == 0 ? BOUNCE_COMPLAINT :
	    bounce_classify(p->status, p->diagnostic);
}

void
bounce_report_clear(struct bounce_report *r)
{
	for (size_t i = 0; i < r->nrcpts; i++) {
		free(r->rcpts[i].address);
		free(r->rcpts[i].diagnostic);
	}
	free(r->rcpts);
	strv_free(r->message_ids);
	strv_free(r->returned_to);
	memset(r, 0, sizeof(*r));
}

/* ---- header blocks: fields by name, unfolded ---- */

/*
 * Calls fn for each field of a header block (RFC 5322 §2.2.3 unfolding;
 * the block ends at an empty line unless all_blocks). The value is
 * trimmed.
 */
static void
each_field(const char *text, int all_blocks,
    void (*fn)(const char *name, const char *value, int block, void *),
    void *arg)
{
	struct buf field;
	int block = 0;

	buf_init(&field);
	for (const char *p = text; p != NULL && *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		int empty = n == 0 || (n == 1 && p[0] == '\r');

		if (!empty && (p[0] == ' ' || p[0] == '\t') && field.len > 0) {
			buf_addc(&field, ' ');
			buf_add(&field, p, n);
		} else {
			if (field.len > 0) {
				char *colon = strchr(field.s, ':');

				if (colon != NULL) {
					*colon = '\0';
					fn(str_trim(field.s),
					    str_trim(colon + 1), block, arg);
				}
			}
			buf_truncate(&field, 0);
			if (empty) {
				if (!all_blocks)
					break;
				block++;
			} else
				buf_add(&field, p, n);
		}
		p = nl != NULL ? nl + 1 : NULL;
	}
	if (field.len > 0) {
		char *colon = strchr(field.s, ':');

		if (colon != NULL) {
			*colon = '\0';
			fn(str_trim(field.s), str_trim(colon + 1), block, arg);
		}
	}
	buf_free(&field);
}

/* "<id@host>" from a Message-ID value (the first <...>). */
static void
add_msgid(char ***ids, const char *v)
{
	const char *lt = strchr(v, '<'), *gt;
	char *id;

	if (lt == NULL || (gt = strchr(lt, '>')) == NULL || gt - lt < 3 ||
	    gt - lt > 250 || memchr(lt, '@', (size_t)(gt - lt)) == NULL)
		return;
	id = xstrndup(lt, (size_t)(gt - lt + 1));
	for (size_t i = 0; *ids != NULL && (*ids)[i] != NULL; i++)
		if (strcmp((*ids)[i], id) == 0) {
			free(id);
			return;
		}
	*ids = strv_add(*ids, id);
	free(id);
}

/* The bare address of a header value: "Name <a@b>" or "a@b"; owned. */
static char *
bare_address(const char *v)
{
	const char *lt = strrchr(v, '<'), *gt;
	char *a;

	if (lt != NULL && (gt = strchr(lt, '>')) != NULL)
		a = xstrndup(lt + 1, (size_t)(gt - lt - 1));
	else {
		const char *semi = strchr(v, ';');

		a = xstrdup(semi != NULL ? semi + 1 : v);
	}
	str_trim(a);
	if (!str_is_address(a)) {
		free(a);
		return NULL;
	}
	return a;
}

static void
returned_field(const char *name, const char *value, int block, void *arg)
{
	struct bounce_report *r = arg;
	char *a;

	(void)block;
	if (strcasecmp(name, "Message-ID") == 0)
		add_msgid(&r->message_ids, value);
	else if (strcasecmp(name, "To") == 0 &&
	    (a = bare_address(value)) != NULL) {
		r->returned_to = strv_add(r->returned_to, a);
		free(a);
	}
}

/* "Message-ID: <...>" lines in the copy of a returned mail in the text. */
static void
text_msgids(struct bounce_report *r, const char *text)
{
	for (const char *p = text; p != NULL && *p != '\0';) {
		const char *nl = strchr(p, '\n'), *q = p;

		while (*q == ' ' || *q == '\t' || *q == '>')
			q++;
		if (strncasecmp(q, "Message-ID:", 11) == 0) {
			char *line = nl != NULL ? xstrndup(q, (size_t)(nl - q))
			    : xstrdup(q);

			add_msgid(&r->message_ids, line + 11);
			free(line);
		}
		p = nl != NULL ? nl + 1 : NULL;
	}
}

/* ---- RFC 3464 ---- */

struct dsn_rcpt {
	char	 orig[ADDR_MAX];
	char	 final[ADDR_MAX];
	char	 action[32];
	char	 status[32];
	struct buf diag;
	int	 has_orig;
	int	 has_final;
};

struct dsn_state {
	struct bounce_report *r;
	struct dsn_rcpt	 cur;
	int		 block;
	int		 blocks;	/* per-recipient blocks seen */
	int		 delayed;	/* delay reports not listed */
};

/* "rfc822; <a@b>" (or "<a@b>") -> "a@b" when it is a usable address. */
static void
dsn_address(char *out, const char *value)
{
	const char *semi = strchr(value, ';');
	char *a;

	out[0] = '\0';
	/* Without the address type some MTAs write just the address. */
	if (semi != NULL && strncasecmp(value, "rfc822", 6) != 0)
		return;
	a = str_trim(xstrdup(semi != NULL ? semi + 1 : value));
	if (a[0] == '<' && a[strlen(a) - 1] == '>') {
		a[strlen(a) - 1] = '\0';
		memmove(a, a + 1, strlen(a));
	}
	if (str_is_address(a))
		str_copy(out, a, ADDR_MAX);
	free(a);
}

/* A recipient block is complete: list it if it failed. */
static void
dsn_flush(struct dsn_state *s)
{
	struct dsn_rcpt *c = &s->cur;
	const char *addr = c->orig[0] != '\0' ? c->orig : c->final;
	char action[32];

	if (!c->has_orig && !c->has_final)
		goto out;
	s->blocks++;
	str_copy(action, c->action, sizeof(action));
	action[strcspn(action, " \t(;")] = '\0';
	str_lower(action);
	if (addr[0] == '\0' || has_any(c->diag.s, challenge_words))
		goto out;
	/* "failure" and "error" are what some MTAs wrote instead */
	if (strcmp(action, "failed") == 0 || strcmp(action, "failure") == 0 ||
	    strcmp(action, "error") == 0)
		add_rcpt(s->r, addr, "failed", c->status, c->diag.s);
	else if (strcmp(action, "delayed") == 0) {
		/* A full mailbox is news about the member; a slow route is
		 * not about anyone (RFC 3463: X.2.X mailbox, X.4.X network). */
		if (strncmp(c->status, "4.2.", 4) == 0)
			add_rcpt(s->r, addr, "delayed", c->status, c->diag.s);
		else
			s->delayed++;
	}
out:
	buf_free(&c->diag);
	memset(c, 0, sizeof(*c));
	buf_init(&c->diag);
}

static void
dsn_field(const char *name, const char *value, int block, void *arg)
{
	struct dsn_state *s = arg;
	struct dsn_rcpt *c = &s->cur;
	int orig = strcasecmp(name, "Original-Recipient") == 0;
	int final = strcasecmp(name, "Final-Recipient") == 0;

	if (block != s->block) {
		dsn_flush(s);
		s->block = block;
	}
	/* No blank line between two recipients: a second one starts anew. */
	if ((final && c->has_final) || (orig && c->has_orig))
		dsn_flush(s);
	if (orig) {
		c->has_orig = 1;
		dsn_address(c->orig, value);
	} else if (final) {
		c->has_final = 1;
		dsn_address(c->final, value);
	} else if (strcasecmp(name, "Action") == 0 &&
	    (c->has_orig || c->has_final || block > 0))
		str_copy(c->action, value, sizeof(c->action));
	else if (strcasecmp(name, "Status") == 0) {
		char st[16];

		if (bounce_find_status(value, st, sizeof(st)))
			str_copy(c->status, st, sizeof(c->status));
	} else if (strcasecmp(name, "Diagnostic-Code") == 0) {
		const char *semi = strchr(value, ';');

		buf_adds(&c->diag, semi != NULL ? semi + 1 : value);
	}
}

/*
 * Returns 0 when the part had recipient blocks (listed or not), -1 when
 * it had none (a broken report: the text may say more).
 */
static int
parse_dsn(const char *dsn, struct bounce_report *r)
{
	struct dsn_state s;

	memset(&s, 0, sizeof(s));
	s.r = r;
	buf_init(&s.cur.diag);
	each_field(dsn, 1, dsn_field, &s);
	dsn_flush(&s);
	buf_free(&s.cur.diag);
	if (s.blocks == 0)
		return -1;
	r->format = BOUNCE_FORMAT_DSN;
	if (r->nrcpts == 0 && s.delayed > 0)
		r->warning = 1;
	return 0;
}

/* ---- RFC 5965 ---- */

struct arf_state {
	char	type[32];
	char	rcpt[ADDR_MAX];
};

static void
arf_field(const char *name, const char *value, int block, void *arg)
{
	struct arf_state *s = arg;
	char *a;

	(void)block;
	if (strcasecmp(name, "Feedback-Type") == 0)
		str_copy(s->type, value, sizeof(s->type));
	else if ((strcasecmp(name, "Original-Rcpt-To") == 0 ||
	    strcasecmp(name, "Removal-Recipient") == 0) && s->rcpt[0] == '\0' &&
	    (a = bare_address(value)) != NULL) {
		str_copy(s->rcpt, a, sizeof(s->rcpt));
		free(a);
	}
}

static void
parse_arf(const char *feedback, struct bounce_report *r)
{
	struct arf_state s = { "", "" };

	each_field(feedback, 1, arf_field, &s);
	str_lower(s.type);
	s.type[strcspn(s.type, " \t;")] = '\0';
	/* abuse and fraud are complaints; auth-failure (DMARC forensic
	 * reports), not-spam and virus are not about the recipient. */
	if (strcmp(s.type, "abuse") != 0 && strcmp(s.type, "fraud") != 0)
		return;
	r->format = BOUNCE_FORMAT_ARF;
	if (s.rcpt[0] == '\0' && r->returned_to != NULL)
		str_copy(s.rcpt, r->returned_to[0], sizeof(s.rcpt));
	if (s.rcpt[0] != '\0')
		add_rcpt(r, s.rcpt, "complaint", "", s.type);
}

/* ---- reports in words ---- */

static int
local_is(const char *addr, const char *const *locals)
{
	const char *at = strrchr(addr, '@');
	size_t n = at != NULL ? (size_t)(at - addr) : strlen(addr);

	for (size_t i = 0; locals[i] != NULL; i++)
		if (strlen(locals[i]) == n &&
		    strncasecmp(addr, locals[i], n) == 0)
			return 1;
	return 0;
}

static const char *const daemon_locals[] = {
	"mailer-daemon", "mailer_daemon", "maildaemon", "mail-daemon",
	"postmaster", "post_master", "poostmaster", "mdaemon", NULL,
};

static int
daemon_sender(const struct message *m)
{
	static const char *const names[] = { "mail delivery",
	    "mailer-daemon", "mailer daemon", "postmaster",
	    "mail administrator", "delivery subsystem", NULL };

	return local_is(m->from.addr, daemon_locals) ||
	    has_any(m->from.name, names);
}

int
bounce_looks_like(const struct message *m)
{
	if (m->dsn != NULL || m->feedback != NULL)
		return 1;
	/* anywhere in the subject: "Re:" does not hide an auto-reply */
	if (has_any(m->subject, autoreply_subjects))
		return 0;
	return daemon_sender(m) || has_any(m->subject, bounce_subjects);
}

static int
ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), k = strlen(tail);

	return n >= k && strcasecmp(s + n - k, tail) == 0;
}

/* A line that begins the copy of the returned mail. */
static int
returned_copy_starts(const char *line, size_t n)
{
	static const char *const phrases[] = { "original message",
	    "returned message", "returned mail", "copy of the message",
	    "copy of your message", "message header", "header of the original",
	    "message text follows", "unsent message", "undelivered message",
	    "message reads", "mensaje original", "original mail",
	    "source mail", "copy of the original", "headers of the original",
	    "start of returned", NULL };
	static const char *const headers[] = { "Return-Path:", "Received:",
	    "Delivered-To:", "X-Original-To:", "Message-ID:",
	    "DKIM-Signature:", "MIME-Version:", NULL };
	char *l = xstrndup(line, n), *t;
	int hit = 0, framed;

	for (size_t i = 0; headers[i] != NULL && !hit; i++)
		hit = strncasecmp(l, headers[i], strlen(headers[i])) == 0;
	t = str_trim(l);
	framed = strspn(t, "-|*=_~") > 1 || ends_with(t, "follows") ||
	    ends_with(t, "follows.") || ends_with(t, "follows:") ||
	    ends_with(t, "below") || ends_with(t, "below:") ||
	    ends_with(t, "(in part):") || strcasestr(t, "below this line") ||
	    strcasestr(t, "below the next line") ||
	    strcasestr(t, " is a copy") != NULL;
	if (!hit && framed && has_any(t, phrases))
		hit = 1;
	free(l);
	return hit;
}

/* Where an address in a line may not be a failed recipient. */
static int
excluded_context(const char *line, const char *at_addr)
{
	static const char *const fields[] = { "from:", "to:", "cc:",
	    "sender:", "reply-to:", "return-path:", "errors-to:",
	    "message-id:", "in-reply-to:", "references:", "subject:",
	    "envelope-from", "x-postfix-sender", NULL };
	static const char *const before[] = { "mail from", "contact",
	    "send mail to", "sent by", "questions", "mailto:", "://",
	    "envelope-from", "envelope from", "sender", "from:", "from <",
	    NULL };
	const char *s = line;
	size_t pre = (size_t)(at_addr - line);
	char *head;
	int hit;

	while (*s == ' ' || *s == '\t')
		s++;
	for (size_t i = 0; fields[i] != NULL; i++)
		if (strncasecmp(s, fields[i], strlen(fields[i])) == 0)
			return 1;
	/* The words just before the address on its line. */
	head = xstrndup(line + (pre > 40 ? pre - 40 : 0), pre > 40 ? 40 : pre);
	hit = has_any(head, before);
	free(head);
	return hit;
}

static const char *const generated_words[] = { "generated from",
    "expanded from", NULL };

static int
addr_char(int c, int local)
{
	if (isalnum(c) || c == '.' || c == '-' || c == '_')
		return 1;
	return local && c != '\0' && strchr("!#$%&'*+/=?^`{|}~", c) != NULL;
}

/*
 * The next address in s at or after *pos: [*start, *end). 0 when none.
 */
static int
next_address(const char *s, size_t *pos, size_t *start, size_t *end)
{
	for (const char *at = strchr(s + *pos, '@'); at != NULL;
	    at = strchr(at + 1, '@')) {
		const char *a = at, *e = at + 1;

		while (a > s && addr_char((unsigned char)a[-1], 1))
			a--;
		/* quotes around an address are not part of it */
		while (*a == '.' || *a == '\'' || *a == '`')
			a++;
		while (addr_char((unsigned char)*e, 0))
			e++;
		while (e > at + 1 && (e[-1] == '.' || e[-1] == '-'))
			e--;
		if (a == at || e == at + 1)
			continue;
		*start = (size_t)(a - s);
		*end = (size_t)(e - s);
		*pos = *end;
		return 1;
	}
	return 0;
}

struct text_scan {
	const struct message	*m;
	struct bounce_report	*r;
	char			**own;		/* the report's own addresses */
	char			**generated;	/* "generated from" ones */
	int			 failure;	/* words of a failure seen */
};

static int
is_own(const struct text_scan *t, const char *a)
{
	for (size_t i = 0; t->own != NULL && t->own[i] != NULL; i++)
		if (strcasecmp(t->own[i], a) == 0)
			return 1;
	return local_is(a, daemon_locals) || local_is(a, (const char *[]){
	    "abuse", "hostmaster", "root", NULL });
}

/* The addresses the report itself came from and went to. */
static char **
own_addresses(const struct message *m)
{
	static const char *const names[] = { "From", "Sender", "To", "Cc",
	    "Reply-To", "Errors-To", "Return-Path", "Delivered-To", NULL };
	char **v = NULL;

	for (size_t i = 0; names[i] != NULL; i++)
		for (const struct msg_header *h = NULL;
		    (h = message_header_next(m, names[i], h)) != NULL;) {
			size_t pos = 0, a, e;

			while (next_address(h->value, &pos, &a, &e)) {
				char *addr = xstrndup(h->value + a, e - a);

				v = strv_add(v, addr);
				free(addr);
			}
		}
	if (m->from.addr[0] != '\0')
		v = strv_add(v, m->from.addr);
	return v;
}

/* The paragraph from line on (up to an empty line), as diagnostic. */
static char *
paragraph(const char *line, const char *end)
{
	const char *p = line, *stop = strstr(line, "\n\n");

	if (stop == NULL || stop > end)
		stop = end;
	if ((size_t)(stop - p) > DIAG_MAX)
		stop = p + DIAG_MAX;
	return xstrndup(p, (size_t)(stop - p));
}

/* "A message sent by" on the line before: the sender follows. */
static int
prev_says_sender(const char *prev)
{
	const char *nl;
	char *l;
	int hit;

	if (prev == NULL)
		return 0;
	nl = strchr(prev, '\n');
	l = str_trim(nl != NULL ? xstrndup(prev, (size_t)(nl - prev)) :
	    xstrdup(prev));
	l[strcspn(l, ":")] = '\0';
	hit = ends_with(l, "sent by") || ends_with(l, "from") ||
	    ends_with(l, "contact");
	free(l);
	return hit;
}

static void
scan_line(struct text_scan *t, const char *line, size_t n, const char *prev,
    const char *end)
{
	char *l = xstrndup(line, n);
	size_t pos = 0, a, e;

	while (next_address(l, &pos, &a, &e)) {
		char *addr = xstrndup(l + a, e - a), *diag;

		if (!str_is_address(addr) || is_own(t, addr) ||
		    excluded_context(l, l + a) ||
		    (a == strspn(l, " \t<>") && prev_says_sender(prev))) {
			free(addr);
			continue;
		}
		if (has_any(l, generated_words)) {
			t->generated = strv_add(t->generated, addr);
			free(addr);
			continue;
		}
		diag = paragraph(line, end);
		add_rcpt(t->r, addr, "failed", "", diag);
		free(diag);
		free(addr);
	}
	free(l);
}

/*
 * AOL names its own members by screen name alone ("mykewlaolacct"): the
 * indented words after "the following recipients" are name@aol.com.
 */
static void
scan_aol(struct text_scan *t, const char *text, const char *end)
{
	const char *at = strrchr(t->m->from.addr, '@');
	const char *p = strcasestr(text, "following recipients");

	if (at == NULL || strcasecmp(at + 1, "aol.com") != 0 || p == NULL ||
	    p > end || (p = strchr(p, '\n')) == NULL)
		return;
	for (p++; p < end && (*p == ' ' || *p == '\t');) {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		char *w = str_trim(xstrndup(p, n)), *addr;

		if (w[0] != '\0' && strspn(w, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == strlen(w)) {
			addr = xasprintf("%s@aol.com", w);
			str_lower(addr);
			if (str_is_address(addr))
				add_rcpt(t->r, addr, "failed", "", p);
			free(addr);
		}
		free(w);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

static const char *const failure_words[] = {
	"could not be delivered", "couldn't be delivered", "undeliverable",
	"not delivered", "was not delivered", "failed", "failure", "unknown",
	"no such", "does not exist", "rejected", "unable to deliver",
	"permanent", "error", "quota", "not listed", "did not reach",
	"invalid", "not found", "cannot be delivered", "could not deliver",
	"wasn't able to deliver", "not able to deliver", "no mailbox",
	"not accepting", "full", "not valid", "not been delivered",
	"no longer valid", "not known", "delivery problem", NULL,
};

static void
parse_text(const struct message *m, struct bounce_report *r)
{
	const char *text = m->text, *end, *prev = NULL;
	struct text_scan t = { m, r, NULL, NULL, 0 };
	struct buf notice;

	/* The notice is what comes before the copy of the returned mail. */
	for (end = text; *end != '\0';) {
		const char *nl = strchr(end, '\n');
		size_t n = nl != NULL ? (size_t)(nl - end) : strlen(end);

		if (returned_copy_starts(end, n))
			break;
		end = nl != NULL ? nl + 1 : end + n;
	}
	buf_init(&notice);
	buf_add(&notice, text, (size_t)(end - text));
	if (has_any(notice.s, challenge_words)) {
		buf_free(&notice);
		return;
	}
	if (has_any(notice.s, warning_words) ||
	    has_any(m->subject, (const char *[]){ "(delay)", "delayed",
	    "warning: could not send", NULL })) {
		r->format = BOUNCE_FORMAT_TEXT;
		r->warning = 1;
		buf_free(&notice);
		return;
	}
	if (!has_any(notice.s, failure_words)) {
		buf_free(&notice);
		return;
	}
	r->format = BOUNCE_FORMAT_TEXT;
	t.own = own_addresses(m);
	for (const char *p = notice.s; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);

		scan_line(&t, p, n, prev, notice.s + notice.len);
		if (n > 0 && strspn(p, " \t") < n)
			prev = p;
		p = nl != NULL ? nl + 1 : p + n;
	}
	scan_aol(&t, notice.s, notice.s + notice.len);
	/* "an undisclosed address (generated from x@y)": only then x@y. */
	for (size_t i = 0; r->nrcpts == 0 && t.generated != NULL &&
	    t.generated[i] != NULL; i++)
		add_rcpt(r, t.generated[i], "failed", "", notice.s);
	strv_free(t.own);
	strv_free(t.generated);
	buf_free(&notice);
}

/* ---- the report ---- */

void
bounce_parse(const struct message *m, struct bounce_report *out)
{
	memset(out, 0, sizeof(*out));
	if (m->returned_headers != NULL)
		each_field(m->returned_headers, 0, returned_field, out);
	if (m->attached_headers != NULL)
		each_field(m->attached_headers, 0, returned_field, out);
	if (m->text != NULL)
		text_msgids(out, m->text);
	if (m->feedback != NULL) {
		parse_arf(m->feedback, out);
		return;
	}
	if (m->dsn != NULL && parse_dsn(m->dsn, out) == 0)
		return;
	if (bounce_looks_like(m) && m->text != NULL)
		parse_text(m, out);
}
