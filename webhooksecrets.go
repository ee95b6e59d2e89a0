package main

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/util/validation/field"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
)

// Secrets are offered, not taken: a composite names a Secret key for its
// webhook's authorization, but the function composes a stream that reads it
// only when the Secret carries v1alpha1.LabelWebhookSecret "true". Without
// the check, anyone allowed to create a composite could have the provider
// send any key of any Secret of the namespace (a database password) to an
// endpoint of their choosing, although they may not read Secrets.

// reqWebhookSecret is the requirement of the Secret a webhook authorization
// references. A method references at most one.
const reqWebhookSecret = "webhook-secret"

// webhookSecretRef is the Secret reference of the composite's webhook
// authorization and the field that holds it.
type webhookSecretRef struct {
	path *field.Path
	ref  secretKey
}

// webhookSecretRefOf returns the composite's Secret reference, if it has one.
func webhookSecretRefOf(spec *xrSpec) (webhookSecretRef, bool) {
	if spec.WebhookConfiguration == nil {
		return webhookSecretRef{}, false
	}
	a := spec.WebhookConfiguration.WebhookAuthorization
	p := field.NewPath("spec", "webhookConfiguration", "webhookAuthorization")
	for _, r := range []struct {
		name string
		ref  *secretKey
	}{{"passwordSecretRef", a.PasswordSecretRef}, {"tokenSecretRef", a.TokenSecretRef}, {"headerValueSecretRef", a.HeaderValueSecretRef}} {
		if r.ref != nil {
			return webhookSecretRef{path: p.Child(r.name), ref: *r.ref}, true
		}
	}
	return webhookSecretRef{}, false
}

// selector is the requirement of the referenced Secret, in namespace ns
// (the composite's, or a claim's).
func (w webhookSecretRef) selector(ns string) *fnv1.ResourceSelector {
	return &fnv1.ResourceSelector{
		ApiVersion: "v1",
		Kind:       "Secret",
		Match:      &fnv1.ResourceSelector_MatchName{MatchName: w.ref.Name},
		Namespace:  &ns,
	}
}

// check returns the referenced Secret's value when the Secret, as
// Crossplane fetched it (items: none when it does not exist), opts in and
// holds the key; else the error naming the field, the Secret and what to do.
// Neither the value nor any other key's is ever part of an error.
func (w webhookSecretRef) check(ns string, items []*fnv1.Resource) (string, *field.Error) {
	what := fmt.Sprintf("Secret %s/%s", ns, w.ref.Name)
	label := fmt.Sprintf("%s=true", v1alpha1.LabelWebhookSecret)
	if len(items) == 0 {
		return "", &field.Error{
			Type: field.ErrorTypeNotFound, Field: w.path.String(), BadValue: w.ref.Name,
			Detail: fmt.Sprintf("%s does not exist: create it with the key %s and the label %s, which offers it as a webhook secret", what, w.ref.Key, label),
		}
	}
	s := items[0].GetResource()
	labels := s.GetFields()["metadata"].GetStructValue().GetFields()["labels"].GetStructValue().GetFields()
	if labels[v1alpha1.LabelWebhookSecret].GetStringValue() != "true" {
		return "", field.Forbidden(w.path, fmt.Sprintf("%s is not offered as a webhook secret: only a Secret labelled %s may be sent to a webhook; label it if its key %s is meant for this endpoint (kubectl label secret -n %s %s %s)",
			what, label, w.ref.Key, ns, w.ref.Name, label))
	}
	v, ok := s.GetFields()["data"].GetStructValue().GetFields()[w.ref.Key]
	if !ok {
		// A manifest given to crossplane render as it was written; the API
		// server stores stringData as data.
		if sv, ok := s.GetFields()["stringData"].GetStructValue().GetFields()[w.ref.Key]; ok {
			return sv.GetStringValue(), nil
		}
		return "", &field.Error{
			Type: field.ErrorTypeNotFound, Field: w.path.Child("key").String(), BadValue: w.ref.Key,
			Detail: fmt.Sprintf("%s has no key %s", what, w.ref.Key),
		}
	}
	b, err := base64.StdEncoding.DecodeString(v.GetStringValue())
	if err != nil {
		return "", field.InternalError(w.path, fmt.Errorf("%s: key %s is not base64 as a Secret's data is", what, w.ref.Key))
	}
	return string(b), nil
}

// inlineSecretValues are the secret values the composite gives inline.
func inlineSecretValues(spec *xrSpec) []string {
	if spec.WebhookConfiguration == nil {
		return nil
	}
	a := spec.WebhookConfiguration.WebhookAuthorization
	var out []string
	for _, v := range []string{a.Password, a.Token, a.HeaderValue} {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// withTrimmed adds to values the form each takes trimmed of surrounding
// whitespace, which is what the provider and the Terraform module send:
// either may be quoted back.
func withTrimmed(values []string) []string {
	out := slices.Clone(values)
	for _, v := range values {
		if t := strings.TrimSpace(v); t != v && t != "" {
			out = append(out, t)
		}
	}
	return out
}

// structString reads a string field of a protobuf Struct in place.
func structString(s *structpb.Struct, path ...string) string {
	for _, p := range path[:len(path)-1] {
		s = s.GetFields()[p].GetStructValue()
	}
	return s.GetFields()[path[len(path)-1]].GetStringValue()
}
