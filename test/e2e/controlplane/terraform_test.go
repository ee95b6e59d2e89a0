package controlplane

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/xp-auth0/auth0-eventstream/internal/ociimage"
)

// TestTerraformExampleMatchesPlane holds example/terraform/providerconfig.yaml
// to what the plane applies: the same credentials entries and the same
// offline CLI configuration, so users see the configuration the tests run.
func TestTerraformExampleMatchesPlane(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "example", "terraform", "providerconfig.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		cliConfig string
		files     []string
	)
	for doc := range strings.SplitSeq(string(b), "\n---\n") {
		var o struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			StringData map[string]string `json:"stringData"`
			Spec       struct {
				Credentials []struct {
					Filename  string `json:"filename"`
					Source    string `json:"source"`
					SecretRef struct {
						Name string `json:"name"`
						Key  string `json:"key"`
					} `json:"secretRef"`
				} `json:"credentials"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatal(err)
		}
		switch {
		case o.Kind == "Secret" && o.Metadata.Name == TerraformCLIConfigSecret:
			cliConfig = o.StringData["terraformrc"]
		case o.Kind == "ClusterProviderConfig":
			for _, c := range o.Spec.Credentials {
				files = append(files, c.Filename+"="+c.Source+":"+c.SecretRef.Name+"/"+c.SecretRef.Key)
			}
		}
	}
	if cliConfig != TerraformCLIConfig {
		t.Errorf("the example's %s Secret holds\n%s\nthe plane applies\n%s", TerraformCLIConfigSecret, cliConfig, TerraformCLIConfig)
	}
	want := []string{
		"auth0-credentials.auto.tfvars.json=Secret:" + TerraformCredentialsSecret + "/credentials",
		".terraformrc=Secret:" + TerraformCLIConfigSecret + "/terraformrc",
	}
	if strings.Join(files, " ") != strings.Join(want, " ") {
		t.Errorf("the example's credentials entries are %q, want %q", files, want)
	}
}

// TestTerraformImage builds the runtime image from stand-in tools and
// checks what provider-terraform needs of it: the entrypoint, terraform
// on PATH, the Auth0 provider where the CLI configuration's mirror looks,
// the checksum's host tools with their loader, the working directory owned
// by the non-root user, and TF_IN_AUTOMATION.
func TestTerraformImage(t *testing.T) {
	dir := t.TempDir()
	tools := map[string]string{}
	for _, n := range terraformTools() {
		tools[n] = filepath.Join(dir, n)
		if err := os.WriteFile(tools[n], []byte("binary "+n), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	spec, err := TerraformImage(tools, time.Unix(0, 0))
	if err != nil {
		t.Fatalf("TerraformImage: %v", err)
	}
	img, err := ociimage.Build(spec)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	entries, err := ociimage.Contents(img)
	if err != nil {
		t.Fatal(err)
	}
	for path, content := range map[string]string{
		"/usr/local/bin/provider":  "binary provider-terraform",
		"/usr/local/bin/terraform": "binary tofu",
		TerraformMirror + "/registry.terraform.io/auth0/auth0/1.57.0/linux_" + spec.Architecture + "/terraform-provider-auth0_v1.57.0": "binary terraform-provider-auth0",
	} {
		e, ok := entries[path]
		if !ok || !bytes.Equal(e.Data, []byte(content)) || e.Header.Mode != 0o755 {
			t.Errorf("%s: not the executable %q", path, content)
		}
	}
	for _, tool := range hostTools() {
		if e, ok := entries[tool]; !ok || !bytes.HasPrefix(e.Data, []byte("\x7fELF")) {
			t.Errorf("%s is not an ELF file in the image", tool)
		}
	}
	loader := false
	for p, e := range entries {
		loader = loader || (strings.HasPrefix(filepath.Base(p), "ld-linux") && bytes.HasPrefix(e.Data, []byte("\x7fELF")))
	}
	if !loader {
		t.Error("the image has no dynamic loader (ld-linux*) for the host tools")
	}
	// Writable by whatever user the pod runs as: Crossplane's default 2000,
	// not the image's 65532.
	if e, ok := entries[terraformWorkDir]; !ok || e.Header.Typeflag != '5' || e.Header.FileInfo().Mode() != fs.ModeDir|fs.ModeSticky|0o777 {
		t.Errorf("%s is not a directory every user may write (sticky, 01777)", terraformWorkDir)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Join(cf.Config.Env, " ")
	for _, w := range []string{"XP_TF_DIR=" + terraformWorkDir, "TF_IN_AUTOMATION=1", "PATH=/usr/local/bin:"} {
		if !strings.Contains(env, w) {
			t.Errorf("env %q lacks %s", env, w)
		}
	}
	if cf.Config.User != "65532:65532" || strings.Join(cf.Config.Entrypoint, " ") != "/usr/local/bin/provider" {
		t.Errorf("user %q entrypoint %q", cf.Config.User, cf.Config.Entrypoint)
	}
}
