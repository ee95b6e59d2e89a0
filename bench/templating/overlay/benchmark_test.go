//go:build gotemplating

// This file is added to function-go-templating's own package main by
// `go test -overlay` (run.sh): that package cannot be imported.
package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1beta1 "github.com/crossplane/function-sdk-go/proto/v1beta1"

	"github.com/xp-auth0/auth0-eventstream/bench/templating"
)

// BenchmarkRunFunction measures function-go-templating's RunFunction on the
// requests of our BenchmarkRunFunction, with a template that composes what
// our function composes.
func BenchmarkRunFunction(b *testing.B) {
	// go test runs this package in the module cache: run.sh names the
	// repository.
	root := os.Getenv("AUTH0_EVENTSTREAM_ROOT")
	if root == "" {
		b.Fatal("AUTH0_EVENTSTREAM_ROOT is not set: run make bench-function")
	}
	reqs, err := templating.Requests(root)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"XROnly", "WithObserved"} {
		r := reqs[name]
		b.Run(name, func(b *testing.B) {
			f := &Function{log: logging.NewNopLogger()}
			ctx := context.Background()
			check(b, f, r, name)
			d := templating.NewDurations()
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				rsp, err := f.RunFunction(ctx, r)
				d.Add(time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				for _, res := range rsp.GetResults() {
					if res.GetSeverity() == fnv1beta1.Severity_SEVERITY_FATAL {
						b.Fatal(res.GetMessage())
					}
				}
			}
			d.Report(b)
		})
	}
}

// check fails unless the template composes the EventStream and its Secret,
// and, once the stream is observed, the XR's status.outputs.
func check(b *testing.B, f *Function, r *fnv1beta1.RunFunctionRequest, name string) {
	b.Helper()
	rsp, err := f.RunFunction(context.Background(), r)
	if err != nil {
		b.Fatal(err)
	}
	for _, res := range rsp.GetResults() {
		b.Fatalf("%s: %s", res.GetSeverity(), res.GetMessage())
	}
	got := rsp.GetDesired().GetResources()
	es := got[templating.NameEventStream].GetResource().AsMap()
	ref, _ := es["spec"].(map[string]any)["forProvider"].(map[string]any)["destination"].(map[string]any)["webhook"].(map[string]any)["authorization"].(map[string]any)["tokenSecretRef"].(map[string]any)
	if ref["name"] != "login-events-webhook-authorization" || ref["key"] != "token" {
		b.Fatalf("EventStream's tokenSecretRef: got %v", ref)
	}
	s := got["webhook-authorization"].GetResource().AsMap()
	if d, _ := s["data"].(map[string]any); d["token"] != "eW91ci1zZWNyZXQtdG9rZW4=" {
		b.Fatalf("Secret's data: got %v", s["data"])
	}
	outputs := rsp.GetDesired().GetComposite().GetResource().AsMap()["status"]
	if (name == "WithObserved") != (outputs != nil) {
		b.Fatalf("%s: XR status: got %v", name, outputs)
	}
}
