// Package eventstream reconciles EventStream managed resources with Auth0
// event streams through go-auth0.
package eventstream

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/auth0/go-auth0/management"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/errors"
	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/managed"
	"github.com/crossplane/crossplane-runtime/v2/pkg/resource"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/auth0client"
	"github.com/xp-auth0/auth0-eventstream/internal/redact"
	"github.com/xp-auth0/auth0-eventstream/internal/secretcache"
)

const (
	errTrackUsage     = "cannot track ProviderConfig usage"
	errNoPCRef        = "spec.providerConfigRef is not set"
	errGetPC          = "cannot get ProviderConfig"
	errGetCPC         = "cannot get ClusterProviderConfig"
	errGetCredsSecret = "cannot get the credentials Secret"
	errNoSecretRef    = "credentials.secretRef is required when credentials.source is Secret"

	errNamespacedEnvironment = "ProviderConfig %s/%s: spec.credentials.source Environment (the provider's own credentials) is only allowed in a ClusterProviderConfig; use source Secret"
	errNewClient             = "cannot build an Auth0 client"
	errRead                  = "cannot read the event stream from Auth0"
	errList                  = "cannot list event streams in Auth0"
	errCreate                = "cannot create the event stream in Auth0"
	errUpdate                = "cannot update the event stream in Auth0"
	errDelete                = "cannot delete the event stream in Auth0"
	errGetSecret             = "cannot get a webhook authorization Secret"
	errPersist               = "cannot record the event stream's id on the EventStream"
)

// Event reasons a user can act on.
const (
	reasonReplace event.Reason = "ReplaceEventStream"
	reasonAdopt   event.Reason = "AdoptEventStream"
)

// annotationCreateRejected records when Auth0 answered a create with a
// definite refusal (4xx): that attempt made no stream, so the next Observe
// need not list streams to adopt one.
const annotationCreateRejected = "auth0.m.openmcf.org/external-create-rejected"

// adoptionSkew allows for the provider's clock running ahead of Auth0's when
// looking for a stream created after a create-pending annotation.
const adoptionSkew = 30 * time.Second

// connector builds an external client per reconcile around a cached Auth0
// client.
type connector struct {
	kube client.Client
	// secrets reads credentials and webhook Secrets; the manager's client
	// does not cache Secrets.
	secrets *secretcache.Reader
	usage   resource.ModernTracker
	clients *auth0client.Cache
	record  event.Recorder
	getenv  func(string) string
	// apiFor returns the Auth0 client of a config; clients.Get when nil.
	// Unit tests set it to a fake.
	apiFor func(key string, creds auth0client.Credentials) (auth0client.API, error)
}

// Connect resolves the resource's ProviderConfig and credentials. The Auth0
// client is reused while the credentials stay the same. What it returns
// masks, in every error, condition and event, the secret values read for
// this reconcile (see redacting).
func (c *connector) Connect(ctx context.Context, cr *v1alpha1.EventStream) (managed.TypedExternalClient[*v1alpha1.EventStream], error) {
	red := redact.New()
	ext, err := c.connect(ctx, cr, red)
	if err != nil {
		return nil, red.Error(err)
	}
	return &redacting{inner: ext, red: red}, nil
}

func (c *connector) connect(ctx context.Context, cr *v1alpha1.EventStream, red *redact.Redactor) (*external, error) {
	if err := c.usage.Track(ctx, cr); err != nil {
		return nil, errors.Wrap(err, errTrackUsage)
	}
	ref := cr.GetProviderConfigReference()
	if ref == nil {
		return nil, errors.New(errNoPCRef)
	}
	var (
		key   string
		creds auth0client.Credentials
		err   error
	)
	switch ref.Kind {
	case v1alpha1.ProviderConfigKind:
		pc := &v1alpha1.ProviderConfig{}
		if err := c.kube.Get(ctx, types.NamespacedName{Namespace: cr.GetNamespace(), Name: ref.Name}, pc); err != nil {
			return nil, errors.Wrap(err, errGetPC)
		}
		if pc.Spec.Credentials.Source == v1alpha1.CredentialsSourceEnvironment {
			// The CRD refuses this; a config stored before that rule must
			// not hand out the provider's own credentials either.
			return nil, errors.Errorf(errNamespacedEnvironment, pc.GetNamespace(), pc.GetName())
		}
		key = string(pc.GetUID())
		var secret *xpv2.SecretReference
		if r := pc.Spec.Credentials.SecretRef; r != nil {
			// A namespaced ProviderConfig only ever reads its own namespace.
			secret = &xpv2.SecretReference{Namespace: pc.GetNamespace(), Name: r.Name}
		}
		creds, err = c.credentials(ctx, pc.Spec.Credentials.Source, secret)
	case v1alpha1.ClusterProviderConfigKind:
		pc := &v1alpha1.ClusterProviderConfig{}
		if err := c.kube.Get(ctx, types.NamespacedName{Name: ref.Name}, pc); err != nil {
			return nil, errors.Wrap(err, errGetCPC)
		}
		key = string(pc.GetUID())
		creds, err = c.credentials(ctx, pc.Spec.Credentials.Source, pc.Spec.Credentials.SecretRef)
	default:
		return nil, errors.Errorf("unsupported providerConfigRef kind %q: use ProviderConfig or ClusterProviderConfig", ref.Kind)
	}
	red.Add(creds.ClientSecret)
	if err != nil {
		return nil, err
	}
	apiFor := c.apiFor
	if apiFor == nil {
		apiFor = c.clients.Get
	}
	api, err := apiFor(key, creds)
	if err != nil {
		return nil, errors.Wrap(err, errNewClient)
	}
	k := sha256.Sum256([]byte(creds.ClientSecret + "\x00" + string(cr.GetUID())))
	return &external{
		api:     api,
		kube:    &recordingSecrets{Client: c.kube, secrets: c.secrets, red: red},
		record:  &redactingRecorder{rec: c.record, red: red},
		hashKey: k[:],
		now:     time.Now,
	}, nil
}

func (c *connector) credentials(ctx context.Context, src xpv2.CredentialsSource, ref *xpv2.SecretReference) (auth0client.Credentials, error) {
	switch src {
	case v1alpha1.CredentialsSourceSecret:
		if ref == nil {
			return auth0client.Credentials{}, errors.New(errNoSecretRef)
		}
		s := &corev1.Secret{}
		if err := c.secrets.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, s); err != nil {
			return auth0client.Credentials{}, errors.Wrapf(err, "%s %s/%s", errGetCredsSecret, ref.Namespace, ref.Name)
		}
		creds := auth0client.FromSecretData(s.Data)
		return creds, errors.Wrapf(creds.Validate(), "credentials Secret %s/%s", ref.Namespace, ref.Name)
	case v1alpha1.CredentialsSourceEnvironment:
		getenv := c.getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		creds := auth0client.FromEnv(getenv)
		return creds, errors.Wrap(creds.Validate(), "provider environment")
	default:
		return auth0client.Credentials{}, errors.Errorf("unsupported credentials source %q: use Secret or Environment", src)
	}
}

// external manages one EventStream for the length of a reconcile.
type external struct {
	api     auth0client.API
	kube    client.Client
	record  event.Recorder
	hashKey []byte
	now     func() time.Time

	// observed is the stream as the last Observe saw it; Update diffs
	// against it instead of reading it again.
	observed *management.EventStream
}

// Observe reads the stream by its id. A stream that is gone (404) does not
// exist, whether or not the resource is being deleted, so it is recreated
// when deleted out of band. A resource whose create may have succeeded
// without recording an id first looks for that stream.
func (e *external) Observe(ctx context.Context, cr *v1alpha1.EventStream) (managed.ExternalObservation, error) {
	var s *management.EventStream
	if id := meta.GetExternalName(cr); id != "" {
		got, err := e.api.Read(ctx, id)
		switch {
		case auth0client.IsNotFound(err):
			// Gone, perhaps deleted out of band: it does not exist.
		case err != nil:
			return managed.ExternalObservation{}, errors.Wrap(auth0client.Explain(err), errRead)
		default:
			s = got
		}
	}
	if s == nil && createMayHaveSucceeded(cr) {
		got, err := e.adopt(ctx, cr)
		if err != nil {
			return managed.ExternalObservation{}, err
		}
		s = got
	}
	if s == nil {
		cr.Status.AtProvider = v1alpha1.EventStreamObservation{}
		return managed.ExternalObservation{ResourceExists: false}, nil
	}
	e.observed = s
	cr.Status.AtProvider = observation(s)
	cr.SetConditions(xpv2.Available())

	// Being deleted, or only observed: the desired state does not matter,
	// and its Secrets may already be gone.
	if meta.WasDeleted(cr) || !mayUpdate(cr) {
		return managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: true}, nil
	}
	secrets, err := e.secrets(ctx, cr)
	if err != nil {
		return managed.ExternalObservation{}, err
	}
	d := diff(cr.Spec.ForProvider, s, secretsHash(e.hashKey, cr.Spec.ForProvider, secrets) != cr.Status.AppliedSecretsHash)
	return managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: d.empty(), Diff: d.String()}, nil
}

// mayUpdate is false when management policies forbid updates, as for an
// Observe-only import.
func mayUpdate(cr *v1alpha1.EventStream) bool {
	p := cr.GetManagementPolicies()
	return len(p) == 0 || slices.Contains(p, xpv2.ManagementActionAll) || slices.Contains(p, xpv2.ManagementActionUpdate)
}

// createMayHaveSucceeded is true when a create was started after the last
// one known to have succeeded: its response may have been lost after Auth0
// created the stream.
func createMayHaveSucceeded(cr *v1alpha1.EventStream) bool {
	pending := meta.GetExternalCreatePending(cr)
	if pending.IsZero() || !pending.After(meta.GetExternalCreateSucceeded(cr)) {
		return false
	}
	rejected, err := time.Parse(time.RFC3339, cr.GetAnnotations()[annotationCreateRejected])
	return err != nil || pending.After(rejected)
}

// rejected is true when err proves Auth0 made no stream: a 4xx answer. A
// 5xx or a lost connection proves nothing.
func rejected(err error) bool {
	code := auth0client.StatusCode(err)
	return code >= 400 && code < 500
}

// adopt finds the stream a lost create made for cr: exactly its name and
// destination type, created no earlier than the create-pending annotation,
// and claimed by no other EventStream. Auth0 does not keep names unique, so
// more than one candidate is an error for a human to resolve rather than a
// guess.
func (e *external) adopt(ctx context.Context, cr *v1alpha1.EventStream) (*management.EventStream, error) {
	since := meta.GetExternalCreatePending(cr).Add(-adoptionSkew)
	claimed, err := e.claimedIDs(ctx, cr)
	if err != nil {
		return nil, err
	}
	var found []*management.EventStream
	from := ""
	for {
		page, err := e.api.List(ctx, from)
		if err != nil {
			return nil, errors.Wrap(auth0client.Explain(err), errList)
		}
		for _, s := range page.EventStreams {
			if deref(s.Name) != cr.Spec.ForProvider.Name || observedType(s) != cr.Spec.ForProvider.Destination.Type {
				continue
			}
			if s.CreatedAt == nil || s.CreatedAt.Before(since) || claimed[deref(s.ID)] {
				continue
			}
			found = append(found, s)
		}
		if page.Next == "" || page.Next == from || len(page.EventStreams) == 0 {
			break
		}
		from = page.Next
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
	default:
		ids := make([]string, 0, len(found))
		for _, s := range found {
			ids = append(ids, deref(s.ID))
		}
		return nil, errors.Errorf("a create of this stream may have succeeded without its response, and Auth0 holds %d unclaimed streams named %q created since %s (%v); set the %s annotation to the one to keep and delete the others", len(found), cr.Spec.ForProvider.Name, since.Format(time.RFC3339), ids, meta.AnnotationKeyExternalName)
	}
	s := found[0]
	meta.SetExternalName(cr, deref(s.ID))
	meta.SetExternalCreateSucceeded(cr, e.now())
	if err := managed.NewRetryingCriticalAnnotationUpdater(e.kube).UpdateCriticalAnnotations(ctx, cr); err != nil {
		return nil, errors.Wrap(err, errPersist)
	}
	e.record.Event(cr, event.Normal(reasonAdopt, fmt.Sprintf("Adopted event stream %s, created by an earlier attempt whose response was lost", deref(s.ID))))
	return s, nil
}

// claimedIDs are the stream ids other EventStreams already manage.
func (e *external) claimedIDs(ctx context.Context, cr *v1alpha1.EventStream) (map[string]bool, error) {
	l := &v1alpha1.EventStreamList{}
	if err := e.kube.List(ctx, l); err != nil {
		return nil, errors.Wrap(err, "cannot list EventStreams")
	}
	ids := map[string]bool{}
	for i := range l.Items {
		if l.Items[i].GetUID() == cr.GetUID() {
			continue
		}
		if id := meta.GetExternalName(&l.Items[i]); id != "" {
			ids[id] = true
		}
	}
	return ids, nil
}

// secrets reads the webhook authorization secret the spec references, from
// the resource's own namespace.
func (e *external) secrets(ctx context.Context, cr *v1alpha1.EventStream) (secretValues, error) {
	d := cr.Spec.ForProvider.Destination
	if d.Type != v1alpha1.DestinationWebhook || d.Webhook == nil {
		return secretValues{}, nil
	}
	a := d.Webhook.Authorization
	var ref *xpv2.LocalSecretKeySelector
	switch a.Method {
	case v1alpha1.AuthMethodBearer:
		ref = a.TokenSecretRef
	case v1alpha1.AuthMethodBasic:
		ref = a.PasswordSecretRef
	case v1alpha1.AuthMethodCustomHeader:
		ref = a.HeaderValueSecretRef
	}
	if ref == nil {
		return secretValues{}, errors.Errorf("destination.webhook.authorization of method %s needs its secret reference", a.Method)
	}
	s := &corev1.Secret{}
	if err := e.kube.Get(ctx, types.NamespacedName{Namespace: cr.GetNamespace(), Name: ref.Name}, s); err != nil {
		return secretValues{}, errors.Wrapf(err, "%s %s/%s", errGetSecret, cr.GetNamespace(), ref.Name)
	}
	v, ok := s.Data[ref.Key]
	if !ok || len(v) == 0 {
		return secretValues{}, errors.Errorf("Secret %s/%s has no key %q", cr.GetNamespace(), ref.Name, ref.Key)
	}
	return secretValues{value: string(v)}, nil
}

// Create POSTs the stream and records its id at once. The POST is never
// retried (see auth0client.API); if its answer is lost, the next Observe
// adopts what it created.
func (e *external) Create(ctx context.Context, cr *v1alpha1.EventStream) (managed.ExternalCreation, error) {
	secrets, err := e.secrets(ctx, cr)
	if err != nil {
		return managed.ExternalCreation{}, err
	}
	s := createBody(cr.Spec.ForProvider, secrets)
	if err := e.api.Create(ctx, s); err != nil {
		if rejected(err) {
			// Persisted with the reconciler's create-failed annotation.
			meta.AddAnnotations(cr, map[string]string{annotationCreateRejected: e.now().Format(time.RFC3339)})
		}
		return managed.ExternalCreation{}, errors.Wrap(auth0client.Explain(err), errCreate)
	}
	// The reconciler persists annotations after Create but reloads status
	// from the API server while doing so; persist the applied-secrets hash
	// now, or the next Observe would PATCH the same secrets again.
	before := cr.DeepCopy()
	cr.Status.AppliedSecretsHash = secretsHash(e.hashKey, cr.Spec.ForProvider, secrets)
	cr.Status.AtProvider = observation(s)
	_ = e.kube.Status().Patch(ctx, cr, client.MergeFrom(before)) // best effort: failing costs one extra PATCH
	meta.SetExternalName(cr, deref(s.ID))
	return managed.ExternalCreation{}, nil
}

// Update PATCHes only what changed. Auth0 cannot change a destination's type
// or an EventBridge destination, so those changes replace the stream.
func (e *external) Update(ctx context.Context, cr *v1alpha1.EventStream) (managed.ExternalUpdate, error) {
	s := e.observed
	if s == nil {
		got, err := e.api.Read(ctx, meta.GetExternalName(cr))
		if err != nil {
			return managed.ExternalUpdate{}, errors.Wrap(auth0client.Explain(err), errRead)
		}
		s = got
	}
	secrets, err := e.secrets(ctx, cr)
	if err != nil {
		return managed.ExternalUpdate{}, err
	}
	if why := mustReplace(cr.Spec.ForProvider, s); why != "" {
		return managed.ExternalUpdate{}, e.replace(ctx, cr, s, secrets, why)
	}
	hash := secretsHash(e.hashKey, cr.Spec.ForProvider, secrets)
	d := diff(cr.Spec.ForProvider, s, hash != cr.Status.AppliedSecretsHash)
	if d.destination {
		d.patch.Destination = destination(cr.Spec.ForProvider.Destination, secrets)
	}
	if !d.empty() {
		if err := e.api.Update(ctx, deref(s.ID), &d.patch); err != nil {
			return managed.ExternalUpdate{}, errors.Wrap(auth0client.Explain(err), errUpdate)
		}
		cr.Status.AtProvider = observation(&d.patch)
	}
	cr.Status.AppliedSecretsHash = hash
	return managed.ExternalUpdate{}, nil
}

// replace deletes old and creates the stream anew, guarding the create with
// the same create-pending annotations the managed reconciler uses.
func (e *external) replace(ctx context.Context, cr *v1alpha1.EventStream, old *management.EventStream, secrets secretValues, why string) error {
	id := deref(old.ID)
	e.record.Event(cr, event.Normal(reasonReplace, fmt.Sprintf("Replacing event stream %s: Auth0 cannot change it in place (%s)", id, why)))
	if err := e.api.Delete(ctx, id); err != nil && !auth0client.IsNotFound(err) {
		return errors.Wrap(auth0client.Explain(err), errDelete)
	}
	annotations := managed.NewRetryingCriticalAnnotationUpdater(e.kube)
	meta.SetExternalCreatePending(cr, e.now())
	if err := annotations.UpdateCriticalAnnotations(ctx, cr); err != nil {
		return errors.Wrap(err, errPersist)
	}
	s := createBody(cr.Spec.ForProvider, secrets)
	if err := e.api.Create(ctx, s); err != nil {
		meta.SetExternalCreateFailed(cr, e.now())
		if rejected(err) {
			meta.AddAnnotations(cr, map[string]string{annotationCreateRejected: e.now().Format(time.RFC3339)})
		}
		_ = annotations.UpdateCriticalAnnotations(ctx, cr) // the error below matters more
		return errors.Wrap(auth0client.Explain(err), errCreate)
	}
	meta.SetExternalName(cr, deref(s.ID))
	meta.SetExternalCreateSucceeded(cr, e.now())
	if err := annotations.UpdateCriticalAnnotations(ctx, cr); err != nil {
		return errors.Wrap(err, errPersist)
	}
	// Set after the annotation update, which reloads status from the server.
	cr.Status.AtProvider = observation(s)
	cr.Status.AppliedSecretsHash = secretsHash(e.hashKey, cr.Spec.ForProvider, secrets)
	e.record.Event(cr, event.Normal(reasonReplace, fmt.Sprintf("Replaced event stream %s with %s", id, deref(s.ID))))
	return nil
}

// Delete DELETEs the stream; one that is already gone counts as deleted.
func (e *external) Delete(ctx context.Context, cr *v1alpha1.EventStream) (managed.ExternalDelete, error) {
	cr.SetConditions(xpv2.Deleting())
	id := meta.GetExternalName(cr)
	if id == "" {
		return managed.ExternalDelete{}, nil
	}
	if err := e.api.Delete(ctx, id); err != nil && !auth0client.IsNotFound(err) {
		return managed.ExternalDelete{}, errors.Wrap(auth0client.Explain(err), errDelete)
	}
	return managed.ExternalDelete{}, nil
}

// Disconnect keeps the cached client: it outlives the reconcile.
func (e *external) Disconnect(context.Context) error { return nil }
