/*
 * Unit tests of msgworker.c against the botu binary make built ($BOTU_EXE)
 * and against stand-in workers: shell scripts that hang, crash or spin,
 * and this test program itself, which as "parse-worker" runs libetpan's
 * mailmime_parse() bare, without botu's pre-check, so the real libetpan
 * crash and the real quadratic nesting reach the worker.
 */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include <libetpan/libetpan.h>

#include "botu/log.h"
#include "botu/message.h"
#include "botu/msgworker.h"
#include "botu/util.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#define NORMAL \
	"From: Fatma <fatma@example.org>\r\n" \
	"To: annerike+aanmelden@lsabewoners.nl\r\n" \
	"Subject: =?utf-8?q?Aanmelden_=E2=9C=93?=\r\n" \
	"Message-ID: <m1@example.org>\r\n" \
	"Content-Type: text/plain; charset=utf-8\r\n" \
	"\r\n" \
	"Graag!\r\n"

#define CRASHER \
	"From: evil@example.org\r\n" \
	"Subject: crash\r\n" \
	"Content-Type: multipart/mixed; boundary=\"\\\"\"\r\n" \
	"\r\n" \
	"--\"\r\n" \
	"\r\n" \
	"x\r\n"

static char self[PATH_MAX];	/* this program, as a stand-in worker */
static FILE *logfile;		/* what msgworker.c logs */

static const char *
botu_exe(void)
{
	const char *e = getenv("BOTU_EXE");

	if (e == NULL || access(e, X_OK) != 0)
		fail_msg("BOTU_EXE (%s) is not the botu binary; run the "
		    "tests with make unit", e != NULL ? e : "unset");
	return e;
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
	return n - 1;	/* the directory's own fd */
}

/* 1 when this process has no child at all, not even a zombie. */
static int
no_children(void)
{
	return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

static int64_t
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct msgworker_limits
limits(void)
{
	struct msgworker_limits l = msgworker_default_limits;

	l.deadline_ms = 5000;
	return l;
}

static int
parse(struct msgworker *w, const char *raw, size_t len,
    struct message *m, char *err)
{
	return msgworker_parse(w, raw, len, m, err);
}

static void
parse_normal(struct msgworker *w)
{
	struct message m;
	char err[BOTU_ERRLEN];
	int rc = parse(w, NORMAL, strlen(NORMAL), &m, err);

	if (rc != BOTU_OK)
		fail_msg("normal message: %d %s", rc, err);
	assert_string_equal(m.from.addr, "fatma@example.org");
	assert_string_equal(m.subject, "Aanmelden \xe2\x9c\x93");
	assert_string_equal(m.text, "Graag!\n");
	assert_int_equal(m.nrcpts, 1);
	message_clear(&m);
}

static void
expect_poison(struct msgworker *w, const char *raw, size_t len,
    const char *needle)
{
	struct message m;
	char err[BOTU_ERRLEN];
	int rc = parse(w, raw, len, &m, err);

	if (rc != BOTU_EPOISON || strstr(err, needle) == NULL)
		fail_msg("want BOTU_EPOISON '%s', got %d '%s'", needle, rc,
		    err);
	assert_null(m.headers);
	assert_null(m.text);
}

/* A stand-in worker script in dir; returns its path (free it). */
static char *
script(const char *dir, const char *name, const char *body)
{
	char *text = xasprintf("#!/bin/sh\nulimit -c 0\n%s\n", body);
	char *path = write_file(dir, name, text, 0700);

	free(text);
	return path;
}

/* The log must be empty: no worker ended badly (e.g. LSan found leaks). */
static void
assert_log_empty(void)
{
	long n;

	fflush(logfile);
	n = ftell(logfile);
	if (n > 0) {
		char buf[2048] = "";

		rewind(logfile);
		buf[fread(buf, 1, sizeof(buf) - 1, logfile)] = '\0';
		fail_msg("msgworker logged: %s", buf);
	}
}

static int
setup(void **state)
{
	logfile = tmpfile();
	assert_non_null(logfile);
	log_set_stream(logfile);
	*state = NULL;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	log_set_stream(NULL);
	fclose(logfile);
	/* whatever a test did, it must not leave a child behind */
	assert_true(no_children());
	return 0;
}

static void
test_normal(void **state)
{
	struct msgworker_limits l = limits();
	struct msgworker *w;
	int fds = count_fds();

	(void)state;
	w = msgworker_new(botu_exe(), &l);
	assert_true(no_children());	/* started on first use */
	parse_normal(w);
	assert_false(no_children());
	parse_normal(w);
	msgworker_free(w);
	assert_true(no_children());
	assert_int_equal(count_fds(), fds);
	assert_log_empty();
}

/* botu's own worker refuses the crasher before libetpan sees it. */
static void
test_crasher_botu(void **state)
{
	struct msgworker_limits l = limits();
	struct msgworker *w;
	struct message m;
	char err[BOTU_ERRLEN];

	(void)state;
	w = msgworker_new(botu_exe(), &l);
	expect_poison(w, CRASHER, strlen(CRASHER), "boundary");
	parse_normal(w);
	assert_int_equal(parse(w, "not a mail\n", 11, &m, err), BOTU_EDATA);
	parse_normal(w);
	msgworker_free(w);
	assert_log_empty();
}

/*
 * The same crasher through bare libetpan: the worker really dies, the
 * daemon says so, and the next message gets a fresh worker.
 */
static void
test_crasher_bare_libetpan(void **state)
{
	struct msgworker_limits l = limits();
	struct msgworker *w;
	struct message m;
	char err[BOTU_ERRLEN];
	int fds = count_fds(), rc;

	(void)state;
	w = msgworker_new(self, &l);
	parse_normal(w);
	rc = parse(w, CRASHER, strlen(CRASHER), &m, err);
	assert_int_equal(rc, BOTU_EPOISON);
#ifndef UNDER_ASAN
	assert_string_equal(err, "killed by signal 11");
#else
	/* AddressSanitizer catches the SEGV and exits instead */
	assert_non_null(strstr(err, "exited with status"));
#endif
	assert_true(no_children());	/* reaped at once */
	parse_normal(w);
	parse_normal(w);
	msgworker_free(w);
	assert_int_equal(count_fds(), fds);
}

static char *
deep_message(size_t levels, size_t *len)
{
	struct buf b;
	size_t i;

	buf_init(&b);
	buf_adds(&b, "From: a@example.org\r\nSubject: deep\r\n");
	for (i = 0; i < levels; i++)
		buf_addf(&b, "Content-Type: multipart/mixed; boundary=\"b%zu\""
		    "\r\n\r\n--b%zu\r\n", i, i);
	buf_adds(&b, "Content-Type: text/plain\r\n\r\nhi\r\n");
	*len = b.len;
	return buf_detach(&b);
}

static void
test_deep_nesting(void **state)
{
	struct msgworker_limits l = limits();
	struct msgworker *w;
	size_t len;
	char *raw = deep_message(20000, &len);
	int64_t t0;

	(void)state;
	/* botu: refused by the pre-check, at once */
	w = msgworker_new(botu_exe(), &l);
	t0 = ms_now();
	expect_poison(w, raw, len, "nesting");
	assert_true(ms_now() - t0 < 2000);
	parse_normal(w);
	msgworker_free(w);

	/* bare libetpan: quadratic; the wall-clock deadline ends it */
	l.deadline_ms = 1500;
	l.cpu_seconds = 60;
	w = msgworker_new(self, &l);
	t0 = ms_now();
	expect_poison(w, raw, len, "took longer than 1.5 s");
	assert_true(ms_now() - t0 < 4000);
	assert_true(no_children());
	parse_normal(w);
	msgworker_free(w);

	/* bare libetpan: the CPU limit ends it before the deadline */
	l.deadline_ms = 20000;
	l.cpu_seconds = 1;
	w = msgworker_new(self, &l);
	t0 = ms_now();
	expect_poison(w, raw, len, "used more than 1 s of CPU");
	assert_true(ms_now() - t0 < 15000);
	parse_normal(w);
	msgworker_free(w);
	free(raw);
}

static void
test_oversize(void **state)
{
	struct msgworker_limits l = limits();
	struct msgworker *w;
	char *raw = xcalloc(1, 2001);

	(void)state;
	memcpy(raw, NORMAL, strlen(NORMAL));
	memset(raw + strlen(NORMAL), 'x', 2000 - strlen(NORMAL));
	l.max_size = 1000;
	w = msgworker_new(botu_exe(), &l);
	expect_poison(w, raw, 2000, "larger than 1000 octets");
	assert_true(no_children());	/* not even started */
	parse_normal(w);
	msgworker_free(w);
	free(raw);
	l.max_size = 25 * 1024 * 1024;
	w = msgworker_new(botu_exe(), &l);
	raw = xcalloc(1, l.max_size + 1);
	expect_poison(w, raw, l.max_size + 1, "larger than 25 MiB");
	msgworker_free(w);
	free(raw);
}

/* The pid of this process's only child, from /proc. */
static pid_t
child_pid(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	char path[300], buf[512], *p;
	pid_t found = 0;
	FILE *f;
	int ppid;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		/* "pid (comm) state ppid": comm may hold spaces */
		p = p != NULL ? strrchr(buf, ')') : NULL;
		if (p != NULL && sscanf(p + 2, "%*c %d", &ppid) == 1 &&
		    ppid == getpid())
			found = (pid_t)strtol(de->d_name, NULL, 10);
	}
	closedir(d);
	assert_true(found > 0);
	return found;
}

/* The soft and hard value of one line of /proc/PID/limits. */
static void
proc_limit(pid_t pid, const char *name, char *soft, char *hard)
{
	char path[64], line[256];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, name, strlen(name)) == 0 &&
		    sscanf(line + 26, "%31s %31s", soft, hard) == 2)
			found = 1;
	fclose(f);
	if (!found)
		fail_msg("no '%s' in %s", name, path);
}

/* The worker runs with the limits asked for, and only fds 0, 1, 2. */
static void
test_limits_applied(void **state)
{
	struct msgworker_limits l = limits();
	struct msgworker *w;
	char soft[32], hard[32], path[64];
	long cpu;
	pid_t pid;
	DIR *d;
	struct dirent *de;
	int nfd = 0;

	(void)state;
	l.cpu_seconds = 7;
	l.memory = 512u << 20;
	w = msgworker_new(botu_exe(), &l);
	parse_normal(w);
	pid = child_pid();
	proc_limit(pid, "Max cpu time", soft, hard);
	cpu = strtol(soft, NULL, 10);
	if (cpu < 7 || cpu > 9)
		fail_msg("worker CPU limit %s, want used + 7", soft);
	proc_limit(pid, "Max core file size", soft, hard);
	assert_string_equal(soft, "0");
#ifndef UNDER_ASAN
	proc_limit(pid, "Max address space", soft, hard);
	assert_string_equal(soft, "536870912");
#endif
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			nfd++;
	closedir(d);
	assert_int_equal(nfd, 3);
	msgworker_free(w);
	assert_log_empty();
}

/* After `messages` messages the worker goes; nothing is left behind. */
static void
test_restart(void **state)
{
	struct msgworker_limits l = limits();
	struct msgworker *w;
	int fds = count_fds(), i;

	(void)state;
	l.messages = 3;
	w = msgworker_new(botu_exe(), &l);
	for (i = 1; i <= 10; i++) {
		parse_normal(w);
		/* gone right after its third message, back on the next */
		if (i % 3 == 0)
			assert_true(no_children());
		else
			assert_false(no_children());
	}
	msgworker_free(w);
	assert_true(no_children());
	assert_int_equal(count_fds(), fds);
	assert_log_empty();
}

static void
test_memory_limit(void **state)
{
#ifdef UNDER_ASAN
	(void)state;
	skip();	/* RLIMIT_AS is not set under AddressSanitizer */
#else
	struct msgworker_limits l = limits();
	struct msgworker *w;
	size_t big = 60u << 20, mid = 40u << 20;
	char *raw = xmalloc(big);

	(void)state;
	memset(raw, 'x', big);
	memcpy(raw, NORMAL, strlen(NORMAL));
	l.memory = 48u << 20;
	l.max_size = 100u << 20;
	w = msgworker_new(botu_exe(), &l);
	/* cannot even be read in: the worker says so and lives on */
	expect_poison(w, raw, big, "needs more than 48 MiB");
	assert_false(no_children());
	parse_normal(w);
	/* read in, but parsing needs more: the worker dies of it */
	expect_poison(w, raw, mid, "needs more than 48 MiB");
	parse_normal(w);
	msgworker_free(w);
	free(raw);
#endif
}

static void
test_stand_ins(void **state)
{
	struct msgworker_limits l = limits();
	struct msgworker *w;
	struct message m;
	char *dir = tmpdir_new(), *hang, *segv, *spin, *mute;
	char err[BOTU_ERRLEN];
	int fds = count_fds();
	int64_t t0;

	(void)state;
	hang = script(dir, "hang", "printf BOTUWK01\nexec sleep 60");
	segv = script(dir, "segv",
	    "printf BOTUWK01\nhead -c 4 >/dev/null\nkill -SEGV $$");
	spin = script(dir, "spin",
	    "printf BOTUWK01\nulimit -S -t 1\nwhile :; do :; done");
	mute = script(dir, "mute", "exec sleep 60");

	l.deadline_ms = 500;
	w = msgworker_new(hang, &l);
	t0 = ms_now();
	expect_poison(w, NORMAL, strlen(NORMAL), "took longer than 0.5 s");
	assert_true(ms_now() - t0 < 2000);
	assert_true(no_children());
	msgworker_free(w);

	l.deadline_ms = 5000;
	w = msgworker_new(segv, &l);
	expect_poison(w, NORMAL, strlen(NORMAL), "killed by signal 11");
	msgworker_free(w);

	l.cpu_seconds = 1;
	l.deadline_ms = 20000;	/* a busy host is slow to burn 1 s */
	w = msgworker_new(spin, &l);
	expect_poison(w, NORMAL, strlen(NORMAL), "used more than 1 s of CPU");
	msgworker_free(w);

	/* no worker: a temporary failure, not the message's fault */
	l.deadline_ms = 500;
	w = msgworker_new(mute, &l);
	assert_int_equal(parse(w, NORMAL, strlen(NORMAL), &m, err),
	    BOTU_ETEMP);
	assert_non_null(strstr(err, "did not start"));
	assert_true(no_children());
	msgworker_free(w);
	w = msgworker_new("/nonexistent/botu", &l);
	assert_int_equal(parse(w, NORMAL, strlen(NORMAL), &m, err),
	    BOTU_ETEMP);
	assert_non_null(strstr(err, "/nonexistent/botu"));
	msgworker_free(w);
	w = msgworker_new("/bin/true", &l);
	assert_int_equal(parse(w, NORMAL, strlen(NORMAL), &m, err),
	    BOTU_ETEMP);
	msgworker_free(w);

	assert_true(no_children());
	assert_int_equal(count_fds(), fds);
	free(hang);
	free(segv);
	free(spin);
	free(mute);
	tmpdir_remove(dir);
}

static void
on_alarm(int sig)
{
	(void)sig;
}

/* A signal every millisecond (no SA_RESTART): every wait sees EINTR. */
static void
test_eintr(void **state)
{
	struct msgworker_limits l = limits();
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } }, off;
	struct sigaction sa, old;
	struct msgworker *w;
	char *dir = tmpdir_new(), *hang;
	int i, fds = count_fds();
	int64_t t0;

	(void)state;
	hang = script(dir, "hang", "printf BOTUWK01\nexec sleep 60");
	memset(&sa, 0, sizeof(sa));
	memset(&off, 0, sizeof(off));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	l.messages = 4;
	w = msgworker_new(botu_exe(), &l);
	for (i = 0; i < 20; i++)
		parse_normal(w);
	msgworker_free(w);
	l.deadline_ms = 300;
	w = msgworker_new(hang, &l);
	t0 = ms_now();
	expect_poison(w, NORMAL, strlen(NORMAL), "took longer than 0.3 s");
	assert_true(ms_now() - t0 < 2000);
	msgworker_free(w);
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	assert_int_equal(count_fds(), fds);
	free(hang);
	tmpdir_remove(dir);
	assert_log_empty();
}

/* ---- this program as a worker: bare libetpan, then the real parse --- */

static int
xread(int fd, void *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		k = read(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p = (char *)p + k;
		n -= (size_t)k;
	}
	return 0;
}

static int
xwrite(int fd, const void *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p = (const char *)p + k;
		n -= (size_t)k;
	}
	return 0;
}

static void
be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static int
bare_worker(void)
{
	struct mailmime *mime;
	struct message m;
	struct rlimit rl;
	struct buf out;
	unsigned char h[8];
	const char *env = getenv("BOTU_WORKER_LIMITS");
	char err[BOTU_ERRLEN], *raw;
	size_t idx, len;
	int rc, fd;

	/* its crash report (ASan's, on libetpan's strncpy) is expected */
	fd = open("/dev/null", O_WRONLY);
	if (fd > 2) {
		dup2(fd, 2);
		close(fd);
	}
	if (env != NULL) {
		/* SIGXCPU at the soft limit; SIGKILL only a second later */
		rl.rlim_cur = (rlim_t)strtoul(env, NULL, 10);
		rl.rlim_max = rl.rlim_cur + 1;
		setrlimit(RLIMIT_CPU, &rl);
	}
	rl.rlim_cur = rl.rlim_max = 0;
	setrlimit(RLIMIT_CORE, &rl);
	if (xwrite(1, "BOTUWK01", 8) < 0)
		return 1;
	while (xread(0, h, 4) == 0) {
		len = (size_t)h[0] << 24 | (size_t)h[1] << 16 |
		    (size_t)h[2] << 8 | h[3];
		raw = xmalloc(len + 1);
		if (xread(0, raw, len) < 0)
			return 1;
		idx = 0;
		mime = NULL;
		if (mailmime_parse(raw, len, &idx, &mime) == MAILIMF_NO_ERROR)
			mailmime_free(mime);
		rc = message_parse(raw, len, &m, err);
		free(raw);
		buf_init(&out);
		if (rc == BOTU_OK) {
			message_pack(&m, &out);
			message_clear(&m);
		} else {
			buf_adds(&out, err);
		}
		be32(h, (uint32_t)rc);
		be32(h + 4, (uint32_t)out.len);
		if (xwrite(1, h, 8) < 0 || xwrite(1, out.s, out.len) < 0)
			return 1;
		buf_free(&out);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_normal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crasher_botu, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crasher_bare_libetpan,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_deep_nesting, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_oversize, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_applied, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_memory_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stand_ins, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_eintr, setup, teardown),
	};
	ssize_t n;

	if (argc > 1 && strcmp(argv[1], "parse-worker") == 0)
		return bare_worker();
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	return cmocka_run_group_tests(tests, NULL, NULL);
}
