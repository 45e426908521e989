/* test_config.c: cdrpd's config file parser. */
#include "cdrpd.h"
#include "unit.h"

#include <string.h>

#define REQUIRED                                                                                   \
	"tls_cert = /c.crt\ntls_key = /c.key\ntls_ca = /ca.crt\ntls_crl = /crl.pem\n"              \
	"database = host=/run dbname=cdrp\n"                                                       \
	"audit_signing_key = /audit.key\naudit_checkpoint_file = /audit-checkpoints\n"

static bool parse(const char *text, struct cfg *c, char *err, size_t errlen)
{
	cfg_defaults(c);
	err[0] = '\0';
	return cfg_parse(text, c, err, errlen);
}

START_TEST(defaults_and_required)
{
	struct cfg c;
	char err[256];
	ck_assert(parse(REQUIRED, &c, err, sizeof err));
	ck_assert_str_eq(c.listen_host, "127.0.0.1");
	ck_assert_int_eq(c.listen_port, 8443);
	ck_assert_int_eq(c.pool_size, 4);
	ck_assert_uint_eq(c.max_body_bytes, 65536);
	ck_assert_uint_eq(c.max_header_bytes, 8192);
	ck_assert_int_eq(c.request_deadline_ms, 5000);
	ck_assert_str_eq(c.database, "host=/run dbname=cdrp");
	ck_assert(!parse("tls_cert = /c.crt\n", &c, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "missing required key"));
	/* revocation checking is not optional */
	ck_assert(!parse("tls_cert = /c\ntls_key = /k\ntls_ca = /a\ndatabase = x\n", &c, err,
	                 sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "missing required key 'tls_crl'"));
	ck_assert_ptr_null(strstr(err, "'tls_cert'"));
	/* nor is signing the audit log's checkpoints */
	ck_assert(!parse("tls_cert = /c\ntls_key = /k\ntls_ca = /a\ntls_crl = /r\ndatabase = x\n"
	                 "audit_checkpoint_file = /f\n",
	                 &c, err, sizeof err));
	ck_assert_str_eq(err, "missing required key 'audit_signing_key'"); /* only that */
	ck_assert_int_eq(c.group_commit_max, 32);
	ck_assert_int_eq(c.audit_seal_interval_ms, 250);
}
END_TEST

START_TEST(values_comments_and_blank_lines)
{
	struct cfg c;
	char err[256];
	ck_assert(parse("# comment\n\n  listen = [::1]:0 \n" REQUIRED
	                "pool_size=16 # trailing\nlog_level = debug\nlog_target = syslog\n"
	                "max_body_bytes = 1024\n",
	                &c, err, sizeof err));
	ck_assert_str_eq(c.listen_host, "::1");
	ck_assert_int_eq(c.listen_port, 0);
	ck_assert_int_eq(c.pool_size, 16);
	ck_assert_int_eq(c.log_level, LL_DEBUG);
	ck_assert(c.log_syslog);
	ck_assert_uint_eq(c.max_body_bytes, 1024);
}
END_TEST

START_TEST(errors_name_the_line)
{
	struct cfg c;
	char err[256];
	ck_assert(!parse(REQUIRED "\n\ncolour = blue\n", &c, err, sizeof err));
	ck_assert_str_eq(err, "line 10: unknown key 'colour'");
	ck_assert(!parse("pool_size = 0\n" REQUIRED, &c, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "line 1: pool_size must be an integer from 1 to 64"));
	ck_assert(!parse("pool_size = 4x\n", &c, err, sizeof err));
	ck_assert(!parse("listen = 127.0.0.1\n", &c, err, sizeof err));
	ck_assert(!parse("listen = 127.0.0.1:70000\n", &c, err, sizeof err));
	ck_assert(!parse("log_level = loud\n", &c, err, sizeof err));
	ck_assert(!parse("just words\n" REQUIRED, &c, err, sizeof err));
	ck_assert_str_eq(err, "line 1: expected key = value");
}
END_TEST

/* cdrpd -t and startup report every error, one per line, not the first. */
START_TEST(every_error_is_reported)
{
	struct cfg c;
	char err[512];
	ck_assert(!parse("colour = blue\npool_size = 0\nno equals\n", &c, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "line 1: unknown key 'colour'\n"));
	ck_assert_ptr_nonnull(strstr(err, "line 2: pool_size must be an integer from 1 to 64\n"));
	ck_assert_ptr_nonnull(strstr(err, "line 3: expected key = value\n"));
	ck_assert_ptr_nonnull(strstr(err, "missing required key 'tls_cert'"));
	ck_assert_ptr_nonnull(strstr(err, "missing required key 'audit_checkpoint_file'"));
	ck_assert(!parse(REQUIRED "admin_listen = 0.0.0.0:9000\n", &c, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "admin_listen must be a loopback address"));
	ck_assert(parse(REQUIRED "admin_listen = 127.0.0.1:9000\nidempotency_key_ttl_s = 2\n", &c,
	                err, sizeof err));
	ck_assert_str_eq(c.admin_host, "127.0.0.1");
	ck_assert_int_eq(c.admin_port, 9000);
	ck_assert_int_eq(c.idempotency_key_ttl_s, 2);
}
END_TEST

START_TEST(handshake_limits)
{
	struct cfg c;
	char err[256];
	ck_assert(parse(REQUIRED, &c, err, sizeof err));
	ck_assert_int_eq(c.max_connections, 256);
	ck_assert_int_eq(c.max_handshakes, 256);
	ck_assert_int_eq(c.tls_handshake_timeout_ms, 3000);
	ck_assert_int_eq(c.handshake_timeout_s, 10);
	ck_assert(parse(REQUIRED "max_handshakes = 4\ntls_handshake_timeout_ms = 500\n", &c, err,
	                sizeof err));
	ck_assert_int_eq(c.max_handshakes, 4);
	ck_assert_int_eq(c.tls_handshake_timeout_ms, 500);
	/* bounds, inclusive */
	ck_assert(parse(REQUIRED "max_handshakes = 1\ntls_handshake_timeout_ms = 100\n", &c, err,
	                sizeof err));
	ck_assert(parse(REQUIRED "max_handshakes = 10000\ntls_handshake_timeout_ms = 60000\n", &c,
	                err, sizeof err));
	ck_assert_int_eq(c.max_handshakes, 10000);
	ck_assert_int_eq(c.tls_handshake_timeout_ms, 60000);
	ck_assert(!parse(REQUIRED "max_handshakes = 0\n", &c, err, sizeof err));
	ck_assert_str_eq(err, "line 8: max_handshakes must be an integer from 1 to 10000");
	ck_assert(!parse(REQUIRED "max_handshakes = 10001\n", &c, err, sizeof err));
	ck_assert(!parse(REQUIRED "max_handshakes = -5\n", &c, err, sizeof err));
	ck_assert(!parse(REQUIRED "tls_handshake_timeout_ms = 99\n", &c, err, sizeof err));
	ck_assert_str_eq(err,
	                 "line 8: tls_handshake_timeout_ms must be an integer from 100 to 60000");
	ck_assert(!parse(REQUIRED "tls_handshake_timeout_ms = 60001\n", &c, err, sizeof err));
	ck_assert(!parse(REQUIRED "tls_handshake_timeout_ms = 3s\n", &c, err, sizeof err));
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, defaults_and_required);
	tcase_add_test(tc, values_comments_and_blank_lines);
	tcase_add_test(tc, errors_name_the_line);
	tcase_add_test(tc, every_error_is_reported);
	tcase_add_test(tc, handshake_limits);
	suite_add_tcase(s, tc);
	return s;
}
