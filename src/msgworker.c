/*
 * msgworker.c - see msgworker.h.
 *
 * The protocol on the two pipes, all integers 32-bit big-endian:
 *   worker, once at start:  "BOTUWK01" (its limits are in force)
 *   daemon, per message:    length, octets
 *   worker, per message:    status, length, octets
 * where status is BOTU_OK (octets: message_pack()), BOTU_EDATA or
 * BOTU_EPOISON (octets: the error text) or WORKER_NOMEM.
 *
 * The daemon never waits without a deadline: its pipe ends are
 * non-blocking and every wait is a poll() with the time left. A worker
 * that misses the deadline is killed and reaped at once; one that dies is
 * reaped, and its wait status says why.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "botu/log.h"
#include "botu/msgworker.h"
#include "botu/util.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#define HELLO		"BOTUWK01"
#define LIMITS_ENV	"BOTU_WORKER_LIMITS"
#define WORKER_NOMEM	1	/* reply status: out of memory */
#define MIB		(1024 * 1024)
#define REAP_GRACE_MS	2000	/* for a worker on its way out */
#define START_MS	2000	/* at least, for its greeting */

enum io {
	IO_OK = 0,
	IO_TIMEOUT = -1,
	IO_CLOSED = -2,		/* EOF, EPIPE or another error */
};

const struct msgworker_limits msgworker_default_limits = {
	25 * MIB,		/* max_size */
	10,			/* cpu_seconds */
	(size_t)1024 * MIB,	/* memory */
	20000,			/* deadline_ms */
	500,			/* messages */
};

struct msgworker {
	char			*exe;
	struct msgworker_limits	 lim;
	pid_t			 pid;	/* 0: no worker running */
	int			 to;	/* its stdin, our end */
	int			 from;	/* its stdout, our end */
	int			 done;	/* messages it has parsed */
};

extern char **environ;

/* ---- small helpers ------------------------------------------------- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* "25 MiB", or octets when it is not a whole number of MiB. */
static void
fmt_size(char *dst, size_t dstsz, size_t n)
{
	if (n >= MIB && n % MIB == 0)
		snprintf(dst, dstsz, "%zu MiB", n / MIB);
	else
		snprintf(dst, dstsz, "%zu octets", n);
}

/* "20 s", or "0.5 s". */
static void
fmt_secs(char *dst, size_t dstsz, int ms)
{
	if (ms % 1000 == 0)
		snprintf(dst, dstsz, "%d s", ms / 1000);
	else
		snprintf(dst, dstsz, "%.1f s", ms / 1000.0);
}

/* Waits until fd is ready for ev: 1 ready, 0 deadline passed. */
static int
wait_fd(int fd, short ev, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int r;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return 0;
		pfd.fd = fd;
		pfd.events = ev;
		pfd.revents = 0;
		r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return 1;	/* POLLHUP/POLLERR: the I/O says */
		if (r < 0 && errno != EINTR)
			return 1;
	}
}

/*
 * Writes all of p. SIGPIPE is blocked meanwhile and a SIGPIPE this write
 * caused is taken back, so a dead worker is an EPIPE here, never a
 * signal for the process (tests and other callers may not ignore it).
 */
static enum io
write_all(int fd, const void *data, size_t n, int64_t deadline)
{
	const char *p = data;
	struct timespec zero = { 0, 0 };
	sigset_t set, old, pend;
	enum io rc = IO_OK;
	int pending, epipe = 0;
	ssize_t k;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	sigpending(&pend);
	pending = sigismember(&pend, SIGPIPE);
	while (n > 0) {
		k = write(fd, p, n);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
		} else if (k < 0 && errno == EINTR) {
			continue;
		} else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!wait_fd(fd, POLLOUT, deadline)) {
				rc = IO_TIMEOUT;
				break;
			}
		} else {
			epipe = k < 0 && errno == EPIPE;
			rc = IO_CLOSED;
			break;
		}
	}
	if (epipe && !pending)
		while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static enum io
read_all(int fd, void *data, size_t n, int64_t deadline)
{
	char *p = data;
	ssize_t k;

	while (n > 0) {
		k = read(fd, p, n);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
		} else if (k == 0) {
			return IO_CLOSED;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (!wait_fd(fd, POLLIN, deadline))
				return IO_TIMEOUT;
		} else {
			return IO_CLOSED;
		}
	}
	return IO_OK;
}

/* ---- the daemon's side --------------------------------------------- */

struct msgworker *
msgworker_new(const char *exe, const struct msgworker_limits *lim)
{
	struct msgworker *w = xcalloc(1, sizeof(*w));
	const char *other = getenv("BOTU_PARSE_WORKER");

	/* Under valgrind /proc/self/exe is valgrind itself: make
	 * valgrind names the real binary (botu(8), ENVIRONMENT). */
	if (strcmp(exe, "/proc/self/exe") == 0 && other != NULL &&
	    other[0] == '/')
		exe = other;
	w->exe = xstrdup(exe);
	w->lim = lim != NULL ? *lim : msgworker_default_limits;
	if (w->lim.messages < 1)
		w->lim.messages = 1;
	if (w->lim.deadline_ms < 1)
		w->lim.deadline_ms = 1;
	w->to = w->from = -1;
	return w;
}

static void
close_fds(struct msgworker *w)
{
	if (w->to >= 0)
		close(w->to);
	if (w->from >= 0)
		close(w->from);
	w->to = w->from = -1;
}

/*
 * Reaps the worker: at once if it is gone, after grace_ms if it is on its
 * way out, else kills it. *status gets its wait status, or -1 when
 * someone else reaped it (SIGCHLD ignored). Returns 1 when it had to be
 * killed.
 */
static int
reap(struct msgworker *w, int grace_ms, int *status)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	int64_t until = now_ms() + grace_ms;
	int killed = 0;
	pid_t r;

	*status = -1;
	close_fds(w);
	if (w->pid <= 0)
		return 0;
	for (;;) {
		r = waitpid(w->pid, status, WNOHANG);
		if (r == w->pid || (r < 0 && errno != EINTR))
			break;
		if (r == 0 && now_ms() >= until) {
			kill(w->pid, SIGKILL);
			killed = 1;
			while (waitpid(w->pid, status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		if (r == 0)
			nanosleep(&tick, NULL);
	}
	w->pid = 0;
	w->done = 0;
	return killed;
}

static void
kill_now(struct msgworker *w)
{
	int status;

	if (w->pid > 0)
		kill(w->pid, SIGKILL);
	reap(w, 0, &status);
}

/* Ends a healthy worker by closing its input, as between batches. */
static void
stop(struct msgworker *w)
{
	int status;

	if (w->pid <= 0) {
		close_fds(w);
		return;
	}
	if (reap(w, REAP_GRACE_MS, &status))
		log_warnx("parse worker did not exit; killed it");
	else if (status != -1 && !(WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0))
		log_warnx("parse worker ended with wait status 0x%x "
		    "(its stderr says why)", (unsigned)status);
}

/* Why the worker died, from its wait status. */
static void
describe_death(const struct msgworker *w, int status, char *err)
{
	char size[32];

	if (status == -1) {
		snprintf(err, BOTU_ERRLEN, "parse worker died");
	} else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU) {
		snprintf(err, BOTU_ERRLEN, "used more than %d s of CPU",
		    w->lim.cpu_seconds);
	} else if (WIFSIGNALED(status)) {
		snprintf(err, BOTU_ERRLEN, "killed by signal %d",
		    WTERMSIG(status));
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == EX_SOFTWARE) {
		/* botu's x*alloc() end the process this way on ENOMEM */
		fmt_size(size, sizeof(size), w->lim.memory);
		snprintf(err, BOTU_ERRLEN, "needs more than %s (the parse "
		    "worker ran out of memory)", size);
	} else if (WIFEXITED(status)) {
		snprintf(err, BOTU_ERRLEN, "parse worker exited with status %d",
		    WEXITSTATUS(status));
	} else {
		snprintf(err, BOTU_ERRLEN, "parse worker died (wait status "
		    "0x%x)", (unsigned)status);
	}
}

/* Makes fd close-on-exec and at least 3, so dup2() onto 0/1 works. */
static int
high_fd(int fd)
{
	int nfd;

	if (fd >= 3)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

/* environ without BOTU_WORKER_LIMITS, plus ours; free with strv_free. */
static char **
worker_env(const struct msgworker *w)
{
	char **env = NULL, *lim;
	size_t i, k = strlen(LIMITS_ENV);

	for (i = 0; environ != NULL && environ[i] != NULL; i++)
		if (strncmp(environ[i], LIMITS_ENV, k) != 0 ||
		    environ[i][k] != '=')
			env = strv_add(env, environ[i]);
	lim = xasprintf("%s=%d,%zu", LIMITS_ENV, w->lim.cpu_seconds,
	    w->lim.memory);
	env = strv_add(env, lim);
	free(lim);
	return env;
}

static int
spawn(struct msgworker *w, int in, int out, char *err)
{
	static const int sigs[] = { SIGPIPE, SIGXCPU, SIGSEGV, SIGBUS,
	    SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGALRM, SIGUSR1,
	    SIGUSR2 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t mask, def;
	char *argv[3], **env;
	size_t i;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawnattr_init(&at);
	sigemptyset(&mask);
	sigemptyset(&def);
	for (i = 0; i < NELEM(sigs); i++)
		sigaddset(&def, sigs[i]);
	posix_spawnattr_setsigmask(&at, &mask);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	argv[0] = w->exe;
	argv[1] = (char *)"parse-worker";
	argv[2] = NULL;
	env = worker_env(w);
	r = posix_spawn(&w->pid, w->exe, &fa, &at, argv, env);
	strv_free(env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		w->pid = 0;
		snprintf(err, BOTU_ERRLEN, "cannot start parse worker %s: %s",
		    w->exe, strerror(r));
		return BOTU_ETEMP;
	}
	return BOTU_OK;
}

/* Starts the worker and waits for its hello. */
static int
start(struct msgworker *w, char *err)
{
	int req[2] = { -1, -1 }, rep[2] = { -1, -1 }, rc = BOTU_ETEMP;
	int status, i;
	char hello[8];
	enum io io;

	if (pipe2(req, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0) {
		snprintf(err, BOTU_ERRLEN, "cannot start parse worker: "
		    "pipe: %s", strerror(errno));
		goto out;
	}
	req[0] = high_fd(req[0]);
	rep[1] = high_fd(rep[1]);
	if (req[0] < 0 || rep[1] < 0) {
		snprintf(err, BOTU_ERRLEN, "cannot start parse worker: "
		    "fcntl: %s", strerror(errno));
		goto out;
	}
	rc = spawn(w, req[0], rep[1], err);
	if (rc != BOTU_OK)
		goto out;
	w->to = req[1];
	w->from = rep[0];
	req[1] = rep[0] = -1;
	if (fcntl(w->to, F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(w->from, F_SETFL, O_NONBLOCK) < 0) {
		snprintf(err, BOTU_ERRLEN, "cannot start parse worker: "
		    "fcntl: %s", strerror(errno));
		kill_now(w);
		rc = BOTU_ETEMP;
		goto out;
	}
	/* starting is not the message's business: a loaded host gets time */
	io = read_all(w->from, hello, sizeof(hello), now_ms() +
	    (w->lim.deadline_ms > START_MS ? w->lim.deadline_ms : START_MS));
	if (io != IO_OK || memcmp(hello, HELLO, sizeof(hello)) != 0) {
		if (io == IO_OK)
			kill(w->pid, SIGKILL);
		reap(w, io == IO_TIMEOUT ? 0 : REAP_GRACE_MS, &status);
		snprintf(err, BOTU_ERRLEN, "parse worker %s did not start "
		    "(%s)", w->exe, io == IO_TIMEOUT ? "no answer" :
		    io == IO_OK ? "wrong greeting" : "it exited");
		rc = BOTU_ETEMP;
		goto out;
	}
	w->done = 0;
out:
	for (i = 0; i < 2; i++) {
		if (req[i] >= 0)
			close(req[i]);
		if (rep[i] >= 0)
			close(rep[i]);
	}
	return rc;
}

/* Copies the worker's error text, keeping it one printable line. */
static void
copy_err(char *err, const char *s, size_t n)
{
	size_t i;

	if (n >= BOTU_ERRLEN)
		n = BOTU_ERRLEN - 1;
	for (i = 0; i < n; i++)
		err[i] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
	err[n] = '\0';
	if (n == 0)
		snprintf(err, BOTU_ERRLEN, "parse worker gave no reason");
}

/* After a failed exchange: why, with the worker gone. */
static int
lost(struct msgworker *w, enum io io, char *err)
{
	char secs[32];
	int status;

	if (io == IO_TIMEOUT) {
		kill_now(w);
		fmt_secs(secs, sizeof(secs), w->lim.deadline_ms);
		snprintf(err, BOTU_ERRLEN, "took longer than %s", secs);
		return BOTU_EPOISON;
	}
	reap(w, REAP_GRACE_MS, &status);
	describe_death(w, status, err);
	return BOTU_EPOISON;
}

/* The reply's octets may be larger than the message, never absurdly. */
static size_t
reply_cap(size_t len)
{
	size_t cap = (size_t)1 << 30;

	if (len < cap / 16 - 1024 * 1024)
		cap = 16 * len + 1024 * 1024;
	return cap;
}

static int
exchange(struct msgworker *w, const char *raw, size_t len,
    struct message *out, char *err)
{
	unsigned char hdr[8];
	int64_t deadline = now_ms() + w->lim.deadline_ms;
	char *reply = NULL, size[32];
	uint32_t n;
	int32_t status;
	enum io io;
	int rc;

	put_be32(hdr, (uint32_t)len);
	io = write_all(w->to, hdr, 4, deadline);
	if (io == IO_OK)
		io = write_all(w->to, raw, len, deadline);
	if (io == IO_OK)
		io = read_all(w->from, hdr, 8, deadline);
	if (io != IO_OK)
		return lost(w, io, err);
	status = (int32_t)get_be32(hdr);
	n = get_be32(hdr + 4);
	if (n > reply_cap(len)) {
		kill_now(w);
		snprintf(err, BOTU_ERRLEN, "parse worker sent a reply of %u "
		    "octets", n);
		return BOTU_EPOISON;
	}
	reply = xmalloc(n + 1);
	io = read_all(w->from, reply, n, deadline);
	if (io != IO_OK) {
		free(reply);
		return lost(w, io, err);
	}
	w->done++;
	if (status == BOTU_OK) {
		rc = message_unpack(reply, n, out);
		if (rc != BOTU_OK) {
			kill_now(w);
			snprintf(err, BOTU_ERRLEN, "parse worker sent a "
			    "malformed reply");
			rc = BOTU_EPOISON;
		}
	} else if (status == BOTU_EDATA || status == BOTU_EPOISON) {
		copy_err(err, reply, n);
		rc = status;
	} else if (status == WORKER_NOMEM) {
		fmt_size(size, sizeof(size), w->lim.memory);
		snprintf(err, BOTU_ERRLEN, "needs more than %s", size);
		rc = BOTU_EPOISON;
	} else {
		kill_now(w);
		snprintf(err, BOTU_ERRLEN, "parse worker sent status %d",
		    (int)status);
		rc = BOTU_EPOISON;
	}
	free(reply);
	return rc;
}

int
msgworker_parse(struct msgworker *w, const char *raw, size_t len,
    struct message *out, char err[BOTU_ERRLEN])
{
	char size[32];
	int rc, status;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	if (len > w->lim.max_size || len > UINT32_MAX) {
		fmt_size(size, sizeof(size), w->lim.max_size);
		snprintf(err, BOTU_ERRLEN, "larger than %s", size);
		return BOTU_EPOISON;
	}
	/* a worker that died between messages is not this one's fault */
	if (w->pid > 0 && waitpid(w->pid, &status, WNOHANG) == w->pid) {
		w->pid = 0;
		close_fds(w);
	}
	if (w->pid <= 0) {
		rc = start(w, err);
		if (rc != BOTU_OK)
			return rc;
	}
	rc = exchange(w, raw, len, out, err);
	if (w->pid > 0 && w->done >= w->lim.messages)
		stop(w);
	return rc;
}

void
msgworker_free(struct msgworker *w)
{
	if (w == NULL)
		return;
	stop(w);
	free(w->exe);
	free(w);
}

/* ---- the worker's side --------------------------------------------- */

static int
fd_read(int fd, void *data, size_t n)
{
	char *p = data;
	ssize_t k;

	while (n > 0) {
		k = read(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int
fd_write(int fd, const void *data, size_t n)
{
	const char *p = data;
	ssize_t k;

	while (n > 0) {
		k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int
reply(int32_t status, const char *data, size_t n)
{
	unsigned char hdr[8];

	put_be32(hdr, (uint32_t)status);
	put_be32(hdr + 4, (uint32_t)n);
	if (fd_write(1, hdr, sizeof(hdr)) < 0 || fd_write(1, data, n) < 0)
		return -1;
	return 0;
}

/* Reads n octets and forgets them: a message we cannot hold. */
static int
skip(size_t n)
{
	char junk[8192];
	size_t k;

	while (n > 0) {
		k = n < sizeof(junk) ? n : sizeof(junk);
		if (fd_read(0, junk, k) < 0)
			return -1;
		n -= k;
	}
	return 0;
}

static void
apply_limits(int *cpu)
{
	struct rlimit rl = { 0, 0 };
	const char *env = getenv(LIMITS_ENV);
	long long v;
	size_t mem = msgworker_default_limits.memory;
	char *comma, *s;

	*cpu = msgworker_default_limits.cpu_seconds;
	comma = env != NULL ? strchr(env, ',') : NULL;
	if (comma != NULL) {
		s = xstrndup(env, (size_t)(comma - env));
		if (str_to_int(s, 1, 86400, &v) == 0)
			*cpu = (int)v;
		free(s);
		if (str_to_int(comma + 1, 1, LLONG_MAX, &v) == 0)
			mem = (size_t)v;
	}
	setrlimit(RLIMIT_CORE, &rl);
#ifndef UNDER_ASAN
	/* AddressSanitizer reserves terabytes of address space up front */
	rl.rlim_cur = rl.rlim_max = mem;
	if (setrlimit(RLIMIT_AS, &rl) < 0)
		log_warn("parse worker: setrlimit(RLIMIT_AS)");
#else
	(void)mem;
#endif
}

/*
 * RLIMIT_CPU counts the whole life of the process, so before each
 * message the soft limit is moved to what was used so far plus cpu
 * seconds: SIGXCPU then means "this message took more than cpu s".
 */
static void
cpu_budget(int cpu)
{
	struct rusage ru;
	struct rlimit rl;
	rlim_t used;

	if (getrusage(RUSAGE_SELF, &ru) < 0 || getrlimit(RLIMIT_CPU, &rl) < 0)
		return;
	used = (rlim_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1);
	rl.rlim_cur = used + (rlim_t)cpu;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)
		rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_CPU, &rl);
}

static int
serve_one(int cpu, uint32_t len)
{
	struct message m;
	struct buf packed;
	char err[BOTU_ERRLEN], *raw;
	int rc, r;

	raw = malloc(len > 0 ? len : 1);
	if (raw == NULL) {
		if (skip(len) < 0)
			return -1;
		return reply(WORKER_NOMEM, "out of memory", 13);
	}
	if (fd_read(0, raw, len) < 0) {
		free(raw);
		return -1;
	}
	cpu_budget(cpu);
	rc = message_parse(raw, len, &m, err);
	free(raw);
	if (rc == BOTU_ETEMP)	/* message_parse(): memory ran out */
		return reply(WORKER_NOMEM, err, strlen(err));
	if (rc != BOTU_OK)
		return reply(rc, err, strlen(err));
	buf_init(&packed);
	message_pack(&m, &packed);
	message_clear(&m);
	r = reply(BOTU_OK, packed.s, packed.len);
	buf_free(&packed);
	return r;
}

int
msgworker_main(void)
{
	unsigned char hdr[4];
	int cpu, fd;

	signal(SIGPIPE, SIG_IGN);
	/* nothing of the daemon's (database, sockets) stays open here */
	if (close_range(3, ~0U, 0) < 0)
		for (fd = 3; fd < 1024; fd++)
			close(fd);
	apply_limits(&cpu);
	if (fd_write(1, HELLO, 8) < 0)
		return EX_IOERR;
	for (;;) {
		if (fd_read(0, hdr, 4) < 0)
			return EX_OK;	/* the daemon closed: done */
		if (serve_one(cpu, get_be32(hdr)) < 0)
			return EX_IOERR;
	}
}
