package secretcache

// New's metadata informer lists and watches every Secret: what
// --secret-watch=cluster needs besides the least privilege (make generate
// writes package/provider-rbac/secret-watch.yaml from this marker).
//
// +kubebuilder:rbac:groups="",resources=secrets,verbs=list;watch
