/*
 * Unit tests of message.c: realistic mail as Gmail, Outlook and Apple Mail
 * send it, bounces and invitations, the repairs for broken mail, the
 * pre-check for libetpan's known killers, and pack/unpack with fuzzing.
 */
#include "testutil.h"

#include <stdint.h>
#include <time.h>

#include "botu/message.h"
#include "botu/util.h"

/* 1 when s is valid UTF-8 (no overlongs, surrogates, > U+10FFFF). */
static int
valid_utf8(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k, j;

	while (u[i] != '\0') {
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		if (u[i] >= 0xc2 && u[i] <= 0xdf)
			k = 2;
		else if (u[i] >= 0xe0 && u[i] <= 0xef)
			k = 3;
		else if (u[i] >= 0xf0 && u[i] <= 0xf4)
			k = 4;
		else
			return 0;
		for (j = 1; j < k; j++)
			if ((u[i + j] & 0xc0) != 0x80)
				return 0;
		if ((u[i] == 0xe0 && u[i + 1] < 0xa0) ||
		    (u[i] == 0xed && u[i + 1] >= 0xa0) ||
		    (u[i] == 0xf0 && u[i + 1] < 0x90) ||
		    (u[i] == 0xf4 && u[i + 1] >= 0x90))
			return 0;
		i += k;
	}
	return 1;
}

static void
check_str(const char *what, const char *s, int nullable)
{
	if (s == NULL) {
		if (!nullable)
			fail_msg("%s is NULL", what);
		return;
	}
	if (!valid_utf8(s))
		fail_msg("%s is not valid UTF-8: '%s'", what, s);
}

/* Every string of m: set where it must be, and valid UTF-8. */
static void
check_message(const struct message *m)
{
	size_t i;

	for (i = 0; i < m->nheaders; i++) {
		check_str("header name", m->headers[i].name, 0);
		check_str("header value", m->headers[i].value, 0);
	}
	check_str("message_id", m->message_id, 0);
	check_str("from.addr", m->from.addr, 0);
	check_str("from.name", m->from.name, 0);
	check_str("sender.addr", m->sender.addr, 0);
	check_str("sender.name", m->sender.name, 0);
	for (i = 0; i < m->nreply_to; i++) {
		check_str("reply_to.addr", m->reply_to[i].addr, 0);
		check_str("reply_to.name", m->reply_to[i].name, 0);
	}
	for (i = 0; i < m->nrcpts; i++) {
		check_str("rcpt.addr", m->rcpts[i].addr, 0);
		check_str("rcpt.name", m->rcpts[i].name, 0);
	}
	check_str("return_path", m->return_path, 1);
	check_str("subject", m->subject, 0);
	check_str("in_reply_to", m->in_reply_to, 0);
	check_str("references", m->references, 0);
	check_str("text", m->text, 0);
	check_str("content_type", m->content_type, 0);
	check_str("calendar", m->calendar, 1);
	check_str("calendar_method", m->calendar_method, 0);
	check_str("dsn", m->dsn, 1);
	check_str("returned_headers", m->returned_headers, 1);
	check_str("attached_headers", m->attached_headers, 1);
	check_str("feedback", m->feedback, 1);
}

static void
parse_ok(const char *raw, struct message *m)
{
	char err[BOTU_ERRLEN];
	int rc = message_parse(raw, strlen(raw), m, err);

	if (rc != BOTU_OK)
		fail_msg("message_parse: %d %s", rc, err);
	check_message(m);
}

#define GMAIL_NL \
	"Delivered-To: annerike@lsabewoners.nl\r\n" \
	"Received: by 2002:a05:6a10:b6c4:b0:4c2:3b1f with SMTP id x4csp;\r\n" \
	"        Tue, 10 Dec 2024 10:31:02 -0800 (PST)\r\n" \
	"Return-Path: <fatma.yilmaz@gmail.com>\r\n" \
	"MIME-Version: 1.0\r\n" \
	"References: <20241209.botu.17@lsabewoners.nl>\r\n" \
	"In-Reply-To: <20241209.botu.17@lsabewoners.nl>\r\n" \
	"From: =?UTF-8?Q?Fatma_Y=C4=B1lmaz?= <fatma.yilmaz@gmail.com>\r\n" \
	"Date: Tue, 10 Dec 2024 19:30:00 +0100\r\n" \
	"Message-ID: <CAF3x=abc+Q@mail.gmail.com>\r\n" \
	"Subject: Re: Buurtborrel op\r\n" \
	" =?UTF-8?Q?vrijdag_=E2=80=93_wie_komt=3F?=\r\n" \
	"To: Annerike <annerike+aanmelden@lsabewoners.nl>\r\n" \
	"Cc: \"de Vries, Jan\" <jan@example.nl>, piet@example.nl\r\n" \
	"Content-Type: multipart/alternative; " \
	"boundary=\"000000000000a1b2c3\"\r\n" \
	"\r\n" \
	"--000000000000a1b2c3\r\n" \
	"Content-Type: text/plain; charset=\"UTF-8\"\r\n" \
	"Content-Transfer-Encoding: quoted-printable\r\n" \
	"\r\n" \
	"Ik kom graag! Ik neem een taart mee voor de buren =F0=9F=8E=82\r\n" \
	"\r\n" \
	"Op di 10 dec 2024 om 09:12 schreef Annerike " \
	"<annerike@lsabewoners.nl>:\r\n" \
	"\r\n" \
	"> Beste buren,\r\n" \
	"> Wie komt er vrijdag naar de borrel?\r\n" \
	"\r\n" \
	"--000000000000a1b2c3\r\n" \
	"Content-Type: text/html; charset=\"UTF-8\"\r\n" \
	"Content-Transfer-Encoding: quoted-printable\r\n" \
	"\r\n" \
	"<div dir=3D\"ltr\">Ik kom graag! HTML</div>\r\n" \
	"\r\n" \
	"--000000000000a1b2c3--\r\n"

static void
test_gmail_reply(void **state)
{
	struct message m;

	(void)state;
	parse_ok(GMAIL_NL, &m);
	assert_string_equal(m.from.addr, "fatma.yilmaz@gmail.com");
	assert_string_equal(m.from.name, "Fatma Y\xc4\xb1lmaz");
	assert_string_equal(m.sender.addr, "");
	assert_string_equal(m.subject,
	    "Re: Buurtborrel op vrijdag \xe2\x80\x93 wie komt?");
	assert_string_equal(m.message_id, "<CAF3x=abc+Q@mail.gmail.com>");
	assert_string_equal(m.in_reply_to, "<20241209.botu.17@lsabewoners.nl>");
	assert_string_equal(m.references, "<20241209.botu.17@lsabewoners.nl>");
	assert_string_equal(m.return_path, "fatma.yilmaz@gmail.com");
	assert_int_equal(m.date, 1733855400);
	assert_int_equal(m.nrcpts, 3);
	assert_string_equal(m.rcpts[0].addr,
	    "annerike+aanmelden@lsabewoners.nl");
	assert_string_equal(m.rcpts[0].name, "Annerike");
	assert_string_equal(m.rcpts[1].addr, "jan@example.nl");
	assert_string_equal(m.rcpts[1].name, "de Vries, Jan");
	assert_string_equal(m.rcpts[2].addr, "piet@example.nl");
	assert_string_equal(m.rcpts[2].name, "");
	assert_string_equal(m.content_type, "multipart/alternative");
	assert_int_equal(m.text_from_html, 0);
	assert_int_equal(m.has_attachments, 0);
	assert_null(m.calendar);
	assert_null(m.dsn);
	assert_null(m.returned_headers);
	assert_string_equal(m.text,
	    "Ik kom graag! Ik neem een taart mee voor de buren "
	    "\xf0\x9f\x8e\x82\n\n"
	    "Op di 10 dec 2024 om 09:12 schreef Annerike "
	    "<annerike@lsabewoners.nl>:\n\n"
	    "> Beste buren,\n"
	    "> Wie komt er vrijdag naar de borrel?\n");
	/* headers: in order, unfolded, not decoded */
	assert_string_equal(m.headers[0].name, "Delivered-To");
	assert_string_equal(message_header(&m, "received"),
	    "by 2002:a05:6a10:b6c4:b0:4c2:3b1f with SMTP id x4csp;"
	    "        Tue, 10 Dec 2024 10:31:02 -0800 (PST)");
	assert_string_equal(message_header(&m, "FROM"),
	    "=?UTF-8?Q?Fatma_Y=C4=B1lmaz?= <fatma.yilmaz@gmail.com>");
	assert_null(message_header(&m, "X-Loop"));
	message_clear(&m);
}

/* Outlook: windows-1252 quotes in a part labelled iso-8859-1. */
#define OUTLOOK_NL \
	"From: \"Jansen, Piet\" <P.Jansen@gemeente.example.nl>\r\n" \
	"To: \"annerike@lsabewoners.nl\" <annerike@lsabewoners.nl>\r\n" \
	"Subject: RE: Aanmelden nieuwsbrief\r\n" \
	"Thread-Topic: Aanmelden nieuwsbrief\r\n" \
	"Date: Wed, 11 Dec 2024 08:05:13 +0000\r\n" \
	"Message-ID: <AM0PR07MB1234@AM0PR07MB1234.eurprd07.outlook.com>\r\n" \
	"Accept-Language: nl-NL, en-US\r\n" \
	"Content-Language: nl-NL\r\n" \
	"Content-Type: multipart/alternative;\r\n" \
	"\tboundary=\"_000_AM0PR07MB1234_\"\r\n" \
	"MIME-Version: 1.0\r\n" \
	"\r\n" \
	"--_000_AM0PR07MB1234_\r\n" \
	"Content-Type: text/plain; charset=\"iso-8859-1\"\r\n" \
	"Content-Transfer-Encoding: quoted-printable\r\n" \
	"\r\n" \
	"Graag aanmelden, ik heb het =93buurtnieuws=94 gemist. Caf=E9 =\r\n" \
	"om 8 uur=\r\n" \
	"?\r\n" \
	"\r\n" \
	"Met vriendelijke groet,\r\n" \
	"Piet Jansen\r\n" \
	"\r\n" \
	"-----Oorspronkelijk bericht-----\r\n" \
	"Van: Annerike <annerike@lsabewoners.nl>\r\n" \
	"\r\n" \
	"--_000_AM0PR07MB1234_\r\n" \
	"Content-Type: text/html; charset=\"iso-8859-1\"\r\n" \
	"Content-Transfer-Encoding: quoted-printable\r\n" \
	"\r\n" \
	"<html><body><p class=3D\"MsoNormal\">Graag</p></body></html>\r\n" \
	"\r\n" \
	"--_000_AM0PR07MB1234_--\r\n"

static void
test_outlook_reply(void **state)
{
	struct message m;

	(void)state;
	parse_ok(OUTLOOK_NL, &m);
	assert_string_equal(m.from.addr, "P.Jansen@gemeente.example.nl");
	assert_string_equal(m.from.name, "Jansen, Piet");
	assert_int_equal(m.nrcpts, 1);
	assert_string_equal(m.rcpts[0].name, "annerike@lsabewoners.nl");
	assert_null(m.return_path);
	assert_string_equal(m.text,
	    "Graag aanmelden, ik heb het \xe2\x80\x9c" "buurtnieuws"
	    "\xe2\x80\x9d gemist. Caf\xc3\xa9 om 8 uur?\n\n"
	    "Met vriendelijke groet,\nPiet Jansen\n\n"
	    "-----Oorspronkelijk bericht-----\n"
	    "Van: Annerike <annerike@lsabewoners.nl>\n");
	message_clear(&m);
}

/* Apple Mail: format=flowed with DelSp=yes, quoted flowed text. */
#define APPLE_FLOWED \
	"From: Joost de Wit <joost@icloud.example>\r\n" \
	"Content-Type: text/plain;\r\n" \
	"\tcharset=utf-8;\r\n" \
	"\tdelsp=yes;\r\n" \
	"\tformat=flowed\r\n" \
	"Content-Transfer-Encoding: quoted-printable\r\n" \
	"Mime-Version: 1.0 (1.0)\r\n" \
	"Subject: Re: Afmelden\r\n" \
	"Date: Thu, 12 Dec 2024 21:14:55 +0100\r\n" \
	"To: annerike@lsabewoners.nl\r\n" \
	"\r\n" \
	"Ik wil me graag afmelden voor de nieuwsbrief, we =20\r\n" \
	"verhuizen naar Utrecht.\r\n" \
	"\r\n" \
	"Verstuurd vanaf mijn iPhone\r\n" \
	"\r\n" \
	"> Op 12 dec. 2024 om 09:00 heeft Annerike het =20\r\n" \
	"> volgende geschreven:\r\n" \
	">\r\n" \
	">> Nog =20\r\n" \
	">> diep\r\n" \
	"-- \r\n" \
	"Joost\r\n"

static void
test_apple_flowed(void **state)
{
	struct message m;

	(void)state;
	parse_ok(APPLE_FLOWED, &m);
	assert_string_equal(m.text,
	    "Ik wil me graag afmelden voor de nieuwsbrief, we verhuizen "
	    "naar Utrecht.\n\nVerstuurd vanaf mijn iPhone\n\n"
	    "> Op 12 dec. 2024 om 09:00 heeft Annerike het volgende "
	    "geschreven:\n"
	    ">\n"
	    ">> Nog diep\n"
	    "-- \n"
	    "Joost\n");
	assert_string_equal(m.content_type, "text/plain");
	assert_int_equal(m.date, 1734034495);
	message_clear(&m);
}

/* format=flowed without DelSp: the space stays; stuffing goes. */
static void
test_flowed_no_delsp(void **state)
{
	struct message m;

	(void)state;
	parse_ok("From: a@example.org\r\n"
	    "Content-Type: text/plain; format=flowed\r\n\r\n"
	    "Dit is een lange \r\n"
	    "zin.\r\n"
	    " From the stuffed line\r\n", &m);
	assert_string_equal(m.text,
	    "Dit is een lange zin.\nFrom the stuffed line\n");
	message_clear(&m);
}

#define HTML_ONLY \
	"From: Nieuwsbrief <info@club.example>\r\n" \
	"To: annerike@lsabewoners.nl\r\n" \
	"Subject: HTML\r\n" \
	"MIME-Version: 1.0\r\n" \
	"Content-Type: text/html; charset=utf-8\r\n" \
	"Content-Transfer-Encoding: 8bit\r\n" \
	"\r\n" \
	"<!DOCTYPE html><html><head><title>Titel</title>\r\n" \
	"<style>p { color: red; }</style></head>\r\n" \
	"<body><script>alert('x <b>');</script>\r\n" \
	"<p>Beste   buren,</p><p>Caf&eacute; &amp; bar: &euro;5 &#8364;6 " \
	"&#x263A; AT&T</p>\r\n" \
	"<div>Regel 1<br>Regel 2<br/></div>" \
	"<ul><li>een</li><li>twee</li></ul>\r\n" \
	"<!-- verborgen <p>tekst</p> -->" \
	"<p>&nbsp;</p><div>Groet,<br>An</div>\r\n" \
	"<blockquote>geciteerd<br>citaat</blockquote><div>na</div>\r\n" \
	"</body></html>\r\n"

static void
test_html_only(void **state)
{
	struct message m;

	(void)state;
	parse_ok(HTML_ONLY, &m);
	assert_int_equal(m.text_from_html, 1);
	assert_string_equal(m.text,
	    "Beste buren,\n"
	    "Caf\xc3\xa9 & bar: \xe2\x82\xac" "5 \xe2\x82\xac" "6 "
	    "\xe2\x98\xba AT&T\n"
	    "Regel 1\nRegel 2\n"
	    "een\ntwee\n\n"
	    "Groet,\nAn\n"
	    "> geciteerd\n> citaat\n"
	    "na");
	message_clear(&m);
}

/* Gmail's HTML-only reply: <div> lines, gmail_quote blockquote. */
static void
test_html_gmail_quote(void **state)
{
	struct message m;

	(void)state;
	parse_ok("From: a@example.org\r\n"
	    "Content-Type: text/html; charset=\"UTF-8\"\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "<div dir=3D\"ltr\"><div>Ja, ik doe mee!</div><div><br></div>"
	    "<div>Groetjes</div></div><br><div class=3D\"gmail_quote\">"
	    "<div dir=3D\"ltr\" class=3D\"gmail_attr\">Op ma 9 dec 2024 om "
	    "10:00 schreef X &lt;<a href=3D\"mailto:x@y.nl\">x@y.nl</a>&gt;:"
	    "<br></div><blockquote class=3D\"gmail_quote\" style=3D\"margin:"
	    "0px 0px 0px 0.8ex\">Doe je mee?<br></blockquote></div>\r\n", &m);
	assert_string_equal(m.text,
	    "Ja, ik doe mee!\n\nGroetjes\n\n"
	    "Op ma 9 dec 2024 om 10:00 schreef X <x@y.nl>:\n"
	    "> Doe je mee?");
	message_clear(&m);
}

static void
test_qp_latin1(void **state)
{
	struct message m;

	(void)state;
	parse_ok("From: a@example.org\r\n"
	    "Content-Type: text/plain; charset=ISO-8859-1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "Caf=E9 =3D lekker, =FCber=\r\n"
	    "al.\r\n", &m);
	assert_string_equal(m.text,
	    "Caf\xc3\xa9 = lekker, \xc3\xbc" "beral.\n");
	message_clear(&m);
}

static void
test_base64_utf8(void **state)
{
	struct message m;

	(void)state;
	parse_ok("From: a@example.org\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "R3LDvMOfZSB1aXQgQW1zdGVyZGFtIOKAkyB0b3QgZGFuISDwn46JDQpHcm9l\r\n"
	    "dCwgRmF0bWENCg==\r\n", &m);
	assert_string_equal(m.text,
	    "Gr\xc3\xbc\xc3\x9f" "e uit Amsterdam \xe2\x80\x93 tot dan! "
	    "\xf0\x9f\x8e\x89\nGroet, Fatma\n");
	message_clear(&m);
}

static void
test_rfc2047(void **state)
{
	static const struct {
		const char *subject, *want;
	} cases[] = {
		{ "=?utf-8?q?Gr=C3=BC=C3=9Fe?= und =?iso-8859-1?b?5g==?= x",
		    "Gr\xc3\xbc\xc3\x9f" "e und \xc3\xa6 x" },
		/* a character split over two words (RFC 2047 §5 says no) */
		{ "=?utf-8?q?prijs_=E2=82?= =?utf-8?q?=AC5?=",
		    "prijs \xe2\x82\xac" "5" },
		{ "=?UTF-8?B?8J+OiQ==?=   =?UTF-8?B?IGZlZXN0?=",
		    "\xf0\x9f\x8e\x89 feest" },
		{ "=?windows-1252?Q?=93hoi=94?=",
		    "\xe2\x80\x9choi\xe2\x80\x9d" },
		/* mislabelled: UTF-8 octets said to be US-ASCII */
		{ "=?us-ascii?q?caf=C3=A9?=", "caf\xc3\xa9" },
		/* unknown charset: windows-1252 */
		{ "=?x-unheard-of?q?caf=E9?=", "caf\xc3\xa9" },
		/* raw 8-bit latin-1 in the header */
		{ "Caf\xe9 au lait", "Caf\xc3\xa9 au lait" },
		/* raw UTF-8 (RFC 6532) stays */
		{ "Caf\xc3\xa9", "Caf\xc3\xa9" },
		/* RFC 2231 language in an encoded word */
		{ "=?utf-8*nl?q?hallo?=", "hallo" },
		/* not encoded words */
		{ "=?utf-8?q?no end", "=?utf-8?q?no end" },
		{ "1 + 1 =? 2", "1 + 1 =? 2" },
		/* a line break encoded in the subject becomes a space */
		{ "=?utf-8?q?a=0D=0Ab?=", "a  b" },
		{ "=?iso-2022-jp?B?GyRCJUYlOSVIGyhC?=",
		    "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88" },
		{ "=?koi8-r?B?8NLJ18XU?=",
		    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82" },
	};
	struct message m;
	char *raw;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		raw = xasprintf("From: a@example.org\r\nSubject: %s\r\n"
		    "\r\nx\r\n", cases[i].subject);
		parse_ok(raw, &m);
		if (strcmp(m.subject, cases[i].want) != 0)
			fail_msg("subject '%s' gave '%s', want '%s'",
			    cases[i].subject, m.subject, cases[i].want);
		message_clear(&m);
		free(raw);
	}
}

static void
test_addresses(void **state)
{
	static const struct {
		const char *from, *addr, *name;
	} cases[] = {
		{ "=?iso-8859-1?q?Andr=E9?= Pirard <pirard@vm1.example.be>",
		    "pirard@vm1.example.be", "Andr\xc3\xa9 Pirard" },
		{ "\"=?utf-8?B?TcOkcnk=?=\" <mary@example.net>",
		    "mary@example.net", "M\xc3\xa4ry" },
		{ "tyra3l@gmail.com (Ferenc Kovacs)", "tyra3l@gmail.com",
		    "Ferenc Kovacs" },
		{ "Sandy M. <sandy@example.com>", "sandy@example.com",
		    "Sandy M." },
		{ "MAILER-DAEMON <>", "", "MAILER-DAEMON" },
		{ "<>", "", "" },
		{ "just.an@address.example", "just.an@address.example", "" },
		{ "Broken <<broken@example.com>", "broken@example.com",
		    "Broken" },
		{ "J\xc3\xb6rg <joerg@example.de>", "joerg@example.de",
		    "J\xc3\xb6rg" },
		{ "J\xf6rg <joerg@example.de>", "joerg@example.de",
		    "J\xc3\xb6rg" },
		{ "no address at all", "", "" },
	};
	struct message m;
	char *raw;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		raw = xasprintf("From: %s\r\nSubject: x\r\n\r\nx\r\n",
		    cases[i].from);
		parse_ok(raw, &m);
		if (strcmp(m.from.addr, cases[i].addr) != 0 ||
		    strcmp(m.from.name, cases[i].name) != 0)
			fail_msg("From '%s' gave '%s' <%s>, want '%s' <%s>",
			    cases[i].from, m.from.name, m.from.addr,
			    cases[i].name, cases[i].addr);
		message_clear(&m);
		free(raw);
	}
}

static void
test_recipients(void **state)
{
	struct message m;

	(void)state;
	parse_ok("From: a@example.org\r\n"
	    "To: Een <een@example.org>,\r\n twee@example.org\r\n"
	    "To: undisclosed-recipients:;\r\n"
	    "Cc: Team: drie@example.org, Vier <vier@example.org>;\r\n"
	    "Cc: <<garbage vijf@example.org>> zes@example.org\r\n"
	    "Reply-To: Lijst <lijst@example.org>, eigen@example.org\r\n"
	    "Sender: Beheer <beheer@example.org>\r\n"
	    "Return-Path: <>\r\n"
	    "\r\nx\r\n", &m);
	assert_int_equal(m.nrcpts, 6);
	assert_string_equal(m.rcpts[0].addr, "een@example.org");
	assert_string_equal(m.rcpts[0].name, "Een");
	assert_string_equal(m.rcpts[1].addr, "twee@example.org");
	assert_string_equal(m.rcpts[2].addr, "drie@example.org");
	assert_string_equal(m.rcpts[3].addr, "vier@example.org");
	assert_string_equal(m.rcpts[3].name, "Vier");
	assert_string_equal(m.rcpts[4].addr, "vijf@example.org");
	assert_string_equal(m.rcpts[5].addr, "zes@example.org");
	assert_int_equal(m.nreply_to, 2);
	assert_string_equal(m.reply_to[0].addr, "lijst@example.org");
	assert_string_equal(m.reply_to[1].addr, "eigen@example.org");
	assert_string_equal(m.sender.addr, "beheer@example.org");
	assert_string_equal(m.sender.name, "Beheer");
	assert_non_null(m.return_path);
	assert_string_equal(m.return_path, "");
	message_clear(&m);
}

#define DSN \
	"Return-Path: <>\r\n" \
	"Date: Fri, 13 Dec 2024 10:00:00 +0100 (CET)\r\n" \
	"From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n" \
	"Subject: Undelivered Mail Returned to Sender\r\n" \
	"To: annerike+bounce-k2x@lsabewoners.nl\r\n" \
	"Auto-Submitted: auto-replied\r\n" \
	"MIME-Version: 1.0\r\n" \
	"Content-Type: multipart/report; report-type=delivery-status;\r\n" \
	"\tboundary=\"4Y9abc.1734080400/mx.example.net\"\r\n" \
	"Message-Id: <20241213090000.4Y9abc@mx.example.net>\r\n" \
	"\r\n" \
	"This is a MIME-encapsulated message.\r\n" \
	"\r\n" \
	"--4Y9abc.1734080400/mx.example.net\r\n" \
	"Content-Description: Notification\r\n" \
	"Content-Type: text/plain; charset=us-ascii\r\n" \
	"\r\n" \
	"This is the mail system at host mx.example.net.\r\n" \
	"\r\n" \
	"<oud-lid@example.net>: host mx.example.net said: 550 5.1.1 User\r\n" \
	"    unknown\r\n" \
	"\r\n" \
	"--4Y9abc.1734080400/mx.example.net\r\n" \
	"Content-Description: Delivery report\r\n" \
	"Content-Type: message/delivery-status\r\n" \
	"\r\n" \
	"Reporting-MTA: dns; mx.example.net\r\n" \
	"\r\n" \
	"Final-Recipient: rfc822; oud-lid@example.net\r\n" \
	"Action: failed\r\n" \
	"Status: 5.1.1\r\n" \
	"\r\n" \
	"--4Y9abc.1734080400/mx.example.net\r\n" \
	"Content-Description: Undelivered Message Headers\r\n" \
	"Content-Type: text/rfc822-headers\r\n" \
	"\r\n" \
	"From: Annerike <annerike@lsabewoners.nl>\r\n" \
	"To: oud-lid@example.net\r\n" \
	"Subject: Buurtnieuws\r\n" \
	"Message-ID: <digest.42@lsabewoners.nl>\r\n" \
	"\r\n" \
	"--4Y9abc.1734080400/mx.example.net--\r\n"

static void
test_dsn(void **state)
{
	struct message m;

	(void)state;
	parse_ok(DSN, &m);
	assert_string_equal(m.content_type, "multipart/report");
	assert_string_equal(m.return_path, "");
	assert_string_equal(m.from.addr, "MAILER-DAEMON@mx.example.net");
	assert_string_equal(m.from.name, "Mail Delivery System");
	assert_string_equal(m.dsn,
	    "Reporting-MTA: dns; mx.example.net\n\n"
	    "Final-Recipient: rfc822; oud-lid@example.net\n"
	    "Action: failed\nStatus: 5.1.1\n");
	assert_string_equal(m.returned_headers,
	    "From: Annerike <annerike@lsabewoners.nl>\n"
	    "To: oud-lid@example.net\n"
	    "Subject: Buurtnieuws\n"
	    "Message-ID: <digest.42@lsabewoners.nl>\n");
	assert_string_equal(m.text,
	    "This is the mail system at host mx.example.net.\n\n"
	    "<oud-lid@example.net>: host mx.example.net said: 550 5.1.1 "
	    "User\n    unknown\n");
	assert_string_equal(message_header(&m, "Auto-Submitted"),
	    "auto-replied");
	assert_int_equal(m.has_attachments, 0);
	message_clear(&m);
}

/* A returned message/rfc822 (Exim, Exchange): its header block. */
static void
test_dsn_message_rfc822(void **state)
{
	struct message m;

	(void)state;
	parse_ok("From: postmaster@example.net\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status; "
	    "boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
	    "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
	    "Final-Recipient: rfc822;x@example.net\r\nAction: failed\r\n"
	    "--b\r\nContent-Type: message/rfc822\r\n\r\n"
	    "Message-ID: <orig@lsabewoners.nl>\r\nSubject: orig\r\n\r\n"
	    "the body\r\n"
	    "--b--\r\n", &m);
	assert_string_equal(m.returned_headers,
	    "Message-ID: <orig@lsabewoners.nl>\nSubject: orig\n");
	assert_string_equal(m.dsn,
	    "Final-Recipient: rfc822;x@example.net\nAction: failed");
	assert_string_equal(m.text, "failed");
	message_clear(&m);
}

/*
 * Older MTAs return the mail as an attachment of a multipart/mixed; a
 * gateway may forward a whole report as one. An ARF complaint has its own
 * part.
 */
static void
test_attached_and_forwarded_reports(void **state)
{
	struct message m;

	(void)state;
	parse_ok("From: MAILER-DAEMON@mx.example.net\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\n<x@example.net>: "
	    "unknown\r\n"
	    "--b\r\nContent-Type: message/rfc822\r\n\r\n"
	    "Message-ID: <orig@lsabewoners.nl>\r\nTo: x@example.net\r\n\r\n"
	    "the body\r\n--b--\r\n", &m);
	assert_null(m.returned_headers);
	assert_null(m.dsn);
	assert_string_equal(m.attached_headers,
	    "Message-ID: <orig@lsabewoners.nl>\nTo: x@example.net\n");
	assert_string_equal(m.text, "<x@example.net>: unknown");
	message_clear(&m);

	parse_ok("From: postmaster@gateway.example.net\r\n"
	    "Content-Type: multipart/mixed; boundary=o\r\n\r\n"
	    "--o\r\nContent-Type: text/plain\r\n\r\ndisclaimer\r\n"
	    "--o\r\nContent-Type: message/rfc822\r\n\r\n"
	    "From: postmaster@inner.example.net\r\n"
	    "Message-ID: <dsn@inner.example.net>\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status; "
	    "boundary=i\r\n\r\n"
	    "--i\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
	    "--i\r\nContent-Type: message/delivery-status\r\n\r\n"
	    "Final-Recipient: rfc822;x@example.net\r\nAction: failed\r\n"
	    "--i\r\nContent-Type: text/rfc822-headers\r\n\r\n"
	    "Message-ID: <orig@lsabewoners.nl>\r\n\r\n"
	    "--i--\r\n--o--\r\n", &m);
	assert_string_equal(m.dsn,
	    "Final-Recipient: rfc822;x@example.net\nAction: failed");
	assert_string_equal(m.returned_headers,
	    "Message-ID: <orig@lsabewoners.nl>\n");
	assert_non_null(strstr(m.attached_headers,
	    "Message-ID: <dsn@inner.example.net>\n"));
	assert_string_equal(m.text, "disclaimer");
	message_clear(&m);

	parse_ok("From: staff@fbl.example.net\r\n"
	    "Content-Type: multipart/report; report-type=feedback-report; "
	    "boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nabuse report\r\n"
	    "--b\r\nContent-Type: message/feedback-report\r\n\r\n"
	    "Feedback-Type: abuse\r\nVersion: 1\r\n"
	    "--b\r\nContent-Type: message/rfc822\r\n\r\n"
	    "Message-ID: <d.1@lsabewoners.nl>\r\n\r\nDigest\r\n--b--\r\n",
	    &m);
	assert_string_equal(m.feedback, "Feedback-Type: abuse\nVersion: 1");
	assert_string_equal(m.returned_headers,
	    "Message-ID: <d.1@lsabewoners.nl>\n");
	assert_null(m.attached_headers);
	assert_null(m.dsn);
	message_clear(&m);
}

#define CAL_REPLY \
	"From: Maria <maria@example.org>\r\n" \
	"To: annerike@lsabewoners.nl\r\n" \
	"Subject: Geaccepteerd: Buurtborrel\r\n" \
	"MIME-Version: 1.0\r\n" \
	"Content-Type: multipart/alternative; boundary=\"cal\"\r\n" \
	"\r\n" \
	"--cal\r\n" \
	"Content-Type: text/plain; charset=utf-8\r\n" \
	"\r\n" \
	"Maria heeft de uitnodiging geaccepteerd.\r\n" \
	"--cal\r\n" \
	"Content-Type: text/calendar; charset=\"utf-8\"; method=reply\r\n" \
	"Content-Transfer-Encoding: base64\r\n" \
	"\r\n" \
	"QkVHSU46VkNBTEVOREFSDQpNRVRIT0Q6UkVQTFkNClZFUlNJT046Mi4wDQpF\r\n" \
	"TkQ6VkNBTEVOREFSDQo=\r\n" \
	"--cal--\r\n"

static void
test_calendar_reply(void **state)
{
	struct message m;

	(void)state;
	parse_ok(CAL_REPLY, &m);
	assert_non_null(m.calendar);
	assert_string_equal(m.calendar,
	    "BEGIN:VCALENDAR\nMETHOD:REPLY\nVERSION:2.0\nEND:VCALENDAR\n");
	assert_string_equal(m.calendar_method, "REPLY");
	assert_string_equal(m.text,
	    "Maria heeft de uitnodiging geaccepteerd.");
	assert_int_equal(m.has_attachments, 0);
	message_clear(&m);
}

#define WITH_ATTACHMENT \
	"From: a@example.org\r\n" \
	"Subject: PS: bijlage vergeten\r\n" \
	"Content-Type: multipart/mixed; boundary=\"mix\"\r\n" \
	"\r\n" \
	"--mix\r\n" \
	"Content-Type: multipart/related; boundary=\"rel\"\r\n" \
	"\r\n" \
	"--rel\r\n" \
	"Content-Type: text/html; charset=utf-8\r\n" \
	"\r\n" \
	"<p>Hier is de flyer <img src=\"cid:logo\"></p>\r\n" \
	"--rel\r\n" \
	"Content-Type: image/png; name=\"logo.png\"\r\n" \
	"Content-ID: <logo>\r\n" \
	"Content-Disposition: inline; filename=\"logo.png\"\r\n" \
	"Content-Transfer-Encoding: base64\r\n" \
	"\r\n" \
	"iVBORw0KGgo=\r\n" \
	"--rel--\r\n" \
	"--mix\r\n" \
	"Content-Type: text/plain; charset=utf-8\r\n" \
	"Content-Disposition: attachment; filename=\"notulen.txt\"\r\n" \
	"\r\n" \
	"not the text\r\n" \
	"--mix--\r\n"

static void
test_attachment(void **state)
{
	struct message m;

	(void)state;
	/* only an inline image of the HTML: no attachment */
	parse_ok("From: a@example.org\r\n"
	    "Content-Type: multipart/related; boundary=\"rel\"\r\n\r\n"
	    "--rel\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n"
	    "--rel\r\nContent-Type: image/png; name=\"logo.png\"\r\n"
	    "Content-ID: <logo>\r\n\r\niVBORw0KGgo=\r\n--rel--\r\n", &m);
	assert_int_equal(m.has_attachments, 0);
	message_clear(&m);

	parse_ok(WITH_ATTACHMENT, &m);
	assert_int_equal(m.has_attachments, 1);
	assert_int_equal(m.text_from_html, 1);
	assert_string_equal(m.text, "Hier is de flyer");
	assert_string_equal(m.content_type, "multipart/mixed");
	message_clear(&m);

	parse_ok("From: a@example.org\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nZie bijlage.\r\n"
	    "--b\r\nContent-Type: application/pdf; name=\"flyer.pdf\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "JVBERi0xLjQgZmFrZQ==\r\n--b--\r\n", &m);
	assert_int_equal(m.has_attachments, 1);
	assert_string_equal(m.text, "Zie bijlage.");
	message_clear(&m);
}

/* The same mail with CRLF, LF and bare CR line ends, and mbox framing. */
static void
test_line_ends(void **state)
{
	static const char *const forms[] = {
		"From: a@example.org\r\nSubject: Hoi\r\n\r\n"
		    "regel 1\r\nregel 2\r\n",
		"From: a@example.org\nSubject: Hoi\n\nregel 1\nregel 2\n",
		"From: a@example.org\rSubject: Hoi\r\rregel 1\rregel 2\r",
		"From a@example.org Thu Dec 12 10:00:00 2024\n"
		    "From: a@example.org\nSubject: Hoi\n\nregel 1\nregel 2\n",
		"\xef\xbb\xbf" "From: a@example.org\nSubject: Hoi\n\n"
		    "regel 1\nregel 2\n",
	};
	struct message m;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(forms); i++) {
		parse_ok(forms[i], &m);
		assert_int_equal(m.nheaders, 2);
		assert_string_equal(m.subject, "Hoi");
		assert_string_equal(m.from.addr, "a@example.org");
		assert_string_equal(m.text, "regel 1\nregel 2\n");
		message_clear(&m);
	}
}

/* Repairs: folds that lost their indent, multiparts left open. */
static void
test_repairs(void **state)
{
	struct message m;

	(void)state;
	parse_ok("Received: from x\r\nby y with SMTP\r\n"
	    "From: a@example.org\r\nSubject: s\r\n"
	    "Content-Type: multipart/mixed;\r\nboundary=\"b\"\r\n\r\n"
	    "--b\r\nContent-Type: multipart/alternative;\r\n"
	    "boundary=\"c\"\r\n\r\n"
	    "--c\r\nContent-Type: text/plain\r\n\r\ntruncated text\r\n", &m);
	assert_string_equal(message_header(&m, "Received"),
	    "from x by y with SMTP");
	assert_string_equal(m.from.addr, "a@example.org");
	assert_string_equal(m.content_type, "multipart/mixed");
	assert_string_equal(m.text, "truncated text");
	message_clear(&m);
}

static void
test_header_next(void **state)
{
	const struct msg_header *h;
	struct message m;
	int n = 0;

	(void)state;
	parse_ok("Received: one\r\nX-Loop: annerike@lsabewoners.nl\r\n"
	    "received: two\r\n\tfolded\r\nRECEIVED: three\r\n\r\nbody\r\n", &m);
	for (h = message_header_next(&m, "Received", NULL); h != NULL;
	    h = message_header_next(&m, "Received", h))
		n++;
	assert_int_equal(n, 3);
	h = message_header_next(&m, "received", NULL);
	h = message_header_next(&m, "received", h);
	assert_string_equal(h->name, "received");
	assert_string_equal(h->value, "two\tfolded");
	assert_string_equal(message_header(&m, "x-loop"),
	    "annerike@lsabewoners.nl");
	/* a pointer that is not one of m's headers finds nothing */
	assert_null(message_header_next(&m, "Received", (void *)&n));
	message_clear(&m);
}

static void
test_dates(void **state)
{
	static const struct {
		const char *date;
		time_t want;
	} cases[] = {
		{ "Tue, 10 Dec 2024 19:30:00 +0100", 1733855400 },
		{ "10 Dec 2024 18:30:00 GMT", 1733855400 },
		{ "Tue, 10 Dec 2024 13:30:00 -0500 (EST)", 1733855400 },
		{ "Tue, 10 Dec 24 18:30:00 +0000", 1733855400 },
		{ "Whenever", 0 },
		{ "Wed, 15 Dec 2010    59:10 -0500", 0 },
		{ "", 0 },
	};
	struct message m;
	char *raw;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		raw = xasprintf("From: a@example.org\r\nDate: %s\r\n\r\nx\r\n",
		    cases[i].date);
		parse_ok(raw, &m);
		if (m.date != cases[i].want)
			fail_msg("Date '%s' gave %lld, want %lld",
			    cases[i].date, (long long)m.date,
			    (long long)cases[i].want);
		message_clear(&m);
		free(raw);
	}
	parse_ok("From: a@example.org\r\n\r\nx\r\n", &m);
	assert_int_equal(m.date, 0);
	assert_string_equal(m.message_id, "");
	assert_string_equal(m.in_reply_to, "");
	message_clear(&m);
}

/* NUL and invalid UTF-8 in text and headers come out valid. */
static void
test_invalid_bytes(void **state)
{
	static const char raw[] =
	    "From: a@example.org\r\nSubject: nul\0here \xff\xfe\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n"
	    "a\0b \xc3\x28 \xed\xa0\x80 \xf4\x90\x80\x80 \xe9t\xe9\r\n";
	struct message m;
	char err[BOTU_ERRLEN];

	(void)state;
	assert_int_equal(message_parse(raw, sizeof(raw) - 1, &m, err),
	    BOTU_OK);
	check_message(&m);
	assert_string_equal(m.subject,
	    "nul\xef\xbf\xbdhere \xc3\xbf\xc3\xbe");
	assert_non_null(strstr(m.text, "a\xef\xbf\xbd" "b"));
	assert_non_null(strstr(m.text, "\xc3\xa9t\xc3\xa9"));
	message_clear(&m);
}

static void
test_not_a_mail(void **state)
{
	struct message m;
	char err[BOTU_ERRLEN];

	(void)state;
	assert_int_equal(message_parse("", 0, &m, err), BOTU_EDATA);
	assert_non_null(strstr(err, "header"));
	assert_int_equal(message_parse("just some text\nno headers\n", 26,
	    &m, err), BOTU_EDATA);
	assert_null(m.headers);
	assert_null(m.text);
}

/* A multipart nested depth levels, then 100 flat ones; m's text. */
static const char *
nested(size_t depth, struct message *m)
{
	struct buf b;
	char err[BOTU_ERRLEN];
	size_t i;

	buf_init(&b);
	buf_adds(&b, "From: a@example.org\r\n");
	for (i = 0; i < depth; i++)
		buf_addf(&b, "Content-Type: multipart/mixed; boundary=\"b%zu\""
		    "\r\n\r\n--b%zu\r\n", i, i);
	buf_adds(&b, "Content-Type: text/plain\r\n\r\ndiep\r\n");
	for (i = depth; i > 0; i--)
		buf_addf(&b, "--b%zu--\r\n", i - 1);
	for (i = 0; i < 100; i++)
		buf_addf(&b, "Content-Type: multipart/mixed; boundary=\"f%zu\""
		    "\r\n\r\n--f%zu\r\n\r\nx\r\n--f%zu--\r\n", i, i, i);
	if (message_parse(b.s, b.len, m, err) != BOTU_OK)
		fail_msg("%zu levels: %s", depth, err);
	buf_free(&b);
	return m->text;
}

/* The killers of libetpan 1.9.4, refused before mailmime_parse(). */
static void
test_precheck(void **state)
{
	static const char *const bad[] = {
		"Content-Type: multipart/mixed; boundary=\"\\\"\"\r\n",
		"Content-Type: multipart/mixed; boundary=\"\"\r\n",
		"Content-Type: multipart/mixed; boundary=\"\\\\\"\r\n",
		"Content-Type: multipart/mixed;\r\n boundary=\"\\\"abc\"\r\n",
	};
	struct message m;
	struct buf b;
	char err[BOTU_ERRLEN], *raw;
	clock_t t0;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < NELEM(bad); i++) {
		raw = xasprintf("From: a@example.org\r\n%s\r\n--x\r\n\r\nx\r\n",
		    bad[i]);
		rc = message_parse(raw, strlen(raw), &m, err);
		if (rc != BOTU_EPOISON)
			fail_msg("%s: %d, want BOTU_EPOISON", bad[i], rc);
		assert_non_null(strstr(err, "boundary"));
		free(raw);
	}
	/* the same killer in a part header */
	raw = xasprintf("From: a@example.org\r\n"
	    "Content-Type: multipart/mixed; boundary=ok\r\n\r\n--ok\r\n"
	    "Content-Type: multipart/mixed; boundary=\"\\\"\"\r\n\r\nx\r\n");
	assert_int_equal(message_parse(raw, strlen(raw), &m, err),
	    BOTU_EPOISON);
	free(raw);

	/* 20000 levels of nesting: libetpan would take minutes */
	buf_init(&b);
	buf_adds(&b, "From: a@example.org\r\n");
	for (i = 0; i < 20000; i++)
		buf_addf(&b, "Content-Type: multipart/mixed; boundary=\"b%zu\""
		    "\r\n\r\n--b%zu\r\n", i, i);
	buf_adds(&b, "Content-Type: text/plain\r\n\r\nhi\r\n");
	t0 = clock();
	assert_int_equal(message_parse(b.s, b.len, &m, err), BOTU_EPOISON);
	assert_true(clock() - t0 < CLOCKS_PER_SEC);
	assert_non_null(strstr(err, "nesting"));
	buf_free(&b);

	/*
	 * 25 levels and 100 multiparts one after the other are fine; 45
	 * levels pass the pre-check too, but the walk stops at 30 levels.
	 */
	assert_string_equal(nested(25, &m), "diep");
	message_clear(&m);
	assert_string_equal(nested(45, &m), "");
	message_clear(&m);
}

/* The fields of a and b are equal. */
static void
assert_same(const struct message *a, const struct message *b)
{
	size_t i;

#define SAME_STR(f) do { \
	if ((a->f == NULL) != (b->f == NULL)) \
		fail_msg(#f " NULL in one only"); \
	if (a->f != NULL) \
		assert_string_equal(a->f, b->f); \
} while (0)
	assert_int_equal(a->nheaders, b->nheaders);
	for (i = 0; i < a->nheaders; i++) {
		SAME_STR(headers[i].name);
		SAME_STR(headers[i].value);
	}
	SAME_STR(message_id);
	SAME_STR(from.addr);
	SAME_STR(from.name);
	SAME_STR(sender.addr);
	SAME_STR(sender.name);
	assert_int_equal(a->nreply_to, b->nreply_to);
	for (i = 0; i < a->nreply_to; i++) {
		SAME_STR(reply_to[i].addr);
		SAME_STR(reply_to[i].name);
	}
	assert_int_equal(a->nrcpts, b->nrcpts);
	for (i = 0; i < a->nrcpts; i++) {
		SAME_STR(rcpts[i].addr);
		SAME_STR(rcpts[i].name);
	}
	SAME_STR(return_path);
	SAME_STR(subject);
	assert_int_equal(a->date, b->date);
	SAME_STR(in_reply_to);
	SAME_STR(references);
	SAME_STR(text);
	assert_int_equal(a->text_from_html, b->text_from_html);
	assert_int_equal(a->has_attachments, b->has_attachments);
	SAME_STR(content_type);
	SAME_STR(calendar);
	SAME_STR(calendar_method);
	SAME_STR(dsn);
	SAME_STR(returned_headers);
	SAME_STR(attached_headers);
	SAME_STR(feedback);
	assert_int_equal(a->size, b->size);
#undef SAME_STR
}

static void
test_pack_roundtrip(void **state)
{
	static const char *const raws[] = {
		GMAIL_NL, OUTLOOK_NL, DSN, CAL_REPLY, WITH_ATTACHMENT,
		HTML_ONLY,
	};
	struct message a, b;
	struct buf p1, p2;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(raws); i++) {
		parse_ok(raws[i], &a);
		buf_init(&p1);
		message_pack(&a, &p1);
		assert_int_equal(message_unpack(p1.s, p1.len, &b), BOTU_OK);
		assert_same(&a, &b);
		buf_init(&p2);
		message_pack(&b, &p2);
		assert_int_equal(p1.len, p2.len);
		assert_memory_equal(p1.s, p2.s, p1.len);
		message_clear(&a);
		message_clear(&b);
		buf_free(&p1);
		buf_free(&p2);
	}
}

/* A small, deterministic generator: the fuzz run is the same each time. */
static uint32_t
rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*s >> 33);
}

/* Unpacks data: BOTU_EDATA with m empty, or BOTU_OK with m valid. */
static void
unpack_any(const char *data, size_t len)
{
	struct message m;
	int rc;

	rc = message_unpack(data, len, &m);
	if (rc == BOTU_OK) {
		check_message(&m);
		message_clear(&m);
		return;
	}
	assert_int_equal(rc, BOTU_EDATA);
	assert_null(m.headers);
	assert_null(m.text);
}

static void
test_unpack_fuzz(void **state)
{
	struct message a;
	struct buf p;
	uint64_t seed = 42;
	char *junk;
	size_t i, n, k;

	(void)state;
	parse_ok(DSN, &a);
	buf_init(&p);
	message_pack(&a, &p);
	message_clear(&a);

	/* every truncation of a valid buffer is refused */
	for (n = 0; n < p.len; n++) {
		/* of the exact size: ASan sees any overread */
		junk = xmalloc(n + 1);
		memcpy(junk, p.s, n);
		assert_int_equal(message_unpack(junk, n, &a), BOTU_EDATA);
		free(junk);
	}
	/* trailing garbage is refused */
	buf_addc(&p, 'x');
	assert_int_equal(message_unpack(p.s, p.len, &a), BOTU_EDATA);
	buf_truncate(&p, p.len - 1);

	/* flipped octets, huge lengths and counts */
	for (i = 0; i < 20000; i++) {
		junk = xmalloc(p.len);
		memcpy(junk, p.s, p.len);
		for (k = 0; k < 1 + rnd(&seed) % 4; k++)
			junk[8 + rnd(&seed) % (p.len - 8)] =
			    (char)(rnd(&seed) % 3 == 0 ? 0xff : rnd(&seed));
		unpack_any(junk, p.len);
		free(junk);
	}
	/* random octets behind the magic, and without it */
	for (i = 0; i < 20000; i++) {
		n = rnd(&seed) % 200;
		junk = xmalloc(n + 8);
		memcpy(junk, "BOTUMSG1", 8);
		for (k = 8; k < n + 8; k++)
			junk[k] = (char)(rnd(&seed) % 4 == 0 ? 0 : rnd(&seed));
		unpack_any(junk, n + 8);
		unpack_any(junk + 8, n);
		free(junk);
	}
	buf_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gmail_reply),
		cmocka_unit_test(test_outlook_reply),
		cmocka_unit_test(test_apple_flowed),
		cmocka_unit_test(test_flowed_no_delsp),
		cmocka_unit_test(test_html_only),
		cmocka_unit_test(test_html_gmail_quote),
		cmocka_unit_test(test_qp_latin1),
		cmocka_unit_test(test_base64_utf8),
		cmocka_unit_test(test_rfc2047),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_recipients),
		cmocka_unit_test(test_dsn),
		cmocka_unit_test(test_dsn_message_rfc822),
		cmocka_unit_test(test_attached_and_forwarded_reports),
		cmocka_unit_test(test_calendar_reply),
		cmocka_unit_test(test_attachment),
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_repairs),
		cmocka_unit_test(test_header_next),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_invalid_bytes),
		cmocka_unit_test(test_not_a_mail),
		cmocka_unit_test(test_precheck),
		cmocka_unit_test(test_pack_roundtrip),
		cmocka_unit_test(test_unpack_fuzz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
