package eventstream

import (
	"context"
	"fmt"
	"strings"

	"github.com/auth0/go-auth0/management"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crossplane/crossplane-runtime/v2/pkg/errors"
	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/auth0client"
)

// TypeReplaced is the condition an EventStream carries after its stream was
// replaced: which stream replaced which, and for EventBridge that the new
// partner event source must be associated with an event bus in AWS again.
const TypeReplaced xpv2.ConditionType = "Replaced"

// Reasons of the Replaced condition.
const (
	ReasonNewPartnerEventSource xpv2.ConditionReason = "NewPartnerEventSource"
	ReasonNewStream             xpv2.ConditionReason = "NewStream"
)

// replace moves the resource to a new stream when Auth0 cannot change old
// in place. The attempt is recorded before the create; the new stream is
// recorded as the resource's own, with old as replaced, before old is
// deleted: a create Auth0 refuses leaves old working, and a crash between
// the steps leaves records the next reconcile finishes from (adopting the
// new stream if its create response was lost, deleting old once the new
// one is recorded).
func (e *external) replace(ctx context.Context, cr *v1alpha1.EventStream, old *management.EventStream, why string) error {
	oldID := deref(old.ID)
	var forbidden []string
	for _, a := range []xpv2.ManagementAction{xpv2.ManagementActionCreate, xpv2.ManagementActionDelete} {
		if !allowed(cr, a) {
			forbidden = append(forbidden, string(a))
		}
	}
	if len(forbidden) > 0 {
		return errors.Errorf("%s: Auth0 cannot change that in place, so event stream %s needs a replacement (a new stream created, then %s deleted), but spec.managementPolicies %v do not allow %s; nothing was changed. Allow Create and Delete (or \"*\") to replace it, or revert the change",
			why, oldID, oldID, cr.GetManagementPolicies(), strings.Join(forbidden, " and "))
	}
	secrets, err := e.secrets(ctx, cr)
	if err != nil {
		return err
	}

	// Record the attempt before making it: if its response is lost, the
	// next Observe adopts what it made.
	if err := e.setOwnership(ctx, cr, func(o *v1alpha1.Ownership) { o.CreateAttempt = createAttempt(e.key, cr.GetUID(), e.tenant, e.now()) }); err != nil {
		return errors.Wrapf(err, "cannot replace event stream %s (%s): nothing was sent", oldID, why)
	}
	s := createBody(cr.Spec.ForProvider, secrets)
	if err := e.api.Create(ctx, s); err != nil {
		if madeNothing(err) {
			_ = e.setOwnership(ctx, cr, func(o *v1alpha1.Ownership) { o.CreateAttempt = nil }) // the error below matters more
		}
		return errors.Wrapf(auth0client.Explain(err), "cannot replace event stream %s (%s): the new stream was not created, so %s is unchanged and still delivering events", oldID, why, oldID)
	}
	newID := deref(s.ID)
	before := cr.DeepCopy()
	resetAtProvider(cr)
	setAtProvider(cr, observation(s))
	cr.Status.AppliedSecretsHash = secretsHash(e.hashKey, cr.Spec.ForProvider, secrets)
	if err := e.setOwnershipSince(ctx, cr, before, func(o *v1alpha1.Ownership) {
		o.Stream = ownedStream(e.key, cr.GetUID(), e.tenant, newID, v1alpha1.OriginCreated)
		o.Replaced = replacedStream(e.key, cr.GetUID(), e.tenant, oldID)
		o.CreateAttempt = nil
	}); err != nil {
		return errors.Wrapf(err, "created event stream %s to replace %s but could not record it; the next reconcile adopts it", newID, oldID)
	}
	if err := e.patchMetadata(ctx, cr, map[string]*string{meta.AnnotationKeyExternalName: &newID}, streamLabel(cr, newID)); err != nil {
		// Recorded in status: the next reconcile renames the resource.
		return errors.Wrapf(err, "created event stream %s to replace %s and recorded it, but could not name it in the external-name annotation", newID, oldID)
	}
	e.observed = s

	msg, reason := fmt.Sprintf("Event stream %s replaced %s (%s)", newID, oldID, why), ReasonNewStream
	if pes := str(observedConfig(s), cfgAWSPartnerEventSource); pes != "" {
		reason = ReasonNewPartnerEventSource
		eb := cr.Spec.ForProvider.Destination.EventBridge
		msg += fmt.Sprintf(". Its AWS partner event source %s is new: associate it with an event bus in AWS account %s, region %s, again; events stop reaching the old one", pes, eb.AWSAccountID, eb.AWSRegion)
	}
	cr.SetConditions(xpv2.Condition{Type: TypeReplaced, Status: corev1.ConditionTrue, Reason: reason, Message: msg, LastTransitionTime: metav1.Now()})
	e.record.Event(cr, event.Normal(reasonReplace, msg))

	return e.deleteReplaced(ctx, cr, cr.Status.Ownership.Replaced)
}

// deleteReplaced deletes a stream a replacement superseded, recorded with
// its proof, and forgets it. It is never another EventStream's stream: if
// one names it by now, it is left alone.
func (e *external) deleteReplaced(ctx context.Context, cr *v1alpha1.EventStream, old *v1alpha1.OwnedStream) error {
	if tenantOf(old.Tenant) != e.tenant {
		return errors.Errorf("event stream %s, replaced by %s, is in Auth0 tenant %s, but the resource's provider config now resolves to tenant %s; it is not deleted", old.ID, meta.GetExternalName(cr), old.Tenant, e.tenant)
	}
	who, err := e.claimed(ctx, cr, old.ID)
	if err != nil {
		return err
	}
	switch {
	case who != "":
		e.record.Event(cr, event.Warning(reasonNotDeleting, errors.Errorf("not deleting event stream %s, replaced by %s: %s now manages it", old.ID, meta.GetExternalName(cr), who)))
	case !allowed(cr, xpv2.ManagementActionDelete):
		return errors.Errorf("event stream %s, replaced by %s, is still to be deleted, but spec.managementPolicies %v no longer allow Delete; allow it, or delete %s in Auth0 yourself and remove status.ownership.replaced", old.ID, meta.GetExternalName(cr), cr.GetManagementPolicies(), old.ID)
	default:
		if err := e.api.Delete(ctx, old.ID); err != nil && !auth0client.IsNotFound(err) {
			return errors.Wrapf(auth0client.Explain(err), "cannot delete event stream %s, replaced by %s; it is deleted on the next attempt", old.ID, meta.GetExternalName(cr))
		}
	}
	return e.setOwnership(ctx, cr, func(o *v1alpha1.Ownership) { o.Replaced = nil })
}
