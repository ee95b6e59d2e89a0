package controlplane

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestChartRBAC renders the accounts and roles of Crossplane's chart as
// the plane applies them: core's ClusterRole aggregates the roles labelled
// for it (so composition rights come from the RBAC manager), and each
// ServiceAccount is bound to its own ClusterRole.
func TestChartRBAC(t *testing.T) {
	mod, err := crossplaneModuleDir(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	objs, err := ChartRBAC(mod)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*unstructured.Unstructured{}
	for _, u := range objs {
		byName[u.GetKind()+"/"+u.GetName()] = u
	}
	for _, want := range []string{
		"ServiceAccount/crossplane", "ServiceAccount/rbac-manager",
		"ClusterRole/crossplane", "ClusterRole/crossplane:system:aggregate-to-crossplane", "ClusterRole/crossplane-rbac-manager",
		"ClusterRole/crossplane:allowed-provider-permissions", "ClusterRole/crossplane-edit",
		"ClusterRoleBinding/crossplane", "ClusterRoleBinding/crossplane-rbac-manager",
	} {
		if byName[want] == nil {
			t.Errorf("the chart renders no %s", want)
		}
	}
	core := byName["ClusterRole/crossplane"]
	if core == nil {
		t.Fatal("no ClusterRole crossplane")
	}
	sel, _, _ := unstructured.NestedSlice(core.Object, "aggregationRule", "clusterRoleSelectors")
	if len(sel) != 1 {
		t.Fatalf("ClusterRole crossplane aggregates %v, want the roles labelled rbac.crossplane.io/aggregate-to-crossplane", sel)
	}
	if rules, ok := core.Object["rules"]; ok {
		t.Errorf("ClusterRole crossplane has rules of its own %v; all its rules should come from aggregation", rules)
	}
	for crb, sa := range map[string]string{"crossplane": CoreServiceAccount, "crossplane-rbac-manager": RBACManagerServiceAccount} {
		subj, _, _ := unstructured.NestedSlice(byName["ClusterRoleBinding/"+crb].Object, "subjects")
		if len(subj) != 1 || subj[0].(map[string]any)["name"] != sa || subj[0].(map[string]any)["namespace"] != crossplaneNamespace {
			t.Errorf("ClusterRoleBinding %s binds %v, want ServiceAccount %s/%s", crb, subj, crossplaneNamespace, sa)
		}
	}
	if sa := byName["ServiceAccount/crossplane"]; sa != nil && sa.GetNamespace() != crossplaneNamespace {
		t.Errorf("ServiceAccount crossplane in %q", sa.GetNamespace())
	}
}
