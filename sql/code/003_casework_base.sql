-- Defaults for every threshold the brief calls configuration.
CREATE FUNCTION cdrp.config_defaults() RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT '{
    "repeat_victim": {"min_incidents": 3, "window_days": 365},
    "case_review": {"min_complaints": 3, "window_months": 6, "report_within_months": 1,
                    "community_min": 5, "community_min_agencies": 2, "explain_at": 2},
    "risk": {"medium_from": 10, "high_from": 20, "victim_support_from": 15,
             "questions": [
               {"id": "happened_before", "text": "Has this happened to you before?", "weight": 3},
               {"id": "feel_targeted", "text": "Do you feel you are being targeted?", "weight": 3},
               {"id": "hate_motivated", "text": "Do you think it is motivated by hate (race, religion, disability, sexuality, gender identity)?", "weight": 5},
               {"id": "disabled_or_ill", "text": "Is anyone in the household disabled or ill, physically or mentally?", "weight": 4},
               {"id": "affecting_health", "text": "Is it affecting your health or that of anyone in the household?", "weight": 4},
               {"id": "afraid_at_home", "text": "Are you afraid to stay in your home or go out?", "weight": 4},
               {"id": "children_affected", "text": "Are children in the household affected?", "weight": 2},
               {"id": "violence_or_threats", "text": "Has there been violence or threats of violence?", "weight": 5},
               {"id": "isolated", "text": "Do you feel isolated, with no one to support you?", "weight": 2},
               {"id": "considered_moving", "text": "Have you considered moving because of it?", "weight": 2}
             ]},
    "cadence_days": {"high": 14, "medium": 28, "standard": 28},
    "action_types": ["warning_letter", "second_warning_visit", "acceptable_behaviour_contract",
                     "tenancy_enforcement", "mediation_referral", "support_referral",
                     "cpn_warning", "cpn", "civil_injunction", "criminal_behaviour_order",
                     "closure_order", "other"],
    "cpn_prior_warnings": ["warning_letter", "second_warning_visit", "cpn_warning"],
    "retention": {"case_months": 72},
    "improvement": {"target_pct": 75}
  }'::jsonb
$$;

-- The partnership's configuration: its overrides merged over the defaults,
-- one level deep ({"risk": {"high_from": 25}} keeps the other risk keys).
CREATE FUNCTION cdrp.config(p_partnership int) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT coalesce(jsonb_object_agg(d.key,
           CASE WHEN jsonb_typeof(d.value) = 'object' AND jsonb_typeof(o.value) = 'object'
                THEN d.value || o.value ELSE coalesce(o.value, d.value) END), '{}'::jsonb)
  FROM jsonb_each(cdrp.config_defaults()) d
  LEFT JOIN jsonb_each((SELECT config FROM cdrp.partnerships WHERE id = p_partnership)) o
    ON o.key = d.key
$$;

-- Dates are UTC calendar dates, like the daemon's.
CREATE FUNCTION cdrp.today() RETURNS date LANGUAGE sql STABLE AS $$
  SELECT (now() AT TIME ZONE 'UTC')::date
$$;

-- Roles that work cases (triage, changes, every case readable).
CREATE FUNCTION cdrp.has_case_role(p_roles text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT p_roles && ARRAY['caseworker', 'chair', 'admin']
$$;

-- A case by id ("42") or reference ("ASB-2026-0042") within a partnership.
CREATE FUNCTION cdrp.case_resolve(p_partnership int, p_id text) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT id FROM cdrp.cases
  WHERE partnership_id = p_partnership
    AND (CASE WHEN p_id ~ '^[1-9][0-9]{0,17}$' THEN id = p_id::bigint ELSE reference = p_id END)
$$;

-- Next case reference: ASB-2026-0042. The counter row is locked until
-- commit, so references are unique and never reused (a rolled-back case
-- leaves no gap either).
CREATE FUNCTION cdrp.next_case_reference(p_partnership int, p_kind text, p_year int) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE n int;
BEGIN
  INSERT INTO cdrp.reference_counters (partnership_id, kind, year, last_value)
  VALUES (p_partnership, p_kind, p_year, 1)
  ON CONFLICT (partnership_id, kind, year)
  DO UPDATE SET last_value = cdrp.reference_counters.last_value + 1
  RETURNING last_value INTO n;
  RETURN upper(p_kind) || '-' || p_year || '-' || lpad(n::text, 4, '0');
END $$;

-- An agency's id by code within a partnership (NULL if unknown).
CREATE FUNCTION cdrp.agency_id(p_partnership int, p_code text) RETURNS int
LANGUAGE sql STABLE AS $$
  SELECT a.id FROM cdrp.agencies a JOIN cdrp.agency_partnerships ap ON ap.agency_id = a.id
  WHERE ap.partnership_id = p_partnership AND a.code = p_code AND a.active
$$;

-- A user's id from {"agency": code, "cn": name} (NULL if unknown).
CREATE FUNCTION cdrp.user_id(p_partnership int, p_ref jsonb) RETURNS int
LANGUAGE sql STABLE AS $$
  SELECT u.id FROM cdrp.users u JOIN cdrp.agencies a ON a.id = u.agency_id
  JOIN cdrp.agency_partnerships ap ON ap.agency_id = a.id AND ap.partnership_id = p_partnership
  WHERE a.code = p_ref->>'agency' AND u.cn = p_ref->>'cn'
    AND u.active AND a.active
$$;

CREATE FUNCTION cdrp.user_json(p_user int) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('agency', a.code, 'cn', u.cn)
  FROM cdrp.users u JOIN cdrp.agencies a ON a.id = u.agency_id WHERE u.id = p_user
$$;

-- Text as the matching rules compare it: trimmed, runs of white space as
-- one space, lower case ("  Mill   Lane " and "mill lane" are equal).
-- NULL stays NULL.
CREATE FUNCTION cdrp.norm_text(p text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT lower(regexp_replace(btrim(p), '\s+', ' ', 'g'))
$$;

-- Contact details as the person-matching rule compares them: every white
-- space removed, lower case ("07700 900123" = "07700900123").
CREATE FUNCTION cdrp.norm_contact(p text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT lower(regexp_replace(p, '\s+', '', 'g'))
$$;
