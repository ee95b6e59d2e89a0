package main

import (
	"fmt"

	"google.golang.org/protobuf/types/known/structpb"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
	"github.com/crossplane/function-sdk-go/errors"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composed"
	"github.com/crossplane/function-sdk-go/response"

	"github.com/xp-auth0/auth0-eventstream/input/v1beta1"
)

// NameEventBus is the composed EventBridge event bus within the pipeline.
const NameEventBus resource.Name = "event-bus"

// The event bus is provider-aws-cloudwatchevents' namespaced Bus
// of crossplane-contrib/provider-upjet-aws' v2 line (its CRD, which the
// composed Bus is validated against, is pinned in
// testdata/crds/provider-aws-cloudwatchevents).
const (
	BusAPIVersion = "cloudwatchevents.aws.m.upbound.io/v1beta1"
	BusKind       = "Bus"
)

// ConditionEventBusReady is the XR condition that carries the event bus's
// state, when the composite asks for one.
const ConditionEventBusReady = "EventBusReady"

// ReasonWaitingForPartnerSource: Auth0 has not named the stream's partner
// event source yet, so there is no name for the bus.
const ReasonWaitingForPartnerSource = "WaitingForPartnerEventSource"

// wantsEventBus is whether the composite asks for an event bus.
func wantsEventBus(spec *xrSpec) bool {
	eb := spec.EventBridgeConfiguration
	return eb != nil && eb.EventBus != nil && eb.EventBus.Create
}

// refuseEventBus refuses a composite that asks for an event bus from a
// Composition that does not compose them: the base Configuration does not
// depend on the AWS provider, so the Bus's CRD may not be installed.
func refuseEventBus(spec *xrSpec, in *v1beta1.Input) *field.Error {
	if !wantsEventBus(spec) || in.ComposeEventBus {
		return nil
	}
	return field.Forbidden(field.NewPath("spec", "eventbridgeConfiguration", "eventBus", "create"),
		"this Composition does not compose event buses (its function input has no composeEventBus: true): select the Composition labelled auth0.openmcf.org/event-bus: aws of configuration-auth0-eventstream-eventbridge, or leave the partner event source for you to associate")
}

// eventBus is the Bus to compose for a composite that asks for one, once its
// name, the partner event source's, is known.
type eventBus struct {
	// source is the partner event source, the bus's name; empty while Auth0
	// has not named it.
	source string
	// observed is the Bus observed, nil until Crossplane created it.
	observed *composed.Unstructured
}

// eventBusFor finds the bus's name: the partner event source Auth0 returned,
// or, when the stream's outputs lack it for a moment, the name the observed
// Bus already has, so that the bus is never dropped (and deleted) while
// Auth0 is being asked again.
func eventBusFor(outputs map[string]any, observed map[resource.Name]resource.ObservedComposed) eventBus {
	b := eventBus{}
	if o, ok := observed[NameEventBus]; ok {
		b.observed = o.Resource
	}
	if s, _ := outputs["awsPartnerEventSource"].(string); s != "" {
		b.source = s
		return b
	}
	if b.observed != nil {
		fp, _ := b.observed.Object["spec"].(map[string]any)
		fp, _ = fp["forProvider"].(map[string]any)
		b.source, _ = fp["eventSourceName"].(string)
	}
	return b
}

// composeBus is the Bus for the partner event source: a bus matched with a
// partner event source must bear its name, which upjet takes from the
// external name; forProvider.eventSourceName says to match it.
func composeBus(spec *xrSpec, t target, source string) (*structpb.Struct, error) {
	// What the Bus CRD defaults providerConfigRef to, written out so that
	// the composite's desired state says which it is.
	pc := map[string]any{"kind": defaultProviderConfigRef.Kind, "name": defaultProviderConfigRef.Name}
	if r := spec.EventBridgeConfiguration.EventBus.ProviderConfigRef; r != nil {
		pc = map[string]any{"kind": r.Kind, "name": r.Name}
	}
	labels := map[string]any{}
	for k, v := range versionLabels() {
		labels[k] = v
	}
	bus := &composed.Unstructured{}
	bus.Object = map[string]any{
		"apiVersion": BusAPIVersion,
		"kind":       BusKind,
		"metadata": map[string]any{
			"name":        t.Name,
			"namespace":   t.Namespace,
			"labels":      labels,
			"annotations": map[string]any{AnnotationExternalName: source},
		},
		"spec": map[string]any{
			"forProvider": map[string]any{
				"region":          spec.EventBridgeConfiguration.AWSRegion,
				"eventSourceName": source,
			},
			"providerConfigRef": pc,
		},
	}
	s, err := resource.AsStruct(bus)
	if err != nil {
		return nil, errors.Wrapf(err, "%s %s", errCompose, BusKind)
	}
	return s, nil
}

// eventBusStep composes the Bus when its name is known, surfaces it on the
// composite (status.eventBus, condition EventBusReady) and reports whether
// it is ready. Until Auth0 names the partner event source nothing is
// composed, and the composite is held not ready: Crossplane would otherwise
// call it ready on the stream alone.
func eventBusStep(rsp *fnv1.RunFunctionResponse, dxr *resource.Composite, spec *xrSpec, t target, b eventBus, m masker) (bool, error) {
	cond := func(ok bool, reason, msg string) {
		newCondition := response.ConditionFalse
		if ok {
			newCondition = response.ConditionTrue
		}
		c := newCondition(rsp, ConditionEventBusReady, reason).WithMessage(msg)
		if t.Claim {
			c.TargetCompositeAndClaim()
		}
	}
	if b.source == "" {
		cond(false, ReasonWaitingForPartnerSource, "waiting for Auth0 to create the stream's AWS partner event source: the event bus is composed once status.outputs.awsPartnerEventSource is known")
		dxr.Ready = resource.ReadyFalse
		return false, nil
	}
	s, err := composeBus(spec, t, b.source)
	if err != nil {
		return false, err
	}
	ready := b.observed != nil && isReady(b.observed)
	setDesired(rsp, NameEventBus, s, readiness(ready))

	st := map[string]any{"name": b.source}
	if b.observed != nil {
		if arn, _ := atProvider(b.observed)["arn"].(string); arn != "" {
			st["arn"] = arn
		}
	}
	if err := setStatus(dxr.Resource, "eventBus", st); err != nil {
		return false, err
	}
	cond(busCondition(b.observed, t.Name, m))
	return ready, nil
}

// busCondition is EventBusReady from the observed Bus: a failed sync first,
// then its Ready condition. Messages are masked by m.
func busCondition(bus *composed.Unstructured, name string, m masker) (bool, string, string) {
	if bus == nil {
		return false, ReasonPending, fmt.Sprintf("%s %s has not been created yet", BusKind, name)
	}
	synced, ready := conditionOf(bus, xpv2.TypeSynced), conditionOf(bus, xpv2.TypeReady)
	switch {
	case synced.Status == corev1.ConditionFalse:
		return false, orDefault(string(synced.Reason), "ReconcileError"), withDetail(fmt.Sprintf("%s %s is not synced", BusKind, name), m.String(synced.Message))
	case ready.Status == corev1.ConditionTrue:
		return true, ReasonAvailable, fmt.Sprintf("%s %s is ready", BusKind, name)
	default:
		return false, orDefault(string(ready.Reason), ReasonPending), withDetail(fmt.Sprintf("%s %s is not ready", BusKind, name), m.String(ready.Message))
	}
}
