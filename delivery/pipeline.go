package delivery

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net/http/httptrace"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/wechat"
)

// Defaults of the Pipeline; a zero field means its default.
const (
	// DefaultConcurrency bounds the sends in flight per instance. At 50 ms
	// of WeChat latency, 256 senders allow about 5,000 sends a second.
	DefaultConcurrency = 256
	// DefaultClaimBatch bounds one claim (docs/decisions.md: 500).
	DefaultClaimBatch = 500
	// DefaultLeaseTTL bounds how long an instance may hold a claimed
	// message; it must exceed the WeChat client's timeout.
	DefaultLeaseTTL = 30 * time.Second
	// DefaultPollInterval is how often a pipeline looks again when a due
	// message could not be claimed (its credit busy in another claim).
	DefaultPollInterval = 50 * time.Millisecond
	// DefaultMaxIdleWait bounds an idle pipeline's sleep when nothing is
	// due sooner: the fallback for a wake-up that never came (another
	// instance's accept without a DueListener, a lost notification).
	DefaultMaxIdleWait = time.Second
	// DefaultMaxAttempts bounds the calls to WeChat for one message.
	DefaultMaxAttempts = 8
	// DefaultMinBackoff and DefaultMaxBackoff bound the wait before a retry;
	// the wait doubles per attempt, with full jitter.
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 5 * time.Minute
	// DefaultAppRate limits sends per second per app (WeChat answers 45011
	// when an app calls an API too often); DefaultAppBurst is its bucket.
	DefaultAppRate  = 5000
	DefaultAppBurst = 500
	// DefaultThrottlePause is the first wait of an app's sends after a 45011.
	DefaultThrottlePause = time.Second

	// DefaultRetention is how long terminal messages (and their attempts)
	// are kept for callers to query before the retention job deletes them.
	DefaultRetention = 30 * 24 * time.Hour
)

// Pipeline claims due messages and sends them. Queue, Tokens and Client
// are required. It decides each outcome from WeChat's answer; the queue
// records it (and its webhook events) in one transaction.
type Pipeline struct {
	Queue  *queue.Queue
	Tokens wxnotify.TokenService
	Client *wechat.Client
	// Holder names this instance in claims; random when empty.
	Holder string
	Now    func() time.Time
	Logger *slog.Logger

	Concurrency  int
	ClaimBatch   int
	LeaseTTL     time.Duration
	PollInterval time.Duration
	// MaxIdleWait: see DefaultMaxIdleWait.
	MaxIdleWait time.Duration
	MaxAttempts int
	MinBackoff  time.Duration
	MaxBackoff  time.Duration
	AppRate     float64
	AppBurst    int
	// AppConcurrency bounds one app's sends in flight, so one busy app
	// cannot take every sender; 0 means Concurrency (no bound of its own).
	AppConcurrency int
	// Retention keeps terminal messages this long (DefaultRetention).
	Retention time.Duration
	// DailySubscribeLimit and DailyTemplateLimit are each app's daily send
	// limits (wxnotify.DefaultDailySubscribeLimit, DefaultDailyTemplateLimit
	// when 0); see CheckDailyLimits.
	DailySubscribeLimit int64
	DailyTemplateLimit  int64
	// ThrottlePause is how long an app's sends wait after its first 45011
	// in a row (DefaultThrottlePause); each further one doubles it, up to a
	// minute.
	ThrottlePause time.Duration
	// OnAttempt, when set, is called after every WeChat call (metrics).
	OnAttempt func(m *store.Message, a *store.Attempt)
	// OnTemplateRejected, when set, is called when WeChat answers 40037
	// (invalid template_id); it must not block.
	OnTemplateRejected func(appID, templateID string)

	initOnce sync.Once
	wake     chan struct{}
	freed    chan struct{} // a sender finished
	slots    chan struct{}
	results  chan *queue.FinishParams
	limMu    sync.Mutex
	limiters map[string]waiter
	appSlots map[string]chan struct{} // per-app semaphores, under limMu
	pauseMu  sync.Mutex
	paused   map[pauseKey]appPause // why and until when an app's sends (of a kind) wait
	daily    []*store.DailySend    // today's counters as CheckDailyLimits last read them
	// users serializes the sends to one (app, openid): striped, so it needs
	// no bookkeeping; two users sharing a stripe wait for each other's call
	// only (with 32 senders, ~3% of sends).
	users [userStripes]sync.Mutex
}

const userStripes = 1024

func userStripe(appID, openID string) int {
	h := fnv.New32a()
	h.Write([]byte(appID))
	h.Write([]byte{0})
	h.Write([]byte(openID))
	return int(h.Sum32() % userStripes)
}

// pauseKey names what a pause holds: an app's sends of one kind, or of
// every kind when kind is "".
type pauseKey struct{ appID, kind string }

// appPause holds one app's sends: its daily quota is spent (45009) or its
// daily send limit reached, or it called too often (45011, throttles in a
// row so far).
type appPause struct {
	until     time.Time
	reason    string
	throttles int
}

func (p *Pipeline) init() {
	p.initOnce.Do(func() {
		if p.Holder == "" {
			b := make([]byte, 6)
			crand.Read(b)
			p.Holder = "wxnotify-" + hex.EncodeToString(b)
		}
		if p.Now == nil {
			p.Now = time.Now
		}
		if p.Logger == nil {
			p.Logger = slog.New(slog.DiscardHandler)
		}
		p.Concurrency = orInt(p.Concurrency, DefaultConcurrency)
		p.ClaimBatch = orInt(p.ClaimBatch, DefaultClaimBatch)
		p.MaxAttempts = orInt(p.MaxAttempts, DefaultMaxAttempts)
		p.AppBurst = orInt(p.AppBurst, DefaultAppBurst)
		p.LeaseTTL = orDur(p.LeaseTTL, DefaultLeaseTTL)
		p.PollInterval = orDur(p.PollInterval, DefaultPollInterval)
		p.MaxIdleWait = max(orDur(p.MaxIdleWait, DefaultMaxIdleWait), p.PollInterval)
		p.MinBackoff = orDur(p.MinBackoff, DefaultMinBackoff)
		p.MaxBackoff = orDur(p.MaxBackoff, DefaultMaxBackoff)
		p.Retention = orDur(p.Retention, DefaultRetention)
		if p.AppRate == 0 {
			p.AppRate = DefaultAppRate
		}
		p.wake = make(chan struct{}, 1)
		p.freed = make(chan struct{}, 1)
		p.slots = make(chan struct{}, p.Concurrency)
		p.results = make(chan *queue.FinishParams, p.Concurrency)
		p.limiters = make(map[string]waiter)
		p.appSlots = make(map[string]chan struct{})
		p.AppConcurrency = orInt(p.AppConcurrency, p.Concurrency)
		p.paused = make(map[pauseKey]appPause)
		p.ThrottlePause = orDur(p.ThrottlePause, DefaultThrottlePause)
	})
}

// Wake tells an idle pipeline that messages were stored. It never blocks.
func (p *Pipeline) Wake() {
	p.init()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run claims and sends until ctx ends, then stops claiming, lets the sends
// in flight finish (each bounded by the WeChat client's timeout), records
// their outcomes and returns: a graceful shutdown leaves no message claimed.
func (p *Pipeline) Run(ctx context.Context) error {
	p.init()
	var sends sync.WaitGroup
	finished := make(chan struct{})
	go func() { p.finishLoop(); close(finished) }()

	// Under a backlog, claim in batches: wait (briefly) until a quarter of
	// the senders are free, so that one claim transaction serves many
	// messages instead of one. When idle, claim at once for low latency.
	want := max(1, min(p.ClaimBatch, p.Concurrency/4))
	backlog := false
	for ctx.Err() == nil {
		free := p.Concurrency - len(p.slots)
		if free <= 0 || (backlog && free < want) {
			deadline := time.Now().Add(2 * time.Millisecond)
			for ctx.Err() == nil && free < want {
				wait := time.Until(deadline)
				if free > 0 && wait <= 0 {
					break // waited long enough: claim what is free
				} else if free <= 0 {
					wait = time.Second // no sender free: wait for one
				}
				select {
				case <-ctx.Done():
				case <-p.freed:
				case <-time.After(wait):
				}
				free = p.Concurrency - len(p.slots)
			}
			if free <= 0 {
				continue
			}
		}
		msgs, err := p.Queue.Claim(ctx, &queue.ClaimParams{
			Holder: p.Holder, LeaseTTL: p.LeaseTTL, Limit: min(free, p.ClaimBatch),
		})
		if err != nil {
			if ctx.Err() == nil {
				p.Logger.Error("claim messages", "err", err)
				p.sleep(ctx, time.Second)
			}
			continue
		}
		for _, m := range msgs {
			if m.State != string(wxnotify.MessageSending) {
				continue // no credit: the claim moved and recorded it
			}
			p.slots <- struct{}{}
			sends.Add(1)
			go func() {
				defer func() {
					<-p.slots
					sends.Done()
					select {
					case p.freed <- struct{}{}:
					default:
					}
				}()
				p.results <- p.send(context.WithoutCancel(ctx), m)
			}()
		}
		backlog = len(msgs) == min(free, p.ClaimBatch)
		if !backlog {
			// Drained: wait for a wake-up (an accept here, or on another
			// instance through the store's DueListener) or until the next
			// message is due.
			select {
			case <-ctx.Done():
			case <-p.wake:
			case <-time.After(p.idleWait(ctx)):
			}
		}
	}
	sends.Wait()
	close(p.results)
	<-finished
	return nil
}

// idleWait is how long a drained pipeline sleeps unless woken: until the
// earliest queued message is due, at most MaxIdleWait; PollInterval when
// one is due already but was not claimed (its credit busy in another
// claim) or the store cannot say.
func (p *Pipeline) idleWait(ctx context.Context) time.Duration {
	wait, ok, err := p.Queue.NextDue(ctx)
	switch {
	case err != nil:
		return p.PollInterval
	case !ok:
		return p.MaxIdleWait
	case wait <= 0:
		return p.PollInterval
	}
	return min(max(wait, time.Millisecond), p.MaxIdleWait)
}

// finishLoop records outcomes in batches: it blocks for one, takes all that
// are waiting, and writes them in one transaction.
func (p *Pipeline) finishLoop() {
	batch := make([]*queue.FinishParams, 0, p.ClaimBatch)
	for f := range p.results {
		batch = append(batch[:0], f)
	fill:
		for len(batch) < cap(batch) {
			select {
			case f, ok := <-p.results:
				if !ok {
					break fill
				}
				batch = append(batch, f)
			default:
				break fill
			}
		}
		p.record(batch)
	}
}

func (p *Pipeline) record(batch []*queue.FinishParams) {
	for try := 0; ; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		applied, err := p.Queue.Finish(ctx, batch)
		cancel()
		if err == nil {
			for i, ok := range applied {
				if !ok {
					p.Logger.Warn("outcome not recorded: lease lost", "message_id", batch[i].ID)
				}
			}
			return
		}
		// The database is down: the outcomes must not be lost, since the
		// messages were sent. Keep trying; their leases expire meanwhile
		// and recovery would call them ambiguous, which is still true.
		p.Logger.Error("record outcomes", "err", err, "messages", len(batch), "try", try)
		time.Sleep(min(time.Duration(try+1)*time.Second, 10*time.Second))
		if try >= 30 {
			p.Logger.Error("giving up recording outcomes; recovery will mark them ambiguous", "messages", len(batch))
			return
		}
	}
}

// send makes the WeChat call for one claimed message and decides what
// happens next from the error's class.
// The outcome's Now is left zero: the queue records it on the database's
// clock, and retries are due RetryAfter from then.
func (p *Pipeline) send(ctx context.Context, m *store.Message) *queue.FinishParams {
	f := &queue.FinishParams{ID: m.ID, Holder: p.Holder}
	if pause, ok := p.pausedUntil(m.AppID, m.Kind); ok {
		// Hold the message and keep its credit; WeChat was not called, so
		// the claim's attempt is given back.
		f.State, f.RetryAfter, f.LastError, f.Uncount = string(wxnotify.MessageQueued), p.untilFromNow(pause.until), "app paused: "+pause.reason, true
		return f
	}
	slot := p.appSlot(m.AppID)
	slot <- struct{}{}
	defer func() { <-slot }()
	if err := p.limiter(m.AppID).Wait(ctx); err != nil {
		f.State, f.RetryAfter, f.Uncount = string(wxnotify.MessageQueued), time.Millisecond, true // due again at once
		return f
	}
	// One send per user at a time: WeChat answers 43108 to concurrent
	// sends for one openid.
	user := &p.users[userStripe(m.AppID, m.OpenID)]
	user.Lock()
	defer user.Unlock()
	tok, err := p.Tokens.Token(ctx, m.AppID)
	if err != nil {
		// No token: nothing reached WeChat. Retry later, keep the credit.
		return p.retryOrFail(f, m, nil, fmt.Sprintf("no access_token: %s", wxnotify.ErrorMessage(err)))
	}
	// wrote says whether the last call's request was written in full: a
	// network failure after that may hide a delivery.
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		wrote.Store(i.Err == nil)
	}})
	start := p.Now()
	msgID, err := p.call(ctx, m, tok.Value.Reveal())
	if wechat.ClassOf(err) == wechat.ClassToken {
		// Rejected token: replace it (once for a burst of rejections) and
		// retry at once; both calls are in the record. If no new token can
		// be had, the token service never hands out the rejected one again,
		// so the retry waits for a new one.
		rejected := p.attemptRecord(m, start, err)
		if p.OnAttempt != nil {
			p.OnAttempt(m, rejected)
		}
		f.Prior = append(f.Prior, rejected)
		if next, ierr := p.Tokens.Invalidate(ctx, m.AppID, tok.Value); ierr == nil {
			start = p.Now()
			wrote.Store(false)
			msgID, err = p.call(ctx, m, next.Value.Reveal())
		} else {
			return p.retryOrFail(f, m, nil, fmt.Sprintf("access_token rejected (%s) and no new one: %s", rejected.ErrMsg, wxnotify.ErrorMessage(ierr)))
		}
	}
	a := p.attemptRecord(m, start, err)
	if p.OnAttempt != nil {
		p.OnAttempt(m, a)
	}
	f.Attempt = a
	var netErr *wechat.NetError
	switch class := wechat.ClassOf(err); {
	case errors.As(err, &netErr) && wrote.Load():
		// WeChat got the request but its answer was lost (reset, timeout):
		// it may have delivered the message. Sending it again could
		// deliver it twice, so it ends like a lost lease: ambiguous, its
		// credit spent.
		f.State, a.Class = string(wxnotify.MessageAmbiguous), string(wxnotify.MessageAmbiguous)
		f.LastError = "no answer from WeChat after the request was sent (" + a.ErrMsg + "); it may have been delivered, so it is not sent again"
	case class == "":
		f.State, f.MsgID = string(wxnotify.MessageDelivered), msgID
		p.unthrottle(m.AppID)
	case a.ErrCode == 43108:
		// Another instance was sending to the user: try again shortly; it
		// is not the message's fault.
		f.State, f.RetryAfter, f.LastError, f.Uncount = string(wxnotify.MessageQueued), 50*time.Millisecond+rand.N(100*time.Millisecond), a.ErrMsg, true
	case class == wechat.ClassThrottle:
		// The app's per-minute limit: every send of the app waits, longer
		// for each 45011 in a row, and this one does not use up a retry
		// (the message's TTL still bounds how long it waits).
		f.State, f.RetryAfter, f.LastError, f.Uncount = string(wxnotify.MessageQueued), p.untilFromNow(p.throttle(m.AppID)), a.ErrMsg, true
	case class == wechat.ClassCredit:
		// This credit is bad: kill it; the next claim takes the user's next
		// one, or ends in no_credit.
		f.State, f.RetryAfter, f.KillCreditReason = string(wxnotify.MessageQueued), time.Millisecond, fmt.Sprintf("errcode %d", a.ErrCode)
		f.LastError = a.ErrMsg
		if m.Attempts >= p.MaxAttempts {
			f.State, f.LastError = string(wxnotify.MessageFailed), "credit rejected on every attempt: "+a.ErrMsg
		}
	case class == wechat.ClassQuota:
		until := nextQuotaReset(p.Now())
		p.pause(m.AppID, m.Kind, until, "daily quota (45009) spent")
		f.State, f.RunAt, f.LastError = string(wxnotify.MessageQueued), until, "daily quota (45009) spent; held until it resets"
	case class == wechat.ClassRetry, class == wechat.ClassToken:
		return p.retryOrFail(f, m, a, a.ErrMsg)
	default: // permanent
		f.State, f.LastError = string(wxnotify.MessageFailed), a.ErrMsg
		if a.ErrCode == 40037 && p.OnTemplateRejected != nil {
			// The template is gone on WeChat's side: the catalog syncs, so
			// its other queued messages fail without a call.
			p.OnTemplateRejected(m.AppID, m.TemplateID)
		}
		// WeChat refused the request itself, so the user's permission was
		// not used: give it back.
		f.RefundCredit = m.CreditID != 0
	}
	return f
}

func (p *Pipeline) retryOrFail(f *queue.FinishParams, m *store.Message, a *store.Attempt, reason string) *queue.FinishParams {
	f.Attempt, f.LastError = a, reason
	if m.Attempts >= p.MaxAttempts {
		f.State = string(wxnotify.MessageFailed)
		f.LastError = fmt.Sprintf("gave up after %d attempts: %s", m.Attempts, reason)
		return f
	}
	f.State, f.RetryAfter = string(wxnotify.MessageQueued), p.backoff(m.Attempts)
	return f
}

// backoff is exponential with full jitter.
func (p *Pipeline) backoff(attempts int) time.Duration {
	d := p.MinBackoff << min(attempts, 20)
	d = min(d, p.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

func (p *Pipeline) call(ctx context.Context, m *store.Message, token string) (string, error) {
	var data wechat.Data
	if err := json.Unmarshal(m.Data, &data); err != nil {
		return "", fmt.Errorf("message %d: stored data: %w", m.ID, err)
	}
	if m.Kind == string(wxnotify.MessageTemplate) {
		return "", p.Client.SendTemplate(ctx, token, &wechat.TemplateMessage{
			ToUser: m.OpenID, TemplateID: m.TemplateID, Page: m.Page, FormID: m.CreditValue,
			Data: data, EmphasisKeyword: m.EmphasisKeyword,
		})
	}
	return p.Client.SendSubscribe(ctx, token, &wechat.SubscribeMessage{
		ToUser: m.OpenID, TemplateID: m.TemplateID, Page: m.Page, Data: data,
		MiniprogramState: m.MiniprogramState, Lang: m.Lang,
	})
}

// attemptRecord describes a call for the message's history. Network
// failures have errcode -2 (WeChat's own codes are never below -1).
func (p *Pipeline) attemptRecord(m *store.Message, start time.Time, err error) *store.Attempt {
	a := &store.Attempt{MessageID: m.ID, At: start, LatencyMS: float64(p.Now().Sub(start).Microseconds()) / 1000}
	var we *wechat.Error
	switch {
	case err == nil:
		a.ErrMsg = "ok"
	case errors.As(err, &we):
		a.ErrCode, a.ErrMsg = we.ErrCode, we.ErrMsg
	default:
		a.ErrCode, a.ErrMsg = -2, err.Error()
	}
	if err != nil {
		a.Class = string(wechat.ClassOf(err))
	}
	return a
}

// limiter is the app's send rate: on a store several instances share, one
// token bucket in the database for the whole deployment (WeChat's limits
// are the app's, not an instance's); else the instance's own.
func (p *Pipeline) limiter(appID string) waiter {
	p.limMu.Lock()
	defer p.limMu.Unlock()
	l := p.limiters[appID]
	if l == nil {
		if p.Queue.Store.Capabilities().SharedByInstances {
			l = &sharedLimiter{store: p.Queue.Store, key: "send:" + appID, rate: p.AppRate, burst: p.AppBurst}
		} else {
			l = rate.NewLimiter(rate.Limit(p.AppRate), p.AppBurst)
		}
		p.limiters[appID] = l
	}
	return l
}

type waiter interface {
	Wait(ctx context.Context) error
}

// sharedLimiter takes tokens from a bucket in the store, a few at a time
// (20 ms of the rate), so a send costs no round trip of its own. Tokens
// taken are used within 100 ms or dropped: an instance never saves up a
// burst the bucket did not allow.
type sharedLimiter struct {
	store   store.Executor
	key     string
	rate    float64
	burst   int
	mu      sync.Mutex
	local   int
	takenAt time.Time
}

func (l *sharedLimiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.local > 0 && time.Since(l.takenAt) > 100*time.Millisecond {
		l.local = 0
	}
	for l.local == 0 {
		chunk := min(l.burst, max(1, int(l.rate/50)))
		got, err := l.store.RateTake(ctx, &store.RateTakeParams{Key: l.key, Rate: l.rate, Burst: l.burst, Want: chunk})
		if err != nil {
			return err
		}
		l.local, l.takenAt = got.Granted, time.Now()
		if l.local == 0 {
			wait := time.Duration((1 - got.Left) / l.rate * float64(time.Second))
			t := time.NewTimer(max(wait, time.Millisecond))
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
	l.local--
	return nil
}

func (p *Pipeline) appSlot(appID string) chan struct{} {
	p.limMu.Lock()
	defer p.limMu.Unlock()
	c := p.appSlots[appID]
	if c == nil {
		c = make(chan struct{}, p.AppConcurrency)
		p.appSlots[appID] = c
	}
	return c
}

// pause holds the app's sends of kind until the quota day turns.
func (p *Pipeline) pause(appID, kind string, until time.Time, reason string) {
	p.pauseMu.Lock()
	defer p.pauseMu.Unlock()
	k := pauseKey{appID, kind}
	if until.After(p.paused[k].until) {
		p.paused[k] = appPause{until: until, reason: reason}
		p.Logger.Warn("app paused", "appid", appID, "kind", kind, "until", until, "reason", reason)
	}
}

// throttle holds the app's sends after a 45011: ThrottlePause, doubled for
// each 45011 in a row up to a minute (WeChat says "retry next minute"), and
// returns when they may start again. The sends already in flight when the
// pause began answer 45011 too; they extend nothing but the count.
func (p *Pipeline) throttle(appID string) time.Time {
	p.pauseMu.Lock()
	defer p.pauseMu.Unlock()
	k := pauseKey{appID: appID}
	now, cur := p.Now(), p.paused[k]
	if now.Before(cur.until) {
		return cur.until
	}
	d := min(p.ThrottlePause<<min(cur.throttles, 10), time.Minute)
	next := appPause{until: now.Add(d), reason: "WeChat's per-minute limit (45011)", throttles: cur.throttles + 1}
	p.paused[k] = next
	p.Logger.Warn("app throttled: WeChat's per-minute limit (45011)", "appid", appID, "pause", d.String(), "in_a_row", next.throttles)
	return next.until
}

// unthrottle forgets the app's 45011s in a row after a delivery.
func (p *Pipeline) unthrottle(appID string) {
	p.pauseMu.Lock()
	defer p.pauseMu.Unlock()
	k := pauseKey{appID: appID}
	if cur, ok := p.paused[k]; ok && cur.throttles > 0 && !p.Now().Before(cur.until) {
		delete(p.paused, k)
	}
}

// untilFromNow turns a time on this instance's clock into a wait, which the
// queue counts from the database's clock.
func (p *Pipeline) untilFromNow(t time.Time) time.Duration {
	return max(t.Sub(p.Now()), time.Millisecond)
}

func (p *Pipeline) pausedUntil(appID, kind string) (appPause, bool) {
	p.pauseMu.Lock()
	defer p.pauseMu.Unlock()
	now := p.Now()
	for _, k := range [2]pauseKey{{appID, kind}, {appID: appID}} {
		if cur, ok := p.paused[k]; ok && now.Before(cur.until) {
			return cur, true
		}
	}
	return appPause{}, false
}

// DailyLimit is an app's daily send limit for kind ("subscribe" or
// "template").
func (p *Pipeline) DailyLimit(kind string) int64 {
	if kind == string(wxnotify.MessageTemplate) {
		return cmp.Or(p.DailyTemplateLimit, wxnotify.DefaultDailyTemplateLimit)
	}
	return cmp.Or(p.DailySubscribeLimit, wxnotify.DefaultDailySubscribeLimit)
}

// CheckDailyLimits reads today's delivered sends (counted by every
// instance with the outcomes) and pauses each app and kind that reached its
// daily limit until the quota day turns. A scheduled job: between runs an
// app may overshoot by what it sends in one interval.
func (p *Pipeline) CheckDailyLimits(ctx context.Context) error {
	p.init()
	now := p.Now()
	counts, err := p.Queue.Store.DailySendList(ctx, wxnotify.QuotaDay(now))
	if err != nil {
		return err
	}
	for _, c := range counts {
		if limit := p.DailyLimit(c.Kind); c.Sent >= limit {
			p.pause(c.AppID, c.Kind, wxnotify.NextQuotaReset(now), fmt.Sprintf("daily send limit of %s messages reached (%d sent today)", c.Kind, c.Sent))
		}
	}
	p.pauseMu.Lock()
	p.daily = counts
	p.pauseMu.Unlock()
	return nil
}

// DailySends returns today's delivered sends per app and kind as the last
// CheckDailyLimits read them.
func (p *Pipeline) DailySends() []*store.DailySend {
	p.pauseMu.Lock()
	defer p.pauseMu.Unlock()
	return slices.Clone(p.daily)
}

func (p *Pipeline) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func nextQuotaReset(now time.Time) time.Time { return wxnotify.NextQuotaReset(now) }

func orInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func orDur(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}
