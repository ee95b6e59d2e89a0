package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an io.Writer safe to read while run writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var listening = regexp.MustCompile(`listening on (https?://127\.0\.0\.1:\d+)`)

// serve runs the binary's run function until the returned stop is called,
// and returns its base URL once it listens.
func serve(t *testing.T, c cli) (string, *syncBuffer, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, c, out) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			stopped := false
			return m[1], out, func() {
				if stopped {
					return
				}
				stopped = true
				cancel()
				if err := <-done; err != nil {
					t.Errorf("run: %v", err)
				}
			}
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("run ended before listening: %v\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("simulator did not report listening; output:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond) // polling for the condition above
	}
}

func baseCLI(dir string) cli {
	return cli{
		Addr: "127.0.0.1:0", Client: []string{"demo:demo-secret"}, Domain: "sim-tenant",
		TLSDir: filepath.Join(dir, "tls"), State: filepath.Join(dir, "state.json"),
		TokenTTL: 24 * time.Hour, DeliveryBackoff: time.Second,
	}
}

func trusting(t *testing.T, caFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("read CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CA file holds no certificate")
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}

func TestServeHTTPSAndPersistAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	c := baseCLI(dir)
	base, out, stop := serve(t, c)
	defer stop()
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("serves %s, want HTTPS", base)
	}
	for _, want := range []string{"--from-literal=clientId=demo", "--from-file=caCert=" + filepath.Join(dir, "tls", "ca.crt"), "kind: ProviderConfig", "--from-literal=domain=" + strings.TrimPrefix(base, "https://")} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out.String(), "demo-secret") {
		t.Errorf("output shows the client secret:\n%s", out)
	}
	caBefore, _ := os.ReadFile(filepath.Join(dir, "tls", "ca.crt"))
	hc := trusting(t, filepath.Join(dir, "tls", "ca.crt"))

	resp, err := hc.PostForm(base+"/oauth/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"demo"}, "client_secret": {"demo-secret"},
		"audience": {base + "/api/v2/"},
	})
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	_ = resp.Body.Close()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v2/event-streams", strings.NewReader(
		`{"name":"kept","subscriptions":[{"event_type":"user.created"}],"destination":{"type":"webhook","configuration":{"webhook_endpoint":"https://example.net/h","webhook_authorization":{"method":"bearer","token":"persisted-secret"}}}}`))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err = hc.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %v %v", err, resp)
	}
	var st struct{ ID string }
	_ = json.NewDecoder(resp.Body).Decode(&st)
	_ = resp.Body.Close()
	stop()

	info, err := os.Stat(c.State)
	if err != nil {
		t.Fatalf("state file: %v", err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600 (it holds secrets)", info.Mode().Perm())
	}

	// Restart on another port: the stream, its secret, the token and the
	// CA survive.
	base2, _, stop2 := serve(t, c)
	defer stop2()
	caAfter, _ := os.ReadFile(filepath.Join(dir, "tls", "ca.crt"))
	if !bytes.Equal(caBefore, caAfter) {
		t.Error("restart replaced the CA; clients trusting it would break")
	}
	req, _ = http.NewRequest(http.MethodGet, base2+"/api/v2/event-streams/"+st.ID, nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = hc.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("read after restart: %v %v", err, resp)
	}
	_ = resp.Body.Close()
	resp, err = hc.Get(base2 + "/__sim/streams")
	if err != nil {
		t.Fatalf("admin streams: %v", err)
	}
	var streams []struct {
		Name        string
		Destination struct{ Webhook struct{ Token string } }
	}
	_ = json.NewDecoder(resp.Body).Decode(&streams)
	_ = resp.Body.Close()
	if len(streams) != 1 || streams[0].Name != "kept" || streams[0].Destination.Webhook.Token != "persisted-secret" {
		t.Errorf("streams after restart = %+v", streams)
	}
}

func TestPlainHTTP(t *testing.T) {
	c := baseCLI(t.TempDir())
	c.PlainHTTP, c.State = true, ""
	base, out, stop := serve(t, c)
	defer stop()
	if !strings.HasPrefix(base, "http://") || !strings.Contains(out.String(), "plain HTTP") {
		t.Fatalf("serves %s:\n%s", base, out)
	}
	resp, err := http.Get(base + "/api/v2/event-streams")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unauthenticated list: %d, want 401", resp.StatusCode)
	}
}

func TestFlagErrors(t *testing.T) {
	for name, c := range map[string]cli{
		"client without secret": {Addr: "127.0.0.1:0", Client: []string{"demo"}, PlainHTTP: true},
		"error rate above 1":    {Addr: "127.0.0.1:0", Client: []string{"demo:s"}, PlainHTTP: true, ErrorRate: 1.5},
	} {
		err := run(t.Context(), c, &bytes.Buffer{})
		if err == nil {
			t.Errorf("%s: run succeeded, want an error", name)
		} else if strings.Contains(err.Error(), "demo:") {
			t.Errorf("%s: error %q echoes the flag", name, err)
		}
	}
}
