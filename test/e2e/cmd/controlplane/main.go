// Command controlplane starts and stops the local Crossplane control plane
// that make e2e and make demo use.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/xp-auth0/auth0-eventstream/test/e2e/controlplane"
)

type cli struct {
	Dir string `default:"_output/controlplane" help:"Folder for state, logs and data." type:"path"`

	Up     upCmd     `cmd:"" help:"Start the control plane (or reuse the running one)."`
	Down   downCmd   `cmd:"" help:"Stop every process of the control plane by PID."`
	Status statusCmd `cmd:"" help:"Print whether the control plane runs and how to reach it."`
	Demo   demoCmd   `cmd:"" help:"Apply the Quick Start to the running control plane and show what happens."`
	Sync   syncCmd   `cmd:"" help:"Play the package runtime after a package or runtime config change: run the images of active revisions, restart those whose DeploymentRuntimeConfig args changed, stop those of inactive ones."`
}

type syncCmd struct {
	Timeout time.Duration `default:"5m" help:"Give up after this long."`
}

func (c *syncCmd) Run(g *cli) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, c.Timeout)
	defer cancelT()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		// Crossplane may not have made the new revisions yet: done when
		// every package is healthy for its current spec.
		all, err := controlplane.SyncRuntime(ctx, g.Dir, os.Stderr)
		if err != nil {
			return err
		}
		settled, pending, err := controlplane.PackagesSettled(ctx, g.Dir)
		if err != nil {
			return err
		}
		if all && settled {
			fmt.Fprintln(os.Stderr, "controlplane: every package is healthy and every active revision runs")
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("packages not settled after %s: %s (%w)", c.Timeout, pending, ctx.Err())
		case <-tick.C:
		}
	}
}

type upCmd struct {
	Product   bool          `help:"Also install this project's packages and run the simulator, function and provider."`
	Flavour   string        `default:"namespaced" enum:"namespaced,legacy" help:"Which Configuration to install: the namespaced XR API or the legacy claim API."`
	Terraform bool          `help:"With --product, also install provider-terraform (our runtime image: OpenTofu, the Auth0 provider in an offline mirror) and ClusterProviderConfig auth0 for the terraform backend."`
	Timeout   time.Duration `default:"30m" help:"Give up after this long (first runs build binaries)."`
}

func (c *upCmd) Run(g *cli) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, c.Timeout)
	defer cancelT()
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	start := time.Now()
	s, err := controlplane.Up(ctx, controlplane.Options{Dir: g.Dir, RepoRoot: root, Product: c.Product, Flavour: c.Flavour, Terraform: c.Terraform, Log: os.Stderr})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "controlplane: up in %s\n", time.Since(start).Round(time.Second))
	fmt.Printf("export KUBECONFIG=%s\n", s.Kubeconfig)
	return nil
}

type downCmd struct{}

func (c *downCmd) Run(g *cli) error {
	dir, err := filepath.Abs(g.Dir)
	if err != nil {
		return err
	}
	return controlplane.Down(dir, os.Stderr)
}

type statusCmd struct{}

func (c *statusCmd) Run(g *cli) error {
	s, err := controlplane.Load(g.Dir)
	if err != nil {
		return err
	}
	if !s.Ready || !s.Alive() {
		return fmt.Errorf("control plane in %s is not running", g.Dir)
	}
	for _, p := range s.Processes {
		fmt.Printf("%-24s pid %-8d log %s\n", p.Name, p.PID, p.Log)
	}
	fmt.Printf("export KUBECONFIG=%s\n", s.Kubeconfig)
	return nil
}

func main() {
	var c cli
	ctx := kong.Parse(&c, kong.Description("A local Crossplane control plane for end-to-end tests and the demo."))
	ctx.FatalIfErrorf(ctx.Run(&c))
}
