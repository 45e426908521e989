#!/usr/bin/env python3
"""openapi_check.py: checks proto/openapi.json against the code it documents.

Python 3 standard library only. Used by tests/integration/t_openapi.sh:

  openapi_check.py static DOC ROUTES_JSON REPO
      The document against the daemon's route table (`cdrpd --routes`), the
      request and query schemas of proto/proto.c and proto/casework.c (read
      from the C tables), the permissions of sql/code/002_api.sql and the
      error codes of proto/proto.c; every request example is validated
      against the document's own schema. Prints "ok - ..." / "not ok - ..."
      lines; exits 1 if anything failed.

  openapi_check.py live-plan DOC ROUTES_JSON REPO OUTDIR
      Writes each request body example to OUTDIR/N.json and prints one line
      per request to send to a running cdrpd, tab-separated:
        N  METHOD  PATH  CERT  EXPECT  IF_MATCH(0/1)  KEY(0/1)  OPERATION
      EXPECT is "403" (an id-less write sent with a certificate whose roles
      lack the permission: proto's validation runs first, so anything but
      400 proves the body valid, and nothing is stored) or "not400" (a write
      on an id that does not exist, by a caller with the permission: the body
      is validated before the id is looked up). Query examples of the GET
      routes follow, with body "-" and EXPECT "not400".

The C tables are parsed with regular expressions: they are written in one
regular form (schema.h's struct field, the TEXT/ENUM macros of casework.c).
A table this parser cannot read fails the check rather than being skipped.
"""
import json
import os
import re
import sys
import urllib.parse

FAILS = 0


def ok(name):
    print(f"ok - {name}")


def not_ok(name, *detail):
    global FAILS
    FAILS += 1
    print(f"not ok - {name}")
    for d in detail:
        for line in str(d).splitlines():
            print(f"#   {line}")


def check(name, cond, *detail):
    if cond:
        ok(name)
    else:
        not_ok(name, *detail)
    return cond


# --- the C tables -------------------------------------------------------------


def strip_comments(src):
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    return re.sub(r"//[^\n]*", " ", src)


def c_number(tok, defines):
    tok = tok.strip()
    if tok in defines:
        return c_number(defines[tok], defines)
    m = re.fullmatch(r"\(?\s*(\d+)\s*(?:[uU]?[lL]{0,2}|[lL]{0,2}[uU]?)\s*\)?", tok)
    if not m:
        raise ValueError(f"not a number: {tok!r}")
    return int(m.group(1))


def braced(src, start):
    """The text from start up to the brace that closes the one before it."""
    depth = 1
    for i in range(start, len(src)):
        if src[i] == "{":
            depth += 1
        elif src[i] == "}":
            depth -= 1
            if depth == 0:
                return src[start:i]
    raise ValueError("unbalanced braces")


class CSchemas:
    """Field tables, choice lists and the PB_/PQ_ maps of proto/*.c."""

    def __init__(self, repo):
        self.defines = {}
        self.choices = {}  # (file, name) -> [str]
        self.tables = {}  # (file, name) -> raw entries
        self.body = {}  # "PB_X" -> (file, table)
        self.query = {}  # "PQ_X" -> (file, table)
        self.errors = []
        for h in ("proto/proto.h", "proto/schema.h"):
            self._defines(strip_comments(open(os.path.join(repo, h), encoding="utf-8").read()))
        for f in ("proto/proto.c", "proto/casework.c"):
            src = strip_comments(open(os.path.join(repo, f), encoding="utf-8").read())
            self._defines(src)
            for m in re.finditer(r"static\s+const\s+char\s*\*\s*const\s+(\w+)\s*\[\s*\]\s*=\s*\{(.*?)\};", src, re.S):
                self.choices[(f, m.group(1))] = re.findall(r'"([^"]*)"', m.group(2))
            for m in re.finditer(r"static\s+const\s+struct\s+field\s+(\w+)\s*\[\s*\]\s*=\s*\{", src):
                self.tables[(f, m.group(1))] = braced(src, m.end())
            for kind, attr in (("body_schemas", self.body), ("query_schemas", self.query)):
                m = re.search(kind + r"\s*\[\s*\w+\s*\]\s*=\s*\{(.*?)\};", src, re.S)
                if m:
                    for k, v in re.findall(r"\[\s*(P[BQ]_\w+)\s*\]\s*=\s*(\w+)", m.group(1)):
                        attr[k] = (f, v)
        self.referral_statuses = self.choices.get(("proto/proto.c", "referral_statuses"))
        # GET /v1/referrals: the keys daemon/api.c's list_referrals accepts.
        api = strip_comments(open(os.path.join(repo, "daemon/api.c"), encoding="utf-8").read())
        m = re.search(r"static void list_referrals\(.*?\n\}", api, re.S)
        if not m:
            raise ValueError("no list_referrals in daemon/api.c")
        self.referral_list_keys = re.findall(r'strcmp\(key, "(\w+)"\)', m.group(0))
        self.cache = {}

    def _defines(self, src):
        src = re.sub(r"\\\n", " ", src)  # continuation lines
        for name, val in re.findall(r"^\s*#define\s+(\w+)\s+([^\n\\]+?)\s*$", src, re.M):
            self.defines.setdefault(name, val)

    def fields(self, f, table):
        """[(name, kind, required, min, max, choices, sub)] of one table."""
        key = (f, table)
        if key in self.cache:
            return self.cache[key]
        raw = self.tables.get(key)
        if raw is None:
            raise ValueError(f"no field table {table} in {f}")
        out = []
        # Entries are macros NAME(...), bare macros (QLIMIT, END) or braces.
        pos = 0
        entry_re = re.compile(r"\s*(?:(\w+)\s*\(([^()]*)\)|(\w+)|\{([^{}]*)\})\s*,?", re.S)
        while pos < len(raw):
            m = entry_re.match(raw, pos)
            if not m or m.end() == pos:
                if raw[pos:].strip():
                    raise ValueError(f"{table}: cannot read {raw[pos:pos + 60]!r}")
                break
            pos = m.end()
            macro, args, bare, brace = m.groups()
            if bare == "END":
                continue
            if macro:
                a = [x.strip() for x in args.split(",")]
                if macro == "TEXT":
                    out.append((a[0].strip('"'), "K_STRING", a[1] == "true", c_number(a[2], self.defines),
                                c_number(a[3], self.defines), None, None))
                elif macro == "ENUM":
                    out.append((a[0].strip('"'), "K_ENUM", a[1] == "true", 0, 0, self.choices[(f, a[2])], None))
                elif macro == "AUDIT_POS":
                    out.append((a[0].strip('"'), "K_QINT", a[1] == "true", 0,
                                c_number("AUDIT_POS_MAX", self.defines), None, None))
                else:
                    raise ValueError(f"{table}: unknown macro {macro}")
            elif bare:
                exp = self.defines.get(bare)
                if exp is None:
                    raise ValueError(f"{table}: unknown entry {bare}")
                inner = re.search(r"\{(.*)\}", exp)
                if not inner:
                    raise ValueError(f"{table}: cannot expand {bare}")
                out.append(self._brace(f, table, inner.group(1)))
            else:
                e = self._brace(f, table, brace)
                if e is not None:
                    out.append(e)
        self.cache[key] = out
        return out

    def _brace(self, f, table, text):
        a = [x.strip() for x in text.split(",")]
        if len(a) != 7:
            raise ValueError(f"{table}: entry {text!r} is not 7 members")
        if a[0] == "NULL":
            return None
        name, kind = a[0].strip('"'), a[1]
        choices = None if a[5] == "NULL" else self.choices[(f, a[5])]
        sub = None if a[6] == "NULL" else (f, a[6])
        return (name, kind, a[2] == "true", c_number(a[3], self.defines), c_number(a[4], self.defines), choices, sub)


NONBLANK = "[^ \\t\\r\\n]"
DATE_RE = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def field_schema(cs, fld):
    """The JSON Schema proto's check_value() amounts to, for one field."""
    name, kind, req, lo, hi, choices, sub = fld
    if kind == "K_STRING":
        s = {"type": "string", "minLength": lo, "maxLength": hi}
        if lo > 0:
            s["pattern"] = NONBLANK
        return s
    if kind == "K_ENUM":
        return {"type": "string", "enum": list(choices)}
    if kind in ("K_DATE", "K_ANYDATE"):
        return {"type": "string", "format": "date", "pattern": DATE_RE}
    if kind in ("K_BOOL", "K_QBOOL"):
        return {"type": "boolean"}
    if kind in ("K_INT", "K_QINT"):
        return {"type": "integer", "minimum": lo, "maximum": hi}
    if kind == "K_OBJECT":
        return object_schema(cs, cs.fields(*sub))
    if kind == "K_ARRAY_OBJ":
        return {"type": "array", "minItems": lo, "maxItems": hi, "items": object_schema(cs, cs.fields(*sub))}
    if kind == "K_ARRAY_INT":
        return {"type": "array", "minItems": lo, "maxItems": hi, "items": {"type": "integer", "minimum": 0}}
    if kind == "K_ARRAY_STR":
        item = {"type": "string", "enum": list(choices)} if choices else \
            {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": NONBLANK}
        return {"type": "array", "minItems": lo, "maxItems": hi, "items": item}
    if kind == "K_BOOL_MAP":
        return {"type": "object", "maxProperties": hi, "propertyNames": {"pattern": "^[a-z0-9_]{1,40}$"},
                "additionalProperties": {"type": "boolean"}}
    if kind == "K_QCURSOR":
        return {"type": "string", "pattern": "^c[1-9][0-9]*$"}
    raise ValueError(f"unknown kind {kind} of {name}")


def object_schema(cs, fields):
    s = {"type": "object", "additionalProperties": False,
         "properties": {f[0]: field_schema(cs, f) for f in fields}}
    req = [f[0] for f in fields if f[2]]
    if req:
        s["required"] = req
    return s


def parse_routes_c(repo):
    """operation -> (kind, PB_, PQ_) from daemon/api.c's route table."""
    src = strip_comments(open(os.path.join(repo, "daemon/api.c"), encoding="utf-8").read())
    m = re.search(r"static\s+(?:const\s+)?struct\s+route\s+routes\s*\[\s*\]\s*=\s*\{(.*?)\n\};", src, re.S)
    if not m:
        raise ValueError("no route table in daemon/api.c")
    out = {}
    for e in re.finditer(r"\{\s*(\w+)\s*,\s*\"([^\"]+)\"\s*,\s*\"(\w+)\"\s*,\s*(\w+)\s*,\s*(\w+)\s*,\s*(\w+)\s*,\s*(\w+)\s*\}", m.group(1)):
        out[e.group(3)] = (e.group(4), e.group(5), e.group(6))
    return out


def expected_body(cs, rk, pb):
    if rk == "RK_REFERRAL_SUBMIT" or pb == "PB_REFERRAL":
        return object_schema(cs, cs.fields("proto/proto.c", "referral_fields"))
    if pb == "PB_NONE":
        return None
    if pb not in cs.body:
        raise ValueError(f"no body schema for {pb}")
    return object_schema(cs, cs.fields(*cs.body[pb]))


def expected_query(cs, rk, pq):
    """{name: (required, schema)} of a route's query string."""
    if rk == "RK_REFERRAL_LIST":
        q = {"status": (False, {"type": "string", "enum": list(cs.referral_statuses)}),
             "limit": (False, {"type": "integer", "minimum": 1, "maximum": c_number("PROTO_LIST_LIMIT_MAX", cs.defines)}),
             "cursor": (False, field_schema(cs, ("cursor", "K_QCURSOR", False, 0, 0, None, None)))}
        # Every other key daemon/api.c's list_referrals accepts is a date
        # (proto_valid_date): the checker must see a new one appear.
        for name in cs.referral_list_keys:
            if name not in q:
                q[name] = (False, field_schema(cs, (name, "K_ANYDATE", False, 0, 0, None, None)))
        return q
    if pq == "PQ_NONE":
        return {}
    if pq not in cs.query:
        raise ValueError(f"no query schema for {pq}")
    return {f[0]: (f[2], field_schema(cs, f)) for f in cs.fields(*cs.query[pq])}


# --- SQL: permissions and roles -------------------------------------------------


def parse_permissions(repo):
    src = open(os.path.join(repo, "sql/code/002_api.sql"), encoding="utf-8").read()
    m = re.search(r"FUNCTION cdrp\.endpoint_permission\(.*?\$\$(.*?)\$\$", src, re.S)
    perms = {}
    for cond, perm in re.findall(r"WHEN\s+(.*?)\s+THEN\s+'([\w.]+)'", m.group(1), re.S):
        for fn in re.findall(r"'(\w+)'", cond):
            perms[fn] = perm
    m = re.search(r"FUNCTION cdrp\.role_permissions\(.*?\$\$(.*?)\$\$", src, re.S)
    roles = {}
    for role, arr in re.findall(r"WHEN\s+'(\w+)'\s+THEN\s+ARRAY\[(.*?)\]", m.group(1), re.S):
        roles[role] = re.findall(r"'([\w.]+)'", arr)
    return perms, roles


def parse_error_codes(repo):
    src = open(os.path.join(repo, "proto/proto.c"), encoding="utf-8").read()
    return {c: int(s) for c, s in re.findall(r"\[PROTO_\w+\]\s*=\s*\{\s*\"(\w+)\"\s*,.*?,\s*(\d{3})\s*\}", src, re.S)
            if c != "ok"}


# --- the document -------------------------------------------------------------


def resolve(doc, node, seen=()):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            raise ValueError(f"unresolvable $ref {ref}")
        seen = seen + (ref,)
        cur = doc
        for part in ref[2:].split("/"):
            cur = cur[part.replace("~1", "/").replace("~0", "~")]
        node = cur
    return node


def deref_all(doc, node, depth=0):
    if depth > 50:
        raise ValueError("$ref nesting too deep")
    node = resolve(doc, node)
    if isinstance(node, dict):
        return {k: deref_all(doc, v, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [deref_all(doc, v, depth + 1) for v in node]
    return node


CORE = ("type", "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems",
        "maxProperties", "format", "pattern")


def core(s):
    """The validating keywords that must agree with proto (descriptions,
    examples and the like are free)."""
    if not isinstance(s, dict):
        return s
    out = {k: s[k] for k in CORE if k in s}
    if "enum" in s:
        out["enum"] = sorted(s["enum"], key=str)
    if "required" in s:
        out["required"] = sorted(s["required"])
    if "properties" in s:
        out["properties"] = {k: core(v) for k, v in s["properties"].items()}
    if "items" in s:
        out["items"] = core(s["items"])
    if "additionalProperties" in s:
        out["additionalProperties"] = core(s["additionalProperties"])
    if "propertyNames" in s:
        out["propertyNames"] = core(s["propertyNames"])
    return out


def diff(a, b, path=""):
    """Differences between two core schemas, as readable lines."""
    out = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            p = f"{path}.{k}" if path else k
            if k not in a:
                out.append(f"{p}: only in the document: {json.dumps(b[k])[:120]}")
            elif k not in b:
                out.append(f"{p}: missing in the document (proto: {json.dumps(a[k])[:120]})")
            else:
                out += diff(a[k], b[k], p)
    elif a != b:
        out.append(f"{path}: proto {json.dumps(a)[:120]}, document {json.dumps(b)[:120]}")
    return out


# A small JSON Schema validator: the keywords the document uses.
def validate(s, v, path="$"):
    errs = []
    t = s.get("type")
    types = t if isinstance(t, list) else [t] if t else None
    def is_type(x, ty):
        return {"object": isinstance(x, dict), "array": isinstance(x, list),
                "string": isinstance(x, str), "boolean": isinstance(x, bool),
                "integer": isinstance(x, int) and not isinstance(x, bool),
                "number": isinstance(x, (int, float)) and not isinstance(x, bool),
                "null": x is None}[ty]
    if types and not any(is_type(v, ty) for ty in types):
        return [f"{path}: not of type {t}"]
    if "enum" in s and v not in s["enum"]:
        errs.append(f"{path}: not one of {s['enum']}")
    if "const" in s and v != s["const"]:
        errs.append(f"{path}: not {s['const']!r}")
    if isinstance(v, str):
        if len(v) < s.get("minLength", 0) or len(v) > s.get("maxLength", 1 << 62):
            errs.append(f"{path}: length {len(v)} out of range")
        if "pattern" in s and not re.search(s["pattern"], v):
            errs.append(f"{path}: does not match {s['pattern']}")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if v < s.get("minimum", -(1 << 64)) or v > s.get("maximum", 1 << 64):
            errs.append(f"{path}: {v} out of range")
    if isinstance(v, list):
        if len(v) < s.get("minItems", 0) or len(v) > s.get("maxItems", 1 << 62):
            errs.append(f"{path}: {len(v)} items, out of range")
        if "items" in s:
            for i, x in enumerate(v):
                errs += validate(s["items"], x, f"{path}[{i}]")
    if isinstance(v, dict):
        props = s.get("properties", {})
        for r in s.get("required", []):
            if r not in v:
                errs.append(f"{path}.{r}: required")
        if len(v) < s.get("minProperties", 0) or len(v) > s.get("maxProperties", 1 << 62):
            errs.append(f"{path}: {len(v)} members, out of range")
        for k, x in v.items():
            if "propertyNames" in s:
                errs += validate(s["propertyNames"], k, f"{path}.{k} (name)")
            if k in props:
                errs += validate(props[k], x, f"{path}.{k}")
            elif s.get("additionalProperties") is False:
                errs.append(f"{path}.{k}: not allowed")
            elif isinstance(s.get("additionalProperties"), dict):
                errs += validate(s["additionalProperties"], x, f"{path}.{k}")
    for sub in s.get("allOf", []):
        errs += validate(sub, v, path)
    if "oneOf" in s:
        n = sum(1 for sub in s["oneOf"] if not validate(sub, v, path))
        if n != 1:
            errs.append(f"{path}: matches {n} of oneOf, want 1")
    if "anyOf" in s and not any(not validate(sub, v, path) for sub in s["anyOf"]):
        errs.append(f"{path}: matches none of anyOf")
    if "not" in s and not validate(s["not"], v, path):
        errs.append(f"{path}: matches not")
    return errs


METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")


def operations(doc):
    for p, item in doc.get("paths", {}).items():
        for m, op in item.items():
            if m in METHODS:
                yield m.upper(), p, op, item


def params_of(doc, item, op):
    out = {}
    for prm in item.get("parameters", []) + op.get("parameters", []):
        prm = resolve(doc, prm)
        out[(prm.get("in"), prm.get("name", "").lower() if prm.get("in") == "header" else prm.get("name"))] = prm
    return out


def body_example(doc, op):
    rb = resolve(doc, op.get("requestBody", {}))
    media = rb.get("content", {}).get("application/json", {})
    if "example" in media:
        return media["example"], media, rb
    for ex in media.get("examples", {}).values():
        ex = resolve(doc, ex)
        if "value" in ex:
            return ex["value"], media, rb
    return None, media, rb


def static(doc_path, routes_path, repo):
    doc = json.load(open(doc_path, encoding="utf-8"))
    routes = json.load(open(routes_path, encoding="utf-8"))
    check("document is OpenAPI 3.1", str(doc.get("openapi", "")).startswith("3.1."), f"openapi: {doc.get('openapi')}")
    schemes = doc.get("components", {}).get("securitySchemes", {})
    mtls = [n for n, s in schemes.items() if s.get("type") == "mutualTLS"]
    check("a mutualTLS security scheme is defined", bool(mtls), json.dumps(schemes)[:300])
    check("mutualTLS is required for every operation by default",
          any(set(req) & set(mtls) for req in doc.get("security", [])), json.dumps(doc.get("security")))

    want = {(r["method"], r["path"]): r for r in routes}
    have = {(m, p): (op, item) for m, p, op, item in operations(doc)}
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    check(f"every route of cdrpd --routes is documented ({len(want)} routes)", not missing,
          *[f"missing: {m} {p}" for m, p in missing])
    check("the document has no operation cdrpd does not route", not extra,
          *[f"not routed: {m} {p}" for m, p in extra])

    cs = CSchemas(repo)
    croutes = parse_routes_c(repo)
    perms, roles = parse_permissions(repo)
    codes = parse_error_codes(repo)
    check("the C route table was read", len(croutes) >= len(routes) * 0.9,
          f"read {len(croutes)} routes from daemon/api.c, cdrpd has {len(routes)}")

    # The problem codes the document lists are proto's.
    pschema = deref_all(doc, doc.get("components", {}).get("schemas", {}).get("Problem", {}))
    doc_codes = set(pschema.get("properties", {}).get("code", {}).get("enum", []))
    check("Problem.code lists exactly proto's error codes", doc_codes == set(codes),
          f"missing: {sorted(set(codes) - doc_codes)}", f"unknown: {sorted(doc_codes - set(codes))}")

    op_ids = [op.get("operationId") for _, _, op, _ in operations(doc)]
    check("operationIds are unique", len(op_ids) == len(set(op_ids)),
          f"duplicates: {sorted({x for x in op_ids if op_ids.count(x) > 1}, key=str)}")

    for key in sorted(set(want) & set(have)):
        r = want[key]
        op, item = have[key]
        fn = r["operation"]
        name = f"{key[0]} {key[1]}"
        why = []
        if op.get("operationId") != fn:
            why.append(f"operationId {op.get('operationId')!r}, want {fn!r}")
        prm = params_of(doc, item, op)
        # path parameters
        for pn in re.findall(r"\{(\w+)\}", key[1]):
            p = prm.get(("path", pn))
            if not p or not p.get("required"):
                why.append(f"path parameter {pn} missing or not required")
        # permission
        perm = perms.get(fn)
        if op.get("x-cdrp-permission") != perm:
            why.append(f"x-cdrp-permission {op.get('x-cdrp-permission')!r}, want {perm!r} (sql/code/002_api.sql)")
        # headers
        idem = prm.get(("header", "idempotency-key"))
        if r["idempotency_key"] == "required" and not (idem and idem.get("required")):
            why.append("Idempotency-Key must be a required header parameter")
        if r["idempotency_key"] == "optional" and not (idem and not idem.get("required")):
            why.append("Idempotency-Key must be an optional header parameter")
        if r["idempotency_key"] == "ignored" and idem:
            why.append("Idempotency-Key is ignored on this route but documented")
        im = prm.get(("header", "if-match"))
        if r["if_match"] and not (im and im.get("required")):
            why.append("If-Match must be a required header parameter")
        if not r["if_match"] and im:
            why.append("If-Match documented on a route that does not use it")
        for h in ("x-cdrp-partnership", "x-cdrp-justification"):
            if ("header", h) not in prm:
                why.append(f"header {h} not documented")
        # responses
        resp = op.get("responses", {})
        ok2 = [c for c in resp if str(c).startswith("2")]
        if not ok2:
            why.append("no 2xx response")
        for c in ok2:
            rc = resolve(doc, resp[c])
            media = rc.get("content", {}).get("application/json", {})
            if not (media.get("schema") and ("example" in media or media.get("examples"))):
                why.append(f"response {c} lacks a schema and an example")
        need = {"400", "403", "404", "500", "503"}
        if r["body"]:
            need |= {"413", "415"}
        if r["method"] != "GET":
            need |= {"409"}
        if r["if_match"]:
            need |= {"412", "428"}
        for c in sorted(need - set(map(str, resp))):
            why.append(f"no {c} response")
        for c in resp:
            if str(c)[0] in "45":
                rc = resolve(doc, resp[c])
                media = rc.get("content", {}).get("application/problem+json")
                if not media or resolve(doc, media.get("schema", {})).get("properties", {}).get("code") is None:
                    why.append(f"response {c} is not application/problem+json with a code")
        # request body
        rk, pb, pq = croutes.get(fn, (None, None, None))
        if rk is None:
            why.append(f"operation {fn} not found in daemon/api.c's route table")
        if r["body"]:
            ex, media, rb = body_example(doc, op)
            if not rb.get("required"):
                why.append("requestBody not marked required")
            if ex is None:
                why.append("requestBody has no example")
            schema = deref_all(doc, media.get("schema", {}))
            if rk is not None:
                try:
                    exp = expected_body(cs, rk, pb)
                    d = diff(core(exp), core(schema))
                    if d:
                        why.append(f"request schema differs from proto ({pb if pb != 'PB_NONE' else 'referral'}):")
                        why += ["  " + x for x in d[:15]]
                except (ValueError, KeyError) as e:
                    why.append(f"cannot read proto's schema: {e}")
            if ex is not None:
                errs = validate(schema, ex)
                if errs:
                    why.append("the example does not validate against its schema:")
                    why += ["  " + x for x in errs[:10]]
        elif "requestBody" in op:
            why.append("requestBody documented on a route without a body")
        # query
        qdoc = {n: p for (i, n), p in prm.items() if i == "query"}
        if rk is not None:
            try:
                qexp = expected_query(cs, rk, pq)
                if set(qdoc) != set(qexp):
                    why.append(f"query parameters {sorted(qdoc)}, proto has {sorted(qexp)}")
                for n in set(qdoc) & set(qexp):
                    req, exp = qexp[n]
                    if bool(qdoc[n].get("required")) != req:
                        why.append(f"query parameter {n}: required should be {req}")
                    d = diff(core(exp), core(deref_all(doc, qdoc[n].get("schema", {}))))
                    why += [f"query parameter {n}: {x}" for x in d]
                    if "example" not in qdoc[n] and not qdoc[n].get("examples"):
                        why.append(f"query parameter {n} has no example")
            except (ValueError, KeyError) as e:
                why.append(f"cannot read proto's query schema: {e}")
        for qs in op.get("x-cdrp-query-examples", []):
            for k in set(qs) - set(qdoc):
                why.append(f"x-cdrp-query-examples names {k}, not a query parameter")
        if not op.get("summary") or not op.get("description"):
            why.append("summary or description missing")
        if why:
            not_ok(f"{name} ({fn})", *why)
        else:
            ok(f"{name} ({fn})")
    return FAILS == 0


FAKE_ID = "999999999"
# Certificates of the devstack and their roles (deploy/devstack CLIENTS).
CERTS = [("council-admin", ["admin"]), ("police-referrer", ["referrer"]),
         ("council-caseworker", ["caseworker"]), ("council-chair", ["chair"]),
         ("police-ppo", ["ppo_coordinator", "referrer"]), ("county-analyst", ["analyst"])]


def live_plan(doc_path, routes_path, repo, outdir):
    doc = json.load(open(doc_path, encoding="utf-8"))
    routes = json.load(open(routes_path, encoding="utf-8"))
    perms, roles = parse_permissions(repo)
    have = {(m, p): (op, item) for m, p, op, item in operations(doc)}
    n = 0

    def allowed(cert_roles, perm):
        return perm == "identity" or any(perm in roles.get(r, []) for r in cert_roles)

    for r in routes:
        key = (r["method"], r["path"])
        if key not in have:
            continue
        op, item = have[key]
        perm = perms.get(r["operation"], "?")
        path = r["path"].replace("{id}", FAKE_ID)
        if r["body"]:
            ex, _, _ = body_example(doc, op)
            if ex is None:
                continue
            if "{id}" in r["path"]:
                cert = next((c for c, rs in CERTS if allowed(rs, perm)), None)
                expect = "not400"
            else:
                cert = next((c for c, rs in CERTS if not allowed(rs, perm)), None)
                expect = "403"
            if cert is None:
                continue
            n += 1
            with open(os.path.join(outdir, f"{n}.json"), "w", encoding="utf-8") as f:
                json.dump(ex, f)
            print("\t".join([str(n), r["method"], path, cert, expect, str(int(r["if_match"])),
                             str(int(r["idempotency_key"] == "required")), r["operation"]]))
        elif r["method"] == "GET" and r["query"]:
            # Each documented query parameter's example, with the required
            # ones; parameters that only go together (x-cdrp-query-examples,
            # e.g. from and to) as those sets.
            prm = params_of(doc, item, op)
            q = {nm: p for (i, nm), p in prm.items() if i == "query"}
            req = {nm: p["example"] for nm, p in q.items() if p.get("required") and "example" in p}
            cert = next((c for c, rs in CERTS if allowed(rs, perm)), "council-admin")
            sets = [dict(req, **s) for s in op.get("x-cdrp-query-examples", [])]
            grouped = {k for s in sets for k in s}
            sets += [dict(req, **{nm: p["example"]}) for nm, p in sorted(q.items())
                     if "example" in p and nm not in grouped]
            for qs in sets:
                enc = "&".join(f"{k}={urllib.parse.quote(str(v).lower() if isinstance(v, bool) else str(v), safe='')}"
                               for k, v in qs.items())
                print("\t".join(["-", "GET", f"{path}?{enc}", cert, "not400", "0", "0", r["operation"]]))
        elif r["method"] != "GET":
            # A write without a body (meeting close): only the route itself.
            print("\t".join(["-", r["method"], path, next((c for c, rs in CERTS if allowed(rs, perm)), "council-admin"),
                             "not400", str(int(r["if_match"])), "0", r["operation"]]))
    return True


def main(argv):
    if len(argv) >= 5 and argv[1] == "static":
        try:
            static(argv[2], argv[3], argv[4])
        except (ValueError, KeyError, OSError, json.JSONDecodeError) as e:
            not_ok("openapi_check static", f"{type(e).__name__}: {e}")
        return 1 if FAILS else 0
    if len(argv) >= 6 and argv[1] == "live-plan":
        live_plan(argv[2], argv[3], argv[4], argv[5])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
