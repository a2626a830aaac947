/* Fuzzes intent: headers, addresses, subjects and short texts. */
#include "fuzz.h"
#include "botu/authres.h"
#include "botu/classify.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct botu_conf *conf;
	struct sender_facts member = { "active", "en" };
	struct classification c;
	struct message m;
	char *in = fuzz_string(data, size);

	if (conf == NULL)
		conf = fuzz_conf();
	fuzz_message(in, &m);
	classify(conf, &m, size % 2 ? &member : NULL, &c);
	if (intent_name(c.intent)[0] == '?' || c.lang < 0 ||
	    c.lang >= LANG_COUNT)
		abort();
	/* A code is exactly what botu makes, or nothing. */
	if (c.token[0] != '\0' && !classify_is_token(c.token))
		abort();
	classification_clear(&c);
	(void)authres_dmarc_pass(&m, "mx.example.net");
	message_clear(&m);
	free(in);
	return 0;
}
