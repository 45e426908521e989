-- 003_casework_base: what every casework function shares (issue 3):
-- per-partnership configuration, "today", case lookup and read rights,
-- case references, and the contract of the rule functions that later
-- migrations define.
--
-- Every casework endpoint is a function
--   cdrp_impl.<name>(me cdrp.caller, p_args jsonb,
--                    OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
-- where p_args = {"id": "<path segment>", "body": {...}, "query": {...},
-- "if_match": <int>} as built by daemon/api.c after proto/ validation.
-- cdrpd cannot call cdrp_impl: it calls cdrp_api.call(agency, cn, name,
-- args), which resolves the certificate identity once (refusing and
-- auditing an unknown one) and hands the endpoint `me`. No endpoint can
-- skip or get wrong the identity check.

-- New functions are not executable by PUBLIC.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

CREATE SCHEMA cdrp_impl; -- no USAGE for cdrp_app

-- The caller of an endpoint, from the verified certificate.
CREATE TYPE cdrp.caller AS (user_id int, agency_id int, partnership_id int, roles text[],
                            agency text, cn text);

-- Incidents record which agency reported them (a report row per agency);
-- the repeat-victim and Case Review rules read these.
CREATE INDEX incident_victims_person_idx ON cdrp.incident_victims (person_id);
CREATE INDEX incident_reports_incident_idx ON cdrp.incident_reports (incident_id);
CREATE INDEX incidents_case_idx ON cdrp.incidents (case_id);
CREATE INDEX actions_case_idx ON cdrp.actions (case_id);
CREATE INDEX case_persons_person_idx ON cdrp.case_persons (person_id);
CREATE INDEX referrals_case_idx ON cdrp.referrals (case_id);

-- Idempotent casework writes. With an Idempotency-Key, cdrpd calls the
-- endpoint's function through this one: the key is claimed (scoped to the
-- agency, like referral keys), the function runs in the same transaction,
-- and a successful answer is stored; the same key and request again gets
-- that answer back, a different request 409. A refusal (4xx) stores
-- nothing and frees the key. p_fn is a route's function name
-- from cdrpd's table; cdrp_app may call every cdrp_api function anyway.
ALTER TABLE cdrp.idempotency_keys ADD COLUMN etag text;
