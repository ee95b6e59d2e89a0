//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/xp-auth0/auth0-eventstream/test/e2e/controlplane"
)

// Adopting a stream no resource of ours created is the platform's
// decision: the packaged Compositions import Observe-only, and a platform
// that allows adoption installs a Composition of its own with importPolicy
// Manage (example/import/), whose ProviderConfig allows it too. The tests
// that adopt install them as that platform would.

var compositionGVR = schema.GroupVersionResource{Group: "apiextensions.crossplane.io", Version: "v1", Resource: "compositions"}

// importsProviderConfig is the ClusterProviderConfig example/import's
// native Composition composes with: the plane's tenant, with the
// provider's importPolicy Manage (a provider without that field prunes it).
const importsProviderConfig = "auth0-imports"

// manageComposition installs example/import's Composition (the native or
// the terraform one, file) for the plane's flavour, and for the native one
// the ClusterProviderConfig it composes with, until the test ends. It
// returns the Composition's name.
func manageComposition(t *testing.T, file string) string {
	t.Helper()
	var c unstructured.Unstructured
	if err := yaml.Unmarshal(repoFile(t, file), &c.Object); err != nil {
		t.Fatal(err)
	}
	if legacy() {
		c.SetName("x" + c.GetName())
		if err := unstructured.SetNestedField(c.Object, "XAuth0EventStream", "spec", "compositeTypeRef", "kind"); err != nil {
			t.Fatal(err)
		}
	}
	mustKubectl(t, encode(t, &c), "apply", "-f", "-")
	t.Cleanup(func() {
		_ = dyn.Resource(compositionGVR).Delete(context.Background(), c.GetName(), metav1.DeleteOptions{})
	})
	backend, _, _ := unstructured.NestedString(c.Object, "spec", "pipeline", "0", "input", "backend")
	if strings.Contains(file, "terraform") || backend == "terraform" {
		return c.GetName()
	}
	pc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": controlplane.ClusterProviderConfigGVR.GroupVersion().String(),
		"kind":       "ClusterProviderConfig",
		"metadata":   map[string]any{"name": importsProviderConfig},
		"spec": map[string]any{
			"importPolicy": "Manage",
			"credentials": map[string]any{
				"source":    "Secret",
				"secretRef": map[string]any{"namespace": "crossplane-system", "name": controlplane.CredentialsSecret},
			},
		},
	}}
	// Created, not applied: server-side apply refuses a field a provider
	// without importPolicy does not declare; a create prunes it.
	if _, err := dyn.Resource(controlplane.ClusterProviderConfigGVR).Create(t.Context(), pc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create ClusterProviderConfig %s: %v", importsProviderConfig, err)
	}
	return c.GetName()
}

// withComposition returns the manifest with every Auth0EventStream naming
// Composition name.
func withComposition(t *testing.T, manifest []byte, name string) []byte {
	t.Helper()
	var out bytes.Buffer
	for d := range bytes.SplitSeq(manifest, []byte("\n---")) {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(d, &u.Object); err != nil {
			t.Fatalf("parse manifest: %v", err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.GetKind() == "Auth0EventStream" {
			path := []string{"spec", "crossplane", "compositionRef", "name"}
			if legacy() {
				path = []string{"spec", "compositionRef", "name"}
			}
			if err := unstructured.SetNestedField(u.Object, name, path...); err != nil {
				t.Fatal(err)
			}
		}
		out.Write(encode(t, u))
	}
	return out.Bytes()
}
