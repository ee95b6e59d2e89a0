package main

import (
	"fmt"

	"github.com/crossplane/function-sdk-go/resource/composed"
	"github.com/crossplane/function-sdk-go/resource/composite"
)

// The hot path reads and writes resources as unstructured maps in place:
// the SDK's helpers (GetValueInto, SetValue, GetCondition) convert whole
// objects through JSON, which cost more than the rest of a call.

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
