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
	}{
		"NewStreamReadAPollAfterCreation": {
			// Created a minute ago (the fake Auth0's created_at): nothing to read yet.
			poll: 5 * time.Minute, es: webhookES("bearer", withStream(streamID)),
			calls: []string{get}, status: corev1.ConditionUnknown, reason: reasonNotChecked, msg: []string{"after the stream was created"},
		},
		"NeverCheckedHealthy": {
			poll: time.Minute, es: webhookES("bearer", withStream(streamID)),
			api:   func(f *fakeAPI) { f.stats = auth0client.DeliveryStats{Successful: 12} },
			calls: []string{get, stats}, status: corev1.ConditionTrue, reason: reasonDelivering, msg: []string{"12 delivered"},
			want: &v1alpha1.DeliveriesObservation{Successful24h: 12},
		},
		"CheckedWithinThePollCostsNothing": {
			poll: 5 * time.Minute, es: webhookES("bearer", withStream(streamID), checkedAgo(4*time.Minute+59*time.Second)),
			calls: []string{get}, status: corev1.ConditionUnknown, reason: reasonNotChecked,
			want: &v1alpha1.DeliveriesObservation{Failed24h: 7},
		},
		"FailuresListedMostRecentKept": {
			poll: 5 * time.Minute, es: webhookES("bearer", withStream(streamID), checkedAgo(5*time.Minute)),
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
			want: &v1alpha1.DeliveriesObservation{},
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
				if len(api.calls) > 1 && (g.CheckedAt == nil || g.CheckedAt.Time.Before(created.Add(time.Minute))) {
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
