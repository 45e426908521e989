/* render.c: cdrp's human-readable output -- a referral as a page, lists as
 * a table. Everything printed from an answer goes through render_clean:
 * the text was typed by people at other agencies and must not be able to
 * drive the reader's terminal. */
#include "render.h"

#include <stdlib.h>
#include <string.h>

/* Column where values start in key/value layouts, whatever the nesting. */
#define RENDER_VALUE_COL 22

/* Bytes at s to replace with '?' (0 when the character is fine). */
static size_t render_bad_len(const unsigned char *s, bool multiline)
{
	if (s[0] < 0x20)
		return multiline && (s[0] == '\n' || s[0] == '\t') ? 0 : 1;
	if (s[0] == 0x7f)
		return 1;
	/* C1 controls, U+0080..U+009F */
	if (s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f)
		return 2;
	/* bidi embeddings/overrides U+202A..U+202E and isolates U+2066..U+2069,
	 * which can make text read differently from what it is */
	if (s[0] == 0xe2 && s[1] == 0x80 && s[2] >= 0xaa && s[2] <= 0xae)
		return 3;
	if (s[0] == 0xe2 && s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9)
		return 3;
	return 0;
}

char *render_clean(const char *s, bool multiline)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = malloc(strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	while (*p) {
		size_t bad = render_bad_len(p, multiline);

		if (bad == 0) {
			*o++ = (char)*p++;
			continue;
		}
		/* CRLF line ends read as plain line ends. */
		if (multiline && p[0] == '\r' && p[1] == '\n') {
			p++;
			continue;
		}
		*o++ = !multiline && p[0] == '\t' ? ' ' : '?';
		p += bad;
	}
	*o = '\0';
	return out;
}

void render_safe(FILE *out, const char *s)
{
	char *c = render_clean(s, false);

	fputs(c ? c : "(out of memory)", out);
	free(c);
}

/* Multi-line text; continuation lines are indented by `indent`. */
static void render_block(FILE *out, int indent, const char *s)
{
	char *c = render_clean(s, true);

	if (!c) {
		fputs("(out of memory)", out);
		return;
	}
	for (const char *p = c; *p; p++) {
		fputc(*p, out);
		if (*p == '\n' && p[1])
			fprintf(out, "%*s", indent, "");
	}
	free(c);
}

void render_value(FILE *out, int indent, const json_t *v)
{
	char *dump;

	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_NULL:
		fputc('-', out);
		break;
	case JSON_STRING:
		if (json_string_length(v) == 0)
			fputc('-', out);
		else
			render_block(out, indent, json_string_value(v));
		break;
	case JSON_TRUE:
		fputs("yes", out);
		break;
	case JSON_FALSE:
		fputs("no", out);
		break;
	case JSON_INTEGER:
		fprintf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		fprintf(out, "%g", json_real_value(v));
		break;
	default:
		dump = json_dumps(v, JSON_COMPACT);
		render_safe(out, dump ? dump : "(out of memory)");
		free(dump);
		break;
	}
}

void render_label(FILE *out, int indent, const char *label)
{
	char l[64];

	snprintf(l, sizeof(l), "%s:", label);
	fprintf(out, "%*s%-*s ", indent, "", RENDER_VALUE_COL - indent - 1, l);
}

void render_kv(FILE *out, int indent, const char *label, const json_t *v)
{
	render_label(out, indent, label);
	render_value(out, RENDER_VALUE_COL, v);
	fputc('\n', out);
}

/* An incident's victims are indexes into the referral's victims: show
 * the names, numbered as the Victims section numbers them. */
static void render_victim_refs(FILE *out, int indent, const json_t *refs, const json_t *victims)
{
	size_t i;
	json_t *ref;

	render_label(out, indent, "Victims");
	if (!json_is_array(refs) || json_array_size(refs) == 0) {
		fputs("-\n", out);
		return;
	}
	json_array_foreach(refs, i, ref)
	{
		json_int_t idx = json_is_integer(ref) ? json_integer_value(ref) : -1;
		const json_t *v = idx >= 0 ? json_array_get(victims, (size_t)idx) : NULL;
		const json_t *name = json_object_get(v, "name");

		if (i > 0)
			fputs(", ", out);
		if (json_is_string(name)) {
			render_safe(out, json_string_value(name));
			fprintf(out, " (victim %" JSON_INTEGER_FORMAT ")", idx + 1);
		} else {
			fputc('#', out);
			render_value(out, 0, ref);
		}
	}
	fputc('\n', out);
}

void render_section(FILE *out, const char *title, size_t count, bool counted)
{
	if (!counted)
		fprintf(out, "\n%s\n", title);
	else if (count == 0)
		fprintf(out, "\n%s: none\n", title);
	else
		fprintf(out, "\n%s (%zu)\n", title, count);
}

void render_referral(FILE *out, const json_t *r)
{
	const json_t *subject = json_object_get(r, "subject");
	const json_t *incidents = json_object_get(r, "incidents");
	const json_t *victims = json_object_get(r, "victims");
	const json_t *risk = json_object_get(r, "risk");
	const json_t *reason = json_object_get(r, "reason");
	const json_t *action = json_object_get(r, "requested_action");
	const json_t *it;
	size_t i;

	fputs("Referral ", out);
	render_value(out, 0, json_object_get(r, "reference"));
	fputs(" (id ", out);
	render_value(out, 0, json_object_get(r, "id"));
	fputs(")\n", out);
	render_kv(out, 2, "Status", json_object_get(r, "status"));
	render_kv(out, 2, "Case kind", json_object_get(r, "case_kind"));
	render_kv(out, 2, "Agency", json_object_get(r, "agency"));
	render_kv(out, 2, "Submitted by", json_object_get(r, "submitted_by"));
	render_kv(out, 2, "Submitted at", json_object_get(r, "submitted_at"));
	render_kv(out, 2, "Updated at", json_object_get(r, "updated_at"));
	render_kv(out, 2, "Marking", json_object_get(r, "marking"));
	render_kv(out, 2, "Strand", json_object_get(r, "strand"));
	render_kv(out, 2, "Case reference", json_object_get(r, "case_reference"));
	if (json_object_get(r, "decision_reason"))
		render_kv(out, 2, "Decision reason", json_object_get(r, "decision_reason"));

	render_section(out, "Subject", 0, false);
	render_kv(out, 2, "Type", json_object_get(subject, "type"));
	render_kv(out, 2, "Name", json_object_get(subject, "name"));
	render_kv(out, 2, "Date of birth", json_object_get(subject, "date_of_birth"));
	render_kv(out, 2, "Address", json_object_get(subject, "address"));
	render_kv(out, 2, "Ward", json_object_get(subject, "ward"));

	render_section(out, "Reason", 0, false);
	fputs("  ", out);
	render_value(out, 2, reason);
	fputc('\n', out);

	render_section(out, "Incidents", json_array_size(incidents), true);
	json_array_foreach(incidents, i, it)
	{
		fprintf(out, "  #%zu\n", i + 1);
		render_kv(out, 4, "Occurred on", json_object_get(it, "occurred_on"));
		render_kv(out, 4, "Reported on", json_object_get(it, "reported_on"));
		render_kv(out, 4, "Category", json_object_get(it, "category"));
		render_kv(out, 4, "Place", json_object_get(it, "place"));
		render_kv(out, 4, "Ward", json_object_get(it, "ward"));
		render_kv(out, 4, "Description", json_object_get(it, "description"));
		render_victim_refs(out, 4, json_object_get(it, "victims"), victims);
	}

	render_section(out, "Victims", json_array_size(victims), true);
	json_array_foreach(victims, i, it)
	{
		fprintf(out, "  #%zu\n", i + 1);
		render_kv(out, 4, "Name", json_object_get(it, "name"));
		render_kv(out, 4, "Contact", json_object_get(it, "contact"));
		render_kv(out, 4, "Vulnerable", json_object_get(it, "vulnerable"));
		render_kv(out, 4, "Consent to share", json_object_get(it, "consent_to_share"));
	}

	if (json_is_object(risk)) {
		render_section(out, "Risk", 0, false);
		render_kv(out, 2, "Band", json_object_get(risk, "band"));
		render_kv(out, 2, "Summary", json_object_get(risk, "summary"));
	} else {
		fputs("\nRisk: not assessed\n", out);
	}

	render_section(out, "Requested action", 0, false);
	fputs("  ", out);
	render_value(out, 2, action);
	fputc('\n', out);

	if (json_is_array(json_object_get(r, "transitions"))) {
		static const struct render_col cols[] = {{"FROM", "from"},
		                                         {"TO", "to"},
		                                         {"BY", "by_agency"},
		                                         {"AT", "at"},
		                                         {"REASON", "reason"}};

		render_section(out, "Transitions",
		               json_array_size(json_object_get(r, "transitions")), true);
		if (json_array_size(json_object_get(r, "transitions")) > 0 &&
		    render_table_cols(out, 2, json_object_get(r, "transitions"), cols, 5) != 0)
			fputs("  (out of memory)\n", out);
	}
}

/* Columns of the referral list table. */
static const struct render_col render_referral_cols[] = {
    {"ID", "id"},
    {"REFERENCE", "reference"},
    {"STATUS", "status"},
    {"KIND", "case_kind"},
    {"SUBJECT", "subject_type"},
    {"NAME", "subject_name"}, /* withheld (shown "-") without --why for OFFICIAL-SENSITIVE */
    {"AGENCY", "agency"},
    {"SUBMITTED AT", "submitted_at"},
};

/* Characters, not bytes, so that names in UTF-8 line up. */
static size_t render_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

const json_t *render_path(const json_t *v, const char *path)
{
	char key[64];

	while (v && *path) {
		size_t n = strcspn(path, ".");

		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		v = json_object_get(v, key);
		path += n;
		if (*path == '.')
			path++;
	}
	return v;
}

/* A value as one short line, or NULL when out of memory. */
char *render_cell(const json_t *v)
{
	char num[48], *buf = NULL, *dump;
	size_t len = 0, i;
	const json_t *item;
	FILE *f;

	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		if (json_string_length(v) == 0)
			return strdup("-");
		return render_clean(json_string_value(v), false);
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return strdup(num);
	case JSON_REAL:
		snprintf(num, sizeof(num), "%g", json_real_value(v));
		return strdup(num);
	case JSON_TRUE:
		return strdup("yes");
	case JSON_FALSE:
		return strdup("no");
	case JSON_NULL:
		return strdup("-");
	default:
		break;
	}
	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	if (json_is_array(v)) {
		if (json_array_size(v) == 0)
			fputc('-', f);
		json_array_foreach(v, i, item)
		{
			char *c = render_cell(item);

			fprintf(f, "%s%s", i ? ", " : "", c ? c : "?");
			free(c);
		}
	} else if (json_is_string(json_object_get(v, "cn"))) {
		/* a user: "Sam Okafor (HMDC)" */
		render_safe(f, json_string_value(json_object_get(v, "cn")));
		if (json_is_string(json_object_get(v, "agency"))) {
			fputs(" (", f);
			render_safe(f, json_string_value(json_object_get(v, "agency")));
			fputc(')', f);
		}
	} else if (json_is_string(json_object_get(v, "name"))) {
		render_safe(f, json_string_value(json_object_get(v, "name")));
	} else {
		dump = json_dumps(v, JSON_COMPACT);
		render_safe(f, dump ? dump : "?");
		free(dump);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int render_table_cols(FILE *out, int indent, const json_t *items, const struct render_col *cols,
                      size_t ncols)
{
	size_t rows = json_array_size(items), r, c, last = 0;
	size_t *width = calloc(ncols + 1, sizeof(*width));
	bool *shown = calloc(ncols + 1, sizeof(*shown));
	char **cells = calloc(rows * ncols + 1, sizeof(*cells));
	int rc = -1;

	if (!cells || !width || !shown)
		goto out;
	/* A column no item has (an older or newer server) is left out. */
	for (c = 0; c < ncols; c++) {
		width[c] = render_width(cols[c].title);
		for (r = 0; r < rows && !shown[c]; r++)
			shown[c] = render_path(json_array_get(items, r), cols[c].path) != NULL;
		if (shown[c])
			last = c;
	}
	if (!shown[last]) {
		rc = 0;
		goto out;
	}
	for (r = 0; r < rows; r++) {
		const json_t *item = json_array_get(items, r);

		for (c = 0; c < ncols; c++) {
			char *cell = render_cell(render_path(item, cols[c].path));
			size_t w;

			if (!cell)
				goto out;
			cells[r * ncols + c] = cell;
			w = render_width(cell);
			if (w > width[c])
				width[c] = w;
		}
	}
	fprintf(out, "%*s", indent, "");
	for (c = 0; c < ncols; c++)
		if (shown[c])
			fprintf(out, "%-*s%s", c < last ? (int)width[c] : 0, cols[c].title,
			        c < last ? "  " : "\n");
	for (r = 0; r < rows; r++) {
		fprintf(out, "%*s", indent, "");
		for (c = 0; c < ncols; c++) {
			const char *cell = cells[r * ncols + c];

			if (!shown[c])
				continue;
			fputs(cell, out);
			if (c < last)
				fprintf(out, "%*s", (int)(width[c] - render_width(cell) + 2), "");
		}
		fputc('\n', out);
	}
	rc = 0;
out:
	for (r = 0; cells && r < rows * ncols; r++)
		free(cells[r]);
	free(cells);
	free(width);
	free(shown);
	return rc;
}

int render_table(FILE *out, const json_t *items)
{
	return render_table_cols(out, 0, items, render_referral_cols,
	                         sizeof(render_referral_cols) / sizeof(render_referral_cols[0]));
}

void render_cell_out(FILE *out, const json_t *v)
{
	char *c = render_cell(v);

	fputs(c ? c : "(out of memory)", out);
	free(c);
}

void render_table_out(FILE *out, int indent, const json_t *items, const struct render_col *cols,
                      size_t ncols)
{
	if (render_table_cols(out, indent, items, cols, ncols) != 0)
		fputs("(out of memory)\n", out);
}
