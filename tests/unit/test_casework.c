/* test_casework.c: casework request and query schemas (proto/casework.c). */
#include "proto.h"
#include "unit.h"

#include <string.h>

#define TODAY "2026-11-22"

/* Validate `text` as body `which`; the error (code PROTO_OK when valid). */
static struct proto_error body(enum proto_body which, const char *text)
{
	struct proto_error pe = {.code = PROTO_OK};
	json_t *v = proto_parse_body(text, strlen(text), &pe);
	if (v && proto_validate_body(which, v, TODAY, &pe))
		pe.code = PROTO_OK;
	json_decref(v);
	return pe;
}

#define ASSERT_BODY(which, text, want_code, want_field)                                            \
	do {                                                                                       \
		struct proto_error e_ = body(which, text);                                         \
		ck_assert_str_eq(proto_err_code(e_.code), proto_err_code(want_code));              \
		ck_assert_str_eq(e_.field, want_field);                                            \
	} while (0)

/* Agreements and administration (issue 6): enumerated arrays, minimum
 * counts, the scope headers. */
START_TEST(isa_and_admin_bodies)
{
	const char *isa =
	    "{\"reference\":\"HM-ISA-1\",\"title\":\"T\",\"purpose\":\"asb_case_management\","
	    "\"data_categories\":[\"asb_casework\",\"victim_details\"],\"lawful_basis\":\"s.115\","
	    "\"retention_months\":24,\"starts_on\":\"2027-01-01\",\"parties\":[\"HMDC\",\"HMPOL\"]"
	    "}";
	ASSERT_BODY(PB_ISA_CREATE, isa, PROTO_OK, "");
	ASSERT_BODY(
	    PB_ISA_CREATE,
	    "{\"reference\":\"R\",\"title\":\"T\",\"purpose\":\"gossip\","
	    "\"data_categories\":[\"asb_casework\"],\"lawful_basis\":\"s\","
	    "\"retention_months\":1,\"starts_on\":\"2027-01-01\",\"parties\":[\"A1\",\"B2\"]}",
	    PROTO_INVALID_FIELD, "purpose");
	ASSERT_BODY(
	    PB_ISA_CREATE,
	    "{\"reference\":\"R\",\"title\":\"T\",\"purpose\":\"offender_management\","
	    "\"data_categories\":[\"gossip\"],\"lawful_basis\":\"s\","
	    "\"retention_months\":1,\"starts_on\":\"2027-01-01\",\"parties\":[\"A1\",\"B2\"]}",
	    PROTO_INVALID_FIELD, "data_categories[0]");
	ASSERT_BODY(
	    PB_ISA_CREATE,
	    "{\"reference\":\"R\",\"title\":\"T\",\"purpose\":\"offender_management\","
	    "\"data_categories\":[],\"lawful_basis\":\"s\","
	    "\"retention_months\":1,\"starts_on\":\"2027-01-01\",\"parties\":[\"A1\",\"B2\"]}",
	    PROTO_INVALID_FIELD, "data_categories");
	ASSERT_BODY(PB_ISA_CREATE,
	            "{\"reference\":\"R\",\"title\":\"T\",\"purpose\":\"offender_management\","
	            "\"data_categories\":[\"offender_management\"],\"lawful_basis\":\"s\","
	            "\"retention_months\":1,\"starts_on\":\"2027-01-01\",\"parties\":[\"A1\"]}",
	            PROTO_INVALID_FIELD, "parties");
	ASSERT_BODY(PB_USER_ADD, "{\"agency\":\"HMDC\",\"cn\":\"Kit\",\"roles\":[\"chair\"]}",
	            PROTO_OK, "");
	ASSERT_BODY(PB_USER_ADD, "{\"agency\":\"HMDC\",\"cn\":\"Kit\",\"roles\":[\"root\"]}",
	            PROTO_INVALID_FIELD, "roles[0]");
	ASSERT_BODY(PB_USER_ROLES, "{\"roles\":[]}", PROTO_OK, "");
	ASSERT_BODY(PB_REASON, "{}", PROTO_MISSING_FIELD, "reason");
	ASSERT_BODY(PB_LEGAL_HOLD, "{\"hold\":\"yes\",\"reason\":\"r\"}", PROTO_INVALID_FIELD,
	            "hold");

	struct proto_error pe = {0};
	ck_assert(proto_valid_partnership("CSP", &pe));
	ck_assert(!proto_valid_partnership("csp", &pe));
	ck_assert_str_eq(pe.field, PROTO_PARTNERSHIP_HEADER);
	ck_assert(!proto_valid_partnership("C", &pe));
	ck_assert(!proto_valid_partnership("ABCDEFGHIJKLMNOPQ", &pe));
	ck_assert(proto_valid_justification("Task group review of the case", &pe));
	ck_assert(!proto_valid_justification("too short", &pe));
	ck_assert_int_eq(pe.code, PROTO_INVALID_HEADER);
	ck_assert(!proto_valid_justification("Reviewing\tthe case today", &pe));
	ck_assert(!proto_valid_justification("Reviewing \xff\xfe the case", &pe));
	ck_assert(proto_valid_justification("R\xc3\xa9vision du dossier", &pe));
	ck_assert_int_eq(proto_err_status(PROTO_JUSTIFICATION_REQUIRED), 403);
	ck_assert_int_eq(proto_err_from_code("justification_required"),
	                 PROTO_JUSTIFICATION_REQUIRED);
}
END_TEST

START_TEST(incident_bodies)
{
	const char *ok = "{\"occurred_on\":\"2026-02-28\",\"reported_on\":\"2026-03-01\","
	                 "\"category\":\"nuisance\",\"place\":\"Yard\",\"victims\":[4,7]}";
	ASSERT_BODY(PB_INCIDENT, ok, PROTO_OK, "");
	ASSERT_BODY(PB_INCIDENT,
	            "{\"occurred_on\":\"2026-03-02\",\"reported_on\":\"2026-03-01\","
	            "\"category\":\"nuisance\",\"place\":\"Yard\"}",
	            PROTO_INVALID_FIELD, "reported_on");
	ASSERT_BODY(PB_INCIDENT,
	            "{\"occurred_on\":\"2026-11-23\",\"reported_on\":\"2026-11-23\","
	            "\"category\":\"nuisance\",\"place\":\"Yard\"}",
	            PROTO_INVALID_FIELD, "occurred_on");
	ASSERT_BODY(PB_INCIDENT,
	            "{\"occurred_on\":\"2026-03-01\",\"reported_on\":\"2026-03-01\","
	            "\"category\":\"noise\",\"place\":\"Yard\"}",
	            PROTO_INVALID_FIELD, "category");
	ASSERT_BODY(PB_INCIDENT,
	            "{\"occurred_on\":\"2026-03-01\",\"reported_on\":\"2026-03-01\","
	            "\"category\":\"nuisance\",\"place\":\"Yard\",\"same_as\":0}",
	            PROTO_INVALID_FIELD, "same_as");
	ASSERT_BODY(PB_INCIDENT, "{\"occurred_on\":\"2026-03-01\"}", PROTO_MISSING_FIELD,
	            "reported_on");
}
END_TEST

START_TEST(action_and_risk_bodies)
{
	/* due dates may be in the future; stage is 1..4 */
	ASSERT_BODY(PB_ACTION,
	            "{\"type\":\"cpn\",\"stage\":3,\"owner_agency\":\"HMDC\","
	            "\"due_on\":\"2027-01-31\"}",
	            PROTO_OK, "");
	ASSERT_BODY(PB_ACTION, "{\"type\":\"cpn\",\"stage\":5,\"owner_agency\":\"HMDC\"}",
	            PROTO_INVALID_FIELD, "stage");
	ASSERT_BODY(PB_ACTION, "{\"type\":\"asbo\",\"stage\":1,\"owner_agency\":\"HMDC\"}",
	            PROTO_INVALID_FIELD, "type");
	ASSERT_BODY(PB_ACTION_PATCH, "{}", PROTO_MISSING_FIELD, "");
	ASSERT_BODY(PB_ACTION_PATCH, "{\"status\":\"done\"}", PROTO_OK, "");
	ASSERT_BODY(PB_RISK, "{\"answers\":{\"feel_targeted\":true,\"isolated\":false}}", PROTO_OK,
	            "");
	ASSERT_BODY(PB_RISK, "{\"answers\":{\"Feel\":true}}", PROTO_INVALID_FIELD, "answers.Feel");
	ASSERT_BODY(PB_RISK, "{\"answers\":{\"isolated\":1}}", PROTO_INVALID_FIELD,
	            "answers.isolated");
}
END_TEST

START_TEST(case_and_triage_bodies)
{
	ASSERT_BODY(PB_CASE_CLOSE, "{\"outcome\":\"resolved\"}", PROTO_OK, "");
	ASSERT_BODY(PB_CASE_CLOSE, "{\"outcome\":\"fixed\"}", PROTO_INVALID_FIELD, "outcome");
	ASSERT_BODY(PB_PPO_REMOVAL, "{\"reason\":\"deceased\"}", PROTO_OK, "");
	ASSERT_BODY(PB_PPO_REMOVAL, "{\"reason\":\"moved_away\"}", PROTO_MISSING_FIELD,
	            "exit_strategy");
	ASSERT_BODY(PB_PERSON, "{\"role\":\"victim\"}", PROTO_MISSING_FIELD, "name");
	ASSERT_BODY(PB_PERSON, "{\"role\":\"victim\",\"name\":\"A\",\"person_id\":3}",
	            PROTO_MISSING_FIELD, "name");
	ASSERT_BODY(PB_PERSON, "{\"role\":\"witness\",\"person_id\":3}", PROTO_OK, "");
	ASSERT_BODY(PB_ACCEPT, "{\"caseworker\":{\"agency\":\"HMDC\"}}", PROTO_MISSING_FIELD,
	            "caseworker.cn");
	ASSERT_BODY(PB_ACCEPT, "{\"ward\":null}", PROTO_OK, "");
	ASSERT_BODY(PB_CASE_PATCH, "{}", PROTO_MISSING_FIELD, "");
	ASSERT_BODY(PB_CR_MEETING, "{\"meeting_on\":\"2026-10-01\",\"recommendations\":[\"\"]}",
	            PROTO_INVALID_FIELD, "recommendations[0]");
	ASSERT_BODY(PB_DECLINE, "{\"reason\":\"x\",\"extra\":1}", PROTO_UNKNOWN_FIELD, "extra");
}
END_TEST

START_TEST(query_strings)
{
	struct proto_error pe = {0};
	json_t *q = json_pack("{s:s, s:s, s:s, s:s}", "status", "open", "flagged", "true", "limit",
	                      "20", "cursor", "c99");
	ck_assert(proto_validate_query(PQ_CASES, q, &pe));
	ck_assert(json_is_true(json_object_get(q, "flagged")));
	ck_assert_int_eq(json_integer_value(json_object_get(q, "limit")), 20);
	ck_assert_int_eq(json_integer_value(json_object_get(q, "after")), 99);
	ck_assert_ptr_null(json_object_get(q, "cursor"));
	json_decref(q);

	q = json_pack("{s:s}", "flagged", "yes");
	ck_assert(!proto_validate_query(PQ_CASES, q, &pe));
	ck_assert_str_eq(pe.field, "flagged");
	json_decref(q);
	q = json_pack("{s:s}", "status", "pending");
	ck_assert(!proto_validate_query(PQ_CASES, q, &pe));
	ck_assert_int_eq(pe.code, PROTO_INVALID_PARAMETER);
	ck_assert_str_eq(pe.field, "status");
	json_decref(q);
	q = json_pack("{s:s}", "colour", "red");
	ck_assert(!proto_validate_query(PQ_VICTIMS, q, &pe));
	ck_assert_str_eq(pe.field, "colour");
	json_decref(q);
	q = json_pack("{s:s}", "year", "1999");
	ck_assert(!proto_validate_query(PQ_STATS, q, &pe));
	ck_assert_str_eq(pe.field, "year");
	json_decref(q);
}
END_TEST

Suite *casework_suite(void)
{
	Suite *s = suite_create("casework");
	TCase *tc = tcase_create("schemas");
	tcase_add_test(tc, incident_bodies);
	tcase_add_test(tc, action_and_risk_bodies);
	tcase_add_test(tc, case_and_triage_bodies);
	tcase_add_test(tc, query_strings);
	tcase_add_test(tc, isa_and_admin_bodies);
	suite_add_tcase(s, tc);
	return s;
}
