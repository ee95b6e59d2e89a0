package auth0sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"time"
)

// State is everything the simulator holds, secrets and tokens included:
// what --state persists and what /__sim/state dumps and seeds.
type State struct {
	Streams          []Stream                   `json:"streams"`
	Deliveries       map[string][]*Delivery     `json:"deliveries,omitempty"`
	DeliveryOutcomes map[string]DeliveryOutcome `json:"delivery_outcomes,omitempty"`
	Tokens           []StoredToken              `json:"tokens,omitempty"`
}

// StoredToken is an issued access token. Tokens are kept across restarts
// because clients reuse a token until it expires.
type StoredToken struct {
	Token    string    `json:"token"`
	ClientID string    `json:"client_id"`
	Expires  time.Time `json:"expires"`
}

// Dump returns a deep copy of the whole state.
func (s *Server) Dump() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{Streams: []Stream{}, Deliveries: map[string][]*Delivery{}, DeliveryOutcomes: map[string]DeliveryOutcome{}}
	for _, id := range s.order {
		st.Streams = append(st.Streams, s.streams[id].clone())
	}
	for id, ds := range s.deliveries {
		for _, d := range ds {
			c := *d
			c.Runs = append([]Run(nil), d.Runs...)
			st.Deliveries[id] = append(st.Deliveries[id], &c)
		}
	}
	maps.Copy(st.DeliveryOutcomes, s.outcomes)
	for t, info := range s.tokens {
		st.Tokens = append(st.Tokens, StoredToken{Token: t, ClientID: info.clientID, Expires: info.expires})
	}
	return st
}

// Seed replaces the whole state. Streams keep their ids and timestamps, so
// a test can start from a tenant that already holds streams.
func (s *Server) Seed(st State) error {
	streams := map[string]*Stream{}
	var order []string
	for i := range st.Streams {
		c := st.Streams[i].clone()
		if !streamIDPattern.MatchString(c.ID) {
			return fmt.Errorf("stream %d: id %q is not est_ and 22 base62 characters", i, c.ID)
		}
		if _, dup := streams[c.ID]; dup {
			return fmt.Errorf("stream %d: duplicate id %s", i, c.ID)
		}
		if err := checkDestination(c.Destination); err != nil {
			return fmt.Errorf("stream %s: %w", c.ID, err)
		}
		if c.Status == "" {
			c.Status = StatusEnabled
		}
		if c.CreatedAt.IsZero() {
			c.CreatedAt = s.now().UTC().Truncate(time.Millisecond)
		}
		if c.UpdatedAt.IsZero() {
			c.UpdatedAt = c.CreatedAt
		}
		streams[c.ID] = &c
		order = append(order, c.ID)
	}
	deliveries := map[string][]*Delivery{}
	for id, ds := range st.Deliveries {
		if _, ok := streams[id]; !ok {
			return fmt.Errorf("deliveries of unknown stream %s", id)
		}
		for _, d := range ds {
			if d == nil || d.StreamID != id || !eventIDPattern.MatchString(d.ID) {
				return fmt.Errorf("deliveries of stream %s: malformed delivery", id)
			}
			c := *d
			c.Runs = append([]Run(nil), d.Runs...)
			deliveries[id] = append(deliveries[id], &c)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streams, s.order, s.deliveries = streams, order, deliveries
	s.seqs, s.nextSeq = map[string]int64{}, 0
	for _, id := range order {
		s.seqs[id] = s.nextSeq
		s.nextSeq++
	}
	s.outcomes = map[string]DeliveryOutcome{}
	maps.Copy(s.outcomes, st.DeliveryOutcomes)
	s.tokens = map[string]tokenInfo{}
	for _, t := range st.Tokens {
		s.tokens[t.Token] = tokenInfo{clientID: t.ClientID, expires: t.Expires}
	}
	s.metrics.streams.Set(float64(len(s.streams)))
	return nil
}

func checkDestination(d Destination) error {
	n := 0
	for _, set := range []bool{d.Webhook != nil, d.EventBridge != nil, d.Action != nil} {
		if set {
			n++
		}
	}
	ok := n == 1 && (d.Type == DestinationWebhook && d.Webhook != nil ||
		d.Type == DestinationEventBridge && d.EventBridge != nil ||
		d.Type == DestinationAction && d.Action != nil)
	if !ok {
		return fmt.Errorf("destination of type %q must carry exactly the %q configuration", d.Type, d.Type)
	}
	return nil
}

// faultsJSON is Faults on the admin API, with latency as a Go duration.
type faultsJSON struct {
	ErrorRate        float64 `json:"error_rate"`
	Latency          string  `json:"latency"`
	HangRate         float64 `json:"hang_rate"`
	LostResponseRate float64 `json:"lost_response_rate"`
}

func (s *Server) adminRoutes() { //nolint:gocognit // A table of small handlers; each is simple on its own.
	h := map[string]http.HandlerFunc{
		"GET /__sim/healthz": func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		},
		"GET /__sim/state": func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.Dump()) },
		"PUT /__sim/state": func(w http.ResponseWriter, r *http.Request) {
			var st State
			if !decodeAdmin(w, r, &st) {
				return
			}
			if err := s.Seed(st); err != nil {
				writeError(w, errBadRequest("invalid_body", err.Error()))
				return
			}
			writeJSON(w, http.StatusOK, s.Dump())
		},
		"GET /__sim/streams": func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.Streams()) },
		"POST /__sim/streams": func(w http.ResponseWriter, r *http.Request) {
			body, aerr := readBody(r)
			if aerr != nil {
				writeError(w, aerr)
				return
			}
			st, err := s.CreateStream(body)
			if !adminErr(w, err) {
				writeJSON(w, http.StatusCreated, st)
			}
		},
		"PATCH /__sim/streams/{id}": func(w http.ResponseWriter, r *http.Request) {
			body, aerr := readBody(r)
			if aerr != nil {
				writeError(w, aerr)
				return
			}
			st, err := s.Drift(r.PathValue("id"), body)
			if !adminErr(w, err) {
				writeJSON(w, http.StatusOK, st)
			}
		},
		"DELETE /__sim/streams/{id}": func(w http.ResponseWriter, r *http.Request) {
			if !s.DeleteStream(r.PathValue("id")) {
				writeError(w, errNotFound(msgStreamNotFound))
				return
			}
			w.WriteHeader(http.StatusNoContent)
		},
		"PUT /__sim/streams/{id}/delivery": func(w http.ResponseWriter, r *http.Request) {
			var o DeliveryOutcome
			if !decodeAdmin(w, r, &o) {
				return
			}
			if err := s.SetDeliveryOutcome(r.PathValue("id"), o); err != nil {
				writeError(w, errNotFound(msgStreamNotFound))
				return
			}
			writeJSON(w, http.StatusOK, o)
		},
		"GET /__sim/faults": func(w http.ResponseWriter, _ *http.Request) {
			f := s.Faults()
			writeJSON(w, http.StatusOK, faultsJSON{f.ErrorRate, f.Latency.String(), f.HangRate, f.LostResponseRate})
		},
		"PUT /__sim/faults": func(w http.ResponseWriter, r *http.Request) {
			var fj faultsJSON
			if !decodeAdmin(w, r, &fj) {
				return
			}
			f := Faults{ErrorRate: fj.ErrorRate, HangRate: fj.HangRate, LostResponseRate: fj.LostResponseRate}
			if fj.Latency != "" {
				d, err := time.ParseDuration(fj.Latency)
				if err != nil {
					writeError(w, errBody("latency", "Not a Go duration: "+fj.Latency))
					return
				}
				f.Latency = d
			}
			if err := f.Validate(); err != nil {
				writeError(w, errBadRequest("invalid_body", err.Error()))
				return
			}
			s.SetFaults(f)
			writeJSON(w, http.StatusOK, fj)
		},
		"POST /__sim/faults/next": func(w http.ResponseWriter, r *http.Request) {
			var f ScriptedFaults
			if !decodeAdmin(w, r, &f) {
				return
			}
			if f.Hangs < 0 || f.Errors < 0 || f.LostResponses < 0 {
				writeError(w, errBadRequest("invalid_body", "counts must not be negative"))
				return
			}
			s.Script(f)
			writeJSON(w, http.StatusOK, f)
		},
		"PUT /__sim/ratelimit": func(w http.ResponseWriter, r *http.Request) {
			var rl struct {
				Rate  float64 `json:"rate"`
				Burst int     `json:"burst"`
			}
			if !decodeAdmin(w, r, &rl) {
				return
			}
			s.SetRateLimit(rl.Rate, rl.Burst)
			writeJSON(w, http.StatusOK, rl)
		},
		"GET /__sim/counters":    func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.Counters()) },
		"DELETE /__sim/counters": func(w http.ResponseWriter, _ *http.Request) { s.ResetCounters(); w.WriteHeader(http.StatusNoContent) },
		"POST /__sim/tokens/expire": func(w http.ResponseWriter, _ *http.Request) {
			s.ExpireTokens()
			w.WriteHeader(http.StatusNoContent)
		},
		"/__sim/": func(w http.ResponseWriter, _ *http.Request) { writeError(w, errNotFound("Not Found")) },
	}
	for p, f := range h {
		s.mux.HandleFunc(p, f)
	}
}

// Validate checks that rates are probabilities and latency is not negative.
func (f Faults) Validate() error {
	for name, p := range map[string]float64{"error_rate": f.ErrorRate, "hang_rate": f.HangRate, "lost_response_rate": f.LostResponseRate} {
		if p < 0 || p > 1 {
			return fmt.Errorf("%s %v is not a probability in [0,1]", name, p)
		}
	}
	if f.Latency < 0 {
		return errors.New("latency must not be negative")
	}
	return nil
}

func decodeAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	body, aerr := readBody(r)
	if aerr != nil {
		writeError(w, aerr)
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, errBadRequest("invalid_body", "Invalid JSON: "+err.Error()))
		return false
	}
	return true
}

// adminErr writes err if there is one and reports whether it did.
func adminErr(w http.ResponseWriter, err error) bool {
	if err == nil {
		return false
	}
	if aerr, ok := errors.AsType[*apiError](err); ok {
		writeError(w, aerr)
	} else {
		writeError(w, errNotFound(err.Error()))
	}
	return true
}
