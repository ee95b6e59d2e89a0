package auth0client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/auth0/go-auth0/management"
)

func TestHosts(t *testing.T) {
	def := MustParseHosts(DefaultHosts)
	for domain, ok := range map[string]bool{
		"example.eu.auth0.com":          true,
		"example.auth0.com":             true,
		"https://Example.EU.auth0.com/": true,
		"identity.mycompany.auth0.com":  true,
		"example.us.auth0.com:443":      true,
		"auth0.com":                     false,
		"evilauth0.com":                 false,
		"auth0.com.evil.example":        false,
		"evil.example/.auth0.com":       false,
		"evil.example?.auth0.com":       false,
		"evil.example#.auth0.com":       false,
		"user@example.eu.auth0.com":     false,
		"example.eu.auth0.com:8443":     false,
		"127.0.0.1:8443":                false,
		"":                              false,
	} {
		if err := def.Check(domain); (err == nil) != ok {
			t.Errorf("%s.Check(%q) = %v, want allowed %v", DefaultHosts, domain, err, ok)
		}
	}

	sim := MustParseHosts("127.0.0.1:8443, *.tenants.example:9443,localhost:*")
	for domain, ok := range map[string]bool{
		"127.0.0.1:8443":         true,
		"127.0.0.1:8444":         false,
		"127.0.0.1":              false,
		"a.tenants.example:9443": true,
		"a.tenants.example":      false,
		"localhost:1":            true,
		"localhost":              true,
	} {
		if err := sim.Check(domain); (err == nil) != ok {
			t.Errorf("Check(%q) = %v, want allowed %v", domain, err, ok)
		}
	}
	if err := def.Check("evil.example"); err == nil || !strings.Contains(err.Error(), `"evil.example"`) || !strings.Contains(err.Error(), DefaultHosts) {
		t.Errorf("Check() = %v, want the domain and the allow-list named", err)
	}
	for _, bad := range []string{"", " , ", "*", "*.", "a/b", "u@h", "*.a*b"} {
		if _, err := ParseHosts(bad); err == nil {
			t.Errorf("ParseHosts(%q) accepted it", bad)
		}
	}
}

// TestNewRefusesHostOutsideAllowList: the second guard, below the
// controller's own check.
func TestNewRefusesHostOutsideAllowList(t *testing.T) {
	tn, srv, ca := startTenant(t)
	_, err := New(creds(srv, ca, secret), Config{Metrics: NewMetrics(), Hosts: MustParseHosts(DefaultHosts)})
	if err == nil || !strings.Contains(err.Error(), "is not one the provider may call") {
		t.Fatalf("New() error = %v, want a refusal", err)
	}
	if len(tn.requests) != 0 {
		t.Errorf("requests = %v, want none", tn.requests)
	}
}

// TestResponseBodyCapped: an answer past the bound fails with an error
// naming the call, token answers included; one within it is read.
func TestResponseBodyCapped(t *testing.T) {
	tn, srv, ca := startTenant(t)
	huge := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"est_1","name":"` + strings.Repeat("x", 64<<10) + `"}`))
	}
	tn.fail["GET /api/v2/event-streams/est_big"], tn.left["GET /api/v2/event-streams/est_big"] = huge, 100
	api, err := New(creds(srv, ca, secret), Config{Metrics: NewMetrics(), MaxResponseBytes: 32 << 10, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.Read(context.Background(), "est_1"); err != nil {
		t.Fatalf("Read() of a small answer = %v", err)
	}
	_, err = api.Read(context.Background(), "est_big")
	var tooLarge *ResponseTooLargeError
	if !errors.As(err, &tooLarge) || !strings.Contains(err.Error(), "GET /api/v2/event-streams/{id}") || !strings.Contains(err.Error(), "32768 bytes") {
		t.Errorf("Read() of a 64 KiB answer = %v, want a ResponseTooLargeError naming the call and the bound", err)
	}

	// A token endpoint answering without end.
	tn2, srv2, ca2 := startTenant(t)
	tn2.fail["POST /oauth/token"], tn2.left["POST /oauth/token"] = huge, 100
	api2, err := New(creds(srv2, ca2, secret), Config{Metrics: NewMetrics(), MaxResponseBytes: 32 << 10, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api2.Read(context.Background(), "est_1"); err == nil || !strings.Contains(err.Error(), "POST /oauth/token") {
		t.Errorf("Read() with a huge token answer = %v, want the bound named", err)
	}

	// The default holds a page of 100 streams many times over.
	page := `{"eventStreams":[` + strings.TrimSuffix(strings.Repeat(`{"id":"est_aaaaaaaaaaaaaaaaaaaaaa","name":"`+strings.Repeat("n", 128)+`","status":"enabled","subscriptions":[`+strings.TrimSuffix(strings.Repeat(`{"event_type":"organization.member.role.assigned"},`, 40), ",")+`],"destination":{"type":"webhook","configuration":{"webhook_endpoint":"https://`+strings.Repeat("e", 200)+`.example/hook","webhook_authorization":{"method":"basic","username":"u"}}},"created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-01T00:00:00.000Z"},`, PageSize), ",") + `]}`
	if n := len(page); n*8 > DefaultMaxResponseBytes {
		t.Errorf("a page of %d large streams is %d bytes, more than an eighth of the default bound %d", PageSize, n, DefaultMaxResponseBytes)
	}
}

// TestNoRedirects: a redirect is handed back as the answer, never
// followed to a host the allow-list did not admit.
func TestNoRedirects(t *testing.T) {
	tn, srv, ca := startTenant(t)
	other, elsewhere, _ := startTenant(t)
	tn.fail["GET /api/v2/event-streams/est_1"], tn.left["GET /api/v2/event-streams/est_1"] = func(w http.ResponseWriter) {
		w.Header().Set("Location", elsewhere.URL+"/api/v2/event-streams/est_1")
		w.WriteHeader(http.StatusTemporaryRedirect)
	}, 100
	api, err := New(creds(srv, ca, secret), Config{Metrics: NewMetrics(), MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.Read(context.Background(), "est_1"); err == nil || !strings.Contains(err.Error(), "the provider follows no redirects") {
		t.Errorf("Read() = %v, want the redirect refused", err)
	}
	if len(other.requests) != 0 {
		t.Errorf("the redirect target got %v", other.requests)
	}
}

// pages is a Lister over n streams in pages of size.
type pages struct {
	n, size int
	calls   int
	next    func(from string) string
}

func (p *pages) List(_ context.Context, from string) (*management.EventStreamList, error) {
	p.calls++
	start := 0
	if from != "" {
		_, _ = fmt.Sscanf(from, "%d", &start)
	}
	l := &management.EventStreamList{}
	for i := start; i < min(start+p.size, p.n); i++ {
		l.EventStreams = append(l.EventStreams, &management.EventStream{ID: new(fmt.Sprintf("est_%d", i))})
	}
	if start+p.size < p.n {
		l.Next = fmt.Sprint(start + p.size)
	}
	if p.next != nil {
		l.Next = p.next(from)
	}
	return l, nil
}

func TestListing(t *testing.T) {
	var seen int
	p := &pages{n: 250, size: PageSize}
	if err := (Listing{API: p}).Walk(context.Background(), func(*management.EventStream) { seen++ }); err != nil || seen != 250 || p.calls != 3 {
		t.Errorf("Walk() = %v after %d calls, %d streams; want 250 in 3 pages", err, p.calls, seen)
	}

	p = &pages{n: 250, size: 10}
	err := (Listing{API: p, MaxPages: 5}).Walk(context.Background(), func(*management.EventStream) {})
	var tooMany *TooManyPagesError
	if !errors.As(err, &tooMany) || p.calls != 5 || !strings.Contains(err.Error(), "more than 5 pages of 100 event streams") {
		t.Errorf("Walk() = %v after %d calls, want a refusal after 5 pages", err, p.calls)
	}

	// A page that hands back its own checkpoint ends the listing.
	p = &pages{n: 250, size: 10, next: func(string) string { return "10" }}
	if err := (Listing{API: p}).Walk(context.Background(), func(*management.EventStream) {}); err != nil || p.calls != 2 {
		t.Errorf("Walk() over a looping checkpoint = %v after %d calls, want 2", err, p.calls)
	}
}
