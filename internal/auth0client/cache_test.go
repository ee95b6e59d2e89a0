package auth0client

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/auth0/go-auth0/management"
)

// statusError is a go-auth0 management.Error.
type statusError int

func (e statusError) Error() string { return fmt.Sprintf("%d %s", int(e), http.StatusText(int(e))) }
func (e statusError) Status() int   { return int(e) }

// refusingAPI answers every Read with a 401, as a tenant that keeps
// refusing the provider's tokens.
type refusingAPI struct{ API }

func (refusingAPI) Read(context.Context, string) (*management.EventStream, error) {
	return nil, statusError(http.StatusUnauthorized)
}

// clock is a fake time source tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeCache returns a Cache on a fake clock whose clients always get a 401,
// and a counter of the clients it built (each would fetch a token).
func fakeCache() (*Cache, *clock, *int) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	built := 0
	c := NewCache(Config{})
	c.now = clk.now
	c.new = func(Credentials, Config) (API, error) { built++; return refusingAPI{}, nil }
	return c, clk, &built
}

func TestCacheRebuildsAtMostOncePerMinuteOnPersistentUnauthorized(t *testing.T) {
	c, clk, built := fakeCache()
	cr := Credentials{Domain: "d", ClientID: "id", ClientSecret: secret}
	// A reconcile every second for ten minutes against a tenant that
	// refuses every token.
	for range 600 {
		api, err := c.Get("pc", cr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := api.Read(context.Background(), "est_1"); StatusCode(err) != http.StatusUnauthorized {
			t.Fatalf("Read() error = %v, want a 401", err)
		}
		clk.add(time.Second)
	}
	// The first client, one rebuild at the first 401, then one a minute.
	if *built > 1+1+10 {
		t.Errorf("built %d clients (token requests) in 10 minutes of 401s, want at most 12", *built)
	}
	if *built < 10 {
		t.Errorf("built %d clients in 10 minutes of 401s; a refused client must still be retried once a minute", *built)
	}
	// Another ProviderConfig is throttled on its own.
	before := *built
	api, _ := c.Get("other", cr)
	_, _ = api.Read(context.Background(), "est_1")
	if _, err := c.Get("other", cr); err != nil || *built != before+2 {
		t.Errorf("another key's first 401 built %d clients, want 2 (its own and one rebuild)", *built-before)
	}
}

func TestCacheFirstUnauthorizedRebuildsAtOnce(t *testing.T) {
	c, clk, built := fakeCache()
	cr := Credentials{Domain: "d", ClientID: "id", ClientSecret: secret}
	api, _ := c.Get("pc", cr)
	if same, _ := c.Get("pc", cr); same != api || *built != 1 {
		t.Fatalf("Get() rebuilt a client Auth0 never refused")
	}
	_, _ = api.Read(context.Background(), "est_1")
	if fresh, _ := c.Get("pc", cr); fresh == api || *built != 2 {
		t.Fatalf("the first 401 did not rebuild the client (built %d)", *built)
	}
	// New credentials are a user's rotation: rebuilt at once, throttle or not.
	clk.add(time.Second)
	api, _ = c.Get("pc", cr)
	_, _ = api.Read(context.Background(), "est_1")
	rotated := cr
	rotated.ClientSecret = "rotated"
	if got, _ := c.Get("pc", rotated); got == api || *built != 3 {
		t.Errorf("rotated credentials did not rebuild the client at once (built %d)", *built)
	}
}

func TestCacheSweepEvictsUnusedClients(t *testing.T) {
	c, clk, _ := fakeCache()
	cr := Credentials{Domain: "d", ClientID: "id", ClientSecret: secret}
	if _, err := c.Get("deleted-pc", cr); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get("busy-pc", cr); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		clk.add(time.Minute)
		if _, err := c.Get("busy-pc", cr); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.Sweep(5 * time.Minute); n != 1 {
		t.Errorf("Sweep() evicted %d clients, want 1", n)
	}
	if c.Len() != 1 {
		t.Fatalf("cached clients = %d, want only the busy one", c.Len())
	}
	c.mu.Lock()
	_, busy := c.entries["busy-pc"]
	c.mu.Unlock()
	if !busy {
		t.Errorf("Sweep() evicted the client in use")
	}
	clk.add(6 * time.Minute)
	if n := c.Sweep(5 * time.Minute); n != 1 || c.Len() != 0 {
		t.Errorf("Sweep() evicted %d, %d left; want the now idle client gone", n, c.Len())
	}
}
