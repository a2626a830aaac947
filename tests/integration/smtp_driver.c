/*
 * smtp_driver - drives smtp.c from the integration tests.
 *
 *   smtp_driver -c CONF [-n COUNT] [-j CONNS] [-f FROM] [-m FILE]
 *       [-t TAG] [-b BYTES] [-p MS] [-d] RCPT...
 *   smtp_driver -c CONF -k
 *
 * Sends COUNT messages (default: one per RCPT), message i to
 * RCPT[i % nrcpt], one recipient per transaction, over CONNS connections
 * (one thread and one smtp_conn each; default 1), and prints one JSON line
 * per result on stdout:
 *
 *   {"i":0,"conn":0,"rcpt":"a@b","outcome":"sent","stage":"data",
 *    "code":250,"rate_limited":false,"text":"250 2.0.0 Ok","ms":12}
 *
 * The message is FILE (LF line ends are sent as CRLF) or, without -m, a
 * generated one with "Subject: botu-test TAG i" and
 * "Message-ID: <i.TAG@botu.test>", padded to about BYTES, so a test can
 * find every message in a mailbox. -p waits MS milliseconds before every
 * message after a connection's first. -d logs the protocol trace
 * (log_debug) to stderr. -k runs smtp_check() and prints
 * {"check":"ok"|"econfig"|"eauth"|"econn"|..., "err":"..."}.
 * Exit status: 0 when every message was tried, 2 on a usage or config error.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "botu/config.h"
#include "botu/log.h"
#include "botu/smtp.h"
#include "botu/util.h"

struct job {
	const struct botu_conf	*conf;
	const char		*from;
	char			**rcpts;
	int			 nrcpt;
	int			 count;
	int			 next;		/* under lock */
	const char		*file_msg;	/* CRLF; NULL: generate */
	size_t			 file_len;
	const char		*tag;
	long			 bytes;
	long			 pause_ms;
	pthread_mutex_t		 lock;
};

struct worker {
	struct job	*job;
	int		 id;
	pthread_t	 thread;
};

static const char *
outcome_name(enum smtp_outcome o)
{
	static const char *const names[] = { "sent", "temp", "perm", "ours" };

	return names[o];
}

static const char *
stage_name(enum smtp_stage s)
{
	static const char *const names[] = { "connect", "auth", "mail",
	    "rcpt", "data" };

	return names[s];
}

static void
json_str(struct buf *b, const char *s)
{
	buf_addc(b, '"');
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			buf_addf(b, "\\%c", ch);
		else if (ch < 0x20)
			buf_addf(b, "\\u%04x", ch);
		else
			buf_addc(b, (char)ch);
	}
	buf_addc(b, '"');
}

/* LF or CRLF in, CRLF out. */
static char *
to_crlf(const char *s, size_t len, size_t *outlen)
{
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			buf_addc(&b, '\r');
		buf_addc(&b, s[i]);
	}
	*outlen = b.len;
	return buf_detach(&b);
}

static char *
gen_message(const struct job *j, int i, const char *rcpt, size_t *len)
{
	struct buf b;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_init(&b);
	buf_addf(&b, "From: <%s>\r\nTo: <%s>\r\nSubject: botu-test %s %d\r\n"
	    "Message-ID: <%d.%s@botu.test>\r\nDate: %s\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii"
	    "\r\n\r\nMessage %d of run %s.\r\n.A line that starts with a dot."
	    "\r\n", j->conf->list.address, rcpt, j->tag, i, i, j->tag, date,
	    i, j->tag);
	while ((long)b.len < j->bytes)
		buf_adds(&b, "Padding padding padding padding padding padding "
		    "padding padding.\r\n");
	*len = b.len;
	return buf_detach(&b);
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void
print_result(struct job *j, int i, int conn, const char *rcpt,
    const struct smtp_result *r, long ms)
{
	struct buf b;

	buf_init(&b);
	buf_addf(&b, "{\"i\":%d,\"conn\":%d,\"rcpt\":", i, conn);
	json_str(&b, rcpt);
	buf_addf(&b, ",\"outcome\":\"%s\",\"stage\":\"%s\",\"code\":%d,"
	    "\"rate_limited\":%s,\"text\":", outcome_name(r->outcome),
	    stage_name(r->stage), r->code, r->rate_limited ? "true" : "false");
	json_str(&b, r->text);
	buf_addf(&b, ",\"ms\":%ld}\n", ms);
	pthread_mutex_lock(&j->lock);
	fputs(b.s, stdout);
	fflush(stdout);
	pthread_mutex_unlock(&j->lock);
	buf_free(&b);
}

static int
take(struct job *j)
{
	int i;

	pthread_mutex_lock(&j->lock);
	i = j->next < j->count ? j->next++ : -1;
	pthread_mutex_unlock(&j->lock);
	return i;
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	struct job *j = w->job;
	struct smtp_conn *c = smtp_conn_new(j->conf);
	struct smtp_result r;
	struct timespec t0;
	int i, first = 1;

	while ((i = take(j)) >= 0) {
		const char *rcpt = j->rcpts[i % j->nrcpt];
		char *gen = NULL;
		const char *msg = j->file_msg;
		size_t len = j->file_len;

		if (!first && j->pause_ms > 0)
			nanosleep(&(struct timespec){ j->pause_ms / 1000,
			    (j->pause_ms % 1000) * 1000000 }, NULL);
		first = 0;
		if (msg == NULL) {
			gen = gen_message(j, i, rcpt, &len);
			msg = gen;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (smtp_send(c, j->from, rcpt, msg, len, &r) != BOTU_OK)
			fatalx("smtp_send did not fill a result");
		print_result(j, i, w->id, rcpt, &r, ms_since(&t0));
		free(gen);
	}
	smtp_conn_free(c);
	return NULL;
}

static const char *
status_name(int st)
{
	switch (st) {
	case BOTU_OK:
		return "ok";
	case BOTU_ETEMP:
		return "etemp";
	case BOTU_ECONN:
		return "econn";
	case BOTU_ECONFIG:
		return "econfig";
	case BOTU_EAUTH:
		return "eauth";
	default:
		return "other";
	}
}

static int
run_check(const struct botu_conf *conf)
{
	char err[BOTU_ERRLEN] = "";
	struct buf b;
	int st = smtp_check(conf, err);

	buf_init(&b);
	buf_addf(&b, "{\"check\":\"%s\",\"err\":", status_name(st));
	json_str(&b, st == BOTU_OK ? "" : err);
	buf_adds(&b, "}\n");
	fputs(b.s, stdout);
	buf_free(&b);
	return 0;
}

static char *
read_file(const char *path, size_t *len)
{
	struct buf b;
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL) {
		log_warn("%s", path);
		exit(2);
	}
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	*len = b.len;
	return buf_detach(&b);
}

static void
usage(void)
{
	fprintf(stderr, "usage: smtp_driver -c CONF [-n COUNT] [-j CONNS] "
	    "[-f FROM] [-m FILE] [-t TAG] [-b BYTES] [-p MS] [-d] RCPT...\n"
	    "       smtp_driver -c CONF [-d] -k\n");
	exit(2);
}

static long
num_arg(const char *s, long long max)
{
	long long v;

	if (str_to_int(s, 0, max, &v) < 0)
		usage();
	return (long)v;
}

int
main(int argc, char **argv)
{
	struct job j;
	struct worker *w = NULL;
	struct botu_conf *conf = NULL;
	char err[BOTU_ERRLEN], *raw = NULL, *file_msg = NULL;
	const char *cfile = NULL, *mfile = NULL;
	int ch, check = 0, conns = 1, count = -1;
	size_t rawlen;

	memset(&j, 0, sizeof(j));
	j.tag = "run";
	while ((ch = getopt(argc, argv, "b:c:df:j:km:n:p:t:")) != -1) {
		switch (ch) {
		case 'b':
			j.bytes = num_arg(optarg, 100000000);
			break;
		case 'c':
			cfile = optarg;
			break;
		case 'd':
			log_set_level(LOG_LEVEL_DEBUG);
			break;
		case 'f':
			j.from = optarg;
			break;
		case 'j':
			conns = (int)num_arg(optarg, 64);
			break;
		case 'k':
			check = 1;
			break;
		case 'm':
			mfile = optarg;
			break;
		case 'n':
			count = (int)num_arg(optarg, 10000000);
			break;
		case 'p':
			j.pause_ms = num_arg(optarg, 3600000);
			break;
		case 't':
			j.tag = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (cfile == NULL || conns < 1 || (!check && argc < 1))
		usage();
	/* What the daemon does too: libcurl runs with CURLOPT_NOSIGNAL. */
	signal(SIGPIPE, SIG_IGN);
	smtp_global_init();
	if (conf_load(cfile, &conf, err) != BOTU_OK) {
		fprintf(stderr, "smtp_driver: %s\n", err);
		return 2;
	}
	if (check) {
		run_check(conf);
		goto out;
	}
	j.conf = conf;
	if (j.from == NULL)
		j.from = conf->list.address;
	j.rcpts = argv;
	j.nrcpt = argc;
	j.count = count >= 0 ? count : argc;
	if (mfile != NULL) {
		raw = read_file(mfile, &rawlen);
		file_msg = to_crlf(raw, rawlen, &j.file_len);
		j.file_msg = file_msg;
	}
	pthread_mutex_init(&j.lock, NULL);
	w = xcalloc((size_t)conns, sizeof(*w));
	for (int i = 0; i < conns; i++) {
		w[i].job = &j;
		w[i].id = i;
		if (pthread_create(&w[i].thread, NULL, work, &w[i]) != 0)
			fatalx("pthread_create failed");
	}
	for (int i = 0; i < conns; i++)
		pthread_join(w[i].thread, NULL);
	pthread_mutex_destroy(&j.lock);
out:
	free(w);
	free(raw);
	free(file_msg);
	conf_free(conf);
	return 0;
}
