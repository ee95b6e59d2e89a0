package controlplane

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// SimClient talks to the running simulator: its admin API (what the tenant
// really holds, secrets included) and its Management API (what Auth0
// answers a client).
type SimClient struct {
	sim  Sim
	http *http.Client
}

// SimClient returns a client for the control plane's simulator.
func (s *State) SimClient() (*SimClient, error) {
	if s.Sim == nil {
		return nil, fmt.Errorf("control plane in %s runs no simulator (start it with up --product)", s.Dir)
	}
	caPEM, err := os.ReadFile(s.Sim.CACert)
	if err != nil {
		return nil, fmt.Errorf("read simulator CA: %w", err)
	}
	return &SimClient{sim: *s.Sim, http: tlsClient(caPEM)}, nil
}

// Do sends a JSON request to the simulator and decodes its JSON answer into
// out (when not nil). token, when set, is sent as a bearer token.
func (c *SimClient) Do(ctx context.Context, method, path string, body any, out any, token string) error {
	return c.do(ctx, method, path, body, out, token)
}

func (c *SimClient) do(ctx context.Context, method, path string, body any, out any, token string) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.sim.URL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close() //nolint:errcheck // Read-only.
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return &HTTPError{Status: resp.StatusCode, Body: strings.TrimSpace(string(b))}
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode %s %s: %w", method, path, err)
	}
	return nil
}

// HTTPError is a non-2xx answer.
type HTTPError struct {
	Status int
	Body   string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

// Drift changes a stream out of band with a Management API PATCH body.
func (c *SimClient) Drift(ctx context.Context, id string, patch map[string]any) error {
	return c.do(ctx, http.MethodPatch, "/__sim/streams/"+url.PathEscape(id), patch, nil, "")
}

// Faults are the simulator's injected failures.
type Faults struct {
	ErrorRate        float64 `json:"error_rate"`
	Latency          string  `json:"latency,omitempty"`
	HangRate         float64 `json:"hang_rate"`
	LostResponseRate float64 `json:"lost_response_rate"`
}

// SetFaults replaces the injected failures.
func (c *SimClient) SetFaults(ctx context.Context, f Faults) error {
	return c.do(ctx, http.MethodPut, "/__sim/faults", f, nil, "")
}

// SetRateLimit sets the Management API's requests per second (0: none).
func (c *SimClient) SetRateLimit(ctx context.Context, rate float64, burst int) error {
	return c.do(ctx, http.MethodPut, "/__sim/ratelimit", map[string]any{"rate": rate, "burst": burst}, nil, "")
}

// ResetCounters zeroes the counters.
func (c *SimClient) ResetCounters(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/__sim/counters", nil, nil, "")
}

// ManagementGet fetches a Management API path the way a client does, with a
// client-credentials token, and returns the JSON answer.
func (c *SimClient) ManagementGet(ctx context.Context, path string) (map[string]any, error) {
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := c.do(ctx, http.MethodPost, "/oauth/token", map[string]string{
		"grant_type": "client_credentials", "client_id": c.sim.ClientID, "client_secret": c.sim.ClientSecret,
		"audience": c.sim.URL + "/api/v2/",
	}, &tok, ""); err != nil {
		return nil, fmt.Errorf("get a token: %w", err)
	}
	out := map[string]any{}
	return out, c.do(ctx, http.MethodGet, path, nil, &out, tok.AccessToken)
}

// ScriptedFaults fail the next Management API calls, in call order.
type ScriptedFaults struct {
	Hangs         int `json:"hangs"`
	Errors        int `json:"errors"`
	LostResponses int `json:"lost_responses"`
}

// Script adds faults for the next calls.
func (c *SimClient) Script(ctx context.Context, f ScriptedFaults) error {
	return c.do(ctx, http.MethodPost, "/__sim/faults/next", f, nil, "")
}
