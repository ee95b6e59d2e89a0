package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/xp-auth0/auth0-eventstream/test/e2e/controlplane"
)

// The backends a run can measure (docs/terraform.md): native composes an
// EventStream our provider reconciles; terraform a provider-terraform
// Workspace (OpenTofu with terraform-provider-auth0). --backend both runs
// the same N composites through one, then the other, on the same control
// plane and simulator, and prints them side by side (make bench-backends).
const (
	backendNative    = "native"
	backendTerraform = "terraform"
	backendBoth      = "both"
)

// Process keys: provider is ours, providerTerraform provider-terraform
// (the process the control plane records, with every descendant: the
// terraform commands and their plugin processes).
const (
	procProvider          = "provider"
	procProviderTerraform = "provider-terraform"
)

var workspaceGVR = schema.GroupVersionResource{Group: "tf.m.upbound.io", Version: "v1beta1", Resource: "workspaces"}

// providerKey is the process that reconciles this run's backend.
func (c config) providerKey() string {
	if c.backend == backendTerraform {
		return procProviderTerraform
	}
	return procProvider
}

// selectBackend makes composite u select the backend's Composition. The
// terraform composites name no ProviderConfig: the Composition's default,
// the plane's tf.m.upbound.io ClusterProviderConfig auth0, holds the
// simulator's credentials.
func (c config) selectBackend(u *unstructured.Unstructured) {
	if c.backend != backendTerraform {
		return
	}
	unstructured.RemoveNestedField(u.Object, "spec", "providerConfigRef")
	_ = unstructured.SetNestedStringMap(u.Object, map[string]string{"auth0.openmcf.org/backend": "terraform"},
		"spec", "crossplane", "compositionSelector", "matchLabels")
}

// result is what a run measured, per stream where it says so.
type result struct {
	backend string
	n       int
	// ready is from the first apply until every composite was Ready;
	// perStream the time each took (Ready's last transition minus its
	// creation), sorted.
	ready     time.Duration
	perStream []time.Duration
	// poll is the provider's poll interval; callsPerPoll the Management
	// API calls per stream per poll, and tokensPerHour the Management API tokens
	// issued per hour (all streams), in the steady-state window.
	poll          time.Duration
	callsPerPoll  float64
	tokensPerHour float64
	// Tokens issued from the first apply until all were Ready.
	tokensToReady int
	// CPU seconds of the provider (with its children) until all Ready and
	// in the steady-state window; its peak RSS (with its children).
	cpuReady, cpuSteady float64
	steady              time.Duration
	peakRSS             float64 // MiB
	duplicates, leaked  int
}

func (res *result) quantile(q float64) time.Duration {
	if len(res.perStream) == 0 {
		return 0
	}
	return res.perStream[min(len(res.perStream)-1, int(math.Ceil(q*float64(len(res.perStream))))-1)]
}

// readyTimes reads each composite's time from creation to Ready.
func readyTimes(l []unstructured.Unstructured) []time.Duration {
	var out []time.Duration
	for i := range l {
		conds, _, _ := unstructured.NestedSlice(l[i].Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] != "Ready" || m["status"] != "True" {
				continue
			}
			s, _ := m["lastTransitionTime"].(string)
			if t, err := time.Parse(time.RFC3339, s); err == nil {
				out = append(out, t.Sub(l[i].GetCreationTimestamp().Time))
			}
		}
	}
	slices.Sort(out)
	return out
}

// procStat holds the fields of /proc/PID/stat a process tree is summed
// from.
type procStat struct {
	ppid int
	// cpu is utime+stime+cutime+cstime in seconds: the process's own and
	// that of the children it waited for (a terraform command and its
	// plugins, once they exit).
	cpu float64
	rss float64 // MiB
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 22 {
		return procStat{}, false
	}
	// Fields after the name: ppid is the 2nd, utime, stime, cutime and
	// cstime the 12th to 15th, rss (pages) the 22nd.
	num := func(i int) float64 { v, _ := strconv.ParseFloat(f[i], 64); return v }
	return procStat{
		ppid: int(num(1)),
		cpu:  (num(11) + num(12) + num(13) + num(14)) / clockTicks,
		rss:  num(21) * float64(os.Getpagesize()) / (1 << 20),
	}, true
}

// tree sums CPU and RSS over pid and its live descendants.
func tree(pid int) (cpu, rss float64) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0
	}
	stats := map[int]procStat{}
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if s, ok := readStat(p); ok {
			stats[p] = s
			children[s.ppid] = append(children[s.ppid], p)
		}
	}
	for todo := []int{pid}; len(todo) > 0; {
		p := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		s, ok := stats[p]
		if !ok {
			continue
		}
		cpu += s.cpu
		rss += s.rss
		todo = append(todo, children[p]...)
	}
	return cpu, rss
}

// rssSampler keeps the peak RSS of each process tree, sampled every second.
type rssSampler struct {
	mu   sync.Mutex
	peak map[string]float64
}

func sampleRSS(ctx context.Context, procs map[string]controlplane.Process) *rssSampler {
	s := &rssSampler{peak: map[string]float64{}}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			for k, p := range procs {
				_, rss := tree(p.PID)
				s.mu.Lock()
				s.peak[k] = max(s.peak[k], rss)
				s.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) get(k string) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak[k]
}

// printTable prints the backends side by side and the summary line.
func printTable(label string, rs []*result) {
	row := func(name string, f func(*result) string) {
		fmt.Printf("%s: %-52s", label, name)
		for _, r := range rs {
			fmt.Printf(" %18s", f(r))
		}
		fmt.Println()
	}
	row("", func(r *result) string { return r.backend })
	row("streams", func(r *result) string { return strconv.Itoa(r.n) })
	row("apply to all Ready (s)", func(r *result) string { return fmt.Sprintf("%.1f", r.ready.Seconds()) })
	row("apply to Ready per stream p50 / p90 / max (s)", func(r *result) string {
		return fmt.Sprintf("%.0f / %.0f / %.0f", r.quantile(0.5).Seconds(), r.quantile(0.9).Seconds(), r.quantile(1).Seconds())
	})
	row("provider poll", func(r *result) string { return r.poll.String() })
	row("Management API calls per stream per poll", func(r *result) string { return fmt.Sprintf("%.2f", r.callsPerPoll) })
	row("Management API tokens fetched per hour, steady (all streams)", func(r *result) string { return fmt.Sprintf("%.0f", r.tokensPerHour) })
	row("Management API tokens fetched per hour per stream, steady", func(r *result) string { return fmt.Sprintf("%.2f", r.tokensPerHour/float64(r.n)) })
	row("Management API tokens fetched, apply to all Ready", func(r *result) string { return strconv.Itoa(r.tokensToReady) })
	row("provider CPU s until all Ready (per stream)", func(r *result) string {
		return fmt.Sprintf("%.1f (%.3f)", r.cpuReady, r.cpuReady/float64(r.n))
	})
	row("provider CPU s per stream per hour, steady", func(r *result) string {
		return fmt.Sprintf("%.2f", r.cpuSteady/float64(r.n)*time.Hour.Seconds()/r.steady.Seconds())
	})
	row("provider peak RSS MiB (per stream)", func(r *result) string {
		return fmt.Sprintf("%.0f (%.2f)", r.peakRSS, r.peakRSS/float64(r.n))
	})
	row("duplicates / leaked streams", func(r *result) string { return fmt.Sprintf("%d / %d", r.duplicates, r.leaked) })
	parts := make([]string, 0, 1+5*len(rs))
	parts = append(parts, fmt.Sprintf("%s: N=%d", label, rs[0].n))
	for _, r := range rs {
		b := r.backend
		parts = append(parts,
			fmt.Sprintf("%s_ready=%.1fs", b, r.ready.Seconds()),
			fmt.Sprintf("%s_calls_per_poll=%.2f", b, r.callsPerPoll),
			fmt.Sprintf("%s_tokens_per_hour=%.0f", b, r.tokensPerHour),
			fmt.Sprintf("%s_cpu=%.1fs", b, r.cpuReady+r.cpuSteady),
			fmt.Sprintf("%s_rss=%.0fMiB", b, r.peakRSS))
	}
	fmt.Println(strings.Join(parts, " "))
}
