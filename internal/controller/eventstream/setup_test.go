package eventstream

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func TestLowPriorityPolls(t *testing.T) {
	low := handler.LowPriority
	cases := map[string]struct {
		res  reconcile.Result
		err  error
		want *int
	}{
		"poll after success":   {res: reconcile.Result{RequeueAfter: time.Minute}, want: &low},
		"requeue after change": {res: reconcile.Result{Requeue: true}}, //nolint:staticcheck // crossplane-runtime's managed reconciler still answers Requeue: true.
		"error":                {res: reconcile.Result{RequeueAfter: time.Minute}, err: errors.New("boom")},
		"done":                 {},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := lowPriorityPolls(reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) { return tc.res, tc.err }))
			got, _ := r.Reconcile(context.Background(), reconcile.Request{})
			if (got.Priority == nil) != (tc.want == nil) || (got.Priority != nil && *got.Priority != *tc.want) {
				t.Errorf("Priority = %v, want %v", got.Priority, tc.want)
			}
		})
	}
}

// TestPollsDoNotStarveEvents shows the queue behaviour lowPriorityPolls
// relies on: with a backlog of due polls at low priority, an event (a new
// EventStream, a rotated Secret) is served first, and an event for a stream
// whose poll is waiting makes it due at once.
func TestPollsDoNotStarveEvents(t *testing.T) {
	q := priorityqueue.New[reconcile.Request]("test")
	defer q.ShutDown()
	req := func(n string) reconcile.Request {
		return reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: n}}
	}
	low := handler.LowPriority
	for _, n := range []string{"poll-1", "poll-2", "poll-3"} {
		q.AddWithOpts(priorityqueue.AddOpts{Priority: &low}, req(n))
	}
	q.AddWithOpts(priorityqueue.AddOpts{Priority: &low, After: time.Hour}, req("rotated"))
	q.Add(req("created"))
	q.Add(req("rotated")) // its Secret changed: no longer waits an hour
	var got []string
	for range 5 {
		item, _, _ := q.GetWithPriority()
		got = append(got, item.Name)
		q.Done(item)
	}
	if got[0] != "created" || got[1] != "rotated" {
		t.Errorf("served %v; want the new stream and the rotated Secret's stream before the due polls", got)
	}
}

func TestWaitForRate(t *testing.T) {
	calls := 0
	inner := reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) {
		calls++
		return reconcile.Result{}, nil
	})
	// One reconcile now, the next in an hour.
	r := waitForRate(inner, rate.NewLimiter(rate.Every(time.Hour), 1))
	if _, err := r.Reconcile(context.Background(), reconcile.Request{}); err != nil || calls != 1 {
		t.Fatalf("first reconcile: err %v, %d calls; want it let through", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := r.Reconcile(ctx, reconcile.Request{})
	if err == nil || calls != 1 {
		t.Errorf("over the rate: err %v, %d calls; want an error and no reconcile", err, calls)
	}
	if res.RequeueAfter != 0 {
		t.Errorf("over the rate: RequeueAfter %s; want the request to wait, not to reserve a later slot", res.RequeueAfter)
	}
	if got := reconcileRate(0, 7).Limit(); got != 7 {
		t.Errorf("reconcileRate(0, 7) = %v/s, want the fallback 7", got)
	}
}
