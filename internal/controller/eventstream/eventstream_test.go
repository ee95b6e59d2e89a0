package eventstream

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auth0/go-auth0/management"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/managed"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/auth0client"
	"github.com/xp-auth0/auth0-eventstream/internal/proof"
	"github.com/xp-auth0/auth0-eventstream/internal/redact"
)

const (
	ns        = "team-a"
	streamID  = "est_aaaaaaaaaaaaaaaaaaaaaa"
	streamID2 = "est_bbbbbbbbbbbbbbbbbbbbbb"
	token     = "s3cr3t-token-value"
	rotated   = "r0tated-token-value"
	tenant    = "example.eu.auth0.com"
)

var created = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// apiError is a go-auth0 management.Error.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.code, http.StatusText(e.code), e.msg)
}
func (e *apiError) Status() int { return e.code }

// fakeAPI records calls and answers from a map of streams.
type fakeAPI struct {
	streams map[string]*management.EventStream
	err     map[string]error // by method
	calls   []string
	bodies  []*management.EventStream
	nextID  string
	// createdAt is what Auth0's clock says at a create; created if zero.
	createdAt time.Time
	// loseCreate makes a create succeed in Auth0 and its answer get lost.
	loseCreate bool
	// pageSize pages List (all streams on one page if zero); listErrs
	// answer the List calls with those numbers (1 for the first).
	pageSize int
	listErrs map[int]error
	lists    int

	// Delivery health: what Stats and FailedDeliveries answer, and a hook
	// run when a test event or redelivery reaches Auth0.
	stats    auth0client.DeliveryStats
	failed   []auth0client.FailedDelivery
	onAction func()
}

func (f *fakeAPI) Read(_ context.Context, id string) (*management.EventStream, error) {
	f.calls = append(f.calls, "GET "+id)
	if err := f.err["GET"]; err != nil {
		return nil, err
	}
	s, ok := f.streams[id]
	if !ok {
		return nil, &apiError{404, "The requested stream does not exist."}
	}
	return s, nil
}

// List pages the streams in id order; a checkpoint is the index of the
// first stream of the next page.
func (f *fakeAPI) List(_ context.Context, from string) (*management.EventStreamList, error) {
	f.calls = append(f.calls, "LIST "+from)
	f.lists++
	if err := f.listErrs[f.lists]; err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(f.streams))
	for id := range f.streams {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	start := 0
	if from != "" {
		start, _ = strconv.Atoi(from)
	}
	end := len(ids)
	if f.pageSize > 0 && start+f.pageSize < end {
		end = start + f.pageSize
	}
	l := &management.EventStreamList{}
	for _, id := range ids[min(start, len(ids)):end] {
		l.EventStreams = append(l.EventStreams, f.streams[id])
	}
	if end < len(ids) {
		l.Next = strconv.Itoa(end)
	}
	return l, nil
}

func (f *fakeAPI) Create(_ context.Context, e *management.EventStream) error {
	f.calls = append(f.calls, "POST")
	if err := f.err["POST"]; err != nil {
		return err
	}
	f.bodies = append(f.bodies, deepCopy(e))
	id := f.nextID
	at := created
	if !f.createdAt.IsZero() {
		at = f.createdAt
	}
	stored := deepCopy(e)
	stored.ID = &id
	stored.CreatedAt, stored.UpdatedAt = &at, &at
	if stored.Destination != nil && deref(stored.Destination.EventStreamDestinationType) == "eventbridge" {
		cfg := map[string]any{}
		maps.Copy(cfg, stored.Destination.EventStreamDestinationConfiguration)
		cfg["aws_partner_event_source"] = "aws.partner/auth0.com/sim-" + id + "/auth0.events"
		stored.Destination = &management.EventStreamDestination{EventStreamDestinationType: stored.Destination.EventStreamDestinationType, EventStreamDestinationConfiguration: cfg}
	}
	f.streams[id] = stored
	if f.loseCreate {
		return io.ErrUnexpectedEOF
	}
	*e = *deepCopy(stored)
	return nil
}

func (f *fakeAPI) Update(_ context.Context, id string, e *management.EventStream) error {
	f.calls = append(f.calls, "PATCH "+id)
	if err := f.err["PATCH"]; err != nil {
		return err
	}
	f.bodies = append(f.bodies, deepCopy(e))
	s := f.streams[id]
	if e.Name != nil {
		s.Name = e.Name
	}
	if e.Status != nil {
		s.Status = e.Status
	}
	if e.Subscriptions != nil {
		s.Subscriptions = e.Subscriptions
	}
	*e = *s
	return nil
}

func (f *fakeAPI) Delete(_ context.Context, id string) error {
	f.calls = append(f.calls, "DELETE "+id)
	if err := f.err["DELETE"]; err != nil {
		return err
	}
	if _, ok := f.streams[id]; !ok {
		return &apiError{404, "The requested stream does not exist."}
	}
	delete(f.streams, id)
	return nil
}

func deepCopy(e *management.EventStream) *management.EventStream {
	c := *e
	return &c
}

type recorder struct{ events []event.Event }

func (r *recorder) Event(_ runtime.Object, e event.Event)    { r.events = append(r.events, e) }
func (r *recorder) WithAnnotations(...string) event.Recorder { return r }

func subs(types ...string) *[]management.EventStreamSubscription {
	return subscriptions(types)
}

// remote builds a stream as Auth0 returns it: no secrets.
func remote(id, name, typ string, cfg map[string]any, types ...string) *management.EventStream {
	return &management.EventStream{
		ID: new(id), Name: new(name), Status: new("enabled"), Subscriptions: subs(types...),
		CreatedAt: new(created), UpdatedAt: new(created),
		Destination: &management.EventStreamDestination{EventStreamDestinationType: new(typ), EventStreamDestinationConfiguration: cfg},
	}
}

func webhookRemote(id string) *management.EventStream {
	return remote(id, "hooks", "webhook", map[string]any{
		"webhook_endpoint":      "https://example.net/hook",
		"webhook_authorization": map[string]any{"method": "bearer"},
	}, "user.created", "user.updated")
}

func eventBridgeRemote(id, region string) *management.EventStream {
	return remote(id, "bridge", "eventbridge", map[string]any{
		"aws_account_id": "123456789012", "aws_region": region,
		"aws_partner_event_source": "aws.partner/auth0.com/sim-" + id + "/auth0.events",
	}, "user.created")
}

func actionRemote(id, action string) *management.EventStream {
	return remote(id, "act", "action", map[string]any{"action_id": action}, "user.deleted")
}

type esOption func(*v1alpha1.EventStream)

// apply finishes a fixture: each constructor sets its destination, the
// options then adjust it per case.
func apply(es *v1alpha1.EventStream, opts []esOption) *v1alpha1.EventStream {
	for _, o := range opts {
		o(es)
	}
	return es
}

// withExternalName names a stream without any record of owning it: an
// import, or a name someone wrote.
func withExternalName(id string) esOption {
	return func(es *v1alpha1.EventStream) { meta.SetExternalName(es, id) }
}

// testKey is the provider's proof key in these tests.
var testKey = func() proof.Key {
	k, err := proof.NewKey([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		panic(err)
	}
	return k
}()

// withStream names a stream the resource created, with the provider's
// record of it in tenant.
func withStream(id string) esOption {
	return func(es *v1alpha1.EventStream) {
		meta.SetExternalName(es, id)
		own(es, id, tenant)
	}
}

// withAttempt records, with a valid proof, a create attempt begun then.
func withAttempt(then time.Time) esOption { return withAttemptIn(then, tenant) }

// withAttemptIn records a create attempt begun then, in tenant t.
func withAttemptIn(then time.Time, t string) esOption {
	return func(es *v1alpha1.EventStream) {
		if es.Status.Ownership == nil {
			es.Status.Ownership = &v1alpha1.Ownership{}
		}
		es.Status.Ownership.CreateAttempt = createAttempt(testKey, es.GetUID(), t, then)
	}
}

// withReplaced records, with a valid proof, a replaced stream still to
// delete.
func withReplaced(id string) esOption {
	return func(es *v1alpha1.EventStream) {
		if es.Status.Ownership == nil {
			es.Status.Ownership = &v1alpha1.Ownership{}
		}
		es.Status.Ownership.Replaced = replacedStream(testKey, es.GetUID(), tenant, id)
	}
}

// own records, with a valid proof, that es owns stream id in tenant t.
func own(es *v1alpha1.EventStream, id, t string) {
	if es.Status.Ownership == nil {
		es.Status.Ownership = &v1alpha1.Ownership{}
	}
	es.Status.Ownership.Stream = ownedStream(testKey, es.GetUID(), t, id, v1alpha1.OriginCreated)
}

func withHash(h string) esOption {
	return func(es *v1alpha1.EventStream) { es.Status.AppliedSecretsHash = h }
}

func webhookES(method string, opts ...esOption) *v1alpha1.EventStream {
	es := &v1alpha1.EventStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hooks", UID: "uid-1"},
		Spec: v1alpha1.EventStreamSpec{ForProvider: v1alpha1.EventStreamParameters{
			Name: "hooks", Subscriptions: []string{"user.updated", "user.created"}, Status: "enabled",
			Destination: v1alpha1.Destination{Type: "webhook", Webhook: &v1alpha1.WebhookDestination{
				Endpoint: "https://example.net/hook",
			}},
		}},
	}
	a := &es.Spec.ForProvider.Destination.Webhook.Authorization
	a.Method = method
	ref := &xpv2.LocalSecretKeySelector{LocalSecretReference: xpv2.LocalSecretReference{Name: "hook-secret"}, Key: "value"}
	switch method {
	case "bearer":
		a.TokenSecretRef = ref
	case "basic":
		a.Username, a.PasswordSecretRef = new("alice"), ref
	case "custom_header":
		a.HeaderKey, a.HeaderValueSecretRef = new("X-Hook-Key"), ref
	}
	return apply(es, opts)
}

func eventBridgeES(region string, opts ...esOption) *v1alpha1.EventStream {
	es := &v1alpha1.EventStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bridge", UID: "uid-2"},
		Spec: v1alpha1.EventStreamSpec{ForProvider: v1alpha1.EventStreamParameters{
			Name: "bridge", Subscriptions: []string{"user.created"}, Status: "enabled",
			Destination: v1alpha1.Destination{Type: "eventbridge", EventBridge: &v1alpha1.EventBridgeDestination{AWSAccountID: "123456789012", AWSRegion: region}},
		}},
	}
	return apply(es, opts)
}

func actionES(action string, opts ...esOption) *v1alpha1.EventStream {
	es := &v1alpha1.EventStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "act", UID: "uid-3"},
		Spec: v1alpha1.EventStreamSpec{ForProvider: v1alpha1.EventStreamParameters{
			Name: "act", Subscriptions: []string{"user.deleted"}, Status: "enabled",
			Destination: v1alpha1.Destination{Type: "action", Action: &v1alpha1.ActionDestination{ActionID: action}},
		}},
	}
	return apply(es, opts)
}

// hookSecret is the webhook Secret the fixtures reference, offered for
// webhook authorization.
func hookSecret(value string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook-secret", Labels: map[string]string{v1alpha1.LabelWebhookSecret: "true"}},
		Data:       map[string][]byte{"value": []byte(value)},
	}
}

var hashKey = []byte("test-key")

func hashOf(es *v1alpha1.EventStream, value string) string {
	return secretsHash(hashKey, es.Spec.ForProvider, secretValues{value: value})
}

func newScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := corev1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeKube is a fake API server holding objs, with the index and status
// subresource the controller relies on.
func fakeKube(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	return fake.NewClientBuilder().WithScheme(newScheme(t)).
		WithObjects(objs...).
		WithIndex(&v1alpha1.EventStream{}, streamIDIndex, streamIDs).
		WithStatusSubresource(&v1alpha1.EventStream{}).Build()
}

// setup stores es and objs in a fake API server and returns an external
// client for es.
func setup(t *testing.T, api *fakeAPI, es *v1alpha1.EventStream, objs ...client.Object) (*external, client.Client, *recorder) {
	t.Helper()
	kube := fakeKube(t, append([]client.Object{es}, objs...)...)
	// Work on the stored copy, as the reconciler does.
	if err := kube.Get(context.Background(), types.NamespacedName{Namespace: es.Namespace, Name: es.Name}, es); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	return &external{
		api: api, kube: kube, record: rec, hashKey: hashKey, key: testKey, now: func() time.Time { return created.Add(time.Minute) },
		tenant: tenant, config: "ProviderConfig team-a/default", importPolicy: v1alpha1.ImportPolicyObserveOnly,
		adoption: adoptionWindow{skew: DefaultClockSkew, timeout: DefaultCreateAttemptTimeout}, listings: newListings(),
		reads: newDeliveryReads(0), mask: redact.New(token).String, workspaces: kube,
	}, kube, rec
}

func newAPI(streams ...*management.EventStream) *fakeAPI {
	f := &fakeAPI{streams: map[string]*management.EventStream{}, err: map[string]error{}, nextID: streamID2}
	for _, s := range streams {
		f.streams[*s.ID] = s
	}
	return f
}

func TestObserve(t *testing.T) {
	type want struct {
		obs        managed.ExternalObservation
		atProvider v1alpha1.EventStreamObservation
		calls      []string
		err        string
		diff       []string // substrings of obs.Diff
	}
	webhookAt := v1alpha1.EventStreamObservation{
		ID: streamID, Name: "hooks", Status: "enabled", DestinationType: "webhook",
		CreatedAt: "2026-11-25T12:00:00Z", UpdatedAt: "2026-11-25T12:00:00Z",
		Subscriptions: []string{"user.created", "user.updated"},
	}
	bearer := webhookES("bearer", withStream(streamID))
	cases := map[string]struct {
		api  *fakeAPI
		es   *v1alpha1.EventStream
		objs []client.Object
		want want
	}{
		"NoExternalName": {
			api:  newAPI(),
			es:   webhookES("bearer"),
			want: want{obs: managed.ExternalObservation{ResourceExists: false}},
		},
		"GoneOutOfBand": {
			api:  newAPI(),
			es:   webhookES("bearer", withStream(streamID)),
			want: want{obs: managed.ExternalObservation{ResourceExists: false}, calls: []string{"GET " + streamID}},
		},
		"WebhookUpToDate": {
			api:  newAPI(webhookRemote(streamID)),
			es:   webhookES("bearer", withStream(streamID), withHash(hashOf(bearer, token))),
			objs: []client.Object{hookSecret(token)},
			want: want{obs: managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: true}, atProvider: webhookAt, calls: []string{"GET " + streamID}},
		},
		"WebhookSecretRotated": {
			api:  newAPI(webhookRemote(streamID)),
			es:   webhookES("bearer", withStream(streamID), withHash(hashOf(bearer, token))),
			objs: []client.Object{hookSecret(rotated)},
			want: want{
				obs: managed.ExternalObservation{ResourceExists: true}, atProvider: webhookAt, calls: []string{"GET " + streamID},
				diff: []string{"secret: changed since last applied"},
			},
		},
		"WebhookEndpointDrift": {
			api: newAPI(func() *management.EventStream {
				s := webhookRemote(streamID)
				s.Destination.EventStreamDestinationConfiguration["webhook_endpoint"] = "https://evil.example/hook"
				return s
			}()),
			es:   webhookES("bearer", withStream(streamID), withHash(hashOf(bearer, token))),
			objs: []client.Object{hookSecret(token)},
			want: want{
				obs: managed.ExternalObservation{ResourceExists: true}, atProvider: webhookAt, calls: []string{"GET " + streamID},
				diff: []string{`destination.webhook.endpoint: "https://evil.example/hook", want "https://example.net/hook"`},
			},
		},
		"BasicUsernameDrift": {
			api: newAPI(remote(streamID, "hooks", "webhook", map[string]any{
				"webhook_endpoint":      "https://example.net/hook",
				"webhook_authorization": map[string]any{"method": "basic", "username": "mallory"},
			}, "user.created", "user.updated")),
			es:   webhookES("basic", withStream(streamID), withHash(hashOf(webhookES("basic"), token))),
			objs: []client.Object{hookSecret(token)},
			want: want{
				obs: managed.ExternalObservation{ResourceExists: true}, atProvider: webhookAt, calls: []string{"GET " + streamID},
				diff: []string{`username: "mallory", want "alice"`},
			},
		},
		"CustomHeaderUpToDate": {
			api: newAPI(remote(streamID, "hooks", "webhook", map[string]any{
				"webhook_endpoint":      "https://example.net/hook",
				"webhook_authorization": map[string]any{"method": "custom_header", "header_key": "X-Hook-Key"},
			}, "user.updated", "user.created")),
			es:   webhookES("custom_header", withStream(streamID), withHash(hashOf(webhookES("custom_header"), token))),
			objs: []client.Object{hookSecret(token)},
			want: want{
				obs: managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: true},
				// Sorted, whatever order Auth0 answers in: status is
				// written only when a fact changes.
				atProvider: webhookAt,
				calls:      []string{"GET " + streamID},
			},
		},
		"EventBridgeUpToDate": {
			api: newAPI(eventBridgeRemote(streamID, "us-east-1")),
			es:  eventBridgeES("us-east-1", withStream(streamID)),
			want: want{
				obs: managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: true}, calls: []string{"GET " + streamID},
				atProvider: v1alpha1.EventStreamObservation{
					ID: streamID, Name: "bridge", Status: "enabled", DestinationType: "eventbridge",
					CreatedAt: "2026-11-25T12:00:00Z", UpdatedAt: "2026-11-25T12:00:00Z", Subscriptions: []string{"user.created"},
					AWSPartnerEventSource: "aws.partner/auth0.com/sim-" + streamID + "/auth0.events",
				},
			},
		},
		"EventBridgeRegionChanged": {
			api: newAPI(eventBridgeRemote(streamID, "us-east-1")),
			es:  eventBridgeES("eu-west-1", withStream(streamID)),
			want: want{
				obs: managed.ExternalObservation{ResourceExists: true}, calls: []string{"GET " + streamID}, diff: []string{"EventBridge account or region changes"},
				atProvider: v1alpha1.EventStreamObservation{
					ID: streamID, Name: "bridge", Status: "enabled", DestinationType: "eventbridge",
					CreatedAt: "2026-11-25T12:00:00Z", UpdatedAt: "2026-11-25T12:00:00Z", Subscriptions: []string{"user.created"},
					AWSPartnerEventSource: "aws.partner/auth0.com/sim-" + streamID + "/auth0.events",
				},
			},
		},
		"ActionIDDrift": {
			api: newAPI(actionRemote(streamID, "act_old")),
			es:  actionES("act_new", withStream(streamID)),
			want: want{
				obs: managed.ExternalObservation{ResourceExists: true}, calls: []string{"GET " + streamID}, diff: []string{`actionId: "act_old", want "act_new"`},
				atProvider: v1alpha1.EventStreamObservation{
					ID: streamID, Name: "act", Status: "enabled", DestinationType: "action",
					CreatedAt: "2026-11-25T12:00:00Z", UpdatedAt: "2026-11-25T12:00:00Z", Subscriptions: []string{"user.deleted"},
				},
			},
		},
		"StatusAndNameDrift": {
			api: newAPI(func() *management.EventStream {
				s := actionRemote(streamID, "act_1")
				s.Status, s.Name = new("disabled"), new("renamed")
				return s
			}()),
			es: actionES("act_1", withStream(streamID)),
			want: want{
				obs: managed.ExternalObservation{ResourceExists: true}, calls: []string{"GET " + streamID}, diff: []string{`status: "disabled", want "enabled"`, `name: "renamed", want "act"`},
				atProvider: v1alpha1.EventStreamObservation{
					ID: streamID, Name: "renamed", Status: "disabled", DestinationType: "action",
					CreatedAt: "2026-11-25T12:00:00Z", UpdatedAt: "2026-11-25T12:00:00Z", Subscriptions: []string{"user.deleted"},
				},
			},
		},
		"BeingDeletedSecretGone": {
			api: newAPI(webhookRemote(streamID)),
			es: webhookES("bearer", withStream(streamID), func(es *v1alpha1.EventStream) {
				es.DeletionTimestamp = &metav1.Time{Time: created}
				es.Finalizers = []string{"finalizer.managedresource.crossplane.io"}
			}),
			want: want{obs: managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: true}, atProvider: webhookAt, calls: []string{"GET " + streamID}},
		},
		"ObserveOnlyNeedsNoSecret": {
			api: newAPI(webhookRemote(streamID)),
			es: webhookES("bearer", withStream(streamID), func(es *v1alpha1.EventStream) {
				es.Spec.ManagementPolicies = xpv2.ManagementPolicies{xpv2.ManagementActionObserve}
			}),
			want: want{obs: managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: true}, atProvider: webhookAt, calls: []string{"GET " + streamID}},
		},
		"MissingSecret": {
			api:  newAPI(webhookRemote(streamID)),
			es:   webhookES("bearer", withStream(streamID)),
			want: want{err: "cannot get a webhook authorization Secret team-a/hook-secret", atProvider: webhookAt, calls: []string{"GET " + streamID}},
		},
		"ReadFails": {
			api:  func() *fakeAPI { f := newAPI(); f.err["GET"] = &apiError{503, "Service Unavailable"}; return f }(),
			es:   webhookES("bearer", withStream(streamID)),
			want: want{err: "cannot read the event stream from Auth0: Auth0 failed after retries, will try again: 503", calls: []string{"GET " + streamID}},
		},
		"RateLimited": {
			api:  func() *fakeAPI { f := newAPI(); f.err["GET"] = &apiError{429, "Too Many Requests"}; return f }(),
			es:   webhookES("bearer", withStream(streamID)),
			want: want{err: "rate limited by Auth0", calls: []string{"GET " + streamID}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e, _, _ := setup(t, tc.api, tc.es, tc.objs...)
			obs, err := e.Observe(context.Background(), tc.es)
			if tc.want.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want.err) {
					t.Fatalf("Observe() error = %v, want one containing %q", err, tc.want.err)
				}
			} else if err != nil {
				t.Fatalf("Observe() error = %v", err)
			}
			if diff := cmp.Diff(tc.want.obs, obs, cmpopts.IgnoreFields(managed.ExternalObservation{}, "Diff")); diff != "" {
				t.Errorf("Observe() observation -want +got:\n%s", diff)
			}
			for _, d := range tc.want.diff {
				if !strings.Contains(obs.Diff, d) {
					t.Errorf("Observe() diff = %q, want it to contain %q", obs.Diff, d)
				}
			}
			for _, secret := range []string{token, rotated} {
				if strings.Contains(obs.Diff, secret) || (err != nil && strings.Contains(err.Error(), secret)) {
					t.Errorf("Observe() leaked a secret value")
				}
			}
			if diff := cmp.Diff(tc.want.atProvider, tc.es.Status.AtProvider, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("status.atProvider -want +got:\n%s", diff)
			}
			if diff := cmp.Diff(tc.want.calls, tc.api.calls, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Auth0 calls -want +got:\n%s", diff)
			}
			if obs.ResourceExists {
				if got := tc.es.GetCondition(xpv2.TypeReady).Reason; got != xpv2.ReasonAvailable {
					t.Errorf("Ready reason = %q, want %q", got, xpv2.ReasonAvailable)
				}
			}
		})
	}
}

func TestObserveAdoptsLostCreate(t *testing.T) {
	pending := created.Add(-10 * time.Second)
	lost := func(opts ...esOption) *v1alpha1.EventStream {
		return webhookES("bearer", append([]esOption{withAttempt(pending)}, opts...)...)
	}
	other := func(id string) *v1alpha1.EventStream {
		es := webhookES("bearer", withStream(id))
		es.Name, es.UID = "other", "uid-other"
		return es
	}
	// Look-alikes: each differs from the desired stream in one way.
	lookAlike := func(fn func(*management.EventStream)) *management.EventStream {
		s := webhookRemote(streamID2)
		fn(s)
		return s
	}
	older := lookAlike(func(s *management.EventStream) { s.CreatedAt = new(pending.Add(-time.Hour)) })
	later := lookAlike(func(s *management.EventStream) { s.CreatedAt = new(pending.Add(2 * time.Minute)) })
	renamed := lookAlike(func(s *management.EventStream) { s.Name = new("hooks-2") })
	otherEndpoint := lookAlike(func(s *management.EventStream) {
		s.Destination.EventStreamDestinationConfiguration = map[string]any{
			"webhook_endpoint": "https://other.example/hook", "webhook_authorization": map[string]any{"method": "bearer"},
		}
	})
	otherMethod := lookAlike(func(s *management.EventStream) {
		s.Destination.EventStreamDestinationConfiguration = map[string]any{
			"webhook_endpoint": "https://example.net/hook", "webhook_authorization": map[string]any{"method": "basic", "username": "alice"},
		}
	})
	otherSubs := lookAlike(func(s *management.EventStream) { s.Subscriptions = subs("user.created") })
	disabled := lookAlike(func(s *management.EventStream) { s.Status = new("disabled") })
	otherType := remote(streamID2, "hooks", "action", map[string]any{"action_id": "act_1"}, "user.created", "user.updated")
	// Subscriptions are a set: order does not matter.
	reordered := lookAlike(func(s *management.EventStream) { s.Subscriptions = subs("user.updated", "user.created") })
	// Created by the skew before the pending time, and at the window's end.
	early := lookAlike(func(s *management.EventStream) { s.CreatedAt = new(pending.Add(-DefaultClockSkew)) })
	late := lookAlike(func(s *management.EventStream) {
		s.CreatedAt = new(pending.Add(time.Second + DefaultCreateAttemptTimeout + DefaultClockSkew))
	})
	tooLate := lookAlike(func(s *management.EventStream) {
		s.CreatedAt = new(pending.Add(time.Second + DefaultCreateAttemptTimeout + DefaultClockSkew + time.Millisecond))
	})
	const streamID3 = "est_cccccccccccccccccccccc"
	outside := webhookRemote(streamID3)
	outside.CreatedAt = new(pending.Add(-time.Hour))

	cases := map[string]struct {
		api      *fakeAPI
		objs     []client.Object
		adopted  string
		err      string
		listings int
	}{
		"AdoptsTheOneCandidate":     {api: newAPI(webhookRemote(streamID)), objs: []client.Object{hookSecret(token)}, adopted: streamID},
		"SubscriptionsAsASet":       {api: newAPI(reordered), objs: []client.Object{hookSecret(token)}, adopted: streamID2},
		"WindowStartIncluded":       {api: newAPI(early), objs: []client.Object{hookSecret(token)}, adopted: streamID2},
		"WindowEndIncluded":         {api: newAPI(late), objs: []client.Object{hookSecret(token)}, adopted: streamID2},
		"IgnoresAfterWindow":        {api: newAPI(tooLate)},
		"IgnoresOlderStream":        {api: newAPI(older)},
		"IgnoresMuchLaterStream":    {api: newAPI(later)},
		"IgnoresOtherName":          {api: newAPI(renamed)},
		"IgnoresOtherEndpoint":      {api: newAPI(otherEndpoint)},
		"IgnoresOtherAuthMethod":    {api: newAPI(otherMethod)},
		"IgnoresOtherSubscriptions": {api: newAPI(otherSubs)},
		"IgnoresOtherStatus":        {api: newAPI(disabled)},
		"IgnoresOtherType":          {api: newAPI(otherType)},
		"IgnoresClaimedStream":      {api: newAPI(webhookRemote(streamID)), objs: []client.Object{other(streamID)}},
		"LookAlikeOutsideWindowIsNoAmbiguity": {
			api: newAPI(webhookRemote(streamID), outside), objs: []client.Object{hookSecret(token)}, adopted: streamID,
		},
		"RefusesToGuess": {
			api: newAPI(webhookRemote(streamID), webhookRemote(streamID2)),
			err: "Auth0 holds 2 unclaimed streams exactly like it",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			es := lost()
			e, kube, rec := setup(t, tc.api, es, tc.objs...)
			obs, err := e.Observe(context.Background(), es)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Observe() error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Observe() error = %v", err)
			}
			if got, want := obs.ResourceExists, tc.adopted != ""; got != want {
				t.Fatalf("ResourceExists = %v, want %v", got, want)
			}
			stored := &v1alpha1.EventStream{}
			if err := kube.Get(context.Background(), client.ObjectKeyFromObject(es), stored); err != nil {
				t.Fatal(err)
			}
			if got := meta.GetExternalName(stored); got != tc.adopted {
				t.Errorf("stored external name = %q, want %q", got, tc.adopted)
			}
			if tc.adopted != "" {
				o := stored.Status.Ownership
				if o == nil || o.Stream == nil || o.Stream.ID != tc.adopted || o.Stream.Tenant != tenant || o.Stream.Origin != v1alpha1.OriginAdopted || !holds(testKey, stored, tc.adopted) || o.CreateAttempt != nil {
					t.Errorf("stored status.ownership = %+v, want the adopted stream recorded with a valid proof and the attempt settled", o)
				}
				if stored.GetLabels()[v1alpha1.LabelStreamID] != tc.adopted {
					t.Errorf("stored labels = %v, want %s=%s", stored.GetLabels(), v1alpha1.LabelStreamID, tc.adopted)
				}
			}
			if tc.adopted != "" && (len(rec.events) != 1 || rec.events[0].Reason != reasonAdopt) {
				t.Errorf("events = %v, want one %s", rec.events, reasonAdopt)
			}
			if got := tc.api.calls; len(got) != 1 || got[0] != "LIST " {
				t.Errorf("Auth0 calls = %v, want one LIST", got)
			}
		})
	}
}

func TestCreate(t *testing.T) {
	cases := map[string]struct {
		es       *v1alpha1.EventStream
		objs     []client.Object
		wantDest map[string]any
		wantHash bool
		err      string
		postErr  error
	}{
		"WebhookBearer": {
			es: webhookES("bearer"), objs: []client.Object{hookSecret(token)}, wantHash: true,
			wantDest: map[string]any{"webhook_endpoint": "https://example.net/hook", "webhook_authorization": map[string]any{"method": "bearer", "token": token}},
		},
		"WebhookBasic": {
			es: webhookES("basic"), objs: []client.Object{hookSecret(token)}, wantHash: true,
			wantDest: map[string]any{"webhook_endpoint": "https://example.net/hook", "webhook_authorization": map[string]any{"method": "basic", "username": "alice", "password": token}},
		},
		"WebhookCustomHeader": {
			es: webhookES("custom_header"), objs: []client.Object{hookSecret(token)}, wantHash: true,
			wantDest: map[string]any{"webhook_endpoint": "https://example.net/hook", "webhook_authorization": map[string]any{"method": "custom_header", "header_key": "X-Hook-Key", "header_value": token}},
		},
		"EventBridge": {
			es:       eventBridgeES("us-east-1"),
			wantDest: map[string]any{"aws_account_id": "123456789012", "aws_region": "us-east-1"},
		},
		"Action": {
			es:       actionES("act_1"),
			wantDest: map[string]any{"action_id": "act_1"},
		},
		"MissingSecretKey": {
			es: webhookES("bearer"),
			objs: []client.Object{func() *corev1.Secret {
				s := hookSecret("x")
				s.Data = map[string][]byte{"other": []byte("x")}
				return s
			}()},
			err: `Secret team-a/hook-secret has no key "value"`,
		},
		"WhitespaceOnlySecret": {
			es:   webhookES("bearer"),
			objs: []client.Object{hookSecret(" \n")},
			err:  `Secret team-a/hook-secret has no key "value", or its value is empty`,
		},
		"UnlabelledSecret": {
			es: webhookES("bearer"),
			objs: []client.Object{func() *corev1.Secret {
				s := hookSecret(token)
				s.Labels = nil
				return s
			}()},
			err: `Secret team-a/hook-secret (key value) is not offered for webhook authorization: it lacks the label auth0.m.openmcf.org/webhook-secret: "true"`,
		},
		"SecretTrimmed": {
			// kubectl create secret --from-file keeps the file's newline.
			es: webhookES("bearer"), objs: []client.Object{hookSecret("  " + token + "\n")}, wantHash: true,
			wantDest: map[string]any{"webhook_endpoint": "https://example.net/hook", "webhook_authorization": map[string]any{"method": "bearer", "token": token}},
		},
		"Rejected": {
			es:      actionES("act_1"),
			postErr: &apiError{400, "Payload validation error: 'Invalid value' on property subscriptions"},
			err:     "cannot create the event stream in Auth0: Auth0 rejected the event stream: 400 Bad Request: Payload validation error",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			api := newAPI()
			if tc.postErr != nil {
				api.err["POST"] = tc.postErr
			}
			e, kube, _ := setup(t, api, tc.es, tc.objs...)
			_, err := e.Create(context.Background(), tc.es)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Create() error = %v, want %q", err, tc.err)
				}
				if meta.GetExternalName(tc.es) != "" {
					t.Errorf("external name set after a failed create")
				}
				if tc.postErr == nil && len(api.calls) != 0 {
					t.Errorf("Auth0 calls = %v, want none: the create failed before sending anything", api.calls)
				}
				if got := stored(t, kube, tc.es).Status.Ownership; got != nil {
					t.Errorf("stored status.ownership = %+v, want nothing left: the create is known to have made nothing", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Create() error = %v", err)
			}
			if len(api.bodies) != 1 {
				t.Fatalf("POST bodies = %d, want 1", len(api.bodies))
			}
			b := api.bodies[0]
			if *b.Name != tc.es.Spec.ForProvider.Name || *b.Status != "enabled" || !sameSet(observedSubscriptions(b), tc.es.Spec.ForProvider.Subscriptions) {
				t.Errorf("POST body name/status/subscriptions = %q/%q/%v", *b.Name, *b.Status, observedSubscriptions(b))
			}
			if *b.Destination.EventStreamDestinationType != tc.es.Spec.ForProvider.Destination.Type {
				t.Errorf("POST destination type = %q", *b.Destination.EventStreamDestinationType)
			}
			if diff := cmp.Diff(tc.wantDest, b.Destination.EventStreamDestinationConfiguration); diff != "" {
				t.Errorf("POST destination configuration -want +got:\n%s", diff)
			}
			if got := meta.GetExternalName(tc.es); got != streamID2 {
				t.Errorf("external name = %q, want %q", got, streamID2)
			}
			stored := &v1alpha1.EventStream{}
			if err := kube.Get(context.Background(), client.ObjectKeyFromObject(tc.es), stored); err != nil {
				t.Fatal(err)
			}
			wantHash := ""
			if tc.wantHash {
				wantHash = hashOf(tc.es, token)
			}
			if stored.Status.AppliedSecretsHash != wantHash {
				t.Errorf("stored status.appliedSecretsHash = %q, want %q", stored.Status.AppliedSecretsHash, wantHash)
			}
			if strings.Contains(stored.Status.AppliedSecretsHash, token) {
				t.Errorf("hash contains the secret")
			}
			if stored.Status.AtProvider.ID != streamID2 {
				t.Errorf("stored status.atProvider.id = %q, want %q", stored.Status.AtProvider.ID, streamID2)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	bearer := webhookES("bearer")
	cases := map[string]struct {
		api        *fakeAPI
		es         *v1alpha1.EventStream
		objs       []client.Object
		wantCalls  []string
		wantPatch  *management.EventStream
		wantID     string
		wantHash   string
		wantEvents int
		err        string
	}{
		"RenameOnly": {
			api:       newAPI(webhookRemote(streamID)),
			es:        webhookES("bearer", withStream(streamID), withHash(hashOf(bearer, token)), func(es *v1alpha1.EventStream) { es.Spec.ForProvider.Name = "hooks-v2" }),
			objs:      []client.Object{hookSecret(token)},
			wantCalls: []string{"GET " + streamID, "PATCH " + streamID},
			wantPatch: &management.EventStream{Name: new("hooks-v2")},
			wantID:    streamID, wantHash: hashOf(bearer, token),
		},
		"SubscriptionsAndStatus": {
			api: newAPI(actionRemote(streamID, "act_1")),
			es: actionES("act_1", withStream(streamID), func(es *v1alpha1.EventStream) {
				es.Spec.ForProvider.Subscriptions = []string{"user.deleted", "user.created"}
				es.Spec.ForProvider.Status = "disabled"
			}),
			wantCalls: []string{"GET " + streamID, "PATCH " + streamID},
			wantPatch: &management.EventStream{Subscriptions: subs("user.deleted", "user.created"), Status: new("disabled")},
			wantID:    streamID,
		},
		"SecretRotated": {
			api:       newAPI(webhookRemote(streamID)),
			es:        webhookES("bearer", withStream(streamID), withHash(hashOf(bearer, token))),
			objs:      []client.Object{hookSecret(rotated)},
			wantCalls: []string{"GET " + streamID, "PATCH " + streamID},
			wantPatch: &management.EventStream{Destination: &management.EventStreamDestination{EventStreamDestinationType: new("webhook"), EventStreamDestinationConfiguration: map[string]any{
				"webhook_endpoint": "https://example.net/hook", "webhook_authorization": map[string]any{"method": "bearer", "token": rotated},
			}}},
			wantID: streamID, wantHash: hashOf(bearer, rotated),
		},
		"ActionIDChanged": {
			api:       newAPI(actionRemote(streamID, "act_1")),
			es:        actionES("act_2", withStream(streamID)),
			wantCalls: []string{"GET " + streamID, "PATCH " + streamID},
			wantPatch: &management.EventStream{Destination: &management.EventStreamDestination{EventStreamDestinationType: new("action"), EventStreamDestinationConfiguration: map[string]any{"action_id": "act_2"}}},
			wantID:    streamID,
		},
		"EventBridgeRenameKeepsDestinationOut": {
			api:       newAPI(eventBridgeRemote(streamID, "us-east-1")),
			es:        eventBridgeES("us-east-1", withStream(streamID), func(es *v1alpha1.EventStream) { es.Spec.ForProvider.Name = "bridge-2" }),
			wantCalls: []string{"GET " + streamID, "PATCH " + streamID},
			wantPatch: &management.EventStream{Name: new("bridge-2")},
			wantID:    streamID,
		},
		"EventBridgeRegionReplaces": {
			api:        newAPI(eventBridgeRemote(streamID, "us-east-1")),
			es:         eventBridgeES("eu-west-1", withStream(streamID)),
			wantCalls:  []string{"GET " + streamID, "POST", "DELETE " + streamID},
			wantID:     streamID2,
			wantEvents: 1,
		},
		"DestinationTypeReplaces": {
			api: newAPI(webhookRemote(streamID)),
			es: actionES("act_1", withStream(streamID), func(es *v1alpha1.EventStream) {
				es.Name = "hooks"
				es.Spec.ForProvider.Name = "hooks"
			}),
			wantCalls:  []string{"GET " + streamID, "POST", "DELETE " + streamID},
			wantID:     streamID2,
			wantEvents: 1,
		},
		"PatchRejected": {
			api: func() *fakeAPI {
				f := newAPI(actionRemote(streamID, "act_1"))
				f.err["PATCH"] = &apiError{400, "Payload validation error"}
				return f
			}(),
			es:        actionES("act_2", withStream(streamID)),
			wantCalls: []string{"GET " + streamID, "PATCH " + streamID},
			err:       "cannot update the event stream in Auth0: Auth0 rejected the event stream: 400",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e, kube, rec := setup(t, tc.api, tc.es, tc.objs...)
			if _, err := e.Observe(context.Background(), tc.es); err != nil {
				t.Fatalf("Observe() error = %v", err)
			}
			_, err := e.Update(context.Background(), tc.es)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Update() error = %v, want %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatalf("Update() error = %v", err)
			}
			if diff := cmp.Diff(tc.wantCalls, tc.api.calls); diff != "" {
				t.Errorf("Auth0 calls -want +got:\n%s", diff)
			}
			if tc.wantPatch != nil {
				if len(tc.api.bodies) != 1 {
					t.Fatalf("PATCH bodies = %d, want 1", len(tc.api.bodies))
				}
				if diff := cmp.Diff(tc.wantPatch, tc.api.bodies[0]); diff != "" {
					t.Errorf("PATCH body -want +got:\n%s", diff)
				}
			}
			if tc.err != "" {
				return
			}
			if got := meta.GetExternalName(tc.es); got != tc.wantID {
				t.Errorf("external name = %q, want %q", got, tc.wantID)
			}
			if tc.es.Status.AppliedSecretsHash != tc.wantHash {
				t.Errorf("status.appliedSecretsHash = %q, want %q", tc.es.Status.AppliedSecretsHash, tc.wantHash)
			}
			if tc.es.Status.AtProvider.ID != tc.wantID {
				t.Errorf("status.atProvider.id = %q, want %q", tc.es.Status.AtProvider.ID, tc.wantID)
			}
			if len(rec.events) != tc.wantEvents {
				t.Errorf("events = %v, want %d", rec.events, tc.wantEvents)
			}
			for _, ev := range rec.events {
				if ev.Reason != reasonReplace || !strings.Contains(ev.Message, streamID) {
					t.Errorf("event %+v, want a %s event naming %s", ev, reasonReplace, streamID)
				}
			}
			if tc.wantID != streamID {
				stored := &v1alpha1.EventStream{}
				if err := kube.Get(context.Background(), client.ObjectKeyFromObject(tc.es), stored); err != nil {
					t.Fatal(err)
				}
				if got := meta.GetExternalName(stored); got != tc.wantID {
					t.Errorf("stored external name = %q, want %q", got, tc.wantID)
				}
				if _, ok := tc.api.streams[streamID]; ok {
					t.Errorf("replaced stream %s still exists", streamID)
				}
			}
		})
	}
}

func TestDelete(t *testing.T) {
	cases := map[string]struct {
		api       *fakeAPI
		es        *v1alpha1.EventStream
		wantCalls []string
		err       string
	}{
		"Deletes":       {api: newAPI(webhookRemote(streamID)), es: webhookES("bearer", withStream(streamID)), wantCalls: []string{"DELETE " + streamID}},
		"GoneIsDeleted": {api: newAPI(), es: eventBridgeES("us-east-1", withStream(streamID)), wantCalls: []string{"DELETE " + streamID}},
		"NeverCreated":  {api: newAPI(), es: actionES("act_1")},
		"DeleteFails": {
			api:       func() *fakeAPI { f := newAPI(); f.err["DELETE"] = &apiError{403, "Insufficient scope"}; return f }(),
			es:        actionES("act_1", withStream(streamID)),
			wantCalls: []string{"DELETE " + streamID},
			err:       "cannot delete the event stream in Auth0: Auth0 denied the call",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e, _, _ := setup(t, tc.api, tc.es)
			_, err := e.Delete(context.Background(), tc.es)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Delete() error = %v, want %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatalf("Delete() error = %v", err)
			}
			if diff := cmp.Diff(tc.wantCalls, tc.api.calls, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Auth0 calls -want +got:\n%s", diff)
			}
			if _, ok := tc.api.streams[streamID]; ok {
				t.Errorf("stream still exists")
			}
		})
	}
}

func TestRejectedCreateSkipsAdoption(t *testing.T) {
	api := newAPI(webhookRemote(streamID))
	api.err["POST"] = &apiError{429, "Global limit has been reached"}
	es := webhookES("bearer")
	e, _, _ := setup(t, api, es, hookSecret(token))
	if _, err := e.Create(context.Background(), es); err == nil || !strings.Contains(err.Error(), "rate limited by Auth0") {
		t.Fatalf("Create() error = %v, want a rate limit", err)
	}
	if es.Status.Ownership != nil {
		t.Errorf("status.ownership = %+v after a create Auth0 refused, want no attempt left", es.Status.Ownership)
	}
	obs, err := e.Observe(context.Background(), es)
	if err != nil {
		t.Fatal(err)
	}
	if obs.ResourceExists {
		t.Errorf("adopted a stream although Auth0 refused the create")
	}
	if diff := cmp.Diff([]string{"POST"}, api.calls); diff != "" {
		t.Errorf("Auth0 calls -want +got:\n%s", diff)
	}

	// A 5xx proves nothing: the next Observe looks for the stream.
	api.err["POST"] = &apiError{503, "Service Unavailable"}
	if _, err := e.Create(context.Background(), es); err == nil {
		t.Fatal("Create() succeeded")
	}
	api.calls = nil
	if _, err := e.Observe(context.Background(), es); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"LIST "}, api.calls); diff != "" {
		t.Errorf("Auth0 calls after a 503 -want +got:\n%s", diff)
	}
}
