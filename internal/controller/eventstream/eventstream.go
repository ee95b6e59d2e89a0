// Package eventstream reconciles EventStream managed resources with Auth0
// event streams through go-auth0.
package eventstream

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"time"

	"github.com/auth0/go-auth0/management"
	"golang.org/x/oauth2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/errors"
	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/managed"
	"github.com/crossplane/crossplane-runtime/v2/pkg/resource"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/auth0client"
	"github.com/xp-auth0/auth0-eventstream/internal/redact"
	"github.com/xp-auth0/auth0-eventstream/internal/secretcache"
)

const (
	errTrackUsage            = "cannot track ProviderConfig usage"
	errNoPCRef               = "spec.providerConfigRef is not set"
	errGetPC                 = "cannot get ProviderConfig"
	errGetCPC                = "cannot get ClusterProviderConfig"
	errGetCredsSecret        = "cannot get the credentials Secret"
	errNoSecretRef           = "credentials.secretRef is required when credentials.source is Secret"
	errNamespacedEnvironment = "ProviderConfig %s/%s: spec.credentials.source Environment (the provider's own credentials) is only allowed in a ClusterProviderConfig; use source Secret"
	errNewClient             = "cannot build an Auth0 client"
	errRead                  = "cannot read the event stream from Auth0"
	errList                  = "cannot list event streams in Auth0 to find the one a lost create may have made"
	errCreate                = "cannot create the event stream in Auth0"
	errUpdate                = "cannot update the event stream in Auth0"
	errDelete                = "cannot delete the event stream in Auth0"
	errGetSecret             = "cannot get a webhook authorization Secret"
	errPersist               = "cannot record the event stream in the EventStream's annotations"
)

// Event reasons a user can act on.
const (
	reasonReplace     event.Reason = "ReplaceEventStream"
	reasonAdopt       event.Reason = "AdoptEventStream"
	reasonMove        event.Reason = "MoveEventStream"
	reasonNotDeleting event.Reason = "KeepEventStream"
)

// Annotations the provider keeps on an EventStream. They are the durable
// record of what happened in Auth0 between reconciles.
const (
	// annotationCreateMadeNothing records when a create attempt is known to
	// have made no stream: Auth0 refused it (4xx), or it failed before any
	// request was sent (a missing Secret, no token). The next Observe then
	// need not list streams to adopt one.
	annotationCreateMadeNothing = "auth0.m.openmcf.org/external-create-rejected"
	// annotationTenant is the domain of the Auth0 tenant that holds (or is
	// creating) the stream.
	annotationTenant = "auth0.m.openmcf.org/tenant"
	// annotationAllowTenantMove, set by a user to the domain the config now
	// resolves to, lets the resource leave its stream in the pinned tenant
	// and create a new one there.
	annotationAllowTenantMove = "auth0.m.openmcf.org/allow-tenant-move"
	// annotationReplacedStream is the id of a stream that a replacement
	// superseded and that is still to be deleted.
	annotationReplacedStream = "auth0.m.openmcf.org/replaced-stream"
)

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
	// adoption bounds the search for a stream whose create response was
	// lost; listings keeps that search's progress across reconciles.
	adoption adoptionWindow
	listings *listings
	// deliveryPoll: see external.
	deliveryPoll time.Duration
	// reader: see external.
	reader client.Reader
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
		api:      api,
		kube:     &recordingSecrets{Client: c.kube, secrets: c.secrets, red: red},
		record:   &redactingRecorder{rec: c.record, red: red},
		hashKey:  k[:],
		now:      time.Now,
		tenant:   tenantOf(creds.Domain),
		adoption: c.adoption,
		listings: c.listings,

		deliveryPoll: c.deliveryPoll,
		reader:       c.reader,
		mask:         red.String,
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
	// tenant is the domain the resource's credentials resolve to now.
	tenant   string
	adoption adoptionWindow
	listings *listings
	// deliveryPoll is the least time between two reads of delivery
	// health; zero disables them.
	deliveryPoll time.Duration
	// mask cleans text Auth0 sends back that is stored in status (a
	// delivery's error message may quote the endpoint with its user-info).
	mask func(string) string
	// reader reads the EventStream from the API server, bypassing the
	// cache; nil in unit tests.
	reader client.Reader

	// observed is the stream as the last Observe saw it; Update diffs
	// against it instead of reading it again.
	observed *management.EventStream
}

// Observe reads the stream by its id. Before any call to Auth0 it checks
// that the id looks like a stream id, that no older EventStream owns it and
// that the resource's config still resolves to the tenant holding it. A
// stream that is gone (404) does not exist, whether or not the resource is
// being deleted, so it is recreated when deleted out of band. A resource
// whose create may have succeeded without recording an id first looks for
// that stream.
func (e *external) Observe(ctx context.Context, cr *v1alpha1.EventStream) (managed.ExternalObservation, error) { //nolint:gocognit // Observe methods are complex; each branch is one documented case. Be wary of adding more.
	if err := e.catchUp(ctx, cr); err != nil {
		return managed.ExternalObservation{}, err
	}
	id := meta.GetExternalName(cr)
	old := cr.GetAnnotations()[annotationReplacedStream]
	for _, v := range []struct{ key, id string }{{meta.AnnotationKeyExternalName, id}, {annotationReplacedStream, old}} {
		if v.id != "" && !streamIDPattern.MatchString(v.id) {
			if meta.WasDeleted(cr) {
				// It cannot name a stream: there is nothing to delete.
				return managed.ExternalObservation{ResourceExists: false}, nil
			}
			return managed.ExternalObservation{}, errors.Errorf("annotation %s is %q, which is not an Auth0 event stream id (est_ followed by 22 letters and digits); set it to the id of the stream to import, or remove it to create a new stream", v.key, v.id)
		}
	}
	if id != "" {
		owner, err := e.ownerOf(ctx, cr, id)
		if err != nil {
			return managed.ExternalObservation{}, err
		}
		if owner != nil {
			if meta.WasDeleted(cr) {
				// Not ours: let the resource go and leave the stream to its owner.
				return managed.ExternalObservation{ResourceExists: false}, nil
			}
			return managed.ExternalObservation{}, errNotOwner(id, owner)
		}
	}
	if stop, obs, err := e.guardTenant(ctx, cr); stop {
		return obs, err
	}

	var s *management.EventStream
	if id != "" {
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
	if createMayHaveSucceeded(cr) && (s == nil || mustReplace(cr.Spec.ForProvider, s) != "") {
		// The last create (a first create, or the first step of a
		// replacement) may have made a stream whose id was never recorded.
		got, err := e.adopt(ctx, cr, s)
		if err != nil {
			return managed.ExternalObservation{}, err
		}
		if got != nil {
			s, id, old = got, deref(got.ID), cr.GetAnnotations()[annotationReplacedStream]
		}
	}
	if s == nil {
		resetAtProvider(cr)
		noStreamDeliveries(cr)
		if old != "" && meta.WasDeleted(cr) {
			// The replaced stream is still ours to delete.
			return managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: true}, nil
		}
		// A create follows: the reconciler persists this pin with its
		// create-pending annotation, before the stream exists.
		meta.AddAnnotations(cr, map[string]string{annotationTenant: e.tenant})
		return managed.ExternalObservation{ResourceExists: false}, nil
	}
	if cr.GetAnnotations()[annotationTenant] == "" {
		// An imported stream, or one recorded before tenants were pinned:
		// it is in the tenant that just returned it.
		if err := e.annotate(ctx, cr, map[string]*string{annotationTenant: &e.tenant}); err != nil {
			return managed.ExternalObservation{}, err
		}
	}
	e.observed = s
	if cr.Status.AtProvider.ID != "" && cr.Status.AtProvider.ID != deref(s.ID) {
		resetAtProvider(cr) // another stream: its delivery health is not this one's
	}
	setAtProvider(cr, observation(s))
	cr.SetConditions(xpv2.Available())
	if err := e.deliveryHooks(ctx, cr, s); err != nil {
		return managed.ExternalObservation{}, err
	}

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
	if old != "" {
		d.changes = append(d.changes, fmt.Sprintf("event stream %s, replaced by %s, is still to be deleted", old, id))
	}
	return managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: d.empty(), Diff: d.String()}, nil
}

// allowed is true when the management policies permit action. An empty
// list is the default, everything.
func allowed(cr *v1alpha1.EventStream, action xpv2.ManagementAction) bool {
	p := cr.GetManagementPolicies()
	return len(p) == 0 || slices.Contains(p, xpv2.ManagementActionAll) || slices.Contains(p, action)
}

// catchUp replaces cr with the API server's copy when cr says a create may
// have succeeded without its id being recorded. The reconcile right after
// a create often gets the cache's copy from before the create's annotations
// were written; without this it would search Auth0's streams for the one it
// had just recorded (measured: a search for about one create in four at
// 1,000 streams).
func (e *external) catchUp(ctx context.Context, cr *v1alpha1.EventStream) error {
	if e.reader == nil || !createMayHaveSucceeded(cr) {
		return nil
	}
	fresh := &v1alpha1.EventStream{}
	if err := e.reader.Get(ctx, client.ObjectKeyFromObject(cr), fresh); err != nil {
		return errors.Wrap(err, "cannot read the EventStream from the API server")
	}
	fresh.DeepCopyInto(cr)
	return nil
}

// mayUpdate is false when management policies forbid updates, as for an
// Observe-only import.
func mayUpdate(cr *v1alpha1.EventStream) bool { return allowed(cr, xpv2.ManagementActionUpdate) }

// createMayHaveSucceeded is true when a create was started after the last
// one known to have succeeded: its response may have been lost after Auth0
// created the stream. A create recorded as having made nothing (refused by
// Auth0, or failed before any request was sent) is not.
func createMayHaveSucceeded(cr *v1alpha1.EventStream) bool {
	pending := meta.GetExternalCreatePending(cr)
	if pending.IsZero() || !pending.After(meta.GetExternalCreateSucceeded(cr)) {
		return false
	}
	madeNothing, err := time.Parse(time.RFC3339, cr.GetAnnotations()[annotationCreateMadeNothing])
	return err != nil || pending.After(madeNothing)
}

// madeNothing is true when err proves the create made no stream: Auth0
// answered with a 4xx, or the request never left (no token, no
// connection). A 5xx, a timeout or a dropped connection prove nothing.
func madeNothing(err error) bool {
	if code := auth0client.StatusCode(err); code >= 400 && code < 500 {
		return true
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// recordMadeNothing marks the current create attempt as having made no
// stream, so the next Observe does not list streams to adopt one. The
// reconciler persists it with its create-failed annotation.
func (e *external) recordMadeNothing(cr *v1alpha1.EventStream) {
	meta.AddAnnotations(cr, map[string]string{annotationCreateMadeNothing: e.now().Format(time.RFC3339)})
}

// annotate merge-patches annotations (nil removes one) and refreshes cr
// from the answer. A merge patch needs no resourceVersion, so it neither
// conflicts nor, unlike an update retried after a conflict, brings back an
// annotation being removed. Status is reloaded from the server: set it
// after.
func (e *external) annotate(ctx context.Context, cr *v1alpha1.EventStream, set map[string]*string) error {
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": set}})
	if err != nil {
		return errors.Wrap(err, errPersist)
	}
	if err := e.kube.Patch(ctx, cr, client.RawPatch(types.MergePatchType, body)); err != nil {
		return errors.Wrap(err, errPersist)
	}
	return nil
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

// Create POSTs the stream and records its id and tenant at once. The POST
// is never retried (see auth0client.API); if its answer is lost, the next
// Observe adopts what it created.
func (e *external) Create(ctx context.Context, cr *v1alpha1.EventStream) (managed.ExternalCreation, error) {
	secrets, err := e.secrets(ctx, cr)
	if err != nil {
		// Nothing was sent: the next attempt has nothing to look for.
		e.recordMadeNothing(cr)
		return managed.ExternalCreation{}, err
	}
	s := createBody(cr.Spec.ForProvider, secrets)
	if err := e.api.Create(ctx, s); err != nil {
		if madeNothing(err) {
			e.recordMadeNothing(cr)
		}
		return managed.ExternalCreation{}, errors.Wrap(auth0client.Explain(err), errCreate)
	}
	// The reconciler persists annotations after Create but reloads status
	// from the API server while doing so; persist the applied-secrets hash
	// now, or the next Observe would PATCH the same secrets again.
	before := cr.DeepCopy()
	cr.Status.AppliedSecretsHash = secretsHash(e.hashKey, cr.Spec.ForProvider, secrets)
	resetAtProvider(cr)
	setAtProvider(cr, observation(s))
	_ = e.kube.Status().Patch(ctx, cr, client.MergeFrom(before)) // best effort: failing costs one extra PATCH
	meta.SetExternalName(cr, deref(s.ID))
	meta.AddAnnotations(cr, map[string]string{annotationTenant: e.tenant})
	return managed.ExternalCreation{}, nil
}

// Update first finishes a replacement whose old stream is still to be
// deleted, then PATCHes only what changed. Auth0 cannot change a
// destination's type or an EventBridge destination, so those changes
// replace the stream.
func (e *external) Update(ctx context.Context, cr *v1alpha1.EventStream) (managed.ExternalUpdate, error) {
	if old := cr.GetAnnotations()[annotationReplacedStream]; old != "" {
		if err := e.deleteReplaced(ctx, cr, old); err != nil {
			return managed.ExternalUpdate{}, err
		}
	}
	s := e.observed
	if s == nil {
		got, err := e.api.Read(ctx, meta.GetExternalName(cr))
		if err != nil {
			return managed.ExternalUpdate{}, errors.Wrap(auth0client.Explain(err), errRead)
		}
		s = got
	}
	if why := mustReplace(cr.Spec.ForProvider, s); why != "" {
		return managed.ExternalUpdate{}, e.replace(ctx, cr, s, why)
	}
	secrets, err := e.secrets(ctx, cr)
	if err != nil {
		return managed.ExternalUpdate{}, err
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
		setAtProvider(cr, observation(&d.patch))
	}
	cr.Status.AppliedSecretsHash = hash
	return managed.ExternalUpdate{}, nil
}

// Delete DELETEs the stream, and a replaced one still recorded; one that is
// already gone counts as deleted. A stream another EventStream owns is never
// deleted.
func (e *external) Delete(ctx context.Context, cr *v1alpha1.EventStream) (managed.ExternalDelete, error) {
	cr.SetConditions(xpv2.Deleting())
	if old := cr.GetAnnotations()[annotationReplacedStream]; old != "" {
		if err := e.deleteReplaced(ctx, cr, old); err != nil {
			return managed.ExternalDelete{}, err
		}
	}
	id := meta.GetExternalName(cr)
	if id == "" {
		return managed.ExternalDelete{}, nil
	}
	owner, err := e.ownerOf(ctx, cr, id)
	if err != nil {
		return managed.ExternalDelete{}, err
	}
	if owner != nil {
		return managed.ExternalDelete{}, nil
	}
	if err := e.api.Delete(ctx, id); err != nil && !auth0client.IsNotFound(err) {
		return managed.ExternalDelete{}, errors.Wrap(auth0client.Explain(err), errDelete)
	}
	return managed.ExternalDelete{}, nil
}

// Disconnect keeps the cached client: it outlives the reconcile.
func (e *external) Disconnect(context.Context) error { return nil }
