/* deliver.c - see deliver.h */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "botu/deliver.h"
#include "botu/digest.h"
#include "botu/log.h"
#include "botu/outbox.h"
#include "botu/score.h"
#include "botu/smtp.h"
#include "botu/util.h"

#define BATCH 256		/* rows taken per pass */
/*
 * Group commit: a crash sends again every mail the server took whose
 * result was not committed yet. A commit costs one fsync of the WAL (about
 * a millisecond here), a mail to a fast server 60 µs: committing each
 * result, the connections waited for the disk (0.18 x smtp-source). So
 * the results that came in while one commit ran are recorded together in
 * the next, while the connections go on sending, but never more than
 * DELIVER_GROUP answers each ahead of the commits: a kill repeats at most
 * those and the mails in flight. At the rate of a daemon answering its
 * mail, groups are one or two results; tests/integration/test_kill.py
 * asserts the bound.
 */
#define SLOW_DOWN 60		/* seconds to hold after "slow down" */
#define PAUSE_MAX (6 * 3600)

#define KEY_UNTIL "outbox.paused_until"
#define KEY_REASON "outbox.pause_reason"
#define KEY_TRIPS "outbox.pause_trips"

struct job {
	struct outbox_row	row;
	struct smtp_result	res;
	int			render;	/* not BOTU_OK: not rendered, not
					   sent (res.text says why) */
};

struct deliver {
	const struct botu_conf	*conf;
	struct botu_db		*db;
	char			*db_path;	/* the workers' own */

	int			 nthreads;
	pthread_t		*threads;
	pthread_mutex_t		 mu;
	pthread_cond_t		 work_cv;
	pthread_cond_t		 done_cv;
	struct job		**queue;	/* waiting to be sent */
	size_t			 qlen;
	struct job		**done;		/* answered, in that order */
	size_t			 ndone;
	size_t			 dnext;		/* the next to record */
	int			 held;		/* refusals not judged yet */
	int			 stop;
	unsigned		 pass;		/* run_batch() calls so far */

	int64_t			 next_slot_ms;	/* max_per_minute pacing */
	time_t			 slow_until;

	/* A run of identical 5xx replies, held back until it is judged. */
	struct job		*run[DELIVER_SAME_5XX];
	int			 nrun;

	/* Sent, but the store refused the result (a full disk): recorded
	 * before anything else is sent, so that such a mail does not go
	 * out again and again while this process lives. */
	struct job		**unrec;
	size_t			 nunrec;
};

static void	free_job(struct job *);

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A refusal may pause sending, or ask it to slow down: no further mail is
 * handed out until it has been judged (record()), or a worker would take
 * the next mail before the pause is known.
 */
static int
holds_queue(const struct smtp_result *res)
{
	return res->outcome == SMTP_PERM || res->outcome == SMTP_OURS ||
	    res->rate_limited;
}

/*
 * A digest row has no body: the issue is rendered for its member now
 * (digest.h), the same bytes each time, by the worker that sends it, on a
 * connection of its own: the rendering (a tenth of a millisecond and
 * more) runs beside the sending and the commits, on every CPU. The
 * recording judges a row that cannot be rendered (job->render). The
 * issue's variables are read once per pass (cache): a member forgotten
 * in between (digest_forget_member()) is gone from the next pass.
 */
static int
render(struct deliver *d, struct botu_db **db, struct digest_cache *cache,
    struct job *job)
{
	char err[BOTU_ERRLEN] = "";
	int rc = BOTU_OK;

	if (job->row.data != NULL || job->row.digest_id <= 0)
		return BOTU_OK;
	if (*db == NULL)
		rc = db_open(d->db_path, DB_READONLY, db, err);
	if (rc == BOTU_OK)
		rc = digest_render_row_cached(*db, d->conf, cache, &job->row,
		    err);
	if (rc != BOTU_OK) {
		job->render = rc;
		str_copy(job->res.text, err, sizeof(job->res.text));
	}
	return rc;
}

static void *
worker(void *arg)
{
	struct deliver *d = arg;
	struct smtp_conn *conn = smtp_conn_new(d->conf);
	struct botu_db *db = NULL;
	struct digest_cache *cache = digest_cache_new();
	struct job *job;
	unsigned pass = 0;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		/* Not far ahead of the recording either: every answer not
		 * yet committed is sent again after a crash. */
		while (!d->stop && (d->qlen == 0 || d->held > 0 ||
		    d->ndone - d->dnext >= (size_t)d->nthreads *
		    DELIVER_GROUP))
			pthread_cond_wait(&d->work_cv, &d->mu);
		if (d->stop)
			break;
		job = d->queue[--d->qlen];
		if (pass != d->pass) {
			pass = d->pass;
			digest_cache_clear(cache);
		}
		pthread_mutex_unlock(&d->mu);

		if (render(d, &db, cache, job) == BOTU_OK) {
			crash_point("before-send");
			smtp_send(conn, job->row.envelope_from, job->row.rcpt,
			    job->row.data, job->row.len, &job->res);
		}

		pthread_mutex_lock(&d->mu);
		if (job->render == BOTU_OK && holds_queue(&job->res))
			d->held++;
		d->done[d->ndone++] = job;
		pthread_cond_signal(&d->done_cv);
	}
	pthread_mutex_unlock(&d->mu);
	smtp_conn_free(conn);
	digest_cache_free(cache);
	db_close(db);
	return NULL;
}

int
deliver_new(const struct botu_conf *conf, const char *db_path,
    struct deliver **out, char err[BOTU_ERRLEN])
{
	struct deliver *d = xcalloc(1, sizeof(*d));
	int rc;

	*out = NULL;
	rc = db_open(db_path, DB_READWRITE, &d->db, err);
	if (rc != BOTU_OK) {
		free(d);
		return rc;
	}
	d->conf = conf;
	d->db_path = xstrdup(db_path);
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->work_cv, NULL);
	pthread_cond_init(&d->done_cv, NULL);
	d->queue = xcalloc(BATCH, sizeof(*d->queue));
	d->done = xcalloc(BATCH, sizeof(*d->done));
	*out = d;
	return BOTU_OK;
}

/* Threads start with the first mail, so commands that send none have none. */
static void
start_threads(struct deliver *d)
{
	if (d->threads != NULL)
		return;
	d->nthreads = d->conf->smtp.connections;
	d->threads = xcalloc((size_t)d->nthreads, sizeof(*d->threads));
	for (int i = 0; i < d->nthreads; i++)
		if (pthread_create(&d->threads[i], NULL, worker, d) != 0)
			fatal("pthread_create");
}

void
deliver_free(struct deliver *d)
{
	if (d == NULL)
		return;
	pthread_mutex_lock(&d->mu);
	d->stop = 1;
	pthread_cond_broadcast(&d->work_cv);
	pthread_mutex_unlock(&d->mu);
	for (int i = 0; i < d->nthreads; i++)
		pthread_join(d->threads[i], NULL);
	if (d->nunrec > 0)
		log_warnx("outbox: %zu mails went out but their results could "
		    "not be recorded: they will be sent again", d->nunrec);
	for (size_t i = 0; i < d->nunrec; i++)
		free_job(d->unrec[i]);
	free(d->unrec);
	free(d->threads);
	free(d->queue);
	free(d->done);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->work_cv);
	pthread_cond_destroy(&d->done_cv);
	db_close(d->db);
	free(d->db_path);
	free(d);
}

static time_t
state_time(struct botu_db *db, const char *key)
{
	char *v = NULL;
	long long t = 0;

	if (db_state_get(db, key, &v) == 1)
		(void)str_to_int(v, 0, (long long)1 << 40, &t);
	free(v);
	return (time_t)t;
}

int
deliver_paused(struct botu_db *db, char reason[BOTU_ERRLEN], time_t *until)
{
	time_t t = state_time(db, KEY_UNTIL);
	char *v = NULL;

	if (until != NULL)
		*until = t;
	if (t == 0)
		return 0;
	if (reason != NULL) {
		db_state_get(db, KEY_REASON, &v);
		str_copy(reason, v != NULL ? v : "", BOTU_ERRLEN);
		free(v);
	}
	return 1;
}

int
deliver_resume(struct botu_db *db)
{
	if (db_state_set(db, KEY_UNTIL, NULL) != BOTU_OK ||
	    db_state_set(db, KEY_REASON, NULL) != BOTU_OK ||
	    db_state_set(db, KEY_TRIPS, NULL) != BOTU_OK)
		return BOTU_EDATA;
	return BOTU_OK;
}

/* Opens the breaker: nothing goes out until the pause ends. */
static void
trip(struct deliver *d, const char *why)
{
	time_t now = time(NULL), pause = DELIVER_PAUSE_FIRST;
	int trips = (int)state_time(d->db, KEY_TRIPS);
	char num[32], shown[BOTU_ERRLEN];

	for (int i = 0; i < trips && pause < PAUSE_MAX; i++)
		pause *= 2;
	if (pause > PAUSE_MAX)
		pause = PAUSE_MAX;
	snprintf(num, sizeof(num), "%lld", (long long)(now + pause));
	db_state_set(d->db, KEY_UNTIL, num);
	db_state_set(d->db, KEY_REASON, why);
	snprintf(num, sizeof(num), "%d", trips + 1);
	db_state_set(d->db, KEY_TRIPS, num);
	str_copy(shown, why, sizeof(shown));
	log_mask_line(shown, sizeof(shown));
	log_warnx("sending paused for %lld minutes: %s", (long long)pause / 60,
	    shown);
	/* For the organiser's summary. */
	db_event(d->db, 0, "sending-paused", "daemon", NULL, why);
}

static void
free_job(struct job *job)
{
	outbox_row_clear(&job->row);
	free(job);
}

/* A 5xx that names the recipient is about the recipient. */
static int
names_rcpt(const struct job *job)
{
	return strcasestr(job->res.text, job->row.rcpt) != NULL;
}

static void
record_run(struct deliver *d, struct deliver_report *r, int about_us)
{
	time_t now = time(NULL);

	for (int i = 0; i < d->nrun; i++) {
		struct job *job = d->run[i];

		if (about_us)
			outbox_retry_later(d->db, job->row.id, now,
			    job->res.code, job->res.text, 0);
		else {
			outbox_failed(d->db, job->row.id, now, job->res.code,
			    job->res.text);
			score_refused(d->db, job->row.id, job->res.text);
			r->failed++;
		}
		free_job(job);
	}
	d->nrun = 0;
}

static void
record_perm(struct deliver *d, struct deliver_report *r, struct job *job)
{
	struct job *first = d->nrun > 0 ? d->run[0] : NULL;
	char why[BOTU_ERRLEN];

	if (names_rcpt(job) || (first != NULL &&
	    (first->res.code != job->res.code ||
	    strcmp(first->res.text, job->res.text) != 0)))
		record_run(d, r, 0);
	if (names_rcpt(job)) {
		outbox_failed(d->db, job->row.id, time(NULL), job->res.code,
		    job->res.text);
		score_refused(d->db, job->row.id, job->res.text);
		r->failed++;
		free_job(job);
		return;
	}
	d->run[d->nrun++] = job;
	if (d->nrun < DELIVER_SAME_5XX)
		return;
	/* The text is the whole reply line, its code included. */
	snprintf(why, sizeof(why), "the server refused %d mails in a row "
	    "with the same reply: %s", d->nrun, job->res.text);
	trip(d, why);
	record_run(d, r, 1);
	r->paused = 1;
}

/*
 * Records one answer in the open transaction. A sent job is left to the
 * caller (it is kept when the result cannot be committed); the others are
 * freed. Only a sent mail's failure to record is returned: a lost retry
 * only comes sooner.
 */
static int
record(struct deliver *d, struct deliver_report *r, struct job *job)
{
	time_t now = time(NULL);
	char why[BOTU_ERRLEN];

	if (job->render != BOTU_OK) {
		/* Who may not get it any more is dropped; the rest waits
		 * as after a temporary failure. */
		if (job->render == BOTU_EPERM) {
			log_info("outbox %lld: not sent: %s",
			    (long long)job->row.id, job->res.text);
			(void)outbox_skip(d->db, job->row.id, job->res.text);
		} else {
			log_warnx("outbox %lld: %s", (long long)job->row.id,
			    job->res.text);
			(void)outbox_retry_later(d->db, job->row.id, now, 0,
			    job->res.text, 1);
		}
		free_job(job);
		return BOTU_OK;
	}
	if (job->res.outcome != SMTP_PERM && d->nrun > 0)
		record_run(d, r, 0);
	switch (job->res.outcome) {
	case SMTP_SENT:
		/* The server has it; until the commit a crash sends it again
		 * (with the same Message-ID). */
		crash_point("after-send");
		r->sent++;
		return outbox_sent(d->db, job->row.id, now, job->res.code,
		    job->res.text);
	case SMTP_TEMP:
		if (job->res.rate_limited)
			d->slow_until = now + SLOW_DOWN;
		outbox_retry_later(d->db, job->row.id, now, job->res.code,
		    job->res.text, !job->res.rate_limited);
		r->retried++;
		break;
	case SMTP_PERM:
		record_perm(d, r, job);
		return BOTU_OK;
	case SMTP_OURS:
		outbox_retry_later(d->db, job->row.id, now, job->res.code,
		    job->res.text, 0);
		if (!r->paused) {
			snprintf(why, sizeof(why), "%s", job->res.text);
			trip(d, why);
		}
		r->paused = 1;
		break;
	}
	free_job(job);
	return BOTU_OK;
}

/*
 * Records k answers in one transaction; BOTU_OK or an error. The mails
 * that went out are kept when their results cannot be committed (unrec),
 * to be recorded before anything else is sent.
 */
static int
record_group(struct deliver *d, struct deliver_report *r, struct job **jobs,
    size_t k)
{
	struct job **sent = xcalloc(k, sizeof(*sent));
	size_t ns = 0;
	int rc = db_begin(d->db), begun = rc == BOTU_OK;

	for (size_t i = 0; i < k; i++) {
		int was_sent = jobs[i]->render == BOTU_OK &&
		    jobs[i]->res.outcome == SMTP_SENT;

		if (rc == BOTU_OK)
			rc = record(d, r, jobs[i]);
		else if (!was_sent)
			free_job(jobs[i]);
		if (was_sent)
			sent[ns++] = jobs[i];
	}
	if (rc == BOTU_OK)
		rc = db_commit(d->db);
	if (rc != BOTU_OK && begun)
		db_rollback(d->db);
	if (rc == BOTU_OK) {
		for (size_t i = 0; i < ns; i++)
			free_job(sent[i]);
	} else if (ns > 0) {
		d->unrec = xrealloc(d->unrec, (d->nunrec + ns) *
		    sizeof(*d->unrec));
		memcpy(d->unrec + d->nunrec, sent, ns * sizeof(*sent));
		d->nunrec += ns;
	}
	free(sent);
	return rc;
}

/* The results the store refused before; BOTU_OK when all are recorded. */
static int
record_unrecorded(struct deliver *d)
{
	time_t now = time(NULL);
	int rc = db_begin(d->db);

	for (size_t i = 0; i < d->nunrec && rc == BOTU_OK; i++)
		rc = outbox_sent(d->db, d->unrec[i]->row.id, now,
		    d->unrec[i]->res.code, d->unrec[i]->res.text);
	if (rc == BOTU_OK)
		rc = db_commit(d->db);
	if (rc != BOTU_OK) {
		db_rollback(d->db);
		return rc;
	}
	log_info("outbox: recorded %zu results the store refused before",
	    d->nunrec);
	for (size_t i = 0; i < d->nunrec; i++)
		free_job(d->unrec[i]);
	d->nunrec = 0;
	return BOTU_OK;
}

/* How many mails the limits let go now; sets *next when they hold some. */
static int
allowance(struct deliver *d, time_t now, time_t *next)
{
	const struct botu_conf *c = d->conf;
	int64_t sent, ms = now_ms();
	int n = BATCH;

	if (d->slow_until > now) {
		*next = d->slow_until;
		return 0;
	}
	if (c->smtp.max_per_day > 0 &&
	    outbox_sent_since(d->db, now - 86400, &sent) == BOTU_OK) {
		if (sent >= c->smtp.max_per_day) {
			*next = now + 600;
			return 0;
		}
		if (c->smtp.max_per_day - sent < n)
			n = (int)(c->smtp.max_per_day - sent);
	}
	if (c->smtp.max_per_minute > 0) {
		/* Evenly spaced, a little slower than the limit, so that no
		 * 60-second window the server counts can see more. */
		int64_t interval = 60000 / c->smtp.max_per_minute + 50;
		int64_t wait = d->next_slot_ms - ms;

		/* The last second is waited for here: rounded to the whole
		 * seconds of *next it would cost up to a second per mail (a
		 * third of the rate at 30 a minute). */
		if (wait > 0 && wait < 1000) {
			struct timespec ts = { 0, (long)wait * 1000000 };

			nanosleep(&ts, NULL);
			ms = now_ms();
		}
		if (d->next_slot_ms > ms) {
			*next = (time_t)(d->next_slot_ms / 1000);
			return 0;
		}
		if (outbox_sent_since(d->db, now - 60, &sent) == BOTU_OK &&
		    sent >= c->smtp.max_per_minute) {
			*next = now + 1;
			return 0;
		}
		d->next_slot_ms = ms + interval;
		n = 1;
	}
	return n;
}

/*
 * Hands out the rows and records the answers as they come, those that
 * came during a commit together in the next. When the store refuses a
 * result, nothing more is handed out: *failed is set.
 */
static void
run_batch(struct deliver *d, struct outbox_row *rows, size_t n,
    struct deliver_report *r, int *failed)
{
	size_t answered = 0, pending = 0, first, end;
	int held;

	start_threads(d);
	pthread_mutex_lock(&d->mu);
	d->ndone = d->dnext = 0;
	d->pass++;
	for (size_t i = n; i-- > 0;) {	/* the queue pops from its end */
		struct job *job = xcalloc(1, sizeof(*job));

		job->render = BOTU_OK;
		job->row = rows[i];
		memset(&rows[i], 0, sizeof(rows[i]));
		d->queue[d->qlen++] = job;
	}
	pthread_cond_broadcast(&d->work_cv);
	while (answered + pending < n) {
		while (d->dnext == d->ndone)
			pthread_cond_wait(&d->done_cv, &d->mu);
		/* Everything answered so far; the workers append after
		 * end, so these entries stay as they are. */
		first = d->dnext;
		end = d->ndone;
		pthread_mutex_unlock(&d->mu);
		held = 0;
		for (size_t i = first; i < end; i++)
			held += d->done[i]->render == BOTU_OK &&
			    holds_queue(&d->done[i]->res);
		if (record_group(d, r, d->done + first, end - first) !=
		    BOTU_OK && !*failed) {
			log_warnx("outbox: cannot record results: %s; "
			    "sending stops until it can", db_errmsg(d->db));
			*failed = 1;
		}
		answered += end - first;
		pthread_mutex_lock(&d->mu);
		d->dnext = end;	/* recorded: the workers may go on */
		pthread_cond_broadcast(&d->work_cv);
		/* After a pause, a slow-down or a refused record, what has
		 * not gone out yet stays queued, untouched. */
		if (r->paused || d->slow_until > time(NULL) || *failed) {
			pending += d->qlen;
			while (d->qlen > 0)
				free_job(d->queue[--d->qlen]);
		}
		if (held > 0) {
			d->held -= held;
			pthread_cond_broadcast(&d->work_cv);
		}
	}
	pthread_mutex_unlock(&d->mu);
	if (d->nrun > 0 && db_begin(d->db) == BOTU_OK) {
		record_run(d, r, 0);
		if (db_commit(d->db) != BOTU_OK)
			db_rollback(d->db);
	}
}

int
deliver_once(struct deliver *d, struct deliver_report *r, time_t *next)
{
	struct outbox_row *rows = NULL;
	time_t now = time(NULL), until, due;
	size_t n = 0;
	int allowed, failed = 0;

	memset(r, 0, sizeof(*r));
	*next = 0;
	if (d->nunrec > 0 && record_unrecorded(d) != BOTU_OK) {
		*next = now + 30;
		return BOTU_ETEMP;
	}
	if (outbox_expire(d->db, now, &r->expired) != BOTU_OK)
		return BOTU_EDATA;
	if (deliver_paused(d->db, r->reason, &until)) {
		if (until > now) {
			r->paused = 1;
			*next = until;
			return BOTU_OK;
		}
		/* The pause is over: try again; a new refusal doubles it. */
		db_state_set(d->db, KEY_UNTIL, NULL);
		db_state_set(d->db, KEY_REASON, NULL);
		r->reason[0] = '\0';
	}
	allowed = allowance(d, now, next);
	if (outbox_due(d->db, now, allowed > 0 ? allowed : 1, &rows, &n) !=
	    BOTU_OK)
		return BOTU_EDATA;
	if (allowed == 0) {
		r->waiting = (int)n;
		outbox_rows_free(rows, n);
		return BOTU_OK;
	}
	if (n > 0)
		run_batch(d, rows, n, r, &failed);
	outbox_rows_free(rows, n);
	if (failed) {
		*next = now + 30;
		return BOTU_ETEMP;
	}
	if (r->paused) {
		deliver_paused(d->db, r->reason, next);
		return BOTU_OK;
	}
	/* Sending works again: the next pause starts at its first length. */
	if (r->sent > 0 && state_time(d->db, KEY_TRIPS) != 0)
		db_state_set(d->db, KEY_TRIPS, NULL);
	/* What is still due was held back: by a limit, a slow-down or the
	 * batch size (a retry is not due before its backoff). */
	if (n > 0 && outbox_due(d->db, now, 1, &rows, &n) == BOTU_OK) {
		r->waiting = (int)n;
		outbox_rows_free(rows, n);
	}
	if (outbox_next_due(d->db, &due) != BOTU_OK)
		return BOTU_EDATA;
	if (due != 0 && (*next == 0 || due < *next))
		*next = due;
	/* Rounded down: allowance() waits for the rest of the second. */
	if (d->conf->smtp.max_per_minute > 0 && due != 0 &&
	    d->next_slot_ms / 1000 > *next)
		*next = (time_t)(d->next_slot_ms / 1000);
	return BOTU_OK;
}
