package auth0sim_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/auth0/go-auth0/management"

	"github.com/xp-auth0/auth0-eventstream/internal/auth0sim"
)

const (
	clientID     = "test-client"
	clientSecret = "test-secret"
)

func start(t *testing.T, opts auth0sim.Options) *auth0sim.Running {
	t.Helper()
	if opts.Clients == nil {
		opts.Clients = map[string]string{clientID: clientSecret}
	}
	r, err := auth0sim.Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

func api(t *testing.T, r *auth0sim.Running, opts ...management.Option) *management.Management {
	t.Helper()
	m, err := r.Management(t.Context(), clientID, clientSecret, opts...)
	if err != nil {
		t.Fatalf("Management: %v", err)
	}
	return m
}

func webhookStream(name string) *management.EventStream {
	return &management.EventStream{
		Name:          new(name),
		Subscriptions: &[]management.EventStreamSubscription{{EventStreamSubscriptionType: new("user.created")}},
		Destination: &management.EventStreamDestination{
			EventStreamDestinationType: new("webhook"),
			EventStreamDestinationConfiguration: map[string]any{
				"webhook_endpoint": "https://example.net/hook",
				"webhook_authorization": map[string]any{
					"method": "bearer",
					"token":  "s3cr3t-token",
				},
			},
		},
	}
}

func status(err error) int {
	if merr, ok := errors.AsType[management.Error](err); ok {
		return merr.Status()
	}
	return 0
}

func TestClientCRUD(t *testing.T) {
	r := start(t, auth0sim.Options{})
	m := api(t, r)
	ctx := t.Context()

	es := webhookStream("crud")
	if err := m.EventStream.Create(ctx, es); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if got := es.GetStatus(); got != "enabled" {
		t.Errorf("status after create = %q, want enabled", got)
	}
	if _, ok := es.GetDestination().EventStreamDestinationConfiguration["webhook_authorization"].(map[string]any)["token"]; ok {
		t.Error("create answer returned the write-only token")
	}
	stored, ok := r.Server().Stream(es.GetID())
	if !ok || stored.Destination.Webhook.Token != "s3cr3t-token" {
		t.Errorf("stored token = %+v, want it kept", stored.Destination.Webhook)
	}

	got, err := m.EventStream.Read(ctx, es.GetID())
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if got.GetName() != "crud" || !got.GetCreatedAt().Equal(es.GetCreatedAt()) {
		t.Errorf("Read = %+v, want the created stream", got)
	}

	if err := m.EventStream.Update(ctx, es.GetID(), &management.EventStream{Status: new("disabled")}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	got, err = m.EventStream.Read(ctx, es.GetID())
	if err != nil {
		t.Fatalf("Read after update: %v", err)
	}
	if got.GetStatus() != "disabled" || got.GetName() != "crud" || len(got.GetSubscriptions()) != 1 {
		t.Errorf("after PATCH of status only: %+v, want status disabled and the rest kept", got)
	}
	if !got.GetUpdatedAt().After(got.GetCreatedAt()) {
		t.Errorf("updated_at %v did not move past created_at %v", got.GetUpdatedAt(), got.GetCreatedAt())
	}

	if err := m.EventStream.Delete(ctx, es.GetID()); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := m.EventStream.Read(ctx, es.GetID()); status(err) != http.StatusNotFound {
		t.Errorf("Read after delete: %v, want 404", err)
	}
	c := r.Server().Counters()
	if c.TokensIssued != 1 {
		t.Errorf("tokens issued = %d, want 1 (the token is reused)", c.TokensIssued)
	}
	if n := c.Get("POST /api/v2/event-streams", "201"); n != 1 {
		t.Errorf("create calls counted = %d, want 1", n)
	}
}

func TestClientListPaging(t *testing.T) {
	r := start(t, auth0sim.Options{})
	m := api(t, r)
	ctx := t.Context()
	var ids []string
	for range 5 {
		es := webhookStream("same-name") // names are not unique
		if err := m.EventStream.Create(ctx, es); err != nil {
			t.Fatalf("Create: %v", err)
		}
		ids = append(ids, es.GetID())
	}
	var seen []string
	from := ""
	for page := 0; ; page++ {
		opts := []management.RequestOption{management.Take(2)}
		if from != "" {
			opts = append(opts, management.From(from))
		}
		l, err := m.EventStream.List(ctx, opts...)
		if err != nil {
			t.Fatalf("List page %d: %v", page, err)
		}
		for _, es := range l.EventStreams {
			seen = append(seen, es.GetID())
		}
		if l.Next == "" {
			break
		}
		from = l.Next
		if page > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != len(ids) {
		t.Fatalf("paged through %v, want %v", seen, ids)
	}
	for i := range ids {
		if seen[i] != ids[i] {
			t.Errorf("item %d = %s, want %s (creation order)", i, seen[i], ids[i])
		}
	}
}

func TestTokenExpiresForReal(t *testing.T) {
	c := newClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r := start(t, auth0sim.Options{Now: c.Now, TokenTTL: time.Hour})
	m := api(t, r)
	ctx := t.Context()
	if _, err := m.EventStream.List(ctx); err != nil {
		t.Fatalf("List: %v", err)
	}
	c.Advance(2 * time.Hour) // the token outlived its expires_in
	// go-auth0 still holds the token (its own clock says it is fresh), so
	// the simulator must refuse it.
	if _, err := m.EventStream.List(ctx); status(err) != http.StatusUnauthorized {
		t.Errorf("List with an expired token: %v, want 401", err)
	}
}
