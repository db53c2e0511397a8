"""What EKS offers: Kubernetes versions with their support calendar, and the
AWS add-ons (vpc-cni, coredns, kube-proxy, eks-pod-identity-agent) with
their versions, compatibilities and configuration schemas.

Calendar: the "Amazon EKS Kubernetes release calendar" of the EKS user guide
(docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html), dates in
UTC.  A version is in standard support from its EKS release until the start
of its end-of-standard-support day (14 months), in extended support until
the start of its end-of-extended-support day (12 more months), then
unsupported: no new clusters, and DescribeClusterVersions lists it only with
includeAll.  Status always follows the simulated clock.

Add-on versions: representative version strings in EKS's format (the latest
builds per Kubernetes version as listed on the add-on pages of the EKS user
guide, extended to the newer versions in the same pattern).  Compatibility
follows the add-ons' real rules: kube-proxy only with its own minor version;
CoreDNS, the VPC CNI and the Pod Identity agent across a range, so upgrading
the cluster can leave an add-on on a version that the next Kubernetes version
no longer supports.  The default version per Kubernetes version is the newest
compatible one.

Configuration schemas: JSON Schema draft-06 documents in the form
DescribeAddonConfiguration returns ({"$ref": "#/definitions/<Name>",
"definitions": {...}}), with the properties secfaas and common tooling set
(vpc-cni: enableNetworkPolicy, env, nodeAgent, init, resources, tolerations,
...); "format": "boolean"/"integer" strings are checked as such.
"""
from datetime import datetime, timezone


def _ts(day):
    return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp()


# version: (upstream release, EKS release, end of standard support, end of extended support,
#           Kubernetes patch version, EKS platform version)
CALENDAR = {
    "1.29": ("2023-12-13", "2024-01-23", "2025-03-23", "2026-03-23", "1.29.15", "eks.61"),
    "1.30": ("2024-04-17", "2024-05-23", "2025-07-23", "2026-07-23", "1.30.14", "eks.58"),
    "1.31": ("2024-08-13", "2024-09-26", "2025-11-26", "2026-11-26", "1.31.13", "eks.50"),
    "1.32": ("2024-12-11", "2025-01-23", "2026-03-23", "2027-03-23", "1.32.11", "eks.40"),
    "1.33": ("2025-04-23", "2025-05-29", "2026-07-29", "2027-07-29", "1.33.12", "eks.33"),
    "1.34": ("2025-08-27", "2025-10-02", "2026-12-02", "2027-12-02", "1.34.10", "eks.27"),
    "1.35": ("2025-12-17", "2026-01-27", "2027-03-27", "2028-03-27", "1.35.6", "eks.17"),
    "1.36": ("2026-04-22", "2026-06-02", "2027-08-02", "2028-08-02", "1.36.3", "eks.6"),
}
VERSIONS = sorted(CALENDAR, key=lambda v: tuple(int(x) for x in v.split(".")))
# Newer Kubernetes versions tolerate kubelets up to this many minor versions older (since 1.28).
KUBELET_SKEW = 3


def minor(v):
    return int(v.split(".")[1])


def next_version(v):
    i = VERSIONS.index(v) if v in VERSIONS else -1
    return VERSIONS[i + 1] if 0 <= i < len(VERSIONS) - 1 else None


def status(v, now):
    """STANDARD_SUPPORT | EXTENDED_SUPPORT | UNSUPPORTED, or None before the EKS release."""
    _, rel, std, ext, _, _ = CALENDAR[v]
    if now < _ts(rel):
        return None
    if now < _ts(std):
        return "STANDARD_SUPPORT"
    if now < _ts(ext):
        return "EXTENDED_SUPPORT"
    return "UNSUPPORTED"


def available(now):
    """Versions a new cluster may use at simulated time now (standard or extended support)."""
    return [v for v in VERSIONS if status(v, now) in ("STANDARD_SUPPORT", "EXTENDED_SUPPORT")]


def default_version(now):
    """The version CreateCluster uses without one: the newest in standard support."""
    std = [v for v in VERSIONS if status(v, now) == "STANDARD_SUPPORT"]
    return std[-1] if std else (available(now) or VERSIONS)[-1]


def version_info(v, now):
    up, rel, std, ext, patch, platform = CALENDAR[v]
    st = status(v, now)
    return {"clusterVersion": v, "clusterType": "eks", "defaultPlatformVersion": platform,
            "defaultVersion": v == default_version(now), "releaseDate": _ts(rel),
            "endOfStandardSupportDate": _ts(std), "endOfExtendedSupportDate": _ts(ext),
            "status": st.lower().replace("_", "-"), "versionStatus": st, "kubernetesPatchVersion": patch}


# ----------------------------------------------------------------- add-ons

def _range(lo, hi):
    return [v for v in VERSIONS if minor(lo) <= minor(v) <= minor(hi)]


_BOOL = {"format": "boolean", "type": "string"}
_INT = {"format": "integer", "type": "string"}
_STR = {"type": "string"}
_RESOURCES = {"additionalProperties": False, "properties": {
    "limits": {"$ref": "#/definitions/Limits"}, "requests": {"$ref": "#/definitions/Limits"}},
    "title": "Resources", "type": "object"}
_LIMITS = {"additionalProperties": False, "properties": {"cpu": _STR, "memory": _STR}, "title": "Limits",
           "type": "object"}
_TOLERATIONS = {"items": {"type": "object"}, "type": "array"}

VPC_CNI_SCHEMA = {
    "$ref": "#/definitions/VpcCni", "$schema": "http://json-schema.org/draft-06/schema#",
    "definitions": {
        "Env": {"additionalProperties": False, "title": "Env", "type": "object", "properties": {
            "ADDITIONAL_ENI_TAGS": _STR, "ANNOTATE_POD_IP": _BOOL, "AWS_EC2_ENDPOINT": _STR,
            "AWS_EXTERNAL_SERVICE_CIDRS": _STR, "AWS_MANAGE_ENIS_NON_SCHEDULABLE": _BOOL,
            "AWS_VPC_CNI_NODE_PORT_SUPPORT": _BOOL, "AWS_VPC_ENI_MTU": _INT,
            "AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER": _BOOL, "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": _BOOL,
            "AWS_VPC_K8S_CNI_EXTERNALSNAT": _BOOL, "AWS_VPC_K8S_CNI_LOGLEVEL": _STR,
            "AWS_VPC_K8S_CNI_LOG_FILE": _STR, "AWS_VPC_K8S_CNI_RANDOMIZESNAT": _STR,
            "AWS_VPC_K8S_CNI_VETHPREFIX": _STR, "AWS_VPC_K8S_PLUGIN_LOG_FILE": _STR,
            "AWS_VPC_K8S_PLUGIN_LOG_LEVEL": _STR, "CLUSTER_ENDPOINT": _STR, "DISABLE_INTROSPECTION": _BOOL,
            "DISABLE_METRICS": _BOOL, "DISABLE_NETWORK_RESOURCE_PROVISIONING": _BOOL,
            "ENABLE_IPv4": _BOOL, "ENABLE_IPv6": _BOOL, "ENABLE_POD_ENI": _BOOL,
            "ENABLE_PREFIX_DELEGATION": _BOOL, "ENABLE_SUBNET_DISCOVERY": _BOOL, "ENI_CONFIG_LABEL_DEF": _STR,
            "MINIMUM_IP_TARGET": _INT, "NETWORK_POLICY_ENFORCING_MODE": {"enum": ["standard", "strict"],
                                                                         "type": "string"},
            "POD_SECURITY_GROUP_ENFORCING_MODE": {"enum": ["standard", "strict"], "type": "string"},
            "WARM_ENI_TARGET": _INT, "WARM_IP_TARGET": _INT, "WARM_PREFIX_TARGET": _INT}},
        "Init": {"additionalProperties": False, "title": "Init", "type": "object", "properties": {
            "env": {"additionalProperties": False, "type": "object", "properties": {
                "DISABLE_TCP_EARLY_DEMUX": _BOOL, "ENABLE_V6_EGRESS": _BOOL}}}},
        "NodeAgent": {"additionalProperties": False, "title": "NodeAgent", "type": "object", "properties": {
            "conntrackCacheCleanupPeriod": {"minimum": 1, "type": "integer"},
            "enableCloudWatchLogs": _BOOL, "enablePolicyEventLogs": _BOOL, "enableIpv6": _BOOL,
            "healthProbeBindAddr": _INT, "metricsBindAddr": _INT,
            "networkPolicyAgentLogFileLocation": _STR, "resources": {"$ref": "#/definitions/Resources"}}},
        "Limits": _LIMITS, "Resources": _RESOURCES,
        "VpcCni": {"additionalProperties": False, "title": "VpcCni", "type": "object", "properties": {
            "affinity": {"type": "object"}, "enableNetworkPolicy": _BOOL, "enableWindowsIpam": _BOOL,
            "enableWindowsPrefixDelegation": _BOOL, "env": {"$ref": "#/definitions/Env"},
            "eniConfig": {"type": "object"}, "init": {"$ref": "#/definitions/Init"},
            "livenessProbeTimeoutSeconds": {"minimum": 1, "type": "integer"},
            "nodeAgent": {"$ref": "#/definitions/NodeAgent"}, "podAnnotations": {"type": "object"},
            "podLabels": {"type": "object"}, "readinessProbeTimeoutSeconds": {"minimum": 1, "type": "integer"},
            "resources": {"$ref": "#/definitions/Resources"}, "tolerations": _TOLERATIONS,
            "updateStrategy": {"type": "object"}}}},
}

COREDNS_SCHEMA = {
    "$ref": "#/definitions/Coredns", "$schema": "http://json-schema.org/draft-06/schema#",
    "definitions": {
        "Limits": _LIMITS, "Resources": _RESOURCES,
        "Coredns": {"additionalProperties": False, "title": "Coredns", "type": "object", "properties": {
            "affinity": {"type": ["object", "null"]}, "autoScaling": {"type": "object", "properties": {
                "enabled": {"type": "boolean"}, "minReplicas": {"minimum": 2, "type": "integer"},
                "maxReplicas": {"minimum": 2, "type": "integer"}}, "additionalProperties": False},
            "computeType": _STR, "corefile": {"description": "Entire corefile contents to use with installation",
                                              "type": "string"},
            "nodeSelector": {"additionalProperties": {"type": "string"}, "type": "object"},
            "podAnnotations": {"type": "object"}, "podDisruptionBudget": {"type": "object"},
            "podLabels": {"type": "object"}, "replicaCount": {"minimum": 1, "type": "integer"},
            "resources": {"$ref": "#/definitions/Resources"}, "tolerations": _TOLERATIONS,
            "topologySpreadConstraints": {"type": "array"}}}},
}

KUBE_PROXY_SCHEMA = {
    "$ref": "#/definitions/KubeProxy", "$schema": "http://json-schema.org/draft-06/schema#",
    "definitions": {
        "Limits": _LIMITS, "Resources": _RESOURCES,
        "KubeProxy": {"additionalProperties": False, "title": "KubeProxy", "type": "object", "properties": {
            "ipvs": {"additionalProperties": False, "type": "object", "properties": {"scheduler": _STR}},
            "mode": {"enum": ["iptables", "ipvs", "nftables"], "type": "string"},
            "podAnnotations": {"type": "object"}, "podLabels": {"type": "object"},
            "resources": {"$ref": "#/definitions/Resources"}}}},
}

POD_IDENTITY_SCHEMA = {
    "$ref": "#/definitions/EksPodIdentityAgent", "$schema": "http://json-schema.org/draft-06/schema#",
    "definitions": {
        "Limits": _LIMITS, "Resources": _RESOURCES,
        "EksPodIdentityAgent": {"additionalProperties": False, "title": "EksPodIdentityAgent", "type": "object",
                                "properties": {
                                    "affinity": {"type": "object"},
                                    "agent": {"additionalProperties": False, "type": "object", "properties": {
                                        "additionalArgs": {"additionalProperties": {"type": "string"},
                                                           "type": "object"}}},
                                    "podAnnotations": {"type": "object"}, "podLabels": {"type": "object"},
                                    "resources": {"$ref": "#/definitions/Resources"},
                                    "tolerations": _TOLERATIONS}}},
}

# name -> type, schema, Kubernetes objects (for conflict messages), pod identity configuration,
#         versions newest first: (version, compatible Kubernetes versions)
ADDONS = {
    "vpc-cni": {
        "type": "networking", "schema": VPC_CNI_SCHEMA, "object": ("DaemonSet.apps", "aws-node"),
        "podIdentity": [{"serviceAccount": "aws-node",
                         "recommendedManagedPolicies": ["arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"]}],
        "versions": [("v1.21.1-eksbuild.1", _range("1.31", "1.36")), ("v1.20.4-eksbuild.2", _range("1.30", "1.35")),
                     ("v1.19.6-eksbuild.7", _range("1.29", "1.33"))],
    },
    "coredns": {
        "type": "networking", "schema": COREDNS_SCHEMA, "object": ("Deployment.apps", "coredns"),
        "podIdentity": [],
        "versions": [("v1.13.1-eksbuild.1", _range("1.35", "1.36")), ("v1.12.4-eksbuild.1", _range("1.33", "1.35")),
                     ("v1.11.4-eksbuild.24", _range("1.29", "1.32"))],
    },
    "kube-proxy": {
        "type": "networking", "schema": KUBE_PROXY_SCHEMA, "object": ("DaemonSet.apps", "kube-proxy"),
        "podIdentity": [],
        "versions": [item for v in reversed(VERSIONS) for item in (
            (f"v{CALENDAR[v][4]}-eksbuild.2", [v]),
            (f"v{v}.{max(int(CALENDAR[v][4].split('.')[2]) - 1, 0)}-eksbuild.1", [v]))],
    },
    "eks-pod-identity-agent": {
        "type": "security", "schema": POD_IDENTITY_SCHEMA, "object": ("DaemonSet.apps", "eks-pod-identity-agent"),
        "podIdentity": [],
        "versions": [("v1.3.10-eksbuild.1", _range("1.30", "1.36")), ("v1.3.8-eksbuild.2", _range("1.29", "1.35"))],
    },
}
# Installed by CreateCluster unless bootstrapSelfManagedAddons is false (self-managed, not EKS add-ons).
SELF_MANAGED = ("vpc-cni", "kube-proxy", "coredns")


def addon_versions(name, k8s=None):
    """[(version, compatible k8s versions)] newest first, only those compatible with k8s if given."""
    a = ADDONS.get(name)
    if a is None:
        return []
    return [(v, c) for v, c in a["versions"] if k8s is None or k8s in c]


def default_addon_version(name, k8s):
    vs = addon_versions(name, k8s)
    return vs[0][0] if vs else None


def compatible(name, version, k8s):
    return any(v == version and k8s in c for v, c in addon_versions(name))


def known_version(name, version):
    return any(v == version for v, _ in addon_versions(name))


# ------------------------------------------------------- schema validation

def _jtype(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def validate_config(schema, value):
    """Errors as EKS's JSON-schema validator words them, e.g.
    "$.enableNetworkPolicy: boolean found, string expected"."""
    errors = []
    defs = schema.get("definitions", {})

    def resolve(s):
        while "$ref" in s:
            s = defs[s["$ref"].rsplit("/", 1)[-1]]
        return s

    def check(s, v, path):
        s = resolve(s)
        want = s.get("type")
        have = _jtype(v)
        if want is not None:
            wants = want if isinstance(want, list) else [want]
            if not (have in wants or (have == "integer" and "number" in wants)):
                errors.append(f"{path}: {have} found, {', '.join(wants)} expected")
                return
        if "enum" in s and v not in s["enum"]:
            errors.append(f"{path}: does not have a value in the enumeration [{', '.join(map(str, s['enum']))}]")
        fmt = s.get("format")
        if have == "string" and fmt == "boolean" and v not in ("true", "false"):
            errors.append(f"{path}: does not match the boolean pattern ^(true|false)$")
        if have == "string" and fmt == "integer" and not v.lstrip("-").isdigit():
            errors.append(f"{path}: does not match the integer pattern ^-?[0-9]+$")
        if have in ("integer", "number") and "minimum" in s and v < s["minimum"]:
            errors.append(f"{path}: must have a minimum value of {s['minimum']}")
        if have == "object":
            props = s.get("properties", {})
            for k, x in v.items():
                if k in props:
                    check(props[k], x, f"{path}.{k}")
                elif isinstance(s.get("additionalProperties"), dict):
                    check(s["additionalProperties"], x, f"{path}.{k}")
                elif s.get("additionalProperties") is False:
                    errors.append(f"{path}.{k}: is not defined in the schema and the schema does not allow "
                                  "additional properties")
        if have == "array" and "items" in s:
            for i, x in enumerate(v):
                check(s["items"], x, f"{path}[{i}]")

    check(schema, value, "$")
    return errors
