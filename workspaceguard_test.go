package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// workspaceGuard is the ValidatingAdmissionPolicy (with its binding and
// settings) that keeps the Auth0 tenant's provider-terraform ProviderConfig
// to Crossplane.
const workspaceGuard = "example/terraform/workspace-guard.yaml"

// guardActive bounds how long the API server takes to enforce a new
// policy: its admission plugin picks policies, bindings and parameters up
// from informers (about a second here).
const guardActive = 30 * time.Second

// TestWorkspaceGuard applies the shipped policy to a real kube-apiserver
// (v1.35.4, envtest), with RBAC that lets a tenant create and edit
// Workspaces in its namespace (as crossplane-edit does), and checks that
// only the user Crossplane runs as may create a Workspace using the Auth0
// ProviderConfig or change what one runs, while the tenant's other
// Workspaces and metadata-only updates pass.
func TestWorkspaceGuard(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run make test, or export KUBEBUILDER_ASSETS=$(hack/build-tool.sh envtest-assets)")
	}
	env := &envtest.Environment{CRDDirectoryPaths: []string{providerTerraformCRDs}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("cannot start kube-apiserver: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	admin, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	userClient := func(name string) client.Client {
		u, err := env.AddUser(envtest.User{Name: name}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.New(u.Config(), client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	const crossplaneUser = "crossplane-core"
	crossplane, tenant, provider := userClient(crossplaneUser), userClient("tenant-a"), userClient("provider-terraform")

	edit := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "workspaces-edit"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"tf.m.upbound.io"}, Resources: []string{"workspaces"}, Verbs: []string{"get", "list", "create", "update", "patch", "delete"}}},
	}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "crossplane-system"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}},
		edit,
		// Crossplane and provider-terraform everywhere, the tenant in its
		// namespace.
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "workspaces-edit"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: edit.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: crossplaneUser}, {Kind: rbacv1.UserKind, Name: "provider-terraform"}},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "workspaces-edit", Namespace: "team-a"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: edit.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "tenant-a"}},
		},
	}
	for _, d := range splitYAML(t, workspaceGuard) {
		u := &unstructured.Unstructured{Object: d}
		if u.GetKind() == "ConfigMap" {
			// The one setting: the user Crossplane runs as.
			if err := unstructured.SetNestedField(u.Object, crossplaneUser, "data", "crossplaneUsername"); err != nil {
				t.Fatal(err)
			}
		}
		objs = append(objs, u)
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}

	workspace := func(name, pcKind, pcName string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": WorkspaceAPIVersion, "kind": KindWorkspace,
			"metadata": map[string]any{"name": name, "namespace": "team-a"},
			"spec":     map[string]any{"forProvider": map[string]any{"source": "Inline", "module": "{}"}},
		}}
		if pcKind != "" {
			u.Object["spec"].(map[string]any)["providerConfigRef"] = map[string]any{"kind": pcKind, "name": pcName}
		}
		return u
	}
	refused := func(err error) bool {
		return apierrors.IsForbidden(err) && strings.Contains(err.Error(), "only Crossplane ("+crossplaneUser+") may create a Workspace that uses ClusterProviderConfig auth0")
	}
	// The policy is enforced once the tenant's dry-run create is refused.
	deadline := time.Now().Add(guardActive)
	for {
		err := tenant.Create(ctx, workspace("probe", "ClusterProviderConfig", "auth0"), client.DryRunAll)
		if refused(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the policy was not enforced within %s: a tenant's Workspace using the Auth0 ProviderConfig got %v", guardActive, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// What Crossplane composed: allowed.
	mustCreate := func(c client.Client, u *unstructured.Unstructured) *unstructured.Unstructured {
		t.Helper()
		if err := c.Create(ctx, u); err != nil {
			t.Fatalf("create Workspace %s: %v", u.GetName(), err)
		}
		return u
	}
	composed := mustCreate(crossplane, workspace("composed", "ClusterProviderConfig", "auth0"))
	composed.SetAnnotations(map[string]string{"crossplane.io/external-name": "composed-1a2b3c4d5e6f"})
	if err := crossplane.Update(ctx, composed); err != nil {
		t.Fatalf("Crossplane's update: %v", err)
	}
	unnamed := mustCreate(crossplane, workspace("unnamed", "ClusterProviderConfig", "auth0"))
	own := mustCreate(tenant, workspace("own", "ProviderConfig", "team-a-tenant"))
	mustCreate(tenant, workspace("defaulted", "", ""))

	update := func(c client.Client, name string, change func(u *unstructured.Unstructured)) error {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(WorkspaceAPIVersion)
		u.SetKind(KindWorkspace)
		if err := c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: name}, u); err != nil {
			return err
		}
		change(u)
		return c.Update(ctx, u)
	}
	setAnnotation := func(k, v string) func(u *unstructured.Unstructured) {
		return func(u *unstructured.Unstructured) {
			a := u.GetAnnotations()
			if a == nil {
				a = map[string]string{}
			}
			a[k] = v
			u.SetAnnotations(a)
		}
	}
	// In order: some change the same Workspace.
	cases := []struct {
		name    string
		do      func() error
		refused bool
	}{
		{
			name:    "TenantCreatesWithTenantConfig",
			do:      func() error { return tenant.Create(ctx, workspace("mine", "ClusterProviderConfig", "auth0")) },
			refused: true,
		},
		{
			name: "TenantChangesSpec",
			do: func() error {
				return update(tenant, composed.GetName(), func(u *unstructured.Unstructured) {
					_ = unstructured.SetNestedField(u.Object, `{"output":{"secret":{"value":"${var.auth0_client_secret}"}}}`, "spec", "forProvider", "module")
				})
			},
			refused: true,
		},
		{
			name: "TenantPointsAtAnotherState",
			do: func() error {
				return update(tenant, composed.GetName(), setAnnotation("crossplane.io/external-name", "team-b-users-9f8e7d6c5b4a"))
			},
			refused: true,
		},
		{
			name: "TenantSwitchesItsOwnToTenantConfig",
			do: func() error {
				return update(tenant, own.GetName(), func(u *unstructured.Unstructured) {
					_ = unstructured.SetNestedField(u.Object, "ClusterProviderConfig", "spec", "providerConfigRef", "kind")
					_ = unstructured.SetNestedField(u.Object, "auth0", "spec", "providerConfigRef", "name")
				})
			},
			refused: true,
		},
		{
			name: "TenantNamesUnnamed",
			do: func() error {
				return update(tenant, unnamed.GetName(), setAnnotation("crossplane.io/external-name", "team-b-users-9f8e7d6c5b4a"))
			},
			refused: true,
		},
		{
			name: "TenantLabels",
			do: func() error {
				return update(tenant, composed.GetName(), func(u *unstructured.Unstructured) { u.SetLabels(map[string]string{"team": "a"}) })
			},
			refused: false,
		},
		{
			name: "ProviderAddsFinalizer",
			do: func() error {
				return update(provider, composed.GetName(), func(u *unstructured.Unstructured) {
					u.SetFinalizers([]string{"finalizer.managedresource.crossplane.io"})
				})
			},
		},
		{
			name: "ProviderNamesUnnamedAfterItself",
			do: func() error {
				return update(provider, unnamed.GetName(), setAnnotation("crossplane.io/external-name", unnamed.GetName()))
			},
		},
		{
			name: "ProviderRecordsCreate",
			do: func() error {
				return update(provider, composed.GetName(), setAnnotation("crossplane.io/external-create-succeeded", "2026-01-01T00:00:00Z"))
			},
		},
		{
			name: "TenantCreatesWithOwnConfig",
			do:   func() error { return tenant.Create(ctx, workspace("mine-own", "ProviderConfig", "team-a-tenant")) },
		},
		{
			name: "CrossplaneChangesSpec",
			do: func() error {
				return update(crossplane, composed.GetName(), func(u *unstructured.Unstructured) {
					_ = unstructured.SetNestedField(u.Object, `{"resource":{}}`, "spec", "forProvider", "module")
				})
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			switch {
			case tc.refused && !refused(err):
				t.Errorf("not refused by the policy: %v", err)
			case !tc.refused && err != nil:
				t.Errorf("refused: %v", err)
			}
		})
	}

	// Without its settings the policy fails closed.
	if err := admin.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "auth0-terraform-workspace-guard", Namespace: "crossplane-system"}}); err != nil {
		t.Fatal(err)
	}
	if err := waitRefused(ctx, func() error {
		return crossplane.Create(ctx, workspace("after", "ClusterProviderConfig", "auth0"), client.DryRunAll)
	}); err != nil {
		t.Errorf("without its ConfigMap the policy admits Workspaces: %v", err)
	}
}

// waitRefused waits until create is refused by an admission policy.
func waitRefused(ctx context.Context, create func() error) error {
	deadline := time.Now().Add(guardActive)
	for {
		err := create()
		if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				return errors.New("still admitted")
			}
			return fmt.Errorf("not refused by a policy: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
