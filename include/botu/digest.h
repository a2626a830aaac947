/*
 * digest.h - the periodic digest, "Nieuwsbrief #12": the updates (posts.h)
 * published since the last issue, the PS notes newly published (with name
 * and role), upcoming meetings and the agreements reached (once the
 * meetings module fills them), how many people joined (a number, no
 * names), and a footer on writing a PS note, changing the rhythm and
 * leaving.
 *
 * An issue is made on [digest] schedule (schedule.h: "mon 09:00" weekly,
 * "day 1 09:00" monthly, in the list's time zone, once after downtime
 * however many due times were missed) or by `botu digest send`, and only
 * when something happened unless [digest] send_empty. It covers the time
 * since the previous issue (the first: everything before it).
 *
 * Storage: an issue is one row of the digests table holding what it says
 * in every language (the template variables, as JSON: tmpl_vars_json()),
 * and each member's outbox row points to it with no body of its own. The
 * mail is rendered when it is sent (digest_render_row()), the same bytes
 * on every retry: the Date is the issue's, the Message-ID the row's, the
 * MIME boundaries come from it. Making an issue is one transaction: the
 * issue, a row for every member who gets it, and the record of the
 * schedule; a crash anywhere before COMMIT leaves none of it, so the
 * next pass makes it again, and after COMMIT it is never made twice. Tests
 * prove it with BOTU_CRASH_AT (util.h): digest-issue (the issue stored),
 * digest-rows:N (the Nth member row stored), digest-commit (just before
 * COMMIT), digest-committed (just after) and digest-render:N (the Nth
 * member mail rendered for sending).
 *
 * Who gets it: active members whose delivery is "on" (score.h) and whose
 * digest rhythm (members.digest) is "weekly" get every issue. "monthly"
 * members get the monthly edition, only with the first issue made in each
 * calendar month (list time zone): it holds everything of the issues
 * since the previous monthly edition (updates and notes of all of them, a
 * note that came twice only in its newest version, the sum of new
 * members, the upcoming meetings of the newest). "off" gets none. Members
 * choose by mail: "digest wekelijks|maandelijks|uit" or "digest
 * weekly|monthly|off", as the whole subject or the whole short text.
 *
 * Size: Gmail clips a mail over about 102 KB and hides its end (the way to
 * leave). The notes of one mail share DIGEST_NOTES_CHARS characters: with
 * many notes each is shortened (never below DIGEST_NOTE_MIN), so a digest
 * with 80 notes of the longest kind stays under DIGEST_MAX_BYTES.
 */
#ifndef BOTU_DIGEST_H
#define BOTU_DIGEST_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "botu/classify.h"
#include "botu/config.h"
#include "botu/db.h"
#include "botu/intake.h"
#include "botu/members.h"
#include "botu/message.h"
#include "botu/outbox.h"
#include "botu/template.h"

/* The state key that keeps the time of the last scheduled run. */
#define DIGEST_STATE_KEY "digest.last_run"

/* Characters of note text in one mail, shared by its notes. */
#define DIGEST_NOTES_CHARS 16000
/* No note is shortened to fewer characters than this. */
#define DIGEST_NOTE_MIN 200
/* What a digest with 80 of the longest notes stays under, in octets. */
#define DIGEST_MAX_BYTES (90 * 1024)

/*
 * A section of the digest: fills the template variables of one kind of
 * news for (from, to] (after from, up to and with to) in language lang
 * ("nl", "en": dates and words differ), and adds to *items how many
 * things it found that make an issue worth sending. Items of a list are
 * objects of text fields; a field "body" gets "paragraphs" (a list of
 * { text }) and "shortened" (a flag) when the mail is rendered. Returns
 * BOTU_OK or an error.
 */
typedef int digest_fill_fn(struct botu_db *, const struct botu_conf *,
	    time_t from, time_t to, const char *lang, struct tmpl_vars *vars,
	    int *items);

/*
 * Every section's variables for (from, to] in lang, as the stored issue
 * has them; *items gets how many things happened (new members do not
 * count: alone they make no issue).
 */
int	digest_collect(struct botu_db *, const struct botu_conf *,
	    time_t from, time_t to, const char *lang, struct tmpl_vars *vars,
	    int *items);

/* What digest_issue() did. */
struct digest_made {
	int64_t	 id;		/* the issue; 0 when none was made */
	int	 number;	/* its number ("#12") */
	int	 items;		/* things in it */
	int	 rows;		/* member mails queued */
	int	 monthly;	/* 1: the monthly edition went out with it */
	time_t	 from;		/* the period it covers */
};

/*
 * Makes an issue for the time since the previous one up to now, with a
 * member row for each member who gets it, and records now as the
 * schedule's last run: all in the caller's transaction. force: also when
 * nothing happened (else [digest] send_empty decides). BOTU_OK with
 * r->id 0 when there was nothing to send.
 */
int	digest_issue(struct botu_db *, const struct botu_conf *, time_t now,
	    int force, struct digest_made *r, char err[BOTU_ERRLEN]);

/*
 * The digest's part of a daemon's pass, at now: when [digest] schedule
 * says it is due, makes the issue in its own transaction. *rows gets the
 * mails queued, *next when it is due again (0: never, schedule off).
 * BOTU_OK, or an error with err set (nothing changed; the next pass tries
 * again).
 */
int	digest_tick(struct botu_db *, const struct botu_conf *, time_t now,
	    int *rows, time_t *next, char err[BOTU_ERRLEN]);

/*
 * Issue id as member m gets it (monthly: the monthly edition), in m's
 * language: subject, text and HTML in *out (tmpl_mail_clear()). m may be
 * NULL: the list's language, no name. BOTU_EDATA with err set when the
 * issue or a template is wrong.
 */
int	digest_render(struct botu_db *, const struct botu_conf *, int64_t id,
	    int monthly, const struct member *m, struct tmpl_mail *out,
	    char err[BOTU_ERRLEN]);

/*
 * For delivery: fills row->data and row->len of an outbox row that points
 * to an issue (row->digest_id) with the complete message. BOTU_EPERM
 * (err says why) when the member may not get it any more (left, delivery
 * not on, digest off, gone): the row must be skipped; another error: try
 * again later.
 */
int	digest_render_row(struct botu_db *, const struct botu_conf *,
	    struct outbox_row *row, char err[BOTU_ERRLEN]);

/*
 * The same, for a sender that renders many rows: c keeps the issue's
 * variables in one language between calls (only the member's name and
 * addresses differ from row to row), which saves reading and parsing the
 * stored issue for every member. c may be NULL. A cache is only valid
 * while the stored issues do not change (digest_forget_member()):
 * digest_cache_clear() it before each pass over the outbox.
 */
struct digest_cache;
struct digest_cache *digest_cache_new(void);
void	digest_cache_clear(struct digest_cache *);
void	digest_cache_free(struct digest_cache *);	/* accepts NULL */
int	digest_render_row_cached(struct botu_db *, const struct botu_conf *,
	    struct digest_cache *, struct outbox_row *row,
	    char err[BOTU_ERRLEN]);

/*
 * What the next issue would be at now, rendered for the member with
 * address email (NULL: the list's language, no name), monthly edition or
 * not; nothing is stored. *items gets how many things it would hold.
 */
int	digest_preview(struct botu_db *, const struct botu_conf *, time_t now,
	    const char *email, int monthly, struct tmpl_mail *out, int *items,
	    char err[BOTU_ERRLEN]);

/*
 * Takes member_id's notes and updates out of every stored issue (botu
 * members forget), in the caller's transaction: mails not sent yet no
 * longer show them, and their words are no longer kept.
 */
int	digest_forget_member(struct botu_db *, int64_t member_id);

/* The issues made so far, newest first: a table, or a JSON array. */
int	digest_write(struct botu_db *, FILE *, int json);

/* ---- the rhythm, by mail ---- */

/*
 * The rhythm a short text asks for (normalised as classify does it, e.g.
 * "digest maandelijks"): "weekly", "monthly", "off", or NULL.
 */
const char *digest_rhythm_of(const char *text);

/* Sets member id's rhythm (weekly, monthly, off) and records why. */
int	digest_set_rhythm(struct botu_db *, int64_t id, const char *rhythm,
	    const char *actor, const char *message_id);

/* What one handled mail gives this module (as notes.h has it). */
struct digest_mail {
	const struct botu_conf	*conf;
	struct botu_db		*db;	/* NULL: describe only */
	const struct message	*msg;
	const struct classification *c;
	const struct member	*sender; /* NULL: unknown sender */
	int			 dry;
	struct intake_decision	*d;
	char			*err;	/* BOTU_ERRLEN */
};

/*
 * INTENT_DIGEST from a member: sets the rhythm at once and says so in a
 * short mail (to the member's own address, which also tells a member whose
 * address someone forged; writing again undoes it). From anyone else:
 * left for a person.
 */
int	digest_on_rhythm(struct digest_mail *);

#endif
