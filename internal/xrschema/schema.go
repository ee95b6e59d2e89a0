// Package xrschema validates a composite resource's spec with the schema of
// its XRD, in process, with the Kubernetes libraries the API server (and
// crossplane beta validate) use: structural schema, pruning, defaulting,
// OpenAPI validation, list types and CEL rules. A function that validates this
// way refuses exactly what admission refuses, with the same messages, also
// where admission never ran (crossplane render).
package xrschema

import (
	"context"
	"fmt"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// A Spec validates the spec of one XRD version.
type Spec struct {
	structural *schema.Structural
	validator  validation.SchemaValidator
	// cel is nil when the schema has no CEL rules.
	cel *cel.Validator
}

// xrd is the part of an XRD (apiextensions.crossplane.io v1 or v2) that
// holds the schema.
type xrd struct {
	Spec struct {
		Versions []struct {
			Name   string `json:"name"`
			Schema struct {
				OpenAPIV3Schema extv1.JSONSchemaProps `json:"openAPIV3Schema"`
			} `json:"schema"`
		} `json:"versions"`
	} `json:"spec"`
}

// Load compiles the spec schema of an XRD's version. Compiling is the costly
// part: do it once, at start.
func Load(xrdYAML []byte, version string) (*Spec, error) {
	x := &xrd{}
	if err := yaml.Unmarshal(xrdYAML, x); err != nil {
		return nil, fmt.Errorf("cannot decode the XRD: %w", err)
	}
	for _, v := range x.Spec.Versions {
		if v.Name != version {
			continue
		}
		sp, ok := v.Schema.OpenAPIV3Schema.Properties["spec"]
		if !ok {
			return nil, fmt.Errorf("version %s of the XRD has no spec schema", version)
		}
		// An object with only the spec: errors then name spec.<field>, in
		// the API server's words.
		return compile(&extv1.JSONSchemaProps{
			Type:       "object",
			Required:   []string{"spec"},
			Properties: map[string]extv1.JSONSchemaProps{"spec": sp},
		})
	}
	return nil, fmt.Errorf("the XRD has no version %s", version)
}

func compile(v1s *extv1.JSONSchemaProps) (*Spec, error) {
	internal := &apiextensions.JSONSchemaProps{}
	if err := extv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1s, internal, nil); err != nil {
		return nil, fmt.Errorf("cannot convert the spec schema: %w", err)
	}
	s, err := schema.NewStructural(internal)
	if err != nil {
		return nil, fmt.Errorf("the spec schema is not structural: %w", err)
	}
	v, _, err := validation.NewSchemaValidator(internal)
	if err != nil {
		return nil, fmt.Errorf("cannot build the spec schema's validator: %w", err)
	}
	return &Spec{
		structural: s,
		validator:  v,
		// The object has no apiVersion, kind or metadata: not a resource's
		// root. The API server compiles with the same cost limit.
		cel: cel.NewValidator(s, false, celconfig.PerCallLimit),
	}, nil
}

// Validate prunes unknown fields and non-nullable nulls from a copy of spec,
// defaults it and validates it, as the API server does on create. It returns
// the defaulted copy, or the errors, each naming its field under spec.
// Transition rules (those using oldSelf) are not evaluated: there is no old
// object.
func (s *Spec) Validate(ctx context.Context, spec any) (map[string]any, field.ErrorList) {
	p := field.NewPath("spec")
	root := map[string]any{}
	if spec != nil {
		root["spec"] = runtime.DeepCopyJSONValue(spec)
	}
	pruning.Prune(root, s.structural, false)
	defaulting.PruneNonNullableNullsWithoutDefaults(root, s.structural)
	defaulting.Default(root, s.structural)

	errs := validation.ValidateCustomResource(nil, root, s.validator)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, s.structural, root)...)
	if s.cel != nil {
		// As the API server: CEL rules run only on an object of the
		// schema's shape.
		if blocking(errs) {
			errs = append(errs, field.Invalid(p, "object", "some validation rules were not checked because the spec was invalid: correct the other errors to complete validation"))
		} else {
			cerrs, _ := s.cel.Validate(ctx, nil, s.structural, root, nil, celconfig.RuntimeCELCostBudget)
			errs = append(errs, cerrs...)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	out, _ := root["spec"].(map[string]any)
	return out, nil
}

// blocking reports errors after which CEL rules are not evaluated, as the API
// server's customresource strategy decides.
func blocking(errs field.ErrorList) bool {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		default:
			// Other errors leave the value well-formed enough for CEL.
		}
	}
	return false
}

// MaxLength is the maxLength the schema gives the string at path under
// spec (e.g. "name" for spec.name), false when it gives none.
func (s *Spec) MaxLength(path ...string) (int64, bool) {
	cur, ok := s.structural.Properties["spec"]
	for _, p := range path {
		if !ok {
			return 0, false
		}
		cur, ok = cur.Properties[p]
	}
	if !ok || cur.ValueValidation == nil || cur.ValueValidation.MaxLength == nil {
		return 0, false
	}
	return *cur.ValueValidation.MaxLength, true
}
