// Package auth0sim is a local stand-in for the part of the Auth0 Management
// API this project uses: client-credentials tokens and event streams. It
// behaves like Auth0 where recorded traffic shows how Auth0 behaves, and
// takes the stricter reading where it does not (see README.md).
package auth0sim

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Faults are failures the simulator injects into Management API calls
// (/api/v2/...). Rates are probabilities in [0,1] per request.
type Faults struct {
	// ErrorRate answers 500 or 503 (half each) before the call has any effect.
	ErrorRate float64
	// Latency is added to every call.
	Latency time.Duration
	// HangRate makes a call hang until the client gives up or the server
	// closes.
	HangRate float64
	// LostResponseRate commits a write (POST, PATCH, DELETE), then drops the
	// connection before the answer is sent.
	LostResponseRate float64
}

// Options configure a simulator.
type Options struct {
	// Domain is the tenant domain used in aws_partner_event_source, event
	// sources and a0tenant; default "sim-tenant".
	Domain string
	// Clients maps client id to client secret for the client-credentials
	// grant.
	Clients map[string]string
	// TokenTTL is the lifetime of issued tokens; default 24h (Auth0's
	// expires_in of 86400).
	TokenTTL time.Duration
	// RateLimit is the per-tenant token-bucket rate in requests per second
	// for /api/v2; 0 means unlimited. Burst is the bucket size (default
	// ceil(RateLimit)).
	RateLimit float64
	Burst     int
	// Faults to inject from the start; change them later with SetFaults.
	Faults Faults
	// DeliveryBackoff is the base delay between delivery attempts of a test
	// event; attempts happen at +0, +1, +3 and +7 times it, like Auth0's
	// 1s/2s/4s backoff. Default 1s.
	DeliveryBackoff time.Duration
	// Now is the clock; default time.Now. Tests use it to move time without
	// sleeping.
	Now func() time.Time
}

// DefaultDomain is the tenant name used when Options.Domain is empty.
const DefaultDomain = "sim-tenant"

// Server is the simulator as an http.Handler: the Management API, the
// token endpoint, the admin API under /__sim/ and Prometheus metrics under
// /metrics.
type Server struct {
	opts Options
	now  func() time.Time
	mux  *http.ServeMux
	done chan struct{}
	once sync.Once

	mu         sync.Mutex
	streams    map[string]*Stream
	order      []string         // stream ids in creation order
	seqs       map[string]int64 // creation sequence, for list checkpoints
	nextSeq    int64
	deliveries map[string][]*Delivery
	outcomes   map[string]DeliveryOutcome
	tokens     map[string]tokenInfo
	faults     Faults
	scripted   ScriptedFaults
	bucket     *bucket
	counters   counters

	metrics *metrics
}

// New returns a simulator with empty state.
func New(opts Options) *Server {
	if opts.Domain == "" {
		opts.Domain = DefaultDomain
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 24 * time.Hour
	}
	if opts.DeliveryBackoff <= 0 {
		opts.DeliveryBackoff = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Clients == nil {
		opts.Clients = map[string]string{}
	}
	s := &Server{
		opts:       opts,
		now:        opts.Now,
		done:       make(chan struct{}),
		streams:    map[string]*Stream{},
		seqs:       map[string]int64{},
		deliveries: map[string][]*Delivery{},
		outcomes:   map[string]DeliveryOutcome{},
		tokens:     map[string]tokenInfo{},
		faults:     opts.Faults,
		counters:   newCounters(),
	}
	s.bucket = newBucket(opts.RateLimit, opts.Burst, s.now())
	s.metrics = newMetrics(s)
	s.routes()
	return s
}

// Close releases hung requests. It does not stop any listener; see
// Running.Close.
func (s *Server) Close() { s.once.Do(func() { close(s.done) }) }

// Domain is the tenant domain of this simulator.
func (s *Server) Domain() string { return s.opts.Domain }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	api := map[string]apiHandler{
		"GET /api/v2/event-streams":                            s.listStreams,
		"POST /api/v2/event-streams":                           s.createStream,
		"GET /api/v2/event-streams/{id}":                       s.readStream,
		"PATCH /api/v2/event-streams/{id}":                     s.updateStream,
		"DELETE /api/v2/event-streams/{id}":                    s.deleteStream,
		"POST /api/v2/event-streams/{id}/test":                 s.testEvent,
		"GET /api/v2/event-streams/{id}/deliveries":            s.listDeliveries,
		"GET /api/v2/event-streams/{id}/deliveries/{event_id}": s.readDelivery,
		"POST /api/v2/event-streams/{id}/redeliver":            s.redeliverMany,
		"POST /api/v2/event-streams/{id}/redeliver/{event_id}": s.redeliverOne,
		"GET /api/v2/event-streams/{id}/stats":                 s.stats,
		"/api/v2/":                                             s.notFound,
	}
	for pattern, h := range api {
		s.mux.Handle(pattern, s.managementAPI(pattern, h))
	}
	s.mux.Handle("POST /oauth/token", s.counted("POST /oauth/token", http.HandlerFunc(s.token)))
	s.mux.Handle("/oauth/token", s.counted("/oauth/token", apiHandler(s.notFound)))
	s.adminRoutes()
	s.mux.Handle("GET /metrics", s.metrics.handler())
}

func (s *Server) notFound(http.ResponseWriter, *http.Request) *apiError {
	return errNotFound("Not Found")
}

// apiHandler answers a request itself or returns the error to answer with,
// so handlers need not write each error out.
type apiHandler func(http.ResponseWriter, *http.Request) *apiError

func (h apiHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if aerr := h(w, r); aerr != nil {
		writeError(w, aerr)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v != nil {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false) // Auth0 sends & < > as they are
		_ = enc.Encode(v)        //nolint:errchkjson // The status is sent; a client gone mid-body is not ours to answer.
	}
}

func writeError(w http.ResponseWriter, e *apiError) { writeJSON(w, e.StatusCode, e) }

// bufferedWriter holds a handler's answer so the simulator can still decide
// to lose it after the change is committed.
type bufferedWriter struct {
	header http.Header
	status int
	body   []byte
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	b.body = append(b.body, p...)
	return len(p), nil
}

func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

// statusWriter remembers the status an unbuffered handler wrote.
type statusWriter struct {
	http.ResponseWriter

	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// counted counts calls to an endpoint by outcome.
func (s *Server) counted(endpoint string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		s.count(endpoint, strconv.Itoa(sw.status))
	})
}

// Outcomes besides HTTP status codes.
const (
	OutcomeHung = "hung"
	OutcomeLost = "lost"
)

// managementAPI wraps a Management API handler with what Auth0 (and the
// fault injection) put in front of it: latency, hangs, the rate limit,
// bearer-token checks, injected errors and lost responses.
func (s *Server) managementAPI(endpoint string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		count := func(outcome string) { s.countStream(endpoint, id, outcome) }
		// Take in the whole request before deciding anything, as Auth0's
		// front end does: answering a retried client mid-upload makes it
		// resend a half-read body.
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			count(strconv.Itoa(http.StatusBadRequest))
			writeError(w, errBadRequest("invalid_body", "Invalid request payload JSON format"))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.mu.Lock()
		s.arrive(s.now())
		f := s.faults
		hang := useOne(&s.scripted.Hangs)
		s.mu.Unlock()
		if f.Latency > 0 {
			t := time.NewTimer(f.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			case <-s.done:
				t.Stop()
			}
		}
		if hang || roll(f.HangRate) {
			count(OutcomeHung)
			select {
			case <-r.Context().Done():
			case <-s.done:
			}
			panic(http.ErrAbortHandler)
		}
		if aerr := s.limit(w); aerr != nil {
			count(strconv.Itoa(aerr.StatusCode))
			writeError(w, aerr)
			return
		}
		if aerr := s.authenticate(r); aerr != nil {
			count(strconv.Itoa(aerr.StatusCode))
			writeError(w, aerr)
			return
		}
		if s.injectError(f.ErrorRate) {
			aerr := &apiError{StatusCode: http.StatusInternalServerError, Err: "Internal Server Error", Message: "Internal Server Error (injected)"}
			if rand.IntN(2) == 1 { //nolint:gosec // Fault injection, not security.
				aerr = &apiError{StatusCode: http.StatusServiceUnavailable, Err: "Service Unavailable", Message: "Service Unavailable (injected)"}
			}
			count(strconv.Itoa(aerr.StatusCode))
			writeError(w, aerr)
			return
		}
		buf := &bufferedWriter{header: http.Header{}}
		h.ServeHTTP(buf, r)
		if buf.status == 0 {
			buf.status = http.StatusOK
		}
		if id == "" && r.Method == http.MethodPost && buf.status == http.StatusCreated {
			id = createdID(buf.body) // counted under the stream it made, answered or not
		}
		if r.Method != http.MethodGet && buf.status < 300 && s.loseResponse(f.LostResponseRate) {
			count(OutcomeLost)
			// Aborting the handler closes the connection (HTTP/1) or resets
			// the stream (HTTP/2) without an answer.
			panic(http.ErrAbortHandler)
		}
		maps.Copy(w.Header(), buf.header)
		w.WriteHeader(buf.status)
		_, _ = w.Write(buf.body)
		count(strconv.Itoa(buf.status))
	})
}

// createdID is the id of the stream a create answered with.
func createdID(body []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &v)
	return v.ID
}

func roll(p float64) bool { return p > 0 && rand.Float64() < p } //nolint:gosec // Fault injection, not security.

// maxBody bounds request bodies.
const maxBody = 1 << 20

// readBody reads a request body of bounded size.
func readBody(r *http.Request) ([]byte, *apiError) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, errBadRequest("invalid_body", "Invalid request payload JSON format")
	}
	if len(b) > maxBody {
		return nil, &apiError{StatusCode: http.StatusRequestEntityTooLarge, Err: "Request Entity Too Large", Message: "Payload content length greater than maximum allowed: 1048576"}
	}
	return b, nil
}

// bucket is a token bucket; the simulator has one tenant, so one bucket.
type bucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int, now time.Time) *bucket {
	if rate <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = int(math.Ceil(rate))
	}
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// limit takes a token or answers 429, setting Auth0's rate-limit headers
// either way.
func (s *Server) limit(w http.ResponseWriter) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucket
	if b == nil {
		return nil
	}
	now := s.now()
	b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	allowed := b.tokens >= 1
	if allowed {
		b.tokens--
	}
	// x-ratelimit-reset is when the bucket holds a token again (epoch
	// seconds), which is when a retry will succeed.
	wait := 0.0
	if b.tokens < 1 {
		wait = (1 - b.tokens) / b.rate
	}
	reset := now.Add(time.Duration(wait * float64(time.Second)))
	h := w.Header()
	h.Set("X-Ratelimit-Limit", strconv.Itoa(int(b.burst)))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(int(math.Floor(b.tokens))))
	h.Set("X-Ratelimit-Reset", strconv.FormatInt(int64(math.Ceil(float64(reset.UnixNano())/1e9)), 10))
	if b.tokens < 1 {
		s.counters.spent++
	}
	if allowed {
		return nil
	}
	return &apiError{StatusCode: http.StatusTooManyRequests, Err: "Too Many Requests", Message: "Global limit has been reached", ErrorCode: "too_many_requests"}
}

// SetRateLimit changes the rate limit at run time; 0 disables it.
func (s *Server) SetRateLimit(rate float64, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bucket = newBucket(rate, burst, s.now())
}

// SetFaults replaces the injected faults.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// ScriptedFaults are faults for the next Management API calls, in call
// order, for tests that need a failure exactly where they expect one.
type ScriptedFaults struct {
	// Hangs: the next Hangs calls hang.
	Hangs int `json:"hangs"`
	// Errors: the next Errors authenticated calls answer 500 or 503.
	Errors int `json:"errors"`
	// LostResponses: the next LostResponses writes that succeed lose their
	// answer.
	LostResponses int `json:"lost_responses"`
}

// injectError decides whether an authenticated call fails with 5xx: a
// scripted error first, else by chance. Calls refused earlier (429, 401)
// do not use up scripted errors.
func (s *Server) injectError(rate float64) bool {
	return s.scriptedOrRoll(&s.scripted.Errors, rate)
}

// loseResponse decides whether a successful write loses its answer: a
// scripted loss first, else by chance.
func (s *Server) loseResponse(rate float64) bool {
	return s.scriptedOrRoll(&s.scripted.LostResponses, rate)
}

// scriptedOrRoll uses up one of the scripted faults counted by n, else
// rolls the dice.
func (s *Server) scriptedOrRoll(n *int, rate float64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if useOne(n) {
		return true
	}
	return roll(rate)
}

// useOne uses up one of n scripted faults if any is left.
func useOne(n *int) bool {
	if *n > 0 {
		*n--
		return true
	}
	return false
}

// Script adds faults for the next calls to those already scripted.
func (s *Server) Script(f ScriptedFaults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripted.Hangs += f.Hangs
	s.scripted.Errors += f.Errors
	s.scripted.LostResponses += f.LostResponses
}

// Faults returns the injected faults.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// bearer extracts the token of an Authorization header.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}
