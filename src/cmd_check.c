/* cmd_check.c - botu check: is everything in place to run? */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "botu/cmd.h"
#include "botu/mailout.h"
#include "botu/template.h"
#include "botu/imap.h"
#include "botu/log.h"
#include "botu/smtp.h"

static const char usage_check[] =
    "usage: botu check\n"
    "  Checks the configuration, the database and the secrets, logs in to\n"
    "  the IMAP and SMTP servers (sending nothing), and says per item what\n"
    "  is wrong and what to do.\n";

struct report {
	int problems;
	int code;
};

static void
report_ok(const char *what, const char *detail)
{
	printf("ok      %-14s %s\n", what, detail);
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
	if (conf_secret(s, &secret, err) != BOTU_OK) {
		report_bad(r, EX_CONFIG, what, err);
		return;
	}
	explicit_bzero(secret, strlen(secret));
	free(secret);
	report_ok(what, s->password_file[0] != '\0' ? s->password_file :
	    "password_command printed a secret");
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

int
cmd_check(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ NULL, 0, NULL, 0 },
	};
	struct report r = { 0, EX_OK };
	const struct botu_conf *conf;
	struct botu_db *db;
	int ch, code = EX_OK;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_check,
	    &code)) != -1)
		if (ch == '?')
			return code;
	if (optind != argc)
		return cli_fail(EX_USAGE, "%s", usage_check);
	if ((conf = cli_conf(cli, &code)) == NULL)
		return code;
	report_ok("configuration", conf->file);
	check_templates(&r, conf);
	check_secret(&r, "imap secret", &conf->imap.srv);
	check_secret(&r, "smtp secret", &conf->smtp.srv);
	if ((db = cli_db(cli, &code)) == NULL) {
		printf("FAILED  %-14s see the line above\n", "database");
		return code;
	}
	check_database(&r, db);
	smtp_global_init();
	check_imap(&r, conf);
	check_smtp(&r, conf);
	if (r.problems > 0)
		printf("%d problem%s found\n", r.problems,
		    r.problems == 1 ? "" : "s");
	return r.code;
}
