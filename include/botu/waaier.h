/*
 * waaier.h - the waaier: every published PS note on one page, a "fan" of
 * cards with name, role and note, grouped by role in the order of
 * [notes] roles and by name within a role. The page is one
 * self-contained HTML file (inline CSS, no script, nothing fetched) that
 * prints well and reads well on a phone; its words come from the template
 * templates/<list language>/waaier.html, every value HTML-escaped.
 */
#ifndef BOTU_WAAIER_H
#define BOTU_WAAIER_H

#include <time.h>

#include "botu/config.h"
#include "botu/db.h"

/* The page as it is now; *html owned by the caller. */
int	waaier_render(struct botu_db *, const struct botu_conf *, time_t now,
	    char **html, char err[BOTU_ERRLEN]);

/*
 * Writes the page to path ("-": standard output) atomically: a temporary
 * file in the same folder, flushed, then renamed over path, so a web
 * server never serves half a page. *count gets the number of notes
 * (may be NULL).
 */
int	waaier_write(struct botu_db *, const struct botu_conf *,
	    const char *path, int *count, char err[BOTU_ERRLEN]);

/* Rewrites [notes] waaier_dir/index.html; BOTU_OK when none is set. */
int	waaier_refresh(struct botu_db *, const struct botu_conf *,
	    char err[BOTU_ERRLEN]);

#endif
