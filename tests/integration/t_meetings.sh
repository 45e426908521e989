#!/usr/bin/env bash
# t_meetings: the monthly task-group cycle through the API -- meetings with
# a generated agenda, attendance, chair's items and order, reviews one by
# one and as an all-or-nothing batch, PPO removal by consensus, frozen
# minutes -- and the 12-month improvement report against hand-computed
# fixtures (day 365 and 366, leap years, financial-year quarters).
source "$(dirname "$0")/lib.sh"

post_json() { # WHO PATH JSON [CURL_ARGS...]
	local who=$1 path=$2 json=$3
	shift 3
	req "$who" POST "$path" -H 'Content-Type: application/json' \
		-H "Idempotency-Key: $(new_key mtg)" --data-binary "$json" "$@"
}
# new_case NAME KIND [REFERRER] -> CASE: a case accepted by the council.
new_case() {
	write_referral "$WORK/$1.json" "$1 $RUN_TAG" "$2"
	post_referral "${3:-police-referrer}" "$(new_key ref)" "$WORK/$1.json"
	post_json council-caseworker "/v1/referrals/$(body_field id)/accept" '{"lead_agency":"HMDC"}'
	CASE=$(body_field case_reference)
}
# backdate CASE DATE: the case was referred on DATE (as an import would).
backdate() {
	sql "UPDATE cdrp.cases SET referral_date = '$2', opened_at = '$2' WHERE reference = '$1'" >/dev/null
}
meeting() { # GROUP DATE -> MEETING
	post_json council-chair /v1/meetings "{\"group\":\"$1\",\"held_on\":\"$2\"}"
	MEETING=$(body_field id)
}
review() { # MEETING CASE ASSESSMENT DECISION [EXTRA_JSON]
	post_json council-chair "/v1/meetings/$1/reviews" \
		"{\"case\":\"$2\",\"assessment\":\"$3\",\"decision\":\"$4\"${5:-}}"
}

# --- a meeting and its agenda ------------------------------------------------------------

write_referral "$WORK/waiting.json" "Waiting $RUN_TAG"
post_referral police-referrer "$(new_key ref)" "$WORK/waiting.json"
waiting_ref=$(body_field reference)
new_case "Agenda Std" asb
std=$CASE
today=$(date -u +%F)
post_json council-caseworker "/v1/cases/$std/actions" \
	"{\"type\":\"warning_letter\",\"stage\":1,\"owner_agency\":\"HMDC\",\"due_on\":\"$today\"}"
action_id=$(body_field id)

post_json county-analyst /v1/meetings "{\"group\":\"asb_task_group\",\"held_on\":\"$today\"}"
assert_problem "an analyst cannot create a meeting: 403 naming meeting.manage" 403 forbidden
meeting asb_task_group "$(date -u -d '+2 days' +%F)"
assert_status "the chair creates the month's ASB Task Group: 201" 201
mid=$MEETING
assert_eq "the chair is the creator" "Priya Marsh" "$(jget "$BODY" chair.cn)"
agenda=$(jget "$BODY" agenda)
assert_contains "the agenda lists the referral awaiting triage" "Referral $waiting_ref awaiting triage" "$agenda"
assert_contains "...the standard-risk case (due at every meeting)" "Review $std (risk standard)" "$agenda"
assert_contains "...and the action overdue by the meeting date" "Overdue action $action_id" "$agenda"
assert_not_contains "agenda titles never name people" "Agenda Std $RUN_TAG" "$agenda"
first=$(jget "$BODY" agenda.0.id)
post_json council-chair "/v1/meetings/$mid/items" '{"title":"Any other business: summer events"}'
assert_status "the chair adds an item: 201" 201
aob=$("$PY" -c 'import json,sys; print([i["id"] for i in json.load(open(sys.argv[1]))["agenda"] if i["kind"]=="other"][0])' "$BODY")
req council-chair PUT "/v1/meetings/$mid/items" -H 'Content-Type: application/json' \
	--data-binary "{\"order\":[$aob]}"
assert_status "...and moves it first: 200" 200
assert_eq "it is first now" "$aob" "$(jget "$BODY" agenda.0.id)"
assert_eq "...and the former first second" "$first" "$(jget "$BODY" agenda.1.id)"
post_json council-chair "/v1/meetings/$mid/attendance" '{"agencies":["HMDC","HMPOL","HMHA"]}'
assert_eq "attendance recorded" '["HMDC", "HMHA", "HMPOL"]' "$(jget "$BODY" attendance)"
post_json council-chair "/v1/meetings/$mid/attendance" '{"agencies":["HMDC","HMXX"]}'
assert_problem "an unknown agency attending: 422" 422 rule_violation

# --- cadence: a high-risk case is due 14 days after its last review -----------------------
new_case "Cadence High" asb
high=$CASE
high_answers='{"happened_before":false,"feel_targeted":false,"hate_motivated":true,"disabled_or_ill":true,"affecting_health":true,"afraid_at_home":true,"children_affected":false,"violence_or_threats":true,"isolated":false,"considered_moving":false}'
meeting asb_task_group "$today"
review "$MEETING" "$high" worse continue ",\"risk\":{\"answers\":$high_answers}"
assert_status "a review with a new risk assessment: 201" 201
assert_eq "db: the assessment is high" high \
	"$(sql "SELECT band FROM cdrp.risk_assessments r JOIN cdrp.cases c ON c.id = r.case_id WHERE c.reference = '$high' ORDER BY r.id DESC LIMIT 1")"
assert_eq "the next review defaults to 14 days (high)" "$(date -u -d '+14 days' +%F)" "$(body_field next_review_on)"
review "$MEETING" "$std" improved continue ',"risk":{"answers":{"happened_before":true}}'
assert_problem "a review with an incomplete questionnaire: 400, nothing recorded" 400 "$(jget "$BODY" code)"
assert_match "...naming the field under risk" '^risk\.' "$(body_field field)"
meeting asb_task_group "$(date -u -d '+10 days' +%F)"
assert_not_contains "10 days later the high-risk case is not due yet" "Review $high" "$(jget "$BODY" agenda)"
assert_contains "...the standard-risk case is (every meeting)" "Review $std (risk standard)" "$(jget "$BODY" agenda)"
meeting asb_task_group "$(date -u -d '+15 days' +%F)"
assert_contains "15 days later it is" "Review $high (risk high)" "$(jget "$BODY" agenda)"
assert_eq "...reviewed before the standard-risk cases" "Review $high (risk high)" \
	"$("$PY" -c 'import json,sys; print([i["title"] for i in json.load(open(sys.argv[1]))["agenda"] if i["kind"]=="review_due"][0])' "$BODY")"
req council-caseworker GET "/v1/cases/$std"
assert_eq "a standard-risk case's next review is the next scheduled meeting" "$today" \
	"$(body_field next_review_on)"
req council-caseworker GET "/v1/cases/$high"
assert_eq "a high-risk case's next review is the one its review set" \
	"$(date -u -d '+14 days' +%F)" "$(body_field next_review_on)"

# --- reviews, batch, freezing ----------------------------------------------------------------

review "$mid" "$std" no_change continue ',"notes":"Letter sent; no change yet."'
assert_status "a review: 201" 201
assert_match "the next review date defaults from the cadence" '^[0-9]{4}-' "$(body_field next_review_on)"
review "$mid" "$std" improved continue
assert_problem "reviewing the same case twice at one meeting: 409" 409 invalid_transition
new_case "Batch One" asb
b1=$CASE
new_case "Batch Two" asb
b2=$CASE
before=$(sql "SELECT count(*) FROM cdrp.case_decisions WHERE meeting_id = $mid")
post_json council-chair "/v1/meetings/$mid/decisions" \
	"{\"reviews\":[{\"case\":\"$b1\",\"assessment\":\"improved\",\"decision\":\"continue\"},
	  {\"case\":\"$b2\",\"assessment\":\"worse\",\"decision\":\"close\"}]}"
assert_problem "a batch with a close without outcome: 422" 422 rule_violation
assert_eq "...naming the item and field" "reviews[1].outcome" "$(body_field field)"
assert_eq "...and nothing of the batch was stored" "$before" \
	"$(sql "SELECT count(*) FROM cdrp.case_decisions WHERE meeting_id = $mid")"
post_json council-chair "/v1/meetings/$mid/decisions" \
	"{\"reviews\":[{\"case\":\"$b1\",\"assessment\":\"improved\",\"decision\":\"continue\",
	  \"actions\":[{\"type\":\"cpn\",\"stage\":3,\"owner\":\"HMDC\"}]}]}"
assert_problem "a batch whose action breaks the CPN rule: 422" 422 rule_violation
assert_match "...naming the action" '^reviews\[0\]\.actions\[0\]\.' "$(body_field field)"
key=$(new_key batch)
batch="{\"reviews\":[{\"case\":\"$b1\",\"assessment\":\"improved\",\"decision\":\"continue\",
  \"actions\":[{\"type\":\"mediation_referral\",\"stage\":1,\"owner\":\"HMHA\"}]},
  {\"case\":\"$b2\",\"assessment\":\"improved\",\"decision\":\"close\",\"outcome\":\"resolved\"}]}"
req council-chair POST "/v1/meetings/$mid/decisions" -H 'Content-Type: application/json' \
	-H "Idempotency-Key: $key" --data-binary "$batch"
assert_status "the whole batch: 200" 200
assert_eq "two reviews" 2 "$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["reviews"]))' "$BODY")"
assert_eq "the agreed action is recorded with the review" mediation_referral "$(jget "$BODY" reviews.0.actions.0.type)"
assert_eq "db: the close decision closed the case as resolved" "closed|resolved" \
	"$(sql "SELECT status || '|' || outcome FROM cdrp.cases WHERE reference = '$b2'")"
req council-chair POST "/v1/meetings/$mid/decisions" -H 'Content-Type: application/json' \
	-H "Idempotency-Key: $key" --data-binary "$batch"
assert_eq "the same batch again is a replay" true "$(header Idempotent-Replay)"
assert_eq "db: stored once" 3 "$(sql "SELECT count(*) FROM cdrp.case_decisions WHERE meeting_id = $mid")"

post_json council-chair "/v1/meetings/$mid/close" '{}'
assert_eq "closed" closed "$(body_field status)"
new_case "Late" asb
review "$mid" "$CASE" improved continue
assert_problem "a review after closing: 409 (minutes frozen)" 409 invalid_transition
post_json council-chair "/v1/meetings/$mid/items" '{"title":"late item"}'
assert_problem "an item after closing: 409" 409 invalid_transition
req council-caseworker GET "/v1/meetings/$mid/minutes"
assert_status "minutes: 200" 200
assert_eq "the minutes list the attendance" HMDC "$(jget "$BODY" attendance.0.code)"
assert_eq "...and the three reviews" 3 "$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["reviews"]))' "$BODY")"
req fire-referrer GET "/v1/meetings/$mid/minutes"
assert_status "another agency reads the minutes: 200" 200
assert_eq "...without the reviews of cases it may not read" 0 \
	"$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["reviews"]))' "$BODY")"

# --- PPO removal by consensus ----------------------------------------------------------------

new_case "PPO Removal" ppo police-ppo
ppo=$CASE
meeting ppo_panel "$today"
pid=$MEETING
review "$pid" "$ppo" improved ppo_remove ',"ppo_removal":{"reason":"successful_engagement","exit_strategy":"Handover to probation","consensus":["HMPOL"]}'
assert_problem "removal before attendance is recorded: 422" 422 rule_violation
post_json council-chair "/v1/meetings/$pid/attendance" '{"agencies":["HMPOL","HMPRB","HMDC"]}'
review "$pid" "$ppo" improved ppo_remove ',"ppo_removal":{"reason":"successful_engagement","exit_strategy":"Handover to probation","consensus":["HMPOL","HMDC"]}'
assert_problem "removal without every attending agency: 422" 422 rule_violation
assert_contains "...naming who is missing" HMPRB "$(body_field detail)"
assert_eq "...in the consensus field" ppo_removal.consensus "$(body_field field)"
review "$pid" "$ppo" improved ppo_remove ',"ppo_removal":{"reason":"successful_engagement","exit_strategy":"Handover to probation","consensus":["HMPOL","HMDC","HMPRB"]}'
assert_status "removal with the consensus of all three: 201" 201
assert_eq "db: removed from the scheme" "closed|true" \
	"$(sql "SELECT c.status || '|' || h.removed FROM cdrp.cases c JOIN cdrp.ppo_strand_history h ON h.case_id = c.id WHERE c.reference = '$ppo' ORDER BY h.id DESC LIMIT 1")"
review "$pid" "$std" improved continue
assert_problem "an ASB case at the PPO panel: 422" 422 rule_violation

# --- the 12-month improvement report ---------------------------------------------------------
# FY 2024-25 cohort, all decided by now (hand-computed):
#   A individual, referred 2024-04-01, improved 2025-04-01 (day 365)  achieved, Q1
#   B individual, referred 2024-04-02, improved 2025-04-03 (day 366)  failed,   Q1
#   C family,     referred 2024-05-01, closed resolved 2024-11-01     achieved, Q1
#   D area,       referred 2024-10-01, only "no change"               failed,   Q3
# 2 achieved of 4 decided: 50.0 %, under the 75 % target.
# Leap window Feb 2024: L1 referred 29 Feb, improved 2025-02-28 (day 365)
# achieved; L2 referred 28 Feb, improved 2025-02-28 (day 366) failed.
# Every other test refers its cases today, so only these fall in the
# 2024 windows.
new_case "Imp A" asb; A=$CASE
new_case "Imp B" asb; B=$CASE
write_referral "$WORK/c.json" "Imp C $RUN_TAG"
sed -i 's/"type":"individual"/"type":"family"/' "$WORK/c.json"
post_referral police-referrer "$(new_key ref)" "$WORK/c.json"
post_json council-caseworker "/v1/referrals/$(body_field id)/accept" '{"lead_agency":"HMDC"}'
C=$(body_field case_reference)
write_referral "$WORK/d.json" "Imp D $RUN_TAG"
sed -i 's/"type":"individual"/"type":"area"/' "$WORK/d.json"
post_referral police-referrer "$(new_key ref)" "$WORK/d.json"
post_json council-caseworker "/v1/referrals/$(body_field id)/accept" '{"lead_agency":"HMDC"}'
D=$(body_field case_reference)
new_case "Imp L1" asb; L1=$CASE
new_case "Imp L2" asb; L2=$CASE
for x in "$A 2024-04-01" "$B 2024-04-02" "$C 2024-05-01" "$D 2024-10-01" "$L1 2024-02-29" "$L2 2024-02-28"; do
	backdate $x
done
meeting asb_task_group 2024-11-01; m1=$MEETING
review "$m1" "$C" improved close ',"outcome":"resolved"'
review "$m1" "$D" no_change continue
meeting asb_task_group 2025-02-28; m2=$MEETING
review "$m2" "$L1" improved continue
review "$m2" "$L2" improved continue
meeting asb_task_group 2025-04-01; m3=$MEETING
review "$m3" "$A" improved continue
review "$m3" "$D" no_change continue
meeting asb_task_group 2025-04-03; m4=$MEETING
review "$m4" "$B" improved continue
assert_status "setup: the reviews of the cohort" 201
assert_eq "a case closed at a past meeting is closed on the meeting's date" 2024-11-01 \
	"$(sql "SELECT (closed_at AT TIME ZONE 'UTC')::date FROM cdrp.cases WHERE reference = '$C'")"

req county-analyst GET "/v1/reports/improvement?fy=2024"
assert_status "the analyst reads the improvement report: 200" 200
assert_eq "window: FY 2024-25" "2024-04-01|2025-03-31|FY 2024-25" \
	"$(jget "$BODY" window.from)|$(jget "$BODY" window.to)|$(jget "$BODY" window.label)"
assert_eq "overall: 4 cases, 2 achieved, 2 failed, 0 pending" "4 2 2 0 4" \
	"$(jget "$BODY" overall.cases) $(jget "$BODY" overall.achieved) $(jget "$BODY" overall.failed) $(jget "$BODY" overall.pending) $(jget "$BODY" overall.decided)"
assert_eq "overall: 50.0 %, target 75 not met" "50.0 75 false" \
	"$(jget "$BODY" overall.pct) $(jget "$BODY" target_pct) $(jget "$BODY" overall.met_target)"
assert_eq "by subject type" "area:0/1 family:1/1 individual:1/2" \
	"$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join("%s:%d/%d" % (g["subject_type"], g["achieved"], g["decided"]) for g in d["by_subject_type"]))' "$BODY")"
assert_eq "by lead agency" "HMDC:2/4" \
	"$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join("%s:%d/%d" % (g["lead_agency"], g["achieved"], g["decided"]) for g in d["by_lead_agency"]))' "$BODY")"
assert_eq "trend by financial quarter" "2024-25 Q1:2/3 2024-25 Q3:0/1" \
	"$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join("%s:%d/%d" % (g["quarter"], g["achieved"], g["decided"]) for g in d["trend"]))' "$BODY")"
req county-analyst GET "/v1/reports/improvement?fy=2024&quarter=3"
assert_eq "Q3 only: D, failed" "1 0 1" \
	"$(jget "$BODY" overall.cases) $(jget "$BODY" overall.achieved) $(jget "$BODY" overall.failed)"
req county-analyst GET "/v1/reports/improvement?from=2024-02-01&to=2024-02-29"
assert_eq "leap window: L1 achieved on day 365, L2 failed on day 366" "2 1 1" \
	"$(jget "$BODY" overall.cases) $(jget "$BODY" overall.achieved) $(jget "$BODY" overall.failed)"
req council-caseworker GET "/v1/reports/improvement?fy=2024&list=failed"
assert_eq "the cases behind 'failed', for a user with access" "$B $D" \
	"$("$PY" -c 'import json,sys; print(" ".join(c["reference"] for c in json.load(open(sys.argv[1]))["cases"]))' "$BODY")"
assert_eq "...with the date achieved where there is one" 2025-04-01 \
	"$(req council-caseworker GET "/v1/reports/improvement?fy=2024&list=achieved"; jget "$BODY" cases.0.achieved_on)"
req county-analyst GET "/v1/reports/improvement?fy=2024&list=failed"
assert_problem "the analyst cannot list the cases: 403" 403 forbidden
new_case "Imp Pending" asb
req council-caseworker GET "/v1/reports/improvement?list=pending"
assert_contains "a case referred this year is pending" "\"$CASE\"" "$(cat "$BODY")"
req county-analyst GET "/v1/reports/improvement?fy=2024&from=2024-01-01&to=2024-02-01"
assert_problem "fy with from/to: 400" 400 invalid_parameter
req county-analyst GET "/v1/reports/improvement?from=2024-02-30&to=2024-03-01"
assert_problem "an impossible date: 400" 400 invalid_parameter
req county-analyst GET "/v1/reports/improvement?quarter=5&fy=2024"
assert_problem "quarter 5: 400" 400 invalid_parameter

# --- historical import ----------------------------------------------------------------------
# FY 2022-23, imported: H1 improved on day 100 (achieved), H2 closed resolved
# on day 400 (failed), H3 a PPO case with "worse" only (failed): 1 of 3.
import='{"cases":[
 {"case_kind":"asb","subject_type":"individual","subject_name":"Hist One","lead_agency":"HMDC",
  "referral_date":"2022-05-01","reviews":[{"held_on":"2022-08-09","assessment":"improved","decision":"continue"}]},
 {"case_kind":"asb","subject_type":"family","subject_name":"Hist Two","lead_agency":"HMHA",
  "referral_date":"2022-06-01","closed_on":"2023-07-06","outcome":"resolved",
  "reviews":[{"held_on":"2023-07-06","assessment":"improved","decision":"close","outcome":"resolved"}]},
 {"case_kind":"ppo","subject_type":"individual","subject_name":"Hist Three","lead_agency":"HMPOL",
  "referral_date":"2022-09-01","strand":"deter",
  "reviews":[{"held_on":"2022-10-01","assessment":"worse","decision":"continue"}]}]}'
bad=$(printf '%s' "$import" | sed 's/"lead_agency":"HMHA"/"lead_agency":"HMZZ"/')
before=$(sql "SELECT count(*) FROM cdrp.cases")
post_json council-caseworker /v1/admin/import "$import"
assert_problem "only an administrator imports: 403" 403 forbidden
post_json council-admin /v1/admin/import "$bad"
assert_problem "an import with an unknown agency: 422" 422 rule_violation
assert_eq "...naming the case and field" "cases[1].lead_agency" "$(body_field field)"
assert_eq "...and nothing was imported" "$before" "$(sql "SELECT count(*) FROM cdrp.cases")"
post_json council-admin /v1/admin/import "$import"
assert_status "the import: 201" 201
assert_eq "three cases, three reviews" "3 3" "$(body_field cases) $(body_field reviews)"
req county-analyst GET "/v1/reports/improvement?fy=2022"
assert_eq "the imported history in the report: 1 achieved, 2 failed" "3 1 2 33.3" \
	"$(jget "$BODY" overall.cases) $(jget "$BODY" overall.achieved) $(jget "$BODY" overall.failed) $(jget "$BODY" overall.pct)"
assert_eq "db: past reviews sit in closed meetings of their dates" "closed" \
	"$(sql "SELECT string_agg(DISTINCT status, ',') FROM cdrp.meetings WHERE held_on IN ('2022-08-09', '2023-07-06', '2022-10-01')")"
# The same through the CLI: checked locally, then all or nothing.
admin_cli() {
	CLI_RC=0
	CLI_OUT=$(timeout 60 "$CDRP_BIN/cdrp" --cert "$CDRP_PKI/council-admin.crt" \
		--key "$CDRP_PKI/council-admin.key" "$@" 2>&1) || CLI_RC=$?
}
printf '{"cases":[{"case_kind":"asb","subject_type":"area","subject_name":"Hist CLI","lead_agency":"HMDC","referral_date":"2021-06-01"}]}' >"$WORK/import.json"
printf '{"cases":[{"case_kind":"asb","subject_type":"area","subject_name":"Hist CLI","lead_agency":"HMDC","referral_date":"2021-06-01","reviews":[{"held_on":"2021-07-01","assessment":"better","decision":"continue"}]}]}' >"$WORK/bad-import.json"
admin_cli admin import "$WORK/bad-import.json"
assert_eq "cdrp admin import of an invalid file: exit 65" 65 "$CLI_RC"
assert_contains "...naming the item and field" "cases[0].reviews[0].assessment" "$CLI_OUT"
admin_cli admin import "$WORK/import.json"
assert_eq "cdrp admin import: exit 0" 0 "$CLI_RC"
assert_contains "...reports what it imported" "Imported 1 cases with 0 reviews" "$CLI_OUT"
admin_cli admin import "$WORK/import.json"
assert_eq "the same file again is a retry: exit 0" 0 "$CLI_RC"
assert_eq "db: imported once" 1 "$(sql "SELECT count(*) FROM cdrp.cases WHERE subject_name = 'Hist CLI'")"

# --- quarterly statistics (hand-computed from the same fixtures) -------------------------
req county-analyst GET "/v1/reports/quarterly?fy=2024&quarter=1"
assert_status "quarterly statistics, FY 2024-25 Q1: 200" 200
assert_eq "new cases this quarter: 3 (2 individuals, 0 areas, 1 family)" "3 2 0 1" \
	"$(jget "$BODY" new_cases.quarter.total) $(jget "$BODY" new_cases.quarter.individuals) $(jget "$BODY" new_cases.quarter.areas) $(jget "$BODY" new_cases.quarter.families)"
assert_eq "cases opened before the year still open: the two February ones and the two imported open ones" 4 \
	"$(jget "$BODY" open_from_before_year)"
req county-analyst GET "/v1/reports/quarterly?fy=2024&quarter=3"
assert_eq "Q3: 1 new case (an area), 4 year to date" "1 1 4" \
	"$(jget "$BODY" new_cases.quarter.total) $(jget "$BODY" new_cases.quarter.areas) $(jget "$BODY" new_cases.year_to_date.total)"
assert_eq "Q3: one meeting held" 1 "$(jget "$BODY" meetings)"
assert_eq "improvement year to date: 50.0 %, red against 75" "50.0 red" \
	"$(jget "$BODY" improvement_year_to_date.pct) $(jget "$BODY" improvement_year_to_date.rag)"
req county-analyst GET "/v1/reports/quarterly?from=2024-01-01&to=2024-02-01"
assert_problem "the quarterly report takes fy and quarter only: 400" 400 invalid_parameter

# A meeting created by a caseworker naming its chair (was a 500: the role
# check compared 'chair' with the whole roles array).
post_json council-caseworker /v1/meetings \
	'{"group":"asb_task_group","held_on":"2025-11-20","chair":{"agency":"HMDC","cn":"Priya Marsh"}}'
assert_status "a caseworker creates a meeting naming its chair: 201" 201
assert_eq "the chair named is the chair" "Priya Marsh" "$(jget "$BODY" chair.cn)"
post_json council-caseworker /v1/meetings \
	'{"group":"asb_task_group","held_on":"2025-11-21","chair":{"agency":"HMDC","cn":"Sam Okafor"}}'
assert_problem "naming a user without the chair role: 422" 422 rule_violation chair

finish
