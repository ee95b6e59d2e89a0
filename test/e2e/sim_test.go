//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"net/http"
	"sync"
	"testing"

	"github.com/xp-auth0/auth0-eventstream/internal/auth0sim"
)

// The simulator's admin API, decoded into its own types.

// simStreams lists every stream the tenant holds, secrets included.
func simStreams(ctx context.Context) ([]auth0sim.Stream, error) {
	var s []auth0sim.Stream
	return s, sim.Do(ctx, http.MethodGet, "/__sim/streams", nil, &s, "")
}

// simLookup returns one stored stream; ok is false when the tenant holds
// none with that id.
func simLookup(ctx context.Context, id string) (auth0sim.Stream, bool, error) {
	all, err := simStreams(ctx)
	if err != nil {
		return auth0sim.Stream{}, false, err
	}
	for _, s := range all {
		if s.ID == id {
			return s, true, nil
		}
	}
	return auth0sim.Stream{}, false, nil
}

// simCounters returns the calls the simulator answered, by endpoint and
// outcome.
func simCounters(ctx context.Context) (auth0sim.Counters, error) {
	var out auth0sim.Counters
	return out, sim.Do(ctx, http.MethodGet, "/__sim/counters", nil, &out, "")
}

// tenantAddrs holds the addresses the plane keeps for tests' own tenants
// (state.Sim.OtherTenants, which the provider's --auth0-domains admits)
// that no test holds now.
var (
	tenantAddrsOnce sync.Once
	tenantAddrs     chan string
)

// tenantAddr returns an address where the test may serve a tenant of its
// own until it ends, waiting while other tests hold every one.
func tenantAddr(t *testing.T) string {
	t.Helper()
	tenantAddrsOnce.Do(func() {
		tenantAddrs = make(chan string, len(state.Sim.OtherTenants))
		for _, a := range state.Sim.OtherTenants {
			tenantAddrs <- a
		}
	})
	if cap(tenantAddrs) == 0 {
		t.Fatal("the control plane keeps no address for a test's own tenant (state.json sim.otherTenants)")
	}
	select {
	case a := <-tenantAddrs:
		// Registered before the tenant's Close, so it runs after it.
		t.Cleanup(func() { tenantAddrs <- a })
		return a
	case <-t.Context().Done():
		t.Fatal(t.Context().Err())
		return ""
	}
}

// tenant is an Auth0 tenant of one test's own: a simulator in the test
// process, which the provider reaches on loopback as it reaches the
// plane's. A test that breaks tokens, injects faults or counts every call
// does so on its own tenant, so the other tests run meanwhile.
type tenant struct {
	*auth0sim.Running

	clientID, secret string
}

func ownTenant(t *testing.T) *tenant {
	t.Helper()
	tn := &tenant{clientID: "e2e-own", secret: rand.Text()}
	r, err := auth0sim.Listen(auth0sim.New(auth0sim.Options{Domain: "own-" + tn.secret[:8], Clients: map[string]string{tn.clientID: tn.secret}}), auth0sim.ListenConfig{Addr: tenantAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	tn.Running = r
	return tn
}

// credentials returns a credentials Secret name in ns for the tenant with
// clientSecret, and the namespace's ProviderConfig default using it.
func (tn *tenant) credentials(ns, name, clientSecret string) []byte {
	return credentials(ns, name, tn.Domain(), tn.clientID, clientSecret, tn.CACertPEM)
}
