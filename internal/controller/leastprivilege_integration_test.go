package controller_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	xpcontroller "github.com/xp-auth0/auth0-eventstream/internal/controller"
	"github.com/xp-auth0/auth0-eventstream/internal/controller/eventstream"
	"github.com/xp-auth0/auth0-eventstream/internal/proof"
	"github.com/xp-auth0/auth0-eventstream/internal/providertest"
)

// providerSA is the ServiceAccount the least-privilege provider acts as,
// in its own namespace.
const providerSA = "provider-auth0-eventstream"

// saUser is providerSA as the API server authenticates it.
var saUser = "system:serviceaccount:" + providertest.KeyNamespace + ":" + providerSA

// TestLeastPrivilege runs the provider with --secret-watch=none and
// leader election as a ServiceAccount bound to nothing but
// package/provider-rbac/least-privilege.yaml: it makes its proof key and
// Lease, creates a webhook stream, uses a rotated webhook Secret within
// eventstream.PolledRotationBound of the write, and deletes the stream.
// The API server authorizes with RBAC, so any list or watch of Secrets, or
// anything else the role lacks, is refused and the steps fail. A
// SubjectAccessReview shows the role denies what the provider must not do.
func TestLeastPrivilege(t *testing.T) {
	const poll = 2 * time.Second
	h := startAsProvider(t, providertest.Options{Poll: poll, SecretWatch: eventstream.SecretWatchNone}, "least-privilege.yaml")
	t.Run("RoleDeniesMore", h.roleDeniesMore)
	h.lifecycleAsProvider(t, eventstream.PolledRotationBound(poll, 0))
}

// TestSecretWatchRole runs the provider with --secret-watch=cluster as a
// ServiceAccount bound to least-privilege.yaml and secret-watch.yaml, which
// is all that mode needs besides. The poll is longer than the test waits,
// so only the watch can bring the rotated Secret to Auth0.
func TestSecretWatchRole(t *testing.T) {
	h := startAsProvider(t, providertest.Options{Poll: time.Hour, SecretWatch: eventstream.SecretWatchCluster}, "least-privilege.yaml", "secret-watch.yaml")
	h.lifecycleAsProvider(t, timeout)
}

// startAsProvider starts the provider with leader election as providerSA,
// bound to the roles of the files of package/provider-rbac.
func startAsProvider(t *testing.T, o providertest.Options, roles ...string) *harness {
	t.Helper()
	o.LeaderElection = true
	o.Impersonate = &rest.ImpersonationConfig{UserName: saUser}
	o.BeforeProvider = func(tb testing.TB, env *providertest.Env) {
		tb.Helper()
		for _, f := range roles {
			grant(tb, env, f)
		}
	}
	env := providertest.Start(t, o)
	return &harness{t: t, env: env, ctx: t.Context()}
}

// lifecycleAsProvider creates a webhook stream, rotates its Secret, which
// must reach Auth0 within rotation of the write, and deletes it.
func (h *harness) lifecycleAsProvider(t *testing.T, rotation time.Duration) {
	t.Helper()
	env := h.env
	env.Namespace(h.ctx, t, ns, providertest.ClientSecret)
	h.secret(t, "hook-lp", "token-one")
	h.create(t, webhook("lp", "hook-lp"))
	id := meta.GetExternalName(h.ready(t, "lp"))

	t.Run("ProviderKeptItsOwnState", func(t *testing.T) {
		// Made by the provider, then patched once no legacy state is left.
		providertest.Eventually(t, timeout, "the proof key marked legacy-recorded", func() string {
			s := &corev1.Secret{}
			if err := env.Kube.Get(h.ctx, client.ObjectKey{Namespace: providertest.KeyNamespace, Name: proof.SecretName}, s); err != nil {
				return err.Error()
			}
			if s.Annotations[proof.AnnotationLegacyRecorded] != "true" {
				return fmt.Sprintf("annotations %v", s.Annotations)
			}
			return ""
		})
		l := &coordinationv1.Lease{}
		if err := env.Kube.Get(h.ctx, client.ObjectKey{Namespace: providertest.KeyNamespace, Name: xpcontroller.LeaderElectionID}, l); err != nil || l.Spec.HolderIdentity == nil {
			t.Errorf("leader election Lease: %v, %+v", err, l.Spec)
		}
		providertest.Eventually(t, timeout, "the ProviderConfig counts its user", func() string {
			pc := &v1alpha1.ProviderConfig{}
			if err := env.Kube.Get(h.ctx, client.ObjectKey{Namespace: ns, Name: "default"}, pc); err != nil {
				return err.Error()
			}
			if pc.Status.Users != 1 {
				return fmt.Sprintf("status.users = %d", pc.Status.Users)
			}
			return ""
		})
		providertest.Eventually(t, timeout, "an event about the stream", func() string {
			l := &corev1.EventList{}
			if err := env.Kube.List(h.ctx, l, client.InNamespace(ns)); err != nil {
				return err.Error()
			}
			for _, e := range l.Items {
				if e.InvolvedObject.Name == "lp" {
					return ""
				}
			}
			return fmt.Sprintf("none among %d events", len(l.Items))
		})
	})

	t.Run("RotationReachesAuth0", func(t *testing.T) {
		s := &corev1.Secret{}
		if err := env.Kube.Get(h.ctx, client.ObjectKey{Namespace: ns, Name: "hook-lp"}, s); err != nil {
			t.Fatal(err)
		}
		s.Data["token"] = []byte("token-two")
		if err := env.Kube.Update(h.ctx, s); err != nil {
			t.Fatal(err)
		}
		providertest.Eventually(t, rotation, "rotated token reaches Auth0", func() string {
			if got := h.stream(t, id).Destination.Webhook.Token; got != "token-two" {
				return "Auth0 still has the old token"
			}
			return ""
		})
	})

	t.Run("Delete", func(t *testing.T) {
		if err := env.Kube.Delete(h.ctx, h.get(t, "lp")); err != nil {
			t.Fatal(err)
		}
		providertest.Eventually(t, timeout, "EventStream gone", func() string {
			err := env.Kube.Get(h.ctx, client.ObjectKey{Namespace: ns, Name: "lp"}, &v1alpha1.EventStream{})
			if !kerrors.IsNotFound(err) {
				return fmt.Sprintf("still there (%v)", err)
			}
			return ""
		})
		if _, ok := h.sim().Stream(id); ok {
			t.Errorf("stream %s still exists in Auth0", id)
		}
	})
}

// grant binds providerSA to the roles of package/provider-rbac/file, a
// Role moved to the test's provider namespace.
func grant(tb testing.TB, env *providertest.Env, file string) {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(providertest.ModuleRoot(), "package", "provider-rbac", file))
	if err != nil {
		tb.Fatal(err)
	}
	subjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: providertest.KeyNamespace, Name: providerSA}}
	roles := 0
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			tb.Fatal(err)
		}
		switch tm.Kind {
		case "ClusterRole":
			cr := &rbacv1.ClusterRole{}
			if err := yaml.UnmarshalStrict(doc, cr); err != nil {
				tb.Fatal(err)
			}
			create(tb, env, cr, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: cr.Name},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: cr.Name},
				Subjects:   subjects,
			})
		case "Role":
			role := &rbacv1.Role{}
			if err := yaml.UnmarshalStrict(doc, role); err != nil {
				tb.Fatal(err)
			}
			role.Namespace = providertest.KeyNamespace
			create(tb, env, role, &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Namespace: role.Namespace, Name: role.Name},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
				Subjects:   subjects,
			})
		case "":
			continue
		default:
			tb.Fatalf("%s holds a %s; want ClusterRoles and Roles", file, tm.Kind)
		}
		roles++
	}
	if roles == 0 {
		tb.Fatalf("%s holds no role", file)
	}
}

// create makes objs as the admin.
func create(tb testing.TB, env *providertest.Env, objs ...client.Object) {
	tb.Helper()
	for _, o := range objs {
		if err := env.Kube.Create(tb.Context(), o); err != nil {
			tb.Fatalf("cannot create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// roleDeniesMore asks the API server's authorizer, as kubectl auth can-i
// --as the provider's ServiceAccount would, what the least-privilege
// provider may do: what it needs is allowed, reading every Secret (list,
// watch), writing Secrets outside its proof key, and granting itself more
// are denied.
func (h *harness) roleDeniesMore(t *testing.T) {
	team := ns
	for _, c := range []struct {
		attrs authorizationv1.ResourceAttributes
		allow bool
	}{
		{authorizationv1.ResourceAttributes{Verb: "*", Group: "*", Resource: "*"}, false},
		{authorizationv1.ResourceAttributes{Verb: "list", Resource: "secrets"}, false},
		{authorizationv1.ResourceAttributes{Verb: "watch", Resource: "secrets"}, false},
		{authorizationv1.ResourceAttributes{Verb: "list", Resource: "secrets", Namespace: team}, false},
		{authorizationv1.ResourceAttributes{Verb: "list", Resource: "secrets", Namespace: providertest.KeyNamespace}, false},
		{authorizationv1.ResourceAttributes{Verb: "watch", Resource: "secrets", Namespace: providertest.KeyNamespace}, false},
		{authorizationv1.ResourceAttributes{Verb: "create", Resource: "secrets", Namespace: team}, false},
		{authorizationv1.ResourceAttributes{Verb: "update", Resource: "secrets", Namespace: team, Name: "hook-lp"}, false},
		{authorizationv1.ResourceAttributes{Verb: "patch", Resource: "secrets", Namespace: providertest.KeyNamespace, Name: "other"}, false},
		{authorizationv1.ResourceAttributes{Verb: "delete", Resource: "secrets", Namespace: providertest.KeyNamespace, Name: proof.SecretName}, false},
		{authorizationv1.ResourceAttributes{Verb: "create", Group: rbacv1.GroupName, Resource: "clusterrolebindings"}, false},
		{authorizationv1.ResourceAttributes{Verb: "create", Group: rbacv1.GroupName, Resource: "rolebindings", Namespace: providertest.KeyNamespace}, false},
		{authorizationv1.ResourceAttributes{Verb: "escalate", Group: rbacv1.GroupName, Resource: "clusterroles"}, false},
		{authorizationv1.ResourceAttributes{Verb: "impersonate", Resource: "serviceaccounts"}, false},
		{authorizationv1.ResourceAttributes{Verb: "create", Resource: "pods", Namespace: providertest.KeyNamespace}, false},
		{authorizationv1.ResourceAttributes{Verb: "create", Group: v1alpha1.Group, Resource: "eventstreams", Namespace: team}, false},
		{authorizationv1.ResourceAttributes{Verb: "update", Group: "tf.m.upbound.io", Resource: "workspaces", Namespace: team}, false},
		{authorizationv1.ResourceAttributes{Verb: "get", Resource: "secrets", Namespace: team, Name: "hook-lp"}, true},
		{authorizationv1.ResourceAttributes{Verb: "create", Resource: "secrets", Namespace: providertest.KeyNamespace}, true},
		{authorizationv1.ResourceAttributes{Verb: "patch", Resource: "secrets", Namespace: providertest.KeyNamespace, Name: proof.SecretName}, true},
		{authorizationv1.ResourceAttributes{Verb: "update", Group: v1alpha1.Group, Resource: "eventstreams", Namespace: team}, true},
		{authorizationv1.ResourceAttributes{Verb: "patch", Group: v1alpha1.Group, Resource: "eventstreams", Subresource: "status", Namespace: team}, true},
		{authorizationv1.ResourceAttributes{Verb: "watch", Group: v1alpha1.Group, Resource: "clusterproviderconfigs"}, true},
		{authorizationv1.ResourceAttributes{Verb: "create", Resource: "events", Namespace: team}, true},
		{authorizationv1.ResourceAttributes{Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Namespace: providertest.KeyNamespace, Name: xpcontroller.LeaderElectionID}, true},
	} {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               saUser,
			Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + providertest.KeyNamespace, "system:authenticated"},
			ResourceAttributes: &c.attrs,
		}}
		if err := h.env.Kube.Create(h.ctx, sar); err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed != c.allow {
			t.Errorf("can-i %s %s.%s/%s in %q (name %q): allowed = %t, want %t (%s)",
				c.attrs.Verb, c.attrs.Resource, c.attrs.Group, c.attrs.Subresource, c.attrs.Namespace, c.attrs.Name, sar.Status.Allowed, c.allow, sar.Status.Reason)
		}
	}
}
