package eventstream

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/auth0/go-auth0/management"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/errors"
	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/auth0client"
	"github.com/xp-auth0/auth0-eventstream/internal/eventtypes"
)

// ConditionDeliveriesHealthy says whether Auth0 delivers the stream's
// events: True, False with the last failure, Unknown until checked.
const ConditionDeliveriesHealthy xpv2.ConditionType = "DeliveriesHealthy"

// Reasons of ConditionDeliveriesHealthy.
const (
	reasonDelivering     xpv2.ConditionReason = "Delivering"
	reasonUndelivered    xpv2.ConditionReason = "DeliveriesFailing"
	reasonNotChecked     xpv2.ConditionReason = "NotChecked"
	reasonCheckDisabled  xpv2.ConditionReason = "CheckDisabled"
	reasonCheckFailed    xpv2.ConditionReason = "CheckFailed"
	reasonNoStreamToRead xpv2.ConditionReason = "NoStream"
)

// Annotations a user (through the function, from the composite or claim)
// sets to act on deliveries. Each distinct value is performed once.
const (
	// AnnotationSendTestEvent: "<event type>[#anything]" sends a test event
	// of that type.
	AnnotationSendTestEvent = "auth0.m.openmcf.org/send-test-event"
	// AnnotationRedeliver: "failed[#anything]" redelivers every failed
	// delivery.
	AnnotationRedeliver = "auth0.m.openmcf.org/redeliver"
)

// Event reasons of delivery actions.
const (
	reasonSendTestEvent event.Reason = "SendTestEvent"
	reasonRedeliver     event.Reason = "RedeliverFailed"
)

// deliveryWindow is the period delivery health covers.
const deliveryWindow = 24 * time.Hour

// keepAction is what survives of the delivery health when the stream is
// another one (recreated, replaced, moved) or gone: the last action, for
// the user's record. The counts belong to the old stream, and a missing
// checkedAt makes the new stream's health read at once (once it is a
// delivery poll old).
func keepAction(d *v1alpha1.DeliveriesObservation) *v1alpha1.DeliveriesObservation {
	if d == nil || d.LastAction == nil {
		return nil
	}
	return &v1alpha1.DeliveriesObservation{LastAction: d.LastAction}
}

// setAtProvider sets the observation of the same stream, keeping its
// delivery health, which is read less often than the stream.
func setAtProvider(cr *v1alpha1.EventStream, o v1alpha1.EventStreamObservation) {
	o.Deliveries = cr.Status.AtProvider.Deliveries
	cr.Status.AtProvider = o
}

// resetAtProvider empties the observation: there is no stream, or another.
func resetAtProvider(cr *v1alpha1.EventStream) {
	cr.Status.AtProvider = v1alpha1.EventStreamObservation{Deliveries: keepAction(cr.Status.AtProvider.Deliveries)}
}

// observeDeliveries runs on every Observe of an existing stream that is
// not being deleted: it performs the delivery actions asked for by
// annotation that were not performed yet, then reads delivery health if
// this process last read it at least a delivery poll ago (see
// deliveryReads; never read, once the stream is a delivery poll old). A
// converged stream thus costs Auth0 one stats call per delivery poll,
// plus one list of failed deliveries when stats count failures. Failing
// to read health never fails the reconcile: it shows in DeliveriesHealthy.
//
// Status changes only when a fact does (see sameHealth): a read that finds
// what status holds writes nothing, so a quiet stream's EventStream, and
// the composite and claim the function copies it to, are not written at
// every delivery poll. Freshness is in the provider's metrics.
func (e *external) observeDeliveries(ctx context.Context, cr *v1alpha1.EventStream, s *management.EventStream) error {
	if err := e.deliveryActions(ctx, cr, s); err != nil {
		return err
	}
	d := cr.Status.AtProvider.Deliveries
	if e.deliveryPoll <= 0 {
		cr.SetConditions(deliveriesCondition(corev1.ConditionUnknown, reasonCheckDisabled, "delivery health is not read: the provider runs with --delivery-poll 0"))
		return nil
	}
	now := e.now()
	var stored *time.Time
	if d != nil && d.CheckedAt != nil {
		stored = &d.CheckedAt.Time
	}
	// A stream younger than a delivery poll has no delivery history worth
	// a call: its first read waits until it is a delivery poll old, so a
	// burst of creates does not spend Auth0's rate limit on empty stats.
	if stored == nil && s.CreatedAt != nil && now.Sub(*s.CreatedAt) < e.deliveryPoll {
		cr.SetConditions(deliveriesCondition(corev1.ConditionUnknown, reasonNotChecked,
			"delivery health is first read from Auth0 a --delivery-poll after the stream was created"))
		return nil
	}
	since, due := e.reads.due(cr.GetUID(), deref(s.ID), stored, now, e.deliveryPoll)
	if !due {
		notCheckedYet(cr)
		return nil
	}
	var got *v1alpha1.DeliveriesObservation
	err := errDeferred
	// Stalest first: while the budget is short and a read of the tenant it
	// deferred has waited longer, this one does not try.
	tried := e.reads.mayTry(e.tenant, cr.GetUID(), since, now, e.deliveryPoll)
	if tried {
		got, err = e.readHealth(ctx, deref(s.ID), now)
	}
	if errors.Is(err, errDeferred) {
		// Not read this time, still due: nothing is written, and what
		// status holds is the last health known.
		deliveryReadsTotal.WithLabelValues(readDeferred).Inc()
		e.reportShortfall(e.reads.deferRead(e.tenant, cr.GetUID(), tried, now, e.deliveryPoll), now)
		notCheckedYet(cr)
		return nil
	}
	e.reads.read(cr.GetUID(), deref(s.ID), now, e.deliveryPoll)
	if err != nil {
		// What status holds is kept: it is the last health known.
		deliveryReadsTotal.WithLabelValues(readFailed).Inc()
		cr.SetConditions(deliveriesCondition(corev1.ConditionUnknown, reasonCheckFailed, err.Error()))
		return nil
	}
	if d != nil && d.CheckedAt != nil && sameHealth(d, got) {
		deliveryReadsTotal.WithLabelValues(readUnchanged).Inc()
	} else {
		deliveryReadsTotal.WithLabelValues(readChanged).Inc()
		if d != nil {
			got.LastAction = d.LastAction
		}
		// Stored in whole seconds, rounded up: the read's time, for the
		// record of when this health was found.
		checked := metav1.NewTime(now.Add(time.Second - 1).Truncate(time.Second))
		got.CheckedAt = &checked
		d = got
		cr.Status.AtProvider.Deliveries = d
	}
	cr.SetConditions(healthCondition(d))
	return nil
}

// errDeferred is readHealth's error when the tenant's rate budget deferred
// a call: nothing is known, the read stays due.
var errDeferred = errors.New("delivery-health read deferred by the tenant's rate budget")

// readHealth reads the delivery health of stream id at now from Auth0. Its
// error is errDeferred or the condition's message.
func (e *external) readHealth(ctx context.Context, id string, now time.Time) (*v1alpha1.DeliveriesObservation, error) {
	from := now.Add(-deliveryWindow)
	st, err := e.api.Stats(ctx, id, from, now)
	if auth0client.IsDeferred(err) {
		return nil, errDeferred
	}
	if err != nil {
		return nil, errors.New("cannot read delivery stats from Auth0; tried again after --delivery-poll: " + auth0client.Explain(err).Error())
	}
	d := &v1alpha1.DeliveriesObservation{Successful24h: st.Successful, Failed24h: st.Failed}
	if st.Failed == 0 {
		return d, nil
	}
	failed, err := e.api.FailedDeliveries(ctx, id, from)
	if auth0client.IsDeferred(err) {
		// The stats call is spent; the pair is read again when the
		// budget spares both.
		return nil, errDeferred
	}
	if err != nil {
		return nil, errors.New("cannot list failed deliveries in Auth0; tried again after --delivery-poll: " + auth0client.Explain(err).Error())
	}
	d.Undelivered = len(failed)
	for _, f := range failed {
		if d.LastFailure == nil || !f.At.Before(mustTime(d.LastFailure.Time)) {
			d.LastFailure = &v1alpha1.DeliveryFailure{Time: f.At.UTC().Format(time.RFC3339), EventType: f.EventType, Message: e.mask(f.ErrorMessage)}
		}
	}
	return d, nil
}

// notCheckedYet says delivery health is not read yet when the resource
// has no DeliveriesHealthy condition; an existing one is kept.
func notCheckedYet(cr *v1alpha1.EventStream) {
	if _, ok := conditionOf(cr, ConditionDeliveriesHealthy); !ok {
		cr.SetConditions(deliveriesCondition(corev1.ConditionUnknown, reasonNotChecked, "delivery health has not been read from Auth0 yet"))
	}
}

// reasonRateBudgetShort is the event on a ProviderConfig whose tenant's
// rate budget cannot cover the delivery-health reads.
const reasonRateBudgetShort event.Reason = "RateBudgetShort"

// reportShortfall records a Warning event on the resource's ProviderConfig
// when its tenant's deferred reads are overdue by more than a delivery
// poll: at most once per delivery poll per ProviderConfig. Events, not
// status: nothing is written at every reconcile for it.
func (e *external) reportShortfall(s shortfall, now time.Time) {
	if s.overdue <= e.deliveryPoll || e.configObj == nil || !e.reads.report(e.configObj.GetUID(), now, e.deliveryPoll) {
		return
	}
	budget := "no rate budget"
	if e.rateBudget > 0 {
		budget = fmt.Sprintf("a rate budget of %d requests/s (--auth0-rate-budget, shared by every ProviderConfig of the tenant, observations and writes first)", e.rateBudget)
	}
	// Observing from listings is the default: suggested only to a provider
	// that runs without it.
	lists := ""
	if _, fromLists := e.api.(auth0client.Observer); !fromLists {
		lists = ", or observe from listings (drop --no-observe-from-lists)"
	}
	e.record.Event(e.configObj, event.Warning(reasonRateBudgetShort, errors.Errorf(
		"Auth0 tenant %s: delivery health of %d streams is overdue, the stalest by %s beyond its --delivery-poll of %s: %s cannot cover the reads configured. "+
			"Raise --auth0-rate-budget within the tenant's rate limit, lengthen --delivery-poll or --poll%s (docs/performance.md)",
		e.tenant, s.deferred, s.overdue.Round(time.Second), e.deliveryPoll, budget, lists)))
}

// sameHealth is true when a read found what status holds, the number of
// successful runs aside: it grows with every delivered event and moves as
// the window slides, so a healthy stream would write status at every read.
// It is refreshed with the facts that are stored: whether anything was
// delivered at all, failed runs, undelivered events and the last failure.
func sameHealth(stored, read *v1alpha1.DeliveriesObservation) bool {
	if (stored.Successful24h > 0) != (read.Successful24h > 0) || stored.Failed24h != read.Failed24h || stored.Undelivered != read.Undelivered {
		return false
	}
	a, b := stored.LastFailure, read.LastFailure
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func mustTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

// healthCondition says what a fresh read found.
func healthCondition(d *v1alpha1.DeliveriesObservation) xpv2.Condition {
	// No count of successful runs: it moves with every delivered event,
	// and the condition is stored.
	if d.LastFailure == nil {
		msg := "no undelivered events in the last 24 hours"
		if d.Failed24h > 0 {
			msg += fmt.Sprintf(" (%d failed runs); every failed delivery was redelivered since", d.Failed24h)
		}
		return deliveriesCondition(corev1.ConditionTrue, reasonDelivering, msg)
	}
	more := ""
	if d.Undelivered >= auth0client.MaxFailedDeliveries {
		more = " or more"
	}
	return deliveriesCondition(corev1.ConditionFalse, reasonUndelivered, fmt.Sprintf(
		"%d%s events of the last 24 hours were not delivered; the last attempt failed at %s for a %s event: %s. Fix the destination, then redeliver them with annotation auth0.openmcf.org/redeliver: failed#<anything new> on the composite",
		d.Undelivered, more, d.LastFailure.Time, d.LastFailure.EventType, d.LastFailure.Message))
}

func deliveriesCondition(s corev1.ConditionStatus, r xpv2.ConditionReason, msg string) xpv2.Condition {
	return xpv2.Condition{Type: ConditionDeliveriesHealthy, Status: s, Reason: r, Message: msg, LastTransitionTime: metav1.Now()}
}

func conditionOf(cr *v1alpha1.EventStream, t xpv2.ConditionType) (xpv2.Condition, bool) {
	for _, c := range cr.Status.Conditions {
		if c.Type == t {
			return c, true
		}
	}
	return xpv2.Condition{}, false
}

// noStreamDeliveries is DeliveriesHealthy while there is no stream.
func noStreamDeliveries(cr *v1alpha1.EventStream) {
	if _, ok := conditionOf(cr, ConditionDeliveriesHealthy); ok {
		cr.SetConditions(deliveriesCondition(corev1.ConditionUnknown, reasonNoStreamToRead, "there is no stream in Auth0 to read delivery health of"))
	}
}

// deliveryAction is an annotation asking for a delivery action.
type deliveryAction struct {
	annotation string
	reason     event.Reason
	// check says why value cannot be performed on s ("" when it can).
	check func(value string, s *management.EventStream) string
	// do performs it and says what Auth0 answered.
	do func(ctx context.Context, api auth0client.API, id, value string) (string, error)
}

var deliveryActions = []deliveryAction{ //nolint:gochecknoglobals // We treat this as a constant.
	{
		annotation: AnnotationSendTestEvent,
		reason:     reasonSendTestEvent,
		check: func(v string, s *management.EventStream) string {
			t, _, _ := strings.Cut(v, "#")
			if !eventtypes.Known(t) {
				return fmt.Sprintf("%q is not an Auth0 event type; the value is <event type>[#anything], e.g. user.created#2", t)
			}
			if !slices.Contains(observedSubscriptions(s), t) {
				return fmt.Sprintf("the stream is not subscribed to %s (it is to %s); Auth0 only sends test events of subscribed types", t, strings.Join(observedSubscriptions(s), ", "))
			}
			return ""
		},
		do: func(ctx context.Context, api auth0client.API, id, v string) (string, error) {
			t, _, _ := strings.Cut(v, "#")
			got, err := api.SendTestEvent(ctx, id, t)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("Auth0 accepted test event %s of type %s (delivery %s)", got.EventID, t, got.Status), nil
		},
	},
	{
		annotation: AnnotationRedeliver,
		reason:     reasonRedeliver,
		check: func(v string, _ *management.EventStream) string {
			if what, _, _ := strings.Cut(v, "#"); what != "failed" {
				return fmt.Sprintf("%q asks for no known redelivery; the value is failed[#anything], which redelivers every failed delivery", what)
			}
			return ""
		},
		do: func(ctx context.Context, api auth0client.API, id, _ string) (string, error) {
			if err := api.RedeliverFailed(ctx, id); err != nil {
				return "", err
			}
			return "Auth0 accepted the redelivery of every failed delivery", nil
		},
	},
}

// deliveryActions performs each action annotation's value at most once.
// The value is recorded in status.deliveryActions, and persisted, before
// Auth0 is called: a provider stopping during the call never repeats it
// (the outcome is then Unknown), which for a test event or a redelivery
// (events reaching the user's destination) is the safe side. Status, not an
// annotation, holds the record so the function, which writes the
// EventStream's annotations, cannot erase it.
func (e *external) deliveryActions(ctx context.Context, cr *v1alpha1.EventStream, s *management.EventStream) error {
	if d := cr.Status.AtProvider.Deliveries; d != nil && d.LastAction != nil && d.LastAction.Outcome == v1alpha1.ActionPending {
		// Reconciles of one resource do not overlap: a Pending action is one
		// a provider stopped during, before recording its outcome.
		d.LastAction.Outcome = v1alpha1.ActionUnknown
		d.LastAction.Message = "the provider stopped while asking Auth0; whether Auth0 received it is unknown, and it is not repeated: set a new value to try again"
	}
	for _, a := range deliveryActions {
		v := cr.GetAnnotations()[a.annotation]
		if v == "" || cr.Status.DeliveryActions[a.annotation] == v {
			continue
		}
		if err := e.performAction(ctx, cr, s, a, v); err != nil {
			return err
		}
	}
	return nil
}

func (e *external) performAction(ctx context.Context, cr *v1alpha1.EventStream, s *management.EventStream, a deliveryAction, v string) error {
	act := &v1alpha1.DeliveryAction{Annotation: a.annotation, Value: v, Time: e.now().UTC().Format(time.RFC3339)}
	var why string
	switch {
	case !mayUpdate(cr):
		why = fmt.Sprintf("the EventStream only observes its stream (spec.managementPolicies %v): the provider sends no test events and no redeliveries for it", cr.GetManagementPolicies())
	case !e.owned:
		why = fmt.Sprintf("the stream is an import this EventStream does not own (%s's spec.importPolicy is %s): the provider sends no test events and no redeliveries for it", e.config, e.importPolicy)
	case deref(s.Status) != v1alpha1.StreamStatusEnabled:
		why = fmt.Sprintf("the stream is %s in Auth0, so Auth0 delivers nothing: enable it (spec status enabled), then set a new value", deref(s.Status))
	default:
		why = a.check(v, s)
	}
	if why != "" {
		act.Outcome, act.Message = v1alpha1.ActionRefused, "not asked of Auth0: "+why
		e.recordAction(cr, act)
		e.record.Event(cr, event.Warning(a.reason, errors.Errorf("annotation %s=%s: %s", a.annotation, v, act.Message)))
		return nil
	}
	act.Outcome = v1alpha1.ActionPending
	e.recordAction(cr, act)
	if err := e.persistStatus(ctx, cr); err != nil {
		// Not recorded, so not performed: the next reconcile tries again.
		return errors.Wrapf(err, "cannot record annotation %s=%s before performing it", a.annotation, v)
	}
	msg, err := a.do(ctx, e.api, deref(s.ID), v)
	if err != nil {
		act.Outcome, act.Message = v1alpha1.ActionFailed, e.mask(auth0client.Explain(err).Error())
		e.record.Event(cr, event.Warning(a.reason, errors.Errorf("annotation %s=%s: %s", a.annotation, v, act.Message)))
	} else {
		act.Outcome, act.Message = v1alpha1.ActionAccepted, msg
		e.record.Event(cr, event.Normal(a.reason, fmt.Sprintf("annotation %s=%s: %s", a.annotation, v, msg)))
	}
	e.recordAction(cr, act)
	// Best effort: the reconciler writes status at the end of this
	// reconcile too; a lost outcome shows as Unknown, never as a repeat.
	_ = e.persistStatus(ctx, cr)
	return nil
}

func (e *external) recordAction(cr *v1alpha1.EventStream, act *v1alpha1.DeliveryAction) {
	if cr.Status.DeliveryActions == nil {
		cr.Status.DeliveryActions = map[string]string{}
	}
	cr.Status.DeliveryActions[act.Annotation] = act.Value
	if cr.Status.AtProvider.Deliveries == nil {
		cr.Status.AtProvider.Deliveries = &v1alpha1.DeliveriesObservation{}
	}
	a := *act
	cr.Status.AtProvider.Deliveries.LastAction = &a
}

// persistStatus writes the delivery record to the status subresource now,
// and keeps everything else this reconcile set in memory: the answer of
// the patch would replace it.
func (e *external) persistStatus(ctx context.Context, cr *v1alpha1.EventStream) error {
	want := cr.Status.DeepCopy()
	before := cr.DeepCopy()
	before.Status.DeliveryActions = nil
	before.Status.AtProvider.Deliveries = nil
	patch := client.MergeFrom(before)
	if err := e.kube.Status().Patch(ctx, cr, patch); err != nil {
		cr.Status = *want
		return err
	}
	cr.Status = *want
	return nil
}

// deliveryHooks is called by Observe for a stream that exists.
func (e *external) deliveryHooks(ctx context.Context, cr *v1alpha1.EventStream, s *management.EventStream) error {
	if meta.WasDeleted(cr) {
		return nil
	}
	return e.observeDeliveries(ctx, cr, s)
}
