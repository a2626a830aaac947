/* template.c - see template.h */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "botu/template.h"
#include "botu/util.h"

#ifndef BOTU_TEMPLATEDIR
#define BOTU_TEMPLATEDIR "/usr/local/share/botu/templates"
#endif

/* Sections nest at most this deep: bounds recursion and the scope stack. */
#define TMPL_MAX_DEPTH	32
#define TMPL_MAX_FILE	(1024 * 1024)	/* bytes in a template file */
#define TMPL_MAX_NAME	64	/* characters in a name */
#define TMPL_MAX_LANG	16
#define NOT_FOUND	1	/* read_file(): no such file */

struct tmpl_var {
	char			 *name;
	char			 *value;	/* NULL: a list of items */
	struct tmpl_vars	**items;
	size_t			  nitems;
	struct tmpl_var		 *next;
};

struct tmpl_vars {
	struct tmpl_var	*head;
};

enum tok_kind {
	TOK_TEXT,
	TOK_VAR,	/* {{x}} */
	TOK_RAW,	/* {{{x}}} */
	TOK_SECTION,	/* {{#x}} */
	TOK_INVERTED,	/* {{^x}} */
	TOK_CLOSE,	/* {{/x}} */
	TOK_COMMENT,	/* {{! x }}: never stored */
};

struct tok {
	enum tok_kind	 kind;
	const char	*s;	/* the text, or the tag's name */
	size_t		 len;
	int		 line;
	size_t		 close;	/* sections: their TOK_CLOSE */
};

struct lexer {
	const char	*src;
	const char	*pos;	/* what is not yet a token */
	int		 line;	/* line number at pos */
	struct tok	*toks;
	size_t		 ntoks, cap;
	size_t		 open[TMPL_MAX_DEPTH];	/* open sections */
	size_t		 depth;
	char		*err;
};

struct render {
	const struct tok	 *toks;
	enum tmpl_mode		  mode;
	const struct tmpl_vars	 *scopes[TMPL_MAX_DEPTH + 1];
	size_t			  nscopes;
	struct buf		  out;
};

/* Variables */

struct tmpl_vars *
tmpl_vars_new(void)
{
	return xcalloc(1, sizeof(struct tmpl_vars));
}

static void
var_clear(struct tmpl_var *v)
{
	size_t i;

	free(v->value);
	v->value = NULL;
	for (i = 0; i < v->nitems; i++)
		tmpl_vars_free(v->items[i]);
	free(v->items);
	v->items = NULL;
	v->nitems = 0;
}

void
tmpl_vars_free(struct tmpl_vars *vars)
{
	struct tmpl_var *v, *next;

	if (vars == NULL)
		return;
	for (v = vars->head; v != NULL; v = next) {
		next = v->next;
		var_clear(v);
		free(v->name);
		free(v);
	}
	free(vars);
}

static struct tmpl_var *
var_find(const struct tmpl_vars *vars, const char *name, size_t len)
{
	struct tmpl_var *v;

	for (v = vars->head; v != NULL; v = v->next)
		if (strlen(v->name) == len && memcmp(v->name, name, len) == 0)
			return v;
	return NULL;
}

static struct tmpl_var *
var_get(struct tmpl_vars *vars, const char *name)
{
	struct tmpl_var *v = var_find(vars, name, strlen(name));

	if (v != NULL)
		return v;
	v = xcalloc(1, sizeof(*v));
	v->name = xstrdup(name);
	v->next = vars->head;
	vars->head = v;
	return v;
}

void
tmpl_set(struct tmpl_vars *vars, const char *name, const char *value)
{
	struct tmpl_var *v = var_get(vars, name);

	var_clear(v);
	v->value = xstrdup(value != NULL ? value : "");
}

void
tmpl_setf(struct tmpl_vars *vars, const char *name, const char *fmt, ...)
{
	struct tmpl_var *v = var_get(vars, name);
	struct buf b;
	va_list ap;

	buf_init(&b);
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	var_clear(v);
	v->value = buf_detach(&b);
}

struct tmpl_vars *
tmpl_add_item(struct tmpl_vars *vars, const char *name)
{
	struct tmpl_var *v = var_get(vars, name);

	if (v->value != NULL)
		var_clear(v);
	v->items = xrealloc(v->items, (v->nitems + 1) * sizeof(*v->items));
	v->items[v->nitems] = tmpl_vars_new();
	return v->items[v->nitems++];
}

const char *
tmpl_get(const struct tmpl_vars *vars, const char *name)
{
	const struct tmpl_var *v = var_find(vars, name, strlen(name));

	return v != NULL ? v->value : NULL;
}

void
tmpl_vars_json(const struct tmpl_vars *vars, struct buf *out)
{
	const struct tmpl_var *v;
	const struct tmpl_var **order = NULL;
	size_t n = 0, i, k;

	/* The list keeps the newest name first: write them as they came. */
	for (v = vars->head; v != NULL; v = v->next) {
		order = xrealloc(order, (n + 1) * sizeof(*order));
		order[n++] = v;
	}
	buf_addc(out, '{');
	for (i = n; i-- > 0;) {
		v = order[i];
		buf_add_json(out, v->name);
		buf_addc(out, ':');
		if (v->value != NULL)
			buf_add_json(out, v->value);
		else {
			buf_addc(out, '[');
			for (k = 0; k < v->nitems; k++) {
				if (k > 0)
					buf_addc(out, ',');
				tmpl_vars_json(v->items[k], out);
			}
			buf_addc(out, ']');
		}
		if (i > 0)
			buf_addc(out, ',');
	}
	buf_addc(out, '}');
	free(order);
}

/* Lexer: the template as a flat list of tokens, sections matched */

static int
count_lines(const char *from, const char *to)
{
	int n = 0;

	for (; from < to; from++)
		if (*from == '\n')
			n++;
	return n;
}

static void
lex_add(struct lexer *lx, enum tok_kind kind, const char *s, size_t len,
    int line)
{
	struct tok *t;

	if (kind == TOK_COMMENT || (kind == TOK_TEXT && len == 0))
		return;
	if (lx->ntoks == lx->cap) {
		lx->cap = lx->cap ? lx->cap * 2 : 32;
		lx->toks = xrealloc(lx->toks, lx->cap * sizeof(*lx->toks));
	}
	t = &lx->toks[lx->ntoks++];
	t->kind = kind;
	t->s = s;
	t->len = len;
	t->line = line;
	t->close = 0;
}

static enum tok_kind
tag_kind(char sigil)
{
	switch (sigil) {
	case '#':
		return TOK_SECTION;
	case '^':
		return TOK_INVERTED;
	case '/':
		return TOK_CLOSE;
	case '!':
		return TOK_COMMENT;
	default:
		return TOK_VAR;
	}
}

static int
tag_name_ok(const struct tok *t)
{
	size_t i;
	int c;

	if (t->len == 0 || t->len > TMPL_MAX_NAME)
		return 0;
	for (i = 0; i < t->len; i++) {
		c = (unsigned char)t->s[i];
		if (!isalnum(c) && c != '_' && c != '-' && c != '.')
			return 0;
	}
	return 1;
}

/*
 * Reads the tag that starts at open ("{{"): its kind, its name (trimmed)
 * and where it ends. -1 with lx->err filled when it is broken.
 */
static int
lex_tag(struct lexer *lx, const char *open, int line, struct tok *t,
    const char **end)
{
	const char *in = open + 2, *close, *e;
	int raw = *in == '{';

	close = strstr(in, raw ? "}}}" : "}}");
	if (close == NULL) {
		snprintf(lx->err, BOTU_ERRLEN, "line %d: {{ is never closed",
		    line);
		return -1;
	}
	*end = close + (raw ? 3 : 2);
	t->kind = raw ? TOK_RAW : tag_kind(*in);
	if (t->kind != TOK_VAR)
		in++;
	while (in < close && isspace((unsigned char)*in))
		in++;
	for (e = close; e > in && isspace((unsigned char)e[-1]); e--)
		;
	t->s = in;
	t->len = (size_t)(e - in);
	if (t->kind == TOK_COMMENT || tag_name_ok(t))
		return 0;
	snprintf(lx->err, BOTU_ERRLEN, "line %d: bad tag %.*s", line,
	    (int)(*end - open > 60 ? 60 : *end - open), open);
	return -1;
}

/*
 * A section or comment tag alone on its line takes the line with it: the
 * blanks before it and the blanks and line end after it (the mustache
 * spec's "standalone" rule), so text templates can put tags on lines of
 * their own. Moves *text_end back and *after on when that is the case.
 */
static void
standalone(const struct lexer *lx, const char *open, const char *end,
    const char **text_end, const char **after)
{
	const char *p = open, *q = end;

	while (p > lx->pos && (p[-1] == ' ' || p[-1] == '\t'))
		p--;
	if (p > lx->src && p[-1] != '\n')
		return;
	while (*q == ' ' || *q == '\t')
		q++;
	if (q[0] == '\r' && q[1] == '\n')
		q++;
	if (*q == '\n')
		q++;
	else if (*q != '\0')
		return;
	*text_end = p;
	*after = q;
}

static int
lex_close(struct lexer *lx, const struct tok *t, int line)
{
	const struct tok *o;

	if (lx->depth == 0) {
		snprintf(lx->err, BOTU_ERRLEN, "line %d: {{/%.*s}} closes "
		    "no section", line, (int)t->len, t->s);
		return -1;
	}
	o = &lx->toks[lx->open[lx->depth - 1]];
	if (o->len != t->len || memcmp(o->s, t->s, t->len) != 0) {
		snprintf(lx->err, BOTU_ERRLEN, "line %d: {{/%.*s}} does not "
		    "close {{%c%.*s}} of line %d", line, (int)t->len, t->s,
		    o->kind == TOK_SECTION ? '#' : '^', (int)o->len, o->s,
		    o->line);
		return -1;
	}
	lx->toks[lx->open[--lx->depth]].close = lx->ntoks;
	return 0;
}

/* Adds a tag, keeping the stack of open sections. */
static int
lex_push(struct lexer *lx, const struct tok *t, int line)
{
	if (t->kind == TOK_SECTION || t->kind == TOK_INVERTED) {
		if (lx->depth == TMPL_MAX_DEPTH) {
			snprintf(lx->err, BOTU_ERRLEN, "line %d: sections "
			    "nested deeper than %d", line, TMPL_MAX_DEPTH);
			return -1;
		}
		lx->open[lx->depth++] = lx->ntoks;
	} else if (t->kind == TOK_CLOSE && lex_close(lx, t, line) != 0) {
		return -1;
	}
	lex_add(lx, t->kind, t->s, t->len, line);
	return 0;
}

/* One tag and the text before it: 1 at the end, 0 to go on, -1 on error. */
static int
lex_step(struct lexer *lx)
{
	const char *open = strstr(lx->pos, "{{"), *end, *text_end, *after;
	struct tok t;
	int line;

	if (open == NULL) {
		lex_add(lx, TOK_TEXT, lx->pos, strlen(lx->pos), lx->line);
		return 1;
	}
	line = lx->line + count_lines(lx->pos, open);
	if (lex_tag(lx, open, line, &t, &end) != 0)
		return -1;
	text_end = open;
	after = end;
	if (t.kind != TOK_VAR && t.kind != TOK_RAW)
		standalone(lx, open, end, &text_end, &after);
	lex_add(lx, TOK_TEXT, lx->pos, (size_t)(text_end - lx->pos),
	    lx->line);
	if (lex_push(lx, &t, line) != 0)
		return -1;
	lx->line += count_lines(lx->pos, after);
	lx->pos = after;
	return 0;
}

static int
lex(const char *text, int line, struct lexer *lx, char *err)
{
	const struct tok *o;
	int rc;

	memset(lx, 0, sizeof(*lx));
	lx->src = lx->pos = text;
	lx->line = line;
	lx->err = err;
	do
		rc = lex_step(lx);
	while (rc == 0);
	if (rc < 0)
		return -1;
	if (lx->depth > 0) {
		o = &lx->toks[lx->open[lx->depth - 1]];
		snprintf(err, BOTU_ERRLEN, "line %d: {{%c%.*s}} is never "
		    "closed", o->line, o->kind == TOK_SECTION ? '#' : '^',
		    (int)o->len, o->s);
		return -1;
	}
	return 0;
}

/* Rendering */

static const struct tmpl_var *
lookup(const struct render *r, const struct tok *t)
{
	const struct tmpl_var *v;
	size_t i;

	for (i = r->nscopes; i > 0; i--) {
		v = var_find(r->scopes[i - 1], t->s, t->len);
		if (v != NULL)
			return v;
	}
	return NULL;
}

/* A section shows for a non-empty string or list; an inverted one not. */
static int
truthy(const struct tmpl_var *v)
{
	if (v == NULL)
		return 0;
	return v->value != NULL ? v->value[0] != '\0' : v->nitems > 0;
}

static void
put_value(struct render *r, const struct tmpl_var *v, int escape)
{
	const char *s;

	if (v == NULL || v->value == NULL)
		return;
	if (!escape || r->mode != TMPL_HTML) {
		buf_adds(&r->out, v->value);
		return;
	}
	for (s = v->value; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			buf_adds(&r->out, "&amp;");
			break;
		case '<':
			buf_adds(&r->out, "&lt;");
			break;
		case '>':
			buf_adds(&r->out, "&gt;");
			break;
		case '"':
			buf_adds(&r->out, "&quot;");
			break;
		case '\'':
			buf_adds(&r->out, "&#39;");
			break;
		default:
			buf_addc(&r->out, *s);
		}
	}
}

static void	render_range(struct render *, size_t, size_t);

/* Recursion is bounded: one level per nested section (TMPL_MAX_DEPTH). */
static void
render_section(struct render *r, size_t i)
{
	const struct tok *t = &r->toks[i];
	const struct tmpl_var *v = lookup(r, t);
	size_t k;

	if (t->kind == TOK_INVERTED || v->value != NULL) {
		render_range(r, i + 1, t->close);
		return;
	}
	for (k = 0; k < v->nitems; k++) {
		r->scopes[r->nscopes++] = v->items[k];
		render_range(r, i + 1, t->close);
		r->nscopes--;
	}
}

static void
render_range(struct render *r, size_t from, size_t to)
{
	const struct tok *t;
	size_t i;

	for (i = from; i < to; i++) {
		t = &r->toks[i];
		switch (t->kind) {
		case TOK_TEXT:
			buf_add(&r->out, t->s, t->len);
			break;
		case TOK_VAR:
		case TOK_RAW:
			put_value(r, lookup(r, t), t->kind == TOK_VAR);
			break;
		case TOK_SECTION:
		case TOK_INVERTED:
			if (truthy(lookup(r, t)) == (t->kind == TOK_SECTION))
				render_section(r, i);
			i = t->close;
			break;
		default:
			break;
		}
	}
}

/* Renders text whose first line is line number line (for messages). */
static int
render_text(const char *text, int line, const struct tmpl_vars *vars,
    enum tmpl_mode mode, char **out, char *err)
{
	struct lexer lx;
	struct render r;
	int rc = BOTU_EDATA;

	*out = NULL;
	if (lex(text, line, &lx, err) != 0)
		goto out;
	memset(&r, 0, sizeof(r));
	r.toks = lx.toks;
	r.mode = mode;
	if (vars != NULL)
		r.scopes[r.nscopes++] = vars;
	buf_init(&r.out);
	render_range(&r, 0, lx.ntoks);
	*out = buf_detach(&r.out);
	rc = BOTU_OK;
out:
	free(lx.toks);
	return rc;
}

int
tmpl_render(const char *text, const struct tmpl_vars *vars,
    enum tmpl_mode mode, char **out, char err[BOTU_ERRLEN])
{
	return render_text(text, 1, vars, mode, out, err);
}

/* Mails from files */

/* Turns CRLF into LF in place: bodies are LF inside botu. */
static void
lf_only(char *s)
{
	char *w = s;

	for (; *s != '\0'; s++)
		if (s[0] != '\r' || s[1] != '\n')
			*w++ = *s;
	*w = '\0';
}

/*
 * A subject is one header line (RFC 5322 §2.2: no bare CR or LF in a
 * field): every run of line ends that came in with a value becomes a space.
 */
static void
one_line(char *s)
{
	char *r, *w = s;

	for (r = s; *r != '\0'; r++) {
		if (*r != '\r' && *r != '\n')
			*w++ = *r;
		else if (r[1] != '\r' && r[1] != '\n')
			*w++ = ' ';
	}
	*w = '\0';
	str_trim(s);
}

/*
 * Reads a template file of at most TMPL_MAX_FILE bytes, CRLF as LF.
 * NOT_FOUND when it does not exist, so the caller tries the next name.
 */
static int
read_file(const char *path, char **out, char *err)
{
	FILE *f;
	struct buf b;
	char chunk[8192];
	size_t n;
	int rc = BOTU_EDATA;

	*out = NULL;
	buf_init(&b);
	f = fopen(path, "re");
	if (f == NULL) {
		if (errno == ENOENT)
			rc = NOT_FOUND;
		else
			snprintf(err, BOTU_ERRLEN, "%s: %s", path,
			    strerror(errno));
		goto out;
	}
	do {
		n = fread(chunk, 1, sizeof(chunk), f);
		buf_add(&b, chunk, n);
	} while (n > 0 && b.len <= TMPL_MAX_FILE);
	if (ferror(f))
		snprintf(err, BOTU_ERRLEN, "%s: cannot read", path);
	else if (b.len > TMPL_MAX_FILE)
		snprintf(err, BOTU_ERRLEN, "%s: larger than %d bytes", path,
		    TMPL_MAX_FILE);
	else if (memchr(b.s, '\0', b.len) != NULL)
		snprintf(err, BOTU_ERRLEN, "%s: contains a NUL byte", path);
	else
		rc = BOTU_OK;
	if (rc == BOTU_OK) {
		lf_only(b.s);
		*out = buf_detach(&b);
	}
out:
	if (f != NULL)
		fclose(f);
	buf_free(&b);
	return rc;
}

/* The .txt: "Subject: ..." first, an optional blank line, the body. */
static int
render_txt(const char *path, char *src, const struct tmpl_vars *vars,
    struct tmpl_mail *out, char *err)
{
	char lerr[BOTU_ERRLEN], *body = strchr(src, '\n');
	int line = 2;

	if (body != NULL)
		*body++ = '\0';
	else
		body = src + strlen(src);
	if (strncmp(src, "Subject:", 8) != 0) {
		snprintf(err, BOTU_ERRLEN, "%s: the first line must be "
		    "\"Subject: ...\"", path);
		return BOTU_EDATA;
	}
	if (*body == '\n') {
		body++;
		line++;
	}
	if (render_text(src + 8, 1, vars, TMPL_TEXT, &out->subject,
	    lerr) != BOTU_OK || render_text(body, line, vars, TMPL_TEXT,
	    &out->text, lerr) != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "%s: %s", path, lerr);
		return BOTU_EDATA;
	}
	one_line(out->subject);
	lf_only(out->text);
	if (out->subject[0] == '\0') {
		snprintf(err, BOTU_ERRLEN, "%s: the subject is empty", path);
		return BOTU_EDATA;
	}
	return BOTU_OK;
}

/* The .html beside the .txt, when there is one. */
static int
render_html(const char *dir, const char *lang, const char *name,
    const struct tmpl_vars *vars, struct tmpl_mail *out, char *err)
{
	char lerr[BOTU_ERRLEN], *src = NULL;
	char *path = xasprintf("%s/%s/%s.html", dir, lang, name);
	int rc = read_file(path, &src, err);

	if (rc == NOT_FOUND) {
		rc = BOTU_OK;
	} else if (rc == BOTU_OK) {
		if (render_text(src, 1, vars, TMPL_HTML, &out->html, lerr)
		    == BOTU_OK) {
			lf_only(out->html);
		} else {
			snprintf(err, BOTU_ERRLEN, "%s: %s", path, lerr);
			rc = BOTU_EDATA;
		}
	}
	free(path);
	free(src);
	return rc;
}

/* One language and one name: NOT_FOUND, BOTU_OK or BOTU_EDATA. */
static int
try_file(const char *dir, const char *lang, const char *name,
    const struct tmpl_vars *vars, struct tmpl_mail *out, char *err)
{
	char *path = xasprintf("%s/%s/%s.txt", dir, lang, name), *src = NULL;
	int rc;

	rc = read_file(path, &src, err);
	if (rc != BOTU_OK)
		goto out;
	rc = render_txt(path, src, vars, out, err);
	if (rc == BOTU_OK)
		rc = render_html(dir, lang, name, vars, out, err);
	if (rc == BOTU_OK) {
		out->lang = xstrdup(lang);
		out->name = xstrdup(name);
	}
out:
	free(path);
	free(src);
	return rc;
}

/* The name, then shorter names ("a-b-c", "a-b", "a"), in one language. */
static int
try_lang(const char *dir, const char *lang, const char *name,
    const struct tmpl_vars *vars, struct tmpl_mail *out, struct buf *tried,
    char *err)
{
	char *n = xstrdup(name), *dash;
	int rc;

	for (;;) {
		rc = try_file(dir, lang, n, vars, out, err);
		if (rc != NOT_FOUND)
			break;
		buf_addf(tried, "%s%s/%s.txt", tried->len ? ", " : "", lang,
		    n);
		dash = strrchr(n, '-');
		if (dash == NULL)
			break;
		*dash = '\0';
	}
	free(n);
	return rc;
}

/* A language code or a mail name is a path component: keep it plain. */
static int
plain_word(const char *s, size_t max, int dash_inside)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max)
		return 0;
	if (dash_inside && (s[0] == '-' || s[n - 1] == '-' ||
	    strstr(s, "--") != NULL))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '-')
			return 0;
	return 1;
}

static int
seen_before(const char *const *langs, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (strcmp(langs[j], langs[i]) == 0)
			return 1;
	return 0;
}

int
tmpl_mail_render(const char *dir, const char *const *langs,
    const char *name, const struct tmpl_vars *vars, struct tmpl_mail *out,
    char err[BOTU_ERRLEN])
{
	struct buf tried;
	size_t i;
	int rc = NOT_FOUND;

	memset(out, 0, sizeof(*out));
	buf_init(&tried);
	if (name == NULL || !plain_word(name, TMPL_MAX_NAME, 1)) {
		snprintf(err, BOTU_ERRLEN, "bad template name \"%s\"",
		    name != NULL ? name : "");
		rc = BOTU_EDATA;
		goto out;
	}
	for (i = 0; langs != NULL && langs[i] != NULL && rc == NOT_FOUND; i++)
		if (plain_word(langs[i], TMPL_MAX_LANG, 0) &&
		    !seen_before(langs, i))
			rc = try_lang(dir, langs[i], name, vars, out, &tried,
			    err);
	if (rc == NOT_FOUND) {
		snprintf(err, BOTU_ERRLEN, "no template %s in %s (tried %s)",
		    name, dir, tried.len > 0 ? tried.s : "no language");
		rc = BOTU_EDATA;
	}
out:
	buf_free(&tried);
	if (rc != BOTU_OK)
		tmpl_mail_clear(out);
	return rc;
}

void
tmpl_mail_clear(struct tmpl_mail *m)
{
	free(m->subject);
	free(m->text);
	free(m->html);
	free(m->lang);
	free(m->name);
	memset(m, 0, sizeof(*m));
}

const char *
tmpl_dir(const char *configured)
{
	if (configured != NULL && configured[0] != '\0')
		return configured;
	return BOTU_TEMPLATEDIR;
}
