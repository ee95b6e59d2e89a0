package controller_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/auth0sim"
	"github.com/xp-auth0/auth0-eventstream/internal/providertest"
)

const ns = "integration"

// timeout bounds every step at the providertest defaults (a 1s poll), and
// faultsTimeout convergence under injected 429s and 5xx, where every
// reconcile may fail several times in a row.
var (
	timeout       = providertest.Within(time.Second)
	faultsTimeout = 3 * providertest.BackoffCap
)

// TestIntegration runs the EventStream controller against a real API
// server and the Auth0 simulator over HTTPS. The scenarios share one
// environment and run in order; each uses its own resources.
func TestIntegration(t *testing.T) {
	env := providertest.Start(t, providertest.Options{})
	ctx := context.Background()
	env.Namespace(ctx, t, ns, providertest.ClientSecret)
	h := &harness{t: t, env: env, ctx: ctx}

	t.Run("CreateBecomesReady", h.createBecomesReady)
	t.Run("SpecChangeIsPatched", h.specChangeIsPatched)
	t.Run("SecretRotationIsPatched", h.secretRotationIsPatched)
	t.Run("OutOfBandEditIsCorrected", h.outOfBandEditIsCorrected)
	t.Run("OutOfBandDeleteIsRecreated", h.outOfBandDeleteIsRecreated)
	t.Run("EventBridgeRegionChangeReplaces", h.eventBridgeRegionChangeReplaces)
	t.Run("DeleteRemovesStream", h.deleteRemovesStream)
	t.Run("ObserveOnlyImport", h.observeOnlyImport)
	t.Run("RateLimitsAndServerErrorsConverge", h.faultsConverge)
	t.Run("LostCreateResponseMakesOneStream", h.lostCreate)
	t.Run("BadCredentialsAreReported", h.badCredentials)
	t.Run("RejectedStreamIsReported", h.rejected)
	t.Run("ExpiredTokenIsReplaced", h.expiredToken)
	t.Run("ProviderConfigUsage", h.providerConfigUsage)

	// One token per ProviderConfig per token lifetime: two for the
	// namespaced config (the simulator ended the first lifetime early), one
	// for the ClusterProviderConfig.
	if got := env.Sim.Server().Counters().TokensIssued; got != 3 {
		t.Errorf("tokens issued by the simulator = %d, want 3: one per ProviderConfig per token lifetime", got)
	}
}

// TestIntegrationObserveFromLists runs the lifecycle with the provider's
// default observation: one listing of the tenant per poll, a GET only for a
// stream written since the listing began or missing from it.
func TestIntegrationObserveFromLists(t *testing.T) {
	env := providertest.Start(t, providertest.Options{ObserveFromLists: true})
	ctx := context.Background()
	env.Namespace(ctx, t, ns, providertest.ClientSecret)
	h := &harness{t: t, env: env, ctx: ctx}

	t.Run("CreateBecomesReady", h.createBecomesReady)
	t.Run("SpecChangeIsPatched", h.specChangeIsPatched)
	t.Run("SecretRotationIsPatched", h.secretRotationIsPatched)
	t.Run("QuietStreamsAreReadByListings", h.quietStreamsAreReadByListings)
	t.Run("OutOfBandEditIsCorrected", h.outOfBandEditIsCorrected)
	t.Run("OutOfBandDeleteIsRecreated", h.outOfBandDeleteIsRecreated)
	t.Run("EventBridgeRegionChangeReplaces", h.eventBridgeRegionChangeReplaces)
	t.Run("DeleteRemovesStream", h.deleteRemovesStream)
	t.Run("ObserveOnlyImport", h.observeOnlyImport)
}

// quietStreamsAreReadByListings: once streams are Ready and nothing
// changes, the tenant is read by listings, about one per poll, and a
// stream's own GET is rare (issue 24: at most 0.1 per stream per poll).
func (h *harness) quietStreamsAreReadByListings(t *testing.T) {
	const n, polls = 20, 5
	for i := range n {
		h.create(t, eventBridge(fmt.Sprintf("quiet-%d", i), "us-east-1"))
	}
	ids := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("quiet-%d", i)
		ids[name] = meta.GetExternalName(h.ready(t, name))
	}
	// Reads right after Ready may still be the writes' own GETs.
	lists := h.calls(epList)
	providertest.Eventually(t, timeout, "a listing after every stream was Ready", func() string {
		if h.calls(epList) == lists {
			return "no listing yet"
		}
		return ""
	})
	start := h.sim().Counters()
	providertest.Eventually(t, time.Duration(polls)*timeout, fmt.Sprintf("%d polls' listings", polls), func() string {
		if got := h.calls(epList) - start.Total(epList); got < polls {
			return fmt.Sprintf("%d listings so far", got)
		}
		return ""
	})
	end := h.sim().Counters()
	listed := end.Total(epList) - start.Total(epList)
	gets := 0
	for _, id := range ids {
		gets += end.Streams[id][epGet] - start.Streams[id][epGet]
	}
	perStreamPerPoll := float64(gets) / float64(n*listed)
	t.Logf("%d streams, %d listings: %d GETs of a stream, %.3f per stream per poll", n, listed, gets, perStreamPerPoll)
	if perStreamPerPoll > 0.1 {
		t.Errorf("%.3f GETs per stream per poll (%d in %d listings of %d streams), want at most 0.1", perStreamPerPoll, gets, listed, n)
	}
	for name := range ids {
		if err := h.env.Kube.Delete(h.ctx, h.get(t, name)); err != nil {
			t.Fatal(err)
		}
	}
}

type harness struct {
	t   *testing.T
	env *providertest.Env
	ctx context.Context
	// other is a second tenant, when the test runs one.
	other *auth0sim.Running
}

func (h *harness) sim() *auth0sim.Server { return h.env.Sim.Server() }

func webhook(name, secret string) *v1alpha1.EventStream {
	return &v1alpha1.EventStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.EventStreamSpec{
			ManagedResourceSpec: xpv2.ManagedResourceSpec{ProviderConfigReference: &xpv2.ProviderConfigReference{Kind: "ProviderConfig", Name: "default"}},
			ForProvider: v1alpha1.EventStreamParameters{
				Name: name, Subscriptions: []string{"user.created", "user.updated"},
				Destination: v1alpha1.Destination{Type: "webhook", Webhook: &v1alpha1.WebhookDestination{
					Endpoint: "https://hooks.example.com/" + name,
					Authorization: v1alpha1.WebhookAuthorization{Method: "bearer", TokenSecretRef: &xpv2.LocalSecretKeySelector{
						LocalSecretReference: xpv2.LocalSecretReference{Name: secret}, Key: "token",
					}},
				}},
			},
		},
	}
}

func eventBridge(name, region string) *v1alpha1.EventStream {
	es := webhook(name, "")
	es.Spec.ForProvider.Destination = v1alpha1.Destination{Type: "eventbridge", EventBridge: &v1alpha1.EventBridgeDestination{AWSAccountID: "123456789012", AWSRegion: region}}
	return es
}

func (h *harness) secret(t *testing.T, name, token string) {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{v1alpha1.LabelWebhookSecret: "true"}},
		Data:       map[string][]byte{"token": []byte(token)},
	}
	if err := h.env.Kube.Create(h.ctx, s); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) create(t *testing.T, o client.Object) {
	t.Helper()
	if err := h.env.Kube.Create(h.ctx, o); err != nil {
		t.Fatalf("cannot create %s: %v", o.GetName(), err)
	}
}

func (h *harness) get(t *testing.T, name string) *v1alpha1.EventStream {
	t.Helper()
	es := &v1alpha1.EventStream{}
	if err := h.env.Kube.Get(h.ctx, client.ObjectKey{Namespace: ns, Name: name}, es); err != nil {
		t.Fatalf("cannot get EventStream %s: %v", name, err)
	}
	return es
}

// update applies fn to the latest version of the EventStream.
func (h *harness) update(t *testing.T, name string, fn func(*v1alpha1.EventStream)) {
	t.Helper()
	providertest.Eventually(t, timeout, "update "+name, func() string {
		es := h.get(t, name)
		fn(es)
		if err := h.env.Kube.Update(h.ctx, es); err != nil {
			return err.Error()
		}
		return ""
	})
}

// ready waits for the EventStream to be Ready and Synced and returns it.
func (h *harness) ready(t *testing.T, name string) *v1alpha1.EventStream {
	t.Helper()
	return h.readyWithin(t, name, timeout)
}

// readyWithin is ready with its own bound.
func (h *harness) readyWithin(t *testing.T, name string, within time.Duration) *v1alpha1.EventStream {
	t.Helper()
	var es *v1alpha1.EventStream
	providertest.Eventually(t, within, name+" Ready", func() string {
		es = h.get(t, name)
		if why := providertest.Ready(es); why != "" {
			return why
		}
		if es.Status.AtProvider.ID == "" || es.Status.AtProvider.ID != meta.GetExternalName(es) {
			return fmt.Sprintf("atProvider.id %q, external name %q", es.Status.AtProvider.ID, meta.GetExternalName(es))
		}
		return ""
	})
	return es
}

// streamsNamed are the simulator's streams with name.
func (h *harness) streamsNamed(name string) []auth0sim.Stream {
	var out []auth0sim.Stream
	for _, s := range h.sim().Streams() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func (h *harness) stream(t *testing.T, id string) auth0sim.Stream {
	t.Helper()
	s, ok := h.sim().Stream(id)
	if !ok {
		t.Fatalf("the simulator has no stream %s", id)
	}
	return s
}

func (h *harness) calls(endpoint string) int { return h.sim().Counters().Total(endpoint) }

// reads are the calls that observe streams: GETs of one stream and pages of
// the tenant's listing.
func (h *harness) reads() int {
	c := h.sim().Counters()
	return c.Total(epGet) + c.Total(epList)
}

const (
	epPost  = "POST /api/v2/event-streams"
	epList  = "GET /api/v2/event-streams"
	epPatch = "PATCH /api/v2/event-streams/{id}"
	epGet   = "GET /api/v2/event-streams/{id}"
)

func (h *harness) createBecomesReady(t *testing.T) {
	h.secret(t, "hook-a", "token-one")
	h.create(t, webhook("hook-a", "hook-a"))
	es := h.ready(t, "hook-a")

	at := es.Status.AtProvider
	if !strings.HasPrefix(at.ID, "est_") || at.Name != "hook-a" || at.Status != "enabled" || at.DestinationType != "webhook" ||
		at.CreatedAt == "" || at.UpdatedAt == "" || len(at.Subscriptions) != 2 {
		t.Errorf("status.atProvider = %+v, want every field filled", at)
	}
	if es.Status.AppliedSecretsHash == "" || strings.Contains(es.Status.AppliedSecretsHash, "token-one") {
		t.Errorf("status.appliedSecretsHash = %q, want a hash of the token", es.Status.AppliedSecretsHash)
	}
	s := h.stream(t, at.ID)
	if s.Destination.Webhook == nil || s.Destination.Webhook.Token != "token-one" || s.Destination.Webhook.Endpoint != "https://hooks.example.com/hook-a" {
		t.Errorf("stream in Auth0 = %+v, want the token and endpoint of the spec", s.Destination.Webhook)
	}
	if n := len(h.streamsNamed("hook-a")); n != 1 {
		t.Errorf("streams named hook-a = %d, want 1", n)
	}
	// Converged: later polls only read (a GET of the stream, or a listing
	// of the tenant).
	patches := h.calls(epPatch)
	reads := h.reads()
	providertest.Eventually(t, timeout, "two more polls", func() string {
		if got := h.reads(); got < reads+2 {
			return fmt.Sprintf("%d reads since", got-reads)
		}
		return ""
	})
	if got := h.calls(epPatch); got != patches {
		t.Errorf("PATCHes of a converged stream = %d, want 0", got-patches)
	}
}

func (h *harness) specChangeIsPatched(t *testing.T) {
	id := meta.GetExternalName(h.get(t, "hook-a"))
	patches := h.calls(epPatch)
	h.update(t, "hook-a", func(es *v1alpha1.EventStream) {
		es.Spec.ForProvider.Name = "hook-a-renamed"
		es.Spec.ForProvider.Subscriptions = []string{"user.deleted"}
	})
	providertest.Eventually(t, timeout, "rename reaches Auth0", func() string {
		s := h.stream(t, id)
		if s.Name != "hook-a-renamed" || len(s.Subscriptions) != 1 || s.Subscriptions[0] != "user.deleted" {
			return fmt.Sprintf("stream %s is %q %v", id, s.Name, s.Subscriptions)
		}
		return ""
	})
	providertest.Eventually(t, timeout, "status shows the rename", func() string {
		es := h.get(t, "hook-a")
		if es.Status.AtProvider.Name != "hook-a-renamed" || meta.GetExternalName(es) != id {
			return fmt.Sprintf("atProvider.name %q, id %q; want the renamed stream %s", es.Status.AtProvider.Name, meta.GetExternalName(es), id)
		}
		return providertest.Ready(es)
	})
	if got := h.calls(epPatch) - patches; got < 1 {
		t.Errorf("PATCHes = %d, want at least 1", got)
	}
	if h.stream(t, id).Destination.Webhook.Token != "token-one" {
		t.Errorf("the token changed although only name and subscriptions did")
	}
}

func (h *harness) secretRotationIsPatched(t *testing.T) {
	es := h.get(t, "hook-a")
	id, hash := meta.GetExternalName(es), es.Status.AppliedSecretsHash
	providertest.Eventually(t, timeout, "rotate the Secret", func() string {
		s := &corev1.Secret{}
		if err := h.env.Kube.Get(h.ctx, client.ObjectKey{Namespace: ns, Name: "hook-a"}, s); err != nil {
			return err.Error()
		}
		s.Data["token"] = []byte("token-two")
		if err := h.env.Kube.Update(h.ctx, s); err != nil {
			return err.Error()
		}
		return ""
	})
	providertest.Eventually(t, timeout, "rotated token reaches Auth0", func() string {
		if got := h.stream(t, id).Destination.Webhook.Token; got != "token-two" {
			return "Auth0 still has the old token"
		}
		return ""
	})
	providertest.Eventually(t, timeout, "new hash recorded", func() string {
		es := h.get(t, "hook-a")
		if es.Status.AppliedSecretsHash == hash || es.Status.AppliedSecretsHash == "" {
			return "status.appliedSecretsHash unchanged"
		}
		if strings.Contains(es.Status.AppliedSecretsHash, "token-two") {
			t.Fatal("status holds the token")
		}
		return providertest.Ready(es)
	})
}

func (h *harness) outOfBandEditIsCorrected(t *testing.T) {
	id := meta.GetExternalName(h.get(t, "hook-a"))
	if err := h.sim().ModifyStream(id, func(s *auth0sim.Stream) {
		s.Status = "disabled"
		s.Destination.Webhook.Endpoint = "https://attacker.example.com/"
	}); err != nil {
		t.Fatal(err)
	}
	providertest.Eventually(t, timeout, "drift corrected", func() string {
		s := h.stream(t, id)
		if s.Status != "enabled" || s.Destination.Webhook.Endpoint != "https://hooks.example.com/hook-a" {
			return fmt.Sprintf("stream is %s at %s", s.Status, s.Destination.Webhook.Endpoint)
		}
		return ""
	})
	if got := h.stream(t, id).Destination.Webhook.Token; got != "token-two" {
		t.Errorf("token after correction = %q, want the Secret's", got)
	}
}

func (h *harness) outOfBandDeleteIsRecreated(t *testing.T) {
	old := meta.GetExternalName(h.get(t, "hook-a"))
	if !h.sim().DeleteStream(old) {
		t.Fatalf("stream %s did not exist", old)
	}
	providertest.Eventually(t, timeout, "stream recreated", func() string {
		es := h.get(t, "hook-a")
		id := meta.GetExternalName(es)
		if id == old || id == "" {
			return "external name still " + id
		}
		if s, ok := h.sim().Stream(id); !ok || s.Destination.Webhook.Token != "token-two" {
			return "new stream missing or without the token"
		}
		return providertest.Ready(es)
	})
	if n := len(h.streamsNamed("hook-a-renamed")); n != 1 {
		t.Errorf("streams named hook-a-renamed = %d, want 1", n)
	}
}

func (h *harness) eventBridgeRegionChangeReplaces(t *testing.T) {
	h.create(t, eventBridge("bridge", "us-east-1"))
	es := h.ready(t, "bridge")
	old := meta.GetExternalName(es)
	if !strings.HasPrefix(es.Status.AtProvider.AWSPartnerEventSource, "aws.partner/auth0.com/") {
		t.Errorf("atProvider.awsPartnerEventSource = %q", es.Status.AtProvider.AWSPartnerEventSource)
	}
	h.update(t, "bridge", func(es *v1alpha1.EventStream) { es.Spec.ForProvider.Destination.EventBridge.AWSRegion = "eu-west-1" })
	providertest.Eventually(t, timeout, "stream replaced", func() string {
		es := h.get(t, "bridge")
		id := meta.GetExternalName(es)
		if id == old {
			return "external name unchanged"
		}
		s, ok := h.sim().Stream(id)
		if !ok || s.Destination.EventBridge.Region != "eu-west-1" {
			return "new stream missing or in the old region"
		}
		if es.Status.AtProvider.ID != id {
			return "atProvider.id not updated"
		}
		return providertest.Ready(es)
	})
	if _, ok := h.sim().Stream(old); ok {
		t.Errorf("replaced stream %s still exists", old)
	}
	if n := len(h.streamsNamed("bridge")); n != 1 {
		t.Errorf("streams named bridge = %d, want 1", n)
	}
	providertest.Eventually(t, timeout, "replacement event", func() string {
		l := &corev1.EventList{}
		if err := h.env.Kube.List(h.ctx, l, client.InNamespace(ns)); err != nil {
			return err.Error()
		}
		for _, e := range l.Items {
			if e.InvolvedObject.Name == "bridge" && e.Reason == "ReplaceEventStream" && strings.Contains(e.Message, old) {
				return ""
			}
		}
		return "no ReplaceEventStream event naming " + old
	})
}

func (h *harness) deleteRemovesStream(t *testing.T) {
	id := meta.GetExternalName(h.get(t, "bridge"))
	if err := h.env.Kube.Delete(h.ctx, h.get(t, "bridge")); err != nil {
		t.Fatal(err)
	}
	providertest.Eventually(t, timeout, "EventStream gone", func() string {
		err := h.env.Kube.Get(h.ctx, client.ObjectKey{Namespace: ns, Name: "bridge"}, &v1alpha1.EventStream{})
		if !kerrors.IsNotFound(err) {
			return fmt.Sprintf("still there (%v)", err)
		}
		return ""
	})
	if _, ok := h.sim().Stream(id); ok {
		t.Errorf("stream %s still exists in Auth0", id)
	}
}

func (h *harness) observeOnlyImport(t *testing.T) {
	s, err := h.sim().CreateStream([]byte(`{"name":"imported","subscriptions":[{"event_type":"user.created"}],
		"destination":{"type":"action","configuration":{"action_id":"act_imported"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	es := webhook("imported", "nope")
	es.Spec.ForProvider.Destination = v1alpha1.Destination{Type: "action", Action: &v1alpha1.ActionDestination{ActionID: "act_other"}}
	es.Spec.ManagementPolicies = xpv2.ManagementPolicies{xpv2.ManagementActionObserve}
	meta.SetExternalName(es, s.ID)
	h.create(t, es)
	got := h.ready(t, "imported")
	if got.Status.AtProvider.Name != "imported" || got.Status.AtProvider.DestinationType != "action" || got.Status.AtProvider.CreatedAt == "" {
		t.Errorf("atProvider = %+v, want the imported stream", got.Status.AtProvider)
	}
	if err := h.env.Kube.Delete(h.ctx, got); err != nil {
		t.Fatal(err)
	}
	providertest.Eventually(t, timeout, "EventStream gone", func() string {
		err := h.env.Kube.Get(h.ctx, client.ObjectKey{Namespace: ns, Name: "imported"}, &v1alpha1.EventStream{})
		if !kerrors.IsNotFound(err) {
			return fmt.Sprintf("still there (%v)", err)
		}
		return ""
	})
	after := h.stream(t, s.ID)
	if !after.UpdatedAt.Equal(s.UpdatedAt) || after.Destination.Action.ActionID != "act_imported" {
		t.Errorf("an Observe-only import changed or deleted the stream: %+v", after)
	}
}

func (h *harness) faultsConverge(t *testing.T) {
	before := h.sim().Counters()
	h.sim().SetRateLimit(4, 2)
	h.sim().Script(auth0sim.ScriptedFaults{Errors: 4})
	defer h.sim().SetRateLimit(0, 0)

	h.secret(t, "hook-faults", "token-faults")
	for i := range 3 {
		name := fmt.Sprintf("hook-faults-%d", i)
		h.create(t, webhook(name, "hook-faults"))
	}
	for i := range 3 {
		name := fmt.Sprintf("hook-faults-%d", i)
		// Every failed attempt doubles the resource's requeue delay
		// (crossplane-runtime's per-item backoff, capped at 60s); on a
		// loaded machine six failures (32s before the next try) happened,
		// so the bound allows that cap twice over.
		h.readyWithin(t, name, faultsTimeout)
		if n := len(h.streamsNamed(name)); n != 1 {
			t.Errorf("streams named %s = %d, want 1", name, n)
		}
	}
	after := h.sim().Counters()
	var limited, failed int
	for ep, outcomes := range after.Calls {
		limited += outcomes["429"] - before.Calls[ep]["429"]
		failed += outcomes["500"] + outcomes["503"] - before.Calls[ep]["500"] - before.Calls[ep]["503"]
	}
	if limited == 0 || failed == 0 {
		t.Errorf("injected 429s = %d, 5xx = %d; want both exercised", limited, failed)
	}
}

func (h *harness) lostCreate(t *testing.T) {
	posts := h.calls(epPost)
	h.sim().Script(auth0sim.ScriptedFaults{LostResponses: 1})
	h.secret(t, "hook-lost", "token-lost")
	h.create(t, webhook("hook-lost", "hook-lost"))
	es := h.ready(t, "hook-lost")
	streams := h.streamsNamed("hook-lost")
	if len(streams) != 1 {
		t.Fatalf("streams named hook-lost = %d, want exactly 1", len(streams))
	}
	if streams[0].ID != meta.GetExternalName(es) {
		t.Errorf("external name %s, want the stream the lost create made, %s", meta.GetExternalName(es), streams[0].ID)
	}
	if got := h.calls(epPost) - posts; got != 1 {
		t.Errorf("POSTs = %d, want 1 (the lost one, then adoption)", got)
	}
	l := &corev1.EventList{}
	if err := h.env.Kube.List(h.ctx, l, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	adopted := false
	for _, e := range l.Items {
		adopted = adopted || (e.InvolvedObject.Name == "hook-lost" && e.Reason == "AdoptEventStream")
	}
	if !adopted {
		t.Errorf("no AdoptEventStream event")
	}
}

func (h *harness) badCredentials(t *testing.T) {
	const bad = "wrong-client-secret"
	h.env.Namespace(h.ctx, t, "bad-creds", bad)
	es := webhook("bad", "x")
	es.Namespace = "bad-creds"
	es.Spec.ForProvider.Destination = v1alpha1.Destination{Type: "action", Action: &v1alpha1.ActionDestination{ActionID: "act_1"}}
	h.create(t, es)
	providertest.Eventually(t, timeout, "credentials error reported", func() string {
		got := &v1alpha1.EventStream{}
		if err := h.env.Kube.Get(h.ctx, client.ObjectKey{Namespace: "bad-creds", Name: "bad"}, got); err != nil {
			return err.Error()
		}
		c := got.GetCondition(xpv2.TypeSynced)
		if strings.Contains(c.Message, bad) {
			t.Fatalf("Synced condition leaks the client secret: %s", c.Message)
		}
		if c.Status != corev1.ConditionFalse || !strings.Contains(c.Message, "refused the provider's client credentials") {
			return fmt.Sprintf("Synced=%s: %s", c.Status, c.Message)
		}
		return ""
	})
}

func (h *harness) expiredToken(t *testing.T) {
	if got := h.sim().Counters().TokensIssued; got != 1 {
		t.Fatalf("tokens issued before = %d, want 1 for one ProviderConfig and every reconcile so far", got)
	}
	refused := h.sim().Counters().Get(epGet, "401")
	h.sim().ExpireTokens()
	providertest.Eventually(t, timeout, "a new token is fetched", func() string {
		c := h.sim().Counters()
		if c.TokensIssued != 2 || c.Get(epGet, "401") == refused {
			return fmt.Sprintf("%d tokens issued, %d GETs refused", c.TokensIssued, c.Get(epGet, "401")-refused)
		}
		return ""
	})
	ok := h.sim().Counters().Get(epGet, "200")
	providertest.Eventually(t, timeout, "polls succeed again", func() string {
		if h.sim().Counters().Get(epGet, "200") == ok {
			return "no successful GET since"
		}
		return providertest.Ready(h.get(t, "hook-lost"))
	})
}

// providerConfigUsage checks usage tracking of both config kinds, and that a
// ClusterProviderConfig reads its Secret from the namespace it names.
func (h *harness) providerConfigUsage(t *testing.T) {
	pc := &v1alpha1.ProviderConfig{}
	providertest.Eventually(t, timeout, "ProviderConfig counts its users", func() string {
		if err := h.env.Kube.Get(h.ctx, client.ObjectKey{Namespace: ns, Name: "default"}, pc); err != nil {
			return err.Error()
		}
		if pc.Status.Users < 3 {
			return fmt.Sprintf("status.users = %d", pc.Status.Users)
		}
		return ""
	})
	if err := h.env.Kube.Create(h.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "crossplane-system"}}); err != nil {
		t.Fatal(err)
	}
	h.create(t, h.env.CredentialsSecret("crossplane-system", "auth0", providertest.ClientSecret))
	h.create(t, &v1alpha1.ClusterProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "shared"},
		Spec: v1alpha1.ClusterProviderConfigSpec{Credentials: v1alpha1.ClusterCredentials{
			Source: v1alpha1.CredentialsSourceSecret, SecretRef: &xpv2.SecretReference{Namespace: "crossplane-system", Name: "auth0"},
		}},
	})
	es := eventBridge("cluster-config", "ap-southeast-2")
	es.Spec.ProviderConfigReference = &xpv2.ProviderConfigReference{Kind: "ClusterProviderConfig", Name: "shared"}
	h.create(t, es)
	h.ready(t, "cluster-config")
	providertest.Eventually(t, timeout, "ClusterProviderConfig counts its user", func() string {
		cpc := &v1alpha1.ClusterProviderConfig{}
		if err := h.env.Kube.Get(h.ctx, client.ObjectKey{Name: "shared"}, cpc); err != nil {
			return err.Error()
		}
		if cpc.Status.Users != 1 {
			return fmt.Sprintf("status.users = %d", cpc.Status.Users)
		}
		return ""
	})
	u := &v1alpha1.ProviderConfigUsageList{}
	if err := h.env.Kube.List(h.ctx, u, client.InNamespace(ns), client.MatchingLabels{xpv2.LabelKeyProviderKind: "ClusterProviderConfig"}); err != nil {
		t.Fatal(err)
	}
	if len(u.Items) != 1 || u.Items[0].ResourceReference.Name != "cluster-config" {
		t.Errorf("ClusterProviderConfig usages = %+v, want one for cluster-config", u.Items)
	}
}

func (h *harness) rejected(t *testing.T) {
	lists, posts := h.calls("GET /api/v2/event-streams"), h.calls(epPost)
	es := eventBridge("rejected", "us-east-1")
	es.Spec.ForProvider.Subscriptions = []string{"authentication.success"}
	h.create(t, es)
	providertest.Eventually(t, timeout, "rejection reported", func() string {
		c := h.get(t, "rejected").GetCondition(xpv2.TypeSynced)
		if c.Status != corev1.ConditionFalse || !strings.Contains(c.Message, "Auth0 rejected the event stream: 400 Bad Request") || !strings.Contains(c.Message, "authentication.success") {
			return fmt.Sprintf("Synced=%s: %s", c.Status, c.Message)
		}
		if h.calls(epPost)-posts < 2 {
			return "waiting for a second attempt"
		}
		return ""
	})
	if n := len(h.streamsNamed("rejected")); n != 0 {
		t.Errorf("streams named rejected = %d, want 0", n)
	}
	if got := h.calls("GET /api/v2/event-streams") - lists; got != 0 {
		t.Errorf("lists after a refused create = %d, want 0: a 4xx proves no stream was made", got)
	}
	if err := h.env.Kube.Delete(h.ctx, h.get(t, "rejected")); err != nil {
		t.Fatal(err)
	}
}
