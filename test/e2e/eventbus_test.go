//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/xp-auth0/auth0-eventstream/internal/auth0sim"
)

// The event bus (docs/eventbridge.md) is provider-aws-cloudwatchevents'
// namespaced Bus. No AWS provider runs here: the test installs the Bus CRD
// pinned from the provider's repository and the RBAC the provider's
// package would give Crossplane core, and plays the provider only for what
// nothing here can do, the Bus's status.
var busGVR = schema.GroupVersionResource{Group: "cloudwatchevents.aws.m.upbound.io", Version: "v1beta1", Resource: "buses"}

const (
	busCRD = "testdata/crds/provider-aws-cloudwatchevents/cloudwatchevents.aws.m.upbound.io_buses.yaml"
	// busCoreRole lets Crossplane core compose Buses, as the ClusterRole
	// Crossplane's RBAC manager makes for an installed provider does.
	busCoreRole = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: e2e:provider-aws-cloudwatchevents:buses
  labels:
    rbac.crossplane.io/aggregate-to-crossplane: "true"
rules:
- apiGroups: [cloudwatchevents.aws.m.upbound.io]
  resources: [buses]
  verbs: [get, list, watch, create, update, patch, delete]
`
)

// installEventBus installs the Bus CRD, core's access to Buses, and the
// event bus's Composition for the plane's flavour (from its package's
// source: the Configuration that ships it depends on the AWS provider,
// which cannot be pulled here). They stay installed, as a Configuration's
// would, and applying them again changes nothing.
func installEventBus(t *testing.T) {
	t.Helper()
	mustKubectl(t, repoFile(t, busCRD), "apply", "--server-side", "-f", "-")
	mustKubectl(t, nil, "wait", "--for=condition=Established", "--timeout=60s", "crd/buses.cloudwatchevents.aws.m.upbound.io")
	mustKubectl(t, []byte(busCoreRole), "apply", "-f", "-")
	file := "package/configuration-eventbridge/composition.yaml"
	if legacy() {
		file = "package/configuration-legacy-eventbridge/composition.yaml"
	}
	var c unstructured.Unstructured
	if err := yaml.Unmarshal(repoFile(t, file), &c.Object); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(compositionGVR).Create(t.Context(), &c, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create Composition %s: %v", c.GetName(), err)
	}
}

// TestEventBus composes an EventBridge stream with its event bus on a
// tenant of the test's own that refuses every call at first: while Auth0
// has not returned the partner event source there is no Bus and the
// composite says why; once it has, a Bus named after the source in the
// stream's region with the composite's ProviderConfig appears, and the
// composite is Ready only once the Bus is, with its ARN in status.
// Deleting the composite deletes the Bus and the Auth0 stream.
func TestEventBus(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "event-bus")
	ctx := t.Context()
	installEventBus(t)

	tenant := ownTenant(t)
	tenant.Server().SetFaults(auth0sim.Faults{ErrorRate: 1})
	mustKubectl(t, tenant.credentials(ns, "auth0", tenant.secret), "apply", "-f", "-")

	const name = "security-bus"
	selector := "crossplane:\n    compositionSelector"
	if legacy() {
		selector = "compositionSelector"
	}
	mustKubectl(t, fmt.Appendf(nil, `apiVersion: auth0.openmcf.org/v1
kind: Auth0EventStream
metadata:
  name: %s
  namespace: %s
spec:
  %s:
      matchLabels:
        auth0.openmcf.org/event-bus: aws
  providerConfigRef: {kind: ProviderConfig, name: default}
  destinationType: eventbridge
  subscriptions: [user.created]
  eventbridgeConfiguration:
    awsAccountId: "123456789012"
    awsRegion: eu-central-1
    eventBus:
      create: true
      providerConfigRef: {kind: ProviderConfig, name: aws-team}
`, name, ns, selector), "apply", "-f", "-")

	buses := func(ctx context.Context) ([]unstructured.Unstructured, error) {
		l, err := dyn.Resource(busGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		return l.Items, nil
	}

	t.Log("Auth0 refuses the create: no partner event source, no Bus")
	eventually(t, readyWithin, "the composite waiting for the partner event source while Auth0 refuses", func(ctx context.Context) error {
		u, err := getStream(ctx, ns, name)
		if err != nil {
			return err
		}
		if s, r, _ := condition(u, "EventBusReady"); s != "False" || r != "WaitingForPartnerEventSource" {
			return fmt.Errorf("conditions: %s", conditionsOf(u))
		}
		mr, err := getMR(ctx, ns, name)
		if err != nil {
			return err
		}
		if s, _, _ := condition(mr, "Synced"); s != "False" {
			return fmt.Errorf("the EventStream has not failed to create yet: %s", conditionsOf(mr))
		}
		return nil
	})
	u, err := getStream(ctx, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	if s, _, _ := condition(u, "Ready"); s == "True" {
		t.Errorf("the composite is Ready without its event bus: %s", conditionsOf(u))
	}
	if got, err := buses(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Buses before Auth0 named the partner event source: %d (%v)", len(got), err)
	}
	if n := len(tenant.Server().Streams()); n != 0 {
		t.Fatalf("the tenant holds %d streams while refusing every call", n)
	}

	t.Log("Auth0 answers: the Bus appears, named after the partner event source")
	tenant.Server().SetFaults(auth0sim.Faults{})
	var bus unstructured.Unstructured
	eventually(t, readyWithin, "a Bus for the partner event source", func(ctx context.Context) error {
		got, err := buses(ctx)
		if err != nil {
			return err
		}
		if len(got) != 1 {
			return fmt.Errorf("%d Buses, want 1", len(got))
		}
		bus = got[0]
		return nil
	})
	streams := tenant.Server().Streams()
	if len(streams) != 1 || streams[0].Destination.EventBridge == nil || streams[0].Destination.EventBridge.PartnerEventSource == "" {
		t.Fatalf("the tenant holds %+v, want one EventBridge stream with a partner event source", streams)
	}
	id, source := streams[0].ID, streams[0].Destination.EventBridge.PartnerEventSource
	if got := bus.GetAnnotations()["crossplane.io/external-name"]; got != source {
		t.Errorf("Bus %s: external name (its name in AWS) %q, want the partner event source %q", bus.GetName(), got, source)
	}
	for want, path := range map[string][]string{
		source:           {"spec", "forProvider", "eventSourceName"},
		"eu-central-1":   {"spec", "forProvider", "region"},
		"ProviderConfig": {"spec", "providerConfigRef", "kind"},
		"aws-team":       {"spec", "providerConfigRef", "name"},
	} {
		if got, _, _ := unstructured.NestedString(bus.Object, path...); got != want {
			t.Errorf("Bus %s: %s = %q, want %q", bus.GetName(), strings.Join(path, "."), got, want)
		}
	}

	t.Log("the Bus is not ready: neither is the composite")
	eventually(t, readyWithin, "the composite's stream ready, its event bus not", func(ctx context.Context) error {
		u, err := getStream(ctx, ns, name)
		if err != nil {
			return err
		}
		if s, _, _ := condition(u, "StreamReady"); s != "True" {
			return fmt.Errorf("conditions: %s", conditionsOf(u))
		}
		if s, r, _ := condition(u, "EventBusReady"); s != "False" || r == "WaitingForPartnerEventSource" {
			return fmt.Errorf("conditions: %s", conditionsOf(u))
		}
		if got, _, _ := unstructured.NestedString(u.Object, "status", "eventBus", "name"); got != source {
			return fmt.Errorf("status.eventBus.name %q, want %q", got, source)
		}
		return nil
	})
	if u, err = getStream(ctx, ns, name); err != nil {
		t.Fatal(err)
	}
	if s, _, _ := condition(u, "Ready"); s == "True" {
		t.Errorf("the composite is Ready while its Bus is not: %s", conditionsOf(u))
	}

	t.Log("playing the AWS provider: the Bus becomes ready with its ARN")
	arn := "arn:aws:events:eu-central-1:123456789012:event-bus/" + source
	now := time.Now().UTC().Format(time.RFC3339)
	mustKubectl(t, nil, "patch", "bus.cloudwatchevents.aws.m.upbound.io", bus.GetName(), "-n", ns, "--subresource=status", "--type=merge", "-p",
		fmt.Sprintf(`{"status":{"atProvider":{"arn":%q,"id":%q,"eventSourceName":%q},"conditions":[{"type":"Ready","status":"True","reason":"Available","lastTransitionTime":%q},{"type":"Synced","status":"True","reason":"ReconcileSuccess","lastTransitionTime":%q}]}}`, arn, source, source, now, now))
	eventually(t, readyWithin, "the composite Ready with the bus's ARN", func(ctx context.Context) error {
		u, err := getStream(ctx, ns, name)
		if err != nil {
			return err
		}
		if s, _, _ := condition(u, "Ready"); s != "True" {
			return fmt.Errorf("conditions: %s", conditionsOf(u))
		}
		if s, _, _ := condition(u, "EventBusReady"); s != "True" {
			return fmt.Errorf("conditions: %s", conditionsOf(u))
		}
		if got, _, _ := unstructured.NestedString(u.Object, "status", "eventBus", "arn"); got != arn {
			return fmt.Errorf("status.eventBus.arn %q, want %q", got, arn)
		}
		if got, _ := outputs(u)["awsPartnerEventSource"].(string); got != source {
			return fmt.Errorf("status.outputs.awsPartnerEventSource %q, want %q", got, source)
		}
		return nil
	})

	t.Log("delete the composite: the Bus and the Auth0 stream go with it")
	mustKubectl(t, nil, "delete", "auth0eventstream", name, "-n", ns, "--wait=false")
	eventually(t, deleteWithin, "deletion of "+ns+"/"+name, func(ctx context.Context) error {
		if _, err := getStream(ctx, ns, name); !apierrors.IsNotFound(err) {
			return fmt.Errorf("Auth0EventStream still exists (%w)", err)
		}
		if got, err := buses(ctx); err != nil || len(got) != 0 {
			return fmt.Errorf("%d Buses left (%w)", len(got), err)
		}
		if _, err := getMR(ctx, ns, name); !apierrors.IsNotFound(err) {
			return fmt.Errorf("EventStream still exists (%w)", err)
		}
		if _, ok := tenant.Server().Stream(id); ok {
			return fmt.Errorf("the tenant still holds stream %s", id)
		}
		return nil
	})
}
