#!/usr/bin/env bash
# t_authz_matrix: the authorization matrix of the reads that return case or
# personal data. Every devstack identity x GET /v1/cases/{id} (by id and by
# reference), .../history, .../notes, .../incidents, GET /v1/referrals/{id}
# (with victims' contact details), GET /v1/cases (with and without filters),
# GET /v1/referrals, GET /v1/victims x every fixture case and referral x
# four ISA states (standing ISAs active; HM-ISA-ASB suspended; HM-ISA-PPO
# suspended; both), compared with an oracle written in Python from the
# sharing rules. Then the writes on cases, referrals and actions: every
# identity x POST /v1/cases/{id}/notes, incidents, actions, persons, risk,
# strand, ppo-removal, close, reopen (If-Match), legal-hold, PATCH
# /v1/cases/{id} (If-Match), POST /v1/referrals/{id}/accept, decline,
# request-info, PATCH /v1/actions/{id} (If-Match) x dedicated fixtures x
# the same four states: a write without the permission must be 403, on an
# object the caller may not read 404, and must change nothing in the
# database; a 2xx there is a leak. The work is done by authz_matrix.py
# (python3 standard library only), which prints its own ok / not ok lines,
# then
#   authz matrix: N cells checked (R reads, W writes), L leaks, D wrong denials
# and always restores both ISAs to active.
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

rc=0
CDRP_PSQL=$PSQL RUN_TAG=$RUN_TAG "$PY" "$REPO/tests/integration/authz_matrix.py" || rc=$?
if ((rc == 0)); then
	ok "authz matrix: no leaks, no wrong denials"
else
	not_ok "authz matrix: authz_matrix.py exited $rc (see the lines above)"
fi
finish
