// Package token is the central access_token service and the app registry:
// the only package that reads an app secret.
//
// One instance at a time refreshes an app's token, holding a lease row in the
// database; the others read the token it stored. A refresh is due a little
// before the token expires (RefreshAhead, inside WeChat's 5-minute overlap
// window), and a rejected token is replaced only if it is still the current
// one, so a burst of 40001 answers causes a single fetch.
package token

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/store"
)

// Defaults of the Service's tunables; the zero value of a field means these.
const (
	// DefaultRefreshAhead is how long before expiry a token is refreshed. It
	// lies inside WeChat's 5-minute window in which stable_token renews the
	// token and the old one keeps working, and leaves a minute for retries.
	DefaultRefreshAhead = 4 * time.Minute
	// DefaultLeaseTTL bounds how long an instance may hold the refresh lease;
	// a crashed holder delays the others by at most this.
	DefaultLeaseTTL = 30 * time.Second
	// DefaultMinBackoff and DefaultMaxBackoff bound the wait between failed
	// refreshes (WeChat -1, 45009, network errors).
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 2 * time.Minute
	// DefaultPollInterval is how often an instance that waits for another
	// instance's refresh looks at the database.
	DefaultPollInterval = 50 * time.Millisecond
)

// Fetcher asks WeChat for a token. It is implemented over the wechat client
// by WeChatFetcher; tests may use their own.
type Fetcher interface {
	// FetchToken returns a token and its lifetime. With TokenModeStable it
	// calls stable_token (force_refresh only when force is true); with
	// TokenModeLegacy it calls /cgi-bin/token and ignores force. Errors must
	// not contain the secret.
	FetchToken(ctx context.Context, appID string, secret wxnotify.Secret, mode wxnotify.TokenMode, force bool) (value string, expiresIn time.Duration, err error)
}

// Service implements wxnotify.TokenService. Store, Box and Fetcher are
// required; every other field has a working zero value.
type Service struct {
	Store   store.Executor
	Box     *seal.Box
	Fetcher Fetcher
	// Holder names this instance in lease rows; a random id when empty.
	Holder string
	Now    func() time.Time
	Logger *slog.Logger

	RefreshAhead time.Duration
	LeaseTTL     time.Duration
	MinBackoff   time.Duration
	MaxBackoff   time.Duration
	PollInterval time.Duration
	// DailyLimit, when set, gives the daily send limit of a message kind
	// that Status reports (the pipeline's; else WeChat's defaults).
	DailyLimit func(kind string) int64
	// OnRefresh, when set, is called after every fetch from WeChat with its
	// error (nil on success), for metrics.
	OnRefresh func(appID string, err error)
	// Sleep waits between polls; tests replace it. It returns early with
	// ctx.Err() when ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error

	initOnce sync.Once
	flight   singleflight.Group
	mu       sync.Mutex
	cache    map[string]*cached
	// rejected is the generation of each app's token that WeChat rejected
	// here: it is never handed out again, even when its replacement could
	// not be fetched (the caller then hears EUNAVAILABLE and retries).
	rejected map[string]int64
}

var _ wxnotify.TokenService = (*Service)(nil)

// cached is an app's token as this instance last read it.
type cached struct {
	token      wxnotify.AccessToken
	generation int64
}

func (s *Service) init() {
	s.initOnce.Do(func() {
		if s.Holder == "" {
			b := make([]byte, 6)
			rand.Read(b)
			s.Holder = "wxnotify-" + hex.EncodeToString(b)
		}
		s.Now = nowFunc(s.Now)
		if s.Logger == nil {
			s.Logger = slog.New(slog.DiscardHandler)
		}
		if s.Sleep == nil {
			s.Sleep = sleepCtx
		}
		s.RefreshAhead = orDefault(s.RefreshAhead, DefaultRefreshAhead)
		s.LeaseTTL = orDefault(s.LeaseTTL, DefaultLeaseTTL)
		s.MinBackoff = orDefault(s.MinBackoff, DefaultMinBackoff)
		s.MaxBackoff = orDefault(s.MaxBackoff, DefaultMaxBackoff)
		s.PollInterval = orDefault(s.PollInterval, DefaultPollInterval)
		s.cache = make(map[string]*cached)
		s.rejected = make(map[string]int64)
	})
}

// Token returns a valid token for the app. On the hot path it answers from
// memory without touching the database; it reads the database once the
// cached token is due for refresh, and refreshes (or waits for the instance
// that does) only when the stored token is due too.
func (s *Service) Token(ctx context.Context, appID string) (*wxnotify.AccessToken, error) {
	s.init()
	now := s.Now()
	c, rejected := s.cachedUnrejected(appID)
	if c != nil && now.Before(c.token.ExpiresAt.Add(-s.RefreshAhead)) {
		t := c.token
		return &t, nil
	}
	v, err, _ := s.flight.Do(appID, func() (any, error) {
		return s.ensure(ctx, appID, rejected)
	})
	if err != nil {
		return nil, err
	}
	t := v.(*cached).token
	return &t, nil
}

// Invalidate replaces the app's token if rejected is still current.
func (s *Service) Invalidate(ctx context.Context, appID string, rejected wxnotify.Secret) (*wxnotify.AccessToken, error) {
	s.init()
	// The key includes the rejected token so that callers holding the same
	// rejected token share one refresh, and a caller with another token is
	// not folded into it.
	v, err, _ := s.flight.Do("invalidate\x00"+appID+"\x00"+rejected.Reveal(), func() (any, error) {
		row, err := s.Store.TokenGet(ctx, appID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("get token: %w", err)
		}
		if row != nil && row.ValueSealed != nil {
			cur, err := s.open(row)
			if err != nil {
				return nil, err
			}
			if cur.token.Value != rejected {
				// Someone already replaced it: use theirs.
				s.store(appID, cur)
				return cur, nil
			}
			s.reject(appID, row.Generation)
			return s.ensure(ctx, appID, row.Generation)
		}
		return s.ensure(ctx, appID, 0)
	})
	if err != nil {
		return nil, err
	}
	t := v.(*cached).token
	return &t, nil
}

// Refresh implements wxnotify.TokenService: the stored token's generation
// is treated as rejected, so one instance fetches a new one under the lease
// (a token another instance stored meanwhile is kept). A refresh backing
// off after a failure is not forced: it reports the failure.
func (s *Service) Refresh(ctx context.Context, appID string) (*wxnotify.TokenStatus, error) {
	s.init()
	_, err, _ := s.flight.Do("refresh\x00"+appID, func() (any, error) {
		row, err := s.Store.TokenGet(ctx, appID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("get token: %w", err)
		}
		var gen int64
		if row != nil && row.ValueSealed != nil {
			gen = row.Generation
			s.reject(appID, gen)
		}
		return s.ensure(ctx, appID, gen)
	})
	if err != nil {
		return nil, err
	}
	return s.Status(ctx, appID)
}

// ensure returns a token that is not due for refresh, reading it from the
// database, refreshing it under the lease, or waiting for another instance's
// refresh. With rejectedGen > 0 the token of that generation is treated as
// due whatever its expiry, because WeChat rejected it.
func (s *Service) ensure(ctx context.Context, appID string, rejectedGen int64) (*cached, error) {
	app, err := s.Store.AppGet(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "app %s not found", appID)
	} else if err != nil {
		return nil, fmt.Errorf("get app: %w", err)
	}
	for {
		now := s.Now()
		row, err := s.Store.TokenGet(ctx, appID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("get token: %w", err)
		}
		var cur *cached
		if row != nil && row.ValueSealed != nil {
			if cur, err = s.open(row); err != nil {
				return nil, err
			}
			s.store(appID, cur)
		}
		rejected := cur != nil && rejectedGen != 0 && cur.generation == rejectedGen
		if cur != nil && !rejected && now.Before(cur.token.ExpiresAt.Add(-s.RefreshAhead)) {
			return cur, nil
		}
		// Due. After a failure, keep serving a still-valid token until the
		// backoff ends; without one, report the failure.
		if row != nil && now.Before(row.RetryAt) {
			if cur != nil && !rejected && now.Before(cur.token.ExpiresAt) {
				return cur, nil
			}
			return nil, wxnotify.Errorf(wxnotify.EUNAVAILABLE, "no valid access_token for %s: last refresh failed: %s", appID, row.LastError)
		}
		ok, err := s.Store.TokenLeaseAcquire(ctx, &store.TokenLeaseAcquireParams{
			AppID: appID, Holder: s.Holder, Now: now, Until: now.Add(s.LeaseTTL),
		})
		if err != nil {
			return nil, fmt.Errorf("acquire token lease: %w", err)
		}
		if ok {
			return s.refreshHolding(ctx, app, rejectedGen)
		}
		// Another instance is refreshing. A still-valid token may be used
		// meanwhile; otherwise wait for theirs.
		if cur != nil && !rejected && now.Before(cur.token.ExpiresAt) {
			return cur, nil
		}
		if err := s.Sleep(ctx, s.PollInterval); err != nil {
			return nil, err
		}
	}
}

// refreshHolding fetches and stores a new token while this instance holds
// the lease. It re-reads the row first: the previous holder may have stored a
// fresh token between our read and our lease.
func (s *Service) refreshHolding(ctx context.Context, app *store.App, rejectedGen int64) (*cached, error) {
	defer func() {
		// Release with a fresh context: the caller's may be cancelled.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = s.Store.TokenLeaseRelease(ctx, app.AppID, s.Holder)
	}()
	row, err := s.Store.TokenGet(ctx, app.AppID)
	if err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	var prev *cached
	if row.ValueSealed != nil {
		if prev, err = s.open(row); err != nil {
			return nil, err
		}
		rejected := rejectedGen != 0 && prev.generation == rejectedGen
		if !rejected && s.Now().Before(prev.token.ExpiresAt.Add(-s.RefreshAhead)) {
			s.store(app.AppID, prev)
			return prev, nil
		}
	}
	secretPT, err := s.Box.Open(app.SecretSealed, secretContext(app.AppID))
	if err != nil {
		return nil, fmt.Errorf("open secret of app %s: %w", app.AppID, err)
	}
	secret := wxnotify.Secret(secretPT)
	mode := wxnotify.TokenMode(app.TokenMode)

	value, expiresIn, err := s.Fetcher.FetchToken(ctx, app.AppID, secret, mode, false)
	if err == nil && prev != nil && rejectedGen != 0 && prev.generation == rejectedGen && wxnotify.Secret(value) == prev.token.Value && mode != wxnotify.TokenModeLegacy {
		// stable_token in normal mode handed back the token WeChat just
		// rejected: only then is one of the 20 daily force_refresh calls spent.
		s.Logger.Warn("stable_token returned the rejected token; forcing a refresh", "appid", app.AppID)
		value, expiresIn, err = s.Fetcher.FetchToken(ctx, app.AppID, secret, mode, true)
	}
	now := s.Now()
	if s.OnRefresh != nil {
		s.OnRefresh(app.AppID, err)
	}
	if err != nil {
		backoff := s.backoff(row)
		msg := err.Error()
		s.Logger.Error("access_token refresh failed", "appid", app.AppID, "err", msg, "retry_in", backoff)
		_ = s.Store.TokenSaveError(ctx, &store.TokenSaveErrorParams{
			AppID: app.AppID, Holder: s.Holder, Message: msg, Now: now, RetryAt: now.Add(backoff),
		})
		if prev != nil && (rejectedGen == 0 || prev.generation != rejectedGen) && now.Before(prev.token.ExpiresAt) {
			return prev, nil
		}
		return nil, wxnotify.Errorf(wxnotify.EUNAVAILABLE, "no valid access_token for %s: refresh failed: %s", app.AppID, msg)
	}
	expiresAt := now.Add(expiresIn)
	ok, err := s.Store.TokenSave(ctx, &store.TokenSaveParams{
		AppID:       app.AppID,
		Holder:      s.Holder,
		ValueSealed: s.Box.Seal([]byte(value), tokenContext(app.AppID)),
		ExpiresAt:   expiresAt,
		Now:         now,
	})
	if err != nil {
		return nil, fmt.Errorf("save token: %w", err)
	}
	if !ok {
		// Our lease ran out while WeChat answered, and another instance may
		// have fetched since; our token is still valid for now (both
		// endpoints keep the previous token working for a while).
		s.Logger.Warn("token lease lost during refresh", "appid", app.AppID)
	}
	gen := int64(1)
	if prev != nil {
		gen = prev.generation + 1
	}
	c := &cached{generation: gen, token: wxnotify.AccessToken{AppID: app.AppID, Value: wxnotify.Secret(value), ExpiresAt: expiresAt, FetchedAt: now}}
	if ok {
		s.store(app.AppID, c)
	}
	s.Logger.Info("access_token refreshed", "appid", app.AppID, "mode", mode, "expires_at", expiresAt)
	return c, nil
}

// Status returns the app's token state, never the token.
func (s *Service) Status(ctx context.Context, appID string) (*wxnotify.TokenStatus, error) {
	s.init()
	app, err := s.Store.AppGet(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "app %s not found", appID)
	} else if err != nil {
		return nil, fmt.Errorf("get app: %w", err)
	}
	st := &wxnotify.TokenStatus{AppID: appID, Mode: wxnotify.TokenMode(app.TokenMode)}
	if st.SentToday, err = s.sentToday(ctx, appID); err != nil {
		return nil, err
	}
	row, err := s.Store.TokenGet(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return st, nil
	} else if err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	st.HasToken = row.ValueSealed != nil
	st.ExpiresAt, st.FetchedAt, st.Fetches = row.ExpiresAt, row.FetchedAt, row.Fetches
	if st.HasToken {
		st.RefreshAt = row.ExpiresAt.Add(-s.RefreshAhead)
	}
	if s.Now().Before(row.LeaseUntil) {
		st.LeaseHolder = row.LeaseHolder
	}
	st.LastError, st.LastErrorAt = row.LastError, row.LastErrorAt
	return st, nil
}

// sentToday reads the app's daily send counters of this quota day.
func (s *Service) sentToday(ctx context.Context, appID string) ([]wxnotify.DailySendStatus, error) {
	day := wxnotify.QuotaDay(s.Now())
	counts, err := s.Store.DailySendList(ctx, day)
	if err != nil {
		return nil, fmt.Errorf("daily sends: %w", err)
	}
	sent := map[string]int64{}
	for _, c := range counts {
		if c.AppID == appID {
			sent[c.Kind] = c.Sent
		}
	}
	out := make([]wxnotify.DailySendStatus, 0, 2)
	for _, kind := range []wxnotify.MessageKind{wxnotify.MessageSubscribe, wxnotify.MessageTemplate} {
		limit := int64(wxnotify.DefaultDailySubscribeLimit)
		if kind == wxnotify.MessageTemplate {
			limit = wxnotify.DefaultDailyTemplateLimit
		}
		if s.DailyLimit != nil {
			limit = s.DailyLimit(string(kind))
		}
		out = append(out, wxnotify.DailySendStatus{Kind: kind, Day: day, Sent: sent[string(kind)], Limit: limit})
	}
	return out, nil
}

// NextRefresh returns when the app's token is next due, for the scheduler.
func (s *Service) NextRefresh(ctx context.Context, appID string) (time.Time, error) {
	s.init()
	row, err := s.Store.TokenGet(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return s.Now(), nil
	} else if err != nil {
		return time.Time{}, err
	}
	if row.ValueSealed == nil {
		return maxTime(s.Now(), row.RetryAt), nil
	}
	return maxTime(row.ExpiresAt.Add(-s.RefreshAhead), row.RetryAt), nil
}

func (s *Service) backoff(row *store.Token) time.Duration {
	// Double the previous wait, measured from the last failure's retry time.
	d := s.MinBackoff
	if !row.LastErrorAt.IsZero() && row.RetryAt.After(row.LastErrorAt) {
		d = 2 * row.RetryAt.Sub(row.LastErrorAt)
	}
	return min(max(d, s.MinBackoff), s.MaxBackoff)
}

func (s *Service) open(row *store.Token) (*cached, error) {
	pt, err := s.Box.Open(row.ValueSealed, tokenContext(row.AppID))
	if err != nil {
		return nil, fmt.Errorf("open token of app %s: %w", row.AppID, err)
	}
	return &cached{generation: row.Generation, token: wxnotify.AccessToken{
		AppID: row.AppID, Value: wxnotify.Secret(pt), ExpiresAt: row.ExpiresAt, FetchedAt: row.FetchedAt,
	}}, nil
}

// cachedUnrejected returns the app's cached token unless WeChat rejected
// it, and the generation that was rejected (0: none).
func (s *Service) cachedUnrejected(appID string) (*cached, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, rejected := s.cache[appID], s.rejected[appID]
	if c != nil && c.generation == rejected {
		return nil, rejected
	}
	return c, rejected
}

func (s *Service) reject(appID string, generation int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejected[appID] = max(s.rejected[appID], generation)
}

func (s *Service) store(appID string, c *cached) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.cache[appID]; old == nil || c.generation >= old.generation {
		s.cache[appID] = c
	}
}

func tokenContext(appID string) string { return "access_token:" + appID }

func nowFunc(f func() time.Time) func() time.Time {
	if f != nil {
		return f
	}
	return time.Now
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
