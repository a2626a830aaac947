/*
 * smtp.c - see smtp.h. One libcurl easy handle per connection, reused
 * across mails (LIBRARIES.md §3.3); replies classified by §3.5.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "botu/log.h"
#include "botu/smtp.h"
#include "botu/util.h"
#include "smtp_internal.h"

/* Seconds. A dead server should not hold a sending thread for long. */
#define SMTP_CONNECT_TIMEOUT	20L
/*
 * No total timeout (it would cut a large mail on a slow line); instead a
 * transfer that moves nothing for this long is given up. RFC 5321
 * §4.5.3.2 allows servers 5-10 minutes per reply, but a content scan after
 * the final dot takes seconds, and a hung connection blocks one thread.
 */
#define SMTP_STALL_TIME		120L
/*
 * Reuse an idle connection only while it is younger than this: below
 * Postfix's smtpd_timeout (300 s) and the shorter limits of some
 * submission services, so a stale 421 (LIBRARIES.md §3.3) stays rare.
 */
#define SMTP_MAXAGE		60L

struct smtp_body {
	const char	*p;
	size_t		 len;
	size_t		 off;
};

struct smtp_conn {
	const struct botu_conf	*conf;		/* borrowed */
	CURL			*curl;
	const char		*host;		/* borrowed from conf */
	int			 port;
	int			 live;	/* libcurl keeps one open */
	struct timespec		 last_used;	/* CLOCK_MONOTONIC */
	struct smtp_trace	 trace;
	struct smtp_body	 body;
	char			 errbuf[CURL_ERROR_SIZE];
};

/* --- the protocol trace ------------------------------------------------ */

void
smtp_trace_reset(struct smtp_trace *t)
{
	t->stage = SMTP_STAGE_CONNECT;
	t->code = 0;
	t->reply[0] = '\0';
	t->quit = 0;
}

/* Copies one line for the log or a result; controls become '?'. */
static void
copy_line(char *dst, size_t dstsz, const char *s, size_t n)
{
	size_t i, j = 0;

	for (i = 0; i < n && j + 1 < dstsz; i++) {
		unsigned char ch = (unsigned char)s[i];

		dst[j++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	dst[j] = '\0';
}

static int
has_prefix(const char *s, size_t n, const char *prefix)
{
	size_t plen = strlen(prefix);

	return n >= plen && strncasecmp(s, prefix, plen) == 0;
}

static int
is_word(const char *s, size_t n, const char *word)
{
	return n == strlen(word) && has_prefix(s, n, word);
}

static void
trace_in(struct smtp_trace *t, const char *s, size_t n)
{
	char line[BOTU_ERRLEN];

	/* libcurl says QUIT after a refusal: keep the refusal. */
	if (t->quit) {
		if (log_debug_enabled()) {
			copy_line(line, sizeof(line), s, n);
			log_mask_line(line, sizeof(line));
			log_debug("smtp %s: < %s", t->host, line);
		}
		return;
	}
	copy_line(t->reply, sizeof(t->reply), s, n);
	if (n >= 3 && isdigit((unsigned char)s[0]) &&
	    isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]))
		t->code = (s[0] - '0') * 100 + (s[1] - '0') * 10 +
		    (s[2] - '0');
	else
		t->code = 0;
	if (log_debug_enabled()) {
		str_copy(line, t->reply, sizeof(line));
		log_mask_line(line, sizeof(line));
		log_debug("smtp %s: < %s", t->host, line);
	}
}

/*
 * A command line: moves the stage. "AUTH mech initial-response" and every
 * line after it until MAIL FROM (the SASL exchange, RFC 4954 §4) carry
 * base64 credentials: they are neither copied nor logged.
 */
static void
trace_out(struct smtp_trace *t, const char *s, size_t n)
{
	char line[BOTU_ERRLEN];

	if (has_prefix(s, n, "AUTH ")) {
		t->stage = SMTP_STAGE_AUTH;
		if (log_debug_enabled())
			log_debug("smtp %s: > AUTH [redacted]", t->host);
		return;
	}
	if (has_prefix(s, n, "MAIL FROM:"))
		t->stage = SMTP_STAGE_MAIL;
	else if (t->stage == SMTP_STAGE_AUTH) {
		if (log_debug_enabled())
			log_debug("smtp %s: > [redacted]", t->host);
		return;
	} else if (has_prefix(s, n, "EHLO ") || has_prefix(s, n, "HELO ") ||
	    is_word(s, n, "STARTTLS"))
		t->stage = SMTP_STAGE_CONNECT;
	else if (has_prefix(s, n, "RCPT TO:"))
		t->stage = SMTP_STAGE_RCPT;
	else if (is_word(s, n, "DATA"))
		t->stage = SMTP_STAGE_DATA;
	else if (is_word(s, n, "QUIT"))
		t->quit = 1;
	if (log_debug_enabled()) {
		copy_line(line, sizeof(line), s, n);
		log_mask_line(line, sizeof(line));
		log_debug("smtp %s: > %s", t->host, line);
	}
}

static void
trace_text(struct smtp_trace *t, const char *s, size_t n)
{
	char line[BOTU_ERRLEN];

	if (!log_debug_enabled())
		return;
	copy_line(line, sizeof(line), s, n);
	log_debug("smtp %s: * %s", t->host, line);
}

void
smtp_trace_feed(struct smtp_trace *t, enum smtp_dir dir, const char *data,
    size_t len)
{
	const char *p = data, *end = data + len, *nl;
	size_t n;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > 0 || nl == NULL) {
			if (dir == SMTP_DIR_IN)
				trace_in(t, p, n);
			else if (dir == SMTP_DIR_OUT)
				trace_out(t, p, n);
			else
				trace_text(t, p, n);
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

/* --- classification (LIBRARIES.md §3.5) -------------------------------- */

/* "rate" starting a word: "rate limit", "ratelimited", not "generated". */
static int
mentions_rate(const char *s)
{
	for (const char *p = s; *p != '\0'; p++) {
		if (strncasecmp(p, "rate", 4) != 0)
			continue;
		if (p == s || !isalpha((unsigned char)p[-1]))
			return 1;
	}
	return 0;
}

int
smtp_rate_limited(int code, const char *reply)
{
	const char *p = reply;

	if (code == 421)
		return 1;
	if (code < 400 || code > 499)
		return 0;
	/* RFC 3463 §3.8: 4.7.x is a policy status, where rate limits live. */
	if (strlen(p) >= 4 && (p[3] == ' ' || p[3] == '-'))
		p += 4;
	if (strncmp(p, "4.7.", 4) == 0)
		return 1;
	return mentions_rate(reply) || strcasestr(reply, "too many") != NULL;
}

int
smtp_stale(int rc, long code, enum smtp_stage stage, int reused)
{
	if (!reused)
		return 0;
	/* Only before the server has accepted anything of this mail. */
	if (stage != SMTP_STAGE_CONNECT && stage != SMTP_STAGE_MAIL)
		return 0;
	if (rc == CURLE_SEND_ERROR || rc == CURLE_WEIRD_SERVER_REPLY)
		return code == 421 || code < 400 || code > 599;
	return rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING;
}

static const char *
stage_name(enum smtp_stage stage)
{
	switch (stage) {
	case SMTP_STAGE_CONNECT:
		return "connect";
	case SMTP_STAGE_AUTH:
		return "AUTH";
	case SMTP_STAGE_MAIL:
		return "MAIL FROM";
	case SMTP_STAGE_RCPT:
		return "RCPT TO";
	default:
		return "DATA";
	}
}

/* A 4xx or 5xx reply that libcurl turned into 55 or 8. */
static void
classify_reply(long code, const struct smtp_trace *t, struct smtp_result *res)
{
	res->stage = t->stage;
	res->code = (int)code;
	if (t->reply[0] != '\0')
		str_copy(res->text, t->reply, sizeof(res->text));
	else
		snprintf(res->text, sizeof(res->text), "%ld at %s", code,
		    stage_name(t->stage));
	if (code < 500) {
		res->outcome = SMTP_TEMP;
		res->rate_limited = smtp_rate_limited((int)code, t->reply);
	} else if (t->stage == SMTP_STAGE_RCPT ||
	    t->stage == SMTP_STAGE_DATA)
		res->outcome = SMTP_PERM;
	else
		/* Refused at AUTH, MAIL FROM or the greeting: about us. */
		res->outcome = SMTP_OURS;
}

/* A CURLcode that says TLS or the configuration is wrong: text for it. */
static int
classify_ours(int rc, const struct smtp_trace *t, const char *host,
    int port, const char *err, struct smtp_result *res)
{
	char *text;

	switch (rc) {
	case CURLE_LOGIN_DENIED:
		res->stage = SMTP_STAGE_AUTH;
		res->code = t->code >= 400 ? t->code : 0;
		/* No 4xx/5xx seen: libcurl found no mechanism to use. */
		text = xasprintf("%s refused the login (%s); check [smtp] "
		    "username, auth and the password", host,
		    t->code >= 400 ? t->reply : err);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		text = xasprintf("the server's certificate is not trusted for "
		    "%s: %s; check [smtp] host, or if the server uses a "
		    "private CA, set [smtp] ca_file", host, err);
		break;
	case CURLE_SSL_CONNECT_ERROR:
		text = xasprintf("no TLS connection with %s:%d: %s; check "
		    "[smtp] security and port (tls: 465, starttls: 587)", host,
		    port, err);
		break;
	case CURLE_USE_SSL_FAILED:
		text = xasprintf("%s:%d did not start TLS (%s); botu sends "
		    "nothing unencrypted: use security = tls on port 465 if "
		    "the server offers it", host, port,
		    t->code >= 400 ? t->reply : "no STARTTLS offered");
		break;
	case CURLE_SSL_CACERT_BADFILE:
		text = xasprintf("cannot use [smtp] ca_file: %s", err);
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		text = xasprintf("cannot use [smtp] host %s: %s", host, err);
		break;
	default:
		return 0;
	}
	res->outcome = SMTP_OURS;
	str_copy(res->text, text, sizeof(res->text));
	free(text);
	return 1;
}

void
smtp_classify(int rc, long code, const struct smtp_trace *t,
    const char *host, int port, const char *curlerr,
    struct smtp_result *res)
{
	const char *err = curlerr != NULL && curlerr[0] != '\0' ? curlerr :
	    curl_easy_strerror((CURLcode)rc);

	memset(res, 0, sizeof(*res));
	res->stage = SMTP_STAGE_CONNECT;
	if (rc == CURLE_OK) {
		res->outcome = SMTP_SENT;
		res->stage = t->stage;
		res->code = (int)code;
		str_copy(res->text, t->reply, sizeof(res->text));
		return;
	}
	/* Only these two carry a fresh reply code (curl/curl#8356). */
	if ((rc == CURLE_SEND_ERROR || rc == CURLE_WEIRD_SERVER_REPLY) &&
	    code >= 400 && code <= 599) {
		classify_reply(code, t, res);
		return;
	}
	if (classify_ours(rc, t, host, port, err, res))
		return;
	/* Network trouble: the mail may go later, the code means nothing. */
	res->outcome = SMTP_TEMP;
	if (t->stage == SMTP_STAGE_CONNECT)
		snprintf(res->text, sizeof(res->text), "cannot reach %s:%d: "
		    "%s; check [smtp] host and port if this lasts", host, port,
		    err);
	else
		snprintf(res->text, sizeof(res->text), "connection to %s:%d "
		    "lost at %s: %s", host, port, stage_name(t->stage), err);
}

char *
smtp_url_new(const struct botu_conf *conf)
{
	const struct conf_server *s = &conf->smtp.srv;
	const char *at = strrchr(conf->list.address, '@');
	/* The URL path is the EHLO name (LIBRARIES.md §3.1). */
	const char *ehlo = at != NULL && at[1] != '\0' ? at + 1 : "localhost";
	int v6 = strchr(s->host, ':') != NULL;

	return xasprintf("%s://%s%s%s:%d/%s",
	    s->security == SEC_TLS ? "smtps" : "smtp", v6 ? "[" : "",
	    s->host, v6 ? "]" : "", conf_port(s, 1), ehlo);
}

/* --- the connection ---------------------------------------------------- */

static size_t
body_read(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct smtp_body *b = arg;
	size_t want = size * nmemb, left = b->len - b->off;

	if (want > left)
		want = left;
	if (want == 0)
		return 0;
	memcpy(buf, b->p + b->off, want);
	b->off += want;
	return want;
}

static int
on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
	struct smtp_conn *c = arg;

	(void)h;
	/* The body (DATA_OUT) and raw TLS records are never looked at. */
	if (type == CURLINFO_HEADER_IN)
		smtp_trace_feed(&c->trace, SMTP_DIR_IN, data, size);
	else if (type == CURLINFO_HEADER_OUT)
		smtp_trace_feed(&c->trace, SMTP_DIR_OUT, data, size);
	else if (type == CURLINFO_TEXT && log_debug_enabled())
		smtp_trace_feed(&c->trace, SMTP_DIR_TEXT, data, size);
	return 0;
}

static void
set_tls(CURL *h, const struct conf_server *s)
{
	/*
	 * STARTTLS is mandatory: CURLUSESSL_TRY silently sent plaintext
	 * (LIBRARIES.md §3.1). Peer and host verification are libcurl's
	 * defaults and are never turned off.
	 */
	if (s->security == SEC_NONE)
		curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_NONE);
	else
		curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (s->ca_file != NULL && s->ca_file[0] != '\0') {
		/* ca_file replaces the system's store, not adds to it. */
		curl_easy_setopt(h, CURLOPT_CAINFO, s->ca_file);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}
}

struct smtp_conn *
smtp_conn_new(const struct botu_conf *conf)
{
	struct smtp_conn *c = xcalloc(1, sizeof(*c));
	char *url = smtp_url_new(conf);
	CURL *h;

	c->conf = conf;
	c->host = conf->smtp.srv.host;
	c->port = conf_port(&conf->smtp.srv, 1);
	c->trace.host = c->host;
	smtp_trace_reset(&c->trace);
	if ((h = curl_easy_init()) == NULL)
		fatalx("curl_easy_init failed");
	c->curl = h;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	set_tls(h, &conf->smtp.srv);
	/* The daemon ignores SIGPIPE itself; the resolver is threaded. */
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, SMTP_CONNECT_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, SMTP_STALL_TIME);
	curl_easy_setopt(h, CURLOPT_MAXAGE_CONN, SMTP_MAXAGE);
	/* One connection: a replaced one (new token) is closed at once. */
	curl_easy_setopt(h, CURLOPT_MAXCONNECTS, 1L);
	/* The reply text only reaches us through the debug callback. */
	curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
	curl_easy_setopt(h, CURLOPT_DEBUGDATA, c);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, body_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &c->body);
	free(url);
	return c;
}

void
smtp_conn_free(struct smtp_conn *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);	/* sends QUIT on a kept connection */
	free(c);
}

static double
seconds_since(const struct timespec *then)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - then->tv_sec) +
	    (double)(now.tv_nsec - then->tv_nsec) / 1e9;
}

/*
 * Hands the secret to libcurl (which copies it) when it will log in anew,
 * so a password_command that prints fresh OAuth2 tokens is run once per
 * connection, not per mail. Fills res and returns -1 when there is none.
 */
static int
set_secret(struct smtp_conn *c, struct smtp_result *res)
{
	const struct conf_server *s = &c->conf->smtp.srv;
	char err[BOTU_ERRLEN], *secret = NULL;

	if (s->username[0] == '\0')
		return 0;
	/* A margin, so libcurl never logs in anew with an old token. */
	if (c->live && seconds_since(&c->last_used) < SMTP_MAXAGE - 5)
		return 0;
	if (conf_secret(s, &secret, err) != BOTU_OK) {
		res->outcome = SMTP_OURS;
		res->stage = SMTP_STAGE_AUTH;
		snprintf(res->text, sizeof(res->text), "no [smtp] secret: %s",
		    err);
		return -1;
	}
	curl_easy_setopt(c->curl, CURLOPT_USERNAME, s->username);
	if (s->auth == AUTH_XOAUTH2)
		curl_easy_setopt(c->curl, CURLOPT_XOAUTH2_BEARER, secret);
	else
		curl_easy_setopt(c->curl, CURLOPT_PASSWORD, secret);
	explicit_bzero(secret, strlen(secret));
	free(secret);
	return 0;
}

/* One curl_easy_perform(); *reused says it went over a kept connection. */
static int
perform(struct smtp_conn *c, const char *data, size_t len, long *code,
    int *reused)
{
	long nconn = -1;
	int was_live = c->live;
	CURLcode rc;

	smtp_trace_reset(&c->trace);
	c->errbuf[0] = '\0';
	c->body.p = data;
	c->body.len = len;
	c->body.off = 0;
	curl_easy_setopt(c->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	rc = curl_easy_perform(c->curl);
	*code = 0;
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, code);
	curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &nconn);
	*reused = was_live && nconn == 0;
	/*
	 * libcurl keeps the connection after success and after a refused
	 * final dot, and closes it after anything else (LIBRARIES.md §3.3).
	 */
	c->live = rc == CURLE_OK || (rc == CURLE_WEIRD_SERVER_REPLY &&
	    c->trace.stage == SMTP_STAGE_DATA);
	clock_gettime(CLOCK_MONOTONIC, &c->last_used);
	return rc;
}

/* An envelope address libcurl can put between <> as it is. */
static int
envelope_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '<' ||
		    *s == '>')
			return 0;
	return 1;
}

int
smtp_send(struct smtp_conn *c, const char *from, const char *rcpt,
    const char *data, size_t len, struct smtp_result *res)
{
	struct curl_slist *rcpts = NULL;
	char *fromv = NULL, *rcptv = NULL;
	long code = 0;
	int rc, reused;

	memset(res, 0, sizeof(*res));
	if (!envelope_ok(from)) {
		res->outcome = SMTP_OURS;
		res->stage = SMTP_STAGE_MAIL;
		str_copy(res->text, "invalid envelope sender",
		    sizeof(res->text));
		goto out;
	}
	if (rcpt[0] == '\0' || !envelope_ok(rcpt)) {
		res->outcome = SMTP_PERM;
		res->stage = SMTP_STAGE_RCPT;
		str_copy(res->text, "invalid recipient address",
		    sizeof(res->text));
		goto out;
	}
	if (set_secret(c, res) < 0)
		goto out;
	fromv = xasprintf("<%s>", from);
	rcptv = xasprintf("<%s>", rcpt);
	if ((rcpts = curl_slist_append(NULL, rcptv)) == NULL)
		fatalx("curl_slist_append failed");
	curl_easy_setopt(c->curl, CURLOPT_MAIL_FROM, fromv);
	curl_easy_setopt(c->curl, CURLOPT_MAIL_RCPT, rcpts);
	rc = perform(c, data, len, &code, &reused);
	if (smtp_stale(rc, code, c->trace.stage, reused)) {
		/* No automatic retry for SMTP in libcurl (§3.3): once, now. */
		log_debug("smtp %s: kept connection was dead (%d, %ld), "
		    "sending again on a new one", c->host, rc, code);
		if (set_secret(c, res) < 0)
			goto out;
		curl_easy_setopt(c->curl, CURLOPT_FRESH_CONNECT, 1L);
		rc = perform(c, data, len, &code, &reused);
		curl_easy_setopt(c->curl, CURLOPT_FRESH_CONNECT, 0L);
	}
	smtp_classify(rc, code, &c->trace, c->host, c->port, c->errbuf, res);
out:
	/* The list is not copied by libcurl: unhook it before freeing. */
	curl_easy_setopt(c->curl, CURLOPT_MAIL_RCPT, NULL);
	curl_slist_free_all(rcpts);
	free(fromv);
	free(rcptv);
	return BOTU_OK;
}

/*
 * libcurl closes a CONNECT_ONLY connection without QUIT; say it ourselves
 * (RFC 5321 §4.1.1.10), through TLS, and do not wait for the 221.
 */
static void
say_quit(struct smtp_conn *c)
{
	size_t sent = 0;

	if (curl_easy_send(c->curl, "QUIT\r\n", 6, &sent) == CURLE_OK)
		log_debug("smtp %s: > QUIT", c->host);
}

int
smtp_check(const struct botu_conf *conf, char err[BOTU_ERRLEN])
{
	struct smtp_conn *c = NULL;
	struct smtp_result res;
	long code = 0;
	int rc, reused, ret = BOTU_ECONFIG;

	memset(&res, 0, sizeof(res));
	if (conf_require_smtp(conf, err) < 0)
		return BOTU_ECONFIG;
	c = smtp_conn_new(conf);
	if (set_secret(c, &res) < 0) {
		str_copy(err, res.text, BOTU_ERRLEN);
		goto out;
	}
	/* Greeting, EHLO, STARTTLS and AUTH, then stop before MAIL. */
	curl_easy_setopt(c->curl, CURLOPT_CONNECT_ONLY, 1L);
	rc = perform(c, "", 0, &code, &reused);
	smtp_classify(rc, code, &c->trace, c->host, c->port, c->errbuf, &res);
	if (res.outcome == SMTP_SENT)
		say_quit(c);
	if (res.outcome == SMTP_SENT)
		ret = BOTU_OK;
	else if (rc == CURLE_LOGIN_DENIED)
		ret = BOTU_EAUTH;
	else if (res.outcome == SMTP_TEMP)
		ret = BOTU_ECONN;
	if (ret != BOTU_OK)
		str_copy(err, res.text, BOTU_ERRLEN);
out:
	smtp_conn_free(c);
	return ret;
}

static pthread_once_t smtp_once = PTHREAD_ONCE_INIT;

static void
smtp_init_once(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
}

void
smtp_global_init(void)
{
	pthread_once(&smtp_once, smtp_init_once);
}
