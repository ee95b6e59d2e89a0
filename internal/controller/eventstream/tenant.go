package eventstream

import (
	"context"
	"fmt"
	"strings"

	"github.com/crossplane/crossplane-runtime/v2/pkg/errors"
	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/managed"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
)

// tenantOf normalises a credentials domain (example.eu.auth0.com,
// https://Example.eu.auth0.com/, host:port) to the tenant it names, so the
// same tenant written two ways is not taken for another.
func tenantOf(domain string) string {
	d := strings.ToLower(strings.TrimSpace(domain))
	if i := strings.Index(d, "//"); i != -1 {
		d = d[i+2:]
	}
	return strings.TrimSuffix(d, "/")
}

// guardTenant stops the reconcile when the resource's records pin it to
// another tenant than the one its config resolves to now (its
// providerConfigRef changed, or the config's Secret points elsewhere). Any
// call would then go to the wrong tenant: a read there finds nothing and a
// create leaves the original stream delivering forever. A new client id or
// secret for the same tenant is a rotation and passes. The tenant of a
// record is part of its proof, so the pin cannot be edited.
//
// The user moves the resource by setting annotationAllowTenantMove to the
// new tenant: the resource forgets what it held in the pinned tenant
// (nothing is deleted there), and the next create makes a stream in the
// new one. When stop is true, obs and err are Observe's answer.
func (e *external) guardTenant(ctx context.Context, cr *v1alpha1.EventStream, rec records) (stop bool, obs managed.ExternalObservation, err error) {
	var pinned, held string
	switch {
	case rec.stream != nil && tenantOf(rec.stream.Tenant) != e.tenant:
		pinned, held = rec.stream.Tenant, "event stream "+rec.stream.ID
	case rec.replaced != nil && tenantOf(rec.replaced.Tenant) != e.tenant:
		pinned, held = rec.replaced.Tenant, "event stream "+rec.replaced.ID
	case rec.attempt != nil && tenantOf(rec.attempt.Tenant) != e.tenant:
		pinned, held = rec.attempt.Tenant, "the stream a lost create may have made"
	default:
		return false, obs, nil
	}
	move := cr.GetAnnotations()[annotationAllowTenantMove]
	if move == "" {
		return true, obs, errors.Errorf("%s is in Auth0 tenant %s (status.ownership), but the resource's provider config now resolves to tenant %s; nothing was read, created or deleted in either tenant. Point the config back at %s, or to move the resource set annotation %s=%s: a new stream is then created in %s and what it held in %s is left there, unmanaged",
			held, pinned, e.tenant, pinned, annotationAllowTenantMove, e.tenant, e.tenant, pinned)
	}
	if tenantOf(move) != e.tenant {
		return true, obs, errors.Errorf("annotation %s is %q, but the resource's provider config resolves to tenant %s (%s is in %s); set it to the tenant to move to, %s, or remove it", annotationAllowTenantMove, move, e.tenant, held, pinned, e.tenant)
	}

	// Move: forget the records of the old tenant, then the names and the
	// create history.
	var left []string
	for _, r := range []*v1alpha1.OwnedStream{rec.stream, rec.replaced} {
		if r != nil {
			left = append(left, r.ID)
		}
	}
	if err := e.setOwnership(ctx, cr, func(o *v1alpha1.Ownership) { *o = v1alpha1.Ownership{} }); err != nil {
		return true, obs, err
	}
	if err := e.patchMetadata(ctx, cr, map[string]*string{
		meta.AnnotationKeyExternalName:            nil,
		meta.AnnotationKeyExternalCreatePending:   nil,
		meta.AnnotationKeyExternalCreateSucceeded: nil,
		meta.AnnotationKeyExternalCreateFailed:    nil,
		annotationAllowTenantMove:                 nil,
	}, streamLabel(cr, "")); err != nil {
		return true, obs, err
	}
	what := "nothing it held"
	if len(left) > 0 {
		what = strings.Join(left, " and ")
	}
	next := "a new stream is created there"
	if meta.WasDeleted(cr) {
		next = "the resource is deleted without touching it"
	}
	e.record.Event(cr, event.Normal(reasonMove, fmt.Sprintf("Moved to Auth0 tenant %s as annotation %s asked: %s stays in tenant %s, no longer managed (delete it there if it is not needed); %s", e.tenant, annotationAllowTenantMove, what, pinned, next)))
	resetAtProvider(cr)
	return true, managed.ExternalObservation{ResourceExists: false}, nil
}
