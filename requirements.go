package main

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource/composed"
)

// Some rules need resources the composite does not carry: the Secret it
// references (it must opt in) and, before the terraform backend imports a
// stream, whatever already holds it. The function names them as
// requirements; Crossplane fetches them and calls it again with them. Every
// requirement follows from the request alone, so the second call asks for
// the same and Crossplane stops there (FetchingFunctionRunner stops once a
// response's requirements equal the previous one's): one extra round per
// reconcile, and none for a composite that needs nothing. The first call
// answers with the requirements only; Crossplane never uses that answer,
// it calls again.

// requirementsFor returns what the function must see before it composes, nil
// when nothing. bound is the observed resource as be.observedForBind gives
// it (nil before it exists).
func requirementsFor(spec *xrSpec, t target, b binding, be streamBackend, bound *composed.Unstructured) *fnv1.Requirements {
	var need map[string]*fnv1.ResourceSelector
	add := func(name string, s *fnv1.ResourceSelector) {
		if need == nil {
			need = map[string]*fnv1.ResourceSelector{}
		}
		need[name] = s
	}
	if w, ok := webhookSecretRefOf(spec); ok {
		add(reqWebhookSecret, w.selector(t.Namespace))
	}
	if b.ExternalName != "" && be.checksHolders(b.ExternalName, bound) {
		for name, s := range holderSelectors(b.ExternalName) {
			add(name, s)
		}
	}
	if need == nil {
		return nil
	}
	return &fnv1.Requirements{Resources: need}
}

// fulfilled returns the resources Crossplane fetched for need, false until
// it fetched every one (a resource that does not exist is fetched as
// none).
func fulfilled(req *fnv1.RunFunctionRequest, need *fnv1.Requirements) (map[string]*fnv1.Resources, bool) {
	got := req.GetRequiredResources()
	for name := range need.GetResources() {
		if _, ok := got[name]; !ok {
			return nil, false
		}
	}
	return got, true
}

// checkRequired applies the rules that need the fetched resources; it
// returns the referenced Secret's value, which text copied onto the
// composite must not show.
func checkRequired(got map[string]*fnv1.Resources, need *fnv1.Requirements, spec *xrSpec, t target, b binding) ([]string, field.ErrorList) {
	var (
		values []string
		errs   field.ErrorList
	)
	if w, ok := webhookSecretRefOf(spec); ok {
		v, err := w.check(t.Namespace, got[reqWebhookSecret].GetItems())
		if err != nil {
			errs = append(errs, err)
		} else {
			values = append(values, v)
		}
	}
	if _, ok := need.GetResources()[reqHoldersWorkspace]; ok {
		if err := checkHolders(got, b.ExternalName, t.Namespace, t.Name); err != nil {
			errs = append(errs, err)
		}
	}
	return values, errs
}
