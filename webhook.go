package wxnotify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"time"
)

// Limits of a webhook.
const (
	MaxWebhookURLLen = 2048
	// A given secret is "whsec_" and the base64 of MinWebhookKeyLen to
	// MaxWebhookKeyLen bytes (Standard Webhooks).
	MinWebhookKeyLen  = 24
	MaxWebhookKeyLen  = 64
	MaxWebhooksPerApp = 10
)

// The headers of a webhook request, as Standard Webhooks
// (https://www.standardwebhooks.com) defines them:
//
//	webhook-id: evt_42
//	webhook-timestamp: 1732500000
//	webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=
//
// The id is the same on every retry of one event. The signature is the
// base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<raw body>",
// keyed with the base64-decoded part of the secret after "whsec_". Any
// Standard Webhooks library verifies it, given the secret as shown at
// creation; reject a timestamp further than a few minutes from your clock
// (replays). webhook.Verify does all of this in Go. docs/webhooks.md has
// the note for receivers of the former X-Wxnotify-Signature.
const (
	WebhookIDHeader        = "webhook-id"
	WebhookTimestampHeader = "webhook-timestamp"
	WebhookSignatureHeader = "webhook-signature"
)

// Webhook is an endpoint of the caller's that is told every terminal
// outcome of the app's messages.
type Webhook struct {
	ID    int64  `json:"id"`
	AppID string `json:"appid"`
	// URL receives a POST per event; http or https (https recommended).
	URL string `json:"url"`
	// Secret keys the signature. Given at creation or generated; shown
	// only in the answer to the creation, and stored encrypted.
	Secret    Secret    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// Validate checks the webhook's fields; EINVALID names the field.
func (w *Webhook) Validate() error {
	if w.AppID == "" {
		return FieldErrorf("appid", "appid required")
	}
	if w.URL == "" {
		return FieldErrorf("url", "url required")
	}
	if len(w.URL) > MaxWebhookURLLen {
		return FieldErrorf("url", "at most %d bytes", MaxWebhookURLLen)
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return FieldErrorf("url", "an absolute http or https URL")
	}
	if u.User != nil {
		return FieldErrorf("url", "no credentials in the URL: requests are signed with the secret")
	}
	if u.Fragment != "" {
		return FieldErrorf("url", "no #fragment")
	}
	if s := w.Secret.Reveal(); s != "" {
		rest, ok := strings.CutPrefix(s, "whsec_")
		key, err := base64.StdEncoding.DecodeString(rest)
		if !ok || err != nil || len(key) < MinWebhookKeyLen || len(key) > MaxWebhookKeyLen {
			return FieldErrorf("secret", "whsec_ and the base64 of %d to %d random bytes (Standard Webhooks), or omit it to have one generated", MinWebhookKeyLen, MaxWebhookKeyLen)
		}
	}
	return nil
}

// WebhookEvent is the JSON body POSTed to a webhook for one terminal
// outcome of a message. Delivery is at least once: a receiver that must act
// once per event deduplicates on MessageID (each message reaches exactly one
// terminal state) or on the webhook-id header.
type WebhookEvent struct {
	// Event is "message." and the state: message.delivered, message.failed,
	// message.no_credit, message.expired, message.cancelled,
	// message.ambiguous.
	Event     string       `json:"event"`
	MessageID int64        `json:"message_id"`
	AppID     string       `json:"appid"`
	OpenID    string       `json:"openid"`
	State     MessageState `json:"state"`
	MsgID     string       `json:"msgid,omitempty"`  // WeChat's id, when delivered
	ErrCode   int          `json:"errcode"`          // of the last call to WeChat; 0 if none or ok
	ErrMsg    string       `json:"errmsg,omitempty"` // of the last call, or why it ended
	At        time.Time    `json:"at"`               // when the outcome happened
}

// WebhookDelivery is one event of a webhook not delivered yet: pending
// (due at NextAttemptAt; failing once Attempts > 0) or dead (every attempt
// failed; kept until replayed or the webhook is deleted). A delivered
// event leaves the outbox.
type WebhookDelivery struct {
	// ID is the outbox id; the webhook-id header of its requests is
	// "evt_" and it, the same on every attempt.
	ID        int64  `json:"id"`
	WebhookID int64  `json:"webhook_id"`
	Event     string `json:"event"`
	MessageID int64  `json:"message_id"`
	// State is pending or dead.
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	// NextAttemptAt is when a pending event is tried next.
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	// LastError says why the last attempt failed (the URL without its
	// query).
	LastError string    `json:"last_error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Payload is the WebhookEvent as it is POSTed.
	Payload json.RawMessage `json:"payload"`
}

// The states of a WebhookDelivery.
const (
	WebhookDeliveryPending = "pending"
	WebhookDeliveryDead    = "dead"
)

// WebhookDeliveryFilter selects a webhook's deliveries, newest first.
type WebhookDeliveryFilter struct {
	State    string // pending, dead; "": both
	BeforeID int64  // paging: ids below it (0: from the newest)
	Limit    int    // 0 means DefaultWebhookDeliveryPage
}

// DefaultWebhookDeliveryPage and MaxWebhookDeliveryPage bound a page of
// deliveries.
const (
	DefaultWebhookDeliveryPage = 100
	MaxWebhookDeliveryPage     = 1000
)

// WebhookEventName returns the event of a terminal state.
func WebhookEventName(s MessageState) string { return "message." + string(s) }

// WebhookService manages the app's webhooks. Every method checks that the
// caller's API key may act for the webhook's app; a webhook of another app
// is reported as not found.
type WebhookService interface {
	// CreateWebhook validates and stores a webhook, generating a secret
	// when w.Secret is empty; it fills ID, Secret and CreatedAt. The secret
	// is never returned again. Returns EINVALID naming the field,
	// EFORBIDDEN, ENOTFOUND for an unknown app, and ECONFLICT when the app
	// has MaxWebhooksPerApp already.
	CreateWebhook(ctx context.Context, w *Webhook) error
	// FindWebhooks lists the webhooks of every app the caller may act for,
	// without secrets.
	FindWebhooks(ctx context.Context) ([]*Webhook, error)
	// DeleteWebhook removes a webhook with its undelivered events. Returns
	// ENOTFOUND.
	DeleteWebhook(ctx context.Context, id int64) error
	// FindWebhookDeliveries lists the webhook's undelivered events,
	// newest first. Returns ENOTFOUND, and EINVALID for a bad filter.
	FindWebhookDeliveries(ctx context.Context, webhookID int64, f WebhookDeliveryFilter) ([]*WebhookDelivery, error)
	// ReplayWebhookDeliveries makes the webhook's dead events (those of
	// ids; nil: all of them) pending again, due now, their attempts
	// counted afresh, and returns how many. Ids that are not dead events
	// of the webhook are skipped. Returns ENOTFOUND.
	ReplayWebhookDeliveries(ctx context.Context, webhookID int64, ids []int64) (int64, error)
}
