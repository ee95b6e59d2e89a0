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
// is gone. The same container sets a user of its own (securityContext),
// the tenant's credentials from a Secret (envFrom) and a variable that
// refers to one of them (env, $(VAR)): the provider runs as that user with
// those variables besides the ones Crossplane injects, and an EventStream
// of a ClusterProviderConfig with credentials.source Environment (the
// provider's own credentials) becomes Ready in the tenant. Without the
// runtime config, the provider runs as user 2000 again.
//
// It does not run in parallel: it restarts the provider every other test
// uses.
func TestRuntimeConfigArgs(t *testing.T) {
	const (
		drc     = "e2e-provider-poll"
		ic      = "e2e-provider-runtime"
		want    = "--poll=37s"
		envSec  = "e2e-provider-env"
		user    = 2001
		envPC   = "e2e-environment"
		greeted = "E2E_GREETING=tenant "
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
	mustKubectl(t, fmt.Appendf(nil, `apiVersion: v1
kind: Secret
metadata: {name: %[5]s, namespace: crossplane-system}
stringData:
  AUTH0_DOMAIN: %[6]q
  AUTH0_CLIENT_ID: %[7]q
  AUTH0_CLIENT_SECRET: %[8]q
---
apiVersion: pkg.crossplane.io/v1beta1
kind: DeploymentRuntimeConfig
metadata:
  name: %[1]s
spec:
  # Keeps the account the platform grants the provider more to.
  serviceAccountTemplate:
    metadata: {name: %[10]s}
  deploymentTemplate:
    spec:
      selector: {}
      template:
        spec:
          containers:
          - name: package-runtime
            args: [%[3]s]
            securityContext: {runAsUser: %[9]d, runAsGroup: %[9]d}
            envFrom:
            - secretRef: {name: %[5]s}
            env:
            - name: E2E_GREETING
              value: tenant $(AUTH0_DOMAIN)
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
`, drc, ic, want, prefix, envSec, state.Sim.Domain, state.Sim.ClientID, state.Sim.ClientSecret, user, controlplane.ProviderServiceAccount), "apply", "-f", "-")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), runtimeWithin)
		defer cancel()
		_, _ = kubectl(ctx, nil, "delete", "imageconfig.pkg.crossplane.io", ic, "--ignore-not-found")
		_, _ = kubectl(ctx, nil, "delete", "deploymentruntimeconfig.pkg.crossplane.io", drc, "--ignore-not-found")
		_, _ = kubectl(ctx, nil, "delete", "secret", envSec, "-n", "crossplane-system", "--ignore-not-found")
		_, _ = kubectl(ctx, nil, "delete", "clusterproviderconfig.auth0.m.openmcf.org", envPC, "--ignore-not-found")
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

	pid, _ := runtimeProcess(t, s, "Provider")
	uid, env, _ := processIdentity(t, pid)
	if uid != user {
		t.Errorf("the provider runs as uid %d, want the runtime config's %d", uid, user)
	}
	for _, v := range []string{greeted + state.Sim.Domain, "AUTH0_DOMAIN=" + state.Sim.Domain, "AUTH0_CLIENT_ID=" + state.Sim.ClientID, "AUTH0_CLIENT_SECRET=" + state.Sim.ClientSecret, "POD_NAMESPACE=crossplane-system"} {
		if !slices.Contains(env, v) {
			k, _, _ := strings.Cut(v, "=")
			t.Errorf("the provider's environment has no %s as the runtime config (or Crossplane) sets it; it has %q", k, names(env))
		}
	}

	// The provider's own credentials, from its environment.
	mustKubectl(t, fmt.Appendf(nil, `apiVersion: auth0.m.openmcf.org/v1alpha1
kind: ClusterProviderConfig
metadata: {name: %s}
spec:
  credentials: {source: Environment}
`, envPC), "apply", "-f", "-")
	ns := namespace(t, "environment")
	mustKubectl(t, mr(ns, "from-env", eventBridgeDest("us-east-1"), "\n  providerConfigRef: {kind: ClusterProviderConfig, name: "+envPC+"}"), "apply", "-f", "-")
	ready := waitMR(t, ns, "from-env", "Ready with the provider's Environment credentials", mrReady)
	id := ready.GetAnnotations()[annExternal]
	if got := mustSimStream(t, id); got.Name != "from-env" {
		t.Errorf("the tenant holds stream %s as %q, want from-env", id, got.Name)
	}
	deleteMR(t, ns, "from-env")
	simGone(t, id)
	mustKubectl(t, nil, "delete", "clusterproviderconfig.auth0.m.openmcf.org", envPC)

	mustKubectl(t, nil, "delete", "imageconfig.pkg.crossplane.io", ic)
	waitProviderArgs(t, func(args []string) error {
		if !slices.Contains(args, "--poll=10s") || slices.Contains(args, want) {
			return fmt.Errorf("the provider runs with %q, want the control plane's --poll=10s again", args)
		}
		return nil
	})
	pid, _ = runtimeProcess(t, reload(t), "Provider")
	if uid, env, _ := processIdentity(t, pid); uid != controlplane.DefaultPodUser || slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "AUTH0_") }) {
		t.Errorf("without the runtime config the provider runs as uid %d with %q, want %d and no AUTH0_ variables", uid, names(env), controlplane.DefaultPodUser)
	}
	mustKubectl(t, nil, "delete", "deploymentruntimeconfig.pkg.crossplane.io", drc)
	mustKubectl(t, nil, "delete", "secret", envSec, "-n", "crossplane-system")
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
