//go:build e2e

package e2e

import (
	"bytes"
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
// provider's importPolicy Manage (a provider without that field prunes it),
// serving only the namespaces labelled mayAdopt, as a platform would limit
// adoption.
const importsProviderConfig = "auth0-imports"

// mayAdopt is the namespace label importsProviderConfig's namespaceSelector
// admits.
const mayAdopt = "e2e.auth0.openmcf.org/may-adopt"

// manageComposition installs example/import's Composition (the native or
// the terraform one, file) for the plane's flavour, and for the native one
// the ClusterProviderConfig it composes with, labelling namespaces so that
// it serves them. It returns the Composition's name. Both stay installed:
// tests running side by side share them, so none may delete them while
// another uses them.
func manageComposition(t *testing.T, file string, namespaces ...string) string {
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
	// Created, not applied: tests side by side install it at once, and
	// kubectl apply's get-then-create loses that race.
	if _, err := dyn.Resource(compositionGVR).Create(t.Context(), &c, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create Composition %s: %v", c.GetName(), err)
	}
	backend, _, _ := unstructured.NestedString(c.Object, "spec", "pipeline", "0", "input", "backend")
	if strings.Contains(file, "terraform") || backend == "terraform" {
		return c.GetName()
	}
	for _, ns := range namespaces {
		mustKubectl(t, nil, "label", "namespace", ns, mayAdopt+"=true", "--overwrite")
	}
	pc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": controlplane.ClusterProviderConfigGVR.GroupVersion().String(),
		"kind":       "ClusterProviderConfig",
		"metadata":   map[string]any{"name": importsProviderConfig},
		"spec": map[string]any{
			"importPolicy":      "Manage",
			"namespaceSelector": map[string]any{"matchLabels": map[string]any{mayAdopt: "true"}},
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
