-- 002_api: the database API that cdrpd calls, and the administration
-- functions devstack and operators call.
--
-- Every cdrp_api function takes the caller's verified identity (agency code
-- and certificate CN, taken by cdrpd from the TLS client certificate),
-- resolves it, checks the role, does its work, writes its audit row in the
-- same transaction and returns (status, body, replay): the HTTP status, the
-- JSON body (a success body, or {code, detail, field} for an error) and
-- whether it is an idempotent replay. One statement, one round trip.

CREATE SCHEMA cdrp_api;
