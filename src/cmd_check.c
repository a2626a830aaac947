/* cmd_check.c - botu check: is everything in place to run? */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "botu/cmd.h"
#include "botu/mailout.h"
#include "botu/template.h"
#include "botu/imap.h"
#include "botu/log.h"
#include "botu/sendtest.h"
#include "botu/smtp.h"
#include "botu/util.h"
#include "botu/verp.h"

static const char usage_check[] =
    "usage: botu check [--send-test [--timeout SECONDS]]\n"
    "  Checks the configuration, the database and the secrets, logs in to\n"
    "  the IMAP and SMTP servers (sending nothing), and says per item what\n"
    "  is wrong and what to do.\n"
    "  --send-test  also mail the list's own +test address and wait for\n"
    "             it (default 120 s): do plus-addresses arrive, does the\n"
    "             envelope sender survive (VERP), what do SPF, DKIM and\n"
    "             DMARC say; the test mail is moved out of the inbox\n";

#define CONNECT_TIMEOUT_MS 10000

struct report {
	int problems;
	int code;
};

static void
report_ok(const char *what, const char *detail)
{
	printf("ok      %-14s %s\n", what, detail);
}

/* Worth knowing, not a problem. */
static void
report_note(const char *what, const char *detail)
{
	printf("note    %-14s %s\n", what, detail);
}

static void
report_bad(struct report *r, int code, const char *what, const char *detail)
{
	printf("FAILED  %-14s %s\n", what, detail);
	r->problems++;
	if (r->code == EX_OK)
		r->code = code;
}

static void
check_secret(struct report *r, const char *what,
    const struct conf_server *s)
{
	char err[BOTU_ERRLEN], *secret = NULL;

	if (s->username[0] == '\0')
		return;
	char buf[BOTU_ERRLEN], detail[BOTU_ERRLEN + 64];
	const char *path = conf_secret_file(s, buf, sizeof(buf));
	struct stat st;

	if (conf_secret(s, &secret, err) != BOTU_OK) {
		report_bad(r, EX_CONFIG, what, err);
		return;
	}
	explicit_bzero(secret, strlen(secret));
	free(secret);
	if (path[0] == '\0') {
		report_ok(what, "password_command printed a secret");
		return;
	}
	/* Readable by botu, and by nobody else (systemd's credential copies
	 * have the mode systemd gives them). */
	if (path == s->password_file && stat(path, &st) == 0 &&
	    (st.st_mode & (S_IRWXG | S_IRWXO))) {
		snprintf(detail, sizeof(detail), "%s can be read by others: "
		    "chmod 600 %s", path, path);
		report_bad(r, EX_CONFIG, what, detail);
		return;
	}
	report_ok(what, path);
}

static char *
folder_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	return xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/* botu writes the database and, in WAL mode, two files beside it. */
static int
check_permissions(struct report *r, const struct botu_conf *conf)
{
	const char *db = conf->list.database;
	char *dir = folder_of(db), detail[BOTU_ERRLEN];
	int ok = 0;

	if (access(dir, W_OK | X_OK) != 0)
		snprintf(detail, sizeof(detail), "cannot write in %s (%s): "
		    "botu keeps the database and two files beside it there; "
		    "create the folder or make it writable for this user",
		    dir, strerror(errno));
	else if (access(db, F_OK) == 0 && access(db, R_OK | W_OK) != 0)
		snprintf(detail, sizeof(detail), "cannot write %s (%s): make "
		    "it writable for this user (chown)", db, strerror(errno));
	else {
		snprintf(detail, sizeof(detail), "%s can be written", dir);
		ok = 1;
	}
	if (ok)
		report_ok("permissions", detail);
	else
		report_bad(r, EX_CANTCREAT, "permissions", detail);
	free(dir);
	return ok ? 0 : -1;
}

/* A TCP connection to one address, within CONNECT_TIMEOUT_MS. */
static int
try_connect(const struct addrinfo *ai)
{
	struct pollfd p;
	socklen_t len = sizeof(int);
	int fd, soerr = 0, rc;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return errno;
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (rc < 0 && errno == EINPROGRESS) {
		p.fd = fd;
		p.events = POLLOUT;
		rc = poll(&p, 1, CONNECT_TIMEOUT_MS);
		if (rc == 0)
			soerr = ETIMEDOUT;
		else if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR,
		    &soerr, &len) < 0)
			soerr = errno;
	} else if (rc < 0)
		soerr = errno;
	close(fd);
	return soerr;
}

/*
 * Can the server be found and reached? One line that says which, before
 * TLS and the login are tried; 0 when it answers.
 */
static int
check_reach(struct report *r, const char *sec, const struct conf_server *s,
    int is_smtp)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	char port[16], what[32], detail[BOTU_ERRLEN];
	int rc, e = ECONNREFUSED;

	snprintf(what, sizeof(what), "%s server", sec);
	snprintf(port, sizeof(port), "%d", conf_port(s, is_smtp));
	rc = getaddrinfo(s->host, port, &hints, &res);
	if (rc != 0) {
		snprintf(detail, sizeof(detail), "cannot find host %s (%s): "
		    "check [%s] host%s", s->host, gai_strerror(rc), sec,
		    rc == EAI_AGAIN ? " and this machine's DNS" : "");
		report_bad(r, rc == EAI_AGAIN ? EX_UNAVAILABLE : EX_CONFIG,
		    what, detail);
		return -1;
	}
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		e = try_connect(ai);
		if (e == 0)
			break;
	}
	freeaddrinfo(res);
	if (e == 0) {
		snprintf(detail, sizeof(detail), "%s port %s answers", s->host,
		    port);
		report_ok(what, detail);
		return 0;
	}
	if (e == ETIMEDOUT)
		snprintf(detail, sizeof(detail), "no answer from %s port %s "
		    "in %d seconds: check [%s] port, and any firewall between",
		    s->host, port, CONNECT_TIMEOUT_MS / 1000, sec);
	else
		snprintf(detail, sizeof(detail), "%s port %s: %s: check [%s] "
		    "port and security (%s)", s->host, port, strerror(e), sec,
		    is_smtp ? "starttls: 587, tls: 465" :
		    "tls: 993, starttls: 143");
	report_bad(r, EX_UNAVAILABLE, what, detail);
	return -1;
}

static void
check_database(struct report *r, struct botu_db *db)
{
	sqlite3_stmt *st;
	char detail[BOTU_ERRLEN];
	const char *res = "?";
	int rc;

	/* Not cached: it runs once. */
	if (sqlite3_prepare_v2(db_sqlite(db), "PRAGMA quick_check", -1, &st,
	    NULL) != SQLITE_OK) {
		report_bad(r, EX_UNAVAILABLE, "database", db_errmsg(db));
		return;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		res = db_col_text(st, 0);
	if (rc == SQLITE_ROW && strcmp(res, "ok") == 0) {
		snprintf(detail, sizeof(detail), "schema version %d, intact",
		    db_version(db));
		report_ok("database", detail);
	} else {
		snprintf(detail, sizeof(detail), "damaged: %s; restore a "
		    "backup", rc == SQLITE_ROW ? res : db_errmsg(db));
		report_bad(r, EX_DATAERR, "database", detail);
	}
	sqlite3_finalize(st);
}

/* What to do about a failed IMAP step; imap.c's texts say what failed. */
static const char *
imap_advice(int rc)
{
	switch (rc) {
	case BOTU_EAUTH:
		return "check [imap] username, auth and the password";
	case BOTU_ECONN:
		return "check [imap] host, port and security (tls: 993, "
		    "starttls: 143)";
	case BOTU_EPERM:
		return "check [imap] mailbox";
	default:
		return "check [imap] host and ca_file";
	}
}

/* Connects, logs in and selects the mailbox, as botu run does. */
static void
check_imap(struct report *r, const struct botu_conf *conf)
{
	struct imap_mailbox mb;
	struct imap *im = NULL;
	char err[BOTU_ERRLEN], detail[BOTU_ERRLEN + 64];
	size_t n;
	int rc;

	if (conf->imap.srv.host == NULL || conf->imap.srv.host[0] == '\0')
		return;
	if (conf_require_imap(conf, err) < 0) {
		report_bad(r, EX_CONFIG, "imap login", err);
		return;
	}
	if (check_reach(r, "imap", &conf->imap.srv, 0) < 0)
		return;
	im = imap_new(conf);
	rc = imap_connect(im, err);
	if (rc == BOTU_OK)
		rc = imap_select(im, conf->imap.mailbox, &mb, err);
	if (rc == BOTU_OK) {
		snprintf(detail, sizeof(detail), "%s: %u message%s",
		    conf->imap.mailbox, mb.exists, mb.exists == 1 ? "" : "s");
		report_ok("imap login", detail);
		imap_logout(im);
		return;
	}
	n = strlen(err);
	if (n > 0 && err[n - 1] == '.')	/* the server's sentence */
		err[n - 1] = '\0';
	snprintf(detail, sizeof(detail), "%s; %s", err, imap_advice(rc));
	report_bad(r, rc == BOTU_ECONN ? EX_UNAVAILABLE : EX_CONFIG,
	    "imap login", detail);
	imap_free(im);
}

/* Connects and logs in (smtp.c's texts say what to do); sends nothing. */
static void
check_smtp(struct report *r, const struct botu_conf *conf)
{
	char err[BOTU_ERRLEN], detail[BOTU_ERRLEN];
	int rc;

	if (conf->smtp.srv.host == NULL || conf->smtp.srv.host[0] == '\0')
		return;
	if (check_reach(r, "smtp", &conf->smtp.srv, 1) < 0)
		return;
	rc = smtp_check(conf, err);
	if (rc != BOTU_OK) {
		report_bad(r, rc == BOTU_ECONN ? EX_UNAVAILABLE : EX_CONFIG,
		    "smtp login", err);
		return;
	}
	snprintf(detail, sizeof(detail), "%s:%d", conf->smtp.srv.host,
	    conf_port(&conf->smtp.srv, 1));
	report_ok("smtp login", detail);
}

/* Every mail botu sends renders in every language, from these files. */
static void
check_templates(struct report *r, const struct botu_conf *conf)
{
	char err[BOTU_ERRLEN], detail[BOTU_ERRLEN];
	int n;

	if (mailout_check(conf, &n, err) != BOTU_OK) {
		report_bad(r, EX_CONFIG, "templates", err);
		return;
	}
	snprintf(detail, sizeof(detail), "%d mails in %s", n,
	    tmpl_dir(conf->list.templates));
	report_ok("templates", detail);
}

/* One line per thing the send test learnt, with what to do. */
static void
report_send_test(struct report *r, const struct sendtest_result *t)
{
	char d[BOTU_ERRLEN + 400];

	snprintf(d, sizeof(d), "%s arrived after %.1f s%s", t->address,
	    t->seconds, t->removed ? "; moved out of the inbox" :
	    "; it could not be moved: delete it yourself");
	report_ok("send test", d);
	if (t->detail_kept)
		snprintf(d, sizeof(d), "they arrive, and Delivered-To keeps "
		    "the +detail (%s)", t->delivered_to);
	else
		snprintf(d, sizeof(d), "they arrive; %s, so botu reads the "
		    "+detail from the To header", t->delivered_to[0] ?
		    "Delivered-To has the plain address" :
		    "there is no Delivered-To");
	report_ok("plus-address", d);
	if (t->envelope)
		report_ok("envelope", "Return-Path is the bounce address: "
		    "bounces come back to botu (VERP)");
	else {
		snprintf(d, sizeof(d), "Return-Path is <%s>, not the bounce "
		    "address <%s>: the provider rewrites the envelope sender, "
		    "so botu does without VERP (Message-IDs still tie "
		    "bounces to its mail)", t->return_path, t->verp);
		report_note("envelope", d);
	}
	if (!t->has_authres) {
		report_note("authentication", "no Authentication-Results "
		    "header: the receiving server does not say whether SPF, "
		    "DKIM and DMARC pass; send a mail to a Gmail or Outlook "
		    "address and look at its headers");
		return;
	}
	snprintf(d, sizeof(d), "spf=%s dkim=%s dmarc=%s", t->spf[0] ? t->spf :
	    "(none)", t->dkim[0] ? t->dkim : "(none)", t->dmarc[0] ?
	    t->dmarc : "(none)");
	if (strcmp(t->dmarc, "pass") == 0)
		report_ok("authentication", d);
	else {
		size_t n = strlen(d);

		snprintf(d + n, sizeof(d) - n, ": without DMARC pass big "
		    "providers may file the list's mail as spam; publish SPF "
		    "for the SMTP server and a DKIM key for the list's domain");
		report_bad(r, EX_CONFIG, "authentication", d);
	}
}

static void
check_send_test(struct report *r, const struct botu_conf *conf,
    struct botu_db *db, int timeout)
{
	struct sendtest_result t;
	char d[BOTU_ERRLEN + 400];
	int rc;

	if (conf_require_imap(conf, d) < 0 || conf_require_smtp(conf, d) < 0) {
		report_bad(r, EX_CONFIG, "send test", d);
		return;
	}
	rc = sendtest_run(conf, db, timeout, &t);
	if (rc == BOTU_OK && !t.arrived) {
		snprintf(d, sizeof(d), "the mail to %s did not arrive within "
		    "%d s: plus-addresses seem not to reach this mailbox "
		    "(ask the provider, or a longer --timeout); botu does "
		    "without VERP, and +aanmelden and the other "
		    "plus-addresses will not work", t.address, timeout);
		report_bad(r, EX_UNAVAILABLE, "plus-address", d);
	} else if (rc == BOTU_OK)
		report_send_test(r, &t);
	else
		report_bad(r, rc == BOTU_ECONN || rc == BOTU_ETEMP ?
		    EX_UNAVAILABLE : EX_CONFIG, "send test", t.err);
	if (t.sent)
		printf("%-7s %-14s [smtp] verp = %s: %s\n", "", "verp",
		    conf->smtp.verp == VERP_YES ? "yes" :
		    conf->smtp.verp == VERP_NO ? "no" : "auto",
		    verp_enabled(db, conf) ? "botu uses bounce addresses" :
		    "botu does not use bounce addresses");
}

int
cmd_check(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "send-test", no_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct report r = { 0, EX_OK };
	const struct botu_conf *conf;
	struct botu_db *db;
	long long timeout = 120;
	int ch, code = EX_OK, send_test = 0;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_check,
	    &code)) != -1) {
		if (ch == '?')
			return code;
		if (ch == 's')
			send_test = 1;
		else if (ch == 't' && str_to_int(optarg, 1, 3600, &timeout) < 0)
			return cli_fail(EX_USAGE, "--timeout: '%s' is not a "
			    "number of seconds from 1 to 3600", optarg);
	}
	if (optind != argc)
		return cli_fail(EX_USAGE, "%s", usage_check);
	if ((conf = cli_conf(cli, &code)) == NULL)
		return code;
	report_ok("configuration", conf->file);
	check_templates(&r, conf);
	check_secret(&r, "imap secret", &conf->imap.srv);
	check_secret(&r, "smtp secret", &conf->smtp.srv);
	if (check_permissions(&r, conf) < 0) {
		printf("%d problem%s found\n", r.problems,
		    r.problems == 1 ? "" : "s");
		return r.code;
	}
	if ((db = cli_db(cli, &code)) == NULL) {
		printf("FAILED  %-14s see the line above\n", "database");
		return code;
	}
	check_database(&r, db);
	smtp_global_init();
	check_imap(&r, conf);
	check_smtp(&r, conf);
	if (send_test && r.problems == 0)
		check_send_test(&r, conf, db, (int)timeout);
	else if (send_test)
		printf("%-7s %-14s not run: fix the problems above first\n",
		    "", "send test");
	if (r.problems > 0)
		printf("%d problem%s found\n", r.problems,
		    r.problems == 1 ? "" : "s");
	return r.code;
}
