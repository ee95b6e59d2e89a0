// Command gen-dockerfiles writes the Dockerfile of every image
// internal/images defines, at its DockerfilePath under the module root (the
// working directory). make generate runs it, so make generate-check fails
// when a Dockerfile drifts from the definition make packages builds.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/xp-auth0/auth0-eventstream/internal/images"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen-dockerfiles:", err)
		os.Exit(1)
	}
}

func run() error {
	for _, i := range images.All() {
		b, err := i.Dockerfile()
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(i.DockerfilePath), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(i.DockerfilePath, b, 0o644); err != nil { //nolint:gosec // A Dockerfile in the repository, world-readable like the rest.
			return fmt.Errorf("write %s: %w", i.DockerfilePath, err)
		}
	}
	return nil
}
