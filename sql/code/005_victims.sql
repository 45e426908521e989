-- ---------------------------------------------------------------------------
-- Rule engines (pure)
-- ---------------------------------------------------------------------------

-- The largest number of the dates that fall in one window of p_window_days
-- days, both ends included: a window starting on day d holds d .. d +
-- p_window_days - 1 (a date on day 1 and one on day 365 share a 365-day
-- window; day 366 does not). Equal dates all count (two incidents on one
-- day are two incidents); NULLs are ignored.
CREATE FUNCTION cdrp.max_in_window(p_dates date[], p_window_days int) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(max(n), 0)::int
  FROM (SELECT count(*) OVER (ORDER BY d RANGE BETWEEN CURRENT ROW
                              AND make_interval(days => greatest(p_window_days, 1) - 1) FOLLOWING) AS n
        FROM unnest(p_dates) AS d
        WHERE d IS NOT NULL AND p_window_days >= 1) w
$$;

-- Repeat victim: at least p_min of the dates (one per distinct incident;
-- the caller collapses several agencies' reports of one incident) within
-- some window of p_window_days days, inclusive of both ends, i.e.
-- last - first <= p_window_days - 1.
CREATE FUNCTION cdrp.repeat_victim_rule(p_dates date[], p_min int, p_window_days int)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_min IS NULL OR p_window_days IS NULL THEN false
              WHEN p_min <= 0 THEN true
              ELSE cdrp.max_in_window(p_dates, p_window_days) >= p_min END
$$;

-- Case Review, the statutory threshold, for one person.
--   p_complaints: [{"occurred_on": date, "reported_on": date, "agency": code}]
--     one per complaint (the caller gives one per incident naming the
--     person as victim: its earliest report);
--   p_cfg: the "case_review" configuration object (missing keys take the
--     defaults of cdrp.config_defaults()).
-- A complaint qualifies when reported_on <= occurred_on + report_within_months
-- months (PostgreSQL month arithmetic: 31 Jan + 1 month = 28/29 Feb).
-- Windows are window_months calendar months of reported_on, inclusive:
-- complaints on first .. first + window_months months.
-- Answer: {"eligible", "basis": "three_complaints" | null, "qualifying": the
-- most qualifying complaints in one window, "in_window": the most
-- complaints (qualifying or not) in one window, "explain_prompt": not
-- eligible and in_window >= explain_at}.
-- The community variant ("five_reporters") is about all reports on a case,
-- not about one person's complaints: cdrp.case_review_community_rule below,
-- combined with this one by cdrp.person_case_review.
CREATE FUNCTION cdrp.case_review_rule(p_complaints jsonb, p_cfg jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  WITH cfg AS (
    SELECT coalesce((p_cfg->>'min_complaints')::int, (d->>'min_complaints')::int) AS min_c,
           coalesce((p_cfg->>'window_months')::int, (d->>'window_months')::int) AS win,
           coalesce((p_cfg->>'report_within_months')::int,
                    (d->>'report_within_months')::int) AS within,
           coalesce((p_cfg->>'explain_at')::int, (d->>'explain_at')::int) AS explain_at
    FROM (SELECT cdrp.config_defaults()->'case_review' AS d) x),
  c AS (
    SELECT row_number() OVER () AS k, (e->>'reported_on')::date AS rep,
           (e->>'occurred_on')::date IS NOT NULL
             AND (e->>'reported_on')::date
                 <= (e->>'occurred_on')::date + make_interval(months => cfg.within) AS q
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p_complaints) = 'array'
                                   THEN p_complaints ELSE '[]'::jsonb END) e, cfg
    WHERE e->>'reported_on' IS NOT NULL),
  w AS (
    SELECT count(*) FILTER (WHERE b.q) AS nq, count(*) AS n
    FROM c a JOIN c b ON b.rep >= a.rep
    CROSS JOIN cfg
    WHERE b.rep <= a.rep + make_interval(months => cfg.win)
    GROUP BY a.k),
  m AS (SELECT coalesce(max(nq), 0)::int AS q, coalesce(max(n), 0)::int AS n FROM w)
  SELECT jsonb_build_object(
    'eligible', m.q >= cfg.min_c,
    'basis', CASE WHEN m.q >= cfg.min_c THEN 'three_complaints' END,
    'qualifying', m.q,
    'in_window', m.n,
    'explain_prompt', m.q < cfg.min_c AND m.n >= cfg.explain_at)
  FROM m, cfg
$$;

-- Case Review, community variant, for one case: at least community_min
-- reports (incident report rows, whoever reported them) with reported_on in
-- one window of window_months months, from at least community_min_agencies
-- distinct agencies.
--   p_reports: [{"reported_on": date, "agency": code}], p_cfg as above.
CREATE FUNCTION cdrp.case_review_community_rule(p_reports jsonb, p_cfg jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  WITH cfg AS (
    SELECT coalesce((p_cfg->>'community_min')::int, (d->>'community_min')::int) AS min_r,
           coalesce((p_cfg->>'community_min_agencies')::int,
                    (d->>'community_min_agencies')::int) AS min_a,
           coalesce((p_cfg->>'window_months')::int, (d->>'window_months')::int) AS win
    FROM (SELECT cdrp.config_defaults()->'case_review' AS d) x),
  r AS (
    SELECT row_number() OVER () AS k, (e->>'reported_on')::date AS rep, e->>'agency' AS agency
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p_reports) = 'array'
                                   THEN p_reports ELSE '[]'::jsonb END) e
    WHERE e->>'reported_on' IS NOT NULL)
  SELECT EXISTS (
    SELECT 1 FROM r a JOIN r b ON b.rep >= a.rep CROSS JOIN cfg
    WHERE b.rep <= a.rep + make_interval(months => cfg.win)
    GROUP BY a.k, cfg.min_r, cfg.min_a
    HAVING count(*) >= cfg.min_r AND count(DISTINCT b.agency) >= cfg.min_a)
$$;

-- ---------------------------------------------------------------------------
-- Data functions (read the tables, call the rules)
-- ---------------------------------------------------------------------------

-- The occurred_on of each distinct incident the person is a victim of.
CREATE FUNCTION cdrp.person_incident_dates(p_person bigint) RETURNS date[]
LANGUAGE sql STABLE SET cdrp.scope = 'partnership' AS $$
  SELECT coalesce(array_agg(i.occurred_on ORDER BY i.occurred_on), '{}')
  FROM cdrp.incident_victims iv JOIN cdrp.incidents i ON i.id = iv.incident_id
  WHERE iv.person_id = p_person
$$;

-- {"repeat_victim", "computed", "manual", "repeat_reason": computed|manual|both|null,
--  "incidents_in_window": most incidents in one window}
CREATE FUNCTION cdrp.person_victim_status(p_person bigint) RETURNS jsonb
LANGUAGE sql STABLE SET cdrp.scope = 'partnership' AS $$
  WITH cfg AS (SELECT cdrp.config(p.partnership_id)->'repeat_victim' AS rv
               FROM cdrp.persons p WHERE p.id = p_person),
  s AS (SELECT cdrp.max_in_window(cdrp.person_incident_dates(p_person),
                                  (cfg.rv->>'window_days')::int) AS n,
               cdrp.repeat_victim_rule(cdrp.person_incident_dates(p_person),
                                       (cfg.rv->>'min_incidents')::int,
                                       (cfg.rv->>'window_days')::int) AS computed,
               EXISTS (SELECT 1 FROM cdrp.victim_flags f
                       WHERE f.person_id = p_person AND f.cleared_at IS NULL) AS manual
        FROM cfg)
  SELECT jsonb_build_object('repeat_victim', computed OR manual, 'computed', computed,
    'manual', manual, 'incidents_in_window', n,
    'repeat_reason', CASE WHEN computed AND manual THEN 'both' WHEN computed THEN 'computed'
                          WHEN manual THEN 'manual' END,
    'window_days', (SELECT (rv->>'window_days')::int FROM cfg))
  FROM s
$$;

CREATE FUNCTION cdrp.person_repeat_victim(p_person bigint) RETURNS boolean
LANGUAGE sql STABLE SET cdrp.scope = 'partnership' AS $$
  SELECT coalesce((cdrp.person_victim_status(p_person)->>'repeat_victim')::boolean, false)
$$;

-- The person's complaints for the Case Review: one per incident naming the
-- person as victim (several agencies' reports of one incident are one
-- complaint, made when it was first reported).
CREATE FUNCTION cdrp.person_complaints(p_person bigint) RETURNS jsonb
LANGUAGE sql STABLE SET cdrp.scope = 'partnership' AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_object('incident_id', i.id,
           'occurred_on', i.occurred_on, 'reported_on', r.reported_on, 'agency', r.code)
           ORDER BY r.reported_on, i.id), '[]')
  FROM cdrp.incident_victims iv
  JOIN cdrp.incidents i ON i.id = iv.incident_id
  JOIN LATERAL (SELECT ir.reported_on, a.code FROM cdrp.incident_reports ir
                JOIN cdrp.agencies a ON a.id = ir.agency_id
                WHERE ir.incident_id = i.id ORDER BY ir.reported_on, ir.id LIMIT 1) r ON true
  WHERE iv.person_id = p_person
$$;

-- Cases on which the person is a victim (linked as victim, or a victim of
-- one of its incidents).
CREATE FUNCTION cdrp.person_victim_cases(p_person bigint) RETURNS SETOF bigint
LANGUAGE sql STABLE SET cdrp.scope = 'partnership' AS $$
  SELECT case_id FROM cdrp.case_persons WHERE person_id = p_person AND role = 'victim'
  UNION
  SELECT i.case_id FROM cdrp.incident_victims iv JOIN cdrp.incidents i ON i.id = iv.incident_id
  WHERE iv.person_id = p_person
$$;

-- Every report of every incident of the case, for the community variant.
CREATE FUNCTION cdrp.case_reports(p_case bigint) RETURNS jsonb
LANGUAGE sql STABLE SET cdrp.scope = 'partnership' AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_object('reported_on', ir.reported_on,
                                               'agency', a.code) ORDER BY ir.id), '[]')
  FROM cdrp.incidents i JOIN cdrp.incident_reports ir ON ir.incident_id = i.id
  JOIN cdrp.agencies a ON a.id = ir.agency_id
  WHERE i.case_id = p_case
$$;

-- The Case Review eligibility of a person: {"eligible", "basis":
-- three_complaints | five_reporters | override | null,
-- "qualifying_complaints", "explain_prompt"}. Precedence: the statutory
-- threshold, then the community variant on any of the person's victim
-- cases, then a recorded override (a decision with threshold_met and an
-- override_reason); p_with_override false leaves overrides out (what "the
-- rules say").
CREATE FUNCTION cdrp.person_case_review_eval(p_person bigint, p_with_override boolean)
RETURNS jsonb LANGUAGE plpgsql STABLE SET cdrp.scope = 'partnership' AS $$
DECLARE cfg jsonb; r jsonb; basis text;
BEGIN
  SELECT cdrp.config(partnership_id)->'case_review' INTO cfg
  FROM cdrp.persons WHERE id = p_person;
  r := cdrp.case_review_rule(cdrp.person_complaints(p_person), cfg);
  basis := r->>'basis';
  IF basis IS NULL AND EXISTS (
       SELECT 1 FROM cdrp.person_victim_cases(p_person) c(id)
       WHERE cdrp.case_review_community_rule(cdrp.case_reports(c.id), cfg)) THEN
    basis := 'five_reporters';
  END IF;
  IF basis IS NULL AND p_with_override AND EXISTS (
       SELECT 1 FROM cdrp.case_reviews cr WHERE cr.person_id = p_person
       AND cr.threshold_met AND cr.override_reason IS NOT NULL) THEN
    basis := 'override';
  END IF;
  RETURN jsonb_build_object('eligible', basis IS NOT NULL, 'basis', basis,
    'qualifying_complaints', (r->>'qualifying')::int,
    'explain_prompt', basis IS NULL AND (r->>'explain_prompt')::boolean);
END $$;

-- The same with overrides: what GET /v1/persons/{id}/case-review answers.
CREATE FUNCTION cdrp.person_case_review(p_person bigint) RETURNS jsonb
LANGUAGE sql STABLE SET cdrp.scope = 'partnership' AS $$
  SELECT cdrp.person_case_review_eval(p_person, true)
$$;

-- Does the case need attention: any linked person a repeat victim or
-- eligible for a Case Review.
CREATE FUNCTION cdrp.case_flagged(p_case bigint) RETURNS boolean
LANGUAGE plpgsql STABLE SET cdrp.scope = 'partnership' AS $$
BEGIN
  RETURN EXISTS (
    SELECT 1 FROM (SELECT DISTINCT person_id FROM cdrp.case_persons WHERE case_id = p_case) cp
    WHERE cdrp.person_repeat_victim(cp.person_id)
       OR (cdrp.person_case_review(cp.person_id)->>'eligible')::boolean);
END $$;

-- The victims of a case: linked as victims, or victims of its incidents.
CREATE FUNCTION cdrp.case_victims(p_case bigint) RETURNS SETOF bigint
LANGUAGE sql STABLE AS $$
  SELECT person_id FROM cdrp.case_persons WHERE case_id = p_case AND role = 'victim'
  UNION
  SELECT iv.person_id FROM cdrp.incidents i JOIN cdrp.incident_victims iv ON iv.incident_id = i.id
  WHERE i.case_id = p_case
$$;

-- Prompts about the case's victims: [{code, person_id, detail}], by person:
-- repeat_victim, case_review_eligible, explain_case_review (the last only
-- when not eligible). Details carry no personal data.
CREATE FUNCTION cdrp.case_prompts(p_case bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE SET cdrp.scope = 'partnership' AS $$
DECLARE out jsonb := '[]'; pid bigint; st jsonb; cr jsonb; months int;
BEGIN
  FOR pid IN SELECT v FROM cdrp.case_victims(p_case) v
             JOIN cdrp.persons p ON p.id = v AND p.erased_at IS NULL ORDER BY v LOOP
    st := cdrp.person_victim_status(pid);
    IF (st->>'repeat_victim')::boolean THEN
      out := out || jsonb_build_object('code', 'repeat_victim', 'person_id', pid, 'detail',
        CASE st->>'repeat_reason'
          WHEN 'manual' THEN 'flagged by hand as a repeat victim'
          ELSE format('repeat victim: %s incidents within %s days%s',
                      st->>'incidents_in_window', st->>'window_days',
                      CASE WHEN st->>'repeat_reason' = 'both' THEN ' (also flagged by hand)'
                           ELSE '' END) END);
    END IF;
    cr := cdrp.person_case_review(pid);
    IF (cr->>'eligible')::boolean THEN
      out := out || jsonb_build_object('code', 'case_review_eligible', 'person_id', pid,
        'detail', format('meets the ASB Case Review threshold (%s)', cr->>'basis'));
    ELSIF (cr->>'explain_prompt')::boolean THEN
      SELECT (cdrp.config(c.partnership_id)->'case_review'->>'window_months')::int INTO months
      FROM cdrp.cases c WHERE c.id = p_case;
      out := out || jsonb_build_object('code', 'explain_case_review', 'person_id', pid,
        'detail', format('second complaint within %s months: explain the ASB Case Review '
                         'to the victim', months));
    END IF;
  END LOOP;
  RETURN out;
END $$;

CREATE FUNCTION cdrp.incident_json(p_incident bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('id', i.id, 'case', c.reference,
    'occurred_on', i.occurred_on::text, 'category', i.category, 'place', i.place,
    'ward', i.ward, 'description', i.description,
    'reports', (SELECT coalesce(jsonb_agg(jsonb_build_object('agency', a.code,
                  'reported_on', r.reported_on::text, 'external_ref', r.external_ref)
                  ORDER BY r.reported_on, r.id), '[]')
                FROM cdrp.incident_reports r JOIN cdrp.agencies a ON a.id = r.agency_id
                WHERE r.incident_id = i.id),
    'victims', (SELECT coalesce(jsonb_agg(v.person_id ORDER BY v.person_id), '[]')
                FROM cdrp.incident_victims v WHERE v.incident_id = i.id),
    'created_at', cdrp.utc(i.created_at))
  FROM cdrp.incidents i JOIN cdrp.cases c ON c.id = i.case_id
  WHERE i.id = p_incident
$$;

CREATE FUNCTION cdrp.case_review_json(p_id bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('id', cr.id, 'person_id', cr.person_id,
    'case', (SELECT reference FROM cdrp.cases WHERE id = cr.case_id),
    'applied_on', cr.applied_on::text,
    'eligible_at_application', cr.eligible_at_application,
    'basis_at_application', cr.basis_at_application,
    'status', CASE WHEN cr.meeting_on IS NOT NULL THEN 'reviewed'
                   WHEN cr.threshold_met IS NOT NULL THEN 'decided' ELSE 'applied' END,
    'threshold_met', cr.threshold_met, 'override_reason', cr.override_reason,
    'decided_on', cr.decided_on::text, 'meeting_on', cr.meeting_on::text,
    'recommendations', cr.recommendations,
    'applied_by', cdrp.user_json(cr.applied_by), 'created_at', cdrp.utc(cr.created_at))
  FROM cdrp.case_reviews cr WHERE cr.id = p_id
$$;

-- A person of the caller's partnership, by path id text (NULL if none).
CREATE FUNCTION cdrp.person_resolve(p_partnership int, p_id text) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT id FROM cdrp.persons
  WHERE p_id ~ '^[1-9][0-9]{0,17}$' AND id = p_id::bigint
    AND partnership_id = p_partnership AND erased_at IS NULL
$$;

-- ---------------------------------------------------------------------------
-- API
-- ---------------------------------------------------------------------------

-- POST /v1/cases/{id}/incidents. Case roles, the lead agency and the
-- referring agencies of the case may record incidents (other readers 403,
-- others 404); closed case 409. Victims must be persons linked to the case
-- (422, field victims[i]). With same_as, this agency's report
-- (reported_on, external_ref) and any new victims are added to that
-- incident of the same case (422 otherwise), so it counts once; the body's
-- occurred_on and category must be the incident's (422 rule_violation
-- naming the field), its place and other fields are ignored. Replay (200,
-- replay=true, the stored incident): this agency already reported the
-- same_as incident, both times without an external_ref; or it used this
-- external_ref on an incident of the case and the request describes the
-- same incident and report (same same_as if any, occurred_on, category,
-- place as cdrp.norm_text compares it unless same_as, reported_on, and
-- victims already the incident's). The same external_ref for anything
-- else is 409 external_ref_conflict, field external_ref. The answer carries
-- the prompts of the incident's victims, computed after the change.
CREATE FUNCTION cdrp_impl.incident_add(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE
  c cdrp.cases; b jsonb := p_args->'body'; cid bigint; inc cdrp.incidents;
  iid bigint; ext text := p_args->'body'->>'external_ref'; v jsonb; k int := 0;
  victims bigint[] := '{}'; found_id bigint;
  rep cdrp.incident_reports; prev cdrp.incidents; differs text;
BEGIN
  cid := cdrp.case_resolve(me.partnership_id, p_args->>'id');
  IF cid IS NULL OR NOT cdrp.case_readable(cid, me.agency_id, me.roles) THEN
    status := 404; body := cdrp.problem('not_found', 'no such case');
    RETURN;
  END IF;
  -- One incident change per case at a time: replays and duplicates are
  -- decided under this lock.
  SELECT * INTO c FROM cdrp.cases WHERE id = cid FOR UPDATE;
  IF NOT (cdrp.has_case_role(me.roles) OR c.lead_agency_id = me.agency_id
          OR EXISTS (SELECT 1 FROM cdrp.referrals r
                     WHERE r.case_id = cid AND r.agency_id = me.agency_id)) THEN
    status := 403;
    body := cdrp.problem('forbidden', 'recording incidents needs a case role, the lead agency '
                         'or a referring agency of the case');
    RETURN;
  END IF;
  IF c.status <> 'open' THEN
    status := 409; body := cdrp.problem('invalid_transition', 'the case is closed');
    RETURN;
  END IF;

  IF b ? 'same_as' THEN
    SELECT * INTO inc FROM cdrp.incidents
    WHERE id = (b->>'same_as')::bigint AND case_id = cid;
    IF NOT FOUND THEN
      status := 422;
      body := cdrp.problem('rule_violation', 'same_as must name an incident of this case',
                           'same_as');
      RETURN;
    END IF;
    -- Another report of the same incident agrees on when and what it was
    -- (the place may be worded differently).
    IF (b->>'occurred_on')::date <> inc.occurred_on THEN
      status := 422;
      body := cdrp.problem('rule_violation', format(
        'same_as names an incident that occurred on %s: a report of the same incident must '
        'have the same occurred_on', inc.occurred_on), 'occurred_on');
      RETURN;
    END IF;
    IF b->>'category' <> inc.category THEN
      status := 422;
      body := cdrp.problem('rule_violation', format(
        'same_as names a %s incident: a report of the same incident must have the same '
        'category', inc.category), 'category');
      RETURN;
    END IF;
    -- Replay: this agency already reported it, both times without an
    -- external_ref.
    IF ext IS NULL THEN
      SELECT r.incident_id INTO found_id FROM cdrp.incident_reports r
      WHERE r.incident_id = inc.id AND r.agency_id = me.agency_id AND r.external_ref IS NULL
      LIMIT 1;
    END IF;
  END IF;
  -- An external_ref names one incident of the agency's own records: the
  -- same request again (same incident, same report) is a replay; the same
  -- external_ref for anything else is a conflict, as an Idempotency-Key
  -- reused for another request is.
  IF ext IS NOT NULL THEN
    SELECT r.* INTO rep FROM cdrp.incident_reports r
    JOIN cdrp.incidents i ON i.id = r.incident_id
    WHERE i.case_id = cid AND r.agency_id = me.agency_id AND r.external_ref = ext
    ORDER BY r.id LIMIT 1;
    IF FOUND THEN
      SELECT * INTO prev FROM cdrp.incidents WHERE id = rep.incident_id;
      differs := CASE
        WHEN b ? 'same_as' AND prev.id <> inc.id THEN 'same_as'
        WHEN prev.occurred_on <> (b->>'occurred_on')::date THEN 'occurred_on'
        WHEN prev.category <> b->>'category' THEN 'category'
        WHEN NOT b ? 'same_as' AND cdrp.norm_text(prev.place) <> cdrp.norm_text(b->>'place')
          THEN 'place'
        WHEN rep.reported_on <> (b->>'reported_on')::date THEN 'reported_on'
        WHEN EXISTS (SELECT 1 FROM jsonb_array_elements_text(coalesce(b->'victims', '[]')) x(pid)
                     WHERE NOT EXISTS (SELECT 1 FROM cdrp.incident_victims iv
                                       WHERE iv.incident_id = prev.id
                                         AND iv.person_id = x.pid::bigint)) THEN 'victims'
      END;
      IF differs IS NOT NULL THEN
        status := 409;
        body := cdrp.problem('external_ref_conflict', format(
          'your agency already used this external_ref for incident %s of this case, which '
          'differs in %s: a different incident needs another external_ref', prev.id, differs),
          'external_ref');
        RETURN;
      END IF;
      found_id := prev.id;
    END IF;
  END IF;
  IF found_id IS NOT NULL THEN
    PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'incident', found_id,
                       jsonb_build_object('case_id', cid, 'replay', true));
    status := 200; replay := true;
    body := cdrp.incident_json(found_id)
            || jsonb_build_object('prompts', (
                 SELECT coalesce(jsonb_agg(p), '[]') FROM jsonb_array_elements(cdrp.case_prompts(cid)) p
                 WHERE (p->>'person_id')::bigint IN (SELECT person_id FROM cdrp.incident_victims
                                                     WHERE incident_id = found_id)));
    RETURN;
  END IF;

  -- Victims must be persons linked to the case.
  FOR v IN SELECT * FROM jsonb_array_elements(coalesce(b->'victims', '[]')) LOOP
    IF NOT EXISTS (SELECT 1 FROM cdrp.case_persons cp
                   WHERE cp.case_id = cid AND cp.person_id = (v #>> '{}')::bigint) THEN
      status := 422;
      body := cdrp.problem('rule_violation', 'a victim must be a person linked to the case',
                           format('victims[%s]', k));
      RETURN;
    END IF;
    victims := victims || (v #>> '{}')::bigint;
    k := k + 1;
  END LOOP;

  IF inc.id IS NOT NULL THEN
    IF (b->>'reported_on')::date < inc.occurred_on THEN
      status := 422;
      body := cdrp.problem('rule_violation', 'a report cannot be before the incident occurred',
                           'reported_on');
      RETURN;
    END IF;
    iid := inc.id;
  ELSE
    INSERT INTO cdrp.incidents (case_id, occurred_on, category, place, ward, description)
    VALUES (cid, (b->>'occurred_on')::date, b->>'category', b->>'place', b->>'ward',
            b->>'description')
    RETURNING id INTO iid;
  END IF;
  INSERT INTO cdrp.incident_reports (incident_id, agency_id, reported_on, external_ref)
  VALUES (iid, me.agency_id, (b->>'reported_on')::date, ext);
  INSERT INTO cdrp.incident_victims (incident_id, person_id)
  SELECT iid, x FROM unnest(victims) x ON CONFLICT DO NOTHING;

  PERFORM cdrp.audit(me.agency_id, me.user_id, CASE WHEN inc.id IS NULL THEN 'collect' ELSE 'alter' END,
                     'incident', iid,
                     jsonb_build_object('case_id', cid, 'same_as', inc.id IS NOT NULL,
                                        'victims', cardinality(victims)));
  status := 201;
  body := cdrp.incident_json(iid)
          || jsonb_build_object('prompts', (
               SELECT coalesce(jsonb_agg(p), '[]') FROM jsonb_array_elements(cdrp.case_prompts(cid)) p
               WHERE (p->>'person_id')::bigint IN (SELECT person_id FROM cdrp.incident_victims
                                                   WHERE incident_id = iid)));
END $$;

CREATE FUNCTION cdrp_impl.incident_list(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE cid bigint; items jsonb;
BEGIN
  cid := cdrp.case_resolve(me.partnership_id, p_args->>'id');
  IF cid IS NULL OR NOT cdrp.case_readable(cid, me.agency_id, me.roles) THEN
    status := 404; body := cdrp.problem('not_found', 'no such case');
    RETURN;
  END IF;
  PERFORM cdrp.require_justification((SELECT marking FROM cdrp.cases WHERE id = cid), 'case');
  SELECT coalesce(jsonb_agg(cdrp.incident_json(i.id) ORDER BY i.id DESC), '[]') INTO items
  FROM cdrp.incidents i WHERE i.case_id = cid;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'incident_list', cid,
                     jsonb_build_object('count', jsonb_array_length(items)));
  status := 200; body := jsonb_build_object('items', items);
END $$;

CREATE FUNCTION cdrp_impl.victim_list(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE
    lim int := coalesce((p_args->'query'->>'limit')::int, 50);
  after bigint := nullif((p_args->'query'->>'after')::bigint, 0);
  want boolean := (p_args->'query'->>'repeat')::boolean;
  items jsonb; n int; last_id bigint;
BEGIN
  IF NOT cdrp.has_case_role(me.roles) THEN
    status := 403; body := cdrp.problem('forbidden', 'the victim list needs a case role');
    RETURN;
  END IF;
  -- Newest person first; one row beyond the page tells whether there is more.
  -- With `repeat`, rows are computed lazily in id order until the page is full.
  SELECT coalesce(jsonb_agg(x.j ORDER BY x.id DESC) FILTER (WHERE x.rn <= lim), '[]'),
         count(*), min(x.id) FILTER (WHERE x.rn <= lim)
  INTO items, n, last_id
  FROM (SELECT y.id, row_number() OVER (ORDER BY y.id DESC) AS rn,
               jsonb_build_object('person_id', y.id, 'name', y.name,
                 'repeat_victim', (y.st->>'repeat_victim')::boolean,
                 'repeat_reason', y.st->'repeat_reason',
                 'incidents_in_window', (y.st->>'incidents_in_window')::int,
                 'cases', (SELECT coalesce(jsonb_agg(c.reference ORDER BY c.id), '[]')
                           FROM cdrp.cases c WHERE c.id IN (SELECT cdrp.person_victim_cases(y.id))),
                 'case_review', (SELECT jsonb_build_object('eligible', cr->'eligible',
                                                           'basis', cr->'basis')
                                 FROM cdrp.person_case_review(y.id) cr)) AS j
        FROM (SELECT p.id, p.name, cdrp.person_victim_status(p.id) AS st
              FROM cdrp.persons p
              WHERE p.partnership_id = me.partnership_id AND p.erased_at IS NULL
                AND (after IS NULL OR p.id < after)
                AND (EXISTS (SELECT 1 FROM cdrp.case_persons cp
                             WHERE cp.person_id = p.id AND cp.role = 'victim')
                     OR EXISTS (SELECT 1 FROM cdrp.incident_victims iv WHERE iv.person_id = p.id)
                     OR EXISTS (SELECT 1 FROM cdrp.victim_flags f
                                WHERE f.person_id = p.id AND f.cleared_at IS NULL))
                AND (want IS NULL
                     OR cdrp.person_repeat_victim(p.id) = want)
              ORDER BY p.id DESC LIMIT lim + 1) y) x;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'victim_list', NULL,
                     jsonb_build_object('count', least(n, lim), 'repeat', want));
  status := 200;
  body := jsonb_build_object('items', items, 'next_cursor',
                             CASE WHEN n > lim THEN cdrp.cursor_encode(last_id) END);
END $$;

CREATE FUNCTION cdrp_impl.person_flag_add(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE pid bigint; f cdrp.victim_flags;
BEGIN
  IF NOT cdrp.has_case_role(me.roles) THEN
    status := 403; body := cdrp.problem('forbidden', 'flagging a repeat victim needs a case role');
    RETURN;
  END IF;
  pid := cdrp.person_resolve(me.partnership_id, p_args->>'id');
  IF pid IS NULL THEN
    status := 404; body := cdrp.problem('not_found', 'no such person');
    RETURN;
  END IF;
  INSERT INTO cdrp.victim_flags (person_id, reason, user_id)
  VALUES (pid, p_args->'body'->>'reason', me.user_id) RETURNING * INTO f;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'collect', 'victim_flag', f.id,
                     jsonb_build_object('person_id', pid));
  status := 201;
  body := jsonb_build_object('id', f.id, 'person_id', pid, 'reason', f.reason,
                             'by', cdrp.user_json(me.user_id), 'at', cdrp.utc(f.at),
                             'repeat_victim', cdrp.person_repeat_victim(pid));
END $$;

CREATE FUNCTION cdrp_impl.person_case_review(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE pid bigint;
BEGIN
  IF NOT cdrp.has_case_role(me.roles) THEN
    status := 403; body := cdrp.problem('forbidden', 'Case Review eligibility needs a case role');
    RETURN;
  END IF;
  pid := cdrp.person_resolve(me.partnership_id, p_args->>'id');
  IF pid IS NULL THEN
    status := 404; body := cdrp.problem('not_found', 'no such person');
    RETURN;
  END IF;
  body := cdrp.person_case_review(pid);
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'case_review_eligibility', pid);
  status := 200;
END $$;

CREATE FUNCTION cdrp_impl.case_review_apply(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE b jsonb := p_args->'body'; pid bigint; cid bigint; el jsonb; rid bigint;
BEGIN
  IF NOT cdrp.has_case_role(me.roles) THEN
    status := 403; body := cdrp.problem('forbidden', 'recording a Case Review needs a case role');
    RETURN;
  END IF;
  pid := cdrp.person_resolve(me.partnership_id, b->>'person_id');
  IF pid IS NULL THEN
    status := 422; body := cdrp.problem('rule_violation', 'no such person', 'person_id');
    RETURN;
  END IF;
  IF b ? 'case' THEN
    cid := cdrp.case_resolve(me.partnership_id, b->>'case');
    IF cid IS NULL THEN
      status := 422; body := cdrp.problem('rule_violation', 'no such case', 'case');
      RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM cdrp.case_persons WHERE case_id = cid AND person_id = pid) THEN
      status := 422;
      body := cdrp.problem('rule_violation', 'the person is not linked to this case', 'case');
      RETURN;
    END IF;
  END IF;
  el := cdrp.person_case_review(pid);
  INSERT INTO cdrp.case_reviews (partnership_id, person_id, case_id, applied_on,
                                 eligible_at_application, basis_at_application, applied_by)
  VALUES (me.partnership_id, pid, cid, (b->>'applied_on')::date, (el->>'eligible')::boolean,
          el->>'basis', me.user_id)
  RETURNING id INTO rid;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'collect', 'case_review', rid,
                     jsonb_build_object('person_id', pid, 'case_id', cid));
  status := 201; body := cdrp.case_review_json(rid);
END $$;

CREATE FUNCTION cdrp_impl.case_review_decide(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE b jsonb := p_args->'body'; cr cdrp.case_reviews; met boolean;
BEGIN
  IF NOT cdrp.has_case_role(me.roles) THEN
    status := 403; body := cdrp.problem('forbidden', 'deciding a Case Review needs a case role');
    RETURN;
  END IF;
  SELECT * INTO cr FROM cdrp.case_reviews
  WHERE p_args->>'id' ~ '^[1-9][0-9]{0,17}$' AND id = (p_args->>'id')::bigint
    AND partnership_id = me.partnership_id
  FOR UPDATE;
  IF NOT FOUND THEN
    status := 404; body := cdrp.problem('not_found', 'no such Case Review application');
    RETURN;
  END IF;
  IF cr.threshold_met IS NOT NULL THEN
    status := 409;
    body := cdrp.problem('invalid_transition', 'the application is already decided');
    RETURN;
  END IF;
  met := (b->>'threshold_met')::boolean;
  IF (b->>'decided_on')::date < cr.applied_on THEN
    status := 422;
    body := cdrp.problem('rule_violation', 'the decision cannot be before the application',
                         'decided_on');
    RETURN;
  END IF;
  IF NOT met AND b ? 'override_reason' THEN
    status := 422;
    body := cdrp.problem('rule_violation', 'an override reason goes with threshold_met true',
                         'override_reason');
    RETURN;
  END IF;
  IF met AND NOT (cdrp.person_case_review_eval(cr.person_id, false)->>'eligible')::boolean THEN
    -- Against the rules only by a recorded override, for a vulnerable victim.
    IF NOT b ? 'override_reason' THEN
      status := 422;
      body := cdrp.problem('rule_violation', 'the rules say the threshold is not met: an '
                           'override needs an override_reason', 'override_reason');
      RETURN;
    END IF;
    IF NOT (SELECT vulnerable FROM cdrp.persons WHERE id = cr.person_id) THEN
      status := 422;
      body := cdrp.problem('rule_violation', 'an override is for a vulnerable victim: record '
                           'the person as vulnerable first', 'override_reason');
      RETURN;
    END IF;
  END IF;
  UPDATE cdrp.case_reviews SET threshold_met = met, override_reason = b->>'override_reason',
    decided_on = (b->>'decided_on')::date, decided_by = me.user_id
  WHERE id = cr.id;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'case_review', cr.id,
                     jsonb_build_object('step', 'decision', 'threshold_met', met,
                                        'override', b ? 'override_reason'));
  status := 200; body := cdrp.case_review_json(cr.id);
END $$;

CREATE FUNCTION cdrp_impl.case_review_meeting(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp AS $$
DECLARE b jsonb := p_args->'body'; cr cdrp.case_reviews;
BEGIN
  IF NOT cdrp.has_case_role(me.roles) THEN
    status := 403; body := cdrp.problem('forbidden', 'recording a Case Review needs a case role');
    RETURN;
  END IF;
  SELECT * INTO cr FROM cdrp.case_reviews
  WHERE p_args->>'id' ~ '^[1-9][0-9]{0,17}$' AND id = (p_args->>'id')::bigint
    AND partnership_id = me.partnership_id
  FOR UPDATE;
  IF NOT FOUND THEN
    status := 404; body := cdrp.problem('not_found', 'no such Case Review application');
    RETURN;
  END IF;
  IF cr.threshold_met IS NULL THEN
    status := 409; body := cdrp.problem('invalid_transition', 'the application is not decided yet');
    RETURN;
  END IF;
  IF NOT cr.threshold_met THEN
    status := 409;
    body := cdrp.problem('invalid_transition', 'the threshold was not met: no review is held');
    RETURN;
  END IF;
  IF cr.meeting_on IS NOT NULL THEN
    status := 409; body := cdrp.problem('invalid_transition', 'the review meeting is recorded');
    RETURN;
  END IF;
  IF (b->>'meeting_on')::date < cr.decided_on THEN
    status := 422;
    body := cdrp.problem('rule_violation', 'the meeting cannot be before the decision',
                         'meeting_on');
    RETURN;
  END IF;
  UPDATE cdrp.case_reviews SET meeting_on = (b->>'meeting_on')::date,
    recommendations = coalesce(b->'recommendations', '[]'), meeting_recorded_by = me.user_id
  WHERE id = cr.id;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'alter', 'case_review', cr.id,
                     jsonb_build_object('step', 'meeting', 'recommendations',
                                        jsonb_array_length(coalesce(b->'recommendations', '[]'))));
  status := 200; body := cdrp.case_review_json(cr.id);
END $$;

-- Figures for the annual publication, by calendar year: applications
-- (applied_on), decisions (decided_on), reviews held and their
-- recommendations (meeting_on).
-- An aggregate open to the partnership: counts across every case.
CREATE FUNCTION cdrp_impl.case_review_stats(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SET search_path = pg_catalog, cdrp, pg_temp SET cdrp.scope = 'partnership' AS $$
DECLARE y int; d0 date; d1 date;
BEGIN
  y := coalesce((p_args->'query'->>'year')::int, extract(year FROM cdrp.today())::int);
  d0 := make_date(y, 1, 1);
  d1 := make_date(y + 1, 1, 1);
  SELECT jsonb_build_object('year', y,
    'applications', count(*) FILTER (WHERE applied_on >= d0 AND applied_on < d1),
    'threshold_met', count(*) FILTER (WHERE threshold_met AND decided_on >= d0 AND decided_on < d1),
    'threshold_not_met', count(*) FILTER (WHERE NOT threshold_met
                                          AND decided_on >= d0 AND decided_on < d1),
    'reviews_held', count(*) FILTER (WHERE meeting_on >= d0 AND meeting_on < d1),
    'reviews_with_recommendations', count(*) FILTER (WHERE meeting_on >= d0 AND meeting_on < d1
                                                     AND jsonb_array_length(recommendations) > 0),
    'recommendations', coalesce(sum(jsonb_array_length(recommendations))
                                FILTER (WHERE meeting_on >= d0 AND meeting_on < d1), 0))
  INTO body
  FROM cdrp.case_reviews WHERE partnership_id = me.partnership_id;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'case_review_stats', NULL,
                     jsonb_build_object('year', y));
  status := 200;
END $$;
