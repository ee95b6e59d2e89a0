package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
)

// The Auth0EventStream composite's spec, as the XRDs in package/ declare it.
// The function validates the raw object before it decodes it into these types,
// because crossplane render and hand-written XRDs bypass admission.
type xrSpec struct {
	Name                     string                        `json:"name,omitempty"`
	DestinationType          string                        `json:"destinationType"`
	Subscriptions            []string                      `json:"subscriptions"`
	Status                   string                        `json:"status,omitempty"`
	WebhookConfiguration     *webhookConfiguration         `json:"webhookConfiguration,omitempty"`
	EventBridgeConfiguration *eventBridgeConfiguration     `json:"eventbridgeConfiguration,omitempty"`
	ActionConfiguration      *actionConfiguration          `json:"actionConfiguration,omitempty"`
	ProviderConfigRef        *xpv2.ProviderConfigReference `json:"providerConfigRef,omitempty"`
	ManagementPolicies       xpv2.ManagementPolicies       `json:"managementPolicies,omitempty"`
	StreamID                 string                        `json:"streamId,omitempty"`
}

type webhookConfiguration struct {
	WebhookEndpoint      string               `json:"webhookEndpoint"`
	WebhookAuthorization webhookAuthorization `json:"webhookAuthorization"`
}

// webhookAuthorization accepts each secret either inline (the seed's form) or
// as a reference to a key of a Secret in the XR's namespace.
type webhookAuthorization struct {
	Method               string     `json:"method"`
	Username             string     `json:"username,omitempty"`
	Password             string     `json:"password,omitempty"`
	PasswordSecretRef    *secretKey `json:"passwordSecretRef,omitempty"`
	Token                string     `json:"token,omitempty"`
	TokenSecretRef       *secretKey `json:"tokenSecretRef,omitempty"`
	HeaderKey            string     `json:"headerKey,omitempty"`
	HeaderValue          string     `json:"headerValue,omitempty"`
	HeaderValueSecretRef *secretKey `json:"headerValueSecretRef,omitempty"`
}

type secretKey struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

type eventBridgeConfiguration struct {
	AWSAccountID string `json:"awsAccountId"`
	AWSRegion    string `json:"awsRegion"`
}

type actionConfiguration struct {
	ActionID string `json:"actionId"`
}

// Rules shared with the XRDs' OpenAPI patterns. Keep them in step.
var (
	reEventType    = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)+$`)
	reAWSAccountID = regexp.MustCompile(`^[0-9]{12}$`)
	reHTTPS        = regexp.MustCompile(`^https://.+`)
	// An Auth0 stream id, as the provider also requires of external names.
	reStreamID = regexp.MustCompile(`^est_[A-Za-z0-9]{22}$`)
)

const (
	maxStreamNameLength = 128
	maxSubscriptions    = 100
	maxEventTypeLength  = 128
)

var (
	destinationTypes   = []string{v1alpha1.DestinationEventBridge, v1alpha1.DestinationWebhook, v1alpha1.DestinationAction}
	authMethods        = []string{v1alpha1.AuthMethodBasic, v1alpha1.AuthMethodBearer, v1alpha1.AuthMethodCustomHeader}
	streamStatuses     = []string{v1alpha1.StreamStatusEnabled, v1alpha1.StreamStatusDisabled}
	providerConfigKind = []string{"ClusterProviderConfig", "ProviderConfig"}
	managementActions  = []string{"*", "Create", "Delete", "LateInitialize", "Observe", "Update"}
)

// parseSpec validates the XR's raw spec against every rule of the XRD and,
// when it is valid, decodes it. The returned errors name each bad field and
// never carry a secret value.
func parseSpec(raw any) (*xrSpec, field.ErrorList) {
	p := field.NewPath("spec")
	v := &validator{}
	spec := v.object(p, raw, true)
	if spec == nil {
		return nil, v.errs
	}

	if n, ok := v.str(p.Child("name"), spec["name"], false); ok {
		if len(n) < 1 || len(n) > maxStreamNameLength {
			v.add(field.Invalid(p.Child("name"), n, fmt.Sprintf("must be 1 to %d characters", maxStreamNameLength)))
		}
	}
	dt, dtOK := v.str(p.Child("destinationType"), spec["destinationType"], true)
	if dtOK && !slices.Contains(destinationTypes, dt) {
		v.enum(p.Child("destinationType"), dt, destinationTypes)
		dtOK = false
	}
	v.subscriptions(p.Child("subscriptions"), spec["subscriptions"])
	if s, ok := v.str(p.Child("status"), spec["status"], false); ok {
		v.enum(p.Child("status"), s, streamStatuses)
	}

	// The block that matches destinationType is required, the others are
	// forbidden, so that a stream's configuration is never ambiguous. Without
	// a valid destinationType, every block present is still checked.
	blocks := []struct {
		key, destination string
		check            func(*field.Path, map[string]any)
	}{
		{"webhookConfiguration", v1alpha1.DestinationWebhook, v.webhook},
		{"eventbridgeConfiguration", v1alpha1.DestinationEventBridge, v.eventBridge},
		{"actionConfiguration", v1alpha1.DestinationAction, v.action},
	}
	for _, b := range blocks {
		bp := p.Child(b.key)
		_, present := spec[b.key]
		switch {
		case dtOK && dt == b.destination && !present:
			v.add(field.Required(bp, "required when spec.destinationType is "+b.destination))
		case dtOK && dt != b.destination && present:
			v.add(field.Forbidden(bp, "only allowed when spec.destinationType is "+b.destination))
		case present:
			if o := v.object(bp, spec[b.key], true); o != nil {
				b.check(bp, o)
			}
		}
	}

	if _, present := spec["providerConfigRef"]; present {
		pp := p.Child("providerConfigRef")
		if o := v.object(pp, spec["providerConfigRef"], true); o != nil {
			if k, ok := v.str(pp.Child("kind"), o["kind"], true); ok {
				v.enum(pp.Child("kind"), k, providerConfigKind)
			}
			v.nonEmpty(pp.Child("name"), o["name"], true)
		}
	}
	if _, present := spec["managementPolicies"]; present {
		mp := p.Child("managementPolicies")
		if l, ok := v.list(mp, spec["managementPolicies"]); ok {
			for i, a := range l {
				if s, ok := v.str(mp.Index(i), a, true); ok {
					v.enum(mp.Index(i), s, managementActions)
				}
			}
		}
	}

	if _, present := spec["streamId"]; present {
		v.pattern(p.Child("streamId"), spec["streamId"], reStreamID)
	}

	if len(v.errs) > 0 {
		return nil, v.errs
	}

	// The raw spec passed every check above, so it decodes.
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, field.ErrorList{field.InternalError(p, err)}
	}
	out := &xrSpec{}
	if err := json.Unmarshal(b, out); err != nil {
		return nil, field.ErrorList{field.InternalError(p, err)}
	}
	return out, nil
}

// A validator walks untyped JSON, collecting one error per bad field.
type validator struct {
	errs field.ErrorList
}

func (v *validator) add(e *field.Error) { v.errs = append(v.errs, e) }

// jsonType names a JSON value's type, so type errors never echo a value that
// may be a secret.
func jsonType(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64, int64, int, int32, float32:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	default:
		return fmt.Sprintf("%T", x)
	}
}

func (v *validator) object(p *field.Path, x any, required bool) map[string]any {
	if x == nil {
		if required {
			v.add(field.Required(p, ""))
		}
		return nil
	}
	o, ok := x.(map[string]any)
	if !ok {
		v.add(field.Invalid(p, jsonType(x), "must be an object"))
		return nil
	}
	return o
}

func (v *validator) list(p *field.Path, x any) ([]any, bool) {
	l, ok := x.([]any)
	if !ok {
		v.add(field.Invalid(p, jsonType(x), "must be an array"))
		return nil, false
	}
	return l, true
}

// str returns a string field; ok is false when it is absent or not a string.
func (v *validator) str(p *field.Path, x any, required bool) (string, bool) {
	if x == nil {
		if required {
			v.add(field.Required(p, ""))
		}
		return "", false
	}
	s, ok := x.(string)
	if !ok {
		v.add(field.Invalid(p, jsonType(x), "must be a string"))
		return "", false
	}
	return s, true
}

// nonEmpty checks a string that must not be empty. It reports whether the
// field is present and valid.
func (v *validator) nonEmpty(p *field.Path, x any, required bool) bool {
	s, ok := v.str(p, x, required)
	if ok && s == "" {
		v.add(field.Required(p, "must not be empty"))
		return false
	}
	return ok
}

func (v *validator) enum(p *field.Path, s string, allowed []string) {
	if !slices.Contains(allowed, s) {
		v.add(field.NotSupported(p, s, allowed))
	}
}

func (v *validator) pattern(p *field.Path, x any, re *regexp.Regexp) {
	if s, ok := v.str(p, x, true); ok && !re.MatchString(s) {
		v.add(field.Invalid(p, s, "must match "+re.String()))
	}
}

func (v *validator) subscriptions(p *field.Path, x any) {
	if x == nil {
		v.add(field.Required(p, "at least one event type is required"))
		return
	}
	l, ok := v.list(p, x)
	if !ok {
		return
	}
	if len(l) == 0 {
		v.add(field.Required(p, "at least one event type is required"))
	}
	if len(l) > maxSubscriptions {
		v.add(field.TooMany(p, len(l), maxSubscriptions))
	}
	seen := map[string]bool{}
	for i, e := range l {
		s, ok := v.str(p.Index(i), e, true)
		if !ok {
			continue
		}
		switch {
		case len(s) > maxEventTypeLength:
			v.add(field.TooLong(p.Index(i), s, maxEventTypeLength))
		case !reEventType.MatchString(s):
			v.add(field.Invalid(p.Index(i), s, "must be a dotted event type such as user.created ("+reEventType.String()+")"))
		case seen[s]:
			v.add(field.Duplicate(p.Index(i), s))
		}
		seen[s] = true
	}
}

func (v *validator) webhook(p *field.Path, o map[string]any) {
	v.pattern(p.Child("webhookEndpoint"), o["webhookEndpoint"], reHTTPS)

	ap := p.Child("webhookAuthorization")
	a := v.object(ap, o["webhookAuthorization"], true)
	if a == nil {
		return
	}
	for _, ref := range []string{"passwordSecretRef", "tokenSecretRef", "headerValueSecretRef"} {
		if _, present := a[ref]; present {
			v.secretRef(ap.Child(ref), a[ref])
		}
	}
	for _, k := range []string{"username", "password", "token", "headerKey", "headerValue"} {
		if _, present := a[k]; present {
			v.nonEmpty(ap.Child(k), a[k], false)
		}
	}
	m, ok := v.str(ap.Child("method"), a["method"], true)
	if !ok {
		return
	}
	v.enum(ap.Child("method"), m, authMethods)
	switch m {
	case v1alpha1.AuthMethodBasic:
		v.requiredFor(ap, a, "username", m)
		v.oneSecret(ap, a, "password", m)
	case v1alpha1.AuthMethodBearer:
		v.oneSecret(ap, a, "token", m)
	case v1alpha1.AuthMethodCustomHeader:
		v.requiredFor(ap, a, "headerKey", m)
		v.oneSecret(ap, a, "headerValue", m)
	}
}

func (v *validator) requiredFor(p *field.Path, o map[string]any, key, method string) {
	if _, present := o[key]; !present {
		v.add(field.Required(p.Child(key), "required when "+p.Child("method").String()+" is "+method))
	}
}

// oneSecret checks that exactly one of key (inline) and keySecretRef is set.
func (v *validator) oneSecret(p *field.Path, o map[string]any, key, method string) {
	_, inline := o[key]
	_, ref := o[key+"SecretRef"]
	switch {
	case !inline && !ref:
		v.add(field.Required(p.Child(key), fmt.Sprintf("%s or %s is required when %s is %s", key, key+"SecretRef", p.Child("method"), method)))
	case inline && ref:
		v.add(field.Forbidden(p.Child(key), fmt.Sprintf("%s and %s are mutually exclusive", key, key+"SecretRef")))
	}
}

func (v *validator) secretRef(p *field.Path, x any) {
	o := v.object(p, x, true)
	if o == nil {
		return
	}
	v.nonEmpty(p.Child("name"), o["name"], true)
	v.nonEmpty(p.Child("key"), o["key"], true)
}

func (v *validator) eventBridge(p *field.Path, o map[string]any) {
	v.pattern(p.Child("awsAccountId"), o["awsAccountId"], reAWSAccountID)
	v.nonEmpty(p.Child("awsRegion"), o["awsRegion"], true)
}

func (v *validator) action(p *field.Path, o map[string]any) {
	v.nonEmpty(p.Child("actionId"), o["actionId"], true)
}

// fieldErrorsMessage renders every error on one line, in a stable order.
func fieldErrorsMessage(errs field.ErrorList) string {
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	sort.Strings(msgs)
	return strings.Join(msgs, "; ")
}
