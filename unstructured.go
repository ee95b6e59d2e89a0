package main

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/crossplane/function-sdk-go/resource/composed"
	"github.com/crossplane/function-sdk-go/resource/composite"
)

// The hot path reads and writes resources as unstructured maps in place:
// the SDK's helpers (composed.From, GetValueInto, SetValue, GetCondition)
// convert whole objects through JSON, which cost more than the rest of a
// call.

// toComposed converts a typed object to a composed resource by reflection,
// with the same result composed.From gets through JSON (apiVersion and kind
// from composed.Scheme, no metadata.generation, no empty metadata);
// TestToComposedMatchesFrom holds the two equal.
func toComposed(o runtime.Object) (*composed.Unstructured, error) {
	gvks, _, err := composed.Scheme.ObjectKinds(o)
	if err != nil {
		return nil, fmt.Errorf("did you add it to composed.Scheme?: %w", err)
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, err
	}
	cd := &composed.Unstructured{}
	cd.Object = m
	for _, gvk := range gvks {
		cd.SetGroupVersionKind(gvk)
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "generation")
		if len(md) == 0 {
			delete(m, "metadata")
		}
	}
	return cd, nil
}

// setStatus sets status.<key> of the desired composite to v, which must
// already be JSON-shaped (maps, slices, strings, numbers, bools).
func setStatus(xr *composite.Unstructured, key string, v any) error {
	s, ok := xr.Object["status"]
	if !ok || s == nil {
		s = map[string]any{}
		xr.Object["status"] = s
	}
	status, ok := s.(map[string]any)
	if !ok {
		return fmt.Errorf("cannot set status.%s: status is a %T, not an object", key, s)
	}
	status[key] = v
	return nil
}

// atProvider is the observed resource's status.atProvider, nil when absent.
func atProvider(cd *composed.Unstructured) map[string]any {
	status, _ := cd.Object["status"].(map[string]any)
	obs, _ := status["atProvider"].(map[string]any)
	return obs
}
