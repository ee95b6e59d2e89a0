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

// A second application of the simulator's tenant, for credential rotation.
const (
	rotatedClientID     = "provider-test-rotated"
	rotatedClientSecret = "provider-test-rotated-secret"
)

// TestSafetyIntegration drives the guards around destructive steps through
// the real reconciler, API server and simulator: replacement, adoption,
// ownership and tenant pinning. It has its own environment so its token
// and call counts do not mix with TestIntegration's.
func TestSafetyIntegration(t *testing.T) {
	// A second simulator stands in for another tenant; the provider may
	// call it (--auth0-domains), as it may call the first.
	other, err := auth0sim.Start(auth0sim.Options{Clients: map[string]string{"tenant-b": "tenant-b-secret"}, Domain: "tenant-b"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	env := providertest.Start(t, providertest.Options{
		Sim:          auth0sim.Options{Clients: map[string]string{rotatedClientID: rotatedClientSecret}},
		Auth0Domains: []string{other.Domain()},
	})
	ctx := context.Background()
	env.Namespace(ctx, t, ns, providertest.ClientSecret)
	h := &harness{t: t, env: env, ctx: ctx, other: other}

	t.Run("ReplacementNeedsDeletePolicy", h.replacementNeedsDeletePolicy)
	t.Run("RefusedReplacementKeepsOldStream", h.refusedReplacementKeepsOldStream)
	t.Run("SecondClaimantIsRefused", h.secondClaimantIsRefused)
	t.Run("AdoptionIgnoresLookAlikes", h.adoptionIgnoresLookAlikes)
	t.Run("AdoptionFinishesUnderRateLimits", h.adoptionFinishesUnderRateLimits)
	t.Run("CreateThatSentNothingDoesNotList", h.createThatSentNothingDoesNotList)
	t.Run("TenantPinning", h.tenantPinning)
	t.Run("ImportsAreObservedOnly", h.importsAreObservedOnly)
	t.Run("ForgedRecordsDeleteNothing", h.forgedRecordsDeleteNothing)
	t.Run("UnofferedSecretIsNotSent", h.unofferedSecretIsNotSent)
}

// synced waits for the resource's Synced condition to be False with a
// message containing every part, and returns the message.
func (h *harness) syncedFalse(t *testing.T, name string, parts ...string) string {
	t.Helper()
	var msg string
	providertest.Eventually(t, timeout, name+" Synced=False", func() string {
		c := h.get(t, name).GetCondition(xpv2.TypeSynced)
		if c.Status != corev1.ConditionFalse {
			return fmt.Sprintf("Synced=%s: %s", c.Status, c.Message)
		}
		for _, p := range parts {
			if !strings.Contains(c.Message, p) {
				return fmt.Sprintf("Synced=False without %q: %s", p, c.Message)
			}
		}
		msg = c.Message
		return ""
	})
	return msg
}

func (h *harness) deleteAndWait(t *testing.T, name string) {
	t.Helper()
	if err := h.env.Kube.Delete(h.ctx, h.get(t, name)); err != nil {
		t.Fatal(err)
	}
	providertest.Eventually(t, timeout, name+" gone", func() string {
		err := h.env.Kube.Get(h.ctx, client.ObjectKey{Namespace: ns, Name: name}, &v1alpha1.EventStream{})
		if !kerrors.IsNotFound(err) {
			return fmt.Sprintf("still there (%v)", err)
		}
		return ""
	})
}

func (h *harness) replacementNeedsDeletePolicy(t *testing.T) {
	es := eventBridge("no-delete", "us-east-1")
	es.Spec.ManagementPolicies = xpv2.ManagementPolicies{xpv2.ManagementActionObserve, xpv2.ManagementActionCreate, xpv2.ManagementActionUpdate, xpv2.ManagementActionLateInitialize}
	h.create(t, es)
	id := meta.GetExternalName(h.ready(t, "no-delete"))
	before := h.stream(t, id)
	h.update(t, "no-delete", func(es *v1alpha1.EventStream) { es.Spec.ForProvider.Destination.EventBridge.AWSRegion = "eu-west-1" })
	h.syncedFalse(t, "no-delete", "needs a replacement", "do not allow Delete", "nothing was changed")
	after := h.stream(t, id)
	if after.Destination.EventBridge.Region != "us-east-1" || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("stream %s changed: %+v", id, after.Destination.EventBridge)
	}
	if n := len(h.streamsNamed("no-delete")); n != 1 {
		t.Errorf("streams named no-delete = %d, want 1", n)
	}
	if got := h.get(t, "no-delete").GetCondition(xpv2.TypeReady).Status; got != corev1.ConditionTrue {
		t.Errorf("Ready = %s, want True: the stream still works", got)
	}
	// A typo in the region is refused by the API server, before anything.
	err := h.env.Kube.Patch(h.ctx, h.get(t, "no-delete"), client.RawPatch("application/merge-patch+json",
		[]byte(`{"spec":{"forProvider":{"destination":{"eventbridge":{"awsRegion":"eu-west1"}}}}}`)))
	if err == nil || !strings.Contains(err.Error(), "spec.forProvider.destination.eventbridge.awsRegion") {
		t.Errorf("region typo: error = %v, want a refusal naming the field", err)
	}
	h.update(t, "no-delete", func(es *v1alpha1.EventStream) { es.Spec.ManagementPolicies = nil })
	providertest.Eventually(t, timeout, "replaced once Delete is allowed", func() string {
		es := h.get(t, "no-delete")
		if meta.GetExternalName(es) == id {
			return "not replaced yet"
		}
		if es.GetCondition("Replaced").Status != corev1.ConditionTrue {
			return "no Replaced condition"
		}
		return providertest.Ready(es)
	})
	if _, ok := h.sim().Stream(id); ok {
		t.Errorf("replaced stream %s still exists", id)
	}
	h.deleteAndWait(t, "no-delete")
}

func (h *harness) refusedReplacementKeepsOldStream(t *testing.T) {
	h.create(t, eventBridge("refused-replace", "us-east-1"))
	id := meta.GetExternalName(h.ready(t, "refused-replace"))
	lists := h.calls(epList)
	h.update(t, "refused-replace", func(es *v1alpha1.EventStream) {
		es.Spec.ForProvider.Destination.EventBridge.AWSRegion = "eu-west-1"
		es.Spec.ForProvider.Subscriptions = []string{"authentication.success"}
	})
	h.syncedFalse(t, "refused-replace", "cannot replace event stream "+id, "unchanged and still delivering", "authentication.success")
	if s := h.stream(t, id); s.Destination.EventBridge.Region != "us-east-1" {
		t.Errorf("old stream changed: %+v", s.Destination.EventBridge)
	}
	if n := len(h.streamsNamed("refused-replace")); n != 1 {
		t.Errorf("streams named refused-replace = %d, want 1", n)
	}
	if got := h.calls(epList) - lists; got != 0 {
		t.Errorf("lists = %d, want 0: Auth0 refused the create, there is nothing to adopt", got)
	}
	h.deleteAndWait(t, "refused-replace")
	if _, ok := h.sim().Stream(id); ok {
		t.Errorf("stream %s still exists after its EventStream was deleted", id)
	}
}

func (h *harness) secondClaimantIsRefused(t *testing.T) {
	h.secret(t, "claim", "claim-token")
	h.create(t, webhook("claim-first", "claim"))
	id := meta.GetExternalName(h.ready(t, "claim-first"))
	before := h.stream(t, id)

	second := webhook("claim-second", "claim")
	second.Spec.ForProvider.Destination.Webhook.Endpoint = "https://elsewhere.example.com/"
	meta.SetExternalName(second, id)
	h.create(t, second)
	h.syncedFalse(t, "claim-second", "event stream "+id+" is already managed by EventStream "+ns+"/claim-first")
	h.deleteAndWait(t, "claim-second")
	after := h.stream(t, id)
	if after.Destination.Webhook.Endpoint != before.Destination.Webhook.Endpoint || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("the second claimant changed the stream: endpoint %s", after.Destination.Webhook.Endpoint)
	}
	h.ready(t, "claim-first")
	h.deleteAndWait(t, "claim-first")
}

func (h *harness) adoptionIgnoresLookAlikes(t *testing.T) {
	h.secret(t, "adopt", "adopt-token")
	body := func(endpoint string) []byte {
		return fmt.Appendf(nil, `{"name":"adopt","subscriptions":[{"event_type":"user.created"},{"event_type":"user.updated"}],
			"destination":{"type":"webhook","configuration":{"webhook_endpoint":%q,"webhook_authorization":{"method":"bearer","token":"x"}}}}`, endpoint)
	}
	// Exactly like the stream to create, but made an hour ago; and made now
	// but for another endpoint (say, another namespace's stream of the same
	// name). Neither may be adopted, nor make the search ambiguous.
	old, err := h.sim().CreateStream(body("https://hooks.example.com/adopt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.sim().ModifyStream(old.ID, func(s *auth0sim.Stream) { s.CreatedAt = s.CreatedAt.Add(-time.Hour) }); err != nil {
		t.Fatal(err)
	}
	elsewhere, err := h.sim().CreateStream(body("https://other-team.example.com/adopt"))
	if err != nil {
		t.Fatal(err)
	}
	posts := h.calls(epPost)
	h.sim().Script(auth0sim.ScriptedFaults{LostResponses: 1})
	h.create(t, webhook("adopt", "adopt"))
	es := h.ready(t, "adopt")
	id := meta.GetExternalName(es)
	if id == old.ID || id == elsewhere.ID {
		t.Fatalf("adopted look-alike %s", id)
	}
	if n := len(h.streamsNamed("adopt")); n != 3 {
		t.Errorf("streams named adopt = %d, want the two look-alikes and the one made", n)
	}
	if got := h.calls(epPost) - posts; got != 1 {
		t.Errorf("POSTs = %d, want 1: the lost create, then adoption", got)
	}
	for _, s := range []auth0sim.Stream{old, elsewhere} {
		if got := h.stream(t, s.ID); got.Destination.Webhook.Token != "x" {
			t.Errorf("look-alike %s was changed", s.ID)
		}
	}
	h.deleteAndWait(t, "adopt")
	if _, ok := h.sim().Stream(id); ok {
		t.Errorf("stream %s still exists", id)
	}
	for _, s := range []auth0sim.Stream{old, elsewhere} {
		h.sim().DeleteStream(s.ID)
	}
}

func (h *harness) adoptionFinishesUnderRateLimits(t *testing.T) {
	// Three pages of other streams to list through.
	for i := range 250 {
		if _, err := h.sim().CreateStream(fmt.Appendf(nil, `{"name":"filler-%d","subscriptions":[{"event_type":"user.created"}],"destination":{"type":"action","configuration":{"action_id":"act_%d"}}}`, i, i)); err != nil {
			t.Fatal(err)
		}
	}
	before := h.sim().Counters()
	// One request a second with a burst of two: the lost create takes one,
	// the listing runs into 429s from its second page on.
	h.sim().SetRateLimit(1, 2)
	defer h.sim().SetRateLimit(0, 0)
	h.sim().Script(auth0sim.ScriptedFaults{LostResponses: 1})
	es := eventBridge("adopt-limited", "us-west-2")
	h.create(t, es)
	got := h.ready(t, "adopt-limited")
	after := h.sim().Counters()
	if n := after.Get(epList, "429") - before.Get(epList, "429"); n == 0 {
		t.Errorf("no 429 answered a list: the test did not exercise rate limits")
	}
	if n := after.Get(epList, "200") - before.Get(epList, "200"); n < 3 {
		t.Errorf("%d pages listed, want at least 3", n)
	}
	if s := h.streamsNamed("adopt-limited"); len(s) != 1 || s[0].ID != meta.GetExternalName(got) {
		t.Errorf("streams named adopt-limited = %+v, want exactly the adopted one", s)
	}
	h.sim().SetRateLimit(0, 0)
	h.deleteAndWait(t, "adopt-limited")
	for _, s := range h.sim().Streams() {
		if strings.HasPrefix(s.Name, "filler-") {
			h.sim().DeleteStream(s.ID)
		}
	}
}

func (h *harness) createThatSentNothingDoesNotList(t *testing.T) {
	lists, posts := h.calls(epList), h.calls(epPost)
	h.create(t, webhook("no-secret-yet", "arrives-later"))
	// Two attempts, both stopped by the missing Secret.
	providertest.Eventually(t, timeout, "two create attempts", func() string {
		es := h.get(t, "no-secret-yet")
		c := es.GetCondition(xpv2.TypeSynced)
		if !strings.Contains(c.Message, "cannot get a webhook authorization Secret") {
			return "Synced: " + c.Message
		}
		if meta.GetExternalCreatePending(es).IsZero() || meta.GetExternalCreateFailed(es).IsZero() {
			return "no failed attempt recorded yet"
		}
		if es.Status.Ownership != nil {
			return fmt.Sprintf("status.ownership %+v: a create that sent nothing leaves nothing to search for", es.Status.Ownership)
		}
		return ""
	})
	first := meta.GetExternalCreatePending(h.get(t, "no-secret-yet"))
	providertest.Eventually(t, timeout, "a second attempt", func() string {
		if !meta.GetExternalCreatePending(h.get(t, "no-secret-yet")).After(first) {
			return "one attempt so far"
		}
		return ""
	})
	if got := h.calls(epList) - lists; got != 0 {
		t.Errorf("lists = %d, want 0: no request reached Auth0", got)
	}
	h.secret(t, "arrives-later", "late-token")
	h.ready(t, "no-secret-yet")
	if got := h.calls(epList) - lists; got != 0 {
		t.Errorf("lists = %d, want 0", got)
	}
	if got := h.calls(epPost) - posts; got != 1 {
		t.Errorf("POSTs = %d, want 1", got)
	}
	h.deleteAndWait(t, "no-secret-yet")
}

// tenantPinning moves an EventStream's config to another tenant (a second
// simulator), which stops it, then lets it move; and rotates the client of
// the first tenant, which keeps working.
func (h *harness) tenantPinning(t *testing.T) {
	other := h.other
	h.create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant-b"}, Data: map[string][]byte{
		v1alpha1.CredentialDomain: []byte(other.Domain()), v1alpha1.CredentialClientID: []byte("tenant-b"),
		v1alpha1.CredentialClientSecret: []byte("tenant-b-secret"), v1alpha1.CredentialCACert: other.CACertPEM,
	}})
	h.create(t, &v1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant-b"},
		Spec: v1alpha1.ProviderConfigSpec{Credentials: v1alpha1.LocalCredentials{
			Source: v1alpha1.CredentialsSourceSecret, SecretRef: &xpv2.LocalSecretReference{Name: "tenant-b"},
		}},
	})
	h.create(t, eventBridge("pinned", "us-east-1"))
	es := h.ready(t, "pinned")
	id := meta.GetExternalName(es)
	home := h.env.Sim.Domain()
	if o := es.Status.Ownership; o == nil || o.Stream == nil || o.Stream.ID != id || o.Stream.Tenant != home {
		t.Fatalf("status.ownership = %+v, want %s recorded in tenant %s", o, id, home)
	}

	// Rotation: another application of the same tenant.
	sec := &corev1.Secret{}
	if err := h.env.Kube.Get(h.ctx, client.ObjectKey{Namespace: ns, Name: "auth0"}, sec); err != nil {
		t.Fatal(err)
	}
	sec.Data[v1alpha1.CredentialClientID], sec.Data[v1alpha1.CredentialClientSecret] = []byte(rotatedClientID), []byte(rotatedClientSecret)
	if err := h.env.Kube.Update(h.ctx, sec); err != nil {
		t.Fatal(err)
	}
	h.update(t, "pinned", func(es *v1alpha1.EventStream) { es.Spec.ForProvider.Status = "disabled" })
	providertest.Eventually(t, timeout, "a change after rotation reaches the same stream", func() string {
		if s := h.stream(t, id); s.Status != "disabled" {
			return "stream still " + s.Status
		}
		return providertest.Ready(h.get(t, "pinned"))
	})

	// Another tenant: stop, touching neither.
	before := h.stream(t, id)
	h.update(t, "pinned", func(es *v1alpha1.EventStream) {
		es.Spec.ProviderConfigReference = &xpv2.ProviderConfigReference{Kind: "ProviderConfig", Name: "tenant-b"}
	})
	h.syncedFalse(t, "pinned", "event stream "+id+" is in Auth0 tenant "+home, "now resolves to tenant "+other.Domain(), "auth0.m.openmcf.org/allow-tenant-move="+other.Domain())
	if n := len(other.Server().Streams()); n != 0 {
		t.Errorf("tenant b holds %d streams, want 0", n)
	}
	if n := other.Server().Counters().Total(epPost) + other.Server().Counters().Total(epGet); n != 0 {
		t.Errorf("tenant b answered %d calls, want 0", n)
	}
	if after := h.stream(t, id); !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("the stream in the pinned tenant changed")
	}

	// The user asks to move.
	h.update(t, "pinned", func(es *v1alpha1.EventStream) {
		meta.AddAnnotations(es, map[string]string{"auth0.m.openmcf.org/allow-tenant-move": other.Domain()})
	})
	var moved string
	providertest.Eventually(t, timeout, "moved to tenant b", func() string {
		es := h.get(t, "pinned")
		moved = meta.GetExternalName(es)
		if moved == "" || moved == id {
			return "external name " + moved
		}
		if o := es.Status.Ownership; o == nil || o.Stream == nil || o.Stream.Tenant != other.Domain() {
			return fmt.Sprintf("status.ownership %+v", o)
		}
		return providertest.Ready(es)
	})
	if _, ok := other.Server().Stream(moved); !ok {
		t.Errorf("tenant b has no stream %s", moved)
	}
	if _, ok := h.sim().Stream(id); !ok {
		t.Errorf("the stream left in the first tenant was deleted; the move leaves it")
	}
	h.deleteAndWait(t, "pinned")
	if _, ok := other.Server().Stream(moved); ok {
		t.Errorf("stream %s in tenant b still exists", moved)
	}
	h.sim().DeleteStream(id)
}

// importsAreObservedOnly: under the default spec.importPolicy
// (ObserveOnly) an EventStream naming a stream it did not create, with
// every management policy, observes it, refuses to change it, and is
// deleted without deleting it.
func (h *harness) importsAreObservedOnly(t *testing.T) {
	s, err := h.sim().CreateStream([]byte(`{"name":"someone-elses","subscriptions":[{"event_type":"user.created"}],
		"destination":{"type":"action","configuration":{"action_id":"act_theirs"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	es := webhook("import-all", "")
	es.Spec.ForProvider.Name = "someone-elses"
	es.Spec.ForProvider.Subscriptions = []string{"user.created", "user.deleted"}
	es.Spec.ForProvider.Destination = v1alpha1.Destination{Type: "action", Action: &v1alpha1.ActionDestination{ActionID: "act_mine"}}
	meta.SetExternalName(es, s.ID)
	h.create(t, es)
	h.syncedFalse(t, "import-all", "event stream "+s.ID+" differs from spec", "spec.importPolicy is ObserveOnly", "ProviderConfig "+ns+"/default")
	got := h.get(t, "import-all")
	if got.Status.AtProvider.ID != s.ID || got.GetCondition(xpv2.TypeReady).Status != corev1.ConditionTrue {
		t.Errorf("atProvider %+v, Ready %s; want the stream observed", got.Status.AtProvider, got.GetCondition(xpv2.TypeReady).Status)
	}
	if got.Status.Ownership != nil {
		t.Errorf("status.ownership = %+v, want nothing recorded", got.Status.Ownership)
	}
	h.deleteAndWait(t, "import-all")
	after := h.stream(t, s.ID)
	if !after.UpdatedAt.Equal(s.UpdatedAt) || after.Destination.Action.ActionID != "act_theirs" {
		t.Errorf("the import changed the stream: %+v", after)
	}
	h.sim().DeleteStream(s.ID)
}

// forgedRecordsDeleteNothing: whoever may edit an EventStream writes, in
// its status and annotations, a replaced stream to delete and a record of
// owning another stream. Deleting the EventStream deletes its own stream
// only.
func (h *harness) forgedRecordsDeleteNothing(t *testing.T) {
	victim, err := h.sim().CreateStream([]byte(`{"name":"victim","subscriptions":[{"event_type":"user.created"}],
		"destination":{"type":"action","configuration":{"action_id":"act_victim"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	h.create(t, eventBridge("forger", "us-east-1"))
	own := meta.GetExternalName(h.ready(t, "forger"))
	h.update(t, "forger", func(es *v1alpha1.EventStream) {
		meta.AddAnnotations(es, map[string]string{"auth0.m.openmcf.org/replaced-stream": victim.ID})
	})
	providertest.Eventually(t, timeout, "forge status", func() string {
		es := h.get(t, "forger")
		es.Status.Ownership.Replaced = &v1alpha1.OwnedStream{ID: victim.ID, Tenant: h.env.Sim.Domain(), Proof: es.Status.Ownership.Stream.Proof}
		if err := h.env.Kube.Status().Update(h.ctx, es); err != nil {
			return err.Error()
		}
		return ""
	})
	h.deleteAndWait(t, "forger")
	if _, ok := h.sim().Stream(own); ok {
		t.Errorf("its own stream %s still exists", own)
	}
	if s := h.stream(t, victim.ID); !s.UpdatedAt.Equal(victim.UpdatedAt) {
		t.Errorf("the victim changed")
	}
	h.sim().DeleteStream(victim.ID)
}

// unofferedSecretIsNotSent: a webhook Secret without the opt-in label is
// refused, naming it, its key and the label; its value never reaches
// Auth0. Labelled, it is sent.
func (h *harness) unofferedSecretIsNotSent(t *testing.T) {
	const password = "db-password-not-for-webhooks"
	h.create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db-creds"}, Data: map[string][]byte{"token": []byte(password)}})
	posts := h.calls(epPost)
	h.create(t, webhook("confused-deputy", "db-creds"))
	h.syncedFalse(t, "confused-deputy", "Secret "+ns+"/db-creds (key token) is not offered for webhook authorization", v1alpha1.LabelWebhookSecret)
	if got := h.calls(epPost) - posts; got != 0 {
		t.Errorf("POSTs = %d, want none", got)
	}
	for _, s := range h.sim().Streams() {
		if s.Destination.Webhook != nil && strings.Contains(s.Destination.Webhook.Token, password) {
			t.Errorf("stream %s holds the unoffered value", s.ID)
		}
	}
	providertest.Eventually(t, timeout, "label the Secret", func() string {
		s := &corev1.Secret{}
		if err := h.env.Kube.Get(h.ctx, client.ObjectKey{Namespace: ns, Name: "db-creds"}, s); err != nil {
			return err.Error()
		}
		s.Labels = map[string]string{v1alpha1.LabelWebhookSecret: "true"}
		if err := h.env.Kube.Update(h.ctx, s); err != nil {
			return err.Error()
		}
		return ""
	})
	id := meta.GetExternalName(h.ready(t, "confused-deputy"))
	if got := h.stream(t, id).Destination.Webhook.Token; got != password {
		t.Errorf("token in Auth0 = %q, want the offered value", got)
	}
	h.deleteAndWait(t, "confused-deputy")
}
