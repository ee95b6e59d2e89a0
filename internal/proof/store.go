package proof

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The Secret the key lives in, in the provider's own namespace, where
// tenants cannot read Secrets.
const (
	// SecretName is the Secret's name.
	SecretName = "auth0-eventstream-proof-key"
	// SecretKey is the data key holding the key.
	SecretKey = "key"
	// AnnotationLegacyRecorded, on the Secret, records that every
	// EventStream made before the key had its legacy state considered (see
	// Store.LegacyRecorded). Only the provider writes it.
	AnnotationLegacyRecorded = "auth0.m.openmcf.org/legacy-ownership-recorded"
)

// Store is the key as the provider keeps it.
type Store struct {
	Key Key
	// Created is the Secret's creationTimestamp, which the API server sets
	// and nobody can change: an EventStream created before it was made by
	// a release that kept no proofs.
	Created time.Time
	// LegacyRecorded is true once every EventStream made before Created
	// was reconciled by a release keeping proofs: legacy state is trusted
	// no more.
	LegacyRecorded bool

	c         client.Client
	namespace string
}

// LoadOrCreate reads the key from Secret SecretName in namespace, creating
// it with KeySize random bytes if it is missing. Replicas starting together
// race to create it: the loser reads the winner's.
func LoadOrCreate(ctx context.Context, c client.Client, namespace string) (*Store, error) {
	key := types.NamespacedName{Namespace: namespace, Name: SecretName}
	s := &corev1.Secret{}
	err := c.Get(ctx, key, s)
	if apierrors.IsNotFound(err) {
		b := make([]byte, KeySize)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("cannot make a proof key: %w", err)
		}
		s = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: SecretName, Labels: map[string]string{"app.kubernetes.io/managed-by": "provider-auth0-eventstream"}},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{SecretKey: b},
		}
		err = c.Create(ctx, s)
		if apierrors.IsAlreadyExists(err) {
			s = &corev1.Secret{}
			err = c.Get(ctx, key, s)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read or create the proof key Secret %s: %w", key, err)
	}
	k, err := NewKey(s.Data[SecretKey])
	if err != nil {
		return nil, fmt.Errorf("Secret %s, key %s: %w; delete the Secret to have a new key made (every EventStream then counts as made before it)", key, SecretKey, err) //nolint:staticcheck // The message starts with a resource kind.
	}
	return &Store{
		Key: k, Created: s.CreationTimestamp.Time, LegacyRecorded: s.Annotations[AnnotationLegacyRecorded] == "true",
		c: c, namespace: namespace,
	}, nil
}

// MarkLegacyRecorded records on the Secret that legacy state is trusted no
// more.
func (s *Store) MarkLegacyRecorded(ctx context.Context) error {
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{AnnotationLegacyRecorded: "true"}}})
	if err != nil {
		return err
	}
	o := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.namespace, Name: SecretName}}
	if err := s.c.Patch(ctx, o, client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("cannot record on Secret %s/%s that legacy ownership is recorded: %w", s.namespace, SecretName, err)
	}
	return nil
}
