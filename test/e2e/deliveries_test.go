//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/xp-auth0/auth0-eventstream/test/e2e/controlplane"
)

// personalData is what the simulator's test events carry about their user
// (recorded from Auth0); none of it may reach Kubernetes.
var personalData = []string{"john.doe@gmail.com", "507f1f77bcf86cd799439020", "+15555555555", "John Doe", "skydiving"}

// TestDeliveries: a webhook composite whose deliveries the simulator fails
// shows DeliveriesHealthy=False with Auth0's error within a delivery poll
// of the failure; a test event sent by annotation reaches the simulator's
// deliveries; once deliveries work again, a redelivery by annotation turns
// the failures into successes and the condition True. No user data of the
// delivered events reaches the composite, the EventStream or any event.
func TestDeliveries(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "deliveries")
	const name = "deliveries-hook"
	const failure = "connect: connection refused (e2e)"
	mustKubectl(t, fmt.Appendf(nil, `apiVersion: v1
kind: Secret
metadata:
  name: hook-token
  namespace: %[1]s
  labels: {auth0.m.openmcf.org/webhook-secret: "true"}
stringData:
  token: deliveries-token
---
apiVersion: auth0.openmcf.org/v1
kind: Auth0EventStream
metadata:
  name: %[2]s
  namespace: %[1]s
spec:
  destinationType: webhook
  subscriptions: [user.created, user.deleted]
  webhookConfiguration:
    webhookEndpoint: https://hooks.example.com/deliveries
    webhookAuthorization:
      method: bearer
      tokenSecretRef: {name: hook-token, key: token}
`, ns, name), "apply", "-f", "-")
	id, _ := outputs(waitReady(t, ns, name))["id"].(string)

	t.Log("the destination fails; a test event is sent by annotation")
	setDelivery(t, id, map[string]any{"fail": true, "error_message": failure})
	mustKubectl(t, nil, "annotate", "-n", ns, "auth0eventstream", name, "auth0.openmcf.org/send-test-event=user.created#1")
	var sent time.Time
	eventually(t, convergeWithin, "the test event in the simulator's deliveries", func(ctx context.Context) error {
		l, err := sim.ManagementGet(ctx, "/api/v2/event-streams/"+id+"/deliveries")
		if err != nil {
			return err
		}
		ds, _ := l["deliveries"].([]any)
		if len(ds) != 1 {
			return fmt.Errorf("%d deliveries listed, want the test event", len(ds))
		}
		if d, _ := ds[0].(map[string]any); d["event_type"] != "user.created" {
			return fmt.Errorf("delivery %v, want a user.created test event", d)
		}
		sent = time.Now()
		return nil
	})

	// Four attempts over 7 s (the simulator's backoff), then at most a
	// delivery poll until the next read, plus a poll and its jitter for the
	// reconcile that reads and the function run that copies it.
	within := 8*time.Second + controlplane.DeliveryPoll + 16*time.Second + 30*time.Second
	eventually(t, within, "DeliveriesHealthy=False with Auth0's error on the composite", func(ctx context.Context) error {
		u, err := getStream(ctx, ns, name)
		if err != nil {
			return err
		}
		if s, _, msg := condition(u, "DeliveriesHealthy"); s != "False" || !strings.Contains(msg, failure) {
			return fmt.Errorf("conditions: %s", conditionsOf(u))
		}
		return nil
	})
	t.Logf("DeliveriesHealthy=False on the composite %s after the test event was listed", time.Since(sent).Round(time.Second))
	u := mustGetStream(t, ns, name)
	d, _, _ := unstructured.NestedMap(u.Object, "status", "deliveries")
	lf, _ := d["lastFailure"].(map[string]any)
	if lf["eventType"] != "user.created" || lf["message"] != failure || d["undelivered"] != int64(1) {
		t.Errorf("status.deliveries = %v, want one undelivered user.created with Auth0's message", d)
	}
	la, _ := d["lastAction"].(map[string]any)
	if la["value"] != "user.created#1" || la["outcome"] != "Accepted" {
		t.Errorf("status.deliveries.lastAction = %v, want the test event accepted", la)
	}
	out := mustKubectl(t, nil, "get", "auth0eventstream", "-n", ns, name)
	if !strings.Contains(out, "FAILED-24H") {
		t.Errorf("kubectl get auth0eventstream shows no FAILED-24H column:\n%s", out)
	}
	t.Logf("kubectl get auth0eventstream:\n%s", out)

	t.Log("the destination works again; failed deliveries are redelivered by annotation")
	setDelivery(t, id, map[string]any{"fail": false})
	mustKubectl(t, nil, "annotate", "-n", ns, "auth0eventstream", name, "auth0.openmcf.org/redeliver=failed#1")
	eventually(t, convergeWithin, "DeliveriesHealthy=True after the redelivery", func(ctx context.Context) error {
		u, err := getStream(ctx, ns, name)
		if err != nil {
			return err
		}
		d, _, _ := unstructured.NestedMap(u.Object, "status", "deliveries")
		la, _ := d["lastAction"].(map[string]any)
		if s, _, _ := condition(u, "DeliveriesHealthy"); s != "True" || la["value"] != "failed#1" || la["outcome"] != "Accepted" {
			return fmt.Errorf("conditions: %s; deliveries %v", conditionsOf(u), d)
		}
		return nil
	})
	l, err := sim.ManagementGet(t.Context(), "/api/v2/event-streams/"+id+"/deliveries?statuses=failed")
	if err != nil {
		t.Fatal(err)
	}
	if ds, _ := l["deliveries"].([]any); len(ds) != 0 {
		t.Errorf("failed deliveries after the redelivery: %v", ds)
	}
	// Each action was performed once: one test event whose run failed,
	// redelivered once, successfully.
	st, err := sim.ManagementGet(t.Context(), "/api/v2/event-streams/"+id+"/stats")
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string]any{}
	metrics, _ := st["metrics"].([]any)
	for _, m := range metrics {
		if mm, ok := m.(map[string]any); ok {
			runs[fmt.Sprint(mm["name"])] = mm["window_total"]
		}
	}
	if runs["auth0.event_streams.failed_deliveries"] != 1.0 || runs["auth0.event_streams.successful_deliveries"] != 1.0 {
		t.Errorf("delivery runs %v, want one failed (the test event) and one successful (its redelivery)", runs)
	}

	t.Log("no user data from the delivered events in Kubernetes")
	texts := map[string]string{}
	texts["composite"] = string(mustJSON(t, mustGetStream(t, ns, name)))
	texts["EventStream"] = string(mustJSON(t, composedEventStream(t, ns, name)))
	texts["events"] = mustKubectl(t, nil, "get", "events", "-n", ns, "-o", "json")
	// And none in the logs of the provider, the function and Crossplane.
	logs, err := filepath.Glob(filepath.Join(*dir, "logs", "*.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no logs under %s: %v", *dir, err)
	}
	for _, l := range logs {
		if strings.HasSuffix(l, "auth0-sim.log") {
			continue // Auth0's side: it holds the events it delivers
		}
		b, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		texts[filepath.Base(l)] = string(b)
	}
	for what, text := range texts {
		for _, p := range personalData {
			if strings.Contains(text, p) {
				t.Errorf("%s holds %q from a delivered event", what, p)
			}
		}
	}
	if !strings.Contains(texts["events"], "SendTestEvent") || !strings.Contains(texts["events"], "RedeliverFailed") {
		t.Errorf("no SendTestEvent and RedeliverFailed events in %s", ns)
	}
}

func setDelivery(t *testing.T, id string, body map[string]any) {
	t.Helper()
	if err := sim.Do(t.Context(), http.MethodPut, "/__sim/streams/"+id+"/delivery", body, nil, ""); err != nil {
		t.Fatalf("set the simulator's delivery outcome of %s: %v", id, err)
	}
}

func mustGetStream(t *testing.T, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u, err := getStream(t.Context(), ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
