// Package controller sets up every controller of the provider. The provider
// binary and the integration tests share it.
package controller

import (
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/crossplane/crossplane-runtime/v2/pkg/controller"

	"github.com/xp-auth0/auth0-eventstream/internal/controller/config"
	"github.com/xp-auth0/auth0-eventstream/internal/controller/eventstream"
)

// SetupGated adds the ProviderConfig controllers now and the EventStream
// controller once its CRD is established.
func SetupGated(mgr ctrl.Manager, o controller.Options, eo eventstream.Options) error {
	if err := config.Setup(mgr, o); err != nil {
		return err
	}
	return eventstream.SetupGated(mgr, o, eo)
}
