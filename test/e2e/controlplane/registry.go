package controlplane

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Registry is the OCI registry the control plane pulls our packages from,
// as a platform team's own registry would serve them.
type Registry struct {
	// Host is host:port, serving HTTPS.
	Host string `json:"host"`
	// CACert is the PEM file the registry's certificate chains to: core
	// gets it as --ca-bundle-path, crossplane xpkg push as SSL_CERT_FILE.
	CACert string `json:"caCert"`
}

// Repository is where make publish pushes our packages in this registry;
// the ImageConfig rewrites PackageRepository to it.
func (r *Registry) Repository() string { return r.Host + "/" + PackageOrg }

// Where users find our packages, and the names Crossplane gives the Function
// and Provider it installs as the Configuration's dependencies (after the
// repository path in dependsOn, whatever registry the ImageConfig points
// at).
const (
	PackageOrg        = "xp-auth0"
	PackageRepository = "xpkg.crossplane.io/" + PackageOrg
	FunctionName      = PackageOrg + "-function-auth0-eventstream"
	ProviderName      = PackageOrg + "-provider-auth0-eventstream"
	registryProcess   = "registry"
	registryConfig    = `version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: %[1]s
  delete:
    enabled: true
http:
  addr: %[2]s
  tls:
    certificate: %[3]s
    key: %[4]s
    minimumtls: tls1.2
`
)

// startRegistry runs the CNCF distribution registry on loopback over HTTPS,
// with a certificate from a CA of ours and its storage in the plane's
// folder, so a plane started again finds nothing left from before.
func (p *plane) startRegistry(ctx context.Context) error {
	if err := p.ports(registryProcess); err != nil {
		return err
	}
	dir := filepath.Join(p.dir, registryProcess)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clean registry storage: %w", err)
	}
	regCA, caKey, err := newCA("auth0-eventstream-e2e-registry-ca")
	if err != nil {
		return err
	}
	crt, key, err := regCA.serving("registry")
	if err != nil {
		return err
	}
	host := fmt.Sprintf("127.0.0.1:%d", p.state.Ports[registryProcess])
	files := map[string]string{"ca.crt": "", "ca.key": "", "tls.crt": "", "tls.key": "", "config.yml": ""}
	for k := range files {
		files[k] = filepath.Join(dir, k)
	}
	if err := writeFiles(map[string][]byte{
		files["ca.crt"]:  regCA.certPEM,
		files["ca.key"]:  caKey,
		files["tls.crt"]: crt,
		files["tls.key"]: key,
		// No debug server (it would listen on all interfaces) and no
		// metrics: the registry serves only the API, on loopback.
		files["config.yml"]: fmt.Appendf(nil, registryConfig, filepath.Join(dir, "storage"), host, files["tls.crt"], files["tls.key"]),
	}); err != nil {
		return err
	}
	// Spans would go to an OTLP collector on localhost:4318 that is not there.
	r, err := p.start(registryProcess, p.state.Tools["registry"], []string{"serve", files["config.yml"]}, []string{"OTEL_TRACES_EXPORTER=none"})
	if err != nil {
		return err
	}
	p.state.Registry = &Registry{Host: host, CACert: files["ca.crt"]}
	hc := tlsClient(regCA.certPEM)
	if err := p.waitFor(ctx, "registry", time.Minute, r, func(ctx context.Context) (bool, error) {
		// The API root answers 200 to anyone: no authentication configured.
		return httpGetOK(ctx, hc, "https://"+host+"/v2/", "")
	}); err != nil {
		return err
	}
	p.logf("registry serving https://%s (CA %s)", host, rel(files["ca.crt"]))
	return p.save()
}
