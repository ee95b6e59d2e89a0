package tfstream

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
)

func sel(name, key string) *xpv2.LocalSecretKeySelector {
	return &xpv2.LocalSecretKeySelector{LocalSecretReference: xpv2.LocalSecretReference{Name: name}, Key: key}
}

func params(d v1alpha1.Destination) v1alpha1.EventStreamParameters {
	return v1alpha1.EventStreamParameters{Name: "users", Subscriptions: []string{"user.created", "user.deleted"}, Status: "enabled", Destination: d}
}

func webhook(a v1alpha1.WebhookAuthorization) v1alpha1.Destination {
	return v1alpha1.Destination{Type: v1alpha1.DestinationWebhook, Webhook: &v1alpha1.WebhookDestination{Endpoint: "https://hooks.example.com/auth0", Authorization: a}}
}

//go:fix inline

// module is the part of main.tf.json the tests read.
type module struct {
	Terraform struct {
		RequiredProviders map[string]struct {
			Source  string `json:"source"`
			Version string `json:"version"`
		} `json:"required_providers"`
	} `json:"terraform"`
	Provider map[string]map[string]string `json:"provider"`
	Variable map[string]struct {
		Type      string `json:"type"`
		Sensitive bool   `json:"sensitive"`
		Nullable  *bool  `json:"nullable"`
	} `json:"variable"`
	Resource map[string]map[string]map[string]any `json:"resource"`
	Output   map[string]struct {
		Value string `json:"value"`
	} `json:"output"`
}

// reVarRef finds a reference to a variable, alone (${var.x}) or in a
// function call (${trimspace(var.x)}).
var reVarRef = regexp.MustCompile(`\$\{(?:[a-z]+\()?var\.([a-z0-9_]+)\)?\}`)

func TestFor(t *testing.T) {
	cases := map[string]struct {
		dest v1alpha1.Destination
		// The stream's resource block, with every value a variable.
		resource map[string]any
		vars     map[string]any
		env      []SecretEnv
	}{
		"EventBridge": {
			dest: v1alpha1.Destination{Type: v1alpha1.DestinationEventBridge, EventBridge: &v1alpha1.EventBridgeDestination{AWSAccountID: "123456789012", AWSRegion: "us-west-2"}},
			resource: map[string]any{
				"eventbridge_configuration": map[string]any{"aws_account_id": "${var.aws_account_id}", "aws_region": "${var.aws_region}"},
			},
			vars: map[string]any{"destination_type": "eventbridge", "aws_account_id": "123456789012", "aws_region": "us-west-2"},
		},
		"Action": {
			dest:     v1alpha1.Destination{Type: v1alpha1.DestinationAction, Action: &v1alpha1.ActionDestination{ActionID: "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"}},
			resource: map[string]any{"action_configuration": map[string]any{"action_id": "${var.action_id}"}},
			vars:     map[string]any{"destination_type": "action", "action_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"},
		},
		"WebhookBearer": {
			dest: webhook(v1alpha1.WebhookAuthorization{Method: "bearer", TokenSecretRef: sel("hooks", "token")}),
			resource: map[string]any{"webhook_configuration": map[string]any{
				"webhook_endpoint":      "${var.webhook_endpoint}",
				"webhook_authorization": map[string]any{"method": "${var.webhook_authorization_method}", "token": "${trimspace(var.webhook_token)}"},
			}},
			vars: map[string]any{"destination_type": "webhook", "webhook_endpoint": "https://hooks.example.com/auth0", "webhook_authorization_method": "bearer"},
			env:  []SecretEnv{{Name: "TF_VAR_webhook_token", SecretName: "hooks", Key: "token"}},
		},
		"WebhookBasic": {
			dest: webhook(v1alpha1.WebhookAuthorization{Method: "basic", Username: new("auth0"), PasswordSecretRef: sel("hooks", "password")}),
			resource: map[string]any{"webhook_configuration": map[string]any{
				"webhook_endpoint": "${var.webhook_endpoint}",
				"webhook_authorization": map[string]any{
					"method":   "${var.webhook_authorization_method}",
					"username": "${var.webhook_username}", "password": "${trimspace(var.webhook_password)}",
				},
			}},
			vars: map[string]any{"destination_type": "webhook", "webhook_endpoint": "https://hooks.example.com/auth0", "webhook_authorization_method": "basic", "webhook_username": "auth0"},
			env:  []SecretEnv{{Name: "TF_VAR_webhook_password", SecretName: "hooks", Key: "password"}},
		},
		"WebhookCustomHeader": {
			dest: webhook(v1alpha1.WebhookAuthorization{Method: "custom_header", HeaderKey: new("X-Auth0-Signature"), HeaderValueSecretRef: sel("hooks-header", "value")}),
			resource: map[string]any{"webhook_configuration": map[string]any{
				"webhook_endpoint": "${var.webhook_endpoint}",
				"webhook_authorization": map[string]any{
					"method":     "${var.webhook_authorization_method}",
					"header_key": "${var.webhook_header_key}", "header_value": "${trimspace(var.webhook_header_value)}",
				},
			}},
			vars: map[string]any{"destination_type": "webhook", "webhook_endpoint": "https://hooks.example.com/auth0", "webhook_authorization_method": "custom_header", "webhook_header_key": "X-Auth0-Signature"},
			env:  []SecretEnv{{Name: "TF_VAR_webhook_header_value", SecretName: "hooks-header", Key: "value"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := For(params(tc.dest), "")
			if err != nil {
				t.Fatal(err)
			}
			var m module
			dec := json.NewDecoder(strings.NewReader(string(c.Module)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("main.tf.json is not the expected JSON: %v\n%s", err, c.Module)
			}

			if p := m.Terraform.RequiredProviders["auth0"]; p.Source != "registry.terraform.io/auth0/auth0" || p.Version != "1.57.0" {
				t.Errorf("required_providers.auth0 = %+v, want registry.terraform.io/auth0/auth0 1.57.0", p)
			}
			wantProvider := map[string]string{"domain": "${var.auth0_domain}", "client_id": "${var.auth0_client_id}", "client_secret": "${var.auth0_client_secret}"}
			if diff := cmp.Diff(wantProvider, m.Provider["auth0"]); diff != "" {
				t.Errorf("provider auth0: -want, +got:\n%s", diff)
			}

			wantResource := map[string]any{"name": "${var.name}", "subscriptions": "${var.subscriptions}", "status": "${var.status}", "destination_type": "${var.destination_type}"}
			maps.Copy(wantResource, tc.resource)
			if diff := cmp.Diff(map[string]map[string]any{"this": wantResource}, m.Resource["auth0_event_stream"]); diff != "" {
				t.Errorf("resource auth0_event_stream: -want, +got:\n%s", diff)
			}
			if len(m.Resource) != 1 {
				t.Errorf("resource types %v, want auth0_event_stream only", slices.Sorted(maps.Keys(m.Resource)))
			}

			wantVars := map[string]any{"name": "users", "subscriptions": []string{"user.created", "user.deleted"}, "status": "enabled"}
			maps.Copy(wantVars, tc.vars)
			if diff := cmp.Diff(wantVars, c.Vars); diff != "" {
				t.Errorf("varmap: -want, +got:\n%s", diff)
			}
			if diff := cmp.Diff(tc.env, c.SecretEnv); diff != "" {
				t.Errorf("secret env: -want, +got:\n%s", diff)
			}

			// Every variable the module refers to is declared, not null, and
			// set exactly once: by the varmap, a secret's environment
			// variable, or (the credentials) the ProviderConfig's file.
			// Exactly the secrets and the credentials are sensitive.
			referenced := map[string]bool{}
			for _, r := range reVarRef.FindAllStringSubmatch(string(c.Module), -1) {
				referenced[r[1]] = true
			}
			secrets := map[string]bool{}
			for _, e := range c.SecretEnv {
				secrets[strings.TrimPrefix(e.Name, "TF_VAR_")] = true
			}
			credentials := map[string]bool{VarDomain: true, VarClientID: true, VarClientSecret: true}
			if diff := cmp.Diff(slices.Sorted(maps.Keys(referenced)), slices.Sorted(maps.Keys(m.Variable))); diff != "" {
				t.Errorf("referenced vs declared variables: -referenced, +declared:\n%s", diff)
			}
			for v, d := range m.Variable {
				_, inVarmap := c.Vars[v]
				n := 0
				for _, set := range []bool{inVarmap, secrets[v], credentials[v]} {
					if set {
						n++
					}
				}
				if n != 1 {
					t.Errorf("variable %s is set %d times (varmap %t, secret %t, credentials %t), want once", v, n, inVarmap, secrets[v], credentials[v])
				}
				if want := secrets[v] || credentials[v]; d.Sensitive != want {
					t.Errorf("variable %s: sensitive %t, want %t", v, d.Sensitive, want)
				}
				if d.Nullable == nil || *d.Nullable {
					t.Errorf("variable %s may be null", v)
				}
				if want := map[bool]string{true: "list(string)", false: "string"}[v == VarSubscriptions]; d.Type != want {
					t.Errorf("variable %s: type %q, want %q", v, d.Type, want)
				}
			}

			wantOutputs := map[string]string{
				"id":                       "${auth0_event_stream.this.id}",
				"name":                     "${auth0_event_stream.this.name}",
				"status":                   "${auth0_event_stream.this.status}",
				"destination_type":         "${auth0_event_stream.this.destination_type}",
				"created_at":               "${auth0_event_stream.this.created_at}",
				"updated_at":               "${auth0_event_stream.this.updated_at}",
				"subscriptions":            "${auth0_event_stream.this.subscriptions}",
				"aws_partner_event_source": `${try(auth0_event_stream.this.eventbridge_configuration[0].aws_partner_event_source, "")}`,
			}
			got := map[string]string{}
			for k, o := range m.Output {
				got[k] = o.Value
			}
			if diff := cmp.Diff(wantOutputs, got); diff != "" {
				t.Errorf("outputs: -want, +got:\n%s", diff)
			}
		})
	}
}

// TestForKeepsValuesOutOfTheModule gives the stream values written as
// Terraform expressions and JSON: none reaches the module's text, whose
// only expressions are the package's own.
func TestForKeepsValuesOutOfTheModule(t *testing.T) {
	hostile := `${file("/etc/passwd")}"}, "resource": {"null_resource": {}}`
	p := params(webhook(v1alpha1.WebhookAuthorization{Method: "basic", Username: new(hostile), PasswordSecretRef: sel("s", "k")}))
	p.Name = hostile
	p.Subscriptions = []string{hostile}
	p.Destination.Webhook.Endpoint = "https://example.com/" + hostile
	c, err := For(p, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(c.Module), "passwd") || strings.Contains(string(c.Module), "null_resource") {
		t.Errorf("a value reached the module:\n%s", c.Module)
	}
	if c.Vars[VarName] != hostile || c.Vars[VarUsername] != hostile {
		t.Errorf("varmap does not carry the values as they are: %v", c.Vars)
	}
}

func TestForRefuses(t *testing.T) {
	for name, d := range map[string]v1alpha1.Destination{
		"WebhookWithoutConfiguration": {Type: v1alpha1.DestinationWebhook},
		"BearerWithoutSecretRef":      webhook(v1alpha1.WebhookAuthorization{Method: "bearer"}),
		"UnknownMethod":               webhook(v1alpha1.WebhookAuthorization{Method: "oauth"}),
		"UnknownDestination":          {Type: "kafka"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := For(params(d), ""); err == nil {
				t.Error("For accepted it")
			}
		})
	}
}

func TestTimestamp(t *testing.T) {
	for in, want := range map[string]string{
		// terraform-provider-auth0 v1.57.0 (time.Time's String).
		"2026-11-26 08:06:36.982 +0000 UTC":       "2026-11-26T08:06:36.982Z",
		"2026-11-26 08:06:36 +0000 UTC":           "2026-11-26T08:06:36Z",
		"2026-11-26 09:06:36.5 +0100 CET":         "2026-11-26T08:06:36.5Z",
		"2026-11-26 08:06:36.123456789 +0000 UTC": "2026-11-26T08:06:36.123456789Z",
		// Auth0 gave none.
		"0001-01-01 00:00:00 +0000 UTC": "",
		"":                              "",
		// Already RFC 3339.
		"2026-01-01T00:00:00.000Z":     "2026-01-01T00:00:00Z",
		"2026-01-01T01:00:00.25+01:00": "2026-01-01T00:00:00.25Z",
		"not a time":                   "not a time",
	} {
		if got := Timestamp(in); got != want {
			t.Errorf("Timestamp(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOutputs(t *testing.T) {
	if _, ok := Outputs(nil); ok {
		t.Error("Outputs(nil) reported a stream")
	}
	if _, ok := Outputs(map[string]any{"name": "users"}); ok {
		t.Error("Outputs without an id reported a stream")
	}
	got, ok := Outputs(map[string]any{
		"id":                       "est_GvjBteLHIa0va68OQ8mnM6",
		"name":                     "users",
		"status":                   "enabled",
		"destination_type":         "eventbridge",
		"created_at":               "2026-11-26 08:06:36.982 +0000 UTC",
		"updated_at":               "2026-11-26 08:07:01 +0000 UTC",
		"subscriptions":            []any{"user.created", "user.deleted"},
		"aws_partner_event_source": "aws.partner/auth0.com/tenant-1/est_GvjBteLHIa0va68OQ8mnM6",
	})
	if !ok {
		t.Fatal("Outputs reported no stream")
	}
	want := map[string]any{
		"id":                    "est_GvjBteLHIa0va68OQ8mnM6",
		"name":                  "users",
		"status":                "enabled",
		"destinationType":       "eventbridge",
		"createdAt":             "2026-11-26T08:06:36.982Z",
		"updatedAt":             "2026-11-26T08:07:01Z",
		"subscriptions":         []any{"user.created", "user.deleted"},
		"awsPartnerEventSource": "aws.partner/auth0.com/tenant-1/est_GvjBteLHIa0va68OQ8mnM6",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Outputs: -want, +got:\n%s", diff)
	}
}

func TestForImport(t *testing.T) {
	c, err := For(params(v1alpha1.Destination{Type: v1alpha1.DestinationAction, Action: &v1alpha1.ActionDestination{ActionID: "a1"}}), "est_GvjBteLHIa0va68OQ8mnM6")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Import   []map[string]string `json:"import"`
		Variable map[string]any      `json:"variable"`
	}
	if err := json.Unmarshal(c.Module, &m); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]map[string]string{{"to": "auth0_event_stream.this", "id": "${var.stream_id}"}}, m.Import); diff != "" {
		t.Errorf("import blocks: -want, +got:\n%s", diff)
	}
	if _, ok := m.Variable[VarStreamID]; !ok || c.Vars[VarStreamID] != "est_GvjBteLHIa0va68OQ8mnM6" {
		t.Errorf("variable stream_id not declared and set: %v, %v", m.Variable, c.Vars)
	}
	if strings.Contains(string(c.Module), "est_") {
		t.Error("the id is in the module's text, not only in the varmap")
	}

	c, err = For(params(v1alpha1.Destination{Type: v1alpha1.DestinationAction, Action: &v1alpha1.ActionDestination{ActionID: "a1"}}), "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(c.Module), `"import"`) || c.Vars[VarStreamID] != nil {
		t.Errorf("an import without a stream id:\n%s", c.Module)
	}
}
