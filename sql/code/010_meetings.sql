-- 010_meetings: the monthly ASB Task Group and PPO panel (issue 7,
-- proto/API.md "Meetings"): create with a generated agenda, attendance,
-- chair's items and order, per-case reviews one by one or as a whole
-- meeting's batch (all or nothing), closing that freezes the minutes.
--
-- A review reuses the case endpoints (close, PPO removal, action_add) for
-- its consequences, so their rules (If-Match, CPN needs a warning, exit
-- strategy) hold at the meeting too; their refusals come back naming the
-- review's field.

-- The kind of case a group works.
CREATE FUNCTION cdrp.group_case_kind(p_group text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE p_group WHEN 'ppo_panel' THEN 'ppo' ELSE 'asb' END
$$;

-- A case's risk band now: its latest assessment's, else standard.
CREATE FUNCTION cdrp.case_band(p_case bigint) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce((SELECT band FROM cdrp.risk_assessments WHERE case_id = p_case
                   ORDER BY assessed_at DESC, id DESC LIMIT 1), 'standard')
$$;

-- Is an open case due for review at a meeting on p_day? Standard risk: at
-- every monthly meeting. High and medium: when the band's cadence (14 and
-- 28 days by default) has run since the last review (or, never reviewed,
-- since the latest assessment or opening), or a review set an earlier
-- next review date.
CREATE FUNCTION cdrp.case_review_due(p_case bigint, p_day date) RETURNS boolean
LANGUAGE sql STABLE AS $$
  WITH last AS (SELECT m.held_on, d.next_review_on
                FROM cdrp.case_decisions d JOIN cdrp.meetings m ON m.id = d.meeting_id
                WHERE d.case_id = p_case AND m.held_on < p_day
                ORDER BY m.held_on DESC, d.id DESC LIMIT 1)
  SELECT c.status = 'open' AND (
    cdrp.case_band(c.id) = 'standard'
    OR coalesce(last.next_review_on <= p_day, false)
    OR coalesce(last.held_on,
                (SELECT (max(assessed_at) AT TIME ZONE 'UTC')::date
                 FROM cdrp.risk_assessments WHERE case_id = c.id),
                (c.opened_at AT TIME ZONE 'UTC')::date)
       + cdrp.review_cadence(cdrp.case_band(c.id), cdrp.config(c.partnership_id)) <= p_day)
  FROM cdrp.cases c LEFT JOIN last ON true
  WHERE c.id = p_case
$$;

-- The generated agenda of a new meeting: referrals awaiting triage, cases
-- due for review (high risk first), victims who became repeat victims or
-- Case Review eligible since the group's previous meeting, overdue actions,
-- and for the PPO panel the cohort's changes since then. Only what the
-- creator may read; titles name references and rules, never people.
CREATE FUNCTION cdrp.meeting_generate_agenda(me cdrp.caller, m cdrp.meetings) RETURNS void
LANGUAGE plpgsql SET cdrp.scope = 'partnership' AS $$
DECLARE kind text := cdrp.group_case_kind(m.group_kind);
  since date := coalesce((SELECT max(held_on) FROM cdrp.meetings x
                          WHERE x.partnership_id = m.partnership_id AND x.group_kind = m.group_kind
                            AND x.id <> m.id AND x.held_on < m.held_on), m.held_on - 31);
BEGIN
  INSERT INTO cdrp.meeting_items (meeting_id, position, kind, title, case_id, referral_id,
                                  person_id, action_id)
  SELECT m.id, row_number() OVER (ORDER BY grp, sort1, sort2), k, title, cid, rid, pid, aid
  FROM (
    SELECT 1 AS grp, 0 AS sort1, r.id AS sort2, 'referral' AS k,
           format('Referral %s awaiting triage (%s, submitted %s)', r.reference, r.status,
                  (r.submitted_at AT TIME ZONE 'UTC')::date) AS title,
           NULL::bigint AS cid, r.id AS rid, NULL::bigint AS pid, NULL::bigint AS aid
    FROM cdrp.referrals r
    WHERE r.partnership_id = m.partnership_id AND r.case_kind = kind
      AND r.status IN ('submitted', 'info_requested')
      AND cdrp.referral_visible(r, me.agency_id, me.partnership_id, me.roles)
    UNION ALL
    SELECT 2, CASE cdrp.case_band(c.id) WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, c.id,
           'review_due', format('Review %s (risk %s)', c.reference, cdrp.case_band(c.id)),
           c.id, NULL, NULL, NULL
    FROM cdrp.cases c
    WHERE c.partnership_id = m.partnership_id AND c.case_kind = kind AND c.status = 'open'
      AND cdrp.case_review_due(c.id, m.held_on)
      AND cdrp.case_readable(c.id, me.agency_id, me.roles)
    UNION ALL
    SELECT DISTINCT ON (p.id) 3, 0, p.id, 'victim',
           format('Person %s on %s: %s', p.id, c.reference,
                  CASE WHEN cdrp.person_repeat_victim(p.id) THEN 'repeat victim'
                       ELSE 'meets the ASB Case Review threshold' END),
           c.id, NULL, p.id, NULL
    FROM cdrp.case_persons cp JOIN cdrp.persons p ON p.id = cp.person_id
    JOIN cdrp.cases c ON c.id = cp.case_id
    WHERE kind = 'asb' AND c.partnership_id = m.partnership_id AND c.status = 'open'
      AND cp.role = 'victim' AND p.erased_at IS NULL
      AND EXISTS (SELECT 1 FROM cdrp.incident_victims iv JOIN cdrp.incidents i
                  ON i.id = iv.incident_id
                  WHERE iv.person_id = p.id AND i.occurred_on > since)
      AND (cdrp.person_repeat_victim(p.id)
           OR coalesce((cdrp.person_case_review(p.id)->>'eligible')::boolean, false))
      AND cdrp.case_readable(c.id, me.agency_id, me.roles)
    UNION ALL
    SELECT 4, 0, a.id, 'overdue_action',
           format('Overdue action %s (%s, due %s, owner %s) on %s', a.id, a.action_type,
                  a.due_on, (SELECT code FROM cdrp.agencies WHERE id = a.owner_agency_id),
                  c.reference),
           c.id, NULL, NULL, a.id
    FROM cdrp.actions a JOIN cdrp.cases c ON c.id = a.case_id
    WHERE c.partnership_id = m.partnership_id AND c.case_kind = kind
      AND cdrp.action_overdue(a.due_on, a.status, m.held_on)
      AND cdrp.case_readable(c.id, me.agency_id, me.roles)
    UNION ALL
    SELECT 5, 0, c.id, 'ppo_cohort',
           format('PPO cohort: %s %s', c.reference,
                  CASE WHEN c.status = 'closed' THEN 'left the scheme (' || c.outcome || ')'
                       ELSE 'joined (' || coalesce(c.strand, 'no strand') || ')' END),
           c.id, NULL, NULL, NULL
    FROM cdrp.cases c
    WHERE kind = 'ppo' AND c.partnership_id = m.partnership_id AND c.case_kind = 'ppo'
      AND ((c.opened_at AT TIME ZONE 'UTC')::date > since
           OR (c.closed_at AT TIME ZONE 'UTC')::date > since)
      AND cdrp.case_readable(c.id, me.agency_id, me.roles)
  ) items(grp, sort1, sort2, k, title, cid, rid, pid, aid);
END $$;

CREATE FUNCTION cdrp.review_json(d cdrp.case_decisions) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', d.id, 'case', c.reference, 'subject_type', c.subject_type,
    'lead_agency', (SELECT code FROM cdrp.agencies WHERE id = c.lead_agency_id),
    'assessment', d.assessment, 'decision', d.decision, 'outcome', d.outcome,
    'next_review_on', d.next_review_on, 'notes', d.notes,
    'consensus', to_jsonb(d.consensus),
    'by', cdrp.user_json(d.user_id), 'at', cdrp.utc(d.at),
    'actions', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                  'id', a.id, 'type', a.action_type, 'stage', a.stage,
                  'owner', (SELECT code FROM cdrp.agencies WHERE id = a.owner_agency_id),
                  'due_on', a.due_on, 'status', a.status) ORDER BY a.id), '[]')
                FROM cdrp.actions a
                WHERE a.case_id = d.case_id AND a.created_at = d.at AND a.created_by = d.user_id))
  FROM cdrp.cases c WHERE c.id = d.case_id
$$;

-- May the caller see this agenda item? Only if it may read its case or
-- its referral.
CREATE FUNCTION cdrp.meeting_item_visible(i cdrp.meeting_items, me cdrp.caller) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT (i.case_id IS NULL OR cdrp.case_readable(i.case_id, me.agency_id, me.roles))
     AND (i.referral_id IS NULL
          OR coalesce((SELECT cdrp.referral_visible(r, me.agency_id, me.partnership_id, me.roles)
                       FROM cdrp.referrals r WHERE r.id = i.referral_id), false))
$$;

-- A meeting as the caller may read it: reviews and agenda items of cases
-- or referrals the caller cannot read are left out.
CREATE FUNCTION cdrp.meeting_json(p_meeting bigint, me cdrp.caller) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', m.id, 'group', m.group_kind, 'held_on', m.held_on, 'status', m.status,
    'closed_at', cdrp.utc(m.closed_at), 'version', m.version,
    'chair', cdrp.user_json(m.chair_user_id),
    'attendance', (SELECT coalesce(jsonb_agg(a.code ORDER BY a.code), '[]')
                   FROM cdrp.meeting_attendance ma JOIN cdrp.agencies a ON a.id = ma.agency_id
                   WHERE ma.meeting_id = m.id),
    'agenda', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                 'id', i.id, 'position', i.position, 'kind', i.kind, 'title', i.title,
                 'case', (SELECT reference FROM cdrp.cases WHERE id = i.case_id),
                 'referral', i.referral_id, 'person', i.person_id, 'action', i.action_id)
                 ORDER BY i.position, i.id), '[]')
               FROM cdrp.meeting_items i
               WHERE i.meeting_id = m.id AND cdrp.meeting_item_visible(i, me)),
    'reviews', (SELECT coalesce(jsonb_agg(cdrp.review_json(d) ORDER BY d.id), '[]')
                FROM cdrp.case_decisions d
                WHERE d.meeting_id = m.id
                  AND cdrp.case_readable(d.case_id, me.agency_id, me.roles)))
  FROM cdrp.meetings m WHERE m.id = p_meeting
$$;

-- A meeting of the caller's partnership (locked for changes, which also
-- need it open); refuses otherwise.
CREATE FUNCTION cdrp.meeting_lookup(me cdrp.caller, p_id text, p_change boolean)
RETURNS cdrp.meetings LANGUAGE plpgsql AS $$
DECLARE m cdrp.meetings;
BEGIN
  IF p_change THEN
    SELECT * INTO m FROM cdrp.meetings
    WHERE id = cdrp.path_id(p_id) AND partnership_id = me.partnership_id FOR UPDATE;
  ELSE
    SELECT * INTO m FROM cdrp.meetings
    WHERE id = cdrp.path_id(p_id) AND partnership_id = me.partnership_id;
  END IF;
  IF NOT FOUND THEN
    PERFORM cdrp.refuse(404, 'not_found', 'no such meeting');
  END IF;
  IF p_change AND m.status = 'closed' THEN
    PERFORM cdrp.refuse(409, 'invalid_transition',
                        'the meeting is closed: its minutes are frozen');
  END IF;
  RETURN m;
END $$;

-- POST /v1/meetings
CREATE FUNCTION cdrp_impl.meeting_create(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE b jsonb := p_args->'body'; m cdrp.meetings; chair int;
BEGIN
  IF b ? 'chair' THEN
    chair := cdrp.user_id(me.partnership_id, b->'chair');
    -- (NOT x = ANY ((SELECT roles ...))) compared 'chair' with the whole
    -- array and failed: a 500 for every meeting created with a chair.
    IF chair IS NULL OR NOT EXISTS (SELECT 1 FROM cdrp.users u
                                    WHERE u.id = chair AND 'chair' = ANY (u.roles)) THEN
      PERFORM cdrp.refuse(422, 'rule_violation', 'the chair must be an active user with the chair role',
                          'chair');
    END IF;
  ELSIF 'chair' = ANY (me.roles) THEN
    chair := me.user_id;
  END IF;
  INSERT INTO cdrp.meetings (partnership_id, held_on, chair_user_id, group_kind, created_by)
  VALUES (me.partnership_id, (b->>'held_on')::date, chair, b->>'group', me.user_id)
  RETURNING * INTO m;
  PERFORM cdrp.meeting_generate_agenda(me, m);
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'meeting', m.id,
                     jsonb_build_object('change', 'create', 'group', m.group_kind));
  status := 201; body := cdrp.meeting_json(m.id, me); etag := m.version::text;
END $$;

-- GET /v1/meetings?status=
CREATE FUNCTION cdrp_impl.meeting_list(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
BEGIN
  SELECT jsonb_build_object('items', coalesce(jsonb_agg(jsonb_build_object(
           'id', m.id, 'group', m.group_kind, 'held_on', m.held_on, 'status', m.status,
           'chair', cdrp.user_json(m.chair_user_id),
           -- what this caller may see of them
           'items', (SELECT count(*) FROM cdrp.meeting_items i
                     WHERE i.meeting_id = m.id AND cdrp.meeting_item_visible(i, me)),
           'reviews', (SELECT count(*) FROM cdrp.case_decisions d WHERE d.meeting_id = m.id
                       AND cdrp.case_readable(d.case_id, me.agency_id, me.roles)))
           ORDER BY m.held_on DESC, m.id DESC), '[]'))
  INTO body
  FROM cdrp.meetings m
  WHERE m.partnership_id = me.partnership_id
    AND (p_args->'query'->>'status' IS NULL OR m.status = p_args->'query'->>'status');
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'meeting_list', NULL);
  status := 200;
END $$;

-- GET /v1/meetings/{id}
CREATE FUNCTION cdrp_impl.meeting_get(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE m cdrp.meetings := cdrp.meeting_lookup(me, p_args->>'id', false);
BEGIN
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'meeting', m.id);
  status := 200; body := cdrp.meeting_json(m.id, me); etag := m.version::text;
END $$;

-- POST /v1/meetings/{id}/attendance {"agencies": [...]}: the agencies
-- present (replaces the list).
CREATE FUNCTION cdrp_impl.meeting_attend(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE m cdrp.meetings := cdrp.meeting_lookup(me, p_args->>'id', true); code text; aid int;
  n int := 0;
BEGIN
  DELETE FROM cdrp.meeting_attendance WHERE meeting_id = m.id;
  FOR code IN SELECT DISTINCT jsonb_array_elements_text(p_args->'body'->'agencies') LOOP
    aid := cdrp.agency_id(me.partnership_id, code);
    IF aid IS NULL THEN
      PERFORM cdrp.refuse(422, 'rule_violation',
                          format('%s is not an active agency of this partnership', code),
                          format('agencies[%s]', n));
    END IF;
    INSERT INTO cdrp.meeting_attendance (meeting_id, agency_id) VALUES (m.id, aid);
    n := n + 1;
  END LOOP;
  UPDATE cdrp.meetings SET version = version + 1 WHERE id = m.id;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'meeting', m.id,
                     jsonb_build_object('change', 'attendance', 'agencies', n));
  status := 200; body := cdrp.meeting_json(m.id, me);
END $$;

-- POST /v1/meetings/{id}/items {"title", "case"?}: the chair's own item,
-- at the end.
CREATE FUNCTION cdrp_impl.meeting_item_add(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE m cdrp.meetings := cdrp.meeting_lookup(me, p_args->>'id', true); b jsonb := p_args->'body';
  cid bigint;
BEGIN
  IF b ? 'case' THEN
    cid := cdrp.case_resolve(me.partnership_id, b->>'case');
    IF cid IS NULL OR NOT cdrp.case_readable(cid, me.agency_id, me.roles) THEN
      PERFORM cdrp.refuse(422, 'rule_violation', 'no such case', 'case');
    END IF;
  END IF;
  INSERT INTO cdrp.meeting_items (meeting_id, position, kind, title, case_id, added_by)
  VALUES (m.id, coalesce((SELECT max(position) FROM cdrp.meeting_items WHERE meeting_id = m.id), 0) + 1,
          CASE WHEN cid IS NULL THEN 'other' ELSE 'review_due' END, b->>'title', cid, me.user_id);
  UPDATE cdrp.meetings SET version = version + 1 WHERE id = m.id;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'meeting', m.id,
                     jsonb_build_object('change', 'item'));
  status := 201; body := cdrp.meeting_json(m.id, me);
END $$;

-- PUT /v1/meetings/{id}/items {"order": [item ids]}: the items named come
-- first, in that order; the rest keep theirs after them.
CREATE FUNCTION cdrp_impl.meeting_items_order(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE m cdrp.meetings := cdrp.meeting_lookup(me, p_args->>'id', true);
  ids bigint[] := ARRAY(SELECT (jsonb_array_elements_text(p_args->'body'->'order'))::bigint);
BEGIN
  IF EXISTS (SELECT 1 FROM unnest(ids) x
             WHERE NOT EXISTS (SELECT 1 FROM cdrp.meeting_items i
                               WHERE i.id = x AND i.meeting_id = m.id)) THEN
    PERFORM cdrp.refuse(422, 'rule_violation', 'the order names an item of no such agenda', 'order');
  END IF;
  UPDATE cdrp.meeting_items i SET position = o.pos
  FROM (SELECT i2.id, row_number() OVER (
               ORDER BY coalesce(array_position(ids, i2.id), cardinality(ids) + 1), i2.position, i2.id)
               AS pos
        FROM cdrp.meeting_items i2 WHERE i2.meeting_id = m.id) o
  WHERE i.id = o.id;
  UPDATE cdrp.meetings SET version = version + 1 WHERE id = m.id;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'meeting', m.id,
                     jsonb_build_object('change', 'order'));
  status := 200; body := cdrp.meeting_json(m.id, me);
END $$;

-- A refusal of a step of a review, named by the review's field path.
CREATE FUNCTION cdrp.review_refuse(p_path text, p_status int, p_problem jsonb,
                                   p_default_field text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM cdrp.refuse(p_status, p_problem->>'code', p_problem->>'detail',
                      p_path || coalesce(p_problem->>'field', p_default_field));
END $$;

-- Records one review at meeting m; p_path prefixes field names in
-- refusals ("" for one review, "reviews[3]." in a batch).
CREATE FUNCTION cdrp.meeting_review_apply(me cdrp.caller, m cdrp.meetings, b jsonb, p_path text)
RETURNS cdrp.case_decisions LANGUAGE plpgsql AS $$
DECLARE c cdrp.cases; d cdrp.case_decisions; r record; act jsonb; j int := 0;
  at timestamptz := now(); missing text[]; cfg jsonb;
BEGIN
  SELECT * INTO c FROM cdrp.cases
  WHERE id = cdrp.case_resolve(me.partnership_id, b->>'case') FOR UPDATE;
  IF c.id IS NULL OR NOT cdrp.case_readable(c.id, me.agency_id, me.roles) THEN
    PERFORM cdrp.refuse(422, 'rule_violation', 'no such case', p_path || 'case');
  END IF;
  IF c.case_kind <> cdrp.group_case_kind(m.group_kind) THEN
    PERFORM cdrp.refuse(422, 'rule_violation',
      format('a %s case is not reviewed by the %s', c.case_kind, m.group_kind), p_path || 'case');
  END IF;
  IF c.status <> 'open' THEN
    PERFORM cdrp.refuse(422, 'rule_violation', 'the case is closed', p_path || 'case');
  END IF;
  IF EXISTS (SELECT 1 FROM cdrp.case_decisions x WHERE x.meeting_id = m.id AND x.case_id = c.id) THEN
    PERFORM cdrp.refuse(409, 'invalid_transition', 'the case was reviewed at this meeting already',
                        p_path || 'case');
  END IF;
  IF (b->>'decision' = 'close') <> (b ? 'outcome') THEN
    PERFORM cdrp.refuse(422, 'rule_violation',
                        'a close decision needs an outcome, and only a close decision has one',
                        p_path || 'outcome');
  END IF;
  IF (b->>'decision' = 'ppo_remove') <> (b ? 'ppo_removal') THEN
    PERFORM cdrp.refuse(422, 'rule_violation',
      'a ppo_remove decision needs ppo_removal (reason, exit strategy, consensus), and only it',
      p_path || 'ppo_removal');
  END IF;
  IF b->>'decision' = 'ppo_remove' THEN
    IF c.case_kind <> 'ppo' THEN
      PERFORM cdrp.refuse(422, 'rule_violation', 'only PPO cases are removed', p_path || 'decision');
    END IF;
    missing := ARRAY(SELECT a.code FROM cdrp.meeting_attendance ma
                     JOIN cdrp.agencies a ON a.id = ma.agency_id
                     WHERE ma.meeting_id = m.id
                     EXCEPT SELECT jsonb_array_elements_text(b->'ppo_removal'->'consensus')
                     ORDER BY 1);
    IF NOT EXISTS (SELECT 1 FROM cdrp.meeting_attendance WHERE meeting_id = m.id) THEN
      PERFORM cdrp.refuse(422, 'rule_violation',
                          'record the attendance first: removal needs every attending agency',
                          p_path || 'ppo_removal.consensus');
    END IF;
    IF cardinality(missing) > 0 THEN
      PERFORM cdrp.refuse(422, 'rule_violation',
        format('removal needs the consensus of every attending agency; missing: %s',
               array_to_string(missing, ', ')), p_path || 'ppo_removal.consensus');
    END IF;
  END IF;
  cfg := cdrp.config(c.partnership_id);
  -- A new risk assessment first: its band sets the default next review.
  IF b ? 'risk' THEN
    SELECT * INTO r FROM cdrp_impl.risk_assess(me, jsonb_build_object('id', c.reference,
                                                                      'body', b->'risk'));
    IF r.status >= 400 THEN
      PERFORM cdrp.review_refuse(p_path || 'risk.', r.status, r.body, 'answers');
    END IF;
  END IF;
  INSERT INTO cdrp.case_decisions (meeting_id, case_id, assessment, decision, outcome,
                                   next_review_on, notes, user_id, at, consensus)
  VALUES (m.id, c.id, b->>'assessment', b->>'decision', b->>'outcome',
          CASE WHEN b->>'decision' IN ('close', 'ppo_remove') THEN NULL
               ELSE coalesce((b->>'next_review_on')::date,
                             m.held_on + cdrp.review_cadence(cdrp.case_band(c.id), cfg)) END,
          b->>'notes', me.user_id, at,
          ARRAY(SELECT jsonb_array_elements_text(b->'ppo_removal'->'consensus')))
  RETURNING * INTO d;
  -- Actions agreed, through the case's own endpoint and rules.
  FOR act IN SELECT jsonb_array_elements(coalesce(b->'actions', '[]')) LOOP
    SELECT * INTO r FROM cdrp_impl.action_add(me, jsonb_build_object('id', c.reference, 'body',
      jsonb_strip_nulls(jsonb_build_object('type', act->>'type', 'stage', (act->>'stage')::int,
        'owner_agency', act->>'owner', 'due_on', act->>'due_on', 'notes', act->>'notes'))));
    IF r.status >= 400 THEN
      PERFORM cdrp.review_refuse(format('%sactions[%s].', p_path, j), r.status,
                                 r.body || jsonb_build_object('field',
                                   replace(coalesce(r.body->>'field', 'type'), 'owner_agency', 'owner')),
                                 'type');
    END IF;
    j := j + 1;
  END LOOP;
  IF b->>'decision' = 'close' THEN
    SELECT * INTO r FROM cdrp_impl.case_close(me, jsonb_build_object('id', c.reference,
      'if_match', (SELECT version FROM cdrp.cases WHERE id = c.id),
      'body', jsonb_build_object('outcome', b->>'outcome', 'reason',
                                 format('closed at the %s of %s', m.group_kind, m.held_on))));
    IF r.status >= 400 THEN
      PERFORM cdrp.review_refuse(p_path, r.status, r.body, 'decision');
    END IF;
    -- Minutes recorded after the day: the case closed at the meeting.
    IF m.held_on < cdrp.today() THEN
      UPDATE cdrp.cases SET closed_at = (m.held_on + time '12:00') AT TIME ZONE 'UTC'
      WHERE id = c.id;
    END IF;
  ELSIF b->>'decision' = 'ppo_remove' THEN
    SELECT * INTO r FROM cdrp_impl.case_ppo_removal(me, jsonb_build_object('id', c.reference,
      'if_match', (SELECT version FROM cdrp.cases WHERE id = c.id),
      'body', jsonb_strip_nulls(jsonb_build_object(
                'reason', b->'ppo_removal'->>'reason',
                'exit_strategy', b->'ppo_removal'->>'exit_strategy'))));
    IF r.status >= 400 THEN
      PERFORM cdrp.review_refuse(p_path || 'ppo_removal.', r.status, r.body, 'reason');
    END IF;
  END IF;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'case_review', c.id,
                     jsonb_build_object('meeting', m.id, 'assessment', d.assessment,
                                        'decision', d.decision));
  RETURN d;
END $$;

-- POST /v1/meetings/{id}/reviews
CREATE FUNCTION cdrp_impl.meeting_review(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE m cdrp.meetings := cdrp.meeting_lookup(me, p_args->>'id', true); d cdrp.case_decisions;
BEGIN
  d := cdrp.meeting_review_apply(me, m, p_args->'body', '');
  UPDATE cdrp.meetings SET version = version + 1 WHERE id = m.id;
  status := 201; body := cdrp.review_json(d);
END $$;

-- POST /v1/meetings/{id}/decisions {"reviews": [...]}: the whole meeting's
-- reviews at once; one refusal refuses all (the dispatcher rolls back).
CREATE FUNCTION cdrp_impl.meeting_decide(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE m cdrp.meetings := cdrp.meeting_lookup(me, p_args->>'id', true); rv jsonb; n int := 0;
  done jsonb := '[]'; d cdrp.case_decisions;
BEGIN
  FOR rv IN SELECT jsonb_array_elements(p_args->'body'->'reviews') LOOP
    -- Two statements: review_json (STABLE) must see what the review wrote.
    d := cdrp.meeting_review_apply(me, m, rv, format('reviews[%s].', n));
    done := done || cdrp.review_json(d);
    n := n + 1;
  END LOOP;
  UPDATE cdrp.meetings SET version = version + 1 WHERE id = m.id;
  status := 200; body := jsonb_build_object('meeting', m.id, 'reviews', done);
END $$;

-- POST /v1/meetings/{id}/close: the minutes are frozen from now on.
CREATE FUNCTION cdrp_impl.meeting_close(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE m cdrp.meetings := cdrp.meeting_lookup(me, p_args->>'id', true);
BEGIN
  UPDATE cdrp.meetings SET status = 'closed', closed_at = now(), version = version + 1
  WHERE id = m.id;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'meeting', m.id,
                     jsonb_build_object('change', 'close'));
  status := 200; body := cdrp.meeting_json(m.id, me);
END $$;

-- GET /v1/meetings/{id}/minutes: what was decided, for the record.
CREATE FUNCTION cdrp_impl.meeting_minutes(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE m cdrp.meetings := cdrp.meeting_lookup(me, p_args->>'id', false); j jsonb;
BEGIN
  j := cdrp.meeting_json(m.id, me);
  body := jsonb_build_object(
    'meeting', jsonb_build_object('id', m.id, 'group', m.group_kind, 'held_on', m.held_on,
                                  'chair', j->'chair', 'status', m.status,
                                  'closed_at', cdrp.utc(m.closed_at)),
    'attendance', (SELECT coalesce(jsonb_agg(jsonb_build_object('code', a.code, 'name', a.name)
                                             ORDER BY a.code), '[]')
                   FROM cdrp.meeting_attendance ma JOIN cdrp.agencies a ON a.id = ma.agency_id
                   WHERE ma.meeting_id = m.id),
    'agenda', j->'agenda', 'reviews', j->'reviews');
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'minutes', m.id);
  status := 200;
END $$;
