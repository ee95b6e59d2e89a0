package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
)

// The rules that keep a namespace tenant to what is its own (issue 21):
// imports the platform allowed, Secrets that opt in, one owner per stream
// id, no backend switch, the terraform backend's tenant pin, masked text,
// event types and names Auth0 accepts.

const bearerRefSpec = `{"destinationType":"webhook","subscriptions":["user.created"],
	"webhookConfiguration":{"webhookEndpoint":"https://api.example.com/hook","webhookAuthorization":{"method":"bearer","tokenSecretRef":{"name":"hook","key":"tok"}}}}`

// The value of Secret team-a/hook's key tok in testCluster.
const hookToken = "hook-token"

// composedKinds lists what the response composes.
func composedKinds(rsp *fnv1.RunFunctionResponse) []string {
	var out []string
	for name := range rsp.GetDesired().GetResources() {
		out = append(out, name)
	}
	return out
}

func TestImportPolicy(t *testing.T) {
	manage := input + `,"importPolicy":"Manage"}`
	cases := map[string]struct {
		reason   string
		req      *fnv1.RunFunctionRequest
		want     string // the composed managementPolicies
		refusal  string // the Fatal result's start, when refused
		contains []string
	}{
		"ObserveOnlyByDefault": {
			reason: "Without an importPolicy the input imports Observe-only: the composition's default policies do not reach a stream it did not create.",
			req:    req(actionXR(`,"streamId":"`+idA+`"`), "", map[string]string{"event-stream": observedAction(map[string]string{AnnotationExternalName: idA, AnnotationStreamID: idA}, found(idA))}),
			want:   `["Observe"]`,
		},
		"ObserveOnlyWithInputPolicies": {
			reason: "The composition's own managementPolicies do not widen an Observe-only import either.",
			req:    req(actionXR(`,"streamId":"`+idA+`"`), input+`,"managementPolicies":["*"]}`, nil),
			want:   `["Observe"]`,
		},
		"ObserveOnlyRefusesMore": {
			reason:   "A composite asking for more than Observe of an imported stream is refused: adoption is the platform's decision.",
			req:      req(actionXR(`,"streamId":"`+idA+`","managementPolicies":["Observe","Update","LateInitialize"]`), input+`,"importPolicy":"ObserveOnly"}`, nil),
			refusal:  "invalid Auth0EventStream: spec.managementPolicies: Forbidden: [Observe Update LateInitialize] ask for more than Observe",
			contains: []string{"importPolicy: ObserveOnly", "a platform decision", "importPolicy is Manage"},
		},
		"ObserveOnlyAcceptsObserve": {
			reason: "[Observe] is what an Observe-only import is.",
			req:    req(actionXR(`,"streamId":"`+idA+`","managementPolicies":["Observe"]`), input+`,"importPolicy":"ObserveOnly"}`, nil),
			want:   `["Observe"]`,
		},
		"ObserveOnlyLeavesCreatedStreams": {
			reason: "A composite without spec.streamId imports nothing: its policies apply.",
			req:    req(actionXR(""), "", nil),
			want:   `["*"]`,
		},
		"ManageAdopts": {
			reason: "Where the platform allows it, a found stream is managed with the composite's policies.",
			req:    req(actionXR(`,"streamId":"`+idA+`"`), manage, map[string]string{"event-stream": observedAction(map[string]string{AnnotationExternalName: idA, AnnotationStreamID: idA}, found(idA))}),
			want:   `["*"]`,
		},
		"UnknownPolicy": {
			reason:  "The input's importPolicy is one of the two.",
			req:     req(actionXR(""), input+`,"importPolicy":"Adopt"}`, nil),
			refusal: `cannot get function input: importPolicy: Unsupported value: "Adopt": supported values: "ObserveOnly", "Manage"`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rsp, _ := runPipeline(t, tc.req, testCluster(t))
			m := fatalMessage(rsp)
			if tc.refusal != "" {
				if !strings.HasPrefix(m, tc.refusal) {
					t.Fatalf("%s\nFatal result %q, want it to start with %q", tc.reason, m, tc.refusal)
				}
				for _, s := range tc.contains {
					if !strings.Contains(m, s) {
						t.Errorf("%s\nFatal result %q does not say %q", tc.reason, m, s)
					}
				}
				if len(rsp.GetDesired().GetResources()) != 0 {
					t.Errorf("%s\ncomposed %v despite the refusal", tc.reason, composedKinds(rsp))
				}
				return
			}
			if m != "" {
				t.Fatalf("%s\nrefused: %s", tc.reason, m)
			}
			es := desiredObject(t, rsp, string(NameEventStream))
			if diff := cmp.Diff(asMap(t, `{"p":`+tc.want+`}`)["p"], es["spec"].(map[string]any)["managementPolicies"]); diff != "" {
				t.Errorf("%s\nmanagementPolicies: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestWebhookSecretOffered(t *testing.T) {
	const secretValue = "db-password-value"
	withSecret := func(labelled bool, data map[string]string) cluster {
		return cluster{webhookSecret("team-a", "hook", data, labelled)}
	}
	enc := base64.StdEncoding.EncodeToString([]byte(secretValue))
	cases := map[string]struct {
		reason  string
		cluster cluster
		refusal string
	}{
		"Offered": {
			reason:  "A Secret labelled for the use is read: the EventStream is composed.",
			cluster: withSecret(true, map[string]string{"tok": enc}),
		},
		"NotOffered": {
			reason:  "A Secret without the label is not sent to a webhook, whatever key the composite names.",
			cluster: withSecret(false, map[string]string{"tok": enc}),
			refusal: "invalid Auth0EventStream: spec.webhookConfiguration.webhookAuthorization.tokenSecretRef: Forbidden: Secret team-a/hook is not offered as a webhook secret: only a Secret labelled " + v1alpha1.LabelWebhookSecret + "=true may be sent to a webhook",
		},
		"LabelOtherValue": {
			reason:  "Only the value true offers it.",
			cluster: cluster{asMap(t, `{"apiVersion":"v1","kind":"Secret","metadata":{"namespace":"team-a","name":"hook","labels":{"`+v1alpha1.LabelWebhookSecret+`":"yes"}},"data":{"tok":"`+enc+`"}}`)},
			refusal: "invalid Auth0EventStream: spec.webhookConfiguration.webhookAuthorization.tokenSecretRef: Forbidden: Secret team-a/hook is not offered",
		},
		"Missing": {
			reason:  "A Secret that does not exist is refused, naming the label it will need.",
			refusal: `invalid Auth0EventStream: spec.webhookConfiguration.webhookAuthorization.tokenSecretRef: Not found: "hook": Secret team-a/hook does not exist: create it with the key tok and the label ` + v1alpha1.LabelWebhookSecret + "=true",
		},
		"OtherNamespace": {
			reason:  "Only the composite's namespace is looked in.",
			cluster: cluster{webhookSecret("team-b", "hook", map[string]string{"tok": enc}, true)},
			refusal: `invalid Auth0EventStream: spec.webhookConfiguration.webhookAuthorization.tokenSecretRef: Not found: "hook": Secret team-a/hook does not exist`,
		},
		"KeyMissing": {
			reason:  "An offered Secret without the key is refused naming the key field.",
			cluster: withSecret(true, map[string]string{"other": enc}),
			refusal: `invalid Auth0EventStream: spec.webhookConfiguration.webhookAuthorization.tokenSecretRef.key: Not found: "tok": Secret team-a/hook has no key tok`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rsp, calls := runPipeline(t, req(xrJSON("users", bearerRefSpec), "", nil), tc.cluster)
			if calls != 2 {
				t.Errorf("%s\n%d calls, want 2: one to ask for the Secret, one with it", tc.reason, calls)
			}
			if diff := cmp.Diff(secretRequirement("team-a", "hook"), rsp.GetRequirements(), protocmp.Transform()); diff != "" {
				t.Errorf("%s\nrequirements: -want, +got:\n%s", tc.reason, diff)
			}
			out, err := protojson.Marshal(rsp)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(out), secretValue) || strings.Contains(string(out), enc) {
				t.Errorf("%s\nthe answer holds the Secret's value", tc.reason)
			}
			m := fatalMessage(rsp)
			if tc.refusal == "" {
				if m != "" || desiredObject(t, rsp, string(NameEventStream)) == nil {
					t.Errorf("%s\nnot composed: %s", tc.reason, m)
				}
				return
			}
			if !strings.HasPrefix(m, tc.refusal) {
				t.Errorf("%s\nFatal result %q, want it to start with %q", tc.reason, m, tc.refusal)
			}
			if len(rsp.GetDesired().GetResources()) != 0 {
				t.Errorf("%s\ncomposed %v despite the refusal", tc.reason, composedKinds(rsp))
			}
		})
	}
}

func TestRequirementRounds(t *testing.T) {
	holder := func(kind, ns, name, id string) map[string]any {
		av := WorkspaceAPIVersion
		if kind == v1alpha1.EventStreamKind {
			av = v1alpha1.SchemeGroupVersion.String()
		}
		return map[string]any{"apiVersion": av, "kind": kind, "metadata": map[string]any{"namespace": ns, "name": name, "labels": map[string]any{v1alpha1.LabelStreamID: id}}}
	}
	importing := xrJSON("users", strings.TrimSuffix(bearerRefSpec, "}")+`,"streamId":"`+idA+`"}`)
	cases := map[string]struct {
		reason  string
		req     *fnv1.RunFunctionRequest
		cluster cluster
		calls   int
		refusal string
	}{
		"NothingRequired": {
			reason: "A composite without a Secret reference or import needs one call.",
			req:    req(xrJSON("users", webhookBearerInline), "", nil),
			calls:  1,
		},
		"SecretReference": {
			reason: "A Secret reference takes one more call, with the Secret.",
			req:    req(xrJSON("users", bearerRefSpec), "", nil),
			calls:  2,
		},
		"TerraformImportAndSecret": {
			reason: "A terraform import asks for the Secret and the holders of its id in the same round.",
			req:    req(importing, tfManage, nil),
			calls:  2,
		},
		"TerraformImportOwnWorkspace": {
			reason:  "Its own Workspace, labelled with the id it imports, does not stop the import.",
			req:     req(importing, tfManage, nil),
			cluster: cluster{holder(KindWorkspace, "team-a", "users", idA)},
			calls:   2,
		},
		"TerraformImportHeldByEventStream": {
			reason:  "An EventStream in another namespace holds the id: refused, naming it.",
			req:     req(importing, tfManage, nil),
			cluster: cluster{holder(v1alpha1.EventStreamKind, "team-b", "theirs", idA)},
			calls:   2,
			refusal: "invalid Auth0EventStream: spec.streamId: Forbidden: stream " + idA + " is already held by EventStream team-b/theirs (label " + v1alpha1.LabelStreamID + "): a stream has one owner",
		},
		"TerraformImportHeldByWorkspace": {
			reason:  "Another Workspace holds the id, even one of the same name elsewhere: refused.",
			req:     req(importing, tfManage, nil),
			cluster: cluster{holder(KindWorkspace, "team-b", "users", idA), holder(KindWorkspace, "team-a", "users", idA)},
			calls:   2,
			refusal: "invalid Auth0EventStream: spec.streamId: Forbidden: stream " + idA + " is already held by Workspace team-b/users",
		},
		"TerraformHolding": {
			reason:  "Once its Workspace holds the stream the holders are not asked for: a label another resource forged cannot take it away.",
			req:     req(importing, tfManage, map[string]string{string(NameWorkspace): tfWorkspaceHolding("users", idA, "ClusterProviderConfig", "default", true)}),
			cluster: cluster{holder(v1alpha1.EventStreamKind, "team-b", "theirs", idA)},
			calls:   2,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := append(testCluster(t), tc.cluster...)
			rsp, calls := runPipeline(t, tc.req, c)
			if calls != tc.calls {
				t.Errorf("%s\n%d calls, want %d", tc.reason, calls, tc.calls)
			}
			m := fatalMessage(rsp)
			switch {
			case tc.refusal == "" && m != "":
				t.Errorf("%s\nrefused: %s", tc.reason, m)
			case tc.refusal != "" && !strings.HasPrefix(m, tc.refusal):
				t.Errorf("%s\nFatal result %q, want it to start with %q", tc.reason, m, tc.refusal)
			}
		})
	}
	// The holders are asked for in every namespace.
	need := holderSelectors(idA)
	for name, s := range need {
		if s.Namespace != nil {
			t.Errorf("requirement %s is limited to namespace %q", name, s.GetNamespace())
		}
	}
}

// tfWorkspaceHolding is an observed Workspace whose outputs hold stream id,
// using the ProviderConfig kind/name; pinned when spec.streamId named id.
func tfWorkspaceHolding(name, id, kind, pc string, pinned bool) string {
	ann := "{}"
	if pinned {
		ann = fmt.Sprintf(`{%q:%q}`, AnnotationStreamID, id)
	}
	return fmt.Sprintf(`{"apiVersion":"tf.m.upbound.io/v1beta1","kind":"Workspace","metadata":{"name":%q,"namespace":"team-a","annotations":%s},
		"spec":{"providerConfigRef":{"kind":%q,"name":%q},"forProvider":{}},
		"status":{"conditions":[{"type":"Ready","status":"True","reason":"Available"},{"type":"Synced","status":"True","reason":"ReconcileSuccess"}],
		"atProvider":{"outputs":{"id":%q,"name":%q,"status":"enabled","destination_type":"webhook","subscriptions":["user.created"]}}}}`, name, ann, kind, pc, id, name)
}

func TestTerraformTenantPin(t *testing.T) {
	ws := tfWorkspaceHolding("users", idA, "ClusterProviderConfig", "auth0", false)
	notYet := `{"apiVersion":"tf.m.upbound.io/v1beta1","kind":"Workspace","metadata":{"name":"users","namespace":"team-a"},
		"spec":{"providerConfigRef":{"kind":"ClusterProviderConfig","name":"auth0"},"forProvider":{}},"status":{}}`
	in := `{"apiVersion":"auth0eventstream.fn.openmcf.org/v1beta1","kind":"Input","backend":"terraform","providerConfigRef":{"kind":"ClusterProviderConfig","name":"auth0"}}`
	cases := map[string]struct {
		reason   string
		xr, in   string
		observed string
		refusal  string
	}{
		"Same": {
			reason: "The ProviderConfig that holds the stream stays.", xr: webhookBearerInline, in: in, observed: ws,
		},
		"CompositeChangesIt": {
			reason: "Another ProviderConfig would start from no state: a second stream. Refused.",
			xr:     strings.TrimSuffix(webhookBearerInline, "}") + `,"providerConfigRef":{"kind":"ProviderConfig","name":"mine"}}`, in: in, observed: ws,
			refusal: "invalid Auth0EventStream: spec.providerConfigRef: Forbidden: Workspace users holds stream " + idA + " through ClusterProviderConfig/auth0, whose Terraform state records it; ProviderConfig/mine (the composite's, else the composition's) would start from no state and create a second stream",
		},
		"CompositionChangesIt": {
			reason: "The composition's default is pinned alike.", xr: webhookBearerInline, in: tfInput, observed: ws,
			refusal: "invalid Auth0EventStream: spec.providerConfigRef: Forbidden: Workspace users holds stream " + idA + " through ClusterProviderConfig/auth0",
		},
		"BeforeItHoldsAStream": {
			reason: "Until Terraform holds a stream, the ProviderConfig may change.",
			xr:     strings.TrimSuffix(webhookBearerInline, "}") + `,"providerConfigRef":{"kind":"ProviderConfig","name":"mine"}}`, in: in, observed: notYet,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rsp := runTF(t, req(xrJSON("users", tc.xr), tc.in, map[string]string{string(NameWorkspace): tc.observed}))
			m := fatalMessage(rsp)
			switch {
			case tc.refusal == "" && m != "":
				t.Errorf("%s\nrefused: %s", tc.reason, m)
			case tc.refusal != "" && !strings.HasPrefix(m, tc.refusal):
				t.Errorf("%s\nFatal result %q, want it to start with %q", tc.reason, m, tc.refusal)
			case tc.refusal != "" && len(rsp.GetDesired().GetResources()) != 0:
				t.Errorf("%s\ncomposed %v despite the refusal", tc.reason, composedKinds(rsp))
			}
			if tc.refusal == "" && m == "" {
				labels, _ := desiredObject(t, rsp, string(NameWorkspace))["metadata"].(map[string]any)["labels"].(map[string]any)
				if held := strings.Contains(tc.observed, idA); held != (labels[v1alpha1.LabelStreamID] == idA) {
					t.Errorf("%s\nWorkspace labels %v: the id it holds is labelled iff it holds one", tc.reason, labels)
				}
			}
		})
	}
}

func TestBackendSwitchRefused(t *testing.T) {
	es := observedES("users", found(idA))
	ws := tfWorkspaceHolding("users", idA, "ClusterProviderConfig", "default", false)
	cases := map[string]struct {
		in       string
		observed map[string]string
		want     []string
	}{
		"NativeToTerraform": {
			in: tfInput, observed: map[string]string{string(NameEventStream): es},
			want: []string{"held by EventStream team-a/users (pipeline resource event-stream, backend native)", "composes with backend terraform", "Nothing was deleted or changed", "spec.crossplane.compositionRef"},
		},
		"TerraformToNative": {
			in: "", observed: map[string]string{string(NameWorkspace): ws, string(NameSecret): secretJSON("team-a", "users-webhook-authorization", nil)},
			want: []string{"held by Workspace team-a/users (pipeline resource workspace, backend terraform)", "composes with backend native", "Nothing was deleted or changed"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rsp, calls := runPipeline(t, req(xrJSON("users", webhookBearerInline), tc.in, tc.observed), testCluster(t))
			m := fatalMessage(rsp)
			if !strings.HasPrefix(m, "refused: ") {
				t.Fatalf("not refused: %q", m)
			}
			for _, w := range tc.want {
				if !strings.Contains(m, w) {
					t.Errorf("Fatal result %q does not say %q", m, w)
				}
			}
			if calls != 1 || len(rsp.GetDesired().GetResources()) != 0 {
				t.Errorf("%d calls, composed %v; want one call composing nothing (Crossplane then deletes nothing)", calls, composedKinds(rsp))
			}
		})
	}
}

// gzipBase64 is s gzipped and base64-encoded, as provider-terraform
// attaches Terraform's stderr.
func gzipBase64(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

func TestMaskedMessages(t *testing.T) {
	const (
		inline = "s3cr3t-token"
		padded = "  padded-header-value \n"
	)
	blob := gzipBase64(t, "Error: POST https://x: token="+hookToken+"\n")
	// provider-terraform v1.0.1's error text around Terraform's summary.
	tfError := func(summary string) string {
		return `Terraform encountered an error. Summary: ` + summary + `. To see the full error run: echo \"` + blob + `\" | base64 -d | gunzip`
	}
	syncFailed := func(msg string) string {
		return `{"conditions":[{"type":"Ready","status":"False","reason":"Creating"},{"type":"Synced","status":"False","reason":"ReconcileError","message":"` + msg + `"}]}`
	}
	wsWith := func(status string) string {
		return `{"apiVersion":"tf.m.upbound.io/v1beta1","kind":"Workspace","metadata":{"name":"users","namespace":"team-a"},"spec":{"providerConfigRef":{"kind":"ClusterProviderConfig","name":"default"}},"status":` + status + `}`
	}
	paddedCluster := cluster{webhookSecret("team-a", "hook", map[string]string{"tok": base64.StdEncoding.EncodeToString([]byte(padded))}, true)}
	cases := map[string]struct {
		xr, in   string
		observed map[string]string
		cluster  cluster
		secrets  []string
		want     string
	}{
		"NativeInlineValue": {
			xr: webhookBearerInline, observed: map[string]string{"event-stream": observedES("users", syncFailed("Auth0 said: bad token "+inline))},
			secrets: []string{inline}, want: "EventStream users is not synced: Auth0 said: bad token [redacted]",
		},
		"NativeReferencedValue": {
			xr: bearerRefSpec, observed: map[string]string{"event-stream": observedES("users", syncFailed("refused "+hookToken+" at https://user:pa55@hooks.example.com/x"))},
			secrets: []string{hookToken, "pa55"}, want: "EventStream users is not synced: refused [redacted] at https://[redacted]@hooks.example.com/x",
		},
		"NativeTrimmedValue": {
			xr: bearerRefSpec, cluster: paddedCluster, observed: map[string]string{"event-stream": observedES("users", syncFailed("sent padded-header-value"))},
			secrets: []string{"padded-header-value"}, want: "EventStream users is not synced: sent [redacted]",
		},
		"TerraformStderr": {
			xr: bearerRefSpec, in: tfInput, observed: map[string]string{string(NameWorkspace): wsWith(syncFailed(tfError("401 Unauthorized: Bearer " + hookToken)))},
			secrets: []string{hookToken, blob},
			want:    "Workspace users is not synced: Terraform encountered an error. Summary: 401 Unauthorized: Bearer [redacted]. " + terraformOutputOmitted,
		},
		"TerraformUserInfo": {
			xr: bearerRefSpec, in: tfInput, observed: map[string]string{string(NameWorkspace): wsWith(syncFailed(tfError("POST https://user:pa55@hooks.example.com/x: 400")))},
			secrets: []string{"pa55", blob},
			want:    "Workspace users is not synced: Terraform encountered an error. Summary: POST https://[redacted]@hooks.example.com/x: 400. " + terraformOutputOmitted,
		},
		"TerraformPattern": {
			xr: webhookBearerInline, in: tfInput, observed: map[string]string{string(NameWorkspace): wsWith(syncFailed(tfError(`invalid: {\"client_secret\": \"abc123\"}`)))},
			secrets: []string{"abc123", blob},
			want:    `Workspace users is not synced: Terraform encountered an error. Summary: invalid: {"client_secret": "[redacted]"}. ` + terraformOutputOmitted,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := tc.cluster
			if c == nil {
				c = testCluster(t)
			}
			rsp, _ := runPipeline(t, req(xrJSON("users", tc.xr), tc.in, tc.observed), c)
			if m := fatalMessage(rsp); m != "" {
				t.Fatal(m)
			}
			var got []string
			for _, c := range rsp.GetConditions() {
				got = append(got, c.GetMessage())
			}
			for _, r := range rsp.GetResults() {
				got = append(got, r.GetMessage())
			}
			if diff := cmp.Diff([]string{tc.want, tc.want}, got); diff != "" {
				t.Errorf("StreamReady and the warning: -want, +got:\n%s", diff)
			}
			out, err := protojson.Marshal(rsp)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.secrets {
				if strings.Contains(string(out), s) {
					t.Errorf("the answer holds %q", s)
				}
			}
		})
	}
}

func TestMaskedDeliveries(t *testing.T) {
	status := `{"conditions":[{"type":"Ready","status":"True","reason":"Available"},{"type":"Synced","status":"True","reason":"ReconcileSuccess"},
		{"type":"DeliveriesHealthy","status":"False","reason":"DeliveriesFailing","message":"1 event failed: 401 for Bearer ` + hookToken + `"}],
		"atProvider":{"id":"` + idA + `","deliveries":{"failed24h":1,"lastFailure":{"time":"t","eventType":"user.created","message":"rejected ` + hookToken + `"},
		"lastAction":{"annotation":"a","value":"v","time":"t","outcome":"Accepted","message":"sent to https://u:p4ss@h.example.com"}}}}`
	rsp, _ := runPipeline(t, req(xrJSON("users", bearerRefSpec), "", map[string]string{"event-stream": observedES("users", status)}), testCluster(t))
	if m := fatalMessage(rsp); m != "" {
		t.Fatal(m)
	}
	out, err := protojson.Marshal(rsp)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{hookToken, "p4ss"} {
		if strings.Contains(string(out), s) {
			t.Errorf("the answer holds %q:\n%s", s, out)
		}
	}
	for _, s := range []string{"rejected [redacted]", "sent to https://[redacted]@h.example.com", "1 event failed: 401 for Bearer [redacted]"} {
		if !strings.Contains(string(out), s) {
			t.Errorf("the answer does not hold %q:\n%s", s, out)
		}
	}
}

func TestEventTypes(t *testing.T) {
	spec := func(subs string) string {
		return `{"destinationType":"action","subscriptions":` + subs + `,"actionConfiguration":{"actionId":"a"}}`
	}
	cases := map[string]struct {
		reason, xr, in, refusal string
	}{
		"Catalog": {reason: "Types in the catalog compose.", xr: spec(`["user.created","organization.updated"]`)},
		"Unknown": {
			reason: "Auth0 refuses a type outside its catalog, so the function does, naming each subscription and the escape hatch.",
			xr:     spec(`["user.created","authentication.success","authentication.failure"]`),
			refusal: `invalid Auth0EventStream: spec.subscriptions[1]: Invalid value: "authentication.success": not in Auth0's event type catalog, so Auth0 would refuse the stream (docs/api.md lists the catalog); if Auth0 has added this type since this release, the platform can admit it in the Composition's function input extraEventTypes; ` +
				`spec.subscriptions[2]: Invalid value: "authentication.failure": not in Auth0's event type catalog`,
		},
		"Admitted": {
			reason: "The input's extraEventTypes admit newer types.",
			xr:     spec(`["user.created","authentication.success"]`), in: input + `,"extraEventTypes":["authentication.success"]}`,
		},
		"AdmittedOthersNot": {
			reason: "Only the types the input names.", xr: spec(`["authentication.success","authentication.failure"]`), in: input + `,"extraEventTypes":["authentication.success"]}`,
			refusal: `invalid Auth0EventStream: spec.subscriptions[1]: Invalid value: "authentication.failure"`,
		},
		"BadExtra": {
			reason: "extraEventTypes are dotted event types, each once.", xr: spec(`["user.created"]`), in: input + `,"extraEventTypes":["Bad Type","a.b","a.b"]}`,
			refusal: `cannot get function input: extraEventTypes[0]: Invalid value: "Bad Type": must match ` + "^[a-z0-9_]+(\\.[a-z0-9_]+)+$" + `, as each of spec.subscriptions must; extraEventTypes[2]: Duplicate value: "a.b"`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rsp, _ := runPipeline(t, req(xrJSON("users", tc.xr), tc.in, nil), testCluster(t))
			m := fatalMessage(rsp)
			switch {
			case tc.refusal == "" && m != "":
				t.Errorf("%s\nrefused: %s", tc.reason, m)
			case tc.refusal != "" && !strings.HasPrefix(m, tc.refusal):
				t.Errorf("%s\nFatal result %q, want it to start with %q", tc.reason, m, tc.refusal)
			}
		})
	}
}

func TestTestEventOfAdmittedType(t *testing.T) {
	xr := `{"apiVersion":"auth0.openmcf.org/v1","kind":"Auth0EventStream","metadata":{"name":"users","namespace":"team-a",
		"annotations":{"` + AnnotationSendTestEvent + `":"authentication.success#1"}},"spec":{"destinationType":"action","subscriptions":["authentication.success"],"actionConfiguration":{"actionId":"a"}}}`
	rsp, _ := runPipeline(t, req(xr, input+`,"extraEventTypes":["authentication.success"]}`, nil), testCluster(t))
	if m := fatalMessage(rsp); m != "" || len(rsp.GetResults()) != 0 {
		t.Fatalf("results %v", rsp.GetResults())
	}
	ann, _ := desiredObject(t, rsp, string(NameEventStream))["metadata"].(map[string]any)["annotations"].(map[string]any)
	if ann[annotationMRSendTestEvent] != "authentication.success#1" {
		t.Errorf("annotations %v: the test event of an admitted type is not passed on", ann)
	}
}

func TestDefaultStreamName(t *testing.T) {
	long := strings.Repeat("a", 129)
	action := `"destinationType":"action","subscriptions":["user.created"],"actionConfiguration":{"actionId":"a"}`
	cases := map[string]struct {
		xr, refusal string
	}{
		"At128":    {xr: xrJSON(strings.Repeat("a", 128), `{`+action+`}`)},
		"Too long": {xr: xrJSON(long, `{`+action+`}`), refusal: "invalid Auth0EventStream: metadata.name: Forbidden: the composite's metadata.name is 129 characters and names the stream in Auth0 when spec.name is empty, but Auth0 allows at most 128: set spec.name (at most 128 characters)"},
		"Named":    {xr: xrJSON(long, `{"name":"short",`+action+`}`)},
		"Claim": {
			xr: `{"apiVersion":"auth0.openmcf.org/v1","kind":"XAuth0EventStream","metadata":{"name":"x-1"},
				"spec":{"claimRef":{"apiVersion":"auth0.openmcf.org/v1","kind":"Auth0EventStream","namespace":"team-b","name":"` + long + `"},` + action + `}}`,
			refusal: "invalid Auth0EventStream: metadata.name: Forbidden: the claim's metadata.name is 129 characters",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rsp, _ := runPipeline(t, req(tc.xr, "", nil), testCluster(t))
			m := fatalMessage(rsp)
			switch {
			case tc.refusal == "" && m != "":
				t.Errorf("refused: %s", m)
			case tc.refusal != "" && !strings.HasPrefix(m, tc.refusal):
				t.Errorf("Fatal result %q, want it to start with %q", m, tc.refusal)
			}
		})
	}
}
