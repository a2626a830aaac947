/* sendtest.c - see sendtest.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "botu/addr.h"
#include "botu/compose.h"
#include "botu/imap.h"
#include "botu/mailout.h"
#include "botu/message.h"
#include "botu/msgworker.h"
#include "botu/sendtest.h"
#include "botu/smtp.h"
#include "botu/template.h"
#include "botu/token.h"
#include "botu/util.h"
#include "botu/verp.h"

#define DONE_KEYWORD "$BotuDone"
#define POLL_MS 500

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The test mail, composed: its bytes in b, its Message-ID in *mid. */
static int
compose_test(const struct botu_conf *conf, const char *to,
    const char *token, struct buf *b, char **mid, char *err)
{
	const char *langs[] = { conf_languages[conf->list.language], "en",
	    NULL };
	struct tmpl_vars *vars = tmpl_vars_new();
	struct tmpl_mail tm = { 0 };
	struct outgoing o = { .to = to,
	    .auto_submitted = COMPOSE_AUTO_GENERATED };
	int rc;

	*mid = compose_message_id(addr_domain(conf));
	mailout_list_vars(conf, vars, NULL);
	tmpl_set(vars, "token", token);
	rc = tmpl_mail_render(tmpl_dir(conf->list.templates), langs,
	    "send-test", vars, &tm, err);
	if (rc == BOTU_OK) {
		o.subject = tm.subject;
		o.text = tm.text;
		o.html = tm.html;
		rc = compose(conf, &o, *mid, time(NULL), b, err);
	}
	tmpl_mail_clear(&tm);
	tmpl_vars_free(vars);
	return rc;
}

/* The bounce address with id 0; the key is made (and kept) if need be. */
static int
test_envelope(struct botu_db *db, const struct botu_conf *conf, char **out,
    char *err)
{
	int rc = db_begin(db);

	if (rc == BOTU_OK)
		rc = verp_address(db, conf, 0, out);
	if (rc == BOTU_OK)
		rc = db_commit(db);
	if (rc != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "cannot keep the bounce key: %s",
		    db_errmsg(db));
		db_rollback(db);
	}
	return rc;
}

static int
send_it(const struct botu_conf *conf, const char *from, const char *to,
    const struct buf *b, char *err)
{
	struct smtp_conn *c = smtp_conn_new(conf);
	struct smtp_result res;

	smtp_send(c, from, to, b->s, b->len, &res);
	smtp_conn_free(c);
	if (res.outcome == SMTP_SENT)
		return BOTU_OK;
	snprintf(err, BOTU_ERRLEN, "the SMTP server did not take the test "
	    "mail: %s", res.text);
	return res.outcome == SMTP_TEMP ? BOTU_ETEMP : BOTU_EPERM;
}

/* Polls for the mail with Message-ID mid above after_uid; 0: none. */
static int
wait_for(struct imap *im, uint32_t after_uid, const char *mid,
    double deadline, uint32_t *uid, char *err)
{
	for (;;) {
		struct imap_msginfo *info = NULL;
		size_t n = 0;
		int rc = imap_list(im, after_uid, &info, &n, err);

		if (rc != BOTU_OK)
			return rc;
		*uid = 0;
		for (size_t i = 0; i < n && *uid == 0; i++)
			if (info[i].message_id != NULL &&
			    strcmp(info[i].message_id, mid) == 0)
				*uid = info[i].uid;
		imap_msginfo_free(info, n);
		if (*uid != 0 || now_s() > deadline)
			return BOTU_OK;
		{
			struct timespec ts = { 0, POLL_MS * 1000000L };

			nanosleep(&ts, NULL);
		}
		/* NOOP: some servers report new mail only on a command */
		if ((rc = imap_noop(im, err)) != BOTU_OK)
			return rc;
	}
}

/* "<a@b>" or "a@b" -> a@b into out. */
static void
bare(char *out, size_t len, const char *v)
{
	char *a = str_trim(xstrdup(v != NULL ? v : ""));
	size_t n = strlen(a);

	if (n > 1 && a[0] == '<' && a[n - 1] == '>') {
		a[n - 1] = '\0';
		str_copy(out, a + 1, len);
	} else
		str_copy(out, a, len);
	free(a);
}

/* "spf=pass" in an Authentication-Results value: the result word. */
static void
auth_result(const char *value, const char *method, char *out, size_t len)
{
	size_t n = strlen(method);

	out[0] = '\0';
	for (const char *p = strcasestr(value, method); p != NULL;
	    p = strcasestr(p + 1, method))
		if ((p == value || strchr(" \t;", p[-1]) != NULL) &&
		    p[n] == '=') {
			size_t k = strcspn(p + n + 1, " \t;()");

			if (k >= len)
				k = len - 1;
			memcpy(out, p + n + 1, k);
			out[k] = '\0';
			str_lower(out);
			return;
		}
}

static void
inspect(const struct message *m, struct sendtest_result *r)
{
	static const char *const envelope[] = { "Delivered-To",
	    "X-Original-To", "Envelope-To", NULL };
	const char *v;

	for (size_t i = 0; envelope[i] != NULL && !r->detail_kept; i++)
		for (const struct msg_header *h = NULL;
		    (h = message_header_next(m, envelope[i], h)) != NULL;) {
			char a[320];

			bare(a, sizeof(a), h->value);
			if (r->delivered_to[0] == '\0')
				str_copy(r->delivered_to, a,
				    sizeof(r->delivered_to));
			if (addr_equal(a, r->address)) {
				r->detail_kept = 1;
				str_copy(r->delivered_to, a,
				    sizeof(r->delivered_to));
				break;
			}
		}
	bare(r->return_path, sizeof(r->return_path), m->return_path);
	r->envelope = addr_equal(r->return_path, r->verp);
	/* The topmost one is the receiving server's own (RFC 8601 §5). */
	if ((v = message_header(m, "Authentication-Results")) != NULL) {
		r->has_authres = 1;
		auth_result(v, "spf", r->spf, sizeof(r->spf));
		auth_result(v, "dkim", r->dkim, sizeof(r->dkim));
		auth_result(v, "dmarc", r->dmarc, sizeof(r->dmarc));
	}
}

/* Reads the test mail, then files it away. */
static int
read_and_file(const struct botu_conf *conf, struct imap *im,
    uint32_t uid, struct sendtest_result *r, char *err)
{
	struct msgworker *w;
	struct message m = { 0 };
	char *data = NULL;
	size_t len = 0;
	int rc;

	rc = imap_fetch(im, uid, msgworker_default_limits.max_size, &data,
	    &len, err);
	if (rc != BOTU_OK)
		return rc;
	w = msgworker_new("/proc/self/exe", &msgworker_default_limits);
	rc = msgworker_parse(w, data, len, &m, err);
	msgworker_free(w);
	free(data);
	if (rc != BOTU_OK)
		return rc;
	inspect(&m, r);
	message_clear(&m);
	rc = BOTU_EPERM;
	if (conf->imap.done_mailbox[0] != '\0' &&
	    imap_ensure_mailbox(im, conf->imap.done_mailbox, err) == BOTU_OK)
		rc = imap_move(im, uid, conf->imap.done_mailbox, err);
	if (rc == BOTU_EPERM)
		rc = imap_add_keyword(im, uid, DONE_KEYWORD, err);
	r->removed = rc == BOTU_OK;
	return rc == BOTU_ECONN ? rc : BOTU_OK;
}

static int
store(struct botu_db *db, const struct sendtest_result *r)
{
	char now[32], auth[128];
	int rc;

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	snprintf(auth, sizeof(auth), "spf=%s dkim=%s dmarc=%s",
	    r->spf[0] ? r->spf : "-", r->dkim[0] ? r->dkim : "-",
	    r->dmarc[0] ? r->dmarc : "-");
	rc = db_begin(db);
	if (rc == BOTU_OK)
		rc = db_state_set(db, SENDTEST_AT_STATE, now);
	if (rc == BOTU_OK)
		rc = db_state_set(db, SENDTEST_PLUS_STATE, r->arrived ? "yes" :
		    "no");
	if (rc == BOTU_OK)
		rc = db_state_set(db, SENDTEST_ENVELOPE_STATE, !r->arrived ?
		    "unknown" : r->envelope ? "yes" : "no");
	if (rc == BOTU_OK)
		rc = db_state_set(db, SENDTEST_AUTH_STATE, r->has_authres ?
		    auth : "");
	if (rc == BOTU_OK)
		rc = db_state_set(db, VERP_WORKS_STATE, r->arrived &&
		    r->envelope ? "yes" : "no");
	if (rc == BOTU_OK)
		rc = db_commit(db);
	if (rc != BOTU_OK)
		db_rollback(db);
	return rc;
}

int
sendtest_run(const struct botu_conf *conf, struct botu_db *db,
    int timeout_s, struct sendtest_result *r)
{
	struct imap_mailbox box;
	struct imap *im = NULL;
	struct buf b;
	char *token = token_new(TOKEN_BITS), *detail, *to, *from = NULL;
	char *mid = NULL;
	uint32_t uid = 0;
	double start;
	int rc;

	memset(r, 0, sizeof(*r));
	buf_init(&b);
	detail = xasprintf("test-%s", token);
	to = addr_plus(conf, detail);
	str_copy(r->address, to, sizeof(r->address));
	rc = test_envelope(db, conf, &from, r->err);
	if (rc == BOTU_OK) {
		str_copy(r->verp, from, sizeof(r->verp));
		rc = compose_test(conf, to, token, &b, &mid, r->err);
	}
	/* The mailbox first: only mail after this UID is looked at. */
	if (rc == BOTU_OK) {
		im = imap_new(conf);
		rc = imap_connect(im, r->err);
		if (rc == BOTU_OK)
			rc = imap_select(im, conf->imap.mailbox, &box, r->err);
	}
	if (rc == BOTU_OK) {
		rc = send_it(conf, from, to, &b, r->err);
		r->sent = rc == BOTU_OK;
	}
	start = now_s();
	if (rc == BOTU_OK)
		rc = wait_for(im, box.uidnext > 0 ? box.uidnext - 1 : 0, mid,
		    start + timeout_s, &uid, r->err);
	r->seconds = now_s() - start;
	if (rc == BOTU_OK && uid != 0) {
		r->arrived = 1;
		rc = read_and_file(conf, im, uid, r, r->err);
	}
	if (r->sent && store(db, r) != BOTU_OK && rc == BOTU_OK) {
		snprintf(r->err, BOTU_ERRLEN, "cannot store the result: %s",
		    db_errmsg(db));
		rc = BOTU_EDATA;
	}
	if (im != NULL && rc != BOTU_ECONN)
		imap_logout(im);
	else
		imap_free(im);
	buf_free(&b);
	free(mid);
	free(from);
	free(to);
	free(detail);
	free(token);
	return rc;
}
