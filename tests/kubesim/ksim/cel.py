"""A small CEL subset, enough for the admission policies secfaas installs.

Supported (anything else is a compile error, so a policy using it fails and,
with failurePolicy Fail, the request is refused rather than let through):
  literals      int, double, 'str' "str", true false null, [list], {map}
  access        a.b  a[i]  a['k']  has(a.b)
  operators     ! - * / % + - < <= > >= == != in && || ?:
  functions     size(x) x.size() x.startsWith(s) x.endsWith(s) x.contains(s)
                x.matches(re) x.lowerAscii() x.upperAscii() string(x) int(x)
                double(x) dyn(x)
  macros        l.all(v, p) l.exists(v, p) l.exists_one(v, p) l.map(v, e)
                l.filter(v, p)    (maps iterate over their keys)
  construction  Object{spec: Object.spec{runtimeClassName: 'gvisor'}}
                JSONPatch{op: 'add', path: '/spec/x', value: 1}
Semantics follow CEL: selecting a missing key is an error, && and || absorb
errors when the other side decides the result, and comparisons are typed.
"""
import re


class CelError(Exception):
    pass


_TOKEN = re.compile(r"""
 (?P<ws>\s+)
|(?P<num>\d+\.\d+([eE][+-]?\d+)?|\d+[uU]?)
|(?P<str>[rR]?'(?:[^'\\]|\\.)*'|[rR]?"(?:[^"\\]|\\.)*")
|(?P<id>[A-Za-z_][A-Za-z0-9_]*)
|(?P<op>&&|\|\||==|!=|<=|>=|[-+*/%!<>?:.,\[\](){}])
""", re.X)


def _tokens(src):
    pos, out = 0, []
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m:
            raise CelError("unsupported CEL syntax at offset %d: %r" % (pos, src[pos:pos + 10]))
        pos = m.end()
        kind = m.lastgroup
        if kind == "ws":
            continue
        text = m.group(kind)
        if kind == "num":
            text = text.rstrip("uU")
            out.append(("lit", float(text) if "." in text else int(text)))
        elif kind == "str":
            raw = text[0] in "rR"
            body = text[2:-1] if raw else text[1:-1]
            if not raw:
                body = re.sub(r"\\(.)", lambda mm: {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}.get(mm.group(1), "\\" + mm.group(1)), body)
            out.append(("lit", body))
        elif kind == "id":
            if text in ("true", "false"):
                out.append(("lit", text == "true"))
            elif text == "null":
                out.append(("lit", None))
            elif text == "in":
                out.append(("op", "in"))
            else:
                out.append(("id", text))
        else:
            out.append(("op", text))
    out.append(("eof", None))
    return out


MACROS = ("all", "exists", "exists_one", "map", "filter")
METHODS = ("size", "startsWith", "endsWith", "contains", "matches", "lowerAscii", "upperAscii")
FUNCS = ("size", "string", "int", "double", "dyn")
BINPREC = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3, "in": 3,
           "+": 4, "-": 4, "*": 5, "/": 5, "%": 5}


class _Parser:
    def __init__(self, src):
        self.t = _tokens(src)
        self.i = 0

    def peek(self):
        return self.t[self.i]

    def take(self, kind=None, val=None):
        tok = self.t[self.i]
        if (kind and tok[0] != kind) or (val is not None and tok[1] != val):
            raise CelError("unexpected %r, expected %r" % (tok[1], val or kind))
        self.i += 1
        return tok

    def is_op(self, v):
        tok = self.peek()
        return tok[0] == "op" and tok[1] == v

    def parse(self):
        e = self.expr()
        if self.peek()[0] != "eof":
            raise CelError("unexpected %r after expression" % (self.peek()[1],))
        return e

    def expr(self):
        c = self.binary(1)
        if self.is_op("?"):
            self.take()
            a = self.expr()
            self.take("op", ":")
            b = self.expr()
            return ("cond", c, a, b)
        return c

    def binary(self, minprec):
        left = self.unary()
        while True:
            tok = self.peek()
            if tok[0] != "op" or tok[1] not in BINPREC or BINPREC[tok[1]] < minprec:
                return left
            op = tok[1]
            self.take()
            right = self.binary(BINPREC[op] + 1)
            left = (op, left, right) if op in ("&&", "||") else ("bin", op, left, right)

    def unary(self):
        if self.is_op("!"):
            self.take()
            return ("not", self.unary())
        if self.is_op("-"):
            self.take()
            return ("neg", self.unary())
        return self.postfix(self.primary())

    def args(self, close):
        out = []
        if not self.is_op(close):
            out.append(self.expr())
            while self.is_op(","):
                self.take()
                out.append(self.expr())
        self.take("op", close)
        return out

    def primary(self):
        tok = self.take()
        if tok[0] == "lit":
            return ("lit", tok[1])
        if tok[0] == "id":
            name = tok[1]
            if self.is_op("("):
                self.take()
                if name == "has":
                    arg = self.expr()
                    self.take("op", ")")
                    if arg[0] != "sel":
                        raise CelError("has() needs a field selection")
                    return ("has", arg)
                if name not in FUNCS:
                    raise CelError("unsupported CEL function %s()" % name)
                return ("call", name, None, self.args(")"))
            if name[0].isupper():
                qual = [name]
                while self.is_op(".") and self.t[self.i + 1][0] == "id":
                    self.take()
                    qual.append(self.take("id")[1])
                if self.is_op("{"):
                    self.take()
                    fields = []
                    while not self.is_op("}"):
                        fname = self.take("id")[1]
                        self.take("op", ":")
                        fields.append((fname, self.expr()))
                        if not self.is_op(","):
                            break
                        self.take()
                    self.take("op", "}")
                    return ("obj", ".".join(qual), fields)
                raise CelError("unsupported CEL identifier %s" % ".".join(qual))
            return ("id", name)
        if tok == ("op", "("):
            e = self.expr()
            self.take("op", ")")
            return e
        if tok == ("op", "["):
            return ("list", self.args("]"))
        if tok == ("op", "{"):
            items = []
            while not self.is_op("}"):
                k = self.expr()
                self.take("op", ":")
                items.append((k, self.expr()))
                if not self.is_op(","):
                    break
                self.take()
            self.take("op", "}")
            return ("map", items)
        raise CelError("unexpected %r" % (tok[1],))

    def postfix(self, e):
        while True:
            if self.is_op("."):
                self.take()
                name = self.take("id")[1]
                if self.is_op("("):
                    self.take()
                    if name in MACROS:
                        var = self.take("id")[1]
                        self.take("op", ",")
                        body = self.expr()
                        self.take("op", ")")
                        e = ("macro", name, e, var, body)
                    elif name in METHODS:
                        e = ("call", name, e, self.args(")"))
                    else:
                        raise CelError("unsupported CEL method .%s()" % name)
                else:
                    e = ("sel", e, name)
            elif self.is_op("["):
                self.take()
                idx = self.expr()
                self.take("op", "]")
                e = ("idx", e, idx)
            else:
                return e


def compile_expr(src):
    """Parse src; raises CelError for anything outside the subset."""
    if not isinstance(src, str) or not src.strip():
        raise CelError("empty expression")
    return _Parser(src).parse()


def _truth(v, what):
    if not isinstance(v, bool):
        raise CelError("no matching overload for %s on %s" % (what, type(v).__name__))
    return v


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def evaluate(ast, env):
    """Evaluate a compiled expression; env maps top-level names to values.
    env['@vars'] may hold a callable(name) resolving `variables.x`."""
    kind = ast[0]
    if kind == "lit":
        return ast[1]
    if kind == "id":
        if ast[1] not in env:
            raise CelError("undeclared reference to '%s'" % ast[1])
        return env[ast[1]]
    if kind == "sel":
        if ast[1] == ("id", "variables") and "@vars" in env:
            return env["@vars"](ast[2])
        base = evaluate(ast[1], env)
        if not isinstance(base, dict):
            raise CelError("no such key: %s (selecting from %s)" % (ast[2], type(base).__name__))
        if ast[2] not in base:
            raise CelError("no such key: %s" % ast[2])
        return base[ast[2]]
    if kind == "has":
        base = evaluate(ast[1][1], env)
        if not isinstance(base, dict):
            raise CelError("has() on a non-map")
        return ast[1][2] in base and base[ast[1][2]] is not None
    if kind == "idx":
        base = evaluate(ast[1], env)
        idx = evaluate(ast[2], env)
        if isinstance(base, list):
            if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < len(base):
                raise CelError("index out of range: %r" % (idx,))
            return base[idx]
        if isinstance(base, dict):
            if idx not in base:
                raise CelError("no such key: %r" % (idx,))
            return base[idx]
        raise CelError("cannot index %s" % type(base).__name__)
    if kind == "not":
        return not _truth(evaluate(ast[1], env), "!")
    if kind == "neg":
        v = evaluate(ast[1], env)
        if not _num(v):
            raise CelError("no matching overload for -")
        return -v
    if kind in ("&&", "||"):
        decide = kind == "||"  # the value that decides the result on either side
        err = None
        for side in (ast[1], ast[2]):
            try:
                v = _truth(evaluate(side, env), kind)
                if v == decide:
                    return decide
            except CelError as e:
                err = err or e
        if err:
            raise err
        return not decide
    if kind == "cond":
        return evaluate(ast[2] if _truth(evaluate(ast[1], env), "?:") else ast[3], env)
    if kind == "bin":
        return _binop(ast[1], evaluate(ast[2], env), evaluate(ast[3], env))
    if kind == "list":
        return [evaluate(x, env) for x in ast[1]]
    if kind == "map":
        return {evaluate(k, env): evaluate(v, env) for k, v in ast[1]}
    if kind == "obj":
        out = {}
        for fname, fexpr in ast[2]:
            out[fname] = evaluate(fexpr, env)
        return out
    if kind == "macro":
        return _macro(ast, env)
    if kind == "call":
        return _call(ast, env)
    raise CelError("unsupported node %s" % kind)


def _binop(op, a, b):
    if op == "==":
        return _eq(a, b)
    if op == "!=":
        return not _eq(a, b)
    if op == "in":
        if isinstance(b, list):
            return any(_eq(a, x) for x in b)
        if isinstance(b, dict):
            return a in b
        raise CelError("no matching overload for 'in' on %s" % type(b).__name__)
    if op in ("<", "<=", ">", ">="):
        if not ((_num(a) and _num(b)) or (isinstance(a, str) and isinstance(b, str))):
            raise CelError("no matching overload for %s" % op)
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    if op == "+":
        if (_num(a) and _num(b)) or (isinstance(a, str) and isinstance(b, str)) or \
                (isinstance(a, list) and isinstance(b, list)):
            return a + b
        raise CelError("no matching overload for +")
    if not (_num(a) and _num(b)):
        raise CelError("no matching overload for %s" % op)
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0 and op in ("/", "%"):
        raise CelError("division by zero")
    if op == "/":
        return a // b if isinstance(a, int) and isinstance(b, int) else a / b
    return a % b


def _eq(a, b):
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    if _num(a) and _num(b):
        return a == b
    if type(a) is not type(b) and not (a is None or b is None):
        return False
    return a == b


def _macro(ast, env):
    _, name, target, var, body = ast
    coll = evaluate(target, env)
    if isinstance(coll, dict):
        items = list(coll.keys())
    elif isinstance(coll, list):
        items = coll
    else:
        raise CelError("%s() needs a list or map" % name)

    def run(x):
        e2 = dict(env)
        e2[var] = x
        return evaluate(body, e2)

    if name == "map":
        return [run(x) for x in items]
    if name == "filter":
        return [x for x in items if _truth(run(x), "filter")]
    if name == "exists_one":
        return sum(1 for x in items if _truth(run(x), "exists_one")) == 1
    decide = name == "exists"
    err = None
    for x in items:
        try:
            if _truth(run(x), name) == decide:
                return decide
        except CelError as e:
            err = err or e
    if err:
        raise err
    return not decide


def _call(ast, env):
    _, name, target, argx = ast
    args = [evaluate(a, env) for a in argx]
    if target is not None:
        args.insert(0, evaluate(target, env))
    if name == "size":
        if len(args) != 1 or not isinstance(args[0], (str, list, dict)):
            raise CelError("no matching overload for size")
        return len(args[0])
    if name == "dyn":
        return args[0]
    if name == "string":
        v = args[0]
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float, str)):
            return str(v)
        raise CelError("no matching overload for string")
    if name == "int":
        try:
            return int(args[0])
        except (TypeError, ValueError):
            raise CelError("cannot convert to int")
    if name == "double":
        try:
            return float(args[0])
        except (TypeError, ValueError):
            raise CelError("cannot convert to double")
    s = args[0]
    if not isinstance(s, str):
        raise CelError("no matching overload for %s on %s" % (name, type(s).__name__))
    if name in ("lowerAscii", "upperAscii"):
        return s.lower() if name == "lowerAscii" else s.upper()
    if len(args) != 2 or not isinstance(args[1], str):
        raise CelError("no matching overload for %s" % name)
    if name == "startsWith":
        return s.startswith(args[1])
    if name == "endsWith":
        return s.endswith(args[1])
    if name == "contains":
        return args[1] in s
    if name == "matches":
        return re.search(args[1], s) is not None
    raise CelError("unsupported function %s" % name)
