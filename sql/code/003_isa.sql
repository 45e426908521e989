-- 003_isa: the sharing rule of information-sharing agreements (BRIEF.md
-- "Information-sharing agreements"), used by every read of personal data
-- and by row-level security. The ISA endpoints are in 007_isa.sql.
--
-- An agency sees personal data it does not own only under an ISA of the
-- same partnership that is in force today (active, started, not past its
-- end date: the end date is the last day it covers), has both agencies as
-- parties, and covers the data categories and the purpose. No ISA, no
-- data: deny by default.

-- What a case is for, and the category of its data, from its kind.
CREATE FUNCTION cdrp.kind_purpose(p_kind text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE p_kind WHEN 'ppo' THEN 'offender_management' ELSE 'asb_case_management' END
$$;

CREATE FUNCTION cdrp.case_categories(p_kind text, p_special boolean) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
  SELECT ARRAY[CASE p_kind WHEN 'ppo' THEN 'offender_management' ELSE 'asb_casework' END]
         || CASE WHEN p_special THEN ARRAY['special_category'] ELSE ARRAY[]::text[] END
$$;

-- Is the ISA in force on a day? Lapses by date need nobody to act.
CREATE FUNCTION cdrp.isa_in_force(p_status text, p_starts date, p_ends date, p_day date)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT p_status = 'active' AND p_starts <= p_day AND (p_ends IS NULL OR p_day <= p_ends)
$$;

-- The status people see: an active ISA past its end date is expired.
CREATE FUNCTION cdrp.isa_status(p_status text, p_ends date, p_day date) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_status = 'active' AND p_ends IS NOT NULL AND p_day > p_ends
              THEN 'expired' ELSE p_status END
$$;

-- May agency p_reader see data of p_owner's in these categories for this
-- purpose, within partnership p_partnership, today?
CREATE FUNCTION cdrp.isa_allows(p_partnership int, p_owner int, p_reader int,
                                p_categories text[], p_purpose text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT p_owner = p_reader OR EXISTS (
    SELECT 1 FROM cdrp.isas i
    WHERE i.partnership_id = p_partnership
      AND cdrp.isa_in_force(i.status, i.starts_on, i.ends_on, cdrp.today())
      AND i.purpose = p_purpose
      AND p_categories <@ i.data_categories
      AND EXISTS (SELECT 1 FROM cdrp.isa_parties a WHERE a.isa_id = i.id AND a.agency_id = p_owner)
      AND EXISTS (SELECT 1 FROM cdrp.isa_parties b WHERE b.isa_id = i.id AND b.agency_id = p_reader))
$$;

CREATE FUNCTION cdrp.isa_allows(p_partnership int, p_owner int, p_reader int,
                                p_category text, p_purpose text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT cdrp.isa_allows(p_partnership, p_owner, p_reader, ARRAY[p_category], p_purpose)
$$;

-- The statement of why, for OFFICIAL-SENSITIVE reads (X-Cdrp-Justification,
-- `cdrp --why`), or NULL.
CREATE FUNCTION cdrp.justification() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting('cdrp.justification', true), '')
$$;

-- OFFICIAL-SENSITIVE data is read only with a stated justification.
CREATE FUNCTION cdrp.require_justification(p_marking text, p_what text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF p_marking = 'OFFICIAL-SENSITIVE' AND cdrp.justification() IS NULL THEN
    PERFORM cdrp.refuse(403, 'justification_required',
      format('this %s is marked OFFICIAL-SENSITIVE: state why you read it (cdrp --why "..." or the X-Cdrp-Justification header)', p_what),
      'X-Cdrp-Justification');
  END IF;
END $$;

-- Who may read a case: a working relation to it (case roles; the lead
-- agency; the PPO coordinator for PPO cases; the agencies whose referrals
-- are attached) and, unless the caller's agency leads it, an ISA in force
-- covering the case's categories and purpose. From the row's own columns,
-- so that row-level security can judge a row being inserted.
CREATE FUNCTION cdrp.case_row_readable(p_case bigint, p_partnership int, p_lead int,
  p_kind text, p_special boolean, p_agency int, p_roles text[]) RETURNS boolean
LANGUAGE sql STABLE SET cdrp.scope = 'all' AS $$
  SELECT (cdrp.has_case_role(p_roles) OR p_lead = p_agency
          OR (p_kind = 'ppo' AND 'ppo_coordinator' = ANY (p_roles))
          OR EXISTS (SELECT 1 FROM cdrp.referrals r
                     WHERE r.case_id = p_case AND r.agency_id = p_agency))
     AND cdrp.isa_allows(p_partnership, p_lead, p_agency, cdrp.case_categories(p_kind, p_special),
                         cdrp.kind_purpose(p_kind))
$$;

-- (Its own lookups see every row: it is the check, and row-level security
-- calls it.)
CREATE FUNCTION cdrp.case_readable(p_case bigint, p_agency int, p_roles text[]) RETURNS boolean
LANGUAGE sql STABLE SET cdrp.scope = 'all' AS $$
  SELECT coalesce((SELECT cdrp.case_row_readable(c.id, c.partnership_id, c.lead_agency_id,
                                                 c.case_kind, c.special_category, p_agency,
                                                 p_roles)
                   FROM cdrp.cases c WHERE c.id = p_case), false)
$$;

-- Which referrals a user may see: their agency's own; the partnership's
-- for caseworkers, chairs and administrators (triage) when an ISA in force
-- lets their agency see the referring agency's data of that kind; and
-- those attached to a case the user may read.
CREATE FUNCTION cdrp.referral_visible(r cdrp.referrals, p_agency int, p_partnership int,
                                      p_roles text[]) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT r.partnership_id = p_partnership
     AND (r.agency_id = p_agency
          OR (p_roles && ARRAY['caseworker', 'chair', 'admin']
              AND cdrp.isa_allows(r.partnership_id, r.agency_id, p_agency,
                                  cdrp.case_categories(r.case_kind, false),
                                  cdrp.kind_purpose(r.case_kind)))
          OR (r.case_id IS NOT NULL AND cdrp.case_readable(r.case_id, p_agency, p_roles)))
$$;
