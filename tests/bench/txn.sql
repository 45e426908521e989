-- pgbench: the statements cdrp_api.call executes for referral_submit
-- (sql/code/002_api.sql, without the permission and settings steps),
-- sent one by one in one transaction, in the function's order: resolve the
-- identity, claim the idempotency key, take the referral id, insert the
-- referral and its first transition, store the answer on the key, and write
-- the hash-chained audit row last (it holds the audit head lock until COMMIT).
-- Variables from tests/bench/run (-D): agency, cn, body (the canonical JSON
-- cdrpd sends), hash (its sha256 as \x...), run (unique per run), n (0).
\set n :n + 1
BEGIN;
SELECT user_id AS uid, agency_id AS aid, partnership_id AS pid
  FROM cdrp.whoami(:agency, :cn) \gset
INSERT INTO cdrp.idempotency_keys (agency_id, user_id, key, request_hash, status, response)
  VALUES (:aid, :uid, :run::text || '-' || :client_id::text || '-' || :n::text, :hash::bytea, 0, '{}')
  ON CONFLICT DO NOTHING;
SELECT nextval(pg_get_serial_sequence('cdrp.referrals', 'id')) AS rid \gset
INSERT INTO cdrp.referrals (id, partnership_id, reference, agency_id, user_id, case_kind,
                            subject_type, marking, body, submitted_at, updated_at)
  VALUES (:rid, :pid,
          'REF-' || extract(year FROM now() AT TIME ZONE 'UTC')::int || '-' || lpad(:rid::text, 6, '0'),
          :aid, :uid, :body::jsonb->>'case_kind', :body::jsonb->'subject'->>'type',
          coalesce(:body::jsonb->>'marking', 'OFFICIAL'), :body::jsonb, now(), now());
INSERT INTO cdrp.referral_transitions (referral_id, from_status, to_status, user_id, at)
  VALUES (:rid, NULL, 'submitted', :uid, now());
UPDATE cdrp.idempotency_keys
  SET status = 201, referral_id = :rid,
      response = jsonb_build_object('id', :rid::bigint,
        'reference', 'REF-' || extract(year FROM now() AT TIME ZONE 'UTC')::int || '-' || lpad(:rid::text, 6, '0'),
        'status', 'submitted', 'case_kind', :body::jsonb->>'case_kind', 'submitted_at', cdrp.utc(now()))
  WHERE agency_id = :aid AND user_id = :uid AND key = :run::text || '-' || :client_id::text || '-' || :n::text;
SELECT cdrp.audit(:aid, :uid, 'collect', 'referral', :rid);
COMMIT;
