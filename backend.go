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
	// name is the backend's, as the input selects it.
	name() string
	// resourceName is the composed resource's name in the pipeline.
	resourceName() resource.Name
	// kind names the composed resource in conditions and messages.
	kind() string
	// canObserve is whether the backend can only read a stream, as an
	// Observe-only import needs.
	canObserve() bool
	// refuse returns what the backend cannot do with this target and
	// binding, given the resource it composed before (observed, as
	// observedForBind gives it, and as observed; both nil before it
	// exists).
	refuse(t target, b binding, bound, observed *composed.Unstructured) field.ErrorList
	// observedForBind is the observed resource as bind reads it: the
	// stream id it holds (annotation crossplane.io/external-name and
	// status.atProvider.id) and the id the composition pinned
	// (AnnotationStreamID).
	observedForBind(cd *composed.Unstructured) *composed.Unstructured
	// importCannotCreate is whether importing spec.streamId fails, rather
	// than creates a stream, when the stream does not exist.
	importCannotCreate() bool
	// checksHolders is whether the function must see which resources
	// hold stream id before it composes an import of it (bound as
	// observedForBind gives it, nil before it exists).
	checksHolders(id string, bound *composed.Unstructured) bool
	// compose turns es, the EventStream the function composes natively
	// (every secret a Secret reference), into the resource to compose, as
	// the response carries it. observed is the resource as composed
	// before, nil before it exists.
	compose(rsp *fnv1.RunFunctionResponse, xr *composite.Unstructured, spec *xrSpec, es *v1alpha1.EventStream, observed *composed.Unstructured, claim bool) (*structpb.Struct, error)
	// outputs reads the composite's status.outputs from the observed
	// resource, JSON-shaped (maps, []any, strings, float64, bools): it is
	// set in place; false until it holds a stream.
	outputs(cd *composed.Unstructured) (map[string]any, bool)
	// surface copies whatever else the observed resource reports onto
	// the composite, its text masked by m.
	surface(rsp *fnv1.RunFunctionResponse, dxr *composite.Unstructured, cd *composed.Unstructured, claim bool, m masker) error
}

// backendFor returns the backend the (validated) input selects.
func backendFor(in *v1beta1.Input) streamBackend {
	if in.Backend == v1beta1.BackendTerraform {
		return newTerraformBackend(in.Terraform)
	}
	return nativeBackend{}
}

// backends the input may select.
func backends() []string {
	return []string{v1beta1.BackendNative, v1beta1.BackendTerraform, v1beta1.BackendNone}
}

// nativeBackend composes the EventStream of this project's provider.
type nativeBackend struct{}

func (nativeBackend) name() string { return v1beta1.BackendNative }

func (nativeBackend) resourceName() resource.Name { return NameEventStream }

func (nativeBackend) kind() string { return v1alpha1.EventStreamKind }

// canObserve is true: an Observe-only EventStream only reads its stream.
func (nativeBackend) canObserve() bool { return true }

// refuse has nothing to add: the provider pins a stream to its tenant and
// refuses an id another EventStream holds.
func (nativeBackend) refuse(target, binding, *composed.Unstructured, *composed.Unstructured) field.ErrorList {
	return nil
}

// checksHolders is false: the provider refuses an id another EventStream
// holds, with proof only it can record.
func (nativeBackend) checksHolders(string, *composed.Unstructured) bool { return false }

func (nativeBackend) observedForBind(cd *composed.Unstructured) *composed.Unstructured { return cd }

// importCannotCreate is false: an EventStream with an external name its
// provider does not find would create one, so bind holds it to Observe.
func (nativeBackend) importCannotCreate() bool { return false }

func (nativeBackend) compose(rsp *fnv1.RunFunctionResponse, xr *composite.Unstructured, spec *xrSpec, es *v1alpha1.EventStream, _ *composed.Unstructured, claim bool) (*structpb.Struct, error) {
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

func (nativeBackend) surface(rsp *fnv1.RunFunctionResponse, dxr *composite.Unstructured, cd *composed.Unstructured, claim bool, m masker) error {
	return surfaceDeliveries(rsp, dxr, cd, claim, m)
}

// backendOf returns the backend that composes the pipeline resource name,
// false when none does.
func backendOf(name resource.Name) (streamBackend, bool) {
	for _, be := range []streamBackend{nativeBackend{}, terraformBackend{}} {
		if be.resourceName() == name {
			return be, true
		}
	}
	return nil, false
}

// refuseBackendSwitch refuses to compose with be while the composite still
// has the resource another backend composed: the composite's Composition
// changed to one of another backend. Composing would leave that resource
// out of the desired state, and Crossplane deletes what is left out, its
// stream with it. A Fatal result stops Crossplane v2.2.1 before it
// garbage-collects: FunctionComposer.Compose
// (internal/controller/apiextensions/composite/composition_functions.go)
// returns on a Fatal result before GarbageCollectComposedResources, and
// FetchingFunctionRunner (internal/xfn/required_resources.go) returns it
// without another round; nothing is applied or deleted.
func refuseBackendSwitch(be streamBackend, observed map[resource.Name]resource.ObservedComposed) error {
	for name, o := range observed {
		other, ok := backendOf(name)
		if !ok || name == be.resourceName() {
			continue
		}
		return errors.Errorf("refused: this composite's stream is held by %s %s/%s (pipeline resource %s, backend %s), but this Composition composes with backend %s: switching the backend of a live composite would delete that %s and its stream. Nothing was deleted or changed. Select the Composition the composite was created with again (spec.crossplane.compositionRef or compositionSelector; on a claim, spec.compositionRef or compositionSelector); to move the stream to backend %s, delete the composite with managementPolicies without Delete (the stream stays) and import it with a new composite (spec.streamId)",
			other.kind(), o.Resource.GetNamespace(), o.Resource.GetName(), name, other.name(), be.name(), other.kind(), be.name())
	}
	return nil
}
