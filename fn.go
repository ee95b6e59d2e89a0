package main

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
	"github.com/crossplane/function-sdk-go/errors"
	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/request"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composed"
	"github.com/crossplane/function-sdk-go/resource/composite"
	"github.com/crossplane/function-sdk-go/response"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/input/v1beta1"
	"github.com/xp-auth0/auth0-eventstream/internal/version"
)

// Names of the composed resources within the pipeline (not metadata.name).
const (
	NameEventStream resource.Name = "event-stream"
	NameSecret      resource.Name = "webhook-authorization"
)

// The Secret composed for inline secret values: its name is the EventStream's
// plus this suffix, and these are its keys.
const (
	SecretSuffix      = "-webhook-authorization"
	SecretKeyPassword = "password"
	SecretKeyToken    = "token"
	SecretKeyHeader   = "headerValue"
)

// ConditionStreamReady is the XR condition that carries the EventStream's
// state, and when it is not ready, the provider's reason and message.
const ConditionStreamReady = "StreamReady"

// Reasons of ConditionStreamReady the function sets itself. Otherwise it
// carries the managed resource's own reasons.
const (
	ReasonAvailable = "Available"
	ReasonPending   = "Creating"
	// ReasonRefused: the function refused the composite (its Fatal
	// result's message).
	ReasonRefused = "Refused"
)

// Reasons of the function's Warning results, the XR's event reasons.
const (
	ReasonStreamNotSynced = "EventStreamNotSynced"
	ReasonInlineSecret    = "InlineSecret"
)

const (
	errInput        = "cannot get function input"
	errObservedXR   = "cannot get observed composite resource"
	errDesiredXR    = "cannot get desired composite resource"
	errObservedCDs  = "cannot get observed composed resources"
	errInvalidXR    = "invalid Auth0EventStream"
	errCompose      = "cannot compose"
	errSetDesiredXR = "cannot set desired composite resource"
	errInternal     = "internal error: the function could not process this request"
)

// Default ProviderConfig of composed EventStreams, as the managed resource's
// CRD defaults it.
var defaultProviderConfigRef = xpv2.ProviderConfigReference{Kind: "ClusterProviderConfig", Name: "default"} //nolint:gochecknoglobals // We treat this as a constant.

// KindLegacyComposite is the cluster-scoped composite of the legacy, claim
// based flavour of the API.
const KindLegacyComposite = "XAuth0EventStream"

// LabelFunctionVersion on every composed resource names the release of the
// function that composed it, so an upgrade is visible on what it touched.
const LabelFunctionVersion = "auth0.openmcf.org/function-version"

// Labels Crossplane sets on a legacy XR created for a claim.
const (
	labelClaimName      = "crossplane.io/claim-name"
	labelClaimNamespace = "crossplane.io/claim-namespace"
)

func init() { //nolint:gochecknoinits // The SDK's composed.Scheme is package-level; our types join it once, before any request.
	// structOf needs to know the Go types it encodes.
	if err := v1alpha1.AddToScheme(composed.Scheme); err != nil {
		panic(err)
	}
	if err := corev1.AddToScheme(composed.Scheme); err != nil {
		panic(err)
	}
}

// Function composes an Auth0 EventStream managed resource from an
// Auth0EventStream composite resource.
type Function struct {
	fnv1.UnimplementedFunctionRunnerServiceServer

	log logging.Logger
	// steady is the TTL of a response for a converged composite; zero
	// means DefaultSteadyTTL.
	steady time.Duration
}

// DefaultSteadyTTL is the TTL of a response for a converged composite:
// every composed resource ready, no warning. With Crossplane's realtime
// compositions (on by default) core re-runs the pipeline after the
// shortest TTL of its functions, not after its --poll-interval, so the
// SDK's default of a minute cost a RunFunction call, a composite status
// update and a server-side apply of every composed resource per composite
// per minute while nothing changed. What the function composes from
// changes with the composite (watched), its composed resources (watched:
// realtime compositions) and the Secrets it requires; a changed Secret
// reaches the composite through the provider, which watches them and
// reports on the EventStream. So a converged composite needs no re-run
// for its own sake; ten minutes bound how long a function upgrade takes to
// relabel what it composed, and core's --sync-interval (1h) re-runs
// everything anyway. A composite that is not converged keeps the SDK's
// default: it is waiting for something.
const DefaultSteadyTTL = 10 * time.Minute

func (f *Function) steadyTTL() time.Duration {
	if f.steady > 0 {
		return f.steady
	}
	return DefaultSteadyTTL
}

// warned is true when rsp holds a result that is not Normal.
func warned(rsp *fnv1.RunFunctionResponse) bool {
	for _, r := range rsp.GetResults() {
		if r.GetSeverity() != fnv1.Severity_SEVERITY_NORMAL {
			return true
		}
	}
	return false
}

// RunFunction runs the Function.
func (f *Function) RunFunction(ctx context.Context, req *fnv1.RunFunctionRequest) (rsp *fnv1.RunFunctionResponse, err error) { //nolint:gocognit,gocyclo // The request, step by step: each step returns early with its own result.
	defer func() {
		// A panic would kill every in-flight composition; answer this one
		// with a Fatal result instead. The panic value is not logged: it
		// could quote the request, secrets included.
		if r := recover(); r != nil {
			f.log.Info("Recovered from a panic", "tag", req.GetMeta().GetTag(), "panic-type", fmt.Sprintf("%T", r))
			rsp = response.To(req, response.DefaultTTL)
			response.Fatal(rsp, errors.New(errInternal))
			err = nil
		}
	}()

	rsp = response.To(req, response.DefaultTTL)

	in, err := parseInputCached(req)
	if err != nil {
		response.Fatal(rsp, err)
		return rsp, nil
	}

	oxr, err := request.GetObservedCompositeResource(req)
	if err != nil {
		response.Fatal(rsp, errors.Wrap(err, errObservedXR))
		return rsp, nil
	}
	// The request's logger is built only when something is logged: WithValues
	// allocates even when the level is off.
	log := func() logging.Logger {
		return f.log.WithValues("tag", req.GetMeta().GetTag(), "xr-kind", oxr.Resource.GetKind(), "xr-name", oxr.Resource.GetName(), "xr-namespace", oxr.Resource.GetNamespace())
	}

	spec, errs := parseSpecCached(ctx, req.GetObserved().GetComposite().GetResource().GetFields()["spec"])
	if len(errs) > 0 {
		log().Info("Invalid composite resource", "errors", len(errs))
		response.Fatal(rsp, errors.Errorf("%s: %s", errInvalidXR, fieldErrorsMessage(errs)))
		return rsp, nil
	}

	t, ferr := targetFor(oxr.Resource, spec, in.NamePrefix)
	if ferr != nil {
		response.Fatal(rsp, errors.Errorf("%s: %s", errInvalidXR, ferr.Error()))
		return rsp, nil
	}

	observed, err := request.GetObservedComposedResources(req)
	if err != nil {
		response.Fatal(rsp, errors.Wrap(err, errObservedCDs))
		return rsp, nil
	}

	be := backendFor(in)
	if err := refuseBackendSwitch(be, observed); err != nil {
		log().Info("Refused a backend switch", "backend", be.kind())
		refuse(rsp, err, t.Claim)
		return rsp, nil
	}
	oes, esObserved := observed[be.resourceName()]
	var oesr *composed.Unstructured
	if esObserved {
		oesr = be.observedForBind(oes.Resource)
	}
	b, errs := bind(spec, in, be, t.Name, oesr)
	errs = append(errs, be.refuse(t, b, oesr, oes.Resource)...)
	errs = append(errs, checkSubscriptions(spec.Subscriptions, in.ExtraEventTypes)...)
	if err := refuseEventBus(spec, in); err != nil {
		errs = append(errs, err)
	}
	if maxLen, ok := streamNameMaxLength(); ok {
		if err := checkStreamName(spec, t, maxLen); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		log().Info("Refused composite resource", "errors", len(errs))
		refuse(rsp, errors.Errorf("%s: %s", errInvalidXR, fieldErrorsMessage(errs)), t.Claim)
		return rsp, nil
	}

	// What the function must see before it composes: the Secret the
	// composite references, and for an import that nothing else holds
	// its stream. Crossplane fetches them and calls again, once.
	secretValues := inlineSecretValues(spec)
	if need := requirementsFor(spec, t, b, be, oesr); need != nil {
		rsp.Requirements = need
		got, ok := fulfilled(req, need)
		if !ok {
			log().Debug("Asked for required resources", "requirements", len(need.GetResources()))
			return rsp, nil
		}
		v, errs := checkRequired(got, need, spec, t, b)
		if len(errs) > 0 {
			log().Info("Refused composite resource", "errors", len(errs))
			refuse(rsp, errors.Errorf("%s: %s", errInvalidXR, fieldErrorsMessage(errs)), t.Claim)
			return rsp, nil
		}
		secretValues = append(secretValues, v...)
	}

	dxr, err := request.GetDesiredCompositeResource(req)
	if err != nil {
		response.Fatal(rsp, errors.Wrap(err, errDesiredXR))
		return rsp, nil
	}

	if in.Backend == v1beta1.BackendNone {
		// The floor: everything above ran as for native, nothing is
		// composed, so Ready takes core's and this function's work alone.
		if err := response.SetDesiredCompositeResource(rsp, dxr); err != nil {
			response.Fatal(rsp, errors.Wrap(err, errSetDesiredXR))
			return rsp, nil
		}
		rsp.Desired.Composite.Ready = fnv1.Ready_READY_TRUE
		rsp.Meta.Ttl = durationpb.New(f.steadyTTL())
		return rsp, nil
	}

	if t.Claim && oxr.Resource.GetNamespace() == "" {
		warnInlineSecrets(rsp, spec, oxr.Resource.GetName(), t)
	}

	es, secret := compose(spec, t, b)
	// Encoded now, so that a resource that cannot be encoded fails the
	// call; set in the response last.
	esc, err := be.compose(rsp, oxr.Resource, spec, es, oes.Resource, t.Claim)
	if err != nil {
		response.Fatal(rsp, err)
		return rsp, nil
	}
	var sc *structpb.Struct
	if secret != nil {
		if esObserved {
			ownedByReader(secret, oes.Resource)
		}
		if sc, err = structOf(secret); err != nil {
			response.Fatal(rsp, errors.Wrapf(err, "%s Secret", errCompose))
			return rsp, nil
		}
	}

	var outputs map[string]any
	if esObserved {
		var ok bool
		if outputs, ok = be.outputs(oes.Resource); ok {
			if err := setStatus(dxr.Resource, "outputs", outputs); err != nil {
				response.Fatal(rsp, err)
				return rsp, nil
			}
		}
	}
	m := newMasker(secretValues...)
	streamCondition(rsp, be.kind(), oes.Resource, esObserved, es.GetName(), t.Claim, m)
	if esObserved {
		if err := be.surface(rsp, dxr.Resource, oes.Resource, t.Claim, m); err != nil {
			response.Fatal(rsp, err)
			return rsp, nil
		}
	}

	esReady := esObserved && isReady(oes.Resource)
	setDesired(rsp, be.resourceName(), esc, readiness(esReady))
	secretReady := true
	if sc != nil {
		// A Secret has no Ready condition: it is ready once it exists.
		_, secretReady = observed[NameSecret]
		setDesired(rsp, NameSecret, sc, readiness(secretReady))
	}
	busReady := true
	if wantsEventBus(spec) {
		if busReady, err = eventBusStep(rsp, dxr, spec, t, eventBusFor(outputs, observed), m); err != nil {
			response.Fatal(rsp, err)
			return rsp, nil
		}
	}
	if esReady && secretReady && busReady && !warned(rsp) {
		rsp.Meta.Ttl = durationpb.New(f.steadyTTL())
	}
	if err := response.SetDesiredCompositeResource(rsp, dxr); err != nil {
		response.Fatal(rsp, errors.Wrap(err, errSetDesiredXR))
		return rsp, nil
	}
	log().Debug("Composed the stream", "kind", be.kind(), "name", es.GetName(), "namespace", es.GetNamespace(), "secret", secret != nil)
	return rsp, nil
}

// refuse answers with a Fatal result: Crossplane applies and deletes nothing
// while it lasts. Its message is also StreamReady's, which unlike the
// composite's Synced reaches a claim.
func refuse(rsp *fnv1.RunFunctionResponse, err error, claim bool) {
	response.Fatal(rsp, err)
	c := response.ConditionFalse(rsp, ConditionStreamReady, ReasonRefused).WithMessage(err.Error())
	if claim {
		c.TargetCompositeAndClaim()
	}
}

// streamNameMaxLength is the XRD's limit on spec.name, which is Auth0's on
// a stream's name.
func streamNameMaxLength() (int64, bool) {
	s, err := specSchema()
	if err != nil {
		return 0, false
	}
	return s.MaxLength("name")
}

// target is where and under which names the function composes.
type target struct {
	// Namespace of the composed resources: the XR's, or for a legacy XR its
	// claim's, so that the local Secret references resolve there.
	Namespace string
	// Name is the metadata.name of the EventStream.
	Name string
	// StreamName is the stream's name in Auth0.
	StreamName string
	// Claim is whether the XR is a legacy composite with a claim, which
	// should see the XR's conditions and warnings too.
	Claim bool
	// ClaimName is the claim's name, for a legacy composite with a claim.
	ClaimName string
}

func targetFor(xr *composite.Unstructured, spec *xrSpec, prefix string) (target, *field.Error) {
	ns, name, claim := xr.GetNamespace(), xr.GetName(), false
	if ns == "" {
		// A legacy, cluster-scoped XR: compose into its claim's namespace
		// and name things after the claim, which is what users wrote.
		switch ref := xr.GetClaimReference(); {
		case ref != nil && ref.Namespace != "" && ref.Name != "":
			ns, name, claim = ref.Namespace, ref.Name, true
		case xr.GetLabels()[labelClaimNamespace] != "" && xr.GetLabels()[labelClaimName] != "":
			ns, name, claim = xr.GetLabels()[labelClaimNamespace], xr.GetLabels()[labelClaimName], true
		case xr.GetKind() == KindLegacyComposite:
			return target{}, field.Required(field.NewPath("spec", "claimRef"), "a cluster-scoped composite needs a claim: its EventStream is namespaced and is composed in the claim's namespace")
		default:
			// A namespaced XR always has a namespace in an API server; only
			// a manifest rendered offline (crossplane render of the seed's
			// manifests) lacks one. Use the namespace kubectl would.
			ns = metav1.NamespaceDefault
		}
	}
	if name == "" {
		return target{}, field.Required(field.NewPath("metadata", "name"), "")
	}
	t := target{Namespace: ns, Name: prefix + name, StreamName: name, Claim: claim}
	if claim {
		t.ClaimName = name
	}
	if spec.Name != "" {
		t.StreamName = spec.Name
	}
	return t, nil
}

// compose returns the EventStream for the XR and, when the XR carries secret
// values inline, the Secret that holds them. The EventStream only ever
// references secrets.
func compose(spec *xrSpec, t target, b binding) (*v1alpha1.EventStream, *corev1.Secret) {
	pcr := b.ProviderConfigRef
	status := spec.Status
	if status == "" {
		status = v1alpha1.StreamStatusEnabled
	}

	es := &v1alpha1.EventStream{
		ObjectMeta: metav1.ObjectMeta{Name: t.Name, Namespace: t.Namespace, Labels: versionLabels()},
		Spec: v1alpha1.EventStreamSpec{
			ManagedResourceSpec: xpv2.ManagedResourceSpec{
				ProviderConfigReference: &pcr,
				ManagementPolicies:      b.ManagementPolicies,
			},
			ForProvider: v1alpha1.EventStreamParameters{
				Name:          t.StreamName,
				Subscriptions: append([]string(nil), spec.Subscriptions...),
				Status:        status,
				Destination:   v1alpha1.Destination{Type: spec.DestinationType},
			},
		},
	}

	if b.ExternalName != "" {
		es.SetAnnotations(map[string]string{AnnotationExternalName: b.ExternalName, AnnotationStreamID: b.ExternalName})
	}

	d := &es.Spec.ForProvider.Destination
	var secret *corev1.Secret
	switch spec.DestinationType {
	case v1alpha1.DestinationEventBridge:
		d.EventBridge = &v1alpha1.EventBridgeDestination{
			AWSAccountID: spec.EventBridgeConfiguration.AWSAccountID,
			AWSRegion:    spec.EventBridgeConfiguration.AWSRegion,
		}
	case v1alpha1.DestinationAction:
		d.Action = &v1alpha1.ActionDestination{ActionID: spec.ActionConfiguration.ActionID}
	case v1alpha1.DestinationWebhook:
		a := spec.WebhookConfiguration.WebhookAuthorization
		secretName := t.Name + SecretSuffix
		data := map[string][]byte{}
		// ref returns the reference for one secret value, moving an inline
		// value into the composed Secret.
		ref := func(inline string, r *secretKey, key string) *xpv2.LocalSecretKeySelector {
			if r != nil {
				return &xpv2.LocalSecretKeySelector{LocalSecretReference: xpv2.LocalSecretReference{Name: r.Name}, Key: r.Key}
			}
			data[key] = []byte(inline)
			return &xpv2.LocalSecretKeySelector{LocalSecretReference: xpv2.LocalSecretReference{Name: secretName}, Key: key}
		}
		wa := v1alpha1.WebhookAuthorization{Method: a.Method}
		switch a.Method {
		case v1alpha1.AuthMethodBasic:
			wa.Username = &a.Username
			wa.PasswordSecretRef = ref(a.Password, a.PasswordSecretRef, SecretKeyPassword)
		case v1alpha1.AuthMethodBearer:
			wa.TokenSecretRef = ref(a.Token, a.TokenSecretRef, SecretKeyToken)
		case v1alpha1.AuthMethodCustomHeader:
			wa.HeaderKey = &a.HeaderKey
			wa.HeaderValueSecretRef = ref(a.HeaderValue, a.HeaderValueSecretRef, SecretKeyHeader)
		}
		d.Webhook = &v1alpha1.WebhookDestination{Endpoint: spec.WebhookConfiguration.WebhookEndpoint, Authorization: wa}
		if len(data) > 0 {
			labels := versionLabels()
			// Offered for this use, as a referenced Secret must be.
			labels[v1alpha1.LabelWebhookSecret] = "true"
			secret = &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: t.Namespace, Labels: labels},
				Type:       corev1.SecretTypeOpaque,
				Data:       data,
			}
		}
	}
	return es, secret
}

// ownedByReader makes the composed resource that reads the Secret its
// owner too, beside the composite Crossplane makes its controller.
// Kubernetes garbage-collects an object only when all its owners are gone,
// so deleting the composite no longer takes the Secret while the stream's
// resource still needs it: provider-terraform runs terraform destroy with
// the Secret's values in its environment, long after the composite is gone.
// Not a controller reference: Crossplane's stays the only one.
func ownedByReader(s *corev1.Secret, reader *composed.Unstructured) {
	if reader.GetUID() == "" || reader.GetName() == "" {
		return
	}
	s.OwnerReferences = append(s.OwnerReferences, metav1.OwnerReference{
		APIVersion: reader.GetAPIVersion(),
		Kind:       reader.GetKind(),
		Name:       reader.GetName(),
		UID:        reader.GetUID(),
	})
}

func versionLabels() map[string]string {
	return map[string]string{LabelFunctionVersion: version.Version}
}

// warnInlineSecrets warns, on a legacy XR and its claim, about each secret
// given inline: Crossplane copied it from the namespaced claim into the
// cluster-scoped XR, where whoever may read XRs of the kind can read it.
func warnInlineSecrets(rsp *fnv1.RunFunctionResponse, spec *xrSpec, xrName string, t target) {
	if spec.WebhookConfiguration == nil {
		return
	}
	a := spec.WebhookConfiguration.WebhookAuthorization
	p := field.NewPath("spec", "webhookConfiguration", "webhookAuthorization")
	for _, f := range []struct {
		key   string
		value string
	}{{"password", a.Password}, {"token", a.Token}, {"headerValue", a.HeaderValue}} {
		if f.value == "" {
			continue
		}
		response.Warning(rsp, errors.Errorf("%s: the inline value was copied from claim %s/%s into the cluster-scoped %s %s, readable by anyone who may read that resource; use %sSecretRef, a key of a Secret in namespace %s",
			p.Child(f.key), t.Namespace, t.ClaimName, KindLegacyComposite, xrName, f.key, t.Namespace)).
			WithReason(ReasonInlineSecret).TargetCompositeAndClaim()
	}
}

func readiness(ready bool) resource.Ready {
	if ready {
		return resource.ReadyTrue
	}
	return resource.ReadyFalse
}

// isReady is whether the EventStream is Ready and its last sync did not
// fail. Crossplane derives the XR's Ready from this, so a stream that
// exists but keeps failing to update (or to be read) makes the XR not
// ready, not only its StreamReady condition.
func isReady(cd *composed.Unstructured) bool {
	return conditionOf(cd, xpv2.TypeReady).Status == corev1.ConditionTrue &&
		conditionOf(cd, xpv2.TypeSynced).Status != corev1.ConditionFalse
}

// outputsFrom maps the observed EventStream's status.atProvider to the XR's
// status.outputs, field for field. It reports false until Auth0 has a stream.
// It reads the unstructured status in place: converting it through JSON into
// the typed observation cost more than the rest of a call.
func outputsFrom(es *composed.Unstructured) (map[string]any, bool) {
	obs := atProvider(es)
	str := func(k string) string { s, _ := obs[k].(string); return s }
	id := str("id")
	if id == "" {
		return nil, false
	}
	raw, _ := obs["subscriptions"].([]any)
	subs := make([]any, 0, len(raw))
	for _, s := range raw {
		if s, ok := s.(string); ok {
			subs = append(subs, s)
		}
	}
	return map[string]any{
		"id":                    id,
		"name":                  str("name"),
		"status":                str("status"),
		"destinationType":       str("destinationType"),
		"createdAt":             str("createdAt"),
		"updatedAt":             str("updatedAt"),
		"subscriptions":         subs,
		"awsPartnerEventSource": str("awsPartnerEventSource"),
	}, true
}

// conditionOf reads one condition of a composed resource in place, as
// GetCondition would return it (Unknown when absent) without converting the
// whole status through JSON.
func conditionOf(cd *composed.Unstructured, t xpv2.ConditionType) xpv2.Condition {
	status, _ := cd.Object["status"].(map[string]any)
	conds, _ := status["conditions"].([]any)
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if ct, _ := m["type"].(string); ct != string(t) {
			continue
		}
		st, _ := m["status"].(string)
		reason, _ := m["reason"].(string)
		msg, _ := m["message"].(string)
		return xpv2.Condition{Type: t, Status: corev1.ConditionStatus(st), Reason: xpv2.ConditionReason(reason), Message: msg}
	}
	return xpv2.Condition{Type: t, Status: corev1.ConditionUnknown}
}

// streamCondition surfaces the state of the composed EventStream (or
// Workspace, its kind) on the XR (and its claim):
// a failed sync first, because that is usually why a stream is not ready,
// then its Ready condition. Messages are masked by m.
func streamCondition(rsp *fnv1.RunFunctionResponse, kind string, es *composed.Unstructured, observed bool, name string, claim bool, m masker) {
	status, reason, msg := false, ReasonPending, fmt.Sprintf("%s %s has not been created yet", kind, name)
	if observed {
		synced, ready := conditionOf(es, xpv2.TypeSynced), conditionOf(es, xpv2.TypeReady)
		switch {
		case synced.Status == corev1.ConditionFalse:
			reason, msg = orDefault(string(synced.Reason), "ReconcileError"), withDetail(fmt.Sprintf("%s %s is not synced", kind, name), m.String(synced.Message))
			// An event on every run while it lasts, next to Ready=False.
			w := response.Warning(rsp, errors.New(msg)).WithReason(ReasonStreamNotSynced)
			if claim {
				w.TargetCompositeAndClaim()
			}
		case ready.Status == corev1.ConditionTrue:
			status, reason, msg = true, ReasonAvailable, fmt.Sprintf("%s %s is ready", kind, name)
		default:
			reason, msg = orDefault(string(ready.Reason), ReasonPending), withDetail(fmt.Sprintf("%s %s is not ready", kind, name), m.String(ready.Message))
		}
	}
	newCondition := response.ConditionFalse
	if status {
		newCondition = response.ConditionTrue
	}
	c := newCondition(rsp, ConditionStreamReady, reason).WithMessage(msg)
	if claim {
		c.TargetCompositeAndClaim()
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func withDetail(msg, detail string) string {
	if detail == "" {
		return msg
	}
	return msg + ": " + detail
}
