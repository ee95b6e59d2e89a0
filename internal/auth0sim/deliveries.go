package auth0sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/xp-auth0/auth0-eventstream/internal/eventtypes"
)

// DeliveryOutcome decides how deliveries to a stream's destination go. The
// simulator sends nothing over the network: a delivery succeeds on its
// first attempt unless the stream is set to fail, as when a webhook
// endpoint is unreachable.
type DeliveryOutcome struct {
	Fail bool `json:"fail"`
	// ErrorMessage of each failed attempt; by default a Go HTTP client
	// error naming the endpoint, as Auth0 records.
	ErrorMessage string `json:"error_message,omitempty"`
}

// Delivery states and attempt statuses. "pending", "failed" and "retrying"
// appear in recorded traffic; "success" is the simulator's guess.
const (
	deliveryPending  = "pending"
	deliveryFailed   = "failed"
	deliveryRetrying = "retrying"
	deliverySuccess  = "success"
)

// attemptsPerRun and the offsets (in units of Options.DeliveryBackoff)
// follow recorded traffic: four attempts 1s, 2s and 4s apart.
var attemptOffsets = []int{0, 1, 3, 7} //nolint:gochecknoglobals // We treat this as a constant.

// Auth0 truncates attempt error messages to 50 characters plus " ...".
const maxErrorMessage = 50

// Delivery is one event sent to a stream, with its delivery runs: the
// first, then one per redelivery.
type Delivery struct {
	ID        string          `json:"id"`
	StreamID  string          `json:"event_stream_id"`
	EventType string          `json:"event_type"`
	Time      time.Time       `json:"time"`
	Data      json.RawMessage `json:"data"`
	Runs      []Run           `json:"runs"`
}

// Run is one delivery run. Its attempts are computed from its start and
// the clock, so the simulator needs no background work.
type Run struct {
	Requested    time.Time `json:"requested"` // when a redelivery was asked for
	Redelivery   bool      `json:"redelivery,omitempty"`
	Start        time.Time `json:"start"`
	Fail         bool      `json:"fail"`
	ErrorMessage string    `json:"error_message,omitempty"`
}

type attemptJSON struct {
	Status       string   `json:"status"`
	ErrorMessage string   `json:"error_message,omitempty"`
	Timestamp    string   `json:"timestamp"`
	Duration     *float64 `json:"duration,omitempty"`
}

// end is when the run's last attempt happens.
func (r Run) end(backoff time.Duration) time.Time {
	if !r.Fail {
		return r.Start
	}
	return r.Start.Add(time.Duration(attemptOffsets[len(attemptOffsets)-1]) * backoff)
}

func (s *Server) attempts(d *Delivery, now time.Time) ([]attemptJSON, string) {
	out := []attemptJSON{}
	status := deliveryPending
	b := s.opts.DeliveryBackoff
	for i, r := range d.Runs {
		if r.Redelivery {
			if r.Requested.After(now) {
				break
			}
			out = append(out, attemptJSON{Status: deliveryRetrying, Timestamp: formatTime(r.Requested)})
			status = deliveryRetrying
		}
		if !r.Fail {
			if !r.Start.After(now) {
				dur := 20.0
				out = append(out, attemptJSON{Status: deliverySuccess, Timestamp: formatTime(r.Start), Duration: &dur})
				status = deliverySuccess
			}
			continue
		}
		for j, off := range attemptOffsets {
			at := r.Start.Add(time.Duration(off) * b)
			if at.After(now) {
				break
			}
			// Durations in milliseconds, varied but stable per attempt.
			dur := 18 + float64((i*7+j*13)%9) + 0.5
			out = append(out, attemptJSON{Status: deliveryFailed, ErrorMessage: truncate(r.ErrorMessage), Timestamp: formatTime(at), Duration: &dur})
		}
		if !r.end(b).After(now) {
			status = deliveryFailed
		}
	}
	return out, status
}

func truncate(msg string) string {
	if len(msg) <= maxErrorMessage {
		return msg
	}
	return msg[:maxErrorMessage] + " ..."
}

type eventJSON struct {
	SpecVersion string          `json:"specversion"`
	ID          string          `json:"id"`
	Source      string          `json:"source"`
	Type        string          `json:"type"`
	Time        string          `json:"time"`
	Data        json.RawMessage `json:"data"`
	A0Purpose   string          `json:"a0purpose,omitempty"`
	A0Stream    string          `json:"a0stream"`
	A0Tenant    string          `json:"a0tenant"`
}

type deliveryJSON struct {
	ID        string        `json:"id"`
	StreamID  string        `json:"event_stream_id"`
	EventType string        `json:"event_type"`
	Status    string        `json:"status"`
	Attempts  []attemptJSON `json:"attempts"`
	Event     eventJSON     `json:"event"`
}

// view renders a delivery as the deliveries endpoints return it. Auth0's
// delivery history shows the event with an empty source tenant, no
// a0purpose and identities without profile data, unlike the answer to the
// test call; the simulator keeps that difference.
func (s *Server) view(d *Delivery, now time.Time) deliveryJSON {
	atts, status := s.attempts(d, now)
	return deliveryJSON{
		ID: d.ID, StreamID: d.StreamID, EventType: d.EventType, Status: status, Attempts: atts,
		Event: eventJSON{
			SpecVersion: "1.0", ID: d.ID, Source: "urn:auth0:", Type: d.EventType,
			Time: formatTime(d.Time), Data: historyData(d.Data), A0Stream: d.StreamID, A0Tenant: s.opts.Domain,
		},
	}
}

// testEvent queues a test event. Auth0 answers 202 with the pending
// delivery (recorded), not 200 as its reference says.
func (s *Server) testEvent(w http.ResponseWriter, r *http.Request) *apiError {
	id, aerr := streamID(r)
	if aerr != nil {
		return aerr
	}
	o, aerr := readObject(r, "event_type", "data")
	if aerr != nil {
		return aerr
	}
	et, _, aerr := o.str("", "event_type", true)
	if aerr != nil {
		return aerr
	}
	if !eventtypes.Known(et) {
		return errBody("event_type", fmt.Sprintf("No enum match for: %q", et))
	}
	var data json.RawMessage
	if raw, ok := o["data"]; ok {
		if jsonType(raw) != "object" {
			return errBody("data", "Expected type object but found type "+jsonType(raw))
		}
		data = raw
	} else {
		data = sampleData(et)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	st, aerr := s.lookup(id)
	if aerr != nil {
		return aerr
	}
	// Stricter than documented: a test event must be of a type the stream
	// subscribes to.
	if !slices.Contains(st.Subscriptions, et) {
		return errBody("event_type", fmt.Sprintf("Event type %q is not subscribed by stream %s", et, id))
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	d := &Delivery{ID: newID("evt_"), StreamID: id, EventType: et, Time: now, Data: data}
	// The first attempt happens after the answer, so the answer shows the
	// delivery pending with no attempts, as recorded.
	s.schedule(st, d, now, false)
	s.deliveries[id] = append(s.deliveries[id], d)
	writeJSON(w, http.StatusAccepted, deliveryJSON{
		ID: d.ID, StreamID: id, EventType: et, Status: deliveryPending, Attempts: []attemptJSON{},
		Event: eventJSON{
			SpecVersion: "1.0", ID: d.ID, Source: "urn:auth0:" + s.opts.Domain + ".sus.auth0.com", Type: et,
			Time: formatTime(now), Data: data, A0Purpose: "test", A0Stream: id, A0Tenant: s.opts.Domain,
		},
	})
	return nil
}

func (s *Server) newRun(st *Stream, requested, start time.Time, redelivery bool) Run {
	o := s.outcomes[st.ID]
	r := Run{Requested: requested, Start: start, Redelivery: redelivery, Fail: o.Fail}
	if o.Fail {
		r.ErrorMessage = o.ErrorMessage
		if r.ErrorMessage == "" {
			r.ErrorMessage = defaultErrorMessage(st)
		}
	}
	return r
}

func defaultErrorMessage(st *Stream) string {
	switch d := st.Destination; {
	case d.Webhook != nil:
		host := d.Webhook.Endpoint
		if i := strings.Index(host, "://"); i >= 0 {
			host = host[i+3:]
		}
		host, _, _ = strings.Cut(host, "/")
		return fmt.Sprintf("Post %q: dial tcp: lookup %s: no such host", d.Webhook.Endpoint, host)
	case d.EventBridge != nil:
		return "AccessDeniedException: partner event source " + d.EventBridge.PartnerEventSource + " is not associated with an event bus"
	default:
		return "Action execution failed"
	}
}

// SetDeliveryOutcome decides how future deliveries to a stream go.
func (s *Server) SetDeliveryOutcome(streamID string, o DeliveryOutcome) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.streams[streamID]; !ok {
		return fmt.Errorf("stream %s: %s", streamID, msgStreamNotFound)
	}
	s.outcomes[streamID] = o
	return nil
}

type deliveryListJSON struct {
	Deliveries []deliveryJSON `json:"deliveries"`
	Next       string         `json:"next,omitempty"`
}

// listDeliveries lists deliveries that have not succeeded (Auth0 lists
// failed deliveries), oldest first, filtered by statuses, event types and
// time. Auth0 returns a next checkpoint even on the last page (recorded).
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) *apiError {
	id, aerr := streamID(r)
	if aerr != nil {
		return aerr
	}
	q := r.URL.Query()
	take, from, aerr := pageParams(q, "statuses", "event_types", "date_from", "date_to")
	if aerr != nil {
		return aerr
	}
	types, aerr := eventTypeFilter("event_types", q.Get("event_types"))
	if aerr != nil {
		return aerr
	}
	var statuses []string
	if v := q.Get("statuses"); v != "" {
		for st := range strings.SplitSeq(v, ",") {
			if !slices.Contains([]string{deliveryFailed, deliveryPending, deliveryRetrying, deliverySuccess}, st) {
				return errQuery("statuses", fmt.Sprintf("No enum match for: %q", st))
			}
			statuses = append(statuses, st)
		}
	}
	dateFrom, dateTo, aerr := dateRange(q.Get("date_from"), q.Get("date_to"), false)
	if aerr != nil {
		return aerr
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, aerr := s.lookup(id); aerr != nil {
		return aerr
	}
	now := s.now()
	out := deliveryListJSON{Deliveries: []deliveryJSON{}}
	for i, d := range s.deliveries[id] {
		if int64(i) < from || !matches(d, types, dateFrom, dateTo) {
			continue
		}
		v := s.view(d, now)
		if statuses == nil && v.Status == deliverySuccess || statuses != nil && !slices.Contains(statuses, v.Status) {
			continue
		}
		if len(out.Deliveries) == take {
			break
		}
		out.Deliveries = append(out.Deliveries, v)
		out.Next = encodeCheckpoint(int64(i + 1))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func eventTypeFilter(property, v string) ([]string, *apiError) {
	if v == "" {
		return nil, nil
	}
	var out []string
	for t := range strings.SplitSeq(v, ",") {
		if !eventtypes.Known(t) {
			return nil, errQuery(property, fmt.Sprintf("No enum match for: %q", t))
		}
		out = append(out, t)
	}
	return out, nil
}

// dateRange parses RFC 3339 bounds; Auth0 does not allow sub-second
// precision in them.
func dateRange(from, to string, inBody bool) (time.Time, time.Time, *apiError) {
	var f, t time.Time
	for _, x := range []struct {
		name, v string
		dst     *time.Time
	}{{"date_from", from, &f}, {"date_to", to, &t}} {
		if x.v == "" {
			continue
		}
		p, err := time.Parse(time.RFC3339, x.v)
		if err != nil || p.Nanosecond() != 0 {
			msg := "Object didn't pass validation for format date-time without sub-second precision: " + x.v
			if inBody {
				return f, t, errBody(x.name, msg)
			}
			return f, t, errQuery(x.name, msg)
		}
		*x.dst = p
	}
	return f, t, nil
}

func matches(d *Delivery, types []string, from, to time.Time) bool {
	if types != nil && !slices.Contains(types, d.EventType) {
		return false
	}
	if !from.IsZero() && d.Time.Before(from) {
		return false
	}
	if !to.IsZero() && !d.Time.Before(to) {
		return false
	}
	return true
}

// findDelivery finds the delivery a request names; the caller holds s.mu.
func (s *Server) findDelivery(r *http.Request) (*Delivery, *Stream, *apiError) {
	id, aerr := streamID(r)
	if aerr != nil {
		return nil, nil, aerr
	}
	eid := r.PathValue("event_id")
	if !eventIDPattern.MatchString(eid) {
		return nil, nil, errBadRequest("invalid_uri", fmt.Sprintf("Path validation error: 'String does not match pattern ^evt_[a-zA-Z0-9]{22}$: %s' on property event_id.", eid))
	}
	st, aerr := s.lookup(id)
	if aerr != nil {
		return nil, nil, aerr
	}
	for _, d := range s.deliveries[id] {
		if d.ID == eid {
			return d, st, nil
		}
	}
	return nil, nil, errNotFound("The requested event does not exist.")
}

func (s *Server) readDelivery(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, _, aerr := s.findDelivery(r)
	if aerr != nil {
		return aerr
	}
	writeJSON(w, http.StatusOK, s.view(d, s.now()))
	return nil
}

// schedule adds a delivery run. Runs of one stream happen one after
// another, as Auth0's did in recorded traffic; each starts a backoff after
// it was asked for or after the previous run ended.
func (s *Server) schedule(st *Stream, d *Delivery, now time.Time, redelivery bool) {
	b := s.opts.DeliveryBackoff
	start := now.Add(b)
	for _, other := range s.deliveries[st.ID] {
		for _, r := range other.Runs {
			if e := r.end(b).Add(b); e.After(start) {
				start = e
			}
		}
	}
	d.Runs = append(d.Runs, s.newRun(st, now, start, redelivery))
}

// redeliverable reports whether a delivery's last run has failed.
func (s *Server) redeliverable(d *Delivery, now time.Time) bool {
	_, status := s.attempts(d, now)
	return status == deliveryFailed
}

func (s *Server) redeliverOne(w http.ResponseWriter, r *http.Request) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, st, aerr := s.findDelivery(r)
	if aerr != nil {
		return aerr
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	// Stricter than documented: only a failed delivery can be redelivered.
	if !s.redeliverable(d, now) {
		return &apiError{StatusCode: http.StatusConflict, Err: "Conflict", Message: "Only failed deliveries can be redelivered.", ErrorCode: "conflict"}
	}
	s.schedule(st, d, now, true)
	writeJSON(w, http.StatusAccepted, struct{}{})
	return nil
}

func (s *Server) redeliverMany(w http.ResponseWriter, r *http.Request) *apiError {
	id, aerr := streamID(r)
	if aerr != nil {
		return aerr
	}
	o, aerr := readObject(r, "event_types", "date_from", "date_to")
	if aerr != nil {
		return aerr
	}
	var types []string
	if raw, ok := o["event_types"]; ok {
		var list []string
		if jsonType(raw) != "array" || json.Unmarshal(raw, &list) != nil {
			return errBody("event_types", "Expected type array of strings")
		}
		if types, aerr = eventTypeFilter("event_types", strings.Join(list, ",")); aerr != nil {
			return aerr
		}
	}
	df, _, aerr := o.str("", "date_from", false)
	if aerr != nil {
		return aerr
	}
	dt, _, aerr := o.str("", "date_to", false)
	if aerr != nil {
		return aerr
	}
	from, to, aerr := dateRange(df, dt, true)
	if aerr != nil {
		return aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, aerr := s.lookup(id)
	if aerr != nil {
		return aerr
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	for _, d := range s.deliveries[id] {
		if matches(d, types, from, to) && s.redeliverable(d, now) {
			s.schedule(st, d, now, true)
		}
	}
	writeJSON(w, http.StatusAccepted, struct{}{})
	return nil
}

type statsJSON struct {
	ID      string        `json:"id"`
	Name    string        `json:"name"`
	Window  statsWindow   `json:"window"`
	Buckets []string      `json:"buckets"`
	Metrics []statsMetric `json:"metrics"`
}

type statsWindow struct {
	DateFrom       string `json:"date_from"`
	DateTo         string `json:"date_to"`
	BucketInterval struct {
		ScaleFactor int `json:"scale_factor"`
	} `json:"bucket_interval"`
}

type statsMetric struct {
	Name        string `json:"name"`
	WindowTotal int    `json:"window_total"`
	Type        string `json:"type"`
	Data        []int  `json:"data"`
}

// stats counts finished delivery runs per day over the last 14 days, in
// the window shape recorded from Auth0.
func (s *Server) stats(w http.ResponseWriter, r *http.Request) *apiError {
	id, aerr := streamID(r)
	if aerr != nil {
		return aerr
	}
	q := r.URL.Query()
	if aerr := checkQuery(q, "date_from", "date_to"); aerr != nil {
		return aerr
	}
	qFrom, qTo, aerr := dateRange(q.Get("date_from"), q.Get("date_to"), false)
	if aerr != nil {
		return aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, aerr := s.lookup(id)
	if aerr != nil {
		return aerr
	}
	now := s.now().UTC()
	// By default the window is the last 14 days up to the end of this
	// hour, as recorded.
	hour := now.Truncate(time.Hour)
	from, to := hour.Add(-14*24*time.Hour), hour.Add(time.Hour)
	if !qFrom.IsZero() {
		from = qFrom.UTC()
	}
	if !qTo.IsZero() {
		to = qTo.UTC()
	}
	if !from.Before(to) {
		return errQuery("date_from", "date_from must be before date_to")
	}
	firstDay := from.Truncate(24 * time.Hour)
	var buckets []string
	for d := firstDay; d.Before(to); d = d.Add(24 * time.Hour) {
		buckets = append(buckets, formatTime(d))
	}
	delivered := statsMetric{Name: "auth0.event_streams.successful_deliveries", Type: "sum", Data: make([]int, len(buckets))}
	failed := statsMetric{Name: "auth0.event_streams.failed_deliveries", Type: "sum", Data: make([]int, len(buckets))}
	for _, d := range s.deliveries[id] {
		for _, run := range d.Runs {
			end := run.end(s.opts.DeliveryBackoff)
			if end.After(now) || end.Before(from) || !end.Before(to) {
				continue
			}
			i := int(end.UTC().Sub(firstDay) / (24 * time.Hour))
			m := &delivered
			if run.Fail {
				m = &failed
			}
			m.Data[i]++
			m.WindowTotal++
		}
	}
	out := statsJSON{ID: id, Name: st.Name, Buckets: buckets, Metrics: []statsMetric{delivered, failed}}
	out.Window.DateFrom, out.Window.DateTo = formatTime(from), formatTime(to)
	out.Window.BucketInterval.ScaleFactor = 86400
	writeJSON(w, http.StatusOK, out)
	return nil
}

// DeliveriesSettledAt is when the last scheduled delivery attempt happens
// (zero when none is scheduled): from then on, delivery state no longer
// changes until the next test event or redelivery.
func (s *Server) DeliveriesSettledAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t time.Time
	for _, ds := range s.deliveries {
		for _, d := range ds {
			for _, r := range d.Runs {
				if e := r.end(s.opts.DeliveryBackoff); e.After(t) {
					t = e
				}
			}
		}
	}
	return t
}
