//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/xp-auth0/auth0-eventstream/test/e2e/controlplane"
)

// TestInvalidManifestsRefused applies manifests that break the schema; the
// API server refuses each with a message naming the field.
func TestInvalidManifestsRefused(t *testing.T) {
	t.Parallel()
	invalidManifestsRefused(t, nativeBackend)
}

func invalidManifestsRefused(t *testing.T, b backend) {
	t.Helper()
	ns := namespace(t, b.ns("invalid"))
	cases := map[string]struct {
		spec  string
		field string
	}{
		"unknown destination": {
			spec:  "destinationType: sqs\n  subscriptions: [user.created]",
			field: "spec.destinationType",
		},
		"webhook without configuration": {
			spec:  "destinationType: webhook\n  subscriptions: [user.created]",
			field: "spec.webhookConfiguration",
		},
		"short AWS account": {
			spec:  "destinationType: eventbridge\n  subscriptions: [user.created]\n  eventbridgeConfiguration: {awsAccountId: \"12345\", awsRegion: us-east-1}",
			field: "spec.eventbridgeConfiguration.awsAccountId",
		},
		"plain HTTP endpoint": {
			spec:  "destinationType: webhook\n  subscriptions: [user.created]\n  webhookConfiguration: {webhookEndpoint: \"http://hooks.example.com\", webhookAuthorization: {method: bearer, token: t0k}}",
			field: "spec.webhookConfiguration.webhookEndpoint",
		},
		"no subscriptions": {
			spec:  "destinationType: eventbridge\n  subscriptions: []\n  eventbridgeConfiguration: {awsAccountId: \"123456789012\", awsRegion: us-east-1}",
			field: "spec.subscriptions",
		},
		"bearer without token": {
			spec:  "destinationType: webhook\n  subscriptions: [user.created]\n  webhookConfiguration: {webhookEndpoint: \"https://hooks.example.com\", webhookAuthorization: {method: bearer}}",
			field: "token",
		},
		"basic without username": {
			spec:  "destinationType: webhook\n  subscriptions: [user.created]\n  webhookConfiguration: {webhookEndpoint: \"https://hooks.example.com\", webhookAuthorization: {method: basic, password: pw}}",
			field: "username",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := fmt.Appendf(nil, "apiVersion: auth0.openmcf.org/v1\nkind: Auth0EventStream\nmetadata:\n  name: invalid\n  namespace: %s\nspec:\n  %s\n", ns, tc.spec)
			out, err := kubectl(t.Context(), b.xr(t, m), "apply", "-f", "-")
			if err == nil {
				t.Fatalf("the API server accepted an invalid manifest:\n%s", m)
			}
			if !strings.Contains(out, "Invalid value") && !strings.Contains(out, "Unsupported value") && !strings.Contains(out, "Required value") && !strings.Contains(out, "invalid") {
				t.Errorf("refusal does not look like a validation error: %s", out)
			}
			if !strings.Contains(out, tc.field) {
				t.Errorf("refusal does not name %s: %s", tc.field, out)
			}
		})
	}
}

// TestQuickStartAsSeeded applies the seed's Quick Start unchanged. Its
// event types (authentication.*) are not in Auth0's catalog, which Auth0
// refuses, so the function refuses them first: the resource says so,
// naming both subscriptions and the escape hatch (the function input's
// extraEventTypes), and no stream is made.
func TestQuickStartAsSeeded(t *testing.T) {
	quickStartAsSeeded(t, nativeBackend)
}

func quickStartAsSeeded(t *testing.T, b backend) {
	t.Helper()
	ns := namespace(t, b.ns("quickstart-seeded"))
	before := streamsNamed(t, "login-events")
	seed := docs(t, repoFile(t, "example/seed/quick-start.yaml"), ns)
	b.apply(t, encode(t, seed...))
	var cond string
	eventually(t, readyWithin, "a failing condition carrying the function's refusal", func(ctx context.Context) error {
		u, err := getStream(ctx, ns, "login-events")
		if err != nil {
			return err
		}
		if s, _, _ := condition(u, "Ready"); s == "True" {
			return fmt.Errorf("became Ready although Auth0 refuses its event types")
		}
		// StreamReady reaches a claim too; a composite's Synced says
		// the same.
		s, reason, msg := condition(u, "StreamReady")
		for _, want := range []string{`spec.subscriptions[0]: Invalid value: "authentication.success"`, `spec.subscriptions[1]: Invalid value: "authentication.failure"`, "extraEventTypes"} {
			if s != "False" || reason != "Refused" || !strings.Contains(msg, want) {
				return fmt.Errorf("want StreamReady=False Refused naming %s; conditions: %s", want, conditionsOf(u))
			}
		}
		cond = fmt.Sprintf("StreamReady=False %s: %s", reason, msg)
		return nil
	})
	t.Logf("condition: %s", cond)
	if composed := composedOf(t, b, ns, "login-events"); len(composed) > 0 {
		t.Errorf("composed %v for a refused composite", composed)
	}
	if after := streamsNamed(t, "login-events"); after != before {
		t.Errorf("the simulator holds %d streams named login-events, %d before: one was made for a manifest Auth0 refuses", after, before)
	}
	mustKubectl(t, nil, "delete", "auth0eventstream", "login-events", "-n", ns, "--timeout=2m")
}

// composedOf lists the resources of b's kind (and Secrets) composed for the
// composite or claim ns/name.
func composedOf(t *testing.T, b backend, ns, name string) []string {
	t.Helper()
	u, err := getStream(t.Context(), ns, name)
	if err != nil {
		t.Fatal(err)
	}
	xrName := ""
	if legacy() {
		xrName, _, _ = unstructured.NestedString(u.Object, "spec", "resourceRef", "name")
	}
	gvrs := []schema.GroupVersionResource{mrGVR, secretGVR}
	if b.composedKind == "Workspace" {
		gvrs[0] = workspaceGVR
	}
	var out []string
	for _, gvr := range gvrs {
		l, err := dyn.Resource(gvr).Namespace(ns).List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range l.Items {
			if owned(&l.Items[i], name, xrName) {
				out = append(out, l.Items[i].GetKind()+"/"+l.Items[i].GetName())
			}
		}
	}
	return out
}

// TestFaultsConverge makes Auth0 unreliable: one create whose answer is
// lost after the stream was made, then rate limiting (429) and random 5xx.
// Every resource still becomes Ready and Auth0 holds exactly one stream per
// resource.
func TestFaultsConverge(t *testing.T) {
	faultsConverge(t, nativeBackend, true)
}

// faultsConverge runs TestFaultsConverge's steps on b; lostAnswer adds
// the create whose answer is lost.
func faultsConverge(t *testing.T, b backend, lostAnswer bool) {
	t.Helper()
	ns := namespace(t, b.ns("faults"))
	ctx := t.Context()
	t.Cleanup(func() {
		// Later tests need a reliable Auth0 again.
		_ = sim.SetFaults(context.Background(), controlplane.Faults{})
		_ = sim.SetRateLimit(context.Background(), 0, 0)
	})
	if err := sim.ResetCounters(ctx); err != nil {
		t.Fatal(err)
	}
	manifest := func(name string) []byte {
		return fmt.Appendf(nil, `apiVersion: auth0.openmcf.org/v1
kind: Auth0EventStream
metadata:
  name: %s
  namespace: %s
spec:
  destinationType: eventbridge
  subscriptions: [user.created]
  eventbridgeConfiguration:
    awsAccountId: "123456789012"
    awsRegion: us-east-1
`, name, ns)
	}

	names := []string{"flaky-1", "flaky-2", "flaky-3"}
	if lostAnswer {
		// The next successful write is this stream's create: Auth0 makes
		// it and the answer never arrives.
		if err := sim.Script(ctx, controlplane.ScriptedFaults{LostResponses: 1}); err != nil {
			t.Fatal(err)
		}
		b.apply(t, manifest("lost-answer"))
		eventually(t, readyWithin, "the create whose answer was lost", func(ctx context.Context) error {
			c, err := simCounters(ctx)
			if err != nil {
				return err
			}
			if c.Get("POST /api/v2/event-streams", "lost") != 1 {
				return fmt.Errorf("no lost create yet: %v", c.Calls["POST /api/v2/event-streams"])
			}
			return nil
		})
	}

	// Now a tight rate limit (two calls a second: three streams created at
	// once exceed it), the next two calls failing for sure and then one
	// call in four failing with 500 or 503. (One call a second with no
	// burst would be pathological: every reconcile's read and create come
	// within a second, so the create would always see 429.)
	if err := sim.SetRateLimit(ctx, 2, 2); err != nil {
		t.Fatal(err)
	}
	if err := sim.Script(ctx, controlplane.ScriptedFaults{Errors: 2}); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetFaults(ctx, controlplane.Faults{ErrorRate: 0.25}); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		b.apply(t, manifest(n))
	}
	if lostAnswer {
		names = append(names, "lost-answer")
	}
	ids := map[string]string{}
	for _, n := range names {
		u := waitReady(t, ns, n)
		ids[n], _ = outputs(u)["id"].(string)
	}
	c, err := simCounters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var r429, r5xx int
	for _, byOutcome := range c.Calls {
		r429 += byOutcome["429"]
		r5xx += byOutcome["500"] + byOutcome["503"]
	}
	t.Logf("the simulator answered %d calls with 429, %d with the rate limit spent and %d with 5xx; calls: %v", r429, c.LimitSpent, r5xx, c.Calls)
	// The provider honours x-ratelimit-remaining: 0 by waiting for the
	// reset (its rate budget), so the limit may be reached without a 429.
	if r5xx < 2 || (r429 == 0 && c.LimitSpent == 0) {
		t.Errorf("got %d 5xx answers, %d 429s and %d answers with the limit spent, want at least 2 and 1: the test did not exercise retries and the rate limit", r5xx, r429, c.LimitSpent)
	}

	// Reliable again, then check the tenant: one stream per resource.
	if err := sim.SetFaults(ctx, controlplane.Faults{}); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetRateLimit(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		waitOutputsMatch(t, ns, n, nil)
	}
	all, err := simStreams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, s := range all {
		count[s.Name]++
	}
	for _, n := range names {
		if count[n] != 1 {
			t.Errorf("the simulator holds %d streams named %s, want exactly 1", count[n], n)
		}
	}
	for _, n := range names {
		deleteAndVerify(t, ns, n, ids[n])
	}
}

// streamsNamed counts the simulator's streams with a name (a running demo
// may hold one of the same name).
func streamsNamed(t *testing.T, name string) int {
	t.Helper()
	all, err := simStreams(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range all {
		if s.Name == name {
			n++
		}
	}
	return n
}
