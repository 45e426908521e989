-- 001_audit: the audit trail's functions and triggers (DPA 2018 s.62:
-- collection, alteration, consultation, disclosure, combination, erasure,
-- with who, when and why). Rows are append-only. Since migration 009 they
-- are written without any shared lock and sealed afterwards, in batches,
-- into an RFC 6962 Merkle tree (cdrp_api.audit_seal, called by cdrpd's
-- sealer), whose checkpoints cdrpd signs. Rows from before 009 also keep
-- their hash chain (v1/v2), verified by cdrp.audit_breaks().

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

-- The canonical text of an audit row: what its Merkle leaf hashes, and what
-- GET /v1/audit/entries shows the verifier. jsonb's own normalised text
-- (keys ordered, one spelling per value), every column named (NULL as
-- null), the time in UTC with microseconds whatever the session's zone;
-- an old row's chain hash is part of it, binding the chain into the tree.
CREATE FUNCTION cdrp.audit_entry_text(a cdrp.audit_log) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', a.id,
    'at', to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'agency_id', a.agency_id, 'user_id', a.user_id, 'action', a.action,
    'object_type', a.object_type, 'object_id', a.object_id,
    'justification', a.justification, 'detail', a.detail,
    'hash_version', a.hash_version, 'row_hash', encode(a.row_hash, 'hex'))::text
$$;

CREATE FUNCTION cdrp.audit_leaf_hash(p_text text) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
  SELECT sha256('\x00'::bytea || convert_to(p_text, 'UTF8'))
$$;

-- The largest power of two below n (n >= 2).
CREATE FUNCTION cdrp.audit_split(n bigint) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE k bigint := 1;
BEGIN
  WHILE k * 2 < n LOOP k := k * 2; END LOOP;
  RETURN k;
END $$;

-- MTH(D[a:b]) of RFC 6962 2.1, from the stored leaves and complete
-- subtrees. A missing one means the tree was damaged: an error, never a
-- made-up hash.
CREATE FUNCTION cdrp.audit_mth(a bigint, b bigint) RETURNS bytea
LANGUAGE plpgsql STABLE AS $$
DECLARE n bigint := b - a; lvl int := 0; h bytea; k bigint;
BEGIN
  IF n IS NULL OR n < 1 THEN
    RAISE EXCEPTION 'audit_mth(%, %): empty range', a, b;
  ELSIF n = 1 THEN
    SELECT l.hash INTO h FROM cdrp.audit_leaf l WHERE l.idx = a;
  ELSIF n & (n - 1) = 0 AND a % n = 0 THEN
    WHILE (1::bigint << lvl) < n LOOP lvl := lvl + 1; END LOOP;
    SELECT x.hash INTO h FROM cdrp.audit_node x WHERE x.level = lvl AND x.idx = a >> lvl;
  ELSE
    k := cdrp.audit_split(n);
    h := sha256('\x01'::bytea || cdrp.audit_mth(a, a + k) || cdrp.audit_mth(a + k, b));
  END IF;
  IF h IS NULL THEN
    RAISE EXCEPTION 'the audit tree is damaged: no hash for leaves % to %', a, b - 1;
  END IF;
  RETURN h;
END $$;

-- RFC 6962 2.1.1 PATH(m, D[a:b]): the inclusion proof of leaf a+m.
CREATE FUNCTION cdrp.audit_path(m bigint, a bigint, b bigint) RETURNS bytea[]
LANGUAGE plpgsql STABLE AS $$
DECLARE k bigint;
BEGIN
  IF b - a <= 1 THEN RETURN '{}'; END IF;
  k := cdrp.audit_split(b - a);
  IF m < k THEN
    RETURN cdrp.audit_path(m, a, a + k) || cdrp.audit_mth(a + k, b);
  END IF;
  RETURN cdrp.audit_path(m - k, a + k, b) || cdrp.audit_mth(a, a + k);
END $$;

-- RFC 6962 2.1.2 SUBPROOF(m, D[a:b], b).
CREATE FUNCTION cdrp.audit_subproof(m bigint, a bigint, b bigint, whole boolean)
RETURNS bytea[] LANGUAGE plpgsql STABLE AS $$
DECLARE k bigint;
BEGIN
  IF m = b - a THEN
    RETURN CASE WHEN whole THEN '{}'::bytea[] ELSE ARRAY[cdrp.audit_mth(a, b)] END;
  END IF;
  k := cdrp.audit_split(b - a);
  IF m <= k THEN
    RETURN cdrp.audit_subproof(m, a, a + k, whole) || cdrp.audit_mth(a + k, b);
  END IF;
  RETURN cdrp.audit_subproof(m - k, a + k, b, false) || cdrp.audit_mth(a, a + k);
END $$;

-- The consistency proof from tree size m to n (empty when m is 0 or n).
CREATE FUNCTION cdrp.audit_consistency(m bigint, n bigint) RETURNS bytea[]
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF m IS NULL OR n IS NULL OR m < 0 OR m > n THEN
    RAISE EXCEPTION 'audit_consistency(%, %): no such range', m, n;
  END IF;
  RETURN CASE WHEN m = 0 OR m = n THEN '{}'::bytea[] ELSE cdrp.audit_subproof(m, 0, n, true) END;
END $$;

CREATE FUNCTION cdrp.b64(p bytea) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT translate(encode(p, 'base64'), E'\n', '')
$$;

CREATE FUNCTION cdrp.b64_array(p bytea[]) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(jsonb_agg(cdrp.b64(h) ORDER BY i), '[]'::jsonb)
  FROM unnest(p) WITH ORDINALITY AS u(h, i)
$$;

-- Every problem the database itself can see, one row each:
--  * the hash chain of the rows from before migration 009 (v1/v2): a row
--    whose content does not match its hash (edited), whose link does not
--    match the previous row (deleted, reordered or inserted rows), a gap in
--    the ids, and a head that does not match the last chained row;
--  * the tree: a leaf whose audit row is gone or whose content no longer
--    matches the leaf's hash, a missing leaf position, and a compact range
--    whose root differs from the stored subtrees'.
-- An attacker who can write here can also make all of this agree again:
-- the signed checkpoints outside the database (`cdrp audit verify`) are
-- the check that does not trust the database.
CREATE FUNCTION cdrp.audit_breaks() RETURNS TABLE (id bigint, problem text)
LANGUAGE plpgsql STABLE AS $$
DECLARE r cdrp.audit_log; prev bytea := '\x00'::bytea; expect bigint := 1;
  head cdrp.audit_head := (SELECT h FROM cdrp.audit_head h);
  st cdrp.audit_seal_state := (SELECT s FROM cdrp.audit_seal_state s);
  l record; want bigint := 0; root bytea;
BEGIN
  FOR r IN SELECT * FROM cdrp.audit_log a WHERE a.hash_version < 3 ORDER BY a.id LOOP
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
  FOR l IN SELECT x.idx, x.audit_id, x.hash, a AS row FROM cdrp.audit_leaf x
           LEFT JOIN cdrp.audit_log a ON a.id = x.audit_id ORDER BY x.idx LOOP
    IF l.idx <> want THEN
      id := l.audit_id;
      problem := format('leaves %s to %s are missing', want, l.idx - 1); RETURN NEXT;
    END IF;
    IF (l.row).id IS NULL THEN
      id := l.audit_id; problem := format('leaf %s: its audit row is gone', l.idx); RETURN NEXT;
    ELSIF cdrp.audit_leaf_hash(cdrp.audit_entry_text(l.row)) <> l.hash THEN
      id := l.audit_id;
      problem := format('leaf %s: content does not match its hash', l.idx); RETURN NEXT;
    END IF;
    want := l.idx + 1;
  END LOOP;
  IF want <> st.size THEN
    id := NULL; problem := format('the sealer says %s leaves; the tree ends at %s', st.size, want);
    RETURN NEXT;
  ELSIF st.size > 0 THEN
    BEGIN
      root := cdrp.audit_mth(0, st.size);
    EXCEPTION WHEN OTHERS THEN
      root := NULL;
    END;
    IF root IS DISTINCT FROM cdrp.audit_frontier_root(st.frontier) THEN
      id := NULL; problem := 'the stored subtrees do not match the sealer''s root'; RETURN NEXT;
    END IF;
  END IF;
END $$;

-- The first break, or NULL when nothing is wrong.
CREATE FUNCTION cdrp.audit_verify() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT coalesce(min(id), CASE WHEN count(*) > 0 THEN 0 END) FROM cdrp.audit_breaks()
$$;

-- The root of a tree from its compact range (largest subtree first).
CREATE FUNCTION cdrp.audit_frontier_root(f bytea[]) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE n int := coalesce(array_length(f, 1), 0); r bytea;
BEGIN
  IF n = 0 THEN RETURN sha256(''::bytea); END IF;
  r := f[n];
  FOR i IN REVERSE n - 1 .. 1 LOOP
    r := sha256('\x01'::bytea || f[i] || r);
  END LOOP;
  RETURN r;
END $$;

-- The sealer (cdrpd calls it every audit_seal_interval_ms): appends to the
-- tree, in (xid, id) order, every committed audit row not yet in it, at
-- most p_max. Writers never wait for it and it never waits for them: it
-- reads committed rows only, and a transaction still running is sealed
-- by a later call. The state row serialises sealers (several cdrpd).
-- Rows of transactions below the snapshot's xmin can no longer appear,
-- so the scan starts there next time (low_xid). The answer carries the
-- new size and root, the consistency proof from p_signed (the size of the
-- checkpoint cdrpd signed last, which cdrpd checks before it signs again)
-- and the seal lag: the oldest sealed row's age.
-- Index scans only: cdrpd's connection keeps its plans, and a plan made
-- while the log was small (scan it all, hash the leaves) would read the
-- whole log every 250 ms until the statistics catch up. No JIT: a disabled
-- plan type looks costly enough to trigger it, and compiling costs more
-- than the seal.
CREATE FUNCTION cdrp_api.audit_seal(p_max int, p_signed bigint,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, cdrp, pg_temp
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off AS $$
DECLARE
  st cdrp.audit_seal_state;
  snap_xmin xid8;
  r record; cur bytea; lvl int; n bigint; from_size bigint; nf int;
  leaf_idx bigint[] := '{}'; leaf_id bigint[] := '{}'; leaf_h bytea[] := '{}';
  node_lvl smallint[] := '{}'; node_idx bigint[] := '{}'; node_h bytea[] := '{}';
  cnt int := 0; oldest timestamptz; last_xid xid8; root bytea; was_low xid8;
BEGIN
  SELECT * INTO st FROM cdrp.audit_seal_state FOR UPDATE;
  was_low := st.low_xid;
  snap_xmin := pg_snapshot_xmin(pg_current_snapshot());
  n := st.size; from_size := n;
  FOR r IN SELECT a.id, a.xid, a.at, cdrp.audit_entry_text(a) AS t FROM cdrp.audit_log a
           WHERE a.xid >= st.low_xid
             AND NOT EXISTS (SELECT 1 FROM cdrp.audit_leaf x WHERE x.audit_id = a.id)
           ORDER BY a.xid, a.id LIMIT p_max LOOP
    cur := cdrp.audit_leaf_hash(r.t);
    leaf_idx := array_append(leaf_idx, n);
    leaf_id := array_append(leaf_id, r.id);
    leaf_h := array_append(leaf_h, cur);
    -- Each set low bit of n is a complete subtree ending the compact
    -- range: merge it with the new one, recording each parent.
    lvl := 0;
    nf := coalesce(array_length(st.frontier, 1), 0);
    WHILE (n >> lvl) & 1 = 1 LOOP
      cur := sha256('\x01'::bytea || st.frontier[nf] || cur);
      nf := nf - 1;
      lvl := lvl + 1;
      node_lvl := array_append(node_lvl, lvl::smallint);
      node_idx := array_append(node_idx, n >> lvl);
      node_h := array_append(node_h, cur);
    END LOOP;
    st.frontier := st.frontier[1:nf] || cur;
    n := n + 1;
    cnt := cnt + 1;
    oldest := least(oldest, r.at);
    last_xid := r.xid;
  END LOOP;
  IF cnt > 0 THEN
    INSERT INTO cdrp.audit_leaf (idx, audit_id, hash)
    SELECT * FROM unnest(leaf_idx, leaf_id, leaf_h);
    INSERT INTO cdrp.audit_node (level, idx, hash)
    SELECT * FROM unnest(node_lvl, node_idx, node_h);
  END IF;
  root := cdrp.audit_frontier_root(st.frontier);
  -- Cut short by p_max: rows left over sort after the last one sealed.
  st.low_xid := CASE WHEN cnt < p_max THEN greatest(st.low_xid, snap_xmin)
                     ELSE greatest(st.low_xid, last_xid) END;
  IF cnt > 0 OR st.low_xid <> was_low THEN
    UPDATE cdrp.audit_seal_state s SET size = n, frontier = st.frontier, low_xid = st.low_xid,
           sealed_at = CASE WHEN cnt > 0 THEN clock_timestamp() ELSE s.sealed_at END;
  END IF;
  status := 200;
  replay := false;
  body := jsonb_build_object(
    'from', from_size, 'size', n, 'sealed', cnt, 'root', cdrp.b64(root),
    'lag_ms', CASE WHEN cnt > 0
                   THEN round(extract(epoch FROM clock_timestamp() - oldest) * 1000) ELSE 0 END,
    'more', cnt >= p_max,
    'proof', CASE WHEN p_signed > 0 AND p_signed <= n
                  THEN cdrp.b64_array(cdrp.audit_consistency(p_signed, n)) END,
    'checkpoint', (SELECT max(c.size) FROM cdrp.audit_checkpoint c));
END $$;

-- cdrpd stores each checkpoint it signed (after checking it extends the
-- one before: cdrp_api.audit_seal's proof). The root must be the tree's.
CREATE FUNCTION cdrp_api.audit_checkpoint_add(p_size bigint, p_root text, p_note text,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, cdrp, pg_temp AS $$
BEGIN
  replay := false;
  IF p_size < 1 OR p_size > (SELECT s.size FROM cdrp.audit_seal_state s)
     OR cdrp.b64(cdrp.audit_mth(0, p_size)) <> p_root THEN
    status := 409;
    body := cdrp.problem('checkpoint_mismatch', 'the checkpoint is not this tree''s');
    RETURN;
  END IF;
  INSERT INTO cdrp.audit_checkpoint (size, root, note)
  VALUES (p_size, decode(p_root, 'base64'), p_note) ON CONFLICT (size) DO NOTHING;
  status := 201;
  body := jsonb_build_object('size', p_size);
END $$;

-- The signed notes of checkpoints after size p_after, oldest first (cdrpd
-- appends those its checkpoint file lacks, after a crash between the two).
CREATE FUNCTION cdrp_api.audit_checkpoints_after(p_after bigint,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, cdrp, pg_temp AS $$
  SELECT 200, coalesce(jsonb_agg(jsonb_build_object('size', c.size, 'note', c.note)
                                  ORDER BY c.size), '[]'::jsonb), false, NULL::text
  FROM cdrp.audit_checkpoint c WHERE c.size > p_after
$$;

GRANT EXECUTE ON FUNCTION cdrp_api.audit_seal(int, bigint) TO cdrp_app;
GRANT EXECUTE ON FUNCTION cdrp_api.audit_checkpoint_add(bigint, text, text) TO cdrp_app;
GRANT EXECUTE ON FUNCTION cdrp_api.audit_checkpoints_after(bigint) TO cdrp_app;

-- plpgsql, not sql: its INSERT is planned once per session, not per call.
CREATE FUNCTION cdrp.audit(p_agency int, p_user int, p_action text, p_type text,
                           p_object bigint, p_detail jsonb DEFAULT '{}'::jsonb,
                           p_justification text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  -- The justification the caller stated (X-Cdrp-Justification) goes with
  -- every row of its request.
  INSERT INTO cdrp.audit_log (agency_id, user_id, action, object_type, object_id,
                              justification, detail)
  VALUES (p_agency, p_user, p_action, p_type, p_object,
          coalesce(p_justification, nullif(current_setting('cdrp.justification', true), '')),
          p_detail);
END $$;

CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON cdrp.audit_log
  FOR EACH ROW EXECUTE FUNCTION cdrp.forbid_change();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON cdrp.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION cdrp.forbid_change();
CREATE TRIGGER notes_append_only BEFORE UPDATE OR DELETE ON cdrp.case_notes
  FOR EACH ROW EXECUTE FUNCTION cdrp.notes_append_only();
CREATE TRIGGER audit_leaf_append_only BEFORE UPDATE OR DELETE ON cdrp.audit_leaf
  FOR EACH ROW EXECUTE FUNCTION cdrp.forbid_change();
CREATE TRIGGER audit_leaf_no_truncate BEFORE TRUNCATE ON cdrp.audit_leaf
  FOR EACH STATEMENT EXECUTE FUNCTION cdrp.forbid_change();
CREATE TRIGGER audit_node_append_only BEFORE UPDATE OR DELETE ON cdrp.audit_node
  FOR EACH ROW EXECUTE FUNCTION cdrp.forbid_change();
CREATE TRIGGER audit_node_no_truncate BEFORE TRUNCATE ON cdrp.audit_node
  FOR EACH STATEMENT EXECUTE FUNCTION cdrp.forbid_change();
CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE OR DELETE ON cdrp.audit_checkpoint
  FOR EACH ROW EXECUTE FUNCTION cdrp.forbid_change();
CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON cdrp.audit_checkpoint
  FOR EACH STATEMENT EXECUTE FUNCTION cdrp.forbid_change();

-- ---- the log, read by its verifier (`cdrp audit verify`) ----------------
-- Needs audit.read (admin). Each read is audited like any other.

CREATE FUNCTION cdrp.audit_tree_size() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT s.size FROM cdrp.audit_seal_state s
$$;

-- GET /v1/audit/checkpoint: the latest signed checkpoint.
CREATE FUNCTION cdrp_impl.audit_checkpoint(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE c cdrp.audit_checkpoint;
BEGIN
  SELECT * INTO c FROM cdrp.audit_checkpoint x ORDER BY x.size DESC LIMIT 1;
  IF NOT FOUND THEN
    PERFORM cdrp.refuse(404, 'not_found', 'no checkpoint has been signed yet');
  END IF;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'audit_log', NULL,
                     jsonb_build_object('checkpoint', c.size));
  status := 200;
  body := jsonb_build_object('origin', split_part(c.note, E'\n', 1), 'size', c.size,
                             'root', cdrp.b64(c.root), 'note', c.note,
                             'signed_at', cdrp.utc(c.signed_at));
END $$;

CREATE FUNCTION cdrp.audit_check_size(p_size bigint, p_field text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF p_size > cdrp.audit_tree_size() THEN
    PERFORM cdrp.refuse(422, 'beyond_tree', format('the tree has %s entries',
                                                   cdrp.audit_tree_size()), p_field);
  END IF;
END $$;

-- GET /v1/audit/consistency?from=&to=
CREATE FUNCTION cdrp_impl.audit_consistency(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE m bigint := (p_args->'query'->>'from')::bigint; n bigint := (p_args->'query'->>'to')::bigint;
BEGIN
  PERFORM cdrp.audit_check_size(n, 'to');
  IF m > n THEN
    PERFORM cdrp.refuse(422, 'invalid_range', 'from must not be greater than to', 'from');
  END IF;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'audit_log', NULL,
                     jsonb_build_object('consistency', jsonb_build_array(m, n)));
  status := 200;
  body := jsonb_build_object('from', m, 'to', n,
                             'proof', cdrp.b64_array(cdrp.audit_consistency(m, n)));
END $$;

-- GET /v1/audit/inclusion?index=&size=
CREATE FUNCTION cdrp_impl.audit_inclusion(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE i bigint := (p_args->'query'->>'index')::bigint; n bigint := (p_args->'query'->>'size')::bigint;
  l cdrp.audit_leaf; a cdrp.audit_log;
BEGIN
  PERFORM cdrp.audit_check_size(n, 'size');
  IF i >= n THEN
    PERFORM cdrp.refuse(422, 'invalid_range', 'index must be below size', 'index');
  END IF;
  SELECT * INTO l FROM cdrp.audit_leaf x WHERE x.idx = i;
  SELECT * INTO a FROM cdrp.audit_log x WHERE x.id = l.audit_id;
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'audit_log', NULL,
                     jsonb_build_object('inclusion', jsonb_build_array(i, n)));
  status := 200;
  body := jsonb_build_object('index', i, 'size', n, 'leaf_hash', cdrp.b64(l.hash),
            'entry', CASE WHEN a.id IS NOT NULL THEN cdrp.audit_entry_text(a) END,
            'proof', cdrp.b64_array(cdrp.audit_path(i, 0, n)));
END $$;

-- GET /v1/audit/entries?start=&count=: the entries at positions start to
-- start+count-1 (fewer at the end of the tree); a position whose leaf or
-- row is gone is listed with nulls, for the verifier to name.
CREATE FUNCTION cdrp_impl.audit_entries(me cdrp.caller, p_args jsonb,
  OUT status int, OUT body jsonb, OUT replay boolean, OUT etag text)
LANGUAGE plpgsql AS $$
DECLARE s bigint := coalesce((p_args->'query'->>'start')::bigint, 0);
  c bigint := coalesce((p_args->'query'->>'count')::bigint, 1000);
  e bigint := least(s + c, cdrp.audit_tree_size());
BEGIN
  PERFORM cdrp.audit(me.agency_id, me.user_id, 'consult', 'audit_log', NULL,
                     jsonb_build_object('entries', jsonb_build_array(s, greatest(e - s, 0))));
  status := 200;
  body := jsonb_build_object('start', s, 'entries', (
    SELECT coalesce(jsonb_agg(jsonb_build_object(
             'index', g.i, 'leaf_hash', cdrp.b64(l.hash),
             'entry', CASE WHEN a.id IS NOT NULL THEN cdrp.audit_entry_text(a) END)
           ORDER BY g.i), '[]'::jsonb)
    FROM generate_series(s, e - 1) AS g(i)
    LEFT JOIN cdrp.audit_leaf l ON l.idx = g.i
    LEFT JOIN cdrp.audit_log a ON a.id = l.audit_id));
END $$;

-- For /v1/health: the committed audit rows not sealed yet, and the age of
-- the oldest (the seal lag as the database sees it now).
CREATE FUNCTION cdrp.audit_backlog() RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('unsealed', count(*),
           'oldest_unsealed_ms',
           coalesce(round(extract(epoch FROM clock_timestamp() - min(a.at)) * 1000), 0))
  FROM cdrp.audit_seal_state s
  JOIN cdrp.audit_log a ON a.xid >= s.low_xid
  WHERE NOT EXISTS (SELECT 1 FROM cdrp.audit_leaf l WHERE l.audit_id = a.id)
$$;
