/* cmd_outbox.c - botu outbox list|retry|drop|flush */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "botu/cmd.h"
#include "botu/deliver.h"
#include "botu/outbox.h"
#include "botu/smtp.h"
#include "botu/util.h"

static const char usage_outbox[] =
    "usage: botu outbox list [--json] [--status STATUS]\n"
    "       botu outbox retry [ID]\n"
    "       botu outbox drop ID|--failed\n"
    "       botu outbox flush\n";

static const char usage_list[] =
    "usage: botu outbox list [--json] [--status STATUS]\n"
    "  Lists the mails botu sends or sent. STATUS: queued, sent, failed,\n"
    "  expired, dropped.\n";

static const char usage_retry[] =
    "usage: botu outbox retry [ID]\n"
    "  Sends mail ID again as soon as possible; without ID, every failed\n"
    "  or expired mail and every mail waiting for a retry. Also ends a\n"
    "  pause of sending.\n";

static const char usage_drop[] =
    "usage: botu outbox drop ID|--failed\n"
    "  Gives up on mail ID, or clears all failed mail from the list.\n";

static const char usage_flush[] =
    "usage: botu outbox flush\n"
    "  Sends every mail that is due now, within the limits, and waits for\n"
    "  the answers; mail waiting for a retry is left for later. Exits 75\n"
    "  when sending is paused.\n";

static int
plain_opts(int argc, char **argv, const char *usage, int *code)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage, code)) != -1)
		if (ch == '?')
			return -1;
	return 0;
}

/* The statuses of outbox.h; a typo would list nothing and say nothing. */
static int
valid_status(const char *s)
{
	static const char *const statuses[] = { "queued", "sent", "failed",
	    "expired", "dropped" };

	for (size_t i = 0; i < NELEM(statuses); i++)
		if (strcmp(s, statuses[i]) == 0)
			return 1;
	return 0;
}

static int
outbox_list_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "json", no_argument, NULL, 'j' },
		{ "status", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *status = NULL;
	int ch, json = 0, code = EX_OK;
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
	if (status != NULL && !valid_status(status))
		return cli_fail(EX_USAGE, "status must be queued, sent, "
		    "failed, expired or dropped, not '%s'", status);
	if ((db = cli_db(cli, &code)) == NULL)
		return code;
	if (outbox_write(db, stdout, json, status) != BOTU_OK)
		return cli_fail(EX_SOFTWARE, "%s", db_errmsg(db));
	return EX_OK;
}

static int
parse_id(const char *s, int64_t *id)
{
	long long v;

	if (str_to_int(s, 1, (long long)1 << 62, &v) < 0)
		return cli_fail(EX_USAGE, "'%s' is not a mail number (see "
		    "botu outbox list)", s);
	*id = v;
	return EX_OK;
}

static int
outbox_retry_cmd(struct cli *cli, int argc, char **argv)
{
	int64_t id = 0;
	int code = EX_OK, n = 0;
	struct botu_db *db;

	if (plain_opts(argc, argv, usage_retry, &code) < 0)
		return code;
	if (argc - optind > 1)
		return cli_fail(EX_USAGE, "%s", usage_retry);
	if (optind < argc && (code = parse_id(argv[optind], &id)) != EX_OK)
		return code;
	if ((db = cli_db(cli, &code)) == NULL)
		return code;
	if (db_begin(db) != BOTU_OK ||
	    outbox_requeue(db, id, time(NULL), &n) != BOTU_OK ||
	    deliver_resume(db) != BOTU_OK || db_commit(db) != BOTU_OK) {
		db_rollback(db);
		return cli_fail(EX_TEMPFAIL, "%s", db_errmsg(db));
	}
	if (id != 0 && n == 0)
		return cli_fail(EX_DATAERR, "no mail %lld that can be sent "
		    "again", (long long)id);
	printf("%d mail%s queued again; sending is not paused\n", n,
	    n == 1 ? "" : "s");
	return EX_OK;
}

static int
outbox_drop_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "failed", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t id = 0;
	int ch, code = EX_OK, n = 0, failed = 0;
	struct botu_db *db;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_drop, &code)) !=
	    -1) {
		if (ch == '?')
			return code;
		failed = 1;
	}
	if (argc - optind != !failed)
		return cli_fail(EX_USAGE, "%s", usage_drop);
	if (!failed && (code = parse_id(argv[optind], &id)) != EX_OK)
		return code;
	if ((db = cli_db(cli, &code)) == NULL)
		return code;
	if (outbox_drop(db, id, &n) != BOTU_OK)
		return cli_fail(EX_TEMPFAIL, "%s", db_errmsg(db));
	if (id != 0 && n == 0)
		return cli_fail(EX_DATAERR, "no mail %lld to drop",
		    (long long)id);
	printf("%d mail%s dropped\n", n, n == 1 ? "" : "s");
	return EX_OK;
}

static int
outbox_flush_cmd(struct cli *cli, int argc, char **argv)
{
	struct deliver_report r, total = { 0 };
	struct timespec until = { 0, 0 };
	const struct botu_conf *conf;
	struct deliver *d = NULL;
	char err[BOTU_ERRLEN];
	time_t next;
	int code = EX_OK;

	if (plain_opts(argc, argv, usage_flush, &code) < 0)
		return code;
	if (optind != argc)
		return cli_fail(EX_USAGE, "%s", usage_flush);
	if ((conf = cli_conf(cli, &code)) == NULL)
		return code;
	if (conf_require_smtp(conf, err) < 0)
		return cli_fail(EX_CONFIG, "%s", err);
	smtp_global_init();	/* before deliver's threads exist */
	if (deliver_new(conf, conf->list.database, &d, err) != BOTU_OK)
		return cli_fail(EX_UNAVAILABLE, "%s", err);
	for (;;) {
		if (deliver_once(d, &r, &next) != BOTU_OK) {
			code = cli_fail(EX_TEMPFAIL, "cannot read the outbox");
			break;
		}
		total.sent += r.sent;
		total.retried += r.retried;
		total.failed += r.failed;
		total.expired += r.expired;
		if (r.paused) {
			code = cli_fail(EX_TEMPFAIL, "sending is paused: %s "
			    "(botu outbox retry ends the pause)", r.reason);
			break;
		}
		/* Only wait for the rate limits, not for retries. */
		if (r.waiting == 0 || next == 0 || next > time(NULL) + 120)
			break;
		/* To the second: under max_per_minute deliver_once() waits
		 * for the rest of it, so a later wake-up would cost time. */
		until.tv_sec = next;
		(void)clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &until,
		    NULL);
	}
	printf("sent %d, to retry %d, failed %d, expired %d\n", total.sent,
	    total.retried, total.failed, total.expired);
	deliver_free(d);
	return code;
}

int
cmd_outbox(struct cli *cli, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "list", outbox_list_cmd },
		{ "retry", outbox_retry_cmd },
		{ "drop", outbox_drop_cmd },
		{ "flush", outbox_flush_cmd },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, subs, usage_outbox);
}
