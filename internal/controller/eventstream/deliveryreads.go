package eventstream

import (
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Outcomes of a delivery-health read, the label of deliveryReadsTotal.
const (
	readUnchanged = "unchanged"
	readChanged   = "changed"
	readFailed    = "failed"
	// readDeferred: the tenant's rate budget had no request to spare, or a
	// staler read of the tenant went first; the read stays due.
	readDeferred = "deferred"
)

// Freshness of delivery health lives here, not in status: a stored
// timestamp moved by every read would write the EventStream, and through
// the function the composite and claim, at every delivery poll while
// nothing changed.
var (
	deliveryReadsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{ //nolint:gochecknoglobals // Prometheus collectors are registered once per process.
		Name: "auth0_eventstream_delivery_health_reads_total",
		Help: "Delivery-health reads from Auth0, by outcome: unchanged (nothing stored), changed (status written), failed, deferred (the tenant's rate budget had no request to spare; the read stays due, nothing is written).",
	}, []string{"outcome"})
	deliveryReadInterval = prometheus.NewHistogram(prometheus.HistogramOpts{ //nolint:gochecknoglobals // Prometheus collectors are registered once per process.
		Name:    "auth0_eventstream_delivery_health_read_interval_seconds",
		Help:    "Time between two delivery-health reads of the same stream by this provider process: how fresh delivery health is.",
		Buckets: prometheus.ExponentialBuckets(15, 2, 10),
	})
)

// overdueReads are the reads the overdue gauge reports on: those of the
// controller Setup made last (one per process).
var overdueReads atomic.Pointer[deliveryReads] //nolint:gochecknoglobals // Read by a collector registered once per process.

var deliveryReadOverdue = prometheus.NewGaugeFunc(prometheus.GaugeOpts{ //nolint:gochecknoglobals // Prometheus collectors are registered once per process.
	Name: "auth0_eventstream_delivery_health_overdue_seconds",
	Help: "How long past its --delivery-poll the stalest delivery-health read the tenant's rate budget deferred is; 0 when none is deferred. Above one delivery poll, a RateBudgetShort event says so on the ProviderConfig.",
}, func() float64 {
	if r := overdueReads.Load(); r != nil {
		return r.mostOverdue(time.Now()).Seconds()
	}
	return 0
})

func init() { //nolint:gochecknoinits // controller-runtime's registry is package-level; our collectors join it once.
	metrics.Registry.MustRegister(deliveryReadsTotal, deliveryReadInterval, deliveryReadOverdue)
}

// deliveryReads remembers, per EventStream, when this process last read
// its delivery health, so reads keep to one per delivery poll without a
// stored timestamp. Shared by every reconcile of the controller.
//
// It also orders the reads the tenant's rate budget defers (see
// auth0client.Budget): stalest first. A read the budget could not spare a
// request for stays due and is marked deferred. While the budget is short
// (it deferred a read of the tenant within the last turn) and a read of the
// tenant has been overdue longer than another by more than turn, the other
// does not try, so the few requests the budget spares go to the streams
// that waited longest. Once the budget has deferred nothing for a turn,
// every due read tries: a backlog is caught up at the budget's pace, not
// one poll's worth of streams per poll.
type deliveryReads struct {
	mu     sync.Mutex
	last   map[types.UID]readMark
	pruned time.Time
	// turn is how much less overdue than its tenant's stalest deferred
	// read a read may be and still try: the controller's poll (with its
	// jitter), since a stream is only tried when it is reconciled, about
	// once a poll.
	turn time.Duration
	// poll is the delivery poll last asked with, for the overdue gauge.
	poll time.Duration
	// reported is when a shortfall was last reported on each
	// ProviderConfig.
	reported map[types.UID]time.Time
	// short is when each tenant's budget last deferred a read.
	short map[string]time.Time
}

// readMark is the last read of a resource's delivery health: when, and of
// which stream (a replaced or recreated stream is read afresh).
type readMark struct {
	at     time.Time
	stream string
	// seen is when the resource last asked whether its read is due: one
	// no longer reconciled (deleted) is forgotten, and stops counting as
	// deferred.
	seen time.Time
	// first: never read; at is a poll before it became due.
	first bool
	// deferred is the tenant whose budget deferred the read, "" when the
	// read is not deferred.
	deferred string
}

// overdue is how long past due the read is at now.
func (m readMark) overdue(now time.Time, poll time.Duration) time.Duration {
	return now.Sub(m.at.Add(poll))
}

func newDeliveryReads(turn time.Duration) *deliveryReads {
	return &deliveryReads{last: map[types.UID]readMark{}, turn: turn, reported: map[types.UID]time.Time{}, short: map[string]time.Time{}}
}

// due says whether delivery health of stream, the resource uid's, is to
// be read at now, and since when. stored is status' checkedAt (nil when
// never read). A resource this process has not read yet whose stored read
// is a poll old or more (after a restart: checkedAt moves only when health
// changes) is read at an offset within the next poll derived from its uid,
// so a restart spreads the reads of every stream over one poll instead of
// sending them at once.
func (r *deliveryReads) due(uid types.UID, stream string, stored *time.Time, now time.Time, poll time.Duration) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.poll = poll
	last, ok := r.last[uid]
	if !ok || last.stream != stream {
		switch {
		case stored == nil:
			last = readMark{at: now.Add(-poll), stream: stream, first: true}
		case now.Sub(*stored) < poll:
			last = readMark{at: *stored, stream: stream}
		default:
			last = readMark{at: now.Add(-poll + spread(uid, poll)), stream: stream}
		}
	}
	last.seen = now
	r.last[uid] = last
	return last.at.Add(poll), now.Sub(last.at) >= poll
}

// live is whether m still counts as a deferred read at now: its resource
// asked within two turns (or polls).
func (r *deliveryReads) live(m readMark, now time.Time, poll time.Duration) bool {
	return m.deferred != "" && now.Sub(m.seen) <= 2*max(r.turn, poll)
}

// mayTry says whether the read of uid, due since since, may try the
// tenant's budget now: the budget deferred no read of the tenant within the
// last turn, or no other deferred read of the tenant has been due longer by
// more than turn.
func (r *deliveryReads) mayTry(tenant string, uid types.UID, since, now time.Time, poll time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, ok := r.short[tenant]; !ok || now.Sub(last) > max(r.turn, poll) {
		return true
	}
	for k, m := range r.last {
		if k != uid && m.deferred == tenant && r.live(m, now, poll) && m.at.Add(poll).Before(since.Add(-r.turn)) {
			return false
		}
	}
	return true
}

// shortfall is what the deferred reads of a tenant say about its budget.
type shortfall struct {
	// deferred is how many reads of the tenant are deferred, and overdue
	// how long the stalest of them is past due.
	deferred int
	overdue  time.Duration
}

// deferRead records that the read of uid could not be made at now, by the
// budget or to let a staler read go first: it stays due. It returns the
// tenant's shortfall.
func (r *deliveryReads) deferRead(tenant string, uid types.UID, byBudget bool, now time.Time, poll time.Duration) shortfall {
	r.mu.Lock()
	defer r.mu.Unlock()
	if byBudget {
		r.short[tenant] = now
	}
	if m, ok := r.last[uid]; ok {
		m.deferred = tenant
		r.last[uid] = m
	}
	var s shortfall
	for _, m := range r.last {
		if m.deferred != tenant || !r.live(m, now, poll) {
			continue
		}
		s.deferred++
		s.overdue = max(s.overdue, m.overdue(now, poll))
	}
	return s
}

// report says whether a shortfall is to be reported on the ProviderConfig
// uid at now: at most once per every.
func (r *deliveryReads) report(uid types.UID, now time.Time, every time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, ok := r.reported[uid]; ok && now.Sub(last) < every {
		return false
	}
	r.reported[uid] = now
	return true
}

// mostOverdue is how long the stalest deferred read is past due now, 0
// when none is deferred.
func (r *deliveryReads) mostOverdue(now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var most time.Duration
	for _, m := range r.last {
		if r.live(m, now, r.poll) {
			most = max(most, m.overdue(now, r.poll))
		}
	}
	return most
}

// read records a read of stream's delivery health, the resource uid's, at
// now.
func (r *deliveryReads) read(uid types.UID, stream string, now time.Time, poll time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, ok := r.last[uid]; ok && last.stream == stream && !last.first && now.After(last.at) {
		deliveryReadInterval.Observe(now.Sub(last.at).Seconds())
	}
	r.last[uid] = readMark{at: now, stream: stream, seen: now}
	// Forget resources that stopped asking several polls ago (deleted
	// ones): at most once per poll, so the cost stays one pass per poll.
	if now.Sub(r.pruned) < poll {
		return
	}
	r.pruned = now
	forget := 3 * max(poll, r.turn)
	for k, m := range r.last {
		if now.Sub(m.seen) > forget {
			delete(r.last, k)
		}
	}
	for k, t := range r.reported {
		if now.Sub(t) > forget {
			delete(r.reported, k)
		}
	}
	for k, t := range r.short {
		if now.Sub(t) > forget {
			delete(r.short, k)
		}
	}
}

// spread is uid's offset in [0, poll).
func spread(uid types.UID, poll time.Duration) time.Duration {
	if poll <= 0 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(uid))
	return time.Duration(h.Sum64() % uint64(poll)) //nolint:gosec // poll is positive.
}
