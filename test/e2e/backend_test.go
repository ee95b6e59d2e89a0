//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/xp-auth0/auth0-eventstream/test/e2e/controlplane"
)

// backend is the Composition an Auth0EventStream selects and what it
// composes: the native tests and the TestTerraform ones run the same
// bodies with one or the other (docs/terraform.md).
type backend struct {
	name string
	// label selects the Composition (auth0.openmcf.org/backend); empty
	// leaves the XRD's default, the native one.
	label string
	// composedKind is the managed resource composed for the stream.
	composedKind string
	// trimsSecrets is whether the backend sends a Secret's value trimmed
	// of surrounding whitespace (the terraform module does; the native
	// provider's trimming is issue 21's provider side).
	trimsSecrets bool
}

var (
	nativeBackend    = backend{name: "native", composedKind: "EventStream"}
	terraformBackend = backend{name: "terraform", label: "terraform", composedKind: "Workspace", trimsSecrets: true}
)

const backendLabel = "auth0.openmcf.org/backend"

// provider-terraform's resources (namespaced flavour of v1.0.1), and the
// kubernetes state backend's locks.
var (
	workspaceGVR   = controlplane.WorkspaceGVR
	tfClusterPCGVR = schema.GroupVersionResource{Group: "tf.m.upbound.io", Version: "v1beta1", Resource: "clusterproviderconfigs"}
	leaseGVR       = schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}
)

// tfProviderConfig is the ClusterProviderConfig the terraform Composition
// names (package/configuration-terraform/composition.yaml).
const tfProviderConfig = "auth0"

// terraformInstalled reports whether the control plane runs
// provider-terraform (it was started with --terraform).
func terraformInstalled() bool { return state.Terraform }

// requireTerraform fails a terraform test on a plane without
// provider-terraform: make e2e runs them only where it started it.
func requireTerraform(t *testing.T) {
	t.Helper()
	if !terraformInstalled() {
		t.Fatalf("the control plane in %s runs no provider-terraform: start it with up --product --terraform (make e2e does on the namespaced flavour)", state.Dir)
	}
	if _, err := dyn.Resource(tfClusterPCGVR).Get(t.Context(), tfProviderConfig, metav1.GetOptions{}); err != nil {
		t.Fatalf("provider-terraform's ClusterProviderConfig %s: %v", tfProviderConfig, err)
	}
}

// xr returns the manifest with every Auth0EventStream selecting b's
// Composition; other objects are kept as they are.
func (b backend) xr(t *testing.T, manifest []byte) []byte {
	t.Helper()
	if b.label == "" {
		return manifest
	}
	var out bytes.Buffer
	for d := range bytes.SplitSeq(manifest, []byte("\n---")) {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(d, &u.Object); err != nil {
			t.Fatalf("parse manifest: %v", err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.GetKind() == "Auth0EventStream" {
			path := []string{"spec", "crossplane", "compositionSelector", "matchLabels"}
			if legacy() {
				path = []string{"spec", "compositionSelector", "matchLabels"}
			}
			if err := unstructured.SetNestedStringMap(u.Object, map[string]string{backendLabel: b.label}, path...); err != nil {
				t.Fatal(err)
			}
		}
		out.Write(encode(t, u))
	}
	return out.Bytes()
}

// apply applies the manifest with its streams on b.
func (b backend) apply(t *testing.T, manifest []byte) {
	t.Helper()
	mustKubectl(t, b.xr(t, manifest), "apply", "-f", "-")
}

// ns is the test namespace's name for this backend.
func (b backend) ns(name string) string {
	if b.label == "" {
		return name
	}
	return "tf-" + name
}

// converge bounds how long a change Crossplane does not see (a referenced
// Secret's new value, an edit in Auth0) takes to reach Auth0: the native
// provider watches Secrets and polls every minute; provider-terraform
// plans again only at its poll.
func (b backend) converge() time.Duration {
	if b.label == "" {
		return convergeWithin
	}
	return tfPoll() + tfPoll()/10 + convergeWithin
}

// tfPoll is provider-terraform's --poll (flag or PROVIDER_TERRAFORM_POLL),
// or its default.
var tfPoll = sync.OnceValue(func() time.Duration {
	const dflt = 10 * time.Minute
	for _, p := range state.Processes {
		if !strings.Contains(p.Name, "terraform") {
			continue
		}
		var vals []string
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.PID)); err == nil {
			for e := range strings.SplitSeq(string(b), "\x00") {
				if v, ok := strings.CutPrefix(e, "PROVIDER_TERRAFORM_POLL="); ok {
					vals = append(vals, v)
				}
			}
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.PID)); err == nil {
			args := strings.Split(string(b), "\x00")
			for i, a := range args {
				if v, ok := strings.CutPrefix(a, "--poll="); ok {
					vals = append(vals, v)
				} else if a == "--poll" && i+1 < len(args) {
					vals = append(vals, args[i+1])
				}
			}
		}
		// The flag wins over the environment: it comes last.
		for _, v := range slices.Backward(vals) {
			if d, err := time.ParseDuration(v); err == nil {
				return d
			}
		}
	}
	return dflt
})

// ownedWorkspaces lists the Workspaces composed for the XR or claim.
func ownedWorkspaces(ctx context.Context, ns, name, xrName string) ([]unstructured.Unstructured, error) {
	l, err := dyn.Resource(workspaceGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []unstructured.Unstructured
	for _, w := range l.Items {
		if owned(&w, name, xrName) {
			out = append(out, w)
		}
	}
	return out, nil
}

// tfWorkspace is the Terraform workspace the function named for the
// Workspace (its external name), empty when it named none.
func tfWorkspace(w *unstructured.Unstructured) string {
	return w.GetAnnotations()["crossplane.io/external-name"]
}

// stateObjects lists, in every namespace, the Terraform state Secrets
// (tfstate-<workspace>-<secret_suffix>) and their lock Leases
// (lock-tfstate-<workspace>-<secret_suffix>) of the Terraform workspace.
func stateObjects(ctx context.Context, workspace string) ([]string, error) {
	var out []string
	for _, r := range []struct {
		gvr    schema.GroupVersionResource
		prefix string
	}{{secretGVR, "tfstate-"}, {leaseGVR, "lock-tfstate-"}} {
		l, err := dyn.Resource(r.gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		for _, o := range l.Items {
			if strings.HasPrefix(o.GetName(), r.prefix+workspace+"-") {
				out = append(out, fmt.Sprintf("%s %s/%s", r.gvr.Resource, o.GetNamespace(), o.GetName()))
			}
		}
	}
	return out, nil
}

// terraformWorkspaces returns the Terraform workspaces of the XR's
// Workspaces, on a plane with provider-terraform.
func terraformWorkspaces(t *testing.T, ns, name, xrName string) []string {
	t.Helper()
	if !terraformInstalled() {
		return nil
	}
	ws, err := ownedWorkspaces(t.Context(), ns, name, xrName)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := range ws {
		if s := tfWorkspace(&ws[i]); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// terraformLeftovers reports a Workspace of the XR, or a state Secret or
// lock of one of its Terraform workspaces, that is still there.
func terraformLeftovers(ctx context.Context, ns, name, xrName string, workspaces []string) error {
	if !terraformInstalled() {
		return nil
	}
	ws, err := ownedWorkspaces(ctx, ns, name, xrName)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if len(ws) > 0 {
		return fmt.Errorf("Workspace %s still exists", ws[0].GetName())
	}
	for _, w := range workspaces {
		left, err := stateObjects(ctx, w)
		if err != nil {
			return err
		}
		if len(left) > 0 {
			return fmt.Errorf("Terraform state left: %s", strings.Join(left, ", "))
		}
	}
	return nil
}
