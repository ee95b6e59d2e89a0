package controlplane

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// Crossplane core and its RBAC manager run under the ServiceAccounts,
// ClusterRoles and ClusterRoleBindings of Crossplane's own Helm chart
// (cluster/charts/crossplane in its module, rendered here with the chart's
// default values), with tokens from the TokenRequest API. Core's
// ClusterRole aggregates every ClusterRole labelled
// rbac.crossplane.io/aggregate-to-crossplane: the chart's system rules,
// and the roles the RBAC manager generates for each provider revision and
// each XRD. So core may compose our resources only if that aggregation
// works, and a provider may do only what the RBAC manager's role for its
// revision grants (serviceaccount.go).

const (
	// CoreServiceAccount is the chart's account of core, in
	// crossplane-system.
	CoreServiceAccount = "crossplane"
	// RBACManagerServiceAccount is the chart's account of the RBAC
	// manager, in crossplane-system.
	RBACManagerServiceAccount = "rbac-manager"
	// CoreUser is the user Crossplane core authenticates as: the workspace
	// guard's one setting.
	CoreUser = "system:serviceaccount:" + crossplaneNamespace + ":" + CoreServiceAccount
	// rbacManagerProcess runs `crossplane rbac start`.
	rbacManagerProcess = "crossplane-rbac-manager"
	// tokenLifetime is as long as a plane may live (make demo leaves it
	// running).
	tokenLifetime = 30 * 24 * time.Hour
)

// chartTemplates are the chart's templates of core's and the RBAC
// manager's accounts and roles.
func chartTemplates() []string {
	return []string{
		"serviceaccount.yaml", "clusterrole.yaml", "clusterrolebinding.yaml",
		"rbac-manager-serviceaccount.yaml", "rbac-manager-clusterrole.yaml", "rbac-manager-clusterrolebinding.yaml",
		"rbac-manager-allowed-provider-permissions.yaml", "rbac-manager-managed-clusterroles.yaml",
	}
}

// ChartRBAC renders the chart's ServiceAccounts, ClusterRoles and
// ClusterRoleBindings of core and the RBAC manager, with the chart's
// default values, from Crossplane's module folder.
func ChartRBAC(mod string) ([]*unstructured.Unstructured, error) {
	dir := filepath.Join(mod, "cluster", "charts", "crossplane", "templates")
	root := template.New("chart")
	root.Funcs(chartFuncs(root))
	if _, err := root.ParseFiles(filepath.Join(dir, "_helpers.tpl")); err != nil {
		return nil, fmt.Errorf("the chart of Crossplane: %w", err)
	}
	values := map[string]any{
		"Chart":   map[string]any{"Name": "crossplane", "Version": CrossplaneVersion, "AppVersion": CrossplaneVersion},
		"Release": map[string]any{"Name": "crossplane", "Namespace": crossplaneNamespace, "Service": "Helm"},
		"Values": map[string]any{
			"nameOverride":   "",
			"customLabels":   map[string]any{},
			"serviceAccount": map[string]any{"create": true, "name": "", "customAnnotations": map[string]any{}},
			"rbacManager":    map[string]any{"deploy": true, "skipAggregatedClusterRoles": false},
		},
	}
	var objs []*unstructured.Unstructured
	for _, name := range chartTemplates() {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("the chart of Crossplane: %w", err)
		}
		t, err := root.New(name).Parse(string(b))
		if err != nil {
			return nil, fmt.Errorf("the chart of Crossplane %s: %w", name, err)
		}
		var out bytes.Buffer
		if err := t.Execute(&out, values); err != nil {
			return nil, fmt.Errorf("render Crossplane's chart %s: %w", name, err)
		}
		for doc := range strings.SplitSeq(out.String(), "\n---") {
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
				return nil, fmt.Errorf("the chart of Crossplane %s: %w", name, err)
			}
			if len(u.Object) > 0 {
				objs = append(objs, u)
			}
		}
	}
	return objs, nil
}

// chartFuncs are the Helm and Sprig functions the chart's RBAC templates
// use.
func chartFuncs(root *template.Template) template.FuncMap {
	indent := func(n int, s string) string {
		pad := strings.Repeat(" ", n)
		return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
	}
	return template.FuncMap{
		"default": func(d, v any) any {
			if s, ok := v.(string); v == nil || (ok && s == "") {
				return d
			}
			return v
		},
		"trunc": func(n int, s string) string {
			if len(s) > n {
				return s[:n]
			}
			return s
		},
		"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
		"replace":    func(old, replacement, s string) string { return strings.ReplaceAll(s, old, replacement) },
		"quote":      strconv.Quote,
		"indent":     indent,
		"nindent":    func(n int, s string) string { return "\n" + indent(n, s) },
		"toYaml": func(v any) (string, error) {
			b, err := yaml.Marshal(v)
			return strings.TrimSuffix(string(b), "\n"), err
		},
		"include": func(name string, data any) (string, error) {
			var b bytes.Buffer
			err := root.ExecuteTemplate(&b, name, data)
			return b.String(), err
		},
	}
}

// chartRBAC applies the chart's accounts and roles and waits until core's
// aggregated ClusterRole has its rules (kube-controller-manager's
// clusterrole-aggregation controller fills it).
func (p *plane) chartRBAC(ctx context.Context, mod string) error {
	objs, err := ChartRBAC(mod)
	if err != nil {
		return err
	}
	if err := p.applyObjects(ctx, "Crossplane's chart", objs); err != nil {
		return err
	}
	if err := p.waitFor(ctx, "ClusterRole crossplane aggregated", time.Minute, p.running["kube-controller-manager"], func(ctx context.Context) (bool, error) {
		cr, err := p.kube.RbacV1().ClusterRoles().Get(ctx, CoreServiceAccount, metav1.GetOptions{})
		return err == nil && len(cr.Rules) > 0, err
	}); err != nil {
		return err
	}
	p.logf("Crossplane's chart RBAC applied (%d objects); ClusterRole crossplane aggregated", len(objs))
	return nil
}

// applyObjects applies the accounts, roles and package runtime
// configuration objects of source (a chart, an example file).
func (p *plane) applyObjects(ctx context.Context, source string, objs []*unstructured.Unstructured) error {
	for _, u := range objs {
		gv, err := schema.ParseGroupVersion(u.GetAPIVersion())
		if err != nil {
			return fmt.Errorf("%s: %w", source, err)
		}
		resource, ok := map[string]string{
			"ServiceAccount": "serviceaccounts", "ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings",
			"DeploymentRuntimeConfig": "deploymentruntimeconfigs", "ImageConfig": "imageconfigs",
		}[u.GetKind()]
		if !ok {
			return fmt.Errorf("%s: unexpected kind %s", source, u.GetKind())
		}
		r := p.dyn.Resource(gv.WithResource(resource))
		if ns := u.GetNamespace(); ns != "" {
			_, err = r.Namespace(ns).Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
		} else {
			_, err = r.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
		}
		if err != nil {
			return fmt.Errorf("apply %s %s of %s: %w", u.GetKind(), u.GetName(), source, err)
		}
	}
	return nil
}

// token returns a TokenRequest token of a ServiceAccount in
// crossplane-system.
func (p *plane) token(ctx context.Context, sa string) (string, error) {
	expiry := int64(tokenLifetime.Seconds())
	tr, err := p.kube.CoreV1().ServiceAccounts(crossplaneNamespace).CreateToken(ctx, sa, &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token of ServiceAccount %s: %w", sa, err)
	}
	return tr.Status.Token, nil
}

// accountKubeconfig writes a kubeconfig with a token of a ServiceAccount
// in crossplane-system to the plane's folder.
func (p *plane) accountKubeconfig(ctx context.Context, sa string) (string, error) {
	tok, err := p.token(ctx, sa)
	if err != nil {
		return "", err
	}
	ca, err := os.ReadFile(filepath.Join(p.dir, "pki", "ca.crt"))
	if err != nil {
		return "", fmt.Errorf("read the cluster CA: %w", err)
	}
	path := filepath.Join(p.dir, "pki", "kubeconfig-"+sa)
	return path, writeFiles(map[string][]byte{path: kubeconfig(p.state.Server, ca, tok)})
}

// rbacManager starts `crossplane rbac start` as the chart's rbac-manager
// ServiceAccount, with the chart's --provider-clusterrole. It binds its
// metrics to :8080 with no flag to move it, so it runs like a pod, as
// provider-terraform does: in a network namespace of its own (netns-run),
// chrooted into a root of its own holding the binary and in-cluster
// credentials, as a non-root user.
func (p *plane) rbacManager(ctx context.Context) error {
	root := filepath.Join(p.dir, "rbac-manager", "rootfs")
	if err := os.RemoveAll(filepath.Dir(root)); err != nil {
		return err
	}
	bin := filepath.Join(root, "usr", "local", "bin", "crossplane")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return err
	}
	if err := linkOrCopy(p.state.Tools["crossplane"], bin); err != nil {
		return err
	}
	img := &unpacked{Root: root, UID: DefaultPodUser, GID: DefaultPodUser}
	tok, err := p.token(ctx, RBACManagerServiceAccount)
	if err != nil {
		return err
	}
	if err := p.mountServiceAccount(img, tok); err != nil {
		return err
	}
	runner, err := p.netnsRunner(ctx)
	if err != nil {
		return err
	}
	api, err := hostPort(p.state.Server)
	if err != nil {
		return err
	}
	_, port, _ := strings.Cut(api, ":")
	argv := []string{
		"--root", root, "--uid", strconv.Itoa(img.UID), "--gid", strconv.Itoa(img.GID), "--forward", api, "--",
		"/usr/local/bin/crossplane", "--debug", "rbac", "start", "--provider-clusterrole=crossplane:allowed-provider-permissions",
	}
	cmd := exec.Command(runner, argv...) //nolint:noctx // Outlives this program; stopped by down.
	// A pod's environment, not this program's (no KUBECONFIG).
	cmd.Env = []string{"KUBERNETES_SERVICE_HOST=127.0.0.1", "KUBERNETES_SERVICE_PORT=" + port}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	r, err := p.launch(rbacManagerProcess, cmd, fmt.Sprintf("crossplane rbac start (root %s, uid %d, own network namespace)", rel(root), img.UID))
	if err != nil {
		return err
	}
	// It has no health endpoint outside its namespace: the XRD controller
	// starting is the sign it runs.
	return p.waitFor(ctx, "crossplane rbac start", 2*time.Minute, r, func(context.Context) (bool, error) {
		b, err := os.ReadFile(r.Log)
		return bytes.Contains(b, []byte("Starting workers")), err
	})
}

func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()                                                        //nolint:errcheck // Read-only.
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755) //nolint:gosec // An executable every user of the root may run, as in an image.
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}
