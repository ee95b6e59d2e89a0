package auth0sim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/auth0/go-auth0/management"
	"golang.org/x/oauth2"
)

// Running is a simulator serving on a port.
type Running struct {
	// URL is the base URL, such as "https://127.0.0.1:40123".
	URL string
	// CACertPEM is the CA that signed the serving certificate (nil when
	// serving plain HTTP).
	CACertPEM []byte

	srv    *Server
	http   *http.Server
	ln     net.Listener
	client *http.Client
	served chan error
}

// ListenConfig says where and how a simulator serves.
type ListenConfig struct {
	// Addr to listen on; default "127.0.0.1:0" (a free loopback port).
	Addr string
	// PlainHTTP serves HTTP instead of HTTPS.
	PlainHTTP bool
	// CA signs the serving certificate; a fresh one is made when nil.
	CA *CA
}

// Start serves a new simulator over HTTPS on a free loopback port, with a
// freshly generated CA.
func Start(opts Options) (*Running, error) { return Listen(New(opts), ListenConfig{}) }

// Listen serves srv as cfg says.
func Listen(srv *Server, cfg ListenConfig) (*Running, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", cfg.Addr) //nolint:noctx // Binding returns at once; the server's lifetime is Close's.
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", cfg.Addr, err)
	}
	r := &Running{
		srv:    srv,
		ln:     ln,
		served: make(chan error, 1),
		http:   &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second},
	}
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	transport := http.DefaultTransport.(*http.Transport).Clone() //nolint:forcetypeassert // net/http makes DefaultTransport an *http.Transport.
	transport.ForceAttemptHTTP2 = true
	if cfg.PlainHTTP {
		r.URL = "http://" + ln.Addr().String()
	} else {
		ca := cfg.CA
		if ca == nil {
			if ca, err = NewCA(); err != nil {
				_ = ln.Close()
				return nil, err
			}
		}
		cert, err := ca.Issue(host)
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
		r.CACertPEM = ca.CertPEM
		// HTTP/2 like Auth0; ServeTLS below negotiates it.
		r.http.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca.CertPEM)
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		r.URL = "https://" + r.ln.Addr().String()
	}
	r.client = &http.Client{Transport: transport, Timeout: 60 * time.Second}
	go func() {
		if cfg.PlainHTTP {
			r.served <- r.http.Serve(ln)
			return
		}
		r.served <- r.http.ServeTLS(ln, "", "")
	}()
	return r, nil
}

// Domain is what go-auth0's management.New takes: host and port.
func (r *Running) Domain() string {
	return strings.TrimPrefix(strings.TrimPrefix(r.URL, "https://"), "http://")
}

// Server is the simulator behind the listener, for direct admin access.
func (r *Running) Server() *Server { return r.srv }

// HTTPClient returns a client that trusts the simulator's CA.
func (r *Running) HTTPClient() *http.Client { return r.client }

// WriteCA writes the CA certificate (PEM) to path.
func (r *Running) WriteCA(path string) error {
	if r.CACertPEM == nil {
		return errors.New("serving plain HTTP: there is no CA")
	}
	if err := os.WriteFile(path, r.CACertPEM, 0o644); err != nil { //nolint:gosec // a CA certificate is public
		return fmt.Errorf("cannot write CA certificate: %w", err)
	}
	return nil
}

// Close stops serving, releases hung requests and closes connections.
func (r *Running) Close() {
	r.srv.Close()
	_ = r.http.Close()
	<-r.served //nolint:errcheck // Serve's http.ErrServerClosed: we closed it.
	r.client.CloseIdleConnections()
}

// Shutdown stops serving gracefully, waiting for calls in flight.
func (r *Running) Shutdown(ctx context.Context) error {
	r.srv.Close()
	err := r.http.Shutdown(ctx)
	<-r.served //nolint:errcheck // Serve's http.ErrServerClosed: we shut it down.
	return err
}

// Management returns a go-auth0 client for this simulator that gets its
// tokens with the client-credentials grant. Both the token fetch and the
// API calls trust the simulator's CA: go-auth0 fetches tokens with the
// HTTP client found in the context under oauth2.HTTPClient.
func (r *Running) Management(ctx context.Context, clientID, secret string, opts ...management.Option) (*management.Management, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, r.client)
	all := append([]management.Option{
		management.WithClient(r.client),
		management.WithClientCredentials(ctx, clientID, secret),
	}, opts...)
	m, err := management.New(r.Domain(), all...)
	if err != nil {
		return nil, fmt.Errorf("cannot create management client: %w", err)
	}
	return m, nil
}

// CA is a certificate authority for the simulator's serving certificate.
type CA struct {
	CertPEM []byte
	KeyPEM  []byte
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
}

// NewCA makes a fresh CA valid for ten years.
func NewCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("cannot generate CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "auth0-sim local CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("cannot create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("cannot parse CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("cannot encode CA key: %w", err)
	}
	return &CA{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		cert:    cert, key: key,
	}, nil
}

// LoadCA reads a CA written by NewCA (so a restarted simulator keeps the CA
// clients already trust).
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("CA certificate or key is not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("cannot parse CA certificate: %w", err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("cannot parse CA key: %w", err)
	}
	return &CA{CertPEM: certPEM, KeyPEM: keyPEM, cert: cert, key: key}, nil
}

// Issue makes a serving certificate for host (an IP or a name), plus
// localhost and 127.0.0.1.
func (ca *CA) Issue(host string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cannot generate serving key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "auth0-sim"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		}
	} else if host != "" && host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cannot create serving certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return n
}
