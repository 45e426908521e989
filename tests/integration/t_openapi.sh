#!/usr/bin/env bash
# t_openapi: proto/openapi.json, the OpenAPI 3.1 document for partner
# developers, against what cdrpd really does:
#   - its (method, path) set is `cdrpd --routes`, both ways; operationIds,
#     If-Match and Idempotency-Key follow the route table; request and query
#     schemas are those of proto/proto.c and proto/casework.c; permissions
#     those of sql/code/002_api.sql; problem codes those of proto/proto.c;
#     every request example validates against its schema
#     (tests/integration/openapi_check.py static);
#   - every request body example is accepted by the running cdrpd's
#     validation (sent with curl: anything but 400 is fine), and every query
#     parameter example too;
#   - Redocly CLI lints the document without errors or warnings
#     (proto/redocly.yaml). Redocly comes from the npm registry; it is cached
#     under ~/.cache (CDRP_REDOCLY_CACHE) for later runs. If it cannot be
#     installed the test fails: CI must really lint.
# The checker is shown to fail on a document with one route removed and on
# an invalid example, so that its passing means something.
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

DOC=$REPO/proto/openapi.json
CHECK=$REPO/tests/integration/openapi_check.py
ROUTES=$WORK/routes.json
# Pinned: @redocly/cli@1 resolves to 1.34.21, whose @redocly/respect-core
# 1.34.21 is missing from the registry (npm ETARGET).
readonly REDOCLY_VERSION=1.34.20
REDOCLY_CACHE=${CDRP_REDOCLY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cdrp/redocly-$REDOCLY_VERSION}
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1

# run_checker ARGS...: openapi_check.py's "ok"/"not ok" lines counted as ours.
run_checker() {
	local line
	while IFS= read -r line; do
		printf '%s\n' "$line"
		case $line in
		"not ok - "*) FAILS=$((FAILS + 1)) ;;
		"ok - "*) PASSES=$((PASSES + 1)) ;;
		esac
	done < <("$PY" "$CHECK" "$@" 2>&1)
}

# --- the document against the code --------------------------------------------

if "$CDRP_BIN/cdrpd" --routes >"$ROUTES" 2>"$WORK/routes.err" && is_json "$ROUTES"; then
	ok "cdrpd --routes prints JSON"
else
	not_ok "cdrpd --routes prints JSON" "$(head -c 400 "$WORK/routes.err")"
fi
check "proto/openapi.json is JSON" is_json "$DOC"
run_checker static "$DOC" "$ROUTES" "$REPO"

# The checker must fail on a document missing one route, and on an example
# that proto would refuse.
"$PY" - "$DOC" "$WORK/missing-route.json" "$WORK/bad-example.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
d1 = json.loads(json.dumps(doc))
del d1["paths"]["/v1/referrals/{id}/decline"]
json.dump(d1, open(sys.argv[2], "w"))
d2 = json.loads(json.dumps(doc))
ex = d2["paths"]["/v1/referrals"]["post"]["requestBody"]["content"]["application/json"]["example"]
ex["subject"]["type"] = "household"
json.dump(d2, open(sys.argv[3], "w"))
EOF
out=$("$PY" "$CHECK" static "$WORK/missing-route.json" "$ROUTES" "$REPO" 2>&1)
if [[ $? -ne 0 && $out == *"missing: POST /v1/referrals/{id}/decline"* ]]; then
	ok "the checker fails on a document missing a route"
else
	not_ok "the checker fails on a document missing a route" "$(grep -m5 'not ok' <<<"$out")"
fi
out=$("$PY" "$CHECK" static "$WORK/bad-example.json" "$ROUTES" "$REPO" 2>&1)
if [[ $? -ne 0 && $out == *'$.subject.type: not one of'* ]]; then
	ok "the checker fails on an invalid example"
else
	not_ok "the checker fails on an invalid example" "$(grep -m5 'not ok' <<<"$out")"
fi

# --- every example against the running cdrpd --------------------------------------
# Bodies: an id-less write goes with a certificate whose roles lack the
# permission (validation comes first, so 403 forbidden proves the body valid
# and nothing is stored); a write on an id goes to an id that does not exist
# by a caller with the permission (the body is validated before the id is
# looked up: 404, 409 or 422 are fine, 400 means the example is invalid).

mkdir -p "$WORK/examples"
if "$PY" "$CHECK" live-plan "$DOC" "$ROUTES" "$REPO" "$WORK/examples" >"$WORK/plan.tsv" 2>"$WORK/plan.err"; then
	ok "live plan written ($(wc -l <"$WORK/plan.tsv") requests)"
else
	not_ok "live plan written" "$(head -c 600 "$WORK/plan.err")"
fi
nbodies=0
while IFS=$'\t' read -r n method path who expect ifmatch needkey opname; do
	args=(-H 'X-Cdrp-Justification: Checking the OpenAPI examples (t_openapi)')
	[[ $ifmatch == 1 ]] && args+=(-H 'If-Match: "1"')
	[[ $needkey == 1 ]] && args+=(-H "Idempotency-Key: $(new_key openapi)")
	if [[ $n != - ]]; then
		args+=(-H 'Content-Type: application/json' --data-binary "@$WORK/examples/$n.json")
		nbodies=$((nbodies + 1))
		what="example body of $opname ($method ${path%%\?*})"
	else
		what="$method $path ($opname)"
	fi
	req "$who" "$method" "$path" "${args[@]}"
	code=$(body_field code 2>/dev/null)
	if [[ $expect == 403 ]]; then
		if [[ $STATUS == 403 && $code == forbidden ]]; then
			ok "$what passes validation (403 forbidden for $who)"
		else
			not_ok "$what passes validation" "as $who: HTTP $STATUS, want 403 forbidden" \
				"$(head -c 400 "$BODY")"
		fi
	elif [[ $STATUS =~ ^(200|201|403|404|409|412|422)$ ]]; then
		ok "$what passes validation (HTTP $STATUS $code)"
	else
		not_ok "$what passes validation" "as $who: HTTP $STATUS (curl exit $CURL_RC), want no 400" \
			"$(head -c 400 "$BODY")"
	fi
done <"$WORK/plan.tsv"
want=$("$PY" -c 'import json,sys; print(sum(1 for r in json.load(open(sys.argv[1])) if r["body"]))' "$ROUTES")
assert_eq "an example body sent for every route that takes a body" "$want" "$nbodies"

# The same way of sending refuses a broken example: 400, naming the field.
"$PY" - "$WORK/examples/1.json" "$WORK/broken.json" <<'EOF'
import json, sys
ex = json.load(open(sys.argv[1], encoding="utf-8"))
ex["subject"]["type"] = "household"
json.dump(ex, open(sys.argv[2], "w"))
EOF
req council-caseworker POST /v1/referrals -H 'Content-Type: application/json' \
	-H "Idempotency-Key: $(new_key openapi)" --data-binary "@$WORK/broken.json"
assert_problem "a broken referral example is refused 400 the same way" 400 invalid_field subject.type

# --- Redocly CLI ---------------------------------------------------------------------

REDOCLY=$REDOCLY_CACHE/node_modules/.bin/redocly
if [[ -x $REDOCLY ]] && [[ $("$REDOCLY" --version 2>/dev/null) == "$REDOCLY_VERSION" ]]; then
	ok "Redocly CLI $REDOCLY_VERSION cached in $REDOCLY_CACHE"
elif ! command -v npm >/dev/null; then
	not_ok "npm is installed (needed to install Redocly CLI)"
else
	# Installed under the test's directory, then moved into the cache whole.
	if timeout 170 npm install --prefix "$WORK/redocly" --no-audit --no-fund --loglevel=error \
		"@redocly/cli@$REDOCLY_VERSION" >"$WORK/npm.log" 2>&1 &&
		[[ -x $WORK/redocly/node_modules/.bin/redocly ]]; then
		ok "npm installed @redocly/cli@$REDOCLY_VERSION"
		REDOCLY=$WORK/redocly/node_modules/.bin/redocly
		if mkdir -p "${REDOCLY_CACHE%/*}" 2>/dev/null; then
			rm -rf -- "$REDOCLY_CACHE.tmp.$$"
			if cp -a "$WORK/redocly" "$REDOCLY_CACHE.tmp.$$" 2>/dev/null &&
				mv -T "$REDOCLY_CACHE.tmp.$$" "$REDOCLY_CACHE" 2>/dev/null; then
				REDOCLY=$REDOCLY_CACHE/node_modules/.bin/redocly
			fi
			rm -rf -- "$REDOCLY_CACHE.tmp.$$"
		fi
	else
		not_ok "npm installed @redocly/cli@$REDOCLY_VERSION" "$(tail -n 15 "$WORK/npm.log")"
	fi
fi
if [[ -x $REDOCLY ]]; then
	rc=0
	(cd "$REPO" && "$REDOCLY" lint --config proto/redocly.yaml proto/openapi.json) \
		>"$WORK/lint.out" 2>&1 || rc=$?
	if [[ $rc == 0 ]] && grep -q 'Your API description is valid' "$WORK/lint.out"; then
		ok "redocly $("$REDOCLY" --version) lint: valid, no errors or warnings"
	else
		not_ok "redocly lint proto/openapi.json" "exit $rc" "$(tail -n 40 "$WORK/lint.out")"
	fi
	# ... and it does fail a broken document.
	"$PY" - "$DOC" "$WORK/no-responses.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
del doc["paths"]["/v1/health"]["get"]["responses"]
json.dump(doc, open(sys.argv[2], "w"))
EOF
	rc=0
	(cd "$REPO" && "$REDOCLY" lint --config proto/redocly.yaml "$WORK/no-responses.json") \
		>"$WORK/lint-bad.out" 2>&1 || rc=$?
	assert_ne "redocly lint fails an operation without responses" 0 "$rc"
else
	not_ok "redocly lint proto/openapi.json" "no Redocly CLI to run"
fi

finish
