-- 000_reset: the code files (sql/code/) are source, not history. Every
-- `cdrpd --migrate` runs them all, as cdrp_owner, in one transaction that
-- starts here: every function of cdrp, cdrp_api and cdrp_impl is dropped,
-- with the triggers and policies that use them, and the files that follow
-- create them again. Tables, types and data live in sql/migrations/ and
-- are never touched here.
--
-- A table default, constraint or view that used one of these functions
-- would be dropped silently by CASCADE: refuse instead.
DO $$
DECLARE d record; f record;
BEGIN
  FOR d IN
    SELECT dep.classid::regclass AS kind, p.oid::regprocedure AS fn
    FROM pg_depend dep JOIN pg_proc p ON p.oid = dep.refobjid
    WHERE dep.refclassid = 'pg_proc'::regclass
      AND p.pronamespace IN (SELECT oid FROM pg_namespace
                             WHERE nspname IN ('cdrp', 'cdrp_api', 'cdrp_impl'))
      AND dep.classid NOT IN ('pg_proc'::regclass, 'pg_trigger'::regclass,
                              'pg_policy'::regclass)
      AND dep.deptype = 'n'
  LOOP
    RAISE EXCEPTION 'cannot re-create %: a % depends on it (move it to sql/code/)', d.fn, d.kind;
  END LOOP;
  FOR f IN
    SELECT p.oid::regprocedure AS fn FROM pg_proc p
    WHERE p.pronamespace IN (SELECT oid FROM pg_namespace
                             WHERE nspname IN ('cdrp', 'cdrp_api', 'cdrp_impl'))
  LOOP
    EXECUTE format('DROP FUNCTION %s CASCADE', f.fn);
  END LOOP;
END $$;

-- Functions created from here on are not executable by PUBLIC.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
