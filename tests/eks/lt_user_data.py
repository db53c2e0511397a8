#!/usr/bin/python3
"""lt_user_data.py URL NAME-PREFIX - print the user data (decoded) of the default version of the one
launch template in the local AWS whose name starts with NAME-PREFIX-, as a node launched from it
gets it.  Credentials and region come from the environment (tests/sim.sh sim_aws_env).  Only
loopback URLs are accepted.
"""
import base64
import os
import sys
import urllib.parse

import botocore.session


def main():
    url, prefix = sys.argv[1], sys.argv[2]
    host = urllib.parse.urlparse(url).hostname or ""
    if not (host.startswith("127.") or host in ("::1", "localhost")):
        sys.exit("lt_user_data.py: refusing non-loopback endpoint %s" % url)
    ec2 = botocore.session.get_session().create_client("ec2", endpoint_url=url,
                                                       region_name=os.environ.get("AWS_REGION"))
    lts = [t for t in ec2.describe_launch_templates()["LaunchTemplates"]
           if t["LaunchTemplateName"].startswith(prefix + "-")]
    if len(lts) != 1:
        sys.exit("lt_user_data.py: %d launch templates named %s-*" % (len(lts), prefix))
    v = ec2.describe_launch_template_versions(LaunchTemplateId=lts[0]["LaunchTemplateId"],
                                              Versions=["$Default"])["LaunchTemplateVersions"][0]
    sys.stdout.write(base64.b64decode(v["LaunchTemplateData"].get("UserData", "")).decode())


main()
