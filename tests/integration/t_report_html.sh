#!/usr/bin/env bash
# t_report_html: `cdrp report quarterly` against hand-computed fixtures for
# FY 2018-19 Q2 (no other test refers cases, holds meetings or records
# actions in 2017-2019): the same figures in text, CSV, JSON and HTML; the
# HTML page self-contained (no external reference of any kind), rendered
# by headless Chromium without console errors, its DOM holding the chart
# and the figures, and a screenshot written.
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

readonly CHROMIUM=/usr/bin/chromium

post_json() { # WHO PATH JSON [CURL_ARGS...]
	local who=$1 path=$2 json=$3
	shift 3
	req "$who" POST "$path" -H 'Content-Type: application/json' \
		-H "Idempotency-Key: $(new_key rpt)" --data-binary "$json" "$@"
}
# new_case NAME SUBJECT_TYPE DATE -> CASE, VICTIM: an ASB case accepted by
# the council and backdated to DATE (as an import would), with the id of
# its referral's victim.
new_case() {
	write_referral "$WORK/$1.json" "$1 $RUN_TAG"
	sed -i "s/\"type\":\"individual\"/\"type\":\"$2\"/" "$WORK/$1.json"
	post_referral police-referrer "$(new_key ref)" "$WORK/$1.json"
	post_json council-caseworker "/v1/referrals/$(body_field id)/accept" '{"lead_agency":"HMDC"}'
	CASE=$(body_field case_reference)
	sql "UPDATE cdrp.cases SET referral_date = '$3', opened_at = '$3' WHERE reference = '$CASE'" >/dev/null
	VICTIM=$(sql "SELECT cp.person_id FROM cdrp.case_persons cp JOIN cdrp.cases c ON c.id = cp.case_id
		WHERE c.reference = '$CASE' AND cp.role = 'victim' LIMIT 1")
}
meeting() { # DATE -> MEETING
	post_json council-chair /v1/meetings "{\"group\":\"asb_task_group\",\"held_on\":\"$1\"}"
	MEETING=$(body_field id)
}
review() { # MEETING CASE ASSESSMENT DECISION [EXTRA_JSON]
	post_json council-chair "/v1/meetings/$1/reviews" \
		"{\"case\":\"$2\",\"assessment\":\"$3\",\"decision\":\"$4\"${5:-}}"
	[[ $STATUS == 201 ]] || not_ok "setup: review of $2 at meeting $1" "HTTP $STATUS: $(head -c 300 "$BODY")"
}
# action CASE TYPE DUE STATUS: an action agreed on 2018-07-10, now STATUS.
action() {
	post_json council-caseworker "/v1/cases/$1/actions" \
		"{\"type\":\"$2\",\"stage\":1,\"owner_agency\":\"HMDC\",\"due_on\":\"$3\"}"
	[[ $STATUS == 201 ]] || not_ok "setup: action on $1" "HTTP $STATUS: $(head -c 300 "$BODY")"
	sql "UPDATE cdrp.actions SET created_at = '2018-07-10', status = '$4' WHERE id = $(body_field id)" >/dev/null
}
# cli ARGS...: cdrp as the county's analyst (aggregates only).
cli() {
	CLI_RC=0
	timeout 60 "$CLI" --cert "$CDRP_PKI/county-analyst.crt" --key "$CDRP_PKI/county-analyst.key" \
		"$@" >"$OUT" 2>"$ERR" </dev/null || CLI_RC=$?
}
# --- fixtures: FY 2018-19, the report's quarter Q2 (2018-07-01..2018-09-30) ------------------
# ASB cases (referral date, what happened):
#   Q1a individual 2018-05-10  improved 2018-06-20               achieved  (Q1)
#   Q2a individual 2018-07-05  improved 2018-09-12               achieved  (Q2)
#   Q2b individual 2018-08-01  no change 2018-09-12              failed    (Q2)
#   Q2c area       2018-08-15  never reviewed                    failed    (Q2)
#   Q2d family     2018-09-03  closed resolved 2018-09-12        achieved  (Q2)
#   Q3a individual 2018-11-20  improved 2019-01-15               achieved  (Q3: chart only)
#   B1 individual 2017-06-01, B2 family 2017-11-01: opened before the year, open
# This quarter: 4 new (2 individuals, 1 area, 1 family); year to date 5 (3, 1, 1);
# 2 opened before the year; improvement year to date 3 of 5 = 60.0 %, red
# against 75; trend Q1 100.0, Q2 50.0, Q3 100.0, Q4 n/a. Meetings in Q2: 1.
# PPO (imported, referred 2017-05-01): deter, catch_and_convict, and a deter
# client removed for successful engagement on 2018-08-20: at the quarter's
# end deter 1, catch and convict 1; removed 1 this quarter, 1 year to date.
# Victim V of Q2a has three incidents in the quarter: 1 repeat victim.
# Case Reviews: V applied 2018-07-20, threshold met; X (Q2b's victim) applied
# 2018-08-05, not met; V's review held 2018-09-05, 3 recommendations.
# Actions agreed 2018-07-10: due 2018-08-01 agreed (overdue at the quarter's
# end), due 2018-12-01 agreed, in progress, done: 2 agreed, 1 in progress,
# 1 done, 3 open, 1 overdue (33 %): red.
readonly FY=2018 Q=2

new_case "Rpt Q1a" individual 2018-05-10; q1a=$CASE
new_case "Rpt Q2a" individual 2018-07-05; q2a=$CASE; V=$VICTIM
new_case "Rpt Q2b" individual 2018-08-01; q2b=$CASE; X=$VICTIM
new_case "Rpt Q2c" area 2018-08-15
new_case "Rpt Q2d" family 2018-09-03; q2d=$CASE
new_case "Rpt Q3a" individual 2018-11-20; q3a=$CASE
new_case "Rpt B1" individual 2017-06-01
new_case "Rpt B2" family 2017-11-01

meeting 2018-06-20
review "$MEETING" "$q1a" improved continue
meeting 2018-09-12
review "$MEETING" "$q2a" improved continue
review "$MEETING" "$q2b" no_change continue
review "$MEETING" "$q2d" improved close ',"outcome":"resolved"'
meeting 2019-01-15
review "$MEETING" "$q3a" improved continue

post_json council-admin /v1/admin/import '{"cases":[
 {"case_kind":"ppo","subject_type":"individual","subject_name":"Rpt PPO One","lead_agency":"HMPOL",
  "referral_date":"2017-05-01","strand":"deter"},
 {"case_kind":"ppo","subject_type":"individual","subject_name":"Rpt PPO Two","lead_agency":"HMPOL",
  "referral_date":"2017-05-01","strand":"catch_and_convict"},
 {"case_kind":"ppo","subject_type":"individual","subject_name":"Rpt PPO Three","lead_agency":"HMPOL",
  "referral_date":"2017-05-01","strand":"deter"}]}'
assert_status "setup: the PPO cohort imported: 201" 201
ppo3=$(jget "$BODY" references.2)
req police-ppo GET "/v1/cases/$ppo3"
post_json police-ppo "/v1/cases/$ppo3/ppo-removal" \
	'{"reason":"successful_engagement","exit_strategy":"Handover to probation"}' \
	-H "If-Match: $(header etag)"
assert_status "setup: a PPO client removed for successful engagement: 200" 200
sql "UPDATE cdrp.ppo_strand_history SET at = '2018-08-20' WHERE removed
       AND case_id = (SELECT id FROM cdrp.cases WHERE reference = '$ppo3');
     UPDATE cdrp.cases SET closed_at = '2018-08-20' WHERE reference = '$ppo3'" >/dev/null

for d in 2018-07-02 2018-07-16 2018-08-10; do
	post_json council-caseworker "/v1/cases/$q2a/incidents" \
		"{\"occurred_on\":\"$d\",\"reported_on\":\"$d\",\"category\":\"nuisance\",\"place\":\"Mill Lane\",\"victims\":[$V]}"
	[[ $STATUS == 201 ]] || not_ok "setup: incident of $d" "HTTP $STATUS: $(head -c 300 "$BODY")"
done

post_json council-caseworker /v1/case-reviews "{\"person_id\":$V,\"case\":\"$q2a\",\"applied_on\":\"2018-07-20\"}"
crv=$(body_field id)
post_json council-caseworker /v1/case-reviews "{\"person_id\":$X,\"case\":\"$q2b\",\"applied_on\":\"2018-08-05\"}"
crx=$(body_field id)
post_json council-chair "/v1/case-reviews/$crx/decision" '{"threshold_met":false,"decided_on":"2018-08-20"}'
# V's eligibility is judged on today's six months, where the 2018
# incidents no longer count: the decision is recorded, then dated.
post_json council-chair "/v1/case-reviews/$crv/decision" '{"threshold_met":false,"decided_on":"2018-08-01"}'
sql "UPDATE cdrp.case_reviews SET threshold_met = true WHERE id = $crv" >/dev/null
post_json council-caseworker "/v1/case-reviews/$crv/meeting" \
	'{"meeting_on":"2018-09-05","recommendations":["Joint visit","CCTV review","Mediation offer"]}'
assert_status "setup: V's Case Review held: 200" 200

action "$q2a" warning_letter 2018-08-01 agreed
action "$q2a" mediation_referral 2018-12-01 agreed
action "$q2b" acceptable_behaviour_contract 2018-11-01 in_progress
action "$q2b" warning_letter 2018-08-15 "done"

if [[ ! -x $CLI ]]; then
	not_ok "the client $CLI exists"
	finish
fi

# --- JSON: the hand-computed figures ------------------------------------------------------------

cli report quarterly --fy $FY --quarter $Q --format json
assert_rc "report quarterly --format json: exit 0" 0
cp "$OUT" "$WORK/q.json"
check "json: one JSON document" is_json "$WORK/q.json"
j() { jget "$WORK/q.json" "$1"; }
assert_eq "json: the window" "FY 2018-19 Q2 2018-07-01 2018-09-30" "$(j window.label) $(j window.from) $(j window.to)"
assert_eq "json: 4 new this quarter: 2 individuals, 1 area, 1 family" "4 2 1 1" \
	"$(j new_cases.quarter.total) $(j new_cases.quarter.individuals) $(j new_cases.quarter.areas) $(j new_cases.quarter.families)"
assert_eq "json: 5 year to date: 3, 1, 1" "5 3 1 1" \
	"$(j new_cases.year_to_date.total) $(j new_cases.year_to_date.individuals) $(j new_cases.year_to_date.areas) $(j new_cases.year_to_date.families)"
assert_eq "json: 2 opened before the year still open" 2 "$(j open_from_before_year)"
assert_eq "json: PPO clients by strand" "1 1 0 0" \
	"$(j ppo.clients_by_strand.deter) $(j ppo.clients_by_strand.catch_and_convict) $(j ppo.clients_by_strand.rehabilitate_and_resettle) $(j ppo.clients_by_strand.no_strand)"
assert_eq "json: removed for successful engagement, quarter and year" "1 1" \
	"$(j ppo.removed_successful_engagement.quarter) $(j ppo.removed_successful_engagement.year_to_date)"
assert_eq "json: 1 repeat victim" 1 "$(j repeat_victims)"
assert_eq "json: Case Reviews" "2 1 1 3" \
	"$(j case_reviews.applications) $(j case_reviews.threshold_met) $(j case_reviews.reviews_held) $(j case_reviews.recommendations)"
assert_eq "json: 1 meeting" 1 "$(j meetings)"
assert_eq "json: actions" "2 1 1 0 3 1 red" \
	"$(j actions.agreed) $(j actions.in_progress) $(j actions.done) $(j actions.cancelled) $(j actions.open) $(j actions.overdue) $(j actions.rag)"
assert_eq "json: improvement year to date" "5 3 2 0 60.0 75 false red" \
	"$(j improvement_year_to_date.cases) $(j improvement_year_to_date.achieved) $(j improvement_year_to_date.failed) $(j improvement_year_to_date.pending) $(j improvement_year_to_date.pct) $(j improvement_year_to_date.target_pct) $(j improvement_year_to_date.met_target) $(j improvement_year_to_date.rag)"

# --- CSV: every row equals the JSON -------------------------------------------------------------

cli report quarterly --fy $FY --quarter $Q --format csv
assert_rc "report quarterly --format csv: exit 0" 0
cp "$OUT" "$WORK/q.csv"
assert_eq "csv: the header" "section,metric,value" "$(head -n 1 "$WORK/q.csv")"
assert_eq "csv: every figure agrees with the JSON" "ok" \
	"$("$PY" "$REPO/tests/integration/html_check.py" csv-json "$WORK/q.csv" "$WORK/q.json" 2>&1)"
assert_contains "csv: the improvement percentage" "improvement_year_to_date,pct,60.0" "$(cat "$WORK/q.csv")"

# --- text: the printed report -------------------------------------------------------------------

cli report quarterly --fy $FY --quarter $Q
assert_rc "report quarterly (text): exit 0" 0
text=$(cat "$OUT")
assert_contains "text: the title" "Quarterly report: FY 2018-19 Q2 (2018-07-01 to 2018-09-30)" "$text"
assert_contains "text: new cases this quarter" \
	"4 new cases referred to the group this quarter: 2 individuals, 1 area, 1 family" "$text"
assert_contains "text: year to date" "5 year to date: 3 individuals, 1 area, 1 family" "$text"
assert_contains "text: opened before the year" "2 cases opened before 2018-04-01 still being worked" "$text"
assert_contains "text: PPO strands" \
	"By strand: deter 1, catch and convict 1, rehabilitate and resettle 0, no strand 0" "$text"
assert_contains "text: PPO removals" "Removed for successful engagement: 1 this quarter, 1 year to date" "$text"
assert_contains "text: repeat victims" "Repeat victims: 1 with an incident this quarter" "$text"
assert_contains "text: Case Reviews" \
	"Applications 2, threshold met 1, reviews held 1, recommendations 3" "$text"
assert_contains "text: meetings" "Meetings held: 1" "$text"
assert_contains "text: actions with their RAG" "Actions (RAG: red)" "$text"
assert_contains "text: actions by status" "Agreed 2, in progress 1, done 1, cancelled 0; 3 open, 1 overdue" "$text"
assert_contains "text: improvement with its RAG" "Improvement within 12 months, year to date (RAG: red)" "$text"
assert_contains "text: improvement figure" \
	"3 of 5 decided cases improved (60.0 %), target 75 % — not met; 0 pending" "$text"

# --- HTML: self-contained, the same figures, the chart ------------------------------------------

cli report quarterly --fy $FY --quarter $Q --format html
assert_rc "report quarterly --format html: exit 0" 0
HTML=$WORK/quarterly.html
cp "$OUT" "$HTML"
assert_eq "html: a document" "<!DOCTYPE html>" "$(head -n 1 "$HTML")"
assert_eq "html: one document" "1 1" "$(grep -c '<html' "$HTML") $(grep -c '</html>' "$HTML")"
assert_eq "html: no src= or href= attributes" 0 "$(grep -Eic '(src|href)[[:space:]]*=' "$HTML")"
assert_eq "html: no http(s) reference at all" 0 "$(grep -Eic 'https?:' "$HTML")"
assert_eq "html: no <link>, <script>, <iframe>, <object>, <embed> or <img>" 0 \
	"$(grep -Eic '<(link|script|iframe|object|embed|img)[[:space:]>]' "$HTML")"
assert_eq "html: no @import, url() or web fonts" 0 "$(grep -Eic '@import|url[[:space:]]*\(|@font-face' "$HTML")"
assert_eq "html: every figure agrees with the CSV, the chart matches the trend" "ok" \
	"$("$PY" "$REPO/tests/integration/html_check.py" html "$HTML" "$WORK/q.csv" \
		"2018-19 Q1=100.0,2018-19 Q2=50.0,2018-19 Q3=100.0,2018-19 Q4=n/a" 75 2>&1)"
assert_contains "html: the improvement figure is visible" "60.0 %" "$(cat "$HTML")"
assert_contains "html: the RAG rating is visible" 'class="rag rag-red"' "$(cat "$HTML")"

if [[ -x $CHROMIUM ]]; then
	ok "chromium is installed ($CHROMIUM)"
	# chrome ARGS...: headless Chromium with a fresh profile, no network
	# services, console messages on stderr.
	chrome() {
		local profile
		profile=$(mktemp -d "$WORK/chromium-profile.XXXXXX")
		timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
			--disable-background-networking --disable-component-update --disable-sync \
			--user-data-dir="$profile" --enable-logging=stderr --v=0 "$@" </dev/null
	}
	chrome --dump-dom "file://$HTML" >"$WORK/dom.html" 2>"$WORK/dom.err"
	assert_eq "chromium --dump-dom: exit 0" 0 "$?"
	dom=$(cat "$WORK/dom.html")
	assert_contains "DOM: the chart is an inline svg" '<svg id="improvement-chart"' "$dom"
	assert_contains "DOM: the target line" 'id="target-line"' "$dom"
	assert_contains "DOM: the quarter without decided cases" '>n/a</text>' "$dom"
	assert_eq "DOM: every figure agrees with the CSV, the chart matches the trend" "ok" \
		"$("$PY" "$REPO/tests/integration/html_check.py" html "$WORK/dom.html" "$WORK/q.csv" \
			"2018-19 Q1=100.0,2018-19 Q2=50.0,2018-19 Q3=100.0,2018-19 Q4=n/a" 75 2>&1)"
	PNG=$WORK/quarterly.png
	chrome --screenshot="$PNG" --window-size=1200,1600 "file://$HTML" >"$WORK/shot.out" 2>"$WORK/shot.err"
	assert_eq "chromium --screenshot: exit 0" 0 "$?"
	assert_eq "screenshot: a 1200x1600 PNG" "1200x1600" \
		"$("$PY" "$REPO/tests/integration/html_check.py" png-size "$PNG" 2>&1)"
	size=$(stat -c %s "$PNG" 2>/dev/null || echo 0)
	check "screenshot: not trivial ($size bytes > 30000)" test "$size" -gt 30000
	errors=$(grep -hE 'Uncaught|ERROR:CONSOLE|Failed to load|net::ERR_' "$WORK/dom.err" "$WORK/shot.err")
	assert_eq "chromium: no console errors and nothing fetched" "" "$errors"
else
	not_ok "chromium is installed ($CHROMIUM)" \
		"headless Chromium renders the HTML report: run deploy/install-deps as root (Debian package chromium)"
fi

# --- the improvement report as HTML -------------------------------------------------------------

cli report improvement --fy $FY --format html
assert_rc "report improvement --format html: exit 0" 0
IMP=$WORK/improvement.html
cp "$OUT" "$IMP"
assert_eq "improvement html: no src=, href=, http or <link>/<script>" 0 \
	"$(grep -Eic '(src|href)[[:space:]]*=|https?:|<(link|script)[[:space:]>]' "$IMP")"
assert_contains "improvement html: the chart" '<svg id="improvement-chart"' "$(cat "$IMP")"
assert_contains "improvement html: by subject type" "Subject type" "$(cat "$IMP")"
if [[ -x $CHROMIUM ]]; then
	chrome --dump-dom "file://$IMP" >"$WORK/imp-dom.html" 2>"$WORK/imp-dom.err"
	assert_eq "chromium renders the improvement page: exit 0" 0 "$?"
	assert_contains "...with its chart in the DOM" '<svg id="improvement-chart"' "$(cat "$WORK/imp-dom.html")"
	assert_eq "...and no console errors" "" \
		"$(grep -hE 'Uncaught|ERROR:CONSOLE|Failed to load|net::ERR_' "$WORK/imp-dom.err")"
fi

# --- usage errors -------------------------------------------------------------------------------

cli report quarterly --quarter 2
assert_rc "--quarter without --fy: exit 64" 64
cli report quarterly --fy 1999
assert_rc "--fy 1999 (before the server's range): exit 64" 64
cli report quarterly --fy 2018 --quarter 5
assert_rc "--quarter 5: exit 64" 64
cli report quarterly --format pdf
assert_rc "--format pdf: exit 64" 64
cli report improvement --format pdf
assert_rc "report improvement --format pdf: exit 64" 64
assert_contains "...naming every format, html included" "text, csv, json or html" "$(cat "$ERR")"

finish
