package auth0sim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xp-auth0/auth0-eventstream/internal/auth0sim"
)

// sim drives a Server in-process through its http.Handler.
type sim struct {
	t     testing.TB
	srv   *auth0sim.Server
	clock *clock
	token string
}

func newSim(tb testing.TB, opts auth0sim.Options) *sim {
	tb.Helper()
	c := newClock(time.Date(2026, 3, 10, 6, 0, 0, 0, time.UTC))
	if opts.Now == nil {
		opts.Now = c.Now
	}
	opts.Clients = map[string]string{clientID: clientSecret}
	s := &sim{t: tb, srv: auth0sim.New(opts), clock: c}
	tb.Cleanup(s.srv.Close)
	code, body := s.raw(http.MethodPost, "/oauth/token", "application/x-www-form-urlencoded", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret},
		"audience": {"https://sim.test/api/v2/"},
	}.Encode(), "")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(body), &tok); code != http.StatusOK || err != nil {
		tb.Fatalf("token: %d %s", code, body)
	}
	s.token = tok.AccessToken
	return s
}

func (s *sim) raw(method, path, contentType, body, auth string) (int, string) {
	s.t.Helper()
	req := httptest.NewRequest(method, "https://sim.test"+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	s.srv.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func (s *sim) call(method, path, body string) (int, string) {
	s.t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return s.raw(method, path, ct, body, "Bearer "+s.token)
}

func (s *sim) create(body string) string {
	s.t.Helper()
	code, resp := s.call(http.MethodPost, "/api/v2/event-streams", body)
	if code != http.StatusCreated {
		s.t.Fatalf("create: %d %s", code, resp)
	}
	var st struct{ ID string }
	_ = json.Unmarshal([]byte(resp), &st)
	return st.ID
}

const (
	validWebhook     = `{"name":"w","subscriptions":[{"event_type":"user.created"}],"destination":{"type":"webhook","configuration":{"webhook_endpoint":"https://example.net/hook","webhook_authorization":{"method":"bearer","token":"tok-1"}}}}`
	validEventBridge = `{"name":"e","subscriptions":[{"event_type":"user.created"}],"destination":{"type":"eventbridge","configuration":{"aws_account_id":"123456789012","aws_region":"eu-west-1"}}}`
)

func TestCreateValidation(t *testing.T) {
	s := newSim(t, auth0sim.Options{})
	dest := func(typ, cfg string) string {
		return `{"name":"n","subscriptions":[{"event_type":"user.created"}],"destination":{"type":"` + typ + `","configuration":` + cfg + `}}`
	}
	hook := func(auth string) string {
		return dest("webhook", `{"webhook_endpoint":"https://example.net/h","webhook_authorization":`+auth+`}`)
	}
	cases := map[string]struct {
		body  string
		field string
	}{
		"not JSON":                    {`{"name":`, "Invalid request payload JSON format"},
		"not an object":               {`[]`, "Expected type object"},
		"missing name":                {`{"subscriptions":[{"event_type":"user.created"}],"destination":{"type":"action","configuration":{"action_id":"a"}}}`, "on property name"},
		"empty name":                  {strings.Replace(validWebhook, `"name":"w"`, `"name":""`, 1), "on property name"},
		"long name":                   {strings.Replace(validWebhook, `"name":"w"`, `"name":"`+strings.Repeat("n", 129)+`"`, 1), "on property name"},
		"unknown property":            {strings.Replace(validWebhook, `"name":"w"`, `"name":"w","colour":"red"`, 1), "on property colour"},
		"bad status":                  {strings.Replace(validWebhook, `"name":"w"`, `"name":"w","status":"active"`, 1), "on property status"},
		"missing subscriptions":       {`{"name":"n","destination":{"type":"action","configuration":{"action_id":"a"}}}`, "on property subscriptions"},
		"no subscriptions":            {strings.Replace(validWebhook, `[{"event_type":"user.created"}]`, `[]`, 1), "on property subscriptions"},
		"unknown event type":          {strings.Replace(validWebhook, `user.created`, `authentication.success`, 1), "on property subscriptions[0].event_type"},
		"management event type":       {strings.Replace(validWebhook, `user.created`, `management.user.created`, 1), "subscriptions[0].event_type"},
		"duplicate event type":        {strings.Replace(validWebhook, `[{"event_type":"user.created"}]`, `[{"event_type":"user.created"},{"event_type":"user.created"}]`, 1), "subscriptions[1].event_type"},
		"missing destination":         {`{"name":"n","subscriptions":[{"event_type":"user.created"}]}`, "on property destination"},
		"unknown destination type":    {dest("kafka", `{}`), "on property destination.type"},
		"missing configuration":       {`{"name":"n","subscriptions":[{"event_type":"user.created"}],"destination":{"type":"webhook"}}`, "destination.configuration"},
		"http endpoint":               {dest("webhook", `{"webhook_endpoint":"http://example.net/h","webhook_authorization":{"method":"bearer","token":"t"}}`), "destination.configuration.webhook_endpoint"},
		"relative endpoint":           {dest("webhook", `{"webhook_endpoint":"/h","webhook_authorization":{"method":"bearer","token":"t"}}`), "destination.configuration.webhook_endpoint"},
		"missing authorization":       {dest("webhook", `{"webhook_endpoint":"https://example.net/h"}`), "destination.configuration.webhook_authorization"},
		"unknown auth method":         {hook(`{"method":"oauth"}`), "webhook_authorization.method"},
		"bearer without token":        {hook(`{"method":"bearer"}`), "webhook_authorization.token"},
		"basic without password":      {hook(`{"method":"basic","username":"u"}`), "webhook_authorization.password"},
		"basic with token":            {hook(`{"method":"basic","username":"u","password":"p","token":"t"}`), "webhook_authorization.token"},
		"header without value":        {hook(`{"method":"custom_header","header_key":"X-Key"}`), "webhook_authorization.header_value"},
		"bad header key":              {hook(`{"method":"custom_header","header_key":"X Key","header_value":"v"}`), "webhook_authorization.header_key"},
		"short account id":            {dest("eventbridge", `{"aws_account_id":"12345","aws_region":"us-east-1"}`), "destination.configuration.aws_account_id"},
		"account id with letters":     {dest("eventbridge", `{"aws_account_id":"12345678901a","aws_region":"us-east-1"}`), "destination.configuration.aws_account_id"},
		"numeric account id":          {dest("eventbridge", `{"aws_account_id":123456789012,"aws_region":"us-east-1"}`), "destination.configuration.aws_account_id"},
		"missing region":              {dest("eventbridge", `{"aws_account_id":"123456789012"}`), "destination.configuration.aws_region"},
		"bad region":                  {dest("eventbridge", `{"aws_account_id":"123456789012","aws_region":"mars"}`), "destination.configuration.aws_region"},
		"partner source is read-only": {dest("eventbridge", `{"aws_account_id":"123456789012","aws_region":"us-east-1","aws_partner_event_source":"x"}`), "aws_partner_event_source"},
		"action without id":           {dest("action", `{}`), "destination.configuration.action_id"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, body := s.call(http.MethodPost, "/api/v2/event-streams", tc.body)
			if code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", code, body)
			}
			var e struct {
				StatusCode int    `json:"statusCode"`
				Error      string `json:"error"`
				Message    string `json:"message"`
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.StatusCode != http.StatusBadRequest || e.Error != "Bad Request" {
				t.Fatalf("body %s is not Auth0's error shape", body)
			}
			if !strings.Contains(e.Message, tc.field) {
				t.Errorf("message %q does not name %q", e.Message, tc.field)
			}
		})
	}
	if n := len(s.srv.Streams()); n != 0 {
		t.Errorf("%d streams stored after only invalid creates", n)
	}
	for _, ok := range []string{
		validWebhook, validEventBridge,
		`{"name":"a","status":"disabled","subscriptions":[{"event_type":"organization.member.role.assigned"}],"destination":{"type":"action","configuration":{"action_id":"act_1"}}}`,
		strings.Replace(validWebhook, `{"method":"bearer","token":"tok-1"}`, `{"method":"basic","username":"u","password":"p"}`, 1),
		strings.Replace(validWebhook, `{"method":"bearer","token":"tok-1"}`, `{"method":"custom_header","header_key":"X-Api-Key","header_value":"v"}`, 1),
	} {
		s.create(ok)
	}
}

func TestSecretsAreWriteOnly(t *testing.T) {
	s := newSim(t, auth0sim.Options{})
	for _, tc := range []struct{ auth, secret, visible string }{
		{`{"method":"bearer","token":"tok-secret"}`, "tok-secret", `"method":"bearer"`},
		{`{"method":"basic","username":"user1","password":"pw-secret"}`, "pw-secret", `"username":"user1"`},
		{`{"method":"custom_header","header_key":"X-Key","header_value":"hv-secret"}`, "hv-secret", `"header_key":"X-Key"`},
	} {
		body := strings.Replace(validWebhook, `{"method":"bearer","token":"tok-1"}`, tc.auth, 1)
		code, created := s.call(http.MethodPost, "/api/v2/event-streams", body)
		if code != http.StatusCreated {
			t.Fatalf("create: %d %s", code, created)
		}
		var st struct{ ID string }
		_ = json.Unmarshal([]byte(created), &st)
		_, read := s.call(http.MethodGet, "/api/v2/event-streams/"+st.ID, "")
		_, list := s.call(http.MethodGet, "/api/v2/event-streams", "")
		for what, b := range map[string]string{"create": created, "read": read, "list": list} {
			if strings.Contains(b, tc.secret) {
				t.Errorf("%s answer returns the secret: %s", what, b)
			}
			if !strings.Contains(b, tc.visible) {
				t.Errorf("%s answer lacks %s: %s", what, tc.visible, b)
			}
		}
	}
	// The stored form keeps them (for tests and the state file).
	for i, want := range []string{"tok-secret", "pw-secret", "hv-secret"} {
		w := s.srv.Streams()[i].Destination.Webhook
		if got := w.Token + w.Password + w.HeaderValue; got != want {
			t.Errorf("stream %d stored secret %q, want %q", i, got, want)
		}
	}
}

func TestPatch(t *testing.T) {
	s := newSim(t, auth0sim.Options{})
	id := s.create(validWebhook)
	before, _ := s.srv.Stream(id)
	s.clock.Advance(time.Second)

	code, body := s.call(http.MethodPatch, "/api/v2/event-streams/"+id, `{"name":"renamed"}`)
	if code != http.StatusOK || !strings.Contains(body, `"subscriptions":[{"event_type":"user.created"}]`) || !strings.Contains(body, `"webhook_endpoint":"https://example.net/hook"`) {
		t.Fatalf("PATCH of name: %d %s, want 200 with the whole stream", code, body)
	}
	after, _ := s.srv.Stream(id)
	if after.Name != "renamed" || after.Destination.Webhook.Token != "tok-1" || !after.UpdatedAt.After(before.UpdatedAt) || !after.CreatedAt.Equal(before.CreatedAt) {
		t.Errorf("after PATCH: %+v, want name changed, secret kept, updated_at moved, created_at kept", after)
	}
	// Rotating the webhook secret.
	code, body = s.call(http.MethodPatch, "/api/v2/event-streams/"+id, `{"destination":{"type":"webhook","configuration":{"webhook_endpoint":"https://example.net/new","webhook_authorization":{"method":"bearer","token":"tok-2"}}}}`)
	if st, _ := s.srv.Stream(id); code != http.StatusOK || st.Destination.Webhook.Token != "tok-2" || st.Destination.Webhook.Endpoint != "https://example.net/new" {
		t.Errorf("rotate secret: %d %s; stored %+v", code, body, st.Destination.Webhook)
	}

	eb := s.create(validEventBridge)
	for name, tc := range map[string]struct {
		id, body string
		code     int
		contains string
	}{
		"empty body":              {id, `{}`, 400, "minimum 1"},
		"bad status":              {id, `{"status":"paused"}`, 400, "on property status"},
		"change destination type": {id, `{"destination":{"type":"action","configuration":{"action_id":"a"}}}`, 400, "destination.type"},
		"incomplete webhook":      {id, `{"destination":{"type":"webhook","configuration":{"webhook_endpoint":"https://example.net/x"}}}`, 400, "webhook_authorization"},
		"eventbridge destination": {eb, `{"destination":{"type":"eventbridge","configuration":{"aws_account_id":"123456789012","aws_region":"eu-west-2"}}}`, 400, "on property destination"},
		"eventbridge status":      {eb, `{"status":"disabled"}`, 200, `"status":"disabled"`},
		"unknown stream":          {"est_0000000000000000000000", `{"name":"x"}`, 404, "The requested stream does not exist."},
		"malformed id":            {"nope", `{"name":"x"}`, 400, "on property id"},
	} {
		t.Run(name, func(t *testing.T) {
			code, body := s.call(http.MethodPatch, "/api/v2/event-streams/"+tc.id, tc.body)
			if code != tc.code || !strings.Contains(body, tc.contains) {
				t.Errorf("%d %s, want %d containing %q", code, body, tc.code, tc.contains)
			}
		})
	}
	if st, _ := s.srv.Stream(eb); !strings.HasPrefix(st.Destination.EventBridge.PartnerEventSource, "aws.partner/auth0.com/sim-tenant-") {
		t.Errorf("partner event source = %q", st.Destination.EventBridge.PartnerEventSource)
	}
}

func TestAuthentication(t *testing.T) {
	s := newSim(t, auth0sim.Options{TokenTTL: time.Hour})
	for name, tc := range map[string]struct{ auth, msg string }{
		"missing":   {"", "Missing authentication"},
		"malformed": {"Token abc", "Bad HTTP authentication header format"},
		"unknown":   {"Bearer abc", "Invalid token"},
	} {
		code, body := s.raw(http.MethodGet, "/api/v2/event-streams", "", "", tc.auth)
		if code != http.StatusUnauthorized || !strings.Contains(body, `"message":"`+tc.msg+`"`) {
			t.Errorf("%s: %d %s, want 401 %q", name, code, body, tc.msg)
		}
	}
	if code, _ := s.call(http.MethodGet, "/api/v2/event-streams", ""); code != http.StatusOK {
		t.Fatalf("valid token: %d", code)
	}
	s.clock.Advance(time.Hour)
	if code, body := s.call(http.MethodGet, "/api/v2/event-streams", ""); code != http.StatusUnauthorized || !strings.Contains(body, "Expired token") {
		t.Errorf("expired token: %d %s", code, body)
	}
	for name, form := range map[string]url.Values{
		"wrong secret": {"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {"x"}, "audience": {"https://sim.test/api/v2/"}},
		"wrong client": {"grant_type": {"client_credentials"}, "client_id": {"x"}, "client_secret": {clientSecret}, "audience": {"https://sim.test/api/v2/"}},
	} {
		code, body := s.raw(http.MethodPost, "/oauth/token", "application/x-www-form-urlencoded", form.Encode(), "")
		if code != http.StatusUnauthorized || body != `{"error":"access_denied","error_description":"Unauthorized"}`+"\n" {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}, "audience": {"https://other/api/v2/"}}
	if code, body := s.raw(http.MethodPost, "/oauth/token", "application/x-www-form-urlencoded", form.Encode(), ""); code != http.StatusForbidden {
		t.Errorf("wrong audience: %d %s, want 403", code, body)
	}
	// JSON bodies work too, as with Auth0.
	js := `{"grant_type":"client_credentials","client_id":"` + clientID + `","client_secret":"` + clientSecret + `","audience":"https://sim-tenant/api/v2/"}`
	if code, body := s.raw(http.MethodPost, "/oauth/token", "application/json", js, ""); code != http.StatusOK || !strings.Contains(body, `"expires_in":3600`) {
		t.Errorf("JSON token request: %d %s", code, body)
	}
}

func TestListCheckpoints(t *testing.T) {
	s := newSim(t, auth0sim.Options{})
	var ids []string
	for range 3 {
		ids = append(ids, s.create(validWebhook))
	}
	_, body := s.call(http.MethodGet, "/api/v2/event-streams?take=2", "")
	var page struct {
		EventStreams []struct{ ID string }
		Next         string
	}
	_ = json.Unmarshal([]byte(body), &page)
	if len(page.EventStreams) != 2 || page.Next == "" {
		t.Fatalf("first page %s", body)
	}
	// Deleting a listed stream between pages does not shift the next one.
	s.call(http.MethodDelete, "/api/v2/event-streams/"+ids[0], "")
	_, body = s.call(http.MethodGet, "/api/v2/event-streams?take=2&from="+page.Next, "")
	page.EventStreams, page.Next = nil, ""
	_ = json.Unmarshal([]byte(body), &page)
	if len(page.EventStreams) != 1 || page.EventStreams[0].ID != ids[2] || page.Next != "" {
		t.Errorf("second page %s, want only %s and no next", body, ids[2])
	}
	for q, field := range map[string]string{"take=0": "take", "take=101": "take", "take=x": "take", "from=garbage": "from", "page=1": "page"} {
		if code, body := s.call(http.MethodGet, "/api/v2/event-streams?"+q, ""); code != 400 || !strings.Contains(body, "on property "+field) {
			t.Errorf("?%s: %d %s, want 400 naming %s", q, code, body, field)
		}
	}
	if code, body := s.call(http.MethodDelete, "/api/v2/event-streams/"+ids[0], ""); code != http.StatusNoContent || body != "" {
		t.Errorf("second DELETE: %d %q, want 204 as recorded", code, body)
	}
}

func TestTestEventValidation(t *testing.T) {
	s := newSim(t, auth0sim.Options{})
	id := s.create(validWebhook)
	for body, want := range map[string]string{
		`{}`:                                     "on property event_type",
		`{"event_type":"user.deleted"}`:          "not subscribed",
		`{"event_type":"auth.x"}`:                "on property event_type",
		`{"event_type":"user.created","data":1}`: "on property data",
	} {
		if code, resp := s.call(http.MethodPost, "/api/v2/event-streams/"+id+"/test", body); code != 400 || !strings.Contains(resp, want) {
			t.Errorf("%s: %d %s, want 400 %q", body, code, resp, want)
		}
	}
	if code, resp := s.call(http.MethodPost, "/api/v2/event-streams/est_0000000000000000000000/test", `{"event_type":"user.created"}`); code != 404 {
		t.Errorf("unknown stream: %d %s", code, resp)
	}
	code, resp := s.call(http.MethodPost, "/api/v2/event-streams/"+id+"/test", `{"event_type":"user.created","data":{"object":{"user_id":"u1"}}}`)
	if code != http.StatusAccepted || !strings.Contains(resp, `"data":{"object":{"user_id":"u1"}}`) {
		t.Errorf("test with data: %d %s", code, resp)
	}
}

func TestAdminAPI(t *testing.T) {
	s := newSim(t, auth0sim.Options{})
	id := s.create(validWebhook)

	// Drift: an out-of-band change, validated like a PATCH, uncounted.
	code, body := s.raw(http.MethodPatch, "/__sim/streams/"+id, "application/json", `{"status":"disabled"}`, "")
	if code != http.StatusOK || !strings.Contains(body, `"status":"disabled"`) || !strings.Contains(body, `"token":"tok-1"`) {
		t.Fatalf("drift: %d %s", code, body)
	}
	if code, _ := s.raw(http.MethodPatch, "/__sim/streams/"+id, "application/json", `{"status":"off"}`, ""); code != 400 {
		t.Errorf("invalid drift: %d, want 400", code)
	}
	if err := s.srv.ModifyStream(id, func(st *auth0sim.Stream) { st.Subscriptions = append(st.Subscriptions, "user.deleted") }); err != nil {
		t.Fatal(err)
	}
	_, body = s.call(http.MethodGet, "/api/v2/event-streams/"+id, "")
	if !strings.Contains(body, `"status":"disabled"`) || !strings.Contains(body, `{"event_type":"user.deleted"}`) {
		t.Errorf("read after drift: %s", body)
	}

	// Dump, then seed it into a fresh simulator.
	code, dump := s.raw(http.MethodGet, "/__sim/state", "", "", "")
	if code != 200 || !strings.Contains(dump, id) || !strings.Contains(dump, "tok-1") {
		t.Fatalf("dump: %d %s", code, dump)
	}
	other := newSim(t, auth0sim.Options{})
	if code, body := other.raw(http.MethodPut, "/__sim/state", "application/json", dump, ""); code != 200 {
		t.Fatalf("seed: %d %s", code, body)
	}
	// The seeded state carries the first simulator's token too.
	if code, body := other.raw(http.MethodGet, "/api/v2/event-streams/"+id, "", "", "Bearer "+s.token); code != 200 || !strings.Contains(body, `"status":"disabled"`) {
		t.Errorf("read seeded stream with the dumped token: %d %s", code, body)
	}
	if code, _ := other.raw(http.MethodPut, "/__sim/state", "application/json", `{"streams":[{"id":"bad","destination":{"type":"webhook"}}]}`, ""); code != 400 {
		t.Errorf("seed of a malformed id: %d, want 400", code)
	}

	// Faults at run time.
	if code, _ := s.raw(http.MethodPut, "/__sim/faults", "application/json", `{"error_rate":1}`, ""); code != 200 {
		t.Fatalf("set faults: %d", code)
	}
	if code, _ := s.call(http.MethodGet, "/api/v2/event-streams", ""); code != 500 && code != 503 {
		t.Errorf("with error_rate 1: %d, want 500 or 503", code)
	}
	if code, _ := s.raw(http.MethodPut, "/__sim/faults", "application/json", `{"error_rate":2}`, ""); code != 400 {
		t.Errorf("error_rate 2: %d, want 400", code)
	}
	s.raw(http.MethodPut, "/__sim/faults", "application/json", `{"latency":"1ms"}`, "")
	if f := s.srv.Faults(); f.ErrorRate != 0 || f.Latency != time.Millisecond {
		t.Errorf("faults = %+v", f)
	}
	s.raw(http.MethodPost, "/__sim/faults/next", "application/json", `{"errors":1}`, "")
	if code, _ := s.call(http.MethodGet, "/api/v2/event-streams", ""); code != 500 && code != 503 {
		t.Errorf("scripted error: %d", code)
	}
	if code, _ := s.call(http.MethodGet, "/api/v2/event-streams", ""); code != 200 {
		t.Errorf("after the scripted error: %d", code)
	}

	// Counters, in-process, over the admin API and as Prometheus metrics.
	c := s.srv.Counters()
	if c.Get("GET /api/v2/event-streams/{id}", "200") != 1 || c.Get("POST /api/v2/event-streams", "201") != 1 || c.TokensIssued != 1 {
		t.Errorf("counters %+v", c)
	}
	_, body = s.raw(http.MethodGet, "/__sim/counters", "", "", "")
	if !strings.Contains(body, `"POST /api/v2/event-streams":{"201":1}`) || !strings.Contains(body, `"tokens_issued":1`) {
		t.Errorf("admin counters %s", body)
	}
	_, metrics := s.raw(http.MethodGet, "/metrics", "", "", "")
	for _, want := range []string{
		`auth0sim_requests_total{endpoint="POST /api/v2/event-streams",outcome="201"} 1`,
		`auth0sim_tokens_issued_total 1`,
		`auth0sim_event_streams 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	s.raw(http.MethodPost, "/__sim/tokens/expire", "", "", "")
	if code, _ := s.call(http.MethodGet, "/api/v2/event-streams", ""); code != 401 {
		t.Errorf("after expiring tokens: %d, want 401", code)
	}
	if code, _ := s.raw(http.MethodDelete, "/__sim/streams/"+id, "", "", ""); code != 204 || len(s.srv.Streams()) != 0 {
		t.Errorf("out-of-band delete: %d", code)
	}
}

func TestDeliveriesQueriesAndStatsWindow(t *testing.T) {
	s := newSim(t, auth0sim.Options{DeliveryBackoff: time.Second})
	id := s.create(validWebhook)
	if err := s.srv.SetDeliveryOutcome(id, auth0sim.DeliveryOutcome{Fail: true, ErrorMessage: "boom"}); err != nil {
		t.Fatal(err)
	}
	code, body := s.call(http.MethodPost, "/api/v2/event-streams/"+id+"/test", `{"event_type":"user.created"}`)
	if code != http.StatusAccepted {
		t.Fatalf("test event: %d %s", code, body)
	}
	var ev struct{ ID string }
	_ = json.Unmarshal([]byte(body), &ev)
	base := "/api/v2/event-streams/" + id

	// While the attempts run, the delivery is pending and listed.
	s.clock.Advance(1500 * time.Millisecond)
	_, body = s.call(http.MethodGet, base+"/deliveries/"+ev.ID, "")
	if !strings.Contains(body, `"status":"pending"`) || strings.Count(body, `"error_message":"boom"`) != 1 {
		t.Errorf("after the first attempt: %s", body)
	}
	s.clock.AdvanceTo(s.srv.DeliveriesSettledAt())
	for q, want := range map[string]int{
		"":                                1,
		"?statuses=failed":                1,
		"?statuses=success":               0,
		"?event_types=user.created":       1,
		"?event_types=user.updated":       0,
		"?date_from=2026-03-11T00:00:00Z": 0,
		"?date_to=2026-03-11T00:00:00Z":   1,
		"?take=1":                         1,
	} {
		code, body := s.call(http.MethodGet, base+"/deliveries"+q, "")
		var l struct{ Deliveries []any }
		_ = json.Unmarshal([]byte(body), &l)
		if code != 200 || len(l.Deliveries) != want {
			t.Errorf("deliveries%s: %d with %d deliveries, want %d: %s", q, code, len(l.Deliveries), want, body)
		}
	}
	for q, field := range map[string]string{
		"?statuses=lost":                    "statuses",
		"?event_types=nope":                 "event_types",
		"?date_from=2026-03-11T00:00:00.5Z": "date_from",
		"?date_to=yesterday":                "date_to",
		"?from=zzz":                         "from",
		"?colour=red":                       "colour",
	} {
		if code, body := s.call(http.MethodGet, base+"/deliveries"+q, ""); code != 400 || !strings.Contains(body, "on property "+field) {
			t.Errorf("deliveries%s: %d %s, want 400 naming %s", q, code, body, field)
		}
	}
	for b, field := range map[string]string{
		`{"event_types":"user.created"}`:      "event_types",
		`{"event_types":["nope"]}`:            "event_types",
		`{"date_from":"2026-03-10T00:00:00"}`: "date_from",
		`{"colour":"red"}`:                    "colour",
	} {
		if code, body := s.call(http.MethodPost, base+"/redeliver", b); code != 400 || !strings.Contains(body, field) {
			t.Errorf("redeliver %s: %d %s, want 400 naming %s", b, code, body, field)
		}
	}
	if code, body := s.call(http.MethodPost, base+"/redeliver/evt_0000000000000000000000", ""); code != 404 {
		t.Errorf("redeliver of an unknown event: %d %s", code, body)
	}

	// Stats: one failed run today; none in an explicit window before it.
	_, body = s.call(http.MethodGet, base+"/stats", "")
	var st struct {
		Window struct {
			DateFrom string `json:"date_from"`
			DateTo   string `json:"date_to"`
		}
		Buckets []string
		Metrics []struct {
			Name        string
			WindowTotal int `json:"window_total"`
			Data        []int
		}
	}
	_ = json.Unmarshal([]byte(body), &st)
	if st.Window.DateFrom != "2026-02-24T06:00:00.000Z" || st.Window.DateTo != "2026-03-10T07:00:00.000Z" || len(st.Buckets) != 15 ||
		st.Metrics[1].WindowTotal != 1 || st.Metrics[1].Data[14] != 1 || st.Metrics[0].WindowTotal != 0 {
		t.Errorf("stats %s", body)
	}
	_, body = s.call(http.MethodGet, base+"/stats?date_from=2026-03-01T00:00:00Z&date_to=2026-03-05T00:00:00Z", "")
	st.Metrics, st.Buckets = nil, nil
	_ = json.Unmarshal([]byte(body), &st)
	if len(st.Buckets) != 4 || st.Metrics[1].WindowTotal != 0 {
		t.Errorf("stats in an earlier window: %s", body)
	}
	if code, _ := s.call(http.MethodGet, base+"/stats?date_from=2026-03-05T00:00:00Z&date_to=2026-03-01T00:00:00Z", ""); code != 400 {
		t.Errorf("stats with from after to: %d", code)
	}
}

func TestOddRequests(t *testing.T) {
	s := newSim(t, auth0sim.Options{})
	if code, body := s.call(http.MethodGet, "/api/v2/clients", ""); code != 404 || !strings.Contains(body, `"statusCode":404`) {
		t.Errorf("unknown API path: %d %s", code, body)
	}
	big := `{"name":"` + strings.Repeat("x", 1<<20) + `"}`
	if code, _ := s.call(http.MethodPost, "/api/v2/event-streams", big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("1 MiB body: %d, want 413", code)
	}
	if code, _ := s.call(http.MethodGet, "/api/v2/event-streams/est_0000000000000000000000/stats", ""); code != 404 {
		t.Errorf("stats of an unknown stream: %d", code)
	}
}

func TestDumpSeedKeepsDeliveries(t *testing.T) {
	s := newSim(t, auth0sim.Options{})
	id := s.create(validWebhook)
	if err := s.srv.SetDeliveryOutcome(id, auth0sim.DeliveryOutcome{Fail: true}); err != nil {
		t.Fatal(err)
	}
	s.call(http.MethodPost, "/api/v2/event-streams/"+id+"/test", `{"event_type":"user.created"}`)
	s.clock.AdvanceTo(s.srv.DeliveriesSettledAt())
	_, before := s.call(http.MethodGet, "/api/v2/event-streams/"+id+"/deliveries", "")

	b, err := json.Marshal(s.srv.Dump())
	if err != nil {
		t.Fatal(err)
	}
	var st auth0sim.State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	other := newSim(t, auth0sim.Options{})
	other.clock.AdvanceTo(s.clock.Now())
	if err := other.srv.Seed(st); err != nil {
		t.Fatalf("Seed: %v", err)
	}
	other.token = s.token // the seeded state replaced the tokens
	_, after := other.call(http.MethodGet, "/api/v2/event-streams/"+id+"/deliveries", "")
	if before != after || !strings.Contains(after, `"status":"failed"`) {
		t.Errorf("deliveries after dump and seed:\n%s\nwant\n%s", after, before)
	}
	// Seeding copies: redelivering in the seeded server leaves the dump as it was.
	var l struct{ Deliveries []struct{ ID string } }
	_ = json.Unmarshal([]byte(after), &l)
	other.call(http.MethodPost, "/api/v2/event-streams/"+id+"/redeliver/"+l.Deliveries[0].ID, "")
	if n := len(st.Deliveries[id][0].Runs); n != 1 {
		t.Errorf("the seeded State was changed: %d runs", n)
	}
	st.Deliveries[id][0].StreamID = "est_0000000000000000000000"
	if err := other.srv.Seed(st); err == nil {
		t.Error("Seed accepted a delivery filed under another stream")
	}
}
