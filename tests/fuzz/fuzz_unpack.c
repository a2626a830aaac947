/* Fuzzes the pipe format between the parse worker and the daemon. */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct message m;
	struct buf b;

	memset(&m, 0, sizeof(m));
	if (message_unpack((const char *)data, size, &m) != BOTU_OK)
		return 0;
	/* What unpacks packs back to the same bytes. */
	buf_init(&b);
	message_pack(&m, &b);
	if (b.len != size || memcmp(b.s, data, size) != 0)
		abort();
	buf_free(&b);
	message_clear(&m);
	return 0;
}
