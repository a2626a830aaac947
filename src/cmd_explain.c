/* cmd_explain.c - botu explain: how botu understands one mail, and why */
#include <getopt.h>
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "botu/addr.h"
#include "botu/bounce.h"
#include "botu/classify.h"
#include "botu/cmd.h"
#include "botu/handle.h"
#include "botu/msgworker.h"
#include "botu/util.h"

static const char usage_explain[] =
    "usage: botu [-c FILE] explain [--json] [--list ADDRESS] MESSAGE|-\n"
    "  Shows how botu reads one mail (a file, or - for standard input)\n"
    "  and what it would do, changing nothing. With a configuration, what\n"
    "  the database knows about the sender counts too; without one, the\n"
    "  list address is ADDRESS, or guessed from the mail's recipients.\n";

/* ---- input ---- */

static int
read_all(const char *path, struct buf *b)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char chunk[65536];
	size_t n;

	if (f == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf_add(b, chunk, n);
		if (b->len > msgworker_default_limits.max_size + 1)
			break;
	}
	if (f != stdin)
		fclose(f);
	return 0;
}

/* Without a configuration: a recipient with a plus-detail is the list. */
static char *
guess_list_address(const struct message *m)
{
	for (size_t i = 0; i < m->nrcpts; i++) {
		const char *a = m->rcpts[i].addr, *plus = strchr(a, '+');
		const char *at = strrchr(a, '@');

		if (plus != NULL && at != NULL && plus < at)
			return xasprintf("%.*s%s", (int)(plus - a), a, at);
	}
	if (m->nrcpts > 0 && str_is_address(m->rcpts[0].addr))
		return xstrdup(m->rcpts[0].addr);
	return xstrdup("list@botu.invalid");
}

/* ---- reports and invitations ---- */

/*
 * The report as bounce.h reads it, the same parser as the daemon's:
 * "bounces" lists each recipient it names, "report" how it was written
 * and which returned Message-IDs it carries (what ties it to botu's mail).
 */
static void
json_bounces(struct buf *o, const struct message *m)
{
	static const char *const formats[] = { "none", "dsn", "arf", "text" };
	struct bounce_report r;

	bounce_parse(m, &r);
	buf_adds(o, ",\"bounces\":[");
	for (size_t i = 0; i < r.nrcpts; i++) {
		buf_addf(o, "%s{\"address\":", i ? "," : "");
		buf_add_json(o, r.rcpts[i].address);
		buf_adds(o, ",\"status\":");
		buf_add_json(o, r.rcpts[i].status);
		buf_adds(o, ",\"class\":");
		buf_add_json(o, bounce_class_name(r.rcpts[i].cls));
		buf_adds(o, ",\"action\":");
		buf_add_json(o, r.rcpts[i].action);
		buf_adds(o, ",\"diagnostic\":");
		buf_add_json(o, r.rcpts[i].diagnostic);
		buf_adds(o, "}");
	}
	buf_adds(o, "],\"report\":{\"format\":");
	buf_add_json(o, formats[r.format]);
	buf_addf(o, ",\"warning\":%s,\"message_ids\":[",
	    r.warning ? "true" : "false");
	for (size_t i = 0; r.message_ids != NULL && r.message_ids[i]; i++) {
		buf_adds(o, i ? "," : "");
		buf_add_json(o, r.message_ids[i]);
	}
	buf_adds(o, "]}");
	bounce_report_clear(&r);
}

/* The same for people: one line per recipient. */
static void
print_bounces(const struct message *m)
{
	struct bounce_report r;

	bounce_parse(m, &r);
	printf("report:   %s%s\n", r.format == BOUNCE_FORMAT_DSN ?
	    "RFC 3464 delivery status" : r.format == BOUNCE_FORMAT_ARF ?
	    "ARF complaint" : r.format == BOUNCE_FORMAT_TEXT ?
	    "written for people, no standard fields" : "none found",
	    r.warning ? " (a delay warning: nothing failed yet)" : "");
	for (size_t i = 0; i < r.nrcpts; i++)
		printf("  %s %s %s %s%s%s\n", r.rcpts[i].address,
		    r.rcpts[i].action, r.rcpts[i].status[0] ?
		    r.rcpts[i].status : "-",
		    bounce_class_name(r.rcpts[i].cls),
		    r.rcpts[i].diagnostic[0] ? ": " : "",
		    r.rcpts[i].diagnostic);
	for (size_t i = 0; r.message_ids != NULL && r.message_ids[i]; i++)
		printf("  returned mail: %s\n", r.message_ids[i]);
	bounce_report_clear(&r);
}

static void
json_calendar(struct buf *o, const struct message *m)
{
	icalcomponent *cal = icalparser_parse_string(m->calendar);
	icalcomponent *ev = NULL;
	icalproperty *p;
	icalparameter *ps;
	const char *attendee = "", *partstat = "";

	if (cal != NULL)
		ev = icalcomponent_get_first_component(cal,
		    ICAL_VEVENT_COMPONENT);
	buf_adds(o, ",\"calendar\":{\"method\":");
	buf_add_json(o, m->calendar_method);
	if (ev != NULL) {
		p = icalcomponent_get_first_property(ev,
		    ICAL_ATTENDEE_PROPERTY);
		if (p != NULL) {
			attendee = icalproperty_get_attendee(p);
			ps = icalproperty_get_first_parameter(p,
			    ICAL_PARTSTAT_PARAMETER);
			if (ps != NULL)
				partstat = icalparameter_enum_to_string(
				    icalparameter_get_partstat(ps));
		}
		buf_adds(o, ",\"uid\":");
		buf_add_json(o, icalcomponent_get_uid(ev));
		buf_adds(o, ",\"attendee\":");
		buf_add_json(o, attendee != NULL ? attendee : "");
		buf_adds(o, ",\"partstat\":");
		buf_add_json(o, partstat != NULL ? partstat : "");
		buf_addf(o, ",\"sequence\":%d", icalcomponent_get_sequence(ev));
	}
	buf_adds(o, "}");
	if (cal != NULL)
		icalcomponent_free(cal);
}

/* ---- output ---- */

static const char *
lang_name(int lang)
{
	return conf_languages[lang];
}

static void
print_human(const struct message *m, const struct classification *c,
    const struct intake_decision *d)
{
	printf("from:     %s%s%s%s\n", m->from.name, m->from.name[0] ?
	    " <" : "", m->from.addr, m->from.name[0] ? ">" : "");
	printf("subject:  %s\n", m->subject);
	printf("language: %s\n", lang_name(c->lang));
	printf("intent:   %s\n", intent_name(c->intent));
	printf("why:      %s\n", d->reason[0] ? d->reason : c->rule);
	printf("action:   %s; %s\n", d->action, d->act ?
	    "the mail is marked done" : "the mail stays as it is");
	if (c->intent == INTENT_BOUNCE)
		print_bounces(m);
	printf("text botu read:\n");
	if (c->own_words[0] == '\0')
		printf("  (none)\n");
	for (char *p = c->own_words; p != NULL && *p != '\0';) {
		char *nl = strchr(p, '\n');

		printf("  | %.*s\n", nl ? (int)(nl - p) : (int)strlen(p), p);
		p = nl ? nl + 1 : NULL;
	}
}

static void
print_json(const struct message *m, const struct classification *c,
    const struct intake_decision *d)
{
	struct buf o;

	buf_init(&o);
	buf_adds(&o, "{\"intent\":");
	buf_add_json(&o, intent_name(c->intent));
	buf_adds(&o, ",\"language\":");
	buf_add_json(&o, lang_name(c->lang));
	buf_adds(&o, ",\"reason\":");
	buf_add_json(&o, d->reason[0] ? d->reason : c->rule);
	buf_adds(&o, ",\"rule\":");
	buf_add_json(&o, c->rule);
	buf_adds(&o, ",\"channel\":");
	buf_add_json(&o, channel_name(c->channel));
	buf_adds(&o, ",\"sender\":");
	buf_add_json(&o, m->from.addr);
	buf_adds(&o, ",\"name\":");
	buf_add_json(&o, m->from.name);
	buf_adds(&o, ",\"subject\":");
	buf_add_json(&o, m->subject);
	buf_adds(&o, ",\"action\":");
	buf_add_json(&o, d->action);
	buf_addf(&o, ",\"act\":%s", d->act ? "true" : "false");
	buf_adds(&o, ",\"text\":");
	buf_add_json(&o, c->own_words);
	if (c->intent == INTENT_BOUNCE)
		json_bounces(&o, m);
	if (m->calendar != NULL)
		json_calendar(&o, m);
	buf_adds(&o, "}\n");
	fputs(o.s, stdout);
	buf_free(&o);
}

/* Mail the parser refuses: set aside (poison) or not a mail at all. */
static void
print_unread(const char *why, int set_aside, int json)
{
	struct buf o;

	if (!json) {
		printf("intent:   leave-alone\nwhy:      %s: %s\n", set_aside ?
		    "botu would set this mail aside without reading it" :
		    "this is not a mail botu can read", why);
		printf("action:   leave it for a person; the mail stays as it "
		    "is\n");
		return;
	}
	buf_init(&o);
	buf_addf(&o, "{\"intent\":\"leave-alone\",\"set_aside\":%s,"
	    "\"act\":false,\"action\":\"leave it for a person\","
	    "\"reason\":", set_aside ? "true" : "false");
	buf_add_json(&o, why);
	buf_adds(&o, "}\n");
	fputs(o.s, stdout);
	buf_free(&o);
}

/* ---- the command ---- */

static int
explain_message(struct cli *cli, const struct message *m, int json,
    const char *list)
{
	struct botu_conf *own = NULL;
	const struct botu_conf *conf = NULL;
	struct botu_db *db = NULL;
	struct classification c;
	struct intake_decision d;
	char err[BOTU_ERRLEN];
	int code = EX_OK;

	if (cli->conf_file != NULL && access(cli->conf_file, F_OK) == 0) {
		if ((conf = cli_conf(cli, &code)) == NULL)
			return code;
		if (access(conf->list.database, F_OK) == 0 &&
		    db_open(conf->list.database, DB_READONLY, &db, err) !=
		    BOTU_OK)
			return cli_fail(EX_UNAVAILABLE, "%s", err);
	} else {
		conf = own = conf_defaults();
		free(own->list.address);
		own->list.address = list != NULL ? xstrdup(list) :
		    guess_list_address(m);
	}
	if (handle_decide(conf, db, m, 1, &c, &d, err) != BOTU_OK)
		code = cli_fail(EX_SOFTWARE, "%s", err);
	else if (json)
		print_json(m, &c, &d);
	else
		print_human(m, &c, &d);
	classification_clear(&c);
	db_close(db);
	conf_free(own);
	return code;
}

int
cmd_explain(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "json", no_argument, NULL, 'j' },
		{ "list", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct msgworker *w;
	struct message m = { 0 };
	const char *list = NULL;
	char err[BOTU_ERRLEN];
	struct buf raw;
	int ch, code = EX_OK, json = 0, rc;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_explain,
	    &code)) != -1) {
		if (ch == '?')
			return code;
		if (ch == 'j')
			json = 1;
		else if (ch == 'l')
			list = optarg;
	}
	if (optind + 1 != argc)
		return cli_fail(EX_USAGE, "%s", usage_explain);
	if (list != NULL && !str_is_address(list))
		return cli_fail(EX_USAGE, "--list: '%s' is not an address",
		    list);
	buf_init(&raw);
	if (read_all(argv[optind], &raw) < 0) {
		buf_free(&raw);
		return cli_fail(EX_NOINPUT, "cannot read %s", argv[optind]);
	}
	/* The same isolated parse as the daemon's. */
	w = msgworker_new("/proc/self/exe", &msgworker_default_limits);
	rc = msgworker_parse(w, raw.s, raw.len, &m, err);
	msgworker_free(w);
	buf_free(&raw);
	if (rc == BOTU_EPOISON || rc == BOTU_EDATA)
		print_unread(err, rc == BOTU_EPOISON, json);
	else if (rc != BOTU_OK)
		code = cli_fail(EX_TEMPFAIL, "cannot parse: %s", err);
	else
		code = explain_message(cli, &m, json, list);
	message_clear(&m);
	return code;
}
