/* meeting.c: the cdrp commands of the monthly meeting cycle (issue 7) --
 * `meeting create|list|show|agenda|attend|item|order|review|decide|close|
 * minutes` for the ASB Task Group and the PPO panel, and `report
 * improvement`, the 12-month improvement figure. Most are rows run by
 * casework.c's runner (body built from the options, validated with the
 * server's own schema before any network use, a key derived from the
 * request); those that need more (reading the version first, a body the
 * schema does not describe, several output formats) have their own run. */
#include "cli.h"
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPEAT 128 /* values of one repeatable option */
#define NCOLS(c)   (sizeof(c) / sizeof((c)[0]))

/* ---- usage texts ---- */

#define TAIL "Connection options and exit codes: cdrp --help.\n"
#define RETRY                                                                                      \
	"Re-running the same command after a lost answer shows the original answer\n"              \
	"instead of recording it twice.\n"

static const char u_create[] =
    "usage: cdrp meeting create --group G --date D [--chair-agency A --chair-cn CN]\n"
    "                           [OPTIONS]\n"
    "\n"
    "Open a meeting (chairs, caseworkers and administrators). The server\n"
    "generates its agenda: referrals awaiting triage, reviews due, repeat\n"
    "victims, overdue actions (and the PPO cohort for the panel).\n"
    "\n"
    "  --group G          asb_task_group or ppo_panel\n"
    "  --date D           the day it is held, YYYY-MM-DD\n"
    "  --chair-agency A   the chair's agency code, with --chair-cn: the chair's\n"
    "  --chair-cn CN      name as in their certificate (default: you)\n"
    "\n"
    "Prints the meeting with its id (for the other meeting commands).\n" RETRY TAIL;
static const char u_list[] = "usage: cdrp meeting list [--status S] [OPTIONS]\n"
                             "\n"
                             "The partnership's meetings, newest first: id, group, date,\n"
                             "status, chair, agenda items and reviews recorded.\n"
                             "\n"
                             "  --status S   open or closed\n" TAIL;
static const char u_show[] =
    "usage: cdrp meeting show ID [OPTIONS]\n"
    "\n"
    "Show meeting ID: group, date, status, chair, the agencies present, the\n"
    "agenda and the reviews recorded so far.\n" TAIL;
static const char u_agenda[] = "usage: cdrp meeting agenda ID [OPTIONS]\n"
                               "\n"
                               "The agenda of meeting ID, in order: position, item id (for\n"
                               "cdrp meeting order), kind, title and the case it is about.\n" TAIL;
static const char u_attend[] =
    "usage: cdrp meeting attend ID --agency A [--agency B]... [OPTIONS]\n"
    "\n"
    "Record the agencies present at meeting ID (agency codes; repeat --agency,\n"
    "or separate codes with commas).\n" RETRY TAIL;
static const char u_item[] =
    "usage: cdrp meeting item ID --title T [--case REF] [OPTIONS]\n"
    "\n"
    "Add an item to the end of the agenda of meeting ID.\n"
    "\n"
    "  --title T    what it is about (1-500 characters; name references and\n"
    "               rules, not people)\n"
    "  --case REF   the case it concerns (ASB-2026-0042)\n" RETRY TAIL;
static const char u_order[] =
    "usage: cdrp meeting order ID ITEM_ID... [OPTIONS]\n"
    "       cdrp meeting order ID --item ITEM_ID [--item ITEM_ID]... [OPTIONS]\n"
    "\n"
    "Reorder the agenda of meeting ID: the items named (by the ITEM column of\n"
    "cdrp meeting agenda ID) come first, in the order given; the others follow\n"
    "in their present order. Prints the agenda as it now is.\n" TAIL;
static const char u_review[] =
    "usage: cdrp meeting review ID --case REF --assessment X --decision Y\n"
    "                           [--outcome O] [--next-review D] [--notes T]\n"
    "\n"
    "Record the meeting's review of one case (chairs, caseworkers and\n"
    "administrators), while meeting ID is open.\n"
    "\n"
    "  --case REF         the case (ASB-2026-0042 or PPO-2026-0007)\n"
    "  --assessment X     improved, no_change or worse (since the referral):\n"
    "                     the 12-month improvement report counts it\n"
    "  --decision Y       continue, escalate, close or ppo_remove\n"
    "  --outcome O        for close: resolved, no_further_action, transferred,\n"
    "                     legal_action_concluded or other\n"
    "  --next-review D    when the case comes back, YYYY-MM-DD (default: from\n"
    "                     the case's risk band)\n"
    "  --notes T          the minute of the discussion (no personal details\n"
    "                     beyond what the case holds)\n"
    "\n"
    "Actions and PPO removals (reason, exit strategy, agencies agreeing) are\n"
    "recorded with cdrp meeting decide and a file. A closed meeting takes no\n"
    "more reviews (exit 80).\n" RETRY TAIL;
static const char u_decide[] =
    "usage: cdrp meeting decide ID FILE|- [OPTIONS]\n"
    "\n"
    "Record the meeting's decisions on many cases at once from the JSON in\n"
    "FILE (- reads standard input):\n"
    "\n"
    "  {\"reviews\": [{\"case\": \"ASB-2026-0042\", \"assessment\": \"improved\",\n"
    "                \"decision\": \"continue\", \"next_review_on\": \"2026-06-01\",\n"
    "                \"notes\": \"...\", \"actions\": [{\"type\": \"warning_letter\",\n"
    "                \"stage\": 1, \"owner\": \"HMDC\", \"due_on\": \"2026-05-01\"}]},\n"
    "               {\"case\": \"PPO-2026-0007\", \"assessment\": \"improved\",\n"
    "                \"decision\": \"ppo_remove\", \"ppo_removal\": {\"reason\":\n"
    "                \"successful_engagement\", \"exit_strategy\": \"...\",\n"
    "                \"consensus\": [\"HMPOL\", \"HMPS\"]}}]}\n"
    "\n"
    "Each review takes the fields of cdrp meeting review (outcome,\n"
    "next_review_on, notes optional) plus actions and ppo_removal. All or\n"
    "nothing: one bad review and none is recorded. The file is validated here\n"
    "first; a mistake is reported naming the review, e.g. reviews[2].assessment,\n"
    "and exits 65.\n" RETRY TAIL;
static const char u_close[] =
    "usage: cdrp meeting close ID [OPTIONS]\n"
    "\n"
    "Close meeting ID (chairs, caseworkers and administrators): its minutes are\n"
    "final, and attendance, agenda and reviews can no longer change (exit 80).\n" TAIL;
static const char u_minutes[] =
    "usage: cdrp meeting minutes ID [--format text|md|json] [OPTIONS]\n"
    "\n"
    "The minutes of meeting ID: group, date, chair, who attended, the agenda and\n"
    "every review with its assessment, decision, outcome, next review, notes and\n"
    "actions.\n"
    "\n"
    "  --format text   aligned plain text (the default)\n"
    "  --format md     Markdown: headings and a table of the reviews, for the\n"
    "                  partnership's minutes document\n"
    "  --format json   the server's JSON (as --json)\n" TAIL;
static const char u_improvement[] =
    "usage: cdrp report improvement [--fy YEAR [--quarter Q] | --from D --to D]\n"
    "                               [--list RESULT] [--format text|csv|json|html]\n"
    "\n"
    "How many cases improved within 12 months of referral, against the\n"
    "partnership's target: cases referred in the window, those achieved (an\n"
    "improved assessment within 12 months), failed (12 months passed without),\n"
    "pending (still within 12 months), overall, by subject type, by lead agency\n"
    "and by quarter. The percentage is achieved of decided (achieved + failed).\n"
    "\n"
    "  --fy YEAR       the financial year starting in April of YEAR (2026: 2026-27)\n"
    "  --quarter Q     only its quarter Q, 1-4 (Q1 is April-June)\n"
    "  --from D --to D referrals from D to D, YYYY-MM-DD (both days included)\n"
    "                  (without --fy or --from/--to: the server's default window)\n"
    "  --list RESULT   also list the cases: achieved, failed or pending\n"
    "  --format text   the overall figure, then tables (the default)\n"
    "  --format csv    scope,group,cases,achieved,failed,pending,decided,pct:\n"
    "                  one row for overall, each subject type, lead agency and\n"
    "                  quarter (with --list: the listed cases instead, as\n"
    "                  reference,subject_type,lead_agency,referral_date,result,\n"
    "                  achieved_on)\n"
    "  --format html   one self-contained page: tables and an inline SVG chart of\n"
    "                  the rate by quarter against the target (the chart shows\n"
    "                  the financial year the window starts in)\n"
    "  --format json   the server's JSON (as --json)\n"
    "\n"
    "--fy and --from/--to are exclusive (exit 64).\n" TAIL;

/* ---- small helpers ---- */

static const json_t *get(const json_t *o, const char *key)
{
	return json_object_get(o, key);
}

static bool present(const json_t *v)
{
	return v && !json_is_null(v);
}

static const char *group_name(const json_t *g)
{
	const char *s = json_string_value(g);

	if (s && !strcmp(s, "asb_task_group"))
		return "ASB Task Group";
	if (s && !strcmp(s, "ppo_panel"))
		return "PPO panel";
	return NULL;
}

static void group_cell(FILE *out, const json_t *g)
{
	const char *name = group_name(g);

	if (name)
		fputs(name, out);
	else
		render_cell_out(out, g);
}

/* A positive number that fits the server's bigint, without leading
 * zeros; 0 or a usage error. */
static int number_arg(const struct cdrp_opts *o, const char *what, const char *v, char *out,
                      size_t outlen)
{
	size_t n = strlen(v);

	if (n == 0 || n > 18 || strspn(v, "0123456789") != n || strspn(v, "0") == n)
		return cdrp_usage_error(o->cmd, "%s must be a positive number", what);
	snprintf(out, outlen, "%s", v + strspn(v, "0"));
	return 0;
}

static void put_str(const struct cdrp_opts *o, json_t *body, const char *key, const char *opt)
{
	const char *v = cdrp_opt(o, opt);

	if (v)
		json_object_set_new(body, key, json_string(v));
}

/* Every value of a repeatable option, commas separating values too, each
 * passed to add(); 0 or an exit code. */
static int each_value(const struct cdrp_opts *o, const char *opt,
                      int (*add)(const struct cdrp_opts *o, const char *v, json_t *arr),
                      json_t *arr)
{
	const char *vals[MAX_REPEAT];
	size_t n = cdrp_opt_all(o, opt, vals, MAX_REPEAT);
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		char *copy = strdup(vals[i]), *save = NULL;

		if (!copy)
			return cdrp_oom();
		for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save))
			rc = add(o, t + strspn(t, " "), arr);
		free(copy);
	}
	return rc;
}

static int add_str(const struct cdrp_opts *o, const char *v, json_t *arr)
{
	(void)o;
	return json_array_append_new(arr, json_string(v)) ? cdrp_oom() : 0;
}

static int add_item(const struct cdrp_opts *o, const char *v, json_t *arr)
{
	char id[24];
	int rc = number_arg(o, "an ITEM_ID", v, id, sizeof(id));

	if (rc)
		return rc;
	return json_array_append_new(arr, json_integer(strtoll(id, NULL, 10))) ? cdrp_oom() : 0;
}

/* ---- rendering ---- */

/* "Meeting 4: ASB Task Group on 2026-03-12 (open)" */
static void meeting_title(FILE *out, const char *prefix, const json_t *m)
{
	fputs(prefix, out);
	render_cell_out(out, get(m, "id"));
	fputs(": ", out);
	group_cell(out, get(m, "group"));
	fputs(" on ", out);
	render_cell_out(out, get(m, "held_on"));
	fputs(" (", out);
	render_cell_out(out, get(m, "status"));
	fputs(")\n", out);
}

static const struct render_col agenda_cols[] = {
    {"#", "position"}, {"ITEM", "id"},           {"KIND", "kind"},     {"TITLE", "title"},
    {"CASE", "case"},  {"REFERRAL", "referral"}, {"PERSON", "person"}, {"ACTION", "action"},
};

/* The items without their null fields, so that a column no item fills
 * (referral, person, action) is left out of the table. */
static json_t *compact(const json_t *items)
{
	json_t *copy = json_deep_copy(items), *it, *v;
	const char *key;
	void *tmp;
	size_t i;

	json_array_foreach(copy, i, it)
	{
		json_object_foreach_safe(it, tmp, key, v)
		{
			if (json_is_null(v))
				json_object_del(it, key);
		}
	}
	return copy;
}

static void agenda_table(FILE *out, const json_t *items)
{
	json_t *rows = compact(items);

	render_table_out(out, 2, rows ? rows : items, agenda_cols, NCOLS(agenda_cols));
	json_decref(rows);
}

static void agenda(FILE *out, const json_t *items)
{
	render_section(out, "Agenda", json_array_size(items), true);
	if (json_array_size(items) > 0)
		agenda_table(out, items);
}

static const struct render_col review_cols[] = {
    {"CASE", "case"},       {"ASSESSMENT", "assessment"},      {"DECISION", "decision"},
    {"OUTCOME", "outcome"}, {"NEXT REVIEW", "next_review_on"}, {"ACTIONS", "actions_n"},
    {"REVIEW", "id"},
};

/* The reviews with their actions counted (a table cell, not a list). */
static json_t *reviews_counted(const json_t *reviews)
{
	json_t *copy = json_deep_copy(reviews), *r;
	size_t i;

	json_array_foreach(copy, i, r)
	{
		if (json_is_array(get(r, "actions")))
			json_object_set_new(
			    r, "actions_n",
			    json_integer((json_int_t)json_array_size(get(r, "actions"))));
	}
	return copy;
}

static void reviews_table(FILE *out, const json_t *reviews)
{
	json_t *rows = reviews_counted(reviews);

	render_section(out, "Reviews", json_array_size(reviews), true);
	if (json_array_size(reviews) > 0)
		render_table_out(out, 2, rows ? rows : reviews, review_cols, NCOLS(review_cols));
	json_decref(rows);
}

static void render_meeting(const json_t *m)
{
	FILE *out = stdout;

	meeting_title(out, "Meeting ", m);
	render_kv(out, 2, "Group", get(m, "group"));
	render_kv(out, 2, "Held on", get(m, "held_on"));
	render_kv(out, 2, "Status", get(m, "status"));
	render_label(out, 2, "Chair");
	render_cell_out(out, get(m, "chair"));
	fputc('\n', out);
	render_label(out, 2, "Attendance");
	render_cell_out(out, get(m, "attendance"));
	fputc('\n', out);
	if (get(m, "version"))
		render_kv(out, 2, "Version", get(m, "version"));
	agenda(out, get(m, "agenda"));
	reviews_table(out, get(m, "reviews"));
}

static void render_agenda(const json_t *m)
{
	const json_t *items = get(m, "agenda");

	meeting_title(stdout, "Agenda of meeting ", m);
	if (json_array_size(items) == 0)
		puts("  (no items)");
	else
		agenda_table(stdout, items);
}

static void render_attendance(const json_t *m)
{
	meeting_title(stdout, "Meeting ", m);
	render_label(stdout, 2, "Attendance");
	render_cell_out(stdout, get(m, "attendance"));
	fputc('\n', stdout);
}

static const struct render_col meeting_cols[] = {
    {"ID", "id"},       {"GROUP", "group"}, {"HELD ON", "held_on"}, {"STATUS", "status"},
    {"CHAIR", "chair"}, {"ITEMS", "items"}, {"REVIEWS", "reviews"},
};

static void render_meetings(const json_t *list)
{
	render_table_out(stdout, 0, get(list, "items"), meeting_cols, NCOLS(meeting_cols));
}

static const struct render_col action_cols[] = {
    {"TYPE", "type"}, {"STAGE", "stage"}, {"OWNER", "owner"}, {"DUE", "due_on"}};

/* "Review 12 of ASB-2026-0042: improved, continue" and what it carried. */
static void review_line(FILE *out, int indent, const json_t *r)
{
	fprintf(out, "%*s", indent, "");
	if (get(r, "id")) {
		fputs("Review ", out);
		render_cell_out(out, get(r, "id"));
		fputs(" of ", out);
	}
	render_cell_out(out, get(r, "case"));
	fputs(": ", out);
	render_cell_out(out, get(r, "assessment"));
	fputs(", ", out);
	render_cell_out(out, get(r, "decision"));
	if (present(get(r, "outcome"))) {
		fputs(" (", out);
		render_cell_out(out, get(r, "outcome"));
		fputc(')', out);
	}
	if (present(get(r, "next_review_on"))) {
		fputs("; next review ", out);
		render_cell_out(out, get(r, "next_review_on"));
	}
	fputc('\n', out);
	if (present(get(r, "notes")))
		render_kv(out, indent + 2, "Notes", get(r, "notes"));
	if (json_array_size(get(r, "consensus")) > 0) {
		render_label(out, indent + 2, "Agreed by");
		render_cell_out(out, get(r, "consensus"));
		fputc('\n', out);
	}
	if (json_array_size(get(r, "actions")) > 0) {
		fprintf(out, "%*sActions:\n", indent + 2, "");
		render_table_out(out, indent + 4, get(r, "actions"), action_cols,
		                 NCOLS(action_cols));
	}
}

static void render_review(const json_t *r)
{
	review_line(stdout, 0, r);
}

static void render_decisions(const json_t *d)
{
	const json_t *reviews = get(d, "reviews");
	const json_t *r;
	size_t i;

	fputs("Meeting ", stdout);
	render_cell_out(stdout, get(d, "meeting"));
	printf(": %zu review%s recorded\n", json_array_size(reviews),
	       json_array_size(reviews) == 1 ? "" : "s");
	json_array_foreach(reviews, i, r)
	{
		review_line(stdout, 2, r);
	}
}

/* ---- building bodies from options ---- */

/* A date option: the schema would name the body's field, not the option. */
static int check_date(const struct cdrp_opts *o, const char *opt, const char *field)
{
	const char *v = cdrp_opt(o, opt);

	if (!v || proto_valid_date(v))
		return 0;
	fprintf(stderr, "cdrp: invalid --%s: must be a calendar date YYYY-MM-DD (field %s)\n", opt,
	        field);
	return CDRP_EXIT_DATAERR;
}

static int b_create(const struct cdrp_opts *o, json_t *b)
{
	const char *agency = cdrp_opt(o, "chair-agency"), *cn = cdrp_opt(o, "chair-cn");

	/* Half a chair would silently make the caller the chair. */
	if (!agency != !cn)
		return cdrp_usage_error(o->cmd, "give --chair-agency and --chair-cn together");
	if (check_date(o, "date", "held_on"))
		return CDRP_EXIT_DATAERR;
	put_str(o, b, "group", "group");
	put_str(o, b, "held_on", "date");
	if (agency)
		json_object_set_new(b, "chair",
		                    json_pack("{s:s, s:s}", "agency", agency, "cn", cn));
	return 0;
}

static int b_attend(const struct cdrp_opts *o, json_t *b)
{
	json_t *agencies = json_array();
	int rc;

	if (!agencies)
		return cdrp_oom();
	json_object_set_new(b, "agencies", agencies);
	if ((rc = each_value(o, "agency", add_str, agencies)) != 0)
		return rc;
	if (json_array_size(agencies) == 0)
		return cdrp_usage_error(o->cmd, "--agency needs an agency code");
	return 0;
}

static int b_item(const struct cdrp_opts *o, json_t *b)
{
	put_str(o, b, "title", "title");
	put_str(o, b, "case", "case");
	return 0;
}

static int b_review(const struct cdrp_opts *o, json_t *b)
{
	if (check_date(o, "next-review", "next_review_on"))
		return CDRP_EXIT_DATAERR;
	put_str(o, b, "case", "case");
	put_str(o, b, "assessment", "assessment");
	put_str(o, b, "decision", "decision");
	put_str(o, b, "outcome", "outcome");
	put_str(o, b, "next_review_on", "next-review");
	put_str(o, b, "notes", "notes");
	return 0;
}

/* ---- writes with their own run ---- */

/* Send one write of `body` (validated as `which`, a failure reported as
 * an invalid `what_is`; sent as it is for PB_NONE) with an Idempotency-Key derived from the request
 * and `salt`; 0 with *docp set, or an exit code. */
static int send_write(const struct cdrp_opts *o, struct http_client *c, const char *method,
                      const char *path, json_t *body, enum proto_body which, const char *what_is,
                      const char *salt, const char *if_match, struct http_response *resp,
                      json_t **docp)
{
	char today[16], key[48], keyhdr[80], ifm[64];
	const char *headers[4] = {"Content-Type: application/json", keyhdr, NULL, NULL};
	struct proto_error pe = {0};
	char *text = NULL, *what = NULL;
	size_t n;
	bool sent;
	int rc;

	*docp = NULL;
	cdrp_today(today);
	if (which != PB_NONE && !proto_validate_body(which, body, today, &pe))
		return cdrp_invalid(what_is, &pe);
	text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	n = strlen(method) + strlen(path) + (text ? strlen(text) : 0) + strlen(salt) + 8;
	what = text ? malloc(n) : NULL;
	if (!what) {
		rc = cdrp_oom();
		goto out;
	}
	snprintf(what, n, "%s %s\n%s\n%s", method, path, text, salt);
	if (cdrp_derive_key(what, key, sizeof(key)) != 0) {
		fputs("cdrp: cannot compute SHA-256\n", stderr);
		rc = CDRP_EXIT_SOFTWARE;
		goto out;
	}
	snprintf(keyhdr, sizeof(keyhdr), "Idempotency-Key: %s", key);
	if (if_match) {
		snprintf(ifm, sizeof(ifm), "If-Match: %s", if_match);
		headers[2] = ifm;
	}
	rc = cdrp_call(o, c, method, path, headers, text, strlen(text), resp, docp, &sent);
	if (rc && sent && resp->status == 0)
		fputs("cdrp: the change may or may not have been made; show the meeting before "
		      "retrying\n",
		      stderr);
out:
	free(what);
	free(text);
	return rc;
}

/* Print a write's answer: --json, or `render` and a replay note. */
static int show_answer(const struct cdrp_opts *o, const struct http_response *resp,
                       const json_t *doc, void (*render)(const json_t *))
{
	if (o->json)
		return cdrp_print_json(doc) != 0 ? CDRP_EXIT_SOFTWARE : 0;
	render(doc);
	if (resp->idempotent_replay)
		puts("(already recorded; this is the original answer)");
	return 0;
}

/* The agenda's order is a state, not an event: reordering A B, then B A,
 * then A B again must apply the third time. The key therefore covers the
 * meeting's version as read just before, so only a true retry of the same
 * change (the version unchanged) replays. */
static int run_order(const struct cdrp_opts *o)
{
	struct http_response resp = {0};
	struct http_client *c = NULL;
	json_t *body = json_object(), *order = json_array(), *doc = NULL;
	char id[24], path[64], salt[64] = "";
	char *etag = NULL;
	struct proto_error pe = {0};
	char today[16];
	bool sent;
	int rc;

	if (!body || !order) {
		json_decref(order);
		rc = cdrp_oom();
		goto out;
	}
	json_object_set_new(body, "order", order);
	if ((rc = number_arg(o, "the meeting ID", o->words[0], id, sizeof(id))) != 0)
		goto out;
	for (int i = 1; i < o->nwords && !rc; i++)
		rc = add_item(o, o->words[i], order);
	if (!rc)
		rc = each_value(o, "item", add_item, order);
	if (rc)
		goto out;
	if (json_array_size(order) == 0) {
		rc = cdrp_usage_error(o->cmd,
		                      "meeting order needs the ITEM_IDs, in their new order");
		goto out;
	}
	cdrp_today(today);
	if (!proto_validate_body(PB_AGENDA_ORDER, body, today, &pe)) {
		rc = cdrp_invalid("order", &pe);
		goto out;
	}
	snprintf(path, sizeof(path), "/v1/meetings/%s", id);
	c = cdrp_connect(o, &rc);
	if (!c)
		goto out;
	rc = cdrp_call(o, c, "GET", path, NULL, NULL, 0, &resp, &doc, &sent);
	if (rc)
		goto out;
	if (present(get(doc, "version")))
		snprintf(salt, sizeof(salt), "version %" JSON_INTEGER_FORMAT,
		         json_integer_value(get(doc, "version")));
	/* Sent along in case the server checks it; it changes nothing when
	 * the server does not. */
	etag = resp.etag ? strdup(resp.etag) : NULL;
	json_decref(doc);
	doc = NULL;
	http_response_free(&resp);
	memset(&resp, 0, sizeof(resp));
	snprintf(path, sizeof(path), "/v1/meetings/%s/items", id);
	rc = send_write(o, c, "PUT", path, body, PB_AGENDA_ORDER, "order", salt, etag, &resp, &doc);
	if (!rc)
		rc = show_answer(o, &resp, doc, render_agenda);
out:
	free(etag);
	json_decref(doc);
	json_decref(body);
	http_response_free(&resp);
	http_client_free(c);
	return rc;
}

/* Closing takes an empty object: nothing to validate, a key all the same
 * (a retry after a lost answer shows the closed meeting again). */
static int run_close(const struct cdrp_opts *o)
{
	struct http_response resp = {0};
	struct http_client *c = NULL;
	json_t *body = json_object(), *doc = NULL;
	char id[24], path[64];
	int rc;

	if (!body)
		return cdrp_oom();
	if ((rc = number_arg(o, "the meeting ID", o->words[0], id, sizeof(id))) != 0)
		goto out;
	snprintf(path, sizeof(path), "/v1/meetings/%s/close", id);
	c = cdrp_connect(o, &rc);
	if (!c)
		goto out;
	rc = send_write(o, c, "POST", path, body, PB_NONE, "request", "", NULL, &resp, &doc);
	if (!rc)
		rc = show_answer(o, &resp, doc, render_meeting);
out:
	json_decref(doc);
	json_decref(body);
	http_response_free(&resp);
	http_client_free(c);
	return rc;
}

/* The batch is checked whole before anything is sent: the server takes
 * all of it or none, and so does this. */
static int run_decide(const struct cdrp_opts *o)
{
	struct http_response resp = {0};
	struct http_client *c = NULL;
	struct proto_error pe = {0};
	json_t *body = NULL, *doc = NULL;
	char id[24], path[64], today[16], *input = NULL;
	size_t len = 0;
	int rc;

	if ((rc = number_arg(o, "the meeting ID", o->words[0], id, sizeof(id))) != 0)
		return rc;
	if ((rc = cdrp_read_input(o->words[1], &input, &len)) != 0)
		return rc;
	body = proto_parse_body(input, len, &pe);
	if (!body) {
		rc = cdrp_invalid("decisions", &pe);
		goto out;
	}
	cdrp_today(today);
	if (!proto_validate_body(PB_DECISIONS, body, today, &pe)) {
		rc = cdrp_invalid("decisions", &pe);
		goto out;
	}
	snprintf(path, sizeof(path), "/v1/meetings/%s/decisions", id);
	c = cdrp_connect(o, &rc);
	if (!c)
		goto out;
	rc = send_write(o, c, "POST", path, body, PB_DECISIONS, "decisions", "", NULL, &resp, &doc);
	if (!rc)
		rc = show_answer(o, &resp, doc, render_decisions);
out:
	free(input);
	json_decref(doc);
	json_decref(body);
	http_response_free(&resp);
	http_client_free(c);
	return rc;
}

/* ---- reads with their own run ---- */

/* -- minutes -- */

static void minutes_text(const json_t *d)
{
	static const struct render_col att_cols[] = {{"AGENCY", "code"}, {"NAME", "name"}};
	static const struct render_col rev_cols[] = {
	    {"CASE", "case"},
	    {"SUBJECT", "subject_type"},
	    {"LEAD", "lead_agency"},
	    {"ASSESSMENT", "assessment"},
	    {"DECISION", "decision"},
	    {"OUTCOME", "outcome"},
	    {"NEXT REVIEW", "next_review_on"},
	};
	const json_t *m = get(d, "meeting"), *reviews = get(d, "reviews"), *r;
	FILE *out = stdout;
	size_t i;
	bool any = false;

	fputs("Minutes of meeting ", out);
	render_cell_out(out, get(m, "id"));
	fputs(": ", out);
	group_cell(out, get(m, "group"));
	fputs(", ", out);
	render_cell_out(out, get(m, "held_on"));
	fputc('\n', out);
	render_label(out, 2, "Chair");
	render_cell_out(out, get(m, "chair"));
	fputc('\n', out);
	render_kv(out, 2, "Status", get(m, "status"));
	if (present(get(m, "closed_at")))
		render_kv(out, 2, "Closed at", get(m, "closed_at"));

	render_section(out, "Attendance", json_array_size(get(d, "attendance")), true);
	if (json_array_size(get(d, "attendance")) > 0)
		render_table_out(out, 2, get(d, "attendance"), att_cols, NCOLS(att_cols));
	render_section(out, "Agenda", json_array_size(get(d, "agenda")), true);
	if (json_array_size(get(d, "agenda")) > 0)
		agenda_table(out, get(d, "agenda"));
	render_section(out, "Reviews", json_array_size(reviews), true);
	if (json_array_size(reviews) == 0)
		return;
	render_table_out(out, 2, reviews, rev_cols, NCOLS(rev_cols));
	json_array_foreach(reviews, i, r)
	{
		if (!present(get(r, "notes")) && json_array_size(get(r, "actions")) == 0)
			continue;
		if (!any)
			render_section(out, "Notes and actions", 0, false);
		any = true;
		fputs("  ", out);
		render_cell_out(out, get(r, "case"));
		fputc('\n', out);
		if (present(get(r, "notes")))
			render_kv(out, 4, "Notes", get(r, "notes"));
		if (json_array_size(get(r, "actions")) > 0) {
			fputs("    Actions:\n", out);
			render_table_out(out, 6, get(r, "actions"), action_cols,
			                 NCOLS(action_cols));
		}
	}
}

/* What Markdown acts on inside a line (every line printed starts with
 * "# ", "- ", "1. " or "| ", so line-start syntax cannot arise). */
#define MD_SPECIAL "\\`*_[]<>|~&"

/* Text for Markdown: made safe for a terminal, on one line, with the
 * characters Markdown would act on escaped (a table cell must not gain
 * a column, a name must not become a link or a heading). */
static void md(FILE *out, const json_t *v)
{
	char *c = render_cell(v);

	if (!c) {
		fputs("(out of memory)", out);
		return;
	}
	for (const char *p = c; *p; p++) {
		if (*p == '\n' || *p == '\r')
			fputc(' ', out);
		else if (strchr(MD_SPECIAL, *p))
			fprintf(out, "\\%c", *p);
		else
			fputc(*p, out);
	}
	free(c);
}

/* Notes may span lines: in a cell, lines are joined with <br>. */
static void md_multiline(FILE *out, const json_t *v)
{
	char *c = json_is_string(v) ? render_clean(json_string_value(v), true) : NULL;

	if (!c) {
		md(out, v);
		return;
	}
	for (const char *p = c; *p; p++) {
		if (*p == '\n')
			fputs(p[1] ? "<br>" : "", out);
		else if (*p == '\t')
			fputc(' ', out);
		else if (strchr(MD_SPECIAL, *p))
			fprintf(out, "\\%c", *p);
		else
			fputc(*p, out);
	}
	free(c);
}

static void minutes_md(const json_t *d)
{
	const json_t *m = get(d, "meeting"), *reviews = get(d, "reviews"), *it, *a;
	FILE *out = stdout;
	size_t i, k, nactions = 0;

	fputs("# Minutes: ", out);
	group_cell(out, get(m, "group"));
	fputs(", ", out);
	md(out, get(m, "held_on"));
	fputs("\n\n", out);
	fputs("- **Meeting:** ", out);
	md(out, get(m, "id"));
	fputs("\n- **Chair:** ", out);
	md(out, get(m, "chair"));
	fputs("\n- **Status:** ", out);
	md(out, get(m, "status"));
	if (present(get(m, "closed_at"))) {
		fputs(" (closed at ", out);
		md(out, get(m, "closed_at"));
		fputc(')', out);
	}
	fputs("\n\n## Attendance\n\n", out);
	if (json_array_size(get(d, "attendance")) == 0)
		fputs("None recorded.\n", out);
	json_array_foreach(get(d, "attendance"), i, it)
	{
		fputs("- ", out);
		md(out, get(it, "code"));
		if (present(get(it, "name"))) {
			fputs(": ", out);
			md(out, get(it, "name"));
		}
		fputc('\n', out);
	}
	fputs("\n## Agenda\n\n", out);
	if (json_array_size(get(d, "agenda")) == 0)
		fputs("No items.\n", out);
	json_array_foreach(get(d, "agenda"), i, it)
	{
		fprintf(out, "%zu. ", i + 1);
		md(out, get(it, "title"));
		/* "Review ASB-2026-0042 (risk standard)" names its case already */
		if (json_is_string(get(it, "case")) && json_is_string(get(it, "title")) &&
		    !strstr(json_string_value(get(it, "title")),
		            json_string_value(get(it, "case")))) {
			fputs(" (", out);
			md(out, get(it, "case"));
			fputc(')', out);
		}
		fputc('\n', out);
	}
	fputs("\n## Reviews\n\n", out);
	if (json_array_size(reviews) == 0) {
		fputs("No reviews.\n", out);
		return;
	}
	fputs("| Case | Subject | Lead agency | Assessment | Decision | Outcome | Next review | "
	      "Notes |\n",
	      out);
	fputs("|---|---|---|---|---|---|---|---|\n", out);
	json_array_foreach(reviews, i, it)
	{
		static const char *const keys[] = {"case",          "subject_type", "lead_agency",
		                                   "assessment",    "decision",     "outcome",
		                                   "next_review_on"};

		for (k = 0; k < NCOLS(keys); k++) {
			fputs("| ", out);
			md(out, get(it, keys[k]));
			fputc(' ', out);
		}
		fputs("| ", out);
		md_multiline(out, get(it, "notes"));
		fputs(" |\n", out);
		nactions += json_array_size(get(it, "actions"));
	}
	if (nactions == 0)
		return;
	fputs("\n### Actions agreed\n\n| Case | Action | Stage | Owner | Due |\n"
	      "|---|---|---|---|---|\n",
	      out);
	json_array_foreach(reviews, i, it)
	{
		json_array_foreach(get(it, "actions"), k, a)
		{
			fputs("| ", out);
			md(out, get(it, "case"));
			fputs(" | ", out);
			md(out, get(a, "type"));
			fputs(" | ", out);
			md(out, get(a, "stage"));
			fputs(" | ", out);
			md(out, get(a, "owner"));
			fputs(" | ", out);
			md(out, get(a, "due_on"));
			fputs(" |\n", out);
		}
	}
}

static int run_minutes(const struct cdrp_opts *o)
{
	static const char *const formats[] = {"text", "md", "json", NULL};
	struct http_response resp = {0};
	struct http_client *c = NULL;
	json_t *doc = NULL;
	char id[24], path[80];
	bool sent;
	int rc, fmt = cdrp_pick_format(o, formats, &rc);

	if (fmt < 0)
		return rc;
	if ((rc = number_arg(o, "the meeting ID", o->words[0], id, sizeof(id))) != 0)
		return rc;
	snprintf(path, sizeof(path), "/v1/meetings/%s/minutes", id);
	c = cdrp_connect(o, &rc);
	if (!c)
		return rc;
	rc = cdrp_call(o, c, "GET", path, NULL, NULL, 0, &resp, &doc, &sent);
	if (rc)
		goto out;
	if (o->json || fmt == 2)
		rc = cdrp_print_json(doc) != 0 ? CDRP_EXIT_SOFTWARE : 0;
	else if (fmt == 1)
		minutes_md(doc);
	else
		minutes_text(doc);
out:
	json_decref(doc);
	http_response_free(&resp);
	http_client_free(c);
	return rc;
}

/* -- report improvement -- */

static const char *const count_keys[] = {"cases", "achieved", "failed", "pending", "decided"};

/* A percentage as "75.0", or "" (csv) / "-" (text) when not known. */
static void pct_text(const json_t *v, char *out, size_t outlen, const char *unknown)
{
	if (json_is_number(v))
		snprintf(out, outlen, "%.1f", json_number_value(v));
	else
		snprintf(out, outlen, "%s", unknown);
}

static json_int_t count(const json_t *o, const char *key)
{
	return json_integer_value(get(o, key));
}

/* "Improvement within 12 months: 12 of 16 decided cases (75.0 %), target
 * 75 % — met; 3 pending" */
static void overall_line(FILE *out, const json_t *d)
{
	const json_t *ov = get(d, "overall"), *met = get(ov, "met_target");
	const json_t *target = get(d, "target_pct");
	char pct[32];

	pct_text(get(ov, "pct"), pct, sizeof(pct), "");
	fprintf(out,
	        "Improvement within 12 months: %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT
	        " decided case%s",
	        count(ov, "achieved"), count(ov, "decided"), count(ov, "decided") == 1 ? "" : "s");
	if (*pct)
		fprintf(out, " (%s %%)", pct);
	if (json_is_number(target))
		fprintf(out, ", target %g %%", json_number_value(target));
	fputs(json_is_true(met)    ? " — met"
	      : json_is_false(met) ? " — not met"
	                           : " — not yet known",
	      out);
	fprintf(out, "; %" JSON_INTEGER_FORMAT " pending\n", count(ov, "pending"));
}

/* Rows for a text table: the group, the counts and the percentage. */
static json_t *text_rows(const json_t *groups)
{
	json_t *rows = json_deep_copy(groups), *r;
	char pct[32];
	size_t i;

	json_array_foreach(rows, i, r)
	{
		pct_text(get(r, "pct"), pct, sizeof(pct), "-");
		json_object_set_new(r, "pct_text", json_string(pct));
	}
	return rows;
}

static void report_table(FILE *out, const char *title, const json_t *groups, const char *key,
                         const char *col)
{
	const struct render_col cols[] = {
	    {col, key},           {"CASES", "cases"},     {"ACHIEVED", "achieved"},
	    {"FAILED", "failed"}, {"PENDING", "pending"}, {"DECIDED", "decided"},
	    {"%", "pct_text"},
	};
	json_t *rows = text_rows(groups);

	render_section(out, title, json_array_size(groups), true);
	if (json_array_size(groups) > 0)
		render_table_out(out, 2, rows ? rows : groups, cols, NCOLS(cols));
	json_decref(rows);
}

static void report_text(const json_t *d)
{
	static const struct render_col case_cols[] = {
	    {"REFERENCE", "reference"},     {"SUBJECT TYPE", "subject_type"},
	    {"LEAD AGENCY", "lead_agency"}, {"REFERRED", "referral_date"},
	    {"RESULT", "result"},           {"ACHIEVED ON", "achieved_on"},
	};
	const json_t *w = get(d, "window");
	FILE *out = stdout;

	overall_line(out, d);
	fputs("Window: ", out);
	render_cell_out(out, get(w, "label"));
	fputs(" (", out);
	render_cell_out(out, get(w, "from"));
	fputs(" to ", out);
	render_cell_out(out, get(w, "to"));
	fputs("); cases referred in the window, improvement within 12 months of "
	      "referral\n",
	      out);
	report_table(out, "By subject type", get(d, "by_subject_type"), "subject_type",
	             "SUBJECT TYPE");
	report_table(out, "By lead agency", get(d, "by_lead_agency"), "lead_agency", "LEAD AGENCY");
	report_table(out, "Trend by quarter", get(d, "trend"), "quarter", "QUARTER");
	if (json_is_array(get(d, "cases"))) {
		render_section(out, "Cases", json_array_size(get(d, "cases")), true);
		if (json_array_size(get(d, "cases")) > 0)
			render_table_out(out, 2, get(d, "cases"), case_cols, NCOLS(case_cols));
	}
}

/* A CSV field: made safe, quoted when it holds a separator or a quote,
 * and kept from being read as a formula by a spreadsheet. */
static void csv_field(FILE *out, const json_t *v)
{
	char *c = present(v) ? render_cell(v) : strdup("");
	bool quote;

	if (!c) {
		fputs("?", out);
		return;
	}
	quote = strpbrk(c, ",\"") != NULL || (c[0] && strchr("=+-@", c[0]) && !json_is_number(v));
	if (quote)
		fputc('"', out);
	if (c[0] && strchr("=+-@", c[0]) && !json_is_number(v))
		fputc('\'', out);
	for (const char *p = c; *p; p++) {
		if (*p == '"')
			fputc('"', out);
		fputc(*p, out);
	}
	if (quote)
		fputc('"', out);
	free(c);
}

static void csv_row(FILE *out, const char *scope, const json_t *group, const json_t *r)
{
	char pct[32];

	fprintf(out, "%s,", scope);
	csv_field(out, group);
	for (size_t k = 0; k < NCOLS(count_keys); k++) {
		fputc(',', out);
		csv_field(out, get(r, count_keys[k]));
	}
	pct_text(get(r, "pct"), pct, sizeof(pct), "");
	fprintf(out, ",%s\n", pct);
}

static void csv_groups(FILE *out, const char *scope, const json_t *groups, const char *key)
{
	const json_t *r;
	size_t i;

	json_array_foreach(groups, i, r)
	{
		csv_row(out, scope, get(r, key), r);
	}
}

static void report_csv(const json_t *d)
{
	static const char *const case_keys[] = {"reference",     "subject_type", "lead_agency",
	                                        "referral_date", "result",       "achieved_on"};
	json_t *all = json_string("all");
	const json_t *r;
	FILE *out = stdout;
	size_t i;

	if (json_is_array(get(d, "cases"))) {
		fputs("reference,subject_type,lead_agency,referral_date,result,achieved_on\n", out);
		json_array_foreach(get(d, "cases"), i, r)
		{
			for (size_t k = 0; k < NCOLS(case_keys); k++) {
				if (k)
					fputc(',', out);
				csv_field(out, get(r, case_keys[k]));
			}
			fputc('\n', out);
		}
		json_decref(all);
		return;
	}
	fputs("scope,group,cases,achieved,failed,pending,decided,pct\n", out);
	csv_row(out, "overall", all, get(d, "overall"));
	csv_groups(out, "subject_type", get(d, "by_subject_type"), "subject_type");
	csv_groups(out, "lead_agency", get(d, "by_lead_agency"), "lead_agency");
	csv_groups(out, "quarter", get(d, "trend"), "quarter");
	json_decref(all);
}

/* The server's own check of the parameters (the year's range). */
static int improvement_schema(const struct cdrp_opts *o)
{
	static const char *const names[] = {"fy", "quarter", "from", "to", "list"};
	struct proto_error pe = {0};
	json_t *q = json_object();
	int rc = 0;

	if (!q)
		return cdrp_oom();
	for (size_t i = 0; i < NCOLS(names); i++)
		if (cdrp_opt(o, names[i]))
			json_object_set_new(q, names[i], json_string(cdrp_opt(o, names[i])));
	if (!proto_validate_query(PQ_IMPROVEMENT, q, &pe))
		rc = cdrp_usage_error(o->cmd, "invalid --%s: %s", pe.field, pe.detail);
	json_decref(q);
	return rc;
}

/* The window and list as a query string, checked here; 0 or a usage
 * error. */
static int improvement_query(const struct cdrp_opts *o, char *out, size_t outlen)
{
	const char *fy = cdrp_opt(o, "fy"), *q = cdrp_opt(o, "quarter");
	const char *from = cdrp_opt(o, "from"), *to = cdrp_opt(o, "to");
	const char *list = cdrp_opt(o, "list");
	size_t len = 0;

	out[0] = '\0';
	if (fy && (from || to))
		return cdrp_usage_error(o->cmd, "give --fy (and --quarter) or --from and --to, "
		                                "not both");
	if (q && !fy)
		return cdrp_usage_error(o->cmd, "--quarter needs --fy");
	if (!from != !to)
		return cdrp_usage_error(o->cmd, "give --from and --to together");
	if (fy) {
		if (strlen(fy) != 4 || strspn(fy, "0123456789") != 4 || fy[0] == '0')
			return cdrp_usage_error(o->cmd,
			                        "--fy must be a year, e.g. 2026 for 2026-27");
		len += (size_t)snprintf(out + len, outlen - len, "fy=%s", fy);
	}
	if (q) {
		if (strlen(q) != 1 || q[0] < '1' || q[0] > '4')
			return cdrp_usage_error(o->cmd, "--quarter must be 1, 2, 3 or 4");
		len += (size_t)snprintf(out + len, outlen - len, "&quarter=%s", q);
	}
	if (from) {
		if (!proto_valid_date(from) || !proto_valid_date(to))
			return cdrp_usage_error(o->cmd, "--%s must be a date, YYYY-MM-DD",
			                        proto_valid_date(from) ? "to" : "from");
		if (strcmp(from, to) > 0)
			return cdrp_usage_error(o->cmd, "--from must not be after --to");
		len += (size_t)snprintf(out + len, outlen - len, "from=%s&to=%s", from, to);
	}
	if (list) {
		if (strcmp(list, "achieved") != 0 && strcmp(list, "failed") != 0 &&
		    strcmp(list, "pending") != 0)
			return cdrp_usage_error(o->cmd,
			                        "--list must be achieved, failed or pending");
		snprintf(out + len, outlen - len, "%slist=%s", len ? "&" : "", list);
	}
	return improvement_schema(o);
}

static int run_improvement(const struct cdrp_opts *o)
{
	static const char *const formats[] = {"text", "csv", "json", "html", NULL};
	struct http_response resp = {0};
	struct http_client *c = NULL;
	json_t *doc = NULL;
	char query[128], path[192];
	bool sent;
	int rc, fmt = cdrp_pick_format(o, formats, &rc);

	if (fmt < 0)
		return rc;
	if ((rc = improvement_query(o, query, sizeof(query))) != 0)
		return rc;
	snprintf(path, sizeof(path), "/v1/reports/improvement%s%s", query[0] ? "?" : "", query);
	c = cdrp_connect(o, &rc);
	if (!c)
		return rc;
	rc = cdrp_call(o, c, "GET", path, NULL, NULL, 0, &resp, &doc, &sent);
	if (rc)
		goto out;
	if (!json_is_object(get(doc, "overall")) && !o->json && fmt != 2) {
		fputs("cdrp: unexpected answer from the server: a report without \"overall\"\n",
		      stderr);
		rc = CDRP_EXIT_SOFTWARE;
		goto out;
	}
	if (o->json || fmt == 2)
		rc = cdrp_print_json(doc) != 0 ? CDRP_EXIT_SOFTWARE : 0;
	else if (fmt == 1)
		report_csv(doc);
	else if (fmt == 3)
		report_improvement_html(doc);
	else
		report_text(doc);
out:
	json_decref(doc);
	http_response_free(&resp);
	http_client_free(c);
	return rc;
}

/* ---- the table ---- */

static const char *const q_meetings[] = {"status", "status", NULL};

#define ARGS(lo, hi, hint) .min_args = lo, .max_args = hi, .args_hint = hint
#define MEETING_ID         ARGS(1, 1, "a meeting ID"), .id_kind = CDRP_ID_NUMBER

const struct cdrp_command cdrp_meeting_cmds[] = {
    {"meeting", "create", "meeting create", "open an ASB Task Group or PPO panel meeting", u_create,
     ARGS(0, 0, ""), .opts = " group date chair-agency chair-cn ", .required = " group date ",
     .method = "POST", .path = "/v1/meetings", .body = PB_MEETING_CREATE, .build = b_create,
     .render = render_meeting},
    {"meeting", "list", "meeting list", "list meetings, newest first", u_list, ARGS(0, 0, ""),
     .opts = " status ", .method = "GET", .path = "/v1/meetings", .query = PQ_MEETINGS,
     .query_opts = q_meetings, .render = render_meetings, .empty = "no meetings"},
    {"meeting", "show", "meeting show ID", "show a meeting: attendance, agenda, reviews", u_show,
     MEETING_ID, .opts = "", .method = "GET", .path = "/v1/meetings/{id}",
     .render = render_meeting},
    {"meeting", "agenda", "meeting agenda ID", "print a meeting's agenda", u_agenda, MEETING_ID,
     .opts = "", .method = "GET", .path = "/v1/meetings/{id}", .render = render_agenda},
    {"meeting", "attend", "meeting attend ID", "record the agencies present", u_attend, MEETING_ID,
     .opts = " agency ", .required = " agency ", .method = "POST",
     .path = "/v1/meetings/{id}/attendance", .body = PB_ATTENDANCE, .build = b_attend,
     .render = render_attendance},
    {"meeting", "item", "meeting item ID", "add an item to the agenda", u_item, MEETING_ID,
     .opts = " title case ", .required = " title ", .method = "POST",
     .path = "/v1/meetings/{id}/items", .body = PB_AGENDA_ITEM, .build = b_item,
     .render = render_agenda},
    {"meeting", "order", "meeting order ID ITEM_ID...", "reorder the agenda", u_order,
     ARGS(1, CDRP_MAX_WORDS, "a meeting ID and the ITEM_IDs"), .opts = " item ", .run = run_order},
    {"meeting", "review", "meeting review ID", "record the review of one case", u_review,
     MEETING_ID, .opts = " case assessment decision outcome next-review notes ",
     .required = " case assessment decision ", .method = "POST",
     .path = "/v1/meetings/{id}/reviews", .body = PB_REVIEW, .build = b_review,
     .render = render_review},
    {"meeting", "decide", "meeting decide ID FILE|-",
     "record many reviews from a file, all or none", u_decide,
     ARGS(2, 2, "a meeting ID and a FILE (or - for stdin)"), .opts = "", .run = run_decide},
    {"meeting", "close", "meeting close ID", "close a meeting: the minutes are final", u_close,
     ARGS(1, 1, "a meeting ID"), .opts = "", .run = run_close},
    {"meeting", "minutes", "meeting minutes ID", "the minutes (text, Markdown or JSON)", u_minutes,
     ARGS(1, 1, "a meeting ID"), .opts = " format ", .run = run_minutes},
    {"report", "improvement", "report improvement", "cases improved within 12 months vs target",
     u_improvement, ARGS(0, 0, ""), .opts = " fy quarter from to list format ",
     .run = run_improvement},
};
const size_t cdrp_meeting_ncmds = sizeof(cdrp_meeting_cmds) / sizeof(cdrp_meeting_cmds[0]);
