// Package images defines the runtime images this repository ships, the
// Function's and the Provider's, once: make packages builds them with
// internal/ociimage (cmd/build-image --image), and make generate writes
// each one's Dockerfile from the same definition (hack/gen-dockerfiles),
// for teams whose build or CI expects docker build.
package images

import (
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/xp-auth0/auth0-eventstream/internal/ociimage"
)

// Module is the module the binaries are built from.
const Module = "github.com/xp-auth0/auth0-eventstream"

// Labels the images carry besides org.opencontainers.image.created.
const (
	LabelTitle    = "org.opencontainers.image.title"
	LabelSource   = "org.opencontainers.image.source"
	LabelVersion  = "org.opencontainers.image.version"
	LabelRevision = "org.opencontainers.image.revision"
)

// Source is the repository the images' source label names.
const Source = "https://github.com/xp-auth0/auth0-eventstream"

// Image is one runtime image: a static Go binary on ociimage's base layer.
type Image struct {
	// Name is the image's repository and title label, e.g.
	// function-auth0-eventstream.
	Name string
	// Package is the main package of the binary, relative to the module
	// root as go build takes it: "." or "./cmd/provider".
	Package string
	// Binary is where the binary is in the image, mode 0755, owned by
	// root: the entrypoint.
	Binary string
	// Ports the image exposes, as PORT/PROTO.
	Ports []string
	// Env the image sets after ociimage's PATH, as KEY=VALUE.
	Env []string
	// DockerfilePath is where make generate writes its Dockerfile, from
	// the module root.
	DockerfilePath string
}

// All lists every image, in the order make packages builds them: the
// Function's and the Provider's, which the xpkgs embed.
func All() []Image {
	return []Image{{
		Name:           "function-auth0-eventstream",
		Package:        ".",
		Binary:         "/function",
		Ports:          []string{"9443/tcp", "8080/tcp"}, // gRPC, metrics
		DockerfilePath: "Dockerfile",
	}, {
		Name:           "provider-auth0-eventstream",
		Package:        "./cmd/provider",
		Binary:         "/provider",
		Ports:          []string{"8080/tcp", "8081/tcp"}, // metrics, probes
		DockerfilePath: "cmd/provider/Dockerfile",
	}}
}

// Lookup returns the image named name.
func Lookup(name string) (Image, error) {
	var names []string
	for _, i := range All() {
		if i.Name == name {
			return i, nil
		}
		names = append(names, i.Name)
	}
	return Image{}, fmt.Errorf("no image %q: want one of %s", name, strings.Join(names, ", "))
}

// How the binaries are compiled, by make packages and in the Dockerfiles:
// static (CGO_ENABLED=0, the image has no libc), no build paths in the
// binary, no VCS stamp (the Docker build context has no .git), symbols
// stripped, and the version in internal/version.
const (
	CGOEnabled = "0"
	VersionVar = Module + "/internal/version.Version"
)

// GoBuildFlags are go build's flags besides -ldflags.
func GoBuildFlags() []string { return []string{"-trimpath", "-buildvcs=false"} }

// LDFlags is go build's -ldflags for version.
func LDFlags(version string) string { return "-s -w -X " + VersionVar + "=" + version }

// MainPackage is the import path of i's main package.
func (i Image) MainPackage() string {
	return path.Clean(path.Join(Module, i.Package))
}

// Spec is the ociimage.Spec of i for the binary at bin, built for
// linux/arch. labels are added to the title and source labels.
func (i Image) Spec(bin, arch string, labels map[string]string, created time.Time) ociimage.Spec {
	l := map[string]string{LabelTitle: i.Name, LabelSource: Source}
	maps.Copy(l, labels)
	return ociimage.Spec{
		OS:           "linux",
		Architecture: arch,
		Files:        []ociimage.File{{Src: bin, Dst: i.Binary, Mode: 0o755}},
		Entrypoint:   []string{i.Binary},
		Env:          slices.Clone(i.Env),
		ExposedPorts: slices.Clone(i.Ports),
		Labels:       l,
		Created:      created,
	}
}

// CheckBinary fails unless the Go binary at bin was built as i's binary
// for linux/arch, as far as the binary records it: from i's package, with
// CGO_ENABLED and -trimpath as above and no VCS stamp (its Go build
// information), statically linked and stripped (-s -w: no interpreter, no
// symbol table, no DWARF). Go does not record -ldflags under -trimpath, so
// the version stamp is checked by running the binary (TestPackages). make
// packages compiles with its own go build line; this keeps that line to
// the definition here.
func (i Image) CheckBinary(bin, arch string) error {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("%s: read Go build information: %w", bin, err)
	}
	var errs []error
	if info.Path != i.MainPackage() {
		errs = append(errs, fmt.Errorf("built from package %s, want %s", info.Path, i.MainPackage()))
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
		if strings.HasPrefix(s.Key, "vcs") {
			errs = append(errs, fmt.Errorf("setting %s=%s: want no VCS stamp (-buildvcs=false)", s.Key, s.Value))
		}
	}
	for k, want := range map[string]string{
		"CGO_ENABLED": CGOEnabled,
		"-trimpath":   "true",
		"GOOS":        "linux",
		"GOARCH":      arch,
	} {
		if got := settings[k]; got != want {
			errs = append(errs, fmt.Errorf("setting %s=%q, want %q", k, got, want))
		}
	}
	errs = append(errs, checkStripped(bin))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s is not the binary internal/images defines for %s: %w", bin, i.Name, err)
	}
	return nil
}

// checkStripped fails unless bin is a static ELF binary without symbols
// or debug information.
func checkStripped(bin string) error {
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("not an ELF binary: %w", err)
	}
	defer f.Close() //nolint:errcheck // Read-only.
	var errs []error
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			errs = append(errs, errors.New("dynamically linked: want CGO_ENABLED=0 (the image has no libc)"))
		}
	}
	for _, s := range f.Sections {
		if s.Name == ".symtab" || strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
			errs = append(errs, fmt.Errorf("section %s: want none (-ldflags -s -w)", s.Name))
		}
	}
	return errors.Join(errs...)
}
