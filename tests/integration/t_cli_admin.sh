#!/usr/bin/env bash
# t_cli_admin: the information-sharing agreement (isa) and administration
# (admin, case legal-hold) commands of the cdrp client against the
# devstack's cdrpd: help for every command; administrators only (others exit
# 77); local validation refusing with exit 65 before any network use; an ISA
# from draft to active as each party's administrator signs, then suspended,
# resumed and terminated; a user registered, given other roles and disabled
# (their certificate then refused with 77); an agency added and disabled;
# retention runs; a legal hold; a subject access export.
# shellcheck source=lib.sh source-path=SCRIPTDIR disable=SC2317  # helpers run via check()
. "$(dirname "$0")/lib.sh"


# adm ARGS...: as the council administrator (Robin Ashby, HMDC, admin).
adm() {
	cli_as council-admin "$@"
}


# isa_json FILE REFERENCE [PURPOSE]: an agreement of HMDC and HMPOL into FILE.
isa_json() {
	"$PY" - "$2" "${3:-community_safety}" >"$1" <<'EOF'
import json, sys
ref, purpose = sys.argv[1], sys.argv[2]
print(json.dumps({
    "reference": ref, "title": "Harrowmere test sharing " + ref, "purpose": purpose,
    "description": "Sharing for the integration tests.",
    "data_categories": ["asb_casework", "victim_details"],
    "lawful_basis": "Crime and Disorder Act 1998, section 115",
    "retention_months": 24, "starts_on": "2025-01-01", "review_on": "2025-06-01",
    "parties": ["HMDC", "HMPOL"],
}))
EOF
}

if [[ ! -x $CLI ]]; then
	not_ok "the client $CLI exists"
	finish
fi

tag=$(date +%s%N | tail -c 9)
isa_ref="ISA-T-$tag"
agency_code="HMT$tag"
stranger="Riley Stranger" # the unknown-user certificate: O=HMPOL, not registered

# --- help ---------------------------------------------------------------------------

cli_as council-admin --help
assert_rc "cdrp --help: exit 0" 0
for syn in "isa create FILE|-" "isa show ID|REF" "isa list" "isa sign ID|REF" \
	"isa suspend ID|REF" "isa resume ID|REF" "isa terminate ID|REF" "admin agency add CODE" \
	"admin agency list" "admin agency disable CODE" "admin user add" "admin user list" \
	"admin user disable ID" "admin user roles ID" "admin retention run" \
	"admin sar PERSON_ID" "case legal-hold ID|REF"; do
	assert_contains "cdrp --help lists '$syn'" "  $syn " "$(out)"
done
for cmd in "isa create" "isa show" "isa list" "isa sign" "isa suspend" "isa resume" \
	"isa terminate" "admin agency add" "admin agency list" "admin agency disable" \
	"admin user add" "admin user list" "admin user disable" "admin user roles" \
	"admin retention run" "admin sar" "case legal-hold"; do
	# shellcheck disable=SC2086  # the command's words
	cli_as council-admin $cmd --help
	assert_rc "cdrp $cmd --help: exit 0" 0
	assert_contains "cdrp $cmd --help: its usage" "usage: cdrp $cmd" "$(out)"
done
cli_as council-admin admin agency --help
assert_rc "cdrp admin agency --help: exit 0" 0
assert_contains "cdrp admin agency --help: lists disable" "admin agency disable CODE" "$(out)"
cli_as council-admin admin agency
assert_rc "cdrp admin agency without a command: exit 64" 64
assert_contains "... names the commands" "add, list or disable" "$(err)"
cli_as council-admin admin user frob
assert_rc "cdrp admin user frob: exit 64" 64

# --- who may: administrators only ----------------------------------------------------------

adm admin agency list
assert_rc "admin agency list as council-admin: exit 0" 0
assert_match "admin agency list: HMPOL, Harrowmere Constabulary" \
	'HMPOL +Harrowmere Constabulary +police +yes +yes' "$(out)"
adm --json admin agency list
assert_eq "admin agency list --json: HMPOL is at home here" true "$("$PY" -c '
import json, sys
items = json.load(open(sys.argv[1]))["items"]
print(json.dumps([a["home"] and a["active"] for a in items if a["code"] == "HMPOL"] == [True]))' "$OUT" 2>/dev/null)"

for args in "admin agency list" "admin user list" "admin retention run --dry-run" \
	"admin sar 1" "admin user disable 1 --reason because" "admin agency add HMZZ --name Z --kind other"; do
	# shellcheck disable=SC2086
	cli_as county-analyst $args
	assert_rc "the analyst: $args: exit 77" 77
done
cli_as council-caseworker admin user add --agency HMDC --cn "Sneaky Admin" --role admin
assert_rc "a caseworker cannot make users: exit 77" 77
assert_eq "db: no such user was made" 0 \
	"$(sql "SELECT count(*) FROM cdrp.users WHERE cn = 'Sneaky Admin'")"

adm --why "short" admin agency list
assert_rc "--why shorter than 10 characters: exit 64" 64

# --- local validation: exit 65 without contacting the server ----------------------------

isa_json "$WORK/bad-purpose.json" "ISA-BAD-$tag" world_domination
offline council-admin isa create "$WORK/bad-purpose.json"
assert_rc "isa create, unknown purpose: exit 65 (offline)" 65
assert_contains "... names the field" purpose "$(err)"
isa_json "$WORK/one-party.json" "ISA-BAD-$tag"
"$PY" - "$WORK/one-party.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); d["parties"] = ["HMDC"]
json.dump(d, open(sys.argv[1], "w"))
EOF
offline council-admin isa create "$WORK/one-party.json"
assert_rc "isa create, one party: exit 65 (offline)" 65
assert_contains "... names the field" parties "$(err)"
printf 'not json' >"$WORK/garbage.json"
offline council-admin isa create "$WORK/garbage.json"
assert_rc "isa create, not JSON: exit 65 (offline)" 65
offline council-admin isa create "$WORK/no-such-file.json"
assert_rc "isa create, no such file: exit 66" 66
offline council-admin admin user add --agency HMPOL --cn "$stranger" --role wizard
assert_rc "admin user add, unknown role: exit 65 (offline)" 65
assert_contains "... names the option" "--role" "$(err)"
offline council-admin admin agency add HMZZ --name "Z" --kind spaceship
assert_rc "admin agency add, unknown kind: exit 65 (offline)" 65
assert_contains "... names the option" "--kind" "$(err)"
offline council-admin isa suspend 1 --reason ""
assert_rc "isa suspend, empty reason: exit 65 (offline)" 65
offline council-admin case legal-hold ASB-2026-0001 --on --reason ""
assert_rc "case legal-hold, empty reason: exit 65 (offline)" 65
offline council-admin case legal-hold ASB-2026-0001 --reason "litigation pending"
assert_rc "case legal-hold without --on/--off: exit 64" 64
offline council-admin admin user roles 1
assert_rc "admin user roles without --role or --no-roles: exit 64" 64
offline council-admin isa show "no spaces allowed"
assert_rc "isa show, not an id or reference: exit 64" 64
offline council-admin admin agency disable hmpol --reason "lower case"
assert_rc "admin agency disable, not an agency code: exit 64" 64
offline council-admin admin sar 0
assert_rc "admin sar 0: exit 64" 64
offline council-admin isa list --status bogus
assert_rc "isa list --status bogus: exit 64" 64

# --- an ISA from draft to active ----------------------------------------------------------

isa_json "$WORK/isa.json" "$isa_ref"
cli_as council-caseworker isa create "$WORK/isa.json"
assert_rc "isa create as a caseworker: exit 77" 77
adm isa create "$WORK/isa.json"
assert_rc "isa create: exit 0" 0
assert_contains "isa create: the reference" "$isa_ref" "$(out)"
assert_match "isa create: a draft, not in force" 'draft, not in force' "$(out)"
isa_id=$(sql "SELECT id FROM cdrp.isas WHERE reference = $(sql_lit "$isa_ref")")
assert_match "db: the agreement exists" '^[0-9]+$' "$isa_id"
adm isa create "$WORK/isa.json"
assert_rc "isa create again (a retry): exit 0" 0
assert_contains "isa create again: the original answer" "already recorded" "$(out)"
assert_eq "db: one agreement with the reference" 1 \
	"$(sql "SELECT count(*) FROM cdrp.isas WHERE reference = $(sql_lit "$isa_ref")")"

adm isa show "$isa_ref"
assert_rc "isa show REF: exit 0" 0
assert_contains "isa show: the title" "Harrowmere test sharing $isa_ref" "$(out)"
assert_match "isa show: HMPOL has not signed" 'HMPOL +no' "$(out)"
adm --json isa show "$isa_id"
assert_rc "isa show ID --json: exit 0" 0
assert_eq "isa show --json: status draft" draft "$(jget "$OUT" status)"
assert_eq "isa show --json: not in force" false "$(jget "$OUT" in_force)"
assert_eq "isa show --json: purpose" community_safety "$(jget "$OUT" purpose)"

adm isa sign "$isa_id" --note "Signed for the council"
assert_rc "isa sign as the HMDC administrator: exit 0" 0
assert_match "isa sign: HMDC has signed" 'HMDC +yes' "$(out)"
assert_match "isa sign: still a draft" 'draft' "$(out)"
adm isa sign "$isa_id" --note "Signed for the council"
assert_rc "isa sign again (a retry): exit 0" 0
assert_contains "isa sign again: the original answer" "already recorded" "$(out)"

# The police's administrator: the unknown-user certificate, registered now.
cli_as unknown-user health
assert_rc "before registration, $stranger's certificate: exit 77" 77
adm --json admin user add --agency HMPOL --cn "$stranger" --display-name "Riley Stranger (DPO)" \
	--role admin --role referrer
assert_rc "admin user add: exit 0" 0
uid=$(jget "$OUT" id)
assert_match "admin user add: the user's id" '^[0-9]+$' "$uid"
assert_eq "admin user add: the roles" '["admin", "referrer"]' \
	"$("$PY" -c 'import json,sys; print(json.dumps(sorted(json.load(open(sys.argv[1]))["roles"])))' "$OUT" 2>/dev/null)"
assert_eq "admin user add: active" true "$(jget "$OUT" active)"
cli_as unknown-user health
assert_rc "after registration, $stranger's certificate: exit 0" 0

cli_as unknown-user isa sign "$isa_ref"
assert_rc "isa sign as the HMPOL administrator: exit 0" 0
assert_match "isa sign: now active and in force" 'active, in force' "$(out)"
assert_match "isa sign: HMPOL has signed" 'HMPOL +yes' "$(out)"

adm isa list
assert_rc "isa list: exit 0" 0
assert_match "isa list: the agreement, active" "$isa_ref +active +yes" "$(out)"
assert_contains "isa list: the review prompt (review date passed)" "review_due, $isa_ref" "$(out)"
adm isa list --status draft
assert_rc "isa list --status draft: exit 0" 0
assert_not_contains "isa list --status draft: not the active agreement" "$isa_ref" "$(out)"
adm --json isa list --status active
check "isa list --status active --json: the agreement, review due" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
hit = [i for i in d["items"] if i["reference"] == sys.argv[2]]
sys.exit(0 if hit and hit[0]["review_due"] is True and
         any(p["isa"] == sys.argv[2] for p in d["prompts"]) else 1)' "$OUT" "$isa_ref"

adm isa suspend "$isa_ref" --reason "Data breach under investigation"
assert_rc "isa suspend: exit 0" 0
assert_match "isa suspend: suspended, not in force" 'suspended, not in force' "$(out)"
assert_contains "isa suspend: the reason" "Data breach under investigation" "$(out)"
adm isa suspend "$isa_ref" --reason "Data breach under investigation"
assert_rc "isa suspend again (a retry): exit 0" 0
assert_contains "isa suspend again: the original answer" "already recorded" "$(out)"
adm isa resume "$isa_ref" --reason "Investigation closed, no breach"
assert_rc "isa resume: exit 0" 0
assert_match "isa resume: active again" 'active, in force' "$(out)"
adm isa terminate "$isa_ref" --reason "Replaced by the county-wide agreement"
assert_rc "isa terminate: exit 0" 0
assert_match "isa terminate: terminated" 'terminated' "$(out)"
adm isa resume "$isa_ref" --reason "Changed our minds"
assert_rc "isa resume after terminate: exit 80" 80
assert_contains "... invalid_transition" invalid_transition "$(err)"
adm isa show 999999999
assert_rc "isa show of no agreement: exit 79" 79

# A reference is one path segment: '/' is refused before any request.
adm isa show "ISA/T/$tag"
assert_rc "isa show REF with a '/': exit 64" 64

# --- users: roles and disabling ----------------------------------------------------------

adm admin user list --agency HMPOL
assert_rc "admin user list --agency HMPOL: exit 0" 0
assert_contains "admin user list: $stranger" "$stranger" "$(out)"
assert_not_contains "admin user list --agency HMPOL: not the council's users" "Robin Ashby" "$(out)"
adm --json admin user list
assert_rc "admin user list --json: exit 0" 0
check "admin user list --json: every agency's users" "$PY" -c '
import json, sys
items = json.load(open(sys.argv[1]))["items"]
sys.exit(0 if {"HMDC", "HMPOL"} <= {u["agency"] for u in items} else 1)' "$OUT"

adm admin user roles "$uid" --role referrer
assert_rc "admin user roles --role referrer: exit 0" 0
assert_match "admin user roles: now a referrer only" 'Roles: +referrer$' "$(out)"
cli_as unknown-user admin agency list
assert_rc "no longer an admin: admin agency list exits 77" 77
adm admin user roles "$uid" --no-roles
assert_rc "admin user roles --no-roles: exit 0" 0
assert_contains "admin user roles --no-roles: none" "none" "$(out)"
assert_eq "db: no roles" "{}" "$(sql "SELECT roles FROM cdrp.users WHERE id = $uid")"
cli_as unknown-user referral list
assert_rc "a user without roles may not list referrals: exit 77" 77

adm admin user disable "$uid" --reason "Left the force"
assert_rc "admin user disable: exit 0" 0
assert_contains "admin user disable: disabled" DISABLED "$(out)"
cli_as unknown-user health
assert_rc "a disabled user's certificate: exit 77" 77
adm admin user disable 999999999 --reason "No such user"
assert_rc "admin user disable of no user: exit 79" 79

# --- agencies ------------------------------------------------------------------------

adm admin agency add "$agency_code" --name "Harrowmere Test Trust $tag" --kind health
assert_rc "admin agency add: exit 0" 0
assert_contains "admin agency add: active" "active" "$(out)"
adm admin agency list
assert_match "admin agency list: the new agency" "$agency_code +Harrowmere Test Trust $tag +health +yes" \
	"$(out)"
adm admin agency disable "$agency_code" --reason "Test over"
assert_rc "admin agency disable: exit 0" 0
assert_contains "admin agency disable: disabled" DISABLED "$(out)"
adm admin agency disable HMDC --reason "Our own agency"
assert_rc "disabling your own agency: exit 65 (rule)" 65
adm admin agency disable HMNOPE --reason "No such agency"
assert_rc "admin agency disable of no agency: exit 79" 79

# --- retention ---------------------------------------------------------------------

adm admin retention run --dry-run
assert_rc "admin retention run --dry-run: exit 0" 0
assert_contains "admin retention run --dry-run: says dry run" "dry run" "$(out)"
adm --json admin retention run --dry-run
assert_eq "admin retention run --dry-run --json: dry_run" true "$(jget "$OUT" dry_run)"
assert_match "admin retention run --json: a count" '^[0-9]+$' "$(jget "$OUT" count)"
adm admin retention run
assert_rc "admin retention run: exit 0" 0
assert_match "admin retention run: how many erased" 'Retention run: [0-9]+ case' "$(out)"

# --- legal hold and subject access ---------------------------------------------------------

"$PY" - "Hold Subject $tag" "Hold Victim $tag" >"$WORK/ref.json" <<'EOF'
import json, sys
print(json.dumps({
    "case_kind": "asb",
    "subject": {"type": "individual", "name": sys.argv[1], "ward": "Millbrook"},
    "reason": "Noise and intimidation; housing cannot resolve it alone.",
    "victims": [{"name": sys.argv[2], "vulnerable": False, "consent_to_share": True}],
}))
EOF
cli_as police-referrer --json referral submit "$WORK/ref.json"
rid=$(jget "$OUT" id)
cli_as council-caseworker --json referral accept "$rid"
assert_rc "a case to hold (referral accept): exit 0" 0
case_ref=$(jget "$OUT" case_reference)
assert_match "the case reference" '^ASB-[0-9]{4}-[0-9]+$' "$case_ref"

adm case legal-hold "$case_ref" --on --reason "Civil claim pending"
assert_rc "case legal-hold --on: exit 0" 0
assert_contains "case legal-hold --on: on" "legal hold on" "$(out)"
assert_eq "db: the case is held" t \
	"$(sql "SELECT legal_hold FROM cdrp.cases WHERE reference = $(sql_lit "$case_ref")")"
cli_as council-caseworker case legal-hold "$case_ref" --off --reason "Not mine to lift"
assert_rc "a caseworker may not lift a legal hold: exit 77" 77
adm --json case legal-hold "$case_ref" --off --reason "Claim settled"
assert_rc "case legal-hold --off --json: exit 0" 0
assert_eq "case legal-hold --off --json: legal_hold false" false "$(jget "$OUT" legal_hold)"
assert_eq "case legal-hold --off --json: the case" "$case_ref" "$(jget "$OUT" case)"
adm case legal-hold ASB-1999-9999 --on --reason "No such case"
assert_rc "case legal-hold of no case: exit 79" 79

pid=$(sql "SELECT p.id FROM cdrp.persons p JOIN cdrp.case_persons cp ON cp.person_id = p.id
	JOIN cdrp.cases c ON c.id = cp.case_id
	WHERE c.reference = $(sql_lit "$case_ref") AND p.name = $(sql_lit "Hold Victim $tag")")
assert_match "the victim's person id" '^[0-9]+$' "$pid"
adm --why "Subject access request SAR-$tag" admin sar "$pid"
assert_rc "admin sar: exit 0" 0
check "admin sar: JSON, always" is_json "$OUT"
assert_eq "admin sar: the person" "$pid" "$(jget "$OUT" person.id)"
assert_eq "admin sar: the case" "$case_ref" "$(jget "$OUT" cases.0.case)"
adm admin sar 999999999
assert_rc "admin sar of no person: exit 79" 79

# Leave the unknown-user certificate unregistered-looking for the other tests,
# whatever happened above.
sql "UPDATE cdrp.users SET active = false WHERE cn = $(sql_lit "$stranger")" >/dev/null

finish
