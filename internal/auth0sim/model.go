package auth0sim

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"regexp"
	"time"
)

// Stream is an event stream as the simulator stores it, secrets included.
// Streams() and Dump() return these; the Management API never returns the
// secret fields.
type Stream struct {
	ID            string      `json:"id"`
	Name          string      `json:"name"`
	Status        string      `json:"status"`
	Subscriptions []string    `json:"subscriptions"`
	CreatedAt     time.Time   `json:"created_at"`
	UpdatedAt     time.Time   `json:"updated_at"`
	Destination   Destination `json:"destination"`
}

// Destination is where a stream delivers. Exactly one of the typed
// configurations is set, matching Type.
type Destination struct {
	Type        string             `json:"type"`
	Webhook     *WebhookConfig     `json:"webhook,omitempty"`
	EventBridge *EventBridgeConfig `json:"eventbridge,omitempty"`
	Action      *ActionConfig      `json:"action,omitempty"`
}

// WebhookConfig is a webhook destination with its write-only secret.
type WebhookConfig struct {
	Endpoint    string `json:"webhook_endpoint"`
	Method      string `json:"method"`
	Token       string `json:"token,omitempty"`
	Username    string `json:"username,omitempty"`
	Password    string `json:"password,omitempty"`
	HeaderKey   string `json:"header_key,omitempty"`
	HeaderValue string `json:"header_value,omitempty"`
}

// EventBridgeConfig is an Amazon EventBridge destination.
type EventBridgeConfig struct {
	AccountID          string `json:"aws_account_id"`
	Region             string `json:"aws_region"`
	PartnerEventSource string `json:"aws_partner_event_source"`
}

// ActionConfig is an Auth0 Action destination.
type ActionConfig struct {
	ActionID string `json:"action_id"`
}

// Destination types and statuses Auth0 accepts.
const (
	DestinationWebhook     = "webhook"
	DestinationEventBridge = "eventbridge"
	DestinationAction      = "action"

	StatusEnabled  = "enabled"
	StatusDisabled = "disabled"

	AuthBearer       = "bearer"
	AuthBasic        = "basic"
	AuthCustomHeader = "custom_header"
)

func (s *Stream) clone() Stream {
	c := *s
	c.Subscriptions = append([]string(nil), s.Subscriptions...)
	if s.Destination.Webhook != nil {
		w := *s.Destination.Webhook
		c.Destination.Webhook = &w
	}
	if s.Destination.EventBridge != nil {
		e := *s.Destination.EventBridge
		c.Destination.EventBridge = &e
	}
	if s.Destination.Action != nil {
		a := *s.Destination.Action
		c.Destination.Action = &a
	}
	return c
}

// The response shapes below keep Auth0's field order, so a simulator answer
// reads like a recorded one.
type streamJSON struct {
	ID            string             `json:"id"`
	Status        string             `json:"status"`
	Name          string             `json:"name"`
	Subscriptions []subscriptionJSON `json:"subscriptions"`
	CreatedAt     string             `json:"created_at"`
	UpdatedAt     string             `json:"updated_at"`
	Destination   destinationJSON    `json:"destination"`
}

type subscriptionJSON struct {
	EventType string `json:"event_type"`
}

type destinationJSON struct {
	Type          string `json:"type"`
	Configuration any    `json:"configuration"`
}

type webhookJSON struct {
	Endpoint      string            `json:"webhook_endpoint"`
	Authorization webhookAuthorJSON `json:"webhook_authorization"`
}

// webhookAuthorJSON carries no secret field: token, password and
// header_value are write-only.
type webhookAuthorJSON struct {
	Method    string `json:"method"`
	Username  string `json:"username,omitempty"`
	HeaderKey string `json:"header_key,omitempty"`
}

type eventBridgeJSON struct {
	Region             string `json:"aws_region"`
	AccountID          string `json:"aws_account_id"`
	PartnerEventSource string `json:"aws_partner_event_source"`
}

type actionJSON struct {
	ActionID string `json:"action_id"`
}

// timeFormat is Auth0's RFC 3339 form with milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func (s *Stream) response() streamJSON {
	out := streamJSON{
		ID:            s.ID,
		Status:        s.Status,
		Name:          s.Name,
		Subscriptions: make([]subscriptionJSON, 0, len(s.Subscriptions)),
		CreatedAt:     formatTime(s.CreatedAt),
		UpdatedAt:     formatTime(s.UpdatedAt),
		Destination:   destinationJSON{Type: s.Destination.Type, Configuration: map[string]any{}},
	}
	for _, e := range s.Subscriptions {
		out.Subscriptions = append(out.Subscriptions, subscriptionJSON{EventType: e})
	}
	switch d := s.Destination; {
	case d.Webhook != nil:
		a := webhookAuthorJSON{Method: d.Webhook.Method}
		switch d.Webhook.Method {
		case AuthBasic:
			a.Username = d.Webhook.Username
		case AuthCustomHeader:
			a.HeaderKey = d.Webhook.HeaderKey
		}
		out.Destination.Configuration = webhookJSON{Endpoint: d.Webhook.Endpoint, Authorization: a}
	case d.EventBridge != nil:
		out.Destination.Configuration = eventBridgeJSON{
			Region: d.EventBridge.Region, AccountID: d.EventBridge.AccountID,
			PartnerEventSource: d.EventBridge.PartnerEventSource,
		}
	case d.Action != nil:
		out.Destination.Configuration = actionJSON{ActionID: d.Action.ActionID}
	}
	return out
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

var (
	streamIDPattern = regexp.MustCompile(`^est_[0-9A-Za-z]{22}$`)
	eventIDPattern  = regexp.MustCompile(`^evt_[0-9A-Za-z]{22}$`)
)

// newID returns prefix + 22 base62 characters, Auth0's id shape.
func newID(prefix string) string {
	b := make([]byte, 22)
	limit := big.NewInt(int64(len(base62)))
	for i := range b {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			panic(fmt.Sprintf("crypto/rand failed: %v", err))
		}
		b[i] = base62[n.Int64()]
	}
	return prefix + string(b)
}

// newUUID returns a random RFC 4122 version 4 UUID, the shape Auth0 puts in
// aws_partner_event_source.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
