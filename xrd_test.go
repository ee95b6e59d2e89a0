package main

import (
	"context"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/crossplane/crossplane-runtime/v2/pkg/xcrd"
	xpv1 "github.com/crossplane/crossplane/apis/v2/apiextensions/v1"
)

const (
	xrdNamespaced = "package/configuration/definition.yaml"
	xrdLegacy     = "package/configuration-legacy/definition.yaml"
)

// loadXRD reads an XRD. The v2 XRD decodes into the v1 type: the fields this
// project uses are the same in both versions.
func loadXRD(t *testing.T, path string) *xpv1.CompositeResourceDefinition {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	xrd := &xpv1.CompositeResourceDefinition{}
	if err := yaml.UnmarshalStrict(b, xrd); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return xrd
}

// TestLegacyXRDMatches keeps the two flavours of the API identical.
func TestLegacyXRDMatches(t *testing.T) {
	ns, legacy := loadXRD(t, xrdNamespaced), loadXRD(t, xrdLegacy)
	if diff := cmp.Diff(ns.Spec.Versions, legacy.Spec.Versions); diff != "" {
		t.Errorf("versions of %s and %s differ: -namespaced, +legacy:\n%s", xrdNamespaced, xrdLegacy, diff)
	}
	for _, x := range []*xpv1.CompositeResourceDefinition{ns, legacy} {
		if x.Spec.Group != "auth0.openmcf.org" || len(x.Spec.Versions) != 1 || x.Spec.Versions[0].Name != "v1" {
			t.Errorf("%s: want group auth0.openmcf.org, version v1", x.GetName())
		}
	}
	if ns.Spec.Names.Kind != "Auth0EventStream" || ptrScope(ns) != xpv1.CompositeResourceScopeNamespaced {
		t.Errorf("%s: want a Namespaced Auth0EventStream", xrdNamespaced)
	}
	if legacy.Spec.Names.Kind != KindLegacyComposite || legacy.Spec.ClaimNames == nil || legacy.Spec.ClaimNames.Kind != "Auth0EventStream" || ptrScope(legacy) != xpv1.CompositeResourceScopeLegacyCluster {
		t.Errorf("%s: want a LegacyCluster %s claimed as Auth0EventStream", xrdLegacy, KindLegacyComposite)
	}
}

// TestCompositionExamples keeps the examples' Compositions those the
// Configuration packages ship.
func TestCompositionExamples(t *testing.T) {
	for example, pkg := range map[string]string{
		"example/composition.yaml":        "package/configuration/composition.yaml",
		"example/legacy/composition.yaml": "package/configuration-legacy/composition.yaml",
	} {
		a, errA := os.ReadFile(example)
		b, errB := os.ReadFile(pkg)
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if diff := cmp.Diff(string(b), string(a)); diff != "" {
			t.Errorf("%s differs from %s:\n%s", example, pkg, diff)
		}
	}
}

func ptrScope(x *xpv1.CompositeResourceDefinition) xpv1.CompositeResourceScope {
	if x.Spec.Scope == nil {
		return xpv1.CompositeResourceScopeLegacyCluster
	}
	return *x.Spec.Scope
}

// crdsFor returns the CRDs Crossplane derives from an XRD: the composite's
// and, for a legacy XRD, the claim's.
func crdsFor(t *testing.T, path string) []*extv1.CustomResourceDefinition {
	t.Helper()
	xrd := loadXRD(t, path)
	xr, err := xcrd.ForCompositeResource(xrd)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	crds := []*extv1.CustomResourceDefinition{xr}
	if xrd.Spec.ClaimNames != nil {
		claim, err := xcrd.ForCompositeResourceClaim(xrd)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		crds = append(crds, claim)
	}
	for _, c := range crds {
		// envtest owns these CRDs; the XRD that would own them is absent.
		c.SetOwnerReferences(nil)
	}
	return crds
}

// TestAPIServerValidation installs the CRDs Crossplane generates from each
// XRD into a real kube-apiserver (v1.35.4, through envtest) and checks that
// every example is admitted and every manifest in testdata/invalid is refused
// with a message naming its field. The invalid manifests are namespaced
// Auth0EventStreams, so for the legacy flavour they are claims.
func TestAPIServerValidation(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run make test, or export KUBEBUILDER_ASSETS=$(hack/build-tool.sh envtest-assets)")
	}
	invalid := invalidManifests(t)

	flavours := []struct {
		name  string
		xrd   string
		valid []string
	}{
		{
			name: "Namespaced",
			xrd:  xrdNamespaced,
			valid: []string{
				"example/seed/quick-start.yaml", "example/seed/eventbridge-security-events.yaml",
				"example/seed/webhook-bearer-user-lifecycle.yaml", "example/seed/webhook-basic-api-audit.yaml",
				"example/webhook-bearer.yaml", "example/webhook-basic.yaml", "example/webhook-custom-header.yaml",
				"example/eventbridge.yaml", "example/action.yaml", "example/import/observe-only.yaml",
				"example/eventbus/xr.yaml",
			},
		},
		{
			name: "LegacyClaim",
			xrd:  xrdLegacy,
			valid: []string{
				"example/legacy/claim.yaml", "example/legacy/claim-eventbridge.yaml", "example/legacy/composite.yaml",
				"example/eventbus/claim.yaml",
				// The seed's manifests are valid claims too.
				"example/seed/quick-start.yaml", "example/seed/webhook-basic-api-audit.yaml",
			},
		},
	}
	for _, f := range flavours {
		t.Run(f.name, func(t *testing.T) {
			env := &envtest.Environment{CRDs: crdsFor(t, f.xrd)}
			cfg, err := env.Start()
			if err != nil {
				t.Fatalf("cannot start kube-apiserver: %v", err)
			}
			t.Cleanup(func() { _ = env.Stop() })
			c, err := client.New(cfg, client.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for _, ns := range []string{"team-a", "invalid"} {
				if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
					t.Fatal(err)
				}
			}

			for _, path := range f.valid {
				u := &unstructured.Unstructured{}
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := yaml.Unmarshal(b, &u.Object); err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				if u.GetKind() != KindLegacyComposite && u.GetNamespace() == "" {
					u.SetNamespace("team-a")
				}
				if err := c.Create(ctx, u); err != nil {
					t.Errorf("%s: the API server refused a valid example: %v", path, err)
				}
			}

			streamIDTransitions(t, c)

			for _, m := range invalid {
				u := &unstructured.Unstructured{Object: m.Object}
				u.SetNamespace("invalid")
				err := c.Create(ctx, u)
				switch {
				case err == nil:
					t.Errorf("%s: the API server admitted an invalid manifest (rule on %s)", m.File, m.Field)
				case !namesField(err.Error(), m.Field):
					t.Errorf("%s: the API server's refusal does not name %s:\n%v", m.File, m.Field, err)
				default:
					t.Logf("%s: refused: %v", m.Name, err)
				}
			}
		})
	}
}

// streamIDTransitions checks the XRD's transition rule: a spec.streamId may
// change (the function decides whether that is safe) but not be removed.
func streamIDTransitions(t *testing.T, c client.Client) {
	t.Helper()
	ctx := context.Background()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(`apiVersion: auth0.openmcf.org/v1
kind: Auth0EventStream
metadata: {name: transitions, namespace: team-a}
spec:
  streamId: est_kh8FhJtLmm5hwVNZYMLWEU
  managementPolicies: [Observe]
  destinationType: action
  subscriptions: [user.created]
  actionConfiguration: {actionId: act_1}
`), &u.Object); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, u); err != nil {
		t.Fatalf("the API server refused an import: %v", err)
	}
	if err := unstructured.SetNestedField(u.Object, "est_GvjBteLHIa0va68OQ8mnM6", "spec", "streamId"); err != nil {
		t.Fatal(err)
	}
	if err := c.Update(ctx, u); err != nil {
		t.Errorf("the API server refused a changed spec.streamId: %v", err)
	}
	unstructured.RemoveNestedField(u.Object, "spec", "streamId")
	err := c.Update(ctx, u)
	switch {
	case err == nil:
		t.Errorf("the API server admitted removing spec.streamId")
	case !namesField(err.Error(), "spec.streamId"):
		t.Errorf("the refusal to remove spec.streamId does not name it:\n%v", err)
	default:
		t.Logf("removing spec.streamId refused: %v", err)
	}
}
