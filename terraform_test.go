package main

import (
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/version"
)

const (
	tfInput = `{"apiVersion":"auth0eventstream.fn.openmcf.org/v1beta1","kind":"Input","backend":"terraform"}`
	// tfManage is the terraform backend's input where imports may be
	// managed.
	tfManage = `{"apiVersion":"auth0eventstream.fn.openmcf.org/v1beta1","kind":"Input","backend":"terraform","importPolicy":"Manage"}`
)

// runTF runs the function as Crossplane would, over testCluster.
func runTF(t *testing.T, r *fnv1.RunFunctionRequest) *fnv1.RunFunctionResponse {
	t.Helper()
	rsp, _ := runPipeline(t, r, testCluster(t))
	return rsp
}

// desiredObject is one desired composed resource as JSON values.
func desiredObject(t *testing.T, rsp *fnv1.RunFunctionResponse, name string) map[string]any {
	t.Helper()
	r, ok := rsp.GetDesired().GetResources()[name]
	if !ok {
		return nil
	}
	return r.GetResource().AsMap()
}

func fatalMessage(rsp *fnv1.RunFunctionResponse) string {
	for _, r := range rsp.GetResults() {
		if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
			return r.GetMessage()
		}
	}
	return ""
}

func TestTerraformWorkspace(t *testing.T) {
	rsp := runTF(t, req(xrJSON("users", webhookBearerInline), tfInput, nil))
	if m := fatalMessage(rsp); m != "" {
		t.Fatal(m)
	}
	if _, ok := rsp.GetDesired().GetResources()[string(NameEventStream)]; ok {
		t.Error("the terraform backend composed an EventStream")
	}
	ws := desiredObject(t, rsp, string(NameWorkspace))
	if ws == nil {
		t.Fatalf("no Workspace composed; got %v", rsp.GetDesired().GetResources())
	}
	fp := ws["spec"].(map[string]any)["forProvider"].(map[string]any)
	module, _ := fp["module"].(string)
	if !json.Valid([]byte(module)) || !strings.Contains(module, `"auth0_event_stream"`) {
		t.Errorf("module is not the stream's Terraform JSON:\n%s", module)
	}
	delete(fp, "module") // internal/tfstream's tests check it.
	want := map[string]any{
		"apiVersion": "tf.m.upbound.io/v1beta1",
		"kind":       "Workspace",
		"metadata": map[string]any{
			"name": "users", "namespace": "team-a",
			"labels":      map[string]any{LabelFunctionVersion: version.Version},
			"annotations": map[string]any{AnnotationExternalName: workspaceName("team-a", "users")},
		},
		"spec": map[string]any{
			"providerConfigRef":  map[string]any{"kind": "ClusterProviderConfig", "name": "default"},
			"managementPolicies": []any{"*"},
			"forProvider": map[string]any{
				"source":       "Inline",
				"inlineFormat": "JSON",
				"varmap": map[string]any{
					"name": "users", "status": "enabled", "destination_type": "webhook",
					"subscriptions":                []any{"user.created", "user.deleted"},
					"webhook_endpoint":             "https://api.example.com/hook",
					"webhook_authorization_method": "bearer",
				},
				// The inline token travels through the composed Secret.
				"env": []any{map[string]any{
					"name":         "TF_VAR_webhook_token",
					"secretKeyRef": map[string]any{"name": "users-webhook-authorization", "key": "token"},
				}},
			},
		},
	}
	if diff := cmp.Diff(want, ws); diff != "" {
		t.Errorf("Workspace: -want, +got:\n%s", diff)
	}
	s := desiredObject(t, rsp, string(NameSecret))
	if s == nil || s["data"].(map[string]any)["token"] != base64.StdEncoding.EncodeToString([]byte("s3cr3t-token")) {
		t.Errorf("the inline token's Secret is not composed as with the native backend: %v", s)
	}
	if got := rsp.GetConditions(); len(got) != 1 || got[0].GetMessage() != "Workspace users has not been created yet" {
		t.Errorf("conditions %v, want StreamReady Creating for the Workspace", got)
	}
}

func TestTerraformWorkspaceName(t *testing.T) {
	a := workspaceName("team-a", "users")
	if !strings.HasPrefix(a, "users-") || len(a) != len("users-")+workspaceHashLen {
		t.Errorf("workspaceName = %q, want users-<%d hex digits>", a, workspaceHashLen)
	}
	// tfstate-<workspace>-<suffix> must differ whenever namespace or name
	// do, even where plain concatenation would collide.
	seen := map[string]string{}
	for _, nn := range [][2]string{{"team-a", "users"}, {"team-b", "users"}, {"team", "a-users"}, {"team-a", "users-2"}, {"a-b", "c"}, {"a", "b-c"}} {
		state := "tfstate-" + workspaceName(nn[0], nn[1]) + "-auth0"
		if other, ok := seen[state]; ok {
			t.Errorf("%s/%s and %s share the state Secret %s", nn[0], nn[1], other, state)
		}
		seen[state] = nn[0] + "/" + nn[1]
	}
	// The longest name Kubernetes allows still gives a label value.
	for _, name := range []string{strings.Repeat("n", 253), strings.Repeat("n", 49) + "-" + strings.Repeat("y", 30), strings.Repeat("n", 49) + ".x"} {
		if w := workspaceName("team-a", name); len(w) > 63 || strings.Contains(w, "--") || strings.Contains(w, ".-") {
			t.Errorf("workspaceName of %q = %q: not a label value of at most 63 characters", name, w)
		}
	}
}

func TestTerraformObserved(t *testing.T) {
	workspace := func(conditions, outputs string) string {
		return `{"apiVersion":"tf.m.upbound.io/v1beta1","kind":"Workspace","metadata":{"name":"users","namespace":"team-a"},` +
			`"status":{"conditions":` + conditions + `,"atProvider":{"checksum":"abc","outputs":` + outputs + `}}}`
	}
	const outputs = `{"id":"est_GvjBteLHIa0va68OQ8mnM6","name":"users","status":"enabled","destination_type":"webhook",
		"created_at":"2026-11-26 08:06:36.982 +0000 UTC","updated_at":"2026-11-26 08:07:01 +0000 UTC",
		"subscriptions":["user.created","user.deleted"],"aws_partner_event_source":""}`
	const (
		ready     = `{"type":"Ready","status":"True","reason":"Available"}`
		synced    = `{"type":"Synced","status":"True","reason":"ReconcileSuccess"}`
		notSynced = `{"type":"Synced","status":"False","reason":"ReconcileError","message":"apply failed: 429 Too Many Requests"}`
		creating  = `{"type":"Ready","status":"False","reason":"Creating"}`
	)
	cases := map[string]struct {
		workspace string
		ready     fnv1.Ready
		outputs   map[string]any
		status    fnv1.Status
		reason    string
		message   string
		notSynced bool
	}{
		"Ready": {
			workspace: workspace("["+ready+","+synced+"]", outputs),
			ready:     fnv1.Ready_READY_TRUE,
			outputs: map[string]any{
				"id": "est_GvjBteLHIa0va68OQ8mnM6", "name": "users", "status": "enabled", "destinationType": "webhook",
				"createdAt": "2026-11-26T08:06:36.982Z", "updatedAt": "2026-11-26T08:07:01Z",
				"subscriptions": []any{"user.created", "user.deleted"}, "awsPartnerEventSource": "",
			},
			status: fnv1.Status_STATUS_CONDITION_TRUE, reason: "Available", message: "Workspace users is ready",
		},
		"NotSynced": {
			workspace: workspace("["+ready+","+notSynced+"]", outputs),
			ready:     fnv1.Ready_READY_FALSE,
			outputs: map[string]any{
				"id": "est_GvjBteLHIa0va68OQ8mnM6", "name": "users", "status": "enabled", "destinationType": "webhook",
				"createdAt": "2026-11-26T08:06:36.982Z", "updatedAt": "2026-11-26T08:07:01Z",
				"subscriptions": []any{"user.created", "user.deleted"}, "awsPartnerEventSource": "",
			},
			status: fnv1.Status_STATUS_CONDITION_FALSE, reason: "ReconcileError",
			message:   "Workspace users is not synced: apply failed: 429 Too Many Requests",
			notSynced: true,
		},
		"NoStreamYet": {
			workspace: workspace("["+creating+","+synced+"]", `{}`),
			ready:     fnv1.Ready_READY_FALSE,
			status:    fnv1.Status_STATUS_CONDITION_FALSE, reason: "Creating", message: "Workspace users is not ready",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rsp := runTF(t, req(xrJSON("users", webhookBearerInline), tfInput, map[string]string{string(NameWorkspace): tc.workspace}))
			if m := fatalMessage(rsp); m != "" {
				t.Fatal(m)
			}
			if got := rsp.GetDesired().GetResources()[string(NameWorkspace)].GetReady(); got != tc.ready {
				t.Errorf("Workspace ready %v, want %v", got, tc.ready)
			}
			xr := rsp.GetDesired().GetComposite().GetResource().AsMap()
			status, _ := xr["status"].(map[string]any)
			var got map[string]any
			if status != nil {
				got, _ = status["outputs"].(map[string]any)
			}
			if diff := cmp.Diff(tc.outputs, got); diff != "" {
				t.Errorf("status.outputs: -want, +got:\n%s", diff)
			}
			c := rsp.GetConditions()
			if len(c) != 1 || c[0].GetType() != ConditionStreamReady || c[0].GetStatus() != tc.status || c[0].GetReason() != tc.reason || c[0].GetMessage() != tc.message {
				t.Errorf("conditions %v, want StreamReady %v %s %q", c, tc.status, tc.reason, tc.message)
			}
			var warned bool
			for _, r := range rsp.GetResults() {
				if r.GetReason() == ReasonStreamNotSynced && r.GetMessage() == tc.message {
					warned = true
				}
			}
			if warned != tc.notSynced {
				t.Errorf("warning %s recorded: %t, want %t (results %v)", ReasonStreamNotSynced, warned, tc.notSynced, rsp.GetResults())
			}
		})
	}
}

func TestTerraformRefuses(t *testing.T) {
	const bearerRef = `{"destinationType":"webhook","subscriptions":["user.created"],
		"webhookConfiguration":{"webhookEndpoint":"https://api.example.com/hook","webhookAuthorization":{"method":"bearer","tokenSecretRef":{"name":"s","key":"k"}}}`
	cases := map[string]struct {
		xr, input, want string
	}{
		"ObserveOnly": {
			xr:    xrJSON("users", bearerRef+`,"streamId":"est_GvjBteLHIa0va68OQ8mnM6","managementPolicies":["Observe"]}`),
			input: tfManage,
			want:  "invalid Auth0EventStream: spec.managementPolicies: Forbidden: [Observe] (the composite's, else the composition's) do not allow Create, which the terraform backend needs",
		},
		"ImportWhereImportsAreObserveOnly": {
			xr:    xrJSON("users", bearerRef+`,"streamId":"est_GvjBteLHIa0va68OQ8mnM6"}`),
			input: tfInput,
			want:  "invalid Auth0EventStream: spec.streamId: Forbidden: this composition imports existing streams Observe-only (function input importPolicy: ObserveOnly, a platform decision), and the terraform backend cannot only observe a stream",
		},
		"NameTooLongForStateLabel": {
			// With stateIsolation ProviderConfig the Terraform workspace is
			// the Workspace's name, which labels the state Secret.
			xr:    xrJSON(strings.Repeat("n", 64), bearerRef+`}`),
			input: `{"apiVersion":"auth0eventstream.fn.openmcf.org/v1beta1","kind":"Input","backend":"terraform","terraform":{"stateIsolation":"ProviderConfig"}}`,
			want:  "invalid Auth0EventStream: metadata.name: Too long: may not be more than 63 bytes",
		},
		"ProviderConfigNotAllowed": {
			xr:    xrJSON("users", bearerRef+`,"providerConfigRef":{"kind":"ProviderConfig","name":"other-tenant"}}`),
			input: `{"apiVersion":"auth0eventstream.fn.openmcf.org/v1beta1","kind":"Input","backend":"terraform","allowedProviderConfigs":[{"kind":"ClusterProviderConfig","name":"default"}]}`,
			want:  "invalid Auth0EventStream: spec.providerConfigRef: Forbidden: ProviderConfig/other-tenant is not allowed by the composition",
		},
		"TerraformInputWithNativeBackend": {
			xr:    xrJSON("users", bearerRef+`}`),
			input: `{"apiVersion":"auth0eventstream.fn.openmcf.org/v1beta1","kind":"Input","terraform":{}}`,
			want:  "cannot get function input: terraform: Forbidden: only with backend terraform",
		},
		"UnknownStateIsolation": {
			xr:    xrJSON("users", bearerRef+`}`),
			input: `{"apiVersion":"auth0eventstream.fn.openmcf.org/v1beta1","kind":"Input","backend":"terraform","terraform":{"stateIsolation":"Shared"}}`,
			want:  `cannot get function input: terraform.stateIsolation: Unsupported value: "Shared"`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rsp := runTF(t, req(tc.xr, tc.input, nil))
			if m := fatalMessage(rsp); !strings.HasPrefix(m, tc.want) {
				t.Errorf("Fatal result %q, want it to start with %q", m, tc.want)
			}
			if len(rsp.GetDesired().GetResources()) != 0 {
				t.Errorf("composed %v despite the refusal", rsp.GetDesired().GetResources())
			}
		})
	}
}

func TestTerraformProviderConfigIsolationOption(t *testing.T) {
	in := `{"apiVersion":"auth0eventstream.fn.openmcf.org/v1beta1","kind":"Input","backend":"terraform","terraform":{"stateIsolation":"ProviderConfig"},
		"providerConfigRef":{"kind":"ProviderConfig","name":"tenant-a"}}`
	rsp := runTF(t, req(xrJSON("users", webhookBearerInline), in, nil))
	if m := fatalMessage(rsp); m != "" {
		t.Fatal(m)
	}
	ws := desiredObject(t, rsp, string(NameWorkspace))
	if ann, _ := ws["metadata"].(map[string]any)["annotations"].(map[string]any); ann[AnnotationExternalName] != nil {
		t.Errorf("external name %v set although the ProviderConfig keeps the state apart", ann[AnnotationExternalName])
	}
	spec := ws["spec"].(map[string]any)
	if diff := cmp.Diff(map[string]any{"kind": "ProviderConfig", "name": "tenant-a"}, spec["providerConfigRef"]); diff != "" {
		t.Errorf("providerConfigRef: -want, +got:\n%s", diff)
	}
}

func TestTerraformIgnoresDeliveryActions(t *testing.T) {
	xr := `{"apiVersion":"auth0.openmcf.org/v1","kind":"Auth0EventStream","metadata":{"name":"users","namespace":"team-a",
		"annotations":{"auth0.openmcf.org/send-test-event":"user.created#1"}},"spec":` + webhookBearerInline + `}`
	rsp := runTF(t, req(xr, tfInput, nil))
	var warned bool
	for _, r := range rsp.GetResults() {
		warned = warned || (r.GetReason() == ReasonBackendUnsupported && strings.Contains(r.GetMessage(), AnnotationSendTestEvent))
	}
	if !warned {
		t.Errorf("no %s warning about the delivery action; results %v", ReasonBackendUnsupported, rsp.GetResults())
	}
	ann, _ := desiredObject(t, rsp, string(NameWorkspace))["metadata"].(map[string]any)["annotations"].(map[string]any)
	if _, ok := ann[AnnotationSendTestEvent]; ok || len(ann) != 1 {
		t.Errorf("Workspace annotations %v, want only its external name", ann)
	}
}

// TestTerraformKeepsSecretsOutOfWorkspace runs the function with the
// terraform backend over every manifest in example/ and testdata/ that is a
// composite (or claim) and checks that no secret value of any of them (an
// inline password, token or header value, or a value of an example Secret)
// appears in the Workspace, nor anywhere in the answer but the composed
// Secret. The input admits the seed's event types and managed imports, so
// that every example composes; the example Secrets are in every namespace.
func TestTerraformKeepsSecretsOutOfWorkspace(t *testing.T) {
	const in = `{"apiVersion":"auth0eventstream.fn.openmcf.org/v1beta1","kind":"Input","backend":"terraform","importPolicy":"Manage",
		"extraEventTypes":["authentication.success","authentication.failure","api.authorization.success","api.authorization.failure","management.client.created","management.connection.updated"]}`
	var (
		secrets []string
		c       cluster
	)
	type manifest struct {
		file string
		obj  map[string]any
	}
	var xrs []manifest
	for _, root := range []string{"example", "testdata"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" || strings.HasPrefix(path, filepath.Join("testdata", "render")) || strings.HasPrefix(path, filepath.Join("testdata", "crds")) {
				return err
			}
			for _, doc := range splitYAML(t, path) {
				switch doc["kind"] {
				case "Secret":
					data := map[string]string{}
					for _, k := range []string{"stringData", "data"} {
						m, _ := doc[k].(map[string]any)
						for key, v := range m {
							s, _ := v.(string)
							if k == "data" {
								b, err := base64.StdEncoding.DecodeString(s)
								if err != nil {
									t.Fatalf("%s: data not base64: %v", path, err)
								}
								s = string(b)
							}
							if s != "" {
								secrets = append(secrets, s)
							}
							data[key] = base64.StdEncoding.EncodeToString([]byte(s))
						}
					}
					name, _ := doc["metadata"].(map[string]any)["name"].(string)
					for _, ns := range []string{"default", "team-a"} {
						c = append(c, webhookSecret(ns, name, data, true))
					}
				case "Auth0EventStream", "XAuth0EventStream":
					if doc["apiVersion"] != "auth0.openmcf.org/v1" {
						continue
					}
					xrs = append(xrs, manifest{path, doc})
					spec, _ := doc["spec"].(map[string]any)
					wc, _ := spec["webhookConfiguration"].(map[string]any)
					wa, _ := wc["webhookAuthorization"].(map[string]any)
					for _, k := range []string{"password", "token", "headerValue"} {
						if s, _ := wa[k].(string); s != "" {
							secrets = append(secrets, s)
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// A value of a few characters (testdata's headerValue "v") occurs in
	// any text; longer ones cannot by chance.
	secrets = slices.DeleteFunc(secrets, func(s string) bool { return len(s) < 4 })
	if len(secrets) < 4 || len(xrs) < 10 {
		t.Fatalf("found %d secret values in %d composites: not the examples", len(secrets), len(xrs))
	}

	var workspaces int
	for _, m := range xrs {
		b, err := json.Marshal(m.obj)
		if err != nil {
			t.Fatal(err)
		}
		rsp, _ := runPipeline(t, req(string(b), in, nil), c)
		ws := desiredObject(t, rsp, string(NameWorkspace))
		if ws != nil {
			workspaces++
		}
		// Everything the function answered but the composed Secret.
		delete(rsp.GetDesired().GetResources(), string(NameSecret))
		out, err := protojson.Marshal(rsp)
		if err != nil {
			t.Fatal(err)
		}
		wsJSON, _ := json.Marshal(ws)
		for _, s := range secrets {
			for _, form := range []string{s, base64.StdEncoding.EncodeToString([]byte(s))} {
				if strings.Contains(string(wsJSON), form) {
					t.Errorf("%s: a secret value is in the Workspace", m.file)
				}
				if strings.Contains(string(out), form) {
					t.Errorf("%s: a secret value is in the answer outside the composed Secret", m.file)
				}
			}
		}
	}
	// Every example composes; what testdata/invalid holds is refused.
	if workspaces < 10 {
		t.Errorf("only %d of %d manifests composed a Workspace", workspaces, len(xrs))
	}
	t.Logf("%d manifests, %d Workspaces, %d secret values", len(xrs), workspaces, len(secrets))
}

func splitYAML(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for d := range strings.SplitSeq(string(b), "\n---\n") {
		o := map[string]any{}
		if err := yaml.Unmarshal([]byte(d), &o); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(o) > 0 {
			out = append(out, o)
		}
	}
	return out
}

// TestCompositionBackends checks that every Composition the packages ship
// carries the backend label of the backend its input selects, one of each
// per flavour (the terraform one in a Configuration of its own), that each
// XRD's default is the native one, and that each imports Observe-only.
func TestCompositionBackends(t *testing.T) {
	for flavour, tc := range map[string]struct {
		dirs []string
		xrd  string
	}{
		"namespaced": {[]string{"package/configuration", "package/configuration-terraform"}, xrdNamespaced},
		"legacy":     {[]string{"package/configuration-legacy", "package/configuration-legacy-terraform"}, xrdLegacy},
	} {
		t.Run(flavour, func(t *testing.T) {
			var files []string
			for _, dir := range tc.dirs {
				f, err := filepath.Glob(filepath.Join(dir, "composition*.yaml"))
				if err != nil || len(f) != 1 {
					t.Fatalf("%s: compositions %v (%v), want one", dir, f, err)
				}
				files = append(files, f...)
			}
			byBackend := map[string]string{}
			for _, f := range files {
				var c struct {
					Metadata struct {
						Name   string            `json:"name"`
						Labels map[string]string `json:"labels"`
					} `json:"metadata"`
					Spec struct {
						Pipeline []struct {
							Input struct {
								Backend      string `json:"backend"`
								ImportPolicy string `json:"importPolicy"`
							} `json:"input"`
						} `json:"pipeline"`
					} `json:"spec"`
				}
				readYAML(t, f, &c)
				label := c.Metadata.Labels["auth0.openmcf.org/backend"]
				if len(c.Spec.Pipeline) != 1 || c.Spec.Pipeline[0].Input.Backend != label {
					t.Fatalf("%s: label auth0.openmcf.org/backend %q does not name the backend of its input %+v", f, label, c.Spec.Pipeline)
				}
				if p := c.Spec.Pipeline[0].Input.ImportPolicy; p != "ObserveOnly" {
					t.Errorf("%s: importPolicy %q, want ObserveOnly (adoption is a platform decision, made in a Composition of its own)", f, p)
				}
				byBackend[label] = c.Metadata.Name
			}
			if byBackend["native"] == "" || byBackend["terraform"] == "" || len(byBackend) != 2 {
				t.Errorf("Compositions by backend %v, want one native and one terraform", byBackend)
			}
			if got := loadXRD(t, tc.xrd).Spec.DefaultCompositionRef; got == nil || got.Name != byBackend["native"] {
				t.Errorf("%s: defaultCompositionRef %v, want the native Composition %s", tc.xrd, got, byBackend["native"])
			}
		})
	}
}

// TestTerraformImport checks spec.streamId with the terraform backend: an
// import block and the pinned id on the Workspace, no Observe-only hold
// (the import fails, not creates, on a missing stream), and the native
// backend's rules on changing a bound id, read from the Workspace's outputs.
func TestTerraformImport(t *testing.T) {
	const (
		id    = "est_GvjBteLHIa0va68OQ8mnM6"
		other = "est_3kQ9vXbN2mLp7RtYwZcD4f"
	)
	spec := func(streamID string) string {
		s := `{"destinationType":"action","subscriptions":["user.created"],"actionConfiguration":{"actionId":"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"}`
		if streamID != "" {
			s += `,"streamId":"` + streamID + `"`
		}
		return s + `}`
	}
	workspace := func(pinned, holds string) string {
		ann := ""
		if pinned != "" {
			ann = `,"annotations":{"` + AnnotationStreamID + `":"` + pinned + `","crossplane.io/external-name":"users"}`
		}
		outputs := `{}`
		if holds != "" {
			outputs = `{"id":"` + holds + `","name":"users","status":"enabled","destination_type":"action","subscriptions":["user.created"]}`
		}
		return `{"apiVersion":"tf.m.upbound.io/v1beta1","kind":"Workspace","metadata":{"name":"users","namespace":"team-a"` + ann + `},` +
			`"status":{"atProvider":{"outputs":` + outputs + `}}}`
	}

	t.Run("Pins", func(t *testing.T) {
		rsp := runTF(t, req(xrJSON("users", spec(id)), tfManage, nil))
		if m := fatalMessage(rsp); m != "" {
			t.Fatal(m)
		}
		ws := desiredObject(t, rsp, string(NameWorkspace))
		md := ws["metadata"].(map[string]any)
		if diff := cmp.Diff(map[string]any{AnnotationStreamID: id, AnnotationExternalName: workspaceName("team-a", "users")}, md["annotations"]); diff != "" {
			t.Errorf("Workspace annotations: -want, +got:\n%s", diff)
		}
		if diff := cmp.Diff(map[string]any{LabelFunctionVersion: version.Version, v1alpha1.LabelStreamID: id}, md["labels"]); diff != "" {
			t.Errorf("Workspace labels (the id it imports): -want, +got:\n%s", diff)
		}
		sp := ws["spec"].(map[string]any)
		if diff := cmp.Diff([]any{"*"}, sp["managementPolicies"]); diff != "" {
			t.Errorf("managementPolicies: -want, +got (no Observe-only hold):\n%s", diff)
		}
		fp := sp["forProvider"].(map[string]any)
		if fp["varmap"].(map[string]any)["stream_id"] != id || !strings.Contains(fp["module"].(string), `"import"`) {
			t.Errorf("no import of %s: varmap %v, module:\n%s", id, fp["varmap"], fp["module"])
		}
	})
	for name, tc := range map[string]struct {
		streamID, pinned, holds, want string
	}{
		"ChangeWhileNotFound": {streamID: other, pinned: id},
		"SameAsHeld":          {streamID: id, holds: id},
		"ChangeBound": {
			streamID: other, pinned: id, holds: id,
			want: "invalid Auth0EventStream: spec.streamId: Invalid value: \"" + other + "\": Workspace users is bound to stream " + id + ", which exists",
		},
		"ChangeCreated": {
			streamID: other, holds: id,
			want: "invalid Auth0EventStream: spec.streamId: Invalid value: \"" + other + "\": Workspace users manages stream " + id,
		},
		"Removed": {
			pinned: id, holds: id,
			want: "invalid Auth0EventStream: spec.streamId: Required value: cannot be removed: Workspace users was bound to stream " + id,
		},
	} {
		t.Run(name, func(t *testing.T) {
			rsp := runTF(t, req(xrJSON("users", spec(tc.streamID)), tfManage, map[string]string{string(NameWorkspace): workspace(tc.pinned, tc.holds)}))
			m := fatalMessage(rsp)
			switch {
			case tc.want == "" && m != "":
				t.Errorf("refused: %s", m)
			case tc.want != "" && !strings.HasPrefix(m, tc.want):
				t.Errorf("Fatal result %q, want it to start with %q", m, tc.want)
			}
		})
	}
}

// The composed Secret of inline values must outlive the composite while the
// resource that reads it exists: provider-terraform destroys the stream
// with the Secret's values after the composite is gone. So once the
// Workspace (or EventStream) is observed it owns the Secret too, and
// Kubernetes keeps the Secret until both owners are gone.
func TestSecretOwnedByItsReader(t *testing.T) {
	const (
		workspace = `{"apiVersion":"tf.m.upbound.io/v1beta1","kind":"Workspace","metadata":{"name":"users","namespace":"team-a","uid":"0d9c6a2e-ws"}}`
		stream    = `{"apiVersion":"auth0.openmcf.org/v1alpha1","kind":"EventStream","metadata":{"name":"users","namespace":"team-a","uid":"7f1e-es"}}`
	)
	cases := map[string]struct {
		input    string
		observed map[string]string
		want     []any
	}{
		"TerraformBeforeTheWorkspaceExists": {input: tfInput},
		"TerraformWorkspaceObserved": {
			input:    tfInput,
			observed: map[string]string{string(NameWorkspace): workspace},
			want:     []any{map[string]any{"apiVersion": "tf.m.upbound.io/v1beta1", "kind": "Workspace", "name": "users", "uid": "0d9c6a2e-ws"}},
		},
		"NativeEventStreamObserved": {
			observed: map[string]string{string(NameEventStream): stream},
			want:     []any{map[string]any{"apiVersion": "auth0.openmcf.org/v1alpha1", "kind": "EventStream", "name": "users", "uid": "7f1e-es"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rsp := runTF(t, req(xrJSON("users", webhookBearerInline), tc.input, tc.observed))
			if m := fatalMessage(rsp); m != "" {
				t.Fatal(m)
			}
			s := desiredObject(t, rsp, string(NameSecret))
			if s == nil {
				t.Fatal("no Secret composed for the inline token")
			}
			md, _ := s["metadata"].(map[string]any)
			got, _ := md["ownerReferences"].([]any)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Secret ownerReferences: -want, +got:\n%s", diff)
			}
		})
	}
}
