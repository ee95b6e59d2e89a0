package eventstream

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
			err: "ProviderConfig team-a/env: spec.credentials.source Environment (the provider's own credentials) is only allowed in a ClusterProviderConfig",
		},
		"MissingConfig": {es: actionES("a", withRef("ProviderConfig", "nope")), err: "cannot get ProviderConfig"},
		"UnknownKind":   {es: actionES("a", withRef("Other", "x")), err: `unsupported providerConfigRef kind "Other"`},
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
			}
			ext, err := c.Connect(context.Background(), tc.es)
			if tracked != 1 {
				t.Errorf("usage tracked %d times, want 1", tracked)
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
