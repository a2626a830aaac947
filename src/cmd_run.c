/* cmd_run.c - botu run and botu status */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "botu/cmd.h"
#include "botu/daemon.h"
#include "botu/dates.h"
#include "botu/deliver.h"
#include "botu/intake.h"
#include "botu/log.h"
#include "botu/members.h"
#include "botu/outbox.h"
#include "botu/score.h"
#include "botu/util.h"
#include "botu/verp.h"

static const char usage_run[] =
    "usage: botu run [--once] [--dry-run] [--since DATE]\n"
    "  Reads the mailbox and sends the outbox, in the foreground.\n"
    "  --once     handle what is new, send what is due, and exit\n"
    "  --dry-run  print what would be done to each new mail; change\n"
    "             nothing (implies --once)\n"
    "  --since DATE  also take mail that arrived on or after DATE\n"
    "             (YYYY-MM-DD, in the list's time zone); on a first start\n"
    "             botu otherwise leaves all older mail alone\n";

static const char usage_status[] =
    "usage: botu status [--json]\n"
    "  What the organiser needs to know, on one screen.\n";

static int
parse_date(const char *s, const char *tz, time_t *out)
{
	struct tm tm = { 0 };
	char *end;

	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	return date_from_local(&tm, tz, out);
}

int
cmd_run(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "once", no_argument, NULL, 'o' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "since", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon_options o = { .report = stdout };
	const struct botu_conf *conf;
	const char *since = NULL;
	char err[BOTU_ERRLEN];
	int ch, code = EX_OK;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_run, &code)) !=
	    -1) {
		if (ch == '?')
			return code;
		if (ch == 'o')
			o.once = 1;
		else if (ch == 'n')
			o.dry_run = 1;
		else if (ch == 's')
			since = optarg;
	}
	if (optind != argc)
		return cli_fail(EX_USAGE, "%s", usage_run);
	if ((conf = cli_conf(cli, &code)) == NULL)
		return code;
	if (conf_require_imap(conf, err) < 0 ||
	    (!o.dry_run && conf_require_smtp(conf, err) < 0))
		return cli_fail(EX_CONFIG, "%s", err);
	if (since != NULL && parse_date(since, conf->list.timezone,
	    &o.since) < 0)
		return cli_fail(EX_USAGE, "--since: '%s' is not a date like "
		    "2026-11-28", since);
	return daemon_run(conf, &o);
}

static const char *
when(time_t t, const struct botu_conf *conf, char *buf, size_t len)
{
	if (t == 0 || date_format(t, conf->list.timezone, "en", DATE_LONG, buf,
	    len) < 0)
		str_copy(buf, "never", len);
	return buf;
}

static void
status_text(struct botu_db *db, const struct botu_conf *conf)
{
	int64_t active, pending, left, queued, sent, failed, bouncing,
	    disabled;
	struct intake_counts ic;
	char buf[96], reason[BOTU_ERRLEN], *v = NULL;
	long long t = 0;
	time_t until;

	members_count(db, "active", &active);
	members_count(db, "pending", &pending);
	members_count(db, "unsubscribed", &left);
	printf("members     %lld active, %lld waiting for confirmation, "
	    "%lld left\n", (long long)active, (long long)pending,
	    (long long)left);
	if (db_state_get(db, "imap.last_login", &v) == 1)
		(void)str_to_int(v, 0, (long long)1 << 40, &t);
	free(v);
	printf("mailbox     %s, last login %s\n", conf->list.address,
	    when((time_t)t, conf, buf, sizeof(buf)));
	intake_counts(db, &ic);
	printf("mail        %lld handled, %lld left for a person, %lld set "
	    "aside\n", (long long)ic.done, (long long)ic.left,
	    (long long)ic.poison);
	outbox_count(db, "queued", &queued);
	outbox_count(db, "sent", &sent);
	outbox_count(db, "failed", &failed);
	printf("outbox      %lld to send, %lld sent, %lld failed\n",
	    (long long)queued, (long long)sent, (long long)failed);
	if (deliver_paused(db, reason, &until))
		printf("SENDING PAUSED until %s: %s\n  (botu outbox retry "
		    "ends the pause)\n", when(until, conf, buf, sizeof(buf)),
		    reason);
	members_count_delivery(db, &bouncing, &disabled);
	printf("delivery    %lld bouncing, %lld disabled; VERP %s\n",
	    (long long)bouncing, (long long)disabled,
	    verp_enabled(db, conf) ? "on" : "off");
	score_status_text(db, conf, stdout);
}

/* Set-aside mails are listed: an organiser must look at each. */
static void
status_set_aside(struct botu_db *db)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT uid, coalesce(message_id, ''), coalesce(reason, '') "
	    "FROM inbound WHERE state = 'poison' ORDER BY id DESC LIMIT 10");

	while (sqlite3_step(st) == SQLITE_ROW)
		printf("  set aside: UID %lld %s: %s\n",
		    (long long)sqlite3_column_int64(st, 0),
		    db_col_text(st, 1), db_col_text(st, 2));
	sqlite3_reset(st);
}

static int status_json_core(struct botu_db *, struct buf *);

static int
status_json(struct botu_db *db, const struct botu_conf *conf)
{
	struct buf o;
	int rc;

	buf_init(&o);
	rc = status_json_core(db, &o);
	/* bounces and VERP: appended to the object */
	if (rc == BOTU_OK && o.len > 0 && o.s[o.len - 1] == '}') {
		buf_truncate(&o, o.len - 1);
		buf_addf(&o, ",\"verp\":%s,\"bounces\":",
		    verp_enabled(db, conf) ? "true" : "false");
		rc = score_status_json(db, &o);
		buf_adds(&o, "}");
	}
	if (rc == BOTU_OK)
		printf("%s\n", o.s);
	buf_free(&o);
	return rc;
}

static int
status_json_core(struct botu_db *db, struct buf *out)
{
	sqlite3_stmt *st = db_stmt(db,
	    "SELECT json_object("
	    " 'members', (SELECT json_object("
	    "   'active', count(*) FILTER (WHERE status = 'active'),"
	    "   'pending', count(*) FILTER (WHERE status = 'pending'),"
	    "   'unsubscribed', count(*) FILTER (WHERE status = "
	    "   'unsubscribed')) FROM members),"
	    " 'mail', (SELECT json_object("
	    "   'handled', count(*) FILTER (WHERE state = 'done'),"
	    "   'left', count(*) FILTER (WHERE state = 'left'),"
	    "   'set_aside', count(*) FILTER (WHERE state = 'poison'))"
	    "   FROM inbound),"
	    " 'outbox', (SELECT json_object("
	    "   'queued', count(*) FILTER (WHERE status = 'queued'),"
	    "   'sent', count(*) FILTER (WHERE status = 'sent'),"
	    "   'failed', count(*) FILTER (WHERE status = 'failed'))"
	    "   FROM outbox),"
	    " 'last_login', (SELECT strftime('%Y-%m-%dT%H:%M:%SZ', value,"
	    "   'unixepoch') FROM state WHERE key = 'imap.last_login'),"
	    " 'paused_until', (SELECT strftime('%Y-%m-%dT%H:%M:%SZ', value,"
	    "   'unixepoch') FROM state WHERE key = 'outbox.paused_until'),"
	    " 'pause_reason', (SELECT value FROM state WHERE key ="
	    "   'outbox.pause_reason'))");
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		buf_adds(out, db_col_text(st, 0));
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? BOTU_OK : BOTU_EDATA;
}

int
cmd_status(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const struct botu_conf *conf;
	struct botu_db *db;
	int ch, code = EX_OK, json = 0;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_status,
	    &code)) != -1) {
		if (ch == '?')
			return code;
		json = 1;
	}
	if (optind != argc)
		return cli_fail(EX_USAGE, "%s", usage_status);
	if ((conf = cli_conf(cli, &code)) == NULL ||
	    (db = cli_db(cli, &code)) == NULL)
		return code;
	if (json)
		return status_json(db, conf) == BOTU_OK ? EX_OK : EX_SOFTWARE;
	status_text(db, conf);
	status_set_aside(db);
	return EX_OK;
}
