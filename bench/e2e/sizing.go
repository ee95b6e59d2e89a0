package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/xp-auth0/auth0-eventstream/test/e2e/controlplane"
)

// The provider is sized as a user sizes a provider Crossplane installed as
// a dependency of a Configuration (docs/performance.md, "Sizing"): its
// flags go in a DeploymentRuntimeConfig, which an ImageConfig selects for
// the provider's image with spec.runtime.configRef. The control plane
// plays Crossplane's package runtime and restarts the provider with them.
const (
	sizedRuntimeConfig = "provider-auth0-eventstream-sized"
	sizedImageConfig   = "provider-auth0-eventstream-sized"
	fieldManager       = "bench-e2e"
)

// sizeProvider applies --provider-args that way and waits until the
// provider runs with them. The returned func deletes both objects and
// puts the control plane's own flags back (make bench-e2e brings its plane
// down anyway; a plane of a user's is left as found).
func (r *run) sizeProvider(ctx context.Context) (func(), error) {
	args := strings.Fields(r.cfg.providerArgs)
	drc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": controlplane.DeploymentRuntimeConfigGVR.GroupVersion().String(),
		"kind":       "DeploymentRuntimeConfig",
		"metadata":   map[string]any{"name": sizedRuntimeConfig},
		"spec": map[string]any{"deploymentTemplate": map[string]any{"spec": map[string]any{
			"selector": map[string]any{},
			"template": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": controlplane.RuntimeContainer, "args": toAny(args)},
			}}},
		}}},
	}}
	// Crossplane matches spec.runtime against the image it resolved, after
	// the plane's ImageConfig rewrote our public package name to the local
	// registry.
	prefix := r.st.Registry.Repository() + "/provider-auth0-eventstream"
	ic := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": controlplane.ImageConfigGVR.GroupVersion().String(),
		"kind":       "ImageConfig",
		"metadata":   map[string]any{"name": sizedImageConfig},
		"spec": map[string]any{
			"matchImages": []any{map[string]any{"type": "Prefix", "prefix": prefix}},
			"runtime":     map[string]any{"configRef": map[string]any{"name": sizedRuntimeConfig}},
		},
	}}
	for _, o := range []struct {
		gvr schema.GroupVersionResource
		u   *unstructured.Unstructured
	}{{controlplane.DeploymentRuntimeConfigGVR, drc}, {controlplane.ImageConfigGVR, ic}} {
		if _, err := r.dyn.Resource(o.gvr).Apply(ctx, o.u.GetName(), o.u, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
			return nil, fmt.Errorf("apply %s %s: %w", o.u.GetKind(), o.u.GetName(), err)
		}
	}
	restore := func() {
		// Runs after the measurement, whose context may be done by then.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
		defer cancel()
		_ = r.dyn.Resource(controlplane.ImageConfigGVR).Delete(ctx, sizedImageConfig, metav1.DeleteOptions{})
		_ = r.dyn.Resource(controlplane.DeploymentRuntimeConfigGVR).Delete(ctx, sizedRuntimeConfig, metav1.DeleteOptions{})
		// Quietly: the summary line stays the last line of the output.
		if _, err := controlplane.SyncRuntime(ctx, r.st.Dir, io.Discard); err != nil {
			fmt.Fprintf(os.Stderr, "%s: put the control plane's provider flags back: %v\n", r.cfg.label, err)
		}
	}
	r.logf("sizing the provider: DeploymentRuntimeConfig %s with args %q, selected by ImageConfig %s (prefix %s)", sizedRuntimeConfig, args, sizedImageConfig, prefix)
	if err := r.waitProviderArgs(ctx, args); err != nil {
		restore()
		return nil, err
	}
	return restore, nil
}

// waitProviderArgs plays the package runtime until the control plane runs
// the provider with args (it restarts the process when they change), then
// reloads the plane's processes.
func (r *run) waitProviderArgs(ctx context.Context, args []string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var last string
	for {
		if _, err := controlplane.SyncRuntime(ctx, r.st.Dir, os.Stdout); err != nil {
			return fmt.Errorf("size the provider: %w", err)
		}
		st, err := controlplane.Load(r.st.Dir)
		if err != nil {
			return err
		}
		procs := processes(st)
		if p, ok := procs["provider"]; ok {
			got := cmdline(p.PID)
			if containsInOrder(got, args) {
				r.st, r.procs = st, procs
				return nil
			}
			last = fmt.Sprintf("pid %d runs with %q", p.PID, got)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the provider does not run with %q (%s): %w", args, last, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// containsInOrder reports whether sub appears in args as one run.
func containsInOrder(args, sub []string) bool {
	for i := range args {
		if i+len(sub) <= len(args) && slices.Equal(args[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
