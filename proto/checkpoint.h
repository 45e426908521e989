/* checkpoint.h: signed checkpoints of the audit transparency log (issue 8)
 * in the C2SP formats (https://c2sp.org/tlog-checkpoint, a signed note of
 * https://c2sp.org/signed-note) with Ed25519 keys: the body is
 *
 *     <origin>\n<decimal size>\n<base64 root>\n
 *
 * then an empty line and the signature line "— <origin> <base64(key hash
 * || signature)>\n", where the key hash is the first 4 bytes of
 * SHA-256(origin || "\n" || 0x01 || raw public key). cdrpd signs them;
 * cdrpd and `cdrp audit verify` verify them and the files that keep them. */
#ifndef CDRP_CHECKPOINT_H
#define CDRP_CHECKPOINT_H

#include "merkle.h"

#include <openssl/evp.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest origin, in bytes. */
#define CHECKPOINT_ORIGIN_MAX 255

struct checkpoint {
	char origin[CHECKPOINT_ORIGIN_MAX + 1];
	uint64_t size;
	merkle_hash root;
};

/* An Ed25519 key from a PEM file: a private key (openssl genpkey
 * -algorithm ed25519) when private_key, else a public key (openssl pkey
 * -pubout). Other key types are refused. NULL with err set on failure;
 * free with EVP_PKEY_free. */
EVP_PKEY *checkpoint_load_key(const char *pem_path, bool private_key, char *err,
                              size_t errlen) MERKLE_WUR;

/* The signed note of cp (its origin is also the key name, so it must be
 * valid UTF-8 without spaces, '+' or control characters); malloc'd text,
 * NULL on error. */
char *checkpoint_sign(const struct checkpoint *cp, EVP_PKEY *priv) MERKLE_WUR;

/* Parse the signed note of `len` bytes at `note` and check it carries a
 * valid signature by `pub` (a public or private Ed25519 key) under the key
 * name of its origin; other signatures are ignored. Refused: a body of other
 * than the three lines, an empty origin or one with control characters,
 * spaces or '+', a size that is not canonical decimal, a root that is not
 * the base64 of 32 bytes, no signature of the key, a failing signature of
 * the key. On success fills *out. */
bool checkpoint_verify(const char *note, size_t len, EVP_PKEY *pub, struct checkpoint *out,
                       char *err, size_t errlen) MERKLE_WUR;

/* A checkpoint file: signed notes one after another, each followed by an
 * empty line. Every note is verified with `pub`; sizes may not decrease,
 * and equal sizes must have equal roots. An empty file has no checkpoints.
 * On success *out (malloc'd, free with free(); NULL when *n is 0) holds *n
 * checkpoints in file order; on failure err names the note (from 1) and
 * the line of the file. */
bool checkpoint_file_load(const char *path, EVP_PKEY *pub, struct checkpoint **out, size_t *n,
                          char *err, size_t errlen) MERKLE_WUR;

#endif
