/* Fuzzes address checks and the list's plus-address reading. */
#include "fuzz.h"
#include "botu/addr.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct botu_conf *conf;
	char *in = fuzz_string(data, size), *detail = NULL;

	if (conf == NULL)
		conf = fuzz_conf();
	if (str_is_address(in) && (strchr(in, ' ') || strchr(in, '\n') ||
	    strlen(in) > 254))
		abort();
	if (addr_detail(conf, in, &detail)) {
		/* A detail is lower case and never brings an @. */
		for (char *p = detail; *p != '\0'; p++)
			if ((*p >= 'A' && *p <= 'Z') || *p == '@')
				abort();
		free(detail);
	}
	free(in);
	return 0;
}
