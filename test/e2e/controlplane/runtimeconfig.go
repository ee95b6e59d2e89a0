package controlplane

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/crossplane/crossplane/apis/v2/pkg/v1beta1"
)

// A user sets the flags of a provider or function the way Crossplane's
// Deployment runtime takes them: the args of the container named
// package-runtime in a DeploymentRuntimeConfig, referenced by an
// ImageConfig's spec.runtime.configRef (for packages Crossplane installs
// as dependencies) or by the package's spec.runtimeConfigRef. The control
// plane resolves that reference exactly as Crossplane v2.2.1 does
// (internal/controller/pkg/runtime builderOptions and
// internal/xpkg ImageConfigStore.RuntimeConfigFor), lays the args over its
// own flags for the process, and takes from the Deployment template what
// a local process can honour the way a pod would: the user
// (securityContext, Crossplane's default 2000:2000 where it sets none),
// the environment (env, envFrom, pod.go) and the ServiceAccount's name.
// Volumes, resources, replicas and the rest mean nothing to a process and
// are not applied.

// Package configuration kinds a user applies.
var (
	ImageConfigGVR             = schema.GroupVersionResource{Group: pkgGroup, Version: "v1beta1", Resource: "imageconfigs"}
	DeploymentRuntimeConfigGVR = schema.GroupVersionResource{Group: "pkg.crossplane.io", Version: "v1beta1", Resource: "deploymentruntimeconfigs"}
)

const (
	// RuntimeContainer is the container of a DeploymentRuntimeConfig whose
	// args Crossplane gives the package's process.
	RuntimeContainer = "package-runtime"
	// defaultRuntimeConfig is the name Crossplane defaults a package's
	// spec.runtimeConfigRef to, and the DeploymentRuntimeConfig it creates
	// at start (with no args).
	defaultRuntimeConfig = "default"
)

// runtimeConfig is what a revision's DeploymentRuntimeConfig asks of its
// process.
type runtimeConfig struct {
	// Name is the DeploymentRuntimeConfig's, and ImageConfig the
	// ImageConfig that selected it (empty when the revision's own
	// spec.runtimeConfigRef did).
	Name, ImageConfig string
	// Args are the package-runtime container's args.
	Args []string
	// Spec is the DeploymentRuntimeConfig's spec, for the pod's user,
	// environment and ServiceAccount (pod.go).
	Spec v1beta1.DeploymentRuntimeConfigSpec
}

func (c runtimeConfig) String() string {
	via := "spec.runtimeConfigRef"
	if c.ImageConfig != "" {
		via = "ImageConfig " + c.ImageConfig
	}
	return fmt.Sprintf("DeploymentRuntimeConfig %s (via %s)", c.Name, via)
}

// resolveRuntimeConfig finds the DeploymentRuntimeConfig of a revision and
// reads its package-runtime args.
func (p *plane) resolveRuntimeConfig(ctx context.Context, rev *unstructured.Unstructured) (runtimeConfig, error) {
	ics, err := p.dyn.Resource(ImageConfigGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return runtimeConfig{}, fmt.Errorf("list ImageConfigs: %w", err)
	}
	rc, err := runtimeConfigRef(rev, ics.Items)
	if err != nil {
		return runtimeConfig{}, err
	}
	// Like Crossplane, a missing DeploymentRuntimeConfig (even "default",
	// which Crossplane creates at start) is an error, not an empty one.
	drc, err := p.dyn.Resource(DeploymentRuntimeConfigGVR).Get(ctx, rc.Name, metav1.GetOptions{})
	if err != nil {
		return runtimeConfig{}, fmt.Errorf("revision %s: get %s: %w", rev.GetName(), rc, err)
	}
	if rc.Args, err = containerArgs(drc); err != nil {
		return runtimeConfig{}, fmt.Errorf("revision %s: %s: %w", rev.GetName(), rc, err)
	}
	if spec, ok := drc.Object["spec"].(map[string]any); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(spec, &rc.Spec); err != nil {
			return runtimeConfig{}, fmt.Errorf("revision %s: %s: spec: %w", rev.GetName(), rc, err)
		}
	}
	return rc, nil
}

// runtimeConfigRef picks the DeploymentRuntimeConfig of a revision as
// Crossplane does: among the ImageConfigs that set spec.runtime, the one
// with the longest spec.matchImages prefix of the revision's resolved image
// (status.resolvedImage, after any rewrite; the first listed wins a tie),
// if it sets runtime.configRef; otherwise the revision's
// spec.runtimeConfigRef, whose name defaults to "default".
func runtimeConfigRef(rev *unstructured.Unstructured, imageConfigs []unstructured.Unstructured) (runtimeConfig, error) {
	image, _, _ := unstructured.NestedString(rev.Object, "status", "resolvedImage")
	var (
		best    *unstructured.Unstructured
		longest int
	)
	for i := range imageConfigs {
		ic := &imageConfigs[i]
		if _, ok, _ := unstructured.NestedMap(ic.Object, "spec", "runtime"); !ok {
			continue
		}
		matches, _, _ := unstructured.NestedSlice(ic.Object, "spec", "matchImages")
		for _, m := range matches {
			mm, _ := m.(map[string]any)
			prefix, _ := mm["prefix"].(string)
			if strings.HasPrefix(image, prefix) && len(prefix) > longest {
				best, longest = ic, len(prefix)
			}
		}
	}
	if best != nil {
		if ref, ok, _ := unstructured.NestedMap(best.Object, "spec", "runtime", "configRef"); ok {
			rc := runtimeConfig{ImageConfig: best.GetName()}
			if err := checkRef(ref, &rc.Name); err != nil {
				return runtimeConfig{}, fmt.Errorf("ImageConfig %s: spec.runtime.configRef: %w", best.GetName(), err)
			}
			return rc, nil
		}
	}
	rc := runtimeConfig{Name: defaultRuntimeConfig}
	if ref, ok, _ := unstructured.NestedMap(rev.Object, "spec", "runtimeConfigRef"); ok {
		if err := checkRef(ref, &rc.Name); err != nil {
			return runtimeConfig{}, fmt.Errorf("%s %s: spec.runtimeConfigRef: %w", rev.GetKind(), rev.GetName(), err)
		}
	}
	return rc, nil
}

// checkRef reads a runtime config reference's name; only a
// DeploymentRuntimeConfig is a runtime config Crossplane knows.
func checkRef(ref map[string]any, name *string) error {
	if k, _ := ref["kind"].(string); k != "" && k != "DeploymentRuntimeConfig" {
		return fmt.Errorf("kind %s: only DeploymentRuntimeConfig is supported", k)
	}
	if v, _ := ref["apiVersion"].(string); v != "" && v != DeploymentRuntimeConfigGVR.GroupVersion().String() {
		return fmt.Errorf("apiVersion %s: want %s", v, DeploymentRuntimeConfigGVR.GroupVersion())
	}
	n, _ := ref["name"].(string)
	if n == "" {
		return fmt.Errorf("name is empty")
	}
	*name = n
	return nil
}

// containerArgs reads the args of the package-runtime container of a
// DeploymentRuntimeConfig (none when it has no such container).
func containerArgs(drc *unstructured.Unstructured) ([]string, error) {
	cs, _, _ := unstructured.NestedSlice(drc.Object, "spec", "deploymentTemplate", "spec", "template", "spec", "containers")
	for i, c := range cs {
		m, _ := c.(map[string]any)
		if m["name"] != RuntimeContainer {
			continue
		}
		args, _, err := unstructured.NestedStringSlice(m, "args")
		if err != nil {
			return nil, fmt.Errorf("spec.deploymentTemplate.spec.template.spec.containers[%d].args: %w", i, err)
		}
		return args, nil
	}
	return nil, nil
}

// mergeArgs lays a user's flags over the control plane's: a flag the user
// sets replaces every plane flag of the same long name; the user's flags
// follow the plane's remaining ones in their own order. Flags are
// --name=value, --name value (a token that does not start with "-" after a
// flag without "=" is its value) or --name (a boolean); names compare
// without the dashes, so -d and --debug are different names. reserved are
// the plane's flags a user may not set: they connect the process to the
// plane (kubeconfig, listen addresses, certificates).
func mergeArgs(plane, user, reserved []string) ([]string, error) {
	userFlags, err := parseFlags(user)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, f := range userFlags {
		if slices.Contains(reserved, f.name) {
			return nil, fmt.Errorf("args: --%s is set by the control plane, which connects the process with it; it cannot be overridden", f.name)
		}
		set[f.name] = true
	}
	planeFlags, err := parseFlags(plane)
	if err != nil {
		return nil, fmt.Errorf("the control plane's own args: %w", err)
	}
	var out []string
	for _, f := range planeFlags {
		if !set[f.name] {
			out = append(out, f.tokens...)
		}
	}
	for _, f := range userFlags {
		out = append(out, f.tokens...)
	}
	return out, nil
}

// flagArg is one flag on a command line, with the tokens that spell it.
type flagArg struct {
	name   string
	tokens []string
}

func parseFlags(args []string) ([]flagArg, error) {
	var out []flagArg
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := strings.TrimLeft(a, "-")
		if !strings.HasPrefix(a, "-") || name == "" {
			return nil, fmt.Errorf("args[%d] %q: not a flag (want --name=value, --name value or --name)", i, a)
		}
		f := flagArg{tokens: []string{a}}
		if n, _, ok := strings.Cut(name, "="); ok {
			name = n
		} else if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			i++
			f.tokens = append(f.tokens, args[i])
		}
		f.name = name
		out = append(out, f)
	}
	return out, nil
}
