// Package monitoring holds what a platform team imports to watch
// auth0-eventstream: a Grafana dashboard (dashboard.json) and Prometheus
// alerts (rules.yaml, and the same as a PrometheusRule in
// prometheusrule.yaml), and reads the metric names their queries use, so
// tests can hold them to what the provider, the function and Crossplane
// export.
package monitoring

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	_ "embed"
)

var (
	//go:embed dashboard.json
	dashboardJSON []byte
	//go:embed rules.yaml
	rulesYAML []byte
)

// Query is a PromQL expression and where it is used.
type Query struct {
	// Where names the panel or alert.
	Where string
	Expr  string
}

// Dashboard is what a test reads of dashboard.json.
type Dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []Panel `json:"panels"`
}

// Panel is one panel of the dashboard.
type Panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// RuleFile is a Prometheus rule file.
type RuleFile struct {
	Groups []RuleGroup `json:"groups"`
}

// RuleGroup is a group of alerting rules.
type RuleGroup struct {
	Name  string `json:"name"`
	Rules []Rule `json:"rules"`
}

// Rule is an alerting rule.
type Rule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ReadDashboard parses the embedded dashboard.
func ReadDashboard() (Dashboard, error) {
	var d Dashboard
	if err := json.Unmarshal(dashboardJSON, &d); err != nil {
		return d, fmt.Errorf("dashboard.json: %w", err)
	}
	return d, nil
}

// ReadRules parses the embedded rule file.
func ReadRules() (RuleFile, error) {
	var f RuleFile
	if err := yaml.UnmarshalStrict(rulesYAML, &f); err != nil {
		return f, fmt.Errorf("rules.yaml: %w", err)
	}
	return f, nil
}

// Queries are every expression of the dashboard and the alerts.
func Queries() ([]Query, error) {
	d, err := ReadDashboard()
	if err != nil {
		return nil, err
	}
	f, err := ReadRules()
	if err != nil {
		return nil, err
	}
	var qs []Query
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			qs = append(qs, Query{Where: fmt.Sprintf("dashboard panel %q (%s)", p.Title, t.RefID), Expr: t.Expr})
		}
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			qs = append(qs, Query{Where: "alert " + r.Alert, Expr: r.Expr})
		}
	}
	return qs, nil
}

// Lexical parts of PromQL that are not metric names.
var (
	quoted   = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	braces   = regexp.MustCompile(`\{[^{}]*\}`)
	ranges   = regexp.MustCompile(`\[[^\[\]]*\]`)
	grouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	ident    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	// PromQL keywords, never metric names.
	notMetric = []string{"and", "or", "unless", "bool", "offset", "inf", "nan", "Inf", "NaN", "by", "without", "on", "ignoring", "group_left", "group_right"} //nolint:gochecknoglobals // We treat this as a constant.
)

// MetricNames are the metric names expr selects: identifiers that are not
// functions, aggregations, keywords, label names or Grafana variables.
func MetricNames(expr string) []string {
	s := quoted.ReplaceAllString(expr, `""`)
	s = braces.ReplaceAllString(s, " ")
	s = ranges.ReplaceAllString(s, " ")
	s = grouping.ReplaceAllString(s, " ")
	var names []string
	for _, loc := range ident.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		rest := strings.TrimLeft(s[loc[1]:], " \t\n")
		switch {
		case strings.HasPrefix(rest, "("): // a function or an aggregation
		case loc[0] > 0 && (s[loc[0]-1] == '$' || (s[loc[0]-1] >= '0' && s[loc[0]-1] <= '9')):
			// a Grafana variable, or a number's exponent or unit
		case slices.Contains(notMetric, name):
		default:
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	return names
}

// Selector is a metric name and the label matchers a query puts on it.
type Selector struct {
	Metric   string
	Matchers []Matcher
}

// Matcher is one label matcher: Op is =, !=, =~ or !~.
type Matcher struct {
	Label, Op, Value string
}

// Selectors are the series selectors of expr, with their matchers.
func Selectors(expr string) ([]Selector, error) {
	names := MetricNames(expr)
	var out []Selector
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			loc := quoted.FindStringIndex(expr[i:])
			if loc == nil || loc[0] != 0 {
				return nil, fmt.Errorf("unterminated string at %d in %q", i, expr)
			}
			i += loc[1]
		case c == '[':
			// A range or subquery: a duration, never a metric.
			end := strings.IndexByte(expr[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("unterminated range at %d in %q", i, expr)
			}
			i += end + 1
		case c == '{':
			// Braces after no metric name: a selector by labels alone.
			ms, n, err := matchers(expr[i:])
			if err != nil {
				return nil, err
			}
			out = append(out, Selector{Matchers: ms})
			i += n
		case ident.MatchString(string(c)) && (i == 0 || !isIdentByte(expr[i-1])):
			loc := ident.FindStringIndex(expr[i:])
			name := expr[i : i+loc[1]]
			i += loc[1]
			if !slices.Contains(names, name) {
				continue
			}
			s := Selector{Metric: name}
			rest := strings.TrimLeft(expr[i:], " \t\n")
			if strings.HasPrefix(rest, "{") {
				i = len(expr) - len(rest)
				ms, n, err := matchers(rest)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				s.Matchers = ms
				i += n
			}
			out = append(out, s)
		default:
			i++
		}
	}
	return out, nil
}

func isIdentByte(b byte) bool {
	return b == '_' || b == ':' || b == '$' || b == '.' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
}

var matcherRE = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")\s*,?`)

// matchers parses "{l="v", ...}" at the start of s and says how much of s
// it took.
func matchers(s string) ([]Matcher, int, error) {
	var out []Matcher
	i := 1
	for {
		rest := s[i:]
		if t := strings.TrimLeft(rest, " \t\n"); strings.HasPrefix(t, "}") {
			return out, i + len(rest) - len(t) + 1, nil
		}
		m := matcherRE.FindStringSubmatch(rest)
		if m == nil {
			return nil, 0, fmt.Errorf("cannot read a label matcher in %q", s)
		}
		v, err := strconv.Unquote(m[3])
		if err != nil {
			return nil, 0, fmt.Errorf("label %s: %w", m[1], err)
		}
		out = append(out, Matcher{Label: m[1], Op: m[2], Value: v})
		i += len(m[0])
	}
}
