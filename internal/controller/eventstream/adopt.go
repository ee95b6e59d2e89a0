package eventstream

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/auth0/go-auth0/management"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/crossplane/crossplane-runtime/v2/pkg/errors"
	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/auth0client"
)

// Defaults of the adoption window.
const (
	// DefaultClockSkew allows for the provider's clock and Auth0's
	// disagreeing.
	DefaultClockSkew = 30 * time.Second
	// DefaultCreateAttemptTimeout is the provider's default --auth0-timeout:
	// a create attempt lasts no longer.
	DefaultCreateAttemptTimeout = 30 * time.Second
)

// adoptionWindow bounds when a stream made by a create attempt can have
// been created, by Auth0's clock: from the attempt's start (its record in
// status.ownership) less the clock skew, to its end (the attempt timeout
// later) plus the skew. A stream created outside it was not made by that
// attempt, however much it looks like it.
type adoptionWindow struct {
	skew    time.Duration
	timeout time.Duration
}

func (w adoptionWindow) bounds(pending time.Time) (from, to time.Time) {
	// The record keeps whole seconds: the attempt began up to a second
	// after it says.
	return pending.Add(-w.skew), pending.Add(time.Second + w.timeout + w.skew)
}

// Bounds of what searches keep in memory.
const (
	// maxSearches is how many searches are remembered at once; the least
	// recently advanced is dropped first (it starts over if it comes back).
	maxSearches = 256
	// maxCandidates is how many look-alike candidates one search keeps:
	// more than one is already an error for a human to resolve.
	maxCandidates = 8
)

// adoptionPagesTotal counts the pages adoption searches request, apart
// from the listings that observe streams (--observe-from-lists): both are
// the same GET /event-streams to Auth0, and only this says which searches
// for a lost create's stream ran (none for a create that sent nothing).
var adoptionPagesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{ //nolint:gochecknoglobals // Prometheus collectors are registered once per process.
	Name: "auth0_eventstream_adoption_list_pages_total",
	Help: "Pages of GET /event-streams requested by searches for the stream of a create whose response was lost, by outcome: ok or failed.",
}, []string{"outcome"})

func init() { //nolint:gochecknoinits // controller-runtime's registry is package-level; our collector joins it once.
	metrics.Registry.MustRegister(adoptionPagesTotal)
}

// listings remembers how far a search for a lost create's stream got, so a
// listing cut short (429s that outlast go-auth0's retries, a reconcile
// timeout) resumes at the page it stopped at instead of starting over, and
// finishes however many pages the tenant holds, up to the listing's bound.
type listings struct {
	mu sync.Mutex
	m  map[types.UID]listing
}

// listing is the progress of one search.
type listing struct {
	// attempt identifies the create attempt and tenant searched for.
	attempt string
	// at is the first page not yet read.
	at auth0client.Cursor
	// found are the candidates on the pages read so far.
	found []*management.EventStream
	// touched is when the search last made progress.
	touched time.Time
}

func newListings() *listings { return &listings{m: map[types.UID]listing{}} }

// forgetAfter drops searches of resources that stopped looking (deleted,
// or their create settled otherwise).
const forgetAfter = time.Hour

func (l *listings) load(uid types.UID, attempt string, now time.Time) listing {
	if l == nil {
		return listing{attempt: attempt}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, v := range l.m {
		if now.Sub(v.touched) > forgetAfter {
			delete(l.m, k)
		}
	}
	if s, ok := l.m[uid]; ok && s.attempt == attempt {
		return s
	}
	return listing{attempt: attempt}
}

func (l *listings) save(uid types.UID, s listing) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.m[uid]; !ok && len(l.m) >= maxSearches {
		var oldest types.UID
		for k, v := range l.m {
			if oldest == "" || v.touched.Before(l.m[oldest].touched) {
				oldest = k
			}
		}
		delete(l.m, oldest)
	}
	l.m[uid] = s
}

func (l *listings) done(uid types.UID) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, uid)
}

// adopt finds the stream the create attempt made for cr when its response
// was lost: exactly the desired stream (name, status, subscriptions as a
// set, destination type and every destination field Auth0 returns),
// created inside the attempt's window, and claimed by no other EventStream
// or Workspace. Look-alikes that fail any of these are not candidates at
// all. Auth0 does not keep names unique, so more than one candidate is an
// error for a human to resolve rather than a guess. Only a verified
// attempt record (status.ownership.createAttempt) leads here.
//
// current is the stream the resource owns now, when the attempt was the
// first step of replacing it; the adopted stream then replaces it.
func (e *external) adopt(ctx context.Context, cr *v1alpha1.EventStream, attempt *v1alpha1.CreateAttempt, current *management.EventStream) (*management.EventStream, error) { //nolint:gocognit // Adoption is destructive-adjacent: every guard is kept in one place to be read together.
	pending, err := time.Parse(time.RFC3339, attempt.Time)
	if err != nil {
		return nil, errors.Wrap(err, "status.ownership.createAttempt.time")
	}
	from, to := e.adoption.bounds(pending)
	p := cr.Spec.ForProvider
	l := auth0client.Listing{API: e.api, MaxPages: e.maxListPages}

	st := e.listings.load(cr.GetUID(), attempt.Tenant+"\x00"+attempt.Time, e.now())
	for {
		streams, next, last, err := l.Next(ctx, st.at)
		var tooMany *auth0client.TooManyPagesError
		switch {
		case err == nil:
			adoptionPagesTotal.WithLabelValues("ok").Inc()
		case !errors.As(err, &tooMany):
			// A page past the bound is refused before any request.
			adoptionPagesTotal.WithLabelValues("failed").Inc()
		}
		if err != nil {
			if errors.As(err, &tooMany) {
				e.listings.done(cr.GetUID())
				return nil, errors.Wrapf(err, "%s: the search stops there and starts over at the next reconcile; if a stream exactly like this one was created around %s, set the %s annotation to it", errList, pending.Format(time.RFC3339), meta.AnnotationKeyExternalName)
			}
			if code := auth0client.StatusCode(err); st.at.From != "" && code >= 400 && code < 500 && code != http.StatusTooManyRequests {
				// Auth0 no longer takes the checkpoint (expired, say):
				// resuming there would fail forever.
				e.listings.done(cr.GetUID())
				return nil, errors.Wrap(auth0client.Explain(err), errList+" (the search starts over)")
			}
			st.touched = e.now()
			e.listings.save(cr.GetUID(), st)
			return nil, errors.Wrap(auth0client.Explain(err), errList+" (the search resumes at this page)")
		}
		for _, s := range streams {
			if s.CreatedAt == nil || s.CreatedAt.Before(from) || s.CreatedAt.After(to) {
				continue
			}
			if current != nil && deref(s.ID) == deref(current.ID) {
				continue
			}
			if !sameStream(p, s) {
				continue
			}
			if len(st.found) == maxCandidates {
				e.listings.done(cr.GetUID())
				return nil, errors.Errorf("a create of this stream may have succeeded without its response, and Auth0 holds more than %d streams exactly like it created between %s and %s; set the %s annotation to the one to keep and delete the others", maxCandidates, from.Format(time.RFC3339), to.Format(time.RFC3339), meta.AnnotationKeyExternalName)
			}
			st.found = append(st.found, s)
		}
		if last {
			break
		}
		st.at, st.touched = next, e.now()
		e.listings.save(cr.GetUID(), st)
	}
	e.listings.done(cr.GetUID())

	var found []*management.EventStream
	for _, s := range st.found {
		who, err := e.claimed(ctx, cr, deref(s.ID))
		if err != nil {
			return nil, err
		}
		if who == "" {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		// The attempt made no stream, or none left to take: nothing to
		// search for again.
		return nil, e.setOwnership(ctx, cr, func(o *v1alpha1.Ownership) { o.CreateAttempt = nil })
	case 1:
	default:
		ids := make([]string, 0, len(found))
		for _, s := range found {
			ids = append(ids, deref(s.ID))
		}
		return nil, errors.Errorf("a create of this stream may have succeeded without its response, and Auth0 holds %d unclaimed streams exactly like it created between %s and %s (%v); set the %s annotation to the one to keep and delete the others", len(found), from.Format(time.RFC3339), to.Format(time.RFC3339), ids, meta.AnnotationKeyExternalName)
	}

	s := found[0]
	id := deref(s.ID)
	msg := fmt.Sprintf("Adopted event stream %s, created by an earlier attempt whose response was lost", id)
	// Recorded in status first: a crash before the name is written leaves
	// a record the next reconcile names the resource from.
	if err := e.setOwnership(ctx, cr, func(o *v1alpha1.Ownership) {
		o.Stream = ownedStream(e.key, cr.GetUID(), attempt.Tenant, id, v1alpha1.OriginAdopted)
		o.CreateAttempt = nil
		if current != nil {
			// The adopted stream is the replacement: the one it replaces is
			// recorded for deletion in the same write.
			o.Replaced = replacedStream(e.key, cr.GetUID(), attempt.Tenant, deref(current.ID))
		}
	}); err != nil {
		return nil, err
	}
	if current != nil {
		msg += fmt.Sprintf(" to replace %s, which is deleted next", deref(current.ID))
	}
	now := e.now().Format(time.RFC3339)
	if err := e.patchMetadata(ctx, cr, map[string]*string{
		meta.AnnotationKeyExternalName:            &id,
		meta.AnnotationKeyExternalCreateSucceeded: &now,
	}, streamLabel(cr, id)); err != nil {
		return nil, err
	}
	e.record.Event(cr, event.Normal(reasonAdopt, msg))
	return s, nil
}

// sameStream is true when s is exactly the stream p describes, as far as
// Auth0 returns it (secrets are write-only).
func sameStream(p v1alpha1.EventStreamParameters, s *management.EventStream) bool {
	return deref(s.Name) == p.Name &&
		deref(s.Status) == desiredStatus(p) &&
		observedType(s) == p.Destination.Type &&
		sameSet(observedSubscriptions(s), p.Subscriptions) &&
		len(destinationDiff(p, s)) == 0
}
