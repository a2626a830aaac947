/*
 * template.h - mail texts from files, never from C strings.
 *
 * A mail is templates/<lang>/<name>.txt (first line "Subject: ...", then
 * the plain-text body) and, optionally, templates/<lang>/<name>.html beside
 * it. <name> is <purpose>[-<action>...], e.g. "confirm-subscribe"; a missing
 * name is retried with its last "-part" dropped ("confirm"), per language,
 * languages tried in the order given (member's, list's, then "en").
 *
 * The markup is a small mustache subset:
 *   {{name}}            the value; HTML-escaped in .html, as is in .txt
 *   {{{name}}}          the value, never escaped
 *   {{#name}}..{{/name}} once per item of list name, or once if the value
 *                       name is a non-empty string; nothing otherwise
 *   {{^name}}..{{/name}} once if name is unset, "" or an empty list
 *   {{! comment }}      nothing
 * Names are looked up in the innermost list item first, then outwards. An
 * unknown name renders as nothing. A tag alone on its line (sections,
 * comments) takes the line with it, so text templates stay tidy. Values are
 * never expanded again: "{{x}}" inside a value stays literal text.
 */
#ifndef BOTU_TEMPLATE_H
#define BOTU_TEMPLATE_H

#include <stdarg.h>
#include <time.h>

#include "botu/err.h"

/* Named values for one rendering: strings and lists of sub-scopes. */
struct tmpl_vars;

struct tmpl_vars *tmpl_vars_new(void);
void	tmpl_vars_free(struct tmpl_vars *);	/* accepts NULL */
/*
 * Sets (or replaces) a string value; the value is copied. A NULL value is
 * stored as "" (renders as nothing, and an empty value is false).
 */
void	tmpl_set(struct tmpl_vars *, const char *name, const char *value);
void	tmpl_setf(struct tmpl_vars *, const char *name, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
/*
 * Appends an item to list name (creating the list) and returns the item's
 * scope, owned by the parent: fill it with tmpl_set().
 */
struct tmpl_vars *tmpl_add_item(struct tmpl_vars *, const char *name);

/* The value of name in vars (borrowed), or NULL: unset or a list. */
const char *tmpl_get(const struct tmpl_vars *, const char *name);

/*
 * Appends vars to out as one JSON object (RFC 8259): a value as a string,
 * a list as an array of objects, names in the order they were first set.
 * A stored copy renders the same mail later (digest.c reads it back).
 */
struct buf;
void	tmpl_vars_json(const struct tmpl_vars *, struct buf *out);

enum tmpl_mode {
	TMPL_TEXT,	/* {{x}} as is */
	TMPL_HTML,	/* {{x}} escapes & < > " ' */
};

/*
 * Renders text with vars. *out is owned by the caller. BOTU_EDATA with err
 * ("line 3: {{#items}} is never closed") on malformed markup.
 */
int	tmpl_render(const char *text, const struct tmpl_vars *,
	    enum tmpl_mode, char **out, char err[BOTU_ERRLEN]);

/* A rendered mail; every string owned, released by tmpl_mail_clear(). */
struct tmpl_mail {
	char	*subject;	/* one line, from the .txt's 1st line */
	char	*text;		/* plain-text body, LF line ends */
	char	*html;		/* NULL when there is no .html */
	char	*lang;		/* language whose files were used */
	char	*name;		/* the name that was found */
};

/*
 * Finds and renders the mail called name in dir, trying languages in order
 * (a NULL-terminated list, so a NULL ends it: pass "" for an unknown
 * language; empty entries, entries that are not a plain code such as "nl"
 * and repeats are skipped). A .txt without a "Subject: " first line, or
 * whose subject renders empty, is an error; one blank line after the
 * subject line is not part of the body. BOTU_EDATA when nothing is found
 * or rendering fails, with err naming the files tried or the file and line.
 */
int	tmpl_mail_render(const char *dir, const char *const *langs,
	    const char *name, const struct tmpl_vars *, struct tmpl_mail *out,
	    char err[BOTU_ERRLEN]);
void	tmpl_mail_clear(struct tmpl_mail *);

/* The templates folder: the configured one, or the installed one. */
const char *tmpl_dir(const char *configured);

#endif
