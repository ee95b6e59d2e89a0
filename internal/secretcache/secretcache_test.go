package secretcache

import (
	"context"
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
	m.SetLabels(map[string]string{"l": "v"})
	out, err := StripMetadata(m)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*metav1.PartialObjectMetadata)
	if got.Name != "n" || got.Namespace != "ns" || got.ResourceVersion != "7" || got.Annotations != nil || got.Labels != nil {
		t.Errorf("StripMetadata() = %+v, want name, namespace and resource version only", got.ObjectMeta)
	}
}
