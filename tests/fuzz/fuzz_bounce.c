/*
 * Fuzzes delivery reports: the gate, the DSN fields (RFC 3464), ARF
 * complaints, returned headers and the words of text bounces. The input is
 * a mail (as fuzz_message reads it) and then, each after a line "--", the
 * delivery-status part, the returned headers, the feedback report and the
 * headers of an attached message.
 */
#include "fuzz.h"
#include "botu/bounce.h"

/* The next chunk of *p up to a line "--"; *p moves past it. */
static char *
chunk(char **p)
{
	char *s = *p, *sep;

	if (s == NULL)
		return NULL;
	sep = strstr(s, "\n--\n");
	if (sep == NULL) {
		*p = NULL;
		return xstrdup(s);
	}
	*p = sep + 4;
	return xstrndup(s, (size_t)(sep - s));
}

static void
check(const struct bounce_report *r)
{
	if (r->format == BOUNCE_FORMAT_NONE && r->nrcpts != 0)
		abort();
	for (size_t i = 0; i < r->nrcpts; i++) {
		const struct bounce_rcpt *a = &r->rcpts[i];

		if (a->address == NULL || a->address[0] == '\0' ||
		    a->diagnostic == NULL)
			abort();
		if (strcmp(a->action, "failed") != 0 &&
		    strcmp(a->action, "delayed") != 0 &&
		    strcmp(a->action, "complaint") != 0)
			abort();
		/* Recipients are unique, whatever their case. */
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(a->address, r->rcpts[j].address) == 0)
				abort();
		(void)bounce_class_name(bounce_classify(a->status,
		    a->diagnostic));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bounce_report r;
	struct message m;
	char *in = fuzz_string(data, size), *p = in, *mail, status[16];

	mail = chunk(&p);
	fuzz_message(mail, &m);
	m.dsn = chunk(&p);
	m.returned_headers = chunk(&p);
	m.feedback = chunk(&p);
	m.attached_headers = chunk(&p);
	(void)bounce_looks_like(&m);
	bounce_parse(&m, &r);
	check(&r);
	bounce_report_clear(&r);
	if (bounce_find_status(m.text, status, sizeof(status)) &&
	    memchr(status, '\0', sizeof(status)) == NULL)
		abort();
	message_clear(&m);
	free(mail);
	free(in);
	return 0;
}
