/*
 * imap_driver - runs imap.h calls for the integration tests.
 *
 *   imap_driver [-d] CONFIG < commands
 *
 * One command a line on stdin; one JSON object a line on stdout for each,
 * flushed at once, so a test can act between commands. -d logs at debug
 * level to stderr (the redacted protocol trace), so a test can see when
 * IDLE has begun.
 *
 *   connect | logout | noop | caps
 *   select BOX | ensure BOX
 *   list AFTER_UID | since UNIX_TIME
 *   fetch UID [MAX_SIZE]
 *   move UID BOX | keyword UID KW | has UID KW
 *   wait SECONDS [WAKE_MS]   (WAKE_MS: a timer signal writes to wake_fd)
 */
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "botu/config.h"
#include "botu/imap.h"
#include "botu/log.h"
#include "botu/util.h"

static int wake_pipe[2] = { -1, -1 };

static const char *
status_name(int rc)
{
	switch (rc) {
	case BOTU_OK:		return "OK";
	case BOTU_ETEMP:	return "ETEMP";
	case BOTU_EPERM:	return "EPERM";
	case BOTU_ECONN:	return "ECONN";
	case BOTU_EPOISON:	return "EPOISON";
	case BOTU_ECONFIG:	return "ECONFIG";
	case BOTU_EDATA:	return "EDATA";
	case BOTU_EAUTH:	return "EAUTH";
	}
	return rc > 0 ? "POSITIVE" : "?";
}

/* A JSON string; bytes above 0x7f become \u00XX (Latin-1 reading). */
static void
json_str(struct buf *b, const char *s, size_t n)
{
	buf_addc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			buf_addf(b, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			buf_addf(b, "\\u%04x", c);
		else
			buf_addc(b, (char)c);
	}
	buf_addc(b, '"');
}

/* Starts {"cmd":...,"rc":...,"status":...[,"err":...] */
static void
head(struct buf *b, const char *cmd, int rc, const char *err)
{
	buf_truncate(b, 0);
	buf_adds(b, "{\"cmd\":");
	json_str(b, cmd, strlen(cmd));
	buf_addf(b, ",\"rc\":%d,\"status\":\"%s\"", rc, status_name(rc));
	if (rc < 0)  {
		buf_adds(b, ",\"err\":");
		json_str(b, err, strlen(err));
	}
}

static void
emit(struct buf *b)
{
	buf_adds(b, "}\n");
	fputs(b->s, stdout);
	fflush(stdout);
}

static void
on_alarm(int sig)
{
	int saved = errno;
	char c = 'w';

	(void)sig;
	if (write(wake_pipe[1], &c, 1) < 0) {
		/* nothing to do in a handler */
	}
	errno = saved;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
add_list(struct buf *b, const struct imap_msginfo *v, size_t n)
{
	buf_adds(b, ",\"messages\":[");
	for (size_t i = 0; i < n; i++) {
		buf_addf(b, "%s{\"uid\":%u,\"size\":%u,\"internaldate\":%lld,"
		    "\"message_id\":", i > 0 ? "," : "", v[i].uid, v[i].size,
		    (long long)v[i].internaldate);
		if (v[i].message_id != NULL)
			json_str(b, v[i].message_id,
			    strlen(v[i].message_id));
		else
			buf_adds(b, "null");
		buf_addc(b, '}');
	}
	buf_addc(b, ']');
}

static void
cmd_wait(struct imap *im, struct buf *b, int secs, int wake_ms, char *err)
{
	struct itimerval it;
	double t0;
	char c;
	int rc;

	memset(&it, 0, sizeof(it));
	if (wake_ms > 0) {
		it.it_value.tv_sec = wake_ms / 1000;
		it.it_value.tv_usec = (wake_ms % 1000) * 1000;
		setitimer(ITIMER_REAL, &it, NULL);
	}
	t0 = now_s();
	rc = imap_wait(im, secs, wake_pipe[0], err);
	head(b, "wait", rc, err);
	buf_addf(b, ",\"elapsed\":%.3f", now_s() - t0);
	/* Drain the wake pipe for the next wait. */
	while (read(wake_pipe[0], &c, 1) == 1)
		;
	emit(b);
}

static void
run(struct imap *im, char *line, struct buf *b)
{
	char err[BOTU_ERRLEN] = "", *words[4], *save = NULL, *w;
	struct imap_msginfo *v = NULL;
	struct imap_mailbox mb;
	struct imap_caps c;
	char *data = NULL;
	size_t n = 0, len = 0;
	int nw = 0, rc;

	for (w = strtok_r(line, " \t\r\n", &save); w != NULL && nw < 4;
	    w = strtok_r(NULL, " \t\r\n", &save))
		words[nw++] = w;
	if (nw == 0)
		return;
#define ARG(i) (nw > (i) ? words[i] : "")
#define NUM(i) ((uint32_t)strtoul(ARG(i), NULL, 10))
	if (strcmp(words[0], "connect") == 0 || strcmp(words[0], "caps") == 0) {
		rc = words[0][0] == 'c' && words[0][1] == 'o' ?
		    imap_connect(im, err) : BOTU_OK;
		c = imap_caps(im);
		head(b, words[0], rc, err);
		buf_addf(b,
		    ",\"caps\":{\"idle\":%d,\"move\":%d,\"uidplus\":%d}",
		    c.idle, c.move, c.uidplus);
	} else if (strcmp(words[0], "select") == 0) {
		rc = imap_select(im, ARG(1), &mb, err);
		head(b, "select", rc, err);
		buf_addf(b, ",\"uidvalidity\":%u,\"uidnext\":%u,\"exists\":%u,"
		    "\"keywords\":%d,\"read_only\":%d", mb.uidvalidity,
		    mb.uidnext, mb.exists, mb.keywords, mb.read_only);
	} else if (strcmp(words[0], "list") == 0 ||
	    strcmp(words[0], "since") == 0) {
		rc = words[0][0] == 'l' ? imap_list(im, NUM(1), &v, &n, err) :
		    imap_list_since(im, (time_t)strtoll(ARG(1), NULL, 10), &v,
		    &n, err);
		head(b, words[0], rc, err);
		if (rc == BOTU_OK)
			add_list(b, v, n);
		imap_msginfo_free(v, n);
	} else if (strcmp(words[0], "fetch") == 0) {
		rc = imap_fetch(im, NUM(1), nw > 2 ? NUM(2) : 50000000, &data,
		    &len, err);
		head(b, "fetch", rc, err);
		if (rc == BOTU_OK) {
			buf_addf(b, ",\"len\":%zu,\"data\":", len);
			json_str(b, data, len);
		}
		free(data);
	} else if (strcmp(words[0], "move") == 0) {
		rc = imap_move(im, NUM(1), ARG(2), err);
		head(b, "move", rc, err);
	} else if (strcmp(words[0], "keyword") == 0) {
		rc = imap_add_keyword(im, NUM(1), ARG(2), err);
		head(b, "keyword", rc, err);
	} else if (strcmp(words[0], "has") == 0) {
		rc = imap_has_keyword(im, NUM(1), ARG(2), err);
		head(b, "has", rc, err);
	} else if (strcmp(words[0], "ensure") == 0) {
		rc = imap_ensure_mailbox(im, ARG(1), err);
		head(b, "ensure", rc, err);
	} else if (strcmp(words[0], "noop") == 0) {
		rc = imap_noop(im, err);
		head(b, "noop", rc, err);
	} else if (strcmp(words[0], "wait") == 0) {
		cmd_wait(im, b, (int)NUM(1), (int)NUM(2), err);
		return;
	} else {
		head(b, words[0], BOTU_EDATA, "unknown command");
	}
#undef ARG
#undef NUM
	emit(b);
}

int
main(int argc, char **argv)
{
	struct botu_conf *conf = NULL;
	struct sigaction sa;
	struct imap *im;
	struct buf b;
	char err[BOTU_ERRLEN], line[1024];
	int debug = 0;

	if (argc > 1 && strcmp(argv[1], "-d") == 0) {
		debug = 1;
		argc--;
		argv++;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: imap_driver [-d] CONFIG < commands\n");
		return 2;
	}
	log_init(0, debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, 0);
	signal(SIGPIPE, SIG_IGN);
	if (pipe(wake_pipe) < 0) {
		perror("pipe");
		return 1;
	}
	/* Non-blocking read end, so draining it stops when it is empty. */
	if (fcntl(wake_pipe[0], F_SETFL, O_NONBLOCK) < 0) {
		perror("fcntl");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	if (conf_load(argv[1], &conf, err) != BOTU_OK) {
		fprintf(stderr, "imap_driver: %s\n", err);
		return 1;
	}
	im = imap_new(conf);
	buf_init(&b);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (strncmp(line, "logout", 6) == 0) {
			imap_logout(im);
			im = imap_new(conf);
			head(&b, "logout", BOTU_OK, "");
			emit(&b);
			continue;
		}
		run(im, line, &b);
	}
	imap_free(im);
	buf_free(&b);
	conf_free(conf);
	return 0;
}
