/* main.c - botu's command line: global options, then one command. */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <sys/stat.h>

#include "botu/cmd.h"
#include "botu/log.h"
#include "botu/msgworker.h"
#include "botu/version.h"

#define DEFAULT_CONF "/etc/botu/botu.conf"

struct command {
	const char	*name;
	int		(*fn)(struct cli *, int, char **);
	const char	*summary;
};

/* The MIME parse worker msgworker.c starts: for botu, not for people. */
static int
cmd_parse_worker(struct cli *cli, int argc, char **argv)
{
	(void)cli;
	(void)argc;
	(void)argv;
	return msgworker_main();
}

/* A NULL summary keeps a command out of the usage. */
static const struct command commands[] = {
	{ "run", cmd_run, "read the mailbox and send mail (the daemon)" },
	{ "status", cmd_status, "what the organiser needs to know" },
	{ "check", cmd_check, "check the configuration and the database" },
	{ "explain", cmd_explain, "how botu understands one mail, and why" },
	{ "members", cmd_members,
	    "list, add, change, remove, forget and export members" },
	{ "notes", cmd_notes, "list, show, approve and reject PS notes" },
	{ "waaier", cmd_waaier, "all published PS notes as one page" },
	{ "outbox", cmd_outbox, "list, retry, drop or flush outgoing mail" },
	{ "backup", cmd_backup, "copy the database, also while botu runs" },
	{ "parse-worker", cmd_parse_worker, NULL },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: botu [-v] [-c FILE] COMMAND [ARGS]\n"
	    "       botu COMMAND --help\n\n"
	    "  -c FILE   configuration (default: $BOTU_CONF, else %s)\n"
	    "  -v        log more (debug)\n"
	    "  -V        print the version\n\n"
	    "commands:\n", DEFAULT_CONF);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].summary != NULL)
			fprintf(f, "  %-10s %s\n", commands[i].name,
			    commands[i].summary);
	fprintf(f, "\nSee botu(8) and botu.conf(5).\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli = { 0 };
	int ch, code;

	/* libcurl and libetpan write to sockets that peers may close. */
	signal(SIGPIPE, SIG_IGN);
	/* The database and its backups hold personal data. */
	umask(077);
	cli.conf_file = getenv("BOTU_CONF");
	if (cli.conf_file == NULL || cli.conf_file[0] == '\0')
		cli.conf_file = DEFAULT_CONF;

	/* "+": stop at the command; its options are its own. */
	while ((ch = getopt_long(argc, argv, "+c:hvV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cli.conf_file = optarg;
			break;
		case 'v':
			log_set_level(LOG_LEVEL_DEBUG);
			break;
		case 'V':
			printf("botu %s\n", BOTU_VERSION);
			return EX_OK;
		case 'h':
			usage(stdout);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return EX_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[0], commands[i].name) != 0)
			continue;
		optind = 0;
		code = commands[i].fn(&cli, argc, argv);
		db_close(cli.db);
		conf_free(cli.conf);
		return code;
	}
	return cli_fail(EX_USAGE, "unknown command '%s' (see botu --help)",
	    argv[0]);
}
