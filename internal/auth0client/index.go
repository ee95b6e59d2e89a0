package auth0client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/auth0/go-auth0/management"
)

// An Index answers the provider's observations of one tenant's streams from
// one listing of that tenant (GET /event-streams, paged) per MaxAge, shared
// by every EventStream of the ProviderConfig, instead of a GET per stream
// per poll: at 10,000 streams and a one-minute poll that is 100 requests a
// minute instead of 10,000. A stream the listing cannot answer for (created
// or changed through this client since the listing began, or not in it) is
// read with its own GET, which also confirms a 404.
//
// It is the API it wraps, so every write goes through it and marks the
// stream: a listing that began before a write never answers for that
// stream.
type Index struct {
	API

	// MaxAge is how old a listing may be and still answer; the provider's
	// poll, so each tenant is listed about once per poll.
	MaxAge time.Duration
	// MaxPages bounds one listing; DefaultMaxPages when zero. Streams
	// past the bound are observed with a GET each.
	MaxPages int
	// MaxBytes bounds what a listing keeps, the JSON of its streams;
	// DefaultMaxIndexBytes when zero. Streams past it are observed with a
	// GET each, so what a tenant answers cannot make the provider hold
	// more per ProviderConfig.
	MaxBytes int

	now func() time.Time

	// mu serialises listings: reconciles that find the listing stale wait
	// for the one that refreshes it instead of each listing the tenant.
	mu sync.Mutex
	// at is when the listing in streams began; zero when there is none.
	at time.Time
	// failed is when the last listing failed: the next is tried only a
	// MaxAge later, and reads meanwhile are GETs.
	failed  time.Time
	streams map[string][]byte

	// wmu guards written, apart from mu, so a write never waits for a
	// listing.
	wmu sync.Mutex
	// written is when each stream was last created, changed or deleted
	// through this client, for streams written since the listing began.
	written map[string]time.Time
}

// DefaultMaxIndexBytes is what one listing keeps at most: 10,000 streams
// of about 1 KiB with room to spare.
const DefaultMaxIndexBytes = 16 << 20

// NewIndex returns an Index over api whose listings answer for maxAge.
func NewIndex(api API, maxAge time.Duration, maxPages int) *Index {
	return &Index{API: api, MaxAge: maxAge, MaxPages: maxPages, now: time.Now, written: map[string]time.Time{}}
}

// Observer reads a stream for an observation: from a shared listing when
// it has one.
type Observer interface {
	Observe(ctx context.Context, id string) (*management.EventStream, error)
}

// Observe reads stream id for an observation: from api's listing when api
// is an Index (the clients a Cache builds with Config.ListEvery), with a
// GET otherwise.
func Observe(ctx context.Context, api API, id string) (*management.EventStream, error) {
	if o, ok := api.(Observer); ok {
		return o.Observe(ctx, id)
	}
	return api.Read(ctx, id)
}

// Observe returns stream id as the current listing holds it, listing the
// tenant first when the listing is older than MaxAge; it GETs the stream
// when the listing cannot answer for it.
func (x *Index) Observe(ctx context.Context, id string) (*management.EventStream, error) {
	if raw, ok := x.lookup(ctx, id); ok {
		s := &management.EventStream{}
		if err := json.Unmarshal(raw, s); err == nil {
			return s, nil
		}
	}
	return x.Read(ctx, id)
}

// lookup returns the listed JSON of stream id, when a fresh listing holds
// it and no write through this client came after that listing began.
func (x *Index) lookup(ctx context.Context, id string) ([]byte, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	now := x.now()
	if now.Sub(x.at) >= x.MaxAge && now.Sub(x.failed) >= x.MaxAge {
		if err := x.list(ctx); err != nil {
			// Errors are the single GET's to report: it meets the same
			// tenant (a 401, a 429) or says what is wrong with the stream.
			x.failed, x.at, x.streams = now, time.Time{}, nil
		}
	}
	if x.streams == nil || now.Sub(x.at) >= x.MaxAge {
		return nil, false
	}
	raw, ok := x.streams[id]
	if !ok {
		return nil, false
	}
	x.wmu.Lock()
	w, wrote := x.written[id]
	x.wmu.Unlock()
	if wrote && !w.Before(x.at) {
		return nil, false
	}
	return raw, true
}

// list reads every page of the tenant into a new listing. Called with mu
// held.
func (x *Index) list(ctx context.Context) error {
	began := x.now()
	streams := map[string][]byte{}
	maxBytes, kept := x.MaxBytes, 0
	if maxBytes <= 0 {
		maxBytes = DefaultMaxIndexBytes
	}
	var bad error
	err := Listing{API: x.API, MaxPages: x.MaxPages}.Walk(ctx, func(s *management.EventStream) {
		if s.GetID() == "" || kept >= maxBytes {
			return
		}
		raw, err := json.Marshal(s)
		if err != nil {
			bad = err
			return
		}
		if kept += len(raw); kept <= maxBytes {
			streams[s.GetID()] = raw
		}
	})
	if err == nil {
		err = bad
	}
	var tooMany *TooManyPagesError
	if err != nil && !errors.As(err, &tooMany) {
		return fmt.Errorf("cannot list the tenant's event streams: %w", err)
	}
	// A listing stopped at its bound still answers for the streams it
	// holds; the others are read with a GET each.
	x.at, x.streams, x.failed = began, streams, time.Time{}
	// Writes before this listing began are in it: forget them.
	x.wmu.Lock()
	for id, w := range x.written {
		if w.Before(began) {
			delete(x.written, id)
		}
	}
	x.wmu.Unlock()
	return nil
}

// wrote marks stream id written now: listings that began before it do not
// answer for it.
func (x *Index) wrote(id string) {
	if id == "" {
		return
	}
	x.wmu.Lock()
	x.written[id] = x.now()
	x.wmu.Unlock()
}

// Create creates e and marks the new stream written.
func (x *Index) Create(ctx context.Context, e *management.EventStream) error {
	err := x.API.Create(ctx, e)
	x.wrote(e.GetID())
	return err
}

// Update changes stream id and marks it written, whatever the outcome: a
// failed PATCH may still have changed it.
func (x *Index) Update(ctx context.Context, id string, e *management.EventStream) error {
	defer x.wrote(id)
	return x.API.Update(ctx, id, e)
}

// Delete deletes stream id and marks it written, whatever the outcome.
func (x *Index) Delete(ctx context.Context, id string) error {
	defer x.wrote(id)
	return x.API.Delete(ctx, id)
}

// SendTestEvent and RedeliverFailed change no stream; Stats and
// FailedDeliveries are not listed. They pass through.
