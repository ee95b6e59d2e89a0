package eventstream

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/auth0client"
)

func (f *fakeAPI) Stats(_ context.Context, id string, from, to time.Time) (auth0client.DeliveryStats, error) {
	f.calls = append(f.calls, "STATS "+id+" "+to.Sub(from).String())
	if err := f.err["STATS"]; err != nil {
		return auth0client.DeliveryStats{}, err
	}
	return f.stats, nil
}

func (f *fakeAPI) FailedDeliveries(_ context.Context, id string, _ time.Time) ([]auth0client.FailedDelivery, error) {
	f.calls = append(f.calls, "FAILED "+id)
	if err := f.err["FAILED"]; err != nil {
		return nil, err
	}
	return f.failed, nil
}

func (f *fakeAPI) SendTestEvent(_ context.Context, id, eventType string) (auth0client.TestDelivery, error) {
	f.calls = append(f.calls, "TEST "+id+" "+eventType)
	if f.onAction != nil {
		f.onAction()
	}
	if err := f.err["TEST"]; err != nil {
		return auth0client.TestDelivery{}, err
	}
	return auth0client.TestDelivery{EventID: "evt_cccccccccccccccccccccc", Status: "pending"}, nil
}

func (f *fakeAPI) RedeliverFailed(_ context.Context, id string) error {
	f.calls = append(f.calls, "REDELIVER "+id)
	if f.onAction != nil {
		f.onAction()
	}
	return f.err["REDELIVER"]
}

func deliveriesCond(es *v1alpha1.EventStream) xpv2.Condition {
	c, _ := conditionOf(es, ConditionDeliveriesHealthy)
	return c
}

func checkedAgo(d time.Duration) esOption {
	return func(es *v1alpha1.EventStream) {
		t := metav1.NewTime(created.Add(time.Minute - d))
		es.Status.AtProvider.Deliveries = &v1alpha1.DeliveriesObservation{CheckedAt: &t, Failed24h: 7}
	}
}

func TestDeliveryHealth(t *testing.T) {
	get := "GET " + streamID
	stats := "STATS " + streamID + " 24h0m0s"
	failed := "FAILED " + streamID
	at := created.Add(-time.Hour)
	cases := map[string]struct {
		poll   time.Duration
		es     *v1alpha1.EventStream
		api    func(*fakeAPI)
		calls  []string
		status corev1.ConditionStatus
		reason xpv2.ConditionReason
		msg    []string
		want   *v1alpha1.DeliveriesObservation // CheckedAt ignored
		// readAgo, when set, is when this process last read health.
		readAgo time.Duration
		// es2 changes es once stored.
		es2 func(*v1alpha1.EventStream)
	}{
		"NewStreamReadAPollAfterCreation": {
			// Created a minute ago (the fake Auth0's created_at): nothing to read yet.
			poll: 5 * time.Minute, es: webhookES("bearer", withStream(streamID)),
			calls: []string{get}, status: corev1.ConditionUnknown, reason: reasonNotChecked, msg: []string{"after the stream was created"},
		},
		"NeverCheckedHealthy": {
			poll: time.Minute, es: webhookES("bearer", withStream(streamID)),
			api:   func(f *fakeAPI) { f.stats = auth0client.DeliveryStats{Successful: 12} },
			calls: []string{get, stats}, status: corev1.ConditionTrue, reason: reasonDelivering, msg: []string{"no undelivered events"},
			want: &v1alpha1.DeliveriesObservation{Successful24h: 12},
		},
		"CheckedWithinThePollCostsNothing": {
			poll: 5 * time.Minute, es: webhookES("bearer", withStream(streamID), checkedAgo(4*time.Minute+59*time.Second)),
			calls: []string{get}, status: corev1.ConditionUnknown, reason: reasonNotChecked,
			want: &v1alpha1.DeliveriesObservation{Failed24h: 7},
		},
		"FailuresListedMostRecentKept": {
			poll: 5 * time.Minute, es: webhookES("bearer", withStream(streamID), checkedAgo(5*time.Minute)), readAgo: 5 * time.Minute,
			api: func(f *fakeAPI) {
				f.stats = auth0client.DeliveryStats{Successful: 3, Failed: 8}
				f.failed = []auth0client.FailedDelivery{
					{EventType: "user.created", At: at, ErrorMessage: "old"},
					{EventType: "user.updated", At: at.Add(time.Minute), ErrorMessage: `Post "https://bob:` + token + `@example.net/hook": dial tcp ...`},
				}
			},
			calls: []string{get, stats, failed}, status: corev1.ConditionFalse, reason: reasonUndelivered,
			msg: []string{"2 events of the last 24 hours were not delivered", "user.updated", "2026-11-25T11:01:00Z", "[redacted]", "auth0.openmcf.org/redeliver"},
			want: &v1alpha1.DeliveriesObservation{
				Successful24h: 3, Failed24h: 8, Undelivered: 2,
				LastFailure: &v1alpha1.DeliveryFailure{Time: "2026-11-25T11:01:00Z", EventType: "user.updated", Message: `Post "https://[redacted]@example.net/hook": dial tcp ...`},
			},
		},
		"FailuresAllRedelivered": {
			poll: time.Minute, es: webhookES("bearer", withStream(streamID)),
			api:   func(f *fakeAPI) { f.stats = auth0client.DeliveryStats{Successful: 4, Failed: 4} },
			calls: []string{get, stats, failed}, status: corev1.ConditionTrue, reason: reasonDelivering, msg: []string{"redelivered since"},
			want: &v1alpha1.DeliveriesObservation{Successful24h: 4, Failed24h: 4},
		},
		"StatsFailing": {
			poll: time.Minute, es: webhookES("bearer", withStream(streamID)),
			api:   func(f *fakeAPI) { f.err["STATS"] = &apiError{403, "Insufficient scope"} },
			calls: []string{get, stats}, status: corev1.ConditionUnknown, reason: reasonCheckFailed, msg: []string{"403", "scopes"},
		},
		"StatsFailingKeepsWhatWasKnown": {
			poll: time.Minute, es: webhookES("bearer", withStream(streamID), checkedAgo(time.Hour)), readAgo: time.Minute,
			api:   func(f *fakeAPI) { f.err["STATS"] = &apiError{503, "Service Unavailable"} },
			calls: []string{get, stats}, status: corev1.ConditionUnknown, reason: reasonCheckFailed, msg: []string{"503"},
			want: &v1alpha1.DeliveriesObservation{Failed24h: 7},
		},
		"SameFactsWriteNothing": {
			// More successful runs, nothing else new: status keeps the
			// last read's record, checkedAt included.
			poll: time.Minute, es: webhookES("bearer", withStream(streamID), checkedAgo(time.Hour)), readAgo: time.Minute,
			api: func(f *fakeAPI) {
				f.stats = auth0client.DeliveryStats{Successful: 40, Failed: 7}
				f.failed = nil
			},
			es2:   func(es *v1alpha1.EventStream) { es.Status.AtProvider.Deliveries.Successful24h = 2 },
			calls: []string{get, stats, failed}, status: corev1.ConditionTrue, reason: reasonDelivering, msg: []string{"7 failed runs", "redelivered since"},
			want: &v1alpha1.DeliveriesObservation{Successful24h: 2, Failed24h: 7},
		},
		"FirstDeliveryWritten": {
			// Nothing delivered in 24 hours, then something: a fact.
			poll: time.Minute, es: webhookES("bearer", withStream(streamID), checkedAgo(time.Hour)), readAgo: time.Minute,
			api:   func(f *fakeAPI) { f.stats = auth0client.DeliveryStats{Successful: 1, Failed: 7} },
			calls: []string{get, stats, failed}, status: corev1.ConditionTrue, reason: reasonDelivering,
			want: &v1alpha1.DeliveriesObservation{Successful24h: 1, Failed24h: 7},
		},
		"NewFailureWritten": {
			poll: time.Minute, es: webhookES("bearer", withStream(streamID), checkedAgo(time.Hour)), readAgo: time.Minute,
			api: func(f *fakeAPI) {
				f.stats = auth0client.DeliveryStats{Successful: 40, Failed: 8}
				f.failed = []auth0client.FailedDelivery{{EventType: "user.created", At: at, ErrorMessage: "503"}}
			},
			calls: []string{get, stats, failed}, status: corev1.ConditionFalse, reason: reasonUndelivered, msg: []string{"1 events"},
			want: &v1alpha1.DeliveriesObservation{
				Successful24h: 40, Failed24h: 8, Undelivered: 1,
				LastFailure: &v1alpha1.DeliveryFailure{Time: "2026-11-25T11:00:00Z", EventType: "user.created", Message: "503"},
			},
		},
		"Disabled": {
			es:    webhookES("bearer", withStream(streamID)),
			calls: []string{get}, status: corev1.ConditionUnknown, reason: reasonCheckDisabled, msg: []string{"--delivery-poll 0"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			api := newAPI(webhookRemote(streamID))
			if tc.api != nil {
				tc.api(api)
			}
			e, _, _ := setup(t, api, tc.es, hookSecret(token))
			e.deliveryPoll = tc.poll
			if tc.es2 != nil {
				tc.es2(tc.es)
			}
			if tc.readAgo > 0 {
				e.reads.read(tc.es.GetUID(), streamID, e.now().Add(-tc.readAgo), tc.poll)
			}
			stored := tc.es.Status.AtProvider.Deliveries.DeepCopy()
			if _, err := e.Observe(context.Background(), tc.es); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.calls, api.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			c := deliveriesCond(tc.es)
			if c.Status != tc.status || c.Reason != tc.reason {
				t.Errorf("DeliveriesHealthy = %s/%s (%s), want %s/%s", c.Status, c.Reason, c.Message, tc.status, tc.reason)
			}
			for _, m := range tc.msg {
				if !strings.Contains(c.Message, m) {
					t.Errorf("DeliveriesHealthy message %q does not contain %q", c.Message, m)
				}
			}
			if strings.Contains(c.Message, token) {
				t.Errorf("DeliveriesHealthy message holds the token: %q", c.Message)
			}
			got := tc.es.Status.AtProvider.Deliveries
			if got != nil {
				g := *got
				switch {
				case stored != nil && sameHealth(stored, &g):
					// Nothing new: nothing changed, checkedAt included.
					if diff := cmp.Diff(stored, got); diff != "" {
						t.Errorf("a read that found nothing new changed status (-stored +got):\n%s", diff)
					}
				case len(api.calls) > 1 && (g.CheckedAt == nil || g.CheckedAt.Time.Before(created.Add(time.Minute))):
					t.Errorf("checkedAt %v, want the read's time rounded up", g.CheckedAt)
				}
				g.CheckedAt = nil
				got = &g
			}
			want := tc.want
			if want != nil {
				w := *want
				want = &w
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("deliveries (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDeliveryHealthReadOncePerPoll: a minute of polls every 10 s costs
// one stats call per delivery poll, the checkedAt a restart finds in
// status included.
func TestDeliveryHealthReadOncePerPoll(t *testing.T) {
	api := newAPI(webhookRemote(streamID))
	es := webhookES("bearer", withStream(streamID))
	e, kube, _ := setup(t, api, es, hookSecret(token))
	e.deliveryPoll = 30 * time.Second
	now := created.Add(time.Minute)
	e.now = func() time.Time { return now }
	for range 7 {
		// Each poll starts from what the API server holds, as after a restart.
		cr := &v1alpha1.EventStream{}
		if err := kube.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: es.Name}, cr); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Observe(context.Background(), cr); err != nil {
			t.Fatal(err)
		}
		if err := kube.Status().Update(context.Background(), cr); err != nil {
			t.Fatal(err)
		}
		now = now.Add(10 * time.Second)
	}
	n := 0
	for _, c := range api.calls {
		if strings.HasPrefix(c, "STATS") {
			n++
		}
	}
	// Polls at 0, 10, …, 60 s: reads at 0, 30 and 60 s.
	if n != 3 {
		t.Errorf("%d stats calls in 60 s at --delivery-poll 30s, want 3: %v", n, api.calls)
	}
}

func withAnnotation(k, v string) esOption {
	return func(es *v1alpha1.EventStream) {
		if es.Annotations == nil {
			es.Annotations = map[string]string{}
		}
		es.Annotations[k] = v
	}
}

func TestDeliveryActions(t *testing.T) {
	get := "GET " + streamID
	cases := map[string]struct {
		es      *v1alpha1.EventStream
		remote  func(*fakeAPI)
		calls   []string
		outcome string
		msg     string
		event   event.Type
	}{
		"TestEvent": {
			es:    webhookES("bearer", withStream(streamID), withAnnotation(AnnotationSendTestEvent, "user.created#1")),
			calls: []string{get, "TEST " + streamID + " user.created"}, outcome: v1alpha1.ActionAccepted, msg: "evt_cccccccccccccccccccccc", event: event.TypeNormal,
		},
		"TestEventAlreadyPerformed": {
			es: webhookES("bearer", withStream(streamID), withAnnotation(AnnotationSendTestEvent, "user.created#1"),
				func(es *v1alpha1.EventStream) {
					es.Status.DeliveryActions = map[string]string{AnnotationSendTestEvent: "user.created#1"}
				}),
			calls: []string{get},
		},
		"TestEventOfUnsubscribedType": {
			es:    webhookES("bearer", withStream(streamID), withAnnotation(AnnotationSendTestEvent, "user.deleted")),
			calls: []string{get}, outcome: v1alpha1.ActionRefused, msg: "not subscribed to user.deleted", event: event.TypeWarning,
		},
		"TestEventOfNoType": {
			es:    webhookES("bearer", withStream(streamID), withAnnotation(AnnotationSendTestEvent, "yes")),
			calls: []string{get}, outcome: v1alpha1.ActionRefused, msg: `"yes" is not an Auth0 event type`, event: event.TypeWarning,
		},
		"TestEventRefusedByAuth0": {
			es:     webhookES("bearer", withStream(streamID), withAnnotation(AnnotationSendTestEvent, "user.created")),
			remote: func(f *fakeAPI) { f.err["TEST"] = &apiError{400, "bad token " + token} },
			calls:  []string{get, "TEST " + streamID + " user.created"}, outcome: v1alpha1.ActionFailed, msg: "bad token [redacted]", event: event.TypeWarning,
		},
		"Redeliver": {
			es:    webhookES("bearer", withStream(streamID), withAnnotation(AnnotationRedeliver, "failed#2")),
			calls: []string{get, "REDELIVER " + streamID}, outcome: v1alpha1.ActionAccepted, msg: "redelivery", event: event.TypeNormal,
		},
		"RedeliverWhat": {
			es:    webhookES("bearer", withStream(streamID), withAnnotation(AnnotationRedeliver, "all")),
			calls: []string{get}, outcome: v1alpha1.ActionRefused, msg: "failed[#anything]", event: event.TypeWarning,
		},
		"ObserveOnly": {
			es: webhookES("bearer", withStream(streamID), withAnnotation(AnnotationRedeliver, "failed"),
				func(es *v1alpha1.EventStream) {
					es.SetManagementPolicies(xpv2.ManagementPolicies{xpv2.ManagementActionObserve})
				}),
			calls: []string{get}, outcome: v1alpha1.ActionRefused, msg: "only observes", event: event.TypeWarning,
		},
		"Disabled": {
			es:     webhookES("bearer", withStream(streamID), withAnnotation(AnnotationSendTestEvent, "user.created")),
			remote: func(f *fakeAPI) { f.streams[streamID].Status = new("disabled") },
			calls:  []string{get}, outcome: v1alpha1.ActionRefused, msg: "disabled in Auth0", event: event.TypeWarning,
		},
		"InterruptedBefore": {
			es: webhookES("bearer", withStream(streamID), withAnnotation(AnnotationRedeliver, "failed#1"),
				func(es *v1alpha1.EventStream) {
					es.Status.DeliveryActions = map[string]string{AnnotationRedeliver: "failed#1"}
					es.Status.AtProvider.Deliveries = &v1alpha1.DeliveriesObservation{LastAction: &v1alpha1.DeliveryAction{
						Annotation: AnnotationRedeliver, Value: "failed#1", Outcome: v1alpha1.ActionPending,
					}}
				}),
			calls: []string{get}, outcome: v1alpha1.ActionUnknown, msg: "not repeated",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			api := newAPI(webhookRemote(streamID))
			if tc.remote != nil {
				tc.remote(api)
			}
			e, kube, rec := setup(t, api, tc.es, hookSecret(token))
			// Whatever is performed is recorded in the API server first.
			api.onAction = func() {
				stored := &v1alpha1.EventStream{}
				if err := kube.Get(context.Background(), client.ObjectKeyFromObject(tc.es), stored); err != nil {
					t.Fatal(err)
				}
				for _, k := range []string{AnnotationSendTestEvent, AnnotationRedeliver} {
					v := tc.es.Annotations[k]
					if v == "" {
						continue
					}
					if stored.Status.DeliveryActions[k] != v {
						t.Errorf("when Auth0 was called, status.deliveryActions[%s] = %q, want %q recorded first", k, stored.Status.DeliveryActions[k], v)
					}
				}
			}
			if _, err := e.Observe(context.Background(), tc.es); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.calls, api.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			var last *v1alpha1.DeliveryAction
			if d := tc.es.Status.AtProvider.Deliveries; d != nil {
				last = d.LastAction
			}
			if tc.outcome == "" {
				if last != nil {
					t.Errorf("lastAction %+v, want none", last)
				}
				return
			}
			if last == nil || last.Outcome != tc.outcome || !strings.Contains(last.Message, tc.msg) {
				t.Fatalf("lastAction %+v, want outcome %s with %q", last, tc.outcome, tc.msg)
			}
			if strings.Contains(last.Message, token) {
				t.Errorf("lastAction holds the token: %q", last.Message)
			}
			if tc.event != "" {
				if len(rec.events) != 1 || rec.events[0].Type != tc.event || !strings.Contains(rec.events[0].Message, tc.msg) {
					t.Errorf("events %+v, want one %s event with %q", rec.events, tc.event, tc.msg)
				}
			}
			// Performed or not, the value is never tried again.
			api.calls = nil
			rec.events = nil
			if _, err := e.Observe(context.Background(), tc.es); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{get}, api.calls); diff != "" {
				t.Errorf("second observe calls (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSteadyStateWritesNothing: polls of a converged, healthy stream over
// several delivery polls, while Auth0 delivers events, leave the
// EventStream as stored: a write would move its resourceVersion, and the
// composite's and claim's through the function. A failure, then a stream
// disabled out of band, are written at the next read.
func TestSteadyStateWritesNothing(t *testing.T) {
	api := newAPI(webhookRemote(streamID))
	api.stats = auth0client.DeliveryStats{Successful: 5}
	es := webhookES("bearer", withStream(streamID))
	e, kube, _ := setup(t, api, es, hookSecret(token))
	e.deliveryPoll = 30 * time.Second
	now := created.Add(time.Hour)
	e.now = func() time.Time { return now }
	key := client.ObjectKeyFromObject(es)

	// poll is one reconcile as the managed reconciler makes it: Observe
	// the stored object, then write its status when it changed.
	poll := func() (changed string) {
		t.Helper()
		stored := &v1alpha1.EventStream{}
		if err := kube.Get(context.Background(), key, stored); err != nil {
			t.Fatal(err)
		}
		cr := stored.DeepCopy()
		if _, err := e.Observe(context.Background(), cr); err != nil {
			t.Fatal(err)
		}
		after := &v1alpha1.EventStream{}
		if err := kube.Get(context.Background(), key, after); err != nil {
			t.Fatal(err)
		}
		if after.ResourceVersion != stored.ResourceVersion {
			changed = "Observe wrote the EventStream's metadata"
			stored.ObjectMeta = after.ObjectMeta
		}
		cr.ResourceVersion = after.ResourceVersion
		if diff := cmp.Diff(stored, cr); diff != "" || changed != "" {
			if err := kube.Status().Update(context.Background(), cr); err != nil {
				t.Fatal(err)
			}
			return changed + diff
		}
		return ""
	}
	stats := func() int {
		n := 0
		for _, c := range api.calls {
			if strings.HasPrefix(c, "STATS") {
				n++
			}
		}
		return n
	}

	if poll() == "" {
		t.Fatal("the first read of delivery health wrote nothing")
	}
	// Four delivery polls of 10 s polls, events delivered all along.
	for i := range 12 {
		now = now.Add(10 * time.Second)
		api.stats.Successful += 3
		if diff := poll(); diff != "" {
			t.Fatalf("steady poll %d changed the EventStream (-stored +reconciled):\n%s", i, diff)
		}
	}
	if n := stats(); n != 5 {
		t.Errorf("%d stats reads in 2 minutes at --delivery-poll 30s, want 5 (health is still read)", n)
	}

	// A failure is a fact: written at the next read.
	api.stats.Failed = 1
	api.failed = []auth0client.FailedDelivery{{EventType: "user.created", At: now, ErrorMessage: "503 from endpoint"}}
	now = now.Add(30 * time.Second)
	if poll() == "" {
		t.Error("a new failed delivery was not written")
	}
	if c := deliveriesCond(readES(t, kube, key)); c.Status != corev1.ConditionFalse {
		t.Errorf("DeliveriesHealthy %s after a failure, want False", c.Status)
	}
	now = now.Add(10 * time.Second)
	if diff := poll(); diff != "" {
		t.Errorf("the same failure, read again, changed the EventStream:\n%s", diff)
	}
	// So is a stream disabled out of band, at the next poll.
	api.streams[streamID].Status = new(v1alpha1.StreamStatusDisabled)
	now = now.Add(10 * time.Second)
	if poll() == "" {
		t.Error("a stream disabled in Auth0 was not written")
	}
}

func readES(t *testing.T, kube client.Client, key client.ObjectKey) *v1alpha1.EventStream {
	t.Helper()
	es := &v1alpha1.EventStream{}
	if err := kube.Get(context.Background(), key, es); err != nil {
		t.Fatal(err)
	}
	return es
}

// TestDeliveryReadsAfterRestart: a process that has not read a stream yet
// honours a stored checkedAt younger than the poll, and otherwise reads it
// once within the next poll, at an offset of its own, not all at once.
func TestDeliveryReadsAfterRestart(t *testing.T) {
	const poll = time.Minute
	t0 := created.Add(time.Hour)
	old := t0.Add(-time.Hour)
	offsets := map[time.Duration]bool{}
	for _, uid := range []types.UID{"uid-1", "uid-2", "uid-3", "uid-4"} {
		r := newDeliveryReads(0)
		first := time.Duration(-1)
		for at := time.Duration(0); at <= poll; at += time.Second {
			if dueNow(r, uid, streamID, &old, t0.Add(at), poll) {
				first = at
				break
			}
		}
		// Polled every second: the first poll at or after its offset.
		if off := spread(uid, poll); first < off || first >= off+time.Second {
			t.Errorf("%s first read %v after the restart, want %v (within one poll)", uid, first, spread(uid, poll))
		}
		offsets[first] = true
	}
	if len(offsets) < 2 {
		t.Errorf("every stream read at the same offset after a restart: %v", offsets)
	}

	r := newDeliveryReads(0)
	recent := t0.Add(-poll / 2)
	if dueNow(r, "uid-1", streamID, &recent, t0, poll) {
		t.Error("read again although status says it was read half a poll ago")
	}
	if !dueNow(r, "uid-1", streamID, &recent, t0.Add(poll/2), poll) {
		t.Error("not read a poll after status' checkedAt")
	}
	r.read("uid-1", streamID, t0, poll)
	if dueNow(r, "uid-1", streamID, nil, t0.Add(time.Second), poll) {
		t.Error("read again within the poll although nothing is stored (the last read failed)")
	}
	// A new stream's observation has no checkedAt (resetAtProvider).
	if !dueNow(r, "uid-1", streamID2, nil, t0.Add(time.Second), poll) {
		t.Error("a new stream of the resource was not read at once")
	}
}

func dueNow(r *deliveryReads, uid types.UID, stream string, stored *time.Time, now time.Time, poll time.Duration) bool {
	_, ok := r.due(uid, stream, stored, now, poll)
	return ok
}
