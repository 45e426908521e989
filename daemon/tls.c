/* tls.c: the server's TLS context (mutual TLS, CRL checked at the
 * handshake), the CRL's validity period, and the caller's identity taken
 * from its verified certificate: subject O = agency code, CN = user. */
#include "cdrpd.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

/* TLS 1.2 suites: ECDHE (forward secrecy) with AEAD ciphers only. TLS 1.3's
 * suites are all AEAD and forward-secret; OpenSSL's default list is kept. */
#define TLS12_CIPHERS                                                                              \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_VERIFY_DEPTH 4

static void openssl_error(char *err, size_t errlen, const char *what, const char *path)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "unknown error";
	if (e)
		ERR_error_string_n(e, buf, sizeof buf);
	snprintf(err, errlen, "%s %s: %s", what, path, buf);
	ERR_clear_error();
}

void tls_format_time(time_t t, char *out, size_t outlen)
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(out, outlen, "?");
}

/* An ASN1_TIME as seconds since the epoch. */
static bool asn1_time_t(const ASN1_TIME *a, time_t *out)
{
	struct tm tm;
	if (!a || ASN1_TIME_to_tm(a, &tm) != 1)
		return false;
	*out = timegm(&tm);
	return true;
}

enum tls_crl_status tls_crl_status(const X509_CRL *crl, time_t now, time_t *next_update, char *when,
                                   size_t whenlen)
{
	time_t last = 0, next = 0;
	*next_update = 0;
	if (asn1_time_t(X509_CRL_get0_lastUpdate(crl), &last) && last > now) {
		tls_format_time(last, when, whenlen);
		return TLS_CRL_NOT_YET_VALID;
	}
	/* No nextUpdate: OpenSSL accepts the CRL for ever. */
	if (!asn1_time_t(X509_CRL_get0_nextUpdate(crl), &next)) {
		snprintf(when, whenlen, "none");
		return TLS_CRL_CURRENT;
	}
	*next_update = next;
	tls_format_time(next, when, whenlen);
	if (next < now)
		return TLS_CRL_EXPIRED;
	return next - now < TLS_CRL_WARN_S ? TLS_CRL_EXPIRING : TLS_CRL_CURRENT;
}

/* `name` in one line (RFC 2253, UTF-8 kept, controls escaped). */
static void name_line(const X509_NAME *name, char *out, size_t outlen)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;
	snprintf(out, outlen, "?");
	if (mem && X509_NAME_print_ex(mem, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_get_mem_data(mem, &p)) > 0)
		snprintf(out, outlen, "%.*s", (int)n, p);
	BIO_free(mem);
}

/* Whether one of the CAs in `cas` issued `crl`: same name as its issuer,
 * and its key verifies the CRL's signature. */
static bool crl_issuer_known(X509_CRL *crl, STACK_OF(X509) * cas, bool *name_seen)
{
	const X509_NAME *issuer = X509_CRL_get_issuer(crl);
	*name_seen = false;
	for (int i = 0; i < sk_X509_num(cas); i++) {
		X509 *ca = sk_X509_value(cas, i);
		if (X509_NAME_cmp(X509_get_subject_name(ca), issuer) != 0)
			continue;
		*name_seen = true;
		EVP_PKEY *key = X509_get0_pubkey(ca);
		if (key && X509_CRL_verify(crl, key) == 1)
			return true;
	}
	ERR_clear_error();
	return false;
}

/* Every CRL in `path` into `store`, one per CA of the chain (several during
 * a CA changeover: both CAs in tls_ca, both CRLs in tls_crl). The file is
 * refused if any CRL is outside its validity period or was not issued by a
 * CA in `store` (loaded from `ca_path`); `next_update` is the earliest
 * nextUpdate, 0 if none has one. */
static bool load_crl(X509_STORE *store, const char *path, const char *ca_path, time_t *next_update,
                     char *err, size_t errlen)
{
	bool ok = false;
	STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
	STACK_OF(X509) *cas = NULL;
	X509_CRL *crl = NULL;
	*next_update = 0;
	ERR_clear_error();
	if (!crls)
		log_fatal("out of memory");
	BIO *bio = BIO_new_file(path, "r");
	if (!bio) {
		openssl_error(err, errlen, "cannot open CRL", path);
		goto out;
	}
	while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL))) {
		if (!sk_X509_CRL_push(crls, crl))
			log_fatal("out of memory");
	}
	if (sk_X509_CRL_num(crls) == 0) {
		openssl_error(err, errlen, "cannot parse CRL", path);
		goto out;
	}
	/* The end of the file reads as "no start line"; anything else is a
	 * damaged CRL after the good ones. */
	unsigned long e = ERR_peek_last_error();
	if (e && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
		char what[64];
		snprintf(what, sizeof what, "cannot parse CRL %d in", sk_X509_CRL_num(crls) + 1);
		openssl_error(err, errlen, what, path);
		goto out;
	}
	ERR_clear_error();
	cas = X509_STORE_get1_all_certs(store);
	if (!cas)
		log_fatal("out of memory");

	int n = sk_X509_CRL_num(crls);
	for (int i = 0; i < n; i++) {
		crl = sk_X509_CRL_value(crls, i);
		char issuer[256], when[64];
		time_t next = 0;
		bool name_seen;
		name_line(X509_CRL_get_issuer(crl), issuer, sizeof issuer);
		/* OpenSSL would load an expired CRL and then fail every handshake
		 * (of that CA's certificates) with "CRL has expired": say so now,
		 * naming the file, the CRL and the date. */
		switch (tls_crl_status(crl, time(NULL), &next, when, sizeof when)) {
		case TLS_CRL_EXPIRED:
			if (n == 1)
				snprintf(
				    err, errlen,
				    "CRL %s expired: its nextUpdate was %s; every client handshake "
				    "would fail. Issue a new CRL from the CA",
				    path, when);
			else
				snprintf(
				    err, errlen,
				    "CRL %s: CRL %d of %d (issuer %s) expired: its nextUpdate was "
				    "%s; "
				    "every client handshake with a certificate from that CA would "
				    "fail. Issue a new CRL from that CA",
				    path, i + 1, n, issuer, when);
			goto out;
		case TLS_CRL_NOT_YET_VALID:
			if (n == 1)
				snprintf(
				    err, errlen,
				    "CRL %s is not valid yet: its lastUpdate is %s; every client "
				    "handshake would fail. Check the clocks of this host and the "
				    "CA",
				    path, when);
			else
				snprintf(
				    err, errlen,
				    "CRL %s: CRL %d of %d (issuer %s) is not valid yet: its "
				    "lastUpdate "
				    "is %s; every client handshake with a certificate from that CA "
				    "would fail. Check the clocks of this host and that CA",
				    path, i + 1, n, issuer, when);
			goto out;
		case TLS_CRL_CURRENT:
		case TLS_CRL_EXPIRING:
			break;
		}
		if (!crl_issuer_known(crl, cas, &name_seen)) {
			/* "CRL FILE" or "CRL FILE: CRL 2 of 3". */
			char at[32] = "";
			if (n > 1)
				snprintf(at, sizeof at, ": CRL %d of %d", i + 1, n);
			const char *why = name_seen
			                      ? "is not signed by the key of the CA of that name in"
			                      : "was not issued by a CA in";
			snprintf(err, errlen, "CRL %s%s (issuer %s) %s %s (tls_ca)", path, at,
			         issuer, why, ca_path);
			goto out;
		}
		if (next && (!*next_update || next < *next_update))
			*next_update = next;
	}
	for (int i = 0; i < n; i++)
		if (!X509_STORE_add_crl(store, sk_X509_CRL_value(crls, i))) {
			openssl_error(err, errlen, "cannot use CRL", path);
			goto out;
		}
	/* Every certificate of the chain, intermediates too. */
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	ok = true;
out:
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	sk_X509_pop_free(cas, X509_free);
	BIO_free(bio);
	if (!ok)
		*next_update = 0;
	return ok;
}

SSL_CTX *tls_server_ctx(const struct cfg *c, time_t *crl_next_update, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	STACK_OF(X509_NAME) *cas = NULL;
	if (!ctx)
		log_fatal("SSL_CTX_new failed");
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS))
		log_fatal("cannot set TLS protocol or ciphers");
	/* No compression (CRIME), no renegotiation, no session resumption: every
	 * connection is verified against the current CA and CRL. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* SSL_OP_NO_TICKET alone still lets TLS 1.3 send (stateful)
	 * NewSessionTickets: send none at all. */
	if (!SSL_CTX_set_num_tickets(ctx, 0))
		log_fatal("cannot turn off TLS 1.3 session tickets");
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);

	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1) {
		openssl_error(err, errlen, "cannot load certificate", c->tls_cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) != 1) {
		openssl_error(err, errlen, "cannot load key", c->tls_key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		openssl_error(err, errlen, "key does not match certificate", c->tls_key);
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, c->tls_ca, NULL) != 1) {
		openssl_error(err, errlen, "cannot load CA", c->tls_ca);
		goto fail;
	}
	cas = SSL_load_client_CA_file(c->tls_ca);
	if (!cas) {
		openssl_error(err, errlen, "no CA names in", c->tls_ca);
		goto fail;
	}
	SSL_CTX_set_client_CA_list(ctx, cas);
	if (!load_crl(SSL_CTX_get_cert_store(ctx), c->tls_crl, c->tls_ca, crl_next_update, err,
	              errlen))
		goto fail;
	SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, TLS_VERIFY_DEPTH);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* The only entry for `nid` in `name`, as UTF-8 without control characters. */
static bool name_entry(X509_NAME *name, int nid, char *out, size_t outlen)
{
	bool ok = false;
	unsigned char *utf8 = NULL;
	int idx = X509_NAME_get_index_by_NID(name, nid, -1);
	if (idx < 0 || X509_NAME_get_index_by_NID(name, nid, idx) >= 0)
		goto out;
	ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
	int n = ASN1_STRING_to_UTF8(&utf8, s);
	if (n <= 0 || (size_t)n >= outlen)
		goto out;
	for (int i = 0; i < n; i++) {
		/* C0 and C1 controls, and bidirectional overrides and isolates
		 * (U+202A-U+202E, U+2066-U+2069), which can disguise a name. */
		const unsigned char *u = utf8 + i;
		if (u[0] < 0x20 || u[0] == 0x7f)
			goto out;
		if (i + 1 < n && u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f)
			goto out;
		if (i + 2 < n && u[0] == 0xe2 &&
		    ((u[1] == 0x80 && u[2] >= 0xaa && u[2] <= 0xae) ||
		     (u[1] == 0x81 && u[2] >= 0xa6 && u[2] <= 0xa9)))
			goto out;
	}
	memcpy(out, utf8, (size_t)n);
	out[n] = '\0';
	ok = true;
out:
	OPENSSL_free(utf8);
	return ok;
}

bool tls_identity_from_cert(X509 *cert, struct tls_identity *id)
{
	if (!cert)
		return false;
	X509_NAME *subject = X509_get_subject_name(cert);
	if (!name_entry(subject, NID_organizationName, id->agency, sizeof id->agency) ||
	    !name_entry(subject, NID_commonName, id->user, sizeof id->user))
		return false;
	size_t n = strlen(id->agency);
	if (n < 2)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id->agency[i] >= 'A' && id->agency[i] <= 'Z') ||
		      (id->agency[i] >= '0' && id->agency[i] <= '9')))
			return false;
	return true;
}
