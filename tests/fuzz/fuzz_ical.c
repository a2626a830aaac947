/*
 * Fuzzes the calendar reader (libical underneath) that runs on every
 * calendar part in the daemon, and the words of an answer by mail.
 */
#include "fuzz.h"
#include "botu/ical.h"
#include "botu/rsvp.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_string(data, size), *a;
	struct ical_parsed p;
	const char *w;

	if (ical_parse(in, &p) == BOTU_OK) {
		/* Every string is there; attendees are lower case. */
		if (p.method == NULL || p.uid == NULL || p.comment == NULL)
			abort();
		for (size_t i = 0; i < p.nattendees; i++)
			for (a = p.attendees[i].address; *a != '\0'; a++)
				if (*a >= 'A' && *a <= 'Z')
					abort();
		ical_parsed_clear(&p);
	}
	w = rsvp_words(in);
	if (w != NULL && strcmp(w, "ACCEPTED") != 0 &&
	    strcmp(w, "DECLINED") != 0 && strcmp(w, "TENTATIVE") != 0)
		abort();
	a = rsvp_reply_detail(in);
	free(a);
	free(in);
	return 0;
}
