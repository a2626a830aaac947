/* config.c - see config.h */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "botu/config.h"
#include "botu/log.h"
#include "botu/schedule.h"
#include "botu/util.h"

#define SECRET_MAX 8192

const char *const conf_languages[] = { "nl", "en", NULL };
static const char *const security_choices[] =
    { "tls", "starttls", "none", NULL };
static const char *const auth_choices[] = { "password", "xoauth2", NULL };
static const char *const verp_choices[] = { "auto", "yes", "no", NULL };
static const char *const target_choices[] = { "stderr", "syslog", NULL };
static const char *const addresses_choices[] = { "masked", "full", NULL };

static int check_address(const char *, char *, size_t);
static int check_addresses(const char *, char *, size_t);
static int check_timezone(const char *, char *, size_t);
static int check_schedule(const char *, char *, size_t);
static int check_delimiter(const char *, char *, size_t);
static int check_mailbox(const char *, char *, size_t);
static int check_role(const char *, char *, size_t);
static int check_any_schedule(const char *, char *, size_t);

#define OFF(m) offsetof(struct botu_conf, m)
#define STR(s, k, m, d, doc) \
	{ s, k, CONF_STR, OFF(m), d, 0, 0, NULL, NULL, doc }
#define STRC(s, k, m, d, chk, doc) \
	{ s, k, CONF_STR, OFF(m), d, 0, 0, NULL, chk, doc }
#define PATH(s, k, m, d, doc) \
	{ s, k, CONF_PATH, OFF(m), d, 0, 0, NULL, NULL, doc }
#define INT(s, k, m, d, lo, hi, doc) \
	{ s, k, CONF_INT, OFF(m), d, lo, hi, NULL, NULL, doc }
#define BOOL(s, k, m, d, doc) \
	{ s, k, CONF_BOOL, OFF(m), d, 0, 0, NULL, NULL, doc }
#define ENUM(s, k, m, d, c, doc) \
	{ s, k, CONF_ENUM, OFF(m), d, 0, 0, c, NULL, doc }
#define LIST(s, k, m, d, chk, doc) \
	{ s, k, CONF_LIST, OFF(m), d, 0, 0, NULL, chk, doc }

#define SERVER_KEYS(sec, m, port_doc, sec_def, sec_doc) \
	STR(sec, "host", m.srv.host, "", "server name (required to run)"), \
	INT(sec, "port", m.srv.port, "0", 0, 65535, port_doc), \
	ENUM(sec, "security", m.srv.security, sec_def, security_choices, \
	    sec_doc), \
	STR(sec, "username", m.srv.username, "", "login name"), \
	ENUM(sec, "auth", m.srv.auth, "password", auth_choices, \
	    "password, or xoauth2 (the secret is then an OAuth2 token)"), \
	PATH(sec, "password_file", m.srv.password_file, "", \
	    "file whose first line is the secret; keep it mode 600"), \
	STR(sec, "password_command", m.srv.password_command, "", \
	    "command whose first output line is the secret"), \
	PATH(sec, "ca_file", m.srv.ca_file, "", \
	    "PEM file of a private CA to trust instead of the system's")

static const struct conf_key keys[] = {
	STRC("list", "address", list.address, "", check_address,
	    "the list's address, the mailbox botu reads (required)"),
	STR("list", "id", list.id, "",
	    "List-Id (RFC 2919); empty: <localpart>.<domain> of address"),
	STR("list", "name", list.name, "",
	    "the community's name, shown as From and in mails"),
	ENUM("list", "language", list.language, "nl", conf_languages,
	    "language of the list: nl or en"),
	STRC("list", "timezone", list.timezone, "Europe/Amsterdam",
	    check_timezone, "time zone for digests, meetings and dates"),
	PATH("list", "database", list.database, "/var/lib/botu/botu.db",
	    "the SQLite database"),
	PATH("list", "templates", list.templates, "",
	    "folder of mail templates; empty: the installed ones"),
	LIST("list", "moderators", list.moderators, "", check_addresses,
	    "addresses that approve notes and get the summary"),
	STRC("list", "recipient_delimiter", list.recipient_delimiter, "+",
	    check_delimiter, "separates a plus-address detail: + or -"),
	STR("list", "authserv_id", list.authserv_id, "",
	    "trust Authentication-Results from this authserv-id only"),

	SERVER_KEYS("imap", imap, "0: 993 for tls, 143 for starttls",
	    "tls", "tls (port 993), starttls, or none (loopback only)"),
	STRC("imap", "mailbox", imap.mailbox, "INBOX", check_mailbox,
	    "the mailbox botu reads"),
	STRC("imap", "done_mailbox", imap.done_mailbox, "botu-done",
	    check_mailbox,
	    "where handled mail goes; empty: flag it $BotuDone instead"),
	BOOL("imap", "idle", imap.idle, "yes",
	    "wait with IDLE when the server offers it"),
	INT("imap", "idle_minutes", imap.idle_minutes, "25", 1, 29,
	    "renew IDLE after this many minutes"),
	INT("imap", "poll_seconds", imap.poll_seconds, "60", 10, 3600,
	    "how often to look for new mail without IDLE"),

	SERVER_KEYS("smtp", smtp, "0: 465 for tls, 587 for starttls",
	    "starttls",
	    "starttls (port 587), tls (465), or none (loopback only)"),
	INT("smtp", "connections", smtp.connections, "1", 1, 16,
	    "SMTP connections used in parallel"),
	INT("smtp", "max_per_minute", smtp.max_per_minute, "0", 0, 1000000,
	    "send at most this many mails a minute; 0: no limit"),
	INT("smtp", "max_per_day", smtp.max_per_day, "0", 0, 100000000,
	    "send at most this many mails a day; 0: no limit"),
	ENUM("smtp", "verp", smtp.verp, "auto", verp_choices,
	    "per-recipient bounce addresses: auto, yes or no"),

	LIST("intent", "subscribe_nl", intent.subscribe[LANG_NL], "", NULL,
	    "extra Dutch words that mean: sign me up"),
	LIST("intent", "subscribe_en", intent.subscribe[LANG_EN], "", NULL,
	    "extra English words that mean: sign me up"),
	LIST("intent", "unsubscribe_nl", intent.unsubscribe[LANG_NL], "", NULL,
	    "extra Dutch words that mean: take me off the list"),
	LIST("intent", "unsubscribe_en", intent.unsubscribe[LANG_EN], "", NULL,
	    "extra English words that mean: take me off the list"),
	LIST("intent", "help_nl", intent.help[LANG_NL], "", NULL,
	    "extra Dutch subjects that ask for help"),
	LIST("intent", "help_en", intent.help[LANG_EN], "", NULL,
	    "extra English subjects that ask for help"),

	BOOL("notes", "moderation", notes.moderation, "yes",
	    "a moderator approves each PS note before it is published"),
	INT("notes", "max_length", notes.max_length, "1500", 100, 20000,
	    "longest PS note in characters"),
	LIST("notes", "roles", notes.roles, "bewoner, gemeente, "
	    "woningcorporatie, energiebedrijf, energiecoöperatie, ondernemer, "
	    "maatschappelijke organisatie, kunstenaar", check_role,
	    "the roles a member can give, in the waaier's order"),
	PATH("notes", "waaier_dir", notes.waaier_dir, "",
	    "folder where botu keeps the waaier as index.html; empty: none"),

	STRC("digest", "schedule", digest.schedule, "mon 09:00",
	    check_schedule,
	    "weekly (mon 09:00) or monthly (day 1 09:00), list time zone"),
	BOOL("digest", "send_empty", digest.send_empty, "no",
	    "send a digest also when nothing happened"),

	STR("meetings", "organizer_name", meetings.organizer_name, "",
	    "the organiser's name in mails and invitations; empty: none"),
	INT("meetings", "reminder_hours", meetings.reminder_hours, "24", 0, 336,
	    "remind this many hours before a meeting; 0: no reminder"),

	STRC("summary", "schedule", summary.schedule, "daily 08:00",
	    check_any_schedule,
	    "when the organiser's summary goes, if anything happened"),
	LIST("summary", "to", summary.to, "", check_addresses,
	    "who gets it; empty: the moderators, else the list address"),

	ENUM("log", "target", log.target, "stderr", target_choices,
	    "stderr (journald) or syslog"),
	ENUM("log", "addresses", log.full_addresses, "masked",
	    addresses_choices, "masked (a***@example.org) or full"),
};

const struct conf_key *
conf_keys(size_t *n)
{
	*n = NELEM(keys);
	return keys;
}

const char *
conf_type_name(const struct conf_key *k)
{
	switch (k->type) {
	case CONF_STR:	return "string";
	case CONF_INT:	return "integer";
	case CONF_BOOL:	return "yes|no";
	case CONF_ENUM:	return "choice";
	case CONF_LIST:	return "list";
	case CONF_PATH:	return "file";
	}
	return "?";
}

/* ---- value checks ---- */

static int
check_address(const char *v, char *err, size_t errlen)
{
	if (str_is_address(v))
		return 0;
	snprintf(err, errlen, "'%s' is not an e-mail address", v);
	return -1;
}

static int
check_addresses(const char *v, char *err, size_t errlen)
{
	return check_address(v, err, errlen);
}

static int
check_timezone(const char *v, char *err, size_t errlen)
{
	char path[512];
	struct stat st;

	if (strstr(v, "..") == NULL && v[0] != '/') {
		snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", v);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			return 0;
	}
	snprintf(err, errlen, "unknown time zone '%s' (try Europe/Amsterdam)",
	    v);
	return -1;
}

static int
check_schedule(const char *v, char *err, size_t errlen)
{
	static const char *const days[] =
	    { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };
	char word[8];
	int day, hh, mm, n = 0;

	if (sscanf(v, "day %d %d:%d%n", &day, &hh, &mm, &n) == 3 &&
	    v[n] == '\0' && day >= 1 && day <= 28 && hh >= 0 && hh < 24 &&
	    mm >= 0 && mm < 60)
		return 0;
	n = 0;
	if (sscanf(v, "%3s %d:%d%n", word, &hh, &mm, &n) == 3 &&
	    v[n] == '\0' && hh >= 0 && hh < 24 && mm >= 0 && mm < 60)
		for (size_t i = 0; i < NELEM(days); i++)
			if (strcmp(word, days[i]) == 0)
				return 0;
	snprintf(err, errlen, "schedule '%s' is not 'mon 09:00' (weekly) or "
	    "'day 1 09:00' (monthly, day 1 to 28)", v);
	return -1;
}

static int
check_any_schedule(const char *v, char *err, size_t errlen)
{
	struct schedule s;

	return schedule_parse(v, &s, err, errlen);
}

static int
check_delimiter(const char *v, char *err, size_t errlen)
{
	if (strlen(v) == 1 && strchr("+-", v[0]) != NULL)
		return 0;
	snprintf(err, errlen, "recipient_delimiter must be + or -");
	return -1;
}

static int
check_mailbox(const char *v, char *err, size_t errlen)
{
	for (const char *p = v; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == '"' || *p == '\\' ||
		    *p == 0x7f) {
			snprintf(err, errlen, "mailbox name '%s' has a "
			    "character botu does not send", v);
			return -1;
		}
	return 0;
}

static int
check_role(const char *v, char *err, size_t errlen)
{
	if (strlen(v) <= 40 && strpbrk(v, "<>\"{}") == NULL)
		return 0;
	snprintf(err, errlen, "role '%s' is longer than 40 characters or "
	    "has one of < > \" { }", v);
	return -1;
}

/* ---- reading ---- */

struct reader {
	FILE		*f;
	const char	*file;
	const char	*dir;
	int		 line;
	int		 too_long;	/* line of an over-long line */
	char		*linebuf;
	size_t		 linecap;
	struct botu_conf *conf;
	int		 err_line;
	char		 err[BOTU_ERRLEN];
	int		 seen[NELEM(keys)];	/* line each key is on */
};

/* inih reader: hands over whole lines only and refuses long ones. */
static char *
reader_line(char *str, int num, void *stream)
{
	struct reader *r = stream;
	ssize_t n;

	n = getline(&r->linebuf, &r->linecap, r->f);
	if (n < 0)
		return NULL;
	r->line++;
	while (n > 0 && (r->linebuf[n - 1] == '\n' ||
	    r->linebuf[n - 1] == '\r'))
		r->linebuf[--n] = '\0';
	if (n > CONF_MAX_LINE || n + 2 > num) {
		r->too_long = r->line;
		return NULL;
	}
	memcpy(str, r->linebuf, (size_t)n);
	str[n] = '\n';
	str[n + 1] = '\0';
	return str;
}

static void *
field(struct botu_conf *c, const struct conf_key *k)
{
	return (char *)c + k->offset;
}

static int
parse_bool(const char *v, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < NELEM(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static char *
resolve_path(const char *dir, const char *v)
{
	if (v[0] == '\0' || v[0] == '/' || dir == NULL)
		return xstrdup(v);
	return xasprintf("%s/%s", dir, v);
}

/* Stores value v for key k; fills err and returns -1 when it is wrong. */
static int
set_value(struct botu_conf *c, const struct conf_key *k, const char *v,
    const char *dir, char *err, size_t errlen)
{
	void *p = field(c, k);
	long long n;

	switch (k->type) {
	case CONF_STR:
	case CONF_PATH:
		if (v[0] != '\0' && k->check != NULL &&
		    k->check(v, err, errlen) < 0)
			return -1;
		free(*(char **)p);
		*(char **)p = k->type == CONF_PATH ? resolve_path(dir, v) :
		    xstrdup(v);
		return 0;
	case CONF_INT:
		if (str_to_int(v, k->min, k->max, &n) < 0) {
			snprintf(err, errlen, "%s must be a whole number from "
			    "%lld to %lld, not '%s'", k->name, k->min, k->max,
			    v);
			return -1;
		}
		*(int *)p = (int)n;
		return 0;
	case CONF_BOOL:
		if (parse_bool(v, (int *)p) < 0) {
			snprintf(err, errlen, "%s must be yes or no, not '%s'",
			    k->name, v);
			return -1;
		}
		return 0;
	case CONF_ENUM:
		for (int i = 0; k->choices[i] != NULL; i++)
			if (strcmp(v, k->choices[i]) == 0) {
				*(int *)p = i;
				return 0;
			}
		{
			struct buf b;

			buf_init(&b);
			for (int i = 0; k->choices[i] != NULL; i++)
				buf_addf(&b, "%s%s", i ? ", " : "",
				    k->choices[i]);
			snprintf(err, errlen, "%s must be one of %s, not '%s'",
			    k->name, b.s, v);
			buf_free(&b);
		}
		return -1;
	case CONF_LIST: {
		char **list = NULL, *copy = xstrdup(v), *save = NULL, *item;
		int rc = 0;

		for (item = strtok_r(copy, ",", &save); item != NULL;
		    item = strtok_r(NULL, ",", &save)) {
			str_trim(item);
			if (item[0] == '\0')
				continue;
			if (k->check != NULL &&
			    k->check(item, err, errlen) < 0) {
				rc = -1;
				break;
			}
			list = strv_add(list, item);
		}
		free(copy);
		if (rc < 0) {
			strv_free(list);
			return -1;
		}
		strv_free(*(char ***)p);
		*(char ***)p = list;
		return 0;
	}
	}
	return -1;
}

static int
reader_fail(struct reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
reader_fail(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	if (r->err_line != 0)
		return 0;
	r->err_line = r->line;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return 0;
}

static int
handle_key(void *user, const char *section, const char *name,
    const char *value)
{
	struct reader *r = user;
	char verr[BOTU_ERRLEN], *v;
	size_t len, i;
	int known_section = 0;

	if (r->err_line != 0)
		return 0;
	if (section[0] == '\0')
		return reader_fail(r, "'%s' is outside any [section]", name);
	for (i = 0; i < NELEM(keys); i++) {
		if (strcmp(keys[i].section, section) != 0)
			continue;
		known_section = 1;
		if (strcmp(keys[i].name, name) == 0)
			break;
	}
	if (!known_section)
		return reader_fail(r, "unknown section [%s]", section);
	if (i == NELEM(keys))
		return reader_fail(r, "unknown key '%s' in [%s]", name,
		    section);
	if (r->seen[i] != 0)
		return reader_fail(r, "'%s' is set twice in [%s] (first on "
		    "line %d)", name, section, r->seen[i]);
	r->seen[i] = r->line;

	/* "value" and value mean the same; quotes are not part of it. */
	v = xstrdup(value);
	len = strlen(v);
	if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
		memmove(v, v + 1, len - 2);
		v[len - 2] = '\0';
	}
	if (set_value(r->conf, &keys[i], v, r->dir, verr, sizeof(verr)) < 0)
		reader_fail(r, "%s", verr);
	free(v);
	return r->err_line == 0;
}

static struct botu_conf *
conf_new_defaults(void)
{
	struct botu_conf *c = xcalloc(1, sizeof(*c));
	char err[BOTU_ERRLEN];

	for (size_t i = 0; i < NELEM(keys); i++)
		if (set_value(c, &keys[i], keys[i].def, NULL, err,
		    sizeof(err)) < 0)
			fatalx("built-in default of %s.%s: %s",
			    keys[i].section, keys[i].name, err);
	return c;
}

struct botu_conf *
conf_defaults(void)
{
	return conf_new_defaults();
}

static int
is_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 ||
	    strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0;
}

static int
key_line(const struct reader *r, const char *section, const char *name)
{
	for (size_t i = 0; i < NELEM(keys); i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].name, name) == 0)
			return r->seen[i];
	return 0;
}

static void
fail_at(char *err, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
fail_at(char *err, const char *file, int line, const char *fmt, ...)
{
	char msg[BOTU_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(err, BOTU_ERRLEN, "%s:%d: %s", file, line, msg);
	else
		snprintf(err, BOTU_ERRLEN, "%s: %s", file, msg);
}

/* Checks what concerns several keys of one server section. */
static int
check_server(const struct reader *r, const char *sec,
    const struct conf_server *s, char *err)
{
	char buf[BOTU_ERRLEN];
	const char *path;
	struct stat st;

	if (s->security == SEC_NONE && s->host[0] != '\0' &&
	    !is_loopback(s->host)) {
		fail_at(err, r->file, key_line(r, sec, "security"),
		    "security = none sends the password in clear text; it is "
		    "only allowed for a server on this machine (127.0.0.1)");
		return -1;
	}
	if (s->password_file[0] != '\0' && s->password_command[0] != '\0') {
		fail_at(err, r->file, key_line(r, sec, "password_command"),
		    "set password_file or password_command in [%s], not both",
		    sec);
		return -1;
	}
	if (s->ca_file[0] != '\0' && access(s->ca_file, R_OK) != 0) {
		fail_at(err, r->file, key_line(r, sec, "ca_file"),
		    "cannot read ca_file %s: %s", s->ca_file, strerror(errno));
		return -1;
	}
	if (s->password_file[0] == '\0')
		return 0;
	path = conf_secret_file(s, buf, sizeof(buf));
	if (stat(path, &st) != 0 || access(path, R_OK) != 0) {
		fail_at(err, r->file, key_line(r, sec, "password_file"),
		    "cannot read password_file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	/* systemd sets the mode of its credential copies itself. */
	if (path == s->password_file && (st.st_mode & (S_IRWXG | S_IRWXO)))
		log_warnx("%s:%d: password_file %s can be read by others; "
		    "chmod 600 it", r->file, key_line(r, sec, "password_file"),
		    path);
	return 0;
}

static int
conf_finish(struct reader *r, char *err)
{
	struct botu_conf *c = r->conf;

	if (c->list.address[0] == '\0') {
		fail_at(err, r->file, 0, "[list] address is required");
		return -1;
	}
	/* Token addresses (local+afmelden-<26 characters>) must fit in
	 * the 64 octets RFC 5321 allows a local part. */
	if (strrchr(c->list.address, '@') - c->list.address > 28) {
		fail_at(err, r->file, key_line(r, "list", "address"),
		    "the part before the @ of address may be at most 28 "
		    "characters, so that botu's reply addresses fit");
		return -1;
	}
	if (c->list.id[0] == '\0') {
		char *at = strrchr(c->list.address, '@');

		free(c->list.id);
		c->list.id = xasprintf("%.*s.%s",
		    (int)(at - c->list.address), c->list.address, at + 1);
	}
	if (check_server(r, "imap", &c->imap.srv, err) < 0 ||
	    check_server(r, "smtp", &c->smtp.srv, err) < 0)
		return -1;
	return 0;
}

int
conf_load(const char *file, struct botu_conf **out, char err[BOTU_ERRLEN])
{
	struct reader r;
	char *slash;
	int rc, ret = BOTU_ECONFIG;

	*out = NULL;
	memset(&r, 0, sizeof(r));
	r.file = file;
	r.f = fopen(file, "r");
	if (r.f == NULL) {
		fail_at(err, file, 0, "cannot open: %s", strerror(errno));
		return BOTU_ECONFIG;
	}
	r.conf = conf_new_defaults();
	r.conf->file = xstrdup(file);
	slash = strrchr(r.conf->file, '/');
	r.dir = slash == NULL ? xstrdup(".") :
	    xstrndup(r.conf->file, slash == r.conf->file ? 1 :
	    (size_t)(slash - r.conf->file));

	rc = ini_parse_stream(reader_line, &r, handle_key, &r);
	if (ferror(r.f))
		fail_at(err, file, 0, "read error: %s", strerror(errno));
	else if (r.err_line != 0)
		fail_at(err, file, r.err_line, "%s", r.err);
	else if (r.too_long != 0)
		fail_at(err, file, r.too_long, "line is longer than %d "
		    "characters", CONF_MAX_LINE);
	else if (rc > 0)
		fail_at(err, file, rc, "expected 'key = value' or "
		    "'[section]'");
	else if (rc < 0)
		fail_at(err, file, 0, "cannot read");
	else if (conf_finish(&r, err) == 0)
		ret = BOTU_OK;

	fclose(r.f);
	free(r.linebuf);
	free((char *)r.dir);
	if (ret == BOTU_OK)
		*out = r.conf;
	else
		conf_free(r.conf);
	return ret;
}

void
conf_free(struct botu_conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < NELEM(keys); i++) {
		void *p = field(c, &keys[i]);

		if (keys[i].type == CONF_STR || keys[i].type == CONF_PATH)
			free(*(char **)p);
		else if (keys[i].type == CONF_LIST)
			strv_free(*(char ***)p);
	}
	free(c->file);
	free(c);
}

static int
require_server(const struct botu_conf *c, const char *sec,
    const struct conf_server *s, char *err)
{
	const char *file = c->file != NULL ? c->file : "botu.conf";

	if (s->host[0] == '\0') {
		fail_at(err, file, 0, "[%s] host is required", sec);
		return -1;
	}
	if (s->username[0] != '\0' && s->password_file[0] == '\0' &&
	    s->password_command[0] == '\0') {
		fail_at(err, file, 0, "[%s] username is set but neither "
		    "password_file nor password_command", sec);
		return -1;
	}
	return 0;
}

int
conf_require_imap(const struct botu_conf *c, char err[BOTU_ERRLEN])
{
	if (require_server(c, "imap", &c->imap.srv, err) < 0)
		return -1;
	if (c->imap.srv.username[0] == '\0') {
		fail_at(err, c->file ? c->file : "botu.conf", 0,
		    "[imap] username is required");
		return -1;
	}
	return 0;
}

int
conf_require_smtp(const struct botu_conf *c, char err[BOTU_ERRLEN])
{
	return require_server(c, "smtp", &c->smtp.srv, err);
}

int
conf_port(const struct conf_server *s, int is_smtp)
{
	if (s->port != 0)
		return s->port;
	switch (s->security) {
	case SEC_TLS:
		return is_smtp ? 465 : 993;
	case SEC_STARTTLS:
		return is_smtp ? 587 : 143;
	default:
		return is_smtp ? 25 : 143;
	}
}

static int
read_first_line(FILE *f, char **out)
{
	char *line = xcalloc(1, SECRET_MAX + 2);
	size_t n;

	if (fgets(line, SECRET_MAX + 2, f) == NULL) {
		free(line);
		return -1;
	}
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n == 0 || n > SECRET_MAX) {
		explicit_bzero(line, SECRET_MAX + 2);
		free(line);
		return -1;
	}
	*out = line;
	return 0;
}

const char *
conf_secret_file(const struct conf_server *s, char *buf, size_t len)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	const char *name = strrchr(s->password_file, '/');
	int n;

	name = name != NULL ? name + 1 : s->password_file;
	if (dir == NULL || dir[0] != '/' || name[0] == '\0')
		return s->password_file;
	n = snprintf(buf, len, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= len || access(buf, F_OK) != 0)
		return s->password_file;
	return buf;
}

int
conf_secret(const struct conf_server *s, char **out, char err[BOTU_ERRLEN])
{
	char buf[BOTU_ERRLEN];
	const char *path;
	FILE *f;
	int rc, status;

	*out = NULL;
	if (s->password_file[0] != '\0') {
		path = conf_secret_file(s, buf, sizeof(buf));
		f = fopen(path, "r");
		if (f == NULL) {
			snprintf(err, BOTU_ERRLEN, "cannot open %s: %s",
			    path, strerror(errno));
			return BOTU_ECONFIG;
		}
		rc = read_first_line(f, out);
		fclose(f);
		if (rc < 0) {
			snprintf(err, BOTU_ERRLEN, "%s has no secret on its "
			    "first line", path);
			return BOTU_ECONFIG;
		}
		return BOTU_OK;
	}
	if (s->password_command[0] == '\0') {
		snprintf(err, BOTU_ERRLEN, "no password_file or "
		    "password_command");
		return BOTU_ECONFIG;
	}
	fflush(NULL);
	f = popen(s->password_command, "r");
	if (f == NULL) {
		snprintf(err, BOTU_ERRLEN, "cannot run password_command: %s",
		    strerror(errno));
		return BOTU_ETEMP;
	}
	rc = read_first_line(f, out);
	status = pclose(f);
	if (rc < 0 || status == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		if (*out != NULL) {
			explicit_bzero(*out, strlen(*out));
			free(*out);
			*out = NULL;
		}
		snprintf(err, BOTU_ERRLEN, "password_command failed (exit "
		    "status %d) or printed nothing",
		    status != -1 && WIFEXITED(status) ?
		    WEXITSTATUS(status) : -1);
		return BOTU_ETEMP;
	}
	return BOTU_OK;
}
