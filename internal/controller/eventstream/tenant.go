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

// guardTenant stops the reconcile when the resource's stream may be in
// another tenant than the one its config resolves to now (its
// providerConfigRef changed, or the config's Secret points elsewhere). Any
// call would then go to the wrong tenant: a read there finds nothing and a
// create leaves the original stream delivering forever. A new client id or
// secret for the same tenant is a rotation and passes.
//
// The user moves the resource by setting annotationAllowTenantMove to the
// new tenant: the old stream stays where it is, unmanaged, and the next
// create makes one in the new tenant. When stop is true, obs and err are
// Observe's answer.
func (e *external) guardTenant(ctx context.Context, cr *v1alpha1.EventStream) (stop bool, obs managed.ExternalObservation, err error) {
	a := cr.GetAnnotations()
	pinned := tenantOf(a[annotationTenant])
	id, old := meta.GetExternalName(cr), a[annotationReplacedStream]
	mayHoldStream := id != "" || old != "" || createMayHaveSucceeded(cr)
	if pinned == "" || pinned == e.tenant || !mayHoldStream {
		return false, obs, nil
	}
	held := id
	if held == "" {
		held = "the stream a lost create may have made"
	}
	move := a[annotationAllowTenantMove]
	if move == "" {
		return true, obs, errors.Errorf("event stream %s is in Auth0 tenant %s (annotation %s), but the resource's provider config now resolves to tenant %s; nothing was read, created or deleted in either tenant. Point the config back at %s, or to move the resource set annotation %s=%s: a new stream is then created in %s and %s is left in %s, unmanaged",
			held, pinned, annotationTenant, e.tenant, pinned, annotationAllowTenantMove, e.tenant, e.tenant, held, pinned)
	}
	if tenantOf(move) != e.tenant {
		return true, obs, errors.Errorf("annotation %s is %q, but the resource's provider config resolves to tenant %s (the stream %s is in %s); set it to the tenant to move to, %s, or remove it", annotationAllowTenantMove, move, e.tenant, held, pinned, e.tenant)
	}

	// Move: forget the stream and the create history of the old tenant in
	// one write, pinning the new one.
	patch := map[string]*string{
		meta.AnnotationKeyExternalName:            nil,
		meta.AnnotationKeyExternalCreatePending:   nil,
		meta.AnnotationKeyExternalCreateSucceeded: nil,
		meta.AnnotationKeyExternalCreateFailed:    nil,
		annotationCreateMadeNothing:               nil,
		annotationReplacedStream:                  nil,
		annotationAllowTenantMove:                 nil,
		annotationTenant:                          &e.tenant,
	}
	if err := e.annotate(ctx, cr, patch); err != nil {
		return true, obs, err
	}
	left := held
	if old != "" {
		left += " and " + old
	}
	next := "a new stream is created there"
	if meta.WasDeleted(cr) {
		next = "the resource is deleted without touching it"
	}
	e.record.Event(cr, event.Normal(reasonMove, fmt.Sprintf("Moved to Auth0 tenant %s as annotation %s asked: %s stays in tenant %s, no longer managed (delete it there if it is not needed); %s", e.tenant, annotationAllowTenantMove, left, pinned, next)))
	resetAtProvider(cr)
	return true, managed.ExternalObservation{ResourceExists: false}, nil
}
