// Package config reconciles ProviderConfigs and ClusterProviderConfigs: it
// counts their users and blocks their deletion while they are in use.
package config

import (
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/controller"
	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/ratelimiter"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/providerconfig"
	"github.com/crossplane/crossplane-runtime/v2/pkg/resource"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
)

// Setup adds the ProviderConfig and ClusterProviderConfig controllers.
func Setup(mgr ctrl.Manager, o controller.Options) error {
	// EventStreams are namespaced, so their usages are namespaced
	// ProviderConfigUsages whatever kind of config they reference; the
	// kind label tells them apart.
	for _, k := range []struct {
		config    client.Object
		kind      string
		groupKind string
		of        resource.ProviderConfigKinds
	}{
		{&v1alpha1.ProviderConfig{}, v1alpha1.ProviderConfigKind, v1alpha1.ProviderConfigGroupKind, resource.ProviderConfigKinds{
			Config:    v1alpha1.ProviderConfigGroupVersionKind,
			Usage:     v1alpha1.ProviderConfigUsageGroupVersionKind,
			UsageList: v1alpha1.ProviderConfigUsageListGroupVersionKind,
		}},
		{&v1alpha1.ClusterProviderConfig{}, v1alpha1.ClusterProviderConfigKind, v1alpha1.ClusterProviderConfigGroupKind, resource.ProviderConfigKinds{
			Config:    v1alpha1.ClusterProviderConfigGroupVersionKind,
			Usage:     v1alpha1.ProviderConfigUsageGroupVersionKind,
			UsageList: v1alpha1.ProviderConfigUsageListGroupVersionKind,
		}},
	} {
		name := providerconfig.ControllerName(k.groupKind)
		r := providerconfig.NewReconciler(mgr, k.of,
			providerconfig.WithLogger(o.Logger.WithValues("controller", name)),
			providerconfig.WithRecorder(event.NewAPIRecorder(mgr.GetEventRecorderFor(name)))) //nolint:staticcheck // crossplane-runtime's recorder still takes the legacy API.
		err := ctrl.NewControllerManagedBy(mgr).
			Named(name).
			WithOptions(o.ForControllerRuntime()).
			For(k.config).
			Watches(&v1alpha1.ProviderConfigUsage{}, &resource.EnqueueRequestForProviderConfig{Kind: k.kind}).
			Complete(ratelimiter.NewReconciler(name, r, o.GlobalRateLimiter))
		if err != nil {
			return err
		}
	}
	return nil
}
