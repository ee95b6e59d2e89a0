package auth0client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/auth0/go-auth0/management"
)

// memTenant is a tenant's event streams in memory, paged as Auth0 pages
// them, counting the calls made to it.
type memTenant struct {
	API

	mu      sync.Mutex
	order   []string
	streams map[string]string // id -> name
	calls   map[string]int
	// listErr, when set, answers every List.
	listErr error
	// duringList runs after a page was read, before it is returned.
	duringList func()
}

func newMemTenant(n int) *memTenant {
	m := &memTenant{streams: map[string]string{}, calls: map[string]int{}}
	for i := range n {
		id := fmt.Sprintf("est_%022d", i)
		m.order = append(m.order, id)
		m.streams[id] = "stream-" + strconv.Itoa(i)
	}
	return m
}

func (m *memTenant) count(call string) int { m.mu.Lock(); defer m.mu.Unlock(); return m.calls[call] }

func (m *memTenant) stream(id string) *management.EventStream {
	return &management.EventStream{ID: new(id), Name: new(m.streams[id])}
}

func (m *memTenant) Read(_ context.Context, id string) (*management.EventStream, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["read"]++
	if _, ok := m.streams[id]; !ok {
		return nil, statusError(http.StatusNotFound)
	}
	return m.stream(id), nil
}

func (m *memTenant) List(_ context.Context, from string) (*management.EventStreamList, error) {
	m.mu.Lock()
	m.calls["list"]++
	if m.listErr != nil {
		m.mu.Unlock()
		return nil, m.listErr
	}
	start := 0
	if from != "" {
		start, _ = strconv.Atoi(from)
	}
	page := &management.EventStreamList{}
	for i := start; i < len(m.order) && len(page.EventStreams) < PageSize; i++ {
		if _, ok := m.streams[m.order[i]]; ok {
			page.EventStreams = append(page.EventStreams, m.stream(m.order[i]))
		}
		if i+1 < len(m.order) {
			page.Next = strconv.Itoa(i + 1)
		} else {
			page.Next = ""
		}
	}
	hook := m.duringList
	m.mu.Unlock()
	if hook != nil {
		hook()
	}
	return page, nil
}

func (m *memTenant) Update(_ context.Context, id string, e *management.EventStream) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["update"]++
	m.streams[id] = e.GetName()
	return nil
}

func (m *memTenant) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["delete"]++
	delete(m.streams, id)
	return nil
}

func newTestIndex(m *memTenant, maxPages int) (*Index, *clock) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	x := NewIndex(m, time.Minute, maxPages)
	x.now = clk.now
	return x, clk
}

func observeAll(t *testing.T, x *Index, m *memTenant) {
	t.Helper()
	for _, id := range m.order {
		s, err := x.Observe(t.Context(), id)
		if err != nil {
			t.Fatalf("Observe(%s): %v", id, err)
		}
		if s.GetID() != id || s.GetName() != m.streams[id] {
			t.Fatalf("Observe(%s) = %s %q, want %q", id, s.GetID(), s.GetName(), m.streams[id])
		}
	}
}

func TestIndexListsOncePerMaxAge(t *testing.T) {
	m := newMemTenant(250)
	x, clk := newTestIndex(m, 0)
	observeAll(t, x, m)
	if l, r := m.count("list"), m.count("read"); l != 3 || r != 0 {
		t.Fatalf("first poll of 250 streams: %d list pages and %d reads, want 3 and 0", l, r)
	}
	clk.add(59 * time.Second)
	observeAll(t, x, m)
	if l, r := m.count("list"), m.count("read"); l != 3 || r != 0 {
		t.Fatalf("within MaxAge: %d list pages and %d reads, want still 3 and 0", l, r)
	}
	clk.add(time.Second)
	observeAll(t, x, m)
	if l, r := m.count("list"), m.count("read"); l != 6 || r != 0 {
		t.Fatalf("a poll later: %d list pages and %d reads, want 6 and 0", l, r)
	}
}

func TestIndexWrittenStreamIsReadUntilListedAgain(t *testing.T) {
	m := newMemTenant(3)
	x, clk := newTestIndex(m, 0)
	observeAll(t, x, m)
	id := m.order[1]
	if err := x.Update(t.Context(), id, &management.EventStream{Name: new("renamed")}); err != nil {
		t.Fatal(err)
	}
	s, err := x.Observe(t.Context(), id)
	if err != nil || s.GetName() != "renamed" {
		t.Fatalf("Observe after an update = %q, %v; want the new name, read afresh", s.GetName(), err)
	}
	if r := m.count("read"); r != 1 {
		t.Errorf("%d reads after one update, want 1", r)
	}
	clk.add(time.Minute)
	observeAll(t, x, m)
	if r := m.count("read"); r != 1 {
		t.Errorf("%d reads once a listing began after the update, want still 1", r)
	}

	if err := x.Delete(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Observe(t.Context(), id); !IsNotFound(err) {
		t.Errorf("Observe after a delete: %v, want a 404 from the stream's own GET", err)
	}
}

func TestIndexWriteDuringListingIsNotAnsweredByIt(t *testing.T) {
	m := newMemTenant(3)
	x, _ := newTestIndex(m, 0)
	id := m.order[0]
	// The page is read, then the stream is changed before the listing
	// ends: the listing holds the old name.
	m.duringList = func() {
		m.duringList = nil
		if err := x.Update(t.Context(), id, &management.EventStream{Name: new("changed-while-listing")}); err != nil {
			t.Error(err)
		}
	}
	s, err := x.Observe(t.Context(), id)
	if err != nil || s.GetName() != "changed-while-listing" {
		t.Fatalf("Observe = %q, %v; want the name written while the listing ran", s.GetName(), err)
	}
}

func TestIndexUnlistedStreamIsReadAlone(t *testing.T) {
	m := newMemTenant(2)
	x, _ := newTestIndex(m, 0)
	if _, err := x.Observe(t.Context(), "est_missingmissingmissing00"); !IsNotFound(err) {
		t.Fatalf("Observe of a stream no listing holds: %v, want its GET's 404", err)
	}
	if l, r := m.count("list"), m.count("read"); l != 1 || r != 1 {
		t.Errorf("%d list pages and %d reads, want 1 and 1", l, r)
	}
}

func TestIndexFailedListingFallsBackToReadsForMaxAge(t *testing.T) {
	m := newMemTenant(5)
	m.listErr = statusError(http.StatusServiceUnavailable)
	x, clk := newTestIndex(m, 0)
	observeAll(t, x, m)
	if l, r := m.count("list"), m.count("read"); l != 1 || r != 5 {
		t.Fatalf("failing listing: %d list calls and %d reads, want 1 and 5", l, r)
	}
	m.mu.Lock()
	m.listErr = nil
	m.mu.Unlock()
	clk.add(time.Minute)
	observeAll(t, x, m)
	if l, r := m.count("list"), m.count("read"); l != 2 || r != 5 {
		t.Errorf("a MaxAge after the failure: %d list calls and %d reads, want 2 and still 5", l, r)
	}
}

func TestIndexBoundedListingAnswersForWhatItHolds(t *testing.T) {
	m := newMemTenant(150)
	x, _ := newTestIndex(m, 1)
	observeAll(t, x, m)
	if l, r := m.count("list"), m.count("read"); l != 1 || r != 50 {
		t.Errorf("150 streams, one page allowed: %d list pages and %d reads, want 1 and 50", l, r)
	}
}

func TestIndexKeepsAtMostMaxBytes(t *testing.T) {
	m := newMemTenant(10)
	x, _ := newTestIndex(m, 0)
	one, _ := m.Read(t.Context(), m.order[0])
	raw, _ := json.Marshal(one)
	x.MaxBytes = 4*len(raw) + 1
	observeAll(t, x, m)
	if l, r := m.count("list"), m.count("read"); l != 1 || r != 1+6 {
		t.Errorf("10 streams, room for 4: %d list pages and %d reads (one by the test), want 1 and 7", l, r)
	}
}

func TestIndexHandsOutCopies(t *testing.T) {
	m := newMemTenant(1)
	x, _ := newTestIndex(m, 0)
	id := m.order[0]
	s, err := x.Observe(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	s.Name = new("scribbled")
	again, err := x.Observe(t.Context(), id)
	if err != nil || again.GetName() != m.streams[id] {
		t.Errorf("second Observe = %q, %v; want the listed name, untouched by the caller", again.GetName(), err)
	}
}

func TestCacheBuildsIndexesWhenListing(t *testing.T) {
	cr := Credentials{Domain: "d", ClientID: "id", ClientSecret: secret}
	for _, every := range []time.Duration{0, time.Minute} {
		c := NewCache(Config{ListEvery: every})
		c.new = func(Credentials, Config) (API, error) { return newMemTenant(1), nil }
		api, err := c.Get("pc", cr)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := api.(Observer); ok != (every > 0) {
			t.Errorf("ListEvery %s: client observes from listings = %t", every, ok)
		}
	}
}
