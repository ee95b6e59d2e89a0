package auth0client

import (
	"net/http"
	"regexp"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Outcomes of an Auth0 call, the values of the outcome label.
const (
	OutcomeSuccess     = "success"
	OutcomeNotFound    = "not_found"
	OutcomeRateLimited = "rate_limited"
	OutcomeClientError = "client_error"
	OutcomeServerError = "server_error"
	OutcomeTransport   = "transport_error"
)

// Metrics counts every HTTP attempt the provider makes to Auth0 (retries
// included) and every access token it fetches.
type Metrics struct {
	Calls        *prometheus.CounterVec
	TokenFetches *prometheus.CounterVec
	// The rate budget per tenant (budget.go).
	BudgetWait     prometheus.Histogram
	BudgetDeferred prometheus.Counter
	BudgetHolds    *prometheus.CounterVec
	BudgetPeak     prometheus.Gauge

	peakMu sync.Mutex
	peak   int
}

// NewMetrics returns unregistered counters.
func NewMetrics() *Metrics {
	return &Metrics{
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auth0_api_calls_total",
			Help: "HTTP requests the provider sent to the Auth0 Management API, by endpoint and outcome. Retries count separately.",
		}, []string{"endpoint", "outcome"}),
		TokenFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auth0_token_fetches_total",
			Help: "Client-credentials access tokens the provider requested from Auth0, by outcome.",
		}, []string{"outcome"}),
		BudgetWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "auth0_rate_budget_wait_seconds",
			Help:    "How long foreground Auth0 requests (observations, writes) that had to wait waited for their tenant's rate budget (--auth0-rate-budget) or its x-ratelimit-reset.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 8),
		}),
		BudgetDeferred: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auth0_rate_budget_deferred_total",
			Help: "Background Auth0 requests (delivery-health reads) not sent because their tenant's rate budget had none to spare; each is tried again at a later reconcile.",
		}),
		BudgetHolds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auth0_rate_budget_holds_total",
			Help: "Times an Auth0 answer held every request to its tenant until x-ratelimit-reset (at most a minute), by reason: rate_limited (a 429) or remaining_zero (x-ratelimit-remaining: 0).",
		}, []string{"reason"}),
		BudgetPeak: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "auth0_rate_budget_peak_requests_per_second",
			Help: "The most Management API requests the provider sent one tenant within any one second since it started: at most --auth0-rate-budget.",
		}),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.Calls.Describe(ch)
	m.TokenFetches.Describe(ch)
	m.BudgetWait.Describe(ch)
	m.BudgetDeferred.Describe(ch)
	m.BudgetHolds.Describe(ch)
	m.BudgetPeak.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.Calls.Collect(ch)
	m.TokenFetches.Collect(ch)
	m.BudgetWait.Collect(ch)
	m.BudgetDeferred.Collect(ch)
	m.BudgetHolds.Collect(ch)
	m.BudgetPeak.Collect(ch)
}

// notePeak raises BudgetPeak to n requests in one second.
func (m *Metrics) notePeak(n int) {
	m.peakMu.Lock()
	defer m.peakMu.Unlock()
	if n > m.peak {
		m.peak = n
		m.BudgetPeak.Set(float64(n))
	}
}

// outcome classifies a response for the outcome label.
func outcome(code int) string {
	switch {
	case code == http.StatusNotFound:
		return OutcomeNotFound
	case code == http.StatusTooManyRequests:
		return OutcomeRateLimited
	case code >= 500:
		return OutcomeServerError
	case code >= 400:
		return OutcomeClientError
	default:
		return OutcomeSuccess
	}
}

// ids in paths are replaced so the endpoint label stays low-cardinality.
var pathID = regexp.MustCompile(`/event-streams/[^/]+`)

// Endpoint is the endpoint label of a request: method and path template,
// e.g. "GET /api/v2/event-streams/{id}".
func Endpoint(r *http.Request) string {
	return r.Method + " " + pathID.ReplaceAllString(r.URL.Path, "/event-streams/{id}")
}

// instrumented counts each round trip. It sits below go-auth0's retrying
// transport, so every attempt is counted.
type instrumented struct {
	base    http.RoundTripper
	metrics *Metrics
}

func (t instrumented) RoundTrip(r *http.Request) (*http.Response, error) {
	rsp, err := t.base.RoundTrip(r)
	o := OutcomeTransport
	if err == nil {
		o = outcome(rsp.StatusCode)
	}
	if r.URL.Path == "/oauth/token" {
		t.metrics.TokenFetches.WithLabelValues(o).Inc()
	} else {
		t.metrics.Calls.WithLabelValues(Endpoint(r), o).Inc()
	}
	return rsp, err
}

// CallCount sums the calls counted for an endpoint across outcomes; tests
// and benchmarks use it.
func (m *Metrics) CallCount(endpoint string) int {
	return sumVec(m.Calls, func(labels map[string]string) bool { return endpoint == "" || labels["endpoint"] == endpoint })
}

// TokenFetchCount is the number of token requests sent.
func (m *Metrics) TokenFetchCount() int {
	return sumVec(m.TokenFetches, func(map[string]string) bool { return true })
}

func sumVec(v *prometheus.CounterVec, match func(map[string]string) bool) int {
	ch := make(chan prometheus.Metric, 64)
	go func() { v.Collect(ch); close(ch) }()
	total := 0.0
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			continue
		}
		labels := map[string]string{}
		for _, l := range pb.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if match(labels) {
			total += pb.GetCounter().GetValue()
		}
	}
	return int(total)
}
