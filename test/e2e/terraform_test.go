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
// what only the terraform backend cannot do (policies without Create),
// naming the field, before composing anything.
func TestTerraformInvalidManifestsRefused(t *testing.T) {
	t.Parallel()
	requireTerraform(t)
	invalidManifestsRefused(t, terraformBackend)

	ns := namespace(t, terraformBackend.ns("observe-only"))
	const name = "observe-only"
	terraformBackend.apply(t, importManifest(ns, name, "est_4lYRAzMEkOy205j9rKkPbf", "[Observe]", "user.created"))
	eventually(t, readyWithin, "a condition naming spec.managementPolicies", func(ctx context.Context) error {
		u, err := getStream(ctx, ns, name)
		if err != nil {
			return err
		}
		if s, _, msg := condition(u, "Synced"); s != "False" || !strings.Contains(msg, "spec.managementPolicies") || !strings.Contains(msg, "Create") {
			return fmt.Errorf("conditions: %s", conditionsOf(u))
		}
		return nil
	})
	ws, err := ownedWorkspaces(t.Context(), ns, name, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) > 0 {
		t.Errorf("a Workspace was composed for a refused composite: %s", ws[0].GetName())
	}
	mustKubectl(t, nil, "delete", "auth0eventstream", name, "-n", ns, "--timeout=2m")
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
// an import block in the module): the same id, then managed as the spec
// says; deleting the composite deletes the stream (policies include
// Delete), and an id Auth0 does not hold creates nothing.
func TestTerraformImport(t *testing.T) {
	t.Parallel()
	requireTerraform(t)
	ns := namespace(t, terraformBackend.ns("import"))
	const name = "imported"
	st := simCreate(t, ns+"-user-events", "https://hooks.example.com/imported", "user.created")
	terraformBackend.apply(t, importManifest(ns, name, st.ID, `["*"]`, "user.created, user.deleted"))
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
	deleteAndVerify(t, ns, name, st.ID)

	// An id Auth0 does not hold: the plan fails, nothing is created.
	const missing = "missing"
	before := streamsNamed(t, missing)
	terraformBackend.apply(t, importManifest(ns, missing, "est_0000000000000000000000", `["*"]`, "user.created"))
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
