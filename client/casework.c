/* casework.c: the casework commands of cdrp (triage, cases, incidents,
 * victims, risk, actions, Case Review). Each is a row of a table: the
 * request it sends (method, path, body builder, query options), how it
 * proves the version it saw (If-Match) and how its answer is shown. One
 * runner does the rest the same way for all of them: check the arguments,
 * build the body from the options and validate it with the same code as
 * the server (proto/) before any network use, then call cdrpd. */
#include "cli.h"
#include "render.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPEAT 128 /* values of one repeatable option */

/* ---- usage texts ---- */

#define TAIL "Connection options and exit codes: cdrp --help.\n"
#define IFMATCH_CASE                                                                               \
	"The change is made only if the case is unchanged since it was read: cdrp\n"               \
	"reads the case's version (ETag) first and sends it as If-Match. With\n"                   \
	"--if-match ETAG it sends that version instead (from an earlier cdrp --json\n"             \
	"case show: \"version\"). If someone changed the case in between, nothing is\n"            \
	"changed and cdrp exits 81: show the case again and retry.\n"

static const char u_accept[] =
    "usage: cdrp referral accept ID [--case REF] [--lead-agency CODE]\n"
    "                          [--caseworker AGENCY:CN] [--ward W] [OPTIONS]\n"
    "\n"
    "Accept referral ID (caseworker, chair or admin). Without --case it opens a\n"
    "new case; with --case it joins that open case (same kind and subject type).\n"
    "\n"
    "  --case REF              attach to this case (ASB-2026-0042) instead\n"
    "  --lead-agency CODE      lead agency of the new case (default: the\n"
    "                          caseworker's agency)\n"
    "  --caseworker AGENCY:CN  caseworker of the new case (default: you), e.g.\n"
    "                          HMDC:Sam Okafor\n"
    "  --ward W                ward of the new case\n"
    "\n"
    "Prints the referral's new status and the case reference. A referral that\n"
    "is not submitted any more is a conflict (exit 80).\n" TAIL;
static const char u_decline[] =
    "usage: cdrp referral decline ID --reason TEXT [OPTIONS]\n"
    "\n"
    "Decline referral ID (caseworker, chair or admin), saying why (1-2000\n"
    "characters). Only a submitted referral, or one waiting for information, can\n"
    "be declined (else exit 80).\n" TAIL;
static const char u_request_info[] =
    "usage: cdrp referral request-info ID --question TEXT [OPTIONS]\n"
    "\n"
    "Ask the referring agency for more information about referral ID (status\n"
    "info_requested). They answer with cdrp referral resubmit.\n" TAIL;
static const char u_resubmit[] =
    "usage: cdrp referral resubmit ID FILE|- [OPTIONS]\n"
    "\n"
    "Replace referral ID, which is waiting for information, with the full\n"
    "referral in FILE (JSON, as for submit; - reads standard input). Only the\n"
    "referring agency's referrers may. The file is validated here first (exit\n"
    "65 naming the field).\n" TAIL;
static const char u_case_show[] =
    "usage: cdrp case show ID|REF [OPTIONS]\n"
    "\n"
    "Show a case by id or reference (ASB-2026-0042): status, subject, lead\n"
    "agency and caseworker, persons (repeat victims marked), the latest risk\n"
    "assessment, the next review, actions (overdue marked) and prompts.\n"
    "With --json the answer is printed as the server sent it; its \"version\"\n"
    "is what --if-match takes.\n" TAIL;
static const char u_case_list[] =
    "usage: cdrp case list [--status S] [--kind K] [--subject-type T]\n"
    "                      [--caseworker CN] [--lead-agency CODE] [--ward W]\n"
    "                      [--flagged] [--overdue] [--opened-from D] [--opened-to D]\n"
    "                      [--closed-from D] [--closed-to D]\n"
    "                      [--limit N] [--cursor C] [--all]\n"
    "\n"
    "List the cases you may read, newest first, with when each was opened and\n"
    "closed, its outcome and its next review (none once closed).\n"
    "\n"
    "  --status S          open or closed\n"
    "  --kind K            asb or ppo\n"
    "  --subject-type T    individual, family or area\n"
    "  --caseworker CN     the caseworker's name (certificate CN)\n"
    "  --lead-agency CODE  the lead agency's code\n"
    "  --ward W            the case's ward\n"
    "  --flagged           only cases with a repeat victim or a victim eligible\n"
    "                      for a Case Review\n"
    "  --overdue           only cases with an overdue action or review\n"
    "  --opened-from D     only cases opened on or after D (YYYY-MM-DD, UTC)\n"
    "  --opened-to D       only cases opened on or before D\n"
    "  --closed-from D     only cases closed on or after D (open cases are left\n"
    "                      out)\n"
    "  --closed-to D       only cases closed on or before D\n"
    "  --limit N           page size, 1-200 (default 50)\n"
    "  --cursor C          continue from a previous page's \"next cursor\"\n"
    "  --all               follow the cursors and print every page as one\n" TAIL;
static const char u_case_close[] =
    "usage: cdrp case close ID|REF --outcome O [--reason R] [--if-match ETAG]\n"
    "\n"
    "Close a case. O: resolved, no_further_action, transferred,\n"
    "legal_action_concluded or other.\n"
    "\n" IFMATCH_CASE TAIL;
static const char u_case_reopen[] = "usage: cdrp case reopen ID|REF --reason R [--if-match ETAG]\n"
                                    "\n"
                                    "Reopen a closed case, saying why.\n"
                                    "\n" IFMATCH_CASE TAIL;
static const char u_case_note[] =
    "usage: cdrp case note ID|REF TEXT|- [OPTIONS]\n"
    "\n"
    "Add a note (1-20000 characters) to the case's timeline; - reads it from\n"
    "standard input. Notes cannot be changed or deleted.\n" TAIL;
static const char u_case_notes[] = "usage: cdrp case notes ID|REF [OPTIONS]\n"
                                   "\n"
                                   "The case's notes, oldest first, with author and time.\n" TAIL;
static const char u_case_assign[] =
    "usage: cdrp case assign ID|REF [--caseworker AGENCY:CN] [--lead-agency CODE]\n"
    "                        [--ward W] [--marking M] [--if-match ETAG]\n"
    "\n"
    "Change who works the case (caseworker, e.g. HMDC:Sam Okafor), its lead\n"
    "agency, ward or marking (OFFICIAL or OFFICIAL-SENSITIVE). At least one.\n"
    "\n" IFMATCH_CASE TAIL;
static const char u_case_strand[] =
    "usage: cdrp case strand ID|REF --strand S [--reason R] [--if-match ETAG]\n"
    "\n"
    "Move a PPO case to another strand: deter, catch_and_convict or\n"
    "rehabilitate_and_resettle (PPO coordinator or case roles; an ASB case is\n"
    "refused, exit 65).\n"
    "\n" IFMATCH_CASE TAIL;
static const char u_case_remove[] =
    "usage: cdrp case remove ID|REF --reason R [--exit-strategy TEXT]\n"
    "                        [--if-match ETAG]\n"
    "\n"
    "Remove the subject of a PPO case from the scheme; the case is closed.\n"
    "R: successful_engagement, long_custody, moved_away, deceased or other.\n"
    "--exit-strategy is required unless R is deceased.\n"
    "\n" IFMATCH_CASE TAIL;
static const char u_case_history[] =
    "usage: cdrp case history ID|REF [OPTIONS]\n"
    "\n"
    "The case's status changes and (PPO) strand changes and removals.\n" TAIL;
static const char u_case_person[] =
    "usage: cdrp case person ID|REF --name N --role R [--dob D] [--vulnerable]\n"
    "                        [--address A] [--contact C]\n"
    "       cdrp case person ID|REF --person-id P --role R\n"
    "\n"
    "Add a new person to the case, or link a person already known by id.\n"
    "R: subject, victim, witness or household_member. --dob is YYYY-MM-DD.\n"
    "Address and contact are stored apart and never shown by case reads.\n"
    "Prints the person's id (for incident add --victim, risk assess --person).\n" TAIL;
static const char u_case_legal_hold[] =
    "usage: cdrp case legal-hold ID|REF --on|--off --reason TEXT [OPTIONS]\n"
    "\n"
    "Put a case under legal hold (--on), or release it (--off), saying why\n"
    "(1-2000 characters). A case under legal hold is never erased by the\n"
    "retention run, however long it has been closed (administrators).\n"
    "\n"
    "Prints: Case REF: legal hold on|off\n"
    "A re-run the same day with the same words is a retry: it shows the first\n"
    "answer again instead of recording the change twice.\n" TAIL;
static const char u_incident_add[] =
    "usage: cdrp incident add CASE --occurred D --reported D --category C --place P\n"
    "                         [--ward W] [--description T] [--victim PERSON_ID]...\n"
    "                         [--same-as INCIDENT_ID] [--external-ref R]\n"
    "\n"
    "Record an incident on case CASE (id or reference). Dates are YYYY-MM-DD,\n"
    "not in the future; --reported not before --occurred. C: personal,\n"
    "nuisance or environmental. --victim names a person on the case (repeat it,\n"
    "or give a comma-separated list). --same-as adds your agency's report of\n"
    "an incident already recorded (it counts once); --external-ref is your own\n"
    "reference, which makes a repeated report a replay.\n"
    "\n"
    "Prints the incident and any prompts (repeat victim, explain the Case\n"
    "Review, Case Review eligible).\n" TAIL;
static const char u_incident_list[] =
    "usage: cdrp incident list CASE [OPTIONS]\n"
    "\n"
    "The incidents of case CASE with their reports and victims.\n" TAIL;
static const char u_victim_list[] =
    "usage: cdrp victim list [--repeat] [--limit N] [--cursor C] [--all]\n"
    "\n"
    "Victims on the cases, with the repeat-victim flag (computed from\n"
    "incidents in the window, manual, or both), their cases and Case Review\n"
    "eligibility.\n"
    "\n"
    "  --repeat     only repeat victims\n"
    "  --limit N    page size, 1-200 (default 50)\n"
    "  --cursor C   continue from a previous page's \"next cursor\"\n"
    "  --all        follow the cursors and print every page as one\n" TAIL;
static const char u_victim_flag[] = "usage: cdrp victim flag PERSON_ID --reason R [OPTIONS]\n"
                                    "\n"
                                    "Flag a person as a repeat victim by hand, saying why.\n" TAIL;
static const char u_victim_cr[] =
    "usage: cdrp victim case-review PERSON_ID [OPTIONS]\n"
    "\n"
    "Whether the person meets the ASB Case Review threshold now, on what\n"
    "basis, how many qualifying complaints they have, and whether the Case\n"
    "Review should be explained to them.\n" TAIL;
static const char u_risk_q[] =
    "usage: cdrp risk questionnaire [OPTIONS]\n"
    "\n"
    "The partnership's risk questions (ids and weights) and bands.\n" TAIL;
static const char u_risk_assess[] =
    "usage: cdrp risk assess CASE [--person P] --yes QID... [--no QID...]\n"
    "       cdrp risk assess CASE [--person P] --answers FILE|-\n"
    "\n"
    "Record a risk assessment on case CASE, for person P if given. Every\n"
    "question of cdrp risk questionnaire must be answered: list the ids\n"
    "answered yes with --yes and those answered no with --no (repeat the option\n"
    "or separate ids with commas), or give a JSON object {\"QID\": true|false}\n"
    "in FILE. cdrp fetches the questionnaire and refuses (exit 65) when a\n"
    "question is unanswered or unknown, naming it.\n"
    "\n"
    "Prints the score, band, next review date and prompts.\n" TAIL;
static const char u_action_add[] =
    "usage: cdrp action add CASE --type T --stage N --owner AGENCY [--due D]\n"
    "                       [--notes TEXT]\n"
    "\n"
    "Agree an action (tool or power) on case CASE. T: warning_letter,\n"
    "second_warning_visit, acceptable_behaviour_contract, tenancy_enforcement,\n"
    "mediation_referral, support_referral, cpn_warning, cpn, civil_injunction,\n"
    "criminal_behaviour_order, closure_order or other. N: stage 1-4. A cpn\n"
    "needs an earlier warning on the case (else exit 65).\n"
    "\n"
    "Prints the action with its version, which cdrp action update needs.\n" TAIL;
static const char u_action_update[] =
    "usage: cdrp action update ACTION_ID --if-match VERSION [--status S] [--due D]\n"
    "                          [--notes TEXT]\n"
    "\n"
    "Change an action. S: agreed, in_progress, done or cancelled. The version\n"
    "is required: the one printed by cdrp action show ACTION_ID, action add or\n"
    "the last update (\"version N\"). If the action changed since, nothing is\n"
    "changed and cdrp exits 81.\n" TAIL;
static const char u_action_list[] =
    "usage: cdrp action list CASE [OPTIONS]\n"
    "\n"
    "The actions of case CASE (id or reference), oldest first: type, stage,\n"
    "owner agency, due date, status, overdue and version. An agency that owns\n"
    "actions on a case it cannot read sees only its own.\n" TAIL;
static const char u_action_show[] =
    "usage: cdrp action show ACTION_ID [OPTIONS]\n"
    "\n"
    "Show one action, with its version: what cdrp action update --if-match\n"
    "takes. Readers of the action's case and its owner agency may.\n" TAIL;
static const char u_cr_apply[] =
    "usage: cdrp case-review apply --person P [--case REF] --applied D\n"
    "\n"
    "Record an ASB Case Review application by person P, made on date D,\n"
    "optionally about case REF. Prints whether the threshold was met when\n"
    "applied.\n" TAIL;
static const char u_cr_decide[] =
    "usage: cdrp case-review decide ID --met yes|no [--override-reason R] --decided D\n"
    "\n"
    "Record the decision on application ID. Deciding the threshold is met when\n"
    "the rules say it is not needs --override-reason.\n" TAIL;
static const char u_cr_meeting[] =
    "usage: cdrp case-review meeting ID --date D [--recommendation TEXT]...\n"
    "\n"
    "Record the Case Review meeting of application ID and its recommendations\n"
    "(repeat --recommendation for each).\n" TAIL;
static const char u_cr_stats[] =
    "usage: cdrp case-review stats [--year Y]\n"
    "\n"
    "The year's Case Review figures (default: this year): applications,\n"
    "threshold met, reviews held, recommendations.\n" TAIL;

/* ---- building bodies from options ---- */

/* "--name" given: body.key = its value. */
static void put_str(const struct cdrp_opts *o, json_t *body, const char *key, const char *opt)
{
	const char *v = cdrp_opt(o, opt);

	if (v)
		json_object_set_new(body, key, json_string(v));
}

/* A positive integer option value; 0 and a usage error when it is not. */
static int parse_id(const struct cdrp_opts *o, const char *opt, const char *v, json_int_t *out)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end || n < 1 || n > 9007199254740991LL)
		return cdrp_usage_error(o->cmd, "--%s must be a positive number", opt);
	*out = n;
	return 0;
}

static int put_id(const struct cdrp_opts *o, json_t *body, const char *key, const char *opt)
{
	const char *v = cdrp_opt(o, opt);
	json_int_t n;
	int rc;

	if (!v)
		return 0;
	if ((rc = parse_id(o, opt, v, &n)) != 0)
		return rc;
	json_object_set_new(body, key, json_integer(n));
	return 0;
}

/* --caseworker AGENCY:CN -> {"agency": .., "cn": ..} */
static int put_user(const struct cdrp_opts *o, json_t *body, const char *key, const char *opt)
{
	const char *v = cdrp_opt(o, opt), *colon;

	if (!v)
		return 0;
	colon = strchr(v, ':');
	if (!colon || colon == v || !colon[1])
		return cdrp_usage_error(o->cmd, "--%s must be AGENCY:CN, e.g. HMDC:Sam Okafor",
		                        opt);
	json_object_set_new(
	    body, key, json_pack("{s:s%, s:s}", "agency", v, (size_t)(colon - v), "cn", colon + 1));
	return 0;
}

/* Every value of a repeatable option, commas separating values too, each
 * passed to add(); 0 or an exit code. */
static int each_value(const struct cdrp_opts *o, const char *opt,
                      int (*add)(const struct cdrp_opts *o, const char *opt, const char *v,
                                 void *arg),
                      void *arg)
{
	const char *vals[MAX_REPEAT];
	size_t n = cdrp_opt_all(o, opt, vals, MAX_REPEAT);
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		char *copy = strdup(vals[i]), *save = NULL;

		if (!copy)
			return cdrp_oom();
		for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save))
			rc = add(o, opt, t + strspn(t, " "), arg);
		free(copy);
	}
	return rc;
}

static int add_id(const struct cdrp_opts *o, const char *opt, const char *v, void *arg)
{
	json_int_t n;
	int rc = parse_id(o, opt, v, &n);

	if (!rc)
		json_array_append_new(arg, json_integer(n));
	return rc;
}

static int b_accept(const struct cdrp_opts *o, json_t *b)
{
	put_str(o, b, "case", "case");
	put_str(o, b, "lead_agency", "lead-agency");
	put_str(o, b, "ward", "ward");
	return put_user(o, b, "caseworker", "caseworker");
}

static int b_reason(const struct cdrp_opts *o, json_t *b)
{
	put_str(o, b, "reason", "reason");
	return 0;
}

static int b_request_info(const struct cdrp_opts *o, json_t *b)
{
	put_str(o, b, "question", "question");
	return 0;
}

static int b_resubmit(const struct cdrp_opts *o, json_t *b)
{
	struct proto_error pe;
	char *input = NULL;
	size_t len = 0;
	json_t *doc;
	int rc = cdrp_read_input(o->words[1], &input, &len);

	if (rc)
		return rc;
	memset(&pe, 0, sizeof(pe));
	doc = proto_parse_body(input, len, &pe);
	free(input);
	if (!doc)
		return cdrp_invalid("referral", &pe);
	json_object_update(b, doc);
	json_decref(doc);
	return 0;
}

static int b_assign(const struct cdrp_opts *o, json_t *b)
{
	put_str(o, b, "lead_agency", "lead-agency");
	put_str(o, b, "ward", "ward");
	put_str(o, b, "marking", "marking");
	return put_user(o, b, "caseworker", "caseworker");
}

static int b_close(const struct cdrp_opts *o, json_t *b)
{
	put_str(o, b, "outcome", "outcome");
	put_str(o, b, "reason", "reason");
	return 0;
}

static int b_strand(const struct cdrp_opts *o, json_t *b)
{
	put_str(o, b, "strand", "strand");
	put_str(o, b, "reason", "reason");
	return 0;
}

static int b_remove(const struct cdrp_opts *o, json_t *b)
{
	put_str(o, b, "reason", "reason");
	put_str(o, b, "exit_strategy", "exit-strategy");
	return 0;
}

static int b_legal_hold(const struct cdrp_opts *o, json_t *b)
{
	if (cdrp_flag(o, "on") == cdrp_flag(o, "off"))
		return cdrp_usage_error(o->cmd, "give --on (hold the case) or --off (release it)");
	json_object_set_new(b, "hold", json_boolean(cdrp_flag(o, "on")));
	put_str(o, b, "reason", "reason");
	return 0;
}

static int b_note(const struct cdrp_opts *o, json_t *b)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (strcmp(o->words[1], "-") != 0) {
		json_object_set_new(b, "body", json_string(o->words[1]));
		return 0;
	}
	if ((rc = cdrp_read_input("-", &text, &len)) != 0)
		return rc;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	json_object_set_new(b, "body", json_stringn(text, len));
	free(text);
	if (!json_object_get(b, "body")) {
		fputs("cdrp: invalid note: standard input is not UTF-8 text\n", stderr);
		return CDRP_EXIT_DATAERR;
	}
	return 0;
}

static int b_person(const struct cdrp_opts *o, json_t *b)
{
	static const char *const details[] = {"name", "dob", "vulnerable", "address", "contact"};

	if (cdrp_flag(o, "person-id")) {
		for (size_t i = 0; i < sizeof(details) / sizeof(details[0]); i++)
			if (cdrp_flag(o, details[i]))
				return cdrp_usage_error(
				    o->cmd,
				    "--person-id links a known person: --%s is only "
				    "for a new one",
				    details[i]);
	} else if (!cdrp_flag(o, "name")) {
		return cdrp_usage_error(o->cmd, "give --name (a new person) or --person-id");
	}
	put_str(o, b, "name", "name");
	put_str(o, b, "role", "role");
	put_str(o, b, "date_of_birth", "dob");
	if (cdrp_flag(o, "vulnerable"))
		json_object_set_new(b, "vulnerable", json_true());
	put_str(o, b, "address", "address");
	put_str(o, b, "contact", "contact");
	return put_id(o, b, "person_id", "person-id");
}

static int b_incident(const struct cdrp_opts *o, json_t *b)
{
	json_t *victims;
	int rc;

	put_str(o, b, "occurred_on", "occurred");
	put_str(o, b, "reported_on", "reported");
	put_str(o, b, "category", "category");
	put_str(o, b, "place", "place");
	put_str(o, b, "ward", "ward");
	put_str(o, b, "description", "description");
	put_str(o, b, "external_ref", "external-ref");
	if ((rc = put_id(o, b, "same_as", "same-as")) != 0)
		return rc;
	if (!cdrp_flag(o, "victim"))
		return 0;
	victims = json_array();
	if (!victims)
		return cdrp_oom();
	json_object_set_new(b, "victims", victims);
	return each_value(o, "victim", add_id, victims);
}

static int add_answer(const struct cdrp_opts *o, const char *opt, const char *v, void *arg)
{
	json_t *answers = arg;

	if (!*v)
		return cdrp_usage_error(o->cmd, "--%s needs a question id", opt);
	if (json_object_get(answers, v))
		return cdrp_usage_error(o->cmd, "question '%s' is answered twice", v);
	json_object_set_new(answers, v, json_boolean(!strcmp(opt, "yes")));
	return 0;
}

static int b_risk(const struct cdrp_opts *o, json_t *b)
{
	json_t *answers;
	int rc;

	if ((rc = put_id(o, b, "person_id", "person")) != 0)
		return rc;
	if (cdrp_flag(o, "answers")) {
		struct proto_error pe;
		char *input = NULL;
		size_t len = 0;

		if (cdrp_flag(o, "yes") || cdrp_flag(o, "no"))
			return cdrp_usage_error(o->cmd, "give --answers or --yes/--no, not both");
		if ((rc = cdrp_read_input(cdrp_opt(o, "answers"), &input, &len)) != 0)
			return rc;
		memset(&pe, 0, sizeof(pe));
		answers = proto_parse_body(input, len, &pe);
		free(input);
		if (!answers)
			return cdrp_invalid("answers", &pe);
		json_object_set_new(b, "answers", answers);
		return 0;
	}
	if (!cdrp_flag(o, "yes") && !cdrp_flag(o, "no"))
		return cdrp_usage_error(o->cmd,
		                        "give the answers: --yes QID... and --no QID..., or "
		                        "--answers FILE");
	answers = json_object();
	if (!answers)
		return cdrp_oom();
	json_object_set_new(b, "answers", answers);
	if ((rc = each_value(o, "yes", add_answer, answers)) != 0)
		return rc;
	return each_value(o, "no", add_answer, answers);
}

/* The questionnaire decides what "every question answered" means. */
static int p_risk(const struct cdrp_opts *o, struct http_client *c, json_t *b)
{
	struct http_response resp = {0};
	json_t *doc = NULL, *answers = json_object_get(b, "answers");
	const json_t *qs, *q;
	const char *key;
	json_t *v;
	size_t i, missing = 0, unknown = 0;
	bool sent;
	int rc;

	rc = cdrp_call(o, c, "GET", "/v1/risk/questionnaire", NULL, NULL, 0, &resp, &doc, &sent);
	if (rc)
		goto out;
	qs = json_object_get(doc, "questions");
	if (!json_is_array(qs)) {
		fputs(
		    "cdrp: unexpected answer from the server: a questionnaire without questions\n",
		    stderr);
		rc = CDRP_EXIT_SOFTWARE;
		goto out;
	}
	json_array_foreach(qs, i, q)
	{
		const char *id = cdrp_str(q, "id");

		if (id && !json_object_get(answers, id)) {
			fputs(missing++ ? ", " : "cdrp: unanswered questions: ", stderr);
			render_safe(stderr, id);
		}
	}
	if (missing)
		fputc('\n', stderr);
	json_object_foreach(answers, key, v)
	{
		bool known = false;

		json_array_foreach(qs, i, q)
		{
			known = known || (cdrp_str(q, "id") && !strcmp(cdrp_str(q, "id"), key));
		}
		if (!known) {
			fputs(unknown++ ? ", " : "cdrp: not questions of the questionnaire: ",
			      stderr);
			render_safe(stderr, key);
		}
	}
	if (unknown)
		fputc('\n', stderr);
	if (missing || unknown) {
		fputs("cdrp: every question must be answered once (cdrp risk questionnaire lists "
		      "them)\n",
		      stderr);
		rc = CDRP_EXIT_DATAERR;
	}
out:
	json_decref(doc);
	http_response_free(&resp);
	return rc;
}

static int b_action(const struct cdrp_opts *o, json_t *b)
{
	const char *stage = cdrp_opt(o, "stage");

	put_str(o, b, "type", "type");
	put_str(o, b, "owner_agency", "owner");
	put_str(o, b, "due_on", "due");
	put_str(o, b, "notes", "notes");
	if (stage) {
		if (strlen(stage) != 1 || stage[0] < '1' || stage[0] > '4')
			return cdrp_usage_error(o->cmd, "--stage must be 1, 2, 3 or 4");
		json_object_set_new(b, "stage", json_integer(stage[0] - '0'));
	}
	return 0;
}

static int b_action_update(const struct cdrp_opts *o, json_t *b)
{
	put_str(o, b, "status", "status");
	put_str(o, b, "due_on", "due");
	put_str(o, b, "notes", "notes");
	return 0;
}

static int b_cr_apply(const struct cdrp_opts *o, json_t *b)
{
	put_str(o, b, "case", "case");
	put_str(o, b, "applied_on", "applied");
	return put_id(o, b, "person_id", "person");
}

static int b_cr_decide(const struct cdrp_opts *o, json_t *b)
{
	const char *met = cdrp_opt(o, "met");

	if (met && strcmp(met, "yes") != 0 && strcmp(met, "no") != 0)
		return cdrp_usage_error(o->cmd, "--met must be yes or no");
	if (met)
		json_object_set_new(b, "threshold_met", json_boolean(!strcmp(met, "yes")));
	put_str(o, b, "override_reason", "override-reason");
	put_str(o, b, "decided_on", "decided");
	return 0;
}

static int b_cr_meeting(const struct cdrp_opts *o, json_t *b)
{
	const char *vals[MAX_REPEAT];
	size_t n = cdrp_opt_all(o, "recommendation", vals, MAX_REPEAT);
	json_t *recs = json_array();

	if (!recs)
		return cdrp_oom();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(recs, json_string(vals[i]));
	json_object_set_new(b, "recommendations", recs);
	put_str(o, b, "meeting_on", "date");
	return 0;
}

/* ---- query strings ---- */

static const char *const q_cases[] = {
    "status",     "status",     "kind",        "kind",        "subject-type", "subject_type",
    "caseworker", "caseworker", "lead-agency", "lead_agency", "ward",         "ward",
    "flagged",    "flagged",    "overdue",     "overdue",     "opened-from",  "opened_from",
    "opened-to",  "opened_to",  "closed-from", "closed_from", "closed-to",    "closed_to",
    "limit",      "limit",      NULL};
static const char *const q_victims[] = {"repeat", "repeat", "limit", "limit", NULL};
static const char *const q_stats[] = {"year", "year", NULL};

/* "a=b&c=d" from the options, validated as the server will (with the
 * cursor, which cdrp_get_list adds itself); 0 or an exit code. */
static int build_query(const struct cdrp_opts *o, char **out)
{
	const struct cdrp_command *cmd = o->cmd;
	struct proto_error pe;
	json_t *q = json_object();
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	bool first = true;
	int rc = 0;

	*out = NULL;
	if (!q)
		return cdrp_oom();
	f = open_memstream(&buf, &len);
	if (!f) {
		json_decref(q);
		return cdrp_oom();
	}
	for (const char *const *p = cmd->query_opts; p && p[0]; p += 2) {
		const char *v = cdrp_opt(o, p[0]);
		char *esc;

		if (!v)
			continue;
		if (!*v) /* a flag: --flagged means flagged=true */
			v = "true";
		json_object_set_new(q, p[1], json_string(v));
		esc = http_query_escape(v);
		if (!esc) {
			rc = cdrp_oom();
			break;
		}
		fprintf(f, "%s%s=%s", first ? "" : "&", p[1], esc);
		first = false;
		free(esc);
	}
	if (cdrp_opt(o, "cursor"))
		json_object_set_new(q, "cursor", json_string(cdrp_opt(o, "cursor")));
	if (fclose(f) != 0 && !rc)
		rc = cdrp_oom();
	memset(&pe, 0, sizeof(pe));
	if (!rc && !proto_validate_query(cmd->query, q, &pe)) {
		fputs("cdrp: invalid ", stderr);
		if (pe.field[0]) {
			fputs("--", stderr);
			for (const char *c = pe.field; *c; c++)
				fputc(*c == '_' ? '-' : *c, stderr);
			fputs(": ", stderr);
		}
		render_safe(stderr, pe.detail);
		fprintf(stderr, "\nTry 'cdrp %s %s --help'.\n", cmd->group, cmd->name);
		rc = CDRP_EXIT_USAGE;
	}
	json_decref(q);
	if (rc)
		free(buf);
	else
		*out = buf;
	return rc;
}

/* ---- the runner ---- */

/* The first argument as it goes into the path; 0 or a usage error. */
static int path_id(const struct cdrp_opts *o, char *out, size_t outlen)
{
	static const char alnum[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	const char *id = o->words[0];
	size_t n = strlen(id);
	bool number = n > 0 && n <= 18 && strspn(id, "0123456789") == n && strspn(id, "0") < n;
	const char *want;

	if (number && o->cmd->id_kind != CDRP_ID_AGENCY) {
		snprintf(out, outlen, "%s", id + strspn(id, "0"));
		return 0;
	}
	switch (o->cmd->id_kind) {
	case CDRP_ID_CASE:
		if (n > 0 && n <= 40 &&
		    strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") ==
		        n &&
		    strspn(id, "0123456789") < n) {
			snprintf(out, outlen, "%s", id);
			return 0;
		}
		want = "a positive number or a case reference (ASB-2026-0042)";
		break;
	case CDRP_ID_ISA:
		/* The reference rule of the database (one path segment). */
		if (n > 0 && n <= 40 && strchr(alnum, id[0]) &&
		    strspn(id,
		           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
		        n) {
			snprintf(out, outlen, "%s", id);
			return 0;
		}
		want = "a positive number or an agreement reference (letters, digits, . _ -)";
		break;
	case CDRP_ID_AGENCY:
		if (n >= 2 && n <= 16 && strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == n) {
			snprintf(out, outlen, "%s", id);
			return 0;
		}
		want = "2-16 capital letters and digits (e.g. HMPOL)";
		break;
	default:
		want = "a positive number";
		break;
	}
	return cdrp_usage_error(o->cmd, "%s must be %s", o->cmd->args_hint, want);
}

/* "/v1/cases/{id}/close" with the id put in. */
static void fill_path(const char *tmpl, const char *id, char *out, size_t outlen)
{
	const char *at = strstr(tmpl, "{id}");

	if (!at)
		snprintf(out, outlen, "%s", tmpl);
	else
		snprintf(out, outlen, "%.*s%s%s", (int)(at - tmpl), tmpl, id, at + 4);
}

/* --if-match 7 or "7" -> If-Match: "7"; 0 or a usage error. */
static int if_match_header(const struct cdrp_opts *o, const char *v, char *out, size_t outlen)
{
	size_t n = strlen(v);

	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	if (n == 0 || n > 18 || strspn(v, "0123456789") < n)
		return cdrp_usage_error(o->cmd, "--if-match must be a version number (the ETag)");
	snprintf(out, outlen, "If-Match: \"%.*s\"", (int)n, v);
	return 0;
}

/* Field of a body -> the option that sets it, for messages. */
static const char *const field_opts[] = {"occurred_on",
                                         "occurred",
                                         "reported_on",
                                         "reported",
                                         "date_of_birth",
                                         "dob",
                                         "person_id",
                                         "person-id",
                                         "person_id",
                                         "person",
                                         "same_as",
                                         "same-as",
                                         "external_ref",
                                         "external-ref",
                                         "exit_strategy",
                                         "exit-strategy",
                                         "owner_agency",
                                         "owner",
                                         "due_on",
                                         "due",
                                         "applied_on",
                                         "applied",
                                         "threshold_met",
                                         "met",
                                         "override_reason",
                                         "override-reason",
                                         "decided_on",
                                         "decided",
                                         "meeting_on",
                                         "date",
                                         "recommendations",
                                         "recommendation",
                                         "lead_agency",
                                         "lead-agency",
                                         "victims",
                                         "victim",
                                         "answers",
                                         "yes",
                                         "body",
                                         "TEXT",
                                         "roles",
                                         "role",
                                         "display_name",
                                         "display-name",
                                         "dry_run",
                                         "dry-run",
                                         "hold",
                                         "on",
                                         NULL};

static int invalid_body(const struct cdrp_opts *o, const struct proto_error *pe)
{
	const char *opt = NULL;
	size_t flen = strcspn(pe->field, ".[");
	char top[PROTO_FIELD_PATH_MAX];

	if (o->cmd->body == PB_REFERRAL)
		return cdrp_invalid("referral", pe);
	if (o->cmd->body == PB_ISA_CREATE)
		return cdrp_invalid("agreement", pe);
	snprintf(top, sizeof(top), "%.*s", (int)flen, pe->field);
	for (const char *const *p = field_opts; p[0]; p += 2)
		if (!strcmp(p[0], top) && (!strcmp(p[1], "TEXT") || strstr(o->cmd->opts, p[1]))) {
			opt = p[1];
			break;
		}
	if (!opt && pe->field[0] && strstr(o->cmd->opts, top))
		opt = top;
	if (!opt || !strcmp(opt, "TEXT"))
		return cdrp_invalid("request", pe);
	fprintf(stderr, "cdrp: invalid --%s: ", opt);
	render_safe(stderr, pe->detail);
	fprintf(stderr, " (%s, field ", proto_err_code(pe->code));
	render_safe(stderr, pe->field);
	fputs(")\n", stderr);
	return CDRP_EXIT_DATAERR;
}

int cdrp_run_request(const struct cdrp_opts *o)
{
	const struct cdrp_command *cmd = o->cmd;
	char id[160] = "", path[256], today[16], ifm[64] = "", full[1024];
	const char *headers[4] = {NULL, NULL, NULL, NULL};
	char keyhdr[64];
	struct http_response resp = {0};
	struct http_client *c = NULL;
	struct proto_error pe;
	json_t *body = NULL, *doc = NULL;
	char *text = NULL, *query = NULL;
	size_t nh = 0;
	bool sent, paged = cmd->empty != NULL;
	int rc;

	if (cmd->id_kind != CDRP_ID_NONE && (rc = path_id(o, id, sizeof(id))) != 0)
		return rc;
	fill_path(cmd->path, id, path, sizeof(path));
	if (cmd->body != PB_NONE) {
		body = json_object();
		if (!body)
			return cdrp_oom();
		if ((rc = cmd->build(o, body)) != 0)
			goto out;
		cdrp_today(today);
		memset(&pe, 0, sizeof(pe));
		if (!proto_validate_body(cmd->body, body, today, &pe)) {
			rc = invalid_body(o, &pe);
			goto out;
		}
		text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
		if (!text) {
			rc = cdrp_oom();
			goto out;
		}
		headers[nh++] = "Content-Type: application/json";
		/* A write without If-Match carries a key derived from what it
		 * asks, so re-running the command after a lost answer replays
		 * instead of recording twice. (With If-Match the version
		 * already refuses a second application.) */
		if (cmd->if_match == CDRP_IM_NONE &&
		    !(cmd->no_key_flag && cdrp_flag(o, cmd->no_key_flag))) {
			size_t n = strlen(cmd->method) + strlen(path) + strlen(text) + 32;
			char *what = malloc(n), key[48];
			if (!what) {
				rc = cdrp_oom();
				goto out;
			}
			snprintf(what, n, "%s %s\n%s%s%s", cmd->method, path, text,
			         cmd->key == CDRP_KEY_DAILY ? "\n" : "",
			         cmd->key == CDRP_KEY_DAILY ? today : "");
			rc = cdrp_derive_key(what, key, sizeof(key));
			free(what);
			if (rc != 0) {
				fputs("cdrp: cannot compute SHA-256\n", stderr);
				rc = CDRP_EXIT_SOFTWARE;
				goto out;
			}
			snprintf(keyhdr, sizeof(keyhdr), "Idempotency-Key: %s", key);
			headers[nh++] = keyhdr;
		}
	}
	if (cmd->query != PQ_NONE && (rc = build_query(o, &query)) != 0)
		goto out;
	if (cdrp_flag(o, "if-match") &&
	    (rc = if_match_header(o, cdrp_opt(o, "if-match"), ifm, sizeof(ifm))) != 0)
		goto out;

	c = cdrp_connect(o, &rc);
	if (!c)
		goto out;
	if (cmd->prepare && (rc = cmd->prepare(o, c, body)) != 0)
		goto out;
	if (cmd->if_match == CDRP_IM_CASE && !ifm[0]) {
		/* Read the case for its version: the change applies only to
		 * what was read. */
		char casepath[128];

		snprintf(casepath, sizeof(casepath), "/v1/cases/%s", id);
		rc = cdrp_call(o, c, "GET", casepath, NULL, NULL, 0, &resp, &doc, &sent);
		if (rc)
			goto out;
		if (!resp.etag || (rc = if_match_header(o, resp.etag, ifm, sizeof(ifm))) != 0) {
			fputs("cdrp: unexpected answer from the server: the case has no usable "
			      "ETag\n",
			      stderr);
			rc = CDRP_EXIT_SOFTWARE;
			goto out;
		}
		json_decref(doc);
		doc = NULL;
		http_response_free(&resp);
		memset(&resp, 0, sizeof(resp));
	}
	if (ifm[0])
		headers[nh++] = ifm;

	if (paged) {
		rc = cdrp_get_list(o, c, path, query, &doc);
	} else {
		snprintf(full, sizeof(full), "%s%s%s", path, query && *query ? "?" : "",
		         query && *query ? query : "");
		rc = cdrp_call(o, c, cmd->method, full, nh ? headers : NULL, text,
		               text ? strlen(text) : 0, &resp, &doc, &sent);
		if (rc && sent && resp.status == 0 && strcmp(cmd->method, "GET") != 0)
			fputs("cdrp: the change may or may not have been made; show it before "
			      "retrying\n",
			      stderr);
	}
	if (rc)
		goto out;
	if (o->json) {
		if (cdrp_print_json(doc) != 0)
			rc = CDRP_EXIT_SOFTWARE;
		goto out;
	}
	if (paged && json_array_size(json_object_get(doc, "items")) == 0) {
		puts(cmd->empty);
	} else {
		cmd->render(doc);
		if (resp.idempotent_replay)
			puts("(already recorded; this is the original answer)");
	}
	if (paged && cdrp_str(doc, "next_cursor") && *cdrp_str(doc, "next_cursor")) {
		fputs("next cursor: ", stdout);
		render_safe(stdout, cdrp_str(doc, "next_cursor"));
		fputc('\n', stdout);
	}
out:
	json_decref(doc);
	json_decref(body);
	http_response_free(&resp);
	http_client_free(c);
	free(text);
	free(query);
	return rc;
}

/* ---- the table ---- */

#define ARGS(lo, hi, hint) .min_args = lo, .max_args = hi, .args_hint = hint

const struct cdrp_command cdrp_casework_cmds[] = {
    /* triage */
    {"referral", "accept", "referral accept ID", "accept a referral: open or join a case", u_accept,
     ARGS(1, 1, "a referral ID"), .opts = " case lead-agency caseworker ward ", .method = "POST",
     .path = "/v1/referrals/{id}/accept", .id_kind = CDRP_ID_NUMBER, .body = PB_ACCEPT,
     .build = b_accept, .render = render_referral_decision},
    {"referral", "decline", "referral decline ID", "decline a referral, saying why", u_decline,
     ARGS(1, 1, "a referral ID"), .opts = " reason ", .required = " reason ", .method = "POST",
     .path = "/v1/referrals/{id}/decline", .id_kind = CDRP_ID_NUMBER, .body = PB_DECLINE,
     .build = b_reason, .render = render_referral_decision},
    {"referral", "request-info", "referral request-info ID",
     "ask the referring agency for more information", u_request_info, ARGS(1, 1, "a referral ID"),
     .opts = " question ", .required = " question ", .method = "POST",
     .path = "/v1/referrals/{id}/request-info", .id_kind = CDRP_ID_NUMBER, .body = PB_REQUEST_INFO,
     .build = b_request_info, .render = render_referral_decision},
    {"referral", "resubmit", "referral resubmit ID FILE|-",
     "send the referral again, answering request-info", u_resubmit,
     ARGS(2, 2, "an ID and a FILE (or - for stdin)"), .opts = "", .method = "PUT",
     .path = "/v1/referrals/{id}", .id_kind = CDRP_ID_NUMBER, .body = PB_REFERRAL,
     .build = b_resubmit, .render = render_referral_decision},
    /* cases */
    {"case", "show", "case show ID|REF", "show a case", u_case_show, ARGS(1, 1, "a case ID or REF"),
     .opts = "", .method = "GET", .path = "/v1/cases/{id}", .id_kind = CDRP_ID_CASE,
     .render = render_case},
    {"case", "list", "case list", "list cases, with filters", u_case_list, ARGS(0, 0, ""),
     .opts = " status kind subject-type caseworker lead-agency ward flagged overdue "
             "opened-from opened-to closed-from closed-to limit cursor all ",
     .method = "GET", .path = "/v1/cases", .query = PQ_CASES, .query_opts = q_cases,
     .render = render_cases, .empty = "no cases"},
    {"case", "close", "case close ID|REF", "close a case with an outcome", u_case_close,
     ARGS(1, 1, "a case ID or REF"), .opts = " outcome reason if-match ", .required = " outcome ",
     .method = "POST", .path = "/v1/cases/{id}/close", .id_kind = CDRP_ID_CASE,
     .body = PB_CASE_CLOSE, .build = b_close, .if_match = CDRP_IM_CASE, .noun = "case",
     .render = render_case_change},
    {"case", "reopen", "case reopen ID|REF", "reopen a closed case", u_case_reopen,
     ARGS(1, 1, "a case ID or REF"), .opts = " reason if-match ", .required = " reason ",
     .method = "POST", .path = "/v1/cases/{id}/reopen", .id_kind = CDRP_ID_CASE,
     .body = PB_CASE_REOPEN, .build = b_reason, .if_match = CDRP_IM_CASE, .noun = "case",
     .render = render_case_change},
    {"case", "note", "case note ID|REF TEXT|-", "add a note to a case", u_case_note,
     ARGS(2, 2, "a case ID or REF and the TEXT (or - for stdin)"), .opts = "", .method = "POST",
     .path = "/v1/cases/{id}/notes", .id_kind = CDRP_ID_CASE, .body = PB_NOTE, .build = b_note,
     .render = render_note},
    {"case", "notes", "case notes ID|REF", "list a case's notes", u_case_notes,
     ARGS(1, 1, "a case ID or REF"), .opts = "", .method = "GET", .path = "/v1/cases/{id}/notes",
     .id_kind = CDRP_ID_CASE, .render = render_notes},
    {"case", "assign", "case assign ID|REF", "change caseworker, lead agency, ward, marking",
     u_case_assign, ARGS(1, 1, "a case ID or REF"),
     .opts = " caseworker lead-agency ward marking if-match ", .method = "PATCH",
     .path = "/v1/cases/{id}", .id_kind = CDRP_ID_CASE, .body = PB_CASE_PATCH, .build = b_assign,
     .if_match = CDRP_IM_CASE, .noun = "case", .render = render_case_change},
    {"case", "strand", "case strand ID|REF", "move a PPO case to another strand", u_case_strand,
     ARGS(1, 1, "a case ID or REF"), .opts = " strand reason if-match ", .required = " strand ",
     .method = "POST", .path = "/v1/cases/{id}/strand", .id_kind = CDRP_ID_CASE, .body = PB_STRAND,
     .build = b_strand, .if_match = CDRP_IM_CASE, .noun = "case", .render = render_case_change},
    {"case", "remove", "case remove ID|REF", "remove a PPO subject from the scheme", u_case_remove,
     ARGS(1, 1, "a case ID or REF"), .opts = " reason exit-strategy if-match ",
     .required = " reason ", .method = "POST", .path = "/v1/cases/{id}/ppo-removal",
     .id_kind = CDRP_ID_CASE, .body = PB_PPO_REMOVAL, .build = b_remove, .if_match = CDRP_IM_CASE,
     .noun = "case", .render = render_case_change},
    {"case", "history", "case history ID|REF", "a case's status and strand history", u_case_history,
     ARGS(1, 1, "a case ID or REF"), .opts = "", .method = "GET", .path = "/v1/cases/{id}/history",
     .id_kind = CDRP_ID_CASE, .render = render_history},
    {"case", "person", "case person ID|REF", "add or link a person (victim, witness, ...)",
     u_case_person, ARGS(1, 1, "a case ID or REF"),
     .opts = " name role dob vulnerable address contact person-id ", .required = " role ",
     .method = "POST", .path = "/v1/cases/{id}/persons", .id_kind = CDRP_ID_CASE, .body = PB_PERSON,
     .build = b_person, .render = render_person_link},
    {"case", "legal-hold", "case legal-hold ID|REF", "put a case under legal hold, or release it",
     u_case_legal_hold, ARGS(1, 1, "a case ID or REF"), .opts = " on off reason ",
     .required = " reason ", .method = "POST", .path = "/v1/cases/{id}/legal-hold",
     .id_kind = CDRP_ID_CASE, .body = PB_LEGAL_HOLD, .build = b_legal_hold,
     .render = render_legal_hold, .key = CDRP_KEY_DAILY},
    /* incidents */
    {"incident", "add", "incident add CASE", "record an incident (or another agency's report)",
     u_incident_add, ARGS(1, 1, "a CASE (id or reference)"),
     .opts = " occurred reported category place ward description victim same-as "
             "external-ref ",
     .required = " occurred reported category place ", .method = "POST",
     .path = "/v1/cases/{id}/incidents", .id_kind = CDRP_ID_CASE, .body = PB_INCIDENT,
     .build = b_incident, .render = render_incident},
    {"incident", "list", "incident list CASE", "list a case's incidents", u_incident_list,
     ARGS(1, 1, "a CASE (id or reference)"), .opts = "", .method = "GET",
     .path = "/v1/cases/{id}/incidents", .id_kind = CDRP_ID_CASE, .render = render_incidents},
    /* victims */
    {"victim", "list", "victim list", "list victims; --repeat for repeat victims", u_victim_list,
     ARGS(0, 0, ""), .opts = " repeat limit cursor all ", .method = "GET", .path = "/v1/victims",
     .query = PQ_VICTIMS, .query_opts = q_victims, .render = render_victims, .empty = "no victims"},
    {"victim", "flag", "victim flag PERSON_ID", "flag a repeat victim by hand", u_victim_flag,
     ARGS(1, 1, "a PERSON_ID"), .opts = " reason ", .required = " reason ", .method = "POST",
     .path = "/v1/persons/{id}/flags", .id_kind = CDRP_ID_NUMBER, .body = PB_FLAG,
     .build = b_reason, .render = render_flag},
    {"victim", "case-review", "victim case-review PERSON_ID",
     "does the person meet the Case Review threshold?", u_victim_cr, ARGS(1, 1, "a PERSON_ID"),
     .opts = "", .method = "GET", .path = "/v1/persons/{id}/case-review", .id_kind = CDRP_ID_NUMBER,
     .render = render_case_review_check},
    /* risk */
    {"risk", "questionnaire", "risk questionnaire", "the risk questions and their weights",
     u_risk_q, ARGS(0, 0, ""), .opts = "", .method = "GET", .path = "/v1/risk/questionnaire",
     .render = render_questionnaire},
    {"risk", "assess", "risk assess CASE", "record a risk assessment", u_risk_assess,
     ARGS(1, 1, "a CASE (id or reference)"), .opts = " person yes no answers ", .method = "POST",
     .path = "/v1/cases/{id}/risk", .id_kind = CDRP_ID_CASE, .body = PB_RISK, .build = b_risk,
     .prepare = p_risk, .render = render_risk},
    /* actions */
    {"action", "add", "action add CASE", "agree an action (tool or power) on a case", u_action_add,
     ARGS(1, 1, "a CASE (id or reference)"), .opts = " type stage owner due notes ",
     .required = " type stage owner ", .method = "POST", .path = "/v1/cases/{id}/actions",
     .id_kind = CDRP_ID_CASE, .body = PB_ACTION, .build = b_action, .render = render_action},
    {"action", "update", "action update ACTION_ID", "change an action's status, due date, notes",
     u_action_update, ARGS(1, 1, "an ACTION_ID"), .opts = " status due notes if-match ",
     .required = " if-match ", .method = "PATCH", .path = "/v1/actions/{id}",
     .id_kind = CDRP_ID_NUMBER, .body = PB_ACTION_PATCH, .build = b_action_update,
     .if_match = CDRP_IM_EXPLICIT, .noun = "action", .render = render_action},
    {"action", "list", "action list CASE", "list a case's actions", u_action_list,
     ARGS(1, 1, "a CASE (id or reference)"), .opts = "", .method = "GET",
     .path = "/v1/cases/{id}/actions", .id_kind = CDRP_ID_CASE, .render = render_actions},
    {"action", "show", "action show ACTION_ID", "show an action and its version", u_action_show,
     ARGS(1, 1, "an ACTION_ID"), .opts = "", .method = "GET", .path = "/v1/actions/{id}",
     .id_kind = CDRP_ID_NUMBER, .render = render_action},
    /* Case Review */
    {"case-review", "apply", "case-review apply", "record a Case Review application", u_cr_apply,
     ARGS(0, 0, ""), .opts = " person case applied ", .required = " person applied ",
     .method = "POST", .path = "/v1/case-reviews", .body = PB_CASE_REVIEW, .build = b_cr_apply,
     .render = render_application},
    {"case-review", "decide", "case-review decide ID", "record the threshold decision", u_cr_decide,
     ARGS(1, 1, "an application ID"), .opts = " met override-reason decided ",
     .required = " met decided ", .method = "POST", .path = "/v1/case-reviews/{id}/decision",
     .id_kind = CDRP_ID_NUMBER, .body = PB_CR_DECISION, .build = b_cr_decide,
     .render = render_application},
    {"case-review", "meeting", "case-review meeting ID", "record the review meeting", u_cr_meeting,
     ARGS(1, 1, "an application ID"), .opts = " date recommendation ", .required = " date ",
     .method = "POST", .path = "/v1/case-reviews/{id}/meeting", .id_kind = CDRP_ID_NUMBER,
     .body = PB_CR_MEETING, .build = b_cr_meeting, .render = render_application},
    {"case-review", "stats", "case-review stats", "the year's Case Review figures", u_cr_stats,
     ARGS(0, 0, ""), .opts = " year ", .method = "GET", .path = "/v1/case-reviews/stats",
     .query = PQ_STATS, .query_opts = q_stats, .render = render_stats},
};
const size_t cdrp_casework_ncmds = sizeof(cdrp_casework_cmds) / sizeof(cdrp_casework_cmds[0]);
