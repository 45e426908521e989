/* checkpoint.c: C2SP signed-note checkpoints of the audit transparency log
 * with Ed25519 (checkpoint.h): loading keys, signing, verifying one note
 * and verifying a file of them. Everything read here may come from an
 * attacker (a server's answer, a file anyone could have edited), so the
 * parser accepts exactly one text for each checkpoint. */
#include "checkpoint.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CP_KEY_HASH_LEN 4
#define CP_SIG_LEN      64 /* Ed25519 */
#define CP_PUB_LEN      32
/* The signed-note spec lets verifiers refuse notes with more. */
#define CP_MAX_SIGS 100
/* Larger than any note of ours with its signatures, small enough that a
 * file of garbage cannot make one note eat memory. */
#define CP_NOTE_MAX 65536
/* U+2014 EM DASH and a space: how every signature line starts. */
#define CP_DASH     "\xe2\x80\x94 "
#define CP_DASH_LEN 4

static void cp_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void cp_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Unicode spaces, which a key name may not hold (signed-note). */
static bool cp_is_space(uint32_t c)
{
	return c == 0x20 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
	       c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Valid UTF-8 without control characters (C0, DEL, C1); when `name`,
 * also without spaces or '+', as a key name must be. */
static bool cp_valid_text(const char *s, size_t n, bool name)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		uint32_t c = p[i], min;
		size_t extra;

		if (c < 0x80) {
			extra = 0;
			min = 0;
		} else if ((c & 0xe0) == 0xc0) {
			extra = 1;
			c &= 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			extra = 2;
			c &= 0x0f;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			extra = 3;
			c &= 0x07;
			min = 0x10000;
		} else {
			return false;
		}
		if (n - i <= extra)
			return false;
		for (size_t k = 1; k <= extra; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			c = c << 6 | (p[i + k] & 0x3f);
		}
		/* overlong forms, surrogates and beyond Unicode */
		if (c < min || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
			return false;
		if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
			return false;
		if (name && (c == '+' || cp_is_space(c)))
			return false;
		i += extra + 1;
	}
	return true;
}

/* Canonical decimal: digits only, no leading zero (but "0"), fits. */
static bool cp_parse_size(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* The first 4 bytes of SHA-256(name || "\n" || 0x01 || raw public key). */
static bool cp_key_hash(const char *name, size_t namelen, EVP_PKEY *key,
                        unsigned char out[CP_KEY_HASH_LEN])
{
	unsigned char pub[CP_PUB_LEN], md[EVP_MAX_MD_SIZE];
	static const unsigned char sep[2] = {'\n', 0x01}; /* 0x01: Ed25519 */
	size_t publen = sizeof pub;
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = NULL;
	bool ok = false;

	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(key, pub, &publen) != 1 || publen != CP_PUB_LEN)
		goto out;
	ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(ctx, name, namelen) || !EVP_DigestUpdate(ctx, sep, sizeof sep) ||
	    !EVP_DigestUpdate(ctx, pub, publen) || !EVP_DigestFinal_ex(ctx, md, &mdlen))
		goto out;
	memcpy(out, md, CP_KEY_HASH_LEN);
	ok = true;
out:
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* A passphrase prompt would hang a daemon: encrypted keys just fail. */
static int cp_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

EVP_PKEY *checkpoint_load_key(const char *pem_path, bool private_key, char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	FILE *f = fopen(pem_path, "r");

	if (!f) {
		cp_fail(err, errlen, "cannot read %s: %s", pem_path, strerror(errno));
		return NULL;
	}
	key = private_key ? PEM_read_PrivateKey(f, NULL, cp_no_passphrase, NULL)
	                  : PEM_read_PUBKEY(f, NULL, cp_no_passphrase, NULL);
	fclose(f);
	ERR_clear_error(); /* the reason is reported here, not left queued */
	if (!key) {
		cp_fail(err, errlen,
		        private_key ? "%s: not an unencrypted PEM private key (make one with: "
		                      "openssl genpkey -algorithm ed25519)"
		                    : "%s: not a PEM public key (make it from the private key "
		                      "with: openssl pkey -in KEY -pubout)",
		        pem_path);
		return NULL;
	}
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
		cp_fail(err, errlen, "%s: not an Ed25519 key (checkpoints are signed with Ed25519)",
		        pem_path);
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

char *checkpoint_sign(const struct checkpoint *cp, EVP_PKEY *priv)
{
	unsigned char blob[CP_KEY_HASH_LEN + CP_SIG_LEN];
	char root[MERKLE_B64_LEN + 1], sig[4 * ((sizeof blob + 2) / 3) + 1];
	size_t olen = strnlen(cp->origin, sizeof cp->origin), siglen = CP_SIG_LEN;
	char *body = NULL, *note = NULL;
	EVP_MD_CTX *ctx = NULL;
	int blen;

	if (olen == 0 || olen == sizeof cp->origin || !cp_valid_text(cp->origin, olen, true) ||
	    !cp_key_hash(cp->origin, olen, priv, blob))
		goto out;
	merkle_b64_encode(cp->root, root);
	blen = asprintf(&body, "%s\n%" PRIu64 "\n%s\n", cp->origin, cp->size, root);
	if (blen < 0) {
		body = NULL;
		goto out;
	}
	/* Ed25519 hashes the message itself: no digest is named. */
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, priv) != 1 ||
	    EVP_DigestSign(ctx, blob + CP_KEY_HASH_LEN, &siglen, (const unsigned char *)body,
	                   (size_t)blen) != 1 ||
	    siglen != CP_SIG_LEN)
		goto out;
	merkle_b64_encode_bytes(blob, sizeof blob, sig);
	if (asprintf(&note, "%s\n" CP_DASH "%s %s\n", body, cp->origin, sig) < 0)
		note = NULL;
out:
	EVP_MD_CTX_free(ctx);
	free(body);
	return note;
}

/* Decode base64 of unknown length (at most `max` bytes) into out. */
static bool cp_b64_any(const char *s, size_t slen, unsigned char *out, size_t max, size_t *len)
{
	size_t pad = 0, want;

	if (slen == 0 || slen % 4 != 0)
		return false;
	while (pad < 2 && s[slen - 1 - pad] == '=')
		pad++;
	want = slen / 4 * 3 - pad;
	if (want > max || !merkle_b64_decode_bytes(s, slen, out, want))
		return false;
	*len = want;
	return true;
}

/* The end of the line starting at p (its '\n'), or NULL. */
static const char *cp_eol(const char *p, const char *end)
{
	return memchr(p, '\n', (size_t)(end - p));
}

/* checkpoint_verify, telling the line of the note (from 1) at fault. */
static bool cp_verify(const char *note, size_t len, EVP_PKEY *pub, struct checkpoint *out,
                      char *err, size_t errlen, unsigned *line)
{
	const char *end = note + len, *p = note, *eol, *sigs;
	unsigned char want_hash[CP_KEY_HASH_LEN];
	struct checkpoint cp;
	bool named = false, verified = false;
	unsigned nsigs = 0;
	size_t olen;

	memset(&cp, 0, sizeof cp);
	*line = 1;
	if (len == 0 || memchr(note, '\0', len) || note[len - 1] != '\n') {
		cp_fail(err, errlen, "a signed note is text ending with a newline");
		return false;
	}

	/* the body: origin, size, root, then the empty line */
	eol = cp_eol(p, end);
	olen = (size_t)(eol - p);
	if (olen == 0) {
		cp_fail(err, errlen, "the origin is empty");
		return false;
	}
	if (olen > CHECKPOINT_ORIGIN_MAX) {
		cp_fail(err, errlen, "the origin is longer than %d bytes", CHECKPOINT_ORIGIN_MAX);
		return false;
	}
	if (!cp_valid_text(p, olen, true)) {
		cp_fail(err, errlen,
		        "the origin is not UTF-8 text without spaces, '+' or control characters");
		return false;
	}
	memcpy(cp.origin, p, olen);
	p = eol + 1;
	*line = 2;
	eol = cp_eol(p, end);
	if (!eol || eol == p) {
		cp_fail(err, errlen, "no tree size after the origin");
		return false;
	}
	if (!cp_parse_size(p, (size_t)(eol - p), &cp.size)) {
		cp_fail(err, errlen, "the tree size is not a decimal number without leading zeros");
		return false;
	}
	p = eol + 1;
	*line = 3;
	eol = cp_eol(p, end);
	if (!eol || eol == p) {
		cp_fail(err, errlen, "no root hash after the tree size");
		return false;
	}
	if (!merkle_b64_decode_bytes(p, (size_t)(eol - p), cp.root, MERKLE_HASH_LEN)) {
		cp_fail(err, errlen, "the root hash is not the base64 of 32 bytes");
		return false;
	}
	p = eol + 1;
	*line = 4;
	if (p == end || *p != '\n') {
		cp_fail(err, errlen,
		        p == end ? "no signature: the note ends after its body"
		                 : "the body has more than origin, size and root (other lines are "
		                   "not accepted)");
		return false;
	}
	sigs = p + 1;

	/* the signatures: "— name base64\n" each */
	if (!cp_key_hash(cp.origin, olen, pub, want_hash)) {
		cp_fail(err, errlen, "the verification key is not an Ed25519 key");
		return false;
	}
	if (sigs == end) {
		*line = 5;
		cp_fail(err, errlen, "no signature line after the empty line");
		return false;
	}
	for (p = sigs; p < end; p = eol + 1) {
		unsigned char blob[CP_KEY_HASH_LEN + CP_SIG_LEN + 64];
		const char *name, *sp;
		size_t bloblen = 0;
		EVP_MD_CTX *ctx;
		int ok;

		*line += 1;
		eol = cp_eol(p, end);
		if (++nsigs > CP_MAX_SIGS) {
			cp_fail(err, errlen, "more than %d signatures", CP_MAX_SIGS);
			return false;
		}
		if ((size_t)(eol - p) < CP_DASH_LEN || memcmp(p, CP_DASH, CP_DASH_LEN) != 0) {
			cp_fail(err, errlen, "not a signature line (\"— name signature\")");
			return false;
		}
		name = p + CP_DASH_LEN;
		sp = memchr(name, ' ', (size_t)(eol - name));
		if (!sp || sp == name || !cp_valid_text(name, (size_t)(sp - name), true) ||
		    !cp_b64_any(sp + 1, (size_t)(eol - sp - 1), blob, sizeof blob, &bloblen) ||
		    bloblen < CP_KEY_HASH_LEN) {
			cp_fail(err, errlen, "a malformed signature line");
			return false;
		}
		/* someone else's signature: not ours to judge */
		if ((size_t)(sp - name) != olen || memcmp(name, cp.origin, olen) != 0)
			continue;
		named = true;
		if (memcmp(blob, want_hash, CP_KEY_HASH_LEN) != 0)
			continue;
		if (bloblen != CP_KEY_HASH_LEN + CP_SIG_LEN) {
			cp_fail(err, errlen, "the signature of this key has the wrong length");
			return false;
		}
		ctx = EVP_MD_CTX_new();
		ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
		     EVP_DigestVerify(ctx, blob + CP_KEY_HASH_LEN, CP_SIG_LEN,
		                      (const unsigned char *)note, (size_t)(sigs - 1 - note)) == 1;
		EVP_MD_CTX_free(ctx);
		ERR_clear_error();
		if (!ok) {
			cp_fail(err, errlen,
			        "the signature does not verify with this key: the note was altered "
			        "after signing");
			return false;
		}
		verified = true;
	}
	if (!verified) {
		*line = 5;
		if (named)
			cp_fail(err, errlen,
			        "no signature by this key: the note is signed by "
			        "another key of the same name");
		else
			cp_fail(err, errlen, "no signature by the key of the note's origin");
		return false;
	}
	*out = cp;
	return true;
}

bool checkpoint_verify(const char *note, size_t len, EVP_PKEY *pub, struct checkpoint *out,
                       char *err, size_t errlen)
{
	char why[256];
	unsigned line = 0;

	if (cp_verify(note, len, pub, out, why, sizeof why, &line))
		return true;
	cp_fail(err, errlen, "line %u: %s", line, why);
	return false;
}

/* A file being read, one note at a time. */
struct cp_file {
	char *note;
	size_t len;
	unsigned long first_line; /* of the current note */
	struct checkpoint *cps;
	size_t n, cap;
};

/* The current note is complete: verify it and check it against the
 * previous one. */
static bool cp_file_note(struct cp_file *cf, EVP_PKEY *pub, char *err, size_t errlen)
{
	struct checkpoint cp, *prev = cf->n ? &cf->cps[cf->n - 1] : NULL;
	size_t no = cf->n + 1;
	char why[256];
	unsigned line = 0;

	if (!cp_verify(cf->note, cf->len, pub, &cp, why, sizeof why, &line)) {
		cp_fail(err, errlen, "note %zu, line %lu: %s", no, cf->first_line + line - 1, why);
		return false;
	}
	if (prev && strcmp(prev->origin, cp.origin) != 0) {
		cp_fail(err, errlen, "note %zu, line %lu: origin %s, but note %zu is of %s", no,
		        cf->first_line, cp.origin, no - 1, prev->origin);
		return false;
	}
	if (prev && cp.size < prev->size) {
		cp_fail(err, errlen,
		        "note %zu, line %lu: size %" PRIu64 " is smaller than the size %" PRIu64
		        " of note %zu: the log shrank",
		        no, cf->first_line + 1, cp.size, prev->size, no - 1);
		return false;
	}
	if (prev && cp.size == prev->size && memcmp(cp.root, prev->root, MERKLE_HASH_LEN) != 0) {
		cp_fail(err, errlen,
		        "note %zu, line %lu: the same size %" PRIu64
		        " as note %zu with another root: the log was rewritten",
		        no, cf->first_line + 2, cp.size, no - 1);
		return false;
	}
	if (cf->n == cf->cap) {
		size_t cap = cf->cap ? cf->cap * 2 : 16;
		struct checkpoint *m = realloc(cf->cps, cap * sizeof *m);

		if (!m) {
			cp_fail(err, errlen, "out of memory");
			return false;
		}
		cf->cps = m;
		cf->cap = cap;
	}
	cf->cps[cf->n++] = cp;
	cf->len = 0;
	return true;
}

bool checkpoint_file_load(const char *path, EVP_PKEY *pub, struct checkpoint **out, size_t *n,
                          char *err, size_t errlen)
{
	/* where the reader is: between notes, in a body, in its signatures */
	enum { CP_BETWEEN, CP_BODY, CP_SIGS } st = CP_BETWEEN;
	struct cp_file cf = {0};
	unsigned long lineno = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	bool ok = false;
	FILE *f;

	*out = NULL;
	*n = 0;
	f = fopen(path, "r");
	if (!f) {
		cp_fail(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return false;
	}
	cf.note = malloc(CP_NOTE_MAX);
	if (!cf.note) {
		cp_fail(err, errlen, "out of memory");
		goto out;
	}
	while ((got = getline(&line, &cap, f)) > 0) {
		bool blank = got == 1 && line[0] == '\n';

		lineno++;
		if (line[got - 1] != '\n') {
			/* a write cut short: never guess what the rest said */
			cp_fail(err, errlen, "line %lu: the file ends in the middle of a line",
			        lineno);
			goto out;
		}
		if (st == CP_BETWEEN) {
			if (blank) {
				cp_fail(err, errlen,
				        "line %lu: an empty line where note %zu should start",
				        lineno, cf.n + 1);
				goto out;
			}
			cf.first_line = lineno;
			st = CP_BODY;
		} else if (blank) {
			/* the first empty line ends the body, the second the note */
			if (st == CP_SIGS) {
				if (!cp_file_note(&cf, pub, err, errlen))
					goto out;
				st = CP_BETWEEN;
				continue;
			}
			st = CP_SIGS;
		}
		if (cf.len + (size_t)got > CP_NOTE_MAX) {
			cp_fail(err, errlen, "note %zu, line %lu: the note is over %d bytes",
			        cf.n + 1, lineno, CP_NOTE_MAX);
			goto out;
		}
		memcpy(cf.note + cf.len, line, (size_t)got);
		cf.len += (size_t)got;
	}
	if (ferror(f)) {
		cp_fail(err, errlen, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	/* The last note's empty line may be missing (a writer stopped
	 * between the note and it); the note itself must be whole. */
	if (st != CP_BETWEEN && !cp_file_note(&cf, pub, err, errlen))
		goto out;
	*out = cf.cps;
	*n = cf.n;
	cf.cps = NULL;
	ok = true;
out:
	free(cf.cps);
	free(cf.note);
	free(line);
	fclose(f);
	return ok;
}
