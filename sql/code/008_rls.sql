-- 008_rls: row-level security, the second wall behind the endpoints'
-- own checks. Every table with case or personal data has RLS enabled and
-- FORCEd, so it binds cdrp_owner too, the role every endpoint runs as
-- (cdrp_api.call is SECURITY DEFINER). The caller comes from the
-- transaction-local settings that only call() sets (cdrp.set_caller):
-- cdrp.user_id, cdrp.agency_id, cdrp.partnership_id, cdrp.roles, and
-- cdrp.scope:
--   'user'         the default of every request: a row is visible only if
--                  the caller may see it (case_readable: a working relation
--                  and, for another agency's data, an ISA in force);
--   'partnership'  rules and aggregates open to the partnership (repeat
--                  victims, Case Review counts, statistics, retention):
--                  any row of the caller's partnership, never another's;
--   'all'          migrations only (cdrpd --migrate sets it).
-- No setting, no rows: deny by default. Superusers bypass RLS, which is
-- why cdrpd refuses to run as one.
--
-- The predicate functions run with cdrp.scope = 'all' themselves (their
-- own lookups must not recurse into the policies); they take the caller's
-- scope as an argument, read before that SET applies.

CREATE FUNCTION cdrp.rls_int(p_name text) RETURNS int LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting(p_name, true), '')::int
$$;

CREATE FUNCTION cdrp.rls_roles() RETURNS text[] LANGUAGE sql STABLE AS $$
  SELECT string_to_array(nullif(current_setting('cdrp.roles', true), ''), ',')
$$;

-- Widen the scope for the rest of the transaction (within the caller's
-- partnership): aggregates and administration.
CREATE FUNCTION cdrp.with_scope(p_scope text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_scope NOT IN ('user', 'partnership') THEN
    RAISE EXCEPTION 'scope % is not for endpoints', p_scope;
  END IF;
  PERFORM set_config('cdrp.scope', p_scope, true);
END $$;

-- A case row, for a scope.
CREATE FUNCTION cdrp.rls_case(p_scope text, p_case bigint) RETURNS boolean
LANGUAGE sql STABLE SET cdrp.scope = 'all' AS $$
  SELECT CASE p_scope
    WHEN 'all' THEN true
    WHEN 'partnership' THEN EXISTS (SELECT 1 FROM cdrp.cases c WHERE c.id = p_case
                                    AND c.partnership_id = cdrp.rls_int('cdrp.partnership_id'))
    WHEN 'user' THEN EXISTS (SELECT 1 FROM cdrp.cases c WHERE c.id = p_case
                             AND c.partnership_id = cdrp.rls_int('cdrp.partnership_id'))
                     AND cdrp.case_readable(p_case, cdrp.rls_int('cdrp.agency_id'),
                                            cdrp.rls_roles())
    ELSE false END
$$;

-- A case row judged from its columns (a row being inserted with
-- RETURNING is not visible to a lookup yet).
CREATE FUNCTION cdrp.rls_case_row(p_scope text, c cdrp.cases) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT CASE p_scope
    WHEN 'all' THEN true
    WHEN 'partnership' THEN c.partnership_id = cdrp.rls_int('cdrp.partnership_id')
    WHEN 'user' THEN c.partnership_id = cdrp.rls_int('cdrp.partnership_id')
                     AND cdrp.case_row_readable(c.id, c.partnership_id, c.lead_agency_id,
                                                c.case_kind, c.special_category,
                                                cdrp.rls_int('cdrp.agency_id'), cdrp.rls_roles())
    ELSE false END
$$;

-- Writes need only the partnership: the endpoint decided the rest.
CREATE FUNCTION cdrp.rls_case_partnership(p_scope text, p_case bigint) RETURNS boolean
LANGUAGE sql STABLE SET cdrp.scope = 'all' AS $$
  SELECT p_scope = 'all'
      OR (p_scope IN ('user', 'partnership')
          AND EXISTS (SELECT 1 FROM cdrp.cases c WHERE c.id = p_case
                      AND c.partnership_id = cdrp.rls_int('cdrp.partnership_id')))
$$;

CREATE FUNCTION cdrp.rls_partnership(p_scope text, p_partnership int) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT p_scope = 'all'
      OR (p_scope IN ('user', 'partnership')
          AND p_partnership = cdrp.rls_int('cdrp.partnership_id'))
$$;

CREATE FUNCTION cdrp.rls_incident(p_scope text, p_incident bigint) RETURNS boolean
LANGUAGE sql STABLE SET cdrp.scope = 'all' AS $$
  SELECT cdrp.rls_case(p_scope, (SELECT case_id FROM cdrp.incidents WHERE id = p_incident))
$$;

CREATE FUNCTION cdrp.rls_incident_partnership(p_scope text, p_incident bigint) RETURNS boolean
LANGUAGE sql STABLE SET cdrp.scope = 'all' AS $$
  SELECT cdrp.rls_case_partnership(p_scope,
                                   (SELECT case_id FROM cdrp.incidents WHERE id = p_incident))
$$;

-- A referral: as cdrp.referral_visible, or through its case.
CREATE FUNCTION cdrp.rls_referral_row(p_scope text, r cdrp.referrals) RETURNS boolean
LANGUAGE sql STABLE SET cdrp.scope = 'all' AS $$
  SELECT CASE p_scope
    WHEN 'all' THEN true
    WHEN 'partnership' THEN r.partnership_id = cdrp.rls_int('cdrp.partnership_id')
    WHEN 'user' THEN cdrp.referral_visible(r, cdrp.rls_int('cdrp.agency_id'),
                                           cdrp.rls_int('cdrp.partnership_id'), cdrp.rls_roles())
    ELSE false END
$$;

CREATE FUNCTION cdrp.rls_referral(p_scope text, p_referral bigint) RETURNS boolean
LANGUAGE sql STABLE SET cdrp.scope = 'all' AS $$
  SELECT coalesce((SELECT cdrp.rls_referral_row(p_scope, r) FROM cdrp.referrals r
                   WHERE r.id = p_referral), false)
$$;

CREATE FUNCTION cdrp.rls_referral_partnership(p_scope text, p_referral bigint) RETURNS boolean
LANGUAGE sql STABLE SET cdrp.scope = 'all' AS $$
  SELECT cdrp.rls_partnership(p_scope,
                              (SELECT partnership_id FROM cdrp.referrals WHERE id = p_referral))
$$;

-- A person: of the caller's partnership, and on a case the caller may
-- read (as subject or victim), or on none yet (being created).
CREATE FUNCTION cdrp.rls_person_row(p_scope text, p_person bigint, p_partnership int)
RETURNS boolean LANGUAGE sql STABLE SET cdrp.scope = 'all' AS $$
  SELECT CASE p_scope
    WHEN 'all' THEN true
    WHEN 'partnership' THEN p_partnership = cdrp.rls_int('cdrp.partnership_id')
    WHEN 'user' THEN p_partnership = cdrp.rls_int('cdrp.partnership_id')
      AND (EXISTS (SELECT 1 FROM cdrp.case_persons cp WHERE cp.person_id = p_person
                   AND cdrp.case_readable(cp.case_id, cdrp.rls_int('cdrp.agency_id'),
                                          cdrp.rls_roles()))
           OR EXISTS (SELECT 1 FROM cdrp.incident_victims iv
                      JOIN cdrp.incidents i ON i.id = iv.incident_id
                      WHERE iv.person_id = p_person
                        AND cdrp.case_readable(i.case_id, cdrp.rls_int('cdrp.agency_id'),
                                               cdrp.rls_roles()))
           OR (NOT EXISTS (SELECT 1 FROM cdrp.case_persons cp WHERE cp.person_id = p_person)
               AND NOT EXISTS (SELECT 1 FROM cdrp.incident_victims iv
                               WHERE iv.person_id = p_person)))
    ELSE false END
$$;

CREATE FUNCTION cdrp.rls_person(p_scope text, p_person bigint) RETURNS boolean
LANGUAGE sql STABLE SET cdrp.scope = 'all' AS $$
  SELECT coalesce((SELECT cdrp.rls_person_row(p_scope, p.id, p.partnership_id)
                   FROM cdrp.persons p WHERE p.id = p_person), false)
$$;

CREATE FUNCTION cdrp.rls_person_partnership(p_scope text, p_person bigint) RETURNS boolean
LANGUAGE sql STABLE SET cdrp.scope = 'all' AS $$
  SELECT cdrp.rls_partnership(p_scope,
                              (SELECT partnership_id FROM cdrp.persons WHERE id = p_person))
$$;

-- Contact details: as the person, and victim_details shared by the lead
-- agency of one of their cases (or the caller's agency leads it).
CREATE FUNCTION cdrp.rls_contacts(p_scope text, p_person bigint) RETURNS boolean
LANGUAGE sql STABLE SET cdrp.scope = 'all' AS $$
  SELECT CASE p_scope
    WHEN 'user' THEN cdrp.rls_person(p_scope, p_person) AND (
      EXISTS (SELECT 1 FROM cdrp.case_persons cp JOIN cdrp.cases c ON c.id = cp.case_id
              WHERE cp.person_id = p_person
                AND cdrp.case_readable(c.id, cdrp.rls_int('cdrp.agency_id'), cdrp.rls_roles())
                AND cdrp.isa_allows(c.partnership_id, c.lead_agency_id,
                                    cdrp.rls_int('cdrp.agency_id'), 'victim_details'::text,
                                    cdrp.kind_purpose(c.case_kind)))
      OR (NOT EXISTS (SELECT 1 FROM cdrp.case_persons cp WHERE cp.person_id = p_person)
          AND NOT EXISTS (SELECT 1 FROM cdrp.incident_victims iv WHERE iv.person_id = p_person)))
    ELSE cdrp.rls_person(p_scope, p_person) END
$$;

-- ---- the policies ----------------------------------------------------------
-- (table, visibility predicate, write predicate): SELECT/UPDATE/DELETE see
-- only visible rows; INSERT and the new row of an UPDATE need the
-- partnership.
DO $$
DECLARE t record;
BEGIN
  FOR t IN SELECT * FROM (VALUES
    ('cases', 'cdrp.rls_case_row(current_setting(''cdrp.scope'', true), cases)',
              'cdrp.rls_partnership(current_setting(''cdrp.scope'', true), partnership_id)'),
    ('case_status_history', 'cdrp.rls_case(current_setting(''cdrp.scope'', true), case_id)',
                            'cdrp.rls_case_partnership(current_setting(''cdrp.scope'', true), case_id)'),
    ('ppo_strand_history', 'cdrp.rls_case(current_setting(''cdrp.scope'', true), case_id)',
                           'cdrp.rls_case_partnership(current_setting(''cdrp.scope'', true), case_id)'),
    ('case_persons', 'cdrp.rls_case(current_setting(''cdrp.scope'', true), case_id)',
                     'cdrp.rls_case_partnership(current_setting(''cdrp.scope'', true), case_id)'),
    ('incidents', 'cdrp.rls_case(current_setting(''cdrp.scope'', true), case_id)',
                  'cdrp.rls_case_partnership(current_setting(''cdrp.scope'', true), case_id)'),
    ('risk_assessments', 'cdrp.rls_case(current_setting(''cdrp.scope'', true), case_id)',
                         'cdrp.rls_case_partnership(current_setting(''cdrp.scope'', true), case_id)'),
    -- the owner agency works its actions on a case it cannot read
    ('actions', '(cdrp.rls_case(current_setting(''cdrp.scope'', true), case_id)
                  OR (current_setting(''cdrp.scope'', true) = ''user''
                      AND owner_agency_id = cdrp.rls_int(''cdrp.agency_id'')
                      AND cdrp.rls_case_partnership(''user'', case_id)))',
                'cdrp.rls_case_partnership(current_setting(''cdrp.scope'', true), case_id)'),
    ('case_notes', 'cdrp.rls_case(current_setting(''cdrp.scope'', true), case_id)',
                   'cdrp.rls_case_partnership(current_setting(''cdrp.scope'', true), case_id)'),
    ('case_decisions', 'cdrp.rls_case(current_setting(''cdrp.scope'', true), case_id)',
                       'cdrp.rls_case_partnership(current_setting(''cdrp.scope'', true), case_id)'),
    ('incident_reports', 'cdrp.rls_incident(current_setting(''cdrp.scope'', true), incident_id)',
                         'cdrp.rls_incident_partnership(current_setting(''cdrp.scope'', true), incident_id)'),
    ('incident_victims', 'cdrp.rls_incident(current_setting(''cdrp.scope'', true), incident_id)',
                         'cdrp.rls_incident_partnership(current_setting(''cdrp.scope'', true), incident_id)'),
    ('referrals', 'cdrp.rls_referral_row(current_setting(''cdrp.scope'', true), referrals)',
                  'cdrp.rls_partnership(current_setting(''cdrp.scope'', true), partnership_id)'),
    ('referral_transitions', 'cdrp.rls_referral(current_setting(''cdrp.scope'', true), referral_id)',
                             'cdrp.rls_referral_partnership(current_setting(''cdrp.scope'', true), referral_id)'),
    ('persons', 'cdrp.rls_person_row(current_setting(''cdrp.scope'', true), id, partnership_id)',
                'cdrp.rls_partnership(current_setting(''cdrp.scope'', true), partnership_id)'),
    ('person_contacts', 'cdrp.rls_contacts(current_setting(''cdrp.scope'', true), person_id)',
                        'cdrp.rls_person_partnership(current_setting(''cdrp.scope'', true), person_id)'),
    ('victim_flags', 'cdrp.rls_person(current_setting(''cdrp.scope'', true), person_id)',
                     'cdrp.rls_person_partnership(current_setting(''cdrp.scope'', true), person_id)'),
    ('case_reviews', 'cdrp.rls_person(current_setting(''cdrp.scope'', true), person_id)',
                     'cdrp.rls_partnership(current_setting(''cdrp.scope'', true), partnership_id)'),
    ('idempotency_keys', 'user_id = cdrp.rls_int(''cdrp.user_id'')',
                         'user_id = cdrp.rls_int(''cdrp.user_id'')')
  ) AS v(tab, visible, writable) LOOP
    EXECUTE format('ALTER TABLE cdrp.%I ENABLE ROW LEVEL SECURITY', t.tab);
    EXECUTE format('ALTER TABLE cdrp.%I FORCE ROW LEVEL SECURITY', t.tab);
    EXECUTE format('DROP POLICY IF EXISTS see ON cdrp.%I', t.tab);
    EXECUTE format('DROP POLICY IF EXISTS add ON cdrp.%I', t.tab);
    EXECUTE format('DROP POLICY IF EXISTS change ON cdrp.%I', t.tab);
    EXECUTE format('DROP POLICY IF EXISTS remove ON cdrp.%I', t.tab);
    -- Scope 'all' (migrations, and the predicates' own lookups) is
    -- answered before any predicate function is called: a row-valued
    -- argument and a SET clause per row cost more than the insert itself.
    t.visible := format('(current_setting(''cdrp.scope'', true) = ''all'' OR %s)', t.visible);
    t.writable := format('(current_setting(''cdrp.scope'', true) = ''all'' OR %s)', t.writable);
    EXECUTE format('CREATE POLICY see ON cdrp.%I FOR SELECT USING (%s)', t.tab, t.visible);
    EXECUTE format('CREATE POLICY add ON cdrp.%I FOR INSERT WITH CHECK (%s)', t.tab, t.writable);
    EXECUTE format('CREATE POLICY change ON cdrp.%I FOR UPDATE USING (%s) WITH CHECK (%s)',
                   t.tab, t.visible, t.writable);
    EXECUTE format('CREATE POLICY remove ON cdrp.%I FOR DELETE USING (%s)', t.tab, t.visible);
  END LOOP;
END $$;
