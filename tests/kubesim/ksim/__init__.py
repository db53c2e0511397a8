"""kubesim: a local Kubernetes API server simulator for secfaas tests.

Owned by the kubesim suite (tests/kubesim).  Modules: util (errors,
selectors, time), cel (CEL subset), ssa (server-side apply field sets and
merging, merge/strategic/RFC 6902 JSON patches), registry (resource types,
discovery, OpenAPI), store (objects, resourceVersion, event log), admission
(the admission chain: RuntimeClass, mutating/validating policies,
PodSecurity, reinvocation), webhooks (admission webhooks called for real over
HTTPS), auth (EKS STS tokens), controllers (fake kube-controller-manager,
scheduler, kubelet, cloud controller), runner (the kubelet's real processes
for pods of the official Python image), gateway (OpenFaaS CE gateway
emulation) and server (HTTP routing).
"""
