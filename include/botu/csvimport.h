/*
 * csvimport.h - the community's existing list into botu ("botu members
 * import"): the CSV that Excel writes, Dutch Excel included.
 *
 * Reading (csv_parse): UTF-8 with or without a byte order mark, UTF-16
 * with one (Excel's "Unicode text"), else Windows-1252 (Excel's "CSV"
 * on a Dutch Windows); fields separated by ";" (Dutch Excel), "," or a
 * tab, whichever the first line uses most, or as an Excel "sep=;" first
 * line says; RFC 4180 quoting, with line breaks inside quotes; records
 * end in CRLF, LF or a lone CR. Every record knows the line it starts on.
 *
 * Importing (import_members): the first record names the columns, in
 * English or Dutch, any case: email (e-mail, e-mailadres, mailadres),
 * name (naam), role (rol), language (taal), core (kernteam); a status
 * column, as "members export" writes it, keeps everyone but the active
 * out. Other columns are ignored and named in the result. Each address
 * becomes an active member whose consent channel records the legal basis
 * the organiser gives. Not imported, and counted: addresses already known
 * (a member, a pending sign-up, or someone who left) and addresses that
 * were forgotten or left for good (retention.h). Any bad row (an invalid
 * address, role, language or core value, an address twice) makes the
 * whole import fail with every problem listed as FILE:LINE: what; the
 * caller's transaction then stays unchanged.
 */
#ifndef BOTU_CSVIMPORT_H
#define BOTU_CSVIMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "botu/config.h"
#include "botu/db.h"

struct csv_row {
	int	  line;		/* where the record starts, from 1 */
	size_t	  n;
	char	**field;	/* UTF-8, owned */
};

struct csv_table {
	struct csv_row	*rows;
	size_t		 nrows;
	char		 delimiter;
	const char	*charset;	/* static: "UTF-8", "Windows-1252" */
};

/*
 * Parses data (len octets, any of the encodings above) into t. Empty
 * records are left out. BOTU_EDATA with err ("line 7: a quote is never
 * closed") when the text is not CSV.
 */
int	csv_parse(const char *data, size_t len, struct csv_table *t,
	    char err[BOTU_ERRLEN]);
void	csv_table_clear(struct csv_table *);

struct import_options {
	const char	*file;		/* for messages: FILE:LINE */
	const char	*basis;		/* the legal basis, required */
	int		 welcome;	/* queue the welcome mail for each */
	/* Called after each row (may be NULL): done of total. */
	void		(*progress)(size_t done, size_t total, void *arg);
	void		*arg;
};

struct import_result {
	size_t	 rows;		/* records after the header */
	size_t	 imported;
	size_t	 known;		/* already a member or a sign-up */
	size_t	 left;		/* left, still in the store */
	size_t	 suppressed;	/* forgotten or left for good */
	size_t	 not_active;	/* status column other than active */
	char	*ignored;	/* ignored columns, "a, b"; NULL: none */
	char	*problems;	/* "FILE:LINE: what" lines; NULL: none */
	size_t	 nproblems;
};

void	import_result_clear(struct import_result *);

/*
 * Imports t into the store inside the caller's transaction (see above).
 * BOTU_OK with r filled; BOTU_EDATA with r->problems (and err one line
 * saying how many) when a row is bad, or err alone when the store fails.
 */
int	import_members(struct botu_db *, const struct botu_conf *,
	    const struct csv_table *t, const struct import_options *,
	    struct import_result *r, char err[BOTU_ERRLEN]);

/*
 * Queues the welcome mail a confirmed sign-up gets for member id, in the
 * caller's transaction ("members add --welcome", "members import
 * --welcome").
 */
int	import_welcome(struct botu_db *, const struct botu_conf *, int64_t id,
	    char err[BOTU_ERRLEN]);

#endif
