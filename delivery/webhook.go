package delivery

import (
	"bytes"
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
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

// Defaults of webhook delivery; a zero field means its default.
const (
	// DefaultWebhookConcurrency bounds the requests in flight per instance.
	DefaultWebhookConcurrency = 16
	// DefaultWebhookTimeout bounds one request, connection included.
	DefaultWebhookTimeout = 10 * time.Second
	// DefaultWebhookLeaseTTL bounds how long an instance holds a claimed
	// event; it must exceed the request timeout.
	DefaultWebhookLeaseTTL = time.Minute
	// DefaultWebhookPollInterval is how often an idle sender looks for due
	// events.
	DefaultWebhookPollInterval = time.Second
	// DefaultWebhookMaxAttempts and DefaultWebhookMinBackoff: attempts are
	// spaced 30s, 1m, 2m, … 32m apart (±25%), so 8 attempts span about an
	// hour; after the last the event is kept as dead.
	DefaultWebhookMaxAttempts = 8
	DefaultWebhookMinBackoff  = 30 * time.Second
	DefaultWebhookMaxBackoff  = time.Hour
	// DefaultWebhookSignatureTolerance is the clock skew
	// VerifyWebhookSignature callers usually allow.
	DefaultWebhookSignatureTolerance = 5 * time.Minute
	// maxWebhookRedirects bounds same-host redirects followed.
	maxWebhookRedirects = 3
)

func webhookSecretContext(appID string) string { return "webhook_secret:" + appID }

// WebhookService implements wxnotify.WebhookService. Store and Box are
// required: secrets are sealed with Box, as app secrets are.
type WebhookService struct {
	Store store.Executor
	Box   *seal.Box
	Now   func() time.Time
}

var _ wxnotify.WebhookService = (*WebhookService)(nil)

// CreateWebhook validates and stores a webhook, generating its secret if
// none is given.
func (s *WebhookService) CreateWebhook(ctx context.Context, w *wxnotify.Webhook) error {
	if err := wxnotify.CheckAppAccess(ctx, w.AppID); err != nil {
		return err
	}
	if err := w.Validate(); err != nil {
		return err
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
		b := make([]byte, 24)
		crand.Read(b)
		w.Secret = wxnotify.Secret("whsec_" + hex.EncodeToString(b))
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	id, err := s.Store.WebhookInsert(ctx, &store.WebhookInsertParams{
		AppID: w.AppID, URL: w.URL, SecretSealed: s.Box.Seal([]byte(w.Secret.Reveal()), webhookSecretContext(w.AppID)), Now: now,
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
func (s *WebhookService) FindWebhooks(ctx context.Context) ([]*wxnotify.Webhook, error) {
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

// DeleteWebhook removes a webhook and its undelivered events.
func (s *WebhookService) DeleteWebhook(ctx context.Context, id int64) error {
	row, err := s.Store.WebhookGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return wxnotify.Errorf(wxnotify.ENOTFOUND, "webhook %d not found", id)
	} else if err != nil {
		return fmt.Errorf("get webhook: %w", err)
	}
	if err := wxnotify.CheckAppAccess(ctx, row.AppID); err != nil {
		if wxnotify.ErrorCode(err) == wxnotify.EFORBIDDEN {
			return wxnotify.Errorf(wxnotify.ENOTFOUND, "webhook %d not found", id)
		}
		return err
	}
	if err := s.Store.WebhookDelete(ctx, id); errors.Is(err, store.ErrNotFound) {
		return wxnotify.Errorf(wxnotify.ENOTFOUND, "webhook %d not found", id)
	} else if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	return nil
}

// WebhookSender delivers the webhook outbox: it claims due events with a
// lease, POSTs each (signed, see wxnotify.WebhookSignatureHeader) with at
// most Concurrency requests in flight, and records the result: a 2xx
// deletes the event; anything else (another status, a redirect to another
// host, a timeout) retries it with exponential backoff, until MaxAttempts,
// after which it is kept as dead. Delivery is at least once. Store and Box
// are required.
//
// Each request carries Content-Type: application/json, the signature,
// X-Wxnotify-Event (the event name) and X-Wxnotify-Delivery (the outbox id,
// the same on every retry).
type WebhookSender struct {
	Store store.Executor
	Box   *seal.Box
	// HTTPClient sends the requests; nil means NewWebhookHTTPClient. A
	// given client is copied with its redirect policy replaced (same host
	// only) and Timeout set if zero. TLS certificates are always verified
	// unless the given client's transport says otherwise.
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

// NewWebhookHTTPClient returns the client webhooks are sent with by
// default: every phase timed out, TLS verified, redirects followed only
// within the same host (and never from https to http), and no connection
// to a loopback, private, link-local or unspecified address (checked on
// the resolved address, so DNS cannot smuggle one in).
func NewWebhookHTTPClient(timeout time.Duration) *http.Client {
	return newWebhookHTTPClient(timeout, false)
}

func newWebhookHTTPClient(timeout time.Duration, allowPrivate bool) *http.Client {
	if timeout <= 0 {
		timeout = DefaultWebhookTimeout
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
// never downgrading https, at most maxWebhookRedirects times; otherwise the
// redirect answer itself is the result (a failed attempt).
func sameHostRedirect(req *http.Request, via []*http.Request) error {
	first := via[0]
	if len(via) > maxWebhookRedirects || req.URL.Host != first.URL.Host ||
		(first.URL.Scheme == "https" && req.URL.Scheme != "https") {
		return http.ErrUseLastResponse
	}
	return nil
}

func (s *WebhookSender) init() {
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
		s.Concurrency = orInt(s.Concurrency, DefaultWebhookConcurrency)
		s.Timeout = orDur(s.Timeout, DefaultWebhookTimeout)
		s.LeaseTTL = orDur(s.LeaseTTL, DefaultWebhookLeaseTTL)
		s.PollInterval = orDur(s.PollInterval, DefaultWebhookPollInterval)
		s.MaxAttempts = orInt(s.MaxAttempts, DefaultWebhookMaxAttempts)
		s.MinBackoff = orDur(s.MinBackoff, DefaultWebhookMinBackoff)
		s.MaxBackoff = orDur(s.MaxBackoff, DefaultWebhookMaxBackoff)
		if s.HTTPClient == nil {
			s.client = newWebhookHTTPClient(s.Timeout, s.AllowPrivateNetworks)
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

// Drain sends every event due now, keeping up to Concurrency requests in
// flight, and returns when none is due and every answer is recorded: the
// webhook-delivery job.
func (s *WebhookSender) Drain(ctx context.Context) error {
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
func (s *WebhookSender) Tick(ctx context.Context) (int, error) {
	s.init()
	n, err := s.claimAndSend(ctx)
	s.wg.Wait()
	return n, err
}

func (s *WebhookSender) claimAndSend(ctx context.Context) (int, error) {
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
func (s *WebhookSender) deliver(ctx context.Context, o *store.WebhookOutbox) {
	err := s.post(ctx, o)
	f := &store.WebhookOutboxFinishParams{ID: o.ID, Holder: s.Holder, Now: s.Now()}
	switch {
	case err == nil:
		f.Delivered = true
	case o.Attempts >= s.MaxAttempts:
		f.Dead, f.LastError = true, err.Error()
		s.Logger.Warn("webhook event dead: gave up", "outbox_id", o.ID, "webhook_id", o.WebhookID, "attempts", o.Attempts, "err", err)
	default:
		f.NextAttemptAt, f.LastError = f.Now.Add(s.backoff(o.Attempts)), err.Error()
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
func (s *WebhookSender) backoff(attempts int) time.Duration {
	d := min(s.MinBackoff<<min(attempts-1, 20), s.MaxBackoff)
	return d - d/4 + rand.N(d/2+1)
}

func (s *WebhookSender) post(ctx context.Context, o *store.WebhookOutbox) error {
	body := o.Payload // written with the outcome, in its transaction
	secret, err := s.Box.Open(o.SecretSealed, webhookSecretContextOf(body))
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
	req.Header.Set("X-Wxnotify-Delivery", strconv.FormatInt(o.ID, 10))
	req.Header.Set(wxnotify.WebhookSignatureHeader, SignWebhook(string(secret), s.Now(), body))
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

// webhookSecretContextOf is the seal context of the event's app.
func webhookSecretContextOf(body []byte) string {
	var e struct {
		AppID string `json:"appid"`
	}
	_ = json.Unmarshal(body, &e)
	return webhookSecretContext(e.AppID)
}

// redactURL drops the query, which may carry a token of the receiver's.
func redactURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		return raw[:i]
	}
	return raw
}

func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// SignWebhook returns the X-Wxnotify-Signature value of body sent at t:
// "t=<unix>,v1=<hex HMAC-SHA256(secret, "<unix>.<body>")>".
func SignWebhook(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + webhookMAC(secret, ts, body)
}

func webhookMAC(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// Errors of VerifyWebhookSignature.
var (
	ErrWebhookSignatureMissing  = errors.New("webhook signature: header missing or malformed")
	ErrWebhookSignatureExpired  = errors.New("webhook signature: timestamp outside tolerance")
	ErrWebhookSignatureMismatch = errors.New("webhook signature: no v1 matches")
)

// VerifyWebhookSignature checks an X-Wxnotify-Signature header against the
// raw body received, for receivers (and tests). It accepts the header if
// its t is within tolerance of now (either way; tolerance <= 0 means
// DefaultWebhookSignatureTolerance) and any v1 in it equals the HMAC,
// compared in constant time.
func VerifyWebhookSignature(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultWebhookSignatureTolerance
	}
	var (
		ts   string
		sigs []string
	)
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrWebhookSignatureMissing
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrWebhookSignatureExpired
	}
	want := []byte(webhookMAC(secret, ts, body))
	for _, sig := range sigs {
		if hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return ErrWebhookSignatureMismatch
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
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
		return errPrivateAddress
	}
	return nil
}
