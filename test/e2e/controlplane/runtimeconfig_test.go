package controlplane

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

func TestMergeArgs(t *testing.T) {
	plane := []string{"--kubeconfig=/k", "--debug", "--poll=10s", "--delivery-poll=10s"}
	reserved := []string{"kubeconfig"}
	for _, c := range []struct {
		name string
		user []string
		want []string
		err  string
	}{
		{name: "no user args keep the plane's", user: nil, want: plane},
		{name: "equals form replaces", user: []string{"--poll=37s"}, want: []string{"--kubeconfig=/k", "--debug", "--delivery-poll=10s", "--poll=37s"}},
		{name: "separate value replaces", user: []string{"--poll", "37s", "--max-reconcile-rate=50"}, want: []string{"--kubeconfig=/k", "--debug", "--delivery-poll=10s", "--poll", "37s", "--max-reconcile-rate=50"}},
		{name: "boolean then flag", user: []string{"--debug", "--poll=2m"}, want: []string{"--kubeconfig=/k", "--delivery-poll=10s", "--debug", "--poll=2m"}},
		{name: "new flag appended", user: []string{"--auth0-timeout=5s"}, want: append(slices.Clone(plane), "--auth0-timeout=5s")},
		{name: "single dash names its own flag", user: []string{"-d"}, want: append(slices.Clone(plane), "-d")},
		{name: "reserved refused", user: []string{"--kubeconfig", "/other"}, err: "--kubeconfig is set by the control plane"},
		{name: "positional refused", user: []string{"--debug=true", "37s"}, err: `args[1] "37s": not a flag`},
		{name: "bare dashes refused", user: []string{"--"}, err: "not a flag"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := mergeArgs(plane, c.user, reserved)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("merged %q, want %q", got, c.want)
			}
		})
	}
}

func objects(t *testing.T, docs ...string) []unstructured.Unstructured {
	t.Helper()
	out := make([]unstructured.Unstructured, 0, len(docs))
	for _, d := range docs {
		u := unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(d), &u.Object); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

// TestRuntimeConfigRef follows Crossplane's choice of a revision's
// DeploymentRuntimeConfig: the longest matching prefix among ImageConfigs
// that set spec.runtime, against the resolved (rewritten) image.
func TestRuntimeConfigRef(t *testing.T) {
	rev := objects(t, `
kind: ProviderRevision
metadata: {name: rev}
spec: {runtimeConfigRef: {name: from-package}}
status: {resolvedImage: "127.0.0.1:5000/xp-auth0/provider-auth0-eventstream:v0.1.0"}
`)[0]
	rewrite := `
metadata: {name: a-rewrite}
spec:
  matchImages: [{prefix: "xpkg.crossplane.io/xp-auth0/"}]
  rewriteImage: {prefix: "127.0.0.1:5000/xp-auth0/"}
`
	short := `
metadata: {name: b-short}
spec:
  matchImages: [{prefix: "127.0.0.1:5000/"}]
  runtime: {configRef: {name: short}}
`
	long := `
metadata: {name: c-long}
spec:
  matchImages: [{prefix: "127.0.0.1:5000/other/"}, {prefix: "127.0.0.1:5000/xp-auth0/provider-auth0-eventstream"}]
  runtime: {configRef: {name: long}}
`
	// Matches the package as users name it, not the rewritten image
	// Crossplane resolves: ignored, as by Crossplane.
	unrewritten := `
metadata: {name: d-unrewritten}
spec:
  matchImages: [{prefix: "xpkg.crossplane.io/xp-auth0/provider-auth0-eventstream"}]
  runtime: {configRef: {name: unrewritten}}
`
	// The longest match sets runtime without a configRef: the package's
	// own reference applies, not a shorter ImageConfig's.
	longNoRef := `
metadata: {name: e-long-no-ref}
spec:
  matchImages: [{prefix: "127.0.0.1:5000/xp-auth0/provider-auth0-eventstream:"}]
  runtime: {}
`
	wrongKind := `
metadata: {name: f-wrong-kind}
spec:
  matchImages: [{prefix: "127.0.0.1:5000/xp-auth0/provider-auth0-eventstream:v"}]
  runtime: {configRef: {name: x, kind: ControllerConfig}}
`
	for _, c := range []struct {
		name, want, via, err string
		ics                  []string
		rev                  *unstructured.Unstructured
	}{
		{name: "no ImageConfig: the package's ref", want: "from-package"},
		{name: "a rewrite only: the package's ref", ics: []string{rewrite}, want: "from-package"},
		{name: "one runtime match", ics: []string{rewrite, short}, want: "short", via: "b-short"},
		{name: "longest prefix wins", ics: []string{long, short, rewrite}, want: "long", via: "c-long"},
		{name: "the unrewritten name does not match", ics: []string{unrewritten, rewrite}, want: "from-package"},
		{name: "longest without configRef", ics: []string{short, longNoRef}, want: "from-package"},
		{name: "no ref on the revision: default", rev: &unstructured.Unstructured{Object: map[string]any{"kind": "ProviderRevision"}}, want: "default"},
		{name: "unknown kind", ics: []string{wrongKind}, err: "ImageConfig f-wrong-kind: spec.runtime.configRef: kind ControllerConfig"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &rev
			if c.rev != nil {
				r = c.rev
			}
			got, err := runtimeConfigRef(r, objects(t, c.ics...))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != c.want || got.ImageConfig != c.via {
				t.Errorf("DeploymentRuntimeConfig %q via ImageConfig %q, want %q via %q", got.Name, got.ImageConfig, c.want, c.via)
			}
		})
	}
}

func TestContainerArgs(t *testing.T) {
	drc := objects(t, `
apiVersion: pkg.crossplane.io/v1beta1
kind: DeploymentRuntimeConfig
metadata: {name: sized}
spec:
  deploymentTemplate:
    spec:
      selector: {}
      template:
        spec:
          containers:
          - name: sidecar
            args: [--not-this]
          - name: package-runtime
            args: [--poll=80s, --max-reconcile-rate=50]
`, `
apiVersion: pkg.crossplane.io/v1beta1
kind: DeploymentRuntimeConfig
metadata: {name: default}
`)
	got, err := containerArgs(&drc[0])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"--poll=80s", "--max-reconcile-rate=50"}; !slices.Equal(got, want) {
		t.Errorf("args %q, want %q", got, want)
	}
	if got, err := containerArgs(&drc[1]); err != nil || got != nil {
		t.Errorf("empty DeploymentRuntimeConfig: args %q, error %v; want none", got, err)
	}
}

func TestPodUser(t *testing.T) {
	img := &unpacked{UID: 65532, GID: 65532}
	for name, c := range map[string]struct {
		drc      string
		uid, gid int
		err      bool
	}{
		// Crossplane's defaults on the pod and the container.
		"NoConfig": {drc: `{}`, uid: DefaultPodUser, gid: DefaultPodUser},
		"Container": {drc: `{deploymentTemplate: {spec: {selector: {}, template: {spec: {containers: [
			{name: package-runtime, securityContext: {runAsUser: 1001, runAsGroup: 1002}}]}}}}}`, uid: 1001, gid: 1002},
		// The container's default (2000) still wins over the pod's.
		"PodOnly": {drc: `{deploymentTemplate: {spec: {selector: {}, template: {spec: {securityContext: {runAsUser: 1001}}}}}}`, uid: DefaultPodUser, gid: DefaultPodUser},
		// Both set without a user: the image's.
		"ImageUser": {drc: `{deploymentTemplate: {spec: {selector: {}, template: {spec: {securityContext: {}, containers: [
			{name: package-runtime, securityContext: {}}]}}}}}`, uid: 65532, gid: 65532},
		"Root": {drc: `{deploymentTemplate: {spec: {selector: {}, template: {spec: {containers: [
			{name: package-runtime, securityContext: {runAsUser: 0}}]}}}}}`, err: true},
	} {
		t.Run(name, func(t *testing.T) {
			drc := objects(t, "apiVersion: pkg.crossplane.io/v1beta1\nkind: DeploymentRuntimeConfig\nmetadata: {name: x}\nspec: "+c.drc)[0]
			rc := runtimeConfig{Name: "x"}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(drc.Object["spec"].(map[string]any), &rc.Spec); err != nil {
				t.Fatal(err)
			}
			uid, gid, err := rc.user(img)
			if (err != nil) != c.err {
				t.Fatalf("error %v, want error %t", err, c.err)
			}
			if !c.err && (uid != c.uid || gid != c.gid) {
				t.Errorf("runs as %d:%d, want %d:%d", uid, gid, c.uid, c.gid)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	defined := map[string]string{"A": "x", "B": "y"}
	for in, want := range map[string]string{
		"$(A)-$(B)":    "x-y",
		"$$(A)":        "$(A)",
		"$(C) stays":   "$(C) stays",
		"plain $ sign": "plain $ sign",
		"$(A":          "$(A",
	} {
		if got := expand(in, defined); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}
