package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/structpb"
	"sigs.k8s.io/yaml"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
)

// annotationInvalidField names, in each manifest under testdata/invalid, the
// field whose rule the manifest breaks. Every validator must name it.
const annotationInvalidField = "test.auth0.openmcf.org/invalid-field"

type invalidManifest struct {
	Name  string
	File  string
	Field string
	// Object is the manifest as JSON-compatible data.
	Object map[string]any
}

// invalidManifests loads testdata/invalid, the manifests that break one rule
// each of the Auth0EventStream API.
func invalidManifests(t *testing.T) []invalidManifest {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid manifests in testdata/invalid: %v", err)
	}
	out := make([]invalidManifest, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		obj := map[string]any{}
		if err := yaml.Unmarshal(b, &obj); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		md, _ := obj["metadata"].(map[string]any)
		ann, _ := md["annotations"].(map[string]any)
		field, _ := ann[annotationInvalidField].(string)
		name, _ := md["name"].(string)
		if field == "" || name == "" {
			t.Fatalf("%s: needs metadata.name and the %s annotation", f, annotationInvalidField)
		}
		out = append(out, invalidManifest{Name: name, File: f, Field: field, Object: obj})
	}
	return out
}

// namesField reports whether msg names field itself (or one of its list
// items), not merely a longer field that starts with the same name.
func namesField(msg, field string) bool {
	return regexp.MustCompile(regexp.QuoteMeta(field) + `(\[[0-9]+\])?([:, ]|$)`).MatchString(msg)
}

// TestFunctionRejectsInvalid runs every invalid manifest through the function,
// as crossplane render would, bypassing admission: each gets exactly one Fatal
// result that names the bad field, and nothing is composed.
func TestFunctionRejectsInvalid(t *testing.T) {
	for _, m := range invalidManifests(t) {
		t.Run(m.Name, func(t *testing.T) {
			m.Object["metadata"].(map[string]any)["namespace"] = "team-a"
			s, err := structpb.NewStruct(m.Object)
			if err != nil {
				t.Fatal(err)
			}
			req := &fnv1.RunFunctionRequest{Observed: &fnv1.State{Composite: &fnv1.Resource{Resource: s}}}
			rsp, err := (&Function{log: logging.NewNopLogger()}).RunFunction(context.Background(), req)
			if err != nil {
				t.Fatalf("RunFunction(...): %v", err)
			}
			rs := rsp.GetResults()
			if len(rs) != 1 || rs[0].GetSeverity() != fnv1.Severity_SEVERITY_FATAL {
				t.Fatalf("want exactly one Fatal result, got %v", rs)
			}
			if msg := rs[0].GetMessage(); !namesField(msg, m.Field) {
				t.Errorf("Fatal message does not name %s:\n%s", m.Field, msg)
			}
			if n := len(rsp.GetDesired().GetResources()); n != 0 {
				t.Errorf("composed %d resources for an invalid XR", n)
			}
		})
	}
}

// TestFunctionListsEveryBadField checks that one Fatal result lists every bad
// field the API server would list, not only the first, and never quotes a
// secret. As at the API server, CEL rules run only once the spec has the
// schema's shape, so the schema's errors and the rules' are two cases.
func TestFunctionListsEveryBadField(t *testing.T) {
	const secret = "hunter2-very-secret"
	cases := map[string]struct {
		spec string
		want []string
	}{
		"Schema": {
			spec: `{"destinationType":"webhook","subscriptions":["Login","user.created","user.created"],"status":"on",
				"webhookConfiguration":{"webhookEndpoint":"ftp://x","webhookAuthorization":{"method":"basic","password":"` + secret + `","passwordSecretRef":{"name":"s","key":"k"},"token":42}},
				"actionConfiguration":{"actionId":"a"}}`,
			want: []string{
				`spec.status: Unsupported value: "on": supported values: "enabled", "disabled"`,
				`spec.subscriptions[0]: Invalid value: "Login": spec.subscriptions[0] in body should match '^[a-z0-9_]+(\.[a-z0-9_]+)+$'`,
				`spec.subscriptions[2]: Duplicate value: "user.created"`,
				`spec.webhookConfiguration.webhookAuthorization.token: Invalid value: "number": spec.webhookConfiguration.webhookAuthorization.token in body must be of type string: "number"`,
				`spec: Invalid value: "object": some validation rules were not checked because the spec was invalid: correct the other errors to complete validation`,
			},
		},
		"Rules": {
			spec: `{"destinationType":"webhook","subscriptions":["user.created"],
				"webhookConfiguration":{"webhookEndpoint":"ftp://u:` + secret + `@x.example.com","webhookAuthorization":{"method":"basic","password":"` + secret + `","passwordSecretRef":{"name":"s","key":"k"}}},
				"actionConfiguration":{"actionId":"a"}}`,
			want: []string{
				`spec.webhookConfiguration.webhookAuthorization: Invalid value: exactly one of spec.webhookConfiguration.webhookAuthorization.password and passwordSecretRef is required when method is basic`,
				`spec.webhookConfiguration.webhookAuthorization: Invalid value: spec.webhookConfiguration.webhookAuthorization.username is required when method is basic`,
				`spec.webhookConfiguration.webhookEndpoint: Forbidden: spec.webhookConfiguration.webhookEndpoint must be an absolute https URL with a host, such as https://api.example.com/hook`,
				`spec.webhookConfiguration.webhookEndpoint: Forbidden: spec.webhookConfiguration.webhookEndpoint must not carry user-info (user:password@): give credentials in webhookAuthorization`,
				`spec: Invalid value: spec.actionConfiguration is required when spec.destinationType is action, and forbidden otherwise`,
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rsp, err := (&Function{log: logging.NewNopLogger()}).RunFunction(context.Background(), req(xrJSON("bad", tc.spec), "", nil))
			if err != nil {
				t.Fatal(err)
			}
			if len(rsp.GetResults()) != 1 {
				t.Fatalf("want one result, got %v", rsp.GetResults())
			}
			got := strings.Split(strings.TrimPrefix(rsp.GetResults()[0].GetMessage(), errInvalidXR+": "), "; ")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Fatal message: -want, +got:\n%s", diff)
			}
			if b, _ := json.Marshal(rsp); strings.Contains(string(b), secret) {
				t.Errorf("the response quotes a secret value")
			}
		})
	}
}

// FuzzRunFunction feeds arbitrary specs to the function. It must never fail
// the RPC or panic (a recovered panic shows as errInternal).
func FuzzRunFunction(f *testing.F) {
	for _, s := range []string{
		webhookBearerInline,
		`{}`, `null`, `[]`, `"x"`, `{"destinationType":null,"subscriptions":null}`,
		`{"destinationType":"webhook","subscriptions":[1,{},null],"webhookConfiguration":[]}`,
		`{"destinationType":"webhook","subscriptions":["a.b"],"webhookConfiguration":{"webhookAuthorization":{"method":"basic","passwordSecretRef":"x"}}}`,
		`{"destinationType":"eventbridge","subscriptions":["a.b"],"eventbridgeConfiguration":{"awsAccountId":123456789012}}`,
		`{"destinationType":"action","subscriptions":["a.b"],"actionConfiguration":{"actionId":"x"},"providerConfigRef":"x","managementPolicies":{}}`,
		`{"destinationType":"action","subscriptions":["a.b"],"actionConfiguration":{"actionId":"x"},"managementPolicies":[1]}`,
		`{"destinationType":"action","subscriptions":["a.b"],"actionConfiguration":{"actionId":"x"},"streamId":"est_kh8FhJtLmm5hwVNZYMLWEU","managementPolicies":["Observe"]}`,
		`{"destinationType":"action","subscriptions":["a.b"],"actionConfiguration":{"actionId":"x"},"streamId":7}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		var v any
		if json.Unmarshal([]byte(spec), &v) != nil {
			return
		}
		obj := map[string]any{
			"apiVersion": "auth0.openmcf.org/v1", "kind": "Auth0EventStream",
			"metadata": map[string]any{"name": "f", "namespace": "n"}, "spec": v,
		}
		s, err := structpb.NewStruct(obj)
		if err != nil {
			return
		}
		rsp, err := (&Function{log: logging.NewNopLogger()}).RunFunction(context.Background(),
			&fnv1.RunFunctionRequest{Observed: &fnv1.State{Composite: &fnv1.Resource{Resource: s}}})
		if err != nil {
			t.Fatalf("RunFunction(...): %v", err)
		}
		for _, r := range rsp.GetResults() {
			if r.GetMessage() == errInternal {
				t.Fatalf("RunFunction panicked on spec %s", spec)
			}
		}
	})
}

// TestFunctionRejectsMistypedInput checks that an input of the wrong shape,
// decoded by reflection on the fast path, is refused with the JSON decoder's
// message, which names the Go type it expected.
func TestFunctionRejectsMistypedInput(t *testing.T) {
	in := `{"apiVersion":"auth0eventstream.fn.openmcf.org/v1beta1","kind":"Input","managementPolicies":"Observe"}`
	rsp, err := (&Function{log: logging.NewNopLogger()}).RunFunction(context.Background(),
		req(xrJSON("a", `{"destinationType":"action","subscriptions":["user.created"],"actionConfiguration":{"actionId":"x"}}`), in, nil))
	if err != nil {
		t.Fatal(err)
	}
	rs := rsp.GetResults()
	if len(rs) != 1 || rs[0].GetSeverity() != fnv1.Severity_SEVERITY_FATAL {
		t.Fatalf("want one Fatal result, got %v", rs)
	}
	if msg := rs[0].GetMessage(); !strings.HasPrefix(msg, errInput+": ") || !strings.Contains(msg, "ManagementPolicies") {
		t.Errorf("Fatal message does not say which input field is mistyped: %s", msg)
	}
	if n := len(rsp.GetDesired().GetResources()); n != 0 {
		t.Errorf("composed %d resources with a mistyped input", n)
	}
}
