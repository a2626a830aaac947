/* Unit tests of stripping quotes, attributions and signatures. */
#include "testutil.h"

#include "botu/textclean.h"

struct own_case {
	const char *body;
	const char *own;
};

/* Replies as mail programs write them, in Dutch and English. */
static const struct own_case own_cases[] = {
	{ "Ik wil graag op de hoogte blijven!\n\n"
	  "Op di 10 dec. 2026 om 19:30 schreef Annerike "
	  "<annerike@lsabewoners.nl>:\n"
	  "> Hoi!\n> Aanmelden kan hier.\n",
	  "Ik wil graag op de hoogte blijven!" },
	{ "Ja graag\n\nOp di 10 dec. 2026 om 19:30 schreef Annerike <\n"
	  "annerike@lsabewoners.nl>:\n\n> tekst\n",
	  "Ja graag" },
	{ "Keep me posted\n\nOn Tue, Dec 8, 2026 at 7:30 PM Annerike "
	  "<annerike@lsabewoners.nl> wrote:\n> text\n",
	  "Keep me posted" },
	{ "Bedankt!\n\nVerstuurd vanaf mijn iPhone\n\nOp 8 dec. 2026 om "
	  "19:30 heeft Annerike <annerike@lsabewoners.nl> het volgende "
	  "geschreven:\n\n> tekst\n",
	  "Bedankt!" },
	{ "Aanmelden graag\r\n\r\n-----Oorspronkelijk bericht-----\r\n"
	  "Van: Annerike\r\nVerzonden: dinsdag 8 december 2026\r\n",
	  "Aanmelden graag" },
	{ "Graag!\n\n________________________________\nVan: Annerike "
	  "<annerike@lsabewoners.nl>\nVerzonden: dinsdag 8 december 2026 "
	  "19:30\nAan: Piet\nOnderwerp: Bevestig\n\ntekst\n",
	  "Graag!" },
	{ "Zie hieronder\n\n---------- Forwarded message ---------\n"
	  "From: Piet <piet@example.org>\nSubject: Aanmelden\n\nAanmelden\n",
	  "Zie hieronder" },
	{ "Meld me aan\n-- \nPiet Jansen\nBewonersvereniging\n",
	  "Meld me aan" },
	{ "> quoted first\n\nmy answer below\n", "my answer below" },
	{ "\n\n  Hoi  \n\n", "Hoi" },
	{ "", "" },
};

static void
test_own_words(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(own_cases) / sizeof(own_cases[0]);
	    i++) {
		char *got = text_own_words(own_cases[i].body);

		if (strcmp(got, own_cases[i].own) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, got,
			    own_cases[i].own);
		free(got);
	}
}

static void
test_core(void **state)
{
	static const struct own_case cases[] = {
		{ "Hoi Annerike,\n\nIk wil graag op de hoogte blijven!\n\n"
		  "Groetjes,\nPiet", "ik wil graag op de hoogte blijven" },
		{ "Dear Annerike,\nPlease subscribe me.\nKind regards,\n"
		  "John Smith", "please subscribe me" },
		{ "Aanmelden\nPiet Jansen", "aanmelden" },
		{ "Hallo,\nHoud me op de hoogte.\nMet vriendelijke groet,\n"
		  "Fatima el Amrani\nGemeente Rotterdam",
		  "houd me op de hoogte" },
		{ "Ik wil me aanmelden voor de buurtborrel.\nTot vrijdag!",
		  "ik wil me aanmelden voor de buurtborrel tot vrijdag" },
		{ "Hoi", "" },
		{ "Thanks!", "" },
		{ "Ik wil me graag aanmelden 😊👍🏽",
		  "ik wil me graag aanmelden" },
		{ "“Houd me op de hoogte” — graag…",
		  "houd me op de hoogte graag" },
		{ "Ça va, één café?", "ça va één café" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = text_core(cases[i].body);

		if (strcmp(got, cases[i].own) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, got,
			    cases[i].own);
		free(got);
	}
}

static void
test_subject(void **state)
{
	static const struct {
		const char *subject, *want;
		char prefix;
	} cases[] = {
		{ "Aanmelden", "aanmelden", 0 },
		{ "Re: Aanmelden", "aanmelden", 'r' },
		{ "RE: Antw: aanmelden!", "aanmelden", 'r' },
		{ "Fwd: Aanmelden", "aanmelden", 'f' },
		{ "Re: Fwd: Aanmelden", "aanmelden", 'f' },
		{ "Doorst: hulp", "hulp", 'f' },
		{ "[BoTu] Help?", "help", 0 },
		{ "Re[2]: Subscribe", "subscribe", 'r' },
		{ "Reactie op artikel", "reactie op artikel", 0 },
		{ "", "", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char prefix = 'x', *got = text_subject(cases[i].subject,
		    &prefix);

		if (strcmp(got, cases[i].want) != 0 ||
		    prefix != cases[i].prefix)
			fail_msg("case %zu: got '%s'/%d, want '%s'/%d", i, got,
			    prefix, cases[i].want, cases[i].prefix);
		free(got);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_words),
		cmocka_unit_test(test_core),
		cmocka_unit_test(test_subject),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
