//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xp-auth0/auth0-eventstream/monitoring"
	"github.com/xp-auth0/auth0-eventstream/test/e2e/controlplane"
)

// TestMonitoringNamesExportedSeries: every series the shipped dashboard
// and alerts select (monitoring/) is exported by the provider or
// Crossplane core on this plane once a stream is Ready and its delivery
// health was read twice: each metric name, each label a query names, and
// the value of each label that says whose series it is (the managed
// resource's kind, the controller, the function package). A renamed
// metric or label upstream or here fails this test instead of leaving a
// panel empty or an alert silent.
func TestMonitoringNamesExportedSeries(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "monitoring")
	const name = "monitored-hook"
	mustKubectl(t, fmt.Appendf(nil, `apiVersion: v1
kind: Secret
metadata:
  name: hook-token
  namespace: %[1]s
  labels: {auth0.m.openmcf.org/webhook-secret: "true"}
stringData:
  token: monitoring-token
---
apiVersion: auth0.openmcf.org/v1
kind: Auth0EventStream
metadata:
  name: %[2]s
  namespace: %[1]s
spec:
  destinationType: webhook
  subscriptions: [user.created]
  webhookConfiguration:
    webhookEndpoint: https://hooks.example.com/monitoring
    webhookAuthorization:
      method: bearer
      tokenSecretRef: {name: hook-token, key: token}
`, ns, name), "apply", "-f", "-")
	id, _ := outputs(waitReady(t, ns, name))["id"].(string)

	queries, err := monitoring.Queries()
	if err != nil {
		t.Fatal(err)
	}
	// Two delivery-health reads of the stream (the read interval's
	// histogram needs two), each at most a delivery poll and a provider
	// poll apart, and the state metrics' own poll.
	within := 2*(controlplane.DeliveryPoll+controlplane.ProviderPoll) + loopWithin
	eventually(t, within, "every series the dashboard and the alerts select, exported", func(ctx context.Context) error {
		series, err := scrapePlane(ctx)
		if err != nil {
			return err
		}
		var missing []string
		for _, q := range queries {
			sels, err := monitoring.Selectors(q.Expr)
			if err != nil {
				t.Fatalf("%s: %v", q.Where, err)
			}
			for _, s := range sels {
				if !exported(series, s) {
					missing = append(missing, fmt.Sprintf("%s: %s%v", q.Where, s.Metric, s.Matchers))
				}
			}
		}
		if len(missing) > 0 {
			return errors.New("not exported:\n" + strings.Join(missing, "\n"))
		}
		return nil
	})
	deleteAndVerify(t, ns, name, id)
}

// identity labels say whose series it is: a query's value for them must
// match an exported series. Other labels (an outcome, a reason) take
// values that appear only when that happens, so only their name is held
// to the exported series.
var identity = []string{"gvk", "controller", "name", "function_package", "function_name"}

func exported(series map[string][]map[string]string, s monitoring.Selector) bool {
	for _, labels := range series[s.Metric] {
		ok := true
		for _, m := range s.Matchers {
			v, has := labels[m.Label]
			switch {
			case !has && (m.Op == "=" || m.Op == "=~") && m.Value != "":
				ok = false
			case !slices.Contains(identity, m.Label):
			case m.Op == "=":
				ok = ok && v == m.Value
			case m.Op == "=~":
				ok = ok && regexp.MustCompile("^(?:"+m.Value+")$").MatchString(v)
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// scrapePlane reads /metrics of the provider's running revisions and of
// Crossplane core: every series by metric name, with its labels.
func scrapePlane(ctx context.Context) (map[string][]map[string]string, error) {
	st, err := controlplane.Load(*dir)
	if err != nil {
		return nil, err
	}
	var addrs []string
	for _, rt := range st.Runtime {
		if rt.Kind != "Provider" || rt.Package != controlplane.ProviderName {
			continue
		}
		for _, a := range rt.Args {
			if v, ok := strings.CutPrefix(a, "--metrics-bind-address="); ok {
				addrs = append(addrs, v)
			}
		}
	}
	if len(addrs) == 0 {
		return nil, errors.New("the plane records no running provider revision with a metrics address")
	}
	addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", st.Ports["crossplane-metrics"]))
	series := map[string][]map[string]string{}
	for _, a := range addrs {
		if err := scrape(ctx, "http://"+a+"/metrics", series); err != nil {
			return nil, err
		}
	}
	return series, nil
}

// providerSum is the sum of the provider's samples of metric whose labels
// include want, over its running revisions.
func providerSum(ctx context.Context, metric string, want map[string]string) (float64, error) {
	st, err := controlplane.Load(*dir)
	if err != nil {
		return 0, err
	}
	var urls []string
	for _, rt := range st.Runtime {
		if rt.Kind != "Provider" || rt.Package != controlplane.ProviderName {
			continue
		}
		for _, a := range rt.Args {
			if v, ok := strings.CutPrefix(a, "--metrics-bind-address="); ok {
				urls = append(urls, "http://"+v+"/metrics")
			}
		}
	}
	if len(urls) == 0 {
		return 0, errors.New("the plane records no running provider revision with a metrics address")
	}
	sum := 0.0
	for _, url := range urls {
		values := map[string][]map[string]string{}
		if err := scrape(ctx, url, values); err != nil {
			return 0, err
		}
	sample:
		for _, labels := range values[metric] {
			for k, v := range want {
				if labels[k] != v {
					continue sample
				}
			}
			f, err := strconv.ParseFloat(labels[sampleValue], 64)
			if err != nil {
				return 0, fmt.Errorf("%s %v: %w", metric, labels, err)
			}
			sum += f
		}
	}
	return sum, nil
}

// sampleValue is the key under which scrape keeps a sample's value among
// its labels (not a valid label name, so no label shadows it).
const sampleValue = "@value"

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

func scrape(ctx context.Context, url string, into map[string][]map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("scrape %s: %w", url, err)
	}
	defer rsp.Body.Close()
	if rsp.StatusCode != http.StatusOK {
		return fmt.Errorf("scrape %s: %s", url, rsp.Status)
	}
	sc := bufio.NewScanner(rsp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		m := sampleLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		labels := map[string]string{}
		for _, p := range labelPair.FindAllStringSubmatch(m[2], -1) {
			labels[p[1]] = p[2]
		}
		labels[sampleValue] = m[3]
		into[m[1]] = append(into[m[1]], labels)
	}
	return sc.Err()
}
