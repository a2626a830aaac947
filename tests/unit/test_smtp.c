/*
 * Unit tests of smtp.c without a server: the reply classifier (LIBRARIES.md
 * §3.5) as tables, the stale-connection rule, the trace that follows the
 * SMTP stage and must never log a credential, the URL, and what smtp_send()
 * and smtp_check() refuse before they connect.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "botu/config.h"
#include "botu/log.h"
#include "botu/smtp.h"
#include "botu/util.h"
#include "../../src/smtp_internal.h"

#define HOST "smtp.example.org"

struct classify_case {
	int		 rc;
	long		 code;
	enum smtp_stage	 stage;		/* of the trace */
	const char	*reply;		/* the trace's last reply */
	enum smtp_outcome want;
	enum smtp_stage	 want_stage;
	int		 want_code;
	int		 want_rate;
	const char	*want_text;	/* a part of res.text */
};

static const struct classify_case classify_cases[] = {
	{ CURLE_OK, 250, SMTP_STAGE_DATA, "250 2.0.0 Ok: queued as X",
	  SMTP_SENT, SMTP_STAGE_DATA, 250, 0, "queued as X" },
	/* RCPT refused: this recipient only. */
	{ CURLE_SEND_ERROR, 550, SMTP_STAGE_RCPT,
	  "550 5.1.1 <a@b.nl>: Recipient address rejected: User unknown",
	  SMTP_PERM, SMTP_STAGE_RCPT, 550, 0, "User unknown" },
	{ CURLE_SEND_ERROR, 452, SMTP_STAGE_RCPT,
	  "452 4.2.2 <a@b.nl>: Mailbox full",
	  SMTP_TEMP, SMTP_STAGE_RCPT, 452, 0, "Mailbox full" },
	{ CURLE_SEND_ERROR, 452, SMTP_STAGE_RCPT,
	  "452 4.5.3 Too many recipients",
	  SMTP_TEMP, SMTP_STAGE_RCPT, 452, 1, "Too many" },
	/* The final dot: 8 with an empty error buffer. */
	{ CURLE_WEIRD_SERVER_REPLY, 451, SMTP_STAGE_DATA,
	  "451 4.3.0 Temporary lookup failure",
	  SMTP_TEMP, SMTP_STAGE_DATA, 451, 0, "lookup failure" },
	{ CURLE_WEIRD_SERVER_REPLY, 554, SMTP_STAGE_DATA,
	  "554 5.7.1 Spam message rejected",
	  SMTP_PERM, SMTP_STAGE_DATA, 554, 0, "Spam" },
	{ CURLE_SEND_ERROR, 554, SMTP_STAGE_DATA,
	  "554 5.5.1 Error: no valid recipients",
	  SMTP_PERM, SMTP_STAGE_DATA, 554, 0, "no valid" },
	/* About us: the sender, the login, the greeting. */
	{ CURLE_SEND_ERROR, 553, SMTP_STAGE_MAIL,
	  "553 5.7.1 <x@y>: Sender address rejected: not owned by user",
	  SMTP_OURS, SMTP_STAGE_MAIL, 553, 0, "not owned" },
	{ CURLE_SEND_ERROR, 530, SMTP_STAGE_MAIL,
	  "530 5.7.0 Authentication required",
	  SMTP_OURS, SMTP_STAGE_MAIL, 530, 0, "Authentication required" },
	{ CURLE_SEND_ERROR, 534, SMTP_STAGE_AUTH,
	  "534 5.7.9 Application-specific password required",
	  SMTP_OURS, SMTP_STAGE_AUTH, 534, 0, "password required" },
	{ CURLE_WEIRD_SERVER_REPLY, 554, SMTP_STAGE_CONNECT,
	  "554 5.7.1 You are not welcome here",
	  SMTP_OURS, SMTP_STAGE_CONNECT, 554, 0, "not welcome" },
	{ CURLE_WEIRD_SERVER_REPLY, 421, SMTP_STAGE_CONNECT,
	  "421 4.3.2 Too busy, try later",
	  SMTP_TEMP, SMTP_STAGE_CONNECT, 421, 1, "Too busy" },
	{ CURLE_SEND_ERROR, 421, SMTP_STAGE_MAIL,
	  "421 4.4.2 Error: timeout exceeded",
	  SMTP_TEMP, SMTP_STAGE_MAIL, 421, 1, "timeout" },
	{ CURLE_SEND_ERROR, 450, SMTP_STAGE_RCPT,
	  "450 4.7.1 Rate limit exceeded for sender",
	  SMTP_TEMP, SMTP_STAGE_RCPT, 450, 1, "Rate limit" },
	{ CURLE_LOGIN_DENIED, 535, SMTP_STAGE_AUTH,
	  "535 5.7.8 Error: authentication failed",
	  SMTP_OURS, SMTP_STAGE_AUTH, 535, 0, HOST " refused the login" },
	/* The server offers no mechanism libcurl can use: no reply to show. */
	{ CURLE_LOGIN_DENIED, 250, SMTP_STAGE_CONNECT, "250 8BITMIME",
	  SMTP_OURS, SMTP_STAGE_AUTH, 0, 0, "refused the login (curl says)" },
	/* TLS: the code is stale (250 from EHLO) and must not show. */
	{ CURLE_PEER_FAILED_VERIFICATION, 250, SMTP_STAGE_CONNECT, "250 x",
	  SMTP_OURS, SMTP_STAGE_CONNECT, 0, 0,
	  "the server's certificate is not trusted for " HOST ": curl says" },
	{ CURLE_USE_SSL_FAILED, 250, SMTP_STAGE_CONNECT, "250 8BITMIME",
	  SMTP_OURS, SMTP_STAGE_CONNECT, 0, 0, "no STARTTLS offered" },
	{ CURLE_USE_SSL_FAILED, 454, SMTP_STAGE_CONNECT,
	  "454 4.7.0 TLS not available",
	  SMTP_OURS, SMTP_STAGE_CONNECT, 0, 0, "(454 4.7.0 TLS not" },
	{ CURLE_SSL_CONNECT_ERROR, 0, SMTP_STAGE_CONNECT, "",
	  SMTP_OURS, SMTP_STAGE_CONNECT, 0, 0, "no TLS connection" },
	{ CURLE_SSL_CACERT_BADFILE, 0, SMTP_STAGE_CONNECT, "",
	  SMTP_OURS, SMTP_STAGE_CONNECT, 0, 0, "ca_file" },
	/* The network: temporary, and the code means nothing. */
	{ CURLE_COULDNT_CONNECT, 0, SMTP_STAGE_CONNECT, "",
	  SMTP_TEMP, SMTP_STAGE_CONNECT, 0, 0, "cannot reach " HOST ":587" },
	{ CURLE_COULDNT_RESOLVE_HOST, 0, SMTP_STAGE_CONNECT, "",
	  SMTP_TEMP, SMTP_STAGE_CONNECT, 0, 0, "cannot reach" },
	{ CURLE_OPERATION_TIMEDOUT, 354, SMTP_STAGE_DATA, "354 go ahead",
	  SMTP_TEMP, SMTP_STAGE_CONNECT, 0, 0, "lost at DATA" },
	{ CURLE_SEND_ERROR, 250, SMTP_STAGE_MAIL, "250 2.0.0 Ok",
	  SMTP_TEMP, SMTP_STAGE_CONNECT, 0, 0, "lost at MAIL FROM" },
	{ CURLE_RECV_ERROR, 250, SMTP_STAGE_RCPT, "250 2.1.0 Ok",
	  SMTP_TEMP, SMTP_STAGE_CONNECT, 0, 0, "lost at RCPT" },
	{ CURLE_GOT_NOTHING, 0, SMTP_STAGE_CONNECT, "",
	  SMTP_TEMP, SMTP_STAGE_CONNECT, 0, 0, "cannot reach" },
};

static void
test_classify(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(classify_cases); i++) {
		const struct classify_case *k = &classify_cases[i];
		struct smtp_trace t;
		struct smtp_result res;

		memset(&res, 0xa5, sizeof(res));
		t.host = HOST;
		smtp_trace_reset(&t);
		t.stage = k->stage;
		str_copy(t.reply, k->reply, sizeof(t.reply));
		t.code = k->reply[0] != '\0' ? (k->reply[0] - '0') * 100 +
		    (k->reply[1] - '0') * 10 + (k->reply[2] - '0') : 0;
		smtp_classify(k->rc, k->code, &t, HOST, 587, "curl says",
		    &res);
		if (res.outcome != k->want || res.stage != k->want_stage ||
		    res.code != k->want_code ||
		    res.rate_limited != k->want_rate ||
		    strstr(res.text, k->want_text) == NULL)
			fail_msg("case %zu (rc %d, %ld): outcome %d stage %d "
			    "code %d rate %d text '%s'", i, k->rc, k->code,
			    res.outcome, res.stage, res.code,
			    res.rate_limited, res.text);
	}
}

/* A curl error buffer left empty (final dot) falls back to strerror. */
static void
test_classify_empty_errbuf(void **state)
{
	struct smtp_trace t;
	struct smtp_result res;

	(void)state;
	t.host = HOST;
	smtp_trace_reset(&t);
	smtp_classify(CURLE_COULDNT_CONNECT, 0, &t, HOST, 25, "", &res);
	assert_non_null(strstr(res.text,
	    curl_easy_strerror(CURLE_COULDNT_CONNECT)));
	/* 55 with a 5xx but no reply text seen: still says the code. */
	t.stage = SMTP_STAGE_RCPT;
	smtp_classify(CURLE_SEND_ERROR, 550, &t, HOST, 25, NULL, &res);
	assert_int_equal(res.outcome, SMTP_PERM);
	assert_string_equal(res.text, "550 at RCPT TO");
}

static void
test_rate_limited(void **state)
{
	static const struct {
		int code;
		const char *reply;
		int want;
	} cases[] = {
		{ 421, "421 4.4.2 timeout", 1 },
		{ 450, "450 4.7.1 Client host rejected", 1 },
		{ 451, "451-4.7.0 Try again later", 1 },
		{ 451, "451 4.3.0 Error: queue file write error generated", 0 },
		{ 450, "450 4.2.1 The user is receiving mail at a rate that "
		    "prevents additional messages", 1 },
		{ 451, "451 Ratelimit exceeded", 1 },
		{ 452, "452 4.5.3 Too many recipients", 1 },
		{ 452, "452 4.2.2 Mailbox full", 0 },
		{ 550, "550 5.7.1 rate limit, too many", 0 },
		{ 250, "250 rate", 0 },
	};

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++)
		if (smtp_rate_limited(cases[i].code, cases[i].reply) !=
		    cases[i].want)
			fail_msg("'%s' should be %d", cases[i].reply,
			    cases[i].want);
}

static void
test_stale(void **state)
{
	static const struct {
		int rc;
		long code;
		enum smtp_stage stage;
		int reused, want;
	} cases[] = {
		/* LIBRARIES.md §3.3: the stale 421 read as MAIL's reply. */
		{ CURLE_SEND_ERROR, 421, SMTP_STAGE_MAIL, 1, 1 },
		{ CURLE_SEND_ERROR, 421, SMTP_STAGE_MAIL, 0, 0 },
		{ CURLE_SEND_ERROR, 250, SMTP_STAGE_MAIL, 1, 1 },
		{ CURLE_SEND_ERROR, 0, SMTP_STAGE_CONNECT, 1, 1 },
		{ CURLE_RECV_ERROR, 250, SMTP_STAGE_MAIL, 1, 1 },
		{ CURLE_GOT_NOTHING, 0, SMTP_STAGE_MAIL, 1, 1 },
		/* A real answer from a live server: no second try. */
		{ CURLE_SEND_ERROR, 451, SMTP_STAGE_MAIL, 1, 0 },
		{ CURLE_SEND_ERROR, 553, SMTP_STAGE_MAIL, 1, 0 },
		/* Past MAIL FROM the server may have the mail. */
		{ CURLE_SEND_ERROR, 421, SMTP_STAGE_RCPT, 1, 0 },
		{ CURLE_RECV_ERROR, 354, SMTP_STAGE_DATA, 1, 0 },
		{ CURLE_OK, 250, SMTP_STAGE_DATA, 1, 0 },
		{ CURLE_COULDNT_CONNECT, 0, SMTP_STAGE_CONNECT, 1, 0 },
		{ CURLE_PEER_FAILED_VERIFICATION, 0, SMTP_STAGE_CONNECT, 1,
		  0 },
	};

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++)
		if (smtp_stale(cases[i].rc, cases[i].code, cases[i].stage,
		    cases[i].reused) != cases[i].want)
			fail_msg("case %zu should be %d", i, cases[i].want);
}

/* Feeds a string as libcurl would hand it over. */
static void
feed(struct smtp_trace *t, enum smtp_dir dir, const char *s)
{
	smtp_trace_feed(t, dir, s, strlen(s));
}

struct logcap {
	char	*text;
	size_t	 len;
	FILE	*f;
};

static void
logcap_start(struct logcap *c)
{
	c->text = NULL;
	c->f = open_memstream(&c->text, &c->len);
	assert_non_null(c->f);
	log_set_stream(c->f);
	log_set_level(LOG_LEVEL_DEBUG);
}

static void
logcap_stop(struct logcap *c)
{
	log_set_stream(NULL);
	log_set_level(LOG_LEVEL_INFO);
	fclose(c->f);
}

static void
test_trace_stages(void **state)
{
	struct smtp_trace t;

	(void)state;
	t.host = HOST;
	smtp_trace_reset(&t);
	assert_int_equal(t.stage, SMTP_STAGE_CONNECT);
	feed(&t, SMTP_DIR_IN, "220 mx ESMTP\r\n");
	assert_int_equal(t.code, 220);
	feed(&t, SMTP_DIR_OUT, "EHLO lsabewoners.nl\r\n");
	/* One chunk, several lines: the last one counts. */
	feed(&t, SMTP_DIR_IN, "250-mx\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
	assert_string_equal(t.reply, "250 8BITMIME");
	feed(&t, SMTP_DIR_OUT, "STARTTLS\r\n");
	assert_int_equal(t.stage, SMTP_STAGE_CONNECT);
	feed(&t, SMTP_DIR_OUT, "AUTH PLAIN\r\n");
	assert_int_equal(t.stage, SMTP_STAGE_AUTH);
	feed(&t, SMTP_DIR_OUT, "MAIL FROM:<annerike@lsabewoners.nl>\r\n");
	assert_int_equal(t.stage, SMTP_STAGE_MAIL);
	feed(&t, SMTP_DIR_OUT, "RCPT TO:<a@b.nl>\r\n");
	assert_int_equal(t.stage, SMTP_STAGE_RCPT);
	feed(&t, SMTP_DIR_OUT, "DATA\r\n");
	assert_int_equal(t.stage, SMTP_STAGE_DATA);
	/* A reply without a code, with controls: kept, made printable. */
	feed(&t, SMTP_DIR_IN, "oops\x1b[31m\r\n");
	assert_int_equal(t.code, 0);
	assert_string_equal(t.reply, "oops?[31m");
	feed(&t, SMTP_DIR_IN, "550 5.1.1 no");
	assert_int_equal(t.code, 550);
	assert_string_equal(t.reply, "550 5.1.1 no");
	/* QUIT and its 221 do not hide where and why it went wrong. */
	feed(&t, SMTP_DIR_OUT, "QUIT\r\n");
	feed(&t, SMTP_DIR_IN, "221 2.0.0 Bye\r\n");
	assert_int_equal(t.stage, SMTP_STAGE_DATA);
	assert_int_equal(t.code, 550);
	assert_string_equal(t.reply, "550 5.1.1 no");
	/* A new transfer starts clean. */
	smtp_trace_reset(&t);
	feed(&t, SMTP_DIR_IN, "250 ok\r\n");
	assert_int_equal(t.code, 250);
}

/* STYLE.md §7.7: no credential in the debug log, whatever the mechanism. */
static void
test_trace_redacts_auth(void **state)
{
	static const char *const secrets[] = {
		"AGFubmVyaWtlAHNlY3JldA==",	/* PLAIN, initial response */
		"YW5uZXJpa2U=",			/* LOGIN: user */
		"c2VjcmV0",			/* LOGIN: password */
		"dXNlcj1hAWF1dGg9QmVhcmVyIHRva2VuAQE=", /* XOAUTH2 */
	};
	struct smtp_trace t;
	struct logcap cap;

	(void)state;
	t.host = HOST;
	smtp_trace_reset(&t);
	logcap_start(&cap);
	feed(&t, SMTP_DIR_OUT, "EHLO lsabewoners.nl\r\n");
	feed(&t, SMTP_DIR_OUT, "AUTH PLAIN AGFubmVyaWtlAHNlY3JldA==\r\n");
	feed(&t, SMTP_DIR_IN, "535 5.7.8 failed\r\n");
	feed(&t, SMTP_DIR_OUT, "AUTH LOGIN\r\n");
	feed(&t, SMTP_DIR_IN, "334 VXNlcm5hbWU6\r\n");
	feed(&t, SMTP_DIR_OUT, "YW5uZXJpa2U=\r\n");
	feed(&t, SMTP_DIR_IN, "334 UGFzc3dvcmQ6\r\n");
	feed(&t, SMTP_DIR_OUT, "c2VjcmV0\r\n");
	feed(&t, SMTP_DIR_OUT,
	    "AUTH XOAUTH2 dXNlcj1hAWF1dGg9QmVhcmVyIHRva2VuAQE=\r\n");
	feed(&t, SMTP_DIR_IN, "235 2.7.0 ok\r\n");
	feed(&t, SMTP_DIR_OUT, "MAIL FROM:<annerike@lsabewoners.nl>\r\n");
	feed(&t, SMTP_DIR_TEXT, "Connection #0 left intact\n");
	logcap_stop(&cap);
	for (size_t i = 0; i < NELEM(secrets); i++) {
		if (strstr(cap.text, secrets[i]) != NULL)
			fail_msg("log shows %s:\n%s", secrets[i], cap.text);
		assert_null(strstr(t.reply, secrets[i]));
	}
	/* The rest of the trace is there, so the test sees the log. */
	assert_non_null(strstr(cap.text, "> EHLO lsabewoners.nl"));
	assert_non_null(strstr(cap.text, "> AUTH [redacted]"));
	assert_non_null(strstr(cap.text, "> [redacted]"));
	assert_non_null(strstr(cap.text, "< 334 VXNlcm5hbWU6"));
	/* Addresses masked as everywhere in the log. */
	assert_non_null(strstr(cap.text, "> MAIL FROM:<a***@lsabewoners.nl>"));
	assert_non_null(strstr(cap.text, "* Connection #0 left intact"));
	free(cap.text);
}

/* Without debug logging nothing is written, but the stage still moves. */
static void
test_trace_quiet(void **state)
{
	struct smtp_trace t;
	struct logcap cap;

	(void)state;
	t.host = HOST;
	smtp_trace_reset(&t);
	logcap_start(&cap);
	log_set_level(LOG_LEVEL_INFO);
	feed(&t, SMTP_DIR_OUT, "RCPT TO:<a@b.nl>\r\n");
	feed(&t, SMTP_DIR_IN, "250 ok\r\n");
	logcap_stop(&cap);
	assert_int_equal(cap.len, 0);
	assert_int_equal(t.stage, SMTP_STAGE_RCPT);
	assert_int_equal(t.code, 250);
	free(cap.text);
}

static struct botu_conf *
conf_for(const char *host, int port, int security)
{
	struct botu_conf *c = conf_defaults();

	free(c->list.address);
	c->list.address = xstrdup("annerike@lsabewoners.nl");
	free(c->smtp.srv.host);
	c->smtp.srv.host = xstrdup(host);
	c->smtp.srv.port = port;
	c->smtp.srv.security = security;
	return c;
}

static void
test_url(void **state)
{
	static const struct {
		const char *host;
		int port, security;
		const char *want;
	} cases[] = {
		{ "smtp.example.org", 0, SEC_TLS,
		  "smtps://smtp.example.org:465/lsabewoners.nl" },
		{ "smtp.example.org", 0, SEC_STARTTLS,
		  "smtp://smtp.example.org:587/lsabewoners.nl" },
		{ "127.0.0.1", 2525, SEC_NONE,
		  "smtp://127.0.0.1:2525/lsabewoners.nl" },
		{ "::1", 2525, SEC_STARTTLS,
		  "smtp://[::1]:2525/lsabewoners.nl" },
	};

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct botu_conf *c = conf_for(cases[i].host, cases[i].port,
		    cases[i].security);
		char *url = smtp_url_new(c);

		assert_string_equal(url, cases[i].want);
		free(url);
		conf_free(c);
	}
}

/* A loopback port nobody listens on: bound, never listening. */
static int
closed_port(int *fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(*fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

/*
 * What smtp_send() refuses before connecting, told apart from a connect
 * attempt by the refused port: that would give TEMP at CONNECT.
 */
static void
test_send_refuses_early(void **state)
{
	static const char msg[] = "Subject: x\r\n\r\nx\r\n";
	struct botu_conf *c;
	struct smtp_conn *conn;
	struct smtp_result res;
	char *dir = *state;
	int fd, port = closed_port(&fd);

	c = conf_for("127.0.0.1", port, SEC_NONE);
	conn = smtp_conn_new(c);
	/* CRLF in an address would smuggle a command. */
	assert_int_equal(smtp_send(conn, "annerike@lsabewoners.nl",
	    "a@b.nl>\r\nRCPT TO:<c@d.nl", msg, sizeof(msg) - 1, &res),
	    BOTU_OK);
	assert_int_equal(res.outcome, SMTP_PERM);
	assert_int_equal(res.stage, SMTP_STAGE_RCPT);
	assert_int_equal(smtp_send(conn, "x y@lsabewoners.nl", "a@b.nl",
	    msg, sizeof(msg) - 1, &res), BOTU_OK);
	assert_int_equal(res.outcome, SMTP_OURS);
	assert_int_equal(res.stage, SMTP_STAGE_MAIL);
	/* And now it does connect, and is refused. */
	assert_int_equal(smtp_send(conn, "annerike@lsabewoners.nl", "a@b.nl",
	    msg, sizeof(msg) - 1, &res), BOTU_OK);
	assert_int_equal(res.outcome, SMTP_TEMP);
	assert_int_equal(res.stage, SMTP_STAGE_CONNECT);
	assert_non_null(strstr(res.text, "cannot reach 127.0.0.1:"));
	smtp_conn_free(conn);

	/* A username without a readable secret: ours, before connecting. */
	free(c->smtp.srv.username);
	c->smtp.srv.username = xstrdup("annerike");
	free(c->smtp.srv.password_file);
	c->smtp.srv.password_file = xasprintf("%s/missing.secret", dir);
	conn = smtp_conn_new(c);
	assert_int_equal(smtp_send(conn, "annerike@lsabewoners.nl", "a@b.nl",
	    msg, sizeof(msg) - 1, &res), BOTU_OK);
	assert_int_equal(res.outcome, SMTP_OURS);
	assert_int_equal(res.stage, SMTP_STAGE_AUTH);
	assert_non_null(strstr(res.text, "missing.secret"));
	smtp_conn_free(conn);
	conf_free(c);
	close(fd);
}

static void
test_check_early(void **state)
{
	struct botu_conf *c;
	char err[BOTU_ERRLEN];
	int fd, port = closed_port(&fd);

	(void)state;
	c = conf_for("", 0, SEC_STARTTLS);
	assert_int_equal(smtp_check(c, err), BOTU_ECONFIG);
	assert_non_null(strstr(err, "[smtp] host is required"));
	conf_free(c);
	c = conf_for("127.0.0.1", port, SEC_NONE);
	assert_int_equal(smtp_check(c, err), BOTU_ECONN);
	assert_non_null(strstr(err, "cannot reach 127.0.0.1:"));
	conf_free(c);
	close(fd);
}

static int
setup(void **state)
{
	*state = tmpdir_new();
	return 0;
}

static int
teardown(void **state)
{
	tmpdir_remove(*state);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_classify_empty_errbuf),
		cmocka_unit_test(test_rate_limited),
		cmocka_unit_test(test_stale),
		cmocka_unit_test(test_trace_stages),
		cmocka_unit_test(test_trace_redacts_auth),
		cmocka_unit_test(test_trace_quiet),
		cmocka_unit_test(test_url),
		cmocka_unit_test_setup_teardown(test_send_refuses_early,
		    setup, teardown),
		cmocka_unit_test(test_check_early),
	};

	smtp_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
