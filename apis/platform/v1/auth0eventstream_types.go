package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Destination types, authorization methods and stream statuses, as Auth0
// names them.
const (
	DestinationEventBridge = "eventbridge"
	DestinationWebhook     = "webhook"
	DestinationAction      = "action"

	AuthMethodBasic        = "basic"
	AuthMethodBearer       = "bearer"
	AuthMethodCustomHeader = "custom_header"

	StreamStatusEnabled  = "enabled"
	StreamStatusDisabled = "disabled"
)

// The printer columns, like every rule below, are copied into both XRDs by
// make generate.

// An Auth0EventStream delivers real-time Auth0 events to AWS EventBridge, an HTTPS webhook or an Auth0 Action.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,categories=auth0
// +kubebuilder:printcolumn:name="DESTINATION",type=string,JSONPath=".spec.destinationType"
// +kubebuilder:printcolumn:name="STREAM-ID",type=string,JSONPath=".status.outputs.id"
// +kubebuilder:printcolumn:name="STREAM-STATUS",type=string,JSONPath=".status.outputs.status"
// +kubebuilder:printcolumn:name="FAILED-24H",type=integer,JSONPath=".status.deliveries.failed24h",description="Deliveries that failed in the last 24 hours, from Auth0's stats."
// +kubebuilder:printcolumn:name="REASON",type=string,JSONPath=".status.conditions[?(@.type=='StreamReady')].reason",description="Why the Auth0 stream is or is not ready, from the EventStream managed resource."
// +kubebuilder:printcolumn:name="MESSAGE",type=string,JSONPath=".status.conditions[?(@.type=='StreamReady')].message",priority=1
type Auth0EventStream struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// The desired Auth0 event stream.
	Spec   Auth0EventStreamSpec   `json:"spec"`
	Status Auth0EventStreamStatus `json:"status,omitempty"`
}

// The block that matches destinationType is required and the others are
// forbidden, so that a stream's configuration is never ambiguous.
//
// The last rule is a transition rule, evaluated on updates only: removing the
// id would drop the EventStream's external name, and a stream that Crossplane
// may create would look new: a second stream.

// Auth0EventStreamSpec is the desired Auth0 event stream.
// +kubebuilder:validation:XValidation:rule="self.destinationType == 'webhook' ? has(self.webhookConfiguration) : !has(self.webhookConfiguration)",message="spec.webhookConfiguration is required when spec.destinationType is webhook, and forbidden otherwise"
// +kubebuilder:validation:XValidation:rule="self.destinationType == 'eventbridge' ? has(self.eventbridgeConfiguration) : !has(self.eventbridgeConfiguration)",message="spec.eventbridgeConfiguration is required when spec.destinationType is eventbridge, and forbidden otherwise"
// +kubebuilder:validation:XValidation:rule="self.destinationType == 'action' ? has(self.actionConfiguration) : !has(self.actionConfiguration)",message="spec.actionConfiguration is required when spec.destinationType is action, and forbidden otherwise"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.streamId) || has(self.streamId)",message="spec.streamId cannot be removed once set; set it back, or delete the resource (with managementPolicies without Delete to keep the stream)"
type Auth0EventStreamSpec struct {
	// Name of the stream in Auth0. Defaults to the resource's name (a claim's name for claims). Auth0 does not require names to be unique.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Name string `json:"name,omitempty"`

	// ID of an existing Auth0 stream to import instead of creating one, composed as the EventStream's crossplane.io/external-name. With managementPolicies [Observe] the stream is only read; with policies that allow Update it is adopted and brought to this spec. It cannot be removed once set, and can change only to the id the EventStream already holds, or while the stream it names has not been found.
	// +kubebuilder:validation:Pattern=`^est_[A-Za-z0-9]{22}$`
	// +optional
	StreamID string `json:"streamId,omitempty"`

	// Where events are delivered. Determines which configuration block is required.
	// +kubebuilder:validation:Enum=eventbridge;webhook;action
	DestinationType string `json:"destinationType"`

	// The list type rejects duplicates at the API server; the rule also
	// rejects them where only CEL is evaluated (crossplane beta validate).

	// Event types this stream subscribes to, such as user.created. Only matching events are delivered.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9_]+(\.[a-z0-9_]+)+$`
	// +listType=set
	// +kubebuilder:validation:XValidation:rule="self.all(x, self.exists_one(y, y == x))",message="spec.subscriptions must not contain duplicate event types"
	Subscriptions []string `json:"subscriptions"`

	// Desired state of the stream in Auth0.
	// +kubebuilder:validation:Enum=enabled;disabled
	// +kubebuilder:default=enabled
	// +optional
	Status string `json:"status,omitempty"`

	// Required when destinationType is eventbridge. Auth0 cannot change account or region of an existing stream, so a change replaces it.
	// +optional
	EventBridgeConfiguration *EventBridgeConfiguration `json:"eventbridgeConfiguration,omitempty"`

	// Required when destinationType is webhook.
	// +optional
	WebhookConfiguration *WebhookConfiguration `json:"webhookConfiguration,omitempty"`

	// Required when destinationType is action.
	// +optional
	ActionConfiguration *ActionConfiguration `json:"actionConfiguration,omitempty"`

	// ProviderConfig of the composed EventStream. Defaults to the function input's, or the ClusterProviderConfig named default.
	// +optional
	ProviderConfigRef *ProviderConfigReference `json:"providerConfigRef,omitempty"`

	// The list type rejects duplicates at the API server; the first rule
	// also where only CEL is evaluated (crossplane beta validate). The second
	// admits only the sets crossplane-runtime's managed reconciler supports
	// (defaultSupportedManagementPolicies, crossplane-runtime v2.3): the
	// provider would refuse any other.

	// Management policies of the composed EventStream. Defaults to the function input's, or ["*"]. Only the combinations Crossplane supports are allowed: ["*"], ["Observe"] and the sets listed at https://docs.crossplane.io/latest/managed-resources/managed-resources/#managementpolicies.
	// +kubebuilder:validation:MaxItems=6
	// +kubebuilder:validation:items:Enum=Observe;Create;Update;Delete;LateInitialize;*
	// +listType=set
	// +kubebuilder:validation:XValidation:rule="self.all(x, self.exists_one(y, y == x))",message="spec.managementPolicies must not contain duplicate policies"
	// +kubebuilder:validation:XValidation:rule="self.size() == 0 || [['*'], ['Observe'], ['Observe', 'Create', 'Update', 'LateInitialize', 'Delete'], ['Observe', 'Create', 'Update', 'Delete'], ['Observe', 'Create', 'Update', 'LateInitialize'], ['Observe', 'Create', 'Update'], ['Observe', 'Create', 'Delete', 'LateInitialize'], ['Observe', 'Create', 'LateInitialize'], ['Observe', 'Create', 'Delete'], ['Observe', 'Create'], ['Observe', 'Delete'], ['Observe', 'Update'], ['Observe', 'LateInitialize'], ['Observe', 'Update', 'LateInitialize']].exists(s, s.size() == self.size() && s.all(a, a in self))",message="spec.managementPolicies must be a combination Crossplane supports, such as [\"*\"], [\"Observe\"] or [\"Observe\", \"Create\", \"Update\", \"LateInitialize\"] (without Delete)"
	// +optional
	ManagementPolicies []string `json:"managementPolicies,omitempty"`
}

// EventBridgeConfiguration is where an eventbridge stream delivers.
type EventBridgeConfiguration struct {
	// 12-digit AWS account ID where Auth0 creates a partner event source.
	// +kubebuilder:validation:Pattern=`^[0-9]{12}$`
	AWSAccountID string `json:"awsAccountId"`

	// AWS region of the EventBridge event bus, such as us-east-1.
	// +kubebuilder:validation:Pattern=`^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$`
	AWSRegion string `json:"awsRegion"`

	// An EventBridge event bus associated with the partner event source Auth0 creates, composed with the Crossplane AWS provider (provider-aws-cloudwatchevents) once Auth0 has named the source. Omitted, or create false, the source is left for you to associate. Only the Composition of configuration-auth0-eventstream-eventbridge composes it; other Compositions refuse it.
	// +optional
	EventBus *EventBus `json:"eventBus,omitempty"`
}

// EventBus asks for the event bus that receives the stream's events in AWS.
// +kubebuilder:validation:XValidation:rule="self.create || !has(self.providerConfigRef)",message="spec.eventbridgeConfiguration.eventBus.providerConfigRef is only allowed when create is true"
type EventBus struct {
	// Whether to create an event bus named after the partner event source, in awsRegion, which associates the source with it. false leaves the association to you.
	Create bool `json:"create"`

	// ProviderConfig of the AWS provider the composed Bus uses. Defaults to the ClusterProviderConfig named default.
	// +optional
	ProviderConfigRef *ProviderConfigReference `json:"providerConfigRef,omitempty"`
}

// WebhookConfiguration is where and how a webhook stream delivers.
type WebhookConfiguration struct {
	// The endpoint's rules are CEL rules with reason FieldValueForbidden,
	// not a pattern: a refused pattern (or a rule's Invalid) quotes the
	// value, and an endpoint may carry a password (user-info).
	// They follow what Auth0 (and the simulator, net/url) accept: an
	// absolute https URL with a host, optionally a port, path, query and
	// fragment. The length bounds the rules' cost, which the API server
	// estimates from it.

	// HTTPS URL that receives event payloads via POST, such as https://api.example.com/hook; ports and query strings are allowed.
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:XValidation:rule=`self.matches('(?i)^https://([^/?#]*@)?([^/?#@\\[\\]:]+|\\[[0-9A-Fa-f:.]+\\])(:[0-9]*)?([/?#].*)?$')`,reason=FieldValueForbidden,message="spec.webhookConfiguration.webhookEndpoint must be an absolute https URL with a host, such as https://api.example.com/hook"
	// +kubebuilder:validation:XValidation:rule=`!self.matches('^[^/?#]*//[^/?#]*@')`,reason=FieldValueForbidden,message="spec.webhookConfiguration.webhookEndpoint must not carry user-info (user:password@): give credentials in webhookAuthorization"
	// +kubebuilder:validation:XValidation:rule=`!self.matches('[\\x00-\\x20\\x7f]')`,reason=FieldValueForbidden,message="spec.webhookConfiguration.webhookEndpoint must not contain spaces or control characters: percent-encode them"
	WebhookEndpoint string `json:"webhookEndpoint"`

	// How Auth0 authenticates to the endpoint. Each secret is given either inline (stored in a composed Secret) or, preferably, as a reference to a key of a Secret in the resource's namespace.
	WebhookAuthorization WebhookAuthorization `json:"webhookAuthorization"`
}

// WebhookAuthorization accepts each secret either inline (the seed's form) or
// as a reference to a key of a Secret in the XR's namespace. Auth0 refuses the
// fields of another method, so they are refused here too.
// +kubebuilder:validation:XValidation:rule="self.method != 'basic' || has(self.username)",message="spec.webhookConfiguration.webhookAuthorization.username is required when method is basic"
// +kubebuilder:validation:XValidation:rule="self.method != 'basic' || has(self.password) != has(self.passwordSecretRef)",message="exactly one of spec.webhookConfiguration.webhookAuthorization.password and passwordSecretRef is required when method is basic"
// +kubebuilder:validation:XValidation:rule="self.method != 'bearer' || has(self.token) != has(self.tokenSecretRef)",message="exactly one of spec.webhookConfiguration.webhookAuthorization.token and tokenSecretRef is required when method is bearer"
// +kubebuilder:validation:XValidation:rule="self.method != 'custom_header' || has(self.headerKey)",message="spec.webhookConfiguration.webhookAuthorization.headerKey is required when method is custom_header"
// +kubebuilder:validation:XValidation:rule="self.method != 'custom_header' || has(self.headerValue) != has(self.headerValueSecretRef)",message="exactly one of spec.webhookConfiguration.webhookAuthorization.headerValue and headerValueSecretRef is required when method is custom_header"
// +kubebuilder:validation:XValidation:rule="self.method == 'basic' || !(has(self.username) || has(self.password) || has(self.passwordSecretRef))",message="spec.webhookConfiguration.webhookAuthorization.username, password and passwordSecretRef are only allowed when method is basic"
// +kubebuilder:validation:XValidation:rule="self.method == 'bearer' || !(has(self.token) || has(self.tokenSecretRef))",message="spec.webhookConfiguration.webhookAuthorization.token and tokenSecretRef are only allowed when method is bearer"
// +kubebuilder:validation:XValidation:rule="self.method == 'custom_header' || !(has(self.headerKey) || has(self.headerValue) || has(self.headerValueSecretRef))",message="spec.webhookConfiguration.webhookAuthorization.headerKey, headerValue and headerValueSecretRef are only allowed when method is custom_header"
type WebhookAuthorization struct {
	// Authorization method.
	// +kubebuilder:validation:Enum=basic;bearer;custom_header
	Method string `json:"method"`

	// Username for basic authorization.
	// +kubebuilder:validation:MinLength=1
	// +optional
	Username string `json:"username,omitempty"`

	// Password for basic authorization, inline. Prefer passwordSecretRef.
	// +kubebuilder:validation:MinLength=1
	// +optional
	Password string `json:"password,omitempty"`

	// Selects the basic authorization password from a key of a Secret in the resource's namespace.
	// +optional
	PasswordSecretRef *SecretKeySelector `json:"passwordSecretRef,omitempty"`

	// Bearer token, inline. Prefer tokenSecretRef.
	// +kubebuilder:validation:MinLength=1
	// +optional
	Token string `json:"token,omitempty"`

	// Selects the bearer token from a key of a Secret in the resource's namespace.
	// +optional
	TokenSecretRef *SecretKeySelector `json:"tokenSecretRef,omitempty"`

	// Name of the custom header: an HTTP header name (RFC 9110 token).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:Pattern="^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
	// +optional
	HeaderKey string `json:"headerKey,omitempty"`

	// Value of the custom header, inline. Prefer headerValueSecretRef.
	// +kubebuilder:validation:MinLength=1
	// +optional
	HeaderValue string `json:"headerValue,omitempty"`

	// Selects the custom header's value from a key of a Secret in the resource's namespace.
	// +optional
	HeaderValueSecretRef *SecretKeySelector `json:"headerValueSecretRef,omitempty"`
}

// SecretKeySelector selects a key of a Secret in the resource's namespace.
type SecretKeySelector struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// Key within the Secret.
	// +kubebuilder:validation:MinLength=1
	Key string `json:"key"`
}

// ActionConfiguration is the Auth0 Action an action stream delivers to.
type ActionConfiguration struct {
	// ID of an Auth0 Action with the event-stream trigger.
	// +kubebuilder:validation:MinLength=1
	ActionID string `json:"actionId"`
}

// ProviderConfigReference names the ProviderConfig of a composed resource.
type ProviderConfigReference struct {
	// Kind of the ProviderConfig.
	// +kubebuilder:validation:Enum=ClusterProviderConfig;ProviderConfig
	Kind string `json:"kind"`

	// Name of the ProviderConfig.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// Crossplane adds the conditions and its own fields to the XRD's status;
// fields added here appear in both XRDs.

// Auth0EventStreamStatus is the observed state of the stream.
type Auth0EventStreamStatus struct {
	// The stream as Auth0 reports it.
	// +optional
	Outputs *Outputs `json:"outputs,omitempty"`
	// How deliveries to the destination went, from the EventStream managed
	// resource (condition DeliveriesHealthy says whether they fail).
	// +optional
	Deliveries *Deliveries `json:"deliveries,omitempty"`
	// The EventBridge event bus composed for spec.eventbridgeConfiguration.eventBus (condition EventBusReady says whether it is ready).
	// +optional
	EventBus *EventBusStatus `json:"eventBus,omitempty"`
}

// EventBusStatus is the composed event bus as the AWS provider reports it.
type EventBusStatus struct {
	// Name of the bus: the partner event source's.
	// +optional
	Name string `json:"name,omitempty"`
	// ARN of the bus, once AWS has it.
	// +optional
	ARN string `json:"arn,omitempty"`
}

// Deliveries is the stream's delivery health. It never holds event data.
type Deliveries struct {
	// When delivery health was last read from Auth0.
	// +optional
	CheckedAt string `json:"checkedAt,omitempty"`
	// Delivery runs that succeeded in the 24 hours before checkedAt.
	// +optional
	Successful24h int `json:"successful24h"`
	// Delivery runs that failed in the 24 hours before checkedAt.
	// +optional
	Failed24h int `json:"failed24h"`
	// Events of those 24 hours whose last delivery failed and that were not redelivered (at most 100).
	// +optional
	Undelivered int `json:"undelivered"`
	// The most recent of those.
	// +optional
	LastFailure *DeliveryFailure `json:"lastFailure,omitempty"`
	// The last test event or redelivery asked for by annotation, and Auth0's answer.
	// +optional
	LastAction *DeliveryAction `json:"lastAction,omitempty"`
}

// DeliveryFailure is a failed delivery, without its event.
type DeliveryFailure struct {
	// Time of the last failed attempt (RFC 3339).
	// +optional
	Time string `json:"time,omitempty"`
	// Event type of the event.
	// +optional
	EventType string `json:"eventType,omitempty"`
	// Auth0's error message for the attempt.
	// +optional
	Message string `json:"message,omitempty"`
}

// DeliveryAction is a test event or redelivery asked for by annotation.
type DeliveryAction struct {
	// The annotation that asked for it (on the managed resource).
	// +optional
	Annotation string `json:"annotation,omitempty"`
	// Its value; each distinct value is performed once.
	// +optional
	Value string `json:"value,omitempty"`
	// When the provider acted on it (RFC 3339).
	// +optional
	Time string `json:"time,omitempty"`
	// Pending, Accepted, Failed, Refused or Unknown.
	// +optional
	Outcome string `json:"outcome,omitempty"`
	// Auth0's answer, or why the provider did not call Auth0.
	// +optional
	Message string `json:"message,omitempty"`
}

// Outputs is the stream as Auth0 reports it.
type Outputs struct {
	// Auth0's identifier of the stream, est_ followed by 22 characters.
	// +optional
	ID string `json:"id,omitempty"`
	// Name of the stream.
	// +optional
	Name string `json:"name,omitempty"`
	// Status of the stream, enabled or disabled.
	// +optional
	Status string `json:"status,omitempty"`
	// eventbridge, webhook or action.
	// +optional
	DestinationType string `json:"destinationType,omitempty"`
	// When Auth0 created the stream (RFC 3339).
	// +optional
	CreatedAt string `json:"createdAt,omitempty"`
	// When Auth0 last changed the stream (RFC 3339).
	// +optional
	UpdatedAt string `json:"updatedAt,omitempty"`
	// Event types the stream is subscribed to.
	// +optional
	Subscriptions []string `json:"subscriptions,omitempty"`
	// The AWS partner event source of an EventBridge stream, to associate with an event bus.
	// +optional
	AWSPartnerEventSource string `json:"awsPartnerEventSource,omitempty"`
}
