package auth0client

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/auth0/go-auth0/management"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// API is the narrow set of Auth0 Management API calls the EventStream
// controller makes. Unit tests fake it; the real one is go-auth0.
type API interface { //nolint:interfacebloat // One method per Auth0 call the controller makes, so one fake stands in for Auth0.
	// Read GETs /event-streams/{id}.
	Read(ctx context.Context, id string) (*management.EventStream, error)
	// List GETs one page of /event-streams, starting at checkpoint from
	// ("" for the first page).
	List(ctx context.Context, from string) (*management.EventStreamList, error)
	// Create POSTs /event-streams and fills e from the response. It is never
	// retried: a POST whose response is lost may have created a stream, and
	// a blind retry would create a second one.
	Create(ctx context.Context, e *management.EventStream) error
	// Update PATCHes /event-streams/{id} and fills e from the response.
	Update(ctx context.Context, id string, e *management.EventStream) error
	// Delete DELETEs /event-streams/{id}.
	Delete(ctx context.Context, id string) error

	// Stats GETs /event-streams/{id}/stats: the delivery runs finished in
	// [from, to).
	Stats(ctx context.Context, id string, from, to time.Time) (DeliveryStats, error)
	// FailedDeliveries GETs one page (at most MaxFailedDeliveries, oldest
	// first) of /event-streams/{id}/deliveries?statuses=failed for events
	// since from.
	FailedDeliveries(ctx context.Context, id string, from time.Time) ([]FailedDelivery, error)
	// SendTestEvent POSTs /event-streams/{id}/test; never retried.
	SendTestEvent(ctx context.Context, id, eventType string) (TestDelivery, error)
	// RedeliverFailed POSTs /event-streams/{id}/redeliver with no filter:
	// every failed delivery is delivered again; never retried.
	RedeliverFailed(ctx context.Context, id string) error
}

// MaxFailedDeliveries is the page size of FailedDeliveries (Auth0's most).
const MaxFailedDeliveries = 100

// Config is what every client built by a Cache shares.
type Config struct {
	// CACerts are extra PEM certificates trusted for every tenant (the
	// --auth0-ca-file flag), in addition to the system roots and a
	// credentials Secret's caCert.
	CACerts []byte
	// UserAgent sent to Auth0.
	UserAgent string
	// AttemptTimeout bounds one HTTP attempt. Default 30s.
	AttemptTimeout time.Duration
	// MaxRetries of a GET, PATCH or DELETE that failed with a 429, a 5xx or
	// a connection error. go-auth0 waits for x-ratelimit-reset on a 429 and
	// backs off exponentially otherwise. Default 3.
	MaxRetries int
	// Metrics to count calls and token fetches in; required.
	Metrics *Metrics
	// Hosts, when set, are the only domains New builds a client for (the
	// --auth0-domains flag). Callers check it first to name the config in
	// their error; this is the second guard.
	Hosts Hosts
	// MaxResponseBytes bounds every response body read, token responses
	// included. Default DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// ListEvery, when set, makes each client an Index: observations are
	// answered from one listing of the tenant per ListEvery (the poll).
	// Zero observes with a GET per stream.
	ListEvery time.Duration
	// MaxListPages bounds each listing; DefaultMaxPages when zero.
	MaxListPages int
	// Budgets, when set, keep every client to its tenant's rate budget
	// (--auth0-rate-budget); nil sends without one.
	Budgets *Budgets
}

// retryStatuses are answers after which a request is retried.
var retryStatuses = []int{ //nolint:gochecknoglobals // We treat this as a constant.
	http.StatusTooManyRequests,
	http.StatusInternalServerError,
	http.StatusBadGateway,
	http.StatusServiceUnavailable,
	http.StatusGatewayTimeout,
}

type client struct {
	// retrying serves every call but Create.
	retrying *management.Management
	// once serves Create: go-auth0 retries any request on a connection
	// error, POST included, so creates use a client without retries.
	once *management.Management
	// budget is the tenant's rate budget; nil when there is none.
	budget *Budget
}

// New builds a client for creds. Its two go-auth0 clients share one
// transport and one token source, so the tenant sees one token request per
// token lifetime.
func New(creds Credentials, cfg Config) (API, error) {
	if err := creds.Validate(); err != nil {
		return nil, err
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 30 * time.Second
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = 3
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if !cfg.Hosts.IsZero() {
		if err := cfg.Hosts.Check(creds.Domain); err != nil {
			return nil, err
		}
	}
	host := creds.Domain
	if i := strings.Index(host, "//"); i != -1 {
		host = host[i+2:]
	}
	host = strings.TrimSuffix(host, "/")

	tr := http.DefaultTransport.(*http.Transport).Clone() //nolint:forcetypeassert // net/http makes DefaultTransport an *http.Transport.
	if len(cfg.CACerts) > 0 || len(creds.CACert) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		for _, pem := range [][]byte{cfg.CACerts, creds.CACert} {
			if len(pem) > 0 && !pool.AppendCertsFromPEM(pem) {
				return nil, errors.New("caCert holds no PEM certificate")
			}
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	var base http.RoundTripper = instrumented{base: capped{base: noRedirects{base: tr}, max: cfg.MaxResponseBytes}, metrics: cfg.Metrics}
	var budget *Budget
	if cfg.Budgets != nil {
		// Above the counting: a request the budget stops was never sent.
		budget = cfg.Budgets.For(host)
		base = budgeted{base: base, budget: budget}
	}

	audience := creds.Audience
	if audience == "" {
		audience = "https://" + host + "/api/v2/"
	}
	cc := clientcredentials.Config{
		ClientID:       creds.ClientID,
		ClientSecret:   creds.ClientSecret,
		TokenURL:       "https://" + host + "/oauth/token",
		EndpointParams: map[string][]string{"audience": {audience}},
		// Auth0's default token endpoint authentication is client_secret_post;
		// auto-detection would spend a failed request on basic auth first.
		AuthStyle: oauth2.AuthStyleInParams,
	}
	// The token source outlives any reconcile, so its context must not be
	// one: it carries only the HTTP client used for token requests.
	tokenCtx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: base, Timeout: cfg.AttemptTimeout})
	ts := &rejectionMemo{src: cc.TokenSource(tokenCtx), ttl: time.Minute} // caches the token until it expires

	authed := func(timeout time.Duration) *http.Client {
		return &http.Client{Timeout: timeout, Transport: &oauth2.Transport{Source: ts, Base: base}}
	}
	opts := func(extra ...management.Option) []management.Option {
		return append([]management.Option{
			// go-auth0 has no option for a caller's token source: the real
			// token is set by the shared oauth2.Transport of WithClient,
			// which overwrites this placeholder before anything is sent.
			management.WithStaticToken("replaced-by-shared-token-source"),
			management.WithUserAgent(cfg.UserAgent),
		}, extra...)
	}
	retrying, err := management.New(host, opts(
		management.WithClient(authed(0)),
		management.WithRetryStrategy(management.RetryStrategy{
			MaxRetries:        cfg.MaxRetries,
			Statuses:          retryStatuses,
			PerAttemptTimeout: cfg.AttemptTimeout,
		}),
	)...)
	if err != nil {
		return nil, fmt.Errorf("cannot build Auth0 client for domain %q: %w", host, err)
	}
	once, err := management.New(host, opts(
		management.WithClient(authed(cfg.AttemptTimeout)),
		management.WithNoRetries(),
	)...)
	if err != nil {
		return nil, fmt.Errorf("cannot build Auth0 client for domain %q: %w", host, err)
	}
	return &client{retrying: retrying, once: once, budget: budget}, nil
}

func (c *client) Read(ctx context.Context, id string) (*management.EventStream, error) {
	return c.retrying.EventStream.Read(ctx, id)
}

func (c *client) List(ctx context.Context, from string) (*management.EventStreamList, error) {
	opts := []management.RequestOption{management.Take(PageSize)}
	if from != "" {
		opts = append(opts, management.From(from))
	}
	return c.retrying.EventStream.List(ctx, opts...)
}

func (c *client) Create(ctx context.Context, e *management.EventStream) error {
	return c.once.EventStream.Create(ctx, e)
}

func (c *client) Update(ctx context.Context, id string, e *management.EventStream) error {
	return c.retrying.EventStream.Update(ctx, id, e)
}

func (c *client) Delete(ctx context.Context, id string) error {
	return c.retrying.EventStream.Delete(ctx, id)
}

// UnauthorizedRebuildInterval is the least time between two rebuilds of a
// key's client after Auth0 refused its token (401). The first 401 rebuilds
// at once (a token revoked or expired early); a persistent one (a tenant
// that keeps refusing fresh tokens) then costs one token request per
// ProviderConfig per interval instead of one per reconcile.
const UnauthorizedRebuildInterval = time.Minute

// A Cache keeps one client per key (a ProviderConfig's UID) for as long as
// the credentials' fingerprint stays the same.
type Cache struct {
	cfg Config
	new func(Credentials, Config) (API, error)
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*cacheEntry
	// lastUnauthorizedRebuild is when a key's client was last rebuilt
	// because Auth0 refused its token. It outlives the entries it throttles.
	lastUnauthorizedRebuild map[string]time.Time
}

type cacheEntry struct {
	fingerprint string
	api         API
	// refused is set when Auth0 answered this client with a 401.
	refused bool
	// used is when Get last returned this client.
	used time.Time
}

// NewCache returns an empty cache building clients with New.
func NewCache(cfg Config) *Cache {
	return &Cache{cfg: cfg, new: New, now: time.Now, entries: map[string]*cacheEntry{}, lastUnauthorizedRebuild: map[string]time.Time{}}
}

// Get returns the client cached for key, building a new one when there is
// none, the credentials changed, or Auth0 refused its token and the key was
// not rebuilt for that reason within UnauthorizedRebuildInterval.
func (c *Cache) Get(key string, creds Credentials) (API, error) {
	fp := creds.Fingerprint()
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	e, ok := c.entries[key]
	switch {
	case ok && e.fingerprint == fp && !e.refused:
		e.used = now
		return e.api, nil
	case ok && e.fingerprint == fp && now.Sub(c.lastUnauthorizedRebuild[key]) < UnauthorizedRebuildInterval:
		// Refused again soon after a rebuild: reuse it, one 401 costs no
		// token request.
		e.used = now
		return e.api, nil
	}
	api, err := c.new(creds, c.cfg)
	if err != nil {
		return nil, err
	}
	if ok && e.fingerprint == fp {
		c.lastUnauthorizedRebuild[key] = now
	}
	ne := &cacheEntry{fingerprint: fp, used: now}
	ne.api = &dropOnUnauthorized{API: api, refused: func() { c.refused(key, ne) }}
	if c.cfg.ListEvery > 0 {
		// One listing per tenant and credentials: a rebuilt client lists
		// afresh.
		ne.api = NewIndex(ne.api, c.cfg.ListEvery, c.cfg.MaxListPages)
	}
	c.entries[key] = ne
	return ne.api, nil
}

// refused marks e, if still cached, as refused by Auth0.
func (c *Cache) refused(key string, e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[key] == e {
		e.refused = true
	}
}

// Sweep forgets the clients no Get asked for within idle: those of deleted
// ProviderConfigs and of configs no resource uses any more. It returns how
// many it forgot.
func (c *Cache) Sweep(idle time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg.Budgets != nil {
		c.cfg.Budgets.Sweep(idle)
	}
	now := c.now()
	n := 0
	for key, e := range c.entries {
		if now.Sub(e.used) > idle {
			delete(c.entries, key)
			n++
		}
	}
	for key, t := range c.lastUnauthorizedRebuild {
		if _, ok := c.entries[key]; !ok && now.Sub(t) >= UnauthorizedRebuildInterval {
			delete(c.lastUnauthorizedRebuild, key)
		}
	}
	return n
}

// dropOnUnauthorized marks a cached client refused when Auth0 refuses its
// token (401): the token was revoked or expired early, and the token source
// would otherwise keep offering it until its own expiry. The Cache then
// builds a client that fetches a new token, at most once per
// UnauthorizedRebuildInterval.
type dropOnUnauthorized struct {
	API

	refused func()
}

func (d *dropOnUnauthorized) check(err error) error {
	if StatusCode(err) == http.StatusUnauthorized {
		d.refused()
	}
	return err
}

func (d *dropOnUnauthorized) Read(ctx context.Context, id string) (*management.EventStream, error) {
	s, err := d.API.Read(ctx, id)
	return s, d.check(err)
}

func (d *dropOnUnauthorized) List(ctx context.Context, from string) (*management.EventStreamList, error) {
	l, err := d.API.List(ctx, from)
	return l, d.check(err)
}

func (d *dropOnUnauthorized) Create(ctx context.Context, e *management.EventStream) error {
	return d.check(d.API.Create(ctx, e))
}

func (d *dropOnUnauthorized) Update(ctx context.Context, id string, e *management.EventStream) error {
	return d.check(d.API.Update(ctx, id, e))
}

func (d *dropOnUnauthorized) Delete(ctx context.Context, id string) error {
	return d.check(d.API.Delete(ctx, id))
}

// Len is the number of cached clients.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// StatusCode is the HTTP status of an Auth0 API error, or 0.
func StatusCode(err error) int {
	if e, ok := errors.AsType[management.Error](err); ok {
		return e.Status()
	}
	return 0
}

// IsNotFound is true for a 404 from Auth0.
func IsNotFound(err error) bool { return StatusCode(err) == http.StatusNotFound }

// Explain turns an error of a call into a message a user can act on. It
// never includes credentials: token errors are rebuilt from their code and
// description only.
func Explain(err error) error {
	if err == nil {
		return nil
	}
	if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok {
		code := 0
		if re.Response != nil {
			code = re.Response.StatusCode
		}
		return fmt.Errorf("Auth0 refused the provider's client credentials (HTTP %d %s: %s); check clientId, clientSecret and that the application is authorized for the Management API", code, re.ErrorCode, re.ErrorDescription)
	}
	switch code := StatusCode(err); {
	case code == http.StatusTooManyRequests:
		return fmt.Errorf("rate limited by Auth0 after retries, will try again: %w", err)
	case code == http.StatusUnauthorized:
		return fmt.Errorf("Auth0 refused the access token; a new one is fetched at once, then at most once a minute while Auth0 keeps refusing (check that the application is still authorized for the Management API): %w", err)
	case code == http.StatusForbidden:
		return fmt.Errorf("Auth0 denied the call; check the application's Management API scopes (read/create/update/delete:event_streams): %w", err)
	case code >= 500:
		return fmt.Errorf("Auth0 failed after retries, will try again: %w", err)
	case code >= 400:
		return fmt.Errorf("Auth0 rejected the event stream: %w", err)
	}
	return err
}

// rejectionMemo remembers for ttl that Auth0 refused the credentials (a 4xx
// from /oauth/token). go-auth0 retries any failed round trip, the token
// fetch inside it included; without this every reconcile with bad
// credentials would spend several token requests, which Auth0 meters.
type rejectionMemo struct {
	src oauth2.TokenSource
	ttl time.Duration

	mu    sync.Mutex
	err   error
	until time.Time
}

func (r *rejectionMemo) Token() (*oauth2.Token, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil && time.Now().Before(r.until) {
		return nil, r.err
	}
	t, err := r.src.Token()
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 && re.Response.StatusCode != http.StatusTooManyRequests {
		r.err, r.until = err, time.Now().Add(r.ttl)
	}
	return t, err
}

// RateBudget is each tenant's rate budget in requests per second, or 0 when
// clients are built without one.
func (c *Cache) RateBudget() int {
	if c.cfg.Budgets == nil {
		return 0
	}
	return c.cfg.Budgets.PerSecond()
}
