package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
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
