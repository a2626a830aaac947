/*
 * msgworker.h - parses mail in a separate process with limits, so that a
 * crafted message can crash or stall only that process (LIBRARIES.md §2.5).
 *
 * The worker is a long-lived child (botu's own binary, started as
 * "botu parse-worker", never forked per message) that reads raw messages
 * from a pipe and writes message_pack()ed results back. It runs with a CPU
 * limit, an address-space limit (skipped under AddressSanitizer, which
 * reserves huge address space), no core dumps, and the daemon gives it a
 * wall-clock deadline per message; it is replaced after a number of
 * messages to bound any leak in the library.
 */
#ifndef BOTU_MSGWORKER_H
#define BOTU_MSGWORKER_H

#include <stddef.h>

#include "botu/err.h"
#include "botu/message.h"

struct msgworker_limits {
	/* octets; bigger messages are not parsed */
	size_t	max_size;
	int	cpu_seconds;	/* CPU per message (RLIMIT_CPU) */
	size_t	memory;		/* RLIMIT_AS, octets */
	int	deadline_ms;	/* wall clock per message */
	int	messages;	/* restart the worker after this many */
};

/* Sensible defaults: 25 MiB, 10 s CPU, 1 GiB, 20 s, 500 messages. */
extern const struct msgworker_limits msgworker_default_limits;

struct msgworker;

/*
 * exe is the botu binary to start ("/proc/self/exe" in the daemon; tests
 * pass the path of the one they built). The process starts on first use.
 * BOTU_PARSE_WORKER=/path in the environment replaces "/proc/self/exe"
 * (make valgrind: under valgrind that link names valgrind).
 */
struct msgworker *msgworker_new(const char *exe,
	    const struct msgworker_limits *);
void	msgworker_free(struct msgworker *);	/* ends the worker */

/*
 * Parses raw in the worker. BOTU_OK with *out filled; BOTU_EPOISON when the
 * message made the worker die or exceed a limit (err names it: "killed by
 * signal 11", "took longer than 20 s", "larger than 25 MiB"), after which
 * the next call starts a fresh worker; BOTU_EDATA when it is not a mail;
 * BOTU_ETEMP when the worker could not be started.
 */
int	msgworker_parse(struct msgworker *, const char *raw, size_t len,
	    struct message *out, char err[BOTU_ERRLEN]);

/*
 * The worker's side: the main loop of "botu parse-worker" on stdin and
 * stdout, after applying the limits passed in its environment. Returns the
 * exit status.
 */
int	msgworker_main(void);

#endif
