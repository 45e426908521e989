-- 005_victims: incidents, repeat victims and the ASB Case Review (issue 3).
--
-- Two layers:
--  * rule engines: pure, IMMUTABLE functions of plain data and a config
--    object (cdrp.repeat_victim_rule, cdrp.max_in_window,
--    cdrp.case_review_rule, cdrp.case_review_community_rule), unit-tested
--    with boundary cases in tests/sql/victims_rules.sql;
--  * data functions that feed them from the tables (cdrp.person_repeat_victim,
--    cdrp.person_case_review, cdrp.case_flagged, cdrp.case_prompts) and the
--    cdrp_impl endpoints (through cdrp_api.call) of proto/API.md "Incidents, victims, Case Review".
-- Nothing is stored about eligibility: flags and prompts are recomputed on
-- every read, so they follow every change of the incidents.

-- Who recorded each Case Review step, and the eligibility when applied.
ALTER TABLE cdrp.case_reviews
  ADD COLUMN eligible_at_application boolean,
  ADD COLUMN basis_at_application text,
  ADD COLUMN applied_by int REFERENCES cdrp.users,
  ADD COLUMN decided_by int REFERENCES cdrp.users,
  ADD COLUMN meeting_recorded_by int REFERENCES cdrp.users;
CREATE INDEX case_reviews_person_idx ON cdrp.case_reviews (person_id);
CREATE INDEX case_reviews_applied_idx ON cdrp.case_reviews (partnership_id, applied_on);
CREATE INDEX victim_flags_person_idx ON cdrp.victim_flags (person_id);
CREATE INDEX incident_reports_agency_ref_idx ON cdrp.incident_reports (agency_id, external_ref);
