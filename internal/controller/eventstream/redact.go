package eventstream

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/managed"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/redact"
	"github.com/xp-auth0/auth0-eventstream/internal/secretcache"
)

// redacting is the one place where text about a reconcile is cleaned of
// secrets before the managed reconciler turns it into conditions, events
// and logs (and the function copies conditions to the XR). Auth0 and our
// own validation may quote what they refuse: a webhook endpoint with
// user-info, a token. Every error the external client returns, the
// observation diff, and every condition it sets are masked of the secret
// values read for this reconcile (the Auth0 client secret and the webhook
// Secrets, see recordingSecrets) and of secret-looking patterns (URL
// user-info, Authorization values, secret fields of a JSON body).
type redacting struct {
	inner managed.TypedExternalClient[*v1alpha1.EventStream]
	red   *redact.Redactor
}

func (r *redacting) Observe(ctx context.Context, cr *v1alpha1.EventStream) (managed.ExternalObservation, error) {
	o, err := r.inner.Observe(ctx, cr)
	o.Diff = r.red.String(o.Diff)
	return o, r.clean(cr, err)
}

func (r *redacting) Create(ctx context.Context, cr *v1alpha1.EventStream) (managed.ExternalCreation, error) {
	c, err := r.inner.Create(ctx, cr)
	return c, r.clean(cr, err)
}

func (r *redacting) Update(ctx context.Context, cr *v1alpha1.EventStream) (managed.ExternalUpdate, error) {
	u, err := r.inner.Update(ctx, cr)
	return u, r.clean(cr, err)
}

func (r *redacting) Delete(ctx context.Context, cr *v1alpha1.EventStream) (managed.ExternalDelete, error) {
	d, err := r.inner.Delete(ctx, cr)
	return d, r.clean(cr, err)
}

func (r *redacting) Disconnect(ctx context.Context) error {
	return r.red.Error(r.inner.Disconnect(ctx))
}

// clean masks err and the messages of the conditions the client set.
func (r *redacting) clean(cr *v1alpha1.EventStream, err error) error {
	for i := range cr.Status.Conditions {
		cr.Status.Conditions[i].Message = r.red.String(cr.Status.Conditions[i].Message)
	}
	return r.red.Error(err)
}

// recordingSecrets is the external client's Kubernetes client: it reads
// Secrets through the referenced-Secrets cache and remembers every value it
// hands out, so redacting masks them.
type recordingSecrets struct {
	client.Client

	secrets *secretcache.Reader
	red     *redact.Redactor
}

func (k *recordingSecrets) Get(ctx context.Context, key types.NamespacedName, obj client.Object, opts ...client.GetOption) error {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return k.Client.Get(ctx, key, obj, opts...)
	}
	if err := k.secrets.Get(ctx, key, s, opts...); err != nil {
		return err
	}
	for _, v := range s.Data {
		// Values are sent trimmed (see external.secrets): mask both forms.
		k.red.Add(string(v), strings.TrimSpace(string(v)))
	}
	return nil
}

// redactingRecorder masks the messages of the events the external client
// records itself.
type redactingRecorder struct {
	rec event.Recorder
	red *redact.Redactor
}

func (r *redactingRecorder) Event(obj runtime.Object, e event.Event) {
	e.Message = r.red.String(e.Message)
	r.rec.Event(obj, e)
}

func (r *redactingRecorder) WithAnnotations(keysAndValues ...string) event.Recorder {
	return &redactingRecorder{rec: r.rec.WithAnnotations(keysAndValues...), red: r.red}
}
