/* cmd_backup.c - botu backup FILE: a copy of the database, while it runs */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "botu/cmd.h"
#include "botu/util.h"

#define BUSY_TRIES 50		/* 100 ms apart */

static const char usage_backup[] =
    "usage: botu backup FILE\n"
    "  Copies the database to FILE, also while botu runs (SQLite's online\n"
    "  backup): the copy holds every change committed before it began.\n"
    "  FILE is written under a temporary name, checked, and only then\n"
    "  renamed to FILE (mode 600), so FILE is never half a backup.\n";

/* A one-off statement that returns one text value. */
static int
one_text(sqlite3 *h, const char *sql, char *out, size_t len)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	out[0] = '\0';
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		str_copy(out, db_col_text(st, 0), len);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Copies src into dst in one step: one read transaction, one snapshot. */
static int
copy(sqlite3 *dst, sqlite3 *src, char *err)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	int rc = SQLITE_OK;

	if (b == NULL) {
		snprintf(err, BOTU_ERRLEN, "%s", sqlite3_errmsg(dst));
		return EX_CANTCREAT;
	}
	for (int i = 0; i < BUSY_TRIES; i++) {
		rc = sqlite3_backup_step(b, -1);
		if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
			break;
		nanosleep(&pause, NULL);
	}
	sqlite3_backup_finish(b);
	if (rc == SQLITE_DONE)
		return EX_OK;
	snprintf(err, BOTU_ERRLEN, "%s", sqlite3_errstr(rc));
	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? EX_TEMPFAIL :
	    EX_IOERR;
}

/*
 * The copy is one self-contained file (no WAL beside it) and intact;
 * *version gets its schema version.
 */
static int
finish_copy(sqlite3 *dst, char *version, size_t vlen, char *err)
{
	char res[256];

	if (one_text(dst, "PRAGMA journal_mode = DELETE", res,
	    sizeof(res)) < 0 || strcmp(res, "delete") != 0) {
		snprintf(err, BOTU_ERRLEN, "cannot leave WAL mode: %s",
		    sqlite3_errmsg(dst));
		return EX_IOERR;
	}
	if (one_text(dst, "PRAGMA quick_check", res, sizeof(res)) < 0 ||
	    strcmp(res, "ok") != 0) {
		snprintf(err, BOTU_ERRLEN, "the copy is damaged: %s", res);
		return EX_DATAERR;
	}
	(void)one_text(dst, "PRAGMA user_version", version, vlen);
	return EX_OK;
}

/* fsync(2) of a file or a folder by name. */
static int
sync_path(const char *path, int dir)
{
	int fd = open(path, (dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static char *
folder_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	return xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
}

static int
backup(const char *db_path, const char *file, char *version, size_t vlen,
    char *err)
{
	sqlite3 *src = NULL, *dst = NULL;
	char *tmp = xasprintf("%s.tmp-XXXXXX", file), *dir = folder_of(file);
	int fd, code = EX_OK;

	/* Read only, and no schema upgrade: the backup is of what is. */
	if (sqlite3_open_v2(db_path, &src, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		snprintf(err, BOTU_ERRLEN, "cannot open database %s: %s",
		    db_path, src != NULL ? sqlite3_errmsg(src) : "no memory");
		code = EX_UNAVAILABLE;
		goto out;
	}
	sqlite3_busy_timeout(src, 10000);
	fd = mkstemp(tmp);	/* mode 600: the data is personal */
	if (fd < 0) {
		snprintf(err, BOTU_ERRLEN, "cannot write in %s: %s", dir,
		    strerror(errno));
		tmp[0] = '\0';
		code = EX_CANTCREAT;
		goto out;
	}
	close(fd);
	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		snprintf(err, BOTU_ERRLEN, "cannot write %s: %s", tmp,
		    dst != NULL ? sqlite3_errmsg(dst) : "no memory");
		code = EX_CANTCREAT;
		goto out;
	}
	code = copy(dst, src, err);
	if (code == EX_OK)
		code = finish_copy(dst, version, vlen, err);
	if (sqlite3_close(dst) != SQLITE_OK && code == EX_OK) {
		snprintf(err, BOTU_ERRLEN, "cannot close %s", tmp);
		code = EX_IOERR;
	}
	dst = NULL;
	if (code == EX_OK && (sync_path(tmp, 0) < 0 ||
	    rename(tmp, file) < 0)) {
		snprintf(err, BOTU_ERRLEN, "cannot write %s: %s", file,
		    strerror(errno));
		code = EX_CANTCREAT;
	}
	if (code == EX_OK) {
		tmp[0] = '\0';	/* it is FILE now */
		(void)sync_path(dir, 1);
	}
out:
	sqlite3_close(dst);
	sqlite3_close(src);
	if (tmp[0] != '\0')
		unlink(tmp);
	free(tmp);
	free(dir);
	return code;
}

int
cmd_backup(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ NULL, 0, NULL, 0 },
	};
	const struct botu_conf *conf;
	char err[BOTU_ERRLEN], version[32] = "";
	int ch, code = EX_OK;

	while ((ch = cli_getopt(argc, argv, "h", opts, usage_backup,
	    &code)) != -1)
		if (ch == '?')
			return code;
	if (optind != argc - 1 || argv[optind][0] == '\0')
		return cli_fail(EX_USAGE, "%s", usage_backup);
	if ((conf = cli_conf(cli, &code)) == NULL)
		return code;
	if (strcmp(argv[optind], conf->list.database) == 0)
		return cli_fail(EX_USAGE, "backup: %s is the database itself",
		    argv[optind]);
	code = backup(conf->list.database, argv[optind], version,
	    sizeof(version), err);
	if (code != EX_OK)
		return cli_fail(code, "backup: %s", err);
	printf("%s: a copy of %s (schema version %s), intact\n",
	    argv[optind], conf->list.database, version);
	return EX_OK;
}
