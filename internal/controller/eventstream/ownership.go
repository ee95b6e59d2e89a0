package eventstream

import (
	"context"
	"encoding/json"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/errors"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/proof"
)

// Kinds of proof. Each binds the resource's UID and the tenant, so a record
// copied to another resource, or edited to name another tenant or stream,
// does not verify; distinct kinds keep a record of one sort from passing
// for another (a replaced stream's proof grants deletion, not updates).
const (
	proofStream        = "stream"
	proofReplaced      = "replaced"
	proofCreateAttempt = "create-attempt"
)

// records are the ownership records of an EventStream whose proofs verify;
// a record that does not verify is nil, as if absent.
type records struct {
	stream   *v1alpha1.OwnedStream
	replaced *v1alpha1.OwnedStream
	attempt  *v1alpha1.CreateAttempt
}

// empty is true when the resource holds no verified record.
func (r records) empty() bool { return r.stream == nil && r.replaced == nil && r.attempt == nil }

// owns is true when the resource holds a verified record of stream id.
func (r records) owns(id string) bool { return id != "" && r.stream != nil && r.stream.ID == id }

// verify returns es's records whose proofs key verifies. The tenant of
// each record is the one it names: a record of another tenant verifies
// and pins the resource to it (see guardTenant).
func verify(key proof.Key, es *v1alpha1.EventStream) records {
	o := es.Status.Ownership
	if o == nil {
		return records{}
	}
	uid := string(es.GetUID())
	var r records
	if s := o.Stream; s != nil && streamIDPattern.MatchString(s.ID) && key.Verify(s.Proof, proofStream, uid, s.Tenant, s.ID, s.Origin) {
		r.stream = s
	}
	if s := o.Replaced; s != nil && streamIDPattern.MatchString(s.ID) && key.Verify(s.Proof, proofReplaced, uid, s.Tenant, s.ID) {
		r.replaced = s
	}
	if a := o.CreateAttempt; a != nil && key.Verify(a.Proof, proofCreateAttempt, uid, a.Tenant, a.Time) {
		if _, err := time.Parse(time.RFC3339, a.Time); err == nil {
			r.attempt = a
		}
	}
	return r
}

func ownedStream(key proof.Key, uid types.UID, tenant, id, origin string) *v1alpha1.OwnedStream {
	return &v1alpha1.OwnedStream{ID: id, Tenant: tenant, Origin: origin, Proof: key.Sign(proofStream, string(uid), tenant, id, origin)}
}

func replacedStream(key proof.Key, uid types.UID, tenant, id string) *v1alpha1.OwnedStream {
	return &v1alpha1.OwnedStream{ID: id, Tenant: tenant, Proof: key.Sign(proofReplaced, string(uid), tenant, id)}
}

func createAttempt(key proof.Key, uid types.UID, tenant string, at time.Time) *v1alpha1.CreateAttempt {
	t := at.UTC().Format(time.RFC3339)
	return &v1alpha1.CreateAttempt{Time: t, Tenant: tenant, Proof: key.Sign(proofCreateAttempt, string(uid), tenant, t)}
}

// holds is true when es holds a verified record of owning stream id, in
// whatever tenant.
func holds(key proof.Key, es *v1alpha1.EventStream, id string) bool {
	return verify(key, es).owns(id)
}

const errRecord = "cannot record what the provider holds in status.ownership"

// setOwnership applies fn to status.ownership and persists that at once
// with a merge patch of the status subresource, keeping every other
// in-memory change to status: the reconciler writes the rest at the end.
// On failure the in-memory ownership is restored too, so an unpersisted
// record is never written later by accident.
func (e *external) setOwnership(ctx context.Context, cr *v1alpha1.EventStream, fn func(o *v1alpha1.Ownership)) error {
	return e.setOwnershipSince(ctx, cr, cr.DeepCopy(), fn)
}

// setOwnershipSince is setOwnership persisting, in the same patch, every
// change to status made since before, a copy of cr.
func (e *external) setOwnershipSince(ctx context.Context, cr, before *v1alpha1.EventStream, fn func(o *v1alpha1.Ownership)) error {
	o := &v1alpha1.Ownership{}
	if cr.Status.Ownership != nil {
		o = cr.Status.Ownership.DeepCopy()
	}
	fn(o)
	if o.Stream == nil && o.Replaced == nil && o.CreateAttempt == nil {
		o = nil
	}
	cr.Status.Ownership = o
	want := cr.Status.DeepCopy()
	if err := e.kube.Status().Patch(ctx, cr, client.MergeFrom(before)); err != nil {
		cr.Status.Ownership = before.Status.Ownership
		return errors.Wrap(err, errRecord)
	}
	cr.Status = *want
	return nil
}

// patchMetadata merge-patches annotations and labels (a nil value removes
// one) and keeps the in-memory status, which the answer would replace. A
// merge patch needs no resourceVersion, so it neither conflicts nor, unlike
// an update retried after a conflict, brings back an annotation being
// removed.
func (e *external) patchMetadata(ctx context.Context, cr *v1alpha1.EventStream, annotations, labels map[string]*string) error {
	m := map[string]any{}
	if len(annotations) > 0 {
		m["annotations"] = annotations
	}
	if len(labels) > 0 {
		m["labels"] = labels
	}
	body, err := json.Marshal(map[string]any{"metadata": m})
	if err != nil {
		return errors.Wrap(err, errPersist)
	}
	status := cr.Status.DeepCopy()
	if err := e.kube.Patch(ctx, cr, client.RawPatch(types.MergePatchType, body)); err != nil {
		return errors.Wrap(err, errPersist)
	}
	cr.Status = *status
	return nil
}

// streamLabel sets the stream-id label to id, or removes it for "", when
// it says otherwise. The label only helps others refuse a second owner.
func streamLabel(cr *v1alpha1.EventStream, id string) map[string]*string {
	if cr.GetLabels()[v1alpha1.LabelStreamID] == id {
		return nil
	}
	if id == "" {
		return map[string]*string{v1alpha1.LabelStreamID: nil}
	}
	return map[string]*string{v1alpha1.LabelStreamID: &id}
}
