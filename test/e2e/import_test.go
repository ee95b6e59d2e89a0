//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/xp-auth0/auth0-eventstream/internal/auth0sim"
)

var eventGVR = schema.GroupVersionResource{Version: "v1", Resource: "events"}

// These tests are not parallel: they read the simulator's call counters,
// which count every resource's calls.

// TestImportObserveOnly imports a stream made directly in Auth0 with an
// Observe-only Auth0EventStream naming its id: every output comes from
// Auth0, nothing is written to Auth0 although the spec differs from the
// stream, and deleting the resource leaves the stream.
func TestImportObserveOnly(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "import-observe")
	const name = "imported"
	st := simCreate(t, ns+"-user-events", "https://hooks.example.com/imported", "user.created")

	// The spec deliberately differs from the stream (endpoint and
	// subscriptions): an Observe-only import must not act on it.
	mustKubectl(t, importManifest(ns, name, st.ID, "[Observe]", "user.created, user.deleted"), "apply", "-f", "-")
	waitReady(t, ns, name)
	u, got := waitOutputsMatch(t, ns, name, nil)
	if got.ID != st.ID {
		t.Fatalf("outputs name stream %s, want the imported %s", got.ID, st.ID)
	}
	if !got.UpdatedAt.Equal(st.UpdatedAt) || !slices.Equal(got.Subscriptions, st.Subscriptions) {
		t.Errorf("the imported stream changed: updated_at %s -> %s, subscriptions %v -> %v", st.UpdatedAt, got.UpdatedAt, st.Subscriptions, got.Subscriptions)
	}
	if s, _, _ := condition(u, "Synced"); s != "True" {
		t.Errorf("an Observe-only import is not Synced: %s", conditionsOf(u))
	}
	mr := composedEventStream(t, ns, name)
	if en := mr.GetAnnotations()["crossplane.io/external-name"]; en != st.ID {
		t.Errorf("the EventStream's external name is %q, want %s", en, st.ID)
	}
	noWritesTo(t, st.ID, "while observing the imported stream")

	// Deleting an Observe-only import forgets the stream, never deletes it.
	mustKubectl(t, nil, "delete", "auth0eventstream", name, "-n", ns, "--timeout=2m")
	eventually(t, deleteWithin, "the EventStream is gone", func(ctx context.Context) error {
		if _, err := dyn.Resource(mrGVR).Namespace(ns).Get(ctx, mr.GetName(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("EventStream %s still exists (%w)", mr.GetName(), err)
		}
		return nil
	})
	if _, err := simStream(t.Context(), st.ID); err != nil {
		t.Errorf("deleting an Observe-only import removed the stream from Auth0: %v", err)
	}
	noWritesTo(t, st.ID, "while deleting the Observe-only resource")
}

// TestImportThenTakeOver imports a stream Observe-only, then widens the
// policies to full management. With the packaged Composition (imports
// Observe-only) the widening is refused, naming spec.managementPolicies,
// and changes nothing; with the Composition a platform installs to allow
// adoption (example/import/composition-manage.yaml), whose
// ClusterProviderConfig says spec.importPolicy Manage and serves only the
// namespaces its namespaceSelector admits (this one), the provider brings
// the same stream to the spec (no new stream), and deleting the resource
// now deletes the stream.
func TestImportThenTakeOver(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "import-takeover")
	const name = "adopted"
	st := simCreate(t, ns+"-user-events", "https://hooks.example.com/adopted", "user.created")
	manage := manageComposition(t, "example/import/composition-manage.yaml", ns)

	mustKubectl(t, importManifest(ns, name, st.ID, "[Observe]", "user.created"), "apply", "-f", "-")
	waitReady(t, ns, name)
	waitOutputsMatch(t, ns, name, nil)

	t.Log("widen managementPolicies with the packaged Composition, which imports Observe-only: refused")
	mustKubectl(t, importManifest(ns, name, st.ID, `["*"]`, "user.created, user.deleted"), "apply", "-f", "-")
	// StreamReady, not Synced: a claim is Synced while its XR is not.
	eventually(t, readyWithin, "StreamReady=False Refused naming spec.managementPolicies and importPolicy", func(ctx context.Context) error {
		u, err := getStream(ctx, ns, name)
		if err != nil {
			return err
		}
		if s, reason, msg := condition(u, "StreamReady"); s != "False" || reason != "Refused" || !strings.Contains(msg, "spec.managementPolicies") || !strings.Contains(msg, "importPolicy") {
			return fmt.Errorf("conditions: %s", conditionsOf(u))
		}
		return nil
	})
	noWritesTo(t, st.ID, "while the packaged Composition refused to widen the import")

	t.Log("the Composition that allows adoption: take over the stream (the spec's name, one more subscription and the referenced token)")
	mustKubectl(t, withComposition(t, importManifest(ns, name, st.ID, `["*"]`, "user.created, user.deleted"), manage), "apply", "-f", "-")
	_, got := waitOutputsMatch(t, ns, name, func(s auth0sim.Stream) error {
		return expectWebhook(s, []string{"user.created", "user.deleted"}, "enabled", "adopted-token")
	})
	if got.ID != st.ID {
		t.Fatalf("taking over replaced the stream: %s, then %s", st.ID, got.ID)
	}
	if got.Name != name {
		t.Errorf("the adopted stream is named %q, want the spec's %q", got.Name, name)
	}
	all, err := simStreams(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range all {
		if w := s.Destination.Webhook; w != nil && w.Endpoint == "https://hooks.example.com/adopted" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the simulator holds %d streams delivering to the adopted endpoint, want the one imported", n)
	}
	deleteAndVerify(t, ns, name, st.ID)
}

// TestImportUnknownStream names a stream id Auth0 does not hold, with full
// management where adoption is allowed: the resource says so and no stream
// is created in its place.
func TestImportUnknownStream(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "import-unknown")
	const name = "unknown"
	manage := manageComposition(t, "example/import/composition-manage.yaml", ns)
	const missing = "est_0000000000000000000000"
	mustKubectl(t, withComposition(t, importManifest(ns, name, missing, `["*"]`, "user.created"), manage), "apply", "-f", "-")
	eventually(t, readyWithin, "the resource says the stream does not exist", func(ctx context.Context) error {
		u, err := getStream(ctx, ns, name)
		if err != nil {
			return err
		}
		ready, _, _ := condition(u, "Ready")
		s, _, msg := condition(u, "StreamReady")
		if ready != "False" || s != "False" || !strings.Contains(msg, "does not exist") {
			return fmt.Errorf("want Ready=False and StreamReady=False saying the stream does not exist; conditions: %s", conditionsOf(u))
		}
		return nil
	})
	noWritesTo(t, missing, "for a stream id Auth0 does not hold")
	if n := streamsNamed(t, name); n != 0 {
		t.Errorf("the simulator holds %d streams named %s: importing an id Auth0 does not hold created one", n, name)
	}
	mustKubectl(t, nil, "delete", "auth0eventstream", name, "-n", ns, "--timeout=2m")
}

// TestFailingUpdateShowsOnXR changes a live stream to something Auth0
// would refuse (an event type outside its catalog): the function refuses
// it first, naming the field, and the composite's StreamReady says so
// (reaching a claim too) until the spec is fixed; meanwhile the stream
// keeps working unchanged and its EventStream is neither changed nor
// deleted (a Fatal result composes nothing, and Crossplane then deletes
// nothing).
func TestFailingUpdateShowsOnXR(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "failing-update")
	const name = "refused-update"
	manifest := func(subs string) []byte {
		return fmt.Appendf(nil, `apiVersion: auth0.openmcf.org/v1
kind: Auth0EventStream
metadata:
  name: %s
  namespace: %s
spec:
  destinationType: eventbridge
  subscriptions: [%s]
  eventbridgeConfiguration:
    awsAccountId: "123456789012"
    awsRegion: us-east-1
`, name, ns, subs)
	}
	mustKubectl(t, manifest("user.created"), "apply", "-f", "-")
	waitReady(t, ns, name)
	_, st := waitOutputsMatch(t, ns, name, nil)
	mr := composedEventStream(t, ns, name)

	t.Log("subscribe to an event type Auth0 refuses")
	mustKubectl(t, manifest("user.created, authentication.success"), "apply", "-f", "-")
	eventually(t, readyWithin, "StreamReady=False naming the refused subscription", func(ctx context.Context) error {
		u, err := getStream(ctx, ns, name)
		if err != nil {
			return err
		}
		// StreamReady, not Synced: a claim is Synced while its XR is not.
		if s, reason, msg := condition(u, "StreamReady"); s != "False" || reason != "Refused" || !strings.Contains(msg, `spec.subscriptions[1]: Invalid value: "authentication.success"`) {
			return fmt.Errorf("want StreamReady=False Refused naming spec.subscriptions[1]; conditions: %s", conditionsOf(u))
		}
		return nil
	})
	if got, err := simStream(t.Context(), st.ID); err != nil || !slices.Equal(got.Subscriptions, []string{"user.created"}) || !got.UpdatedAt.Equal(st.UpdatedAt) {
		t.Errorf("the stream should be unchanged (user.created, updated at %s): %v, %s, %v", st.UpdatedAt, got.Subscriptions, got.UpdatedAt, err)
	}
	if still, err := dyn.Resource(mrGVR).Namespace(ns).Get(t.Context(), mr.GetName(), metav1.GetOptions{}); err != nil || still.GetDeletionTimestamp() != nil {
		t.Errorf("EventStream %s after the refused update: %v (deleting: %v)", mr.GetName(), err, still.GetDeletionTimestamp())
	}

	t.Log("fix the spec")
	mustKubectl(t, manifest("user.created, user.deleted"), "apply", "-f", "-")
	waitReady(t, ns, name)
	_, got := waitOutputsMatch(t, ns, name, func(s auth0sim.Stream) error {
		if !slices.Equal(s.Subscriptions, []string{"user.created", "user.deleted"}) {
			return fmt.Errorf("subscriptions %v", s.Subscriptions)
		}
		return nil
	})
	deleteAndVerify(t, ns, name, got.ID)
}

// importManifest is a webhook Auth0EventStream naming a stream id, with
// the Secret holding its token, offered as a webhook secret.
func importManifest(ns, name, id, policies, subs string) []byte {
	return fmt.Appendf(nil, `apiVersion: v1
kind: Secret
metadata:
  name: %[2]s-token
  namespace: %[1]s
  labels: {auth0.m.openmcf.org/webhook-secret: "true"}
stringData:
  token: %[2]s-token
---
apiVersion: auth0.openmcf.org/v1
kind: Auth0EventStream
metadata:
  name: %[2]s
  namespace: %[1]s
spec:
  streamId: %[3]s
  managementPolicies: %[4]s
  destinationType: webhook
  subscriptions: [%[5]s]
  webhookConfiguration:
    webhookEndpoint: https://hooks.example.com/%[2]s
    webhookAuthorization:
      method: bearer
      tokenSecretRef: {name: %[2]s-token, key: token}
`, ns, name, id, policies, subs)
}

// simCreate makes a webhook stream directly in the simulator, as someone
// using Auth0's dashboard would, and deletes it at the end of the test if
// it is still there.
func simCreate(t *testing.T, name, endpoint string, subs ...string) auth0sim.Stream {
	t.Helper()
	events := make([]map[string]string, 0, len(subs))
	for _, s := range subs {
		events = append(events, map[string]string{"event_type": s})
	}
	var st auth0sim.Stream
	if err := sim.Do(t.Context(), http.MethodPost, "/__sim/streams", map[string]any{
		"name":          name,
		"subscriptions": events,
		"destination": map[string]any{"type": "webhook", "configuration": map[string]any{
			"webhook_endpoint":      endpoint,
			"webhook_authorization": map[string]any{"method": "bearer", "token": "made-in-the-dashboard"},
		}},
	}, &st, ""); err != nil {
		t.Fatalf("create a stream in the simulator: %v", err)
	}
	t.Cleanup(func() {
		_ = sim.Do(context.Background(), http.MethodDelete, "/__sim/streams/"+url.PathEscape(st.ID), nil, nil, "")
	})
	return st
}

// noWritesTo fails when the simulator answered any call that wrote stream
// id (other tests run meanwhile: only this stream's calls count).
func noWritesTo(t *testing.T, id, when string) {
	t.Helper()
	c, err := simCounters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var writes []string
	for endpoint, n := range c.Streams[id] {
		if method, _, _ := strings.Cut(endpoint, " "); method != http.MethodGet {
			writes = append(writes, fmt.Sprintf("%s: %d", endpoint, n))
		}
	}
	sort.Strings(writes)
	if len(writes) > 0 {
		t.Errorf("Auth0 received writes to %s %s: %s", id, when, strings.Join(writes, ", "))
	}
}

// composedEventStream returns the EventStream composed for the named
// resource (for a claim, for its XR).
func composedEventStream(t *testing.T, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u, err := getStream(t.Context(), ns, name)
	if err != nil {
		t.Fatal(err)
	}
	xrName := ""
	if legacy() {
		xrName, _, _ = unstructured.NestedString(u.Object, "spec", "resourceRef", "name")
	}
	mrs, err := dyn.Resource(mrGVR).Namespace(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range mrs.Items {
		if owned(&mrs.Items[i], name, xrName) {
			return &mrs.Items[i]
		}
	}
	t.Fatalf("no EventStream composed for %s/%s", ns, name)
	return nil
}

// TestInlineSecretWarning applies a webhook with an inline token. In the
// legacy flavour Crossplane copies it into the cluster-scoped XR, and the
// claim gets a Warning event naming the field (never the value); a
// namespaced XR keeps it in its namespace and gets none.
func TestInlineSecretWarning(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "inline-secret")
	const name, token = "inline-token", "inline-t0ken-value"
	mustKubectl(t, fmt.Appendf(nil, `apiVersion: auth0.openmcf.org/v1
kind: Auth0EventStream
metadata:
  name: %s
  namespace: %s
spec:
  destinationType: webhook
  subscriptions: [user.created]
  webhookConfiguration:
    webhookEndpoint: https://hooks.example.com/inline
    webhookAuthorization: {method: bearer, token: %s}
`, name, ns, token), "apply", "-f", "-")
	u := waitReady(t, ns, name)
	id, _ := outputs(u)["id"].(string)

	warnings := func(ctx context.Context) ([]string, error) {
		evs, err := dyn.Resource(eventGVR).Namespace(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
		if err != nil {
			return nil, err
		}
		var out []string
		for _, e := range evs.Items {
			if r, _, _ := unstructured.NestedString(e.Object, "reason"); r == "InlineSecret" {
				msg, _, _ := unstructured.NestedString(e.Object, "message")
				out = append(out, msg)
			}
		}
		return out, nil
	}
	if legacy() {
		eventually(t, readyWithin, "an InlineSecret warning on the claim", func(ctx context.Context) error {
			ws, err := warnings(ctx)
			if err != nil {
				return err
			}
			if len(ws) == 0 || !strings.Contains(ws[0], "webhookAuthorization.token") || !strings.Contains(ws[0], "tokenSecretRef") {
				return fmt.Errorf("InlineSecret warnings: %q", ws)
			}
			if strings.Contains(ws[0], token) {
				return fmt.Errorf("the warning quotes the token")
			}
			return nil
		})
	} else {
		ws, err := warnings(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(ws) > 0 {
			t.Errorf("a namespaced XR got InlineSecret warnings: %q", ws)
		}
	}
	deleteAndVerify(t, ns, name, id)
}
