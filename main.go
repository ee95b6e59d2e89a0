// Package main implements the Auth0EventStream composition function: it turns
// an Auth0EventStream composite resource into an auth0.m.openmcf.org
// EventStream managed resource and reports the stream's state back.
package main

import (
	"fmt"
	"time"

	"github.com/alecthomas/kong"

	function "github.com/crossplane/function-sdk-go"

	"github.com/xp-auth0/auth0-eventstream/internal/version"
)

// CLI of this Function: the flags Crossplane and crossplane render expect.
type CLI struct {
	Version kong.VersionFlag `help:"Print the version and exit."`

	Debug bool `help:"Emit debug logs in addition to info logs." short:"d"`

	Network               string        `default:"tcp"   help:"Network on which to listen for gRPC connections."`
	Address               string        `default:":9443" help:"Address at which to listen for gRPC connections."`
	TLSCertsDir           string        `env:"TLS_SERVER_CERTS_DIR" help:"Directory containing server certs (tls.key, tls.crt) and the CA used to verify client certificates (ca.crt)." name:"tls-server-certs-dir"`
	Insecure              bool          `help:"Run without mTLS credentials. If you supply this flag --tls-server-certs-dir will be ignored."`
	MaxReceiveMessageSize int           `default:"4"     help:"Maximum size of received messages in MB."`
	MetricsAddress        string        `default:":8080" help:"Address at which to serve Prometheus metrics; empty disables them."`
	SteadyTTL             time.Duration `default:"10m" help:"How long Crossplane may wait before running the function again for a converged composite (every composed resource ready, no warning); changes of the composite and its composed resources run it at once regardless. Others get the SDK's default, a minute." name:"steady-ttl"`
}

// Run this Function.
func (c *CLI) Run() error {
	log, err := function.NewLogger(c.Debug)
	if err != nil {
		return err
	}
	// Compile the XRD's schema before serving: a broken schema fails the
	// start, not every request.
	if _, err := specSchema(); err != nil {
		return fmt.Errorf("cannot load the Auth0EventStream schema: %w", err)
	}

	if c.SteadyTTL <= 0 {
		return fmt.Errorf("--steady-ttl %s must be more than 0", c.SteadyTTL)
	}
	return function.Serve(&Function{log: log, steady: c.SteadyTTL},
		function.Listen(c.Network, c.Address),
		function.MTLSCertificates(c.TLSCertsDir),
		function.Insecure(c.Insecure),
		function.MaxRecvMessageSize(c.MaxReceiveMessageSize*1024*1024),
		function.WithMetricsServer(c.MetricsAddress))
}

func main() {
	ctx := kong.Parse(&CLI{}, kong.Description("A Crossplane composition function that composes Auth0 event streams."),
		kong.Vars{"version": version.Version})
	ctx.FatalIfErrorf(ctx.Run())
}
