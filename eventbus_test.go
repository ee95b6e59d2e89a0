package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
)

const (
	busSource = "aws.partner/auth0.com/dev-tenant-8c3f2b1e-4d6a-4b1f-9e2a-7c5d3f1a2b4c/auth0.events"
	busARN    = "arn:aws:events:eu-west-1:123456789012:event-bus/" + busSource
	busInput  = `{"apiVersion":"auth0eventstream.fn.openmcf.org/v1beta1","kind":"Input","composeEventBus":true}`
)

// busXR is an eventbridge composite in team-a asking for an event bus.
func busXR(eventBus string) string {
	return xrJSON("events", `{"destinationType":"eventbridge","subscriptions":["user.created"],"eventbridgeConfiguration":{"awsAccountId":"123456789012","awsRegion":"eu-west-1","eventBus":`+eventBus+`}}`)
}

// busObservedES is the EventStream as the provider reports it once Auth0
// has the stream, whose partner event source is the given one (none when
// empty).
func busObservedES(source string) string {
	return `{"apiVersion":"auth0.m.openmcf.org/v1alpha1","kind":"EventStream","metadata":{"name":"events","namespace":"team-a"},"spec":{"forProvider":{}},` +
		`"status":{"conditions":[{"type":"Ready","status":"True","reason":"Available"},{"type":"Synced","status":"True","reason":"ReconcileSuccess"}],` +
		`"atProvider":{"id":"est_qVPHInFJxa1VCeRpa1Xdct","destinationType":"eventbridge","awsPartnerEventSource":"` + source + `"}}}`
}

// busObserved is the Bus as the AWS provider reports it: ready with its ARN,
// or just created.
func busObserved(isReady bool) string {
	status := `{"conditions":[{"type":"Synced","status":"True","reason":"ReconcileSuccess"},{"type":"Ready","status":"False","reason":"Creating"}]}`
	if isReady {
		status = `{"conditions":[{"type":"Synced","status":"True","reason":"ReconcileSuccess"},{"type":"Ready","status":"True","reason":"Available"}],"atProvider":{"arn":"` + busARN + `","id":"` + busSource + `"}}`
	}
	return `{"apiVersion":"cloudwatchevents.aws.m.upbound.io/v1beta1","kind":"Bus","metadata":{"name":"events","namespace":"team-a"},"spec":{"forProvider":{"region":"eu-west-1","eventSourceName":"` + busSource + `"}},"status":` + status + `}`
}

func eventBusCondition(rsp *fnv1.RunFunctionResponse) *fnv1.Condition {
	for _, c := range rsp.GetConditions() {
		if c.GetType() == ConditionEventBusReady {
			return c
		}
	}
	return nil
}

// TestEventBus checks the event bus a composite may ask for: refused where
// the Composition does not compose buses; not composed, and the composite
// held not ready, until Auth0 names the partner event source; then a Bus
// named after it in the stream's region with the chosen ProviderConfig,
// whose readiness and ARN reach the composite.
func TestEventBus(t *testing.T) {
	const create = `{"create":true}`
	cases := map[string]struct {
		xr       string
		input    string
		observed map[string]string
		// fatal is a part of the Fatal result's message; empty when the
		// composite is not refused.
		fatal string
		// bus is the desired Bus's spec, empty when none is composed.
		bus       string
		busReady  fnv1.Ready
		xrReady   fnv1.Ready
		status    string
		condition string
		steady    bool
	}{
		"RefusedWithoutComposeEventBus": {
			xr:    busXR(create),
			fatal: "spec.eventbridgeConfiguration.eventBus.create: Forbidden: this Composition does not compose event buses",
		},
		"CreateFalseComposesNoBus": {
			xr:       busXR(`{"create":false}`),
			input:    busInput,
			observed: map[string]string{string(NameEventStream): busObservedES(busSource)},
			steady:   true,
		},
		"WaitsForThePartnerEventSource": {
			xr:        busXR(create),
			input:     busInput,
			xrReady:   fnv1.Ready_READY_FALSE,
			condition: "False/WaitingForPartnerEventSource",
		},
		"WaitsWhileAuth0HasNotNamedIt": {
			xr:        busXR(create),
			input:     busInput,
			observed:  map[string]string{string(NameEventStream): busObservedES("")},
			xrReady:   fnv1.Ready_READY_FALSE,
			condition: "False/WaitingForPartnerEventSource",
		},
		"ComposedOnceNamed": {
			xr:        busXR(create),
			input:     busInput,
			observed:  map[string]string{string(NameEventStream): busObservedES(busSource)},
			bus:       `{"forProvider":{"eventSourceName":"` + busSource + `","region":"eu-west-1"},"providerConfigRef":{"kind":"ClusterProviderConfig","name":"default"}}`,
			busReady:  fnv1.Ready_READY_FALSE,
			status:    `{"name":"` + busSource + `"}`,
			condition: "False/Creating",
		},
		"WithItsProviderConfig": {
			xr:        busXR(`{"create":true,"providerConfigRef":{"kind":"ProviderConfig","name":"aws-team-a"}}`),
			input:     busInput,
			observed:  map[string]string{string(NameEventStream): busObservedES(busSource), string(NameEventBus): busObserved(false)},
			bus:       `{"forProvider":{"eventSourceName":"` + busSource + `","region":"eu-west-1"},"providerConfigRef":{"kind":"ProviderConfig","name":"aws-team-a"}}`,
			busReady:  fnv1.Ready_READY_FALSE,
			status:    `{"name":"` + busSource + `"}`,
			condition: "False/Creating",
		},
		"ReadyWithItsARN": {
			xr:        busXR(create),
			input:     busInput,
			observed:  map[string]string{string(NameEventStream): busObservedES(busSource), string(NameEventBus): busObserved(true)},
			bus:       `{"forProvider":{"eventSourceName":"` + busSource + `","region":"eu-west-1"},"providerConfigRef":{"kind":"ClusterProviderConfig","name":"default"}}`,
			busReady:  fnv1.Ready_READY_TRUE,
			status:    `{"arn":"` + busARN + `","name":"` + busSource + `"}`,
			condition: "True/Available",
			steady:    true,
		},
		// A bus once composed is never dropped, which would delete it,
		// while the stream's outputs lack the source for a moment.
		"KeptWhileTheSourceIsMissing": {
			xr:        busXR(create),
			input:     busInput,
			observed:  map[string]string{string(NameEventStream): busObservedES(""), string(NameEventBus): busObserved(true)},
			bus:       `{"forProvider":{"eventSourceName":"` + busSource + `","region":"eu-west-1"},"providerConfigRef":{"kind":"ClusterProviderConfig","name":"default"}}`,
			busReady:  fnv1.Ready_READY_TRUE,
			status:    `{"arn":"` + busARN + `","name":"` + busSource + `"}`,
			condition: "True/Available",
			steady:    true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rsp, err := (&Function{log: logging.NewNopLogger()}).RunFunction(context.Background(), req(tc.xr, tc.input, tc.observed))
			if err != nil {
				t.Fatal(err)
			}
			var fatal string
			for _, r := range rsp.GetResults() {
				if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
					fatal = r.GetMessage()
				}
			}
			if tc.fatal != "" || fatal != "" {
				if tc.fatal == "" || !strings.Contains(fatal, tc.fatal) {
					t.Fatalf("Fatal result %q, want one containing %q", fatal, tc.fatal)
				}
				if len(rsp.GetDesired().GetResources()) != 0 {
					t.Errorf("refused, yet composed %v", rsp.GetDesired().GetResources())
				}
				return
			}

			b, ok := rsp.GetDesired().GetResources()[string(NameEventBus)]
			if ok != (tc.bus != "") {
				t.Fatalf("Bus composed: %t, want %t", ok, tc.bus != "")
			}
			if ok {
				m := b.GetResource().AsMap()
				if m["apiVersion"] != BusAPIVersion || m["kind"] != BusKind {
					t.Errorf("composed %v %v, want %s %s", m["apiVersion"], m["kind"], BusAPIVersion, BusKind)
				}
				meta, _ := m["metadata"].(map[string]any)
				ann, _ := meta["annotations"].(map[string]any)
				if meta["name"] != "events" || meta["namespace"] != "team-a" || ann[AnnotationExternalName] != busSource {
					t.Errorf("Bus metadata %v, want events in team-a, external name %s (the bus's name in AWS)", meta, busSource)
				}
				if diff := cmp.Diff(jsonMap(t, tc.bus), m["spec"]); diff != "" {
					t.Errorf("Bus spec: -want, +got:\n%s", diff)
				}
				if b.GetReady() != tc.busReady {
					t.Errorf("Bus ready %v, want %v", b.GetReady(), tc.busReady)
				}
			}

			xr := rsp.GetDesired().GetComposite()
			if xr.GetReady() != tc.xrReady {
				t.Errorf("composite ready %v, want %v", xr.GetReady(), tc.xrReady)
			}
			st, _ := xr.GetResource().AsMap()["status"].(map[string]any)
			var wantStatus any
			if tc.status != "" {
				wantStatus = jsonMap(t, tc.status)
			}
			if diff := cmp.Diff(wantStatus, st["eventBus"]); diff != "" {
				t.Errorf("status.eventBus: -want, +got:\n%s", diff)
			}
			c := eventBusCondition(rsp)
			got := ""
			if c != nil {
				got = strings.TrimPrefix(c.GetStatus().String(), "STATUS_CONDITION_")
				got = strings.ToUpper(got[:1]) + strings.ToLower(got[1:]) + "/" + c.GetReason()
			}
			if got != tc.condition {
				t.Errorf("condition %s: %q, want %q", ConditionEventBusReady, got, tc.condition)
			}
			if steady := rsp.GetMeta().GetTtl().AsDuration() == DefaultSteadyTTL; steady != tc.steady {
				t.Errorf("steady TTL: %t, want %t", steady, tc.steady)
			}
		})
	}
}

func jsonMap(t *testing.T, s string) map[string]any {
	t.Helper()
	m := map[string]any{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return m
}
