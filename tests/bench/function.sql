-- pgbench: the statement cdrpd sends per POST /v1/referrals (daemon/api.c),
-- one call of cdrp_api.call(..., 'referral_submit', ...) in its own
-- transaction.
-- Variables from tests/bench/run (-D): agency, cn, body, hash, run, n (0).
\set n :n + 1
SELECT status, body, replay, etag
  FROM cdrp_api.call(:agency, :cn, 'referral_submit', jsonb_build_object('body', :body::jsonb),
                     :run::text || '-' || :client_id::text || '-' || :n::text, :hash::bytea,
                     NULL, NULL);
