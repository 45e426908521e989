-- pgbench: the statement cdrpd sends per POST /v1/referrals (daemon/db.c),
-- one call of cdrp_api.referral_submit in its own transaction.
-- Variables from tests/bench/run (-D): agency, cn, body, hash, run, n (0).
\set n :n + 1
SELECT status, body, replay
  FROM cdrp_api.referral_submit(:agency, :cn, :run::text || '-' || :client_id::text || '-' || :n::text,
                                :hash::bytea, :body::jsonb);
