package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
)

// Destination types Auth0 accepts.
const (
	DestinationWebhook     = "webhook"
	DestinationEventBridge = "eventbridge"
	DestinationAction      = "action"
)

// Webhook authorization methods Auth0 accepts.
const (
	AuthMethodBasic        = "basic"
	AuthMethodBearer       = "bearer"
	AuthMethodCustomHeader = "custom_header"
)

// Stream statuses Auth0 accepts.
const (
	StreamStatusEnabled  = "enabled"
	StreamStatusDisabled = "disabled"
)

// EventStreamParameters are the configurable fields of an Auth0 event stream.
type EventStreamParameters struct {
	// Name of the stream in Auth0. Auth0 does not require names to be unique.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name"`

	// Subscriptions are the event types delivered to the destination.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9_]+(\.[a-z0-9_]+)+$`
	// +listType=set
	Subscriptions []string `json:"subscriptions"`

	// Status is the desired state of the stream in Auth0.
	// +kubebuilder:validation:Enum=enabled;disabled
	// +kubebuilder:default=enabled
	// +optional
	Status string `json:"status,omitempty"`

	// Destination is where Auth0 delivers events.
	Destination Destination `json:"destination"`
}

// Destination is where Auth0 delivers events. Exactly one of webhook,
// eventbridge and action is set, the one that matches type.
// +kubebuilder:validation:XValidation:rule="self.type == 'webhook' ? has(self.webhook) : !has(self.webhook)",message="destination.webhook is required when destination.type is webhook and forbidden otherwise"
// +kubebuilder:validation:XValidation:rule="self.type == 'eventbridge' ? has(self.eventbridge) : !has(self.eventbridge)",message="destination.eventbridge is required when destination.type is eventbridge and forbidden otherwise"
// +kubebuilder:validation:XValidation:rule="self.type == 'action' ? has(self.action) : !has(self.action)",message="destination.action is required when destination.type is action and forbidden otherwise"
type Destination struct {
	// Type of the destination.
	// +kubebuilder:validation:Enum=webhook;eventbridge;action
	Type string `json:"type"`

	// Webhook delivers events by HTTPS POST.
	// +optional
	Webhook *WebhookDestination `json:"webhook,omitempty"`

	// EventBridge delivers events to an AWS EventBridge partner event source.
	// Auth0 cannot change account or region of an existing stream, so a
	// change replaces the stream.
	// +optional
	EventBridge *EventBridgeDestination `json:"eventbridge,omitempty"`

	// Action delivers events to an Auth0 Action with the event-stream trigger.
	// +optional
	Action *ActionDestination `json:"action,omitempty"`
}

// WebhookDestination is an HTTPS endpoint that receives events.
type WebhookDestination struct {
	// Endpoint is the HTTPS URL events are POSTed to.
	// +kubebuilder:validation:Pattern=`^https://.+`
	Endpoint string `json:"endpoint"`

	// Authorization Auth0 presents to the endpoint.
	Authorization WebhookAuthorization `json:"authorization"`
}

// WebhookAuthorization is how Auth0 authenticates to a webhook endpoint.
// Secret values are only ever referenced, never inlined, and only from
// Secrets that offer them with the label auth0.m.openmcf.org/webhook-secret:
// "true" (LabelWebhookSecret). Values are trimmed of surrounding whitespace.
// +kubebuilder:validation:XValidation:rule="self.method != 'basic' || (has(self.username) && has(self.passwordSecretRef))",message="authorization.username and authorization.passwordSecretRef are required when authorization.method is basic"
// +kubebuilder:validation:XValidation:rule="self.method != 'bearer' || has(self.tokenSecretRef)",message="authorization.tokenSecretRef is required when authorization.method is bearer"
// +kubebuilder:validation:XValidation:rule="self.method != 'custom_header' || (has(self.headerKey) && has(self.headerValueSecretRef))",message="authorization.headerKey and authorization.headerValueSecretRef are required when authorization.method is custom_header"
type WebhookAuthorization struct {
	// Method of authorization.
	// +kubebuilder:validation:Enum=basic;bearer;custom_header
	Method string `json:"method"`

	// Username for basic authorization.
	// +optional
	Username *string `json:"username,omitempty"`

	// PasswordSecretRef selects the basic authorization password from a
	// Secret in the resource's namespace. The Secret must carry the label
	// auth0.m.openmcf.org/webhook-secret: "true".
	// +optional
	PasswordSecretRef *xpv2.LocalSecretKeySelector `json:"passwordSecretRef,omitempty"`

	// TokenSecretRef selects the bearer token from a Secret in the
	// resource's namespace. The Secret must carry the label
	// auth0.m.openmcf.org/webhook-secret: "true".
	// +optional
	TokenSecretRef *xpv2.LocalSecretKeySelector `json:"tokenSecretRef,omitempty"`

	// HeaderKey is the name of the custom header.
	// +optional
	HeaderKey *string `json:"headerKey,omitempty"`

	// HeaderValueSecretRef selects the custom header's value from a Secret in
	// the resource's namespace. The Secret must carry the label
	// auth0.m.openmcf.org/webhook-secret: "true".
	// +optional
	HeaderValueSecretRef *xpv2.LocalSecretKeySelector `json:"headerValueSecretRef,omitempty"`
}

// EventBridgeDestination is an AWS account and region that receive events
// through a partner event source.
type EventBridgeDestination struct {
	// AWSAccountID is the 12-digit AWS account id.
	// +kubebuilder:validation:Pattern=`^[0-9]{12}$`
	AWSAccountID string `json:"awsAccountId"`

	// AWSRegion of the EventBridge event bus, e.g. us-east-1. The pattern is
	// the rule Auth0 applies (the simulator's, checked by a test), so a typo
	// is refused here instead of after a replacement has begun.
	// +kubebuilder:validation:Pattern=`^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$`
	AWSRegion string `json:"awsRegion"`
}

// ActionDestination is an Auth0 Action with the event-stream trigger.
type ActionDestination struct {
	// ActionID of the Auth0 Action.
	// +kubebuilder:validation:MinLength=1
	ActionID string `json:"actionId"`
}

// EventStreamObservation is the stream as Auth0 holds it. Field names match
// the Auth0EventStream composite's status.outputs.
type EventStreamObservation struct {
	// ID is Auth0's identifier, est_ followed by 22 base62 characters.
	ID string `json:"id,omitempty"`
	// Name of the stream.
	Name string `json:"name,omitempty"`
	// Status of the stream: enabled or disabled.
	Status string `json:"status,omitempty"`
	// DestinationType is webhook, eventbridge or action.
	DestinationType string `json:"destinationType,omitempty"`
	// CreatedAt is when Auth0 created the stream (RFC 3339).
	CreatedAt string `json:"createdAt,omitempty"`
	// UpdatedAt is when Auth0 last changed the stream (RFC 3339).
	UpdatedAt string `json:"updatedAt,omitempty"`
	// Subscriptions are the event types the stream delivers.
	Subscriptions []string `json:"subscriptions,omitempty"`
	// AWSPartnerEventSource is the partner event source Auth0 created for an
	// EventBridge stream.
	AWSPartnerEventSource string `json:"awsPartnerEventSource,omitempty"`

	// Deliveries is how deliveries to the destination went, read from Auth0
	// at most once per the provider's --delivery-poll.
	// +optional
	Deliveries *DeliveriesObservation `json:"deliveries,omitempty"`
}

// DeliveriesObservation is the delivery health of a stream. It holds no
// event payload: Auth0's delivered events carry user data, and only an
// event's type, time and Auth0's error message are kept.
type DeliveriesObservation struct {
	// CheckedAt is when delivery health was last read from Auth0.
	// +optional
	CheckedAt *metav1.Time `json:"checkedAt,omitempty"`
	// Successful24h is the number of delivery runs that succeeded in the 24
	// hours before checkedAt.
	Successful24h int `json:"successful24h"`
	// Failed24h is the number of delivery runs that failed in the 24 hours
	// before checkedAt (a failed run stays counted after a redelivery
	// succeeds).
	Failed24h int `json:"failed24h"`
	// Undelivered is the number of events of those 24 hours whose last
	// delivery failed and that were not redelivered since (at most 100).
	Undelivered int `json:"undelivered"`
	// LastFailure is the most recent of those.
	// +optional
	LastFailure *DeliveryFailure `json:"lastFailure,omitempty"`
	// LastAction is the last test event or redelivery asked for by
	// annotation, and Auth0's answer.
	// +optional
	LastAction *DeliveryAction `json:"lastAction,omitempty"`
}

// DeliveryFailure is a failed delivery, without its event.
type DeliveryFailure struct {
	// Time of the last failed attempt (RFC 3339).
	Time string `json:"time"`
	// EventType of the event.
	EventType string `json:"eventType"`
	// Message is Auth0's error message for the attempt.
	Message string `json:"message"`
}

// Outcomes of a DeliveryAction.
const (
	// ActionAccepted: Auth0 accepted the test event or redelivery.
	ActionAccepted = "Accepted"
	// ActionFailed: Auth0 refused it, or the call failed.
	ActionFailed = "Failed"
	// ActionRefused: the provider did not call Auth0 (disabled or
	// Observe-only stream, a malformed value).
	ActionRefused = "Refused"
	// ActionUnknown: the provider stopped during the call; whether Auth0
	// received it is unknown, and it is not repeated.
	ActionUnknown = "Unknown"
	// ActionPending: the call is being made.
	ActionPending = "Pending"
)

// DeliveryAction is a test event or redelivery asked for by annotation.
type DeliveryAction struct {
	// Annotation that asked for it.
	Annotation string `json:"annotation"`
	// Value of the annotation; each distinct value is performed once.
	Value string `json:"value"`
	// Time the provider acted on it (RFC 3339).
	Time string `json:"time"`
	// Outcome: Pending, Accepted, Failed, Refused or Unknown.
	Outcome string `json:"outcome"`
	// Message is Auth0's answer or why the provider did not call Auth0.
	Message string `json:"message,omitempty"`
}

// Origins of an owned stream.
const (
	// OriginCreated: the provider created the stream for this resource.
	OriginCreated = "Created"
	// OriginAdopted: a create of this resource made the stream, but its
	// response was lost; the provider found it afterwards.
	OriginAdopted = "Adopted"
	// OriginImported: the resource named an existing stream, and its
	// ProviderConfig's spec.importPolicy is Manage.
	OriginImported = "Imported"
	// OriginUpgraded: a release before ownership records managed the
	// stream for this resource; recorded once, when this release first
	// reconciled it.
	OriginUpgraded = "Upgraded"
)

// Ownership is what the provider recorded about the streams of an
// EventStream. Each proof is an HMAC-SHA256, keyed with a key only the
// provider holds, of the resource's UID, the Auth0 tenant and the stream id
// (a create attempt: its time), so it cannot be made for, or copied to,
// another resource, tenant or stream.
type Ownership struct {
	// Stream is the stream this resource owns.
	// +optional
	Stream *OwnedStream `json:"stream,omitempty"`
	// Replaced is a stream a replacement superseded, still to be deleted.
	// +optional
	Replaced *OwnedStream `json:"replaced,omitempty"`
	// CreateAttempt is a create the provider sent whose outcome is not
	// known yet: if its response was lost, the stream it made is found and
	// adopted.
	// +optional
	CreateAttempt *CreateAttempt `json:"createAttempt,omitempty"`
}

// OwnedStream is a stream the provider holds for an EventStream.
type OwnedStream struct {
	// ID of the stream.
	ID string `json:"id"`
	// Tenant is the domain of the Auth0 tenant holding it.
	Tenant string `json:"tenant"`
	// Origin is how the resource came to own it: Created, Adopted,
	// Imported or Upgraded.
	// +optional
	Origin string `json:"origin,omitempty"`
	// Proof is the provider's keyed proof of this record.
	Proof string `json:"proof"`
}

// CreateAttempt is a create request the provider began.
type CreateAttempt struct {
	// Time the attempt began (RFC 3339).
	Time string `json:"time"`
	// Tenant is the domain of the Auth0 tenant the attempt went to.
	Tenant string `json:"tenant"`
	// Proof is the provider's keyed proof of this record.
	Proof string `json:"proof"`
}

// An EventStreamSpec defines the desired state of an EventStream.
type EventStreamSpec struct {
	xpv2.ManagedResourceSpec `json:",inline"`

	ForProvider EventStreamParameters `json:"forProvider"`
}

// An EventStreamStatus represents the observed state of an EventStream.
type EventStreamStatus struct {
	xpv2.ManagedResourceStatus `json:",inline"`

	AtProvider EventStreamObservation `json:"atProvider,omitempty"`

	// AppliedSecretsHash is a keyed hash of the secret values last sent to
	// Auth0. Auth0 never returns secrets, so this is how a rotated Secret is
	// noticed. It is never the values themselves.
	// +optional
	AppliedSecretsHash string `json:"appliedSecretsHash,omitempty"`

	// Ownership is the provider's record of the Auth0 streams this resource
	// may change or delete, each with a keyed proof only the provider can
	// make. Everything else about an EventStream (annotations, labels,
	// spec, the rest of status) may be written by whoever may edit it, so
	// nothing else is authority for a PATCH, a DELETE, an adoption or a
	// replacement. A record whose proof does not verify is ignored.
	// +optional
	Ownership *Ownership `json:"ownership,omitempty"`

	// DeliveryActions records, per action annotation, the last value the
	// provider acted on, written before Auth0 is called: a value recorded
	// here is never performed again, after a restart included.
	// +optional
	DeliveryActions map[string]string `json:"deliveryActions,omitempty"`
}

// An EventStream is an Auth0 event stream, managed through the Auth0
// Management API.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="READY",type="string",JSONPath=".status.conditions[?(@.type=='Ready')].status"
// +kubebuilder:printcolumn:name="SYNCED",type="string",JSONPath=".status.conditions[?(@.type=='Synced')].status"
// +kubebuilder:printcolumn:name="EXTERNAL-NAME",type="string",JSONPath=".metadata.annotations.crossplane\\.io/external-name"
// +kubebuilder:printcolumn:name="STATUS",type="string",JSONPath=".status.atProvider.status"
// +kubebuilder:printcolumn:name="DESTINATION",type="string",JSONPath=".spec.forProvider.destination.type"
// +kubebuilder:printcolumn:name="FAILED-24H",type="integer",JSONPath=".status.atProvider.deliveries.failed24h"
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:resource:scope=Namespaced,categories={crossplane,managed,auth0}
type EventStream struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   EventStreamSpec   `json:"spec"`
	Status EventStreamStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// EventStreamList contains a list of EventStream.
type EventStreamList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []EventStream `json:"items"`
}
