"""kubesim: a local Kubernetes API server simulator for secfaas tests.

Modules: util (errors, selectors, time), cel (CEL subset), ssa (server-side
apply field sets and merging), registry (resource types, discovery, OpenAPI),
store (objects, resourceVersion, event log), admission (mutating/validating
policies, RuntimeClass plugin), auth (EKS STS tokens), controllers (fake
kube-controller-manager, scheduler, kubelet, cloud controller), gateway
(OpenFaaS CE gateway emulation) and server (HTTP routing).
"""
