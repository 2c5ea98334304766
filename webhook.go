package wxnotify

import (
	"context"
	"net/url"
	"time"
)

// Limits of a webhook.
const (
	MaxWebhookURLLen    = 2048
	MinWebhookSecretLen = 16
	MaxWebhookSecretLen = 256
	MaxWebhooksPerApp   = 10
)

// WebhookSignatureHeader carries the signature of a webhook request:
//
//	X-Wxnotify-Signature: t=1732500000,v1=5257a869e7…
//
// where v1 is the lowercase hex HMAC-SHA256, keyed with the webhook's
// secret, of the decimal t, a ".", and the raw request body. To verify: take
// t and every v1 from the header, recompute the HMAC over the bytes
// received (before any JSON parsing), compare in constant time with each
// v1, and reject a t further than a few minutes from your clock (replays).
// webhook.Verify does all of this.
const WebhookSignatureHeader = "X-Wxnotify-Signature"

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
	if n := len(w.Secret.Reveal()); n != 0 && (n < MinWebhookSecretLen || n > MaxWebhookSecretLen) {
		return FieldErrorf("secret", "%d to %d bytes, or omit it to have one generated", MinWebhookSecretLen, MaxWebhookSecretLen)
	}
	return nil
}

// WebhookEvent is the JSON body POSTed to a webhook for one terminal
// outcome of a message. Delivery is at least once: a receiver that must act
// once per event deduplicates on MessageID (each message reaches exactly one
// terminal state) or on the X-Wxnotify-Delivery header.
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
}
