// Command provider runs the Auth0 EventStream provider: controllers that
// reconcile EventStream managed resources with Auth0 event streams.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/alecthomas/kong"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/crossplane/crossplane-runtime/v2/pkg/controller"
	"github.com/crossplane/crossplane-runtime/v2/pkg/feature"
	"github.com/crossplane/crossplane-runtime/v2/pkg/gate"
	"github.com/crossplane/crossplane-runtime/v2/pkg/logging"
	"github.com/crossplane/crossplane-runtime/v2/pkg/ratelimiter"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/customresourcesgate"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/managed"
	"github.com/crossplane/crossplane-runtime/v2/pkg/statemetrics"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/auth0client"
	xpcontroller "github.com/xp-auth0/auth0-eventstream/internal/controller"
	"github.com/xp-auth0/auth0-eventstream/internal/controller/eventstream"
	"github.com/xp-auth0/auth0-eventstream/internal/proof"
	"github.com/xp-auth0/auth0-eventstream/internal/version"
)

type cli struct {
	Version kong.VersionFlag `help:"Print the version and exit."`

	Debug                   bool   `help:"Log at debug level." short:"d"`
	Kubeconfig              string `help:"Kubeconfig to use out of cluster; default: KUBECONFIG, then in-cluster config, then ~/.kube/config." type:"path"`
	LeaderElection          bool   `env:"LEADER_ELECTION" help:"Use leader election, for more than one replica." short:"l"`
	LeaderElectionNamespace string `default:"crossplane-system" env:"LEADER_ELECTION_NAMESPACE" help:"Namespace of the leader election Lease when out of cluster."`

	Sync                   time.Duration `default:"1h" help:"How often all resources are resynced from the API server cache." short:"s"`
	Poll                   time.Duration `default:"1m" help:"How often each EventStream is checked against Auth0: one listing of each tenant per poll (100 streams a page), or, with --no-observe-from-lists, one GET per stream per poll."`
	ObserveFromLists       bool          `default:"true" help:"Observe streams from one listing of each ProviderConfig's tenant per poll, shared by all its EventStreams, instead of a GET per stream per poll; a stream written since the listing began, or missing from it, is read with its own GET (docs/performance.md). --no-observe-from-lists reads every stream with its own GET each poll." name:"observe-from-lists" negatable:""`
	PollJitter             time.Duration `default:"6s" help:"Spread polls: each comes up to this much before or after --poll, so streams created together do not poll together. Must be less than --poll; 0 disables."`
	DeliveryPoll           time.Duration `default:"5m" help:"How often each EventStream's delivery health (Auth0's stats, and failed deliveries when there are failures) is read: at most two Auth0 calls per stream per delivery poll. 0 disables."`
	PollStateMetric        time.Duration `default:"5s" help:"How often managed resource state metrics are recorded."`
	MaxReconcileRate       int           `default:"10" help:"Maximum reconciles per second, and concurrent reconciles per controller."`
	CreationGracePeriod    time.Duration `default:"30s" help:"After a create, how long a stream Auth0 does not return is assumed to be still appearing."`
	MetricsBindAddress     string        `default:":8080" help:"Address of the Prometheus metrics endpoint (/metrics); 0 disables it."`
	HealthProbeBindAddress string        `default:":8081" help:"Address of the /healthz and /readyz probes; 0 disables them."`

	EnableManagementPolicies bool `default:"true" env:"ENABLE_MANAGEMENT_POLICIES" help:"Honour spec.managementPolicies, e.g. Observe-only imports." negatable:""`

	SecretWatch string `default:"cluster" enum:"cluster,none" help:"How the provider learns that a Secret an EventStream or a ProviderConfig references changed. cluster: watch the metadata of every Secret (RBAC list and watch on all Secrets); a rotated webhook Secret reaches Auth0 within seconds. none: get only (package/provider-rbac/least-privilege.yaml); each reconcile reads the Secrets it uses, so a rotation reaches Auth0 at each stream's next poll, within 2 x (--poll + --poll-jitter)." name:"secret-watch"`

	Namespace string `default:"crossplane-system" env:"POD_NAMESPACE" help:"The provider's own namespace, where it keeps the key of its ownership proofs (Secret auth0-eventstream-proof-key). Tenants must not be able to read Secrets there."`

	Auth0Domains    string        `default:"*.auth0.com" env:"AUTH0_DOMAINS" help:"Comma-separated hosts a ProviderConfig's credentials may name: exact host[:port], or *.suffix[:port] for any subdomain; a port * admits any port. The default admits Auth0's own tenant domains only. Checked before any token or API request." name:"auth0-domains"`
	Auth0CAFile     string        `env:"AUTH0_CA_FILE" help:"PEM file of extra CA certificates to trust for Auth0 tenants (a local simulator's CA)." name:"auth0-ca-file" type:"existingfile"`
	Auth0Timeout    time.Duration `default:"30s" help:"Timeout of one HTTP attempt to Auth0." name:"auth0-timeout"`
	Auth0MaxRetries int           `default:"3" help:"Retries of an Auth0 GET, PATCH or DELETE after a 429, 5xx or connection error (go-auth0 waits for x-ratelimit-reset). Creates are never retried." name:"auth0-max-retries"`
	// The default is auth0client.DefaultRateBudget (TestFlags checks it).
	Auth0RateBudget int `default:"8" help:"Most Management API requests per second the provider sends one Auth0 tenant, shared by every ProviderConfig naming it, retries included: its share of the tenant's rate limit. The default, half of an Enterprise tenant's 16/s, leaves the rest to the tenant's other users; a Free or non-production tenant (2/s) needs 1 (docs/performance.md). Observations and writes wait for their turn; delivery-health reads use what is left, stalest first. At least 1." name:"auth0-rate-budget"`
}

func main() {
	var c cli
	kctx := kong.Parse(&c, kong.Name("provider"), kong.Description("Crossplane provider for Auth0 event streams."),
		kong.Vars{"version": version.Version})
	kctx.FatalIfErrorf(c.run())
}

// validate checks flags that depend on each other.
func (c *cli) validate() error {
	if c.PollJitter < 0 || c.PollJitter >= c.Poll {
		return fmt.Errorf("--poll-jitter %s must be at least 0 and less than --poll %s", c.PollJitter, c.Poll)
	}
	if c.DeliveryPoll < 0 {
		return fmt.Errorf("--delivery-poll %s must be at least 0 (0 disables delivery health)", c.DeliveryPoll)
	}
	if c.MaxReconcileRate <= 0 {
		return fmt.Errorf("--max-reconcile-rate %d must be at least 1: it is the reconciles per second and the concurrent reconciles of the controller", c.MaxReconcileRate)
	}
	if c.Auth0RateBudget < 1 {
		return fmt.Errorf("--auth0-rate-budget %d must be at least 1: it is the most Management API requests per second sent to one Auth0 tenant", c.Auth0RateBudget)
	}
	if _, err := auth0client.ParseHosts(c.Auth0Domains); err != nil {
		return fmt.Errorf("--auth0-domains: %w", err)
	}
	if c.Namespace == "" {
		return errors.New("--namespace must name the provider's own namespace")
	}
	return nil
}

func (c *cli) run() error {
	if err := c.validate(); err != nil {
		return err
	}
	zl := zap.New(zap.UseDevMode(c.Debug))
	log := logging.NewLogrLogger(zl.WithName("provider-auth0-eventstream"))
	if c.Debug {
		ctrl.SetLogger(zl)
	} else {
		// controller-runtime is very verbose at info level.
		ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	}

	cfg, err := c.restConfig()
	if err != nil {
		return fmt.Errorf("cannot load a kubeconfig: %w", err)
	}

	scheme := clientgoscheme.Scheme
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return fmt.Errorf("cannot add the auth0.m.openmcf.org API to the scheme: %w", err)
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		return fmt.Errorf("cannot add CustomResourceDefinitions to the scheme: %w", err)
	}

	lease, renew := 60*time.Second, 50*time.Second
	mgr, err := ctrl.NewManager(ratelimiter.LimitRESTConfig(cfg, c.MaxReconcileRate), ctrl.Options{
		Scheme: scheme,
		// managedFields are not cached (a large share of the memory a
		// thousand EventStreams take), nor the data of Secrets.
		Cache:                      xpcontroller.CacheOptions(&c.Sync),
		Client:                     xpcontroller.ClientOptions(),
		Metrics:                    metricsserver.Options{BindAddress: c.MetricsBindAddress},
		HealthProbeBindAddress:     c.HealthProbeBindAddress,
		LeaderElection:             c.LeaderElection,
		LeaderElectionID:           xpcontroller.LeaderElectionID,
		LeaderElectionNamespace:    c.LeaderElectionNamespace,
		LeaderElectionResourceLock: resourcelock.LeasesResourceLock,
		LeaseDuration:              &lease,
		RenewDeadline:              &renew,
	})
	if err != nil {
		return fmt.Errorf("cannot create the controller manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("cannot add the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("cannot add the readiness check: %w", err)
	}

	mrMetrics := managed.NewMRMetricRecorder()
	stateMetrics := statemetrics.NewMRStateMetrics()
	auth0Metrics := auth0client.NewMetrics()
	metrics.Registry.MustRegister(mrMetrics, stateMetrics, auth0Metrics, eventstream.NewDeliveryHealthCollector(mgr.GetClient()))

	var ca []byte
	if c.Auth0CAFile != "" {
		if ca, err = os.ReadFile(c.Auth0CAFile); err != nil {
			return fmt.Errorf("cannot read --auth0-ca-file: %w", err)
		}
	}

	o := controller.Options{
		Logger:                  log,
		MaxConcurrentReconciles: c.MaxReconcileRate,
		PollInterval:            c.Poll,
		GlobalRateLimiter:       ratelimiter.NewGlobal(c.MaxReconcileRate),
		Features:                &feature.Flags{},
		Gate:                    new(gate.Gate[schema.GroupVersionKind]),
		MetricOptions: &controller.MetricOptions{
			PollStateMetricInterval: c.PollStateMetric,
			MRMetrics:               mrMetrics,
			MRStateMetrics:          stateMetrics,
		},
	}
	if c.EnableManagementPolicies {
		o.Features.Enable(feature.EnableBetaManagementPolicies)
		log.Info("Beta feature enabled", "flag", feature.EnableBetaManagementPolicies)
	}

	hosts := auth0client.MustParseHosts(c.Auth0Domains)
	budgets, err := auth0client.NewBudgets(c.Auth0RateBudget, auth0Metrics)
	if err != nil {
		return fmt.Errorf("--auth0-rate-budget: %w", err)
	}
	clients := auth0client.NewCache(auth0client.Config{
		CACerts:        ca,
		UserAgent:      "provider-auth0-eventstream/" + version.Version,
		AttemptTimeout: c.Auth0Timeout,
		MaxRetries:     c.Auth0MaxRetries,
		Metrics:        auth0Metrics,
		Hosts:          hosts,
		ListEvery:      listEvery(c.ObserveFromLists, c.Poll),
		Budgets:        budgets,
	})
	// The key is read once, before any reconcile; an uncached client,
	// since the manager's cache does not run yet.
	direct, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("cannot create a Kubernetes client: %w", err)
	}
	keyCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	proofs, err := proof.LoadOrCreate(keyCtx, direct, c.Namespace)
	cancel()
	if err != nil {
		return err
	}
	// Safe-start: controllers of a kind start once its CRD is established.
	if err := customresourcesgate.Setup(mgr, o); err != nil {
		return fmt.Errorf("cannot set up the CRD gate: %w", err)
	}
	if err := xpcontroller.SetupGated(mgr, o, eventstream.Options{
		Clients: clients, CreationGracePeriod: c.CreationGracePeriod, PollJitter: c.PollJitter, MaxReconcileRate: c.MaxReconcileRate,
		CreateAttemptTimeout: c.Auth0Timeout, DeliveryPoll: c.DeliveryPoll, Proofs: proofs, Hosts: hosts,
		SecretWatch: eventstream.SecretWatch(c.SecretWatch),
	}); err != nil {
		return fmt.Errorf("cannot set up controllers: %w", err)
	}
	log.Info("Starting", "version", version.Version, "auth0Domains", hosts.String(), "namespace", c.Namespace, "poll", c.Poll.String(), "pollJitter", c.PollJitter.String(), "deliveryPoll", c.DeliveryPoll.String(), "auth0RateBudget", c.Auth0RateBudget, "sync", c.Sync.String(), "secretWatch", c.SecretWatch)
	return mgr.Start(ctrl.SetupSignalHandler())
}

func (c *cli) restConfig() (*rest.Config, error) {
	if c.Kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	}
	return ctrl.GetConfig()
}

// listEvery is how often each tenant is listed for observations; zero
// observes with a GET per stream.
func listEvery(fromLists bool, poll time.Duration) time.Duration {
	if !fromLists {
		return 0
	}
	return poll
}
