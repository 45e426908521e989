/* test_enums.c: every enum list of every request schema fits in an error's
 * detail whole, so "must be one of: ..." never loses a choice (issue 9).
 * Walks the schema tables themselves, so a list added or grown later is
 * checked without anyone remembering to add it here. */
#include "proto.h"
#include "unit.h"

#include <stdio.h>
#include <string.h>

/* The casework schema tables are static in proto/casework.c: compile a
 * private copy of that file here to walk them. Its two external functions
 * are renamed so they do not clash with the real ones the binary links
 * (proto.h is included above, so the real declarations stay as they are).
 * A new external function in casework.c shows up as a duplicate symbol at
 * link time: rename it here too. */
#define proto_validate_body  unit_enums_validate_body_copy
#define proto_validate_query unit_enums_validate_query_copy
#include "../../proto/casework.c"
#undef proto_validate_body
#undef proto_validate_query

#define TODAY "2026-11-22"

/* Lists checked, so the test fails if the walk finds nothing at all. */
static int lists_seen;

/* The list must fit, with room for the prefix and the terminating NUL. */
static void check_fits(const char *where, const char *const *choices)
{
	size_t need = strlen(PROTO_ENUM_PREFIX) + proto_choices_text(choices, NULL, 0);

	lists_seen++;
	ck_assert_msg(need < PROTO_DETAIL_MAX,
	              "the choices of %s need %zu bytes; proto_error.detail has %d", where, need,
	              PROTO_DETAIL_MAX);
}

/* Every choice appears in the detail of the refusal, by itself. */
static void check_detail_lists_all(const char *where, const struct proto_error *pe,
                                   const char *const *choices)
{
	ck_assert_msg(strncmp(pe->detail, PROTO_ENUM_PREFIX, strlen(PROTO_ENUM_PREFIX)) == 0,
	              "%s: detail \"%s\" is not a list of choices", where, pe->detail);
	for (const char *const *c = choices; *c; c++) {
		char item[128];
		const char *list = pe->detail + strlen(PROTO_ENUM_PREFIX);
		size_t n = strlen(*c);
		bool found = false;

		snprintf(item, sizeof item, "%s", *c);
		for (const char *p = strstr(list, item); p && !found; p = strstr(p + 1, item))
			found = (p == list || (p >= list + 2 && p[-2] == ',' && p[-1] == ' ')) &&
			        (p[n] == '\0' || p[n] == ',');
		ck_assert_msg(found, "%s: \"%s\" is missing from \"%s\"", where, *c, pe->detail);
	}
}

#define DEPTH_MAX 8

static bool has_choices(const struct field *f)
{
	return f->kind == K_ENUM || (f->kind == K_ARRAY_STR && f->choices);
}

/* A value for chain[0] that its schema refuses at the enum chain[n-1]
 * alone (a wrong choice, wrapped in the objects and arrays above it, with
 * as many array items as the array needs at least). */
static json_t *bad_value(const struct field *const *chain, int n)
{
	const struct field *f = chain[0];
	size_t items = f->min > 0 ? f->min : 1;
	json_t *v;

	if (n == 1 && f->kind == K_ENUM)
		return json_string("no-such-choice");
	if (n == 1) { /* K_ARRAY_STR with choices */
		v = json_array();
		for (size_t i = 0; i < items; i++)
			json_array_append_new(v, json_string("no-such-choice"));
		return v;
	}
	if (f->kind == K_OBJECT)
		return json_pack("{so}", chain[1]->name, bad_value(chain + 1, n - 1));
	v = json_array(); /* K_ARRAY_OBJ */
	for (size_t i = 0; i < items; i++)
		json_array_append_new(
		    v, json_pack("{so}", chain[1]->name, bad_value(chain + 1, n - 1)));
	return v;
}

/* Every enum of a schema, at any depth: its list fits, and a body with a
 * wrong value there is refused naming the whole list. `which` is PB_COUNT
 * for the referral (proto_validate_referral). */
static void walk(enum proto_body which, const struct field *schema, const struct field **chain,
                 int depth)
{
	for (const struct field *f = schema; f->name; f++) {
		chain[depth] = f;
		if ((f->kind == K_OBJECT || f->kind == K_ARRAY_OBJ) && f->sub) {
			ck_assert_int_lt(depth + 1, DEPTH_MAX);
			walk(which, f->sub, chain, depth + 1);
		}
		if (!has_choices(f))
			continue;

		char where[200];
		size_t n = (size_t)snprintf(where, sizeof where, "body %d: ", (int)which);
		for (int i = 0; i <= depth; i++)
			n += (size_t)snprintf(where + n, sizeof where - n, "%s%s", i ? "." : "",
			                      chain[i]->name);
		check_fits(where, f->choices);

		struct proto_error pe = {0};
		json_t *body = json_pack("{so}", chain[0]->name,
		                         bad_value((const struct field *const *)chain, depth + 1));
		ck_assert_ptr_nonnull(body);
		bool ok = which == PB_COUNT ? proto_validate_referral(body, TODAY, &pe)
		                            : proto_validate_body(which, body, TODAY, &pe);
		json_decref(body);
		ck_assert_msg(!ok, "%s: a wrong value was accepted", where);
		check_detail_lists_all(where, &pe, f->choices);
	}
}

static void walk_body(enum proto_body which, const struct field *schema)
{
	const struct field *chain[DEPTH_MAX];

	walk(which, schema, chain, 0);
}

START_TEST(every_body_enum_list_fits)
{
	lists_seen = 0;
	walk_body(PB_COUNT, proto_referral_schema());
	for (int i = 0; i < PB_COUNT; i++)
		if (body_schemas[i])
			walk_body((enum proto_body)i, body_schemas[i]);
	/* The walk found the lists (action types is the longest today). */
	ck_assert_int_ge(lists_seen, 20);
}
END_TEST

START_TEST(every_query_enum_list_fits)
{
	int seen = 0;

	for (int i = 0; i < PQ_COUNT; i++) {
		for (const struct field *f = query_schemas[i]; f && f->name; f++) {
			if (f->kind != K_ENUM)
				continue;
			char where[160];
			snprintf(where, sizeof where, "query %d: %s", i, f->name);
			check_fits(where, f->choices);
			seen++;

			struct proto_error pe = {0};
			json_t *q = json_pack("{ss}", f->name, "no-such-choice");
			bool ok = proto_validate_query((enum proto_query)i, q, &pe);
			json_decref(q);
			ck_assert_msg(!ok, "%s: a wrong value was accepted", where);
			check_detail_lists_all(where, &pe, f->choices);
		}
	}
	ck_assert_int_ge(seen, 5);
}
END_TEST

/* The longest list of all (action types, 226 bytes with its prefix) was
 * cut at 200 bytes before issue 9: its last choices went missing. */
START_TEST(longest_list_is_whole)
{
	struct proto_error pe = {0};
	json_t *b = json_pack("{ss}", "type", "no-such-type");
	ck_assert(!proto_validate_body(PB_ACTION, b, TODAY, &pe));
	json_decref(b);
	ck_assert_str_eq(pe.field, "type");
	ck_assert_ptr_nonnull(strstr(pe.detail, "criminal_behaviour_order, closure_order, other"));
	ck_assert_uint_eq(strlen(pe.detail),
	                  strlen(PROTO_ENUM_PREFIX) + proto_choices_text(action_types, NULL, 0));
}
END_TEST

START_TEST(choices_text_reports_the_length_it_needs)
{
	static const char *const abc[] = {"alpha", "beta", "gamma", NULL};
	char small[8], big[64];

	ck_assert_uint_eq(proto_choices_text(abc, big, sizeof big), strlen("alpha, beta, gamma"));
	ck_assert_str_eq(big, "alpha, beta, gamma");
	ck_assert_uint_eq(proto_choices_text(abc, small, sizeof small),
	                  strlen("alpha, beta, gamma"));
	ck_assert_uint_eq(strlen(small), sizeof small - 1);
	ck_assert_uint_eq(proto_choices_text(abc, NULL, 0), strlen("alpha, beta, gamma"));
}
END_TEST

Suite *enums_suite(void)
{
	Suite *s = suite_create("enums");
	TCase *tc = tcase_create("lists");
	tcase_add_test(tc, every_body_enum_list_fits);
	tcase_add_test(tc, every_query_enum_list_fits);
	tcase_add_test(tc, longest_list_is_whole);
	tcase_add_test(tc, choices_text_reports_the_length_it_needs);
	suite_add_tcase(s, tc);
	return s;
}
