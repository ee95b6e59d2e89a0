package main

import (
	"context"
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	platformv1 "github.com/xp-auth0/auth0-eventstream/apis/platform/v1"
	"github.com/xp-auth0/auth0-eventstream/internal/xrschema"
)

// xrSpec is the Auth0EventStream composite's spec: the type make generate
// writes both XRDs from.
type xrSpec = platformv1.Auth0EventStreamSpec

// secretKey selects a key of a Secret in the XR's namespace.
type secretKey = platformv1.SecretKeySelector

// xrdYAML is the generated namespaced XRD. The legacy XRD carries the same
// version (TestLegacyXRDMatches), so one schema validates both kinds of XR.
//
//go:embed package/configuration/definition.yaml
var xrdYAML []byte

// specSchema compiles the XRD's spec schema once per process: compiling its
// CEL rules is the costly part.
var specSchema = sync.OnceValues(func() (*xrschema.Spec, error) {
	return xrschema.Load(xrdYAML, platformv1.Version)
})

// parseSpec validates the XR's raw spec with the XRD's schema, as admission
// does (crossplane render and hand-applied XRDs bypass admission), and decodes
// the defaulted spec. The returned errors name each bad field; the schema
// never echoes a secret-bearing value (see apis/platform/v1).
func parseSpec(ctx context.Context, raw any) (*xrSpec, field.ErrorList) {
	s, err := specSchema()
	if err != nil {
		return nil, field.ErrorList{field.InternalError(field.NewPath("spec"), err)}
	}
	obj, errs := s.Validate(ctx, raw)
	if len(errs) > 0 {
		return nil, errs
	}
	out := &xrSpec{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, out); err != nil {
		return nil, field.ErrorList{field.InternalError(field.NewPath("spec"), fmt.Errorf("cannot decode the validated spec: %w", err))}
	}
	return out, nil
}

// fieldErrorsMessage renders every error on one line, in a stable order.
func fieldErrorsMessage(errs field.ErrorList) string {
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	sort.Strings(msgs)
	return strings.Join(msgs, "; ")
}
