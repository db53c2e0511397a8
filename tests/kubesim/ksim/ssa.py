"""Server-side apply: field sets, merging, ownership; also merge/JSON patches.

A field set is a Python set of paths; a path is a tuple of fieldsV1 elements
('f:spec', 'f:containers', 'k:{"name":"app"}', 'f:image').  A path in the set
is owned; list items and granular maps (labels, data, nodeSelector, ...) are
owned themselves as well as through their children, which fieldsV1 writes as
'.': {}.  List semantics follow the built-in schemas for the kinds secfaas
uses (containers/env/volumes by name, container ports by containerPort +
protocol, Service ports by port + protocol, finalizers as a set, everything
else atomic); custom resources get atomic lists, as CRDs do by default.
"""
import json

from .util import deep

ASSOC = {
    "containers": ("name",), "initContainers": ("name",), "ephemeralContainers": ("name",),
    "env": ("name",), "volumes": ("name",), "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",), "imagePullSecrets": ("name",),
    "conditions": ("type",), "hostAliases": ("ip",), "resourceClaims": ("name",),
    "ownerReferences": ("uid",), "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
    "webhooks": ("name",),  # Mutating/ValidatingWebhookConfiguration: listType=map, key name
}
SETS = {"finalizers"}
GRANULAR = {"labels", "annotations", "data", "stringData", "binaryData", "nodeSelector",
            "limits", "requests", "podFixed", "capacity", "allocatable", "matchLabels"}
KEY_DEFAULTS = {"protocol": "TCP"}
META_KEEP = ("labels", "annotations", "finalizers", "ownerReferences")


def list_type(names, builtin):
    """('map', keys) | ('set',) | ('atomic',) for the list at field path names."""
    field = names[-1] if names else ""
    if names[:1] == ("metadata",):
        builtin = True
    if not builtin:
        return ("atomic",)
    if field in SETS:
        return ("set",)
    if field == "ports":
        if any(n in ("containers", "initContainers", "ephemeralContainers") for n in names):
            return ("map", ("containerPort", "protocol"))
        return ("map", ("port", "protocol"))
    if field in ASSOC:
        return ("map", ASSOC[field])
    return ("atomic",)


def is_atomic_map(value, names):
    # metav1.LabelSelector is x-kubernetes-map-type: atomic.
    return isinstance(value, dict) and ("matchLabels" in value or "matchExpressions" in value) \
        and names and names[-1] in ("selector", "namespaceSelector", "objectSelector", "labelSelector")


def item_key(item, keys):
    if not isinstance(item, dict):
        return None
    k = {}
    for name in keys:
        v = item.get(name, KEY_DEFAULTS.get(name))
        if v is not None:
            k[name] = v
    return "k:" + json.dumps(k, sort_keys=True, separators=(",", ":"))


def strip_for_fields(obj, subresource=None):
    """The part of obj that field ownership covers."""
    if subresource == "status":
        return {"status": deep(obj.get("status"))} if "status" in obj else {}
    out = {}
    for k, v in obj.items():
        if k in ("apiVersion", "kind", "status"):
            continue
        if k == "metadata":
            md = {m: deep(v[m]) for m in META_KEEP if isinstance(v, dict) and m in v}
            if md:
                out["metadata"] = md
            continue
        out[k] = deep(v)
    return out


def fieldset(obj, builtin):
    out = set()
    _walk(obj, (), (), out, builtin)
    return out


def _walk(v, path, names, out, builtin):
    if isinstance(v, dict):
        if is_atomic_map(v, names):
            out.add(path)
            return
        if path and (names[-1] in GRANULAR or not v):
            out.add(path)
        for k, sub in v.items():
            if sub is None:
                continue
            _walk(sub, path + ("f:" + k,), names + (k,), out, builtin)
    elif isinstance(v, list):
        lt = list_type(names, builtin)
        if lt[0] == "atomic":
            out.add(path)
        elif lt[0] == "set":
            for item in v:
                out.add(path + ("v:" + json.dumps(item, sort_keys=True, separators=(",", ":")),))
            if not v:
                out.add(path)
        else:
            for item in v:
                k = item_key(item, lt[1])
                if k is None:
                    out.add(path)
                    continue
                out.add(path + (k,))
                for fk, fv in item.items():
                    if fv is None:
                        continue
                    _walk(fv, path + (k, "f:" + fk), names + (fk,), out, builtin)
            if not v:
                out.add(path)
    else:
        out.add(path)


def to_fields_v1(paths):
    root = {}
    for p in sorted(paths):
        d = root
        for el in p:
            d = d.setdefault(el, {})
    for p in paths:
        d = root
        for el in p:
            d = d[el]
        if d and "." not in d:
            d["."] = {}
    return _sorted(root)


def _sorted(d):
    return {k: _sorted(d[k]) for k in sorted(d, key=lambda x: (x != ".", x))}


def from_fields_v1(d, prefix=()):
    out = set()
    for k, sub in (d or {}).items():
        if k == ".":
            out.add(prefix)
            continue
        p = prefix + (k,)
        if not sub:
            out.add(p)
        else:
            out |= from_fields_v1(sub, p)
    return out


def _find_item(lst, el):
    if el.startswith("k:"):
        want = json.loads(el[2:])
        for i, item in enumerate(lst):
            if isinstance(item, dict) and all(item.get(k, KEY_DEFAULTS.get(k)) == v for k, v in want.items()):
                return i
    elif el.startswith("v:"):
        want = json.loads(el[2:])
        for i, item in enumerate(lst):
            if item == want:
                return i
    return None


def get_at(obj, path):
    """(found, value) of path in obj."""
    cur = obj
    for el in path:
        if el.startswith("f:"):
            if not isinstance(cur, dict) or el[2:] not in cur:
                return False, None
            cur = cur[el[2:]]
        else:
            if not isinstance(cur, list):
                return False, None
            i = _find_item(cur, el)
            if i is None:
                return False, None
            cur = cur[i]
    return True, cur


def remove_at(obj, path):
    if not path:
        return
    parent_found, parent = get_at(obj, path[:-1])
    if not parent_found:
        return
    el = path[-1]
    if el.startswith("f:"):
        if isinstance(parent, dict):
            parent.pop(el[2:], None)
    elif isinstance(parent, list):
        i = _find_item(parent, el)
        if i is not None:
            del parent[i]


def drop_nulls(v):
    if isinstance(v, dict):
        return {k: drop_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [drop_nulls(x) for x in v]
    return v


def merge(live, applied, names, builtin):
    """Merge an applied configuration into live (both plain JSON)."""
    if isinstance(live, dict) and isinstance(applied, dict) and not is_atomic_map(applied, names):
        out = deep(live)
        for k, v in applied.items():
            out[k] = merge(live[k], v, names + (k,), builtin) if k in live else deep(v)
        return out
    if isinstance(live, list) and isinstance(applied, list):
        lt = list_type(names, builtin)
        if lt[0] == "set":
            out = deep(live)
            for item in applied:
                if item not in out:
                    out.append(deep(item))
            return out
        if lt[0] == "map":
            out = deep(live)
            for item in applied:
                k = item_key(item, lt[1])
                i = _find_item(out, k) if k else None
                if i is None:
                    out.append(deep(item))
                else:
                    out[i] = merge(out[i], item, names, builtin)
            return out
    return deep(applied)


def fmt_path(path):
    s = ""
    for el in path:
        if el.startswith("f:"):
            s += "." + el[2:]
        elif el.startswith("k:"):
            s += "[" + ",".join("%s=%s" % (k, json.dumps(v)) for k, v in json.loads(el[2:]).items()) + "]"
        else:
            s += "[" + el[2:] + "]"
    return s


def leaves(paths):
    parents = set()
    for p in paths:
        for i in range(len(p)):
            parents.add(p[:i])
    return {p for p in paths if p not in parents}


# ---- managedFields bookkeeping ------------------------------------------

def read_managed(obj):
    """[{manager, operation, apiVersion, time, subresource, set}] from metadata."""
    out = []
    for e in (obj.get("metadata") or {}).get("managedFields") or []:
        out.append({"manager": e.get("manager", ""), "operation": e.get("operation", "Update"),
                    "apiVersion": e.get("apiVersion", ""), "time": e.get("time"),
                    "subresource": e.get("subresource", ""),
                    "set": from_fields_v1(e.get("fieldsV1") or {})})
    return out


def write_managed(obj, entries):
    mf = []
    for e in entries:
        if not e["set"]:
            continue
        d = {"manager": e["manager"], "operation": e["operation"], "apiVersion": e["apiVersion"],
             "time": e["time"], "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(e["set"])}
        if e.get("subresource"):
            d["subresource"] = e["subresource"]
        mf.append(d)
    md = obj.setdefault("metadata", {})
    if mf:
        md["managedFields"] = mf
    else:
        md.pop("managedFields", None)


def _entry(entries, manager, op, api_version, t, sub=""):
    for e in entries:
        if e["manager"] == manager and e["operation"] == op and e.get("subresource", "") == sub:
            return e
    e = {"manager": manager, "operation": op, "apiVersion": api_version, "time": t,
         "subresource": sub, "set": set()}
    entries.append(e)
    return e


class Conflict(Exception):
    def __init__(self, conflicts):
        super().__init__("conflict")
        self.conflicts = conflicts  # [(manager, apiVersion, path)]


def apply(live, applied, manager, force, api_version, t, builtin):
    """Server-side apply of applied onto live (None = create).
    Returns (new_object, managed_entries). Raises Conflict."""
    applied = drop_nulls(applied)
    entries = read_managed(live) if live else []
    mine_new = fieldset(strip_for_fields(applied), builtin)
    me = None
    for e in entries:
        if e["manager"] == manager and e["operation"] == "Apply" and not e["subresource"]:
            me = e
    others = [e for e in entries if e is not me and not e["subresource"]]
    base = deep(live) if live else {}
    conflicts = []
    if live:
        for p in sorted(leaves(mine_new)):
            _, av = get_at(applied, p)
            lf, lv = get_at(live, p)
            if lf and lv == av:
                continue
            for e in others:
                if p in e["set"]:
                    conflicts.append((e, p))
    if conflicts and not force:
        raise Conflict([(e["manager"], e["apiVersion"], p) for e, p in conflicts])
    for e, p in conflicts:
        e["set"].discard(p)
    # Fields this manager applied before and now omits go away unless someone
    # else still owns them (or something beneath them).
    prev = me["set"] if me else set()
    still = set(mine_new)
    for e in others:
        still |= e["set"]
    gone = {p for p in prev - mine_new if p not in still and not any(q[:len(p)] == p for q in still)}
    # Remove outermost paths only: removing a list item's key field first
    # would make the item itself impossible to find.
    for p in sorted(gone, key=len):
        if not any(p[:i] in gone for i in range(len(p))):
            remove_at(base, p)
    merged = merge(base, strip_for_fields(applied), (), builtin)
    for k in ("apiVersion", "kind"):
        if k in applied:
            merged[k] = applied[k]
    md = merged.setdefault("metadata", {})
    for k in ("name", "namespace"):
        if k in (applied.get("metadata") or {}):
            md[k] = applied["metadata"][k]
    if me is None:
        me = _entry(entries, manager, "Apply", api_version, t)
    me["set"] = mine_new
    me["apiVersion"] = api_version
    me["time"] = t
    return merged, entries


def record_update(old, new, entries, manager, api_version, t, builtin, sub=""):
    """Ownership for a non-apply write (create, PUT, patch) by manager."""
    fo = fieldset(strip_for_fields(old, sub or None), builtin) if old else set()
    fn = fieldset(strip_for_fields(new, sub or None), builtin)
    changed = set()
    for p in fn:
        f1, v1 = get_at(old or {}, p)
        _, v2 = get_at(new, p)
        if not f1 or (p in leaves(fn) and v1 != v2):
            changed.add(p)
    removed = fo - fn
    if not changed and not removed:
        return entries
    me = _entry(entries, manager, "Update", api_version, t, sub)
    for e in entries:
        if e is me:
            continue
        e["set"] -= changed | removed
    me["set"] = (me["set"] | changed) - removed
    me["time"] = t
    return entries


def conflict_message(conflicts):
    n = len(conflicts)
    if n == 1:
        m, av, p = conflicts[0]
        return 'Apply failed with 1 conflict: conflict with "%s" using %s: %s' % (m, av, fmt_path(p))
    lines = ["Apply failed with %d conflicts:" % n]
    for m, av, p in conflicts:
        lines.append('conflict with "%s" using %s: %s' % (m, av, fmt_path(p)))
    return "\n".join(lines)


# ---- other patch types ----------------------------------------------------

def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return deep(patch)
    out = deep(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def strategic_merge_patch(target, patch, names=()):
    """An approximation of strategic merge patch for built-in kinds: maps as
    merge patch, lists with a known merge key merged by key, others replaced."""
    if not isinstance(patch, dict) or not isinstance(target, dict):
        return drop_nulls(deep(patch))
    out = deep(target)
    for k, v in patch.items():
        if k.startswith("$"):
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            out[k] = strategic_merge_patch(out.get(k), v, names + (k,))
        elif isinstance(v, list) and isinstance(out.get(k), list) and list_type(names + (k,), True)[0] == "map":
            keys = list_type(names + (k,), True)[1]
            cur = out[k]
            for item in v:
                if isinstance(item, dict) and item.get("$patch") == "delete":
                    i = _find_item(cur, item_key(item, keys))
                    if i is not None:
                        del cur[i]
                    continue
                i = _find_item(cur, item_key(item, keys))
                if i is None:
                    cur.append(drop_nulls(deep(item)))
                else:
                    cur[i] = strategic_merge_patch(cur[i], item, names + (k,))
        else:
            out[k] = drop_nulls(deep(v))
    return out


class PatchError(Exception):
    pass


def _ptr(path):
    """RFC 6901: a JSON pointer as its unescaped reference tokens."""
    if not isinstance(path, str):
        raise PatchError("JSON pointer must be a string, got %r" % (path,))
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError('invalid JSON pointer "%s": must start with "/"' % path)
    # ~1 first, then ~0, so that "~01" decodes to "~1" (RFC 6901 section 4)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(tok, size, allow_end):
    """An array index token: '-' (append, only where allow_end) or a
    non-negative decimal without leading zeros, within bounds."""
    if tok == "-" and allow_end:
        return size
    if not tok.isdigit() or (len(tok) > 1 and tok[0] == "0"):
        raise PatchError("invalid array index %r" % tok)
    i = int(tok)
    if i > size or (i == size and not allow_end):
        raise PatchError("array index %d out of bounds (length %d)" % (i, size))
    return i


def json_equal(a, b):
    """JSON value equality: numbers compare by value, booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def json_patch(doc, ops):
    """RFC 6902 JSON patch: add, remove, replace, move, copy, test.  Array
    indexes must be in range ('-' appends for add/move/copy targets);
    ~0 and ~1 escapes are decoded; any failure raises PatchError and leaves
    the input untouched (a copy is patched)."""
    doc = deep(doc)
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations")

    def show(parts):
        return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts) if parts else ""

    def container(parts, what):
        cur = doc
        for i, p in enumerate(parts[:-1]):
            if isinstance(cur, list):
                try:
                    cur = cur[_index(p, len(cur), False)]
                except PatchError:
                    raise PatchError("%s operation does not apply: doc is missing path: %s"
                                     % (what, show(parts)))
            elif isinstance(cur, dict) and p in cur:
                cur = cur[p]
            else:
                raise PatchError("%s operation does not apply: doc is missing path: %s" % (what, show(parts)))
        if not isinstance(cur, (list, dict)):
            raise PatchError("%s operation does not apply: doc is missing path: %s" % (what, show(parts)))
        return cur

    def get(parts, what):
        if not parts:
            return doc
        par = container(parts, what)
        last = parts[-1]
        if isinstance(par, list):
            try:
                return par[_index(last, len(par), False)]
            except PatchError:
                raise PatchError("%s operation does not apply: doc is missing path: %s" % (what, show(parts)))
        if last not in par:
            raise PatchError("%s operation does not apply: doc is missing key: %s" % (what, show(parts)))
        return par[last]

    def add(parts, val, what="add"):
        nonlocal doc
        if not parts:
            doc = val
            return
        par = container(parts, what)
        last = parts[-1]
        if isinstance(par, list):
            par.insert(_index(last, len(par), True), val)
        else:
            par[last] = val

    def remove(parts, what="remove"):
        nonlocal doc
        if not parts:
            raise PatchError("%s operation does not apply: cannot remove the whole document" % what)
        par = container(parts, what)
        last = parts[-1]
        if isinstance(par, list):
            try:
                return par.pop(_index(last, len(par), False))
            except PatchError:
                raise PatchError("%s operation does not apply: doc is missing path: %s" % (what, show(parts)))
        if last not in par:
            raise PatchError("Unable to remove nonexistent key: %s: missing value" % last)
        return par.pop(last)

    for n, op in enumerate(ops):
        if not isinstance(op, dict):
            raise PatchError("patch operation %d is not an object" % n)
        kind = op.get("op")
        if "path" not in op:
            raise PatchError("%s operation missing path" % kind)
        parts = _ptr(op["path"])
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError("%s operation missing value" % kind)
        if kind == "add":
            add(parts, deep(op["value"]))
        elif kind == "remove":
            remove(parts)
        elif kind == "replace":
            get(parts, "replace")
            if not parts:
                doc = deep(op["value"])
            else:
                par = container(parts, "replace")
                if isinstance(par, list):
                    par[_index(parts[-1], len(par), False)] = deep(op["value"])
                else:
                    par[parts[-1]] = deep(op["value"])
        elif kind == "test":
            if not json_equal(get(parts, "test"), op["value"]):
                raise PatchError("testing value %s failed: test failed" % op["path"])
        elif kind in ("move", "copy"):
            if "from" not in op:
                raise PatchError("%s operation missing from" % kind)
            src = _ptr(op["from"])
            if kind == "move":
                if parts[:len(src)] == src and len(parts) > len(src):
                    raise PatchError("move operation does not apply: a value cannot be moved into one of its children")
                if parts == src:
                    get(src, "move")
                    continue
                val = remove(src, "move")
            else:
                val = deep(get(src, "copy"))
            add(parts, val, kind)
        else:
            raise PatchError("Unexpected kind: %s" % (kind,))
    return doc
