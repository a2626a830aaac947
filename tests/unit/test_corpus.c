/*
 * Every message of the shared corpora ($BOTU_CORPUS/mime and /bounces)
 * through the parse worker and, in this process, through message_parse()
 * directly (under ASan that is where our own bugs would show). Both must
 * agree octet for octet, no worker may die, nothing may leak, and nearly
 * all must parse. A summary with timings goes to stdout.
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include "botu/log.h"
#include "botu/message.h"
#include "botu/msgworker.h"
#include "botu/util.h"

struct stats {
	int	 files;
	int	 ok;
	int	 edata;
	int	 poison;
	double	 worker_ms;	/* total */
	double	 inproc_ms;
	double	 max_ms;
	char	 slowest[256];
};

static double
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

static char *
slurp(const char *path, size_t *len)
{
	struct buf b;
	char chunk[65536];
	size_t n;
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	*len = b.len;
	return buf_detach(&b);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.eml files of dir, sorted. */
static char **
list_eml(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL, *path;
	size_t n;

	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".eml") != 0)
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		v = strv_add(v, path);
		free(path);
	}
	closedir(d);
	if (v != NULL)
		qsort(v, strv_len(v), sizeof(*v), cmp_names);
	return v;
}

/* A worker death or limit is a failure here: the corpus is real mail. */
static void
check_no_death(const char *path, const char *err)
{
	static const char *const deaths[] = {
		"killed", "took longer", "used more", "needs more", "exited",
		"died", "malformed reply",
	};
	size_t i;

	for (i = 0; i < NELEM(deaths); i++)
		if (strstr(err, deaths[i]) != NULL)
			fail_msg("%s: the worker did not survive: %s", path,
			    err);
}

static void
one(struct msgworker *w, const char *path, struct stats *st)
{
	struct message wm, im;
	struct buf wp, ip;
	char werr[BOTU_ERRLEN], ierr[BOTU_ERRLEN], *raw;
	size_t len;
	double t0, t1;
	int wrc, irc;

	raw = slurp(path, &len);
	t0 = ms_now();
	wrc = msgworker_parse(w, raw, len, &wm, werr);
	t1 = ms_now();
	st->worker_ms += t1 - t0;
	if (t1 - t0 > st->max_ms) {
		st->max_ms = t1 - t0;
		str_copy(st->slowest, path, sizeof(st->slowest));
	}
	if (wrc != BOTU_OK)
		check_no_death(path, werr);
	/* never the known killer in this process, pre-check or not */
	if (memmem(raw, len, "boundary=\"\\\"\"", 13) != NULL) {
		if (wrc == BOTU_OK)
			message_clear(&wm);
		free(raw);
		return;
	}
	t0 = ms_now();
	irc = message_parse(raw, len, &im, ierr);
	st->inproc_ms += ms_now() - t0;
	if (irc != wrc)
		fail_msg("%s: worker %d (%s), in-process %d (%s)", path, wrc,
		    werr, irc, ierr);
	st->files++;
	if (wrc == BOTU_OK) {
		st->ok++;
		buf_init(&wp);
		buf_init(&ip);
		message_pack(&wm, &wp);
		message_pack(&im, &ip);
		if (wp.len != ip.len || memcmp(wp.s, ip.s, wp.len) != 0)
			fail_msg("%s: worker and in-process results differ",
			    path);
		buf_free(&wp);
		buf_free(&ip);
		assert_int_equal(wm.size, len);
		message_clear(&wm);
		message_clear(&im);
	} else {
		if (wrc == BOTU_EDATA)
			st->edata++;
		else if (wrc == BOTU_EPOISON)
			st->poison++;
		else
			fail_msg("%s: status %d (%s)", path, wrc, werr);
		printf("   not parsed: %s: %s\n", strrchr(path, '/') + 1,
		    werr);
	}
	free(raw);
}

static void
test_corpora(void **state)
{
	static const char *const subdirs[] = { "mime", "bounces" };
	struct msgworker_limits l = msgworker_default_limits;
	struct msgworker *w;
	struct stats st;
	const char *base = getenv("BOTU_CORPUS"), *exe = getenv("BOTU_EXE");
	char **files, *dir;
	FILE *logfile;
	size_t i, k;
	int fds = count_fds(), total = 0;

	(void)state;
	if (base == NULL || access(base, R_OK) != 0) {
		printf("   no corpus at %s: skipped\n",
		    base != NULL ? base : "(unset)");
		skip();
	}
	if (exe == NULL)
		fail_msg("BOTU_EXE is not set; run the tests with make unit");
	logfile = tmpfile();
	assert_non_null(logfile);
	log_set_stream(logfile);
	memset(&st, 0, sizeof(st));
	l.deadline_ms = 10000;
	l.messages = 200;	/* a few restarts on the way */
	w = msgworker_new(exe, &l);
	for (k = 0; k < NELEM(subdirs); k++) {
		dir = xasprintf("%s/%s", base, subdirs[k]);
		files = list_eml(dir);
		if (files == NULL)
			fail_msg("no .eml files in %s", dir);
		for (i = 0; files[i] != NULL; i++, total++)
			one(w, files[i], &st);
		strv_free(files);
		free(dir);
	}
	msgworker_free(w);
	log_set_stream(NULL);
	fflush(logfile);
	if (ftell(logfile) > 0)
		fail_msg("msgworker logged something (a worker ended badly)");
	fclose(logfile);

	printf("   corpus: %d files, %d parsed, %d not a mail, %d poison\n",
	    st.files, st.ok, st.edata, st.poison);
	printf("   worker: %.1f ms in all, %.2f ms a message, slowest "
	    "%.1f ms (%s)\n", st.worker_ms, st.worker_ms / st.files,
	    st.max_ms, strrchr(st.slowest, '/') + 1);
	printf("   in-process: %.1f ms in all, %.3f ms a message\n",
	    st.inproc_ms, st.inproc_ms / st.files);
	assert_int_equal(st.files, total);
	assert_true(st.files >= 500);
	/* nearly all is mail; what is not is listed above */
	assert_true(st.ok * 100 >= st.files * 98);
	assert_int_equal(count_fds(), fds);
	assert_true(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpora),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
