// Command verify-dockerfiles builds every image's generated Dockerfile with
// buildah and compares the image with the one make packages built: every
// file with its owner, mode and content (the binary too: the same
// toolchain and flags give the same bytes), user, entrypoint, env, ports
// and labels. hack/verify-dockerfiles.sh runs it (make verify-dockerfiles).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/xp-auth0/auth0-eventstream/internal/images"
)

func main() {
	buildah := flag.String("buildah", "buildah", "buildah command, with its global flags, split at spaces")
	budFlags := flag.String("bud-flags", "", "more buildah bud flags, split at spaces")
	buildDir := flag.String("build-dir", "", "make packages' BUILD_DIR, holding linux_ARCH/NAME-image.tar")
	arch := flag.String("arch", "", "architecture make packages built and buildah builds for")
	version := flag.String("version", "", "VERSION make packages built")
	revision := flag.String("revision", "", "REVISION make packages built")
	out := flag.String("out", "", "folder for buildah's images as docker archives")
	flag.Parse()
	failed := false
	for _, i := range images.All() {
		diffs, err := verify(i, strings.Fields(*buildah), strings.Fields(*budFlags), *buildDir, *arch, *version, *revision, *out)
		switch {
		case err != nil:
			fmt.Fprintf(os.Stderr, "verify-dockerfiles: %s: %v\n", i.DockerfilePath, err)
			failed = true
		case len(diffs) > 0:
			for _, d := range diffs {
				fmt.Fprintf(os.Stderr, "verify-dockerfiles: %s: %s\n", i.DockerfilePath, d)
			}
			failed = true
		default:
			fmt.Printf("verify-dockerfiles: %s: buildah's image of linux/%s has the files and config of make packages' (%s)\n", i.DockerfilePath, *arch, i.Name)
		}
	}
	if failed {
		os.Exit(1)
	}
}

func verify(i images.Image, buildah, budFlags []string, buildDir, arch, version, revision, out string) ([]string, error) {
	ref := "localhost/" + i.Name + ":" + version
	bud := append(append([]string{"bud", "--platform", "linux/" + arch, "--build-arg", "VERSION=" + version, "--build-arg", "REVISION=" + revision},
		budFlags...), "-f", i.DockerfilePath, "-t", ref, ".")
	if err := run(buildah, bud...); err != nil {
		return nil, err
	}
	archive := filepath.Join(out, i.Name+".tar")
	if err := os.Remove(archive); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	if err := run(buildah, "push", ref, "docker-archive:"+archive+":"+i.Name+":"+version); err != nil {
		return nil, err
	}
	got, err := summarize(archive)
	if err != nil {
		return nil, fmt.Errorf("buildah's image: %w", err)
	}
	// buildah stamps its own version (buildah bud --identity-label=false,
	// which would leave it out, is newer than Debian 12's buildah).
	delete(got.Labels, "io.buildah.version")
	want, err := summarize(filepath.Join(buildDir, "linux_"+arch, path.Base(i.Binary)+"-image.tar"))
	if err != nil {
		return nil, fmt.Errorf("make packages' image: %w", err)
	}
	return want.Diff(got), nil
}

func summarize(p string) (images.Summary, error) {
	img, err := tarball.ImageFromPath(p, nil)
	if err != nil {
		return images.Summary{}, err
	}
	return images.Summarize(img)
}

func run(cmd []string, args ...string) error {
	c := exec.Command(cmd[0], append(cmd[1:], args...)...) //nolint:noctx // Runs as long as the build takes.
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", strings.Join(cmd, " "), strings.Join(args, " "), err)
	}
	return nil
}
