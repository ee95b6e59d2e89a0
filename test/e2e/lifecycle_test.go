//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/xp-auth0/auth0-eventstream/internal/auth0sim"
)

// TestWebhookLifecycle changes a webhook stream's subscriptions and status,
// rotates the token it reads from a Secret, edits the stream behind the
// platform's back, and deletes it; Auth0 follows every step.
func TestWebhookLifecycle(t *testing.T) {
	t.Parallel()
	webhookLifecycle(t, nativeBackend, nil)
}

// webhookLifecycle runs TestWebhookLifecycle's steps on b; ready, if
// set, checks more once the stream is first Ready.
func webhookLifecycle(t *testing.T, b backend, ready func(ns, name, token string)) {
	t.Helper()
	ns := namespace(t, b.ns("webhook-lifecycle"))
	const name = "orders-hook"
	manifest := func(subs []string, status, secretVersion string) []byte {
		return fmt.Appendf(nil, `apiVersion: v1
kind: Secret
metadata:
  name: hook-token
  namespace: %[1]s
  labels: {auth0.m.openmcf.org/webhook-secret: "true"}
stringData:
  token: %[4]q
---
apiVersion: auth0.openmcf.org/v1
kind: Auth0EventStream
metadata:
  name: %[2]s
  namespace: %[1]s
spec:
  destinationType: webhook
  status: %[3]s
  subscriptions: %[5]s
  webhookConfiguration:
    webhookEndpoint: https://hooks.example.com/auth0
    webhookAuthorization:
      method: bearer
      tokenSecretRef:
        name: hook-token
        key: token
`, ns, name, status, secretVersion, yamlList(subs))
	}

	b.apply(t, manifest([]string{"user.created"}, "enabled", "token-one"))
	waitReady(t, ns, name)
	_, st := waitOutputsMatch(t, ns, name, func(s auth0sim.Stream) error {
		return expectWebhook(s, []string{"user.created"}, "enabled", "token-one")
	})
	id := st.ID
	if ready != nil {
		ready(ns, name, "token-one")
	}

	t.Log("change subscriptions and status")
	b.apply(t, manifest([]string{"user.created", "user.deleted"}, "disabled", "token-one"))
	waitOutputsMatch(t, ns, name, func(s auth0sim.Stream) error {
		return expectWebhook(s, []string{"user.created", "user.deleted"}, "disabled", "token-one")
	})

	t.Log("rotate the referenced token")
	rotated := "token-two"
	if b.trimsSecrets {
		// Written from a file, a Secret's value often ends with a
		// newline: it is trimmed, as a credential is.
		rotated = "  token-two\n"
	}
	b.apply(t, manifest([]string{"user.created", "user.deleted"}, "disabled", rotated))
	_, st = waitOutputsMatchWithin(t, b.converge(), ns, name, func(s auth0sim.Stream) error {
		return expectWebhook(s, []string{"user.created", "user.deleted"}, "disabled", "token-two")
	})
	if st.ID != id {
		t.Fatalf("updating a webhook stream replaced it: id %s, then %s", id, st.ID)
	}

	t.Log("edit the stream out of band in Auth0")
	if err := sim.Drift(t.Context(), id, map[string]any{
		"status":        "enabled",
		"subscriptions": []map[string]string{{"event_type": "organization.created"}},
	}); err != nil {
		t.Fatal(err)
	}
	waitOutputsMatchWithin(t, b.converge(), ns, name, func(s auth0sim.Stream) error {
		return expectWebhook(s, []string{"user.created", "user.deleted"}, "disabled", "token-two")
	})

	deleteAndVerify(t, ns, name, id)
}

// TestEventBridgeRegionChange replaces a stream whose EventBridge region
// changes: Auth0 cannot change it in place.
func TestEventBridgeRegionChange(t *testing.T) {
	t.Parallel()
	eventBridgeRegionChange(t, nativeBackend)
}

func eventBridgeRegionChange(t *testing.T, b backend) {
	t.Helper()
	ns := namespace(t, b.ns("eventbridge-region"))
	const name = "security-events"
	manifest := func(region string) []byte {
		return fmt.Appendf(nil, `apiVersion: auth0.openmcf.org/v1
kind: Auth0EventStream
metadata:
  name: %s
  namespace: %s
spec:
  destinationType: eventbridge
  subscriptions: [user.created, user.updated]
  eventbridgeConfiguration:
    awsAccountId: "123456789012"
    awsRegion: %s
`, name, ns, region)
	}
	b.apply(t, manifest("us-east-1"))
	waitReady(t, ns, name)
	_, first := waitOutputsMatch(t, ns, name, func(s auth0sim.Stream) error {
		return expectRegion(s, "us-east-1")
	})

	b.apply(t, manifest("eu-west-1"))
	_, second := waitOutputsMatch(t, ns, name, func(s auth0sim.Stream) error {
		return expectRegion(s, "eu-west-1")
	})
	if second.ID == first.ID {
		t.Fatalf("region change kept stream %s; Auth0 cannot change a region in place", first.ID)
	}
	eventually(t, convergeWithin, "old stream removed", func(ctx context.Context) error {
		if _, ok, err := simLookup(ctx, first.ID); err != nil || ok {
			return fmt.Errorf("the simulator still holds the replaced stream %s (%w)", first.ID, err)
		}
		return nil
	})
	deleteAndVerify(t, ns, name, second.ID)
}

func expectWebhook(s auth0sim.Stream, subs []string, status, token string) error {
	var errs []error
	if !slices.Equal(s.Subscriptions, subs) {
		errs = append(errs, fmt.Errorf("subscriptions %v, want %v", s.Subscriptions, subs))
	}
	if s.Status != status {
		errs = append(errs, fmt.Errorf("status %q, want %q", s.Status, status))
	}
	switch w := s.Destination.Webhook; {
	case w == nil:
		errs = append(errs, errors.New("not a webhook stream"))
	case w.Method != auth0sim.AuthBearer:
		errs = append(errs, fmt.Errorf("method %q, want bearer", w.Method))
	case w.Token != token:
		// Never print tokens, even test ones.
		errs = append(errs, errors.New("the stream's bearer token is not the one in the Secret"))
	}
	return errors.Join(errs...)
}

func expectRegion(s auth0sim.Stream, region string) error {
	if s.Destination.EventBridge == nil {
		return errors.New("not an EventBridge stream")
	}
	if got := s.Destination.EventBridge.Region; got != region {
		return fmt.Errorf("region %q, want %q", got, region)
	}
	return nil
}

func yamlList(items []string) string {
	b := []byte("[")
	for i, s := range items {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, s...)
	}
	return string(append(b, ']'))
}
