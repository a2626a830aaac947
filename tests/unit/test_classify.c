/* Unit tests of classify: rules that the intent table does not pin. */
#include "testutil.h"

#include "botu/authres.h"
#include "botu/classify.h"
#include "botu/config.h"
#include "botu/message.h"
#include "botu/util.h"

static struct botu_conf *
conf_for_tests(void)
{
	struct botu_conf *c = conf_defaults();

	free(c->list.address);
	c->list.address = xstrdup("annerike@lsabewoners.nl");
	return c;
}

/* Parses a mail written with LF line ends. */
static void
parse(const char *text, struct message *m)
{
	char err[BOTU_ERRLEN];

	assert_int_equal(message_parse(text, strlen(text), m, err), BOTU_OK);
}

static enum intent
intent_of(const struct botu_conf *c, const char *mail,
    const struct sender_facts *f, int *lang)
{
	struct classification cl;
	struct message m = { 0 };
	enum intent i;

	parse(mail, &m);
	classify(c, &m, f, &cl);
	i = cl.intent;
	if (lang != NULL)
		*lang = cl.lang;
	classification_clear(&cl);
	message_clear(&m);
	return i;
}

#define HDR "From: Piet <piet@example.org>\nTo: annerike@lsabewoners.nl\n"

static void
test_extra_keywords(void **state)
{
	struct botu_conf *c = conf_for_tests();
	int lang;

	(void)state;
	assert_int_equal(intent_of(c, HDR "Subject: doe mee\n\nx\n", NULL,
	    NULL), INTENT_LEAVE_ALONE);
	c->intent.subscribe[LANG_NL] = strv_add(NULL, "Doe mee!");
	c->intent.unsubscribe[LANG_EN] = strv_add(NULL, "stop sending");
	assert_int_equal(intent_of(c, HDR "Subject: Doe mee\n\n\n", NULL,
	    &lang), INTENT_SUBSCRIBE);
	assert_int_equal(lang, LANG_NL);
	assert_int_equal(intent_of(c, HDR "Subject: x\n\nStop sending.\n",
	    NULL, &lang), INTENT_UNSUBSCRIBE);
	assert_int_equal(lang, LANG_EN);
	conf_free(c);
}

static void
test_automatic_never_acts(void **state)
{
	static const char *const mails[] = {
		HDR "Subject: Aanmelden\nAuto-Submitted: auto-replied\n\nx\n",
		HDR "Subject: Aanmelden\nPrecedence: bulk\n\nx\n",
		HDR "Subject: Aanmelden\nList-Id: <x.example.org>\n\nx\n",
		HDR "Subject: Aanmelden\nX-Autoreply: yes\n\nx\n",
		HDR "Subject: Out of Office: Aanmelden\n\nx\n",
		HDR "Subject: Aanmelden\n"
		    "X-Loop: annerike@lsabewoners.nl\n\nx\n",
		"From: noreply@example.org\nTo: annerike@lsabewoners.nl\n"
		    "Subject: Aanmelden\n\nx\n",
		"Return-Path: <>\n" HDR "Subject: Aanmelden\n\nx\n",
		/* An out-of-office answering a confirmation request. */
		"From: p@example.org\nTo: annerike+bevestig-"
		    "abcdefghijklmnopqrstuvwxyz@lsabewoners.nl\n"
		    "Auto-Submitted: auto-replied\nSubject: Re: x\n\nweg\n",
	};
	struct botu_conf *c = conf_for_tests();

	(void)state;
	for (size_t i = 0; i < NELEM(mails); i++) {
		enum intent got = intent_of(c, mails[i], NULL, NULL);

		if (got != INTENT_AUTOMATIC)
			fail_msg("mail %zu: %s", i, intent_name(got));
	}
	conf_free(c);
}

/* Reports: by their parts, by their sender or subject, by the address. */
static void
test_reports(void **state)
{
	static const struct {
		const char	*mail;
		enum intent	 want;
	} cases[] = {
		/* mail to a bounce address is a report, whatever it says */
		{ "From: Jan <jan@example.org>\n"
		    "To: annerike+bounce-b-abcdefghijklm@lsabewoners.nl\n"
		    "Subject: Aanmelden\n\nIk wil me aanmelden\n",
		    INTENT_BOUNCE },
		{ "Delivered-To: annerike+Bounce-b-abcdefghijklm@lsabewoners.nl"
		    "\nFrom: MAILER-DAEMON@x.example\nTo: x@y.example\n"
		    "Subject: x\n\nx\n", INTENT_BOUNCE },
		/* a qmail report without standard parts */
		{ "From: MAILER-DAEMON@mx.example.org\n"
		    "To: annerike@lsabewoners.nl\nSubject: failure notice\n\n"
		    "<weg@example.org>:\nSorry, no mailbox here.\n",
		    INTENT_BOUNCE },
		/* Exchange in Dutch, from a person-like sender */
		{ "From: Microsoft Outlook <MicrosoftExchange@example.org>\n"
		    "To: annerike@lsabewoners.nl\n"
		    "Subject: Onbestelbaar: Buurtnieuws\n\nx\n",
		    INTENT_BOUNCE },
		/* an out-of-office from the postmaster is still automatic */
		{ "From: postmaster@example.org\n"
		    "To: annerike@lsabewoners.nl\n"
		    "Subject: Automatisch antwoord: Buurtnieuws\n\nx\n",
		    INTENT_AUTOMATIC },
		/* another +detail, and a read receipt, are no reports */
		{ "From: Jan <jan@example.org>\n"
		    "To: annerike+bouncer@lsabewoners.nl\n"
		    "Subject: hoi\n\nhoi\n", INTENT_LEAVE_ALONE },
	};
	struct botu_conf *c = conf_for_tests();

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++)
		if (intent_of(c, cases[i].mail, NULL, NULL) != cases[i].want)
			fail_msg("case %zu: %s, not %s", i, intent_name(
			    intent_of(c, cases[i].mail, NULL, NULL)),
			    intent_name(cases[i].want));
	conf_free(c);
}

static void
test_confirmation_codes(void **state)
{
	struct botu_conf *c = conf_for_tests();
	struct classification cl;
	struct message m = { 0 };

	(void)state;
	parse("From: p@example.org\nTo: Annerike+Bevestig-"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ@lsabewoners.nl\nSubject: Re: x\n\n"
	    "Ja!\n", &m);
	classify(c, &m, NULL, &cl);
	assert_int_equal(cl.intent, INTENT_CONFIRM);
	assert_string_equal(cl.token, "abcdefghijklmnopqrstuvwxyz");
	assert_int_equal(cl.channel, CHANNEL_TOKEN_ADDRESS);
	classification_clear(&cl);
	message_clear(&m);

	/* A code in the subject of a reply to the plain address. */
	assert_int_equal(intent_of(c, HDR "Subject: Re: Bevestig je "
	    "aanmelding [abcdefghijklmnopqrstuvwx23]\n\n\n", NULL, NULL),
	    INTENT_CONFIRM);
	/* Not a code: wrong length, or characters base32 does not have. */
	assert_int_equal(intent_of(c, HDR "Subject: Re: x [abc]\n\n\n", NULL,
	    NULL), INTENT_LEAVE_ALONE);
	assert_int_equal(intent_of(c, HDR "Subject: Re: x "
	    "[abcdefghijklmnopqrstuvwx18]\n\n\n", NULL, NULL),
	    INTENT_LEAVE_ALONE);
	/* A person who says no does not confirm. */
	assert_int_equal(intent_of(c, HDR "Subject: Re: x "
	    "[abcdefghijklmnopqrstuvwxyz]\n\nNee, dit heb ik niet "
	    "aangevraagd.\n", NULL, NULL), INTENT_LEAVE_ALONE);
	conf_free(c);
}

static void
test_ps_subject_only_for_members(void **state)
{
	struct sender_facts member = { "active", "nl" };
	struct sender_facts left = { "unsubscribed", "nl" };
	struct botu_conf *c = conf_for_tests();
	const char *mail = HDR "Subject: PS: bijlage vergeten\n\nHier.\n";

	(void)state;
	assert_int_equal(intent_of(c, mail, NULL, NULL), INTENT_LEAVE_ALONE);
	assert_int_equal(intent_of(c, mail, &left, NULL), INTENT_LEAVE_ALONE);
	assert_int_equal(intent_of(c, mail, &member, NULL),
	    INTENT_NOTE_QUESTION);
	conf_free(c);
}

static void
test_language(void **state)
{
	struct sender_facts en_member = { "active", "en" };
	struct botu_conf *c = conf_for_tests();
	int lang;

	(void)state;
	/* The keyword says which language; else the member's; else the
	 * list's. */
	intent_of(c, HDR "Subject: Help\n\n\n", NULL, &lang);
	assert_int_equal(lang, LANG_NL);
	intent_of(c, HDR "Subject: Help\n\n\n", &en_member, &lang);
	assert_int_equal(lang, LANG_EN);
	intent_of(c, HDR "Subject: Hulp\n\n\n", &en_member, &lang);
	assert_int_equal(lang, LANG_NL);
	c->list.language = LANG_EN;
	intent_of(c, HDR "Subject: Help\n\n\n", NULL, &lang);
	assert_int_equal(lang, LANG_EN);
	conf_free(c);
}

static void
test_authentication_results(void **state)
{
	struct message m = { 0 };

	(void)state;
	/* Only the topmost header of the trusted server counts. */
	parse("Authentication-Results: mx.example.net; dmarc=pass "
	    "header.from=example.org\n"
	    "Authentication-Results: mx.example.net; dmarc=fail\n" HDR
	    "Subject: x\n\nx\n", &m);
	assert_int_equal(authres_dmarc_pass(&m, "mx.example.net"), 1);
	assert_int_equal(authres_dmarc_pass(&m, "other.example"), 0);
	assert_int_equal(authres_dmarc_pass(&m, ""), 0);
	message_clear(&m);
	parse("Authentication-Results: mx.example.net; dmarc=fail\n"
	    "Authentication-Results: mx.example.net; dmarc=pass\n" HDR
	    "Subject: x\n\nx\n", &m);
	assert_int_equal(authres_dmarc_pass(&m, "mx.example.net"), 0);
	message_clear(&m);
	/* A pass for another domain than From's is no pass. */
	parse("Authentication-Results: mx.example.net; dmarc=pass "
	    "header.from=evil.example\n" HDR "Subject: x\n\nx\n", &m);
	assert_int_equal(authres_dmarc_pass(&m, "mx.example.net"), 0);
	message_clear(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extra_keywords),
		cmocka_unit_test(test_automatic_never_acts),
		cmocka_unit_test(test_reports),
		cmocka_unit_test(test_confirmation_codes),
		cmocka_unit_test(test_ps_subject_only_for_members),
		cmocka_unit_test(test_language),
		cmocka_unit_test(test_authentication_results),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
