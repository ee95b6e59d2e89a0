package xrschema

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testXRD = `
spec:
  versions:
  - name: v1
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [kind]
            x-kubernetes-validations:
            - rule: "self.kind != 'b' || has(self.b)"
              message: spec.b is required when spec.kind is b
            properties:
              kind: {type: string, enum: [a, b]}
              mode: {type: string, default: fast, maxLength: 8}
              b: {type: object, properties: {x: {type: string}}}
              tags: {type: array, x-kubernetes-list-type: set, items: {type: string}}
`

func TestValidate(t *testing.T) {
	s, err := Load([]byte(testXRD), "v1")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		spec    any
		want    map[string]any
		wantErr []string
	}{
		"DefaultsPrunesUnknownAndNulls": {
			spec: map[string]any{"kind": "a", "b": nil, "crossplane": map[string]any{"x": "y"}},
			want: map[string]any{"kind": "a", "mode": "fast"},
		},
		"CELRule": {
			spec:    map[string]any{"kind": "b"},
			wantErr: []string{"spec: Invalid value: spec.b is required when spec.kind is b"},
		},
		"SchemaBlocksCEL": {
			spec: map[string]any{"kind": "c", "tags": []any{"x", "x"}},
			wantErr: []string{
				`spec.kind: Unsupported value: "c": supported values: "a", "b"`,
				`spec.tags[1]: Duplicate value: "x"`,
				`spec: Invalid value: "object": some validation rules were not checked because the spec was invalid: correct the other errors to complete validation`,
			},
		},
		"Missing":     {spec: nil, wantErr: []string{"spec: Required value", `spec: Invalid value: "object": some validation rules were not checked because the spec was invalid: correct the other errors to complete validation`}},
		"NotAnObject": {spec: "x", wantErr: []string{`spec: Invalid value: "string": spec in body must be of type object: "string"`, `spec: Invalid value: "object": some validation rules were not checked because the spec was invalid: correct the other errors to complete validation`}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := tc.spec
			got, errs := s.Validate(context.Background(), in)
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
			if diff := cmp.Diff(tc.wantErr, msgs); diff != "" {
				t.Errorf("errors: -want, +got:\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, got); tc.wantErr == nil && diff != "" {
				t.Errorf("spec: -want, +got:\n%s", diff)
			}
			if m, ok := in.(map[string]any); ok {
				if _, pruned := m["crossplane"]; !pruned && strings.HasPrefix(name, "Defaults") {
					t.Errorf("Validate changed its input")
				}
			}
		})
	}
}

func TestLoadRefusesMissingVersion(t *testing.T) {
	if _, err := Load([]byte(testXRD), "v2"); err == nil {
		t.Error("Load(..., v2) succeeded on an XRD without version v2")
	}
}

func TestMaxLength(t *testing.T) {
	s, err := Load([]byte(testXRD), "v1")
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := s.MaxLength("mode"); !ok || n != 8 {
		t.Errorf("MaxLength(mode) = %d, %t; want 8, true", n, ok)
	}
	for _, p := range [][]string{{"kind"}, {"missing"}, {"b", "x"}, {"b", "x", "deeper"}} {
		if n, ok := s.MaxLength(p...); ok {
			t.Errorf("MaxLength(%v) = %d, true; want none", p, n)
		}
	}
}
