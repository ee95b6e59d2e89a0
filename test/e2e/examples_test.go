//go:build e2e

package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/xp-auth0/auth0-eventstream/internal/eventtypes"
)

// acceptedByAuth0 reports whether every subscription of every
// Auth0EventStream in objs is in Auth0's event type catalog; the seed's
// examples that use other types are expected to fail (TestQuickStartAsSeeded).
func acceptedByAuth0(objs []*unstructured.Unstructured) bool {
	for _, o := range objs {
		if o.GetKind() != "Auth0EventStream" {
			continue
		}
		subs, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "subscriptions")
		for _, s := range subs {
			if !eventtypes.Known(s) {
				return false
			}
		}
	}
	return true
}

// TestExamples applies every example Auth0 accepts and follows it to
// Ready, checks its outputs against the simulator and its trace, then
// deletes it and checks that nothing is left.
func TestExamples(t *testing.T) {
	t.Parallel()
	patterns := []string{"example/*.yaml", "example/seed/*.yaml"}
	if legacy() {
		patterns = append(patterns, "example/legacy/claim*.yaml")
	}
	examples(t, nativeBackend, patterns)
}

// examples runs the example files matching patterns, every stream on b.
func examples(t *testing.T, b backend, patterns []string) {
	t.Helper()
	var files []string
	for _, p := range patterns {
		m, err := filepath.Glob(filepath.Join("..", "..", p))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			files = append(files, strings.TrimPrefix(filepath.ToSlash(f), "../../"))
		}
	}
	// The Secrets the examples reference, applied next to each example.
	secrets := repoFile(t, "example/secrets.yaml")
	ran := 0
	for _, f := range files {
		name := strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(f, "example/"), ".yaml"), "/", "-")
		objs := docs(t, repoFile(t, f), "")
		var streams []*unstructured.Unstructured
		for _, o := range objs {
			if o.GetKind() == "Auth0EventStream" {
				streams = append(streams, o)
			}
		}
		if len(streams) == 0 || !acceptedByAuth0(objs) {
			t.Logf("example %s: not applied here (no stream, or event types outside Auth0's catalog)", name)
			continue
		}
		ran++
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ns := namespace(t, b.ns("ex-"+name))
			apply(t, docs(t, secrets, ns)...)
			b.apply(t, encode(t, docs(t, repoFile(t, f), ns)...))
			for _, s := range streams {
				waitReady(t, ns, s.GetName())
				u, st := waitOutputsMatch(t, ns, s.GetName(), nil)
				want, _, _ := unstructured.NestedStringSlice(s.Object, "spec", "subscriptions")
				if strings.Join(st.Subscriptions, ",") != strings.Join(want, ",") {
					t.Errorf("simulator subscriptions %v, manifest %v", st.Subscriptions, want)
				}
				dt, _, _ := unstructured.NestedString(s.Object, "spec", "destinationType")
				if st.Destination.Type != dt {
					t.Errorf("simulator destination %q, manifest %q", st.Destination.Type, dt)
				}
				out := trace(t, ns, s.GetName())
				for _, kind := range traceKinds(t, b, u) {
					if !strings.Contains(out, kind+"/") {
						t.Errorf("crossplane beta trace does not show a %s:\n%s", kind, out)
					}
				}
			}
			for _, s := range streams {
				u, err := getStream(context.Background(), ns, s.GetName())
				if err != nil {
					t.Fatal(err)
				}
				id, _ := outputs(u)["id"].(string)
				deleteAndVerify(t, ns, s.GetName(), id)
			}
		})
	}
	if ran == 0 {
		t.Fatalf("no example in example/ uses only event types Auth0 accepts; found %d files", len(files))
	}
}

// traceKinds are the kinds the trace must show for a resource: the claim
// and XR, the EventStream (or Workspace) and any Secret Crossplane composed
// for it.
func traceKinds(t *testing.T, b backend, u *unstructured.Unstructured) []string {
	t.Helper()
	kinds := []string{"Auth0EventStream", b.composedKind}
	xrName := ""
	if legacy() {
		kinds = append(kinds, "XAuth0EventStream")
		xrName, _, _ = unstructured.NestedString(u.Object, "spec", "resourceRef", "name")
	}
	secs, err := dyn.Resource(secretGVR).Namespace(u.GetNamespace()).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secs.Items {
		if owned(&s, u.GetName(), xrName) {
			return append(kinds, "Secret")
		}
	}
	return kinds
}
