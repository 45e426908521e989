-- 009_admin: administration through the API for the admin role: agencies
-- and users of the administrator's partnership, retention runs, subject
-- access requests and legal holds (proto/API.md "Administration").
--
-- Scope: an administrator acts within the partnership of the request.
-- Agencies: added to (or disabled in) that partnership only. Users: an
-- agency's users are managed by the administrators of its home
-- partnership (agencies.partnership_id), so a county force shared by
-- several partnerships is not managed by each of them. Disabling is
-- immediate: whoami() refuses the next request.

CREATE FUNCTION cdrp.agency_json(p_agency int, p_partnership int) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('code', a.code, 'name', a.name, 'kind', a.kind,
                            'active', a.active AND ap.active,
                            'home', a.partnership_id = p_partnership)
  FROM cdrp.agencies a JOIN cdrp.agency_partnerships ap
    ON ap.agency_id = a.id AND ap.partnership_id = p_partnership
  WHERE a.id = p_agency
$$;

CREATE FUNCTION cdrp.admin_user_json(p_user int) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('id', u.id, 'agency', a.code, 'cn', u.cn,
                            'display_name', u.display_name, 'roles', to_jsonb(u.roles),
                            'active', u.active)
  FROM cdrp.users u JOIN cdrp.agencies a ON a.id = u.agency_id WHERE u.id = p_user
$$;

-- POST /v1/admin/agencies: a new agency (home: this partnership), or an
-- existing one of another partnership joining this one.
CREATE FUNCTION cdrp_impl.admin_agency_add(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE b jsonb := p_args->'body'; aid int;
BEGIN
  SELECT id INTO aid FROM cdrp.agencies WHERE code = b->>'code';
  IF aid IS NULL THEN
    IF b->>'name' IS NULL OR b->>'kind' IS NULL THEN
      PERFORM cdrp.refuse(400, 'missing_field', 'a new agency needs a name and a kind',
                          CASE WHEN b->>'name' IS NULL THEN 'name' ELSE 'kind' END);
    END IF;
    BEGIN
      INSERT INTO cdrp.agencies (partnership_id, code, name, kind)
      VALUES (me.partnership_id, b->>'code', b->>'name', b->>'kind') RETURNING id INTO aid;
    EXCEPTION WHEN check_violation THEN
      PERFORM cdrp.refuse(400, 'invalid_field', 'an agency code is 2-16 of A-Z and 0-9', 'code');
    END;
    status := 201;
  ELSIF EXISTS (SELECT 1 FROM cdrp.agency_partnerships
                WHERE agency_id = aid AND partnership_id = me.partnership_id) THEN
    UPDATE cdrp.agency_partnerships SET active = true
    WHERE agency_id = aid AND partnership_id = me.partnership_id;
    status := 200;
  ELSE
    status := 201;
  END IF;
  INSERT INTO cdrp.agency_partnerships (agency_id, partnership_id)
  VALUES (aid, me.partnership_id) ON CONFLICT DO NOTHING;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'agency', aid,
                     jsonb_build_object('change', 'add'));
  body := cdrp.agency_json(aid, me.partnership_id);
END $$;

CREATE FUNCTION cdrp_impl.admin_agency_list(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
BEGIN
  SELECT jsonb_build_object('items', coalesce(jsonb_agg(
           cdrp.agency_json(ap.agency_id, me.partnership_id) ORDER BY a.code), '[]'))
  INTO body
  FROM cdrp.agency_partnerships ap JOIN cdrp.agencies a ON a.id = ap.agency_id
  WHERE ap.partnership_id = me.partnership_id;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'agency_list', NULL);
  status := 200;
END $$;

-- POST /v1/admin/agencies/{code}/disable: in this partnership, at once.
CREATE FUNCTION cdrp_impl.admin_agency_disable(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE aid int;
BEGIN
  SELECT a.id INTO aid FROM cdrp.agencies a JOIN cdrp.agency_partnerships ap
    ON ap.agency_id = a.id AND ap.partnership_id = me.partnership_id
  WHERE a.code = p_args->>'id';
  IF aid IS NULL THEN
    PERFORM cdrp.refuse(404, 'not_found', 'no such agency in this partnership');
  END IF;
  IF aid = me.agency_id THEN
    PERFORM cdrp.refuse(422, 'rule_violation', 'you cannot disable your own agency');
  END IF;
  UPDATE cdrp.agency_partnerships SET active = false
  WHERE agency_id = aid AND partnership_id = me.partnership_id;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'agency', aid,
                     jsonb_build_object('change', 'disable', 'reason',
                                        p_args->'body'->>'reason'));
  status := 200; body := cdrp.agency_json(aid, me.partnership_id);
END $$;

-- The users an administrator manages: of agencies whose home is the
-- administrator's partnership.
CREATE FUNCTION cdrp.admin_user_lookup(me cdrp.caller, p_id text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE uid int;
BEGIN
  SELECT u.id INTO uid FROM cdrp.users u JOIN cdrp.agencies a ON a.id = u.agency_id
  WHERE u.id = cdrp.path_id(p_id) AND a.partnership_id = me.partnership_id;
  IF uid IS NULL THEN
    PERFORM cdrp.refuse(404, 'not_found', 'no such user among this partnership''s agencies');
  END IF;
  RETURN uid;
END $$;

-- POST /v1/admin/users: add, or update and re-enable.
CREATE FUNCTION cdrp_impl.admin_user_add(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE b jsonb := p_args->'body'; aid int; uid int;
  new_roles text[] := ARRAY(SELECT DISTINCT jsonb_array_elements_text(b->'roles'));
BEGIN
  SELECT id INTO aid FROM cdrp.agencies
  WHERE code = b->>'agency' AND partnership_id = me.partnership_id;
  IF aid IS NULL THEN
    PERFORM cdrp.refuse(422, 'rule_violation',
                        'agency is not one whose home is this partnership', 'agency');
  END IF;
  SELECT id INTO uid FROM cdrp.users WHERE agency_id = aid AND cn = b->>'cn';
  status := CASE WHEN uid IS NULL THEN 201 ELSE 200 END;
  INSERT INTO cdrp.users (agency_id, cn, display_name, roles)
  VALUES (aid, b->>'cn', coalesce(b->>'display_name', b->>'cn'), new_roles)
  ON CONFLICT (agency_id, cn) DO UPDATE
    SET display_name = coalesce(b->>'display_name', cdrp.users.display_name),
        roles = excluded.roles, active = true
  RETURNING id INTO uid;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'user', uid,
                     jsonb_build_object('change', 'add', 'roles', to_jsonb(new_roles)));
  body := cdrp.admin_user_json(uid);
END $$;

CREATE FUNCTION cdrp_impl.admin_user_list(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
BEGIN
  SELECT jsonb_build_object('items', coalesce(jsonb_agg(cdrp.admin_user_json(u.id)
           ORDER BY a.code, u.cn), '[]'))
  INTO body
  FROM cdrp.users u JOIN cdrp.agencies a ON a.id = u.agency_id
  WHERE a.partnership_id = me.partnership_id
    AND (p_args->'query'->>'agency' IS NULL OR a.code = p_args->'query'->>'agency');
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'user_list', NULL);
  status := 200;
END $$;

CREATE FUNCTION cdrp_impl.admin_user_disable(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE uid int := cdrp.admin_user_lookup(me, p_args->>'id');
BEGIN
  IF uid = me.user_id THEN
    PERFORM cdrp.refuse(422, 'rule_violation', 'you cannot disable yourself');
  END IF;
  UPDATE cdrp.users SET active = false WHERE id = uid;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'user', uid,
                     jsonb_build_object('change', 'disable', 'reason',
                                        p_args->'body'->>'reason'));
  status := 200; body := cdrp.admin_user_json(uid);
END $$;

CREATE FUNCTION cdrp_impl.admin_user_roles(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE uid int := cdrp.admin_user_lookup(me, p_args->>'id');
  new_roles text[] := ARRAY(SELECT DISTINCT jsonb_array_elements_text(p_args->'body'->'roles'));
BEGIN
  IF uid = me.user_id AND NOT 'admin' = ANY (new_roles) THEN
    PERFORM cdrp.refuse(422, 'rule_violation', 'you cannot remove your own admin role');
  END IF;
  UPDATE cdrp.users u SET roles = new_roles WHERE u.id = uid;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'user', uid,
                     jsonb_build_object('change', 'roles', 'roles', to_jsonb(new_roles)));
  status := 200; body := cdrp.admin_user_json(uid);
END $$;

-- POST /v1/cases/{id}/legal-hold
CREATE FUNCTION cdrp_impl.admin_legal_hold(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE cid bigint := cdrp.case_resolve(me.partnership_id, p_args->>'id');
  hold boolean := (p_args->'body'->>'hold')::boolean;
BEGIN
  IF cid IS NULL OR NOT cdrp.case_readable(cid, me.agency_id, me.roles) THEN
    PERFORM cdrp.refuse(404, 'not_found', 'no such case');
  END IF;
  PERFORM cdrp.with_scope('partnership');
  UPDATE cdrp.cases SET legal_hold = hold, version = version + 1 WHERE id = cid;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'case', cid,
                     jsonb_build_object('change', 'legal_hold', 'hold', hold,
                                        'reason', p_args->'body'->>'reason'));
  status := 200;
  body := jsonb_build_object('case', (SELECT reference FROM cdrp.cases WHERE id = cid),
                             'legal_hold', hold);
END $$;

-- ---- retention ----------------------------------------------------------
-- A closed case is kept for the partnership's retention period
-- (config retention.case_months, default 72), or longer when an ISA of its
-- lead agency sets a longer one; then its personal data is erased unless a
-- legal hold is set. The case row stays (reference, dates, outcome: the
-- statistics), with every name, address, contact, free text and referral
-- body replaced; persons on no other live case are erased too.

CREATE FUNCTION cdrp.case_retention_months(c cdrp.cases) RETURNS int
LANGUAGE sql STABLE AS $$
  SELECT greatest(coalesce((cdrp.config(c.partnership_id)->'retention'->>'case_months')::int, 72),
                  coalesce((SELECT max(i.retention_months) FROM cdrp.isas i
                            JOIN cdrp.isa_parties p ON p.isa_id = i.id
                            WHERE i.partnership_id = c.partnership_id
                              AND p.agency_id = c.lead_agency_id
                              AND i.status IN ('active', 'suspended')), 0))
$$;

CREATE FUNCTION cdrp.case_erase(me cdrp.caller, c cdrp.cases) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE gone bigint[];
BEGIN
  gone := ARRAY(SELECT DISTINCT cp.person_id FROM cdrp.case_persons cp
                   WHERE cp.case_id = c.id
                     AND NOT EXISTS (SELECT 1 FROM cdrp.case_persons o
                                     JOIN cdrp.cases oc ON oc.id = o.case_id
                                     WHERE o.person_id = cp.person_id AND o.case_id <> c.id
                                       AND oc.erased_at IS NULL));
  UPDATE cdrp.cases SET subject_name = '[erased]', ward = NULL, erased_at = now(),
                        version = version + 1
  WHERE id = c.id;
  UPDATE cdrp.persons SET name = '[erased]', date_of_birth = NULL, erased_at = now()
  WHERE id = ANY (gone);
  DELETE FROM cdrp.person_contacts WHERE person_id = ANY (gone);
  UPDATE cdrp.referrals SET body = jsonb_build_object('erased', true,
                                                      'case_kind', case_kind),
                            decision_reason = NULL
  WHERE case_id = c.id;
  UPDATE cdrp.referral_transitions SET reason = NULL
  WHERE referral_id IN (SELECT id FROM cdrp.referrals WHERE case_id = c.id);
  UPDATE cdrp.incidents SET place = '[erased]', description = NULL WHERE case_id = c.id;
  UPDATE cdrp.risk_assessments SET answers = '{}'::jsonb WHERE case_id = c.id;
  UPDATE cdrp.actions SET notes = NULL WHERE case_id = c.id;
  UPDATE cdrp.case_status_history SET reason = NULL WHERE case_id = c.id;
  UPDATE cdrp.ppo_strand_history SET reason = NULL, exit_strategy = NULL WHERE case_id = c.id;
  UPDATE cdrp.case_decisions SET notes = NULL WHERE case_id = c.id;
  -- Notes are append-only; erasure is the one change allowed (the trigger
  -- reads this transaction-local flag).
  PERFORM set_config('cdrp.erasing', 'on', true);
  UPDATE cdrp.case_notes SET body = '[erased]' WHERE case_id = c.id;
  PERFORM set_config('cdrp.erasing', '', true);
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'erase', 'case', c.id,
                     jsonb_build_object('persons', cardinality(gone),
                                        'closed_at', cdrp.utc(c.closed_at),
                                        'retention_months', cdrp.case_retention_months(c)));
END $$;

-- POST /v1/admin/retention/run {"dry_run": bool}
CREATE FUNCTION cdrp_impl.admin_retention_run(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE dry boolean := coalesce((p_args->'body'->>'dry_run')::boolean, false);
  c cdrp.cases; erased jsonb := '[]'; held int := 0;
BEGIN
  PERFORM cdrp.with_scope('partnership');
  FOR c IN SELECT * FROM cdrp.cases x
           WHERE x.partnership_id = me.partnership_id AND x.status = 'closed'
             AND x.erased_at IS NULL
             AND x.closed_at + make_interval(months => cdrp.case_retention_months(x)) < now()
           ORDER BY x.id FOR UPDATE LOOP
    IF c.legal_hold THEN
      held := held + 1;
      CONTINUE;
    END IF;
    IF NOT dry THEN
      PERFORM cdrp.case_erase(me, c);
    END IF;
    erased := erased || jsonb_build_object('case', c.reference, 'closed_at', cdrp.utc(c.closed_at));
  END LOOP;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'retention_run', NULL,
                     jsonb_build_object('dry_run', dry, 'count', jsonb_array_length(erased),
                                        'held', held));
  status := 200;
  body := jsonb_build_object('dry_run', dry, 'count', jsonb_array_length(erased),
                             'erased', erased, 'held', held);
END $$;

-- ---- subject access request -----------------------------------------------

-- GET /v1/admin/sar?person=ID: everything held about one person of the
-- partnership, as JSON; audited as a disclosure.
CREATE FUNCTION cdrp_impl.admin_sar(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE pid bigint := (p_args->'query'->>'person')::bigint; p cdrp.persons;
BEGIN
  IF pid IS NULL THEN
    PERFORM cdrp.refuse(400, 'invalid_parameter', 'name the person: ?person=ID', 'person');
  END IF;
  PERFORM cdrp.with_scope('partnership');
  SELECT * INTO p FROM cdrp.persons x WHERE x.id = pid AND x.partnership_id = me.partnership_id;
  IF NOT FOUND THEN
    PERFORM cdrp.refuse(404, 'not_found', 'no such person');
  END IF;
  body := jsonb_build_object(
    'exported_at', cdrp.utc(now()),
    'person', jsonb_build_object('id', p.id, 'name', p.name, 'date_of_birth', p.date_of_birth,
                                 'vulnerable', p.vulnerable, 'erased_at', cdrp.utc(p.erased_at),
                                 'created_at', cdrp.utc(p.created_at)),
    'contacts', (SELECT to_jsonb(pc) - 'person_id' FROM cdrp.person_contacts pc
                 WHERE pc.person_id = p.id),
    'cases', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'case', c.reference, 'kind', c.case_kind, 'role', cp.role, 'status', c.status,
                'lead_agency', (SELECT code FROM cdrp.agencies WHERE id = c.lead_agency_id),
                'referral_date', c.referral_date, 'closed_at', cdrp.utc(c.closed_at))
                ORDER BY c.id), '[]')
              FROM cdrp.case_persons cp JOIN cdrp.cases c ON c.id = cp.case_id
              WHERE cp.person_id = p.id),
    'incidents', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'case', (SELECT reference FROM cdrp.cases WHERE id = i.case_id),
                    'occurred_on', i.occurred_on, 'category', i.category, 'place', i.place,
                    'description', i.description,
                    'as', CASE WHEN iv.person_id IS NOT NULL THEN 'victim' ELSE 'reporter' END)
                    ORDER BY i.id), '[]')
                  FROM cdrp.incidents i
                  LEFT JOIN cdrp.incident_victims iv ON iv.incident_id = i.id
                    AND iv.person_id = p.id
                  WHERE iv.person_id IS NOT NULL
                     OR EXISTS (SELECT 1 FROM cdrp.incident_reports r
                                WHERE r.incident_id = i.id AND r.reporter_person_id = p.id)),
    'victim_flags', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'reason', f.reason, 'at', cdrp.utc(f.at),
                       'cleared_at', cdrp.utc(f.cleared_at)) ORDER BY f.id), '[]')
                     FROM cdrp.victim_flags f WHERE f.person_id = p.id),
    'case_reviews', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'applied_on', r.applied_on, 'threshold_met', r.threshold_met,
                       'decided_on', r.decided_on, 'meeting_on', r.meeting_on,
                       'recommendations', r.recommendations) ORDER BY r.id), '[]')
                     FROM cdrp.case_reviews r WHERE r.person_id = p.id),
    'risk_assessments', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                           'case', (SELECT reference FROM cdrp.cases WHERE id = r.case_id),
                           'score', r.score, 'band', r.band, 'answers', r.answers,
                           'assessed_at', cdrp.utc(r.assessed_at)) ORDER BY r.id), '[]')
                         FROM cdrp.risk_assessments r WHERE r.person_id = p.id));
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'disclose', 'subject_access', p.id);
  status := 200;
END $$;
