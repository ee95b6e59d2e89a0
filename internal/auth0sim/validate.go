package auth0sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/xp-auth0/auth0-eventstream/internal/eventtypes"
)

// apiError is an error in the Management API's shape.
type apiError struct {
	StatusCode int    `json:"statusCode"`
	Err        string `json:"error"`
	Message    string `json:"message"`
	ErrorCode  string `json:"errorCode,omitempty"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.StatusCode, e.Err, e.Message) }

// The 404 body is exactly as recorded from Auth0.
const msgStreamNotFound = "The requested stream does not exist."

func errNotFound(msg string) *apiError {
	return &apiError{StatusCode: http.StatusNotFound, Err: "Not Found", Message: msg}
}

func errUnauthorized(msg string) *apiError {
	return &apiError{StatusCode: http.StatusUnauthorized, Err: "Unauthorized", Message: msg}
}

func errBadRequest(code, msg string) *apiError {
	return &apiError{StatusCode: http.StatusBadRequest, Err: "Bad Request", Message: msg, ErrorCode: code}
}

// errBody names the offending property, as Auth0's payload validation does.
func errBody(property, detail string) *apiError {
	if property == "" {
		return errBadRequest("invalid_body", fmt.Sprintf("Payload validation error: '%s'.", detail))
	}
	return errBadRequest("invalid_body", fmt.Sprintf("Payload validation error: '%s' on property %s.", detail, property))
}

func errQuery(property, detail string) *apiError {
	return errBadRequest("invalid_query_string", fmt.Sprintf("Query validation error: '%s' on property %s.", detail, property))
}

var (
	awsAccountPattern = regexp.MustCompile(`^[0-9]{12}$`)
	awsRegionPattern  = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$`)
	headerKeyPattern  = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

const maxNameLength = 128

// object is a decoded JSON object whose values are still raw, so the
// validator can report type errors per property.
type object map[string]json.RawMessage

func decodeObject(property string, raw []byte) (object, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errBody(property, "Expected type object but found type "+jsonType(raw))
	}
	var o object
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, errBadRequest("invalid_body", "Invalid request payload JSON format")
	}
	return o, nil
}

func jsonType(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "undefined"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

func join(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}

// only rejects properties outside allowed: Auth0's schemas do not allow
// additional properties.
func (o object) only(property string, allowed ...string) *apiError {
	var extra []string
	for k := range o {
		if !slices.Contains(allowed, k) {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	sort.Strings(extra)
	return errBody(join(property, extra[0]), "Additional properties not allowed: "+strings.Join(extra, ","))
}

// decodeStrict decodes an object that allows no properties outside
// allowed.
func decodeStrict(property string, raw []byte, allowed ...string) (object, *apiError) {
	o, aerr := decodeObject(property, raw)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := o.only(property, allowed...); aerr != nil {
		return nil, aerr
	}
	return o, nil
}

// readObject reads a request body that must be an object with no
// properties outside allowed.
func readObject(r *http.Request, allowed ...string) (object, *apiError) {
	body, aerr := readBody(r)
	if aerr != nil {
		return nil, aerr
	}
	return decodeStrict("", body, allowed...)
}

func (o object) has(k string) bool { _, ok := o[k]; return ok }

// str returns the non-empty string at k; required says whether absence is
// an error.
func (o object) str(property, k string, required bool) (string, bool, *apiError) {
	raw, ok := o[k]
	if !ok {
		if required {
			return "", false, errBody(join(property, k), "Missing required property: "+k)
		}
		return "", false, nil
	}
	var s string
	if jsonType(raw) != "string" || json.Unmarshal(raw, &s) != nil {
		return "", false, errBody(join(property, k), "Expected type string but found type "+jsonType(raw))
	}
	if s == "" {
		return "", false, errBody(join(property, k), "String is too short (0 chars), minimum 1")
	}
	return s, true, nil
}

// streamInput is a validated create or PATCH body; nil fields were absent.
type streamInput struct {
	Name          *string
	Status        *string
	Subscriptions []string
	Destination   *Destination
}

func parseStreamBody(body []byte, create bool) (*streamInput, *apiError) {
	o, aerr := decodeStrict("", body, "name", "status", "subscriptions", "destination")
	if aerr != nil {
		return nil, aerr
	}
	if !create && len(o) == 0 {
		return nil, errBody("", "Too few properties defined (0), minimum 1")
	}
	in := &streamInput{}
	name, ok, aerr := o.str("", "name", create)
	if aerr != nil {
		return nil, aerr
	}
	if ok {
		// Auth0's JSON Schema validator counts characters, as its message
		// says, not UTF-8 bytes.
		if n := utf8.RuneCountInString(name); n > maxNameLength {
			return nil, errBody("name", fmt.Sprintf("String is too long (%d chars), maximum %d", n, maxNameLength))
		}
		in.Name = &name
	}
	status, ok, aerr := o.str("", "status", false)
	if aerr != nil {
		return nil, aerr
	}
	if ok {
		if status != StatusEnabled && status != StatusDisabled {
			return nil, errBody("status", fmt.Sprintf("No enum match for: %q", status))
		}
		in.Status = &status
	}
	if raw, ok := o["subscriptions"]; ok {
		subs, aerr := parseSubscriptions(raw)
		if aerr != nil {
			return nil, aerr
		}
		in.Subscriptions = subs
	} else if create {
		return nil, errBody("subscriptions", "Missing required property: subscriptions")
	}
	if raw, ok := o["destination"]; ok {
		d, aerr := parseDestination(raw)
		if aerr != nil {
			return nil, aerr
		}
		in.Destination = d
	} else if create {
		return nil, errBody("destination", "Missing required property: destination")
	}
	return in, nil
}

func parseSubscriptions(raw json.RawMessage) ([]string, *apiError) {
	if jsonType(raw) != "array" {
		return nil, errBody("subscriptions", "Expected type array but found type "+jsonType(raw))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, errBadRequest("invalid_body", "Invalid request payload JSON format")
	}
	if len(items) == 0 {
		return nil, errBody("subscriptions", "Array is too short (0), minimum 1")
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		p := fmt.Sprintf("subscriptions[%d]", i)
		o, aerr := decodeStrict(p, item, "event_type")
		if aerr != nil {
			return nil, aerr
		}
		t, _, aerr := o.str(p, "event_type", true)
		if aerr != nil {
			return nil, aerr
		}
		if !eventtypes.Known(t) {
			return nil, errBody(p+".event_type", fmt.Sprintf("No enum match for: %q", t))
		}
		if slices.Contains(out, t) {
			return nil, errBody(p+".event_type", fmt.Sprintf("Array items are not unique: %q", t))
		}
		out = append(out, t)
	}
	return out, nil
}

func parseDestination(raw json.RawMessage) (*Destination, *apiError) {
	o, aerr := decodeStrict("destination", raw, "type", "configuration")
	if aerr != nil {
		return nil, aerr
	}
	typ, _, aerr := o.str("destination", "type", true)
	if aerr != nil {
		return nil, aerr
	}
	craw, ok := o["configuration"]
	if !ok {
		return nil, errBody("destination.configuration", "Missing required property: configuration")
	}
	const cp = "destination.configuration"
	c, aerr := decodeObject(cp, craw)
	if aerr != nil {
		return nil, aerr
	}
	d := &Destination{Type: typ}
	switch typ {
	case DestinationWebhook:
		w, aerr := parseWebhook(c)
		if aerr != nil {
			return nil, aerr
		}
		d.Webhook = w
	case DestinationEventBridge:
		if c.has("aws_partner_event_source") {
			return nil, errBody(cp+".aws_partner_event_source", "Property is read-only: aws_partner_event_source")
		}
		if aerr := c.only(cp, "aws_account_id", "aws_region"); aerr != nil {
			return nil, aerr
		}
		acct, _, aerr := c.str(cp, "aws_account_id", true)
		if aerr != nil {
			return nil, aerr
		}
		if !awsAccountPattern.MatchString(acct) {
			return nil, errBody(cp+".aws_account_id", fmt.Sprintf("String does not match pattern ^[0-9]{12}$: %s", acct))
		}
		region, _, aerr := c.str(cp, "aws_region", true)
		if aerr != nil {
			return nil, aerr
		}
		if !awsRegionPattern.MatchString(region) {
			return nil, errBody(cp+".aws_region", fmt.Sprintf("String is not a valid AWS region: %s", region))
		}
		d.EventBridge = &EventBridgeConfig{AccountID: acct, Region: region}
	case DestinationAction:
		if aerr := c.only(cp, "action_id"); aerr != nil {
			return nil, aerr
		}
		id, _, aerr := c.str(cp, "action_id", true)
		if aerr != nil {
			return nil, aerr
		}
		d.Action = &ActionConfig{ActionID: id}
	default:
		return nil, errBody("destination.type", fmt.Sprintf("No enum match for: %q", typ))
	}
	return d, nil
}

func parseWebhook(c object) (*WebhookConfig, *apiError) {
	const cp = "destination.configuration"
	if aerr := c.only(cp, "webhook_endpoint", "webhook_authorization"); aerr != nil {
		return nil, aerr
	}
	ep, _, aerr := c.str(cp, "webhook_endpoint", true)
	if aerr != nil {
		return nil, aerr
	}
	u, err := url.Parse(ep)
	// net/url accepts spaces in a path or query; an absolute-https-uri
	// (RFC 3986) has none.
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Hostname() == "" || strings.ContainsAny(ep, " ") {
		return nil, errBody(cp+".webhook_endpoint", "Object didn't pass validation for format absolute-https-uri: "+ep)
	}
	araw, ok := c["webhook_authorization"]
	if !ok {
		return nil, errBody(cp+".webhook_authorization", "Missing required property: webhook_authorization")
	}
	const ap = cp + ".webhook_authorization"
	a, aerr := decodeObject(ap, araw)
	if aerr != nil {
		return nil, aerr
	}
	method, _, aerr := a.str(ap, "method", true)
	if aerr != nil {
		return nil, aerr
	}
	w := &WebhookConfig{Endpoint: ep, Method: method}
	// Each method requires its own credentials and allows nothing else.
	creds := map[string][]struct {
		key string
		dst *string
	}{
		AuthBearer:       {{"token", &w.Token}},
		AuthBasic:        {{"username", &w.Username}, {"password", &w.Password}},
		AuthCustomHeader: {{"header_key", &w.HeaderKey}, {"header_value", &w.HeaderValue}},
	}
	fields, ok := creds[method]
	if !ok {
		return nil, errBody(ap+".method", fmt.Sprintf("No enum match for: %q", method))
	}
	allowed := []string{"method"}
	for _, f := range fields {
		allowed = append(allowed, f.key)
	}
	if aerr := a.only(ap, allowed...); aerr != nil {
		return nil, aerr
	}
	for _, f := range fields {
		if *f.dst, _, aerr = a.str(ap, f.key, true); aerr != nil {
			return nil, aerr
		}
		// Checked before header_value is read, so its error comes first.
		if f.key == "header_key" && !headerKeyPattern.MatchString(w.HeaderKey) {
			return nil, errBody(ap+".header_key", "String is not a valid HTTP header name: "+w.HeaderKey)
		}
	}
	return w, nil
}
