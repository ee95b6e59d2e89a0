package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
)

// BenchmarkRunFunction measures one RunFunction call on the seed's Quick
// Start: as first composed (XR only) and once the EventStream is observed
// ready with its stream (status.outputs filled in). docs/api.md records the
// figures.
func BenchmarkRunFunction(b *testing.B) {
	// The seed names no namespace; the API server gives it the default.
	xr := strings.Replace(benchJSON(b, "example/seed/quick-start.yaml"), `"metadata":{`, `"metadata":{"namespace":"default",`, 1)
	observed := map[string]string{string(NameEventStream): benchJSON(b, "example/observed/seed-quick-start.yaml")}
	// The input of example/composition.yaml.
	input := `{"apiVersion":"auth0eventstream.fn.openmcf.org/v1beta1","kind":"Input","backend":"native",
		"providerConfigRef":{"kind":"ClusterProviderConfig","name":"default"},"managementPolicies":["*"]}`

	for name, r := range map[string]*fnv1.RunFunctionRequest{
		"XROnly":       req(xr, input, nil),
		"WithObserved": req(xr, input, observed),
	} {
		b.Run(name, func(b *testing.B) {
			f := &Function{log: logging.NewNopLogger()}
			ctx := context.Background()
			// The schema compiles once per process, before serving.
			if _, err := specSchema(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				rsp, err := f.RunFunction(ctx, r)
				if err != nil {
					b.Fatal(err)
				}
				for _, res := range rsp.GetResults() {
					if res.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
						b.Fatal(res.GetMessage())
					}
				}
			}
		})
	}
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
