/*
 * memberdata.h - what botu keeps about members, read out: the export for
 * the organiser ("botu members export", notes included) and everything
 * about one member for the member themselves ("mijn gegevens" by mail,
 * GDPR/AVG art. 15 and 20: a readable mail and the same as JSON).
 */
#ifndef BOTU_MEMBERDATA_H
#define BOTU_MEMBERDATA_H

#include <stdint.h>
#include <stdio.h>

#include "botu/config.h"
#include "botu/db.h"
#include "botu/members.h"
#include "botu/template.h"

/*
 * Writes every member ordered by address. MEMBERS_JSON: an array of
 * objects with every stored field and "notes", every version of their PS
 * notes (id, status, name, role, body, created, confirmed, published,
 * decided_by, reason). MEMBERS_CSV: RFC 4180 with a header line, one row
 * a member, the current note (the published one, else the newest) in the
 * columns note_status and note; excel: ";" between fields and a UTF-8
 * byte order mark, as Dutch Excel opens it. The CSV reads back with
 * "botu members import". MEMBERS_TEXT is not an export: BOTU_EDATA.
 */
int	memberdata_export(struct botu_db *, FILE *, enum members_format,
	    int excel);

/*
 * Everything stored about member id as one JSON object (owned): the
 * fields of the export, plus "events" (what happened and why), "mails"
 * (what botu sent them: when, what, status; not the text), "received"
 * (mail botu handled from their address: when, subject, what it was)
 * and "bounces". BOTU_EPERM when there is no such member.
 */
int	memberdata_json(struct botu_db *, int64_t id, char **json);

/*
 * The same for the "my-data" mail template, in language lang (dates in
 * the list's time zone); see templates/README.
 */
int	memberdata_vars(struct botu_db *, const struct botu_conf *,
	    int64_t id, const char *lang, struct tmpl_vars *);

#endif
