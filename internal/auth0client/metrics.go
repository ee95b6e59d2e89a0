package auth0client

import (
	"net/http"
	"regexp"

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
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.Calls.Describe(ch)
	m.TokenFetches.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.Calls.Collect(ch)
	m.TokenFetches.Collect(ch)
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
