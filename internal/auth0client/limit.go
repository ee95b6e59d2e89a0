package auth0client

import (
	"fmt"
	"io"
	"net/http"
)

// What a tenant's answers may make the provider do is bounded here.

// DefaultMaxResponseBytes bounds every response body the provider reads
// from a tenant. A page of 100 event streams is about 200 KiB (each stream
// at most a few KiB, its subscriptions included), and a page of 100 failed
// deliveries carries their events' payloads; 4 MiB holds either many times
// over, and keeps what a host answering without end can make the provider
// hold to that much per request.
const DefaultMaxResponseBytes = 4 << 20

// ResponseTooLargeError is the error of reading a response body past the
// bound.
type ResponseTooLargeError struct {
	Endpoint string
	Max      int64
}

func (e *ResponseTooLargeError) Error() string {
	return fmt.Sprintf("the answer to %s is larger than the %d bytes the provider reads of any Auth0 response", e.Endpoint, e.Max)
}

// capped bounds the body of every response of base.
type capped struct {
	base http.RoundTripper
	max  int64
}

func (t capped) RoundTrip(r *http.Request) (*http.Response, error) {
	rsp, err := t.base.RoundTrip(r)
	if err != nil || rsp.Body == nil {
		return rsp, err
	}
	rsp.Body = &cappedBody{rc: rsp.Body, left: t.max, err: &ResponseTooLargeError{Endpoint: Endpoint(r), Max: t.max}}
	return rsp, nil
}

// cappedBody reads up to left bytes, then fails if more remain.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
	err  error
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more than allowed tells a body of exactly the bound
		// from a longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, b.err
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }

// noRedirects refuses every redirect at the transport, where go-auth0
// cannot undo it (it rebuilds the http.Client it is given, dropping
// CheckRedirect): the allow-list names the hosts the provider talks to,
// and a redirect would lead elsewhere, credentials and all.
type noRedirects struct {
	base http.RoundTripper
}

func (t noRedirects) RoundTrip(r *http.Request) (*http.Response, error) {
	rsp, err := t.base.RoundTrip(r)
	if err != nil || rsp.StatusCode < 300 || rsp.StatusCode > 399 || rsp.Header.Get("Location") == "" {
		return rsp, err
	}
	_ = rsp.Body.Close()
	return nil, fmt.Errorf("the answer to %s redirects to %q; the provider follows no redirects", Endpoint(r), rsp.Header.Get("Location"))
}
