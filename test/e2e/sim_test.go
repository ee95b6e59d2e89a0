//go:build e2e

package e2e

import (
	"context"
	"net/http"

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
