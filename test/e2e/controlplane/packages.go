package controlplane

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"
)

// pkgGroup is the API group of Crossplane's packages.
const pkgGroup = "pkg.crossplane.io"

// Package kinds Crossplane installs.
var (
	FunctionGVR              = schema.GroupVersionResource{Group: pkgGroup, Version: "v1", Resource: "functions"}
	FunctionRevisionGVR      = schema.GroupVersionResource{Group: pkgGroup, Version: "v1", Resource: "functionrevisions"}
	ProviderGVR              = schema.GroupVersionResource{Group: pkgGroup, Version: "v1", Resource: "providers"}
	ProviderRevisionGVR      = schema.GroupVersionResource{Group: pkgGroup, Version: "v1", Resource: "providerrevisions"}
	ConfigurationGVR         = schema.GroupVersionResource{Group: pkgGroup, Version: "v1", Resource: "configurations"}
	ConfigurationRevisionGVR = schema.GroupVersionResource{Group: pkgGroup, Version: "v1", Resource: "configurationrevisions"}
	mrapGVR                  = schema.GroupVersionResource{Group: "apiextensions.crossplane.io", Version: "v1alpha1", Resource: "managedresourceactivationpolicies"}
)

// markRuntimeHealthy plays the package runtime Crossplane defers to with
// --package-runtime=External: it records where the function listens (if
// any) and that the runtime is healthy.
func (p *plane) markRuntimeHealthy(ctx context.Context, gvr schema.GroupVersionResource, name string, fields map[string]any) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		rev, err := p.dyn.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for k, v := range fields {
			if err := unstructured.SetNestedField(rev.Object, v, "status", k); err != nil {
				return err
			}
		}
		conds, _, _ := unstructured.NestedSlice(rev.Object, "status", "conditions")
		healthy := map[string]any{
			"type": "RuntimeHealthy", "status": "True", "reason": "HealthyPackageRevision",
			"message":            "Runs as a local process (External package runtime)",
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
		}
		replaced := false
		for i, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "RuntimeHealthy" {
				conds[i], replaced = healthy, true
			}
		}
		if !replaced {
			conds = append(conds, healthy)
		}
		if err := unstructured.SetNestedSlice(rev.Object, conds, "status", "conditions"); err != nil {
			return err
		}
		_, err = p.dyn.Resource(gvr).UpdateStatus(ctx, rev, metav1.UpdateOptions{})
		return err
	})
}

// serverSecret stores a server certificate for a package's runtime, signed
// by Crossplane's root CA, in the Secret <name>-tls-server, as Crossplane's
// own runtime would. Functions serve with it; for providers Crossplane
// reads it as the CA bundle of webhooks.
func (p *plane) serverSecret(ctx context.Context, name string) (string, map[string][]byte, error) {
	root, err := p.kube.CoreV1().Secrets(crossplaneNamespace).Get(ctx, "crossplane-root-ca", metav1.GetOptions{})
	if err != nil {
		return "", nil, fmt.Errorf("read crossplane-root-ca: %w", err)
	}
	rootCA, err := loadCA(root.Data["tls.crt"], root.Data["tls.key"])
	if err != nil {
		return "", nil, fmt.Errorf("load crossplane-root-ca: %w", err)
	}
	crt, key, err := rootCA.serving(name)
	if err != nil {
		return "", nil, err
	}
	secretName := name + "-tls-server"
	data := map[string][]byte{"tls.crt": crt, "tls.key": key, "ca.crt": rootCA.certPEM}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: crossplaneNamespace}, Data: data}
	if _, err := p.kube.CoreV1().Secrets(crossplaneNamespace).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return "", nil, fmt.Errorf("create %s: %w", secretName, err)
		}
		if _, err := p.kube.CoreV1().Secrets(crossplaneNamespace).Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
			return "", nil, fmt.Errorf("update %s: %w", secretName, err)
		}
	}
	return secretName, data, nil
}

// InitialVersion is the version up publishes and installs; tests publish
// later ones to upgrade to.
const InitialVersion = "v0.1.0"

// ConfigurationPackage is the repository name of the Configuration of a
// flavour (also the name of its Configuration object here).
func ConfigurationPackage(flavour string) string {
	if flavour == FlavourLegacy {
		return "configuration-auth0-eventstream-legacy"
	}
	return "configuration-auth0-eventstream"
}

// TerraformConfigurationPackage is the repository name of the terraform
// backend's Configuration of a flavour (also the name of its Configuration
// object here).
func TerraformConfigurationPackage(flavour string) string {
	return ConfigurationPackage(flavour) + "-terraform"
}

// Publish builds every package at version with make packages and pushes
// them to the control plane's registry with make publish, as a platform
// team would push them to its own.
func Publish(ctx context.Context, dir, version string, log io.Writer) error {
	p, err := attach(dir, log)
	if err != nil {
		return err
	}
	return p.publish(ctx, version)
}

func (p *plane) publish(ctx context.Context, version string) error {
	if p.state.Registry == nil {
		return errNoRegistry
	}
	start := time.Now()
	out := filepath.Join(p.dir, "xpkg", version)
	built, err := p.packages(ctx, version, out)
	if err != nil {
		return err
	}
	// make publish pushes with crossplane xpkg push, which trusts
	// SSL_CERT_FILE.
	env := append(subMake(), "SSL_CERT_FILE="+p.state.Registry.CACert)
	if err := p.run(ctx, "publish", env, "make", "publish", "REGISTRY="+p.state.Registry.Repository(), "VERSION="+version, "XPKG_DIR="+out, "ARCHS="+runtime.GOARCH); err != nil {
		return fmt.Errorf("publish packages %s: %w", version, err)
	}
	p.logf("published the packages %s (%s) to %s in %s", version, built, p.state.Registry.Repository(), time.Since(start).Round(time.Second))
	return nil
}

// subMake is the environment of a make run by this program, which may
// itself run under make (make e2e): the sub-make must not inherit its
// jobserver or variables.
func subMake() []string { return []string{"MAKEFLAGS=", "MAKELEVEL=", "MFLAGS="} }

// packages puts the packages of this tree at version, for this machine's
// architecture only (the plane runs nothing else; TestPackages proves
// every release architecture builds), into out. They are built once per
// tree content, version and architecture and reused by every plane that
// asks (both flavours' planes, make bench-e2e's and make soak's), so a
// make e2e builds each version once. It says whether it built or reused.
func (p *plane) packages(ctx context.Context, version, out string) (string, error) {
	key, err := treeKey(ctx, p.opts.RepoRoot)
	if err != nil {
		return "", err
	}
	cache := filepath.Join(p.opts.RepoRoot, "_output", "xpkg-cache", fmt.Sprintf("%s-%s-%s", key[:16], version, runtime.GOARCH))
	if err := os.MkdirAll(filepath.Dir(cache), 0o755); err != nil {
		return "", fmt.Errorf("create the package cache: %w", err)
	}
	// Planes started side by side wait for one build.
	unlock, err := lockFile(cache + ".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	how := "reused"
	if _, err := os.Stat(filepath.Join(cache, "VERSION")); err != nil {
		how = "built"
		tmp := cache + ".tmp"
		if err := os.RemoveAll(tmp); err != nil {
			return "", fmt.Errorf("clean %s: %w", tmp, err)
		}
		// Built in the plane's folder, so a make packages in the tree is
		// not disturbed.
		build := "BUILD_DIR=" + filepath.Join(p.dir, "xpkg", "build-"+version)
		if err := p.run(ctx, "publish", subMake(), "make", "packages", "VERSION="+version, "XPKG_DIR="+tmp, build, "ARCHS="+runtime.GOARCH); err != nil {
			return "", fmt.Errorf("build packages %s: %w", version, err)
		}
		if err := os.Rename(tmp, cache); err != nil {
			return "", fmt.Errorf("keep the packages %s: %w", version, err)
		}
	}
	if err := os.RemoveAll(out); err != nil {
		return "", fmt.Errorf("clean %s: %w", out, err)
	}
	return how, copyDir(cache, out)
}

// treeKey identifies the content packages are built from: every file git
// tracks or would track (committed or not) with its mode, the commit (its
// hash and time are stamped into the images) and the Go toolchain.
func treeKey(ctx context.Context, root string) (string, error) {
	git := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = root
		b, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
		}
		return b, nil
	}
	files, err := git("ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		return "", err
	}
	head, err := git("log", "-1", "--format=%H %ct")
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, _ = fmt.Fprintf(h, "%s\x00%s\x00", head, runtime.Version())
	names := strings.Split(strings.TrimSuffix(string(files), "\x00"), "\x00")
	slices.Sort(names)
	for _, n := range slices.Compact(names) {
		fi, err := os.Lstat(filepath.Join(root, n))
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the work tree
		}
		if err != nil {
			return "", fmt.Errorf("hash %s: %w", n, err)
		}
		_, _ = fmt.Fprintf(h, "%s\x00%o\x00", n, fi.Mode())
		if !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, n))
		if err != nil {
			return "", fmt.Errorf("hash %s: %w", n, err)
		}
		_, _ = fmt.Fprintf(h, "%d\x00", len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// copyDir copies the folder src to a new folder dst.
func copyDir(src, dst string) error {
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}

// lockFile takes an exclusive lock on path (created if missing) and
// returns its release.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); _ = f.Close() }, nil
}

// imageConfig makes Crossplane pull our packages, named as users name
// them (xpkg.crossplane.io/xp-auth0/...), from the local registry.
func (p *plane) imageConfig(ctx context.Context) error {
	return p.rewriteImages(ctx, "xp-auth0-local-registry", PackageRepository+"/")
}

// rewriteImages applies ImageConfig name, which makes Crossplane pull the
// packages under prefix from the local registry's repository.
func (p *plane) rewriteImages(ctx context.Context, name, prefix string) error {
	ic := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": ImageConfigGVR.GroupVersion().String(),
		"kind":       "ImageConfig",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"matchImages":  []any{map[string]any{"type": "Prefix", "prefix": prefix}},
			"rewriteImage": map[string]any{"prefix": p.state.Registry.Repository() + "/"},
		},
	}}
	if _, err := p.dyn.Resource(ImageConfigGVR).Apply(ctx, name, ic, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return fmt.Errorf("apply ImageConfig %s: %w", name, err)
	}
	p.logf("ImageConfig %s rewrites %s to %s/", name, prefix, p.state.Registry.Repository())
	return nil
}

// installConfiguration applies the flavour's Configuration by its public
// name and nothing else: Crossplane resolves its dependencies and installs
// our Function and Provider, whose runtime this program then plays.
func (p *plane) installConfiguration(ctx context.Context, version string) error {
	name := ConfigurationPackage(p.state.Flavour)
	return p.applyConfiguration(ctx, name, version, []packageObject{{FunctionGVR, FunctionName}, {ProviderGVR, ProviderName}}, nil)
}

// packageObject names a package object.
type packageObject struct {
	gvr  schema.GroupVersionResource
	name string
}

// applyConfiguration applies Configuration name at version, plays the
// runtime of the revisions Crossplane creates until it and the packages
// deps it installs as its dependencies are healthy, and, if set, until
// ready reports true.
func (p *plane) applyConfiguration(ctx context.Context, name, version string, deps []packageObject, ready func(context.Context) (bool, error)) error {
	pkg := PackageRepository + "/" + name + ":" + version
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": ConfigurationGVR.GroupVersion().String(),
		"kind":       "Configuration",
		"metadata":   map[string]any{"name": name},
		"spec":       map[string]any{"package": pkg},
	}}
	start := time.Now()
	if _, err := p.dyn.Resource(ConfigurationGVR).Apply(ctx, name, u, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return fmt.Errorf("apply Configuration %s: %w", name, err)
	}
	p.state.Packages["Configuration/"+name] = pkg
	if err := p.save(); err != nil {
		return err
	}
	// Play the runtime for the revisions Crossplane creates until the
	// Configuration and its dependencies are healthy.
	var (
		pending []string
		syncErr error
	)
	objs := append([]packageObject{{ConfigurationGVR, name}}, deps...)
	err := p.waitFor(ctx, "Configuration "+name+" and its dependencies healthy", 5*time.Minute, p.running["crossplane"], func(ctx context.Context) (bool, error) {
		// A revision whose image cannot run will not get better by waiting.
		if _, syncErr = p.syncRuntime(ctx); syncErr != nil {
			return true, nil //nolint:nilerr // Stop waiting; syncErr is returned below.
		}
		pending = pending[:0]
		for _, o := range objs {
			u, err := p.dyn.Resource(o.gvr).Get(ctx, o.name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				u, err = nil, nil
			}
			if err != nil {
				return false, err
			}
			if u == nil || !conditionTrue(u, "Installed") || !conditionTrue(u, "Healthy") {
				pending = append(pending, o.gvr.Resource+"/"+o.name+": "+conditionSummary(u))
			}
		}
		if len(pending) > 0 || ready == nil {
			return len(pending) == 0, nil
		}
		return ready(ctx)
	})
	if syncErr != nil {
		return fmt.Errorf("play the package runtime for Configuration %s: %w", name, syncErr)
	}
	if err != nil {
		return fmt.Errorf("%w\nnot healthy: %s", err, strings.Join(pending, "; "))
	}
	var installed []string
	for _, o := range deps {
		kind := strings.TrimSuffix(strings.ToUpper(o.gvr.Resource[:1])+o.gvr.Resource[1:], "s")
		p.state.Packages[kind+"/"+o.name] = "installed by Crossplane as a dependency of " + pkg
		installed = append(installed, o.name)
	}
	p.logf("Configuration %s installed; Crossplane installed %s in %s", pkg, strings.Join(installed, " and "), time.Since(start).Round(100*time.Millisecond))
	return p.save()
}

// conditionSummary renders an object's conditions for an error message.
func conditionSummary(u *unstructured.Unstructured) string {
	if u == nil {
		return "not created yet"
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var parts []string
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok {
			parts = append(parts, fmt.Sprintf("%v=%v %v %v", m["type"], m["status"], m["reason"], m["message"]))
		}
	}
	if len(parts) == 0 {
		return "no conditions yet"
	}
	return strings.Join(parts, ", ")
}
