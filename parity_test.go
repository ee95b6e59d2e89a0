package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/managed"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	"github.com/xp-auth0/auth0-eventstream/internal/auth0sim"
	"github.com/xp-auth0/auth0-eventstream/internal/eventtypes"
)

// A parityCase is one XR spec that every layer must judge alike: the XRD (at
// a real API server and offline, with crossplane beta validate), the function,
// and what stands behind the composed EventStream (the Auth0 simulator, held
// to recorded traffic, for the stream; crossplane-runtime's managed reconciler
// for managementPolicies, which never reach Auth0).
type parityCase struct {
	name string
	spec string
	// field is the field a refusal must name; empty when the spec is valid.
	field string
	// secret, when set, must appear in no refusal.
	secret string
	// apiOnly, when set, says why the rule is our API's alone: the backend
	// accepts the spec, so its verdict is not compared.
	apiOnly string
	// schemaAccepts, when set, says why the XRD's schema (the API server,
	// crossplane beta validate) accepts what the function and Auth0 refuse:
	// their verdicts are not compared.
	schemaAccepts string
}

// Why the schema accepts what the function and Auth0 refuse.
const (
	catalogGrows = "Auth0's event type catalog grows: the schema admits any dotted type, the function refuses one outside the catalog it embeds unless its input's extraEventTypes admits it"
)

const (
	parityEndpointKey = `"webhookEndpoint":`
	leakyPassword     = "pa55w0rd-in-url"
)

func webhookSpec(endpoint, auth string) string {
	return fmt.Sprintf(`{"destinationType":"webhook","subscriptions":["user.created"],"webhookConfiguration":{"webhookEndpoint":%q,"webhookAuthorization":%s}}`, endpoint, auth)
}

func eventBridgeSpec(region string) string {
	return fmt.Sprintf(`{"destinationType":"eventbridge","subscriptions":["user.created"],"eventbridgeConfiguration":{"awsAccountId":"123456789012","awsRegion":%q}}`, region)
}

func actionSpec(extra string) string {
	return `{"destinationType":"action","subscriptions":["user.created"],"actionConfiguration":{"actionId":"act_1"}` + extra + `}`
}

const bearer = `{"method":"bearer","token":"t0ken"}`

var parityCorpus = []parityCase{
	// Must stay accepted.
	{name: "name-unicode-128", spec: `{"name":"` + strings.Repeat("é", 128) + `","destinationType":"action","subscriptions":["user.created"],"actionConfiguration":{"actionId":"act_1"}}`},
	{name: "name-cjk-128", spec: `{"name":"` + strings.Repeat("名", 128) + `","destinationType":"action","subscriptions":["user.created"],"actionConfiguration":{"actionId":"act_1"}}`}, //nolint:gosmopolitan // CJK on purpose: Auth0 counts characters, not bytes.
	{name: "endpoint-port-query", spec: webhookSpec("https://hooks.example.com:8443/auth0/events?tenant=a&v=1", bearer)},
	{name: "endpoint-uppercase-scheme", spec: webhookSpec("HTTPS://hooks.example.com/x", bearer)},
	{name: "endpoint-ipv6", spec: webhookSpec("https://[2001:db8::1]:8443/x", bearer)},
	{name: "endpoint-fragment", spec: webhookSpec("https://hooks.example.com/x#y", bearer)},
	{name: "header-key-token", spec: webhookSpec("https://hooks.example.com", `{"method":"custom_header","headerKey":"X-Api_Key.v2!","headerValueSecretRef":{"name":"h","key":"k"}}`)},
	{name: "region-gov", spec: eventBridgeSpec("us-gov-west-1")},
	{name: "region-iso", spec: eventBridgeSpec("us-isob-east-1")},
	{name: "policies-observe-only", spec: actionSpec(`,"streamId":"est_kh8FhJtLmm5hwVNZYMLWEU","managementPolicies":["Observe"]`)},
	{name: "policies-no-delete", spec: actionSpec(`,"managementPolicies":["Observe","Create","Update","LateInitialize"]`)},
	{name: "policies-all-explicit", spec: actionSpec(`,"managementPolicies":["LateInitialize","Delete","Update","Create","Observe"]`)},

	// Refused by Auth0 (the simulator) or crossplane-runtime: refused at
	// admission, naming the field.
	{name: "name-unicode-129", spec: `{"name":"` + strings.Repeat("é", 129) + `","destinationType":"action","subscriptions":["user.created"],"actionConfiguration":{"actionId":"act_1"}}`, field: "spec.name"},
	{name: "endpoint-user-info", spec: webhookSpec("https://auth0:"+leakyPassword+"@hooks.example.com/x", bearer), field: "spec.webhookConfiguration.webhookEndpoint", secret: leakyPassword},
	{name: "endpoint-user-info-http", spec: webhookSpec("http://auth0:"+leakyPassword+"@hooks.example.com/x", bearer), field: "spec.webhookConfiguration.webhookEndpoint", secret: leakyPassword},
	{name: "endpoint-space", spec: webhookSpec("https://hooks.example.com/a b", bearer), field: "spec.webhookConfiguration.webhookEndpoint"},
	{name: "endpoint-space-in-host", spec: webhookSpec("https://hooks example.com/", bearer), field: "spec.webhookConfiguration.webhookEndpoint"},
	{name: "endpoint-leading-space", spec: webhookSpec(" https://hooks.example.com/", bearer), field: "spec.webhookConfiguration.webhookEndpoint"},
	{name: "endpoint-tab", spec: webhookSpec("https://hooks.example.com/a\tb", bearer), field: "spec.webhookConfiguration.webhookEndpoint"},
	{name: "endpoint-newline", spec: webhookSpec("https://hooks.example.com/\n", bearer), field: "spec.webhookConfiguration.webhookEndpoint"},
	{name: "endpoint-no-slashes", spec: webhookSpec("https:hooks.example.com/x", bearer), field: "spec.webhookConfiguration.webhookEndpoint"},
	{name: "endpoint-no-host", spec: webhookSpec("https:///x", bearer), field: "spec.webhookConfiguration.webhookEndpoint"},
	{name: "endpoint-port-only", spec: webhookSpec("https://:8443/x", bearer), field: "spec.webhookConfiguration.webhookEndpoint"},
	{name: "endpoint-http", spec: webhookSpec("http://hooks.example.com/x", bearer), field: "spec.webhookConfiguration.webhookEndpoint"},
	{name: "endpoint-relative", spec: webhookSpec("/hooks", bearer), field: "spec.webhookConfiguration.webhookEndpoint"},
	{name: "header-key-space", spec: webhookSpec("https://hooks.example.com", `{"method":"custom_header","headerKey":"X Api Key","headerValue":"v"}`), field: "spec.webhookConfiguration.webhookAuthorization.headerKey"},
	{name: "header-key-colon", spec: webhookSpec("https://hooks.example.com", `{"method":"custom_header","headerKey":"X-Key:","headerValue":"v"}`), field: "spec.webhookConfiguration.webhookAuthorization.headerKey"},
	{name: "header-key-unicode", spec: webhookSpec("https://hooks.example.com", `{"method":"custom_header","headerKey":"X-Clé","headerValue":"v"}`), field: "spec.webhookConfiguration.webhookAuthorization.headerKey"},
	{name: "region-upper", spec: eventBridgeSpec("US-EAST-1"), field: "spec.eventbridgeConfiguration.awsRegion"},
	{name: "region-no-dashes", spec: eventBridgeSpec("useast1"), field: "spec.eventbridgeConfiguration.awsRegion"},
	{name: "region-no-number", spec: eventBridgeSpec("us-east"), field: "spec.eventbridgeConfiguration.awsRegion"},
	{name: "bearer-with-username", spec: webhookSpec("https://hooks.example.com", `{"method":"bearer","token":"t","username":"u"}`), field: "spec.webhookConfiguration.webhookAuthorization"},
	{name: "basic-with-token-ref", spec: webhookSpec("https://hooks.example.com", `{"method":"basic","username":"u","password":"p","tokenSecretRef":{"name":"s","key":"k"}}`), field: "spec.webhookConfiguration.webhookAuthorization"},
	{name: "custom-header-with-password", spec: webhookSpec("https://hooks.example.com", `{"method":"custom_header","headerKey":"X-K","headerValue":"v","password":"p"}`), field: "spec.webhookConfiguration.webhookAuthorization"},
	{name: "action-with-eventbridge", spec: actionSpec(`,"eventbridgeConfiguration":{"awsAccountId":"123456789012","awsRegion":"us-east-1"}`), field: "spec"},
	{
		name: "policies-duplicate", spec: actionSpec(`,"managementPolicies":["Observe","Observe"]`), field: "spec.managementPolicies",
		apiOnly: "the policies are a set: crossplane-runtime reads duplicates as one, the EventStream's CRD keeps them; the API refuses them so that what a user reads is what applies",
	},
	{name: "policies-create-delete", spec: actionSpec(`,"managementPolicies":["Create","Delete"]`), field: "spec.managementPolicies"},
	{name: "event-type-outside-catalog", spec: `{"destinationType":"action","subscriptions":["user.created","authentication.success"],"actionConfiguration":{"actionId":"act_1"}}`, field: "spec.subscriptions[1]", schemaAccepts: catalogGrows},
	// The default stream name: Crossplane's XR CRDs allow 63 characters,
	// Auth0 128; the function checks Auth0's where admission is bypassed.
	{name: strings.Repeat("n", 129), spec: actionSpec(""), field: "metadata.name"},
	{name: "policies-all-and-observe", spec: actionSpec(`,"managementPolicies":["*","Observe"]`), field: "spec.managementPolicies"},
}

// parityExamples are the seed's manifests and the examples: all must be
// accepted by every layer.
func parityExamples(t *testing.T) []parityCase {
	t.Helper()
	files := []string{
		"example/seed/quick-start.yaml", "example/seed/eventbridge-security-events.yaml",
		"example/seed/webhook-bearer-user-lifecycle.yaml", "example/seed/webhook-basic-api-audit.yaml",
		"example/webhook-bearer.yaml", "example/webhook-basic.yaml", "example/webhook-custom-header.yaml",
		"example/eventbridge.yaml", "example/action.yaml", "example/import/observe-only.yaml", "example/quick-start.yaml",
	}
	out := make([]parityCase, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		obj := map[string]any{}
		if err := yaml.Unmarshal(b, &obj); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		spec, err := json.Marshal(obj["spec"])
		if err != nil {
			t.Fatal(err)
		}
		c := parityCase{name: "example-" + strings.TrimSuffix(strings.ReplaceAll(strings.TrimPrefix(f, "example/"), "/", "-"), ".yaml"), spec: string(spec)}
		// Three of the seed's manifests subscribe to types Auth0 refuses.
		for i, e := range c.xrSpec(t).Subscriptions {
			if !eventtypes.Known(e) {
				c.field, c.schemaAccepts = fmt.Sprintf("spec.subscriptions[%d]", i), catalogGrows
				break
			}
		}
		out = append(out, c)
	}
	return out
}

func (c parityCase) object(t *testing.T) map[string]any {
	t.Helper()
	spec := map[string]any{}
	if err := json.Unmarshal([]byte(c.spec), &spec); err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	return map[string]any{
		"apiVersion": "auth0.openmcf.org/v1", "kind": "Auth0EventStream",
		"metadata": map[string]any{"name": c.name, "namespace": "parity"},
		"spec":     spec,
	}
}

// A verdict is one layer's judgement of one case: nil when it accepted.
type verdict = error

// TestParity feeds one corpus to the API server (envtest), crossplane beta
// validate, the function and the simulator or crossplane-runtime, and fails
// on any disagreement: each must accept the valid specs and refuse the others
// naming the field, without quoting a secret.
func TestParity(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run make test, or export KUBEBUILDER_ASSETS=$(hack/build-tool.sh envtest-assets)")
	}
	corpus := append(parityExamples(t), parityCorpus...)

	fn, _ := functionVerdicts(t, corpus)
	layers := map[string]map[string]verdict{
		"API server":                  apiServerVerdicts(t, corpus),
		"crossplane beta validate":    betaValidateVerdicts(t, corpus),
		"function":                    fn,
		"Auth0 or crossplane-runtime": backendVerdicts(t, corpus),
	}
	for _, c := range corpus {
		// Auth0's event type catalog grows; the API admits any dotted
		// event type and the function warns about those outside the
		// catalog (the seed names some), so the simulator sees only the
		// catalog's.
		for layer, vs := range layers {
			v, judged := vs[c.name]
			if c.apiOnly != "" && layer == "Auth0 or crossplane-runtime" {
				continue
			}
			if c.schemaAccepts != "" && (layer == "API server" || layer == "crossplane beta validate") {
				if judged && v != nil {
					t.Errorf("%s: %s refused it, which the schema should accept (%s): %v", c.name, layer, c.schemaAccepts, v)
				}
				continue
			}
			switch {
			case !judged:
				t.Errorf("%s: %s did not judge it", c.name, layer)
			case c.field == "" && v != nil:
				t.Errorf("%s: %s refused a valid spec: %v", c.name, layer, v)
			case c.field != "" && v == nil:
				t.Errorf("%s: %s accepted it; want a refusal naming %s", c.name, layer, c.field)
			case c.field != "" && layer != "Auth0 or crossplane-runtime" && !namesField(v.Error(), c.field):
				t.Errorf("%s: %s's refusal does not name %s: %v", c.name, layer, c.field, v)
			case c.secret != "" && layer != "Auth0 or crossplane-runtime" && strings.Contains(v.Error(), c.secret):
				t.Errorf("%s: %s's refusal quotes a secret", c.name, layer)
			}
		}
	}
}

func apiServerVerdicts(t *testing.T, corpus []parityCase) map[string]verdict {
	t.Helper()
	env := &envtest.Environment{CRDs: crdsFor(t, xrdNamespaced)}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("cannot start kube-apiserver: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "parity"}}); err != nil {
		t.Fatal(err)
	}
	out := map[string]verdict{}
	for _, pc := range corpus {
		out[pc.name] = c.Create(ctx, &unstructured.Unstructured{Object: pc.object(t)})
	}
	return out
}

func betaValidateVerdicts(t *testing.T, corpus []parityCase) map[string]verdict {
	t.Helper()
	dir := t.TempDir()
	for _, pc := range corpus {
		b, err := yaml.Marshal(pc.object(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, pc.name+".yaml"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, _ := betaValidate(t, crossplaneCLI(t), validateCache(t), []string{xrdNamespaced}, []string{dir})
	// Lines read: [x] <kind of error> <GVK>, <name> : <message>, or
	// [✓] <GVK>, <name> validated successfully.
	refusals := map[string][]string{}
	verdicts := map[string]verdict{}
	for l := range strings.SplitSeq(out, "\n") {
		_, rest, ok := strings.Cut(l, ", Kind=Auth0EventStream, ")
		if !ok {
			continue
		}
		if n, msg, ok := strings.Cut(rest, " : "); ok && strings.HasPrefix(l, "[x] ") {
			refusals[n] = append(refusals[n], msg)
			continue
		}
		if n, ok := strings.CutSuffix(rest, " validated successfully"); ok {
			verdicts[n] = nil
		}
	}
	for n, msgs := range refusals {
		verdicts[n] = fmt.Errorf("%s", strings.Join(msgs, "\n"))
	}
	return verdicts
}

func functionVerdicts(t *testing.T, corpus []parityCase) (map[string]verdict, map[string]string) {
	t.Helper()
	out := map[string]verdict{}
	warnings := map[string]string{}
	for _, pc := range corpus {
		s, err := structpb.NewStruct(pc.object(t))
		if err != nil {
			t.Fatal(err)
		}
		rsp, err := (&Function{log: logging.NewNopLogger()}).RunFunction(context.Background(),
			&fnv1.RunFunctionRequest{Observed: &fnv1.State{Composite: &fnv1.Resource{Resource: s}}})
		if err != nil {
			t.Fatal(err)
		}
		out[pc.name] = nil
		for _, r := range rsp.GetResults() {
			switch r.GetSeverity() {
			case fnv1.Severity_SEVERITY_FATAL:
				out[pc.name] = fmt.Errorf("%s", r.GetMessage())
			case fnv1.Severity_SEVERITY_WARNING:
				warnings[pc.name] += r.GetMessage() + "\n"
			default:
				// Normal results say nothing the comparison needs.
			}
		}
	}
	return out, warnings
}

func (c parityCase) xrSpec(t *testing.T) *xrSpec {
	t.Helper()
	spec := &xrSpec{}
	if err := json.Unmarshal([]byte(c.spec), spec); err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	return spec
}

// backendVerdicts judges each spec where the composed EventStream's fields
// end: management policies by crossplane-runtime's managed reconciler, the
// rest by the simulator, given the create body the provider would send.
func backendVerdicts(t *testing.T, corpus []parityCase) map[string]verdict {
	t.Helper()
	sim := auth0sim.New(auth0sim.Options{Clients: map[string]string{"parity": "parity-secret"}})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	token := simToken(t, srv.URL)

	out := map[string]verdict{}
	for _, pc := range corpus {
		spec := pc.xrSpec(t)
		mp := make(xpv2.ManagementPolicies, 0, len(spec.ManagementPolicies))
		for _, p := range spec.ManagementPolicies {
			mp = append(mp, xpv2.ManagementAction(p))
		}
		if len(mp) > 0 {
			if err := managed.NewManagementPoliciesResolver(true, mp).Validate(); err != nil {
				out[pc.name] = err
				continue
			}
		}
		out[pc.name] = simCreate(t, srv.URL, token, createBody(pc.name, spec))
	}
	return out
}

// createBody maps an XR spec to the Auth0 create body, as the function and
// the provider do; secrets given by reference stand in as placeholders.
func createBody(xrName string, s *xrSpec) map[string]any {
	name := s.Name
	if name == "" {
		name = xrName
	}
	subs := make([]any, 0, len(s.Subscriptions))
	for _, e := range s.Subscriptions {
		subs = append(subs, map[string]any{"event_type": e})
	}
	body := map[string]any{"name": name, "subscriptions": subs}
	if s.Status != "" {
		body["status"] = s.Status
	}
	orRef := func(v string, r *secretKey) string {
		if r != nil {
			return "value-of-" + r.Name + "-" + r.Key
		}
		return v
	}
	cfg := map[string]any{}
	if e := s.EventBridgeConfiguration; e != nil {
		cfg["aws_account_id"], cfg["aws_region"] = e.AWSAccountID, e.AWSRegion
	}
	if a := s.ActionConfiguration; a != nil {
		cfg["action_id"] = a.ActionID
	}
	if w := s.WebhookConfiguration; w != nil {
		cfg["webhook_endpoint"] = w.WebhookEndpoint
		a := w.WebhookAuthorization
		auth := map[string]any{"method": a.Method}
		// Every field given is sent: Auth0 refuses another method's.
		set := func(k, v string) {
			if v != "" {
				auth[k] = v
			}
		}
		set("username", a.Username)
		set("password", orRef(a.Password, a.PasswordSecretRef))
		set("token", orRef(a.Token, a.TokenSecretRef))
		set("header_key", a.HeaderKey)
		set("header_value", orRef(a.HeaderValue, a.HeaderValueSecretRef))
		cfg["webhook_authorization"] = auth
	}
	// Every configuration given is sent: Auth0 refuses another
	// destination's fields.
	body["destination"] = map[string]any{"type": s.DestinationType, "configuration": cfg}
	return body
}

func simToken(t *testing.T, base string) string {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"grant_type": "client_credentials", "client_id": "parity", "client_secret": "parity-secret", "audience": "https://" + strings.TrimPrefix(base, "http://") + "/api/v2/"})
	rsp, err := http.Post(base+"/oauth/token", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer rsp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(rsp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("no token from the simulator: %v (status %d)", err, rsp.StatusCode)
	}
	return tok.AccessToken
}

func simCreate(t *testing.T, base, token string, body map[string]any) verdict {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	r, err := http.NewRequest(http.MethodPost, base+"/api/v2/event-streams", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("Content-Type", "application/json")
	rsp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer rsp.Body.Close()
	msg, _ := io.ReadAll(rsp.Body)
	switch rsp.StatusCode {
	case http.StatusCreated, http.StatusOK:
		return nil
	case http.StatusBadRequest:
		return fmt.Errorf("%s", msg)
	default:
		t.Fatalf("the simulator answered %d: %s", rsp.StatusCode, msg)
		return nil
	}
}
