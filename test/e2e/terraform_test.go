//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xp-auth0/auth0-eventstream/internal/auth0sim"
)

// The terraform backend (docs/terraform.md) runs the native tests' bodies
// with every Auth0EventStream selecting the terraform Composition: the
// stream is a provider-terraform Workspace, applied by OpenTofu with
// terraform-provider-auth0, against the same simulator. Where the backends
// differ on purpose (docs/terraform.md, Differences) the assertions are
// the terraform backend's. make e2e runs these on the namespaced flavour,
// whose control plane it starts with --terraform.

// TestTerraformExamples: every example Auth0 accepts, and the terraform
// example, Ready with outputs equal to the simulator's stream, traced to
// its Workspace, then deleted leaving no stream, Workspace or state.
func TestTerraformExamples(t *testing.T) {
	t.Parallel()
	requireTerraform(t)
	examples(t, terraformBackend, []string{"example/*.yaml", "example/seed/*.yaml", "example/terraform/xr.yaml"})
}

// TestTerraformWebhookLifecycle: subscriptions and status changed, the
// referenced token rotated (new token at Auth0, same id, at
// provider-terraform's next poll), an edit in Auth0 corrected, and a
// delete that leaves no stream, Workspace, or state Secret.
func TestTerraformWebhookLifecycle(t *testing.T) {
	t.Parallel()
	requireTerraform(t)
	webhookLifecycle(t, terraformBackend, func(ns, name, token string) {
		ws, err := ownedWorkspaces(t.Context(), ns, name, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(ws) != 1 {
			t.Fatalf("%d Workspaces composed for %s/%s, want 1", len(ws), ns, name)
		}
		// The state is where the function said it would be, so the
		// check after the delete that it is gone can fail.
		workspace := tfWorkspace(&ws[0])
		if !strings.HasPrefix(workspace, ws[0].GetName()+"-") {
			t.Fatalf("Workspace %s names Terraform workspace %q, want %s-<hash>", ws[0].GetName(), workspace, ws[0].GetName())
		}
		objs, err := stateObjects(t.Context(), workspace)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(objs, func(o string) bool { return strings.Contains(o, "/tfstate-"+workspace+"-") }) {
			t.Errorf("no state Secret tfstate-%s-*; state objects of that workspace: %v", workspace, objs)
		}
		// The token reaches Terraform from the Secret, never through the
		// Workspace.
		b, err := json.Marshal(ws[0].Object)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{token, base64.StdEncoding.EncodeToString([]byte(token))} {
			if strings.Contains(string(b), v) {
				t.Errorf("Workspace %s holds the webhook token", ws[0].GetName())
			}
		}
	})
}

// TestTerraformEventBridgeRegionChange: a region change is ForceNew in
// terraform-provider-auth0: a new stream (new id), the old one deleted.
func TestTerraformEventBridgeRegionChange(t *testing.T) {
	t.Parallel()
	requireTerraform(t)
	eventBridgeRegionChange(t, terraformBackend)
}

// TestTerraformInvalidManifestsRefused: the API server refuses the same
// invalid manifests whatever the Composition; and the function refuses
// what only the terraform backend cannot do (policies without Create, an
// import where the Composition imports Observe-only), naming the fields,
// before composing anything.
func TestTerraformInvalidManifestsRefused(t *testing.T) {
	t.Parallel()
	requireTerraform(t)
	invalidManifestsRefused(t, terraformBackend)

	ns := namespace(t, terraformBackend.ns("observe-only"))
	for name, tc := range map[string]struct {
		policies string
		want     []string
	}{
		"observe-only": {"[Observe]", []string{"spec.managementPolicies", "Create", "spec.streamId", "importPolicy: ObserveOnly"}},
		"adopt":        {`["*"]`, []string{"spec.streamId", "importPolicy: ObserveOnly", "cannot only observe"}},
	} {
		terraformBackend.apply(t, importManifest(ns, name, "est_4lYRAzMEkOy205j9rKkPbf", tc.policies, "user.created"))
		eventually(t, readyWithin, name+": a condition naming "+strings.Join(tc.want, ", "), func(ctx context.Context) error {
			u, err := getStream(ctx, ns, name)
			if err != nil {
				return err
			}
			s, _, msg := condition(u, "Synced")
			for _, w := range tc.want {
				if s != "False" || !strings.Contains(msg, w) {
					return fmt.Errorf("conditions: %s", conditionsOf(u))
				}
			}
			return nil
		})
		ws, err := ownedWorkspaces(t.Context(), ns, name, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(ws) > 0 {
			t.Errorf("%s: a Workspace was composed for a refused composite: %s", name, ws[0].GetName())
		}
		mustKubectl(t, nil, "delete", "auth0eventstream", name, "-n", ns, "--timeout=2m")
	}
}

// TestTerraformQuickStartAsSeeded: the seed's Quick Start fails with
// Auth0's message on the composite, as with the native backend, and no
// stream is made.
func TestTerraformQuickStartAsSeeded(t *testing.T) {
	requireTerraform(t)
	quickStartAsSeeded(t, terraformBackend)
}

// TestTerraformFaultsConverge: 429s and 5xx; every composite Ready, one
// stream each. (No lost create answer: Terraform records a stream in its
// state only from the create's answer, docs/terraform.md.)
func TestTerraformFaultsConverge(t *testing.T) {
	requireTerraform(t)
	faultsConverge(t, terraformBackend, false)
}

// TestTerraformImport takes over a stream made in Auth0 (spec.streamId,
// an import block in the module) with the Composition a platform installs
// to allow it (example/import/composition-manage-terraform.yaml): the same
// id, then managed as the spec says, and labelled as held; a second
// composite importing the id is refused and changes nothing; deleting the
// composite deletes the stream (policies include Delete), and an id Auth0
// does not hold creates nothing.
func TestTerraformImport(t *testing.T) {
	t.Parallel()
	requireTerraform(t)
	ns := namespace(t, terraformBackend.ns("import"))
	const name = "imported"
	manage := manageComposition(t, "example/import/composition-manage-terraform.yaml")
	st := simCreate(t, ns+"-user-events", "https://hooks.example.com/imported", "user.created")
	mustKubectl(t, withComposition(t, importManifest(ns, name, st.ID, `["*"]`, "user.created, user.deleted"), manage), "apply", "-f", "-")
	waitReady(t, ns, name)
	_, got := waitOutputsMatch(t, ns, name, func(s auth0sim.Stream) error {
		if !slices.Equal(s.Subscriptions, []string{"user.created", "user.deleted"}) {
			return fmt.Errorf("subscriptions %v, want the spec's", s.Subscriptions)
		}
		return nil
	})
	if got.ID != st.ID {
		t.Fatalf("outputs name stream %s, want the imported %s", got.ID, st.ID)
	}
	if all, err := simStreams(t.Context()); err != nil {
		t.Fatal(err)
	} else if n := len(slices.DeleteFunc(all, func(s auth0sim.Stream) bool { return s.Name != name && s.Name != st.Name })); n != 1 {
		t.Errorf("the simulator holds %d streams for the import, want 1", n)
	}

	t.Log("a second composite, in another namespace, imports the same id: refused, naming the Workspace that holds it")
	held, err := ownedWorkspaces(t.Context(), ns, name, "")
	if err != nil || len(held) != 1 {
		t.Fatalf("Workspaces of %s/%s: %d, %v", ns, name, len(held), err)
	}
	ns2 := namespace(t, terraformBackend.ns("import-again"))
	const second = "imported-again"
	mustKubectl(t, withComposition(t, importManifest(ns2, second, st.ID, `["*"]`, "user.created"), manage), "apply", "-f", "-")
	eventually(t, readyWithin, "the second import refused", func(ctx context.Context) error {
		u, err := getStream(ctx, ns2, second)
		if err != nil {
			return err
		}
		want := fmt.Sprintf("stream %s is already held by Workspace %s/%s", st.ID, ns, held[0].GetName())
		if s, reason, msg := condition(u, "StreamReady"); s != "False" || reason != "Refused" || !strings.Contains(msg, want) {
			return fmt.Errorf("want StreamReady=False Refused saying %q; conditions: %s", want, conditionsOf(u))
		}
		return nil
	})
	if ws, err := ownedWorkspaces(t.Context(), ns2, second, ""); err != nil || len(ws) > 0 {
		t.Errorf("the refused import composed %d Workspaces (%v)", len(ws), err)
	}
	mustKubectl(t, nil, "delete", "auth0eventstream", second, "-n", ns2, "--timeout=2m")
	if _, got := waitOutputsMatch(t, ns, name, nil); got.ID != st.ID {
		t.Errorf("the first import now holds %s", got.ID)
	}
	deleteAndVerify(t, ns, name, st.ID)

	// An id Auth0 does not hold: the plan fails, nothing is created.
	const missing = "missing"
	before := streamsNamed(t, missing)
	mustKubectl(t, withComposition(t, importManifest(ns, missing, "est_0000000000000000000000", `["*"]`, "user.created"), manage), "apply", "-f", "-")
	eventually(t, readyWithin, "a failing condition for the missing stream", func(ctx context.Context) error {
		u, err := getStream(ctx, ns, missing)
		if err != nil {
			return err
		}
		if s, _, _ := condition(u, "Ready"); s == "True" {
			return fmt.Errorf("became Ready although Auth0 holds no such stream")
		}
		// The function surfaces the Workspace's failed plan on the
		// composite's StreamReady, as it does an EventStream's.
		if s, _, msg := condition(u, "StreamReady"); s == "False" && strings.Contains(msg, "not synced") && strings.Contains(msg, "Cannot import non-existent remote object") {
			return nil
		}
		return fmt.Errorf("conditions: %s", conditionsOf(u))
	})
	if after := streamsNamed(t, missing); after != before {
		t.Errorf("the simulator holds %d streams named %s, %d before: the failed import created one", after, missing, before)
	}
	mustKubectl(t, nil, "delete", "auth0eventstream", missing, "-n", ns, "--timeout=3m")
	eventually(t, deleteWithin, "the failed import's Workspace deleted", func(ctx context.Context) error {
		ws, err := ownedWorkspaces(ctx, ns, missing, "")
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if len(ws) > 0 {
			return fmt.Errorf("Workspace %s still exists", ws[0].GetName())
		}
		return nil
	})
}

// TestTerraformBackendSwitchRefused moves a live composite from the native
// Composition to the terraform one and back: the function refuses the
// switch (StreamReady Refused, saying nothing was deleted), Crossplane
// deletes nothing (the EventStream and its stream stay, no Workspace is
// made), and moved back the composite is Ready with the same stream.
func TestTerraformBackendSwitchRefused(t *testing.T) {
	t.Parallel()
	requireTerraform(t)
	ns := namespace(t, terraformBackend.ns("switch"))
	const name = "switched"
	m := fmt.Appendf(nil, `apiVersion: auth0.openmcf.org/v1
kind: Auth0EventStream
metadata:
  name: %s
  namespace: %s
spec:
  destinationType: eventbridge
  subscriptions: [user.created]
  eventbridgeConfiguration:
    awsAccountId: "123456789012"
    awsRegion: us-east-1
`, name, ns)
	mustKubectl(t, withComposition(t, m, "auth0eventstreams.auth0.openmcf.org"), "apply", "-f", "-")
	waitReady(t, ns, name)
	_, st := waitOutputsMatch(t, ns, name, nil)
	mr := composedEventStream(t, ns, name)

	t.Log("select the terraform Composition")
	mustKubectl(t, withComposition(t, m, "auth0eventstreams-terraform.auth0.openmcf.org"), "apply", "-f", "-")
	eventually(t, readyWithin, "the switch refused", func(ctx context.Context) error {
		u, err := getStream(ctx, ns, name)
		if err != nil {
			return err
		}
		if s, reason, msg := condition(u, "StreamReady"); s != "False" || reason != "Refused" || !strings.Contains(msg, "Nothing was deleted or changed") {
			return fmt.Errorf("want StreamReady=False Refused; conditions: %s", conditionsOf(u))
		}
		return nil
	})
	still, err := dyn.Resource(mrGVR).Namespace(ns).Get(t.Context(), mr.GetName(), metav1.GetOptions{})
	if err != nil || still.GetDeletionTimestamp() != nil {
		t.Fatalf("EventStream %s after the refused switch: %v (deleting: %v)", mr.GetName(), err, still.GetDeletionTimestamp())
	}
	if _, err := simStream(t.Context(), st.ID); err != nil {
		t.Fatalf("the stream is gone after the refused switch: %v", err)
	}
	if ws, err := ownedWorkspaces(t.Context(), ns, name, ""); err != nil || len(ws) > 0 {
		t.Errorf("the refused switch composed %d Workspaces (%v)", len(ws), err)
	}

	t.Log("select the native Composition again")
	mustKubectl(t, withComposition(t, m, "auth0eventstreams.auth0.openmcf.org"), "apply", "-f", "-")
	eventually(t, readyWithin, "Ready again", func(ctx context.Context) error {
		u, err := getStream(ctx, ns, name)
		if err != nil {
			return err
		}
		if s, reason, _ := condition(u, "StreamReady"); s != "True" || reason != "Available" {
			return fmt.Errorf("conditions: %s", conditionsOf(u))
		}
		return nil
	})
	if _, got := waitOutputsMatch(t, ns, name, nil); got.ID != st.ID {
		t.Errorf("stream %s after switching back, %s before", got.ID, st.ID)
	}
	deleteAndVerify(t, ns, name, st.ID)
}
