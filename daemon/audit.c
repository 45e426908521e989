/* audit.c: the audit log's sealer and its signed checkpoints (issue 8).
 *
 * Endpoints write audit rows in their own transactions, with no shared
 * lock. Every audit_seal_interval_ms the sealer calls cdrp_api.audit_seal,
 * which appends the committed rows not yet sealed to the RFC 6962 Merkle
 * tree in the database. When the tree grew, the sealer checks the
 * database's consistency proof from the checkpoint it signed last (so a
 * tree rewritten behind its back is never signed), signs a checkpoint
 * (C2SP signed note, Ed25519) and stores it: in the database
 * (cdrp_api.audit_checkpoint_add) and appended to audit_checkpoint_file,
 * outside the database, which an operator publishes (deploy/PRODUCTION.md,
 * "Audit checkpoints"). `cdrp audit verify` checks the log against them.
 *
 * On start the file's notes are verified with the key; checkpoints the
 * database has and the file lacks (cdrpd stopped between the two writes)
 * are verified and appended. A database that disagrees with the file
 * (truncated, rewritten) is reported by /v1/health and the log, and no
 * checkpoint is signed until an operator has looked. */
#include "cdrpd.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "merkle.h"

/* The proof of a tree's consistency has at most this many hashes. */
#define AUDIT_PROOF_MAX 64

static int seal_stmt, add_stmt, after_stmt;

struct audit {
	struct daemon *d;
	EVP_PKEY *key;
	struct event *tick;
	bool reconciled;        /* the file has every checkpoint the database has */
	bool busy;              /* a call is in flight */
	struct db_query *query; /* that call (cancelled by audit_stop) */
	struct checkpoint last; /* the latest signed, in the file */
	bool have_last;
	struct checkpoint pending; /* signed, being stored */
	char *pending_note;
	uint64_t tree_size;
	uint64_t last_lag_ms, max_lag_ms;
	uint64_t last_seal_ms; /* monotonic, of the last seal that sealed rows */
	uint64_t sealed_total;
	char refused[256]; /* why signing stopped; "" while all is well */
};
static struct audit A;

static uint64_t mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

void audit_register(void)
{
	seal_stmt = db_register("audit_seal", "SELECT status, body, replay, etag FROM "
	                                      "cdrp_api.audit_seal($1::int, $2::bigint)");
	add_stmt = db_register("audit_checkpoint_add",
	                       "SELECT status, body, replay, etag FROM "
	                       "cdrp_api.audit_checkpoint_add($1::bigint, $2, $3)");
	after_stmt =
	    db_register("audit_checkpoints_after", "SELECT status, body, replay, etag FROM "
	                                           "cdrp_api.audit_checkpoints_after($1::bigint)");
}

static void refuse_signing(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void refuse_signing(const char *fmt, ...)
{
	if (A.refused[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(A.refused, sizeof A.refused, fmt, ap);
	va_end(ap);
	log_error("audit: no more checkpoints will be signed: %s", A.refused);
}

/* The size of the last note in the checkpoint file open at fd, from its
 * tail; 0 if the file is empty or its end does not parse (then the next
 * start's verification of the file says what is wrong). */
static uint64_t file_last_size(int fd)
{
	char tail[2048];
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size == 0)
		return 0;
	off_t from = st.st_size > (off_t)sizeof tail - 1 ? st.st_size - (off_t)sizeof tail + 1 : 0;
	ssize_t n = pread(fd, tail, sizeof tail - 1, from);
	if (n <= 0)
		return 0;
	tail[n] = '\0';
	/* ... "<origin>\n<size>\n<root>\n" "\n" "— <signature>\n" "\n" */
	char *sig = NULL;
	for (char *p = strstr(tail, "\n\n\xe2\x80\x94 "); p; p = strstr(p + 1, "\n\n\xe2\x80\x94 "))
		sig = p;
	if (!sig)
		return 0;
	*sig = '\0'; /* the body now ends with its root line */
	char *root = strrchr(tail, '\n');
	if (!root)
		return 0;
	*root = '\0';
	char *size = strrchr(tail, '\n');
	return size ? strtoull(size + 1, NULL, 10) : 0;
}

/* Appends a signed note and the empty line that ends it, in one write,
 * under an exclusive lock: several cdrpd on one database may share the
 * file, and each note must land whole and after every smaller one. A
 * note no larger than the file's last is left out (a larger checkpoint of
 * the same log already covers it). A small write at most once per seal;
 * no fsync: a note lost with the page cache is still in the database and
 * is appended again on the next start. */
static bool append_note(const char *note, uint64_t size)
{
	bool ok = false;
	char *text = NULL;
	int fd =
	    open(A.d->cfg.audit_checkpoint_file, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_error("audit: cannot open %s: %s", A.d->cfg.audit_checkpoint_file,
		          strerror(errno));
		return false;
	}
	if (flock(fd, LOCK_EX) != 0) {
		log_error("audit: cannot lock %s: %s", A.d->cfg.audit_checkpoint_file,
		          strerror(errno));
		goto out;
	}
	if (file_last_size(fd) >= size) {
		ok = true;
		goto out;
	}
	if (asprintf(&text, "%s\n", note) < 0)
		log_fatal("out of memory");
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len) {
		log_error("audit: cannot append to %s: %s", A.d->cfg.audit_checkpoint_file,
		          strerror(errno));
		goto out;
	}
	ok = true;
out:
	free(text);
	close(fd); /* and the lock with it */
	return ok;
}

static void schedule(int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(A.tick, &tv);
}

static void call(int stmt, const char *const *params, int n, db_cb cb)
{
	struct db_query *q = db_call(A.d->db, stmt, params, n, cb, NULL);
	if (!q) { /* no database now: try again later */
		schedule(A.d->cfg.audit_seal_interval_ms);
		return;
	}
	A.query = q;
	A.busy = true;
}

/* The body of a successful answer, or NULL after logging why not. */
static json_t *answer_body(const struct db_result *r, const char *what)
{
	if (r->outcome != DB_DONE) {
		log_warn("audit: %s: the database did not answer; retrying", what);
		return NULL;
	}
	if (r->status >= 300) {
		log_error("audit: %s refused (%d): %.*s", what, r->status, (int)r->body_len,
		          r->body);
		return NULL;
	}
	json_error_t je;
	json_t *b = json_loadb(r->body, r->body_len, 0, &je);
	if (!b)
		log_error("audit: %s: unreadable answer: %s", what, je.text);
	return b;
}

static void seal(void);

/* Signed notes the database has after the file's last. */
static void reconcile_done(void *arg, const struct db_result *r)
{
	(void)arg;
	A.busy = false;
	A.query = NULL;
	json_t *b = answer_body(r, "reading checkpoints");
	if (!b) {
		schedule(A.d->cfg.audit_seal_interval_ms);
		return;
	}
	size_t i;
	json_t *c;
	json_array_foreach(b, i, c)
	{
		const char *note = json_string_value(json_object_get(c, "note"));
		struct checkpoint cp;
		char err[256];
		if (!note || !checkpoint_verify(note, strlen(note), A.key, &cp, err, sizeof err)) {
			refuse_signing("a checkpoint in the database does not verify with "
			               "audit_signing_key (%s)",
			               note ? err : "no note");
			break;
		}
		if (A.have_last && cp.size <= A.last.size)
			continue;
		if (!append_note(note, cp.size)) {
			refuse_signing("cannot write %s", A.d->cfg.audit_checkpoint_file);
			break;
		}
		log_info("audit: checkpoint of size %" PRIu64 " appended from the database",
		         cp.size);
		A.last = cp;
		A.have_last = true;
	}
	json_decref(b);
	A.reconciled = true;
	seal();
}

static void stored(void *arg, const struct db_result *r)
{
	(void)arg;
	A.busy = false;
	A.query = NULL;
	json_t *b = answer_body(r, "storing a checkpoint");
	if (b) {
		/* In the database first: a note in the file is always there too. */
		if (append_note(A.pending_note, A.pending.size)) {
			A.last = A.pending;
			A.have_last = true;
		} else {
			refuse_signing("cannot write %s", A.d->cfg.audit_checkpoint_file);
		}
		json_decref(b);
	}
	free(A.pending_note);
	A.pending_note = NULL;
	schedule(A.d->cfg.audit_seal_interval_ms);
}

/* Checks the tree the database reports against the last checkpoint signed;
 * true when a new checkpoint may be signed for it. */
static bool tree_extends_last(json_t *b, uint64_t size, const merkle_hash root)
{
	if (!A.have_last)
		return true;
	if (size < A.last.size) {
		refuse_signing("the tree has %" PRIu64 " entries but checkpoint %" PRIu64
		               " was signed: the log was truncated or restored from an older "
		               "backup (deploy/PRODUCTION.md, \"Audit checkpoints\")",
		               size, A.last.size);
		return false;
	}
	json_t *proof = json_object_get(b, "proof");
	size_t n = json_array_size(proof);
	merkle_hash hashes[AUDIT_PROOF_MAX];
	if (!json_is_array(proof) || n > AUDIT_PROOF_MAX) {
		refuse_signing("the database gave no consistency proof from size %" PRIu64,
		               A.last.size);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		const char *h = json_string_value(json_array_get(proof, i));
		if (!h || !merkle_b64_decode(h, hashes[i])) {
			refuse_signing("the database's consistency proof is malformed");
			return false;
		}
	}
	if (!merkle_verify_consistency(A.last.size, size, A.last.root, root, hashes, n)) {
		refuse_signing("the tree of %" PRIu64 " entries is not an extension of the "
		               "checkpoint signed at size %" PRIu64 ": the log was rewritten",
		               size, A.last.size);
		return false;
	}
	return true;
}

static void sealed(void *arg, const struct db_result *r)
{
	(void)arg;
	A.busy = false;
	A.query = NULL;
	json_t *b = answer_body(r, "sealing");
	int next = A.d->cfg.audit_seal_interval_ms;
	if (!b) {
		schedule(next);
		return;
	}
	uint64_t size = (uint64_t)json_integer_value(json_object_get(b, "size"));
	uint64_t count = (uint64_t)json_integer_value(json_object_get(b, "sealed"));
	const char *root_b64 = json_string_value(json_object_get(b, "root"));
	merkle_hash root;
	if (!root_b64 || !merkle_b64_decode(root_b64, root)) {
		log_error("audit: sealing: the answer has no root");
		goto out;
	}
	A.tree_size = size;
	if (count > 0) {
		A.sealed_total += count;
		A.last_lag_ms = (uint64_t)json_integer_value(json_object_get(b, "lag_ms"));
		if (A.last_lag_ms > A.max_lag_ms)
			A.max_lag_ms = A.last_lag_ms;
		A.last_seal_ms = mono_ms();
	}
	if (json_is_true(json_object_get(b, "more")))
		next = 0; /* a backlog: keep going */
	if (A.refused[0] ||
	    (A.have_last && size == A.last.size && memcmp(root, A.last.root, sizeof root) == 0) ||
	    size == 0)
		goto out;
	if (!tree_extends_last(b, size, root))
		goto out;
	A.pending.size = size;
	memcpy(A.pending.root, root, sizeof root);
	snprintf(A.pending.origin, sizeof A.pending.origin, "%s", A.d->cfg.audit_origin);
	free(A.pending_note); /* one whose storing never started */
	A.pending_note = checkpoint_sign(&A.pending, A.key);
	if (!A.pending_note)
		log_fatal("audit: cannot sign a checkpoint");
	char size_s[24];
	snprintf(size_s, sizeof size_s, "%" PRIu64, size);
	const char *params[] = {size_s, root_b64, A.pending_note};
	call(add_stmt, params, 3, stored); /* copies the parameters */
	json_decref(b);
	return;
out:
	json_decref(b);
	schedule(next);
}

static void seal(void)
{
	char batch[16], signed_size[24];
	snprintf(batch, sizeof batch, "%d", A.d->cfg.audit_seal_batch);
	snprintf(signed_size, sizeof signed_size, "%" PRIu64, A.have_last ? A.last.size : 0);
	const char *params[] = {batch, signed_size};
	call(seal_stmt, params, 2, sealed);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	if (A.busy)
		return;
	if (!A.reconciled) {
		char after[24];
		snprintf(after, sizeof after, "%" PRIu64, A.have_last ? A.last.size : 0);
		const char *params[] = {after};
		call(after_stmt, params, 1, reconcile_done);
		return;
	}
	seal();
}

/* The signing key and the last checkpoint of the file (every note in it
 * verified with the key, all of this log's origin). */
static bool load_state(const struct cfg *c, EVP_PKEY **key, struct checkpoint *last,
                       bool *have_last, char *err, size_t errlen)
{
	struct checkpoint *cps = NULL;
	size_t n = 0;
	struct stat st;
	*have_last = false;
	if (strlen(c->audit_origin) >= sizeof last->origin) {
		snprintf(err, errlen, "audit_origin is longer than %zu bytes",
		         sizeof last->origin - 1);
		return false;
	}
	*key = checkpoint_load_key(c->audit_signing_key, true, err, errlen);
	if (!*key)
		return false;
	if (stat(c->audit_checkpoint_file, &st) != 0) {
		if (errno == ENOENT)
			return true; /* a new log: the first seal creates it */
		snprintf(err, errlen, "%s: %s", c->audit_checkpoint_file, strerror(errno));
		goto fail;
	}
	if (!checkpoint_file_load(c->audit_checkpoint_file, *key, &cps, &n, err, errlen))
		goto fail;
	if (n > 0) {
		*last = cps[n - 1];
		*have_last = true;
		if (strcmp(last->origin, c->audit_origin) != 0) {
			snprintf(err, errlen,
			         "%s holds checkpoints of the log '%s', not audit_origin '%s'",
			         c->audit_checkpoint_file, last->origin, c->audit_origin);
			goto fail;
		}
	}
	free(cps);
	return true;
fail:
	free(cps);
	EVP_PKEY_free(*key);
	*key = NULL;
	return false;
}

bool audit_check_config(const struct cfg *c, char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	struct checkpoint last;
	bool have_last;
	if (!load_state(c, &key, &last, &have_last, err, errlen))
		return false;
	EVP_PKEY_free(key);
	return true;
}

bool audit_start(struct daemon *d, char *err, size_t errlen)
{
	memset(&A, 0, sizeof A);
	A.d = d;
	if (!load_state(&d->cfg, &A.key, &A.last, &A.have_last, err, errlen))
		return false;
	A.tick = evtimer_new(d->base, tick, NULL);
	if (!A.tick)
		log_fatal("out of memory");
	schedule(0);
	log_info("audit: sealing every %d ms; last checkpoint %s%" PRIu64,
	         d->cfg.audit_seal_interval_ms, A.have_last ? "size " : "none ",
	         A.have_last ? A.last.size : 0);
	return true;
}

void audit_stop(void)
{
	/* A call still in flight is failed when the pool is freed, after
	 * this: its callback must not run (it would re-arm A.tick). */
	if (A.busy)
		db_cancel(A.query);
	A.query = NULL;
	if (A.tick)
		event_free(A.tick);
	A.tick = NULL;
	EVP_PKEY_free(A.key);
	A.key = NULL;
	free(A.pending_note);
	A.pending_note = NULL;
}

json_t *audit_health(void)
{
	uint64_t now = mono_ms();
	json_t *h = json_pack(
	    "{sI sI sI sI sI ss}", "tree_size", (json_int_t)A.tree_size, "checkpoint_size",
	    (json_int_t)(A.have_last ? A.last.size : 0), "seal_lag_ms", (json_int_t)A.last_lag_ms,
	    "max_seal_lag_ms", (json_int_t)A.max_lag_ms, "sealed_since_start",
	    (json_int_t)A.sealed_total, "signing", A.refused[0] ? "refused" : "ok");
	if (!h)
		log_fatal("out of memory");
	if (A.last_seal_ms)
		json_object_set_new(h, "last_seal_ms_ago",
		                    json_integer((json_int_t)(now - A.last_seal_ms)));
	if (A.refused[0])
		json_object_set_new(h, "refused", json_string(A.refused));
	return h;
}
