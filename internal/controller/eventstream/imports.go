package eventstream

import (
	"context"
	"fmt"

	"github.com/auth0/go-auth0/management"

	"github.com/crossplane/crossplane-runtime/v2/pkg/errors"
	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/managed"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
)

// observeImport handles a stream the resource names but holds no proof
// of: one made in the dashboard, by another cluster, by the terraform
// backend, or named by whoever may edit the resource. Under its config's
// importPolicy Manage, and when nothing else claims it, the resource takes
// it over: imported is true and the caller manages it from then on.
// Otherwise it is only observed: never changed or deleted, whatever the
// resource's spec and management policies say; obs and err are Observe's
// answer.
func (e *external) observeImport(ctx context.Context, cr *v1alpha1.EventStream, s *management.EventStream) (imported bool, obs managed.ExternalObservation, err error) {
	id := deref(s.ID)
	manages := allowed(cr, xpv2.ManagementActionUpdate) || allowed(cr, xpv2.ManagementActionDelete)
	if e.importPolicy == v1alpha1.ImportPolicyManage && manages && !meta.WasDeleted(cr) {
		who, err := e.claimed(ctx, cr, id)
		if err != nil {
			return false, obs, err
		}
		if who != "" {
			return false, obs, errors.Errorf("event stream %s is claimed by %s; this EventStream will not import, change or delete it. Remove the %s annotation to create a stream of its own", id, who, meta.AnnotationKeyExternalName)
		}
		if err := e.setOwnership(ctx, cr, func(o *v1alpha1.Ownership) {
			o.Stream = ownedStream(e.key, cr.GetUID(), e.tenant, id, v1alpha1.OriginImported)
		}); err != nil {
			return false, obs, err
		}
		e.record.Event(cr, event.Normal(reasonImport, fmt.Sprintf("Imported event stream %s: %s's spec.importPolicy is Manage, so this EventStream now changes and deletes it as its own", id, e.config)))
		return true, obs, nil
	}

	e.observed = nil
	if cr.Status.AtProvider.ID != "" && cr.Status.AtProvider.ID != id {
		resetAtProvider(cr)
	}
	setAtProvider(cr, observation(s))
	cr.SetConditions(xpv2.Available())
	if meta.WasDeleted(cr) {
		e.record.Event(cr, event.Normal(reasonNotDeleting, fmt.Sprintf("Not deleting event stream %s: this EventStream only observed it (an import it holds no record of owning); it is left in Auth0", id)))
		return false, managed.ExternalObservation{ResourceExists: false}, nil
	}
	if err := e.deliveryHooks(ctx, cr, s); err != nil {
		return false, obs, err
	}
	if !mayUpdate(cr) {
		return false, managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: true}, nil
	}
	// Secrets cannot be compared: Auth0 never returns them, and the
	// provider never sent this stream any.
	if d := diff(cr.Spec.ForProvider, s, false); !d.empty() {
		return false, obs, errors.Errorf("event stream %s differs from spec (%s), but it is an import this EventStream does not own and %s's spec.importPolicy is %s: the provider only observes it and changes nothing. Make the spec match the stream, or have the platform set spec.importPolicy: %s on %s to let EventStreams take over the streams they name",
			id, e.mask(d.String()), e.config, e.importPolicy, v1alpha1.ImportPolicyManage, e.config)
	}
	return false, managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: true}, nil
}
