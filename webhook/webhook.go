// Package webhook delivers outcome webhooks: an app registers an endpoint
// of its own (POST /v1/webhooks, Service), and every terminal outcome of
// the app's messages (delivered, failed, no_credit, expired, cancelled,
// ambiguous) is POSTed there as a wxnotify.WebhookEvent by Sender.
//
// The events are not written here. Package queue writes a webhook-outbox
// row per webhook of the app (queue.WebhookEvent builds its payload) in
// the same transaction that ends the message, so an outcome is never
// recorded without its events, nor an event without its outcome, whoever
// ends the message and whatever crashes afterwards. Sender only drains that
// outbox: it is the webhook_delivery scheduled job (Sender.Drain).
//
// Delivery is at least once. An event leaves the outbox only once a 2xx
// answer is recorded; anything else is retried with backoff until
// MaxAttempts, after which the event is kept as dead. An answer that could
// not be recorded, or an instance that died holding the event, means it is
// sent again after its lease, with the same webhook-id header: a receiver
// deduplicates on that or on the event's message_id.
//
// Every request is signed with the webhook's secret (stored sealed, as app
// secrets are) as Standard Webhooks specifies (sign.go): webhook-id,
// webhook-timestamp and webhook-signature, an HMAC-SHA256 of the three
// with the raw body, verifiable with that specification's libraries;
// Verify is the same check in Go.
//
// The key holder chooses the URL and wxnotify POSTs from inside the
// network, so the default client (NewHTTPClient) refuses to connect to a
// loopback, private, link-local or unspecified address, checked on the
// resolved address so DNS cannot smuggle one in, and follows redirects
// only within the same host. Sender.AllowPrivateNetworks (the
// delivery.webhook_allow_private setting) lifts the refusal for
// development and internal receivers.
package webhook

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/store"
)

// Defaults of webhook delivery; a zero field of Sender means its default.
const (
	// DefaultConcurrency bounds the requests in flight per instance.
	DefaultConcurrency = 16
	// DefaultTimeout bounds one request, connection included.
	DefaultTimeout = 10 * time.Second
	// DefaultLeaseTTL bounds how long an instance holds a claimed event;
	// it must exceed the request timeout.
	DefaultLeaseTTL = time.Minute
	// DefaultPollInterval is how often an idle sender looks for due
	// events.
	DefaultPollInterval = time.Second
	// DefaultMaxAttempts and DefaultMinBackoff: attempts are spaced 30s,
	// 1m, 2m, … 32m apart (±25%), so 8 attempts span about an hour; after
	// the last the event is kept as dead.
	DefaultMaxAttempts = 8
	DefaultMinBackoff  = 30 * time.Second
	DefaultMaxBackoff  = time.Hour
	// DefaultSignatureTolerance is the clock skew Verify callers usually
	// allow.
	DefaultSignatureTolerance = 5 * time.Minute
	// maxRedirects bounds same-host redirects followed.
	maxRedirects = 3
)

// secretContext is the seal context of an app's webhook secrets: a secret
// sealed for one app does not open as another's.
func secretContext(appID string) string { return "webhook_secret:" + appID }

// Service implements wxnotify.WebhookService. Store and Box are required:
// secrets are sealed with Box, as app secrets are.
type Service struct {
	Store store.Executor
	Box   *seal.Box
	Now   func() time.Time
	// AllowPrivateNetworks accepts webhook URLs on loopback, private and
	// link-local addresses (delivery.webhook_allow_private, as
	// Sender.AllowPrivateNetworks). Off, CreateWebhook refuses them.
	AllowPrivateNetworks bool
	// LookupNetIP resolves a URL's host for that check; nil means
	// net.DefaultResolver.
	LookupNetIP func(ctx context.Context, network, host string) ([]netip.Addr, error)
}

var _ wxnotify.WebhookService = (*Service)(nil)

// CreateWebhook validates and stores a webhook, generating its secret if
// none is given.
func (s *Service) CreateWebhook(ctx context.Context, w *wxnotify.Webhook) error {
	if err := wxnotify.CheckAppAccess(ctx, w.AppID); err != nil {
		return err
	}
	if err := w.Validate(); err != nil {
		return err
	}
	if !s.AllowPrivateNetworks {
		if err := s.checkPublic(ctx, w.URL); err != nil {
			return err
		}
	}
	if s.Box == nil {
		return wxnotify.Errorf(wxnotify.EINTERNAL, "%v", seal.ErrNoKey)
	}
	existing, err := s.Store.WebhookList(ctx, &store.WebhookListParams{AppIDs: []string{w.AppID}})
	if err != nil {
		return fmt.Errorf("list webhooks: %w", err)
	}
	if len(existing) >= wxnotify.MaxWebhooksPerApp {
		return wxnotify.Errorf(wxnotify.ECONFLICT, "app %s has %d webhooks already, the most allowed", w.AppID, len(existing))
	}
	if w.Secret == "" {
		b := make([]byte, 32)
		crand.Read(b)
		w.Secret = wxnotify.Secret(SecretPrefix + base64.StdEncoding.EncodeToString(b))
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	id, err := s.Store.WebhookInsert(ctx, &store.WebhookInsertParams{
		AppID: w.AppID, URL: w.URL, SecretSealed: s.Box.Seal([]byte(w.Secret.Reveal()), secretContext(w.AppID)), Now: now,
	})
	if errors.Is(err, store.ErrNotFound) {
		return &wxnotify.Error{Code: wxnotify.ENOTFOUND, Field: "appid", Message: fmt.Sprintf("app %s is not registered", w.AppID)}
	} else if err != nil {
		return fmt.Errorf("insert webhook: %w", err)
	}
	w.ID, w.CreatedAt = id, now.UTC()
	return nil
}

// FindWebhooks lists the webhooks of the caller's apps, without secrets.
func (s *Service) FindWebhooks(ctx context.Context) ([]*wxnotify.Webhook, error) {
	k := wxnotify.APIKeyFromContext(ctx)
	if k == nil {
		return nil, wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "API key required")
	}
	p := &store.WebhookListParams{}
	if !k.CanAccess(wxnotify.AllApps) {
		p.AppIDs = append([]string{}, k.Apps...)
	}
	rows, err := s.Store.WebhookList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	out := make([]*wxnotify.Webhook, len(rows))
	for i, r := range rows {
		out[i] = &wxnotify.Webhook{ID: r.ID, AppID: r.AppID, URL: r.URL, CreatedAt: r.CreatedAt}
	}
	return out, nil
}

// webhook returns the caller's webhook: ENOTFOUND when there is none or
// it is another app's.
func (s *Service) webhook(ctx context.Context, id int64) (*store.Webhook, error) {
	row, err := s.Store.WebhookGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "webhook %d not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("get webhook: %w", err)
	}
	if err := wxnotify.CheckAppAccess(ctx, row.AppID); err != nil {
		if wxnotify.ErrorCode(err) == wxnotify.EFORBIDDEN {
			return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "webhook %d not found", id)
		}
		return nil, err
	}
	return row, nil
}

// FindWebhookDeliveries lists the webhook's undelivered events.
func (s *Service) FindWebhookDeliveries(ctx context.Context, webhookID int64, f wxnotify.WebhookDeliveryFilter) ([]*wxnotify.WebhookDelivery, error) {
	switch f.State {
	case "", wxnotify.WebhookDeliveryPending, wxnotify.WebhookDeliveryDead:
	default:
		return nil, wxnotify.FieldErrorf("state", "unknown state %q: want pending or dead", f.State)
	}
	if f.Limit < 0 || f.Limit > wxnotify.MaxWebhookDeliveryPage {
		return nil, wxnotify.FieldErrorf("limit", "want 1 to %d", wxnotify.MaxWebhookDeliveryPage)
	}
	if _, err := s.webhook(ctx, webhookID); err != nil {
		return nil, err
	}
	rows, err := s.Store.WebhookOutboxList(ctx, &store.WebhookOutboxListParams{
		WebhookID: webhookID, State: f.State, BeforeID: f.BeforeID, Limit: cmp.Or(f.Limit, wxnotify.DefaultWebhookDeliveryPage),
	})
	if err != nil {
		return nil, fmt.Errorf("list webhook events: %w", err)
	}
	out := make([]*wxnotify.WebhookDelivery, len(rows))
	for i, o := range rows {
		d := &wxnotify.WebhookDelivery{ID: o.ID, WebhookID: o.WebhookID, Event: o.Event, MessageID: o.MessageID, State: o.State,
			Attempts: o.Attempts, LastError: o.LastError, CreatedAt: o.CreatedAt, Payload: o.Payload}
		if o.State == wxnotify.WebhookDeliveryPending {
			d.NextAttemptAt = o.NextAttemptAt
		}
		out[i] = d
	}
	return out, nil
}

// ReplayWebhookDeliveries makes dead events of the webhook pending again.
func (s *Service) ReplayWebhookDeliveries(ctx context.Context, webhookID int64, ids []int64) (int64, error) {
	if _, err := s.webhook(ctx, webhookID); err != nil {
		return 0, err
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	n, err := s.Store.WebhookOutboxReplay(ctx, &store.WebhookOutboxReplayParams{WebhookID: webhookID, IDs: ids, Now: now})
	if err != nil {
		return 0, fmt.Errorf("replay webhook events: %w", err)
	}
	return n, nil
}

// DeleteWebhook removes a webhook and its undelivered events.
func (s *Service) DeleteWebhook(ctx context.Context, id int64) error {
	if _, err := s.webhook(ctx, id); err != nil {
		return err
	}
	if err := s.Store.WebhookDelete(ctx, id); errors.Is(err, store.ErrNotFound) {
		return wxnotify.Errorf(wxnotify.ENOTFOUND, "webhook %d not found", id)
	} else if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	return nil
}

// checkPublic refuses a webhook URL whose host is, or resolves to, an
// address the sender would refuse (privateAddress), so the caller learns it
// at creation (400) rather than from events that fail at delivery. The
// sender still checks every connection: DNS may change after creation.
func (s *Service) checkPublic(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return wxnotify.FieldErrorf("url", "not a URL")
	}
	host := u.Hostname()
	refuse := func(a netip.Addr) error {
		return wxnotify.FieldErrorf("url", "%s is a loopback, private or link-local address (%s): webhooks call only public addresses unless delivery.webhook_allow_private is set", host, a)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if privateAddress(a) {
			return refuse(a)
		}
		return nil
	}
	lookup := s.LookupNetIP
	if lookup == nil {
		lookup = net.DefaultResolver.LookupNetIP
	}
	addrs, err := lookup(ctx, "ip", host)
	if err != nil {
		// A host that does not resolve now reaches nothing now; the
		// sender's dialer checks the address it resolves to later.
		return nil
	}
	for _, a := range addrs {
		if privateAddress(a) {
			return refuse(a)
		}
	}
	return nil
}
