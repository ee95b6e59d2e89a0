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

// A provider is sized as a user sizes a provider Crossplane installed as
// a dependency of a Configuration (docs/performance.md, "Sizing"): its
// flags go in a DeploymentRuntimeConfig, which an ImageConfig selects for
// the provider's image with spec.runtime.configRef. The control plane
// plays Crossplane's package runtime and restarts the provider with them.
const fieldManager = "bench-e2e"

// sizing is one provider's flags: the process the control plane records
// for it (processes) and its package repository in the plane's registry.
type sizing struct {
	proc, repo string
	args       []string
	// account is the ServiceAccount the provider's runtime config names.
	account string
}

// sizings are the flags the run applies: --provider-args to ours,
// --terraform-args to provider-terraform.
func (c config) sizings() []sizing {
	var out []sizing
	if c.providerArgs != "" {
		out = append(out, sizing{proc: procProvider, repo: "provider-auth0-eventstream", args: strings.Fields(c.providerArgs), account: controlplane.ProviderServiceAccount})
	}
	if c.terraformArgs != "" {
		out = append(out, sizing{proc: procProviderTerraform, repo: "provider-terraform", args: strings.Fields(c.terraformArgs)})
	}
	return out
}

// size applies s that way and waits until the provider runs with its
// flags. The returned func deletes both objects and puts the control
// plane's own flags back (make bench-e2e brings its plane down anyway; a
// plane of a user's is left as found).
func (r *run) size(ctx context.Context, s sizing) (func(), error) {
	name := s.repo + "-sized"
	drc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": controlplane.DeploymentRuntimeConfigGVR.GroupVersion().String(),
		"kind":       "DeploymentRuntimeConfig",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{"deploymentTemplate": map[string]any{"spec": map[string]any{
			"selector": map[string]any{},
			"template": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": controlplane.RuntimeContainer, "args": toAny(s.args)},
			}}},
		}}},
	}}
	if s.account != "" {
		// The account the platform grants the provider's extra
		// permissions to (example/rbac/provider-permissions.yaml).
		if err := unstructured.SetNestedField(drc.Object, s.account, "spec", "serviceAccountTemplate", "metadata", "name"); err != nil {
			return nil, err
		}
	}
	// Crossplane matches spec.runtime against the image it resolved, after
	// the plane's ImageConfig rewrote the public package name to the local
	// registry.
	// The tag's ":" makes the prefix longer than the platform's ImageConfig
	// for the package, so this one wins.
	prefix := r.st.Registry.Repository() + "/" + s.repo + ":"
	ic := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": controlplane.ImageConfigGVR.GroupVersion().String(),
		"kind":       "ImageConfig",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"matchImages": []any{map[string]any{"type": "Prefix", "prefix": prefix}},
			"runtime":     map[string]any{"configRef": map[string]any{"name": name}},
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
		_ = r.dyn.Resource(controlplane.ImageConfigGVR).Delete(ctx, name, metav1.DeleteOptions{})
		_ = r.dyn.Resource(controlplane.DeploymentRuntimeConfigGVR).Delete(ctx, name, metav1.DeleteOptions{})
		// Quietly: the summary line stays the last line of the output.
		if _, err := controlplane.SyncRuntime(ctx, r.st.Dir, io.Discard); err != nil {
			fmt.Fprintf(os.Stderr, "%s: put the control plane's %s flags back: %v\n", r.cfg.label, s.proc, err)
		}
	}
	r.logf("sizing %s: DeploymentRuntimeConfig %s with args %q, selected by ImageConfig %s (prefix %s)", s.proc, name, s.args, name, prefix)
	if err := r.waitArgs(ctx, s.proc, s.args); err != nil {
		restore()
		return nil, err
	}
	return restore, nil
}

// waitArgs plays the package runtime until the control plane runs process
// proc with args (it restarts the process when they change), then reloads
// the plane's processes.
func (r *run) waitArgs(ctx context.Context, proc string, args []string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var last string
	for {
		if _, err := controlplane.SyncRuntime(ctx, r.st.Dir, os.Stdout); err != nil {
			return fmt.Errorf("size %s: %w", proc, err)
		}
		st, err := controlplane.Load(r.st.Dir)
		if err != nil {
			return err
		}
		procs := processes(st)
		if p, ok := procs[proc]; ok {
			got := cmdline(p.PID)
			if containsInOrder(got, args) {
				r.st, r.procs = st, procs
				return nil
			}
			last = fmt.Sprintf("pid %d runs with %q", p.PID, got)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s does not run with %q (%s): %w", proc, args, last, ctx.Err())
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
