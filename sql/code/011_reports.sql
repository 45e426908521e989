-- 011_reports: aggregate reports, open to the partnership (no personal
-- data): the 12-month improvement figure (issue 7, BRIEF.md "The 12-month
-- improvement target").
--
-- A case referred in the window is *achieved* if a review assessed it
-- improved, or it was closed as resolved, within 365 days of its referral
-- date (day 365 counts, day 366 does not); *failed* once day 366 has come
-- without; *pending* until then. The percentage is of decided cases
-- (achieved + failed); the target is the partnership's
-- improvement.target_pct (75 by default).

CREATE FUNCTION cdrp.improvement_result(p_referral date, p_improved date, p_today date)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_improved BETWEEN p_referral AND p_referral + 365 THEN 'achieved'
              WHEN p_today > p_referral + 365 THEN 'failed'
              ELSE 'pending' END
$$;

-- UK financial years run April to March: FY 2026 is 2026-04-01..2027-03-31,
-- its Q1 April-June.
CREATE FUNCTION cdrp.fy_quarter_label(p_day date) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format('%s-%s Q%s', fy, lpad(((fy + 1) % 100)::text, 2, '0'),
                ((extract(month FROM p_day)::int + 8) % 12) / 3 + 1)
  FROM (SELECT extract(year FROM p_day)::int
               - CASE WHEN extract(month FROM p_day) < 4 THEN 1 ELSE 0 END AS fy) f
$$;

-- The window of a report from its query: fy [and quarter], or from and
-- to, or by default the current financial year. Refuses 400 otherwise.
CREATE FUNCTION cdrp.report_window(q jsonb, OUT w_from date, OUT w_to date, OUT label text)
LANGUAGE plpgsql AS $$
DECLARE fy int := (q->>'fy')::int; qn int := (q->>'quarter')::int;
BEGIN
  IF fy IS NOT NULL AND (q ? 'from' OR q ? 'to') THEN
    PERFORM cdrp.refuse(400, 'invalid_parameter', 'give fy (and quarter) or from and to, not both', 'fy');
  END IF;
  IF qn IS NOT NULL AND fy IS NULL THEN
    PERFORM cdrp.refuse(400, 'invalid_parameter', 'a quarter needs fy', 'quarter');
  END IF;
  IF q ? 'from' OR q ? 'to' THEN
    IF NOT coalesce(q->>'from' ~ '^\d{4}-\d{2}-\d{2}$' AND q->>'to' ~ '^\d{4}-\d{2}-\d{2}$',
                    false) THEN
      PERFORM cdrp.refuse(400, 'invalid_parameter', 'from and to are both needed, as YYYY-MM-DD',
                          CASE WHEN coalesce(q->>'from' ~ '^\d{4}-\d{2}-\d{2}$', false)
                               THEN 'to' ELSE 'from' END);
    END IF;
    BEGIN
      w_from := (q->>'from')::date; w_to := (q->>'to')::date;
    EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
      PERFORM cdrp.refuse(400, 'invalid_parameter', 'not a calendar date', 'from');
    END;
    IF w_to < w_from THEN
      PERFORM cdrp.refuse(400, 'invalid_parameter', 'to is before from', 'to');
    END IF;
    label := format('%s to %s', w_from, w_to);
    RETURN;
  END IF;
  IF fy IS NULL THEN
    fy := extract(year FROM cdrp.today())::int
          - CASE WHEN extract(month FROM cdrp.today()) < 4 THEN 1 ELSE 0 END;
  END IF;
  w_from := make_date(fy, 4, 1);
  w_to := make_date(fy + 1, 3, 31);
  label := format('FY %s-%s', fy, lpad(((fy + 1) % 100)::text, 2, '0'));
  IF qn IS NOT NULL THEN
    w_from := (w_from + make_interval(months => 3 * (qn - 1)))::date;
    w_to := (w_from + interval '3 months' - interval '1 day')::date;
    label := label || ' Q' || qn;
  END IF;
END $$;

-- Every case of the cohort with its result. The cohort comes from the
-- (partnership, referral_date) index and each case's reviews from the
-- case_id index, one lookup per case: the cost follows the cohort, never
-- the history (tests/bench/improvement_scale).
CREATE FUNCTION cdrp.improvement_cases(p_partnership int, p_from date, p_to date, p_today date)
RETURNS TABLE (case_id bigint, reference text, subject_type text, lead_agency text,
               referral_date date, result text, achieved_on date)
LANGUAGE sql STABLE SET cdrp.scope = 'partnership' AS $$
  SELECT x.id, x.reference, x.subject_type, a.code, x.referral_date,
         cdrp.improvement_result(x.referral_date, x.first_on, p_today),
         CASE WHEN x.first_on <= x.referral_date + 365 THEN x.first_on END
  FROM (SELECT c.id, c.reference, c.subject_type, c.lead_agency_id, c.referral_date,
               least((SELECT min(m.held_on)
                      FROM cdrp.case_decisions d JOIN cdrp.meetings m ON m.id = d.meeting_id
                      WHERE d.case_id = c.id AND m.held_on >= c.referral_date
                        AND (d.assessment = 'improved'
                             OR (d.decision = 'close' AND d.outcome = 'resolved'))),
                     CASE WHEN c.outcome = 'resolved'
                           AND (c.closed_at AT TIME ZONE 'UTC')::date >= c.referral_date
                          THEN (c.closed_at AT TIME ZONE 'UTC')::date END) AS first_on
        FROM cdrp.cases c
        WHERE c.partnership_id = p_partnership
          AND c.referral_date BETWEEN p_from AND p_to) x
  JOIN cdrp.agencies a ON a.id = x.lead_agency_id
$$;

-- Counts of a group of results, with the percentage of decided cases.
CREATE FUNCTION cdrp.improvement_counts(p_results text[], p_target numeric) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('cases', n, 'achieved', a, 'failed', f, 'pending', n - a - f,
                            'decided', a + f,
                            'pct', CASE WHEN a + f > 0 THEN round(100.0 * a / (a + f), 1) END,
                            'met_target', CASE WHEN a + f > 0 THEN 100.0 * a / (a + f) >= p_target END)
  FROM (SELECT cardinality(p_results) AS n,
               cardinality(array_positions(p_results, 'achieved')) AS a,
               cardinality(array_positions(p_results, 'failed')) AS f) c
$$;

-- GET /v1/reports/improvement?fy=&quarter=&from=&to=&list=
CREATE FUNCTION cdrp_impl.report_improvement(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE q jsonb := coalesce(p_args->'query', '{}'); w record; target numeric;
  list text := q->>'list';
BEGIN
  SELECT * INTO w FROM cdrp.report_window(q);
  IF list IS NOT NULL AND NOT cdrp.has_permission(me.roles, 'case.read') THEN
    PERFORM cdrp.refuse(403, 'forbidden', 'listing the cases behind a number needs the case.read permission');
  END IF;
  target := coalesce((cdrp.config(me.partnership_id)->'improvement'->>'target_pct')::numeric, 75);
  WITH r AS (SELECT * FROM cdrp.improvement_cases(me.partnership_id, w.w_from, w.w_to, cdrp.today()))
  SELECT jsonb_build_object(
    'window', jsonb_build_object('from', w.w_from, 'to', w.w_to, 'label', w.label),
    'target_pct', target,
    'overall', cdrp.improvement_counts(coalesce((SELECT array_agg(result) FROM r), '{}'), target),
    'by_subject_type', (SELECT coalesce(jsonb_agg(jsonb_build_object('subject_type', g)
                          || cdrp.improvement_counts(rs, target) ORDER BY g), '[]')
                        FROM (SELECT subject_type AS g, array_agg(result) AS rs FROM r GROUP BY 1) t),
    'by_lead_agency', (SELECT coalesce(jsonb_agg(jsonb_build_object('lead_agency', g)
                         || cdrp.improvement_counts(rs, target) ORDER BY g), '[]')
                       FROM (SELECT lead_agency AS g, array_agg(result) AS rs FROM r GROUP BY 1) t),
    'trend', (SELECT coalesce(jsonb_agg(jsonb_build_object('quarter', g)
                || cdrp.improvement_counts(rs, target) ORDER BY g), '[]')
              FROM (SELECT cdrp.fy_quarter_label(referral_date) AS g, array_agg(result) AS rs
                    FROM r GROUP BY 1) t))
    || CASE WHEN list IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('cases',
         (SELECT coalesce(jsonb_agg(jsonb_build_object('reference', reference,
                   'subject_type', subject_type, 'lead_agency', lead_agency,
                   'referral_date', referral_date, 'result', result, 'achieved_on', achieved_on)
                   ORDER BY referral_date, reference), '[]')
          FROM r WHERE result = list AND cdrp.case_readable(case_id, me.agency_id, me.roles))) END
  INTO body;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'report_improvement', NULL,
                     jsonb_build_object('from', w.w_from, 'to', w.w_to, 'list', list));
  status := 200;
END $$;

-- A RAG rating: green at or above the target, amber within p_amber of it,
-- red below (NULL when there is nothing to rate).
CREATE FUNCTION cdrp.rag(p_value numeric, p_target numeric, p_amber numeric) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_value IS NULL THEN NULL WHEN p_value >= p_target THEN 'green'
              WHEN p_value >= p_target - p_amber THEN 'amber' ELSE 'red' END
$$;

-- Counts of new cases by subject type (the seeds' "3 Individuals, 2 Areas,
-- 6 Families").
CREATE FUNCTION cdrp.subject_counts(p_partnership int, p_kind text, p_from date, p_to date)
RETURNS jsonb LANGUAGE sql STABLE SET cdrp.scope = 'partnership' AS $$
  SELECT jsonb_build_object('total', count(*),
                            'individuals', count(*) FILTER (WHERE subject_type = 'individual'),
                            'areas', count(*) FILTER (WHERE subject_type = 'area'),
                            'families', count(*) FILTER (WHERE subject_type = 'family'))
  FROM cdrp.cases
  WHERE partnership_id = p_partnership AND case_kind = p_kind
    AND referral_date BETWEEN p_from AND p_to
$$;

-- GET /v1/reports/quarterly?fy=&quarter=: the board's quarterly
-- statistics, as the partnership's reports print them. Defaults to the
-- current quarter.
CREATE FUNCTION cdrp_impl.report_quarterly(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET cdrp.scope = 'partnership' AS $$
DECLARE q jsonb := coalesce(p_args->'query', '{}'); w record; fy_w record; p int := me.partnership_id;
  target numeric; imp jsonb; act jsonb; qn int;
BEGIN
  IF q ? 'from' OR q ? 'to' THEN
    PERFORM cdrp.refuse(400, 'invalid_parameter', 'the quarterly report takes fy and quarter', 'from');
  END IF;
  IF NOT q ? 'fy' THEN
    q := q || jsonb_build_object('fy', extract(year FROM cdrp.today())::int
                                       - CASE WHEN extract(month FROM cdrp.today()) < 4 THEN 1 ELSE 0 END);
  END IF;
  qn := coalesce((q->>'quarter')::int,
                 ((extract(month FROM cdrp.today())::int + 8) % 12) / 3 + 1);
  SELECT * INTO w FROM cdrp.report_window(q || jsonb_build_object('quarter', qn));
  SELECT * INTO fy_w FROM cdrp.report_window(q - 'quarter');
  target := coalesce((cdrp.config(p)->'improvement'->>'target_pct')::numeric, 75);
  imp := cdrp.improvement_counts(coalesce((SELECT array_agg(result) FROM
           cdrp.improvement_cases(p, fy_w.w_from, w.w_to, cdrp.today())), '{}'), target);
  SELECT jsonb_build_object(
           'agreed', count(*) FILTER (WHERE a.status = 'agreed'),
           'in_progress', count(*) FILTER (WHERE a.status = 'in_progress'),
           'done', count(*) FILTER (WHERE a.status = 'done'),
           'cancelled', count(*) FILTER (WHERE a.status = 'cancelled'),
           'overdue', count(*) FILTER (WHERE cdrp.action_overdue(a.due_on, a.status,
                                                                 least(w.w_to, cdrp.today()))),
           'open', count(*) FILTER (WHERE a.status IN ('agreed', 'in_progress')))
  INTO act
  FROM cdrp.actions a JOIN cdrp.cases c ON c.id = a.case_id
  WHERE c.partnership_id = p AND (a.created_at AT TIME ZONE 'UTC')::date <= w.w_to;
  -- Actions: green when none is overdue, amber up to 10 %, red beyond.
  act := act || jsonb_build_object('rag', CASE WHEN (act->>'open')::int = 0 THEN 'green'
           ELSE cdrp.rag(100 - 100.0 * (act->>'overdue')::int / (act->>'open')::int, 100, 10) END);
  body := jsonb_build_object(
    'window', jsonb_build_object('from', w.w_from, 'to', w.w_to, 'label', w.label,
                                 'year_from', fy_w.w_from),
    'new_cases', jsonb_build_object(
      'quarter', cdrp.subject_counts(p, 'asb', w.w_from, w.w_to),
      'year_to_date', cdrp.subject_counts(p, 'asb', fy_w.w_from, w.w_to)),
    'open_from_before_year', (SELECT count(*) FROM cdrp.cases c
                              WHERE c.partnership_id = p AND c.case_kind = 'asb'
                                AND c.referral_date < fy_w.w_from
                                AND (c.closed_at IS NULL
                                     OR (c.closed_at AT TIME ZONE 'UTC')::date > w.w_to)),
    'ppo', jsonb_build_object(
      'clients_by_strand', (SELECT jsonb_build_object(
          'deter', count(*) FILTER (WHERE strand = 'deter'),
          'catch_and_convict', count(*) FILTER (WHERE strand = 'catch_and_convict'),
          'rehabilitate_and_resettle', count(*) FILTER (WHERE strand = 'rehabilitate_and_resettle'),
          'no_strand', count(*) FILTER (WHERE strand IS NULL))
        FROM cdrp.cases c WHERE c.partnership_id = p AND c.case_kind = 'ppo'
          AND c.referral_date <= w.w_to
          AND (c.closed_at IS NULL OR (c.closed_at AT TIME ZONE 'UTC')::date > w.w_to)),
      'removed_successful_engagement', (SELECT jsonb_build_object(
          'quarter', count(*) FILTER (WHERE (h.at AT TIME ZONE 'UTC')::date >= w.w_from),
          'year_to_date', count(*))
        FROM cdrp.ppo_strand_history h JOIN cdrp.cases c ON c.id = h.case_id
        WHERE c.partnership_id = p AND h.removed AND h.removal_reason = 'successful_engagement'
          AND (h.at AT TIME ZONE 'UTC')::date BETWEEN fy_w.w_from AND w.w_to)),
    'repeat_victims', (SELECT count(DISTINCT iv.person_id)
                       FROM cdrp.incident_victims iv JOIN cdrp.incidents i ON i.id = iv.incident_id
                       JOIN cdrp.cases c ON c.id = i.case_id
                       WHERE c.partnership_id = p AND i.occurred_on BETWEEN w.w_from AND w.w_to
                         AND cdrp.person_repeat_victim(iv.person_id)),
    'case_reviews', (SELECT jsonb_build_object(
          'applications', count(*) FILTER (WHERE applied_on BETWEEN w.w_from AND w.w_to),
          'threshold_met', count(*) FILTER (WHERE threshold_met AND decided_on BETWEEN w.w_from AND w.w_to),
          'reviews_held', count(*) FILTER (WHERE meeting_on BETWEEN w.w_from AND w.w_to),
          'recommendations', coalesce(sum(jsonb_array_length(recommendations))
                                      FILTER (WHERE meeting_on BETWEEN w.w_from AND w.w_to), 0))
        FROM cdrp.case_reviews WHERE partnership_id = p),
    'meetings', (SELECT count(*) FROM cdrp.meetings m WHERE m.partnership_id = p
                   AND m.held_on BETWEEN w.w_from AND w.w_to),
    'actions', act,
    'improvement_year_to_date', imp || jsonb_build_object('target_pct', target,
                                  'rag', cdrp.rag((imp->>'pct')::numeric, target, 10)));
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'report_quarterly', NULL,
                     jsonb_build_object('from', w.w_from, 'to', w.w_to));
  status := 200;
END $$;

-- POST /v1/admin/import {"cases": [...]}: a partnership's history, so that
-- its reports start with it. Each case with its real referral date, lead
-- agency, closure and the reviews of past meetings (recorded against
-- closed meetings of that date, created as needed). All or nothing: the
-- first fault refuses the whole import, naming cases[i].field.
CREATE FUNCTION cdrp_impl.admin_import(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET cdrp.scope = 'partnership' AS $$
DECLARE c jsonb; rv jsonb; i int := 0; j int; lead int; cid bigint; ref text; mid bigint;
  grp text; done jsonb := '[]'; n_reviews int := 0; path text;
BEGIN
  FOR c IN SELECT jsonb_array_elements(p_args->'body'->'cases') LOOP
    path := format('cases[%s].', i);
    lead := cdrp.agency_id(me.partnership_id, c->>'lead_agency');
    IF lead IS NULL THEN
      PERFORM cdrp.refuse(422, 'rule_violation', 'no such agency in this partnership',
                          path || 'lead_agency');
    END IF;
    IF (c ? 'closed_on') <> (c ? 'outcome') THEN
      PERFORM cdrp.refuse(422, 'rule_violation', 'a closed case needs closed_on and outcome',
                          path || 'outcome');
    END IF;
    IF (c->>'closed_on')::date < (c->>'referral_date')::date THEN
      PERFORM cdrp.refuse(422, 'rule_violation', 'closed before it was referred', path || 'closed_on');
    END IF;
    ref := coalesce(c->>'reference', cdrp.next_case_reference(me.partnership_id, c->>'case_kind',
                                       extract(year FROM (c->>'referral_date')::date)::int));
    IF EXISTS (SELECT 1 FROM cdrp.cases WHERE reference = ref) THEN
      PERFORM cdrp.refuse(409, 'invalid_transition', format('case %s exists already', ref),
                          path || 'reference');
    END IF;
    INSERT INTO cdrp.cases (partnership_id, reference, case_kind, subject_type, subject_name, ward,
                            lead_agency_id, status, referral_date, opened_at, closed_at, outcome,
                            strand, data_category)
    VALUES (me.partnership_id, ref, c->>'case_kind', c->>'subject_type', c->>'subject_name',
            c->>'ward', lead, CASE WHEN c ? 'closed_on' THEN 'closed' ELSE 'open' END,
            (c->>'referral_date')::date, (c->>'referral_date')::date,
            (c->>'closed_on')::date, c->>'outcome', c->>'strand',
            CASE c->>'case_kind' WHEN 'ppo' THEN 'offender_management' ELSE 'asb_casework' END)
    RETURNING id INTO cid;
    INSERT INTO cdrp.case_status_history (case_id, status, reason, user_id, at)
    VALUES (cid, 'open', 'imported', me.user_id, (c->>'referral_date')::date);
    grp := CASE c->>'case_kind' WHEN 'ppo' THEN 'ppo_panel' ELSE 'asb_task_group' END;
    j := 0;
    FOR rv IN SELECT jsonb_array_elements(coalesce(c->'reviews', '[]')) LOOP
      IF (rv->>'held_on')::date < (c->>'referral_date')::date THEN
        PERFORM cdrp.refuse(422, 'rule_violation', 'a review before the referral',
                            format('%sreviews[%s].held_on', path, j));
      END IF;
      SELECT id INTO mid FROM cdrp.meetings
      WHERE partnership_id = me.partnership_id AND group_kind = grp
        AND held_on = (rv->>'held_on')::date ORDER BY id LIMIT 1;
      IF mid IS NULL THEN
        INSERT INTO cdrp.meetings (partnership_id, held_on, group_kind, status, closed_at,
                                   created_by)
        VALUES (me.partnership_id, (rv->>'held_on')::date, grp, 'closed',
                (rv->>'held_on')::date, me.user_id)
        RETURNING id INTO mid;
      END IF;
      BEGIN
        INSERT INTO cdrp.case_decisions (meeting_id, case_id, assessment, decision, outcome,
                                         notes, user_id, at)
        VALUES (mid, cid, rv->>'assessment', rv->>'decision', rv->>'outcome', rv->>'notes',
                me.user_id, (rv->>'held_on')::date);
      EXCEPTION WHEN unique_violation THEN
        PERFORM cdrp.refuse(422, 'rule_violation', 'two reviews of the case at one meeting',
                            format('%sreviews[%s].held_on', path, j));
      END;
      j := j + 1;
    END LOOP;
    n_reviews := n_reviews + j;
    done := done || to_jsonb(ref);
    i := i + 1;
  END LOOP;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'collect', 'import', NULL,
                     jsonb_build_object('cases', i, 'reviews', n_reviews));
  status := 201;
  body := jsonb_build_object('cases', i, 'reviews', n_reviews, 'references', done);
END $$;
