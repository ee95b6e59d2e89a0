package monitoring

import (
	"os"
	"os/exec"
	"reflect"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"
)

// promtool is Prometheus' own checker; make test builds it
// (hack/build-tool.sh promtool) and says where in PROMTOOL.
func promtool(t *testing.T, args ...string) {
	t.Helper()
	bin := os.Getenv("PROMTOOL")
	if bin == "" {
		t.Fatal("PROMTOOL is not set: run make test, or PROMTOOL=$(hack/build-tool.sh promtool) go test ./monitoring")
	}
	out, err := exec.CommandContext(t.Context(), bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %v: %v\n%s", args, err, out)
	}
}

func TestRulesPassPromtool(t *testing.T) {
	promtool(t, "check", "rules", "rules.yaml")
	promtool(t, "test", "rules", "rules_test.yaml")
}

// Every alert has a unit test that shows it firing, with its labels and
// annotations, and one that shows it quiet.
func TestEveryAlertIsTested(t *testing.T) {
	f, err := ReadRules()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("rules_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(raw, &tests); err != nil {
		t.Fatal(err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if !fires[r.Alert] || !quiet[r.Alert] {
				t.Errorf("alert %s: rules_test.yaml must show it firing (%t) and quiet (%t)", r.Alert, fires[r.Alert], quiet[r.Alert])
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s: needs a severity label, a summary and a description", r.Alert)
			}
		}
	}
}

// prometheusrule.yaml is generated; this catches a generator that loses
// or changes a rule.
func TestPrometheusRuleHoldsTheRules(t *testing.T) {
	f, err := ReadRules()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("prometheusrule.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var pr struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Metadata   any      `json:"metadata"`
		Spec       RuleFile `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(raw, &pr); err != nil {
		t.Fatal(err)
	}
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" {
		t.Errorf("prometheusrule.yaml is a %s %s, want monitoring.coreos.com/v1 PrometheusRule", pr.APIVersion, pr.Kind)
	}
	if !reflect.DeepEqual(pr.Spec, f) {
		t.Errorf("prometheusrule.yaml's spec differs from rules.yaml: run make generate")
	}
}

func TestDashboard(t *testing.T) {
	d, err := ReadDashboard()
	if err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("the dashboard needs a uid and a title")
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d is taken", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if len(MetricNames(q.Expr)) == 0 {
				t.Errorf("panel %q, query %s names no metric: %s", p.Title, q.RefID, q.Expr)
			}
		}
	}
}

func TestMetricNames(t *testing.T) {
	cases := map[string]struct {
		expr string
		want []string
	}{
		"a counter's rate by a label": {
			expr: `sum by (endpoint) (rate(auth0_api_calls_total{outcome="rate_limited"}[5m])) > 0`,
			want: []string{"auth0_api_calls_total"},
		},
		"a difference of two gauges": {
			expr: "sum(crossplane_managed_resource_exists{gvk=\"a/v1, Kind=B\"})\n - sum(crossplane_managed_resource_ready{gvk=\"a/v1, Kind=B\"}) > 0",
			want: []string{"crossplane_managed_resource_exists", "crossplane_managed_resource_ready"},
		},
		"a quantile over Grafana's interval": {
			expr: `histogram_quantile(0.99, sum by (le) (rate(x_seconds_bucket{name="a{b}"}[$__rate_interval])))`,
			want: []string{"x_seconds_bucket"},
		},
		"keywords, numbers and vector matching": {
			expr: `a_total * 60 > 1e3 and on (job) b unless ignoring (x) c offset 5m or d`,
			want: []string{"a_total", "b", "c", "d"},
		},
		"a string with a metric-like word": {
			expr: `label_replace(up, "dst", "not_a_metric", "src", "(.*)")`,
			want: []string{"up"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := MetricNames(tc.expr); !slices.Equal(got, tc.want) {
				t.Errorf("MetricNames(%q) = %q, want %q", tc.expr, got, tc.want)
			}
		})
	}
}

func TestSelectors(t *testing.T) {
	got, err := Selectors("sum by (endpoint) (rate(auth0_api_calls_total{outcome=\"rate_limited\", endpoint=~\"GET .*\\\\{id}\"}[5m]))\n - up * on (job) group_left x{a!=\"b\"}")
	if err != nil {
		t.Fatal(err)
	}
	want := []Selector{
		{Metric: "auth0_api_calls_total", Matchers: []Matcher{{Label: "outcome", Op: "=", Value: "rate_limited"}, {Label: "endpoint", Op: "=~", Value: `GET .*\{id}`}}},
		{Metric: "up"},
		{Metric: "x", Matchers: []Matcher{{Label: "a", Op: "!=", Value: "b"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Selectors = %+v\nwant %+v", got, want)
	}
	if _, err := Selectors(`x{a="b"`); err == nil {
		t.Error("an unterminated selector is no error")
	}
	// Every query we ship can be read.
	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		if _, err := Selectors(q.Expr); err != nil {
			t.Errorf("%s: %v", q.Where, err)
		}
	}
}
