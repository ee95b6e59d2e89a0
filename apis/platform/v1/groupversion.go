// Package v1 holds the Auth0EventStream composite resource of the
// auth0.openmcf.org API group: the platform API users write. It is the one
// source of the API's schema: make generate writes both XRDs
// (package/configuration and package/configuration-legacy) from these types,
// and the function validates XRs with the schema generated from them.
// +kubebuilder:object:generate=true
// +groupName=auth0.openmcf.org
// +versionName=v1
package v1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Package type metadata.
const (
	Group   = "auth0.openmcf.org"
	Version = "v1"
	// Kind is the namespaced composite's (and the legacy claim's) kind.
	Kind = "Auth0EventStream"
)

// SchemeGroupVersion is the group version of the composite.
var SchemeGroupVersion = schema.GroupVersion{Group: Group, Version: Version}
