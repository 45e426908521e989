-- 007_security: the security core (issue 6).
--  * tenancy: an agency may belong to several partnerships;
--  * Idempotency-Keys belong to one user, not to the whole agency;
--  * the audit hash v2 (canonical, UTC, NULL-safe) for new rows;
--  * information-sharing agreements: purpose codes, signatures per party,
--    status changes with who and why;
--  * retention: erasure bookkeeping and legal holds.

-- Tenancy. agencies.partnership_id stays as the agency's home partnership.
CREATE TABLE cdrp.agency_partnerships (
  agency_id       int NOT NULL REFERENCES cdrp.agencies,
  partnership_id  int NOT NULL REFERENCES cdrp.partnerships,
  active          boolean NOT NULL DEFAULT true, -- disabled in this partnership
  PRIMARY KEY (agency_id, partnership_id)
);
INSERT INTO cdrp.agency_partnerships (agency_id, partnership_id)
SELECT id, partnership_id FROM cdrp.agencies;
CREATE INDEX agency_partnerships_partnership_idx ON cdrp.agency_partnerships (partnership_id);

-- Keys per user. Keys of referrals keep their submitter; keys of casework
-- writes made before this version had no user and are dropped (their
-- retries would get 409 or run afresh; keys are short-lived anyway).
ALTER TABLE cdrp.idempotency_keys ADD COLUMN user_id int REFERENCES cdrp.users;
UPDATE cdrp.idempotency_keys k SET user_id = r.user_id
FROM cdrp.referrals r WHERE r.id = k.referral_id;
DELETE FROM cdrp.idempotency_keys WHERE user_id IS NULL;
ALTER TABLE cdrp.idempotency_keys ALTER COLUMN user_id SET NOT NULL,
  DROP CONSTRAINT idempotency_keys_pkey, ADD PRIMARY KEY (agency_id, user_id, key);

-- Audit rows written from now on use hash v2 (cdrp.audit_row_hash);
-- earlier rows keep v1, verified as they were written.
ALTER TABLE cdrp.audit_log ADD COLUMN hash_version smallint NOT NULL DEFAULT 1
  CHECK (hash_version IN (1, 2));
ALTER TABLE cdrp.audit_log ALTER COLUMN hash_version SET DEFAULT 2;

-- ISAs. `purpose` is a code a case can be matched against; the free text
-- goes to `description`.
ALTER TABLE cdrp.isas
  ADD COLUMN description text,
  ADD COLUMN created_by int REFERENCES cdrp.users,
  ADD COLUMN status_reason text,
  ADD COLUMN status_changed_at timestamptz,
  ADD CONSTRAINT isas_purpose_check CHECK (purpose IN ('asb_case_management',
    'offender_management', 'victim_support', 'community_safety')),
  ADD CONSTRAINT isas_reference_check CHECK (reference ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$'),
  ADD CONSTRAINT isas_parties_title CHECK (length(title) BETWEEN 1 AND 200),
  ADD CONSTRAINT isas_review_check CHECK (review_on IS NULL OR review_on >= starts_on);
ALTER TABLE cdrp.isas DROP CONSTRAINT isas_reference_key,
  ADD CONSTRAINT isas_reference_key UNIQUE (partnership_id, reference);
-- One signature per party agency, by a user of that agency.
ALTER TABLE cdrp.isa_signatories ADD COLUMN agency_id int REFERENCES cdrp.agencies;
ALTER TABLE cdrp.isa_signatories ALTER COLUMN agency_id SET NOT NULL,
  ADD CONSTRAINT isa_signatories_party UNIQUE (isa_id, agency_id);
CREATE INDEX isa_parties_agency_idx ON cdrp.isa_parties (agency_id);

-- Special-category data on a case (health, ethnicity...) needs an ISA
-- that covers special_category.
ALTER TABLE cdrp.cases ADD COLUMN special_category boolean NOT NULL DEFAULT false;

-- Retention: when a case's personal data was erased.
ALTER TABLE cdrp.cases ADD COLUMN erased_at timestamptz;

-- An ISA registered by an operator from psql (a paper agreement already
-- signed) has signatures without a user: user_id NULL.
ALTER TABLE cdrp.isa_signatories DROP CONSTRAINT isa_signatories_pkey;
ALTER TABLE cdrp.isa_signatories ALTER COLUMN user_id DROP NOT NULL,
  ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
