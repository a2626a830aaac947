/*
 * Fuzzes the CSV reader of botu members import: any bytes (Excel's
 * Windows-1252 or UTF-8 with or without BOM, UTF-16 with BOM, quotes and
 * line breaks) give rows of well-formed UTF-8 fields in line order, or a
 * clear error.
 */
#include "fuzz.h"
#include "botu/csvimport.h"

static void
check_utf8(const char *s)
{
	while (*s != '\0') {
		size_t n = utf8_charlen(s);

		if (n == 0)
			abort();
		s += n;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv_table t;
	char err[BOTU_ERRLEN];
	int last = 0;

	memset(&t, 0, sizeof(t));
	if (csv_parse((const char *)data, size, &t, err) != BOTU_OK) {
		if (err[0] == '\0')
			abort();
		csv_table_clear(&t);
		return 0;
	}
	for (size_t i = 0; i < t.nrows; i++) {
		if (t.rows[i].line < 1 || t.rows[i].line < last)
			abort();
		last = t.rows[i].line;
		for (size_t j = 0; j < t.rows[i].n; j++)
			check_utf8(t.rows[i].field[j]);
	}
	csv_table_clear(&t);
	return 0;
}
