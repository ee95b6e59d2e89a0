package auth0sim_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/auth0/go-auth0/management"

	"github.com/xp-auth0/auth0-eventstream/internal/auth0sim"
)

// These tests drive the simulator with go-auth0's own client and its own
// retry transport, to show that its retry path works against the
// simulator's 429s, 5xx, hangs and lost answers.

const (
	createEndpoint = "POST /api/v2/event-streams"
	listEndpoint   = "GET /api/v2/event-streams"
)

func TestRetryOn429HonoursRateLimitHeaders(t *testing.T) {
	// Two calls fit the bucket; the third is refused until a token
	// refills, half a second later (x-ratelimit-reset rounds it up).
	r := start(t, auth0sim.Options{RateLimit: 2, Burst: 2})
	m := api(t, r) // go-auth0 retries 429 by default
	ctx := t.Context()
	for i := range 4 {
		if _, err := m.EventStream.List(ctx); err != nil {
			t.Fatalf("List %d: %v", i, err)
		}
	}
	c := r.Server().Counters()
	if got := c.Get(listEndpoint, "200"); got != 4 {
		t.Errorf("successful lists = %d, want 4", got)
	}
	if got := c.Get(listEndpoint, "429"); got < 1 {
		t.Errorf("429 answers = %d, want at least 1 (the bucket holds 2)", got)
	}
}

func TestRateLimitHeaders(t *testing.T) {
	clk := newClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r := start(t, auth0sim.Options{RateLimit: 2, Burst: 2, Now: clk.Now})
	tok := token(t, r)
	// get answers the status and headers only: the body is closed here.
	get := func() (int, http.Header) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, r.URL+"/api/v2/event-streams", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := r.HTTPClient().Do(req)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	for i, want := range []struct {
		code      int
		remaining string
	}{{200, "1"}, {200, "0"}, {429, "0"}} {
		code, h := get()
		if code != want.code || h.Get("X-Ratelimit-Remaining") != want.remaining || h.Get("X-Ratelimit-Limit") != "2" {
			t.Errorf("call %d: %d remaining %q limit %q, want %d remaining %s limit 2", i, code,
				h.Get("X-Ratelimit-Remaining"), h.Get("X-Ratelimit-Limit"), want.code, want.remaining)
		}
		if i == 2 {
			// One token refills in 0.5 s: the reset is the next whole second.
			if got, want := h.Get("X-Ratelimit-Reset"), "1767225601"; got != want {
				t.Errorf("x-ratelimit-reset = %s, want %s", got, want)
			}
		}
	}
	clk.Advance(time.Second)
	if code, _ := get(); code != http.StatusOK {
		t.Errorf("after the bucket refilled: %d, want 200", code)
	}
}

func retrying5xx() management.Option {
	return management.WithRetryStrategy(management.RetryStrategy{
		MaxRetries: 3,
		Statuses:   []int{http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusServiceUnavailable},
	})
}

func TestRetryOn5xx(t *testing.T) {
	r := start(t, auth0sim.Options{})
	m := api(t, r, retrying5xx())
	r.Server().Script(auth0sim.ScriptedFaults{Errors: 2})
	es := webhookStream("after-5xx")
	if err := m.EventStream.Create(t.Context(), es); err != nil {
		t.Fatalf("Create through two 5xx: %v", err)
	}
	c := r.Server().Counters()
	if n := c.Get(createEndpoint, "500") + c.Get(createEndpoint, "503"); n != 2 {
		t.Errorf("5xx answers = %d, want 2", n)
	}
	if n := c.Get(createEndpoint, "201"); n != 1 {
		t.Errorf("201 answers = %d, want 1", n)
	}
	// An injected 5xx happens before the call has any effect.
	if n := len(r.Server().Streams()); n != 1 {
		t.Errorf("streams = %d, want 1", n)
	}
}

func TestNoRetryOn5xxByDefault(t *testing.T) {
	r := start(t, auth0sim.Options{})
	m := api(t, r) // go-auth0's default retries only 429
	r.Server().Script(auth0sim.ScriptedFaults{Errors: 1})
	err := m.EventStream.Create(t.Context(), webhookStream("no-retry"))
	if s := status(err); s != http.StatusInternalServerError && s != http.StatusServiceUnavailable {
		t.Fatalf("Create with one injected error: %v, want the 5xx surfaced", err)
	}
}

func TestLostResponseIsRetriedAndDuplicates(t *testing.T) {
	// A lost answer to a create is a connection error to go-auth0, which
	// retries it: the stream is created twice. Names are not unique, so
	// a controller must find the first by other means.
	r := start(t, auth0sim.Options{})
	m := api(t, r)
	r.Server().Script(auth0sim.ScriptedFaults{LostResponses: 1})
	es := webhookStream("lost")
	if err := m.EventStream.Create(t.Context(), es); err != nil {
		t.Fatalf("Create: %v", err)
	}
	c := r.Server().Counters()
	if c.Get(createEndpoint, auth0sim.OutcomeLost) != 1 || c.Get(createEndpoint, "201") != 1 {
		t.Errorf("create outcomes = %v, want one lost and one 201", c.Calls[createEndpoint])
	}
	streams := r.Server().Streams()
	if len(streams) != 2 || streams[0].Name != "lost" || streams[1].Name != "lost" {
		t.Fatalf("streams = %+v, want the committed one and the retried one", streams)
	}
	if es.GetID() != streams[1].ID {
		t.Errorf("client got %s, want the retried stream %s", es.GetID(), streams[1].ID)
	}
}

func TestHungRequestIsRetriedAfterPerAttemptTimeout(t *testing.T) {
	r := start(t, auth0sim.Options{})
	m := api(t, r, management.WithRetryStrategy(management.RetryStrategy{
		MaxRetries: 2, Statuses: []int{http.StatusTooManyRequests}, PerAttemptTimeout: 300 * time.Millisecond,
	}))
	ctx := t.Context()
	// Take the token first, so the hang meets an API call.
	if _, err := m.EventStream.List(ctx); err != nil {
		t.Fatalf("List: %v", err)
	}
	r.Server().Script(auth0sim.ScriptedFaults{Hangs: 1})
	if _, err := m.EventStream.List(ctx); err != nil {
		t.Fatalf("List through a hang: %v", err)
	}
	c := r.Server().Counters()
	if c.Get(listEndpoint, auth0sim.OutcomeHung) != 1 || c.Get(listEndpoint, "200") != 2 {
		t.Errorf("list outcomes = %v, want 1 hung and 2 200", c.Calls[listEndpoint])
	}
}

func TestWrongClientSecret(t *testing.T) {
	r := start(t, auth0sim.Options{})
	m, err := r.Management(t.Context(), clientID, "wrong", management.WithNoRetries())
	if err != nil {
		t.Fatalf("Management: %v", err)
	}
	_, err = m.EventStream.List(t.Context())
	if err == nil || !strings.Contains(err.Error(), "access_denied") {
		t.Fatalf("List with a wrong secret: %v, want the token fetch refused with access_denied", err)
	}
	c := r.Server().Counters()
	if c.TokensIssued != 0 || c.Get("POST /oauth/token", "401") == 0 || c.Total(listEndpoint) != 0 {
		t.Errorf("counters = %+v, want token calls answered 401, no token issued, no list call", c)
	}
}

func TestDeliveriesThroughClient(t *testing.T) {
	clk := newClock(time.Date(2026, 3, 10, 6, 0, 0, 0, time.UTC))
	r := start(t, auth0sim.Options{Now: clk.Now})
	m := api(t, r)
	ctx := t.Context()
	es := webhookStream("deliveries")
	if err := m.EventStream.Create(ctx, es); err != nil {
		t.Fatalf("Create: %v", err)
	}
	id := es.GetID()

	// A delivery that succeeds is not in the (failed) delivery history.
	ok := &management.TestEvent{EventType: new("user.created")}
	if err := m.EventStream.Test(ctx, id, ok); err != nil {
		t.Fatalf("Test: %v", err)
	}
	if ok.GetStatus() != "pending" || ok.Event.GetA0Purpose() != "test" {
		t.Errorf("test event answer = %+v, want pending with a0purpose test", ok)
	}
	clk.AdvanceTo(r.Server().DeliveriesSettledAt().Add(time.Second))

	if err := r.Server().SetDeliveryOutcome(id, auth0sim.DeliveryOutcome{Fail: true}); err != nil {
		t.Fatal(err)
	}
	bad := &management.TestEvent{EventType: new("user.created")}
	if err := m.EventStream.Test(ctx, id, bad); err != nil {
		t.Fatalf("Test: %v", err)
	}
	clk.AdvanceTo(r.Server().DeliveriesSettledAt().Add(time.Second))

	list, err := m.EventStream.ListDeliveries(ctx, id, management.WithEventTypes("user.created"))
	if err != nil {
		t.Fatalf("ListDeliveries: %v", err)
	}
	if len(list.Deliveries) != 1 || list.Deliveries[0].GetID() != bad.GetID() {
		t.Fatalf("deliveries = %+v, want only the failed %s", list.Deliveries, bad.GetID())
	}
	if d := list.Deliveries[0]; d.GetStatus() != "failed" || len(d.Attempts) != 4 {
		t.Errorf("failed delivery: status %s with %d attempts, want failed with 4", d.GetStatus(), len(d.Attempts))
	}
	stats, err := m.EventStream.Stats(ctx, id)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if stats.Metrics[0].GetWindowTotal() != 1 || stats.Metrics[1].GetWindowTotal() != 1 {
		t.Errorf("stats successful %d failed %d, want 1 and 1", stats.Metrics[0].GetWindowTotal(), stats.Metrics[1].GetWindowTotal())
	}

	if err := m.EventStream.Redeliver(ctx, id, bad.GetID()); err != nil {
		t.Fatalf("Redeliver: %v", err)
	}
	// Redelivering what is already being redelivered is refused.
	if err := m.EventStream.Redeliver(ctx, id, bad.GetID()); status(err) != http.StatusConflict {
		t.Errorf("second Redeliver while retrying: %v, want 409", err)
	}
	clk.AdvanceTo(r.Server().DeliveriesSettledAt().Add(time.Second))
	d, err := m.EventStream.ReadDelivery(ctx, id, bad.GetID())
	if err != nil {
		t.Fatalf("ReadDelivery: %v", err)
	}
	if len(d.Attempts) != 9 || d.Attempts[4].GetStatus() != "retrying" {
		t.Errorf("attempts after a redelivery = %d (5th %q), want 9 with the 5th retrying", len(d.Attempts), d.Attempts[4].GetStatus())
	}
	if err := m.EventStream.RedeliverMany(ctx, id, &management.BulkRedeliverRequest{EventTypes: &[]string{"user.created"}}); err != nil {
		t.Fatalf("RedeliverMany: %v", err)
	}
	clk.AdvanceTo(r.Server().DeliveriesSettledAt().Add(time.Second))
	if d, err = m.EventStream.ReadDelivery(ctx, id, bad.GetID()); err != nil || len(d.Attempts) != 14 {
		t.Errorf("after a bulk redelivery: %d attempts (err %v), want 14", len(d.Attempts), err)
	}
	if _, err := m.EventStream.ReadDelivery(ctx, id, "evt_0000000000000000000000"); status(err) != http.StatusNotFound {
		t.Errorf("ReadDelivery of an unknown event: %v, want 404", err)
	}
}

// token fetches a token over HTTP with the client-credentials grant.
func token(t *testing.T, r *auth0sim.Running) string {
	t.Helper()
	resp, err := r.HTTPClient().PostForm(r.URL+"/oauth/token", map[string][]string{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret},
		"audience": {r.URL + "/api/v2/"},
	})
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := jsonDecode(resp, &tok); err != nil || tok.AccessToken == "" || tok.ExpiresIn != 86400 {
		t.Fatalf("token: status %d, %+v, err %v", resp.StatusCode, tok, err)
	}
	return tok.AccessToken
}

// TestPeakPerSecond: the counters keep the most requests that arrived in
// any one second, rate-limited ones included.
func TestPeakPerSecond(t *testing.T) {
	clk := newClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r := start(t, auth0sim.Options{RateLimit: 2, Burst: 2, Now: clk.Now})
	tok := token(t, r)
	get := func() {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, r.URL+"/api/v2/event-streams", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := r.HTTPClient().Do(req)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		_ = resp.Body.Close()
	}
	// 3 in the first second (one answered 429), then 2 a second.
	for range 3 {
		get()
	}
	for range 4 {
		clk.Advance(time.Second)
		get()
		clk.Advance(100 * time.Millisecond)
		get()
	}
	if got := r.Server().Counters().PeakPerSecond; got != 3 {
		t.Errorf("PeakPerSecond = %d, want 3", got)
	}
	// The bucket of 2 was spent by the 2nd and 3rd calls of the first
	// second, then by every second call of each later second.
	if got := r.Server().Counters().LimitSpent; got != 6 {
		t.Errorf("LimitSpent = %d, want 6", got)
	}
	r.Server().ResetCounters()
	get()
	if got := r.Server().Counters().PeakPerSecond; got != 1 {
		t.Errorf("PeakPerSecond after a reset = %d, want 1", got)
	}
}
