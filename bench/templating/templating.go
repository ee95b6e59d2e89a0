// Package templating holds what the side-by-side benchmark of
// function-go-templating needs: the requests our BenchmarkRunFunction sends
// (bench_test.go in the repository root) and a template that composes the
// same EventStream and Secret our function composes.
//
// function-go-templating is a main package, so it cannot be imported: `make
// bench-function` runs `go test` on the released package itself, in the
// module cache, with benchmark_test.go added by -overlay (see run.sh). Its
// code is neither copied nor changed.
package templating

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"sigs.k8s.io/yaml"

	fnv1beta1 "github.com/crossplane/function-sdk-go/proto/v1beta1"

	"github.com/crossplane-contrib/function-go-templating/input/v1beta1"
)

// NameEventStream is the EventStream's name within the pipeline, as our
// function names it.
const NameEventStream = "event-stream"

// Template composes what our function composes from an Auth0EventStream:
// the EventStream for each destination type and authorization method, the
// Secret holding inline secret values, the EventStream's readiness from its
// Ready and Synced conditions, and the XR's status.outputs from the stream
// Auth0 reported. It validates nothing: that is our function's extra work.
const Template = `{{- $xr := .observed.composite.resource -}}
{{- $spec := $xr.spec -}}
{{- $ns := $xr.metadata.namespace | default "default" -}}
{{- $name := $xr.metadata.name -}}
{{- $secret := printf "%s-webhook-authorization" $name -}}
{{- $es := get .observed.resources "event-stream" -}}
{{- $data := dict -}}
---
apiVersion: auth0.m.openmcf.org/v1alpha1
kind: EventStream
metadata:
  name: {{ $name }}
  namespace: {{ $ns }}
  labels:
    auth0.openmcf.org/function-version: v0.0.0-dev
  annotations:
    {{ setResourceNameAnnotation "event-stream" }}
{{- if $es }}
{{- if and (eq (getResourceCondition "Ready" $es).Status "True") (ne (getResourceCondition "Synced" $es).Status "False") }}
    gotemplating.fn.crossplane.io/ready: "True"
{{- else }}
    gotemplating.fn.crossplane.io/ready: "False"
{{- end }}
{{- end }}
spec:
  providerConfigRef:
    kind: {{ dig "providerConfigRef" "kind" "ClusterProviderConfig" $spec }}
    name: {{ dig "providerConfigRef" "name" "default" $spec }}
  managementPolicies: {{ dig "managementPolicies" (list "*") $spec | toJson }}
  forProvider:
    name: {{ $spec.name | default $name }}
    subscriptions: {{ $spec.subscriptions | toJson }}
    status: {{ $spec.status | default "enabled" }}
    destination:
      type: {{ $spec.destinationType }}
{{- if eq $spec.destinationType "eventbridge" }}
      eventbridge:
        awsAccountId: {{ $spec.eventbridgeConfiguration.awsAccountId | quote }}
        awsRegion: {{ $spec.eventbridgeConfiguration.awsRegion }}
{{- else if eq $spec.destinationType "action" }}
      action:
        actionId: {{ $spec.actionConfiguration.actionId }}
{{- else if eq $spec.destinationType "webhook" }}
{{- $a := $spec.webhookConfiguration.webhookAuthorization }}
      webhook:
        endpoint: {{ $spec.webhookConfiguration.webhookEndpoint | quote }}
        authorization:
          method: {{ $a.method }}
{{- range $key := list "password" "token" "headerValue" }}
{{- $ref := get $a (printf "%sSecretRef" $key) }}
{{- if $ref }}
          {{ $key }}SecretRef:
            name: {{ $ref.name }}
            key: {{ $ref.key }}
{{- else if get $a $key }}
{{- $_ := set $data $key (get $a $key | b64enc) }}
          {{ $key }}SecretRef:
            name: {{ $secret }}
            key: {{ $key }}
{{- end }}
{{- end }}
{{- if $a.username }}
          username: {{ $a.username | quote }}
{{- end }}
{{- if $a.headerKey }}
          headerKey: {{ $a.headerKey | quote }}
{{- end }}
{{- end }}
{{- if $data }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ $secret }}
  namespace: {{ $ns }}
  labels:
    auth0.openmcf.org/function-version: v0.0.0-dev
  annotations:
    {{ setResourceNameAnnotation "webhook-authorization" }}
{{- if get .observed.resources "webhook-authorization" }}
    gotemplating.fn.crossplane.io/ready: "True"
{{- else }}
    gotemplating.fn.crossplane.io/ready: "False"
{{- end }}
type: Opaque
data: {{ $data | toJson }}
{{- end }}
{{- if $es }}
{{- with $es.resource.status.atProvider }}
{{- if .id }}
---
apiVersion: {{ $xr.apiVersion }}
kind: {{ $xr.kind }}
status:
  outputs:
    id: {{ .id }}
    name: {{ .name | quote }}
    status: {{ .status | quote }}
    destinationType: {{ .destinationType | quote }}
    createdAt: {{ .createdAt | quote }}
    updatedAt: {{ .updatedAt | quote }}
    subscriptions: {{ .subscriptions | default list | toJson }}
    awsPartnerEventSource: {{ .awsPartnerEventSource | default "" | quote }}
{{- end }}
{{- end }}
{{- end }}
`

// Requests are the two scenarios of our BenchmarkRunFunction, read from the
// repository at root: the seed's Quick Start as first composed (XR only) and
// with its EventStream observed ready.
func Requests(root string) (map[string]*fnv1beta1.RunFunctionRequest, error) {
	xr, err := yamlToJSON(filepath.Join(root, "example/seed/quick-start.yaml"))
	if err != nil {
		return nil, err
	}
	// The seed names no namespace; the API server gives it the default.
	xr = strings.Replace(xr, `"metadata":{`, `"metadata":{"namespace":"default",`, 1)
	es, err := yamlToJSON(filepath.Join(root, "example/observed/seed-quick-start.yaml"))
	if err != nil {
		return nil, err
	}
	in, err := json.Marshal(&v1beta1.GoTemplate{
		Source: v1beta1.InlineSource,
		Inline: &v1beta1.TemplateSourceInline{Template: Template},
	})
	if err != nil {
		return nil, err
	}
	in = []byte(strings.Replace(string(in), `{`, `{"apiVersion":"gotemplating.fn.crossplane.io/v1beta1","kind":"GoTemplate",`, 1))

	out := map[string]*fnv1beta1.RunFunctionRequest{}
	for name, observed := range map[string]map[string]string{"XROnly": nil, "WithObserved": {NameEventStream: es}} {
		r := &fnv1beta1.RunFunctionRequest{
			Meta:     &fnv1beta1.RequestMeta{Tag: "t"},
			Observed: &fnv1beta1.State{Composite: &fnv1beta1.Resource{}},
		}
		if r.Observed.Composite.Resource, err = structJSON(xr); err != nil {
			return nil, err
		}
		if r.Input, err = structJSON(string(in)); err != nil {
			return nil, err
		}
		for n, o := range observed {
			if r.Observed.Resources == nil {
				r.Observed.Resources = map[string]*fnv1beta1.Resource{}
			}
			s, err := structJSON(o)
			if err != nil {
				return nil, err
			}
			r.Observed.Resources[n] = &fnv1beta1.Resource{Resource: s}
		}
		out[name] = r
	}
	return out, nil
}

func yamlToJSON(path string) (string, error) {
	y, err := os.ReadFile(path) //nolint:gosec // a file of this repository
	if err != nil {
		return "", err
	}
	// The observed file holds the EventStream and then the Secret.
	first, _, _ := strings.Cut(string(y), "\n---\n")
	j, err := yaml.YAMLToJSON([]byte(first))
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return string(j), nil
}

func structJSON(j string) (*structpb.Struct, error) {
	s := &structpb.Struct{}
	return s, s.UnmarshalJSON([]byte(j))
}

// Durations records the time of each call, for the median, as our
// BenchmarkRunFunction does: preallocated, so recording allocates nothing.
type Durations []time.Duration

// NewDurations returns room for a million calls; later calls are not
// recorded.
func NewDurations() *Durations {
	d := make(Durations, 0, 1<<20)
	return &d
}

// Add records one call.
func (d *Durations) Add(t time.Duration) {
	if len(*d) < cap(*d) {
		*d = append(*d, t)
	}
}

// Report adds the median call as the metric p50-ns.
func (d *Durations) Report(b *testing.B) {
	if len(*d) == 0 {
		return
	}
	slices.Sort(*d)
	b.ReportMetric(float64((*d)[len(*d)/2].Nanoseconds()), "p50-ns")
}
