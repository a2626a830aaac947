/*
 * enqueue - issues botu's digest for the benchmarks (tests/bench/bench.py).
 *
 *   enqueue -c CONF -n COUNT [-b BYTES] [-d DOMAIN]
 *
 * Adds COUNT active members (lid000000@DOMAIN, ...; DOMAIN defaults to
 * bench.example; digest weekly, the default) in one transaction, then
 * publishes updates and PS notes (a few members') until the digest is
 * about BYTES octets (default 4250: about what `smtp-source -l 4096`
 * sends, its headers and CRLF line ends included), and makes one issue
 * with digest_issue() in a transaction of its own, as the daemon does:
 * one stored issue and, for each member, an outbox row without a body,
 * which botu renders when it sends it. The database is [list] database of
 * CONF.
 *
 * Prints, one per line, key=value for bench.py:
 *   members_s=   seconds for adding the members and the news (with commit)
 *   enqueue_s=   seconds for digest_issue() (with commit)
 *   rows=        outbox rows it queued
 *   bytes=       octets of the first member's mail as it will be sent
 *   db_before=   database size before the issue, octets
 *   db_after=    database size after it (WAL checkpointed by the close)
 * Exit status: 0, 1 on any error (said on stderr), 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "botu/config.h"
#include "botu/db.h"
#include "botu/digest.h"
#include "botu/log.h"
#include "botu/members.h"
#include "botu/outbox.h"
#include "botu/posts.h"
#include "botu/template.h"
#include "botu/util.h"

/* The news; the text is Dutch, as the community's is. */
static const char update_body[] =
    "De offerte voor de zonnepanelen op het dak van De Bouwput is binnen.\n"
    "Wie wil meekijken naar de cijfers? Reageer voor vrijdag, dan plannen\n"
    "we een avond in het buurthuis. Koffie en thee staan klaar.";
static const char note_body[] =
    "Ik woon sinds vorig jaar in de wijk en help graag met isoleren: ik\n"
    "heb het bij ons zelf gedaan, met tochtstrips en radiatorfolie.\n"
    "Bel of mail me gerust.";

/* What a rendered mail adds to its text and HTML: headers, MIME parts. */
#define MAIL_OVERHEAD 900

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long
file_size(const char *path)
{
	struct stat st;
	char *wal = xasprintf("%s-wal", path);
	long long n = 0;

	if (stat(path, &st) == 0)
		n += (long long)st.st_size;
	if (stat(wal, &st) == 0)
		n += (long long)st.st_size;
	free(wal);
	return n;
}

static int
add_members(struct botu_db *db, long count, const char *domain)
{
	char err[BOTU_ERRLEN], email[320], name[64];

	for (long i = 0; i < count; i++) {
		struct member m = { 0 };

		snprintf(email, sizeof(email), "lid%06ld@%s", i, domain);
		snprintf(name, sizeof(name), "Lid %ld", i);
		m.email = email;
		m.name = name;
		m.status = "active";
		if (members_add(db, &m, "cli", NULL, err) != BOTU_OK) {
			fprintf(stderr, "enqueue: %s\n", err);
			return -1;
		}
	}
	return 0;
}

/* A published note of member id, as notes.c leaves a confirmed one. */
static int
add_note(struct botu_db *db, int64_t id, time_t t)
{
	sqlite3_stmt *st = db_stmt(db, "INSERT INTO notes (member_id, body, "
	    "name, role, status, created_at, updated_at, confirmed_at, "
	    "published_at) VALUES (?1, ?2, 'Lid ' || (?1 - 1), 'bewoner', "
	    "'published', ?3, ?3, ?3, ?3)");

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, note_body, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)t);
	return db_exec_stmt(db, st) == BOTU_OK ? 0 : -1;
}

static int
backdate(struct botu_db *db, int64_t id, time_t t)
{
	sqlite3_stmt *st = db_stmt(db, "UPDATE posts SET published_at = ?1, "
	    "created_at = ?1 WHERE id = ?2");

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)t);
	sqlite3_bind_int64(st, 2, id);
	return db_exec_stmt(db, st) == BOTU_OK ? 0 : -1;
}

/* Updates and notes, in turns, until the digest is about want octets. */
static int
add_news(struct botu_db *db, const struct botu_conf *conf, long members,
    size_t want, time_t start)
{
	char err[BOTU_ERRLEN];
	struct tmpl_mail tm = { 0 };
	int64_t id;
	size_t have = 0;
	int items;

	for (long i = 0; have + MAIL_OVERHEAD < want; i++) {
		if (i % 2 == 0) {
			char *subject = xasprintf("Nieuws uit de werkgroep "
			    "(%ld)", i / 2 + 1);
			int rc = posts_add(db, subject, update_body,
			    "Kernteam Noord", &id, err);

			free(subject);
			/* Published a minute ago: an issue covers up to its
			 * own second. */
			if (rc != BOTU_OK || backdate(db, id, start - 60) < 0)
				goto fail;
		} else if (members == 0 || add_note(db, i / 2 % members + 1,
		    start - 60) < 0) {
			str_copy(err, db_errmsg(db), sizeof(err));
			goto fail;
		}
		if (digest_preview(db, conf, start, NULL, 0, &tm, &items,
		    err) != BOTU_OK)
			goto fail;
		have = strlen(tm.text) + (tm.html != NULL ?
		    strlen(tm.html) : 0);
		tmpl_mail_clear(&tm);
		if (i > 200) {
			str_copy(err, "the digest does not grow", sizeof(err));
			goto fail;
		}
	}
	return 0;
fail:
	fprintf(stderr, "enqueue: %s\n", err);
	return -1;
}

/* The first row's mail as delivery renders it: its size in octets. */
static long long
first_size(struct botu_db *db, const struct botu_conf *conf)
{
	struct outbox_row *rows = NULL;
	char err[BOTU_ERRLEN];
	size_t n = 0;
	long long len = 0;

	if (outbox_due(db, time(NULL) + 1, 1, &rows, &n) != BOTU_OK ||
	    n == 0)
		return 0;
	if (rows[0].data == NULL &&
	    digest_render_row(db, conf, &rows[0], err) != BOTU_OK)
		fprintf(stderr, "enqueue: %s\n", err);
	else
		len = (long long)rows[0].len;
	outbox_rows_free(rows, n);
	return len;
}

static int
usage(void)
{
	fprintf(stderr, "usage: enqueue -c CONF -n COUNT [-b BYTES] "
	    "[-d DOMAIN]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const char *conf_path = NULL, *domain = "bench.example";
	struct botu_conf *conf = NULL;
	struct botu_db *db = NULL;
	struct digest_made made = { 0 };
	char err[BOTU_ERRLEN];
	long long count = -1, bytes = 4250, before, after, size;
	time_t now = time(NULL);
	double t0, t1, t2, t3;
	int ch, ret = 1;

	while ((ch = getopt(argc, argv, "b:c:d:n:")) != -1) {
		switch (ch) {
		case 'b':
			if (str_to_int(optarg, 512, 1 << 20, &bytes) < 0)
				return usage();
			break;
		case 'c':
			conf_path = optarg;
			break;
		case 'd':
			if (strlen(optarg) > 200)
				return usage();
			domain = optarg;
			break;
		case 'n':
			if (str_to_int(optarg, 0, 10000000, &count) < 0)
				return usage();
			break;
		default:
			return usage();
		}
	}
	if (conf_path == NULL || count < 0 || optind != argc)
		return usage();
	log_init(0, LOG_LEVEL_WARN, 0);
	if (conf_load(conf_path, &conf, err) != BOTU_OK) {
		fprintf(stderr, "enqueue: %s\n", err);
		return 2;
	}
	if (db_open(conf->list.database, DB_READWRITE, &db, err) != BOTU_OK) {
		fprintf(stderr, "enqueue: %s\n", err);
		goto out;
	}
	t0 = now_s();
	if (db_begin(db) != BOTU_OK || add_members(db, (long)count,
	    domain) < 0 || db_commit(db) != BOTU_OK) {
		fprintf(stderr, "enqueue: %s\n", db_errmsg(db));
		goto out;
	}
	/* Each item its own transaction: digest_preview() has its own. */
	if (add_news(db, conf, (long)count, (size_t)bytes, now) < 0)
		goto out;
	t1 = now_s();
	/* Closed (the WAL checkpointed into the file), measured, reopened:
	 * what was there before the issue. */
	db_close(db);
	db = NULL;
	before = file_size(conf->list.database);
	if (db_open(conf->list.database, DB_READWRITE, &db, err) != BOTU_OK) {
		fprintf(stderr, "enqueue: %s\n", err);
		goto out;
	}
	t2 = now_s();
	if (db_begin(db) != BOTU_OK) {
		fprintf(stderr, "enqueue: %s\n", db_errmsg(db));
		goto out;
	}
	if (digest_issue(db, conf, now, 1, &made, err) != BOTU_OK) {
		fprintf(stderr, "enqueue: %s\n", err);
		db_rollback(db);
		goto out;
	}
	if (db_commit(db) != BOTU_OK) {
		fprintf(stderr, "enqueue: %s\n", db_errmsg(db));
		goto out;
	}
	t3 = now_s();
	size = first_size(db, conf);
	db_close(db);
	db = NULL;
	after = file_size(conf->list.database);
	printf("members_s=%.6f\nenqueue_s=%.6f\nrows=%d\nbytes=%lld\n"
	    "db_before=%lld\ndb_after=%lld\n", t1 - t0, t3 - t2, made.rows,
	    size, before, after);
	ret = made.rows == count ? 0 : 1;
	if (ret != 0)
		fprintf(stderr, "enqueue: %d rows queued, not %lld\n",
		    made.rows, count);
out:
	db_close(db);
	conf_free(conf);
	return ret;
}
