package controlplane

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Names of what product installs.
const (
	SimClientID         = "crossplane-e2e"
	CredentialsSecret   = "auth0-credentials"
	ProviderConfigName  = "default"
	providerProcessName = "provider-auth0"
	simProcessName      = "auth0-sim"
	functionPackageDir  = "package/function"
	providerPackageDir  = "package/provider"
	configurationDir    = "package/configuration"
	configurationLegacy = "package/configuration-legacy"
	eventStreamCRD      = "eventstreams.auth0.m.openmcf.org"
)

// ClusterProviderConfigGVR is the provider's cluster-scoped configuration.
var ClusterProviderConfigGVR = schema.GroupVersionResource{Group: "auth0.m.openmcf.org", Version: "v1alpha1", Resource: "clusterproviderconfigs"}

func dialOK(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// goBuild builds one of this repository's commands into the state folder.
func (p *plane) goBuild(ctx context.Context, name, pkg string) (string, error) {
	out := filepath.Join(p.dir, "bin", name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = p.opts.RepoRoot
	b, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return out, nil
}

// product installs this project the Crossplane way and runs its processes:
// the Auth0 simulator, the function, the provider, and a
// ClusterProviderConfig pointing at the simulator.
func (p *plane) product(ctx context.Context) error {
	start := time.Now()
	bins := map[string]string{}
	for name, pkg := range map[string]string{"function": ".", "provider": "./cmd/provider", "auth0-sim": "./cmd/auth0-sim"} {
		b, err := p.goBuild(ctx, name, pkg)
		if err != nil {
			return err
		}
		bins[name] = b
	}
	p.logf("built function, provider and simulator in %s", time.Since(start).Round(time.Second))

	if err := p.startSim(ctx, bins["auth0-sim"]); err != nil {
		return err
	}

	pkgs := map[string]xpkg{}
	config := configurationDir
	if p.state.Flavour == FlavourLegacy {
		config = configurationLegacy
	}
	for _, dir := range []string{functionPackageDir, providerPackageDir, config} {
		x, err := p.buildPackage(ctx, filepath.Join(p.opts.RepoRoot, dir))
		if err != nil {
			return err
		}
		pkgs[dir] = x
	}
	if err := p.installFunction(ctx, pkgs[functionPackageDir], bins["function"]); err != nil {
		return err
	}
	if err := p.installProvider(ctx, pkgs[providerPackageDir]); err != nil {
		return err
	}
	if err := p.waitFor(ctx, "EventStream CRD", 2*time.Minute, p.running["crossplane"], func(ctx context.Context) (bool, error) {
		return crdEstablished(ctx, p.dyn, eventStreamCRD)
	}); err != nil {
		return err
	}
	if err := p.startProvider(ctx, bins["provider"]); err != nil {
		return err
	}
	if err := p.providerConfig(ctx); err != nil {
		return err
	}
	return p.installConfiguration(ctx, pkgs[config])
}

func (p *plane) startSim(ctx context.Context, bin string) error {
	if err := p.ports(simProcessName); err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", p.state.Ports[simProcessName])
	tlsDir := filepath.Join(p.dir, "tls", simProcessName)
	secret := randomToken()
	p.state.Sim = &Sim{
		URL:          "https://" + addr,
		Domain:       addr,
		CACert:       filepath.Join(tlsDir, "ca.crt"),
		ClientID:     SimClientID,
		ClientSecret: secret,
	}
	// The secret goes in the command line of a loopback test server only;
	// the simulator never logs it.
	sim, err := p.start(simProcessName, bin, []string{"--addr=" + addr, "--client=" + SimClientID + ":" + secret, "--tls-dir=" + tlsDir}, nil)
	if err != nil {
		return err
	}
	if err := p.waitFor(ctx, "auth0 simulator", time.Minute, sim, func(ctx context.Context) (bool, error) {
		caPEM, err := os.ReadFile(p.state.Sim.CACert)
		if err != nil {
			return false, err
		}
		return httpGetOK(ctx, tlsClient(caPEM), p.state.Sim.URL+"/__sim/healthz", "")
	}); err != nil {
		return err
	}
	p.logf("auth0 simulator serving %s", p.state.Sim.URL)
	return p.save()
}

// DeliveryPoll is the provider's --delivery-poll on the control plane.
const DeliveryPoll = 10 * time.Second

func (p *plane) startProvider(ctx context.Context, bin string) error {
	if err := p.ports("provider-metrics", "provider-health"); err != nil {
		return err
	}
	health := fmt.Sprintf("127.0.0.1:%d", p.state.Ports["provider-health"])
	pr, err := p.start(providerProcessName, bin, []string{
		"--kubeconfig=" + p.state.Kubeconfig,
		"--debug",
		"--metrics-bind-address=" + fmt.Sprintf("127.0.0.1:%d", p.state.Ports["provider-metrics"]),
		"--health-probe-bind-address=" + health,
		"--auth0-ca-file=" + p.state.Sim.CACert,
		// Check each stream against Auth0 often, so drift is corrected
		// within a test's patience.
		"--poll=10s",
		// Read delivery health at every poll (the default is 5m), so a
		// failing destination shows within a test's patience.
		"--delivery-poll=" + DeliveryPoll.String(),
	}, nil)
	if err != nil {
		return err
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	if err := p.waitFor(ctx, "provider", time.Minute, pr, func(ctx context.Context) (bool, error) {
		return httpGetOK(ctx, plain, "http://"+health+"/readyz", "")
	}); err != nil {
		return err
	}
	p.logf("provider running")
	return nil
}

// providerConfig stores the simulator's credentials and CA in a Secret and
// points the default ClusterProviderConfig at it.
func (p *plane) providerConfig(ctx context.Context) error {
	caPEM, err := os.ReadFile(p.state.Sim.CACert)
	if err != nil {
		return fmt.Errorf("read simulator CA: %w", err)
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: CredentialsSecret, Namespace: crossplaneNamespace},
		StringData: map[string]string{
			"domain":       p.state.Sim.Domain,
			"clientId":     p.state.Sim.ClientID,
			"clientSecret": p.state.Sim.ClientSecret,
			"caCert":       string(caPEM),
		},
	}
	if _, err := p.kube.CoreV1().Secrets(crossplaneNamespace).Create(ctx, sec, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create credentials secret: %w", err)
	}
	pc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": ClusterProviderConfigGVR.GroupVersion().String(),
		"kind":       "ClusterProviderConfig",
		"metadata":   map[string]any{"name": ProviderConfigName},
		"spec": map[string]any{"credentials": map[string]any{
			"source":    "Secret",
			"secretRef": map[string]any{"namespace": crossplaneNamespace, "name": CredentialsSecret},
		}},
	}}
	if _, err := p.dyn.Resource(ClusterProviderConfigGVR).Apply(ctx, ProviderConfigName, pc, metav1.ApplyOptions{FieldManager: "controlplane", Force: true}); err != nil {
		return fmt.Errorf("apply ClusterProviderConfig: %w", err)
	}
	p.logf("ClusterProviderConfig %s points at the simulator", ProviderConfigName)
	return nil
}
