package auth0client

import (
	"context"
	"time"

	"github.com/auth0/go-auth0/management"
)

// Delivery health calls. Auth0 returns each delivered event with its
// payload, which carries user data; these calls keep only an event's type,
// time, status and error message, so nothing past this package can hold a
// payload.

// DeliveryStats are the delivery runs a stream finished in a window.
type DeliveryStats struct {
	Successful int
	Failed     int
}

// FailedDelivery is a delivery whose last run failed, without its event.
type FailedDelivery struct {
	EventType string
	// At is when its last attempt failed.
	At time.Time
	// ErrorMessage is Auth0's message for that attempt.
	ErrorMessage string
}

// TestDelivery is Auth0's answer to a test event, without the event.
type TestDelivery struct {
	EventID string
	Status  string
}

// Names of the stats metrics Auth0 returns.
const (
	metricSuccessful = "auth0.event_streams.successful_deliveries"
	metricFailed     = "auth0.event_streams.failed_deliveries"
)

// statsFromManagement sums Auth0's window totals.
func statsFromManagement(s *management.EventStreamStats) DeliveryStats {
	var out DeliveryStats
	if s == nil {
		return out
	}
	for _, m := range s.Metrics {
		if m == nil || m.Name == nil || m.WindowTotal == nil {
			continue
		}
		switch *m.Name {
		case metricSuccessful:
			out.Successful += *m.WindowTotal
		case metricFailed:
			out.Failed += *m.WindowTotal
		}
	}
	return out
}

// failedFromManagement keeps of each failed delivery its type and last
// failed attempt; the event (and its data) is dropped here.
func failedFromManagement(l *management.EventDeliveryList) []FailedDelivery {
	if l == nil {
		return nil
	}
	out := make([]FailedDelivery, 0, len(l.Deliveries))
	for _, d := range l.Deliveries {
		if d == nil || d.GetStatus() != "failed" {
			continue
		}
		f := FailedDelivery{EventType: d.GetEventType()}
		for _, a := range d.Attempts {
			if a == nil || a.GetStatus() != "failed" || a.Timestamp == nil {
				continue
			}
			if !a.Timestamp.Before(f.At) {
				f.At, f.ErrorMessage = a.Timestamp.UTC(), a.GetErrorMessage()
			}
		}
		out = append(out, f)
	}
	return out
}

// deliveryDate formats a bound as Auth0 wants it: RFC 3339 in whole seconds.
func deliveryDate(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// Stats and FailedDeliveries are background requests of the rate budget:
// they fail at once with a *DeferredError when it has none to spare.

func (c *client) Stats(ctx context.Context, id string, from, to time.Time) (DeliveryStats, error) {
	ctx, err := background(ctx, c.budget)
	if err != nil {
		return DeliveryStats{}, err
	}
	s, err := c.retrying.EventStream.Stats(ctx, id,
		management.Parameter("date_from", deliveryDate(from)), management.Parameter("date_to", deliveryDate(to)))
	return statsFromManagement(s), err
}

func (c *client) FailedDeliveries(ctx context.Context, id string, from time.Time) ([]FailedDelivery, error) {
	ctx, err := background(ctx, c.budget)
	if err != nil {
		return nil, err
	}
	l, err := c.retrying.EventStream.ListDeliveries(ctx, id,
		management.Parameter("statuses", "failed"), management.Parameter("date_from", deliveryDate(from)), management.Take(MaxFailedDeliveries))
	return failedFromManagement(l), err
}

// Test and RedeliverFailed use the client without retries: go-auth0
// retries any request on a connection error, and a retried POST would send
// a second test event or start a second redelivery.

func (c *client) SendTestEvent(ctx context.Context, id, eventType string) (TestDelivery, error) {
	t := &management.TestEvent{EventType: &eventType}
	if err := c.once.EventStream.Test(ctx, id, t); err != nil {
		return TestDelivery{}, err
	}
	return TestDelivery{EventID: t.GetID(), Status: t.GetStatus()}, nil
}

func (c *client) RedeliverFailed(ctx context.Context, id string) error {
	return c.once.EventStream.RedeliverMany(ctx, id, &management.BulkRedeliverRequest{})
}

func (d *dropOnUnauthorized) Stats(ctx context.Context, id string, from, to time.Time) (DeliveryStats, error) {
	s, err := d.API.Stats(ctx, id, from, to)
	return s, d.check(err)
}

func (d *dropOnUnauthorized) FailedDeliveries(ctx context.Context, id string, from time.Time) ([]FailedDelivery, error) {
	l, err := d.API.FailedDeliveries(ctx, id, from)
	return l, d.check(err)
}

func (d *dropOnUnauthorized) SendTestEvent(ctx context.Context, id, eventType string) (TestDelivery, error) {
	t, err := d.API.SendTestEvent(ctx, id, eventType)
	return t, d.check(err)
}

func (d *dropOnUnauthorized) RedeliverFailed(ctx context.Context, id string) error {
	return d.check(d.API.RedeliverFailed(ctx, id))
}
