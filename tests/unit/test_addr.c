/*
 * Unit tests of the list's own addresses: plus-details, code addresses
 * (which classify.c must read back), comparison and lists of addresses.
 */
#include "testutil.h"

#include "botu/addr.h"
#include "botu/config.h"
#include "botu/message.h"
#include "botu/util.h"

static struct botu_conf *
conf_with(const char *address, const char *delimiter)
{
	struct botu_conf *c = conf_defaults();

	free(c->list.address);
	c->list.address = xstrdup(address);
	free(c->list.recipient_delimiter);
	c->list.recipient_delimiter = xstrdup(delimiter);
	return c;
}

static void
test_token_addresses(void **state)
{
	struct botu_conf *c = conf_with("annerike@lsabewoners.nl", "+");
	char *a, *detail = NULL;

	(void)state;
	a = addr_token(c, ADDR_CONFIRM, "abcdefghijklmnopqrstuvwxyz");
	assert_string_equal(a,
	    "annerike+bevestig-abcdefghijklmnopqrstuvwxyz@lsabewoners.nl");
	/* What botu writes, it reads back as the same detail. */
	assert_int_equal(addr_detail(c, a, &detail), 1);
	assert_string_equal(detail, "bevestig-abcdefghijklmnopqrstuvwxyz");
	free(detail);
	free(a);
	a = addr_token(c, ADDR_UNSUBSCRIBE, "");
	assert_string_equal(a, "annerike+afmelden@lsabewoners.nl");
	free(a);
	a = addr_token(c, ADDR_UNSUBSCRIBE, NULL);
	assert_string_equal(a, "annerike+afmelden@lsabewoners.nl");
	free(a);
	conf_free(c);

	c = conf_with("buurt@example.org", "-");
	a = addr_token(c, ADDR_UNSUBSCRIBE, "tok");
	assert_string_equal(a, "buurt-afmelden-tok@example.org");
	free(a);
	conf_free(c);
}

static void
test_address_lists(void **state)
{
	char *mods[] = { "Piet@Example.ORG", "els@example.net", NULL };

	(void)state;
	assert_true(addr_in(mods, "piet@example.org"));
	assert_true(addr_in(mods, "ELS@example.net"));
	assert_false(addr_in(mods, "piet@example.net"));
	assert_false(addr_in(mods, ""));
	assert_false(addr_in(NULL, "piet@example.org"));
}

static void
test_references_of_an_answer(void **state)
{
	struct message m;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.message_id = (char *)"<b@x>";
	m.references = (char *)"<a@x>";
	char *r = message_references(&m);
	assert_string_equal(r, "<a@x> <b@x>");
	free(r);
	m.references = (char *)"";
	r = message_references(&m);
	assert_string_equal(r, "<b@x>");
	free(r);
	m.message_id = (char *)"";
	r = message_references(&m);
	assert_string_equal(r, "");
	free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_addresses),
		cmocka_unit_test(test_address_lists),
		cmocka_unit_test(test_references_of_an_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
