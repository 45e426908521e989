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
#include <time.h>

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
    "  --key FILE         client private key, PEM, not encrypted   (env CDRP_KEY)\n"
    "  --timeout SECONDS  time limit for each request (default 30)\n"
    "  --partnership CODE act within this partnership, for an agency that belongs\n"
    "                     to several                               (env CDRP_PARTNERSHIP)\n"
    "  --why TEXT         why you need the data (10-500 characters): required to\n"
    "                     read OFFICIAL-SENSITIVE cases and referrals; audited\n"
    "  --json             print the server's JSON answer (pretty-printed) instead of\n"
    "                     text; error answers too, while the message goes to stderr\n"
    "  -h, --help         show help\n"
    "\n"
    "Exit status:\n"
    "  0   success\n"
    "  3   audit verify found the audit log tampered with (edited, missing,\n"
    "      reordered or truncated entries, a rewritten history, a checkpoint not\n"
    "      signed by the log's key); each finding is printed\n"
    "  64  usage error: unknown command or option, wrong arguments, bad option value\n"
    "  65  invalid input: refused by local validation, or by the server with\n"
    "      HTTP 400, 413, 415 or 431; or a business rule refused the change\n"
    "      (HTTP 422, rule_violation: the message gives the rule)\n"
    "  66  the input file cannot be read\n"
    "  69  server unavailable: cannot connect, timed out, HTTP 503 or 429\n"
    "  70  internal error or unexpected answer (HTTP 5xx other than 503, an answer\n"
    "      that cannot be understood)\n"
    "  75  TLS handshake failed: server certificate not trusted or not for this\n"
    "      host, or the server refused the client certificate\n"
    "  77  permission denied (HTTP 403: identity not registered, role not allowed)\n"
    "  78  configuration error: --url, --ca, --cert or --key missing or unusable\n"
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
    "usage: cdrp referral list [--status S] [--limit N] [--cursor C] [--all] [OPTIONS]\n"
    "\n"
    "List the referrals visible to you, newest first, one page at a time.\n"
    "\n"
    "  --status S   only this status: submitted, info_requested, accepted,\n"
    "               declined or withdrawn\n"
    "  --limit N    page size, 1-200 (default 50)\n"
    "  --cursor C   continue from a previous page's \"next cursor\"\n"
    "  --all        follow the cursors to the end and print every page as one;\n"
    "               with --json: {\"items\": [...all...], \"next_cursor\": null}\n"
    "\n"
    "Connection options and exit codes: cdrp --help.\n";

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
     .opts = " status limit cursor all ",
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

int cdrp_pick_format(const struct cdrp_opts *o, const char *const *formats, int *rc)
{
	const char *f = cdrp_opt(o, "format");
	char names[128] = "";

	*rc = 0;
	if (!f)
		return 0;
	for (int i = 0; formats[i]; i++) {
		if (!strcmp(f, formats[i]))
			return i;
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
		         i == 0           ? ""
		         : formats[i + 1] ? ", "
		                          : " or ",
		         formats[i]);
	}
	*rc = cdrp_usage_error(o->cmd, "--format must be %s", names);
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
		if (a[1] != '-')
			return cdrp_usage_error(NULL, "unknown option '%s'", a);
		name = a + 2;
		eq = strchr(name, '=');
		nlen = eq ? (size_t)(eq - name) : strlen(name);
		for (size_t k = 0; k < sizeof(cdrp_optdefs) / sizeof(cdrp_optdefs[0]); k++)
			if (strlen(cdrp_optdefs[k].name) == nlen &&
			    !strncmp(cdrp_optdefs[k].name, name, nlen))
				d = &cdrp_optdefs[k];
		if (!d)
			return cdrp_usage_error(NULL, "unknown option '--%.*s'", (int)nlen, name);
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
 * error. */
static void cdrp_group_names(const char *group, const char *sub, char *out, size_t outlen)
{
	const struct cdrp_command *c;
	size_t n = 0, k = 0, len = 0, skip = sub ? strlen(sub) + 1 : 0;

	for (size_t i = 0; (c = cdrp_command_at(i)) != NULL; i++)
		if (cdrp_cmd_in(c, group, sub))
			n++;
	out[0] = '\0';
	for (size_t i = 0; (c = cdrp_command_at(i)) != NULL; i++) {
		if (!cdrp_cmd_in(c, group, sub))
			continue;
		k++;
		len = strlen(out);
		snprintf(out + len, outlen - len, "%s%s",
		         k == 1   ? ""
		         : k == n ? " or "
		                  : ", ",
		         c->name + skip);
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

/* Work out the command from the words; --help wins over argument errors
 * (but not over an unknown command). Returns -1 to go on, else an exit
 * code. */
static int cdrp_resolve(struct cdrp_opts *o)
{
	const struct cdrp_command *c, *cmd = NULL;
	bool is_group = false;
	int first = 1;

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
		char names[512];

		if (o->nwords < 2) {
			if (o->help) {
				cdrp_print_group_usage(g, NULL);
				return CDRP_EXIT_OK;
			}
			cdrp_group_names(g, NULL, names, sizeof(names));
			return cdrp_group_usage_error(g, NULL, "%s needs a command: %s", g, names);
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
			cdrp_group_names(g, sub, names, sizeof(names));
			if (o->nwords == 2)
				return cdrp_group_usage_error(g, sub, "%s %s needs a command: %s",
				                              g, sub, names);
			return cdrp_group_usage_error(g, sub, "unknown %s %s command '%s'", g, sub,
			                              o->words[2]);
		}
		if (!cmd)
			return cdrp_group_usage_error(g, NULL, "unknown %s command '%s'", g, sub);
	} else if (!cmd) {
		return cdrp_usage_error(NULL, "unknown command '%s'", o->words[0]);
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

	o->timeout_sec = 30;
	if (o->timeout) {
		char *end;
		long t;

		errno = 0;
		t = strtol(o->timeout, &end, 10);
		if (errno || end == o->timeout || *end || t < 1 || t > CDRP_TIMEOUT_MAX)
			return cdrp_usage_error(cmd, "--timeout must be a number of seconds, 1-%d",
			                        CDRP_TIMEOUT_MAX);
		o->timeout_sec = (int)t;
	}
	return -1;
}

/* ---- configuration and the connection ---- */

static const char *cdrp_setting(const char *opt, const char *env)
{
	const char *v = opt ? opt : getenv(env);

	return v && *v ? v : NULL;
}

/* Connection settings from options, else the environment; NULL (with the
 * message printed) when one is missing or unusable. */
struct http_client *cdrp_connect(const struct cdrp_opts *o, int *exit_code)
{
	static const struct {
		const char *opt, *env;
	} names[] = {{"--url", "CDRP_URL"},
	             {"--ca", "CDRP_CA"},
	             {"--cert", "CDRP_CERT"},
	             {"--key", "CDRP_KEY"}};
	struct http_config cfg = {
	    .url = cdrp_setting(o->url, "CDRP_URL"),
	    .ca_file = cdrp_setting(o->ca, "CDRP_CA"),
	    .cert_file = cdrp_setting(o->cert, "CDRP_CERT"),
	    .key_file = cdrp_setting(o->key, "CDRP_KEY"),
	    .timeout_sec = o->timeout_sec,
	};
	const char *vals[] = {cfg.url, cfg.ca_file, cfg.cert_file, cfg.key_file};
	struct http_error err;
	struct http_client *c;

	for (size_t i = 0; i < 4; i++) {
		if (!vals[i]) {
			fprintf(stderr, "cdrp: no %s given: use %s or set %s\n", names[i].opt + 2,
			        names[i].opt, names[i].env);
			*exit_code = CDRP_EXIT_CONFIG;
			return NULL;
		}
	}
	c = http_client_new(&cfg, &err);
	if (!c) {
		fprintf(stderr, "cdrp: %s\n", err.msg);
		*exit_code = err.code == HTTP_ERR_CONFIG ? CDRP_EXIT_CONFIG : CDRP_EXIT_SOFTWARE;
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
	const char *partnership = cdrp_setting(o->partnership, "CDRP_PARTNERSHIP");
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

int main(int argc, char **argv)
{
	struct cdrp_opts o;
	int rc;

	memset(&o, 0, sizeof(o));
	rc = cdrp_parse_args(argc, argv, &o);
	if (rc != 0)
		goto out;
	rc = cdrp_resolve(&o);
	if (rc >= 0)
		goto out;
	rc = o.cmd->run ? o.cmd->run(&o) : cdrp_run_request(&o);
out:
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
