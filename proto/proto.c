/* proto.c: error codes, strict JSON parsing and referral validation shared
 * by cdrpd and cdrp (see proto/API.md). Pure functions, no I/O. */
#include "proto.h"
#include "schema.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *code;
	const char *title;
	int status;
} errs[PROTO_ERR_COUNT] = {
    [PROTO_OK] = {"ok", "OK", 200},
    [PROTO_MALFORMED_JSON] = {"malformed_json", "The body is not valid JSON", 400},
    [PROTO_DUPLICATE_FIELD] = {"duplicate_field", "A field appears twice", 400},
    [PROTO_UNKNOWN_FIELD] = {"unknown_field", "A field is not part of the API", 400},
    [PROTO_MISSING_FIELD] = {"missing_field", "A required field is missing", 400},
    [PROTO_INVALID_FIELD] = {"invalid_field", "A field has an invalid value", 400},
    [PROTO_INVALID_IDEMPOTENCY_KEY] = {"invalid_idempotency_key",
                                       "The Idempotency-Key header is missing or invalid", 400},
    [PROTO_INVALID_PARAMETER] = {"invalid_parameter", "A query parameter is invalid", 400},
    [PROTO_UNKNOWN_IDENTITY] = {"unknown_identity", "Unknown agency or user", 403},
    [PROTO_FORBIDDEN] = {"forbidden", "Not allowed for this role", 403},
    [PROTO_NOT_FOUND] = {"not_found", "Not found", 404},
    [PROTO_NO_ROUTE] = {"no_route", "No such endpoint", 404},
    [PROTO_METHOD_NOT_ALLOWED] = {"method_not_allowed", "Method not allowed", 405},
    [PROTO_IDEMPOTENCY_CONFLICT] = {"idempotency_conflict",
                                    "Idempotency-Key reused with a different body", 409},
    [PROTO_EXTERNAL_REF_CONFLICT] = {"external_ref_conflict",
                                     "external_ref already names another incident", 409},
    [PROTO_BODY_TOO_LARGE] = {"body_too_large", "The body is too large", 413},
    [PROTO_UNSUPPORTED_MEDIA_TYPE] = {"unsupported_media_type",
                                      "Content-Type must be application/json", 415},
    [PROTO_HEADERS_TOO_LARGE] = {"headers_too_large", "The request headers are too large", 431},
    [PROTO_INTERNAL] = {"internal", "Internal error", 500},
    [PROTO_DATABASE_UNAVAILABLE] = {"database_unavailable", "The database is unavailable", 503},
    [PROTO_DEADLINE_EXCEEDED] = {"deadline_exceeded", "The request took too long", 503},
    [PROTO_INVALID_TRANSITION] = {"invalid_transition", "Not possible in the current state", 409},
    [PROTO_PRECONDITION_FAILED] = {"precondition_failed",
                                   "The resource changed since it was read (If-Match)", 412},
    [PROTO_RULE_VIOLATION] = {"rule_violation", "A business rule refuses this", 422},
    [PROTO_IF_MATCH_REQUIRED] = {"if_match_required", "An If-Match header is required", 428},
    [PROTO_SHUTTING_DOWN] = {"shutting_down", "The server is stopping", 503},
    [PROTO_JUSTIFICATION_REQUIRED] = {"justification_required",
                                      "OFFICIAL-SENSITIVE data needs a stated justification", 403},
    [PROTO_INVALID_HEADER] = {"invalid_header", "A request header is invalid", 400},
};

const char *proto_err_code(enum proto_err e)
{
	return e < PROTO_ERR_COUNT ? errs[e].code : "internal";
}

const char *proto_err_title(enum proto_err e)
{
	return e < PROTO_ERR_COUNT ? errs[e].title : "Internal error";
}

int proto_err_status(enum proto_err e)
{
	return e < PROTO_ERR_COUNT ? errs[e].status : 500;
}

enum proto_err proto_err_from_code(const char *code)
{
	for (int i = 0; code && i < PROTO_ERR_COUNT; i++)
		if (strcmp(errs[i].code, code) == 0)
			return (enum proto_err)i;
	return PROTO_ERR_COUNT;
}

bool schema_fail(struct proto_error *pe, enum proto_err code, const char *field, const char *detail)
{
	pe->code = code;
	snprintf(pe->field, sizeof pe->field, "%s", field ? field : "");
	snprintf(pe->detail, sizeof pe->detail, "%s", detail ? detail : "");
	return false;
}

json_t *proto_problem(const struct proto_error *pe)
{
	char type[128];
	snprintf(type, sizeof type, "https://cdrp.invalid/problems/%s", proto_err_code(pe->code));
	json_t *p =
	    json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", proto_err_title(pe->code),
	              "status", proto_err_status(pe->code), "code", proto_err_code(pe->code));
	if (!p)
		return NULL;
	if (pe->field[0])
		json_object_set_new(p, "field", json_string(pe->field));
	if (pe->detail[0])
		json_object_set_new(p, "detail", json_string(pe->detail));
	return p;
}

/* jansson reports a duplicate key without naming it, at the position just
 * after the key. The text before that position is well-formed JSON, so a
 * small scan over it recovers the path: the key of each enclosing object
 * and the index in each enclosing array, then the duplicate key itself. */
#define PATH_DEPTH_MAX 32
static void duplicate_key_path(const char *buf, size_t pos, char *out, size_t outlen)
{
	struct {
		bool is_array;
		size_t index;
		size_t key_start, key_len; /* the object's current key, raw text */
	} st[PATH_DEPTH_MAX];
	int depth = -1;
	size_t last_start = 0, last_len = 0; /* the last string token */
	for (size_t i = 0; i < pos && buf[i]; i++) {
		char ch = buf[i];
		if (ch == '"') {
			size_t j = i + 1;
			while (j < pos && buf[j] != '"')
				j += buf[j] == '\\' ? 2 : 1;
			last_start = i + 1;
			last_len = j - i - 1;
			i = j;
		} else if (ch == '{' || ch == '[') {
			if (++depth >= PATH_DEPTH_MAX)
				break;
			st[depth].is_array = ch == '[';
			st[depth].index = 0;
			st[depth].key_len = 0;
		} else if (ch == '}' || ch == ']') {
			depth--;
		} else if (depth >= 0 && depth < PATH_DEPTH_MAX && ch == ',' &&
		           st[depth].is_array) {
			st[depth].index++;
		} else if (depth >= 0 && depth < PATH_DEPTH_MAX && ch == ':' &&
		           !st[depth].is_array) {
			st[depth].key_start = last_start;
			st[depth].key_len = last_len;
		}
	}
	size_t n = 0;
	out[0] = '\0';
	/* Every level but the innermost contributes; the innermost object's
	 * "current key" is the duplicate, i.e. the last string token. */
	for (int k = 0; k < depth && k < PATH_DEPTH_MAX && n < outlen; k++) {
		if (st[k].is_array)
			n += (size_t)snprintf(out + n, outlen - n, "[%zu]", st[k].index);
		else
			n += (size_t)snprintf(out + n, outlen - n, "%s%.*s", n ? "." : "",
			                      (int)st[k].key_len, buf + st[k].key_start);
	}
	if (n < outlen)
		snprintf(out + n, outlen - n, "%s%.*s", n ? "." : "", (int)last_len,
		         buf + last_start);
}

json_t *proto_parse_body(const char *buf, size_t len, struct proto_error *pe)
{
	json_error_t err;
	json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	if (!v) {
		if (json_error_code(&err) == json_error_duplicate_key) {
			char key[PROTO_FIELD_PATH_MAX];
			duplicate_key_path(buf, (size_t)err.position, key, sizeof key);
			schema_fail(pe, PROTO_DUPLICATE_FIELD, key,
			            "the same key appears twice in one object");
		} else {
			char detail[160];
			snprintf(detail, sizeof detail, "not valid JSON at line %d, column %d",
			         err.line, err.column);
			schema_fail(pe, PROTO_MALFORMED_JSON, NULL, detail);
		}
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		schema_fail(pe, PROTO_MALFORMED_JSON, NULL, "the body must be a JSON object");
		return NULL;
	}
	return v;
}

bool proto_valid_date(const char *s)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return false;
	int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
	if (y < 1900 || m < 1 || m > 12 || d < 1)
		return false;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return d <= mdays[m - 1] + (m == 2 && leap);
}

static const char *const case_kinds[] = {"asb", "ppo", NULL};
static const char *const subject_types[] = {"individual", "family", "area", NULL};
static const char *const categories[] = {"personal", "nuisance", "environmental", NULL};
static const char *const bands[] = {"standard", "medium", "high", NULL};
static const char *const markings[] = {"OFFICIAL", "OFFICIAL-SENSITIVE", NULL};
static const char *const strands[] = {"deter", "catch_and_convict", "rehabilitate_and_resettle",
                                      NULL};

static const struct field subject_fields[] = {
    {"type", K_ENUM, true, 0, 0, subject_types, NULL},
    {"name", K_STRING, true, 1, 200, NULL, NULL},
    {"date_of_birth", K_DATE, false, 0, 0, NULL, NULL},
    {"address", K_STRING, false, 0, 500, NULL, NULL},
    {"ward", K_STRING, false, 0, 100, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};
static const struct field incident_fields[] = {
    {"occurred_on", K_DATE, true, 0, 0, NULL, NULL},
    {"reported_on", K_DATE, false, 0, 0, NULL, NULL},
    {"category", K_ENUM, true, 0, 0, categories, NULL},
    {"place", K_STRING, true, 1, 500, NULL, NULL},
    {"ward", K_STRING, false, 0, 100, NULL, NULL},
    {"description", K_STRING, false, 0, 4000, NULL, NULL},
    {"victims", K_ARRAY_INT, false, 0, 50, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};
static const struct field victim_fields[] = {
    {"name", K_STRING, true, 1, 200, NULL, NULL},
    {"contact", K_STRING, false, 0, 500, NULL, NULL},
    {"vulnerable", K_BOOL, false, 0, 0, NULL, NULL},
    {"consent_to_share", K_BOOL, false, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};
static const struct field risk_fields[] = {
    {"band", K_ENUM, true, 0, 0, bands, NULL},
    {"summary", K_STRING, false, 0, 4000, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};
static const struct field referral_fields[] = {
    {"case_kind", K_ENUM, true, 0, 0, case_kinds, NULL},
    {"subject", K_OBJECT, true, 0, 0, NULL, subject_fields},
    {"reason", K_STRING, true, 1, 4000, NULL, NULL},
    {"incidents", K_ARRAY_OBJ, false, 0, 100, NULL, incident_fields},
    {"victims", K_ARRAY_OBJ, false, 0, 50, NULL, victim_fields},
    {"risk", K_OBJECT, false, 0, 0, NULL, risk_fields},
    {"requested_action", K_STRING, false, 0, 2000, NULL, NULL},
    {"marking", K_ENUM, false, 0, 0, markings, NULL},
    {"strand", K_ENUM, false, 0, 0, strands, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

const struct field *proto_referral_schema(void)
{
	return referral_fields;
}

size_t proto_choices_text(const char *const *choices, char *out, size_t outlen)
{
	size_t n = 0;

	if (outlen > 0)
		out[0] = '\0';
	for (const char *const *c = choices; c && *c; c++) {
		const char *sep = c == choices ? "" : ", ";
		int w = snprintf(n < outlen ? out + n : NULL, n < outlen ? outlen - n : 0, "%s%s",
		                 sep, *c);

		n += w > 0 ? (size_t)w : 0;
	}
	return n;
}

/* Length in characters of valid UTF-8 (jansson guarantees validity). */
static size_t utf8_len(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static void join_path(char *out, size_t outlen, const char *base, const char *name)
{
	if (base[0])
		snprintf(out, outlen, "%s.%s", base, name);
	else
		snprintf(out, outlen, "%s", name);
}

static bool check_value(json_t *v, const struct field *f, const char *path, const char *today,
                        struct proto_error *pe)
{
	char detail[PROTO_DETAIL_MAX];
	switch (f->kind) {
	case K_STRING:
	case K_ENUM:
	case K_DATE:
	case K_ANYDATE: {
		if (!json_is_string(v))
			return schema_fail(pe, PROTO_INVALID_FIELD, path, "must be a string");
		/* jansson refuses \u0000 unless JSON_ALLOW_NUL, so s is the whole string. */
		const char *s = json_string_value(v);
		if (f->kind == K_DATE || f->kind == K_ANYDATE) {
			if (!proto_valid_date(s))
				return schema_fail(pe, PROTO_INVALID_FIELD, path,
				                   "must be a calendar date YYYY-MM-DD");
			if (f->kind == K_DATE && today && strcmp(s, today) > 0)
				return schema_fail(pe, PROTO_INVALID_FIELD, path,
				                   "must not be in the future");
		} else if (f->kind == K_ENUM) {
			for (const char *const *c = f->choices; *c; c++)
				if (strcmp(*c, s) == 0)
					return true;
			/* The whole list or none of it: a cut list would look
			 * complete and hide the value the user wanted. */
			size_t pre = strlen(PROTO_ENUM_PREFIX);
			memcpy(detail, PROTO_ENUM_PREFIX, pre + 1);
			if (pre +
			        proto_choices_text(f->choices, detail + pre, sizeof detail - pre) >=
			    sizeof detail)
				snprintf(detail, sizeof detail,
				         "must be one of the values proto/API.md lists");
			return schema_fail(pe, PROTO_INVALID_FIELD, path, detail);
		} else {
			size_t n = utf8_len(s);
			if (n < f->min || n > f->max) {
				snprintf(detail, sizeof detail, "must be %zu to %zu characters",
				         f->min, f->max);
				return schema_fail(pe, PROTO_INVALID_FIELD, path, detail);
			}
			if (f->min > 0 && strspn(s, " \t\r\n") == strlen(s))
				return schema_fail(pe, PROTO_INVALID_FIELD, path,
				                   "must not be blank");
		}
		return true;
	}
	case K_BOOL:
		if (!json_is_boolean(v))
			return schema_fail(pe, PROTO_INVALID_FIELD, path, "must be true or false");
		return true;
	case K_INT:
		if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)f->min ||
		    json_integer_value(v) > (json_int_t)f->max) {
			snprintf(detail, sizeof detail, "must be an integer from %zu to %zu",
			         f->min, f->max);
			return schema_fail(pe, PROTO_INVALID_FIELD, path, detail);
		}
		return true;
	case K_BOOL_MAP: {
		if (!json_is_object(v))
			return schema_fail(pe, PROTO_INVALID_FIELD, path, "must be an object");
		if (json_object_size(v) > f->max)
			return schema_fail(pe, PROTO_INVALID_FIELD, path, "has too many entries");
		const char *key;
		json_t *b;
		json_object_foreach(v, key, b)
		{
			char kpath[PROTO_FIELD_PATH_MAX];
			snprintf(kpath, sizeof kpath, "%s.%s", path, key);
			size_t n = strlen(key);
			if (n < 1 || n > 40 ||
			    strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
				return schema_fail(pe, PROTO_INVALID_FIELD, kpath,
				                   "keys must be 1 to 40 of a-z, 0-9 and _");
			if (!json_is_boolean(b))
				return schema_fail(pe, PROTO_INVALID_FIELD, kpath,
				                   "must be true or false");
		}
		return true;
	}
	case K_QBOOL:
	case K_QINT:
	case K_QCURSOR:
		return schema_fail(pe, PROTO_INTERNAL, path, "query kind in a body schema");
	case K_OBJECT:
		if (!json_is_object(v))
			return schema_fail(pe, PROTO_INVALID_FIELD, path, "must be an object");
		return schema_check_object(v, f->sub, path, today, pe);
	case K_ARRAY_OBJ:
	case K_ARRAY_INT:
	case K_ARRAY_STR: {
		if (!json_is_array(v))
			return schema_fail(pe, PROTO_INVALID_FIELD, path, "must be an array");
		if (json_array_size(v) > f->max) {
			snprintf(detail, sizeof detail, "must have at most %zu items", f->max);
			return schema_fail(pe, PROTO_INVALID_FIELD, path, detail);
		}
		if (json_array_size(v) < f->min) {
			snprintf(detail, sizeof detail, "must have at least %zu items", f->min);
			return schema_fail(pe, PROTO_INVALID_FIELD, path, detail);
		}
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item)
		{
			char ipath[PROTO_FIELD_PATH_MAX];
			snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
			if (f->kind == K_ARRAY_STR) {
				/* with choices, every item is one of them */
				const struct field item_schema = {
				    "",  f->choices ? K_ENUM : K_STRING, true, 1, 2000, f->choices,
				    NULL};
				if (!check_value(item, &item_schema, ipath, today, pe))
					return false;
			} else if (f->kind == K_ARRAY_INT) {
				if (!json_is_integer(item) || json_integer_value(item) < 0)
					return schema_fail(pe, PROTO_INVALID_FIELD, ipath,
					                   "must be a non-negative integer");
			} else {
				if (!json_is_object(item))
					return schema_fail(pe, PROTO_INVALID_FIELD, ipath,
					                   "must be an object");
				if (!schema_check_object(item, f->sub, ipath, today, pe))
					return false;
			}
		}
		return true;
	}
	}
	return schema_fail(pe, PROTO_INTERNAL, path, "unknown schema kind");
}

bool schema_check_object(json_t *obj, const struct field *schema, const char *path,
                         const char *today, struct proto_error *pe)
{
	char fpath[PROTO_FIELD_PATH_MAX];
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		const struct field *f = schema;
		while (f->name && strcmp(f->name, key) != 0)
			f++;
		join_path(fpath, sizeof fpath, path, key);
		if (!f->name)
			return schema_fail(pe, PROTO_UNKNOWN_FIELD, fpath,
			                   "this field is not part of the API");
		if (json_is_null(v) && !f->required)
			continue;
		if (!check_value(v, f, fpath, today, pe))
			return false;
	}
	for (const struct field *f = schema; f->name; f++) {
		if (f->required && !json_object_get(obj, f->name)) {
			join_path(fpath, sizeof fpath, path, f->name);
			return schema_fail(pe, PROTO_MISSING_FIELD, fpath,
			                   "this field is required");
		}
	}
	return true;
}

/* Rules across fields, after each field is known to be well-formed. */
static bool check_referral_rules(json_t *body, struct proto_error *pe)
{
	const char *kind = json_string_value(json_object_get(body, "case_kind"));
	json_t *strand = json_object_get(body, "strand");
	if (strand && !json_is_null(strand) && strcmp(kind, "ppo") != 0)
		return schema_fail(pe, PROTO_INVALID_FIELD, "strand",
		                   "only PPO referrals have a strand");
	json_t *subject = json_object_get(body, "subject");
	json_t *dob = json_object_get(subject, "date_of_birth");
	if (dob && !json_is_null(dob) &&
	    strcmp(json_string_value(json_object_get(subject, "type")), "individual") != 0)
		return schema_fail(pe, PROTO_INVALID_FIELD, "subject.date_of_birth",
		                   "only an individual has a date of birth");
	json_t *victims = json_object_get(body, "victims");
	size_t nvictims = json_is_array(victims) ? json_array_size(victims) : 0;
	json_t *incidents = json_object_get(body, "incidents");
	size_t i;
	json_t *inc;
	json_array_foreach(incidents, i, inc)
	{
		char path[PROTO_FIELD_PATH_MAX];
		const char *occ = json_string_value(json_object_get(inc, "occurred_on"));
		const char *rep = json_string_value(json_object_get(inc, "reported_on"));
		if (rep && strcmp(rep, occ) < 0) {
			snprintf(path, sizeof path, "incidents[%zu].reported_on", i);
			return schema_fail(pe, PROTO_INVALID_FIELD, path,
			                   "must not be before occurred_on");
		}
		size_t j;
		json_t *vi;
		json_array_foreach(json_object_get(inc, "victims"), j, vi)
		{
			if ((size_t)json_integer_value(vi) >= nvictims) {
				snprintf(path, sizeof path, "incidents[%zu].victims[%zu]", i, j);
				return schema_fail(pe, PROTO_INVALID_FIELD, path,
				                   "must be the index of an entry in victims");
			}
		}
	}
	return true;
}

bool proto_validate_referral(json_t *body, const char *today, struct proto_error *pe)
{
	if (!json_is_object(body))
		return schema_fail(pe, PROTO_MALFORMED_JSON, NULL,
		                   "the body must be a JSON object");
	if (!schema_check_object(body, referral_fields, "", today, pe))
		return false;
	return check_referral_rules(body, pe);
}

bool proto_valid_idempotency_key(const char *key, struct proto_error *pe)
{
	if (!key || !key[0])
		return schema_fail(pe, PROTO_INVALID_IDEMPOTENCY_KEY, "Idempotency-Key",
		                   "the Idempotency-Key header is required");
	size_t n = strlen(key);
	if (n > PROTO_IDEMPOTENCY_KEY_MAX)
		return schema_fail(pe, PROTO_INVALID_IDEMPOTENCY_KEY, "Idempotency-Key",
		                   "must be at most 200 characters");
	for (size_t i = 0; i < n; i++)
		if (key[i] < 0x21 || key[i] > 0x7e)
			return schema_fail(pe, PROTO_INVALID_IDEMPOTENCY_KEY, "Idempotency-Key",
			                   "must be printable ASCII without spaces");
	return true;
}

bool proto_valid_partnership(const char *code, struct proto_error *pe)
{
	size_t n = code ? strlen(code) : 0;
	if (n < 2 || n > 16 || strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != n)
		return schema_fail(pe, PROTO_INVALID_HEADER, PROTO_PARTNERSHIP_HEADER,
		                   "must be a partnership code: 2 to 16 of A-Z and 0-9");
	return true;
}

bool proto_valid_justification(const char *why, struct proto_error *pe)
{
	size_t n = why ? strlen(why) : 0;
	if (n < PROTO_JUSTIFICATION_MIN || n > PROTO_JUSTIFICATION_MAX)
		return schema_fail(pe, PROTO_INVALID_HEADER, PROTO_JUSTIFICATION_HEADER,
		                   "must be 10 to 500 bytes saying why you need the data");
	json_t *s = json_stringn(why, n); /* NULL unless valid UTF-8 */
	json_decref(s);
	bool ctl = false;
	for (size_t i = 0; i < n; i++)
		ctl |= (unsigned char)why[i] < 0x20 || why[i] == 0x7f;
	if (!s || ctl)
		return schema_fail(pe, PROTO_INVALID_HEADER, PROTO_JUSTIFICATION_HEADER,
		                   "must be UTF-8 text without control characters");
	return true;
}

static const char *const referral_statuses[] = {"submitted", "info_requested", "accepted",
                                                "declined",  "withdrawn",      NULL};

bool proto_parse_list_query(const char *status, const char *limit, const char *cursor,
                            struct proto_list_query *q, struct proto_error *pe)
{
	q->status = NULL;
	q->limit = PROTO_LIST_LIMIT_DEFAULT;
	q->after_id = 0;
	if (status) {
		for (const char *const *s = referral_statuses; *s; s++)
			if (strcmp(*s, status) == 0)
				q->status = *s;
		if (!q->status) {
			char detail[PROTO_DETAIL_MAX];
			size_t pre = strlen(PROTO_ENUM_PREFIX);

			memcpy(detail, PROTO_ENUM_PREFIX, pre + 1);
			proto_choices_text(referral_statuses, detail + pre, sizeof detail - pre);
			return schema_fail(pe, PROTO_INVALID_PARAMETER, "status", detail);
		}
	}
	if (limit) {
		char *end;
		long n = strtol(limit, &end, 10);
		if (!*limit || *end || n < 1 || n > PROTO_LIST_LIMIT_MAX)
			return schema_fail(pe, PROTO_INVALID_PARAMETER, "limit",
			                   "must be 1 to 200");
		q->limit = (int)n;
	}
	if (cursor) {
		/* Same form as cdrp.cursor_encode() in sql/code/002_api.sql. */
		char *end = NULL;
		long long id = cursor[0] == 'c' ? strtoll(cursor + 1, &end, 10) : 0;
		if (id <= 0 || !end || *end)
			return schema_fail(pe, PROTO_INVALID_PARAMETER, "cursor",
			                   "not a cursor returned by this API");
		q->after_id = id;
	}
	return true;
}

char *proto_canonical(const json_t *v)
{
	return json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
}
