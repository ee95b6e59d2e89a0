package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
)

// One owner per stream id, across EventStreams and Workspaces. The native
// provider refuses an id another EventStream holds; nothing in
// provider-terraform would refuse to import an id, so before the terraform
// backend imports spec.streamId the function asks Crossplane for every
// EventStream and Workspace labelled v1alpha1.LabelStreamID with that id,
// in every namespace, and refuses when one is not the Workspace it
// composes. The label can be written by whoever may edit the resource, so
// it only ever refuses: a missing label grants nothing the provider would
// not grant anyway, a forged one only blocks the import that forged it.
//
// Crossplane v2.2.1 does not scope a function's required resources to a
// namespaced composite's namespace: a selector without a namespace lists
// in every namespace, with Crossplane's own rights
// (internal/xfn/required_resources.go, ExistingRequiredResourcesFetcher.Fetch
// lists with client.InNamespace(selector.namespace), "" being all). That is
// what lets this check see other namespaces. It is a check before the
// import, not a lock: two composites importing the same id within one
// reconcile of each other both pass (docs/terraform.md).

// Requirements of the resources that hold a stream id.
const (
	reqHoldersEventStream = "stream-holders-eventstreams"
	reqHoldersWorkspace   = "stream-holders-workspaces"
)

// holderKinds are the kinds that hold stream ids, by requirement.
var holderKinds = map[string]struct{ apiVersion, kind string }{ //nolint:gochecknoglobals // We treat this as a constant.
	reqHoldersEventStream: {v1alpha1.SchemeGroupVersion.String(), v1alpha1.EventStreamKind},
	reqHoldersWorkspace:   {WorkspaceAPIVersion, KindWorkspace},
}

// holderSelectors are the requirements of every resource labelled as
// holding stream id, in any namespace.
func holderSelectors(id string) map[string]*fnv1.ResourceSelector {
	out := make(map[string]*fnv1.ResourceSelector, len(holderKinds))
	for name, k := range holderKinds {
		out[name] = &fnv1.ResourceSelector{
			ApiVersion: k.apiVersion,
			Kind:       k.kind,
			Match:      &fnv1.ResourceSelector_MatchLabels{MatchLabels: &fnv1.MatchLabels{Labels: map[string]string{v1alpha1.LabelStreamID: id}}},
		}
	}
	return out
}

// checkHolders refuses spec.streamId id when a resource other than the
// Workspace namespace/name holds it.
func checkHolders(required map[string]*fnv1.Resources, id, namespace, name string) *field.Error {
	var others []string
	for _, req := range slices.Sorted(maps.Keys(holderKinds)) {
		k := holderKinds[req]
		for _, r := range required[req].GetItems() {
			ns, n := structString(r.GetResource(), "metadata", "namespace"), structString(r.GetResource(), "metadata", "name")
			if k.kind == KindWorkspace && ns == namespace && n == name {
				continue
			}
			others = append(others, fmt.Sprintf("%s %s/%s", k.kind, ns, n))
		}
	}
	if len(others) == 0 {
		return nil
	}
	return field.Forbidden(field.NewPath("spec", "streamId"), fmt.Sprintf("stream %s is already held by %s (label %s): a stream has one owner, so it is not imported; nothing was changed in Auth0",
		id, strings.Join(others, ", "), v1alpha1.LabelStreamID))
}
