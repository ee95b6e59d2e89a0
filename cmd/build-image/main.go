// Command build-image builds a container image from files on this machine
// with internal/ociimage and writes it as a docker-format tarball, the input
// of crossplane xpkg build --embed-runtime-image-tarball. It needs no
// container engine and pulls nothing. It prints the image digest.
//
// --image builds one of the images internal/images defines (make packages):
//
//	build-image --image function-auth0-eventstream --binary _output/bin/function \
//	  --platform linux/arm64 --label org.opencontainers.image.version=v0.1.0 \
//	  --tag function-auth0-eventstream:v0.1.0 -o function.tar
//
// The flags --file, --entrypoint, --port, --env and --cmd build any other:
//
//	build-image --platform linux/arm64 --file _output/bin/tool=/tool:0755 \
//	  --entrypoint /tool --port 9443 --tag tool:v0.1.0 -o tool.tar
//
// --base-layer writes only the base layer, as a tar, to -o: the Dockerfiles
// extract it in their build stage.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/xp-auth0/auth0-eventstream/internal/images"
	"github.com/xp-auth0/auth0-eventstream/internal/ociimage"
)

type cli struct {
	Image           string            `help:"An image internal/images defines (function-auth0-eventstream, provider-auth0-eventstream): its files, entrypoint, ports, env and title and source labels; --binary is its binary, checked to be built as defined. Instead of --file, --entrypoint, --cmd, --env and --port."`
	Binary          string            `help:"With --image: the image's binary, built for --platform." type:"existingfile"`
	BaseLayer       bool              `help:"Write only the base layer (nonroot user, CA bundle, /tmp), as a tar, to -o." name:"base-layer"`
	Platform        string            `help:"OS/ARCH of the image, e.g. linux/amd64."`
	File            []string          `help:"SRC=DST[:MODE]: a file or directory of this machine at DST in the image; MODE in octal for a file (default 0755 if executable, else 0644). Repeatable." sep:"none"`
	Entrypoint      []string          `help:"Entrypoint, one argument per flag." sep:"none"`
	Cmd             []string          `help:"Default arguments, one per flag." sep:"none"`
	Env             []string          `help:"KEY=VALUE in the image's environment. Repeatable." sep:"none"`
	Port            []string          `help:"Exposed port, e.g. 9443 or 9443/tcp. Repeatable." sep:"none"`
	Label           map[string]string `help:"KEY=VALUE image label. Repeatable." mapsep:"none"`
	SourceDateEpoch int64             `env:"SOURCE_DATE_EPOCH" help:"Creation time of the image and of every file in it, in seconds since 1970 (reproducible builds)." name:"source-date-epoch"`
	CABundle        string            `help:"PEM bundle at /etc/ssl/certs/ca-certificates.crt; default: the Mozilla roots Go ships in golang.org/x/crypto/x509roots/fallback." name:"ca-bundle" type:"existingfile"`
	Tag             string            `help:"Tag recorded in the tarball's manifest.json, e.g. function-auth0-eventstream:v0.1.0."`
	Output          string            `help:"Tarball to write." required:"" short:"o"`
}

func main() {
	var c cli
	kctx := kong.Parse(&c, kong.Name("build-image"), kong.Description("Build a container image from local files, without a container engine."))
	kctx.FatalIfErrorf(c.run())
}

func (c *cli) run() error {
	var ca []byte
	if c.CABundle != "" {
		var err error
		if ca, err = os.ReadFile(c.CABundle); err != nil {
			return fmt.Errorf("--ca-bundle: %w", err)
		}
	}
	if c.BaseLayer {
		if c.Image != "" || len(c.File) > 0 {
			return errors.New("--base-layer writes the base layer alone: no --image or --file")
		}
		return c.writeBaseLayer(ca)
	}
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
	s, err := c.spec(osName, arch)
	if err != nil {
		return err
	}
	s.CABundle = ca
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

// spec is the image the flags describe: an --image of internal/images, or
// the files and config given one by one.
func (c *cli) spec(osName, arch string) (ociimage.Spec, error) {
	created := time.Unix(c.SourceDateEpoch, 0)
	if c.Image != "" {
		def, err := images.Lookup(c.Image)
		if err != nil {
			return ociimage.Spec{}, fmt.Errorf("--image: %w", err)
		}
		if c.Binary == "" {
			return ociimage.Spec{}, fmt.Errorf("--image %s needs --binary", c.Image)
		}
		if len(c.File) > 0 || len(c.Entrypoint) > 0 || len(c.Cmd) > 0 || len(c.Env) > 0 || len(c.Port) > 0 {
			return ociimage.Spec{}, fmt.Errorf("--image %s: its definition sets the files and config; --file, --entrypoint, --cmd, --env and --port are for other images", c.Image)
		}
		if osName != "linux" {
			return ociimage.Spec{}, fmt.Errorf("--image %s is a linux image, not %s", c.Image, osName)
		}
		if err := def.CheckBinary(c.Binary, arch); err != nil {
			return ociimage.Spec{}, err
		}
		return def.Spec(c.Binary, arch, c.Label, created), nil
	}
	if c.Binary != "" {
		return ociimage.Spec{}, errors.New("--binary is for --image; other images take --file")
	}
	if len(c.File) == 0 || len(c.Entrypoint) == 0 {
		return ociimage.Spec{}, errors.New("an image needs --file and --entrypoint, or --image")
	}
	s := ociimage.Spec{
		OS: osName, Architecture: arch,
		Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, ExposedPorts: c.Port,
		Labels:  c.Label,
		Created: created,
	}
	for _, f := range c.File {
		pf, err := ociimage.ParseFile(f)
		if err != nil {
			return ociimage.Spec{}, fmt.Errorf("--file: %w", err)
		}
		s.Files = append(s.Files, pf)
	}
	return s, nil
}

// writeBaseLayer writes the base layer as a tar, stamped with
// SOURCE_DATE_EPOCH if set (the Dockerfiles do not set it: the files'
// times are the builder's to set).
func (c *cli) writeBaseLayer(ca []byte) error {
	f, err := os.Create(c.Output)
	if err != nil {
		return err
	}
	if err := ociimage.WriteBase(f, ca, nil, time.Unix(c.SourceDateEpoch, 0)); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", c.Output, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", c.Output, err)
	}
	return nil
}
