/* Fuzzes header writing: no input may add a header or break a line. */
#include "fuzz.h"
#include "botu/compose.h"

/* Every physical line ends in CRLF, is at most 998 octets, and only the
 * first starts without white space (a folded header is one header). */
static void
check_one_header(const struct buf *b)
{
	const char *p = b->s;
	int first = 1;

	while (*p != '\0') {
		const char *nl = strstr(p, "\r\n");

		if (nl == NULL || nl - p > 998 || memchr(p, '\n', (size_t)(nl -
		    p)) != NULL || memchr(p, '\r', (size_t)(nl - p)) != NULL)
			abort();
		if (!first && *p != ' ' && *p != '\t')
			abort();
		first = 0;
		p = nl + 2;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_string(data, size);
	struct buf b;

	buf_init(&b);
	compose_header(&b, "Subject", in);
	check_one_header(&b);
	buf_truncate(&b, 0);
	compose_address_header(&b, "To", in, "piet@example.org");
	check_one_header(&b);
	buf_truncate(&b, 0);
	compose_qp(&b, in);
	buf_free(&b);
	free(in);
	return 0;
}
