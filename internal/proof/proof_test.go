package proof

import (
	"context"
	"strings"
	"sync"
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

func key(t *testing.T, b byte) Key {
	t.Helper()
	k, err := NewKey([]byte(strings.Repeat(string(rune(b)), KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignVerify(t *testing.T) {
	k, other := key(t, 'a'), key(t, 'b')
	p := k.Sign("stream", "uid-1", "tenant.eu.auth0.com", "est_1")
	if !k.Verify(p, "stream", "uid-1", "tenant.eu.auth0.com", "est_1") {
		t.Fatal("Verify() of its own proof = false")
	}
	for name, ok := range map[string]bool{
		"other key":       other.Verify(p, "stream", "uid-1", "tenant.eu.auth0.com", "est_1"),
		"other kind":      k.Verify(p, "replaced", "uid-1", "tenant.eu.auth0.com", "est_1"),
		"other resource":  k.Verify(p, "stream", "uid-2", "tenant.eu.auth0.com", "est_1"),
		"other tenant":    k.Verify(p, "stream", "uid-1", "evil.eu.auth0.com", "est_1"),
		"other stream":    k.Verify(p, "stream", "uid-1", "tenant.eu.auth0.com", "est_2"),
		"fields shifted":  k.Verify(k.Sign("stream", "uid-1t", "enant.eu.auth0.com", "est_1"), "stream", "uid-1", "tenant.eu.auth0.com", "est_1"),
		"empty proof":     k.Verify("", "stream", "uid-1", "tenant.eu.auth0.com", "est_1"),
		"not base64":      k.Verify("!!!", "stream", "uid-1", "tenant.eu.auth0.com", "est_1"),
		"zero key":        Key{}.Verify(p, "stream", "uid-1", "tenant.eu.auth0.com", "est_1"),
		"truncated proof": k.Verify(p[:len(p)-2], "stream", "uid-1", "tenant.eu.auth0.com", "est_1"),
	} {
		if ok {
			t.Errorf("Verify() with %s = true", name)
		}
	}
	if _, err := NewKey([]byte("short")); err == nil {
		t.Error("NewKey() accepted 5 bytes")
	}
	if strings.Contains(k.String()+k.GoString(), "aaaa") {
		t.Error("the key is formatted")
	}
}

func scheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLoadOrCreate: the first start makes the key, later starts read it,
// and two replicas racing to make it end up with the same key.
func TestLoadOrCreate(t *testing.T) {
	ctx := context.Background()
	kube := fake.NewClientBuilder().WithScheme(scheme(t)).Build()
	first, err := LoadOrCreate(ctx, kube, "crossplane-system")
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreate(ctx, kube, "crossplane-system")
	if err != nil {
		t.Fatal(err)
	}
	p := first.Key.Sign("k", "f")
	if !again.Key.Verify(p, "k", "f") {
		t.Error("a second start has another key")
	}
	if first.LegacyRecorded {
		t.Error("a new key says legacy ownership is recorded")
	}

	// Two replicas: both see no Secret, both create; the loser reads.
	race := fake.NewClientBuilder().WithScheme(scheme(t)).Build()
	var gets sync.WaitGroup
	gets.Add(2)
	racing := interceptor.NewClient(race, interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, k client.ObjectKey, o client.Object, opts ...client.GetOption) error {
		err := c.Get(ctx, k, o, opts...)
		if apierrors.IsNotFound(err) {
			gets.Done()
			gets.Wait() // both miss before either creates
		}
		return err
	}})
	stores := make([]*Store, 2)
	errs := make([]error, 2)
	var done sync.WaitGroup
	for i := range 2 {
		done.Go(func() { stores[i], errs[i] = LoadOrCreate(ctx, racing, "crossplane-system") })
	}
	done.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("LoadOrCreate() errors = %v", errs)
	}
	if !stores[1].Key.Verify(stores[0].Key.Sign("k", "f"), "k", "f") {
		t.Error("racing replicas hold different keys")
	}
}

func TestLegacyRecorded(t *testing.T) {
	ctx := context.Background()
	made := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "crossplane-system", Name: SecretName, CreationTimestamp: metav1.Time{Time: made}},
		Data:       map[string][]byte{SecretKey: []byte(strings.Repeat("k", KeySize))},
	}
	kube := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(s).Build()
	st, err := LoadOrCreate(ctx, kube, "crossplane-system")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Created.Equal(made) || st.LegacyRecorded {
		t.Fatalf("Store = created %s, legacy recorded %v", st.Created, st.LegacyRecorded)
	}
	if err := st.MarkLegacyRecorded(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreate(ctx, kube, "crossplane-system")
	if err != nil || !again.LegacyRecorded {
		t.Errorf("after MarkLegacyRecorded: %v, legacy recorded %v", err, again != nil && again.LegacyRecorded)
	}

	bad := s.DeepCopy()
	bad.Name, bad.ResourceVersion = SecretName, ""
	bad.Data[SecretKey] = []byte("short")
	broken := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(bad).Build()
	if _, err := LoadOrCreate(ctx, broken, "crossplane-system"); err == nil || !strings.Contains(err.Error(), types.NamespacedName{Namespace: "crossplane-system", Name: SecretName}.String()) {
		t.Errorf("LoadOrCreate() of a short key = %v, want a refusal naming the Secret", err)
	}
}
