package controlplane

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// A provider's process runs as its own ServiceAccount, as a pod of
// Crossplane's Deployment runtime does (v2.2.1 internal/controller/pkg/
// runtime: ServiceAccount and Deployment builders): the ServiceAccount is
// named after the revision (or the DeploymentRuntimeConfig's
// serviceAccountTemplate) in crossplane-system and owned by the revision.
// Crossplane's RBAC manager binds the ClusterRole it generates for a
// provider revision (crossplane:provider:<revision>:system) to the
// ServiceAccounts of the Deployments the revision owns (internal/
// controller/rbac/provider/binding), so the plane also creates that
// Deployment, owned by the revision and naming the ServiceAccount, with no
// replicas: nothing runs it (no Deployment controller or kubelet here);
// the plane runs its process. The process finds a TokenRequest token of
// the ServiceAccount, the cluster's CA and the namespace where a pod has
// them, and KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT in its
// environment: the in-cluster configuration, no kubeconfig.

var deploymentGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

// serviceAccountDir is where a pod finds its in-cluster credentials.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

const (
	// ProviderServiceAccount is the account providerPermissionsFile gives
	// our provider and grants what it needs beyond the role Crossplane's
	// RBAC manager generates.
	ProviderServiceAccount = "provider-auth0-eventstream"
	// providerPermissionsFile is the platform's grant, which the plane
	// applies as is but for the ImageConfig's prefix.
	providerPermissionsFile = "example/rbac/provider-permissions.yaml"
)

// providerPermissions applies providerPermissionsFile, its ImageConfig
// matching our provider's package in the plane's registry (the image
// Crossplane resolves after the plane's rewrite), as a platform team
// applies it before installing the Configuration.
func (p *plane) providerPermissions(ctx context.Context) error {
	b, err := os.ReadFile(filepath.Join(p.state.RepoRoot, providerPermissionsFile))
	if err != nil {
		return err
	}
	var objs []*unstructured.Unstructured
	for doc := range bytes.SplitSeq(b, []byte("\n---\n")) {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			return fmt.Errorf("%s: %w", providerPermissionsFile, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.GetKind() == "ImageConfig" {
			matches, _, _ := unstructured.NestedSlice(u.Object, "spec", "matchImages")
			for _, m := range matches {
				if mm, ok := m.(map[string]any); ok {
					prefix, _ := mm["prefix"].(string)
					mm["prefix"] = strings.Replace(prefix, PackageRepository+"/", p.state.Registry.Repository()+"/", 1)
				}
			}
			if err := unstructured.SetNestedSlice(u.Object, matches, "spec", "matchImages"); err != nil {
				return err
			}
		}
		objs = append(objs, u)
	}
	if err := p.applyObjects(ctx, providerPermissionsFile, objs); err != nil {
		return err
	}
	p.logf("%s applied: the provider runs as ServiceAccount %s with the extra permissions it needs", providerPermissionsFile, ProviderServiceAccount)
	return nil
}

// providerAccount creates the revision's ServiceAccount and inert
// Deployment, waits until the RBAC manager bound the revision's system
// ClusterRole to the ServiceAccount, and gives the process the account's
// in-cluster credentials. It returns the ServiceAccount's name.
func (p *plane) providerAccount(ctx context.Context, rev *unstructured.Unstructured, rc runtimeConfig, img *unpacked) (string, error) {
	sa := rev.GetName()
	if t := rc.Spec.ServiceAccountTemplate; t != nil && t.Metadata != nil && t.Metadata.Name != nil && *t.Metadata.Name != "" {
		sa = *t.Metadata.Name
	}
	deploy := rev.GetName()
	if t := rc.Spec.DeploymentTemplate; t != nil && t.Metadata != nil && t.Metadata.Name != nil && *t.Metadata.Name != "" {
		deploy = *t.Metadata.Name
	}
	owner := []any{map[string]any{
		"apiVersion": rev.GetAPIVersion(), "kind": rev.GetKind(), "name": rev.GetName(), "uid": string(rev.GetUID()),
		"controller": true, "blockOwnerDeletion": true,
	}}
	labels := map[string]any{"pkg.crossplane.io/revision": rev.GetName(), "pkg.crossplane.io/provider": rev.GetLabels()[packageLabel]}
	objs := []struct {
		gvr schema.GroupVersionResource
		u   *unstructured.Unstructured
	}{
		{
			schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"},
			&unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "v1", "kind": "ServiceAccount",
				"metadata": map[string]any{"name": sa, "namespace": crossplaneNamespace, "ownerReferences": owner},
			}},
		},
		{
			deploymentGVR,
			&unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "apps/v1", "kind": "Deployment",
				"metadata": map[string]any{
					"name": deploy, "namespace": crossplaneNamespace, "ownerReferences": owner,
					"annotations": map[string]any{"controlplane.auth0-eventstream/played": "the control plane runs this revision's process; the Deployment only names its ServiceAccount for Crossplane's RBAC manager"},
				},
				"spec": map[string]any{
					"replicas": int64(0),
					"selector": map[string]any{"matchLabels": labels},
					"template": map[string]any{
						"metadata": map[string]any{"labels": labels},
						"spec": map[string]any{
							"serviceAccountName": sa,
							"containers":         []any{map[string]any{"name": RuntimeContainer, "image": img.Ref}},
						},
					},
				},
			}},
		},
	}
	for _, o := range objs {
		if _, err := p.dyn.Resource(o.gvr).Namespace(crossplaneNamespace).Apply(ctx, o.u.GetName(), o.u, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
			return "", fmt.Errorf("apply %s %s: %w", o.u.GetKind(), o.u.GetName(), err)
		}
	}
	// The RBAC manager makes the role and the binding by separate
	// controllers: wait for both.
	binding := "crossplane:provider:" + rev.GetName() + ":system"
	if err := p.waitFor(ctx, "ClusterRole and ClusterRoleBinding "+binding+" (Crossplane's RBAC manager)", 2*time.Minute, p.running[rbacManagerProcess], func(ctx context.Context) (bool, error) {
		if cr, err := p.kube.RbacV1().ClusterRoles().Get(ctx, binding, metav1.GetOptions{}); err != nil || len(cr.Rules) == 0 {
			return false, err
		}
		crb, err := p.kube.RbacV1().ClusterRoleBindings().Get(ctx, binding, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, s := range crb.Subjects {
			if s.Kind == "ServiceAccount" && s.Namespace == crossplaneNamespace && s.Name == sa {
				return true, nil
			}
		}
		return false, fmt.Errorf("subjects %v", crb.Subjects)
	}); err != nil {
		return "", err
	}
	tok, err := p.token(ctx, sa)
	if err != nil {
		return "", err
	}
	if err := p.mountServiceAccount(img, tok); err != nil {
		return "", err
	}
	api, err := hostPort(p.state.Server)
	if err != nil {
		return "", err
	}
	host, port, _ := strings.Cut(api, ":")
	img.Env = overlay(img.Env, []string{"KUBERNETES_SERVICE_HOST=" + host, "KUBERNETES_SERVICE_PORT=" + port})
	return sa, nil
}

// mountServiceAccount places what a pod finds in serviceAccountDir: the
// token, the cluster's CA and the namespace, readable by the process's
// user only.
func (p *plane) mountServiceAccount(img *unpacked, token string) error {
	ca, err := os.ReadFile(filepath.Join(p.dir, "pki", "ca.crt"))
	if err != nil {
		return fmt.Errorf("read the cluster CA: %w", err)
	}
	dir := filepath.Join(img.Root, serviceAccountDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return writeOwned(img, dir, map[string][]byte{"token": []byte(token), "ca.crt": ca, "namespace": []byte(crossplaneNamespace)})
}
