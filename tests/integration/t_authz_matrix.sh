#!/usr/bin/env bash
# t_authz_matrix: the authorization matrix of the reads that return case or
# personal data. Every devstack identity x GET /v1/cases/{id} (by id and by
# reference), .../history, .../notes, .../incidents, GET /v1/referrals/{id}
# (with victims' contact details), GET /v1/cases (with and without filters),
# GET /v1/referrals, GET /v1/victims x every fixture case and referral x
# four ISA states (standing ISAs active; HM-ISA-ASB suspended; HM-ISA-PPO
# suspended; both), compared with an oracle written in Python from the
# sharing rules. The work is done by authz_matrix.py (python3 standard
# library only), which prints its own ok / not ok lines, then
#   authz matrix: N cells checked, L leaks, D wrong denials
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
