"""The Price List API through boto3: only its three endpoint regions answer,
GetProducts with TERM_MATCH (and the newer filter types) returns the
offer-file product/terms documents boto3 decodes, the capacity-reservation
twins a careless filter also matches, EKS standard and extended-support
hours, NAT gateway, load balancer and gp3 prices, DescribeServices,
GetAttributeValues and pagination."""
import json
import unittest

from botocore.exceptions import ClientError

from common import client, raw, session


def price(doc):
    (term,) = doc["terms"]["OnDemand"].values()
    (dim,) = term["priceDimensions"].values()
    return dim["pricePerUnit"]["USD"], dim["unit"]


def tm(field, value):
    return {"Type": "TERM_MATCH", "Field": field, "Value": value}


class PricingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.p = client("pricing", sess=session(region="us-east-1"))

    def products(self, code, *filters, **kw):
        out = []
        for page in self.p.get_paginator("get_products").paginate(ServiceCode=code, Filters=list(filters), **kw):
            out += [x if isinstance(x, dict) else json.loads(x) for x in page["PriceList"]]
        return out

    def test_endpoint_regions(self):
        for region in ("eu-central-1", "ap-south-1"):
            c = client("pricing", sess=session(region=region))
            self.assertTrue(c.describe_services(ServiceCode="AmazonEKS")["Services"])
        c = client("pricing", sess=session(region="eu-west-1"))
        with self.assertRaises(ClientError) as cm:
            c.get_products(ServiceCode="AmazonEC2")
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidSignatureException")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)

    def test_instance_prices(self):
        base = [tm("instanceType", "m6i.large"), tm("regionCode", "eu-west-1"), tm("operatingSystem", "Linux"),
                tm("tenancy", "Shared"), tm("preInstalledSw", "NA")]
        loose = self.products("AmazonEC2", *base)
        self.assertEqual(sorted(x["product"]["attributes"]["capacitystatus"] for x in loose),
                         ["AllocatedCapacityReservation", "UnusedCapacityReservation", "Used"])
        (doc,) = self.products("AmazonEC2", *base, tm("capacitystatus", "Used"))
        self.assertEqual(doc["product"]["productFamily"], "Compute Instance")
        self.assertEqual(doc["product"]["attributes"]["usagetype"], "EU-BoxUsage:m6i.large")
        self.assertEqual(doc["product"]["attributes"]["location"], "EU (Ireland)")
        self.assertEqual(price(doc), ("0.1070000000", "Hrs"))
        (term,) = doc["terms"]["OnDemand"].values()
        self.assertEqual(term["offerTermCode"], "JRTCKXETXF")
        (us,) = self.products("AmazonEC2", tm("instanceType", "m6i.large"), tm("location", "US East (N. Virginia)"),
                              tm("operatingSystem", "Linux"), tm("tenancy", "Shared"), tm("capacitystatus", "Used"),
                              tm("preInstalledSw", "NA"))
        self.assertEqual(us["product"]["attributes"]["usagetype"], "BoxUsage:m6i.large")
        self.assertEqual(float(price(us)[0]), 0.096)
        both = self.products("AmazonEC2", {"Type": "ANY_OF", "Field": "instanceType", "Value": "m6i.large, m7g.xlarge"},
                             tm("regionCode", "eu-west-1"), tm("operatingSystem", "Linux"), tm("tenancy", "Shared"),
                             tm("capacitystatus", "Used"))
        self.assertEqual(sorted(x["product"]["attributes"]["instanceType"] for x in both), ["m6i.large", "m7g.xlarge"])
        self.assertEqual(self.products("AmazonEC2", tm("instanceType", "m6i.large"), tm("regionCode", "mars-1")), [])

    def test_eks_nat_elb_ebs(self):
        eks = {x["product"]["attributes"]["usagetype"]: price(x)[0]
               for x in self.products("AmazonEKS", tm("regionCode", "eu-west-1"))}
        self.assertEqual(eks, {"EU-AmazonEKS-Hours:perCluster": "0.1000000000",
                               "EU-AmazonEKS-Hours:extendedSupport": "0.5000000000"})
        nat = {x["product"]["attributes"]["usagetype"]: price(x)
               for x in self.products("AmazonEC2", tm("productFamily", "NAT Gateway"), tm("regionCode", "eu-west-1"))}
        self.assertEqual(nat, {"EU-NatGateway-Hours": ("0.0480000000", "Hrs"),
                               "EU-NatGateway-Bytes": ("0.0480000000", "GB")})
        (nlb,) = self.products("AWSELB", tm("productFamily", "Load Balancer-Network"), tm("regionCode", "us-east-1"),
                               tm("usagetype", "LoadBalancerUsage"))
        self.assertEqual(price(nlb), ("0.0225000000", "Hrs"))
        (clb,) = self.products("AWSELB", tm("productFamily", "Load Balancer"), tm("regionCode", "eu-west-1"),
                               {"Type": "CONTAINS", "Field": "usagetype", "Value": "LoadBalancerUsage"})
        self.assertEqual(price(clb), ("0.0280000000", "Hrs"))
        (gp3,) = self.products("AmazonEC2", tm("volumeApiName", "gp3"), tm("regionCode", "eu-west-1"))
        self.assertEqual(price(gp3), ("0.0880000000", "GB-Mo"))
        ipv4 = self.products("AmazonVPC", tm("usagetype", "EU-PublicIPv4:InUseAddress"))
        self.assertEqual(len(ipv4), 1)

    def test_services_attributes_pages(self):
        svcs = {s["ServiceCode"]: s["AttributeNames"] for s in self.p.describe_services()["Services"]}
        self.assertEqual(set(svcs), {"AmazonEC2", "AmazonEKS", "AWSELB", "AmazonVPC"})
        self.assertIn("instanceType", svcs["AmazonEC2"])
        values = []
        for page in self.p.get_paginator("get_attribute_values").paginate(
                ServiceCode="AmazonEC2", AttributeName="instanceType", PaginationConfig={"PageSize": 3}):
            self.assertLessEqual(len(page["AttributeValues"]), 3)
            values += [v["Value"] for v in page["AttributeValues"]]
        self.assertIn("m6i.large", values)
        self.assertEqual(values, sorted(set(values)))
        first = self.p.get_products(ServiceCode="AmazonEC2", MaxResults=5)
        self.assertEqual(len(first["PriceList"]), 5)
        self.assertIn("NextToken", first)
        second = self.p.get_products(ServiceCode="AmazonEC2", MaxResults=5, NextToken=first["NextToken"])
        self.assertNotEqual(first["PriceList"][0], second["PriceList"][0])
        with self.assertRaises(ClientError) as cm:
            self.p.get_products(ServiceCode="AmazonEC2", NextToken="not-a-token")
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidNextTokenException")

    def test_raw_validation(self):
        body = json.dumps({"ServiceCode": "AmazonEC2", "Filters": [{"Type": "FUZZY", "Field": "a", "Value": "b"}]})
        st, _, data = raw("POST", "pricing", "/", body.encode(), {"Content-Type": "application/x-amz-json-1.1",
                                                                   "X-Amz-Target": "AWSPriceListService.GetProducts"},
                          region="us-east-1")
        self.assertEqual((st, json.loads(data)["__type"]), (400, "ValidationException"))
