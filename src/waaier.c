/* waaier.c - see waaier.h */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "botu/dates.h"
#include "botu/mailout.h"
#include "botu/notes.h"
#include "botu/template.h"
#include "botu/util.h"
#include "botu/waaier.h"

/* The published notes, as the callback collects them. */
struct collected {
	struct note	*v;
	size_t		 n;
};

static int
collect(const struct note *n, void *arg)
{
	struct collected *c = arg;
	struct note *copy;

	c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
	copy = &c->v[c->n++];
	memset(copy, 0, sizeof(*copy));
	copy->id = n->id;
	copy->member_id = n->member_id;
	copy->name = xstrdup(n->name);
	copy->role = xstrdup(n->role);
	copy->body = xstrdup(n->body);
	return 0;
}

/* Where a role goes: its place in [notes] roles, others after, "" last. */
static size_t
role_rank(const struct botu_conf *conf, const char *role)
{
	size_t i = 0;

	if (role[0] == '\0')
		return (size_t)-1;
	for (char **r = conf->notes.roles; r != NULL && *r != NULL; r++, i++)
		if (strcasecmp(*r, role) == 0)
			return i;
	return (size_t)-2;
}

static const struct botu_conf *sort_conf;

static int
by_role_then_name(const void *a, const void *b)
{
	const struct note *x = a, *y = b;
	size_t rx = role_rank(sort_conf, x->role);
	size_t ry = role_rank(sort_conf, y->role);
	int c;

	if (rx != ry)
		return rx < ry ? -1 : 1;
	c = strcasecmp(x->role, y->role);
	if (c == 0)
		c = strcasecmp(x->name, y->name);
	return c != 0 ? c : (x->id < y->id ? -1 : 1);
}

/* Up to two initials of a name, for the card's badge ("FÖ"). */
static void
initials(const char *name, char *out, size_t len)
{
	size_t o = 0, k;
	int words = 0;

	for (const char *p = name; *p != '\0' && words < 2; p += k) {
		k = utf8_charlen(p);
		if (k == 0)
			k = 1;
		if ((p != name && p[-1] != ' ') || *p == ' ' ||
		    (unsigned char)*p < 'A' || o + k >= len)
			continue;
		memcpy(out + o, p, k);
		if (k == 1 && out[o] >= 'a' && out[o] <= 'z')
			out[o] = (char)(out[o] - 'a' + 'A');
		o += k;
		words++;
	}
	out[o] = '\0';
}

static void
fill(const struct botu_conf *conf, struct tmpl_vars *vars,
    struct collected *c, time_t now)
{
	const char *lang = conf_languages[conf->list.language];
	struct tmpl_vars *group = NULL;
	const char *cur = NULL;
	char when[96], num[32], ini[16];

	mailout_list_vars(conf, vars, NULL);
	date_format(now, conf->list.timezone, lang, DATE_LONG, when,
	    sizeof(when));
	tmpl_set(vars, "updated", when);
	snprintf(num, sizeof(num), "%zu", c->n);
	tmpl_set(vars, "count", num);
	tmpl_set(vars, "one", c->n == 1 ? "yes" : "");
	sort_conf = conf;
	if (c->n > 1)
		qsort(c->v, c->n, sizeof(*c->v), by_role_then_name);
	for (size_t i = 0; i < c->n; i++) {
		const struct note *n = &c->v[i];
		struct tmpl_vars *card;

		if (cur == NULL || strcasecmp(cur, n->role) != 0) {
			group = tmpl_add_item(vars, "groups");
			tmpl_set(group, "group_role", n->role);
			cur = n->role;
		}
		card = tmpl_add_item(group, "notes");
		tmpl_set(card, "name", n->name);
		tmpl_set(card, "role", n->role);
		tmpl_set(card, "body", n->body);
		initials(n->name, ini, sizeof(ini));
		tmpl_set(card, "initials", ini);
		/* A colour per card, the same on every rewrite. */
		tmpl_setf(card, "hue", "%d", (int)((n->member_id * 47) % 360));
		tmpl_setf(card, "tilt", "%d", (int)(n->member_id % 5) - 2);
	}
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	struct buf b;
	char chunk[8192];
	size_t n;

	if (f == NULL)
		return NULL;
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return buf_detach(&b);
}

/* The page template: the list's language, else English. */
static char *
load_template(const struct botu_conf *conf, char *err)
{
	const char *dir = tmpl_dir(conf->list.templates);
	const char *langs[] = { conf_languages[conf->list.language], "en" };
	char *path, *text = NULL;

	for (size_t i = 0; i < NELEM(langs) && text == NULL; i++) {
		path = xasprintf("%s/%s/waaier.html", dir, langs[i]);
		text = slurp(path);
		free(path);
	}
	if (text == NULL)
		snprintf(err, BOTU_ERRLEN, "no waaier.html in %s/%s or %s/en",
		    dir, langs[0], dir);
	return text;
}

static int
render(struct botu_db *db, const struct botu_conf *conf, time_t now,
    char **html, int *count, char *err)
{
	struct collected c = { 0 };
	struct tmpl_vars *vars = NULL;
	char *text = NULL;
	int rc;

	*html = NULL;
	text = load_template(conf, err);
	if (text == NULL)
		return BOTU_ECONFIG;
	rc = notes_each_published(db, collect, &c);
	if (rc != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "cannot read the notes: %s",
		    db_errmsg(db));
		goto out;
	}
	vars = tmpl_vars_new();
	fill(conf, vars, &c, now);
	rc = tmpl_render(text, vars, TMPL_HTML, html, err);
	if (count != NULL)
		*count = (int)c.n;
out:
	for (size_t i = 0; i < c.n; i++)
		note_clear(&c.v[i]);
	free(c.v);
	tmpl_vars_free(vars);
	free(text);
	return rc;
}

int
waaier_render(struct botu_db *db, const struct botu_conf *conf, time_t now,
    char **html, char err[BOTU_ERRLEN])
{
	return render(db, conf, now, html, NULL, err);
}

static int
write_atomic(const char *path, const char *data, char *err)
{
	char *tmp = xasprintf("%s.XXXXXX", path);
	size_t len = strlen(data);
	int fd, rc = BOTU_ETEMP;

	fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, BOTU_ERRLEN, "cannot write in the folder of %s: "
		    "%s", path, strerror(errno));
		free(tmp);
		return BOTU_ETEMP;
	}
	/* A page for a web server: everyone may read it. */
	if (fchmod(fd, 0644) == 0 && write(fd, data, len) == (ssize_t)len &&
	    fsync(fd) == 0 && close(fd) == 0) {
		fd = -1;
		if (rename(tmp, path) == 0)
			rc = BOTU_OK;
	}
	if (rc != BOTU_OK) {
		snprintf(err, BOTU_ERRLEN, "cannot write %s: %s", path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

int
waaier_write(struct botu_db *db, const struct botu_conf *conf,
    const char *path, int *count, char err[BOTU_ERRLEN])
{
	char *html = NULL;
	int rc;

	rc = render(db, conf, time(NULL), &html, count, err);
	if (rc != BOTU_OK)
		return rc;
	if (strcmp(path, "-") == 0) {
		if (fputs(html, stdout) == EOF || fflush(stdout) != 0) {
			snprintf(err, BOTU_ERRLEN, "cannot write: %s",
			    strerror(errno));
			rc = BOTU_ETEMP;
		}
	} else
		rc = write_atomic(path, html, err);
	free(html);
	return rc;
}

int
waaier_refresh(struct botu_db *db, const struct botu_conf *conf,
    char err[BOTU_ERRLEN])
{
	char *path;
	int rc;

	if (conf->notes.waaier_dir[0] == '\0')
		return BOTU_OK;
	path = xasprintf("%s/index.html", conf->notes.waaier_dir);
	rc = waaier_write(db, conf, path, NULL, err);
	free(path);
	return rc;
}
