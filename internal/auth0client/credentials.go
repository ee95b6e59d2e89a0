// Package auth0client builds and caches go-auth0 Management API clients for
// the provider: one per ProviderConfig and credential version, so the access
// token of an Auth0 machine-to-machine application is fetched once per token
// lifetime, not once per reconcile.
package auth0client

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// Environment variables read by ProviderConfigs with source Environment.
const (
	EnvDomain       = "AUTH0_DOMAIN"
	EnvClientID     = "AUTH0_CLIENT_ID"
	EnvClientSecret = "AUTH0_CLIENT_SECRET"
	EnvAudience     = "AUTH0_AUDIENCE"
)

// Keys of a credentials Secret. They mirror the API constants so this
// package does not depend on the API types.
const (
	keyDomain       = "domain"
	keyClientID     = "clientId"
	keyClientSecret = "clientSecret"
	keyAudience     = "audience"
	keyCACert       = "caCert"
)

// Credentials of an Auth0 machine-to-machine application. They are never
// logged or formatted: String hides them.
type Credentials struct {
	// Domain is the tenant domain (example.eu.auth0.com) or host:port.
	Domain       string
	ClientID     string
	ClientSecret string
	// Audience overrides https://{Domain}/api/v2/ when set.
	Audience string
	// CACert is extra PEM certificates to trust for the tenant.
	CACert []byte
}

// String never prints a credential, so a stray %v cannot leak one.
func (c Credentials) String() string { return "auth0client.Credentials{domain:" + c.Domain + "}" }

// GoString hides credentials from %#v too.
func (c Credentials) GoString() string { return c.String() }

// Validate reports which required fields are empty, naming keys, never
// values.
func (c Credentials) Validate() error {
	var missing []string
	if c.Domain == "" {
		missing = append(missing, keyDomain)
	}
	if c.ClientID == "" {
		missing = append(missing, keyClientID)
	}
	if c.ClientSecret == "" {
		missing = append(missing, keyClientSecret)
	}
	if len(missing) > 0 {
		return errors.New("Auth0 credentials lack " + strings.Join(missing, ", "))
	}
	return nil
}

// FromSecretData reads credentials from the data of a credentials Secret.
func FromSecretData(data map[string][]byte) Credentials {
	return Credentials{
		Domain:       strings.TrimSpace(string(data[keyDomain])),
		ClientID:     strings.TrimSpace(string(data[keyClientID])),
		ClientSecret: strings.TrimSpace(string(data[keyClientSecret])),
		Audience:     strings.TrimSpace(string(data[keyAudience])),
		CACert:       data[keyCACert],
	}
}

// FromEnv reads credentials from the provider's environment.
func FromEnv(lookup func(string) string) Credentials {
	return Credentials{
		Domain:       strings.TrimSpace(lookup(EnvDomain)),
		ClientID:     strings.TrimSpace(lookup(EnvClientID)),
		ClientSecret: strings.TrimSpace(lookup(EnvClientSecret)),
		Audience:     strings.TrimSpace(lookup(EnvAudience)),
	}
}

// Fingerprint identifies a credential version without revealing it: a client
// is rebuilt exactly when the fingerprint changes.
func (c Credentials) Fingerprint() string {
	h := sha256.New()
	for _, p := range [][]byte{[]byte(c.Domain), []byte(c.ClientID), []byte(c.ClientSecret), []byte(c.Audience), c.CACert} {
		h.Write([]byte{byte(len(p) >> 24), byte(len(p) >> 16), byte(len(p) >> 8), byte(len(p))}) //nolint:gosec // A big-endian length prefix: each byte is meant to truncate.
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}
