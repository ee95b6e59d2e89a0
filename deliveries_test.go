package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
)

// annotatedActionXR is actionXR with metadata annotations.
func annotatedActionXR(ann map[string]string) string {
	a, _ := json.Marshal(ann)
	return strings.Replace(actionXR(""), `"namespace":"team-a"}`, fmt.Sprintf(`"namespace":"team-a","annotations":%s}`, a), 1)
}

func run(t *testing.T, r *fnv1.RunFunctionRequest) *fnv1.RunFunctionResponse {
	t.Helper()
	got, err := (&Function{log: logging.NewNopLogger()}).RunFunction(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range got.GetResults() {
		if res.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
			t.Fatalf("fatal result: %s", res.GetMessage())
		}
	}
	return got
}

func composedAnnotations(t *testing.T, rsp *fnv1.RunFunctionResponse) map[string]string {
	t.Helper()
	es := rsp.GetDesired().GetResources()[string(NameEventStream)].GetResource()
	out := map[string]string{}
	for k, v := range es.GetFields()["metadata"].GetStructValue().GetFields()["annotations"].GetStructValue().GetFields() {
		out[k] = v.GetStringValue()
	}
	return out
}

func TestDeliveryActionAnnotations(t *testing.T) {
	cases := map[string]struct {
		xr      map[string]string
		want    map[string]string
		warning string
	}{
		"PassedOn": {
			xr:   map[string]string{AnnotationSendTestEvent: "user.created#3", AnnotationRedeliver: "failed#1", "other": "x"},
			want: map[string]string{annotationMRSendTestEvent: "user.created#3", annotationMRRedeliver: "failed#1"},
		},
		"UnsubscribedTypeRefused": {
			xr:      map[string]string{AnnotationSendTestEvent: "user.deleted"},
			want:    map[string]string{},
			warning: "annotation auth0.openmcf.org/send-test-event: user.deleted is not in spec.subscriptions",
		},
		"RedeliverWhatRefused": {
			xr:      map[string]string{AnnotationRedeliver: "everything#1"},
			want:    map[string]string{},
			warning: `annotation auth0.openmcf.org/redeliver: "everything" is not failed; use failed#<anything>`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rsp := run(t, req(annotatedActionXR(tc.xr), "", nil))
			if diff := cmp.Diff(tc.want, composedAnnotations(t, rsp)); diff != "" {
				t.Errorf("EventStream annotations (-want +got):\n%s", diff)
			}
			var warnings []string
			for _, r := range rsp.GetResults() {
				if r.GetSeverity() == fnv1.Severity_SEVERITY_WARNING {
					warnings = append(warnings, r.GetMessage())
				}
			}
			if tc.warning == "" && len(warnings) > 0 || tc.warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], tc.warning)) {
				t.Errorf("warnings %q, want one containing %q", warnings, tc.warning)
			}
		})
	}
}

func TestSurfaceDeliveries(t *testing.T) {
	status := `{"conditions":[{"type":"Ready","status":"True","reason":"Available","lastTransitionTime":"2026-01-01T00:00:00Z"},
		{"type":"Synced","status":"True","reason":"ReconcileSuccess","lastTransitionTime":"2026-01-01T00:00:00Z"},
		{"type":"DeliveriesHealthy","status":"False","reason":"DeliveriesFailing","message":"2 events of the last 24 hours were not delivered","lastTransitionTime":"2026-01-01T00:00:00Z"}],
		"atProvider":{"id":"` + idA + `","name":"users","status":"enabled","destinationType":"action","subscriptions":["user.created"],
		"deliveries":{"checkedAt":"2026-11-26T10:00:00Z","successful24h":3,"failed24h":8,"undelivered":2,
			"lastFailure":{"time":"2026-11-26T09:59:00Z","eventType":"user.created","message":"Action execution failed"},
			"lastAction":{"annotation":"auth0.m.openmcf.org/redeliver","value":"failed#1","time":"2026-11-26T09:00:00Z","outcome":"Accepted","message":"Auth0 accepted"}}}}`
	rsp := run(t, req(actionXR(""), "", map[string]string{"event-stream": observedAction(nil, status)}))

	xr := rsp.GetDesired().GetComposite().GetResource().AsMap()
	got := xr["status"].(map[string]any)["deliveries"]
	want := map[string]any{
		"checkedAt": "2026-11-26T10:00:00Z", "successful24h": 3.0, "failed24h": 8.0, "undelivered": 2.0,
		"lastFailure": map[string]any{"time": "2026-11-26T09:59:00Z", "eventType": "user.created", "message": "Action execution failed"},
		"lastAction":  map[string]any{"annotation": "auth0.m.openmcf.org/redeliver", "value": "failed#1", "time": "2026-11-26T09:00:00Z", "outcome": "Accepted", "message": "Auth0 accepted"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status.deliveries (-want +got):\n%s", diff)
	}
	var c *fnv1.Condition
	for _, x := range rsp.GetConditions() {
		if x.GetType() == ConditionDeliveriesHealthy {
			c = x
		}
	}
	if c == nil || c.GetStatus() != fnv1.Status_STATUS_CONDITION_FALSE || c.GetReason() != "DeliveriesFailing" || !strings.Contains(c.GetMessage(), "not delivered") {
		t.Errorf("DeliveriesHealthy = %v, want False DeliveriesFailing with the provider's message", c)
	}
}
