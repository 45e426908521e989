/* admin.c: the cdrp commands for information-sharing agreements (isa) and
 * administration (admin: agencies, users, retention, subject access).
 * They are rows of a table run by casework.c's runner, like the casework
 * commands: the body is built from the options and validated with the
 * server's own schema (proto/) before any network use. `admin sar` is the
 * exception: a data export, always printed as JSON. */
#include "cli.h"
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROLES 16

/* ---- usage texts ---- */

#define TAIL "Connection options and exit codes: cdrp --help.\n"
#define DAILY_KEY                                                                                  \
	"A re-run the same day with the same words is a retry: it shows the first\n"               \
	"answer again instead of making the change twice.\n"

static const char u_import[] =
    "usage: cdrp admin import FILE|- [OPTIONS]\n"
    "\n"
    "Import a partnership's history (administrators), so that its reports\n"
    "start with it: {\"cases\": [...]} as in proto/API.md \"POST\n"
    "/v1/admin/import\" -- each case with its real referral date, lead\n"
    "agency, closure (closed_on, outcome) and past reviews (held_on,\n"
    "assessment, decision). Checked here first; then all or nothing: the\n"
    "first fault refuses the whole import, naming cases[i].field (exit 65).\n"
    "Re-running the same file is a retry, not a second import.\n"
    "\n" TAIL;

static const char u_isa_create[] =
    "usage: cdrp isa create FILE|- [OPTIONS]\n"
    "\n"
    "Register an information-sharing agreement (administrators) from the JSON\n"
    "object in FILE (- reads standard input). It starts as a draft and comes\n"
    "into force when an administrator of every party agency has signed it\n"
    "(cdrp isa sign). Fields:\n"
    "\n"
    "  reference         1-40 letters, digits, / . _ - (unique), e.g. ISA-2026-01\n"
    "  title             1-200 characters\n"
    "  purpose           asb_case_management, offender_management,\n"
    "                    victim_support or community_safety\n"
    "  description       optional, 1-4000 characters\n"
    "  data_categories   1-4 of asb_casework, offender_management,\n"
    "                    victim_details, special_category\n"
    "  lawful_basis      1-500 characters\n"
    "  marking           optional: OFFICIAL (default) or OFFICIAL-SENSITIVE\n"
    "  retention_months  1-1200\n"
    "  starts_on         YYYY-MM-DD; review_on and ends_on optional, not before it\n"
    "  parties           the agency codes of the parties, at least 2\n"
    "\n"
    "The file is validated here first: an invalid agreement is reported, naming\n"
    "the field, and exits 65 without contacting the server. Re-running the same\n"
    "command after a lost answer shows the original answer.\n" TAIL;
static const char u_isa_show[] =
    "usage: cdrp isa show ID|REF [OPTIONS]\n"
    "\n"
    "Show an agreement by id or reference: purpose, data categories, lawful\n"
    "basis, dates, status (draft, active, suspended, expired, terminated),\n"
    "whether it is in force and due for review, and which parties have signed.\n" TAIL;
static const char u_isa_list[] =
    "usage: cdrp isa list [--status S] [OPTIONS]\n"
    "\n"
    "The partnership's agreements, by reference, and prompts for those whose\n"
    "review date has passed.\n"
    "\n"
    "  --status S   only this status: draft, active, suspended, expired or\n"
    "               terminated\n" TAIL;
static const char u_isa_sign[] =
    "usage: cdrp isa sign ID|REF [--note TEXT] [OPTIONS]\n"
    "\n"
    "Sign a draft agreement for your agency (an administrator of a party\n"
    "agency; once per agency). When every party has signed, it is active.\n"
    "\n"
    "  --note TEXT  recorded with the signature (1-2000 characters)\n" TAIL;
static const char u_isa_suspend[] =
    "usage: cdrp isa suspend ID|REF --reason TEXT [OPTIONS]\n"
    "\n"
    "Suspend an active agreement (an administrator of a party agency), saying\n"
    "why: no data is shared under it until it is resumed.\n" DAILY_KEY TAIL;
static const char u_isa_resume[] =
    "usage: cdrp isa resume ID|REF --reason TEXT [OPTIONS]\n"
    "\n"
    "Bring a suspended agreement back into force (an administrator of a party\n"
    "agency), saying why.\n" DAILY_KEY TAIL;
static const char u_isa_terminate[] =
    "usage: cdrp isa terminate ID|REF --reason TEXT [OPTIONS]\n"
    "\n"
    "End an agreement for good (an administrator of a party agency), saying\n"
    "why. A terminated agreement cannot be resumed.\n" TAIL;
static const char u_agency_add[] =
    "usage: cdrp admin agency add CODE [--name NAME] [--kind KIND] [OPTIONS]\n"
    "\n"
    "Register an agency in the partnership (administrators). CODE is what its\n"
    "certificates carry as O (2-16 capital letters and digits). A new agency\n"
    "needs --name and --kind; an agency already known (of another partnership,\n"
    "or disabled here) joins, or is enabled again.\n"
    "\n"
    "  --name NAME  the agency's name (1-200 characters)\n"
    "  --kind KIND  police, district_council, county_council, fire_rescue,\n"
    "               probation, youth_offending, housing, drug_alcohol, health,\n"
    "               parish or other\n" DAILY_KEY TAIL;
static const char u_agency_list[] =
    "usage: cdrp admin agency list [OPTIONS]\n"
    "\n"
    "The partnership's agencies: code, name, kind, whether active, and whether\n"
    "this is the agency's home partnership (administrators).\n" TAIL;
static const char u_agency_disable[] =
    "usage: cdrp admin agency disable CODE --reason TEXT [OPTIONS]\n"
    "\n"
    "Disable an agency in the partnership, saying why: its users' certificates\n"
    "are refused from then on (exit 77). Administrators.\n" TAIL;
static const char u_user_add[] =
    "usage: cdrp admin user add --agency CODE --cn NAME [--display-name NAME]\n"
    "                           --role R [--role R]... [OPTIONS]\n"
    "\n"
    "Register a user (administrators): the certificate with O=CODE and CN=NAME\n"
    "is then let in with these roles. R: referrer, caseworker, chair,\n"
    "ppo_coordinator, analyst or admin (repeat --role, or separate with commas).\n"
    "\n"
    "A user already registered gets these roles and is enabled again.\n"
    "Prints the user's id (for disable and roles).\n" DAILY_KEY TAIL;
static const char u_user_list[] = "usage: cdrp admin user list [--agency CODE] [OPTIONS]\n"
                                  "\n"
                                  "The registered users, with roles and whether active; only\n"
                                  "those of agency CODE with --agency (administrators).\n" TAIL;
static const char u_user_disable[] =
    "usage: cdrp admin user disable ID --reason TEXT [OPTIONS]\n"
    "\n"
    "Disable user ID, saying why: their certificate is refused from then on\n"
    "(exit 77). Administrators.\n" TAIL;
static const char u_user_roles[] =
    "usage: cdrp admin user roles ID --role R [--role R]... [OPTIONS]\n"
    "       cdrp admin user roles ID --no-roles [OPTIONS]\n"
    "\n"
    "Replace the roles of user ID (administrators). R: referrer, caseworker,\n"
    "chair, ppo_coordinator, analyst or admin (repeat --role, or separate with\n"
    "commas). --no-roles leaves the user registered but allowed nothing.\n" DAILY_KEY TAIL;
static const char u_retention_run[] =
    "usage: cdrp admin retention run [--dry-run] [OPTIONS]\n"
    "\n"
    "Erase the personal data of cases closed for longer than the retention\n"
    "period (administrators). Cases under legal hold are kept and counted.\n"
    "\n"
    "  --dry-run  only list the cases that would be erased\n"
    "\n"
    "Prints how many cases were (or would be) erased, and which.\n" DAILY_KEY TAIL;
static const char u_sar[] =
    "usage: cdrp admin sar PERSON_ID [OPTIONS]\n"
    "\n"
    "Subject access request: everything held about person PERSON_ID, as the\n"
    "JSON export the server produces (always JSON, pretty-printed; redirect it\n"
    "to a file). Administrators; give --why, the export is audited.\n" TAIL;

/* ---- building bodies from options ---- */

static void put_str(const struct cdrp_opts *o, json_t *body, const char *key, const char *opt)
{
	const char *v = cdrp_opt(o, opt);

	if (v)
		json_object_set_new(body, key, json_string(v));
}

/* A request body that is the JSON document of FILE (or stdin), as is;
 * `what` names it in errors. */
static int body_from_file(const struct cdrp_opts *o, json_t *b, const char *what)
{
	struct proto_error pe = {0};
	char *input = NULL;
	size_t len = 0;
	json_t *doc;
	int rc = cdrp_read_input(o->words[0], &input, &len);

	if (rc)
		return rc;
	doc = proto_parse_body(input, len, &pe);
	free(input);
	if (!doc)
		return cdrp_invalid(what, &pe);
	json_object_update(b, doc);
	json_decref(doc);
	return 0;
}

static int b_isa_create(const struct cdrp_opts *o, json_t *b)
{
	return body_from_file(o, b, "agreement");
}

/* The historical import. */
static int b_import(const struct cdrp_opts *o, json_t *b)
{
	return body_from_file(o, b, "import");
}

static void render_import(const json_t *doc)
{
	const json_t *refs = json_object_get(doc, "references");
	size_t i;
	const json_t *r;

	printf("Imported %lld cases with %lld reviews:",
	       (long long)json_integer_value(json_object_get(doc, "cases")),
	       (long long)json_integer_value(json_object_get(doc, "reviews")));
	json_array_foreach(refs, i, r)
	{
		fputs(" ", stdout);
		render_safe(stdout, json_string_value(r) ? json_string_value(r) : "?");
	}
	fputs("\n", stdout);
}

static int b_note(const struct cdrp_opts *o, json_t *b)
{
	put_str(o, b, "note", "note");
	return 0;
}

static int b_reason(const struct cdrp_opts *o, json_t *b)
{
	put_str(o, b, "reason", "reason");
	return 0;
}

static int b_agency_add(const struct cdrp_opts *o, json_t *b)
{
	json_object_set_new(b, "code", json_string(o->words[0]));
	put_str(o, b, "name", "name");
	put_str(o, b, "kind", "kind");
	return 0;
}

/* Every --role, commas separating values too, as the "roles" array. */
static int put_roles(const struct cdrp_opts *o, json_t *b)
{
	const char *vals[MAX_ROLES];
	size_t n = cdrp_opt_all(o, "role", vals, MAX_ROLES);
	json_t *roles = json_array();
	int rc = 0;

	if (!roles)
		return cdrp_oom();
	for (size_t i = 0; i < n && !rc; i++) {
		char *copy = strdup(vals[i]), *save = NULL;

		if (!copy) {
			rc = cdrp_oom();
			break;
		}
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			json_array_append_new(roles, json_string(t + strspn(t, " ")));
		free(copy);
	}
	if (rc)
		json_decref(roles);
	else
		json_object_set_new(b, "roles", roles);
	return rc;
}

static int b_user_add(const struct cdrp_opts *o, json_t *b)
{
	put_str(o, b, "agency", "agency");
	put_str(o, b, "cn", "cn");
	put_str(o, b, "display_name", "display-name");
	return put_roles(o, b);
}

static int b_user_roles(const struct cdrp_opts *o, json_t *b)
{
	/* No roles at all is allowed, but only when asked for in so many
	 * words: a forgotten --role must not strip a user bare. */
	if (cdrp_flag(o, "no-roles") == cdrp_flag(o, "role"))
		return cdrp_usage_error(o->cmd, "give --role R (one or more) or --no-roles");
	return put_roles(o, b);
}

static int b_retention(const struct cdrp_opts *o, json_t *b)
{
	json_object_set_new(b, "dry_run", json_boolean(cdrp_flag(o, "dry-run")));
	return 0;
}

/* ---- admin sar: a data export ---- */

static int run_sar(const struct cdrp_opts *o)
{
	const char *id = o->words[0];
	struct http_response resp = {0};
	struct http_client *c = NULL;
	struct proto_error pe = {0};
	json_t *q = json_pack("{ss}", "person", id), *doc = NULL;
	char path[64];
	bool sent;
	int rc = CDRP_EXIT_OK;

	if (!q)
		return cdrp_oom();
	if (strlen(id) > 18 || strspn(id, "0123456789") != strlen(id) ||
	    !proto_validate_query(PQ_SAR, q, &pe)) {
		rc = cdrp_usage_error(o->cmd, "PERSON_ID must be a positive number");
		goto out;
	}
	snprintf(path, sizeof(path), "/v1/admin/sar?person=%s", id + strspn(id, "0"));
	c = cdrp_connect(o, &rc);
	if (!c)
		goto out;
	rc = cdrp_call(o, c, "GET", path, NULL, NULL, 0, &resp, &doc, &sent);
	if (rc == CDRP_EXIT_OK && cdrp_print_json(doc) != 0)
		rc = CDRP_EXIT_SOFTWARE;
out:
	json_decref(q);
	json_decref(doc);
	http_response_free(&resp);
	http_client_free(c);
	return rc;
}

/* ---- the table ---- */

static const char *const q_isas[] = {"status", "status", NULL};
static const char *const q_users[] = {"agency", "agency", NULL};

#define ARGS(lo, hi, hint) .min_args = lo, .max_args = hi, .args_hint = hint
#define ISA_ID             ARGS(1, 1, "an agreement ID or REF"), .id_kind = CDRP_ID_ISA

const struct cdrp_command cdrp_admin_cmds[] = {
    /* information-sharing agreements */
    {"isa", "create", "isa create FILE|-", "register an information-sharing agreement (draft)",
     u_isa_create, ARGS(1, 1, "a FILE (or - for stdin)"), .opts = "", .method = "POST",
     .path = "/v1/isas", .body = PB_ISA_CREATE, .build = b_isa_create, .render = render_isa},
    {"isa", "show", "isa show ID|REF", "show an agreement and its signatures", u_isa_show, ISA_ID,
     .opts = "", .method = "GET", .path = "/v1/isas/{id}", .render = render_isa},
    {"isa", "list", "isa list", "list agreements; review prompts", u_isa_list, ARGS(0, 0, ""),
     .opts = " status ", .method = "GET", .path = "/v1/isas", .query = PQ_ISAS,
     .query_opts = q_isas, .render = render_isas},
    {"isa", "sign", "isa sign ID|REF", "sign a draft agreement for your agency", u_isa_sign, ISA_ID,
     .opts = " note ", .method = "POST", .path = "/v1/isas/{id}/sign", .body = PB_ISA_SIGN,
     .build = b_note, .render = render_isa_change},
    {"isa", "suspend", "isa suspend ID|REF", "suspend an active agreement, saying why",
     u_isa_suspend, ISA_ID, .opts = " reason ", .required = " reason ", .method = "POST",
     .path = "/v1/isas/{id}/suspend", .body = PB_REASON, .build = b_reason,
     .render = render_isa_change, .key = CDRP_KEY_DAILY},
    {"isa", "resume", "isa resume ID|REF", "bring a suspended agreement back into force",
     u_isa_resume, ISA_ID, .opts = " reason ", .required = " reason ", .method = "POST",
     .path = "/v1/isas/{id}/resume", .body = PB_REASON, .build = b_reason,
     .render = render_isa_change, .key = CDRP_KEY_DAILY},
    {"isa", "terminate", "isa terminate ID|REF", "end an agreement for good, saying why",
     u_isa_terminate, ISA_ID, .opts = " reason ", .required = " reason ", .method = "POST",
     .path = "/v1/isas/{id}/terminate", .body = PB_REASON, .build = b_reason,
     .render = render_isa_change},
    /* agencies */
    {"admin", "agency add", "admin agency add CODE", "register an agency", u_agency_add,
     ARGS(1, 1, "an agency CODE"), .opts = " name kind ", .method = "POST",
     .path = "/v1/admin/agencies", .body = PB_AGENCY_ADD, .build = b_agency_add,
     .render = render_agency, .key = CDRP_KEY_DAILY},
    {"admin", "agency list", "admin agency list", "list the partnership's agencies", u_agency_list,
     ARGS(0, 0, ""), .opts = "", .method = "GET", .path = "/v1/admin/agencies",
     .render = render_agencies},
    {"admin", "agency disable", "admin agency disable CODE", "disable an agency, saying why",
     u_agency_disable, ARGS(1, 1, "an agency CODE"), .opts = " reason ", .required = " reason ",
     .method = "POST", .path = "/v1/admin/agencies/{id}/disable", .id_kind = CDRP_ID_AGENCY,
     .body = PB_REASON, .build = b_reason, .render = render_agency},
    /* users */
    {"admin", "user add", "admin user add", "register a user (certificate O and CN) with roles",
     u_user_add, ARGS(0, 0, ""), .opts = " agency cn display-name role ",
     .required = " agency cn role ", .method = "POST", .path = "/v1/admin/users",
     .body = PB_USER_ADD, .build = b_user_add, .render = render_user, .key = CDRP_KEY_DAILY},
    {"admin", "user list", "admin user list", "list users, with roles", u_user_list, ARGS(0, 0, ""),
     .opts = " agency ", .method = "GET", .path = "/v1/admin/users", .query = PQ_USERS,
     .query_opts = q_users, .render = render_users},
    {"admin", "user disable", "admin user disable ID", "disable a user, saying why", u_user_disable,
     ARGS(1, 1, "a user ID"), .opts = " reason ", .required = " reason ", .method = "POST",
     .path = "/v1/admin/users/{id}/disable", .id_kind = CDRP_ID_NUMBER, .body = PB_REASON,
     .build = b_reason, .render = render_user},
    {"admin", "user roles", "admin user roles ID", "replace a user's roles", u_user_roles,
     ARGS(1, 1, "a user ID"), .opts = " role no-roles ", .method = "PUT",
     .path = "/v1/admin/users/{id}/roles", .id_kind = CDRP_ID_NUMBER, .body = PB_USER_ROLES,
     .build = b_user_roles, .render = render_user, .key = CDRP_KEY_DAILY},
    /* retention and subject access */
    {"admin", "retention run", "admin retention run",
     "erase cases past retention (--dry-run: list them)", u_retention_run, ARGS(0, 0, ""),
     .opts = " dry-run ", .method = "POST", .path = "/v1/admin/retention/run",
     .body = PB_RETENTION_RUN, .build = b_retention, .render = render_retention,
     .key = CDRP_KEY_DAILY, .no_key_flag = "dry-run"},
    {"admin", "import", "admin import FILE|-", "import past cases and reviews (all or nothing)",
     u_import, ARGS(1, 1, "a FILE (or - for stdin)"), .opts = "", .method = "POST",
     .path = "/v1/admin/import", .body = PB_IMPORT, .build = b_import, .render = render_import},
    {"admin", "sar", "admin sar PERSON_ID", "subject access export of a person (JSON)", u_sar,
     ARGS(1, 1, "a PERSON_ID"), .opts = "", .run = run_sar},
};
const size_t cdrp_admin_ncmds = sizeof(cdrp_admin_cmds) / sizeof(cdrp_admin_cmds[0]);
