/* authres.c - see authres.h */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "botu/authres.h"
#include "botu/util.h"

/* The authserv-id: the value's first token, before ";" (RFC 8601 §2.2). */
static int
same_authserv(const char *value, const char *id)
{
	size_t n;

	while (isspace((unsigned char)*value))
		value++;
	n = strcspn(value, "; \t");
	return n == strlen(id) && strncasecmp(value, id, n) == 0;
}

/* Finds "name=" as a whole word in s; returns what follows, or NULL. */
static const char *
find_property(const char *s, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = strcasestr(s, name); p != NULL;
	    p = strcasestr(p + 1, name))
		if ((p == s || strchr(" \t;(", p[-1]) != NULL) && p[n] == '=')
			return p + n + 1;
	return NULL;
}

/* Checks the one "dmarc=" result of a header value. */
static int
dmarc_pass(const char *value, const char *from_domain)
{
	const char *res = find_property(value, "dmarc"), *dom, *end;
	char domain[256];
	size_t n;

	if (res == NULL || strncasecmp(res, "pass", 4) != 0 ||
	    (res[4] != '\0' && strchr(" \t;(", res[4]) == NULL))
		return 0;
	/* Its header.from must be the From domain, when it is given. */
	end = strchr(res, ';');
	dom = find_property(res, "header.from");
	if (dom == NULL || (end != NULL && dom > end))
		return 1;
	n = strcspn(dom, " \t;()");
	if (n >= sizeof(domain))
		return 0;
	memcpy(domain, dom, n);
	domain[n] = '\0';
	return strcasecmp(domain, from_domain) == 0;
}

int
authres_dmarc_pass(const struct message *m, const char *authserv_id)
{
	const struct msg_header *h = NULL;
	const char *at = strrchr(m->from.addr, '@');

	if (authserv_id == NULL || authserv_id[0] == '\0' || at == NULL)
		return 0;
	while ((h = message_header_next(m, "Authentication-Results", h)))
		if (same_authserv(h->value, authserv_id))
			return dmarc_pass(h->value, at + 1);
	return 0;
}
