// Package eventstream reconciles EventStream managed resources with Auth0
// event streams through go-auth0.
package eventstream

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
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
	"github.com/xp-auth0/auth0-eventstream/internal/proof"
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
	errPersist               = "cannot record the event stream in the EventStream's metadata"
)

// Event reasons a user can act on.
const (
	reasonReplace     event.Reason = "ReplaceEventStream"
	reasonAdopt       event.Reason = "AdoptEventStream"
	reasonImport      event.Reason = "ImportEventStream"
	reasonMove        event.Reason = "MoveEventStream"
	reasonNotDeleting event.Reason = "KeepEventStream"
)

// annotationAllowTenantMove, set by a user to the domain the config now
// resolves to, lets the resource forget its stream in the pinned tenant and
// create a new one there. It deletes nothing, so it needs no proof.
const annotationAllowTenantMove = "auth0.m.openmcf.org/allow-tenant-move"

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
	// key makes and checks the proofs of status.ownership.
	key proof.Key
	// legacy decides when state written by a release without proofs is
	// trusted; nil trusts none.
	legacy *legacyUpgrade
	// hosts are the domains credentials may name (--auth0-domains).
	hosts auth0client.Hosts
	// adoption bounds the search for a stream whose create response was
	// lost; listings keeps that search's progress across reconciles, and
	// maxListPages bounds how far it goes.
	adoption     adoptionWindow
	listings     *listings
	maxListPages int
	// deliveryPoll, reads: see external.
	deliveryPoll time.Duration
	reads        *deliveryReads
	// reader: see external.
	reader client.Reader
	// workspaces reads provider-terraform Workspaces; the API server
	// itself, so no informer (and no watch permission) is needed for a
	// check made only before an import or an adoption.
	workspaces client.Reader
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
	var out *perimeterError
	if errors.As(err, &out) && meta.WasDeleted(cr) && verify(c.key, cr).empty() {
		// A resource its config may not serve, being deleted, that holds
		// no stream: nothing of ours to delete, so let it go.
		return &released{record: c.record, why: red.String(err.Error())}, nil
	}
	if err != nil {
		return nil, red.Error(err)
	}
	return &redacting{inner: ext, red: red}, nil
}

// rateBudget is each tenant's rate budget, 0 without one (unit tests).
func (c *connector) rateBudget() int {
	if c.clients == nil {
		return 0
	}
	return c.clients.RateBudget()
}

// config is what Connect learned of the resource's ProviderConfig.
type config struct {
	// name says which config, for messages: "ProviderConfig team-a/x" or
	// "ClusterProviderConfig y".
	name         string
	uid          types.UID
	importPolicy string
	creds        auth0client.Credentials
	// obj is the config itself.
	obj client.Object
}

func (c *connector) connect(ctx context.Context, cr *v1alpha1.EventStream, red *redact.Redactor) (*external, error) {
	cfg, err := c.config(ctx, cr)
	red.Add(cfg.creds.ClientSecret)
	if err != nil {
		return nil, err
	}
	if err := c.hosts.Check(cfg.creds.Domain); err != nil {
		return nil, &perimeterError{errors.Errorf("%s: %v; nothing was sent to that host. The provider's --auth0-domains flag lists the hosts it may call: ask the platform team to add the tenant's domain there, or point the config at an Auth0 tenant domain", cfg.name, err)}
	}
	apiFor := c.apiFor
	if apiFor == nil {
		apiFor = c.clients.Get
	}
	api, err := apiFor(string(cfg.uid), cfg.creds)
	if err != nil {
		return nil, errors.Wrap(err, errNewClient)
	}
	k := sha256.Sum256([]byte(cfg.creds.ClientSecret + "\x00" + string(cr.GetUID())))
	return &external{
		api:          api,
		kube:         &recordingSecrets{Client: c.kube, secrets: c.secrets, red: red},
		record:       &redactingRecorder{rec: c.record, red: red},
		hashKey:      k[:],
		key:          c.key,
		legacy:       c.legacy,
		now:          time.Now,
		tenant:       tenantOf(cfg.creds.Domain),
		config:       cfg.name,
		configObj:    cfg.obj,
		rateBudget:   c.rateBudget(),
		importPolicy: cfg.importPolicy,
		adoption:     c.adoption,
		listings:     c.listings,
		maxListPages: c.maxListPages,
		deliveryPoll: c.deliveryPoll,
		reads:        c.reads,
		reader:       c.reader,
		workspaces:   c.workspaces,
		mask:         red.String,
	}, nil
}

// config resolves the resource's ProviderConfig, checks that it may serve
// the resource's namespace, tracks the use and reads the credentials.
func (c *connector) config(ctx context.Context, cr *v1alpha1.EventStream) (config, error) {
	ref := cr.GetProviderConfigReference()
	if ref == nil {
		return config{}, errors.New(errNoPCRef)
	}
	var (
		cfg config
		src xpv2.CredentialsSource
		sec *xpv2.SecretReference
	)
	switch ref.Kind {
	case v1alpha1.ProviderConfigKind:
		pc := &v1alpha1.ProviderConfig{}
		if err := c.kube.Get(ctx, types.NamespacedName{Namespace: cr.GetNamespace(), Name: ref.Name}, pc); err != nil {
			return config{}, errors.Wrap(err, errGetPC)
		}
		if pc.Spec.Credentials.Source == v1alpha1.CredentialsSourceEnvironment {
			// The CRD refuses this; a config stored before that rule must
			// not hand out the provider's own credentials either.
			return config{}, &perimeterError{errors.Errorf(errNamespacedEnvironment, pc.GetNamespace(), pc.GetName())}
		}
		cfg = config{name: fmt.Sprintf("%s %s/%s", v1alpha1.ProviderConfigKind, pc.GetNamespace(), pc.GetName()), uid: pc.GetUID(), importPolicy: pc.Spec.ImportPolicy, obj: pc}
		src = pc.Spec.Credentials.Source
		if r := pc.Spec.Credentials.SecretRef; r != nil {
			// A namespaced ProviderConfig only ever reads its own namespace.
			sec = &xpv2.SecretReference{Namespace: pc.GetNamespace(), Name: r.Name}
		}
	case v1alpha1.ClusterProviderConfigKind:
		pc := &v1alpha1.ClusterProviderConfig{}
		if err := c.kube.Get(ctx, types.NamespacedName{Name: ref.Name}, pc); err != nil {
			return config{}, errors.Wrap(err, errGetCPC)
		}
		cfg = config{name: fmt.Sprintf("%s %s", v1alpha1.ClusterProviderConfigKind, pc.GetName()), uid: pc.GetUID(), importPolicy: pc.Spec.ImportPolicy, obj: pc}
		if err := c.selects(ctx, pc, cr.GetNamespace()); err != nil {
			return config{}, err
		}
		src, sec = pc.Spec.Credentials.Source, pc.Spec.Credentials.SecretRef
	default:
		return config{}, errors.Errorf("unsupported providerConfigRef kind %q: use ProviderConfig or ClusterProviderConfig", ref.Kind)
	}
	if cfg.importPolicy == "" {
		cfg.importPolicy = v1alpha1.ImportPolicyObserveOnly
	}
	// Tracked only once the config may serve the resource: a usage blocks
	// the config's deletion.
	if err := c.usage.Track(ctx, cr); err != nil {
		return config{}, errors.Wrap(err, errTrackUsage)
	}
	creds, err := c.credentials(ctx, src, sec)
	cfg.creds = creds
	return cfg, err
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
	// key makes and checks the proofs of status.ownership.
	key    proof.Key
	legacy *legacyUpgrade
	now    func() time.Time
	// tenant is the domain the resource's credentials resolve to now.
	tenant string
	// config names the resource's ProviderConfig, for messages.
	config string
	// configObj is the resource's ProviderConfig or ClusterProviderConfig,
	// which events about its tenant's rate budget are recorded on.
	configObj client.Object
	// rateBudget is each tenant's rate budget in requests per second
	// (--auth0-rate-budget), for messages; 0 when there is none.
	rateBudget int
	// importPolicy is the config's spec.importPolicy.
	importPolicy string
	adoption     adoptionWindow
	listings     *listings
	maxListPages int
	// deliveryPoll is the least time between two reads of delivery
	// health; zero disables them.
	deliveryPoll time.Duration
	// reads says when this process last read each resource's delivery
	// health; shared by every reconcile.
	reads *deliveryReads
	// mask cleans text Auth0 sends back that is stored in status (a
	// delivery's error message may quote the endpoint with its user-info).
	mask func(string) string
	// reader reads the EventStream from the API server, bypassing the
	// cache; nil in unit tests.
	reader client.Reader
	// workspaces reads provider-terraform Workspaces; none when nil.
	workspaces client.Reader

	// observed is the stream as the last Observe saw it; Update diffs
	// against it instead of reading it again.
	observed *management.EventStream
	// owned is true when the last Observe found the stream recorded as
	// this resource's own: only then are test events and redeliveries
	// sent.
	owned bool
}

// Observe reads the stream by its id. Before any call to Auth0 it checks
// that the id looks like a stream id, that the resource's records pin it
// to the tenant its config resolves to now, and that no other EventStream
// owns the id. A stream the resource holds no proof of is an import: it is
// observed, and managed only if its config's importPolicy allows. A stream
// that is gone (404) does not exist, whether or not the resource is being
// deleted, so it is recreated when deleted out of band. A resource whose
// create may have succeeded without recording an id first looks for that
// stream.
func (e *external) Observe(ctx context.Context, cr *v1alpha1.EventStream) (managed.ExternalObservation, error) { //nolint:gocognit // Observe methods are complex; each branch is one documented case. Be wary of adding more.
	if err := e.catchUp(ctx, cr); err != nil {
		return managed.ExternalObservation{}, err
	}
	if err := e.upgradeLegacy(ctx, cr); err != nil {
		return managed.ExternalObservation{}, err
	}
	rec := verify(e.key, cr)
	if err := e.restoreName(ctx, cr, rec); err != nil {
		return managed.ExternalObservation{}, err
	}
	id := meta.GetExternalName(cr)
	if id != "" && !streamIDPattern.MatchString(id) {
		if meta.WasDeleted(cr) {
			// It cannot name a stream: there is nothing to delete but a
			// replaced stream still recorded.
			return managed.ExternalObservation{ResourceExists: rec.replaced != nil, ResourceUpToDate: true}, nil
		}
		return managed.ExternalObservation{}, errors.Errorf("annotation %s is %q, which is not an Auth0 event stream id (est_ followed by 22 letters and digits); set it to the id of the stream to import, or remove it to create a new stream", meta.AnnotationKeyExternalName, id)
	}
	if stop, obs, err := e.guardTenant(ctx, cr, rec); stop {
		return obs, err
	}
	own := rec.owns(id)
	if id != "" {
		owner, err := e.ownerOf(ctx, cr, id, own)
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
	// Every secret value the resource references is read, and so known to
	// the redactor, before any text about this reconcile is written. The
	// error matters only when the values are needed.
	secrets, secretsErr := e.secrets(ctx, cr)

	var s *management.EventStream
	if id != "" {
		got, err := auth0client.Observe(ctx, e.api, id)
		switch {
		case auth0client.IsNotFound(err):
			// Gone, perhaps deleted out of band: it does not exist.
		case err != nil:
			return managed.ExternalObservation{}, errors.Wrap(auth0client.Explain(err), errRead)
		default:
			s = got
		}
	}
	if rec.attempt != nil && (s == nil || (own && mustReplace(cr.Spec.ForProvider, s) != "")) {
		// The last create (a first create, or the first step of a
		// replacement) may have made a stream whose id was never recorded.
		var current *management.EventStream
		if own {
			current = s
		}
		got, err := e.adopt(ctx, cr, rec.attempt, current)
		if err != nil {
			return managed.ExternalObservation{}, err
		}
		if got != nil {
			s, id, own = got, deref(got.ID), true
		}
		rec = verify(e.key, cr)
	}
	if s == nil {
		resetAtProvider(cr)
		noStreamDeliveries(cr)
		if rec.replaced != nil && meta.WasDeleted(cr) {
			// The replaced stream is still ours to delete.
			return managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: true}, nil
		}
		return managed.ExternalObservation{ResourceExists: false}, nil
	}
	if !own {
		imported, obs, err := e.observeImport(ctx, cr, s)
		if !imported {
			return obs, err
		}
		own = true
	}
	e.owned = own
	if l := streamLabel(cr, id); l != nil {
		// Lets the function find the owner of an id; a hint to refuse
		// with, never authority.
		if err := e.patchMetadata(ctx, cr, nil, l); err != nil {
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
	if secretsErr != nil {
		return managed.ExternalObservation{}, secretsErr
	}
	d := diff(cr.Spec.ForProvider, s, secretsHash(e.hashKey, cr.Spec.ForProvider, secrets) != cr.Status.AppliedSecretsHash)
	if rec.replaced != nil {
		d.changes = append(d.changes, fmt.Sprintf("event stream %s, replaced by %s, is still to be deleted", rec.replaced.ID, id))
	}
	return managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: d.empty(), Diff: d.String()}, nil
}

// restoreName puts back the external name of the stream the resource's
// records say it owns when a crash lost it: a create or an adoption
// records the stream in status before its name is written, and a
// replacement records the new stream before it renames the resource. Only
// an empty name, or the name of the recorded replaced stream, is restored:
// a name a user set to something else is theirs (an import).
func (e *external) restoreName(ctx context.Context, cr *v1alpha1.EventStream, rec records) error {
	id := meta.GetExternalName(cr)
	if rec.stream == nil || id == rec.stream.ID || (id != "" && (rec.replaced == nil || id != rec.replaced.ID)) {
		return nil
	}
	owned := rec.stream.ID
	return e.patchMetadata(ctx, cr, map[string]*string{meta.AnnotationKeyExternalName: &owned}, streamLabel(cr, owned))
}

// allowed is true when the management policies permit action. An empty
// list is the default, everything.
func allowed(cr *v1alpha1.EventStream, action xpv2.ManagementAction) bool {
	p := cr.GetManagementPolicies()
	return len(p) == 0 || slices.Contains(p, xpv2.ManagementActionAll) || slices.Contains(p, action)
}

// catchUp replaces cr with the API server's copy when cr says a create may
// have succeeded without its id being recorded. The reconcile right after
// a create often gets the cache's copy from before the create was
// recorded; without this it would search Auth0's streams for the one it
// had just recorded (measured: a search for about one create in four at
// 1,000 streams).
func (e *external) catchUp(ctx context.Context, cr *v1alpha1.EventStream) error {
	if e.reader == nil || verify(e.key, cr).attempt == nil {
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

// secrets reads the webhook authorization secret the spec references, from
// the resource's own namespace, if the Secret offers it.
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
	err := e.kube.Get(ctx, types.NamespacedName{Namespace: cr.GetNamespace(), Name: ref.Name}, s, secretcache.RequireLabel{Key: v1alpha1.LabelWebhookSecret, Value: "true"})
	var notOffered *secretcache.NotOfferedError
	if errors.As(err, &notOffered) || (err == nil && s.Labels[v1alpha1.LabelWebhookSecret] != "true") {
		return secretValues{}, errors.Errorf("Secret %s/%s (key %s) is not offered for webhook authorization: it lacks the label %s: \"true\", so the provider did not read it and sent nothing to Auth0. Label the Secret to let the provider send that key's value to the webhook endpoint",
			cr.GetNamespace(), ref.Name, ref.Key, v1alpha1.LabelWebhookSecret)
	}
	if err != nil {
		return secretValues{}, errors.Wrapf(err, "%s %s/%s", errGetSecret, cr.GetNamespace(), ref.Name)
	}
	// Trimmed like credentials: a value from a file (kubectl create secret
	// --from-file) ends with a newline nobody means to send.
	v := strings.TrimSpace(string(s.Data[ref.Key]))
	if v == "" {
		return secretValues{}, errors.Errorf("Secret %s/%s has no key %q, or its value is empty", cr.GetNamespace(), ref.Name, ref.Key)
	}
	return secretValues{value: v}, nil
}

// Create POSTs the stream. The attempt is recorded before the POST and the
// stream with its proof right after, so a create whose answer is lost is
// adopted by the next Observe, and nothing but this create makes the
// stream this resource's own. The POST is never retried (see
// auth0client.API).
func (e *external) Create(ctx context.Context, cr *v1alpha1.EventStream) (managed.ExternalCreation, error) {
	secrets, err := e.secrets(ctx, cr)
	if err != nil {
		// Nothing was sent. An attempt recorded before was searched for by
		// the Observe that led here: there is nothing left to look for.
		if cr.Status.Ownership != nil && cr.Status.Ownership.CreateAttempt != nil {
			_ = e.setOwnership(ctx, cr, func(o *v1alpha1.Ownership) { o.CreateAttempt = nil }) // best effort: the error below matters more
		}
		return managed.ExternalCreation{}, err
	}
	if err := e.setOwnership(ctx, cr, func(o *v1alpha1.Ownership) { o.CreateAttempt = createAttempt(e.key, cr.GetUID(), e.tenant, e.now()) }); err != nil {
		return managed.ExternalCreation{}, errors.Wrap(err, "nothing was sent to Auth0")
	}
	s := createBody(cr.Spec.ForProvider, secrets)
	if err := e.api.Create(ctx, s); err != nil {
		if madeNothing(err) {
			// Nothing to look for: the next Observe does not list.
			_ = e.setOwnership(ctx, cr, func(o *v1alpha1.Ownership) { o.CreateAttempt = nil }) // best effort
		}
		return managed.ExternalCreation{}, errors.Wrap(auth0client.Explain(err), errCreate)
	}
	id := deref(s.ID)
	// The reconciler persists the external name after Create but reloads
	// status from the API server while doing so: the record of the stream,
	// its observation and the applied-secrets hash are written now.
	before := cr.DeepCopy()
	cr.Status.AppliedSecretsHash = secretsHash(e.hashKey, cr.Spec.ForProvider, secrets)
	resetAtProvider(cr)
	setAtProvider(cr, observation(s))
	if err := e.setOwnershipSince(ctx, cr, before, func(o *v1alpha1.Ownership) {
		o.Stream, o.CreateAttempt = ownedStream(e.key, cr.GetUID(), e.tenant, id, v1alpha1.OriginCreated), nil
	}); err != nil {
		// Not named either: the attempt record stays, and the next Observe
		// adopts the stream.
		return managed.ExternalCreation{}, errors.Wrapf(err, "created event stream %s but could not record it; the next reconcile adopts it", id)
	}
	meta.SetExternalName(cr, id)
	meta.AddLabels(cr, map[string]string{v1alpha1.LabelStreamID: id})
	return managed.ExternalCreation{}, nil
}

// Update first finishes a replacement whose old stream is still to be
// deleted, then PATCHes only what changed. Auth0 cannot change a
// destination's type or an EventBridge destination, so those changes
// replace the stream. Only a stream recorded as the resource's own is
// changed.
func (e *external) Update(ctx context.Context, cr *v1alpha1.EventStream) (managed.ExternalUpdate, error) {
	rec := verify(e.key, cr)
	if rec.replaced != nil {
		if err := e.deleteReplaced(ctx, cr, rec.replaced); err != nil {
			return managed.ExternalUpdate{}, err
		}
	}
	id := meta.GetExternalName(cr)
	if !rec.owns(id) || tenantOf(rec.stream.Tenant) != e.tenant {
		return managed.ExternalUpdate{}, errors.Errorf("event stream %s is not recorded in status.ownership as this EventStream's own in tenant %s; the provider does not change it", id, e.tenant)
	}
	s := e.observed
	if s == nil {
		got, err := e.api.Read(ctx, id)
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
// already gone counts as deleted. Only streams recorded as the resource's
// own are deleted: an import it holds no proof of is left in Auth0.
func (e *external) Delete(ctx context.Context, cr *v1alpha1.EventStream) (managed.ExternalDelete, error) {
	cr.SetConditions(xpv2.Deleting())
	rec := verify(e.key, cr)
	if rec.replaced != nil {
		if err := e.deleteReplaced(ctx, cr, rec.replaced); err != nil {
			return managed.ExternalDelete{}, err
		}
	}
	id := meta.GetExternalName(cr)
	if id == "" {
		return managed.ExternalDelete{}, nil
	}
	if !rec.owns(id) || tenantOf(rec.stream.Tenant) != e.tenant {
		e.record.Event(cr, event.Normal(reasonNotDeleting, fmt.Sprintf("Not deleting event stream %s: it is not recorded as this EventStream's own (an import under %s's spec.importPolicy %s); it is left in Auth0", id, e.config, e.importPolicy)))
		return managed.ExternalDelete{}, nil
	}
	owner, err := e.ownerOf(ctx, cr, id, true)
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
