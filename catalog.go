package main

import (
	"fmt"
	"regexp"
	"slices"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/xp-auth0/auth0-eventstream/input/v1beta1"
	"github.com/xp-auth0/auth0-eventstream/internal/eventtypes"
)

// Auth0 refuses a stream that subscribes to an event type outside its
// catalog, so the function refuses it first, naming the subscription. The
// catalog is embedded (internal/eventtypes) and Auth0 grows it: a platform
// admits a newer type with the function input's extraEventTypes.

var eventTypeRE = regexp.MustCompile(v1beta1.EventTypePattern)

// validateExtraEventTypes checks the input's extraEventTypes.
func validateExtraEventTypes(types []string) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("extraEventTypes")
	for i, t := range types {
		switch {
		case !eventTypeRE.MatchString(t):
			errs = append(errs, field.Invalid(p.Index(i), t, "must match "+v1beta1.EventTypePattern+", as each of spec.subscriptions must"))
		case slices.Contains(types[:i], t):
			errs = append(errs, field.Duplicate(p.Index(i), t))
		}
	}
	return errs
}

// knownEventType is whether Auth0 accepts event type t: it is in the
// embedded catalog, or the input admits it.
func knownEventType(t string, extra []string) bool {
	return eventtypes.Known(t) || slices.Contains(extra, t)
}

// checkSubscriptions refuses each subscription Auth0 would refuse.
func checkSubscriptions(subs, extra []string) field.ErrorList {
	var errs field.ErrorList
	for i, s := range subs {
		if knownEventType(s, extra) {
			continue
		}
		errs = append(errs, field.Invalid(field.NewPath("spec", "subscriptions").Index(i), s,
			"not in Auth0's event type catalog, so Auth0 would refuse the stream (docs/api.md lists the catalog); if Auth0 has added this type since this release, the platform can admit it in the Composition's function input extraEventTypes"))
	}
	return errs
}

// checkStreamName refuses a default stream name Auth0 would refuse: the
// composite's (or claim's) metadata.name, which Kubernetes allows longer
// than Auth0 allows a stream's name. max is the XRD's limit on spec.name,
// Auth0's.
func checkStreamName(spec *xrSpec, t target, maxLen int64) *field.Error {
	if spec.Name != "" {
		return nil
	}
	n := utf8.RuneCountInString(t.StreamName)
	if int64(n) <= maxLen {
		return nil
	}
	what := "the composite's"
	if t.Claim {
		what = "the claim's"
	}
	return field.Forbidden(field.NewPath("metadata", "name"), fmt.Sprintf("%s metadata.name is %d characters and names the stream in Auth0 when spec.name is empty, but Auth0 allows at most %d: set spec.name (at most %d characters)",
		what, n, maxLen, maxLen))
}
