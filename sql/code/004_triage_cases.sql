-- --- helpers --------------------------------------------------------------------

-- A path id ("42") as a bigint, NULL if it is not one.
CREATE FUNCTION cdrp.path_id(p_id text) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_id ~ '^[1-9][0-9]{0,17}$' THEN p_id::bigint END
$$;

-- A referral as the caller may read it, with its transitions. Victims'
-- contact details only for the submitting agency or an agency an ISA
-- lets see victim details (cdrp.isa_allows).
CREATE FUNCTION cdrp.referral_json(r cdrp.referrals, me cdrp.caller) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', r.id, 'reference', r.reference, 'status', r.status, 'case_kind', r.case_kind,
    'subject', r.body->'subject', 'reason', r.body->'reason',
    'incidents', coalesce(r.body->'incidents', '[]'),
    'victims', CASE WHEN r.agency_id = me.agency_id
                      OR cdrp.isa_allows(r.partnership_id, r.agency_id, me.agency_id, 'victim_details'::text,
                                         cdrp.kind_purpose(r.case_kind))
                    THEN coalesce(r.body->'victims', '[]')
                    ELSE (SELECT coalesce(jsonb_agg(v - 'contact'), '[]')
                          FROM jsonb_array_elements(r.body->'victims') v) END,
    'risk', r.body->'risk', 'requested_action', r.body->'requested_action',
    'marking', r.marking, 'strand', r.body->'strand',
    'agency', (SELECT code FROM cdrp.agencies WHERE id = r.agency_id),
    'submitted_by', (SELECT cn FROM cdrp.users WHERE id = r.user_id),
    'submitted_at', cdrp.utc(r.submitted_at), 'updated_at', cdrp.utc(r.updated_at),
    'decision_reason', r.decision_reason,
    'case_reference', (SELECT reference FROM cdrp.cases WHERE id = r.case_id),
    'transitions', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                      'from', t.from_status, 'to', t.to_status, 'reason', t.reason,
                      'by_agency', a.code, 'at', cdrp.utc(t.at)) ORDER BY t.id), '[]')
                    FROM cdrp.referral_transitions t
                    JOIN cdrp.users u ON u.id = t.user_id
                    JOIN cdrp.agencies a ON a.id = u.agency_id
                    WHERE t.referral_id = r.id))
$$;

-- A referral of the partnership by path id, locked for the transition.
CREATE FUNCTION cdrp.referral_for_update(p_partnership int, p_id text) RETURNS cdrp.referrals
LANGUAGE sql AS $$
  SELECT * FROM cdrp.referrals
  WHERE id = cdrp.path_id(p_id) AND partnership_id = p_partnership FOR UPDATE
$$;

-- A case the caller may read, by id or reference (optionally locked); a
-- row of NULLs when there is none.
CREATE FUNCTION cdrp.case_lookup(p_partnership int, p_agency int, p_roles text[], p_id text,
                                 p_lock boolean) RETURNS cdrp.cases
LANGUAGE plpgsql AS $$
DECLARE c cdrp.cases; cid bigint;
BEGIN
  cid := cdrp.case_resolve(p_partnership, p_id);
  IF cid IS NULL OR NOT cdrp.case_readable(cid, p_agency, p_roles) THEN
    RETURN NULL;
  END IF;
  IF p_lock THEN
    SELECT * INTO c FROM cdrp.cases WHERE id = cid FOR UPDATE;
  ELSE
    SELECT * INTO c FROM cdrp.cases WHERE id = cid;
  END IF;
  PERFORM cdrp.require_justification(c.marking, 'case');
  RETURN c;
END $$;

-- If-Match against a version: NULL when it matches, else (status, body).
CREATE FUNCTION cdrp.require_if_match(p_args jsonb, p_version int, p_what text)
RETURNS void LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF jsonb_typeof(p_args->'if_match') IS DISTINCT FROM 'number' THEN
    PERFORM cdrp.refuse(428, 'if_match_required', 'send If-Match with the ETag of your last read',
                        'If-Match', p_version::text);
  ELSIF (p_args->>'if_match')::numeric <> p_version THEN
    PERFORM cdrp.refuse(412, 'precondition_failed',
                        format('the %s changed since it was read; read it again', p_what),
                        'If-Match', p_version::text);
  END IF;
END $$;

-- A user reference {"agency", "cn"} that may hold a case: NULL and a
-- problem when it may not.
CREATE FUNCTION cdrp.caseworker_check(p_partnership int, p_ref jsonb,
  OUT user_id int, OUT problem jsonb)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  user_id := cdrp.user_id(p_partnership, p_ref);
  IF user_id IS NULL THEN
    problem := cdrp.problem('rule_violation', 'the caseworker is not a registered user',
                            'caseworker');
  ELSIF NOT cdrp.has_case_role((SELECT roles FROM cdrp.users WHERE id = user_id)) THEN
    user_id := NULL;
    problem := cdrp.problem('rule_violation',
                            'the caseworker needs the caseworker, chair or admin role',
                            'caseworker');
  END IF;
END $$;

CREATE FUNCTION cdrp.person_create(p_partnership int, p_name text, p_dob date,
                                   p_vulnerable boolean, p_address text, p_contact text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE pid bigint;
BEGIN
  INSERT INTO cdrp.persons (partnership_id, name, date_of_birth, vulnerable)
  VALUES (p_partnership, p_name, p_dob, coalesce(p_vulnerable, false)) RETURNING id INTO pid;
  IF p_address IS NOT NULL OR p_contact IS NOT NULL THEN
    INSERT INTO cdrp.person_contacts (person_id, address, contact)
    VALUES (pid, p_address, p_contact);
  END IF;
  RETURN pid;
END $$;

-- What an accepted referral brings to its case: the subject (new cases of
-- an individual or family), the victims, and the incidents with this
-- agency's report of each and their victims, so that they count for the
-- repeat-victim and Case Review rules.
--
-- A referral joining an existing case (p_new false) must not count twice
-- what the case already holds (proto/API.md "Triage", matching rules):
--  * a victim of the referral is a person already on the case as a victim
--    when exactly one such person has the same name (cdrp.norm_text:
--    trimmed, white space collapsed, case ignored), that person is not
--    erased, not already matched by another victim of this referral, and
--    the contact details do not differ where both are known
--    (cdrp.norm_contact). Referral victims carry no date of birth, so none
--    is compared. Two or more candidates, or none, make a new person: a
--    wrong merge would mix two people's data, a duplicate only costs a
--    manual link. A matched person is marked vulnerable if the referral
--    says so, and gains the referral's contact if none is held;
--  * an incident of the referral is an incident already on the case when
--    occurred_on and category are equal and the places are equal under
--    cdrp.norm_text (the earliest such incident, each matched at most once
--    per referral). No incident is created: this agency's report is added
--    unless the agency already reported it, and its victims are linked.
-- Answer: {"persons_matched": n, "incidents_matched": n}.
CREATE FUNCTION cdrp.case_absorb_referral(p_case bigint, r cdrp.referrals, p_new boolean)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  s jsonb := r.body->'subject'; v jsonb; inc jsonb; vi jsonb;
  vids bigint[] := '{}'; pid bigint; iid bigint; n int; scope text;
  matched_p bigint[] := '{}'; matched_i bigint[] := '{}'; created_i bigint[] := '{}';
  submitted date := (r.submitted_at AT TIME ZONE 'UTC')::date;
BEGIN
  IF p_new AND s->>'type' IN ('individual', 'family') THEN
    pid := cdrp.person_create(r.partnership_id, s->>'name', (s->>'date_of_birth')::date, false,
                              s->>'address', NULL);
    INSERT INTO cdrp.case_persons (case_id, person_id, role) VALUES (p_case, pid, 'subject');
    UPDATE cdrp.cases SET subject_person_id = pid WHERE id = p_case;
  END IF;
  -- Contact details may be beyond the caller's sight (victim_details
  -- under an ISA): the rule compares them in the partnership's scope, and
  -- nothing of them is answered.
  scope := current_setting('cdrp.scope', true);
  IF scope = 'user' THEN
    PERFORM cdrp.with_scope('partnership');
  END IF;
  IF jsonb_typeof(r.body->'victims') = 'array' THEN
    FOR v IN SELECT value FROM jsonb_array_elements(r.body->'victims') WITH ORDINALITY
             ORDER BY ordinality LOOP
      pid := NULL;
      IF NOT p_new THEN
        SELECT min(p.id), count(*) INTO pid, n
        FROM cdrp.case_persons cp JOIN cdrp.persons p ON p.id = cp.person_id
        WHERE cp.case_id = p_case AND cp.role = 'victim' AND p.erased_at IS NULL
          AND NOT p.id = ANY (matched_p) AND NOT p.id = ANY (vids)
          AND cdrp.norm_text(p.name) = cdrp.norm_text(v->>'name');
        IF n <> 1 OR EXISTS (
             SELECT 1 FROM cdrp.person_contacts pc
             WHERE pc.person_id = pid AND pc.contact IS NOT NULL AND v->>'contact' IS NOT NULL
               AND cdrp.norm_contact(pc.contact) <> cdrp.norm_contact(v->>'contact')) THEN
          pid := NULL;
        END IF;
      END IF;
      IF pid IS NOT NULL THEN
        matched_p := matched_p || pid;
        IF (v->>'vulnerable')::boolean THEN
          UPDATE cdrp.persons SET vulnerable = true WHERE id = pid AND NOT vulnerable;
        END IF;
        IF v->>'contact' IS NOT NULL THEN
          INSERT INTO cdrp.person_contacts (person_id, contact) VALUES (pid, v->>'contact')
          ON CONFLICT (person_id) DO UPDATE SET contact = EXCLUDED.contact, updated_at = now()
          WHERE cdrp.person_contacts.contact IS NULL;
        END IF;
      ELSE
        pid := cdrp.person_create(r.partnership_id, v->>'name', NULL,
                                  (v->>'vulnerable')::boolean, NULL, v->>'contact');
        INSERT INTO cdrp.case_persons (case_id, person_id, role) VALUES (p_case, pid, 'victim');
      END IF;
      vids := vids || pid;
    END LOOP;
  END IF;
  IF scope = 'user' THEN
    PERFORM cdrp.with_scope('user');
  END IF;
  IF jsonb_typeof(r.body->'incidents') = 'array' THEN
    FOR inc IN SELECT value FROM jsonb_array_elements(r.body->'incidents') WITH ORDINALITY
               ORDER BY ordinality LOOP
      iid := NULL;
      IF NOT p_new THEN
        SELECT min(i.id) INTO iid FROM cdrp.incidents i
        WHERE i.case_id = p_case AND NOT i.id = ANY (matched_i || created_i)
          AND i.occurred_on = (inc->>'occurred_on')::date AND i.category = inc->>'category'
          AND cdrp.norm_text(i.place) = cdrp.norm_text(inc->>'place');
      END IF;
      IF iid IS NOT NULL THEN
        matched_i := matched_i || iid;
        IF NOT EXISTS (SELECT 1 FROM cdrp.incident_reports
                       WHERE incident_id = iid AND agency_id = r.agency_id) THEN
          INSERT INTO cdrp.incident_reports (incident_id, agency_id, reported_on, external_ref)
          VALUES (iid, r.agency_id, coalesce((inc->>'reported_on')::date, submitted),
                  r.reference);
        END IF;
      ELSE
        INSERT INTO cdrp.incidents (case_id, occurred_on, category, place, ward, description)
        VALUES (p_case, (inc->>'occurred_on')::date, inc->>'category', inc->>'place',
                inc->>'ward', inc->>'description')
        RETURNING id INTO iid;
        created_i := created_i || iid;
        INSERT INTO cdrp.incident_reports (incident_id, agency_id, reported_on, external_ref)
        VALUES (iid, r.agency_id, coalesce((inc->>'reported_on')::date, submitted), r.reference);
      END IF;
      IF jsonb_typeof(inc->'victims') = 'array' THEN
        FOR vi IN SELECT value FROM jsonb_array_elements(inc->'victims') LOOP
          IF jsonb_typeof(vi) = 'number' AND (vi::text)::int BETWEEN 0 AND
             coalesce(array_length(vids, 1), 0) - 1 THEN
            INSERT INTO cdrp.incident_victims (incident_id, person_id)
            VALUES (iid, vids[(vi::text)::int + 1]) ON CONFLICT DO NOTHING;
          END IF;
        END LOOP;
      END IF;
    END LOOP;
  END IF;
  RETURN jsonb_build_object('persons_matched', cardinality(matched_p),
                            'incidents_matched', cardinality(matched_i));
END $$;

-- The case as the API shows it. Contact details never appear here.
CREATE FUNCTION cdrp.case_json(c cdrp.cases) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN jsonb_build_object(
    'id', c.id, 'reference', c.reference, 'case_kind', c.case_kind,
    'subject_type', c.subject_type, 'subject_name', c.subject_name, 'status', c.status,
    'marking', c.marking,
    'lead_agency', (SELECT code FROM cdrp.agencies WHERE id = c.lead_agency_id),
    'caseworker', cdrp.user_json(c.caseworker_user_id),
    'ward', c.ward, 'referral_date', c.referral_date::text,
    'opened_at', cdrp.utc(c.opened_at), 'closed_at', cdrp.utc(c.closed_at),
    'outcome', c.outcome, 'strand', c.strand, 'version', c.version,
    'referrals', (SELECT coalesce(jsonb_agg(r.reference ORDER BY r.id), '[]')
                  FROM cdrp.referrals r WHERE r.case_id = c.id),
    'persons', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                  'id', p.id, 'name', p.name, 'role', cp.role, 'vulnerable', p.vulnerable,
                  'repeat_victim', cdrp.person_repeat_victim(p.id))
                  ORDER BY p.id, cp.role), '[]')
                FROM cdrp.case_persons cp JOIN cdrp.persons p ON p.id = cp.person_id
                WHERE cp.case_id = c.id),
    'risk', cdrp.case_risk(c.id),
    'next_review_on', cdrp.case_next_review(c.id),
    'actions', cdrp.case_actions(c.id),
    'prompts', cdrp.case_prompts(c.id) || cdrp.case_risk_prompts(c.id));
END $$;

-- --- triage ---------------------------------------------------------------------

CREATE FUNCTION cdrp_impl.referral_accept(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE
  r cdrp.referrals; c cdrp.cases; b jsonb := coalesce(p_args->'body', '{}');
  cw int; cwp jsonb; lead int; is_new boolean := NOT (b ? 'case'); k text; absorbed jsonb;
  at timestamptz := now();
BEGIN
  IF NOT cdrp.has_case_role(me.roles) THEN
    status := 403; body := cdrp.problem('forbidden', 'triage needs the caseworker, chair or admin role');
    RETURN;
  END IF;
  r := cdrp.referral_for_update(me.partnership_id, p_args->>'id');
  IF r.id IS NULL THEN
    status := 404; body := cdrp.problem('not_found', 'no such referral');
    RETURN;
  END IF;
  IF r.status <> 'submitted' THEN
    status := 409;
    body := cdrp.problem('invalid_transition', 'the referral is ' || r.status ||
                         '; only a submitted referral can be accepted');
    RETURN;
  END IF;

  IF NOT is_new THEN
    FOREACH k IN ARRAY ARRAY['lead_agency', 'caseworker', 'ward'] LOOP
      IF b ? k THEN
        status := 422;
        body := cdrp.problem('rule_violation', k || ' applies only when a new case is opened', k);
        RETURN;
      END IF;
    END LOOP;
    SELECT * INTO c FROM cdrp.cases
    WHERE id = cdrp.case_resolve(me.partnership_id, b->>'case') FOR UPDATE;
    IF NOT FOUND THEN
      status := 422; body := cdrp.problem('rule_violation', 'no such case', 'case');
      RETURN;
    END IF;
    IF c.status <> 'open' THEN
      status := 422; body := cdrp.problem('rule_violation', 'the case is closed', 'case');
      RETURN;
    END IF;
    IF c.case_kind <> r.case_kind OR c.subject_type <> r.subject_type THEN
      status := 422;
      body := cdrp.problem('rule_violation',
                           'the case must have the same kind and subject type as the referral',
                           'case');
      RETURN;
    END IF;
    UPDATE cdrp.cases SET version = version + 1 WHERE id = c.id RETURNING * INTO c;
  ELSE
    IF b ? 'caseworker' THEN
      SELECT x.user_id, x.problem INTO cw, cwp
      FROM cdrp.caseworker_check(me.partnership_id, b->'caseworker') x;
      IF cw IS NULL THEN
        status := 422; body := cwp;
        RETURN;
      END IF;
    ELSE
      cw := me.user_id;
    END IF;
    IF b ? 'lead_agency' THEN
      lead := cdrp.agency_id(me.partnership_id, b->>'lead_agency');
      IF lead IS NULL THEN
        status := 422; body := cdrp.problem('rule_violation', 'no such agency', 'lead_agency');
        RETURN;
      END IF;
    ELSE
      SELECT u.agency_id INTO lead FROM cdrp.users u WHERE u.id = cw;
    END IF;
    -- The triage team must be able to work the case it opens.
    IF NOT cdrp.case_row_readable(NULL, me.partnership_id, lead, r.case_kind, false,
                                  me.agency_id, me.roles) THEN
      status := 422;
      body := cdrp.problem('rule_violation', format(
        'no information-sharing agreement in force lets your agency work a %s case led by %s',
        r.case_kind, (SELECT code FROM cdrp.agencies WHERE id = lead)), 'lead_agency');
      RETURN;
    END IF;
    INSERT INTO cdrp.cases (partnership_id, reference, case_kind, subject_type, subject_name,
                            ward, lead_agency_id, caseworker_user_id, marking, data_category,
                            referral_date, opened_at, strand)
    VALUES (me.partnership_id,
            cdrp.next_case_reference(me.partnership_id, r.case_kind,
                                     extract(year FROM cdrp.today())::int),
            r.case_kind, r.subject_type, r.body->'subject'->>'name',
            coalesce(b->>'ward', r.body->'subject'->>'ward'), lead, cw, r.marking,
            CASE r.case_kind WHEN 'ppo' THEN 'offender_management' ELSE 'asb_casework' END,
            (r.submitted_at AT TIME ZONE 'UTC')::date, at,
            CASE WHEN r.case_kind = 'ppo' THEN r.body->>'strand' END)
    RETURNING * INTO c;
    INSERT INTO cdrp.case_status_history (case_id, status, reason, user_id, at)
    VALUES (c.id, 'open', 'opened from referral ' || r.reference, me.user_id, at);
    IF c.strand IS NOT NULL THEN
      INSERT INTO cdrp.ppo_strand_history (case_id, strand, reason, user_id, at)
      VALUES (c.id, c.strand, 'from referral ' || r.reference, me.user_id, at);
    END IF;
  END IF;
  absorbed := cdrp.case_absorb_referral(c.id, r, is_new);

  UPDATE cdrp.referrals SET status = 'accepted', case_id = c.id, decision_reason = NULL,
                            updated_at = at
  WHERE id = r.id RETURNING * INTO r;
  INSERT INTO cdrp.referral_transitions (referral_id, from_status, to_status, user_id, at)
  VALUES (r.id, 'submitted', 'accepted', me.user_id, at);
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'referral', r.id,
                     jsonb_build_object('to', 'accepted', 'case_id', c.id,
                                        'case_reference', c.reference, 'new_case', is_new)
                     || absorbed);
  status := 200; body := cdrp.referral_json(r, me);
END $$;

-- decline and request-info: the shared transition.
CREATE FUNCTION cdrp.referral_decide(me cdrp.caller, p_args jsonb, p_to text,
                                     p_reason text, OUT status int, OUT body jsonb)
LANGUAGE plpgsql AS $$
DECLARE r cdrp.referrals; from_s text; at timestamptz := now();
BEGIN
  IF NOT cdrp.has_case_role(me.roles) THEN
    status := 403; body := cdrp.problem('forbidden', 'triage needs the caseworker, chair or admin role');
    RETURN;
  END IF;
  r := cdrp.referral_for_update(me.partnership_id, p_args->>'id');
  IF r.id IS NULL THEN
    status := 404; body := cdrp.problem('not_found', 'no such referral');
    RETURN;
  END IF;
  IF NOT (r.status = 'submitted' OR (p_to = 'declined' AND r.status = 'info_requested')) THEN
    status := 409;
    body := cdrp.problem('invalid_transition', 'the referral is ' || r.status ||
                         CASE p_to WHEN 'declined'
                           THEN '; only a submitted or info_requested referral can be declined'
                           ELSE '; information can be requested only on a submitted referral' END);
    RETURN;
  END IF;
  from_s := r.status;
  UPDATE cdrp.referrals SET status = p_to, decision_reason = p_reason, updated_at = at
  WHERE id = r.id RETURNING * INTO r;
  INSERT INTO cdrp.referral_transitions (referral_id, from_status, to_status, reason, user_id, at)
  VALUES (r.id, from_s, p_to, p_reason, me.user_id, at);
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'referral', r.id,
                     jsonb_build_object('from', from_s, 'to', p_to));
  status := 200; body := cdrp.referral_json(r, me);
END $$;

CREATE FUNCTION cdrp_impl.referral_decline(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
BEGIN
  SELECT d.status, d.body INTO status, body
  FROM cdrp.referral_decide(me, p_args, 'declined', p_args->'body'->>'reason') d;
END $$;

CREATE FUNCTION cdrp_impl.referral_request_info(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
BEGIN
  SELECT d.status, d.body INTO status, body
  FROM cdrp.referral_decide(me, p_args, 'info_requested',
                            p_args->'body'->>'question') d;
END $$;

-- PUT /v1/referrals/{id}: the referring agency answers a request for
-- information with a whole new body; the referral is submitted again.
CREATE FUNCTION cdrp_impl.referral_resubmit(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE r cdrp.referrals; b jsonb := p_args->'body'; at timestamptz := now();
BEGIN
  IF NOT 'referrer' = ANY (me.roles) THEN
    status := 403; body := cdrp.problem('forbidden', 'resubmitting referrals needs the referrer role');
    RETURN;
  END IF;
  r := cdrp.referral_for_update(me.partnership_id, p_args->>'id');
  IF r.id IS NULL OR NOT cdrp.referral_visible(r, me.agency_id, me.partnership_id, me.roles) THEN
    status := 404; body := cdrp.problem('not_found', 'no such referral');
    RETURN;
  END IF;
  IF r.agency_id <> me.agency_id THEN
    status := 403; body := cdrp.problem('forbidden', 'only the referring agency can resubmit');
    RETURN;
  END IF;
  IF r.status <> 'info_requested' THEN
    status := 409;
    body := cdrp.problem('invalid_transition', 'the referral is ' || r.status ||
                         '; only an info_requested referral can be resubmitted');
    RETURN;
  END IF;
  UPDATE cdrp.referrals
  SET body = b, case_kind = b->>'case_kind', subject_type = b->'subject'->>'type',
      marking = coalesce(b->>'marking', 'OFFICIAL'), status = 'submitted',
      decision_reason = NULL, updated_at = at
  WHERE id = r.id RETURNING * INTO r;
  INSERT INTO cdrp.referral_transitions (referral_id, from_status, to_status, user_id, at)
  VALUES (r.id, 'info_requested', 'submitted', me.user_id, at);
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'collect', 'referral', r.id,
                     jsonb_build_object('from', 'info_requested', 'to', 'submitted'));
  status := 200; body := cdrp.referral_json(r, me);
END $$;

-- --- cases ----------------------------------------------------------------------

CREATE FUNCTION cdrp_impl.case_list(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE
  q jsonb := coalesce(p_args->'query', '{}'); lim int; p_after bigint;
  items jsonb; n int; last_id bigint;
BEGIN
  lim := coalesce((q->>'limit')::int, 50);
  p_after := nullif((q->>'after')::bigint, 0);
  -- One row beyond the page tells whether there is a next page.
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'id', x.id, 'reference', x.reference, 'case_kind', x.case_kind,
           'subject_type', x.subject_type, 'status', x.status, 'marking', x.marking,
           -- OFFICIAL-SENSITIVE names and places only with a justification
           'subject_name', CASE WHEN x.sensitive THEN NULL ELSE x.subject_name END,
           'ward', CASE WHEN x.sensitive THEN NULL ELSE x.ward END,
           'lead_agency', x.lead_code, 'caseworker', cdrp.user_json(x.caseworker_user_id),
           'opened_at', cdrp.utc(x.opened_at), 'closed_at', cdrp.utc(x.closed_at),
           'outcome', x.outcome,
           'next_review_on', cdrp.case_next_review(x.id))
           ORDER BY x.id DESC) FILTER (WHERE x.rn <= lim), '[]'),
         count(*), min(x.id) FILTER (WHERE x.rn <= lim)
  INTO items, n, last_id
  FROM (SELECT c.*, la.code AS lead_code, row_number() OVER (ORDER BY c.id DESC) AS rn,
               c.marking = 'OFFICIAL-SENSITIVE' AND cdrp.justification() IS NULL AS sensitive
        FROM cdrp.cases c
        JOIN cdrp.agencies la ON la.id = c.lead_agency_id
        LEFT JOIN cdrp.users cu ON cu.id = c.caseworker_user_id
        WHERE c.partnership_id = me.partnership_id
          AND (p_after IS NULL OR c.id < p_after)
          AND (q->>'status' IS NULL OR c.status = q->>'status')
          AND (q->>'kind' IS NULL OR c.case_kind = q->>'kind')
          AND (q->>'subject_type' IS NULL OR c.subject_type = q->>'subject_type')
          AND (q->>'caseworker' IS NULL OR cu.cn = q->>'caseworker')
          AND (q->>'lead_agency' IS NULL OR la.code = q->>'lead_agency')
          -- UTC calendar dates, both ends included; a closed_* filter
          -- leaves out the cases that are open
          AND (q->>'opened_from' IS NULL
               OR c.opened_at >= ((q->>'opened_from')::date::timestamp AT TIME ZONE 'UTC'))
          AND (q->>'opened_to' IS NULL
               OR c.opened_at < ((q->>'opened_to')::date + 1)::timestamp AT TIME ZONE 'UTC')
          AND (q->>'closed_from' IS NULL
               OR c.closed_at >= ((q->>'closed_from')::date::timestamp AT TIME ZONE 'UTC'))
          AND (q->>'closed_to' IS NULL
               OR c.closed_at < ((q->>'closed_to')::date + 1)::timestamp AT TIME ZONE 'UTC')
          -- a hidden ward cannot be found by filtering on it either
          AND (q->>'ward' IS NULL
               OR (lower(c.ward) = lower(q->>'ward')
                   AND NOT (c.marking = 'OFFICIAL-SENSITIVE' AND cdrp.justification() IS NULL)))
          AND cdrp.case_readable(c.id, me.agency_id, me.roles)
          AND (q->>'flagged' IS NULL OR (q->>'flagged')::boolean = cdrp.case_flagged(c.id))
          AND (q->>'overdue' IS NULL OR (q->>'overdue')::boolean = cdrp.case_overdue(c.id))
        ORDER BY c.id DESC LIMIT lim + 1) x;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'case_list', NULL,
                     jsonb_build_object('count', least(n, lim)));
  status := 200;
  body := jsonb_build_object('items', items, 'next_cursor',
                             CASE WHEN n > lim THEN cdrp.cursor_encode(last_id) END);
END $$;

CREATE FUNCTION cdrp_impl.case_get(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE c cdrp.cases;
BEGIN
  c := cdrp.case_lookup(me.partnership_id, me.agency_id, me.roles, p_args->>'id', false);
  IF c.id IS NULL THEN
    status := 404; body := cdrp.problem('not_found', 'no such case');
    RETURN;
  END IF;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'case', c.id);
  status := 200; body := cdrp.case_json(c); etag := c.version::text;
END $$;

-- The checks every If-Match change of a case makes, in the order of the
-- convention: identity, role, lookup, state, If-Match. On refusal `c` is
-- NULL and (status, body, etag) is the answer. p_ppo: PPO coordinators may
-- too; p_state: the status the case must have (NULL: any).
CREATE FUNCTION cdrp.case_change_begin(me cdrp.caller, p_args jsonb, p_ppo boolean,
  p_state text) RETURNS cdrp.cases
LANGUAGE plpgsql AS $$
DECLARE c cdrp.cases;
BEGIN
  IF NOT (cdrp.has_case_role(me.roles) OR (p_ppo AND 'ppo_coordinator' = ANY (me.roles))) THEN
    PERFORM cdrp.refuse(403, 'forbidden', CASE WHEN p_ppo
      THEN 'this needs the ppo_coordinator, caseworker, chair or admin role'
      ELSE 'changing a case needs the caseworker, chair or admin role' END);
  END IF;
  c := cdrp.case_lookup(me.partnership_id, me.agency_id, me.roles, p_args->>'id', true);
  IF c.id IS NULL THEN
    PERFORM cdrp.refuse(404, 'not_found', 'no such case');
  END IF;
  IF p_state IS NOT NULL AND c.status <> p_state THEN
    PERFORM cdrp.refuse(409, 'invalid_transition', 'the case is ' || c.status, NULL,
                        c.version::text);
  END IF;
  PERFORM cdrp.require_if_match(p_args, c.version, 'case');
  RETURN c;
END $$;

CREATE FUNCTION cdrp_impl.case_update(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE b jsonb := coalesce(p_args->'body', '{}'); c0 cdrp.cases; c cdrp.cases; cw int; cwp jsonb;
  lead int;
BEGIN
  c := cdrp.case_change_begin(me, p_args, false, 'open');
  IF b ? 'caseworker' THEN
    SELECT x.user_id, x.problem INTO cw, cwp
    FROM cdrp.caseworker_check(c.partnership_id, b->'caseworker') x;
    IF cw IS NULL THEN
      PERFORM cdrp.refuse(422, cwp->>'code', cwp->>'detail', cwp->>'field', c.version::text);
    END IF;
  END IF;
  IF b ? 'lead_agency' THEN
    lead := cdrp.agency_id(c.partnership_id, b->>'lead_agency');
    IF lead IS NULL THEN
      PERFORM cdrp.refuse(422, 'rule_violation', 'no such agency', 'lead_agency',
                          c.version::text);
    END IF;
    -- Handing the lead over must not lock the caller out of the case.
    IF NOT cdrp.case_row_readable(c.id, c.partnership_id, lead, c.case_kind, c.special_category,
                                  me.agency_id, me.roles) THEN
      PERFORM cdrp.refuse(422, 'rule_violation', format(
        'no information-sharing agreement in force lets your agency work a %s case led by %s',
        c.case_kind, b->>'lead_agency'), 'lead_agency', c.version::text);
    END IF;
  END IF;
  UPDATE cdrp.cases
  SET caseworker_user_id = CASE WHEN b ? 'caseworker' THEN cw ELSE caseworker_user_id END,
      lead_agency_id = coalesce(lead, lead_agency_id),
      ward = CASE WHEN b ? 'ward' THEN b->>'ward' ELSE ward END,
      marking = coalesce(b->>'marking', marking),
      version = version + 1
  WHERE id = c.id RETURNING * INTO c;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'case', c.id,
                     jsonb_build_object('op', 'update', 'fields',
                       (SELECT jsonb_agg(k ORDER BY k) FROM jsonb_object_keys(b) k)));
  status := 200; body := cdrp.case_json(c); etag := c.version::text;
END $$;

CREATE FUNCTION cdrp_impl.case_close(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE b jsonb := coalesce(p_args->'body', '{}'); c0 cdrp.cases; c cdrp.cases; at timestamptz := now();
BEGIN
  c0 := cdrp.case_change_begin(me, p_args, false, 'open');
  UPDATE cdrp.cases SET status = 'closed', closed_at = at, outcome = b->>'outcome',
                        version = version + 1
  WHERE id = c0.id RETURNING * INTO c;
  INSERT INTO cdrp.case_status_history (case_id, status, outcome, reason, user_id, at)
  VALUES (c.id, 'closed', c.outcome, b->>'reason', me.user_id, at);
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'case', c.id,
                     jsonb_build_object('op', 'close', 'outcome', c.outcome));
  status := 200; body := cdrp.case_json(c); etag := c.version::text;
END $$;

CREATE FUNCTION cdrp_impl.case_reopen(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE b jsonb := coalesce(p_args->'body', '{}'); c0 cdrp.cases; c cdrp.cases; at timestamptz := now();
BEGIN
  c0 := cdrp.case_change_begin(me, p_args, false, 'closed');
  UPDATE cdrp.cases SET status = 'open', closed_at = NULL, outcome = NULL, version = version + 1
  WHERE id = c0.id RETURNING * INTO c;
  INSERT INTO cdrp.case_status_history (case_id, status, reason, user_id, at)
  VALUES (c.id, 'open', b->>'reason', me.user_id, at);
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'case', c.id,
                     jsonb_build_object('op', 'reopen'));
  status := 200; body := cdrp.case_json(c); etag := c.version::text;
END $$;

CREATE FUNCTION cdrp_impl.case_strand(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE b jsonb := coalesce(p_args->'body', '{}'); c0 cdrp.cases; c cdrp.cases; at timestamptz := now();
BEGIN
  c0 := cdrp.case_change_begin(me, p_args, true, 'open');
  IF c0.case_kind <> 'ppo' THEN
    PERFORM cdrp.refuse(422, 'rule_violation', 'only PPO cases have a strand', 'strand',
                        c0.version::text);
  END IF;
  UPDATE cdrp.cases SET strand = b->>'strand', version = version + 1
  WHERE id = c0.id RETURNING * INTO c;
  INSERT INTO cdrp.ppo_strand_history (case_id, strand, reason, user_id, at)
  VALUES (c.id, c.strand, b->>'reason', me.user_id, at);
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'case', c.id,
                     jsonb_build_object('op', 'strand', 'from', c0.strand, 'to', c.strand));
  status := 200; body := cdrp.case_json(c); etag := c.version::text;
END $$;

-- Removal from the PPO scheme: recorded in the strand history, and the
-- case closes with outcome `other`.
CREATE FUNCTION cdrp_impl.case_ppo_removal(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE b jsonb := coalesce(p_args->'body', '{}'); c0 cdrp.cases; c cdrp.cases; at timestamptz := now();
BEGIN
  c0 := cdrp.case_change_begin(me, p_args, true, 'open');
  IF c0.case_kind <> 'ppo' THEN
    PERFORM cdrp.refuse(422, 'rule_violation', 'only PPO cases can be removed from the scheme',
                        NULL, c0.version::text);
  END IF;
  IF b->>'reason' IS DISTINCT FROM 'deceased' AND b->>'exit_strategy' IS NULL THEN
    PERFORM cdrp.refuse(422, 'rule_violation', 'a removal needs an exit strategy',
                        'exit_strategy', c0.version::text);
  END IF;
  INSERT INTO cdrp.ppo_strand_history (case_id, strand, removed, removal_reason, exit_strategy,
                                       user_id, at)
  VALUES (c0.id, c0.strand, true, b->>'reason', b->>'exit_strategy', me.user_id, at);
  UPDATE cdrp.cases SET status = 'closed', closed_at = at, outcome = 'other',
                        version = version + 1
  WHERE id = c0.id RETURNING * INTO c;
  INSERT INTO cdrp.case_status_history (case_id, status, outcome, reason, user_id, at)
  VALUES (c.id, 'closed', 'other', 'removed from the PPO scheme: ' || (b->>'reason'),
          me.user_id, at);
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'case', c.id,
                     jsonb_build_object('op', 'ppo_removal', 'reason', b->>'reason'));
  status := 200; body := cdrp.case_json(c); etag := c.version::text;
END $$;

CREATE FUNCTION cdrp_impl.case_history(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE c cdrp.cases;
BEGIN
  c := cdrp.case_lookup(me.partnership_id, me.agency_id, me.roles, p_args->>'id', false);
  IF c.id IS NULL THEN
    status := 404; body := cdrp.problem('not_found', 'no such case');
    RETURN;
  END IF;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'case_history', c.id);
  status := 200; etag := c.version::text;
  body := jsonb_build_object(
    'status', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                 'status', h.status, 'outcome', h.outcome, 'reason', h.reason,
                 'by', cdrp.user_json(h.user_id), 'at', cdrp.utc(h.at)) ORDER BY h.id), '[]')
               FROM cdrp.case_status_history h WHERE h.case_id = c.id),
    'strands', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                  'strand', h.strand, 'removed', h.removed, 'removal_reason', h.removal_reason,
                  'exit_strategy', h.exit_strategy, 'reason', h.reason,
                  'by', cdrp.user_json(h.user_id), 'at', cdrp.utc(h.at)) ORDER BY h.id), '[]')
                FROM cdrp.ppo_strand_history h WHERE h.case_id = c.id));
END $$;

CREATE FUNCTION cdrp.note_json(n cdrp.case_notes) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('id', n.id, 'body', n.body, 'author', cdrp.user_json(n.user_id),
                            'at', cdrp.utc(n.at))
$$;

CREATE FUNCTION cdrp_impl.case_note_add(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE c cdrp.cases; n cdrp.case_notes;
BEGIN
  c := cdrp.case_lookup(me.partnership_id, me.agency_id, me.roles, p_args->>'id', false);
  IF c.id IS NULL THEN
    status := 404; body := cdrp.problem('not_found', 'no such case');
    RETURN;
  END IF;
  IF NOT (cdrp.has_case_role(me.roles) OR c.lead_agency_id = me.agency_id) THEN
    status := 403;
    body := cdrp.problem('forbidden', 'notes are added by case roles and the lead agency');
    RETURN;
  END IF;
  INSERT INTO cdrp.case_notes (case_id, user_id, body)
  VALUES (c.id, me.user_id, p_args->'body'->>'body') RETURNING * INTO n;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'collect', 'case_note', n.id,
                     jsonb_build_object('case_id', c.id));
  status := 201; body := cdrp.note_json(n);
END $$;

CREATE FUNCTION cdrp_impl.case_notes(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE c cdrp.cases;
BEGIN
  c := cdrp.case_lookup(me.partnership_id, me.agency_id, me.roles, p_args->>'id', false);
  IF c.id IS NULL THEN
    status := 404; body := cdrp.problem('not_found', 'no such case');
    RETURN;
  END IF;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'case_notes', c.id);
  status := 200;
  body := jsonb_build_object('items',
    (SELECT coalesce(jsonb_agg(cdrp.note_json(n) ORDER BY n.id), '[]')
     FROM cdrp.case_notes n WHERE n.case_id = c.id));
END $$;

-- A new person (contact details apart) or an existing one of the
-- partnership, linked to the case in a role.
CREATE FUNCTION cdrp_impl.case_person_add(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE
  c cdrp.cases; b jsonb := coalesce(p_args->'body', '{}'); pid bigint;
BEGIN
  IF NOT cdrp.has_case_role(me.roles) THEN
    status := 403;
    body := cdrp.problem('forbidden', 'changing a case needs the caseworker, chair or admin role');
    RETURN;
  END IF;
  c := cdrp.case_lookup(me.partnership_id, me.agency_id, me.roles, p_args->>'id', true);
  IF c.id IS NULL THEN
    status := 404; body := cdrp.problem('not_found', 'no such case');
    RETURN;
  END IF;
  IF b ? 'person_id' THEN
    SELECT id INTO pid FROM cdrp.persons
    WHERE id = (b->>'person_id')::bigint AND partnership_id = me.partnership_id
      AND erased_at IS NULL;
    IF pid IS NULL THEN
      status := 422; body := cdrp.problem('rule_violation', 'no such person', 'person_id');
      RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM cdrp.case_persons
               WHERE case_id = c.id AND person_id = pid AND case_persons.role = b->>'role') THEN
      status := 409;
      body := cdrp.problem('invalid_transition', 'the person already has this role on the case',
                           'person_id');
      RETURN;
    END IF;
  ELSE
    pid := cdrp.person_create(me.partnership_id, b->>'name', (b->>'date_of_birth')::date,
                              (b->>'vulnerable')::boolean, b->>'address', b->>'contact');
  END IF;
  INSERT INTO cdrp.case_persons (case_id, person_id, role) VALUES (c.id, pid, b->>'role');
  UPDATE cdrp.cases
  SET version = version + 1,
      subject_person_id = CASE WHEN b->>'role' = 'subject' AND subject_person_id IS NULL
                                    AND subject_type <> 'area'
                               THEN pid ELSE subject_person_id END
  WHERE id = c.id;
  PERFORM cdrp.audit(me.agency_id, me.user_id, CASE WHEN b ? 'person_id' THEN 'alter'
                                                    ELSE 'collect' END, 'case_person', pid,
                     jsonb_build_object('case_id', c.id, 'role', b->>'role'));
  status := 201; body := jsonb_build_object('person_id', pid, 'role', b->>'role');
END $$;
