/* schema.h: the table-driven JSON schema used by proto.c and casework.c
 * (internal to proto/). A NULL-terminated array of `struct field`
 * describes one object; validation refuses unknown fields and names the
 * path of the first fault. */
#ifndef CDRP_SCHEMA_H
#define CDRP_SCHEMA_H

#include "proto.h"

enum kind {
	K_STRING,  /* min..max characters, not blank when min > 0 */
	K_ENUM,    /* one of choices */
	K_DATE,    /* calendar date, not after today */
	K_ANYDATE, /* calendar date, future allowed (due dates) */
	K_BOOL,
	K_INT,       /* integer in min..max */
	K_OBJECT,    /* sub describes it */
	K_ARRAY_OBJ, /* up to max objects described by sub */
	K_ARRAY_INT, /* up to max positive... non-negative integers */
	K_ARRAY_STR, /* min..max strings of 1..2000 characters, or of choices */
	K_BOOL_MAP,  /* object of up to max keys [a-z0-9_]{1,40} -> boolean */
	/* query-string kinds: the value arrives as a string and is converted */
	K_QBOOL,   /* "true"/"false" -> boolean */
	K_QINT,    /* decimal in min..max -> integer */
	K_QCURSOR, /* an opaque cursor -> integer (the id to continue after) */
};

struct field {
	const char *name;
	enum kind kind;
	bool required;
	size_t min, max;            /* characters, array size or integer range */
	const char *const *choices; /* K_ENUM */
	const struct field *sub;    /* K_OBJECT, K_ARRAY_OBJ */
};

bool schema_fail(struct proto_error *pe, enum proto_err code, const char *field,
                 const char *detail);
bool schema_check_object(json_t *obj, const struct field *schema, const char *path,
                         const char *today, struct proto_error *pe);

#endif
