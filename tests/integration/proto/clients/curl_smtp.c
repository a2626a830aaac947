/*
 * curl_smtp.c - a reference libcurl SMTP client for the proto servers.
 *
 * Not botu code: it follows LIBRARIES.md 3.1/3.3 (one easy handle, STARTTLS
 * required, the test CA as CAINFO, AUTH as user "bot") so that
 * tests/integration/test_proto_clients.py can prove the ready scripts in
 * ../scripts/ match what libcurl 7.88.1 really sends.
 *
 * usage: curl_smtp URL CAFILE NMSGS RCPT...
 *   Sends NMSGS copies of a small message, one transfer each, to RCPT...
 *   Prints "msg I rc=N code=N connects=N" after each transfer.
 *   RETRY421=1 in the environment: after a 421 retry once on a fresh
 *   connection, as LIBRARIES.md 3.3 advises, and print "retry I rc=...".
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct src {
	const char	*p;
	size_t		 left;
};

static const char msg[] =
    "From: <bot@example.org>\r\n"
    "To: <a@example.org>\r\n"
    "Subject: proto\r\n"
    "\r\n"
    "hello\r\n"
    ".dot\r\n";

static size_t
read_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct src *s = arg;
	size_t k = size * n < s->left ? size * n : s->left;

	memcpy(buf, s->p, k);
	s->p += k;
	s->left -= k;
	return k;
}

/* One transfer; returns the last SMTP reply code. */
static long
send_one(CURL *c, const char *what, int i)
{
	struct src s = { msg, sizeof(msg) - 1 };
	long code = 0, connects = 0;
	CURLcode rc;

	curl_easy_setopt(c, CURLOPT_READDATA, &s);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
	printf("%s %d rc=%d code=%ld connects=%ld\n", what, i, (int)rc, code,
	    connects);
	fflush(stdout);
	return code;
}

int
main(int argc, char **argv)
{
	struct curl_slist *rcpts = NULL;
	CURL *c = NULL;
	int i, n;

	if (argc < 5) {
		fprintf(stderr, "usage: curl_smtp URL CAFILE NMSGS RCPT...\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);	/* NOSIGNAL below: LIBRARIES.md 3.6 */
	n = atoi(argv[3]);
	for (i = 4; i < argc; i++)
		rcpts = curl_slist_append(rcpts, argv[i]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, argv[1]);
	curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	curl_easy_setopt(c, CURLOPT_CAINFO, argv[2]);
	curl_easy_setopt(c, CURLOPT_USERNAME, "bot");
	curl_easy_setopt(c, CURLOPT_PASSWORD, "secret");
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, "<bot@example.org>");
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
	    (curl_off_t)(sizeof(msg) - 1));
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	for (i = 0; i < n; i++) {
		/* A stale kept-alive connection shows up as a 421 reply to
		 * MAIL: retry once, at once, on a new connection. */
		if (send_one(c, "msg", i) == 421 &&
		    getenv("RETRY421") != NULL) {
			curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
			send_one(c, "retry", i);
			curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 0L);
		}
	}
	curl_easy_cleanup(c);		/* sends QUIT on a live connection */
	curl_slist_free_all(rcpts);
	curl_global_cleanup();
	return 0;
}
