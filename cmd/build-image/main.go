// Command build-image builds a container image from files on this machine
// with internal/ociimage and writes it as a docker-format tarball, the input
// of crossplane xpkg build --embed-runtime-image-tarball. It needs no
// container engine and pulls nothing. It prints the image digest.
//
//	build-image --platform linux/arm64 --file _output/bin/function=/function:0755 \
//	  --entrypoint /function --port 9443 --label org.opencontainers.image.version=v0.1.0 \
//	  --tag function-auth0-eventstream:v0.1.0 -o function.tar
package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/xp-auth0/auth0-eventstream/internal/ociimage"
)

type cli struct {
	Platform        string            `help:"OS/ARCH of the image, e.g. linux/amd64." required:""`
	File            []string          `help:"SRC=DST[:MODE]: a file or directory of this machine at DST in the image; MODE in octal for a file (default 0755 if executable, else 0644). Repeatable." required:"" sep:"none"`
	Entrypoint      []string          `help:"Entrypoint, one argument per flag." required:"" sep:"none"`
	Cmd             []string          `help:"Default arguments, one per flag." sep:"none"`
	Env             []string          `help:"KEY=VALUE in the image's environment. Repeatable." sep:"none"`
	Port            []string          `help:"Exposed port, e.g. 9443 or 9443/tcp. Repeatable." sep:"none"`
	Label           map[string]string `help:"KEY=VALUE image label. Repeatable." mapsep:"none"`
	SourceDateEpoch int64             `env:"SOURCE_DATE_EPOCH" help:"Creation time of the image and of every file in it, in seconds since 1970 (reproducible builds)." name:"source-date-epoch" required:""`
	CABundle        string            `help:"PEM bundle at /etc/ssl/certs/ca-certificates.crt; default: the Mozilla roots Go ships in golang.org/x/crypto/x509roots/fallback." name:"ca-bundle" type:"existingfile"`
	Tag             string            `help:"Tag recorded in the tarball's manifest.json, e.g. function-auth0-eventstream:v0.1.0." required:""`
	Output          string            `help:"Tarball to write." required:"" short:"o"`
}

func main() {
	var c cli
	kctx := kong.Parse(&c, kong.Name("build-image"), kong.Description("Build a container image from local files, without a container engine."))
	kctx.FatalIfErrorf(c.run())
}

func (c *cli) run() error {
	osName, arch, ok := strings.Cut(c.Platform, "/")
	if !ok || osName == "" || arch == "" || strings.Contains(arch, "/") {
		return fmt.Errorf("--platform %q: want OS/ARCH, e.g. linux/amd64", c.Platform)
	}
	if c.SourceDateEpoch <= 0 {
		return fmt.Errorf("--source-date-epoch (SOURCE_DATE_EPOCH) %d: want seconds since 1970, e.g. git log -1 --format=%%ct", c.SourceDateEpoch)
	}
	tag, err := name.NewTag(c.Tag)
	if err != nil {
		return fmt.Errorf("--tag: %w", err)
	}
	s := ociimage.Spec{
		OS: osName, Architecture: arch,
		Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, ExposedPorts: c.Port,
		Labels:  c.Label,
		Created: time.Unix(c.SourceDateEpoch, 0),
	}
	for _, f := range c.File {
		pf, err := ociimage.ParseFile(f)
		if err != nil {
			return fmt.Errorf("--file: %w", err)
		}
		s.Files = append(s.Files, pf)
	}
	if c.CABundle != "" {
		if s.CABundle, err = os.ReadFile(c.CABundle); err != nil {
			return fmt.Errorf("--ca-bundle: %w", err)
		}
	}
	img, err := ociimage.Build(s)
	if err != nil {
		return err
	}
	if err := tarball.WriteToFile(c.Output, tag, img); err != nil {
		return fmt.Errorf("write %s: %w", c.Output, err)
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s %s\n", d, c.Platform, c.Output)
	return nil
}
