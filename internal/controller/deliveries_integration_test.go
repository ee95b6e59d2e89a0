package controller_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/auth0sim"
	"github.com/xp-auth0/auth0-eventstream/internal/controller/eventstream"
	"github.com/xp-auth0/auth0-eventstream/internal/providertest"
)

// syncBuffer collects log lines written from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// personalData is what the simulator's test events carry about their user
// (recorded from Auth0): none of it may leave Auth0's answers.
var personalData = []string{"john.doe@gmail.com", "507f1f77bcf86cd799439020", "+15555555555", "John Doe", "skydiving", "10.0.0.1"}

const (
	epStats     = "GET /api/v2/event-streams/{id}/stats"
	epFailed    = "GET /api/v2/event-streams/{id}/deliveries"
	epTest      = "POST /api/v2/event-streams/{id}/test"
	epRedeliver = "POST /api/v2/event-streams/{id}/redeliver"
)

// TestDeliveriesIntegration runs delivery health and the annotation
// actions through the real reconciler, go-auth0 and the simulator: a test
// event sent by annotation is delivered once, failing deliveries turn
// DeliveriesHealthy False with Auth0's message, a redelivery by annotation
// turns it True again; delivery health costs at most two calls per
// delivery poll; and no user data of the delivered events reaches status,
// events or logs.
func TestDeliveriesIntegration(t *testing.T) {
	const deliveryPoll = 2 * time.Second
	logs := &syncBuffer{}
	env := providertest.Start(t, providertest.Options{
		DeliveryPoll: deliveryPoll, LogTo: logs, Debug: true,
		Sim: auth0sim.Options{DeliveryBackoff: 20 * time.Millisecond},
	})
	ctx := context.Background()
	env.Namespace(ctx, t, ns, providertest.ClientSecret)
	h := &harness{t: t, env: env, ctx: ctx}

	h.secret(t, "deliv", "deliv-token")
	es := webhook("deliv", "deliv")
	es.SetAnnotations(map[string]string{eventstream.AnnotationSendTestEvent: "user.created#1"})
	h.create(t, es)
	id := h.ready(t, "deliv").Status.AtProvider.ID

	// The test event is accepted, delivered, and counted.
	got := h.deliveries(t, "test event delivered", func(d *v1alpha1.DeliveriesObservation, c string) string {
		if d.LastAction == nil || d.LastAction.Outcome != v1alpha1.ActionAccepted || d.Successful24h < 1 || c != "True" {
			return fmt.Sprintf("lastAction %+v, successful %d, DeliveriesHealthy %s", d.LastAction, d.Successful24h, c)
		}
		return ""
	})
	if !strings.Contains(got.LastAction.Message, "Auth0 accepted test event evt_") {
		t.Errorf("lastAction.message = %q, want Auth0's answer", got.LastAction.Message)
	}

	// The destination fails: a second test event fails, and the condition
	// says so with Auth0's message, within a delivery poll or two.
	if err := h.sim().SetDeliveryOutcome(id, auth0sim.DeliveryOutcome{Fail: true, ErrorMessage: "connect: connection refused"}); err != nil {
		t.Fatal(err)
	}
	h.annotate(t, "deliv", eventstream.AnnotationSendTestEvent, "user.created#2")
	got = h.deliveries(t, "failure reported", func(d *v1alpha1.DeliveriesObservation, c string) string {
		if c != "False" || d.LastFailure == nil {
			return fmt.Sprintf("DeliveriesHealthy %s, lastFailure %+v", c, d.LastFailure)
		}
		return ""
	})
	if f := got.LastFailure; f.EventType != "user.created" || f.Message != "connect: connection refused" || got.Undelivered != 1 {
		t.Errorf("deliveries = %+v, lastFailure %+v, want one undelivered user.created with Auth0's message", got, f)
	}
	if c := h.condition(t, "deliv"); !strings.Contains(c.Message, "connect: connection refused") {
		t.Errorf("DeliveriesHealthy message %q, want Auth0's error", c.Message)
	}

	// Fixed, then redelivered by annotation: healthy again.
	if err := h.sim().SetDeliveryOutcome(id, auth0sim.DeliveryOutcome{}); err != nil {
		t.Fatal(err)
	}
	h.annotate(t, "deliv", eventstream.AnnotationRedeliver, "failed#1")
	h.deliveries(t, "redelivered", func(d *v1alpha1.DeliveriesObservation, c string) string {
		if c != "True" || d.Undelivered != 0 || d.Successful24h < 2 || d.LastAction == nil || d.LastAction.Value != "failed#1" {
			return fmt.Sprintf("DeliveriesHealthy %s, deliveries %+v", c, d)
		}
		return ""
	})

	// Each value was performed once, however many reconciles since.
	start, stats, lists, gets := time.Now(), h.calls(epStats), h.calls(epFailed), h.calls(epGet)
	for i := range 5 {
		h.update(t, "deliv", func(es *v1alpha1.EventStream) { meta.AddLabels(es, map[string]string{"poke": fmt.Sprint(i)}) })
	}
	providertest.Eventually(t, timeout, "five more reconciles and two more delivery reads", func() string {
		if g, s := h.calls(epGet)-gets, h.calls(epStats)-stats; g < 5 || s < 2 {
			return fmt.Sprintf("%d GETs, %d stats reads since", g, s)
		}
		return ""
	})
	if n := h.calls(epTest); n != 2 {
		t.Errorf("test events sent = %d, want 2 (user.created#1 and #2, once each)", n)
	}
	if n := h.calls(epRedeliver); n != 1 {
		t.Errorf("redeliveries = %d, want 1", n)
	}
	// Delivery health costs at most one stats and one list per delivery
	// poll (plus the read in progress at the start).
	elapsed := time.Since(start)
	allowed := int(elapsed/deliveryPoll) + 1
	if n := h.calls(epStats) - stats; n > allowed {
		t.Errorf("%d stats calls in %s at --delivery-poll %s, want at most %d", n, elapsed, deliveryPoll, allowed)
	}
	if n := h.calls(epFailed) - lists; n > allowed {
		t.Errorf("%d failed-delivery lists in %s, want at most %d", n, elapsed, allowed)
	}

	// No user data of the delivered events anywhere.
	raw, err := json.Marshal(h.get(t, "deliv"))
	if err != nil {
		t.Fatal(err)
	}
	evs := &corev1.EventList{}
	if err := env.Kube.List(ctx, evs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	evRaw, _ := json.Marshal(evs)
	for _, p := range personalData {
		for what, text := range map[string]string{"EventStream": string(raw), "events": string(evRaw), "provider logs": logs.String()} {
			if strings.Contains(text, p) {
				t.Errorf("%s hold %q from a delivered event", what, p)
			}
		}
	}
	if !strings.Contains(string(evRaw), "SendTestEvent") || !strings.Contains(string(evRaw), "RedeliverFailed") {
		t.Errorf("events %s, want SendTestEvent and RedeliverFailed", evRaw)
	}
}

func (h *harness) annotate(t *testing.T, name, k, v string) {
	t.Helper()
	h.update(t, name, func(es *v1alpha1.EventStream) { meta.AddAnnotations(es, map[string]string{k: v}) })
}

func (h *harness) condition(t *testing.T, name string) struct{ Status, Message string } {
	t.Helper()
	c := h.get(t, name).GetCondition(eventstream.ConditionDeliveriesHealthy)
	return struct{ Status, Message string }{string(c.Status), c.Message}
}

// deliveries waits until cond holds for the EventStream deliv's
// status.atProvider.deliveries and DeliveriesHealthy status.
func (h *harness) deliveries(t *testing.T, what string, cond func(*v1alpha1.DeliveriesObservation, string) string) *v1alpha1.DeliveriesObservation {
	t.Helper()
	var d *v1alpha1.DeliveriesObservation
	providertest.Eventually(t, timeout, what, func() string {
		es := h.get(t, "deliv")
		d = es.Status.AtProvider.Deliveries
		if d == nil {
			return "no status.atProvider.deliveries"
		}
		return cond(d, string(es.GetCondition(eventstream.ConditionDeliveriesHealthy).Status))
	})
	return d
}
