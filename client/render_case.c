/* render_case.c: cdrp's human-readable output of the casework answers --
 * a case as a page, lists as tables, and one-line confirmations of
 * changes. As in render.c, everything from an answer is made safe for the
 * terminal, and a field the answer lacks prints as "-" (or is left out of
 * a table) rather than failing. */
#include "render.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define NCOLS(cols) (sizeof(cols) / sizeof((cols)[0]))

static const json_t *get(const json_t *o, const char *key)
{
	return json_object_get(o, key);
}

/* "person_id" -> "Person id" */
static void label_of(const char *key, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s", key);
	for (char *p = out; *p; p++)
		if (*p == '_')
			*p = ' ';
	out[0] = (char)toupper((unsigned char)out[0]);
}

static void object_field(FILE *out, int indent, const char *key, const json_t *v)
{
	char label[64], *safe = render_clean(key, false);

	label_of(safe ? safe : "?", label, sizeof(label));
	free(safe);
	if (json_is_object(v) && !json_is_string(get(v, "cn"))) {
		fprintf(out, "%*s%s:\n", indent, "", label);
		render_object(out, indent + 2, v);
	} else if (json_is_array(v) || json_is_object(v)) {
		render_label(out, indent, label);
		render_cell_out(out, v);
		fputc('\n', out);
	} else {
		render_kv(out, indent, label, v);
	}
}

/* The fields named in `first` in that order, then any others. */
static void object_ordered(FILE *out, int indent, const json_t *obj, const char *const *first)
{
	const char *key;
	const json_t *v;

	for (const char *const *k = first; *k; k++)
		if (get(obj, *k))
			object_field(out, indent, *k, get(obj, *k));
	json_object_foreach((json_t *)obj, key, v)
	{
		const char *const *k = first;

		while (*k && strcmp(*k, key) != 0)
			k++;
		if (!*k)
			object_field(out, indent, key, v);
	}
}

void render_object(FILE *out, int indent, const json_t *obj)
{
	static const char *const none[] = {NULL};

	object_ordered(out, indent, obj, none);
}

/* Prompts: [{code, person_id?, detail}] as "! detail [code, person N]". */
static void prompts(FILE *out, const json_t *list)
{
	size_t i;
	const json_t *p;

	if (!json_is_array(list) || json_array_size(list) == 0)
		return;
	render_section(out, "Prompts", json_array_size(list), true);
	json_array_foreach(list, i, p)
	{
		const json_t *detail = get(p, "detail"), *code = get(p, "code");

		fputs("  ! ", out);
		if (json_is_string(detail))
			render_value(out, 4, detail);
		else
			render_cell_out(out, code);
		fputs(" [", out);
		render_cell_out(out, code);
		if (get(p, "person_id")) {
			fputs(", person ", out);
			render_cell_out(out, get(p, "person_id"));
		}
		fputs("]\n", out);
	}
}

/* "Referral REF-... (id N): accepted" and what the decision carried. */
void render_referral_decision(const json_t *r)
{
	fputs("Referral ", stdout);
	render_cell_out(stdout, get(r, "reference"));
	fputs(" (id ", stdout);
	render_cell_out(stdout, get(r, "id"));
	fputs("): ", stdout);
	render_cell_out(stdout, get(r, "status"));
	fputc('\n', stdout);
	if (get(r, "case_reference") && !json_is_null(get(r, "case_reference")))
		render_kv(stdout, 2, "Case", get(r, "case_reference"));
	if (get(r, "decision_reason") && !json_is_null(get(r, "decision_reason")))
		render_kv(stdout, 2, "Reason", get(r, "decision_reason"));
	if (get(r, "updated_at"))
		render_kv(stdout, 2, "Updated at", get(r, "updated_at"));
}

/* The first line of a case: "Case ASB-2026-0001 (id 5, version 3)". */
static void case_title(FILE *out, const json_t *c)
{
	fputs("Case ", out);
	render_cell_out(out, get(c, "reference"));
	fputs(" (id ", out);
	render_cell_out(out, get(c, "id"));
	if (get(c, "version")) {
		fputs(", version ", out);
		render_cell_out(out, get(c, "version"));
	}
	fputs(")\n", out);
}

static void case_subject(FILE *out, const json_t *c)
{
	render_label(out, 2, "Subject");
	render_cell_out(out, get(c, "subject_name"));
	fputs(" (", out);
	render_cell_out(out, get(c, "subject_type"));
	fputs(")\n", out);
}

static void persons(FILE *out, const json_t *list)
{
	size_t i;
	const json_t *p;

	render_section(out, "Persons", json_array_size(list), true);
	json_array_foreach(list, i, p)
	{
		const json_t *rep = get(p, "repeat_victim");

		fputs("  ", out);
		render_cell_out(out, get(p, "id") ? get(p, "id") : get(p, "person_id"));
		fputs("  ", out);
		render_cell_out(out, get(p, "name"));
		fputs(" (", out);
		render_cell_out(out, get(p, "role"));
		fputc(')', out);
		if (json_is_true(get(p, "vulnerable")))
			fputs(", vulnerable", out);
		/* repeat_victim may be a boolean or an object with details */
		if (json_is_true(rep) || json_is_true(get(rep, "repeat_victim")) ||
		    (json_is_object(rep) && !get(rep, "repeat_victim")))
			fputs("  ** REPEAT VICTIM **", out);
		if (json_is_true(render_path(p, "case_review.eligible")) ||
		    json_is_true(get(p, "case_review_eligible")))
			fputs("  ** CASE REVIEW ELIGIBLE **", out);
		fputc('\n', out);
	}
}

static const struct render_col action_cols[] = {
    {"ID", "id"},      {"TYPE", "type"},     {"STAGE", "stage"},     {"OWNER", "owner_agency"},
    {"DUE", "due_on"}, {"STATUS", "status"}, {"OVERDUE", "overdue"}, {"VERSION", "version"},
};

static void actions(FILE *out, const json_t *list)
{
	size_t i, overdue = 0;
	const json_t *a;

	render_section(out, "Actions", json_array_size(list), true);
	if (json_array_size(list) == 0)
		return;
	render_table_out(out, 2, list, action_cols, NCOLS(action_cols));
	json_array_foreach(list, i, a)
	{
		overdue += json_is_true(get(a, "overdue"));
	}
	if (overdue)
		fprintf(out, "  ** %zu action%s OVERDUE **\n", overdue, overdue == 1 ? "" : "s");
}

static void risk(FILE *out, const json_t *r)
{
	if (!json_is_object(r)) {
		fputs("\nRisk: not assessed\n", out);
		return;
	}
	render_section(out, "Risk (latest assessment)", 0, false);
	render_kv(out, 2, "Band", get(r, "band"));
	render_kv(out, 2, "Score", get(r, "score"));
	if (get(r, "person_id"))
		render_kv(out, 2, "Person", get(r, "person_id"));
	render_kv(out, 2, "Assessed at", get(r, "assessed_at"));
	if (get(r, "next_review_on"))
		render_kv(out, 2, "Next review on", get(r, "next_review_on"));
}

void render_case(const json_t *c)
{
	FILE *out = stdout;
	const char *kind = json_string_value(get(c, "case_kind"));

	case_title(out, c);
	render_kv(out, 2, "Status", get(c, "status"));
	if (json_is_string(get(c, "outcome")))
		render_kv(out, 2, "Outcome", get(c, "outcome"));
	render_kv(out, 2, "Kind", get(c, "case_kind"));
	case_subject(out, c);
	render_label(out, 2, "Lead agency");
	render_cell_out(out, get(c, "lead_agency"));
	fputc('\n', out);
	render_label(out, 2, "Caseworker");
	render_cell_out(out, get(c, "caseworker"));
	fputc('\n', out);
	render_kv(out, 2, "Ward", get(c, "ward"));
	render_kv(out, 2, "Marking", get(c, "marking"));
	if (json_is_string(get(c, "strand")) || (kind && !strcmp(kind, "ppo")))
		render_kv(out, 2, "Strand", get(c, "strand"));
	render_kv(out, 2, "Referral date", get(c, "referral_date"));
	render_kv(out, 2, "Opened at", get(c, "opened_at"));
	if (!json_is_null(get(c, "closed_at")) && get(c, "closed_at"))
		render_kv(out, 2, "Closed at", get(c, "closed_at"));
	render_label(out, 2, "Referrals");
	render_cell_out(out, get(c, "referrals"));
	fputc('\n', out);
	/* A closed case is not reviewed: no next review line at all. */
	if (json_is_string(get(c, "next_review_on")))
		render_kv(out, 2, "Next review on", get(c, "next_review_on"));

	persons(out, get(c, "persons"));
	risk(out, get(c, "risk"));
	actions(out, get(c, "actions"));
	prompts(out, get(c, "prompts"));
}

/* After a change: the case in brief, with its new version. */
void render_case_change(const json_t *c)
{
	FILE *out = stdout;

	case_title(out, c);
	render_kv(out, 2, "Status", get(c, "status"));
	if (json_is_string(get(c, "outcome")))
		render_kv(out, 2, "Outcome", get(c, "outcome"));
	if (json_is_string(get(c, "strand")))
		render_kv(out, 2, "Strand", get(c, "strand"));
	render_label(out, 2, "Lead agency");
	render_cell_out(out, get(c, "lead_agency"));
	fputc('\n', out);
	render_label(out, 2, "Caseworker");
	render_cell_out(out, get(c, "caseworker"));
	fputc('\n', out);
	render_kv(out, 2, "Ward", get(c, "ward"));
	render_kv(out, 2, "Marking", get(c, "marking"));
	prompts(out, get(c, "prompts"));
}

static const struct render_col case_cols[] = {
    {"ID", "id"},
    {"REFERENCE", "reference"},
    {"STATUS", "status"},
    {"KIND", "case_kind"},
    {"SUBJECT", "subject_type"},
    {"NAME", "subject_name"},
    {"LEAD", "lead_agency"},
    {"CASEWORKER", "caseworker.cn"},
    {"WARD", "ward"},
    {"FLAGGED", "flagged"},
    {"OVERDUE", "overdue"},
    {"OPENED", "opened_at"},
    {"CLOSED", "closed_at"},
    {"OUTCOME", "outcome"},
    {"NEXT REVIEW", "next_review_on"},
};

void render_cases(const json_t *list)
{
	render_table_out(stdout, 0, get(list, "items"), case_cols, NCOLS(case_cols));
}

void render_history(const json_t *h)
{
	static const struct render_col status_cols[] = {
	    {"AT", "at"}, {"STATUS", "status"},    {"OUTCOME", "outcome"},
	    {"BY", "by"}, {"AGENCY", "by_agency"}, {"REASON", "reason"},
	};
	static const struct render_col strand_cols[] = {
	    {"AT", "at"},
	    {"STRAND", "strand"},
	    {"REMOVED", "removed"},
	    {"REMOVAL REASON", "removal_reason"},
	    {"EXIT STRATEGY", "exit_strategy"},
	    {"REASON", "reason"},
	    {"BY", "by"},
	    {"AGENCY", "by_agency"},
	};
	const json_t *st = get(h, "status"), *sr = get(h, "strands");

	render_section(stdout, "Status history", json_array_size(st), true);
	if (json_array_size(st) > 0)
		render_table_out(stdout, 2, st, status_cols, NCOLS(status_cols));
	render_section(stdout, "Strand history", json_array_size(sr), true);
	if (json_array_size(sr) > 0)
		render_table_out(stdout, 2, sr, strand_cols, NCOLS(strand_cols));
}

void render_note(const json_t *n)
{
	fputs("Note ", stdout);
	render_cell_out(stdout, get(n, "id"));
	fputs(" by ", stdout);
	render_cell_out(stdout, get(n, "author"));
	fputs(" at ", stdout);
	render_cell_out(stdout, get(n, "at"));
	fputs("\n  ", stdout);
	render_value(stdout, 2, get(n, "body"));
	fputc('\n', stdout);
}

void render_notes(const json_t *list)
{
	size_t i;
	const json_t *n;

	json_array_foreach(get(list, "items"), i, n)
	{
		if (i)
			fputc('\n', stdout);
		render_note(n);
	}
}

void render_person_link(const json_t *p)
{
	fputs("Person ", stdout);
	render_cell_out(stdout, get(p, "person_id"));
	fputs(" is on the case as ", stdout);
	render_cell_out(stdout, get(p, "role"));
	fputc('\n', stdout);
}

static void incident_victims(FILE *out, const json_t *v)
{
	size_t i;
	const json_t *p;

	render_label(out, 2, "Victims");
	if (json_array_size(v) == 0)
		fputc('-', out);
	json_array_foreach(v, i, p)
	{
		if (i)
			fputs(", ", out);
		if (json_is_object(p)) {
			render_cell_out(out,
			                get(p, "person_id") ? get(p, "person_id") : get(p, "id"));
			if (get(p, "name")) {
				fputc(' ', out);
				render_cell_out(out, get(p, "name"));
			}
			if (json_is_true(get(p, "repeat_victim")))
				fputs(" (repeat victim)", out);
		} else {
			render_cell_out(out, p);
		}
	}
	fputc('\n', out);
}

void render_incident(const json_t *i)
{
	FILE *out = stdout;
	size_t k;
	const json_t *r;

	fputs("Incident ", out);
	render_cell_out(out, get(i, "id"));
	fputc('\n', out);
	if (get(i, "case"))
		render_kv(out, 2, "Case", get(i, "case"));
	render_kv(out, 2, "Occurred on", get(i, "occurred_on"));
	render_kv(out, 2, "Category", get(i, "category"));
	render_kv(out, 2, "Place", get(i, "place"));
	if (get(i, "ward"))
		render_kv(out, 2, "Ward", get(i, "ward"));
	if (get(i, "description"))
		render_kv(out, 2, "Description", get(i, "description"));
	render_label(out, 2, "Reports");
	if (json_array_size(get(i, "reports")) == 0)
		fputc('-', out);
	json_array_foreach(get(i, "reports"), k, r)
	{
		if (k)
			fputs(", ", out);
		render_cell_out(out, get(r, "agency"));
		fputs(" on ", out);
		render_cell_out(out, get(r, "reported_on"));
		if (json_is_string(get(r, "external_ref"))) {
			fputs(" (ref ", out);
			render_cell_out(out, get(r, "external_ref"));
			fputc(')', out);
		}
	}
	fputc('\n', out);
	incident_victims(out, get(i, "victims"));
	prompts(out, get(i, "prompts"));
}

void render_incidents(const json_t *list)
{
	static const struct render_col cols[] = {
	    {"ID", "id"},
	    {"OCCURRED", "occurred_on"},
	    {"CATEGORY", "category"},
	    {"PLACE", "place"},
	    {"WARD", "ward"},
	    {"REPORTS", "reports"},
	    {"VICTIMS", "victims"},
	};
	const json_t *items = get(list, "items");
	json_t *rows = json_array();
	size_t i;
	const json_t *it;

	if (!rows) {
		fputs("(out of memory)\n", stdout);
		return;
	}
	/* reports as "HMPOL 2026-01-02" each, victims as their ids */
	json_array_foreach(items, i, it)
	{
		json_t *row = json_deep_copy(it), *reps = json_array(), *vics = json_array();
		size_t k;
		const json_t *x;

		json_array_foreach(get(it, "reports"), k, x)
		{
			char *a = render_cell(get(x, "agency")),
			     *d = render_cell(get(x, "reported_on"));
			char buf[256];

			snprintf(buf, sizeof(buf), "%s %s", a ? a : "?", d ? d : "?");
			json_array_append_new(reps, json_string(buf));
			free(a);
			free(d);
		}
		json_array_foreach(get(it, "victims"), k, x)
		{
			const json_t *id =
			    json_is_object(x)
			        ? (get(x, "person_id") ? get(x, "person_id") : get(x, "id"))
			        : x;

			json_array_append(vics, (json_t *)id);
		}
		if (row) {
			if (get(it, "reports"))
				json_object_set_new(row, "reports", reps);
			else
				json_decref(reps);
			if (get(it, "victims"))
				json_object_set_new(row, "victims", vics);
			else
				json_decref(vics);
			json_array_append_new(rows, row);
		} else {
			json_decref(reps);
			json_decref(vics);
		}
	}
	render_table_out(stdout, 0, rows, cols, NCOLS(cols));
	json_decref(rows);
}

void render_victims(const json_t *list)
{
	static const struct render_col cols[] = {
	    {"PERSON", "person_id"},
	    {"NAME", "name"},
	    {"REPEAT", "repeat_victim"},
	    {"WHY", "repeat_reason"},
	    {"INCIDENTS (WINDOW)", "incidents_in_window"},
	    {"CASES", "cases"},
	    {"CASE REVIEW", "case_review.eligible"},
	    {"BASIS", "case_review.basis"},
	};

	render_table_out(stdout, 0, get(list, "items"), cols, NCOLS(cols));
}

void render_flag(const json_t *f)
{
	static const char *const order[] = {"id", "reason", "repeat_victim", "by", "at", NULL};
	json_t *rest = json_deep_copy(f);

	fputs("Repeat-victim flag recorded", stdout);
	if (get(f, "person_id")) {
		fputs(" for person ", stdout);
		render_cell_out(stdout, get(f, "person_id"));
		json_object_del(rest, "person_id");
	}
	fputc('\n', stdout);
	object_ordered(stdout, 2, rest ? rest : f, order);
	json_decref(rest);
}

void render_case_review_check(const json_t *cr)
{
	fputs("Case Review: ", stdout);
	fputs(json_is_true(get(cr, "eligible")) ? "ELIGIBLE" : "not eligible", stdout);
	if (json_is_string(get(cr, "basis"))) {
		fputs(" (", stdout);
		render_cell_out(stdout, get(cr, "basis"));
		fputc(')', stdout);
	}
	fputc('\n', stdout);
	render_kv(stdout, 2, "Qualifying complaints", get(cr, "qualifying_complaints"));
	render_kv(stdout, 2, "Explain prompt", get(cr, "explain_prompt"));
	if (json_is_true(get(cr, "explain_prompt")))
		fputs("  ! Explain the ASB Case Review to this victim: one more qualifying\n"
		      "    complaint within the window makes them eligible.\n",
		      stdout);
}

void render_questionnaire(const json_t *q)
{
	static const struct render_col cols[] = {
	    {"ID", "id"}, {"WEIGHT", "weight"}, {"QUESTION", "text"}};
	const json_t *qs = get(q, "questions");
	const char *key;
	const json_t *v;

	render_section(stdout, "Questions", json_array_size(qs), true);
	if (json_array_size(qs) > 0)
		render_table_out(stdout, 2, qs, cols, NCOLS(cols));
	/* the rest (bands, thresholds) as it comes */
	json_object_foreach((json_t *)q, key, v)
	{
		if (!strcmp(key, "questions"))
			continue;
		fputc('\n', stdout);
		json_t *one = json_pack("{sO}", key, v);

		if (one)
			render_object(stdout, 0, one);
		json_decref(one);
	}
}

void render_risk(const json_t *r)
{
	fputs("Risk assessment ", stdout);
	render_cell_out(stdout, get(r, "id"));
	fputs(": band ", stdout);
	render_cell_out(stdout, get(r, "band"));
	fputs(", score ", stdout);
	render_cell_out(stdout, get(r, "score"));
	fputc('\n', stdout);
	render_kv(stdout, 2, "Next review on", get(r, "next_review_on"));
	prompts(stdout, get(r, "prompts"));
}

void render_action(const json_t *a)
{
	fputs("Action ", stdout);
	render_cell_out(stdout, get(a, "id"));
	fputs(": ", stdout);
	render_cell_out(stdout, get(a, "type"));
	fputs(", stage ", stdout);
	render_cell_out(stdout, get(a, "stage"));
	fputs(", owner ", stdout);
	render_cell_out(stdout, get(a, "owner_agency"));
	fputs(", ", stdout);
	render_cell_out(stdout, get(a, "status"));
	if (get(a, "due_on") && !json_is_null(get(a, "due_on"))) {
		fputs(", due ", stdout);
		render_cell_out(stdout, get(a, "due_on"));
	}
	if (json_is_true(get(a, "overdue")))
		fputs("  ** OVERDUE **", stdout);
	fputc('\n', stdout);
	if (json_is_string(get(a, "notes")))
		render_kv(stdout, 2, "Notes", get(a, "notes"));
	/* The version is the ETag for the next update (also cdrp action show). */
	fputs("  version ", stdout);
	render_cell_out(stdout, get(a, "version"));
	fputs("  (cdrp action update --if-match ", stdout);
	render_cell_out(stdout, get(a, "version"));
	fputs(" ...)\n", stdout);
}

void render_actions(const json_t *list)
{
	const json_t *items = get(list, "items");

	if (json_is_true(get(list, "own_only")))
		fputs("Only your agency's actions: you cannot read this case.\n", stdout);
	if (json_array_size(items) == 0) {
		puts("no actions");
		return;
	}
	actions(stdout, items);
}

void render_application(const json_t *a)
{
	static const char *const order[] = {"status",
	                                    "person_id",
	                                    "case",
	                                    "applied_on",
	                                    "applied_by",
	                                    "eligible_at_application",
	                                    "basis_at_application",
	                                    "threshold_met",
	                                    "override_reason",
	                                    "decided_on",
	                                    "meeting_on",
	                                    "recommendations",
	                                    NULL};
	json_t *rest = json_deep_copy(a);

	fputs("Case Review application ", stdout);
	render_cell_out(stdout, get(a, "id"));
	fputc('\n', stdout);
	json_object_del(rest, "id");
	object_ordered(stdout, 2, rest ? rest : a, order);
	json_decref(rest);
}

void render_stats(const json_t *s)
{
	static const char *const order[] = {"year",
	                                    "applications",
	                                    "threshold_met",
	                                    "threshold_not_met",
	                                    "reviews_held",
	                                    "reviews_with_recommendations",
	                                    "recommendations",
	                                    NULL};

	fputs("Case Review statistics\n", stdout);
	object_ordered(stdout, 2, s, order);
}

/* ---- legal hold, agreements, administration ---- */

void render_legal_hold(const json_t *h)
{
	fputs("Case ", stdout);
	render_cell_out(stdout, get(h, "case"));
	fputs(": legal hold ", stdout);
	fputs(json_is_true(get(h, "legal_hold"))    ? "on"
	      : json_is_false(get(h, "legal_hold")) ? "off"
	                                            : "?",
	      stdout);
	fputc('\n', stdout);
}

/* "Agreement ISA-2026-01 (id 3): active, in force, REVIEW DUE" */
static void isa_title(FILE *out, const json_t *isa)
{
	fputs("Agreement ", out);
	render_cell_out(out, get(isa, "reference"));
	fputs(" (id ", out);
	render_cell_out(out, get(isa, "id"));
	fputs("): ", out);
	render_cell_out(out, get(isa, "status"));
	fputs(json_is_true(get(isa, "in_force")) ? ", in force" : ", not in force", out);
	if (json_is_true(get(isa, "review_due")))
		fputs(", ** REVIEW DUE **", out);
	fputc('\n', out);
}

static void isa_parties(FILE *out, const json_t *parties)
{
	static const struct render_col cols[] = {
	    {"AGENCY", "agency"}, {"SIGNED", "signed"}, {"SIGNED AT", "signed_at"}};

	render_section(out, "Parties", json_array_size(parties), true);
	if (json_array_size(parties) > 0)
		render_table_out(out, 2, parties, cols, NCOLS(cols));
}

void render_isa(const json_t *isa)
{
	FILE *out = stdout;

	isa_title(out, isa);
	render_kv(out, 2, "Title", get(isa, "title"));
	render_kv(out, 2, "Purpose", get(isa, "purpose"));
	render_kv(out, 2, "Description", get(isa, "description"));
	render_label(out, 2, "Data categories");
	render_cell_out(out, get(isa, "data_categories"));
	fputc('\n', out);
	render_kv(out, 2, "Lawful basis", get(isa, "lawful_basis"));
	render_kv(out, 2, "Marking", get(isa, "marking"));
	render_kv(out, 2, "Retention months", get(isa, "retention_months"));
	render_kv(out, 2, "Starts on", get(isa, "starts_on"));
	render_kv(out, 2, "Review on", get(isa, "review_on"));
	render_kv(out, 2, "Ends on", get(isa, "ends_on"));
	render_kv(out, 2, "Status reason", get(isa, "status_reason"));
	isa_parties(out, get(isa, "parties"));
}

/* After a change: status, why, and who has signed. */
void render_isa_change(const json_t *isa)
{
	isa_title(stdout, isa);
	render_kv(stdout, 2, "Title", get(isa, "title"));
	render_kv(stdout, 2, "Status reason", get(isa, "status_reason"));
	isa_parties(stdout, get(isa, "parties"));
}

void render_isas(const json_t *list)
{
	static const struct render_col cols[] = {
	    {"ID", "id"},
	    {"REFERENCE", "reference"},
	    {"STATUS", "status"},
	    {"IN FORCE", "in_force"},
	    {"REVIEW DUE", "review_due"},
	    {"PURPOSE", "purpose"},
	    {"STARTS", "starts_on"},
	    {"ENDS", "ends_on"},
	    {"TITLE", "title"},
	};
	const json_t *items = get(list, "items"), *ps = get(list, "prompts"), *p;
	size_t i;

	if (json_array_size(items) == 0)
		puts("no agreements");
	else
		render_table_out(stdout, 0, items, cols, NCOLS(cols));
	if (json_array_size(ps) == 0)
		return;
	render_section(stdout, "Prompts", json_array_size(ps), true);
	json_array_foreach(ps, i, p)
	{
		fputs("  ! ", stdout);
		render_cell_out(stdout, json_is_string(get(p, "detail")) ? get(p, "detail")
		                                                         : get(p, "prompt"));
		fputs(" [", stdout);
		render_cell_out(stdout, get(p, "prompt"));
		fputs(", ", stdout);
		render_cell_out(stdout, get(p, "isa"));
		fputs("]\n", stdout);
	}
}

static const struct render_col agency_cols[] = {
    {"CODE", "code"}, {"NAME", "name"}, {"KIND", "kind"}, {"ACTIVE", "active"}, {"HOME", "home"},
};

/* "Agency HMXX: Name (kind), active" */
void render_agency(const json_t *a)
{
	fputs("Agency ", stdout);
	render_cell_out(stdout, get(a, "code"));
	fputs(": ", stdout);
	render_cell_out(stdout, get(a, "name"));
	fputs(" (", stdout);
	render_cell_out(stdout, get(a, "kind"));
	fputs("), ", stdout);
	fputs(json_is_false(get(a, "active")) ? "DISABLED" : "active", stdout);
	fputc('\n', stdout);
}

void render_agencies(const json_t *list)
{
	if (json_array_size(get(list, "items")) == 0)
		puts("no agencies");
	else
		render_table_out(stdout, 0, get(list, "items"), agency_cols, NCOLS(agency_cols));
}

static const struct render_col user_cols[] = {
    {"ID", "id"},       {"AGENCY", "agency"}, {"CN", "cn"}, {"NAME", "display_name"},
    {"ROLES", "roles"}, {"ACTIVE", "active"},
};

/* "User 12: Riley Stranger (HMPOL), active; roles admin" */
void render_user(const json_t *u)
{
	fputs("User ", stdout);
	render_cell_out(stdout, get(u, "id"));
	fputs(": ", stdout);
	render_cell_out(stdout, get(u, "cn"));
	fputs(" (", stdout);
	render_cell_out(stdout, get(u, "agency"));
	fputs("), ", stdout);
	fputs(json_is_false(get(u, "active")) ? "DISABLED" : "active", stdout);
	fputc('\n', stdout);
	render_kv(stdout, 2, "Display name", get(u, "display_name"));
	render_label(stdout, 2, "Roles");
	if (json_is_array(get(u, "roles")) && json_array_size(get(u, "roles")) == 0)
		fputs("none (registered, allowed nothing)", stdout);
	else
		render_cell_out(stdout, get(u, "roles"));
	fputc('\n', stdout);
}

void render_users(const json_t *list)
{
	if (json_array_size(get(list, "items")) == 0)
		puts("no users");
	else
		render_table_out(stdout, 0, get(list, "items"), user_cols, NCOLS(user_cols));
}

void render_retention(const json_t *r)
{
	static const struct render_col cols[] = {{"CASE", "case"}, {"CLOSED AT", "closed_at"}};
	bool dry = json_is_true(get(r, "dry_run"));
	const json_t *erased = get(r, "erased");

	fputs(dry ? "Retention run (dry run): " : "Retention run: ", stdout);
	render_cell_out(stdout, get(r, "count"));
	fputs(dry ? " case(s) would be erased\n" : " case(s) erased\n", stdout);
	if (json_array_size(erased) > 0)
		render_table_out(stdout, 2, erased, cols, NCOLS(cols));
	render_label(stdout, 2, "Kept (legal hold)");
	render_cell_out(stdout, get(r, "held"));
	fputc('\n', stdout);
}
