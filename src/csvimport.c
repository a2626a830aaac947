/* csvimport.c - see csvimport.h */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "botu/addr.h"
#include "botu/csvimport.h"
#include "botu/log.h"
#include "botu/mailout.h"
#include "botu/members.h"
#include "botu/notes.h"
#include "botu/retention.h"
#include "botu/util.h"

#define MAX_PROBLEMS 50		/* listed; the rest are counted */
#define MAX_FIELD (64 * 1024)	/* octets in one field */

/* ---- encodings ---- */

/* Windows-1252 0x80..0x9f; 0: not defined (U+FFFD). */
static const unsigned short cp1252[32] = {
	0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
	0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
};

static void
put_utf8(struct buf *b, unsigned long c)
{
	if (c < 0x80)
		buf_addc(b, (char)c);
	else if (c < 0x800) {
		buf_addc(b, (char)(0xc0 | c >> 6));
		buf_addc(b, (char)(0x80 | (c & 0x3f)));
	} else if (c < 0x10000) {
		buf_addc(b, (char)(0xe0 | c >> 12));
		buf_addc(b, (char)(0x80 | (c >> 6 & 0x3f)));
		buf_addc(b, (char)(0x80 | (c & 0x3f)));
	} else {
		buf_addc(b, (char)(0xf0 | c >> 18));
		buf_addc(b, (char)(0x80 | (c >> 12 & 0x3f)));
		buf_addc(b, (char)(0x80 | (c >> 6 & 0x3f)));
		buf_addc(b, (char)(0x80 | (c & 0x3f)));
	}
}

static int
is_utf8(const char *s, size_t len)
{
	size_t i = 0, k;

	while (i < len) {
		if ((unsigned char)s[i] < 0x80) {
			if (s[i] == '\0')
				return 0;
			i++;
			continue;
		}
		if (len - i < 4) {
			/* utf8_charlen() reads up to a NUL; s has none. */
			char tail[5] = { 0 };

			memcpy(tail, s + i, len - i);
			k = utf8_charlen(tail);
		} else
			k = utf8_charlen(s + i);
		if (k == 0 || i + k > len)
			return 0;
		i += k;
	}
	return 1;
}

static void
from_cp1252(struct buf *b, const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned c = s[i];

		if (c >= 0x80 && c < 0xa0)
			put_utf8(b, cp1252[c - 0x80] != 0 ? cp1252[c - 0x80] :
			    0xfffd);
		else
			put_utf8(b, c);
	}
}

static void
from_utf16(struct buf *b, const unsigned char *s, size_t len, int be)
{
	for (size_t i = 0; i + 1 < len; i += 2) {
		unsigned long c = be ? (unsigned long)(s[i] << 8 | s[i + 1]) :
		    (unsigned long)(s[i + 1] << 8 | s[i]);

		if (c >= 0xd800 && c < 0xdc00 && i + 3 < len) {
			unsigned long lo = be ? (unsigned long)(s[i + 2] << 8 |
			    s[i + 3]) : (unsigned long)(s[i + 3] << 8 |
			    s[i + 2]);

			if (lo >= 0xdc00 && lo < 0xe000) {
				c = 0x10000 + ((c - 0xd800) << 10) +
				    (lo - 0xdc00);
				i += 2;
			} else
				c = 0xfffd;
		} else if (c >= 0xd800 && c < 0xe000)
			c = 0xfffd;
		put_utf8(b, c != 0 ? c : 0xfffd);
	}
}

/* The text as UTF-8 in b; *charset names what it was. */
static int
to_utf8(const char *data, size_t len, struct buf *b, const char **charset,
    char *err)
{
	const unsigned char *u = (const unsigned char *)data;

	buf_init(b);
	if (len >= 3 && u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf) {
		*charset = "UTF-8";
		data += 3;
		len -= 3;
	} else if (len >= 2 && ((u[0] == 0xff && u[1] == 0xfe) ||
	    (u[0] == 0xfe && u[1] == 0xff))) {
		*charset = u[0] == 0xfe ? "UTF-16BE" : "UTF-16LE";
		from_utf16(b, u + 2, len - 2, u[0] == 0xfe);
		return BOTU_OK;
	} else if (is_utf8(data, len)) {
		*charset = "UTF-8";
	} else {
		if (memchr(data, '\0', len) != NULL) {
			snprintf(err, BOTU_ERRLEN, "this is not a text file "
			    "(it has NUL bytes); save it as CSV");
			return BOTU_EDATA;
		}
		*charset = "Windows-1252";
		from_cp1252(b, u, len);
		return BOTU_OK;
	}
	if (!is_utf8(data, len)) {
		snprintf(err, BOTU_ERRLEN, "the file starts as UTF-8 but is "
		    "not UTF-8 further on");
		return BOTU_EDATA;
	}
	buf_add(b, data, len);
	return BOTU_OK;
}

/* ---- CSV ---- */

/* The separator the first line uses most (outside quotes). */
static char
guess_delimiter(const char *s)
{
	static const char cands[] = { ';', ',', '\t' };
	size_t count[3] = { 0, 0, 0 }, best = 0;
	int quoted = 0;

	for (; *s != '\0' && (quoted || (*s != '\n' && *s != '\r')); s++) {
		if (*s == '"')
			quoted = !quoted;
		for (size_t i = 0; i < 3 && !quoted; i++)
			if (*s == cands[i])
				count[i]++;
	}
	for (size_t i = 1; i < 3; i++)
		if (count[i] > count[best])
			best = i;
	return count[best] > 0 ? cands[best] : ',';
}

static void
row_add(struct csv_row *r, struct buf *f)
{
	r->field = xrealloc(r->field, (r->n + 1) * sizeof(*r->field));
	r->field[r->n++] = buf_detach(f);
	buf_init(f);
}

static int
row_empty(const struct csv_row *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->field[i][strspn(r->field[i], " \t")] != '\0')
			return 0;
	return 1;
}

static void
table_add(struct csv_table *t, struct csv_row *r)
{
	if (row_empty(r)) {
		for (size_t i = 0; i < r->n; i++)
			free(r->field[i]);
		free(r->field);
	} else {
		t->rows = xrealloc(t->rows, (t->nrows + 1) *
		    sizeof(*t->rows));
		t->rows[t->nrows++] = *r;
	}
	memset(r, 0, sizeof(*r));
}

/* A line break at s (CRLF, LF or CR): its length, else 0. */
static size_t
line_break(const char *s)
{
	if (s[0] == '\r' && s[1] == '\n')
		return 2;
	return s[0] == '\n' || s[0] == '\r';
}

static int
parse_text(const char *s, struct csv_table *t, char *err)
{
	struct csv_row r = { 0 };
	struct buf f;
	int line = 1, quoted = 0, quote_line = 0, rc = BOTU_OK;
	size_t k;

	buf_init(&f);
	r.line = 1;
	while (*s != '\0') {
		if (quoted) {
			if (s[0] == '"' && s[1] == '"') {
				buf_addc(&f, '"');
				s += 2;
			} else if (s[0] == '"') {
				quoted = 0;
				s++;
			} else if ((k = line_break(s)) > 0) {
				buf_addc(&f, '\n');
				line++;
				s += k;
			} else
				buf_addc(&f, *s++);
		} else if (*s == '"' && f.len == 0) {
			quoted = 1;
			quote_line = line;
			s++;
		} else if (*s == t->delimiter) {
			row_add(&r, &f);
			s++;
		} else if ((k = line_break(s)) > 0) {
			row_add(&r, &f);
			table_add(t, &r);
			line++;
			r.line = line;
			s += k;
		} else
			buf_addc(&f, *s++);
		if (f.len > MAX_FIELD) {
			snprintf(err, BOTU_ERRLEN, "line %d: a field is "
			    "longer than %d octets", line, MAX_FIELD);
			rc = BOTU_EDATA;
			break;
		}
	}
	if (rc == BOTU_OK && quoted) {
		snprintf(err, BOTU_ERRLEN, "line %d: a quote (\") is never "
		    "closed", quote_line);
		rc = BOTU_EDATA;
	}
	if (rc == BOTU_OK && (f.len > 0 || r.n > 0)) {
		row_add(&r, &f);
		table_add(t, &r);
	}
	for (size_t i = 0; i < r.n; i++)
		free(r.field[i]);
	free(r.field);
	buf_free(&f);
	return rc;
}

int
csv_parse(const char *data, size_t len, struct csv_table *t,
    char err[BOTU_ERRLEN])
{
	struct buf text;
	const char *s;
	int rc;

	memset(t, 0, sizeof(*t));
	rc = to_utf8(data, len, &text, &t->charset, err);
	if (rc != BOTU_OK) {
		buf_free(&text);
		return rc;
	}
	s = text.s != NULL ? text.s : "";
	/* Excel's own hint: a first line "sep=;". */
	if (strncasecmp(s, "sep=", 4) == 0 && s[4] != '\0' &&
	    line_break(s + 5) > 0) {
		t->delimiter = s[4];
		s += 5 + line_break(s + 5);
		rc = parse_text(s, t, err);
		/* The records start on line 2. */
		for (size_t i = 0; i < t->nrows; i++)
			t->rows[i].line++;
	} else {
		t->delimiter = guess_delimiter(s);
		rc = parse_text(s, t, err);
	}
	buf_free(&text);
	if (rc != BOTU_OK)
		csv_table_clear(t);
	return rc;
}

void
csv_table_clear(struct csv_table *t)
{
	for (size_t i = 0; i < t->nrows; i++) {
		for (size_t k = 0; k < t->rows[i].n; k++)
			free(t->rows[i].field[k]);
		free(t->rows[i].field);
	}
	free(t->rows);
	memset(t, 0, sizeof(*t));
}

/* ---- importing ---- */

enum column { COL_NONE, COL_EMAIL, COL_NAME, COL_ROLE, COL_LANGUAGE,
    COL_CORE, COL_STATUS };

/* Header words with everything but letters and digits taken out. */
static const struct {
	const char	*word;
	enum column	 col;
} column_words[] = {
	{ "email", COL_EMAIL }, { "emailadres", COL_EMAIL },
	{ "mailadres", COL_EMAIL }, { "mail", COL_EMAIL },
	{ "emailaddress", COL_EMAIL }, { "address", COL_EMAIL },
	{ "adres", COL_EMAIL },
	{ "name", COL_NAME }, { "naam", COL_NAME },
	{ "volledigenaam", COL_NAME }, { "fullname", COL_NAME },
	{ "role", COL_ROLE }, { "rol", COL_ROLE },
	{ "language", COL_LANGUAGE }, { "taal", COL_LANGUAGE },
	{ "lang", COL_LANGUAGE },
	{ "core", COL_CORE }, { "kernteam", COL_CORE },
	{ "coreteam", COL_CORE }, { "kern", COL_CORE },
	{ "status", COL_STATUS },
};

static enum column
column_of(const char *header)
{
	char key[64];
	size_t n = 0;

	for (const char *p = header; *p != '\0' && n + 1 < sizeof(key); p++)
		if (isalnum((unsigned char)*p))
			key[n++] = (char)tolower((unsigned char)*p);
	key[n] = '\0';
	for (size_t i = 0; i < NELEM(column_words); i++)
		if (strcmp(key, column_words[i].word) == 0)
			return column_words[i].col;
	return COL_NONE;
}

/* What one import needs while it goes. */
struct run {
	struct botu_db		*db;
	const struct botu_conf	*conf;
	const struct import_options *o;
	struct import_result	*r;
	int			 col[COL_STATUS + 1];	/* index or -1 */
	struct buf		 problems;
	char			*channel;
};

static void
problem(struct run *x, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
problem(struct run *x, int line, const char *fmt, ...)
{
	va_list ap;

	if (x->r->nproblems++ >= MAX_PROBLEMS)
		return;
	buf_addf(&x->problems, "%s:%d: ", x->o->file, line);
	va_start(ap, fmt);
	buf_vaddf(&x->problems, fmt, ap);
	va_end(ap);
	buf_addc(&x->problems, '\n');
}

/* Finds the columns in the header; 0, or -1 with err set. */
static int
read_header(struct run *x, const struct csv_row *h, char *err)
{
	struct buf ignored;

	for (size_t i = 0; i <= COL_STATUS; i++)
		x->col[i] = -1;
	buf_init(&ignored);
	for (size_t i = 0; i < h->n; i++) {
		enum column c = column_of(h->field[i]);

		if (c != COL_NONE && x->col[c] < 0)
			x->col[c] = (int)i;
		else if (h->field[i][0] != '\0')
			buf_addf(&ignored, "%s%s", ignored.len ? ", " : "",
			    h->field[i]);
	}
	if (ignored.len > 0)
		x->r->ignored = buf_detach(&ignored);
	buf_free(&ignored);
	if (x->col[COL_EMAIL] >= 0)
		return 0;
	snprintf(err, BOTU_ERRLEN, "%s:%d: no column email (or e-mail, "
	    "e-mailadres, mailadres): the first line must name the columns",
	    x->o->file, h->line);
	return -1;
}

/* The field of column c in row r, trimmed, "" when absent (owned). */
static char *
field(const struct run *x, const struct csv_row *r, enum column c)
{
	int i = x->col[c];
	char *v;

	if (i < 0 || (size_t)i >= r->n)
		return xstrdup("");
	v = str_trim(xstrdup(r->field[i]));
	/* A name over two lines in a cell is one name. */
	for (char *p = v; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	return v;
}

static int
word_in(const char *v, const char *const *words)
{
	for (size_t i = 0; words[i] != NULL; i++)
		if (strcasecmp(v, words[i]) == 0)
			return 1;
	return 0;
}

static const char *
language_of(const struct run *x, const char *v)
{
	static const char *const nl[] = { "nl", "nederlands", "dutch",
	    "nld", "nl-nl", "nl_nl", NULL };
	static const char *const en[] = { "en", "engels", "english", "eng",
	    "en-gb", "en-us", "en_gb", "en_us", NULL };

	if (v[0] == '\0')
		return conf_languages[x->conf->list.language];
	if (word_in(v, nl))
		return "nl";
	return word_in(v, en) ? "en" : NULL;
}

/* 1, 0, or -1 when v says neither. */
static int
core_of(const char *v)
{
	static const char *const yes[] = { "1", "ja", "j", "yes", "y", "x",
	    "true", "waar", "kernteam", "core", NULL };
	static const char *const no[] = { "0", "nee", "n", "no", "false",
	    "onwaar", "-", NULL };

	if (v[0] == '\0' || word_in(v, no))
		return 0;
	return word_in(v, yes) ? 1 : -1;
}

/* Status column: "" or active imports; other words are skipped. */
static int
status_active(const char *v)
{
	static const char *const active[] = { "active", "actief", "lid",
	    "member", NULL };

	return v[0] == '\0' || word_in(v, active);
}

/* One row checked; *m filled (strings owned) when it is to be added. */
struct row {
	char	*email;
	char	*name;
	char	*role;		/* borrowed from the configuration */
	char	*language;	/* static */
	int	 core;
	int	 add;		/* 1: import it */
};

static void
row_clear(struct row *w)
{
	free(w->email);
	free(w->name);
	memset(w, 0, sizeof(*w));
}

static int
check_values(struct run *x, const struct csv_row *r, struct row *w)
{
	char *role = field(x, r, COL_ROLE), *lang = field(x, r, COL_LANGUAGE);
	char *core = field(x, r, COL_CORE), *roles;
	int ok = 1;

	if (!str_is_address(w->email)) {
		problem(x, r->line, "'%s' is not an e-mail address", w->email);
		ok = 0;
	}
	if (notes_length(w->name) > NOTES_MAX_NAME) {
		problem(x, r->line, "the name is longer than %d characters",
		    NOTES_MAX_NAME);
		ok = 0;
	}
	if (role[0] != '\0' &&
	    (w->role = (char *)notes_role(x->conf, role)) == NULL) {
		roles = notes_roles_line(x->conf);
		problem(x, r->line, "role '%s' is not one of [notes] roles: "
		    "%s", role, roles);
		free(roles);
		ok = 0;
	}
	if ((w->language = (char *)language_of(x, lang)) == NULL) {
		problem(x, r->line, "language '%s' is not nl or en", lang);
		ok = 0;
	}
	if ((w->core = core_of(core)) < 0) {
		problem(x, r->line, "core '%s' is not ja/nee (yes/no, 1/0)",
		    core);
		ok = 0;
	}
	free(role);
	free(lang);
	free(core);
	return ok;
}

/* Is the address new to the store? Counts it when not. */
static int
check_store(struct run *x, const struct row *w)
{
	struct member m;
	int rc;

	rc = members_get(x->db, w->email, &m);
	if (rc == 1) {
		if (strcmp(m.status, "unsubscribed") == 0)
			x->r->left++;
		else
			x->r->known++;
		member_clear(&m);
		return 0;
	}
	if (rc < 0)
		return -1;
	rc = retention_suppressed(x->db, w->email, NULL);
	if (rc == 1)
		x->r->suppressed++;
	return rc < 0 ? -1 : rc == 0;
}

/* An address seen on an earlier line of the file; 0 when not. */
static int
seen_before(struct row *rows, size_t n, const struct csv_table *t,
    const char *email)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].email != NULL &&
		    strcasecmp(rows[i].email, email) == 0)
			return t->rows[i + 1].line;
	return 0;
}

/* Every row checked into rows[] (index i for t->rows[i + 1]). */
static int
check_rows(struct run *x, const struct csv_table *t, struct row *rows,
    char *err)
{
	for (size_t i = 1; i < t->nrows; i++) {
		const struct csv_row *r = &t->rows[i];
		struct row *w = &rows[i - 1];
		char *status = field(x, r, COL_STATUS);
		int line, rc;

		w->email = field(x, r, COL_EMAIL);
		w->name = field(x, r, COL_NAME);
		if (r->n > t->rows[0].n)
			for (size_t k = t->rows[0].n; k < r->n; k++)
				if (r->field[k][0] != '\0') {
					problem(x, r->line, "more fields than "
					    "the first line names");
					break;
				}
		if (w->email[0] == '\0')
			problem(x, r->line, "no e-mail address");
		else if (check_values(x, r, w) &&
		    (line = seen_before(rows, i - 1, t, w->email)) != 0)
			problem(x, r->line, "%s is on line %d too", w->email,
			    line);
		else if (x->r->nproblems == 0 && !status_active(status))
			x->r->not_active++;
		else if (x->r->nproblems == 0) {
			rc = check_store(x, w);
			if (rc < 0) {
				free(status);
				snprintf(err, BOTU_ERRLEN, "%s",
				    db_errmsg(x->db));
				return BOTU_EDATA;
			}
			w->add = rc;
		}
		free(status);
	}
	return BOTU_OK;
}

static int
add_rows(struct run *x, struct row *rows, size_t n, char *err)
{
	int rc = BOTU_OK;

	for (size_t i = 0; i < n && rc == BOTU_OK; i++) {
		struct member m = { 0 };

		if (rows[i].add) {
			m.email = rows[i].email;
			m.name = rows[i].name;
			m.role = rows[i].role;
			m.language = rows[i].language;
			m.core = rows[i].core;
			m.status = "active";
			m.consent_at = (int64_t)time(NULL);
			m.consent_channel = x->channel;
			rc = members_add(x->db, &m, "import", NULL, err);
			if (rc == BOTU_OK && x->o->welcome)
				rc = import_welcome(x->db, x->conf, m.id, err);
			if (rc == BOTU_OK)
				x->r->imported++;
		}
		if (x->o->progress != NULL)
			x->o->progress(i + 1, n, x->o->arg);
	}
	return rc;
}

int
import_members(struct botu_db *db, const struct botu_conf *conf,
    const struct csv_table *t, const struct import_options *o,
    struct import_result *r, char err[BOTU_ERRLEN])
{
	struct run x = { .db = db, .conf = conf, .o = o, .r = r };
	struct row *rows = NULL;
	size_t n = 0;
	int rc = BOTU_EDATA;

	memset(r, 0, sizeof(*r));
	buf_init(&x.problems);
	if (t->nrows == 0) {
		snprintf(err, BOTU_ERRLEN, "%s: the file is empty", o->file);
		goto out;
	}
	if (read_header(&x, &t->rows[0], err) < 0)
		goto out;
	n = t->nrows - 1;
	r->rows = n;
	rows = xcalloc(n + 1, sizeof(*rows));
	x.channel = xasprintf("import: %s", o->basis);
	rc = check_rows(&x, t, rows, err);
	if (rc == BOTU_OK && r->nproblems > 0) {
		if (r->nproblems > MAX_PROBLEMS)
			buf_addf(&x.problems, "%s: and %zu more problems\n",
			    o->file, r->nproblems - MAX_PROBLEMS);
		snprintf(err, BOTU_ERRLEN, "%zu bad row%s: nothing imported",
		    r->nproblems, r->nproblems == 1 ? "" : "s");
		r->problems = buf_detach(&x.problems);
		rc = BOTU_EDATA;
	}
	if (rc == BOTU_OK)
		rc = add_rows(&x, rows, n, err);
out:
	for (size_t i = 0; i < n; i++)
		row_clear(&rows[i]);
	free(rows);
	free(x.channel);
	buf_free(&x.problems);
	return rc;
}

void
import_result_clear(struct import_result *r)
{
	free(r->ignored);
	free(r->problems);
	memset(r, 0, sizeof(*r));
}

int
import_welcome(struct botu_db *db, const struct botu_conf *conf, int64_t id,
    char err[BOTU_ERRLEN])
{
	struct member m;
	struct mailout mo = { .template = "welcome", .kind = "welcome",
	    .auto_submitted = COMPOSE_AUTO_GENERATED, .ordered = 1 };
	struct tmpl_vars *vars;
	char *unsub;
	int rc;

	if (members_get_id(db, id, &m) != 1) {
		snprintf(err, BOTU_ERRLEN, "the new member is gone");
		return BOTU_EDATA;
	}
	unsub = addr_token(conf, ADDR_UNSUBSCRIBE, m.unsub_token);
	mo.to = m.email;
	mo.to_name = m.name[0] != '\0' ? m.name : NULL;
	mo.lang = m.language;
	mo.member_id = m.id;
	mo.unsubscribe = unsub;
	vars = tmpl_vars_new();
	tmpl_set(vars, "name", m.name);
	rc = mailout_queue(db, conf, &mo, vars, err);
	tmpl_vars_free(vars);
	free(unsub);
	member_clear(&m);
	return rc;
}
