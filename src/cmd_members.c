/*
 * cmd_members.c - botu members list|add|set|remove|forget|import|export
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "botu/cmd.h"
#include "botu/csvimport.h"
#include "botu/mailout.h"
#include "botu/meetings.h"
#include "botu/memberdata.h"
#include "botu/members.h"
#include "botu/notes.h"
#include "botu/retention.h"
#include "botu/selfservice.h"
#include "botu/util.h"

static const char usage_members[] =
    "usage: botu members list [--json] [--status STATUS]\n"
    "       botu members add EMAIL [--name NAME] [--role ROLE]\n"
    "                        [--language nl|en] [--core] [--pending]\n"
    "                        [--basis TEXT] [--welcome]\n"
    "       botu members set EMAIL [--name NAME] [--role ROLE]\n"
    "                        [--language nl|en] [--core|--no-core]\n"
    "                        [--email NEW]\n"
    "       botu members remove EMAIL\n"
    "       botu members forget EMAIL\n"
    "       botu members import FILE --basis TEXT [--dry-run] [--welcome]\n"
    "                        [--json]\n"
    "       botu members export [--csv|--json] [--excel]\n";

static const char usage_set[] =
    "usage: botu members set EMAIL [--name NAME] [--role ROLE]\n"
    "                        [--language nl|en] [--core|--no-core]\n"
    "                        [--email NEW]\n"
    "  Changes a member's name, role (one of [notes] roles, or \"\" for\n"
    "  none), language or core-team mark. A published PS note keeps the\n"
    "  name and role its author confirmed until they send a new one.\n"
    "  --email moves the membership, notes and history to NEW (which\n"
    "  must not be another member's); nobody is asked or told.\n";

static const char usage_forget[] =
    "usage: botu members forget EMAIL\n"
    "  Erases a member for good (GDPR/AVG): the row, the consent record,\n"
    "  their PS notes (also from the waaier), every mail to them in the\n"
    "  outbox, mail about them, and their address in the record of\n"
    "  handled mail and the history. Only a salted hash of the address\n"
    "  stays, so that an import does not add them again.\n";

static const char usage_import[] =
    "usage: botu members import FILE --basis TEXT [--dry-run] [--welcome]\n"
    "                        [--json]\n"
    "  Adds the people in FILE, a CSV as Excel writes it (\";\" or \",\",\n"
    "  Windows-1252 or UTF-8), as active members. The first line names\n"
    "  the columns: email (required), name, role, language, core (Dutch\n"
    "  names work too). TEXT, the legal basis (\"signed the petition\"),\n"
    "  is recorded as their consent. Known and forgotten addresses are\n"
    "  skipped and counted. One bad row imports nothing: every problem\n"
    "  is listed as FILE:LINE. --dry-run checks and counts only.\n"
    "  --welcome also queues the welcome mail for each; without it\n"
    "  nobody gets mail. --json prints the summary as JSON.\n";

static const char usage_list[] =
    "usage: botu members list [--json] [--status STATUS]\n"
    "  Lists members by address. STATUS: pending, active, unsubscribed.\n";

static const char usage_add[] =
    "usage: botu members add EMAIL [--name NAME] [--role ROLE]\n"
    "                        [--language nl|en] [--core] [--pending]\n"
    "                        [--basis TEXT] [--welcome]\n"
    "  Adds a member who already agreed, as active, with TEXT (default\n"
    "  \"added by the organiser\") recorded as the basis of consent.\n"
    "  --pending adds them unconfirmed instead. --welcome also sends them\n"
    "  the welcome mail (on the next botu run or botu outbox flush).\n";

static const char usage_remove[] =
    "usage: botu members remove EMAIL\n"
    "  Ends a membership at once; the consent history is kept.\n";

static const char usage_export[] =
    "usage: botu members export [--csv|--json] [--excel]\n"
    "  Writes every member with every stored field and their PS notes\n"
    "  (CSV by default: the current note; JSON: every version). --excel\n"
    "  writes the CSV as Dutch Excel opens it (\";\", a UTF-8 BOM). The\n"
    "  CSV reads back with botu members import.\n";

static int
members_list(struct cli *cli, int argc, char **argv)
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
	if (status != NULL && !member_valid_status(status))
		return cli_fail(EX_USAGE, "status must be pending, active or "
		    "unsubscribed, not '%s'", status);
	if ((db = cli_db(cli, &code)) == NULL)
		return code;
	if (members_write(db, stdout, json ? MEMBERS_JSON : MEMBERS_TEXT,
	    status) != BOTU_OK)
		return cli_fail(EX_SOFTWARE, "%s", db_errmsg(db));
	return EX_OK;
}

/* A role from [notes] roles, as the list spells it; else EX_USAGE. */
static int
check_role(struct cli *cli, char **role)
{
	const struct botu_conf *conf;
	const char *known;
	char *roles;
	int code = EX_OK;

	if ((conf = cli_conf(cli, &code)) == NULL)
		return code;
	known = notes_role(conf, *role);
	if (known != NULL) {
		*role = (char *)known;
		return EX_OK;
	}
	roles = notes_roles_line(conf);
	code = cli_fail(EX_USAGE, "role '%s' is not one of [notes] roles: %s",
	    *role, roles);
	free(roles);
	return code;
}

static int
members_add_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "name", required_argument, NULL, 'n' },
		{ "role", required_argument, NULL, 'r' },
		{ "language", required_argument, NULL, 'l' },
		{ "core", no_argument, NULL, 'c' },
		{ "pending", no_argument, NULL, 'p' },
		{ "basis", required_argument, NULL, 'b' },
		{ "welcome", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct member m = { 0 };
	int welcome = 0, invited = 0;
	const char *basis = "added by the organiser", *why = NULL;
	char err[BOTU_ERRLEN], channel[300];
	int ch, code = EX_OK, pending = 0, rc;
	struct botu_db *db;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_add, &code)) !=
	    -1) {
		switch (ch) {
		case '?':
			return code;
		case 'n':
			m.name = optarg;
			break;
		case 'r':
			m.role = optarg;
			break;
		case 'l':
			m.language = optarg;
			break;
		case 'c':
			m.core = 1;
			break;
		case 'p':
			pending = 1;
			break;
		case 'b':
			basis = optarg;
			break;
		case 'w':
			welcome = 1;
			break;
		}
	}
	if (optind + 1 != argc)
		return cli_fail(EX_USAGE, "members add: give one address "
		    "(see botu members add --help)");
	m.email = argv[optind];
	if (m.role != NULL && m.role[0] != '\0' &&
	    (code = check_role(cli, &m.role)) != EX_OK)
		return code;
	if (pending)
		m.status = "pending";
	else {
		m.status = "active";
		m.consent_at = (int64_t)time(NULL);
		snprintf(channel, sizeof(channel), "cli: %s", basis);
		m.consent_channel = channel;
	}
	if ((db = cli_db(cli, &code)) == NULL)
		return code;
	if (db_begin(db) != BOTU_OK)
		return cli_fail(EX_TEMPFAIL, "%s", db_errmsg(db));
	/* Someone who was forgotten comes back only by their own sign-up. */
	rc = retention_suppressed(db, m.email, &why);
	if (rc != 0) {
		db_rollback(db);
		return rc < 0 ? cli_fail(EX_SOFTWARE, "%s", db_errmsg(db)) :
		    cli_fail(EX_DATAERR, "%s %s; they can sign up again by "
		    "mail themselves", m.email, strcmp(why, "left") == 0 ?
		    "left and was erased" : "asked to be forgotten");
	}
	rc = members_add(db, &m, "cli", NULL, err);
	if (rc == BOTU_OK && welcome)
		rc = import_welcome(db, cli->conf, m.id, err);
	/* A member who joins later is invited to what is still to come. */
	if (rc == BOTU_OK && !pending)
		rc = meetings_sync(db, cli->conf, 0, m.id, time(NULL),
		    &invited, err);
	if (rc != BOTU_OK) {
		db_rollback(db);
		return cli_fail(EX_DATAERR, "%s", err);
	}
	if (db_commit(db) != BOTU_OK) {
		db_rollback(db);
		return cli_fail(EX_TEMPFAIL, "%s", db_errmsg(db));
	}
	printf("added %s (%s)%s", m.email, m.status,
	    welcome ? "; a welcome mail is queued" : "");
	if (invited > 0)
		printf("; %d invitation%s to upcoming meetings queued",
		    invited, invited == 1 ? "" : "s");
	printf("\n");
	return EX_OK;
}

static int
members_remove_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ NULL, 0, NULL, 0 },
	};
	char err[BOTU_ERRLEN];
	int ch, code = EX_OK, rc;
	struct botu_db *db;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_remove,
	    &code)) != -1)
		if (ch == '?')
			return code;
	if (optind + 1 != argc)
		return cli_fail(EX_USAGE, "members remove: give one address");
	if ((db = cli_db(cli, &code)) == NULL)
		return code;
	if (db_begin(db) != BOTU_OK)
		return cli_fail(EX_TEMPFAIL, "%s", db_errmsg(db));
	rc = members_remove(db, argv[optind], "cli", NULL, err);
	if (rc == BOTU_OK && db_commit(db) != BOTU_OK) {
		snprintf(err, sizeof(err), "%s", db_errmsg(db));
		rc = BOTU_ETEMP;
	}
	if (rc != BOTU_OK) {
		db_rollback(db);
		return cli_fail(cli_exit_code(rc), "%s", err);
	}
	printf("removed %s\n", argv[optind]);
	return EX_OK;
}

static int
members_export(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'C' },
		{ "excel", no_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	enum members_format fmt = MEMBERS_CSV;
	int ch, code = EX_OK, excel = 0;
	struct botu_db *db;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_export,
	    &code)) != -1) {
		if (ch == '?')
			return code;
		if (ch == 'x')
			excel = 1;
		else
			fmt = ch == 'j' ? MEMBERS_JSON : MEMBERS_CSV;
	}
	if (optind != argc)
		return cli_fail(EX_USAGE, "%s", usage_export);
	if (excel && fmt != MEMBERS_CSV)
		return cli_fail(EX_USAGE, "--excel is for --csv");
	if ((db = cli_db(cli, &code)) == NULL)
		return code;
	if (memberdata_export(db, stdout, fmt, excel) != BOTU_OK)
		return cli_fail(EX_SOFTWARE, "%s", db_errmsg(db));
	return EX_OK;
}

static int
members_set_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "name", required_argument, NULL, 'n' },
		{ "role", required_argument, NULL, 'r' },
		{ "language", required_argument, NULL, 'l' },
		{ "core", no_argument, NULL, 'c' },
		{ "no-core", no_argument, NULL, 'C' },
		{ "email", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *role = NULL, *lang = NULL, *email = NULL;
	char err[BOTU_ERRLEN];
	const struct botu_conf *conf;
	struct botu_db *db;
	struct member m;
	int ch, code = EX_OK, core = -1, rc;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_set, &code)) !=
	    -1) {
		switch (ch) {
		case '?':
			return code;
		case 'n':
			name = optarg;
			break;
		case 'r':
			role = optarg;
			break;
		case 'l':
			lang = optarg;
			break;
		case 'e':
			email = optarg;
			break;
		default:
			core = ch == 'c';
			break;
		}
	}
	if (optind + 1 != argc)
		return cli_fail(EX_USAGE, "%s", usage_set);
	if (lang != NULL && !member_valid_language(lang))
		return cli_fail(EX_USAGE, "language must be nl or en, not '%s'",
		    lang);
	if (name != NULL && notes_length(name) > NOTES_MAX_NAME)
		return cli_fail(EX_USAGE, "a name is at most %d characters",
		    NOTES_MAX_NAME);
	if ((conf = cli_conf(cli, &code)) == NULL)
		return code;
	if (role != NULL && role[0] != '\0' &&
	    (code = check_role(cli, (char **)&role)) != EX_OK)
		return code;
	if ((db = cli_db(cli, &code)) == NULL)
		return code;
	rc = members_get(db, argv[optind], &m);
	if (rc <= 0)
		return rc < 0 ? cli_fail(EX_SOFTWARE, "%s", db_errmsg(db)) :
		    cli_fail(EX_DATAERR, "%s is not known", argv[optind]);
	if (db_begin(db) != BOTU_OK) {
		member_clear(&m);
		return cli_fail(EX_TEMPFAIL, "%s", db_errmsg(db));
	}
	rc = members_set_profile(db, m.id, name, role, lang, core, "cli",
	    NULL);
	if (rc != BOTU_OK)
		snprintf(err, sizeof(err), "%s", db_errmsg(db));
	if (rc == BOTU_OK && email != NULL)
		rc = selfservice_move(db, m.id, email, "cli", NULL, err);
	member_clear(&m);
	if (rc == BOTU_OK && db_commit(db) != BOTU_OK) {
		snprintf(err, sizeof(err), "%s", db_errmsg(db));
		rc = BOTU_ETEMP;
	}
	if (rc != BOTU_OK) {
		db_rollback(db);
		return cli_fail(rc == BOTU_EPERM ? EX_DATAERR :
		    cli_exit_code(rc), "%s", err);
	}
	printf("changed %s%s%s\n", argv[optind], email != NULL ?
	    "; now " : "", email != NULL ? email : "");
	return EX_OK;
}

static int
members_forget_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ NULL, 0, NULL, 0 },
	};
	const struct botu_conf *conf;
	struct botu_db *db;
	char err[BOTU_ERRLEN];
	int ch, code = EX_OK, rc, published = 0;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_forget,
	    &code)) != -1)
		if (ch == '?')
			return code;
	if (optind + 1 != argc)
		return cli_fail(EX_USAGE, "members forget: give one address");
	if ((conf = cli_conf(cli, &code)) == NULL ||
	    (db = cli_db(cli, &code)) == NULL)
		return code;
	if (db_begin(db) != BOTU_OK)
		return cli_fail(EX_TEMPFAIL, "%s", db_errmsg(db));
	rc = retention_erase(db, argv[optind], RETENTION_FORGOTTEN, "cli",
	    &published, err);
	if (rc == BOTU_OK && db_commit(db) != BOTU_OK) {
		snprintf(err, sizeof(err), "%s", db_errmsg(db));
		rc = BOTU_ETEMP;
	}
	if (rc != BOTU_OK) {
		db_rollback(db);
		return cli_fail(cli_exit_code(rc), "%s", err);
	}
	/* The erased pages must not linger in the WAL (secure_delete). */
	if (retention_checkpoint(db) != BOTU_OK)
		fprintf(stderr, "botu: the database is in use; the daemon "
		    "clears the erased pages from its log later\n");
	notes_tick(conf, db, time(NULL));
	printf("forgot %s%s\n", argv[optind], published ?
	    "; the waaier no longer shows their note" : "");
	return EX_OK;
}

#define IMPORT_MAX (64 * 1024 * 1024)	/* octets: a list, not a dump */

/* The whole file into *data (owned); 0, or -1 with errno set. */
static int
slurp(const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[8192];
	size_t n;
	int rc = 0;

	if (f == NULL)
		return -1;
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf_add(&b, chunk, n);
		if (b.len > IMPORT_MAX) {
			errno = EFBIG;
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(f))
		rc = -1;
	fclose(f);
	*len = b.len;
	*data = rc == 0 ? buf_detach(&b) : NULL;
	buf_free(&b);
	return rc;
}

/* A bar on the terminal while rows go in; nothing when not a terminal. */
static void
import_progress(size_t done, size_t total, void *arg)
{
	int width = 40, full = total > 0 ? (int)(done * 40 / total) : 40;

	(void)arg;
	fprintf(stderr, "\r[%.*s%*s] %zu/%zu", full,
	    "########################################", width - full, "",
	    done, total);
	if (done == total)
		fputc('\n', stderr);
}

static void
import_summary(const struct import_result *r, int dry, int welcome,
    int json)
{
	if (json) {
		printf("{\"rows\": %zu, \"imported\": %zu, \"known\": %zu, "
		    "\"left\": %zu, \"suppressed\": %zu, \"not_active\": %zu, "
		    "\"dry_run\": %s, \"welcome\": %s}\n", r->rows,
		    r->imported, r->known, r->left, r->suppressed,
		    r->not_active, dry ? "true" : "false",
		    welcome && !dry ? "true" : "false");
		return;
	}
	printf("%s %zu of %zu rows%s\n", dry ? "would import" : "imported",
	    r->imported, r->rows, dry ? " (dry run: nothing changed)" : "");
	if (r->known > 0)
		printf("  %zu already members or signing up: skipped\n",
		    r->known);
	if (r->left > 0)
		printf("  %zu left the list earlier: skipped\n", r->left);
	if (r->suppressed > 0)
		printf("  %zu asked to be forgotten or left for good: "
		    "skipped\n", r->suppressed);
	if (r->not_active > 0)
		printf("  %zu with a status other than active: skipped\n",
		    r->not_active);
	if (r->ignored != NULL)
		printf("  columns ignored: %s\n", r->ignored);
	if (!dry)
		printf("  %s\n", welcome ? "a welcome mail is queued for each "
		    "(sent by botu run or botu outbox flush)" :
		    "nobody was sent mail");
}

static int
members_import_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "basis", required_argument, NULL, 'b' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "welcome", no_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct import_options o = { 0 };
	struct import_result r = { 0 };
	struct csv_table t = { 0 };
	const struct botu_conf *conf;
	struct botu_db *db;
	char err[BOTU_ERRLEN], *data = NULL;
	size_t len = 0;
	int ch, code = EX_OK, dry = 0, json = 0, rc;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_import,
	    &code)) != -1) {
		switch (ch) {
		case '?':
			return code;
		case 'b':
			o.basis = optarg;
			break;
		case 'n':
			dry = 1;
			break;
		case 'w':
			o.welcome = 1;
			break;
		case 'j':
			json = 1;
			break;
		}
	}
	if (optind + 1 != argc)
		return cli_fail(EX_USAGE, "members import: give one file "
		    "(see botu members import --help)");
	if (o.basis == NULL || o.basis[strspn(o.basis, " \t")] == '\0')
		return cli_fail(EX_USAGE, "members import: --basis TEXT is "
		    "required: the legal basis of their consent, e.g. "
		    "\"signed the petition of 2025\"");
	o.file = argv[optind];
	if (slurp(o.file, &data, &len) != 0)
		return cli_fail(EX_NOINPUT, "%s: %s", o.file, strerror(errno));
	rc = csv_parse(data, len, &t, err);
	free(data);
	if (rc != BOTU_OK)
		return cli_fail(EX_DATAERR, "%s:%s", o.file, err);
	if ((conf = cli_conf(cli, &code)) == NULL ||
	    (db = cli_db(cli, &code)) == NULL) {
		csv_table_clear(&t);
		return code;
	}
	if (!json && isatty(STDERR_FILENO))
		o.progress = import_progress;
	if (db_begin(db) != BOTU_OK) {
		csv_table_clear(&t);
		return cli_fail(EX_TEMPFAIL, "%s", db_errmsg(db));
	}
	rc = import_members(db, conf, &t, &o, &r, err);
	if (rc == BOTU_OK && !dry && db_commit(db) != BOTU_OK) {
		snprintf(err, sizeof(err), "%s", db_errmsg(db));
		rc = BOTU_ETEMP;
	}
	if (rc != BOTU_OK || dry)
		db_rollback(db);
	if (rc == BOTU_OK)
		import_summary(&r, dry, o.welcome, json);
	else if (r.problems != NULL) {
		fputs(r.problems, stderr);
		code = cli_fail(EX_DATAERR, "%s", err);
	} else
		code = cli_fail(rc == BOTU_ETEMP ? EX_TEMPFAIL : EX_DATAERR,
		    "%s", err);
	import_result_clear(&r);
	csv_table_clear(&t);
	return code;
}

int
cmd_members(struct cli *cli, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "list", members_list },
		{ "add", members_add_cmd },
		{ "set", members_set_cmd },
		{ "remove", members_remove_cmd },
		{ "forget", members_forget_cmd },
		{ "import", members_import_cmd },
		{ "export", members_export },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, subs, usage_members);
}
