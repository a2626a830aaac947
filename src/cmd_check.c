/* cmd_check.c - botu check: is everything in place to run? */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "botu/cmd.h"
#include "botu/log.h"

static const char usage_check[] =
    "usage: botu check\n"
    "  Checks the configuration, the database and the secrets, and says\n"
    "  per item what is wrong and what to do.\n";

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
	check_secret(&r, "imap secret", &conf->imap.srv);
	check_secret(&r, "smtp secret", &conf->smtp.srv);
	if ((db = cli_db(cli, &code)) == NULL) {
		printf("FAILED  %-14s see the line above\n", "database");
		return code;
	}
	check_database(&r, db);
	if (r.problems > 0)
		printf("%d problem%s found\n", r.problems,
		    r.problems == 1 ? "" : "s");
	return r.code;
}
