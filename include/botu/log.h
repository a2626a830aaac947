/*
 * log.h - one line per event, to stderr (journald adds the time) or syslog.
 *
 * log_warn() and fatal() append strerror(errno) and leave errno as it was;
 * the *x variants do not. fatal*() exit with EX_SOFTWARE after logging.
 */
#ifndef BOTU_LOG_H
#define BOTU_LOG_H

#include <stdio.h>

enum log_level {
	LOG_LEVEL_WARN = 0,
	LOG_LEVEL_INFO = 1,
	LOG_LEVEL_DEBUG = 2,
};

/* Where lines go: syslog (facility mail) or stderr; stderr is the default. */
void	log_init(int to_syslog, enum log_level level, int mask_addresses);
/* Tests: send lines to a stream instead (NULL restores stderr). */
void	log_set_stream(FILE *);
void	log_set_level(enum log_level);
int	log_debug_enabled(void);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * An e-mail address as the log shows it: "a***@example.org" unless the
 * configuration asks for full addresses; even then a token in it shows
 * only its first 4 characters ("a+bevestig-k7q2***@example.org"). The
 * result is borrowed: valid until the same thread has made four more
 * calls.
 */
const char *log_addr(const char *);

/*
 * In a protocol trace line (size bytes), writes each <address> as
 * log_addr() does, in place. With full addresses, a token in an address
 * (+bevestig-TOKEN, +afmelden-TOKEN) keeps only its first 4 characters.
 */
void	log_mask_line(char *line, size_t size);

#endif
