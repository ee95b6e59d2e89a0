// Command auth0-sim serves a local Auth0 Management API simulator for event
// streams: for demos, tests and local development without an Auth0 tenant.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/xp-auth0/auth0-eventstream/internal/auth0sim"
)

// cli holds the flags.
type cli struct {
	Addr      string   `default:"127.0.0.1:8443" help:"Address to listen on (loopback unless told otherwise)."`
	Client    []string `env:"AUTH0_SIM_CLIENT" help:"A client for the client-credentials grant, as id:secret (repeatable). The environment variable keeps the secret out of the command line, which logs and ps show." placeholder:"ID:SECRET" required:"" sep:"none"`
	Domain    string   `default:"${default_domain}" help:"Tenant name used in aws_partner_event_source and event payloads."`
	TLSDir    string   `default:"_output/auth0-sim" help:"Directory holding ca.crt and ca.key; a CA is generated there when missing." name:"tls-dir" type:"path"`
	PlainHTTP bool     `help:"Serve plain HTTP (for curl and local tools; go-auth0 needs HTTPS)." name:"plain-http"`
	State     string   `help:"File to load state from at start and persist it to while running, so a demo survives a restart." type:"path"`

	TokenTTL        time.Duration `default:"24h" help:"Lifetime of issued tokens (expires_in)." name:"token-ttl"`
	RateLimit       float64       `default:"0" help:"Management API requests per second for the tenant; 0 is unlimited." name:"rate-limit"`
	Burst           int           `default:"0" help:"Token bucket size; default the rate rounded up."`
	DeliveryBackoff time.Duration `default:"1s" help:"Base delay between delivery attempts of test events." name:"delivery-backoff"`

	ErrorRate        float64       `default:"0" help:"Probability of answering a Management API call with 500 or 503." name:"error-rate"`
	Latency          time.Duration `default:"0s" help:"Latency added to every Management API call."`
	HangRate         float64       `default:"0" help:"Probability of a Management API call hanging until the client gives up." name:"hang-rate"`
	LostResponseRate float64       `default:"0" help:"Probability of committing a write, then dropping the connection before answering." name:"lost-response-rate"`
}

func main() {
	var c cli
	kctx := kong.Parse(&c,
		kong.Name("auth0-sim"),
		kong.Description("A local Auth0 Management API simulator for event streams."),
		kong.Vars{"default_domain": auth0sim.DefaultDomain},
	)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kctx.FatalIfErrorf(run(ctx, c, os.Stdout))
}

func run(ctx context.Context, c cli, out io.Writer) error {
	faults := auth0sim.Faults{ErrorRate: c.ErrorRate, Latency: c.Latency, HangRate: c.HangRate, LostResponseRate: c.LostResponseRate}
	if err := faults.Validate(); err != nil {
		return fmt.Errorf("invalid fault flags: %w", err)
	}
	clients, err := parseClients(c.Client)
	if err != nil {
		return err
	}
	srv := auth0sim.New(auth0sim.Options{
		Domain: c.Domain, Clients: clients, TokenTTL: c.TokenTTL,
		RateLimit: c.RateLimit, Burst: c.Burst, Faults: faults, DeliveryBackoff: c.DeliveryBackoff,
	})
	if c.State != "" {
		if err := load(srv, c.State); err != nil {
			return err
		}
	}
	cfg := auth0sim.ListenConfig{Addr: c.Addr, PlainHTTP: c.PlainHTTP}
	caPath := ""
	if !c.PlainHTTP {
		ca, path, err := loadOrCreateCA(c.TLSDir)
		if err != nil {
			return err
		}
		cfg.CA, caPath = ca, path
	}
	r, err := auth0sim.Listen(srv, cfg)
	if err != nil {
		return err
	}
	printHowTo(out, r, c, caPath)

	if c.State != "" {
		last, err := json.Marshal(srv.Dump())
		if err != nil {
			return fmt.Errorf("encode the simulator's state: %w", err)
		}
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-tick.C:
				var err error
				if last, err = persist(srv, c.State, last); err != nil {
					_, _ = fmt.Fprintf(os.Stderr, "auth0-sim: %v\n", err)
				}
			}
		}
	} else {
		<-ctx.Done()
	}
	// ctx is done by now; shutting down gets its own deadline.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.Shutdown(sctx); err != nil {
		r.Close()
	}
	if c.State != "" {
		// Persist what the last calls changed, after they finished.
		if _, err := persist(srv, c.State, nil); err != nil {
			return err
		}
	}
	_, _ = fmt.Fprintln(out, "auth0-sim stopped")
	return nil
}

func parseClients(flags []string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range flags {
		id, secret, ok := strings.Cut(f, ":")
		if !ok || id == "" || secret == "" {
			// Never echo the flag: it holds a secret.
			return nil, errors.New("--client must be id:secret with both parts non-empty")
		}
		out[id] = secret
	}
	return out, nil
}

func load(srv *auth0sim.Server, path string) error {
	b, err := os.ReadFile(path) //nolint:gosec // The --state file the operator named.
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot read state: %w", err)
	}
	var st auth0sim.State
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("cannot parse state %s: %w", path, err)
	}
	if err := srv.Seed(st); err != nil {
		return fmt.Errorf("cannot load state %s: %w", path, err)
	}
	return nil
}

// persist writes the state when it differs from last, atomically; the file
// holds stored secrets and tokens, so only its owner may read it.
func persist(srv *auth0sim.Server, path string, last []byte) ([]byte, error) {
	b, err := json.MarshalIndent(srv.Dump(), "", "  ")
	if err != nil {
		return last, fmt.Errorf("cannot encode state: %w", err)
	}
	if last != nil && bytes.Equal(compact(b), compact(last)) {
		return last, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return last, fmt.Errorf("cannot create state directory: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return last, fmt.Errorf("cannot write state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return last, fmt.Errorf("cannot replace state: %w", err)
	}
	return b, nil
}

func compact(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

// loadOrCreateCA reuses the CA in dir so clients that trust it keep
// working across restarts, or makes one.
func loadOrCreateCA(dir string) (*auth0sim.CA, string, error) {
	certPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	cert, cerr := os.ReadFile(certPath) //nolint:gosec // In the --tls-dir the operator named.
	key, kerr := os.ReadFile(keyPath)   //nolint:gosec // In the --tls-dir the operator named.
	if cerr == nil && kerr == nil {
		ca, err := auth0sim.LoadCA(cert, key)
		if err != nil {
			return nil, "", fmt.Errorf("cannot use CA in %s: %w", dir, err)
		}
		return ca, certPath, nil
	}
	ca, err := auth0sim.NewCA()
	if err != nil {
		return nil, "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, "", fmt.Errorf("cannot create TLS directory: %w", err)
	}
	if err := os.WriteFile(keyPath, ca.KeyPEM, 0o600); err != nil {
		return nil, "", fmt.Errorf("cannot write CA key: %w", err)
	}
	if err := os.WriteFile(certPath, ca.CertPEM, 0o644); err != nil { //nolint:gosec // a CA certificate is public
		return nil, "", fmt.Errorf("cannot write CA certificate: %w", err)
	}
	return ca, certPath, nil
}

// printHowTo says where the simulator listens and how to point a
// ProviderConfig at it. It never prints client secrets.
func printHowTo(out io.Writer, r *auth0sim.Running, c cli, caPath string) {
	ids := make([]string, 0, len(c.Client))
	for _, f := range c.Client {
		id, _, _ := strings.Cut(f, ":")
		ids = append(ids, id)
	}
	id := "<client id>"
	if len(ids) == 1 {
		id = ids[0]
	}
	_, _ = fmt.Fprintf(out, "auth0-sim: tenant %q listening on %s\n", c.Domain, r.URL)
	_, _ = fmt.Fprintf(out, "  token endpoint  %s/oauth/token (clients: %s)\n", r.URL, strings.Join(ids, ", "))
	_, _ = fmt.Fprintf(out, "  admin API       %s/__sim/  metrics %s/metrics\n", r.URL, r.URL)
	if c.State != "" {
		_, _ = fmt.Fprintf(out, "  state file      %s\n", c.State)
	}
	if c.PlainHTTP {
		_, _ = fmt.Fprintln(out, "  serving plain HTTP: fine for curl, but go-auth0 (and so the provider) speaks only HTTPS")
		return
	}
	_, _ = fmt.Fprintf(out, "  CA certificate  %s\n\n", caPath)
	_, _ = fmt.Fprintf(out, `Point a ProviderConfig at it (the Secret keys are domain, clientId, clientSecret, optional audience and caCert):

  kubectl create secret generic auth0-sim-credentials \
    --from-literal=domain=%s \
    --from-literal=clientId=%s \
    --from-literal=clientSecret='<the secret given with --client>' \
    --from-file=caCert=%s

  apiVersion: auth0.m.openmcf.org/v1alpha1
  kind: ProviderConfig
  metadata:
    name: default
  spec:
    credentials:
      source: Secret
      secretRef:
        name: auth0-sim-credentials

`, r.Domain(), id, caPath)
}
