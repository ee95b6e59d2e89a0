//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/xp-auth0/auth0-eventstream/test/e2e/controlplane"
)

// TestLeastPrivilege: every provider runtime the plane plays (ours, and
// provider-terraform where the plane runs it) runs as its own
// ServiceAccount, owned by its revision (ours named by the platform's
// DeploymentRuntimeConfig, example/rbac/provider-permissions.yaml), with
// the in-cluster configuration and no kubeconfig, as user 2000
// (Crossplane's default pod user); the role Crossplane's RBAC manager
// generated for its revision (and, for ours, the platform's grant) lets
// it do what it needs and nothing more: not everything, not bind roles, not
// touch the other provider's resources. Crossplane core may compose our
// resources (through the ClusterRoles aggregated into its chart role) but
// is no cluster admin either, and no ServiceAccount is bound to
// cluster-admin.
func TestLeastPrivilege(t *testing.T) {
	t.Parallel()
	type access struct {
		args []string
		want bool
	}
	deny := func(args ...string) access { return access{args, false} }
	allow := func(args ...string) access { return access{args, true} }
	everything := deny("*", "*", "-A")
	bindRoles := deny("create", "clusterrolebindings")
	wantByPackage := map[string][]access{
		controlplane.TerraformProvider: {
			everything, bindRoles,
			allow("update", "workspaces.tf.m.upbound.io/status", "-A"),
			allow("get", "clusterproviderconfigs.tf.m.upbound.io"),
			// Terraform's kubernetes backend keeps state in Secrets and
			// locks with Leases in crossplane-system.
			allow("create", "secrets", "-n", "crossplane-system"),
			allow("create", "leases.coordination.k8s.io", "-n", "crossplane-system"),
			deny("update", "eventstreams.auth0.m.openmcf.org", "-A"),
		},
	}
	ourChecks := []access{
		everything, bindRoles,
		allow("update", "eventstreams.auth0.m.openmcf.org/status", "-A"),
		allow("get", "clusterproviderconfigs.auth0.m.openmcf.org"),
		// Webhook tokens in tenants' namespaces; the proof key in its own.
		allow("get", "secrets", "-A"),
		allow("create", "secrets", "-n", "crossplane-system"),
		allow("create", "events", "-A"),
		// safe-start: it watches its CRDs being activated.
		allow("watch", "customresourcedefinitions.apiextensions.k8s.io"),
		// The platform's grant (example/rbac/provider-permissions.yaml):
		// ClusterProviderConfig namespaceSelectors (and, below, the
		// terraform backend's Workspaces it must not adopt streams of).
		allow("watch", "namespaces"),
		deny("create", "customresourcedefinitions.apiextensions.k8s.io"),
	}

	// The package tests before this one restarted and upgraded the
	// runtimes: read what runs now.
	now := reload(t)
	if now.Terraform {
		// kubectl resolves the resource by discovery: only where
		// provider-terraform's CRD is served.
		ourChecks = append(ourChecks, allow("list", "workspaces.tf.m.upbound.io", "-A"), deny("update", "workspaces.tf.m.upbound.io", "-A"))
	}
	providers := 0
	for rev, rt := range now.Runtime {
		if rt.Kind != "Provider" {
			continue
		}
		providers++
		checks := ourChecks
		if !ours(rt) {
			checks = wantByPackage[rt.Package]
		}
		// Ours runs as the account the platform grants more to, named by
		// its DeploymentRuntimeConfig; provider-terraform as Crossplane
		// names it by default: after the revision.
		want := rev
		if ours(rt) {
			want = controlplane.ProviderServiceAccount
		}
		if rt.ServiceAccount != want {
			t.Errorf("provider revision %s runs as ServiceAccount %q, want %s", rev, rt.ServiceAccount, want)
			continue
		}
		sa, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}).Namespace("crossplane-system").Get(t.Context(), rt.ServiceAccount, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("ServiceAccount of %s: %v", rev, err)
		}
		if refs := sa.GetOwnerReferences(); len(refs) != 1 || refs[0].Kind != "ProviderRevision" || refs[0].Name != rev {
			t.Errorf("ServiceAccount %s is owned by %v, want ProviderRevision %s", sa.GetName(), refs, rev)
		}
		user := "system:serviceaccount:crossplane-system:" + rt.ServiceAccount
		for _, c := range checks {
			if got := canI(t, user, c.args...); got != c.want {
				t.Errorf("%s (%s): kubectl auth can-i %s: %t, want %t", rt.Package, user, strings.Join(c.args, " "), got, c.want)
			}
		}
		pid := providerPID(t, now, rev)
		uid, env, args := processIdentity(t, pid)
		if uid != controlplane.DefaultPodUser {
			t.Errorf("%s runs as uid %d, want Crossplane's default pod user %d", rev, uid, controlplane.DefaultPodUser)
		}
		if !slices.Contains(env, "POD_NAMESPACE=crossplane-system") || !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "KUBERNETES_SERVICE_HOST=") }) {
			t.Errorf("%s's environment lacks POD_NAMESPACE or KUBERNETES_SERVICE_HOST (in-cluster configuration): %q", rev, names(env))
		}
		if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--kubeconfig") }) || slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "KUBECONFIG=") }) {
			t.Errorf("%s is given a kubeconfig: %q", rev, args)
		}
	}
	want := 1
	if now.Terraform {
		want = 2
	}
	if providers != want {
		t.Errorf("%d provider runtimes recorded, want %d", providers, want)
	}

	core := controlplane.CoreUser
	for _, c := range []access{
		everything, bindRoles,
		// Through the roles the RBAC manager generated for the provider
		// revision and the XRD, aggregated into the chart's role.
		allow("create", "eventstreams.auth0.m.openmcf.org", "-A"),
		allow("update", "auth0eventstreams.auth0.openmcf.org", "-A"),
	} {
		if got := canI(t, core, c.args...); got != c.want {
			t.Errorf("core (%s): kubectl auth can-i %s: %t, want %t", core, strings.Join(c.args, " "), got, c.want)
		}
	}
	if state.Terraform && !canI(t, core, "create", "workspaces.tf.m.upbound.io", "-A") {
		t.Errorf("core may not compose Workspaces: provider-terraform's edit role is not aggregated into core's")
	}

	crbs, err := dyn.Resource(schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range crbs.Items {
		if role, _, _ := unstructured.NestedString(b.Object, "roleRef", "name"); role != "cluster-admin" {
			continue
		}
		subjects, _, _ := unstructured.NestedSlice(b.Object, "subjects")
		for _, s := range subjects {
			if m, _ := s.(map[string]any); m["kind"] == "ServiceAccount" {
				t.Errorf("ClusterRoleBinding %s binds cluster-admin to ServiceAccount %s/%s", b.GetName(), m["namespace"], m["name"])
			}
		}
	}
}

// canI asks the API server whether user may do what args say.
func canI(t *testing.T, user string, args ...string) bool {
	t.Helper()
	out, err := kubectl(t.Context(), nil, append(append([]string{"auth", "can-i"}, args...), "--as="+user)...)
	// The answer is the last line; kubectl may warn before it.
	lines := strings.Split(strings.TrimSpace(out), "\n")
	switch strings.TrimSpace(lines[len(lines)-1]) {
	case "yes":
		return true
	case "no":
		return false
	}
	t.Fatalf("kubectl auth can-i %s --as=%s: %v", strings.Join(args, " "), user, err)
	return false
}

// providerPID is the PID of a provider revision's process: the recorded
// process, or for one run in a network namespace of its own (netns-run),
// its child.
func providerPID(t *testing.T, s *controlplane.State, rev string) int {
	t.Helper()
	i := slices.IndexFunc(s.Processes, func(p controlplane.Process) bool { return p.Name == rev })
	if i < 0 {
		t.Fatalf("no process recorded for %s", rev)
	}
	pid := s.Processes[i].PID
	if s.Runtime[rev].Package != controlplane.TerraformProvider {
		return pid
	}
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if statusField(filepath.Join(d, "status"), "PPid") == strconv.Itoa(pid) {
			child, _ := strconv.Atoi(filepath.Base(d))
			return child
		}
	}
	t.Fatalf("netns-run (pid %d) of %s has no child", pid, rev)
	return 0
}

// processIdentity reads a process's real uid, environment and args.
func processIdentity(t *testing.T, pid int) (int, []string, []string) {
	t.Helper()
	uids := strings.Fields(statusField(fmt.Sprintf("/proc/%d/status", pid), "Uid"))
	if len(uids) == 0 {
		t.Fatalf("process %d: no Uid in its status", pid)
	}
	uid, err := strconv.Atoi(uids[0])
	if err != nil {
		t.Fatal(err)
	}
	read := func(f string) []string {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, f))
		if err != nil {
			t.Fatalf("process %d: %v", pid, err)
		}
		return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	}
	return uid, read("environ"), read("cmdline")[1:]
}

func statusField(path, field string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == field {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// names lists the variables of an environment without their values,
// which may be secrets.
func names(env []string) []string {
	out := make([]string, 0, len(env))
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		out = append(out, k)
	}
	return out
}
