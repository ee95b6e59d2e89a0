package auth0sim

import (
	"os"
	"regexp"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// TestEventStreamCRDAgreesWithSimulator: the EventStream CRD refuses at
// admission exactly the AWS account ids and regions the simulator (held to
// Auth0) refuses, so a typo never gets as far as a replacement.
func TestEventStreamCRDAgreesWithSimulator(t *testing.T) {
	b, err := os.ReadFile("../../package/provider/crds/auth0.m.openmcf.org_eventstreams.yaml")
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(b, crd); err != nil {
		t.Fatal(err)
	}
	if len(crd.Spec.Versions) == 0 {
		t.Fatal("the CRD has no versions")
	}
	eb := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	for _, p := range []string{"spec", "forProvider", "destination", "eventbridge"} {
		next, ok := eb.Properties[p]
		if !ok {
			t.Fatalf("the CRD schema has no %s", p)
		}
		eb = &next
	}
	cases := map[string]struct {
		sim     *regexp.Regexp
		samples map[string]bool
	}{
		"awsRegion": {sim: awsRegionPattern, samples: map[string]bool{
			"us-east-1": true, "eu-west-1": true, "ap-southeast-2": true, "us-gov-west-1": true, "us-isob-east-1": true, "eu-central-2": true,
			"us-east1": false, "US-EAST-1": false, "useast-1": false, "": false, "us-east-1 ": false, "us-east-": false, "east-1": false, "us-east-1a": false, //nolint:gocritic // The trailing space is one of the bad samples.
		}},
		"awsAccountId": {sim: awsAccountPattern, samples: map[string]bool{
			"123456789012": true, "12345678901": false, "1234567890123": false, "12345678901a": false, "": false,
		}},
	}
	for field, tc := range cases {
		t.Run(field, func(t *testing.T) {
			pattern := eb.Properties[field].Pattern
			if pattern != tc.sim.String() {
				t.Fatalf("CRD pattern of %s is %q, the simulator's is %q", field, pattern, tc.sim.String())
			}
			crdRule := regexp.MustCompile(pattern)
			for v, valid := range tc.samples {
				if got := crdRule.MatchString(v); got != valid {
					t.Errorf("CRD pattern accepts %q = %v, want %v", v, got, valid)
				}
				if got := tc.sim.MatchString(v); got != valid {
					t.Errorf("simulator accepts %q = %v, want %v", v, got, valid)
				}
			}
		})
	}
}
