/* cdrp.c: the cdrp command line -- option parsing, the command table and
 * its help, the health and referral intake commands, and the mapping of
 * every failure to one of the exit codes documented in `cdrp --help`, so
 * scripts can tell "fix the input" from "try again later" from "call the
 * administrator". The casework commands are in casework.c. */
#include "cli.h"
#include "http.h"
#include "proto.h"
#include "render.h"

#include <openssl/evp.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Largest input file read; the server's own limit is far lower, this only
 * keeps a wrong file (a disk image, /dev/zero) from eating memory. */
#define CDRP_MAX_INPUT   (16u * 1024u * 1024u)
#define CDRP_TIMEOUT_MAX 86400

static const char cdrp_usage_head[] =
    "usage: cdrp [OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "Client for the cdrp API (cdrpd), over HTTPS with a client certificate.\n"
    "\n"
    "Commands (cdrp COMMAND --help for each; cdrp GROUP --help for a group):\n";

static const char cdrp_usage_tail[] =
    "\n"
    "Options (accepted anywhere on the line):\n"
    "  --url URL          server: https://host[:port][/prefix]     (env CDRP_URL)\n"
    "  --ca FILE          CA the server certificate must chain to  (env CDRP_CA)\n"
    "  --cert FILE        client certificate, PEM                  (env CDRP_CERT)\n"
    "  --key FILE         client private key, PEM; if encrypted, the passphrase is\n"
    "                     the first line of $CDRP_KEY_PASSPHRASE_FILE, else asked\n"
    "                     for on the terminal when stdin is one    (env CDRP_KEY)\n"
    "  --timeout SECONDS  time limit for each request, 1-86400 (default 30)\n"
    "                                                              (env CDRP_TIMEOUT)\n"
    "  --partnership CODE act within this partnership, for an agency that belongs\n"
    "                     to several                               (env CDRP_PARTNERSHIP)\n"
    "  --profile NAME     take settings from profile [NAME] of the profile file\n"
    "                                                              (env CDRP_PROFILE)\n"
    "  --config FILE      the profile file (env CDRP_CONFIG; default\n"
    "                     $XDG_CONFIG_HOME/cdrp/config, else ~/.config/cdrp/config)\n"
    "  --why TEXT         why you need the data (10-500 characters): required to\n"
    "                     read OFFICIAL-SENSITIVE cases and referrals; audited\n"
    "  --json             print the server's JSON answer (pretty-printed) instead of\n"
    "                     text; error answers too, while the message goes to stderr\n"
    "  --version          print the client's version and the API version it speaks\n"
    "  -h, --help         show help\n"
    "\n"
    "Profiles (docs/cli.md): an INI-like file with one [NAME] section per identity,\n"
    "keys url, ca, cert, key, partnership and timeout; '#' or ';' starts a comment\n"
    "line. 'default = NAME' before the first section, else a [default] section,\n"
    "is used when no --profile or CDRP_PROFILE names one. Relative ca, cert and\n"
    "key paths are from the file's directory; ~/ is $HOME. Each setting is taken\n"
    "from its option, else its environment variable, else the profile, else the\n"
    "built-in default. An unknown key, an unknown profile, or a file that names a\n"
    "key and is writable by group or others is refused (exit 64, FILE:LINE).\n"
    "CDRP_CONFIG=/dev/null ignores any profile file.\n"
    "\n"
    "Exit status:\n"
    "  0   success\n"
    "  3   audit verify found the audit log tampered with (edited, missing,\n"
    "      reordered or truncated entries, a rewritten history, a checkpoint not\n"
    "      signed by the log's key); each finding is printed\n"
    "  64  usage error: unknown command or option, wrong arguments, bad option value;\n"
    "      or the profile file is refused (unknown key or profile, bad value, group-\n"
    "      or world-writable while naming a key)\n"
    "  65  invalid input: refused by local validation, or by the server with\n"
    "      HTTP 400, 413, 415 or 431; or a business rule refused the change\n"
    "      (HTTP 422, rule_violation: the message gives the rule)\n"
    "  66  the input file, the profile file or the passphrase file cannot be read,\n"
    "      or the passphrase does not decrypt the key\n"
    "  69  server unavailable: cannot connect, timed out, HTTP 503 or 429\n"
    "  70  internal error or unexpected answer (HTTP 5xx other than 503, an answer\n"
    "      that cannot be understood)\n"
    "  75  TLS handshake failed: server certificate not trusted or not for this\n"
    "      host, or the server refused the client certificate\n"
    "  77  permission denied (HTTP 403: identity not registered, role not allowed)\n"
    "  78  configuration error: --url, --ca, --cert or --key missing or unusable\n"
    "      (an encrypted key with no passphrase file and no terminal to ask on)\n"
    "  79  not found (HTTP 404)\n"
    "  80  conflict (HTTP 409: an idempotency key reused with another body, or a\n"
    "      change the object's current state does not allow, invalid_transition)\n"
    "  81  changed since read: the case or action was changed by someone else since\n"
    "      its version (ETag) was read (HTTP 412), or If-Match was missing (HTTP\n"
    "      428); show it again and retry\n";

static const char cdrp_usage_health[] =
    "usage: cdrp health [OPTIONS]\n"
    "\n"
    "Ask cdrpd whether it and its database are up and print the schema version:\n"
    "  cdrpd ok, database ok, schema version N\n"
    "A database outage is HTTP 503 (exit 69).\n"
    "\n"
    "Options: --url, --ca, --cert, --key, --timeout, --json (see cdrp --help).\n";

static const char cdrp_usage_submit[] =
    "usage: cdrp referral submit FILE|- [--idempotency-key KEY] [OPTIONS]\n"
    "\n"
    "Submit the referral in FILE (JSON, as in proto/API.md), or read it from\n"
    "standard input when FILE is \"-\". It is validated here first: an invalid\n"
    "referral is reported, naming the field, and exits 65 without contacting\n"
    "the server.\n"
    "\n"
    "Submitting is safe to retry. Without --idempotency-key the key is derived\n"
    "from the referral's content (sha256:...), so running the same command again\n"
    "after a timeout or an HTTP 503 returns the original answer instead of\n"
    "creating a second referral.\n"
    "\n"
    "  --idempotency-key KEY  use KEY (1-200 printable ASCII characters) instead\n"
    "\n"
    "Prints: Referral REF-YYYY-NNNNNN submitted (id N, status submitted)\n"
    "Connection options and exit codes: cdrp --help.\n";

static const char cdrp_usage_show[] =
    "usage: cdrp referral show ID [OPTIONS]\n"
    "\n"
    "Show referral ID (the number, as printed by submit and list). Referrals of\n"
    "other agencies are visible only to caseworkers, chairs and admins; others\n"
    "get \"not found\" (exit 79).\n"
    "\n"
    "Connection options and exit codes: cdrp --help.\n";

static const char cdrp_usage_list[] =
    "usage: cdrp referral list [--status S] [--submitted-from DATE] [--submitted-to DATE]\n"
    "                          [--limit N] [--cursor C] [--all] [OPTIONS]\n"
    "\n"
    "List the referrals visible to you, newest first, one page at a time, with\n"
    "the subject's name (for an OFFICIAL-SENSITIVE referral only with --why).\n"
    "\n"
    "  --status S   only this status: submitted, info_requested, accepted,\n"
    "               declined or withdrawn\n"
    "  --submitted-from DATE, --submitted-to DATE\n"
    "               only referrals submitted on or after / on or before this\n"
    "               day (UTC, YYYY-MM-DD)\n"
    "  --limit N    page size, 1-200 (default 50)\n"
    "  --cursor C   continue from a previous page's \"next cursor\"\n"
    "  --all        follow the cursors to the end and print every page as one;\n"
    "               with --json: {\"items\": [...all...], \"next_cursor\": null}\n"
    "\n"
    "Connection options and exit codes: cdrp --help.\n";

static const char cdrp_usage_version[] =
    "usage: cdrp version   (or: cdrp --version)\n"
    "\n"
    "Print the client's version and the version of the cdrp API it speaks:\n"
    "  cdrp " PROTO_RELEASE " (API v1)\n"
    "No server is contacted and no settings are needed.\n";

/* The client's version, and the API version it speaks: the /v1/ of every
 * path (cdrpd prints its own, "cdrpd 0.2 (schema N)"). */
#define CDRP_VERSION     PROTO_RELEASE
#define CDRP_API_VERSION "v1"

static int cdrp_version(const struct cdrp_opts *o);
static int cdrp_health(const struct cdrp_opts *o);
static int cdrp_submit(const struct cdrp_opts *o);
static int cdrp_show(const struct cdrp_opts *o);
static int cdrp_list(const struct cdrp_opts *o);

/* The intake commands; the casework ones are in casework.c. */
static const struct cdrp_command cdrp_intake_cmds[] = {
    {.name = "health",
     .synopsis = "health",
     .summary = "check that cdrpd and its database are up",
     .usage = cdrp_usage_health,
     .run = cdrp_health},
    {.name = "version",
     .synopsis = "version",
     .summary = "print the client's version and the API version it speaks",
     .usage = cdrp_usage_version,
     .run = cdrp_version},
    {.group = "referral",
     .name = "submit",
     .synopsis = "referral submit FILE|-",
     .summary = "submit a referral from a JSON file (- for stdin)",
     .usage = cdrp_usage_submit,
     .min_args = 1,
     .max_args = 1,
     .args_hint = "a FILE (or - for stdin)",
     .opts = " idempotency-key ",
     .run = cdrp_submit},
    {.group = "referral",
     .name = "show",
     .synopsis = "referral show ID",
     .summary = "show one referral",
     .usage = cdrp_usage_show,
     .min_args = 1,
     .max_args = 1,
     .args_hint = "an ID",
     .run = cdrp_show},
    {.group = "referral",
     .name = "list",
     .synopsis = "referral list",
     .summary = "list referrals, newest first",
     .usage = cdrp_usage_list,
     .opts = " status submitted-from submitted-to limit cursor all ",
     .run = cdrp_list},
};
#define CDRP_NINTAKE (sizeof(cdrp_intake_cmds) / sizeof(cdrp_intake_cmds[0]))

/* Every command, intake first, then casework, then meetings and reports,
 * then agreements and administration, then the audit log's verifier, in
 * the order --help lists them. */
static const struct cdrp_command *cdrp_command_at(size_t i)
{
	if (i < CDRP_NINTAKE)
		return &cdrp_intake_cmds[i];
	i -= CDRP_NINTAKE;
	if (i < cdrp_casework_ncmds)
		return &cdrp_casework_cmds[i];
	i -= cdrp_casework_ncmds;
	if (i < cdrp_meeting_ncmds)
		return &cdrp_meeting_cmds[i];
	i -= cdrp_meeting_ncmds;
	if (i < cdrp_report_ncmds)
		return &cdrp_report_cmds[i];
	i -= cdrp_report_ncmds;
	if (i < cdrp_admin_ncmds)
		return &cdrp_admin_cmds[i];
	i -= cdrp_admin_ncmds;
	return i < cdrp_audit_ncmds ? &cdrp_audit_cmds[i] : NULL;
}

/* Command names may be two words ("agency add"): `sub` ("agency") is
 * then a subgroup of the group. Is c in group (and subgroup, if given)? */
static bool cdrp_cmd_in(const struct cdrp_command *c, const char *group, const char *sub)
{
	size_t n = sub ? strlen(sub) : 0;

	return c->group && !strcmp(c->group, group) &&
	       (!sub || (!strncmp(c->name, sub, n) && c->name[n] == ' '));
}

/* Width of the synopsis column in the command lists. */
static int cdrp_synopsis_width(void)
{
	const struct cdrp_command *c;
	size_t w = 0;

	for (size_t i = 0; (c = cdrp_command_at(i)) != NULL; i++)
		if (strlen(c->synopsis) > w)
			w = strlen(c->synopsis);
	return (int)w + 1;
}

static void cdrp_print_main_usage(void)
{
	const struct cdrp_command *c;
	int w = cdrp_synopsis_width();

	fputs(cdrp_usage_head, stdout);
	for (size_t i = 0; (c = cdrp_command_at(i)) != NULL; i++)
		printf("  %-*s %s\n", w, c->synopsis, c->summary);
	printf("  %-*s %s\n", w, "help [COMMAND]",
	       "show help for a command (or: cdrp COMMAND --help)");
	fputs(cdrp_usage_tail, stdout);
}

static void cdrp_print_group_usage(const char *group, const char *sub)
{
	const struct cdrp_command *c;
	int w = cdrp_synopsis_width();

	printf("usage: cdrp %s%s%s COMMAND [ARGS] [OPTIONS]\n\nCommands:\n", group, sub ? " " : "",
	       sub ? sub : "");
	for (size_t i = 0; (c = cdrp_command_at(i)) != NULL; i++)
		if (cdrp_cmd_in(c, group, sub))
			printf("  %-*s %s\n", w, c->synopsis, c->summary);
	printf("\ncdrp %s%s%s COMMAND --help for details; cdrp --help for the connection\n"
	       "options and exit codes.\n",
	       group, sub ? " " : "", sub ? sub : "");
}

static int cdrp_usage_errorv(const char *group, const char *name, const char *fmt, va_list ap)
{
	fputs("cdrp: ", stderr);
	vfprintf(stderr, fmt, ap);
	if (!group && !name)
		fputs("\nTry 'cdrp --help'.\n", stderr);
	else
		fprintf(stderr, "\nTry 'cdrp %s%s%s --help'.\n", group ? group : "",
		        group && name ? " " : "", name ? name : "");
	return CDRP_EXIT_USAGE;
}

int cdrp_usage_error(const struct cdrp_command *cmd, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = cdrp_usage_errorv(cmd ? cmd->group : NULL, cmd ? cmd->name : NULL, fmt, ap);
	va_end(ap);
	return rc;
}

static int cdrp_group_usage_error(const char *group, const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int cdrp_group_usage_error(const char *group, const char *sub, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = cdrp_usage_errorv(group, sub, fmt, ap);
	va_end(ap);
	return rc;
}

int cdrp_oom(void)
{
	fputs("cdrp: out of memory\n", stderr);
	return CDRP_EXIT_SOFTWARE;
}

/* ---- did you mean ---- */

/* Names a mistyped word may have meant, without repeats. */
#define CDRP_CANDS_MAX 256
struct cdrp_cands {
	const char *s[CDRP_CANDS_MAX];
	size_t len[CDRP_CANDS_MAX];
	size_t n;
};

static void cdrp_cand(struct cdrp_cands *c, const char *s, size_t len)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->len[i] == len && !strncmp(c->s[i], s, len))
			return;
	if (c->n < CDRP_CANDS_MAX) {
		c->s[c->n] = s;
		c->len[c->n++] = len;
	}
}

/* Edit distance where swapping two neighbours counts as one edit
 * ("lsit"); SIZE_MAX for words too long to be worth it. */
static size_t cdrp_distance(const char *a, size_t la, const char *b, size_t lb)
{
	enum { L = 48 };
	size_t d[L + 1][L + 1];

	if (la > L || lb > L)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/* The one candidate `word` was most likely meant to be: the only one at
 * the smallest edit distance, at most 2 (and less than the word's own
 * length, so "x" is not taken for "isa"); failing that, the only one the
 * word is a prefix of. NULL when there is none or no single best: a
 * wrong guess is worse than none. */
static const char *cdrp_guess(const struct cdrp_cands *c, const char *word, size_t *lenp)
{
	size_t wl = strlen(word), best = SIZE_MAX, nbest = 0, nprefix = 0, ibest = 0, iprefix = 0;

	for (size_t i = 0; i < c->n; i++) {
		size_t d = cdrp_distance(word, wl, c->s[i], c->len[i]);

		if (d < best) {
			best = d;
			nbest = 0;
		}
		if (d == best) {
			nbest++;
			ibest = i;
		}
		if (wl > 0 && wl < c->len[i] && !strncmp(c->s[i], word, wl)) {
			nprefix++;
			iprefix = i;
		}
	}
	if (best <= 2 && best < wl && best > 0) {
		if (nbest != 1)
			return NULL;
		*lenp = c->len[ibest];
		return c->s[ibest];
	}
	if (nprefix == 1) {
		*lenp = c->len[iprefix];
		return c->s[iprefix];
	}
	return NULL;
}

/* "; did you mean 'PREFIX+guess'?" into out, or "" when no guess. */
static void cdrp_did_you_mean(const struct cdrp_cands *c, const char *word, const char *prefix,
                              char *out, size_t outlen)
{
	size_t len = 0;
	const char *g = cdrp_guess(c, word, &len);

	out[0] = '\0';
	if (g)
		snprintf(out, outlen, "; did you mean '%s%.*s'?", prefix, (int)len, g);
}

/* ---- options ---- */

struct cdrp_optdef {
	const char *name;
	bool takes_value;
	bool global; /* every command accepts it */
};

static const struct cdrp_optdef cdrp_optdefs[] = {
    {"url", true, true},
    {"ca", true, true},
    {"cert", true, true},
    {"key", true, true},
    {"timeout", true, true},
    {"why", true, true},
    {"partnership", true, true},
    {"json", false, true},
    {"help", false, true},
    {"config", true, true},
    {"profile", true, true},
    {"version", false, true},
    {"idempotency-key", true, false},
    {"status", true, false},
    {"limit", true, false},
    {"cursor", true, false},
    {"all", false, false},
    /* casework */
    {"case", true, false},
    {"lead-agency", true, false},
    {"caseworker", true, false},
    {"ward", true, false},
    {"marking", true, false},
    {"reason", true, false},
    {"question", true, false},
    {"kind", true, false},
    {"subject-type", true, false},
    {"flagged", false, false},
    {"overdue", false, false},
    {"submitted-from", true, false},
    {"submitted-to", true, false},
    {"opened-from", true, false},
    {"opened-to", true, false},
    {"closed-from", true, false},
    {"closed-to", true, false},
    {"outcome", true, false},
    {"strand", true, false},
    {"exit-strategy", true, false},
    {"name", true, false},
    {"role", true, false},
    {"dob", true, false},
    {"vulnerable", false, false},
    {"address", true, false},
    {"contact", true, false},
    {"person-id", true, false},
    {"person", true, false},
    {"if-match", true, false},
    {"occurred", true, false},
    {"reported", true, false},
    {"category", true, false},
    {"place", true, false},
    {"description", true, false},
    {"victim", true, false},
    {"same-as", true, false},
    {"external-ref", true, false},
    {"repeat", false, false},
    {"yes", true, false},
    {"no", true, false},
    {"answers", true, false},
    {"type", true, false},
    {"stage", true, false},
    {"owner", true, false},
    {"due", true, false},
    {"notes", true, false},
    {"applied", true, false},
    {"met", true, false},
    {"override-reason", true, false},
    {"decided", true, false},
    {"date", true, false},
    {"recommendation", true, false},
    {"year", true, false},
    /* agreements and administration */
    {"on", false, false},
    {"off", false, false},
    {"note", true, false},
    {"agency", true, false},
    {"cn", true, false},
    {"display-name", true, false},
    {"no-roles", false, false},
    {"dry-run", false, false},
    /* meetings and reports */
    {"group", true, false},
    {"chair-agency", true, false},
    {"chair-cn", true, false},
    {"title", true, false},
    {"item", true, false},
    {"assessment", true, false},
    {"decision", true, false},
    {"next-review", true, false},
    {"format", true, false},
    {"fy", true, false},
    {"quarter", true, false},
    {"from", true, false},
    {"to", true, false},
    {"list", true, false},
    /* the audit log's verifier */
    {"checkpoint", true, false},
    {"pubkey", true, false},
    {"entry", true, false},
    {"quick", false, false},
};
#define CDRP_NOPTDEFS (sizeof(cdrp_optdefs) / sizeof(cdrp_optdefs[0]))

int cdrp_pick_format(const struct cdrp_opts *o, const char *const *formats, int *rc)
{
	const char *f = cdrp_opt(o, "format");
	char *names = NULL;
	size_t len = 0;
	FILE *mf;

	*rc = 0;
	if (!f)
		return 0;
	for (int i = 0; formats[i]; i++)
		if (!strcmp(f, formats[i]))
			return i;
	/* Every format named, however many there are. */
	mf = open_memstream(&names, &len);
	if (!mf) {
		*rc = cdrp_oom();
		return -1;
	}
	for (int i = 0; formats[i]; i++)
		fprintf(mf, "%s%s", i == 0 ? "" : formats[i + 1] ? ", " : " or ", formats[i]);
	if (fclose(mf) != 0) {
		free(names);
		*rc = cdrp_oom();
		return -1;
	}
	*rc = cdrp_usage_error(o->cmd, "--format must be %s", names);
	free(names);
	return -1;
}

const char *cdrp_opt(const struct cdrp_opts *o, const char *name)
{
	for (int i = o->ngiven - 1; i >= 0; i--)
		if (!strcmp(o->given[i].name, name))
			return o->given[i].value ? o->given[i].value : "";
	return NULL;
}

bool cdrp_flag(const struct cdrp_opts *o, const char *name)
{
	return cdrp_opt(o, name) != NULL;
}

size_t cdrp_opt_all(const struct cdrp_opts *o, const char *name, const char **vals, size_t max)
{
	size_t n = 0;

	for (int i = 0; i < o->ngiven; i++)
		if (!strcmp(o->given[i].name, name) && n < max)
			vals[n++] = o->given[i].value;
	return n;
}

static int cdrp_set_opt(struct cdrp_opts *o, const struct cdrp_optdef *d, const char *v)
{
	const char *n = d->name;

	if (!d->global) {
		if (o->ngiven == CDRP_MAX_OPTS)
			return cdrp_usage_error(NULL, "too many options");
		o->given[o->ngiven].name = n;
		o->given[o->ngiven].value = v;
		o->ngiven++;
	} else if (!strcmp(n, "url")) {
		o->url = v;
	} else if (!strcmp(n, "ca")) {
		o->ca = v;
	} else if (!strcmp(n, "cert")) {
		o->cert = v;
	} else if (!strcmp(n, "key")) {
		o->key = v;
	} else if (!strcmp(n, "timeout")) {
		o->timeout = v;
	} else if (!strcmp(n, "why")) {
		o->why = v;
	} else if (!strcmp(n, "partnership")) {
		o->partnership = v;
	} else if (!strcmp(n, "json")) {
		o->json = true;
	} else if (!strcmp(n, "help")) {
		o->help = true;
	} else if (!strcmp(n, "config")) {
		o->config = v;
	} else if (!strcmp(n, "profile")) {
		o->profile = v;
	} else if (!strcmp(n, "version")) {
		o->version = true;
	}
	return 0;
}

/* Options may come before, between or after the command words; "--"
 * ends them (for a file named "-x"). Returns 0 or an exit code. */
static int cdrp_parse_args(int argc, char **argv, struct cdrp_opts *o)
{
	bool words_only = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq, *name;
		const struct cdrp_optdef *d = NULL;
		size_t nlen;
		int rc;

		if (words_only || a[0] != '-' || a[1] == '\0') {
			if (o->nwords == CDRP_MAX_WORDS)
				return cdrp_usage_error(NULL, "too many arguments");
			o->words[o->nwords++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			words_only = true;
			continue;
		}
		if (!strcmp(a, "-h")) {
			o->help = true;
			continue;
		}
		name = a + (a[1] == '-' ? 2 : 1);
		eq = strchr(name, '=');
		nlen = eq ? (size_t)(eq - name) : strlen(name);
		for (size_t k = 0; a[1] == '-' && k < CDRP_NOPTDEFS; k++)
			if (strlen(cdrp_optdefs[k].name) == nlen &&
			    !strncmp(cdrp_optdefs[k].name, name, nlen))
				d = &cdrp_optdefs[k];
		if (!d) {
			struct cdrp_cands c = {.n = 0};
			char typed[64], hint[96];

			for (size_t k = 0; k < CDRP_NOPTDEFS; k++)
				cdrp_cand(&c, cdrp_optdefs[k].name, strlen(cdrp_optdefs[k].name));
			snprintf(typed, sizeof typed, "%.*s", (int)nlen, name);
			cdrp_did_you_mean(&c, typed, "--", hint, sizeof hint);
			/* "-json" is "--json" with a dash missing: a distance of 0. */
			if (!hint[0] && a[1] != '-')
				for (size_t k = 0; k < c.n; k++)
					if (c.len[k] == nlen && !strncmp(c.s[k], name, nlen))
						snprintf(hint, sizeof hint,
						         "; did you mean '--%s'?", typed);
			return cdrp_usage_error(NULL, "unknown option '%.*s'%s",
			                        (int)(name - a + nlen), a, hint);
		}
		if (!d->takes_value) {
			if (eq)
				return cdrp_usage_error(NULL, "option --%s takes no value",
				                        d->name);
			rc = cdrp_set_opt(o, d, NULL);
		} else if (eq) {
			rc = cdrp_set_opt(o, d, eq + 1);
		} else if (i + 1 < argc) {
			rc = cdrp_set_opt(o, d, argv[++i]);
		} else {
			return cdrp_usage_error(NULL, "option --%s needs a value", d->name);
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* " a b c " contains word w? */
static bool cdrp_in_list(const char *list, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = list ? strstr(list, w) : NULL; p; p = strstr(p + 1, w))
		if (p > list && p[-1] == ' ' && p[n] == ' ')
			return true;
	return false;
}

/* "submit, show or list": the commands of a group (or subgroup), for an
 * error; as long as it takes (caller frees; NULL when out of memory). */
static char *cdrp_group_names(const char *group, const char *sub)
{
	const struct cdrp_command *c;
	size_t n = 0, k = 0, len = 0, skip = sub ? strlen(sub) + 1 : 0;
	char *out = NULL;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; (c = cdrp_command_at(i)) != NULL; i++)
		if (cdrp_cmd_in(c, group, sub))
			n++;
	for (size_t i = 0; (c = cdrp_command_at(i)) != NULL; i++) {
		if (!cdrp_cmd_in(c, group, sub))
			continue;
		k++;
		fprintf(f, "%s%s", k == 1 ? "" : k == n ? " or " : ", ", c->name + skip);
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* The words that may come in place of a mistyped one: top-level commands
 * and groups (group NULL), a group's commands and subgroups, or a
 * subgroup's commands. */
static void cdrp_command_cands(struct cdrp_cands *cands, const char *group, const char *sub)
{
	const struct cdrp_command *c;
	size_t skip = sub ? strlen(sub) + 1 : 0;

	if (!group)
		cdrp_cand(cands, "help", 4);
	for (size_t i = 0; (c = cdrp_command_at(i)) != NULL; i++) {
		if (!group)
			cdrp_cand(cands, c->group ? c->group : c->name,
			          strlen(c->group ? c->group : c->name));
		else if (cdrp_cmd_in(c, group, sub))
			cdrp_cand(cands, c->name + skip, strcspn(c->name + skip, " "));
	}
}

/* Is `sub` the first word of two-word command names of the group? */
static bool cdrp_is_subgroup(const char *group, const char *sub)
{
	const struct cdrp_command *c;

	for (size_t i = 0; (c = cdrp_command_at(i)) != NULL; i++)
		if (cdrp_cmd_in(c, group, sub))
			return true;
	return false;
}

/* "unknown ... command 'WORD'[; did you mean 'X'?]", exit 64. */
static int cdrp_unknown_command(const char *group, const char *sub, const char *word)
{
	struct cdrp_cands cands = {.n = 0};
	char hint[96];

	cdrp_command_cands(&cands, group, sub);
	cdrp_did_you_mean(&cands, word, "", hint, sizeof hint);
	if (!group)
		return cdrp_usage_error(NULL, "unknown command '%s'%s", word, hint);
	if (!sub)
		return cdrp_group_usage_error(group, NULL, "unknown %s command '%s'%s", group, word,
		                              hint);
	return cdrp_group_usage_error(group, sub, "unknown %s %s command '%s'%s", group, sub, word,
	                              hint);
}

/* "GROUP [SUB] needs a command: a, b or c", exit 64. */
static int cdrp_needs_command(const char *group, const char *sub)
{
	char *names = cdrp_group_names(group, sub);
	int rc;

	if (!names)
		return cdrp_oom();
	rc = cdrp_group_usage_error(group, sub, "%s%s%s needs a command: %s", group, sub ? " " : "",
	                            sub ? sub : "", names);
	free(names);
	return rc;
}

/* Work out the command from the words; --help wins over argument errors
 * (but not over an unknown command). Returns -1 to go on, else an exit
 * code. */
static int cdrp_resolve(struct cdrp_opts *o)
{
	const struct cdrp_command *c, *cmd = NULL;
	bool is_group = false;
	int first = 1;

	if (o->version)
		return cdrp_version(o);
	if (o->nwords > 0 && !strcmp(o->words[0], "help")) {
		o->help = true;
		o->nwords--;
		memmove(o->words, o->words + 1, (size_t)o->nwords * sizeof(o->words[0]));
	}
	if (o->nwords == 0) {
		if (o->help) {
			cdrp_print_main_usage();
			return CDRP_EXIT_OK;
		}
		return cdrp_usage_error(NULL, "no command given");
	}
	for (size_t i = 0; (c = cdrp_command_at(i)) != NULL; i++) {
		if (c->group && !strcmp(c->group, o->words[0]))
			is_group = true;
		else if (!c->group && !strcmp(c->name, o->words[0]))
			cmd = c;
	}
	if (is_group) {
		const char *g = o->words[0], *sub = o->nwords > 1 ? o->words[1] : NULL;

		if (o->nwords < 2) {
			if (o->help) {
				cdrp_print_group_usage(g, NULL);
				return CDRP_EXIT_OK;
			}
			return cdrp_needs_command(g, NULL);
		}
		for (size_t i = 0; (c = cdrp_command_at(i)) != NULL; i++) {
			size_t n = strlen(sub);

			if (!cdrp_cmd_in(c, g, NULL))
				continue;
			if (!strcmp(c->name, sub)) {
				cmd = c;
				first = 2;
			} else if (o->nwords > 2 && cdrp_cmd_in(c, g, sub) &&
			           !strcmp(c->name + n + 1, o->words[2])) {
				cmd = c;
				first = 3;
			}
		}
		/* "admin agency" alone, or with a word that is not one of its
		 * commands */
		if (!cmd && cdrp_is_subgroup(g, sub)) {
			if (o->help && o->nwords == 2) {
				cdrp_print_group_usage(g, sub);
				return CDRP_EXIT_OK;
			}
			if (o->nwords == 2)
				return cdrp_needs_command(g, sub);
			return cdrp_unknown_command(g, sub, o->words[2]);
		}
		if (!cmd)
			return cdrp_unknown_command(g, NULL, sub);
	} else if (!cmd) {
		return cdrp_unknown_command(NULL, NULL, o->words[0]);
	}
	o->cmd = cmd;
	if (o->help) {
		fputs(cmd->usage, stdout);
		return CDRP_EXIT_OK;
	}

	/* Leave only the command's own arguments in words. */
	o->nwords -= first;
	memmove(o->words, o->words + first, (size_t)o->nwords * sizeof(o->words[0]));
	if (o->nwords < cmd->min_args)
		return cdrp_usage_error(cmd, "%s%s%s needs %s", cmd->group ? cmd->group : "",
		                        cmd->group ? " " : "", cmd->name, cmd->args_hint);
	if (o->nwords > cmd->max_args)
		return cdrp_usage_error(cmd, "unexpected argument '%s'", o->words[cmd->max_args]);
	for (int i = 0; i < o->ngiven; i++)
		if (!cdrp_in_list(cmd->opts, o->given[i].name))
			return cdrp_usage_error(cmd, "--%s is not an option of '%s%s%s'",
			                        o->given[i].name, cmd->group ? cmd->group : "",
			                        cmd->group ? " " : "", cmd->name);
	for (const char *p = cmd->required; p && *p;) {
		char want[32];
		size_t n;

		p += strspn(p, " ");
		n = strcspn(p, " ");
		if (n == 0)
			break;
		snprintf(want, sizeof(want), "%.*s", (int)n, p);
		p += n;
		if (!cdrp_flag(o, want))
			return cdrp_usage_error(cmd, "%s%s%s needs --%s",
			                        cmd->group ? cmd->group : "", cmd->group ? " " : "",
			                        cmd->name, want);
	}
	return -1;
}

/* ---- settings: option > environment > profile > built-in default ---- */

/* The keys of a profile, in the order of struct cdrp_section's values. */
enum { CDRP_PK_URL, CDRP_PK_CA, CDRP_PK_CERT, CDRP_PK_KEY, CDRP_PK_PARTNERSHIP, CDRP_PK_TIMEOUT };
static const char *const cdrp_profile_keys[] = {"url",         "ca",      "cert", "key",
                                                "partnership", "timeout", NULL};
#define CDRP_PK_COUNT    6
#define CDRP_PROFILE_MAX 64 /* characters in a profile name */

struct cdrp_section {
	char *name;
	int line;
	char *val[CDRP_PK_COUNT];
	int vline[CDRP_PK_COUNT];
};

/* The profile file as read; one per run, freed by cdrp_config_free. */
static struct {
	char *path; /* NULL: no profile file */
	struct cdrp_section *sec;
	size_t nsec;
	char *deflt; /* default = NAME */
	int deflt_line;
	int key_line; /* the first "key =" line, for the permission check */
	const struct cdrp_section *use;
	char *paths[3]; /* the profile's ca, cert and key, made absolute */
} cdrp_cfg;

static void cdrp_config_free(void)
{
	for (size_t i = 0; i < cdrp_cfg.nsec; i++) {
		free(cdrp_cfg.sec[i].name);
		for (int k = 0; k < CDRP_PK_COUNT; k++)
			free(cdrp_cfg.sec[i].val[k]);
	}
	free(cdrp_cfg.sec);
	free(cdrp_cfg.path);
	free(cdrp_cfg.deflt);
	for (int i = 0; i < 3; i++)
		free(cdrp_cfg.paths[i]);
	memset(&cdrp_cfg, 0, sizeof cdrp_cfg);
}

static const char *cdrp_nonempty(const char *v)
{
	return v && *v ? v : NULL;
}

/* A mistake in the profile file: "cdrp: FILE:LINE: ...", exit 64. */
static int cdrp_config_error(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int cdrp_config_error(int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "cdrp: %s", cdrp_cfg.path);
	if (line > 0)
		fprintf(stderr, ":%d", line);
	fputs(": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CDRP_EXIT_USAGE;
}

/* Where the profile file is: --config, CDRP_CONFIG, then the XDG place
 * (an XDG_CONFIG_HOME that is not absolute is ignored, as the XDG spec
 * says). *explicitp: named by the user, so it must exist. */
static char *cdrp_config_path(const struct cdrp_opts *o, bool *explicitp)
{
	const char *v = cdrp_nonempty(o->config), *home = cdrp_nonempty(getenv("HOME"));
	char *p = NULL;

	*explicitp = true;
	if (!v)
		v = cdrp_nonempty(getenv("CDRP_CONFIG"));
	if (v)
		return strdup(v);
	*explicitp = false;
	v = cdrp_nonempty(getenv("XDG_CONFIG_HOME"));
	if (v && v[0] == '/') {
		if (asprintf(&p, "%s/cdrp/config", v) < 0)
			return NULL;
	} else if (home) {
		if (asprintf(&p, "%s/.config/cdrp/config", home) < 0)
			return NULL;
	} else {
		return strdup("");
	}
	return p;
}

static bool cdrp_profile_name_ok(const char *n)
{
	size_t len = strlen(n);

	return len > 0 && len <= CDRP_PROFILE_MAX &&
	       strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
	           len;
}

static char *cdrp_trim(char *p)
{
	size_t n;

	p += strspn(p, " \t");
	n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		p[--n] = '\0';
	return p;
}

static struct cdrp_section *cdrp_section_named(const char *name)
{
	for (size_t i = 0; i < cdrp_cfg.nsec; i++)
		if (!strcmp(cdrp_cfg.sec[i].name, name))
			return &cdrp_cfg.sec[i];
	return NULL;
}

/* Validate one line of the file; 0, or an exit code (reported). */
static int cdrp_config_line(char *text, int line)
{
	struct cdrp_section *cur = cdrp_cfg.nsec ? &cdrp_cfg.sec[cdrp_cfg.nsec - 1] : NULL;
	char *p = cdrp_trim(text), *eq, *key, *val;
	int k;

	if (!*p || *p == '#' || *p == ';')
		return 0;
	if (*p == '[') {
		char *end = strchr(p, ']');
		struct cdrp_section *sec, *dup;

		if (!end || *cdrp_trim(end + 1))
			return cdrp_config_error(line, "expected [PROFILE] on a line of its own");
		*end = '\0';
		p = cdrp_trim(p + 1);
		if (!cdrp_profile_name_ok(p))
			return cdrp_config_error(
			    line,
			    "a profile name is 1-%d of A-Z, a-z, 0-9, '.', '_' "
			    "and '-'",
			    CDRP_PROFILE_MAX);
		if ((dup = cdrp_section_named(p)) != NULL)
			return cdrp_config_error(line, "profile [%s] again (first at line %d)", p,
			                         dup->line);
		sec = realloc(cdrp_cfg.sec, (cdrp_cfg.nsec + 1) * sizeof *sec);
		if (!sec)
			return cdrp_oom();
		cdrp_cfg.sec = sec;
		sec = &cdrp_cfg.sec[cdrp_cfg.nsec];
		memset(sec, 0, sizeof *sec);
		sec->line = line;
		sec->name = strdup(p);
		if (!sec->name)
			return cdrp_oom();
		cdrp_cfg.nsec++;
		return 0;
	}
	eq = strchr(p, '=');
	if (!eq)
		return cdrp_config_error(line, "expected [PROFILE] or KEY = VALUE");
	*eq = '\0';
	key = cdrp_trim(p);
	val = cdrp_trim(eq + 1);
	if (!cur && !strcmp(key, "default")) {
		if (cdrp_cfg.deflt)
			return cdrp_config_error(line, "default again (first at line %d)",
			                         cdrp_cfg.deflt_line);
		if (!cdrp_profile_name_ok(val))
			return cdrp_config_error(line, "default must name a profile");
		cdrp_cfg.deflt = strdup(val);
		cdrp_cfg.deflt_line = line;
		return cdrp_cfg.deflt ? 0 : cdrp_oom();
	}
	for (k = 0; cdrp_profile_keys[k] && strcmp(cdrp_profile_keys[k], key); k++)
		;
	if (!cdrp_profile_keys[k]) {
		struct cdrp_cands cands = {.n = 0};
		char hint[96];

		for (int i = 0; cdrp_profile_keys[i]; i++)
			cdrp_cand(&cands, cdrp_profile_keys[i], strlen(cdrp_profile_keys[i]));
		if (!cur)
			cdrp_cand(&cands, "default", 7);
		cdrp_did_you_mean(&cands, key, "", hint, sizeof hint);
		return cdrp_config_error(
		    line,
		    "unknown key '%s'%s (a profile's keys: url, ca, cert, key, "
		    "partnership, timeout)",
		    key, hint);
	}
	if (!cur)
		return cdrp_config_error(
		    line,
		    "%s outside a profile: put a [PROFILE] line above it (only "
		    "'default = PROFILE' may come first)",
		    key);
	if (!*val)
		return cdrp_config_error(line, "%s has no value", key);
	if (cur->val[k])
		return cdrp_config_error(line, "%s again in [%s] (first at line %d)", key,
		                         cur->name, cur->vline[k]);
	if (k == CDRP_PK_PARTNERSHIP) {
		struct proto_error pe = {0};

		if (!proto_valid_partnership(val, &pe))
			return cdrp_config_error(line, "partnership %s", pe.detail);
	}
	if (k == CDRP_PK_TIMEOUT) {
		char *end;
		long t;

		errno = 0;
		t = strtol(val, &end, 10);
		if (errno || end == val || *end || t < 1 || t > CDRP_TIMEOUT_MAX)
			return cdrp_config_error(line, "timeout must be a number of seconds, 1-%d",
			                         CDRP_TIMEOUT_MAX);
	}
	cur->val[k] = strdup(val);
	cur->vline[k] = line;
	if (k == CDRP_PK_KEY && !cdrp_cfg.key_line)
		cdrp_cfg.key_line = line;
	return cur->val[k] ? 0 : cdrp_oom();
}

/* Read and check the whole profile file (a mistake in any profile is
 * reported, not only in the one in use). Returns 0 (cdrp_cfg.path NULL
 * when there is no file) or an exit code. */
static int cdrp_config_read(const struct cdrp_opts *o)
{
	bool explicit_path;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, rc = 0;
	struct stat st;
	FILE *f;

	cdrp_cfg.path = cdrp_config_path(o, &explicit_path);
	if (!cdrp_cfg.path)
		return cdrp_oom();
	if (!*cdrp_cfg.path) {
		free(cdrp_cfg.path);
		cdrp_cfg.path = NULL;
		return 0;
	}
	f = fopen(cdrp_cfg.path, "r");
	if (!f && errno == ENOENT && !explicit_path) {
		free(cdrp_cfg.path);
		cdrp_cfg.path = NULL;
		return 0;
	}
	if (!f || fstat(fileno(f), &st) != 0 || S_ISDIR(st.st_mode)) {
		fprintf(stderr, "cdrp: cannot read the profile file %s: %s\n", cdrp_cfg.path,
		        f ? (S_ISDIR(st.st_mode) ? "it is a directory" : strerror(errno))
		          : strerror(errno));
		if (f)
			fclose(f);
		return CDRP_EXIT_NOINPUT;
	}
	while (rc == 0 && (n = getline(&line, &cap, f)) != -1) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (strlen(line) != (size_t)n)
			rc = cdrp_config_error(lineno, "a NUL byte: this is not a profile file");
		else
			rc = cdrp_config_line(line, lineno);
	}
	if (rc == 0 && ferror(f)) {
		fprintf(stderr, "cdrp: cannot read the profile file %s: %s\n", cdrp_cfg.path,
		        strerror(errno));
		rc = CDRP_EXIT_NOINPUT;
	}
	free(line);
	fclose(f);
	if (rc != 0)
		return rc;
	/* Whoever can change the file can point url and ca at a server of
	 * theirs, and the client would present the key to it and send it the
	 * data: refused outright, a warning would scroll by unread. */
	if (cdrp_cfg.key_line && (st.st_mode & (S_IWGRP | S_IWOTH)))
		return cdrp_config_error(cdrp_cfg.key_line,
		                         "names a key but the file is writable by %s (mode %04o): "
		                         "chmod go-w %s",
		                         (st.st_mode & S_IWOTH) ? "others" : "its group",
		                         (unsigned)(st.st_mode & 07777), cdrp_cfg.path);
	if (cdrp_cfg.deflt && !cdrp_section_named(cdrp_cfg.deflt))
		return cdrp_config_error(cdrp_cfg.deflt_line, "default names no profile: no [%s]",
		                         cdrp_cfg.deflt);
	return 0;
}

/* Choose the profile: --profile, CDRP_PROFILE, default = NAME, [default];
 * none is fine. 0 or an exit code. */
static int cdrp_profile_pick(const struct cdrp_opts *o)
{
	const char *name = cdrp_nonempty(o->profile), *by = "--profile";

	if (!name) {
		name = cdrp_nonempty(getenv("CDRP_PROFILE"));
		by = "CDRP_PROFILE";
	}
	if (!name) {
		cdrp_cfg.use = cdrp_cfg.deflt ? cdrp_section_named(cdrp_cfg.deflt)
		                              : cdrp_section_named("default");
		return 0;
	}
	if (!cdrp_cfg.path) {
		fprintf(stderr,
		        "cdrp: %s names profile '%s' but there is no profile file (use --config "
		        "or CDRP_CONFIG, or create $XDG_CONFIG_HOME/cdrp/config)\n",
		        by, name);
		return CDRP_EXIT_USAGE;
	}
	cdrp_cfg.use = cdrp_section_named(name);
	if (!cdrp_cfg.use) {
		struct cdrp_cands cands = {.n = 0};
		char hint[96];
		char *list = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&list, &len);

		if (!f)
			return cdrp_oom();
		for (size_t i = 0; i < cdrp_cfg.nsec; i++) {
			cdrp_cand(&cands, cdrp_cfg.sec[i].name, strlen(cdrp_cfg.sec[i].name));
			fprintf(f, "%s%s", i ? ", " : "", cdrp_cfg.sec[i].name);
		}
		if (fclose(f) != 0) {
			free(list);
			return cdrp_oom();
		}
		cdrp_did_you_mean(&cands, name, "", hint, sizeof hint);
		fprintf(stderr, "cdrp: %s: no profile '%s' (named by %s)%s\n", cdrp_cfg.path, name,
		        by, hint);
		fprintf(stderr, "cdrp: the profiles there: %s\n", *list ? list : "none");
		free(list);
		return CDRP_EXIT_USAGE;
	}
	return 0;
}

/* A path from the profile: ~/ is $HOME, and a relative one is taken from
 * the profile file's directory (not the current one, which changes). */
static char *cdrp_profile_path(const char *v)
{
	const char *home = cdrp_nonempty(getenv("HOME")), *slash = strrchr(cdrp_cfg.path, '/');
	char *p = NULL;

	if (v[0] == '/')
		return strdup(v);
	if (v[0] == '~' && v[1] == '/' && home)
		return asprintf(&p, "%s/%s", home, v + 2) < 0 ? NULL : p;
	if (!slash)
		return strdup(v);
	return asprintf(&p, "%.*s/%s", (int)(slash - cdrp_cfg.path), cdrp_cfg.path, v) < 0 ? NULL
	                                                                                   : p;
}

/* The setting in force: option, else environment, else profile key k. */
static const char *cdrp_pick(const char *opt, const char *env, int k)
{
	const char *v = cdrp_nonempty(opt);

	if (!v)
		v = cdrp_nonempty(getenv(env));
	if (!v && cdrp_cfg.use)
		v = cdrp_cfg.use->val[k];
	return v;
}

/* Settle every connection setting into o, once the command is known.
 * Returns -1 to go on, else an exit code (reported). */
static int cdrp_settings(struct cdrp_opts *o)
{
	static const char *const envs[] = {"CDRP_CA", "CDRP_CERT", "CDRP_KEY"};
	const char **files[] = {&o->ca, &o->cert, &o->key};
	const char *t;
	int rc;

	rc = cdrp_config_read(o);
	if (rc == 0)
		rc = cdrp_profile_pick(o);
	if (rc != 0)
		return rc;
	o->url = cdrp_pick(o->url, "CDRP_URL", CDRP_PK_URL);
	o->partnership = cdrp_pick(o->partnership, "CDRP_PARTNERSHIP", CDRP_PK_PARTNERSHIP);
	for (int i = 0; i < 3; i++) {
		const char *v = cdrp_nonempty(*files[i]);

		if (!v)
			v = cdrp_nonempty(getenv(envs[i]));
		if (!v && cdrp_cfg.use && cdrp_cfg.use->val[CDRP_PK_CA + i]) {
			cdrp_cfg.paths[i] = cdrp_profile_path(cdrp_cfg.use->val[CDRP_PK_CA + i]);
			if (!cdrp_cfg.paths[i])
				return cdrp_oom();
			v = cdrp_cfg.paths[i];
		}
		*files[i] = v;
	}

	o->timeout_sec = 30;
	t = cdrp_pick(o->timeout, "CDRP_TIMEOUT", CDRP_PK_TIMEOUT);
	if (t) {
		char *end;
		long n;

		errno = 0;
		n = strtol(t, &end, 10);
		if (errno || end == t || *end || n < 1 || n > CDRP_TIMEOUT_MAX) {
			/* The profile's was checked when read. */
			if (cdrp_nonempty(o->timeout))
				return cdrp_usage_error(
				    o->cmd, "--timeout must be a number of seconds, 1-%d",
				    CDRP_TIMEOUT_MAX);
			fprintf(stderr, "cdrp: CDRP_TIMEOUT must be a number of seconds, 1-%d\n",
			        CDRP_TIMEOUT_MAX);
			return CDRP_EXIT_USAGE;
		}
		o->timeout_sec = (int)n;
	}
	return -1;
}

/* ---- the connection ---- */

/* A client for the settings in force; NULL (with the message printed)
 * when one is missing or unusable. */
struct http_client *cdrp_connect(const struct cdrp_opts *o, int *exit_code)
{
	static const struct {
		const char *opt, *env;
	} names[] = {{"--url", "CDRP_URL"},
	             {"--ca", "CDRP_CA"},
	             {"--cert", "CDRP_CERT"},
	             {"--key", "CDRP_KEY"}};
	struct http_config cfg = {
	    .url = o->url,
	    .ca_file = o->ca,
	    .cert_file = o->cert,
	    .key_file = o->key,
	    .timeout_sec = o->timeout_sec,
	    .key_passphrase_file = cdrp_nonempty(getenv("CDRP_KEY_PASSPHRASE_FILE")),
	    .key_prompt = isatty(STDIN_FILENO) == 1,
	};
	const char *vals[] = {cfg.url, cfg.ca_file, cfg.cert_file, cfg.key_file};
	struct http_error err;
	struct http_client *c;

	for (size_t i = 0; i < 4; i++) {
		if (vals[i])
			continue;
		fprintf(stderr, "cdrp: no %s given: use %s or set %s", names[i].opt + 2,
		        names[i].opt, names[i].env);
		if (cdrp_cfg.use)
			fprintf(stderr, ", or add %s to profile [%s] in %s\n", names[i].opt + 2,
			        cdrp_cfg.use->name, cdrp_cfg.path);
		else
			fputs(", or use a profile (cdrp --help, Profiles)\n", stderr);
		*exit_code = CDRP_EXIT_CONFIG;
		return NULL;
	}
	c = http_client_new(&cfg, &err);
	if (!c) {
		fprintf(stderr, "cdrp: %s\n", err.msg);
		*exit_code = err.code == HTTP_ERR_CONFIG       ? CDRP_EXIT_CONFIG
		             : err.code == HTTP_ERR_PASSPHRASE ? CDRP_EXIT_NOINPUT
		                                               : CDRP_EXIT_SOFTWARE;
	}
	return c;
}

static int cdrp_exit_for_http_err(enum http_err e)
{
	switch (e) {
	case HTTP_OK:
		return CDRP_EXIT_OK;
	case HTTP_ERR_CONFIG:
		return CDRP_EXIT_CONFIG;
	case HTTP_ERR_CONNECT:
	case HTTP_ERR_TIMEOUT:
	case HTTP_ERR_IO:
		return CDRP_EXIT_UNAVAILABLE;
	case HTTP_ERR_TLS:
		return CDRP_EXIT_TLS;
	default:
		return CDRP_EXIT_SOFTWARE;
	}
}

static int cdrp_exit_for_status(int status)
{
	switch (status) {
	case 400:
	case 413:
	case 415:
	case 431:
		return CDRP_EXIT_DATAERR;
	case 401:
	case 403:
		return CDRP_EXIT_NOPERM;
	case 404:
		return CDRP_EXIT_NOTFOUND;
	case 409:
		return CDRP_EXIT_CONFLICT;
	case 412:
	case 428:
		return CDRP_EXIT_STALE;
	case 422:
		return CDRP_EXIT_DATAERR;
	case 429:
	case 503:
		return CDRP_EXIT_UNAVAILABLE;
	default:
		return status >= 200 && status < 300 ? CDRP_EXIT_OK : CDRP_EXIT_SOFTWARE;
	}
}

int cdrp_print_json(const json_t *doc)
{
	if (json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
		return -1;
	return putchar('\n') == EOF ? -1 : 0;
}

const char *cdrp_str(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Say what went wrong on stderr, in the shape of the problem document
 * when there is one. */
static void cdrp_print_problem(const struct cdrp_opts *o, const struct http_response *resp,
                               const json_t *doc)
{
	const char *noun = o->cmd && o->cmd->noun ? o->cmd->noun : "object";
	const char *title = cdrp_str(doc, "title"), *detail = cdrp_str(doc, "detail");
	const char *field = cdrp_str(doc, "field"), *code = cdrp_str(doc, "code");
	enum proto_err pe = code ? proto_err_from_code(code) : PROTO_ERR_COUNT;

	if (!title && pe != PROTO_ERR_COUNT)
		title = proto_err_title(pe);
	fputs("cdrp: ", stderr);
	if (!doc) {
		fprintf(stderr, "the server answered HTTP %d without a problem document",
		        resp->status);
	} else {
		render_safe(stderr, title ? title : "error");
		if (detail) {
			fputs(": ", stderr);
			render_safe(stderr, detail);
		}
		if (field) {
			fputs(" [field ", stderr);
			render_safe(stderr, field);
			fputc(']', stderr);
		}
		fputs(" (", stderr);
		if (code) {
			render_safe(stderr, code);
			fputs(", ", stderr);
		}
		fprintf(stderr, "HTTP %d)", resp->status);
	}
	if (resp->retry_after) {
		fputs("; retry after ", stderr);
		render_safe(stderr, resp->retry_after);
		if (strspn(resp->retry_after, "0123456789") == strlen(resp->retry_after))
			fputs(" s", stderr);
	}
	fputc('\n', stderr);
	if (pe == PROTO_NO_ROUTE)
		fputs("cdrp: (check the path in --url: the server has no such endpoint)\n", stderr);
	if (resp->status == 412)
		fprintf(stderr, "cdrp: the %s changed since you read it; show it again and retry\n",
		        noun);
	if (resp->status == 428)
		fprintf(stderr,
		        "cdrp: the server wants the %s's version (If-Match); give --if-match\n",
		        noun);
	if (resp->status >= 500 && resp->request_id) {
		fputs("cdrp: the server logged this as request ", stderr);
		render_safe(stderr, resp->request_id);
		fputc('\n', stderr);
	}
}

/* Turn an answer into a JSON document: 0 with *docp set for a 2xx JSON
 * answer; otherwise the failure is reported and its exit code returned.
 * With --json, an error's problem document still goes to stdout. */
static int cdrp_answer(const struct cdrp_opts *o, const struct http_response *resp, json_t **docp)
{
	json_t *doc = NULL;
	int rc;

	*docp = NULL;
	if (resp->body_len > 0)
		doc = json_loadb(resp->body, resp->body_len, 0, NULL);
	if (doc && !json_is_object(doc)) {
		json_decref(doc);
		doc = NULL;
	}
	rc = cdrp_exit_for_status(resp->status);
	if (rc == CDRP_EXIT_OK && resp->status >= 200 && resp->status < 300) {
		if (!doc) {
			fprintf(stderr,
			        "cdrp: unexpected answer from the server: HTTP %d without a JSON "
			        "object\n",
			        resp->status);
			return CDRP_EXIT_SOFTWARE;
		}
		*docp = doc;
		return CDRP_EXIT_OK;
	}
	if (rc == CDRP_EXIT_OK)
		rc = CDRP_EXIT_SOFTWARE;
	if (o->json && doc && cdrp_print_json(doc) != 0)
		rc = CDRP_EXIT_SOFTWARE;
	cdrp_print_problem(o, resp, doc);
	json_decref(doc);
	return rc;
}

/* One request, its answer checked; 0 with *docp set, or an exit code. */
int cdrp_call(const struct cdrp_opts *o, struct http_client *c, const char *method,
              const char *path, const char *const *headers, const char *body, size_t body_len,
              struct http_response *resp, json_t **docp, bool *sent)
{
	struct http_error err;
	enum http_err e;

	/* The caller's headers plus the scope of every request. */
	enum { EXTRA_MAX = 8 };
	const char *all[EXTRA_MAX + 3];
	char whyhdr[PROTO_JUSTIFICATION_MAX + 32], phdr[64];
	struct proto_error pe = {0};
	const char *partnership = o->partnership;
	size_t n = 0;

	*docp = NULL;
	*sent = false;
	if ((o->why && !proto_valid_justification(o->why, &pe)) ||
	    (partnership && !proto_valid_partnership(partnership, &pe))) {
		fprintf(stderr, "cdrp: %s: %s\n",
		        !strcmp(pe.field, PROTO_PARTNERSHIP_HEADER) ? "--partnership" : "--why",
		        pe.detail);
		return CDRP_EXIT_USAGE;
	}
	for (; headers && headers[n] && n < EXTRA_MAX; n++)
		all[n] = headers[n];
	if (o->why) {
		snprintf(whyhdr, sizeof whyhdr, "%s: %s", PROTO_JUSTIFICATION_HEADER, o->why);
		all[n++] = whyhdr;
	}
	if (partnership) {
		snprintf(phdr, sizeof phdr, "%s: %s", PROTO_PARTNERSHIP_HEADER, partnership);
		all[n++] = phdr;
	}
	all[n] = NULL;
	e = http_request(c, method, path, n ? all : NULL, body, body_len, resp, &err);
	*sent = err.request_sent;
	if (e != HTTP_OK) {
		fprintf(stderr, "cdrp: %s\n", err.msg);
		return cdrp_exit_for_http_err(e);
	}
	return cdrp_answer(o, resp, docp);
}

static int cdrp_version(const struct cdrp_opts *o)
{
	(void)o;
	puts("cdrp " CDRP_VERSION " (API " CDRP_API_VERSION ")");
	return CDRP_EXIT_OK;
}

static int cdrp_health(const struct cdrp_opts *o)
{
	struct http_response resp = {0};
	struct http_client *c = NULL;
	json_t *doc = NULL;
	const json_t *ver;
	bool sent;
	int rc;

	c = cdrp_connect(o, &rc);
	if (!c)
		return rc;
	rc = cdrp_call(o, c, "GET", "/v1/health", NULL, NULL, 0, &resp, &doc, &sent);
	if (rc != CDRP_EXIT_OK)
		goto out;
	if (o->json) {
		if (cdrp_print_json(doc) != 0)
			rc = CDRP_EXIT_SOFTWARE;
		goto out;
	}
	ver = json_object_get(doc, "schema_version");
	fputs("cdrpd ", stdout);
	render_safe(stdout, cdrp_str(doc, "status") ? cdrp_str(doc, "status") : "?");
	fputs(", database ", stdout);
	render_safe(stdout, cdrp_str(doc, "database") ? cdrp_str(doc, "database") : "?");
	if (json_is_integer(ver))
		printf(", schema version %" JSON_INTEGER_FORMAT "\n", json_integer_value(ver));
	else
		fputs(", schema version ?\n", stdout);
out:
	json_decref(doc);
	http_response_free(&resp);
	http_client_free(c);
	return rc;
}

/* Read FILE, or stdin for "-", whole. Returns 0 or an exit code. */
int cdrp_read_input(const char *path, char **bufp, size_t *lenp)
{
	bool is_stdin = !strcmp(path, "-");
	const char *name = is_stdin ? "standard input" : path;
	FILE *f = is_stdin ? stdin : fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = CDRP_EXIT_OK;

	if (!f) {
		fprintf(stderr, "cdrp: cannot read %s: %s\n", name, strerror(errno));
		return CDRP_EXIT_NOINPUT;
	}
	for (;;) {
		size_t n;

		if (cap - len < 65536) {
			char *nb;

			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				fputs("cdrp: out of memory\n", stderr);
				rc = CDRP_EXIT_SOFTWARE;
				goto out;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (len > CDRP_MAX_INPUT) {
			fprintf(stderr, "cdrp: %s is too large (over %u MiB)\n", name,
			        CDRP_MAX_INPUT >> 20);
			rc = CDRP_EXIT_DATAERR;
			goto out;
		}
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "cdrp: cannot read %s: %s\n", name, strerror(errno));
		rc = CDRP_EXIT_NOINPUT;
		goto out;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	buf = NULL;
out:
	free(buf);
	if (!is_stdin)
		fclose(f);
	return rc;
}

int cdrp_invalid(const char *what, const struct proto_error *pe)
{
	fprintf(stderr, "cdrp: invalid %s: ", what);
	if (pe->field[0]) {
		render_safe(stderr, pe->field);
		fputs(": ", stderr);
	}
	render_safe(stderr, pe->detail);
	fprintf(stderr, " (%s)\n", proto_err_code(pe->code));
	return CDRP_EXIT_DATAERR;
}

/* A stable key for a body: the same referral gives the same key, so a
 * re-run after a lost answer is a replay, not a second referral. */
int cdrp_derive_key(const char *canonical, char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (outlen < 7 + 32 + 1 ||
	    !EVP_Digest(canonical, strlen(canonical), md, &mdlen, EVP_sha256(), NULL))
		return -1;
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < 16; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static int cdrp_submit(const struct cdrp_opts *o)
{
	char *input = NULL, *canonical = NULL, today[16], derived[48], keyhdr[256];
	const char *key = cdrp_opt(o, "idempotency-key");
	const char *headers[] = {"Content-Type: application/json", keyhdr, NULL};
	struct http_response resp = {0};
	struct http_client *c = NULL;
	struct proto_error pe;
	json_t *body = NULL, *doc = NULL;
	size_t input_len = 0;
	bool sent = false;
	int rc;

	rc = cdrp_read_input(o->words[0], &input, &input_len);
	if (rc != CDRP_EXIT_OK)
		goto out;
	memset(&pe, 0, sizeof(pe));
	body = proto_parse_body(input, input_len, &pe);
	if (!body) {
		rc = cdrp_invalid("referral", &pe);
		goto out;
	}
	cdrp_today(today);
	if (!proto_validate_referral(body, today, &pe)) {
		rc = cdrp_invalid("referral", &pe);
		goto out;
	}
	canonical = proto_canonical(body);
	if (!canonical) {
		fputs("cdrp: out of memory\n", stderr);
		rc = CDRP_EXIT_SOFTWARE;
		goto out;
	}
	if (!key) {
		if (cdrp_derive_key(canonical, derived, sizeof(derived)) != 0) {
			fputs("cdrp: cannot compute SHA-256\n", stderr);
			rc = CDRP_EXIT_SOFTWARE;
			goto out;
		}
		key = derived;
	}
	if (!proto_valid_idempotency_key(key, &pe)) {
		fputs("cdrp: invalid --idempotency-key: ", stderr);
		render_safe(stderr, pe.detail);
		fputc('\n', stderr);
		rc = CDRP_EXIT_USAGE;
		goto out;
	}
	snprintf(keyhdr, sizeof(keyhdr), "Idempotency-Key: %s", key);

	c = cdrp_connect(o, &rc);
	if (!c)
		goto out;
	rc = cdrp_call(o, c, "POST", "/v1/referrals", headers, canonical, strlen(canonical), &resp,
	               &doc, &sent);
	if (rc != CDRP_EXIT_OK) {
		/* The API's advice for these: it may be stored, retry with the
		 * same key (which re-running the command does). */
		if (sent &&
		    (rc == CDRP_EXIT_UNAVAILABLE || (rc == CDRP_EXIT_SOFTWARE && resp.status == 0)))
			fprintf(stderr,
			        "cdrp: the referral may or may not have been stored; it is safe to "
			        "run the same command again%s\n",
			        cdrp_flag(o, "idempotency-key")
			            ? " (with the same --idempotency-key)"
			            : "");
		goto out;
	}
	if (o->json) {
		if (cdrp_print_json(doc) != 0)
			rc = CDRP_EXIT_SOFTWARE;
		goto out;
	}
	fputs("Referral ", stdout);
	render_safe(stdout, cdrp_str(doc, "reference") ? cdrp_str(doc, "reference") : "?");
	fputs(" submitted (id ", stdout);
	if (json_is_integer(json_object_get(doc, "id")))
		printf("%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(doc, "id")));
	else
		fputc('?', stdout);
	fputs(", status ", stdout);
	render_safe(stdout, cdrp_str(doc, "status") ? cdrp_str(doc, "status") : "?");
	fputc(')', stdout);
	if (resp.idempotent_replay)
		fputs(" (already submitted; this is the original answer)", stdout);
	fputc('\n', stdout);
out:
	json_decref(doc);
	http_response_free(&resp);
	http_client_free(c);
	json_decref(body);
	free(canonical);
	free(input);
	return rc;
}

static int cdrp_show(const struct cdrp_opts *o)
{
	const char *id = o->words[0];
	struct http_response resp = {0};
	struct http_client *c = NULL;
	json_t *doc = NULL;
	char path[64];
	size_t n = strlen(id);
	bool sent;
	int rc;

	/* A positive number that fits the server's bigint. */
	if (n == 0 || n > 18 || strspn(id, "0123456789") != n || strspn(id, "0") == n)
		return cdrp_usage_error(o->cmd, "referral ID must be a positive number");
	snprintf(path, sizeof(path), "/v1/referrals/%s", id + strspn(id, "0"));
	c = cdrp_connect(o, &rc);
	if (!c)
		return rc;
	rc = cdrp_call(o, c, "GET", path, NULL, NULL, 0, &resp, &doc, &sent);
	if (rc != CDRP_EXIT_OK)
		goto out;
	if (o->json) {
		if (cdrp_print_json(doc) != 0)
			rc = CDRP_EXIT_SOFTWARE;
		goto out;
	}
	render_referral(stdout, doc);
out:
	json_decref(doc);
	http_response_free(&resp);
	http_client_free(c);
	return rc;
}

void cdrp_today(char out[16])
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, 16, "%Y-%m-%d", &tm);
}

/* BASE?QUERY&cursor=C with what was given. */
static char *cdrp_page_path(const char *base, const char *query, const char *cursor)
{
	char *path = NULL, *esc = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&path, &len);
	char sep = '?';

	if (!f)
		return NULL;
	fputs(base, f);
	if (query && *query) {
		fprintf(f, "?%s", query);
		sep = '&';
	}
	if (cursor) {
		esc = http_query_escape(cursor);
		if (esc)
			fprintf(f, "%ccursor=%s", sep, esc);
	}
	if (fclose(f) != 0 || (cursor && !esc)) {
		free(esc);
		free(path);
		return NULL;
	}
	free(esc);
	return path;
}

int cdrp_get_list(const struct cdrp_opts *o, struct http_client *c, const char *base,
                  const char *query, json_t **docp)
{
	struct http_response resp = {0};
	json_t *doc = NULL, *all = NULL;
	const char *start = cdrp_opt(o, "cursor");
	char *cursor = NULL, *path = NULL;
	bool every = cdrp_flag(o, "all"), sent;
	int rc = CDRP_EXIT_OK;

	*docp = NULL;
	all = json_array();
	cursor = start ? strdup(start) : NULL;
	if (!all || (start && !cursor)) {
		rc = cdrp_oom();
		goto out;
	}
	for (;;) {
		json_t *items;
		const char *next;

		free(path);
		path = cdrp_page_path(base, query, cursor);
		if (!path) {
			rc = cdrp_oom();
			goto out;
		}
		json_decref(doc);
		doc = NULL;
		http_response_free(&resp);
		rc = cdrp_call(o, c, "GET", path, NULL, NULL, 0, &resp, &doc, &sent);
		if (rc != CDRP_EXIT_OK)
			goto out;
		items = json_object_get(doc, "items");
		next = cdrp_str(doc, "next_cursor");
		if (!json_is_array(items)) {
			fputs("cdrp: unexpected answer from the server: no items\n", stderr);
			rc = CDRP_EXIT_SOFTWARE;
			goto out;
		}
		if (!every)
			break;
		if (json_array_extend(all, items) != 0) {
			rc = cdrp_oom();
			goto out;
		}
		if (!next || !*next)
			break;
		/* A server that hands back the cursor it was given would
		 * have us loop for ever. */
		if (cursor && !strcmp(cursor, next)) {
			fputs("cdrp: unexpected answer from the server: the same cursor again\n",
			      stderr);
			rc = CDRP_EXIT_SOFTWARE;
			goto out;
		}
		free(cursor);
		cursor = strdup(next);
		if (!cursor) {
			rc = cdrp_oom();
			goto out;
		}
	}
	if (every) {
		/* Every page as one answer, in the shape of a single page. */
		json_t *merged = json_pack("{s:O, s:n}", "items", all, "next_cursor");

		if (!merged) {
			rc = cdrp_oom();
			goto out;
		}
		json_decref(doc);
		doc = merged;
	}
	*docp = doc;
	doc = NULL;
out:
	json_decref(doc);
	json_decref(all);
	http_response_free(&resp);
	free(cursor);
	free(path);
	return rc;
}

static int cdrp_list(const struct cdrp_opts *o)
{
	const char *status = cdrp_opt(o, "status"), *limit = cdrp_opt(o, "limit");
	struct proto_list_query q;
	struct proto_error pe;
	struct http_client *c = NULL;
	json_t *doc = NULL;
	char *query = NULL, *esc = NULL;
	size_t qlen = 0;
	const char *next;
	FILE *f;
	int rc;

	memset(&pe, 0, sizeof(pe));
	if (!proto_parse_list_query(status, limit, cdrp_opt(o, "cursor"), &q, &pe)) {
		fputs("cdrp: invalid ", stderr);
		if (pe.field[0]) {
			fputs("--", stderr);
			render_safe(stderr, pe.field);
			fputs(": ", stderr);
		}
		render_safe(stderr, pe.detail);
		fputs("\nTry 'cdrp referral list --help'.\n", stderr);
		return CDRP_EXIT_USAGE;
	}
	const char *from = cdrp_opt(o, "submitted-from"), *to = cdrp_opt(o, "submitted-to");
	if ((from && !proto_valid_date(from)) || (to && !proto_valid_date(to))) {
		fprintf(stderr, "cdrp: invalid --%s: must be a calendar date YYYY-MM-DD\n",
		        from && !proto_valid_date(from) ? "submitted-from" : "submitted-to");
		fputs("Try 'cdrp referral list --help'.\n", stderr);
		return CDRP_EXIT_USAGE;
	}
	f = open_memstream(&query, &qlen);
	if (!f)
		return cdrp_oom();
	if (status && (esc = http_query_escape(status)) != NULL)
		fprintf(f, "status=%s", esc);
	free(esc);
	esc = NULL;
	if (limit && (esc = http_query_escape(limit)) != NULL)
		fprintf(f, "%slimit=%s", status ? "&" : "", esc);
	free(esc);
	/* dates are plain YYYY-MM-DD: nothing to escape */
	if (from)
		fprintf(f, "%ssubmitted_from=%s", status || limit ? "&" : "", from);
	if (to)
		fprintf(f, "%ssubmitted_to=%s", status || limit || from ? "&" : "", to);
	if (fclose(f) != 0) {
		free(query);
		return cdrp_oom();
	}
	c = cdrp_connect(o, &rc);
	if (!c)
		goto out;
	rc = cdrp_get_list(o, c, "/v1/referrals", query, &doc);
	if (rc != CDRP_EXIT_OK)
		goto out;
	if (o->json) {
		if (cdrp_print_json(doc) != 0)
			rc = CDRP_EXIT_SOFTWARE;
		goto out;
	}
	next = cdrp_str(doc, "next_cursor");
	if (json_array_size(json_object_get(doc, "items")) == 0) {
		puts("no referrals");
	} else if (render_table(stdout, json_object_get(doc, "items")) != 0) {
		rc = cdrp_oom();
		goto out;
	}
	if (next && *next) {
		fputs("next cursor: ", stdout);
		render_safe(stdout, next);
		fputc('\n', stdout);
	}
out:
	json_decref(doc);
	http_client_free(c);
	free(query);
	return rc;
}

/* ---- completion (deploy/cdrp.bash-completion) ---- */

static const struct cdrp_optdef *cdrp_optdef(const char *name, size_t len)
{
	for (size_t k = 0; k < CDRP_NOPTDEFS; k++)
		if (strlen(cdrp_optdefs[k].name) == len &&
		    !strncmp(cdrp_optdefs[k].name, name, len))
			return &cdrp_optdefs[k];
	return NULL;
}

/* Print the candidates that start with cur, one a line. */
static void cdrp_complete_print(const struct cdrp_cands *c, const char *pre, const char *cur)
{
	size_t pl = strlen(pre), cl = strlen(cur);

	for (size_t i = 0; i < c->n; i++) {
		/* cur may include the "--" of the candidate's prefix */
		if (cl <= pl ? !strncmp(pre, cur, cl)
		             : !strncmp(pre, cur, pl) && c->len[i] >= cl - pl &&
		                   !strncmp(c->s[i], cur + pl, cl - pl))
			printf("%s%.*s\n", pre, (int)c->len[i], c->s[i]);
	}
}

/* cdrp --complete WORD... CUR: the words that may replace CUR, the last
 * word, on the line "cdrp WORD... CUR", one a line; "@files" asks the
 * shell to complete a file name. Hidden: for the bash completion, which
 * asks the binary so the lists stay right as commands are added. */
static int cdrp_complete(int argc, char **argv)
{
	const char *words[CDRP_MAX_WORDS], *cur = argc > 0 ? argv[argc - 1] : "";
	const char *prev = argc > 1 ? argv[argc - 2] : NULL;
	const struct cdrp_optdef *pd = NULL;
	const struct cdrp_command *c, *cmd = NULL;
	struct cdrp_cands cands = {.n = 0};
	struct cdrp_opts o;
	int nw = 0, first = 0;
	bool only_words = false;

	memset(&o, 0, sizeof o);
	/* The words typed so far: command words, and options with values. */
	for (int i = 0; i + 1 < argc; i++) {
		const char *a = argv[i];

		if (only_words || a[0] != '-' || !a[1]) {
			if (nw < CDRP_MAX_WORDS)
				words[nw++] = a;
		} else if (!strcmp(a, "--")) {
			only_words = true;
		} else if (a[1] == '-' && !strchr(a, '=')) {
			const struct cdrp_optdef *d = cdrp_optdef(a + 2, strlen(a + 2));

			if (d && d->takes_value && i + 2 < argc) {
				if (!strcmp(d->name, "config"))
					o.config = argv[i + 1];
				i++;
			}
		} else if (!strncmp(a, "--config=", 9)) {
			o.config = a + 9;
		}
	}
	if (prev && !only_words && prev[0] == '-' && prev[1] == '-' && !strchr(prev, '='))
		pd = cdrp_optdef(prev + 2, strlen(prev + 2));
	if (pd && pd->takes_value) {
		char pat[64];

		if (!strcmp(pd->name, "profile")) {
			/* Quietly: a broken file just completes nothing. */
			if (!freopen("/dev/null", "w", stderr))
				return CDRP_EXIT_OK;
			if (cdrp_config_read(&o) == 0)
				for (size_t i = 0; i < cdrp_cfg.nsec; i++)
					cdrp_cand(&cands, cdrp_cfg.sec[i].name,
					          strlen(cdrp_cfg.sec[i].name));
			cdrp_complete_print(&cands, "", cur);
			cdrp_config_free();
			return CDRP_EXIT_OK;
		}
		/* A file name where some help text says "--NAME FILE" (found
		 * there, so new options need no list kept here). */
		snprintf(pat, sizeof pat, "--%s FILE", pd->name);
		if (strstr(cdrp_usage_tail, pat) || !strcmp(pd->name, "pubkey")) {
			puts("@files");
			return CDRP_EXIT_OK;
		}
		for (size_t i = 0; (c = cdrp_command_at(i)) != NULL; i++) {
			if (strstr(c->usage, pat)) {
				puts("@files");
				break;
			}
		}
		return CDRP_EXIT_OK;
	}

	/* Which command the words name so far, if any. */
	if (nw > 0 && !strcmp(words[0], "help"))
		first = 1;
	for (size_t i = 0; nw > first && (c = cdrp_command_at(i)) != NULL; i++) {
		const char *w1 = nw > first + 1 ? words[first + 1] : "";
		size_t n1 = strlen(w1);

		if (!c->group && !strcmp(c->name, words[first]))
			cmd = c;
		else if (c->group && !strcmp(c->group, words[first]) && nw > first + 1 &&
		         (!strcmp(c->name, w1) ||
		          (nw > first + 2 && !strncmp(c->name, w1, n1) && c->name[n1] == ' ' &&
		           !strcmp(c->name + n1 + 1, words[first + 2]))))
			cmd = c;
	}

	if (cur[0] == '-' && !only_words) {
		for (size_t k = 0; k < CDRP_NOPTDEFS; k++)
			if (cdrp_optdefs[k].global ||
			    (cmd && cdrp_in_list(cmd->opts, cdrp_optdefs[k].name)))
				cdrp_cand(&cands, cdrp_optdefs[k].name,
				          strlen(cdrp_optdefs[k].name));
		cdrp_complete_print(&cands, "--", cur);
		return CDRP_EXIT_OK;
	}
	if (cmd) {
		/* Its arguments: a file name where the synopsis takes one. */
		if (cmd->max_args > 0 && strstr(cmd->synopsis, "FILE"))
			puts("@files");
		return CDRP_EXIT_OK;
	}
	if (nw == first) {
		cdrp_command_cands(&cands, NULL, NULL);
	} else if (nw == first + 1) {
		cdrp_command_cands(&cands, words[first], NULL);
	} else if (nw == first + 2 && cdrp_is_subgroup(words[first], words[first + 1])) {
		cdrp_command_cands(&cands, words[first], words[first + 1]);
	}
	cdrp_complete_print(&cands, "", cur);
	return CDRP_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct cdrp_opts o;
	int rc;

	if (argc > 1 && !strcmp(argv[1], "--complete")) {
		rc = cdrp_complete(argc - 2, argv + 2);
		goto out;
	}
	memset(&o, 0, sizeof(o));
	rc = cdrp_parse_args(argc, argv, &o);
	if (rc != 0)
		goto out;
	rc = cdrp_resolve(&o);
	if (rc >= 0)
		goto out;
	/* The version needs no settings: it must work with a broken
	 * profile file, to report what is installed. */
	if (o.cmd->run != cdrp_version) {
		rc = cdrp_settings(&o);
		if (rc >= 0)
			goto out;
	}
	rc = o.cmd->run ? o.cmd->run(&o) : cdrp_run_request(&o);
out:
	cdrp_config_free();
	/* Output that did not reach its reader is a failure too (a full
	 * disk must not look like success to a script). */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			fprintf(stderr, "cdrp: cannot write output: %s\n", strerror(errno));
		if (rc == CDRP_EXIT_OK)
			rc = CDRP_EXIT_SOFTWARE;
	}
	return rc;
}
