package main

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
	"github.com/crossplane/function-sdk-go/errors"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource/composed"
	"github.com/crossplane/function-sdk-go/resource/composite"
	"github.com/crossplane/function-sdk-go/response"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	platformv1 "github.com/xp-auth0/auth0-eventstream/apis/platform/v1"
	"github.com/xp-auth0/auth0-eventstream/internal/eventtypes"
)

// Delivery actions a user asks for on the composite (or its claim, whose
// annotations Crossplane copies to the composite). The function passes each
// to the EventStream under the provider's annotation; the provider
// performs each distinct value once.
const (
	AnnotationSendTestEvent = "auth0.openmcf.org/send-test-event"
	AnnotationRedeliver     = "auth0.openmcf.org/redeliver"

	// The provider's annotations (internal/controller/eventstream).
	annotationMRSendTestEvent = "auth0.m.openmcf.org/send-test-event"
	annotationMRRedeliver     = "auth0.m.openmcf.org/redeliver"
)

// ConditionDeliveriesHealthy carries the EventStream's condition of the
// same type: whether Auth0 delivers the stream's events.
const ConditionDeliveriesHealthy = "DeliveriesHealthy"

// ReasonDeliveryAction is the reason of the warning about a malformed
// delivery action annotation.
const ReasonDeliveryAction = "DeliveryAction"

// deliveryActions copies the composite's valid action annotations onto the
// EventStream es. A malformed one is a warning naming the annotation and
// its format, and is not passed on.
func deliveryActions(rsp *fnv1.RunFunctionResponse, xr *composite.Unstructured, spec *xrSpec, es *v1alpha1.EventStream, claim bool) {
	for _, a := range []struct{ from, to string }{{AnnotationSendTestEvent, annotationMRSendTestEvent}, {AnnotationRedeliver, annotationMRRedeliver}} {
		v, ok := xr.GetAnnotations()[a.from]
		if !ok {
			continue
		}
		if why := checkDeliveryAction(a.from, v, spec.Subscriptions); why != "" {
			w := response.Warning(rsp, errors.Errorf("annotation %s: %s; it is not passed to the EventStream", a.from, why)).WithReason(ReasonDeliveryAction)
			if claim {
				w.TargetCompositeAndClaim()
			}
			continue
		}
		ann := es.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[a.to] = v
		es.SetAnnotations(ann)
	}
}

// checkDeliveryAction says what is wrong with an action annotation's
// value, "" when nothing.
func checkDeliveryAction(key, v string, subscriptions []string) string {
	head, _, _ := strings.Cut(v, "#")
	switch key {
	case AnnotationSendTestEvent:
		// A subscription is a type Auth0 accepts (checkSubscriptions),
		// extraEventTypes included.
		if slices.Contains(subscriptions, head) {
			return ""
		}
		if !eventtypes.Known(head) {
			return fmt.Sprintf("%q is not an Auth0 event type; use <event type>[#anything], e.g. user.created#2 (a new suffix sends another)", head)
		}
		return fmt.Sprintf("%s is not in spec.subscriptions; Auth0 only sends test events of subscribed types", head)
	case AnnotationRedeliver:
		if head != "failed" {
			return fmt.Sprintf("%q is not failed; use failed#<anything> (a new suffix redelivers again)", head)
		}
	}
	return ""
}

// surfaceDeliveries copies the EventStream's delivery health to the
// composite's status.deliveries and its DeliveriesHealthy condition, when
// the provider has reported them, their messages masked by m.
func surfaceDeliveries(rsp *fnv1.RunFunctionResponse, dxr *composite.Unstructured, es *composed.Unstructured, claim bool, m masker) error {
	// Read in place, not through JSON (GetValueInto, GetCondition).
	d := &v1alpha1.DeliveriesObservation{}
	if raw, ok := atProvider(es)["deliveries"].(map[string]any); ok && runtime.DefaultUnstructuredConverter.FromUnstructured(raw, d) == nil {
		out := platformv1.Deliveries{Successful24h: d.Successful24h, Failed24h: d.Failed24h, Undelivered: d.Undelivered}
		if d.CheckedAt != nil {
			out.CheckedAt = d.CheckedAt.UTC().Format("2006-01-02T15:04:05Z")
		}
		if f := d.LastFailure; f != nil {
			out.LastFailure = &platformv1.DeliveryFailure{Time: f.Time, EventType: f.EventType, Message: m.String(f.Message)}
		}
		if a := d.LastAction; a != nil {
			out.LastAction = &platformv1.DeliveryAction{Annotation: a.Annotation, Value: a.Value, Time: a.Time, Outcome: a.Outcome, Message: m.String(a.Message)}
		}
		v, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&out)
		if err != nil {
			return errors.Wrap(err, "cannot set status.deliveries")
		}
		if err := setStatus(dxr, "deliveries", v); err != nil {
			return err
		}
	}
	c := conditionOf(es, xpv2.ConditionType(ConditionDeliveriesHealthy))
	if c.Reason == "" {
		return nil
	}
	var set func(*fnv1.RunFunctionResponse, string, string) *response.ConditionOption
	switch c.Status {
	case corev1.ConditionTrue:
		set = response.ConditionTrue
	case corev1.ConditionFalse:
		set = response.ConditionFalse
	default:
		set = response.ConditionUnknown
	}
	co := set(rsp, ConditionDeliveriesHealthy, string(c.Reason)).WithMessage(m.String(c.Message))
	if claim {
		co.TargetCompositeAndClaim()
	}
	return nil
}
