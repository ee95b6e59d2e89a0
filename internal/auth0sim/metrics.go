package auth0sim

import (
	"maps"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type counters struct {
	calls   map[string]map[string]int
	streams map[string]map[string]int
	tokens  int
	// recent are the arrivals of Management API requests within the last
	// second, oldest first; peak is the most there ever were.
	recent []time.Time
	peak   int
	// spent counts answers that left the rate limit spent.
	spent int
}

func newCounters() counters {
	return counters{calls: map[string]map[string]int{}, streams: map[string]map[string]int{}}
}

// Counters are the calls the simulator answered, by endpoint (the route,
// such as "GET /api/v2/event-streams/{id}") and outcome (the status code,
// or "hung" / "lost" for injected faults), and the tokens it issued.
// Streams are the same calls by the stream they named (the path's id, or
// for a create, the id of the stream it made) and endpoint, whatever their
// outcome: tests running side by side each look at their own streams.
type Counters struct {
	Calls        map[string]map[string]int `json:"calls"`
	Streams      map[string]map[string]int `json:"streams,omitempty"`
	TokensIssued int                       `json:"tokens_issued"`
	// PeakPerSecond is the most Management API requests that arrived
	// within any one second (a sliding window), rate-limited ones
	// included: what a tenant's rate limit sees of its clients.
	PeakPerSecond int `json:"peak_per_second"`
	// LimitSpent counts answers that said the rate limit was spent
	// (x-ratelimit-remaining: 0), 429s included: a client honouring the
	// headers waits for x-ratelimit-reset instead of earning 429s.
	LimitSpent int `json:"limit_spent"`
}

// Get returns the number of calls to endpoint with outcome.
func (c Counters) Get(endpoint, outcome string) int { return c.Calls[endpoint][outcome] }

// Total returns the number of calls to endpoint, whatever their outcome.
func (c Counters) Total(endpoint string) int {
	n := 0
	for _, v := range c.Calls[endpoint] {
		n += v
	}
	return n
}

// Counters returns a snapshot of the call and token counters.
func (s *Server) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Counters{Calls: map[string]map[string]int{}, Streams: map[string]map[string]int{}, TokensIssued: s.counters.tokens, PeakPerSecond: s.counters.peak, LimitSpent: s.counters.spent}
	for e, m := range s.counters.calls {
		out.Calls[e] = maps.Clone(m)
	}
	for id, m := range s.counters.streams {
		out.Streams[id] = maps.Clone(m)
	}
	return out
}

// ResetCounters zeroes the in-process counters. Prometheus counters keep
// counting, as counters must.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters = newCounters()
}

// arrive records a Management API request arriving at now, for
// PeakPerSecond; s.mu is held.
func (s *Server) arrive(now time.Time) {
	c := &s.counters
	i := 0
	for i < len(c.recent) && now.Sub(c.recent[i]) >= time.Second {
		i++
	}
	c.recent = append(c.recent[i:], now)
	c.peak = max(c.peak, len(c.recent))
}

func (s *Server) count(endpoint, outcome string) { s.countStream(endpoint, "", outcome) }

// countStream counts a call that named stream id ("" for none).
func (s *Server) countStream(endpoint, id, outcome string) {
	s.mu.Lock()
	inc(s.counters.calls, endpoint, outcome)
	if id != "" {
		inc(s.counters.streams, id, endpoint)
	}
	s.mu.Unlock()
	s.metrics.requests.WithLabelValues(endpoint, outcome).Inc()
}

func inc(m map[string]map[string]int, k1, k2 string) {
	n := m[k1]
	if n == nil {
		n = map[string]int{}
		m[k1] = n
	}
	n[k2]++
}

// metrics are the counters as Prometheus metrics, in a registry of the
// simulator's own so several simulators can run in one process.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	tokens   prometheus.Counter
	streams  prometheus.Gauge
}

func newMetrics(*Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auth0sim_requests_total",
			Help: "Calls answered by the Auth0 simulator, by endpoint and outcome (status code, hung or lost).",
		}, []string{"endpoint", "outcome"}),
		tokens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auth0sim_tokens_issued_total",
			Help: "Access tokens issued by the client-credentials grant.",
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "auth0sim_event_streams",
			Help: "Event streams currently stored.",
		}),
	}
	m.reg.MustRegister(m.requests, m.tokens, m.streams)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// StreamCalls returns the calls to endpoint that named stream id.
func (c Counters) StreamCalls(id, endpoint string) int { return c.Streams[id][endpoint] }
