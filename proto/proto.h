/* proto.h: the API contract shared by cdrpd and cdrp -- error codes,
 * request validation and JSON helpers. Validation lives here once so the
 * daemon and the client refuse exactly the same input. */
#ifndef CDRP_PROTO_H
#define CDRP_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define PROTO_WUR __attribute__((warn_unused_result))

/* Named limits of the API itself (transport limits live in the config). */
#define PROTO_IDEMPOTENCY_KEY_MAX 200
#define PROTO_LIST_LIMIT_MAX      200
#define PROTO_AUDIT_PAGE_MAX      1000 /* entries per GET /v1/audit/entries */
#define PROTO_LIST_LIMIT_DEFAULT  50
#define PROTO_FIELD_PATH_MAX      128

/* Stable, machine-readable error codes (proto/API.md lists them). */
enum proto_err {
	PROTO_OK = 0,
	PROTO_MALFORMED_JSON,
	PROTO_DUPLICATE_FIELD,
	PROTO_UNKNOWN_FIELD,
	PROTO_MISSING_FIELD,
	PROTO_INVALID_FIELD,
	PROTO_INVALID_IDEMPOTENCY_KEY,
	PROTO_INVALID_PARAMETER,
	PROTO_UNKNOWN_IDENTITY,
	PROTO_FORBIDDEN,
	PROTO_NOT_FOUND,
	PROTO_NO_ROUTE,
	PROTO_METHOD_NOT_ALLOWED,
	PROTO_IDEMPOTENCY_CONFLICT,
	PROTO_BODY_TOO_LARGE,
	PROTO_UNSUPPORTED_MEDIA_TYPE,
	PROTO_HEADERS_TOO_LARGE,
	PROTO_INTERNAL,
	PROTO_DATABASE_UNAVAILABLE,
	PROTO_DEADLINE_EXCEEDED,
	PROTO_INVALID_TRANSITION,
	PROTO_PRECONDITION_FAILED,
	PROTO_RULE_VIOLATION,
	PROTO_IF_MATCH_REQUIRED,
	PROTO_SHUTTING_DOWN,
	PROTO_JUSTIFICATION_REQUIRED,
	PROTO_INVALID_HEADER,
	PROTO_EXTERNAL_REF_CONFLICT, /* an incident's external_ref reused for another */
	PROTO_ERR_COUNT
};

/* Room for any detail, the longest "must be one of: ..." list included: a
 * list cut short would hide the very value the user was looking for.
 * tests/unit/test_enums.c checks that every list of every schema fits. */
#define PROTO_DETAIL_MAX 512
/* How an enum's detail starts; the choices follow, "a, b, c". */
#define PROTO_ENUM_PREFIX "must be one of: "

/* A validation failure: which code, which field, and a human detail that
 * never quotes the rejected value (it may be personal data). */
struct proto_error {
	enum proto_err code;
	char field[PROTO_FIELD_PATH_MAX];
	char detail[PROTO_DETAIL_MAX];
};

/* "a, b, c" from a NULL-terminated list, into out (may be NULL when
 * outlen is 0). Returns the length the whole text needs, as snprintf
 * does, so a caller can tell that it would not fit. */
size_t proto_choices_text(const char *const *choices, char *out, size_t outlen);
/* The referral's schema (proto.c), opaque here: for the unit test that
 * walks every enum list of every schema. */
struct field;
const struct field *proto_referral_schema(void);

const char *proto_err_code(enum proto_err e);  /* "invalid_field" */
const char *proto_err_title(enum proto_err e); /* human title */
int proto_err_status(enum proto_err e);        /* HTTP status */
/* Look a code string up again (client side); PROTO_ERR_COUNT if unknown. */
enum proto_err proto_err_from_code(const char *code);

/* Problem+json body for an error; caller frees with json_decref. */
json_t *proto_problem(const struct proto_error *pe) PROTO_WUR;

/* Parse a JSON request body strictly: must be an object, valid UTF-8, no
 * duplicate keys. On failure fills *pe and returns NULL. */
json_t *proto_parse_body(const char *buf, size_t len, struct proto_error *pe) PROTO_WUR;

/* Validate a referral submission (POST /v1/referrals) in place. `today` is
 * "YYYY-MM-DD" in UTC, used to refuse dates in the future. */
bool proto_validate_referral(json_t *body, const char *today, struct proto_error *pe) PROTO_WUR;

/* 1..200 printable ASCII characters. */
bool proto_valid_idempotency_key(const char *key, struct proto_error *pe) PROTO_WUR;

/* Request headers that scope every call (proto/API.md, "Partnerships and
 * justification"). */
#define PROTO_PARTNERSHIP_HEADER   "X-Cdrp-Partnership"
#define PROTO_JUSTIFICATION_HEADER "X-Cdrp-Justification"
#define PROTO_JUSTIFICATION_MIN    10
#define PROTO_JUSTIFICATION_MAX    500
/* A partnership code: 2..16 of A-Z and 0-9. */
bool proto_valid_partnership(const char *code, struct proto_error *pe) PROTO_WUR;
/* A stated reason: 10..500 bytes of UTF-8 without control characters. */
bool proto_valid_justification(const char *why, struct proto_error *pe) PROTO_WUR;

/* Query parameters of GET /v1/referrals. */
struct proto_list_query {
	const char *status; /* NULL or a referral status */
	int limit;
	long long after_id; /* 0 = from the newest */
};
bool proto_parse_list_query(const char *status, const char *limit, const char *cursor,
                            struct proto_list_query *q, struct proto_error *pe) PROTO_WUR;

/* The release of cdrpd and cdrp (both print it with --version). */
#define PROTO_RELEASE "0.2"

/* Valid calendar date "YYYY-MM-DD" (leap years included). */
bool proto_valid_date(const char *s);

/* Request bodies of the casework endpoints (proto/API.md, "Casework"). */
enum proto_body {
	PB_NONE, /* the endpoint takes no body */
	PB_REFERRAL,
	PB_ACCEPT,
	PB_DECLINE,
	PB_REQUEST_INFO,
	PB_CASE_PATCH,
	PB_CASE_CLOSE,
	PB_CASE_REOPEN,
	PB_STRAND,
	PB_PPO_REMOVAL,
	PB_NOTE,
	PB_PERSON,
	PB_INCIDENT,
	PB_FLAG,
	PB_CASE_REVIEW,
	PB_CR_DECISION,
	PB_CR_MEETING,
	PB_RISK,
	PB_ACTION,
	PB_ACTION_PATCH,
	/* information-sharing agreements and administration (issue 6) */
	PB_ISA_CREATE,
	PB_ISA_SIGN,
	PB_REASON,
	PB_AGENCY_ADD,
	PB_USER_ADD,
	PB_USER_ROLES,
	PB_RETENTION_RUN,
	PB_LEGAL_HOLD,
	/* meetings (issue 7) */
	PB_MEETING_CREATE,
	PB_ATTENDANCE,
	PB_AGENDA_ITEM,
	PB_AGENDA_ORDER,
	PB_REVIEW,
	PB_DECISIONS,
	PB_IMPORT,
	PB_COUNT
};
bool proto_validate_body(enum proto_body which, json_t *body, const char *today,
                         struct proto_error *pe) PROTO_WUR;

/* Query strings: `q` is an object of string values, converted in place
 * (booleans, integers; `cursor` becomes `after`, an id). */
enum proto_query {
	PQ_NONE,
	PQ_CASES,
	PQ_VICTIMS,
	PQ_STATS,
	PQ_ISAS,
	PQ_USERS,
	PQ_SAR,
	PQ_MEETINGS,
	PQ_IMPROVEMENT,
	PQ_QUARTERLY,
	PQ_AUDIT_CONSISTENCY,
	PQ_AUDIT_INCLUSION,
	PQ_AUDIT_ENTRIES,
	PQ_COUNT
};
bool proto_validate_query(enum proto_query which, json_t *q, struct proto_error *pe) PROTO_WUR;

/* Canonical text of a JSON value (sorted keys, compact); caller frees. */
char *proto_canonical(const json_t *v) PROTO_WUR;

#endif
