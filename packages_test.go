package main

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/Masterminds/semver"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"sigs.k8s.io/yaml"

	"github.com/xp-auth0/auth0-eventstream/internal/ociimage"
)

// releaseVersion is what TestPackages builds the packages as.
const releaseVersion = "v0.3.7"

// TestPackages runs make packages, as a release does, and checks what the
// packages carry: the Function and Provider per architecture with their
// runtime images, the Configurations with their dependencies stamped.
func TestPackages(t *testing.T) {
	crossplaneCLI(t) // make packages builds or reuses the same CLI.
	dir := t.TempDir()
	xpkgDir := filepath.Join(dir, "xpkg")
	cmd := exec.Command("make", "--no-print-directory", "packages", "VERSION="+releaseVersion, "XPKG_DIR="+xpkgDir, "BUILD_DIR="+filepath.Join(dir, "build"))
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1767225600")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make packages: %v\n%s", err, out)
	}
	revision, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}

	providerObjects := []string{"meta.pkg.crossplane.io/v1/Provider/provider-auth0-eventstream"}
	crds, err := filepath.Glob("package/provider/crds/*.yaml")
	if err != nil || len(crds) == 0 {
		t.Fatalf("no CRDs in package/provider/crds: %v", err)
	}
	for _, f := range crds {
		providerObjects = append(providerObjects, "apiextensions.k8s.io/v1/CustomResourceDefinition/"+objectName(t, f))
	}

	runtimes := map[string]struct {
		entrypoint string
		ports      []string
		objects    []string
	}{
		"function": {"/function", []string{"8080/tcp", "9443/tcp"}, []string{
			"meta.pkg.crossplane.io/v1beta1/Function/function-auth0-eventstream",
			"apiextensions.k8s.io/v1/CustomResourceDefinition/inputs.auth0eventstream.fn.openmcf.org",
		}},
		"provider": {"/provider", []string{"8080/tcp", "8081/tcp"}, providerObjects},
	}
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for kind, want := range runtimes {
		for arch, machine := range machines {
			t.Run(kind+"-"+arch, func(t *testing.T) {
				img := loadXpkg(t, filepath.Join(xpkgDir, kind+"-auth0-eventstream-"+arch+".xpkg"))
				cf, err := img.ConfigFile()
				if err != nil {
					t.Fatal(err)
				}
				if cf.OS != "linux" || cf.Architecture != arch {
					t.Errorf("platform %s/%s, want linux/%s", cf.OS, cf.Architecture, arch)
				}
				var ports []string
				for p := range cf.Config.ExposedPorts {
					ports = append(ports, p)
				}
				if diff := cmp.Diff(want.ports, ports, sortStrings()); diff != "" {
					t.Errorf("exposed ports: -want, +got:\n%s", diff)
				}
				if diff := cmp.Diff([]string{want.entrypoint}, cf.Config.Entrypoint); diff != "" {
					t.Errorf("entrypoint: -want, +got:\n%s", diff)
				}
				if cf.Config.User != "65532:65532" {
					t.Errorf("user %q, want 65532:65532", cf.Config.User)
				}
				for k, v := range map[string]string{
					"org.opencontainers.image.version":  releaseVersion,
					"org.opencontainers.image.revision": strings.TrimSpace(string(revision)),
					"org.opencontainers.image.source":   "https://github.com/xp-auth0/auth0-eventstream",
					"org.opencontainers.image.created":  "2026-01-01T00:00:00Z",
				} {
					if got := cf.Config.Labels[k]; got != v {
						t.Errorf("label %s = %q, want %q", k, got, v)
					}
				}

				files := imageFiles(t, img)
				bin, ok := files[want.entrypoint]
				if !ok {
					t.Fatalf("%s is not in the image", want.entrypoint)
				}
				if mode := bin.Header.FileInfo().Mode(); mode != 0o755 {
					t.Errorf("%s: mode %v, want -rwxr-xr-x", want.entrypoint, mode)
				}
				f, err := elf.NewFile(bytes.NewReader(bin.Data))
				if err != nil {
					t.Fatalf("%s is not an ELF binary: %v", want.entrypoint, err)
				}
				if f.Machine != machine {
					t.Errorf("%s is built for %v, want %v", want.entrypoint, f.Machine, machine)
				}
				for _, p := range f.Progs {
					if p.Type == elf.PT_INTERP {
						t.Errorf("%s is dynamically linked; the image has no libc", want.entrypoint)
					}
				}
				for _, p := range []string{"/etc/passwd", "/etc/ssl/certs/ca-certificates.crt", "/tmp"} {
					if _, ok := files[p]; !ok {
						t.Errorf("%s is not in the image: no base layer", p)
					}
				}
				if diff := cmp.Diff(want.objects, packageObjects(t, files), sortStrings()); diff != "" {
					t.Errorf("package.yaml: -want, +got:\n%s", diff)
				}
				if arch == runtime.GOARCH {
					p := filepath.Join(t.TempDir(), kind)
					if err := os.WriteFile(p, bin.Data, 0o755); err != nil {
						t.Fatal(err)
					}
					out, err := exec.Command(p, "--version").CombinedOutput()
					if err != nil || strings.TrimSpace(string(out)) != releaseVersion {
						t.Errorf("%s --version = %q, %v; want %s", want.entrypoint, out, err, releaseVersion)
					}
				}
			})
		}
	}

	// The API's Configurations carry the XRD and the native Composition;
	// the terraform backend's and the event bus's Compositions are
	// Configurations of their own (opt-in), which depend on the API's.
	configurations := map[string]struct {
		objects []string
		// Packages of the dependencies; those of ours have the stamped
		// version.
		dependsOn []string
	}{
		"configuration-auth0-eventstream": {
			objects: []string{
				"meta.pkg.crossplane.io/v1/Configuration/configuration-auth0-eventstream",
				"apiextensions.crossplane.io/v1/Composition/auth0eventstreams.auth0.openmcf.org",
				"apiextensions.crossplane.io/v2/CompositeResourceDefinition/auth0eventstreams.auth0.openmcf.org",
			},
			dependsOn: []string{ourPackage("function-auth0-eventstream"), ourPackage("provider-auth0-eventstream")},
		},
		"configuration-auth0-eventstream-legacy": {
			objects: []string{
				"meta.pkg.crossplane.io/v1/Configuration/configuration-auth0-eventstream-legacy",
				"apiextensions.crossplane.io/v1/Composition/xauth0eventstreams.auth0.openmcf.org",
				"apiextensions.crossplane.io/v1/CompositeResourceDefinition/xauth0eventstreams.auth0.openmcf.org",
			},
			dependsOn: []string{ourPackage("function-auth0-eventstream"), ourPackage("provider-auth0-eventstream")},
		},
		"configuration-auth0-eventstream-terraform": {
			objects: []string{
				"meta.pkg.crossplane.io/v1/Configuration/configuration-auth0-eventstream-terraform",
				"apiextensions.crossplane.io/v1/Composition/auth0eventstreams-terraform.auth0.openmcf.org",
			},
			dependsOn: []string{ourPackage("configuration-auth0-eventstream"), ourPackage("function-auth0-eventstream"), providerTerraformPackage},
		},
		"configuration-auth0-eventstream-legacy-terraform": {
			objects: []string{
				"meta.pkg.crossplane.io/v1/Configuration/configuration-auth0-eventstream-legacy-terraform",
				"apiextensions.crossplane.io/v1/Composition/xauth0eventstreams-terraform.auth0.openmcf.org",
			},
			dependsOn: []string{ourPackage("configuration-auth0-eventstream-legacy"), ourPackage("function-auth0-eventstream"), providerTerraformPackage},
		},
		"configuration-auth0-eventstream-eventbridge": {
			objects: []string{
				"meta.pkg.crossplane.io/v1/Configuration/configuration-auth0-eventstream-eventbridge",
				"apiextensions.crossplane.io/v1/Composition/auth0eventstreams-eventbridge.auth0.openmcf.org",
			},
			dependsOn: []string{ourPackage("configuration-auth0-eventstream"), ourPackage("function-auth0-eventstream"), providerAWSEventsPackage},
		},
		"configuration-auth0-eventstream-legacy-eventbridge": {
			objects: []string{
				"meta.pkg.crossplane.io/v1/Configuration/configuration-auth0-eventstream-legacy-eventbridge",
				"apiextensions.crossplane.io/v1/Composition/xauth0eventstreams-eventbridge.auth0.openmcf.org",
			},
			dependsOn: []string{ourPackage("configuration-auth0-eventstream-legacy"), ourPackage("function-auth0-eventstream"), providerAWSEventsPackage},
		},
	}
	for pkg, want := range configurations {
		t.Run(pkg, func(t *testing.T) {
			files := imageFiles(t, loadXpkg(t, filepath.Join(xpkgDir, pkg+".xpkg")))
			if diff := cmp.Diff(want.objects, packageObjects(t, files), sortStrings()); diff != "" {
				t.Errorf("package.yaml: -want, +got:\n%s", diff)
			}
			var meta configurationMeta
			for doc := range bytes.SplitSeq(files["/package.yaml"].Data, []byte("\n---\n")) {
				if bytes.Contains(doc, []byte("kind: Configuration")) {
					if err := yaml.Unmarshal(doc, &meta); err != nil {
						t.Fatal(err)
					}
				}
			}
			var deps []string
			for _, d := range meta.Spec.DependsOn {
				deps = append(deps, d.Package)
			}
			if diff := cmp.Diff(want.dependsOn, deps, sortStrings()); diff != "" {
				t.Fatalf("dependsOn packages: -want, +got:\n%s", diff)
			}
			// What Crossplane's resolver (Masterminds/semver v1, as in
			// Crossplane v2.2.1) picks among published tags.
			for _, d := range meta.Spec.DependsOn {
				if v, ok := map[string]string{providerTerraformPackage: providerTerraformVersion, providerAWSEventsPackage: providerAWSEventsVersion}[d.Package]; ok {
					if d.Version != v {
						t.Errorf("%s: version %q, want %q", d.Package, d.Version, v)
					}
					continue
				}
				c, err := semver.NewConstraint(d.Version)
				if err != nil {
					t.Fatalf("%s: version %q: %v", d.Package, d.Version, err)
				}
				for tag, ok := range map[string]bool{
					releaseVersion: true, "v0.3.8": true, "v0.3.12": true,
					"v0.3.6": false, "v0.2.9": false, "v0.4.0": false, "v1.0.0": false, "v0.0.0": false,
				} {
					if got := c.Check(semver.MustParse(tag)); got != ok {
						t.Errorf("%s: version %q accepts %s = %t, want %t", d.Package, d.Version, tag, got, ok)
					}
				}
			}
		})
	}
}

// ourPackage is the package a Configuration names for one of ours.
func ourPackage(name string) string { return "xpkg.crossplane.io/xp-auth0/" + name }

// provider-terraform, the terraform Configurations' dependency: the
// release the function composes Workspaces for, and its patches.
const (
	providerTerraformPackage = "xpkg.upbound.io/upbound/provider-terraform"
	providerTerraformVersion = ">=v1.0.1, <v1.1.0"
)

// provider-aws-cloudwatchevents, the EventBridge Configurations'
// dependency: its v2 line serves the namespaced Bus the function composes.
const (
	providerAWSEventsPackage = "xpkg.upbound.io/crossplane-contrib/provider-aws-cloudwatchevents"
	providerAWSEventsVersion = ">=v2.0.0, <v3.0.0"
)

// TestFunctionRefMatchesDependsOn checks that every Composition calls the
// function by the name Crossplane gives the Function it installs from the
// Configuration's dependsOn, and that the Function render uses has it too.
func TestFunctionRefMatchesDependsOn(t *testing.T) {
	for cfg, compositions := range map[string][]string{
		"package/configuration":                    {"package/configuration/composition.yaml", "example/composition.yaml", "example/import/composition-manage.yaml", "example/import/composition-manage-terraform.yaml"},
		"package/configuration-legacy":             {"package/configuration-legacy/composition.yaml", "example/legacy/composition.yaml"},
		"package/configuration-terraform":          {"package/configuration-terraform/composition.yaml"},
		"package/configuration-legacy-terraform":   {"package/configuration-legacy-terraform/composition.yaml"},
		"package/configuration-eventbridge":        {"package/configuration-eventbridge/composition.yaml"},
		"package/configuration-legacy-eventbridge": {"package/configuration-legacy-eventbridge/composition.yaml"},
	} {
		t.Run(filepath.Base(cfg), func(t *testing.T) {
			var meta configurationMeta
			readYAML(t, filepath.Join(cfg, "crossplane.yaml"), &meta)
			var fn string
			for _, d := range meta.Spec.DependsOn {
				if d.Kind == "Function" {
					ref, err := name.ParseReference(d.Package)
					if err != nil {
						t.Fatalf("dependsOn package %q: %v", d.Package, err)
					}
					fn = dependencyName(ref.Context().RepositoryStr())
				}
			}
			if fn == "" {
				t.Fatalf("%s/crossplane.yaml does not depend on a Function", cfg)
			}
			for _, c := range compositions {
				var comp struct {
					Spec struct {
						Pipeline []struct {
							Step        string `json:"step"`
							FunctionRef struct {
								Name string `json:"name"`
							} `json:"functionRef"`
						} `json:"pipeline"`
					} `json:"spec"`
				}
				readYAML(t, c, &comp)
				if len(comp.Spec.Pipeline) == 0 {
					t.Errorf("%s has no pipeline", c)
				}
				for _, s := range comp.Spec.Pipeline {
					if s.FunctionRef.Name != fn {
						t.Errorf("%s step %s: functionRef.name %q, want %q (the Function Crossplane installs for %s)", c, s.Step, s.FunctionRef.Name, fn, cfg)
					}
				}
			}
			var rendered metaName
			readYAML(t, "example/functions.yaml", &rendered)
			if rendered.Metadata.Name != fn {
				t.Errorf("example/functions.yaml: metadata.name %q, want %q", rendered.Metadata.Name, fn)
			}
		})
	}
}

// dependencyName is the name Crossplane's package resolver gives a package
// it installs as a dependency: the repository path as a DNS label. It is
// xpkg.ToDNSLabel of Crossplane v2.2.1 (internal/xpkg/name.go), applied by
// NewPackage in internal/controller/pkg/resolver/reconciler.go, which
// cannot be imported.
func dependencyName(repository string) string {
	var b strings.Builder
	for i := range len(repository) {
		c := repository[i]
		if ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') {
			b.WriteByte(c)
		}
		if (c == '.' || c == '/' || c == ':' || c == '-') && i != 0 && i != 62 && i != len(repository)-1 {
			b.WriteByte('-')
		}
		if i == 62 {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}

func TestDependencyName(t *testing.T) {
	for in, want := range map[string]string{
		"xp-auth0/function-auth0-eventstream": "xp-auth0-function-auth0-eventstream",
		// Upper case letters are dropped, separators become dashes.
		"crossplane-contrib/Function.KCL": "crossplane-contrib-unction",
		"/a/b-":                           "a-b",
		// At most 63 characters, a DNS label.
		strings.Repeat("a", 70): strings.Repeat("a", 63),
	} {
		if got := dependencyName(in); got != want {
			t.Errorf("dependencyName(%q) = %q, want %q", in, got, want)
		}
	}
}

type configurationMeta struct {
	Spec struct {
		DependsOn []struct {
			Kind    string `json:"kind"`
			Package string `json:"package"`
			Version string `json:"version"`
		} `json:"dependsOn"`
	} `json:"spec"`
}

type metaName struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func objectName(t *testing.T, path string) string {
	t.Helper()
	var m metaName
	readYAML(t, path, &m)
	return m.Metadata.Name
}

// loadXpkg reads a package file the way crossplane xpkg push does.
func loadXpkg(t *testing.T, path string) v1.Image {
	t.Helper()
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return img
}

// imageFiles flattens the image's layers into its file system.
func imageFiles(t *testing.T, img v1.Image) map[string]ociimage.Entry {
	t.Helper()
	f, err := ociimage.Contents(img)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// packageObjects lists apiVersion/kind/name of the objects in the package's
// package.yaml stream.
func packageObjects(t *testing.T, files map[string]ociimage.Entry) []string {
	t.Helper()
	stream, ok := files["/package.yaml"]
	if !ok {
		t.Fatal("no package.yaml in the package")
	}
	var got []string
	for doc := range bytes.SplitSeq(stream.Data, []byte("\n---\n")) {
		var o metaName
		if err := yaml.Unmarshal(doc, &o); err != nil {
			t.Fatalf("cannot parse package stream: %v", err)
		}
		if o.Kind != "" {
			got = append(got, o.APIVersion+"/"+o.Kind+"/"+o.Metadata.Name)
		}
	}
	return got
}

func sortStrings() cmp.Option {
	return cmpopts.SortSlices(func(a, b string) bool { return a < b })
}
