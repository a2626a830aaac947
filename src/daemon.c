/* daemon.c - see daemon.h */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "botu/daemon.h"
#include "botu/db.h"
#include "botu/deliver.h"
#include "botu/handle.h"
#include "botu/intake.h"
#include "botu/log.h"
#include "botu/score.h"
#include "botu/smtp.h"
#include "botu/util.h"

#define BACKOFF_MAX 300
#define AUTH_WAIT (15 * 60)
#define AUTH_WAIT_MAX (4 * 3600)
#define IDLE_MAX (25 * 60)

static volatile sig_atomic_t stop_flag;
static int stop_pipe[2] = { -1, -1 };

/* Signal handlers only set a flag and write a byte to the self-pipe. */
static void
on_stop(int sig)
{
	int saved = errno;
	char c = (char)sig;

	stop_flag = 1;
	if (write(stop_pipe[1], &c, 1) < 0) {
		/* The pipe is full: a wake-up is pending anyway. */
	}
	errno = saved;
}

static void
install_signals(void)
{
	struct sigaction sa;

	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		fatal("pipe");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
}

/* Sleeps up to seconds; returns early (1) when asked to stop. */
static int
sleep_or_stop(int seconds)
{
	struct pollfd p = { .fd = stop_pipe[0], .events = POLLIN };

	if (stop_flag)
		return 1;
	(void)poll(&p, 1, seconds * 1000);
	return stop_flag != 0;
}

/* ---- the delivery thread ---- */

struct sender {
	struct deliver	*d;
	pthread_t	 thread;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 kicked;
	int		 done;
};

static void *
sender_main(void *arg)
{
	struct sender *s = arg;
	struct deliver_report r;
	struct timespec until;
	time_t next;

	pthread_mutex_lock(&s->mu);
	while (!s->done) {
		s->kicked = 0;
		pthread_mutex_unlock(&s->mu);
		if (deliver_once(s->d, &r, &next) != BOTU_OK)
			next = time(NULL) + 30;
		if (r.sent + r.failed + r.retried > 0)
			log_info("outbox: %d sent, %d to retry, %d failed",
			    r.sent, r.retried, r.failed);
		pthread_mutex_lock(&s->mu);
		/* Wait for the next due mail, or for intake's kick. */
		until.tv_sec = next != 0 ? next : time(NULL) + 3600;
		until.tv_nsec = 0;
		while (!s->done && !s->kicked &&
		    pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0)
			;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void
sender_kick(struct sender *s)
{
	pthread_mutex_lock(&s->mu);
	s->kicked = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static int
sender_start(struct sender *s, const struct botu_conf *conf)
{
	char err[BOTU_ERRLEN];

	memset(s, 0, sizeof(*s));
	if (deliver_new(conf, conf->list.database, &s->d, err) != BOTU_OK) {
		log_warnx("%s", err);
		return -1;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (pthread_create(&s->thread, NULL, sender_main, s) != 0)
		fatal("pthread_create");
	return 0;
}

/* Lets the current SMTP transactions end, then stops. */
static void
sender_stop(struct sender *s)
{
	if (s->d == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->done = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	deliver_free(s->d);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
}

/* --once: send what is due now, waiting only for the rate limits. */
static void
flush_outbox(const struct botu_conf *conf)
{
	struct deliver *d = NULL;
	struct deliver_report r;
	char err[BOTU_ERRLEN];
	time_t next;

	if (deliver_new(conf, conf->list.database, &d, err) != BOTU_OK) {
		log_warnx("%s", err);
		return;
	}
	while (!stop_flag && deliver_once(d, &r, &next) == BOTU_OK &&
	    !r.paused && r.waiting > 0 && next != 0 &&
	    next <= time(NULL) + 120)
		if (next > time(NULL))
			sleep_or_stop((int)(next - time(NULL)));
	deliver_free(d);
}

/* ---- the intake loop ---- */

static int
exit_code(int status)
{
	switch (status) {
	case BOTU_OK:		return EX_OK;
	case BOTU_EAUTH:
	case BOTU_ECONFIG:	return EX_CONFIG;
	case BOTU_ECONN:	return EX_UNAVAILABLE;
	default:		return EX_TEMPFAIL;
	}
}

/* How long to wait after a failed cycle, and what to say. */
static int
wait_after(int rc, const char *err, int *backoff, int *auth_wait)
{
	if (rc == BOTU_EAUTH) {
		log_warnx("%s; trying again in %d minutes (check [imap] "
		    "username and the password)", err, *auth_wait / 60);
		int w = *auth_wait;
		*auth_wait = *auth_wait * 2 > AUTH_WAIT_MAX ? AUTH_WAIT_MAX :
		    *auth_wait * 2;
		return w;
	}
	*backoff = *backoff == 0 ? 5 : *backoff * 2;
	if (*backoff > BACKOFF_MAX)
		*backoff = BACKOFF_MAX;
	log_warnx("%s%s; trying again in %d seconds",
	    rc == BOTU_ECONFIG ? "cannot use the IMAP server: " :
	    "mailbox: ", err, *backoff);
	return *backoff;
}

/* Time-driven bounce work (score.h): probes due, probes passed. */
static int
tick(const struct botu_conf *conf, struct botu_db *db)
{
	char err[BOTU_ERRLEN] = "";
	int queued = 0, rc;

	if (db_begin(db) != BOTU_OK)
		return 0;
	rc = score_tick(db, conf, time(NULL), &queued, err);
	if (rc == BOTU_OK && db_commit(db) == BOTU_OK) {
		if (queued > 0)
			log_info("%d probe%s queued", queued,
			    queued == 1 ? "" : "s");
		return queued;
	}
	log_warnx("bounces: %s", err[0] != '\0' ? err : db_errmsg(db));
	db_rollback(db);
	return 0;
}

static int
loop(struct intake *in, struct sender *s, const struct daemon_options *o,
    const struct botu_conf *conf, struct botu_db *db)
{
	char err[BOTU_ERRLEN];
	int rc = BOTU_OK, handled, queued, backoff = 0, auth_wait = AUTH_WAIT;

	while (!stop_flag) {
		rc = intake_cycle(in, &handled, err);
		queued = o->dry_run ? 0 : tick(conf, db);
		if ((handled > 0 || queued > 0) && s->d != NULL)
			sender_kick(s);
		if (o->once || o->dry_run || stop_flag) {
			if (rc != BOTU_OK)
				log_warnx("mailbox: %s", err);
			break;
		}
		if (rc != BOTU_OK) {
			sleep_or_stop(wait_after(rc, err, &backoff,
			    &auth_wait));
			continue;
		}
		backoff = 0;
		auth_wait = AUTH_WAIT;
		/*
		 * Mail that came while this cycle worked may have been
		 * announced (EXISTS) in the answer to one of its commands,
		 * and a server tells a new size once (RFC 3501 §7.3.1):
		 * IDLE would stay silent about it. Look once more first.
		 */
		if (handled > 0)
			continue;
		if (intake_wait(in, IDLE_MAX, stop_pipe[0], err) < 0)
			log_info("mailbox connection lost: %s; reconnecting",
			    err);
	}
	return rc;
}

int
daemon_run(const struct botu_conf *conf, const struct daemon_options *o)
{
	struct intake_options io = { .dry_run = o->dry_run,
	    .since = o->since, .report = o->report,
	    .stop = (volatile const int *)&stop_flag };
	struct intake_handler h = { handle_message, (void *)conf };
	struct sender s = { 0 };
	struct botu_db *db = NULL;
	struct intake *in;
	char err[BOTU_ERRLEN];
	int rc;

	install_signals();
	smtp_global_init();
	if (db_open(conf->list.database, DB_READWRITE, &db, err) != BOTU_OK) {
		log_warnx("%s", err);
		return EX_UNAVAILABLE;
	}
	if (!o->once && !o->dry_run && sender_start(&s, conf) < 0) {
		db_close(db);
		return EX_UNAVAILABLE;
	}
	log_info("botu started for %s%s", conf->list.address,
	    o->dry_run ? " (dry run: nothing changes)" : "");
	in = intake_new(conf, db, &h, &io);
	rc = loop(in, &s, o, conf, db);
	intake_free(in);
	sender_stop(&s);
	if (o->once && !o->dry_run && !stop_flag)
		flush_outbox(conf);
	db_close(db);
	log_info("botu stopped");
	return stop_flag ? EX_OK : exit_code(rc);
}
