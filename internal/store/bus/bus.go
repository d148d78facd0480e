// Package bus publishes the engine's events (upload.Event) on an
// EventBridge event bus, one PutEvents request per event: source
// "chunkup", the event's type as detail-type, its detail as JSON.
//
// Delivery is at least once: the engine publishes an event again when it
// cannot tell that an earlier attempt arrived, so a consumer drops a
// repeat by detail.id, the upload id, which is the idempotency key.
package bus

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"chunkup/internal/upload"
)

// API is the part of the EventBridge client that the publisher calls.
// *eventbridge.Client provides it, and a test may wrap it.
type API interface {
	PutEvents(context.Context, *eventbridge.PutEventsInput, ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Publisher is the upload.Publisher on an EventBridge bus, for the
// objects of one bucket.
type Publisher struct {
	api    API
	bus    string
	bucket string
}

// New returns a publisher on the bus named bus ("default", a name or an
// ARN) for uploads into bucket.
func New(api API, bus, bucket string) *Publisher {
	return &Publisher{api: api, bus: bus, bucket: bucket}
}

var _ upload.Publisher = (*Publisher)(nil)

// Publish sends ev. It fails if the request fails or EventBridge refuses
// the entry (PutEvents answers 200 with a failed entry then).
func (p *Publisher) Publish(ctx context.Context, ev upload.Event) error {
	entry, err := p.entry(ev)
	if err != nil {
		return err
	}
	out, err := p.api.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{entry}})
	if err != nil {
		return fmt.Errorf("put event: %w", err)
	}
	if out.FailedEntryCount > 0 || len(out.Entries) != 1 {
		code, msg := "", ""
		if len(out.Entries) == 1 {
			code, msg = aws.ToString(out.Entries[0].ErrorCode), aws.ToString(out.Entries[0].ErrorMessage)
		}
		return fmt.Errorf("put event: EventBridge refused the entry: %s %s", code, msg)
	}
	return nil
}

// entry is the PutEvents entry of ev: on the publisher's bus, with the
// bucket filled into its detail.
func (p *Publisher) entry(ev upload.Event) (types.PutEventsRequestEntry, error) {
	d := ev.Detail
	d.Bucket = p.bucket
	detail, err := json.Marshal(d)
	if err != nil {
		return types.PutEventsRequestEntry{}, fmt.Errorf("encode event detail of %s: %w", d.ID, err)
	}
	entry := types.PutEventsRequestEntry{
		EventBusName: aws.String(p.bus),
		Source:       aws.String(upload.EventSource),
		DetailType:   aws.String(string(ev.Type)),
		Detail:       aws.String(string(detail)),
	}
	if !ev.Time.IsZero() {
		entry.Time = aws.Time(ev.Time)
	}
	return entry, nil
}
