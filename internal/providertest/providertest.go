// Package providertest runs the provider's controllers against a real
// kube-apiserver and etcd (controller-runtime envtest) and the Auth0
// simulator over HTTPS, through the real go-auth0 client. The integration
// tests and the benchmarks share it.
package providertest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/crossplane/crossplane-runtime/v2/pkg/controller"
	"github.com/crossplane/crossplane-runtime/v2/pkg/feature"
	"github.com/crossplane/crossplane-runtime/v2/pkg/gate"
	"github.com/crossplane/crossplane-runtime/v2/pkg/logging"
	"github.com/crossplane/crossplane-runtime/v2/pkg/ratelimiter"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/customresourcesgate"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/auth0client"
	"github.com/xp-auth0/auth0-eventstream/internal/auth0sim"
	xpcontroller "github.com/xp-auth0/auth0-eventstream/internal/controller"
	"github.com/xp-auth0/auth0-eventstream/internal/controller/eventstream"
	"github.com/xp-auth0/auth0-eventstream/internal/proof"
)

// Credentials of the simulator's one machine-to-machine application.
const (
	ClientID     = "provider-test-client"
	ClientSecret = "provider-test-client-secret"
)

// Env is a running API server, simulator and provider.
type Env struct {
	Kube    client.Client
	Config  *rest.Config
	Sim     *auth0sim.Running
	Metrics *auth0client.Metrics
	Clients *auth0client.Cache
	Scheme  *kruntime.Scheme
}

// Options tune the provider under test.
type Options struct {
	// Poll is the poll interval; default 1s.
	Poll time.Duration
	// MaxReconcileRate; default 10.
	MaxReconcileRate int
	// Sim configures the simulator; Clients gets the test client added.
	Sim auth0sim.Options
	// Debug logs the controllers at debug level.
	Debug bool
	// DeliveryPoll is the provider's --delivery-poll; 0 disables delivery
	// health.
	DeliveryPoll time.Duration
	// LogTo, when set, also receives the provider's logs (at Debug's level),
	// for tests that check what the provider logs.
	LogTo io.Writer
	// NoProvider starts only the API server and the simulator, for running
	// the provider binary against them.
	NoProvider bool
	// Auth0Domains are the hosts credentials may name besides the
	// simulator's (--auth0-domains).
	Auth0Domains []string
	// ObserveFromLists observes streams from one listing of the tenant per
	// Poll, as the provider does by default; without it each observation
	// is a GET of the stream (--no-observe-from-lists), which tests that
	// count a stream's reads rely on.
	ObserveFromLists bool
	// SecretWatch is the provider's --secret-watch; cluster when empty.
	SecretWatch eventstream.SecretWatch
	// Impersonate, when set, is the identity the provider acts as (its
	// manager and the client that makes its proof key), in place of the
	// API server's admin; Env.Kube stays the admin.
	Impersonate *rest.ImpersonationConfig
	// BeforeProvider runs with the admin's Env once the API server and the
	// provider's namespace are up, before the provider starts (to grant an
	// impersonated identity its roles).
	BeforeProvider func(tb testing.TB, e *Env)
	// LeaderElection makes the provider hold its leader election Lease in
	// KeyNamespace, as cmd/provider does with --leader-election.
	LeaderElection bool
}

// KeyNamespace is the provider's own namespace in the test environment,
// where it keeps its proof key.
const KeyNamespace = "provider-system"

// Start brings everything up and registers its teardown with tb.Cleanup.
// It fails tb (never skips) when KUBEBUILDER_ASSETS is missing.
func Start(tb testing.TB, o Options) *Env {
	tb.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		tb.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`, or export KUBEBUILDER_ASSETS=$(hack/build-tool.sh envtest-assets)")
	}
	if o.Poll == 0 {
		o.Poll = time.Second
	}
	if o.MaxReconcileRate == 0 {
		o.MaxReconcileRate = 10
	}

	scheme := kruntime.NewScheme()
	for _, add := range []func(*kruntime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			tb.Fatal(err)
		}
	}

	te := &envtest.Environment{
		CRDDirectoryPaths:     []string{CRDDir()},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	cfg, err := te.Start()
	if err != nil {
		tb.Fatalf("cannot start envtest (kube-apiserver and etcd from KUBEBUILDER_ASSETS=%s): %v", os.Getenv("KUBEBUILDER_ASSETS"), err)
	}
	tb.Cleanup(func() {
		if err := te.Stop(); err != nil {
			tb.Errorf("cannot stop envtest: %v", err)
		}
	})

	if o.Sim.Clients == nil {
		o.Sim.Clients = map[string]string{}
	}
	o.Sim.Clients[ClientID] = ClientSecret
	sim, err := auth0sim.Start(o.Sim)
	if err != nil {
		tb.Fatalf("cannot start the Auth0 simulator: %v", err)
	}
	tb.Cleanup(sim.Close)

	kube, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		tb.Fatal(err)
	}

	env := &Env{Kube: kube, Config: cfg, Sim: sim, Scheme: scheme}
	// The provider's own namespace, where it keeps its proof key.
	if err := kube.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: KeyNamespace}}); err != nil {
		tb.Fatal(err)
	}
	if o.NoProvider {
		return env
	}
	if o.BeforeProvider != nil {
		o.BeforeProvider(tb, env)
	}
	pcfg := rest.CopyConfig(cfg)
	if o.Impersonate != nil {
		pcfg.Impersonate = *o.Impersonate
	}

	mgr, err := ctrl.NewManager(ratelimiter.LimitRESTConfig(pcfg, o.MaxReconcileRate*10), ctrl.Options{
		Scheme: scheme,
		// As cmd/provider: no Secret data in the cache.
		Cache:  xpcontroller.CacheOptions(nil),
		Client: xpcontroller.ClientOptions(),
		// Controller names are unique per process; a test binary may run
		// more than one environment (go test -count).
		Controller:                 ctrlconfig.Controller{SkipNameValidation: new(true)},
		Metrics:                    metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:     "0",
		LeaderElection:             o.LeaderElection,
		LeaderElectionID:           xpcontroller.LeaderElectionID,
		LeaderElectionNamespace:    KeyNamespace,
		LeaderElectionResourceLock: resourcelock.LeasesResourceLock,
		// The Lease is given up at teardown, as the next test's provider
		// would otherwise wait for it to expire.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	zopts := []zap.Opts{zap.UseDevMode(true), zap.Level(zapLevel(o.Debug))}
	if o.LogTo != nil {
		zopts = append(zopts, zap.WriteTo(io.MultiWriter(os.Stderr, o.LogTo)))
	}
	zl := zap.New(zopts...)
	ctrl.SetLogger(zl)
	metrics := auth0client.NewMetrics()
	hosts, err := auth0client.ParseHosts(strings.Join(append([]string{sim.Domain()}, o.Auth0Domains...), ","))
	if err != nil {
		tb.Fatal(err)
	}
	ccfg := auth0client.Config{UserAgent: "provider-test", Metrics: metrics, Hosts: hosts}
	if o.ObserveFromLists {
		ccfg.ListEvery = o.Poll
	}
	clients := auth0client.NewCache(ccfg)
	// As cmd/provider: the key is made in the provider's namespace on the
	// first start.
	pkube := kube
	if o.Impersonate != nil {
		if pkube, err = client.New(pcfg, client.Options{Scheme: scheme}); err != nil {
			tb.Fatal(err)
		}
	}
	proofs, err := proof.LoadOrCreate(context.Background(), pkube, KeyNamespace)
	if err != nil {
		tb.Fatal(err)
	}
	co := controller.Options{
		Logger:                  logging.NewLogrLogger(zl),
		MaxConcurrentReconciles: o.MaxReconcileRate,
		PollInterval:            o.Poll,
		GlobalRateLimiter:       ratelimiter.NewGlobal(o.MaxReconcileRate),
		Features:                &feature.Flags{},
		Gate:                    new(gate.Gate[schema.GroupVersionKind]),
	}
	co.Features.Enable(feature.EnableBetaManagementPolicies)
	// The same safe-start path as cmd/provider: the EventStream controller
	// starts once the CRD gate sees its CRD established.
	if err := customresourcesgate.Setup(mgr, co); err != nil {
		tb.Fatal(err)
	}
	if err := xpcontroller.SetupGated(mgr, co, eventstream.Options{Clients: clients, CreationGracePeriod: time.Second, DeliveryPoll: o.DeliveryPoll, Proofs: proofs, Hosts: hosts, SecretWatch: o.SecretWatch}); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("manager stopped with error: %v", err)
		}
	})
	env.Metrics, env.Clients = metrics, clients
	return env
}

// WriteKubeconfig writes a kubeconfig for the API server's admin user.
func (e *Env) WriteKubeconfig(path string) error {
	c := clientcmdapi.NewConfig()
	c.Clusters["envtest"] = &clientcmdapi.Cluster{Server: e.Config.Host, CertificateAuthorityData: e.Config.CAData}
	c.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: e.Config.CertData, ClientKeyData: e.Config.KeyData, Token: e.Config.BearerToken}
	c.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	c.CurrentContext = "envtest"
	return clientcmd.WriteToFile(*c, path)
}

func zapLevel(debug bool) zapcore.Level {
	if debug {
		return zapcore.DebugLevel
	}
	return zapcore.WarnLevel
}

// CRDDir is package/provider/crds of this module.
func CRDDir() string { return filepath.Join(ModuleRoot(), "package", "provider", "crds") }

// ModuleRoot is the folder of this module's go.mod, found upwards from the
// working folder (a test's is its package's). Source paths are no help:
// make test builds with -trimpath.
func ModuleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			panic("no go.mod above " + dir)
		}
	}
}

// CredentialsSecret returns a credentials Secret for the simulator.
func (e *Env) CredentialsSecret(namespace, name, clientSecret string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Data: map[string][]byte{
			v1alpha1.CredentialDomain:       []byte(e.Sim.Domain()),
			v1alpha1.CredentialClientID:     []byte(ClientID),
			v1alpha1.CredentialClientSecret: []byte(clientSecret),
			v1alpha1.CredentialCACert:       e.Sim.CACertPEM,
		},
	}
}

// Namespace creates a namespace with a credentials Secret and a
// ProviderConfig named "default" using it.
func (e *Env) Namespace(ctx context.Context, tb testing.TB, name, clientSecret string) {
	tb.Helper()
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}},
		e.CredentialsSecret(name, "auth0", clientSecret),
		&v1alpha1.ProviderConfig{
			ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "default"},
			Spec: v1alpha1.ProviderConfigSpec{Credentials: v1alpha1.LocalCredentials{
				Source:    v1alpha1.CredentialsSourceSecret,
				SecretRef: &xpv2.LocalSecretReference{Name: "auth0"},
			}},
		},
	}
	for _, o := range objs {
		if err := e.Kube.Create(ctx, o); err != nil {
			tb.Fatalf("cannot create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// BackoffCap is the longest a failing reconcile waits for its next try:
// crossplane-runtime's per-item exponential backoff (ratelimiter.NewController,
// 1s doubling up to 60s).
const BackoffCap = 60 * time.Second

// Within bounds how long the provider takes to act on a change when nothing
// is wrong: a few polls to notice it, and along the way a reconcile that
// failed for a reason the test did not cause (a conflict on a status write,
// a slow API server on a loaded machine) retried at the backoff cap, twice.
// A fixed bound shorter than the backoff cap is missed without any fault.
func Within(poll time.Duration) time.Duration { return 2*BackoffCap + 3*poll }

// Eventually polls cond every 100ms until it returns "" or timeout passes,
// then fails tb with the last thing cond reported.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() string) {
	tb.Helper()
	EventuallyEvery(tb, 100*time.Millisecond, timeout, what, cond)
}

// EventuallyEvery is Eventually polling every interval, for conditions that
// are expensive to check.
func EventuallyEvery(tb testing.TB, interval, timeout time.Duration, what string, cond func() string) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		last := cond()
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not true after %s: %s", what, timeout, last)
		}
		time.Sleep(interval)
	}
}

// Ready reports why es is not Ready and Synced, or "".
func Ready(es *v1alpha1.EventStream) string {
	r, s := es.GetCondition(xpv2.TypeReady), es.GetCondition(xpv2.TypeSynced)
	if r.Status != corev1.ConditionTrue || s.Status != corev1.ConditionTrue {
		return fmt.Sprintf("Ready=%s (%s) Synced=%s (%s: %s)", r.Status, r.Reason, s.Status, s.Reason, s.Message)
	}
	return ""
}
