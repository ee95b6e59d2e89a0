package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// The pinned copy of provider-aws-cloudwatchevents' namespaced Bus CRD
// (its README says from where).
const providerAWSEventsCRDs = "testdata/crds/provider-aws-cloudwatchevents"

// eventBusRenderCases renders example/eventbus/xr.yaml with the event bus's
// Composition: before Auth0 named the partner event source (no Bus), once
// it did (the Bus), and with the Bus ready (its ARN, the composite Ready).
// The base Composition's refusal is TestEventBus's: crossplane render
// refuses the example's composition selector before the function runs.
func eventBusRenderCases() []renderCase {
	const (
		xr   = "example/eventbus/xr.yaml"
		comp = "package/configuration-eventbridge/composition.yaml"
	)
	return []renderCase{
		{name: "xr", xr: xr, composition: comp, xrd: xrdNamespaced},
		{name: "xr.named", xr: xr, composition: comp, xrd: xrdNamespaced, observed: "example/eventbus/observed/named.yaml"},
		{name: "xr.ready", xr: xr, composition: comp, xrd: xrdNamespaced, observed: "example/eventbus/observed/ready.yaml"},
	}
}

// TestRenderEventBus runs the real crossplane render over the event bus
// example and compares the output with testdata/render/eventbus. go test
// -run TestRenderEventBus -update rewrites them.
func TestRenderEventBus(t *testing.T) {
	cli := crossplaneCLI(t)
	addr := startFunction(t)

	for _, c := range eventBusRenderCases() {
		t.Run(c.name, func(t *testing.T) {
			got := render(t, cli, addr, c)
			checkGolden(t, filepath.Join("testdata", "render", "eventbus", c.name+".yaml"), got, "TestRenderEventBus", c.xr+" with "+c.composition)
			buses := strings.Count(string(got), "\nkind: Bus\n")
			if want := map[string]int{"xr": 0, "xr.named": 1, "xr.ready": 1}[c.name]; !c.refused && buses != want {
				t.Errorf("rendered %d Buses, want %d", buses, want)
			}
		})
	}
}

// TestBetaValidateEventBusRenderOutput validates what crossplane render
// printed for the event bus: the XR against its XRD, the EventStream
// against our CRD and each composed Bus
// against provider-aws-cloudwatchevents' CRD.
func TestBetaValidateEventBusRenderOutput(t *testing.T) {
	cli := crossplaneCLI(t)
	cache := validateCache(t)

	golden, _ := goldenByFlavour(filepath.Join("testdata", "render", "eventbus"), eventBusRenderCases())
	out := mustAccept(t, cli, cache, []string{xrdNamespaced, providerAWSEventsCRDs, "package/provider/crds"}, golden, kindRenderResult)
	if n := strings.Count(out, "[✓] cloudwatchevents.aws.m.upbound.io/v1beta1, Kind=Bus, "); n != 2 {
		t.Fatalf("crossplane beta validate validated %d Buses, want 2:\n%s", n, out)
	}
}

// TestBetaValidateEventBusExamples validates the event bus's Compositions
// and examples offline against the XRDs, the function's input and the Bus
// CRD.
func TestBetaValidateEventBusExamples(t *testing.T) {
	cli := crossplaneCLI(t)
	cache := validateCache(t)

	for name, tc := range map[string]struct {
		extensions []string
		resources  []string
	}{
		"Namespaced": {
			extensions: []string{xrdNamespaced, providerAWSEventsCRDs, "package/function/input", "package/provider/crds"},
			resources:  []string{"example/eventbus/xr.yaml", "example/eventbus/observed", "package/configuration-eventbridge/composition.yaml"},
		},
		"Legacy": {
			extensions: []string{xrdLegacy, "package/function/input"},
			resources:  []string{"example/eventbus/claim.yaml", "package/configuration-legacy-eventbridge/composition.yaml"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			mustAccept(t, cli, cache, tc.extensions, tc.resources)
		})
	}
}

// TestOnlyEventBridgeCompositionsComposeBuses checks that composeEventBus
// is set only in the Compositions of the EventBridge Configurations, and
// that those depend on the provider serving the Bus: every other
// Composition, shipped or example, must never emit a kind whose CRD may
// not be installed.
func TestOnlyEventBridgeCompositionsComposeBuses(t *testing.T) {
	var files []string
	for _, pattern := range []string{"package/*/composition*.yaml", "example/composition*.yaml", "example/*/composition*.yaml"} {
		f, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f...)
	}
	buses := 0
	for _, f := range files {
		var c struct {
			Spec struct {
				Pipeline []struct {
					Input struct {
						ComposeEventBus bool `json:"composeEventBus"`
					} `json:"input"`
				} `json:"pipeline"`
			} `json:"spec"`
		}
		readYAML(t, f, &c)
		dir := filepath.Dir(f)
		want := strings.HasPrefix(dir, "package/") && strings.HasSuffix(dir, "-eventbridge")
		for _, s := range c.Spec.Pipeline {
			if s.Input.ComposeEventBus != want {
				t.Errorf("%s: composeEventBus %t, want %t (only the EventBridge Configurations' Compositions compose Buses)", f, s.Input.ComposeEventBus, want)
			}
		}
		if !want {
			continue
		}
		buses++
		var meta configurationMeta
		readYAML(t, filepath.Join(dir, "crossplane.yaml"), &meta)
		found := false
		for _, d := range meta.Spec.DependsOn {
			found = found || (d.Package == providerAWSEventsPackage && d.Version == providerAWSEventsVersion)
		}
		if !found {
			t.Errorf("%s/crossplane.yaml does not depend on %s %s", dir, providerAWSEventsPackage, providerAWSEventsVersion)
		}
	}
	if buses != 2 {
		t.Errorf("%d Compositions compose Buses, want 2 (one per API flavour)", buses)
	}
}
