-- Unit tests of the 12-month improvement rule and the financial-year
-- windows of sql/code/011_reports.sql. Rolled back; a failed ASSERT stops
-- the script with a non-zero exit.
\set ON_ERROR_STOP 1
BEGIN;

DO $$
DECLARE today date := '2026-12-01';
BEGIN
  -- Day 365 counts, day 366 does not (2025 is not a leap year).
  ASSERT cdrp.improvement_result('2025-01-10', '2026-01-10', today) = 'achieved', 'day 365';
  ASSERT cdrp.improvement_result('2025-01-10', '2026-01-11', today) = 'failed', 'day 366';
  ASSERT cdrp.improvement_result('2025-01-10', '2025-01-10', today) = 'achieved', 'day 0';
  ASSERT cdrp.improvement_result('2025-01-10', '2025-01-09', today) = 'failed',
    'an improvement before the referral does not count';
  ASSERT cdrp.improvement_result('2025-01-10', NULL, today) = 'failed', 'never improved';
  -- Leap years: 29 February 2024 + 365 days is 28 February 2025; from 28
  -- February 2024 the year holds 29 February, so day 365 is 27 February.
  ASSERT cdrp.improvement_result('2024-02-29', '2025-02-28', today) = 'achieved', 'leap: 29 Feb + 365';
  ASSERT cdrp.improvement_result('2024-02-28', '2025-02-28', today) = 'failed', 'leap: day 366';
  ASSERT cdrp.improvement_result('2024-02-28', '2025-02-27', today) = 'achieved', 'leap: day 365';
  -- Pending until day 366 comes: on day 365 itself it can still improve.
  ASSERT cdrp.improvement_result('2025-12-01', NULL, '2026-12-01') = 'pending', 'day 365 today';
  ASSERT cdrp.improvement_result('2025-12-01', NULL, '2026-12-02') = 'failed', 'day 366 today';
  ASSERT cdrp.improvement_result('2026-06-01', NULL, today) = 'pending', 'recent';
  ASSERT cdrp.improvement_result('2026-06-01', '2026-07-01', today) = 'achieved', 'recent, improved';

  -- Financial years run April to March.
  ASSERT cdrp.fy_quarter_label('2026-04-01') = '2026-27 Q1', 'FY start';
  ASSERT cdrp.fy_quarter_label('2026-06-30') = '2026-27 Q1', 'end of Q1';
  ASSERT cdrp.fy_quarter_label('2026-07-01') = '2026-27 Q2', 'Q2';
  ASSERT cdrp.fy_quarter_label('2026-12-31') = '2026-27 Q3', 'Q3';
  ASSERT cdrp.fy_quarter_label('2027-01-01') = '2026-27 Q4', 'January is Q4 of the year before';
  ASSERT cdrp.fy_quarter_label('2027-03-31') = '2026-27 Q4', 'FY end';
  ASSERT cdrp.fy_quarter_label('1999-04-01') = '1999-00 Q1', 'century';
END $$;

DO $$
DECLARE w record;
BEGIN
  SELECT * INTO w FROM cdrp.report_window('{"fy": 2026}');
  ASSERT (w.w_from, w.w_to, w.label) = ('2026-04-01'::date, '2027-03-31'::date, 'FY 2026-27'),
    'fy: ' || w::text;
  SELECT * INTO w FROM cdrp.report_window('{"fy": 2026, "quarter": 4}');
  ASSERT (w.w_from, w.w_to) = ('2027-01-01'::date, '2027-03-31'::date), 'Q4: ' || w::text;
  SELECT * INTO w FROM cdrp.report_window('{"fy": 2023, "quarter": 4}');
  ASSERT (w.w_from, w.w_to) = ('2024-01-01'::date, '2024-03-31'::date), 'leap Q4: ' || w::text;
  SELECT * INTO w FROM cdrp.report_window('{"fy": 2026, "quarter": 1}');
  ASSERT (w.w_from, w.w_to) = ('2026-04-01'::date, '2026-06-30'::date), 'Q1: ' || w::text;
  SELECT * INTO w FROM cdrp.report_window('{"from": "2024-02-01", "to": "2024-02-29"}');
  ASSERT (w.w_from, w.w_to) = ('2024-02-01'::date, '2024-02-29'::date), 'dates: ' || w::text;
END $$;

-- Refusals of the window raise the one refusal SQLSTATE.
DO $$
DECLARE q jsonb; n int := 0;
BEGIN
  FOREACH q IN ARRAY ARRAY['{"fy": 2026, "from": "2026-01-01", "to": "2026-02-01"}',
                           '{"quarter": 2}', '{"from": "2026-01-01"}',
                           '{"from": "2026-02-30", "to": "2026-03-01"}',
                           '{"from": "2026-03-01", "to": "2026-02-01"}']::jsonb[] LOOP
    BEGIN
      PERFORM cdrp.report_window(q);
    EXCEPTION WHEN SQLSTATE 'CDR01' THEN
      n := n + 1;
    END;
  END LOOP;
  ASSERT n = 5, format('%s of 5 bad windows refused', n);
END $$;

-- Counts and the percentage of decided cases.
DO $$
DECLARE c jsonb;
BEGIN
  c := cdrp.improvement_counts(ARRAY['achieved', 'achieved', 'achieved', 'failed', 'pending'], 75);
  ASSERT c = '{"cases": 5, "achieved": 3, "failed": 1, "pending": 1, "decided": 4,
              "pct": 75.0, "met_target": true}'::jsonb, c::text;
  c := cdrp.improvement_counts(ARRAY['achieved', 'failed', 'failed'], 75);
  ASSERT c->>'pct' = '33.3' AND c->>'met_target' = 'false', c::text;
  c := cdrp.improvement_counts(ARRAY['pending'], 75);
  ASSERT c->'pct' = 'null' AND c->'met_target' = 'null', 'nothing decided: ' || c::text;
END $$;

ROLLBACK;
