-- 006_risk_actions: risk assessments and actions (issue 3, proto/API.md
-- "Risk and actions").
--
-- Pure rule functions (unit-tested in tests/sql/risk_actions_rules.sql):
--   cdrp.risk_answers_problem, cdrp.risk_score, cdrp.risk_band,
--   cdrp.review_cadence, cdrp.next_review_date, cdrp.action_overdue,
--   cdrp.action_transition_ok;
-- case data the case reads use: cdrp.case_risk, cdrp.case_actions,
--   cdrp.case_next_review, cdrp.case_overdue, cdrp.cpn_allowed;
-- endpoints (cdrp_impl, through cdrp_api.call): risk_questionnaire,
--   risk_assess, action_add, action_update.
--
-- Configuration arguments (p_cfg) may be the whole partnership configuration
-- (cdrp.config(p)) or just its relevant part ("risk" for the scoring
-- functions, "cadence_days" for the cadence functions).

CREATE INDEX risk_assessments_case_idx ON cdrp.risk_assessments (case_id, assessed_at DESC, id DESC);
