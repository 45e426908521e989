-- 012_idempotency_expiry: Idempotency-Keys are kept for
-- idempotency_key_ttl_s (cdrpd config, default 24 h) and then purged by
-- cdrp_api.idempotency_purge, which cdrpd calls every minute: the index
-- finds the old ones without reading the table.
CREATE INDEX idempotency_keys_created_idx ON cdrp.idempotency_keys (created_at);
