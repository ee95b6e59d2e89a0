package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// What Crossplane core's metrics say about the composites' path through
// it: RunFunction latency (the control plane runs the function with its
// own metrics off, so core's view, gRPC and TLS included), and for the
// composite controller of our XRD how long reconciles take, how long
// composites wait in its queue, and how reconciles ended. Together they
// tell whether core is short of workers (long queue waits) or slow per
// reconcile.

// histogram is one metric family summed over the series kept: cumulative
// counts by upper bound.
type histogram struct {
	buckets map[float64]float64
	count   float64
}

// coreSnapshot is one scrape of core's /metrics.
type coreSnapshot struct {
	hist map[string]histogram
	// results counts composite reconciles by result (success, error,
	// requeue, requeue_after).
	results map[string]float64
}

// Families read, each with the series of our composite kind only (where
// the family is per controller).
const (
	famRunFunction = "function_run_function_seconds"
	famReconcile   = "controller_runtime_reconcile_time_seconds"
	famQueueWait   = "workqueue_queue_duration_seconds"
	compositeKind  = "auth0eventstreams.auth0.openmcf.org"
)

var sample = regexp.MustCompile(`^([a-z_]+)(?:\{(.*)\})? ([0-9.e+-]+|NaN|\+Inf)$`)

func (r *run) coreMetrics(ctx context.Context) (coreSnapshot, error) {
	snap := coreSnapshot{hist: map[string]histogram{}, results: map[string]float64{}}
	port, ok := r.st.Ports["crossplane-metrics"]
	if !ok {
		return snap, errors.New("no crossplane-metrics port recorded")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/metrics", port), nil)
	if err != nil {
		return snap, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return snap, err
	}
	defer func() { _ = resp.Body.Close() }() // Read to the end below; nothing to do if closing fails.
	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		m := sample.FindStringSubmatch(s.Text())
		if m == nil {
			continue
		}
		name, labels := m[1], m[2]
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			continue
		}
		if name == "controller_runtime_reconcile_total" && strings.Contains(labels, compositeKind) {
			snap.results[label(labels, "result")] += v
			continue
		}
		for _, fam := range []string{famRunFunction, famReconcile, famQueueWait} {
			if fam != famRunFunction && !strings.Contains(labels, compositeKind) {
				continue
			}
			snap.add(fam, name, labels, v)
		}
	}
	return snap, s.Err()
}

func (c coreSnapshot) add(fam, name, labels string, v float64) {
	h, ok := c.hist[fam]
	if !ok {
		h = histogram{buckets: map[float64]float64{}}
	}
	switch name {
	case fam + "_bucket":
		le := math.Inf(1)
		if l := label(labels, "le"); l != "+Inf" {
			var err error
			if le, err = strconv.ParseFloat(l, 64); err != nil {
				return
			}
		}
		h.buckets[le] += v
	case fam + "_count":
		h.count += v
	default:
		return
	}
	c.hist[fam] = h
}

func label(labels, key string) string {
	_, rest, ok := strings.Cut(labels, key+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// quantile interpolates linearly within the bucket holding q of the
// observations between two snapshots.
func quantile(before, after histogram, q float64) float64 {
	les := make([]float64, 0, len(after.buckets))
	for le := range after.buckets {
		les = append(les, le)
	}
	sort.Float64s(les)
	total := after.count - before.count
	if total <= 0 {
		return math.NaN()
	}
	want, prevLE, prevN := q*total, 0.0, 0.0
	for _, le := range les {
		n := after.buckets[le] - before.buckets[le]
		if n >= want {
			if math.IsInf(le, 1) {
				return prevLE
			}
			if n == prevN {
				return le
			}
			return prevLE + (le-prevLE)*(want-prevN)/(n-prevN)
		}
		prevLE, prevN = le, n
	}
	return math.NaN()
}

func (r *run) printCore(what string, before, after coreSnapshot) {
	for _, f := range []struct{ fam, title string }{
		{famRunFunction, "RunFunction (Crossplane core's function_run_function_seconds)"},
		{famReconcile, "composite reconciles in core (" + famReconcile + ")"},
		{famQueueWait, "composites waiting in core's queue (" + famQueueWait + ")"},
	} {
		b, a := before.hist[f.fam], after.hist[f.fam]
		n := a.count - b.count
		r.logf("%s %s: %.0f (%.2f per composite), p50 %.1f ms, p99 %.1f ms", f.title, what, n, n/float64(r.cfg.n),
			1000*quantile(b, a, 0.5), 1000*quantile(b, a, 0.99))
	}
	results := make([]string, 0, len(after.results))
	for k, v := range after.results {
		results = append(results, fmt.Sprintf("%s=%.0f", k, v-before.results[k]))
	}
	sort.Strings(results)
	r.logf("composite reconciles in core %s by result: %s", what, strings.Join(results, " "))
}
