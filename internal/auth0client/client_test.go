package auth0client

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/auth0/go-auth0/management"
)

const secret = "very-secret-client-secret"

// tenant is a minimal TLS stand-in for Auth0: enough to count what the
// client sends. The simulator in internal/auth0sim is used by the
// integration tests.
type tenant struct {
	mu       sync.Mutex
	tokens   int
	requests map[string]int
	// fail answers the first n requests to a "METHOD path" with fn.
	fail map[string]func(http.ResponseWriter)
	left map[string]int
}

func (tn *tenant) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tn.mu.Lock()
	key := r.Method + " " + r.URL.Path
	tn.requests[key]++
	var fail func(http.ResponseWriter)
	if tn.left[key] > 0 {
		tn.left[key]--
		fail = tn.fail[key]
	}
	if r.URL.Path == "/oauth/token" {
		tn.tokens++
	}
	tn.mu.Unlock()
	if fail != nil {
		fail(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/oauth/token":
		_ = r.ParseForm()
		if r.PostForm.Get("client_secret") != secret {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"access_denied","error_description":"Unauthorized"}`))
			return
		}
		_, _ = w.Write([]byte(`{"access_token":"tok","token_type":"Bearer","expires_in":86400}`))
	case r.Header.Get("Authorization") != "Bearer tok":
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"statusCode":401,"error":"Unauthorized","message":"Invalid token"}`))
	case r.Method == http.MethodGet && r.URL.Path == "/api/v2/event-streams/est_gone":
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"statusCode":404,"error":"Not Found","message":"The requested stream does not exist."}`))
	case r.Method == http.MethodPost:
		var in map[string]any
		_ = json.NewDecoder(r.Body).Decode(&in)
		in["id"] = "est_new"
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(in)
	default:
		_, _ = w.Write([]byte(`{"id":"est_1","name":"n","status":"enabled"}`))
	}
}

// drop closes the connection without an answer, as after a lost response.
func drop(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func unavailable(w http.ResponseWriter) {
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"statusCode":503,"error":"Service Unavailable","message":"try later"}`))
}

func startTenant(t *testing.T) (*tenant, *httptest.Server, []byte) {
	t.Helper()
	tn := &tenant{requests: map[string]int{}, fail: map[string]func(http.ResponseWriter){}, left: map[string]int{}}
	srv := httptest.NewTLSServer(tn)
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return tn, srv, ca
}

func creds(srv *httptest.Server, ca []byte, s string) Credentials {
	return Credentials{Domain: strings.TrimPrefix(srv.URL, "https://"), ClientID: "c", ClientSecret: s, CACert: ca}
}

func TestOneTokenForManyCalls(t *testing.T) {
	tn, srv, ca := startTenant(t)
	m := NewMetrics()
	api, err := New(creds(srv, ca, secret), Config{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 5 {
		if _, err := api.Read(ctx, "est_1"); err != nil {
			t.Fatalf("Read() error = %v", err)
		}
	}
	if err := api.Create(ctx, &management.EventStream{Name: new(string)}); err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	if err := api.Update(ctx, "est_1", &management.EventStream{}); err != nil {
		t.Fatalf("Update() error = %v", err)
	}
	if _, err := api.Read(ctx, "est_gone"); !IsNotFound(err) {
		t.Errorf("Read(gone) error = %v, want a 404", err)
	}
	if tn.tokens != 1 {
		t.Errorf("token requests = %d, want 1 shared by the retrying and the create client", tn.tokens)
	}
	if got := m.TokenFetchCount(); got != 1 {
		t.Errorf("token fetch metric = %d, want 1", got)
	}
	if got := m.CallCount("GET /api/v2/event-streams/{id}"); got != 6 {
		t.Errorf("GET metric = %d, want 6", got)
	}
}

func TestCreateIsNeverRetried(t *testing.T) {
	tn, srv, ca := startTenant(t)
	tn.fail["POST /api/v2/event-streams"], tn.left["POST /api/v2/event-streams"] = drop, 1
	api, err := New(creds(srv, ca, secret), Config{Metrics: NewMetrics()})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Create(context.Background(), &management.EventStream{}); err == nil {
		t.Fatal("Create() succeeded over a dropped connection")
	}
	if got := tn.requests["POST /api/v2/event-streams"]; got != 1 {
		t.Errorf("POST attempts = %d, want 1: a retried create can make a second stream", got)
	}
}

func TestReadRetriesServerErrors(t *testing.T) {
	tn, srv, ca := startTenant(t)
	tn.fail["GET /api/v2/event-streams/est_1"], tn.left["GET /api/v2/event-streams/est_1"] = unavailable, 1
	m := NewMetrics()
	api, err := New(creds(srv, ca, secret), Config{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.Read(context.Background(), "est_1"); err != nil {
		t.Fatalf("Read() error = %v, want success after go-auth0's retry", err)
	}
	if got := tn.requests["GET /api/v2/event-streams/est_1"]; got != 2 {
		t.Errorf("GET attempts = %d, want 2", got)
	}
	if got := m.CallCount(""); got != 2 {
		t.Errorf("calls counted = %d, want 2 (retries count)", got)
	}
}

func TestBadCredentials(t *testing.T) {
	tn, srv, ca := startTenant(t)
	api, err := New(creds(srv, ca, "wrong-"+secret), Config{Metrics: NewMetrics(), MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, err = api.Read(context.Background(), "est_1")
	}
	msg := Explain(err).Error()
	if !strings.Contains(msg, "Auth0 refused the provider's client credentials (HTTP 401 access_denied: Unauthorized)") {
		t.Errorf("Explain() = %q, want it to say the credentials were refused", msg)
	}
	if strings.Contains(msg, secret) {
		t.Errorf("Explain() leaks the client secret: %q", msg)
	}
	if tn.tokens != 1 {
		t.Errorf("token requests = %d, want 1: a refusal is remembered, not retried", tn.tokens)
	}
}

func TestUntrustedTenant(t *testing.T) {
	_, srv, _ := startTenant(t)
	api, err := New(creds(srv, nil, secret), Config{Metrics: NewMetrics()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.Read(context.Background(), "est_1"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Read() error = %v, want a certificate error without caCert", err)
	}
	if _, err := New(creds(srv, []byte("not pem"), secret), Config{Metrics: NewMetrics()}); err == nil {
		t.Errorf("New() accepted a caCert without certificates")
	}
}

func TestCredentialsNeverFormatted(t *testing.T) {
	c := Credentials{Domain: "d", ClientID: "id", ClientSecret: secret}
	for _, s := range []string{c.String(), c.GoString()} {
		if strings.Contains(s, secret) {
			t.Errorf("formatted credentials contain the secret: %s", s)
		}
	}
	if err := (Credentials{Domain: "d"}).Validate(); err == nil || err.Error() != "Auth0 credentials lack clientId, clientSecret" {
		t.Errorf("Validate() = %v", err)
	}
	if FromSecretData(map[string][]byte{"clientSecret": []byte(secret)}).Fingerprint() == FromSecretData(map[string][]byte{"clientSecret": []byte("other")}).Fingerprint() {
		t.Errorf("Fingerprint() ignores the client secret")
	}
}

func TestCacheDropsClientOnUnauthorized(t *testing.T) {
	tn, srv, ca := startTenant(t)
	c := NewCache(Config{Metrics: NewMetrics()})
	cr := creds(srv, ca, secret)
	api, err := c.Get("pc", cr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.Read(context.Background(), "est_1"); err != nil {
		t.Fatal(err)
	}
	same, _ := c.Get("pc", cr)
	if same != api {
		t.Fatal("Get() rebuilt a healthy client")
	}
	// The tenant now refuses the token it issued.
	tn.fail["GET /api/v2/event-streams/est_1"], tn.left["GET /api/v2/event-streams/est_1"] = func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"statusCode":401,"error":"Unauthorized","message":"Expired token received for JSON Web Token validation"}`))
	}, 1
	if _, err := api.Read(context.Background(), "est_1"); StatusCode(err) != http.StatusUnauthorized {
		t.Fatalf("Read() error = %v, want a 401", err)
	}
	fresh, err := c.Get("pc", cr)
	if err != nil {
		t.Fatal(err)
	}
	if fresh == api {
		t.Fatal("Get() kept the client whose token Auth0 refused")
	}
	if _, err := fresh.Read(context.Background(), "est_1"); err != nil {
		t.Fatal(err)
	}
	if tn.tokens != 2 {
		t.Errorf("token requests = %d, want 2", tn.tokens)
	}
}
