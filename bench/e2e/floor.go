package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The floor (docs/performance.md): the same N composites, of the same
// kind, through the same Crossplane core and the same function binary,
// selecting a Composition whose function input is backend: none, so the
// function validates them and fetches their Secrets as for native but
// composes nothing. Their time to Ready is what the control plane costs
// without a provider and Auth0; bench-e2e reports the whole loop's time
// against it (vs_floor).

var (
	compositionGVR = schema.GroupVersionResource{Group: "apiextensions.crossplane.io", Version: "v1", Resource: "compositions"}
	xrdGVR         = schema.GroupVersionResource{Group: "apiextensions.crossplane.io", Version: "v1", Resource: "compositeresourcedefinitions"}
	revisionGVR    = schema.GroupVersionResource{Group: "apiextensions.crossplane.io", Version: "v1", Resource: "compositionrevisions"}
)

const (
	labelBackend = "auth0.openmcf.org/backend"
	backendNone  = "none"
)

// The XRDs of our packages, namespaced and legacy: a plane installs one.
var xrdNames = []string{"auth0eventstreams.auth0.openmcf.org", "xauth0eventstreams.auth0.openmcf.org"} //nolint:gochecknoglobals // We treat this as a constant.

// floorResult is what the floor batch measured.
type floorResult struct {
	ready  time.Duration
	writes apiWrites
}

// measureFloor runs the floor batch: it installs the floor Composition (a
// copy of the plane's native one with backend: none), applies the same N
// composites selecting it, waits until all are Ready, counts the API
// writes on the way, then deletes them and the Composition.
func (r *run) measureFloor(ctx context.Context) (floorResult, error) {
	var res floorResult
	comp, err := r.floorComposition(ctx)
	if err != nil {
		return res, err
	}
	defer func() {
		_ = r.dyn.Resource(compositionGVR).Delete(context.WithoutCancel(ctx), comp.GetName(), metav1.DeleteOptions{})
	}()
	one := &run{cfg: r.cfg, st: r.st, sim: r.sim, dyn: r.dyn, kube: r.kube, procs: r.procs, secrets: r.secrets}
	one.cfg.label = r.cfg.label + "-floor"
	one.floor = &floorComposition{name: comp.GetName(), legacy: isLegacy(comp)}
	if err := one.setup(ctx); err != nil {
		return res, err
	}
	w0, err := r.writes(ctx)
	if err != nil {
		return res, err
	}
	start := time.Now()
	if err := one.applyAll(ctx); err != nil {
		return res, err
	}
	if err := one.waitReady(ctx, start, nil); err != nil {
		return res, err
	}
	res.ready = time.Since(start)
	w1, err := r.writes(ctx)
	if err != nil {
		return res, err
	}
	res.writes = w1.minus(w0)
	r.logf("floor: all %d Ready (composing nothing, Composition %s) in %.1fs", r.cfg.n, comp.GetName(), res.ready.Seconds())
	r.printWrites("floor: API writes until all Ready", res.writes)
	t := time.Now()
	if err := one.deleteAll(ctx); err != nil {
		return res, err
	}
	if _, _, err := one.waitDeleted(ctx, t); err != nil {
		return res, err
	}
	r.logf("floor: deleted all in %.1fs", time.Since(t).Seconds())
	return res, nil
}

// floorComposition says which Composition floor composites select, and
// how: a claim (legacy) names it in spec.compositionRef, a namespaced
// composite in spec.crossplane.compositionRef.
type floorComposition struct {
	name   string
	legacy bool
}

func isLegacy(comp *unstructured.Unstructured) bool {
	kind, _, _ := unstructured.NestedString(comp.Object, "spec", "compositeTypeRef", "kind")
	return strings.HasPrefix(kind, "X")
}

// selectFloor makes composite u select the floor Composition.
func (f *floorComposition) selectFloor(u *unstructured.Unstructured) {
	path := []string{"spec", "crossplane", "compositionRef"}
	if f.legacy {
		path = []string{"spec", "compositionRef"}
	}
	_ = unstructured.SetNestedStringMap(u.Object, map[string]string{"name": f.name}, path...)
}

// nativeComposition is the Composition our XRD defaults to (the package's
// native one; a plane that ran the e2e tests holds others for the kind).
func (r *run) nativeComposition(ctx context.Context) (*unstructured.Unstructured, error) {
	for _, name := range xrdNames {
		xrd, err := r.dyn.Resource(xrdGVR).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get CompositeResourceDefinition %s: %w", name, err)
		}
		comp, _, _ := unstructured.NestedString(xrd.Object, "spec", "defaultCompositionRef", "name")
		if comp == "" {
			return nil, fmt.Errorf("CompositeResourceDefinition %s names no default Composition", name)
		}
		c, err := r.dyn.Resource(compositionGVR).Get(ctx, comp, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("get Composition %s: %w", comp, err)
		}
		return c, nil
	}
	return nil, fmt.Errorf("none of the CompositeResourceDefinitions %v is installed", xrdNames)
}

// floorComposition applies a copy of the plane's native Composition whose
// every step of our function has backend: none, and waits until core has
// revised it.
func (r *run) floorComposition(ctx context.Context) (*unstructured.Unstructured, error) {
	native, err := r.nativeComposition(ctx)
	if err != nil {
		return nil, err
	}
	steps, _, _ := unstructured.NestedSlice(native.Object, "spec", "pipeline")
	ours := 0
	for _, s := range steps {
		m, _ := s.(map[string]any)
		if in, ok := m["input"].(map[string]any); ok && strings.HasPrefix(fmt.Sprint(in["apiVersion"]), "auth0eventstream.fn.openmcf.org/") {
			in["backend"] = backendNone
			ours++
		}
	}
	if ours == 0 {
		return nil, fmt.Errorf("composition %s has no step of our function", native.GetName())
	}
	spec, _, _ := unstructured.NestedMap(native.Object, "spec")
	spec["pipeline"] = steps
	comp := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": compositionGVR.GroupVersion().String(), "kind": "Composition",
		"metadata": map[string]any{"name": native.GetName() + "-floor", "labels": map[string]any{labelBackend: backendNone}},
		"spec":     spec,
	}}
	if _, err := r.dyn.Resource(compositionGVR).Apply(ctx, comp.GetName(), comp, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return nil, fmt.Errorf("apply Composition %s: %w", comp.GetName(), err)
	}
	// Composites selecting it wait for its revision; that wait is not the
	// floor's.
	err = every(ctx, time.Second, func() (bool, error) {
		revs, err := r.dyn.Resource(revisionGVR).List(ctx, metav1.ListOptions{LabelSelector: "crossplane.io/composition-name=" + comp.GetName()})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil && len(revs.Items) > 0, err
	})
	if err != nil {
		return nil, fmt.Errorf("wait for Composition %s's revision: %w", comp.GetName(), err)
	}
	return comp, nil
}

// apiWrites is what the API server's own metrics say about writes, leases
// left out (leader election renews them on a timer, whatever the
// composites do).
type apiWrites struct {
	// requests are the mutating requests (apiserver_request_total with
	// verb POST, PUT, PATCH, APPLY, DELETE or DELETECOLLECTION, every
	// response code) by "resource[/subresource] VERB": what clients ask,
	// no-op applies and conflicts included.
	requests writeCounts
	// stored are the writes the API server made to etcd
	// (etcd_requests_total with operation create, update or delete) by
	// "resource operation": a request that changes nothing stores nothing.
	stored writeCounts
}

func (w apiWrites) minus(before apiWrites) apiWrites {
	return apiWrites{requests: w.requests.minus(before.requests), stored: w.stored.minus(before.stored)}
}

// writeCounts are counts by resource and verb or operation.
type writeCounts map[string]float64

func (w writeCounts) total() float64 {
	t := 0.0
	for _, v := range w {
		t += v
	}
	return t
}

// events counts those to events: stored in etcd too, but with an hour's
// TTL, and counted apart from the composites' own state.
func (w writeCounts) events() float64 {
	t := 0.0
	for k, v := range w {
		if strings.HasPrefix(k, "events ") {
			t += v
		}
	}
	return t
}

func (w writeCounts) minus(before writeCounts) writeCounts {
	out := writeCounts{}
	for k, v := range w {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func mutating(verb string) bool {
	switch verb {
	case "POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION":
		return true
	}
	return false
}

func storing(operation string) bool {
	switch operation {
	case "create", "update", "delete":
		return true
	}
	return false
}

// writes scrapes the API server's own request counters.
func (r *run) writes(ctx context.Context) (apiWrites, error) {
	b, err := r.kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return apiWrites{}, fmt.Errorf("read the API server's /metrics: %w", err)
	}
	return parseWrites(b), nil
}

func parseWrites(b []byte) apiWrites {
	out := apiWrites{requests: writeCounts{}, stored: writeCounts{}}
	s := bufio.NewScanner(bytes.NewReader(b))
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		m := sample.FindStringSubmatch(s.Text())
		if m == nil || (m[1] != "apiserver_request_total" && m[1] != "etcd_requests_total") {
			continue
		}
		res := label(m[2], "resource")
		if res == "leases" {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			continue
		}
		if m[1] == "etcd_requests_total" {
			if op := label(m[2], "operation"); storing(op) {
				out.stored[res+" "+op] += v
			}
			continue
		}
		verb := label(m[2], "verb")
		if !mutating(verb) {
			continue
		}
		if sub := label(m[2], "subresource"); sub != "" {
			res += "/" + sub
		}
		out.requests[res+" "+verb] += v
	}
	return out
}

// printWrites prints the write requests and stored writes per
// composite, by resource and verb or operation.
func (r *run) printWrites(what string, w apiWrites) {
	n := float64(r.cfg.n)
	r.logf("%s: %.0f write requests (%.2f per composite; apiserver_request_total, mutating verbs), %.0f stored (%.2f per composite; etcd_requests_total create, update, delete); leases left out",
		what, w.requests.total(), w.requests.total()/n, w.stored.total(), w.stored.total()/n)
	for _, c := range []struct {
		name string
		w    writeCounts
	}{{"requests", w.requests}, {"stored", w.stored}} {
		keys := make([]string, 0, len(c.w))
		for k := range c.w {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			return c.w[keys[i]] > c.w[keys[j]] || c.w[keys[i]] == c.w[keys[j]] && keys[i] < keys[j]
		})
		for _, k := range keys {
			fmt.Printf("    %-8s %-52s %7.0f %6.2f per composite\n", c.name, k, c.w[k], c.w[k]/n)
		}
	}
}
