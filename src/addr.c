/* addr.c - see addr.h */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "botu/addr.h"
#include "botu/util.h"

const char *
addr_domain(const struct botu_conf *c)
{
	const char *at = strrchr(c->list.address, '@');

	return at != NULL ? at + 1 : "";
}

char *
addr_plus(const struct botu_conf *c, const char *detail)
{
	const char *at = strrchr(c->list.address, '@');
	int local = (int)(at - c->list.address);

	if (detail == NULL || detail[0] == '\0')
		return xstrdup(c->list.address);
	return xasprintf("%.*s%s%s%s", local, c->list.address,
	    c->list.recipient_delimiter, detail, at);
}

char *
addr_token(const struct botu_conf *c, const char *kind, const char *token)
{
	char *detail, *a;

	if (token == NULL || token[0] == '\0')
		return addr_plus(c, kind);
	detail = xasprintf("%s-%s", kind, token);
	a = addr_plus(c, detail);
	free(detail);
	return a;
}

int
addr_detail(const struct botu_conf *c, const char *addr, char **detail)
{
	const char *list_at = strrchr(c->list.address, '@');
	const char *at = strrchr(addr, '@');
	size_t local = (size_t)(list_at - c->list.address);
	size_t alen;

	*detail = NULL;
	if (at == NULL || strcasecmp(at, list_at) != 0)
		return 0;
	alen = (size_t)(at - addr);
	/* "a+x@y@domain" is not an address, whatever its last @ says. */
	if (alen < local || memchr(addr, '@', alen) != NULL ||
	    strncasecmp(addr, c->list.address, local) != 0)
		return 0;
	if (alen == local) {
		*detail = xstrdup("");
		return 1;
	}
	if (addr[local] != c->list.recipient_delimiter[0] || alen == local + 1)
		return 0;
	*detail = str_lower(xstrndup(addr + local + 1, alen - local - 1));
	return 1;
}

int
addr_equal(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

int
addr_in(char *const *list, const char *addr)
{
	for (; list != NULL && *list != NULL; list++)
		if (addr_equal(*list, addr))
			return 1;
	return 0;
}
