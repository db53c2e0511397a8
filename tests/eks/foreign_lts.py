#!/usr/bin/python3
"""foreign_lts.py URL add IMAGE N | URL drop IMAGE - another team's launch templates in the local AWS.

add: a template "other-team" whose version 1 names IMAGE and whose version 2 (its $Latest and
$Default) names an EKS image, as a node group still pinned to version 1 would leave it, and N
unrelated templates of one version each.  drop: deletes them, then deregisters IMAGE (kept for
them) and deletes its snapshots.  Credentials and region come from the environment
(tests/sim.sh sim_aws_env).  Only loopback URLs are accepted.
"""
import os
import sys
import urllib.parse

import botocore.session


def main():
    url, what, image = sys.argv[1], sys.argv[2], sys.argv[3]
    host = urllib.parse.urlparse(url).hostname or ""
    if not (host.startswith("127.") or host in ("::1", "localhost")):
        sys.exit("foreign_lts.py: refusing non-loopback endpoint %s" % url)
    s = botocore.session.get_session()
    region = os.environ.get("AWS_REGION")
    ec2 = s.create_client("ec2", endpoint_url=url, region_name=region)
    ssm = s.create_client("ssm", endpoint_url=url, region_name=region)
    if what == "add":
        stock = ssm.get_parameter(Name="/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/standard/"
                                       "recommended/image_id")["Parameter"]["Value"]
        lt = ec2.create_launch_template(LaunchTemplateName="other-team", LaunchTemplateData={
            "ImageId": image})["LaunchTemplate"]["LaunchTemplateId"]
        ec2.create_launch_template_version(LaunchTemplateId=lt, LaunchTemplateData={"ImageId": stock})
        ec2.modify_launch_template(LaunchTemplateId=lt, DefaultVersion="2")
        for i in range(int(sys.argv[4])):
            ec2.create_launch_template(LaunchTemplateName="unrelated-%d" % i,
                                       LaunchTemplateData={"ImageId": stock})
        return
    for page in ec2.get_paginator("describe_launch_templates").paginate():
        for t in page["LaunchTemplates"]:
            if t["LaunchTemplateName"] == "other-team" or t["LaunchTemplateName"].startswith("unrelated-"):
                ec2.delete_launch_template(LaunchTemplateId=t["LaunchTemplateId"])
    im = ec2.describe_images(ImageIds=[image])["Images"][0]
    ec2.deregister_image(ImageId=image)
    for b in im.get("BlockDeviceMappings", []):
        if b.get("Ebs", {}).get("SnapshotId"):
            ec2.delete_snapshot(SnapshotId=b["Ebs"]["SnapshotId"])


main()
