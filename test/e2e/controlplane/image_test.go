package controlplane

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// probe is the entrypoint of the test image: it reports who and where it
// runs, and whether it can read the files the runtime places for it.
const probe = `package main

import (
	"fmt"
	"os"
)

func main() {
	marker, err := os.ReadFile("/etc/marker")
	secret, serr := os.ReadFile("/run/controlplane/secret")
	_, herr := os.ReadFile("/etc/hard")
	fmt.Printf("uid=%d gid=%d marker=%q markerErr=%v secret=%q secretErr=%v hardErr=%v args=%q env=%q\n",
		os.Getuid(), os.Getgid(), marker, err, secret, serr, herr, os.Args[1:], os.Getenv("FROM_IMAGE")+"|"+os.Getenv("HOME"))
}
`

// TestRunPulledImage pushes a multi-architecture image to a registry
// served over TLS, then pulls this machine's architecture with pullImage
// and runs its entrypoint with startImage: chrooted into the unpacked
// filesystem, as the image's user, with the image's environment, reading
// a file placed for it.
func TestRunPulledImage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the control plane's package runtime runs images chrooted as their user, which needs root; run this test as root")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "probe")
	if err := os.MkdirAll(src, 0o700); err != nil {
		t.Fatal(err)
	}
	for f, body := range map[string]string{"main.go": probe, "go.mod": "module probe\n\ngo 1.22\n"} {
		if err := os.WriteFile(filepath.Join(src, f), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "probe.bin")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the probe: %v\n%s", err, out)
	}
	probeBin, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewTLSServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "https://")

	image := func(arch string, files []tarEntry) v1.Image {
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarOf(t, files))), nil })
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.AppendLayers(empty.Image, layer)
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.Config(img, v1.Config{Entrypoint: []string{"/probe", "--from-entrypoint"}, User: "65532:65533", Env: []string{"FROM_IMAGE=yes", "HOME=/home/nonroot"}})
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf.OS, cf.Architecture = "linux", arch
		img, err = mutate.ConfigFile(img, cf)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	ours := image(runtime.GOARCH, []tarEntry{
		{name: "etc/", dir: true, mode: 0o755},
		{name: "etc/marker", body: "ours", mode: 0o644},
		{name: "etc/hard", link: "etc/marker", hard: true},
		{name: "etc/soft", link: "/etc/marker"},
		{name: "home/nonroot/", dir: true, mode: 0o700, uid: 65532},
		{name: "probe", body: string(probeBin), mode: 0o755},
	})
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	decoy := image(other, []tarEntry{{name: "etc/marker", body: "decoy", mode: 0o644}, {name: "probe", body: "not for this machine", mode: 0o755}})
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: decoy, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: other}}},
		mutate.IndexAddendum{Add: ours, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	ref, err := name.ParseReference(host + "/xp-auth0/probe:v0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx, remote.WithTransport(srv.Client().Transport)); err != nil {
		t.Fatal(err)
	}

	img, err := pullImage(t.Context(), ref.String(), caFile, filepath.Join(dir, "rootfs"))
	if err != nil {
		t.Fatal(err)
	}
	wantDigest, _ := ours.Digest()
	if img.Digest != wantDigest.String() || img.UID != 65532 || img.GID != 65533 {
		t.Fatalf("pulled %s as %d:%d, want %s as 65532:65533", img.Digest, img.UID, img.GID, wantDigest)
	}
	if fi, err := os.Stat(filepath.Join(img.Root, "home", "nonroot")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("home/nonroot unpacked as %v (%v), want mode 0700", fi, err)
	}
	if err := placeFiles(img, map[string][]byte{"secret": []byte("for the image's user")}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	p := &plane{dir: dir, state: &State{Dir: dir}, running: map[string]*running{}}
	r, err := p.startImage("probe", img, []string{"--from-runtime"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.exited:
	case <-time.After(time.Minute):
		t.Fatal("the probe did not exit")
	}
	out := Tail(r.Log, 1)
	if r.err != nil {
		t.Fatalf("probe failed: %v\n%s", r.err, out)
	}
	for _, want := range []string{
		"uid=65532 gid=65533",
		`marker="ours" markerErr=<nil>`,
		`secret="for the image's user" secretErr=<nil>`,
		"hardErr=<nil>",
		`args=["--from-entrypoint" "--from-runtime"]`,
		`env="yes|/home/nonroot"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("probe output lacks %s:\n%s", want, out)
		}
	}
}

func TestNumericUser(t *testing.T) {
	cases := map[string]struct {
		user     string
		uid, gid int
		err      string
	}{
		"uid and gid":   {user: "65532:65532", uid: 65532, gid: 65532},
		"uid only":      {user: "65532", uid: 65532, gid: 65532},
		"empty is root": {user: "", err: "no USER"},
		"root":          {user: "0:0", err: "is root"},
		"a name":        {user: "nonroot", err: "not numeric"},
		"a group name":  {user: "65532:nonroot", err: "non-numeric group"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			uid, gid, err := numericUser(tc.user)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("numericUser(%q) error %v, want one containing %q", tc.user, err, tc.err)
				}
				return
			}
			if err != nil || uid != tc.uid || gid != tc.gid {
				t.Fatalf("numericUser(%q) = %d, %d, %v; want %d, %d", tc.user, uid, gid, err, tc.uid, tc.gid)
			}
		})
	}
}

// TestUntarStaysInsideRoot unpacks entries that point outside the root:
// they land inside it or fail.
func TestUntarStaysInsideRoot(t *testing.T) {
	for _, e := range []tarEntry{
		{name: "etc/passwd", link: "../../outside", hard: true},
		{name: "../outside", body: "x", mode: 0o644},
	} {
		root := filepath.Join(t.TempDir(), "rootfs")
		err := untar(bytes.NewReader(tarOf(t, []tarEntry{e})), root)
		if e.hard {
			// A hard link's target is resolved inside the root: ../../outside
			// becomes /outside, which does not exist.
			if err == nil {
				t.Errorf("hard link to %s: no error", e.link)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", e.name, err)
		}
		if _, serr := os.Stat(filepath.Join(filepath.Dir(root), "outside")); serr == nil {
			t.Errorf("%s was written outside the root", e.name)
		}
	}
}

type tarEntry struct {
	name, body, link string
	dir, hard        bool
	mode             int64
	uid              int
}

func tarOf(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		switch {
		case e.dir:
			h.Typeflag = tar.TypeDir
		case e.hard:
			h.Typeflag, h.Linkname, h.Size = tar.TypeLink, e.link, 0
		case e.link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil && h.Size > 0 {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
