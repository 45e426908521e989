/* test_tls.c: identity extraction from client certificates (subject O =
 * agency code, CN = user), on certificates built in memory. */
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

Suite *tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("identity");
	tcase_add_test(tc, agency_and_user);
	tcase_add_test(tc, refused_names);
	suite_add_tcase(s, tc);
	return s;
}
