package eventstream

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/resource"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/auth0client"
	"github.com/xp-auth0/auth0-eventstream/internal/redact"
	"github.com/xp-auth0/auth0-eventstream/internal/secretcache"
)

// TestSecretsNeverEchoed feeds Connect's client Auth0 400 answers that
// quote a secret back, as Auth0 quotes a value it refuses, and checks that
// what the managed reconciler gets (the error it turns into conditions and
// events, the conditions) never holds it.
func TestSecretsNeverEchoed(t *testing.T) {
	const userinfo = "alice:hunter22-pass"
	endpoint := "https://" + userinfo + "@hooks.example.com/x"
	pc := &v1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default", UID: "pc-uid"},
		Spec: v1alpha1.ProviderConfigSpec{Credentials: v1alpha1.LocalCredentials{
			Source: v1alpha1.CredentialsSourceSecret, SecretRef: &xpv2.LocalSecretReference{Name: "auth0"},
		}},
	}
	withPC := func(es *v1alpha1.EventStream) {
		es.Spec.ProviderConfigReference = &xpv2.ProviderConfigReference{Kind: "ProviderConfig", Name: "default"}
	}
	withEndpoint := func(es *v1alpha1.EventStream) { es.Spec.ForProvider.Destination.Webhook.Endpoint = endpoint }

	cases := map[string]struct {
		es     *v1alpha1.EventStream
		method string // of the fake Auth0 that fails
		auth0  string // what Auth0 answers
		call   func(context.Context, *redacting, *v1alpha1.EventStream) error
		leaks  []string
		keep   string // what must survive masking
	}{
		"token echoed on create": {
			es:     webhookES("bearer", withPC),
			method: "POST",
			auth0:  "Payload validation error: 'String does not match pattern: " + token + "' on property destination.configuration.webhook_authorization.token.",
			call: func(ctx context.Context, r *redacting, es *v1alpha1.EventStream) error {
				_, err := r.Create(ctx, es)
				return err
			},
			leaks: []string{token},
			keep:  "on property destination.configuration.webhook_authorization.token",
		},
		"endpoint user-info echoed on create": {
			es:     webhookES("bearer", withPC, withEndpoint),
			method: "POST",
			auth0:  "Payload validation error: 'Object didn't pass validation for format absolute-https-uri: " + endpoint + "' on property destination.configuration.webhook_endpoint.",
			call: func(ctx context.Context, r *redacting, es *v1alpha1.EventStream) error {
				_, err := r.Create(ctx, es)
				return err
			},
			leaks: []string{userinfo, "hunter22"},
			keep:  "https://[redacted]@hooks.example.com/x",
		},
		"header value echoed on update": {
			es:     webhookES("custom_header", withPC, withStreamIn(streamID, "tenant.example.com")),
			method: "PATCH",
			auth0:  `Payload validation error: 'Additional properties not allowed: {"header_value":"` + token + `"}'`,
			call: func(ctx context.Context, r *redacting, es *v1alpha1.EventStream) error {
				if _, err := r.Observe(ctx, es); err != nil {
					return err
				}
				_, err := r.Update(ctx, es)
				return err
			},
			leaks: []string{token},
			keep:  "Additional properties not allowed",
		},
		"client secret echoed on read": {
			es:     webhookES("bearer", withPC, withStreamIn(streamID, "tenant.example.com")),
			method: "GET",
			auth0:  "upstream rejected client " + clientSecret,
			call: func(ctx context.Context, r *redacting, es *v1alpha1.EventStream) error {
				_, err := r.Observe(ctx, es)
				return err
			},
			leaks: []string{clientSecret},
			keep:  "upstream rejected client [redacted]",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			kube := fakeKube(t, pc, credSecret(ns, "auth0", clientSecret), hookSecret(token), tc.es)
			api := newAPI(webhookRemote(streamID))
			api.err[tc.method] = &apiError{400, tc.auth0}
			rec := &recorder{}
			c := &connector{
				kube:    kube,
				secrets: secretcache.New(kube, kube),
				usage:   resource.ModernTrackerFn(func(context.Context, resource.ModernManaged) error { return nil }),
				record:  rec,
				apiFor:  func(string, auth0client.Credentials) (auth0client.API, error) { return api, nil },
				key:     testKey,
				hosts:   auth0client.MustParseHosts("tenant.example.com"),
			}
			ctx := context.Background()
			ext, err := c.Connect(ctx, tc.es)
			if err != nil {
				t.Fatal(err)
			}
			// A condition a client sets from what Auth0 said is masked too.
			tc.es.SetConditions(xpv2.ReconcileError(&apiError{400, tc.auth0}))
			err = tc.call(ctx, ext.(*redacting), tc.es)
			if err == nil {
				t.Fatal("the call succeeded; want Auth0's 400")
			}
			if auth0client.StatusCode(err) != 400 {
				t.Errorf("StatusCode(err) = %d, want Auth0's 400 still visible to errors.As", auth0client.StatusCode(err))
			}
			texts := []string{err.Error(), tc.es.GetCondition(xpv2.TypeSynced).Message}
			for _, e := range rec.events {
				texts = append(texts, e.Message)
			}
			for _, text := range texts {
				for _, leak := range tc.leaks {
					if strings.Contains(text, leak) {
						t.Errorf("%q leaks %q", text, leak)
					}
				}
			}
			if !strings.Contains(err.Error(), tc.keep) {
				t.Errorf("error %q lost Auth0's message; want it to contain %q", err, tc.keep)
			}
		})
	}
}

func TestRedactingRecorder(t *testing.T) {
	rec := &recorder{}
	r := &redactingRecorder{rec: rec, red: redact.New(token)}
	r.WithAnnotations("k", "v").Event(webhookES("bearer"), event.Warning("Reason", &apiError{400, "bad " + token + " at https://u:p@h"}))
	if len(rec.events) != 1 || strings.Contains(rec.events[0].Message, token) || strings.Contains(rec.events[0].Message, "u:p@") {
		t.Errorf("events = %+v, want one without the secrets", rec.events)
	}
}

func TestConnectErrorsMasked(t *testing.T) {
	// Building a client may fail with an error quoting what it was given.
	cpc := &v1alpha1.ClusterProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "shared", UID: "cpc-uid"},
		Spec: v1alpha1.ClusterProviderConfigSpec{Credentials: v1alpha1.ClusterCredentials{
			Source: v1alpha1.CredentialsSourceSecret, SecretRef: &xpv2.SecretReference{Namespace: "crossplane-system", Name: "auth0"},
		}},
	}
	s := credSecret("crossplane-system", "auth0", clientSecret)
	kube := fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(cpc, s).Build()
	c := &connector{
		kube:    kube,
		secrets: secretcache.New(kube, kube),
		usage:   resource.ModernTrackerFn(func(context.Context, resource.ModernManaged) error { return nil }),
		record:  &recorder{},
		key:     testKey,
		hosts:   auth0client.MustParseHosts("tenant.example.com"),
		apiFor: func(string, auth0client.Credentials) (auth0client.API, error) {
			return nil, &apiError{400, "cannot reach https://client-1:" + clientSecret + "@tenant.example.com"}
		},
	}
	es := actionES("a", func(es *v1alpha1.EventStream) {
		es.Spec.ProviderConfigReference = &xpv2.ProviderConfigReference{Kind: "ClusterProviderConfig", Name: "shared"}
	})
	_, err := c.Connect(context.Background(), es)
	if err == nil || strings.Contains(err.Error(), clientSecret) || strings.Contains(err.Error(), "client-1:") {
		t.Errorf("Connect() error = %v, want one without the credentials", err)
	}
}

// TestSecretsKnownBeforeDeliveryHealth: Auth0's delivery failure message
// quoting the webhook token (a destination echoing the Authorization it
// got, say) is masked on the very first Observe of a Connect: the
// referenced Secret is read, and its value known to the redactor, before
// delivery health is written to status. The Secret's value is sent
// trimmed, and masked trimmed too.
func TestSecretsKnownBeforeDeliveryHealth(t *testing.T) {
	pc := &v1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default", UID: "pc-uid"},
		Spec: v1alpha1.ProviderConfigSpec{Credentials: v1alpha1.LocalCredentials{
			Source: v1alpha1.CredentialsSourceSecret, SecretRef: &xpv2.LocalSecretReference{Name: "auth0"},
		}},
	}
	es := webhookES("bearer", withStreamIn(streamID, "tenant.example.com"), func(es *v1alpha1.EventStream) {
		es.Spec.ProviderConfigReference = &xpv2.ProviderConfigReference{Kind: "ProviderConfig", Name: "default"}
	})
	kube := fakeKube(t, pc, credSecret(ns, "auth0", clientSecret), hookSecret(token+"\n"), es)
	api := newAPI(webhookRemote(streamID))
	api.stats = auth0client.DeliveryStats{Failed: 1}
	api.failed = []auth0client.FailedDelivery{{EventType: "user.created", At: created, ErrorMessage: "401 from endpoint: token " + token + " rejected"}}
	c := &connector{
		kube:    kube,
		secrets: secretcache.New(kube, kube),
		usage:   resource.ModernTrackerFn(func(context.Context, resource.ModernManaged) error { return nil }),
		record:  &recorder{},
		apiFor:  func(string, auth0client.Credentials) (auth0client.API, error) { return api, nil },
		key:     testKey,
		hosts:   auth0client.MustParseHosts("tenant.example.com"),
		// Every read is due.
		deliveryPoll: time.Nanosecond,
		reads:        newDeliveryReads(0),
	}
	ext, err := c.Connect(context.Background(), es)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ext.Observe(context.Background(), es); err != nil {
		t.Fatal(err)
	}
	f := es.Status.AtProvider.Deliveries.LastFailure
	if f == nil || strings.Contains(f.Message, token) || !strings.Contains(f.Message, "token [redacted] rejected") {
		t.Errorf("lastFailure = %+v, want the token masked", f)
	}
	if c := deliveriesCond(es); strings.Contains(c.Message, token) {
		t.Errorf("DeliveriesHealthy leaks the token: %s", c.Message)
	}
}
