package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/xp-auth0/auth0-eventstream/test/e2e/controlplane"
)

// quickStart is the seed's Quick Start with one change: its event types
// (authentication.success, authentication.failure) are not in Auth0's
// catalog, so it subscribes to user.created and user.updated instead.
const quickStart = `apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: auth0.openmcf.org/v1
kind: Auth0EventStream
metadata:
  name: login-events
  namespace: demo
  labels:
    openmcf.org/provisioner: pulumi
    pulumi.openmcf.org/organization: my-org
    pulumi.openmcf.org/project: my-project
    pulumi.openmcf.org/stack.name: dev.Auth0EventStream.login-events
spec:
  destinationType: webhook
  subscriptions:
  - user.created
  - user.updated
  webhookConfiguration:
    webhookEndpoint: "https://api.example.com/webhooks/auth0"
    webhookAuthorization:
      method: bearer
      token: "your-secret-token"
`

type demoCmd struct {
	Timeout time.Duration `default:"3m" help:"How long the stream may take to become Ready."`
}

func (c *demoCmd) Run(g *cli) error {
	s, err := controlplane.Load(g.Dir)
	if err != nil {
		return err
	}
	if !s.Ready || !s.Alive() || s.Sim == nil || s.Registry == nil {
		return fmt.Errorf("no running control plane with our packages in %s: run make demo", g.Dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout+time.Minute)
	defer cancel()
	kubectl := func(stdin string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, s.Tools["kubectl"], args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconfig)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	step := func(n int, title string) { fmt.Printf("\n\033[1m%d. %s\033[0m\n", n, title) }
	show := func(cmdline, out string) { fmt.Printf("$ %s\n%s", cmdline, indentEnd(out)) }

	fmt.Printf("\nOur packages came from the registry at %s: only the Configuration was applied; Crossplane installed the Function and Provider it depends on.\n", s.Registry.Repository())
	out, err := kubectl("", "get", "configurations.pkg.crossplane.io,functions.pkg.crossplane.io,providers.pkg.crossplane.io")
	if err != nil {
		return err
	}
	show("kubectl get configurations.pkg,functions.pkg,providers.pkg", out)

	step(1, "A platform engineer applies the seed's Quick Start (event types swapped for ones in Auth0's catalog):")
	i := strings.Index(quickStart, "apiVersion: auth0")
	if i < 0 {
		return errors.New("the Quick Start has no apiVersion: auth0... resource")
	}
	fmt.Print(indent(quickStart[i:]))
	out, err = kubectl(quickStart, "apply", "-f", "-")
	if err != nil {
		return err
	}
	show("kubectl apply -f quickstart.yaml", out)

	step(2, "Crossplane calls function-auth0-eventstream; the provider creates the stream in Auth0. Waiting for Ready:")
	start := time.Now()
	if out, err = kubectl("", "wait", "--for=condition=Ready", "auth0eventstream/login-events", "-n", "demo", fmt.Sprintf("--timeout=%s", c.Timeout)); err != nil {
		d, _ := kubectl("", "describe", "auth0eventstream/login-events", "-n", "demo")
		return fmt.Errorf("%w\n%s", err, d)
	}
	fmt.Printf("%s(ready %s after apply)\n", indentEnd(out), time.Since(start).Round(100*time.Millisecond))
	out, _ = kubectl("", "get", "auth0eventstream", "-n", "demo")
	show("kubectl get auth0eventstream -n demo", out)

	step(3, "The composite resource, the EventStream managed resource it composed, and the Secret holding the token:")
	out, err = kubectl("", "get", "eventstreams.auth0.m.openmcf.org", "-n", "demo")
	if err != nil {
		return err
	}
	show("kubectl get eventstreams.auth0.m.openmcf.org -n demo", out)
	trace := exec.CommandContext(ctx, s.Tools["crank"], "beta", "trace", "auth0eventstream/login-events", "-n", "demo")
	trace.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconfig)
	tout, _ := trace.CombinedOutput()
	show("crossplane beta trace auth0eventstream/login-events -n demo", string(tout))

	id, err := kubectl("", "get", "auth0eventstream/login-events", "-n", "demo", "-o", "jsonpath={.status.outputs.id}")
	if err != nil {
		return err
	}
	step(4, "The stream as Auth0 (the simulator at "+s.Sim.URL+") holds it, via its Management API:")
	sim, err := s.SimClient()
	if err != nil {
		return err
	}
	got, err := sim.ManagementGet(ctx, "/api/v2/event-streams/"+id)
	if err != nil {
		return fmt.Errorf("read stream %s from the simulator: %w", id, err)
	}
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		return fmt.Errorf("encode stream %s: %w", id, err)
	}
	show("curl -H 'Authorization: Bearer …' "+s.Sim.URL+"/api/v2/event-streams/"+id, string(b)+"\n")

	step(5, "status.outputs of the Auth0EventStream, filled from Auth0's answer:")
	out, err = kubectl("", "get", "auth0eventstream/login-events", "-n", "demo", "-o", "jsonpath={.status.outputs}")
	if err != nil {
		return err
	}
	var outputs map[string]any
	if err := json.Unmarshal([]byte(out), &outputs); err != nil {
		return fmt.Errorf("decode status.outputs %q: %w", out, err)
	}
	if b, err = json.MarshalIndent(outputs, "", "  "); err != nil {
		return fmt.Errorf("encode status.outputs: %w", err)
	}
	show("kubectl get auth0eventstream/login-events -n demo -o jsonpath='{.status.outputs}'", string(b)+"\n")

	fmt.Printf("\nThe control plane keeps running. Try it yourself (kubectl and the crossplane CLI were built into %s):\n\n"+
		"  export KUBECONFIG=%s\n  alias kubectl=%s crossplane=%s\n  kubectl get auth0eventstream -A\n\nStop everything with:  make demo-down\n",
		filepath.Dir(s.Tools["kubectl"]), s.Kubeconfig, s.Tools["kubectl"], s.Tools["crank"])
	return nil
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

func indentEnd(s string) string {
	if s == "" || strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}
