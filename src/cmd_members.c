/* cmd_members.c - botu members list|add|set|remove|forget|export */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "botu/addr.h"
#include "botu/cmd.h"
#include "botu/mailout.h"
#include "botu/members.h"
#include "botu/notes.h"
#include "botu/util.h"

static const char usage_members[] =
    "usage: botu members list [--json] [--status STATUS]\n"
    "       botu members add EMAIL [--name NAME] [--role ROLE]\n"
    "                        [--language nl|en] [--core] [--pending]\n"
    "                        [--basis TEXT] [--welcome]\n"
    "       botu members set EMAIL [--name NAME] [--role ROLE]\n"
    "                        [--language nl|en] [--core|--no-core]\n"
    "       botu members remove EMAIL\n"
    "       botu members forget EMAIL\n"
    "       botu members export [--csv|--json]\n";

static const char usage_set[] =
    "usage: botu members set EMAIL [--name NAME] [--role ROLE]\n"
    "                        [--language nl|en] [--core|--no-core]\n"
    "  Changes a member's name, role (one of [notes] roles, or \"\" for\n"
    "  none), language or core-team mark. A published PS note keeps the\n"
    "  name and role its author confirmed until they send a new one.\n";

static const char usage_forget[] =
    "usage: botu members forget EMAIL\n"
    "  Erases a member for good (GDPR/AVG): the row, the consent record,\n"
    "  their PS notes (also from the waaier), every mail to them in the\n"
    "  outbox, and their address in the record of handled mail.\n";

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
    "usage: botu members export [--csv|--json]\n"
    "  Writes every member with every stored field (CSV by default).\n";

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

/* The same welcome a confirmed sign-up gets, in the same transaction. */
static int
queue_welcome(struct botu_db *db, const struct botu_conf *conf,
    const struct member *added, char *err)
{
	struct member m;
	struct mailout mo = { .template = "welcome", .kind = "welcome",
	    .auto_submitted = COMPOSE_AUTO_GENERATED, .ordered = 1 };
	char *detail, *unsub;
	int rc;

	if (members_get_id(db, added->id, &m) != 1) {
		snprintf(err, BOTU_ERRLEN, "the new member is gone");
		return BOTU_EDATA;
	}
	detail = xasprintf("afmelden-%s", m.unsub_token);
	unsub = addr_plus(conf, detail);
	mo.to = m.email;
	mo.to_name = m.name[0] != '\0' ? m.name : NULL;
	mo.lang = m.language;
	mo.member_id = m.id;
	mo.unsubscribe = unsub;
	struct tmpl_vars *vars = tmpl_vars_new();
	tmpl_set(vars, "name", m.name);
	rc = mailout_queue(db, conf, &mo, vars, err);
	tmpl_vars_free(vars);
	free(unsub);
	free(detail);
	member_clear(&m);
	return rc;
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
	int welcome = 0;
	const char *basis = "added by the organiser";
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
	rc = members_add(db, &m, "cli", NULL, err);
	if (rc == BOTU_OK && welcome)
		rc = queue_welcome(db, cli->conf, &m, err);
	if (rc != BOTU_OK) {
		db_rollback(db);
		return cli_fail(EX_DATAERR, "%s", err);
	}
	if (db_commit(db) != BOTU_OK) {
		db_rollback(db);
		return cli_fail(EX_TEMPFAIL, "%s", db_errmsg(db));
	}
	printf("added %s (%s)%s\n", m.email, m.status,
	    welcome ? "; a welcome mail is queued" : "");
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
		{ NULL, 0, NULL, 0 },
	};
	enum members_format fmt = MEMBERS_CSV;
	int ch, code = EX_OK;
	struct botu_db *db;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_export,
	    &code)) != -1) {
		if (ch == '?')
			return code;
		fmt = ch == 'j' ? MEMBERS_JSON : MEMBERS_CSV;
	}
	if (optind != argc)
		return cli_fail(EX_USAGE, "%s", usage_export);
	if ((db = cli_db(cli, &code)) == NULL)
		return code;
	if (members_write(db, stdout, fmt, NULL) != BOTU_OK)
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
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *role = NULL, *lang = NULL;
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
	rc = members_set_profile(db, m.id, name, role, lang, core, "cli",
	    NULL);
	member_clear(&m);
	if (rc != BOTU_OK)
		return cli_fail(EX_TEMPFAIL, "%s", db_errmsg(db));
	printf("changed %s\n", argv[optind]);
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
	struct member m;

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
	rc = members_get(db, argv[optind], &m);
	if (rc == 1) {
		rc = notes_forget(db, m.id, &published);
		member_clear(&m);
		if (rc == BOTU_OK)
			rc = members_forget(db, argv[optind], "cli", &m.id,
			    err);
		else
			snprintf(err, sizeof(err), "%s", db_errmsg(db));
	} else {
		snprintf(err, sizeof(err), "%s is not known", argv[optind]);
		rc = rc < 0 ? BOTU_EDATA : BOTU_EPERM;
	}
	if (rc == BOTU_OK && db_commit(db) != BOTU_OK) {
		snprintf(err, sizeof(err), "%s", db_errmsg(db));
		rc = BOTU_ETEMP;
	}
	if (rc != BOTU_OK) {
		db_rollback(db);
		return cli_fail(cli_exit_code(rc), "%s", err);
	}
	/* The erased pages must not linger in the WAL (secure_delete). */
	(void)db_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	notes_tick(conf, db, time(NULL));
	printf("forgot %s%s\n", argv[optind], published ?
	    "; the waaier no longer shows their note" : "");
	return EX_OK;
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
		{ "export", members_export },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, subs, usage_members);
}
