// Package tfstream is the Terraform configuration of one Auth0 event stream
// for terraform-provider-auth0's auth0_event_stream: the root module (as
// Terraform JSON), the values of its variables, the secrets it reads from the
// environment, and how its outputs read back.
//
// The module is built from Go values and encoded with encoding/json; it
// refers to every value of the stream through a variable. No value of the
// stream is ever part of the module's text, so none can add configuration:
// Terraform takes variable values (tfvars JSON, TF_VAR_ environment
// variables) literally.
package tfstream

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
)

// The Terraform provider the module requires, pinned. The registry host is
// explicit: OpenTofu reads a bare "auth0/auth0" as
// registry.opentofu.org/auth0/auth0, so the same module would need another
// mirror path (or registry) under OpenTofu than under Terraform.
const (
	ProviderSource  = "registry.terraform.io/auth0/auth0"
	ProviderVersion = "1.57.0"
)

// Address is the stream's resource address in the module.
const Address = "auth0_event_stream.this"

// Variables of the Auth0 credentials. The module declares them sensitive and
// required; a provider-terraform ProviderConfig sets them with a credentials
// entry named CredentialsFile (a Secret key holding a JSON object of the
// three), which Terraform loads by itself from the working directory.
const (
	VarDomain       = "auth0_domain"
	VarClientID     = "auth0_client_id"
	VarClientSecret = "auth0_client_secret"
	CredentialsFile = "auth0-credentials.auto.tfvars.json"
)

// Variables of the stream.
const (
	VarName            = "name"
	VarSubscriptions   = "subscriptions"
	VarStatus          = "status"
	VarDestinationType = "destination_type"
	VarAWSAccountID    = "aws_account_id"
	VarAWSRegion       = "aws_region"
	VarActionID        = "action_id"
	VarEndpoint        = "webhook_endpoint"
	VarMethod          = "webhook_authorization_method"
	VarUsername        = "webhook_username"
	VarPassword        = "webhook_password"
	VarToken           = "webhook_token"
	VarHeaderKey       = "webhook_header_key"
	VarHeaderValue     = "webhook_header_value"
	VarStreamID        = "stream_id"
)

// Outputs of the module, each one of the composite's status.outputs.
const (
	OutputID                    = "id"
	OutputName                  = "name"
	OutputStatus                = "status"
	OutputDestinationType       = "destination_type"
	OutputCreatedAt             = "created_at"
	OutputUpdatedAt             = "updated_at"
	OutputSubscriptions         = "subscriptions"
	OutputAWSPartnerEventSource = "aws_partner_event_source"
)

// SecretEnv is an environment variable Terraform reads a secret from: a
// key of a Secret.
type SecretEnv struct {
	// Name of the environment variable, TF_VAR_<variable>.
	Name string
	// SecretName and Key select the value.
	SecretName string
	Key        string
}

// Config is the stream's Terraform configuration.
type Config struct {
	// Module is the root module, main.tf.json.
	Module []byte
	// Vars are the values of the module's non-secret variables.
	Vars map[string]any
	// SecretEnv carries every secret variable, as a Secret reference.
	SecretEnv []SecretEnv
}

// variable declares a module variable.
type variable struct {
	Type      string `json:"type"`
	Sensitive bool   `json:"sensitive,omitempty"`
	Nullable  bool   `json:"nullable"`
}

type output struct {
	Value string `json:"value"`
}

// ref is the expression of a variable's value. Names are this package's
// constants, never input.
func ref(name string) string { return "${var." + name + "}" }

// trimmedRef is the expression of a secret variable's value trimmed of
// surrounding whitespace (Terraform's trimspace is Go's strings.TrimSpace),
// as the native provider sends a secret: a Secret written from a file often
// ends with a newline, which a webhook would then be sent.
func trimmedRef(name string) string { return "${trimspace(var." + name + ")}" }

// For returns the Terraform configuration of the stream p describes. Its
// secrets must be Secret references (the function moves inline values into
// a composed Secret first); For refuses a destination it does not know.
// A streamID adds an import block: the stream is imported, not created,
// and the plan fails when Auth0 has no such stream.
func For(p v1alpha1.EventStreamParameters, streamID string) (Config, error) {
	vars := map[string]variable{
		VarDomain:       {Type: "string", Sensitive: true},
		VarClientID:     {Type: "string", Sensitive: true},
		VarClientSecret: {Type: "string", Sensitive: true},
	}
	c := Config{Vars: map[string]any{}}
	set := func(name, typ string, v any) {
		vars[name] = variable{Type: typ}
		c.Vars[name] = v
	}
	secret := func(name string, s *secretRef) error {
		if s == nil {
			return fmt.Errorf("variable %s: no Secret reference", name)
		}
		vars[name] = variable{Type: "string", Sensitive: true}
		c.SecretEnv = append(c.SecretEnv, SecretEnv{Name: "TF_VAR_" + name, SecretName: s.Name, Key: s.Key})
		return nil
	}

	subs := append([]string{}, p.Subscriptions...)
	set(VarName, "string", p.Name)
	set(VarSubscriptions, "list(string)", subs)
	set(VarStatus, "string", p.Status)
	set(VarDestinationType, "string", p.Destination.Type)
	stream := map[string]any{
		"name":             ref(VarName),
		"subscriptions":    ref(VarSubscriptions),
		"status":           ref(VarStatus),
		"destination_type": ref(VarDestinationType),
	}

	d := p.Destination
	switch {
	case d.Type == v1alpha1.DestinationEventBridge && d.EventBridge != nil:
		set(VarAWSAccountID, "string", d.EventBridge.AWSAccountID)
		set(VarAWSRegion, "string", d.EventBridge.AWSRegion)
		stream["eventbridge_configuration"] = map[string]any{
			"aws_account_id": ref(VarAWSAccountID),
			"aws_region":     ref(VarAWSRegion),
		}
	case d.Type == v1alpha1.DestinationAction && d.Action != nil:
		set(VarActionID, "string", d.Action.ActionID)
		stream["action_configuration"] = map[string]any{"action_id": ref(VarActionID)}
	case d.Type == v1alpha1.DestinationWebhook && d.Webhook != nil:
		a := d.Webhook.Authorization
		set(VarEndpoint, "string", d.Webhook.Endpoint)
		set(VarMethod, "string", a.Method)
		auth := map[string]any{"method": ref(VarMethod)}
		// The plain attributes, not their write-only (_wo) forms: those
		// need Terraform >= 1.11 and send no secret on an update unless a
		// version attribute changes, so a rotated Secret would never reach
		// Auth0 (docs/terraform.md). The secrets are therefore in the state.
		var err error
		switch a.Method {
		case v1alpha1.AuthMethodBasic:
			set(VarUsername, "string", deref(a.Username))
			auth["username"] = ref(VarUsername)
			err = secret(VarPassword, selector(a.PasswordSecretRef))
			auth["password"] = trimmedRef(VarPassword)
		case v1alpha1.AuthMethodBearer:
			err = secret(VarToken, selector(a.TokenSecretRef))
			auth["token"] = trimmedRef(VarToken)
		case v1alpha1.AuthMethodCustomHeader:
			set(VarHeaderKey, "string", deref(a.HeaderKey))
			auth["header_key"] = ref(VarHeaderKey)
			err = secret(VarHeaderValue, selector(a.HeaderValueSecretRef))
			auth["header_value"] = trimmedRef(VarHeaderValue)
		default:
			return Config{}, fmt.Errorf("webhook authorization method %q is not supported", a.Method)
		}
		if err != nil {
			return Config{}, err
		}
		stream["webhook_configuration"] = map[string]any{
			"webhook_endpoint":      ref(VarEndpoint),
			"webhook_authorization": auth,
		}
	default:
		return Config{}, fmt.Errorf("destination type %q without its configuration", d.Type)
	}

	outputs := map[string]output{
		OutputID:              {"${" + Address + ".id}"},
		OutputName:            {"${" + Address + ".name}"},
		OutputStatus:          {"${" + Address + ".status}"},
		OutputDestinationType: {"${" + Address + ".destination_type}"},
		OutputCreatedAt:       {"${" + Address + ".created_at}"},
		OutputUpdatedAt:       {"${" + Address + ".updated_at}"},
		OutputSubscriptions:   {"${" + Address + ".subscriptions}"},
		// Only an EventBridge stream has one.
		OutputAWSPartnerEventSource: {`${try(` + Address + `.eventbridge_configuration[0].aws_partner_event_source, "")}`},
	}

	module := map[string]any{
		"terraform": map[string]any{
			"required_providers": map[string]any{
				"auth0": map[string]any{"source": ProviderSource, "version": ProviderVersion},
			},
		},
		"provider": map[string]any{
			"auth0": map[string]any{
				"domain":        ref(VarDomain),
				"client_id":     ref(VarClientID),
				"client_secret": ref(VarClientSecret),
			},
		},
		"variable": vars,
		"resource": map[string]any{"auth0_event_stream": map[string]any{"this": stream}},
		"output":   outputs,
	}
	// Indented: operators read it in the Workspace and in main.tf.json.
	if streamID != "" {
		// The id as a variable (OpenTofu and Terraform >= 1.6), like
		// every other value.
		set(VarStreamID, "string", streamID)
		module["import"] = []any{map[string]any{"to": Address, "id": ref(VarStreamID)}}
	}
	b, err := json.MarshalIndent(module, "", "  ")
	if err != nil {
		return Config{}, fmt.Errorf("cannot encode the module: %w", err)
	}
	c.Module = b
	return c, nil
}

// secretRef selects a key of a Secret in the Workspace's namespace.
type secretRef struct{ Name, Key string }

func selector(s *xpv2.LocalSecretKeySelector) *secretRef {
	if s == nil || s.Name == "" || s.Key == "" {
		return nil
	}
	return &secretRef{Name: s.Name, Key: s.Key}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Outputs maps the module's outputs, as provider-terraform reports them in a
// Workspace's status.atProvider.outputs, to the composite's status.outputs,
// in the form the native backend gives them. It reports false until
// Terraform holds a stream.
func Outputs(o map[string]any) (map[string]any, bool) {
	str := func(k string) string { s, _ := o[k].(string); return s }
	id := str(OutputID)
	if id == "" {
		return nil, false
	}
	raw, _ := o[OutputSubscriptions].([]any)
	names := make([]string, 0, len(raw))
	for _, s := range raw {
		if s, ok := s.(string); ok {
			names = append(names, s)
		}
	}
	// Sorted, as the native backend's: the composite's status holds them,
	// and an order Terraform or Auth0 may vary must not write it.
	slices.Sort(names)
	subs := make([]any, 0, len(names))
	for _, s := range names {
		subs = append(subs, s)
	}
	return map[string]any{
		"id":                    id,
		"name":                  str(OutputName),
		"status":                str(OutputStatus),
		"destinationType":       str(OutputDestinationType),
		"createdAt":             Timestamp(str(OutputCreatedAt)),
		"updatedAt":             Timestamp(str(OutputUpdatedAt)),
		"subscriptions":         subs,
		"awsPartnerEventSource": str(OutputAWSPartnerEventSource),
	}, true
}

// goTimeLayout is how terraform-provider-auth0 records timestamps: Go's
// time.Time String, e.g. 2026-11-26 08:06:36.982 +0000 UTC.
const goTimeLayout = "2006-01-02 15:04:05.999999999 -0700 MST"

// Timestamp normalises a timestamp of the Terraform provider to RFC 3339 in
// UTC, as the native provider gives it: 2026-11-26T08:06:36.982Z. The zero
// time (Auth0 gave none) is empty; a value in neither form is kept as it is.
func Timestamp(s string) string {
	for _, layout := range []string{goTimeLayout, time.RFC3339Nano} {
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	return s
}
