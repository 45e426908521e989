/* merkle.c: the RFC 6962 / RFC 9162 Merkle tree of the audit transparency
 * log -- hashing, tree heads, reference proofs, proof verification, an
 * incremental frontier and the strict base64 of hashes (merkle.h). */
#include "merkle.h"

#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SHA-256 over up to three pieces. A digest that cannot be computed (out
 * of memory in OpenSSL) has no safe answer: a wrong hash would either
 * accept a forged log or accuse an honest one, so stop instead. */
static void merkle_sha256(const void *a, size_t alen, const void *b, size_t blen, const void *c,
                          size_t clen, merkle_hash out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
	    (alen && !EVP_DigestUpdate(ctx, a, alen)) ||
	    (blen && !EVP_DigestUpdate(ctx, b, blen)) ||
	    (clen && !EVP_DigestUpdate(ctx, c, clen)) || !EVP_DigestFinal_ex(ctx, out, &n) ||
	    n != MERKLE_HASH_LEN) {
		fputs("merkle: SHA-256 failed\n", stderr);
		abort();
	}
	EVP_MD_CTX_free(ctx);
}

void merkle_leaf_hash(const void *data, size_t len, merkle_hash out)
{
	static const unsigned char prefix = 0x00;

	merkle_sha256(&prefix, 1, data, len, NULL, 0, out);
}

void merkle_node_hash(const merkle_hash left, const merkle_hash right, merkle_hash out)
{
	static const unsigned char prefix = 0x01;
	merkle_hash h;

	/* through h: callers pass out == left or out == right */
	merkle_sha256(&prefix, 1, left, MERKLE_HASH_LEN, right, MERKLE_HASH_LEN, h);
	memcpy(out, h, MERKLE_HASH_LEN);
}

/* The largest power of two below n (n >= 2): where RFC 6962 splits. */
static uint64_t merkle_split(uint64_t n)
{
	return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

void merkle_root(const merkle_hash *leaves, uint64_t n, merkle_hash out)
{
	merkle_hash l, r;
	uint64_t k;

	if (n == 0) {
		merkle_sha256(NULL, 0, NULL, 0, NULL, 0, out);
		return;
	}
	if (n == 1) {
		memcpy(out, leaves[0], MERKLE_HASH_LEN);
		return;
	}
	k = merkle_split(n);
	merkle_root(leaves, k, l);
	merkle_root(leaves + k, n - k, r);
	merkle_node_hash(l, r, out);
}

/* ---- reference proofs (RFC 6962 2.1.1 and 2.1.2) ---- */

struct merkle_proof_out {
	merkle_hash *h;
	size_t len;
	bool ok;
};

static void merkle_proof_add(struct merkle_proof_out *p, const merkle_hash *leaves, uint64_t n)
{
	if (p->len == MERKLE_PROOF_MAX) {
		p->ok = false;
		return;
	}
	merkle_root(leaves, n, p->h[p->len++]);
}

/* PATH(m, D[n]): the audit path, from the leaf's sibling up. */
static void merkle_path(struct merkle_proof_out *p, const merkle_hash *leaves, uint64_t n,
                        uint64_t m)
{
	uint64_t k;

	if (n <= 1)
		return;
	k = merkle_split(n);
	if (m < k) {
		merkle_path(p, leaves, k, m);
		merkle_proof_add(p, leaves + k, n - k);
	} else {
		merkle_path(p, leaves + k, n - k, m - k);
		merkle_proof_add(p, leaves, k);
	}
}

/* SUBPROOF(m, D[n], b): `whole` is b, true while D[0:m] is the old tree's
 * root itself (which the verifier already has). */
static void merkle_subproof(struct merkle_proof_out *p, const merkle_hash *leaves, uint64_t n,
                            uint64_t m, bool whole)
{
	uint64_t k;

	if (m == n) {
		if (!whole)
			merkle_proof_add(p, leaves, n);
		return;
	}
	k = merkle_split(n);
	if (m <= k) {
		merkle_subproof(p, leaves, k, m, whole);
		merkle_proof_add(p, leaves + k, n - k);
	} else {
		merkle_subproof(p, leaves + k, n - k, m - k, false);
		merkle_proof_add(p, leaves, k);
	}
}

bool merkle_inclusion_proof(const merkle_hash *leaves, uint64_t size, uint64_t index,
                            merkle_hash *out, size_t *len)
{
	struct merkle_proof_out p = {out, 0, true};

	*len = 0;
	if (index >= size)
		return false;
	merkle_path(&p, leaves, size, index);
	*len = p.len;
	return p.ok;
}

bool merkle_consistency_proof(const merkle_hash *leaves, uint64_t size2, uint64_t size1,
                              merkle_hash *out, size_t *len)
{
	struct merkle_proof_out p = {out, 0, true};

	*len = 0;
	if (size1 > size2)
		return false;
	/* from the empty tree, or to the same tree: nothing to prove */
	if (size1 == 0 || size1 == size2)
		return true;
	merkle_subproof(&p, leaves, size2, size1, true);
	*len = p.len;
	return p.ok;
}

/* ---- verification (RFC 9162 2.1.3.2 and 2.1.4.2) ---- */

static bool merkle_eq(const merkle_hash a, const merkle_hash b)
{
	return memcmp(a, b, MERKLE_HASH_LEN) == 0;
}

/* After hashing in a left sibling: climb past the levels where the node
 * is a left child with no right sibling (the tree's ragged right edge). */
static void merkle_climb(uint64_t *fn, uint64_t *sn)
{
	while ((*fn & 1) == 0 && *fn != 0) {
		*fn >>= 1;
		*sn >>= 1;
	}
}

bool merkle_verify_inclusion(uint64_t index, uint64_t size, const merkle_hash leaf,
                             const merkle_hash *proof, size_t len, const merkle_hash root)
{
	uint64_t fn, sn;
	merkle_hash r;

	if (index >= size || len > MERKLE_PROOF_MAX)
		return false;
	fn = index;
	sn = size - 1;
	memcpy(r, leaf, MERKLE_HASH_LEN);
	for (size_t i = 0; i < len; i++) {
		if (sn == 0)
			return false; /* more hashes than the tree is high */
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(proof[i], r, r);
			if ((fn & 1) == 0)
				merkle_climb(&fn, &sn);
		} else {
			merkle_node_hash(r, proof[i], r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && merkle_eq(r, root);
}

bool merkle_verify_consistency(uint64_t size1, uint64_t size2, const merkle_hash root1,
                               const merkle_hash root2, const merkle_hash *proof, size_t len)
{
	uint64_t fn, sn;
	merkle_hash fr, sr;
	size_t i = 0;

	if (len > MERKLE_PROOF_MAX || size1 > size2)
		return false;
	if (size1 == size2)
		return len == 0 && merkle_eq(root1, root2);
	if (size1 == 0)
		return len == 0; /* every tree extends the empty one */
	if (len == 0)
		return false;
	/* When the old tree is a complete subtree its root is the proof's
	 * implicit first element (RFC 9162 step 2). */
	if ((size1 & (size1 - 1)) == 0) {
		memcpy(fr, root1, MERKLE_HASH_LEN);
	} else {
		memcpy(fr, proof[0], MERKLE_HASH_LEN);
		i = 1;
	}
	memcpy(sr, fr, MERKLE_HASH_LEN);
	fn = size1 - 1;
	sn = size2 - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < len; i++) {
		if (sn == 0)
			return false;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(proof[i], fr, fr);
			merkle_node_hash(proof[i], sr, sr);
			if ((fn & 1) == 0)
				merkle_climb(&fn, &sn);
		} else {
			merkle_node_hash(sr, proof[i], sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && merkle_eq(fr, root1) && merkle_eq(sr, root2);
}

/* ---- frontier ---- */

void merkle_frontier_init(struct merkle_frontier *f)
{
	memset(f, 0, sizeof *f);
}

bool merkle_frontier_append(struct merkle_frontier *f, const merkle_hash leaf)
{
	merkle_hash h;

	if (f->size == UINT64_MAX)
		return false;
	memcpy(h, leaf, MERKLE_HASH_LEN);
	/* Each trailing 1 bit of the size is a subtree the new leaf
	 * completes a larger one with, as in binary addition. */
	for (uint64_t s = f->size; s & 1; s >>= 1)
		merkle_node_hash(f->sub[--f->count], h, h);
	memcpy(f->sub[f->count++], h, MERKLE_HASH_LEN);
	f->size++;
	return true;
}

void merkle_frontier_root(const struct merkle_frontier *f, merkle_hash out)
{
	merkle_hash r;

	if (f->count == 0) {
		merkle_root(NULL, 0, out);
		return;
	}
	memcpy(r, f->sub[f->count - 1], MERKLE_HASH_LEN);
	for (unsigned i = f->count - 1; i-- > 0;)
		merkle_node_hash(f->sub[i], r, r);
	memcpy(out, r, MERKLE_HASH_LEN);
}

/* ---- base64 ---- */

static const char merkle_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void merkle_b64_encode_bytes(const void *in, size_t len, char *out)
{
	const unsigned char *p = in;
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t have = len - i < 3 ? len - i : 3;

		if (have > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (have > 2)
			v |= p[i + 2];
		out[o++] = merkle_b64_alphabet[(v >> 18) & 63];
		out[o++] = merkle_b64_alphabet[(v >> 12) & 63];
		out[o++] = have > 1 ? merkle_b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = have > 2 ? merkle_b64_alphabet[v & 63] : '=';
	}
	out[o] = '\0';
}

static int merkle_b64_value(char c)
{
	const char *at = c ? strchr(merkle_b64_alphabet, c) : NULL;

	return at ? (int)(at - merkle_b64_alphabet) : -1;
}

bool merkle_b64_decode_bytes(const char *s, size_t slen, void *out, size_t want)
{
	unsigned char *o = out;
	size_t pad = (3 - want % 3) % 3;

	if (want > (SIZE_MAX / 4) * 3 - 3 || slen != 4 * ((want + 2) / 3))
		return false;
	for (size_t i = 0, w = 0; i < slen; i += 4) {
		uint32_t v = 0;
		/* characters of this group that carry data */
		size_t nchar = i + 4 == slen ? 4 - pad : 4;

		for (size_t j = 0; j < 4; j++) {
			int d = j < nchar ? merkle_b64_value(s[i + j]) : 0;

			if (d < 0 || (j >= nchar && s[i + j] != '='))
				return false;
			v = v << 6 | (uint32_t)d;
		}
		/* the unused low bits of a short group must be zero, so that
		 * each value has exactly one text */
		if ((nchar == 3 && (v & 0xff)) || (nchar == 2 && (v & 0xffff)))
			return false;
		o[w++] = (unsigned char)(v >> 16);
		if (nchar > 2)
			o[w++] = (unsigned char)(v >> 8);
		if (nchar > 3)
			o[w++] = (unsigned char)v;
	}
	return true;
}

void merkle_b64_encode(const merkle_hash h, char out[MERKLE_B64_LEN + 1])
{
	merkle_b64_encode_bytes(h, MERKLE_HASH_LEN, out);
}

bool merkle_b64_decode(const char *s, merkle_hash out)
{
	merkle_hash h;

	if (!s || !merkle_b64_decode_bytes(s, strlen(s), h, MERKLE_HASH_LEN))
		return false;
	memcpy(out, h, MERKLE_HASH_LEN);
	return true;
}
