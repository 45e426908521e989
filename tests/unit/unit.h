/* unit.h: the Check suites of the unit test binary (tests/unit/). */
#ifndef CDRP_UNIT_H
#define CDRP_UNIT_H
#include <check.h>
Suite *proto_suite(void);
Suite *config_suite(void);
Suite *tls_suite(void);
Suite *casework_suite(void);
Suite *merkle_suite(void);
Suite *enums_suite(void);
#endif
