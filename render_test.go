package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/render")

// crossplaneCLI is the crossplane CLI built from crossplane v2.2.1 cmd/crank.
func crossplaneCLI(t *testing.T) string {
	t.Helper()
	p := os.Getenv("CROSSPLANE_CLI")
	if p == "" {
		t.Fatal("CROSSPLANE_CLI is not set: run make test, or export CROSSPLANE_CLI=$(hack/build-tool.sh crank)")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("CROSSPLANE_CLI: %v", err)
	}
	return p
}

// startFunction builds this function and serves it insecurely on a free
// loopback port, the way crossplane render's Development runtime expects. It
// returns the address.
func startFunction(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "function")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--insecure", "--address="+addr, "--metrics-address=")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("function did not listen on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// renderCase is one example rendered with crossplane render.
type renderCase struct {
	name        string
	xr          string
	composition string
	xrd         string
	observed    string
	// refused is whether the function refuses the XR: crossplane render
	// then fails, and the golden file holds its error.
	refused bool
}

func renderCases() []renderCase {
	const (
		comp   = "example/composition.yaml"
		xrd    = "package/configuration/definition.yaml"
		legacy = "package/configuration-legacy/definition.yaml"
	)
	cases := []renderCase{}
	// Three of the seed's four manifests subscribe to event types outside
	// Auth0's catalog (authentication.*, api.authorization.*,
	// management.*): Auth0 refuses them, and so does the function.
	for n, refused := range map[string]bool{"quick-start": true, "eventbridge-security-events": true, "webhook-bearer-user-lifecycle": false, "webhook-basic-api-audit": true} {
		cases = append(cases, renderCase{name: "seed-" + n, xr: "example/seed/" + n + ".yaml", composition: comp, xrd: xrd, refused: refused})
	}
	for _, n := range []string{"quick-start", "webhook-bearer", "webhook-basic", "webhook-custom-header", "eventbridge", "action"} {
		cases = append(cases, renderCase{name: n, xr: "example/" + n + ".yaml", composition: comp, xrd: xrd})
	}
	// An import names a stream that must already exist, so it is not among
	// the examples the e2e tests apply as they are.
	cases = append(cases,
		renderCase{name: "import", xr: "example/import/observe-only.yaml", composition: comp, xrd: xrd},
		renderCase{name: "legacy-composite", xr: "example/legacy/composite.yaml", composition: "example/legacy/composition.yaml", xrd: legacy})

	// Every example Auth0 accepts again, as the provider reports it once
	// Auth0 has it.
	out := make([]renderCase, 0, 2*len(cases))
	for _, c := range cases {
		out = append(out, c)
		if c.refused {
			continue
		}
		o := c
		o.name += ".observed"
		o.observed = "example/observed/" + c.name + ".yaml"
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b renderCase) int { return strings.Compare(a.name, b.name) })
	return out
}

// render runs crossplane render over c, with the Secrets the examples
// reference (offered as webhook secrets) as the resources the function may
// require. It returns what render printed, or for a refused case its
// error.
func render(t *testing.T, cli, addr string, c renderCase) []byte {
	t.Helper()
	args := []string{
		"render", c.xr, c.composition, "example/functions.yaml",
		"--xrd=" + c.xrd,
		"--include-function-results",
		"--include-full-xr",
		"--required-resources=example/secrets.yaml",
		"--function-annotations=render.crossplane.io/runtime-development-target=" + addr,
		"--timeout=30s",
	}
	if c.observed != "" {
		args = append(args, "--observed-resources="+c.observed)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(cli, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	switch {
	case c.refused && err == nil:
		t.Fatalf("crossplane %s: rendered what the function should refuse:\n%s", strings.Join(args, " "), stdout.String())
	case c.refused:
		return stderr.Bytes()
	case err != nil:
		t.Fatalf("crossplane %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// TestRender runs the real crossplane render over every example, with and
// without observed resources, against this function, and compares the output
// with testdata/render. go test -run TestRender -update rewrites them.
func TestRender(t *testing.T) {
	cli := crossplaneCLI(t)
	addr := startFunction(t)

	for _, c := range renderCases() {
		t.Run(c.name, func(t *testing.T) {
			got := render(t, cli, addr, c)
			checkGolden(t, filepath.Join("testdata", "render", c.name+".yaml"), got, "TestRender", c.xr)
		})
	}
}

// TestRenderQuickStart checks what the README says of the seed's Quick
// Start, independently of the golden files: as seeded, the function refuses
// it, naming both of its subscriptions Auth0 refuses and the escape hatch;
// with event types in Auth0's catalog (example/quick-start.yaml) it composes
// the EventStream plus the Secret for the inline token, and with an
// observed EventStream an XR with all eight status.outputs.
func TestRenderQuickStart(t *testing.T) {
	cli := crossplaneCLI(t)
	addr := startFunction(t)
	byName := map[string]renderCase{}
	for _, c := range renderCases() {
		byName[c.name] = c
	}

	refusal := string(render(t, cli, addr, byName["seed-quick-start"]))
	for _, want := range []string{`spec.subscriptions[0]: Invalid value: "authentication.success"`, `spec.subscriptions[1]: Invalid value: "authentication.failure"`, "extraEventTypes"} {
		if !strings.Contains(refusal, want) {
			t.Errorf("the seed's Quick Start is not refused naming %q:\n%s", want, refusal)
		}
	}

	docs := func(out []byte) map[string]map[string]any {
		m := map[string]map[string]any{}
		for d := range strings.SplitSeq(string(out), "\n---\n") {
			o := map[string]any{}
			if err := yaml.Unmarshal([]byte(d), &o); err != nil {
				t.Fatalf("cannot parse render output: %v\n%s", err, d)
			}
			if k, ok := o["kind"].(string); ok {
				m[k] = o
			}
		}
		return m
	}

	plain := docs(render(t, cli, addr, byName["quick-start"]))
	es, ok := plain["EventStream"]
	if !ok {
		t.Fatalf("no EventStream rendered; got kinds %v", keys(plain))
	}
	ref := fmt.Sprint(es["spec"].(map[string]any)["forProvider"].(map[string]any)["destination"].(map[string]any)["webhook"].(map[string]any)["authorization"].(map[string]any)["tokenSecretRef"])
	if want := "map[key:token name:login-events-webhook-authorization]"; ref != want {
		t.Errorf("tokenSecretRef = %s, want %s", ref, want)
	}
	s, ok := plain["Secret"]
	if !ok {
		t.Fatalf("no Secret rendered for the inline token; got kinds %v", keys(plain))
	}
	if got := fmt.Sprint(s["data"]); got != "map[token:eW91ci1zZWNyZXQtdG9rZW4=]" {
		t.Errorf("Secret data = %s, want the base64 of the seed's token", got)
	}

	observed := docs(render(t, cli, addr, byName["quick-start.observed"]))
	xr, ok := observed["Auth0EventStream"]
	if !ok {
		t.Fatalf("no XR rendered; got kinds %v", keys(observed))
	}
	outputs, _ := xr["status"].(map[string]any)["outputs"].(map[string]any)
	want := []string{"awsPartnerEventSource", "createdAt", "destinationType", "id", "name", "status", "subscriptions", "updatedAt"}
	if diff := cmp.Diff(want, keys(outputs)); diff != "" {
		t.Errorf("status.outputs fields: -want, +got:\n%s", diff)
	}
	if outputs["id"] != "est_GvjBteLHIa0va68OQ8mnM6" {
		t.Errorf("status.outputs.id = %v, want the observed stream's id", outputs["id"])
	}
}

func keys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// checkGolden compares what crossplane render printed with its golden file,
// or rewrites the file under -update; test names the test that -update
// must run and what the render of what.
func checkGolden(t *testing.T, golden string, got []byte, test, what string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, test)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("crossplane render of %s: -%s, +got:\n%s", what, golden, diff)
	}
}

// goldenByFlavour splits the golden files in dir of cases by API flavour,
// leaving out refusals, which hold no resources.
func goldenByFlavour(dir string, cases []renderCase) (namespaced, legacy []string) {
	for _, c := range cases {
		if c.refused {
			continue
		}
		golden := filepath.Join(dir, c.name+".yaml")
		if strings.HasPrefix(c.name, "legacy-") {
			legacy = append(legacy, golden)
			continue
		}
		namespaced = append(namespaced, golden)
	}
	return namespaced, legacy
}
