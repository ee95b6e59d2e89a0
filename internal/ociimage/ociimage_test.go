package ociimage

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

var created = time.Unix(1767225600, 0) // 2026-01-01T00:00:00Z

// fixture writes a stand-in binary (mode 0600, as if the umask or a copy
// had lost its execute bit) and a small directory tree, and returns a Spec
// for arch that puts them in an image.
func fixture(t *testing.T, arch string) Spec {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "function")
	if err := os.WriteFile(bin, []byte("\x7fELF binary for "+arch), 0o600); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(dir, "mirror")
	for p, mode := range map[string]fs.FileMode{"registry/provider/terraform-provider": 0o700, "registry/provider/README": 0o600} {
		if err := os.MkdirAll(filepath.Join(tree, filepath.Dir(p)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, p), []byte(p), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("provider/README", filepath.Join(tree, "registry", "README")); err != nil {
		t.Fatal(err)
	}
	return Spec{
		OS: "linux", Architecture: arch,
		Files:        []File{{Src: bin, Dst: "/function", Mode: 0o755}, {Src: tree, Dst: "/usr/share/mirror"}},
		Entrypoint:   []string{"/function"},
		WritableDirs: []string{"/var/work"},
		ExposedPorts: []string{"9443", "8080/tcp"},
		Labels:       map[string]string{"org.opencontainers.image.version": "v1.2.3"},
		Created:      created,
	}
}

// roundTrip writes img as a docker-format tarball and loads it back the way
// crossplane xpkg build --embed-runtime-image-tarball does.
func roundTrip(t *testing.T, img v1.Image) v1.Image {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(p, name.MustParseReference("function:v1.2.3"), img); err != nil {
		t.Fatal(err)
	}
	loaded, err := tarball.ImageFromPath(p, nil)
	if err != nil {
		t.Fatalf("tarball.ImageFromPath: %v", err)
	}
	return loaded
}

func digest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestBuildReproducible(t *testing.T) {
	s := fixture(t, "amd64")
	build := func(s Spec) v1.Image {
		img, err := Build(s)
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		return img
	}
	first, second := build(s), build(s)
	if a, b := digest(t, first), digest(t, second); a != b {
		t.Errorf("two builds of the same inputs: digests %s and %s", a, b)
	}
	// Crossplane sees the image through the tarball; it must be the same.
	if a, b := digest(t, first), digest(t, roundTrip(t, second)); a != b {
		t.Errorf("digest %s, after a tarball round trip %s", a, b)
	}
	later := s
	later.Created = created.Add(time.Second)
	if digest(t, build(later)) == digest(t, first) {
		t.Errorf("a different SOURCE_DATE_EPOCH gave the same digest: the time is not stamped")
	}
	other := fixture(t, "amd64")
	if digest(t, build(other)) != digest(t, first) {
		t.Errorf("the same contents from another folder gave another digest: a build path leaks into the image")
	}
}

func files(t *testing.T, img v1.Image) map[string]Entry {
	t.Helper()
	f, err := Contents(img)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestBuildContents(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			img, err := Build(fixture(t, arch))
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			img = roundTrip(t, img)
			entries := files(t, img)

			type want struct {
				mode     fs.FileMode
				uid, gid int
				contains string
			}
			for p, w := range map[string]want{
				"/etc/passwd":                {mode: 0o644, contains: "\nnonroot:x:65532:65532:nonroot:/home/nonroot:"},
				"/etc/group":                 {mode: 0o644, contains: "\nnonroot:x:65532:\n"},
				CABundlePath:                 {mode: 0o644, contains: "-----BEGIN CERTIFICATE-----"},
				"/tmp":                       {mode: fs.ModeDir | fs.ModeSticky | 0o777},
				"/home/nonroot":              {mode: fs.ModeDir | 0o700, uid: NonRootUID, gid: NonRootUID},
				"/function":                  {mode: 0o755, contains: "ELF binary for " + arch},
				"/usr/share":                 {mode: fs.ModeDir | 0o755},
				"/usr/share/mirror/registry": {mode: fs.ModeDir | 0o755},
				"/usr/share/mirror/registry/provider/terraform-provider": {mode: 0o755},
				"/usr/share/mirror/registry/provider/README":             {mode: 0o644},
				"/usr/share/mirror/registry/README":                      {mode: fs.ModeSymlink | 0o777},
				"/var/work":                                              {mode: fs.ModeDir | fs.ModeSticky | 0o777},
				"/var":                                                   {mode: fs.ModeDir | 0o755},
			} {
				e, ok := entries[p]
				if !ok {
					t.Errorf("%s is not in the image", p)
					continue
				}
				if got := e.Header.FileInfo().Mode(); got != w.mode {
					t.Errorf("%s: mode %v, want %v", p, got, w.mode)
				}
				if e.Header.Uid != w.uid || e.Header.Gid != w.gid {
					t.Errorf("%s: owner %d:%d, want %d:%d", p, e.Header.Uid, e.Header.Gid, w.uid, w.gid)
				}
				if !strings.Contains(string(e.Data), w.contains) {
					t.Errorf("%s does not contain %q", p, w.contains)
				}
			}
			for p, e := range entries {
				if !e.Header.ModTime.Equal(created) {
					t.Errorf("%s: modification time %v, want SOURCE_DATE_EPOCH %v", p, e.Header.ModTime, created)
				}
			}
			if l := entries["/usr/share/mirror/registry/README"].Header.Linkname; l != "provider/README" {
				t.Errorf("symlink target %q, want provider/README", l)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(entries[CABundlePath].Data) || bytes.Count(entries[CABundlePath].Data, []byte("BEGIN CERTIFICATE")) < 100 {
				t.Errorf("%s is not a bundle of the Mozilla roots", CABundlePath)
			}

			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.OS != "linux" || cf.Architecture != arch {
				t.Errorf("platform %s/%s, want linux/%s", cf.OS, cf.Architecture, arch)
			}
			if !cf.Created.Equal(created) {
				t.Errorf("created %v, want %v", cf.Created, created)
			}
			wantCfg := v1.Config{
				User:         "65532:65532",
				Entrypoint:   []string{"/function"},
				Env:          []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
				ExposedPorts: map[string]struct{}{"9443/tcp": {}, "8080/tcp": {}},
				Labels: map[string]string{
					"org.opencontainers.image.version": "v1.2.3",
					"org.opencontainers.image.created": "2026-01-01T00:00:00Z",
				},
			}
			if diff := cmp.Diff(wantCfg, cf.Config); diff != "" {
				t.Errorf("config: -want, +got:\n%s", diff)
			}
		})
	}
}

// TestWriteBase checks that the base tar the Dockerfiles extract holds
// what Build puts under an image's files, entry for entry.
func TestWriteBase(t *testing.T) {
	s := fixture(t, "amd64")
	s.Files = nil
	img, err := Build(s)
	if err != nil {
		t.Fatal(err)
	}
	want := files(t, img)
	var buf bytes.Buffer
	if err := WriteBase(&buf, nil, s.WritableDirs, created); err != nil {
		t.Fatalf("WriteBase: %v", err)
	}
	got := map[string]Entry{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		got["/"+strings.TrimSuffix(h.Name, "/")] = Entry{Header: h, Data: b}
	}
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Errorf("%s is in Build's image, not in the base tar", p)
			continue
		}
		if g.Header.Typeflag != w.Header.Typeflag || g.Header.Mode != w.Header.Mode || g.Header.Uid != w.Header.Uid ||
			g.Header.Gid != w.Header.Gid || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("%s: base tar %c %o %d:%d (%d bytes), Build %c %o %d:%d (%d bytes)", p, g.Header.Typeflag, g.Header.Mode, g.Header.Uid, g.Header.Gid, len(g.Data),
				w.Header.Typeflag, w.Header.Mode, w.Header.Uid, w.Header.Gid, len(w.Data))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s is in the base tar, not in Build's image", p)
		}
	}
}

func TestBuildRefuses(t *testing.T) {
	ok := fixture(t, "amd64")
	cases := map[string]struct {
		mutate func(*Spec)
		want   string
	}{
		"NoArchitecture": {func(s *Spec) { s.Architecture = "" }, "architecture"},
		"NoEntrypoint":   {func(s *Spec) { s.Entrypoint = nil }, "entrypoint"},
		"NoTime":         {func(s *Spec) { s.Created = time.Time{} }, "SOURCE_DATE_EPOCH"},
		"MissingFile":    {func(s *Spec) { s.Files[0].Src += ".missing" }, "no such file"},
		"DirectoryMode":  {func(s *Spec) { s.Files[1].Mode = 0o755 }, "a mode applies to a file only"},
		"SamePathTwice":  {func(s *Spec) { s.Files = append(s.Files, s.Files[0]) }, "/function is in the layer twice"},
		"RelativeDir":    {func(s *Spec) { s.WritableDirs = []string{"tf"} }, `writable directory "tf"`},
	}
	for n, c := range cases {
		t.Run(n, func(t *testing.T) {
			s := ok
			s.Files = append([]File(nil), ok.Files...)
			c.mutate(&s)
			if _, err := Build(s); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Build() error = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestParseFile(t *testing.T) {
	for in, want := range map[string]File{
		"bin/function=/function:0755":         {Src: "bin/function", Dst: "/function", Mode: 0o755},
		"bin/function=/function":              {Src: "bin/function", Dst: "/function"},
		"mirror=/usr/share/terraform/plugins": {Src: "mirror", Dst: "/usr/share/terraform/plugins"},
	} {
		got, err := ParseFile(in)
		if err != nil || got != want {
			t.Errorf("ParseFile(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"bin/function":             "want SRC=DST[:MODE]",
		"=/function":               "want SRC=DST[:MODE]",
		"bin/function=function":    "must be a clean absolute path",
		"bin/function=/a/../b":     "must be a clean absolute path",
		"bin/function=/function:9": "not an octal permission",
		"bin/function=/function:0": "not an octal permission",
	} {
		if _, err := ParseFile(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseFile(%q) error = %v, want one containing %q", in, err, msg)
		}
	}
}
