//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/xp-auth0/auth0-eventstream/test/e2e/controlplane"
)

// Endpoints of the simulator's per-stream counters (Counters.Streams[id]).
const (
	endpointGetStream = "GET /api/v2/event-streams/{id}"
	endpointStats     = "GET /api/v2/event-streams/{id}/stats"
)

// Polls a steady state must last: the provider reads every stream this many
// times, and Crossplane core's poll and the delivery poll pass as often.
const steadyPolls = 3

// TestSteadyStateWritesNothing: once a few composites are Ready and their
// delivery health read, several provider, delivery and core polls with
// nothing changing write nothing: no resourceVersion moves on a composite
// (and, in the legacy flavour, its claim), its EventStream or its composed
// Secret. A drift made in Auth0 then moves its EventStream's, so the test
// sees writes when there are some.
func TestSteadyStateWritesNothing(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "steady-state")
	const n = 5
	var manifest strings.Builder
	fmt.Fprintf(&manifest, `apiVersion: v1
kind: Secret
metadata:
  name: steady-token
  namespace: %s
  labels: {auth0.m.openmcf.org/webhook-secret: "true"}
stringData:
  token: steady-referenced
`, ns)
	for i := range n {
		// Some with an inline token (a composed Secret), some referencing one.
		auth := "token: steady-inline-" + fmt.Sprint(i)
		if i%2 == 1 {
			auth = "tokenSecretRef: {name: steady-token, key: token}"
		}
		fmt.Fprintf(&manifest, `---
apiVersion: auth0.openmcf.org/v1
kind: Auth0EventStream
metadata:
  name: steady-%[2]d
  namespace: %[1]s
spec:
  destinationType: webhook
  subscriptions: [user.created, user.deleted]
  webhookConfiguration:
    webhookEndpoint: https://hooks.example.com/steady/%[2]d
    webhookAuthorization:
      method: bearer
      %[3]s
`, ns, i, auth)
	}
	mustKubectl(t, []byte(manifest.String()), "apply", "-f", "-")

	ids := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("steady-%d", i)
		u := waitReady(t, ns, name)
		ids[name], _ = outputs(u)["id"].(string)
	}
	// The first delivery-health read is a fact (Unknown to True) that is
	// written and copied up: wait for it on every composite (a delivery poll
	// after each stream's creation, then the provider's next poll).
	for name := range ids {
		eventually(t, convergeWithin+controlplane.DeliveryPoll, name+" DeliveriesHealthy=True", func(ctx context.Context) error {
			u, err := getStream(ctx, ns, name)
			if err != nil {
				return err
			}
			if s, _, _ := condition(u, "DeliveriesHealthy"); s != "True" {
				return fmt.Errorf("conditions: %s", conditionsOf(u))
			}
			return nil
		})
	}

	// Converged: a composite whose last fact just arrived may take a core
	// reconcile or two more to settle (its claim, its conditions). The
	// steady state starts once nothing moved through a provider poll and a
	// core poll; a write recurring within that never lets it start.
	quiet := controlplane.ProviderPoll + controlplane.CorePoll
	var (
		before map[string]*unstructured.Unstructured
		since  time.Time
	)
	eventually(t, convergeWithin+quiet, fmt.Sprintf("nothing written for %s (a provider and a core poll)", quiet), func(ctx context.Context) error {
		now := steadyObjects(ctx, t, ns)
		if before == nil || !sameVersions(before, now) {
			before, since = now, time.Now()
		}
		if d := time.Since(since); d < quiet {
			return fmt.Errorf("quiet for %s", d.Round(time.Second))
		}
		return nil
	})
	// Each composite and its EventStream, the composed Secrets of the
	// inline tokens and the referenced Secret.
	if want := 2*n + (n+1)/2 + 1; len(before) < want {
		t.Fatalf("%d objects watched, want at least %d: %v", len(before), want, before)
	}
	start, err := simCounters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	begun := time.Now()
	// The provider reads every stream at each of its polls and its delivery
	// health at each delivery poll; core's poll is seen only in time.
	corePolls := steadyPolls * controlplane.CorePoll
	within := steadyPolls*(controlplane.ProviderPoll+controlplane.DeliveryPoll) + corePolls + convergeWithin
	eventually(t, within, fmt.Sprintf("%d provider and delivery polls of every stream, %s of core polls", steadyPolls, corePolls), func(ctx context.Context) error {
		c, err := simCounters(ctx)
		if err != nil {
			return err
		}
		for name, id := range ids {
			gets := c.Streams[id][endpointGetStream] - start.Streams[id][endpointGetStream]
			stats := c.Streams[id][endpointStats] - start.Streams[id][endpointStats]
			if gets < steadyPolls || stats < steadyPolls-1 {
				return fmt.Errorf("%s (%s): %d reads and %d stats reads so far", name, id, gets, stats)
			}
		}
		if d := time.Since(begun); d < corePolls {
			return fmt.Errorf("%s of %s of core polls passed", d.Round(time.Second), corePolls)
		}
		return nil
	})
	end, err := simCounters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	after := steadyObjects(t.Context(), t, ns)
	var moved []string
	for k, b := range before {
		if a := after[k]; a == nil || a.GetResourceVersion() != b.GetResourceVersion() {
			moved = append(moved, fmt.Sprintf("%s: %s -> %s", k, b.GetResourceVersion(), writtenFields(b, a)))
		}
	}
	sort.Strings(moved)
	if len(moved) > 0 {
		t.Errorf("steady state wrote %d of %d objects in %s:\n%s", len(moved), len(before), time.Since(begun).Round(time.Second), strings.Join(moved, "\n"))
	}
	for name, id := range ids {
		t.Logf("%s: %d stream reads, %d stats reads, no writes, in %s", name,
			end.Streams[id][endpointGetStream]-start.Streams[id][endpointGetStream], end.Streams[id][endpointStats]-start.Streams[id][endpointStats], time.Since(begun).Round(time.Second))
	}

	t.Log("a drift in Auth0 is a fact: written")
	name := "steady-0"
	es := composedEventStream(t, ns, name)
	rv := es.GetResourceVersion()
	if err := sim.Drift(t.Context(), ids[name], map[string]any{"subscriptions": []map[string]string{{"event_type": "user.created"}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, convergeWithin, "the drift written to "+name+"'s EventStream", func(ctx context.Context) error {
		u, err := dyn.Resource(mrGVR).Namespace(ns).Get(ctx, es.GetName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		if u.GetResourceVersion() == rv {
			return fmt.Errorf("resourceVersion still %s", rv)
		}
		return nil
	})
}

// steadyObjects maps every composite (and claim), EventStream and Secret of
// namespace ns a steady state must leave alone, by kind and name.
func steadyObjects(ctx context.Context, t *testing.T, ns string) map[string]*unstructured.Unstructured {
	t.Helper()
	out := map[string]*unstructured.Unstructured{}
	list := func(kind string, r dynamic.ResourceInterface) []unstructured.Unstructured {
		l, err := r.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("list %s: %v", kind, err)
		}
		for i := range l.Items {
			out[kind+" "+l.Items[i].GetName()] = &l.Items[i]
		}
		return l.Items
	}
	streams := list("Auth0EventStream", dyn.Resource(streamGVR).Namespace(ns))
	if legacy() {
		for i := range streams {
			xr, _, _ := unstructured.NestedString(streams[i].Object, "spec", "resourceRef", "name")
			u, err := dyn.Resource(legacyXRGVR).Get(ctx, xr, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("composite of claim %s: %v", streams[i].GetName(), err)
			}
			out["XAuth0EventStream "+u.GetName()] = u
		}
	}
	list("EventStream", dyn.Resource(mrGVR).Namespace(ns))
	list("Secret", dyn.Resource(secretGVR).Namespace(ns))
	return out
}

func sameVersions(a, b map[string]*unstructured.Unstructured) bool {
	if len(a) != len(b) {
		return false
	}
	for k, o := range a {
		if b[k] == nil || b[k].GetResourceVersion() != o.GetResourceVersion() {
			return false
		}
	}
	return true
}

// writtenFields says what a write changed: the new resourceVersion and
// each top-level part of the object (metadata's labels, annotations and
// finalizers, spec, status, data) that differs, so a failure names the
// fact that moved. Secret data is named, never shown.
func writtenFields(before, after *unstructured.Unstructured) string {
	if after == nil {
		return "deleted"
	}
	var parts []string
	for _, path := range [][]string{{"metadata", "labels"}, {"metadata", "annotations"}, {"metadata", "finalizers"}, {"metadata", "ownerReferences"}, {"spec"}, {"status"}, {"data"}} {
		b, _, _ := unstructured.NestedFieldNoCopy(before.Object, path...)
		a, _, _ := unstructured.NestedFieldNoCopy(after.Object, path...)
		if fmt.Sprint(b) == fmt.Sprint(a) {
			continue
		}
		if path[0] == "data" {
			parts = append(parts, "data changed")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %v\n    now %v", strings.Join(path, "."), b, a))
	}
	if len(parts) == 0 {
		parts = append(parts, "no field of spec, status or metadata's labels, annotations, finalizers or owners changed")
	}
	return after.GetResourceVersion() + "\n    " + strings.Join(parts, "\n    ")
}
