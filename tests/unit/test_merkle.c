/* test_merkle.c: the audit transparency log's Merkle tree (proto/merkle.c)
 * against the published RFC 6962 vectors and, over every tree of 1..70
 * leaves, every proof and its corruptions; and its signed checkpoints
 * (proto/checkpoint.c): round trips, a known answer, tampering, files. */
#include "checkpoint.h"
#include "merkle.h"
#include "unit.h"

#include <openssl/pem.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXN 70

static void unhex(const char *hex, unsigned char *out, size_t n)
{
	ck_assert_uint_eq(strlen(hex), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (unsigned char)v;
	}
}

static void assert_hash_hex(const merkle_hash h, const char *hex)
{
	merkle_hash want;

	unhex(hex, want, MERKLE_HASH_LEN);
	ck_assert_mem_eq(h, want, MERKLE_HASH_LEN);
}

/* ---- RFC 6962 known answers ---- */

/* The reference tree of Google's certificate-transparency tests
 * (cpp/merkletree/merkle_tree_test.cc: kInputs, kSHA256Roots,
 * kSHA256Paths, kSHA256Proofs), data only. */
static const struct {
	const char *hex;
	size_t len;
} ct_inputs[8] = {
    {"", 0},
    {"00", 1},
    {"10", 1},
    {"2021", 2},
    {"3031", 2},
    {"40414243", 4},
    {"5051525354555657", 8},
    {"606162636465666768696a6b6c6d6e6f", 16},
};
static const char *const ct_empty =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char *const ct_roots[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};
/* Their paths and proofs; the CT tests number leaves from 1, these from 0. */
static const struct {
	uint64_t index, size;
	size_t len;
	const char *hash[3];
} ct_paths[] = {
    {0,
     8,
     3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5,
     8,
     3,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, 1, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1,
     5,
     3,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {0, 1, 0, {NULL}},
};
static const struct {
	uint64_t size1, size2;
	size_t len;
	const char *hash[3];
} ct_proofs[] = {
    {1, 1, 0, {NULL}},
    {1,
     8,
     3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     3,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2,
     5,
     2,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

static void ct_leaves(merkle_hash leaves[8])
{
	for (size_t i = 0; i < 8; i++) {
		unsigned char data[16];

		unhex(ct_inputs[i].hex, data, ct_inputs[i].len);
		merkle_leaf_hash(data, ct_inputs[i].len, leaves[i]);
	}
}

START_TEST(rfc6962_roots)
{
	merkle_hash leaves[8], root;
	struct merkle_frontier f;

	ct_leaves(leaves);
	merkle_root(leaves, 0, root);
	assert_hash_hex(root, ct_empty);
	merkle_frontier_init(&f);
	merkle_frontier_root(&f, root);
	assert_hash_hex(root, ct_empty);
	for (uint64_t n = 1; n <= 8; n++) {
		merkle_root(leaves, n, root);
		assert_hash_hex(root, ct_roots[n - 1]);
		ck_assert(merkle_frontier_append(&f, leaves[n - 1]));
		merkle_frontier_root(&f, root);
		assert_hash_hex(root, ct_roots[n - 1]);
	}
	/* the leaf of "" is the tree of one leaf; its node hash with the next
	 * leaf is the tree of two */
	merkle_leaf_hash("", 0, root);
	assert_hash_hex(root, ct_roots[0]);
	merkle_node_hash(leaves[0], leaves[1], root);
	assert_hash_hex(root, ct_roots[1]);
}
END_TEST

START_TEST(rfc6962_paths_and_proofs)
{
	merkle_hash leaves[8], proof[MERKLE_PROOF_MAX], root1, root2;
	size_t len;

	ct_leaves(leaves);
	for (size_t t = 0; t < sizeof ct_paths / sizeof ct_paths[0]; t++) {
		ck_assert(merkle_inclusion_proof(leaves, ct_paths[t].size, ct_paths[t].index, proof,
		                                 &len));
		ck_assert_uint_eq(len, ct_paths[t].len);
		for (size_t j = 0; j < len; j++)
			assert_hash_hex(proof[j], ct_paths[t].hash[j]);
		merkle_root(leaves, ct_paths[t].size, root1);
		ck_assert(merkle_verify_inclusion(ct_paths[t].index, ct_paths[t].size,
		                                  leaves[ct_paths[t].index], proof, len, root1));
	}
	for (size_t t = 0; t < sizeof ct_proofs / sizeof ct_proofs[0]; t++) {
		ck_assert(merkle_consistency_proof(leaves, ct_proofs[t].size2, ct_proofs[t].size1,
		                                   proof, &len));
		ck_assert_uint_eq(len, ct_proofs[t].len);
		for (size_t j = 0; j < len; j++)
			assert_hash_hex(proof[j], ct_proofs[t].hash[j]);
		merkle_root(leaves, ct_proofs[t].size1, root1);
		merkle_root(leaves, ct_proofs[t].size2, root2);
		ck_assert(merkle_verify_consistency(ct_proofs[t].size1, ct_proofs[t].size2, root1,
		                                    root2, proof, len));
	}
}
END_TEST

START_TEST(edge_cases)
{
	merkle_hash leaves[8], proof[MERKLE_PROOF_MAX + 1], empty, r1, r8;
	size_t len = 99;

	ct_leaves(leaves);
	merkle_root(leaves, 0, empty);
	merkle_root(leaves, 1, r1);
	merkle_root(leaves, 8, r8);
	/* index beyond the tree, the empty tree */
	ck_assert(!merkle_inclusion_proof(leaves, 8, 8, proof, &len));
	ck_assert_uint_eq(len, 0);
	ck_assert(!merkle_verify_inclusion(8, 8, leaves[0], proof, 0, r8));
	ck_assert(!merkle_verify_inclusion(0, 0, leaves[0], proof, 0, empty));
	ck_assert(!merkle_verify_inclusion(UINT64_MAX, 3, leaves[0], proof, 0, r8));
	/* a tree of one leaf: the leaf is the root, the proof empty */
	ck_assert(merkle_verify_inclusion(0, 1, leaves[0], proof, 0, r1));
	ck_assert(!merkle_verify_inclusion(0, 1, leaves[1], proof, 0, r1));
	/* consistency: to the past never, equal sizes need equal roots and no
	 * proof, the empty tree is extended by all with an empty proof */
	ck_assert(!merkle_consistency_proof(leaves, 3, 4, proof, &len));
	ck_assert(!merkle_verify_consistency(2, 1, r8, r1, proof, 0));
	ck_assert(merkle_verify_consistency(0, 0, empty, empty, proof, 0));
	ck_assert(!merkle_verify_consistency(0, 0, empty, r1, proof, 0));
	ck_assert(merkle_verify_consistency(0, 8, empty, r8, proof, 0));
	ck_assert(merkle_verify_consistency(0, 8, r1, r8, proof, 0)); /* root of nothing unused */
	memcpy(proof[0], r8, sizeof r8);
	ck_assert(!merkle_verify_consistency(0, 8, empty, r8, proof, 1));
	ck_assert(merkle_verify_consistency(8, 8, r8, r8, proof, 0));
	ck_assert(!merkle_verify_consistency(8, 8, r8, r8, proof, 1));
	ck_assert(!merkle_verify_consistency(8, 8, r8, r1, proof, 0));
	ck_assert(!merkle_verify_consistency(1, 8, r1, r8, proof, 0));
	ck_assert(merkle_consistency_proof(leaves, 8, 0, proof, &len));
	ck_assert_uint_eq(len, 0);
	ck_assert(merkle_consistency_proof(leaves, 5, 5, proof, &len));
	ck_assert_uint_eq(len, 0);
	/* more hashes than any tree needs */
	for (size_t i = 0; i <= MERKLE_PROOF_MAX; i++)
		memcpy(proof[i], leaves[i % 8], MERKLE_HASH_LEN);
	ck_assert(
	    !merkle_verify_inclusion(0, UINT64_MAX, leaves[0], proof, MERKLE_PROOF_MAX + 1, r8));
	ck_assert(!merkle_verify_consistency(3, UINT64_MAX, r1, r8, proof, MERKLE_PROOF_MAX + 1));
}
END_TEST

/* ---- every proof of every tree of 1..MAXN leaves ---- */

static merkle_hash big[MAXN];
static merkle_hash big_roots[MAXN + 1];

static void big_setup(void)
{
	for (unsigned i = 0; i < MAXN; i++) {
		unsigned char data[3] = {(unsigned char)i, (unsigned char)(i * 7), 0x5a};

		merkle_leaf_hash(data, sizeof data, big[i]);
	}
	for (uint64_t n = 0; n <= MAXN; n++)
		merkle_root(big, n, big_roots[n]);
}

/* Which bits of proof hash j to flip: all of them in small trees, three
 * spread ones elsewhere (any change to a hash is as good as another to
 * SHA-256; the sweep is there to catch a verifier that ignores bytes). */
static unsigned flips(uint64_t n, unsigned *bits, size_t j)
{
	unsigned k = 0;

	if (n <= 8) {
		for (unsigned b = 0; b < 8 * MERKLE_HASH_LEN; b++)
			bits[k++] = b;
		return k;
	}
	bits[k++] = 0;
	bits[k++] = (unsigned)(j * 37 + n) % 256;
	bits[k++] = 255;
	return k;
}

START_TEST(frontier_matches_root)
{
	struct merkle_frontier f;
	merkle_hash r;

	big_setup();
	merkle_frontier_init(&f);
	for (uint64_t n = 1; n <= MAXN; n++) {
		ck_assert(merkle_frontier_append(&f, big[n - 1]));
		merkle_frontier_root(&f, r);
		ck_assert_mem_eq(r, big_roots[n], MERKLE_HASH_LEN);
		ck_assert_uint_eq(f.count, (unsigned)__builtin_popcountll(n));
	}
}
END_TEST

START_TEST(inclusion_all_sizes)
{
	merkle_hash proof[MERKLE_PROOF_MAX + 2], bad[MERKLE_PROOF_MAX + 2], badroot;
	unsigned bits[256];
	size_t len, verified = 0;

	big_setup();
	for (uint64_t n = 1; n <= MAXN; n++) {
		for (uint64_t i = 0; i < n; i++) {
			const unsigned char *leaf = big[i];
			const unsigned char *root = big_roots[n];

			ck_assert(merkle_inclusion_proof(big, n, i, proof, &len));
			ck_assert_msg(merkle_verify_inclusion(i, n, leaf, proof, len, root),
			              "index %u of %u", (unsigned)i, (unsigned)n);
			verified++;
			/* every flipped bit of every hash */
			for (size_t j = 0; j < len; j++) {
				unsigned k = flips(n, bits, j);

				for (unsigned b = 0; b < k; b++) {
					memcpy(bad, proof, len * sizeof proof[0]);
					bad[j][bits[b] / 8] ^= (unsigned char)(1u << (bits[b] % 8));
					ck_assert(
					    !merkle_verify_inclusion(i, n, leaf, bad, len, root));
				}
			}
			/* another index with this proof */
			for (uint64_t o = 0; o <= n; o++)
				if (o != i)
					ck_assert_msg(
					    !merkle_verify_inclusion(o, n, leaf, proof, len, root),
					    "index %u of %u accepted as %u", (unsigned)i,
					    (unsigned)n, (unsigned)o);
			/* another size, presented with that size's own root (a size
			 * and its root always come together, from a checkpoint) */
			if (n > 1 && n - 1 > i)
				ck_assert(!merkle_verify_inclusion(i, n - 1, leaf, proof, len,
				                                   big_roots[n - 1]));
			if (n < MAXN)
				ck_assert(!merkle_verify_inclusion(i, n + 1, leaf, proof, len,
				                                   big_roots[n + 1]));
			/* another leaf */
			ck_assert(
			    !merkle_verify_inclusion(i, n, big[(i + 1) % MAXN], proof, len, root));
			/* truncated, extended at either end */
			if (len > 0)
				ck_assert(
				    !merkle_verify_inclusion(i, n, leaf, proof, len - 1, root));
			memcpy(bad, proof, len * sizeof proof[0]);
			memcpy(bad[len], root, MERKLE_HASH_LEN);
			ck_assert(!merkle_verify_inclusion(i, n, leaf, bad, len + 1, root));
			memcpy(bad[len], leaf, MERKLE_HASH_LEN);
			ck_assert(!merkle_verify_inclusion(i, n, leaf, bad, len + 1, root));
			memcpy(bad[0], leaf, MERKLE_HASH_LEN);
			memcpy(bad + 1, proof, len * sizeof proof[0]);
			ck_assert(!merkle_verify_inclusion(i, n, leaf, bad, len + 1, root));
			/* a wrong root */
			memcpy(badroot, root, MERKLE_HASH_LEN);
			badroot[31] ^= 1;
			ck_assert(!merkle_verify_inclusion(i, n, leaf, proof, len, badroot));
			ck_assert(
			    !merkle_verify_inclusion(i, n, leaf, proof, len, big_roots[n - 1]));
		}
	}
	ck_assert_uint_eq(verified, MAXN * (MAXN + 1) / 2);
}
END_TEST

START_TEST(consistency_all_sizes)
{
	merkle_hash proof[MERKLE_PROOF_MAX + 2], bad[MERKLE_PROOF_MAX + 2], badroot;
	unsigned bits[256];
	size_t len, verified = 0;

	big_setup();
	for (uint64_t n = 1; n <= MAXN; n++) {
		for (uint64_t m = 0; m <= n; m++) {
			const unsigned char *r1 = big_roots[m], *r2 = big_roots[n];

			ck_assert(merkle_consistency_proof(big, n, m, proof, &len));
			ck_assert_msg(merkle_verify_consistency(m, n, r1, r2, proof, len),
			              "%u to %u", (unsigned)m, (unsigned)n);
			verified++;
			/* longer than the proof is never right */
			memcpy(bad, proof, len * sizeof proof[0]);
			memcpy(bad[len], r2, MERKLE_HASH_LEN);
			ck_assert(!merkle_verify_consistency(m, n, r1, r2, bad, len + 1));
			if (m == 0 || m == n) {
				/* nothing to prove; a changed root still shows */
				ck_assert_uint_eq(len, 0);
				if (m == n)
					ck_assert(!merkle_verify_consistency(
					    m, n, r1, big_roots[n - 1], proof, 0));
				continue;
			}
			for (size_t j = 0; j < len; j++) {
				unsigned k = flips(n, bits, j);

				for (unsigned b = 0; b < k; b++) {
					memcpy(bad, proof, len * sizeof proof[0]);
					bad[j][bits[b] / 8] ^= (unsigned char)(1u << (bits[b] % 8));
					ck_assert(
					    !merkle_verify_consistency(m, n, r1, r2, bad, len));
				}
			}
			/* other sizes with their own roots */
			for (uint64_t o = 1; o <= n; o++)
				if (o != m)
					ck_assert_msg(!merkle_verify_consistency(o, n, big_roots[o],
					                                         r2, proof, len),
					              "%u to %u accepted from %u", (unsigned)m,
					              (unsigned)n, (unsigned)o);
			if (n < MAXN)
				ck_assert(!merkle_verify_consistency(m, n + 1, r1, big_roots[n + 1],
				                                     proof, len));
			if (n - 1 > m)
				ck_assert(!merkle_verify_consistency(m, n - 1, r1, big_roots[n - 1],
				                                     proof, len));
			/* wrong or swapped roots */
			memcpy(badroot, r1, MERKLE_HASH_LEN);
			badroot[0] ^= 0x80;
			ck_assert(!merkle_verify_consistency(m, n, badroot, r2, proof, len));
			memcpy(badroot, r2, MERKLE_HASH_LEN);
			badroot[0] ^= 0x80;
			ck_assert(!merkle_verify_consistency(m, n, r1, badroot, proof, len));
			ck_assert(!merkle_verify_consistency(m, n, r2, r1, proof, len));
			/* empty, truncated, extended at the front */
			ck_assert(!merkle_verify_consistency(m, n, r1, r2, proof, 0));
			ck_assert(!merkle_verify_consistency(m, n, r1, r2, proof, len - 1));
			memcpy(bad[0], r1, MERKLE_HASH_LEN);
			memcpy(bad + 1, proof, len * sizeof proof[0]);
			ck_assert(!merkle_verify_consistency(m, n, r1, r2, bad, len + 1));
		}
	}
	ck_assert_uint_eq(verified, MAXN * (MAXN + 3) / 2);
}
END_TEST

START_TEST(base64)
{
	merkle_hash h, back;
	char text[MERKLE_B64_LEN + 1], buf[16];
	unsigned char raw[4];

	unhex(ct_roots[7], h, MERKLE_HASH_LEN);
	merkle_b64_encode(h, text);
	ck_assert_str_eq(text, "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=");
	ck_assert(merkle_b64_decode(text, back));
	ck_assert_mem_eq(h, back, MERKLE_HASH_LEN);
	/* wrong length, unpadded, bad characters, URL alphabet, spaces,
	 * and the non-canonical text of the same bytes */
	ck_assert(!merkle_b64_decode("XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg", back));
	ck_assert(!merkle_b64_decode("XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg==", back));
	ck_assert(!merkle_b64_decode("XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz-Nw7_RgQyg=", back));
	ck_assert(!merkle_b64_decode("XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyh=", back));
	ck_assert(!merkle_b64_decode(" XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQy=", back));
	ck_assert(!merkle_b64_decode("XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/Rg=yg=", back));
	ck_assert(!merkle_b64_decode("", back));
	ck_assert(!merkle_b64_decode(NULL, back));
	/* RFC 4648 section 10 vectors */
	merkle_b64_encode_bytes("f", 1, buf);
	ck_assert_str_eq(buf, "Zg==");
	merkle_b64_encode_bytes("fo", 2, buf);
	ck_assert_str_eq(buf, "Zm8=");
	merkle_b64_encode_bytes("foob", 4, buf);
	ck_assert_str_eq(buf, "Zm9vYg==");
	merkle_b64_encode_bytes("", 0, buf);
	ck_assert_str_eq(buf, "");
	ck_assert(merkle_b64_decode_bytes("Zm9vYg==", 8, raw, 4));
	ck_assert_mem_eq(raw, "foob", 4);
	ck_assert(!merkle_b64_decode_bytes("Zm9vYh==", 8, raw, 4));
	ck_assert(!merkle_b64_decode_bytes("Zm9vYg==", 8, raw, 3));
	ck_assert(!merkle_b64_decode_bytes("Zm9vYg=", 7, raw, 4));
}
END_TEST

/* ---- checkpoints ---- */

/* RFC 8032's first Ed25519 test key, so the known answer below could be
 * computed independently: with openssl pkeyutl -sign -rawin over the body,
 * and openssl dgst -sha256 for the key hash. */
static const char *const kat_seed =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char kat_note[] =
    "harrowmere.example/audit\n"
    "8\n"
    "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
    "\n"
    "\xe2\x80\x94 harrowmere.example/audit "
    "WfM6m/A0rMs4/JTzW8TfukfPW8oUPjxsGBcIJanL4gpX6pAhNzZ3aoLVaeSRCIeXxFtCvyITSEnei29ospcb9y2V/"
    "Q0=\n";

static EVP_PKEY *kat_key(void)
{
	unsigned char seed[32];
	EVP_PKEY *k;

	unhex(kat_seed, seed, sizeof seed);
	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof seed);
	ck_assert_ptr_nonnull(k);
	return k;
}

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	ck_assert_ptr_nonnull(k);
	return k;
}

/* The public half alone, as a verifier has it. */
static EVP_PKEY *public_of(EVP_PKEY *priv)
{
	unsigned char pub[32];
	size_t len = sizeof pub;
	EVP_PKEY *k;

	ck_assert_int_eq(EVP_PKEY_get_raw_public_key(priv, pub, &len), 1);
	k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, len);
	ck_assert_ptr_nonnull(k);
	return k;
}

static struct checkpoint cp_of(const char *origin, uint64_t size, const char *root_hex)
{
	struct checkpoint cp;

	memset(&cp, 0, sizeof cp);
	snprintf(cp.origin, sizeof cp.origin, "%s", origin);
	cp.size = size;
	unhex(root_hex, cp.root, MERKLE_HASH_LEN);
	return cp;
}

/* Verify `note` with `key`; on refusal, check err mentions `why`. */
static bool verify_text(const char *note, EVP_PKEY *key, const char *why)
{
	struct checkpoint out;
	char err[256] = "";
	bool ok = checkpoint_verify(note, strlen(note), key, &out, err, sizeof err);

	if (!ok && why)
		ck_assert_msg(strstr(err, why) != NULL, "error '%s' lacks '%s'", err, why);
	return ok;
}

/* note with the first `from` replaced by `to` (malloc'd). */
static char *edit(const char *note, const char *from, const char *to)
{
	const char *at = strstr(note, from);
	char *out;

	ck_assert_ptr_nonnull(at);
	ck_assert_int_ge(asprintf(&out, "%.*s%s%s", (int)(at - note), note, to, at + strlen(from)),
	                 0);
	return out;
}

START_TEST(checkpoint_known_answer)
{
	EVP_PKEY *k = kat_key(), *pub = public_of(k);
	struct checkpoint cp = cp_of("harrowmere.example/audit", 8, ct_roots[7]), out;
	char *note = checkpoint_sign(&cp, k), err[256];

	ck_assert_ptr_nonnull(note);
	ck_assert_str_eq(note, kat_note);
	ck_assert(checkpoint_verify(kat_note, strlen(kat_note), pub, &out, err, sizeof err));
	ck_assert_str_eq(out.origin, "harrowmere.example/audit");
	ck_assert_uint_eq(out.size, 8);
	ck_assert_mem_eq(out.root, cp.root, MERKLE_HASH_LEN);
	/* the private key verifies too */
	ck_assert(checkpoint_verify(kat_note, strlen(kat_note), k, &out, err, sizeof err));
	free(note);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(checkpoint_round_trip)
{
	EVP_PKEY *k = new_key(), *pub = public_of(k);
	struct checkpoint out;
	char err[256];

	for (uint64_t n = 0; n <= 8; n++) {
		struct checkpoint cp =
		    cp_of("cdrp.invalid/audit", n, n ? ct_roots[n - 1] : ct_empty);
		char *note = checkpoint_sign(&cp, k);

		ck_assert_ptr_nonnull(note);
		ck_assert_msg(checkpoint_verify(note, strlen(note), pub, &out, err, sizeof err),
		              "%s", err);
		ck_assert_str_eq(out.origin, cp.origin);
		ck_assert_uint_eq(out.size, n);
		ck_assert_mem_eq(out.root, cp.root, MERKLE_HASH_LEN);
		free(note);
	}
	/* the largest size */
	struct checkpoint big_cp = cp_of("cdrp.invalid/audit", UINT64_MAX, ct_roots[0]);
	char *note = checkpoint_sign(&big_cp, k);

	ck_assert_ptr_nonnull(strstr(note, "\n18446744073709551615\n"));
	ck_assert(checkpoint_verify(note, strlen(note), pub, &out, err, sizeof err));
	ck_assert_uint_eq(out.size, UINT64_MAX);
	free(note);
	/* origins a key name cannot be are not signed */
	struct checkpoint bad = cp_of("", 1, ct_roots[0]);

	ck_assert_ptr_null(checkpoint_sign(&bad, k));
	bad = cp_of("a b", 1, ct_roots[0]);
	ck_assert_ptr_null(checkpoint_sign(&bad, k));
	bad = cp_of("a+b", 1, ct_roots[0]);
	ck_assert_ptr_null(checkpoint_sign(&bad, k));
	bad = cp_of("a\tb", 1, ct_roots[0]);
	ck_assert_ptr_null(checkpoint_sign(&bad, k));
	bad = cp_of("a\xc2\xa0"
	            "b",
	            1, ct_roots[0]); /* no-break space */
	ck_assert_ptr_null(checkpoint_sign(&bad, k));
	bad = cp_of("a\xff", 1, ct_roots[0]);
	ck_assert_ptr_null(checkpoint_sign(&bad, k));
	bad = cp_of("caf\xc3\xa9.example/log", 1, ct_roots[0]); /* UTF-8 is fine */
	note = checkpoint_sign(&bad, k);
	ck_assert_ptr_nonnull(note);
	ck_assert(checkpoint_verify(note, strlen(note), pub, &out, err, sizeof err));
	free(note);
	/* a public key cannot sign */
	ck_assert_ptr_null(checkpoint_sign(&big_cp, pub));
	EVP_PKEY_free(pub);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(checkpoint_tampering)
{
	EVP_PKEY *k = kat_key(), *pub = public_of(k), *other = new_key();
	struct checkpoint cp = cp_of("other.example/log", 8, ct_roots[7]);
	char *s, *bad, *theirs = checkpoint_sign(&cp, other), *line;

	ck_assert(verify_text(kat_note, pub, NULL));
	/* the signed values */
	s = edit(kat_note, "\n8\n", "\n9\n");
	ck_assert(!verify_text(s, pub, "line 5: the signature does not verify"));
	free(s);
	s = edit(kat_note, "RgQyg=", "RgQyA=");
	ck_assert(!verify_text(s, pub, "does not verify"));
	free(s);
	s = edit(kat_note, "harrowmere.example/audit\n", "harrowmere.example/audi7\n");
	ck_assert(!verify_text(s, pub, "line 5: no signature by the key of the note's origin"));
	free(s);
	/* the wrong key; the right key's signature under another key name */
	ck_assert(!verify_text(kat_note, other, "no signature by this key"));
	ck_assert(!verify_text(theirs, pub, "no signature by this key"));
	s = edit(kat_note, "\xe2\x80\x94 harrowmere.example/audit ",
	         "\xe2\x80\x94 other.example/log ");
	ck_assert(!verify_text(s, pub, "no signature by the key of the note's origin"));
	free(s);
	/* no signature: cut after the empty line, before it, mid-line */
	s = strndup(kat_note, strstr(kat_note, "\n\n") + 2 - kat_note);
	ck_assert(!verify_text(s, pub, "line 5: no signature line"));
	s[strlen(s) - 1] = '\0';
	ck_assert(!verify_text(s, pub, "line 4: no signature"));
	free(s);
	s = strndup(kat_note, strlen(kat_note) - 1);
	ck_assert(!verify_text(s, pub, "ending with a newline"));
	free(s);
	/* a signature line not starting with the em dash */
	s = edit(kat_note, "\xe2\x80\x94 ", "-- ");
	ck_assert(!verify_text(s, pub, "line 5: not a signature line"));
	free(s);
	/* a signature of someone else first is ignored; a bad one of ours is
	 * refused even when a good one follows */
	line = strstr(theirs, "\xe2\x80\x94");
	ck_assert_int_ge(asprintf(&s, "%.*s%s%s", (int)(strstr(kat_note, "\n\n") + 2 - kat_note),
	                          kat_note, line, strstr(kat_note, "\xe2\x80\x94")),
	                 0);
	ck_assert(verify_text(s, pub, NULL));
	free(s);
	ck_assert_int_ge(asprintf(&s, "%s%s", kat_note, line), 0);
	ck_assert(verify_text(s, pub, NULL));
	free(s);
	s = edit(kat_note, "ospcb9", "ospcc9"); /* inside the signature bytes */
	ck_assert(!verify_text(s, pub, "line 5: the signature does not verify"));
	bad = s;
	ck_assert_int_ge(asprintf(&s, "%s%s", bad, strstr(kat_note, "\xe2\x80\x94")), 0);
	ck_assert(!verify_text(s, pub, "line 5: the signature does not verify"));
	free(s);
	free(bad);
	/* the body: extra lines, sizes, roots, origins */
	s = edit(kat_note, "Qyg=\n", "Qyg=\nextension\n");
	ck_assert(!verify_text(s, pub, "line 4: the body has more than"));
	free(s);
	static const char *const sizes[] = {"08",
	                                    "",
	                                    "-8",
	                                    "+8",
	                                    " 8",
	                                    "8 ",
	                                    "0x8",
	                                    "18446744073709551616",
	                                    "99999999999999999999"};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char repl[32];

		snprintf(repl, sizeof repl, "\n%s\n", sizes[i]);
		s = edit(kat_note, "\n8\n", repl);
		ck_assert_msg(!verify_text(s, pub, sizes[i][0] ? "line 2:" : "line 2"), "size '%s'",
		              sizes[i]);
		free(s);
	}
	s = edit(kat_note, "Qyg=\n", "Qyh=\n");
	ck_assert(!verify_text(s, pub, "line 3: the root hash is not the base64"));
	free(s);
	s = edit(kat_note, "Qyg=\n", "Qyg\n");
	ck_assert(!verify_text(s, pub, "line 3:"));
	free(s);
	s = edit(kat_note, "harrowmere.example/audit\n8", "\n8");
	ck_assert(!verify_text(s, pub, "line 1: the origin is empty"));
	free(s);
	s = edit(kat_note, "harrowmere.example/audit\n8", "harrow\x01mere\n8");
	ck_assert(!verify_text(s, pub, "line 1: the origin is not"));
	free(s);
	s = edit(kat_note, "harrowmere.example/audit\n8", "harrow mere\n8");
	ck_assert(!verify_text(s, pub, "line 1:"));
	free(s);
	ck_assert(!verify_text("", pub, "text ending with a newline"));
	free(theirs);
	EVP_PKEY_free(other);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(k);
}
END_TEST

static void write_pem(const char *path, EVP_PKEY *k, bool private_key)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	if (private_key)
		ck_assert_int_eq(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	else
		ck_assert_int_eq(PEM_write_PUBKEY(f, k), 1);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(checkpoint_keys)
{
	char dir[] = "/tmp/cdrp-unit-XXXXXX", priv[64], pubp[64], ec[64], err[256];
	EVP_PKEY *k = new_key(), *eck = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), *a, *b;
	struct checkpoint cp = cp_of("cdrp.invalid/audit", 3, ct_roots[2]), out;
	char *note;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(priv, sizeof priv, "%s/priv.pem", dir);
	snprintf(pubp, sizeof pubp, "%s/pub.pem", dir);
	snprintf(ec, sizeof ec, "%s/ec.pem", dir);
	write_pem(priv, k, true);
	write_pem(pubp, k, false);
	write_pem(ec, eck, true);
	a = checkpoint_load_key(priv, true, err, sizeof err);
	ck_assert_msg(a != NULL, "%s", err);
	b = checkpoint_load_key(pubp, false, err, sizeof err);
	ck_assert_msg(b != NULL, "%s", err);
	note = checkpoint_sign(&cp, a);
	ck_assert(checkpoint_verify(note, strlen(note), b, &out, err, sizeof err));
	free(note);
	/* the other half, another algorithm, no file */
	ck_assert_ptr_null(checkpoint_load_key(priv, false, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "not a PEM public key"));
	ck_assert_ptr_null(checkpoint_load_key(pubp, true, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "not an unencrypted PEM private key"));
	ck_assert_ptr_null(checkpoint_load_key(ec, true, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "not an Ed25519 key"));
	ck_assert_ptr_null(checkpoint_load_key("/nonexistent/key.pem", false, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "cannot read /nonexistent/key.pem"));
	unlink(priv);
	unlink(pubp);
	unlink(ec);
	rmdir(dir);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	EVP_PKEY_free(eck);
	EVP_PKEY_free(k);
}
END_TEST

/* A temporary file holding `text`; the caller unlinks it. */
static void temp_file(char *path, const char *text)
{
	int fd;
	FILE *f;

	strcpy(path, "/tmp/cdrp-checkpoints-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* Load `text` as a file; on refusal check err mentions `why`. */
static bool load_text(const char *text, EVP_PKEY *key, size_t want_n, const char *why)
{
	char path[64], err[256] = "";
	struct checkpoint *cps = NULL;
	size_t n = 99;
	bool ok;

	temp_file(path, text);
	ok = checkpoint_file_load(path, key, &cps, &n, err, sizeof err);
	unlink(path);
	if (ok) {
		ck_assert_uint_eq(n, want_n);
	} else {
		ck_assert_ptr_null(cps);
		ck_assert_uint_eq(n, 0);
		if (why)
			ck_assert_msg(strstr(err, why) != NULL, "error '%s' lacks '%s'", err, why);
	}
	free(cps);
	return ok;
}

START_TEST(checkpoint_files)
{
	EVP_PKEY *k = new_key(), *pub = public_of(k), *other = new_key();
	struct checkpoint c3 = cp_of("cdrp.invalid/audit", 3, ct_roots[2]);
	struct checkpoint c5 = cp_of("cdrp.invalid/audit", 5, ct_roots[4]);
	struct checkpoint c8 = cp_of("cdrp.invalid/audit", 8, ct_roots[7]);
	struct checkpoint c5b = cp_of("cdrp.invalid/audit", 5, ct_roots[5]);
	struct checkpoint x8 = cp_of("other.invalid/audit", 8, ct_roots[7]);
	char *n3 = checkpoint_sign(&c3, k), *n5 = checkpoint_sign(&c5, k),
	     *n8 = checkpoint_sign(&c8, k), *n5b = checkpoint_sign(&c5b, k),
	     *x = checkpoint_sign(&x8, k), *o5 = checkpoint_sign(&c5, other), *text, *bad;
	struct checkpoint *cps = NULL;
	char path[64], err[256];
	size_t n = 0;

	/* three notes, each followed by an empty line */
	ck_assert_int_ge(asprintf(&text, "%s\n%s\n%s\n", n3, n5, n8), 0);
	temp_file(path, text);
	ck_assert_msg(checkpoint_file_load(path, pub, &cps, &n, err, sizeof err), "%s", err);
	unlink(path);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(cps[0].size, 3);
	ck_assert_uint_eq(cps[1].size, 5);
	ck_assert_uint_eq(cps[2].size, 8);
	ck_assert_mem_eq(cps[2].root, c8.root, MERKLE_HASH_LEN);
	ck_assert_str_eq(cps[2].origin, "cdrp.invalid/audit");
	free(cps);
	free(text);
	/* the same checkpoint twice is fine; the last empty line may be missing;
	 * an empty file has none */
	ck_assert_int_ge(asprintf(&text, "%s\n%s\n%s", n3, n5, n5), 0);
	ck_assert(load_text(text, pub, 3, NULL));
	free(text);
	ck_assert(load_text("", pub, 0, NULL));
	/* each note is 6 lines: note 2 starts on line 7, its size on line 8 */
	ck_assert_int_ge(asprintf(&text, "%s\n%s\n%s\n", n5, n3, n8), 0);
	ck_assert(!load_text(text, pub, 0, "note 2, line 8: size 3 is smaller than the size 5"));
	free(text);
	ck_assert_int_ge(asprintf(&text, "%s\n%s\n%s\n", n3, n5, n5b), 0);
	ck_assert(!load_text(text, pub, 0, "note 3, line 15: the same size 5 as note 2"));
	free(text);
	/* a note of another key, of another log, altered */
	ck_assert_int_ge(asprintf(&text, "%s\n%s\n", n3, o5), 0);
	ck_assert(!load_text(text, pub, 0, "note 2, line 11: no signature by this key"));
	free(text);
	ck_assert_int_ge(asprintf(&text, "%s\n%s\n", n3, x), 0);
	ck_assert(!load_text(text, pub, 0, "note 2, line 7: origin other.invalid/audit"));
	free(text);
	bad = edit(n5, "\n5\n", "\n6\n");
	ck_assert_int_ge(asprintf(&text, "%s\n%s\n%s\n", n3, bad, n8), 0);
	ck_assert(!load_text(text, pub, 0, "note 2, line 11: the signature does not verify"));
	free(text);
	free(bad);
	/* blank lines out of place, a missing separator, a cut-off file */
	ck_assert_int_ge(asprintf(&text, "%s\n\n%s\n", n3, n5), 0);
	ck_assert(!load_text(text, pub, 0, "line 7: an empty line where note 2 should start"));
	free(text);
	ck_assert_int_ge(asprintf(&text, "%s%s\n", n3, n5), 0);
	ck_assert(!load_text(text, pub, 0, "note 1, line 6: not a signature line"));
	free(text);
	ck_assert_int_ge(asprintf(&text, "%s\n%.*s", n3, (int)strlen(n5) - 10, n5), 0);
	ck_assert(!load_text(text, pub, 0, "line 11: the file ends in the middle of a line"));
	free(text);
	ck_assert_int_ge(asprintf(&text, "%s\n%.*s", n3, (int)(strchr(n5, '=') + 2 - n5), n5), 0);
	ck_assert(!load_text(text, pub, 0, "note 2, line 10: no signature"));
	free(text);
	ck_assert(!checkpoint_file_load("/nonexistent/cps", pub, &cps, &n, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "cannot read /nonexistent/cps"));
	free(n3);
	free(n5);
	free(n8);
	free(n5b);
	free(x);
	free(o5);
	EVP_PKEY_free(other);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(k);
}
END_TEST

Suite *merkle_suite(void)
{
	Suite *s = suite_create("merkle");
	TCase *tc = tcase_create("rfc6962");
	TCase *all = tcase_create("every proof");
	TCase *cps = tcase_create("checkpoints");

	tcase_add_test(tc, rfc6962_roots);
	tcase_add_test(tc, rfc6962_paths_and_proofs);
	tcase_add_test(tc, edge_cases);
	tcase_add_test(tc, base64);
	suite_add_tcase(s, tc);
	/* thousands of proofs; slower under the sanitizers */
	tcase_set_timeout(all, 120);
	tcase_add_test(all, frontier_matches_root);
	tcase_add_test(all, inclusion_all_sizes);
	tcase_add_test(all, consistency_all_sizes);
	suite_add_tcase(s, all);
	tcase_add_test(cps, checkpoint_known_answer);
	tcase_add_test(cps, checkpoint_round_trip);
	tcase_add_test(cps, checkpoint_tampering);
	tcase_add_test(cps, checkpoint_keys);
	tcase_add_test(cps, checkpoint_files);
	suite_add_tcase(s, cps);
	return s;
}
