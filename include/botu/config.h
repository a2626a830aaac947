/*
 * config.h - the configuration file: one key table is the truth for parsing,
 * validation, defaults, botu.conf.example and botu.conf(5).
 *
 * conf_load() reads an INI file, checks every value against the table and
 * fails with "FILE:LINE: what is wrong" before anything connects. The result
 * is read-only afterwards and owned by the caller (conf_free()).
 */
#ifndef BOTU_CONFIG_H
#define BOTU_CONFIG_H

#include <stddef.h>

#include "botu/err.h"

/* Lines longer than this are refused: Debian's inih cuts at 200 bytes. */
#define CONF_MAX_LINE 198

enum conf_type {
	CONF_STR,	/* free text */
	CONF_INT,	/* decimal integer in [min, max] */
	CONF_BOOL,	/* yes|no (also true|false, on|off, 1|0) */
	CONF_ENUM,	/* one of choices[]; stored as its index */
	CONF_LIST,	/* comma-separated; a NULL-terminated char ** */
	CONF_PATH,	/* a file name, relative to the config's folder */
};

struct conf_key {
	const char	 *section;
	const char	 *name;
	enum conf_type	  type;
	size_t		  offset;	/* into struct botu_conf */
	const char	 *def;		/* default, as in the file */
	long long	  min, max;	/* CONF_INT */
	const char *const *choices;	/* CONF_ENUM, NULL-terminated */
	/* Extra check of a non-empty value; fills err and returns -1. */
	int		(*check)(const char *value, char *err,
			    size_t errlen);
	const char	 *doc;		/* one line for the docs */
};

enum conf_language	{ LANG_NL = 0, LANG_EN = 1, LANG_COUNT };
enum conf_security	{ SEC_TLS = 0, SEC_STARTTLS = 1, SEC_NONE = 2 };
enum conf_auth		{ AUTH_PASSWORD = 0, AUTH_XOAUTH2 = 1 };
enum conf_verp		{ VERP_AUTO = 0, VERP_YES = 1, VERP_NO = 2 };
enum conf_log_target	{ LOGTO_STDERR = 0, LOGTO_SYSLOG = 1 };

/* The language codes, indexed by enum conf_language. */
extern const char *const conf_languages[];

struct conf_server {
	char	 *host;
	int	  port;		/* 0: standard port for security */
	int	  security;	/* enum conf_security */
	char	 *username;
	int	  auth;		/* enum conf_auth */
	char	 *password_file;
	char	 *password_command;
	char	 *ca_file;
};

struct botu_conf {
	char	 *file;		/* as given; NULL: defaults */

	struct {
		char	 *address;
		char	 *id;
		char	 *name;
		int	  language;	/* enum conf_language */
		char	 *timezone;
		char	 *database;
		char	 *templates;
		char	**moderators;
		char	 *recipient_delimiter;
		char	 *authserv_id;
	} list;

	struct {
		struct conf_server srv;
		char	 *mailbox;
		char	 *done_mailbox;
		int	  idle;
		int	  idle_minutes;
		int	  poll_seconds;
	} imap;

	struct {
		struct conf_server srv;
		int	  connections;
		int	  max_per_minute;
		int	  max_per_day;
		int	  verp;		/* enum conf_verp */
	} smtp;

	struct {
		char	**subscribe[LANG_COUNT];
		char	**unsubscribe[LANG_COUNT];
		char	**help[LANG_COUNT];
	} intent;

	struct {
		int	  moderation;
		int	  max_length;
		char	**roles;	/* in the waaier's order */
		char	 *waaier_dir;	/* "": no page kept */
	} notes;

	struct {
		char	 *schedule;
		int	  send_empty;
	} digest;

	struct {
		char	 *organizer_name;
		int	  reminder_hours;
	} meetings;

	struct {
		char	 *schedule;	/* see schedule.h */
		char	**to;		/* NULL: moderators, else address */
	} summary;

	struct {
		int	  target;	/* enum conf_log_target */
		int	  full_addresses;
	} log;
};

/* The key table, in the order of botu.conf.example. */
const struct conf_key *conf_keys(size_t *n);
const char	*conf_type_name(const struct conf_key *);

/*
 * Loads FILE. On failure returns BOTU_ECONFIG with err set to
 * "FILE:LINE: what is wrong" (or "FILE: ..." when no line applies).
 * Warnings (a secret file readable by others) go to the log.
 */
int	conf_load(const char *file, struct botu_conf **out,
	    char err[BOTU_ERRLEN]);
/* Built-in defaults only, for commands that can run without a file. */
struct botu_conf *conf_defaults(void);
void	conf_free(struct botu_conf *);

/* What the daemon needs beyond the file being valid; fill err, return -1. */
int	conf_require_imap(const struct botu_conf *, char err[BOTU_ERRLEN]);
int	conf_require_smtp(const struct botu_conf *, char err[BOTU_ERRLEN]);

/* The port to use: the configured one, or the standard one for security. */
int	conf_port(const struct conf_server *, int is_smtp);

/*
 * The secret of a server, from password_file (first line) or the output of
 * password_command (first line; run with /bin/sh -c for every call, so a
 * token helper can hand out fresh OAuth2 tokens). *out is owned by the
 * caller, who should wipe it (explicit_bzero) before free().
 */
int	conf_secret(const struct conf_server *, char **out,
	    char err[BOTU_ERRLEN]);

/*
 * The file password_file is read from. Under systemd, LoadCredential=
 * NAME:PATH gives the service a copy of a secret in $CREDENTIALS_DIRECTORY
 * /NAME that only the service user can read, so the secret itself can
 * stay root's: a password_file whose file name is NAME is then read from
 * there. Returns password_file itself otherwise (also "" when unset);
 * buf (len bytes) holds the path when it is another.
 */
const char *conf_secret_file(const struct conf_server *, char *buf,
	    size_t len);

#endif
