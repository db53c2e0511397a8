"""IAM: roles, trust policies, managed and inline policies, instance profiles, tags.

State lives in the account's "global" scope: roles, profiles, policies.
Rules enforced like AWS: NoSuchEntity (404), EntityAlreadyExists (409; role
and instance profile names are unique regardless of case, as AWS documents:
"fn-x" blocks "FN-X"; reads by name match the exact name),
DeleteConflict (409) when a role still has policies or instance profiles,
LimitExceeded (409) for a second role in an instance profile,
MalformedPolicyDocument (400).  Policy documents are returned URL-encoded.
GetAccountAuthorizationDetails answers every role with its policies,
instance profiles and tags in one paginated listing.
A fresh role or instance profile becomes usable by EKS/EC2/STS only after a
propagation delay (sim.lag: "iam.role" / "iam.instance-profile"), as in AWS.
"""
import json
from urllib.parse import quote

from .core import AwsError, paginate, upper_id, tags_from_list, tags_to_list


def _taken(existing, name):
    """IAM keeps names unique regardless of case (the CreateRole and
    CreateInstanceProfile references)."""
    low = name.lower()
    return any(k.lower() == low for k in existing)

AWS_MANAGED = [
    "AmazonEKSClusterPolicy", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryReadOnly", "AmazonEC2ContainerRegistryPullOnly",
    "AmazonSSMManagedInstanceCore", "AmazonEKSVPCResourceController", "AmazonEKSServicePolicy",
    "service-role/AmazonEBSCSIDriverPolicy", "AdministratorAccess", "ReadOnlyAccess",
    "AmazonEKSComputePolicy", "AmazonEKSBlockStoragePolicy", "AmazonEKSLoadBalancingPolicy",
    "AmazonEKSNetworkingPolicy", "AmazonS3ReadOnlyAccess", "CloudWatchAgentServerPolicy",
]


def _managed(partition="aws"):
    out = {}
    for n in AWS_MANAGED:
        path, _, name = n.rpartition("/")
        out[f"arn:{partition}:iam::aws:policy/{n}"] = {
            "PolicyName": name, "Arn": f"arn:{partition}:iam::aws:policy/{n}",
            "Path": f"/{path}/" if path else "/", "PolicyId": "ANPA" + name.upper()[:17].ljust(17, "X"),
            "DefaultVersionId": "v1", "AttachmentCount": 0, "IsAttachable": True, "CreateDate": 1500000000.0,
            "UpdateDate": 1500000000.0, "_doc": '{"Version":"2012-10-17","Statement":[]}'}
    return out


def parse_policy(doc, what="policy"):
    try:
        d = json.loads(doc)
    except ValueError:
        raise AwsError("MalformedPolicyDocument", "This policy contains invalid Json", 400)
    if not isinstance(d, dict) or "Statement" not in d:
        raise AwsError("MalformedPolicyDocument", f"Syntax errors in {what}.", 400)
    st = d["Statement"]
    for s in st if isinstance(st, list) else [st]:
        if not isinstance(s, dict) or s.get("Effect") not in ("Allow", "Deny"):
            raise AwsError("MalformedPolicyDocument", f"Syntax errors in {what}.", 400)
    return d


def _nse(kind, name):
    return AwsError("NoSuchEntity", f"The {kind} with name {name} cannot be found.", 404)


class IAM:
    def __init__(self, sim):
        self.sim = sim

    # ------------------------------------------------------------ helpers
    def _g(self, ctx):
        g = ctx.gstate()
        if "managed" not in g:
            g["managed"] = _managed(ctx.partition)
        return g

    def _role(self, ctx, name):
        r = self._g(ctx)["roles"].get(name)
        if r is None:
            raise _nse("role", name)
        return r

    def _out_role(self, r, full=True):
        o = {k: v for k, v in r.items() if not k.startswith("_")}
        o["AssumeRolePolicyDocument"] = quote(r["_doc"], safe="")
        if r["_tags"] and full:
            o["Tags"] = tags_to_list(r["_tags"])
        return o

    def _out_profile(self, g, p):
        o = {k: v for k, v in p.items() if not k.startswith("_")}
        o["Roles"] = [self._out_role(g["roles"][n], full=False) for n in p["_roles"] if n in g["roles"]]
        if p["_tags"]:
            o["Tags"] = tags_to_list(p["_tags"])
        return o

    def role_by_arn(self, account, arn):
        """For STS/EKS/EC2: the role dict for an ARN, or None."""
        g = self.sim.scope(account, "global")
        name = arn.rsplit("/", 1)[-1]
        r = g.get("roles", {}).get(name)
        return r if r is not None and r["Arn"] == arn else None

    def profile(self, account, name_or_arn):
        g = self.sim.scope(account, "global")
        name = name_or_arn.rsplit("/", 1)[-1]
        p = g.get("profiles", {}).get(name)
        if p is None or (name_or_arn.startswith("arn:") and p["Arn"] != name_or_arn):
            return None
        return p

    def _page(self, items, p, key):
        page, nxt = paginate(items, p.get("Marker"), p.get("MaxItems"), 100)
        out = {key: page, "IsTruncated": nxt is not None}
        if nxt:
            out["Marker"] = nxt
        return out

    # -------------------------------------------------------------- roles
    def CreateRole(self, ctx, p):
        g = self._g(ctx)
        name = p["RoleName"]
        if _taken(g["roles"], name):
            raise AwsError("EntityAlreadyExists", f"Role with name {name} already exists.", 409)
        parse_policy(p["AssumeRolePolicyDocument"], "trust policy")
        path = p.get("Path", "/")
        r = {"Path": path, "RoleName": name, "RoleId": upper_id("AROA"),
             "Arn": f"arn:{ctx.partition}:iam::{ctx.account}:role{path}{name}", "CreateDate": ctx.now,
             "MaxSessionDuration": p.get("MaxSessionDuration", 3600),
             "_doc": p["AssumeRolePolicyDocument"], "_tags": tags_from_list(p.get("Tags")),
             "_attached": [], "_inline": {}, "_ready": ctx.now + self.sim.lag("iam.role")}
        if p.get("Description") is not None:
            r["Description"] = p["Description"]
        if p.get("PermissionsBoundary"):
            r["PermissionsBoundary"] = {"PermissionsBoundaryType": "Policy",
                                        "PermissionsBoundaryArn": p["PermissionsBoundary"]}
        g["roles"][name] = r
        self.sim.record(ctx.account, "global", "iam:role", name, "created")
        self.sim.record(ctx.account, "global", "iam:role", name, "propagated", r["_ready"])
        return {"Role": self._out_role(r)}

    def GetRole(self, ctx, p):
        return {"Role": self._out_role(self._role(ctx, p["RoleName"]))}

    def ListRoles(self, ctx, p):
        g = self._g(ctx)
        roles = [self._out_role(r, full=False) for _, r in sorted(g["roles"].items())
                 if r["Path"].startswith(p.get("PathPrefix", "/"))]
        return self._page(roles, p, "Roles")

    def UpdateRole(self, ctx, p):
        r = self._role(ctx, p["RoleName"])
        if "Description" in p:
            r["Description"] = p["Description"]
        if "MaxSessionDuration" in p:
            r["MaxSessionDuration"] = p["MaxSessionDuration"]
        return {}

    def UpdateAssumeRolePolicy(self, ctx, p):
        r = self._role(ctx, p["RoleName"])
        parse_policy(p["PolicyDocument"], "trust policy")
        r["_doc"] = p["PolicyDocument"]
        return {}

    def DeleteRole(self, ctx, p):
        g = self._g(ctx)
        r = self._role(ctx, p["RoleName"])
        if r["_attached"]:
            raise AwsError("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409)
        if r["_inline"]:
            raise AwsError("DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
        if any(r["RoleName"] in ip["_roles"] for ip in g["profiles"].values()):
            raise AwsError("DeleteConflict", "Cannot delete entity, must remove roles from instance profile first.", 409)
        del g["roles"][r["RoleName"]]
        self.sim.record(ctx.account, "global", "iam:role", r["RoleName"], "deleted")
        return {}

    def TagRole(self, ctx, p):
        r = self._role(ctx, p["RoleName"])
        r["_tags"].update(tags_from_list(p["Tags"]))
        if len(r["_tags"]) > 50:
            raise AwsError("LimitExceeded", "The number of tags has reached the maximum limit.", 409)
        return {}

    def UntagRole(self, ctx, p):
        r = self._role(ctx, p["RoleName"])
        for k in p["TagKeys"]:
            r["_tags"].pop(k, None)
        return {}

    def ListRoleTags(self, ctx, p):
        r = self._role(ctx, p["RoleName"])
        return self._page(tags_to_list(r["_tags"]), p, "Tags")

    # ----------------------------------------------------------- policies
    def _policy(self, ctx, arn):
        g = self._g(ctx)
        pol = g["managed"].get(arn) or g["policies"].get(arn)
        if pol is None:
            raise AwsError("NoSuchEntity", f"Policy {arn} does not exist or is not attachable.", 404)
        return pol

    def AttachRolePolicy(self, ctx, p):
        r = self._role(ctx, p["RoleName"])
        pol = self._policy(ctx, p["PolicyArn"])
        if p["PolicyArn"] not in r["_attached"]:
            if len(r["_attached"]) >= 10:
                raise AwsError("LimitExceeded", "Cannot exceed quota for PoliciesPerRole: 10", 409)
            r["_attached"].append(p["PolicyArn"])
            pol["AttachmentCount"] += 1
        return {}

    def DetachRolePolicy(self, ctx, p):
        r = self._role(ctx, p["RoleName"])
        if p["PolicyArn"] not in r["_attached"]:
            raise AwsError("NoSuchEntity", f"Policy {p['PolicyArn']} was not found.", 404)
        r["_attached"].remove(p["PolicyArn"])
        pol = self._g(ctx)["managed"].get(p["PolicyArn"]) or self._g(ctx)["policies"].get(p["PolicyArn"])
        if pol:
            pol["AttachmentCount"] -= 1
        return {}

    def ListAttachedRolePolicies(self, ctx, p):
        r = self._role(ctx, p["RoleName"])
        g = self._g(ctx)
        out = []
        for arn in r["_attached"]:
            pol = g["managed"].get(arn) or g["policies"].get(arn)
            out.append({"PolicyName": pol["PolicyName"] if pol else arn.rsplit("/", 1)[-1], "PolicyArn": arn})
        return self._page(out, p, "AttachedPolicies")

    def PutRolePolicy(self, ctx, p):
        r = self._role(ctx, p["RoleName"])
        parse_policy(p["PolicyDocument"])
        # IAM's quota: a role's inline policies together hold at most
        # 10,240 characters, white space not counted.
        docs = dict(r["_inline"], **{p["PolicyName"]: p["PolicyDocument"]})
        if sum(len("".join(d.split())) for d in docs.values()) > 10240:
            raise AwsError("LimitExceeded",
                           f"Maximum policy size of 10240 bytes exceeded for role {r['RoleName']}", 409)
        r["_inline"][p["PolicyName"]] = p["PolicyDocument"]
        return {}

    def GetRolePolicy(self, ctx, p):
        r = self._role(ctx, p["RoleName"])
        doc = r["_inline"].get(p["PolicyName"])
        if doc is None:
            raise AwsError("NoSuchEntity", f"The role policy with name {p['PolicyName']} cannot be found.", 404)
        return {"RoleName": r["RoleName"], "PolicyName": p["PolicyName"], "PolicyDocument": quote(doc, safe="")}

    def DeleteRolePolicy(self, ctx, p):
        r = self._role(ctx, p["RoleName"])
        if p["PolicyName"] not in r["_inline"]:
            raise AwsError("NoSuchEntity", f"The role policy with name {p['PolicyName']} cannot be found.", 404)
        del r["_inline"][p["PolicyName"]]
        return {}

    def ListRolePolicies(self, ctx, p):
        r = self._role(ctx, p["RoleName"])
        return self._page(sorted(r["_inline"]), p, "PolicyNames")

    def CreatePolicy(self, ctx, p):
        g = self._g(ctx)
        path = p.get("Path", "/")
        arn = f"arn:{ctx.partition}:iam::{ctx.account}:policy{path}{p['PolicyName']}"
        if arn in g["policies"]:
            raise AwsError("EntityAlreadyExists", f"A policy called {p['PolicyName']} already exists. "
                           "Duplicate names are not allowed.", 409)
        parse_policy(p["PolicyDocument"])
        pol = {"PolicyName": p["PolicyName"], "PolicyId": upper_id("ANPA"), "Arn": arn, "Path": path,
               "DefaultVersionId": "v1", "AttachmentCount": 0, "IsAttachable": True, "CreateDate": ctx.now,
               "UpdateDate": ctx.now, "_doc": p["PolicyDocument"], "_tags": tags_from_list(p.get("Tags"))}
        if p.get("Description"):
            pol["Description"] = p["Description"]
        g["policies"][arn] = pol
        return {"Policy": self._out_policy(pol)}

    def _out_policy(self, pol):
        o = {k: v for k, v in pol.items() if not k.startswith("_")}
        if pol.get("_tags"):
            o["Tags"] = tags_to_list(pol["_tags"])
        return o

    def GetPolicy(self, ctx, p):
        return {"Policy": self._out_policy(self._policy(ctx, p["PolicyArn"]))}

    def DeletePolicy(self, ctx, p):
        g = self._g(ctx)
        pol = g["policies"].get(p["PolicyArn"])
        if pol is None:
            raise AwsError("NoSuchEntity", f"Policy {p['PolicyArn']} was not found.", 404)
        if pol["AttachmentCount"]:
            raise AwsError("DeleteConflict", "Cannot delete a policy attached to entities.", 409)
        del g["policies"][p["PolicyArn"]]
        return {}

    # --------------------------------------------------- instance profiles
    def _prof(self, ctx, name):
        ip = self._g(ctx)["profiles"].get(name)
        if ip is None:
            raise _nse("instance profile", name)
        return ip

    def CreateInstanceProfile(self, ctx, p):
        g = self._g(ctx)
        name = p["InstanceProfileName"]
        if _taken(g["profiles"], name):
            raise AwsError("EntityAlreadyExists", f"Instance Profile {name} already exists.", 409)
        path = p.get("Path", "/")
        ip = {"Path": path, "InstanceProfileName": name, "InstanceProfileId": upper_id("AIPA"),
              "Arn": f"arn:{ctx.partition}:iam::{ctx.account}:instance-profile{path}{name}", "CreateDate": ctx.now,
              "_roles": [], "_tags": tags_from_list(p.get("Tags")),
              "_ready": ctx.now + self.sim.lag("iam.instance-profile")}
        g["profiles"][name] = ip
        self.sim.record(ctx.account, "global", "iam:instance-profile", name, "created")
        return {"InstanceProfile": self._out_profile(g, ip)}

    def GetInstanceProfile(self, ctx, p):
        return {"InstanceProfile": self._out_profile(self._g(ctx), self._prof(ctx, p["InstanceProfileName"]))}

    def DeleteInstanceProfile(self, ctx, p):
        g = self._g(ctx)
        ip = self._prof(ctx, p["InstanceProfileName"])
        if ip["_roles"]:
            raise AwsError("DeleteConflict", "Cannot delete entity, must remove roles from instance profile first.", 409)
        del g["profiles"][ip["InstanceProfileName"]]
        self.sim.record(ctx.account, "global", "iam:instance-profile", ip["InstanceProfileName"], "deleted")
        return {}

    def AddRoleToInstanceProfile(self, ctx, p):
        ip = self._prof(ctx, p["InstanceProfileName"])
        r = self._role(ctx, p["RoleName"])
        if ip["_roles"]:
            raise AwsError("LimitExceeded", "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1", 409)
        ip["_roles"].append(r["RoleName"])
        ip["_ready"] = ctx.now + self.sim.lag("iam.instance-profile")
        self.sim.record(ctx.account, "global", "iam:instance-profile", ip["InstanceProfileName"], "propagated",
                        ip["_ready"])
        return {}

    def RemoveRoleFromInstanceProfile(self, ctx, p):
        ip = self._prof(ctx, p["InstanceProfileName"])
        if p["RoleName"] not in ip["_roles"]:
            raise _nse("role", p["RoleName"])
        ip["_roles"].remove(p["RoleName"])
        return {}

    def ListInstanceProfiles(self, ctx, p):
        g = self._g(ctx)
        items = [self._out_profile(g, ip) for _, ip in sorted(g["profiles"].items())
                 if ip["Path"].startswith(p.get("PathPrefix", "/"))]
        return self._page(items, p, "InstanceProfiles")

    def ListInstanceProfilesForRole(self, ctx, p):
        g = self._g(ctx)
        self._role(ctx, p["RoleName"])
        items = [self._out_profile(g, ip) for _, ip in sorted(g["profiles"].items()) if p["RoleName"] in ip["_roles"]]
        return self._page(items, p, "InstanceProfiles")

    def TagInstanceProfile(self, ctx, p):
        self._prof(ctx, p["InstanceProfileName"])["_tags"].update(tags_from_list(p["Tags"]))
        return {}

    def UntagInstanceProfile(self, ctx, p):
        ip = self._prof(ctx, p["InstanceProfileName"])
        for k in p["TagKeys"]:
            ip["_tags"].pop(k, None)
        return {}

    def ListInstanceProfileTags(self, ctx, p):
        return self._page(tags_to_list(self._prof(ctx, p["InstanceProfileName"])["_tags"]), p, "Tags")

    # ------------------------------------------- authorization details
    def _role_detail(self, g, r):
        """A role as GetAccountAuthorizationDetails gives it (RoleDetail):
        with its inline policies' documents (URL-encoded), its attached
        managed policies, its instance profiles and every tag."""
        o = {k: r[k] for k in ("Path", "RoleName", "RoleId", "Arn", "CreateDate")}
        o["AssumeRolePolicyDocument"] = quote(r["_doc"], safe="")
        o["InstanceProfileList"] = [self._out_profile(g, ip) for _, ip in sorted(g["profiles"].items())
                                    if r["RoleName"] in ip["_roles"]]
        o["RolePolicyList"] = [{"PolicyName": n, "PolicyDocument": quote(d, safe="")}
                               for n, d in sorted(r["_inline"].items())]
        o["AttachedManagedPolicies"] = []
        for arn in r["_attached"]:
            pol = g["managed"].get(arn) or g["policies"].get(arn)
            o["AttachedManagedPolicies"].append({"PolicyName": pol["PolicyName"] if pol else arn.rsplit("/", 1)[-1],
                                                 "PolicyArn": arn})
        if r.get("PermissionsBoundary"):
            o["PermissionsBoundary"] = dict(r["PermissionsBoundary"])
        if r["_tags"]:
            o["Tags"] = tags_to_list(r["_tags"])
        o["RoleLastUsed"] = {}
        return o

    def _policy_detail(self, pol):
        o = {k: v for k, v in pol.items() if not k.startswith("_") and k != "Tags"}
        o["PermissionsBoundaryUsageCount"] = 0
        o["PolicyVersionList"] = [{"Document": quote(pol["_doc"], safe=""), "VersionId": pol["DefaultVersionId"],
                                   "IsDefaultVersion": True, "CreateDate": pol["CreateDate"]}]
        return o

    def GetAccountAuthorizationDetails(self, ctx, p):
        """Every entity of the account the Filter names (all of them without
        one), paginated together with Marker/MaxItems (IAM's default page:
        100) in the order of the reply's lists.  This IAM has no users or
        groups.  AWS-managed policies are those the account uses (attached
        to one of its entities), customer-managed ones all of them."""
        g = self._g(ctx)
        kinds = p.get("Filter") or ["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"]
        items = []
        if "Role" in kinds:
            items += [("RoleDetailList", self._role_detail(g, r)) for _, r in sorted(g["roles"].items())]
        if "LocalManagedPolicy" in kinds:
            items += [("Policies", self._policy_detail(pol)) for _, pol in sorted(g["policies"].items())]
        if "AWSManagedPolicy" in kinds:
            items += [("Policies", self._policy_detail(pol)) for _, pol in sorted(g["managed"].items())
                      if pol["AttachmentCount"] > 0]
        page, nxt = paginate(items, p.get("Marker"), p.get("MaxItems"), 100)
        out = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": []}
        for key, item in page:
            out[key].append(item)
        out["IsTruncated"] = nxt is not None
        if nxt:
            out["Marker"] = nxt
        return out

    # --------------------------------------------------------- inventory
    def inventory(self, account, region, st):
        if region != "global":
            return {}
        return {
            "iam:role": [{"id": r["RoleName"], "arn": r["Arn"], "attachedPolicies": list(r["_attached"]),
                          "inlinePolicies": sorted(r["_inline"]), "tags": r["_tags"]}
                         for r in st.get("roles", {}).values()],
            "iam:instance-profile": [{"id": ip["InstanceProfileName"], "arn": ip["Arn"], "roles": list(ip["_roles"])}
                                     for ip in st.get("profiles", {}).values()],
            "iam:policy": [{"id": pol["PolicyName"], "arn": pol["Arn"]} for pol in st.get("policies", {}).values()],
        }
