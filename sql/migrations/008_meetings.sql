-- 008_meetings: the monthly task-group cycle (issue 7): meetings of a
-- group with attendance and an agenda; per-case reviews (case_decisions)
-- that record the assessment the 12-month improvement figure counts.

ALTER TABLE cdrp.meetings
  ADD COLUMN group_kind text NOT NULL DEFAULT 'asb_task_group'
    CHECK (group_kind IN ('asb_task_group', 'ppo_panel')),
  ADD COLUMN created_by int REFERENCES cdrp.users,
  ADD COLUMN created_at timestamptz NOT NULL DEFAULT now(),
  ADD COLUMN version int NOT NULL DEFAULT 1,
  ADD CONSTRAINT meetings_closed_check CHECK ((status = 'closed') = (closed_at IS NOT NULL));
CREATE INDEX meetings_partnership_idx ON cdrp.meetings (partnership_id, held_on DESC, id DESC);

CREATE TABLE cdrp.meeting_attendance (
  meeting_id  bigint NOT NULL REFERENCES cdrp.meetings,
  agency_id   int NOT NULL REFERENCES cdrp.agencies,
  PRIMARY KEY (meeting_id, agency_id)
);

-- The agenda: generated when the meeting is created, then added to and
-- reordered by the chair. Titles name references and rules, never people.
CREATE TABLE cdrp.meeting_items (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  meeting_id   bigint NOT NULL REFERENCES cdrp.meetings,
  position     int NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('referral', 'review_due', 'victim', 'overdue_action',
                                            'ppo_cohort', 'other')),
  title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
  case_id      bigint REFERENCES cdrp.cases,
  referral_id  bigint REFERENCES cdrp.referrals,
  person_id    bigint REFERENCES cdrp.persons,
  action_id    bigint REFERENCES cdrp.actions,
  added_by     int REFERENCES cdrp.users
);
CREATE INDEX meeting_items_meeting_idx ON cdrp.meeting_items (meeting_id, position);

-- Reviews: PPO removal is a decision too; who agreed to it.
ALTER TABLE cdrp.case_decisions DROP CONSTRAINT case_decisions_decision_check,
  ADD CONSTRAINT case_decisions_decision_check
    CHECK (decision IN ('continue', 'escalate', 'close', 'ppo_remove')),
  ADD COLUMN consensus text[];
CREATE INDEX case_decisions_case_idx ON cdrp.case_decisions (case_id, meeting_id);

-- The improvement report reads cohorts by referral date.
CREATE INDEX cases_referral_date_idx ON cdrp.cases (partnership_id, referral_date);
