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

-- The registered, active user behind (agency code, CN), or NULL after
-- auditing the refusal.
CREATE FUNCTION cdrp.caller(p_agency text, p_cn text, p_what text) RETURNS cdrp.caller
LANGUAGE plpgsql AS $$
DECLARE me cdrp.caller;
BEGIN
  SELECT w.user_id, w.agency_id, w.partnership_id, w.roles, p_agency, p_cn INTO me
  FROM cdrp.whoami(p_agency, p_cn) w;
  IF me.user_id IS NULL THEN
    PERFORM cdrp.deny(p_agency, p_cn, p_what);
    RETURN NULL;
  END IF;
  RETURN me;
END $$;

-- The endpoint function, checked to exist (p_fn comes from cdrpd's route
-- table, never from a request).
CREATE FUNCTION cdrp.impl_sql(p_fn text) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF to_regprocedure(format('cdrp_impl.%I(cdrp.caller,jsonb)', p_fn)) IS NULL THEN
    RAISE EXCEPTION 'no endpoint function %', p_fn;
  END IF;
  RETURN format('SELECT * FROM cdrp_impl.%I($1, $2)', p_fn);
END $$;

CREATE FUNCTION cdrp_api.call(p_agency text, p_cn text, p_fn text, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, cdrp AS $$
DECLARE me cdrp.caller := cdrp.caller(p_agency, p_cn, p_fn);
BEGIN
  replay := false;
  IF me IS NULL THEN
    status := 403; body := cdrp.problem('unknown_identity', 'certificate identity is not registered');
    RETURN;
  END IF;
  EXECUTE cdrp.impl_sql(p_fn) INTO status, body, replay, etag USING me, p_args;
  replay := coalesce(replay, false);
END $$;

-- Defaults for every threshold the brief calls configuration.
CREATE FUNCTION cdrp.config_defaults() RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT '{
    "repeat_victim": {"min_incidents": 3, "window_days": 365},
    "case_review": {"min_complaints": 3, "window_months": 6, "report_within_months": 1,
                    "community_min": 5, "community_min_agencies": 2, "explain_at": 2},
    "risk": {"medium_from": 10, "high_from": 20, "victim_support_from": 15,
             "questions": [
               {"id": "happened_before", "text": "Has this happened to you before?", "weight": 3},
               {"id": "feel_targeted", "text": "Do you feel you are being targeted?", "weight": 3},
               {"id": "hate_motivated", "text": "Do you think it is motivated by hate (race, religion, disability, sexuality, gender identity)?", "weight": 5},
               {"id": "disabled_or_ill", "text": "Is anyone in the household disabled or ill, physically or mentally?", "weight": 4},
               {"id": "affecting_health", "text": "Is it affecting your health or that of anyone in the household?", "weight": 4},
               {"id": "afraid_at_home", "text": "Are you afraid to stay in your home or go out?", "weight": 4},
               {"id": "children_affected", "text": "Are children in the household affected?", "weight": 2},
               {"id": "violence_or_threats", "text": "Has there been violence or threats of violence?", "weight": 5},
               {"id": "isolated", "text": "Do you feel isolated, with no one to support you?", "weight": 2},
               {"id": "considered_moving", "text": "Have you considered moving because of it?", "weight": 2}
             ]},
    "cadence_days": {"high": 14, "medium": 28, "standard": 28},
    "action_types": ["warning_letter", "second_warning_visit", "acceptable_behaviour_contract",
                     "tenancy_enforcement", "mediation_referral", "support_referral",
                     "cpn_warning", "cpn", "civil_injunction", "criminal_behaviour_order",
                     "closure_order", "other"],
    "cpn_prior_warnings": ["warning_letter", "second_warning_visit", "cpn_warning"]
  }'::jsonb
$$;

-- The partnership's configuration: its overrides merged over the defaults,
-- one level deep ({"risk": {"high_from": 25}} keeps the other risk keys).
CREATE FUNCTION cdrp.config(p_partnership int) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT coalesce(jsonb_object_agg(d.key,
           CASE WHEN jsonb_typeof(d.value) = 'object' AND jsonb_typeof(o.value) = 'object'
                THEN d.value || o.value ELSE coalesce(o.value, d.value) END), '{}'::jsonb)
  FROM jsonb_each(cdrp.config_defaults()) d
  LEFT JOIN jsonb_each((SELECT config FROM cdrp.partnerships WHERE id = p_partnership)) o
    ON o.key = d.key
$$;

-- Dates are UTC calendar dates, like the daemon's.
CREATE FUNCTION cdrp.today() RETURNS date LANGUAGE sql STABLE AS $$
  SELECT (now() AT TIME ZONE 'UTC')::date
$$;

-- Roles that work cases (triage, changes, every case readable).
CREATE FUNCTION cdrp.has_case_role(p_roles text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT p_roles && ARRAY['caseworker', 'chair', 'admin']
$$;

-- A case by id ("42") or reference ("ASB-2026-0042") within a partnership.
CREATE FUNCTION cdrp.case_resolve(p_partnership int, p_id text) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT id FROM cdrp.cases
  WHERE partnership_id = p_partnership
    AND (CASE WHEN p_id ~ '^[1-9][0-9]{0,17}$' THEN id = p_id::bigint ELSE reference = p_id END)
$$;

-- Who may read a case: case roles; the PPO coordinator for PPO cases; the
-- lead agency; the agencies whose referrals are attached. (The ISA issue
-- extends this.)
CREATE FUNCTION cdrp.case_readable(p_case bigint, p_agency int, p_roles text[]) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT cdrp.has_case_role(p_roles)
      OR EXISTS (SELECT 1 FROM cdrp.cases c WHERE c.id = p_case
                 AND (c.lead_agency_id = p_agency
                      OR (c.case_kind = 'ppo' AND 'ppo_coordinator' = ANY (p_roles))))
      OR EXISTS (SELECT 1 FROM cdrp.referrals r WHERE r.case_id = p_case AND r.agency_id = p_agency)
$$;

-- Next case reference: ASB-2026-0042. The counter row is locked until
-- commit, so references are unique and never reused (a rolled-back case
-- leaves no gap either).
CREATE FUNCTION cdrp.next_case_reference(p_partnership int, p_kind text, p_year int) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE n int;
BEGIN
  INSERT INTO cdrp.reference_counters (partnership_id, kind, year, last_value)
  VALUES (p_partnership, p_kind, p_year, 1)
  ON CONFLICT (partnership_id, kind, year)
  DO UPDATE SET last_value = cdrp.reference_counters.last_value + 1
  RETURNING last_value INTO n;
  RETURN upper(p_kind) || '-' || p_year || '-' || lpad(n::text, 4, '0');
END $$;

-- An agency's id by code within a partnership (NULL if unknown).
CREATE FUNCTION cdrp.agency_id(p_partnership int, p_code text) RETURNS int
LANGUAGE sql STABLE AS $$
  SELECT id FROM cdrp.agencies WHERE partnership_id = p_partnership AND code = p_code AND active
$$;

-- A user's id from {"agency": code, "cn": name} (NULL if unknown).
CREATE FUNCTION cdrp.user_id(p_partnership int, p_ref jsonb) RETURNS int
LANGUAGE sql STABLE AS $$
  SELECT u.id FROM cdrp.users u JOIN cdrp.agencies a ON a.id = u.agency_id
  WHERE a.partnership_id = p_partnership AND a.code = p_ref->>'agency' AND u.cn = p_ref->>'cn'
    AND u.active AND a.active
$$;

CREATE FUNCTION cdrp.user_json(p_user int) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('agency', a.code, 'cn', u.cn)
  FROM cdrp.users u JOIN cdrp.agencies a ON a.id = u.agency_id WHERE u.id = p_user
$$;

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

CREATE FUNCTION cdrp_api.idempotent(p_agency text, p_cn text, p_key text, p_hash bytea,
  p_fn text, p_args jsonb, OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, cdrp AS $$
DECLARE me cdrp.caller := cdrp.caller(p_agency, p_cn, p_fn); k cdrp.idempotency_keys;
  run text := cdrp.impl_sql(p_fn);
BEGIN
  replay := false;
  IF me IS NULL THEN
    status := 403; body := cdrp.problem('unknown_identity', 'certificate identity is not registered');
    RETURN;
  END IF;
  INSERT INTO cdrp.idempotency_keys (agency_id, key, request_hash, status, response)
  VALUES (me.agency_id, p_key, p_hash, 0, '{}') ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN
    SELECT * INTO k FROM cdrp.idempotency_keys WHERE agency_id = me.agency_id AND key = p_key;
    IF k.request_hash = p_hash THEN
      status := k.status; body := k.response; etag := k.etag; replay := true;
    ELSE
      status := 409;
      body := cdrp.problem('idempotency_conflict',
                           'this Idempotency-Key was used before with a different request');
    END IF;
    RETURN;
  END IF;
  EXECUTE run INTO status, body, replay, etag USING me, p_args;
  replay := coalesce(replay, false);
  IF status >= 400 THEN
    -- Nothing was done: free the key, so the same request is judged
    -- afresh once whatever refused it has changed.
    DELETE FROM cdrp.idempotency_keys i WHERE i.agency_id = me.agency_id AND i.key = p_key;
  ELSE
    UPDATE cdrp.idempotency_keys i SET status = idempotent.status, response = idempotent.body,
           etag = idempotent.etag
    WHERE i.agency_id = me.agency_id AND i.key = p_key;
  END IF;
END $$;

GRANT EXECUTE ON FUNCTION cdrp_api.idempotent(text, text, text, bytea, text, jsonb) TO cdrp_app;
GRANT EXECUTE ON FUNCTION cdrp_api.call(text, text, text, jsonb) TO cdrp_app;
