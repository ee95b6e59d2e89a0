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
	// endpointListStreams names no stream: the tenant's listing pages.
	endpointListStreams = "GET /api/v2/event-streams"
)

// Polls a steady state must last: the provider observes every stream and
// reads its delivery health this many times, and Crossplane core's poll
// passes as often.
const steadyPolls = 3

// ratioPolls is the least provider polls the steady state is measured over
// for single-stream reads: at most one GET per stream in ten polls.
const (
	ratioPolls  = 10
	maxGetRatio = 1.0 / ratioPolls
)

// TestSteadyStateWritesNothing: once a few composites are Ready and their
// delivery health read, several provider, delivery and core polls with
// nothing changing write nothing: no resourceVersion moves on a composite
// (and, in the legacy flavour, its claim), its EventStream or its composed
// Secret, and each stream is read with its own GET at most once in ten
// polls (the rest from the tenant's listing). A drift made in Auth0 then
// moves its EventStream's, so the test sees writes when there are some.
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
	// The provider observes its streams from one listing of the tenant per
	// poll (--observe-from-lists, the default), so a stream's own GETs no
	// longer count its polls. Its delivery health is read after a
	// successful observation, at most once per delivery poll: a stream's
	// stats reads count the polls that observed it. Core's poll is seen
	// only in time.
	// The window lasts ratioPolls provider polls, so that one GET of a
	// stream is 0.1 per poll, not more.
	corePolls := steadyPolls * controlplane.CorePoll
	providerPolls := max(steadyPolls*max(controlplane.ProviderPoll, controlplane.DeliveryPoll), ratioPolls*controlplane.ProviderPoll)
	within := providerPolls + steadyPolls*(controlplane.ProviderPoll+controlplane.DeliveryPoll) + corePolls + convergeWithin
	eventually(t, within, fmt.Sprintf("%d observations and delivery reads of every stream, %s passed", steadyPolls, max(corePolls, providerPolls)), func(ctx context.Context) error {
		c, err := simCounters(ctx)
		if err != nil {
			return err
		}
		for name, id := range ids {
			if stats := c.Streams[id][endpointStats] - start.Streams[id][endpointStats]; stats < steadyPolls {
				return fmt.Errorf("%s (%s): %d stats reads so far", name, id, stats)
			}
		}
		if d := time.Since(begun); d < max(corePolls, providerPolls) {
			return fmt.Errorf("%s of %s passed", d.Round(time.Second), max(corePolls, providerPolls))
		}
		return nil
	})
	end, err := simCounters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(begun)
	after := steadyObjects(t.Context(), t, ns)
	var moved []string
	for k, b := range before {
		if a := after[k]; a == nil || a.GetResourceVersion() != b.GetResourceVersion() {
			moved = append(moved, fmt.Sprintf("%s: %s -> %s", k, b.GetResourceVersion(), writtenFields(b, a)))
		}
	}
	sort.Strings(moved)
	if len(moved) > 0 {
		t.Errorf("steady state wrote %d of %d objects in %s:\n%s", len(moved), len(before), elapsed.Round(time.Second), strings.Join(moved, "\n"))
	}
	// A stream's own GET is for what a listing cannot answer (a stream
	// written since it began, a 404 to confirm): with nothing changing,
	// at most one in ten of its polls.
	polls := float64(elapsed) / float64(controlplane.ProviderPoll)
	t.Logf("%s (%.1f provider polls): %d listing requests of the tenant (every ProviderConfig's, and other tests')", elapsed.Round(time.Second), polls, end.Total(endpointListStreams)-start.Total(endpointListStreams))
	for name, id := range ids {
		gets := end.Streams[id][endpointGetStream] - start.Streams[id][endpointGetStream]
		perPoll := float64(gets) / polls
		t.Logf("%s: %d single-stream reads (%.3f per poll), %d stats reads, no writes", name, gets, perPoll, end.Streams[id][endpointStats]-start.Streams[id][endpointStats])
		if perPoll > maxGetRatio {
			t.Errorf("%s: %d single-stream reads in %.1f provider polls, %.3f per poll; want at most %.1f (observed from listings)", name, gets, polls, perPoll, maxGetRatio)
		}
	}

	t.Log("a drift in Auth0 is a fact: written")
	name := "steady-0"
	es := composedEventStream(t, ns, name)
	rv := es.GetResourceVersion()
	if err := sim.Drift(t.Context(), ids[name], map[string]any{"subscriptions": []map[string]string{{"event_type": "user.created"}}}); err != nil {
		t.Fatal(err)
	}
	// The listing that answers may have begun just before the drift and
	// answer for a poll: the drift is seen a poll later than with a GET.
	eventually(t, convergeWithin+controlplane.ProviderPoll, "the drift written to "+name+"'s EventStream", func(ctx context.Context) error {
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
