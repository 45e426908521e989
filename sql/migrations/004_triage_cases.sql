-- 004_triage_cases: triage of referrals (accept, decline, request more
-- information, resubmit) and the case itself (read, list, change, close,
-- reopen, PPO strands and removal, history, notes, persons). Issue 3.
--
-- Endpoints follow the convention of 003: cdrp_impl.<name>(me, p_args) ->
-- (status, body, replay, etag), called through cdrp_api.call. Parts of the case owned by later
-- migrations (risk, actions, review dates, repeat victims, prompts, flags)
-- are called from plpgsql, which resolves them when it runs: 005 and 006
-- define them.

-- A strand change may give a reason (removals have removal_reason).
ALTER TABLE cdrp.ppo_strand_history ADD COLUMN reason text;
CREATE INDEX case_notes_case_idx ON cdrp.case_notes (case_id, id);
CREATE INDEX case_status_history_case_idx ON cdrp.case_status_history (case_id, id);
CREATE INDEX ppo_strand_history_case_idx ON cdrp.ppo_strand_history (case_id, id);
CREATE INDEX referral_transitions_referral_idx ON cdrp.referral_transitions (referral_id, id);
CREATE INDEX cases_list_idx ON cdrp.cases (partnership_id, id DESC);
