package eventstream

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/crossplane/crossplane-runtime/v2/pkg/resource"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/auth0client"
	"github.com/xp-auth0/auth0-eventstream/internal/secretcache"
)

const clientSecret = "m2m-client-secret"

func credSecret(namespace, name, secret string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Data: map[string][]byte{
		"domain": []byte("tenant.example.com"), "clientId": []byte("client-1"), "clientSecret": []byte(secret),
	}}
}

func TestConnect(t *testing.T) {
	pc := &v1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default", UID: "pc-uid"},
		Spec: v1alpha1.ProviderConfigSpec{Credentials: v1alpha1.LocalCredentials{
			Source: v1alpha1.CredentialsSourceSecret, SecretRef: &xpv2.LocalSecretReference{Name: "auth0"},
		}},
	}
	cpc := &v1alpha1.ClusterProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "shared", UID: "cpc-uid"},
		Spec: v1alpha1.ClusterProviderConfigSpec{Credentials: v1alpha1.ClusterCredentials{
			Source: v1alpha1.CredentialsSourceSecret, SecretRef: &xpv2.SecretReference{Namespace: "crossplane-system", Name: "auth0"},
		}},
	}
	envPC := &v1alpha1.ClusterProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "env", UID: "env-uid"},
		Spec:       v1alpha1.ClusterProviderConfigSpec{Credentials: v1alpha1.ClusterCredentials{Source: v1alpha1.CredentialsSourceEnvironment}},
	}
	// Stored before the CRD refused it: Connect refuses it too.
	envNamespaced := &v1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "env", UID: "env-ns-uid"},
		Spec:       v1alpha1.ProviderConfigSpec{Credentials: v1alpha1.LocalCredentials{Source: v1alpha1.CredentialsSourceEnvironment}},
	}
	// A namespaced ProviderConfig in another namespace whose name matches a
	// Secret only present in crossplane-system.
	other := pc.DeepCopy()
	other.Namespace, other.UID = "team-b", "other-uid"

	withRef := func(kind, name string) esOption {
		return func(es *v1alpha1.EventStream) {
			es.Spec.ProviderConfigReference = &xpv2.ProviderConfigReference{Kind: kind, Name: name}
		}
	}
	cases := map[string]struct {
		es  *v1alpha1.EventStream
		env map[string]string
		err string
		// untracked: refused before the use is tracked.
		untracked bool
	}{
		"ProviderConfig":        {es: actionES("a", withRef("ProviderConfig", "default"))},
		"ClusterProviderConfig": {es: actionES("a", withRef("ClusterProviderConfig", "shared"))},
		"Environment": {es: actionES("a", withRef("ClusterProviderConfig", "env")), env: map[string]string{
			"AUTH0_DOMAIN": "tenant.example.com", "AUTH0_CLIENT_ID": "c", "AUTH0_CLIENT_SECRET": clientSecret,
		}},
		"EnvironmentIncomplete": {
			es:  actionES("a", withRef("ClusterProviderConfig", "env")),
			env: map[string]string{"AUTH0_DOMAIN": "tenant.example.com", "AUTH0_CLIENT_SECRET": clientSecret},
			err: "provider environment: Auth0 credentials lack clientId",
		},
		"NamespacedConfigReadsOwnNamespaceOnly": {
			es: func() *v1alpha1.EventStream {
				es := actionES("a", withRef("ProviderConfig", "default"))
				es.Namespace = "team-b"
				return es
			}(),
			err: "cannot get the credentials Secret team-b/auth0",
		},
		"NamespacedEnvironment": {
			es: actionES("a", withRef("ProviderConfig", "env")),
			env: map[string]string{
				"AUTH0_DOMAIN": "tenant.example.com", "AUTH0_CLIENT_ID": "c", "AUTH0_CLIENT_SECRET": clientSecret,
			},
			err:       "ProviderConfig team-a/env: spec.credentials.source Environment (the provider's own credentials) is only allowed in a ClusterProviderConfig",
			untracked: true,
		},
		"MissingConfig": {es: actionES("a", withRef("ProviderConfig", "nope")), err: "cannot get ProviderConfig", untracked: true},
		"UnknownKind":   {es: actionES("a", withRef("Other", "x")), err: `unsupported providerConfigRef kind "Other"`, untracked: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			kube := fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(
				pc, cpc, envPC, envNamespaced, other, credSecret(ns, "auth0", clientSecret), credSecret("crossplane-system", "auth0", clientSecret),
			).Build()
			tracked := 0
			c := &connector{
				kube:    kube,
				secrets: secretcache.New(kube, kube),
				usage:   resource.ModernTrackerFn(func(context.Context, resource.ModernManaged) error { tracked++; return nil }),
				clients: auth0client.NewCache(auth0client.Config{Metrics: auth0client.NewMetrics()}),
				record:  &recorder{},
				getenv:  func(k string) string { return tc.env[k] },
				key:     testKey,
				hosts:   auth0client.MustParseHosts("tenant.example.com"),
			}
			ext, err := c.Connect(context.Background(), tc.es)
			if want := map[bool]int{false: 1, true: 0}[tc.untracked]; tracked != want {
				t.Errorf("usage tracked %d times, want %d", tracked, want)
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Connect() error = %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), clientSecret) {
					t.Errorf("Connect() error leaks the client secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Connect() error = %v", err)
			}
			again, err := c.Connect(context.Background(), tc.es)
			if err != nil {
				t.Fatalf("second Connect() error = %v", err)
			}
			if ext.(*redacting).inner.(*external).api != again.(*redacting).inner.(*external).api {
				t.Errorf("second Connect() built a new Auth0 client; want the cached one")
			}
			if c.clients.Len() != 1 {
				t.Errorf("cached clients = %d, want 1", c.clients.Len())
			}
			if got := ext.(*redacting).inner.(*external).tenant; got != "tenant.example.com" {
				t.Errorf("tenant = %q, want the credentials' domain", got)
			}
		})
	}
}

func TestConnectRebuildsOnRotatedCredentials(t *testing.T) {
	pc := &v1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default", UID: "pc-uid"},
		Spec: v1alpha1.ProviderConfigSpec{Credentials: v1alpha1.LocalCredentials{
			Source: v1alpha1.CredentialsSourceSecret, SecretRef: &xpv2.LocalSecretReference{Name: "auth0"},
		}},
	}
	s := credSecret(ns, "auth0", clientSecret)
	kube := fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(pc, s).Build()
	c := &connector{
		kube:    kube,
		secrets: secretcache.New(kube, kube),
		usage:   resource.ModernTrackerFn(func(context.Context, resource.ModernManaged) error { return nil }),
		clients: auth0client.NewCache(auth0client.Config{Metrics: auth0client.NewMetrics()}),
		record:  &recorder{},
		key:     testKey,
		hosts:   auth0client.MustParseHosts("tenant.example.com"),
	}
	es := actionES("a", func(es *v1alpha1.EventStream) {
		es.Spec.ProviderConfigReference = &xpv2.ProviderConfigReference{Kind: "ProviderConfig", Name: "default"}
	})
	first, err := c.Connect(context.Background(), es)
	if err != nil {
		t.Fatal(err)
	}
	s.Data["clientSecret"] = []byte("rotated-client-secret")
	if err := kube.Update(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	second, err := c.Connect(context.Background(), es)
	if err != nil {
		t.Fatal(err)
	}
	if first.(*redacting).inner.(*external).api == second.(*redacting).inner.(*external).api {
		t.Errorf("Connect() kept the client of the old credentials")
	}
	if c.clients.Len() != 1 {
		t.Errorf("cached clients = %d, want 1 (the old one replaced)", c.clients.Len())
	}
}

// TestConnectPerimeter: a ClusterProviderConfig serves only the namespaces
// its spec.namespaceSelector selects, and no config reaches a host outside
// --auth0-domains. Both refusals come before the credentials are used, the
// use is tracked or any client is built, and name the config and the rule.
func TestConnectPerimeter(t *testing.T) {
	selecting := func(name string, sel *metav1.LabelSelector) *v1alpha1.ClusterProviderConfig {
		return &v1alpha1.ClusterProviderConfig{
			ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name + "-uid")},
			Spec: v1alpha1.ClusterProviderConfigSpec{
				Credentials:       v1alpha1.ClusterCredentials{Source: v1alpha1.CredentialsSourceSecret, SecretRef: &xpv2.SecretReference{Namespace: "crossplane-system", Name: "auth0"}},
				NamespaceSelector: sel,
			},
		}
	}
	evil := &v1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "evil", UID: "evil-uid"},
		Spec: v1alpha1.ProviderConfigSpec{Credentials: v1alpha1.LocalCredentials{
			Source: v1alpha1.CredentialsSourceSecret, SecretRef: &xpv2.LocalSecretReference{Name: "evil"},
		}},
	}
	evilSecret := credSecret(ns, "evil", clientSecret)
	evilSecret.Data["domain"] = []byte("collector.attacker.example")
	namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"kubernetes.io/metadata.name": ns, "team": "a"}}}
	objs := []client.Object{
		namespace, evil, evilSecret, credSecret("crossplane-system", "auth0", clientSecret),
		selecting("team-b-only", &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "team-b"}}),
		selecting("by-name", &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: []string{"team-a", "team-c"}}}}),
		selecting("by-label", &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}),
		selecting("everyone", nil),
		selecting("empty", &metav1.LabelSelector{}),
		selecting("invalid", &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Near"}}}),
	}
	ref := func(kind, name string) esOption {
		return func(es *v1alpha1.EventStream) {
			es.Spec.ProviderConfigReference = &xpv2.ProviderConfigReference{Kind: kind, Name: name}
		}
	}
	cases := map[string]struct {
		es  *v1alpha1.EventStream
		err []string
	}{
		"NotSelected":     {es: actionES("a", ref("ClusterProviderConfig", "team-b-only")), err: []string{"ClusterProviderConfig team-b-only may not be used in namespace team-a", "spec.namespaceSelector", "kubernetes.io/metadata.name=team-b", "nothing was read or sent to Auth0"}},
		"InvalidRule":     {es: actionES("a", ref("ClusterProviderConfig", "invalid")), err: []string{"ClusterProviderConfig invalid: spec.namespaceSelector is not a valid label selector"}},
		"SelectedByName":  {es: actionES("a", ref("ClusterProviderConfig", "by-name"))},
		"SelectedByLabel": {es: actionES("a", ref("ClusterProviderConfig", "by-label"))},
		"NoSelector":      {es: actionES("a", ref("ClusterProviderConfig", "everyone"))},
		"EmptySelector":   {es: actionES("a", ref("ClusterProviderConfig", "empty"))},
		"HostRefused":     {es: actionES("a", ref("ProviderConfig", "evil")), err: []string{"ProviderConfig team-a/evil", `domain "collector.attacker.example" is not one the provider may call`, "--auth0-domains", "nothing was sent to that host"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			kube := fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(objs...).Build()
			tracked, built := 0, 0
			c := &connector{
				kube:    kube,
				secrets: secretcache.New(kube, kube),
				usage:   resource.ModernTrackerFn(func(context.Context, resource.ModernManaged) error { tracked++; return nil }),
				record:  &recorder{},
				key:     testKey,
				hosts:   auth0client.MustParseHosts("tenant.example.com"),
				apiFor: func(string, auth0client.Credentials) (auth0client.API, error) {
					built++
					return newAPI(), nil
				},
			}
			_, err := c.Connect(context.Background(), tc.es)
			if len(tc.err) == 0 {
				if err != nil || built != 1 {
					t.Fatalf("Connect() = %v after building %d clients, want a client", err, built)
				}
				return
			}
			wantErr(t, err, tc.err...)
			if built != 0 {
				t.Errorf("built %d Auth0 clients, want none", built)
			}
			if name != "HostRefused" && tracked != 0 {
				t.Errorf("usage tracked %d times, want 0 for a namespace the config does not serve", tracked)
			}
			if strings.Contains(err.Error(), clientSecret) {
				t.Errorf("error leaks the client secret: %v", err)
			}
		})
	}

	t.Run("DeletionLetGo", func(t *testing.T) {
		// Refused and being deleted: a resource that holds no stream is let
		// go without a call; one that holds a stream is not.
		kube := fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(objs...).Build()
		c := &connector{
			kube: kube, secrets: secretcache.New(kube, kube), record: &recorder{}, key: testKey,
			usage: resource.ModernTrackerFn(func(context.Context, resource.ModernManaged) error { return nil }),
			hosts: auth0client.MustParseHosts("tenant.example.com"),
			apiFor: func(string, auth0client.Credentials) (auth0client.API, error) {
				return nil, errors.New("no client wanted")
			},
		}
		deleted := func(es *v1alpha1.EventStream) {
			es.DeletionTimestamp = &metav1.Time{Time: created}
			es.Finalizers = []string{"finalizer.managedresource.crossplane.io"}
		}
		es := actionES("a", ref("ClusterProviderConfig", "team-b-only"), withExternalName(streamID), deleted)
		ext, err := c.Connect(context.Background(), es)
		if err != nil {
			t.Fatalf("Connect() = %v, want a client that lets the resource go", err)
		}
		if obs, err := ext.Observe(context.Background(), es); err != nil || obs.ResourceExists {
			t.Errorf("Observe() = %+v, %v; want nothing to delete", obs, err)
		}
		owning := actionES("a", ref("ClusterProviderConfig", "team-b-only"), withStream(streamID), deleted)
		if _, err := c.Connect(context.Background(), owning); err == nil {
			t.Error("Connect() let a resource holding a stream go")
		}
	})
}
