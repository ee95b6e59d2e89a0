package eventstream

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/xp-auth0/auth0-eventstream/apis/auth0/v1alpha1"
)

func TestDeliveryHealthCollector(t *testing.T) {
	stream := func(ns, name string, c ...xpv2.Condition) *v1alpha1.EventStream {
		cr := &v1alpha1.EventStream{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		cr.SetConditions(c...)
		return cr
	}
	failing := xpv2.Condition{Type: ConditionDeliveriesHealthy, Status: "False", Reason: reasonUndelivered, Message: "503 from the endpoint"}
	healthy := xpv2.Condition{Type: ConditionDeliveriesHealthy, Status: "True", Reason: reasonDelivering}
	s := runtime.NewScheme()
	if err := v1alpha1.SchemeBuilder.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(
		stream("team-a", "one", failing),
		stream("team-a", "two", failing),
		stream("team-a", "three", healthy),
		stream("team-b", "new"),
	).Build()

	want := `
# HELP auth0_eventstream_delivery_health EventStreams by namespace and the status and reason of their DeliveriesHealthy condition (status False, reason DeliveriesFailing: Auth0 fails to deliver their events).
# TYPE auth0_eventstream_delivery_health gauge
auth0_eventstream_delivery_health{namespace="team-a",reason="DeliveriesFailing",status="False"} 2
auth0_eventstream_delivery_health{namespace="team-a",reason="Delivering",status="True"} 1
auth0_eventstream_delivery_health{namespace="team-b",reason="NotChecked",status="Unknown"} 1
`
	if err := testutil.CollectAndCompare(NewDeliveryHealthCollector(c), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
