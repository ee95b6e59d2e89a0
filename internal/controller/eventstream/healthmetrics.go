package eventstream

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
)

// deliveryHealthDesc counts EventStreams by their DeliveriesHealthy
// condition: what an operator alerts on when streams stop delivering.
// Readiness and sync have crossplane-runtime's crossplane_managed_resource_*
// gauges; delivery health is ours.
var deliveryHealthDesc = prometheus.NewDesc( //nolint:gochecknoglobals // A descriptor is a constant of the collector.
	"auth0_eventstream_delivery_health",
	"EventStreams by namespace and the status and reason of their DeliveriesHealthy condition (status False, reason DeliveriesFailing: Auth0 fails to deliver their events).",
	[]string{"namespace", "status", "reason"}, nil)

// scrapeListTimeout bounds the listing one scrape makes: from the
// manager's cache, so it waits only while that cache is not yet synced.
const scrapeListTimeout = 5 * time.Second

// DeliveryHealthCollector counts EventStreams by delivery health at each
// scrape, from the manager's cache: no API request and no stored write,
// and the figure is as fresh as the conditions themselves.
type DeliveryHealthCollector struct {
	cache client.Reader
}

// NewDeliveryHealthCollector counts the EventStreams r holds; r is the
// manager's cached client.
func NewDeliveryHealthCollector(r client.Reader) *DeliveryHealthCollector {
	return &DeliveryHealthCollector{cache: r}
}

// Describe implements prometheus.Collector.
func (c *DeliveryHealthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- deliveryHealthDesc
}

// Collect implements prometheus.Collector.
func (c *DeliveryHealthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeListTimeout)
	defer cancel()
	l := &v1alpha1.EventStreamList{}
	if err := c.cache.List(ctx, l); err != nil {
		ch <- prometheus.NewInvalidMetric(deliveryHealthDesc, err)
		return
	}
	for k, n := range countDeliveryHealth(l.Items) {
		ch <- prometheus.MustNewConstMetric(deliveryHealthDesc, prometheus.GaugeValue, float64(n), k.namespace, k.status, k.reason)
	}
}

type healthKey struct{ namespace, status, reason string }

// countDeliveryHealth counts streams by namespace and condition; a stream
// without the condition yet counts as Unknown, NotChecked.
func countDeliveryHealth(items []v1alpha1.EventStream) map[healthKey]int {
	out := map[healthKey]int{}
	for i := range items {
		cd := items[i].GetCondition(ConditionDeliveriesHealthy)
		k := healthKey{namespace: items[i].GetNamespace(), status: string(cd.Status), reason: string(cd.Reason)}
		if cd.Reason == "" {
			k.reason = string(reasonNotChecked)
		}
		out[k]++
	}
	return out
}
