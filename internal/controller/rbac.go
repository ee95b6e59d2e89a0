package controller

// LeaderElectionID names the provider's leader election Lease.
const LeaderElectionID = "crossplane-leader-election-provider-auth0-eventstream"

// The provider's least privilege with --secret-watch=none, for installs
// where Crossplane's RBAC manager does not grant it (make generate writes
// package/provider-rbac/least-privilege.yaml from these markers;
// TestLeastPrivilege runs the provider with nothing more). Secrets: get
// only, cluster-wide (credentials and webhook Secrets may be in any
// namespace); in the provider's own namespace, create for the proof key
// (create cannot be narrowed to a name) and patch of it, and the leader
// election Lease. The namespace is --namespace's and
// --leader-election-namespace's default.
//
// +kubebuilder:rbac:groups=auth0.m.openmcf.org,resources=eventstreams,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=auth0.m.openmcf.org,resources=eventstreams/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=auth0.m.openmcf.org,resources=eventstreams/finalizers,verbs=update
// +kubebuilder:rbac:groups=auth0.m.openmcf.org,resources=providerconfigs;clusterproviderconfigs,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=auth0.m.openmcf.org,resources=providerconfigs/status;clusterproviderconfigs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=auth0.m.openmcf.org,resources=providerconfigs/finalizers;clusterproviderconfigs/finalizers,verbs=update
// +kubebuilder:rbac:groups=auth0.m.openmcf.org,resources=providerconfigusages,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;list;watch
// +kubebuilder:rbac:groups=tf.m.upbound.io,resources=workspaces,verbs=get;list
// +kubebuilder:rbac:groups="",namespace=crossplane-system,resources=secrets,verbs=create
// +kubebuilder:rbac:groups="",namespace=crossplane-system,resources=secrets,resourceNames=auth0-eventstream-proof-key,verbs=patch
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=crossplane-system,resources=leases,verbs=create
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=crossplane-system,resources=leases,resourceNames=crossplane-leader-election-provider-auth0-eventstream,verbs=get;update
