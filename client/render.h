/* render.h: cdrp's human-readable output of API answers. */
#ifndef CDRP_RENDER_H
#define CDRP_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#define RENDER_WUR __attribute__((warn_unused_result))

/* Copy of s that is safe to print on a terminal: control characters
 * (but newline and tab when `multiline`), C1 controls and bidi overrides
 * become '?'. NULL when out of memory. */
char *render_clean(const char *s, bool multiline) RENDER_WUR;

/* Write s to out made safe as with render_clean. */
void render_safe(FILE *out, const char *s);

/* Pieces of the key/value layout: "  Label:   value" lines, section
 * headings ("Title", "Title: none", "Title (3)"), a value (strings made
 * safe, null as "-", booleans as yes/no). */
void render_value(FILE *out, int indent, const json_t *v);
void render_label(FILE *out, int indent, const char *label);
void render_kv(FILE *out, int indent, const char *label, const json_t *v);
void render_section(FILE *out, const char *title, size_t count, bool counted);

/* The value at a dotted path ("caseworker.cn") of an object, or NULL. */
const json_t *render_path(const json_t *v, const char *path);
/* A value as one short, safe line ("-" for null, lists joined by ", ",
 * a user as "CN (AGENCY)"); caller frees; NULL when out of memory. */
char *render_cell(const json_t *v) RENDER_WUR;

/* A table of `items` with these columns (title and dotted path), indented;
 * columns that no item has are left out. -1 when out of memory. */
struct render_col {
	const char *title;
	const char *path;
};
int render_table_cols(FILE *out, int indent, const json_t *items, const struct render_col *cols,
                      size_t ncols) RENDER_WUR;
/* The same two, printed; "(out of memory)" in place of what cannot be. */
void render_cell_out(FILE *out, const json_t *v);
void render_table_out(FILE *out, int indent, const json_t *items, const struct render_col *cols,
                      size_t ncols);

/* A referral as returned by GET /v1/referrals/{id}, as a readable page. */
void render_referral(FILE *out, const json_t *r);

/* The items of GET /v1/referrals as a table; -1 when out of memory. */
int render_table(FILE *out, const json_t *items) RENDER_WUR;

/* Casework answers (render_case.c); each writes to stdout. */
void render_referral_decision(const json_t *r);
void render_case(const json_t *c);
void render_case_change(const json_t *c);
void render_cases(const json_t *list);
void render_history(const json_t *h);
void render_note(const json_t *n);
void render_notes(const json_t *list);
void render_person_link(const json_t *p);
void render_incident(const json_t *i);
void render_incidents(const json_t *list);
void render_victims(const json_t *list);
void render_flag(const json_t *f);
void render_case_review_check(const json_t *cr);
void render_questionnaire(const json_t *q);
void render_risk(const json_t *r);
void render_action(const json_t *a);
void render_application(const json_t *a);
void render_stats(const json_t *s);
void render_legal_hold(const json_t *h);
/* Agreements and administration (render_case.c); each writes to stdout. */
void render_isa(const json_t *isa);
void render_isa_change(const json_t *isa);
void render_isas(const json_t *list);
void render_agency(const json_t *a);
void render_agencies(const json_t *list);
void render_user(const json_t *u);
void render_users(const json_t *list);
void render_retention(const json_t *r);
/* Any object as "Label: value" lines (nested objects indented). */
void render_object(FILE *out, int indent, const json_t *obj);

#endif
