package auth0sim

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	defaultTake = 50
	maxTake     = 100
)

// streamID reads and checks the {id} path parameter. Auth0 validates path
// parameters against the id pattern; the simulator answers a malformed id
// with 400 rather than 404 (the stricter reading).
func streamID(r *http.Request) (string, *apiError) {
	id := r.PathValue("id")
	if !streamIDPattern.MatchString(id) {
		return "", errBadRequest("invalid_uri", fmt.Sprintf("Path validation error: 'String does not match pattern ^est_[a-zA-Z0-9]{22}$: %s' on property id.", id))
	}
	return id, nil
}

// checkQuery rejects query parameters outside allowed, as Auth0's query
// validation does.
func checkQuery(q url.Values, allowed ...string) *apiError {
	for k := range q {
		if !slices.Contains(allowed, k) {
			return errQuery(k, "Additional properties not allowed: "+k)
		}
	}
	return nil
}

// parseTake reads checkpoint paging's take.
func parseTake(q url.Values) (int, *apiError) {
	v := q.Get("take")
	if v == "" {
		return defaultTake, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errQuery("take", "Expected type integer but found type string")
	}
	if n < 1 || n > maxTake {
		return 0, errQuery("take", fmt.Sprintf("Value %d is outside the range 1 to %d", n, maxTake))
	}
	return n, nil
}

// Checkpoints are opaque to clients; the simulator's encode the position of
// the next item, so deletions between pages do not break paging.
func encodeCheckpoint(pos int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("cp:" + strconv.FormatInt(pos, 10)))
}

// pageParams checks a list's query (paging plus extraAllowed parameters)
// and reads its take and the position its from checkpoint names.
func pageParams(q url.Values, extraAllowed ...string) (int, int64, *apiError) {
	if aerr := checkQuery(q, append(extraAllowed, "from", "take")...); aerr != nil {
		return 0, 0, aerr
	}
	take, aerr := parseTake(q)
	if aerr != nil {
		return 0, 0, aerr
	}
	var from int64
	if v := q.Get("from"); v != "" {
		if from, aerr = decodeCheckpoint(v); aerr != nil {
			return 0, 0, aerr
		}
	}
	return take, from, nil
}

func decodeCheckpoint(v string) (int64, *apiError) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err == nil {
		if rest, ok := strings.CutPrefix(string(b), "cp:"); ok {
			if n, err := strconv.ParseInt(rest, 10, 64); err == nil && n >= 0 {
				return n, nil
			}
		}
	}
	return 0, errQuery("from", "Invalid checkpoint: "+v)
}

type streamListJSON struct {
	EventStreams []streamJSON `json:"eventStreams"`
	Next         string       `json:"next,omitempty"`
}

func (s *Server) listStreams(w http.ResponseWriter, r *http.Request) *apiError {
	take, from, aerr := pageParams(r.URL.Query())
	if aerr != nil {
		return aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := streamListJSON{EventStreams: []streamJSON{}}
	for _, id := range s.order {
		if s.seqs[id] < from {
			continue
		}
		if len(out.EventStreams) == take {
			out.Next = encodeCheckpoint(s.seqs[id])
			break
		}
		out.EventStreams = append(out.EventStreams, s.streams[id].response())
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// stamp returns the time of a change: now at millisecond precision, and
// always after prev so updated_at visibly moves.
func (s *Server) stamp(prev time.Time) time.Time {
	t := s.now().UTC().Truncate(time.Millisecond)
	if !t.After(prev) {
		t = prev.Add(time.Millisecond)
	}
	return t
}

func (s *Server) createStream(w http.ResponseWriter, r *http.Request) *apiError {
	in, aerr := readStreamInput(r, true)
	if aerr != nil {
		return aerr
	}
	st := s.insert(in)
	writeJSON(w, http.StatusCreated, st.response())
	return nil
}

// readStreamInput reads and validates a create (or PATCH) body.
func readStreamInput(r *http.Request, create bool) (*streamInput, *apiError) {
	body, aerr := readBody(r)
	if aerr != nil {
		return nil, aerr
	}
	return parseStreamBody(body, create)
}

// insert stores a validated create body as a new stream.
func (s *Server) insert(in *streamInput) *Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.stamp(time.Time{})
	st := &Stream{
		ID:            newID("est_"),
		Name:          *in.Name,
		Status:        StatusEnabled,
		Subscriptions: in.Subscriptions,
		CreatedAt:     now,
		UpdatedAt:     now,
		Destination:   *in.Destination,
	}
	if in.Status != nil {
		st.Status = *in.Status
	}
	if eb := st.Destination.EventBridge; eb != nil {
		eb.PartnerEventSource = "aws.partner/auth0.com/" + s.opts.Domain + "-" + newUUID() + "/auth0.events"
	}
	s.streams[st.ID] = st
	s.order = append(s.order, st.ID)
	s.seqs[st.ID] = s.nextSeq
	s.nextSeq++
	s.metrics.streams.Set(float64(len(s.streams)))
	return st
}

// lookup finds a stream; the caller holds s.mu.
func (s *Server) lookup(id string) (*Stream, *apiError) {
	st, ok := s.streams[id]
	if !ok {
		return nil, errNotFound(msgStreamNotFound)
	}
	return st, nil
}

func (s *Server) readStream(w http.ResponseWriter, r *http.Request) *apiError {
	id, aerr := streamID(r)
	if aerr != nil {
		return aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, aerr := s.lookup(id)
	if aerr != nil {
		return aerr
	}
	writeJSON(w, http.StatusOK, st.response())
	return nil
}

func (s *Server) updateStream(w http.ResponseWriter, r *http.Request) *apiError {
	id, aerr := streamID(r)
	if aerr != nil {
		return aerr
	}
	in, aerr := readStreamInput(r, false)
	if aerr != nil {
		return aerr
	}
	st, aerr := s.patch(id, in)
	if aerr != nil {
		return aerr
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// patch applies a validated PATCH body; fields absent from it keep their
// values.
func (s *Server) patch(id string, in *streamInput) (streamJSON, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, aerr := s.lookup(id)
	if aerr != nil {
		return streamJSON{}, aerr
	}
	if d := in.Destination; d != nil {
		// EventBridge destinations are fixed at creation (Terraform replaces
		// the stream instead); the simulator refuses any destination in a
		// PATCH of one, and any change of destination type.
		if st.Destination.Type == DestinationEventBridge {
			return streamJSON{}, errBody("destination", "The destination of an eventbridge stream cannot be changed")
		}
		if d.Type != st.Destination.Type {
			return streamJSON{}, errBody("destination.type", fmt.Sprintf("Destination type cannot be changed from %s to %s", st.Destination.Type, d.Type))
		}
		st.Destination = *d
	}
	if in.Name != nil {
		st.Name = *in.Name
	}
	if in.Status != nil {
		st.Status = *in.Status
	}
	if in.Subscriptions != nil {
		st.Subscriptions = in.Subscriptions
	}
	st.UpdatedAt = s.stamp(st.UpdatedAt)
	return st.response(), nil
}

// deleteStream answers 204 whether or not the stream exists: recorded Auth0
// traffic shows a second DELETE of the same id answered 204.
func (s *Server) deleteStream(w http.ResponseWriter, r *http.Request) *apiError {
	id, aerr := streamID(r)
	if aerr != nil {
		return aerr
	}
	s.remove(id)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) remove(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.streams[id]; !ok {
		return false
	}
	delete(s.streams, id)
	delete(s.deliveries, id)
	delete(s.outcomes, id)
	delete(s.seqs, id)
	s.order = slices.DeleteFunc(s.order, func(x string) bool { return x == id })
	s.metrics.streams.Set(float64(len(s.streams)))
	return true
}

// Streams returns a snapshot of all streams in creation order, stored
// secrets included.
func (s *Server) Streams() []Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Stream, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.streams[id].clone())
	}
	return out
}

// Stream returns one stream, stored secrets included.
func (s *Server) Stream(id string) (Stream, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.streams[id]
	if !ok {
		return Stream{}, false
	}
	return st.clone(), true
}

// ModifyStream changes a stream out of band, as an edit in the Auth0
// dashboard would (drift). updated_at moves unless fn sets it.
func (s *Server) ModifyStream(id string, fn func(*Stream)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.streams[id]
	if !ok {
		return fmt.Errorf("stream %s: %s", id, msgStreamNotFound)
	}
	c := st.clone()
	fn(&c)
	if c.UpdatedAt.Equal(st.UpdatedAt) {
		c.UpdatedAt = s.stamp(st.UpdatedAt)
	}
	c.ID = id
	*st = c
	return nil
}

// Drift applies a Management-API PATCH body to a stream out of band: the
// change is validated like a PATCH but bypasses tokens, rate limits, faults
// and counters.
func (s *Server) Drift(id string, patchBody []byte) (Stream, error) {
	in, aerr := parseStreamBody(patchBody, false)
	if aerr != nil {
		return Stream{}, aerr
	}
	if _, aerr := s.patch(id, in); aerr != nil {
		return Stream{}, aerr
	}
	st, _ := s.Stream(id)
	return st, nil
}

// CreateStream creates a stream out of band from a Management-API create
// body (for example an orphan the controller did not make).
func (s *Server) CreateStream(body []byte) (Stream, error) {
	in, aerr := parseStreamBody(body, true)
	if aerr != nil {
		return Stream{}, aerr
	}
	return s.insert(in).clone(), nil
}

// DeleteStream deletes a stream out of band; it reports whether it existed.
func (s *Server) DeleteStream(id string) bool { return s.remove(id) }
