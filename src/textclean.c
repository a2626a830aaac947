/* textclean.c - see textclean.h */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "botu/textclean.h"
#include "botu/util.h"

/* Lines after which nothing is the writer's own: the quoted mail. */
static const char *const cut_exact[] = {
	"-----oorspronkelijk bericht-----",
	"-----original message-----",
	"----- original message -----",
	"-----ursprüngliche nachricht-----",
	"begin doorgestuurd bericht:",
	"begin forwarded message:",
	"--",
	NULL,
};

/* Starts of lines that end the own words (forwards, phone footers). */
static const char *const cut_prefix[] = {
	"---------- forwarded message",
	"---------- doorgestuurd bericht",
	"-------- forwarded message",
	"-------- doorgestuurd bericht",
	"-------- original message",
	"verstuurd vanaf mijn ",
	"verzonden vanaf mijn ",
	"verzonden met ",
	"sent from my ",
	"sent from outlook",
	"sent with ",
	"get outlook for ",
	"outlook voor ",
	"download outlook ",
	"envoyé de mon ",
	NULL,
};

static int
starts_with(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static int
in_list(const char *line, const char *const *list, int prefix)
{
	for (size_t i = 0; list[i] != NULL; i++)
		if (prefix ? starts_with(line, list[i]) :
		    strcasecmp(line, list[i]) == 0)
			return 1;
	return 0;
}

/* "Op di 10 dec. 2026 om 19:30 schreef A <a@b>:", perhaps over two lines;
 * "On Tue, ... wrote:"; Apple's "... heeft ... het volgende geschreven:". */
static int
is_attribution(const char *line, const char *next)
{
	char both[1024];
	size_t n;

	snprintf(both, sizeof(both), "%s %s", line, next != NULL ? next : "");
	n = strlen(line);
	if (starts_with(line, "op ") && strcasestr(both, "schreef") != NULL &&
	    strchr(both, ':') != NULL)
		return 1;
	if (starts_with(line, "op ") && strcasestr(both, "geschreven") != NULL)
		return 1;
	if (starts_with(line, "on ") && strcasestr(both, "wrote") != NULL)
		return 1;
	if (starts_with(line, "am ") && strcasestr(both, "schrieb") != NULL)
		return 1;
	if (n > 0 && line[n - 1] == ':' && (strcasestr(line, " wrote") ||
	    strcasestr(line, " schreef")))
		return 1;
	return 0;
}

/* Outlook's "Van: / Verzonden: / Aan: / Onderwerp:" block. */
static int
is_outlook_header(char *const *lines, size_t i, size_t n)
{
	if (!starts_with(lines[i], "van:") && !starts_with(lines[i], "from:"))
		return 0;
	for (size_t j = i + 1; j < n && j < i + 4; j++)
		if (starts_with(lines[j], "verzonden:") ||
		    starts_with(lines[j], "sent:") ||
		    starts_with(lines[j], "datum:") ||
		    starts_with(lines[j], "date:"))
			return 1;
	return 0;
}

static int
is_rule(const char *line)
{
	size_t n = strspn(line, "_");

	return n >= 10 && line[n] == '\0';
}

/* Splits text into trimmed lines (owned array of owned strings). */
static char **
split_lines(const char *text, size_t *n)
{
	char **lines = NULL, *copy = xstrdup(text), *p = copy, *nl;

	*n = 0;
	for (;;) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		lines = xrealloc(lines, (*n + 1) * sizeof(*lines));
		/* A signature delimiter is "-- " with its space: keep it. */
		lines[*n] = strcmp(p, "-- ") == 0 || strcmp(p, "--\r") == 0 ?
		    xstrdup("--") : str_trim(xstrdup(p));
		(*n)++;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	free(copy);
	return lines;
}

static void
free_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

char *
text_own_words(const char *body)
{
	size_t n, i, first = 0, last = 0;
	char **lines = split_lines(body != NULL ? body : "", &n);
	struct buf b;

	buf_init(&b);
	for (i = 0; i < n; i++) {
		const char *l = lines[i];

		if (in_list(l, cut_exact, 0) || in_list(l, cut_prefix, 1) ||
		    is_rule(l) || is_outlook_header(lines, i, n) ||
		    is_attribution(l, i + 1 < n ? lines[i + 1] : NULL))
			break;
		if (l[0] == '>')
			continue;
		if (l[0] != '\0' && b.len == 0)
			first = 1;
		if (!first)
			continue;
		buf_adds(&b, l);
		buf_addc(&b, '\n');
		if (l[0] != '\0')
			last = b.len;
	}
	buf_truncate(&b, last > 0 ? last - 1 : 0);
	free_lines(lines, n);
	return buf_detach(&b);
}

/*
 * Letters of the scripts people write in stay (Latin with accents, Greek,
 * Cyrillic, Arabic, CJK, ...); punctuation, symbols and emoji become
 * spaces, so "Meld me aan! 😊" reads as "meld me aan".
 */
static int
is_letter_cp(unsigned int cp)
{
	if (cp < 0x80)
		return isalnum((int)cp);
	if (cp < 0xc0 || cp == 0xd7 || cp == 0xf7)
		return 0;
	if (cp < 0x2000)
		return 1;
	return cp >= 0x3040 && cp < 0xfe00;
}

/* Decodes one UTF-8 sequence at s; *len gets its length (1 if bad). */
static unsigned int
next_cp(const unsigned char *s, size_t *len)
{
	unsigned int cp = s[0];
	size_t n = cp >= 0xf0 ? 4 : cp >= 0xe0 ? 3 : cp >= 0xc0 ? 2 : 1;

	*len = 1;
	if (n == 1)
		return cp;
	cp &= 0xff >> (n + 1);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0xfffd;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	*len = n;
	return cp;
}

/* Lowercase ASCII, everything but letters and digits as single spaces. */
static char *
normalise(const char *in)
{
	const unsigned char *s = (const unsigned char *)in;
	struct buf b;
	int space = 1;
	size_t n;

	buf_init(&b);
	while (*s != '\0') {
		unsigned int cp = next_cp(s, &n);

		if (!is_letter_cp(cp)) {
			if (!space)
				buf_addc(&b, ' ');
			space = 1;
		} else if (cp < 0x80)
			buf_addc(&b, (char)tolower((int)cp));
		else if (cp >= 0xc0 && cp <= 0xde) {
			/* Latin-1 capitals: "Één" reads as "één". */
			cp += 0x20;
			buf_addc(&b, (char)(0xc0 | (cp >> 6)));
			buf_addc(&b, (char)(0x80 | (cp & 0x3f)));
		} else
			buf_add(&b, s, n);
		if (is_letter_cp(cp))
			space = 0;
		s += n;
	}
	if (b.len > 0 && b.s[b.len - 1] == ' ')
		buf_truncate(&b, b.len - 1);
	return buf_detach(&b);
}

static int
word_count(const char *norm)
{
	int n = 0;

	for (const char *p = norm; *p != '\0'; p++)
		if (*p != ' ' && (p == norm || p[-1] == ' '))
			n++;
	return n;
}

static const char *const greetings[] = {
	"hoi", "hallo", "hai", "hey", "hi", "hello", "beste", "dag",
	"goedemorgen", "goedemiddag", "goedenavond", "lieve", "dear",
	"good morning", "good afternoon", "good evening", "morning", NULL,
};

static const char *const closings[] = {
	"groet", "groeten", "groetjes", "gr", "grt", "mvg", "vg",
	"met vriendelijke groet", "met vriendelijke groeten",
	"vriendelijke groet", "vriendelijke groeten", "hartelijke groet",
	"hartelijke groeten", "met groet", "liefs", "dank", "dank je",
	"dank je wel", "dankjewel", "dank u", "dank u wel", "bedankt",
	"alvast bedankt", "alvast dank", "thanks", "thank you", "thx",
	"regards", "best regards", "kind regards", "warm regards", "best",
	"cheers", "sincerely", "greetings", "all the best", "tot ziens",
	"doei", NULL,
};

/* "hoi annerike", "dear all": a greeting word and at most 3 more. */
static int
is_greeting(const char *norm)
{
	for (size_t i = 0; greetings[i] != NULL; i++) {
		size_t k = strlen(greetings[i]);

		if (strncmp(norm, greetings[i], k) == 0 &&
		    (norm[k] == '\0' || norm[k] == ' ') &&
		    word_count(norm) <= 4)
			return 1;
	}
	return 0;
}

/* "groetjes piet", "met vriendelijke groet": a closing and a name. */
static int
is_closing(const char *norm)
{
	for (size_t i = 0; closings[i] != NULL; i++) {
		size_t k = strlen(closings[i]);

		if (strncmp(norm, closings[i], k) == 0 &&
		    (norm[k] == '\0' || norm[k] == ' ') &&
		    word_count(norm) <= (int)(word_count(closings[i]) + 3))
			return 1;
	}
	return 0;
}

/* A line that is only a name: one to three capitalised words. */
static int
is_name_line(const char *line)
{
	int words = 0, caps = 0;

	for (const char *p = line; *p != '\0'; p++) {
		if (*p == ' ')
			continue;
		if (p == line || p[-1] == ' ') {
			words++;
			if (isupper((unsigned char)*p) ||
			    (unsigned char)*p >= 0xc0)
				caps++;
		}
		if (isdigit((unsigned char)*p) || strchr(".?!:", *p))
			return 0;
	}
	return words >= 1 && words <= 3 && caps == words;
}

char *
text_core(const char *own)
{
	size_t n, i, end;
	char **lines = split_lines(own != NULL ? own : "", &n);
	struct buf b;

	buf_init(&b);
	end = n;
	for (i = 0; i < n; i++) {
		char *norm = normalise(lines[i]);
		int closing = is_closing(norm);

		free(norm);
		if (closing) {
			end = i;
			break;
		}
	}
	/* A bare name at the end, after the real text, is a signature. */
	while (end > 1 && (lines[end - 1][0] == '\0' ||
	    is_name_line(lines[end - 1])))
		end--;
	for (i = 0; i < end; i++) {
		char *norm = normalise(lines[i]);

		/* A greeting counts only on the first lines. */
		if (norm[0] != '\0' && !(b.len == 0 && is_greeting(norm))) {
			if (b.len > 0)
				buf_addc(&b, ' ');
			buf_adds(&b, norm);
		}
		free(norm);
	}
	free_lines(lines, n);
	return buf_detach(&b);
}

/* Lines after a closing: a few short ones (a name, a phone number). */
static int
is_tail(char *const *lines, size_t from, size_t n)
{
	size_t k = 0;

	for (size_t i = from; i < n; i++) {
		char *norm = normalise(lines[i]);
		int words = word_count(norm);

		free(norm);
		if (words > 6)
			return 0;
		if (lines[i][0] != '\0')
			k++;
	}
	return k <= 5;
}

static int
blank(const char *s)
{
	return s[strspn(s, " \t")] == '\0';
}

char *
text_message(const char *own)
{
	size_t n, i, start = 0, end;
	char **lines = split_lines(own != NULL ? own : "", &n);
	struct buf b;

	int closed = 0;

	end = n;
	/* From the end, so a "Best wel..." inside the text stays. */
	for (i = n; i-- > 0;) {
		char *norm = normalise(lines[i]);
		int closing = norm[0] != '\0' && is_closing(norm);

		free(norm);
		if (closing && is_tail(lines, i + 1, n)) {
			end = i;
			closed = 1;
			break;
		}
	}
	while (end > 0 && blank(lines[end - 1]))
		end--;
	/* A bare name under the text, when there is text above it. */
	if (!closed && end > 2 && is_name_line(lines[end - 1]) &&
	    blank(lines[end - 2])) {
		for (i = 0; i + 2 < end && blank(lines[i]); i++)
			;
		if (i + 2 < end)
			end--;
	}
	while (start < end && blank(lines[start]))
		start++;
	if (start < end) {
		char *norm = normalise(lines[start]);

		size_t len = strlen(lines[start]);

		/* "Hoi Annerike," alone: "Hoi, ik ben Piet en..." is text. */
		if (is_greeting(norm) && len < 60 && (start + 1 == end ||
		    blank(lines[start + 1]) ||
		    strchr(",!:", lines[start][len - 1]) != NULL))
			start++;
		free(norm);
	}
	buf_init(&b);
	for (i = start; i < end; i++) {
		if (b.len == 0 && blank(lines[i]))
			continue;
		buf_adds(&b, lines[i]);
		buf_addc(&b, '\n');
	}
	while (b.len > 0 && (b.s[b.len - 1] == '\n' ||
	    b.s[b.len - 1] == ' '))
		buf_truncate(&b, b.len - 1);
	free_lines(lines, n);
	return buf_detach(&b);
}

static const char *const reply_prefixes[] = {
	"re", "antw", "antwoord", "aw", "sv", "vs", "ref", NULL,
};

static const char *const forward_prefixes[] = {
	"fwd", "fw", "doorst", "tr", "wg", "doorgestuurd", NULL,
};

/* Length of a "Re:"-like prefix in one of list at s, or 0. */
static size_t
prefix_len(const char *s, const char *const *list)
{
	for (size_t i = 0; list[i] != NULL; i++) {
		size_t k = strlen(list[i]);

		if (strncasecmp(s, list[i], k) != 0)
			continue;
		/* "Re:", "RE :", "Re[2]:" */
		while (s[k] == ' ')
			k++;
		if (s[k] == '[')
			k += strcspn(s + k, "]") + (s[k + strcspn(s + k, "]")]
			    != '\0');
		if (s[k] == ':')
			return k + 1;
	}
	return 0;
}

char *
text_subject(const char *subject, char *prefix)
{
	const char *s = subject != NULL ? subject : "";
	size_t k;

	*prefix = 0;
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if ((k = prefix_len(s, reply_prefixes)) > 0) {
			if (*prefix == 0)
				*prefix = 'r';
		} else if ((k = prefix_len(s, forward_prefixes)) > 0)
			*prefix = 'f';
		else if (*s == '[' && strchr(s, ']') != NULL &&
		    strchr(s, ']') - s < 40 && strchr(s, ']')[1] != '\0')
			k = (size_t)(strchr(s, ']') - s) + 1;
		else
			break;
		s += k;
	}
	return normalise(s);
}

int
text_count_words(const char *core)
{
	return word_count(core);
}
