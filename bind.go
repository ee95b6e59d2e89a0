package main

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
	"github.com/crossplane/function-sdk-go/resource/composed"

	"github.com/xp-auth0/auth0-eventstream/input/v1beta1"
)

// Annotations of the composed EventStream.
const (
	// AnnotationExternalName is crossplane-runtime's external name: the
	// Auth0 stream id the provider reads, updates and deletes.
	AnnotationExternalName = "crossplane.io/external-name"
	// AnnotationStreamID records the spec.streamId the composition pinned
	// as the external name. It tells an external name the composition owns
	// from one the provider set after a create, so that a pinned one is
	// never dropped (see bindStream).
	AnnotationStreamID = "auth0.openmcf.org/stream-id"
)

// binding is what ties a composed EventStream to a tenant and a stream.
type binding struct {
	ProviderConfigRef  xpv2.ProviderConfigReference
	ManagementPolicies xpv2.ManagementPolicies
	// ExternalName, when not empty, is the stream id the composition pins
	// as the EventStream's external name (spec.streamId).
	ExternalName string
}

// bind resolves the EventStream's ProviderConfig, management policies and
// external name from the XR, the function input and the stream the backend
// be observed (oes, as be.observedForBind gives it; nil before it exists).
// name is the composed resource's. Every error names an XR field.
func bind(spec *xrSpec, in *v1beta1.Input, be streamBackend, name string, oes *composed.Unstructured) (binding, field.ErrorList) {
	b := binding{ProviderConfigRef: defaultProviderConfigRef, ManagementPolicies: xpv2.ManagementPolicies{xpv2.ManagementActionAll}}
	if in.ProviderConfigRef != nil {
		b.ProviderConfigRef = *in.ProviderConfigRef
	}
	if r := spec.ProviderConfigRef; r != nil {
		b.ProviderConfigRef = xpv2.ProviderConfigReference{Kind: r.Kind, Name: r.Name}
	}
	if len(in.ManagementPolicies) > 0 {
		b.ManagementPolicies = in.ManagementPolicies
	}
	if len(spec.ManagementPolicies) > 0 {
		b.ManagementPolicies = make(xpv2.ManagementPolicies, len(spec.ManagementPolicies))
		for i, p := range spec.ManagementPolicies {
			b.ManagementPolicies[i] = xpv2.ManagementAction(p)
		}
	}

	var errs field.ErrorList
	if err := allowProviderConfig(in.AllowedProviderConfigs, b.ProviderConfigRef, spec.ProviderConfigRef != nil); err != nil {
		errs = append(errs, err)
	}
	if spec.StreamID != "" && importPolicyOf(in) == v1beta1.ImportObserveOnly {
		if err := observeOnlyImport(spec, be); err != nil {
			errs = append(errs, err)
		}
		if be.canObserve() {
			b.ManagementPolicies = xpv2.ManagementPolicies{xpv2.ManagementActionObserve}
		}
	}
	en, err := bindStream(spec.StreamID, b.ManagementPolicies, be.kind()+" "+name, oes)
	if err != nil {
		errs = append(errs, err)
	}
	b.ExternalName = en
	if en != "" && foundStream(oes) != en && !be.importCannotCreate() {
		// Until the provider has found the stream to import, the
		// EventStream only observes: a mistyped or deleted id must not
		// make it create a stream in the id's place.
		b.ManagementPolicies = xpv2.ManagementPolicies{xpv2.ManagementActionObserve}
	}
	return b, errs
}

// importPolicyOf is the input's import policy, ObserveOnly when it sets
// none: Crossplane does not default a function's input.
func importPolicyOf(in *v1beta1.Input) string {
	if in.ImportPolicy == "" {
		return v1beta1.ImportObserveOnly
	}
	return in.ImportPolicy
}

// observeOnlyImport refuses what a composite naming spec.streamId asks
// beyond reading the stream, where the composition imports Observe-only:
// adopting a stream that no resource of ours created is the platform's
// decision (the function input's importPolicy), not a tenant's.
func observeOnlyImport(spec *xrSpec, be streamBackend) *field.Error {
	if !be.canObserve() {
		return field.Forbidden(field.NewPath("spec", "streamId"), fmt.Sprintf("this composition imports existing streams Observe-only (function input importPolicy: %s, a platform decision), and the %s backend cannot only observe a stream: import it with the native backend's Composition, or ask your platform team for a Composition whose importPolicy is %s",
			v1beta1.ImportObserveOnly, be.name(), v1beta1.ImportManage))
	}
	for _, p := range spec.ManagementPolicies {
		if xpv2.ManagementAction(p) != xpv2.ManagementActionObserve {
			return field.Forbidden(field.NewPath("spec", "managementPolicies"), fmt.Sprintf("%v ask for more than Observe of the stream spec.streamId names, and this composition imports existing streams Observe-only (function input importPolicy: %s, a platform decision): use [Observe], or ask your platform team for a Composition whose importPolicy is %s",
				spec.ManagementPolicies, v1beta1.ImportObserveOnly, v1beta1.ImportManage))
		}
	}
	return nil
}

// foundStream is the id of the stream the provider last found for the
// EventStream, empty when it found none or has not looked yet.
func foundStream(oes *composed.Unstructured) string {
	if oes == nil {
		return ""
	}
	// Read in place: GetString parses a field path on every call.
	id, _ := atProvider(oes)["id"].(string)
	return id
}

// providerConfigKinds are the kinds of ProviderConfig an EventStream may
// reference.
var providerConfigKinds = []string{v1beta1.KindClusterProviderConfig, v1beta1.KindProviderConfig} //nolint:gochecknoglobals // We treat this as a constant.

// validateInput checks the input fields the function interprets beyond
// their types. Crossplane does not validate a function's input.
func validateInput(in *v1beta1.Input) field.ErrorList {
	var errs field.ErrorList
	if in.Backend != "" && !slices.Contains(backends(), in.Backend) {
		errs = append(errs, field.NotSupported(field.NewPath("backend"), in.Backend, backends()))
	}
	errs = append(errs, validateTerraformInput(in)...)
	if p := in.ImportPolicy; p != "" && p != v1beta1.ImportObserveOnly && p != v1beta1.ImportManage {
		errs = append(errs, field.NotSupported(field.NewPath("importPolicy"), p, []string{v1beta1.ImportObserveOnly, v1beta1.ImportManage}))
	}
	errs = append(errs, validateExtraEventTypes(in.ExtraEventTypes)...)
	p := field.NewPath("allowedProviderConfigs")
	if in.AllowedProviderConfigs != nil && len(in.AllowedProviderConfigs) == 0 {
		errs = append(errs, field.Required(p, "must not be empty: omit it to allow every ProviderConfig"))
	}
	for i, s := range in.AllowedProviderConfigs {
		if !slices.Contains(providerConfigKinds, s.Kind) {
			errs = append(errs, field.NotSupported(p.Index(i).Child("kind"), s.Kind, providerConfigKinds))
		}
	}
	return errs
}

// allowProviderConfig refuses a ProviderConfig the input does not allow,
// whether the XR chose it or it is the default: every composed EventStream
// uses an allowed one.
func allowProviderConfig(allowed []v1beta1.ProviderConfigSelector, ref xpv2.ProviderConfigReference, chosen bool) *field.Error {
	if allowed == nil {
		return nil
	}
	names := make([]string, 0, len(allowed))
	for _, s := range allowed {
		if s.Matches(ref.Kind, ref.Name) {
			return nil
		}
		names = append(names, s.String())
	}
	p := field.NewPath("spec", "providerConfigRef")
	got := ref.Kind + "/" + ref.Name
	if !chosen {
		return field.Required(p, fmt.Sprintf("the default %s is not allowed by the composition; choose one of %s", got, strings.Join(names, ", ")))
	}
	return field.Forbidden(p, fmt.Sprintf("%s is not allowed by the composition; allowed: %s (kind/* is any name of that kind)", got, strings.Join(names, ", ")))
}

// bindStream decides whether the composition pins the EventStream's
// external name to spec.streamId. Crossplane applies composed resources
// with server-side apply, so once the composition sets the external name it
// owns it: dropping it would delete it, and a changed value would
// overwrite whatever the provider holds. Hence the rules:
//
//   - a new id is pinned when the EventStream holds no stream id yet, or
//     already holds this one;
//   - a different id replaces a pinned one only while the provider has not
//     found the stream it names (a typo, or a stream deleted since): then
//     nothing is bound yet;
//   - any other change would switch the EventStream to another stream and
//     is refused, as is removing a pinned id;
//   - policies that cannot create need a stream to observe.
//
// bind also keeps a pinned EventStream Observe-only until its stream is
// found, so an id never leads to a create; a backend whose import cannot
// create by itself (Terraform's import block fails on a missing stream)
// needs no such hold.
//
// what names the composed resource in messages, e.g. "EventStream users".
func bindStream(id string, mp xpv2.ManagementPolicies, what string, oes *composed.Unstructured) (string, *field.Error) {
	var current, pinned string
	if oes != nil {
		current = oes.GetAnnotations()[AnnotationExternalName]
		pinned = oes.GetAnnotations()[AnnotationStreamID]
	}
	found := foundStream(oes)
	p := field.NewPath("spec", "streamId")
	if id == "" {
		switch {
		case pinned != "":
			return "", field.Required(p, fmt.Sprintf("cannot be removed: %s was bound to stream %s by spec.streamId, and without its external name that stream would be taken for a new one; set spec.streamId back, or delete this resource (with managementPolicies without Delete to keep the stream)", what, current))
		case current == "" && !mayCreate(mp):
			return "", field.Required(p, fmt.Sprintf("managementPolicies %v do not allow Create: name the existing stream to observe", policyNames(mp)))
		}
		return "", nil
	}
	switch {
	case current == "" || current == id:
		return id, nil
	case current == pinned && found != current:
		return id, nil
	case current == pinned:
		return "", field.Invalid(p, id, fmt.Sprintf("%s is bound to stream %s, which exists: changing the id would switch streams; import %s with a new resource instead", what, current, id))
	default:
		return "", field.Invalid(p, id, fmt.Sprintf("%s manages stream %s: changing the id would switch streams; set spec.streamId to %s, or import %s with a new resource", what, current, current, id))
	}
}

func mayCreate(mp xpv2.ManagementPolicies) bool {
	return slices.Contains(mp, xpv2.ManagementActionAll) || slices.Contains(mp, xpv2.ManagementActionCreate)
}

func policyNames(mp xpv2.ManagementPolicies) []string {
	out := make([]string, 0, len(mp))
	for _, a := range mp {
		out = append(out, string(a))
	}
	return out
}
