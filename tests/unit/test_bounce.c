/*
 * test_bounce.c - the bounce parser (src/bounce.c): status classes, RFC
 * 3464 reports, ARF complaints and plain-text formats as unit cases, then
 * the shared corpora ($BOTU_CORPUS):
 *   bounces/  every file of expected.tsv must give exactly its addresses
 *             (compared without case, an extra address fails); the files
 *             the sources call no bounce, a delay warning or a report
 *             without a detectable address (MANIFEST.tsv's note, and the
 *             corpus README) must give none; every address given must be
 *             in the file (AOL screen names aside).
 *   mime/     no file is acted on as a bounce by handle_decide() (nothing
 *             in them is botu's); the parser alone finds recipients only
 *             in real delivery reports and complaints, which are listed.
 * Figures per source go to stdout. BOUNCE_VERBOSE=1 prints every file.
 */
#include "testutil.h"

#include <dirent.h>
#include <strings.h>

#include "botu/bounce.h"
#include "botu/classify.h"
#include "botu/config.h"
#include "botu/db.h"
#include "botu/handle.h"
#include "botu/message.h"
#include "botu/util.h"

static void
parse_str(const char *raw, struct message *m)
{
	char err[BOTU_ERRLEN];

	if (message_parse(raw, strlen(raw), m, err) != BOTU_OK)
		fail_msg("parse: %s", err);
}

/* ---- classes ---- */

static void
test_classify(void **state)
{
	static const struct {
		const char	*status;
		const char	*text;
		enum bounce_class want;
	} cases[] = {
		{ "5.1.1", "User unknown", BOUNCE_HARD },
		{ "5.1.2", "", BOUNCE_HARD },
		{ "5.1.3", "", BOUNCE_HARD },
		{ "5.1.6", "", BOUNCE_HARD },
		{ "5.1.10", "", BOUNCE_HARD },
		{ "5.2.1", "account disabled", BOUNCE_HARD },
		{ "5.2.2", "Mailbox full", BOUNCE_SOFT },
		{ "4.2.2", "Mailbox full", BOUNCE_SOFT },
		{ "4.4.1", "no answer", BOUNCE_SOFT },
		{ "4.7.1", "try again later", BOUNCE_SOFT },
		{ "5.1.7", "bad sender", BOUNCE_OURS },
		{ "5.1.8", "", BOUNCE_OURS },
		{ "5.7.1", "Sender address rejected: not owned by user",
		    BOUNCE_OURS },
		{ "5.7.1", "SMTP error after MAIL FROM: denied", BOUNCE_OURS },
		{ "5.7.26", "unauthenticated mail", BOUNCE_OURS },
		{ "5.7.30", "Basic authentication is not supported",
		    BOUNCE_OURS },
		{ "5.7.1", "Message rejected as spam", BOUNCE_POLICY },
		{ "5.7.1", "Recipient address rejected: Access denied",
		    BOUNCE_POLICY },
		{ "5.4.1", "Recipient address rejected", BOUNCE_POLICY },
		{ "5.2.3", "message too large", BOUNCE_POLICY },
		{ "5.3.4", "", BOUNCE_POLICY },
		{ "5.0.0", "550 Unknown user", BOUNCE_HARD },
		{ "5.0.0", "quota exceeded", BOUNCE_SOFT },
		{ "5.0.0", "blocked by RBL", BOUNCE_POLICY },
		{ "5.0.0", "", BOUNCE_SOFT },
		{ "", "550 5.1.1 <x@y.example>: User unknown", BOUNCE_HARD },
		{ "", "552 5.2.2 Over quota", BOUNCE_SOFT },
		{ "", "Sorry, no mailbox here by that name.", BOUNCE_HARD },
		{ NULL, NULL, BOUNCE_SOFT },
	};

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		enum bounce_class got = bounce_classify(cases[i].status,
		    cases[i].text);

		if (got != cases[i].want)
			fail_msg("%s '%s': %s, not %s", cases[i].status,
			    cases[i].text, bounce_class_name(got),
			    bounce_class_name(cases[i].want));
	}
}

static void
test_find_status(void **state)
{
	char st[16];

	(void)state;
	assert_true(bounce_find_status("550 5.1.1 <a@b.example>", st,
	    sizeof(st)));
	assert_string_equal(st, "5.1.1");
	assert_true(bounce_find_status("smtp; 550-5.7.26 unauthenticated",
	    st, sizeof(st)));
	assert_string_equal(st, "5.7.26");
	assert_true(bounce_find_status("(#5.1.1)", st, sizeof(st)));
	assert_string_equal(st, "5.1.1");
	/* version numbers and addresses are no status */
	assert_false(bounce_find_status("Exim 4.05 at 10.2.3.4", st,
	    sizeof(st)));
	assert_false(bounce_find_status("host 5.1.1.example", st,
	    sizeof(st)));
	assert_false(bounce_find_status("", st, sizeof(st)));
}

/* ---- formats ---- */

#define DSN_HEAD \
	"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n" \
	"To: annerike@lsabewoners.nl\r\n" \
	"Subject: Undelivered Mail Returned to Sender\r\n" \
	"Content-Type: multipart/report; report-type=delivery-status; " \
	"boundary=b\r\n\r\n" \
	"--b\r\nContent-Type: text/plain\r\n\r\n" \
	"<oud@example.net>: host said: 550 5.1.1 User unknown\r\n" \
	"--b\r\nContent-Type: message/delivery-status\r\n\r\n" \
	"Reporting-MTA: dns; mx.example.net\r\n" \
	"Action: failed\r\n\r\n"

static void
test_dsn(void **state)
{
	struct message m;
	struct bounce_report r;

	(void)state;
	parse_str(DSN_HEAD
	    "Final-Recipient: rfc822; oud@example.net\r\n"
	    "Original-Recipient: rfc822;Oud-Lid@example.net\r\n"
	    "Action: failed\r\n"
	    "Status: 5.1.1\r\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 <oud@example.net>: Recipient\r\n"
	    "    address rejected: User unknown\r\n"
	    "Final-Recipient: rfc822; vol@example.net\r\n"
	    "Action: failed\r\n"
	    "Status: 5.2.2\r\n\r\n"
	    "Final-Recipient: rfc822; traag@example.net\r\n"
	    "Action: delayed\r\n"
	    "Status: 4.4.1\r\n\r\n"
	    "Final-Recipient: rfc822; ok@example.net\r\n"
	    "Action: delivered\r\n"
	    "Status: 2.0.0\r\n\r\n"
	    "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
	    "From: annerike@lsabewoners.nl\r\n"
	    "To: oud@example.net\r\n"
	    "Message-ID: <digest.7@lsabewoners.nl>\r\n\r\n"
	    "--b--\r\n", &m);
	assert_true(bounce_looks_like(&m));
	bounce_parse(&m, &r);
	assert_int_equal(r.format, BOUNCE_FORMAT_DSN);
	assert_int_equal(r.warning, 0);
	assert_int_equal(r.nrcpts, 2);
	/* Original-Recipient is what we sent to */
	assert_string_equal(r.rcpts[0].address, "Oud-Lid@example.net");
	assert_string_equal(r.rcpts[0].action, "failed");
	assert_string_equal(r.rcpts[0].status, "5.1.1");
	assert_int_equal(r.rcpts[0].cls, BOUNCE_HARD);
	assert_string_equal(r.rcpts[0].diagnostic, "550 5.1.1 "
	    "<oud@example.net>: Recipient address rejected: User unknown");
	assert_string_equal(r.rcpts[1].address, "vol@example.net");
	assert_int_equal(r.rcpts[1].cls, BOUNCE_SOFT);
	assert_non_null(r.message_ids);
	assert_string_equal(r.message_ids[0], "<digest.7@lsabewoners.nl>");
	assert_null(r.message_ids[1]);
	assert_string_equal(r.returned_to[0], "oud@example.net");
	bounce_report_clear(&r);
	message_clear(&m);
}

/* Only delays: a warning, nobody listed; a full mailbox is named. */
static void
test_dsn_delay(void **state)
{
	struct message m;
	struct bounce_report r;

	(void)state;
	parse_str(DSN_HEAD
	    "Final-Recipient: rfc822; traag@example.net\r\n"
	    "Action: delayed\r\n"
	    "Status: 4.4.1\r\n\r\n--b--\r\n", &m);
	bounce_parse(&m, &r);
	assert_int_equal(r.format, BOUNCE_FORMAT_DSN);
	assert_int_equal(r.warning, 1);
	assert_int_equal(r.nrcpts, 0);
	bounce_report_clear(&r);
	message_clear(&m);

	parse_str(DSN_HEAD
	    "Final-Recipient: rfc822; vol@example.net\r\n"
	    "Action: delayed\r\n"
	    "Status: 4.2.2\r\n\r\n--b--\r\n", &m);
	bounce_parse(&m, &r);
	assert_int_equal(r.nrcpts, 1);
	assert_string_equal(r.rcpts[0].action, "delayed");
	assert_int_equal(r.rcpts[0].cls, BOUNCE_SOFT);
	bounce_report_clear(&r);
	message_clear(&m);
}

/* A challenge-response system is no failure of the address. */
static void
test_dsn_challenge(void **state)
{
	struct message m;
	struct bounce_report r;

	(void)state;
	parse_str(DSN_HEAD
	    "Final-Recipient: rfc822; nieuw@example.net\r\n"
	    "Action: failed\r\n"
	    "Status: 5.0.0\r\n"
	    "Diagnostic-Code: smtp; 550 Your server requires confirmation."
	    "\r\n\r\n--b--\r\n", &m);
	bounce_parse(&m, &r);
	assert_int_equal(r.format, BOUNCE_FORMAT_DSN);
	assert_int_equal(r.nrcpts, 0);
	bounce_report_clear(&r);
	message_clear(&m);
}

static void
test_arf(void **state)
{
	struct message m;
	struct bounce_report r;

	(void)state;
	parse_str("From: staff@hotmail.example\r\n"
	    "To: annerike@lsabewoners.nl\r\n"
	    "Subject: complaint about message\r\n"
	    "Content-Type: multipart/report; report-type=feedback-report; "
	    "boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n"
	    "--b\r\nContent-Type: message/feedback-report\r\n\r\n"
	    "Feedback-Type: abuse\r\nUser-Agent: Hotmail FBL\r\n"
	    "Version: 1\r\n"
	    "--b\r\nContent-Type: message/rfc822\r\n\r\n"
	    "From: annerike@lsabewoners.nl\r\n"
	    "To: lid@example.net\r\n"
	    "Message-ID: <d.9@lsabewoners.nl>\r\n\r\nDigest\r\n"
	    "--b--\r\n", &m);
	assert_non_null(m.feedback);
	assert_true(bounce_looks_like(&m));
	bounce_parse(&m, &r);
	assert_int_equal(r.format, BOUNCE_FORMAT_ARF);
	assert_int_equal(r.nrcpts, 1);
	assert_string_equal(r.rcpts[0].address, "lid@example.net");
	assert_string_equal(r.rcpts[0].action, "complaint");
	assert_int_equal(r.rcpts[0].cls, BOUNCE_COMPLAINT);
	assert_string_equal(r.message_ids[0], "<d.9@lsabewoners.nl>");
	bounce_report_clear(&r);
	message_clear(&m);
}

static void
test_qmail(void **state)
{
	struct message m;
	struct bounce_report r;

	(void)state;
	parse_str("From: MAILER-DAEMON@mx.example.org\r\n"
	    "To: annerike+bounce-b-aaaaaaaaaaaaa@lsabewoners.nl\r\n"
	    "Subject: failure notice\r\n\r\n"
	    "Hi. This is the qmail-send program at mx.example.org.\r\n"
	    "I'm afraid I wasn't able to deliver your message to the "
	    "following addresses.\r\n"
	    "This is a permanent error; I've given up. Sorry it didn't "
	    "work out.\r\n\r\n"
	    "<weg@example.org>:\r\n"
	    "Sorry, no mailbox here by that name. (#5.1.1)\r\n\r\n"
	    "--- Below this line is a copy of the message.\r\n\r\n"
	    "Return-Path: <annerike@lsabewoners.nl>\r\n"
	    "From: Annerike <annerike@lsabewoners.nl>\r\n"
	    "To: weg@example.org, ander@example.org\r\n"
	    "Message-ID: <w.1@lsabewoners.nl>\r\n\r\nWelkom!\r\n", &m);
	assert_true(bounce_looks_like(&m));
	bounce_parse(&m, &r);
	assert_int_equal(r.format, BOUNCE_FORMAT_TEXT);
	assert_int_equal(r.nrcpts, 1);
	assert_string_equal(r.rcpts[0].address, "weg@example.org");
	assert_string_equal(r.rcpts[0].status, "5.1.1");
	assert_int_equal(r.rcpts[0].cls, BOUNCE_HARD);
	assert_string_equal(r.message_ids[0], "<w.1@lsabewoners.nl>");
	bounce_report_clear(&r);
	message_clear(&m);
}

/* An out-of-office that quotes our mail is no bounce at all. */
static void
test_autoreply(void **state)
{
	struct message m;
	struct bounce_report r;

	(void)state;
	parse_str("From: Jan <jan@example.org>\r\n"
	    "To: annerike@lsabewoners.nl\r\n"
	    "Subject: Automatisch antwoord: Buurtnieuws\r\n"
	    "Auto-Submitted: auto-replied\r\n\r\n"
	    "Ik ben afwezig tot 3 januari. Mail kon niet worden "
	    "afgeleverd? failed user unknown jan@example.org\r\n"
	    "Message-ID: <d.9@lsabewoners.nl>\r\n", &m);
	assert_false(bounce_looks_like(&m));
	bounce_parse(&m, &r);
	assert_int_equal(r.format, BOUNCE_FORMAT_NONE);
	assert_int_equal(r.nrcpts, 0);
	bounce_report_clear(&r);
	message_clear(&m);
}

/* An Exim delay warning names the address but nothing failed. */
static void
test_text_warning(void **state)
{
	struct message m;
	struct bounce_report r;

	(void)state;
	parse_str("From: Mail Delivery System <Mailer-Daemon@mx.example>\r\n"
	    "Subject: Warning: message 1abc delayed 24 hours\r\n\r\n"
	    "A message that you sent has not yet been delivered to one or "
	    "more of its recipients after more than 24 hours.\r\n\r\n"
	    "  traag@example.net\r\n\r\n"
	    "No action is required on your part.\r\n", &m);
	bounce_parse(&m, &r);
	assert_int_equal(r.warning, 1);
	assert_int_equal(r.nrcpts, 0);
	bounce_report_clear(&r);
	message_clear(&m);
}

/* ---- corpora ---- */

struct figures {
	char	 source[32];
	int	 files;		/* with an expectation */
	int	 exact;
	int	 missing;	/* expected addresses not found */
	int	 extra;		/* addresses found, not expected */
	int	 negatives;	/* files that must give none */
	int	 negatives_ok;
	int	 others;	/* files without an expectation */
	int	 others_found;	/* ... in which addresses were found */
};

static char *
slurp(const char *path, size_t *len)
{
	struct buf b;
	char chunk[65536];
	size_t n;
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	*len = b.len;
	return buf_detach(&b);
}

/* The lines of a TSV file as "first\tsecond" pairs: v[2i], v[2i+1]. */
static char **
read_tsv(const char *path, int cols_wanted_a, int cols_wanted_b)
{
	size_t len;
	char *data = slurp(path, &len), *save = NULL, **v = NULL;

	for (char *l = strtok_r(data, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		char *cols[16] = { 0 };
		int n = 0;

		for (char *p = l; n < 16;) {
			cols[n++] = p;
			p = strchr(p, '\t');
			if (p == NULL)
				break;
			*p++ = '\0';
		}
		v = strv_add(v, cols[cols_wanted_a] != NULL ?
		    cols[cols_wanted_a] : "");
		v = strv_add(v, cols_wanted_b < n && cols[cols_wanted_b] ?
		    cols[cols_wanted_b] : "");
	}
	free(data);
	return v;
}

static const char *
lookup(char **pairs, const char *key)
{
	for (size_t i = 0; pairs != NULL && pairs[i] != NULL; i += 2)
		if (strcmp(pairs[i], key) == 0)
			return pairs[i + 1];
	return NULL;
}

static struct figures *
figures_for(struct figures *f, size_t *n, const char *file)
{
	char src[32];

	str_copy(src, file, sizeof(src));
	src[strcspn(src, "_")] = '\0';
	for (size_t i = 0; i < *n; i++)
		if (strcmp(f[i].source, src) == 0)
			return &f[i];
	memset(&f[*n], 0, sizeof(f[*n]));
	str_copy(f[*n].source, src, sizeof(f[*n].source));
	return &f[(*n)++];
}

static int
in_list(const char *list, const char *addr)
{
	size_t n = strlen(addr);

	for (const char *p = list; p != NULL && *p != '\0';) {
		const char *comma = strchr(p, ',');
		size_t k = comma != NULL ? (size_t)(comma - p) : strlen(p);

		if (k == n && strncasecmp(p, addr, n) == 0)
			return 1;
		p = comma != NULL ? comma + 1 : NULL;
	}
	return 0;
}

/* The addresses of r, comma-separated, for messages. */
static char *
joined(const struct bounce_report *r)
{
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < r->nrcpts; i++)
		buf_addf(&b, "%s%s(%s %s %s)", i ? "," : "",
		    r->rcpts[i].address, r->rcpts[i].action, r->rcpts[i].status,
		    bounce_class_name(r->rcpts[i].cls));
	return buf_detach(&b);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **
list_eml(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;

	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n > 4 && strcmp(de->d_name + n - 4, ".eml") == 0)
			v = strv_add(v, de->d_name);
	}
	closedir(d);
	if (v != NULL)
		qsort(v, strv_len(v), sizeof(*v), cmp_names);
	return v;
}

/* A file no address may come from, by the corpus' notes. */
static int
negative(char **notes, const char *file)
{
	static const char *const readme[] = { "mailman2_qmail_08.eml",
	    "mailman2_dumbass_01.eml", "mailman2_bounce_01.eml", NULL };
	const char *note = lookup(notes, file);

	for (size_t i = 0; readme[i] != NULL; i++)
		if (strcmp(readme[i], file) == 0)
			return 1;
	return note != NULL && (strstr(note, "NOT a bounce") != NULL ||
	    strstr(note, "expects Stop") != NULL ||
	    strstr(note, "expects no address") != NULL);
}

static void
bounce_file(const char *dir, const char *file, struct bounce_report *r,
    char **raw, size_t *len)
{
	char *path = xasprintf("%s/%s", dir, file), err[BOTU_ERRLEN];
	struct message m;

	*raw = slurp(path, len);
	memset(r, 0, sizeof(*r));
	if (message_parse(*raw, *len, &m, err) == BOTU_OK) {
		bounce_parse(&m, r);
		message_clear(&m);
	}
	free(path);
}

static void
test_corpus_bounces(void **state)
{
	const char *base = getenv("BOTU_CORPUS");
	int verbose = getenv("BOUNCE_VERBOSE") != NULL;
	char *dir, *path, **expected, **notes, **files;
	struct figures fig[16], total = { "all", 0, 0, 0, 0, 0, 0, 0, 0 };
	size_t nfig = 0;
	int bad = 0;

	(void)state;
	if (base == NULL || access(base, R_OK) != 0) {
		printf("   no corpus at %s: skipped\n",
		    base != NULL ? base : "(unset)");
		skip();
	}
	dir = xasprintf("%s/bounces", base);
	path = xasprintf("%s/expected.tsv", dir);
	expected = read_tsv(path, 0, 1);
	free(path);
	path = xasprintf("%s/MANIFEST.tsv", dir);
	notes = read_tsv(path, 0, 7);
	free(path);
	files = list_eml(dir);
	assert_non_null(files);
	for (size_t i = 0; files[i] != NULL; i++) {
		const char *want = lookup(expected, files[i]);
		struct figures *f = figures_for(fig, &nfig, files[i]);
		struct bounce_report r;
		char *raw, *got;
		size_t len;
		int missing = 0, extra = 0;

		bounce_file(dir, files[i], &r, &raw, &len);
		got = joined(&r);
		for (size_t k = 0; k < r.nrcpts; k++) {
			const char *a = r.rcpts[k].address;
			char *at = strchr(a, '@');

			if (want != NULL && !in_list(want, a))
				extra++;
			/* found where it is written (AOL: the name) */
			if (memmem(raw, len, a, strlen(a)) == NULL &&
			    (at == NULL || strcmp(at, "@aol.com") != 0 ||
			    memmem(raw, len, a, (size_t)(at - a)) == NULL)) {
				printf("   %s: %s is not in the file\n",
				    files[i], a);
				bad++;
			}
		}
		for (const char *p = want; p != NULL && *p != '\0';) {
			const char *comma = strchr(p, ',');
			size_t n = comma ? (size_t)(comma - p) : strlen(p);
			int found = 0;

			for (size_t k = 0; k < r.nrcpts; k++)
				if (strlen(r.rcpts[k].address) == n &&
				    strncasecmp(r.rcpts[k].address, p, n) == 0)
					found = 1;
			missing += !found;
			p = comma != NULL ? comma + 1 : NULL;
		}
		if (want != NULL) {
			f->files++;
			f->exact += missing == 0 && extra == 0;
			f->missing += missing;
			f->extra += extra;
			if (missing || extra) {
				printf("   MISMATCH %s: want %s, got %s\n",
				    files[i], want, got);
				bad++;
			}
		} else if (negative(notes, files[i])) {
			f->negatives++;
			f->negatives_ok += r.nrcpts == 0;
			if (r.nrcpts != 0) {
				printf("   NOT A BOUNCE %s: got %s\n",
				    files[i], got);
				bad++;
			}
		} else {
			f->others++;
			f->others_found += r.nrcpts > 0;
		}
		if (verbose)
			printf("   %-50s %s%s%s\n", files[i], got,
			    r.warning ? " [warning]" : "",
			    r.format == BOUNCE_FORMAT_NONE ? " [none]" : "");
		free(got);
		free(raw);
		bounce_report_clear(&r);
	}
	printf("   %-14s %7s %7s %7s %7s %9s %12s\n", "source", "files",
	    "exact", "missing", "extra", "negatives", "unexpected");
	for (size_t i = 0; i <= nfig; i++) {
		struct figures *f = i < nfig ? &fig[i] : &total;

		if (i < nfig) {
			total.files += f->files;
			total.exact += f->exact;
			total.missing += f->missing;
			total.extra += f->extra;
			total.negatives += f->negatives;
			total.negatives_ok += f->negatives_ok;
			total.others += f->others;
			total.others_found += f->others_found;
		}
		printf("   %-14s %7d %7d %7d %7d %5d/%-3d %5d/%-6d\n",
		    f->source, f->files, f->exact, f->missing, f->extra,
		    f->negatives_ok, f->negatives, f->others_found, f->others);
	}
	printf("   (exact: expected files whose address set is exactly "
	    "right; negatives: none\n    found / files that must give none; "
	    "unexpected: files without an\n    expectation in which "
	    "addresses were found / such files)\n");
	strv_free(files);
	strv_free(expected);
	strv_free(notes);
	free(dir);
	assert_int_equal(bad, 0);
}

/*
 * The MIME corpus holds a few real reports of other people's mail, and
 * none of botu's: the daemon's path (handle_decide() against an empty
 * store) acts on none of them; the parser alone names recipients only in
 * delivery reports and complaints.
 */
static void
test_corpus_mime(void **state)
{
	const char *base = getenv("BOTU_CORPUS");
	struct botu_conf *conf = conf_defaults();
	char *dir, *path, **files, err[BOTU_ERRLEN], *tmp = tmpdir_new();
	struct botu_db *db = NULL;
	int parsed = 0, named = 0, bounces = 0, acted = 0, bad = 0;

	(void)state;
	if (base == NULL || access(base, R_OK) != 0) {
		conf_free(conf);
		tmpdir_remove(tmp);
		skip();
	}
	free(conf->list.address);
	conf->list.address = xstrdup("annerike@lsabewoners.nl");
	path = xasprintf("%s/botu.db", tmp);
	assert_int_equal(db_open(path, DB_READWRITE, &db, err), BOTU_OK);
	free(path);
	dir = xasprintf("%s/mime", base);
	files = list_eml(dir);
	assert_non_null(files);
	for (size_t i = 0; files[i] != NULL; i++) {
		struct classification c;
		struct intake_decision d;
		struct bounce_report r;
		struct message m;
		char *raw, *got;
		size_t len;

		path = xasprintf("%s/%s", dir, files[i]);
		raw = slurp(path, &len);
		free(path);
		/* the known libetpan killer never runs in this process */
		if (memmem(raw, len, "boundary=\"\\\"\"", 13) != NULL ||
		    message_parse(raw, len, &m, err) != BOTU_OK) {
			free(raw);
			continue;
		}
		parsed++;
		bounce_parse(&m, &r);
		if (r.nrcpts > 0) {
			got = joined(&r);
			named++;
			printf("   %-44s %s\n", files[i], got);
			if (m.dsn == NULL && m.feedback == NULL &&
			    !bounce_looks_like(&m)) {
				printf("   ^ NOT A REPORT\n");
				bad++;
			}
			free(got);
		}
		if (handle_decide(conf, db, &m, 1, &c, &d, err) != BOTU_OK)
			fail_msg("%s: %s", files[i], err);
		if (c.intent == INTENT_BOUNCE) {
			bounces++;
			if (d.act) {
				printf("   ACTED ON %s: %s\n", files[i],
				    d.action);
				acted++;
			}
		}
		classification_clear(&c);
		bounce_report_clear(&r);
		message_clear(&m);
		free(raw);
	}
	printf("   mime: %d files parsed, %d classified as reports, %d acted "
	    "on; the parser names recipients in %d (all reports: listed)\n",
	    parsed, bounces, acted, named);
	strv_free(files);
	free(dir);
	db_close(db);
	conf_free(conf);
	tmpdir_remove(tmp);
	assert_int_equal(acted, 0);
	assert_int_equal(bad, 0);
	assert_true(parsed > 250);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_find_status),
		cmocka_unit_test(test_dsn),
		cmocka_unit_test(test_dsn_delay),
		cmocka_unit_test(test_dsn_challenge),
		cmocka_unit_test(test_arf),
		cmocka_unit_test(test_qmail),
		cmocka_unit_test(test_autoreply),
		cmocka_unit_test(test_text_warning),
		cmocka_unit_test(test_corpus_bounces),
		cmocka_unit_test(test_corpus_mime),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
