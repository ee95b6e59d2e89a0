package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// Where make generate copies provider-terraform v1.0.1's namespaced CRDs.
const providerTerraformCRDs = "testdata/crds/provider-terraform"

// terraformRenderCases renders examples with the terraform backend's
// Compositions, as created and with their Workspace observed.
func terraformRenderCases() []renderCase {
	const (
		comp       = "package/configuration-terraform/composition.yaml"
		legacyComp = "package/configuration-legacy-terraform/composition.yaml"
		importComp = "example/import/composition-manage-terraform.yaml"
	)
	cases := []renderCase{
		// The seed's event types are refused with either backend.
		{name: "seed-quick-start", xr: "example/seed/quick-start.yaml", composition: comp, xrd: xrdNamespaced, refused: true},
		{name: "quick-start", xr: "example/quick-start.yaml", composition: comp, xrd: xrdNamespaced},
		{name: "eventbridge", xr: "example/eventbridge.yaml", composition: comp, xrd: xrdNamespaced},
		{name: "xr", xr: "example/terraform/xr.yaml", composition: comp, xrd: xrdNamespaced},
		{name: "import", xr: "example/terraform/import.yaml", composition: importComp, xrd: xrdNamespaced},
		{name: "legacy-composite", xr: "example/legacy/composite.yaml", composition: legacyComp, xrd: xrdLegacy},
	}
	out := make([]renderCase, 0, 2*len(cases))
	for _, c := range cases {
		out = append(out, c)
		if c.refused {
			continue
		}
		o := c
		o.name += ".observed"
		o.observed = "example/terraform/observed/" + c.name + ".yaml"
		out = append(out, o)
	}
	return out
}

// TestRenderTerraform runs the real crossplane render over examples with
// the terraform backend's Compositions and compares the output with
// testdata/render/terraform. go test -run TestRenderTerraform -update
// rewrites them.
func TestRenderTerraform(t *testing.T) {
	cli := crossplaneCLI(t)
	addr := startFunction(t)

	for _, c := range terraformRenderCases() {
		t.Run(c.name, func(t *testing.T) {
			got := render(t, cli, addr, c)
			checkGolden(t, filepath.Join("testdata", "render", "terraform", c.name+".yaml"), got, "TestRenderTerraform", c.xr+" with "+c.composition)
		})
	}
}

// TestBetaValidateTerraformRenderOutput validates what crossplane render
// printed with the terraform backend: each XR against its XRD and each
// composed Workspace against provider-terraform v1.0.1's CRD.
func TestBetaValidateTerraformRenderOutput(t *testing.T) {
	cli := crossplaneCLI(t)
	cache := validateCache(t)

	namespaced, legacy := goldenByFlavour(filepath.Join("testdata", "render", "terraform"), terraformRenderCases())
	for name, tc := range map[string]struct {
		xrd    string
		golden []string
	}{"Namespaced": {xrdNamespaced, namespaced}, "Legacy": {xrdLegacy, legacy}} {
		t.Run(name, func(t *testing.T) {
			out := mustAccept(t, cli, cache, []string{tc.xrd, providerTerraformCRDs}, tc.golden, kindSecret, kindRenderResult)
			if n := strings.Count(out, "[✓] tf.m.upbound.io/v1beta1, Kind=Workspace, "); n != len(tc.golden) {
				t.Fatalf("crossplane beta validate validated %d Workspaces, want %d:\n%s", n, len(tc.golden), out)
			}
		})
	}
}

// TestBetaValidateTerraformExamples validates the terraform backend's
// Compositions, its example ProviderConfig, XR and observed Workspaces
// offline against the XRDs, the function's input and provider-terraform
// v1.0.1's CRDs.
func TestBetaValidateTerraformExamples(t *testing.T) {
	cli := crossplaneCLI(t)
	cache := validateCache(t)

	for name, tc := range map[string]struct {
		extensions []string
		resources  []string
	}{
		"Namespaced": {
			extensions: []string{xrdNamespaced, providerTerraformCRDs, "package/function/input"},
			resources:  []string{"example/terraform", "package/configuration-terraform/composition.yaml", "example/import/composition-manage-terraform.yaml"},
		},
		"Legacy": {
			extensions: []string{xrdLegacy, "package/function/input"},
			resources:  []string{"package/configuration-legacy-terraform/composition.yaml"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			// Kubernetes' own kinds have no CRD: the Secrets, and the
			// admission policy that guards the Workspaces with its
			// settings.
			mustAccept(t, cli, cache, tc.extensions, tc.resources, kindSecret, "/v1, Kind=ConfigMap",
				"admissionregistration.k8s.io/v1, Kind=ValidatingAdmissionPolicy", "admissionregistration.k8s.io/v1, Kind=ValidatingAdmissionPolicyBinding")
		})
	}
}
