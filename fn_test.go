package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/response"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/version"
)

// xrJSON is a namespaced Auth0EventStream in namespace team-a.
func xrJSON(name, spec string) string {
	return fmt.Sprintf(`{"apiVersion":"auth0.openmcf.org/v1","kind":"Auth0EventStream","metadata":{"name":%q,"namespace":"team-a"},"spec":%s}`, name, spec)
}

// esJSON is the EventStream the function composes in team-a, with the
// default providerConfigRef and managementPolicies.
func esJSON(name, forProvider string) string {
	return esJSONWith("team-a", name, forProvider, `{"kind":"ClusterProviderConfig","name":"default"}`, `["*"]`)
}

func esJSONWith(ns, name, forProvider, pcr, mp string) string {
	return fmt.Sprintf(`{"apiVersion":"auth0.m.openmcf.org/v1alpha1","kind":"EventStream","metadata":{"name":%q,"namespace":%q,"labels":{%q:%q}},"spec":{"forProvider":%s,"providerConfigRef":%s,"managementPolicies":%s}}`, name, ns, LabelFunctionVersion, version.Version, forProvider, pcr, mp)
}

// secretJSON is the Secret the function composes for inline values, offered
// as a webhook secret.
func secretJSON(ns, name string, data map[string]string) string {
	b, _ := json.Marshal(data)
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":%q,"namespace":%q,"labels":{%q:%q,%q:"true"}},"type":"Opaque","data":%s}`, name, ns, LabelFunctionVersion, version.Version, v1alpha1.LabelWebhookSecret, b)
}

func req(xr string, input string, observed map[string]string) *fnv1.RunFunctionRequest {
	r := &fnv1.RunFunctionRequest{
		Meta:     &fnv1.RequestMeta{Tag: "t"},
		Observed: &fnv1.State{Composite: &fnv1.Resource{Resource: resource.MustStructJSON(xr)}},
	}
	if input != "" {
		r.Input = resource.MustStructJSON(input)
	}
	if len(observed) > 0 {
		r.Observed.Resources = map[string]*fnv1.Resource{}
		for n, o := range observed {
			r.Observed.Resources[n] = &fnv1.Resource{Resource: resource.MustStructJSON(o)}
		}
	}
	return r
}

// rsp builds the expected response: desired resources, the desired XR (or
// nil), results and conditions.
type want struct {
	resources    map[string]*fnv1.Resource
	xr           string
	results      []*fnv1.Result
	conditions   []*fnv1.Condition
	requirements *fnv1.Requirements
	// steady: the composite is converged, so the response's TTL is
	// DefaultSteadyTTL instead of the SDK's default.
	steady bool
}

func (w want) rsp() *fnv1.RunFunctionResponse {
	ttl := response.DefaultTTL
	if w.steady {
		ttl = DefaultSteadyTTL
	}
	r := &fnv1.RunFunctionResponse{
		Meta:         &fnv1.ResponseMeta{Tag: "t", Ttl: durationpb.New(ttl)},
		Results:      w.results,
		Conditions:   w.conditions,
		Requirements: w.requirements,
	}
	if w.resources != nil {
		xr := &structpb.Struct{Fields: map[string]*structpb.Value{}}
		if w.xr != "" {
			xr = resource.MustStructJSON(w.xr)
		}
		r.Desired = &fnv1.State{Composite: &fnv1.Resource{Resource: xr}, Resources: w.resources}
	}
	return r
}

func ready(s string, r fnv1.Ready) *fnv1.Resource {
	return &fnv1.Resource{Resource: resource.MustStructJSON(s), Ready: r}
}

func cond(s fnv1.Status, reason, msg string) []*fnv1.Condition {
	return []*fnv1.Condition{{Type: ConditionStreamReady, Status: s, Reason: reason, Message: &msg, Target: fnv1.Target_TARGET_COMPOSITE.Enum()}}
}

func creating(name string) []*fnv1.Condition {
	return cond(fnv1.Status_STATUS_CONDITION_FALSE, "Creating", "EventStream "+name+" has not been created yet")
}

// inlineSecret is the warning on a legacy XR (and its claim in team-b)
// whose field holds an inline secret that ref should hold instead.
func inlineSecret(field, ref, claim, xr string) []*fnv1.Result {
	return []*fnv1.Result{{
		Severity: fnv1.Severity_SEVERITY_WARNING, Target: fnv1.Target_TARGET_COMPOSITE_AND_CLAIM.Enum(), Reason: new("InlineSecret"),
		Message: "spec.webhookConfiguration.webhookAuthorization." + field + ": the inline value was copied from claim team-b/" + claim + " into the cluster-scoped XAuth0EventStream " + xr +
			", readable by anyone who may read that resource; use " + ref + ", a key of a Secret in namespace team-b",
	}}
}

func notSynced(msg string) []*fnv1.Result {
	return []*fnv1.Result{{Severity: fnv1.Severity_SEVERITY_WARNING, Message: msg, Reason: new("EventStreamNotSynced"), Target: fnv1.Target_TARGET_COMPOSITE.Enum()}}
}

func fatal(msg string) []*fnv1.Result {
	return []*fnv1.Result{{Severity: fnv1.Severity_SEVERITY_FATAL, Message: msg, Target: fnv1.Target_TARGET_COMPOSITE.Enum()}}
}

// refused is the answer to a composite the function refuses: the Fatal
// result, and StreamReady saying the same.
func refused(msg string) want {
	return want{results: fatal(msg), conditions: cond(fnv1.Status_STATUS_CONDITION_FALSE, ReasonRefused, msg)}
}

// toClaim targets conditions at the claim too, as the function does for a
// legacy composite with a claim.
func toClaim(cs []*fnv1.Condition) []*fnv1.Condition {
	for _, c := range cs {
		c.Target = fnv1.Target_TARGET_COMPOSITE_AND_CLAIM.Enum()
	}
	return cs
}

const (
	webhookBearerInline = `{"destinationType":"webhook","subscriptions":["user.created","user.deleted"],
		"webhookConfiguration":{"webhookEndpoint":"https://api.example.com/hook","webhookAuthorization":{"method":"bearer","token":"s3cr3t-token"}}}`
	fpBearerInline = `{"name":"users","subscriptions":["user.created","user.deleted"],"status":"enabled",
		"destination":{"type":"webhook","webhook":{"endpoint":"https://api.example.com/hook","authorization":{"method":"bearer","tokenSecretRef":{"name":"users-webhook-authorization","key":"token"}}}}}`
)

// observedES is an observed EventStream with the supplied status.
func observedES(name, status string) string {
	return fmt.Sprintf(`{"apiVersion":"auth0.m.openmcf.org/v1alpha1","kind":"EventStream","metadata":{"name":%q,"namespace":"team-a"},"spec":{"forProvider":{}},"status":%s}`, name, status)
}

func TestRunFunction(t *testing.T) {
	cases := map[string]struct {
		reason string
		req    *fnv1.RunFunctionRequest
		want   want
	}{
		"WebhookBearerInline": {
			reason: "An inline token moves into a composed Secret the EventStream references.",
			req:    req(xrJSON("users", webhookBearerInline), "", nil),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream":          ready(esJSON("users", fpBearerInline), fnv1.Ready_READY_FALSE),
					"webhook-authorization": ready(secretJSON("team-a", "users-webhook-authorization", map[string]string{"token": "czNjcjN0LXRva2Vu"}), fnv1.Ready_READY_FALSE),
				},
				conditions: creating("users"),
			},
		},
		"WebhookBearerSecretRef": {
			reason: "A referenced token is passed through and no Secret is composed.",
			req: req(xrJSON("users", `{"destinationType":"webhook","subscriptions":["user.created"],
				"webhookConfiguration":{"webhookEndpoint":"https://api.example.com/hook","webhookAuthorization":{"method":"bearer","tokenSecretRef":{"name":"hook","key":"tok"}}}}`), "", nil),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream": ready(esJSON("users", `{"name":"users","subscriptions":["user.created"],"status":"enabled",
						"destination":{"type":"webhook","webhook":{"endpoint":"https://api.example.com/hook","authorization":{"method":"bearer","tokenSecretRef":{"name":"hook","key":"tok"}}}}}`), fnv1.Ready_READY_FALSE),
				},
				conditions:   creating("users"),
				requirements: secretRequirement("team-a", "hook"),
			},
		},
		"WebhookBasicInline": {
			reason: "Basic authorization keeps the username and moves the password into the Secret.",
			req: req(xrJSON("api-audit", `{"destinationType":"webhook","subscriptions":["user.updated"],
				"webhookConfiguration":{"webhookEndpoint":"https://audit.example.com","webhookAuthorization":{"method":"basic","username":"auth0-webhook","password":"p@ss"}}}`), "", nil),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream": ready(esJSON("api-audit", `{"name":"api-audit","subscriptions":["user.updated"],"status":"enabled",
						"destination":{"type":"webhook","webhook":{"endpoint":"https://audit.example.com","authorization":{"method":"basic","username":"auth0-webhook","passwordSecretRef":{"name":"api-audit-webhook-authorization","key":"password"}}}}}`), fnv1.Ready_READY_FALSE),
					"webhook-authorization": ready(secretJSON("team-a", "api-audit-webhook-authorization", map[string]string{"password": "cEBzcw=="}), fnv1.Ready_READY_FALSE),
				},
				conditions: creating("api-audit"),
			},
		},
		"WebhookBasicSecretRef": {
			reason: "A referenced password is passed through.",
			req: req(xrJSON("api-audit", `{"destinationType":"webhook","subscriptions":["user.updated"],
				"webhookConfiguration":{"webhookEndpoint":"https://audit.example.com","webhookAuthorization":{"method":"basic","username":"u","passwordSecretRef":{"name":"audit","key":"password"}}}}`), "", nil),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream": ready(esJSON("api-audit", `{"name":"api-audit","subscriptions":["user.updated"],"status":"enabled",
						"destination":{"type":"webhook","webhook":{"endpoint":"https://audit.example.com","authorization":{"method":"basic","username":"u","passwordSecretRef":{"name":"audit","key":"password"}}}}}`), fnv1.Ready_READY_FALSE),
				},
				conditions:   creating("api-audit"),
				requirements: secretRequirement("team-a", "audit"),
			},
		},
		"WebhookCustomHeaderInline": {
			reason: "custom_header keeps the header name and moves the value into the Secret.",
			req: req(xrJSON("hdr", `{"destinationType":"webhook","subscriptions":["user.updated"],
				"webhookConfiguration":{"webhookEndpoint":"https://h.example.com","webhookAuthorization":{"method":"custom_header","headerKey":"X-Api-Key","headerValue":"v"}}}`), "", nil),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream": ready(esJSON("hdr", `{"name":"hdr","subscriptions":["user.updated"],"status":"enabled",
						"destination":{"type":"webhook","webhook":{"endpoint":"https://h.example.com","authorization":{"method":"custom_header","headerKey":"X-Api-Key","headerValueSecretRef":{"name":"hdr-webhook-authorization","key":"headerValue"}}}}}`), fnv1.Ready_READY_FALSE),
					"webhook-authorization": ready(secretJSON("team-a", "hdr-webhook-authorization", map[string]string{"headerValue": "dg=="}), fnv1.Ready_READY_FALSE),
				},
				conditions: creating("hdr"),
			},
		},
		"WebhookCustomHeaderSecretRef": {
			reason: "A referenced header value is passed through.",
			req: req(xrJSON("hdr", `{"destinationType":"webhook","subscriptions":["user.updated"],
				"webhookConfiguration":{"webhookEndpoint":"https://h.example.com","webhookAuthorization":{"method":"custom_header","headerKey":"X-Api-Key","headerValueSecretRef":{"name":"h","key":"k"}}}}`), "", nil),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream": ready(esJSON("hdr", `{"name":"hdr","subscriptions":["user.updated"],"status":"enabled",
						"destination":{"type":"webhook","webhook":{"endpoint":"https://h.example.com","authorization":{"method":"custom_header","headerKey":"X-Api-Key","headerValueSecretRef":{"name":"h","key":"k"}}}}}`), fnv1.Ready_READY_FALSE),
				},
				conditions:   creating("hdr"),
				requirements: secretRequirement("team-a", "h"),
			},
		},
		"EventBridge": {
			reason: "EventBridge streams carry account and region.",
			req: req(xrJSON("security-events", `{"destinationType":"eventbridge","subscriptions":["user.updated","user.created"],
				"eventbridgeConfiguration":{"awsAccountId":"123456789012","awsRegion":"us-east-1"}}`), "", nil),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream": ready(esJSON("security-events", `{"name":"security-events","subscriptions":["user.updated","user.created"],"status":"enabled",
						"destination":{"type":"eventbridge","eventbridge":{"awsAccountId":"123456789012","awsRegion":"us-east-1"}}}`), fnv1.Ready_READY_FALSE),
				},
				conditions: creating("security-events"),
			},
		},
		"Action": {
			reason: "Action streams carry the action id.",
			req:    req(xrJSON("to-action", `{"destinationType":"action","subscriptions":["user.created"],"actionConfiguration":{"actionId":"act_123"}}`), "", nil),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream": ready(esJSON("to-action", `{"name":"to-action","subscriptions":["user.created"],"status":"enabled",
						"destination":{"type":"action","action":{"actionId":"act_123"}}}`), fnv1.Ready_READY_FALSE),
				},
				conditions: creating("to-action"),
			},
		},
		"InputDefaultsAndXROverrides": {
			reason: "The input's name prefix applies to composed names; the XR's providerConfigRef, managementPolicies, name and status win over defaults.",
			req: req(xrJSON("users", `{"name":"Users stream","status":"disabled","destinationType":"action","subscriptions":["user.created"],"actionConfiguration":{"actionId":"a"},
				"providerConfigRef":{"kind":"ProviderConfig","name":"team-a"}}`),
				`{"apiVersion":"auth0eventstream.fn.openmcf.org/v1beta1","kind":"Input","namePrefix":"auth0-","providerConfigRef":{"kind":"ClusterProviderConfig","name":"tenant"},"managementPolicies":["Observe","Create"]}`, nil),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream": ready(esJSONWith("team-a", "auth0-users", `{"name":"Users stream","subscriptions":["user.created"],"status":"disabled",
						"destination":{"type":"action","action":{"actionId":"a"}}}`, `{"kind":"ProviderConfig","name":"team-a"}`, `["Observe","Create"]`), fnv1.Ready_READY_FALSE),
				},
				conditions: creating("auth0-users"),
			},
		},
		"InputDefaults": {
			reason: "Without XR overrides the input's providerConfigRef and managementPolicies apply; the prefix also names the Secret.",
			req: req(xrJSON("users", webhookBearerInline),
				`{"apiVersion":"auth0eventstream.fn.openmcf.org/v1beta1","kind":"Input","namePrefix":"p-","providerConfigRef":{"kind":"ClusterProviderConfig","name":"tenant"},"managementPolicies":["Observe","Create"]}`, nil),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream": ready(esJSONWith("team-a", "p-users", strings.ReplaceAll(fpBearerInline, "users-webhook-authorization", "p-users-webhook-authorization"),
						`{"kind":"ClusterProviderConfig","name":"tenant"}`, `["Observe","Create"]`), fnv1.Ready_READY_FALSE),
					"webhook-authorization": ready(secretJSON("team-a", "p-users-webhook-authorization", map[string]string{"token": "czNjcjN0LXRva2Vu"}), fnv1.Ready_READY_FALSE),
				},
				conditions: creating("p-users"),
			},
		},
		"LegacyClaim": {
			reason: "A cluster-scoped XR of a claim composes into the claim's namespace and is named after the claim.",
			req: req(`{"apiVersion":"auth0.openmcf.org/v1","kind":"XAuth0EventStream","metadata":{"name":"users-x7k2p"},
				"spec":{"claimRef":{"apiVersion":"auth0.openmcf.org/v1","kind":"Auth0EventStream","namespace":"team-b","name":"users"},
				"destinationType":"webhook","subscriptions":["user.created","user.deleted"],
				"webhookConfiguration":{"webhookEndpoint":"https://api.example.com/hook","webhookAuthorization":{"method":"bearer","token":"s3cr3t-token"}}}}`, "", nil),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream":          ready(esJSONWith("team-b", "users", fpBearerInline, `{"kind":"ClusterProviderConfig","name":"default"}`, `["*"]`), fnv1.Ready_READY_FALSE),
					"webhook-authorization": ready(secretJSON("team-b", "users-webhook-authorization", map[string]string{"token": "czNjcjN0LXRva2Vu"}), fnv1.Ready_READY_FALSE),
				},
				results:    inlineSecret("token", "tokenSecretRef", "users", "users-x7k2p"),
				conditions: toClaim(creating("users")),
			},
		},
		"LegacyClaimLabels": {
			reason: "Without a claimRef the claim labels Crossplane sets locate the claim; the input's extraEventTypes admit a type outside the catalog.",
			req: req(`{"apiVersion":"auth0.openmcf.org/v1","kind":"XAuth0EventStream","metadata":{"name":"a-x","labels":{"crossplane.io/claim-name":"a","crossplane.io/claim-namespace":"team-c"}},
				"spec":{"destinationType":"action","subscriptions":["user.created","management.client.created"],"actionConfiguration":{"actionId":"x"}}}`,
				input+`,"extraEventTypes":["management.client.created"]}`, nil),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream": ready(esJSONWith("team-c", "a", `{"name":"a","subscriptions":["user.created","management.client.created"],"status":"enabled","destination":{"type":"action","action":{"actionId":"x"}}}`,
						`{"kind":"ClusterProviderConfig","name":"default"}`, `["*"]`), fnv1.Ready_READY_FALSE),
				},
				conditions: toClaim(creating("a")),
			},
		},
		"LegacyWithoutClaim": {
			reason: "A cluster-scoped XR without a claim has no namespace for its EventStream.",
			req: req(`{"apiVersion":"auth0.openmcf.org/v1","kind":"XAuth0EventStream","metadata":{"name":"a"},
				"spec":{"destinationType":"action","subscriptions":["user.created"],"actionConfiguration":{"actionId":"x"}}}`, "", nil),
			want: want{
				results: []*fnv1.Result{{
					Severity: fnv1.Severity_SEVERITY_FATAL, Target: fnv1.Target_TARGET_COMPOSITE.Enum(),
					Message: "invalid Auth0EventStream: spec.claimRef: Required value: a cluster-scoped composite needs a claim: its EventStream is namespaced and is composed in the claim's namespace",
				}},
			},
		},
		"NamespacedWithoutNamespace": {
			reason: "A namespaced XR rendered offline without a namespace composes into default, as kubectl would.",
			req: req(`{"apiVersion":"auth0.openmcf.org/v1","kind":"Auth0EventStream","metadata":{"name":"a"},
				"spec":{"destinationType":"action","subscriptions":["user.created"],"actionConfiguration":{"actionId":"x"}}}`, "", nil),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream": ready(esJSONWith("default", "a", `{"name":"a","subscriptions":["user.created"],"status":"enabled","destination":{"type":"action","action":{"actionId":"x"}}}`,
						`{"kind":"ClusterProviderConfig","name":"default"}`, `["*"]`), fnv1.Ready_READY_FALSE),
				},
				conditions: creating("a"),
			},
		},
		"ObservedReady": {
			reason: "A ready EventStream is ready, its atProvider becomes status.outputs, and the Secret is ready once it exists.",
			req: req(xrJSON("users", webhookBearerInline), "", map[string]string{
				"event-stream": observedES("users", `{"conditions":[{"type":"Ready","status":"True","reason":"Available","lastTransitionTime":"2026-01-01T00:00:00Z"},
					{"type":"Synced","status":"True","reason":"ReconcileSuccess","lastTransitionTime":"2026-01-01T00:00:00Z"}],
					"atProvider":{"id":"est_kh8FhJtLmm5hwVNZYMLWEU","name":"users","status":"enabled","destinationType":"webhook","createdAt":"2025-07-29T04:20:20.541Z","updatedAt":"2025-07-29T04:20:21.541Z","subscriptions":["user.created","user.deleted"]}}`),
				"webhook-authorization": secretJSON("team-a", "users-webhook-authorization", map[string]string{"token": "czNjcjN0LXRva2Vu"}),
			}),
			want: want{
				steady: true,
				resources: map[string]*fnv1.Resource{
					"event-stream":          ready(esJSON("users", fpBearerInline), fnv1.Ready_READY_TRUE),
					"webhook-authorization": ready(secretJSON("team-a", "users-webhook-authorization", map[string]string{"token": "czNjcjN0LXRva2Vu"}), fnv1.Ready_READY_TRUE),
				},
				xr: `{"status":{"outputs":{"id":"est_kh8FhJtLmm5hwVNZYMLWEU","name":"users","status":"enabled","destinationType":"webhook",
					"createdAt":"2025-07-29T04:20:20.541Z","updatedAt":"2025-07-29T04:20:21.541Z","subscriptions":["user.created","user.deleted"],"awsPartnerEventSource":""}}}`,
				conditions: cond(fnv1.Status_STATUS_CONDITION_TRUE, "Available", "EventStream users is ready"),
			},
		},
		"ObservedEventBridgeOutputs": {
			reason: "An EventBridge stream's partner event source reaches status.outputs.",
			req: req(xrJSON("sec", `{"destinationType":"eventbridge","subscriptions":["user.created"],"eventbridgeConfiguration":{"awsAccountId":"123456789012","awsRegion":"us-east-1"}}`), "", map[string]string{
				"event-stream": observedES("sec", `{"conditions":[{"type":"Ready","status":"True","reason":"Available","lastTransitionTime":"2026-01-01T00:00:00Z"}],
					"atProvider":{"id":"est_1","name":"sec","status":"enabled","destinationType":"eventbridge","createdAt":"c","updatedAt":"u","subscriptions":["user.created"],"awsPartnerEventSource":"aws.partner/auth0.com/t-1/auth0.events"}}`),
			}),
			want: want{
				steady: true,
				resources: map[string]*fnv1.Resource{
					"event-stream": ready(esJSON("sec", `{"name":"sec","subscriptions":["user.created"],"status":"enabled","destination":{"type":"eventbridge","eventbridge":{"awsAccountId":"123456789012","awsRegion":"us-east-1"}}}`), fnv1.Ready_READY_TRUE),
				},
				xr:         `{"status":{"outputs":{"id":"est_1","name":"sec","status":"enabled","destinationType":"eventbridge","createdAt":"c","updatedAt":"u","subscriptions":["user.created"],"awsPartnerEventSource":"aws.partner/auth0.com/t-1/auth0.events"}}}`,
				conditions: cond(fnv1.Status_STATUS_CONDITION_TRUE, "Available", "EventStream sec is ready"),
			},
		},
		"ObservedSyncFailed": {
			reason: "A failed sync's reason and message surface on the XR; without atProvider.id no outputs are written.",
			req: req(xrJSON("users", webhookBearerInline), "", map[string]string{
				"event-stream": observedES("users", `{"conditions":[{"type":"Ready","status":"False","reason":"Creating","lastTransitionTime":"2026-01-01T00:00:00Z"},
					{"type":"Synced","status":"False","reason":"ReconcileError","message":"create failed: 400 Bad Request: invalid event type","lastTransitionTime":"2026-01-01T00:00:00Z"}]}`),
			}),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream":          ready(esJSON("users", fpBearerInline), fnv1.Ready_READY_FALSE),
					"webhook-authorization": ready(secretJSON("team-a", "users-webhook-authorization", map[string]string{"token": "czNjcjN0LXRva2Vu"}), fnv1.Ready_READY_FALSE),
				},
				results:    notSynced("EventStream users is not synced: create failed: 400 Bad Request: invalid event type"),
				conditions: cond(fnv1.Status_STATUS_CONDITION_FALSE, "ReconcileError", "EventStream users is not synced: create failed: 400 Bad Request: invalid event type"),
			},
		},
		"ObservedNotReady": {
			reason: "A synced but unready EventStream surfaces its Ready reason.",
			req: req(xrJSON("users", webhookBearerInline), "", map[string]string{
				"event-stream": observedES("users", `{"conditions":[{"type":"Ready","status":"False","reason":"Unavailable","message":"stream is disabled","lastTransitionTime":"2026-01-01T00:00:00Z"},
					{"type":"Synced","status":"True","reason":"ReconcileSuccess","lastTransitionTime":"2026-01-01T00:00:00Z"}],"atProvider":{"id":"est_2"}}`),
			}),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream":          ready(esJSON("users", fpBearerInline), fnv1.Ready_READY_FALSE),
					"webhook-authorization": ready(secretJSON("team-a", "users-webhook-authorization", map[string]string{"token": "czNjcjN0LXRva2Vu"}), fnv1.Ready_READY_FALSE),
				},
				xr:         `{"status":{"outputs":{"id":"est_2","name":"","status":"","destinationType":"","createdAt":"","updatedAt":"","subscriptions":[],"awsPartnerEventSource":""}}}`,
				conditions: cond(fnv1.Status_STATUS_CONDITION_FALSE, "Unavailable", "EventStream users is not ready: stream is disabled"),
			},
		},
		"ObservedWithoutConditions": {
			reason: "An EventStream the provider has not reported on yet is not ready.",
			req: req(xrJSON("users", webhookBearerInline), "", map[string]string{
				"event-stream": observedES("users", `{}`),
			}),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream":          ready(esJSON("users", fpBearerInline), fnv1.Ready_READY_FALSE),
					"webhook-authorization": ready(secretJSON("team-a", "users-webhook-authorization", map[string]string{"token": "czNjcjN0LXRva2Vu"}), fnv1.Ready_READY_FALSE),
				},
				conditions: cond(fnv1.Status_STATUS_CONDITION_FALSE, "Creating", "EventStream users is not ready"),
			},
		},
		"UnsupportedBackend": {
			reason: "Only the native and terraform backends exist.",
			req:    req(xrJSON("users", webhookBearerInline), `{"apiVersion":"auth0eventstream.fn.openmcf.org/v1beta1","kind":"Input","backend":"pulumi"}`, nil),
			want: want{
				results: []*fnv1.Result{{
					Severity: fnv1.Severity_SEVERITY_FATAL, Target: fnv1.Target_TARGET_COMPOSITE.Enum(),
					Message: `cannot get function input: backend: Unsupported value: "pulumi": supported values: "native", "terraform", "none"`,
				}},
			},
		},
	}

	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, _ := runPipeline(t, tc.req, testCluster(t))
			if diff := cmp.Diff(tc.want.rsp(), got, protocmp.Transform()); diff != "" {
				t.Errorf("%s\nRunFunction(...): -want rsp, +got rsp:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestRunFunctionKeepsOtherDesiredResources(t *testing.T) {
	r := req(xrJSON("a", `{"destinationType":"action","subscriptions":["user.created"],"actionConfiguration":{"actionId":"x"}}`), "", nil)
	other := resource.MustStructJSON(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`)
	r.Desired = &fnv1.State{Resources: map[string]*fnv1.Resource{"other": {Resource: other}}}
	got, err := (&Function{log: logging.NewNopLogger()}).RunFunction(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(other, got.GetDesired().GetResources()["other"].GetResource(), protocmp.Transform()); diff != "" {
		t.Errorf("a desired resource of an earlier step changed: -want, +got:\n%s", diff)
	}
	if _, ok := got.GetDesired().GetResources()["event-stream"]; !ok {
		t.Errorf("event-stream not composed")
	}
}

// Stream ids of the shape Auth0 uses.
const (
	idA = "est_kh8FhJtLmm5hwVNZYMLWEU"
	idB = "est_GvjBteLHIa0va68OQ8mnM6"
)

const fpAction = `{"name":"users","subscriptions":["user.created"],"status":"enabled","destination":{"type":"action","action":{"actionId":"a"}}}`

// actionXR is an action Auth0EventStream users in team-a with extra spec
// fields (a JSON object's members, with a leading comma, or empty).
func actionXR(extra string) string {
	return xrJSON("users", `{"destinationType":"action","subscriptions":["user.created"],"actionConfiguration":{"actionId":"a"}`+extra+`}`)
}

// esPinned is the composed action EventStream users whose external name
// the composition pins to id.
func esPinned(id, mp string) string {
	return fmt.Sprintf(`{"apiVersion":"auth0.m.openmcf.org/v1alpha1","kind":"EventStream","metadata":{"name":"users","namespace":"team-a",
		"annotations":{"crossplane.io/external-name":%q,"auth0.openmcf.org/stream-id":%q},"labels":{%q:%q}},
		"spec":{"forProvider":%s,"providerConfigRef":{"kind":"ClusterProviderConfig","name":"default"},"managementPolicies":%s}}`, id, id, LabelFunctionVersion, version.Version, fpAction, mp)
}

// observedAction is the observed EventStream users with annotations and a
// status.
func observedAction(annotations map[string]string, status string) string {
	a, _ := json.Marshal(annotations)
	return fmt.Sprintf(`{"apiVersion":"auth0.m.openmcf.org/v1alpha1","kind":"EventStream","metadata":{"name":"users","namespace":"team-a","annotations":%s},"spec":{"forProvider":{}},"status":%s}`, a, status)
}

// found is an EventStream status for a ready, synced stream id.
func found(id string) string {
	return fmt.Sprintf(`{"conditions":[{"type":"Ready","status":"True","reason":"Available","lastTransitionTime":"2026-01-01T00:00:00Z"},
		{"type":"Synced","status":"True","reason":"ReconcileSuccess","lastTransitionTime":"2026-01-01T00:00:00Z"}],
		"atProvider":{"id":%q,"name":"users","status":"enabled","destinationType":"action","createdAt":"c","updatedAt":"u","subscriptions":["user.created"]}}`, id)
}

func outputsOf(id string) string {
	return fmt.Sprintf(`{"status":{"outputs":{"id":%q,"name":"users","status":"enabled","destinationType":"action","createdAt":"c","updatedAt":"u","subscriptions":["user.created"],"awsPartnerEventSource":""}}}`, id)
}

// notFound is the status of an Observe-only EventStream whose stream Auth0
// does not hold.
const notFound = `{"conditions":[{"type":"Synced","status":"False","reason":"ReconcileError","message":"cannot observe external resource: external resource does not exist","lastTransitionTime":"2026-01-01T00:00:00Z"}]}`

const input = `{"apiVersion":"auth0eventstream.fn.openmcf.org/v1beta1","kind":"Input"`

// TestRunFunctionXRLevel covers what binds an EventStream to a tenant and a
// stream (the ProviderConfig allow-list, spec.streamId imports), how a
// failing sync shows on the XR, and the legacy flavour's inline secrets.
func TestRunFunctionXRLevel(t *testing.T) {
	pinnedA := map[string]string{AnnotationExternalName: idA, AnnotationStreamID: idA}
	cases := map[string]struct {
		reason string
		req    *fnv1.RunFunctionRequest
		want   want
	}{
		"AllowedProviderConfigAnyName": {
			reason: "A kind without a name allows every ProviderConfig of that kind.",
			req: req(actionXR(`,"providerConfigRef":{"kind":"ProviderConfig","name":"team-a"}`),
				input+`,"allowedProviderConfigs":[{"kind":"ClusterProviderConfig","name":"default"},{"kind":"ProviderConfig"}]}`, nil),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream": ready(esJSONWith("team-a", "users", fpAction, `{"kind":"ProviderConfig","name":"team-a"}`, `["*"]`), fnv1.Ready_READY_FALSE),
				},
				conditions: creating("users"),
			},
		},
		"AllowedProviderConfigDefault": {
			reason: "The default ProviderConfig is subject to the allow-list too, and allowed here by name.",
			req:    req(actionXR(""), input+`,"allowedProviderConfigs":[{"kind":"ClusterProviderConfig","name":"default"}]}`, nil),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream": ready(esJSON("users", fpAction), fnv1.Ready_READY_FALSE),
				},
				conditions: creating("users"),
			},
		},
		"RefusedProviderConfig": {
			reason: "A ProviderConfig outside the allow-list is a Fatal result naming the field and the allowed set; nothing is composed.",
			req: req(actionXR(`,"providerConfigRef":{"kind":"ClusterProviderConfig","name":"other-tenant"}`),
				input+`,"allowedProviderConfigs":[{"kind":"ClusterProviderConfig","name":"default"},{"kind":"ProviderConfig"}]}`, nil),
			want: refused("invalid Auth0EventStream: spec.providerConfigRef: Forbidden: ClusterProviderConfig/other-tenant is not allowed by the composition; allowed: ClusterProviderConfig/default, ProviderConfig/* (kind/* is any name of that kind)"),
		},
		"RefusedDefaultProviderConfig": {
			reason: "When the default is not allowed, an XR without providerConfigRef is told to choose one.",
			req:    req(actionXR(""), input+`,"allowedProviderConfigs":[{"kind":"ProviderConfig"}]}`, nil),
			want:   refused("invalid Auth0EventStream: spec.providerConfigRef: Required value: the default ClusterProviderConfig/default is not allowed by the composition; choose one of ProviderConfig/*"),
		},
		"EmptyAllowList": {
			reason: "An empty allow-list is ambiguous and refused; omitting it allows everything.",
			req:    req(actionXR(""), input+`,"allowedProviderConfigs":[]}`, nil),
			want:   want{results: fatal("cannot get function input: allowedProviderConfigs: Required value: must not be empty: omit it to allow every ProviderConfig")},
		},
		"AllowListUnknownKind": {
			reason: "Each allow-list entry names a ProviderConfig kind.",
			req:    req(actionXR(""), input+`,"allowedProviderConfigs":[{"kind":"Secret"}]}`, nil),
			want:   want{results: fatal(`cannot get function input: allowedProviderConfigs[0].kind: Unsupported value: "Secret": supported values: "ClusterProviderConfig", "ProviderConfig"`)},
		},
		"ImportObserveOnly": {
			reason: "spec.streamId becomes the EventStream's external name, recorded as pinned.",
			req:    req(actionXR(`,"streamId":"`+idA+`","managementPolicies":["Observe"]`), "", nil),
			want: want{
				resources:  map[string]*fnv1.Resource{"event-stream": ready(esPinned(idA, `["Observe"]`), fnv1.Ready_READY_FALSE)},
				conditions: creating("users"),
			},
		},
		"ImportObserved": {
			reason: "An imported stream's outputs reach the XR.",
			req: req(actionXR(`,"streamId":"`+idA+`","managementPolicies":["Observe"]`), "", map[string]string{
				"event-stream": observedAction(pinnedA, found(idA)),
			}),
			want: want{
				steady:     true,
				resources:  map[string]*fnv1.Resource{"event-stream": ready(esPinned(idA, `["Observe"]`), fnv1.Ready_READY_TRUE)},
				xr:         outputsOf(idA),
				conditions: cond(fnv1.Status_STATUS_CONDITION_TRUE, "Available", "EventStream users is ready"),
			},
		},
		"AdoptObservesFirst": {
			reason: "Where the composition lets imports be managed, an id is only observed until the provider finds its stream, so a wrong id never leads to a create.",
			req:    req(actionXR(`,"streamId":"`+idA+`"`), input+`,"importPolicy":"Manage"}`, nil),
			want: want{
				resources:  map[string]*fnv1.Resource{"event-stream": ready(esPinned(idA, `["Observe"]`), fnv1.Ready_READY_FALSE)},
				conditions: creating("users"),
			},
		},
		"AdoptNotFound": {
			reason: "A stream Auth0 does not hold keeps the EventStream Observe-only, not synced, and the XR says why.",
			req: req(actionXR(`,"streamId":"`+idA+`"`), input+`,"importPolicy":"Manage"}`, map[string]string{
				"event-stream": observedAction(pinnedA, notFound),
			}),
			want: want{
				resources:  map[string]*fnv1.Resource{"event-stream": ready(esPinned(idA, `["Observe"]`), fnv1.Ready_READY_FALSE)},
				results:    notSynced("EventStream users is not synced: cannot observe external resource: external resource does not exist"),
				conditions: cond(fnv1.Status_STATUS_CONDITION_FALSE, "ReconcileError", "EventStream users is not synced: cannot observe external resource: external resource does not exist"),
			},
		},
		"AdoptFound": {
			reason: "Where the composition lets imports be managed, the stream is managed with the XR's policies once found.",
			req: req(actionXR(`,"streamId":"`+idA+`"`), input+`,"importPolicy":"Manage"}`, map[string]string{
				"event-stream": observedAction(pinnedA, found(idA)),
			}),
			want: want{
				steady:     true,
				resources:  map[string]*fnv1.Resource{"event-stream": ready(esPinned(idA, `["*"]`), fnv1.Ready_READY_TRUE)},
				xr:         outputsOf(idA),
				conditions: cond(fnv1.Status_STATUS_CONDITION_TRUE, "Available", "EventStream users is ready"),
			},
		},
		"StreamIDChangeRefused": {
			reason: "Changing the id of a found stream would switch streams: refused, nothing applied.",
			req: req(actionXR(`,"streamId":"`+idB+`"`), "", map[string]string{
				"event-stream": observedAction(pinnedA, found(idA)),
			}),
			want: refused(`invalid Auth0EventStream: spec.streamId: Invalid value: "` + idB + `": EventStream users is bound to stream ` + idA + `, which exists: changing the id would switch streams; import ` + idB + ` with a new resource instead`),
		},
		"StreamIDFixedWhileNotFound": {
			reason: "An id whose stream was never found (a typo) may be corrected: nothing is bound yet.",
			req: req(actionXR(`,"streamId":"`+idB+`","managementPolicies":["Observe"]`), "", map[string]string{
				"event-stream": observedAction(pinnedA, notFound),
			}),
			want: want{
				resources:  map[string]*fnv1.Resource{"event-stream": ready(esPinned(idB, `["Observe"]`), fnv1.Ready_READY_FALSE)},
				results:    notSynced("EventStream users is not synced: cannot observe external resource: external resource does not exist"),
				conditions: cond(fnv1.Status_STATUS_CONDITION_FALSE, "ReconcileError", "EventStream users is not synced: cannot observe external resource: external resource does not exist"),
			},
		},
		"StreamIDOtherThanCreated": {
			reason: "An id other than the stream the provider created would switch streams: refused.",
			req: req(actionXR(`,"streamId":"`+idB+`"`), "", map[string]string{
				"event-stream": observedAction(map[string]string{AnnotationExternalName: idA}, found(idA)),
			}),
			want: refused(`invalid Auth0EventStream: spec.streamId: Invalid value: "` + idB + `": EventStream users manages stream ` + idA + `: changing the id would switch streams; set spec.streamId to ` + idA + `, or import ` + idB + ` with a new resource`),
		},
		"StreamIDOfCreated": {
			reason: "Naming the stream the EventStream already manages pins it; where imports may be managed, its policies stay.",
			req: req(actionXR(`,"streamId":"`+idA+`"`), input+`,"importPolicy":"Manage"}`, map[string]string{
				"event-stream": observedAction(map[string]string{AnnotationExternalName: idA}, found(idA)),
			}),
			want: want{
				steady:     true,
				resources:  map[string]*fnv1.Resource{"event-stream": ready(esPinned(idA, `["*"]`), fnv1.Ready_READY_TRUE)},
				xr:         outputsOf(idA),
				conditions: cond(fnv1.Status_STATUS_CONDITION_TRUE, "Available", "EventStream users is ready"),
			},
		},
		"StreamIDRemovalRefused": {
			reason: "Without the pinned id the stream would look new and a second one be created: refused.",
			req: req(actionXR(""), "", map[string]string{
				"event-stream": observedAction(pinnedA, found(idA)),
			}),
			want: refused("invalid Auth0EventStream: spec.streamId: Required value: cannot be removed: EventStream users was bound to stream " + idA + " by spec.streamId, and without its external name that stream would be taken for a new one; set spec.streamId back, or delete this resource (with managementPolicies without Delete to keep the stream)"),
		},
		"ObserveOnlyWithoutStream": {
			reason: "Policies that cannot create need a stream to observe.",
			req:    req(actionXR(`,"managementPolicies":["Observe"]`), "", nil),
			want:   refused("invalid Auth0EventStream: spec.streamId: Required value: managementPolicies [Observe] do not allow Create: name the existing stream to observe"),
		},
		"ObserveOnlyCreatedStream": {
			reason: "Narrowing a created stream's policies to Observe needs no id: the EventStream holds one.",
			req: req(actionXR(`,"managementPolicies":["Observe"]`), "", map[string]string{
				"event-stream": observedAction(map[string]string{AnnotationExternalName: idA}, found(idA)),
			}),
			want: want{
				steady:     true,
				resources:  map[string]*fnv1.Resource{"event-stream": ready(esJSONWith("team-a", "users", fpAction, `{"kind":"ClusterProviderConfig","name":"default"}`, `["Observe"]`), fnv1.Ready_READY_TRUE)},
				xr:         outputsOf(idA),
				conditions: cond(fnv1.Status_STATUS_CONDITION_TRUE, "Available", "EventStream users is ready"),
			},
		},
		"UpdateKeepsFailing": {
			reason: "A stream that exists but fails to sync is not ready, so the XR's Ready turns False; a Warning result each run carries the provider's message.",
			req: req(actionXR(""), "", map[string]string{
				"event-stream": observedAction(map[string]string{AnnotationExternalName: idA}, `{"conditions":[{"type":"Ready","status":"True","reason":"Available","lastTransitionTime":"2026-01-01T00:00:00Z"},
					{"type":"Synced","status":"False","reason":"ReconcileError","message":"cannot update the event stream in Auth0: 400 Bad Request","lastTransitionTime":"2026-01-01T00:00:00Z"}],
					"atProvider":{"id":"`+idA+`","name":"users","status":"enabled","destinationType":"action","createdAt":"c","updatedAt":"u","subscriptions":["user.created"]}}`),
			}),
			want: want{
				resources:  map[string]*fnv1.Resource{"event-stream": ready(esJSON("users", fpAction), fnv1.Ready_READY_FALSE)},
				xr:         outputsOf(idA),
				results:    notSynced("EventStream users is not synced: cannot update the event stream in Auth0: 400 Bad Request"),
				conditions: cond(fnv1.Status_STATUS_CONDITION_FALSE, "ReconcileError", "EventStream users is not synced: cannot update the event stream in Auth0: 400 Bad Request"),
			},
		},
		"LegacyInlineSecretsWarned": {
			reason: "Each inline secret of a legacy XR is a warning on the XR and its claim naming the field, never the value.",
			req: req(`{"apiVersion":"auth0.openmcf.org/v1","kind":"XAuth0EventStream","metadata":{"name":"hdr-5xk2","labels":{"crossplane.io/claim-name":"hdr","crossplane.io/claim-namespace":"team-b"}},
				"spec":{"destinationType":"webhook","subscriptions":["user.updated"],
				"webhookConfiguration":{"webhookEndpoint":"https://h.example.com","webhookAuthorization":{"method":"custom_header","headerKey":"X-Api-Key","headerValue":"v4lue"}}}}`, "", nil),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream": ready(esJSONWith("team-b", "hdr", `{"name":"hdr","subscriptions":["user.updated"],"status":"enabled",
						"destination":{"type":"webhook","webhook":{"endpoint":"https://h.example.com","authorization":{"method":"custom_header","headerKey":"X-Api-Key","headerValueSecretRef":{"name":"hdr-webhook-authorization","key":"headerValue"}}}}}`,
						`{"kind":"ClusterProviderConfig","name":"default"}`, `["*"]`), fnv1.Ready_READY_FALSE),
					"webhook-authorization": ready(secretJSON("team-b", "hdr-webhook-authorization", map[string]string{"headerValue": "djRsdWU="}), fnv1.Ready_READY_FALSE),
				},
				results:    inlineSecret("headerValue", "headerValueSecretRef", "hdr", "hdr-5xk2"),
				conditions: toClaim(creating("hdr")),
			},
		},
		"LegacySecretRefNotWarned": {
			reason: "A legacy XR whose secrets are references gets no warning.",
			req: req(`{"apiVersion":"auth0.openmcf.org/v1","kind":"XAuth0EventStream","metadata":{"name":"a-x","labels":{"crossplane.io/claim-name":"a","crossplane.io/claim-namespace":"team-b"}},
				"spec":{"destinationType":"webhook","subscriptions":["user.updated"],
				"webhookConfiguration":{"webhookEndpoint":"https://h.example.com","webhookAuthorization":{"method":"basic","username":"u","passwordSecretRef":{"name":"s","key":"k"}}}}}`, "", nil),
			want: want{
				resources: map[string]*fnv1.Resource{
					"event-stream": ready(esJSONWith("team-b", "a", `{"name":"a","subscriptions":["user.updated"],"status":"enabled",
						"destination":{"type":"webhook","webhook":{"endpoint":"https://h.example.com","authorization":{"method":"basic","username":"u","passwordSecretRef":{"name":"s","key":"k"}}}}}`,
						`{"kind":"ClusterProviderConfig","name":"default"}`, `["*"]`), fnv1.Ready_READY_FALSE),
				},
				conditions:   toClaim(creating("a")),
				requirements: secretRequirement("team-b", "s"),
			},
		},
	}

	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, _ := runPipeline(t, tc.req, testCluster(t))
			if diff := cmp.Diff(tc.want.rsp(), got, protocmp.Transform()); diff != "" {
				t.Errorf("%s\nRunFunction(...): -want rsp, +got rsp:\n%s", tc.reason, diff)
			}
		})
	}
}

// TestSteadyTTL: only a converged composite (every composed resource ready,
// no warning) lets Crossplane wait the steady TTL before running the
// function again; one still waiting for something, or warned about, keeps
// the SDK's default.
func TestSteadyTTL(t *testing.T) {
	readyES := observedES("users", `{"conditions":[{"type":"Ready","status":"True","reason":"Available","lastTransitionTime":"2026-01-01T00:00:00Z"}],"atProvider":{"id":"est_kh8FhJtLmm5hwVNZYMLWEU"}}`)
	secret := secretJSON("team-a", "users-webhook-authorization", map[string]string{"token": "czNjcjN0LXRva2Vu"})
	warnedXR := strings.Replace(xrJSON("users", webhookBearerInline), `"namespace":"team-a"`, `"namespace":"team-a","annotations":{"auth0.openmcf.org/redeliver":"all"}`, 1)
	cases := map[string]struct {
		req  *fnv1.RunFunctionRequest
		want time.Duration
	}{
		"Converged":      {req(xrJSON("users", webhookBearerInline), "", map[string]string{"event-stream": readyES, "webhook-authorization": secret}), 42 * time.Minute},
		"SecretNotYet":   {req(xrJSON("users", webhookBearerInline), "", map[string]string{"event-stream": readyES}), response.DefaultTTL},
		"StreamNotReady": {req(xrJSON("users", webhookBearerInline), "", map[string]string{"event-stream": observedES("users", `{}`), "webhook-authorization": secret}), response.DefaultTTL},
		"Warned":         {req(warnedXR, "", map[string]string{"event-stream": readyES, "webhook-authorization": secret}), response.DefaultTTL},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rsp, err := (&Function{log: logging.NewNopLogger(), steady: 42 * time.Minute}).RunFunction(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := rsp.GetMeta().GetTtl().AsDuration(); got != tc.want {
				t.Errorf("TTL %v, want %v; results %v", got, tc.want, rsp.GetResults())
			}
		})
	}
}

// TestRunFunctionBackendNone covers the benchmarks' floor: a valid
// composite composes nothing and is Ready; an invalid one is still refused.
func TestRunFunctionBackendNone(t *testing.T) {
	f := &Function{log: logging.NewNopLogger()}
	got, err := f.RunFunction(context.Background(), req(actionXR(""), input+`,"backend":"none"}`, nil))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.GetDesired().GetResources()); n != 0 {
		t.Errorf("composed %d resources, want none", n)
	}
	if r := got.GetDesired().GetComposite().GetReady(); r != fnv1.Ready_READY_TRUE {
		t.Errorf("composite ready %s, want %s", r, fnv1.Ready_READY_TRUE)
	}
	if got.GetMeta().GetTtl().AsDuration() != DefaultSteadyTTL {
		t.Errorf("TTL %s, want %s", got.GetMeta().GetTtl().AsDuration(), DefaultSteadyTTL)
	}
	got, err = f.RunFunction(context.Background(), req(xrJSON("users", `{"destinationType":"action","subscriptions":["user.created"]}`), input+`,"backend":"none"}`, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.GetResults()) == 0 || got.GetResults()[0].GetSeverity() != fnv1.Severity_SEVERITY_FATAL {
		t.Errorf("an invalid composite was not refused: %v", got.GetResults())
	}
}
