/* report.c: `cdrp report quarterly`, the board's quarterly statistics
 * (issue 7), as plain text like the partnership's printed report, as
 * section,metric,value CSV, as the server's JSON, or as one
 * self-contained HTML page with an inline SVG chart of the 12-month
 * improvement rate by quarter against the target. Every figure of the
 * CSV and the HTML comes from one table (qrows), so the formats cannot
 * disagree. */
#include "cli.h"
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NCOLS(c) (sizeof(c) / sizeof((c)[0]))

static const char u_quarterly[] =
    "usage: cdrp report quarterly [--fy YEAR [--quarter Q]]\n"
    "                             [--format text|csv|json|html]\n"
    "\n"
    "The board's quarterly statistics: new ASB cases referred in the quarter\n"
    "and the year to date (individuals, areas, families), cases opened before\n"
    "the year still being worked, PPO clients by strand and removals for\n"
    "successful engagement, repeat victims, ASB Case Reviews, meetings held,\n"
    "actions by status with their RAG rating, and the 12-month improvement\n"
    "figure for the year to date against the target, with its RAG rating.\n"
    "\n"
    "  --fy YEAR       the financial year starting in April of YEAR (2026: 2026-27)\n"
    "  --quarter Q     its quarter Q, 1-4 (Q1 is April-June); without --fy and\n"
    "                  --quarter: the current quarter\n"
    "  --format text   a plain report, as printed for the board (the default)\n"
    "  --format csv    section,metric,value: one row per figure\n"
    "  --format json   the server's JSON (as --json)\n"
    "  --format html   one self-contained HTML page (no external files): the\n"
    "                  figures as tables and a chart of the improvement rate\n"
    "                  by quarter of the year against the target\n"
    "\n"
    "Connection options and exit codes: cdrp --help.\n";

/* ---- the figures ---- */

/* One figure: its CSV section and metric (also the HTML's data-metric),
 * and where it is in the server's answer. */
struct qrow {
	const char *section, *metric, *path;
};

static const struct qrow qrows[] = {
    {"window", "label", "window.label"},
    {"window", "from", "window.from"},
    {"window", "to", "window.to"},
    {"window", "year_from", "window.year_from"},
    {"new_cases_quarter", "total", "new_cases.quarter.total"},
    {"new_cases_quarter", "individuals", "new_cases.quarter.individuals"},
    {"new_cases_quarter", "areas", "new_cases.quarter.areas"},
    {"new_cases_quarter", "families", "new_cases.quarter.families"},
    {"new_cases_year_to_date", "total", "new_cases.year_to_date.total"},
    {"new_cases_year_to_date", "individuals", "new_cases.year_to_date.individuals"},
    {"new_cases_year_to_date", "areas", "new_cases.year_to_date.areas"},
    {"new_cases_year_to_date", "families", "new_cases.year_to_date.families"},
    {"open_from_before_year", "cases", "open_from_before_year"},
    {"ppo_clients_by_strand", "deter", "ppo.clients_by_strand.deter"},
    {"ppo_clients_by_strand", "catch_and_convict", "ppo.clients_by_strand.catch_and_convict"},
    {"ppo_clients_by_strand", "rehabilitate_and_resettle",
     "ppo.clients_by_strand.rehabilitate_and_resettle"},
    {"ppo_clients_by_strand", "no_strand", "ppo.clients_by_strand.no_strand"},
    {"ppo_removed_successful_engagement", "quarter", "ppo.removed_successful_engagement.quarter"},
    {"ppo_removed_successful_engagement", "year_to_date",
     "ppo.removed_successful_engagement.year_to_date"},
    {"repeat_victims", "victims", "repeat_victims"},
    {"case_reviews", "applications", "case_reviews.applications"},
    {"case_reviews", "threshold_met", "case_reviews.threshold_met"},
    {"case_reviews", "reviews_held", "case_reviews.reviews_held"},
    {"case_reviews", "recommendations", "case_reviews.recommendations"},
    {"meetings", "held", "meetings"},
    {"actions", "agreed", "actions.agreed"},
    {"actions", "in_progress", "actions.in_progress"},
    {"actions", "done", "actions.done"},
    {"actions", "cancelled", "actions.cancelled"},
    {"actions", "open", "actions.open"},
    {"actions", "overdue", "actions.overdue"},
    {"actions", "rag", "actions.rag"},
    {"improvement_year_to_date", "cases", "improvement_year_to_date.cases"},
    {"improvement_year_to_date", "achieved", "improvement_year_to_date.achieved"},
    {"improvement_year_to_date", "failed", "improvement_year_to_date.failed"},
    {"improvement_year_to_date", "pending", "improvement_year_to_date.pending"},
    {"improvement_year_to_date", "decided", "improvement_year_to_date.decided"},
    {"improvement_year_to_date", "pct", "improvement_year_to_date.pct"},
    {"improvement_year_to_date", "target_pct", "improvement_year_to_date.target_pct"},
    {"improvement_year_to_date", "met_target", "improvement_year_to_date.met_target"},
    {"improvement_year_to_date", "rag", "improvement_year_to_date.rag"},
};

static const struct qrow *qrow_find(const char *section, const char *metric)
{
	for (size_t i = 0; i < NCOLS(qrows); i++)
		if (!strcmp(qrows[i].section, section) && !strcmp(qrows[i].metric, metric))
			return &qrows[i];
	return NULL;
}

/* A figure as text: integers as they are, other numbers with one
 * decimal (percentages), true/false, strings made safe for a terminal,
 * "" when null or missing. Caller frees; NULL when out of memory. */
static char *value_text(const json_t *v)
{
	char buf[64];

	if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_number(v))
		snprintf(buf, sizeof(buf), "%.1f", json_number_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, sizeof(buf), "%s", json_is_true(v) ? "true" : "false");
	else if (json_is_string(v))
		return render_clean(json_string_value(v), false);
	else
		buf[0] = '\0';
	return strdup(buf);
}

static const json_t *at(const json_t *d, const char *path)
{
	return render_path(d, path);
}

static json_int_t num(const json_t *d, const char *path)
{
	return json_integer_value(at(d, path));
}

/* ---- text ---- */

static const char *plural(json_int_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* "3 individuals, 2 areas, 6 families" */
static void subject_counts(FILE *out, const json_t *c)
{
	json_int_t i = num(c, "individuals"), a = num(c, "areas"), f = num(c, "families");

	fprintf(out,
	        "%" JSON_INTEGER_FORMAT " %s, %" JSON_INTEGER_FORMAT " %s, %" JSON_INTEGER_FORMAT
	        " %s",
	        i, plural(i, "individual", "individuals"), a, plural(a, "area", "areas"), f,
	        plural(f, "family", "families"));
}

/* A RAG rating in words ("not rated" when there is nothing to rate). */
static void rag_text(FILE *out, const json_t *rag)
{
	if (json_is_string(rag))
		render_safe(out, json_string_value(rag));
	else
		fputs("not rated", out);
}

static void window_text(FILE *out, const json_t *d)
{
	char *label = value_text(at(d, "window.label")), *from = value_text(at(d, "window.from")),
	     *to = value_text(at(d, "window.to"));

	fprintf(out, "Quarterly report: %s (%s to %s)\n", label ? label : "?", from ? from : "?",
	        to ? to : "?");
	free(label);
	free(from);
	free(to);
}

static void quarterly_text(const json_t *d)
{
	const json_t *nq = at(d, "new_cases.quarter"), *ny = at(d, "new_cases.year_to_date");
	const json_t *imp = at(d, "improvement_year_to_date");
	char *year_from = value_text(at(d, "window.year_from")), *pct = value_text(at(imp, "pct"));
	FILE *out = stdout;
	json_int_t n;

	window_text(out, d);

	fputs("\nASB cases\n", out);
	n = num(nq, "total");
	fprintf(out, "  %" JSON_INTEGER_FORMAT " new %s referred to the group this quarter: ", n,
	        plural(n, "case", "cases"));
	subject_counts(out, nq);
	fprintf(out, "\n  %" JSON_INTEGER_FORMAT " year to date: ", num(ny, "total"));
	subject_counts(out, ny);
	n = num(d, "open_from_before_year");
	fprintf(out, "\n  %" JSON_INTEGER_FORMAT " %s opened before %s still being worked\n", n,
	        plural(n, "case", "cases"), year_from && *year_from ? year_from : "the year");

	fputs("\nPPO clients\n", out);
	fprintf(out,
	        "  By strand: deter %" JSON_INTEGER_FORMAT
	        ", catch and convict %" JSON_INTEGER_FORMAT
	        ", rehabilitate and resettle %" JSON_INTEGER_FORMAT
	        ", no strand %" JSON_INTEGER_FORMAT "\n",
	        num(d, "ppo.clients_by_strand.deter"),
	        num(d, "ppo.clients_by_strand.catch_and_convict"),
	        num(d, "ppo.clients_by_strand.rehabilitate_and_resettle"),
	        num(d, "ppo.clients_by_strand.no_strand"));
	fprintf(out,
	        "  Removed for successful engagement: %" JSON_INTEGER_FORMAT
	        " this quarter, %" JSON_INTEGER_FORMAT " year to date\n",
	        num(d, "ppo.removed_successful_engagement.quarter"),
	        num(d, "ppo.removed_successful_engagement.year_to_date"));

	n = num(d, "repeat_victims");
	fprintf(out, "\nRepeat victims: %" JSON_INTEGER_FORMAT " with an incident this quarter\n",
	        n);

	fputs("\nASB Case Reviews\n", out);
	fprintf(out,
	        "  Applications %" JSON_INTEGER_FORMAT ", threshold met %" JSON_INTEGER_FORMAT
	        ", reviews held %" JSON_INTEGER_FORMAT ", recommendations %" JSON_INTEGER_FORMAT
	        "\n",
	        num(d, "case_reviews.applications"), num(d, "case_reviews.threshold_met"),
	        num(d, "case_reviews.reviews_held"), num(d, "case_reviews.recommendations"));

	fprintf(out, "\nMeetings held: %" JSON_INTEGER_FORMAT "\n", num(d, "meetings"));

	fputs("\nActions (RAG: ", out);
	rag_text(out, at(d, "actions.rag"));
	fprintf(out,
	        ")\n  Agreed %" JSON_INTEGER_FORMAT ", in progress %" JSON_INTEGER_FORMAT
	        ", done %" JSON_INTEGER_FORMAT ", cancelled %" JSON_INTEGER_FORMAT
	        "; %" JSON_INTEGER_FORMAT " open, %" JSON_INTEGER_FORMAT " overdue\n",
	        num(d, "actions.agreed"), num(d, "actions.in_progress"), num(d, "actions.done"),
	        num(d, "actions.cancelled"), num(d, "actions.open"), num(d, "actions.overdue"));

	fputs("\nImprovement within 12 months, year to date (RAG: ", out);
	rag_text(out, at(imp, "rag"));
	n = num(imp, "decided");
	fprintf(out,
	        ")\n  %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT " decided %s improved",
	        num(imp, "achieved"), n, plural(n, "case", "cases"));
	if (pct && *pct)
		fprintf(out, " (%s %%)", pct);
	if (json_is_number(at(imp, "target_pct")))
		fprintf(out, ", target %g %%", json_number_value(at(imp, "target_pct")));
	fputs(json_is_true(at(imp, "met_target"))    ? " — met"
	      : json_is_false(at(imp, "met_target")) ? " — not met"
	                                             : " — not yet known",
	      out);
	fprintf(out, "; %" JSON_INTEGER_FORMAT " pending\n", num(imp, "pending"));
	free(year_from);
	free(pct);
}

/* ---- CSV ---- */

/* A CSV field, quoted when it holds a separator or a quote, and kept
 * from being read as a formula by a spreadsheet. */
static void csv_field(FILE *out, const char *s)
{
	bool formula = s[0] && strchr("=+-@", s[0]) && strspn(s, "-0123456789.") != strlen(s);
	bool quote = strpbrk(s, ",\"\n") != NULL || formula;

	if (quote)
		fputc('"', out);
	if (formula)
		fputc('\'', out);
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			fputc('"', out);
		fputc(*p, out);
	}
	if (quote)
		fputc('"', out);
}

static int quarterly_csv(const json_t *d)
{
	FILE *out = stdout;

	fputs("section,metric,value\n", out);
	for (size_t i = 0; i < NCOLS(qrows); i++) {
		char *v = value_text(at(d, qrows[i].path));

		if (!v)
			return cdrp_oom();
		fprintf(out, "%s,%s,", qrows[i].section, qrows[i].metric);
		csv_field(out, v);
		fputc('\n', out);
		free(v);
	}
	return 0;
}

/* ---- HTML ---- */

/* Text for HTML (element content and quoted attributes alike): made safe
 * as for a terminal first, then the five markup characters escaped. */
static void html_text(FILE *out, const char *s)
{
	char *c = render_clean(s ? s : "", false);

	for (const char *p = c ? c : "?"; *p; p++) {
		switch (*p) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		default:
			fputc(*p, out);
		}
	}
	free(c);
}

/* A figure's table cell, marked with its CSV section.metric and value so
 * that the page can be checked against the CSV; `suffix` follows the
 * visible value (" %"), "n/a" stands for a null. */
static void html_cell(FILE *out, const json_t *d, const char *section, const char *metric,
                      const char *suffix)
{
	const struct qrow *r = qrow_find(section, metric);
	char *v = r ? value_text(at(d, r->path)) : NULL;

	fputs("<td class=\"num\" data-metric=\"", out);
	html_text(out, section);
	fputc('.', out);
	html_text(out, metric);
	fputs("\" data-value=\"", out);
	html_text(out, v ? v : "");
	fputs("\">", out);
	if (v && json_is_boolean(r ? at(d, r->path) : NULL)) {
		fputs(json_is_true(at(d, r->path)) ? "yes" : "no", out);
	} else if (v && *v) {
		html_text(out, v);
		fputs(suffix, out);
	} else {
		fputs("n/a", out);
	}
	fputs("</td>", out);
	free(v);
}

/* A row: its heading, then one cell per section (with the same metric). */
static void html_row(FILE *out, const json_t *d, const char *label, const char *metric,
                     const char *const *sections, size_t nsections, const char *suffix)
{
	fputs("<tr><th scope=\"row\">", out);
	html_text(out, label);
	fputs("</th>", out);
	for (size_t i = 0; i < nsections; i++)
		html_cell(out, d, sections[i], metric, suffix);
	fputs("</tr>\n", out);
}

/* A RAG rating as a coloured badge, marked like a figure's cell. */
static void html_rag(FILE *out, const json_t *d, const char *section)
{
	const json_t *rag =
	    at(d, section[0] == 'a' ? "actions.rag" : "improvement_year_to_date.rag");
	const char *s = json_string_value(rag);
	bool known = s && (!strcmp(s, "green") || !strcmp(s, "amber") || !strcmp(s, "red"));

	fprintf(out, "<span class=\"rag rag-%s\" data-metric=\"%s.rag\" data-value=\"%s\">",
	        known ? s : "none", section, known ? s : "");
	fputs(known ? s : "not rated", out);
	fputs("</span>", out);
}

static const char html_style[] =
    "body{font-family:'DejaVu Sans','Liberation Sans',Arial,sans-serif;color:#1d2733;"
    "margin:1.5em auto;max-width:72em;padding:0 1em;line-height:1.35}\n"
    "main{display:grid;grid-template-columns:repeat(auto-fit,minmax(30em,1fr));gap:0 3em}\n"
    "#improvement{grid-column:1/-1}\n"
    "h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:2px solid #d5dde6;"
    "padding-bottom:.2em;margin-top:1.2em}\n"
    ".sub{color:#52606d;margin-top:0}\n"
    "table{border-collapse:collapse;margin:.5em 0}th,td{padding:.3em .8em;border:1px solid "
    "#d5dde6;text-align:left}thead th{background:#eef2f6}td.num{text-align:right;"
    "font-variant-numeric:tabular-nums}\n"
    ".grid{display:flex;flex-wrap:wrap;gap:0 2.5em;align-items:flex-start}\n"
    ".rag{display:inline-block;padding:.05em .6em;border-radius:.8em;font-weight:bold;"
    "font-size:.9em;text-transform:uppercase}\n"
    ".rag-green{background:#d6f0dc;color:#17602b}.rag-amber{background:#fbe7c2;color:#7a4b00}"
    ".rag-red{background:#f7d4d4;color:#8a1c1c}.rag-none{background:#e4e7eb;color:#3e4c59}\n"
    "svg{max-width:100%;height:auto}svg text{font-family:'DejaVu Sans','Liberation Sans',"
    "Arial,sans-serif;fill:#1d2733}\n"
    "footer{margin-top:2em;color:#52606d;font-size:.85em}\n";

static void html_cases(FILE *out, const json_t *d)
{
	static const char *const periods[] = {"new_cases_quarter", "new_cases_year_to_date"};

	fputs("<section id=\"asb\"><h2>ASB cases</h2>\n<table>\n<thead><tr><th>New cases referred "
	      "to the group</th><th>This quarter</th><th>Year to date</th></tr></thead>\n<tbody>\n",
	      out);
	html_row(out, d, "Individuals", "individuals", periods, 2, "");
	html_row(out, d, "Areas", "areas", periods, 2, "");
	html_row(out, d, "Families", "families", periods, 2, "");
	html_row(out, d, "Total", "total", periods, 2, "");
	fputs(
	    "</tbody></table>\n<table><tbody>\n<tr><th scope=\"row\">Cases opened before the year "
	    "still being worked</th>",
	    out);
	html_cell(out, d, "open_from_before_year", "cases", "");
	fputs("</tr>\n</tbody></table></section>\n", out);
}

static void html_ppo(FILE *out, const json_t *d)
{
	static const char *const strand[] = {"ppo_clients_by_strand"};
	static const char *const removed[] = {"ppo_removed_successful_engagement"};

	fputs("<section id=\"ppo\"><h2>Prolific and Priority Offenders</h2>\n<div class=\"grid\">"
	      "<table>\n<thead><tr><th>Clients by strand</th><th>At quarter end</th></tr></thead>\n"
	      "<tbody>\n",
	      out);
	html_row(out, d, "Deter", "deter", strand, 1, "");
	html_row(out, d, "Catch and convict", "catch_and_convict", strand, 1, "");
	html_row(out, d, "Rehabilitate and resettle", "rehabilitate_and_resettle", strand, 1, "");
	html_row(out, d, "No strand", "no_strand", strand, 1, "");
	fputs("</tbody></table>\n<table>\n<thead><tr><th>Removed for successful engagement</th>"
	      "<th>Cases</th></tr></thead>\n<tbody>\n",
	      out);
	html_row(out, d, "This quarter", "quarter", removed, 1, "");
	html_row(out, d, "Year to date", "year_to_date", removed, 1, "");
	fputs("</tbody></table></div></section>\n", out);
}

static void html_victims_reviews(FILE *out, const json_t *d)
{
	static const char *const cr[] = {"case_reviews"};

	fputs("<section id=\"victims\"><h2>Victims and ASB Case Reviews</h2>\n<div class=\"grid\">"
	      "<table>\n<tbody>\n<tr><th scope=\"row\">Repeat victims with an incident this "
	      "quarter</th>",
	      out);
	html_cell(out, d, "repeat_victims", "victims", "");
	fputs("</tr>\n<tr><th scope=\"row\">Task Group meetings held</th>", out);
	html_cell(out, d, "meetings", "held", "");
	fputs("</tr>\n</tbody></table>\n<table>\n<thead><tr><th>ASB Case Reviews</th>"
	      "<th>This quarter</th></tr></thead>\n<tbody>\n",
	      out);
	html_row(out, d, "Applications", "applications", cr, 1, "");
	html_row(out, d, "Threshold met", "threshold_met", cr, 1, "");
	html_row(out, d, "Reviews held", "reviews_held", cr, 1, "");
	html_row(out, d, "Recommendations", "recommendations", cr, 1, "");
	fputs("</tbody></table></div></section>\n", out);
}

static void html_actions(FILE *out, const json_t *d)
{
	static const char *const act[] = {"actions"};

	fputs("<section id=\"actions\"><h2>Actions ", out);
	html_rag(out, d, "actions");
	fputs("</h2>\n<table>\n<thead><tr><th>Status at quarter end</th><th>Actions</th></tr>"
	      "</thead>\n<tbody>\n",
	      out);
	html_row(out, d, "Agreed", "agreed", act, 1, "");
	html_row(out, d, "In progress", "in_progress", act, 1, "");
	html_row(out, d, "Done", "done", act, 1, "");
	html_row(out, d, "Cancelled", "cancelled", act, 1, "");
	html_row(out, d, "Open", "open", act, 1, "");
	html_row(out, d, "Overdue", "overdue", act, 1, "");
	fputs("</tbody></table>\n<p>RAG: green when no open action is overdue, amber up to 10 % "
	      "overdue, red beyond.</p></section>\n",
	      out);
}

/* The improvement trend's quarters: the four of financial year fy, each
 * with the trend's entry for it (NULL when no case was referred then). */
static void trend_quarters(const json_t *trend, int fy, const json_t *q[4])
{
	const json_t *t;
	char label[32];
	size_t i;

	for (int k = 0; k < 4; k++) {
		q[k] = NULL;
		snprintf(label, sizeof(label), "%d-%02d Q%d", fy, (fy + 1) % 100, k + 1);
		json_array_foreach(trend, i, t)
		{
			const char *s = json_string_value(json_object_get(t, "quarter"));

			if (s && !strcmp(s, label))
				q[k] = t;
		}
	}
}

/* Chart geometry (SVG user units). */
#define CH_W     760.0
#define CH_H     400.0
#define CH_LEFT  80.0
#define CH_RIGHT 740.0
#define CH_TOP   70.0
#define CH_BOT   320.0

static double ch_y(double pct)
{
	return CH_BOT - pct / 100.0 * (CH_BOT - CH_TOP);
}

/* Bars of the improvement rate per quarter, a dashed target line, axes,
 * labels and a legend; "n/a" where a quarter has no decided case. */
static void html_chart(FILE *out, const json_t *imp, int fy)
{
	static const char *const qnames[] = {"Q1 Apr–Jun", "Q2 Jul–Sep", "Q3 Oct–Dec",
	                                     "Q4 Jan–Mar"};
	const json_t *tq[4], *target = json_object_get(imp, "target_pct");
	double slot = (CH_RIGHT - CH_LEFT) / 4.0;

	trend_quarters(json_object_get(imp, "trend"), fy, tq);
	fprintf(out,
	        "<svg id=\"improvement-chart\" "
	        "viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" role=\"img\" "
	        "aria-labelledby=\"chart-title chart-desc\">\n",
	        CH_W, CH_H, CH_W, CH_H);
	fprintf(
	    out,
	    "<title id=\"chart-title\">Improvement within 12 months by quarter of referral, FY "
	    "%d-%02d</title>\n<desc id=\"chart-desc\">Percentage of decided cases that improved "
	    "within 12 months, per quarter, against the target.</desc>\n",
	    fy, (fy + 1) % 100);
	/* the legend, above the plot */
	fputs("<g class=\"legend\" font-size=\"13\">"
	      "<rect x=\"80\" y=\"18\" width=\"16\" height=\"12\" fill=\"#3b6ea5\"/>"
	      "<text x=\"102\" y=\"29\">Improved within 12 months (% of decided cases)</text>"
	      "<line x1=\"440\" y1=\"24\" x2=\"470\" y2=\"24\" stroke=\"#c0392b\" "
	      "stroke-width=\"2.5\" stroke-dasharray=\"7 4\"/>",
	      out);
	if (json_is_number(target))
		fprintf(out, "<text x=\"476\" y=\"29\">Target (%g %%)</text>",
		        json_number_value(target));
	else
		fputs("<text x=\"476\" y=\"29\">Target</text>", out);
	fputs("<text x=\"600\" y=\"29\" fill=\"#52606d\">n/a: none decided</text></g>\n", out);
	/* the y axis: gridlines every 25 % */
	for (int p = 0; p <= 100; p += 25)
		fprintf(out,
		        "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"%s\"/>"
		        "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"12\">%d "
		        "%%</text>\n",
		        CH_LEFT, ch_y(p), CH_RIGHT, ch_y(p), p ? "#e4e7eb" : "#1d2733", CH_LEFT - 8,
		        ch_y(p) + 4, p);
	fprintf(out,
	        "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#1d2733\"/>\n"
	        "<text transform=\"translate(22 %.0f) rotate(-90)\" text-anchor=\"middle\" "
	        "font-size=\"13\">Improved within 12 months (%%)</text>\n",
	        CH_LEFT, CH_TOP, CH_LEFT, CH_BOT, (CH_TOP + CH_BOT) / 2);
	for (int k = 0; k < 4; k++) {
		const json_t *pct = json_object_get(tq[k], "pct");
		double cx = CH_LEFT + slot * (k + 0.5);

		if (json_is_number(pct)) {
			double v = json_number_value(pct);

			v = v < 0 ? 0 : v > 100 ? 100 : v;
			fprintf(
			    out,
			    "<rect class=\"bar\" data-quarter=\"%d\" data-pct=\"%.1f\" x=\"%.1f\" "
			    "y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#3b6ea5\"/>"
			    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"13\" "
			    "font-weight=\"bold\">%.1f %%</text>\n",
			    k + 1, json_number_value(pct), cx - 40, ch_y(v), 80.0, CH_BOT - ch_y(v),
			    cx, ch_y(v) - 6, json_number_value(pct));
		} else {
			fprintf(
			    out,
			    "<text class=\"na\" data-quarter=\"%d\" x=\"%.1f\" y=\"%.1f\" "
			    "text-anchor=\"middle\" font-size=\"14\" fill=\"#52606d\">n/a</text>\n",
			    k + 1, cx, CH_BOT - 12);
		}
		fprintf(out,
		        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
		        "font-size=\"13\">%s</text>\n",
		        cx, CH_BOT + 20, qnames[k]);
		fprintf(out,
		        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\" "
		        "fill=\"#52606d\">%" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT
		        " decided</text>\n",
		        cx, CH_BOT + 36, json_integer_value(json_object_get(tq[k], "achieved")),
		        json_integer_value(json_object_get(tq[k], "decided")));
	}
	if (json_is_number(target)) {
		double t = json_number_value(target);

		t = t < 0 ? 0 : t > 100 ? 100 : t;
		fprintf(out,
		        "<line id=\"target-line\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" "
		        "stroke=\"#c0392b\" stroke-width=\"2.5\" stroke-dasharray=\"7 4\"/>"
		        "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"12\" "
		        "fill=\"#c0392b\">target %g %%</text>\n",
		        CH_LEFT, ch_y(t), CH_RIGHT, ch_y(t), CH_RIGHT, ch_y(t) - 5,
		        json_number_value(target));
	}
	fprintf(out,
	        "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" font-size=\"13\">Quarter of "
	        "referral, FY %d-%02d</text>\n</svg>\n",
	        (CH_LEFT + CH_RIGHT) / 2, CH_H - 14, fy, (fy + 1) % 100);
}

/* The trend as a table too: the chart's figures, readable without it. */
static void html_trend_table(FILE *out, const json_t *imp, int fy)
{
	static const char *const keys[] = {"cases", "achieved", "failed", "pending", "decided"};
	const json_t *tq[4];

	trend_quarters(json_object_get(imp, "trend"), fy, tq);
	fputs("<table id=\"trend\">\n<thead><tr><th>Quarter of referral</th><th>Cases</th>"
	      "<th>Achieved</th><th>Failed</th><th>Pending</th><th>Decided</th><th>Improved</th>"
	      "</tr></thead>\n<tbody>\n",
	      out);
	for (int k = 0; k < 4; k++) {
		const json_t *pct = json_object_get(tq[k], "pct");

		fprintf(out, "<tr><th scope=\"row\">%d-%02d Q%d</th>", fy, (fy + 1) % 100, k + 1);
		for (size_t i = 0; i < NCOLS(keys); i++)
			fprintf(out, "<td class=\"num\">%" JSON_INTEGER_FORMAT "</td>",
			        json_integer_value(json_object_get(tq[k], keys[i])));
		if (json_is_number(pct))
			fprintf(out, "<td class=\"num\">%.1f %%</td></tr>\n",
			        json_number_value(pct));
		else
			fputs("<td class=\"num\">n/a</td></tr>\n", out);
	}
	fputs("</tbody></table>\n", out);
}

static void html_improvement(FILE *out, const json_t *d, const json_t *imp, int fy)
{
	static const char *const ytd[] = {"improvement_year_to_date"};

	fputs("<section id=\"improvement\"><h2>Improvement within 12 months, year to date ", out);
	html_rag(out, d, "improvement_year_to_date");
	fputs("</h2>\n<p>Cases referred since the start of the year that improved within 12 months "
	      "of referral; the percentage is of decided cases (achieved and failed).</p>\n"
	      "<div class=\"grid\"><table>\n<tbody>\n",
	      out);
	html_row(out, d, "Cases referred", "cases", ytd, 1, "");
	html_row(out, d, "Achieved", "achieved", ytd, 1, "");
	html_row(out, d, "Failed", "failed", ytd, 1, "");
	html_row(out, d, "Pending", "pending", ytd, 1, "");
	html_row(out, d, "Decided", "decided", ytd, 1, "");
	html_row(out, d, "Improved", "pct", ytd, 1, " %");
	html_row(out, d, "Target", "target_pct", ytd, 1, " %");
	html_row(out, d, "Target met", "met_target", ytd, 1, "");
	fputs("</tbody></table>\n<div>\n<h3>By quarter of referral</h3>\n", out);
	html_chart(out, imp, fy);
	fputs("</div></div>\n", out);
	html_trend_table(out, imp, fy);
	fputs("</section>\n", out);
}

static void quarterly_html(const json_t *d, const json_t *imp, int fy)
{
	char *label = value_text(at(d, "window.label"));
	FILE *out = stdout;

	fputs("<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<title>Quarterly report: ",
	      out);
	html_text(out, label);
	fprintf(out,
	        "</title>\n<style>\n%s</style>\n</head>\n<body>\n<header>\n<h1>"
	        "ASB Task Group quarterly report: ",
	        html_style);
	html_text(out, label);
	fputs("</h1>\n<p class=\"sub\">", out);
	html_text(out, json_string_value(at(d, "window.from")));
	fputs(" to ", out);
	html_text(out, json_string_value(at(d, "window.to")));
	fputs("; year to date from ", out);
	html_text(out, json_string_value(at(d, "window.year_from")));
	fputs("</p>\n</header>\n<main>\n", out);
	html_cases(out, d);
	html_ppo(out, d);
	html_victims_reviews(out, d);
	html_actions(out, d);
	html_improvement(out, d, imp, fy);
	fputs("</main>\n<footer>Aggregate figures only: no case or person is named. "
	      "Produced by cdrp report quarterly.</footer>\n</body>\n</html>\n",
	      out);
	free(label);
}

/* One table of improvement counts: the overall row, or one row per group
 * (`key` names the group's field). */
static void html_counts_table(FILE *out, const json_t *rows, const char *key, const char *title)
{
	static const char *const keys[] = {"cases", "achieved", "failed", "pending", "decided"};
	size_t i;
	const json_t *r;

	fputs("<table>\n<thead><tr><th>", out);
	html_text(out, title);
	fputs("</th><th>Cases</th><th>Achieved</th><th>Failed</th><th>Pending</th>"
	      "<th>Decided</th><th>Improved</th></tr></thead>\n<tbody>\n",
	      out);
	json_array_foreach(rows, i, r)
	{
		const json_t *pct = json_object_get(r, "pct");

		fputs("<tr><th scope=\"row\">", out);
		html_text(out, key ? json_string_value(json_object_get(r, key)) : "All cases");
		fputs("</th>", out);
		for (size_t k = 0; k < NCOLS(keys); k++)
			fprintf(out, "<td class=\"num\">%" JSON_INTEGER_FORMAT "</td>",
			        json_integer_value(json_object_get(r, keys[k])));
		if (json_is_number(pct))
			fprintf(out, "<td class=\"num\">%.1f %%</td></tr>\n",
			        json_number_value(pct));
		else
			fputs("<td class=\"num\">n/a</td></tr>\n", out);
	}
	fputs("</tbody></table>\n", out);
}

void report_improvement_html(const json_t *imp)
{
	FILE *out = stdout;
	const char *from = json_string_value(at(imp, "window.from"));
	int y = 0, m = 0;
	json_t *overall = json_array();

	/* the chart shows the financial year the window starts in */
	if (!from || sscanf(from, "%d-%d", &y, &m) != 2)
		y = 2000, m = 4;
	if (!overall)
		return;
	/* a copy: the overall object as a one-row table */
	json_array_append_new(overall, json_deep_copy(at(imp, "overall")));
	fputs("<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<title>Improvement within 12 months: ",
	      out);
	html_text(out, json_string_value(at(imp, "window.label")));
	fprintf(out,
	        "</title>\n<style>\n%s</style>\n</head>\n<body>\n<header>\n<h1>"
	        "Improvement within 12 months: ",
	        html_style);
	html_text(out, json_string_value(at(imp, "window.label")));
	fprintf(out,
	        "</h1>\n<p class=\"sub\">Cases referred %s to %s; target %.0f %%. The "
	        "percentage is of decided cases (achieved and failed).</p>\n</header>\n<main>\n",
	        from ? from : "?", json_string_value(at(imp, "window.to")) ?: "?",
	        json_number_value(at(imp, "target_pct")));
	html_counts_table(out, overall, NULL, "Overall");
	html_counts_table(out, at(imp, "by_subject_type"), "subject_type", "Subject type");
	html_counts_table(out, at(imp, "by_lead_agency"), "lead_agency", "Lead agency");
	fputs("<h3>By quarter of referral</h3>\n", out);
	html_chart(out, imp, m < 4 ? y - 1 : y);
	html_trend_table(out, imp, m < 4 ? y - 1 : y);
	fputs("</main>\n<footer>Aggregate figures only: no case or person is named. "
	      "Produced by cdrp report improvement.</footer>\n</body>\n</html>\n",
	      out);
	json_decref(overall);
}

/* ---- the command ---- */

/* The query string from --fy and --quarter, checked here with the
 * server's own schema; 0 or a usage error. */
static int quarterly_query(const struct cdrp_opts *o, char *out, size_t outlen)
{
	const char *fy = cdrp_opt(o, "fy"), *q = cdrp_opt(o, "quarter");
	struct proto_error pe = {0};
	json_t *qs;
	int rc = 0;

	out[0] = '\0';
	if (q && !fy)
		return cdrp_usage_error(o->cmd, "--quarter needs --fy");
	if (fy && (strlen(fy) != 4 || strspn(fy, "0123456789") != 4 || fy[0] == '0'))
		return cdrp_usage_error(o->cmd, "--fy must be a year, e.g. 2026 for 2026-27");
	if (q && (strlen(q) != 1 || q[0] < '1' || q[0] > '4'))
		return cdrp_usage_error(o->cmd, "--quarter must be 1, 2, 3 or 4");
	qs = json_object();
	if (!qs)
		return cdrp_oom();
	if (fy)
		json_object_set_new(qs, "fy", json_string(fy));
	if (q)
		json_object_set_new(qs, "quarter", json_string(q));
	if (!proto_validate_query(PQ_QUARTERLY, qs, &pe))
		rc = cdrp_usage_error(o->cmd, "invalid --%s: %s", pe.field, pe.detail);
	else if (fy)
		snprintf(out, outlen, "?fy=%s%s%s", fy, q ? "&quarter=" : "", q ? q : "");
	json_decref(qs);
	return rc;
}

/* The financial year of the answer (window.year_from, "2026-04-01"), or
 * 0 when the answer has none. */
static int answer_fy(const json_t *d)
{
	const char *s = json_string_value(at(d, "window.year_from"));

	if (!s || strlen(s) < 4 || strspn(s, "0123456789") < 4)
		return 0;
	return atoi(s);
}

static int run_quarterly(const struct cdrp_opts *o)
{
	static const char *const formats[] = {"text", "csv", "json", "html", NULL};
	struct http_response resp = {0}, resp2 = {0};
	struct http_client *c = NULL;
	json_t *doc = NULL, *imp = NULL;
	char query[64], path[128];
	bool sent;
	int rc, fy, fmt = cdrp_pick_format(o, formats, &rc);

	if (fmt < 0)
		return rc;
	if ((rc = quarterly_query(o, query, sizeof(query))) != 0)
		return rc;
	snprintf(path, sizeof(path), "/v1/reports/quarterly%s", query);
	c = cdrp_connect(o, &rc);
	if (!c)
		return rc;
	rc = cdrp_call(o, c, "GET", path, NULL, NULL, 0, &resp, &doc, &sent);
	if (rc)
		goto out;
	if (o->json || fmt == 2) {
		rc = cdrp_print_json(doc) != 0 ? CDRP_EXIT_SOFTWARE : 0;
		goto out;
	}
	fy = answer_fy(doc);
	if (!json_is_object(at(doc, "new_cases")) || !fy) {
		fputs("cdrp: unexpected answer from the server: a quarterly report without "
		      "\"new_cases\" or \"window\"\n",
		      stderr);
		rc = CDRP_EXIT_SOFTWARE;
		goto out;
	}
	if (fmt == 1) {
		rc = quarterly_csv(doc);
		goto out;
	}
	if (fmt == 0) {
		quarterly_text(doc);
		goto out;
	}
	/* the chart needs the year's trend: the whole year, by quarter */
	snprintf(path, sizeof(path), "/v1/reports/improvement?fy=%d", fy);
	rc = cdrp_call(o, c, "GET", path, NULL, NULL, 0, &resp2, &imp, &sent);
	if (rc)
		goto out;
	if (!json_is_array(json_object_get(imp, "trend"))) {
		fputs("cdrp: unexpected answer from the server: an improvement report without "
		      "\"trend\"\n",
		      stderr);
		rc = CDRP_EXIT_SOFTWARE;
		goto out;
	}
	quarterly_html(doc, imp, fy);
out:
	if (!rc && fflush(stdout) != 0) {
		perror("cdrp: writing the report");
		rc = CDRP_EXIT_SOFTWARE;
	}
	json_decref(doc);
	json_decref(imp);
	http_response_free(&resp);
	http_response_free(&resp2);
	http_client_free(c);
	return rc;
}

const struct cdrp_command cdrp_report_cmds[] = {
    {"report", "quarterly", "report quarterly", "the board's quarterly statistics (text to HTML)",
     u_quarterly, .min_args = 0, .max_args = 0, .args_hint = "", .opts = " fy quarter format ",
     .run = run_quarterly},
};
const size_t cdrp_report_ncmds = sizeof(cdrp_report_cmds) / sizeof(cdrp_report_cmds[0]);
