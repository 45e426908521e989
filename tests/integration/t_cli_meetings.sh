#!/usr/bin/env bash
# t_cli_meetings: the meeting and report commands of the cdrp client against
# the devstack's cdrpd: help for every command; local validation refusing
# with exit 65 (64 for bad options) before any network use; a month's ASB
# Task Group from creation to closed minutes -- attendance, the agenda with
# an item added and reordered (and reordered back: a state, not a replay),
# a review, a batch of decisions from a file (a bad batch refused whole,
# naming reviews[N].field), closing (later changes exit 80), minutes as
# text, Markdown and JSON -- and the 12-month improvement report in text,
# CSV and JSON with the same numbers.
# shellcheck source=lib.sh source-path=SCRIPTDIR disable=SC2317  # helpers run via check()
. "$(dirname "$0")/lib.sh"


# chair ARGS...: as the council's chair (Priya Marsh, HMDC).
chair() {
	cli_as council-chair "$@"
}


# decisions() : rows of case_decisions of the meeting (db).
decisions() {
	sql "SELECT count(*) FROM cdrp.case_decisions WHERE meeting_id = $mid"
}

# new_case NAME -> CASE: a referral submitted by the police and accepted by
# the council's caseworker, through the CLI.
new_case() {
	write_referral "$WORK/$1.json" "$1 $RUN_TAG"
	cli_as police-referrer --json referral submit "$WORK/$1.json"
	cli_as council-caseworker --json referral accept "$(jget "$OUT" id)" --lead-agency HMDC
	CASE=$(jget "$OUT" case_reference)
}

if [[ ! -x $CLI ]]; then
	not_ok "the client $CLI exists"
	finish
fi

today=$(date -u +%F)
held=$(date -u -d '+2 days' +%F)
next_review=$(date -u -d '+30 days' +%F)

# --- help ---------------------------------------------------------------------------

chair --help
assert_rc "cdrp --help: exit 0" 0
for syn in "meeting create" "meeting list" "meeting show ID" "meeting agenda ID" \
	"meeting attend ID" "meeting item ID" "meeting order ID ITEM_ID..." "meeting review ID" \
	"meeting decide ID FILE|-" "meeting close ID" "meeting minutes ID" "report improvement"; do
	assert_contains "cdrp --help lists '$syn'" "  $syn " "$(out)"
done
for cmd in "meeting create" "meeting list" "meeting show" "meeting agenda" "meeting attend" \
	"meeting item" "meeting order" "meeting review" "meeting decide" "meeting close" \
	"meeting minutes" "report improvement"; do
	# shellcheck disable=SC2086  # the command's words
	chair $cmd --help
	assert_rc "cdrp $cmd --help: exit 0" 0
	assert_contains "cdrp $cmd --help: its usage" "usage: cdrp $cmd" "$(out)"
done
chair meeting
assert_rc "cdrp meeting without a command: exit 64" 64
assert_contains "... names the commands" "create, list, show" "$(err)"

# --- local validation: no network use ----------------------------------------------------

offline council-chair meeting create --group asb_panel --date "$held"
assert_rc "meeting create, unknown group: exit 65 (offline)" 65
assert_contains "... names the option" "--group" "$(err)"
offline council-chair meeting create --group asb_task_group --date 2026-02-30
assert_rc "meeting create, 30 February: exit 65 (offline)" 65
assert_contains "... names the option" "--date" "$(err)"
offline council-chair meeting create --group asb_task_group --date "$held" --chair-agency HMDC
assert_rc "meeting create, --chair-agency without --chair-cn: exit 64" 64
offline council-chair meeting create --group asb_task_group
assert_rc "meeting create without --date: exit 64" 64
offline council-chair meeting review 1 --case ASB-2026-0001 --assessment better --decision continue
assert_rc "meeting review, unknown assessment: exit 65 (offline)" 65
assert_contains "... names the option" "--assessment" "$(err)"
offline council-chair meeting review 1 --case ASB-2026-0001 --assessment improved \
	--decision continue --outcome happy
assert_rc "meeting review, unknown outcome: exit 65 (offline)" 65
offline council-chair meeting review 1 --case ASB-2026-0001 --assessment improved --decision continue \
	--next-review 2026-13-01
assert_rc "meeting review, bad --next-review: exit 65 (offline)" 65
assert_contains "... names the option" "--next-review" "$(err)"
offline council-chair meeting attend 1 --agency ""
assert_rc "meeting attend without a code: exit 64" 64
offline council-chair meeting item 1 --title ""
assert_rc "meeting item, empty title: exit 65 (offline)" 65
offline council-chair meeting order 1 3 x
assert_rc "meeting order, not an item id: exit 64" 64
offline council-chair meeting order 1
assert_rc "meeting order without items: exit 64" 64
offline council-chair meeting show first
assert_rc "meeting show, not an id: exit 64" 64
offline council-chair meeting list --status pending
assert_rc "meeting list --status pending: exit 64" 64
offline council-chair meeting minutes 1 --format pdf
assert_rc "meeting minutes --format pdf: exit 64" 64
"$PY" - >"$WORK/bad-local.json" <<'EOF'
import json
print(json.dumps({"reviews": [
    {"case": "ASB-2026-0001", "assessment": "improved", "decision": "continue"},
    {"case": "ASB-2026-0002", "assessment": "better", "decision": "continue"}]}))
EOF
offline council-chair meeting decide 1 "$WORK/bad-local.json"
assert_rc "meeting decide, a bad review in the file: exit 65 (offline)" 65
assert_contains "... names the review and field" "reviews[1].assessment" "$(err)"
printf '{"reviews": [' >"$WORK/not-json.json"
offline council-chair meeting decide 1 "$WORK/not-json.json"
assert_rc "meeting decide, not JSON: exit 65 (offline)" 65
offline council-chair meeting decide 1 "$WORK/no-such-file.json"
assert_rc "meeting decide, no such file: exit 66" 66
offline council-chair report improvement --fy 2026 --from 2026-04-01 --to 2026-06-30
assert_rc "report improvement --fy with --from/--to: exit 64" 64
assert_contains "... says why" "not both" "$(err)"
offline council-chair report improvement --quarter 2
assert_rc "report improvement --quarter without --fy: exit 64" 64
offline council-chair report improvement --from 2026-04-01
assert_rc "report improvement --from without --to: exit 64" 64
offline council-chair report improvement --from 2026-06-30 --to 2026-04-01
assert_rc "report improvement --from after --to: exit 64" 64
offline council-chair report improvement --fy 1999
assert_rc "report improvement --fy 1999: exit 64" 64
offline council-chair report improvement --fy 2026 --quarter 5
assert_rc "report improvement --quarter 5: exit 64" 64
offline council-chair report improvement --list everything
assert_rc "report improvement --list everything: exit 64" 64
offline council-chair report improvement --format xlsx
assert_rc "report improvement --format xlsx: exit 64" 64

# --- cases to review -------------------------------------------------------------------------

new_case "Review One"
c1=$CASE
new_case "Batch Two"
c2=$CASE
new_case "Batch Three"
c3=$CASE
new_case "Batch Four"
c4=$CASE
new_case "Late Five"
c5=$CASE
for c in "$c1" "$c2" "$c3" "$c4" "$c5"; do
	assert_match "a case to review ($c)" '^ASB-[0-9]{4}-[0-9]+$' "$c"
done

# --- a meeting: create, attend, agenda ---------------------------------------------------------

cli_as county-analyst meeting create --group asb_task_group --date "$held"
assert_rc "the analyst cannot create a meeting: exit 77" 77
chair --json meeting create --group asb_task_group --date "$held"
assert_rc "meeting create: exit 0" 0
mid=$(jget "$OUT" id)
assert_match "meeting create: the id" '^[0-9]+$' "$mid"
assert_eq "meeting create: open" open "$(jget "$OUT" status)"
assert_eq "meeting create: the chair is its creator" "Priya Marsh" "$(jget "$OUT" chair.cn)"
chair meeting create --group asb_task_group --date "$held"
assert_rc "meeting create again (a retry): exit 0" 0
assert_match "meeting create again: the same meeting" "^Meeting $mid: ASB Task Group on $held \\(open\\)" "$(out)"
assert_contains "meeting create again: the original answer" "already recorded" "$(out)"
assert_eq "db: no second meeting" 0 "$(sql "SELECT count(*) FROM cdrp.meetings WHERE id > $mid")"

chair meeting attend "$mid" --agency HMDC --agency HMPOL,HMHA
assert_rc "meeting attend: exit 0" 0
assert_match "meeting attend: the agencies present" 'Attendance: +HMDC, HMHA, HMPOL' "$(out)"
assert_eq "db: three agencies present" 3 \
	"$(sql "SELECT count(*) FROM cdrp.meeting_attendance WHERE meeting_id = $mid")"
chair meeting attend "$mid" --agency HMXX
assert_rc "meeting attend, an unknown agency: exit 65" 65

chair meeting item "$mid" --title "AOB: summer events $RUN_TAG" --case "$c1"
assert_rc "meeting item: exit 0" 0
assert_contains "meeting item: the agenda with the new item" "AOB: summer events $RUN_TAG" "$(out)"
chair meeting agenda "$mid"
assert_rc "meeting agenda: exit 0" 0
assert_match "meeting agenda: its title" "^Agenda of meeting $mid: ASB Task Group on $held" "$(out)"
assert_match "meeting agenda: a table" '# +ITEM +KIND +TITLE' "$(out)"
assert_contains "meeting agenda: the item added" "AOB: summer events $RUN_TAG" "$(out)"
assert_not_contains "meeting agenda: no subject's name" "Review One $RUN_TAG" "$(out)"
chair --json meeting show "$mid"
first=$(jget "$OUT" agenda.0.id)
aob=$("$PY" -c '
import json, sys
items = json.load(open(sys.argv[1]))["agenda"]
print([i["id"] for i in items if i["title"].startswith("AOB: summer events")][0])' "$OUT" 2>/dev/null)
assert_match "the added item's id" '^[0-9]+$' "$aob"
if [[ $first == "$aob" ]]; then
	not_ok "the generated agenda comes before the added item" "first item $first is the added one"
fi

chair meeting order "$mid" "$aob"
assert_rc "meeting order ITEM: exit 0" 0
assert_match "meeting order: the item is first" "^ +1 +$aob +review_due +AOB: summer events" \
	"$(sed -n 3p "$OUT")"
chair --json meeting order "$mid" --item "$first"
assert_rc "meeting order --item (back): exit 0" 0
assert_eq "meeting order --item: the former first is first again" "$first" "$(jget "$OUT" agenda.0.id)"
chair --json meeting order "$mid" "$aob"
assert_rc "meeting order ITEM again (after another order): exit 0" 0
assert_eq "... applied again, not replayed" "$aob" "$(jget "$OUT" agenda.0.id)"
assert_eq "db: the added item is first" "$aob" \
	"$(sql "SELECT id FROM cdrp.meeting_items WHERE meeting_id = $mid ORDER BY position, id LIMIT 1")"
chair meeting order "$mid" 999999999
assert_rc "meeting order, an item of no such agenda: exit 65" 65

# --- reviews ----------------------------------------------------------------------------------

chair meeting review "$mid" --case "$c1" --assessment improved --decision continue \
	--next-review "$next_review" --notes "Mediation worked; keep an eye on it."
assert_rc "meeting review: exit 0" 0
assert_match "meeting review: the review" "^Review [0-9]+ of $c1: improved, continue; next review $next_review" \
	"$(out)"
assert_contains "meeting review: the notes" "Mediation worked" "$(out)"
chair meeting review "$mid" --case "$c1" --assessment improved --decision continue \
	--next-review "$next_review" --notes "Mediation worked; keep an eye on it."
assert_rc "meeting review again (a retry): exit 0" 0
assert_contains "meeting review again: the original answer" "already recorded" "$(out)"
assert_eq "db: one review" 1 "$(decisions)"
chair meeting review "$mid" --case "$c1" --assessment worse --decision escalate
assert_rc "a second review of the case at the meeting: exit 80" 80
chair meeting review "$mid" --case ASB-1999-9999 --assessment improved --decision continue
assert_rc "a review of no such case: exit 65 (rule)" 65
assert_contains "... names the field" "[field case]" "$(err)"

# A batch the server refuses (a close without its outcome): nothing stored.
"$PY" - "$c2" "$c3" >"$WORK/bad-server.json" <<'EOF'
import json, sys
print(json.dumps({"reviews": [
    {"case": sys.argv[1], "assessment": "improved", "decision": "continue"},
    {"case": sys.argv[2], "assessment": "worse", "decision": "close"}]}))
EOF
chair meeting decide "$mid" "$WORK/bad-server.json"
assert_rc "meeting decide, a close without outcome: exit 65" 65
assert_contains "... names the review and field" "reviews[1].outcome" "$(err)"
assert_eq "db: nothing of the batch stored" 1 "$(decisions)"
chair meeting decide "$mid" "$WORK/bad-local.json"
assert_rc "meeting decide, a bad review (checked locally): exit 65" 65
assert_eq "db: still nothing of the batch" 1 "$(decisions)"

"$PY" - "$c2" "$c3" "$c4" "$(date -u -d '+14 days' +%F)" >"$WORK/batch.json" <<'EOF'
import json, sys
c2, c3, c4, due = sys.argv[1:5]
print(json.dumps({"reviews": [
    {"case": c2, "assessment": "improved", "decision": "continue",
     "notes": "Support accepted.\nReview in a month.",
     "actions": [{"type": "mediation_referral", "stage": 1, "owner": "HMHA", "due_on": due}]},
    {"case": c3, "assessment": "no_change", "decision": "escalate", "notes": "Pipe | test"},
    {"case": c4, "assessment": "improved", "decision": "close", "outcome": "resolved"}]}))
EOF
chair meeting decide "$mid" "$WORK/batch.json"
assert_rc "meeting decide FILE: exit 0" 0
assert_match "meeting decide: three reviews" "^Meeting $mid: 3 reviews recorded" "$(out)"
assert_contains "meeting decide: the action agreed" "mediation_referral" "$(out)"
assert_eq "db: four reviews" 4 "$(decisions)"
assert_eq "db: the close decision closed the case as resolved" "closed|resolved" \
	"$(sql "SELECT status || '|' || outcome FROM cdrp.cases WHERE reference = '$c4'")"
CLI_RC=0
timeout 60 "$CLI" --cert "$CDRP_PKI/council-chair.crt" --key "$CDRP_PKI/council-chair.key" \
	meeting decide "$mid" - <"$WORK/batch.json" >"$OUT" 2>"$ERR" || CLI_RC=$?
assert_rc "meeting decide - (the same batch on stdin, a retry): exit 0" 0
assert_contains "... the original answer" "already recorded" "$(out)"
assert_eq "db: still four reviews" 4 "$(decisions)"

chair meeting show "$mid"
assert_rc "meeting show: exit 0" 0
assert_match "meeting show: attendance" 'Attendance: +HMDC, HMHA, HMPOL' "$(out)"
assert_match "meeting show: the reviews table" "$c3 +no_change +escalate" "$(out)"
assert_contains "meeting show: four reviews" "Reviews (4)" "$(out)"
chair meeting list --status open
assert_rc "meeting list --status open: exit 0" 0
check "meeting list: the meeting, with its counts" \
	grep -Eq "^$mid +asb_task_group +$held +open +Priya Marsh \\(HMDC\\) +[0-9]+ +4\$" "$OUT"

# --- closing ----------------------------------------------------------------------------------

cli_as county-analyst meeting close "$mid"
assert_rc "the analyst cannot close a meeting: exit 77" 77
chair meeting close "$mid"
assert_rc "meeting close: exit 0" 0
assert_match "meeting close: closed" "^Meeting $mid: ASB Task Group on $held \\(closed\\)" "$(out)"
chair meeting close "$mid"
assert_rc "meeting close again (a retry): exit 0" 0
chair meeting review "$mid" --case "$c5" --assessment improved --decision continue
assert_rc "a review after closing: exit 80" 80
assert_contains "... invalid_transition" invalid_transition "$(err)"
chair meeting item "$mid" --title "Too late $RUN_TAG"
assert_rc "an item after closing: exit 80" 80
chair meeting attend "$mid" --agency HMFRS
assert_rc "attendance after closing: exit 80" 80
assert_eq "db: still four reviews after closing" 4 "$(decisions)"
chair meeting list --status closed
check "meeting list --status closed: the meeting" grep -Eq "^$mid +asb_task_group +$held +closed" "$OUT"
chair meeting list --status open
check "meeting list --status open: not any more" test "$(grep -Ec "^$mid " "$OUT")" = 0

# --- minutes ----------------------------------------------------------------------------------

cli_as council-caseworker meeting minutes "$mid"
assert_rc "meeting minutes (text) as a caseworker: exit 0" 0
assert_match "minutes: the title" "^Minutes of meeting $mid: ASB Task Group, $held" "$(out)"
assert_match "minutes: the chair" 'Chair: +Priya Marsh \(HMDC\)' "$(out)"
assert_match "minutes: closed" 'Status: +closed' "$(out)"
assert_match "minutes: who attended, by name" 'HMPOL +Harrowmere Constabulary' "$(out)"
assert_match "minutes: the reviews, aligned" "$c1 +individual +HMDC +improved +continue +- +$next_review" "$(out)"
assert_match "minutes: the close" "$c4 +individual +HMDC +improved +close +resolved" "$(out)"
assert_contains "minutes: the notes" "Mediation worked" "$(out)"
assert_match "minutes: the action" 'mediation_referral +1 +HMHA' "$(out)"
cli_as council-caseworker meeting minutes "$mid" --format md
assert_rc "meeting minutes --format md: exit 0" 0
assert_eq "minutes md: a heading first" "# Minutes: ASB Task Group, $held" "$(head -n 1 "$OUT")"
assert_contains "minutes md: attendance heading" "## Attendance" "$(out)"
assert_contains "minutes md: a reviews heading" "## Reviews" "$(out)"
assert_contains "minutes md: the table header" \
	"| Case | Subject | Lead agency | Assessment | Decision | Outcome | Next review | Notes |" "$(out)"
assert_contains "minutes md: the review of $c1" "| $c1 | individual | HMDC | improved | continue |" "$(out)"
assert_contains "minutes md: underscores escaped" "| no\\_change | escalate |" "$(out)"
assert_contains "minutes md: a | in notes cannot add a column" "Pipe \\| test" "$(out)"
assert_contains "minutes md: lines of notes joined" "Support accepted.<br>Review in a month." "$(out)"
assert_contains "minutes md: the actions" "### Actions agreed" "$(out)"
check "minutes md: the reviews table keeps its 8 columns (header, rule, 4 rows)" "$PY" -c '
import sys
cols = [l.count("|") - l.count("\\|") for l in open(sys.argv[1]) if l.startswith("|")]
sys.exit(0 if cols.count(9) == 6 and set(cols) <= {9, 6} else 1)' "$OUT"
cli_as council-caseworker meeting minutes "$mid" --format json
assert_rc "meeting minutes --format json: exit 0" 0
check "minutes json: JSON" is_json "$OUT"
assert_eq "minutes json: the meeting" "$mid" "$(jget "$OUT" meeting.id)"
assert_eq "minutes json: four reviews" 4 \
	"$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["reviews"]))' "$OUT" 2>/dev/null)"
cp "$OUT" "$WORK/minutes-format.json"
cli_as council-caseworker --json meeting minutes "$mid"
assert_eq "minutes: --json is --format json" "$(json_canon "$WORK/minutes-format.json")" \
	"$(json_canon "$OUT")"
cli_as council-caseworker meeting minutes 999999999
assert_rc "minutes of no meeting: exit 79" 79

# --- the improvement report ------------------------------------------------------------------

# Today's referrals: c1, c2 and c4 improved (c4 closed resolved), c3 and c5
# pending. Other tests may add cases referred today; the formats must agree.
win=(--from "$today" --to "$today")
chair report improvement "${win[@]}" --format json
assert_rc "report improvement --format json: exit 0" 0
check "report json: JSON" is_json "$OUT"
cp "$OUT" "$WORK/report.json"
read -r n a f p d pct < <("$PY" -c '
import json, sys
o = json.load(open(sys.argv[1]))["overall"]
pct = "" if o["pct"] is None else "%.1f" % o["pct"]
print(o["cases"], o["achieved"], o["failed"], o["pending"], o["decided"], pct or "-")' "$WORK/report.json")
assert_eq "report json: the window" "$today" "$(jget "$WORK/report.json" window.from)"
assert_eq "report json: target 75 %" 75 "$(jget "$WORK/report.json" target_pct)"
check "report json: at least our three achieved and two pending" test "${a:-0}" -ge 3 -a "${p:-0}" -ge 2
chair report improvement "${win[@]}"
assert_rc "report improvement (text): exit 0" 0
assert_match "report text: the overall line agrees with the JSON" \
	"^Improvement within 12 months: $a of $d decided cases? \\(${pct//./\\.} %\\), target 75 % — (met|not met); $p pending" \
	"$(head -n 1 "$OUT")"
assert_match "report text: the window" "^Window: $today to $today \\($today to $today\\)" "$(sed -n 2p "$OUT")"
assert_contains "report text: by subject type" "By subject type" "$(out)"
assert_match "report text: the individual row" "individual +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +" "$(out)"
assert_contains "report text: by lead agency" "By lead agency" "$(out)"
assert_match "report text: HMDC" "HMDC +[0-9]+ +[0-9]+" "$(out)"
assert_contains "report text: the trend" "Trend by quarter" "$(out)"
chair report improvement "${win[@]}" --format csv
assert_rc "report improvement --format csv: exit 0" 0
assert_eq "report csv: the header" "scope,group,cases,achieved,failed,pending,decided,pct" \
	"$(head -n 1 "$OUT")"
assert_eq "report csv: the overall row agrees with the JSON" \
	"overall,all,$n,$a,$f,$p,$d,${pct/#-/}" "$(sed -n 2p "$OUT")"
check "report csv: a row per group, each agreeing with the JSON" "$PY" -c '
import csv, json, sys
doc = json.load(open(sys.argv[1]))
rows = list(csv.reader(open(sys.argv[2])))
want = [["overall", "all"]] + [[s, g[k]] for s, key, k in (
    ("subject_type", "by_subject_type", "subject_type"),
    ("lead_agency", "by_lead_agency", "lead_agency"),
    ("quarter", "trend", "quarter")) for g in doc[key]]
groups = [doc["overall"]] + doc["by_subject_type"] + doc["by_lead_agency"] + doc["trend"]
body = rows[1:]
ok = len(body) == len(want) and all(len(r) == 8 for r in body)
for r, w, g in zip(body, want, groups):
    nums = [str(g[k]) for k in ("cases", "achieved", "failed", "pending", "decided")]
    pct = "" if g["pct"] is None else "%.1f" % g["pct"]
    ok = ok and r == w + nums + [pct]
sys.exit(0 if ok else 1)' "$WORK/report.json" "$OUT"

chair report improvement "${win[@]}" --list achieved
assert_rc "report improvement --list achieved: exit 0" 0
for c in "$c1" "$c2" "$c4"; do
	assert_match "report --list achieved: $c, achieved on the meeting day or closure" \
		"$c +individual +HMDC +$today +achieved +[0-9]{4}-" "$(out)"
done
assert_not_contains "report --list achieved: not $c3" "$c3 " "$(out)"
chair report improvement "${win[@]}" --list pending --format csv
assert_rc "report improvement --list pending --format csv: exit 0" 0
assert_eq "report --list csv: the header" \
	"reference,subject_type,lead_agency,referral_date,result,achieved_on" "$(head -n 1 "$OUT")"
assert_contains "report --list pending csv: $c3" "$c3,individual,HMDC,$today,pending," "$(out)"
assert_contains "report --list pending csv: $c5" "$c5,individual,HMDC,$today,pending," "$(out)"

fy=$(date -u +%Y)
(($(date -u +%-m) < 4)) && fy=$((fy - 1))
chair report improvement --fy "$fy"
assert_rc "report improvement --fy (this financial year): exit 0" 0
assert_match "report --fy: its label" "^Window: FY $fy-" "$(sed -n 2p "$OUT")"
chair report improvement --fy "$fy" --quarter 1 --format json
assert_rc "report improvement --fy --quarter: exit 0" 0
assert_eq "report --fy --quarter 1: from April" "$fy-04-01" "$(jget "$OUT" window.from)"
assert_eq "report --fy --quarter 1: to June" "$fy-06-30" "$(jget "$OUT" window.to)"
chair report improvement --fy "$fy" --from "$today" --to "$today"
assert_rc "report improvement --fy with --from/--to (online too): exit 64" 64
cli_as county-analyst report improvement "${win[@]}"
assert_rc "the analyst reads the report: exit 0" 0
cli_as county-analyst report improvement "${win[@]}" --list achieved
assert_rc "the analyst may not list the cases behind it: exit 77" 77

finish
