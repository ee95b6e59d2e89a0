package controlplane

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
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
	// Build in the plane's folder, so a make packages in the tree is not
	// disturbed.
	build := "BUILD_DIR=" + filepath.Join(p.dir, "xpkg", "build-"+version)
	// make publish pushes with crossplane xpkg push, which trusts
	// SSL_CERT_FILE. This program may itself run under make (make e2e):
	// the sub-make must not inherit its jobserver or variables.
	env := []string{"SSL_CERT_FILE=" + p.state.Registry.CACert, "MAKEFLAGS=", "MAKELEVEL=", "MFLAGS="}
	if err := p.run(ctx, "publish", env, "make", "packages", "VERSION="+version, "XPKG_DIR="+out, build); err != nil {
		return fmt.Errorf("build packages %s: %w", version, err)
	}
	if err := p.run(ctx, "publish", env, "make", "publish", "REGISTRY="+p.state.Registry.Repository(), "VERSION="+version, "XPKG_DIR="+out); err != nil {
		return fmt.Errorf("publish packages %s: %w", version, err)
	}
	p.logf("published the packages %s to %s in %s", version, p.state.Registry.Repository(), time.Since(start).Round(time.Second))
	return nil
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
