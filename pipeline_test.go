package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
)

// cluster holds the objects Crossplane would fetch for the function's
// requirements.
type cluster []map[string]any

// fetch is Crossplane v2.2.1's ExistingRequiredResourcesFetcher
// (internal/xfn/required_resources.go) over the objects: by name in the
// selector's namespace (nil when absent), or by labels in the selector's
// namespace, every namespace when it names none, sorted by namespace and
// name.
func (c cluster) fetch(t *testing.T, s *fnv1.ResourceSelector) *fnv1.Resources {
	t.Helper()
	var match []map[string]any
	for _, o := range c {
		md, _ := o["metadata"].(map[string]any)
		ns, _ := md["namespace"].(string)
		name, _ := md["name"].(string)
		if o["apiVersion"] != s.GetApiVersion() || o["kind"] != s.GetKind() || (s.GetNamespace() != "" && ns != s.GetNamespace()) {
			continue
		}
		switch m := s.GetMatch().(type) {
		case *fnv1.ResourceSelector_MatchName:
			if name != m.MatchName {
				continue
			}
		case *fnv1.ResourceSelector_MatchLabels:
			l := labels.Set{}
			if ol, ok := md["labels"].(map[string]any); ok {
				for k, v := range ol {
					l[k], _ = v.(string)
				}
			}
			if !labels.SelectorFromSet(m.MatchLabels.GetLabels()).Matches(l) {
				continue
			}
		}
		match = append(match, o)
	}
	if _, byName := s.GetMatch().(*fnv1.ResourceSelector_MatchName); byName && len(match) == 0 {
		return nil
	}
	sort.Slice(match, func(i, j int) bool { return key(match[i]) < key(match[j]) })
	out := &fnv1.Resources{}
	for _, o := range match {
		st, err := structpb.NewStruct(o)
		if err != nil {
			t.Fatal(err)
		}
		out.Items = append(out.Items, &fnv1.Resource{Resource: st})
	}
	return out
}

func key(o map[string]any) string {
	md, _ := o["metadata"].(map[string]any)
	return fmt.Sprint(md["namespace"], "/", md["name"])
}

// maxRounds is Crossplane v2.2.1's MaxRequirementsIterations plus one.
const maxRounds = 6

// runPipeline calls the function as Crossplane v2.2.1's
// FetchingFunctionRunner does: again, with the resources its requirements
// select, until a response's requirements equal the previous one's or it
// is Fatal. It returns the last response and the number of calls.
func runPipeline(t *testing.T, r *fnv1.RunFunctionRequest, c cluster) (*fnv1.RunFunctionResponse, int) {
	t.Helper()
	f := &Function{log: logging.NewNopLogger()}
	r = proto.CloneOf(r)
	var prev *fnv1.Requirements
	for i := 1; i <= maxRounds; i++ {
		rsp, err := f.RunFunction(context.Background(), r)
		if err != nil {
			t.Fatalf("RunFunction: %v", err)
		}
		for _, res := range rsp.GetResults() {
			if res.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
				return rsp, i
			}
		}
		if proto.Equal(rsp.GetRequirements(), prev) {
			return rsp, i
		}
		prev = rsp.GetRequirements()
		r.RequiredResources = map[string]*fnv1.Resources{}
		for name, s := range prev.GetResources() {
			r.RequiredResources[name] = c.fetch(t, s)
		}
	}
	t.Fatalf("the requirements did not stabilise after %d calls", maxRounds)
	return nil, 0
}

// webhookSecret is a Secret in team-a holding data, offered as a webhook
// secret when offered.
func webhookSecret(ns, name string, data map[string]string, offered bool) map[string]any {
	md := map[string]any{"name": name, "namespace": ns}
	if offered {
		md["labels"] = map[string]any{v1alpha1.LabelWebhookSecret: "true"}
	}
	d := map[string]any{}
	for k, v := range data {
		d[k] = v
	}
	return map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": md, "data": d}
}

// secretRequirement is the requirement of Secret ns/name.
func secretRequirement(ns, name string) *fnv1.Requirements {
	return &fnv1.Requirements{Resources: map[string]*fnv1.ResourceSelector{
		reqWebhookSecret: {ApiVersion: "v1", Kind: "Secret", Match: &fnv1.ResourceSelector_MatchName{MatchName: name}, Namespace: &ns},
	}}
}

// asMap decodes a JSON object.
func asMap(t *testing.T, j string) map[string]any {
	t.Helper()
	m := map[string]any{}
	if err := json.Unmarshal([]byte(j), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRunPipelineFetchesLikeCrossplane(t *testing.T) {
	c := cluster{
		webhookSecret("team-a", "hook", map[string]string{"tok": "dA=="}, true),
		webhookSecret("team-b", "hook", map[string]string{"tok": "dA=="}, true),
		asMap(t, `{"apiVersion":"v1","kind":"Secret","metadata":{"namespace":"team-b","name":"a","labels":{"x":"y"}}}`),
	}
	ns := "team-a"
	if got := c.fetch(t, &fnv1.ResourceSelector{ApiVersion: "v1", Kind: "Secret", Match: &fnv1.ResourceSelector_MatchName{MatchName: "nope"}, Namespace: &ns}); got != nil {
		t.Errorf("a missing Secret fetched as %v, want nil", got)
	}
	if got := c.fetch(t, &fnv1.ResourceSelector{ApiVersion: "v1", Kind: "Secret", Match: &fnv1.ResourceSelector_MatchName{MatchName: "hook"}, Namespace: &ns}); len(got.GetItems()) != 1 {
		t.Errorf("Secret team-a/hook fetched as %v", got)
	}
	all := c.fetch(t, &fnv1.ResourceSelector{ApiVersion: "v1", Kind: "Secret", Match: &fnv1.ResourceSelector_MatchLabels{MatchLabels: &fnv1.MatchLabels{Labels: map[string]string{v1alpha1.LabelWebhookSecret: "true"}}}})
	if len(all.GetItems()) != 2 || structString(all.GetItems()[0].GetResource(), "metadata", "namespace") != "team-a" {
		t.Errorf("labelled Secrets in every namespace fetched as %v", all)
	}
}

// testCluster holds the Secrets the table tests reference, each offered as
// a webhook secret: hook (key tok), audit (key password) and h (key k) in
// team-a, s (key k) in team-b.
func testCluster(t *testing.T) cluster {
	t.Helper()
	return cluster{
		webhookSecret("team-a", "hook", map[string]string{"tok": "aG9vay10b2tlbg=="}, true),
		webhookSecret("team-a", "audit", map[string]string{"password": "YXVkaXQtcGFzc3dvcmQ="}, true),
		webhookSecret("team-a", "h", map[string]string{"k": "aGVhZGVyLXZhbHVl"}, true),
		webhookSecret("team-b", "s", map[string]string{"k": "Yi1wYXNzd29yZA=="}, true),
	}
}
