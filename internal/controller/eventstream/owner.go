package eventstream

import (
	"context"
	"fmt"
	"regexp"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kmeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/errors"
	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
)

// streamIDPattern is the shape of every Auth0 event stream id. An external
// name of another shape cannot name a stream; refusing it early keeps a
// typo from reaching Auth0 as a path.
var streamIDPattern = regexp.MustCompile(`^est_[0-9A-Za-z]{22}$`)

// streamIDIndex indexes EventStreams by every stream id they name or
// record (external name, status.ownership's stream and replaced stream),
// so every Observe can find other claimants of its stream without listing
// all EventStreams. What the index finds is checked, never trusted.
const streamIDIndex = "streamIDs"

func streamIDs(o client.Object) []string {
	es, ok := o.(*v1alpha1.EventStream)
	if !ok {
		return nil
	}
	var ids []string
	add := func(id string) {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	add(meta.GetExternalName(es))
	if ow := es.Status.Ownership; ow != nil {
		if ow.Stream != nil {
			add(ow.Stream.ID)
		}
		if ow.Replaced != nil {
			add(ow.Replaced.ID)
		}
	}
	return ids
}

// others returns the EventStreams other than cr that name or record id.
func (e *external) others(ctx context.Context, cr *v1alpha1.EventStream, id string) ([]*v1alpha1.EventStream, error) {
	l := &v1alpha1.EventStreamList{}
	if err := e.kube.List(ctx, l, client.MatchingFields{streamIDIndex: id}); err != nil {
		return nil, errors.Wrap(err, "cannot look up other EventStreams naming the same event stream")
	}
	out := make([]*v1alpha1.EventStream, 0, len(l.Items))
	for i := range l.Items {
		if l.Items[i].GetUID() != cr.GetUID() {
			out = append(out, &l.Items[i])
		}
	}
	return out, nil
}

// ownerOf returns the EventStream that owns stream id when it is not cr.
// Of the EventStreams naming id (and those holding a proof of it), one
// holding a proof wins over one without; among equals the oldest wins,
// ties broken by UID, so exactly one owns it. crHolds says whether cr
// holds a proof of id. An EventStream never reads, changes or deletes a
// stream it does not own.
func (e *external) ownerOf(ctx context.Context, cr *v1alpha1.EventStream, id string, crHolds bool) (*v1alpha1.EventStream, error) {
	others, err := e.others(ctx, cr, id)
	if err != nil {
		return nil, err
	}
	var owner *v1alpha1.EventStream
	ownerHolds := false
	for _, o := range others {
		h := holds(e.key, o, id)
		if !h && meta.GetExternalName(o) != id {
			continue
		}
		if precedes(o, h, cr, crHolds) && (owner == nil || precedes(o, h, owner, ownerHolds)) {
			owner, ownerHolds = o, h
		}
	}
	return owner, nil
}

// precedes is true when a comes before b as the owner of a stream: by
// holding a proof of it, then by age. Creation times have a resolution of
// one second; the UID decides between two made in the same second.
func precedes(a *v1alpha1.EventStream, aHolds bool, b *v1alpha1.EventStream, bHolds bool) bool {
	if aHolds != bHolds {
		return aHolds
	}
	ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	if !ta.Equal(&tb) {
		return ta.Before(&tb)
	}
	return a.GetUID() < b.GetUID()
}

// claimed names an EventStream other than cr that names stream id or
// holds a proof of it (as its stream or a replaced one still to delete),
// or "": an import or an adoption never takes a stream someone else
// claims.
func (e *external) claimed(ctx context.Context, cr *v1alpha1.EventStream, id string) (string, error) {
	others, err := e.others(ctx, cr, id)
	if err != nil {
		return "", err
	}
	for _, o := range others {
		r := verify(e.key, o)
		if meta.GetExternalName(o) == id || r.owns(id) || (r.replaced != nil && r.replaced.ID == id) {
			return fmt.Sprintf("EventStream %s/%s", o.GetNamespace(), o.GetName()), nil
		}
	}
	return e.workspaceClaiming(ctx, id)
}

// WorkspaceListGVK is provider-terraform's namespaced Workspace list: the
// terraform backend's Workspaces carry the id of the stream they own in
// the LabelStreamID label.
var WorkspaceListGVK = schema.GroupVersionKind{Group: "tf.m.upbound.io", Version: "v1beta1", Kind: "WorkspaceList"} //nolint:gochecknoglobals // We treat this as a constant.

// workspaceClaiming names a provider-terraform Workspace labelled with
// stream id, or "". Without provider-terraform's CRD there is none.
func (e *external) workspaceClaiming(ctx context.Context, id string) (string, error) {
	if e.workspaces == nil {
		return "", nil
	}
	// At most one, so reading it whole costs what its metadata would.
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(WorkspaceListGVK)
	err := e.workspaces.List(ctx, l, client.MatchingLabels{v1alpha1.LabelStreamID: id}, client.Limit(1))
	switch {
	case kmeta.IsNoMatchError(err) || apierrors.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", errors.Wrapf(err, "cannot look up provider-terraform Workspaces labelled %s=%s (the provider needs get and list on workspaces.tf.m.upbound.io)", v1alpha1.LabelStreamID, id)
	case len(l.Items) > 0:
		return fmt.Sprintf("provider-terraform Workspace %s/%s", l.Items[0].GetNamespace(), l.Items[0].GetName()), nil
	}
	return "", nil
}

func errNotOwner(id string, owner *v1alpha1.EventStream) error {
	return fmt.Errorf("event stream %s is already managed by EventStream %s/%s; this EventStream will not change or delete it. Remove the %s annotation to create a stream of its own, or set it to a stream no other EventStream manages", id, owner.GetNamespace(), owner.GetName(), meta.AnnotationKeyExternalName)
}
