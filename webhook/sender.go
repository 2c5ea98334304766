package webhook

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/store"
)

// Sender delivers the webhook outbox: it claims due events with a lease,
// POSTs each (signed, see wxnotify.WebhookSignatureHeader) with at most
// Concurrency requests in flight, and records the result: a 2xx deletes
// the event; anything else (another status, a redirect to another host, a
// timeout) retries it with exponential backoff, until MaxAttempts, after
// which it is kept as dead. Delivery is at least once. Store and Box are
// required.
//
// Each request carries Content-Type: application/json, the Standard
// Webhooks headers (webhook-id, the same on every retry of the event;
// webhook-timestamp; webhook-signature) and X-Wxnotify-Event (the event
// name).
type Sender struct {
	Store store.Executor
	Box   *seal.Box
	// HTTPClient sends the requests; nil means NewHTTPClient. A given
	// client is copied with its redirect policy replaced (same host only)
	// and Timeout set if zero. TLS certificates are always verified unless
	// the given client's transport says otherwise.
	HTTPClient *http.Client
	// AllowPrivateNetworks lets the default client reach loopback, private
	// and link-local addresses. Off, an API-key holder cannot point a
	// webhook at internal services or the cloud metadata address (SSRF);
	// turn it on for development and internal receivers.
	AllowPrivateNetworks bool
	Now                  func() time.Time
	Logger               *slog.Logger
	// Holder names this instance in claims; random when empty.
	Holder string
	// OnAttempt, when set, is told of each attempt's result: delivered,
	// retry or dead (for the metrics).
	OnAttempt func(result string)

	Concurrency  int
	Timeout      time.Duration
	LeaseTTL     time.Duration
	PollInterval time.Duration
	MaxAttempts  int
	MinBackoff   time.Duration
	MaxBackoff   time.Duration

	initOnce sync.Once
	client   *http.Client
	slots    chan struct{}
	wg       sync.WaitGroup
}

// NewHTTPClient returns the client webhooks are sent with by default:
// every phase timed out, TLS verified, redirects followed only within the
// same host (and never from https to http), and no connection to a
// loopback, private, link-local or unspecified address (checked on the
// resolved address, so DNS cannot smuggle one in).
func NewHTTPClient(timeout time.Duration) *http.Client {
	return newHTTPClient(timeout, false)
}

func newHTTPClient(timeout time.Duration, allowPrivate bool) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = refusePrivateAddress
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			// No proxy: it would dial for us, past the address check.
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: timeout,
			ExpectContinueTimeout: time.Second,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: sameHostRedirect,
	}
}

// sameHostRedirect follows a redirect only to the same host and port,
// never downgrading https, at most maxRedirects times; otherwise the
// redirect answer itself is the result (a failed attempt).
func sameHostRedirect(req *http.Request, via []*http.Request) error {
	first := via[0]
	if len(via) > maxRedirects || req.URL.Host != first.URL.Host ||
		(first.URL.Scheme == "https" && req.URL.Scheme != "https") {
		return http.ErrUseLastResponse
	}
	return nil
}

func (s *Sender) init() {
	s.initOnce.Do(func() {
		if s.Holder == "" {
			b := make([]byte, 6)
			crand.Read(b)
			s.Holder = "wxnotify-" + hex.EncodeToString(b)
		}
		if s.Now == nil {
			s.Now = time.Now
		}
		if s.Logger == nil {
			s.Logger = slog.New(slog.DiscardHandler)
		}
		s.Concurrency = orDefault(s.Concurrency, DefaultConcurrency)
		s.Timeout = orDefault(s.Timeout, DefaultTimeout)
		s.LeaseTTL = orDefault(s.LeaseTTL, DefaultLeaseTTL)
		s.PollInterval = orDefault(s.PollInterval, DefaultPollInterval)
		s.MaxAttempts = orDefault(s.MaxAttempts, DefaultMaxAttempts)
		s.MinBackoff = orDefault(s.MinBackoff, DefaultMinBackoff)
		s.MaxBackoff = orDefault(s.MaxBackoff, DefaultMaxBackoff)
		if s.HTTPClient == nil {
			s.client = newHTTPClient(s.Timeout, s.AllowPrivateNetworks)
		} else {
			c := *s.HTTPClient
			c.CheckRedirect = sameHostRedirect
			if c.Timeout == 0 {
				c.Timeout = s.Timeout
			}
			s.client = &c
		}
		s.slots = make(chan struct{}, s.Concurrency)
	})
}

// orDefault is v if positive, else def: a negative setting means the
// default too (cmp.Or would keep it).
func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// Drain sends every event due now, keeping up to Concurrency requests in
// flight, and returns when none is due and every answer is recorded: the
// webhook-delivery job.
func (s *Sender) Drain(ctx context.Context) error {
	s.init()
	defer s.wg.Wait()
	for ctx.Err() == nil {
		n, err := s.claimAndSend(ctx)
		if err != nil {
			return fmt.Errorf("claim webhook events: %w", err)
		}
		if n == 0 {
			return nil
		}
	}
	return nil
}

// Tick claims the events due now, sends them, waits for the answers, and
// returns how many it claimed. Tests call it with a fake clock.
func (s *Sender) Tick(ctx context.Context) (int, error) {
	s.init()
	n, err := s.claimAndSend(ctx)
	s.wg.Wait()
	return n, err
}

func (s *Sender) claimAndSend(ctx context.Context) (int, error) {
	// Wait for one free slot, then claim as many as are free.
	select {
	case s.slots <- struct{}{}:
		<-s.slots
	case <-ctx.Done():
		return 0, nil
	}
	free := s.Concurrency - len(s.slots)
	if free <= 0 {
		return 0, nil
	}
	now := s.Now()
	rows, err := s.Store.WebhookOutboxClaim(ctx, &store.WebhookOutboxClaimParams{
		Holder: s.Holder, Now: now, LeaseUntil: now.Add(s.LeaseTTL), Limit: free,
	})
	if err != nil {
		return 0, err
	}
	for _, o := range rows {
		s.slots <- struct{}{}
		s.wg.Add(1)
		go func() {
			defer func() { <-s.slots; s.wg.Done() }()
			s.deliver(context.WithoutCancel(ctx), o)
		}()
	}
	return len(rows), nil
}

// deliver makes one attempt and records it.
func (s *Sender) deliver(ctx context.Context, o *store.WebhookOutbox) {
	err := s.post(ctx, o)
	f := &store.WebhookOutboxFinishParams{ID: o.ID, Holder: s.Holder, Now: s.Now()}
	result := "retry"
	switch {
	case err == nil:
		f.Delivered, result = true, "delivered"
	case o.Attempts >= s.MaxAttempts:
		f.Dead, f.LastError, result = true, err.Error(), "dead"
		s.Logger.Warn("webhook event dead: gave up", "outbox_id", o.ID, "webhook_id", o.WebhookID, "attempts", o.Attempts, "err", err)
	default:
		f.NextAttemptAt, f.LastError = f.Now.Add(s.backoff(o.Attempts)), err.Error()
	}
	if s.OnAttempt != nil {
		s.OnAttempt(result)
	}
	// Record the attempt, retrying through a database outage while the
	// lease holds: a POST that succeeded but is not recorded would be sent
	// again once the lease expires (at least once, but better once).
	for try := 0; ; try++ {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ok, err := s.Store.WebhookOutboxFinish(wctx, f)
		cancel()
		switch {
		case err == nil && !ok:
			s.Logger.Warn("webhook attempt not recorded: lease lost", "outbox_id", o.ID)
			return
		case err == nil:
			return
		}
		wait := min(100*time.Millisecond<<min(try, 5), 2*time.Second)
		if !o.LeaseUntil.IsZero() && s.Now().Add(wait).After(o.LeaseUntil.Add(-time.Second)) {
			// The lease expires and the event is sent again: at least once.
			s.Logger.Error("record webhook attempt", "outbox_id", o.ID, "err", err, "tries", try+1)
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff is MinBackoff doubled per attempt made, capped, ±25% jitter.
func (s *Sender) backoff(attempts int) time.Duration {
	d := min(s.MinBackoff<<min(attempts-1, 20), s.MaxBackoff)
	return d - d/4 + rand.N(d/2+1)
}

func (s *Sender) post(ctx context.Context, o *store.WebhookOutbox) error {
	body := o.Payload // written with the outcome, in its transaction
	secret, err := s.Box.Open(o.SecretSealed, secretContextOf(body))
	if err != nil {
		return fmt.Errorf("open webhook secret: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "wxnotify-webhook/1")
	req.Header.Set("X-Wxnotify-Event", o.Event)
	id, at := DeliveryID(o.ID), s.Now()
	req.Header.Set(wxnotify.WebhookIDHeader, id)
	req.Header.Set(wxnotify.WebhookTimestampHeader, strconv.FormatInt(at.Unix(), 10))
	req.Header.Set(wxnotify.WebhookSignatureHeader, Sign(string(secret), id, at, body))
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", redactURL(o.URL), unwrapURLError(err))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
			return fmt.Errorf("POST %s: HTTP %d redirect not followed (only same-host redirects are)", redactURL(o.URL), resp.StatusCode)
		}
		return fmt.Errorf("POST %s: HTTP %d", redactURL(o.URL), resp.StatusCode)
	}
	return nil
}

// secretContextOf is the seal context of the event's app.
func secretContextOf(body []byte) string {
	var e struct {
		AppID string `json:"appid"`
	}
	_ = json.Unmarshal(body, &e)
	return secretContext(e.AppID)
}

// redactURL drops the query, which may carry a token of the receiver's:
// the error is stored as the event's last_error and logged.
func redactURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		return raw[:i]
	}
	return raw
}

// unwrapURLError drops the *url.Error wrapper, which repeats the full URL
// (query included) that redactURL keeps out.
func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// errPrivateAddress refuses a webhook connection to an internal address.
var errPrivateAddress = errors.New("webhook URL resolves to a loopback, private or link-local address (set delivery.webhook_allow_private to allow)")

// refusePrivateAddress is a net.Dialer Control: it runs on the resolved
// address of every connection attempt.
func refusePrivateAddress(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	if privateAddress(ip) {
		return errPrivateAddress
	}
	return nil
}

// privateAddress reports an address a webhook must not reach unless
// private networks are allowed: loopback, private (RFC 1918, IPv6 ULA),
// link-local (cloud metadata), unspecified or multicast. The dialer checks
// every connection with it, and Service.CreateWebhook every URL.
func privateAddress(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast()
}

// DeliveryID is the webhook-id of an outbox row: "evt_" and its id, the
// same on every attempt, so receivers deduplicate on it.
func DeliveryID(outboxID int64) string { return "evt_" + strconv.FormatInt(outboxID, 10) }
