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
# database; a 2xx there is a leak. Then meetings and reports, in every
# state: GET /v1/meetings/{id} and .../minutes (agenda items and reviews
# exactly those of cases the identity may read), POST
# /v1/meetings/{id}/reviews (meeting.manage, else 403; an unreadable case
# 422 "no such case" with no case_decisions row, as a missing one) and GET
# /v1/reports/improvement?fy=2019 over a dedicated FY 2019 cohort (the
# aggregates alike for every identity; list= only the readable cases). The
# work is done by authz_matrix.py
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
