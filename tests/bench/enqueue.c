/*
 * enqueue - fills botu's outbox for the benchmarks (tests/bench/bench.py).
 *
 *   enqueue -c CONF -n COUNT [-b BYTES] [-d DOMAIN]
 *
 * Adds COUNT active members (lid000000@DOMAIN, ...; DOMAIN defaults to
 * bench.example) in one transaction. Then, reading them back as a digest
 * would, it composes one personalised mail of about BYTES octets for each
 * (default 4250: about what `smtp-source -l 4096` sends, its headers and
 * CRLF line ends included)
 * with compose() and stores it with outbox_add(), all in a second
 * transaction: one outbox row each. (The digest will store one issue and
 * rows that point to it; this is the outbox as it is.) The database is
 * [list] database of CONF.
 *
 * Prints, one per line, key=value for bench.py:
 *   members_s=   seconds for adding the members (with commit)
 *   enqueue_s=   seconds for composing and storing the mails (with commit)
 *   bytes=       octets of a composed mail, on average
 *   db_before=   database size before the mails (members only), octets
 *   db_after=    database size after them (WAL checkpointed by the close)
 * Exit status: 0, 1 on any error (said on stderr), 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "botu/addr.h"
#include "botu/compose.h"
#include "botu/config.h"
#include "botu/db.h"
#include "botu/log.h"
#include "botu/members.h"
#include "botu/outbox.h"
#include "botu/util.h"

/* One item of the digest; the text is Dutch, as the community's is. */
static const char item[] =
    "* Zonnepanelen op het dak van De Bouwput: de offerte is binnen. "
    "Wie wil\n  meekijken naar de cijfers? Reageer voor vrijdag, dan "
    "plannen we een\n  avond in het buurthuis. Koffie en thee staan "
    "klaar.\n\n";

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

	if (db_begin(db) != BOTU_OK)
		return -1;
	for (long i = 0; i < count; i++) {
		struct member m = { 0 };

		snprintf(email, sizeof(email), "lid%06ld@%s", i, domain);
		snprintf(name, sizeof(name), "Lid %ld", i);
		m.email = email;
		m.name = name;
		m.status = "active";
		if (members_add(db, &m, "cli", NULL, err) != BOTU_OK) {
			fprintf(stderr, "enqueue: %s\n", err);
			db_rollback(db);
			return -1;
		}
	}
	return db_commit(db) == BOTU_OK ? 0 : -1;
}

/* The personal part, then digest items up to the size asked for. */
static void
digest_text(struct buf *t, const char *name, const char *unsub,
    size_t want)
{
	buf_truncate(t, 0);
	buf_addf(t, "Hallo %s,\n\nDit is wat er deze week speelde in de "
	    "energiecommunity.\n\n", name);
	while (t->len + sizeof(item) < want)
		buf_adds(t, item);
	buf_addf(t, "Groet,\nAnnerike\n\n-- \nAfmelden: mail naar %s\n", unsub);
}

/* One member's mail: composed and stored; 0, or -1 with err set. */
static int
add_mail(struct botu_db *db, const struct botu_conf *conf, sqlite3_stmt *st,
    struct buf *text, struct buf *out, size_t *overhead, size_t want,
    char err[BOTU_ERRLEN])
{
	char *detail = xasprintf("afmelden-%s", db_col_text(st, 3));
	char *unsub = addr_plus(conf, detail);
	char *mid = compose_message_id(addr_domain(conf));
	struct outgoing o = {
		.to = db_col_text(st, 1),
		.to_name = db_col_text(st, 2),
		.subject = "Nieuwsbrief energiecommunity, week 48",
		.unsubscribe = unsub,
		.auto_submitted = COMPOSE_AUTO_GENERATED,
	};
	struct outbox_mail om = {
		.kind = "digest",
		.member_id = sqlite3_column_int64(st, 0),
		.rcpt = o.to,
		.envelope_from = conf->list.address,
		.message_id = mid,
	};
	int ret = -1;

	digest_text(text, o.to_name, unsub, want - *overhead);
	o.text = text->s;
	buf_truncate(out, 0);
	if (compose(conf, &o, mid, time(NULL), out, err) != BOTU_OK)
		goto out;
	/* The first is a trial that learns the headers' share. */
	if (*overhead == 0) {
		*overhead = out->len > text->len ? out->len - text->len : 1;
		if (*overhead >= want)
			*overhead = want - 1;
		ret = add_mail(db, conf, st, text, out, overhead, want, err);
		goto out;
	}
	om.data = out->s;
	om.len = out->len;
	if (outbox_add(db, &om, NULL) != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "%s", db_errmsg(db));
		goto out;
	}
	ret = 0;
out:
	free(mid);
	free(unsub);
	free(detail);
	return ret;
}

static int
add_mails(struct botu_db *db, const struct botu_conf *conf, long bytes,
    long long *total_len)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id, email, name, unsub_token "
	    "FROM members WHERE status = 'active' ORDER BY id");
	char err[BOTU_ERRLEN];
	struct buf text, out;
	size_t overhead = 0;
	int rc = SQLITE_ERROR, ret = -1;

	buf_init(&text);
	buf_init(&out);
	if (db_begin(db) != BOTU_OK) {
		fprintf(stderr, "enqueue: %s\n", db_errmsg(db));
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (add_mail(db, conf, st, &text, &out, &overhead,
		    (size_t)bytes, err) < 0) {
			fprintf(stderr, "enqueue: %s\n", err);
			break;
		}
		*total_len += out.len;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE || db_commit(db) != BOTU_OK) {
		if (rc == SQLITE_DONE)
			fprintf(stderr, "enqueue: %s\n", db_errmsg(db));
		db_rollback(db);
		goto out;
	}
	ret = 0;
out:
	buf_free(&text);
	buf_free(&out);
	return ret;
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
	char err[BOTU_ERRLEN];
	long long count = -1, bytes = 4250, before, after;
	long long total_len = 0;
	double t0, t1, t2, t3;
	int ch, ret = 1;

	while ((ch = getopt(argc, argv, "b:c:d:n:")) != -1) {
		switch (ch) {
		case 'b':
			if (str_to_int(optarg, 512, 1 << 24, &bytes) < 0)
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
	if (add_members(db, (long)count, domain) < 0)
		goto out;
	t1 = now_s();
	/* Closed (the WAL checkpointed into the file), measured, reopened:
	 * the members' share, to which the mails add. */
	db_close(db);
	db = NULL;
	before = file_size(conf->list.database);
	if (db_open(conf->list.database, DB_READWRITE, &db, err) != BOTU_OK) {
		fprintf(stderr, "enqueue: %s\n", err);
		goto out;
	}
	t2 = now_s();
	if (add_mails(db, conf, (long)bytes, &total_len) < 0)
		goto out;
	t3 = now_s();
	db_close(db);
	db = NULL;
	after = file_size(conf->list.database);
	printf("members_s=%.6f\nenqueue_s=%.6f\nbytes=%lld\ndb_before=%lld\n"
	    "db_after=%lld\n", t1 - t0, t3 - t2,
	    count > 0 ? total_len / count : 0, before, after);
	ret = 0;
out:
	db_close(db);
	conf_free(conf);
	return ret;
}
