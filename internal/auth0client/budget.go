package auth0client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A rate budget per tenant: the provider never sends one Auth0 tenant more
// Management API requests than its share of the tenant's rate limit, which
// it shares with every other user of the Management API (the dashboard,
// deploy pipelines, other automation).
//
// Every attempt counts: the budget is a RoundTripper below go-auth0's
// retries. /oauth/token is not counted: it is the Authentication API, whose
// limit is separate.
//
// Two classes of request share it. Foreground requests (observations,
// listings, creates, updates, deletes, test events, redeliveries) wait for
// their turn, bounded by their context. Background requests (delivery
// health: stats and failed deliveries) do not queue: they go only when no
// foreground request is waiting, a reserve is left for foreground ones, and
// their turn comes within one request's share of the window (budgetWindow
// / N: the stats read that follows a reconcile's GET on a budget of 1/s
// waits for it); otherwise they fail at once with a *DeferredError, so the
// caller tries again later instead of holding a worker.

// DefaultRateBudget is the default share of a tenant's Management API rate
// limit, in requests per second: half of an Enterprise production tenant's
// 16/s, leaving the other half to the tenant's other users. A Free or
// non-production tenant (2/s) needs 1; a private cloud tenant's limit is set
// per contract (docs/performance.md).
const DefaultRateBudget = 8

// budgetWindow is the span a budget of N requests per second counts N
// requests in: a second and a tenth. The provider can only space the
// requests it sends; Auth0 counts them as they arrive, and requests sent
// apart can arrive closer together. The tenth is that margin.
const budgetWindow = 1100 * time.Millisecond

// MaxHold bounds how long one answer's x-ratelimit-reset holds a tenant's
// requests, so a host announcing a reset far away cannot stall the
// provider's work on that tenant for longer.
const MaxHold = time.Minute

// defaultHold is how long a 429 or an exhausted x-ratelimit-remaining
// without a usable x-ratelimit-reset holds a tenant's requests: Auth0's
// limits refill every second.
const defaultHold = time.Second

// Reasons a tenant's requests were held, the label of the holds metric.
const (
	HoldRateLimited = "rate_limited"
	HoldExhausted   = "remaining_zero"
)

// A DeferredError is the answer to a background request the budget could
// not spare a request for now. Nothing was sent.
type DeferredError struct {
	Tenant string
}

func (e *DeferredError) Error() string {
	return fmt.Sprintf("the rate budget of Auth0 tenant %s has no request to spare for a background read now", e.Tenant)
}

// IsDeferred is true for the error of a background request the budget
// deferred.
func IsDeferred(err error) bool {
	_, ok := errors.AsType[*DeferredError](err)
	return ok
}

// Budgets hands out one Budget per tenant, so ProviderConfigs naming the
// same tenant share one.
type Budgets struct {
	perSecond int
	metrics   *Metrics
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error

	mu       sync.Mutex
	byTenant map[string]*Budget
}

// NewBudgets returns budgets of perSecond requests per second per tenant.
func NewBudgets(perSecond int, m *Metrics) (*Budgets, error) {
	if perSecond < 1 {
		return nil, fmt.Errorf("the rate budget %d must be at least 1 request per second per tenant", perSecond)
	}
	if m == nil {
		return nil, errors.New("the rate budget needs metrics")
	}
	return &Budgets{perSecond: perSecond, metrics: m, now: time.Now, sleep: sleepCtx, byTenant: map[string]*Budget{}}, nil
}

// PerSecond is each tenant's budget in requests per second.
func (b *Budgets) PerSecond() int { return b.perSecond }

// For returns the budget of tenant, a domain as credentials name it.
func (b *Budgets) For(tenant string) *Budget {
	tenant = TenantKey(tenant)
	b.mu.Lock()
	defer b.mu.Unlock()
	if t, ok := b.byTenant[tenant]; ok {
		return t
	}
	n := b.perSecond
	t := &Budget{
		tenant: tenant, metrics: b.metrics, now: b.now, sleep: b.sleep,
		// A small reserve: a foreground request arriving during a run of
		// background reads goes without waiting. None below 8/s, where one
		// request is a large share.
		reserve: n / 8,
		slots:   make([]time.Time, n),
		share:   budgetWindow / time.Duration(n),
	}
	b.byTenant[tenant] = t
	return t
}

// Sweep forgets the budgets of tenants no request was sent to within idle
// (more than MaxHold): nothing they remember matters any more.
func (b *Budgets) Sweep(idle time.Duration) {
	idle = max(idle, MaxHold+budgetWindow)
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	for k, t := range b.byTenant {
		if t.idleSince(now) > idle {
			delete(b.byTenant, k)
		}
	}
}

// TenantKey normalises a credentials domain (example.eu.auth0.com,
// https://Example.eu.auth0.com/) to the tenant it names.
func TenantKey(domain string) string {
	d := strings.ToLower(strings.TrimSpace(domain))
	if i := strings.Index(d, "//"); i != -1 {
		d = d[i+2:]
	}
	return strings.TrimSuffix(d, "/")
}

// A Budget admits at most len(slots) requests to one tenant in any
// budgetWindow, and none while the tenant's answers say its limit is spent.
type Budget struct {
	tenant  string
	reserve int
	// share is one request's share of the window, the longest a
	// background request waits.
	share   time.Duration
	metrics *Metrics
	now     func() time.Time
	sleep   func(context.Context, time.Duration) error

	mu sync.Mutex
	// slots are the times of the last len(slots) requests admitted, oldest
	// at head: a ring, zero times for requests never sent.
	slots []time.Time
	head  int
	// hold is when the tenant's answers let requests go again.
	hold time.Time
	// waiting counts foreground requests waiting for their turn;
	// background requests go only when none is.
	waiting int
	// used is when a request last asked.
	used time.Time
}

// next is the earliest time a request may go, given now, leaving spare
// of the window's requests to others: one budgetWindow after the
// (spare+1)th oldest of the last len(slots), and not before the hold.
func (b *Budget) next(now time.Time, spare int) time.Time {
	t := b.slots[(b.head+spare)%len(b.slots)].Add(budgetWindow)
	if b.hold.After(t) {
		t = b.hold
	}
	if now.After(t) {
		return now
	}
	return t
}

// take records a request admitted at now, and how many were sent within
// the second up to it.
func (b *Budget) take(now time.Time) {
	n := len(b.slots)
	// The ring is sorted, oldest at head.
	older := sort.Search(n, func(i int) bool { return b.slots[(b.head+i)%n].After(now.Add(-time.Second)) })
	b.metrics.notePeak(n - older + 1)
	b.slots[b.head] = now
	b.head = (b.head + 1) % n
}

// Wait admits a foreground request: at once when the budget allows, else
// when it does, or fails when ctx ends first.
func (b *Budget) Wait(ctx context.Context) error {
	b.mu.Lock()
	start := b.now()
	b.used = start
	counted := false
	defer func() {
		if counted {
			b.waiting--
		}
		b.mu.Unlock()
	}()
	for {
		now := b.now()
		at := b.next(now, 0)
		if !at.After(now) {
			b.take(now)
			if waited := now.Sub(start); waited > 0 {
				b.metrics.BudgetWait.Observe(waited.Seconds())
			}
			return nil
		}
		if !counted {
			b.waiting++
			counted = true
		}
		// The turn is computed again after the sleep: a hold may have come
		// meanwhile, and another request may have taken the slot.
		b.mu.Unlock()
		err := b.sleep(ctx, at.Sub(now))
		b.mu.Lock()
		if err != nil {
			b.metrics.BudgetWait.Observe(b.now().Sub(start).Seconds())
			return fmt.Errorf("waiting for the rate budget of Auth0 tenant %s (%d requests/s): %w", b.tenant, len(b.slots), err)
		}
	}
}

// Background admits a background request when no foreground request is
// waiting, the reserve is left, and its turn comes within share (waiting
// for it); otherwise it returns a *DeferredError at once.
func (b *Budget) Background(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.used = now
	at := b.next(now, b.reserve)
	if b.waiting > 0 || at.Sub(now) > b.share {
		b.metrics.BudgetDeferred.Inc()
		return &DeferredError{Tenant: b.tenant}
	}
	if at.After(now) {
		b.mu.Unlock()
		err := b.sleep(ctx, at.Sub(now))
		b.mu.Lock()
		now = b.now()
		// Another request may have taken the turn meanwhile.
		if err != nil || b.waiting > 0 || b.next(now, b.reserve).After(now) {
			b.metrics.BudgetDeferred.Inc()
			return &DeferredError{Tenant: b.tenant}
		}
	}
	b.take(now)
	return nil
}

// Observe honours an answer's x-ratelimit-* headers: after a 429, or an
// answer saying no request remains, every request to the tenant waits for
// x-ratelimit-reset (epoch seconds), at most MaxHold from now.
func (b *Budget) Observe(rsp *http.Response) {
	var reason string
	switch {
	case rsp.StatusCode == http.StatusTooManyRequests:
		reason = HoldRateLimited
	case strings.TrimSpace(rsp.Header.Get("X-Ratelimit-Remaining")) == "0":
		reason = HoldExhausted
	default:
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	until := now.Add(defaultHold)
	if reset, err := strconv.ParseInt(strings.TrimSpace(rsp.Header.Get("X-Ratelimit-Reset")), 10, 64); err == nil {
		until = time.Unix(reset, 0)
	}
	until = minTime(until, now.Add(MaxHold))
	if until.After(b.hold) && until.After(now) {
		b.hold = until
		b.metrics.BudgetHolds.WithLabelValues(reason).Inc()
	}
}

func (b *Budget) idleSince(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return now.Sub(b.used)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// admitted marks a request context whose first attempt a background
// admission already counted; its retries wait like foreground requests.
type admitted struct{ used atomic.Bool }

type admittedKey struct{}

// background admits a background request on b and returns the context its
// request is sent with, or a *DeferredError. A nil b admits everything.
func background(ctx context.Context, b *Budget) (context.Context, error) {
	if b == nil {
		return ctx, nil
	}
	if err := b.Background(ctx); err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, admittedKey{}, &admitted{}), nil
}

// budgeted sends each request of base within the tenant's budget and
// honours the rate-limit headers of its answer.
type budgeted struct {
	base   http.RoundTripper
	budget *Budget
}

func (t budgeted) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/oauth/token" {
		return t.base.RoundTrip(r)
	}
	if a, ok := r.Context().Value(admittedKey{}).(*admitted); !ok || !a.used.CompareAndSwap(false, true) {
		if err := t.budget.Wait(r.Context()); err != nil {
			return nil, err
		}
	}
	rsp, err := t.base.RoundTrip(r)
	if err == nil {
		t.budget.Observe(rsp)
	}
	return rsp, err
}
