package eventstream

import (
	"hash/fnv"
	"sync"
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
)

// Freshness of delivery health lives here, not in status: a stored
// timestamp moved by every read would write the EventStream, and through
// the function the composite and claim, at every delivery poll while
// nothing changed.
var (
	deliveryReadsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{ //nolint:gochecknoglobals // Prometheus collectors are registered once per process.
		Name: "auth0_eventstream_delivery_health_reads_total",
		Help: "Delivery-health reads from Auth0, by outcome: unchanged (nothing stored), changed (status written), failed.",
	}, []string{"outcome"})
	deliveryReadInterval = prometheus.NewHistogram(prometheus.HistogramOpts{ //nolint:gochecknoglobals // Prometheus collectors are registered once per process.
		Name:    "auth0_eventstream_delivery_health_read_interval_seconds",
		Help:    "Time between two delivery-health reads of the same stream by this provider process: how fresh delivery health is.",
		Buckets: prometheus.ExponentialBuckets(15, 2, 10),
	})
)

func init() { //nolint:gochecknoinits // controller-runtime's registry is package-level; our collectors join it once.
	metrics.Registry.MustRegister(deliveryReadsTotal, deliveryReadInterval)
}

// deliveryReads remembers, per EventStream, when this process last read
// its delivery health, so reads keep to one per delivery poll without a
// stored timestamp. Shared by every reconcile of the controller.
type deliveryReads struct {
	mu     sync.Mutex
	last   map[types.UID]readMark
	pruned time.Time
}

// readMark is the last read of a resource's delivery health: when, and of
// which stream (a replaced or recreated stream is read afresh).
type readMark struct {
	at     time.Time
	stream string
}

func newDeliveryReads() *deliveryReads {
	return &deliveryReads{last: map[types.UID]readMark{}}
}

// due says whether delivery health of stream, the resource uid's, is to
// be read at now. stored is status' checkedAt (nil when never read). A
// resource this process has not read yet whose stored read is a poll old or more (after
// a restart: checkedAt moves only when health changes) is read at an
// offset within the next poll derived from its uid, so a restart spreads
// the reads of every stream over one poll instead of sending them at once.
func (r *deliveryReads) due(uid types.UID, stream string, stored *time.Time, now time.Time, poll time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	last, ok := r.last[uid]
	if !ok || last.stream != stream {
		switch {
		case stored == nil:
			return true
		case now.Sub(*stored) < poll:
			last = readMark{at: *stored, stream: stream}
		default:
			last = readMark{at: now.Add(-poll + spread(uid, poll)), stream: stream}
		}
		r.last[uid] = last
	}
	return now.Sub(last.at) >= poll
}

// read records a read of stream's delivery health, the resource uid's, at
// now.
func (r *deliveryReads) read(uid types.UID, stream string, now time.Time, poll time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, ok := r.last[uid]; ok && last.stream == stream && now.After(last.at) {
		deliveryReadInterval.Observe(now.Sub(last.at).Seconds())
	}
	r.last[uid] = readMark{at: now, stream: stream}
	// Forget resources not read for several polls (deleted ones): at most
	// once per poll, so the cost stays one pass per poll.
	if now.Sub(r.pruned) < poll {
		return
	}
	r.pruned = now
	for k, m := range r.last {
		if now.Sub(m.at) > 3*poll {
			delete(r.last, k)
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
