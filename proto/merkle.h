/* merkle.h: the Merkle tree of the audit transparency log (issue 8), as
 * RFC 6962 section 2.1 and RFC 9162 section 2.1 define it with SHA-256:
 * leaf and node hashes, tree heads, reference proof generation and the
 * verification of inclusion and consistency proofs. Shared by cdrpd (which
 * checks its database before signing) and `cdrp audit verify`. Also the
 * strict base64 both sides use for hashes on the wire. */
#ifndef CDRP_MERKLE_H
#define CDRP_MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MERKLE_WUR __attribute__((warn_unused_result))

#define MERKLE_HASH_LEN 32
/* No proof of a tree of at most 2^64 - 1 leaves has more hashes. */
#define MERKLE_PROOF_MAX 64
/* Length of the base64 text of a hash, without its NUL. */
#define MERKLE_B64_LEN 44

typedef unsigned char merkle_hash[MERKLE_HASH_LEN];

/* SHA-256(0x00 || data). */
void merkle_leaf_hash(const void *data, size_t len, merkle_hash out);
/* SHA-256(0x01 || left || right). */
void merkle_node_hash(const merkle_hash left, const merkle_hash right, merkle_hash out);
/* The Merkle tree hash (MTH) of n leaf hashes; SHA-256("") for n = 0. */
void merkle_root(const merkle_hash *leaves, uint64_t n, merkle_hash out);

/* Reference proof generation (RFC 6962 2.1.1 PATH, 2.1.2 PROOF/SUBPROOF)
 * from all the leaf hashes, used by tests and self-checks. `out` holds
 * MERKLE_PROOF_MAX hashes; *len gets how many were written. False when
 * index >= size, or size1 > size2. */
bool merkle_inclusion_proof(const merkle_hash *leaves, uint64_t size, uint64_t index,
                            merkle_hash *out, size_t *len) MERKLE_WUR;
bool merkle_consistency_proof(const merkle_hash *leaves, uint64_t size2, uint64_t size1,
                              merkle_hash *out, size_t *len) MERKLE_WUR;

/* RFC 9162 2.1.3.2: is `leaf` at `index` of the tree of `size` leaves
 * whose root is `root`? */
bool merkle_verify_inclusion(uint64_t index, uint64_t size, const merkle_hash leaf,
                             const merkle_hash *proof, size_t len,
                             const merkle_hash root) MERKLE_WUR;
/* RFC 9162 2.1.4.2: is the tree (size2, root2) an append-only extension of
 * (size1, root1)? Equal sizes need equal roots and an empty proof; from the
 * empty tree (size1 0) only an empty proof is accepted. */
bool merkle_verify_consistency(uint64_t size1, uint64_t size2, const merkle_hash root1,
                               const merkle_hash root2, const merkle_hash *proof,
                               size_t len) MERKLE_WUR;

/* A tree grown one leaf at a time, keeping only the roots of its complete
 * subtrees (largest first), so the root of every prefix of a long log can
 * be had in one pass over its leaves. */
struct merkle_frontier {
	uint64_t size;
	unsigned count; /* subtrees held: the number of bits set in size */
	merkle_hash sub[MERKLE_PROOF_MAX];
};
void merkle_frontier_init(struct merkle_frontier *f);
/* False only when the tree is full (2^64 - 1 leaves). */
bool merkle_frontier_append(struct merkle_frontier *f, const merkle_hash leaf) MERKLE_WUR;
/* The root of the leaves appended so far (SHA-256("") for none). */
void merkle_frontier_root(const struct merkle_frontier *f, merkle_hash out);

/* Standard base64 (RFC 4648 section 4, with padding). The decoders accept
 * only the one canonical text of exactly the expected length. */
void merkle_b64_encode(const merkle_hash h, char out[MERKLE_B64_LEN + 1]);
bool merkle_b64_decode(const char *s, merkle_hash out) MERKLE_WUR;
/* Any length: `out` holds 4 * ((len + 2) / 3) + 1 bytes. */
void merkle_b64_encode_bytes(const void *in, size_t len, char *out);
/* Exactly `want` bytes from exactly the `slen` characters at s. */
bool merkle_b64_decode_bytes(const char *s, size_t slen, void *out, size_t want) MERKLE_WUR;

#endif
