// Package v1alpha1 holds the managed resource and ProviderConfig types of the
// auth0.m.openmcf.org API group: the namespaced, provider-level view of an
// Auth0 event stream.
// +kubebuilder:object:generate=true
// +groupName=auth0.m.openmcf.org
// +versionName=v1alpha1
package v1alpha1

import (
	"reflect"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

// Package type metadata.
const (
	Group   = "auth0.m.openmcf.org"
	Version = "v1alpha1"
)

var (
	// SchemeGroupVersion is group version used to register these objects.
	SchemeGroupVersion = schema.GroupVersion{Group: Group, Version: Version}

	// SchemeBuilder is used to add go types to the GroupVersionKind scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: SchemeGroupVersion}

	// AddToScheme adds the types of this group to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// EventStream type metadata.
var (
	EventStreamKind             = reflect.TypeFor[EventStream]().Name()
	EventStreamGroupKind        = schema.GroupKind{Group: Group, Kind: EventStreamKind}.String()
	EventStreamKindAPIVersion   = EventStreamKind + "." + SchemeGroupVersion.String()
	EventStreamGroupVersionKind = SchemeGroupVersion.WithKind(EventStreamKind)
)

func init() {
	SchemeBuilder.Register(&EventStream{}, &EventStreamList{})
}
