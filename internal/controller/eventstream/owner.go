package eventstream

import (
	"context"
	"fmt"
	"regexp"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/errors"
	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
)

// streamIDPattern is the shape of every Auth0 event stream id. An external
// name of another shape cannot name a stream; refusing it early keeps a
// typo from reaching Auth0 as a path.
var streamIDPattern = regexp.MustCompile(`^est_[0-9A-Za-z]{22}$`)

// externalNameIndex indexes EventStreams by external name in the manager's
// cache, so every Observe can find other claimants of its stream without
// listing all EventStreams.
const externalNameIndex = "metadata.annotations.externalName"

func externalNames(o client.Object) []string {
	if id := meta.GetExternalName(o); id != "" {
		return []string{id}
	}
	return nil
}

// ownerOf returns the EventStream that owns stream id when it is not cr: of
// all EventStreams naming id, the oldest (ties broken by UID) owns it. An
// EventStream never reads, changes or deletes a stream it does not own.
func (e *external) ownerOf(ctx context.Context, cr *v1alpha1.EventStream, id string) (*v1alpha1.EventStream, error) {
	l := &v1alpha1.EventStreamList{}
	if err := e.kube.List(ctx, l, client.MatchingFields{externalNameIndex: id}); err != nil {
		return nil, errors.Wrap(err, "cannot look up other EventStreams naming the same event stream")
	}
	var owner *v1alpha1.EventStream
	for i := range l.Items {
		o := &l.Items[i]
		if o.GetUID() == cr.GetUID() || meta.GetExternalName(o) != id {
			continue
		}
		if older(o, cr) && (owner == nil || older(o, owner)) {
			owner = o
		}
	}
	return owner, nil
}

// claimed is true when an EventStream other than cr names stream id,
// whatever its age: adoption never takes a stream someone already names.
func (e *external) claimed(ctx context.Context, cr *v1alpha1.EventStream, id string) (bool, error) {
	l := &v1alpha1.EventStreamList{}
	if err := e.kube.List(ctx, l, client.MatchingFields{externalNameIndex: id}); err != nil {
		return false, errors.Wrap(err, "cannot look up other EventStreams naming the same event stream")
	}
	for i := range l.Items {
		if l.Items[i].GetUID() != cr.GetUID() && meta.GetExternalName(&l.Items[i]) == id {
			return true, nil
		}
	}
	return false, nil
}

// older is true when a was created before b. Creation times have a
// resolution of one second, so two resources made in the same second tie:
// then the one whose status already records the stream it names (written
// by this provider after an observe or a create it owned) wins, so a
// newcomer can never take over a stream that is being managed; only then
// the UID decides, so that exactly one of two resources wins.
func older(a, b *v1alpha1.EventStream) bool {
	ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	if !ta.Equal(&tb) {
		return ta.Before(&tb)
	}
	if ha, hb := holdsStream(a), holdsStream(b); ha != hb {
		return ha
	}
	return a.GetUID() < b.GetUID()
}

// holdsStream is true when the provider has recorded in es's status the
// stream its external name names.
func holdsStream(es *v1alpha1.EventStream) bool {
	id := meta.GetExternalName(es)
	return id != "" && es.Status.AtProvider.ID == id
}

func errNotOwner(id string, owner *v1alpha1.EventStream) error {
	return fmt.Errorf("event stream %s is already managed by EventStream %s/%s, created before this one; this EventStream will not change or delete it. Remove the %s annotation to create a stream of its own, or set it to a stream no other EventStream manages", id, owner.GetNamespace(), owner.GetName(), meta.AnnotationKeyExternalName)
}
