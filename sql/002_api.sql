-- 002_api: the database API that cdrpd calls, and the administration
-- functions devstack and operators call.
--
-- Every cdrp_api function takes the caller's verified identity (agency code
-- and certificate CN, taken by cdrpd from the TLS client certificate),
-- resolves it, checks the role, does its work, writes its audit row in the
-- same transaction and returns (status, body, replay): the HTTP status, the
-- JSON body (a success body, or {code, detail, field} for an error) and
-- whether it is an idempotent replay. One statement, one round trip.

CREATE SCHEMA cdrp_api;

-- Resolve a certificate identity to an active user of an active agency.
CREATE FUNCTION cdrp.whoami(p_agency text, p_cn text)
RETURNS TABLE (user_id int, agency_id int, partnership_id int, roles text[])
LANGUAGE sql STABLE AS $$
  SELECT u.id, a.id, a.partnership_id, u.roles
  FROM cdrp.agencies a JOIN cdrp.users u ON u.agency_id = a.id
  WHERE a.code = p_agency AND u.cn = p_cn AND a.active AND u.active
$$;

CREATE FUNCTION cdrp.problem(p_code text, p_detail text, p_field text DEFAULT NULL)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('code', p_code, 'detail', p_detail,
                                              'field', p_field))
$$;

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

-- Which referrals a user may see: their agency's own, or all of the
-- partnership's for caseworkers, chairs and administrators.
CREATE FUNCTION cdrp.referral_visible(r cdrp.referrals, p_agency int, p_partnership int,
                                      p_roles text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT r.partnership_id = p_partnership
     AND (r.agency_id = p_agency OR p_roles && ARRAY['caseworker', 'chair', 'admin'])
$$;

CREATE FUNCTION cdrp_api.health(p_agency text, p_cn text,
  OUT status int, OUT body jsonb, OUT replay boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, cdrp AS $$
BEGIN
  replay := false;
  IF NOT EXISTS (SELECT 1 FROM cdrp.whoami(p_agency, p_cn)) THEN
    status := 403; body := cdrp.problem('unknown_identity', 'certificate identity is not registered');
    RETURN;
  END IF;
  status := 200;
  body := jsonb_build_object('status', 'ok', 'database', 'ok',
                             'schema_version', cdrp.schema_version(), 'time', cdrp.utc(now()));
END $$;

-- Unknown identities and role refusals are audited as 'deny'.
CREATE FUNCTION cdrp.deny(p_agency text, p_cn text, p_what text) RETURNS void
LANGUAGE sql AS $$
  SELECT cdrp.audit((SELECT id FROM cdrp.agencies WHERE code = p_agency), NULL, 'deny', p_what,
                    NULL, jsonb_build_object('cn', p_cn))
$$;

CREATE FUNCTION cdrp_api.referral_submit(p_agency text, p_cn text, p_key text, p_hash bytea,
  p_body jsonb, OUT status int, OUT body jsonb, OUT replay boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, cdrp AS $$
DECLARE
  me record; k cdrp.idempotency_keys; rid bigint; ref text; at timestamptz := now();
BEGIN
  replay := false;
  SELECT * INTO me FROM cdrp.whoami(p_agency, p_cn);
  IF NOT FOUND THEN
    PERFORM cdrp.deny(p_agency, p_cn, 'referral');
    status := 403; body := cdrp.problem('unknown_identity', 'certificate identity is not registered');
    RETURN;
  END IF;
  IF NOT 'referrer' = ANY (me.roles) THEN
    PERFORM cdrp.deny(p_agency, p_cn, 'referral');
    status := 403; body := cdrp.problem('forbidden', 'submitting referrals needs the referrer role');
    RETURN;
  END IF;

  -- Claim the key first: a concurrent duplicate waits here until we commit,
  -- then sees our row and replays it.
  INSERT INTO cdrp.idempotency_keys (agency_id, key, request_hash, status, response)
  VALUES (me.agency_id, p_key, p_hash, 0, '{}') ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN
    SELECT * INTO k FROM cdrp.idempotency_keys WHERE agency_id = me.agency_id AND key = p_key;
    IF k.request_hash = p_hash THEN
      status := k.status; body := k.response; replay := true;
    ELSE
      status := 409;
      body := cdrp.problem('idempotency_conflict',
                           'this Idempotency-Key was used before with a different body');
    END IF;
    RETURN;
  END IF;

  rid := nextval(pg_get_serial_sequence('cdrp.referrals', 'id'));
  ref := 'REF-' || extract(year FROM at AT TIME ZONE 'UTC')::int || '-' || lpad(rid::text, 6, '0');
  INSERT INTO cdrp.referrals (id, partnership_id, reference, agency_id, user_id, case_kind,
                              subject_type, marking, body, submitted_at, updated_at)
  VALUES (rid, me.partnership_id, ref, me.agency_id, me.user_id, p_body->>'case_kind',
          p_body->'subject'->>'type', coalesce(p_body->>'marking', 'OFFICIAL'), p_body, at, at);
  INSERT INTO cdrp.referral_transitions (referral_id, from_status, to_status, user_id, at)
  VALUES (rid, NULL, 'submitted', me.user_id, at);

  status := 201;
  body := jsonb_build_object('id', rid, 'reference', ref, 'status', 'submitted',
                             'case_kind', p_body->>'case_kind', 'submitted_at', cdrp.utc(at));
  UPDATE cdrp.idempotency_keys SET status = 201, response = body, referral_id = rid
  WHERE agency_id = me.agency_id AND key = p_key;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'collect', 'referral', rid);
END $$;

CREATE FUNCTION cdrp.referral_json(r cdrp.referrals) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', r.id, 'reference', r.reference, 'status', r.status, 'case_kind', r.case_kind,
    'subject', r.body->'subject', 'reason', r.body->'reason',
    'incidents', coalesce(r.body->'incidents', '[]'), 'victims', coalesce(r.body->'victims', '[]'),
    'risk', r.body->'risk', 'requested_action', r.body->'requested_action',
    'marking', r.marking, 'strand', r.body->'strand',
    'agency', (SELECT code FROM cdrp.agencies WHERE id = r.agency_id),
    'submitted_by', (SELECT cn FROM cdrp.users WHERE id = r.user_id),
    'submitted_at', cdrp.utc(r.submitted_at), 'updated_at', cdrp.utc(r.updated_at),
    'decision_reason', r.decision_reason,
    'case_reference', (SELECT reference FROM cdrp.cases WHERE id = r.case_id))
$$;

CREATE FUNCTION cdrp_api.referral_get(p_agency text, p_cn text, p_id bigint,
  OUT status int, OUT body jsonb, OUT replay boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, cdrp AS $$
DECLARE me record; r cdrp.referrals;
BEGIN
  replay := false;
  SELECT * INTO me FROM cdrp.whoami(p_agency, p_cn);
  IF NOT FOUND THEN
    PERFORM cdrp.deny(p_agency, p_cn, 'referral');
    status := 403; body := cdrp.problem('unknown_identity', 'certificate identity is not registered');
    RETURN;
  END IF;
  SELECT * INTO r FROM cdrp.referrals WHERE id = p_id;
  IF NOT FOUND OR NOT cdrp.referral_visible(r, me.agency_id, me.partnership_id, me.roles) THEN
    status := 404; body := cdrp.problem('not_found', 'no such referral');
    RETURN;
  END IF;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'referral', r.id);
  status := 200; body := cdrp.referral_json(r);
END $$;

CREATE FUNCTION cdrp_api.referral_list(p_agency text, p_cn text, p_status text,
  p_after bigint, p_limit int, OUT status int, OUT body jsonb, OUT replay boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, cdrp AS $$
DECLARE me record; items jsonb; n int; last_id bigint;
BEGIN
  replay := false;
  SELECT * INTO me FROM cdrp.whoami(p_agency, p_cn);
  IF NOT FOUND THEN
    PERFORM cdrp.deny(p_agency, p_cn, 'referral');
    status := 403; body := cdrp.problem('unknown_identity', 'certificate identity is not registered');
    RETURN;
  END IF;
  -- One row beyond the page tells whether there is a next page.
  SELECT coalesce(jsonb_agg(x.j ORDER BY x.id DESC) FILTER (WHERE x.rn <= p_limit), '[]'),
         count(*), min(x.id) FILTER (WHERE x.rn <= p_limit)
  INTO items, n, last_id
  FROM (SELECT r.id, row_number() OVER (ORDER BY r.id DESC) AS rn,
               jsonb_build_object('id', r.id, 'reference', r.reference, 'status', r.status,
                 'case_kind', r.case_kind, 'subject_type', r.subject_type,
                 'agency', a.code, 'submitted_at', cdrp.utc(r.submitted_at)) AS j
        FROM cdrp.referrals r JOIN cdrp.agencies a ON a.id = r.agency_id
        WHERE cdrp.referral_visible(r, me.agency_id, me.partnership_id, me.roles)
          AND (p_status IS NULL OR r.status = p_status)
          AND (p_after IS NULL OR p_after = 0 OR r.id < p_after)
        ORDER BY r.id DESC LIMIT p_limit + 1) x;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'referral_list', NULL,
                     jsonb_build_object('count', least(n, p_limit)));
  status := 200;
  body := jsonb_build_object('items', items, 'next_cursor',
                             CASE WHEN n > p_limit THEN cdrp.cursor_encode(last_id) END);
END $$;

-- Administration (superuser only; not granted to cdrp_app).
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

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA cdrp, cdrp_api FROM PUBLIC;
GRANT USAGE ON SCHEMA cdrp_api TO cdrp_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA cdrp_api TO cdrp_app;
