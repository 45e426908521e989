-- 002_api: the one entry point cdrpd calls, cdrp_api.call, and what it
-- shares with every endpoint: identity, permissions, the per-transaction
-- caller settings that row-level security reads, idempotency and the
-- mapping of refusals to HTTP.
--
--   cdrp_api.call(agency, cn, fn, args, key, hash, partnership, why)
--     -> (status, body, replay, etag)
--
-- agency and cn come from the verified client certificate; fn from
-- cdrpd's route table (proto/), never from a request; args is
-- {"id", "body", "query", "if_match"} after proto/ validation; key and hash
-- the Idempotency-Key and the hash of the request; partnership and why the
-- X-Cdrp-Partnership and X-Cdrp-Justification headers. One statement, one
-- transaction, one round trip.
--
-- Endpoints are cdrp_impl.<fn>(me cdrp.caller, args jsonb) -> (status, body,
-- replay, etag). They answer refusals either as (4xx, cdrp.problem(...)) or
-- by cdrp.refuse(...), which raises SQLSTATE CDR01: call() turns it into
-- the answer, and everything the endpoint did is rolled back.

-- The active user behind (agency code, CN) acting within one partnership:
-- the one named, or the agency's only one. No row when unknown, inactive,
-- or the agency is not a member of the partnership named.
CREATE FUNCTION cdrp.whoami(p_agency text, p_cn text, p_partnership text DEFAULT NULL)
RETURNS TABLE (user_id int, agency_id int, partnership_id int, roles text[])
LANGUAGE sql STABLE AS $$
  SELECT u.id, a.id, ap.partnership_id, u.roles
  FROM cdrp.agencies a
  JOIN cdrp.users u ON u.agency_id = a.id
  JOIN cdrp.agency_partnerships ap ON ap.agency_id = a.id
  JOIN cdrp.partnerships p ON p.id = ap.partnership_id
  WHERE a.code = p_agency AND u.cn = p_cn AND a.active AND u.active AND ap.active
    AND (p.code = p_partnership
         OR (p_partnership IS NULL
             AND (SELECT count(*) FROM cdrp.agency_partnerships x WHERE x.agency_id = a.id) = 1))
$$;

CREATE FUNCTION cdrp.problem(p_code text, p_detail text, p_field text DEFAULT NULL)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('code', p_code, 'detail', p_detail,
                                              'field', p_field))
$$;

-- A refusal: rolls back what the endpoint did and answers (status,
-- problem). The one custom SQLSTATE; call() maps it.
-- p_etag: the object's current version, for a client that must read it
-- again (409, 412, 422 on a versioned object).
CREATE FUNCTION cdrp.refuse(p_status int, p_code text, p_detail text, p_field text DEFAULT NULL,
                            p_etag text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'CDR01',
    MESSAGE = (cdrp.problem(p_code, p_detail, p_field)
               || jsonb_strip_nulls(jsonb_build_object('status', p_status, 'etag', p_etag)))::text;
END $$;

CREATE FUNCTION cdrp.utc(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- Opaque list cursor; proto_parse_list_query() decodes the same form.
CREATE FUNCTION cdrp.cursor_encode(p_id bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT 'c' || p_id::text
$$;

CREATE FUNCTION cdrp.schema_version() RETURNS int LANGUAGE sql STABLE AS $$
  SELECT max(version) FROM public.cdrp_schema_migrations
$$;

-- Refusals are audited as 'deny', with the user when the identity is known.
CREATE FUNCTION cdrp.deny(p_agency text, p_cn text, p_what text,
                          p_detail jsonb DEFAULT '{}'::jsonb) RETURNS void
LANGUAGE sql AS $$
  SELECT cdrp.audit(a.id, u.id, 'deny', p_what, NULL,
                    p_detail || CASE WHEN u.id IS NULL THEN jsonb_build_object('cn', p_cn)
                                     ELSE '{}'::jsonb END)
  FROM (SELECT 1) one
  LEFT JOIN cdrp.agencies a ON a.code = p_agency
  LEFT JOIN cdrp.users u ON u.agency_id = a.id AND u.cn = p_cn
$$;

-- ---- permissions --------------------------------------------------------
-- Deny by default: an endpoint needs a permission, and a role grants a
-- fixed set of them. An endpoint missing here cannot be called at all.
CREATE FUNCTION cdrp.endpoint_permission(p_fn text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN p_fn = 'health' THEN 'identity'
    WHEN p_fn IN ('referral_submit', 'referral_resubmit') THEN 'referral.submit'
    WHEN p_fn IN ('referral_get', 'referral_list') THEN 'referral.read'
    WHEN p_fn IN ('referral_accept', 'referral_decline', 'referral_request_info')
      THEN 'referral.triage'
    WHEN p_fn IN ('case_list', 'case_get', 'case_history', 'case_notes', 'incident_list',
                  'victim_list', 'person_case_review', 'action_list', 'action_get')
      THEN 'case.read'
    WHEN p_fn IN ('case_update', 'case_close', 'case_reopen', 'case_person_add',
                  'risk_assess', 'person_flag_add') THEN 'case.write'
    WHEN p_fn IN ('case_strand', 'case_ppo_removal') THEN 'case.ppo'
    WHEN p_fn IN ('case_note_add', 'incident_add', 'action_add', 'action_update')
      THEN 'case.contribute'
    WHEN p_fn IN ('case_review_apply', 'case_review_decide', 'case_review_meeting')
      THEN 'case_review.manage'
    WHEN p_fn IN ('case_review_stats', 'risk_questionnaire', 'report_improvement',
                  'report_quarterly')
      THEN 'aggregate.read'
    WHEN p_fn IN ('meeting_list', 'meeting_get', 'meeting_minutes') THEN 'case.read'
    WHEN p_fn IN ('meeting_create', 'meeting_attend', 'meeting_item_add', 'meeting_items_order',
                  'meeting_review', 'meeting_decide', 'meeting_close') THEN 'meeting.manage'
    WHEN p_fn IN ('isa_list', 'isa_get') THEN 'isa.read'
    WHEN p_fn IN ('isa_create', 'isa_sign', 'isa_suspend', 'isa_resume', 'isa_terminate')
      THEN 'isa.manage'
    WHEN p_fn IN ('admin_agency_add', 'admin_agency_list', 'admin_agency_disable',
                  'admin_user_add', 'admin_user_list', 'admin_user_disable', 'admin_user_roles',
                  'admin_retention_run', 'admin_sar', 'admin_legal_hold', 'admin_import')
      THEN 'admin'
    WHEN p_fn IN ('audit_checkpoint', 'audit_consistency', 'audit_inclusion', 'audit_entries')
      THEN 'audit.read'
  END
$$;

CREATE FUNCTION cdrp.role_permissions(p_role text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE p_role
    WHEN 'referrer' THEN ARRAY['referral.submit', 'referral.read', 'case.read',
                               'case.contribute', 'aggregate.read', 'isa.read']
    WHEN 'caseworker' THEN ARRAY['referral.read', 'referral.triage', 'case.read', 'case.write',
                                 'case.ppo', 'case.contribute', 'case_review.manage',
                                 'meeting.manage', 'aggregate.read', 'isa.read']
    WHEN 'chair' THEN ARRAY['referral.read', 'referral.triage', 'case.read', 'case.write',
                            'case.ppo', 'case.contribute', 'case_review.manage',
                            'meeting.manage', 'aggregate.read', 'isa.read']
    WHEN 'ppo_coordinator' THEN ARRAY['referral.read', 'case.read', 'case.ppo',
                                      'case.contribute', 'aggregate.read', 'isa.read']
    WHEN 'analyst' THEN ARRAY['aggregate.read', 'isa.read']
    WHEN 'admin' THEN ARRAY['referral.read', 'referral.triage', 'case.read', 'case.write',
                            'case.ppo', 'case.contribute', 'case_review.manage',
                            'meeting.manage', 'aggregate.read', 'isa.read', 'isa.manage',
                            'admin', 'audit.read']
    ELSE ARRAY[]::text[]
  END
$$;

-- PL/pgSQL, as set_caller and clear_caller: called once per request, and
-- a SQL function that is not inlined is planned again at every call.
CREATE FUNCTION cdrp.has_permission(p_roles text[], p_perm text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE r text;
BEGIN
  IF p_perm = 'identity' THEN
    RETURN true;
  END IF;
  FOREACH r IN ARRAY coalesce(p_roles, '{}') LOOP
    IF p_perm = ANY (cdrp.role_permissions(r)) THEN
      RETURN true;
    END IF;
  END LOOP;
  RETURN false;
END $$;

-- ---- the caller ---------------------------------------------------------

-- The registered, active user behind (agency code, CN) in the partnership
-- asked for, or NULL after auditing the refusal.
CREATE FUNCTION cdrp.caller(p_agency text, p_cn text, p_what text,
                            p_partnership text DEFAULT NULL) RETURNS cdrp.caller
LANGUAGE plpgsql AS $$
DECLARE me cdrp.caller;
BEGIN
  SELECT w.user_id, w.agency_id, w.partnership_id, w.roles, p_agency, p_cn INTO me
  FROM cdrp.whoami(p_agency, p_cn, p_partnership) w;
  IF me.user_id IS NULL THEN
    PERFORM cdrp.deny(p_agency, p_cn, p_what,
                      jsonb_strip_nulls(jsonb_build_object('partnership', p_partnership)));
    RETURN NULL;
  END IF;
  RETURN me;
END $$;

-- Row-level security reads the caller from these transaction-local
-- settings; only call() sets them (sql/code/008_rls.sql).
CREATE FUNCTION cdrp.set_caller(me cdrp.caller, p_why text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('cdrp.user_id', me.user_id::text, true),
          set_config('cdrp.agency_id', me.agency_id::text, true),
          set_config('cdrp.partnership_id', me.partnership_id::text, true),
          set_config('cdrp.roles', array_to_string(me.roles, ','), true),
          set_config('cdrp.justification', coalesce(p_why, ''), true),
          set_config('cdrp.scope', 'user', true);
END $$;

CREATE FUNCTION cdrp.clear_caller() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('cdrp.user_id', '', true), set_config('cdrp.agency_id', '', true),
          set_config('cdrp.partnership_id', '', true), set_config('cdrp.roles', '', true),
          set_config('cdrp.justification', '', true), set_config('cdrp.scope', '', true);
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

-- Runs an endpoint; a cdrp.refuse() inside becomes its answer.
CREATE FUNCTION cdrp.run_endpoint(me cdrp.caller, p_fn text, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE msg text;
BEGIN
  EXECUTE cdrp.impl_sql(p_fn) INTO status, body, replay, etag USING me, p_args;
  replay := coalesce(replay, false);
EXCEPTION WHEN SQLSTATE 'CDR01' THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
  status := (msg::jsonb->>'status')::int;
  body := msg::jsonb - 'status' - 'etag';
  replay := false;
  etag := msg::jsonb->>'etag';
END $$;

CREATE FUNCTION cdrp_api.call(p_agency text, p_cn text, p_fn text, p_args jsonb,
  p_key text DEFAULT NULL, p_hash bytea DEFAULT NULL, p_partnership text DEFAULT NULL,
  p_why text DEFAULT NULL, OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE
  me cdrp.caller;
  perm text := cdrp.endpoint_permission(p_fn);
  k cdrp.idempotency_keys;
BEGIN
  -- Calls may share a transaction (cdrpd's group commit): nothing of the
  -- previous caller's may reach this one's checks or audit rows.
  PERFORM cdrp.clear_caller();
  me := cdrp.caller(p_agency, p_cn, p_fn, p_partnership);
  replay := false;
  IF me IS NULL THEN
    status := 403; body := cdrp.problem('unknown_identity',
      CASE WHEN p_partnership IS NULL
           THEN 'certificate identity is not registered, or its agency belongs to several partnerships: name one (X-Cdrp-Partnership)'
           ELSE 'certificate identity is not registered in that partnership' END);
    RETURN;
  END IF;
  IF perm IS NULL THEN
    RAISE EXCEPTION 'endpoint % has no permission', p_fn; -- a route table bug: 500
  END IF;
  PERFORM cdrp.set_caller(me, p_why);
  IF NOT cdrp.has_permission(me.roles, perm) THEN
    PERFORM cdrp.deny(p_agency, p_cn, p_fn, jsonb_build_object('permission', perm));
    status := 403;
    body := cdrp.problem('forbidden', format('this needs the %s permission', perm));
    RETURN;
  END IF;

  IF p_key IS NOT NULL THEN
    -- Keys belong to one user. Claim the key first: a concurrent duplicate
    -- waits here until we commit, then sees our row and replays it.
    INSERT INTO cdrp.idempotency_keys (agency_id, user_id, key, request_hash, status, response)
    VALUES (me.agency_id, me.user_id, p_key, p_hash, 0, '{}') ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
      SELECT * INTO k FROM cdrp.idempotency_keys i
      WHERE i.agency_id = me.agency_id AND i.user_id = me.user_id AND i.key = p_key;
      IF k.request_hash = p_hash THEN
        status := k.status; body := k.response; etag := k.etag; replay := true;
        PERFORM cdrp.audit(me.agency_id, me.user_id, 'disclose', 'replay', NULL,
                           jsonb_build_object('endpoint', p_fn));
      ELSE
        status := 409;
        body := cdrp.problem('idempotency_conflict',
                             'this Idempotency-Key was used before with a different request');
      END IF;
      RETURN;
    END IF;
  END IF;

  SELECT * INTO status, body, replay, etag FROM cdrp.run_endpoint(me, p_fn, p_args);

  IF status IN (403, 404) THEN
    -- Every refusal and every probe of what the caller may not see is
    -- audited here, once, after the endpoint's own work was rolled back.
    PERFORM cdrp.deny(p_agency, p_cn, p_fn,
      jsonb_strip_nulls(jsonb_build_object('status', status, 'code', body->>'code',
                                           'id', p_args->>'id')));
  END IF;
  IF p_key IS NOT NULL THEN
    IF status >= 400 THEN
      -- Nothing was done: free the key, so the same request is judged
      -- afresh once whatever refused it has changed.
      DELETE FROM cdrp.idempotency_keys i
      WHERE i.agency_id = me.agency_id AND i.user_id = me.user_id AND i.key = p_key;
    ELSE
      UPDATE cdrp.idempotency_keys i SET status = call.status, response = call.body,
             etag = call.etag,
             referral_id = CASE WHEN p_fn = 'referral_submit' THEN (call.body->>'id')::bigint END
      WHERE i.agency_id = me.agency_id AND i.user_id = me.user_id AND i.key = p_key;
    END IF;
  END IF;
END $$;

GRANT USAGE ON SCHEMA cdrp_api TO cdrp_app;

-- Forgets Idempotency-Keys older than p_ttl_s seconds (cdrpd's
-- idempotency_key_ttl_s, default 24 h), at most p_max at a time: a retry
-- after that is a new request. Keys are per user, so the purge widens the
-- scope for its own transaction only (it is never grouped with a request).
CREATE FUNCTION cdrp_api.idempotency_purge(p_ttl_s int, p_max int,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE n int;
BEGIN
  IF p_ttl_s < 1 OR p_max < 1 THEN
    RAISE EXCEPTION 'idempotency_purge: ttl % max %', p_ttl_s, p_max;
  END IF;
  PERFORM cdrp.clear_caller();
  PERFORM set_config('cdrp.scope', 'all', true);
  DELETE FROM cdrp.idempotency_keys
  WHERE ctid = ANY (ARRAY(SELECT i.ctid FROM cdrp.idempotency_keys i
                          WHERE i.created_at < now() - make_interval(secs => p_ttl_s)
                          ORDER BY i.created_at LIMIT p_max));
  GET DIAGNOSTICS n = ROW_COUNT;
  PERFORM set_config('cdrp.scope', '', true);
  status := 200; replay := false;
  body := jsonb_build_object('purged', n);
END $$;
GRANT EXECUTE ON FUNCTION cdrp_api.idempotency_purge(int, int) TO cdrp_app;
GRANT EXECUTE ON FUNCTION cdrp_api.call(text, text, text, jsonb, text, bytea, text, text)
  TO cdrp_app;

-- ---- health and referral intake -----------------------------------------

CREATE FUNCTION cdrp_impl.health(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  status := 200;
  body := jsonb_build_object('status', 'ok', 'database', 'ok',
                             'schema_version', cdrp.schema_version(), 'time', cdrp.utc(now()),
                             'partnership', (SELECT code FROM cdrp.partnerships
                                             WHERE id = me.partnership_id),
                             'audit', coalesce(p_args->'audit', '{}'::jsonb)
                                      || cdrp.audit_backlog());
END $$;

-- A new referral's answer (and its Idempotency-Key's stored response).
CREATE FUNCTION cdrp.referral_created(p_id bigint, p_body jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('id', p_id,
           'reference', 'REF-' || extract(year FROM now() AT TIME ZONE 'UTC')::int || '-'
                        || lpad(p_id::text, 6, '0'),
           'status', 'submitted', 'case_kind', p_body->>'case_kind',
           'submitted_at', cdrp.utc(now()))
$$;

-- Creates referrals from validated bodies under ids taken beforehand
-- (nextval of the referrals' sequence), one statement per table however
-- many there are: the referral, its first transition and its audit row.
-- The reference and time are those of cdrp.referral_created.
CREATE FUNCTION cdrp.referrals_create(me cdrp.caller, p_ids bigint[], p_bodies jsonb[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO cdrp.referrals (id, partnership_id, reference, agency_id, user_id, case_kind,
                              subject_type, marking, body, submitted_at, updated_at)
  SELECT u.rid, me.partnership_id, cdrp.referral_created(u.rid, u.b)->>'reference',
         me.agency_id, me.user_id, u.b->>'case_kind', u.b->'subject'->>'type',
         coalesce(u.b->>'marking', 'OFFICIAL'), u.b, now(), now()
  FROM unnest(p_ids, p_bodies) u(rid, b);
  INSERT INTO cdrp.referral_transitions (referral_id, from_status, to_status, user_id, at)
  SELECT rid, NULL, 'submitted', me.user_id, now() FROM unnest(p_ids) rid;
  INSERT INTO cdrp.audit_log (agency_id, user_id, action, object_type, object_id, justification)
  SELECT me.agency_id, me.user_id, 'collect', 'referral', rid,
         nullif(current_setting('cdrp.justification', true), '')
  FROM unnest(p_ids) rid;
END $$;

CREATE FUNCTION cdrp.referral_next_id() RETURNS bigint LANGUAGE sql AS $$
  SELECT nextval(pg_get_serial_sequence('cdrp.referrals', 'id'))
$$;

-- POST /v1/referrals (always with an Idempotency-Key: cdrpd requires it).
CREATE FUNCTION cdrp_impl.referral_submit(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE rid bigint := cdrp.referral_next_id();
BEGIN
  PERFORM cdrp.referrals_create(me, ARRAY[rid], ARRAY[p_args->'body']);
  status := 201;
  body := cdrp.referral_created(rid, p_args->'body');
END $$;

-- Several POST /v1/referrals of one caller at once: what cdrpd's group
-- commit sends instead of one call() each (daemon/db.c, "merged" calls).
-- Same parameters as call(), the per-request ones as arrays; one row per
-- request, n counting from 1. The common case, a key not seen before, is
-- done set-based: each key is claimed with its final answer (a concurrent
-- claim of the same key waits for us, as in call()), and the referrals of
-- the keys claimed are created with one statement per table. Anything
-- else (a key used before, or twice in this batch; an identity or
-- permission refused; no key) goes through call() one by one, so
-- refusals, replays and conflicts have one implementation.
CREATE FUNCTION cdrp_api.submit_referrals(p_agency text, p_cn text, p_fn text, p_args jsonb[],
  p_keys text[], p_hashes bytea[], p_partnership text DEFAULT NULL, p_why text DEFAULT NULL)
RETURNS TABLE (n int, status int, body jsonb, replay boolean, etag text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE me cdrp.caller; fresh int[] := '{}'; ids bigint[]; answers jsonb[];
BEGIN
  IF p_fn <> 'referral_submit' OR cardinality(p_args) <> cardinality(p_keys)
     OR cardinality(p_args) <> cardinality(p_hashes) THEN
    RAISE EXCEPTION 'submit_referrals: % with % args, % keys, % hashes', p_fn,
      cardinality(p_args), cardinality(p_keys), cardinality(p_hashes); -- a cdrpd bug: 500
  END IF;
  PERFORM cdrp.clear_caller();
  -- whoami, not caller(): a refused identity is audited once, by call().
  SELECT w.user_id, w.agency_id, w.partnership_id, w.roles, p_agency, p_cn INTO me
  FROM cdrp.whoami(p_agency, p_cn, p_partnership) w;
  IF me.user_id IS NOT NULL AND cdrp.has_permission(me.roles, cdrp.endpoint_permission(p_fn))
     AND array_position(p_keys, NULL) IS NULL THEN
    PERFORM cdrp.set_caller(me, p_why);
    ids := ARRAY(SELECT cdrp.referral_next_id() FROM generate_series(1, cardinality(p_args)));
    WITH claimed AS (
      INSERT INTO cdrp.idempotency_keys AS i (agency_id, user_id, key, request_hash, status,
                                              response, referral_id)
      SELECT me.agency_id, me.user_id, r.k, r.h, 201,
             cdrp.referral_created(r.rid, r.args->'body'), r.rid
      FROM unnest(p_keys, p_hashes, ids, p_args) r(k, h, rid, args)
      ON CONFLICT DO NOTHING RETURNING i.referral_id, i.response)
    SELECT coalesce(array_agg(r.n::int ORDER BY r.n), '{}'), array_agg(c.response ORDER BY r.n)
    INTO fresh, answers
    FROM unnest(ids) WITH ORDINALITY r(rid, n) JOIN claimed c ON c.referral_id = r.rid;
    IF cardinality(fresh) > 0 THEN
      PERFORM cdrp.referrals_create(me, ARRAY(SELECT ids[f] FROM unnest(fresh) f),
                                    ARRAY(SELECT p_args[f]->'body' FROM unnest(fresh) f));
      -- the answers stored with the keys
      RETURN QUERY SELECT a.f, 201, a.body, false, NULL::text FROM unnest(fresh, answers) a(f, body);
    END IF;
  END IF;
  RETURN QUERY
    SELECT r.n::int, c.*
    FROM unnest(p_args, p_keys, p_hashes) WITH ORDINALITY r(args, k, h, n),
         LATERAL cdrp_api.call(p_agency, p_cn, p_fn, r.args, r.k, r.h, p_partnership, p_why) c
    WHERE r.n <> ALL (fresh)
    ORDER BY r.n;
END $$;
GRANT EXECUTE ON FUNCTION
  cdrp_api.submit_referrals(text, text, text, jsonb[], text[], bytea[], text, text) TO cdrp_app;

-- GET /v1/referrals/{id}
CREATE FUNCTION cdrp_impl.referral_get(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE r cdrp.referrals;
BEGIN
  SELECT * INTO r FROM cdrp.referrals WHERE id = cdrp.path_id(p_args->>'id');
  IF NOT FOUND OR NOT cdrp.referral_visible(r, me.agency_id, me.partnership_id, me.roles) THEN
    status := 404; body := cdrp.problem('not_found', 'no such referral');
    RETURN;
  END IF;
  PERFORM cdrp.require_justification(r.marking, 'referral');
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'referral', r.id);
  status := 200; body := cdrp.referral_json(r, me);
END $$;

-- GET /v1/referrals?status=&cursor=&limit= (query already validated by
-- cdrpd: after is the decoded cursor, limit within bounds).
CREATE FUNCTION cdrp_impl.referral_list(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE
  q jsonb := p_args->'query'; items jsonb; n int; last_id bigint;
  p_status text := q->>'status'; p_after bigint := (q->>'after')::bigint;
  p_limit int := (q->>'limit')::int;
  -- submitted_from/to: UTC days, both included (cdrpd checked the dates)
  p_from timestamptz := ((q->>'submitted_from')::date)::timestamp AT TIME ZONE 'UTC';
  p_to timestamptz := ((q->>'submitted_to')::date + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
  -- One row beyond the page tells whether there is a next page.
  SELECT coalesce(jsonb_agg(x.j ORDER BY x.id DESC) FILTER (WHERE x.rn <= p_limit), '[]'),
         count(*), min(x.id) FILTER (WHERE x.rn <= p_limit)
  INTO items, n, last_id
  FROM (SELECT r.id, row_number() OVER (ORDER BY r.id DESC) AS rn,
               jsonb_build_object('id', r.id, 'reference', r.reference, 'status', r.status,
                 'case_kind', r.case_kind, 'subject_type', r.subject_type,
                 -- the name only where reading the referral would show it: an
                 -- OFFICIAL-SENSITIVE one needs a stated justification
                 'subject_name', CASE WHEN r.marking <> 'OFFICIAL-SENSITIVE'
                                        OR cdrp.justification() IS NOT NULL
                                      THEN r.body->'subject'->>'name' END,
                 'marking', r.marking, 'case_id', r.case_id,
                 'agency', a.code, 'submitted_at', cdrp.utc(r.submitted_at),
                 'updated_at', cdrp.utc(r.updated_at)) AS j
        FROM cdrp.referrals r JOIN cdrp.agencies a ON a.id = r.agency_id
        WHERE cdrp.referral_visible(r, me.agency_id, me.partnership_id, me.roles)
          AND (p_status IS NULL OR r.status = p_status)
          AND (p_from IS NULL OR r.submitted_at >= p_from)
          AND (p_to IS NULL OR r.submitted_at < p_to)
          AND (p_after IS NULL OR p_after = 0 OR r.id < p_after)
        ORDER BY r.id DESC LIMIT p_limit + 1) x;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'referral_list', NULL,
                     jsonb_build_object('count', least(n, p_limit)));
  status := 200;
  body := jsonb_build_object('items', items, 'next_cursor',
                             CASE WHEN n > p_limit THEN cdrp.cursor_encode(last_id) END);
END $$;

CREATE FUNCTION cdrp.admin_register_partnership(p_code text, p_name text) RETURNS int
LANGUAGE sql AS $$
  INSERT INTO cdrp.partnerships (code, name) VALUES (p_code, p_name)
  ON CONFLICT (code) DO UPDATE SET name = excluded.name RETURNING id
$$;

-- Registers (or updates) an agency; with no partnership named, the only
-- partnership (created as "CSP" if there is none).
CREATE FUNCTION cdrp.admin_register_agency(p_code text, p_name text, p_kind text,
                                           p_partnership text DEFAULT NULL) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE pid int; aid int;
BEGIN
  IF p_partnership IS NOT NULL THEN
    SELECT id INTO pid FROM cdrp.partnerships WHERE code = p_partnership;
  ELSE
    IF (SELECT count(*) FROM cdrp.partnerships) > 1 THEN
      RAISE EXCEPTION 'several partnerships exist: name one';
    END IF;
    SELECT id INTO pid FROM cdrp.partnerships;
    IF pid IS NULL THEN
      pid := cdrp.admin_register_partnership('CSP', 'Community Safety Partnership');
    END IF;
  END IF;
  IF pid IS NULL THEN
    RAISE EXCEPTION 'no partnership %', p_partnership;
  END IF;
  INSERT INTO cdrp.agencies (partnership_id, code, name, kind) VALUES (pid, p_code, p_name, p_kind)
  ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind
  RETURNING id INTO aid;
  INSERT INTO cdrp.agency_partnerships (agency_id, partnership_id) VALUES (aid, pid)
  ON CONFLICT DO NOTHING;
  PERFORM cdrp.audit(NULL, NULL, 'alter', 'agency', aid);
  RETURN aid;
END $$;

CREATE FUNCTION cdrp.admin_register_user(p_agency text, p_cn text, p_display text,
                                         p_roles text[]) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE aid int; uid int;
BEGIN
  SELECT id INTO aid FROM cdrp.agencies WHERE code = p_agency;
  IF aid IS NULL THEN
    RAISE EXCEPTION 'no agency %', p_agency;
  END IF;
  INSERT INTO cdrp.users (agency_id, cn, display_name, roles)
  VALUES (aid, p_cn, p_display, p_roles)
  ON CONFLICT (agency_id, cn) DO UPDATE SET display_name = excluded.display_name,
                                          roles = excluded.roles, active = true
  RETURNING id INTO uid;
  PERFORM cdrp.audit(aid, NULL, 'alter', 'user', uid);
  RETURN uid;
END $$;


-- Registers (or re-registers) an ISA that the parties signed on paper, as
-- active: the bootstrap of a partnership's agreements from psql. The API's
-- isa_create/isa_sign are the normal way.
CREATE FUNCTION cdrp.admin_register_isa(p_partnership text, p_reference text, p_title text,
  p_purpose text, p_categories text[], p_parties text[], p_starts date,
  p_ends date DEFAULT NULL, p_marking text DEFAULT 'OFFICIAL', p_retention_months int DEFAULT 72)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE pid int := (SELECT id FROM cdrp.partnerships WHERE code = p_partnership); iid int;
BEGIN
  IF pid IS NULL THEN
    RAISE EXCEPTION 'no partnership %', p_partnership;
  END IF;
  INSERT INTO cdrp.isas (partnership_id, reference, title, purpose, data_categories,
                         lawful_basis, marking, retention_months, starts_on, ends_on, status,
                         status_reason, status_changed_at)
  VALUES (pid, p_reference, p_title, p_purpose, p_categories,
          'Crime and Disorder Act 1998 s.115; UK GDPR Art. 6(1)(e)', p_marking,
          p_retention_months, p_starts, p_ends, 'active', 'registered by the operator', now())
  ON CONFLICT (partnership_id, reference) DO UPDATE
    SET title = excluded.title, purpose = excluded.purpose,
        data_categories = excluded.data_categories, starts_on = excluded.starts_on,
        ends_on = excluded.ends_on, status = 'active'
  RETURNING id INTO iid;
  INSERT INTO cdrp.isa_parties (isa_id, agency_id)
  SELECT iid, a.id FROM cdrp.agencies a WHERE a.code = ANY (p_parties)
  ON CONFLICT DO NOTHING;
  IF (SELECT count(*) FROM cdrp.isa_parties WHERE isa_id = iid) <> cardinality(p_parties) THEN
    RAISE EXCEPTION 'ISA %: unknown party among %', p_reference, p_parties;
  END IF;
  INSERT INTO cdrp.isa_signatories (isa_id, agency_id, user_id)
  SELECT iid, p.agency_id, NULL FROM cdrp.isa_parties p WHERE p.isa_id = iid
  ON CONFLICT DO NOTHING;
  PERFORM cdrp.audit(NULL, NULL, 'alter', 'isa', iid,
                     jsonb_build_object('registered_by', 'operator'));
  RETURN iid;
END $$;
