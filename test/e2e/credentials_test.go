//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/xp-auth0/auth0-eventstream/internal/auth0sim"
)

// Provider-level resources these tests use directly.
var (
	providerConfigGVR = schema.GroupVersionResource{Group: "auth0.m.openmcf.org", Version: "v1alpha1", Resource: "providerconfigs"}
)

// TestNamespacedProviderConfigCannotUseEnvironment: the provider's own
// credentials are for ClusterProviderConfigs only; the API server refuses a
// namespaced ProviderConfig asking for them, naming the field.
func TestNamespacedProviderConfigCannotUseEnvironment(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "pc-environment")
	out, err := kubectl(t.Context(), fmt.Appendf(nil, `apiVersion: auth0.m.openmcf.org/v1alpha1
kind: ProviderConfig
metadata: {name: borrowed, namespace: %s}
spec:
  credentials: {source: Environment}
`, ns), "apply", "-f", "-")
	if err == nil {
		t.Fatalf("the API server accepted a namespaced ProviderConfig with source Environment:\n%s", out)
	}
	for _, want := range []string{"spec.credentials.source", "only allowed in a ClusterProviderConfig"} {
		if !strings.Contains(out, want) {
			t.Errorf("refusal does not say %q: %s", want, out)
		}
	}
	if _, err := dyn.Resource(providerConfigGVR).Namespace(ns).Get(t.Context(), "borrowed", metav1.GetOptions{}); err == nil {
		t.Errorf("the refused ProviderConfig exists")
	}
	// A ClusterProviderConfig may: TestRuntimeConfigArgs gives the
	// provider credentials in its environment and makes a stream with them.
}

// credentials returns a credentials Secret name in ns for an Auth0 tenant
// at domain, and the namespace's ProviderConfig default using it.
func credentials(ns, name, domain, clientID, clientSecret string, caPEM []byte) []byte {
	indented := "    " + strings.ReplaceAll(strings.TrimSpace(string(caPEM)), "\n", "\n    ")
	return fmt.Appendf(nil, `apiVersion: v1
kind: Secret
metadata: {name: %s, namespace: %s}
stringData:
  domain: %q
  clientId: %q
  clientSecret: %q
  caCert: |
%s
---
apiVersion: auth0.m.openmcf.org/v1alpha1
kind: ProviderConfig
metadata: {name: default, namespace: %s}
spec:
  credentials:
    source: Secret
    secretRef: {name: %s}
`, name, ns, domain, clientID, clientSecret, indented, ns, name)
}

// eventBridgeMR is an EventStream managed resource using the namespace's
// ProviderConfig.
func eventBridgeMR(ns, name string) []byte {
	return fmt.Appendf(nil, `apiVersion: auth0.m.openmcf.org/v1alpha1
kind: EventStream
metadata: {name: %s, namespace: %s}
spec:
  providerConfigRef: {kind: ProviderConfig, name: default}
  forProvider:
    name: %s-%s
    subscriptions: [user.created]
    status: enabled
    destination:
      type: eventbridge
      eventbridge: {awsAccountId: "123456789012", awsRegion: us-east-1}
`, name, ns, ns, name)
}

// TestPersistentUnauthorized makes the tenant refuse every token it issued,
// over and over, while EventStreams keep being reconciled. The resources
// say Auth0 refused the token, and the provider fetches at most one new
// token per ProviderConfig per minute (plus the one right after the first
// refusal), not one per reconcile. Then bad client credentials: a clear
// condition and at most one token request per minute. The tenant is the
// test's own, so the other tests run meanwhile.
func TestPersistentUnauthorized(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "unauthorized")
	ctx := t.Context()
	tenant := ownTenant(t)
	mustKubectl(t, tenant.credentials(ns, "auth0", tenant.secret), "apply", "-f", "-")
	names := []string{"revoked-1", "revoked-2", "revoked-3"}
	for _, n := range names {
		mustKubectl(t, eventBridgeMR(ns, n), "apply", "-f", "-")
	}
	for _, n := range names {
		eventually(t, readyWithin, "EventStream "+n+" Ready", func(ctx context.Context) error {
			u, err := getMR(ctx, ns, n)
			if err != nil {
				return err
			}
			if s, _, _ := condition(u, "Ready"); s != "True" {
				return fmt.Errorf("conditions: %s", conditionsOf(u))
			}
			return nil
		})
	}
	// Only this namespace's ProviderConfig uses the tenant.
	const configs = 1
	before := tenant.Server().Counters()

	// For two minutes and a bit, every token dies as soon as it is issued,
	// and each stream is poked to reconcile every two seconds.
	const window = 130 * time.Second
	start := time.Now()
	var unauthorized string
	for i := 0; time.Since(start) < window; i++ {
		tenant.Server().ExpireTokens()
		if i%4 == 0 {
			for _, n := range names {
				mustKubectl(t, nil, "annotate", "--overwrite", "eventstream.auth0.m.openmcf.org", n, "-n", ns, fmt.Sprintf("e2e.openmcf.org/poke=%d", i))
			}
		}
		if unauthorized == "" {
			if u, err := getMR(ctx, ns, names[0]); err == nil {
				if s, _, msg := condition(u, "Synced"); s == "False" && strings.Contains(msg, "Auth0 refused the access token") {
					unauthorized = msg
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	after := tenant.Server().Counters()
	if unauthorized == "" {
		u, _ := getMR(ctx, ns, names[0])
		t.Errorf("no Synced=False condition saying Auth0 refused the access token; conditions: %s", conditionsOf(u))
	} else {
		t.Logf("condition: %s", unauthorized)
	}
	// Streams are observed from a listing of the tenant, and with a GET
	// each while the listing fails: both are refused.
	refused := 0
	for _, ep := range []string{"GET /api/v2/event-streams", "GET /api/v2/event-streams/{id}"} {
		refused += after.Get(ep, "401") - before.Get(ep, "401")
	}
	tokens := after.TokensIssued - before.TokensIssued
	// One rebuild right after the first 401, then at most one a minute.
	budget := configs * (1 + int((elapsed+time.Minute-1)/time.Minute))
	t.Logf("%s of refused tokens: %d reads (listings and GETs) refused, %d tokens issued for %d ProviderConfigs in use (budget %d)", elapsed.Round(time.Second), refused, tokens, configs, budget)
	if refused < len(names) {
		t.Errorf("only %d reads were refused: the tenant did not refuse tokens as intended", refused)
	}
	if tokens > budget {
		t.Errorf("%d tokens issued in %s for %d ProviderConfigs in use; want at most one per ProviderConfig per minute (%d)", tokens, elapsed.Round(time.Second), configs, budget)
	}

	// Tokens live again: the streams recover with one new token.
	for _, n := range names {
		eventually(t, convergeWithin, "EventStream "+n+" Synced again", func(ctx context.Context) error {
			u, err := getMR(ctx, ns, n)
			if err != nil {
				return err
			}
			if s, _, _ := condition(u, "Synced"); s != "True" {
				return fmt.Errorf("conditions: %s", conditionsOf(u))
			}
			return nil
		})
	}

	// Bad client credentials: the token endpoint refuses them, the
	// condition says so without the secret, and the provider asks at most
	// once a minute.
	const wrong = "wrong-client-secret-e2e"
	before = tenant.Server().Counters()
	start = time.Now()
	mustKubectl(t, tenant.credentials(ns, "auth0", wrong), "apply", "-f", "-")
	for i, n := range names {
		mustKubectl(t, nil, "annotate", "--overwrite", "eventstream.auth0.m.openmcf.org", n, "-n", ns, fmt.Sprintf("e2e.openmcf.org/poke=bad-%d", i))
	}
	var refusedMsg string
	eventually(t, convergeWithin, "a condition saying the credentials are refused", func(ctx context.Context) error {
		u, err := getMR(ctx, ns, names[0])
		if err != nil {
			return err
		}
		if s, _, msg := condition(u, "Synced"); s == "False" && strings.Contains(msg, "Auth0 refused the provider's client credentials") {
			refusedMsg = msg
			return nil
		}
		return fmt.Errorf("conditions: %s", conditionsOf(u))
	})
	if strings.Contains(refusedMsg, wrong) {
		t.Errorf("condition leaks the client secret: %s", refusedMsg)
	}
	t.Logf("condition: %s", refusedMsg)
	after = tenant.Server().Counters()
	elapsed = time.Since(start)
	requests := after.Get("POST /oauth/token", "401") - before.Get("POST /oauth/token", "401")
	if budget := 1 + int(elapsed/time.Minute); requests > budget {
		t.Errorf("%d refused token requests in %s for one ProviderConfig; want at most one a minute (%d)", requests, elapsed.Round(time.Second), budget)
	}
	for _, n := range names {
		mustKubectl(t, nil, "delete", "eventstream.auth0.m.openmcf.org", n, "-n", ns, "--wait=false")
	}
	// The streams cannot be deleted with refused credentials: restore them.
	mustKubectl(t, tenant.credentials(ns, "auth0", tenant.secret), "apply", "-f", "-")
	eventually(t, deleteWithin, "EventStreams deleted", func(ctx context.Context) error {
		l, err := dyn.Resource(mrGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(l.Items) > 0 {
			return fmt.Errorf("%d EventStreams left", len(l.Items))
		}
		return nil
	})
}

// TestSecretsNotEchoed: an endpoint with a password in its user-info is
// refused at admission on the composite without the password being quoted;
// on an EventStream managed resource (whose schema lets it through) Auth0's
// refusal, which quotes the endpoint, reaches conditions and events masked,
// and no log of any process but the simulator's holds the password.
func TestSecretsNotEchoed(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "secrets-echo")
	ctx := t.Context()
	const password = "hunter2-e2e-userinfo"
	host := "hooks-" + ns + ".example.com"
	endpoint := "https://alice:" + password + "@" + host + "/x"
	before := streamsNamed(t, "echoed")

	out, err := kubectl(ctx, fmt.Appendf(nil, `apiVersion: auth0.openmcf.org/v1
kind: Auth0EventStream
metadata:
  name: echoed
  namespace: %s
spec:
  destinationType: webhook
  subscriptions: [user.created]
  webhookConfiguration:
    webhookEndpoint: %q
    webhookAuthorization:
      method: bearer
      token: "e2e-bearer-token-value"
`, ns, endpoint), "apply", "-f", "-")
	if err == nil {
		t.Fatalf("the API server accepted an endpoint with user-info: %s", out)
	}
	if !strings.Contains(out, "spec.webhookConfiguration.webhookEndpoint") || strings.Contains(out, password) {
		t.Errorf("refusal %q should name spec.webhookConfiguration.webhookEndpoint without quoting the password", out)
	}

	mustKubectl(t, secretManifest(ns, "echoed-token", "e2e-bearer-token-value"), "apply", "-f", "-")
	mustKubectl(t, mr(ns, "echoed", webhookDest(endpoint, "echoed-token"), ""), "apply", "-f", "-")
	// Auth0's refusal reaches the EventStream, masked.
	const auth0Says = "absolute-https-uri"
	got := waitMR(t, ns, "echoed", "Auth0's refusal in a condition", syncedFalse(auth0Says))
	_, _, msg := condition(got, "Synced")
	t.Logf("EventStream condition: %s", msg)
	if !strings.Contains(msg, "[redacted]@"+host) {
		t.Errorf("condition %q does not show the masked endpoint", msg)
	}
	texts := []string{"condition: " + msg}
	events := mustKubectl(t, nil, "get", "events", "-n", ns, "--field-selector", "involvedObject.name=echoed", "-o", "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}")
	for line := range strings.SplitSeq(strings.TrimSpace(events), "\n") {
		texts = append(texts, "event: "+line)
	}
	logs, err := filepath.Glob(filepath.Join(state.Dir, "logs", "*.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no logs under %s: %v", state.Dir, err)
	}
	for _, l := range logs {
		if strings.HasSuffix(l, "auth0-sim.log") {
			continue // Auth0's side
		}
		b, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, filepath.Base(l)+": "+string(b))
	}
	sawAuth0 := false
	for _, s := range texts {
		if strings.Contains(s, password) {
			t.Errorf("leaks the endpoint's password: %.300s", s)
		}
		sawAuth0 = sawAuth0 || strings.Contains(s, auth0Says)
	}
	if !sawAuth0 {
		t.Errorf("no condition or event carries Auth0's message: %v", texts[:2])
	}
	if after := streamsNamed(t, "echoed"); after != before {
		t.Errorf("the simulator holds %d streams named echoed, %d before", after, before)
	}
	deleteMR(t, ns, "echoed")
}

// TestSecretsOffered: a Secret is sent to a webhook only when it offers
// itself (label auth0.m.openmcf.org/webhook-secret: "true"). A composite
// and an EventStream managed resource naming a key of a Secret that does
// not (a database password, an endpoint of the requester's choosing, a test
// event asked for) are refused, naming the Secret and the label, and Auth0
// never receives the value: the simulator's streams are the witness. Once
// the Secret is labelled, both make their streams with it.
func TestSecretsOffered(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "secrets-offered")
	value := "db-password-of-" + ns
	const label = "auth0.m.openmcf.org/webhook-secret"
	mustKubectl(t, fmt.Appendf(nil, "apiVersion: v1\nkind: Secret\nmetadata: {name: db-creds, namespace: %s}\nstringData: {password: %s}\n", ns, value), "apply", "-f", "-")
	endpoint := "https://collector-" + ns + ".example.com/hook"

	mustKubectl(t, fmt.Appendf(nil, `apiVersion: auth0.openmcf.org/v1
kind: Auth0EventStream
metadata:
  name: offered-xr
  namespace: %s
  annotations: {auth0.openmcf.org/send-test-event: "user.created#1"}
spec:
  destinationType: webhook
  subscriptions: [user.created]
  webhookConfiguration:
    webhookEndpoint: %s
    webhookAuthorization:
      method: bearer
      tokenSecretRef: {name: db-creds, key: password}
`, ns, endpoint), "apply", "-f", "-")
	mustKubectl(t, mr(ns, "offered-mr", strings.Replace(webhookDest(endpoint, "db-creds"), "key: token", "key: password", 1), "",
		`auth0.m.openmcf.org/send-test-event: "user.created#1"`), "apply", "-f", "-")

	eventually(t, readyWithin, "the composite refused by the function", func(ctx context.Context) error {
		u, err := getStream(ctx, ns, "offered-xr")
		if err != nil {
			return err
		}
		s, reason, msg := condition(u, "StreamReady")
		for _, want := range []string{"Secret " + ns + "/db-creds is not offered as a webhook secret", label + "=true"} {
			if s != "False" || reason != "Refused" || !strings.Contains(msg, want) {
				return fmt.Errorf("want StreamReady=False Refused saying %q; conditions: %s", want, conditionsOf(u))
			}
		}
		return nil
	})
	if composed := composedOf(t, nativeBackend, ns, "offered-xr"); len(composed) > 0 {
		t.Errorf("composed %v for a composite naming a Secret that is not offered", composed)
	}
	u := waitMR(t, ns, "offered-mr", "refused by the provider", syncedFalse("Secret "+ns+"/db-creds (key password) is not offered for webhook authorization", label))
	_, _, msg := condition(u, "Synced")
	t.Logf("EventStream Synced=False: %s", msg)

	// The witness: no stream in Auth0 holds the value, none was made for
	// either resource.
	offeredNowhere := func() {
		t.Helper()
		all, err := simStreams(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range all {
			if w := s.Destination.Webhook; w != nil && (w.Token == value || w.Endpoint == endpoint) {
				t.Errorf("stream %s (%s) was made with the Secret that is not offered", s.ID, s.Name)
			}
		}
	}
	offeredNowhere()
	for _, name := range []string{"offered-xr", "offered-mr"} {
		if n := streamsNamed(t, name); n != 0 {
			t.Errorf("the simulator holds %d streams named %s", n, name)
		}
	}

	t.Log("the Secret offers itself: both make their streams with it")
	mustKubectl(t, nil, "label", "secret", "db-creds", "-n", ns, label+"=true")
	waitReady(t, ns, "offered-xr")
	_, xr := waitOutputsMatch(t, ns, "offered-xr", func(s auth0sim.Stream) error {
		return expectWebhook(s, []string{"user.created"}, "enabled", value)
	})
	u = waitMR(t, ns, "offered-mr", "Ready", mrReady)
	id := u.GetAnnotations()[annExternal]
	if err := expectWebhook(mustSimStream(t, id), []string{"user.created"}, "enabled", value); err != nil {
		t.Errorf("EventStream offered-mr's stream: %v", err)
	}
	deleteMR(t, ns, "offered-mr")
	simGone(t, id)
	deleteAndVerify(t, ns, "offered-xr", xr.ID)
}
