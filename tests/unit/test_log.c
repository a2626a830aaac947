/* Unit tests of the log: one line per event, addresses and tokens. */
#include "testutil.h"

#include "botu/log.h"

#define TOKEN "k7q2m4x9a3b5c6d8e1f0g2h4j6"

static void
test_addresses_masked_or_full(void **state)
{
	(void)state;
	log_init(0, LOG_LEVEL_INFO, 1);
	assert_string_equal(log_addr("piet.jansen@example.org"),
	    "p***@example.org");
	assert_string_equal(log_addr("annerike+bevestig-" TOKEN
	    "@lsabewoners.nl"), "a***@lsabewoners.nl");
	assert_string_equal(log_addr(NULL), "(none)");
	log_init(0, LOG_LEVEL_INFO, 0);
	assert_string_equal(log_addr("piet.jansen@example.org"),
	    "piet.jansen@example.org");
	/* Full addresses, but a token acts for someone: 4 characters. */
	assert_string_equal(log_addr("annerike+bevestig-" TOKEN
	    "@lsabewoners.nl"), "annerike+bevestig-k7q2***@lsabewoners.nl");
	assert_string_equal(log_addr("annerike-afmelden-" TOKEN
	    "@lsabewoners.nl"), "annerike-afmelden-k7q2***@lsabewoners.nl");
	/* Plain details and ordinary long names stay. */
	assert_string_equal(log_addr("annerike+afmelden@lsabewoners.nl"),
	    "annerike+afmelden@lsabewoners.nl");
	assert_string_equal(log_addr("wilhelminavanoranjenassau@example.org"),
	    "wilhelminavanoranjenassau@example.org");
	log_init(0, LOG_LEVEL_INFO, 1);
}

static void
test_trace_lines(void **state)
{
	char line[256];

	(void)state;
	log_init(0, LOG_LEVEL_INFO, 1);
	snprintf(line, sizeof(line), "RCPT TO:<piet@example.org>");
	log_mask_line(line, sizeof(line));
	assert_string_equal(line, "RCPT TO:<p***@example.org>");
	snprintf(line, sizeof(line), "550 5.1.1 <piet@example.org>: "
	    "Recipient address rejected <not an address> <>");
	log_mask_line(line, sizeof(line));
	assert_string_equal(line, "550 5.1.1 <p***@example.org>: Recipient "
	    "address rejected <not an address> <>");
	log_init(0, LOG_LEVEL_INFO, 0);
	snprintf(line, sizeof(line), "MAIL FROM:<annerike+bounce-" TOKEN
	    "@lsabewoners.nl> SIZE=1234");
	log_mask_line(line, sizeof(line));
	assert_string_equal(line, "MAIL FROM:<annerike+bounce-k7q2***"
	    "@lsabewoners.nl> SIZE=1234");
	log_init(0, LOG_LEVEL_INFO, 1);
}

static void
test_one_line_per_event(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	log_set_stream(f);
	log_warnx("subject from outside: %s", "Hallo\r\nBcc: x@example.org");
	log_info("second");
	log_debug("not shown at info level");
	fflush(f);
	assert_string_equal(text, "botu: subject from outside: Hallo  Bcc: "
	    "x@example.org\nbotu: second\n");
	log_set_stream(NULL);
	fclose(f);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses_masked_or_full),
		cmocka_unit_test(test_trace_lines),
		cmocka_unit_test(test_one_line_per_event),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
