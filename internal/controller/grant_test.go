package controller_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/xp-auth0/auth0-eventstream/internal/providertest"
)

// Resources the provider needs that Crossplane's RBAC manager does not grant
// a provider's revision, so the platform grants them
// (example/rbac/provider-permissions.yaml).
var platformGranted = []string{"namespaces", "workspaces"}

// TestPlatformGrantMatchesMarkers holds the platform's grant to the
// provider's +kubebuilder:rbac markers (package/provider-rbac, generated),
// the one source of what the provider needs: for the resources Crossplane
// does not grant, the same groups and verbs, no more and no less.
func TestPlatformGrantMatchesMarkers(t *testing.T) {
	root := providertest.ModuleRoot()
	grant := clusterRoleRules(t, filepath.Join(root, "example", "rbac", "provider-permissions.yaml"), "auth0-eventstream:provider")
	markers := clusterRoleRules(t, filepath.Join(root, "package", "provider-rbac", "least-privilege.yaml"), "provider-auth0-eventstream")
	for _, res := range platformGranted {
		g, m := rulesFor(grant, res), rulesFor(markers, res)
		if g == "" || g != m {
			t.Errorf("%s: the platform's grant says %q, the provider's markers %q; want them equal", res, g, m)
		}
	}
	for _, r := range grant {
		for _, res := range r.Resources {
			if !slices.Contains(platformGranted, res) {
				t.Errorf("the platform's grant names %s, which Crossplane's RBAC manager grants or the provider does not need", res)
			}
		}
	}
}

// rulesFor says which groups and verbs rules give resource res, sorted.
func rulesFor(rules []rbacv1.PolicyRule, res string) string {
	var out []string
	for _, r := range rules {
		if slices.Contains(r.Resources, res) {
			verbs := slices.Sorted(slices.Values(r.Verbs))
			out = append(out, strings.Join(r.APIGroups, ",")+":"+strings.Join(verbs, ","))
		}
	}
	slices.Sort(out)
	return strings.Join(out, ";")
}

// clusterRoleRules returns the rules of ClusterRole name in the YAML file.
func clusterRoleRules(t *testing.T, file, name string) []rbacv1.PolicyRule {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		cr := &rbacv1.ClusterRole{}
		if err := yaml.Unmarshal(doc, cr); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if cr.Kind == "ClusterRole" && cr.Name == name {
			return cr.Rules
		}
	}
	t.Fatalf("%s holds no ClusterRole %s", file, name)
	return nil
}
