//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/xp-auth0/auth0-eventstream/internal/auth0sim"
	"github.com/xp-auth0/auth0-eventstream/test/e2e/controlplane"
)

// The scenarios of "never touch a stream that is not ours, never wipe one
// that works", on EventStream managed resources directly: each checks what
// the simulator holds before and after. They change the simulator's faults
// and rate limit, so none runs in parallel.

const (
	annAllowMove   = "auth0.m.openmcf.org/allow-tenant-move"
	annExternal    = "crossplane.io/external-name"
	annPending     = "crossplane.io/external-create-pending"
	epStreams      = "GET /api/v2/event-streams"
	epStreamCreate = "POST /api/v2/event-streams"
)

var eventsGVR = schema.GroupVersionResource{Version: "v1", Resource: "events"}

// mr is an EventStream manifest. dest is the YAML of spec.forProvider.destination
// (indented by 6), extra more lines of spec (indented by 2), annotations
// lines of metadata.annotations (indented by 4).
func mr(ns, name, dest, extra string, annotations ...string) []byte {
	ann := ""
	if len(annotations) > 0 {
		ann = "\n  annotations:\n    " + strings.Join(annotations, "\n    ")
	}
	return fmt.Appendf(nil, `apiVersion: auth0.m.openmcf.org/v1alpha1
kind: EventStream
metadata:
  name: %[2]s
  namespace: %[1]s%[5]s
spec:%[4]s
  forProvider:
    name: %[2]s
    subscriptions: [user.created]
    destination:
%[3]s
`, ns, name, dest, extra, ann)
}

func eventBridgeDest(region string) string {
	return fmt.Sprintf("      type: eventbridge\n      eventbridge: {awsAccountId: \"123456789012\", awsRegion: %s}", region)
}

func webhookDest(endpoint, secret string) string {
	return fmt.Sprintf("      type: webhook\n      webhook:\n        endpoint: %s\n        authorization: {method: bearer, tokenSecretRef: {name: %s, key: token}}", endpoint, secret)
}

func getMR(ctx context.Context, ns, name string) (*unstructured.Unstructured, error) {
	return dyn.Resource(mrGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
}

// waitMR waits until check accepts the EventStream and returns it.
func waitMR(t *testing.T, ns, name, what string, check func(*unstructured.Unstructured) error) *unstructured.Unstructured {
	t.Helper()
	var got *unstructured.Unstructured
	eventually(t, convergeWithin, fmt.Sprintf("EventStream %s/%s: %s", ns, name, what), func(ctx context.Context) error {
		u, err := getMR(ctx, ns, name)
		if err != nil {
			return err
		}
		if err := check(u); err != nil {
			return err
		}
		got = u
		return nil
	})
	return got
}

// mrReady is Ready and Synced with an id recorded.
func mrReady(u *unstructured.Unstructured) error {
	r, _, _ := condition(u, "Ready")
	s, _, _ := condition(u, "Synced")
	if r != "True" || s != "True" || u.GetAnnotations()[annExternal] == "" {
		return fmt.Errorf("external name %q; conditions: %s", u.GetAnnotations()[annExternal], conditionsOf(u))
	}
	return nil
}

// syncedFalse accepts an EventStream whose Synced condition is False with a
// message containing every part.
func syncedFalse(parts ...string) func(*unstructured.Unstructured) error {
	return func(u *unstructured.Unstructured) error {
		s, _, msg := condition(u, "Synced")
		if s != "False" {
			return fmt.Errorf("conditions: %s", conditionsOf(u))
		}
		for _, p := range parts {
			if !strings.Contains(msg, p) {
				return fmt.Errorf("Synced=False without %q: %s", p, msg)
			}
		}
		return nil
	}
}

// deleteMR deletes an EventStream and waits until it is gone.
func deleteMR(t *testing.T, ns, name string) {
	t.Helper()
	mustKubectl(t, nil, "delete", "eventstream.auth0.m.openmcf.org", name, "-n", ns, "--wait=false")
	eventually(t, deleteWithin, "deletion of EventStream "+ns+"/"+name, func(ctx context.Context) error {
		if _, err := getMR(ctx, ns, name); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%w)", err)
		}
		return nil
	})
}

// simNamed returns the simulator's streams with name.
func simNamed(t *testing.T, name string) []auth0sim.Stream {
	t.Helper()
	all, err := simStreams(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []auth0sim.Stream
	for _, s := range all {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func mustSimStream(t *testing.T, id string) auth0sim.Stream {
	t.Helper()
	s, err := simStream(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func simGone(t *testing.T, id string) {
	t.Helper()
	if _, ok, err := simLookup(t.Context(), id); err != nil || ok {
		t.Errorf("the simulator still holds stream %s (%v)", id, err)
	}
}

func counters(t *testing.T) auth0sim.Counters {
	t.Helper()
	c, err := simCounters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitEvent waits for an event of reason on the EventStream whose message
// contains every part, and returns the message.
func waitEvent(t *testing.T, ns, name, reason string, parts ...string) string {
	t.Helper()
	var msg string
	eventually(t, convergeWithin, fmt.Sprintf("event %s on %s/%s", reason, ns, name), func(ctx context.Context) error {
		l, err := dyn.Resource(eventsGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		var seen []string
	events:
		for _, e := range l.Items {
			obj, _, _ := unstructured.NestedString(e.Object, "involvedObject", "name")
			r, _, _ := unstructured.NestedString(e.Object, "reason")
			m, _, _ := unstructured.NestedString(e.Object, "message")
			if obj != name || r != reason {
				continue
			}
			seen = append(seen, m)
			for _, p := range parts {
				if !strings.Contains(m, p) {
					continue events
				}
			}
			msg = m
			return nil
		}
		return fmt.Errorf("no such event; %s events: %q", reason, seen)
	})
	return msg
}

func secretManifest(ns, name, token string) []byte {
	return fmt.Appendf(nil, "apiVersion: v1\nkind: Secret\nmetadata: {name: %s, namespace: %s, labels: {auth0.m.openmcf.org/webhook-secret: \"true\"}}\nstringData: {token: %s}\n", name, ns, token)
}

// TestSafetyReplacement: a change Auth0 can only make by replacing the
// stream is refused without Create and Delete policies; a region typo never
// reaches the provider; a replacement Auth0 refuses leaves the old stream
// working; a replacement creates the new stream before deleting the old and
// says its partner event source must be associated again.
func TestSafetyReplacement(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "safety-replace")
	const name = "bridge"
	noDelete := "\n  managementPolicies: [Observe, Create, Update, LateInitialize]"
	mustKubectl(t, mr(ns, name, eventBridgeDest("us-east-1"), noDelete), "apply", "-f", "-")
	u := waitMR(t, ns, name, "Ready", mrReady)
	old := u.GetAnnotations()[annExternal]
	before := mustSimStream(t, old)
	if before.Destination.EventBridge == nil || before.Destination.EventBridge.Region != "us-east-1" {
		t.Fatalf("simulator holds %+v, want an EventBridge stream in us-east-1", before.Destination)
	}

	t.Log("a region change without the Delete policy: refused, nothing touched")
	mustKubectl(t, mr(ns, name, eventBridgeDest("eu-west-1"), noDelete), "apply", "-f", "-")
	u = waitMR(t, ns, name, "refusal", syncedFalse("needs a replacement", "do not allow Delete", "nothing was changed", old))
	_, _, msg := condition(u, "Synced")
	t.Logf("Synced=False: %s", msg)
	if after := mustSimStream(t, old); !after.UpdatedAt.Equal(before.UpdatedAt) || after.Destination.EventBridge.Region != "us-east-1" {
		t.Errorf("the stream changed: %+v updated %s", after.Destination.EventBridge, after.UpdatedAt)
	}
	if n := len(simNamed(t, name)); n != 1 {
		t.Errorf("the simulator holds %d streams named %s, want 1", n, name)
	}
	if r, _, _ := condition(u, "Ready"); r != "True" {
		t.Errorf("Ready=%s, want True: the old stream still works", r)
	}

	t.Log("a region typo is refused by the API server")
	out, err := kubectl(t.Context(), mr(ns, name, eventBridgeDest("eu-west1"), ""), "apply", "-f", "-")
	if err == nil || !strings.Contains(out, "spec.forProvider.destination.eventbridge.awsRegion") {
		t.Errorf("region typo: %v, want a refusal naming spec.forProvider.destination.eventbridge.awsRegion", err)
	}

	t.Log("a replacement Auth0 refuses leaves the old stream working")
	refused := strings.Replace(string(mr(ns, name, eventBridgeDest("eu-west-1"), "")), "[user.created]", "[authentication.success]", 1)
	mustKubectl(t, []byte(refused), "apply", "-f", "-")
	waitMR(t, ns, name, "refused replacement", syncedFalse("cannot replace event stream "+old, "unchanged and still delivering", "authentication.success"))
	if after := mustSimStream(t, old); !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("the old stream changed")
	}
	if n := len(simNamed(t, name)); n != 1 {
		t.Errorf("the simulator holds %d streams named %s, want 1", n, name)
	}

	t.Log("an allowed replacement: the new stream first, then the old one goes")
	mustKubectl(t, mr(ns, name, eventBridgeDest("eu-west-1"), ""), "apply", "-f", "-")
	u = waitMR(t, ns, name, "replaced", func(u *unstructured.Unstructured) error {
		if u.GetAnnotations()[annExternal] == old {
			return fmt.Errorf("still %s; conditions: %s", old, conditionsOf(u))
		}
		return mrReady(u)
	})
	id := u.GetAnnotations()[annExternal]
	st := mustSimStream(t, id)
	if st.Destination.EventBridge == nil || st.Destination.EventBridge.Region != "eu-west-1" {
		t.Fatalf("the new stream is %+v, want EventBridge in eu-west-1", st.Destination)
	}
	simGone(t, old)
	pes := st.Destination.EventBridge.PartnerEventSource
	ev := waitEvent(t, ns, name, "ReplaceEventStream", old, id, pes, "associate it with an event bus in AWS account 123456789012, region eu-west-1")
	t.Logf("event: %s", ev)
	if s, _, m := condition(u, "Replaced"); s != "True" || !strings.Contains(m, pes) || !strings.Contains(m, old) {
		t.Errorf("Replaced condition = %s %q, want True naming %s and %s", s, m, old, pes)
	}
	if got, _, _ := unstructured.NestedString(u.Object, "status", "atProvider", "awsPartnerEventSource"); got != pes {
		t.Errorf("atProvider.awsPartnerEventSource = %q, want %q", got, pes)
	}
	deleteMR(t, ns, name)
	simGone(t, id)
}

// TestSafetyAdoption: after a lost create response, only the stream that
// create made is adopted: not an identical one made an hour earlier, not one
// of the same name for another endpoint. The search finishes under the
// rate limit (429s, or waits for x-ratelimit-reset) over several pages. A
// create that failed before any request reached Auth0 searches nothing
// (the provider's count of adoption pages: observations list the tenant
// too).
func TestSafetyAdoption(t *testing.T) {
	ns := namespace(t, "safety-adopt")
	ctx := t.Context()
	t.Cleanup(func() {
		_ = sim.SetRateLimit(context.Background(), 0, 0)
	})
	const name = "adopt-hook"
	mustKubectl(t, secretManifest(ns, "adopt-token", "t0ken"), "apply", "-f", "-")
	endpoint := "https://hooks.example.com/" + ns
	lookAlike := func(endpoint string) map[string]any {
		return map[string]any{
			"name": name, "subscriptions": []map[string]string{{"event_type": "user.created"}},
			"destination": map[string]any{"type": "webhook", "configuration": map[string]any{
				"webhook_endpoint": endpoint, "webhook_authorization": map[string]any{"method": "bearer", "token": "other"},
			}},
		}
	}
	// The same name for another endpoint, made now: another namespace's
	// stream, say.
	var elsewhere auth0sim.Stream
	if err := sim.Do(ctx, http.MethodPost, "/__sim/streams", lookAlike("https://other-team.example.com/hook"), &elsewhere, ""); err != nil {
		t.Fatal(err)
	}
	// Identical to the one to create, but made an hour ago.
	earlier := seedStream(t, auth0sim.Stream{
		Name: name, Status: "enabled", Subscriptions: []string{"user.created"},
		CreatedAt: time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond),
		Destination: auth0sim.Destination{Type: "webhook", Webhook: &auth0sim.WebhookConfig{
			Endpoint: endpoint, Method: "bearer", Token: "other",
		}},
	})
	before := counters(t)
	if err := sim.Script(ctx, controlplane.ScriptedFaults{LostResponses: 1}); err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, mr(ns, name, webhookDest(endpoint, "adopt-token"), ""), "apply", "-f", "-")
	u := waitMR(t, ns, name, "Ready", mrReady)
	id := u.GetAnnotations()[annExternal]
	after := counters(t)
	if got := after.Get(epStreamCreate, "lost") - before.Get(epStreamCreate, "lost"); got != 1 {
		t.Fatalf("%d lost creates, want 1: the scenario did not happen", got)
	}
	if id == elsewhere.ID || id == earlier.ID {
		t.Fatalf("adopted the look-alike %s", id)
	}
	streams := simNamed(t, name)
	if len(streams) != 3 {
		t.Errorf("the simulator holds %d streams named %s, want the two look-alikes and the one the create made", len(streams), name)
	}
	if s := mustSimStream(t, id); s.Destination.Webhook == nil || s.Destination.Webhook.Token != "t0ken" || s.Destination.Webhook.Endpoint != endpoint {
		t.Errorf("the adopted stream is not the one the create made: %+v", s.Destination.Webhook)
	}
	for _, la := range []auth0sim.Stream{elsewhere, earlier} {
		if s := mustSimStream(t, la.ID); s.Destination.Webhook.Token != "other" || !s.UpdatedAt.Equal(la.UpdatedAt) {
			t.Errorf("look-alike %s was changed", la.ID)
		}
	}
	waitEvent(t, ns, name, "AdoptEventStream", id)
	deleteMR(t, ns, name)
	simGone(t, id)
	for _, la := range []auth0sim.Stream{elsewhere, earlier} {
		mustSimStream(t, la.ID)
		_ = sim.Do(ctx, http.MethodDelete, "/__sim/streams/"+la.ID, nil, nil, "")
	}

	t.Log("adoption over three pages under a rate limit of one call a second")
	var fillers []string
	for i := range 250 {
		var s auth0sim.Stream
		if err := sim.Do(ctx, http.MethodPost, "/__sim/streams", map[string]any{
			"name": fmt.Sprintf("filler-%d", i), "subscriptions": []map[string]string{{"event_type": "user.created"}},
			"destination": map[string]any{"type": "action", "configuration": map[string]any{"action_id": fmt.Sprintf("act_%d", i)}},
		}, &s, ""); err != nil {
			t.Fatal(err)
		}
		fillers = append(fillers, s.ID)
	}
	t.Cleanup(func() {
		for _, id := range fillers {
			_ = sim.Do(context.Background(), http.MethodDelete, "/__sim/streams/"+id, nil, nil, "")
		}
	})
	before = counters(t)
	pagesBefore, readBefore := adoptionPages(t, nil), adoptionPages(t, map[string]string{"outcome": "ok"})
	if err := sim.SetRateLimit(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	if err := sim.Script(ctx, controlplane.ScriptedFaults{LostResponses: 1}); err != nil {
		t.Fatal(err)
	}
	const limited = "adopt-limited"
	mustKubectl(t, mr(ns, limited, eventBridgeDest("us-west-2"), ""), "apply", "-f", "-")
	u = waitMR(t, ns, limited, "Ready", mrReady)
	after = counters(t)
	if err := sim.SetRateLimit(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	t.Logf("list calls: %v; the adoption search's pages: %v read, %v in all", after.Calls[epStreams], adoptionPages(t, map[string]string{"outcome": "ok"})-readBefore, adoptionPages(t, nil)-pagesBefore)
	if got := after.Get(epStreamCreate, "lost") - before.Get(epStreamCreate, "lost"); got != 1 {
		t.Errorf("%d lost creates, want 1", got)
	}
	// The provider honours x-ratelimit-remaining: 0 by waiting for the
	// reset (its rate budget), so the limit may be reached without a 429.
	if got, spent := after.Get(epStreams, "429")-before.Get(epStreams, "429"), after.LimitSpent-before.LimitSpent; got == 0 && spent == 0 {
		t.Errorf("no list was answered 429 and no answer said the limit was spent: the rate limit was not exercised")
	}
	// The provider also observes its streams from listings of the tenant:
	// its own count says which pages the search read.
	read := adoptionPages(t, map[string]string{"outcome": "ok"}) - readBefore
	if read < 3 {
		t.Errorf("the adoption search read %v pages, want at least 3", read)
	}
	if got := after.Get(epStreams, "200") - before.Get(epStreams, "200"); float64(got) < read {
		t.Errorf("the simulator answered %d pages, fewer than the adoption search says it read", got)
	}
	if s := simNamed(t, limited); len(s) != 1 || s[0].ID != u.GetAnnotations()[annExternal] {
		t.Errorf("the simulator holds %+v named %s, want exactly the adopted stream", s, limited)
	}
	deleteMR(t, ns, limited)
	simGone(t, u.GetAnnotations()[annExternal])

	t.Log("a create stopped before any request (its Secret is missing) searches nothing")
	const early = "no-secret-yet"
	before = counters(t)
	pagesBefore = adoptionPages(t, nil)
	mustKubectl(t, mr(ns, early, webhookDest(endpoint, "arrives-later"), ""), "apply", "-f", "-")
	u = waitMR(t, ns, early, "a failed create", syncedFalse("cannot get a webhook authorization Secret"))
	first := u.GetAnnotations()[annPending]
	waitMR(t, ns, early, "a second attempt", func(u *unstructured.Unstructured) error {
		if p := u.GetAnnotations()[annPending]; p == "" || p == first {
			return fmt.Errorf("create-pending %q, first %q", p, first)
		}
		return syncedFalse("cannot get a webhook authorization Secret")(u)
	})
	after = counters(t)
	// Observations list the tenant too, but only for a stream that exists:
	// none does here yet.
	if got := after.Total(epStreams) - before.Total(epStreams); got != 0 {
		t.Errorf("%d lists after creates that sent nothing, want 0", got)
	}
	if got := adoptionPages(t, nil) - pagesBefore; got != 0 {
		t.Errorf("%v adoption pages after creates that sent nothing, want 0", got)
	}
	if got := after.Total(epStreamCreate) - before.Total(epStreamCreate); got != 0 {
		t.Errorf("%d POSTs, want 0", got)
	}
	mustKubectl(t, secretManifest(ns, "arrives-later", "late"), "apply", "-f", "-")
	u = waitMR(t, ns, early, "Ready", mrReady)
	// Once created, the stream is observed from the tenant's listings: only
	// the provider's count tells an adoption search from them.
	if got := adoptionPages(t, nil) - pagesBefore; got != 0 {
		t.Errorf("%v adoption pages, want 0", got)
	}
	if n := len(simNamed(t, early)); n != 1 {
		t.Errorf("the simulator holds %d streams named %s, want 1", n, early)
	}
	deleteMR(t, ns, early)
	simGone(t, u.GetAnnotations()[annExternal])
}

// adoptionPages is how many pages of the tenant's streams the provider's
// searches for a lost create's stream requested so far, of every outcome
// or of those labels.
func adoptionPages(t *testing.T, labels map[string]string) float64 {
	t.Helper()
	n, err := providerSum(t.Context(), "auth0_eventstream_adoption_list_pages_total", labels)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// seedStream adds a stream to the simulator with the timestamps given, by
// dumping and seeding its state (the Management API cannot backdate).
func seedStream(t *testing.T, s auth0sim.Stream) auth0sim.Stream {
	t.Helper()
	ctx := t.Context()
	s.ID = randomStreamID(t)
	if s.UpdatedAt.IsZero() {
		s.UpdatedAt = s.CreatedAt
	}
	var st auth0sim.State
	if err := sim.Do(ctx, http.MethodGet, "/__sim/state", nil, &st, ""); err != nil {
		t.Fatal(err)
	}
	st.Streams = append(st.Streams, s)
	if err := sim.Do(ctx, http.MethodPut, "/__sim/state", st, nil, ""); err != nil {
		t.Fatal(err)
	}
	return mustSimStream(t, s.ID)
}

func randomStreamID(t *testing.T) string {
	t.Helper()
	const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := []byte("est_")
	for range 22 {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(base62))))
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, base62[n.Int64()])
	}
	return string(b)
}

// TestSafetyOwnership: a stream belongs to the first EventStream that names
// it. A second one, in another namespace, pointing at it is refused and
// neither changes nor deletes it; an external name that is no stream id is
// refused before any call; the first owner can import an existing stream.
func TestSafetyOwnership(t *testing.T) {
	t.Parallel()
	home := namespace(t, "safety-owner")
	intruderNS := namespace(t, "safety-intruder")
	const name = "owned"
	mustKubectl(t, secretManifest(home, "tok", "owner-token"), "apply", "-f", "-")
	mustKubectl(t, secretManifest(intruderNS, "tok", "intruder-token"), "apply", "-f", "-")
	mustKubectl(t, mr(home, name, webhookDest("https://owner.example.com/hook", "tok"), ""), "apply", "-f", "-")
	id := waitMR(t, home, name, "Ready", mrReady).GetAnnotations()[annExternal]
	before := mustSimStream(t, id)

	mustKubectl(t, mr(intruderNS, "intruder", webhookDest("https://intruder.example.com/hook", "tok"), "", annExternal+": "+id), "apply", "-f", "-")
	u := waitMR(t, intruderNS, "intruder", "refusal", syncedFalse("event stream "+id+" is already managed by EventStream "+home+"/"+name, "will not change or delete it"))
	_, _, msg := condition(u, "Synced")
	t.Logf("Synced=False: %s", msg)

	t.Log("the intruder copies the owner's record of the stream into its own status: it proves nothing")
	owner, err := getMR(t.Context(), home, name)
	if err != nil {
		t.Fatal(err)
	}
	record, ok, _ := unstructured.NestedMap(owner.Object, "status", "ownership")
	if !ok || record["stream"] == nil {
		t.Fatalf("the owner records no stream in status.ownership: %v", owner.Object["status"])
	}
	forged, err := json.Marshal(map[string]any{"status": map[string]any{"ownership": record}})
	if err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, nil, "patch", "eventstream.auth0.m.openmcf.org", "intruder", "-n", intruderNS, "--subresource=status", "--type=merge", "-p", string(forged))
	mustKubectl(t, nil, "annotate", "eventstream.auth0.m.openmcf.org", "intruder", "-n", intruderNS, "auth0.m.openmcf.org/replaced-stream="+id, "auth0.m.openmcf.org/tenant="+state.Sim.Domain)
	waitMR(t, intruderNS, "intruder", "still refused", syncedFalse("is already managed by EventStream "+home+"/"+name))
	deleteMR(t, intruderNS, "intruder")
	after := mustSimStream(t, id)
	if after.Destination.Webhook.Endpoint != "https://owner.example.com/hook" || after.Destination.Webhook.Token != "owner-token" || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("the intruder changed the stream: %s with token %q", after.Destination.Webhook.Endpoint, after.Destination.Webhook.Token)
	}
	waitMR(t, home, name, "still Ready", mrReady)

	t.Log("an external name that is no stream id is refused before any call")
	before4xx := counters(t).Get("GET /api/v2/event-streams/{id}", "400")
	mustKubectl(t, mr(home, "typo", eventBridgeDest("us-east-1"), "", annExternal+": my-stream"), "apply", "-f", "-")
	waitMR(t, home, "typo", "refusal", syncedFalse(`"my-stream"`, "is not an Auth0 event stream id"))
	if got := counters(t).Get("GET /api/v2/event-streams/{id}", "400") - before4xx; got != 0 {
		t.Errorf("%d reads with a malformed id reached Auth0", got)
	}
	deleteMR(t, home, "typo")

	t.Log("the first EventStream naming an existing stream imports it")
	var existing auth0sim.Stream
	if err := sim.Do(t.Context(), http.MethodPost, "/__sim/streams", map[string]any{
		"name": "made-elsewhere", "subscriptions": []map[string]string{{"event_type": "user.deleted"}},
		"destination": map[string]any{"type": "action", "configuration": map[string]any{"action_id": "act_elsewhere"}},
	}, &existing, ""); err != nil {
		t.Fatal(err)
	}
	importer := strings.Replace(string(mr(home, "importer", "      type: action\n      action: {actionId: act_elsewhere}", "\n  managementPolicies: [Observe]", annExternal+": "+existing.ID)), "[user.created]", "[user.deleted]", 1)
	mustKubectl(t, []byte(importer), "apply", "-f", "-")
	u = waitMR(t, home, "importer", "Ready", mrReady)
	if got, _, _ := unstructured.NestedString(u.Object, "status", "atProvider", "id"); got != existing.ID {
		t.Errorf("atProvider.id = %q, want %s", got, existing.ID)
	}
	if o, ok, _ := unstructured.NestedMap(u.Object, "status", "ownership"); ok {
		t.Errorf("status.ownership = %v; an Observe-only import owns nothing", o)
	}
	deleteMR(t, home, "importer")
	if s := mustSimStream(t, existing.ID); !s.UpdatedAt.Equal(existing.UpdatedAt) {
		t.Errorf("the Observe-only import changed the stream")
	}
	_ = sim.Do(t.Context(), http.MethodDelete, "/__sim/streams/"+existing.ID, nil, nil, "")

	deleteMR(t, home, name)
	simGone(t, id)
}

// recordedTenant is the tenant of the stream an EventStream's status
// records as its own.
func recordedTenant(u *unstructured.Unstructured) string {
	t, _, _ := unstructured.NestedString(u.Object, "status", "ownership", "stream", "tenant")
	return t
}

// TestSafetyTenantPinning: an EventStream stays with the tenant holding its
// stream. A second tenant (a second simulator, started here) stands in for
// another Auth0 tenant. Rotating to another application of the same tenant
// keeps working; pointing the resource at another tenant stops it, touching
// neither; the move annotation moves it, leaving the old stream in place.
func TestSafetyTenantPinning(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "safety-tenant")
	// Served where the plane's provider may call (--auth0-domains).
	other, err := auth0sim.Listen(auth0sim.New(auth0sim.Options{Domain: "tenant-b", Clients: map[string]string{"app-one": "secret-one", "app-two": "secret-two"}}), auth0sim.ListenConfig{Addr: tenantAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	credentials := func(id, secret string) []byte {
		ca := strings.ReplaceAll(strings.TrimSpace(string(other.CACertPEM)), "\n", "\n    ")
		return fmt.Appendf(nil, `apiVersion: v1
kind: Secret
metadata: {name: tenant-b, namespace: %s}
stringData:
  domain: %s
  clientId: %s
  clientSecret: %s
  caCert: |
    %s
---
apiVersion: auth0.m.openmcf.org/v1alpha1
kind: ProviderConfig
metadata: {name: tenant-b, namespace: %s}
spec:
  credentials: {source: Secret, secretRef: {name: tenant-b}}
`, ns, other.Domain(), id, secret, ca, ns)
	}
	mustKubectl(t, credentials("app-one", "secret-one"), "apply", "-f", "-")
	const name = "pinned"
	toB := "\n  providerConfigRef: {kind: ProviderConfig, name: tenant-b}"
	mustKubectl(t, mr(ns, name, eventBridgeDest("us-east-1"), toB), "apply", "-f", "-")
	u := waitMR(t, ns, name, "Ready in tenant b", mrReady)
	idB := u.GetAnnotations()[annExternal]
	if got := recordedTenant(u); got != other.Domain() {
		t.Errorf("status.ownership.stream.tenant = %q, want %q", got, other.Domain())
	}
	if _, ok := other.Server().Stream(idB); !ok {
		t.Fatalf("tenant b holds no stream %s", idB)
	}
	if n := len(simNamed(t, name)); n != 0 {
		t.Fatalf("tenant a holds %d streams named %s before the test, want 0", n, name)
	}

	t.Log("rotate to another application of tenant b")
	tokens := other.Server().Counters().TokensIssued
	mustKubectl(t, credentials("app-two", "secret-two"), "apply", "-f", "-")
	mustKubectl(t, nil, "patch", "eventstream.auth0.m.openmcf.org", name, "-n", ns, "--type=merge", "-p", `{"spec":{"forProvider":{"status":"disabled"}}}`)
	eventually(t, convergeWithin, "the change reaches the same stream with the new application", func(ctx context.Context) error {
		s, ok := other.Server().Stream(idB)
		if !ok || s.Status != "disabled" {
			return fmt.Errorf("stream %s in tenant b: %v %s", idB, ok, s.Status)
		}
		if other.Server().Counters().TokensIssued == tokens {
			return errors.New("no token for the new application yet")
		}
		u, err := getMR(ctx, ns, name)
		if err != nil {
			return err
		}
		return mrReady(u)
	})
	if n := len(other.Server().Streams()); n != 1 {
		t.Errorf("tenant b holds %d streams, want 1", n)
	}

	t.Log("point the resource at tenant a: it stops, touching neither tenant")
	beforeB, _ := other.Server().Stream(idB)
	callsB := other.Server().Counters()
	mustKubectl(t, nil, "patch", "eventstream.auth0.m.openmcf.org", name, "-n", ns, "--type=merge", "-p", `{"spec":{"providerConfigRef":{"kind":"ClusterProviderConfig","name":"default"}}}`)
	u = waitMR(t, ns, name, "stopped", syncedFalse("event stream "+idB+" is in Auth0 tenant "+other.Domain(), "now resolves to tenant "+state.Sim.Domain, annAllowMove+"="+state.Sim.Domain))
	_, _, msg := condition(u, "Synced")
	t.Logf("Synced=False: %s", msg)
	if n := len(simNamed(t, name)); n != 0 {
		t.Errorf("tenant a holds %d streams named %s, want 0", n, name)
	}
	if s, _ := other.Server().Stream(idB); !s.UpdatedAt.Equal(beforeB.UpdatedAt) {
		t.Errorf("the stream in tenant b changed")
	}
	if got, want := other.Server().Counters().Total(epStreamCreate)+other.Server().Counters().Total("DELETE /api/v2/event-streams/{id}"),
		callsB.Total(epStreamCreate)+callsB.Total("DELETE /api/v2/event-streams/{id}"); got != want {
		t.Errorf("tenant b answered %d creates and deletes since, want none", got-want)
	}

	t.Log("ask for the move")
	mustKubectl(t, nil, "annotate", "eventstream.auth0.m.openmcf.org", name, "-n", ns, annAllowMove+"="+state.Sim.Domain)
	u = waitMR(t, ns, name, "moved", func(u *unstructured.Unstructured) error {
		if id := u.GetAnnotations()[annExternal]; id == "" || id == idB {
			return fmt.Errorf("external name %q; conditions: %s", id, conditionsOf(u))
		}
		if got := recordedTenant(u); got != state.Sim.Domain {
			return fmt.Errorf("status.ownership.stream.tenant %q", got)
		}
		return mrReady(u)
	})
	idA := u.GetAnnotations()[annExternal]
	if _, ok := u.GetAnnotations()[annAllowMove]; ok {
		t.Errorf("annotation %s left after the move", annAllowMove)
	}
	mustSimStream(t, idA)
	if _, ok := other.Server().Stream(idB); !ok {
		t.Errorf("the move deleted %s in tenant b; it must be left there", idB)
	}
	waitEvent(t, ns, name, "MoveEventStream", idB+" stays in tenant "+other.Domain())
	deleteMR(t, ns, name)
	simGone(t, idA)
	if _, ok := other.Server().Stream(idB); !ok {
		t.Errorf("deleting the moved resource deleted %s in tenant b", idB)
	}
}

// TestSafetyPerimeter: a ClusterProviderConfig serves only the namespaces
// its spec.namespaceSelector selects, and no ProviderConfig reaches a host
// outside the provider's --auth0-domains; both refusals come before any
// call (the simulator counts none), and the refused resources are deleted
// without one.
func TestSafetyPerimeter(t *testing.T) {
	ns := namespace(t, "safety-perimeter")
	elsewhere := ns + "-elsewhere-only"
	mustKubectl(t, fmt.Appendf(nil, `apiVersion: auth0.m.openmcf.org/v1alpha1
kind: ClusterProviderConfig
metadata: {name: %s}
spec:
  namespaceSelector:
    matchLabels: {kubernetes.io/metadata.name: elsewhere}
  credentials:
    source: Secret
    secretRef: {namespace: crossplane-system, name: %s}
`, elsewhere, controlplane.CredentialsSecret), "apply", "-f", "-")
	t.Cleanup(func() {
		_, _ = kubectl(context.Background(), nil, "delete", "clusterproviderconfig.auth0.m.openmcf.org", elsewhere, "--wait=false")
	})
	mustKubectl(t, fmt.Appendf(nil, `apiVersion: v1
kind: Secret
metadata: {name: collector, namespace: %[1]s}
stringData: {domain: collector.attacker.example, clientId: c, clientSecret: attacker-sees-this}
---
apiVersion: auth0.m.openmcf.org/v1alpha1
kind: ProviderConfig
metadata: {name: collector, namespace: %[1]s}
spec:
  credentials: {source: Secret, secretRef: {name: collector}}
`, ns), "apply", "-f", "-")
	before := counters(t)
	tokens := before.TokensIssued

	mustKubectl(t, mr(ns, "not-served", eventBridgeDest("us-east-1"), "\n  providerConfigRef: {kind: ClusterProviderConfig, name: "+elsewhere+"}"), "apply", "-f", "-")
	u := waitMR(t, ns, "not-served", "refusal", syncedFalse("ClusterProviderConfig "+elsewhere+" may not be used in namespace "+ns, "spec.namespaceSelector"))
	_, _, msg := condition(u, "Synced")
	t.Logf("Synced=False: %s", msg)

	mustKubectl(t, mr(ns, "other-host", eventBridgeDest("us-east-1"), "\n  providerConfigRef: {kind: ProviderConfig, name: collector}"), "apply", "-f", "-")
	u = waitMR(t, ns, "other-host", "refusal", syncedFalse("ProviderConfig "+ns+"/collector", `"collector.attacker.example" is not one the provider may call`, "--auth0-domains"))
	_, _, msg = condition(u, "Synced")
	t.Logf("Synced=False: %s", msg)
	if strings.Contains(msg, "attacker-sees-this") {
		t.Errorf("the condition holds the client secret")
	}

	deleteMR(t, ns, "not-served")
	deleteMR(t, ns, "other-host")
	after := counters(t)
	if after.TokensIssued != tokens || after.Total(epStreamCreate) != before.Total(epStreamCreate) {
		t.Errorf("the simulator issued %d tokens and took %d creates, want none", after.TokensIssued-tokens, after.Total(epStreamCreate)-before.Total(epStreamCreate))
	}
}
