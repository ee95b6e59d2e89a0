package auth0client

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// fakeClock is a clock whose sleeps move it forward at once.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
	// slept is every sleep asked for.
	slept []time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	c.t = c.t.Add(d)
	return nil
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testBudgets(t *testing.T, perSecond int) (*Budgets, *fakeClock) {
	t.Helper()
	b, err := NewBudgets(perSecond, NewMetrics())
	if err != nil {
		t.Fatal(err)
	}
	c := &fakeClock{t: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
	b.now, b.sleep = c.now, c.sleep
	return b, c
}

// maxInWindow is the most of times (sorted) within any window of length w.
func maxInWindow(times []time.Time, w time.Duration) int {
	most, lo := 0, 0
	for hi := range times {
		for times[hi].Sub(times[lo]) >= w {
			lo++
		}
		most = max(most, hi-lo+1)
	}
	return most
}

func TestNewBudgetsRefusesLessThanOne(t *testing.T) {
	for _, n := range []int{0, -1} {
		if _, err := NewBudgets(n, NewMetrics()); err == nil {
			t.Errorf("NewBudgets(%d) succeeded, want an error", n)
		}
	}
}

func TestBudgetSharedPerTenant(t *testing.T) {
	b, _ := testBudgets(t, 8)
	if b.For("https://Example.eu.auth0.com/") != b.For("example.eu.auth0.com") {
		t.Error("two spellings of one tenant got two budgets")
	}
	if b.For("a.auth0.com") == b.For("b.auth0.com") {
		t.Error("two tenants share a budget")
	}
}

func TestBudgetNeverAboveInAnyWindow(t *testing.T) {
	for _, perSecond := range []int{1, 2, 8, 16, 100} {
		b, clock := testBudgets(t, perSecond)
		tb := b.For("t.auth0.com")
		var sent []time.Time
		idle := time.Duration(0)
		for i := range 20 * perSecond {
			// Foreground and background requests interleaved, some in
			// bursts, some spread out.
			if i%3 == 0 {
				if err := tb.Background(context.Background()); err == nil {
					sent = append(sent, clock.now())
				}
			} else {
				if err := tb.Wait(context.Background()); err != nil {
					t.Fatal(err)
				}
				sent = append(sent, clock.now())
			}
			if i%7 == 0 {
				d := time.Duration(i%5) * 100 * time.Millisecond
				clock.advance(d)
				idle += d
			}
		}
		if got := maxInWindow(sent, time.Second); got > perSecond {
			t.Errorf("budget %d/s: %d requests in one second", perSecond, got)
		}
		if got := maxInWindow(sent, budgetWindow); got > perSecond {
			t.Errorf("budget %d/s: %d requests in one %s window", perSecond, got, budgetWindow)
		}
		if got, want := gaugeValue(t, b.metrics.BudgetPeak), maxInWindow(sent, time.Second); got != want {
			t.Errorf("budget %d/s: peak metric %d, want %d", perSecond, got, want)
		}
		// And the budget is used: the requests took no more windows than
		// they need, besides the idle time.
		if took, most := sent[len(sent)-1].Sub(sent[0]), idle+time.Duration(len(sent)/perSecond+1)*budgetWindow; took > most {
			t.Errorf("budget %d/s: %d requests took %s, want at most %s", perSecond, len(sent), took, most)
		}
	}
}

func TestBudgetBackgroundDoesNotQueue(t *testing.T) {
	b, clock := testBudgets(t, 16)
	tb := b.For("t.auth0.com")
	// 16/s keeps a reserve of 2 for foreground requests; a background
	// request whose turn is a window away is deferred at once.
	admitted := 0
	for range 20 {
		err := tb.Background(context.Background())
		if err == nil {
			admitted++
			continue
		}
		if !IsDeferred(err) {
			t.Fatalf("Background: %v, want a DeferredError", err)
		}
	}
	if admitted != 14 {
		t.Errorf("%d background requests admitted at once, want 14 (16 less a reserve of 2)", admitted)
	}
	if len(clock.slept) != 0 {
		t.Errorf("deferred background requests slept %v", clock.slept)
	}
	for range 2 {
		if err := tb.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(clock.slept) != 0 {
		t.Errorf("foreground requests within the reserve slept %v", clock.slept)
	}
	// A third waits for the window to pass.
	if err := tb.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(clock.slept) != 1 || clock.slept[0] != budgetWindow {
		t.Errorf("the 17th request slept %v, want one %s", clock.slept, budgetWindow)
	}
}

// TestBudgetBackgroundAfterGETOnOnePerSecond: on a budget of 1/s the stats
// read that follows a reconcile's GET waits for its turn (one request's
// share of the window), instead of being deferred at every reconcile.
func TestBudgetBackgroundAfterGETOnOnePerSecond(t *testing.T) {
	b, clock := testBudgets(t, 1)
	tb := b.For("t.auth0.com")
	if err := tb.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock.advance(50 * time.Millisecond)
	if err := tb.Background(context.Background()); err != nil {
		t.Fatalf("the read after the GET: %v", err)
	}
	if len(clock.slept) != 1 || clock.slept[0] != budgetWindow-50*time.Millisecond {
		t.Errorf("it slept %v, want one %s", clock.slept, budgetWindow-50*time.Millisecond)
	}
}

func TestBudgetBackgroundYieldsToWaitingForeground(t *testing.T) {
	b, _ := testBudgets(t, 1)
	tb := b.For("t.auth0.com")
	asleep, wake := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	tb.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tb.sleep = func(_ context.Context, d time.Duration) error {
		close(asleep)
		<-wake
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
		return nil
	}
	if err := tb.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- tb.Wait(context.Background()) }()
	<-asleep
	// The window passes while the foreground request sleeps: the slot is
	// its, not a background read's.
	mu.Lock()
	now = now.Add(budgetWindow)
	mu.Unlock()
	if err := tb.Background(context.Background()); !IsDeferred(err) {
		t.Errorf("Background with a foreground request waiting: %v, want a DeferredError", err)
	}
	close(wake)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestBudgetWaitEndsWithContext(t *testing.T) {
	b, _ := testBudgets(t, 1)
	tb := b.For("t.auth0.com")
	tb.sleep = func(ctx context.Context, _ time.Duration) error { <-ctx.Done(); return ctx.Err() }
	if err := tb.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tb.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with an ended context: %v, want context.Canceled", err)
	}
	if tb.waiting != 0 {
		t.Errorf("%d requests still counted as waiting", tb.waiting)
	}
}

func answer(code int, remaining string, reset time.Time) *http.Response {
	h := http.Header{}
	if remaining != "" {
		h.Set("X-Ratelimit-Remaining", remaining)
	}
	if !reset.IsZero() {
		h.Set("X-Ratelimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	}
	return &http.Response{StatusCode: code, Header: h, Body: http.NoBody}
}

func TestBudgetHonoursRateLimitHeaders(t *testing.T) {
	cases := map[string]struct {
		rsp func(now time.Time) *http.Response
		// hold is how long the next request waits.
		hold time.Duration
	}{
		"RemainingLeft": {
			rsp:  func(now time.Time) *http.Response { return answer(http.StatusOK, "3", now.Add(5*time.Second)) },
			hold: 0,
		},
		"RemainingZeroWaitsForReset": {
			rsp:  func(now time.Time) *http.Response { return answer(http.StatusOK, "0", now.Add(5*time.Second)) },
			hold: 5 * time.Second,
		},
		"TooManyRequestsWaitsForReset": {
			rsp: func(now time.Time) *http.Response {
				return answer(http.StatusTooManyRequests, "0", now.Add(3*time.Second))
			},
			hold: 3 * time.Second,
		},
		"TooManyRequestsWithoutResetWaitsASecond": {
			rsp:  func(time.Time) *http.Response { return answer(http.StatusTooManyRequests, "", time.Time{}) },
			hold: time.Second,
		},
		"ResetFarAwayIsBounded": {
			rsp: func(now time.Time) *http.Response {
				return answer(http.StatusTooManyRequests, "0", now.Add(24*time.Hour))
			},
			hold: MaxHold,
		},
		"ResetPastHoldsNothing": {
			rsp:  func(now time.Time) *http.Response { return answer(http.StatusOK, "0", now.Add(-time.Minute)) },
			hold: 0,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b, clock := testBudgets(t, 100)
			rsp := tc.rsp(clock.now())
			defer rsp.Body.Close()
			// A background request during the hold is deferred.
			bg := b.For("background.auth0.com")
			bg.Observe(rsp)
			if err := bg.Background(context.Background()); IsDeferred(err) != (tc.hold > 0) {
				t.Errorf("a background request after the answer: %v", err)
			}
			// A foreground request waits for the end of the hold.
			tb := b.For("t.auth0.com")
			tb.Observe(rsp)
			if err := tb.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			var slept time.Duration
			for _, d := range clock.slept {
				slept += d
			}
			if slept != tc.hold {
				t.Errorf("the next request waited %s, want %s", slept, tc.hold)
			}
		})
	}
}

// countingTransport answers every request with rsp and records its path.
type countingTransport struct {
	paths []string
	rsp   func() *http.Response
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.paths = append(c.paths, r.URL.Path)
	return c.rsp(), nil
}

func TestBudgetedTransport(t *testing.T) {
	b, clock := testBudgets(t, 1)
	tb := b.For("t.auth0.com")
	base := &countingTransport{rsp: func() *http.Response { return answer(http.StatusOK, "", time.Time{}) }}
	tr := budgeted{base: base, budget: tb}
	send := func(ctx context.Context, path string) {
		t.Helper()
		r, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://t.auth0.com"+path, http.NoBody)
		rsp, err := tr.RoundTrip(r)
		if err != nil {
			t.Fatal(err)
		}
		_ = rsp.Body.Close()
	}
	// Token requests do not count.
	for range 3 {
		send(context.Background(), "/oauth/token")
	}
	if len(clock.slept) != 0 {
		t.Fatalf("token requests waited: %v", clock.slept)
	}
	// A background admission counts once: its request goes, a retry of it
	// waits its turn.
	ctx, err := background(context.Background(), tb)
	if err != nil {
		t.Fatal(err)
	}
	send(ctx, "/api/v2/event-streams/x/stats")
	if len(clock.slept) != 0 {
		t.Fatalf("the admitted request waited: %v", clock.slept)
	}
	send(ctx, "/api/v2/event-streams/x/stats")
	if len(clock.slept) != 1 {
		t.Fatalf("the retry did not wait its turn: slept %v", clock.slept)
	}
	// A 429 holds the tenant.
	base.rsp = func() *http.Response { return answer(http.StatusTooManyRequests, "0", clock.now().Add(10*time.Second)) }
	send(context.Background(), "/api/v2/event-streams/x")
	if _, err := background(context.Background(), tb); !IsDeferred(err) {
		t.Errorf("a background request after a 429: %v, want a DeferredError", err)
	}
	if got := b.metrics.BudgetHolds.WithLabelValues(HoldRateLimited); got == nil {
		t.Error("no holds counted")
	}
	if len(base.paths) != 6 {
		t.Errorf("sent %d requests, want 6", len(base.paths))
	}
}

func TestBudgetsSweep(t *testing.T) {
	b, clock := testBudgets(t, 8)
	first := b.For("t.auth0.com")
	if err := first.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock.advance(MaxHold)
	b.Sweep(time.Second)
	if b.For("t.auth0.com") != first {
		t.Error("a budget used within its hold bound was forgotten")
	}
	clock.advance(10 * time.Minute)
	b.Sweep(time.Second)
	if b.For("t.auth0.com") == first {
		t.Error("an idle budget was kept")
	}
}

func gaugeValue(t *testing.T, g prometheus.Gauge) int {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return int(m.GetGauge().GetValue())
}
