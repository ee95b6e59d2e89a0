package eventstream

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/event"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/auth0client"
)

// TestDeliveryReadDeferred: a read the tenant's rate budget defers writes
// nothing (no status, no failure condition), stays due, and is made at the
// next reconcile the budget allows; a shortfall longer than a delivery
// poll is said once per delivery poll on the ProviderConfig.
func TestDeliveryReadDeferred(t *testing.T) {
	for _, call := range []string{"STATS", "FAILED"} {
		t.Run(call, func(t *testing.T) {
			api := newAPI(webhookRemote(streamID))
			api.stats = auth0client.DeliveryStats{Successful: 5, Failed: 1}
			api.failed = []auth0client.FailedDelivery{{EventType: "user.created", At: created, ErrorMessage: "503"}}
			es := webhookES("bearer", withStream(streamID))
			e, kube, rec := setup(t, api, es, hookSecret(token))
			pc := &v1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default", UID: "pc-uid"}}
			e.configObj, e.rateBudget = pc, 8
			e.deliveryPoll = 30 * time.Second
			now := created.Add(time.Hour)
			e.now = func() time.Time { return now }
			key := client.ObjectKeyFromObject(es)

			// poll is one reconcile: Observe the stored object, then write
			// its status when it changed.
			poll := func() string {
				t.Helper()
				stored := &v1alpha1.EventStream{}
				if err := kube.Get(context.Background(), key, stored); err != nil {
					t.Fatal(err)
				}
				cr := stored.DeepCopy()
				if _, err := e.Observe(context.Background(), cr); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(stored, cr); diff != "" {
					if err := kube.Status().Update(context.Background(), cr); err != nil {
						t.Fatal(err)
					}
					return diff
				}
				return ""
			}
			tried := func() int { return strings.Count(strings.Join(api.calls, "\n"), call) }
			shortEvents := func() int {
				n := 0
				for _, ev := range rec.events {
					if ev.Reason == reasonRateBudgetShort {
						n++
					}
				}
				return n
			}

			if poll() == "" {
				t.Fatal("the first read of delivery health wrote nothing")
			}
			before := readES(t, kube, key)

			// The budget has nothing to spare for two delivery polls and
			// more, polled every 10 s.
			api.err[call] = &auth0client.DeferredError{Tenant: tenant}
			now = now.Add(30 * time.Second)
			n := tried()
			for i := range 8 {
				if diff := poll(); diff != "" {
					t.Fatalf("deferred read %d changed the EventStream (-stored +reconciled):\n%s", i, diff)
				}
				now = now.Add(10 * time.Second)
			}
			if tried() != n+8 {
				t.Errorf("%s tried %d times in 8 reconciles while due, want 8: a deferred read stays due", call, tried()-n)
			}
			if got := readES(t, kube, key); !cmp.Equal(before.Status, got.Status) {
				t.Errorf("status changed while reads were deferred:\n%s", cmp.Diff(before.Status, got.Status))
			}
			// Overdue by more than 30 s after 40 s; polls at 40, 50, 60, 70 s
			// past due: one event in the first delivery poll, one more once
			// it is over.
			if got := shortEvents(); got != 2 {
				t.Errorf("%d RateBudgetShort events in 80 s overdue at --delivery-poll 30s, want 2: %v", got, rec.events)
			}
			for _, ev := range rec.events {
				if ev.Reason != reasonRateBudgetShort {
					continue
				}
				if ev.Type != event.TypeWarning || !strings.Contains(ev.Message, "--auth0-rate-budget") || !strings.Contains(ev.Message, "8 requests/s") || !strings.Contains(ev.Message, tenant) {
					t.Errorf("event %+v does not name the budget, the tenant and the flag to change", ev)
				}
				// This provider reads each stream with a GET: listings are
				// suggested.
				if !strings.Contains(ev.Message, "drop --no-observe-from-lists") {
					t.Errorf("event %+v does not suggest observing from listings to a provider without them", ev)
				}
			}
			if got := e.reads.mostOverdue(now); got < time.Minute {
				t.Errorf("most overdue %s, want at least a minute", got)
			}

			// The budget spares requests again: read at the next reconcile.
			delete(api.err, call)
			api.stats.Failed = 0
			if poll() == "" {
				t.Error("the read once the budget allowed it wrote nothing new")
			}
			if c := deliveriesCond(readES(t, kube, key)); c.Status != corev1.ConditionTrue {
				t.Errorf("DeliveriesHealthy %s after the read, want True", c.Status)
			}
			if got := e.reads.mostOverdue(now); got != 0 {
				t.Errorf("most overdue %s after the read, want 0", got)
			}
		})
	}
}

// TestDeliveryReadsStalestFirst: while a tenant's deferred read has waited
// longer than another's by more than a turn, the other does not try; other
// tenants are not held back; a resource that stops asking stops counting.
func TestDeliveryReadsStalestFirst(t *testing.T) {
	const poll, turn = 5 * time.Minute, time.Minute
	t0 := created.Add(time.Hour)
	r := newDeliveryReads(turn)
	// Last read 20 min, 19.5 min and 6 min ago.
	r.read("stale", streamID, t0.Add(-20*time.Minute), poll)
	r.read("near", "est_near", t0.Add(-20*time.Minute+turn/2), poll)
	r.read("fresh", streamID2, t0.Add(-6*time.Minute), poll)
	stale, ok := r.due("stale", streamID, nil, t0, poll)
	if !ok {
		t.Fatal("the stale read is not due")
	}
	fresh, ok := r.due("fresh", streamID2, nil, t0, poll)
	if !ok {
		t.Fatal("the fresh read is not due")
	}
	// While the budget defers nothing, every due read tries.
	r.deferRead(tenant, "stale", false, t0, poll)
	if !r.mayTry(tenant, "fresh", fresh, t0, poll) {
		t.Error("a read may not try although the budget deferred nothing")
	}
	// The budget defers the stale read: short, so stalest first.
	r.deferRead(tenant, "stale", true, t0, poll)
	if r.mayTry(tenant, "fresh", fresh, t0, poll) {
		t.Errorf("a read due since %s tried before a deferred one due since %s", fresh, stale)
	}
	if !r.mayTry(tenant, "stale", stale, t0, poll) {
		t.Error("the stalest read may not try")
	}
	if !r.mayTry("other.auth0.com", "fresh", fresh, t0, poll) {
		t.Error("another tenant's deferred read held this tenant's back")
	}
	// Within a turn of the stalest: may try.
	since, _ := r.due("near", "est_near", nil, t0, poll)
	if !r.mayTry(tenant, "near", since, t0, poll) {
		t.Error("a read within a turn of the stalest may not try")
	}

	// Once the stalest is read, the fresh one goes.
	r.read("stale", streamID, t0.Add(time.Second), poll)
	if !r.mayTry(tenant, "fresh", fresh, t0.Add(time.Second), poll) {
		t.Error("the fresh read may not try after the stalest was read")
	}

	// A deferred read whose resource stops asking (deleted) stops holding
	// others back after two polls.
	r.deferRead(tenant, "fresh", true, t0.Add(time.Second), poll)
	later := t0.Add(time.Second + 2*poll + time.Second)
	if !r.mayTry(tenant, types.UID("near"), since, later, poll) {
		t.Error("a deferred read no longer asked for still holds others back")
	}
	if got := r.mostOverdue(later); got != 0 {
		t.Errorf("most overdue %s with no live deferred read, want 0", got)
	}
}

// TestDeliveryReadsCatchUp: after a burst the budget could not cover, the
// backlog is read as fast as the budget allows, not one poll's worth of
// streams per poll: reads stop waiting for the stalest once the budget
// defers nothing for a turn.
func TestDeliveryReadsCatchUp(t *testing.T) {
	const poll = 30 * time.Second
	t0 := created.Add(time.Hour)
	r := newDeliveryReads(poll)
	// 100 streams, last read 1 to 100 s ago: the budget deferred the
	// stalest's read.
	uids := make([]types.UID, 100)
	for i := range uids {
		uids[i] = types.UID(fmt.Sprintf("uid-%03d", i))
		r.read(uids[i], "est_"+string(uids[i]), t0.Add(-time.Duration(100-i)*time.Second), poll)
	}
	for _, uid := range uids {
		since, _ := r.due(uid, "est_"+string(uid), nil, t0, poll)
		if !r.mayTry(tenant, uid, since, t0, poll) {
			r.deferRead(tenant, uid, false, t0, poll)
			continue
		}
		r.deferRead(tenant, uid, uid == uids[0], t0, poll)
	}
	// A turn later with no deferral by the budget, every stream's
	// reconcile reads it, the freshest's first included.
	at := t0.Add(poll + time.Second)
	n := 0
	for _, uid := range slices.Backward(uids) {
		if since, ok := r.due(uid, "est_"+string(uid), nil, at, poll); ok && r.mayTry(tenant, uid, since, at, poll) {
			r.read(uid, "est_"+string(uid), at, poll)
			n++
		}
	}
	if n != len(uids) {
		t.Errorf("%d of %d overdue reads tried once the budget was no longer short", n, len(uids))
	}
	if got := r.mostOverdue(at); got != 0 {
		t.Errorf("most overdue %s after the backlog was read, want 0", got)
	}
}
