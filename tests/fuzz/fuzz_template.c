/* Fuzzes the mustache subset: any template text, fixed values. */
#include "fuzz.h"
#include "botu/template.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tmpl_vars *vars;
	char *in = fuzz_string(data, size), *out = NULL, err[BOTU_ERRLEN];

	if (vars == NULL) {
		struct tmpl_vars *item;

		vars = tmpl_vars_new();
		tmpl_set(vars, "name", "<script>{{name}}</script> & \"é\"");
		tmpl_set(vars, "empty", "");
		for (int i = 0; i < 3; i++) {
			item = tmpl_add_item(vars, "notes");
			tmpl_setf(item, "text", "note %d {{#notes}}", i);
			tmpl_add_item(item, "inner");
		}
	}
	for (int mode = TMPL_TEXT; mode <= TMPL_HTML; mode++) {
		if (tmpl_render(in, vars, mode, &out, err) == BOTU_OK) {
			/* A value's markup never comes out unescaped (the
			 * template's own text may hold any markup). */
			if (mode == TMPL_HTML && strstr(in, "{{{") == NULL &&
			    strstr(in, "{{&") == NULL &&
			    strstr(out, "<script>{{name}}") != NULL &&
			    strstr(in, "<script>{{name}}") == NULL)
				abort();
			free(out);
			out = NULL;
		}
	}
	free(in);
	return 0;
}
