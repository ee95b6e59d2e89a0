package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"sigs.k8s.io/yaml"
)

// TestPackages builds the function and both Configuration packages with the
// real crossplane xpkg build, extracts them again and checks what they carry.
func TestPackages(t *testing.T) {
	cli := crossplaneCLI(t)
	cases := map[string][]string{
		"function": {
			"meta.pkg.crossplane.io/v1beta1/Function/function-auth0-eventstream",
			"apiextensions.k8s.io/v1/CustomResourceDefinition/inputs.auth0eventstream.fn.openmcf.org",
		},
		"configuration": {
			"meta.pkg.crossplane.io/v1/Configuration/configuration-auth0-eventstream",
			"apiextensions.crossplane.io/v1/Composition/auth0eventstreams.auth0.openmcf.org",
			"apiextensions.crossplane.io/v2/CompositeResourceDefinition/auth0eventstreams.auth0.openmcf.org",
		},
		"configuration-legacy": {
			"meta.pkg.crossplane.io/v1/Configuration/configuration-auth0-eventstream-legacy",
			"apiextensions.crossplane.io/v1/Composition/xauth0eventstreams.auth0.openmcf.org",
			"apiextensions.crossplane.io/v1/CompositeResourceDefinition/xauth0eventstreams.auth0.openmcf.org",
		},
	}
	for pkg, want := range cases {
		t.Run(pkg, func(t *testing.T) {
			dir := t.TempDir()
			xpkg, extracted := filepath.Join(dir, pkg+".xpkg"), filepath.Join(dir, pkg+".gz")
			root := filepath.Join("package", pkg)
			for _, args := range [][]string{
				{"xpkg", "build", "--package-root=" + root, "--examples-root=" + filepath.Join(root, "no-examples"), "-o", xpkg},
				{"xpkg", "extract", "--from-xpkg", xpkg, "-o", extracted},
			} {
				if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
					t.Fatalf("crossplane %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
			f, err := os.Open(extracted)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			stream, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, doc := range bytes.Split(stream, []byte("\n---\n")) {
				var o struct {
					APIVersion string `json:"apiVersion"`
					Kind       string `json:"kind"`
					Metadata   struct {
						Name string `json:"name"`
					} `json:"metadata"`
				}
				if err := yaml.Unmarshal(doc, &o); err != nil {
					t.Fatalf("cannot parse package stream: %v", err)
				}
				if o.Kind != "" {
					got = append(got, o.APIVersion+"/"+o.Kind+"/"+o.Metadata.Name)
				}
			}
			if diff := cmp.Diff(want, got, sortStrings()); diff != "" {
				t.Errorf("package %s: -want, +got:\n%s", pkg, diff)
			}
		})
	}
}

func sortStrings() cmp.Option {
	return cmpopts.SortSlices(func(a, b string) bool { return a < b })
}
