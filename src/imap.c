/*
 * imap.c - see imap.h. The only file that includes libetpan's IMAP
 * headers; LIBRARIES.md §1 lists the 1.9.4 pitfalls handled here.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <libetpan/libetpan.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "botu/imap.h"
#include "botu/log.h"
#include "botu/tls.h"
#include "botu/util.h"

/* Inactivity limit of every read and write, and of connect(2) (§1.2). */
#define IMAP_TIMEOUT_S		60
/*
 * How long "+ idling" may take. libetpan 1.9.4 waits for it until the
 * stream times out when untagged data comes first (§1.7 bug 2), so the
 * wait is kept short; the caller reconnects and lists.
 */
#define IMAP_IDLE_START_TIMEOUT_S 10
/* LOGOUT on the way out may not hold the daemon up longer than this. */
#define IMAP_LOGOUT_TIMEOUT_S	5
/* A dead peer is noticed after about idle + intvl * cnt seconds. */
#define IMAP_KEEPIDLE_S		60
#define IMAP_KEEPINTVL_S	20
#define IMAP_KEEPCNT		3
/* Longest server line the debug trace shows. */
#define IMAP_TRACE_SHOWN	300
/* A Message-ID longer than this is no Message-ID (RFC 5322 §2.1.1). */
#define IMAP_MSGID_MAX		998

struct imap {
	const struct botu_conf	*conf;	/* borrowed */
	mailimap		*mi;	/* NULL: not connected */
	char			*host;	/* for SNI and messages */
	int			 in_auth; /* the trace hides what we send */
	struct buf		 trace;	/* a server line in pieces */
	size_t			 trace_literal; /* octets not to show */
	const sigset_t		*waitmask; /* the caller's, for ppoll() */
};

/* ---- small helpers ---- */

/* libetpan's constructors return NULL on out-of-memory, like malloc. */
static void *
need(void *p)
{
	if (p == NULL)
		fatalx("out of memory");
	return p;
}

static void
need_append(clist *list, void *item)
{
	if (clist_append(list, item) < 0)
		fatalx("out of memory");
}

static int
is_ip_literal(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 ||
	    inet_pton(AF_INET6, host, a) == 1;
}

/* The server's text for err: one line, controls replaced. */
static void
said(const struct imap *im, char *out, size_t outlen)
{
	const char *s = im->mi != NULL ? im->mi->imap_response : NULL;
	size_t i;

	if (s == NULL || s[0] == '\0')
		s = "(no text)";
	for (i = 0; i + 1 < outlen && s[i] != '\0'; i++)
		out[i] = (unsigned char)s[i] < 0x20 ||
		    (unsigned char)s[i] == 0x7f ? '?' : s[i];
	out[i] = '\0';
}

/* Drops the connection at once: no LOGOUT, no waiting (§1.2). */
static void
drop(struct imap *im)
{
	if (im->mi == NULL)
		return;
	if (im->mi->imap_stream != NULL) {
		mailstream_close(im->mi->imap_stream);
		im->mi->imap_stream = NULL;
	}
	mailimap_free(im->mi);
	im->mi = NULL;
	buf_truncate(&im->trace, 0);
	im->trace_literal = 0;
}

/*
 * libetpan answers both a tagged BAD and a reply with a foreign tag with
 * MAILIMAP_ERROR_PROTOCOL. The first is a refused command on a sound
 * connection, the second a lost sync: tell them apart by the last line
 * of the response, which libetpan keeps in imap_stream_buffer.
 */
static int
tagged_bad(const struct imap *im)
{
	const MMAPString *b = im->mi->imap_stream_buffer;
	char tag[24];
	size_t end, start;

	if (b == NULL || b->len == 0)
		return 0;
	end = b->len;
	while (end > 0 && (b->str[end - 1] == '\n' || b->str[end - 1] == '\r'))
		end--;
	start = end;
	while (start > 0 && b->str[start - 1] != '\n')
		start--;
	snprintf(tag, sizeof(tag), "%d BAD", im->mi->imap_tag);
	return end - start >= strlen(tag) &&
	    strncasecmp(b->str + start, tag, strlen(tag)) == 0;
}

static const char *
conn_reason(int r)
{
	switch (r) {
	case MAILIMAP_ERROR_STREAM:
		return "the connection was lost or timed out";
	case MAILIMAP_ERROR_PARSE:
		return "the server's answer could not be parsed";
	case MAILIMAP_ERROR_CONNECTION_REFUSED:
		return "cannot connect";
	case MAILIMAP_ERROR_MEMORY:
		return "out of memory";
	case MAILIMAP_ERROR_SSL:
		return "the TLS handshake failed";
	case MAILIMAP_ERROR_BAD_STATE:
		return "the session is in the wrong state";
	case MAILIMAP_ERROR_PROTOCOL:
		return "the server's answer is out of sync";
	default:
		return "the connection failed";
	}
}

/*
 * Maps a libetpan result to a status, once for the whole module (STYLE.md
 * §7.3): connection-level errors drop the connection (BOTU_ECONN), a NO or
 * BAD to a command is BOTU_EPERM with the server's words.
 */
static int
fail(struct imap *im, int r, const char *what, char *err)
{
	char text[256];

	said(im, text, sizeof(text));
	switch (r) {
	case MAILIMAP_ERROR_PROTOCOL:
		if (tagged_bad(im))
			break;
		/* FALLTHROUGH */
	case MAILIMAP_ERROR_STREAM:
	case MAILIMAP_ERROR_PARSE:
	case MAILIMAP_ERROR_CONNECTION_REFUSED:
	case MAILIMAP_ERROR_MEMORY:
	case MAILIMAP_ERROR_SSL:
	case MAILIMAP_ERROR_BAD_STATE:
	case MAILIMAP_ERROR_NEEDS_MORE_DATA:
		snprintf(err, BOTU_ERRLEN, "IMAP %s: %s: %s", im->host, what,
		    conn_reason(r));
		drop(im);
		return BOTU_ECONN;
	case MAILIMAP_ERROR_FATAL:
	case MAILIMAP_ERROR_DONT_ACCEPT_CONNECTION:
		snprintf(err, BOTU_ERRLEN, "IMAP %s: %s: the server ended the "
		    "session: %s", im->host, what, text);
		drop(im);
		return BOTU_ECONN;
	default:
		break;
	}
	snprintf(err, BOTU_ERRLEN, "IMAP %s: %s refused: %s", im->host, what,
	    text);
	return BOTU_EPERM;
}

static int
ready(struct imap *im, char *err)
{
	if (im->mi != NULL && im->mi->imap_stream != NULL)
		return BOTU_OK;
	snprintf(err, BOTU_ERRLEN, "IMAP %s: not connected",
	    im->host != NULL ? im->host : im->conf->imap.srv.host);
	return BOTU_ECONN;
}

static int
selected(struct imap *im, char *err)
{
	if (ready(im, err) != BOTU_OK)
		return BOTU_ECONN;
	if (im->mi->imap_selection_info != NULL)
		return BOTU_OK;
	snprintf(err, BOTU_ERRLEN, "IMAP %s: no mailbox selected", im->host);
	return BOTU_EPERM;
}

/* ---- protocol trace, debug level only (STYLE.md §7.7) ---- */

static void
trace_show(const char *dir, const char *s, size_t n, const char *tail)
{
	char line[IMAP_TRACE_SHOWN + 1];
	size_t i;

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	for (i = 0; i < n && i < IMAP_TRACE_SHOWN; i++)
		line[i] = (unsigned char)s[i] < 0x20 ||
		    (unsigned char)s[i] == 0x7f ? '?' : s[i];
	line[i] = '\0';
	log_debug("imap %s %s%s%s", dir, line, n > i ? "..." : "", tail);
}

/* The octets of a literal announced at the end of a line ("{42}"). */
static size_t
literal_size(const char *s, size_t n)
{
	size_t i, v = 0, mul = 1;

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	if (n < 3 || s[n - 1] != '}')
		return 0;
	for (i = n - 1; i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9'; i--) {
		if (mul > 1000000000)
			return 0;
		v += (size_t)(s[i - 1] - '0') * mul;
		mul *= 10;
	}
	if (i == 0 || i == n - 1 || s[i - 1] != '{')
		return 0;
	return v;
}

/* Server lines are shown, literals (message text) are not. */
static void
trace_received(struct imap *im, const char *s, size_t n)
{
	const char *nl;
	size_t k;
	char tail[64];

	while (n > 0) {
		if (im->trace_literal > 0) {
			k = n < im->trace_literal ? n : im->trace_literal;
			im->trace_literal -= k;
			s += k;
			n -= k;
			continue;
		}
		nl = memchr(s, '\n', n);
		k = nl != NULL ? (size_t)(nl - s) + 1 : n;
		buf_add(&im->trace, s, k);
		s += k;
		n -= k;
		if (nl == NULL)
			break;
		im->trace_literal = literal_size(im->trace.s, im->trace.len);
		tail[0] = '\0';
		if (im->trace_literal > 0)
			snprintf(tail, sizeof(tail), " [%zu octets not shown]",
			    im->trace_literal);
		trace_show("S:", im->trace.s, im->trace.len, tail);
		buf_truncate(&im->trace, 0);
	}
}

static void
trace_cb(mailimap *mi, int type, const char *s, size_t n, void *ctx)
{
	struct imap *im = ctx;
	const char *nl;
	size_t k;

	(void)mi;
	switch (type) {
	case MAILSTREAM_LOG_TYPE_DATA_RECEIVED:
		trace_received(im, s, n);
		break;
	case MAILSTREAM_LOG_TYPE_DATA_SENT:
		if (im->in_auth) {
			log_debug("imap C: [%zu octets of login not shown]",
			    n);
			break;
		}
		while (n > 0) {
			nl = memchr(s, '\n', n);
			k = nl != NULL ? (size_t)(nl - s) + 1 : n;
			trace_show("C:", s, k, "");
			s += k;
			n -= k;
		}
		break;
	case MAILSTREAM_LOG_TYPE_DATA_SENT_PRIVATE:
		log_debug("imap C: [%zu octets of login not shown]", n);
		break;
	case MAILSTREAM_LOG_TYPE_ERROR_PARSE:
		log_debug("imap: libetpan could not parse the answer");
		break;
	default:
		break;
	}
}

/* ---- connecting ---- */

struct imap *
imap_new(const struct botu_conf *conf)
{
	struct imap *im = xcalloc(1, sizeof(*im));

	im->conf = conf;
	buf_init(&im->trace);
	return im;
}

static void
do_free(struct imap *im)
{
	if (im == NULL)
		return;
	drop(im);
	buf_free(&im->trace);
	free(im->host);
	free(im);
}

static void
do_logout(struct imap *im)
{
	if (im == NULL)
		return;
	if (im->mi != NULL && im->mi->imap_stream != NULL) {
		mailstream_low_set_timeout(
		    mailstream_get_low(im->mi->imap_stream),
		    IMAP_LOGOUT_TIMEOUT_S);
		/* It closes the stream whatever the answer. */
		mailimap_logout(im->mi);
	}
	do_free(im);
}

/* SNI (RFC 6066 §3): a DNS name only, never an address literal. */
static void
tls_setup_cb(struct mailstream_ssl_context *ctx, void *arg)
{
	struct imap *im = arg;

	if (!is_ip_literal(im->host))
		mailstream_ssl_set_server_name(ctx, im->host);
}

/* libetpan 1.9.4 sets no TCP keepalive (§1.2); a dead peer would only be
 * noticed at the next timeout, and an IDLE wait lasts up to 29 minutes. */
static void
set_keepalive(struct imap *im)
{
	int fd = mailimap_idle_get_fd(im->mi);
	int on = 1, idle = IMAP_KEEPIDLE_S, intvl = IMAP_KEEPINTVL_S;
	int cnt = IMAP_KEEPCNT;

	if (fd < 0)
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle,
	    sizeof(idle)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
	    sizeof(intvl)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) < 0)
		log_warn("IMAP %s: cannot set TCP keepalive", im->host);
}

/*
 * Checks the certificate chain the server presented, before anything
 * secret is sent: Debian's libetpan checks nothing (§1.1).
 */
static int
verify_peer(struct imap *im, char *err)
{
	carray *chain = mailstream_get_certificate_chain(im->mi->imap_stream);
	struct tls_cert *certs = NULL;
	unsigned int n = chain != NULL ? carray_count(chain) : 0;
	int rc;

	if (n > 0)
		certs = xcalloc(n, sizeof(*certs));
	for (unsigned int i = 0; i < n; i++) {
		MMAPString *der = carray_get(chain, i);

		certs[i].der = (const unsigned char *)der->str;
		certs[i].len = der->len;
	}
	rc = tls_verify_chain(certs, n, im->host,
	    im->conf->imap.srv.ca_file, err);
	free(certs);
	if (chain != NULL)
		mailstream_certificate_chain_free(chain);
	return rc;
}

/* The capability list, asked for when the greeting did not carry it. */
static int
ensure_caps(struct imap *im, int refresh, char *err)
{
	struct mailimap_capability_data *caps = NULL;
	int r;

	if (!refresh && im->mi->imap_connection_info != NULL &&
	    im->mi->imap_connection_info->imap_capability != NULL)
		return BOTU_OK;
	r = mailimap_capability(im->mi, &caps);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, "CAPABILITY", err);
	mailimap_capability_data_free(caps);
	return BOTU_OK;
}

/* RFC 3501 §6.2.1 and RFC 2595 §3.1: TLS first, and never without it. */
static int
starttls(struct imap *im, int preauth, char *err)
{
	int r, rc;

	if (preauth) {
		/* RFC 9051 §7.1.4: PREAUTH in the clear skips STARTTLS. */
		snprintf(err, BOTU_ERRLEN, "IMAP %s said PREAUTH before "
		    "STARTTLS; refusing to work without TLS", im->host);
		return BOTU_ECONFIG;
	}
	rc = ensure_caps(im, 0, err);
	if (rc != BOTU_OK)
		return rc;
	if (!mailimap_has_extension(im->mi, "STARTTLS")) {
		snprintf(err, BOTU_ERRLEN, "IMAP %s does not offer STARTTLS; "
		    "refusing to log in without TLS (security = tls, port "
		    "993?)", im->host);
		return BOTU_ECONFIG;
	}
	r = mailimap_socket_starttls_with_callback(im->mi, tls_setup_cb, im);
	if (r == MAILIMAP_NO_ERROR)
		return BOTU_OK;
	/* A lost connection is just that; a refusal or a failed handshake
	 * needs an organiser: the connection stays in plain text. */
	rc = fail(im, r, "STARTTLS", err);
	return r == MAILIMAP_ERROR_STREAM ? rc : BOTU_ECONFIG;
}

static int
login(struct imap *im, char *err)
{
	const struct conf_server *srv = &im->conf->imap.srv;
	const struct mailimap_capability_data *before;
	char *secret = NULL, text[256];
	int r, rc;

	if (srv->auth == AUTH_XOAUTH2 &&
	    !mailimap_has_authentication(im->mi, "XOAUTH2")) {
		snprintf(err, BOTU_ERRLEN, "IMAP %s does not offer "
		    "AUTH=XOAUTH2 (set auth = password?)", im->host);
		return BOTU_ECONFIG;
	}
	if (srv->auth == AUTH_PASSWORD &&
	    mailimap_has_extension(im->mi, "LOGINDISABLED")) {
		snprintf(err, BOTU_ERRLEN, "IMAP %s refuses LOGIN here "
		    "(LOGINDISABLED)", im->host);
		return BOTU_ECONFIG;
	}
	rc = conf_secret(srv, &secret, err);
	if (rc != BOTU_OK)
		return rc;
	before = im->mi->imap_connection_info != NULL ?
	    im->mi->imap_connection_info->imap_capability : NULL;
	im->in_auth = 1;
	if (srv->auth == AUTH_XOAUTH2)
		r = mailimap_oauth2_authenticate(im->mi, srv->username,
		    secret);
	else
		r = mailimap_login(im->mi, srv->username, secret);
	im->in_auth = 0;
	explicit_bzero(secret, strlen(secret));
	free(secret);
	if (r == MAILIMAP_ERROR_LOGIN ||
	    (r == MAILIMAP_ERROR_PROTOCOL && tagged_bad(im))) {
		said(im, text, sizeof(text));
		snprintf(err, BOTU_ERRLEN, "IMAP %s refused the login of %s: "
		    "%s", im->host, srv->username, text);
		return BOTU_EAUTH;
	}
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, "login", err);
	/*
	 * RFC 3501 §6.2.3: capabilities may change after login; the
	 * server can put the new list in the OK, which libetpan stores.
	 * Without it, ask.
	 */
	return ensure_caps(im, im->mi->imap_connection_info != NULL &&
	    im->mi->imap_connection_info->imap_capability == before, err);
}

static int
do_connect(struct imap *im, char err[BOTU_ERRLEN])
{
	const struct conf_server *srv = &im->conf->imap.srv;
	int port = conf_port(srv, 0), r, rc;

	drop(im);
	free(im->host);
	im->host = xstrdup(srv->host);
	im->mi = need(mailimap_new(0, NULL));
	/* Copied into the stream when it opens: set it first (§1.2). */
	mailimap_set_timeout(im->mi, IMAP_TIMEOUT_S);
	if (log_debug_enabled())
		mailimap_set_logger(im->mi, trace_cb, im);

	if (srv->security == SEC_TLS)
		r = mailimap_ssl_connect_with_callback(im->mi, im->host,
		    (uint16_t)port, tls_setup_cb, im);
	else
		r = mailimap_socket_connect(im->mi, im->host, (uint16_t)port);
	if (r != MAILIMAP_NO_ERROR_AUTHENTICATED &&
	    r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
		rc = fail(im, r, "connect", err);
		snprintf(err + strlen(err), BOTU_ERRLEN - strlen(err),
		    " (port %d)", port);
		drop(im);
		return rc == BOTU_EPERM ? BOTU_ECONN : rc;
	}
	set_keepalive(im);

	if (srv->security == SEC_STARTTLS) {
		rc = starttls(im, r == MAILIMAP_NO_ERROR_AUTHENTICATED, err);
		if (rc != BOTU_OK)
			goto fail;
	}
	if (srv->security != SEC_NONE) {
		rc = verify_peer(im, err);
		if (rc != BOTU_OK)
			goto fail;
	}
	/* After STARTTLS the list from before is the attacker's (§1.1). */
	rc = ensure_caps(im, srv->security == SEC_STARTTLS, err);
	if (rc != BOTU_OK)
		goto fail;
	if (r == MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
		rc = login(im, err);
		if (rc != BOTU_OK)
			goto fail;
	}
	return BOTU_OK;
fail:
	drop(im);
	return rc;
}

struct imap_caps
imap_caps(const struct imap *im)
{
	struct imap_caps c = { 0, 0, 0 };

	if (im->mi == NULL)
		return c;
	c.idle = mailimap_has_idle(im->mi);
	c.move = mailimap_has_extension(im->mi, "MOVE");
	c.uidplus = mailimap_has_uidplus(im->mi);
	return c;
}

/* ---- reading the mailbox ---- */

/* The static attribute of type in a FETCH response, or NULL. */
static struct mailimap_msg_att_static *
att_static(struct mailimap_msg_att *ma, int type)
{
	for (clistiter *it = clist_begin(ma->att_list); it != NULL;
	    it = clist_next(it)) {
		struct mailimap_msg_att_item *item = clist_content(it);

		if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC &&
		    item->att_data.att_static != NULL &&
		    item->att_data.att_static->att_type == type)
			return item->att_data.att_static;
	}
	return NULL;
}

/* The UID of a FETCH response, 0 when it has none (an unsolicited one). */
static uint32_t
att_uid(struct mailimap_msg_att *ma)
{
	struct mailimap_msg_att_static *s = att_static(ma,
	    MAILIMAP_MSG_ATT_UID);

	return s != NULL ? s->att_data.att_uid : 0;
}

/*
 * The response to our UID FETCH for uid. The list can also hold
 * unsolicited FETCH responses (RFC 3501 §7.4.2: flag changes of other
 * messages); only one with the UID and the attribute we asked for counts.
 */
static struct mailimap_msg_att_static *
find_att(clist *res, uint32_t uid, int type)
{
	struct mailimap_msg_att_static *s;

	for (clistiter *it = clist_begin(res); it != NULL;
	    it = clist_next(it)) {
		struct mailimap_msg_att *ma = clist_content(it);

		if (att_uid(ma) != uid)
			continue;
		s = att_static(ma, type);
		if (s != NULL)
			return s;
	}
	return NULL;
}

static time_t
date_time(const struct mailimap_date_time *d)
{
	struct tm tm;
	int zone, off;
	time_t t;

	if (d == NULL)
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = d->dt_year - 1900;
	tm.tm_mon = d->dt_month - 1;
	tm.tm_mday = d->dt_day;
	tm.tm_hour = d->dt_hour;
	tm.tm_min = d->dt_min;
	tm.tm_sec = d->dt_sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return 0;
	/* libetpan keeps the zone as written: -0730 is -730. */
	zone = d->dt_zone < 0 ? -d->dt_zone : d->dt_zone;
	off = (zone / 100) * 3600 + (zone % 100) * 60;
	return d->dt_zone < 0 ? t + off : t - off;
}

/*
 * The first "<...>" of a Message-ID field in a header block (RFC 5322
 * §3.6.4), after unfolding; NULL when there is none or it is odd.
 */
static char *
message_id(const char *h, size_t n)
{
	static const char name[] = "message-id";
	const size_t nlen = sizeof(name) - 1;
	struct buf v;
	const char *p = h, *end = h + n, *eol, *lt, *gt;
	char *id = NULL;

	buf_init(&v);
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		eol = eol != NULL ? eol + 1 : end;
		if ((size_t)(eol - p) > nlen &&
		    strncasecmp(p, name, nlen) == 0) {
			const char *c = p + nlen;

			while (c < eol && (*c == ' ' || *c == '\t'))
				c++;
			if (c < eol && *c == ':') {
				buf_add(&v, c + 1, (size_t)(eol - c - 1));
				p = eol;
				/* Continuation lines start with WSP. */
				while (p < end && (*p == ' ' || *p == '\t')) {
					eol = memchr(p, '\n',
					    (size_t)(end - p));
					eol = eol != NULL ? eol + 1 : end;
					buf_add(&v, p, (size_t)(eol - p));
					p = eol;
				}
				break;
			}
		}
		p = eol;
	}
	lt = memchr(v.s, '<', v.len);
	gt = lt != NULL ? memchr(lt, '>', v.len - (size_t)(lt - v.s)) : NULL;
	if (gt == NULL || gt - lt < 2 || gt - lt >= IMAP_MSGID_MAX)
		goto out;
	for (const char *c = lt + 1; c < gt; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '<')
			goto out;
	id = xstrndup(lt, (size_t)(gt - lt) + 1);
out:
	buf_free(&v);
	return id;
}

static int
cmp_msginfo(const void *a, const void *b)
{
	const struct imap_msginfo *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* UID, RFC822.SIZE, INTERNALDATE and the Message-ID field, never \Seen. */
static struct mailimap_fetch_type *
list_fetch_type(void)
{
	struct mailimap_fetch_type *ft;
	struct mailimap_section *sec;
	clist *hdrs = need(clist_new());

	ft = need(mailimap_fetch_type_new_fetch_att_list_empty());
	need_append(hdrs, xstrdup("MESSAGE-ID"));
	sec = need(mailimap_section_new_header_fields(
	    need(mailimap_header_list_new(hdrs))));
	if (mailimap_fetch_type_new_fetch_att_list_add(ft,
	    need(mailimap_fetch_att_new_uid())) != 0 ||
	    mailimap_fetch_type_new_fetch_att_list_add(ft,
	    need(mailimap_fetch_att_new_rfc822_size())) != 0 ||
	    mailimap_fetch_type_new_fetch_att_list_add(ft,
	    need(mailimap_fetch_att_new_internaldate())) != 0 ||
	    mailimap_fetch_type_new_fetch_att_list_add(ft,
	    need(mailimap_fetch_att_new_body_peek_section(sec))) != 0)
		fatalx("out of memory");
	return ft;
}

/* UID FETCH set for imap_list(): messages with UID > after_uid. */
static int
list_set(struct imap *im, struct mailimap_set *set, uint32_t after_uid,
    struct imap_msginfo **out, size_t *n, char *err)
{
	struct mailimap_fetch_type *ft = list_fetch_type();
	struct mailimap_msg_att_static *s;
	struct imap_msginfo *v = NULL;
	clist *res = NULL;
	size_t cnt = 0, k;
	int r, rc;

	r = mailimap_uid_fetch(im->mi, set, ft, &res);
	if (r != MAILIMAP_NO_ERROR) {
		rc = fail(im, r, "UID FETCH", err);
		goto out;
	}
	v = xcalloc((size_t)clist_count(res) + 1, sizeof(*v));
	for (clistiter *it = clist_begin(res); it != NULL;
	    it = clist_next(it)) {
		struct mailimap_msg_att *ma = clist_content(it);
		uint32_t uid = att_uid(ma);

		/* RFC 3501 §6.4.8: "N:*" with N > max UID matches the max
		 * UID; a FETCH without RFC822.SIZE is unsolicited. */
		s = att_static(ma, MAILIMAP_MSG_ATT_RFC822_SIZE);
		if (uid <= after_uid || s == NULL)
			continue;
		v[cnt].uid = uid;
		v[cnt].size = s->att_data.att_rfc822_size;
		s = att_static(ma, MAILIMAP_MSG_ATT_INTERNALDATE);
		if (s != NULL)
			v[cnt].internaldate =
			    date_time(s->att_data.att_internal_date);
		s = att_static(ma, MAILIMAP_MSG_ATT_BODY_SECTION);
		if (s != NULL && s->att_data.att_body_section != NULL &&
		    s->att_data.att_body_section->sec_body_part != NULL)
			v[cnt].message_id = message_id(
			    s->att_data.att_body_section->sec_body_part,
			    s->att_data.att_body_section->sec_length);
		cnt++;
	}
	qsort(v, cnt, sizeof(*v), cmp_msginfo);
	/* A server may answer twice for one UID: keep the first. */
	k = 0;
	for (size_t i = 0; i < cnt; i++) {
		if (k > 0 && v[k - 1].uid == v[i].uid) {
			free(v[i].message_id);
			continue;
		}
		v[k++] = v[i];
	}
	*out = v;
	*n = k;
	v = NULL;
	rc = BOTU_OK;
out:
	free(v);
	if (res != NULL)
		mailimap_fetch_list_free(res);
	mailimap_fetch_type_free(ft);
	return rc;
}

static int
do_list(struct imap *im, uint32_t after_uid, struct imap_msginfo **out,
    size_t *n, char err[BOTU_ERRLEN])
{
	struct mailimap_set *set;
	int rc;

	*out = NULL;
	*n = 0;
	rc = selected(im, err);
	if (rc != BOTU_OK || after_uid == UINT32_MAX)
		return rc;
	/* after+1:*, where 0 stands for "*" in libetpan's sets. */
	set = need(mailimap_set_new_interval(after_uid + 1, 0));
	rc = list_set(im, set, after_uid, out, n, err);
	mailimap_set_free(set);
	return rc;
}

static int
cmp_uid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* A UID set from a search result, runs written as ranges. */
static struct mailimap_set *
set_from_uids(clist *uids)
{
	struct mailimap_set *set = need(mailimap_set_new_empty());
	uint32_t *v = xcalloc((size_t)clist_count(uids) + 1, sizeof(*v));
	size_t cnt = 0, i, j;

	for (clistiter *it = clist_begin(uids); it != NULL;
	    it = clist_next(it))
		v[cnt++] = *(uint32_t *)clist_content(it);
	qsort(v, cnt, sizeof(*v), cmp_uid);
	for (i = 0; i < cnt; i = j) {
		for (j = i + 1; j < cnt && v[j] <= v[j - 1] + 1; j++)
			;
		if (mailimap_set_add_interval(set, v[i], v[j - 1]) != 0)
			fatalx("out of memory");
	}
	free(v);
	return set;
}

static int
do_list_since(struct imap *im, time_t since, struct imap_msginfo **out,
    size_t *n, char err[BOTU_ERRLEN])
{
	struct mailimap_search_key *key = NULL;
	struct mailimap_set *set = NULL;
	clist *uids = NULL;
	struct tm tm;
	int r, rc;

	*out = NULL;
	*n = 0;
	rc = selected(im, err);
	if (rc != BOTU_OK)
		return rc;
	/* RFC 3501 §6.4.4: SINCE compares days ("1-Feb-2024") and ignores
	 * the time; the day is that of since in local time. */
	if (localtime_r(&since, &tm) == NULL) {
		snprintf(err, BOTU_ERRLEN, "IMAP: odd date %lld",
		    (long long)since);
		return BOTU_EDATA;
	}
	key = need(mailimap_search_key_new_since(need(mailimap_date_new(
	    tm.tm_mday, tm.tm_mon + 1, tm.tm_year + 1900))));
	r = mailimap_uid_search(im->mi, NULL, key, &uids);
	if (r != MAILIMAP_NO_ERROR) {
		rc = fail(im, r, "UID SEARCH SINCE", err);
		goto out;
	}
	if (uids == NULL || clist_count(uids) == 0)
		goto out;
	set = set_from_uids(uids);
	rc = list_set(im, set, 0, out, n, err);
out:
	if (set != NULL)
		mailimap_set_free(set);
	if (uids != NULL)
		mailimap_search_result_free(uids);
	mailimap_search_key_free(key);
	return rc;
}

void
imap_msginfo_free(struct imap_msginfo *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i].message_id);
	free(v);
}

/* UID FETCH uid with one attribute; *res holds the answer. */
static int
fetch_one(struct imap *im, uint32_t uid, struct mailimap_fetch_att *att,
    clist **res, char *err)
{
	struct mailimap_fetch_type *ft;
	struct mailimap_set *set = need(mailimap_set_new_single(uid));
	int r, rc = BOTU_OK;

	ft = need(mailimap_fetch_type_new_fetch_att_list_empty());
	if (mailimap_fetch_type_new_fetch_att_list_add(ft,
	    need(mailimap_fetch_att_new_uid())) != 0 ||
	    mailimap_fetch_type_new_fetch_att_list_add(ft, need(att)) != 0)
		fatalx("out of memory");
	*res = NULL;
	r = mailimap_uid_fetch(im->mi, set, ft, res);
	if (r != MAILIMAP_NO_ERROR) {
		rc = fail(im, r, "UID FETCH", err);
		*res = NULL;
	}
	mailimap_fetch_type_free(ft);
	mailimap_set_free(set);
	return rc;
}

static int
gone(struct imap *im, uint32_t uid, char *err)
{
	snprintf(err, BOTU_ERRLEN, "IMAP %s: message UID %u is gone "
	    "(expunged meanwhile)", im->host, uid);
	return BOTU_EPERM;
}

static int
do_fetch(struct imap *im, uint32_t uid, size_t max_size, char **data,
    size_t *len, char err[BOTU_ERRLEN])
{
	struct mailimap_msg_att_static *s;
	struct mailimap_msg_att_body_section *sec;
	clist *res = NULL;
	int rc;

	*data = NULL;
	*len = 0;
	rc = selected(im, err);
	if (rc != BOTU_OK)
		return rc;
	/* The size first: 1.9.4 holds a literal in memory whole (§1.5). */
	rc = fetch_one(im, uid, mailimap_fetch_att_new_rfc822_size(), &res,
	    err);
	if (rc != BOTU_OK)
		goto out;
	s = find_att(res, uid, MAILIMAP_MSG_ATT_RFC822_SIZE);
	if (s == NULL) {
		rc = gone(im, uid, err);
		goto out;
	}
	if (s->att_data.att_rfc822_size > max_size) {
		snprintf(err, BOTU_ERRLEN, "IMAP %s: message UID %u has %u "
		    "octets, more than the %zu allowed", im->host, uid,
		    s->att_data.att_rfc822_size, max_size);
		rc = BOTU_EPERM;
		goto out;
	}
	mailimap_fetch_list_free(res);
	/* BODY.PEEK[] leaves \Seen alone (RFC 3501 §6.4.5). */
	rc = fetch_one(im, uid, mailimap_fetch_att_new_body_peek_section(
	    need(mailimap_section_new(NULL))), &res, err);
	if (rc != BOTU_OK)
		goto out;
	s = find_att(res, uid, MAILIMAP_MSG_ATT_BODY_SECTION);
	sec = s != NULL ? s->att_data.att_body_section : NULL;
	if (sec == NULL || sec->sec_body_part == NULL) {
		rc = gone(im, uid, err);
		goto out;
	}
	if (sec->sec_length > max_size) {
		snprintf(err, BOTU_ERRLEN, "IMAP %s: message UID %u came "
		    "with %zu octets, more than the %zu allowed", im->host,
		    uid, sec->sec_length, max_size);
		rc = BOTU_EPERM;
		goto out;
	}
	*data = xmalloc(sec->sec_length + 1);
	memcpy(*data, sec->sec_body_part, sec->sec_length);
	(*data)[sec->sec_length] = '\0';
	*len = sec->sec_length;
out:
	if (res != NULL)
		mailimap_fetch_list_free(res);
	return rc;
}

/* ---- changing the mailbox ---- */

static int
do_ensure_mailbox(struct imap *im, const char *mailbox,
    char err[BOTU_ERRLEN])
{
	const struct mailimap_response_info *ri;
	clist *list = NULL;
	int r, rc, found = 0;

	rc = ready(im, err);
	if (rc != BOTU_OK)
		return rc;
	r = mailimap_list(im->mi, "", mailbox, &list);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, "LIST", err);
	for (clistiter *it = clist_begin(list); it != NULL;
	    it = clist_next(it)) {
		struct mailimap_mailbox_list *mb = clist_content(it);

		if (strcmp(mb->mb_name, mailbox) == 0 ||
		    (strcasecmp(mailbox, "INBOX") == 0 &&
		    strcasecmp(mb->mb_name, "INBOX") == 0))
			found = 1;
	}
	if (list != NULL)
		mailimap_list_result_free(list);
	if (found)
		return BOTU_OK;
	r = mailimap_create(im->mi, mailbox);
	if (r == MAILIMAP_NO_ERROR)
		return BOTU_OK;
	/* Another client may have made it since the LIST (RFC 5530). */
	ri = im->mi->imap_response_info;
	if (r == MAILIMAP_ERROR_CREATE && ((ri != NULL && ri->rsp_atom !=
	    NULL && strcasecmp(ri->rsp_atom, "ALREADYEXISTS") == 0) ||
	    (im->mi->imap_response != NULL &&
	    strcasestr(im->mi->imap_response, "already exist") != NULL)))
		return BOTU_OK;
	return fail(im, r, "CREATE", err);
}

static int
store_flag(struct imap *im, uint32_t uid, struct mailimap_flag *flag,
    char *err)
{
	struct mailimap_flag_list *fl = need(mailimap_flag_list_new_empty());
	struct mailimap_store_att_flags *sa;
	struct mailimap_set *set = need(mailimap_set_new_single(uid));
	int r, rc = BOTU_OK;

	if (mailimap_flag_list_add(fl, need(flag)) != 0)
		fatalx("out of memory");
	sa = need(mailimap_store_att_flags_new_add_flags_silent(fl));
	r = mailimap_uid_store(im->mi, set, sa);
	if (r != MAILIMAP_NO_ERROR)
		rc = fail(im, r, "UID STORE", err);
	mailimap_store_att_flags_free(sa);
	mailimap_set_free(set);
	return rc;
}

static int
do_move(struct imap *im, uint32_t uid, const char *mailbox,
    char err[BOTU_ERRLEN])
{
	struct mailimap_set *set = NULL;
	struct imap_caps c;
	int r, rc;

	rc = selected(im, err);
	if (rc != BOTU_OK)
		return rc;
	c = imap_caps(im);
	if (!c.move && !c.uidplus) {
		/* Plain EXPUNGE would also remove every other message
		 * someone marked \Deleted: do nothing instead. */
		snprintf(err, BOTU_ERRLEN, "IMAP %s offers neither MOVE nor "
		    "UIDPLUS: cannot move one message alone", im->host);
		return BOTU_EPERM;
	}
	set = need(mailimap_set_new_single(uid));
	if (c.move) {
		/* RFC 6851 */
		r = mailimap_uid_move(im->mi, set, mailbox);
		if (r != MAILIMAP_NO_ERROR)
			rc = fail(im, r, "UID MOVE", err);
		goto out;
	}
	r = mailimap_uid_copy(im->mi, set, mailbox);
	if (r != MAILIMAP_NO_ERROR) {
		rc = fail(im, r, "UID COPY", err);
		goto out;
	}
	rc = store_flag(im, uid, mailimap_flag_new_deleted(), err);
	if (rc != BOTU_OK)
		goto out;
	/* RFC 4315 §2.1: expunges this UID only. */
	r = mailimap_uid_expunge(im->mi, set);
	if (r != MAILIMAP_NO_ERROR)
		rc = fail(im, r, "UID EXPUNGE", err);
out:
	mailimap_set_free(set);
	return rc;
}

/* RFC 3501 §9: flag-keyword = atom; no backslash (those are system flags,
 * and \Seen is not ours to set). */
static int
keyword_ok(const char *kw)
{
	if (kw == NULL || kw[0] == '\0' || strlen(kw) > 100)
		return 0;
	for (const char *p = kw; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f ||
		    strchr("(){%*\"\\]", *p) != NULL)
			return 0;
	return 1;
}

static int
do_add_keyword(struct imap *im, uint32_t uid, const char *keyword,
    char err[BOTU_ERRLEN])
{
	int rc;

	if (!keyword_ok(keyword)) {
		snprintf(err, BOTU_ERRLEN, "'%s' is not an IMAP keyword",
		    keyword != NULL ? keyword : "");
		return BOTU_EDATA;
	}
	rc = selected(im, err);
	if (rc != BOTU_OK)
		return rc;
	/* The constructor takes ownership: heap memory only (§1.6). */
	return store_flag(im, uid, need(mailimap_flag_new_flag_keyword(
	    xstrdup(keyword))), err);
}

static int
do_has_keyword(struct imap *im, uint32_t uid, const char *keyword,
    char err[BOTU_ERRLEN])
{
	clist *res = NULL;
	int rc, found = -1;

	if (!keyword_ok(keyword)) {
		snprintf(err, BOTU_ERRLEN, "'%s' is not an IMAP keyword",
		    keyword != NULL ? keyword : "");
		return BOTU_EDATA;
	}
	rc = selected(im, err);
	if (rc != BOTU_OK)
		return rc;
	rc = fetch_one(im, uid, mailimap_fetch_att_new_flags(), &res, err);
	if (rc != BOTU_OK)
		return rc;
	for (clistiter *it = clist_begin(res); it != NULL;
	    it = clist_next(it)) {
		struct mailimap_msg_att *ma = clist_content(it);

		if (att_uid(ma) != uid)
			continue;
		for (clistiter *j = clist_begin(ma->att_list); j != NULL;
		    j = clist_next(j)) {
			struct mailimap_msg_att_item *item = clist_content(j);

			if (item->att_type != MAILIMAP_MSG_ATT_ITEM_DYNAMIC ||
			    item->att_data.att_dyn == NULL)
				continue;
			if (found < 0)
				found = 0;
			if (item->att_data.att_dyn->att_list == NULL)
				continue;
			for (clistiter *f = clist_begin(
			    item->att_data.att_dyn->att_list); f != NULL;
			    f = clist_next(f)) {
				struct mailimap_flag_fetch *ff =
				    clist_content(f);

				/* RFC 9051 §2.3.2: flags ignore case */
				if (ff->fl_type == MAILIMAP_FLAG_FETCH_OTHER &&
				    ff->fl_flag != NULL &&
				    ff->fl_flag->fl_type ==
				    MAILIMAP_FLAG_KEYWORD &&
				    strcasecmp(ff->fl_flag->fl_data.fl_keyword,
				    keyword) == 0)
					found = 1;
			}
		}
	}
	mailimap_fetch_list_free(res);
	return found < 0 ? gone(im, uid, err) : found;
}

/* ---- the mailbox itself ---- */

/* UID FETCH * (UID): raises *next to the highest UID + 1. */
static int
highest_uid(struct imap *im, uint32_t *next, char *err)
{
	clist *res = NULL;
	uint32_t uid;
	int rc;

	/* 0 stands for "*" in libetpan's sets. */
	rc = fetch_one(im, 0, mailimap_fetch_att_new_uid(), &res, err);
	if (rc != BOTU_OK)
		return rc;
	for (clistiter *it = clist_begin(res); it != NULL;
	    it = clist_next(it)) {
		uid = att_uid(clist_content(it));
		if (uid != UINT32_MAX && uid + 1 > *next)
			*next = uid + 1;
	}
	mailimap_fetch_list_free(res);
	return BOTU_OK;
}

static int
do_select(struct imap *im, const char *mailbox, struct imap_mailbox *out,
    char err[BOTU_ERRLEN])
{
	const struct mailimap_selection_info *si;
	int r, rc;

	memset(out, 0, sizeof(*out));
	rc = ready(im, err);
	if (rc != BOTU_OK)
		return rc;
	r = mailimap_select(im->mi, mailbox);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, "SELECT", err);
	si = im->mi->imap_selection_info;
	if (si == NULL) {
		snprintf(err, BOTU_ERRLEN, "IMAP %s: SELECT %s gave nothing",
		    im->host, mailbox);
		return BOTU_EPERM;
	}
	out->uidvalidity = si->sel_uidvalidity;
	out->uidnext = si->sel_uidnext;
	out->exists = si->sel_exists;
	out->read_only = si->sel_perm == MAILIMAP_MAILBOX_READONLY;
	for (clistiter *it = si->sel_perm_flags != NULL ?
	    clist_begin(si->sel_perm_flags) : NULL; it != NULL;
	    it = clist_next(it)) {
		struct mailimap_flag_perm *fp = clist_content(it);

		if (fp->fl_type == MAILIMAP_FLAG_PERM_ALL)
			out->keywords = 1;
	}
	if (out->uidnext != 0)
		return BOTU_OK;
	/* No [UIDNEXT] (§1.3): the highest UID + 1, or 1 when empty. */
	out->uidnext = 1;
	if (out->exists == 0)
		return BOTU_OK;
	return highest_uid(im, &out->uidnext, err);
}

/* ---- waiting ---- */

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Waits for fd (the server; -1: none) or wake_fd (-1: none): 1 when the
 * server sent something or hung up, 2 when wake_fd is readable, 0 after
 * timeout_s. The server wins a tie: wake_fd stays readable for the next
 * call, as it is not ours to drain.
 */
static int
wait_fds(int fd, int wake_fd, int timeout_s, const sigset_t *mask)
{
	struct pollfd p[2];
	struct timespec ts;
	long long deadline = now_ms() + (long long)timeout_s * 1000, left;
	int nfd = 0, ifd = -1, iwake = -1, r;

	if (fd >= 0) {
		ifd = nfd;
		p[nfd].fd = fd;
		p[nfd++].events = POLLIN;
	}
	if (wake_fd >= 0) {
		iwake = nfd;
		p[nfd].fd = wake_fd;
		p[nfd++].events = POLLIN;
	}
	for (;;) {
		left = deadline - now_ms();
		if (left < 0)
			left = 0;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000;
		r = ppoll(p, (nfds_t)nfd, &ts, mask);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0 && ifd >= 0 && p[ifd].revents != 0)
			return 1;
		if (r > 0 && iwake >= 0 && p[iwake].revents != 0)
			return 2;
		if (left == 0)
			return 0;
	}
}

static int
do_noop(struct imap *im, char err[BOTU_ERRLEN])
{
	int r, rc;

	rc = ready(im, err);
	if (rc != BOTU_OK)
		return rc;
	r = mailimap_noop(im->mi);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, "NOOP", err);
	return BOTU_OK;
}

/* RFC 2177 */
static int
wait_idle(struct imap *im, int timeout_s, int wake_fd, char *err)
{
	mailstream_low *low = mailstream_get_low(im->mi->imap_stream);
	int r, got;

	mailstream_low_set_timeout(low, IMAP_IDLE_START_TIMEOUT_S);
	r = mailimap_idle(im->mi);
	if (r == MAILIMAP_NO_ERROR)
		mailstream_low_set_timeout(low, IMAP_TIMEOUT_S);
	if (r != MAILIMAP_NO_ERROR) {
		fail(im, r, "IDLE", err);
		drop(im);
		return BOTU_ECONN;
	}
	/*
	 * libetpan 1.9.4 bug (§1.7): what came in the same segment as
	 * "+ idling" already sits in the stream's buffer, and poll() on the
	 * socket would not see it.
	 */
	if (im->mi->imap_stream->read_buffer_len > 0)
		got = 1;
	else
		got = wait_fds(mailimap_idle_get_fd(im->mi), wake_fd,
		    timeout_s, im->waitmask);
	if (got < 0) {
		snprintf(err, BOTU_ERRLEN, "IMAP %s: poll: %s", im->host,
		    strerror(errno));
		drop(im);
		return BOTU_ECONN;
	}
	r = mailimap_idle_done(im->mi);
	if (r != MAILIMAP_NO_ERROR) {
		fail(im, r, "IDLE DONE", err);
		drop(im);
		return BOTU_ECONN;
	}
	return got;
}

static int
do_wait(struct imap *im, int timeout_s, int wake_fd,
    char err[BOTU_ERRLEN])
{
	int rc, got;

	rc = ready(im, err);
	if (rc != BOTU_OK)
		return rc;
	if (timeout_s < 0)
		timeout_s = 0;
	/* mailimap_idle() needs a selected mailbox: it writes to it. */
	if (im->conf->imap.idle && mailimap_has_idle(im->mi) &&
	    im->mi->imap_selection_info != NULL)
		return wait_idle(im, timeout_s, wake_fd, err);
	got = wait_fds(-1, wake_fd, timeout_s, im->waitmask);
	if (got < 0) {
		snprintf(err, BOTU_ERRLEN, "poll: %s", strerror(errno));
		return BOTU_ETEMP;
	}
	if (got == 2)
		return 2;
	rc = do_noop(im, err);
	return rc == BOTU_OK ? 1 : rc;
}


/*
 * ---- signals ----
 *
 * libetpan 1.9.4 takes EINTR in the select() of a read or write for a
 * broken connection (measured: a timer signal during NOOP ends the session
 * with MAILIMAP_ERROR_STREAM). So every call into libetpan runs with the
 * catchable asynchronous signals blocked; they come in when the call
 * returns, or at once while imap_wait() sleeps in ppoll().
 */

static void
guard_on(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGABRT);
	sigdelset(&all, SIGTRAP);
	pthread_sigmask(SIG_BLOCK, &all, old);
}

static void
guard_off(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

void
imap_free(struct imap *im)
{
	sigset_t old;

	guard_on(&old);
	do_free(im);
	guard_off(&old);
}

void
imap_logout(struct imap *im)
{
	sigset_t old;

	guard_on(&old);
	do_logout(im);
	guard_off(&old);
}

int
imap_connect(struct imap *im, char err[BOTU_ERRLEN])
{
	sigset_t old;
	int rc;

	guard_on(&old);
	rc = do_connect(im, err);
	guard_off(&old);
	return rc;
}

int
imap_select(struct imap *im, const char *mailbox,
    struct imap_mailbox *out, char err[BOTU_ERRLEN])
{
	sigset_t old;
	int rc;

	guard_on(&old);
	rc = do_select(im, mailbox, out, err);
	guard_off(&old);
	return rc;
}

int
imap_list(struct imap *im, uint32_t after_uid,
    struct imap_msginfo **out, size_t *n, char err[BOTU_ERRLEN])
{
	sigset_t old;
	int rc;

	guard_on(&old);
	rc = do_list(im, after_uid, out, n, err);
	guard_off(&old);
	return rc;
}

int
imap_list_since(struct imap *im, time_t since,
    struct imap_msginfo **out, size_t *n, char err[BOTU_ERRLEN])
{
	sigset_t old;
	int rc;

	guard_on(&old);
	rc = do_list_since(im, since, out, n, err);
	guard_off(&old);
	return rc;
}

int
imap_fetch(struct imap *im, uint32_t uid, size_t max_size,
    char **data, size_t *len, char err[BOTU_ERRLEN])
{
	sigset_t old;
	int rc;

	guard_on(&old);
	rc = do_fetch(im, uid, max_size, data, len, err);
	guard_off(&old);
	return rc;
}

int
imap_ensure_mailbox(struct imap *im, const char *mailbox,
    char err[BOTU_ERRLEN])
{
	sigset_t old;
	int rc;

	guard_on(&old);
	rc = do_ensure_mailbox(im, mailbox, err);
	guard_off(&old);
	return rc;
}

int
imap_move(struct imap *im, uint32_t uid, const char *mailbox,
    char err[BOTU_ERRLEN])
{
	sigset_t old;
	int rc;

	guard_on(&old);
	rc = do_move(im, uid, mailbox, err);
	guard_off(&old);
	return rc;
}

int
imap_add_keyword(struct imap *im, uint32_t uid, const char *keyword,
    char err[BOTU_ERRLEN])
{
	sigset_t old;
	int rc;

	guard_on(&old);
	rc = do_add_keyword(im, uid, keyword, err);
	guard_off(&old);
	return rc;
}

int
imap_has_keyword(struct imap *im, uint32_t uid, const char *keyword,
    char err[BOTU_ERRLEN])
{
	sigset_t old;
	int rc;

	guard_on(&old);
	rc = do_has_keyword(im, uid, keyword, err);
	guard_off(&old);
	return rc;
}

int
imap_wait(struct imap *im, int timeout_s, int wake_fd,
    char err[BOTU_ERRLEN])
{
	sigset_t old;
	int rc;

	guard_on(&old);
	im->waitmask = &old;
	rc = do_wait(im, timeout_s, wake_fd, err);
	im->waitmask = NULL;
	guard_off(&old);
	return rc;
}

int
imap_noop(struct imap *im, char err[BOTU_ERRLEN])
{
	sigset_t old;
	int rc;

	guard_on(&old);
	rc = do_noop(im, err);
	guard_off(&old);
	return rc;
}
