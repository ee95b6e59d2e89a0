// Package secretcache reads the Secrets the provider references without
// caching every Secret in the cluster. With New, a metadata-only informer
// (names and resource versions, nothing else) says whether the copy kept
// of a referenced Secret is current; only a Secret that changed is read
// again from the API server, and only referenced Secrets are held in
// memory. That informer lists and watches every Secret's metadata, which
// RBAC grants only with list and watch on all Secrets; Direct needs get
// alone and reads the Secret from the API server at every Get.
package secretcache

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Reader returns referenced Secrets.
type Reader struct {
	// meta serves Secret metadata; nil reads every Get from direct.
	meta   client.Reader
	direct client.Reader
	now    func() time.Time

	mu      sync.Mutex
	entries map[types.NamespacedName]*entry
}

type entry struct {
	secret *corev1.Secret
	used   time.Time
}

// New returns a Reader that asks meta (the manager's cache, serving
// metav1.PartialObjectMetadata of Secrets) for resource versions and direct
// (the API server, uncached) for the Secrets themselves.
func New(meta, direct client.Reader) *Reader {
	return &Reader{meta: meta, direct: direct, now: time.Now, entries: map[types.NamespacedName]*entry{}}
}

// Direct returns a Reader that reads every Get from direct (the API
// server, uncached; it must serve metav1.PartialObjectMetadata too, as a
// manager's API reader does) and keeps nothing: it needs only get on
// Secrets, and each Get sees the Secret as it is at that moment.
func Direct(direct client.Reader) *Reader {
	return &Reader{direct: direct, now: time.Now, entries: map[types.NamespacedName]*entry{}}
}

// Metadata returns an empty Secret metadata object, the form in which the
// manager's cache and watches see Secrets.
func Metadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return m
}

// RequireLabel is an option of Get: the Secret is read only when its
// metadata carries the label Key with Value; otherwise Get returns a
// *NotOfferedError and its data is never read. The metadata cache keeps
// the label when the transform was made with StripMetadata(Key).
type RequireLabel struct {
	Key, Value string
}

// ApplyToGet makes RequireLabel a client.GetOption; Get reads it, an API
// server ignores it.
func (RequireLabel) ApplyToGet(*client.GetOptions) {}

// NotOfferedError is Get's answer for a Secret without the required label.
type NotOfferedError struct {
	Secret types.NamespacedName
	Label  RequireLabel
}

func (e *NotOfferedError) Error() string {
	return fmt.Sprintf("Secret %s does not carry the label %s=%q", e.Secret, e.Label.Key, e.Label.Value)
}

func required(opts []client.GetOption) *RequireLabel {
	for _, o := range opts {
		if r, ok := o.(RequireLabel); ok {
			return &r
		}
	}
	return nil
}

// Get fills s with the Secret key, read from the API server when the kept
// copy is missing or older than what the metadata informer has seen, or
// always for a Direct Reader.
func (r *Reader) Get(ctx context.Context, key types.NamespacedName, s *corev1.Secret, opts ...client.GetOption) error {
	req := required(opts)
	if r.meta == nil {
		// The label is checked on the metadata alone first, so the data of
		// a Secret not offered is never read.
		if req != nil {
			m := Metadata()
			if err := r.direct.Get(ctx, key, m); err != nil {
				return err
			}
			if m.GetLabels()[req.Key] != req.Value {
				*s = corev1.Secret{}
				return &NotOfferedError{Secret: key, Label: *req}
			}
		}
		got := &corev1.Secret{}
		if err := r.direct.Get(ctx, key, got); err != nil {
			return err
		}
		kept(got).DeepCopyInto(s)
		return offered(s, key, req)
	}
	m := Metadata()
	if err := r.meta.Get(ctx, key, m); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(key)
		}
		return err
	}
	if req != nil && m.GetLabels()[req.Key] != req.Value {
		*s = corev1.Secret{}
		return &NotOfferedError{Secret: key, Label: *req}
	}
	r.mu.Lock()
	if e, ok := r.entries[key]; ok && e.secret.ResourceVersion == m.GetResourceVersion() {
		e.used = r.now()
		e.secret.DeepCopyInto(s)
		r.mu.Unlock()
		return offered(s, key, req)
	}
	r.mu.Unlock()

	got := &corev1.Secret{}
	if err := r.direct.Get(ctx, key, got); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(key)
		}
		return err
	}
	k := kept(got)
	r.mu.Lock()
	r.entries[key] = &entry{secret: k, used: r.now()}
	r.mu.Unlock()
	k.DeepCopyInto(s)
	return offered(s, key, req)
}

// kept is what a reader needs of a Secret; annotations may hold a second
// copy of the data (kubectl's last-applied-configuration).
func kept(got *corev1.Secret) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   got.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{Namespace: got.Namespace, Name: got.Name, UID: got.UID, ResourceVersion: got.ResourceVersion, Labels: got.Labels},
		Type:       got.Type,
		Data:       got.Data,
	}
}

// offered checks the label on the Secret read too: the metadata cache may
// lag behind a label just removed.
func offered(s *corev1.Secret, key types.NamespacedName, req *RequireLabel) error {
	if req != nil && s.Labels[req.Key] != req.Value {
		*s = corev1.Secret{}
		return &NotOfferedError{Secret: key, Label: *req}
	}
	return nil
}

func (r *Reader) forget(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.entries, key)
}

// Sweep forgets the Secrets no Get asked for within idle and returns how
// many it forgot.
func (r *Reader) Sweep(idle time.Duration) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, now := 0, r.now()
	for k, e := range r.entries {
		if now.Sub(e.used) > idle {
			delete(r.entries, k)
			n++
		}
	}
	return n
}

// Len is the number of Secrets kept.
func (r *Reader) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}

// StripMetadata returns the cache transform for Secret metadata: a
// resource version is all Get and the watches need, and labels or
// annotations of Secrets nobody references would only take memory. Of the
// labels it keeps only those named in keep, which Get checks before
// reading a Secret (RequireLabel).
func StripMetadata(keep ...string) toolscache.TransformFunc {
	return func(obj any) (any, error) {
		if o, ok := obj.(*metav1.PartialObjectMetadata); ok {
			var labels map[string]string
			for _, k := range keep {
				if v, ok := o.Labels[k]; ok {
					if labels == nil {
						labels = map[string]string{}
					}
					labels[k] = v
				}
			}
			o.ObjectMeta = metav1.ObjectMeta{Namespace: o.Namespace, Name: o.Name, UID: o.UID, ResourceVersion: o.ResourceVersion, DeletionTimestamp: o.DeletionTimestamp, Labels: labels}
			return o, nil
		}
		return cache.TransformStripManagedFields()(obj)
	}
}
