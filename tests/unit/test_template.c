/*
 * Unit tests of the template module: the mustache subset, the file lookup,
 * and every shipped template in templates/ rendered in nl and en.
 */
#include "testutil.h"

#include <ctype.h>
#include <dirent.h>
#include <sys/wait.h>

#include "botu/template.h"
#include "botu/util.h"

/* Renders text and expects success; the caller frees the result. */
static char *
render(const char *text, const struct tmpl_vars *v, enum tmpl_mode mode)
{
	char err[BOTU_ERRLEN] = "", *out = NULL;

	if (tmpl_render(text, v, mode, &out, err) != BOTU_OK)
		fail_msg("render failed: %s", err);
	assert_non_null(out);
	return out;
}

static void
assert_renders(const char *text, const struct tmpl_vars *v,
    enum tmpl_mode mode, const char *want)
{
	char *out = render(text, v, mode);

	assert_string_equal(out, want);
	free(out);
}

static void
assert_fails(const char *text, const char *want_err)
{
	char err[BOTU_ERRLEN] = "", *out = NULL;

	assert_int_equal(tmpl_render(text, NULL, TMPL_TEXT, &out, err),
	    BOTU_EDATA);
	assert_null(out);
	if (strstr(err, want_err) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want_err);
}

static void
test_variables(void **state)
{
	struct tmpl_vars *v = tmpl_vars_new();

	(void)state;
	tmpl_set(v, "name", "Jan");
	tmpl_setf(v, "count", "%d notes", 3);
	assert_renders("Hi {{name}}, {{ count }}.", v, TMPL_TEXT,
	    "Hi Jan, 3 notes.");
	assert_renders("[{{nobody}}]", v, TMPL_TEXT, "[]");
	tmpl_set(v, "name", "Piet");
	assert_renders("{{name}}", v, TMPL_TEXT, "Piet");
	tmpl_set(v, "name", NULL);
	assert_renders("<{{name}}>{{#name}}set{{/name}}", v, TMPL_TEXT,
	    "<>");
	assert_renders("no tags } here {", v, TMPL_TEXT, "no tags } here {");
	assert_renders("", v, TMPL_TEXT, "");
	tmpl_vars_free(v);
	tmpl_vars_free(NULL);
}

static void
test_html_escaping(void **state)
{
	struct tmpl_vars *v = tmpl_vars_new();

	(void)state;
	tmpl_set(v, "x", "<script>alert(\"hi\") && 'x'</script>");
	assert_renders("<p>{{x}}</p>", v, TMPL_HTML, "<p>&lt;script&gt;"
	    "alert(&quot;hi&quot;) &amp;&amp; &#39;x&#39;&lt;/script&gt;"
	    "</p>");
	assert_renders("{{{x}}}", v, TMPL_HTML,
	    "<script>alert(\"hi\") && 'x'</script>");
	assert_renders("{{x}}", v, TMPL_TEXT,
	    "<script>alert(\"hi\") && 'x'</script>");
	tmpl_set(v, "amp", "Tom & Jerry");
	assert_renders("<a title=\"{{amp}}\">", v, TMPL_HTML,
	    "<a title=\"Tom &amp; Jerry\">");
	tmpl_vars_free(v);
}

static void
test_values_not_expanded(void **state)
{
	struct tmpl_vars *v = tmpl_vars_new();

	(void)state;
	tmpl_set(v, "x", "boom");
	tmpl_set(v, "evil", "{{x}} {{#x}}y{{/x}} {{{x}}} {{/nothing}}");
	assert_renders("{{evil}}", v, TMPL_TEXT,
	    "{{x}} {{#x}}y{{/x}} {{{x}}} {{/nothing}}");
	assert_renders("{{{evil}}}", v, TMPL_HTML,
	    "{{x}} {{#x}}y{{/x}} {{{x}}} {{/nothing}}");
	tmpl_vars_free(v);
}

static void
test_utf8(void **state)
{
	struct tmpl_vars *v = tmpl_vars_new();

	(void)state;
	tmpl_set(v, "name", "Zoë 🌱 Öztürk — coöperatie");
	assert_renders("Dag {{name}} ☀️, één stap.", v, TMPL_HTML,
	    "Dag Zoë 🌱 Öztürk — coöperatie ☀️, één stap.");
	tmpl_vars_free(v);
}

static void
test_sections_over_lists(void **state)
{
	struct tmpl_vars *v = tmpl_vars_new(), *it;

	(void)state;
	tmpl_set(v, "title", "Notes");
	it = tmpl_add_item(v, "notes");
	tmpl_set(it, "who", "Ali");
	it = tmpl_add_item(v, "notes");
	tmpl_set(it, "who", "Bea");
	tmpl_set(it, "title", "Inner");
	assert_renders("{{title}}:\n{{#notes}}\n- {{who}} ({{title}})\n"
	    "{{/notes}}\nend\n", v, TMPL_TEXT,
	    "Notes:\n- Ali (Notes)\n- Bea (Inner)\nend\n");
	assert_renders("{{^notes}}none{{/notes}}", v, TMPL_TEXT, "");
	/* A list renders as nothing where a string is expected. */
	assert_renders("[{{notes}}]", v, TMPL_TEXT, "[]");
	tmpl_vars_free(v);
}

static void
test_nested_lists_outer_scope(void **state)
{
	struct tmpl_vars *v = tmpl_vars_new(), *m, *a;

	(void)state;
	tmpl_set(v, "list", "BoTu");
	m = tmpl_add_item(v, "meetings");
	tmpl_set(m, "what", "Kernteam");
	a = tmpl_add_item(m, "people");
	tmpl_set(a, "who", "Ali");
	a = tmpl_add_item(m, "people");
	tmpl_set(a, "who", "Bea");
	m = tmpl_add_item(v, "meetings");
	tmpl_set(m, "what", "Buurt");
	assert_renders("{{#meetings}}{{what}}@{{list}}:"
	    "{{#people}} {{who}}/{{what}}/{{list}}{{/people}}"
	    "{{^people}} nobody{{/people}};{{/meetings}}", v, TMPL_TEXT,
	    "Kernteam@BoTu: Ali/Kernteam/BoTu Bea/Kernteam/BoTu;"
	    "Buurt@BoTu: nobody;");
	tmpl_vars_free(v);
}

static void
test_string_sections_and_inverted(void **state)
{
	struct tmpl_vars *v = tmpl_vars_new(), *it;

	(void)state;
	tmpl_set(v, "name", "Jan");
	tmpl_set(v, "empty", "");
	assert_renders("Hallo{{#name}} {{name}}{{/name}},", v, TMPL_TEXT,
	    "Hallo Jan,");
	assert_renders("Hallo{{#empty}} {{empty}}{{/empty}},", v, TMPL_TEXT,
	    "Hallo,");
	assert_renders("Hallo{{#unset}} x{{/unset}},", v, TMPL_TEXT,
	    "Hallo,");
	assert_renders("{{^empty}}E{{/empty}}{{^unset}}U{{/unset}}"
	    "{{^name}}N{{/name}}", v, TMPL_TEXT, "EU");
	/* A string replaced by a list, and a list by a string. */
	it = tmpl_add_item(v, "name");
	tmpl_set(it, "x", "1");
	assert_renders("{{#name}}[{{x}}]{{/name}}", v, TMPL_TEXT, "[1]");
	tmpl_set(v, "name", "again");
	assert_renders("{{#name}}{{name}}{{/name}}", v, TMPL_TEXT, "again");
	tmpl_vars_free(v);
}

static void
test_standalone_lines(void **state)
{
	struct tmpl_vars *v = tmpl_vars_new();

	(void)state;
	tmpl_set(v, "a", "yes");
	/* Section and comment tags alone on a line take the line along. */
	assert_renders("one\n  {{#a}}  \ntwo\n\t{{/a}}\nthree\n"
	    "{{! a comment }}\nfour\n", v, TMPL_TEXT,
	    "one\ntwo\nthree\nfour\n");
	assert_renders("one\r\n{{#a}}\r\ntwo\r\n{{/a}}\r\n", v, TMPL_TEXT,
	    "one\r\ntwo\r\n");
	assert_renders("{{^a}}\nhidden\n{{/a}}\nshown", v, TMPL_TEXT,
	    "shown");
	/* At the very end, without a line end. */
	assert_renders("x\n{{#a}}\ny\n  {{/a}}", v, TMPL_TEXT, "x\ny\n");
	/* Not alone: text or a variable on the line keeps it. */
	assert_renders("- {{#a}}\nz{{/a}} -\n", v, TMPL_TEXT, "- \nz -\n");
	assert_renders("{{a}}\n{{a}} {{#a}}\n{{/a}}", v, TMPL_TEXT,
	    "yes\nyes \n");
	/* Variables never take the line. */
	assert_renders("[\n{{nothing}}\n]", v, TMPL_TEXT, "[\n\n]");
	assert_renders("{{!\nmulti-line\ncomment\n}}\nafter", v, TMPL_TEXT,
	    "after");
	tmpl_vars_free(v);
}

static void
test_errors_with_line_numbers(void **state)
{
	(void)state;
	assert_fails("a\nb\n{{#items}}\nc\n", "line 3: {{#items}} is never "
	    "closed");
	assert_fails("{{^x}}\n", "line 1: {{^x}} is never closed");
	assert_fails("\n{{#a}}\n{{#b}}\n{{/a}}\n{{/b}}",
	    "line 4: {{/a}} does not close {{#b}} of line 3");
	assert_fails("x\n\n{{/a}}", "line 3: {{/a}} closes no section");
	assert_fails("ok\n{{name", "line 2: {{ is never closed");
	assert_fails("{{{name}}", "line 1: {{ is never closed");
	assert_fails("{{!\n\nno end", "line 1: {{ is never closed");
	assert_fails("\n\n\n{{bad name}}", "line 4: bad tag {{bad name}}");
	assert_fails("{{}}", "line 1: bad tag");
	assert_fails("{{> partial}}", "bad tag");
	assert_fails("{{#}}{{/}}", "bad tag");
}

/* depth times "{{#a}}", then "x", then depth times "{{/a}}". */
static char *
nested(int depth)
{
	char *s = malloc((size_t)depth * 12 + 2), *p = s;
	int i;

	for (i = 0; i < depth; i++, p += 6)
		memcpy(p, "{{#a}}", 6);
	*p++ = 'x';
	for (i = 0; i < depth; i++, p += 6)
		memcpy(p, "{{/a}}", 6);
	*p = '\0';
	return s;
}

static void
test_depth_limit(void **state)
{
	struct tmpl_vars *v = tmpl_vars_new(), *scope = v;
	char *s, err[BOTU_ERRLEN], *out = NULL;
	int i;

	(void)state;
	/* 32 nested lists of one item each, all named a: fine. */
	for (i = 0; i < 32; i++)
		scope = tmpl_add_item(scope, "a");
	s = nested(32);
	assert_renders(s, v, TMPL_TEXT, "x");
	free(s);
	s = nested(33);
	assert_int_equal(tmpl_render(s, v, TMPL_TEXT, &out, err),
	    BOTU_EDATA);
	assert_non_null(strstr(err, "line 1: sections nested deeper than "
	    "32"));
	free(s);
	/* Hostile: a hundred thousand opens fail fast, without recursion. */
	s = nested(100000);
	assert_int_equal(tmpl_render(s, v, TMPL_TEXT, &out, err),
	    BOTU_EDATA);
	free(s);
	tmpl_vars_free(v);
}

/* Mail lookup in a temporary tree */

static void
put(const char *dir, const char *rel, const char *text)
{
	char *sub = NULL, *slash, *path;

	assert_true(asprintf(&sub, "%s/%s", dir, rel) > 0);
	slash = strrchr(sub, '/');
	*slash = '\0';
	mkdir(sub, 0755);
	path = write_file(sub, slash + 1, text, 0644);
	free(path);
	free(sub);
}

static int
mail(const char *dir, const char *const *langs, const char *name,
    struct tmpl_mail *m, char *err)
{
	struct tmpl_vars *v = tmpl_vars_new();
	int rc;

	tmpl_set(v, "who", "Jan");
	tmpl_set(v, "multi", "two\r\nlines\nhere");
	rc = tmpl_mail_render(dir, langs, name, v, m, err);
	tmpl_vars_free(v);
	return rc;
}

static void
test_mail_language_order(void **state)
{
	const char *member_fr[] = { "fr", "nl", "en", NULL };
	const char *unknown[] = { "", "de", "../nl", "en", NULL };
	const char *repeats[] = { "de", "de", "en", NULL };
	char *dir = tmpdir_new(), err[BOTU_ERRLEN] = "";
	struct tmpl_mail m;

	(void)state;
	put(dir, "nl/welcome.txt", "Subject: Welkom {{who}}\n\nDag {{who}}\n");
	put(dir, "nl/welcome.html", "<p>Dag {{who}}</p>\n");
	put(dir, "en/welcome.txt", "Subject: Welcome {{who}}\n\nHi\n");
	assert_int_equal(mail(dir, member_fr, "welcome", &m, err), BOTU_OK);
	assert_string_equal(m.lang, "nl");
	assert_string_equal(m.name, "welcome");
	assert_string_equal(m.subject, "Welkom Jan");
	assert_string_equal(m.text, "Dag Jan\n");
	assert_string_equal(m.html, "<p>Dag Jan</p>\n");
	tmpl_mail_clear(&m);
	assert_int_equal(mail(dir, unknown, "welcome", &m, err), BOTU_OK);
	assert_string_equal(m.lang, "en");
	assert_string_equal(m.text, "Hi\n");
	assert_null(m.html);	/* nl's .html is not en's */
	tmpl_mail_clear(&m);
	assert_int_equal(mail(dir, repeats, "nothing", &m, err), BOTU_EDATA);
	assert_non_null(strstr(err, "tried de/nothing.txt, en/nothing.txt)"));
	assert_null(m.subject);
	tmpdir_remove(dir);
}

static void
test_mail_name_fallback(void **state)
{
	const char *langs[] = { "nl", "en", NULL };
	char *dir = tmpdir_new(), err[BOTU_ERRLEN] = "";
	struct tmpl_mail m;

	(void)state;
	put(dir, "nl/confirm.txt", "Subject: Bevestig\nBody\n");
	put(dir, "en/confirm-subscribe-web.txt", "Subject: Full\n\nFull\n");
	/* The shorter nl name wins over the full name in the next language. */
	assert_int_equal(mail(dir, langs, "confirm-subscribe-web", &m, err),
	    BOTU_OK);
	assert_string_equal(m.lang, "nl");
	assert_string_equal(m.name, "confirm");
	assert_string_equal(m.subject, "Bevestig");
	assert_string_equal(m.text, "Body\n");	/* no blank line */
	tmpl_mail_clear(&m);
	assert_int_equal(mail(dir, langs, "reply", &m, err), BOTU_EDATA);
	assert_non_null(strstr(err, "no template reply in"));
	assert_non_null(strstr(err, "nl/reply.txt, en/reply.txt"));
	assert_int_equal(mail(dir, langs, "../etc", &m, err), BOTU_EDATA);
	assert_non_null(strstr(err, "bad template name"));
	assert_int_equal(mail(dir, langs, "confirm-", &m, err), BOTU_EDATA);
	assert_int_equal(mail(dir, NULL, "confirm", &m, err), BOTU_EDATA);
	tmpdir_remove(dir);
}

static void
test_mail_subject_rules(void **state)
{
	const char *langs[] = { "en", NULL };
	char *dir = tmpdir_new(), err[BOTU_ERRLEN] = "";
	struct tmpl_mail m;

	(void)state;
	put(dir, "en/nosubject.txt", "Hello {{who}}\n\nBody\n");
	assert_int_equal(mail(dir, langs, "nosubject", &m, err), BOTU_EDATA);
	assert_non_null(strstr(err, "en/nosubject.txt: the first line must "
	    "be \"Subject: ...\""));
	assert_null(m.text);
	put(dir, "en/empty.txt", "Subject: {{nothing}}  \n\nBody\n");
	assert_int_equal(mail(dir, langs, "empty", &m, err), BOTU_EDATA);
	assert_non_null(strstr(err, "the subject is empty"));
	put(dir, "en/multi.txt", "Subject: About {{multi}}!\n\n{{multi}}\n");
	assert_int_equal(mail(dir, langs, "multi", &m, err), BOTU_OK);
	assert_string_equal(m.subject, "About two lines here!");
	assert_string_equal(m.text, "two\nlines\nhere\n");
	tmpl_mail_clear(&m);
	put(dir, "en/crlf.txt", "Subject: Hi {{who}}\r\n\r\nA\r\nB\r\n");
	assert_int_equal(mail(dir, langs, "crlf", &m, err), BOTU_OK);
	assert_string_equal(m.subject, "Hi Jan");
	assert_string_equal(m.text, "A\nB\n");
	tmpl_mail_clear(&m);
	tmpdir_remove(dir);
}

static void
test_mail_errors_name_file_and_line(void **state)
{
	const char *langs[] = { "nl", "en", NULL };
	char *dir = tmpdir_new(), err[BOTU_ERRLEN] = "", *big;
	struct tmpl_mail m;

	(void)state;
	put(dir, "nl/broken.txt", "Subject: x\n\none\ntwo\n{{#open}}\n");
	put(dir, "en/broken.txt", "Subject: fine\n\nfine\n");
	/* A broken file is an error, not a reason to try English. */
	assert_int_equal(mail(dir, langs, "broken", &m, err), BOTU_EDATA);
	assert_non_null(strstr(err, "nl/broken.txt: line 5: {{#open}} is "
	    "never closed"));
	put(dir, "nl/badhtml.txt", "Subject: x\n\nok\n");
	put(dir, "nl/badhtml.html", "<p>\n{{/p}}</p>\n");
	assert_int_equal(mail(dir, langs, "badhtml", &m, err), BOTU_EDATA);
	assert_non_null(strstr(err, "nl/badhtml.html: line 2: {{/p}} closes "
	    "no section"));
	assert_null(m.subject);
	big = malloc(1024 * 1024 + 100);
	memset(big, 'a', 1024 * 1024 + 99);
	memcpy(big, "Subject: big\n", 13);
	big[1024 * 1024 + 99] = '\0';
	put(dir, "nl/big.txt", big);
	free(big);
	assert_int_equal(mail(dir, langs, "big", &m, err), BOTU_EDATA);
	assert_non_null(strstr(err, "larger than"));
	tmpdir_remove(dir);
}

static void
test_tmpl_dir(void **state)
{
	(void)state;
	assert_string_equal(tmpl_dir("/srv/botu/templates"),
	    "/srv/botu/templates");
	assert_string_equal(tmpl_dir(""), BOTU_TEMPLATEDIR);
	assert_string_equal(tmpl_dir(NULL), BOTU_TEMPLATEDIR);
}

/* The shipped templates */

static const struct sample {
	const char	*name;
	const char	*value;
} samples[] = {
	{ "name",		"Fatima Öztürk" },
	{ "list_name",		"BoTu Energie" },
	{ "list_address",	"annerike@lsabewoners.nl" },
	{ "organizer_name",	"Annerike Hekman" },
	{ "token",		"k7q2m4x9a3b5c6d8e1f0g2h4j6" },
	{ "expires",		"dinsdag 17 november 2026, 19:30" },
	{ "help_address",	"annerike+help@lsabewoners.nl" },
	{ "privacy_version",	"2026-1" },
	{ "ps_address",		"annerike+ps@lsabewoners.nl" },
	{ "subscribe_address",	"annerike+aanmelden@lsabewoners.nl" },
	{ "unsubscribe_address", "annerike+afmelden@lsabewoners.nl" },
	{ "update_address",	"annerike+update@lsabewoners.nl" },
	{ "note_name",		"Fatima Öztürk" },
	{ "note_role",		"woningcorporatie" },
	{ "note_body",		"Ik doe mee omdat ik wil dat iedereen in de "
				"wijk warm woont. Bel me over isolatie." },
	{ "note_id",		"42" },
	{ "author_address",	"fatima@example.org" },
	{ "confirmed",		"maandag 16 november 2026, 10:15" },
	{ "roles",		"bewoner, gemeente, kunstenaar" },
	{ "reason",		"Zonder telefoonnummer graag." },
	{ "note_length",	"1612" },
	{ "max_length",		"1500" },
	{ "decided_by",		"moderator@lsabewoners.nl" },
	{ "member_name",	"Fatima Ö." },
	{ "member_role",	"ondernemer" },
	{ "role_unknown",	"wethouder" },
	{ "moderated",		"yes" },
	{ "attachments_dropped", "yes" },
	{ "profile_changed",	"yes" },
	{ "note_waiting",	"yes" },
	{ "approved",		"yes" },
	{ "rejected",		"yes" },
	{ "withdrawn",		"yes" },
	{ "name_missing",	"yes" },
	{ "since",		"vrijdag 27 november 2026, 08:00" },
	{ "until",		"zaterdag 28 november 2026, 08:00" },
	{ "when",		"maandag 30 november 2026, 10:15" },
	{ "email",		"fatima@example.org" },
	{ "from",		"jan.bakker@example.org" },
	{ "subject",		"Vraag over de buurtborrel" },
	{ "what",		"550 5.1.1 mailbox unavailable" },
	{ "joined_count",	"31" },
	{ "joined_more",	"32" },
	{ "left_count",		"33" },
	{ "left_more",		"34" },
	{ "for_you_count",	"35" },
	{ "for_you_more",	"36" },
	{ "set_aside_count",	"37" },
	{ "set_aside_more",	"38" },
	{ "failed_count",	"39" },
	{ "failed_more",	"41" },
	{ "problems_count",	"42" },
	{ "problems_more",	"43" },
	{ "notes_waiting",	"44" },
	{ "bounces",		"45" },
};

/* Flags: they switch sections on; their value is never shown. */
static const char *const flags[] = { "moderated", "attachments_dropped",
	"profile_changed", "note_waiting", "approved", "rejected",
	"withdrawn", "name_missing" };

/* Optional variables: the texts must read well without them. */
static const char *const optional[] = { "name", "organizer_name",
	"update_address", "note_role", "reason", "member_role",
	"role_unknown", "moderated", "attachments_dropped", "profile_changed",
	"note_waiting", "approved", "rejected", "withdrawn", "name_missing" };

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0, n;
	char chunk[4096];
	FILE *mem = open_memstream(&text, &len);

	if (f == NULL)
		fail_msg("cannot open %s", path);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, mem);
	fclose(f);
	fclose(mem);
	return text;
}

static char *
shipped(const char *rel)
{
	char *path = NULL, *text;

	assert_true(asprintf(&path, "%s/templates/%s", srcdir(), rel) > 0);
	text = slurp(path);
	free(path);
	return text;
}

static const char *
sample_of(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		if (strcmp(samples[i].name, name) == 0)
			return samples[i].value;
	fail_msg("templates/README names %s: give it a sample here", name);
	return NULL;
}

/*
 * The README block of one template ("[name] .txt .html" up to the next
 * "\n["), as an owned string; fails when the template is not listed.
 */
static char *
readme_block(const char *readme, const char *name)
{
	char *head = NULL, *start, *end;

	assert_true(asprintf(&head, "\n[%s]", name) > 0);
	start = strstr(readme, head);
	free(head);
	if (start == NULL) {
		fail_msg("templates/README does not list %s", name);
		return NULL;
	}
	end = strstr(start + 1, "\n[");
	return strndup(start, end ? (size_t)(end - start) : strlen(start));
}

/* The variables a README block lists: lines "\t<name>\t..." (owned). */
static char **
readme_vars(const char *block)
{
	char **vars = calloc(64, sizeof(*vars));
	const char *p = block;
	size_t n = 0, len;

	while ((p = strstr(p, "\n\t")) != NULL) {
		p += 2;
		len = strcspn(p, "\t \n");
		if (len > 0 && n < 63)
			vars[n++] = strndup(p, len);
	}
	return vars;
}

static int
listed(char **vars, const char *name, size_t len)
{
	size_t i;

	for (i = 0; vars[i] != NULL; i++)
		if (strlen(vars[i]) == len && strncmp(vars[i], name, len) == 0)
			return 1;
	return 0;
}

/* Every tag name in a template source must be listed in its block. */
static void
assert_tags_listed(const char *src, char **vars, const char *file)
{
	const char *p = src;
	size_t len;

	while ((p = strstr(p, "{{")) != NULL) {
		p += 2;
		p += strspn(p, "{#^/ ");
		if (*p == '!')
			continue;
		len = strspn(p, "abcdefghijklmnopqrstuvwxyz_0123456789");
		if (!listed(vars, p, len))
			fail_msg("%s uses {{%.*s}}, not in templates/README",
			    file, (int)len, p);
	}
}

/* Runs tests/check-html.py on html: no unclosed or stray tags. */
static void
assert_html_well_formed(const char *html, const char *what)
{
	char *cmd = NULL;
	FILE *p;
	int st;

	assert_true(asprintf(&cmd, "/usr/bin/python3 %s/tests/check-html.py",
	    srcdir()) > 0);
	p = popen(cmd, "w");
	assert_non_null(p);
	fputs(html, p);
	st = pclose(p);
	free(cmd);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("%s: html.parser found unclosed tags (see above)",
		    what);
}

static void
assert_clean(const struct tmpl_mail *m, const char *what)
{
	if (m->subject[0] == '\0' || strpbrk(m->subject, "\r\n") != NULL)
		fail_msg("%s: subject \"%s\" is not one line", what,
		    m->subject);
	if (strstr(m->subject, "{{") || strstr(m->text, "{{") ||
	    (m->html != NULL && strstr(m->html, "{{")))
		fail_msg("%s: {{ left in the output", what);
	if (strstr(m->text, "}}") || strstr(m->subject, "}}"))
		fail_msg("%s: }} left in the output", what);
	if (strstr(m->text, " ,") || strstr(m->text, " .") ||
	    strstr(m->text, ",.") || strstr(m->text, "\n\n\n\n"))
		fail_msg("%s: stray punctuation or blank lines:\n%s", what,
		    m->text);
	if (m->html != NULL)
		assert_html_well_formed(m->html, what);
}

/*
 * What the README says of a variable in a block: the text after its name
 * on its "\t<name>\t..." line (borrowed into a static buffer).
 */
static const char *
readme_desc(const char *block, const char *name)
{
	static char desc[256];
	const char *p = block;
	size_t len = strlen(name);

	while ((p = strstr(p, "\n\t")) != NULL) {
		p += 2;
		if (strncmp(p, name, len) == 0 && (p[len] == '\t' ||
		    p[len] == ' ')) {
			p += len + strspn(p + len, "\t ");
			snprintf(desc, sizeof(desc), "%.*s",
			    (int)strcspn(p, "\n"), p);
			return desc;
		}
	}
	return "";
}

/* "list of a, b: ..." in the README: the fields a and b (owned). */
static char **
list_fields(const char *block, const char *name)
{
	const char *d = readme_desc(block, name), *end;
	char **fields = calloc(16, sizeof(*fields));
	size_t n = 0, len;

	end = strchr(d, ':');
	if (strncmp(d, "list of ", 8) != 0 || end == NULL) {
		free(fields);
		return NULL;
	}
	d += 8;
	while (d < end && n < 15) {
		len = strcspn(d, ",:");
		fields[n++] = strndup(d, len);
		d += len;
		d += strspn(d, ", ");
	}
	return fields;
}

/* A flag: its README line starts with "flag", or it is a note flag. */
static int
is_flag(const char *block, const char *name)
{
	for (size_t k = 0; k < sizeof(flags) / sizeof(*flags); k++)
		if (strcmp(name, flags[k]) == 0)
			return 1;
	return strncmp(readme_desc(block, name), "flag", 4) == 0;
}

static struct tmpl_vars *
vars_for(const char *block, char **names, int with_optional)
{
	struct tmpl_vars *v = tmpl_vars_new(), *item;
	char **fields;
	size_t i, k;
	int opt;

	for (i = 0; names[i] != NULL; i++) {
		opt = 0;
		for (k = 0; k < sizeof(optional) / sizeof(*optional); k++)
			opt |= strcmp(names[i], optional[k]) == 0;
		if (!with_optional && opt)
			continue;
		fields = list_fields(block, names[i]);
		if (fields != NULL) {
			item = tmpl_add_item(v, names[i]);
			for (k = 0; fields[k] != NULL; k++)
				tmpl_set(item, fields[k], is_flag(block,
				    fields[k]) ? "yes" : sample_of(fields[k]));
			strv_free(fields);
		} else if (is_flag(block, names[i]))
			tmpl_set(v, names[i], "yes");
		else
			tmpl_set(v, names[i], sample_of(names[i]));
	}
	return v;
}

/* Every listed variable shows up in the .txt or the .html output (a
 * list's items and flags only choose what shows). */
static void
assert_vars_used(const struct tmpl_mail *m, const char *block,
    char **names, const char *what)
{
	char **fields;
	size_t i;
	const char *val;
	int is_list;

	for (i = 0; names[i] != NULL; i++) {
		fields = list_fields(block, names[i]);
		is_list = fields != NULL;
		strv_free(fields);
		if (is_list || is_flag(block, names[i]))
			continue;
		val = sample_of(names[i]);
		if (!strstr(m->subject, val) && !strstr(m->text, val) &&
		    (m->html == NULL || !strstr(m->html, val)))
			fail_msg("%s: templates/README lists %s, but the mail "
			    "does not use it", what, names[i]);
	}
}

static void
check_one(const char *readme, const char *lang, const char *name)
{
	const char *langs[] = { lang, NULL };
	char *block = readme_block(readme, name), **vars = readme_vars(block);
	char err[BOTU_ERRLEN] = "", what[128], *src, *rel = NULL, *dir = NULL;
	struct tmpl_vars *v;
	struct tmpl_mail m;
	int pass;

	snprintf(what, sizeof(what), "%s/%s", lang, name);
	assert_true(asprintf(&dir, "%s/templates", srcdir()) > 0);
	/* Once with every variable, once with the optional ones unset. */
	for (pass = 0; pass < 2; pass++) {
		v = vars_for(block, vars, pass == 0);
		if (tmpl_mail_render(dir, langs, name, v, &m, err) != BOTU_OK)
			fail_msg("%s: %s", what, err);
		assert_string_equal(m.lang, lang);
		assert_string_equal(m.name, name);
		assert_clean(&m, what);
		if (pass == 0)
			assert_vars_used(&m, block, vars, what);
		if ((m.html != NULL) != (strstr(block, ".html") != NULL))
			fail_msg("%s: .html in README and on disk differ",
			    what);
		tmpl_mail_clear(&m);
		tmpl_vars_free(v);
	}
	assert_true(asprintf(&rel, "%s/%s.txt", lang, name) > 0);
	src = shipped(rel);
	assert_tags_listed(src, vars, rel);
	free(src);
	free(rel);
	if (strstr(block, ".html") != NULL) {
		assert_true(asprintf(&rel, "%s/%s.html", lang, name) > 0);
		src = shipped(rel);
		assert_tags_listed(src, vars, rel);
		free(src);
		free(rel);
	}
	strv_free(vars);
	free(block);
	free(dir);
}

/* Each .txt in templates/<lang>/, as a NULL-terminated list of names. */
static char **
template_names(const char *lang)
{
	char **names = calloc(256, sizeof(*names)), *path = NULL, *dot;
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	assert_true(asprintf(&path, "%s/templates/%s", srcdir(), lang) > 0);
	d = opendir(path);
	if (d == NULL)
		fail_msg("cannot open %s", path);
	while ((e = readdir(d)) != NULL && n < 255) {
		dot = strrchr(e->d_name, '.');
		if (dot != NULL && strcmp(dot, ".txt") == 0)
			names[n++] = strndup(e->d_name,
			    (size_t)(dot - e->d_name));
	}
	closedir(d);
	free(path);
	return names;
}

static void
test_every_shipped_template(void **state)
{
	const char *langs[] = { "nl", "en" };
	char *readme = shipped("README"), **names, **other;
	size_t i, l;

	(void)state;
	for (l = 0; l < 2; l++) {
		names = template_names(langs[l]);
		other = template_names(langs[1 - l]);
		assert_non_null(names[0]);
		for (i = 0; names[i] != NULL; i++) {
			if (!listed(other, names[i], strlen(names[i])))
				fail_msg("%s/%s.txt has no %s twin", langs[l],
				    names[i], langs[1 - l]);
			check_one(readme, langs[l], names[i]);
		}
		strv_free(names);
		strv_free(other);
	}
	free(readme);
}

/* Renders a shipped mail with every sample value set (name optional). */
static void
shipped_mail(const char *lang, const char *name, int with_name,
    struct tmpl_mail *m)
{
	const char *langs[] = { lang, NULL };
	struct tmpl_vars *v = tmpl_vars_new();
	char err[BOTU_ERRLEN] = "", *dir = NULL;
	size_t i;

	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		if (with_name || strcmp(samples[i].name, "name") != 0)
			tmpl_set(v, samples[i].name, samples[i].value);
	assert_true(asprintf(&dir, "%s/templates", srcdir()) > 0);
	if (tmpl_mail_render(dir, langs, name, v, m, err) != BOTU_OK)
		fail_msg("%s/%s: %s", lang, name, err);
	free(dir);
	tmpl_vars_free(v);
}

/* Each of words is in text, wherever the lines were wrapped. */
static void
assert_has(const char *text, const char *const *words, const char *what)
{
	char *flat = strdup(text), *w = flat;
	const char *r;

	for (r = text; *r != '\0'; r++)
		if (!isspace((unsigned char)*r))
			*w++ = *r;
		else if (w > flat && w[-1] != ' ')
			*w++ = ' ';
	*w = '\0';
	for (; *words != NULL; words++)
		if (strstr(flat, *words) == NULL)
			fail_msg("%s lacks \"%s\"", what, *words);
	free(flat);
}

/* AVG/GDPR art. 13: who, why, what, how long, rights, leaving. */
static void
test_confirm_subscribe_privacy_notice(void **state)
{
	static const char *const nl[] = { "BoTu Energie",
		"annerike@lsabewoners.nl", "De organisator van", "Waarom?",
		"updates", "toestemming", "mailadres", "je naam",
		"wat je ons stuurt", "Zolang je lid bent", "binnen 30 dagen",
		"\"mijn gegevens\"", "verbeteren", "\"vergeet mij\"",
		"\"afmelden\"", "afmeldlink", "Autoriteit Persoonsgegevens",
		"niet zelf gevraagd", "niets te doen", "Er gebeurt",
		"verloopt op dinsdag 17 november 2026, 19:30",
		"Beantwoord", "versie 2026-1", NULL };
	static const char *const en[] = { "BoTu Energie",
		"annerike@lsabewoners.nl", "The organiser of", "Why?",
		"updates", "consent", "email address", "your name",
		"what you", "As long as you are a member", "within 30 days",
		"\"my data\"", "correct", "\"forget me\"", "\"unsubscribe\"",
		"unsubscribe link", "Data Protection Authority",
		"Didn't ask for this", "don't need to do anything",
		"Nothing will", "expires", "reply to this email",
		"version 2026-1", NULL };
	struct tmpl_mail m;

	(void)state;
	shipped_mail("nl", "confirm-subscribe", 1, &m);
	assert_has(m.text, nl, "nl/confirm-subscribe.txt");
	assert_has(m.html, nl, "nl/confirm-subscribe.html");
	assert_non_null(strstr(m.subject, "[k7q2m4x9a3b5c6d8e1f0g2h4j6]"));
	assert_non_null(strstr(m.text, "Hallo Fatima Öztürk,\n"));
	tmpl_mail_clear(&m);
	shipped_mail("en", "confirm-subscribe", 1, &m);
	assert_has(m.text, en, "en/confirm-subscribe.txt");
	assert_has(m.html, en, "en/confirm-subscribe.html");
	assert_non_null(strstr(m.subject, "[k7q2m4x9a3b5c6d8e1f0g2h4j6]"));
	tmpl_mail_clear(&m);
}

/* "Hallo Fatima Öztürk," with a name, a neutral "Hallo," without. */
static void
assert_greeting(const char *lang, const char *name, int with_name,
    const char *want)
{
	struct tmpl_mail m;
	char *p = NULL;

	shipped_mail(lang, name, with_name, &m);
	if (strncmp(m.text, want, strlen(want)) != 0)
		fail_msg("%s/%s.txt starts \"%.30s\"", lang, name, m.text);
	assert_true(asprintf(&p, ">%.*s</p>", (int)strlen(want) - 1,
	    want) > 0);
	if (m.html != NULL && strstr(m.html, p) == NULL)
		fail_msg("%s/%s.html lacks %s", lang, name, p);
	free(p);
	tmpl_mail_clear(&m);
}

static void
test_greetings(void **state)
{
	static const char *const names[] = { "confirm-subscribe", "welcome",
		"confirm-unsubscribe", "help", "already-member" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(*names); i++) {
		assert_greeting("nl", names[i], 0, "Hallo,\n");
		assert_greeting("en", names[i], 0, "Hello,\n");
		assert_greeting("nl", names[i], 1, "Hallo Fatima Öztürk,\n");
		assert_greeting("en", names[i], 1, "Hello Fatima Öztürk,\n");
	}
}

/* A hostile name is text in the mail, and markup-free in the HTML. */
static void
test_hostile_name_in_welcome(void **state)
{
	const char *langs[] = { "nl", NULL };
	struct tmpl_vars *v = tmpl_vars_new();
	char err[BOTU_ERRLEN] = "", *dir = NULL;
	struct tmpl_mail m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		tmpl_set(v, samples[i].name, samples[i].value);
	tmpl_set(v, "name", "<script>x</script> {{token}}\r\nBcc: a@b");
	tmpl_set(v, "list_name", "Tom & \"Jerry\"");
	assert_true(asprintf(&dir, "%s/templates", srcdir()) > 0);
	assert_int_equal(tmpl_mail_render(dir, langs, "welcome", v, &m, err),
	    BOTU_OK);
	assert_string_equal(m.subject, "Welkom bij Tom & \"Jerry\"!");
	assert_non_null(strstr(m.text, "Hallo <script>x</script> {{token}}\n"
	    "Bcc: a@b,"));
	assert_null(strstr(m.html, "<script>"));
	assert_non_null(strstr(m.html, "Hallo &lt;script&gt;x&lt;/script&gt; "
	    "{{token}}\nBcc: a@b,"));
	assert_non_null(strstr(m.html, "Tom &amp; &quot;Jerry&quot;"));
	assert_html_well_formed(m.html, "welcome with a hostile name");
	tmpl_mail_clear(&m);
	tmpl_vars_free(v);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_variables),
		cmocka_unit_test(test_html_escaping),
		cmocka_unit_test(test_values_not_expanded),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_sections_over_lists),
		cmocka_unit_test(test_nested_lists_outer_scope),
		cmocka_unit_test(test_string_sections_and_inverted),
		cmocka_unit_test(test_standalone_lines),
		cmocka_unit_test(test_errors_with_line_numbers),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_mail_language_order),
		cmocka_unit_test(test_mail_name_fallback),
		cmocka_unit_test(test_mail_subject_rules),
		cmocka_unit_test(test_mail_errors_name_file_and_line),
		cmocka_unit_test(test_tmpl_dir),
		cmocka_unit_test(test_every_shipped_template),
		cmocka_unit_test(test_confirm_subscribe_privacy_notice),
		cmocka_unit_test(test_greetings),
		cmocka_unit_test(test_hostile_name_in_welcome),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
