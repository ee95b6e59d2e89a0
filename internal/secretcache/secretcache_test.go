package secretcache

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

func TestReaderReadsAgainOnlyWhenChanged(t *testing.T) {
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "team-a", Name: "hook"}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: key.Namespace, Name: key.Name,
			Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"token":"dDBr"}}`},
		},
		Data: map[string][]byte{"token": []byte("t0k")},
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	kube := fake.NewClientBuilder().WithScheme(scheme).WithObjects(s).Build()
	directReads := 0
	direct := interceptor.NewClient(kube, interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, k client.ObjectKey, o client.Object, opts ...client.GetOption) error {
		if _, ok := o.(*corev1.Secret); ok {
			directReads++
		}
		return c.Get(ctx, k, o, opts...)
	}})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := New(kube, direct)
	r.now = func() time.Time { return now }

	got := &corev1.Secret{}
	for range 3 {
		if err := r.Get(ctx, key, got); err != nil {
			t.Fatal(err)
		}
	}
	if directReads != 1 || string(got.Data["token"]) != "t0k" {
		t.Fatalf("3 Gets of an unchanged Secret: %d API server reads, token %q; want 1 read and t0k", directReads, got.Data["token"])
	}
	if len(got.Annotations) != 0 {
		t.Errorf("kept annotations (a second copy of the data): %v", got.Annotations)
	}

	// Rotated: the next Get sees the new resource version and reads again.
	s.Data["token"] = []byte("rotated")
	if err := kube.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := r.Get(ctx, key, got); err != nil {
		t.Fatal(err)
	}
	if directReads != 2 || string(got.Data["token"]) != "rotated" {
		t.Errorf("after rotation: %d reads, token %q; want 2 and the rotated value", directReads, got.Data["token"])
	}

	// Unused for longer than idle: forgotten.
	now = now.Add(10 * time.Minute)
	if n := r.Sweep(5 * time.Minute); n != 1 || r.Len() != 0 {
		t.Errorf("Sweep() forgot %d, %d left; want the idle Secret forgotten", n, r.Len())
	}

	// Deleted: NotFound, and nothing kept.
	if err := r.Get(ctx, key, got); err != nil {
		t.Fatal(err)
	}
	if err := kube.Delete(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := r.Get(ctx, key, got); !apierrors.IsNotFound(err) {
		t.Errorf("Get() of a deleted Secret = %v, want NotFound", err)
	}
	if r.Len() != 0 {
		t.Errorf("a deleted Secret is still kept")
	}
}

func TestStripMetadata(t *testing.T) {
	m := Metadata()
	m.SetNamespace("ns")
	m.SetName("n")
	m.SetResourceVersion("7")
	m.SetAnnotations(map[string]string{"big": "x"})
	m.SetLabels(map[string]string{"l": "v", "offer": "true"})
	out, err := StripMetadata("offer")(m)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*metav1.PartialObjectMetadata)
	if got.Name != "n" || got.Namespace != "ns" || got.ResourceVersion != "7" || got.Annotations != nil || len(got.Labels) != 1 || got.Labels["offer"] != "true" {
		t.Errorf("StripMetadata(offer) = %+v, want name, namespace, resource version and the offer label only", got.ObjectMeta)
	}
}

// TestRequireLabel: a Secret without the required label is refused from
// its metadata, before its data is read; one that carries it is read; one
// whose label was removed is refused again.
func TestRequireLabel(t *testing.T) {
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "team-a", Name: "db"}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}, Data: map[string][]byte{"password": []byte("db-pass")}}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	kube := fake.NewClientBuilder().WithScheme(scheme).WithObjects(s).Build()
	directReads := 0
	direct := interceptor.NewClient(kube, interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, k client.ObjectKey, o client.Object, opts ...client.GetOption) error {
		directReads++
		return c.Get(ctx, k, o, opts...)
	}})
	r := New(kube, direct)
	req := RequireLabel{Key: "offer", Value: "true"}

	got := &corev1.Secret{}
	err := r.Get(ctx, key, got, req)
	var no *NotOfferedError
	if !errors.As(err, &no) || directReads != 0 || len(got.Data) != 0 {
		t.Fatalf("Get() of an unlabelled Secret = %v after %d data reads, data %v; want NotOffered and no read", err, directReads, got.Data)
	}
	if strings.Contains(err.Error(), "db-pass") {
		t.Errorf("error holds the value: %v", err)
	}

	s.Labels = map[string]string{"offer": "true"}
	if err := kube.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := r.Get(ctx, key, got, req); err != nil || string(got.Data["password"]) != "db-pass" {
		t.Fatalf("Get() of a labelled Secret = %v, %q", err, got.Data["password"])
	}

	s.Labels = nil
	if err := kube.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := r.Get(ctx, key, got, req); !errors.As(err, &no) || len(got.Data) != 0 {
		t.Errorf("Get() after the label was removed = %v, data %v; want NotOffered", err, got.Data)
	}
}

// TestDirect: a Direct Reader reads the Secret from the API server at every
// Get, so a rotation is seen by the next Get; it keeps nothing; and a
// Secret without the required label is refused from its metadata, its
// data never read.
func TestDirect(t *testing.T) {
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "team-a", Name: "hook"}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}, Data: map[string][]byte{"token": []byte("t0k")}}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	kube := fake.NewClientBuilder().WithScheme(scheme).WithObjects(s).Build()
	dataReads, metaReads := 0, 0
	direct := interceptor.NewClient(kube, interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, k client.ObjectKey, o client.Object, opts ...client.GetOption) error {
		switch o.(type) {
		case *corev1.Secret:
			dataReads++
		case *metav1.PartialObjectMetadata:
			metaReads++
		}
		return c.Get(ctx, k, o, opts...)
	}})
	r := Direct(direct)

	got := &corev1.Secret{}
	for range 2 {
		if err := r.Get(ctx, key, got); err != nil {
			t.Fatal(err)
		}
	}
	s.Data["token"] = []byte("rotated")
	if err := kube.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := r.Get(ctx, key, got); err != nil {
		t.Fatal(err)
	}
	if dataReads != 3 || string(got.Data["token"]) != "rotated" || r.Len() != 0 {
		t.Errorf("3 Gets around a rotation: %d reads, token %q, %d kept; want 3 reads, the rotated value, none kept", dataReads, got.Data["token"], r.Len())
	}

	req := RequireLabel{Key: "offer", Value: "true"}
	dataReads = 0
	var no *NotOfferedError
	if err := r.Get(ctx, key, got, req); !errors.As(err, &no) || dataReads != 0 || metaReads != 1 || len(got.Data) != 0 {
		t.Errorf("Get() of an unlabelled Secret = %v after %d data and %d metadata reads, data %v; want NotOffered from the metadata alone", err, dataReads, metaReads, got.Data)
	}
	s.Labels = map[string]string{"offer": "true"}
	if err := kube.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := r.Get(ctx, key, got, req); err != nil || string(got.Data["token"]) != "rotated" {
		t.Errorf("Get() of a labelled Secret = %v, %q", err, got.Data["token"])
	}
	if err := kube.Delete(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := r.Get(ctx, key, got); !apierrors.IsNotFound(err) {
		t.Errorf("Get() of a deleted Secret = %v, want NotFound", err)
	}
}
