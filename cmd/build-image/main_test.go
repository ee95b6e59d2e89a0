package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/xp-auth0/auth0-eventstream/internal/ociimage"
)

func parse(t *testing.T, args ...string) *cli {
	t.Helper()
	var c cli
	if _, err := kong.Must(&c).Parse(args); err != nil {
		t.Fatalf("Parse(%v): %v", args, err)
	}
	return &c
}

func TestBuildImage(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "provider")
	if err := os.WriteFile(bin, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "image.tar")
	t.Setenv("SOURCE_DATE_EPOCH", "1767225600")
	c := parse(t, "--platform", "linux/arm64", "--file", bin+"=/provider:0755", "--entrypoint", "/provider",
		"--port", "8080", "--label", "org.opencontainers.image.version=v1.2.3", "--tag", "provider:v1.2.3", "-o", out)
	if err := c.run(); err != nil {
		t.Fatalf("run: %v", err)
	}
	img, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatalf("the output is not an image tarball: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Architecture != "arm64" || cf.Config.Labels["org.opencontainers.image.version"] != "v1.2.3" ||
		cf.Config.Labels["org.opencontainers.image.created"] != "2026-01-01T00:00:00Z" || len(cf.Config.Entrypoint) != 1 {
		t.Errorf("config = %+v", cf)
	}

	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"BadPlatform": {[]string{"--platform", "arm64"}, "want OS/ARCH"},
		"BadFile":     {[]string{"--file", "provider"}, "want SRC=DST[:MODE]"},
		"BadTag":      {[]string{"--tag", "Provider:v1"}, "--tag"},
		"NoEpoch":     {[]string{"--source-date-epoch", "0"}, "SOURCE_DATE_EPOCH"},
	} {
		t.Run(name, func(t *testing.T) {
			args := map[string]string{
				"--platform": "linux/amd64", "--file": bin + "=/provider", "--entrypoint": "/provider",
				"--tag": "provider:v1.2.3", "-o": out, "--source-date-epoch": "1767225600",
			}
			args[tc.args[0]] = tc.args[1]
			var flat []string
			for k, v := range args {
				flat = append(flat, k, v)
			}
			err := parse(t, flat...).run()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run() error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestBaseLayer(t *testing.T) {
	out := filepath.Join(t.TempDir(), "base.tar")
	if err := parse(t, "--base-layer", "-o", out).run(); err != nil {
		t.Fatalf("run: %v", err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string]*tar.Header{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the output is not a tar: %v", err)
		}
		got[h.Name] = h
	}
	for name, want := range map[string]struct {
		mode     int64
		uid, gid int
	}{
		"etc/passwd": {0o644, 0, 0}, "home/nonroot/": {0o700, ociimage.NonRootUID, ociimage.NonRootUID},
		"tmp/": {0o1777, 0, 0}, strings.TrimPrefix(ociimage.CABundlePath, "/"): {0o644, 0, 0},
	} {
		h, ok := got[name]
		if !ok {
			t.Errorf("%s is not in the base layer", name)
			continue
		}
		if h.Mode != want.mode || h.Uid != want.uid || h.Gid != want.gid {
			t.Errorf("%s: mode %o, owner %d:%d; want %o, %d:%d", name, h.Mode, h.Uid, h.Gid, want.mode, want.uid, want.gid)
		}
	}
}

func TestImageRefuses(t *testing.T) {
	dir := t.TempDir()
	notGo := filepath.Join(dir, "function")
	if err := os.WriteFile(notGo, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "image.tar")
	base := []string{"--platform", "linux/amd64", "--tag", "function-auth0-eventstream:v1.2.3", "-o", out, "--source-date-epoch", "1767225600"}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"UnknownImage": {[]string{"--image", "function", "--binary", notGo}, `no image "function": want one of function-auth0-eventstream, provider-auth0-eventstream`},
		"NoBinary":     {[]string{"--image", "function-auth0-eventstream"}, "needs --binary"},
		"NotGo":        {[]string{"--image", "function-auth0-eventstream", "--binary", notGo}, "read Go build information"},
		"WithFile":     {[]string{"--image", "function-auth0-eventstream", "--binary", notGo, "--file", notGo + "=/function"}, "its definition sets the files and config"},
		"BinaryAlone":  {[]string{"--binary", notGo, "--file", notGo + "=/function", "--entrypoint", "/function"}, "--binary is for --image"},
		"NoFile":       {[]string{"--entrypoint", "/function"}, "needs --file and --entrypoint, or --image"},
		"BaseAndImage": {[]string{"--base-layer", "--image", "function-auth0-eventstream"}, "no --image or --file"},
	} {
		t.Run(name, func(t *testing.T) {
			err := parse(t, append(slices.Clone(base), tc.args...)...).run()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run() error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
