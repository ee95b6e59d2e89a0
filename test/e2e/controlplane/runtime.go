package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Crossplane runs with --package-runtime=External: it installs package
// revisions but starts nothing. The control plane plays that runtime for
// every revision Crossplane makes active, the way Crossplane's own
// Deployment runtime would: it pulls the revision's image from the
// registry, runs its entrypoint (chrooted, as the pod's user: 2000 unless
// the DeploymentRuntimeConfig says otherwise, pod.go), hands a
// function a server certificate signed by Crossplane's root CA, and
// reports the revision's runtime healthy. Processes of revisions that are
// no longer active are stopped. The args of the revision's
// DeploymentRuntimeConfig (runtimeconfig.go) override the plane's flags,
// and its securityContext and environment apply; when they change, the
// process is restarted, as Crossplane would roll the Deployment.

// Runtime is a process the control plane runs for a package revision.
type Runtime struct {
	// Kind is Function or Provider.
	Kind string `json:"kind"`
	// Package is the Function or Provider object the revision belongs to.
	Package string `json:"package"`
	// Image is the reference pulled (after the ImageConfig rewrite) and
	// Digest the manifest run, for linux on this machine's architecture.
	Image  string `json:"image"`
	Digest string `json:"digest"`
	// Endpoint is where a function serves gRPC.
	Endpoint string `json:"endpoint,omitempty"`
	// RuntimeConfig names the DeploymentRuntimeConfig applied (and the
	// ImageConfig that selected it), ConfigArgs its package-runtime args,
	// and Args every arg the process started with after the image's
	// entrypoint: the plane's flags merged with ConfigArgs.
	RuntimeConfig string   `json:"runtimeConfig,omitempty"`
	ConfigArgs    []string `json:"configArgs,omitempty"`
	Args          []string `json:"args,omitempty"`
	// UID and GID the process runs as (pod.go), ImageUID and ImageGID the
	// image's USER, and Pod a digest of the user and the variables the
	// runtime config gives the container (they may hold secrets).
	UID      int    `json:"uid"`
	GID      int    `json:"gid"`
	ImageUID int    `json:"imageUid"`
	ImageGID int    `json:"imageGid"`
	Pod      string `json:"pod"`
	// ServiceAccount is a provider's, in crossplane-system.
	ServiceAccount string `json:"serviceAccount,omitempty"`
}

const (
	runtimeDir = "runtime"
	// Where files a process needs are placed inside its root filesystem.
	runtimeFiles = "/run/controlplane"
	packageLabel = "pkg.crossplane.io/package"
)

type revisionKind struct {
	kind string
	gvr  schema.GroupVersionResource
	// reserved are the flags that connect the process with the plane,
	// which a DeploymentRuntimeConfig may not set.
	reserved []string
	play     func(ctx context.Context, rev *unstructured.Unstructured, img *unpacked, rc runtimeConfig) (*Runtime, error)
}

func (p *plane) revisionKinds() []revisionKind {
	return []revisionKind{
		{kind: "Function", gvr: FunctionRevisionGVR, reserved: functionReserved(), play: p.playFunction},
		{kind: "Provider", gvr: ProviderRevisionGVR, reserved: providerReserved(), play: p.playProvider},
	}
}

// SyncRuntime plays the package runtime once for the control plane in dir:
// it stops the processes of revisions that are no longer active, restarts
// those whose DeploymentRuntimeConfig args changed, and starts those of
// active revisions that have none. It reports whether every
// active revision runs. Tests call it after changing packages, as make
// e2e's control plane has no runtime watching on its own.
func SyncRuntime(ctx context.Context, dir string, log io.Writer) (bool, error) {
	p, err := attach(dir, log)
	if err != nil {
		return false, err
	}
	return p.syncRuntime(ctx)
}

// attach reopens a running control plane from its state folder.
func attach(dir string, log io.Writer) (*plane, error) {
	s, err := Load(dir)
	if err != nil {
		return nil, err
	}
	if !s.Ready || !s.Alive() {
		return nil, fmt.Errorf("the control plane in %s is not running", dir)
	}
	p := &plane{dir: s.Dir, opts: Options{Dir: s.Dir, RepoRoot: s.RepoRoot, Product: s.Product, Flavour: s.Flavour, Terraform: s.Terraform, Log: log}, state: s, running: map[string]*running{}}
	if p.state.Runtime == nil {
		p.state.Runtime = map[string]Runtime{}
	}
	return p, p.clients()
}

func (p *plane) syncRuntime(ctx context.Context) (bool, error) {
	all := true
	for _, k := range p.revisionKinds() {
		l, err := p.dyn.Resource(k.gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, fmt.Errorf("list %s revisions: %w", k.kind, err)
		}
		// Stop first: two providers must not reconcile the same resources.
		for i := range l.Items {
			rev := &l.Items[i]
			if _, ok := p.state.Runtime[rev.GetName()]; ok && !active(rev) {
				if err := p.stopRuntime(rev.GetName(), "revision no longer active"); err != nil {
					return false, err
				}
			}
		}
		for i := range l.Items {
			rev := &l.Items[i]
			if !active(rev) {
				continue
			}
			if current, err := p.restartIfChanged(ctx, k, rev); err != nil || current {
				if err != nil {
					return false, err
				}
				continue
			}
			ran, err := p.playRevision(ctx, k, rev)
			if err != nil {
				return false, err
			}
			all = all && ran
		}
	}
	return all, nil
}

// restartIfChanged reports whether an active revision's process runs with
// the args its runtime config asks for; when it runs with other args, it
// stops the process (after checking the new args) so the caller starts it
// again. A revision with no process is not current.
func (p *plane) restartIfChanged(ctx context.Context, k revisionKind, rev *unstructured.Unstructured) (bool, error) {
	rt, ok := p.state.Runtime[rev.GetName()]
	if !ok {
		return false, nil
	}
	rc, err := p.resolveRuntimeConfig(ctx, rev)
	if err != nil {
		return false, err
	}
	pd, err := p.podFor(ctx, k.kind, rev, rc, &unpacked{UID: rt.ImageUID, GID: rt.ImageGID})
	if err != nil {
		return false, fmt.Errorf("%s revision %s: %w", k.kind, rev.GetName(), err)
	}
	if slices.Equal(rt.ConfigArgs, rc.Args) && pd.digest() == rt.Pod {
		return true, nil
	}
	// Refuse bad args before stopping what runs.
	if _, err := mergeArgs(nil, rc.Args, k.reserved); err != nil {
		return false, fmt.Errorf("%s revision %s: %s: %w", k.kind, rev.GetName(), rc, err)
	}
	return false, p.stopRuntime(rev.GetName(), fmt.Sprintf("%s args %q (were %q), user %d:%d (was %d:%d) or environment changed", rc, rc.Args, rt.ConfigArgs, pd.UID, pd.GID, rt.UID, rt.GID))
}

func active(rev *unstructured.Unstructured) bool {
	s, _, _ := unstructured.NestedString(rev.Object, "spec", "desiredState")
	return s == "Active"
}

// playRevision pulls an active revision's image and runs it. It returns
// false when Crossplane has not yet resolved the revision's image.
func (p *plane) playRevision(ctx context.Context, k revisionKind, rev *unstructured.Unstructured) (bool, error) {
	// The image after the ImageConfig rewrite, as Crossplane resolved it.
	ref, _, _ := unstructured.NestedString(rev.Object, "status", "resolvedImage")
	if ref == "" {
		return false, nil
	}
	if p.state.Registry == nil {
		return false, errNoRegistry
	}
	rc, err := p.resolveRuntimeConfig(ctx, rev)
	if err != nil {
		return false, err
	}
	start := time.Now()
	img, err := pullImage(ctx, ref, p.state.Registry.CACert, filepath.Join(p.dir, runtimeDir, rev.GetName(), "rootfs"))
	if err != nil {
		return false, fmt.Errorf("%s revision %s: %w", k.kind, rev.GetName(), err)
	}
	p.logf("pulled %s (%s) in %s", ref, img.Digest[:19], time.Since(start).Round(100*time.Millisecond))
	imageUID, imageGID := img.UID, img.GID
	pd, err := p.podFor(ctx, k.kind, rev, rc, img)
	if err != nil {
		return false, fmt.Errorf("%s revision %s: %w", k.kind, rev.GetName(), err)
	}
	pd.apply(img)
	rt, err := k.play(ctx, rev, img, rc)
	if err != nil {
		return false, fmt.Errorf("%s revision %s: %s: %w", k.kind, rev.GetName(), rc, err)
	}
	rt.Kind, rt.Package, rt.Image, rt.Digest = k.kind, rev.GetLabels()[packageLabel], ref, img.Digest
	rt.RuntimeConfig, rt.ConfigArgs = rc.String(), rc.Args
	rt.UID, rt.GID, rt.ImageUID, rt.ImageGID, rt.Pod = pd.UID, pd.GID, imageUID, imageGID, pd.digest()
	p.state.Runtime[rev.GetName()] = *rt
	return true, p.save()
}

// stopRuntime stops the process of a revision and forgets it.
func (p *plane) stopRuntime(name, why string) error {
	i := slices.IndexFunc(p.state.Processes, func(pr Process) bool { return pr.Name == name })
	if i >= 0 {
		p.logf("stopping %s (%s)", name, why)
		if err := stop(p.state.Processes[i], 15*time.Second); err != nil {
			return err
		}
		p.state.Processes = slices.Delete(p.state.Processes, i, i+1)
	}
	delete(p.state.Runtime, name)
	// The log stays; the unpacked image goes.
	if err := os.RemoveAll(filepath.Join(p.dir, runtimeDir, name)); err != nil {
		return fmt.Errorf("remove the root filesystem of %s: %w", name, err)
	}
	return p.save()
}

// placeFiles writes files into an unpacked root filesystem under
// runtimeFiles, readable by the user it runs as only.
func placeFiles(img *unpacked, files map[string][]byte) error {
	dir := filepath.Join(img.Root, runtimeFiles)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(dir), err)
	}
	if err := os.Mkdir(dir, 0o500); err != nil && !os.IsExist(err) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chown(dir, img.UID, img.GID); err != nil {
		return fmt.Errorf("chown %s: %w", dir, err)
	}
	return writeOwned(img, dir, files)
}

// writeOwned writes files into dir, readable by the user the image runs
// as only.
func writeOwned(img *unpacked, dir string, files map[string][]byte) error {
	for name, b := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o400); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := os.Chown(path, img.UID, img.GID); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
	}
	return nil
}

// playFunction serves a Function revision: mutual TLS with a certificate
// signed by Crossplane's root CA, then the revision's endpoint and
// RuntimeHealthy reported so Crossplane calls it.
func (p *plane) playFunction(ctx context.Context, rev *unstructured.Unstructured, img *unpacked, rc runtimeConfig) (*Runtime, error) {
	pkg := rev.GetLabels()[packageLabel]
	secretName, data, err := p.serverSecret(ctx, pkg)
	if err != nil {
		return nil, err
	}
	if err := placeFiles(img, data); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args, err := mergeArgs([]string{
		"--address=" + addr, "--tls-server-certs-dir=" + runtimeFiles, "--debug",
		// Metrics default to :8080 on every interface, where the previous
		// revision's process may still listen.
		"--metrics-address=",
	}, rc.Args, functionReserved())
	if err != nil {
		return nil, err
	}
	fn, err := p.startImage(rev.GetName(), img, args)
	if err != nil {
		return nil, err
	}
	if err := p.waitFor(ctx, rev.GetName()+" listening", time.Minute, fn, func(ctx context.Context) (bool, error) {
		return dialOK(ctx, addr), nil
	}); err != nil {
		return nil, err
	}
	endpoint := fmt.Sprintf("dns:///localhost:%d", port)
	if err := p.markRuntimeHealthy(ctx, FunctionRevisionGVR, rev.GetName(), map[string]any{
		"tlsServerSecretName": secretName,
		"endpoint":            endpoint,
	}); err != nil {
		return nil, fmt.Errorf("mark %s healthy: %w", rev.GetName(), err)
	}
	p.logf("function revision %s serving on %s", rev.GetName(), addr)
	return &Runtime{Endpoint: endpoint, Args: args}, nil
}

// playProvider reports a Provider revision's runtime healthy (its CRDs
// then get installed), activates the EventStream managed resource as a
// platform engineer would, and runs the provider once the CRD is served,
// as its own ServiceAccount (serviceaccount.go).
func (p *plane) playProvider(ctx context.Context, rev *unstructured.Unstructured, img *unpacked, rc runtimeConfig) (*Runtime, error) {
	pkg := rev.GetLabels()[packageLabel]
	if pkg == TerraformProvider {
		return p.playTerraform(ctx, rev, img, rc)
	}
	if err := p.activateProvider(ctx, rev, eventStreamCRD, "EventStream CRD"); err != nil {
		return nil, err
	}
	sa, err := p.providerAccount(ctx, rev, rc, img)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(p.state.Sim.CACert)
	if err != nil {
		return nil, fmt.Errorf("read simulator CA: %w", err)
	}
	if err := placeFiles(img, map[string][]byte{"auth0-ca.crt": caPEM}); err != nil {
		return nil, err
	}
	ports := make([]int, 2)
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	health := fmt.Sprintf("127.0.0.1:%d", ports[1])
	args, err := mergeArgs([]string{
		"--debug",
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", ports[0]),
		"--health-probe-bind-address=" + health,
		"--auth0-ca-file=" + runtimeFiles + "/auth0-ca.crt",
		// The simulator, and where tests may serve other tenants, are the
		// only hosts the provider may call here.
		"--auth0-domains=" + strings.Join(append([]string{p.state.Sim.Domain}, p.state.Sim.OtherTenants...), ","),
		// Check each stream against Auth0 often, so drift is corrected
		// within a test's patience.
		"--poll=" + ProviderPoll.String(),
		// Read delivery health at every poll (the default is 5m), so a
		// failing destination shows within a test's patience.
		"--delivery-poll=" + DeliveryPoll.String(),
		// The simulator has no rate limit unless a test sets one, and tests
		// create many streams read every 10 s: a budget sized like a
		// private cloud tenant's share, so the default (8/s, for an
		// Enterprise tenant) does not slow them. Tests that set a limit
		// lower exercise the x-ratelimit-* headers and 429s.
		"--auth0-rate-budget=" + strconv.Itoa(ProviderRateBudget),
	}, rc.Args, providerReserved())
	if err != nil {
		return nil, err
	}
	pr, err := p.startImage(rev.GetName(), img, args)
	if err != nil {
		return nil, err
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	if err := p.waitFor(ctx, rev.GetName()+" ready", time.Minute, pr, func(ctx context.Context) (bool, error) {
		return httpGetOK(ctx, plain, "http://"+health+"/readyz", "")
	}); err != nil {
		return nil, err
	}
	p.logf("provider revision %s running as ServiceAccount %s, uid %d", rev.GetName(), sa, img.UID)
	return &Runtime{Args: args, ServiceAccount: sa}, nil
}

// activateProvider reports a Provider revision's runtime healthy (its
// CRDs then get installed) and, since our providers declare the safe-start
// capability, which leaves their managed resource definitions inactive (no
// CRDs), activates crd with a ManagedResourceActivationPolicy as a platform
// engineer would, then waits until the CRD is served.
func (p *plane) activateProvider(ctx context.Context, rev *unstructured.Unstructured, crd, what string) error {
	pkg := rev.GetLabels()[packageLabel]
	secretName, _, err := p.serverSecret(ctx, pkg)
	if err != nil {
		return err
	}
	if err := p.markRuntimeHealthy(ctx, ProviderRevisionGVR, rev.GetName(), map[string]any{"tlsServerSecretName": secretName}); err != nil {
		return fmt.Errorf("mark %s healthy: %w", rev.GetName(), err)
	}
	mrap := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.crossplane.io/v1alpha1",
		"kind":       "ManagedResourceActivationPolicy",
		"metadata":   map[string]any{"name": pkg},
		"spec":       map[string]any{"activate": []any{crd}},
	}}
	if _, err := p.dyn.Resource(mrapGVR).Apply(ctx, pkg, mrap, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return fmt.Errorf("apply ManagedResourceActivationPolicy: %w", err)
	}
	return p.waitFor(ctx, what, 2*time.Minute, nil, func(ctx context.Context) (bool, error) {
		return crdEstablished(ctx, p.dyn, crd)
	})
}

// The flags of a function and of the provider the plane sets to connect
// them with it (see mergeArgs).
func functionReserved() []string { return []string{"address", "tls-server-certs-dir", "insecure"} }

// A provider runs with the in-cluster configuration of its ServiceAccount:
// --kubeconfig would bypass it.
func providerReserved() []string {
	return []string{"kubeconfig", "metrics-bind-address", "health-probe-bind-address", "auth0-ca-file", "auth0-domains"}
}

// The provider's --poll and --delivery-poll on the control plane, and
// Crossplane core's --poll-interval: tests derive their bounds from them.
const (
	ProviderPoll = 10 * time.Second
	DeliveryPoll = 10 * time.Second
	CorePoll     = 15 * time.Second
	// ProviderRateBudget is the provider's --auth0-rate-budget.
	ProviderRateBudget = 200
	// BackoffCap is the longest Crossplane core and crossplane-runtime
	// wait before retrying a reconcile that failed: their per-item
	// exponential backoff, 1s doubling up to 60s.
	BackoffCap = 60 * time.Second
)

var errNoRegistry = errors.New("the control plane runs no registry")

// PackagesSettled reports whether every Configuration, Function and
// Provider is Installed and Healthy for its current spec (conditions of its
// latest generation), or else what is still pending. Right after a package
// change, conditions still describe the previous generation.
func PackagesSettled(ctx context.Context, dir string) (bool, string, error) {
	p, err := attach(dir, nil)
	if err != nil {
		return false, "", err
	}
	for _, gvr := range []schema.GroupVersionResource{ConfigurationGVR, FunctionGVR, ProviderGVR} {
		l, err := p.dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, "", fmt.Errorf("list %s: %w", gvr.Resource, err)
		}
		for i := range l.Items {
			u := &l.Items[i]
			for _, typ := range []string{"Installed", "Healthy"} {
				if !currentCondition(u, typ) {
					return false, gvr.Resource + "/" + u.GetName() + ": " + conditionSummary(u), nil
				}
			}
		}
	}
	return true, "", nil
}

// currentCondition reports whether condition typ is True and was observed
// for the object's current generation.
func currentCondition(u *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != typ {
			continue
		}
		gen, _, _ := unstructured.NestedInt64(m, "observedGeneration")
		return m["status"] == "True" && gen == u.GetGeneration()
	}
	return false
}
