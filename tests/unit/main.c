/* main.c: runs every unit suite; exit status is the number of failures. */
#include "unit.h"

#include <stdlib.h>

int main(void)
{
	SRunner *sr = srunner_create(proto_suite());
	srunner_add_suite(sr, config_suite());
	srunner_add_suite(sr, tls_suite());
	srunner_add_suite(sr, casework_suite());
	srunner_add_suite(sr, merkle_suite());
	srunner_add_suite(sr, enums_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
