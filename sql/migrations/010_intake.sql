-- 010_intake: referrals that cdrpd's group commit merges are created
-- set-based (cdrp_api.submit_referrals, sql/code/002_api.sql): each
-- Idempotency-Key is claimed with its final answer, which names the
-- referral created later in the same transaction. The reference to it is
-- therefore checked at commit.
ALTER TABLE cdrp.idempotency_keys
  ALTER CONSTRAINT idempotency_keys_referral_id_fkey DEFERRABLE INITIALLY DEFERRED;
