// Package v1beta1 contains the input type of the Auth0EventStream composition
// function.
// +kubebuilder:object:generate=true
// +groupName=auth0eventstream.fn.openmcf.org
// +versionName=v1beta1
package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
)

// Backends the function can compose for.
const (
	// BackendNative composes the auth0.m.openmcf.org EventStream managed
	// resource served by this project's provider.
	BackendNative = "native"
	// BackendTerraform composes a tf.m.upbound.io Workspace of
	// provider-terraform v1.0.1 whose inline module manages the stream with
	// terraform-provider-auth0's auth0_event_stream.
	BackendTerraform = "terraform"
	// BackendNone composes nothing: a valid composite (its Secret
	// fetched, as for native) is Ready on Crossplane core's and the
	// function's work alone. It is the floor make bench-e2e measures the
	// whole loop against, not a way to manage streams.
	BackendNone = "none"
)

// Import policies: what a composite naming an existing stream
// (spec.streamId) may do with it.
const (
	// ImportObserveOnly composes such a composite Observe-only, whatever
	// it asks: the stream is read, never changed or deleted. A composite
	// whose own managementPolicies ask for more is refused.
	ImportObserveOnly = "ObserveOnly"
	// ImportManage lets such a composite manage the stream with its
	// management policies once the stream is found (adoption).
	ImportManage = "Manage"
)

// EventTypePattern is what an event type looks like: dotted lower-case
// words, the rule the XRD holds each of spec.subscriptions to.
const EventTypePattern = `^[a-z0-9_]+(\.[a-z0-9_]+)+$`

// Input configures the Auth0EventStream composition function. Every field is
// optional; an XR may override providerConfigRef (within
// allowedProviderConfigs) and managementPolicies.
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:resource:categories=crossplane
type Input struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Backend selects what the function composes: native, the
	// auth0.m.openmcf.org EventStream of this project's provider, or
	// terraform, a provider-terraform (tf.m.upbound.io) Workspace. With
	// terraform, providerConfigRef and allowedProviderConfigs name
	// provider-terraform's ProviderConfigs, which carry the Auth0 tenant's
	// credentials. none composes nothing (the benchmarks' floor).
	// +kubebuilder:validation:Enum=native;terraform;none
	// +kubebuilder:default=native
	// +optional
	Backend string `json:"backend,omitempty"`

	// ProviderConfigRef composed EventStreams use unless the XR sets its own.
	// Defaults to the ClusterProviderConfig named default.
	// +optional
	ProviderConfigRef *xpv2.ProviderConfigReference `json:"providerConfigRef,omitempty"`

	// AllowedProviderConfigs restricts the ProviderConfigs composed
	// EventStreams may use, whether an XR chose one or the default applies:
	// an EventStream is composed only when its providerConfigRef matches an
	// entry. An entry without a name allows every ProviderConfig of its
	// kind (a namespaced ProviderConfig is always one in the XR's
	// namespace). Omitted, every ProviderConfig is allowed.
	// +kubebuilder:validation:MinItems=1
	// +listType=atomic
	// +optional
	AllowedProviderConfigs []ProviderConfigSelector `json:"allowedProviderConfigs,omitempty"`

	// ManagementPolicies composed EventStreams use unless the XR sets its
	// own. Defaults to ["*"].
	// +optional
	ManagementPolicies xpv2.ManagementPolicies `json:"managementPolicies,omitempty"`

	// NamePrefix is prepended to the metadata.name of every composed
	// resource (not to the Auth0 stream name).
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?-?)?$`
	// +optional
	NamePrefix string `json:"namePrefix,omitempty"`

	// ImportPolicy is the platform's decision on what a composite naming an
	// existing Auth0 stream (spec.streamId) may do with a stream no
	// resource of ours created. ObserveOnly (the default) only reads it:
	// the composed EventStream is Observe-only whatever the composite
	// asks, and a composite whose own managementPolicies ask for more is
	// refused; the terraform backend, which cannot only observe, refuses
	// spec.streamId. Manage lets the composite adopt the stream with its
	// policies once it is found (the provider's ProviderConfig must allow
	// it too: its spec.importPolicy Manage).
	// +kubebuilder:validation:Enum=ObserveOnly;Manage
	// +kubebuilder:default=ObserveOnly
	// +optional
	ImportPolicy string `json:"importPolicy,omitempty"`

	// ExtraEventTypes are event types spec.subscriptions may name beyond
	// Auth0's event type catalog embedded in this release of the function,
	// for types Auth0 added since. Any other type outside the catalog is
	// refused, as Auth0 would refuse it.
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9_]+(\.[a-z0-9_]+)+$`
	// +kubebuilder:validation:items:MaxLength=128
	// +listType=set
	// +optional
	ExtraEventTypes []string `json:"extraEventTypes,omitempty"`

	// Terraform configures the terraform backend. Only allowed with
	// backend terraform.
	// +optional
	Terraform *Terraform `json:"terraform,omitempty"`

	// ComposeEventBus lets composites ask for an EventBridge event bus
	// (spec.eventbridgeConfiguration.eventBus): the function then composes
	// a cloudwatchevents.aws.m.upbound.io Bus of provider-aws-cloudwatchevents
	// once Auth0 names the partner event source. Only a Composition whose
	// Configuration depends on that provider sets it, so no other emits a
	// kind whose CRD may not be installed; without it such a composite is
	// refused.
	// +optional
	ComposeEventBus bool `json:"composeEventBus,omitempty"`
}

// How a composed Workspace's Terraform state is kept apart from every other
// Workspace's.
const (
	// StateIsolationPerWorkspace names each Workspace's Terraform workspace
	// (its crossplane.io/external-name) after its name and a hash of its
	// namespace and name, so two namespaces never share a state even when
	// the ProviderConfig keeps every state in one place (one kubernetes
	// backend secret_suffix per ProviderConfig).
	StateIsolationPerWorkspace = "PerWorkspace"
	// StateIsolationProviderConfig leaves the Terraform workspace named
	// after the Workspace, as provider-terraform does, for a ProviderConfig
	// whose backend keeps namespaces apart by itself.
	StateIsolationProviderConfig = "ProviderConfig"
)

// Terraform configures the terraform backend.
type Terraform struct {
	// StateIsolation says how each Workspace's state is kept apart:
	// PerWorkspace (the default) gives each Workspace a Terraform workspace
	// unique per namespace and name, so two namespaces never share state;
	// ProviderConfig names the Terraform workspace after the Workspace and
	// leaves the rest to the ProviderConfig's backend.
	// +kubebuilder:validation:Enum=PerWorkspace;ProviderConfig
	// +kubebuilder:default=PerWorkspace
	// +optional
	StateIsolation string `json:"stateIsolation,omitempty"`
}

// Kinds of ProviderConfig an EventStream may reference.
const (
	KindProviderConfig        = "ProviderConfig"
	KindClusterProviderConfig = "ClusterProviderConfig"
)

// ProviderConfigSelector selects ProviderConfigs by kind, and by name when
// one is given.
type ProviderConfigSelector struct {
	// Kind of the ProviderConfig.
	// +kubebuilder:validation:Enum=ClusterProviderConfig;ProviderConfig
	Kind string `json:"kind"`

	// Name of the ProviderConfig. Omitted, every name of the kind matches.
	// +kubebuilder:validation:MinLength=1
	// +optional
	Name string `json:"name,omitempty"`
}

// Matches reports whether ref is selected.
func (s ProviderConfigSelector) Matches(kind, name string) bool {
	return s.Kind == kind && (s.Name == "" || s.Name == name)
}

// String is kind/name, or kind/* for every name of the kind.
func (s ProviderConfigSelector) String() string {
	if s.Name == "" {
		return s.Kind + "/*"
	}
	return s.Kind + "/" + s.Name
}
