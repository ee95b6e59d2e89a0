package v1alpha1

import (
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
)

// Credential sources a ProviderConfig accepts.
const (
	// CredentialsSourceSecret reads the Auth0 credentials from the keys of a
	// Secret (see the Credential* key constants).
	CredentialsSourceSecret = xpv2.CredentialsSourceSecret
	// CredentialsSourceEnvironment reads AUTH0_DOMAIN, AUTH0_CLIENT_ID,
	// AUTH0_CLIENT_SECRET (and optionally AUTH0_AUDIENCE) from the provider
	// process environment.
	CredentialsSourceEnvironment = xpv2.CredentialsSourceEnvironment
)

// Keys of a credentials Secret.
const (
	// CredentialDomain is the tenant domain, e.g. example.eu.auth0.com, or
	// host:port of a local simulator.
	CredentialDomain = "domain"
	// CredentialClientID is the client id of the machine-to-machine app.
	CredentialClientID = "clientId"
	// CredentialClientSecret is the client secret of the machine-to-machine
	// app.
	CredentialClientSecret = "clientSecret"
	// CredentialAudience optionally overrides the token audience, which is
	// https://{domain}/api/v2/ by default.
	CredentialAudience = "audience"
	// CredentialCACert optionally holds PEM certificates to trust for the
	// tenant's TLS certificate in addition to the system roots (a local
	// simulator's CA).
	CredentialCACert = "caCert"
)

// LocalCredentials selects the Auth0 credentials of a namespaced
// ProviderConfig. Its Secret must be in the ProviderConfig's namespace.
// +kubebuilder:validation:XValidation:rule="self.source != 'Secret' || has(self.secretRef)",message="credentials.secretRef is required when credentials.source is Secret"
type LocalCredentials struct {
	// Source of the credentials: a Secret with keys domain, clientId,
	// clientSecret and optional audience and caCert. Environment (the
	// provider's own credentials) is only allowed in a
	// ClusterProviderConfig: in a namespaced ProviderConfig it would hand
	// them to anyone allowed to create ProviderConfigs in a namespace.
	// +kubebuilder:validation:Enum=Secret;Environment
	// +kubebuilder:validation:XValidation:rule="self != 'Environment'",message="credentials.source Environment (the provider's own credentials) is only allowed in a ClusterProviderConfig; a namespaced ProviderConfig must use source Secret"
	Source xpv2.CredentialsSource `json:"source"`

	// SecretRef names the credentials Secret in the ProviderConfig's
	// namespace.
	// +optional
	SecretRef *xpv2.LocalSecretReference `json:"secretRef,omitempty"`
}

// ClusterCredentials selects the Auth0 credentials of a
// ClusterProviderConfig.
// +kubebuilder:validation:XValidation:rule="self.source != 'Secret' || has(self.secretRef)",message="credentials.secretRef is required when credentials.source is Secret"
type ClusterCredentials struct {
	// Source of the credentials: a Secret with keys domain, clientId,
	// clientSecret and optional audience and caCert, or the provider's
	// environment (AUTH0_DOMAIN, AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET).
	// +kubebuilder:validation:Enum=Secret;Environment
	Source xpv2.CredentialsSource `json:"source"`

	// SecretRef names the credentials Secret and its namespace.
	// +optional
	SecretRef *xpv2.SecretReference `json:"secretRef,omitempty"`
}

// Import policies of a ProviderConfig.
const (
	// ImportPolicyObserveOnly: an EventStream naming a stream it did not
	// create only observes it; the provider never changes or deletes it.
	ImportPolicyObserveOnly = "ObserveOnly"
	// ImportPolicyManage: an EventStream naming a stream no other
	// EventStream or Workspace claims takes it over: the provider records
	// it as the resource's own and changes and deletes it from then on.
	ImportPolicyManage = "Manage"
)

// ProviderConfigSpec configures how the provider reaches an Auth0 tenant.
type ProviderConfigSpec struct {
	// Credentials of an Auth0 machine-to-machine application authorized for
	// the Management API with the event stream scopes.
	Credentials LocalCredentials `json:"credentials"`

	// ImportPolicy says what an EventStream using this config may do with
	// an existing stream it names but did not create (an import):
	// ObserveOnly (the default) reads it and never changes or deletes it;
	// Manage takes it over when no other EventStream or Workspace claims
	// it.
	// +kubebuilder:validation:Enum=ObserveOnly;Manage
	// +kubebuilder:default=ObserveOnly
	// +optional
	ImportPolicy string `json:"importPolicy,omitempty"`
}

// ClusterProviderConfigSpec configures how the provider reaches an Auth0
// tenant.
type ClusterProviderConfigSpec struct {
	// Credentials of an Auth0 machine-to-machine application authorized for
	// the Management API with the event stream scopes.
	Credentials ClusterCredentials `json:"credentials"`

	// ImportPolicy says what an EventStream using this config may do with
	// an existing stream it names but did not create (an import):
	// ObserveOnly (the default) reads it and never changes or deletes it;
	// Manage takes it over when no other EventStream or Workspace claims
	// it.
	// +kubebuilder:validation:Enum=ObserveOnly;Manage
	// +kubebuilder:default=ObserveOnly
	// +optional
	ImportPolicy string `json:"importPolicy,omitempty"`

	// NamespaceSelector selects the namespaces whose EventStreams may use
	// this config, by the namespaces' labels (kubernetes.io/metadata.name
	// selects by name). Unset, every namespace may; an empty selector ({})
	// also selects every namespace. The provider refuses an EventStream of
	// another namespace before reading the credentials or calling Auth0.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// A ProviderConfigStatus is the observed state of a ProviderConfig.
type ProviderConfigStatus struct {
	xpv2.ProviderConfigStatus `json:",inline"`
}

// A ProviderConfig configures the Auth0 provider for managed resources in its
// namespace.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="SOURCE",type="string",JSONPath=".spec.credentials.source"
// +kubebuilder:printcolumn:name="USERS",type="integer",JSONPath=".status.users"
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:resource:scope=Namespaced,categories={crossplane,provider,auth0}
type ProviderConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ProviderConfigSpec   `json:"spec"`
	Status ProviderConfigStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ProviderConfigList contains a list of ProviderConfig.
type ProviderConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []ProviderConfig `json:"items"`
}

// A ClusterProviderConfig configures the Auth0 provider for managed resources
// in any namespace.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="SOURCE",type="string",JSONPath=".spec.credentials.source"
// +kubebuilder:printcolumn:name="USERS",type="integer",JSONPath=".status.users"
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:resource:scope=Cluster,categories={crossplane,provider,auth0}
type ClusterProviderConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClusterProviderConfigSpec `json:"spec"`
	Status ProviderConfigStatus      `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ClusterProviderConfigList contains a list of ClusterProviderConfig.
type ClusterProviderConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []ClusterProviderConfig `json:"items"`
}

// A ProviderConfigUsage records that a managed resource uses a
// ProviderConfig, so the ProviderConfig is not deleted while in use.
// +kubebuilder:object:root=true
// +kubebuilder:printcolumn:name="CONFIG-NAME",type="string",JSONPath=".providerConfigRef.name"
// +kubebuilder:printcolumn:name="RESOURCE-KIND",type="string",JSONPath=".resourceRef.kind"
// +kubebuilder:printcolumn:name="RESOURCE-NAME",type="string",JSONPath=".resourceRef.name"
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:resource:scope=Namespaced,categories={crossplane,provider,auth0}
type ProviderConfigUsage struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	xpv2.TypedProviderConfigUsage `json:",inline"`
}

// +kubebuilder:object:root=true

// ProviderConfigUsageList contains a list of ProviderConfigUsage.
type ProviderConfigUsageList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []ProviderConfigUsage `json:"items"`
}

// A ClusterProviderConfigUsage records that a managed resource uses a
// ClusterProviderConfig.
// +kubebuilder:object:root=true
// +kubebuilder:printcolumn:name="CONFIG-NAME",type="string",JSONPath=".providerConfigRef.name"
// +kubebuilder:printcolumn:name="RESOURCE-KIND",type="string",JSONPath=".resourceRef.kind"
// +kubebuilder:printcolumn:name="RESOURCE-NAME",type="string",JSONPath=".resourceRef.name"
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:resource:scope=Cluster,categories={crossplane,provider,auth0}
type ClusterProviderConfigUsage struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	xpv2.TypedProviderConfigUsage `json:",inline"`
}

// +kubebuilder:object:root=true

// ClusterProviderConfigUsageList contains a list of
// ClusterProviderConfigUsage.
type ClusterProviderConfigUsageList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []ClusterProviderConfigUsage `json:"items"`
}

// ProviderConfig type metadata.
var (
	ProviderConfigKind                    = reflect.TypeFor[ProviderConfig]().Name()
	ProviderConfigGroupKind               = schema.GroupKind{Group: Group, Kind: ProviderConfigKind}.String()
	ProviderConfigGroupVersionKind        = SchemeGroupVersion.WithKind(ProviderConfigKind)
	ClusterProviderConfigKind             = reflect.TypeFor[ClusterProviderConfig]().Name()
	ClusterProviderConfigGroupKind        = schema.GroupKind{Group: Group, Kind: ClusterProviderConfigKind}.String()
	ClusterProviderConfigGroupVersionKind = SchemeGroupVersion.WithKind(ClusterProviderConfigKind)

	ProviderConfigUsageGroupVersionKind            = SchemeGroupVersion.WithKind(reflect.TypeFor[ProviderConfigUsage]().Name())
	ProviderConfigUsageListGroupVersionKind        = SchemeGroupVersion.WithKind(reflect.TypeFor[ProviderConfigUsageList]().Name())
	ClusterProviderConfigUsageGroupVersionKind     = SchemeGroupVersion.WithKind(reflect.TypeFor[ClusterProviderConfigUsage]().Name())
	ClusterProviderConfigUsageListGroupVersionKind = SchemeGroupVersion.WithKind(reflect.TypeFor[ClusterProviderConfigUsageList]().Name())
)

func init() {
	SchemeBuilder.Register(&ProviderConfig{}, &ProviderConfigList{})
	SchemeBuilder.Register(&ClusterProviderConfig{}, &ClusterProviderConfigList{})
	SchemeBuilder.Register(&ProviderConfigUsage{}, &ProviderConfigUsageList{})
	SchemeBuilder.Register(&ClusterProviderConfigUsage{}, &ClusterProviderConfigUsageList{})
}
