-- 009_transparency: the audit trail becomes a transparency log (issue 8).
-- Audit rows are no longer chained through one head row (every write in a
-- partnership queued on its lock): they take an id from a sequence and the
-- id of their transaction, and a sealer (cdrpd, sql/code/001_audit.sql)
-- appends them afterwards, in batches, to an RFC 6962 Merkle tree whose
-- checkpoints cdrpd signs. Rows written before this version keep their hash
-- chain (hash v1/v2) and are the tree's first leaves, in id order.

CREATE SEQUENCE cdrp.audit_log_id_seq OWNED BY cdrp.audit_log.id;
SELECT setval('cdrp.audit_log_id_seq', (SELECT last_id FROM cdrp.audit_head) + 1, false);
-- xid 0 for the old rows: they sort first, in id order.
ALTER TABLE cdrp.audit_log
  ADD COLUMN xid xid8 NOT NULL DEFAULT '0',
  ALTER COLUMN prev_hash DROP NOT NULL,
  ALTER COLUMN row_hash DROP NOT NULL,
  DROP CONSTRAINT audit_log_hash_version_check,
  ADD CONSTRAINT audit_log_hash_version_check CHECK (hash_version IN (1, 2, 3)),
  ADD CONSTRAINT audit_log_chained CHECK ((hash_version < 3) = (row_hash IS NOT NULL));
ALTER TABLE cdrp.audit_log
  ALTER COLUMN id SET DEFAULT nextval('cdrp.audit_log_id_seq'),
  ALTER COLUMN xid SET DEFAULT pg_current_xact_id(),
  ALTER COLUMN hash_version SET DEFAULT 3;
CREATE INDEX audit_log_xid_idx ON cdrp.audit_log (xid);

-- The tree. Leaf idx holds the audit row audit_id; hash is
-- SHA-256(0x00 || cdrp.audit_entry_text(row)).
CREATE TABLE cdrp.audit_leaf (
  idx        bigint PRIMARY KEY CHECK (idx >= 0),
  audit_id   bigint NOT NULL UNIQUE REFERENCES cdrp.audit_log,
  hash       bytea NOT NULL CHECK (length(hash) = 32),
  sealed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- Every complete subtree above the leaves: level L, index i covers leaves
-- i*2^L .. (i+1)*2^L - 1. Proofs are read from these.
CREATE TABLE cdrp.audit_node (
  level  smallint NOT NULL CHECK (level BETWEEN 1 AND 62),
  idx    bigint NOT NULL CHECK (idx >= 0),
  hash   bytea NOT NULL CHECK (length(hash) = 32),
  PRIMARY KEY (level, idx)
);
-- Signed checkpoints (C2SP tlog-checkpoint notes), one per seal that grew
-- the tree; cdrpd also appends each to a file outside the database.
CREATE TABLE cdrp.audit_checkpoint (
  size       bigint PRIMARY KEY CHECK (size > 0),
  root       bytea NOT NULL CHECK (length(root) = 32),
  note       text NOT NULL,
  signed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- The sealer's state: the tree size, its compact range (the roots of its
-- complete subtrees, largest first) and the transaction id below which
-- every committed audit row is sealed.
CREATE TABLE cdrp.audit_seal_state (
  only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  size       bigint NOT NULL CHECK (size >= 0),
  frontier   bytea[] NOT NULL,
  low_xid    xid8 NOT NULL,
  sealed_at  timestamptz
);
INSERT INTO cdrp.audit_seal_state (size, frontier, low_xid) VALUES (0, '{}', '0');
