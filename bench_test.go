package main

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource"
)

// BenchmarkRunFunction measures one RunFunction call on the seed's Quick
// Start: as first composed (XR only) and once the EventStream is observed
// ready with its stream (status.outputs filled in). Besides the mean (ns/op)
// it reports the median call (p50-ns), which `make bench-function` compares
// with function-go-templating's (bench/templating). docs/performance.md
// records the figures.
func BenchmarkRunFunction(b *testing.B) {
	// The seed names no namespace; the API server gives it the default.
	xr := strings.Replace(benchJSON(b, "example/seed/quick-start.yaml"), `"metadata":{`, `"metadata":{"namespace":"default",`, 1)
	observed := map[string]string{string(NameEventStream): benchJSON(b, "example/observed/seed-quick-start.yaml")}
	// The input of example/composition.yaml, admitting the seed's event
	// types (Auth0's catalog does not list them): the request stays the
	// one function-go-templating is measured on.
	input := `{"apiVersion":"auth0eventstream.fn.openmcf.org/v1beta1","kind":"Input","backend":"native","importPolicy":"ObserveOnly",
		"extraEventTypes":["authentication.success","authentication.failure"],
		"providerConfigRef":{"kind":"ClusterProviderConfig","name":"default"},"managementPolicies":["*"]}`
	// The same stream with its token in a Secret: Crossplane calls twice,
	// first without the Secret, then with it.
	withRef := strings.Replace(xr, `"token":"your-secret-token"`, `"tokenSecretRef":{"name":"hook","key":"token"}`, 1)
	secretRound := req(withRef, input, observed)
	secretRound.RequiredResources = map[string]*fnv1.Resources{reqWebhookSecret: {Items: []*fnv1.Resource{{
		Resource: resource.MustStructJSON(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"hook","namespace":"default","labels":{"auth0.m.openmcf.org/webhook-secret":"true"}},"data":{"token":"eW91ci1zZWNyZXQtdG9rZW4="}}`),
	}}}}

	for name, r := range map[string]*fnv1.RunFunctionRequest{
		"XROnly":       req(xr, input, nil),
		"WithObserved": req(xr, input, observed),
		// The two calls of one reconcile.
		"SecretRefFirstRound":  req(withRef, input, observed),
		"SecretRefSecondRound": secretRound,
	} {
		b.Run(name, func(b *testing.B) {
			f := &Function{log: logging.NewNopLogger()}
			ctx := context.Background()
			// The schema compiles once per process, before serving.
			if _, err := specSchema(); err != nil {
				b.Fatal(err)
			}
			d := newDurations()
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				rsp, err := f.RunFunction(ctx, r)
				d.add(time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				for _, res := range rsp.GetResults() {
					if res.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
						b.Fatal(res.GetMessage())
					}
				}
			}
			d.report(b)
		})
	}
}

// durations records the time of each call, for the median: ns/op is a mean,
// which a few calls slowed by the garbage collector or a loaded machine
// pull up. Preallocated, so recording allocates nothing in the loop.
type durations []time.Duration

// maxRecorded bounds the calls recorded; later calls are not recorded.
const maxRecorded = 1 << 20

func newDurations() *durations {
	d := make(durations, 0, maxRecorded)
	return &d
}

func (d *durations) add(t time.Duration) {
	if len(*d) < cap(*d) {
		*d = append(*d, t)
	}
}

// report adds the median call as the metric p50-ns.
func (d *durations) report(b *testing.B) {
	b.Helper()
	if len(*d) == 0 {
		return
	}
	slices.Sort(*d)
	b.ReportMetric(float64((*d)[len(*d)/2].Nanoseconds()), "p50-ns")
}

func benchJSON(b *testing.B, path string) string {
	b.Helper()
	y, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		b.Fatal(err)
	}
	return string(j)
}
