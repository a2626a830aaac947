/* cli.c - what every command shares: see cmd.h */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "botu/cmd.h"
#include "botu/log.h"
#include "botu/util.h"

int
cli_fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("botu: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int
cli_exit_code(int status)
{
	switch (status) {
	case BOTU_OK:		return EX_OK;
	case BOTU_ETEMP:	return EX_TEMPFAIL;
	case BOTU_ECONN:	return EX_UNAVAILABLE;
	case BOTU_ECONFIG:
	case BOTU_EAUTH:	return EX_CONFIG;
	case BOTU_EPERM:
	case BOTU_EDATA:
	case BOTU_EPOISON:	return EX_DATAERR;
	}
	return EX_SOFTWARE;
}

const struct botu_conf *
cli_conf(struct cli *cli, int *code)
{
	char err[BOTU_ERRLEN];

	if (cli->conf != NULL)
		return cli->conf;
	if (conf_load(cli->conf_file, &cli->conf, err) != BOTU_OK) {
		*code = cli_fail(EX_CONFIG, "%s", err);
		return NULL;
	}
	log_init(cli->conf->log.target == LOGTO_SYSLOG,
	    log_debug_enabled() ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
	    !cli->conf->log.full_addresses);
	return cli->conf;
}

struct botu_db *
cli_db(struct cli *cli, int *code)
{
	const struct botu_conf *conf;
	char err[BOTU_ERRLEN];

	if (cli->db != NULL)
		return cli->db;
	conf = cli_conf(cli, code);
	if (conf == NULL)
		return NULL;
	if (db_open(conf->list.database, DB_READWRITE, &cli->db, err) !=
	    BOTU_OK) {
		*code = cli_fail(EX_UNAVAILABLE, "%s", err);
		return NULL;
	}
	return cli->db;
}

int
cli_getopt(int argc, char **argv, const char *shortopts,
    const struct option *longopts, const char *usage, int *code)
{
	int ch;

	opterr = 0;
	ch = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (ch == 'h') {
		fputs(usage, stdout);
		*code = EX_OK;
		return '?';
	}
	if (ch == '?' || ch == ':') {
		if (optopt != 0)
			cli_fail(EX_USAGE, "%s: bad or incomplete option "
			    "'-%c'", argv[0], optopt);
		else
			cli_fail(EX_USAGE, "%s: unknown option '%s'", argv[0],
			    argv[optind - 1]);
		fputs(usage, stderr);
		*code = EX_USAGE;
		return '?';
	}
	return ch;
}

int
cli_dispatch(struct cli *cli, int argc, char **argv,
    const struct cli_sub *subs, const char *usage)
{
	struct buf names;
	int code;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	for (const struct cli_sub *s = subs; s->name != NULL; s++)
		if (strcmp(argv[1], s->name) == 0) {
			optind = 0;
			return s->fn(cli, argc - 1, argv + 1);
		}
	buf_init(&names);
	for (const struct cli_sub *s = subs; s->name != NULL; s++)
		buf_addf(&names, "%s%s", s == subs ? "" : ", ", s->name);
	code = cli_fail(EX_USAGE, "%s: unknown command '%s' (%s)", argv[0],
	    argv[1], names.s);
	buf_free(&names);
	return code;
}
