package controlplane

import (
	"context"
	"fmt"
	"net"
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
	SimClientID        = "crossplane-e2e"
	CredentialsSecret  = "auth0-credentials"
	ProviderConfigName = "default"
	simProcessName     = "auth0-sim"
	// otherTenantPort names the ports reserved for tests' own
	// simulators; otherTenants is how many tests may hold one at once.
	otherTenantPort = "auth0-sim-other-tenant-%d"
	otherTenants    = 4
	eventStreamCRD  = "eventstreams.auth0.m.openmcf.org"
)

// ClusterProviderConfigGVR is the provider's cluster-scoped configuration.
var ClusterProviderConfigGVR = schema.GroupVersionResource{Group: "auth0.m.openmcf.org", Version: "v1alpha1", Resource: "clusterproviderconfigs"}

func dialOK(ctx context.Context, addr string) bool {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
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

// product installs this project the way a user would and runs its
// processes: it publishes our packages to the registry, points Crossplane
// at it with an ImageConfig, applies only the Configuration, plays the
// runtime for the Function and Provider Crossplane installs as its
// dependencies, and points a ClusterProviderConfig at the Auth0 simulator.
func (p *plane) product(ctx context.Context) error {
	start := time.Now()
	// The simulator stands in for Auth0 and ships in no package: it is
	// built from the tree. The function and provider run from the images.
	sim, err := p.goBuild(ctx, simProcessName, "./cmd/auth0-sim")
	if err != nil {
		return err
	}
	p.logf("built the simulator in %s", time.Since(start).Round(time.Second))
	if err := p.startSim(ctx, sim); err != nil {
		return err
	}
	if err := p.publish(ctx, InitialVersion); err != nil {
		return err
	}
	if err := p.imageConfig(ctx); err != nil {
		return err
	}
	if err := p.providerPermissions(ctx); err != nil {
		return err
	}
	if err := p.installConfiguration(ctx, InitialVersion); err != nil {
		return err
	}
	return p.providerConfig(ctx)
}

func (p *plane) startSim(ctx context.Context, bin string) error {
	names := make([]string, 0, 1+otherTenants)
	names = append(names, simProcessName)
	for i := range otherTenants {
		names = append(names, fmt.Sprintf(otherTenantPort, i))
	}
	if err := p.ports(names...); err != nil {
		return err
	}
	others := make([]string, 0, otherTenants)
	for _, n := range names[1:] {
		others = append(others, fmt.Sprintf("127.0.0.1:%d", p.state.Ports[n]))
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
		OtherTenants: others,
	}
	// The secret goes in the environment, not the command line, which the
	// process's log header and ps show; the simulator never logs it.
	sim, err := p.start(simProcessName, bin, []string{"--addr=" + addr, "--tls-dir=" + tlsDir}, []string{"AUTH0_SIM_CLIENT=" + SimClientID + ":" + secret})
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
	if _, err := p.dyn.Resource(ClusterProviderConfigGVR).Apply(ctx, ProviderConfigName, pc, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return fmt.Errorf("apply ClusterProviderConfig: %w", err)
	}
	p.logf("ClusterProviderConfig %s points at the simulator", ProviderConfigName)
	return nil
}
