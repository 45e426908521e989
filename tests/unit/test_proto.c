/* test_proto.c: request validation shared by cdrpd and cdrp. */
#include "proto.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#define TODAY "2026-11-22"

static const char *const valid_referral =
    "{\"case_kind\":\"asb\",\"subject\":{\"type\":\"individual\",\"name\":\"Kit Farrow\","
    "\"date_of_birth\":\"2004-02-29\"},\"reason\":\"Noise\","
    "\"incidents\":[{\"occurred_on\":\"2026-10-01\",\"reported_on\":\"2026-10-02\","
    "\"category\":\"nuisance\",\"place\":\"Linden Row\",\"victims\":[0]}],"
    "\"victims\":[{\"name\":\"Ada Quill\",\"vulnerable\":true}],"
    "\"risk\":{\"band\":\"medium\"},\"marking\":\"OFFICIAL-SENSITIVE\"}";

/* Parse and validate `text`; return the error (code PROTO_OK on success). */
static struct proto_error check_text(const char *text)
{
	struct proto_error pe = {.code = PROTO_OK};
	json_t *v = proto_parse_body(text, strlen(text), &pe);
	if (v && !proto_validate_referral(v, TODAY, &pe))
		ck_assert_int_ne(pe.code, PROTO_OK);
	else if (v)
		pe.code = PROTO_OK;
	json_decref(v);
	return pe;
}

/* Replace the first occurrence of `from` in the valid referral by `to`. */
static struct proto_error check_edit(const char *from, const char *to)
{
	char buf[2048];
	const char *at = strstr(valid_referral, from);
	ck_assert_msg(at != NULL, "fixture lacks %s", from);
	snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - valid_referral), valid_referral, to,
	         at + strlen(from));
	return check_text(buf);
}

#define ASSERT_ERR(pe, want_code, want_field)                                                      \
	do {                                                                                       \
		struct proto_error e_ = (pe);                                                      \
		ck_assert_str_eq(proto_err_code(e_.code), proto_err_code(want_code));              \
		ck_assert_str_eq(e_.field, want_field);                                            \
	} while (0)

START_TEST(valid_referral_passes)
{
	ASSERT_ERR(check_text(valid_referral), PROTO_OK, "");
}
END_TEST

START_TEST(not_json_or_not_object)
{
	ASSERT_ERR(check_text("{nope"), PROTO_MALFORMED_JSON, "");
	ASSERT_ERR(check_text("[1,2]"), PROTO_MALFORMED_JSON, "");
	ASSERT_ERR(check_text("\"x\""), PROTO_MALFORMED_JSON, "");
	ASSERT_ERR(check_text(""), PROTO_MALFORMED_JSON, "");
	/* invalid UTF-8 */
	ASSERT_ERR(check_text("{\"reason\":\"\xff\"}"), PROTO_MALFORMED_JSON, "");
}
END_TEST

START_TEST(duplicate_keys_are_named)
{
	ASSERT_ERR(check_edit("\"reason\":\"Noise\"", "\"reason\":\"a\",\"reason\":\"b\""),
	           PROTO_DUPLICATE_FIELD, "reason");
	ASSERT_ERR(check_edit("\"name\":\"Kit Farrow\"", "\"name\":\"a\", \"name\" : \"b\""),
	           PROTO_DUPLICATE_FIELD, "subject.name");
	ASSERT_ERR(check_edit("\"vulnerable\":true", "\"vulnerable\":true,\"vulnerable\":false"),
	           PROTO_DUPLICATE_FIELD, "victims[0].vulnerable");
	ASSERT_ERR(check_text("{\"incidents\":[{\"a\":1},{\"b\":[1,{}],\"p\\\"q\":1,"
	                      "\"p\\\"q\":2}]}"),
	           PROTO_DUPLICATE_FIELD, "incidents[1].p\\\"q");
}
END_TEST

START_TEST(unknown_fields_are_named)
{
	ASSERT_ERR(check_edit("\"reason\"", "\"colour\":1,\"reason\""), PROTO_UNKNOWN_FIELD,
	           "colour");
	ASSERT_ERR(check_edit("\"type\":\"individual\"", "\"type\":\"individual\",\"nick\":\"k\""),
	           PROTO_UNKNOWN_FIELD, "subject.nick");
	ASSERT_ERR(check_edit("\"vulnerable\"", "\"age\":3,\"vulnerable\""), PROTO_UNKNOWN_FIELD,
	           "victims[0].age");
}
END_TEST

START_TEST(missing_and_wrong_types)
{
	ASSERT_ERR(check_edit("\"reason\":\"Noise\",", ""), PROTO_MISSING_FIELD, "reason");
	ASSERT_ERR(check_edit("\"category\":\"nuisance\",", ""), PROTO_MISSING_FIELD,
	           "incidents[0].category");
	ASSERT_ERR(check_edit("\"case_kind\":\"asb\"", "\"case_kind\":7"), PROTO_INVALID_FIELD,
	           "case_kind");
	ASSERT_ERR(check_edit("\"case_kind\":\"asb\"", "\"case_kind\":\"ASB\""),
	           PROTO_INVALID_FIELD, "case_kind");
	ASSERT_ERR(check_edit("\"vulnerable\":true", "\"vulnerable\":\"yes\""), PROTO_INVALID_FIELD,
	           "victims[0].vulnerable");
	ASSERT_ERR(check_edit("\"reason\":\"Noise\"", "\"reason\":\"   \""), PROTO_INVALID_FIELD,
	           "reason");
	/* NUL inside a string is refused by the parser itself */
	ASSERT_ERR(check_edit("\"reason\":\"Noise\"", "\"reason\":\"a\\u0000b\""),
	           PROTO_MALFORMED_JSON, "");
	ASSERT_ERR(check_edit("\"incidents\":[", "\"incidents\":[1,"), PROTO_INVALID_FIELD,
	           "incidents[0]");
	/* optional fields may be null; required ones may not */
	ASSERT_ERR(check_edit("\"risk\":{\"band\":\"medium\"}", "\"risk\":null"), PROTO_OK, "");
	ASSERT_ERR(check_edit("\"reason\":\"Noise\"", "\"reason\":null"), PROTO_INVALID_FIELD,
	           "reason");
}
END_TEST

START_TEST(string_length_limits_count_characters)
{
	char name[1024], edit[1100];
	/* 200 two-byte characters is 200 characters: allowed */
	name[0] = '\0';
	for (int i = 0; i < 200; i++)
		strcat(name, "\xc3\xa9");
	snprintf(edit, sizeof edit, "\"name\":\"%s\"", name);
	ASSERT_ERR(check_edit("\"name\":\"Kit Farrow\"", edit), PROTO_OK, "");
	strcat(name, "e");
	snprintf(edit, sizeof edit, "\"name\":\"%s\"", name);
	ASSERT_ERR(check_edit("\"name\":\"Kit Farrow\"", edit), PROTO_INVALID_FIELD,
	           "subject.name");
}
END_TEST

START_TEST(dates)
{
	ck_assert(proto_valid_date("2024-02-29"));
	ck_assert(!proto_valid_date("2026-02-29"));
	ck_assert(proto_valid_date("2000-02-29"));
	ck_assert(!proto_valid_date("1900-02-29"));
	ck_assert(!proto_valid_date("2026-04-31"));
	ck_assert(proto_valid_date("2026-12-31"));
	ck_assert(!proto_valid_date("2026-13-01"));
	ck_assert(!proto_valid_date("2026-1-01"));
	ck_assert(!proto_valid_date("2026-01-01T00:00:00Z"));
	ASSERT_ERR(check_edit("\"occurred_on\":\"2026-10-01\"", "\"occurred_on\":\"2026-11-23\""),
	           PROTO_INVALID_FIELD, "incidents[0].occurred_on");
	ASSERT_ERR(check_edit("\"occurred_on\":\"2026-10-01\"", "\"occurred_on\":\"2026-11-22\""),
	           PROTO_INVALID_FIELD, "incidents[0].reported_on");
	ASSERT_ERR(check_edit("\"reported_on\":\"2026-10-02\"", "\"reported_on\":\"2026-09-30\""),
	           PROTO_INVALID_FIELD, "incidents[0].reported_on");
	ASSERT_ERR(check_edit("\"reported_on\":\"2026-10-02\"", "\"reported_on\":\"2026-10-01\""),
	           PROTO_OK, "");
}
END_TEST

START_TEST(cross_field_rules)
{
	ASSERT_ERR(check_edit("\"marking\"", "\"strand\":\"deter\",\"marking\""),
	           PROTO_INVALID_FIELD, "strand");
	char buf[2048];
	snprintf(buf, sizeof buf, "%s", valid_referral);
	memcpy(strstr(buf, "\"asb\""), "\"ppo\"", 5);
	struct proto_error pe = {0};
	json_t *v = proto_parse_body(buf, strlen(buf), &pe);
	ck_assert_ptr_nonnull(v);
	json_object_set_new(v, "strand", json_string("deter"));
	ck_assert(proto_validate_referral(v, TODAY, &pe));
	json_decref(v);
	ASSERT_ERR(check_edit("\"type\":\"individual\"", "\"type\":\"area\""), PROTO_INVALID_FIELD,
	           "subject.date_of_birth");
	ASSERT_ERR(check_edit("\"victims\":[0]", "\"victims\":[1]"), PROTO_INVALID_FIELD,
	           "incidents[0].victims[0]");
}
END_TEST

START_TEST(idempotency_keys)
{
	struct proto_error pe;
	char key[202];
	ck_assert(!proto_valid_idempotency_key(NULL, &pe));
	ck_assert_int_eq(pe.code, PROTO_INVALID_IDEMPOTENCY_KEY);
	ck_assert(!proto_valid_idempotency_key("", &pe));
	ck_assert(proto_valid_idempotency_key("a", &pe));
	memset(key, 'k', 200);
	key[200] = '\0';
	ck_assert(proto_valid_idempotency_key(key, &pe));
	key[200] = 'k';
	key[201] = '\0';
	ck_assert(!proto_valid_idempotency_key(key, &pe));
	ck_assert(!proto_valid_idempotency_key("has space", &pe));
	ck_assert(!proto_valid_idempotency_key("caf\xc3\xa9", &pe));
}
END_TEST

START_TEST(list_query)
{
	struct proto_list_query q;
	struct proto_error pe;
	ck_assert(proto_parse_list_query(NULL, NULL, NULL, &q, &pe));
	ck_assert_ptr_null(q.status);
	ck_assert_int_eq(q.limit, PROTO_LIST_LIMIT_DEFAULT);
	ck_assert(proto_parse_list_query("accepted", "200", "c42", &q, &pe));
	ck_assert_str_eq(q.status, "accepted");
	ck_assert_int_eq(q.limit, 200);
	ck_assert_int_eq(q.after_id, 42);
	ck_assert(!proto_parse_list_query("open", NULL, NULL, &q, &pe));
	ck_assert_str_eq(pe.field, "status");
	ck_assert(!proto_parse_list_query(NULL, "201", NULL, &q, &pe));
	ck_assert_str_eq(pe.field, "limit");
	ck_assert(!proto_parse_list_query(NULL, "0", NULL, &q, &pe));
	ck_assert(!proto_parse_list_query(NULL, "5x", NULL, &q, &pe));
	ck_assert(!proto_parse_list_query(NULL, NULL, "42", &q, &pe));
	ck_assert_str_eq(pe.field, "cursor");
	ck_assert(!proto_parse_list_query(NULL, NULL, "c", &q, &pe));
	ck_assert(!proto_parse_list_query(NULL, NULL, "c-3", &q, &pe));
}
END_TEST

START_TEST(canonical_form_ignores_order_and_space)
{
	struct proto_error pe;
	const char *ta = "{\"b\": 1, \"a\": [1, 2]}", *tb = "{\"a\":[1,2],\"b\":1}";
	json_t *a = proto_parse_body(ta, strlen(ta), &pe);
	json_t *b = proto_parse_body(tb, strlen(tb), &pe);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	char *ca = proto_canonical(a), *cb = proto_canonical(b);
	ck_assert_str_eq(ca, cb);
	ck_assert_str_eq(ca, "{\"a\":[1,2],\"b\":1}");
	free(ca);
	free(cb);
	json_decref(a);
	json_decref(b);
}
END_TEST

START_TEST(problem_json_and_codes)
{
	struct proto_error pe = {.code = PROTO_HEADERS_TOO_LARGE};
	ck_assert_int_eq(proto_err_status(PROTO_HEADERS_TOO_LARGE), 431);
	ck_assert_int_eq(proto_err_status(PROTO_DATABASE_UNAVAILABLE), 503);
	json_t *p = proto_problem(&pe);
	ck_assert_str_eq(json_string_value(json_object_get(p, "code")), "headers_too_large");
	ck_assert_int_eq(json_integer_value(json_object_get(p, "status")), 431);
	ck_assert_ptr_null(json_object_get(p, "field"));
	json_decref(p);
	for (int i = 0; i < PROTO_ERR_COUNT; i++)
		ck_assert_int_eq(proto_err_from_code(proto_err_code((enum proto_err)i)), i);
	ck_assert_int_eq(proto_err_from_code("nonsense"), PROTO_ERR_COUNT);
}
END_TEST

Suite *proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("validation");
	tcase_add_test(tc, valid_referral_passes);
	tcase_add_test(tc, not_json_or_not_object);
	tcase_add_test(tc, duplicate_keys_are_named);
	tcase_add_test(tc, unknown_fields_are_named);
	tcase_add_test(tc, missing_and_wrong_types);
	tcase_add_test(tc, string_length_limits_count_characters);
	tcase_add_test(tc, dates);
	tcase_add_test(tc, cross_field_rules);
	tcase_add_test(tc, idempotency_keys);
	tcase_add_test(tc, list_query);
	tcase_add_test(tc, canonical_form_ignores_order_and_space);
	tcase_add_test(tc, problem_json_and_codes);
	suite_add_tcase(s, tc);
	return s;
}
