package eventstream

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	kmeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/crossplane/crossplane-runtime/v2/pkg/logging"
	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/proof"
)

// exercise drives es through everything the reconciler may call, and
// what it may call again after a failure: Observe, Update, then deletion's
// Observe and Delete, each called even when the one before says it need
// not be.
func exercise(t *testing.T, e *external, es *v1alpha1.EventStream) {
	t.Helper()
	ctx := context.Background()
	_, _ = e.Observe(ctx, es)
	_, _ = e.Update(ctx, es)
	es.DeletionTimestamp = &metav1.Time{Time: created.Add(time.Hour)}
	es.Finalizers = []string{"finalizer.managedresource.crossplane.io"}
	_, _ = e.Observe(ctx, es)
	_, _ = e.Delete(ctx, es)
}

// untouched fails when any call changed, deleted or listed streams.
func untouched(t *testing.T, api *fakeAPI, victim string) {
	t.Helper()
	for _, c := range api.calls {
		if c == "PATCH "+victim || c == "DELETE "+victim || strings.HasPrefix(c, "LIST") || c == "POST" {
			t.Errorf("Auth0 calls %v include %q", api.calls, c)
		}
	}
	if _, ok := api.streams[victim]; !ok {
		t.Errorf("stream %s is gone", victim)
	}
}

// TestNoAuthorityInWhatTenantsWrite: annotations, labels, spec and status
// of an EventStream are all writable by whoever may edit it. None of it,
// forged, copied from another resource, or left over from a release
// without proofs, makes the provider PATCH, DELETE, adopt or list: streamID
// is another team's stream throughout.
func TestNoAuthorityInWhatTenantsWrite(t *testing.T) {
	other := webhookES("bearer")
	other.UID = "uid-other"
	cases := map[string]esOption{
		"ReplacedStreamAnnotation": func(es *v1alpha1.EventStream) {
			meta.AddAnnotations(es, map[string]string{legacyAnnotationReplaced: streamID})
		},
		"ForgedReplacedRecord": func(es *v1alpha1.EventStream) {
			es.Status.Ownership.Replaced = &v1alpha1.OwnedStream{ID: streamID, Tenant: tenant, Proof: "Zm9yZ2Vk"}
		},
		"ReplacedRecordOfAnotherResource": func(es *v1alpha1.EventStream) {
			es.Status.Ownership.Replaced = replacedStream(testKey, other.UID, tenant, streamID)
		},
		"ReplacedRecordOfAnotherKey": func(es *v1alpha1.EventStream) {
			k, _ := proof.NewKey([]byte(strings.Repeat("x", proof.KeySize)))
			es.Status.Ownership.Replaced = replacedStream(k, es.UID, tenant, streamID)
		},
		"StreamRecordPassedOffAsReplaced": func(es *v1alpha1.EventStream) {
			r := ownedStream(testKey, es.UID, tenant, streamID, v1alpha1.OriginCreated)
			es.Status.Ownership.Replaced = r
		},
		"EveryLegacyAnnotation": func(es *v1alpha1.EventStream) {
			// What a release without proofs trusted, outside the upgrade
			// (TestLegacyUpgrade): none of it is considered.
			meta.AddAnnotations(es, map[string]string{legacyAnnotationReplaced: streamID, legacyAnnotationTenant: tenant, legacyAnnotationMadeNothing: created.Add(-time.Hour).Format(time.RFC3339)})
			meta.SetExternalCreatePending(es, created)
		},
		"CreatePendingAnnotation": func(es *v1alpha1.EventStream) {
			meta.SetExternalCreatePending(es, created)
			meta.SetExternalCreateFailed(es, created.Add(time.Second))
		},
		"ForgedCreateAttempt": func(es *v1alpha1.EventStream) {
			es.Status.Ownership.CreateAttempt = &v1alpha1.CreateAttempt{Time: created.Format(time.RFC3339), Tenant: tenant, Proof: "Zm9yZ2Vk"}
		},
		"CreateAttemptOfAnotherResource": func(es *v1alpha1.EventStream) {
			es.Status.Ownership.CreateAttempt = createAttempt(testKey, other.UID, tenant, created)
		},
	}
	for name, forge := range cases {
		t.Run(name, func(t *testing.T) {
			// Owning a stream of its own, whose external name is cleared so
			// a lost create would be searched for.
			api := newAPI(webhookRemote(streamID), webhookRemote(streamID2))
			es := webhookES("bearer", withStream(streamID2), withHash(hashOf(webhookES("bearer"), token)), forge)
			e, _, _ := setup(t, api, es, hookSecret(token))
			exercise(t, e, es)
			untouched(t, api, streamID)
		})
	}

	// Naming the stream, with a record that proves nothing.
	named := map[string]esOption{
		"ForgedStreamRecord": func(es *v1alpha1.EventStream) {
			es.Status.Ownership = &v1alpha1.Ownership{Stream: &v1alpha1.OwnedStream{ID: streamID, Tenant: tenant, Origin: v1alpha1.OriginCreated, Proof: "Zm9yZ2Vk"}}
		},
		"StreamRecordOfAnotherResource": func(es *v1alpha1.EventStream) {
			es.Status.Ownership = &v1alpha1.Ownership{Stream: ownedStream(testKey, other.UID, tenant, streamID, v1alpha1.OriginCreated)}
		},
		"StreamRecordWithOriginEdited": func(es *v1alpha1.EventStream) {
			es.Status.Ownership = &v1alpha1.Ownership{Stream: ownedStream(testKey, es.UID, tenant, streamID, v1alpha1.OriginImported)}
			es.Status.Ownership.Stream.Origin = v1alpha1.OriginCreated
		},
		"ReplacedRecordPassedOffAsStream": func(es *v1alpha1.EventStream) {
			r := replacedStream(testKey, es.UID, tenant, streamID)
			r.Origin = v1alpha1.OriginCreated
			es.Status.Ownership = &v1alpha1.Ownership{Stream: r}
		},
		"AtProviderOfTheStream": func(es *v1alpha1.EventStream) {
			// What the previous release took for "holds the stream".
			es.Status.AtProvider.ID = streamID
		},
		"StreamIDLabel": func(es *v1alpha1.EventStream) {
			es.Labels = map[string]string{v1alpha1.LabelStreamID: streamID}
		},
	}
	for name, forge := range named {
		t.Run(name, func(t *testing.T) {
			api := newAPI(webhookRemote(streamID))
			es := webhookES("bearer", withExternalName(streamID), forge, func(es *v1alpha1.EventStream) {
				es.Spec.ForProvider.Destination.Webhook.Endpoint = "https://attacker.example/hook"
			})
			e, _, _ := setup(t, api, es, hookSecret(token))
			_, err := e.Observe(context.Background(), es)
			wantErr(t, err, "is an import this EventStream does not own", "ProviderConfig team-a/default's spec.importPolicy is ObserveOnly")
			exercise(t, e, es)
			untouched(t, api, streamID)
		})
	}
}

// TestReplacedStreamNeedsItsProof: a replaced stream recorded with a valid
// proof is deleted, by Update as by Delete; the record is then forgotten.
func TestReplacedStreamNeedsItsProof(t *testing.T) {
	api := newAPI(eventBridgeRemote(streamID, "us-east-1"), eventBridgeRemote(streamID2, "eu-west-1"))
	es := eventBridgeES("eu-west-1", withStream(streamID2), withReplaced(streamID))
	e, kube, _ := setup(t, api, es)
	obs, err := e.Observe(context.Background(), es)
	if err != nil || obs.ResourceUpToDate || !strings.Contains(obs.Diff, streamID+", replaced by "+streamID2+", is still to be deleted") {
		t.Fatalf("Observe() = %+v, %v; want the replaced stream to delete", obs, err)
	}
	if _, err := e.Update(context.Background(), es); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, api, "GET "+streamID2, "DELETE "+streamID)
	if o := stored(t, kube, es).Status.Ownership; o == nil || o.Replaced != nil || o.Stream == nil {
		t.Errorf("stored ownership = %+v, want the replaced stream forgotten and the stream kept", o)
	}
}

// TestLostCreateNeedsItsAttempt: a stream exactly like the one a lost
// create would have made is adopted only when the provider recorded that
// attempt.
func TestLostCreateNeedsItsAttempt(t *testing.T) {
	made := webhookRemote(streamID)
	t.Run("Recorded", func(t *testing.T) {
		api := newAPI(made)
		es := webhookES("bearer", withAttempt(created))
		e, kube, _ := setup(t, api, es, hookSecret(token))
		obs, err := e.Observe(context.Background(), es)
		if err != nil || !obs.ResourceExists {
			t.Fatalf("Observe() = %+v, %v; want the stream adopted", obs, err)
		}
		got := stored(t, kube, es)
		if meta.GetExternalName(got) != streamID || !holds(testKey, got, streamID) || got.Status.Ownership.Stream.Origin != v1alpha1.OriginAdopted {
			t.Errorf("stored %q, %+v; want %s adopted", meta.GetExternalName(got), got.Status.Ownership, streamID)
		}
	})
	t.Run("NotRecorded", func(t *testing.T) {
		// Only crossplane-runtime's annotations say a create was pending:
		// anyone may write those.
		api := newAPI(made)
		es := webhookES("bearer", func(es *v1alpha1.EventStream) {
			meta.SetExternalCreatePending(es, created)
			meta.SetExternalCreateFailed(es, created.Add(time.Second))
		})
		e, kube, _ := setup(t, api, es, hookSecret(token))
		obs, err := e.Observe(context.Background(), es)
		if err != nil || obs.ResourceExists {
			t.Fatalf("Observe() = %+v, %v; want no stream", obs, err)
		}
		wantCalls(t, api)
		if got := meta.GetExternalName(stored(t, kube, es)); got != "" {
			t.Errorf("stored external name = %q", got)
		}
	})
	t.Run("SearchedAndNotFound", func(t *testing.T) {
		// A full search that finds nothing settles the attempt: the next
		// Observe does not list again.
		api := newAPI()
		es := webhookES("bearer", withAttempt(created))
		e, kube, _ := setup(t, api, es, hookSecret(token))
		if obs, err := e.Observe(context.Background(), es); err != nil || obs.ResourceExists {
			t.Fatalf("Observe() = %+v, %v", obs, err)
		}
		if o := stored(t, kube, es).Status.Ownership; o != nil {
			t.Errorf("stored ownership = %+v, want the attempt settled", o)
		}
		if _, err := next(e, time.Second).Observe(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		wantCalls(t, api, "LIST ")
	})
}

// TestAdoptionListingBounded: the search stops at the listing's page bound
// with an error that says so, and forgets its progress.
func TestAdoptionListingBounded(t *testing.T) {
	api := newAPI()
	for i := range 5 {
		s := webhookRemote("est_" + strings.Repeat(string(rune('a'+i)), 22))
		s.Name = new("other")
		api.streams[*s.ID] = s
	}
	api.pageSize = 1
	es := webhookES("bearer", withAttempt(created))
	e, _, _ := setup(t, api, es, hookSecret(token))
	e.maxListPages = 2
	_, err := e.Observe(context.Background(), es)
	wantErr(t, err, "more than 2 pages of 100 event streams", "starts over", "crossplane.io/external-name")
	wantCalls(t, api, "LIST ", "LIST 1")
	if n := len(e.listings.m); n != 0 {
		t.Errorf("%d searches remembered after stopping", n)
	}
}

// TestListingsBounded: the searches remembered between reconciles are
// bounded; the least recently advanced one goes first.
func TestListingsBounded(t *testing.T) {
	l := newListings()
	for i := range maxSearches + 10 {
		l.save(types.UID(fmt.Sprintf("uid-%d", i)), listing{attempt: "a", touched: created.Add(time.Duration(i) * time.Second)})
	}
	if n := len(l.m); n != maxSearches {
		t.Errorf("%d searches remembered, want at most %d", n, maxSearches)
	}
	if _, ok := l.m["uid-0"]; ok {
		t.Error("the oldest search is still remembered")
	}
	if _, ok := l.m[types.UID(fmt.Sprintf("uid-%d", maxSearches+9))]; !ok {
		t.Error("the newest search was dropped")
	}
}

// TestImportPolicy: a stream the resource names but did not create is only
// observed, unless its config's spec.importPolicy is Manage.
func TestImportPolicy(t *testing.T) {
	differs := func(es *v1alpha1.EventStream) { es.Spec.ForProvider.Name = "renamed" }
	t.Run("ObserveOnlyObserves", func(t *testing.T) {
		api := newAPI(webhookRemote(streamID))
		es := webhookES("bearer", withExternalName(streamID))
		e, kube, _ := setup(t, api, es)
		obs, err := e.Observe(context.Background(), es)
		if err != nil || !obs.ResourceExists || !obs.ResourceUpToDate {
			t.Fatalf("Observe() = %+v, %v", obs, err)
		}
		if es.Status.AtProvider.ID != streamID || es.GetCondition(xpv2.TypeReady).Reason != xpv2.ReasonAvailable {
			t.Errorf("atProvider %+v, Ready %+v; want the stream observed and Available", es.Status.AtProvider, es.GetCondition(xpv2.TypeReady))
		}
		if got := stored(t, kube, es); got.Status.Ownership != nil {
			t.Errorf("stored ownership = %+v, want none", got.Status.Ownership)
		}
	})
	t.Run("ObserveOnlyChangesNothing", func(t *testing.T) {
		api := newAPI(webhookRemote(streamID))
		es := webhookES("bearer", withExternalName(streamID), differs)
		e, _, _ := setup(t, api, es, hookSecret(token))
		_, err := e.Observe(context.Background(), es)
		wantErr(t, err, "event stream "+streamID+" differs from spec", `name: "hooks", want "renamed"`, "ProviderConfig team-a/default's spec.importPolicy is ObserveOnly", "spec.importPolicy: Manage on ProviderConfig team-a/default")
		if es.Status.AtProvider.ID != streamID || es.GetCondition(xpv2.TypeReady).Reason != xpv2.ReasonAvailable {
			t.Errorf("atProvider %+v, Ready %+v; want the stream observed and Available", es.Status.AtProvider, es.GetCondition(xpv2.TypeReady))
		}
		if _, err := e.Update(context.Background(), es); err == nil {
			t.Error("Update() succeeded")
		}
		wantCalls(t, api, "GET "+streamID)
	})
	t.Run("ObserveOnlyReleasedOnDeletion", func(t *testing.T) {
		api := newAPI(webhookRemote(streamID))
		es := webhookES("bearer", withExternalName(streamID), func(es *v1alpha1.EventStream) {
			es.DeletionTimestamp = &metav1.Time{Time: created}
			es.Finalizers = []string{"finalizer.managedresource.crossplane.io"}
		})
		e, _, rec := setup(t, api, es)
		obs, err := e.Observe(context.Background(), es)
		if err != nil || obs.ResourceExists {
			t.Fatalf("Observe() = %+v, %v; want the resource let go", obs, err)
		}
		if _, err := e.Delete(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		untouched(t, api, streamID)
		if len(rec.events) == 0 || rec.events[0].Reason != reasonNotDeleting || !strings.Contains(rec.events[0].Message, "left in Auth0") {
			t.Errorf("events = %v, want a %s saying the stream is left in Auth0", rec.events, reasonNotDeleting)
		}
	})
	t.Run("ObserveOnlySendsNoTestEvent", func(t *testing.T) {
		api := newAPI(webhookRemote(streamID))
		es := webhookES("bearer", withExternalName(streamID), withAnnotations(AnnotationSendTestEvent, "user.created#1"))
		e, _, _ := setup(t, api, es)
		if _, err := e.Observe(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		a := es.Status.AtProvider.Deliveries.LastAction
		if a == nil || a.Outcome != v1alpha1.ActionRefused || !strings.Contains(a.Message, "an import this EventStream does not own") {
			t.Errorf("last action = %+v, want it refused", a)
		}
		wantCalls(t, api, "GET "+streamID)
	})
	t.Run("ManageTakesOver", func(t *testing.T) {
		api := newAPI(webhookRemote(streamID))
		es := webhookES("bearer", withExternalName(streamID), differs)
		e, kube, rec := setup(t, api, es, hookSecret(token))
		e.importPolicy = v1alpha1.ImportPolicyManage
		obs, err := e.Observe(context.Background(), es)
		if err != nil || !obs.ResourceExists || obs.ResourceUpToDate {
			t.Fatalf("Observe() = %+v, %v; want the import, out of date", obs, err)
		}
		got := stored(t, kube, es)
		if !holds(testKey, got, streamID) || got.Status.Ownership.Stream.Origin != v1alpha1.OriginImported || got.GetLabels()[v1alpha1.LabelStreamID] != streamID {
			t.Errorf("stored ownership %+v, labels %v; want the stream recorded as imported and labelled", got.Status.Ownership, got.GetLabels())
		}
		if len(rec.events) != 1 || rec.events[0].Reason != reasonImport || !strings.Contains(rec.events[0].Message, "spec.importPolicy is Manage") {
			t.Errorf("events = %v, want one %s", rec.events, reasonImport)
		}
		if _, err := e.Update(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		es.DeletionTimestamp = &metav1.Time{Time: created}
		es.Finalizers = []string{"finalizer.managedresource.crossplane.io"}
		e.importPolicy = v1alpha1.ImportPolicyObserveOnly // imported once, it stays the resource's own
		if obs, err := next(e, time.Second).Observe(context.Background(), es); err != nil || !obs.ResourceExists {
			t.Fatalf("Observe() during deletion = %+v, %v", obs, err)
		}
		if _, err := e.Delete(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		wantCalls(t, api, "GET "+streamID, "PATCH "+streamID, "GET "+streamID, "DELETE "+streamID)
	})
	t.Run("ManageRefusedWhenAnotherEventStreamNamesIt", func(t *testing.T) {
		api := newAPI(webhookRemote(streamID))
		es := webhookES("bearer", withExternalName(streamID), func(es *v1alpha1.EventStream) { es.CreationTimestamp = metav1.Time{Time: created} })
		later := ownedBy("later", "9", created.Add(time.Hour), streamID)
		later.Status.Ownership = nil
		e, kube, _ := setup(t, api, es, later)
		e.importPolicy = v1alpha1.ImportPolicyManage
		_, err := e.Observe(context.Background(), es)
		wantErr(t, err, "event stream "+streamID+" is claimed by EventStream team-b/later")
		if got := stored(t, kube, es).Status.Ownership; got != nil {
			t.Errorf("stored ownership = %+v", got)
		}
	})
	t.Run("ManageRefusedWhenAWorkspaceClaimsIt", func(t *testing.T) {
		api := newAPI(webhookRemote(streamID))
		es := webhookES("bearer", withExternalName(streamID))
		e, kube, _ := setup(t, api, es)
		e.workspaces = workspaces(t, "team-c", "tf-hooks", streamID)
		e.importPolicy = v1alpha1.ImportPolicyManage
		_, err := e.Observe(context.Background(), es)
		wantErr(t, err, "event stream "+streamID+" is claimed by provider-terraform Workspace team-c/tf-hooks")
		if got := stored(t, kube, es).Status.Ownership; got != nil {
			t.Errorf("stored ownership = %+v", got)
		}
		wantCalls(t, api, "GET "+streamID)
	})
	t.Run("ManageWithObservePolicyRecordsNothing", func(t *testing.T) {
		api := newAPI(webhookRemote(streamID))
		es := webhookES("bearer", withExternalName(streamID), withPolicies(xpv2.ManagementActionObserve))
		e, kube, _ := setup(t, api, es)
		e.importPolicy = v1alpha1.ImportPolicyManage
		if obs, err := e.Observe(context.Background(), es); err != nil || !obs.ResourceUpToDate {
			t.Fatalf("Observe() = %+v, %v", obs, err)
		}
		if got := stored(t, kube, es).Status.Ownership; got != nil {
			t.Errorf("stored ownership = %+v", got)
		}
	})
	t.Run("ManageNotDuringDeletion", func(t *testing.T) {
		api := newAPI(webhookRemote(streamID))
		es := webhookES("bearer", withExternalName(streamID), func(es *v1alpha1.EventStream) {
			es.DeletionTimestamp = &metav1.Time{Time: created}
			es.Finalizers = []string{"finalizer.managedresource.crossplane.io"}
		})
		e, _, _ := setup(t, api, es)
		e.importPolicy = v1alpha1.ImportPolicyManage
		if obs, err := e.Observe(context.Background(), es); err != nil || obs.ResourceExists {
			t.Fatalf("Observe() = %+v, %v", obs, err)
		}
		untouched(t, api, streamID)
	})
}

// workspaces is an API server holding one provider-terraform Workspace
// labelled with stream id.
func workspaces(t *testing.T, namespace, name, id string) client.Reader {
	t.Helper()
	gvk := schema.GroupVersionKind{Group: WorkspaceListGVK.Group, Version: WorkspaceListGVK.Version, Kind: "Workspace"}
	mapper := kmeta.NewDefaultRESTMapper(nil)
	mapper.Add(gvk, kmeta.RESTScopeNamespace)
	w := &unstructured.Unstructured{}
	w.SetGroupVersionKind(gvk)
	w.SetNamespace(namespace)
	w.SetName(name)
	w.SetLabels(map[string]string{v1alpha1.LabelStreamID: id})
	other := w.DeepCopy()
	other.SetName("unrelated")
	other.SetLabels(map[string]string{v1alpha1.LabelStreamID: streamID2})
	return fake.NewClientBuilder().WithRESTMapper(mapper).WithObjects(w, other).Build()
}

// TestRestoreName: a crash between recording a stream in status and naming
// it leaves a record the next Observe names the resource from; a name a
// user chose is not overwritten.
func TestRestoreName(t *testing.T) {
	t.Run("AfterCreate", func(t *testing.T) {
		api := newAPI(actionRemote(streamID, "act_1"))
		es := actionES("act_1", withStream(streamID), func(es *v1alpha1.EventStream) { meta.SetExternalName(es, "") })
		e, kube, _ := setup(t, api, es)
		if obs, err := e.Observe(context.Background(), es); err != nil || !obs.ResourceExists {
			t.Fatalf("Observe() = %+v, %v", obs, err)
		}
		wantCalls(t, api, "GET "+streamID)
		if got := stored(t, kube, es); meta.GetExternalName(got) != streamID || got.GetLabels()[v1alpha1.LabelStreamID] != streamID {
			t.Errorf("stored name %q, labels %v; want %s restored", meta.GetExternalName(got), got.GetLabels(), streamID)
		}
	})
	t.Run("AfterReplacement", func(t *testing.T) {
		api := newAPI(eventBridgeRemote(streamID, "us-east-1"), eventBridgeRemote(streamID2, "eu-west-1"))
		es := eventBridgeES("eu-west-1", withStream(streamID2), withReplaced(streamID), func(es *v1alpha1.EventStream) { meta.SetExternalName(es, streamID) })
		e, kube, _ := setup(t, api, es)
		if _, err := e.Observe(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Update(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		wantCalls(t, api, "GET "+streamID2, "DELETE "+streamID)
		if got := meta.GetExternalName(stored(t, kube, es)); got != streamID2 {
			t.Errorf("stored name %q, want %s", got, streamID2)
		}
	})
	t.Run("UserNameKept", func(t *testing.T) {
		api := newAPI(actionRemote(streamID, "act_1"), actionRemote(streamID2, "act_1"))
		es := actionES("act_1", withStream(streamID), func(es *v1alpha1.EventStream) { meta.SetExternalName(es, streamID2) })
		e, kube, _ := setup(t, api, es)
		if _, err := e.Observe(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		if got := meta.GetExternalName(stored(t, kube, es)); got != streamID2 {
			t.Errorf("stored name %q, want the user's %s", got, streamID2)
		}
		wantCalls(t, api, "GET "+streamID2)
	})
}

// TestUnofferedSecretIsNotRead: a referenced Secret without the opt-in
// label stops the update with a message naming it, its key and the label,
// and nothing reaches Auth0.
func TestUnofferedSecretIsNotRead(t *testing.T) {
	api := newAPI(webhookRemote(streamID))
	s := hookSecret(rotated)
	s.Labels = nil
	es := webhookES("bearer", withStream(streamID), withHash(hashOf(webhookES("bearer"), token)))
	e, _, _ := setup(t, api, es, s)
	_, err := e.Observe(context.Background(), es)
	wantErr(t, err, "Secret team-a/hook-secret (key value) is not offered for webhook authorization", v1alpha1.LabelWebhookSecret+`: "true"`, "sent nothing to Auth0")
	if _, err := e.Update(context.Background(), es); err == nil {
		t.Error("Update() succeeded")
	}
	wantCalls(t, api, "GET "+streamID)
	if strings.Contains(err.Error(), rotated) {
		t.Error("the error holds the value")
	}
}

// TestLegacyUpgrade: what a release without proofs managed is recorded
// once, for resources made before the key only, and trusted no more once
// every such resource was considered.
func TestLegacyUpgrade(t *testing.T) {
	keyMade := created
	store := func(t *testing.T, kube client.Client) *proof.Store {
		t.Helper()
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "crossplane-system", Name: proof.SecretName, CreationTimestamp: metav1.Time{Time: keyMade}},
			Data:       map[string][]byte{proof.SecretKey: []byte("0123456789abcdef0123456789abcdef")},
		}
		if err := kube.Create(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		st, err := proof.LoadOrCreate(context.Background(), kube, "crossplane-system")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	legacy := func(opts ...esOption) *v1alpha1.EventStream {
		return eventBridgeES("us-east-1", append([]esOption{withExternalName(streamID), func(es *v1alpha1.EventStream) {
			es.CreationTimestamp = metav1.Time{Time: keyMade.Add(-time.Hour)}
			es.Status.AtProvider.ID = streamID
		}}, opts...)...)
	}
	t.Run("RecordedOnce", func(t *testing.T) {
		api := newAPI(eventBridgeRemote(streamID, "us-east-1"), eventBridgeRemote(streamID2, "us-east-1"))
		es := legacy(withAnnotations(legacyAnnotationTenant, tenant, legacyAnnotationReplaced, streamID2), func(es *v1alpha1.EventStream) {
			es.Spec.ForProvider.Status = "disabled"
		})
		e, kube, _ := setup(t, api, es)
		e.legacy = newLegacyUpgrade(store(t, kube))
		if _, err := e.Observe(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		got := stored(t, kube, es)
		if !holds(testKey, got, streamID) || got.Status.Ownership.Stream.Origin != v1alpha1.OriginUpgraded || verify(testKey, got).replaced == nil {
			t.Fatalf("stored ownership = %+v, want the stream and the replaced one recorded", got.Status.Ownership)
		}
		for _, k := range []string{legacyAnnotationTenant, legacyAnnotationReplaced} {
			if _, ok := got.GetAnnotations()[k]; ok {
				t.Errorf("legacy annotation %s left", k)
			}
		}
		if _, err := e.Update(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		wantCalls(t, api, "GET "+streamID, "DELETE "+streamID2, "PATCH "+streamID)
	})
	t.Run("NotForResourcesMadeAfterTheKey", func(t *testing.T) {
		api := newAPI(eventBridgeRemote(streamID, "us-east-1"))
		es := legacy(func(es *v1alpha1.EventStream) { es.CreationTimestamp = metav1.Time{Time: keyMade} })
		e, kube, _ := setup(t, api, es)
		e.legacy = newLegacyUpgrade(store(t, kube))
		if _, err := e.Observe(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		if got := stored(t, kube, es).Status.Ownership; got != nil {
			t.Errorf("stored ownership = %+v, want none", got)
		}
	})
	t.Run("NotForObserveOnlyResources", func(t *testing.T) {
		api := newAPI(eventBridgeRemote(streamID, "us-east-1"))
		es := legacy(withPolicies(xpv2.ManagementActionObserve))
		e, kube, _ := setup(t, api, es)
		e.legacy = newLegacyUpgrade(store(t, kube))
		if _, err := e.Observe(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		if got := stored(t, kube, es).Status.Ownership; got != nil {
			t.Errorf("stored ownership = %+v, want none", got)
		}
	})
	t.Run("OnceOnly", func(t *testing.T) {
		// Considered once without a stream of its own; its status forged
		// afterwards proves nothing.
		api := newAPI(eventBridgeRemote(streamID, "us-east-1"))
		es := legacy(func(es *v1alpha1.EventStream) { es.Status.AtProvider.ID = "" })
		e, kube, _ := setup(t, api, es)
		e.legacy = newLegacyUpgrade(store(t, kube))
		if _, err := e.Observe(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		forged := stored(t, kube, es)
		forged.Status.AtProvider.ID = streamID
		if _, err := next(e, time.Second).Observe(context.Background(), forged); err != nil {
			t.Fatal(err)
		}
		if got := stored(t, kube, es).Status.Ownership; got != nil {
			t.Errorf("stored ownership = %+v, want none", got)
		}
	})
	t.Run("LostCreate", func(t *testing.T) {
		api := newAPI(eventBridgeRemote(streamID2, "us-east-1"))
		es := legacy(func(es *v1alpha1.EventStream) {
			meta.SetExternalName(es, "")
			es.Status.AtProvider.ID = ""
			meta.SetExternalCreatePending(es, created)
			meta.SetExternalCreateFailed(es, created.Add(time.Second))
		})
		e, kube, _ := setup(t, api, es)
		e.legacy = newLegacyUpgrade(store(t, kube))
		if obs, err := e.Observe(context.Background(), es); err != nil || !obs.ResourceExists {
			t.Fatalf("Observe() = %+v, %v; want the lost create's stream adopted", obs, err)
		}
		wantCalls(t, api, "LIST ")
	})
	t.Run("Finished", func(t *testing.T) {
		api := newAPI(eventBridgeRemote(streamID, "us-east-1"))
		es := legacy()
		e, kube, _ := setup(t, api, es)
		u := newLegacyUpgrade(store(t, kube))
		e.legacy = u
		if u.allConsidered(context.Background(), kube) {
			t.Fatal("all considered before any reconcile")
		}
		if _, err := e.Observe(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		u.finish(ctx, kube, time.Millisecond, logging.NewNopLogger())
		if !u.done.Load() {
			t.Fatal("the upgrade did not finish")
		}
		if st, err := proof.LoadOrCreate(context.Background(), kube, "crossplane-system"); err != nil || !st.LegacyRecorded {
			t.Errorf("key Secret says legacy recorded = %v (%v)", st != nil && st.LegacyRecorded, err)
		}
		// A resource made before the key, never considered here: trusted
		// no more.
		late := legacy(func(es *v1alpha1.EventStream) { es.Name, es.UID = "late", "uid-late" })
		if err := kube.Create(context.Background(), late); err != nil {
			t.Fatal(err)
		}
		if u.applies(late) {
			t.Error("legacy state is still trusted after the upgrade finished")
		}
	})
}
