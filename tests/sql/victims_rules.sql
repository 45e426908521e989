-- Unit tests of the repeat-victim and ASB Case Review rules of
-- sql/code/005_victims.sql: the pure rule engines with boundary cases, then the
-- data functions over a small seeded partnership.
-- Run with: psql -X -v ON_ERROR_STOP=1 -f tests/sql/victims_rules.sql
-- Everything happens in one transaction that is rolled back; a failed
-- ASSERT stops the script with a non-zero exit.
\set ON_ERROR_STOP 1
BEGIN;

-- A complaint {occurred_on, reported_on, agency} and a report {reported_on, agency}.
CREATE FUNCTION pg_temp.c(p_occ text, p_rep text, p_agency text DEFAULT 'HMPOL')
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('occurred_on', p_occ, 'reported_on', p_rep, 'agency', p_agency)
$$;
CREATE FUNCTION pg_temp.r(p_rep text, p_agency text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('reported_on', p_rep, 'agency', p_agency)
$$;

-- ---- repeat_victim_rule / max_in_window -------------------------------------------

DO $$
DECLARE
  rv jsonb := cdrp.config_defaults()->'repeat_victim';
  mn int := (rv->>'min_incidents')::int;
  win int := (rv->>'window_days')::int;
BEGIN
  ASSERT mn = 3 AND win = 365, 'defaults: 3 incidents in 365 days';
  -- day 1, a day between, day 365: one window
  ASSERT cdrp.repeat_victim_rule('{2025-01-01,2025-06-15,2025-12-31}', mn, win),
    'day 1, X, day 365 -> repeat';
  ASSERT cdrp.max_in_window('{2025-01-01,2025-06-15,2025-12-31}', win) = 3, 'max 3 on day 365';
  -- day 366 is outside
  ASSERT NOT cdrp.repeat_victim_rule('{2025-01-01,2025-06-15,2026-01-01}', mn, win),
    'day 1, X, day 366 -> not repeat';
  ASSERT cdrp.max_in_window('{2025-01-01,2025-06-15,2026-01-01}', win) = 2, 'max 2 on day 366';
  -- order of the input does not matter
  ASSERT cdrp.repeat_victim_rule('{2025-12-31,2025-01-01,2025-06-15}', mn, win), 'unsorted input';
  -- a leap year: 1 Mar 2027 .. 29 Feb 2028 is 366 days inclusive, 2 Mar 2027 .. 365
  ASSERT NOT cdrp.repeat_victim_rule('{2027-03-01,2027-10-01,2028-02-29}', mn, win),
    'window over 29 Feb 2028: 1 Mar 2027 .. 29 Feb 2028 is day 366';
  ASSERT cdrp.repeat_victim_rule('{2027-03-02,2027-10-01,2028-02-29}', mn, win),
    'window over 29 Feb 2028: 2 Mar 2027 .. 29 Feb 2028 is day 365';
  ASSERT cdrp.repeat_victim_rule('{2028-02-29,2028-06-01,2029-02-27}', mn, win),
    '29 Feb 2028 .. 27 Feb 2029 is day 365';
  ASSERT NOT cdrp.repeat_victim_rule('{2028-02-29,2028-06-01,2029-02-28}', mn, win),
    '29 Feb 2028 .. 28 Feb 2029 is day 366';
  -- a later window qualifies even if an earlier one does not
  ASSERT cdrp.repeat_victim_rule('{2020-01-01,2024-01-01,2024-05-01,2024-12-30}', mn, win),
    'a sliding window anywhere in the history';
  -- two incidents on one day are two incidents (distinct incidents; reports
  -- of one incident are collapsed by the caller)
  ASSERT cdrp.repeat_victim_rule('{2025-03-01,2025-03-01,2025-04-01}', mn, win),
    'two incidents on the same day count twice';
  ASSERT NOT cdrp.repeat_victim_rule('{2025-03-01,2025-04-01}', mn, win), 'two incidents: no';
  ASSERT NOT cdrp.repeat_victim_rule('{}', mn, win), 'no incidents: no';
  ASSERT NOT cdrp.repeat_victim_rule(NULL, mn, win), 'NULL dates: no';
  ASSERT NOT cdrp.repeat_victim_rule('{2025-03-01,NULL,2025-04-01}', mn, win), 'NULLs ignored';
  ASSERT cdrp.max_in_window('{}', win) = 0, 'max of nothing is 0';
  -- configuration: "more than one" incident
  ASSERT cdrp.repeat_victim_rule('{2025-03-01,2026-02-28}', 2, 365), 'min 2: two within 365 days';
  ASSERT NOT cdrp.repeat_victim_rule('{2025-03-01,2026-03-01}', 2, 365), 'min 2: day 366';
  ASSERT NOT cdrp.repeat_victim_rule('{2025-03-01}', 2, 365), 'min 2: one incident is not';
  -- configuration: other windows
  ASSERT cdrp.repeat_victim_rule('{2025-03-01,2025-03-01}', 2, 1), 'window 1 day: same day';
  ASSERT NOT cdrp.repeat_victim_rule('{2025-03-01,2025-03-02}', 2, 1), 'window 1 day: next day';
  ASSERT cdrp.repeat_victim_rule('{2025-03-01,2025-03-30,2025-03-15}', 3, 30), 'window 30: day 30';
  ASSERT NOT cdrp.repeat_victim_rule('{2025-03-01,2025-03-31,2025-03-15}', 3, 30),
    'window 30: day 31';
  ASSERT cdrp.repeat_victim_rule('{2025-03-01}', 1, 365), 'min 1: any incident';
  ASSERT NOT cdrp.repeat_victim_rule('{}', 1, 365), 'min 1: none';
END $$;

-- ---- case_review_rule ------------------------------------------------------------------

DO $$
DECLARE
  cfg jsonb := cdrp.config_defaults()->'case_review';
  r jsonb;
BEGIN
  -- a complaint qualifies when reported within 1 calendar month; month ends
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2028-01-31', '2028-02-29')), cfg);
  ASSERT r->>'qualifying' = '1', '31 Jan 2028 reported 29 Feb 2028 qualifies: ' || r;
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2028-01-31', '2028-03-01')), cfg);
  ASSERT r->>'qualifying' = '0', '31 Jan 2028 reported 1 Mar 2028 does not: ' || r;
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2027-01-31', '2027-02-28')), cfg);
  ASSERT r->>'qualifying' = '1', '31 Jan 2027 reported 28 Feb 2027 qualifies: ' || r;
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2027-01-31', '2027-03-01')), cfg);
  ASSERT r->>'qualifying' = '0', '31 Jan 2027 reported 1 Mar 2027 does not: ' || r;
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2026-03-15', '2026-04-15')), cfg);
  ASSERT r->>'qualifying' = '1', '15 Mar reported 15 Apr qualifies: ' || r;
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2026-03-15', '2026-04-16')), cfg);
  ASSERT r->>'qualifying' = '0', '15 Mar reported 16 Apr does not: ' || r;

  -- nothing, one complaint: no prompt
  r := cdrp.case_review_rule('[]', cfg);
  ASSERT r = '{"eligible": false, "basis": null, "qualifying": 0, "in_window": 0,
               "explain_prompt": false}', 'no complaints: ' || r;
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2026-01-10', '2026-01-15')), cfg);
  ASSERT NOT (r->>'eligible')::boolean AND NOT (r->>'explain_prompt')::boolean,
    'one complaint: nothing: ' || r;
  -- the second complaint within 6 months: explain the Case Review
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2026-01-10', '2026-01-15'),
                                               pg_temp.c('2026-03-01', '2026-03-02')), cfg);
  ASSERT r = '{"eligible": false, "basis": null, "qualifying": 2, "in_window": 2,
               "explain_prompt": true}', 'second complaint: explain prompt: ' || r;
  -- the third: eligible, no more explain prompt
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2026-01-10', '2026-01-15'),
                                               pg_temp.c('2026-03-01', '2026-03-02'),
                                               pg_temp.c('2026-07-01', '2026-07-15')), cfg);
  ASSERT r = '{"eligible": true, "basis": "three_complaints", "qualifying": 3, "in_window": 3,
               "explain_prompt": false}', 'third complaint on first + 6 months: eligible: ' || r;
  -- the 6-month window is inclusive: 15 Jan + 6 months = 15 Jul; 16 Jul is outside
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2026-01-10', '2026-01-15'),
                                               pg_temp.c('2026-03-01', '2026-03-02'),
                                               pg_temp.c('2026-07-01', '2026-07-16')), cfg);
  ASSERT r = '{"eligible": false, "basis": null, "qualifying": 2, "in_window": 2,
               "explain_prompt": true}', 'third complaint a day late: not eligible: ' || r;
  -- the window starts at any complaint: 2 Mar .. 16 Jul holds 2, 15 Jan .. holds 2
  -- but a fourth on 1 Sep makes 2 Mar .. 2 Sep hold three
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2026-01-10', '2026-01-15'),
                                               pg_temp.c('2026-03-01', '2026-03-02'),
                                               pg_temp.c('2026-07-01', '2026-07-16'),
                                               pg_temp.c('2026-09-01', '2026-09-02')), cfg);
  ASSERT (r->>'eligible')::boolean AND r->>'qualifying' = '3', 'a later window: ' || r;
  -- month end window: 31 Aug 2025 + 6 months = 28 Feb 2026
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2025-08-31', '2025-08-31'),
                                               pg_temp.c('2025-11-01', '2025-11-01'),
                                               pg_temp.c('2026-02-28', '2026-02-28')), cfg);
  ASSERT (r->>'eligible')::boolean, '31 Aug .. 28 Feb is within 6 months: ' || r;
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2025-08-31', '2025-08-31'),
                                               pg_temp.c('2025-11-01', '2025-11-01'),
                                               pg_temp.c('2026-03-01', '2026-03-01')), cfg);
  ASSERT NOT (r->>'eligible')::boolean, '31 Aug .. 1 Mar is not: ' || r;
  -- leap year: 31 Aug 2027 + 6 months = 29 Feb 2028
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2027-08-31', '2027-08-31'),
                                               pg_temp.c('2027-12-01', '2027-12-01'),
                                               pg_temp.c('2028-02-29', '2028-02-29')), cfg);
  ASSERT (r->>'eligible')::boolean, '31 Aug 2027 .. 29 Feb 2028 is within 6 months: ' || r;
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2027-08-31', '2027-08-31'),
                                               pg_temp.c('2027-12-01', '2027-12-01'),
                                               pg_temp.c('2028-03-01', '2028-03-01')), cfg);
  ASSERT NOT (r->>'eligible')::boolean, '31 Aug 2027 .. 1 Mar 2028 is not: ' || r;
  -- a late report is a complaint (explain prompt) but does not qualify
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2026-01-10', '2026-01-15'),
                                               pg_temp.c('2026-01-01', '2026-03-02'),
                                               pg_temp.c('2026-04-01', '2026-04-15')), cfg);
  ASSERT r = '{"eligible": false, "basis": null, "qualifying": 2, "in_window": 3,
               "explain_prompt": true}', 'a late report does not qualify: ' || r;
  -- two complaints more than 6 months apart: no prompt
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2026-01-10', '2026-01-15'),
                                               pg_temp.c('2026-07-10', '2026-07-16')), cfg);
  ASSERT NOT (r->>'explain_prompt')::boolean, 'two complaints 6 months + 1 day apart: ' || r;
  -- two complaints on one day: two complaints
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2026-01-10', '2026-01-15'),
                                               pg_temp.c('2026-01-12', '2026-01-15'),
                                               pg_temp.c('2026-01-14', '2026-01-15')), cfg);
  ASSERT (r->>'eligible')::boolean, 'three complaints on one day: ' || r;

  -- configuration overrides, and an empty config takes the defaults
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2026-01-10', '2026-01-15'),
                                               pg_temp.c('2026-03-01', '2026-03-02')),
                             '{"min_complaints": 2}');
  ASSERT r->>'basis' = 'three_complaints' AND NOT (r->>'explain_prompt')::boolean,
    'min_complaints 2: eligible on the second: ' || r;
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2026-01-10', '2026-01-15'),
                                               pg_temp.c('2026-03-01', '2026-03-02')),
                             '{"explain_at": 3}');
  ASSERT NOT (r->>'explain_prompt')::boolean, 'explain_at 3: no prompt on the second: ' || r;
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2026-01-10', '2026-01-15'),
                                               pg_temp.c('2026-03-01', '2026-03-02'),
                                               pg_temp.c('2026-07-01', '2026-07-15')),
                             '{"window_months": 3}');
  ASSERT NOT (r->>'eligible')::boolean, 'window_months 3: ' || r;
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2026-01-10', '2026-03-09')),
                             '{"report_within_months": 2}');
  ASSERT r->>'qualifying' = '1', 'report_within_months 2: ' || r;
  r := cdrp.case_review_rule(jsonb_build_array(pg_temp.c('2026-01-10', '2026-01-15'),
                                               pg_temp.c('2026-03-01', '2026-03-02'),
                                               pg_temp.c('2026-07-01', '2026-07-15')), '{}');
  ASSERT (r->>'eligible')::boolean, 'empty config = defaults: ' || r;
  r := cdrp.case_review_rule(NULL, cfg);
  ASSERT NOT (r->>'eligible')::boolean AND r->>'qualifying' = '0', 'NULL complaints: ' || r;
END $$;

-- ---- case_review_community_rule --------------------------------------------------------

DO $$
DECLARE cfg jsonb := cdrp.config_defaults()->'case_review';
BEGIN
  ASSERT cdrp.case_review_community_rule(jsonb_build_array(
    pg_temp.r('2026-01-01', 'HMPOL'), pg_temp.r('2026-02-01', 'HMPOL'),
    pg_temp.r('2026-03-01', 'HMPOL'), pg_temp.r('2026-04-01', 'HMPOL'),
    pg_temp.r('2026-07-01', 'HMDC')), cfg), '5 reports by 2 agencies within 6 months';
  ASSERT NOT cdrp.case_review_community_rule(jsonb_build_array(
    pg_temp.r('2026-01-01', 'HMPOL'), pg_temp.r('2026-02-01', 'HMPOL'),
    pg_temp.r('2026-03-01', 'HMPOL'), pg_temp.r('2026-04-01', 'HMPOL'),
    pg_temp.r('2026-07-01', 'HMPOL')), cfg), '5 reports by one agency: no';
  ASSERT NOT cdrp.case_review_community_rule(jsonb_build_array(
    pg_temp.r('2026-01-01', 'HMPOL'), pg_temp.r('2026-02-01', 'HMDC'),
    pg_temp.r('2026-03-01', 'HMHA'), pg_temp.r('2026-04-01', 'HMPOL')), cfg),
    '4 reports by 3 agencies: no';
  ASSERT NOT cdrp.case_review_community_rule(jsonb_build_array(
    pg_temp.r('2026-01-01', 'HMPOL'), pg_temp.r('2026-02-01', 'HMPOL'),
    pg_temp.r('2026-03-01', 'HMPOL'), pg_temp.r('2026-04-01', 'HMPOL'),
    pg_temp.r('2026-07-02', 'HMDC')), cfg), '5 reports by 2 agencies over 6 months + 1 day: no';
  -- the second agency must be in the same window
  ASSERT NOT cdrp.case_review_community_rule(jsonb_build_array(
    pg_temp.r('2025-01-01', 'HMDC'), pg_temp.r('2026-02-01', 'HMPOL'),
    pg_temp.r('2026-03-01', 'HMPOL'), pg_temp.r('2026-04-01', 'HMPOL'),
    pg_temp.r('2026-05-01', 'HMPOL'), pg_temp.r('2026-06-01', 'HMPOL')), cfg),
    '5 reports in a window by one agency, the other agency long before: no';
  ASSERT cdrp.case_review_community_rule(jsonb_build_array(
    pg_temp.r('2026-01-01', 'HMPOL'), pg_temp.r('2026-01-01', 'HMDC'),
    pg_temp.r('2026-01-01', 'HMPOL')), cfg || '{"community_min": 3}'),
    'community_min 3 by configuration';
  ASSERT NOT cdrp.case_review_community_rule(jsonb_build_array(
    pg_temp.r('2026-01-01', 'HMPOL'), pg_temp.r('2026-01-01', 'HMDC'),
    pg_temp.r('2026-01-01', 'HMPOL')), cfg || '{"community_min": 3, "community_min_agencies": 3}'),
    'community_min_agencies 3 by configuration';
  ASSERT NOT cdrp.case_review_community_rule('[]', cfg), 'no reports';
END $$;

-- ---- data functions over seeded data -----------------------------------------------------

CREATE TEMP TABLE ids (k text PRIMARY KEY, v bigint) ON COMMIT DROP;

DO $$
DECLARE
  pid int; a1 int; a2 int; u int; c1 bigint; c2 bigint; c3 bigint;
  v1 bigint; v2 bigint; v3 bigint; s1 bigint; i bigint; k int;
BEGIN
  INSERT INTO cdrp.partnerships (code, name, config) VALUES ('ZZVICTEST', 'Rules test', '{}')
  RETURNING id INTO pid;
  INSERT INTO cdrp.agencies (partnership_id, code, name, kind)
  VALUES (pid, 'ZZVICPOL', 'Test police', 'police') RETURNING id INTO a1;
  INSERT INTO cdrp.agencies (partnership_id, code, name, kind)
  VALUES (pid, 'ZZVICDC', 'Test council', 'district_council') RETURNING id INTO a2;
  INSERT INTO cdrp.agency_partnerships (agency_id, partnership_id) VALUES (a1, pid), (a2, pid);
  INSERT INTO cdrp.users (agency_id, cn, display_name, roles)
  VALUES (a2, 'Test Caseworker', 'Test Caseworker', '{caseworker}') RETURNING id INTO u;
  INSERT INTO cdrp.cases (partnership_id, reference, case_kind, subject_type, subject_name,
                          lead_agency_id, referral_date)
  VALUES (pid, 'ASB-2099-9901', 'asb', 'individual', 'Test Subject', a2, '2025-01-01')
  RETURNING id INTO c1;
  INSERT INTO cdrp.cases (partnership_id, reference, case_kind, subject_type, subject_name,
                          lead_agency_id, referral_date)
  VALUES (pid, 'ASB-2099-9902', 'asb', 'area', 'Test Park', a2, '2025-01-01')
  RETURNING id INTO c2;
  INSERT INTO cdrp.cases (partnership_id, reference, case_kind, subject_type, subject_name,
                          lead_agency_id, referral_date)
  VALUES (pid, 'ASB-2099-9903', 'asb', 'area', 'Quiet Close', a2, '2025-01-01')
  RETURNING id INTO c3;
  INSERT INTO cdrp.persons (partnership_id, name) VALUES (pid, 'Victim One') RETURNING id INTO v1;
  INSERT INTO cdrp.persons (partnership_id, name) VALUES (pid, 'Victim Two') RETURNING id INTO v2;
  INSERT INTO cdrp.persons (partnership_id, name) VALUES (pid, 'Victim Three') RETURNING id INTO v3;
  INSERT INTO cdrp.persons (partnership_id, name) VALUES (pid, 'Subject One') RETURNING id INTO s1;
  INSERT INTO cdrp.case_persons VALUES (c1, v1, 'victim'), (c1, v2, 'victim'), (c1, s1, 'subject'),
                                       (c2, v3, 'victim'), (c3, s1, 'subject');
  -- v1: incident 1 reported by both agencies (counts once), incident 2
  INSERT INTO cdrp.incidents (case_id, occurred_on, category, place)
  VALUES (c1, '2025-01-10', 'nuisance', 'Mill Lane') RETURNING id INTO i;
  INSERT INTO cdrp.incident_reports (incident_id, agency_id, reported_on)
  VALUES (i, a1, '2025-01-11'), (i, a2, '2025-01-12');
  INSERT INTO cdrp.incident_victims VALUES (i, v1);
  INSERT INTO cdrp.incidents (case_id, occurred_on, category, place)
  VALUES (c1, '2025-05-01', 'nuisance', 'Mill Lane') RETURNING id INTO i;
  INSERT INTO cdrp.incident_reports (incident_id, agency_id, reported_on) VALUES (i, a1, '2025-05-02');
  INSERT INTO cdrp.incident_victims VALUES (i, v1);
  -- case 2: 5 reports of 3 incidents from 2 agencies within 6 months (v3
  -- is a victim of the case, not of the incidents)
  FOR k IN 1..3 LOOP
    INSERT INTO cdrp.incidents (case_id, occurred_on, category, place)
    VALUES (c2, make_date(2025, k, 1), 'environmental', 'Park') RETURNING id INTO i;
    INSERT INTO cdrp.incident_reports (incident_id, agency_id, reported_on)
    VALUES (i, a1, make_date(2025, k, 2));
    IF k < 3 THEN
      INSERT INTO cdrp.incident_reports (incident_id, agency_id, reported_on)
      VALUES (i, a2, make_date(2025, k, 3));
    END IF;
  END LOOP;
  INSERT INTO ids VALUES ('pid', pid), ('a1', a1), ('u', u), ('c1', c1), ('c2', c2), ('c3', c3),
                         ('v1', v1), ('v2', v2), ('v3', v3), ('s1', s1);
END $$;

DO $$
DECLARE
  a1 int := (SELECT v FROM ids WHERE k = 'a1'); u int := (SELECT v FROM ids WHERE k = 'u');
  c1 bigint := (SELECT v FROM ids WHERE k = 'c1'); c2 bigint := (SELECT v FROM ids WHERE k = 'c2');
  c3 bigint := (SELECT v FROM ids WHERE k = 'c3');
  v1 bigint := (SELECT v FROM ids WHERE k = 'v1'); v2 bigint := (SELECT v FROM ids WHERE k = 'v2');
  v3 bigint := (SELECT v FROM ids WHERE k = 'v3'); s1 bigint := (SELECT v FROM ids WHERE k = 's1');
  pid int := (SELECT v FROM ids WHERE k = 'pid');
  st jsonb; cr jsonb; pr jsonb; i bigint; fid bigint;
BEGIN
  -- two distinct incidents, three reports: not a repeat victim
  st := cdrp.person_victim_status(v1);
  ASSERT NOT cdrp.person_repeat_victim(v1), 'v1: 2 incidents (3 reports) -> not repeat: ' || st;
  ASSERT st->>'incidents_in_window' = '2', 'v1: 2 incidents in window: ' || st;
  -- one complaint per incident: second complaint within 6 months -> explain prompt
  ASSERT jsonb_array_length(cdrp.person_complaints(v1)) = 2, 'v1: 2 complaints';
  cr := cdrp.person_case_review(v1);
  ASSERT cr = '{"eligible": false, "basis": null, "qualifying_complaints": 2,
                "explain_prompt": true}', 'v1 case review: ' || cr;
  pr := cdrp.case_prompts(c1);
  ASSERT pr @> jsonb_build_array(jsonb_build_object('code', 'explain_case_review',
                                                    'person_id', v1)), 'explain prompt: ' || pr;
  ASSERT NOT pr @> '[{"code": "repeat_victim"}]', 'no repeat prompt yet: ' || pr;
  ASSERT NOT cdrp.case_flagged(c1), 'case 1 not flagged yet';

  -- the partnership says "more than one": now a repeat victim
  UPDATE cdrp.partnerships SET config = '{"repeat_victim": {"min_incidents": 2}}' WHERE id = pid;
  ASSERT cdrp.person_repeat_victim(v1), 'min_incidents 2: v1 is a repeat victim';
  ASSERT cdrp.case_flagged(c1), 'min_incidents 2: case 1 flagged';
  UPDATE cdrp.partnerships SET config = '{}' WHERE id = pid;

  -- a third incident on day 365 after the first: repeat victim, eligible
  INSERT INTO cdrp.incidents (case_id, occurred_on, category, place)
  VALUES (c1, '2026-01-09', 'personal', 'Mill Lane') RETURNING id INTO i;
  INSERT INTO cdrp.incident_reports (incident_id, agency_id, reported_on) VALUES (i, a1, '2026-01-09');
  INSERT INTO cdrp.incident_victims VALUES (i, v1);
  st := cdrp.person_victim_status(v1);
  ASSERT st @> '{"repeat_victim": true, "computed": true, "manual": false,
                 "repeat_reason": "computed", "incidents_in_window": 3}', 'v1 repeat: ' || st;
  -- its complaints (11 Jan, 2 May, 9 Jan) are not within 6 months: still the prompt
  cr := cdrp.person_case_review(v1);
  ASSERT cr->>'explain_prompt' = 'true' AND cr->>'eligible' = 'false', 'v1 not eligible: ' || cr;
  pr := cdrp.case_prompts(c1);
  ASSERT pr @> jsonb_build_array(jsonb_build_object('code', 'repeat_victim', 'person_id', v1)),
    'repeat prompt: ' || pr;
  ASSERT cdrp.case_flagged(c1), 'case 1 flagged';
  ASSERT NOT cdrp.case_flagged(c3), 'case 3 (subject only, also on case 1) not flagged';
  -- moved to day 366: no longer
  UPDATE cdrp.incidents SET occurred_on = '2026-01-10' WHERE id = i;
  ASSERT NOT cdrp.person_repeat_victim(v1), 'third incident on day 366: not repeat';
  UPDATE cdrp.incidents SET occurred_on = '2026-01-09' WHERE id = i;

  -- manual flag, cleared
  ASSERT NOT cdrp.person_repeat_victim(v2), 'v2 not repeat';
  INSERT INTO cdrp.victim_flags (person_id, reason, user_id) VALUES (v2, 'known history', u)
  RETURNING id INTO fid;
  st := cdrp.person_victim_status(v2);
  ASSERT st @> '{"repeat_victim": true, "repeat_reason": "manual"}', 'v2 manual: ' || st;
  ASSERT cdrp.case_prompts(c1) @> jsonb_build_array(jsonb_build_object(
           'code', 'repeat_victim', 'person_id', v2)), 'manual flag prompts';
  UPDATE cdrp.victim_flags SET cleared_at = now() WHERE id = fid;
  ASSERT NOT cdrp.person_repeat_victim(v2), 'cleared flag: not repeat';
  INSERT INTO cdrp.victim_flags (person_id, reason, user_id) VALUES (v1, 'also by hand', u);
  ASSERT cdrp.person_victim_status(v1)->>'repeat_reason' = 'both', 'v1: both';

  -- community variant: v3 is a victim of case 2 (5 reports, 2 agencies)
  cr := cdrp.person_case_review(v3);
  ASSERT cr @> '{"eligible": true, "basis": "five_reporters", "explain_prompt": false}',
    'v3 five reporters: ' || cr;
  ASSERT cdrp.case_flagged(c2), 'case 2 flagged (Case Review eligible victim)';
  ASSERT cdrp.case_prompts(c2) = jsonb_build_array(jsonb_build_object('code',
           'case_review_eligible', 'person_id', v3,
           'detail', 'meets the ASB Case Review threshold (five_reporters)')),
    'case 2 prompts: ' || cdrp.case_prompts(c2);
  UPDATE cdrp.partnerships SET config = '{"case_review": {"community_min": 6}}' WHERE id = pid;
  ASSERT NOT (cdrp.person_case_review(v3)->>'eligible')::boolean, 'community_min 6: not eligible';
  UPDATE cdrp.partnerships SET config = '{}' WHERE id = pid;

  -- statutory threshold: v2 complains three times within 6 months
  FOR i IN 1..3 LOOP
    INSERT INTO cdrp.incidents (case_id, occurred_on, category, place)
    VALUES (c1, make_date(2026, i::int * 2, 1), 'personal', 'Mill Lane') RETURNING id INTO fid;
    INSERT INTO cdrp.incident_reports (incident_id, agency_id, reported_on)
    VALUES (fid, a1, make_date(2026, i::int * 2, 3));
    INSERT INTO cdrp.incident_victims VALUES (fid, v2);
    cr := cdrp.person_case_review(v2);
    ASSERT (cr->>'explain_prompt')::boolean = (i = 2), 'v2 explain after ' || i || ': ' || cr;
    ASSERT (cr->>'eligible')::boolean = (i = 3), 'v2 eligible after ' || i || ': ' || cr;
  END LOOP;
  ASSERT cdrp.person_case_review(v2)->>'basis' = 'three_complaints', 'v2 basis';

  -- override: a decision with threshold_met and a reason
  ASSERT NOT (cdrp.person_case_review(s1)->>'eligible')::boolean, 's1 not eligible';
  INSERT INTO cdrp.case_reviews (partnership_id, person_id, applied_on, threshold_met, decided_on)
  VALUES (pid, s1, '2026-01-01', true, '2026-01-02');
  ASSERT NOT (cdrp.person_case_review(s1)->>'eligible')::boolean, 'threshold_met without reason';
  INSERT INTO cdrp.case_reviews (partnership_id, person_id, applied_on, threshold_met,
                                 override_reason, decided_on)
  VALUES (pid, s1, '2026-01-01', true, 'vulnerable victim', '2026-01-02');
  cr := cdrp.person_case_review(s1);
  ASSERT cr @> '{"eligible": true, "basis": "override"}', 's1 override: ' || cr;
  ASSERT NOT (cdrp.person_case_review_eval(s1, false)->>'eligible')::boolean,
    'the rules alone still say no';
  -- s1 is linked to case 3 only as subject: no victim prompt, but flagged
  ASSERT cdrp.case_prompts(c3) = '[]', 'no victims on case 3';
  ASSERT cdrp.case_flagged(c3), 'case 3 flagged (linked person eligible by override)';
END $$;

ROLLBACK;
