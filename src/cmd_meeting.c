/* cmd_meeting.c - botu meeting add|update|cancel|result|list|show */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "botu/cmd.h"
#include "botu/dates.h"
#include "botu/meetings.h"
#include "botu/util.h"

static const char usage_meeting[] =
    "usage: botu meeting add --title T --start \"YYYY-MM-DD HH:MM\"\n"
    "           [--end \"YYYY-MM-DD HH:MM\" | --duration 2h] [--location L]\n"
    "           [--description-file F] [--audience all|core]\n"
    "       botu meeting update ID [the options of add]\n"
    "       botu meeting cancel ID\n"
    "       botu meeting result ID --file F\n"
    "       botu meeting list [--json]\n"
    "       botu meeting show ID [--json]\n";

static const char usage_add[] =
    "usage: botu meeting add --title T --start \"YYYY-MM-DD HH:MM\"\n"
    "           [--end \"YYYY-MM-DD HH:MM\" | --duration 2h] [--location L]\n"
    "           [--description-file F] [--audience all|core]\n"
    "  Plans a meeting and queues an invitation for the calendar of every\n"
    "  member of the audience (all members, or the core team). Times are\n"
    "  in the list's time zone ([list] timezone); the default duration is\n"
    "  two hours. Members who join later are invited too.\n";

static const char usage_update[] =
    "usage: botu meeting update ID [--title T] [--start \"YYYY-MM-DD "
    "HH:MM\"]\n"
    "           [--end \"YYYY-MM-DD HH:MM\" | --duration D] [--location L]\n"
    "           [--description-file F] [--audience all|core]\n"
    "  Changes a planned meeting: every invited member gets the new\n"
    "  version (SEQUENCE + 1), which their calendar updates in place. A\n"
    "  new time or place asks everybody again. --start alone keeps the\n"
    "  duration.\n";

static const char usage_cancel[] =
    "usage: botu meeting cancel ID\n"
    "  Cancels a meeting: every invited member gets a cancellation that\n"
    "  takes it out of their calendar.\n";

static const char usage_result[] =
    "usage: botu meeting result ID --file F\n"
    "  Records the agreement the meeting reached (the text of F, - for\n"
    "  standard input); the digest tells the members.\n";

static const char usage_list[] =
    "usage: botu meeting list [--json]\n"
    "  Every meeting by start, with how the invited members answered.\n";

static const char usage_show[] =
    "usage: botu meeting show ID [--json]\n"
    "  One meeting, and every invited member with their answer.\n";

static int
parse_id(const char *s, int64_t *id)
{
	long long n;

	if (str_to_int(s, 1, INT64_MAX, &n) < 0)
		return cli_fail(EX_USAGE, "'%s' is not a meeting number", s);
	*id = (int64_t)n;
	return EX_OK;
}

/* "YYYY-MM-DD HH:MM" (or with a T) in the list's zone. */
static int
parse_when(const char *s, const char *tz, time_t *out)
{
	struct tm tm = { 0 };
	char rest;
	int n;

	n = sscanf(s, "%4d-%2d-%2d%*[ T]%2d:%2d%c", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &rest);
	if (n != 5 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_year < 1970 || tm.tm_year > 9999)
		return cli_fail(EX_USAGE, "'%s' is not a time like "
		    "\"2026-12-10 19:30\"", s);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_isdst = -1;
	if (date_from_local(&tm, tz, out) != 0)
		return cli_fail(EX_CONFIG, "unknown time zone '%s'", tz);
	return EX_OK;
}

/* "2h", "90m", "1h30m", "1:30". */
static int
parse_duration(const char *s, time_t *out)
{
	long long h = 0, m = 0;
	char *end = NULL;
	const char *p = s;

	if (strchr(s, ':') != NULL) {
		if (sscanf(s, "%lld:%lld", &h, &m) != 2)
			goto bad;
	} else {
		while (*p != '\0') {
			long long v = strtoll(p, &end, 10);

			if (end == p || v < 0)
				goto bad;
			if (*end == 'h' || *end == 'u')
				h = v;
			else if (*end == 'm')
				m = v;
			else
				goto bad;
			p = end + 1;
		}
	}
	if (h < 0 || m < 0 || h * 60 + m <= 0 || h * 60 + m > 7 * 24 * 60)
		goto bad;
	*out = (time_t)((h * 60 + m) * 60);
	return EX_OK;
bad:
	return cli_fail(EX_USAGE, "'%s' is not a duration like 2h, 90m or "
	    "1h30m", s);
}

/* The options add and update share. */
struct fields {
	const char	*title;
	const char	*start;
	const char	*end;
	const char	*duration;
	const char	*location;
	const char	*description_file;
	const char	*audience;
};

static const struct option field_opts[] = {
	CLI_OPT_HELP,
	{ "title", required_argument, NULL, 't' },
	{ "start", required_argument, NULL, 's' },
	{ "end", required_argument, NULL, 'e' },
	{ "duration", required_argument, NULL, 'd' },
	{ "location", required_argument, NULL, 'l' },
	{ "description-file", required_argument, NULL, 'f' },
	{ "audience", required_argument, NULL, 'a' },
	{ NULL, 0, NULL, 0 },
};

/*
 * The options of add and update into f. 0, or -1 when the caller must
 * return *code (--help answered, or a wrong option).
 */
static int
read_fields(int argc, char **argv, const char *usage, struct fields *f,
    int *code)
{
	int ch;

	*code = EX_OK;
	memset(f, 0, sizeof(*f));
	while ((ch = cli_getopt(argc, argv, "h", field_opts, usage, code)) !=
	    -1) {
		switch (ch) {
		case '?':
			return -1;
		case 't':
			f->title = optarg;
			break;
		case 's':
			f->start = optarg;
			break;
		case 'e':
			f->end = optarg;
			break;
		case 'd':
			f->duration = optarg;
			break;
		case 'l':
			f->location = optarg;
			break;
		case 'f':
			f->description_file = optarg;
			break;
		default:
			f->audience = optarg;
			break;
		}
	}
	if (f->end != NULL && f->duration != NULL)
		*code = cli_fail(EX_USAGE, "give --end or --duration, not "
		    "both");
	else if (f->audience != NULL && strcmp(f->audience, "all") != 0 &&
	    strcmp(f->audience, "core") != 0)
		*code = cli_fail(EX_USAGE, "--audience is all or core");
	return *code == EX_OK ? 0 : -1;
}

/* The file's text (- : standard input), at most MEETINGS_MAX_TEXT. */
static int
read_text(const char *path, char **out)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	struct buf b;
	char chunk[4096];
	size_t n;

	*out = NULL;
	if (f == NULL)
		return cli_fail(EX_NOINPUT, "cannot read %s", path);
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 &&
	    b.len <= MEETINGS_MAX_TEXT)
		buf_add(&b, chunk, n);
	if (f != stdin)
		fclose(f);
	if (b.len > MEETINGS_MAX_TEXT) {
		buf_free(&b);
		return cli_fail(EX_DATAERR, "%s is longer than %d octets",
		    path, MEETINGS_MAX_TEXT);
	}
	*out = buf_detach(&b);
	return EX_OK;
}

/* Commits the transaction the command began, or rolls it back. */
static int
commit_or_fail(struct botu_db *db, int rc, const char *err)
{
	if (rc == BOTU_OK && db_commit(db) != BOTU_OK) {
		db_rollback(db);
		return cli_fail(EX_TEMPFAIL, "%s", db_errmsg(db));
	}
	if (rc != BOTU_OK) {
		db_rollback(db);
		return cli_fail(cli_exit_code(rc), "%s", err);
	}
	return EX_OK;
}

static int
meeting_add_cmd(struct cli *cli, int argc, char **argv)
{
	struct fields f;
	struct meeting m = { 0 };
	const struct botu_conf *conf;
	struct botu_db *db;
	char err[BOTU_ERRLEN], *desc = NULL;
	time_t len = 2 * 3600;
	int code, rc, queued = 0;

	if (read_fields(argc, argv, usage_add, &f, &code) < 0)
		return code;
	if (optind != argc || f.title == NULL || f.start == NULL)
		return cli_fail(EX_USAGE, "%s", usage_add);
	if ((conf = cli_conf(cli, &code)) == NULL)
		return code;
	if ((code = parse_when(f.start, conf->list.timezone, &m.start_at)) !=
	    EX_OK)
		return code;
	if (f.end != NULL && (code = parse_when(f.end, conf->list.timezone,
	    &m.end_at)) != EX_OK)
		return code;
	if (f.duration != NULL && (code = parse_duration(f.duration, &len)) !=
	    EX_OK)
		return code;
	if (f.end == NULL)
		m.end_at = m.start_at + len;
	if (f.description_file != NULL &&
	    (code = read_text(f.description_file, &desc)) != EX_OK)
		return code;
	if ((db = cli_db(cli, &code)) == NULL) {
		free(desc);
		return code;
	}
	m.title = (char *)f.title;
	m.location = (char *)(f.location != NULL ? f.location : "");
	m.description = desc;
	m.audience = (char *)f.audience;
	if (db_begin(db) != BOTU_OK) {
		free(desc);
		return cli_fail(EX_TEMPFAIL, "%s", db_errmsg(db));
	}
	rc = meetings_add(db, conf, &m, "cli", &queued, err);
	free(desc);
	if ((code = commit_or_fail(db, rc, err)) != EX_OK)
		return code;
	printf("meeting %lld planned; %d invitation%s queued\n",
	    (long long)m.id, queued, queued == 1 ? "" : "s");
	return EX_OK;
}

static int
meeting_update_cmd(struct cli *cli, int argc, char **argv)
{
	struct fields f;
	struct meeting_change c = { 0 };
	struct meeting cur;
	const struct botu_conf *conf;
	struct botu_db *db;
	char err[BOTU_ERRLEN], *desc = NULL;
	time_t len = 0;
	int64_t id = 0;
	int code, rc, queued = 0;

	if (read_fields(argc, argv, usage_update, &f, &code) < 0)
		return code;
	if (optind + 1 != argc)
		return cli_fail(EX_USAGE, "%s", usage_update);
	if ((code = parse_id(argv[optind], &id)) != EX_OK)
		return code;
	if ((conf = cli_conf(cli, &code)) == NULL ||
	    (db = cli_db(cli, &code)) == NULL)
		return code;
	rc = meetings_get(db, id, &cur);
	if (rc <= 0)
		return rc < 0 ? cli_fail(EX_SOFTWARE, "%s", db_errmsg(db)) :
		    cli_fail(EX_DATAERR, "there is no meeting %lld",
		    (long long)id);
	if (f.start != NULL)
		code = parse_when(f.start, conf->list.timezone, &c.start_at);
	if (code == EX_OK && f.end != NULL)
		code = parse_when(f.end, conf->list.timezone, &c.end_at);
	if (code == EX_OK && f.duration != NULL)
		code = parse_duration(f.duration, &len);
	/* --start alone moves the meeting and keeps its length. */
	if (code == EX_OK && f.end == NULL && (f.start != NULL || len != 0))
		c.end_at = (c.start_at != 0 ? c.start_at : cur.start_at) +
		    (len != 0 ? len : cur.end_at - cur.start_at);
	meeting_clear(&cur);
	if (code == EX_OK && f.description_file != NULL)
		code = read_text(f.description_file, &desc);
	if (code != EX_OK)
		return code;
	c.title = f.title;
	c.location = f.location;
	c.description = desc;
	c.audience = f.audience;
	if (db_begin(db) != BOTU_OK) {
		free(desc);
		return cli_fail(EX_TEMPFAIL, "%s", db_errmsg(db));
	}
	rc = meetings_update(db, conf, id, &c, "cli", &queued, err);
	free(desc);
	if ((code = commit_or_fail(db, rc, err)) != EX_OK)
		return code;
	printf("meeting %lld updated; %d mail%s queued\n", (long long)id,
	    queued, queued == 1 ? "" : "s");
	return EX_OK;
}

/*
 * ID as the only argument, and no option but --help. 0, or -1 when the
 * caller must return *code.
 */
static int
id_only(int argc, char **argv, const char *usage, int64_t *id, int *code)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*code = EX_OK;
	while ((ch = cli_getopt(argc, argv, "h", opts, usage, code)) != -1)
		if (ch == '?')
			return -1;
	if (optind + 1 != argc)
		*code = cli_fail(EX_USAGE, "%s", usage);
	else
		*code = parse_id(argv[optind], id);
	return *code == EX_OK ? 0 : -1;
}

static int
meeting_cancel_cmd(struct cli *cli, int argc, char **argv)
{
	const struct botu_conf *conf;
	struct botu_db *db;
	char err[BOTU_ERRLEN];
	int64_t id = 0;
	int code, rc, queued = 0;

	if (id_only(argc, argv, usage_cancel, &id, &code) < 0)
		return code;
	if ((conf = cli_conf(cli, &code)) == NULL ||
	    (db = cli_db(cli, &code)) == NULL)
		return code;
	if (db_begin(db) != BOTU_OK)
		return cli_fail(EX_TEMPFAIL, "%s", db_errmsg(db));
	rc = meetings_cancel(db, conf, id, "cli", &queued, err);
	if ((code = commit_or_fail(db, rc, err)) != EX_OK)
		return code;
	printf("meeting %lld cancelled; %d cancellation%s queued\n",
	    (long long)id, queued, queued == 1 ? "" : "s");
	return EX_OK;
}

static int
meeting_result_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "file", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL;
	struct botu_db *db;
	char err[BOTU_ERRLEN], *text = NULL;
	int64_t id = 0;
	int ch, code = EX_OK, rc;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_result, &code)) !=
	    -1) {
		if (ch == '?')
			return code;
		file = optarg;
	}
	if (optind + 1 != argc || file == NULL)
		return cli_fail(EX_USAGE, "%s", usage_result);
	if ((code = parse_id(argv[optind], &id)) != EX_OK)
		return code;
	if ((code = read_text(file, &text)) != EX_OK)
		return code;
	if ((db = cli_db(cli, &code)) == NULL) {
		free(text);
		return code;
	}
	if (db_begin(db) != BOTU_OK) {
		free(text);
		return cli_fail(EX_TEMPFAIL, "%s", db_errmsg(db));
	}
	rc = meetings_result(db, id, text, "cli", err);
	free(text);
	if ((code = commit_or_fail(db, rc, err)) != EX_OK)
		return code;
	printf("result of meeting %lld recorded; the digest tells the "
	    "members\n", (long long)id);
	return EX_OK;
}

/* --json as the only option. 0, or -1 when the caller must return *code. */
static int
json_opt(int argc, char **argv, const char *usage, int *json, int *code)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*json = 0;
	*code = EX_OK;
	while ((ch = cli_getopt(argc, argv, "h", opts, usage, code)) != -1) {
		if (ch == '?')
			return -1;
		*json = 1;
	}
	return 0;
}

static int
meeting_list_cmd(struct cli *cli, int argc, char **argv)
{
	const struct botu_conf *conf;
	struct botu_db *db;
	int json, code;

	if (json_opt(argc, argv, usage_list, &json, &code) < 0)
		return code;
	if (optind != argc)
		return cli_fail(EX_USAGE, "%s", usage_list);
	if ((conf = cli_conf(cli, &code)) == NULL ||
	    (db = cli_db(cli, &code)) == NULL)
		return code;
	if (meetings_write_list(db, conf, stdout, json) != BOTU_OK)
		return cli_fail(EX_SOFTWARE, "%s", db_errmsg(db));
	return EX_OK;
}

static int
meeting_show_cmd(struct cli *cli, int argc, char **argv)
{
	const struct botu_conf *conf;
	struct botu_db *db;
	int64_t id = 0;
	int json, code, rc;

	if (json_opt(argc, argv, usage_show, &json, &code) < 0)
		return code;
	if (optind + 1 != argc)
		return cli_fail(EX_USAGE, "%s", usage_show);
	if ((code = parse_id(argv[optind], &id)) != EX_OK)
		return code;
	if ((conf = cli_conf(cli, &code)) == NULL ||
	    (db = cli_db(cli, &code)) == NULL)
		return code;
	rc = meetings_write_show(db, conf, id, stdout, json);
	if (rc == BOTU_EPERM)
		return cli_fail(EX_DATAERR, "there is no meeting %lld",
		    (long long)id);
	if (rc != BOTU_OK)
		return cli_fail(EX_SOFTWARE, "%s", db_errmsg(db));
	return EX_OK;
}

int
cmd_meeting(struct cli *cli, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "add", meeting_add_cmd },
		{ "update", meeting_update_cmd },
		{ "cancel", meeting_cancel_cmd },
		{ "result", meeting_result_cmd },
		{ "list", meeting_list_cmd },
		{ "show", meeting_show_cmd },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, subs, usage_meeting);
}
