#!/usr/bin/python3
"""eks_call.py URL [SERVICE:]OPERATION JSON - one signed call (EKS unless SERVICE names
another, e.g. iam:GetRolePolicy) against the local AWS, as another client (the cluster
autoscaler, an operator's console) would make it; prints the reply as JSON.

  eks_call.py "$AWSSIM_URL" UpdateNodegroupConfig '{"clusterName": "c", "nodegroupName": "g",
      "scalingConfig": {"desiredSize": 5}}'
  eks_call.py "$AWSSIM_URL" iam:GetRolePolicy '{"RoleName": "r", "PolicyName": "p"}'

Credentials and region come from the environment (tests/sim.sh sim_aws_env).  Only loopback
URLs are accepted.
"""
import json
import os
import sys
import urllib.parse

import botocore.session


def main():
    url, op, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    host = urllib.parse.urlparse(url).hostname or ""
    if not (host.startswith("127.") or host in ("::1", "localhost")):
        sys.exit("eks_call.py: refusing non-loopback endpoint %s" % url)
    service, _, op = op.rpartition(":")
    # IAM is global: its calls are signed for us-east-1 whatever the region
    region = "us-east-1" if service == "iam" else os.environ.get("AWS_REGION")
    client = botocore.session.get_session().create_client(service or "eks", endpoint_url=url, region_name=region)
    method = getattr(client, "".join("_" + ch.lower() if ch.isupper() else ch for ch in op).lstrip("_"))
    out = method(**params)
    out.pop("ResponseMetadata", None)
    print(json.dumps(out, default=str, sort_keys=True))


main()
