/* test_tls.c: identity extraction from client certificates (subject O =
 * agency code, CN = user), on certificates built in memory; the CRL
 * validity check on CRLs built in memory. */
#include "cdrpd.h"
#include "unit.h"

#include <openssl/x509.h>

/* A certificate whose subject has the given (nid, value) entries. */
static X509 *cert_with(const int *nids, const char *const *values, int n)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	for (int i = 0; i < n; i++)
		ck_assert(X509_NAME_add_entry_by_NID(name, nids[i], MBSTRING_UTF8,
		                                     (const unsigned char *)values[i], -1, -1, 0));
	ck_assert(X509_set_subject_name(x, name));
	X509_NAME_free(name);
	return x;
}

static bool identity(const int *nids, const char *const *values, int n, struct tls_identity *id)
{
	X509 *x = cert_with(nids, values, n);
	bool ok = tls_identity_from_cert(x, id);
	X509_free(x);
	return ok;
}

static const int O_CN[] = {NID_organizationName, NID_commonName};

START_TEST(agency_and_user)
{
	struct tls_identity id;
	const char *v[] = {"HMPOL", "Dana Whitlock"};
	ck_assert(identity(O_CN, v, 2, &id));
	ck_assert_str_eq(id.agency, "HMPOL");
	ck_assert_str_eq(id.user, "Dana Whitlock");
	const char *utf8[] = {"HMDC", "Zo\xc3\xab \xc3\x93g"};
	ck_assert(identity(O_CN, utf8, 2, &id));
	ck_assert_str_eq(id.user, "Zo\xc3\xab \xc3\x93g");
}
END_TEST

START_TEST(refused_names)
{
	struct tls_identity id;
	const char *lower[] = {"hmpol", "Dana"};
	ck_assert(!identity(O_CN, lower, 2, &id));
	const char *one[] = {"H", "Dana"};
	ck_assert(!identity(O_CN, one, 2, &id));
	const char *ctrl[] = {"HMPOL", "Dana\nadmin"};
	ck_assert(!identity(O_CN, ctrl, 2, &id));
	const char *c1[] = {"HMPOL", "Dana\xc2\x85"};
	ck_assert(!identity(O_CN, c1, 2, &id));
	const char *bidi[] = {"HMPOL", "Dana \xe2\x80\xae"
	                               "nimda"};
	ck_assert(!identity(O_CN, bidi, 2, &id));
	const char *isolate[] = {"HMPOL", "Dana\xe2\x81\xa6"};
	ck_assert(!identity(O_CN, isolate, 2, &id));
	const int only_cn[] = {NID_commonName};
	const char *cn[] = {"Dana"};
	ck_assert(!identity(only_cn, cn, 1, &id));
	/* two O entries: which agency? refuse */
	const int two_o[] = {NID_organizationName, NID_organizationName, NID_commonName};
	const char *v2[] = {"HMPOL", "HMDC", "Dana"};
	ck_assert(!identity(two_o, v2, 3, &id));
	const int two_cn[] = {NID_organizationName, NID_commonName, NID_commonName};
	const char *v3[] = {"HMPOL", "Dana", "Sam"};
	ck_assert(!identity(two_cn, v3, 3, &id));
	ck_assert(!tls_identity_from_cert(NULL, &id));
}
END_TEST

/* 2026-03-01 12:00:00 UTC */
#define NOW ((time_t)1772366400)
#define DAY ((time_t)86400)

/* A CRL with lastUpdate NOW + last and, unless has_next is false,
 * nextUpdate NOW + next; not signed, since only its dates matter here. */
static enum tls_crl_status crl_status(time_t last, bool has_next, time_t next, time_t *nu,
                                      char *when, size_t whenlen)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_set(NULL, NOW + last);
	ck_assert(crl && t && X509_CRL_set1_lastUpdate(crl, t));
	if (has_next) {
		ck_assert(ASN1_TIME_set(t, NOW + next));
		ck_assert(X509_CRL_set1_nextUpdate(crl, t));
	}
	enum tls_crl_status st = tls_crl_status(crl, NOW, nu, when, whenlen);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	return st;
}

START_TEST(crl_validity)
{
	char when[64];
	time_t nu;
	ck_assert_int_eq(crl_status(-DAY, true, 30 * DAY, &nu, when, sizeof when), TLS_CRL_CURRENT);
	ck_assert_int_eq(nu, NOW + 30 * DAY);
	ck_assert_str_eq(when, "2026-03-31 12:00:00 UTC");
	/* the warning starts 7 days before nextUpdate */
	ck_assert_int_eq(crl_status(-DAY, true, 7 * DAY, &nu, when, sizeof when), TLS_CRL_CURRENT);
	ck_assert_int_eq(crl_status(-DAY, true, 7 * DAY - 1, &nu, when, sizeof when),
	                 TLS_CRL_EXPIRING);
	ck_assert_int_eq(crl_status(-DAY, true, 0, &nu, when, sizeof when), TLS_CRL_EXPIRING);
	/* one second past nextUpdate */
	ck_assert_int_eq(crl_status(-30 * DAY, true, -1, &nu, when, sizeof when), TLS_CRL_EXPIRED);
	ck_assert_int_eq(nu, NOW - 1);
	ck_assert_str_eq(when, "2026-03-01 11:59:59 UTC");
	ck_assert_int_eq(crl_status(-60 * DAY, true, -30 * DAY, &nu, when, sizeof when),
	                 TLS_CRL_EXPIRED);
	/* issued in the future (a clock off, or a CRL dated ahead) */
	ck_assert_int_eq(crl_status(DAY, true, 30 * DAY, &nu, when, sizeof when),
	                 TLS_CRL_NOT_YET_VALID);
	ck_assert_str_eq(when, "2026-03-02 12:00:00 UTC");
	/* no nextUpdate: OpenSSL accepts it for ever */
	ck_assert_int_eq(crl_status(-DAY, false, 0, &nu, when, sizeof when), TLS_CRL_CURRENT);
	ck_assert_int_eq(nu, 0);
	ck_assert_str_eq(when, "none");
}
END_TEST

Suite *tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("identity");
	tcase_add_test(tc, agency_and_user);
	tcase_add_test(tc, refused_names);
	suite_add_tcase(s, tc);
	TCase *crl = tcase_create("crl");
	tcase_add_test(crl, crl_validity);
	suite_add_tcase(s, crl);
	return s;
}
