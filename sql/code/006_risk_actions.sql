-- ---- pure rules ---------------------------------------------------------------

-- The "risk" part of a configuration given either whole or as that part.
CREATE FUNCTION cdrp.risk_cfg(p_cfg jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_cfg ? 'risk' THEN p_cfg->'risk' ELSE p_cfg END
$$;

-- What is wrong with a set of answers, as a problem ({code, detail, field})
-- or NULL when every question is answered and nothing else is. Unknown ids
-- first (in key order), then missing answers (in questionnaire order).
CREATE FUNCTION cdrp.risk_answers_problem(p_answers jsonb, p_cfg jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  r jsonb := cdrp.risk_cfg(p_cfg);
  k text;
BEGIN
  IF p_answers IS NULL OR jsonb_typeof(p_answers) <> 'object' THEN
    RETURN cdrp.problem('invalid_field', 'must be an object of question ids to booleans',
                        'answers');
  END IF;
  FOR k IN SELECT key FROM jsonb_object_keys(p_answers) key ORDER BY key LOOP
    IF NOT EXISTS (SELECT 1 FROM jsonb_array_elements(r->'questions') q WHERE q->>'id' = k) THEN
      RETURN cdrp.problem('invalid_field', 'unknown question', 'answers.' || k);
    END IF;
    IF jsonb_typeof(p_answers->k) <> 'boolean' THEN
      RETURN cdrp.problem('invalid_field', 'must be true or false', 'answers.' || k);
    END IF;
  END LOOP;
  FOR k IN SELECT q->>'id' FROM jsonb_array_elements(r->'questions') WITH ORDINALITY AS t(q, n)
           ORDER BY n LOOP
    IF NOT p_answers ? k THEN
      RETURN cdrp.problem('missing_field', 'every question needs an answer', 'answers.' || k);
    END IF;
  END LOOP;
  RETURN NULL;
END $$;

-- The band of a score: high from risk.high_from, medium from
-- risk.medium_from (both inclusive), else standard.
CREATE FUNCTION cdrp.risk_band(p_score int, p_cfg jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_score >= (cdrp.risk_cfg(p_cfg)->>'high_from')::int THEN 'high'
              WHEN p_score >= (cdrp.risk_cfg(p_cfg)->>'medium_from')::int THEN 'medium'
              ELSE 'standard' END
$$;

-- {score, band}: the sum of the weights of the questions answered true.
-- Raises invalid_parameter_value (message "answers.<id>: ...") on an
-- unknown question or a missing answer; the API checks with
-- cdrp.risk_answers_problem first and answers 400.
CREATE FUNCTION cdrp.risk_score(p_answers jsonb, p_cfg jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  r jsonb := cdrp.risk_cfg(p_cfg);
  bad jsonb := cdrp.risk_answers_problem(p_answers, p_cfg);
  s int;
BEGIN
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION '%: %', bad->>'field', bad->>'detail'
      USING ERRCODE = 'invalid_parameter_value', DETAIL = bad::text;
  END IF;
  SELECT coalesce(sum((q->>'weight')::int), 0) INTO s
  FROM jsonb_array_elements(r->'questions') q
  WHERE p_answers->(q->>'id') = 'true'::jsonb;
  RETURN jsonb_build_object('score', s, 'band', cdrp.risk_band(s, r));
END $$;

-- Days between reviews for a band (cadence_days.<band>).
CREATE FUNCTION cdrp.review_cadence(p_band text, p_cfg jsonb) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
  SELECT ((CASE WHEN p_cfg ? 'cadence_days' THEN p_cfg->'cadence_days' ELSE p_cfg END)
          ->>p_band)::int
$$;

CREATE FUNCTION cdrp.next_review_date(p_assessed date, p_band text, p_cfg jsonb) RETURNS date
LANGUAGE sql IMMUTABLE AS $$
  SELECT p_assessed + cdrp.review_cadence(p_band, p_cfg)
$$;

-- Overdue: a due date before today and still agreed or in progress (due
-- today is not overdue yet).
CREATE FUNCTION cdrp.action_overdue(p_due date, p_status text, p_today date) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(p_due < p_today AND p_status IN ('agreed', 'in_progress'), false)
$$;

-- Allowed status changes: agreed -> in_progress | done | cancelled;
-- in_progress -> done | cancelled; done and cancelled are final.
CREATE FUNCTION cdrp.action_transition_ok(p_from text, p_to text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT (p_from, p_to) IN (('agreed', 'in_progress'), ('agreed', 'done'),
                            ('agreed', 'cancelled'), ('in_progress', 'done'),
                            ('in_progress', 'cancelled'))
$$;

-- ---- case data ------------------------------------------------------------------

CREATE FUNCTION cdrp.case_config(p_case bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT cdrp.config(partnership_id) FROM cdrp.cases WHERE id = p_case
$$;

-- A Community Protection Notice needs an earlier written warning (a type
-- in cpn_prior_warnings) on the same case that is not cancelled.
CREATE FUNCTION cdrp.cpn_allowed(p_case bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM cdrp.actions a
    WHERE a.case_id = p_case AND a.status <> 'cancelled'
      AND a.action_type IN (SELECT jsonb_array_elements_text(
                              cdrp.case_config(p_case)->'cpn_prior_warnings')))
$$;

CREATE FUNCTION cdrp.action_json(a cdrp.actions) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', a.id, 'case', (SELECT reference FROM cdrp.cases WHERE id = a.case_id),
    'type', a.action_type, 'stage', a.stage,
    'owner_agency', (SELECT code FROM cdrp.agencies WHERE id = a.owner_agency_id),
    'due_on', a.due_on::text, 'status', a.status, 'notes', a.notes,
    'overdue', cdrp.action_overdue(a.due_on, a.status, cdrp.today()),
    'created_by', cdrp.user_json(a.created_by), 'created_at', cdrp.utc(a.created_at),
    'version', a.version)
$$;

-- The case's actions, oldest first.
CREATE FUNCTION cdrp.case_actions(p_case bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT coalesce(jsonb_agg(cdrp.action_json(a) ORDER BY a.id), '[]'::jsonb)
  FROM cdrp.actions a WHERE a.case_id = p_case
$$;

CREATE FUNCTION cdrp.risk_assessment_json(r cdrp.risk_assessments, p_cfg jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', r.id, 'score', r.score, 'band', r.band, 'person_id', r.person_id,
    'assessed_at', cdrp.utc(r.assessed_at),
    'next_review_on', cdrp.next_review_date((r.assessed_at AT TIME ZONE 'UTC')::date,
                                            r.band, p_cfg)::text)
$$;

-- The latest risk assessment of the case, or NULL.
-- The prompts an assessment raises: a referral to victim support at or
-- above risk.victim_support_from. Shown with the assessment and, for the
-- latest assessment, among the case's prompts.
CREATE FUNCTION cdrp.risk_prompts(r cdrp.risk_assessments, p_cfg jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN r.score >= (p_cfg->'risk'->>'victim_support_from')::int
    THEN jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
      'code', 'refer_to_victim_support', 'person_id', r.person_id,
      'detail', format('risk score %s is at or above %s: refer to victim support', r.score,
                       p_cfg->'risk'->>'victim_support_from'))))
    ELSE '[]'::jsonb END
$$;

CREATE FUNCTION cdrp.case_risk_prompts(p_case bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT coalesce((SELECT cdrp.risk_prompts(r, cdrp.case_config(p_case))
                   FROM cdrp.risk_assessments r WHERE r.case_id = p_case
                   ORDER BY r.assessed_at DESC, r.id DESC LIMIT 1), '[]'::jsonb)
$$;

CREATE FUNCTION cdrp.case_risk(p_case bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT cdrp.risk_assessment_json(r, cdrp.case_config(p_case))
  FROM cdrp.risk_assessments r WHERE r.case_id = p_case
  ORDER BY r.assessed_at DESC, r.id DESC LIMIT 1
$$;

-- Next review: for standard risk, the group's next scheduled meeting if
-- there is one (standard cases are reviewed at every monthly meeting);
-- otherwise the date the latest meeting review set, when it is not older
-- than the latest assessment; otherwise the latest assessment's date plus
-- its band's cadence; with no assessment, the opening date plus the
-- standard cadence. A closed case is not reviewed: NULL.
CREATE FUNCTION cdrp.case_next_review(p_case bigint) RETURNS date LANGUAGE sql STABLE AS $$
  WITH c AS (SELECT * FROM cdrp.cases WHERE id = p_case),
  ra AS (SELECT r.assessed_at, r.band FROM cdrp.risk_assessments r WHERE r.case_id = p_case
         ORDER BY r.assessed_at DESC, r.id DESC LIMIT 1),
  rv AS (SELECT d.next_review_on, d.at
         FROM cdrp.case_decisions d JOIN cdrp.meetings m ON m.id = d.meeting_id
         WHERE d.case_id = p_case ORDER BY m.held_on DESC, d.id DESC LIMIT 1)
  SELECT coalesce(
    CASE WHEN coalesce((SELECT band FROM ra), 'standard') = 'standard' THEN
      (SELECT min(m.held_on) FROM cdrp.meetings m, c
       WHERE m.partnership_id = c.partnership_id AND m.status = 'open'
         AND m.held_on >= cdrp.today()
         AND m.group_kind = CASE c.case_kind WHEN 'ppo' THEN 'ppo_panel' ELSE 'asb_task_group' END)
    END,
    (SELECT rv.next_review_on FROM rv
     WHERE rv.at >= coalesce((SELECT assessed_at FROM ra), '-infinity'::timestamptz)),
    (SELECT cdrp.next_review_date((ra.assessed_at AT TIME ZONE 'UTC')::date, ra.band,
                                  cdrp.case_config(p_case)) FROM ra),
    (SELECT cdrp.next_review_date((c.opened_at AT TIME ZONE 'UTC')::date, 'standard',
                                  cdrp.config(c.partnership_id)) FROM c))
  FROM c WHERE c.status = 'open'
$$;

-- Overdue: an overdue action, or the next review date before today.
CREATE FUNCTION cdrp.case_overdue(p_case bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM cdrp.actions a WHERE a.case_id = p_case
                 AND cdrp.action_overdue(a.due_on, a.status, cdrp.today()))
      OR coalesce(cdrp.case_next_review(p_case) < cdrp.today(), false)
$$;

-- ---- endpoints ------------------------------------------------------------------

CREATE FUNCTION cdrp_impl.risk_questionnaire(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE cfg jsonb;
BEGIN
  cfg := cdrp.config(me.partnership_id);
  status := 200;
  body := jsonb_build_object(
    'questions', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', q->>'id', 'text', q->'text',
                                                               'weight', (q->>'weight')::int)
                                            ORDER BY n), '[]'::jsonb)
                  FROM jsonb_array_elements(cfg->'risk'->'questions') WITH ORDINALITY AS t(q, n)),
    'bands', jsonb_build_object('medium_from', (cfg->'risk'->>'medium_from')::int,
                                'high_from', (cfg->'risk'->>'high_from')::int),
    'victim_support_from', (cfg->'risk'->>'victim_support_from')::int,
    'cadence_days', cfg->'cadence_days');
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'risk_questionnaire', NULL);
END $$;

CREATE FUNCTION cdrp_impl.risk_assess(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE
  c cdrp.cases; cfg jsonb; b jsonb := p_args->'body'; bad jsonb; sc jsonb;
  pid bigint; ra cdrp.risk_assessments; prompts jsonb := '[]'::jsonb; vs int;
BEGIN
  IF NOT cdrp.has_case_role(me.roles) THEN
    status := 403; body := cdrp.problem('forbidden', 'risk assessments need a case role');
    RETURN;
  END IF;
  SELECT * INTO c FROM cdrp.cases
  WHERE id = cdrp.case_resolve(me.partnership_id, p_args->>'id') FOR UPDATE;
  IF NOT FOUND OR NOT cdrp.case_readable(c.id, me.agency_id, me.roles) THEN
    status := 404; body := cdrp.problem('not_found', 'no such case');
    RETURN;
  END IF;
  cfg := cdrp.config(me.partnership_id);
  bad := cdrp.risk_answers_problem(b->'answers', cfg);
  IF bad IS NOT NULL THEN
    status := 400; body := bad;
    RETURN;
  END IF;
  IF c.status <> 'open' THEN
    status := 409; body := cdrp.problem('invalid_transition', 'the case is ' || c.status);
    RETURN;
  END IF;
  pid := (b->>'person_id')::bigint;
  IF pid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM cdrp.case_persons
                                     WHERE case_id = c.id AND person_id = pid)
                     AND c.subject_person_id IS DISTINCT FROM pid THEN
    status := 422;
    body := cdrp.problem('rule_violation', 'the person is not linked to this case', 'person_id');
    RETURN;
  END IF;

  sc := cdrp.risk_score(b->'answers', cfg);
  INSERT INTO cdrp.risk_assessments (case_id, person_id, answers, score, band, user_id)
  VALUES (c.id, pid, b->'answers', (sc->>'score')::int, sc->>'band', me.user_id)
  RETURNING * INTO ra;
  prompts := cdrp.risk_prompts(ra, cfg);
  status := 201;
  body := cdrp.risk_assessment_json(ra, cfg)
          || jsonb_build_object('case', c.reference, 'prompts', prompts);
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'collect', 'risk_assessment', ra.id,
                     jsonb_build_object('case_id', c.id, 'score', ra.score, 'band', ra.band));
END $$;

CREATE FUNCTION cdrp_impl.action_add(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE
  c cdrp.cases; cfg jsonb; b jsonb := p_args->'body'; owner int; a cdrp.actions;
BEGIN
  IF NOT cdrp.has_case_role(me.roles) THEN
    status := 403; body := cdrp.problem('forbidden', 'adding actions needs a case role');
    RETURN;
  END IF;
  -- The case row lock serialises action_add on one case, so two CPNs and a
  -- concurrent cancellation of the warning cannot both pass the CPN rule.
  SELECT * INTO c FROM cdrp.cases
  WHERE id = cdrp.case_resolve(me.partnership_id, p_args->>'id') FOR UPDATE;
  IF NOT FOUND OR NOT cdrp.case_readable(c.id, me.agency_id, me.roles) THEN
    status := 404; body := cdrp.problem('not_found', 'no such case');
    RETURN;
  END IF;
  IF c.status <> 'open' THEN
    status := 409; body := cdrp.problem('invalid_transition', 'the case is ' || c.status);
    RETURN;
  END IF;
  cfg := cdrp.config(me.partnership_id);
  IF NOT coalesce(cfg->'action_types' ? (b->>'type'), false) THEN
    status := 422;
    body := cdrp.problem('rule_violation', 'this partnership does not use this action type',
                         'type');
    RETURN;
  END IF;
  owner := cdrp.agency_id(me.partnership_id, b->>'owner_agency');
  IF owner IS NULL THEN
    status := 422;
    body := cdrp.problem('rule_violation', 'not a registered agency of this partnership',
                         'owner_agency');
    RETURN;
  END IF;
  IF b->>'type' = 'cpn' AND NOT cdrp.cpn_allowed(c.id) THEN
    status := 422;
    body := cdrp.problem('rule_violation',
                         'a Community Protection Notice needs a prior written warning on this case',
                         'type');
    RETURN;
  END IF;
  INSERT INTO cdrp.actions (case_id, action_type, stage, owner_agency_id, due_on, notes,
                            created_by)
  VALUES (c.id, b->>'type', (b->>'stage')::int, owner, (b->>'due_on')::date, b->>'notes',
          me.user_id)
  RETURNING * INTO a;
  status := 201;
  body := cdrp.action_json(a);
  etag := a.version::text;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'collect', 'action', a.id,
                     jsonb_build_object('case_id', c.id, 'type', a.action_type));
END $$;

-- Actions of a closed case can still be updated (e.g. marked done).
CREATE FUNCTION cdrp_impl.action_update(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE
  a cdrp.actions; b jsonb := p_args->'body'; new_status text;
  changed text[] := '{}';
BEGIN
  -- Lock the case, then the action (the order action_add takes), so that
  -- cancelling the only written warning and adding a CPN cannot interleave.
  -- The owner agency may not read the case: look up in the partnership's
  -- scope, decide visibility below, then narrow again.
  PERFORM cdrp.with_scope('partnership');
  IF p_args->>'id' ~ '^[1-9][0-9]{0,17}$' THEN
    PERFORM 1 FROM cdrp.cases c
    WHERE c.id = (SELECT case_id FROM cdrp.actions WHERE id = (p_args->>'id')::bigint)
      AND c.partnership_id = me.partnership_id
    FOR UPDATE;
    SELECT a2.* INTO a FROM cdrp.actions a2 JOIN cdrp.cases c ON c.id = a2.case_id
    WHERE a2.id = (p_args->>'id')::bigint AND c.partnership_id = me.partnership_id
    FOR UPDATE OF a2;
  END IF;
  PERFORM cdrp.with_scope('user');
  -- Not visible: neither a reader of the case nor the owner agency.
  IF a.id IS NULL OR NOT (cdrp.case_readable(a.case_id, me.agency_id, me.roles)
                          OR a.owner_agency_id = me.agency_id) THEN
    status := 404; body := cdrp.problem('not_found', 'no such action');
    RETURN;
  END IF;
  IF NOT (cdrp.has_case_role(me.roles) OR a.owner_agency_id = me.agency_id) THEN
    status := 403;
    body := cdrp.problem('forbidden', 'updating an action needs a case role or the owner agency');
    RETURN;
  END IF;
  new_status := coalesce(b->>'status', a.status);
  IF a.status IN ('done', 'cancelled') THEN
    status := 409; body := cdrp.problem('invalid_transition', 'the action is ' || a.status, 'status');
    RETURN;
  END IF;
  IF new_status <> a.status AND NOT cdrp.action_transition_ok(a.status, new_status) THEN
    status := 409;
    body := cdrp.problem('invalid_transition',
                         format('the action is %s and cannot become %s', a.status, new_status),
                         'status');
    RETURN;
  END IF;
  PERFORM cdrp.require_if_match(p_args, a.version, 'action');

  IF b ? 'status' THEN changed := array_append(changed, 'status'); END IF;
  IF b ? 'due_on' THEN changed := array_append(changed, 'due_on'); END IF;
  IF b ? 'notes' THEN changed := array_append(changed, 'notes'); END IF;
  UPDATE cdrp.actions
  SET status = new_status,
      due_on = CASE WHEN b ? 'due_on' THEN (b->>'due_on')::date ELSE due_on END,
      notes = CASE WHEN b ? 'notes' THEN b->>'notes' ELSE notes END,
      version = version + 1
  WHERE id = a.id
  RETURNING * INTO a;
  IF NOT FOUND THEN -- checked above; row-level security must agree
    RAISE EXCEPTION 'action % vanished under row-level security', (p_args->>'id');
  END IF;
  status := 200;
  body := cdrp.action_json(a);
  etag := a.version::text;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'action', a.id,
                     jsonb_build_object('case_id', a.case_id, 'status', a.status,
                                        'fields', to_jsonb(changed)));
END $$;

-- Which actions of a case the caller may read: all of them on a case the
-- caller may read; otherwise those its agency owns (the owner agency works
-- its actions on a case it cannot read, as the actions policy of 008_rls
-- allows). Looked up in the partnership's scope, as action_update does,
-- then narrowed to the caller again. NULL case: no such case, or nothing
-- of it visible.
CREATE FUNCTION cdrp.action_case_view(me cdrp.caller, p_case bigint,
  OUT case_id bigint, OUT readable boolean, OUT marking text)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM cdrp.with_scope('partnership');
  SELECT c.id, c.marking INTO case_id, marking FROM cdrp.cases c
  WHERE c.id = p_case AND c.partnership_id = me.partnership_id;
  readable := case_id IS NOT NULL AND cdrp.case_readable(case_id, me.agency_id, me.roles);
  IF case_id IS NOT NULL AND NOT readable AND NOT EXISTS (
       SELECT 1 FROM cdrp.actions a WHERE a.case_id = p_case
       AND a.owner_agency_id = me.agency_id) THEN
    case_id := NULL;
  END IF;
  PERFORM cdrp.with_scope('user');
END $$;

-- GET /v1/cases/{id}/actions: the actions of a case, oldest first. Readers
-- of the case see every action; an agency that owns actions on a case it
-- cannot read sees only its own (`"own_only": true`); anyone else 404.
CREATE FUNCTION cdrp_impl.action_list(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE v record; cid bigint; items jsonb;
BEGIN
  PERFORM cdrp.with_scope('partnership');
  cid := cdrp.case_resolve(me.partnership_id, p_args->>'id');
  PERFORM cdrp.with_scope('user');
  SELECT * INTO v FROM cdrp.action_case_view(me, cid);
  IF v.case_id IS NULL THEN
    status := 404; body := cdrp.problem('not_found', 'no such case');
    RETURN;
  END IF;
  PERFORM cdrp.require_justification(v.marking, 'case');
  SELECT coalesce(jsonb_agg(cdrp.action_json(a) ORDER BY a.id), '[]'::jsonb) INTO items
  FROM cdrp.actions a
  WHERE a.case_id = v.case_id AND (v.readable OR a.owner_agency_id = me.agency_id);
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'action_list', v.case_id,
                     jsonb_build_object('count', jsonb_array_length(items),
                                        'own_only', NOT v.readable));
  status := 200;
  body := jsonb_build_object('items', items, 'own_only', NOT v.readable);
END $$;

-- GET /v1/actions/{id}: one action, with ETag = its version (what PATCH
-- /v1/actions/{id} takes as If-Match). Visible to readers of its case and
-- to its owner agency; 404 otherwise.
CREATE FUNCTION cdrp_impl.action_get(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE a cdrp.actions; v record;
BEGIN
  IF p_args->>'id' ~ '^[1-9][0-9]{0,17}$' THEN
    PERFORM cdrp.with_scope('partnership');
    SELECT a2.* INTO a FROM cdrp.actions a2 JOIN cdrp.cases c ON c.id = a2.case_id
    WHERE a2.id = (p_args->>'id')::bigint AND c.partnership_id = me.partnership_id;
    PERFORM cdrp.with_scope('user');
  END IF;
  IF a.id IS NOT NULL THEN
    SELECT * INTO v FROM cdrp.action_case_view(me, a.case_id);
  END IF;
  IF a.id IS NULL OR v.case_id IS NULL
     OR NOT (v.readable OR a.owner_agency_id = me.agency_id) THEN
    status := 404; body := cdrp.problem('not_found', 'no such action');
    RETURN;
  END IF;
  PERFORM cdrp.require_justification(v.marking, 'case');
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'action', a.id,
                     jsonb_build_object('case_id', a.case_id));
  status := 200;
  body := cdrp.action_json(a); -- "case" is null for an owner that cannot read the case
  etag := a.version::text;
END $$;
