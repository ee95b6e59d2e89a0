package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const (
	crossplaneModule = "github.com/crossplane/crossplane/v2@v2.2.1"
	crossplaneImage  = "xpkg.crossplane.io/crossplane/crossplane:v2.2.1"
)

// validateCache prepares the cache crossplane beta validate reads Crossplane's
// own CRDs from, so that it never downloads them: the CRDs of the crossplane
// v2.2.1 module, concatenated, where the CLI looks for the crossplane image.
func validateCache(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", crossplaneModule).Output()
	if err != nil {
		t.Fatalf("go mod download %s: %v", crossplaneModule, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download %s: no module directory: %v", crossplaneModule, err)
	}
	files, err := filepath.Glob(filepath.Join(mod.Dir, "cluster", "crds", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in %s/cluster/crds: %v", mod.Dir, err)
	}
	var pkg bytes.Buffer
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pkg.WriteString("---\n")
		pkg.Write(b)
	}
	cache := t.TempDir()
	dir := filepath.Join(cache, "xpkg.crossplane.io", "crossplane", "crossplane@v2.2.1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "package.yaml"), pkg.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return cache
}

// betaValidate runs crossplane beta validate; it returns the output and
// whether the CLI reported success.
func betaValidate(t *testing.T, cli, cache string, extensions, resources []string) (string, bool) {
	t.Helper()
	cmd := exec.Command(cli, "beta", "validate", strings.Join(extensions, ","), strings.Join(resources, ","),
		"--cache-dir="+cache, "--crossplane-image="+crossplaneImage)
	out, err := cmd.CombinedOutput()
	// A failed validation exits non-zero; anything else is the test's fault.
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("crossplane beta validate: %v", err)
	}
	return string(out), err == nil
}

var reValidateSummary = regexp.MustCompile(`Total (\d+) resources: (\d+) missing schemas, (\d+) success cases, (\d+) failure cases`)

// Kinds crossplane beta validate finds no schema for, as it names them.
const (
	kindSecret       = "/v1, Kind=Secret"
	kindRenderResult = "render.crossplane.io/v1beta1, Kind=Result"
)

// mustAccept validates resources against extensions and fails the test
// unless every resource passes and the only ones without a schema are of
// the kinds unschemed names (Kubernetes' own, render's Results). It returns
// beta validate's output, for callers that count what it validated.
func mustAccept(t *testing.T, cli, cache string, extensions, resources []string, unschemed ...string) string {
	t.Helper()
	out, ok := betaValidate(t, cli, cache, extensions, resources)
	missing := 0
	for _, k := range unschemed {
		missing += strings.Count(out, "[!] could not find CRD/XRD for: "+k+"\n")
	}
	m := reValidateSummary.FindStringSubmatch(out)
	if !ok || m == nil || m[2] != strconv.Itoa(missing) || m[4] != "0" {
		t.Fatalf("crossplane beta validate did not accept every resource (want no failures, no missing schemas but %v):\n%s", unschemed, out)
	}
	t.Logf("%s", m[0])
	return out
}

// TestBetaValidateExamples validates every example offline against the XRDs,
// the EventStream CRD and Crossplane's own CRDs (for the XRDs themselves, the
// Compositions, the Function and example/runtime's DeploymentRuntimeConfig
// and ImageConfig).
func TestBetaValidateExamples(t *testing.T) {
	cli := crossplaneCLI(t)
	cache := validateCache(t)

	cases := map[string]struct {
		extensions []string
		resources  []string
	}{
		"Namespaced": {
			extensions: []string{xrdNamespaced, "package/provider/crds", "package/function/input"},
			resources: []string{
				"example/seed", "example/webhook-bearer.yaml", "example/webhook-basic.yaml", "example/webhook-custom-header.yaml",
				"example/eventbridge.yaml", "example/action.yaml", "example/import", "example/composition.yaml", "example/functions.yaml", "example/observed", "example/runtime",
				"package/configuration/composition.yaml", xrdNamespaced,
			},
		},
		"Legacy": {
			extensions: []string{xrdLegacy, "package/function/input"},
			resources:  []string{"example/legacy", "package/configuration-legacy/composition.yaml", xrdLegacy},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			// Core Secrets (the observed fixtures' composed Secrets) are the
			// only resources without a schema here.
			mustAccept(t, cli, cache, tc.extensions, tc.resources, kindSecret)
		})
	}
}

// TestBetaValidateRejectsInvalid checks that crossplane beta validate refuses
// every manifest in testdata/invalid, offline, with a message that names its
// field, for both flavours of the API.
func TestBetaValidateRejectsInvalid(t *testing.T) {
	cli := crossplaneCLI(t)
	cache := validateCache(t)
	invalid := invalidManifests(t)

	for name, xrd := range map[string]string{"Namespaced": xrdNamespaced, "LegacyClaim": xrdLegacy} {
		t.Run(name, func(t *testing.T) {
			out, ok := betaValidate(t, cli, cache, []string{xrd}, []string{filepath.Join("testdata", "invalid")})
			if ok {
				t.Errorf("crossplane beta validate accepted invalid manifests:\n%s", out)
			}
			// Lines read: [x] <kind of error> <GVK>, <name> : <message>
			byName := map[string][]string{}
			for l := range strings.SplitSeq(out, "\n") {
				if !strings.HasPrefix(l, "[x] ") {
					continue
				}
				_, rest, _ := strings.Cut(l, ", Kind=Auth0EventStream, ")
				n, msg, _ := strings.Cut(rest, " : ")
				byName[n] = append(byName[n], msg)
			}
			for _, m := range invalid {
				msgs := byName[m.Name]
				switch {
				case len(msgs) == 0:
					t.Errorf("%s: not refused (rule on %s)", m.File, m.Field)
				case !namesField(strings.Join(msgs, "\n"), m.Field):
					t.Errorf("%s: refusal does not name %s:\n%s", m.File, m.Field, strings.Join(msgs, "\n"))
				}
			}
		})
	}
}

// TestBetaValidateRenderOutput validates what crossplane render printed (the
// golden files): each XR, status.outputs included, against its XRD, and each
// composed EventStream against the provider's CRD, so the function never
// composes what the provider's API server would refuse.
func TestBetaValidateRenderOutput(t *testing.T) {
	cli := crossplaneCLI(t)
	cache := validateCache(t)

	namespaced, legacy := goldenByFlavour(filepath.Join("testdata", "render"), renderCases())
	for name, tc := range map[string]struct {
		xrd    string
		golden []string
	}{"Namespaced": {xrdNamespaced, namespaced}, "Legacy": {xrdLegacy, legacy}} {
		t.Run(name, func(t *testing.T) {
			// Core Secrets and render's Result objects have no schema.
			mustAccept(t, cli, cache, []string{tc.xrd, "package/provider/crds"}, tc.golden, kindSecret, kindRenderResult)
		})
	}
}
