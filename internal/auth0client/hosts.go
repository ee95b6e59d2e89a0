package auth0client

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// DefaultHosts admits Auth0's own tenant domains and nothing else. Auth0's
// public cloud serves each tenant at {tenant}.auth0.com or
// {tenant}.{us,eu,au,ca,jp,uk}.auth0.com ("Auth0 Public Cloud Service
// Endpoints", auth0.com/docs/troubleshoot/customer-support/operational-policies/public-cloud-service-endpoints),
// and an Auth0-hosted Private Cloud at {tenant}.{customer}.auth0.com
// ("Private Cloud Infrastructure Requirements",
// auth0.com/docs/deploy/private-cloud/private-cloud-onboarding/standard-private-cloud-infrastructure-requirements);
// all are subdomains of auth0.com. A customer-hosted Private Cloud's own
// DNS names must be added by the platform.
const DefaultHosts = "*.auth0.com"

// Hosts is an allow-list of the hosts the provider may send credentials
// and requests to. Each entry is an exact host[:port] or *.suffix[:port]
// (any subdomain of suffix, at any depth); an entry without a port admits
// the host without one or with :443, and the port * admits any port.
type Hosts struct {
	text     string
	patterns []hostPattern
}

type hostPattern struct {
	// host is the exact hostname, or, with suffix, ".suffix".
	host   string
	suffix bool
	// port is "" (none or 443), "*" (any) or a port.
	port string
}

// ParseHosts parses a comma-separated allow-list.
func ParseHosts(list string) (Hosts, error) {
	h := Hosts{text: list}
	for e := range strings.SplitSeq(list, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		p := hostPattern{}
		rest := e
		if s, ok := strings.CutPrefix(e, "*."); ok {
			p.suffix, rest = true, s
		}
		if s, ok := strings.CutSuffix(rest, ":*"); ok {
			p.port, rest = "*", s
		}
		host, port, err := splitHost(rest)
		if err != nil || strings.Contains(host, "*") {
			return Hosts{}, fmt.Errorf("%q is not a host[:port] or *.suffix[:port] pattern", e)
		}
		if p.port == "" {
			p.port = port
		}
		p.host = host
		if p.suffix {
			p.host = "." + host
		}
		h.patterns = append(h.patterns, p)
	}
	if len(h.patterns) == 0 {
		return Hosts{}, errors.New("the allow-list names no host")
	}
	return h, nil
}

// MustParseHosts is ParseHosts for constants; it panics on a bad list.
func MustParseHosts(list string) Hosts {
	h, err := ParseHosts(list)
	if err != nil {
		panic(err)
	}
	return h
}

// IsZero is true for a Hosts that was never parsed.
func (h Hosts) IsZero() bool { return len(h.patterns) == 0 }

// String is the list as given.
func (h Hosts) String() string { return h.text }

// Check says why domain, a credentials domain (host[:port], optionally
// with https:// and a trailing slash), may not be called, or nil.
func (h Hosts) Check(domain string) error {
	host, port, err := splitHost(domainHost(domain))
	if err != nil {
		return fmt.Errorf("domain %q is not a host[:port]: %w", domain, err)
	}
	for _, p := range h.patterns {
		if p.admits(host, port) {
			return nil
		}
	}
	return fmt.Errorf("domain %q is not one the provider may call (its allow-list is %q)", domain, h.text)
}

func (p hostPattern) admits(host, port string) bool {
	switch p.port {
	case "*":
	case "", "443":
		if port != "" && port != "443" {
			return false
		}
	default:
		if port != p.port {
			return false
		}
	}
	if p.suffix {
		return strings.HasSuffix(host, p.host) && len(host) > len(p.host)
	}
	return host == p.host
}

// domainHost strips what a credentials domain may carry besides
// host[:port]: a scheme and a trailing slash.
func domainHost(domain string) string {
	d := strings.ToLower(strings.TrimSpace(domain))
	for _, scheme := range []string{"https://", "http://"} {
		d = strings.TrimPrefix(d, scheme)
	}
	return strings.TrimSuffix(d, "/")
}

// splitHost parses host[:port], refusing anything more (a path, user-info,
// a query): "evil.example/.auth0.com" must not pass for a subdomain of
// auth0.com.
func splitHost(hostPort string) (host, port string, err error) {
	if hostPort == "" {
		return "", "", errors.New("empty")
	}
	u, err := url.Parse("https://" + hostPort)
	if err != nil {
		return "", "", err
	}
	if u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || u.Host != hostPort || u.Hostname() == "" {
		return "", "", errors.New("only a host and an optional port are allowed")
	}
	return strings.TrimSuffix(u.Hostname(), "."), u.Port(), nil
}
