package eventstream

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auth0/go-auth0/management"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/oauth2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
)

// stored reads the resource back from the fake API server, as the next
// reconcile would.
func stored(t *testing.T, kube client.Client, es *v1alpha1.EventStream) *v1alpha1.EventStream {
	t.Helper()
	got := &v1alpha1.EventStream{}
	if err := kube.Get(context.Background(), client.ObjectKeyFromObject(es), got); err != nil {
		t.Fatal(err)
	}
	return got
}

// next is an external for the next reconcile: same Auth0, API server and
// search progress, a later clock.
func next(e *external, after time.Duration) *external {
	n := *e
	n.observed = nil
	at := e.now().Add(after)
	n.now = func() time.Time { return at }
	return &n
}

func withPolicies(p ...xpv2.ManagementAction) esOption {
	return func(es *v1alpha1.EventStream) { es.Spec.ManagementPolicies = p }
}

func withAnnotations(kv ...string) esOption {
	return func(es *v1alpha1.EventStream) {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		meta.AddAnnotations(es, m)
	}
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func wantCalls(t *testing.T, api *fakeAPI, calls ...string) {
	t.Helper()
	if diff := cmp.Diff(calls, api.calls, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Auth0 calls -want +got:\n%s", diff)
	}
	api.calls = nil
}

// TestReplacementNeedsCreateAndDelete: a change only a replacement can make
// is refused, touching nothing, unless the policies allow both Create and
// Delete.
func TestReplacementNeedsCreateAndDelete(t *testing.T) {
	o, c, u, d, l := xpv2.ManagementActionObserve, xpv2.ManagementActionCreate, xpv2.ManagementActionUpdate, xpv2.ManagementActionDelete, xpv2.ManagementActionLateInitialize
	cases := map[string]struct {
		policies  []xpv2.ManagementAction
		forbidden string
	}{
		"NoDelete":         {policies: []xpv2.ManagementAction{o, c, u, l}, forbidden: "do not allow Delete"},
		"NoCreate":         {policies: []xpv2.ManagementAction{o, u, d, l}, forbidden: "do not allow Create"},
		"NoCreateNoDelete": {policies: []xpv2.ManagementAction{o, u}, forbidden: "do not allow Create and Delete"},
		"Star":             {policies: []xpv2.ManagementAction{xpv2.ManagementActionAll}},
		"Explicit":         {policies: []xpv2.ManagementAction{o, c, u, d, l}},
		"Default":          {},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			api := newAPI(eventBridgeRemote(streamID, "us-east-1"))
			es := eventBridgeES("eu-west-1", withStream(streamID), withPolicies(tc.policies...))
			e, kube, rec := setup(t, api, es)
			if _, err := e.Observe(context.Background(), es); err != nil {
				t.Fatal(err)
			}
			_, err := e.Update(context.Background(), es)
			if tc.forbidden == "" {
				if err != nil {
					t.Fatalf("Update() error = %v", err)
				}
				wantCalls(t, api, "GET "+streamID, "POST", "DELETE "+streamID)
				return
			}
			wantErr(t, err, "needs a replacement", tc.forbidden, "nothing was changed", streamID, "EventBridge account or region changes")
			wantCalls(t, api, "GET "+streamID)
			if got := meta.GetExternalName(stored(t, kube, es)); got != streamID {
				t.Errorf("stored external name = %q, want %q unchanged", got, streamID)
			}
			if len(rec.events) != 0 {
				t.Errorf("events = %v, want none", rec.events)
			}
		})
	}
}

// TestReplacementCreatesFirst: the new stream is created and recorded, with
// the old id, before the old one is deleted; the event and condition name
// both and say the partner event source must be associated again.
func TestReplacementCreatesFirst(t *testing.T) {
	api := newAPI(eventBridgeRemote(streamID, "us-east-1"))
	es := eventBridgeES("eu-west-1", withStream(streamID))
	e, kube, rec := setup(t, api, es)
	if _, err := e.Observe(context.Background(), es); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Update(context.Background(), es); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, api, "GET "+streamID, "POST", "DELETE "+streamID)
	got := stored(t, kube, es)
	if meta.GetExternalName(got) != streamID2 || !holds(testKey, got, streamID2) || got.Status.Ownership.Stream.Tenant != tenant {
		t.Errorf("stored external name %q, ownership %+v; want %s recorded as owned in %s", meta.GetExternalName(got), got.Status.Ownership, streamID2, tenant)
	}
	if r := got.Status.Ownership.Replaced; r != nil {
		t.Errorf("replaced stream %+v still recorded after the old stream was deleted", r)
	}
	pes := "aws.partner/auth0.com/sim-" + streamID2 + "/auth0.events"
	if len(rec.events) != 1 {
		t.Fatalf("events = %v, want one", rec.events)
	}
	for _, msg := range []string{rec.events[0].Message, es.GetCondition(TypeReplaced).Message} {
		for _, want := range []string{streamID, streamID2, pes, "associate it with an event bus in AWS account 123456789012, region eu-west-1"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%q does not contain %q", msg, want)
			}
		}
	}
	if c := es.GetCondition(TypeReplaced); c.Status != corev1.ConditionTrue || c.Reason != ReasonNewPartnerEventSource {
		t.Errorf("condition %s = %s/%s, want True/%s", TypeReplaced, c.Status, c.Reason, ReasonNewPartnerEventSource)
	}
	if es.Status.AtProvider.ID != streamID2 || es.Status.AtProvider.AWSPartnerEventSource != pes {
		t.Errorf("atProvider = %+v, want the new stream", es.Status.AtProvider)
	}
}

// TestReplacementRefusedLeavesOldStream: a create Auth0 refuses leaves the
// old stream as it was, says so, and the next reconcile does not list.
func TestReplacementRefusedLeavesOldStream(t *testing.T) {
	api := newAPI(eventBridgeRemote(streamID, "us-east-1"))
	api.err["POST"] = &apiError{400, "Payload validation error: 'No enum match for: \"authentication.success\"' on property subscriptions[0].event_type."}
	es := eventBridgeES("eu-west-1", withStream(streamID), func(es *v1alpha1.EventStream) {
		es.Spec.ForProvider.Subscriptions = []string{"authentication.success"}
	})
	e, kube, _ := setup(t, api, es)
	if _, err := e.Observe(context.Background(), es); err != nil {
		t.Fatal(err)
	}
	_, err := e.Update(context.Background(), es)
	wantErr(t, err, "cannot replace event stream "+streamID, "is unchanged and still delivering events", "authentication.success")
	wantCalls(t, api, "GET "+streamID, "POST")
	if _, ok := api.streams[streamID]; !ok || len(api.streams) != 1 {
		t.Errorf("streams = %v, want only the old one", api.streams)
	}
	got := stored(t, kube, es)
	if meta.GetExternalName(got) != streamID || !holds(testKey, got, streamID) || got.Status.Ownership.Replaced != nil || got.Status.Ownership.CreateAttempt != nil {
		t.Errorf("stored external name %q, ownership %+v; want the old stream still owned, nothing to delete and no attempt to search for", meta.GetExternalName(got), got.Status.Ownership)
	}
	// The refusal is recorded: the next Observe only reads.
	if _, err := next(e, time.Minute).Observe(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, api, "GET "+streamID)
}

// TestReplacementDeleteFailsThenFinishes: the old stream's deletion fails
// after the new one is recorded; the record makes a later reconcile delete
// it.
func TestReplacementDeleteFailsThenFinishes(t *testing.T) {
	api := newAPI(eventBridgeRemote(streamID, "us-east-1"))
	api.err["DELETE"] = &apiError{503, "Service Unavailable"}
	es := eventBridgeES("eu-west-1", withStream(streamID))
	e, kube, _ := setup(t, api, es)
	if _, err := e.Observe(context.Background(), es); err != nil {
		t.Fatal(err)
	}
	_, err := e.Update(context.Background(), es)
	wantErr(t, err, "cannot delete event stream "+streamID+", replaced by "+streamID2)
	got := stored(t, kube, es)
	if meta.GetExternalName(got) != streamID2 || !holds(testKey, got, streamID2) || verify(testKey, got).replaced == nil || got.Status.Ownership.Replaced.ID != streamID {
		t.Fatalf("stored external name %q, ownership %+v; want the new stream recorded and the old one to delete", meta.GetExternalName(got), got.Status.Ownership)
	}

	api.err["DELETE"] = nil
	api.calls = nil
	e2 := next(e, time.Minute)
	obs, err := e2.Observe(context.Background(), got)
	if err != nil {
		t.Fatal(err)
	}
	if obs.ResourceUpToDate || !strings.Contains(obs.Diff, streamID+", replaced by "+streamID2+", is still to be deleted") {
		t.Errorf("observation = %+v, want out of date with the old stream to delete", obs)
	}
	if _, err := e2.Update(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, api, "GET "+streamID2, "DELETE "+streamID)
	if _, ok := api.streams[streamID]; ok {
		t.Errorf("old stream %s still exists", streamID)
	}
	if r := stored(t, kube, es).Status.Ownership.Replaced; r != nil {
		t.Errorf("replaced stream %+v still recorded after the deletion", r)
	}
}

// TestReplacementLostCreateIsAdopted: the new stream is made but its
// answer lost; the next reconcile adopts it as the replacement and deletes
// the old one. One stream remains.
func TestReplacementLostCreateIsAdopted(t *testing.T) {
	api := newAPI(eventBridgeRemote(streamID, "us-east-1"))
	api.loseCreate = true
	es := eventBridgeES("eu-west-1", withStream(streamID))
	e, kube, rec := setup(t, api, es)
	api.createdAt = e.now()
	if _, err := e.Observe(context.Background(), es); err != nil {
		t.Fatal(err)
	}
	_, err := e.Update(context.Background(), es)
	wantErr(t, err, "cannot replace event stream "+streamID)
	got := stored(t, kube, es)
	if meta.GetExternalName(got) != streamID || verify(testKey, got).attempt == nil {
		t.Fatalf("stored external name %q, ownership %+v; want the old id and the attempt still recorded", meta.GetExternalName(got), got.Status.Ownership)
	}

	api.loseCreate = false
	api.calls = nil
	e2 := next(e, time.Minute)
	obs, err := e2.Observe(context.Background(), got)
	if err != nil {
		t.Fatal(err)
	}
	if !obs.ResourceExists || obs.ResourceUpToDate {
		t.Fatalf("observation = %+v, want the adopted stream with the old one to delete", obs)
	}
	if _, err := e2.Update(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, api, "GET "+streamID, "LIST ", "DELETE "+streamID)
	if len(api.streams) != 1 || api.streams[streamID2] == nil {
		t.Errorf("streams = %v, want only the adopted %s", api.streams, streamID2)
	}
	if meta.GetExternalName(stored(t, kube, es)) != streamID2 {
		t.Errorf("stored external name = %q, want %s", meta.GetExternalName(stored(t, kube, es)), streamID2)
	}
	if n := len(rec.events); n == 0 || !strings.Contains(rec.events[n-1].Message, "to replace "+streamID) {
		t.Errorf("events = %v, want an adoption naming the replaced stream", rec.events)
	}
}

// TestDeleteDuringReplacement deletes the replaced stream as well.
func TestDeleteDuringReplacement(t *testing.T) {
	api := newAPI(eventBridgeRemote(streamID, "us-east-1"), eventBridgeRemote(streamID2, "eu-west-1"))
	es := eventBridgeES("eu-west-1", withStream(streamID2), withReplaced(streamID), func(es *v1alpha1.EventStream) {
		es.DeletionTimestamp = &metav1.Time{Time: created}
		es.Finalizers = []string{"finalizer.managedresource.crossplane.io"}
	})
	e, _, _ := setup(t, api, es)
	if obs, err := e.Observe(context.Background(), es); err != nil || !obs.ResourceExists {
		t.Fatalf("Observe() = %+v, %v", obs, err)
	}
	if _, err := e.Delete(context.Background(), es); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, api, "GET "+streamID2, "DELETE "+streamID, "DELETE "+streamID2)
	if len(api.streams) != 0 {
		t.Errorf("streams left: %v", api.streams)
	}
}

func ownedBy(name, uid string, at time.Time, id string) *v1alpha1.EventStream {
	es := webhookES("bearer", withExternalName(id))
	es.Namespace, es.Name, es.UID = "team-b", name, types.UID("uid-"+uid)
	es.CreationTimestamp = metav1.Time{Time: at}
	own(es, id, tenant)
	return es
}

// TestOneOwnerPerStream: of the EventStreams naming a stream, one holding
// the provider's proof of it owns it, else the oldest; the others never
// read, change or delete it. A record copied from the owner proves
// nothing.
func TestOneOwnerPerStream(t *testing.T) {
	newer := func(opts ...esOption) *v1alpha1.EventStream {
		return webhookES("bearer", append([]esOption{withExternalName(streamID), func(es *v1alpha1.EventStream) {
			es.CreationTimestamp = metav1.Time{Time: created.Add(time.Hour)}
		}}, opts...)...)
	}
	t.Run("NewcomerRefused", func(t *testing.T) {
		api := newAPI(webhookRemote(streamID))
		es := newer()
		e, _, _ := setup(t, api, es, hookSecret(token), ownedBy("first", "9", created, streamID))
		_, err := e.Observe(context.Background(), es)
		wantErr(t, err, "event stream "+streamID+" is already managed by EventStream team-b/first", "will not change or delete it")
		// Delete and Update, even called directly, leave it alone.
		if _, err := e.Delete(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Update(context.Background(), es); err == nil {
			t.Error("Update() of a stream the resource does not own succeeded")
		}
		wantCalls(t, api)
	})
	t.Run("CopiedRecordProvesNothing", func(t *testing.T) {
		// The newcomer's status carries the owner's record, proof and all.
		api := newAPI(webhookRemote(streamID))
		first := ownedBy("first", "9", created, streamID)
		es := newer(func(es *v1alpha1.EventStream) { es.Status.Ownership = first.Status.Ownership.DeepCopy() })
		e, _, _ := setup(t, api, es, hookSecret(token), first)
		_, err := e.Observe(context.Background(), es)
		wantErr(t, err, "is already managed by EventStream team-b/first")
		if _, err := e.Delete(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Update(context.Background(), es); err == nil {
			t.Error("Update() with a copied record succeeded")
		}
		wantCalls(t, api)
	})
	t.Run("NewcomerBeingDeletedLetsGo", func(t *testing.T) {
		api := newAPI(webhookRemote(streamID))
		es := newer(func(es *v1alpha1.EventStream) {
			es.DeletionTimestamp = &metav1.Time{Time: created.Add(2 * time.Hour)}
			es.Finalizers = []string{"finalizer.managedresource.crossplane.io"}
		})
		e, _, _ := setup(t, api, es, ownedBy("first", "9", created, streamID))
		obs, err := e.Observe(context.Background(), es)
		if err != nil || obs.ResourceExists {
			t.Fatalf("Observe() = %+v, %v; want a stream that is not there for this resource", obs, err)
		}
		wantCalls(t, api)
	})
	t.Run("OwnerUnaffected", func(t *testing.T) {
		api := newAPI(webhookRemote(streamID))
		es := webhookES("bearer", withStream(streamID), withHash(hashOf(webhookES("bearer"), token)), func(es *v1alpha1.EventStream) {
			es.CreationTimestamp = metav1.Time{Time: created}
		})
		later := ownedBy("later", "0", created.Add(time.Hour), streamID)
		later.Status.Ownership = nil // names it, holds nothing
		e, _, _ := setup(t, api, es, hookSecret(token), later)
		obs, err := e.Observe(context.Background(), es)
		if err != nil || !obs.ResourceUpToDate {
			t.Fatalf("Observe() = %+v, %v", obs, err)
		}
	})
	t.Run("ProofWinsOverAge", func(t *testing.T) {
		// Older, but naming the stream without holding it: the holder wins.
		api := newAPI(webhookRemote(streamID))
		es := webhookES("bearer", withExternalName(streamID), func(es *v1alpha1.EventStream) { es.CreationTimestamp = metav1.Time{Time: created.Add(-time.Hour)} })
		e, _, _ := setup(t, api, es, hookSecret(token), ownedBy("holder", "9", created, streamID))
		_, err := e.Observe(context.Background(), es)
		wantErr(t, err, "team-b/holder")
		wantCalls(t, api)
	})
	t.Run("TieBrokenByUID", func(t *testing.T) {
		// Both hold a proof (two records the previous release left, say):
		// the older wins, then the lower UID.
		api := newAPI(webhookRemote(streamID))
		es := webhookES("bearer", withStream(streamID), func(es *v1alpha1.EventStream) { es.CreationTimestamp = metav1.Time{Time: created} })
		e, _, _ := setup(t, api, es, hookSecret(token), ownedBy("twin", "0", created, streamID)) // "uid-0" < "uid-1"
		_, err := e.Observe(context.Background(), es)
		wantErr(t, err, "team-b/twin")
	})
	t.Run("TieWonByTheHolder", func(t *testing.T) {
		// Made in the same second as the resource that already manages the
		// stream, a newcomer with the lower UID still does not take it over,
		// whatever its status.atProvider says.
		api := newAPI(webhookRemote(streamID))
		es := webhookES("bearer", withExternalName(streamID), func(es *v1alpha1.EventStream) {
			es.CreationTimestamp = metav1.Time{Time: created}
			es.Status.AtProvider.ID = streamID
		})
		holder := ownedBy("holder", "9", created, streamID) // "uid-1" < "uid-9"
		e, _, _ := setup(t, api, es, hookSecret(token), holder)
		_, err := e.Observe(context.Background(), es)
		wantErr(t, err, "team-b/holder")
		wantCalls(t, api)
	})
	t.Run("ObserveOnlyImport", func(t *testing.T) {
		api := newAPI(webhookRemote(streamID))
		es := webhookES("bearer", withExternalName(streamID), withPolicies(xpv2.ManagementActionObserve))
		e, kube, _ := setup(t, api, es)
		obs, err := e.Observe(context.Background(), es)
		if err != nil || !obs.ResourceExists || !obs.ResourceUpToDate {
			t.Fatalf("Observe() = %+v, %v", obs, err)
		}
		got := stored(t, kube, es)
		if got.Status.Ownership != nil || got.GetLabels()[v1alpha1.LabelStreamID] != "" {
			t.Errorf("stored ownership %+v, labels %v; an observe-only import records nothing", got.Status.Ownership, got.GetLabels())
		}
	})
	t.Run("NotAStreamID", func(t *testing.T) {
		for _, id := range []string{"hooks", "est_short", "est_aaaaaaaaaaaaaaaaaaaaa!", "EST_aaaaaaaaaaaaaaaaaaaaaa", "est_aaaaaaaaaaaaaaaaaaaaaa/../x"} {
			api := newAPI()
			es := webhookES("bearer", withExternalName(id))
			e, _, _ := setup(t, api, es)
			_, err := e.Observe(context.Background(), es)
			wantErr(t, err, "crossplane.io/external-name", "is not an Auth0 event stream id")
			wantCalls(t, api)
		}
		// Being deleted, it names nothing to delete: the resource may go.
		api := newAPI()
		es := webhookES("bearer", withExternalName("hooks"), func(es *v1alpha1.EventStream) {
			es.DeletionTimestamp = &metav1.Time{Time: created}
			es.Finalizers = []string{"finalizer.managedresource.crossplane.io"}
		})
		e, _, _ := setup(t, api, es)
		if obs, err := e.Observe(context.Background(), es); err != nil || obs.ResourceExists {
			t.Errorf("Observe() of a deleted resource with a malformed id = %+v, %v; want nothing to delete", obs, err)
		}
		wantCalls(t, api)
	})
	t.Run("AdoptionSkipsOwnedStreams", func(t *testing.T) {
		api := newAPI(webhookRemote(streamID))
		es := webhookES("bearer", withAttempt(created))
		e, kube, _ := setup(t, api, es, ownedBy("first", "9", created, streamID))
		obs, err := e.Observe(context.Background(), es)
		if err != nil || obs.ResourceExists {
			t.Fatalf("Observe() = %+v, %v; want no adoption of a claimed stream", obs, err)
		}
		if got := meta.GetExternalName(stored(t, kube, es)); got != "" {
			t.Errorf("stored external name = %q", got)
		}
	})
}

// withStreamIn names stream id, recorded as owned in tenant t.
func withStreamIn(id, t string) esOption {
	return func(es *v1alpha1.EventStream) {
		meta.SetExternalName(es, id)
		own(es, id, t)
	}
}

// TestTenantPinning: a stream stays with the tenant its record names.
func TestTenantPinning(t *testing.T) {
	pinned := func(to string, opts ...esOption) *v1alpha1.EventStream {
		return actionES("act_1", append([]esOption{withStreamIn(streamID, to)}, opts...)...)
	}
	t.Run("OtherTenantStops", func(t *testing.T) {
		api := newAPI(actionRemote(streamID, "act_1"))
		es := pinned("old.eu.auth0.com")
		e, _, _ := setup(t, api, es)
		_, err := e.Observe(context.Background(), es)
		wantErr(t, err, "event stream "+streamID+" is in Auth0 tenant old.eu.auth0.com", "now resolves to tenant "+tenant,
			"nothing was read, created or deleted", annotationAllowTenantMove+"="+tenant)
		wantCalls(t, api)
	})
	t.Run("ForgedTenantProvesNothing", func(t *testing.T) {
		// The record of the old tenant, edited to name this one: its proof
		// no longer verifies, so the resource holds nothing. It may observe
		// the stream it names, never change or delete it.
		api := newAPI(actionRemote(streamID, "act_1"))
		es := pinned("old.eu.auth0.com", func(es *v1alpha1.EventStream) {
			es.Status.Ownership.Stream.Tenant = tenant
			es.Spec.ForProvider.Status = "disabled"
		})
		e, _, _ := setup(t, api, es)
		_, err := e.Observe(context.Background(), es)
		wantErr(t, err, "is an import this EventStream does not own", "spec.importPolicy is ObserveOnly")
		if _, err := e.Update(context.Background(), es); err == nil {
			t.Error("Update() succeeded")
		}
		if _, err := e.Delete(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		wantCalls(t, api, "GET "+streamID)
	})
	t.Run("SameTenantWrittenDifferently", func(t *testing.T) {
		api := newAPI(actionRemote(streamID, "act_1"))
		es := pinned("https://Example.EU.auth0.com/", func(es *v1alpha1.EventStream) { es.Spec.ForProvider.Status = "disabled" })
		e, _, _ := setup(t, api, es)
		if _, err := e.Observe(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Update(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		wantCalls(t, api, "GET "+streamID, "PATCH "+streamID)
	})
	t.Run("CredentialRotationKeepsWorking", func(t *testing.T) {
		// A new client id and secret for the same tenant: another client
		// and hash key, the same domain.
		api := newAPI(actionRemote(streamID, "act_1"))
		es := pinned(tenant, func(es *v1alpha1.EventStream) { es.Spec.ForProvider.Status = "disabled" })
		e, _, _ := setup(t, api, es)
		e.hashKey = []byte("key-of-the-new-client-secret")
		if _, err := e.Observe(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Update(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		wantCalls(t, api, "GET "+streamID, "PATCH "+streamID)
	})
	t.Run("LostCreateInOtherTenantStops", func(t *testing.T) {
		api := newAPI()
		es := actionES("act_1", withAttemptIn(created, "old.eu.auth0.com"))
		e, _, _ := setup(t, api, es)
		_, err := e.Observe(context.Background(), es)
		wantErr(t, err, "the stream a lost create may have made is in Auth0 tenant old.eu.auth0.com")
		wantCalls(t, api)
	})
	t.Run("TenantAnnotationIsNoAuthority", func(t *testing.T) {
		// What the previous release pinned by annotation, anyone may write:
		// on a resource made after the proof key it means nothing.
		api := newAPI()
		es := actionES("act_1", withAnnotations(legacyAnnotationTenant, "old.eu.auth0.com"))
		e, _, _ := setup(t, api, es)
		obs, err := e.Observe(context.Background(), es)
		if err != nil || obs.ResourceExists {
			t.Fatalf("Observe() = %+v, %v", obs, err)
		}
	})
	t.Run("CreatePins", func(t *testing.T) {
		api := newAPI()
		es := actionES("act_1")
		e, kube, _ := setup(t, api, es)
		if _, err := e.Observe(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Create(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		got := stored(t, kube, es)
		if o := got.Status.Ownership; o == nil || o.Stream == nil || o.Stream.Tenant != tenant || o.Stream.Origin != v1alpha1.OriginCreated || !holds(testKey, got, streamID2) || o.CreateAttempt != nil {
			t.Errorf("stored status.ownership = %+v, want %s recorded as created in %s", o, streamID2, tenant)
		}
	})
	t.Run("MoveWrongTenant", func(t *testing.T) {
		api := newAPI(actionRemote(streamID, "act_1"))
		es := pinned("old.eu.auth0.com", withAnnotations(annotationAllowTenantMove, "true"))
		e, _, _ := setup(t, api, es)
		_, err := e.Observe(context.Background(), es)
		wantErr(t, err, annotationAllowTenantMove+` is "true"`, "set it to the tenant to move to, "+tenant)
		wantCalls(t, api)
	})
	t.Run("Move", func(t *testing.T) {
		api := newAPI(actionRemote(streamID, "act_1"))
		es := pinned("old.eu.auth0.com", withAnnotations(annotationAllowTenantMove, tenant), func(es *v1alpha1.EventStream) {
			meta.SetExternalCreatePending(es, created)
			meta.SetExternalCreateSucceeded(es, created)
			es.Labels = map[string]string{v1alpha1.LabelStreamID: streamID}
		})
		e, kube, rec := setup(t, api, es)
		obs, err := e.Observe(context.Background(), es)
		if err != nil || obs.ResourceExists {
			t.Fatalf("Observe() = %+v, %v; want a stream to create in the new tenant", obs, err)
		}
		wantCalls(t, api)
		got := stored(t, kube, es)
		for _, k := range []string{meta.AnnotationKeyExternalName, annotationAllowTenantMove, meta.AnnotationKeyExternalCreatePending, meta.AnnotationKeyExternalCreateSucceeded} {
			if v, ok := got.GetAnnotations()[k]; ok {
				t.Errorf("annotation %s = %q left after the move", k, v)
			}
		}
		if got.Status.Ownership != nil || got.GetLabels()[v1alpha1.LabelStreamID] != "" {
			t.Errorf("ownership %+v, labels %v left after the move", got.Status.Ownership, got.GetLabels())
		}
		if len(rec.events) != 1 || rec.events[0].Reason != reasonMove || !strings.Contains(rec.events[0].Message, streamID+" stays in tenant old.eu.auth0.com") {
			t.Errorf("events = %v, want a %s naming the stream left behind", rec.events, reasonMove)
		}
		if _, err := e.Create(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		if _, ok := api.streams[streamID2]; !ok {
			t.Errorf("no stream created in the new tenant")
		}
		if _, ok := api.streams[streamID]; !ok {
			t.Errorf("the stream left in the old tenant was deleted")
		}
	})
}

// TestCreateThatSentNothingSkipsListing: a create that failed before any
// request reached Auth0 leaves nothing to look for.
func TestCreateThatSentNothingSkipsListing(t *testing.T) {
	cases := map[string]struct {
		secret  bool
		postErr error
		lists   bool
	}{
		"SecretMissing":  {},
		"TokenRefused":   {secret: true, postErr: &oauth2.RetrieveError{ErrorCode: "access_denied"}},
		"NoConnection":   {secret: true, postErr: &net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{Err: "refused"}}},
		"RateLimited":    {secret: true, postErr: &apiError{429, "Too Many Requests"}},
		"ServerError":    {secret: true, postErr: &apiError{503, "Service Unavailable"}, lists: true},
		"ConnectionLost": {secret: true, postErr: &net.OpError{Op: "read", Net: "tcp", Err: &net.AddrError{Err: "reset"}}, lists: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			api := newAPI()
			if tc.postErr != nil {
				api.err["POST"] = tc.postErr
			}
			es := webhookES("bearer")
			var objs []client.Object
			if tc.secret {
				objs = append(objs, hookSecret(token))
			}
			e, _, _ := setup(t, api, es, objs...)
			if _, err := e.Create(context.Background(), es); err == nil {
				t.Fatal("Create() succeeded")
			}
			if _, err := next(e, time.Second).Observe(context.Background(), es); err != nil {
				t.Fatal(err)
			}
			listed := slices.Contains(api.calls, "LIST ")
			if listed != tc.lists {
				t.Errorf("listed = %v, want %v; calls %v", listed, tc.lists, api.calls)
			}
		})
	}
}

// TestAdoptionResumesAfterRateLimits: a listing cut short by 429s resumes
// at the page it stopped at and still finds the stream.
func TestAdoptionResumesAfterRateLimits(t *testing.T) {
	pending := created
	var streams []*management.EventStream
	for i := range 7 {
		// Look-alikes on every page, the stream the lost create made last.
		s := webhookRemote("est_" + strings.Repeat(string(rune('a'+i)), 22))
		s.Name = new("other")
		streams = append(streams, s)
	}
	made := webhookRemote("est_" + strings.Repeat("z", 22))
	streams = append(streams, made)
	api := newAPI(streams...)
	api.pageSize = 3
	limited := &apiError{429, "Too Many Requests"}
	api.listErrs = map[int]error{2: limited, 3: limited, 5: limited}
	es := webhookES("bearer", withHash(hashOf(webhookES("bearer"), token)), withAttempt(pending))
	e, kube, _ := setup(t, api, es, hookSecret(token))
	okBefore, failedBefore := testutil.ToFloat64(adoptionPagesTotal.WithLabelValues("ok")), testutil.ToFloat64(adoptionPagesTotal.WithLabelValues("failed"))

	for i := range 3 {
		_, err := next(e, time.Duration(i)*time.Second).Observe(context.Background(), es)
		wantErr(t, err, "rate limited", "resumes at this page")
	}
	obs, err := next(e, 5*time.Second).Observe(context.Background(), es)
	if err != nil || !obs.ResourceExists {
		t.Fatalf("Observe() = %+v, %v; want the adopted stream", obs, err)
	}
	// Page 1 once, page 2 three times (two 429s), page 3 twice (one 429).
	wantCalls(t, api, "LIST ", "LIST 3", "LIST 3", "LIST 3", "LIST 6", "LIST 6")
	// Counted apart from observations' listings: three pages read, three
	// refused.
	if ok, failed := testutil.ToFloat64(adoptionPagesTotal.WithLabelValues("ok"))-okBefore, testutil.ToFloat64(adoptionPagesTotal.WithLabelValues("failed"))-failedBefore; ok != 3 || failed != 3 {
		t.Errorf("auth0_eventstream_adoption_list_pages_total grew by ok %v, failed %v; want 3 and 3", ok, failed)
	}
	if got := meta.GetExternalName(stored(t, kube, es)); got != *made.ID {
		t.Errorf("stored external name = %q, want %s", got, *made.ID)
	}
	if n := len(e.listings.m); n != 0 {
		t.Errorf("%d searches remembered after finishing", n)
	}
}

// TestAdoptionRestartsOnRefusedCheckpoint: a checkpoint Auth0 no longer
// takes restarts the search instead of failing at it forever.
func TestAdoptionRestartsOnRefusedCheckpoint(t *testing.T) {
	var streams []*management.EventStream
	for i := range 4 {
		s := webhookRemote("est_" + strings.Repeat(string(rune('a'+i)), 22))
		s.Name = new("other")
		streams = append(streams, s)
	}
	made := webhookRemote("est_" + strings.Repeat("z", 22))
	api := newAPI(append(streams, made)...)
	api.pageSize = 2
	api.listErrs = map[int]error{2: &apiError{429, "Too Many Requests"}, 3: &apiError{400, "Query validation error: 'Invalid checkpoint' on property from."}}
	es := webhookES("bearer", withAttempt(created))
	e, kube, _ := setup(t, api, es, hookSecret(token))
	_, err := e.Observe(context.Background(), es)
	wantErr(t, err, "resumes at this page")
	_, err = next(e, time.Second).Observe(context.Background(), es)
	wantErr(t, err, "starts over")
	if _, err := next(e, 2*time.Second).Observe(context.Background(), es); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, api, "LIST ", "LIST 2", "LIST 2", "LIST ", "LIST 2", "LIST 4")
	if got := meta.GetExternalName(stored(t, kube, es)); got != *made.ID {
		t.Errorf("stored external name = %q, want %s", got, *made.ID)
	}
}

// TestStaleCacheAfterCreateDoesNotList: the reconcile after a create may get
// the cache's copy from before the create was recorded; the API server's
// copy records the stream, so Auth0 is read, not searched.
func TestStaleCacheAfterCreateDoesNotList(t *testing.T) {
	api := newAPI(webhookRemote(streamID))
	stale := webhookES("bearer", withHash(hashOf(webhookES("bearer"), token)), withAttempt(created))
	e, kube, _ := setup(t, api, stale, hookSecret(token))
	fresh := stored(t, kube, stale)
	meta.SetExternalName(fresh, streamID)
	if err := kube.Update(context.Background(), fresh); err != nil {
		t.Fatal(err)
	}
	fresh.Status.Ownership = &v1alpha1.Ownership{Stream: ownedStream(testKey, fresh.GetUID(), tenant, streamID, v1alpha1.OriginCreated)}
	if err := kube.Status().Update(context.Background(), fresh); err != nil {
		t.Fatal(err)
	}
	e.reader = kube
	obs, err := e.Observe(context.Background(), stale)
	if err != nil || !obs.ResourceExists {
		t.Fatalf("Observe() = %+v, %v; want the recorded stream", obs, err)
	}
	wantCalls(t, api, "GET "+streamID)
	if got := meta.GetExternalName(stale); got != streamID {
		t.Errorf("external name = %q, want %s from the API server's copy", got, streamID)
	}
}
