package auth0sim_test

import (
	"net/http"
	"testing"

	"github.com/xp-auth0/auth0-eventstream/internal/auth0sim"
)

// BenchmarkCreateReadDelete measures one stream's life through the handler,
// token check and validation included, without the network.
func BenchmarkCreateReadDelete(b *testing.B) {
	s := newSim(b, auth0sim.Options{})
	b.ResetTimer()
	for b.Loop() {
		code, body := s.call(http.MethodPost, "/api/v2/event-streams", validWebhook)
		if code != http.StatusCreated {
			b.Fatalf("create: %d %s", code, body)
		}
		id := body[7:33] // {"id":"est_…" — the id is first
		if code, body := s.call(http.MethodGet, "/api/v2/event-streams/"+id, ""); code != http.StatusOK {
			b.Fatalf("read %s: %d %s", id, code, body)
		}
		if code, _ := s.call(http.MethodDelete, "/api/v2/event-streams/"+id, ""); code != http.StatusNoContent {
			b.Fatalf("delete: %d", code)
		}
	}
}

// BenchmarkManagementClientRead measures a go-auth0 read over HTTPS.
func BenchmarkManagementClientRead(b *testing.B) {
	r, err := auth0sim.Start(auth0sim.Options{Clients: map[string]string{clientID: clientSecret}})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	m, err := r.Management(b.Context(), clientID, clientSecret)
	if err != nil {
		b.Fatal(err)
	}
	es := webhookStream("bench")
	if err := m.EventStream.Create(b.Context(), es); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.EventStream.Read(b.Context(), es.GetID()); err != nil {
			b.Fatal(err)
		}
	}
}
