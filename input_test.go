package main

import (
	"strings"
	"testing"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource"
)

// TestParseInputCached: a remembered input is handed out as a copy, and a
// bad input is refused however often it comes.
func TestParseInputCached(t *testing.T) {
	good := &fnv1.RunFunctionRequest{Input: resource.MustStructJSON(`{"apiVersion":"auth0eventstream.fn.openmcf.org/v1beta1","kind":"Input",
		"managementPolicies":["Observe"],"namePrefix":"cached-"}`)}
	first, err := parseInputCached(good)
	if err != nil {
		t.Fatal(err)
	}
	first.ManagementPolicies[0] = "Delete"
	first.NamePrefix = "changed-"
	second, err := parseInputCached(good)
	if err != nil {
		t.Fatal(err)
	}
	if second.NamePrefix != "cached-" || second.ManagementPolicies[0] != "Observe" {
		t.Errorf("the remembered input changed with the copy handed out: %+v", second)
	}

	bad := &fnv1.RunFunctionRequest{Input: resource.MustStructJSON(`{"apiVersion":"auth0eventstream.fn.openmcf.org/v1beta1","kind":"Input","backend":"pulumi"}`)}
	for range 2 {
		if _, err := parseInputCached(bad); err == nil || !strings.Contains(err.Error(), "backend") {
			t.Errorf("bad input: want an error naming backend, got %v", err)
		}
	}
}
