"""Resource quantities (resource.Quantity) as the API server reads and prints them.

Owned by the kubesim suite (tests/kubesim).  LimitRange, ResourceQuota and the
messages they produce ("exceeded quota: q, requested: limits.cpu=500m, ...")
need exact arithmetic and the canonical printing of the real type: a value is
kept as a Fraction with the format it was written in (BinarySI for Ki/Mi/...,
DecimalSI for m/k/M/... and plain numbers, DecimalExponent for 1e3) and printed
in canonical form ("1500m", "128Mi", "2k", "1").
"""
import re
from fractions import Fraction

BIN = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
DEC = {"n": Fraction(1, 10 ** 9), "u": Fraction(1, 10 ** 6), "m": Fraction(1, 1000), "": Fraction(1),
       "k": Fraction(10 ** 3), "M": Fraction(10 ** 6), "G": Fraction(10 ** 9), "T": Fraction(10 ** 12),
       "P": Fraction(10 ** 15), "E": Fraction(10 ** 18)}
RE = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
                r"(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?[0-9]+))?$")
BAD = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


class QuantityError(ValueError):
    pass


class Q:
    """A quantity: exact value and the format it prints in."""

    __slots__ = ("v", "fmt")

    def __init__(self, v, fmt="DecimalSI"):
        self.v = Fraction(v)
        self.fmt = fmt

    @staticmethod
    def parse(s):
        if isinstance(s, Q):
            return s
        if isinstance(s, bool):
            raise QuantityError(BAD)
        if isinstance(s, int):
            return Q(s)
        if isinstance(s, float):
            return Q(Fraction(s).limit_denominator(10 ** 9))
        m = RE.match(s.strip()) if isinstance(s, str) else None
        if not m:
            raise QuantityError(BAD)
        num = Fraction(m.group(1))
        if m.group(2) in BIN:
            return Q(num * BIN[m.group(2)], "BinarySI")
        if m.group(3) is not None:
            return Q(num * Fraction(10) ** int(m.group(3)), "DecimalExponent")
        return Q(num * DEC[m.group(2) or ""], "DecimalSI")

    def __add__(self, o):
        return Q(self.v + Q.parse(o).v, self.fmt)

    def __sub__(self, o):
        return Q(self.v - Q.parse(o).v, self.fmt)

    def __lt__(self, o):
        return self.v < Q.parse(o).v

    def __le__(self, o):
        return self.v <= Q.parse(o).v

    def __gt__(self, o):
        return self.v > Q.parse(o).v

    def __ge__(self, o):
        return self.v >= Q.parse(o).v

    def __eq__(self, o):
        try:
            return self.v == Q.parse(o).v
        except QuantityError:
            return False

    def __hash__(self):
        return hash(self.v)

    def milli(self):
        """MilliValue(), rounded up as the real type rounds."""
        x = self.v * 1000
        return -((-x.numerator) // x.denominator)

    def __str__(self):
        return fmt(self.v, self.fmt)

    __repr__ = __str__


def fmt(v, form="DecimalSI"):
    """Canonical String() of resource.Quantity."""
    v = Fraction(v)
    if v == 0:
        return "0"
    sign = "-" if v < 0 else ""
    a = abs(v)
    if form == "BinarySI" and a.denominator == 1:
        n = a.numerator
        for suf in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
            if n % BIN[suf] == 0:
                return "%s%d%s" % (sign, n // BIN[suf], suf)
        return "%s%d" % (sign, n)
    if form == "DecimalExponent":
        n, e = _int_exp(a)
        return "%s%de%d" % (sign, n, e) if e else "%s%d" % (sign, n)
    # DecimalSI: the largest SI suffix that keeps an integer mantissa
    for suf, scale in (("E", 18), ("P", 15), ("T", 12), ("G", 9), ("M", 6), ("k", 3), ("", 0),
                       ("m", -3), ("u", -6), ("n", -9)):
        x = a / (Fraction(10) ** scale)
        if x.denominator == 1:
            return "%s%d%s" % (sign, x.numerator, suf)
    x = a * 10 ** 9  # finer than nano: rounded up to nano, as the real type does
    return "%s%dn" % (sign, -((-x.numerator) // x.denominator))


def _int_exp(a):
    """(mantissa, exponent): an integer mantissa and an exponent that is a multiple of 3."""
    e = 0
    while a.denominator != 1:
        a *= 10
        e -= 1
    n = a.numerator
    while e % 3:
        n *= 10
        e -= 1
    while n and n % 1000 == 0:
        n //= 1000
        e += 3
    return n, e


def parse(s):
    return Q.parse(s)


def valid(s):
    try:
        Q.parse(s)
        return True
    except QuantityError:
        return False
