package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Where make generate copies provider-terraform v1.0.1's namespaced CRDs.
const providerTerraformCRDs = "testdata/crds/provider-terraform"

// terraformRenderCases renders examples with the terraform backend's
// Compositions, as created and with their Workspace observed.
func terraformRenderCases() []renderCase {
	const (
		comp       = "package/configuration/composition-terraform.yaml"
		legacyComp = "package/configuration-legacy/composition-terraform.yaml"
	)
	cases := []renderCase{
		{name: "seed-quick-start", xr: "example/seed/quick-start.yaml", composition: comp, xrd: xrdNamespaced},
		{name: "eventbridge", xr: "example/eventbridge.yaml", composition: comp, xrd: xrdNamespaced},
		{name: "xr", xr: "example/terraform/xr.yaml", composition: comp, xrd: xrdNamespaced},
		{name: "import", xr: "example/terraform/import.yaml", composition: comp, xrd: xrdNamespaced},
		{name: "legacy-composite", xr: "example/legacy/composite.yaml", composition: legacyComp, xrd: xrdLegacy},
	}
	out := make([]renderCase, 0, 2*len(cases))
	for _, c := range cases {
		o := c
		o.name += ".observed"
		o.observed = "example/terraform/observed/" + c.name + ".yaml"
		out = append(out, c, o)
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
			out, ok := betaValidate(t, cli, cache, []string{tc.xrd, providerTerraformCRDs}, tc.golden)
			unschemed := strings.Count(out, "[!] could not find CRD/XRD for: /v1, Kind=Secret\n") +
				strings.Count(out, "[!] could not find CRD/XRD for: render.crossplane.io/v1beta1, Kind=Result\n")
			workspaces := strings.Count(out, "[✓] tf.m.upbound.io/v1beta1, Kind=Workspace, ")
			m := reValidateSummary.FindStringSubmatch(out)
			if !ok || m == nil || m[2] != strconv.Itoa(unschemed) || m[4] != "0" || workspaces != len(tc.golden) {
				t.Fatalf("crossplane beta validate refused rendered resources (or validated %d Workspaces, want %d):\n%s", workspaces, len(tc.golden), out)
			}
			t.Logf("%s", m[0])
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
			resources:  []string{"example/terraform", "package/configuration/composition-terraform.yaml"},
		},
		"Legacy": {
			extensions: []string{xrdLegacy, "package/function/input"},
			resources:  []string{"package/configuration-legacy/composition-terraform.yaml"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			out, ok := betaValidate(t, cli, cache, tc.extensions, tc.resources)
			secrets := strings.Count(out, "[!] could not find CRD/XRD for: /v1, Kind=Secret\n")
			m := reValidateSummary.FindStringSubmatch(out)
			if !ok || m == nil || m[2] != strconv.Itoa(secrets) || m[4] != "0" {
				t.Fatalf("crossplane beta validate did not accept every example (want no failures, no missing schemas but core Secrets):\n%s", out)
			}
			t.Logf("%s", m[0])
		})
	}
}
