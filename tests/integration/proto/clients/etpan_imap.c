/*
 * etpan_imap.c - a reference libetpan IMAP client for the proto servers.
 *
 * Not botu code: it walks the LIBRARIES.md 1.x recipe (login, SELECT INBOX,
 * UID FETCH sizes, UID FETCH BODY.PEEK[], STORE $BotuDone, MOVE or COPY +
 * \Deleted + UID EXPUNGE, IDLE) so that tests/integration/
 * test_proto_clients.py can prove the ready scripts in ../scripts/ match
 * what libetpan 1.9.4 really sends.
 *
 * usage: etpan_imap PORT [WORD...]
 *   starttls   connect in plain text, STARTTLS, then CAPABILITY
 *              (default: implicit TLS)
 *   hangup     close right after the greeting, as a client does whose
 *              certificate check failed
 *   selectonly log out right after SELECT
 *   idleonly   skip the body fetch, store and move; after IDLE, UID FETCH
 *              7:* sizes
 *   buggy      after IDLE, poll() the fd without looking at the bytes
 *              libetpan already buffered (LIBRARIES.md 1.7, bug 1)
 *   timeout=N  libetpan stream timeout in seconds (default 3)
 * Prints one line per step ("login r=0", ...).
 */
#include <libetpan/libetpan.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	opt_starttls, opt_hangup, opt_selectonly, opt_idleonly;
static int	opt_buggy;
static int	opt_timeout = 3;

static void
say(const char *what, int r)
{
	printf("%s r=%d\n", what, r);
	fflush(stdout);
}

/* UID FETCH set (UID RFC822.SIZE) or (UID BODY.PEEK[]) */
static int
fetch(mailimap *imap, struct mailimap_set *set, int body)
{
	struct mailimap_fetch_type *ft;
	clist *res = NULL;
	int r;

	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(ft,
	    mailimap_fetch_att_new_uid());
	if (body)
		mailimap_fetch_type_new_fetch_att_list_add(ft,
		    mailimap_fetch_att_new_body_peek_section(
		    mailimap_section_new(NULL)));
	else
		mailimap_fetch_type_new_fetch_att_list_add(ft,
		    mailimap_fetch_att_new_rfc822_size());
	r = mailimap_uid_fetch(imap, set, ft, &res);
	if (res != NULL)
		mailimap_fetch_list_free(res);
	mailimap_fetch_type_free(ft);
	return r;
}

static int
store(mailimap *imap, struct mailimap_set *set, struct mailimap_flag *flag)
{
	struct mailimap_flag_list *fl = mailimap_flag_list_new_empty();
	struct mailimap_store_att_flags *sa;
	int r;

	mailimap_flag_list_add(fl, flag);
	sa = mailimap_store_att_flags_new_add_flags_silent(fl);
	r = mailimap_uid_store(imap, set, sa);
	mailimap_store_att_flags_free(sa);	/* frees fl and flag */
	return r;
}

static void
archive(mailimap *imap)
{
	struct mailimap_set *set = mailimap_set_new_single(7);

	say("fetch body", fetch(imap, set, 1));
	/* keyword: heap memory, freed by the flag list (LIBRARIES.md 1.6) */
	say("store keyword", store(imap, set,
	    mailimap_flag_new_flag_keyword(strdup("$BotuDone"))));
	if (mailimap_has_extension(imap, "MOVE")) {
		say("move", mailimap_uid_move(imap, set, "Archive"));
	} else {
		say("copy", mailimap_uid_copy(imap, set, "Archive"));
		say("store deleted", store(imap, set,
		    mailimap_flag_new_deleted()));
		if (mailimap_has_uidplus(imap))
			say("uid expunge", mailimap_uid_expunge(imap, set));
	}
	mailimap_set_free(set);
}

static void
idle(mailimap *imap)
{
	struct pollfd pfd;
	int r, ready;

	r = mailimap_idle(imap);
	say("idle", r);
	if (r != MAILIMAP_NO_ERROR)
		return;
	/* Bug 1: bytes that came with "+" are already in the buffer. */
	ready = imap->imap_stream->read_buffer_len > 0 && !opt_buggy;
	if (!ready) {
		pfd.fd = mailimap_idle_get_fd(imap);
		pfd.events = POLLIN;
		ready = poll(&pfd, 1, opt_timeout * 1000) > 0;
	}
	say("idle ready", ready);
	say("idle done", mailimap_idle_done(imap));
}

/* Everything between connecting and LOGOUT. */
static void
session(mailimap *imap)
{
	struct mailimap_set *set;
	int r;

	say("login", mailimap_login(imap, "bot@example.org", "secret"));
	r = mailimap_select(imap, "INBOX");
	printf("select r=%d uidvalidity=%u uidnext=%u\n", r,
	    imap->imap_selection_info->sel_uidvalidity,
	    imap->imap_selection_info->sel_uidnext);
	if (opt_selectonly)
		return;
	set = mailimap_set_new_interval(1, 0);		/* 1:* */
	say("fetch sizes", fetch(imap, set, 0));
	mailimap_set_free(set);
	if (!opt_idleonly)
		archive(imap);
	if (!mailimap_has_idle(imap))
		return;
	idle(imap);
	if (opt_idleonly) {
		set = mailimap_set_new_interval(7, 0);
		say("fetch after idle", fetch(imap, set, 0));
		mailimap_set_free(set);
	}
}

int
main(int argc, char **argv)
{
	struct mailimap_capability_data *caps = NULL;
	mailimap *imap;
	int i, port, r;

	if (argc < 2) {
		fprintf(stderr, "usage: etpan_imap PORT [WORD...]\n");
		return 2;
	}
	port = atoi(argv[1]);
	for (i = 2; i < argc; i++) {
		opt_starttls |= strcmp(argv[i], "starttls") == 0;
		opt_hangup |= strcmp(argv[i], "hangup") == 0;
		opt_selectonly |= strcmp(argv[i], "selectonly") == 0;
		opt_idleonly |= strcmp(argv[i], "idleonly") == 0;
		opt_buggy |= strcmp(argv[i], "buggy") == 0;
		if (strncmp(argv[i], "timeout=", 8) == 0)
			opt_timeout = atoi(argv[i] + 8);
	}
	signal(SIGPIPE, SIG_IGN);	/* LIBRARIES.md 1.2 */
	imap = mailimap_new(0, NULL);
	mailimap_set_timeout(imap, opt_timeout);	/* before connecting */
	if (opt_starttls) {
		r = mailimap_socket_connect(imap, "127.0.0.1", port);
		say("connect", r);
		if (r == MAILIMAP_NO_ERROR_NON_AUTHENTICATED)
			r = mailimap_socket_starttls(imap);
		say("starttls", r);
		if (r == MAILIMAP_NO_ERROR) {
			/* starttls does not re-ask: LIBRARIES.md 1.1 */
			r = mailimap_capability(imap, &caps);
			say("capability", r);
			mailimap_capability_data_free(caps);
		}
	} else {
		r = mailimap_ssl_connect(imap, "127.0.0.1", port);
		say("connect", r);
		if (r == MAILIMAP_NO_ERROR_NON_AUTHENTICATED)
			r = MAILIMAP_NO_ERROR;
	}
	if (r != MAILIMAP_NO_ERROR || opt_hangup) {
		/* drop without LOGOUT (LIBRARIES.md 1.2) */
		if (imap->imap_stream != NULL)
			mailstream_close(imap->imap_stream);
		imap->imap_stream = NULL;
		mailimap_free(imap);
		say("hung up", 0);
		return 0;
	}
	session(imap);
	say("logout", mailimap_logout(imap));
	mailimap_free(imap);
	return 0;
}
