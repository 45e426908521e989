-- 001_schema: the whole cdrp domain (see ../shared/BRIEF.md).
-- Tables live in schema `cdrp` and belong to `cdrp_owner` (NOLOGIN, not a
-- superuser: `cdrpd --migrate` runs every migration as that role).
-- The daemon connects as `cdrp_app`, which may only EXECUTE
-- cdrp_api.call (sql/code/): identity checks, visibility and the audit
-- trail live behind it and cannot be bypassed by the daemon.

CREATE SCHEMA cdrp;

-- A partnership (one CSP); per-partnership rules live in `config`:
-- repeat-victim definition, Case Review thresholds, risk questionnaire,
-- review cadence, retention.
CREATE TABLE cdrp.partnerships (
  id          int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9]{2,16}$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  config      jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cdrp.agencies (
  id              int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  partnership_id  int NOT NULL REFERENCES cdrp.partnerships,
  code            text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9]{2,16}$'),
  name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  kind            text NOT NULL CHECK (kind IN ('police', 'district_council',
                    'county_council', 'fire_rescue', 'probation', 'youth_offending',
                    'housing', 'drug_alcohol', 'health', 'parish', 'other')),
  active          boolean NOT NULL DEFAULT true,
  created_at      timestamptz NOT NULL DEFAULT now()
);

-- A person or an agency system, identified by its certificate's CN within
-- the agency (certificate O).
CREATE TABLE cdrp.users (
  id            int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  agency_id     int NOT NULL REFERENCES cdrp.agencies,
  cn            text NOT NULL CHECK (length(cn) BETWEEN 1 AND 200),
  display_name  text NOT NULL,
  roles         text[] NOT NULL DEFAULT '{}' CHECK (roles <@ ARRAY['referrer', 'caseworker',
                  'chair', 'ppo_coordinator', 'analyst', 'admin']::text[]),
  active        boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (agency_id, cn)
);

-- Information-sharing agreements (enforced from the ISA issue on).
CREATE TABLE cdrp.isas (
  id               int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  partnership_id   int NOT NULL REFERENCES cdrp.partnerships,
  reference        text NOT NULL UNIQUE,
  title            text NOT NULL,
  purpose          text NOT NULL,
  data_categories  text[] NOT NULL CHECK (data_categories <@ ARRAY['asb_casework',
                     'offender_management', 'victim_details', 'special_category']::text[]),
  lawful_basis     text NOT NULL,
  marking          text NOT NULL DEFAULT 'OFFICIAL'
                     CHECK (marking IN ('OFFICIAL', 'OFFICIAL-SENSITIVE')),
  retention_months int NOT NULL CHECK (retention_months > 0),
  starts_on        date NOT NULL,
  review_on        date,
  ends_on          date,
  status           text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active',
                     'suspended', 'expired', 'terminated')),
  created_at       timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_on IS NULL OR ends_on >= starts_on)
);
CREATE TABLE cdrp.isa_parties (
  isa_id     int NOT NULL REFERENCES cdrp.isas,
  agency_id  int NOT NULL REFERENCES cdrp.agencies,
  PRIMARY KEY (isa_id, agency_id)
);
CREATE TABLE cdrp.isa_signatories (
  isa_id     int NOT NULL REFERENCES cdrp.isas,
  user_id    int NOT NULL REFERENCES cdrp.users,
  signed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (isa_id, user_id)
);

-- People. Contact details are held apart so that later access rules (ISA)
-- can grant a case without its contact data.
CREATE TABLE cdrp.persons (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  partnership_id  int NOT NULL REFERENCES cdrp.partnerships,
  name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  date_of_birth   date,
  vulnerable      boolean NOT NULL DEFAULT false,
  erased_at       timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE cdrp.person_contacts (
  person_id   bigint PRIMARY KEY REFERENCES cdrp.persons,
  address     text,
  contact     text,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Cases: stable references per partnership, kind and year (ASB-2026-0042).
CREATE TABLE cdrp.reference_counters (
  partnership_id  int NOT NULL REFERENCES cdrp.partnerships,
  kind            text NOT NULL,
  year            int NOT NULL,
  last_value      int NOT NULL DEFAULT 0,
  PRIMARY KEY (partnership_id, kind, year)
);

CREATE TABLE cdrp.cases (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  partnership_id      int NOT NULL REFERENCES cdrp.partnerships,
  reference           text NOT NULL UNIQUE,
  case_kind           text NOT NULL CHECK (case_kind IN ('asb', 'ppo')),
  subject_type        text NOT NULL CHECK (subject_type IN ('individual', 'family', 'area')),
  subject_name        text NOT NULL,
  subject_person_id   bigint REFERENCES cdrp.persons,
  ward                text,
  lead_agency_id      int NOT NULL REFERENCES cdrp.agencies,
  caseworker_user_id  int REFERENCES cdrp.users,
  status              text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
  marking             text NOT NULL DEFAULT 'OFFICIAL'
                        CHECK (marking IN ('OFFICIAL', 'OFFICIAL-SENSITIVE')),
  data_category       text NOT NULL DEFAULT 'asb_casework',
  referral_date       date NOT NULL,
  opened_at           timestamptz NOT NULL DEFAULT now(),
  closed_at           timestamptz,
  outcome             text CHECK (outcome IN ('resolved', 'no_further_action', 'transferred',
                        'legal_action_concluded', 'other')),
  strand              text CHECK (strand IN ('deter', 'catch_and_convict',
                        'rehabilitate_and_resettle')),
  legal_hold          boolean NOT NULL DEFAULT false,
  version             int NOT NULL DEFAULT 1,  -- ETag for If-Match
  CHECK ((status = 'closed') = (closed_at IS NOT NULL AND outcome IS NOT NULL)),
  CHECK (case_kind = 'ppo' OR strand IS NULL)
);

CREATE TABLE cdrp.case_status_history (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  case_id    bigint NOT NULL REFERENCES cdrp.cases,
  status     text NOT NULL,
  outcome    text,
  reason     text,
  user_id    int NOT NULL REFERENCES cdrp.users,
  at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cdrp.ppo_strand_history (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  case_id        bigint NOT NULL REFERENCES cdrp.cases,
  strand         text CHECK (strand IN ('deter', 'catch_and_convict',
                   'rehabilitate_and_resettle')),
  removed        boolean NOT NULL DEFAULT false,
  removal_reason text CHECK (removal_reason IN ('successful_engagement', 'long_custody',
                   'moved_away', 'deceased', 'other')),
  exit_strategy  text,
  user_id        int NOT NULL REFERENCES cdrp.users,
  at             timestamptz NOT NULL DEFAULT now(),
  CHECK (removed = (removal_reason IS NOT NULL))
);

CREATE TABLE cdrp.case_persons (
  case_id    bigint NOT NULL REFERENCES cdrp.cases,
  person_id  bigint NOT NULL REFERENCES cdrp.persons,
  role       text NOT NULL CHECK (role IN ('subject', 'victim', 'witness', 'household_member')),
  PRIMARY KEY (case_id, person_id, role)
);

-- Referrals: the intake. Structured copy of the submission in `body`.
CREATE TABLE cdrp.referrals (
  -- BY DEFAULT: the reference is built from the id in the same INSERT.
  id                bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  partnership_id    int NOT NULL REFERENCES cdrp.partnerships,
  reference         text NOT NULL UNIQUE,
  agency_id         int NOT NULL REFERENCES cdrp.agencies,
  user_id           int NOT NULL REFERENCES cdrp.users,
  case_kind         text NOT NULL CHECK (case_kind IN ('asb', 'ppo')),
  subject_type      text NOT NULL CHECK (subject_type IN ('individual', 'family', 'area')),
  marking           text NOT NULL CHECK (marking IN ('OFFICIAL', 'OFFICIAL-SENSITIVE')),
  body              jsonb NOT NULL,
  status            text NOT NULL DEFAULT 'submitted' CHECK (status IN ('submitted',
                      'info_requested', 'accepted', 'declined', 'withdrawn')),
  case_id           bigint REFERENCES cdrp.cases,
  decision_reason   text,
  submitted_at      timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'accepted') = (case_id IS NOT NULL))
);
CREATE INDEX referrals_agency_idx ON cdrp.referrals (agency_id, id DESC);
CREATE INDEX referrals_status_idx ON cdrp.referrals (partnership_id, status, id DESC);

CREATE TABLE cdrp.referral_transitions (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  referral_id  bigint NOT NULL REFERENCES cdrp.referrals,
  from_status  text,
  to_status    text NOT NULL,
  reason       text,
  user_id      int NOT NULL REFERENCES cdrp.users,
  at           timestamptz NOT NULL DEFAULT now()
);

-- Idempotency: one row per (agency, key); the stored answer is replayed.
CREATE TABLE cdrp.idempotency_keys (
  agency_id     int NOT NULL REFERENCES cdrp.agencies,
  key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
  request_hash  bytea NOT NULL,
  status        int NOT NULL,
  response      jsonb NOT NULL,
  referral_id   bigint REFERENCES cdrp.referrals,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agency_id, key)
);

-- Incidents: one row per real-world incident; several agencies' reports of
-- the same incident are rows of incident_reports, so it counts once.
CREATE TABLE cdrp.incidents (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  case_id      bigint NOT NULL REFERENCES cdrp.cases,
  occurred_on  date NOT NULL,
  category     text NOT NULL CHECK (category IN ('personal', 'nuisance', 'environmental')),
  place        text NOT NULL,
  ward         text,
  description  text,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE cdrp.incident_reports (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  incident_id         bigint NOT NULL REFERENCES cdrp.incidents,
  agency_id           int NOT NULL REFERENCES cdrp.agencies,
  reported_on         date NOT NULL,
  reporter_person_id  bigint REFERENCES cdrp.persons,
  external_ref        text,
  UNIQUE (incident_id, agency_id, external_ref)
);
CREATE TABLE cdrp.incident_victims (
  incident_id  bigint NOT NULL REFERENCES cdrp.incidents,
  person_id    bigint NOT NULL REFERENCES cdrp.persons,
  PRIMARY KEY (incident_id, person_id)
);

-- Manual repeat-victim flags; the computed flag is derived from incidents.
CREATE TABLE cdrp.victim_flags (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  person_id  bigint NOT NULL REFERENCES cdrp.persons,
  reason     text NOT NULL,
  user_id    int NOT NULL REFERENCES cdrp.users,
  at         timestamptz NOT NULL DEFAULT now(),
  cleared_at timestamptz
);

CREATE TABLE cdrp.risk_assessments (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  case_id      bigint NOT NULL REFERENCES cdrp.cases,
  person_id    bigint REFERENCES cdrp.persons,
  answers      jsonb NOT NULL,
  score        int NOT NULL,
  band         text NOT NULL CHECK (band IN ('standard', 'medium', 'high')),
  user_id      int NOT NULL REFERENCES cdrp.users,
  assessed_at  timestamptz NOT NULL DEFAULT now()
);

-- Actions (tools and powers). Overdue is derived from due_on and status.
CREATE TABLE cdrp.actions (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  case_id          bigint NOT NULL REFERENCES cdrp.cases,
  action_type      text NOT NULL,
  stage            int NOT NULL CHECK (stage BETWEEN 1 AND 4),
  owner_agency_id  int NOT NULL REFERENCES cdrp.agencies,
  due_on           date,
  status           text NOT NULL DEFAULT 'agreed' CHECK (status IN ('agreed', 'in_progress',
                     'done', 'cancelled')),
  notes            text,
  created_by       int NOT NULL REFERENCES cdrp.users,
  created_at       timestamptz NOT NULL DEFAULT now(),
  version          int NOT NULL DEFAULT 1
);

-- Case notes: an append-only timeline.
CREATE TABLE cdrp.case_notes (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  case_id   bigint NOT NULL REFERENCES cdrp.cases,
  user_id   int NOT NULL REFERENCES cdrp.users,
  body      text NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
  at        timestamptz NOT NULL DEFAULT now()
);

-- ASB Case Review (Community Trigger) applications.
CREATE TABLE cdrp.case_reviews (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  partnership_id   int NOT NULL REFERENCES cdrp.partnerships,
  person_id        bigint NOT NULL REFERENCES cdrp.persons,
  case_id          bigint REFERENCES cdrp.cases,
  applied_on       date NOT NULL,
  threshold_met    boolean,
  override_reason  text,
  decided_on       date,
  meeting_on       date,
  recommendations  jsonb NOT NULL DEFAULT '[]'::jsonb,
  created_at       timestamptz NOT NULL DEFAULT now()
);

-- Monthly Task Group meetings and their per-case minutes.
CREATE TABLE cdrp.meetings (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  partnership_id  int NOT NULL REFERENCES cdrp.partnerships,
  held_on         date NOT NULL,
  chair_user_id   int REFERENCES cdrp.users,
  status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
  closed_at       timestamptz
);
CREATE TABLE cdrp.case_decisions (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  meeting_id      bigint NOT NULL REFERENCES cdrp.meetings,
  case_id         bigint NOT NULL REFERENCES cdrp.cases,
  assessment      text NOT NULL CHECK (assessment IN ('improved', 'no_change', 'worse')),
  decision        text NOT NULL CHECK (decision IN ('continue', 'escalate', 'close')),
  outcome         text,
  next_review_on  date,
  notes           text,
  user_id         int NOT NULL REFERENCES cdrp.users,
  at              timestamptz NOT NULL DEFAULT now(),
  UNIQUE (meeting_id, case_id)
);

-- The audit trail (DPA 2018 s.62): append-only and hash-chained. Each row's
-- hash covers its content and the previous row's hash, so an edit or a
-- deletion anywhere breaks every later link (cdrp.audit_verify()).
CREATE TABLE cdrp.audit_log (
  id             bigint PRIMARY KEY,
  at             timestamptz NOT NULL DEFAULT clock_timestamp(),
  agency_id      int REFERENCES cdrp.agencies,
  user_id        int REFERENCES cdrp.users,
  action         text NOT NULL CHECK (action IN ('collect', 'alter', 'consult',
                   'disclose', 'combine', 'erase', 'deny')),
  object_type    text NOT NULL,
  object_id      bigint,
  justification  text,
  detail         jsonb NOT NULL DEFAULT '{}'::jsonb,
  prev_hash      bytea NOT NULL,
  row_hash       bytea NOT NULL
);
CREATE TABLE cdrp.audit_head (
  only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  last_id    bigint NOT NULL,
  last_hash  bytea NOT NULL
) WITH (fillfactor = 10); -- room for HOT updates of the one row
INSERT INTO cdrp.audit_head VALUES (true, 0, '\x00'::bytea);
-- Triggers are re-created with their functions by sql/code/001_audit.sql.

REVOKE ALL ON ALL TABLES IN SCHEMA cdrp FROM PUBLIC;
REVOKE ALL ON SCHEMA cdrp FROM PUBLIC;
