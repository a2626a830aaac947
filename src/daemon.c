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
#include "botu/mailout.h"
#include "botu/notes.h"
#include "botu/score.h"
#include "botu/smtp.h"
#include "botu/summary.h"
#include "botu/util.h"

#define BACKOFF_MAX 300
#define AUTH_WAIT (15 * 60)
#define AUTH_WAIT_MAX (4 * 3600)
#define IDLE_MAX (25 * 60)

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t reload_flag;
static int stop_pipe[2] = { -1, -1 };

/* Signal handlers only set a flag and write a byte to the self-pipe. */
static void
on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (sig == SIGHUP)
		reload_flag = 1;
	else
		stop_flag = 1;
	if (write(stop_pipe[1], &c, 1) < 0) {
		/* The pipe is full: a wake-up is pending anyway. */
	}
	errno = saved;
}

static void
install_signals(int reload)
{
	struct sigaction sa;

	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		fatal("pipe");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (reload)
		sigaction(SIGHUP, &sa, NULL);
	else
		signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
}

/* The wake-ups so far are dealt with: empty the self-pipe. */
static void
drain_pipe(void)
{
	char b[64];

	while (read(stop_pipe[0], b, sizeof(b)) > 0)
		;
}

/*
 * Threads started while these are blocked keep them blocked: signals then
 * reach the main thread only, and never interrupt an SMTP exchange.
 */
static void
block_signals(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

/* Sleeps up to seconds; returns early (1) when asked to stop. */
static int
sleep_or_stop(int seconds)
{
	struct pollfd p = { .fd = stop_pipe[0], .events = POLLIN };

	if (stop_flag || reload_flag)
		return stop_flag != 0;
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

	sigset_t old;
	int rc;

	memset(s, 0, sizeof(*s));
	block_signals(&old);
	rc = deliver_new(conf, conf->list.database, &s->d, err);
	if (rc == BOTU_OK) {
		pthread_mutex_init(&s->mu, NULL);
		pthread_cond_init(&s->cv, NULL);
		if (pthread_create(&s->thread, NULL, sender_main, s) != 0)
			fatal("pthread_create");
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != BOTU_OK) {
		log_warnx("%s", err);
		return -1;
	}
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
	s->d = NULL;
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
	sigset_t old;
	time_t next;
	int rc;

	block_signals(&old);
	rc = deliver_new(conf, conf->list.database, &d, err);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != BOTU_OK) {
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

/* What botu run keeps between cycles; a reload replaces all of it. */
struct run {
	const struct botu_conf	*conf;
	struct botu_conf	*owned;	/* a reloaded configuration */
	const struct daemon_options *o;
	struct botu_db		*db;
	struct intake		*in;
	struct sender		 s;
	time_t			 summary_next;	/* 0: not planned */
};

/* Opens the store, starts delivery and intake for r->conf. */
static int
run_start(struct run *r, struct botu_db *db)
{
	const struct daemon_options *o = r->o;
	struct intake_options io = { .dry_run = o->dry_run,
	    .since = o->since, .report = o->report,
	    .stop = (volatile const int *)&stop_flag };
	struct intake_handler h = { handle_message, (void *)r->conf };

	r->db = db;
	memset(&r->s, 0, sizeof(r->s));
	if (!o->once && !o->dry_run && sender_start(&r->s, r->conf) < 0)
		return -1;
	r->in = intake_new(r->conf, r->db, &h, &io);
	r->summary_next = 0;
	return 0;
}

static void
run_stop(struct run *r)
{
	intake_free(r->in);
	r->in = NULL;
	sender_stop(&r->s);
	db_close(r->db);
	r->db = NULL;
}

/* A refused login or an unreachable mailbox, for the summary. */
static void
note_problem(struct run *r, int rc, const char *err, int backoff)
{
	if (rc == BOTU_EAUTH)
		(void)db_event(r->db, 0, "imap-login-refused", "daemon", NULL,
		    err);
	else if (backoff == 0)	/* the first of a series */
		(void)db_event(r->db, 0, "imap-unreachable", "daemon", NULL,
		    err);
}

/* The organiser's summary, when it is due. */
static void
summary_pass(struct run *r)
{
	char err[BOTU_ERRLEN];
	int queued;

	if (r->summary_next != 0 && time(NULL) < r->summary_next)
		return;
	if (summary_tick(r->db, r->conf, time(NULL), &queued,
	    &r->summary_next, err) != BOTU_OK) {
		log_warnx("%s", err);
		r->summary_next = time(NULL) + 300;
		return;
	}
	if (queued > 0 && r->s.d != NULL)
		sender_kick(&r->s);
}

/* What else a new configuration must pass before botu takes it. */
static int
conf_usable(const struct botu_conf *c, const struct daemon_options *o,
    char *err)
{
	char terr[BOTU_ERRLEN];
	int n;

	if (conf_require_imap(c, err) < 0 ||
	    (!o->dry_run && conf_require_smtp(c, err) < 0))
		return -1;
	if (mailout_check(c, &n, terr) != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "templates: %s", terr);
		return -1;
	}
	return 0;
}

/*
 * SIGHUP: reads the configuration file again and, when it is good,
 * carries on with it between two cycles: the mail being handled and the
 * SMTP transactions under way end first. A bad file changes nothing.
 */
static int
reload(struct run *r)
{
	struct botu_conf *c = NULL;
	struct botu_db *db = NULL;
	const char *file = r->conf->file;
	char err[BOTU_ERRLEN];

	reload_flag = 0;
	drain_pipe();
	if (file == NULL)
		return 0;
	if (conf_load(file, &c, err) != BOTU_OK ||
	    conf_usable(c, r->o, err) < 0) {
		log_warnx("%s; keeping the old configuration", err);
		conf_free(c);
		return 0;
	}
	if (db_open(c->list.database, DB_READWRITE, &db, err) != BOTU_OK) {
		log_warnx("%s; keeping the old configuration", err);
		conf_free(c);
		return 0;
	}
	run_stop(r);
	log_init(c->log.target == LOGTO_SYSLOG,
	    log_debug_enabled() ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
	    !c->log.full_addresses);
	conf_free(r->owned);
	r->conf = r->owned = c;
	if (run_start(r, db) < 0)
		return -1;
	log_info("configuration reloaded from %s", c->file);
	return 0;
}

/* How long intake may wait for mail before the summary is due. */
static int
wait_limit(const struct run *r)
{
	time_t now = time(NULL);

	if (r->summary_next == 0 || r->summary_next - now >= IDLE_MAX)
		return IDLE_MAX;
	return r->summary_next > now ? (int)(r->summary_next - now) : 1;
}

static int
loop(struct run *r)
{
	const struct daemon_options *o = r->o;
	char err[BOTU_ERRLEN];
	int rc = BOTU_OK, handled, backoff = 0, auth_wait = AUTH_WAIT;

	while (!stop_flag) {
		if (reload_flag && reload(r) < 0)
			return BOTU_ECONN;
		rc = intake_cycle(r->in, &handled, err);
		/* Note reminders, the waaier page, bounce probes: after the
		 * commits. */
		if (!o->dry_run) {
			notes_tick(r->conf, r->db, time(NULL));
			(void)tick(r->conf, r->db);
		}
		if (rc != BOTU_OK && !o->dry_run)
			note_problem(r, rc, err, backoff);
		if (!o->dry_run && !stop_flag)
			summary_pass(r);
		/* Whatever this cycle queued goes out now. */
		if (r->s.d != NULL)
			sender_kick(&r->s);
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
		if (reload_flag)
			continue;
		if (intake_wait(r->in, wait_limit(r), stop_pipe[0], err) < 0)
			log_info("mailbox connection lost: %s; reconnecting",
			    err);
	}
	return rc;
}

int
daemon_run(const struct botu_conf *conf, const struct daemon_options *o)
{
	struct run r = { .conf = conf, .o = o };
	struct botu_db *db = NULL;
	char err[BOTU_ERRLEN];
	int rc = BOTU_OK;

	install_signals(!o->once && !o->dry_run);
	smtp_global_init();
	if (db_open(conf->list.database, DB_READWRITE, &db, err) != BOTU_OK) {
		log_warnx("%s", err);
		return EX_UNAVAILABLE;
	}
	if (run_start(&r, db) < 0) {
		db_close(db);
		return EX_UNAVAILABLE;
	}
	log_info("botu started for %s%s", conf->list.address,
	    o->dry_run ? " (dry run: nothing changes)" : "");
	rc = loop(&r);
	intake_free(r.in);
	sender_stop(&r.s);
	if (o->once && !o->dry_run && !stop_flag)
		flush_outbox(r.conf);
	db_close(r.db);
	conf_free(r.owned);
	log_info("botu stopped");
	return stop_flag ? EX_OK : exit_code(rc);
}
