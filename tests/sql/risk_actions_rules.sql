-- Unit tests of the risk and action rules of sql/code/006_risk_actions.sql.
-- Run with: psql -X -v ON_ERROR_STOP=1 -f tests/sql/risk_actions_rules.sql
-- Everything happens in one transaction that is rolled back; a failed
-- ASSERT stops the script with a non-zero exit.
\set ON_ERROR_STOP 1
BEGIN;

-- ---- risk_score and risk_band ------------------------------------------------

DO $$
DECLARE
  cfg jsonb := cdrp.config_defaults();
  -- every question false, then selected ones true (default weights:
  -- happened_before 3, feel_targeted 3, hate_motivated 5, disabled_or_ill 4,
  -- affecting_health 4, afraid_at_home 4, children_affected 2,
  -- violence_or_threats 5, isolated 2, considered_moving 2)
  none jsonb := (SELECT jsonb_object_agg(q->>'id', false)
                 FROM jsonb_array_elements(cdrp.config_defaults()->'risk'->'questions') q);
  r jsonb;
BEGIN
  r := cdrp.risk_score(none, cfg);
  ASSERT r = '{"score": 0, "band": "standard"}', 'all false: ' || r::text;
  -- 9: hate 5 + disabled 4
  r := cdrp.risk_score(none || '{"hate_motivated": true, "disabled_or_ill": true}', cfg);
  ASSERT r = '{"score": 9, "band": "standard"}', 'score 9: ' || r::text;
  -- 10: hate 5 + violence 5
  r := cdrp.risk_score(none || '{"hate_motivated": true, "violence_or_threats": true}', cfg);
  ASSERT r = '{"score": 10, "band": "medium"}', 'score 10: ' || r::text;
  -- 19: 5 + 5 + 4 + 3 + 2
  r := cdrp.risk_score(none || '{"hate_motivated": true, "violence_or_threats": true,
    "afraid_at_home": true, "happened_before": true, "isolated": true}', cfg);
  ASSERT r = '{"score": 19, "band": "medium"}', 'score 19: ' || r::text;
  -- 20: 5 + 5 + 4 + 4 + 2
  r := cdrp.risk_score(none || '{"hate_motivated": true, "violence_or_threats": true,
    "afraid_at_home": true, "affecting_health": true, "isolated": true}', cfg);
  ASSERT r = '{"score": 20, "band": "high"}', 'score 20: ' || r::text;
  -- all true: 34
  r := cdrp.risk_score((SELECT jsonb_object_agg(k, true) FROM jsonb_object_keys(none) k), cfg);
  ASSERT r = '{"score": 34, "band": "high"}', 'all true: ' || r::text;
  -- the risk part of the configuration works as well as the whole
  r := cdrp.risk_score(none || '{"hate_motivated": true, "violence_or_threats": true}',
                       cfg->'risk');
  ASSERT r->>'band' = 'medium', 'risk part as config: ' || r::text;

  ASSERT cdrp.risk_band(9, cfg) = 'standard';
  ASSERT cdrp.risk_band(10, cfg) = 'medium';
  ASSERT cdrp.risk_band(19, cfg) = 'medium';
  ASSERT cdrp.risk_band(20, cfg) = 'high';
  ASSERT cdrp.risk_band(0, cfg) = 'standard';
END $$;

-- Invalid answers: unknown question, missing answer, non-boolean.
DO $$
DECLARE
  cfg jsonb := cdrp.config_defaults();
  none jsonb := (SELECT jsonb_object_agg(q->>'id', false)
                 FROM jsonb_array_elements(cdrp.config_defaults()->'risk'->'questions') q);
  p jsonb;
  raised boolean;
BEGIN
  ASSERT cdrp.risk_answers_problem(none, cfg) IS NULL, 'complete answers are fine';
  p := cdrp.risk_answers_problem(none || '{"owns_a_dog": true}', cfg);
  ASSERT p->>'code' = 'invalid_field' AND p->>'field' = 'answers.owns_a_dog',
    'unknown question: ' || coalesce(p::text, 'NULL');
  p := cdrp.risk_answers_problem(none - 'isolated', cfg);
  ASSERT p->>'code' = 'missing_field' AND p->>'field' = 'answers.isolated',
    'missing answer: ' || coalesce(p::text, 'NULL');
  p := cdrp.risk_answers_problem('{}', cfg);
  ASSERT p->>'code' = 'missing_field' AND p->>'field' = 'answers.happened_before',
    'first missing in questionnaire order: ' || coalesce(p::text, 'NULL');
  p := cdrp.risk_answers_problem(none || '{"isolated": "yes"}', cfg);
  ASSERT p->>'code' = 'invalid_field' AND p->>'field' = 'answers.isolated',
    'non-boolean answer: ' || coalesce(p::text, 'NULL');

  raised := false;
  BEGIN
    PERFORM cdrp.risk_score(none || '{"owns_a_dog": true}', cfg);
  EXCEPTION WHEN invalid_parameter_value THEN
    raised := SQLERRM LIKE 'answers.owns_a_dog:%';
  END;
  ASSERT raised, 'risk_score raises on an unknown question, naming it';
  raised := false;
  BEGIN
    PERFORM cdrp.risk_score(none - 'isolated', cfg);
  EXCEPTION WHEN invalid_parameter_value THEN
    raised := SQLERRM LIKE 'answers.isolated:%';
  END;
  ASSERT raised, 'risk_score raises on a missing answer, naming it';
END $$;

-- Configuration overrides change weights, questions and bands.
DO $$
DECLARE
  cfg jsonb := cdrp.config_defaults();
  custom jsonb := jsonb_set(cdrp.config_defaults(), '{risk}',
    '{"medium_from": 3, "high_from": 6, "victim_support_from": 5,
      "questions": [{"id": "a", "text": "A?", "weight": 3}, {"id": "b", "text": "B?", "weight": 3}]}');
BEGIN
  ASSERT cdrp.risk_score('{"a": true, "b": false}', custom) = '{"score": 3, "band": "medium"}';
  ASSERT cdrp.risk_score('{"a": true, "b": true}', custom) = '{"score": 6, "band": "high"}';
  ASSERT cdrp.risk_score('{"a": false, "b": false}', custom) = '{"score": 0, "band": "standard"}';
  ASSERT cdrp.risk_answers_problem('{"a": true, "b": true, "hate_motivated": true}', custom)->>'field'
    = 'answers.hate_motivated', 'a default question is unknown once replaced';
  ASSERT cdrp.risk_band(19, jsonb_set(cfg, '{risk,high_from}', '25')) = 'medium';
  ASSERT cdrp.risk_band(20, jsonb_set(cfg, '{risk,high_from}', '25')) = 'medium';
  ASSERT cdrp.risk_band(25, jsonb_set(cfg, '{risk,high_from}', '25')) = 'high';
  ASSERT cdrp.risk_band(9, jsonb_set(cfg, '{risk,medium_from}', '9')) = 'medium';
END $$;

-- ---- cadence and next review ---------------------------------------------------

DO $$
DECLARE
  cfg jsonb := cdrp.config_defaults();
BEGIN
  ASSERT cdrp.review_cadence('high', cfg) = 14;
  ASSERT cdrp.review_cadence('medium', cfg) = 28;
  ASSERT cdrp.review_cadence('standard', cfg) = 28;
  ASSERT cdrp.review_cadence('high', cfg->'cadence_days') = 14, 'cadence part as config';
  ASSERT cdrp.review_cadence('high', jsonb_set(cfg, '{cadence_days,high}', '7')) = 7;
  ASSERT cdrp.next_review_date('2026-03-01', 'high', cfg) = '2026-03-15';
  ASSERT cdrp.next_review_date('2026-03-01', 'medium', cfg) = '2026-03-29';
  -- across a month end and a year end
  ASSERT cdrp.next_review_date('2026-01-20', 'high', cfg) = '2026-02-03';
  ASSERT cdrp.next_review_date('2026-12-20', 'standard', cfg) = '2027-01-17';
  -- February in a leap year (2028) and not (2027)
  ASSERT cdrp.next_review_date('2028-02-15', 'high', cfg) = '2028-02-29';
  ASSERT cdrp.next_review_date('2027-02-15', 'high', cfg) = '2027-03-01';
  ASSERT cdrp.next_review_date('2028-02-29', 'standard', cfg) = '2028-03-28';
  ASSERT cdrp.next_review_date('2028-02-01', 'medium', cfg) = '2028-02-29';
END $$;

-- ---- overdue and transitions --------------------------------------------------

DO $$
BEGIN
  ASSERT NOT cdrp.action_overdue('2026-05-10', 'agreed', '2026-05-10'), 'due today is not overdue';
  ASSERT cdrp.action_overdue('2026-05-10', 'agreed', '2026-05-11'), 'the day after is overdue';
  ASSERT cdrp.action_overdue('2026-05-10', 'in_progress', '2026-05-11');
  ASSERT NOT cdrp.action_overdue('2026-05-10', 'done', '2026-05-11'), 'done is never overdue';
  ASSERT NOT cdrp.action_overdue('2026-05-10', 'cancelled', '2026-05-11');
  ASSERT NOT cdrp.action_overdue(NULL, 'agreed', '2026-05-11'), 'no due date, not overdue';
  ASSERT NOT cdrp.action_overdue('2026-05-12', 'agreed', '2026-05-11');

  ASSERT cdrp.action_transition_ok('agreed', 'in_progress');
  ASSERT cdrp.action_transition_ok('agreed', 'done');
  ASSERT cdrp.action_transition_ok('agreed', 'cancelled');
  ASSERT cdrp.action_transition_ok('in_progress', 'done');
  ASSERT cdrp.action_transition_ok('in_progress', 'cancelled');
  ASSERT NOT cdrp.action_transition_ok('in_progress', 'agreed');
  ASSERT NOT cdrp.action_transition_ok('done', 'in_progress');
  ASSERT NOT cdrp.action_transition_ok('done', 'cancelled');
  ASSERT NOT cdrp.action_transition_ok('cancelled', 'agreed');
END $$;

-- ---- case data: CPN rule, latest risk, next review, overdue --------------------

-- A partnership of our own, so that configuration overrides touch nothing else.
CREATE TEMP TABLE t_ids (name text PRIMARY KEY, id bigint NOT NULL) ON COMMIT DROP;
DO $$
DECLARE pid int; aid int; uid int; cid bigint;
BEGIN
  INSERT INTO cdrp.partnerships (code, name) VALUES ('RATEST', 'Risk test partnership')
  RETURNING id INTO pid;
  INSERT INTO cdrp.agencies (partnership_id, code, name, kind)
  VALUES (pid, 'RATESTDC', 'Fictional District Council', 'district_council') RETURNING id INTO aid;
  INSERT INTO cdrp.agency_partnerships (agency_id, partnership_id) VALUES (aid, pid);
  INSERT INTO cdrp.users (agency_id, cn, display_name, roles)
  VALUES (aid, 'Test Caseworker', 'Test Caseworker', '{caseworker}') RETURNING id INTO uid;
  INSERT INTO t_ids VALUES ('p', pid), ('a', aid), ('u', uid);
  FOR n IN 1..3 LOOP
    INSERT INTO cdrp.cases (partnership_id, reference, case_kind, subject_type, subject_name,
                            lead_agency_id, referral_date, opened_at)
    VALUES (pid, 'ASB-2099-RA' || n, 'asb', 'individual', 'Fictional Subject', aid,
            '2026-01-01', '2026-01-31 23:30:00+00') RETURNING id INTO cid;
    INSERT INTO t_ids VALUES ('case' || n, cid);
  END LOOP;
END $$;

-- CPN: allowed only after a non-cancelled written warning on the same case.
DO $$
DECLARE
  a int := (SELECT id FROM t_ids WHERE name = 'a');
  u int := (SELECT id FROM t_ids WHERE name = 'u');
  c1 bigint := (SELECT id FROM t_ids WHERE name = 'case1');
  c2 bigint := (SELECT id FROM t_ids WHERE name = 'case2');
  w bigint;
BEGIN
  ASSERT NOT cdrp.cpn_allowed(c1), 'no actions: no CPN';
  INSERT INTO cdrp.actions (case_id, action_type, stage, owner_agency_id, created_by)
  VALUES (c1, 'mediation_referral', 1, a, u), (c1, 'acceptable_behaviour_contract', 2, a, u);
  ASSERT NOT cdrp.cpn_allowed(c1), 'other action types are not warnings';
  -- a warning on another case does not count
  INSERT INTO cdrp.actions (case_id, action_type, stage, owner_agency_id, created_by)
  VALUES (c2, 'warning_letter', 1, a, u);
  ASSERT NOT cdrp.cpn_allowed(c1), 'a warning on another case does not count';
  ASSERT cdrp.cpn_allowed(c2), 'a warning letter allows a CPN on its case';
  -- a cancelled warning does not count
  INSERT INTO cdrp.actions (case_id, action_type, stage, owner_agency_id, status, created_by)
  VALUES (c1, 'cpn_warning', 2, a, 'cancelled', u) RETURNING id INTO w;
  ASSERT NOT cdrp.cpn_allowed(c1), 'a cancelled warning does not count';
  UPDATE cdrp.actions SET status = 'in_progress' WHERE id = w;
  ASSERT cdrp.cpn_allowed(c1), 'a CPN warning in progress counts';
  UPDATE cdrp.actions SET status = 'done' WHERE id = w;
  ASSERT cdrp.cpn_allowed(c1), 'a CPN warning done counts';
  UPDATE cdrp.actions SET status = 'cancelled' WHERE id = w;
  INSERT INTO cdrp.actions (case_id, action_type, stage, owner_agency_id, created_by)
  VALUES (c1, 'second_warning_visit', 1, a, u);
  ASSERT cdrp.cpn_allowed(c1), 'a second warning visit counts';
  -- the partnership's configuration decides which types are warnings
  UPDATE cdrp.partnerships SET config = '{"cpn_prior_warnings": ["warning_letter"]}'
  WHERE id = (SELECT id FROM t_ids WHERE name = 'p');
  ASSERT NOT cdrp.cpn_allowed(c1), 'configured: only a warning letter counts';
  ASSERT cdrp.cpn_allowed(c2), 'configured: the warning letter still counts';
  UPDATE cdrp.partnerships SET config = '{}' WHERE id = (SELECT id FROM t_ids WHERE name = 'p');
END $$;

-- Actions JSON and overdue, next review and case overdue.
DO $$
DECLARE
  a int := (SELECT id FROM t_ids WHERE name = 'a');
  u int := (SELECT id FROM t_ids WHERE name = 'u');
  c3 bigint := (SELECT id FROM t_ids WHERE name = 'case3');
  j jsonb;
  r jsonb;
BEGIN
  ASSERT cdrp.case_actions(c3) = '[]', 'no actions: empty array';
  ASSERT cdrp.case_risk(c3) IS NULL, 'no assessment: null risk';
  -- opened 2026-01-31 23:30 UTC: next review 28 days later (standard cadence)
  ASSERT cdrp.case_next_review(c3) = '2026-02-28', 'no assessment: opened + 28 days';
  ASSERT cdrp.case_overdue(c3), 'review date long past: overdue';

  INSERT INTO cdrp.risk_assessments (case_id, answers, score, band, user_id, assessed_at)
  VALUES (c3, '{}', 12, 'medium', u, now() - interval '40 days'),
         (c3, '{}', 22, 'high', u, now() - interval '3 days');
  r := cdrp.case_risk(c3);
  ASSERT r->>'band' = 'high' AND (r->>'score')::int = 22, 'latest assessment wins: ' || r::text;
  ASSERT r->>'next_review_on' = (cdrp.today() - 3 + 14)::text, 'next review: ' || r::text;
  ASSERT r ? 'id' AND r ? 'assessed_at' AND r ? 'person_id', 'risk keys: ' || r::text;
  ASSERT cdrp.case_next_review(c3) = cdrp.today() + 11;
  ASSERT NOT cdrp.case_overdue(c3), 'recent assessment, no actions: not overdue';

  -- due today: not overdue; due yesterday: overdue, unless done
  INSERT INTO cdrp.actions (case_id, action_type, stage, owner_agency_id, due_on, created_by)
  VALUES (c3, 'warning_letter', 1, a, cdrp.today(), u);
  j := cdrp.case_actions(c3);
  ASSERT jsonb_array_length(j) = 1 AND j->0->>'overdue' = 'false', 'due today: ' || j::text;
  ASSERT j->0->>'type' = 'warning_letter' AND j->0->>'owner_agency' = 'RATESTDC'
     AND j->0->>'status' = 'agreed' AND (j->0->>'version')::int = 1
     AND j->0->>'due_on' = cdrp.today()::text AND j->0->>'case' = 'ASB-2099-RA3',
     'action JSON: ' || j::text;
  ASSERT NOT cdrp.case_overdue(c3), 'due today: case not overdue';
  UPDATE cdrp.actions SET due_on = cdrp.today() - 1 WHERE case_id = c3;
  j := cdrp.case_actions(c3);
  ASSERT j->0->>'overdue' = 'true', 'due yesterday: ' || j::text;
  ASSERT cdrp.case_overdue(c3), 'due yesterday: case overdue';
  UPDATE cdrp.actions SET status = 'done' WHERE case_id = c3;
  ASSERT cdrp.case_actions(c3)->0->>'overdue' = 'false', 'done: not overdue';
  ASSERT NOT cdrp.case_overdue(c3), 'done: case not overdue';

  -- the configured cadence drives next review
  UPDATE cdrp.partnerships SET config = '{"cadence_days": {"high": 2}}'
  WHERE id = (SELECT id FROM t_ids WHERE name = 'p');
  ASSERT cdrp.case_next_review(c3) = cdrp.today() - 1, 'configured cadence';
  ASSERT cdrp.case_overdue(c3), 'configured cadence: review overdue';
END $$;

-- The endpoints under the test partnership's configuration overrides.
DO $$
DECLARE
  p int := (SELECT id FROM t_ids WHERE name = 'p');
  c1 bigint := (SELECT id FROM t_ids WHERE name = 'case1');
  r record;
  n_audit bigint;
  max_audit bigint; -- ids come from a sequence: gaps where transactions rolled back
  act bigint;
BEGIN
  UPDATE cdrp.partnerships SET config = '{
    "risk": {"medium_from": 3, "high_from": 6, "victim_support_from": 5,
             "questions": [{"id": "a", "text": "A?", "weight": 3},
                           {"id": "b", "text": "B?", "weight": 3}]},
    "cadence_days": {"high": 7},
    "action_types": ["warning_letter", "cpn"]}' WHERE id = p;

  SELECT * INTO r FROM cdrp_api.call('RATESTDC', 'Test Caseworker', 'risk_questionnaire', '{}');
  ASSERT r.status = 200 AND jsonb_array_length(r.body->'questions') = 2
     AND r.body->'bands' = '{"medium_from": 3, "high_from": 6}'
     AND (r.body->'cadence_days'->>'medium')::int = 28, 'questionnaire: ' || r.body::text;

  n_audit := (SELECT count(*) FROM cdrp.audit_log);
  max_audit := (SELECT max(id) FROM cdrp.audit_log);
  SELECT * INTO r FROM cdrp_api.call('RATESTDC', 'Test Caseworker', 'risk_assess',
    jsonb_build_object('id', c1::text, 'body', jsonb '{"answers": {"a": true, "b": true}}'));
  ASSERT r.status = 201 AND r.body->>'band' = 'high' AND (r.body->>'score')::int = 6
     AND r.body->>'next_review_on' = (cdrp.today() + 7)::text
     AND r.body->'prompts'->0->>'code' = 'refer_to_victim_support', 'assess: ' || r.body::text;
  ASSERT (SELECT count(*) FROM cdrp.audit_log) = n_audit + 1, 'one audit row per assessment';
  ASSERT EXISTS (SELECT 1 FROM cdrp.audit_log WHERE id > max_audit AND action = 'collect'
                 AND object_type = 'risk_assessment' AND object_id = (r.body->>'id')::bigint);

  SELECT * INTO r FROM cdrp_api.call('RATESTDC', 'Test Caseworker', 'risk_assess',
    jsonb_build_object('id', 'ASB-2099-RA1', 'body', jsonb '{"answers": {"a": true, "b": false}}'));
  ASSERT r.status = 201 AND r.body->>'band' = 'medium' AND r.body->'prompts' = '[]'
     AND r.body->>'next_review_on' = (cdrp.today() + 28)::text, 'by reference: ' || r.body::text;

  SELECT * INTO r FROM cdrp_api.call('RATESTDC', 'Test Caseworker', 'risk_assess',
    jsonb_build_object('id', c1::text, 'body', jsonb '{"answers": {"a": true, "happened_before": true}}'));
  ASSERT r.status = 400 AND r.body->>'field' = 'answers.happened_before', r.body::text;
  SELECT * INTO r FROM cdrp_api.call('RATESTDC', 'Test Caseworker', 'risk_assess',
    jsonb_build_object('id', c1::text, 'body', jsonb '{"answers": {"a": true}}'));
  ASSERT r.status = 400 AND r.body->>'code' = 'missing_field' AND r.body->>'field' = 'answers.b',
    r.body::text;

  -- a type the API knows but this partnership does not use
  SELECT * INTO r FROM cdrp_api.call('RATESTDC', 'Test Caseworker', 'action_add',
    jsonb_build_object('id', c1::text,
                       'body', jsonb '{"type": "closure_order", "stage": 4, "owner_agency": "RATESTDC"}'));
  ASSERT r.status = 422 AND r.body->>'code' = 'rule_violation' AND r.body->>'field' = 'type',
    'unused action type: ' || r.body::text;
  -- an agency of another partnership is not an owner here
  SELECT * INTO r FROM cdrp_api.call('RATESTDC', 'Test Caseworker', 'action_add',
    jsonb_build_object('id', c1::text,
                       'body', jsonb '{"type": "warning_letter", "stage": 1, "owner_agency": "HMDC"}'));
  ASSERT r.status = 422 AND r.body->>'field' = 'owner_agency', 'foreign agency: ' || r.body::text;
  -- case1 has a second_warning_visit (from the CPN tests), but this
  -- partnership's default cpn_prior_warnings still count it
  SELECT * INTO r FROM cdrp_api.call('RATESTDC', 'Test Caseworker', 'action_add',
    jsonb_build_object('id', c1::text,
                       'body', jsonb '{"type": "cpn", "stage": 3, "owner_agency": "RATESTDC",
                                 "due_on": "2000-01-01"}'));
  ASSERT r.status = 201 AND r.etag = '1' AND r.body->>'overdue' = 'true', 'cpn: ' || r.body::text;
  act := (r.body->>'id')::bigint;

  -- updates: If-Match, transitions, final states
  SELECT * INTO r FROM cdrp_api.call('RATESTDC', 'Test Caseworker', 'action_update',
    jsonb_build_object('id', act::text, 'if_match', 7, 'body', jsonb '{"status": "done"}'));
  ASSERT r.status = 412 AND r.etag = '1', 'stale: ' || r.body::text;
  SELECT * INTO r FROM cdrp_api.call('RATESTDC', 'Test Caseworker', 'action_update',
    jsonb_build_object('id', act::text, 'if_match', 1, 'body', jsonb '{"status": "cancelled"}'));
  ASSERT r.status = 200 AND r.etag = '2' AND r.body->>'overdue' = 'false', r.body::text;
  SELECT * INTO r FROM cdrp_api.call('RATESTDC', 'Test Caseworker', 'action_update',
    jsonb_build_object('id', act::text, 'if_match', 2, 'body', jsonb '{"notes": "x"}'));
  ASSERT r.status = 409 AND r.body->>'code' = 'invalid_transition', 'final: ' || r.body::text;
  -- an id of another partnership's action is not found
  SELECT * INTO r FROM cdrp_api.call('RATESTDC', 'Test Caseworker', 'action_update',
    jsonb_build_object('id', 'abc', 'if_match', 1, 'body', jsonb '{"notes": "x"}'));
  ASSERT r.status = 404, 'non-numeric id: ' || r.body::text;

  -- a closed case takes no assessment and no action
  UPDATE cdrp.cases SET status = 'closed', closed_at = now(), outcome = 'resolved' WHERE id = c1;
  SELECT * INTO r FROM cdrp_api.call('RATESTDC', 'Test Caseworker', 'risk_assess',
    jsonb_build_object('id', c1::text, 'body', jsonb '{"answers": {"a": true, "b": false}}'));
  ASSERT r.status = 409, 'closed case assess: ' || r.body::text;
  SELECT * INTO r FROM cdrp_api.call('RATESTDC', 'Test Caseworker', 'action_add',
    jsonb_build_object('id', c1::text,
                       'body', jsonb '{"type": "warning_letter", "stage": 1, "owner_agency": "RATESTDC"}'));
  ASSERT r.status = 409, 'closed case action: ' || r.body::text;
END $$;

ROLLBACK;
