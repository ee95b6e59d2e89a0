// Package redact removes secret values from text meant for people: error
// messages, conditions and events. Auth0 and our own validation may quote a
// value they refuse (a webhook endpoint with user-info, a header), and such
// text ends up in a resource's status, where anyone who can read the
// resource sees it.
package redact

import (
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Mask replaces every redacted value.
const Mask = "[redacted]"

// shortValue is the length under which a known value is only masked where
// it stands alone: masking every "ab" would garble the message.
const shortValue = 4

var patterns = []struct { //nolint:gochecknoglobals // We treat this as a constant.
	re   *regexp.Regexp
	repl string
}{
	// URL user-info: https://user:password@host.
	{regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/?#@"'<>]+@`), "${1}" + Mask + "@"},
	// Authorization header values as Auth0 or a proxy may quote them.
	{regexp.MustCompile(`\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]{8,}=*`), "${1} " + Mask},
	// Secret-bearing fields of a JSON body or a key=value list.
	{regexp.MustCompile(`(?i)("?\b(?:token|access_token|password|header_value|client_secret|clientSecret)"?\s*[:=]\s*)("[^"]*"|[^\s,;&}"]+)`), `${1}"` + Mask + `"`},
}

// A Redactor masks known secret values and secret-looking patterns. It is
// safe for concurrent use.
type Redactor struct {
	mu     sync.Mutex
	values []string
}

// New returns a Redactor masking values (empty ones are ignored).
func New(values ...string) *Redactor {
	r := &Redactor{}
	r.Add(values...)
	return r
}

// Add masks values from now on.
func (r *Redactor) Add(values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range values {
		if v != "" && !slices.Contains(r.values, v) {
			r.values = append(r.values, v)
		}
	}
	// Longest first, so a value containing another is masked whole.
	slices.SortFunc(r.values, func(a, b string) int { return len(b) - len(a) })
}

// String returns s with every known value and secret-looking pattern
// masked.
func (r *Redactor) String(s string) string {
	if r != nil {
		r.mu.Lock()
		values := slices.Clone(r.values)
		r.mu.Unlock()
		for _, v := range values {
			if len(v) >= shortValue {
				s = strings.ReplaceAll(s, v, Mask)
				continue
			}
			s = regexp.MustCompile(`(^|[^A-Za-z0-9])`+regexp.QuoteMeta(v)+`($|[^A-Za-z0-9])`).ReplaceAllString(s, "${1}"+Mask+"${2}")
		}
	}
	for _, p := range patterns {
		s = p.re.ReplaceAllString(s, p.repl)
	}
	return s
}

// Error returns err with its message masked, or nil. errors.Is and
// errors.As still see the original error, whose message must not be shown.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := r.String(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redacted{msg: msg, err: err}
}

type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }
