package wechatsim

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults, as WeChat documents them where it does.
const (
	// DefaultDailyTokenQuota is the daily call limit of GET /cgi-bin/token (2000 a day).
	DefaultDailyTokenQuota = 2000
	// DefaultDailySendQuota is the daily limit of subscribeMessage.send
	// (10 million a day for a mini program without payment).
	DefaultDailySendQuota = 10_000_000
	// DefaultDailyTemplateQuota is the daily limit of the legacy template send (1 million a day).
	DefaultDailyTemplateQuota = 1_000_000
	// StableTokenDailyQuota is the daily limit of POST /cgi-bin/stable_token (500,000 a day).
	StableTokenDailyQuota = 500_000
	// StableForceDailyQuota is how many force_refresh=true calls may refresh per day.
	StableForceDailyQuota = 20
	// StableForceInterval is the minimum gap between two effective force refreshes;
	// a force refresh sooner than this returns the current token unchanged.
	StableForceInterval = 30 * time.Second
	// TokenLifetime is the lifetime of every access_token (expires_in 7200).
	TokenLifetime = 7200 * time.Second
	// TokenOverlap is how long a superseded token keeps working.
	TokenOverlap = 5 * time.Minute
	// LoginCodeLifetime is how long a wx.login code can be exchanged.
	LoginCodeLifetime = 5 * time.Minute
	// FormIDLifetime is how long a form_id or prepay_id stays usable.
	FormIDLifetime = 7 * 24 * time.Hour
	// PrepayIDUses is how many legacy template messages one prepay_id allows.
	PrepayIDUses = 3
	// DefaultInboxLimit is how many deliveries are kept per user when Options.InboxLimit is 0;
	// older ones are dropped (counts stay exact).
	DefaultInboxLimit = 1000
	// MaxPrivateTemplates is the number of templates addtemplate accepts per app (200012 beyond).
	MaxPrivateTemplates = 25
)

// quotaZone is where the simulator's days begin and end: quotas reset at midnight China
// Standard Time (UTC+8, no daylight saving), as WeChat's do.
var quotaZone = time.FixedZone("CST", 8*3600)

// Options configures a Server. The zero value is usable.
type Options struct {
	// Now is the clock. Nil means the simulator's own clock: wall time plus whatever
	// Advance added, so a standalone simulator ages tokens in real time and tests can jump.
	Now func() time.Time
	// Latency is added to every API call (not to /sim/ control calls).
	Latency time.Duration
	// LatencyJitter adds a uniformly random extra latency in [0, LatencyJitter).
	LatencyJitter time.Duration
	// CallbackURL is where PushEvent POSTs when the app has no CallbackURL of its own.
	CallbackURL string
	// HTTPClient pushes events; nil means http.DefaultClient.
	HTTPClient *http.Client
	// InboxLimit is how many deliveries are kept per user; 0 means DefaultInboxLimit.
	InboxLimit int
}

// Server is a simulated WeChat API server (api.weixin.qq.com) plus a control API under /sim/.
// It is safe for concurrent use. Every time-based rule uses the simulator clock.
type Server struct {
	now        func() time.Time
	ownClock   bool
	offset     atomic.Int64 // nanoseconds added by Advance
	latFixed   atomic.Int64
	latJitter  atomic.Int64
	inboxLimit int
	client     *http.Client
	callback   string

	apps   sync.Map // appid -> *app
	tokens sync.Map // access_token -> *token

	faultN  atomic.Int32
	faultMu sync.Mutex
	faults  []*faultRec

	msgID atomic.Uint64
	seq   atomic.Uint64
	anon  app // counts calls that name no known app
	lib   *library
}

// New returns a Server with no apps. Add apps with AddApp.
func New(opts Options) *Server {
	s := &Server{
		now:        opts.Now,
		inboxLimit: opts.InboxLimit,
		client:     opts.HTTPClient,
		callback:   opts.CallbackURL,
		lib:        newLibrary(),
	}
	if s.now == nil {
		s.ownClock = true
		s.now = time.Now
	}
	if s.inboxLimit <= 0 {
		s.inboxLimit = DefaultInboxLimit
	}
	if s.client == nil {
		s.client = http.DefaultClient
	}
	s.latFixed.Store(int64(opts.Latency))
	s.latJitter.Store(int64(opts.LatencyJitter))
	// Real msgids are 64-bit numbers far above 2^53 (e.g. 2794188253209100289); start there so
	// clients that parse them as float64 lose precision here exactly as they would in production.
	s.msgID.Store(1<<61 + rand.Uint64N(1<<60))
	return s
}

// Now returns the simulator's current time.
func (s *Server) Now() time.Time {
	t := s.now()
	if s.ownClock {
		t = t.Add(time.Duration(s.offset.Load()))
	}
	return t
}

// Advance moves the simulator clock forward by d. It does nothing when Options.Now was set:
// the caller owns that clock.
func (s *Server) Advance(d time.Duration) {
	if s.ownClock && d > 0 {
		s.offset.Add(int64(d))
	}
}

// SetLatency replaces the fixed and jitter latency added to every API call.
func (s *Server) SetLatency(fixed, jitter time.Duration) {
	s.latFixed.Store(int64(fixed))
	s.latJitter.Store(int64(jitter))
}

// wait sleeps for the configured latency or until ctx ends. Latency is wall-clock time, not
// simulator time: it exists to shape real load.
func (s *Server) wait(ctx context.Context) {
	d := time.Duration(s.latFixed.Load())
	if j := s.latJitter.Load(); j > 0 {
		d += time.Duration(rand.Int64N(j))
	}
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// dayOf returns the quota day number of t (days since the epoch in UTC+8).
func dayOf(t time.Time) int64 {
	return (t.Unix() + 8*3600) / 86400
}
