// Package controlplane runs a real Crossplane control plane on loopback,
// without containers: etcd, kube-apiserver, kube-controller-manager (garbage
// collector, namespace and ClusterRole aggregation controllers), Crossplane
// core with an External package runtime and its RBAC manager, each under
// the ServiceAccount and roles of Crossplane's chart, and, optionally, this project's packages with the
// function, the provider and the Auth0 simulator as local processes.
//
// Every server runs detached, records its PID in state.json and logs to
// logs/<name>.log under the state folder, so the plane can outlive the
// program that started it (make demo) and be stopped by PID (make
// demo-down).
package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Pinned versions; hack/build-tool.sh builds the binaries.
const (
	CrossplaneModule  = "github.com/crossplane/crossplane/v2"
	CrossplaneVersion = "v2.2.1"

	crossplaneNamespace = "crossplane-system"
	stateFile           = "state.json"
	// fieldManager owns what the plane applies.
	fieldManager = "controlplane"
)

// Options configures Up.
type Options struct {
	// Dir holds state, logs, certificates and etcd's data.
	Dir string
	// RepoRoot is the root of this repository (for hack/build-tool.sh and
	// building our binaries and packages).
	RepoRoot string
	// Product installs our packages and runs the simulator, function and
	// provider. Without it only the Kubernetes and Crossplane core run.
	Product bool
	// Flavour picks the Configuration to install with Product: the
	// namespaced XR API (FlavourNamespaced, the default) or the legacy
	// claim API (FlavourLegacy). They serve the same kind, so a cluster
	// runs one of them.
	Flavour string
	// Terraform (with Product) also installs provider-terraform with a
	// runtime image of ours and ClusterProviderConfig auth0 pointing at the
	// simulator, for the terraform backend (terraform.go).
	Terraform bool
	// Log receives progress lines.
	Log io.Writer
}

// State describes a running control plane; Up writes it to state.json.
type State struct {
	Dir        string         `json:"dir"`
	Kubeconfig string         `json:"kubeconfig"`
	Server     string         `json:"server"`
	Ports      map[string]int `json:"ports"`
	Processes  []Process      `json:"processes"`
	Product    bool           `json:"product"`
	Flavour    string         `json:"flavour,omitempty"`
	// Terraform: provider-terraform runs and ClusterProviderConfig auth0
	// (tf.m.upbound.io) points at the simulator.
	Terraform bool              `json:"terraform,omitempty"`
	Tools     map[string]string `json:"tools"`
	Sim       *Sim              `json:"sim,omitempty"`
	// RepoRoot is the repository the packages are built from.
	RepoRoot string `json:"repoRoot"`
	// Registry serves our packages to Crossplane.
	Registry *Registry `json:"registry,omitempty"`
	// Packages maps a package object (Function/NAME) to its source.
	Packages map[string]string `json:"packages,omitempty"`
	// Runtime maps a package revision to the process that serves it.
	Runtime map[string]Runtime `json:"runtime,omitempty"`
	Ready   bool               `json:"ready"`
}

// Sim is how to reach the Auth0 simulator.
type Sim struct {
	// URL is the tenant base URL (https://127.0.0.1:PORT).
	URL    string `json:"url"`
	Domain string `json:"domain"`
	// CACert is the PEM file the simulator's certificate chains to.
	CACert       string `json:"caCert"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	// OtherTenants are host:port where tests may serve simulators of
	// their own standing in for other Auth0 tenants, one test at a time
	// each: the provider's --auth0-domains admits them and Domain, nothing
	// else.
	OtherTenants []string `json:"otherTenants,omitempty"`
}

type plane struct {
	dir     string
	opts    Options
	state   *State
	running map[string]*running
	rest    *rest.Config
	kube    kubernetes.Interface
	dyn     dynamic.Interface
}

func (p *plane) logf(format string, args ...any) {
	if p.opts.Log != nil {
		_, _ = fmt.Fprintf(p.opts.Log, "controlplane: "+format+"\n", args...)
	}
}

func (p *plane) save() error {
	b, err := json.MarshalIndent(p.state, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return os.WriteFile(filepath.Join(p.dir, stateFile), b, 0o600)
}

// Load reads the state of a control plane from its folder.
func Load(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("read control plane state (is it up? run make demo or the controlplane up command): %w", err)
	}
	s := &State{}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("decode %s: %w", filepath.Join(dir, stateFile), err)
	}
	return s, nil
}

// Alive reports whether every recorded process still runs.
func (s *State) Alive() bool {
	if len(s.Processes) == 0 {
		return false
	}
	for _, pr := range s.Processes {
		if !alive(pr) {
			return false
		}
	}
	return true
}

// RESTConfig is a client configuration for the admin user.
func (s *State) RESTConfig() (*rest.Config, error) {
	b, err := os.ReadFile(s.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig: %w", err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(b)
	if err != nil {
		return nil, fmt.Errorf("parse kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, nil
}

// Down stops every process recorded in dir's state, newest first (so
// kube-apiserver stops before etcd), and marks the state not ready. Logs
// and data stay for inspection.
func Down(dir string, log io.Writer) error {
	s, err := Load(dir)
	if errors.Is(err, os.ErrNotExist) || (err != nil && strings.Contains(err.Error(), "no such file")) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, pr := range slices.Backward(s.Processes) {
		if !alive(pr) {
			continue
		}
		if log != nil {
			_, _ = fmt.Fprintf(log, "controlplane: stopping %-24s pid %d\n", pr.Name, pr.PID)
		}
		if err := stop(pr, 15*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	s.Processes, s.Ready = nil, false
	b, err := json.MarshalIndent(s, "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, stateFile), b, 0o600)
	}
	errs = append(errs, err)
	return errors.Join(errs...)
}

// Up starts a control plane in opts.Dir, or returns the running one
// recorded there. On failure it stops what it started.
func Up(ctx context.Context, opts Options) (s *State, err error) {
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", opts.Dir, err)
	}
	if opts.Product && os.Geteuid() != 0 {
		// Checked first: it would otherwise fail after minutes of start-up.
		return nil, errors.New("up --product runs the function and provider images chrooted as their user (uid 65532), as a container runtime would; that needs root (CAP_SYS_CHROOT, CAP_SETUID)")
	}
	if opts.Terraform && !opts.Product {
		return nil, errors.New("up --terraform needs --product: provider-terraform's ClusterProviderConfig points at the product's Auth0 simulator")
	}
	if s, ok, err := reuse(ctx, dir, opts); ok || err != nil {
		return s, err
	}
	// Keep the folder (its logs are useful) but start from empty state.
	for _, sub := range []string{"etcd", "pki", "logs", "package-cache", "tls", "bin", registryProcess, runtimeDir, "xpkg", stateFile} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			return nil, fmt.Errorf("clean %s: %w", sub, err)
		}
	}
	for _, sub := range []string{"logs", "pki", "package-cache", "tls", "bin", runtimeDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", sub, err)
		}
	}
	p := &plane{
		dir:     dir,
		opts:    opts,
		state:   &State{Dir: dir, RepoRoot: opts.RepoRoot, Ports: map[string]int{}, Product: opts.Product, Flavour: flavour(opts), Tools: map[string]string{}, Packages: map[string]string{}, Runtime: map[string]Runtime{}},
		running: map[string]*running{},
	}
	defer func() {
		if err != nil {
			p.logf("start failed; stopping what was started (logs stay in %s)", rel(filepath.Join(dir, "logs")))
			_ = Down(dir, opts.Log)
		}
	}()
	if err := p.tools(ctx); err != nil {
		return nil, err
	}
	if err := p.kubernetes(ctx); err != nil {
		return nil, err
	}
	if err := p.startRegistry(ctx); err != nil {
		return nil, err
	}
	if err := p.crossplane(ctx); err != nil {
		return nil, err
	}
	if opts.Product {
		if err := p.product(ctx); err != nil {
			return nil, err
		}
	}
	if opts.Terraform {
		if err := p.terraform(ctx); err != nil {
			return nil, err
		}
	}
	p.state.Ready = true
	if err := p.save(); err != nil {
		return nil, err
	}
	return p.state, nil
}

// reuse returns the running plane recorded in dir when it has what opts
// ask for, adding provider-terraform to a running product plane when only
// that is missing; it stops a half-started or partly dead plane and
// reports false, so Up starts over.
func reuse(ctx context.Context, dir string, opts Options) (*State, bool, error) {
	old, err := Load(dir)
	if err != nil {
		return nil, false, nil //nolint:nilerr // No plane recorded there: start one.
	}
	running := old.Ready && old.Alive() && old.Flavour == flavour(opts)
	if running && (old.Product || !opts.Product) && (old.Terraform || !opts.Terraform) {
		return old, true, nil
	}
	if running && old.Product && opts.Product {
		// Only provider-terraform is missing: add it to the running plane.
		p, err := attach(dir, opts.Log)
		if err != nil {
			return nil, false, err
		}
		if err := p.terraform(ctx); err != nil {
			return nil, false, err
		}
		return p.state, true, nil
	}
	// A half-started or partly dead plane: stop what is left, start over.
	if err := Down(dir, opts.Log); err != nil {
		return nil, false, fmt.Errorf("stop previous control plane: %w", err)
	}
	return nil, false, nil
}

// Flavours of the Auth0EventStream API.
const (
	FlavourNamespaced = "namespaced"
	FlavourLegacy     = "legacy"
)

func flavour(o Options) string {
	switch {
	case !o.Product:
		return ""
	case o.Flavour == "":
		return FlavourNamespaced
	default:
		return o.Flavour
	}
}

// tools finds (building when missing) the pinned binaries.
func (p *plane) tools(ctx context.Context) error {
	for _, t := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kubectl", "crossplane", "crank", "registry"} {
		if err := p.tool(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// tool records the path of one pinned binary: E2E_TOOL_<NAME> when set
// (a binary of one's own), else what hack/build-tool.sh builds or has cached.
func (p *plane) tool(ctx context.Context, name string) error {
	if env := os.Getenv("E2E_TOOL_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); env != "" {
		p.state.Tools[name] = env
		return nil
	}
	cmd := exec.CommandContext(ctx, filepath.Join(p.opts.RepoRoot, "hack", "build-tool.sh"), name)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("build %s with hack/build-tool.sh: %w", name, err)
	}
	p.state.Tools[name] = strings.TrimSpace(string(out))
	return nil
}

func (p *plane) ports(names ...string) error {
	for _, n := range names {
		port, err := freePort()
		if err != nil {
			return err
		}
		p.state.Ports[n] = port
	}
	return nil
}

func httpGetOK(ctx context.Context, c *http.Client, url, token string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close() //nolint:errcheck // Read-only.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return true, nil
}

func tlsClient(caPEM []byte) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}

// kubernetes starts etcd, kube-apiserver and kube-controller-manager.
func (p *plane) kubernetes(ctx context.Context) error {
	if err := p.ports("etcd", "etcd-peer", "kube-apiserver"); err != nil {
		return err
	}
	pki := filepath.Join(p.dir, "pki")

	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", p.state.Ports["etcd"])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", p.state.Ports["etcd-peer"])
	etcd, err := p.start("etcd", p.state.Tools["etcd"], []string{
		"--name=default", "--data-dir=" + filepath.Join(p.dir, "etcd"),
		"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=default=" + peerURL,
		// A throwaway test store: durability is not worth the fsync latency.
		"--unsafe-no-fsync",
	}, nil)
	if err != nil {
		return err
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	if err := p.waitFor(ctx, "etcd", time.Minute, etcd, func(ctx context.Context) (bool, error) {
		return httpGetOK(ctx, plain, etcdURL+"/health", "")
	}); err != nil {
		return err
	}

	// API server certificates, service account keys and the admin token.
	clusterCA, caKey, err := newCA("auth0-eventstream-e2e-ca")
	if err != nil {
		return err
	}
	crt, key, err := clusterCA.serving("kube-apiserver", "kubernetes", "kubernetes.default")
	if err != nil {
		return err
	}
	saKey, saPub, err := serviceAccountKey(pki)
	if err != nil {
		return err
	}
	token := randomToken()
	if err := writeFiles(map[string][]byte{
		filepath.Join(pki, "ca.crt"):        clusterCA.certPEM,
		filepath.Join(pki, "ca.key"):        caKey,
		filepath.Join(pki, "apiserver.crt"): crt,
		filepath.Join(pki, "apiserver.key"): key,
		filepath.Join(pki, "tokens.csv"):    fmt.Appendf(nil, "%s,admin,admin,\"system:masters\"\n", token),
	}); err != nil {
		return err
	}
	server := fmt.Sprintf("https://127.0.0.1:%d", p.state.Ports["kube-apiserver"])
	p.state.Server = server
	p.state.Kubeconfig = filepath.Join(p.dir, "kubeconfig")
	if err := writeFiles(map[string][]byte{p.state.Kubeconfig: kubeconfig(server, clusterCA.certPEM, token)}); err != nil {
		return err
	}

	api, err := p.start("kube-apiserver", p.state.Tools["kube-apiserver"], []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", p.state.Ports["kube-apiserver"]),
		"--cert-dir=" + pki,
		"--tls-cert-file=" + filepath.Join(pki, "apiserver.crt"),
		"--tls-private-key-file=" + filepath.Join(pki, "apiserver.key"),
		"--token-auth-file=" + filepath.Join(pki, "tokens.csv"),
		"--service-account-key-file=" + saPub,
		"--service-account-signing-key-file=" + saKey,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--disable-admission-plugins=ServiceAccount",
		// No nodes or pods here: nothing reconciles the kubernetes Service's
		// endpoints, and a loopback endpoint would be refused anyway.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}, nil)
	if err != nil {
		return err
	}
	hc := tlsClient(clusterCA.certPEM)
	if err := p.waitFor(ctx, "kube-apiserver", 2*time.Minute, api, func(ctx context.Context) (bool, error) {
		return httpGetOK(ctx, hc, server+"/readyz", token)
	}); err != nil {
		return err
	}
	if err := p.clients(); err != nil {
		return err
	}
	p.logf("kube-apiserver ready at %s", server)

	kcm, err := p.start("kube-controller-manager", p.state.Tools["kube-controller-manager"], []string{
		"--kubeconfig=" + p.state.Kubeconfig,
		// Aggregation fills Crossplane core's ClusterRole from the roles the
		// RBAC manager generates (rbac.go).
		"--controllers=garbage-collector-controller,namespace-controller,clusterrole-aggregation-controller",
		"--leader-elect=false", "--secure-port=0", "--use-service-account-credentials=false",
	}, nil)
	if err != nil {
		return err
	}
	// The controller manager serves nothing here; prove it works by having
	// its namespace controller finish deleting a namespace.
	probe := "controlplane-probe"
	if _, err := p.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: probe}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create probe namespace: %w", err)
	}
	if err := p.kube.CoreV1().Namespaces().Delete(ctx, probe, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete probe namespace: %w", err)
	}
	if err := p.waitFor(ctx, "kube-controller-manager (namespace deletion)", 2*time.Minute, kcm, func(ctx context.Context) (bool, error) {
		_, err := p.kube.CoreV1().Namespaces().Get(ctx, probe, metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	}); err != nil {
		return err
	}
	p.logf("kube-controller-manager ready (namespace controller finalized a namespace)")
	return nil
}

func (p *plane) clients() error {
	cfg, err := p.state.RESTConfig()
	if err != nil {
		return err
	}
	p.rest = cfg
	if p.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	if p.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return fmt.Errorf("dynamic client: %w", err)
	}
	return nil
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// crdEstablished reports whether a CRD exists and is Established.
func crdEstablished(ctx context.Context, dyn dynamic.Interface, name string) (bool, error) {
	u, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	return conditionTrue(u, "Established"), nil
}

// conditionTrue reports whether status.conditions holds type with status True.
func conditionTrue(u *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == typ && m["status"] == "True" {
			return true
		}
	}
	return false
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// crossplaneModuleDir finds Crossplane's module source (for its CRDs).
func crossplaneModuleDir(ctx context.Context) (string, error) {
	return moduleDir(ctx, CrossplaneModule, CrossplaneVersion)
}

// crossplane applies the accounts and roles of Crossplane's chart
// (rbac.go), installs Crossplane's CRDs and TLS secrets with `crossplane
// core init` and starts `crossplane core start` with an External package
// runtime, both as core's ServiceAccount, then the RBAC manager.
func (p *plane) crossplane(ctx context.Context) error {
	if _, err := p.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: crossplaneNamespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", crossplaneNamespace, err)
	}
	mod, err := crossplaneModuleDir(ctx)
	if err != nil {
		return err
	}
	// Core runs as the chart's ServiceAccount under the chart's roles.
	if err := p.chartRBAC(ctx, mod); err != nil {
		return err
	}
	coreKubeconfig, err := p.accountKubeconfig(ctx, CoreServiceAccount)
	if err != nil {
		return err
	}
	env := []string{"KUBECONFIG=" + coreKubeconfig}
	initArgs := []string{
		"core", "init", "--enable-webhooks=false",
		"--cr-ds-path=" + filepath.Join(mod, "cluster", "crds"),
		"--tlsca-secret-name=crossplane-root-ca", "--tls-client-secret-name=crossplane-tls-client",
	}
	// The first init can race its own CRDs' discovery ("no matches for kind
	// Lock"); once the Lock CRD is Established a second run succeeds.
	const attempts = 3
	for i := 1; ; i++ {
		err := p.run(ctx, "crossplane-init", env, p.state.Tools["crossplane"], initArgs...)
		if err == nil {
			break
		}
		if i == attempts {
			return fmt.Errorf("crossplane core init failed %d times: %w", attempts, err)
		}
		p.logf("crossplane core init attempt %d failed; waiting for its CRDs before retrying", i)
		if werr := p.waitFor(ctx, "crossplane CRDs", time.Minute, nil, func(ctx context.Context) (bool, error) {
			return crdEstablished(ctx, p.dyn, "locks.pkg.crossplane.io")
		}); werr != nil {
			return errors.Join(err, werr)
		}
	}
	p.logf("crossplane core init done")

	sec, err := p.kube.CoreV1().Secrets(crossplaneNamespace).Get(ctx, "crossplane-tls-client", metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read crossplane-tls-client secret: %w", err)
	}
	clientDir := filepath.Join(p.dir, "tls", "crossplane-client")
	files := map[string][]byte{}
	for _, k := range []string{"ca.crt", "tls.crt", "tls.key"} {
		if len(sec.Data[k]) == 0 {
			return fmt.Errorf("secret crossplane-tls-client has no %s", k)
		}
		files[filepath.Join(clientDir, k)] = sec.Data[k]
	}
	if err := writeFiles(files); err != nil {
		return err
	}
	if err := p.ports("crossplane-metrics", "crossplane-health"); err != nil {
		return err
	}
	xp, err := p.start("crossplane", p.state.Tools["crossplane"], []string{
		"core", "start",
		"--enable-webhooks=false", "--package-runtime=External",
		// Where core keeps the packages it fetched from the registry.
		"--xpkg-cache-dir=" + filepath.Join(p.dir, "package-cache"),
		"--tls-client-certs-dir=" + clientDir,
		// Trust the local registry's CA when pulling packages.
		"--ca-bundle-path=" + p.state.Registry.CACert,
		// Without it, a Configuration upgraded to a version whose
		// dependencies need newer versions than those installed stays
		// unhealthy: Crossplane does not upgrade installed dependencies.
		"--enable-dependency-version-upgrades",
		fmt.Sprintf("--metrics-port=%d", p.state.Ports["crossplane-metrics"]),
		fmt.Sprintf("--health-probe-port=%d", p.state.Ports["crossplane-health"]),
		// Check composed resources for drift often: tests edit them.
		"--poll-interval=" + CorePoll.String(),
	}, env)
	if err != nil {
		return err
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	health := fmt.Sprintf("http://127.0.0.1:%d/readyz", p.state.Ports["crossplane-health"])
	if err := p.waitFor(ctx, "crossplane", 2*time.Minute, xp, func(ctx context.Context) (bool, error) {
		return httpGetOK(ctx, plain, health, "")
	}); err != nil {
		return err
	}
	p.logf("crossplane core ready (as %s)", CoreUser)
	if err := p.rbacManager(ctx); err != nil {
		return err
	}
	p.logf("crossplane rbac manager ready (as ServiceAccount %s)", RBACManagerServiceAccount)
	return nil
}
