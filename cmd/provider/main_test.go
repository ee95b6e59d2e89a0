package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	"sigs.k8s.io/yaml"

	"github.com/xp-auth0/auth0-eventstream/internal/auth0client"
	"github.com/xp-auth0/auth0-eventstream/internal/controller/eventstream"
)

func TestFlags(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	var c cli
	p, err := kong.New(&c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse([]string{"--kubeconfig", "/tmp/kc", "--poll", "10s", "--auth0-ca-file", ca, "--no-enable-management-policies", "-d"}); err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	if c.Kubeconfig != "/tmp/kc" || c.Poll != 10*time.Second || c.Auth0CAFile != ca || c.EnableManagementPolicies || !c.Debug {
		t.Errorf("parsed flags = %+v", c)
	}
	if c.Sync != time.Hour || c.MaxReconcileRate != 10 || c.MetricsBindAddress != ":8080" || c.HealthProbeBindAddress != ":8081" ||
		c.Auth0MaxRetries != 3 || c.Auth0Timeout != 30*time.Second || c.CreationGracePeriod != 30*time.Second || c.PollJitter != 6*time.Second ||
		c.DeliveryPoll != 5*time.Minute || c.Auth0Domains != "*.auth0.com" || c.Auth0RateBudget != auth0client.DefaultRateBudget || (os.Getenv("POD_NAMESPACE") == "" && c.Namespace != "crossplane-system") {
		t.Errorf("defaults = %+v", c)
	}
	if err := c.validate(); err != nil {
		t.Errorf("validate() of the defaults with --poll 10s = %v", err)
	}
	for _, jitter := range []time.Duration{10 * time.Second, time.Minute, -time.Second} {
		c.PollJitter = jitter
		if err := c.validate(); err == nil {
			t.Errorf("validate() accepted --poll-jitter %s with --poll 10s", jitter)
		}
	}
	c.PollJitter = 0
	c.DeliveryPoll = -time.Second
	if err := c.validate(); err == nil {
		t.Errorf("validate() accepted --delivery-poll -1s")
	}
	c.DeliveryPoll = 0
	for _, rate := range []int{0, -1} {
		c.MaxReconcileRate = rate
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), "--max-reconcile-rate") {
			t.Errorf("validate() of --max-reconcile-rate %d = %v, want a refusal naming the flag", rate, err)
		}
	}
	c.MaxReconcileRate = 10
	for _, budget := range []int{0, -1} {
		c.Auth0RateBudget = budget
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), "--auth0-rate-budget") {
			t.Errorf("validate() of --auth0-rate-budget %d = %v, want a refusal naming the flag", budget, err)
		}
	}
	c.Auth0RateBudget = 1
	for _, domains := range []string{"", "evil.example/.auth0.com", "user@x.auth0.com", " , "} {
		c.Auth0Domains = domains
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), "--auth0-domains") {
			t.Errorf("validate() of --auth0-domains %q = %v, want a refusal naming the flag", domains, err)
		}
	}
	c.Auth0Domains = "*.auth0.com,127.0.0.1:8443"
	if err := c.validate(); err != nil {
		t.Errorf("validate() of --auth0-domains %q = %v", c.Auth0Domains, err)
	}
	if !c.ObserveFromLists || listEvery(c.ObserveFromLists, c.Poll) != c.Poll {
		t.Errorf("observations from listings are off by default, listing every %s; want on, every --poll (%s)", listEvery(c.ObserveFromLists, c.Poll), c.Poll)
	}
	var lists cli
	if _, err := kong.Must(&lists).Parse([]string{"--poll", "2m"}); err != nil || listEvery(lists.ObserveFromLists, lists.Poll) != 2*time.Minute {
		t.Errorf("--poll 2m: %v, listing every %s; want every poll", err, listEvery(lists.ObserveFromLists, lists.Poll))
	}
	var gets cli
	if _, err := kong.Must(&gets).Parse([]string{"--no-observe-from-lists", "--poll", "2m"}); err != nil || gets.ObserveFromLists || listEvery(gets.ObserveFromLists, gets.Poll) != 0 {
		t.Errorf("--no-observe-from-lists: %v, listing every %s; want a GET per stream (no listing)", err, listEvery(gets.ObserveFromLists, gets.Poll))
	}
	if c.SecretWatch != string(eventstream.SecretWatchCluster) {
		t.Errorf("--secret-watch defaults to %q, want cluster (rotation within seconds, as documented)", c.SecretWatch)
	}
	for _, w := range eventstream.SecretWatches() {
		var sw cli
		if _, err := kong.Must(&sw).Parse([]string{"--secret-watch", string(w)}); err != nil || sw.SecretWatch != string(w) {
			t.Errorf("--secret-watch %s: %v, parsed %q", w, err, sw.SecretWatch)
		}
	}
	var watchAll cli
	if _, err := kong.Must(&watchAll).Parse([]string{"--secret-watch", "namespace"}); err == nil || !strings.Contains(err.Error(), "--secret-watch") {
		t.Errorf("Parse() of --secret-watch namespace = %v, want a refusal naming the flag", err)
	}
	var fresh cli
	if _, err := kong.Must(&fresh).Parse([]string{"--auth0-ca-file", filepath.Join(t.TempDir(), "missing.pem")}); err == nil {
		t.Errorf("Parse() accepted a missing --auth0-ca-file")
	}
}

// TestProviderPackage builds the provider package with the Crossplane CLI
// and checks it declares safe-start.
func TestProviderPackage(t *testing.T) {
	cli := os.Getenv("CROSSPLANE_CLI")
	if cli == "" {
		t.Fatal("CROSSPLANE_CLI is not set: run `make test`, or export CROSSPLANE_CLI=$(hack/build-tool.sh crank)")
	}
	root := filepath.Join("..", "..", "package", "provider")
	out := filepath.Join(t.TempDir(), "provider.xpkg")
	if b, err := exec.Command(cli, "xpkg", "build", "--package-root", root, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("crossplane xpkg build: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(filepath.Join(root, "crossplane.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Spec       struct {
			Capabilities []string `json:"capabilities"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.APIVersion != "meta.pkg.crossplane.io/v1" || meta.Kind != "Provider" || !slices.Contains(meta.Spec.Capabilities, "safe-start") {
		t.Errorf("package metadata = %+v, want a meta.pkg.crossplane.io/v1 Provider with capability safe-start", meta)
	}
}
