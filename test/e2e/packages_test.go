//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/xp-auth0/auth0-eventstream/test/e2e/controlplane"
)

// The label our function sets on every composed resource.
const functionVersionLabel = "auth0.openmcf.org/function-version"

// Package installation and upgrades take a registry pull, a package
// unpack and a process start per package.
const installWithin = 5 * time.Minute

// TestInstalledFromRegistry checks what make e2e's control plane installed:
// only the Configuration was applied, and Crossplane made the Function and
// Provider from the registry, which run as the images' entrypoints.
func TestInstalledFromRegistry(t *testing.T) {
	s := reload(t)
	conf := controlplane.ConfigurationPackage(s.Flavour)
	want := map[string]string{
		"Configuration/" + conf:                 controlplane.PackageRepository + "/" + conf + ":" + controlplane.InitialVersion,
		"Function/" + controlplane.FunctionName: controlplane.PackageRepository + "/function-auth0-eventstream:" + controlplane.InitialVersion,
		"Provider/" + controlplane.ProviderName: controlplane.PackageRepository + "/provider-auth0-eventstream:" + controlplane.InitialVersion,
	}
	for obj, pkg := range want {
		kind, name, _ := strings.Cut(obj, "/")
		u := getPackage(t, kind, name)
		if got, _, _ := unstructured.NestedString(u.Object, "spec", "package"); got != pkg {
			t.Errorf("%s: spec.package %q, want %q", obj, got, pkg)
		}
		resolved, _, _ := unstructured.NestedString(u.Object, "status", "resolvedPackage")
		if wantResolved := strings.Replace(pkg, controlplane.PackageRepository, s.Registry.Repository(), 1); resolved != wantResolved {
			t.Errorf("%s: status.resolvedPackage %q, want %q (the ImageConfig's rewrite)", obj, resolved, wantResolved)
		}
		if st, r, m := condition(u, "Healthy"); st != "True" {
			t.Errorf("%s: Healthy=%s %s %s", obj, st, r, m)
		}
	}
	// Crossplane's resolver made the Function and Provider: the
	// Configuration's revision lists them as its dependencies.
	lock, err := dyn.Resource(lockGVR).Get(t.Context(), "lock", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st, r, m := condition(lock, "Resolved"); st != "True" || r != "DependencyResolutionSucceeded" {
		t.Errorf("Lock: Resolved=%s %s %s", st, r, m)
	}
	checkRuntime(t, s, controlplane.InitialVersion)
}

// TestUpgradeKeepsStreams publishes v0.1.1 of every package and moves the
// Configuration to it, as a platform team would. Crossplane must upgrade
// the Function and Provider it installed; every existing stream must stay
// the same stream in Auth0 (no create, no delete) while its composed
// resources pick up the new function's label.
//
// It does not run in parallel: it restarts the function and provider that
// every other test uses, and counts every create and delete the simulator
// answers.
func TestUpgradeKeepsStreams(t *testing.T) {
	const next = "v0.1.1"
	ns := namespace(t, "upgrade")
	names := []string{"hook-before-upgrade", "bridge-before-upgrade"}
	mustKubectl(t, fmt.Appendf(nil, `apiVersion: auth0.openmcf.org/v1
kind: Auth0EventStream
metadata:
  name: %[2]s
  namespace: %[1]s
spec:
  destinationType: webhook
  subscriptions: [user.created]
  webhookConfiguration:
    webhookEndpoint: https://hooks.example.com/upgrade
    webhookAuthorization:
      method: bearer
      token: upgrade-token
---
apiVersion: auth0.openmcf.org/v1
kind: Auth0EventStream
metadata:
  name: %[3]s
  namespace: %[1]s
spec:
  destinationType: eventbridge
  subscriptions: [user.deleted]
  eventbridgeConfiguration:
    awsAccountId: "123456789012"
    awsRegion: us-east-1
`, ns, names[0], names[1]), "apply", "-f", "-")
	ids := map[string]string{}
	for _, n := range names {
		u := waitReady(t, ns, n)
		ids[n], _ = outputs(u)["id"].(string)
		waitComposedLabel(t, ns, n, controlplane.InitialVersion)
	}

	before, err := simCounters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("publish %s to the local registry with make packages and make publish", next)
	if err := controlplane.Publish(t.Context(), state.Dir, next, os.Stderr); err != nil {
		t.Fatal(err)
	}
	conf := controlplane.ConfigurationPackage(state.Flavour)
	pkg := controlplane.PackageRepository + "/" + conf + ":" + next
	mustKubectl(t, nil, "patch", "configuration.pkg.crossplane.io", conf, "--type=merge", "-p", `{"spec":{"package":"`+pkg+`"}}`)

	// Crossplane moves the dependencies; the control plane runs the new
	// revisions' images and stops the old ones.
	eventually(t, installWithin, "Function and Provider upgraded to "+next, func(ctx context.Context) error {
		if _, err := controlplane.SyncRuntime(ctx, state.Dir, os.Stderr); err != nil {
			t.Fatalf("play the package runtime: %v", err)
		}
		for _, o := range []struct{ kind, name string }{{"Configuration", conf}, {"Function", controlplane.FunctionName}, {"Provider", controlplane.ProviderName}} {
			u, err := dyn.Resource(packageGVR(o.kind)).Get(ctx, o.name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p, _, _ := unstructured.NestedString(u.Object, "spec", "package"); !strings.HasSuffix(p, ":"+next) {
				return fmt.Errorf("%s %s: spec.package %s; conditions: %s", o.kind, o.name, p, conditionsOf(u))
			}
			if st, _, _ := condition(u, "Healthy"); st != "True" {
				return fmt.Errorf("%s %s at %s: %s", o.kind, o.name, next, conditionsOf(u))
			}
		}
		return nil
	})
	s := reload(t)
	checkRuntime(t, s, next)

	for _, n := range names {
		waitComposedLabel(t, ns, n, next)
		u := waitReady(t, ns, n)
		if id, _ := outputs(u)["id"].(string); id != ids[n] {
			t.Errorf("%s: status.outputs.id %s after the upgrade, %s before", n, id, ids[n])
		}
	}
	// The new provider has observed every stream by now, so a create or
	// delete it were to make would be counted. Its observations come from
	// a listing of the tenant (or a GET of the stream); it reads a
	// stream's delivery health only after observing it, and this new
	// process has read none yet: a stats read of each stream since the
	// new revision runs marks its observation.
	upgraded, err := simCounters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, convergeWithin+controlplane.DeliveryPoll, "the upgraded provider observed the streams", func(ctx context.Context) error {
		c, err := simCounters(ctx)
		if err != nil {
			return err
		}
		for _, n := range names {
			id := ids[n]
			if got := c.Streams[id]["GET /api/v2/event-streams/{id}/stats"] - upgraded.Streams[id]["GET /api/v2/event-streams/{id}/stats"]; got < 1 {
				return fmt.Errorf("%s (%s): no delivery-health read since the upgrade, so no observation", n, id)
			}
		}
		if got := c.Total("GET /api/v2/event-streams") + c.Total("GET /api/v2/event-streams/{id}") - upgraded.Total("GET /api/v2/event-streams") - upgraded.Total("GET /api/v2/event-streams/{id}"); got < 1 {
			return errors.New("no listing and no stream read since the upgrade")
		}
		return nil
	})
	after, err := simCounters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range []string{"POST /api/v2/event-streams", "DELETE /api/v2/event-streams/{id}"} {
		if n := after.Total(ep) - before.Total(ep); n != 0 {
			t.Errorf("%s: %d calls during the upgrade, want 0", ep, n)
		}
	}
	for _, n := range names {
		deleteAndVerify(t, ns, n, ids[n])
	}
}

// TestMissingPackageRefused applies a second Configuration whose tag was
// never pushed: Crossplane reports it cannot fetch it, installs nothing
// for it, and the installed one stays healthy.
func TestMissingPackageRefused(t *testing.T) {
	t.Parallel()
	const name = "e2e-missing-tag"
	conf := controlplane.ConfigurationPackage(state.Flavour)
	pkg := controlplane.PackageRepository + "/" + conf + ":v9.9.9"
	mustKubectl(t, fmt.Appendf(nil, `apiVersion: pkg.crossplane.io/v1
kind: Configuration
metadata:
  name: %s
spec:
  package: %s
`, name, pkg), "apply", "-f", "-")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), deleteWithin)
		defer cancel()
		_, _ = kubectl(ctx, nil, "delete", "configuration.pkg.crossplane.io", name, "--ignore-not-found", "--timeout=2m")
	})
	eventually(t, installWithin, "Configuration "+name+" refused", func(ctx context.Context) error {
		u, err := dyn.Resource(packageGVR("Configuration")).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		st, reason, msg := condition(u, "Installed")
		if st != "False" || reason != "UnpackingPackage" {
			return fmt.Errorf("want Installed=False UnpackingPackage; conditions: %s", conditionsOf(u))
		}
		// The message names what was asked for, where Crossplane looked, and
		// the registry's answer.
		for _, want := range []string{":v9.9.9", state.Registry.Host, "MANIFEST_UNKNOWN"} {
			if !strings.Contains(msg, want) {
				return fmt.Errorf("Installed message does not name %q: %s", want, msg)
			}
		}
		t.Logf("Installed=False %s: %s", reason, msg)
		return nil
	})
	revs, err := dyn.Resource(controlplane.ConfigurationRevisionGVR).List(t.Context(), metav1.ListOptions{LabelSelector: "pkg.crossplane.io/package=" + name})
	if err != nil {
		t.Fatal(err)
	}
	if len(revs.Items) != 0 {
		t.Errorf("a Configuration that cannot be fetched got %d revisions", len(revs.Items))
	}
	mustKubectl(t, nil, "delete", "configuration.pkg.crossplane.io", name, "--timeout=2m")
	eventually(t, deleteWithin, "Configuration "+name+" deleted", func(ctx context.Context) error {
		if _, err := dyn.Resource(packageGVR("Configuration")).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%w)", err)
		}
		return nil
	})
	if u := getPackage(t, "Configuration", conf); !hasTrue(u, "Healthy") {
		t.Errorf("the installed Configuration %s is not healthy after the bad one: %s", conf, conditionsOf(u))
	}
}

var lockGVR = schema.GroupVersionResource{Group: "pkg.crossplane.io", Version: "v1beta1", Resource: "locks"}

func packageGVR(kind string) schema.GroupVersionResource {
	switch kind {
	case "Function":
		return controlplane.FunctionGVR
	case "Provider":
		return controlplane.ProviderGVR
	default:
		return controlplane.ConfigurationGVR
	}
}

func getPackage(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	u, err := dyn.Resource(packageGVR(kind)).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s %s: %v", kind, name, err)
	}
	return u
}

func hasTrue(u *unstructured.Unstructured, typ string) bool {
	st, _, _ := condition(u, typ)
	return st == "True"
}

// reload reads the control plane's state again: SyncRuntime changes it.
func reload(t *testing.T) *controlplane.State {
	t.Helper()
	s, err := controlplane.Load(state.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkRuntime checks that the function and provider processes running
// are the images of version pulled from the registry, one per package,
// each for an active revision, and alive.
func checkRuntime(t *testing.T, s *controlplane.State, version string) {
	t.Helper()
	kinds := map[string]int{}
	for rev, rt := range s.Runtime {
		if !ours(rt) {
			continue
		}
		kinds[rt.Kind]++
		if !strings.HasPrefix(rt.Image, s.Registry.Repository()+"/") || !strings.HasSuffix(rt.Image, ":"+version) {
			t.Errorf("revision %s runs %s, want an image of %s from %s", rev, rt.Image, version, s.Registry.Repository())
		}
		alive := false
		for _, p := range s.Processes {
			alive = alive || p.Name == rev
		}
		if !alive {
			t.Errorf("revision %s has no recorded process", rev)
		}
		r, err := dyn.Resource(revisionGVR(rt.Kind)).Get(t.Context(), rev, metav1.GetOptions{})
		if err != nil {
			t.Errorf("revision %s: %v", rev, err)
			continue
		}
		if d, _, _ := unstructured.NestedString(r.Object, "spec", "desiredState"); d != "Active" {
			t.Errorf("revision %s runs but is %s", rev, d)
		}
	}
	if kinds["Function"] != 1 || kinds["Provider"] != 1 {
		t.Errorf("processes per kind %v, want one Function and one Provider", kinds)
	}
	if !s.Alive() {
		t.Error("a recorded process is not running")
	}
}

func revisionGVR(kind string) schema.GroupVersionResource {
	if kind == "Function" {
		return controlplane.FunctionRevisionGVR
	}
	return controlplane.ProviderRevisionGVR
}

// waitComposedLabel waits until every resource composed for the named
// stream carries the function version label with version.
func waitComposedLabel(t *testing.T, ns, name, version string) {
	t.Helper()
	eventually(t, convergeWithin, fmt.Sprintf("%s/%s composed resources labelled %s", ns, name, version), func(ctx context.Context) error {
		xrName := ""
		if legacy() {
			u, err := getStream(ctx, ns, name)
			if err != nil {
				return err
			}
			xrName, _, _ = unstructured.NestedString(u.Object, "spec", "resourceRef", "name")
		}
		n := 0
		for _, gvr := range []schema.GroupVersionResource{mrGVR, secretGVR} {
			l, err := dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			for i := range l.Items {
				o := &l.Items[i]
				if !owned(o, name, xrName) {
					continue
				}
				n++
				if got := o.GetLabels()[functionVersionLabel]; got != version {
					return fmt.Errorf("%s %s: %s=%q", o.GetKind(), o.GetName(), functionVersionLabel, got)
				}
			}
		}
		if n == 0 {
			return fmt.Errorf("nothing composed for %s yet", name)
		}
		return nil
	})
}

// ours reports whether a package runtime is one of this project's packages,
// not a provider installed beside them (provider-terraform, on a plane
// started with --terraform).
func ours(rt controlplane.Runtime) bool {
	return rt.Package != controlplane.TerraformProvider
}
