"""AWS Price List Query API (json 1.1, AWSPriceListService): GetProducts,
DescribeServices, GetAttributeValues over the dated table in pricing_data.py.

As in AWS, the API answers only at its own endpoints, which sign as
us-east-1, eu-central-1 or ap-south-1 whatever region the priced resources
are in; a request signed for any other region gets what such an endpoint
gives a wrongly scoped signature (InvalidSignatureException 403).
PriceList items are JSON documents sent as strings (botocore's "jsonvalue"
decodes them).  Filters: TERM_MATCH and EQUALS (exact), CONTAINS, ANY_OF and
NONE_OF (comma-separated values) on any product attribute, productFamily,
sku or ServiceCode; all filters must match.  Pages of MaxResults (1-100,
default 100) with an opaque NextToken.
"""
import json
import secrets

from . import pricing_data
from .core import AwsError

ENDPOINT_REGIONS = ("us-east-1", "eu-central-1", "ap-south-1")


class Pricing:
    def __init__(self, sim):
        self.sim = sim
        self._products = pricing_data.products()
        self._tokens = {}   # token -> (what, offset)

    def _endpoint(self, ctx):
        if ctx.region not in ENDPOINT_REGIONS:
            raise AwsError("InvalidSignatureException", f"Credential should be scoped to a valid region, not "
                           f"'{ctx.region}'. The Price List API is served from us-east-1, eu-central-1 and "
                           "ap-south-1.", 403)

    def _format(self, p):
        if p.get("FormatVersion", "aws_v1") != "aws_v1":
            raise AwsError("InvalidParameterException", f"Input parameters are invalid. Invalid FormatVersion "
                           f"{p['FormatVersion']}; the only supported format version is aws_v1.", 400)

    def _page(self, what, items, p):
        start = 0
        if p.get("NextToken"):
            t = self._tokens.get(p["NextToken"])
            if t is None or t[0] != what:
                raise AwsError("InvalidNextTokenException", "The pagination token is invalid. Try again without a "
                               "pagination token.", 400)
            start = t[1]
        n = p.get("MaxResults") or 100
        page = items[start:start + n]
        nxt = None
        if start + n < len(items):
            nxt = secrets.token_urlsafe(24)
            self._tokens[nxt] = (what, start + n)
        return page, nxt

    @staticmethod
    def _value(prod, field):
        if field == "ServiceCode":
            return prod["serviceCode"]
        if field == "productFamily":
            return prod["product"]["productFamily"]
        if field == "sku":
            return prod["product"]["sku"]
        return prod["product"]["attributes"].get(field)

    def _matches(self, prod, f):
        have = self._value(prod, f["Field"])
        if have is None:
            return False
        typ, want = f["Type"], f["Value"]
        if typ in ("TERM_MATCH", "EQUALS"):
            return have == want
        if typ == "CONTAINS":
            return want in have
        values = [v.strip() for v in want.split(",")]
        if typ == "ANY_OF":
            return have in values
        if typ == "NONE_OF":
            return have not in values
        return False

    def GetProducts(self, ctx, p):
        self._endpoint(ctx)
        self._format(p)
        code = p.get("ServiceCode")
        filters = p.get("Filters") or []
        items = [x for x in self._products if (code is None or x["serviceCode"] == code)
                 and all(self._matches(x, f) for f in filters)]
        what = json.dumps([code, filters], sort_keys=True)
        page, nxt = self._page("products:" + what, items, p)
        out = {"FormatVersion": "aws_v1", "PriceList": [json.dumps(x, separators=(",", ":")) for x in page]}
        if nxt:
            out["NextToken"] = nxt
        return out

    def _attribute_names(self, code):
        names = set()
        for x in self._products:
            if x["serviceCode"] == code:
                names.update(x["product"]["attributes"])
        return sorted(names | {"productFamily"})

    def DescribeServices(self, ctx, p):
        self._endpoint(ctx)
        self._format(p)
        codes = sorted({x["serviceCode"] for x in self._products})
        if p.get("ServiceCode"):
            codes = [c for c in codes if c == p["ServiceCode"]]
        services = [{"ServiceCode": c, "AttributeNames": self._attribute_names(c)} for c in codes]
        page, nxt = self._page("services:" + str(p.get("ServiceCode")), services, p)
        out = {"Services": page, "FormatVersion": "aws_v1"}
        if nxt:
            out["NextToken"] = nxt
        return out

    def GetAttributeValues(self, ctx, p):
        self._endpoint(ctx)
        code, name = p["ServiceCode"], p["AttributeName"]
        values = sorted({v for x in self._products if x["serviceCode"] == code
                         for v in [self._value(x, name)] if v})
        page, nxt = self._page(f"values:{code}:{name}", [{"Value": v} for v in values], p)
        out = {"AttributeValues": page}
        if nxt:
            out["NextToken"] = nxt
        return out

    def shutdown(self):
        self._tokens.clear()
