//go:build e2e

// Package e2e drives the whole loop on a real Crossplane control plane: a
// manifest applied with kubectl, Crossplane calling our function, our
// provider creating the stream in the Auth0 simulator, and status.outputs
// filling in. make e2e starts the control plane (test/e2e/controlplane)
// before these tests and stops it after them.
//
// Most tests wait for Crossplane and the provider, so they run side by side
// (t.Parallel; make e2e passes -parallel 16), each in namespaces of its own
// and looking only at its own streams (the simulator counts calls per
// stream). A test that changes what every test shares (the plane
// simulator's faults, rate limit or counters, the installed packages, the
// provider's flags, streams counted by a name another test uses) does not
// call t.Parallel: Go runs those one at a time before the parallel ones
// start. A test that needs a tenant to misbehave gets one of its own
// (ownTenant) and runs side by side.
package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/xp-auth0/auth0-eventstream/internal/auth0sim"
	"github.com/xp-auth0/auth0-eventstream/test/e2e/controlplane"
)

var dir = flag.String("dir", "../../_output/e2e-namespaced", "Folder of the running control plane (make e2e passes it).")

// Resources the tests read.
var (
	// The namespaced XR (namespaced flavour) and the claim (legacy flavour)
	// share group, version and kind.
	streamGVR   = schema.GroupVersionResource{Group: "auth0.openmcf.org", Version: "v1", Resource: "auth0eventstreams"}
	legacyXRGVR = schema.GroupVersionResource{Group: "auth0.openmcf.org", Version: "v1", Resource: "xauth0eventstreams"}
	mrGVR       = schema.GroupVersionResource{Group: "auth0.m.openmcf.org", Version: "v1alpha1", Resource: "eventstreams"}
	secretGVR   = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
)

// Bounds on how long a step of the loop may take when nothing is wrong,
// derived from the plane's settings: Crossplane core acts on a change at
// once or at its next poll, the provider at its next poll, and either may
// retry a reconcile that failed for a reason the test did not cause (a
// conflict, a slow API server on a loaded machine) at its backoff cap,
// twice. Typical times are seconds (make demo prints them).
const (
	loopWithin     = 2*controlplane.BackoffCap + 2*(controlplane.CorePoll+controlplane.ProviderPoll)
	readyWithin    = loopWithin
	convergeWithin = loopWithin
	deleteWithin   = loopWithin
)

var (
	state *controlplane.State
	dyn   dynamic.Interface
	sim   *controlplane.SimClient
)

func TestMain(m *testing.M) {
	flag.Parse()
	s, err := controlplane.Load(*dir)
	if err == nil && (!s.Ready || !s.Alive() || s.Sim == nil) {
		err = fmt.Errorf("the control plane in %s is not running with our packages", *dir)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\ne2e: run make e2e, which starts the control plane, runs these tests and stops it\n", err)
		os.Exit(1)
	}
	state = s
	cfg, err := s.RESTConfig()
	if err == nil {
		dyn, err = dynamic.NewForConfig(cfg)
	}
	if err == nil {
		sim, err = s.SimClient()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "e2e: control plane in %s, flavour %s, KUBECONFIG=%s\n", s.Dir, s.Flavour, s.Kubeconfig)
	code := m.Run()
	if code != 0 {
		// The logs of the processes that do the work, to see why. Tests
		// that upgrade packages change which processes run: read them again.
		if now, err := controlplane.Load(s.Dir); err == nil {
			s = now
		}
		for _, p := range s.Processes {
			if p.Name == "crossplane" || strings.HasPrefix(p.Name, controlplane.FunctionName) || strings.HasPrefix(p.Name, controlplane.ProviderName) || strings.HasPrefix(p.Name, controlplane.TerraformProvider) {
				fmt.Fprintln(os.Stderr, controlplane.Tail(p.Log, 40))
			}
		}
	}
	os.Exit(code)
}

func legacy() bool { return state.Flavour == controlplane.FlavourLegacy }

// kubectl runs the real kubectl against the control plane.
func kubectl(ctx context.Context, stdin []byte, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, state.Tools["kubectl"], args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+state.Kubeconfig)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func mustKubectl(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	out, err := kubectl(t.Context(), stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// eventually polls cond until it returns nil or the bound passes, then
// fails with cond's last error.
func eventually(t *testing.T, within time.Duration, what string, cond func(ctx context.Context) error) {
	t.Helper()
	ctx := t.Context()
	deadline := time.Now().Add(within)
	for {
		err := cond(ctx)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, within, err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// namespace creates a namespace for one test and deletes it at the end.
func namespace(t *testing.T, name string) string {
	t.Helper()
	ns := "e2e-" + strings.ToLower(name)
	mustKubectl(t, nil, "create", "namespace", ns)
	t.Cleanup(func() {
		// Streams are deleted by the tests themselves; this catches leftovers
		// of a failed test so later tests start clean.
		ctx, cancel := context.WithTimeout(context.Background(), deleteWithin)
		defer cancel()
		_, _ = kubectl(ctx, nil, "delete", "auth0eventstreams", "--all", "-n", ns, "--wait=true", "--timeout=2m")
		_, _ = kubectl(ctx, nil, "delete", "namespace", ns, "--wait=false")
	})
	return ns
}

// docs splits a YAML stream into objects, setting the namespace of
// namespaced ones.
func docs(t *testing.T, b []byte, ns string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for d := range bytes.SplitSeq(b, []byte("\n---")) {
		if len(bytes.TrimSpace(d)) == 0 {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(d, &u.Object); err != nil {
			t.Fatalf("parse manifest: %v", err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.GetKind() != "Namespace" {
			u.SetNamespace(ns)
		}
		out = append(out, u)
	}
	return out
}

func encode(t *testing.T, objs ...*unstructured.Unstructured) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, o := range objs {
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.Bytes()
}

func apply(t *testing.T, objs ...*unstructured.Unstructured) {
	t.Helper()
	mustKubectl(t, encode(t, objs...), "apply", "-f", "-")
}

func getStream(ctx context.Context, ns, name string) (*unstructured.Unstructured, error) {
	return dyn.Resource(streamGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
}

func condition(u *unstructured.Unstructured, typ string) (status, reason, message string) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == typ {
			s, _ := m["status"].(string)
			r, _ := m["reason"].(string)
			msg, _ := m["message"].(string)
			return s, r, msg
		}
	}
	return "", "", ""
}

func conditionsOf(u *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var parts []string
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok {
			parts = append(parts, fmt.Sprintf("%v=%v (%v: %v)", m["type"], m["status"], m["reason"], m["message"]))
		}
	}
	return strings.Join(parts, "; ")
}

func outputs(u *unstructured.Unstructured) map[string]any {
	o, _, _ := unstructured.NestedMap(u.Object, "status", "outputs")
	return o
}

// waitReady waits for an Auth0EventStream to be Ready with a stream id in
// its outputs, and returns it.
func waitReady(t *testing.T, ns, name string) *unstructured.Unstructured {
	t.Helper()
	var got *unstructured.Unstructured
	eventually(t, readyWithin, fmt.Sprintf("Auth0EventStream %s/%s Ready", ns, name), func(ctx context.Context) error {
		u, err := getStream(ctx, ns, name)
		if err != nil {
			return err
		}
		if s, _, _ := condition(u, "Ready"); s != "True" {
			return fmt.Errorf("conditions: %s", conditionsOf(u))
		}
		if id, _ := outputs(u)["id"].(string); id == "" {
			return fmt.Errorf("ready but status.outputs.id is empty; outputs %v", outputs(u))
		}
		got = u
		return nil
	})
	return got
}

// simStream returns the stream the simulator holds with the given id.
func simStream(ctx context.Context, id string) (auth0sim.Stream, error) {
	s, ok, err := simLookup(ctx, id)
	if err != nil {
		return s, err
	}
	if !ok {
		return s, fmt.Errorf("the simulator holds no stream %s", id)
	}
	return s, nil
}

// compareOutputs checks that every status.outputs field equals what the
// simulator holds.
func compareOutputs(out map[string]any, s auth0sim.Stream) error {
	var diffs []string
	check := func(field string, want string) {
		if got, _ := out[field].(string); got != want {
			diffs = append(diffs, fmt.Sprintf("%s: outputs %q, simulator %q", field, got, want))
		}
	}
	check("id", s.ID)
	check("name", s.Name)
	check("status", s.Status)
	check("destinationType", s.Destination.Type)
	for field, want := range map[string]time.Time{"createdAt": s.CreatedAt, "updatedAt": s.UpdatedAt} {
		got, _ := out[field].(string)
		ts, err := time.Parse(time.RFC3339Nano, got)
		if err != nil || !ts.Equal(want) {
			diffs = append(diffs, fmt.Sprintf("%s: outputs %q, simulator %s", field, got, want.Format(time.RFC3339Nano)))
		}
	}
	var subs []string
	if l, ok := out["subscriptions"].([]any); ok {
		for _, v := range l {
			s, _ := v.(string)
			subs = append(subs, s)
		}
	}
	// Outputs hold them sorted, whatever order Auth0 keeps.
	if want := slices.Sorted(slices.Values(s.Subscriptions)); !slices.Equal(subs, want) {
		diffs = append(diffs, fmt.Sprintf("subscriptions: outputs %v, simulator %v (sorted)", subs, want))
	}
	pes := ""
	if s.Destination.EventBridge != nil {
		pes = s.Destination.EventBridge.PartnerEventSource
	}
	check("awsPartnerEventSource", pes)
	if len(diffs) > 0 {
		return fmt.Errorf("status.outputs differ from the simulator: %s", strings.Join(diffs, "; "))
	}
	return nil
}

// waitOutputsMatch waits until the resource's outputs equal the stream the
// simulator holds and check accepts that stream.
func waitOutputsMatch(t *testing.T, ns, name string, check func(auth0sim.Stream) error) (*unstructured.Unstructured, auth0sim.Stream) {
	t.Helper()
	return waitOutputsMatchWithin(t, convergeWithin, ns, name, check)
}

// waitOutputsMatchWithin is waitOutputsMatch with its own bound.
func waitOutputsMatchWithin(t *testing.T, within time.Duration, ns, name string, check func(auth0sim.Stream) error) (*unstructured.Unstructured, auth0sim.Stream) {
	t.Helper()
	var (
		u  *unstructured.Unstructured
		st auth0sim.Stream
	)
	eventually(t, within, fmt.Sprintf("%s/%s outputs match the simulator", ns, name), func(ctx context.Context) error {
		var err error
		if u, err = getStream(ctx, ns, name); err != nil {
			return err
		}
		id, _ := outputs(u)["id"].(string)
		if id == "" {
			return fmt.Errorf("no status.outputs.id; conditions: %s", conditionsOf(u))
		}
		if st, err = simStream(ctx, id); err != nil {
			return err
		}
		if check != nil {
			if err := check(st); err != nil {
				return err
			}
		}
		return compareOutputs(outputs(u), st)
	})
	return u, st
}

// deleteAndVerify deletes an Auth0EventStream and waits until the
// simulator no longer holds its stream and nothing composed for it is left
// (with the terraform backend: no Workspace and no Terraform state).
func deleteAndVerify(t *testing.T, ns, name, id string) {
	t.Helper()
	u, err := getStream(t.Context(), ns, name)
	if err != nil {
		t.Fatal(err)
	}
	xrName := ""
	if legacy() {
		xrName, _, _ = unstructured.NestedString(u.Object, "spec", "resourceRef", "name")
	}
	workspaces := terraformWorkspaces(t, ns, name, xrName)
	mustKubectl(t, nil, "delete", "auth0eventstream", name, "-n", ns, "--wait=false")
	eventually(t, deleteWithin, "deletion of "+ns+"/"+name, func(ctx context.Context) error {
		if _, err := getStream(ctx, ns, name); !apierrors.IsNotFound(err) {
			return fmt.Errorf("Auth0EventStream still exists (%w)", err)
		}
		if _, ok, err := simLookup(ctx, id); err != nil || ok {
			return fmt.Errorf("the simulator still holds stream %s (%w)", id, err)
		}
		mrs, err := dyn.Resource(mrGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, mr := range mrs.Items {
			if owned(&mr, name, xrName) {
				return fmt.Errorf("EventStream %s still exists", mr.GetName())
			}
		}
		if err := terraformLeftovers(ctx, ns, name, xrName, workspaces); err != nil {
			return err
		}
		secs, err := dyn.Resource(secretGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, s := range secs.Items {
			if owned(&s, name, xrName) {
				return fmt.Errorf("composed Secret %s still exists", s.GetName())
			}
		}
		if xrName != "" {
			if _, err := dyn.Resource(legacyXRGVR).Get(ctx, xrName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("XAuth0EventStream %s still exists (%w)", xrName, err)
			}
		}
		return nil
	})
}

// owned reports whether Crossplane composed o for the named XR or claim.
func owned(o *unstructured.Unstructured, name, xrName string) bool {
	l := o.GetLabels()
	if l["crossplane.io/composite"] == name || (xrName != "" && l["crossplane.io/composite"] == xrName) || l["crossplane.io/claim-name"] == name {
		return true
	}
	for _, r := range o.GetOwnerReferences() {
		if r.Name == name || (xrName != "" && r.Name == xrName) {
			return true
		}
	}
	return false
}

// trace runs `crossplane beta trace` and returns its output.
func trace(t *testing.T, ns, name string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), state.Tools["crank"], "beta", "trace", "auth0eventstream/"+name, "-n", ns, "-o", "wide")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+state.Kubeconfig)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("crossplane beta trace: %v\n%s", err, out)
	}
	return string(out)
}

func repoFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
