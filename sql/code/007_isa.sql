-- 007_isa: the information-sharing agreement endpoints (proto/API.md
-- "Information-sharing agreements"). The sharing rule itself is in
-- 003_isa.sql.
--
-- Life of an ISA: created as draft by an administrator; each party agency
-- signs once, by one of its administrators; when every party has signed it
-- is active. Active <-> suspended by an administrator of a party, with a
-- reason; terminated (final) likewise. An active ISA past its end date is
-- expired without anyone acting; one past its review date is flagged
-- review_due and prompted in the list.

CREATE FUNCTION cdrp.isa_json(p_isa int) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', i.id, 'reference', i.reference, 'title', i.title, 'purpose', i.purpose,
    'description', i.description, 'data_categories', to_jsonb(i.data_categories),
    'lawful_basis', i.lawful_basis, 'marking', i.marking,
    'retention_months', i.retention_months, 'starts_on', i.starts_on,
    'review_on', i.review_on, 'ends_on', i.ends_on,
    'status', cdrp.isa_status(i.status, i.ends_on, cdrp.today()),
    'in_force', cdrp.isa_in_force(i.status, i.starts_on, i.ends_on, cdrp.today()),
    'review_due', i.review_on IS NOT NULL AND i.review_on <= cdrp.today()
                  AND i.status IN ('active', 'suspended'),
    'status_reason', i.status_reason,
    'parties', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                  'agency', a.code, 'signed', s.id IS NOT NULL,
                  'signed_at', cdrp.utc(s.signed_at)) ORDER BY a.code), '[]')
                FROM cdrp.isa_parties p JOIN cdrp.agencies a ON a.id = p.agency_id
                LEFT JOIN cdrp.isa_signatories s ON s.isa_id = i.id AND s.agency_id = a.id
                WHERE p.isa_id = i.id))
  FROM cdrp.isas i WHERE i.id = p_isa
$$;

-- An ISA of the caller's partnership by id or reference, locked; refuses
-- 404 otherwise.
CREATE FUNCTION cdrp.isa_lookup(me cdrp.caller, p_id text, p_lock boolean) RETURNS cdrp.isas
LANGUAGE plpgsql AS $$
DECLARE i cdrp.isas;
BEGIN
  SELECT * INTO i FROM cdrp.isas x
  WHERE x.partnership_id = me.partnership_id
    AND (x.id = cdrp.path_id(p_id) OR x.reference = p_id);
  IF NOT FOUND THEN
    PERFORM cdrp.refuse(404, 'not_found', 'no such information-sharing agreement');
  END IF;
  IF p_lock THEN
    SELECT * INTO i FROM cdrp.isas x WHERE x.id = i.id FOR UPDATE;
  END IF;
  RETURN i;
END $$;

-- Changes are made by administrators of a party agency.
CREATE FUNCTION cdrp.isa_require_party(me cdrp.caller, i cdrp.isas) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM cdrp.isa_parties p
                 WHERE p.isa_id = i.id AND p.agency_id = me.agency_id) THEN
    PERFORM cdrp.refuse(403, 'forbidden',
                        'only an administrator of a party agency may change this agreement');
  END IF;
END $$;

-- POST /v1/isas
CREATE FUNCTION cdrp_impl.isa_create(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE b jsonb := p_args->'body'; iid int; code text; aid int; n int := 0;
BEGIN
  IF (b->>'ends_on')::date < (b->>'starts_on')::date THEN
    PERFORM cdrp.refuse(422, 'rule_violation', 'ends_on is before starts_on', 'ends_on');
  END IF;
  IF (b->>'review_on')::date < (b->>'starts_on')::date THEN
    PERFORM cdrp.refuse(422, 'rule_violation', 'review_on is before starts_on', 'review_on');
  END IF;
  IF EXISTS (SELECT 1 FROM cdrp.isas WHERE partnership_id = me.partnership_id
             AND reference = b->>'reference') THEN
    PERFORM cdrp.refuse(409, 'invalid_transition', 'an agreement with this reference exists',
                        'reference');
  END IF;
  BEGIN
    INSERT INTO cdrp.isas (partnership_id, reference, title, purpose, description,
                           data_categories, lawful_basis, marking, retention_months, starts_on,
                           review_on, ends_on, created_by, status_changed_at)
    VALUES (me.partnership_id, b->>'reference', b->>'title', b->>'purpose', b->>'description',
            ARRAY(SELECT DISTINCT jsonb_array_elements_text(b->'data_categories')),
            b->>'lawful_basis', coalesce(b->>'marking', 'OFFICIAL'),
            (b->>'retention_months')::int, (b->>'starts_on')::date, (b->>'review_on')::date,
            (b->>'ends_on')::date, me.user_id, now())
    RETURNING id INTO iid;
  EXCEPTION WHEN check_violation THEN
    PERFORM cdrp.refuse(400, 'invalid_field',
                        'reference must be 1-40 of letters, digits and . _ -', 'reference');
  END;
  FOR code IN SELECT DISTINCT jsonb_array_elements_text(b->'parties') LOOP
    aid := cdrp.agency_id(me.partnership_id, code);
    IF aid IS NULL THEN
      PERFORM cdrp.refuse(422, 'rule_violation',
        format('party %s is not an active agency of this partnership', code), 'parties');
    END IF;
    INSERT INTO cdrp.isa_parties (isa_id, agency_id) VALUES (iid, aid);
    n := n + 1;
  END LOOP;
  IF n < 2 THEN
    PERFORM cdrp.refuse(422, 'rule_violation', 'an agreement needs two or more parties',
                        'parties');
  END IF;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'isa', iid,
                     jsonb_build_object('change', 'create'));
  status := 201; body := cdrp.isa_json(iid);
END $$;

-- GET /v1/isas?status=
CREATE FUNCTION cdrp_impl.isa_list(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE items jsonb; prompts jsonb;
BEGIN
  SELECT coalesce(jsonb_agg(j ORDER BY j->>'reference'), '[]') INTO items
  FROM (SELECT cdrp.isa_json(i.id) AS j FROM cdrp.isas i
        WHERE i.partnership_id = me.partnership_id) x
  WHERE p_args->'query'->>'status' IS NULL OR j->>'status' = p_args->'query'->>'status';
  SELECT coalesce(jsonb_agg(jsonb_build_object('isa', j->>'reference', 'prompt', 'review_due',
           'detail', format('the review date %s has passed: review the agreement',
                            j->>'review_on'))), '[]') INTO prompts
  FROM jsonb_array_elements(items) j WHERE (j->>'review_due')::boolean;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'isa_list', NULL,
                     jsonb_build_object('count', jsonb_array_length(items)));
  status := 200; body := jsonb_build_object('items', items, 'prompts', prompts);
END $$;

-- GET /v1/isas/{id}
CREATE FUNCTION cdrp_impl.isa_get(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE i cdrp.isas := cdrp.isa_lookup(me, p_args->>'id', false);
BEGIN
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'isa', i.id);
  status := 200; body := cdrp.isa_json(i.id);
END $$;

-- POST /v1/isas/{id}/sign: the caller signs for their agency.
CREATE FUNCTION cdrp_impl.isa_sign(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE i cdrp.isas := cdrp.isa_lookup(me, p_args->>'id', true);
BEGIN
  PERFORM cdrp.isa_require_party(me, i);
  IF i.status <> 'draft' THEN
    PERFORM cdrp.refuse(409, 'invalid_transition',
                        format('the agreement is %s: only a draft is signed', i.status));
  END IF;
  IF EXISTS (SELECT 1 FROM cdrp.isa_signatories s
             WHERE s.isa_id = i.id AND s.agency_id = me.agency_id) THEN
    PERFORM cdrp.refuse(409, 'invalid_transition', 'your agency has signed already');
  END IF;
  INSERT INTO cdrp.isa_signatories (isa_id, agency_id, user_id)
  VALUES (i.id, me.agency_id, me.user_id);
  IF NOT EXISTS (SELECT 1 FROM cdrp.isa_parties p
                 WHERE p.isa_id = i.id AND NOT EXISTS (
                   SELECT 1 FROM cdrp.isa_signatories s
                   WHERE s.isa_id = i.id AND s.agency_id = p.agency_id)) THEN
    UPDATE cdrp.isas SET status = 'active', status_reason = 'signed by every party',
                         status_changed_at = now()
    WHERE id = i.id;
  END IF;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'isa', i.id,
                     jsonb_strip_nulls(jsonb_build_object('change', 'sign',
                                                          'note', p_args->'body'->>'note')));
  status := 200; body := cdrp.isa_json(i.id);
END $$;

-- Suspend, resume, terminate: from which statuses, to which.
CREATE FUNCTION cdrp.isa_change(me cdrp.caller, p_args jsonb, p_from text[], p_to text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE i cdrp.isas := cdrp.isa_lookup(me, p_args->>'id', true);
  shown text := cdrp.isa_status(i.status, i.ends_on, cdrp.today());
BEGIN
  PERFORM cdrp.isa_require_party(me, i);
  IF NOT shown = ANY (p_from) THEN
    PERFORM cdrp.refuse(409, 'invalid_transition',
                        format('the agreement is %s: it cannot become %s', shown, p_to));
  END IF;
  UPDATE cdrp.isas SET status = p_to, status_reason = p_args->'body'->>'reason',
                       status_changed_at = now()
  WHERE id = i.id;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'isa', i.id,
                     jsonb_build_object('change', p_to, 'reason', p_args->'body'->>'reason'));
  RETURN cdrp.isa_json(i.id);
END $$;

CREATE FUNCTION cdrp_impl.isa_suspend(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
BEGIN
  status := 200; body := cdrp.isa_change(me, p_args, ARRAY['active'], 'suspended');
END $$;

CREATE FUNCTION cdrp_impl.isa_resume(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
BEGIN
  status := 200; body := cdrp.isa_change(me, p_args, ARRAY['suspended'], 'active');
END $$;

CREATE FUNCTION cdrp_impl.isa_terminate(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
BEGIN
  status := 200;
  body := cdrp.isa_change(me, p_args, ARRAY['draft', 'active', 'suspended', 'expired'],
                          'terminated');
END $$;
