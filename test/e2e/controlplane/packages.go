package controlplane

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"
)

// Package kinds Crossplane installs.
var (
	FunctionGVR         = schema.GroupVersionResource{Group: "pkg.crossplane.io", Version: "v1", Resource: "functions"}
	FunctionRevisionGVR = schema.GroupVersionResource{Group: "pkg.crossplane.io", Version: "v1", Resource: "functionrevisions"}
	ProviderGVR         = schema.GroupVersionResource{Group: "pkg.crossplane.io", Version: "v1", Resource: "providers"}
	ProviderRevisionGVR = schema.GroupVersionResource{Group: "pkg.crossplane.io", Version: "v1", Resource: "providerrevisions"}
	ConfigurationGVR    = schema.GroupVersionResource{Group: "pkg.crossplane.io", Version: "v1", Resource: "configurations"}
	mrapGVR             = schema.GroupVersionResource{Group: "apiextensions.crossplane.io", Version: "v1alpha1", Resource: "managedresourceactivationpolicies"}
)

// xpkg is a package built from a folder of this repository and placed in
// Crossplane's package cache.
type xpkg struct {
	// Name is the package's metadata.name, used as the package object's name
	// and in its source, xpkg.local/<name>.
	Name string
	// Kind is Function, Provider or Configuration.
	Kind   string
	Source string
	Digest string // sha256:<hex> of the cached package content
}

// Ref is the package reference by digest: with a tag Crossplane would ask
// a registry for the digest first.
func (x xpkg) Ref() string { return x.Source + "@" + x.Digest }

// buildPackage runs `crossplane xpkg build` on a package folder, extracts
// its package.yaml stream and stores it in the xpkg cache under the name
// Crossplane looks up for the package's source and digest.
func (p *plane) buildPackage(ctx context.Context, root string) (xpkg, error) {
	meta, err := os.ReadFile(filepath.Join(root, "crossplane.yaml")) //nolint:gosec // Repository file.
	if err != nil {
		return xpkg{}, fmt.Errorf("read package metadata: %w", err)
	}
	var m struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(meta, &m); err != nil || m.Metadata.Name == "" {
		return xpkg{}, fmt.Errorf("no metadata.name in %s/crossplane.yaml: %v", root, err)
	}
	out := filepath.Join(p.dir, "packages", m.Metadata.Name)
	crank := p.state.Tools["crank"]
	// No --examples-root: examples are not part of what gets installed.
	if _, err := p.run(ctx, "xpkg", nil, crank, "xpkg", "build", "--package-root="+root, "--examples-root="+filepath.Join(root, "no-examples"), "-o", out+".xpkg"); err != nil {
		return xpkg{}, fmt.Errorf("build package %s: %w", m.Metadata.Name, err)
	}
	if _, err := p.run(ctx, "xpkg", nil, crank, "xpkg", "extract", "--from-xpkg", out+".xpkg", "-o", out+".gz"); err != nil {
		return xpkg{}, fmt.Errorf("extract package %s: %w", m.Metadata.Name, err)
	}
	f, err := os.Open(out + ".gz") //nolint:gosec // Our own output.
	if err != nil {
		return xpkg{}, fmt.Errorf("open extracted package: %w", err)
	}
	defer f.Close() //nolint:errcheck // Read-only.
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return xpkg{}, fmt.Errorf("hash extracted package: %w", err)
	}
	x := xpkg{Name: m.Metadata.Name, Kind: m.Kind, Source: "xpkg.local/" + m.Metadata.Name, Digest: "sha256:" + hex.EncodeToString(h.Sum(nil))}
	b, err := os.ReadFile(out + ".gz") //nolint:gosec // Our own output.
	if err != nil {
		return xpkg{}, fmt.Errorf("read extracted package: %w", err)
	}
	cached := filepath.Join(p.dir, "xpkg-cache", friendlyID(x.Source, x.Digest)+".gz")
	if err := writeFiles(map[string][]byte{cached: b}); err != nil {
		return xpkg{}, err
	}
	p.logf("built %s package %s (%s)", m.Kind, x.Name, x.Digest[:19])
	return x, nil
}

// friendlyID names a cached package the way Crossplane's package cache
// looks it up: the source truncated to 50 characters, a dash and the first
// 12 characters of the digest ("sha256:" and 5 hex), as a DNS label.
func friendlyID(source, digest string) string {
	s := source
	if len(s) > 50 {
		s = s[:50]
	}
	d := digest
	if len(d) > 12 {
		d = d[:12]
	}
	joined := s + "-" + d
	var b strings.Builder
	for i := 0; i < len(joined) && i <= 62; i++ {
		c := joined[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteByte(c)
		case (c == '.' || c == '/' || c == ':' || c == '-') && i != 0 && i != 62 && i != len(joined)-1:
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

// install applies a package object that Crossplane resolves from the cache
// only (packagePullPolicy Never).
func (p *plane) install(ctx context.Context, gvr schema.GroupVersionResource, x xpkg, extra map[string]any) error {
	spec := map[string]any{
		"package": x.Ref(), "packagePullPolicy": "Never",
		// Crossplane built from the module proxy reports no version (release
		// builds stamp it with -ldflags), so it cannot check the packages'
		// ">=v2.0.0" constraint; it is v2.2.1 by construction.
		"ignoreCrossplaneConstraints": true,
	}
	for k, v := range extra {
		spec[k] = v
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": gvr.GroupVersion().String(),
		"kind":       x.Kind,
		"metadata":   map[string]any{"name": x.Name},
		"spec":       spec,
	}}
	if _, err := p.dyn.Resource(gvr).Apply(ctx, x.Name, u, metav1.ApplyOptions{FieldManager: "controlplane", Force: true}); err != nil {
		return fmt.Errorf("apply %s %s: %w", x.Kind, x.Name, err)
	}
	p.state.Packages[x.Kind+"/"+x.Name] = x.Ref()
	return p.save()
}

// activeRevision waits for the package's active revision and returns it.
func (p *plane) activeRevision(ctx context.Context, gvr schema.GroupVersionResource, pkg string) (*unstructured.Unstructured, error) {
	var rev *unstructured.Unstructured
	err := p.waitFor(ctx, "revision of "+pkg, 2*time.Minute, p.running["crossplane"], func(ctx context.Context) (bool, error) {
		l, err := p.dyn.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: "pkg.crossplane.io/package=" + pkg})
		if err != nil {
			return false, err
		}
		for i := range l.Items {
			if s, _, _ := unstructured.NestedString(l.Items[i].Object, "spec", "desiredState"); s == "Active" {
				rev = &l.Items[i]
				return true, nil
			}
		}
		return false, nil
	})
	return rev, err
}

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

// waitHealthy waits for a package to be Installed and Healthy. On failure
// its conditions are part of the error.
func (p *plane) waitHealthy(ctx context.Context, gvr schema.GroupVersionResource, name string) error {
	var last *unstructured.Unstructured
	err := p.waitFor(ctx, gvr.Resource+"/"+name+" healthy", 3*time.Minute, p.running["crossplane"], func(ctx context.Context) (bool, error) {
		u, err := p.dyn.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = u
		return hasCondition(u, "Installed", "True") && hasCondition(u, "Healthy", "True"), nil
	})
	if err != nil && last != nil {
		conds, _, _ := unstructured.NestedSlice(last.Object, "status", "conditions")
		return fmt.Errorf("%w\nconditions: %v", err, conds)
	}
	return err
}

// installFunction installs a Function package and runs the function as a
// local process serving mutual TLS with a certificate signed by
// Crossplane's root CA, the way Crossplane's own runtime would.
func (p *plane) installFunction(ctx context.Context, x xpkg, bin string) error {
	if err := p.install(ctx, FunctionGVR, x, nil); err != nil {
		return err
	}
	secretName, data, err := p.serverSecret(ctx, x.Name)
	if err != nil {
		return err
	}
	certDir := filepath.Join(p.dir, "tls", x.Name)
	files := map[string][]byte{}
	for k, v := range data {
		files[filepath.Join(certDir, k)] = v
	}
	if err := writeFiles(files); err != nil {
		return err
	}
	if err := p.ports(x.Name); err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", p.state.Ports[x.Name])
	fn, err := p.start(x.Name, bin, []string{"--address=" + addr, "--tls-server-certs-dir=" + certDir, "--debug"}, nil)
	if err != nil {
		return err
	}
	if err := p.waitFor(ctx, x.Name+" listening", time.Minute, fn, func(context.Context) (bool, error) {
		return dialOK(addr), nil
	}); err != nil {
		return err
	}
	rev, err := p.activeRevision(ctx, FunctionRevisionGVR, x.Name)
	if err != nil {
		return err
	}
	if err := p.markRuntimeHealthy(ctx, FunctionRevisionGVR, rev.GetName(), map[string]any{
		"tlsServerSecretName": secretName,
		"endpoint":            fmt.Sprintf("dns:///localhost:%d", p.state.Ports[x.Name]),
	}); err != nil {
		return fmt.Errorf("mark %s healthy: %w", rev.GetName(), err)
	}
	if err := p.waitHealthy(ctx, FunctionGVR, x.Name); err != nil {
		return err
	}
	p.logf("function %s installed and healthy, serving on %s", x.Name, addr)
	return nil
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

// installProvider installs a Provider package (its CRDs) and marks its
// runtime healthy; the provider itself runs as a local process (started
// by the caller once its CRDs exist).
func (p *plane) installProvider(ctx context.Context, x xpkg) error {
	if err := p.install(ctx, ProviderGVR, x, nil); err != nil {
		return err
	}
	rev, err := p.activeRevision(ctx, ProviderRevisionGVR, x.Name)
	if err != nil {
		return err
	}
	secretName, _, err := p.serverSecret(ctx, x.Name)
	if err != nil {
		return err
	}
	if err := p.markRuntimeHealthy(ctx, ProviderRevisionGVR, rev.GetName(), map[string]any{"tlsServerSecretName": secretName}); err != nil {
		return fmt.Errorf("mark %s healthy: %w", rev.GetName(), err)
	}
	if err := p.waitHealthy(ctx, ProviderGVR, x.Name); err != nil {
		return err
	}
	// The provider declares the safe-start capability, so its managed
	// resource definitions stay inactive (no CRDs) until a policy activates
	// them, as a platform engineer would.
	mrap := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.crossplane.io/v1alpha1",
		"kind":       "ManagedResourceActivationPolicy",
		"metadata":   map[string]any{"name": x.Name},
		"spec":       map[string]any{"activate": []any{eventStreamCRD}},
	}}
	if _, err := p.dyn.Resource(mrapGVR).Apply(ctx, x.Name, mrap, metav1.ApplyOptions{FieldManager: "controlplane", Force: true}); err != nil {
		return fmt.Errorf("apply ManagedResourceActivationPolicy: %w", err)
	}
	p.logf("provider package %s installed and healthy; EventStream activated", x.Name)
	return nil
}

// installConfiguration installs a Configuration package. Its dependencies
// (our function and provider) are installed explicitly beforehand: with no
// registry, Crossplane could not resolve their versions, so dependency
// resolution is skipped.
func (p *plane) installConfiguration(ctx context.Context, x xpkg) error {
	if err := p.install(ctx, ConfigurationGVR, x, map[string]any{"skipDependencyResolution": true}); err != nil {
		return err
	}
	if err := p.waitHealthy(ctx, ConfigurationGVR, x.Name); err != nil {
		return err
	}
	p.logf("configuration %s installed and healthy", x.Name)
	return nil
}
