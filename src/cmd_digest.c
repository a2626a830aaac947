/* cmd_digest.c - botu digest preview|send|list, botu post, botu updates */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "botu/cmd.h"
#include "botu/digest.h"
#include "botu/posts.h"
#include "botu/template.h"
#include "botu/util.h"

static const char usage_digest[] =
    "usage: botu digest preview [--html] [--monthly] [--member ADDRESS]\n"
    "       botu digest send [--empty]\n"
    "       botu digest list [--json]\n";

static const char usage_preview[] =
    "usage: botu digest preview [--html] [--monthly] [--member ADDRESS]\n"
    "  Shows the next issue as it would be made now, without storing or\n"
    "  sending anything: the text part, or with --html the HTML part.\n"
    "  --member shows it as that member gets it (their language, name and\n"
    "  unsubscribe address); --monthly as the monthly edition.\n";

static const char usage_send[] =
    "usage: botu digest send [--empty]\n"
    "  Makes the next issue now, for the time since the last one, and\n"
    "  queues it for every member who gets it; the daemon sends it (or\n"
    "  botu outbox flush). Nothing happened: no issue, unless --empty or\n"
    "  [digest] send_empty. The schedule counts from now.\n";

static const char usage_list[] =
    "usage: botu digest list [--json]\n"
    "  The issues made so far, newest first, with how many mails were\n"
    "  queued and sent.\n";

static const char usage_post[] =
    "usage: botu post --subject SUBJECT [--file FILE] [--name NAME]\n"
    "  Publishes an update for the next digest, as the organiser. The text\n"
    "  comes from FILE (- or no --file: standard input); NAME is shown\n"
    "  with it.\n";

/*
 * Now, once the second has turned: an issue covers up to the second
 * before it is made (digest.c), so an update posted just before "botu
 * digest send" is in it.
 */
static time_t
next_second(void)
{
	time_t t0 = time(NULL), t;
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	while ((t = time(NULL)) == t0)
		nanosleep(&ts, NULL);
	return t;
}

static int
preview_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "html", no_argument, NULL, 'H' },
		{ "monthly", no_argument, NULL, 'm' },
		{ "member", required_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	const char *email = NULL;
	char err[BOTU_ERRLEN] = "";
	int ch, code = EX_OK, html = 0, monthly = 0, items = 0, rc;
	struct tmpl_mail tm;
	struct botu_db *db;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_preview,
	    &code)) != -1) {
		if (ch == '?')
			return code;
		if (ch == 'H')
			html = 1;
		else if (ch == 'm')
			monthly = 1;
		else if (ch == 'M')
			email = optarg;
	}
	if (optind != argc)
		return cli_fail(EX_USAGE, "%s", usage_preview);
	if (cli_conf(cli, &code) == NULL || (db = cli_db(cli, &code)) == NULL)
		return code;
	rc = digest_preview(db, cli->conf, next_second(), email, monthly, &tm,
	    &items, err);
	if (rc != BOTU_OK)
		return cli_fail(cli_exit_code(rc), "%s", err);
	if (html)
		fputs(tm.html != NULL ? tm.html : "", stdout);
	else
		printf("Subject: %s\n\n%s", tm.subject, tm.text);
	if (items == 0 && !cli->conf->digest.send_empty)
		fprintf(stderr, "botu: nothing happened since the last issue: "
		    "none would be sent now\n");
	tmpl_mail_clear(&tm);
	return EX_OK;
}

static int
send_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "empty", no_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	struct digest_made made;
	char err[BOTU_ERRLEN] = "";
	int ch, code = EX_OK, empty = 0, rc;
	time_t now;
	struct botu_db *db;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_send, &code)) !=
	    -1) {
		if (ch == '?')
			return code;
		empty = 1;
	}
	if (optind != argc)
		return cli_fail(EX_USAGE, "%s", usage_send);
	if (cli_conf(cli, &code) == NULL || (db = cli_db(cli, &code)) == NULL)
		return code;
	now = next_second();
	if (db_begin(db) != BOTU_OK)
		return cli_fail(EX_TEMPFAIL, "%s", db_errmsg(db));
	rc = digest_issue(db, cli->conf, now, empty, &made, err);
	if (rc == BOTU_OK && db_commit(db) != BOTU_OK) {
		snprintf(err, sizeof(err), "%s", db_errmsg(db));
		rc = BOTU_ETEMP;
	}
	if (rc != BOTU_OK) {
		db_rollback(db);
		return cli_fail(cli_exit_code(rc), "%s", err);
	}
	if (made.id == 0)
		printf("nothing happened since the last issue: none made\n");
	else
		printf("digest #%d: %d item%s, queued for %d member%s%s\n",
		    made.number, made.items, made.items == 1 ? "" : "s",
		    made.rows, made.rows == 1 ? "" : "s", made.monthly ?
		    " (with the monthly edition)" : "");
	return EX_OK;
}

static int
list_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, code = EX_OK, json = 0;
	struct botu_db *db;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_list, &code)) !=
	    -1) {
		if (ch == '?')
			return code;
		json = 1;
	}
	if (optind != argc)
		return cli_fail(EX_USAGE, "%s", usage_list);
	if ((db = cli_db(cli, &code)) == NULL)
		return code;
	if (digest_write(db, stdout, json) != BOTU_OK)
		return cli_fail(EX_SOFTWARE, "%s", db_errmsg(db));
	return EX_OK;
}

int
cmd_digest(struct cli *cli, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "preview", preview_cmd },
		{ "send", send_cmd },
		{ "list", list_cmd },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, subs, usage_digest);
}

/* The whole of f as a string (owned), or NULL. */
static char *
read_all(FILE *f)
{
	struct buf b;
	char chunk[4096];
	size_t n;

	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	if (ferror(f)) {
		buf_free(&b);
		return NULL;
	}
	return buf_detach(&b);
}

int
cmd_post(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "subject", required_argument, NULL, 's' },
		{ "file", required_argument, NULL, 'f' },
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *subject = NULL, *file = NULL, *name = "";
	char err[BOTU_ERRLEN] = "", *text, *body;
	int ch, code = EX_OK, rc;
	struct botu_db *db;
	int64_t id = 0;
	FILE *f;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_post, &code)) !=
	    -1) {
		if (ch == '?')
			return code;
		if (ch == 's')
			subject = optarg;
		else if (ch == 'f')
			file = optarg;
		else if (ch == 'n')
			name = optarg;
	}
	if (optind != argc || subject == NULL)
		return cli_fail(EX_USAGE, "%s", usage_post);
	f = file == NULL || strcmp(file, "-") == 0 ? stdin :
	    fopen(file, "r");
	if (f == NULL)
		return cli_fail(EX_NOINPUT, "cannot open %s", file);
	text = read_all(f);
	if (f != stdin)
		fclose(f);
	if (text == NULL)
		return cli_fail(EX_IOERR, "cannot read %s", file != NULL ?
		    file : "standard input");
	body = utf8_sanitize(text);
	free(text);
	body = str_trim(body);
	if (body[0] == '\0' || subject[0] == '\0') {
		free(body);
		return cli_fail(EX_DATAERR, "an update needs a subject and "
		    "a text");
	}
	if ((db = cli_db(cli, &code)) == NULL) {
		free(body);
		return code;
	}
	if (db_begin(db) != BOTU_OK) {
		free(body);
		return cli_fail(EX_TEMPFAIL, "%s", db_errmsg(db));
	}
	rc = posts_add(db, subject, body, name, &id, err);
	free(body);
	if (rc == BOTU_OK && db_commit(db) != BOTU_OK) {
		snprintf(err, sizeof(err), "%s", db_errmsg(db));
		rc = BOTU_ETEMP;
	}
	if (rc != BOTU_OK) {
		db_rollback(db);
		return cli_fail(cli_exit_code(rc), "%s", err);
	}
	printf("update %lld is published; it goes out with the next digest\n",
	    (long long)id);
	return EX_OK;
}

static const char usage_updates[] =
    "usage: botu updates list [--json] [--status STATUS]\n"
    "       botu updates approve ID\n"
    "       botu updates reject ID [--reason TEXT]\n";

static const char usage_updates_list[] =
    "usage: botu updates list [--json] [--status STATUS]\n"
    "  Lists the updates, newest first. STATUS: unconfirmed (by the\n"
    "  sender), pending (for a moderator), published, rejected.\n";

static const char usage_updates_approve[] =
    "usage: botu updates approve ID\n"
    "  Publishes an update that waits for a moderator, as a moderator's\n"
    "  \"akkoord\" would: the sender is told.\n";

static const char usage_updates_reject[] =
    "usage: botu updates reject ID [--reason TEXT]\n"
    "  Rejects an update that waits for a moderator; the sender gets a\n"
    "  kind mail with TEXT as the reason.\n";

static int
updates_list_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "json", no_argument, NULL, 'j' },
		{ "status", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *status = NULL;
	int json = 0, ch, code = EX_OK;
	struct botu_db *db;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_updates_list,
	    &code)) != -1) {
		if (ch == '?')
			return code;
		if (ch == 'j')
			json = 1;
		else if (ch == 's')
			status = optarg;
	}
	if (optind != argc)
		return cli_fail(EX_USAGE, "%s", usage_updates_list);
	if (status != NULL && !posts_valid_status(status))
		return cli_fail(EX_USAGE, "no update status '%s' (see botu "
		    "updates list --help)", status);
	if ((db = cli_db(cli, &code)) == NULL)
		return code;
	if (posts_write(db, stdout, json, status) != BOTU_OK)
		return cli_fail(EX_SOFTWARE, "%s", db_errmsg(db));
	return EX_OK;
}

/* A moderator's decision from the command line, in one transaction. */
static int
updates_decide(struct cli *cli, int argc, char **argv, int approve)
{
	static const struct option reject_opts[] = {
		CLI_OPT_HELP,
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option approve_opts[] = {
		CLI_OPT_HELP,
		{ NULL, 0, NULL, 0 },
	};
	const char *usage = approve ? usage_updates_approve :
	    usage_updates_reject;
	const char *reason = NULL;
	char err[BOTU_ERRLEN] = "";
	int ch, code = EX_OK, rc;
	struct botu_db *db;
	long long id;

	while ((ch = cli_getopt(argc, argv, "h", approve ? approve_opts :
	    reject_opts, usage, &code)) != -1) {
		if (ch == '?')
			return code;
		reason = optarg;
	}
	if (optind + 1 != argc)
		return cli_fail(EX_USAGE, "%s", usage);
	if (str_to_int(argv[optind], 1, INT64_MAX, &id) < 0)
		return cli_fail(EX_USAGE, "'%s' is not an update number",
		    argv[optind]);
	if (cli_conf(cli, &code) == NULL || (db = cli_db(cli, &code)) == NULL)
		return code;
	if (db_begin(db) != BOTU_OK)
		return cli_fail(EX_TEMPFAIL, "%s", db_errmsg(db));
	rc = approve ? posts_approve(db, cli->conf, (int64_t)id, "cli", NULL,
	    err) : posts_reject(db, cli->conf, (int64_t)id, "cli", reason,
	    NULL, err);
	if (rc == BOTU_OK && db_commit(db) != BOTU_OK) {
		snprintf(err, sizeof(err), "%s", db_errmsg(db));
		rc = BOTU_ETEMP;
	}
	if (rc != BOTU_OK) {
		db_rollback(db);
		return cli_fail(cli_exit_code(rc), "%s", err);
	}
	printf("update %lld %s; the sender's mail goes with the next botu "
	    "run or botu outbox flush\n", id, approve ? "is published" :
	    "is rejected");
	return EX_OK;
}

static int
updates_approve_cmd(struct cli *cli, int argc, char **argv)
{
	return updates_decide(cli, argc, argv, 1);
}

static int
updates_reject_cmd(struct cli *cli, int argc, char **argv)
{
	return updates_decide(cli, argc, argv, 0);
}

int
cmd_updates(struct cli *cli, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "list", updates_list_cmd },
		{ "approve", updates_approve_cmd },
		{ "reject", updates_reject_cmd },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, subs, usage_updates);
}
