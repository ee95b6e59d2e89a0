package eventstream

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/crossplane/crossplane-runtime/v2/pkg/controller"
	"github.com/crossplane/crossplane-runtime/v2/pkg/errors"
	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/feature"
	"github.com/crossplane/crossplane-runtime/v2/pkg/ratelimiter"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/managed"
	"github.com/crossplane/crossplane-runtime/v2/pkg/resource"
	"github.com/crossplane/crossplane-runtime/v2/pkg/statemetrics"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/auth0client"
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

	opts := []managed.ReconcilerOption{
		managed.WithTypedExternalConnector[*v1alpha1.EventStream](&connector{
			kube:    mgr.GetClient(),
			usage:   resource.NewProviderConfigUsageTracker(mgr.GetClient(), &v1alpha1.ProviderConfigUsage{}),
			clients: eo.Clients,
			record:  recorder,
			getenv:  eo.Getenv,
			adoption: adoptionWindow{
				skew:    orDefault(eo.ClockSkew, DefaultClockSkew),
				timeout: orDefault(eo.CreateAttemptTimeout, DefaultCreateAttemptTimeout),
			},
			listings: newListings(),
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
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.EventStream{}, externalNameIndex, externalNames); err != nil {
		return errors.Wrap(err, "cannot index EventStreams by external name")
	}

	r := managed.NewReconciler(mgr, resource.ManagedKind(v1alpha1.EventStreamGroupVersionKind), opts...)
	return ctrl.NewControllerManagedBy(mgr).
		Named(name).
		WithOptions(o.ForControllerRuntime()).
		For(&v1alpha1.EventStream{}, builder.WithPredicates(resource.DesiredStateChanged())).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(streamsUsing(mgr.GetClient()))).
		Complete(ratelimiter.NewReconciler(name, r, o.GlobalRateLimiter))
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
