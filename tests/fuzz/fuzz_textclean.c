/* Fuzzes quote, attribution and signature stripping, and subjects. */
#include "fuzz.h"
#include "botu/textclean.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_string(data, size), *own, *core, *subj, prefix;

	own = text_own_words(in);
	core = text_core(own);
	/* Stripping never adds text. */
	if (strlen(own) > size || strlen(core) > strlen(own) + 1)
		abort();
	(void)text_count_words(core);
	subj = text_subject(in, &prefix);
	if (prefix != 0 && prefix != 'r' && prefix != 'f')
		abort();
	free(subj);
	free(core);
	free(own);
	free(in);
	return 0;
}
