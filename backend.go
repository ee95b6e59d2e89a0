package main

import (
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/crossplane/function-sdk-go/errors"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composed"
	"github.com/crossplane/function-sdk-go/resource/composite"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/input/v1beta1"
)

// A streamBackend decides what the function composes for the stream and how
// it reads that resource's observed state. Everything else (validation,
// binding and its policy, the Secret for inline values, conditions,
// warnings, readiness) is the function's, shared by every backend.
type streamBackend interface { //nolint:interfacebloat // One method per thing a backend decides; splitting them would scatter one backend over several types.
	// resourceName is the composed resource's name in the pipeline.
	resourceName() resource.Name
	// kind names the composed resource in conditions and messages.
	kind() string
	// refuse returns what the backend cannot do with this target and
	// binding.
	refuse(t target, b binding) field.ErrorList
	// observedForBind is the observed resource as bind reads it: the
	// stream id it holds (annotation crossplane.io/external-name and
	// status.atProvider.id) and the id the composition pinned
	// (AnnotationStreamID).
	observedForBind(cd *composed.Unstructured) *composed.Unstructured
	// importCannotCreate is whether importing spec.streamId fails, rather
	// than creates a stream, when the stream does not exist.
	importCannotCreate() bool
	// compose turns es, the EventStream the function composes natively
	// (every secret a Secret reference), into the resource to compose, as
	// the response carries it.
	compose(rsp *fnv1.RunFunctionResponse, xr *composite.Unstructured, spec *xrSpec, es *v1alpha1.EventStream, claim bool) (*structpb.Struct, error)
	// outputs reads the composite's status.outputs from the observed
	// resource, JSON-shaped (maps, []any, strings, float64, bools): it is
	// set in place; false until it holds a stream.
	outputs(cd *composed.Unstructured) (map[string]any, bool)
	// surface copies whatever else the observed resource reports onto
	// the composite.
	surface(rsp *fnv1.RunFunctionResponse, dxr *composite.Unstructured, cd *composed.Unstructured, claim bool) error
}

// backendFor returns the backend the (validated) input selects.
func backendFor(in *v1beta1.Input) streamBackend {
	if in.Backend == v1beta1.BackendTerraform {
		return newTerraformBackend(in.Terraform)
	}
	return nativeBackend{}
}

// backends the input may select.
func backends() []string { return []string{v1beta1.BackendNative, v1beta1.BackendTerraform} }

// nativeBackend composes the EventStream of this project's provider.
type nativeBackend struct{}

func (nativeBackend) resourceName() resource.Name { return NameEventStream }

func (nativeBackend) kind() string { return v1alpha1.EventStreamKind }

func (nativeBackend) refuse(target, binding) field.ErrorList { return nil }

func (nativeBackend) observedForBind(cd *composed.Unstructured) *composed.Unstructured { return cd }

// importCannotCreate is false: an EventStream with an external name its
// provider does not find would create one, so bind holds it to Observe.
func (nativeBackend) importCannotCreate() bool { return false }

func (nativeBackend) compose(rsp *fnv1.RunFunctionResponse, xr *composite.Unstructured, spec *xrSpec, es *v1alpha1.EventStream, claim bool) (*structpb.Struct, error) {
	deliveryActions(rsp, xr, spec, es, claim)
	// The function has no opinion on the managed resource's status.
	esc, err := structOf(es, "status")
	if err != nil {
		return nil, errors.Wrapf(err, "%s %s", errCompose, v1alpha1.EventStreamKind)
	}
	return esc, nil
}

func (nativeBackend) outputs(cd *composed.Unstructured) (map[string]any, bool) {
	return outputsFrom(cd)
}

func (nativeBackend) surface(rsp *fnv1.RunFunctionResponse, dxr *composite.Unstructured, cd *composed.Unstructured, claim bool) error {
	return surfaceDeliveries(rsp, dxr, cd, claim)
}
