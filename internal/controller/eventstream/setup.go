package eventstream

import (
	"context"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/crossplane/crossplane-runtime/v2/pkg/controller"
	"github.com/crossplane/crossplane-runtime/v2/pkg/errors"
	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/feature"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/managed"
	"github.com/crossplane/crossplane-runtime/v2/pkg/resource"
	"github.com/crossplane/crossplane-runtime/v2/pkg/statemetrics"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/auth0client"
	"github.com/xp-auth0/auth0-eventstream/internal/proof"
	"github.com/xp-auth0/auth0-eventstream/internal/secretcache"
)

// secretIndex indexes EventStreams by the names of the Secrets they
// reference, so a rotated Secret reconciles its streams at once instead of
// at the next poll.
const secretIndex = "spec.forProvider.destination.webhook.authorization.secretNames"

// Options are the EventStream controller's own settings.
type Options struct {
	// Clients caches Auth0 clients per ProviderConfig; required.
	Clients *auth0client.Cache
	// CreationGracePeriod is how long after a successful create a missing
	// stream is trusted to be missing. Zero means crossplane-runtime's
	// default (30s).
	CreationGracePeriod time.Duration
	// Getenv reads Environment credentials; os.Getenv when nil.
	Getenv func(string) string
	// CreateAttemptTimeout is how long one create request to Auth0 may
	// last (the provider's --auth0-timeout): a stream a lost create made
	// was created no later than that after the attempt began. Zero means
	// DefaultCreateAttemptTimeout.
	CreateAttemptTimeout time.Duration
	// ClockSkew widens that window on both sides for the provider's and
	// Auth0's clocks disagreeing. Zero means DefaultClockSkew.
	ClockSkew time.Duration
	// PollJitter spreads polls: each is due after the poll interval plus or
	// minus up to this much. Zero polls at exactly the interval.
	PollJitter time.Duration
	// DeliveryPoll is the least time between two reads of a stream's
	// delivery health (stats and failed deliveries); zero disables them.
	DeliveryPoll time.Duration
	// MaxReconcileRate is the most EventStream reconciles per second.
	// Zero means the controller's MaxConcurrentReconciles.
	MaxReconcileRate int
	// Proofs holds the key of status.ownership's proofs; required. See
	// proof.LoadOrCreate.
	Proofs *proof.Store
	// Hosts are the domains credentials may name (--auth0-domains). Zero
	// means auth0client.DefaultHosts.
	Hosts auth0client.Hosts
	// MaxListPages bounds the listing that looks for a lost create's
	// stream. Zero means auth0client.DefaultMaxPages.
	MaxListPages int
	// SecretWatch is how the provider learns that a referenced Secret
	// changed. Zero means SecretWatchCluster.
	SecretWatch SecretWatch
}

// SecretWatch is how the provider learns that a Secret an EventStream or
// its ProviderConfig references changed (--secret-watch).
type SecretWatch string

const (
	// SecretWatchCluster watches the metadata of every Secret in the
	// cluster (RBAC: list and watch on all Secrets): a changed webhook
	// Secret enqueues the EventStreams using it at once, and a referenced
	// Secret is read again only when it changed.
	SecretWatchCluster SecretWatch = "cluster"
	// SecretWatchNone watches no Secret (RBAC: get only): every reconcile
	// reads the Secrets it uses from the API server, so a change is used
	// at the next poll of each resource using it (PolledRotationBound).
	SecretWatchNone SecretWatch = "none"
)

// SecretWatches are the values --secret-watch takes.
func SecretWatches() []SecretWatch { return []SecretWatch{SecretWatchCluster, SecretWatchNone} }

// PolledRotationBound is how long, with SecretWatchNone, a changed Secret
// takes at most to be used when reconciles do not queue behind the
// reconcile rate: the reconcile in flight at the change ends (within one
// poll, as reconciles take less than a poll) and the next poll is due
// within poll + jitter after it.
func PolledRotationBound(poll, jitter time.Duration) time.Duration {
	return 2 * (poll + jitter)
}

// legacyCheckInterval is how often the upgrade from a release without
// proofs checks whether every older EventStream was considered.
const legacyCheckInterval = 30 * time.Second

// minIdle is the least time an Auth0 client or a referenced Secret is kept
// unused before it is forgotten.
const minIdle = 10 * time.Minute

// idleTimeout is how long an unused client or Secret is kept: several polls,
// so resources in use never lose theirs.
func idleTimeout(poll, jitter time.Duration) time.Duration {
	return max(minIdle, 3*(poll+jitter))
}

// SetupGated registers Setup to run once the EventStream CRD is
// established (safe-start).
func SetupGated(mgr ctrl.Manager, o controller.Options, eo Options) error {
	o.Gate.Register(func() {
		if err := Setup(mgr, o, eo); err != nil {
			panic(errors.Wrap(err, "cannot set up the EventStream controller"))
		}
	}, v1alpha1.EventStreamGroupVersionKind)
	return nil
}

// Setup adds a controller that reconciles EventStream managed resources.
func Setup(mgr ctrl.Manager, o controller.Options, eo Options) error {
	name := managed.ControllerName(v1alpha1.EventStreamGroupKind)
	recorder := event.NewAPIRecorder(mgr.GetEventRecorderFor(name)) //nolint:staticcheck // crossplane-runtime's recorder still takes the legacy API.

	if eo.Proofs == nil || eo.Proofs.Key.IsZero() {
		return errors.New("the EventStream controller needs the proof key")
	}
	hosts := eo.Hosts
	if hosts.IsZero() {
		hosts = auth0client.MustParseHosts(auth0client.DefaultHosts)
	}
	legacy := newLegacyUpgrade(eo.Proofs)
	// Secrets are read through a cache of the referenced ones only; the
	// manager's cache holds the metadata of Secrets, not their data. Without
	// the watch, every read goes to the API server, which needs get only.
	var secrets *secretcache.Reader
	switch eo.SecretWatch {
	case SecretWatchCluster, "":
		secrets = secretcache.New(mgr.GetCache(), mgr.GetAPIReader())
	case SecretWatchNone:
		secrets = secretcache.Direct(mgr.GetAPIReader())
	default:
		return errors.Errorf("unknown secret watch %q: use one of %v", eo.SecretWatch, SecretWatches())
	}
	// A stream's delivery read can only be tried when it is reconciled,
	// about once a poll: reads deferred by the rate budget go stalest
	// first to that precision.
	reads := newDeliveryReads(o.PollInterval + eo.PollJitter)
	overdueReads.Store(reads)
	opts := []managed.ReconcilerOption{
		managed.WithTypedExternalConnector[*v1alpha1.EventStream](&connector{
			kube:    mgr.GetClient(),
			secrets: secrets,
			usage:   resource.NewProviderConfigUsageTracker(mgr.GetClient(), &v1alpha1.ProviderConfigUsage{}),
			clients: eo.Clients,
			record:  recorder,
			getenv:  eo.Getenv,
			key:     eo.Proofs.Key,
			legacy:  legacy,
			hosts:   hosts,
			adoption: adoptionWindow{
				skew:    orDefault(eo.ClockSkew, DefaultClockSkew),
				timeout: orDefault(eo.CreateAttemptTimeout, DefaultCreateAttemptTimeout),
			},
			listings:     newListings(),
			maxListPages: eo.MaxListPages,
			deliveryPoll: eo.DeliveryPoll,
			reads:        reads,
			reader:       mgr.GetAPIReader(),
			workspaces:   mgr.GetAPIReader(),
		}),
		// Auth0 picks the id; the metadata.name default would be wrong.
		managed.WithInitializers(),
		// A create whose outcome is unknown is safe to continue: Observe
		// adopts the stream it may have made instead of creating another.
		managed.WithDeterministicExternalName(true),
		managed.WithLogger(o.Logger.WithValues("controller", name)),
		managed.WithPollInterval(o.PollInterval),
		managed.WithRecorder(recorder),
	}
	if eo.PollJitter > 0 {
		opts = append(opts, managed.WithPollJitterHook(eo.PollJitter))
	}
	if eo.CreationGracePeriod > 0 {
		opts = append(opts, managed.WithCreationGracePeriod(eo.CreationGracePeriod))
	}
	if o.Features.Enabled(feature.EnableBetaManagementPolicies) {
		opts = append(opts, managed.WithManagementPolicies())
	}
	if o.MetricOptions != nil && o.MetricOptions.MRMetrics != nil {
		opts = append(opts, managed.WithMetricRecorder(o.MetricOptions.MRMetrics))
	}
	if o.MetricOptions != nil && o.MetricOptions.MRStateMetrics != nil {
		r := statemetrics.NewMRStateRecorder(mgr.GetClient(), o.Logger, o.MetricOptions.MRStateMetrics, &v1alpha1.EventStreamList{}, o.MetricOptions.PollStateMetricInterval)
		if err := mgr.Add(r); err != nil {
			return errors.Wrap(err, "cannot register the EventStream state metrics recorder")
		}
	}

	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.EventStream{}, secretIndex, secretNames); err != nil {
		return errors.Wrap(err, "cannot index EventStreams by Secret")
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.EventStream{}, streamIDIndex, streamIDs); err != nil {
		return errors.Wrap(err, "cannot index EventStreams by stream id")
	}
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		legacy.finish(ctx, mgr.GetClient(), legacyCheckInterval, o.Logger.WithValues("controller", name))
		return nil
	})); err != nil {
		return errors.Wrap(err, "cannot register the legacy ownership upgrade")
	}

	idle := idleTimeout(o.PollInterval, eo.PollJitter)
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		sweep(ctx, idle, eo.Clients, secrets)
		return nil
	})); err != nil {
		return errors.Wrap(err, "cannot register the client sweeper")
	}

	r := managed.NewReconciler(mgr, resource.ManagedKind(v1alpha1.EventStreamGroupVersionKind), opts...)
	co := o.ForControllerRuntime()
	// controller-runtime's priority queue (its default, made explicit):
	// polls are requeued at low priority, so creates, spec changes and
	// Secret rotations go first however long the backlog of due polls.
	priorityQueue := true
	co.UsePriorityQueue = &priorityQueue
	b := ctrl.NewControllerManagedBy(mgr).
		Named(name).
		WithOptions(co).
		For(&v1alpha1.EventStream{}, builder.WithPredicates(resource.DesiredStateChanged()))
	if eo.SecretWatch != SecretWatchNone {
		// Metadata only: a change of a referenced Secret enqueues its
		// EventStreams without the provider caching every Secret's data.
		b = b.WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(streamsUsing(mgr.GetClient())))
	}
	return b.Complete(waitForRate(lowPriorityPolls(r), reconcileRate(eo.MaxReconcileRate, o.MaxConcurrentReconciles)))
}

func reconcileRate(perSecond, fallback int) *rate.Limiter {
	if perSecond <= 0 {
		perSecond = max(fallback, 1)
	}
	return rate.NewLimiter(rate.Limit(perSecond), perSecond)
}

// waitForRate holds each reconcile until the rate allows it. It replaces
// crossplane-runtime's ratelimiter.NewReconciler for this controller: that
// one answers a request over the rate with a RequeueAfter reserving a slot
// in the future, so with polls due faster than the rate, workers keep
// draining the queue into reservations and a new stream or a rotated
// Secret gets a slot behind all of them (measured: 30 s with 1,000 streams
// polled every 5 s at 50/s), whatever its priority. Waiting instead keeps
// the backlog in the priority queue, where the next free worker takes the
// most urgent request.
func waitForRate(r reconcile.Reconciler, l *rate.Limiter) reconcile.Reconciler {
	return reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		if err := l.Wait(ctx); err != nil {
			return reconcile.Result{}, errors.Wrap(err, "cannot wait for the reconcile rate")
		}
		return r.Reconcile(ctx, req)
	})
}

// lowPriorityPolls gives the requeue of a reconcile that succeeded (the
// next poll) controller-runtime's low priority. Requeues after an error or
// a change keep the priority of the request, and events (a new or changed
// EventStream, a rotated Secret) come at the default priority, so at any
// scale they are handled before the polls that are due.
func lowPriorityPolls(r reconcile.Reconciler) reconcile.Reconciler {
	return reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		res, err := r.Reconcile(ctx, req)
		if err == nil && res.RequeueAfter > 0 {
			low := handler.LowPriority
			res.Priority = &low
		}
		return res, err
	})
}

// sweep forgets, every minute until ctx ends, the Auth0 clients and the
// Secrets nothing used within idle: those of deleted ProviderConfigs and
// EventStreams.
func sweep(ctx context.Context, idle time.Duration, clients *auth0client.Cache, secrets *secretcache.Reader) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			clients.Sweep(idle)
			secrets.Sweep(idle)
		}
	}
}

func secretNames(o client.Object) []string {
	es, ok := o.(*v1alpha1.EventStream)
	if !ok || es.Spec.ForProvider.Destination.Webhook == nil {
		return nil
	}
	a := es.Spec.ForProvider.Destination.Webhook.Authorization
	var names []string
	if a.TokenSecretRef != nil {
		names = append(names, a.TokenSecretRef.Name)
	}
	if a.PasswordSecretRef != nil {
		names = append(names, a.PasswordSecretRef.Name)
	}
	if a.HeaderValueSecretRef != nil {
		names = append(names, a.HeaderValueSecretRef.Name)
	}
	return names
}

// streamsUsing maps a Secret to the EventStreams in its namespace that
// reference it.
func streamsUsing(c client.Client) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		l := &v1alpha1.EventStreamList{}
		if err := c.List(ctx, l, client.InNamespace(o.GetNamespace()), client.MatchingFields{secretIndex: o.GetName()}); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(l.Items))
		for i := range l.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: l.Items[i].GetNamespace(), Name: l.Items[i].GetName()}})
		}
		return reqs
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
