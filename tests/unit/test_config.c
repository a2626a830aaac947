/* Unit tests of the configuration reader and its key table. */
#include "testutil.h"

#include "botu/config.h"
#include "botu/log.h"
#include "botu/util.h"

struct fixture {
	char *dir;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->dir = tmpdir_new();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	tmpdir_remove(f->dir);
	free(f);
	log_set_stream(NULL);
	return 0;
}

/* Loads text as a config file; returns the status, fills conf or err. */
static int
load(struct fixture *f, const char *text, struct botu_conf **conf,
    char *err)
{
	char *path = write_file(f->dir, "botu.conf", text, 0600);
	int rc = conf_load(path, conf, err);

	free(path);
	return rc;
}

#define MINIMAL "[list]\naddress = annerike@lsabewoners.nl\n"

/* The error must name the file and the line. */
static void
expect_error(struct fixture *f, const char *text, int line,
    const char *needle)
{
	struct botu_conf *c = NULL;
	char err[BOTU_ERRLEN], want[64];

	assert_int_equal(load(f, text, &c, err), BOTU_ECONFIG);
	assert_null(c);
	if (line > 0)
		snprintf(want, sizeof(want), "/botu.conf:%d: ", line);
	else
		snprintf(want, sizeof(want), "/botu.conf: ");
	if (strstr(err, want) == NULL || strstr(err, needle) == NULL)
		fail_msg("error '%s' lacks '%s' or '%s'", err, want, needle);
}

static void
test_defaults(void **state)
{
	struct fixture *f = *state;
	struct botu_conf *c = NULL;
	char err[BOTU_ERRLEN];

	assert_int_equal(load(f, MINIMAL, &c, err), BOTU_OK);
	assert_string_equal(c->list.address, "annerike@lsabewoners.nl");
	assert_string_equal(c->list.id, "annerike.lsabewoners.nl");
	assert_int_equal(c->list.language, LANG_NL);
	assert_string_equal(c->list.timezone, "Europe/Amsterdam");
	assert_string_equal(c->list.database, "/var/lib/botu/botu.db");
	assert_null(c->list.moderators);
	assert_int_equal(c->imap.srv.security, SEC_TLS);
	assert_int_equal(conf_port(&c->imap.srv, 0), 993);
	assert_int_equal(c->smtp.srv.security, SEC_STARTTLS);
	assert_int_equal(conf_port(&c->smtp.srv, 1), 587);
	assert_int_equal(c->imap.idle, 1);
	assert_int_equal(c->imap.idle_minutes, 25);
	assert_string_equal(c->imap.done_mailbox, "botu-done");
	assert_int_equal(c->smtp.connections, 1);
	assert_int_equal(c->digest.send_empty, 0);
	assert_string_equal(c->digest.schedule, "mon 09:00");
	conf_free(c);
}

static void
test_every_type(void **state)
{
	struct fixture *f = *state;
	struct botu_conf *c = NULL;
	char err[BOTU_ERRLEN];

	assert_int_equal(load(f,
	    "; comment\n"
	    "# another\n"
	    "[list]\n"
	    "address = annerike@lsabewoners.nl\n"
	    "name = \"Energie community BoTu\"\n"
	    "language = en\n"
	    "database = state/botu.db\n"
	    "moderators = a@example.org, b@example.org ,\n"
	    "[imap]\n"
	    "host = 127.0.0.1\n"
	    "port = 10143\n"
	    "security = none\n"
	    "idle = off\n"
	    "idle_minutes = 29\n"
	    "[smtp]\n"
	    "host = smtp.example.org\n"
	    "security = tls\n"
	    "connections = 4\n"
	    "[intent]\n"
	    "subscribe_nl = graag erbij, meld me aan\n"
	    "[digest]\n"
	    "schedule = day 1 18:30\n"
	    "send_empty = yes\n"
	    "[log]\n"
	    "addresses = full\n", &c, err), BOTU_OK);
	assert_string_equal(c->list.name, "Energie community BoTu");
	assert_int_equal(c->list.language, LANG_EN);
	assert_true(strncmp(c->list.database, f->dir, strlen(f->dir)) == 0);
	assert_string_equal(c->list.database + strlen(f->dir),
	    "/state/botu.db");
	assert_int_equal(strv_len(c->list.moderators), 2);
	assert_string_equal(c->list.moderators[1], "b@example.org");
	assert_int_equal(c->imap.srv.port, 10143);
	assert_int_equal(c->imap.srv.security, SEC_NONE);
	assert_int_equal(c->imap.idle, 0);
	assert_int_equal(c->imap.idle_minutes, 29);
	assert_int_equal(c->smtp.srv.security, SEC_TLS);
	assert_int_equal(conf_port(&c->smtp.srv, 1), 465);
	assert_int_equal(c->smtp.connections, 4);
	assert_string_equal(c->intent.subscribe[LANG_NL][1], "meld me aan");
	assert_null(c->intent.subscribe[LANG_EN]);
	assert_string_equal(c->digest.schedule, "day 1 18:30");
	assert_int_equal(c->digest.send_empty, 1);
	assert_int_equal(c->log.full_addresses, 1);
	conf_free(c);
}

static void
test_bad_values(void **state)
{
	struct fixture *f = *state;

	expect_error(f, MINIMAL "[imap]\nport = 99999\n", 4,
	    "port must be a whole number from 0 to 65535");
	expect_error(f, MINIMAL "[imap]\nport = 12x\n", 4, "'12x'");
	expect_error(f, MINIMAL "[imap]\nidle = maybe\n", 4,
	    "idle must be yes or no");
	expect_error(f, MINIMAL "[imap]\n\nsecurity = ssl\n", 5,
	    "one of tls, starttls, none");
	expect_error(f, "[list]\naddress = not-an-address\n", 2,
	    "not an e-mail address");
	expect_error(f, MINIMAL "moderators = a@example.org, nope\n", 3,
	    "'nope' is not an e-mail address");
	expect_error(f, MINIMAL "timezone = Europe/Rotterdam\n", 3,
	    "unknown time zone");
	expect_error(f, MINIMAL "[digest]\nschedule = monday 9am\n", 4,
	    "schedule");
	expect_error(f, MINIMAL "[digest]\nschedule = day 31 09:00\n", 4,
	    "day 1 to 28");
	expect_error(f, MINIMAL "recipient_delimiter = .\n", 3, "+ or -");
	expect_error(f, MINIMAL "[imap]\nidle_minutes = 30\n", 4,
	    "from 1 to 29");
}

static void
test_structure_errors(void **state)
{
	struct fixture *f = *state;

	expect_error(f, "address = a@example.org\n", 1,
	    "outside any [section]");
	expect_error(f, MINIMAL "[mail]\nhost = x\n", 4,
	    "unknown section [mail]");
	expect_error(f, MINIMAL "adress = x@example.org\n", 3,
	    "unknown key 'adress' in [list]");
	expect_error(f, MINIMAL "[imap]\nhost = a\nhost = b\n", 5,
	    "set twice in [imap] (first on line 4)");
	expect_error(f, MINIMAL "this line has no equals sign\n", 3,
	    "expected 'key = value'");
	expect_error(f, "[list]\nname = x\n", 0, "[list] address is required");
}

static void
test_long_line_refused(void **state)
{
	struct fixture *f = *state;
	struct botu_conf *c = NULL;
	char text[1024], err[BOTU_ERRLEN];

	/* 198 characters is the limit: exactly that is fine... */
	snprintf(text, sizeof(text), MINIMAL "name = %0*d\n",
	    CONF_MAX_LINE - 7, 0);
	assert_int_equal(load(f, text, &c, err), BOTU_OK);
	assert_int_equal(strlen(c->list.name), CONF_MAX_LINE - 7);
	conf_free(c);
	/* ...one more is refused with its line, not cut as inih would. */
	snprintf(text, sizeof(text), MINIMAL "name = %0*d\n[imap]\nhost=x\n",
	    CONF_MAX_LINE - 6, 0);
	expect_error(f, text, 3, "line is longer than 198");
	snprintf(text, sizeof(text), MINIMAL "name = %0*d\n", 500, 0);
	expect_error(f, text, 3, "line is longer than 198");
}

static void
test_secrets(void **state)
{
	struct fixture *f = *state;
	struct botu_conf *c = NULL;
	char err[BOTU_ERRLEN], text[1024], *secret = NULL, *logbuf = NULL;
	size_t loglen = 0;
	FILE *logf;
	char *open_secret = write_file(f->dir, "open.secret", "s3cret\n", 0644);
	char *closed_secret = write_file(f->dir, "closed.secret",
	    "geheim\nsecond line\n", 0600);

	/* A secret file others can read loads, with a warning. */
	logf = open_memstream(&logbuf, &loglen);
	log_set_stream(logf);
	snprintf(text, sizeof(text), MINIMAL "[imap]\nhost = imap.example.org\n"
	    "username = u\npassword_file = open.secret\n");
	assert_int_equal(load(f, text, &c, err), BOTU_OK);
	fflush(logf);
	assert_non_null(strstr(logbuf, "botu.conf:6: password_file"));
	assert_non_null(strstr(logbuf, "can be read by others"));
	assert_int_equal(conf_secret(&c->imap.srv, &secret, err), BOTU_OK);
	assert_string_equal(secret, "s3cret");
	free(secret);
	conf_free(c);

	/* Mode 600: no warning; only the first line is the secret. */
	fclose(logf);
	free(logbuf);
	logbuf = NULL;
	logf = open_memstream(&logbuf, &loglen);
	log_set_stream(logf);
	snprintf(text, sizeof(text), MINIMAL "[smtp]\nhost = smtp.example.org\n"
	    "username = u\npassword_file = %s\n", closed_secret);
	assert_int_equal(load(f, text, &c, err), BOTU_OK);
	fflush(logf);
	assert_int_equal(loglen, 0);
	assert_int_equal(conf_secret(&c->smtp.srv, &secret, err), BOTU_OK);
	assert_string_equal(secret, "geheim");
	free(secret);
	assert_int_equal(conf_require_smtp(c, err), 0);
	conf_free(c);
	fclose(logf);
	free(logbuf);
	log_set_stream(NULL);

	/* A command's first output line; a failing command is an error. */
	assert_int_equal(load(f, MINIMAL "[smtp]\nhost = smtp.example.org\n"
	    "password_command = printf 'token-1\\nrest'\n", &c, err), BOTU_OK);
	assert_int_equal(conf_secret(&c->smtp.srv, &secret, err), BOTU_OK);
	assert_string_equal(secret, "token-1");
	free(secret);
	conf_free(c);
	assert_int_equal(load(f, MINIMAL "[smtp]\nhost = smtp.example.org\n"
	    "password_command = echo x; exit 3\n", &c, err), BOTU_OK);
	assert_int_not_equal(conf_secret(&c->smtp.srv, &secret, err), BOTU_OK);
	assert_null(secret);
	assert_non_null(strstr(err, "exit status 3"));
	conf_free(c);

	expect_error(f, MINIMAL "[imap]\npassword_file = missing.secret\n", 4,
	    "cannot read password_file");
	snprintf(text, sizeof(text), MINIMAL "[imap]\npassword_file = %s\n"
	    "password_command = echo x\n", closed_secret);
	expect_error(f, text, 5, "not both");
	free(open_secret);
	free(closed_secret);
}

/* systemd's LoadCredential=: the copy in $CREDENTIALS_DIRECTORY wins. */
static void
test_secret_from_systemd_credentials(void **state)
{
	struct fixture *f = *state;
	struct botu_conf *c = NULL;
	char err[BOTU_ERRLEN], buf[BOTU_ERRLEN], *secret = NULL, *dir, *cred;
	char *logbuf = NULL;
	size_t loglen = 0;
	FILE *logf;
	const char *text = MINIMAL "[imap]\nhost = imap.example.org\n"
	    "username = u\npassword_file = /nonexistent/botu/imap.secret\n";

	/* Without systemd: the file itself, which is not there. */
	unsetenv("CREDENTIALS_DIRECTORY");
	expect_error(f, text, 6, "cannot read password_file "
	    "/nonexistent/botu/imap.secret");
	assert_true(asprintf(&dir, "%s/credentials", f->dir) > 0);
	assert_int_equal(mkdir(dir, 0500 | 0200), 0);
	/* systemd decides the copy's mode: no warning about it. */
	cred = write_file(dir, "imap.secret", "van-systemd\n", 0440);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	logf = open_memstream(&logbuf, &loglen);
	log_set_stream(logf);
	assert_int_equal(load(f, text, &c, err), BOTU_OK);
	fflush(logf);
	assert_int_equal(loglen, 0);
	assert_string_equal(conf_secret_file(&c->imap.srv, buf, sizeof(buf)),
	    cred);
	assert_int_equal(conf_secret(&c->imap.srv, &secret, err), BOTU_OK);
	assert_string_equal(secret, "van-systemd");
	free(secret);
	/* Another file name is not that credential. */
	assert_string_equal(conf_secret_file(&c->smtp.srv, buf, sizeof(buf)),
	    "");
	conf_free(c);
	unsetenv("CREDENTIALS_DIRECTORY");
	log_set_stream(NULL);
	fclose(logf);
	free(logbuf);
	free(cred);
	free(dir);
}

static void
test_plaintext_only_on_loopback(void **state)
{
	struct fixture *f = *state;
	struct botu_conf *c = NULL;
	char err[BOTU_ERRLEN];

	expect_error(f,
	    MINIMAL "[smtp]\nsecurity = none\nhost = mail.example.org\n",
	    4, "only allowed for a server on this machine");
	assert_int_equal(load(f, MINIMAL "[smtp]\nsecurity = none\n"
	    "host = localhost\n", &c, err), BOTU_OK);
	conf_free(c);
}

static void
test_require(void **state)
{
	struct fixture *f = *state;
	struct botu_conf *c = NULL;
	char err[BOTU_ERRLEN];

	assert_int_equal(load(f, MINIMAL, &c, err), BOTU_OK);
	assert_int_equal(conf_require_imap(c, err), -1);
	assert_non_null(strstr(err, "[imap] host is required"));
	conf_free(c);
	assert_int_equal(load(f, MINIMAL "[imap]\nhost = h.example.org\n"
	    "username = u\n", &c, err), BOTU_OK);
	assert_int_equal(conf_require_imap(c, err), -1);
	assert_non_null(strstr(err, "neither password_file nor"));
	conf_free(c);
}

/* Keys as botu.conf.example shows them: "#key = default" or "key = v". */
struct example_key {
	char section[32];
	char name[64];
	char value[256];
	int commented;
};

static size_t
read_example(struct example_key *out, size_t max)
{
	char path[512], line[512], section[32] = "";
	size_t n = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/botu.conf.example", srcdir());
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *eq, *p = line;
		int commented = 0;

		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "[%31[^]]]", section) == 1)
			continue;
		if (*p == '#') {
			commented = 1;
			p++;
		}
		/* A documentation line has a space after '#'. */
		if (*p == ' ' || *p == '\0' || (eq = strstr(p, " =")) == NULL)
			continue;
		assert_true(n < max);
		snprintf(out[n].section, sizeof(out[n].section), "%s", section);
		snprintf(out[n].name, sizeof(out[n].name), "%.*s",
		    (int)(eq - p), p);
		eq += 2;
		while (*eq == ' ')
			eq++;
		snprintf(out[n].value, sizeof(out[n].value), "%s", eq);
		out[n].commented = commented;
		n++;
	}
	fclose(fp);
	return n;
}

static void
test_example_matches_table(void **state)
{
	struct example_key ex[256];
	size_t nkeys, nex, i, j;
	const struct conf_key *keys = conf_keys(&nkeys);
	struct fixture *f = *state;
	struct botu_conf *c = NULL;
	char err[BOTU_ERRLEN], path[512];

	(void)f;
	nex = read_example(ex, NELEM(ex));
	for (i = 0; i < nkeys; i++) {
		for (j = 0; j < nex; j++)
			if (strcmp(ex[j].section, keys[i].section) == 0 &&
			    strcmp(ex[j].name, keys[i].name) == 0)
				break;
		if (j == nex)
			fail_msg("[%s] %s is missing from botu.conf.example",
			    keys[i].section, keys[i].name);
		if (ex[j].commented && strcmp(ex[j].value, keys[i].def) != 0)
			fail_msg("botu.conf.example shows %s = '%s', the "
			    "default is '%s'", keys[i].name, ex[j].value,
			    keys[i].def);
	}
	for (j = 0; j < nex; j++) {
		for (i = 0; i < nkeys; i++)
			if (strcmp(ex[j].section, keys[i].section) == 0 &&
			    strcmp(ex[j].name, keys[i].name) == 0)
				break;
		if (i == nkeys)
			fail_msg("botu.conf.example has [%s] %s, which botu "
			    "does not know", ex[j].section, ex[j].name);
	}
	/* And the example itself is a valid file, but for the secrets. */
	snprintf(path, sizeof(path), "%s/botu.conf.example", srcdir());
	if (conf_load(path, &c, err) == BOTU_OK)
		conf_free(c);
	else
		assert_non_null(strstr(err, "password_file"));
}

/* botu.conf(5) documents every key of the table. */
static void
test_man_page_lists_every_key(void **state)
{
	size_t nkeys, len = 0;
	const struct conf_key *keys = conf_keys(&nkeys);
	char path[512], *text = NULL, needle[128];
	FILE *fp, *mem;
	int ch;

	(void)state;
	snprintf(path, sizeof(path), "%s/src/botu.conf.5", srcdir());
	fp = fopen(path, "r");
	assert_non_null(fp);
	mem = open_memstream(&text, &len);
	while ((ch = fgetc(fp)) != EOF)
		fputc(ch, mem);
	fclose(fp);
	fclose(mem);
	for (size_t i = 0; i < nkeys; i++) {
		snprintf(needle, sizeof(needle), "\n.It Cm %s\n", keys[i].name);
		if (strstr(text, needle) == NULL)
			fail_msg("botu.conf.5 lacks '.It Cm %s'", keys[i].name);
	}
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_type, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_values, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_structure_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_line_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_secrets, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_secret_from_systemd_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plaintext_only_on_loopback,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_require, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_matches_table,
		    setup, teardown),
		cmocka_unit_test(test_man_page_lists_every_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
