package eventstream

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/errors"
	"github.com/crossplane/crossplane-runtime/v2/pkg/logging"
	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/proof"
)

// What releases before ownership records kept in annotations. They are
// trusted only in the upgrade (see legacyUpgrade), and removed then.
const (
	legacyAnnotationTenant      = "auth0.m.openmcf.org/tenant"
	legacyAnnotationReplaced    = "auth0.m.openmcf.org/replaced-stream"
	legacyAnnotationMadeNothing = "auth0.m.openmcf.org/external-create-rejected"
)

// legacyUpgrade decides when the state a release without proofs left on an
// EventStream is trusted: only for a resource created before the proof key
// (whose creationTimestamp the API server set, and nobody can change),
// only once per resource in a process, and only until every such resource
// was considered, which is then recorded on the key's Secret for good.
// Without the last two, whoever may edit an old EventStream could forge
// its status and annotations into a proof at any later time.
type legacyUpgrade struct {
	store *proof.Store
	// done is true once every resource made before the key was
	// considered.
	done atomic.Bool

	mu   sync.Mutex
	seen map[types.UID]bool
}

func newLegacyUpgrade(store *proof.Store) *legacyUpgrade {
	u := &legacyUpgrade{store: store, seen: map[types.UID]bool{}}
	u.done.Store(store == nil || store.LegacyRecorded)
	return u
}

// applies is true when cr's legacy state is to be considered now.
func (u *legacyUpgrade) applies(cr *v1alpha1.EventStream) bool {
	if u == nil || u.done.Load() || !cr.GetCreationTimestamp().Time.Before(u.store.Created) {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return !u.seen[cr.GetUID()]
}

func (u *legacyUpgrade) considered(uid types.UID) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.seen[uid] = true
}

// upgradeLegacy records, once, proofs of what a release without proofs
// managed for cr, as that release managed it: the stream it names when
// status.atProvider holds that stream and the policies let it be updated,
// a replaced stream still to delete, and a create whose outcome is not
// known. The tenant is the one the old release pinned, or the config's.
func (e *external) upgradeLegacy(ctx context.Context, cr *v1alpha1.EventStream) error {
	if !e.legacy.applies(cr) {
		return nil
	}
	rec := verify(e.key, cr)
	a := cr.GetAnnotations()
	tenant := tenantOf(a[legacyAnnotationTenant])
	if tenant == "" {
		tenant = e.tenant
	}
	uid := cr.GetUID()
	var stream, replaced *v1alpha1.OwnedStream
	id := meta.GetExternalName(cr)
	if rec.stream == nil && streamIDPattern.MatchString(id) && cr.Status.AtProvider.ID == id && mayUpdate(cr) {
		stream = ownedStream(e.key, uid, tenant, id, v1alpha1.OriginUpgraded)
	}
	if old := a[legacyAnnotationReplaced]; rec.replaced == nil && streamIDPattern.MatchString(old) && old != id {
		replaced = replacedStream(e.key, uid, tenant, old)
	}
	var attempt *v1alpha1.CreateAttempt
	if pending := meta.GetExternalCreatePending(cr); rec.attempt == nil && !pending.IsZero() && pending.After(meta.GetExternalCreateSucceeded(cr)) {
		nothing, err := time.Parse(time.RFC3339, a[legacyAnnotationMadeNothing])
		if err != nil || pending.After(nothing) {
			attempt = createAttempt(e.key, uid, tenant, pending)
		}
	}
	if stream != nil || replaced != nil || attempt != nil {
		if err := e.setOwnership(ctx, cr, func(o *v1alpha1.Ownership) {
			if stream != nil {
				o.Stream = stream
			}
			if replaced != nil {
				o.Replaced = replaced
			}
			if attempt != nil {
				o.CreateAttempt = attempt
			}
		}); err != nil {
			return errors.Wrap(err, "cannot record what the previous release managed for this EventStream")
		}
	}
	drop := map[string]*string{}
	for _, k := range []string{legacyAnnotationTenant, legacyAnnotationReplaced, legacyAnnotationMadeNothing} {
		if _, ok := a[k]; ok {
			drop[k] = nil
		}
	}
	if len(drop) > 0 {
		if err := e.patchMetadata(ctx, cr, drop, nil); err != nil {
			return err
		}
	}
	e.legacy.considered(uid)
	return nil
}

// finish records on the key's Secret that legacy state is trusted no more
// once every EventStream made before the key was considered, checking
// every interval until then or until ctx ends. Resources deleted in the
// meantime need not be considered.
func (u *legacyUpgrade) finish(ctx context.Context, c client.Reader, interval time.Duration, log logging.Logger) {
	if u.done.Load() {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if u.allConsidered(ctx, c) {
			if err := u.store.MarkLegacyRecorded(ctx); err != nil {
				log.Info("Cannot record that legacy ownership is recorded; trying again", "error", err)
			} else {
				u.done.Store(true)
				log.Info("Every EventStream made before the proof key was considered: legacy state is trusted no more")
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (u *legacyUpgrade) allConsidered(ctx context.Context, c client.Reader) bool {
	l := &v1alpha1.EventStreamList{}
	if err := c.List(ctx, l); err != nil {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	for i := range l.Items {
		if l.Items[i].GetCreationTimestamp().Time.Before(u.store.Created) && !u.seen[l.Items[i].GetUID()] {
			return false
		}
	}
	return true
}
