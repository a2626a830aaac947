/*
 * testutil.h - small helpers shared by the cmocka unit tests: a temporary
 * folder per test and files written into it.
 */
#ifndef BOTU_TESTUTIL_H
#define BOTU_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh folder under /tmp; remove it with tmpdir_remove(). */
static inline char *
tmpdir_new(void)
{
	char tmpl[] = "/tmp/botu-unit-XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static inline void
tmpdir_remove(char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(dir);
}

/* Writes text to dir/name with mode; returns the path (caller frees). */
static inline char *
write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char *path = NULL;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

/* The source tree (set by make); tests read botu.conf.example from it. */
static inline const char *
srcdir(void)
{
	const char *d = getenv("BOTU_SRCDIR");

	return d != NULL ? d : ".";
}

#endif
