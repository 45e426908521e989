-- 001_audit: the audit trail's functions and triggers (DPA 2018 s.62:
-- collection, alteration, consultation, disclosure, combination, erasure,
-- with who, when and why). Rows are append-only and hash-chained.

-- The hash of a row. v2 (every row since migration 007) hashes the
-- previous hash and a canonical JSON text of the row: every column named,
-- NULL written as null (so a value cannot shift into a NULL neighbour),
-- the time in UTC with microseconds whatever the session's time zone, and
-- jsonb's own normalised text for detail. v1 rows (before 007) hashed a
-- '|'-joined text that skipped NULLs and printed the time in the session
-- zone; they are verified as written, in UTC (the zone cdrpd's sessions
-- and devstack use).
CREATE FUNCTION cdrp.audit_row_hash_v2(a cdrp.audit_log) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
  SELECT sha256(a.prev_hash || convert_to(jsonb_build_object(
    'v', 2, 'id', a.id,
    'at', to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'agency_id', a.agency_id, 'user_id', a.user_id, 'action', a.action,
    'object_type', a.object_type, 'object_id', a.object_id,
    'justification', a.justification, 'detail', a.detail)::text, 'UTF8'))
$$;

CREATE FUNCTION cdrp.audit_row_hash_v1(a cdrp.audit_log) RETURNS bytea
LANGUAGE sql STABLE SET timezone = 'UTC' AS $$
  SELECT sha256(a.prev_hash || convert_to(concat_ws('|', a.id, a.at, a.agency_id, a.user_id,
    a.action, a.object_type, a.object_id, a.justification, a.detail::text), 'UTF8'))
$$;

CREATE FUNCTION cdrp.audit_row_hash(a cdrp.audit_log) RETURNS bytea
LANGUAGE sql STABLE AS $$
  SELECT CASE a.hash_version WHEN 1 THEN cdrp.audit_row_hash_v1(a)
                             ELSE cdrp.audit_row_hash_v2(a) END
$$;

-- Chaining takes the head row lock; it is taken last in each transaction
-- (audit rows are written last) so it is held only until commit. One lock
-- and one new head version per audit row.
CREATE FUNCTION cdrp.audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE h cdrp.audit_head;
BEGIN
  SELECT * INTO h FROM cdrp.audit_head WHERE only_row FOR UPDATE;
  NEW.id := h.last_id + 1;
  NEW.prev_hash := h.last_hash;
  NEW.row_hash := cdrp.audit_row_hash(NEW);
  UPDATE cdrp.audit_head SET last_id = NEW.id, last_hash = NEW.row_hash WHERE only_row;
  RETURN NEW;
END $$;

CREATE FUNCTION cdrp.forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;

-- Case notes are append-only too, but for the erasure of their text by a
-- retention run (cdrp.case_erase sets cdrp.erasing for that one UPDATE).
CREATE FUNCTION cdrp.notes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND current_setting('cdrp.erasing', true) = 'on'
     AND NEW.body = '[erased]' AND NEW.id = OLD.id AND NEW.case_id = OLD.case_id
     AND NEW.user_id = OLD.user_id AND NEW.at = OLD.at THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;

-- Every break of the chain, one row each: a row whose content does not
-- match its hash (edited), whose link does not match the previous row
-- (deleted, reordered or inserted rows), a gap in the ids, and a head that
-- does not match the last row (truncated at the end).
CREATE FUNCTION cdrp.audit_breaks() RETURNS TABLE (id bigint, problem text)
LANGUAGE plpgsql STABLE AS $$
DECLARE r cdrp.audit_log; prev bytea := '\x00'::bytea; expect bigint := 1;
  head cdrp.audit_head := (SELECT h FROM cdrp.audit_head h);
BEGIN
  FOR r IN SELECT * FROM cdrp.audit_log l ORDER BY l.id LOOP
    IF r.id <> expect THEN
      id := r.id; problem := format('rows %s to %s are missing', expect, r.id - 1); RETURN NEXT;
    END IF;
    IF r.prev_hash <> prev THEN
      id := r.id; problem := 'link to the previous row broken'; RETURN NEXT;
    END IF;
    IF r.row_hash <> cdrp.audit_row_hash(r) THEN
      id := r.id; problem := 'content does not match its hash'; RETURN NEXT;
    END IF;
    prev := r.row_hash;
    expect := r.id + 1;
  END LOOP;
  IF expect - 1 <> head.last_id OR prev <> head.last_hash THEN
    id := expect; problem := format('the head says %s rows; the log ends at %s',
                                    head.last_id, expect - 1);
    RETURN NEXT;
  END IF;
END $$;

-- The first break, or NULL when the chain is intact.
CREATE FUNCTION cdrp.audit_verify() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT min(id) FROM cdrp.audit_breaks()
$$;

-- plpgsql, not sql: its INSERT is planned once per session, not per call.
CREATE FUNCTION cdrp.audit(p_agency int, p_user int, p_action text, p_type text,
                           p_object bigint, p_detail jsonb DEFAULT '{}'::jsonb,
                           p_justification text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  -- The justification the caller stated (X-Cdrp-Justification) goes with
  -- every row of its request.
  INSERT INTO cdrp.audit_log (id, agency_id, user_id, action, object_type, object_id,
                              justification, detail, prev_hash, row_hash)
  VALUES (0, p_agency, p_user, p_action, p_type, p_object,
          coalesce(p_justification, nullif(current_setting('cdrp.justification', true), '')),
          p_detail, '\x'::bytea, '\x'::bytea);
END $$;

CREATE TRIGGER audit_chain BEFORE INSERT ON cdrp.audit_log
  FOR EACH ROW EXECUTE FUNCTION cdrp.audit_chain();
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON cdrp.audit_log
  FOR EACH ROW EXECUTE FUNCTION cdrp.forbid_change();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON cdrp.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION cdrp.forbid_change();
CREATE TRIGGER notes_append_only BEFORE UPDATE OR DELETE ON cdrp.case_notes
  FOR EACH ROW EXECUTE FUNCTION cdrp.notes_append_only();
