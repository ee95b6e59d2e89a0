//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xp-auth0/auth0-eventstream/test/e2e/controlplane"
)

// runtimeWithin bounds a restart of the provider: stop, pull, start, ready.
const runtimeWithin = 3 * time.Minute

// TestRuntimeConfigArgs sets the provider's --poll as a user would for a
// provider Crossplane installed as a dependency: a DeploymentRuntimeConfig
// whose package-runtime container carries the flag, selected by an
// ImageConfig's spec.runtime.configRef. The control plane, playing the
// package runtime, must restart the provider with the flag over its own
// --poll=10s, leave the function alone, and go back once the ImageConfig
// is gone.
//
// It does not run in parallel: it restarts the provider every other test
// uses.
func TestRuntimeConfigArgs(t *testing.T) {
	const (
		drc  = "e2e-provider-poll"
		ic   = "e2e-provider-runtime"
		want = "--poll=37s"
	)
	before := reload(t)
	fn, _ := runtimeProcess(t, before, "Function")
	_, args := runtimeProcess(t, before, "Provider")
	if !slices.Contains(args, "--poll=10s") {
		t.Fatalf("the provider runs with %q, want the control plane's --poll=10s", args)
	}

	// Crossplane matches the resolved image, after the ImageConfig that
	// points our packages at the local registry rewrote it.
	prefix := before.Registry.Repository() + "/provider-auth0-eventstream"
	mustKubectl(t, fmt.Appendf(nil, `apiVersion: pkg.crossplane.io/v1beta1
kind: DeploymentRuntimeConfig
metadata:
  name: %[1]s
spec:
  deploymentTemplate:
    spec:
      selector: {}
      template:
        spec:
          containers:
          - name: package-runtime
            args: [%[3]s]
---
apiVersion: pkg.crossplane.io/v1beta1
kind: ImageConfig
metadata:
  name: %[2]s
spec:
  matchImages:
  - type: Prefix
    prefix: %[4]s
  runtime:
    configRef:
      name: %[1]s
`, drc, ic, want, prefix), "apply", "-f", "-")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), runtimeWithin)
		defer cancel()
		_, _ = kubectl(ctx, nil, "delete", "imageconfig.pkg.crossplane.io", ic, "--ignore-not-found")
		_, _ = kubectl(ctx, nil, "delete", "deploymentruntimeconfig.pkg.crossplane.io", drc, "--ignore-not-found")
		_, _ = controlplane.SyncRuntime(ctx, state.Dir, os.Stderr)
	})

	waitProviderArgs(t, func(args []string) error {
		if !slices.Contains(args, want) || slices.Contains(args, "--poll=10s") {
			return fmt.Errorf("the provider runs with %q, want %s instead of --poll=10s", args, want)
		}
		return nil
	})
	s := reload(t)
	if got, _ := runtimeProcess(t, s, "Function"); got != fn {
		t.Errorf("the function was restarted (pid %d, was %d); only the provider's runtime config changed", got, fn)
	}
	for _, rt := range s.Runtime {
		if rt.Kind == "Provider" && ours(rt) && (!slices.Equal(rt.ConfigArgs, []string{want}) || !strings.Contains(rt.RuntimeConfig, drc) || !strings.Contains(rt.RuntimeConfig, ic)) {
			t.Errorf("the provider's runtime record: config %q args %q, want %s via %s with [%s]", rt.RuntimeConfig, rt.ConfigArgs, drc, ic, want)
		}
	}

	mustKubectl(t, nil, "delete", "imageconfig.pkg.crossplane.io", ic)
	waitProviderArgs(t, func(args []string) error {
		if !slices.Contains(args, "--poll=10s") || slices.Contains(args, want) {
			return fmt.Errorf("the provider runs with %q, want the control plane's --poll=10s again", args)
		}
		return nil
	})
	mustKubectl(t, nil, "delete", "deploymentruntimeconfig.pkg.crossplane.io", drc)
}

// waitProviderArgs plays the package runtime until the provider's process,
// as the control plane recorded it, runs with args that pass check.
func waitProviderArgs(t *testing.T, check func([]string) error) {
	t.Helper()
	eventually(t, runtimeWithin, "provider restarted", func(ctx context.Context) error {
		if _, err := controlplane.SyncRuntime(ctx, state.Dir, os.Stderr); err != nil {
			t.Fatalf("play the package runtime: %v", err)
		}
		_, args := runtimeProcess(t, reload(t), "Provider")
		return check(args)
	})
}

// runtimeProcess finds the one process the control plane runs for a
// package kind and returns its PID and its command line after the binary,
// read from /proc.
func runtimeProcess(t *testing.T, s *controlplane.State, kind string) (int, []string) {
	t.Helper()
	var pids []int
	for rev, rt := range s.Runtime {
		if rt.Kind != kind || !ours(rt) {
			continue
		}
		for _, p := range s.Processes {
			if p.Name == rev {
				pids = append(pids, p.PID)
			}
		}
	}
	if len(pids) != 1 {
		t.Fatalf("%d %s processes recorded, want one", len(pids), kind)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pids[0]))
	if err != nil {
		t.Fatalf("%s process %d: %v", kind, pids[0], err)
	}
	argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	return pids[0], argv[1:]
}
