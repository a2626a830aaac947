/* cmd_notes.c - botu notes list|show|approve|reject, and botu waaier */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "botu/cmd.h"
#include "botu/log.h"
#include "botu/notes.h"
#include "botu/util.h"
#include "botu/waaier.h"

static const char usage_notes[] =
    "usage: botu notes list [--json] [--status STATUS]\n"
    "       botu notes show ID [--json]\n"
    "       botu notes approve ID\n"
    "       botu notes reject ID [--reason TEXT]\n";

static const char usage_list[] =
    "usage: botu notes list [--json] [--status STATUS]\n"
    "  Lists PS notes, newest first. STATUS: waiting (for the author's\n"
    "  sign-up), unconfirmed (by the author), pending (for a moderator),\n"
    "  published, rejected, replaced, withdrawn.\n";

static const char usage_show[] =
    "usage: botu notes show ID [--json]\n"
    "  Shows one note: who, its state, and the text as it will look.\n";

static const char usage_approve[] =
    "usage: botu notes approve ID\n"
    "  Publishes a note that waits for a moderator, as a moderator's\n"
    "  \"akkoord\" would: the author is told, the waaier is rewritten.\n";

static const char usage_reject[] =
    "usage: botu notes reject ID [--reason TEXT]\n"
    "  Rejects a note that waits for a moderator; the author gets a kind\n"
    "  mail with TEXT as the reason.\n";

static const char usage_waaier[] =
    "usage: botu waaier [--html FILE]\n"
    "  Writes every published PS note as one page (FILE, or - for standard\n"
    "  output). Without --html, rewrites [notes] waaier_dir/index.html.\n";

static int
parse_id(const char *s, int64_t *id)
{
	long long n;

	if (str_to_int(s, 1, INT64_MAX, &n) < 0)
		return cli_fail(EX_USAGE, "'%s' is not a note number", s);
	*id = (int64_t)n;
	return EX_OK;
}

static int
notes_list_cmd(struct cli *cli, int argc, char **argv)
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

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_list, &code)) !=
	    -1) {
		if (ch == '?')
			return code;
		if (ch == 'j')
			json = 1;
		else if (ch == 's')
			status = optarg;
	}
	if (optind != argc)
		return cli_fail(EX_USAGE, "%s", usage_list);
	if (status != NULL && !notes_valid_status(status))
		return cli_fail(EX_USAGE, "no note status '%s' (see botu notes "
		    "list --help)", status);
	if ((db = cli_db(cli, &code)) == NULL)
		return code;
	if (notes_write(db, stdout, json, status) != BOTU_OK)
		return cli_fail(EX_SOFTWARE, "%s", db_errmsg(db));
	return EX_OK;
}

static void
show_text(const struct note *n)
{
	printf("note:     %lld\nstatus:   %s\nauthor:   %s\nname:     %s\n"
	    "role:     %s\n", (long long)n->id, n->status, n->email, n->name,
	    n->role[0] != '\0' ? n->role : "-");
	if (n->decided_by[0] != '\0')
		printf("by:       %s\n", n->decided_by);
	if (n->reason[0] != '\0')
		printf("reason:   %s\n", n->reason);
	printf("length:   %zu characters\n\n%s\n", notes_length(n->body),
	    n->body);
}

static void
show_json(const struct note *n)
{
	struct buf b;

	buf_init(&b);
	buf_addf(&b, "{\"id\":%lld,\"status\":", (long long)n->id);
	buf_add_json(&b, n->status);
	buf_adds(&b, ",\"email\":");
	buf_add_json(&b, n->email);
	buf_adds(&b, ",\"name\":");
	buf_add_json(&b, n->name);
	buf_adds(&b, ",\"role\":");
	buf_add_json(&b, n->role);
	buf_adds(&b, ",\"decided_by\":");
	buf_add_json(&b, n->decided_by);
	buf_adds(&b, ",\"reason\":");
	buf_add_json(&b, n->reason);
	buf_adds(&b, ",\"body\":");
	buf_add_json(&b, n->body);
	buf_adds(&b, "}\n");
	fputs(b.s, stdout);
	buf_free(&b);
}

static int
notes_show_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int json = 0, ch, code = EX_OK, rc;
	struct botu_db *db;
	struct note n;
	int64_t id = 0;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_show, &code)) !=
	    -1) {
		if (ch == '?')
			return code;
		json = 1;
	}
	if (optind + 1 != argc)
		return cli_fail(EX_USAGE, "%s", usage_show);
	if ((code = parse_id(argv[optind], &id)) != EX_OK)
		return code;
	if ((db = cli_db(cli, &code)) == NULL)
		return code;
	rc = notes_get(db, id, &n);
	if (rc < 0)
		return cli_fail(EX_SOFTWARE, "%s", db_errmsg(db));
	if (rc == 0)
		return cli_fail(EX_DATAERR, "there is no note %lld",
		    (long long)id);
	if (json)
		show_json(&n);
	else
		show_text(&n);
	note_clear(&n);
	return EX_OK;
}

/* Approve or reject ID in one transaction, then refresh the waaier. */
static int
decide_cmd(struct cli *cli, int argc, char **argv, int approve)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option approve_opts[] = {
		CLI_OPT_HELP,
		{ NULL, 0, NULL, 0 },
	};
	const char *usage = approve ? usage_approve : usage_reject;
	const char *reason = NULL;
	char err[BOTU_ERRLEN];
	int ch, code = EX_OK, rc;
	struct botu_db *db;
	int64_t id = 0;

	while ((ch = cli_getopt(argc, argv, "h", approve ? approve_opts : opts,
	    usage, &code)) != -1) {
		if (ch == '?')
			return code;
		reason = optarg;
	}
	if (optind + 1 != argc)
		return cli_fail(EX_USAGE, "%s", usage);
	if ((code = parse_id(argv[optind], &id)) != EX_OK)
		return code;
	if (cli_conf(cli, &code) == NULL || (db = cli_db(cli, &code)) == NULL)
		return code;
	if (db_begin(db) != BOTU_OK)
		return cli_fail(EX_TEMPFAIL, "%s", db_errmsg(db));
	rc = approve ? notes_approve(db, cli->conf, id, "cli", NULL, err) :
	    notes_reject(db, cli->conf, id, "cli", reason, NULL, err);
	if (rc == BOTU_OK && db_commit(db) != BOTU_OK) {
		snprintf(err, sizeof(err), "%s", db_errmsg(db));
		rc = BOTU_ETEMP;
	}
	if (rc != BOTU_OK) {
		db_rollback(db);
		return cli_fail(cli_exit_code(rc), "%s", err);
	}
	printf("note %lld %s; the author's mail goes with the next botu run "
	    "or botu outbox flush\n", (long long)id,
	    approve ? "is published" : "is rejected");
	notes_tick(cli->conf, db, time(NULL));
	return EX_OK;
}

static int
notes_approve_cmd(struct cli *cli, int argc, char **argv)
{
	return decide_cmd(cli, argc, argv, 1);
}

static int
notes_reject_cmd(struct cli *cli, int argc, char **argv)
{
	return decide_cmd(cli, argc, argv, 0);
}

int
cmd_notes(struct cli *cli, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "list", notes_list_cmd },
		{ "show", notes_show_cmd },
		{ "approve", notes_approve_cmd },
		{ "reject", notes_reject_cmd },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, subs, usage_notes);
}

int
cmd_waaier(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "html", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const struct botu_conf *conf;
	const char *file = NULL;
	char err[BOTU_ERRLEN], *path = NULL;
	int ch, code = EX_OK, rc, count = 0;
	struct botu_db *db;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_waaier,
	    &code)) != -1) {
		if (ch == '?')
			return code;
		file = optarg;
	}
	if (optind != argc)
		return cli_fail(EX_USAGE, "%s", usage_waaier);
	if ((conf = cli_conf(cli, &code)) == NULL ||
	    (db = cli_db(cli, &code)) == NULL)
		return code;
	if (file == NULL && conf->notes.waaier_dir[0] == '\0')
		return cli_fail(EX_USAGE, "give --html FILE, or set [notes] "
		    "waaier_dir");
	if (file == NULL)
		file = path = xasprintf("%s/index.html",
		    conf->notes.waaier_dir);
	rc = waaier_write(db, conf, file, &count, err);
	if (rc == BOTU_OK && strcmp(file, "-") != 0)
		printf("wrote %s: %d note%s\n", file, count,
		    count == 1 ? "" : "s");
	free(path);
	if (rc != BOTU_OK)
		return cli_fail(cli_exit_code(rc), "%s", err);
	return EX_OK;
}
