/*
 * cmd.h - the commands of the botu program. main.c parses the global
 * options and calls one cmd_*() with the command's own arguments
 * (argv[0] is the command name); each returns a sysexits(3) code.
 */
#ifndef BOTU_CMD_H
#define BOTU_CMD_H

#include <sysexits.h>

#include "botu/config.h"
#include "botu/db.h"

struct cli {
	const char	 *conf_file;	/* -c, $BOTU_CONF or default */
	struct botu_conf *conf;		/* loaded on first use */
	struct botu_db	 *db;		/* opened on first use */
};

/* Loads the configuration or the database on first use; NULL after
 * printing one line on stderr. *code gets the exit code to use then. */
const struct botu_conf *cli_conf(struct cli *, int *code);
struct botu_db	*cli_db(struct cli *, int *code);

/* Prints "botu: message" on stderr and returns code. */
int	cli_fail(int code, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* The exit code for a module status. */
int	cli_exit_code(int botu_status);

/*
 * Parses the options of a command: getopt_long(3) over argv, with --help
 * answered from usage (exit 0 through *code) and unknown options reported
 * (EX_USAGE). Returns the option character, -1 at the end, or '?' when the
 * caller must return *code. Set optind = 0 before the first call for a
 * new argv.
 */
struct option;
#define CLI_OPT_HELP { "help", no_argument, NULL, 'h' }
int	cli_getopt(int argc, char **argv, const char *shortopts,
	    const struct option *, const char *usage, int *code);

/* A command with subcommands ("members list"): argv[1] names one. */
struct cli_sub {
	const char	*name;
	int		(*fn)(struct cli *, int, char **);
};

/*
 * Runs the subcommand argv[1] of subs (NULL-named entry ends the table)
 * with argv + 1; prints usage for --help or a missing or unknown one.
 */
int	cli_dispatch(struct cli *, int argc, char **argv,
	    const struct cli_sub *subs, const char *usage);

int	cmd_members(struct cli *, int argc, char **argv);
int	cmd_check(struct cli *, int argc, char **argv);
int	cmd_outbox(struct cli *, int argc, char **argv);
int	cmd_run(struct cli *, int argc, char **argv);
int	cmd_status(struct cli *, int argc, char **argv);
int	cmd_explain(struct cli *, int argc, char **argv);
int	cmd_notes(struct cli *, int argc, char **argv);
int	cmd_waaier(struct cli *, int argc, char **argv);
int	cmd_backup(struct cli *, int argc, char **argv);

#endif
