package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/apikey"
	"github.com/wxnotify/wxnotify/audit"
	"github.com/wxnotify/wxnotify/catalog"
	"github.com/wxnotify/wxnotify/delivery"
	"github.com/wxnotify/wxnotify/history"
	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/jobs"
	"github.com/wxnotify/wxnotify/ledger"
	"github.com/wxnotify/wxnotify/metrics"
	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/session"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/token"
	"github.com/wxnotify/wxnotify/webhook"
	"github.com/wxnotify/wxnotify/wechat"
)

// instanceOptions tune one wxnotify instance; zero values mean defaults.
// serve and dev fill them from the configuration (Config.instanceOptions in
// config.go, which says what each one is).
type instanceOptions struct {
	Addr   string
	Holder string
	// TrustedProxies is http.trusted_proxies, as written (checked by the
	// configuration).
	TrustedProxies string
	// WeChatURL is WeChat's API base URL; "" means WXNOTIFY_WECHAT_URL or
	// the real API.
	WeChatURL string

	// delivery.Pipeline
	Concurrency         int
	ClaimBatch          int
	LeaseTTL            time.Duration
	PollInterval        time.Duration
	IdleWait            time.Duration
	MaxAttempts         int
	MinBackoff          time.Duration
	MaxBackoff          time.Duration
	ThrottlePause       time.Duration
	AppRate             float64
	AppBurst            int
	DailySubscribeLimit int
	DailyTemplateLimit  int
	Retention           time.Duration
	// WebhookAllowPrivate lets webhooks reach internal addresses.
	WebhookAllowPrivate bool

	// token.Service
	TokenRefreshAhead time.Duration
	TokenLeaseTTL     time.Duration

	// ledger.Service (the margin also bounds the pipeline's credit choice)
	CreditSafetyMargin  time.Duration
	CreditPurgeInterval time.Duration

	// session.Service and the mini-program surface
	SessionTTL           time.Duration
	SessionRate          float64
	SessionBurst         int
	SessionPurgeInterval time.Duration
}

// instance is one running wxnotify: every service wired over one store.
// serve runs one; bench and dev run them in-process.
type instance struct {
	log      *slog.Logger
	opts     instanceOptions
	store    store.Driver
	server   *wxhttp.Server
	queue    *queue.Queue
	clock    *queue.Clock
	tokens   *token.Service
	messages *delivery.Service
	pipeline *delivery.Pipeline
	sessions *session.Service
	credits  *ledger.Service

	metrics       *metrics.Metrics
	templates     *catalog.Service
	broadcasts    *delivery.BroadcastService
	scheduler     *delivery.Scheduler
	webhookSender *webhook.Sender
	history       *history.Rollup
	jobs          *jobs.Runner
}

// maxClockSkew is how far an instance's clock may drift from the database's
// before it warns: the queue does not use it, but logs and API times do.
const maxClockSkew = 2 * time.Second

func (g *globals) newInstance(st store.Driver, o instanceOptions) (*instance, error) {
	log := g.logger()
	box, err := g.box()
	if err != nil {
		return nil, err
	}
	// local is this instance's own clock; WXNOTIFY_TEST_CLOCK_OFFSET shifts
	// it, so tests can run an instance whose clock is wrong.
	local := time.Now
	if v := g.env.Getenv("WXNOTIFY_TEST_CLOCK_OFFSET"); v != "" {
		off, err := time.ParseDuration(v)
		if err != nil {
			return nil, wxnotify.Errorf(wxnotify.EINVALID, "WXNOTIFY_TEST_CLOCK_OFFSET: %v", err)
		}
		local = func() time.Time { return time.Now().Add(off) }
	}
	clock := &queue.Clock{Local: local}
	if _, err := clock.Sync(context.Background(), st); err != nil {
		return nil, err
	}
	// Every call to WeChat goes through contact, which /readyz reads.
	contact := &wechat.Contact{}
	client := wechat.New(wechat.Options{BaseURL: cmp.Or(o.WeChatURL, g.wechatURL()), HTTPClient: &http.Client{Transport: contact}})
	in := &instance{log: log, store: st, opts: o, clock: clock}
	in.metrics = metrics.New(func(ctx context.Context) (map[string]int64, error) {
		return st.MessageCounts(ctx, &store.MessageCountsParams{})
	}, log)
	b := readBuild()
	in.metrics.RegisterBuild(metrics.Build{Version: b.Version, Revision: b.Revision, Time: b.Time, GoVersion: b.GoVersion, Modified: b.Modified})
	in.queue = &queue.Queue{Store: st, CreditMargin: o.CreditSafetyMargin}
	// Token leases are compared outside the queue: on the database's clock
	// as this instance estimates it, so two instances never both refresh.
	in.tokens = &token.Service{Store: st, Box: box, Fetcher: token.WeChatFetcher{Client: client}, Logger: log, Holder: o.Holder,
		RefreshAhead: o.TokenRefreshAhead, LeaseTTL: o.TokenLeaseTTL, Now: clock.Now}
	apps := &token.AppService{Store: st, Box: box}
	in.sessions = &session.Service{Store: st, Box: box, Secrets: apps, Logger: log, WeChat: client, TTL: o.SessionTTL, Now: local}
	in.credits = &ledger.Service{Store: st, Logger: log, SafetyMargin: o.CreditSafetyMargin, Now: local}
	in.pipeline = &delivery.Pipeline{
		Queue: in.queue, Tokens: in.tokens, Client: client, Logger: log, Holder: o.Holder, Now: local,
		Concurrency: o.Concurrency, LeaseTTL: o.LeaseTTL, AppRate: o.AppRate,
		ClaimBatch: o.ClaimBatch, PollInterval: o.PollInterval, MaxIdleWait: o.IdleWait, MaxAttempts: o.MaxAttempts,
		MinBackoff: o.MinBackoff, MaxBackoff: o.MaxBackoff, ThrottlePause: o.ThrottlePause, AppBurst: o.AppBurst,
		DailySubscribeLimit: int64(o.DailySubscribeLimit), DailyTemplateLimit: int64(o.DailyTemplateLimit),
		Retention: o.Retention,
	}
	in.templates = &catalog.Service{Store: st, Queue: in.queue, Client: client, Tokens: in.tokens, Logger: log, Now: local}
	in.pipeline.OnTemplateRejected = in.templates.TemplateRejected
	in.tokens.DailyLimit = in.pipeline.DailyLimit
	in.metrics.RegisterDailySends(func() []metrics.DailySend {
		var out []metrics.DailySend
		for _, d := range in.pipeline.DailySends() {
			out = append(out, metrics.DailySend{AppID: d.AppID, Kind: d.Kind, Sent: d.Sent, Limit: in.pipeline.DailyLimit(d.Kind)})
		}
		return out
	})
	in.messages = &delivery.Service{Queue: in.queue, Store: st, Apps: apps, Logger: log, Wake: in.pipeline.Wake, Templates: in.templates, Now: local}
	in.tokens.OnRefresh = in.metrics.TokenRefresh
	in.metrics.RegisterCreditStock(func(ctx context.Context) ([]metrics.CreditStock, error) {
		ctx = wxnotify.NewContextWithAPIKey(ctx, &wxnotify.APIKey{ID: "metrics", Apps: []string{wxnotify.AllApps}})
		rows, err := in.credits.CreditStocks(ctx, wxnotify.CreditFilter{})
		out := make([]metrics.CreditStock, len(rows))
		for i, r := range rows {
			out[i] = metrics.CreditStock{AppID: r.AppID, Kind: string(r.Kind), TemplateID: r.TemplateID, Uses: r.Uses}
		}
		return out, err
	}, time.Minute, log)
	in.pipeline.OnAttempt = func(m *store.Message, a *store.Attempt) {
		in.metrics.Send(m.Kind, time.Duration(a.LatencyMS*float64(time.Millisecond)), a.ErrCode, a.Class)
	}
	in.webhookSender = &webhook.Sender{Store: st, Box: box, Logger: log, Holder: o.Holder,
		AllowPrivateNetworks: o.WebhookAllowPrivate, Now: clock.Now, OnAttempt: in.metrics.WebhookAttempt}
	in.scheduler = &delivery.Scheduler{Store: st, Messages: in.messages, Logger: log, Holder: o.Holder, Now: clock.Now}
	in.broadcasts = &delivery.BroadcastService{Store: st, Messages: in.messages, Logger: log, Now: clock.Now}
	// Every outcome, whoever ends the message, is counted here once, after
	// its transaction commits; when that transaction wrote webhook events,
	// the webhook job is woken so they go out at once.
	in.queue.OnEnd = func(e queue.Ended) { in.metrics.Outcome(string(e.State)) }
	in.queue.OnOutbox = func() { in.jobs.Kick(jobWebhooks) }

	srv := wxhttp.NewServer()
	srv.Addr = o.Addr
	srv.SessionRate = o.SessionRate
	srv.SessionBurst = o.SessionBurst
	srv.Logger = log
	srv.AppService = apps
	srv.APIKeyService = &apikey.Service{Store: st}
	srv.TokenService = in.tokens
	srv.MessageService = in.messages
	srv.SessionService = in.sessions
	srv.CreditService = in.credits
	// Pushed events go to the ledger, and sent events settle ambiguous messages.
	srv.EventService = &delivery.EventResolver{Events: in.credits, Queue: in.queue}
	srv.CallbackConfigs = apps
	if st.Capabilities().SharedByInstances {
		// A push replayed to another instance is refused there too.
		srv.SeenKeys = st
	}
	srv.Metrics = in.metrics.Handler()
	srv.OnRequest = in.metrics.HTTPRequest
	in.metrics.RegisterWebhookOutbox(func(ctx context.Context) (map[string]int64, error) {
		return st.WebhookOutboxCounts(ctx, 0)
	}, log)
	srv.TemplateService = in.templates
	srv.DashboardPassword = wxnotify.Secret(g.env.Getenv("WXNOTIFY_ADMIN_PASSWORD"))
	if srv.TrustedProxies, err = wxhttp.ParseTrustedProxies(o.TrustedProxies); err != nil {
		return nil, fmt.Errorf("http.trusted_proxies: %w", err)
	}
	srv.Counts = func(ctx context.Context) (map[string]int64, error) {
		return st.MessageCounts(ctx, &store.MessageCountsParams{})
	}
	srv.AuditService = &audit.Service{Store: st, Now: local}
	in.history = &history.Rollup{Store: st, Logger: log, Credits: func(ctx context.Context) ([]*wxnotify.CreditStock, error) {
		return in.credits.CreditStocks(wxnotify.NewContextWithAPIKey(ctx, &wxnotify.APIKey{ID: "history", Apps: []string{wxnotify.AllApps}}), wxnotify.CreditFilter{})
	}}
	srv.HistoryService = in.history
	srv.Ready = func(ctx context.Context) error { _, err := st.AppList(ctx); return err }
	srv.ReadyChecks = readyChecks(st, apps, contact)
	srv.Build = b
	srv.BroadcastService = in.broadcasts
	srv.ScheduleService = &delivery.ScheduleService{Store: st}
	srv.WebhookService = &webhook.Service{Store: st, Box: box, AllowPrivateNetworks: o.WebhookAllowPrivate}
	in.server = srv
	// Last: the list binds the services above.
	in.jobs = &jobs.Runner{Entries: in.jobList(), Logger: log, OnRun: in.metrics.JobRun}
	srv.JobService = in.jobs
	return in, nil
}

// wechatDownAfter is how many calls in a row WeChat must leave unanswered
// before /readyz says so: one timeout is no outage.
const wechatDownAfter = 3

// readyChecks are the dependencies /readyz reports: the database answers,
// the secret key opens the stored secrets, WeChat answered lately.
func readyChecks(st store.Driver, apps *token.AppService, contact *wechat.Contact) []wxhttp.ReadyCheck {
	return []wxhttp.ReadyCheck{
		{Name: "database", Check: func(ctx context.Context) (any, error) {
			if _, err := st.AppList(ctx); err != nil {
				return nil, fmt.Errorf("%w: %w", wxnotify.Errorf(wxnotify.EUNAVAILABLE, "the database does not answer"), err)
			}
			return map[string]string{"engine": st.Engine()}, nil
		}},
		{Name: "secret_key", Check: func(ctx context.Context) (any, error) {
			if err := apps.CheckKey(ctx); err != nil {
				if errors.Is(err, seal.ErrWrongKey) {
					return nil, fmt.Errorf("%w: %w", wxnotify.Errorf(wxnotify.EUNAVAILABLE, "the secret key does not open the stored app secrets"), err)
				}
				return nil, fmt.Errorf("%w: %w", wxnotify.Errorf(wxnotify.EUNAVAILABLE, "the stored app secrets cannot be read"), err)
			}
			return nil, nil
		}},
		{Name: "wechat", Check: func(context.Context) (any, error) {
			s := contact.Status()
			detail := map[string]any{"failures_in_a_row": s.Failures}
			if !s.LastAnswer.IsZero() {
				detail["last_answer"] = s.LastAnswer.UTC().Format(time.RFC3339)
			}
			if !s.LastFailure.IsZero() {
				detail["last_failure"] = s.LastFailure.UTC().Format(time.RFC3339)
				detail["last_error"] = s.Error
			}
			if s.Failures >= wechatDownAfter {
				return detail, wxnotify.Errorf(wxnotify.EUNAVAILABLE, "WeChat did not answer the last %d calls: %s", s.Failures, s.Error)
			}
			return detail, nil
		}},
	}
}

// Names of the scheduled jobs that code refers to.
const jobWebhooks = "webhook_delivery"

// jobList is the instance's scheduled work, each job with its interval:
// the one place both are written (docs/ARCHITECTURE.md lists them).
func (in *instance) jobList() []jobs.Entry {
	o := in.opts
	return []jobs.Entry{
		{Name: "token_refresh", Interval: token.DefaultCheckInterval, Job: jobs.Func(in.tokens.RefreshDue),
			Doc: "fetch each app's access_token ahead of its expiry (one fetch per lifetime across instances)"},
		{Name: "lease_recovery", Interval: time.Second, Job: jobs.Func(in.pipeline.RecoverLeases),
			Doc: "messages of a lost instance, whose lease expired: ambiguous, or settled by WeChat's sent event"},
		{Name: "message_expiry", Interval: time.Second, Job: jobs.Func(in.pipeline.ExpireMessages),
			Doc: "queued and waiting messages past their TTL: expired, credit given back"},
		{Name: "waiting_requeue", Interval: time.Second, Job: jobs.Func(in.pipeline.RequeueWaiting),
			Doc: "waiting messages whose user granted a credit: queued again"},
		{Name: "schedules", Interval: delivery.DefaultSchedulePollInterval, Job: jobs.Func(in.scheduler.FireDue),
			Doc: "recurring sends (POST /v1/schedules) whose occurrence is due"},
		{Name: jobWebhooks, Interval: webhook.DefaultPollInterval, Job: jobs.Func(in.webhookSender.Drain),
			Doc: "outcome events in the webhook outbox: POSTed, signed, retried with backoff"},
		{Name: "daily_limits", Interval: 10 * time.Second, Job: jobs.Func(in.pipeline.CheckDailyLimits),
			Doc: "each app's sends delivered today (Beijing time): an app at its daily send limit waits for the next day"},
		{Name: "seen_purge", Interval: 10 * time.Minute, Job: jobs.Func(func(ctx context.Context) error {
			_, err := in.store.SeenPurge(ctx, time.Now())
			return err
		}), Doc: "expired keys of the shared replay guard (push nonces)"},
		{Name: "credit_purge", Interval: cmp.Or(o.CreditPurgeInterval, ledger.DefaultPurgeInterval), Job: jobs.Func(in.credits.Purge),
			Doc: "credits expired, dead or used up"},
		{Name: "session_purge", Interval: cmp.Or(o.SessionPurgeInterval, session.DefaultPurgeInterval), Delay: time.Minute, Job: jobs.Func(in.sessions.Purge),
			Doc: "mini-program sessions past their expiry"},
		{Name: "message_retention", Interval: time.Hour, Job: jobs.Func(func(ctx context.Context) error {
			return errors.Join(in.pipeline.PurgeOld(ctx), in.history.Prune(ctx))
		}), Doc: "terminal messages older than the retention period, with their attempts; the dashboard's history past a day (minutes) and a month (hours)"},
		{Name: "template_sync", Interval: catalog.DefaultSyncInterval, Job: jobs.Func(in.templates.SyncAll),
			Doc: "each app's templates from WeChat; messages of deleted templates failed"},
		{Name: "broadcast_sweep", Interval: time.Minute, Job: jobs.Func(in.broadcasts.AbortStale),
			Doc: "broadcasts whose upload a crash cut short: aborted, with the count stored"},
		{Name: "clock_check", Interval: 10 * time.Second, Job: jobs.Func(in.checkClock),
			Doc: "this instance's clock against the database's (the queue uses the database's)"},
		{Name: "history_rollup", Interval: history.DefaultInterval, Job: jobs.Func(in.history.Run),
			Doc: "the dashboard's history: outcomes and errcodes of the recent minutes recounted from the database, queue depth and credit stock sampled"},
	}
}

// checkClock measures this instance's clock against the database's, keeps
// the estimate the leases outside the queue use, and warns on a skew.
func (in *instance) checkClock(ctx context.Context) error {
	skew, err := in.clock.Sync(ctx, in.store)
	if err != nil {
		return err
	}
	in.metrics.ClockSkew(skew)
	if skew > maxClockSkew || skew < -maxClockSkew {
		in.log.Warn("this instance's clock differs from the database's; the queue uses the database's, fix NTP for logs and API times",
			"skew", skew.String())
	}
	return nil
}

// run serves and works until ctx ends, then shuts down in order: stop
// accepting requests, let the sends in flight finish and record them, stop
// the scheduled jobs. ready is called with the API's URL once it listens.
func (in *instance) run(ctx context.Context, ready func(url string)) error {
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	in.messages.Start(work)
	if err := in.server.Open(); err != nil {
		return err
	}
	in.log.Info("wxnotify serving", "url", in.server.URL(), "engine", in.store.Engine())
	if ready != nil {
		ready(in.server.URL())
	}
	if err := in.checkClock(ctx); err != nil {
		in.log.Error("read the database's clock", "err", err)
	}
	// The jobs outlive the pipeline, so the webhook events of its last
	// outcomes still go out.
	jobsCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer stopJobs()
	jobsDone := make(chan error, 1)
	go func() { jobsDone <- in.jobs.Run(jobsCtx) }()

	grp, gctx := errgroup.WithContext(work)
	grp.Go(func() error { return in.pipeline.Run(gctx) })
	if l, ok := in.store.(store.DueListener); ok {
		// Other instances' accepts wake this one at once.
		go l.ListenDue(gctx, in.pipeline.Wake, in.log)
	}

	select {
	case <-ctx.Done():
	case <-gctx.Done():
	case err := <-jobsDone:
		return err
	}
	in.log.Info("wxnotify shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := in.server.Close(sctx); err != nil {
		in.log.Error("http shutdown", "err", err)
	}
	stopWork()
	err := grp.Wait() // the pipeline has recorded its last outcomes
	// Their webhook events are in the outbox: sent by the next instance or
	// run if this one stops before its next webhook pass.
	stopJobs()
	<-jobsDone
	return err
}
