package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"sync"

	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	platformv1 "github.com/xp-auth0/auth0-eventstream/apis/platform/v1"
	"github.com/xp-auth0/auth0-eventstream/internal/xrschema"

	_ "embed"
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
var specSchema = sync.OnceValues(func() (*xrschema.Spec, error) { //nolint:gochecknoglobals // Compiled once per process, on first use.
	return xrschema.Load(xrdYAML, platformv1.Version)
})

// validSpecs remembers the specs that passed validation, by a hash of their
// canonical encoding (specKey): Crossplane calls the function with the same
// spec on every reconcile, and validating (OpenAPI and CEL) costs far more
// than hashing. Validation depends on the spec alone (no transition rules
// run here), so a hit is exact. Only hashes are kept as keys: no secret
// value sits in the map's keys; the decoded specs are copied out.
var validSpecs = newValidCache[*xrSpec]() //nolint:gochecknoglobals // One cache per process, shared by every request.

// maxCached bounds each cache; when full it starts over.
const maxCached = 4096

// validCache remembers decoded values that passed validation, by the hash
// of what they were decoded from, and hands out copies.
type validCache[T interface{ DeepCopy() T }] struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]T
}

func newValidCache[T interface{ DeepCopy() T }]() *validCache[T] {
	return &validCache[T]{m: map[[sha256.Size]byte]T{}}
}

func (c *validCache[T]) get(k [sha256.Size]byte) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	if !ok {
		return v, false
	}
	return v.DeepCopy(), true
}

func (c *validCache[T]) put(k [sha256.Size]byte, v T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCached {
		clear(c.m)
	}
	c.m[k] = v.DeepCopy()
}

// parseSpecCached is parseSpec for the spec as the request carries it,
// remembering valid specs.
func parseSpecCached(ctx context.Context, pb *structpb.Value) (*xrSpec, field.ErrorList) {
	k := specKey(pb)
	if s, ok := validSpecs.get(k); ok {
		return s, nil
	}
	s, errs := parseSpec(ctx, pb.AsInterface())
	if len(errs) == 0 {
		validSpecs.put(k, s)
	}
	return s, errs
}

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
