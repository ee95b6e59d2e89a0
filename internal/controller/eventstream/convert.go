package eventstream

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/auth0/go-auth0/management"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
)

// Keys of a stream's destination configuration in the Auth0 API.
const (
	cfgWebhookEndpoint       = "webhook_endpoint"
	cfgWebhookAuthorization  = "webhook_authorization"
	cfgMethod                = "method"
	cfgUsername              = "username"
	cfgPassword              = "password"
	cfgToken                 = "token"
	cfgHeaderKey             = "header_key"
	cfgHeaderValue           = "header_value"
	cfgAWSAccountID          = "aws_account_id"
	cfgAWSRegion             = "aws_region"
	cfgAWSPartnerEventSource = "aws_partner_event_source"
	cfgActionID              = "action_id"
)

// secretValues are the write-only values of a webhook authorization. They
// only ever travel from a Secret to Auth0.
type secretValues struct {
	// value is the bearer token, basic password or custom header value,
	// whichever the method uses.
	value string
}

// String keeps secret values out of any formatted output.
func (secretValues) String() string { return "secretValues{redacted}" }

// GoString keeps secret values out of %#v too.
func (s secretValues) GoString() string { return s.String() }

// secretsHash is a keyed hash of the secret values a stream is configured
// with, stored in status.appliedSecretsHash to notice rotation. The key is
// derived from the Auth0 client secret and the resource's UID, so reading
// the status of an EventStream is not enough to brute-force a short token.
// It is empty for destinations without secrets.
func secretsHash(key []byte, p v1alpha1.EventStreamParameters, s secretValues) string {
	if p.Destination.Type != v1alpha1.DestinationWebhook || p.Destination.Webhook == nil {
		return ""
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(p.Destination.Webhook.Authorization.Method))
	m.Write([]byte{0})
	m.Write([]byte(s.value))
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
}

func desiredStatus(p v1alpha1.EventStreamParameters) string {
	if p.Status == "" {
		return v1alpha1.StreamStatusEnabled
	}
	return p.Status
}

func subscriptions(types []string) *[]management.EventStreamSubscription {
	subs := make([]management.EventStreamSubscription, 0, len(types))
	for _, t := range types {
		subs = append(subs, management.EventStreamSubscription{EventStreamSubscriptionType: &t})
	}
	return &subs
}

// destination is the destination Auth0 is sent on create, and on a PATCH
// that changes it.
func destination(d v1alpha1.Destination, s secretValues) *management.EventStreamDestination {
	cfg := map[string]any{}
	switch d.Type {
	case v1alpha1.DestinationWebhook:
		if w := d.Webhook; w != nil {
			auth := map[string]any{cfgMethod: w.Authorization.Method}
			switch w.Authorization.Method {
			case v1alpha1.AuthMethodBearer:
				auth[cfgToken] = s.value
			case v1alpha1.AuthMethodBasic:
				auth[cfgUsername] = deref(w.Authorization.Username)
				auth[cfgPassword] = s.value
			case v1alpha1.AuthMethodCustomHeader:
				auth[cfgHeaderKey] = deref(w.Authorization.HeaderKey)
				auth[cfgHeaderValue] = s.value
			}
			cfg[cfgWebhookEndpoint] = w.Endpoint
			cfg[cfgWebhookAuthorization] = auth
		}
	case v1alpha1.DestinationEventBridge:
		if eb := d.EventBridge; eb != nil {
			cfg[cfgAWSAccountID] = eb.AWSAccountID
			cfg[cfgAWSRegion] = eb.AWSRegion
		}
	case v1alpha1.DestinationAction:
		if a := d.Action; a != nil {
			cfg[cfgActionID] = a.ActionID
		}
	}
	t := d.Type
	return &management.EventStreamDestination{EventStreamDestinationType: &t, EventStreamDestinationConfiguration: cfg}
}

// createBody is the POST /event-streams body.
func createBody(p v1alpha1.EventStreamParameters, s secretValues) *management.EventStream {
	name, status := p.Name, desiredStatus(p)
	return &management.EventStream{
		Name:          &name,
		Status:        &status,
		Subscriptions: subscriptions(p.Subscriptions),
		Destination:   destination(p.Destination, s),
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func str(m map[string]any, k string) string {
	if v, ok := m[k].(string); ok {
		return v
	}
	return ""
}

func sub(m map[string]any, k string) map[string]any {
	if v, ok := m[k].(map[string]any); ok {
		return v
	}
	return nil
}

func observedType(s *management.EventStream) string {
	if s.Destination == nil {
		return ""
	}
	return deref(s.Destination.EventStreamDestinationType)
}

func observedConfig(s *management.EventStream) map[string]any {
	if s.Destination == nil {
		return nil
	}
	return s.Destination.EventStreamDestinationConfiguration
}

func observedSubscriptions(s *management.EventStream) []string {
	if s.Subscriptions == nil {
		return nil
	}
	out := make([]string, 0, len(*s.Subscriptions))
	for _, sub := range *s.Subscriptions {
		out = append(out, deref(sub.EventStreamSubscriptionType))
	}
	// Sorted: status holds them, and an order Auth0 may vary must not
	// write it.
	slices.Sort(out)
	return out
}

func timestamp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// observation is status.atProvider for a stream Auth0 returned.
func observation(s *management.EventStream) v1alpha1.EventStreamObservation {
	return v1alpha1.EventStreamObservation{
		ID:                    deref(s.ID),
		Name:                  deref(s.Name),
		Status:                deref(s.Status),
		DestinationType:       observedType(s),
		CreatedAt:             timestamp(s.CreatedAt),
		UpdatedAt:             timestamp(s.UpdatedAt),
		Subscriptions:         observedSubscriptions(s),
		AWSPartnerEventSource: str(observedConfig(s), cfgAWSPartnerEventSource),
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// mustReplace says why Auth0 cannot move the stream to p in place: it
// cannot change a destination's type, nor an EventBridge destination at all.
func mustReplace(p v1alpha1.EventStreamParameters, s *management.EventStream) string {
	if t := observedType(s); t != p.Destination.Type {
		return fmt.Sprintf("destination type changes from %s to %s", t, p.Destination.Type)
	}
	if eb := p.Destination.EventBridge; p.Destination.Type == v1alpha1.DestinationEventBridge && eb != nil {
		cfg := observedConfig(s)
		if str(cfg, cfgAWSAccountID) != eb.AWSAccountID || str(cfg, cfgAWSRegion) != eb.AWSRegion {
			return "EventBridge account or region changes"
		}
	}
	return ""
}

// destinationDiff lists the destination fields Auth0 returns that differ
// from p. Secrets are not returned and are compared by hash elsewhere.
func destinationDiff(p v1alpha1.EventStreamParameters, s *management.EventStream) []string {
	var diffs []string
	cfg := observedConfig(s)
	field := func(name, want, got string) {
		if want != got {
			diffs = append(diffs, fmt.Sprintf("%s: %q, want %q", name, got, want))
		}
	}
	switch d := p.Destination; d.Type {
	case v1alpha1.DestinationWebhook:
		if d.Webhook == nil {
			return nil
		}
		auth := sub(cfg, cfgWebhookAuthorization)
		field("destination.webhook.endpoint", d.Webhook.Endpoint, str(cfg, cfgWebhookEndpoint))
		field("destination.webhook.authorization.method", d.Webhook.Authorization.Method, str(auth, cfgMethod))
		switch d.Webhook.Authorization.Method {
		case v1alpha1.AuthMethodBasic:
			field("destination.webhook.authorization.username", deref(d.Webhook.Authorization.Username), str(auth, cfgUsername))
		case v1alpha1.AuthMethodCustomHeader:
			field("destination.webhook.authorization.headerKey", deref(d.Webhook.Authorization.HeaderKey), str(auth, cfgHeaderKey))
		}
	case v1alpha1.DestinationEventBridge:
		if d.EventBridge == nil {
			return nil
		}
		field("destination.eventbridge.awsAccountId", d.EventBridge.AWSAccountID, str(cfg, cfgAWSAccountID))
		field("destination.eventbridge.awsRegion", d.EventBridge.AWSRegion, str(cfg, cfgAWSRegion))
	case v1alpha1.DestinationAction:
		if d.Action == nil {
			return nil
		}
		field("destination.action.actionId", d.Action.ActionID, str(cfg, cfgActionID))
	}
	return diffs
}

// delta is what a PATCH must carry to move s to p, and a description of it
// that never contains a secret value.
type delta struct {
	patch       management.EventStream
	destination bool
	changes     []string
}

func (d delta) empty() bool { return len(d.changes) == 0 }

func (d delta) String() string { return strings.Join(d.changes, "; ") }

// diff compares the desired parameters with the stream Auth0 holds.
// secretsChanged is true when the secret values differ from those last
// applied.
func diff(p v1alpha1.EventStreamParameters, s *management.EventStream, secretsChanged bool) delta {
	var d delta
	if got := deref(s.Name); got != p.Name {
		name := p.Name
		d.patch.Name = &name
		d.changes = append(d.changes, fmt.Sprintf("name: %q, want %q", got, p.Name))
	}
	if got := observedSubscriptions(s); !sameSet(got, p.Subscriptions) {
		d.patch.Subscriptions = subscriptions(p.Subscriptions)
		d.changes = append(d.changes, fmt.Sprintf("subscriptions: %v, want %v", got, p.Subscriptions))
	}
	if got, want := deref(s.Status), desiredStatus(p); got != want {
		d.patch.Status = &want
		d.changes = append(d.changes, fmt.Sprintf("status: %q, want %q", got, want))
	}
	if why := mustReplace(p, s); why != "" {
		d.changes = append(d.changes, why)
		return d
	}
	if p.Destination.Type == v1alpha1.DestinationEventBridge {
		// Auth0 accepts no destination in a PATCH of an EventBridge stream.
		return d
	}
	dd := destinationDiff(p, s)
	if secretsChanged {
		dd = append(dd, "destination.webhook.authorization secret: changed since last applied")
	}
	if len(dd) > 0 {
		d.destination = true
		d.changes = append(d.changes, dd...)
	}
	return d
}
