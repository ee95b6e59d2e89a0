package eventstream

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/crossplane/crossplane-runtime/v2/pkg/errors"
	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/managed"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
)

// perimeterError is a refusal to serve a resource with its config: the
// config may not serve its namespace, or names a host the provider may not
// call. Nothing was read from the credentials Secret (namespaces) or sent
// anywhere (hosts).
type perimeterError struct{ error }

func (o *perimeterError) Unwrap() error { return o.error }

// selects refuses a namespace the ClusterProviderConfig's
// spec.namespaceSelector does not select. It runs before the credentials
// are read or the use is tracked.
func (c *connector) selects(ctx context.Context, pc *v1alpha1.ClusterProviderConfig, namespace string) error {
	if pc.Spec.NamespaceSelector == nil {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(pc.Spec.NamespaceSelector)
	if err != nil {
		return &perimeterError{errors.Wrapf(err, "%s %s: spec.namespaceSelector is not a valid label selector, so it serves no namespace", v1alpha1.ClusterProviderConfigKind, pc.GetName())}
	}
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := c.kube.Get(ctx, types.NamespacedName{Name: namespace}, ns); err != nil {
		return errors.Wrapf(err, "cannot read namespace %s to check %s %s's spec.namespaceSelector (the provider needs get, list and watch on namespaces)", namespace, v1alpha1.ClusterProviderConfigKind, pc.GetName())
	}
	if !sel.Matches(labels.Set(ns.GetLabels())) {
		return &perimeterError{errors.Errorf("%s %s may not be used in namespace %s: its spec.namespaceSelector (%s) does not select the namespace; nothing was read or sent to Auth0. Use a ProviderConfig of the namespace, or ask the platform team to select the namespace", v1alpha1.ClusterProviderConfigKind, pc.GetName(), namespace, sel)}
	}
	return nil
}

// released is the external client of a resource outside its config's
// perimeter that is being deleted and holds no stream: it lets the
// resource go without calling Auth0.
type released struct {
	record event.Recorder
	why    string
}

func (r *released) Observe(_ context.Context, cr *v1alpha1.EventStream) (managed.ExternalObservation, error) {
	r.record.Event(cr, event.Normal(reasonNotDeleting, fmt.Sprintf("Deleted without calling Auth0: the resource holds no stream, and %s", r.why)))
	return managed.ExternalObservation{ResourceExists: false}, nil
}

func (r *released) Create(context.Context, *v1alpha1.EventStream) (managed.ExternalCreation, error) {
	return managed.ExternalCreation{}, errors.New(r.why)
}

func (r *released) Update(context.Context, *v1alpha1.EventStream) (managed.ExternalUpdate, error) {
	return managed.ExternalUpdate{}, errors.New(r.why)
}

func (r *released) Delete(context.Context, *v1alpha1.EventStream) (managed.ExternalDelete, error) {
	return managed.ExternalDelete{}, nil
}

func (r *released) Disconnect(context.Context) error { return nil }
