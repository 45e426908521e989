/* casework.c: request schemas of the casework endpoints (triage, cases,
 * incidents, victims, Case Review, risk, actions), of information-sharing
 * agreements and administration, and of their query strings. The rules themselves (transitions,
 * thresholds) live in the database; this file only refuses malformed requests, the same way in the
 * daemon and the client. */
#include "proto.h"
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define END                                                                                        \
	{                                                                                          \
		NULL, 0, 0, 0, 0, NULL, NULL                                                       \
	}
#define TEXT(name, req, lo, hi)                                                                    \
	{                                                                                          \
		name, K_STRING, req, lo, hi, NULL, NULL                                            \
	}
#define ENUM(name, req, choices)                                                                   \
	{                                                                                          \
		name, K_ENUM, req, 0, 0, choices, NULL                                             \
	}
#define AGENCY_CODE_MAX 16
#define CN_MAX          200
#define ID_MAX          9007199254740991ULL /* ids are JSON-safe integers */

static const char *const outcomes[] = {
    "resolved", "no_further_action", "transferred", "legal_action_concluded", "other", NULL};
static const char *const strands[] = {"deter", "catch_and_convict", "rehabilitate_and_resettle",
                                      NULL};
static const char *const removal_reasons[] = {
    "successful_engagement", "long_custody", "moved_away", "deceased", "other", NULL};
static const char *const person_roles[] = {"subject", "victim", "witness", "household_member",
                                           NULL};
static const char *const categories[] = {"personal", "nuisance", "environmental", NULL};
static const char *const markings[] = {"OFFICIAL", "OFFICIAL-SENSITIVE", NULL};
static const char *const action_types[] = {"warning_letter",
                                           "second_warning_visit",
                                           "acceptable_behaviour_contract",
                                           "tenancy_enforcement",
                                           "mediation_referral",
                                           "support_referral",
                                           "cpn_warning",
                                           "cpn",
                                           "civil_injunction",
                                           "criminal_behaviour_order",
                                           "closure_order",
                                           "other",
                                           NULL};
static const char *const action_statuses[] = {"agreed", "in_progress", "done", "cancelled", NULL};

static const struct field user_ref[] = {
    TEXT("agency", true, 2, AGENCY_CODE_MAX),
    TEXT("cn", true, 1, CN_MAX),
    END,
};
static const struct field accept_fields[] = {
    TEXT("case", false, 1, 40),
    TEXT("lead_agency", false, 2, AGENCY_CODE_MAX),
    {"caseworker", K_OBJECT, false, 0, 0, NULL, user_ref},
    TEXT("ward", false, 1, 100),
    END,
};
static const struct field decline_fields[] = {TEXT("reason", true, 1, 2000), END};
static const struct field request_info_fields[] = {TEXT("question", true, 1, 2000), END};
static const struct field case_patch_fields[] = {
    {"caseworker", K_OBJECT, false, 0, 0, NULL, user_ref},
    TEXT("lead_agency", false, 2, AGENCY_CODE_MAX),
    TEXT("ward", false, 1, 100),
    ENUM("marking", false, markings),
    END,
};
static const struct field close_fields[] = {
    ENUM("outcome", true, outcomes),
    TEXT("reason", false, 1, 2000),
    END,
};
static const struct field reopen_fields[] = {TEXT("reason", true, 1, 2000), END};
static const struct field strand_fields[] = {
    ENUM("strand", true, strands),
    TEXT("reason", false, 1, 2000),
    END,
};
static const struct field removal_fields[] = {
    ENUM("reason", true, removal_reasons),
    TEXT("exit_strategy", false, 1, 4000),
    END,
};
static const struct field note_fields[] = {TEXT("body", true, 1, 20000), END};
static const struct field person_fields[] = {
    {"person_id", K_INT, false, 1, ID_MAX, NULL, NULL},
    TEXT("name", false, 1, 200),
    ENUM("role", true, person_roles),
    {"date_of_birth", K_DATE, false, 0, 0, NULL, NULL},
    {"vulnerable", K_BOOL, false, 0, 0, NULL, NULL},
    TEXT("address", false, 1, 500),
    TEXT("contact", false, 1, 500),
    END,
};
static const struct field incident_fields[] = {
    {"occurred_on", K_DATE, true, 0, 0, NULL, NULL},
    {"reported_on", K_DATE, true, 0, 0, NULL, NULL},
    ENUM("category", true, categories),
    TEXT("place", true, 1, 500),
    TEXT("ward", false, 1, 100),
    TEXT("description", false, 0, 4000),
    {"victims", K_ARRAY_INT, false, 0, 50, NULL, NULL},
    {"same_as", K_INT, false, 1, ID_MAX, NULL, NULL},
    TEXT("external_ref", false, 1, 100),
    END,
};
static const struct field flag_fields[] = {TEXT("reason", true, 1, 2000), END};
static const struct field case_review_fields[] = {
    {"person_id", K_INT, true, 1, ID_MAX, NULL, NULL},
    TEXT("case", false, 1, 40),
    {"applied_on", K_DATE, true, 0, 0, NULL, NULL},
    END,
};
static const struct field cr_decision_fields[] = {
    {"threshold_met", K_BOOL, true, 0, 0, NULL, NULL},
    TEXT("override_reason", false, 1, 2000),
    {"decided_on", K_DATE, true, 0, 0, NULL, NULL},
    END,
};
static const struct field cr_meeting_fields[] = {
    {"meeting_on", K_DATE, true, 0, 0, NULL, NULL},
    {"recommendations", K_ARRAY_STR, true, 0, 50, NULL, NULL},
    END,
};
static const struct field risk_fields[] = {
    {"person_id", K_INT, false, 1, ID_MAX, NULL, NULL},
    {"answers", K_BOOL_MAP, true, 0, 100, NULL, NULL},
    END,
};
static const struct field action_fields[] = {
    ENUM("type", true, action_types),
    {"stage", K_INT, true, 1, 4, NULL, NULL},
    TEXT("owner_agency", true, 2, AGENCY_CODE_MAX),
    {"due_on", K_ANYDATE, false, 0, 0, NULL, NULL},
    TEXT("notes", false, 0, 4000),
    END,
};
static const struct field action_patch_fields[] = {
    ENUM("status", false, action_statuses),
    {"due_on", K_ANYDATE, false, 0, 0, NULL, NULL},
    TEXT("notes", false, 0, 4000),
    END,
};

static const char *const isa_purposes[] = {"asb_case_management", "offender_management",
                                           "victim_support", "community_safety", NULL};
static const char *const isa_categories[] = {"asb_casework", "offender_management",
                                             "victim_details", "special_category", NULL};
static const char *const isa_statuses[] = {"draft",   "active",     "suspended",
                                           "expired", "terminated", NULL};
static const char *const roles[] = {"referrer", "caseworker", "chair", "ppo_coordinator",
                                    "analyst",  "admin",      NULL};
static const char *const agency_kinds[] = {
    "police",  "district_council", "county_council", "fire_rescue", "probation", "youth_offending",
    "housing", "drug_alcohol",     "health",         "parish",      "other",     NULL};
#define ISA_PARTIES_MAX 30
static const struct field isa_create_fields[] = {
    TEXT("reference", true, 1, 40),
    TEXT("title", true, 1, 200),
    ENUM("purpose", true, isa_purposes),
    TEXT("description", false, 1, 4000),
    {"data_categories", K_ARRAY_STR, true, 1, 4, isa_categories, NULL},
    TEXT("lawful_basis", true, 1, 500),
    ENUM("marking", false, markings),
    {"retention_months", K_INT, true, 1, 1200, NULL, NULL},
    {"starts_on", K_ANYDATE, true, 0, 0, NULL, NULL},
    {"review_on", K_ANYDATE, false, 0, 0, NULL, NULL},
    {"ends_on", K_ANYDATE, false, 0, 0, NULL, NULL},
    {"parties", K_ARRAY_STR, true, 2, ISA_PARTIES_MAX, NULL, NULL},
    END,
};
static const struct field isa_sign_fields[] = {TEXT("note", false, 1, 2000), END};
static const struct field reason_fields[] = {TEXT("reason", true, 1, 2000), END};
static const struct field agency_add_fields[] = {
    TEXT("code", true, 2, AGENCY_CODE_MAX),
    TEXT("name", false, 1, 200),
    ENUM("kind", false, agency_kinds),
    END,
};
static const struct field user_add_fields[] = {
    TEXT("agency", true, 2, AGENCY_CODE_MAX),
    TEXT("cn", true, 1, CN_MAX),
    TEXT("display_name", false, 1, 200),
    {"roles", K_ARRAY_STR, true, 1, 6, roles, NULL},
    END,
};
static const struct field user_roles_fields[] = {
    {"roles", K_ARRAY_STR, true, 0, 6, roles, NULL},
    END,
};
static const struct field retention_fields[] = {
    {"dry_run", K_BOOL, false, 0, 0, NULL, NULL},
    END,
};
static const struct field legal_hold_fields[] = {
    {"hold", K_BOOL, true, 0, 0, NULL, NULL},
    TEXT("reason", true, 1, 2000),
    END,
};

static const char *const groups[] = {"asb_task_group", "ppo_panel", NULL};
static const char *const assessments[] = {"improved", "no_change", "worse", NULL};
static const char *const decisions[] = {"continue", "escalate", "close", "ppo_remove", NULL};
#define AGENDA_MAX  500
#define REVIEWS_MAX 200
static const struct field meeting_create_fields[] = {
    ENUM("group", true, groups),
    {"held_on", K_ANYDATE, true, 0, 0, NULL, NULL},
    {"chair", K_OBJECT, false, 0, 0, NULL, user_ref},
    END,
};
static const struct field attendance_fields[] = {
    {"agencies", K_ARRAY_STR, true, 0, 30, NULL, NULL},
    END,
};
static const struct field agenda_item_fields[] = {
    TEXT("title", true, 1, 500),
    TEXT("case", false, 1, 40),
    END,
};
static const struct field agenda_order_fields[] = {
    {"order", K_ARRAY_INT, true, 1, AGENDA_MAX, NULL, NULL},
    END,
};
static const struct field review_action_fields[] = {
    ENUM("type", true, action_types),        {"stage", K_INT, true, 1, 4, NULL, NULL},
    TEXT("owner", true, 2, AGENCY_CODE_MAX), {"due_on", K_ANYDATE, false, 0, 0, NULL, NULL},
    TEXT("notes", false, 0, 4000),           END,
};
static const struct field review_removal_fields[] = {
    ENUM("reason", true, removal_reasons),
    TEXT("exit_strategy", false, 1, 4000),
    {"consensus", K_ARRAY_STR, true, 1, 30, NULL, NULL},
    END,
};
static const struct field review_fields[] = {
    TEXT("case", true, 1, 40),
    ENUM("assessment", true, assessments),
    ENUM("decision", true, decisions),
    ENUM("outcome", false, outcomes),
    {"next_review_on", K_ANYDATE, false, 0, 0, NULL, NULL},
    TEXT("notes", false, 1, 4000),
    {"actions", K_ARRAY_OBJ, false, 0, 20, NULL, review_action_fields},
    {"ppo_removal", K_OBJECT, false, 0, 0, NULL, review_removal_fields},
    {"risk", K_OBJECT, false, 0, 0, NULL, risk_fields},
    END,
};
static const struct field decisions_fields[] = {
    {"reviews", K_ARRAY_OBJ, true, 1, REVIEWS_MAX, NULL, review_fields},
    END,
};

#define IMPORT_CASES_MAX   2000
#define IMPORT_REVIEWS_MAX 60
static const char *const case_kinds[] = {"asb", "ppo", NULL};
static const char *const subject_types[] = {"individual", "family", "area", NULL};
static const char *const review_decisions[] = {"continue", "escalate", "close", NULL};
static const struct field import_review_fields[] = {
    {"held_on", K_DATE, true, 0, 0, NULL, NULL},
    ENUM("assessment", true, assessments),
    ENUM("decision", true, review_decisions),
    ENUM("outcome", false, outcomes),
    TEXT("notes", false, 1, 4000),
    END,
};
static const struct field import_case_fields[] = {
    TEXT("reference", false, 1, 40),
    ENUM("case_kind", true, case_kinds),
    ENUM("subject_type", true, subject_types),
    TEXT("subject_name", true, 1, 200),
    TEXT("lead_agency", true, 2, AGENCY_CODE_MAX),
    {"referral_date", K_DATE, true, 0, 0, NULL, NULL},
    TEXT("ward", false, 1, 100),
    {"closed_on", K_DATE, false, 0, 0, NULL, NULL},
    ENUM("outcome", false, outcomes),
    ENUM("strand", false, strands),
    {"reviews", K_ARRAY_OBJ, false, 0, IMPORT_REVIEWS_MAX, NULL, import_review_fields},
    END,
};
static const struct field import_fields[] = {
    {"cases", K_ARRAY_OBJ, true, 1, IMPORT_CASES_MAX, NULL, import_case_fields},
    END,
};

static const struct field *const body_schemas[PB_COUNT] = {
    [PB_IMPORT] = import_fields,
    [PB_MEETING_CREATE] = meeting_create_fields,
    [PB_ATTENDANCE] = attendance_fields,
    [PB_AGENDA_ITEM] = agenda_item_fields,
    [PB_AGENDA_ORDER] = agenda_order_fields,
    [PB_REVIEW] = review_fields,
    [PB_DECISIONS] = decisions_fields,
    [PB_ISA_CREATE] = isa_create_fields,
    [PB_ISA_SIGN] = isa_sign_fields,
    [PB_REASON] = reason_fields,
    [PB_AGENCY_ADD] = agency_add_fields,
    [PB_USER_ADD] = user_add_fields,
    [PB_USER_ROLES] = user_roles_fields,
    [PB_RETENTION_RUN] = retention_fields,
    [PB_LEGAL_HOLD] = legal_hold_fields,
    [PB_ACCEPT] = accept_fields,
    [PB_DECLINE] = decline_fields,
    [PB_REQUEST_INFO] = request_info_fields,
    [PB_CASE_PATCH] = case_patch_fields,
    [PB_CASE_CLOSE] = close_fields,
    [PB_CASE_REOPEN] = reopen_fields,
    [PB_STRAND] = strand_fields,
    [PB_PPO_REMOVAL] = removal_fields,
    [PB_NOTE] = note_fields,
    [PB_PERSON] = person_fields,
    [PB_INCIDENT] = incident_fields,
    [PB_FLAG] = flag_fields,
    [PB_CASE_REVIEW] = case_review_fields,
    [PB_CR_DECISION] = cr_decision_fields,
    [PB_CR_MEETING] = cr_meeting_fields,
    [PB_RISK] = risk_fields,
    [PB_ACTION] = action_fields,
    [PB_ACTION_PATCH] = action_patch_fields,
};

/* Rules across fields, after each field is known to be well-formed. */
static bool check_rules(enum proto_body which, json_t *b, struct proto_error *pe)
{
	switch (which) {
	case PB_PERSON:
		if (!json_object_get(b, "person_id") == !json_object_get(b, "name"))
			return schema_fail(pe, PROTO_MISSING_FIELD, "name",
			                   "give either name (a new person) or person_id");
		break;
	case PB_INCIDENT: {
		const char *occ = json_string_value(json_object_get(b, "occurred_on"));
		const char *rep = json_string_value(json_object_get(b, "reported_on"));
		if (strcmp(rep, occ) < 0)
			return schema_fail(pe, PROTO_INVALID_FIELD, "reported_on",
			                   "must not be before occurred_on");
		break;
	}
	case PB_PPO_REMOVAL: {
		const char *reason = json_string_value(json_object_get(b, "reason"));
		if (strcmp(reason, "deceased") != 0 && !json_object_get(b, "exit_strategy"))
			return schema_fail(pe, PROTO_MISSING_FIELD, "exit_strategy",
			                   "a removal needs an exit strategy");
		break;
	}
	case PB_CASE_PATCH:
	case PB_ACTION_PATCH:
		if (json_object_size(b) == 0)
			return schema_fail(pe, PROTO_MISSING_FIELD, NULL, "nothing to change");
		break;
	default:
		break;
	}
	return true;
}

/* Optional fields given as null are dropped, so the database sees absent. */
static void drop_nulls(json_t *b)
{
	const char *key;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(b, tmp, key, v)
	{
		if (json_is_null(v))
			json_object_del(b, key);
	}
}

bool proto_validate_body(enum proto_body which, json_t *body, const char *today,
                         struct proto_error *pe)
{
	if (which == PB_REFERRAL)
		return proto_validate_referral(body, today, pe);
	if (which <= PB_NONE || which >= PB_COUNT || !body_schemas[which])
		return schema_fail(pe, PROTO_INTERNAL, NULL, "no schema for this body");
	if (!json_is_object(body))
		return schema_fail(pe, PROTO_MALFORMED_JSON, NULL,
		                   "the body must be a JSON object");
	if (!schema_check_object(body, body_schemas[which], "", today, pe))
		return false;
	drop_nulls(body);
	return check_rules(which, body, pe);
}

static const char *const case_statuses[] = {"open", "closed", NULL};

#define QLIMIT                                                                                     \
	{                                                                                          \
		"limit", K_QINT, false, 1, PROTO_LIST_LIMIT_MAX, NULL, NULL                        \
	}
#define QCURSOR                                                                                    \
	{                                                                                          \
		"cursor", K_QCURSOR, false, 0, 0, NULL, NULL                                       \
	}
static const struct field cases_query[] = {
    ENUM("status", false, case_statuses),
    ENUM("kind", false, case_kinds),
    ENUM("subject_type", false, subject_types),
    TEXT("caseworker", false, 1, CN_MAX),
    TEXT("lead_agency", false, 2, AGENCY_CODE_MAX),
    TEXT("ward", false, 1, 100),
    {"flagged", K_QBOOL, false, 0, 0, NULL, NULL},
    {"overdue", K_QBOOL, false, 0, 0, NULL, NULL},
    /* UTC calendar dates, both ends included */
    {"opened_from", K_ANYDATE, false, 0, 0, NULL, NULL},
    {"opened_to", K_ANYDATE, false, 0, 0, NULL, NULL},
    {"closed_from", K_ANYDATE, false, 0, 0, NULL, NULL},
    {"closed_to", K_ANYDATE, false, 0, 0, NULL, NULL},
    QLIMIT,
    QCURSOR,
    END,
};
static const struct field victims_query[] = {
    {"repeat", K_QBOOL, false, 0, 0, NULL, NULL},
    QLIMIT,
    QCURSOR,
    END,
};
static const struct field stats_query[] = {
    {"year", K_QINT, false, 2000, 2100, NULL, NULL},
    END,
};
static const struct field isas_query[] = {ENUM("status", false, isa_statuses), END};
static const struct field users_query[] = {TEXT("agency", false, 2, AGENCY_CODE_MAX), END};
static const struct field sar_query[] = {
    {"person", K_QINT, true, 1, 999999999999LL, NULL, NULL},
    END,
};
static const char *const meeting_statuses[] = {"open", "closed", NULL};
static const char *const improvement_results[] = {"achieved", "failed", "pending", NULL};
static const struct field meetings_query[] = {ENUM("status", false, meeting_statuses), END};
static const struct field improvement_query[] = {
    {"fy", K_QINT, false, 2000, 2100, NULL, NULL},
    {"quarter", K_QINT, false, 1, 4, NULL, NULL},
    TEXT("from", false, 10, 10),
    TEXT("to", false, 10, 10),
    ENUM("list", false, improvement_results),
    END,
};
static const struct field quarterly_query[] = {
    {"fy", K_QINT, false, 2000, 2100, NULL, NULL},
    {"quarter", K_QINT, false, 1, 4, NULL, NULL},
    END,
};
/* Positions in the audit log's Merkle tree (proto/API.md, "Audit
 * transparency log"); a page of entries is at most PROTO_AUDIT_PAGE_MAX. */
#define AUDIT_POS_MAX 1000000000000000ULL
#define AUDIT_POS(n, req)                                                                          \
	{                                                                                          \
		n, K_QINT, req, 0, AUDIT_POS_MAX, NULL, NULL                                       \
	}
static const struct field audit_consistency_query[] = {
    AUDIT_POS("from", true),
    AUDIT_POS("to", true),
    END,
};
static const struct field audit_inclusion_query[] = {
    AUDIT_POS("index", true),
    {"size", K_QINT, true, 1, AUDIT_POS_MAX, NULL, NULL},
    END,
};
static const struct field audit_entries_query[] = {
    AUDIT_POS("start", false),
    {"count", K_QINT, false, 1, PROTO_AUDIT_PAGE_MAX, NULL, NULL},
    END,
};
static const struct field *const query_schemas[PQ_COUNT] = {
    [PQ_AUDIT_CONSISTENCY] = audit_consistency_query,
    [PQ_AUDIT_INCLUSION] = audit_inclusion_query,
    [PQ_AUDIT_ENTRIES] = audit_entries_query,
    [PQ_QUARTERLY] = quarterly_query,
    [PQ_MEETINGS] = meetings_query,
    [PQ_IMPROVEMENT] = improvement_query,
    [PQ_ISAS] = isas_query,
    [PQ_USERS] = users_query,
    [PQ_SAR] = sar_query,
    [PQ_CASES] = cases_query,
    [PQ_VICTIMS] = victims_query,
    [PQ_STATS] = stats_query,
};

static bool convert_query_value(json_t *q, json_t *out, const char *key, const struct field *f,
                                struct proto_error *pe)
{
	const char *s = json_string_value(json_object_get(q, key));
	if (!s)
		return schema_fail(pe, PROTO_INVALID_PARAMETER, key, "must be a string");
	char *end = NULL;
	switch (f->kind) {
	case K_QBOOL:
		if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
			return schema_fail(pe, PROTO_INVALID_PARAMETER, key,
			                   "must be true or false");
		json_object_set_new(out, key, json_boolean(s[0] == 't'));
		return true;
	case K_QINT: {
		long long n = strtoll(s, &end, 10);
		if (!*s || *end || n < (long long)f->min || n > (long long)f->max) {
			char detail[80];
			snprintf(detail, sizeof detail, "must be an integer from %zu to %zu",
			         f->min, f->max);
			return schema_fail(pe, PROTO_INVALID_PARAMETER, key, detail);
		}
		json_object_set_new(out, key, json_integer(n));
		return true;
	}
	case K_QCURSOR: {
		struct proto_list_query lq;
		if (!proto_parse_list_query(NULL, NULL, s, &lq, pe))
			return false;
		json_object_set_new(out, "after", json_integer(lq.after_id));
		return true;
	}
	default: {
		struct proto_error inner = {0};
		json_t *v = json_object_get(q, key);
		json_t *wrap = json_pack("{sO}", key, v);
		const struct field one[] = {*f, END};
		bool ok = wrap && schema_check_object(wrap, one, "", NULL, &inner);
		json_decref(wrap);
		if (!ok)
			return schema_fail(pe, PROTO_INVALID_PARAMETER, key, inner.detail);
		json_object_set(out, key, v);
		return true;
	}
	}
}

/* Rules across query parameters, once each is known to be well-formed:
 * a date range must not end before it starts (ISO dates compare as text). */
static bool check_query_rules(enum proto_query which, json_t *q, struct proto_error *pe)
{
	static const char *const ranges[][2] = {{"opened_from", "opened_to"},
	                                        {"closed_from", "closed_to"}};
	if (which != PQ_CASES)
		return true;
	for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
		const char *from = json_string_value(json_object_get(q, ranges[i][0]));
		const char *to = json_string_value(json_object_get(q, ranges[i][1]));
		if (from && to && strcmp(to, from) < 0) {
			char detail[80];
			snprintf(detail, sizeof detail, "must not be before %s", ranges[i][0]);
			return schema_fail(pe, PROTO_INVALID_PARAMETER, ranges[i][1], detail);
		}
	}
	return true;
}

bool proto_validate_query(enum proto_query which, json_t *q, struct proto_error *pe)
{
	if (which <= PQ_NONE || which >= PQ_COUNT)
		return schema_fail(pe, PROTO_INTERNAL, NULL, "no schema for this query");
	bool ok = false;
	json_t *out = json_object();
	const char *key;
	json_t *v;
	if (!out)
		return schema_fail(pe, PROTO_INTERNAL, NULL, "out of memory");
	json_object_foreach(q, key, v)
	{
		const struct field *f = query_schemas[which];
		while (f->name && strcmp(f->name, key) != 0)
			f++;
		if (!f->name) {
			schema_fail(pe, PROTO_INVALID_PARAMETER, key, "unknown query parameter");
			goto out;
		}
		if (!convert_query_value(q, out, key, f, pe))
			goto out;
	}
	for (const struct field *f = query_schemas[which]; f->name; f++) {
		if (f->required && !json_object_get(q, f->name)) {
			schema_fail(pe, PROTO_INVALID_PARAMETER, f->name, "is required");
			goto out;
		}
	}
	if (!check_query_rules(which, out, pe))
		goto out;
	json_object_clear(q);
	json_object_update(q, out);
	ok = true;
out:
	json_decref(out);
	return ok;
}
