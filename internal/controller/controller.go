// Package controller sets up every controller of the provider. The provider
// binary and the integration tests share it.
package controller

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/controller"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
	"github.com/xp-auth0/auth0-eventstream/internal/controller/config"
	"github.com/xp-auth0/auth0-eventstream/internal/controller/eventstream"
	"github.com/xp-auth0/auth0-eventstream/internal/secretcache"
)

// CacheOptions are the manager's cache settings. Nothing reads
// managedFields, so they are not cached; of Secrets only the metadata the
// watches need is cached (see secretcache).
func CacheOptions(syncPeriod *time.Duration) cache.Options {
	return cache.Options{
		SyncPeriod:       syncPeriod,
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject:         map[client.Object]cache.ByObject{&corev1.Secret{}: {Transform: secretcache.StripMetadata(v1alpha1.LabelWebhookSecret)}},
	}
}

// ClientOptions are the manager's client settings: Secrets are never read
// through the cache, which would start an informer holding every Secret of
// the cluster.
func ClientOptions() client.Options {
	return client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}}
}

// SetupGated adds the ProviderConfig controllers now and the EventStream
// controller once its CRD is established.
func SetupGated(mgr ctrl.Manager, o controller.Options, eo eventstream.Options) error {
	if err := config.Setup(mgr, o); err != nil {
		return err
	}
	return eventstream.SetupGated(mgr, o, eo)
}
