/* classify.c - see classify.h */
#include <ctype.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "botu/addr.h"
#include "botu/bounce.h"
#include "botu/classify.h"
#include "botu/log.h"
#include "botu/notes.h"
#include "botu/selfservice.h"
#include "botu/textclean.h"
#include "botu/util.h"
#include "botu/verp.h"

#define TOKEN_CHARS 26		/* 128 bits in base32 */
#define SHORT_TEXT 40		/* words; longer text never commands */

static const char *const intent_names[] = {
	[INTENT_LEAVE_ALONE] = "leave-alone",
	[INTENT_SUBSCRIBE] = "subscribe",
	[INTENT_CONFIRM] = "confirm",
	[INTENT_UNSUBSCRIBE] = "unsubscribe",
	[INTENT_HELP] = "help",
	[INTENT_NOTE] = "note",
	[INTENT_NOTE_QUESTION] = "note-question",
	[INTENT_UPDATE] = "update",
	[INTENT_RSVP] = "rsvp",
	[INTENT_BOUNCE] = "bounce",
	[INTENT_AUTOMATIC] = "automatic",
	[INTENT_PROFILE] = "profile",
	[INTENT_WITHDRAW] = "withdraw",
	[INTENT_MY_DATA] = "my-data",
	[INTENT_FORGET] = "forget",
	[INTENT_LANGUAGE] = "language",
	[INTENT_PAUSE] = "pause",
	[INTENT_RESUME] = "resume",
	[INTENT_ADDRESS] = "address",
	[INTENT_DIGEST] = "digest",
};

const char *
intent_name(enum intent i)
{
	return (size_t)i < NELEM(intent_names) ? intent_names[i] : "?";
}

const char *
channel_name(enum channel ch)
{
	static const char *const names[] = {
		[CHANNEL_NONE] = "none",
		[CHANNEL_HEADERS] = "headers",
		[CHANNEL_TOKEN_ADDRESS] = "token-address",
		[CHANNEL_SUBJECT_TOKEN] = "subject-token",
		[CHANNEL_PLUS_ADDRESS] = "plus-address",
		[CHANNEL_SUBJECT] = "subject",
		[CHANNEL_BODY] = "body",
	};

	return (size_t)ch < NELEM(names) ? names[ch] : "?";
}

/* ---- keyword tables: whole subjects and whole short texts ---- */

struct phrase {
	enum intent	 intent;
	int		 lang;
	const char	*re;	/* POSIX ERE over normalised text, anchored */
};

/*
 * Normalised text is lowercase with punctuation as single spaces, so
 * "Houd me op de hoogte!" is "houd me op de hoogte". Every pattern must
 * match the whole text: "ik wil me aanmelden voor de buurtborrel" does not.
 */
static const struct phrase phrases[] = {
	/* Dutch sign-ups */
	{ INTENT_SUBSCRIBE, LANG_NL, "(ja )?(graag )?(aanmelden|aanmelding|"
	    "inschrijven|inschrijving)( graag)?( alsjeblieft| aub| a u b)?"
	    "( (voor|bij) (de|jullie) (energie ?)?(community|nieuwsbrief|"
	    "updates|lijst|mailinglijst))?" },
	{ INTENT_SUBSCRIBE, LANG_NL, "(ja )?(ik )?(wil|zou)( me| mij)?"
	    "( heel)?( graag| ook graag| ook)?( willen)? (aanmelden|"
	    "inschrijven|aansluiten|meedoen|lid worden)( graag)?"
	    "( (bij|voor) (de|jullie|deze|je) (energie ?)?(community|lijst|"
	    "mailinglijst|nieuwsbrief|updates))?" },
	{ INTENT_SUBSCRIBE, LANG_NL, "(ja )?(ik )?(wil|zou)( graag| heel "
	    "graag| ook graag| ook)?( willen)? op de hoogte (blijven|"
	    "gehouden worden|worden gehouden)( graag)?" },
	{ INTENT_SUBSCRIBE, LANG_NL, "(graag )?op de hoogte (blijven|"
	    "gehouden worden)( graag)?" },
	{ INTENT_SUBSCRIBE, LANG_NL, "(wil|kun|kan|kunt|willen) (je|jij|u|"
	    "jullie) (me|mij) (ook )?(graag )?op de hoogte houden" },
	{ INTENT_SUBSCRIBE, LANG_NL, "(houd|hou|houdt) (me|mij) (graag |"
	    "alsjeblieft |ook )?op de hoogte( graag| alsjeblieft| aub)?" },
	{ INTENT_SUBSCRIBE, LANG_NL, "(graag |alsjeblieft )?(meld|schrijf) "
	    "(me|mij) (graag |ook )?(aan|in)( graag| alsjeblieft| aub)?"
	    "( (voor|bij) (de|jullie) (energie ?)?(community|nieuwsbrief|"
	    "updates|lijst))?" },
	{ INTENT_SUBSCRIBE, LANG_NL, "(ik )?(wil|zou)( graag| heel graag| "
	    "ook graag| ook)?( willen)? (updates|de nieuwsbrief|nieuws|"
	    "de updates) (ontvangen|krijgen)" },
	{ INTENT_SUBSCRIBE, LANG_NL, "(ik )?(wil|zou)( graag| ook graag| "
	    "ook)?( willen)? (onderdeel|deel|lid) (worden|zijn) van (de|"
	    "jullie|deze|uw|je) (energie ?)?(community|groep)" },
	{ INTENT_SUBSCRIBE, LANG_NL, "(hierbij|bij deze) (mijn|m n) "
	    "(mail ?adres|e ?mail ?adres|mailadres|emailadres)( voor de "
	    "(energie ?)?(community|nieuwsbrief|updates|lijst))?" },
	{ INTENT_SUBSCRIBE, LANG_NL, "(graag )?(voeg|zet) (me|mij) (graag |"
	    "ook )?(toe|op de lijst)( aan de (lijst|community|"
	    "mailinglijst))?" },

	/* English sign-ups */
	{ INTENT_SUBSCRIBE, LANG_EN, "(please )?(subscribe|sign up|join)"
	    "( me)?( please)?" },
	{ INTENT_SUBSCRIBE, LANG_EN, "(please )?(subscribe|sign|add) me"
	    "( up)?( to (the|your) (list|community|newsletter|mailing list|"
	    "updates))?( please)?" },
	{ INTENT_SUBSCRIBE, LANG_EN, "(i )?(would|d) (like|love) to (join|"
	    "subscribe|be subscribed|sign up|be added|stay informed|"
	    "stay updated|receive updates|get updates|be kept (informed|"
	    "updated|posted))( (to|for))?( (the|your))?( (list|community|"
	    "newsletter|mailing list|updates))?( please)?" },
	{ INTENT_SUBSCRIBE, LANG_EN, "(i )?want to (join|subscribe|sign up|"
	    "be added|stay informed|stay updated|receive updates|get updates|"
	    "be kept (informed|updated|posted))( (to|for))?( (the|your))?"
	    "( (list|community|newsletter|mailing list|updates))?"
	    "( please)?" },
	{ INTENT_SUBSCRIBE, LANG_EN, "(please )?keep me (posted|updated|"
	    "informed|in the loop)( please)?" },
	{ INTENT_SUBSCRIBE, LANG_EN, "(please )?count me in( please)?" },

	/* Dutch leaving */
	{ INTENT_UNSUBSCRIBE, LANG_NL, "(graag )?(afmelden|uitschrijven|"
	    "afmelding|uitschrijving)( graag| alsjeblieft| aub)?" },
	{ INTENT_UNSUBSCRIBE, LANG_NL, "(ik )?(wil|zou)( me| mij)?"
	    "( graag)?( willen)? (afmelden|uitschrijven)( graag)?"
	    "( (voor|van|bij) (de|jullie|deze) (community|lijst|"
	    "mailinglijst|nieuwsbrief|updates))?" },
	{ INTENT_UNSUBSCRIBE, LANG_NL, "(graag |alsjeblieft )?(meld|schrijf) "
	    "(me|mij) (graag )?(af|uit)( graag| alsjeblieft| aub)?" },
	{ INTENT_UNSUBSCRIBE, LANG_NL, "(graag )?(haal|verwijder) (me|mij) "
	    "(graag |alsjeblieft )?(van|uit) (de|jullie|deze) (lijst|"
	    "mailinglijst|community|nieuwsbrief)( graag| alsjeblieft| aub)?" },
	{ INTENT_UNSUBSCRIBE, LANG_NL, "(ik )?(wil|wens)( graag)? geen "
	    "(mail|mails|e ?mails|updates|nieuwsbrief|berichten) meer "
	    "(ontvangen|krijgen)" },

	/* English leaving */
	{ INTENT_UNSUBSCRIBE, LANG_EN, "(please )?unsubscribe( me)?"
	    "( please)?" },
	{ INTENT_UNSUBSCRIBE, LANG_EN, "(please )?(unsubscribe|remove) me"
	    "( from (the|this|your) (list|community|newsletter|"
	    "mailing list))?( please)?" },
	{ INTENT_UNSUBSCRIBE, LANG_EN, "(i )?((would|d) like|want) to "
	    "(unsubscribe|be removed|leave)( from)?( (the|this|your))?"
	    "( (list|community|newsletter|mailing list))?( please)?" },
	{ INTENT_UNSUBSCRIBE, LANG_EN, "(please )?take me off( (the|this|"
	    "your))?( (list|mailing list))?( please)?" },

	/* Withdrawing a PS note */
	{ INTENT_WITHDRAW, LANG_NL, "(graag )?(ik wil )?(graag )?(mijn )?"
	    "(ps|ps noot|psnoot|noot|samenwerkingsnoot|persoonlijke "
	    "samenwerkingsnoot) (graag )?(intrekken|terugtrekken|verwijderen|"
	    "weghalen|wissen)( graag| alsjeblieft| aub)?" },
	{ INTENT_WITHDRAW, LANG_NL, "(graag )?(trek|haal) (mijn|de) (ps|"
	    "ps noot|psnoot|samenwerkingsnoot) (graag )?(in|weg|terug)"
	    "( graag| alsjeblieft| aub)?" },
	{ INTENT_WITHDRAW, LANG_EN, "(please )?(i want to |i d like to )?"
	    "(withdraw|remove|delete|take down) my (ps )?note( please)?" },
	{ INTENT_WITHDRAW, LANG_EN, "(please )?(withdraw|remove|delete) "
	    "(ps )?note( please)?" },

	/* A member's own data (selfservice.h) */
	{ INTENT_MY_DATA, LANG_NL, "(graag |stuur (me|mij) )?(al )?mijn "
	    "(persoons)?gegevens( graag| alsjeblieft| aub| opvragen| "
	    "inzien)?" },
	{ INTENT_MY_DATA, LANG_NL, "(ik wil )?(graag )?(inzage|inzien)"
	    "( in)?( al)? mijn (persoons)?gegevens( graag)?" },
	{ INTENT_MY_DATA, LANG_NL, "welke gegevens (hebben|bewaren|kennen) "
	    "(jullie|je|u) (van|over) (mij|me)" },
	{ INTENT_MY_DATA, LANG_EN, "(please )?(send me )?(all )?my "
	    "(personal )?data( please)?" },
	{ INTENT_MY_DATA, LANG_EN, "what (data|information) do you (have|"
	    "keep|hold|store) (on|about) me" },
	{ INTENT_FORGET, LANG_NL, "(graag )?vergeet (mij|me)( graag| "
	    "alsjeblieft| aub)?" },
	{ INTENT_FORGET, LANG_NL, "(graag )?(verwijder|wis) (al )?mijn "
	    "(persoons)?gegevens( graag| alsjeblieft| aub)?" },
	{ INTENT_FORGET, LANG_EN, "(please )?forget (about )?me( please)?" },
	{ INTENT_FORGET, LANG_EN, "(please )?(delete|erase) (all )?my "
	    "(personal )?data( please)?" },
	{ INTENT_LANGUAGE, LANG_EN, "(in )?english( please)?" },
	{ INTENT_LANGUAGE, LANG_EN, "(please )?(write|mail) (to )?me in "
	    "english( please)?" },
	{ INTENT_LANGUAGE, LANG_NL, "(graag |liever )?(in het )?"
	    "nederlands( graag| alsjeblieft| aub)?" },
	{ INTENT_LANGUAGE, LANG_NL, "(schrijf|mail) (me|mij) (graag |"
	    "liever )?in het nederlands( graag)?" },
	{ INTENT_LANGUAGE, LANG_NL, "(in )?dutch please" },
	{ INTENT_PAUSE, LANG_NL, "(graag )?(even )?(pauze|pauzeren|pauzeer)"
	    "( graag| alsjeblieft| aub)?" },
	{ INTENT_PAUSE, LANG_NL, "(graag )?(mijn )?(lidmaatschap|"
	    "nieuwsbrief|updates|mail) (even )?(pauzeren|op pauze)"
	    "( graag)?" },
	{ INTENT_PAUSE, LANG_EN, "(please )?pause( my)?( (mail|mails|"
	    "updates|digest|membership))?( please)?" },
	{ INTENT_RESUME, LANG_NL, "(graag )?(hervat|hervatten|ik ben "
	    "terug)( graag| alsjeblieft| aub)?" },
	{ INTENT_RESUME, LANG_EN, "(please )?(resume|unpause)( my)?"
	    "( (mail|mails|updates|digest|membership))?( please)?" },
	/* The digest's rhythm (digest_rhythm_of() reads the word) */
	{ INTENT_DIGEST, LANG_NL, "(digest|nieuwsbrief) (wekelijks|"
	    "maandelijks|uit)" },
	{ INTENT_DIGEST, LANG_EN, "(digest|newsletter) (weekly|monthly|off)" },
};

/* Whole subjects only (never bodies): help and notes. */
static const struct phrase subject_phrases[] = {
	{ INTENT_HELP, LANG_NL, "hulp" },
	{ INTENT_HELP, -1, "help" },
	{ INTENT_NOTE, LANG_NL, "(mijn )?(ps ?noot|ps|samenwerkingsnoot|"
	    "persoonlijke samenwerkingsnoot)" },
	{ INTENT_NOTE, LANG_EN, "(my )?(note|ps note)" },
};

/* Plus-address details: the precise channel. */
static const struct {
	const char	*detail;
	enum intent	 intent;
	int		 lang;
} details[] = {
	{ "aanmelden", INTENT_SUBSCRIBE, LANG_NL },
	{ "subscribe", INTENT_SUBSCRIBE, LANG_EN },
	{ "join", INTENT_SUBSCRIBE, LANG_EN },
	{ "afmelden", INTENT_UNSUBSCRIBE, LANG_NL },
	{ "unsubscribe", INTENT_UNSUBSCRIBE, LANG_EN },
	{ "leave", INTENT_UNSUBSCRIBE, LANG_EN },
	{ "hulp", INTENT_HELP, LANG_NL },
	{ "help", INTENT_HELP, -1 },
	{ "ps", INTENT_NOTE, -1 },
	{ "update", INTENT_UPDATE, -1 },
};

/* Token details: "<word>-<token>". */
static const struct {
	const char	*prefix;
	enum intent	 intent;
	int		 lang;
} token_details[] = {
	{ ADDR_CONFIRM "-", INTENT_CONFIRM, LANG_NL },
	{ "confirm-", INTENT_CONFIRM, LANG_EN },
	{ ADDR_UNSUBSCRIBE "-", INTENT_UNSUBSCRIBE, LANG_NL },
	{ "unsubscribe-", INTENT_UNSUBSCRIBE, LANG_EN },
	/* an invitation's Reply-To (rsvp.h): "ja", "nee", "misschien" */
	{ "antwoord-", INTENT_RSVP, -1 },
};

/* A reply that says no must not confirm anything. */
static const char *const refusal_re =
    "(^| )(nee|neen|niet aangevraagd|niet aangemeld|niet gedaan|"
    "niet ik|was ik niet|no|not me|did not|didn t|never asked|"
    "afmelden|unsubscribe|stop)( |$)";

/* Words that tie a longer text to this community, for subject commands. */
static const char *const community_re =
    "(^| )(community|nieuwsbrief|updates?|op de hoogte|lijst|mailinglijst|"
    "newsletter|list|mailing list|informed|posted|energie|botu|"
    "bospolder|tussendijken|artikel|article|meedoen|lsa|"
    "energietransitie|samenwerking)( |$)";

/* ...and words that say the sign-up is for something else. */
static const char *const event_re =
    "(^| )(borrel|buurtborrel|workshop|bijeenkomst|avond|vergadering|"
    "cursus|excursie|meeting|event|activiteit|wandeling|training|webinar|"
    "feest|etentje|lunch|diner|rondleiding|markt|spreekuur|inloop|"
    "informatieavond|zaterdag|zondag|vrijdag|party|dinner|tour)( |$)";

static regex_t phrase_re[NELEM(phrases)];
static regex_t subject_re[NELEM(subject_phrases)];
/*
 * A moderator's verdict on a note: "afwijzen, no phone numbers" is a
 * decision that notes.c reads, not a refusal to confirm.
 */
static const char *const verdict_re =
    "^(akkoord|ok|oké|oke|okay|approve|approved|goedkeuren|goedgekeurd|"
    "afwijzen|afgewezen|reject|rejected|weigeren)( |$)";

static regex_t refusal, community, event, verdict;
static pthread_once_t compiled = PTHREAD_ONCE_INIT;

static void
compile_one(regex_t *re, const char *pattern, int anchor)
{
	char *full = anchor ? xasprintf("^(%s)$", pattern) : xstrdup(pattern);

	if (regcomp(re, full, REG_EXTENDED | REG_NOSUB) != 0)
		fatalx("classify: bad pattern %s", full);
	free(full);
}

static void
compile_all(void)
{
	for (size_t i = 0; i < NELEM(phrases); i++)
		compile_one(&phrase_re[i], phrases[i].re, 1);
	for (size_t i = 0; i < NELEM(subject_phrases); i++)
		compile_one(&subject_re[i], subject_phrases[i].re, 1);
	compile_one(&refusal, refusal_re, 0);
	compile_one(&community, community_re, 0);
	compile_one(&event, event_re, 0);
	compile_one(&verdict, verdict_re, 0);
}

static int
matches(const regex_t *re, const char *text)
{
	return regexec(re, text, 0, NULL, 0) == 0;
}

/* ---- helpers ---- */

int
classify_is_token(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz234567");

	return n == TOKEN_CHARS && s[n] == '\0';
}

static void
set(struct classification *c, enum intent i, enum channel ch, int lang,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
set(struct classification *c, enum intent i, enum channel ch, int lang,
    const char *fmt, ...)
{
	va_list ap;

	c->intent = i;
	c->channel = ch;
	if (lang >= 0)
		c->lang = lang;
	va_start(ap, fmt);
	vsnprintf(c->rule, sizeof(c->rule), fmt, ap);
	va_end(ap);
}

static int
header_has(const struct message *m, const char *name)
{
	return message_header(m, name) != NULL;
}

/* ---- what botu owns, and automatic mail ---- */

static int
our_loop(const struct botu_conf *conf, const struct message *m)
{
	const struct msg_header *h = NULL;

	while ((h = message_header_next(m, "X-Loop", h)) != NULL)
		if (strcasestr(h->value, conf->list.address) != NULL)
			return 1;
	return 0;
}


static const char *const auto_senders[] = {
	"mailer-daemon", "postmaster", "noreply", "no-reply", "no_reply",
	"donotreply", "do-not-reply", "do_not_reply", "bounce", "bounces",
	"autoreply", "auto-reply", "notifications", "notification", NULL,
};

static const char *const auto_subjects[] = {
	"automatisch antwoord", "automatisch bericht", "automatic reply",
	"auto reply", "autoreply", "auto-reply", "auto:", "autosvar",
	"out of office", "out of the office", "afwezig", "niet aanwezig",
	"afwezigheidsbericht", "abwesenheit", "réponse automatique",
	"vacation", "away from", "ooo ", "ooo:", "on vacation",
	"met vakantie", "buiten kantoor", NULL,
};

static int
sender_is_automatic(const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t local = at != NULL ? (size_t)(at - addr) : strlen(addr);

	for (size_t i = 0; auto_senders[i] != NULL; i++)
		if (strlen(auto_senders[i]) == local &&
		    strncasecmp(addr, auto_senders[i], local) == 0)
			return 1;
	return 0;
}

static int
subject_is_automatic(const char *subject)
{
	const char *s = subject;

	while (*s == ' ')
		s++;
	for (size_t i = 0; auto_subjects[i] != NULL; i++)
		if (strncasecmp(s, auto_subjects[i],
		    strlen(auto_subjects[i])) == 0)
			return 1;
	return 0;
}

/* Fills rule and returns 1 when the mail was written by a machine. */
static int
automatic(const struct message *m, char *rule, size_t len)
{
	const char *v;

	if ((v = message_header(m, "Auto-Submitted")) != NULL &&
	    strncasecmp(v, "no", 2) != 0) {
		snprintf(rule, len, "Auto-Submitted: %s", v);
		return 1;
	}
	if ((v = message_header(m, "Precedence")) != NULL &&
	    (strcasestr(v, "bulk") || strcasestr(v, "junk") ||
	    strcasestr(v, "list") || strcasestr(v, "auto_reply"))) {
		snprintf(rule, len, "Precedence: %s", v);
		return 1;
	}
	static const char *const marks[] = { "X-Autoreply", "X-Autorespond",
	    "X-Autoresponder", "X-Autogenerated", "X-AutoReply-From",
	    "X-Mail-Autoreply", "X-MS-Exchange-Inbox-Rules-Loop",
	    "List-Id", "List-Unsubscribe", "Feedback-ID", NULL };
	for (size_t i = 0; marks[i] != NULL; i++)
		if (header_has(m, marks[i])) {
			snprintf(rule, len, "%s header (%s)", marks[i],
			    strncmp(marks[i], "List", 4) == 0 ||
			    strcmp(marks[i], "Feedback-ID") == 0 ?
			    "mail from a mailing list or sender service" :
			    "an automatic answer");
			return 1;
		}
	/* Read receipts and other reports: opening a mail is no consent. */
	if (strcmp(m->content_type, "multipart/report") == 0) {
		snprintf(rule, len, "a report written by a machine "
		    "(multipart/report)");
		return 1;
	}
	if (m->return_path != NULL && m->return_path[0] == '\0') {
		snprintf(rule, len, "empty Return-Path <>");
		return 1;
	}
	if (sender_is_automatic(m->from.addr)) {
		snprintf(rule, len, "sent by %s", m->from.addr);
		return 1;
	}
	if (subject_is_automatic(m->subject)) {
		snprintf(rule, len, "the subject of an automatic answer");
		return 1;
	}
	return 0;
}

/* ---- addresses ---- */

/* Every address the mail was sent to: envelope headers first. */
static char **
recipients(const struct message *m)
{
	static const char *const envelope[] = { "Delivered-To",
	    "X-Original-To", "Envelope-To", NULL };
	const struct msg_header *h;
	char **v = NULL;

	for (size_t i = 0; envelope[i] != NULL; i++)
		for (h = NULL; (h = message_header_next(m, envelope[i], h));) {
			char *a = str_trim(xstrdup(h->value));
			size_t n = strlen(a);

			if (a[0] == '<' && n > 1 && a[n - 1] == '>') {
				memmove(a, a + 1, n - 2);
				a[n - 2] = '\0';
			}
			v = strv_add(v, a);
			free(a);
		}
	for (size_t i = 0; i < m->nrcpts; i++)
		v = strv_add(v, m->rcpts[i].addr);
	return v;
}

/* Mail to a +bounce-... address: a report about one of botu's mails. */
static int
to_bounce_address(const struct botu_conf *conf, const struct message *m)
{
	char **rcpts = recipients(m), *detail = NULL;
	int found = 0;

	for (size_t i = 0; rcpts != NULL && rcpts[i] != NULL && !found; i++) {
		if (addr_detail(conf, rcpts[i], &detail))
			found = strncmp(detail, VERP_PREFIX,
			    strlen(VERP_PREFIX)) == 0;
		free(detail);
		detail = NULL;
	}
	strv_free(rcpts);
	return found;
}

/* The token or command detail of the first plus-address of ours. */
static int
by_address(const struct botu_conf *conf, const struct message *m,
    struct classification *c)
{
	char **rcpts = recipients(m), *detail = NULL;
	int found = 0;

	for (size_t i = 0; rcpts != NULL && rcpts[i] != NULL && !found; i++) {
		if (!addr_detail(conf, rcpts[i], &detail))
			continue;
		for (size_t k = 0; k < NELEM(token_details) && !found; k++) {
			size_t p = strlen(token_details[k].prefix);

			if (strncmp(detail, token_details[k].prefix, p) != 0 ||
			    !classify_is_token(detail + p))
				continue;
			str_copy(c->token, detail + p, sizeof(c->token));
			set(c, token_details[k].intent, CHANNEL_TOKEN_ADDRESS,
			    token_details[k].lang, "sent to %s", rcpts[i]);
			found = 1;
		}
		for (size_t k = 0; k < NELEM(details) && !found; k++)
			if (strcmp(detail, details[k].detail) == 0) {
				set(c, details[k].intent, CHANNEL_PLUS_ADDRESS,
				    details[k].lang, "sent to %s", rcpts[i]);
				found = 1;
			}
		free(detail);
		detail = NULL;
	}
	strv_free(rcpts);
	return found;
}

/* "Re: Bevestig je aanmelding [TOKEN]": a token in brackets. */
static int
subject_token(const char *subject, char *token, size_t len)
{
	for (const char *p = strchr(subject, '['); p != NULL;
	    p = strchr(p + 1, '[')) {
		char cand[TOKEN_CHARS + 1];
		size_t n = strcspn(p + 1, "]");

		if (n != TOKEN_CHARS || p[1 + n] != ']')
			continue;
		memcpy(cand, p + 1, n);
		cand[n] = '\0';
		str_lower(cand);
		if (classify_is_token(cand)) {
			str_copy(token, cand, len);
			return 1;
		}
	}
	return 0;
}

/* ---- human commands ---- */

static int
match_phrases(const char *text, enum intent *intent, int *lang)
{
	for (size_t i = 0; i < NELEM(phrases); i++)
		if (matches(&phrase_re[i], text)) {
			*intent = phrases[i].intent;
			*lang = phrases[i].lang;
			return 1;
		}
	return 0;
}

/* Extra words from [intent]: the whole normalised text equals one. */
static int
match_extra(const struct botu_conf *conf, const char *text,
    enum intent *intent, int *lang)
{
	static const enum intent kinds[] = { INTENT_SUBSCRIBE,
	    INTENT_UNSUBSCRIBE, INTENT_HELP };
	char **const *lists[] = { conf->intent.subscribe,
	    conf->intent.unsubscribe, conf->intent.help };
	char prefix;

	for (size_t k = 0; k < NELEM(kinds); k++)
		for (int l = 0; l < LANG_COUNT; l++)
			for (char **w = lists[k][l]; w != NULL && *w; w++) {
				char *norm = text_subject(*w, &prefix);
				int same = strcmp(norm, text) == 0;

				free(norm);
				if (same) {
					*intent = kinds[k];
					*lang = l;
					return 1;
				}
			}
	return 0;
}

/* Dutch or English, by common words; -1 when it cannot tell. */
static int
guess_language(const char *core)
{
	static const char *const nl[] = { "de", "het", "een", "en", "ik",
	    "je", "wil", "graag", "van", "voor", "niet", "met", "op", "is",
	    "dat", "mij", "me", "hoogte", "jullie", "aan", "ook", "ja",
	    "bevestig", "aanmelding", "afmelden", "dank", "bedankt", NULL };
	static const char *const en[] = { "the", "and", "i", "you", "to",
	    "of", "for", "not", "with", "is", "that", "please", "would",
	    "like", "me", "my", "your", "want", "keep", "thanks", "yes",
	    "confirm", "subscription", "unsubscribe", "thank", NULL };
	int score[2] = { 0, 0 };
	char *copy = xstrdup(core), *save = NULL;

	for (char *w = strtok_r(copy, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save))
		for (int l = 0; l < 2; l++)
			for (const char *const *k = l ? en : nl; *k; k++)
				if (strcmp(w, *k) == 0)
					score[l]++;
	free(copy);
	if (score[0] == score[1])
		return -1;
	return score[0] > score[1] ? LANG_NL : LANG_EN;
}

static int
member_language(const struct sender_facts *f)
{
	if (f != NULL && f->language != NULL && strcmp(f->language, "en") == 0)
		return LANG_EN;
	if (f != NULL && f->language != NULL && strcmp(f->language, "nl") == 0)
		return LANG_NL;
	return -1;
}

/* A subject command, unless the text says it is about something else. */
static void
by_subject(const struct botu_conf *conf, const char *subj,
    const char *core, const char *own, struct classification *c)
{
	enum intent intent = INTENT_LEAVE_ALONE, body_intent;
	int lang = -1, body_lang;
	size_t i;

	for (i = 0; i < NELEM(subject_phrases); i++)
		if (matches(&subject_re[i], subj)) {
			intent = subject_phrases[i].intent;
			lang = subject_phrases[i].lang;
			break;
		}
	if (intent == INTENT_LEAVE_ALONE &&
	    !match_phrases(subj, &intent, &lang) &&
	    !match_extra(conf, subj, &intent, &lang))
		return;
	/* Subject "PS-noot", text "ik wil mijn PS-noot intrekken". */
	if (intent == INTENT_NOTE && match_phrases(core, &body_intent,
	    &body_lang) && body_intent == INTENT_WITHDRAW) {
		set(c, INTENT_WITHDRAW, CHANNEL_BODY, body_lang, "the whole "
		    "text is '%s'", core);
		return;
	}
	/*
	 * "Aanmelden" with a text about the neighbourhood party is not a
	 * sign-up. Help and notes are what the subject says, whatever the
	 * text; so are a member's data requests, whose answers only go to
	 * the stored address (selfservice.h).
	 */
	if (intent != INTENT_NOTE && intent != INTENT_HELP &&
	    intent != INTENT_MY_DATA && intent != INTENT_FORGET &&
	    text_count_words(core) > 3 &&
	    !(match_phrases(core, &body_intent, &body_lang) &&
	    body_intent == intent) &&
	    (strchr(own, '?') != NULL || !matches(&community, core) ||
	    matches(&event, core) || text_count_words(core) > SHORT_TEXT)) {
		set(c, INTENT_LEAVE_ALONE, CHANNEL_SUBJECT, lang, "the subject "
		    "is '%s', but the text is about something else", subj);
		return;
	}
	set(c, intent, CHANNEL_SUBJECT, lang, "the subject is '%s'", subj);
}

static void
by_body(const struct botu_conf *conf, const char *core,
    struct classification *c)
{
	enum intent intent;
	int lang;

	if (core[0] == '\0' || text_count_words(core) > SHORT_TEXT)
		return;
	if (match_phrases(core, &intent, &lang) ||
	    match_extra(conf, core, &intent, &lang))
		set(c, intent, CHANNEL_BODY, lang, "the whole text is '%s'",
		    core);
}

/* A member's text that is nothing but "naam: ..." and "rol: ...". */
static void
by_profile(struct classification *c)
{
	struct note_text t;

	if (!notes_profile_lines(c->own_words, &t))
		return;
	set(c, INTENT_PROFILE, CHANNEL_BODY, -1, "the text is only %s%s%s",
	    t.name != NULL ? "a name" : "", t.name != NULL &&
	    t.role != NULL ? " and " : "", t.role != NULL ? "a role" : "");
	note_text_clear(&t);
}

/* A member's "nieuw adres: x@y" (selfservice.h parses it). */
static void
by_new_address(const char *raw, char prefix, struct classification *c)
{
	char addr[256];
	int how;

	how = selfservice_new_address(prefix == 0 ? raw : NULL, c->own_words,
	    addr, sizeof(addr));
	if (how != 0)
		set(c, INTENT_ADDRESS, how == 'S' ? CHANNEL_SUBJECT :
		    CHANNEL_BODY, -1, "the %s is only a new address",
		    how == 'S' ? "subject" : "text");
}

/* A reply to a confirmation request, or mail to a token address. */
static void
check_refusal(const char *core, struct classification *c)
{
	if (c->intent != INTENT_CONFIRM || !matches(&refusal, core) ||
	    matches(&verdict, core))
		return;
	set(c, INTENT_LEAVE_ALONE, c->channel, -1, "a reply to a "
	    "confirmation request that seems to say no: '%.80s'", core);
	c->token[0] = '\0';
}

static void
human(const struct botu_conf *conf, const struct message *m,
    const struct sender_facts *f, struct classification *c)
{
	char prefix, *subj, *core;
	const char *raw = m->subject;

	core = text_core(c->own_words);
	subj = text_subject(raw, &prefix);
	if (by_address(conf, m, c))
		;
	else if (subject_token(raw, c->token, sizeof(c->token)))
		set(c, INTENT_CONFIRM, CHANNEL_SUBJECT_TOKEN, -1, "a reply "
		    "with a confirmation code in the subject");
	else if (strncasecmp(raw, "[update]", 8) == 0 && prefix == 0)
		set(c, INTENT_UPDATE, CHANNEL_SUBJECT, -1, "the subject starts "
		    "with [update]");
	else if (prefix == 0 && strncasecmp(raw, "ps:", 3) == 0 &&
	    f != NULL && f->status != NULL && strcmp(f->status, "active") == 0)
		set(c, INTENT_NOTE_QUESTION, CHANNEL_SUBJECT, -1, "the subject "
		    "starts with 'PS:'");
	else if (prefix == 0)
		by_subject(conf, subj, core, c->own_words, c);
	if (c->intent == INTENT_LEAVE_ALONE && c->channel == CHANNEL_NONE &&
	    prefix != 'f')
		by_body(conf, core, c);
	if (c->intent == INTENT_LEAVE_ALONE && c->channel == CHANNEL_NONE &&
	    prefix != 'f' && f != NULL)
		by_profile(c);
	if (c->intent == INTENT_LEAVE_ALONE && c->channel == CHANNEL_NONE &&
	    prefix != 'f' && f != NULL)
		by_new_address(raw, prefix, c);
	check_refusal(core, c);
	/* Token addresses say nothing of the language: the words do. */
	if (c->channel == CHANNEL_TOKEN_ADDRESS)
		c->lang = -1;
	if (c->lang < 0 || c->channel == CHANNEL_SUBJECT_TOKEN ||
	    c->intent == INTENT_HELP) {
		char *words = xasprintf("%s %s", subj, core);
		int guess = guess_language(words);

		free(words);
		if (guess >= 0 && (c->lang < 0 || text_count_words(core) >= 3 ||
		    c->intent != INTENT_HELP))
			c->lang = guess;
	}
	if (c->channel == CHANNEL_NONE)
		snprintf(c->rule, sizeof(c->rule), "no command: %s",
		    core[0] == '\0' ? "no text of its own" :
		    "a personal mail");
	free(core);
	free(subj);
}

void
classify(const struct botu_conf *conf, const struct message *m,
    const struct sender_facts *f, struct classification *c)
{
	char rule[sizeof(c->rule)];
	int lang;

	pthread_once(&compiled, compile_all);
	memset(c, 0, sizeof(*c));
	c->lang = -1;
	c->own_words = text_own_words(m->text);
	if (our_loop(conf, m))
		set(c, INTENT_AUTOMATIC, CHANNEL_HEADERS, -1, "botu's own mail "
		    "came back (X-Loop)");
	else if (to_bounce_address(conf, m))
		set(c, INTENT_BOUNCE, CHANNEL_TOKEN_ADDRESS, -1, "sent to a "
		    "bounce address (VERP)");
	else if (bounce_looks_like(m))
		set(c, INTENT_BOUNCE, CHANNEL_HEADERS, -1, "%s",
		    m->feedback != NULL ? "a complaint (ARF feedback report)" :
		    m->dsn != NULL ? "a delivery report (RFC 3464)" :
		    "a delivery report (from a mailer daemon, or with the "
		    "subject of one)");
	else if (m->calendar != NULL &&
	    strcasecmp(m->calendar_method, "REPLY") == 0)
		set(c, INTENT_RSVP, CHANNEL_HEADERS, -1, "an answer to an "
		    "invitation (METHOD:REPLY)");
	else if (automatic(m, rule, sizeof(rule)))
		set(c, INTENT_AUTOMATIC, CHANNEL_HEADERS, -1, "%s", rule);
	else
		human(conf, m, f, c);
	lang = member_language(f);
	if (c->lang < 0)
		c->lang = lang >= 0 ? lang : conf->list.language;
}

void
classification_clear(struct classification *c)
{
	free(c->own_words);
	c->own_words = NULL;
}
