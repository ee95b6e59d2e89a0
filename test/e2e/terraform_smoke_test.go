//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/xp-auth0/auth0-eventstream/test/e2e/controlplane"
)

// TestTerraformSmoke runs the terraform backend's example end to end on a
// plane started with up --terraform: example/secrets.yaml and
// example/terraform/xr.yaml applied, the XR Ready with the stream's id from
// Terraform's outputs, the stream in the simulator, its state in a
// tfstate-* Secret; then deleted, leaving no stream, no Workspace and no
// state Secret.
func TestTerraformSmoke(t *testing.T) {
	if !state.Terraform {
		t.Fatalf("the control plane in %s runs no provider-terraform: start it with up --product --terraform", state.Dir)
	}
	t.Parallel()
	ns := namespace(t, "terraform-smoke")
	objs := append(docs(t, repoFile(t, "example/secrets.yaml"), ns), docs(t, repoFile(t, "example/terraform/xr.yaml"), ns)...)
	name := objs[len(objs)-1].GetName()
	start := time.Now()
	apply(t, objs...)
	u := waitReady(t, ns, name)
	t.Logf("%s/%s Ready %s after apply", ns, name, time.Since(start).Round(100*time.Millisecond))
	id, _ := outputs(u)["id"].(string)
	st, err := simStream(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != name || st.Destination.Type != "webhook" || strings.Join(st.Subscriptions, ",") != "user.created,user.deleted" {
		t.Errorf("the simulator holds %+v, want webhook stream %s subscribed to user.created,user.deleted", st, name)
	}
	ws, err := dyn.Resource(controlplane.WorkspaceGVR).Namespace(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil || len(ws.Items) != 1 {
		t.Fatalf("want the one Workspace the XR composed in %s, got %v (%v)", ns, ws, err)
	}
	// The function names the Terraform workspace, unique per namespace
	// and name; its state is tfstate-<workspace>-<secret_suffix>.
	workspace := ws.Items[0].GetAnnotations()["crossplane.io/external-name"]
	if !strings.HasPrefix(workspace, name+"-") {
		t.Fatalf("Workspace external name %q, want %s-<hash>", workspace, name)
	}
	if n := stateSecrets(t.Context(), t, workspace); len(n) != 1 {
		t.Fatalf("want one Terraform state Secret tfstate-%s-* for the Workspace, got %v", workspace, n)
	}

	// No stream, no Workspace, and no state Secret or lock of its
	// Terraform workspace left.
	deleteAndVerify(t, ns, name, id)
}

// stateSecrets lists the kubernetes backend's state Secrets (in
// crossplane-system, as example/terraform/providerconfig.yaml configures)
// of the Terraform workspace named workspace.
func stateSecrets(ctx context.Context, t *testing.T, workspace string) []string {
	t.Helper()
	l, err := dyn.Resource(secretGVR).Namespace("crossplane-system").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range l.Items {
		if strings.HasPrefix(s.GetName(), "tfstate-"+workspace+"-") {
			out = append(out, s.GetName())
		}
	}
	return out
}
