package controlplane

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/xp-auth0/auth0-eventstream/internal/ociimage"
)

// The terraform backend (docs/terraform.md) is an opt-in Configuration of
// its own, which depends on the API's Configuration, the function and
// provider-terraform: with --terraform, the plane installs it as a platform
// team that offers the backend would. Upstream's image carries no Auth0
// provider and the plane has no network, so it builds a runtime image of
// its own (provider-terraform v1.0.1, OpenTofu as terraform,
// terraform-provider-auth0 in an offline mirror), packages it with
// upstream's package metadata and CRDs from the module cache, and pushes it
// to the plane's registry, where an ImageConfig sends the dependency's
// package (xpkg.upbound.io/upbound/provider-terraform) to. It then applies
// the Configuration alone and plays the provider revision Crossplane
// creates like a pod: in-cluster config, and a network namespace of its own
// (netns-run), since provider-terraform binds metrics to :8080 with no flag
// to move it. Last, the ClusterProviderConfig auth0 and the admission policy
// that keeps it to Crossplane (example/terraform/workspace-guard.yaml).

// Versions and names of the terraform backend's runtime.
const (
	TerraformModule  = "github.com/upbound/provider-terraform"
	TerraformVersion = "v1.0.1"
	// TerraformProvider is the Provider object's name: the name
	// Crossplane gives the terraform Configuration's dependency.
	TerraformProvider = "upbound-provider-terraform"
	// TerraformPackageOrg is where users find provider-terraform, as the
	// terraform Configurations' dependsOn names it; an ImageConfig
	// rewrites it to the plane's registry.
	TerraformPackageOrg = "xpkg.upbound.io/upbound"
	// TerraformPackage is the package Crossplane installs.
	TerraformPackage = TerraformPackageOrg + "/provider-terraform:" + TerraformVersion
	// workspaceGuard is the admission policy that lets only Crossplane
	// create Workspaces using ClusterProviderConfig auth0.
	workspaceGuard = "example/terraform/workspace-guard.yaml"
	// TerraformProviderConfig is the ClusterProviderConfig the terraform
	// Compositions use.
	TerraformProviderConfig = "auth0"
	// TerraformCredentialsSecret holds the tenant's credentials as the
	// module's variables, TerraformCLIConfigSecret the CLI configuration
	// that makes terraform init install providers from the image's mirror.
	TerraformCredentialsSecret = "auth0-terraform-credentials"
	TerraformCLIConfigSecret   = "terraform-cli-config"
	// TerraformMirror is the image's filesystem mirror of Terraform
	// providers.
	TerraformMirror = "/usr/share/terraform/providers"
	auth0TFVersion  = "1.57.0"
	workspaceCRD    = "workspaces.tf.m.upbound.io"
	// terraformWorkDir is provider-terraform's XP_TF_DIR.
	terraformWorkDir = "/tf"
	netnsRunProcess  = "netns-run"
)

// Kinds of provider-terraform the plane applies.
var (
	WorkspaceGVR                = schema.GroupVersionResource{Group: "tf.m.upbound.io", Version: "v1beta1", Resource: "workspaces"}
	TerraformClusterProviderGVR = schema.GroupVersionResource{Group: "tf.m.upbound.io", Version: "v1beta1", Resource: "clusterproviderconfigs"}
)

// TerraformCLIConfig is the CLI configuration (.terraformrc) that installs
// the Auth0 provider from the image's mirror only: no direct installation,
// so no registry is asked.
const TerraformCLIConfig = `provider_installation {
  filesystem_mirror {
    path    = "` + TerraformMirror + `"
    include = ["registry.terraform.io/auth0/auth0"]
  }
}
`

// terraformTools are the binaries the image is made of.
func terraformTools() []string {
	return []string{"provider-terraform", "tofu", "terraform-provider-auth0"}
}

// hostTools are what provider-terraform runs besides terraform: its
// checksum of a working directory is `/bin/sh -c "/usr/bin/find ... -exec
// /usr/bin/md5sum {} + | LC_ALL=C /usr/bin/sort | /usr/bin/md5sum |
// /usr/bin/awk ..."` (internal/terraform GenerateChecksum). They are copied
// from the build machine with the shared libraries ldd lists, so the
// machine needs them (any Linux with a shell and coreutils, findutils and
// awk has them).
func hostTools() []string {
	return []string{"/bin/sh", "/usr/bin/find", "/usr/bin/md5sum", "/usr/bin/sort", "/usr/bin/awk"}
}

// terraform installs provider-terraform and points ClusterProviderConfig
// auth0 at the simulator.
func (p *plane) terraform(ctx context.Context) error {
	start := time.Now()
	if err := p.terraformTools(ctx); err != nil {
		return err
	}
	if err := p.publishTerraform(ctx); err != nil {
		return err
	}
	if err := p.installTerraform(ctx); err != nil {
		return err
	}
	if err := p.terraformProviderConfig(ctx); err != nil {
		return err
	}
	p.state.Terraform = true
	p.logf("provider-terraform installed and ClusterProviderConfig %s ready in %s", TerraformProviderConfig, time.Since(start).Round(100*time.Millisecond))
	return p.save()
}

func (p *plane) terraformTools(ctx context.Context) error {
	for _, t := range terraformTools() {
		if _, ok := p.state.Tools[t]; ok {
			continue
		}
		start := time.Now()
		if err := p.tool(ctx, t); err != nil {
			return err
		}
		if d := time.Since(start); d > 10*time.Second {
			p.logf("built %s in %s", t, d.Round(time.Second))
		}
	}
	return nil
}

// TerraformImage is the runtime image of provider-terraform the plane
// builds from the tools (paths by name: provider-terraform, tofu,
// terraform-provider-auth0): provider-terraform as the entrypoint,
// OpenTofu as /usr/local/bin/terraform (provider-terraform runs terraform
// from PATH), the Auth0 provider in the mirror TerraformCLIConfig names,
// the host tools its checksum runs, a working directory the non-root user
// owns, and TF_IN_AUTOMATION.
func TerraformImage(tools map[string]string, created time.Time) (ociimage.Spec, error) {
	files := []ociimage.File{
		{Src: tools["provider-terraform"], Dst: "/usr/local/bin/provider", Mode: 0o755},
		{Src: tools["tofu"], Dst: "/usr/local/bin/terraform", Mode: 0o755},
		{Src: tools["terraform-provider-auth0"], Dst: fmt.Sprintf("%s/registry.terraform.io/auth0/auth0/%s/linux_%s/terraform-provider-auth0_v%s", TerraformMirror, auth0TFVersion, runtime.GOARCH, auth0TFVersion), Mode: 0o755},
	}
	libs := map[string]bool{}
	for _, t := range hostTools() {
		resolved, err := filepath.EvalSymlinks(t)
		if err != nil {
			return ociimage.Spec{}, fmt.Errorf("%s (provider-terraform's checksum runs it): %w", t, err)
		}
		files = append(files, ociimage.File{Src: resolved, Dst: t, Mode: 0o755})
		deps, err := sharedLibraries(resolved)
		if err != nil {
			return ociimage.Spec{}, err
		}
		for _, l := range deps {
			libs[l] = true
		}
	}
	for _, l := range slices.Sorted(maps.Keys(libs)) {
		resolved, err := filepath.EvalSymlinks(l)
		if err != nil {
			return ociimage.Spec{}, fmt.Errorf("shared library %s: %w", l, err)
		}
		files = append(files, ociimage.File{Src: resolved, Dst: l, Mode: 0o755})
	}
	return ociimage.Spec{
		OS:           "linux",
		Architecture: runtime.GOARCH,
		Files:        files,
		Entrypoint:   []string{"/usr/local/bin/provider"},
		Env:          []string{"XP_TF_DIR=" + terraformWorkDir, "TF_IN_AUTOMATION=1"},
		WritableDirs: []string{terraformWorkDir},
		ExposedPorts: []string{"8080/tcp"},
		Labels: map[string]string{
			"org.opencontainers.image.title":   "provider-terraform",
			"org.opencontainers.image.version": TerraformVersion,
		},
		Created: created,
	}, nil
}

// sharedLibraries lists the absolute paths ldd prints for a binary: its
// libraries and the dynamic loader (as the binary names it).
func sharedLibraries(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).Output() //nolint:noctx // A quick local read.
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	var libs []string
	for line := range strings.Lines(string(out)) {
		// "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
		// "/lib64/ld-linux-x86-64.so.2 (0x...)"; linux-vdso has no file.
		f := strings.Fields(line)
		for i, w := range f {
			if strings.HasPrefix(w, "/") && (i == 0 || f[i-1] == "=>") {
				libs = append(libs, w)
			}
		}
	}
	return libs, nil
}

// moduleDir finds a Go module's source in the module cache, downloading it
// if needed.
func moduleDir(ctx context.Context, module, version string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w", module, version, err)
	}
	var m struct {
		Dir string `json:"Dir"`
	}
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		return "", fmt.Errorf("no module folder in go mod download output for %s: %w", module, err)
	}
	return m.Dir, nil
}

// publishTerraform builds provider-terraform's package (upstream's
// crossplane.yaml and CRDs, our runtime image) and pushes it to the
// plane's registry.
func (p *plane) publishTerraform(ctx context.Context) error {
	start := time.Now()
	mod, err := moduleDir(ctx, TerraformModule, TerraformVersion)
	if err != nil {
		return err
	}
	build := filepath.Join(p.dir, "xpkg", "provider-terraform")
	root := filepath.Join(build, "package")
	if err := os.RemoveAll(build); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(root, "crds"), 0o755); err != nil {
		return err
	}
	meta, err := os.ReadFile(filepath.Join(mod, "package", "crossplane.yaml"))
	if err != nil {
		return fmt.Errorf("provider-terraform's package metadata: %w", err)
	}
	files := map[string][]byte{filepath.Join(root, "crossplane.yaml"): meta}
	crds, err := filepath.Glob(filepath.Join(mod, "package", "crds", "*.yaml"))
	if err != nil || len(crds) == 0 {
		return fmt.Errorf("no CRDs in %s/package/crds: %w", mod, err)
	}
	for _, c := range crds {
		b, err := os.ReadFile(c)
		if err != nil {
			return err
		}
		files[filepath.Join(root, "crds", filepath.Base(c))] = b
	}
	if err := writeFiles(files); err != nil {
		return err
	}
	spec, err := TerraformImage(p.state.Tools, time.Unix(0, 0))
	if err != nil {
		return err
	}
	img, err := ociimage.Build(spec)
	if err != nil {
		return fmt.Errorf("provider-terraform image: %w", err)
	}
	tag, err := name.NewTag("provider-terraform:" + TerraformVersion)
	if err != nil {
		return err
	}
	imageTar := filepath.Join(build, "image.tar")
	if err := tarball.WriteToFile(imageTar, tag, img); err != nil {
		return fmt.Errorf("write provider-terraform image: %w", err)
	}
	if fi, err := os.Stat(imageTar); err == nil {
		p.logf("provider-terraform runtime image: %d MB uncompressed", fi.Size()>>20)
	}
	xpkg := filepath.Join(build, "provider-terraform.xpkg")
	if err := p.run(ctx, "publish-terraform", nil, p.state.Tools["crank"], "xpkg", "build", "--package-root="+root,
		"--examples-root="+filepath.Join(build, "no-examples"), "--embed-runtime-image-tarball="+imageTar, "-o", xpkg); err != nil {
		return fmt.Errorf("build provider-terraform package: %w", err)
	}
	ref := p.state.Registry.Repository() + "/provider-terraform:" + TerraformVersion
	if err := p.run(ctx, "publish-terraform", []string{"SSL_CERT_FILE=" + p.state.Registry.CACert}, p.state.Tools["crank"], "xpkg", "push", "-f", xpkg, ref); err != nil {
		return fmt.Errorf("push provider-terraform package: %w", err)
	}
	p.logf("published provider-terraform %s with our runtime image to %s in %s", TerraformVersion, ref, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// installTerraform applies the flavour's terraform Configuration, which
// Crossplane resolves to provider-terraform from the plane's registry, and
// plays the provider's runtime until it is healthy and the Workspace API
// is served.
func (p *plane) installTerraform(ctx context.Context) error {
	if err := p.rewriteImages(ctx, "upbound-local-registry", TerraformPackageOrg+"/"); err != nil {
		return err
	}
	return p.applyConfiguration(ctx, TerraformConfigurationPackage(p.state.Flavour), InitialVersion,
		[]packageObject{{ProviderGVR, TerraformProvider}}, func(ctx context.Context) (bool, error) {
			return crdEstablished(ctx, p.dyn, workspaceCRD)
		})
}

// terraformProviderConfig stores the simulator's credentials as the
// module's variables and the offline CLI configuration, and applies
// ClusterProviderConfig auth0 as example/terraform/providerconfig.yaml
// has it.
func (p *plane) terraformProviderConfig(ctx context.Context) error {
	creds, err := json.Marshal(map[string]string{
		"auth0_domain":        p.state.Sim.Domain,
		"auth0_client_id":     p.state.Sim.ClientID,
		"auth0_client_secret": p.state.Sim.ClientSecret,
	})
	if err != nil {
		return err
	}
	for name, data := range map[string]map[string]string{
		TerraformCredentialsSecret: {"credentials": string(creds)},
		TerraformCLIConfigSecret:   {"terraformrc": TerraformCLIConfig},
	} {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: crossplaneNamespace}, StringData: data}
		if _, err := p.kube.CoreV1().Secrets(crossplaneNamespace).Create(ctx, sec, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create Secret %s: %w", name, err)
		}
	}
	secretRef := func(name, key string) map[string]any {
		return map[string]any{"namespace": crossplaneNamespace, "name": name, "key": key}
	}
	pc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": TerraformClusterProviderGVR.GroupVersion().String(),
		"kind":       "ClusterProviderConfig",
		"metadata":   map[string]any{"name": TerraformProviderConfig},
		"spec": map[string]any{
			"configuration": `terraform {
  backend "kubernetes" {
    namespace         = "crossplane-system"
    secret_suffix     = "auth0"
    in_cluster_config = true
  }
}
`,
			"credentials": []any{
				map[string]any{"filename": "auth0-credentials.auto.tfvars.json", "source": "Secret", "secretRef": secretRef(TerraformCredentialsSecret, "credentials")},
				map[string]any{"filename": ".terraformrc", "source": "Secret", "secretRef": secretRef(TerraformCLIConfigSecret, "terraformrc")},
			},
		},
	}}
	if _, err := p.dyn.Resource(TerraformClusterProviderGVR).Apply(ctx, TerraformProviderConfig, pc, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return fmt.Errorf("apply ClusterProviderConfig %s: %w", TerraformProviderConfig, err)
	}
	p.logf("ClusterProviderConfig %s (tf.m.upbound.io) points at the simulator", TerraformProviderConfig)
	return p.applyWorkspaceGuard(ctx)
}

// applyWorkspaceGuard applies the shipped admission policy, its one
// setting the user core runs as here.
func (p *plane) applyWorkspaceGuard(ctx context.Context) error {
	b, err := os.ReadFile(filepath.Join(p.state.RepoRoot, workspaceGuard))
	if err != nil {
		return err
	}
	for doc := range bytes.SplitSeq(b, []byte("\n---\n")) {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			return fmt.Errorf("%s: %w", workspaceGuard, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.GetKind() == "ConfigMap" {
			if err := unstructured.SetNestedField(u.Object, CoreUser, "data", "crossplaneUsername"); err != nil {
				return err
			}
		}
		gvr, err := p.resourceFor(u)
		if err != nil {
			return err
		}
		r := p.dyn.Resource(gvr)
		if ns := u.GetNamespace(); ns != "" {
			_, err = r.Namespace(ns).Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
		} else {
			_, err = r.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
		}
		if err != nil {
			return fmt.Errorf("apply %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	p.logf("admission policy %s: only %s creates Workspaces using ClusterProviderConfig %s", workspaceGuard, CoreUser, TerraformProviderConfig)
	return nil
}

// resourceFor maps an object of the workspace guard to its resource.
func (p *plane) resourceFor(u *unstructured.Unstructured) (schema.GroupVersionResource, error) {
	gv, err := schema.ParseGroupVersion(u.GetAPIVersion())
	if err != nil {
		return schema.GroupVersionResource{}, err
	}
	switch u.GetKind() {
	case "ConfigMap":
		return gv.WithResource("configmaps"), nil
	case "ValidatingAdmissionPolicy":
		return gv.WithResource("validatingadmissionpolicies"), nil
	case "ValidatingAdmissionPolicyBinding":
		return gv.WithResource("validatingadmissionpolicybindings"), nil
	}
	return schema.GroupVersionResource{}, fmt.Errorf("%s: unexpected kind %s", workspaceGuard, u.GetKind())
}

// playTerraform plays provider-terraform's revision: runtime healthy (its
// CRDs get installed), the Workspace API activated (it declares SafeStart),
// then the process as a pod: in-cluster credentials of a ServiceAccount,
// the simulator's CA trusted, its own network namespace.
func (p *plane) playTerraform(ctx context.Context, rev *unstructured.Unstructured, img *unpacked, rc runtimeConfig) (*Runtime, error) {
	if err := p.activateProvider(ctx, rev, workspaceCRD, "Workspace CRD"); err != nil {
		return nil, err
	}
	sa, err := p.providerAccount(ctx, rev, rc, img)
	if err != nil {
		return nil, err
	}
	if err := devices(img.Root); err != nil {
		return nil, err
	}
	// Terraform and the Auth0 provider (Go) trust SSL_CERT_FILE: the
	// image's bundle plus the simulator's CA.
	bundle, err := os.ReadFile(filepath.Join(img.Root, ociimage.CABundlePath))
	if err != nil {
		return nil, fmt.Errorf("the image's CA bundle: %w", err)
	}
	simCA, err := os.ReadFile(p.state.Sim.CACert)
	if err != nil {
		return nil, fmt.Errorf("read simulator CA: %w", err)
	}
	if err := placeFiles(img, map[string][]byte{"ca-certificates.crt": append(append(bundle, '\n'), simCA...)}); err != nil {
		return nil, err
	}
	args, err := mergeArgs([]string{
		// Check each Workspace often (plan, apply when it differs), so
		// rotation and drift are corrected within a test's patience; run
		// Workspaces side by side.
		"--poll=10s", "--poll-jitter=1s", "--max-reconcile-rate=10",
		// A Terraform command against the simulator takes seconds.
		"--timeout=5m",
	}, rc.Args, terraformReserved())
	if err != nil {
		return nil, err
	}
	runner, err := p.netnsRunner(ctx)
	if err != nil {
		return nil, err
	}
	api, err := hostPort(p.state.Server)
	if err != nil {
		return nil, err
	}
	argv := []string{
		"--root", img.Root, "--uid", strconv.Itoa(img.UID), "--gid", strconv.Itoa(img.GID),
		"--forward", api, "--forward", p.state.Sim.Domain, "--",
	}
	argv = append(append(argv, img.Entrypoint...), args...)
	cmd := exec.Command(runner, argv...) //nolint:noctx // Outlives this program; stopped by down.
	cmd.Env = overlay(img.Env, []string{"SSL_CERT_FILE=" + runtimeFiles + "/ca-certificates.crt"})
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	pr, err := p.launch(rev.GetName(), cmd, fmt.Sprintf("%s (image %s@%s, root %s, uid %d, own network namespace)", img.Entrypoint[0], img.Ref, img.Digest, rel(img.Root), img.UID))
	if err != nil {
		return nil, err
	}
	// No health endpoint to reach from here (it is in the namespace): the
	// Workspace controller starting is the sign it runs.
	if err := p.waitFor(ctx, rev.GetName()+" Workspace controller started", 2*time.Minute, pr, func(context.Context) (bool, error) {
		b, err := os.ReadFile(pr.Log)
		return bytes.Contains(b, []byte(`"Starting workers"`)) && bytes.Contains(b, []byte("managed/workspace.tf.m.upbound.io")), err
	}); err != nil {
		return nil, err
	}
	p.logf("provider revision %s running (provider-terraform) as ServiceAccount %s, uid %d", rev.GetName(), sa, img.UID)
	return &Runtime{Args: args, ServiceAccount: sa}, nil
}

// devices creates the device nodes a container runtime gives every
// container: provider-terraform starts terraform with no stdin, which Go's
// os/exec connects to /dev/null.
func devices(root string) error {
	dir := filepath.Join(root, "dev")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, minor := range map[string]int{"null": 3, "zero": 5, "random": 8, "urandom": 9} {
		path := filepath.Join(dir, name)
		if err := unix.Mknod(path, unix.S_IFCHR|0o666, int(unix.Mkdev(1, uint32(minor)))); err != nil && !os.IsExist(err) { //nolint:gosec // Small constant device numbers.
			return fmt.Errorf("create %s: %w", path, err)
		}
		// The mode passed to mknod is masked by the umask.
		if err := os.Chmod(path, 0o666); err != nil { //nolint:gosec // Device nodes every process may use, as in any container.
			return err
		}
	}
	return nil
}

// terraformReserved are none: provider-terraform takes no address or
// credentials flags; the plane connects it through its environment.
func terraformReserved() []string { return nil }

func hostPort(url string) (string, error) {
	hp := strings.TrimPrefix(url, "https://")
	if hp == url || strings.Contains(hp, "/") {
		return "", fmt.Errorf("API server URL %q is not https://host:port", url)
	}
	return hp, nil
}

// netnsRunner builds netns-run into the plane's folder once.
func (p *plane) netnsRunner(ctx context.Context) (string, error) {
	bin := filepath.Join(p.dir, "bin", netnsRunProcess)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	return p.goBuild(ctx, netnsRunProcess, "./test/e2e/cmd/"+netnsRunProcess)
}
