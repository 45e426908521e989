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

/* A referral as returned by GET /v1/referrals/{id}, as a readable page. */
void render_referral(FILE *out, const json_t *r);

/* The items of GET /v1/referrals as a table; -1 when out of memory. */
int render_table(FILE *out, const json_t *items) RENDER_WUR;

#endif
