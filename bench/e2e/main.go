// Command e2e measures the whole loop (Crossplane core, the function, the
// provider and a rate-limited Auth0) on a running local control plane (go
// run ./test/e2e/cmd/controlplane up --product): it applies N
// Auth0EventStream composites, waits until all are Ready with
// status.outputs.id, reports Auth0 calls, RunFunction latency, CPU and
// memory, one steady-state poll window, then deletes everything. With
// --soak the simulator injects faults from the start and every composite
// is also updated once. make bench-e2e and make soak run it; it ends with
// one summary line.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/auth0sim"
	"github.com/xp-auth0/auth0-eventstream/test/e2e/controlplane"
)

var (
	xrGVR = schema.GroupVersionResource{Group: "auth0.openmcf.org", Version: "v1", Resource: "auth0eventstreams"}
	pcGVR = schema.GroupVersionResource{Group: "auth0.m.openmcf.org", Version: "v1alpha1", Resource: "providerconfigs"}
	mrGVR = schema.GroupVersionResource{Group: "auth0.m.openmcf.org", Version: "v1alpha1", Resource: "eventstreams"}
)

// secretPrefix marks every webhook token the run makes, so the log search
// finds candidates with one pattern.
const secretPrefix = "benchsecret"

var secretPattern = regexp.MustCompile(secretPrefix + `[0-9a-f]{32}`)

type config struct {
	dir        string
	n          int
	rate       float64
	namespaces int
	soak       bool
	timeout    time.Duration
	label      string
	// providerArgs, when set, are the provider's flags, applied as a user
	// would (sizing.go) over the control plane's.
	providerArgs string
	// terraformArgs, when set, are provider-terraform's flags, applied
	// the same way.
	terraformArgs string
	// backend is native, terraform or both (backends.go).
	backend string
	// window, when set, is the steady-state window instead of one poll.
	window time.Duration
	// settle is how long to wait after all are Ready before the
	// steady-state window.
	settle time.Duration
	// floor runs the floor batch (floor.go) after bench-e2e's own.
	floor bool
}

type run struct {
	cfg     config
	st      *controlplane.State
	sim     *controlplane.SimClient
	dyn     dynamic.Interface
	kube    kubernetes.Interface
	procs   map[string]controlplane.Process
	secrets map[string]bool // every secret value the run used
	mu      sync.Mutex
	res     result
	// floor, when set, is the Composition this run's composites select
	// (the floor batch, floor.go).
	floor *floorComposition
}

func main() {
	var c config
	flag.StringVar(&c.dir, "dir", "_output/bench-e2e", "folder of the running control plane")
	flag.IntVar(&c.n, "n", 1000, "number of Auth0EventStream composites")
	flag.Float64Var(&c.rate, "rate-limit", 50, "the simulator's Management API rate limit, requests per second")
	flag.IntVar(&c.namespaces, "namespaces", 4, "namespaces, each with its own ProviderConfig")
	flag.BoolVar(&c.soak, "soak", false, "inject faults from the start (20% 5xx, 5% hung calls, 2% lost write responses), update every composite once, delete under faults")
	flag.DurationVar(&c.timeout, "timeout", 60*time.Minute, "give up after this long")
	flag.StringVar(&c.providerArgs, "provider-args", "", "size the provider with these flags (e.g. \"--poll=2m --max-reconcile-rate=50\") in a DeploymentRuntimeConfig an ImageConfig selects, over the control plane's own")
	flag.StringVar(&c.terraformArgs, "terraform-args", "", "size provider-terraform (a plane started with --terraform) with these flags the same way (e.g. \"--poll=5m --poll-jitter=10s\")")
	flag.StringVar(&c.backend, "backend", backendNative, "the Composition the composites select: native, terraform (a plane started with --terraform), or both one after the other, side by side")
	flag.DurationVar(&c.window, "window", 0, "count steady-state Auth0 calls over this long instead of one provider poll (+10%); per-poll figures are scaled")
	flag.DurationVar(&c.settle, "settle", 0, "wait this long after all are Ready before the steady-state window (e.g. one --delivery-poll, so that each stream's first delivery-health read, a change written once, falls before it)")
	flag.BoolVar(&c.floor, "floor", true, "bench-e2e (not --soak, one backend): then run the same composites through a Composition that composes nothing, the control plane's floor, and report against it")
	flag.Parse()
	c.label = "bench-e2e"
	if c.soak {
		c.label = "soak"
	}
	if c.backend == backendBoth {
		c.label = "bench-backends"
	}
	if err := c.run(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", c.label, err)
		os.Exit(1)
	}
}

func (c config) run() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	dir, err := filepath.Abs(c.dir)
	if err != nil {
		return err
	}
	st, err := controlplane.Load(dir)
	if err != nil {
		return err
	}
	if !st.Ready || !st.Alive() || !st.Product {
		return fmt.Errorf("no running control plane with our packages in %s: run go run ./test/e2e/cmd/controlplane --dir %s up --product", dir, c.dir)
	}
	sim, err := st.SimClient()
	if err != nil {
		return err
	}
	rc, err := st.RESTConfig()
	if err != nil {
		return err
	}
	rc.QPS, rc.Burst = 200, 400
	r := &run{cfg: c, st: st, sim: sim, procs: processes(st), secrets: map[string]bool{st.Sim.ClientSecret: true}}
	if r.dyn, err = dynamic.NewForConfig(rc); err != nil {
		return err
	}
	if r.kube, err = kubernetes.NewForConfig(rc); err != nil {
		return err
	}
	for _, sz := range c.sizings() {
		restore, err := r.size(ctx, sz)
		if err != nil {
			return err
		}
		defer restore()
	}
	switch c.backend {
	case backendNative, backendTerraform:
		return r.measure(ctx)
	case backendBoth:
	default:
		return fmt.Errorf("--backend %q: want %s, %s or %s", c.backend, backendNative, backendTerraform, backendBoth)
	}
	// The same composites through one backend, then the other (each run
	// deletes its own before the next starts).
	var (
		results []*result
		errs    []error
	)
	for _, b := range []string{backendNative, backendTerraform} {
		one := &run{cfg: c, st: r.st, sim: sim, dyn: r.dyn, kube: r.kube, procs: r.procs, secrets: r.secrets}
		one.cfg.backend, one.cfg.label = b, "bench-"+b
		if err := one.measure(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", b, err))
		}
		results = append(results, &one.res)
	}
	printTable(c.label, results)
	return errors.Join(errs...)
}

// processes finds the API server, etcd, Crossplane core, the function and
// the provider among the control plane's recorded processes by name.
func processes(st *controlplane.State) map[string]controlplane.Process {
	out := map[string]controlplane.Process{}
	for _, p := range st.Processes {
		switch {
		case p.Name == "crossplane", p.Name == "kube-apiserver", p.Name == "etcd":
			out[p.Name] = p
		case strings.Contains(p.Name, "function"):
			out["function"] = p
		case strings.Contains(p.Name, "terraform"):
			out[procProviderTerraform] = p
		case strings.Contains(p.Name, "provider"):
			out[procProvider] = p
		}
	}
	return out
}

func (r *run) logf(format string, args ...any) {
	fmt.Printf("%s: %s\n", r.cfg.label, fmt.Sprintf(format, args...))
}

func (r *run) measure(ctx context.Context) error { //nolint:gocognit // One measurement from start to summary, read top to bottom.
	c := r.cfg
	pk := c.providerKey()
	for _, k := range []string{"crossplane", "function", pk} {
		p, ok := r.procs[k]
		if !ok {
			return fmt.Errorf("the control plane records no %s process (a terraform run needs a plane started with --terraform)", k)
		}
		r.logf("%-10s pid %d (%s), flags: %s", k, p.PID, p.Name, strings.Join(cmdline(p.PID), " "))
	}
	poll := providerPoll(r.procs[pk].PID, pk == procProviderTerraform)
	r.res = result{backend: c.backend, n: c.n, poll: poll}
	if r.res.backend == "" {
		r.res.backend = backendNative
	}
	sctx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	rss := sampleRSS(sctx, r.procs)
	defer func() { r.res.peakRSS = rss.get(pk) }()
	r.logf("N=%d rate limit=%g/s namespaces=%d provider poll=%s soak=%t; machine: %d CPUs", c.n, c.rate, c.namespaces, poll, c.soak, numCPU())

	if err := r.setup(ctx); err != nil {
		return err
	}
	burst := int(math.Ceil(c.rate))
	if err := r.sim.SetRateLimit(ctx, c.rate, burst); err != nil {
		return fmt.Errorf("set the simulator's rate limit: %w", err)
	}
	faults := controlplane.Faults{}
	if c.soak {
		faults = controlplane.Faults{ErrorRate: 0.20, HangRate: 0.05, LostResponseRate: 0.02}
	}
	if err := r.sim.SetFaults(ctx, faults); err != nil {
		return fmt.Errorf("set the simulator's faults: %w", err)
	}
	defer func() { _ = r.sim.SetFaults(context.WithoutCancel(ctx), controlplane.Faults{}) }()
	if err := r.sim.ResetCounters(ctx); err != nil {
		return err
	}

	// Phase 1: apply and wait for Ready.
	cpu0 := r.cpu()
	core0, err := r.coreMetrics(ctx)
	if err != nil {
		r.logf("no metrics from Crossplane core: %v", err)
	}
	w0, err := r.writes(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := r.applyAll(ctx); err != nil {
		return err
	}
	r.logf("applied %d composites in %s", c.n, time.Since(start).Round(100*time.Millisecond))
	if err := r.waitReady(ctx, start, nil); err != nil {
		return err
	}
	ready := time.Since(start)
	cpu1 := r.cpu()
	r.res.ready, r.res.cpuReady = ready, cpu1[pk]-cpu0[pk]
	if l, err := r.listXRs(ctx); err == nil {
		r.res.perStream = readyTimes(l)
	}
	core1, _ := r.coreMetrics(ctx)
	w1, err := r.writes(ctx)
	if err != nil {
		return err
	}
	writes := w1.minus(w0)
	counters, err := r.counters(ctx)
	if err != nil {
		return err
	}
	tokens := counters.TokensIssued
	r.res.tokensToReady = tokens
	need := 2*c.n + c.namespaces
	bound := float64(need) / c.rate
	ratio := ready.Seconds() / bound
	r.logf("all %d Ready with status.outputs.id in %.1fs", c.n, ready.Seconds())
	r.logf("lower bound: (%d creates + %d reads that confirm them + %d tokens, one per ProviderConfig) / %g/s = %.1fs; ratio %.2f (creates only: %.1fs)",
		c.n, c.n, c.namespaces, c.rate, bound, ratio, float64(c.n+c.namespaces)/c.rate)
	r.printCounters("Auth0 calls until all Ready", counters)
	r.printCore("until all Ready", core0, core1)
	r.printWrites("API writes until all Ready", writes)
	r.printCPU("until all Ready", cpu0, cpu1, ready)
	duplicates, err := r.duplicates(ctx)
	if err != nil {
		return err
	}
	r.logf("composites with more than one stream at the simulator: %d", duplicates)
	r.res.duplicates = duplicates

	// Phase 2 (bench-e2e): one steady-state poll window.
	if !c.soak {
		if err := r.pollWindow(ctx, poll); err != nil {
			return err
		}
	}

	// Phase 2 (soak): every composite updated once, under faults.
	if c.soak {
		if err := r.sim.ResetCounters(ctx); err != nil {
			return err
		}
		t := time.Now()
		if err := r.updateAll(ctx); err != nil {
			return err
		}
		if err := r.waitUpdated(ctx, t); err != nil {
			return err
		}
		r.logf("all %d composites updated (subscriptions) at the simulator in %.1fs", c.n, time.Since(t).Seconds())
		uc, err := r.counters(ctx)
		if err != nil {
			return err
		}
		tokens += uc.TokensIssued
		r.printCounters("Auth0 calls during the update", uc)
		d, err := r.duplicates(ctx)
		if err != nil {
			return err
		}
		duplicates = max(duplicates, d)
		r.logf("composites with more than one stream after the update: %d", d)
	}

	// Phase 3: delete everything.
	if err := r.sim.ResetCounters(ctx); err != nil {
		return err
	}
	cpu2 := r.cpu()
	t := time.Now()
	if err := r.deleteAll(ctx); err != nil {
		return err
	}
	gone, leaked, err := r.waitDeleted(ctx, t)
	if err != nil {
		return err
	}
	r.res.leaked = leaked
	dc, err := r.counters(ctx)
	if err != nil {
		return err
	}
	tokens += dc.TokensIssued
	r.logf("deleted all; the simulator held no stream %.1fs after the deletes", gone.Seconds())
	r.printCounters("Auth0 calls during the deletion", dc)
	r.printCPU("during the deletion", cpu2, r.cpu(), time.Since(t))
	if err := r.sim.SetFaults(ctx, controlplane.Faults{}); err != nil {
		return err
	}
	r.logf("tokens issued over the run: %d (%d ProviderConfigs)", tokens, c.namespaces)
	r.printMemory()

	// Phase 4 (bench-e2e): the floor, on the same plane, after the
	// deletes, so that it shares nothing with the batch above but the
	// plane.
	var floor floorResult
	withFloor := c.floor && !c.soak && c.backend != backendBoth && c.label == "bench-e2e"
	if withFloor {
		if floor, err = r.measureFloor(ctx); err != nil {
			return fmt.Errorf("floor: %w", err)
		}
	}

	found, err := r.searchLogs(ctx)
	if err != nil {
		return err
	}
	n := float64(c.n)
	if withFloor {
		fmt.Printf("%s: N=%d ready=%.1fs bound=%.1fs ratio=%.2f floor=%.1fs vs_floor=%.2f writes_per_composite=%.1f floor_writes_per_composite=%.1f stored_writes_per_composite=%.1f floor_stored_writes_per_composite=%.1f duplicates=%d leaked=%d\n",
			c.label, c.n, ready.Seconds(), bound, ratio, floor.ready.Seconds(), ready.Seconds()/floor.ready.Seconds(),
			writes.requests.total()/n, floor.writes.requests.total()/n, writes.stored.total()/n, floor.writes.stored.total()/n, duplicates, leaked)
	} else {
		fmt.Printf("%s: N=%d ready=%.1fs bound=%.1fs ratio=%.2f duplicates=%d leaked=%d\n", c.label, c.n, ready.Seconds(), bound, ratio, duplicates, leaked)
	}
	var errs []error
	if duplicates > 0 {
		errs = append(errs, fmt.Errorf("%d composites have more than one stream", duplicates))
	}
	if leaked > 0 {
		errs = append(errs, fmt.Errorf("%d streams leaked", leaked))
	}
	if found > 0 {
		errs = append(errs, fmt.Errorf("%d log lines hold a secret value", found))
	}
	return errors.Join(errs...)
}

func (r *run) ns(i int) string   { return fmt.Sprintf("%s-%d", r.cfg.label, i%r.cfg.namespaces) }
func (r *run) name(i int) string { return fmt.Sprintf("%s-%05d", r.cfg.label, i) }

func randomSecret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return secretPrefix + hex.EncodeToString(b)
}

// setup creates the namespaces, each with a credentials Secret and a
// namespaced ProviderConfig pointing at the simulator, and one Secret per
// webhook composite.
func (r *run) setup(ctx context.Context) error {
	caPEM, err := os.ReadFile(r.st.Sim.CACert)
	if err != nil {
		return fmt.Errorf("read the simulator's CA: %w", err)
	}
	for i := range r.cfg.namespaces {
		ns := r.ns(i)
		if _, err := r.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", ns, err)
		}
		if err := r.createSecret(ctx, ns, "auth0", nil, map[string]string{
			"domain": r.st.Sim.Domain, "clientId": r.st.Sim.ClientID, "clientSecret": r.st.Sim.ClientSecret, "caCert": string(caPEM),
		}); err != nil {
			return err
		}
		pc := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": pcGVR.GroupVersion().String(), "kind": "ProviderConfig",
			"metadata": map[string]any{"name": "bench", "namespace": ns},
			"spec":     map[string]any{"credentials": map[string]any{"source": "Secret", "secretRef": map[string]any{"name": "auth0"}}},
		}}
		if r.cfg.backend == backendTerraform {
			continue // its composites use the plane's tf.m.upbound.io ClusterProviderConfig
		}
		if _, err := r.dyn.Resource(pcGVR).Namespace(ns).Apply(ctx, "bench", pc, metav1.ApplyOptions{FieldManager: "bench", Force: true}); err != nil {
			return fmt.Errorf("apply ProviderConfig %s/bench: %w", ns, err)
		}
	}
	return r.parallel(ctx, func(ctx context.Context, i int) error {
		if i%3 != 0 {
			return nil
		}
		tok := randomSecret()
		r.mu.Lock()
		r.secrets[tok] = true
		r.mu.Unlock()
		// Offered for webhook authorization, as the provider requires.
		return r.createSecret(ctx, r.ns(i), r.name(i)+"-token", map[string]string{v1alpha1.LabelWebhookSecret: "true"}, map[string]string{"token": tok})
	})
}

func (r *run) createSecret(ctx context.Context, ns, name string, labels, data map[string]string) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}, StringData: data}
	if _, err := r.kube.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create Secret %s/%s: %w", ns, name, err)
		}
		if _, err := r.kube.CoreV1().Secrets(ns).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update Secret %s/%s: %w", ns, name, err)
		}
	}
	return nil
}

// composite is composite i: a third each webhook (token from a Secret),
// EventBridge and Action.
func (r *run) composite(i int) *unstructured.Unstructured {
	spec := map[string]any{
		"name":              r.name(i),
		"subscriptions":     []any{"user.created", "user.deleted"},
		"providerConfigRef": map[string]any{"kind": "ProviderConfig", "name": "bench"},
	}
	switch i % 3 {
	case 0:
		spec["destinationType"] = "webhook"
		spec["webhookConfiguration"] = map[string]any{
			"webhookEndpoint": "https://hooks.example.com/" + r.name(i),
			"webhookAuthorization": map[string]any{
				"method": "bearer", "tokenSecretRef": map[string]any{"name": r.name(i) + "-token", "key": "token"},
			},
		}
	case 1:
		spec["destinationType"] = "eventbridge"
		spec["eventbridgeConfiguration"] = map[string]any{"awsAccountId": "123456789012", "awsRegion": "us-east-1"}
	default:
		spec["destinationType"] = "action"
		spec["actionConfiguration"] = map[string]any{"actionId": "act-" + r.name(i)}
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": xrGVR.GroupVersion().String(), "kind": "Auth0EventStream",
		"metadata": map[string]any{"name": r.name(i), "namespace": r.ns(i)},
		"spec":     spec,
	}}
	r.cfg.selectBackend(u)
	if r.floor != nil {
		r.floor.selectFloor(u)
	}
	return u
}

// parallel runs f for 0..n-1 on 16 workers and returns the first error.
func (r *run) parallel(ctx context.Context, f func(context.Context, int) error) error {
	work := make(chan int)
	errs := make(chan error, r.cfg.n)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range work {
				if err := f(ctx, i); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range r.cfg.n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

func (r *run) applyAll(ctx context.Context) error {
	return r.parallel(ctx, func(ctx context.Context, i int) error {
		if _, err := r.dyn.Resource(xrGVR).Namespace(r.ns(i)).Create(ctx, r.composite(i), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create Auth0EventStream %s/%s: %w", r.ns(i), r.name(i), err)
		}
		return nil
	})
}

func (r *run) updateAll(ctx context.Context) error {
	patch := []byte(`{"spec":{"subscriptions":["user.created","user.deleted","user.updated"]}}`)
	return r.parallel(ctx, func(ctx context.Context, i int) error {
		if _, err := r.dyn.Resource(xrGVR).Namespace(r.ns(i)).Patch(ctx, r.name(i), types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("update Auth0EventStream %s/%s: %w", r.ns(i), r.name(i), err)
		}
		return nil
	})
}

func (r *run) deleteAll(ctx context.Context) error {
	return r.parallel(ctx, func(ctx context.Context, i int) error {
		if err := r.dyn.Resource(xrGVR).Namespace(r.ns(i)).Delete(ctx, r.name(i), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete Auth0EventStream %s/%s: %w", r.ns(i), r.name(i), err)
		}
		return nil
	})
}

func (r *run) listXRs(ctx context.Context) ([]unstructured.Unstructured, error) {
	var out []unstructured.Unstructured
	for i := range r.cfg.namespaces {
		l, err := r.dyn.Resource(xrGVR).Namespace(r.ns(i)).List(ctx, cached)
		if err != nil {
			return nil, fmt.Errorf("list Auth0EventStreams: %w", err)
		}
		out = append(out, l.Items...)
	}
	return out, nil
}

// cached lists from the API server's watch cache (resourceVersion 0)
// instead of a quorum read from etcd: the benchmark's own polling must not
// load the API server it measures.
var cached = metav1.ListOptions{ResourceVersion: "0"} //nolint:gochecknoglobals // We treat this as a constant.

// pollInterval spaces the benchmark's lists: about one list of 100
// composites per second.
func (r *run) pollInterval() time.Duration {
	return min(max(time.Second, time.Duration(r.cfg.n/100)*time.Second), 10*time.Second)
}

// ready is Ready with status.outputs.id, or for the floor, which
// composes no stream, Ready.
func (r *run) ready(u *unstructured.Unstructured) bool {
	id, _, _ := unstructured.NestedString(u.Object, "status", "outputs", "id")
	if id == "" && r.floor == nil {
		return false
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// every calls f every interval until it reports done or ctx ends. An
// error is logged and the call repeated: a loaded API server times out
// lists now and then.
func every(ctx context.Context, interval time.Duration, f func() (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		done, err := f()
		if err != nil {
			fmt.Fprintf(os.Stderr, "retrying after: %v\n", err)
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// waitReady waits until every composite is Ready with status.outputs.id
// (and, with extra, extra holds for it).
func (r *run) waitReady(ctx context.Context, start time.Time, extra func(*unstructured.Unstructured) bool) error {
	last := time.Time{}
	return every(ctx, r.pollInterval(), func() (bool, error) {
		l, err := r.listXRs(ctx)
		if err != nil {
			return false, err
		}
		n := 0
		for i := range l {
			if r.ready(&l[i]) && (extra == nil || extra(&l[i])) {
				n++
			}
		}
		if time.Since(last) >= 10*time.Second || n == r.cfg.n {
			r.logf("%6.1fs %d/%d Ready", time.Since(start).Seconds(), n, r.cfg.n)
			last = time.Now()
		}
		return n == r.cfg.n, nil
	})
}

func (r *run) streams(ctx context.Context) ([]auth0sim.Stream, error) {
	var out []auth0sim.Stream
	if err := r.sim.Do(ctx, http.MethodGet, "/__sim/streams", nil, &out, ""); err != nil {
		return nil, fmt.Errorf("list the simulator's streams: %w", err)
	}
	return out, nil
}

// waitUpdated waits until the simulator holds the new subscriptions for
// every composite and every composite is Ready again.
func (r *run) waitUpdated(ctx context.Context, start time.Time) error {
	last := time.Time{}
	err := every(ctx, 2*time.Second, func() (bool, error) {
		s, err := r.streams(ctx)
		if err != nil {
			return false, err
		}
		n := 0
		for _, st := range s {
			if strings.HasPrefix(st.Name, r.cfg.label+"-") && slices.Contains(st.Subscriptions, "user.updated") {
				n++
			}
		}
		if time.Since(last) >= 10*time.Second || n == r.cfg.n {
			r.logf("%6.1fs %d/%d streams updated at the simulator", time.Since(start).Seconds(), n, r.cfg.n)
			last = time.Now()
		}
		return n >= r.cfg.n, nil
	})
	if err != nil {
		return err
	}
	return r.waitReady(ctx, start, func(u *unstructured.Unstructured) bool {
		s, _, _ := unstructured.NestedStringSlice(u.Object, "status", "outputs", "subscriptions")
		return slices.Contains(s, "user.updated")
	})
}

// duplicates counts composites with more than one stream at the simulator.
func (r *run) duplicates(ctx context.Context) (int, error) {
	s, err := r.streams(ctx)
	if err != nil {
		return 0, err
	}
	byName := map[string]int{}
	for _, st := range s {
		byName[st.Name]++
	}
	d := 0
	for i := range r.cfg.n {
		if byName[r.name(i)] > 1 {
			d++
		}
	}
	return d, nil
}

// waitDeleted waits until no composite or EventStream is left, then counts
// the streams the simulator still holds (leaked). gone is when the
// simulator first held none of the run's streams.
func (r *run) waitDeleted(ctx context.Context, start time.Time) (gone time.Duration, leaked int, err error) {
	last := time.Time{}
	err = every(ctx, r.pollInterval(), func() (bool, error) {
		xrs, err := r.listXRs(ctx)
		if err != nil {
			return false, err
		}
		mrs := 0
		for i := range r.cfg.namespaces {
			gvr := mrGVR
			if r.cfg.backend == backendTerraform {
				gvr = workspaceGVR
			}
			l, err := r.dyn.Resource(gvr).Namespace(r.ns(i)).List(ctx, cached)
			if err != nil {
				return false, fmt.Errorf("list %s: %w", gvr.Resource, err)
			}
			mrs += len(l.Items)
		}
		s, err := r.streams(ctx)
		if err != nil {
			return false, err
		}
		held := r.ours(s)
		if held == 0 && gone == 0 {
			gone = time.Since(start)
		}
		if time.Since(last) >= 10*time.Second {
			r.logf("%6.1fs deleting: %d composites, %d managed resources, %d streams at the simulator", time.Since(start).Seconds(), len(xrs), mrs, held)
			last = time.Now()
		}
		return len(xrs) == 0 && mrs == 0, nil
	})
	if err != nil {
		return 0, 0, err
	}
	s, err := r.streams(ctx)
	if err != nil {
		return 0, 0, err
	}
	leaked = r.ours(s)
	if gone == 0 {
		gone = time.Since(start)
	}
	return gone, leaked, nil
}

func (r *run) ours(s []auth0sim.Stream) int {
	n := 0
	for _, st := range s {
		if strings.HasPrefix(st.Name, r.cfg.label+"-") {
			n++
		}
	}
	return n
}

func (r *run) counters(ctx context.Context) (auth0sim.Counters, error) {
	var c auth0sim.Counters
	if err := r.sim.Do(ctx, http.MethodGet, "/__sim/counters", nil, &c, ""); err != nil {
		return c, fmt.Errorf("read the simulator's counters: %w", err)
	}
	return c, nil
}

func (r *run) printCounters(what string, c auth0sim.Counters) {
	total := 0
	lines := make([]string, 0, len(c.Calls))
	for ep, outcomes := range c.Calls {
		parts := make([]string, 0, len(outcomes))
		for o, n := range outcomes {
			parts = append(parts, fmt.Sprintf("%s=%d", o, n))
			if strings.Contains(ep, "/api/v2/") {
				total += n
			}
		}
		sort.Strings(parts)
		lines = append(lines, fmt.Sprintf("    %-42s %s", ep, strings.Join(parts, " ")))
	}
	sort.Strings(lines)
	r.logf("%s: %d Management API calls, %d tokens issued", what, total, c.TokensIssued)
	for _, l := range lines {
		fmt.Println(l)
	}
}

// pollWindow counts Auth0 calls over one poll interval of converged
// streams (plus a tenth for jitter).
func (r *run) pollWindow(ctx context.Context, poll time.Duration) error {
	if r.cfg.settle > 0 {
		r.logf("steady state: settling for %s first", r.cfg.settle)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.cfg.settle):
		}
	}
	if err := r.sim.ResetCounters(ctx); err != nil {
		return err
	}
	w := poll + poll/10
	if r.cfg.window > 0 {
		w = r.cfg.window
	}
	cpu0 := r.cpu()
	core0, _ := r.coreMetrics(ctx)
	w0, err := r.writes(ctx)
	if err != nil {
		return err
	}
	r.logf("steady state: counting Auth0 calls for one poll window (%s)", w)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(w):
	}
	c, err := r.counters(ctx)
	if err != nil {
		return err
	}
	core1, _ := r.coreMetrics(ctx)
	w1, err := r.writes(ctx)
	if err != nil {
		return err
	}
	gets := c.Total("GET /api/v2/event-streams/{id}")
	total, throttled := 0, 0
	for ep, o := range c.Calls {
		if strings.Contains(ep, "/api/v2/") {
			total += c.Total(ep)
			throttled += o["429"]
		}
	}
	perPoll := float64(total) / float64(r.cfg.n) * poll.Seconds() / w.Seconds()
	pk := r.cfg.providerKey()
	r.res.callsPerPoll = perPoll
	r.res.tokensPerHour = float64(c.TokensIssued) * time.Hour.Seconds() / w.Seconds()
	r.res.cpuSteady, r.res.steady = r.cpu()[pk]-cpu0[pk], w
	r.printCounters("steady-state window", c)
	r.logf("steady state over %s: %d GETs and %d other calls (%d answered 429) for %d streams: %.2f Auth0 calls per stream per %s poll",
		w, gets, total-gets, throttled, r.cfg.n, perPoll, poll)
	// Per composite per hour, the steady-state table of docs/performance.md.
	perHour := func(v float64) float64 { return v / float64(r.cfg.n) * time.Hour.Seconds() / w.Seconds() }
	writes := w1.minus(w0)
	runs := core1.hist[famRunFunction].count - core0.hist[famRunFunction].count
	r.printWrites("steady-state window: API writes", writes)
	r.logf("steady state per composite per hour (over %s): %.1f API write requests, %.1f stored writes (%.1f of them events), %.1f Auth0 calls, %.1f RunFunction calls",
		w, perHour(writes.requests.total()), perHour(writes.stored.total()), perHour(writes.stored.events()), perHour(float64(total)), perHour(runs))
	return nil
}

// cmdline reads a process's arguments.
func cmdline(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// providerPoll is the provider's --poll (provider-terraform's also from
// PROVIDER_TERRAFORM_POLL), or its default.
func providerPoll(pid int, terraform bool) time.Duration {
	args := cmdline(pid)
	for i, a := range args {
		v, ok := strings.CutPrefix(a, "--poll=")
		if !ok && a == "--poll" && i+1 < len(args) {
			v, ok = args[i+1], true
		}
		if d, err := time.ParseDuration(v); ok && err == nil {
			return d
		}
	}
	if !terraform {
		return time.Minute
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid)); err == nil {
		for e := range strings.SplitSeq(string(b), "\x00") {
			if v, ok := strings.CutPrefix(e, "PROVIDER_TERRAFORM_POLL="); ok {
				if d, err := time.ParseDuration(v); err == nil {
					return d
				}
			}
		}
	}
	return 10 * time.Minute
}

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "processor\t:")
}

// cpu reads the CPU seconds of each process with its descendants, those
// that exited included (backends.go, tree).
func (r *run) cpu() map[string]float64 {
	out := map[string]float64{}
	for k, p := range r.procs {
		out[k], _ = tree(p.PID)
	}
	return out
}

func (r *run) printCPU(what string, before, after map[string]float64, d time.Duration) {
	for _, k := range r.measured() {
		s := after[k] - before[k]
		r.logf("CPU %-14s %7.1fs %s (%.0f%% of one core over %.0fs)", k, s, what, 100*s/d.Seconds(), d.Seconds())
	}
}

func (r *run) printMemory() {
	for _, k := range r.measured() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.procs[k].PID))
		if err != nil {
			continue
		}
		var rss, peak string
		for l := range strings.SplitSeq(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 && f[0] == "VmRSS:" {
				rss = f[1]
			}
			if len(f) >= 2 && f[0] == "VmHWM:" {
				peak = f[1]
			}
		}
		kb := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v / 1024 }
		_, now := tree(r.procs[k].PID)
		r.logf("memory %-14s peak RSS %6.1f MiB, now %6.1f MiB (with its descendants now %6.1f MiB)", k, kb(peak), kb(rss), now)
	}
}

// searchLogs looks for every secret value the run used (webhook tokens,
// the Auth0 client secret, the access tokens the simulator issued) in every
// log file of the control plane's folder, and reports each line holding one.
func (r *run) searchLogs(ctx context.Context) (int, error) { //nolint:gocognit // One pass over every log, each kind of line handled where it is read.
	var state auth0sim.State
	if err := r.sim.Do(ctx, http.MethodGet, "/__sim/state", nil, &state, ""); err != nil {
		return 0, fmt.Errorf("read the simulator's state: %w", err)
	}
	var plain []string // not of the secretPattern shape
	for s := range r.secrets {
		if !secretPattern.MatchString(s) {
			plain = append(plain, s)
		}
	}
	for _, t := range state.Tokens {
		plain = append(plain, t.Token)
	}
	var files []string
	err := filepath.WalkDir(r.st.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil //nolint:nilerr // Unreadable parts (an image's root) hold no logs.
		}
		if d.Type().IsRegular() && (strings.HasSuffix(path, ".log") || strings.Contains(path, string(filepath.Separator)+"logs"+string(filepath.Separator))) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	found, lines := 0, 0
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return 0, err
		}
		s := bufio.NewScanner(f)
		s.Buffer(make([]byte, 1<<20), 16<<20)
		for n := 1; s.Scan(); n++ {
			lines++
			l := s.Text()
			hit := ""
			for _, m := range secretPattern.FindAllString(l, -1) {
				if r.secrets[m] {
					hit = "a webhook token"
				}
			}
			for _, p := range plain {
				if p != "" && strings.Contains(l, p) {
					hit = "a credential or access token"
				}
			}
			// Every line counts, the control plane's command-line header of
			// each log too: no secret is passed as a flag.
			if hit != "" {
				found++
				r.logf("SECRET LEAK: %s line %d holds %s", path, n, hit)
			}
		}
		_ = f.Close()
		if err := s.Err(); err != nil {
			return 0, fmt.Errorf("read %s: %w", path, err)
		}
	}
	r.logf("searched %d log files (%d lines) for %d secret values (%d webhook tokens, the client secret, %d access tokens): %d lines hold one",
		len(files), lines, len(r.secrets)+len(state.Tokens), len(r.secrets)-1, len(state.Tokens), found)
	return found, nil
}

// measured lists the processes whose CPU and memory are reported, in that
// order: the API server, etcd, core, the function and this run's provider.
func (r *run) measured() []string {
	return []string{"kube-apiserver", "etcd", "crossplane", "function", r.cfg.providerKey()}
}
