/*
 * fuzz.h - what the libFuzzer targets share: a message built from fuzz
 * bytes without libetpan (its MIME parser only finds its known crashes
 * in-process; that is what the isolated worker is for), and a config.
 */
#ifndef BOTU_FUZZ_H
#define BOTU_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "botu/config.h"
#include "botu/message.h"
#include "botu/util.h"

/* A NUL-terminated copy of the fuzz input. */
static inline char *
fuzz_string(const uint8_t *data, size_t size)
{
	char *s = xmalloc(size + 1);

	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

static inline struct botu_conf *
fuzz_conf(void)
{
	struct botu_conf *c = conf_defaults();

	free(c->list.address);
	c->list.address = xstrdup("annerike@lsabewoners.nl");
	c->intent.subscribe[LANG_NL] = strv_add(NULL, "doe mee");
	return c;
}

static inline void
add_header(struct message *m, const char *name, const char *value)
{
	m->headers = xrealloc(m->headers, (m->nheaders + 1) *
	    sizeof(*m->headers));
	m->headers[m->nheaders].name = xstrdup(name);
	m->headers[m->nheaders].value = xstrdup(value);
	m->nheaders++;
}

/*
 * Lines before the first empty line are "Name: value" headers; Subject,
 * From, To and Return-Path also fill their fields. The rest is the text.
 */
static inline void
fuzz_message(const char *in, struct message *m)
{
	const char *p = in, *body;
	char *line;

	memset(m, 0, sizeof(*m));
	m->message_id = xstrdup("<fuzz@example.org>");
	m->from.addr = xstrdup("fuzz@example.org");
	m->from.name = xstrdup("");
	m->sender.addr = xstrdup("");
	m->sender.name = xstrdup("");
	m->subject = xstrdup("");
	m->in_reply_to = xstrdup("");
	m->references = xstrdup("");
	m->content_type = xstrdup("text/plain");
	m->calendar_method = xstrdup("");
	body = strstr(in, "\n\n");
	for (; *p != '\0' && (body == NULL || p < body);) {
		size_t n = strcspn(p, "\n");
		char *colon;

		line = xstrndup(p, n);
		colon = strchr(line, ':');
		if (colon != NULL) {
			*colon = '\0';
			char *v = str_trim(colon + 1);

			add_header(m, line, v);
			if (strcasecmp(line, "Subject") == 0) {
				free(m->subject);
				m->subject = xstrdup(v);
			} else if (strcasecmp(line, "From") == 0) {
				free(m->from.addr);
				m->from.addr = xstrdup(v);
			} else if (strcasecmp(line, "Return-Path") == 0) {
				free(m->return_path);
				m->return_path = xstrdup(v);
			} else if (strcasecmp(line, "To") == 0) {
				m->rcpts = xrealloc(m->rcpts, (m->nrcpts + 1) *
				    sizeof(*m->rcpts));
				m->rcpts[m->nrcpts].addr = xstrdup(v);
				m->rcpts[m->nrcpts].name = xstrdup("");
				m->nrcpts++;
			}
		}
		free(line);
		p += n;
		if (*p == '\n')
			p++;
	}
	m->text = xstrdup(body != NULL ? body + 2 : "");
}

#endif
