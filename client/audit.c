/* audit.c: `cdrp audit verify` (issue 8) -- checks the audit log cdrpd
 * serves against signed checkpoints the caller holds: the checkpoints'
 * signatures, the server's latest signed checkpoint, the consistency proof
 * between them, every entry against the leaf sealed at its position and
 * the roots the checkpoints signed, and one entry's inclusion proof. The
 * server is not trusted for anything a signature or a proof does not
 * back, so everything it says is checked before it is believed; what does
 * not check out is reported naming the position, and exits 3. */
#include "checkpoint.h"
#include "cli.h"
#include "merkle.h"
#include "render.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Findings printed one by one; the rest are counted. */
#define AV_SHOW_MAX 50

static const char u_verify[] =
    "usage: cdrp audit verify --checkpoint FILE --pubkey KEY [--entry N] [--quick]\n"
    "                         [OPTIONS]\n"
    "\n"
    "Check that the audit log cdrpd serves is the one its signed checkpoints\n"
    "describe: nothing edited, deleted, reordered or cut off since they were\n"
    "signed (administrators).\n"
    "\n"
    "  --checkpoint FILE  the checkpoints you hold: signed notes, each followed\n"
    "                     by an empty line, as cdrpd appends them to its\n"
    "                     audit_checkpoint_file; the last is the one the log\n"
    "                     must extend\n"
    "  --pubkey KEY       the log's Ed25519 public key, PEM (openssl pkey -pubout)\n"
    "  --entry N          also prove that entry N (from 0) is in the signed log,\n"
    "                     and print it\n"
    "  --quick            check the signatures and the consistency proof only,\n"
    "                     without reading every entry\n"
    "\n"
    "What is checked, in this order:\n"
    "  1. every checkpoint in FILE is signed by KEY, for one log, and sizes\n"
    "     never decrease (equal sizes have equal roots);\n"
    "  2. the server's latest checkpoint is signed by KEY, for the same log, and\n"
    "     is not smaller than your last one (else the log was truncated) nor of\n"
    "     the same size with another root (else it was rewritten);\n"
    "  3. the server's consistency proof shows the log extends your last\n"
    "     checkpoint (else entries before it were rewritten or reordered);\n"
    "  4. unless --quick: every entry is there and its content matches the leaf\n"
    "     sealed at its position, and the entries give the root signed for the\n"
    "     latest size and for each of your checkpoints;\n"
    "  5. with --entry N: the entry's inclusion proof leads to the signed root.\n"
    "Each finding names the position (and the audit row's id), e.g. \"entry 17\n"
    "(audit id 5678) was edited: its content does not match the leaf sealed at\n"
    "that position\".\n"
    "\n"
    "Exit status:\n"
    "  0   the log is intact (with --quick: consistent with your checkpoint)\n"
    "  3   tampering found: every finding is printed on standard error\n"
    "  64  usage error\n"
    "  65  FILE or KEY is not usable: not an Ed25519 public key, a note that does\n"
    "      not verify with KEY, or notes that contradict each other (named by\n"
    "      note and line), or FILE holds no checkpoint\n"
    "  66  FILE or KEY cannot be read\n"
    "  79  --entry N is beyond the log\n"
    "  others as in cdrp --help (connection, permission, server errors)\n";

/* One verification run. */
struct av {
	const struct cdrp_opts *o;
	struct http_client *c;
	EVP_PKEY *pub;
	struct checkpoint *cps; /* from FILE, in order, sizes not decreasing */
	size_t ncps;
	struct checkpoint latest; /* the server's, once verified */
	bool have_latest;
	size_t nproblems;
	json_t *problems; /* --json: the findings shown */
	json_t *entry;    /* --json: the --entry asked for */
	uint64_t scanned; /* entries read */
	bool scan_ran;    /* the entries were read (not --quick) */
	int failed_cps;   /* checkpoints of FILE the entries do not give */
};

static void av_say(const struct av *av, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void av_say(const struct av *av, const char *fmt, ...)
{
	va_list ap;

	if (av->o->json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout); /* in order with the findings, on stderr */
}

/* A finding: the log is not what its checkpoints say. */
static void av_problem(struct av *av, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void av_problem(struct av *av, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (++av->nproblems > AV_SHOW_MAX)
		return;
	if (av->o->json)
		json_array_append_new(av->problems, json_string(msg));
	else
		fprintf(stderr, "cdrp: %s\n", msg);
}

static int av_bad_answer(const char *what)
{
	fprintf(stderr, "cdrp: unexpected answer from the server: %s\n", what);
	return CDRP_EXIT_SOFTWARE;
}

/* GET path; 0 with *docp set, or the exit code (already reported). When
 * `code` is given it gets the error code of a refusal ("" if none). */
static int av_get(struct av *av, const char *path, json_t **docp, char *code, size_t codelen)
{
	struct http_response resp = {0};
	bool sent;
	int rc = cdrp_call(av->o, av->c, "GET", path, NULL, NULL, 0, &resp, docp, &sent);

	if (code) {
		json_t *p = rc && resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
		const char *c = cdrp_str(p, "code");

		snprintf(code, codelen, "%s", c ? c : "");
		json_decref(p);
	}
	http_response_free(&resp);
	return rc;
}

/* A non-negative integer member. */
static bool av_uint(const json_t *obj, const char *key, uint64_t *out)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

/* A proof: an array of at most MERKLE_PROOF_MAX base64 hashes. A longer
 * one is cut to one hash more than allowed, which no verification
 * accepts, so it is reported as a failing proof, not a garbled answer. */
static bool av_proof(const json_t *arr, merkle_hash *out, size_t *len)
{
	size_t n = json_array_size(arr);

	if (!json_is_array(arr))
		return false;
	if (n > MERKLE_PROOF_MAX)
		n = MERKLE_PROOF_MAX + 1;
	for (size_t i = 0; i < n; i++)
		if (!merkle_b64_decode(json_string_value(json_array_get(arr, i)), out[i]))
			return false;
	*len = n;
	return true;
}

/* " (audit id 5678)" when the entry's text is a JSON object with an id;
 * only worked out for an entry being reported. */
static void av_audit_id(const json_t *text, char *out, size_t outlen)
{
	json_t *v = json_is_string(text)
	                ? json_loadb(json_string_value(text), json_string_length(text), 0, NULL)
	                : NULL;
	const json_t *id = json_object_get(v, "id");

	out[0] = '\0';
	if (json_is_integer(id))
		snprintf(out, outlen, " (audit id %" JSON_INTEGER_FORMAT ")",
		         json_integer_value(id));
	json_decref(v);
}

/* ---- 1. the checkpoints the caller holds ---- */

static int av_load(struct av *av, const char *file, const char *keyfile)
{
	const char *paths[] = {keyfile, file};
	char err[512], root[MERKLE_B64_LEN + 1];
	const struct checkpoint *last;

	for (size_t i = 0; i < 2; i++) {
		if (access(paths[i], R_OK) != 0) {
			fprintf(stderr, "cdrp: cannot read %s: %s\n", paths[i], strerror(errno));
			return CDRP_EXIT_NOINPUT;
		}
	}
	av->pub = checkpoint_load_key(keyfile, false, err, sizeof err);
	if (!av->pub) {
		fprintf(stderr, "cdrp: --pubkey %s\n", err);
		return CDRP_EXIT_DATAERR;
	}
	if (!checkpoint_file_load(file, av->pub, &av->cps, &av->ncps, err, sizeof err)) {
		fputs("cdrp: --checkpoint ", stderr);
		render_safe(stderr, file);
		fputs(": ", stderr);
		render_safe(stderr, err);
		fputc('\n', stderr);
		return CDRP_EXIT_DATAERR;
	}
	if (av->ncps == 0) {
		fprintf(stderr, "cdrp: --checkpoint %s holds no checkpoint\n", file);
		return CDRP_EXIT_DATAERR;
	}
	last = &av->cps[av->ncps - 1];
	merkle_b64_encode(last->root, root);
	av_say(av, "checkpoints: %zu in %s, each signed by your key, sizes never decreasing\n",
	       av->ncps, file);
	if (!av->o->json) {
		fputs("  your latest: ", stdout);
		render_safe(stdout, last->origin);
		printf(", size %" PRIu64 ", root %s\n", last->size, root);
	}
	return 0;
}

/* ---- 2. and 3. the server's latest checkpoint, and its consistency ---- */

/* 0 to go on (findings included), -1 when nothing more can be checked,
 * else an exit code. */
static int av_latest(struct av *av)
{
	const struct checkpoint *mine = &av->cps[av->ncps - 1];
	char err[512], root[MERKLE_B64_LEN + 1], path[128];
	merkle_hash proof[MERKLE_PROOF_MAX + 1];
	json_t *doc = NULL;
	const json_t *note;
	uint64_t from, to;
	char code[32];
	size_t len = 0;
	int rc;

	rc = av_get(av, "/v1/audit/checkpoint", &doc, code, sizeof code);
	if (rc == CDRP_EXIT_NOTFOUND && !strcmp(code, "not_found") && mine->size > 0) {
		/* the checkpoints are gone with the log they signed */
		av_problem(av,
		           "the log was truncated: the server has no signed checkpoint, yours has "
		           "%" PRIu64 " entries",
		           mine->size);
		return -1;
	}
	if (rc)
		return rc;
	note = json_object_get(doc, "note");
	if (!json_is_string(note)) {
		json_decref(doc);
		return av_bad_answer("the checkpoint has no note");
	}
	if (!checkpoint_verify(json_string_value(note), json_string_length(note), av->pub,
	                       &av->latest, err, sizeof err)) {
		json_decref(doc);
		av_problem(av,
		           "the server's latest checkpoint does not verify with your key (%s): it "
		           "was forged or altered",
		           err);
		return -1;
	}
	json_decref(doc);
	doc = NULL;
	if (strcmp(av->latest.origin, mine->origin) != 0) {
		av_problem(av, "the server's latest checkpoint is of another log than yours");
		return -1;
	}
	av->have_latest = true;
	merkle_b64_encode(av->latest.root, root);
	av_say(av, "server checkpoint: size %" PRIu64 ", root %s, signed by your key\n",
	       av->latest.size, root);

	if (av->latest.size < mine->size) {
		av_problem(av,
		           "the log was truncated: it has %" PRIu64 " entries, your checkpoint has "
		           "%" PRIu64,
		           av->latest.size, mine->size);
		return 0;
	}
	if (av->latest.size == mine->size) {
		if (memcmp(av->latest.root, mine->root, MERKLE_HASH_LEN) != 0)
			av_problem(av,
			           "the log was rewritten: the server's checkpoint of size %" PRIu64
			           " has another root than yours",
			           mine->size);
		else
			av_say(av,
			       "consistency: the log is your checkpoint of size %" PRIu64
			       " itself\n",
			       mine->size);
		return 0;
	}
	snprintf(path, sizeof path, "/v1/audit/consistency?from=%" PRIu64 "&to=%" PRIu64,
	         mine->size, av->latest.size);
	rc = av_get(av, path, &doc, NULL, 0);
	if (rc)
		return rc;
	if (!av_uint(doc, "from", &from) || !av_uint(doc, "to", &to) || from != mine->size ||
	    to != av->latest.size || !av_proof(json_object_get(doc, "proof"), proof, &len)) {
		json_decref(doc);
		return av_bad_answer("not the consistency proof asked for");
	}
	json_decref(doc);
	if (!merkle_verify_consistency(mine->size, av->latest.size, mine->root, av->latest.root,
	                               proof, len))
		av_problem(av,
		           "the log is not an extension of your checkpoint (size %" PRIu64
		           "): rewritten or reordered before position %" PRIu64,
		           mine->size, mine->size);
	else
		av_say(av,
		       "consistency: the log of %" PRIu64
		       " entries extends your checkpoint of size "
		       "%" PRIu64 " (proof of %zu hashes verified)\n",
		       av->latest.size, mine->size, len);
	return 0;
}

/* ---- 4. every entry ---- */

/* Where the scan is, for comparing roots as it goes. */
struct av_scan {
	struct merkle_frontier f;
	size_t next_cp;      /* the next checkpoint of FILE to compare */
	uint64_t first_edit; /* first position whose text is not its leaf */
	uint64_t unknown;    /* first position with neither text nor leaf */
	uint64_t good_size;  /* largest checkpoint size the entries gave */
};

/* Compare the root of the entries read so far (f.size of them) with a
 * signed root. */
static void av_root_check(struct av *av, struct av_scan *s, uint64_t size,
                          const merkle_hash signed_root, bool latest)
{
	merkle_hash root;
	char why[160];

	if (s->unknown < size)
		return; /* already reported: an entry without anything to hash */
	merkle_frontier_root(&s->f, root);
	if (memcmp(root, signed_root, MERKLE_HASH_LEN) == 0) {
		if (size > s->good_size)
			s->good_size = size;
		return;
	}
	if (!latest && av->failed_cps++ > 0)
		return; /* the first is the news; the later ones follow from it */
	if (s->first_edit < size)
		snprintf(why, sizeof why,
		         ": the first that differs from its sealed leaf is entry %" PRIu64,
		         s->first_edit);
	else if (s->good_size > 0 && s->good_size < size)
		snprintf(why, sizeof why,
		         " (rewritten with their sealed leaves, in positions %" PRIu64
		         " to %" PRIu64 ": the entries do give your checkpoint of size %" PRIu64
		         ")",
		         s->good_size, size - 1, s->good_size);
	else
		snprintf(why, sizeof why, " (rewritten with their sealed leaves)");
	av_problem(av,
	           "entries before position %" PRIu64
	           " do not match the %s signed for size %" PRIu64 "%s",
	           size, latest ? "latest checkpoint" : "checkpoint", size, why);
}

/* One entry of a page: check it and add its leaf to the tree. 0 or an
 * exit code. */
static int av_entry_at(struct av *av, struct av_scan *s, uint64_t idx, const json_t *e)
{
	const json_t *lh = json_object_get(e, "leaf_hash"), *text = json_object_get(e, "entry");
	merkle_hash sealed, computed, zero = {0};
	const unsigned char *use = zero;
	char id[64] = "";
	uint64_t at;

	if (!json_is_object(e) || !av_uint(e, "index", &at) || at != idx)
		return av_bad_answer("an entry out of place in the list");
	if ((!json_is_null(lh) && !merkle_b64_decode(json_string_value(lh), sealed)) ||
	    (!json_is_null(text) && !json_is_string(text)))
		return av_bad_answer("an entry that is neither text nor null");
	if (json_is_string(text)) {
		merkle_leaf_hash(json_string_value(text), json_string_length(text), computed);
		use = computed;
	}
	if (json_is_null(text) && json_is_null(lh)) {
		av_problem(av, "entry %" PRIu64 " is missing, and so is its sealed leaf", idx);
		if (s->unknown == UINT64_MAX)
			s->unknown = idx;
	} else if (json_is_null(text)) {
		av_problem(av, "entry %" PRIu64 " is missing", idx);
		use = sealed; /* to go on checking the others against the roots */
	} else if (json_is_null(lh)) {
		av_audit_id(text, id, sizeof id);
		av_problem(av, "entry %" PRIu64 "%s: the leaf sealed at that position is missing",
		           idx, id);
	} else if (memcmp(sealed, computed, MERKLE_HASH_LEN) != 0) {
		av_audit_id(text, id, sizeof id);
		av_problem(av,
		           "entry %" PRIu64 "%s was edited: its content does not match the leaf "
		           "sealed at that position",
		           idx, id);
		if (s->first_edit == UINT64_MAX)
			s->first_edit = idx;
	}
	if (!merkle_frontier_append(&s->f, use))
		return av_bad_answer("more entries than a tree can hold");
	while (s->next_cp < av->ncps && av->cps[s->next_cp].size == idx + 1) {
		av_root_check(av, s, idx + 1, av->cps[s->next_cp].root, false);
		s->next_cp++;
	}
	return 0;
}

static int av_scan(struct av *av)
{
	struct av_scan s = {.first_edit = UINT64_MAX, .unknown = UINT64_MAX};
	uint64_t start = 0, got_start, size = av->latest.size;
	char path[128];
	size_t unchecked;
	int rc = 0;

	av->scan_ran = true;
	merkle_frontier_init(&s.f);
	/* checkpoints of the empty tree, if any, come before every entry */
	while (s.next_cp < av->ncps && av->cps[s.next_cp].size == 0) {
		av_root_check(av, &s, 0, av->cps[s.next_cp].root, false);
		s.next_cp++;
	}
	while (start < size) {
		uint64_t count =
		    size - start < PROTO_AUDIT_PAGE_MAX ? size - start : PROTO_AUDIT_PAGE_MAX;
		json_t *doc = NULL;
		const json_t *list;
		size_t n;

		snprintf(path, sizeof path, "/v1/audit/entries?start=%" PRIu64 "&count=%" PRIu64,
		         start, count);
		rc = av_get(av, path, &doc, NULL, 0);
		if (rc)
			return rc;
		list = json_object_get(doc, "entries");
		n = json_array_size(list);
		if (!json_is_array(list) || !av_uint(doc, "start", &got_start) ||
		    got_start != start || n > count) {
			json_decref(doc);
			return av_bad_answer("not the entries asked for");
		}
		if (n == 0) {
			json_decref(doc);
			av_problem(av,
			           "the log was truncated: it has no entries from position %" PRIu64
			           " on, but its checkpoint was signed for %" PRIu64,
			           start, size);
			if (s.unknown == UINT64_MAX)
				s.unknown = start;
			break;
		}
		for (size_t k = 0; k < n && rc == 0; k++)
			rc = av_entry_at(av, &s, start + k, json_array_get(list, k));
		json_decref(doc);
		if (rc)
			return rc;
		start += n;
		av->scanned = start;
	}
	if (start == size) /* else the truncation is reported already */
		av_root_check(av, &s, size, av->latest.root, true);
	if (av->failed_cps > 1)
		av_problem(av,
		           "and %d later checkpoint%s of yours do%s not match the entries either",
		           av->failed_cps - 1, av->failed_cps > 2 ? "s" : "",
		           av->failed_cps > 2 ? "" : "es");

	unchecked = av->ncps - s.next_cp;
	av_say(av,
	       "entries: %" PRIu64 " of %" PRIu64 " read, each checked against the leaf "
	       "sealed at its position\n",
	       av->scanned, size);
	if (av->nproblems == 0)
		av_say(av,
		       "roots: the entries give the root signed for size %" PRIu64
		       " and the roots of your %zu checkpoints\n",
		       size, av->ncps);
	else if (unchecked > 0)
		av_say(av,
		       "roots: %zu of your checkpoints are beyond the entries and were not "
		       "compared\n",
		       unchecked);
	return 0;
}

/* ---- 5. one entry's inclusion proof ---- */

static int av_one(struct av *av, uint64_t idx)
{
	char path[128], id[64] = "";
	merkle_hash sealed, computed, proof[MERKLE_PROOF_MAX + 1];
	const json_t *lh, *text;
	json_t *doc = NULL, *v = NULL;
	uint64_t gi, gs;
	size_t len = 0;
	int rc;

	snprintf(path, sizeof path, "/v1/audit/inclusion?index=%" PRIu64 "&size=%" PRIu64, idx,
	         av->latest.size);
	rc = av_get(av, path, &doc, NULL, 0);
	if (rc)
		return rc;
	lh = json_object_get(doc, "leaf_hash");
	text = json_object_get(doc, "entry");
	if (!av_uint(doc, "index", &gi) || !av_uint(doc, "size", &gs) || gi != idx ||
	    gs != av->latest.size || !av_proof(json_object_get(doc, "proof"), proof, &len) ||
	    (!json_is_null(lh) && !merkle_b64_decode(json_string_value(lh), sealed)) ||
	    (!json_is_null(text) && !json_is_string(text))) {
		json_decref(doc);
		return av_bad_answer("not the inclusion proof asked for");
	}
	if (json_is_string(text)) {
		merkle_leaf_hash(json_string_value(text), json_string_length(text), computed);
		av_audit_id(text, id, sizeof id);
	}
	if (json_is_null(lh))
		av_problem(av, "entry %" PRIu64 "%s: the leaf sealed at that position is missing",
		           idx, id);
	else if (!merkle_verify_inclusion(idx, av->latest.size, sealed, proof, len,
	                                  av->latest.root))
		av_problem(av,
		           "entry %" PRIu64 "%s is not in the signed log: its inclusion proof does "
		           "not lead to the root signed for size %" PRIu64,
		           idx, id, av->latest.size);
	if (json_is_null(text))
		av_problem(av, "entry %" PRIu64 " is missing", idx);
	else if (!json_is_null(lh) && memcmp(sealed, computed, MERKLE_HASH_LEN) != 0)
		av_problem(av,
		           "entry %" PRIu64 "%s was edited: its content does not match the leaf "
		           "sealed at that position",
		           idx, id);
	else if (!json_is_null(lh))
		av_say(av,
		       "entry %" PRIu64 ": its inclusion proof (%zu hashes) leads to the signed "
		       "root, and its content matches its leaf\n",
		       idx, len);

	if (json_is_string(text)) {
		v = json_loadb(json_string_value(text), json_string_length(text), 0, NULL);
		if (av->o->json) {
			av->entry = v ? json_incref(v) : json_incref((json_t *)text);
		} else {
			char *s = v ? json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
			/* other people's text: made safe for the terminal */
			char *clean = render_clean(s ? s : json_string_value(text), true);

			printf("entry %" PRIu64 "%s:\n%s\n", idx, id,
			       clean ? clean : "(out of memory)");
			free(clean);
			free(s);
		}
	}
	json_decref(v);
	json_decref(doc);
	return 0;
}

/* ---- the command ---- */

static int av_summary(struct av *av, bool quick)
{
	const struct checkpoint *mine = &av->cps[av->ncps - 1];
	char root[MERKLE_B64_LEN + 1];
	json_t *out;
	int rc = av->nproblems ? CDRP_EXIT_TAMPERED : CDRP_EXIT_OK;

	merkle_b64_encode(av->latest.root, root);
	if (av->o->json) {
		/* size and root only when the server's checkpoint verified */
		json_t *size =
		    av->have_latest ? json_integer((json_int_t)av->latest.size) : json_null();
		json_t *rootv = av->have_latest ? json_string(root) : json_null();
		json_t *checked =
		    av->scan_ran ? json_integer((json_int_t)av->scanned) : json_null();

		out = json_pack("{s:b, s:s, s:o, s:o, s:I, s:I, s:o, s:O, s:I}", "intact",
		                !av->nproblems, "origin", mine->origin, "size", size, "root", rootv,
		                "checkpoint_size", (json_int_t)mine->size, "checkpoints",
		                (json_int_t)av->ncps, "entries_checked", checked, "problems",
		                av->problems, "problems_total", (json_int_t)av->nproblems);
		if (out && av->entry)
			json_object_set(out, "entry", av->entry);
		if (!out || cdrp_print_json(out) != 0)
			rc = cdrp_oom();
		json_decref(out);
	}
	if (av->nproblems) {
		if (av->nproblems > AV_SHOW_MAX)
			fprintf(stderr, "cdrp: ... and %zu more\n", av->nproblems - AV_SHOW_MAX);
		fprintf(stderr, "cdrp: the audit log does not verify: %zu finding%s\n",
		        av->nproblems, av->nproblems == 1 ? "" : "s");
	} else if (quick) {
		av_say(av,
		       "audit log consistent with your checkpoint of size %" PRIu64 ": %" PRIu64
		       " entries, root %s (entries not read: --quick)\n",
		       mine->size, av->latest.size, root);
	} else {
		av_say(av,
		       "audit log intact: %" PRIu64 " entries, root %s, consistent with your "
		       "checkpoint of size %" PRIu64 "\n",
		       av->latest.size, root, mine->size);
	}
	return rc;
}

static int audit_verify(const struct cdrp_opts *o)
{
	const char *entry = cdrp_opt(o, "entry");
	bool quick = cdrp_flag(o, "quick");
	struct av av = {.o = o};
	uint64_t idx = 0;
	int rc;

	if (entry) {
		size_t n = strlen(entry);

		if (n == 0 || n > 18 || strspn(entry, "0123456789") != n)
			return cdrp_usage_error(o->cmd, "--entry must be a position: 0, 1, 2, ...");
		idx = strtoull(entry, NULL, 10);
	}
	av.problems = json_array();
	if (!av.problems)
		return cdrp_oom();
	rc = av_load(&av, cdrp_opt(o, "checkpoint"), cdrp_opt(o, "pubkey"));
	if (rc)
		goto out;
	av.c = cdrp_connect(o, &rc);
	if (!av.c)
		goto out;
	rc = av_latest(&av);
	if (rc > 0)
		goto out;
	if (rc < 0) {
		/* nothing the server says can be trusted any more */
		rc = av_summary(&av, quick);
		goto out;
	}
	if (entry && idx >= av.latest.size) {
		/* said before reading every entry, not after */
		fprintf(stderr,
		        "cdrp: entry %" PRIu64 " is beyond the log, which has %" PRIu64
		        " entries\n",
		        idx, av.latest.size);
		rc = CDRP_EXIT_NOTFOUND;
		goto out;
	}
	if (!quick) {
		rc = av_scan(&av);
		if (rc)
			goto out;
	}
	if (entry) {
		rc = av_one(&av, idx);
		if (rc)
			goto out;
	}
	rc = av_summary(&av, quick);
out:
	/* tampering found before a later failure is still the news */
	if (av.nproblems && rc != CDRP_EXIT_TAMPERED) {
		fprintf(stderr,
		        "cdrp: the audit log does not verify: %zu finding%s before the "
		        "check stopped\n",
		        av.nproblems, av.nproblems == 1 ? "" : "s");
		rc = CDRP_EXIT_TAMPERED;
	}
	json_decref(av.entry);
	json_decref(av.problems);
	http_client_free(av.c);
	free(av.cps);
	EVP_PKEY_free(av.pub);
	return rc;
}

const struct cdrp_command cdrp_audit_cmds[] = {
    {.group = "audit",
     .name = "verify",
     .synopsis = "audit verify",
     .summary = "check the audit log against your signed checkpoints",
     .usage = u_verify,
     .opts = " checkpoint pubkey entry quick ",
     .required = " checkpoint pubkey ",
     .run = audit_verify},
};
const size_t cdrp_audit_ncmds = sizeof(cdrp_audit_cmds) / sizeof(cdrp_audit_cmds[0]);
