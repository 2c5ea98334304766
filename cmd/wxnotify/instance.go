package main

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/apikey"
	"github.com/wxnotify/wxnotify/catalog"
	"github.com/wxnotify/wxnotify/delivery"
	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/ledger"
	"github.com/wxnotify/wxnotify/metrics"
	"github.com/wxnotify/wxnotify/session"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/token"
	"github.com/wxnotify/wxnotify/wechat"
)

// instanceOptions tune one wxnotify instance; zero values mean defaults.
// serve and dev fill them from the configuration (Config.instanceOptions in
// config.go, which says what each one is).
type instanceOptions struct {
	Addr   string
	Holder string
	// WeChatURL is WeChat's API base URL; "" means WXNOTIFY_WECHAT_URL or
	// the real API.
	WeChatURL string

	// delivery.Pipeline
	Concurrency  int
	ClaimBatch   int
	LeaseTTL     time.Duration
	PollInterval time.Duration
	MaxAttempts  int
	MinBackoff   time.Duration
	MaxBackoff   time.Duration
	AppRate      float64
	AppBurst     int
	Retention    time.Duration
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
	store    store.Store
	server   *wxhttp.Server
	tokens   *token.Service
	messages *delivery.Service
	pipeline *delivery.Pipeline
	sessions *session.Service
	credits  *ledger.Service

	metrics       *metrics.Metrics
	templates     *catalog.Service
	broadcasts    *delivery.BroadcastService
	scheduler     *delivery.Scheduler
	webhookOutbox *delivery.WebhookOutbox
	webhookSender *delivery.WebhookSender
}

func (g *globals) newInstance(st store.Store, o instanceOptions) (*instance, error) {
	log := g.logger()
	box, err := g.box()
	if err != nil {
		return nil, err
	}
	ds, ok := st.(delivery.Store)
	if !ok {
		return nil, errNoMessageStore
	}
	client := wechat.New(wechat.Options{BaseURL: cmp.Or(o.WeChatURL, g.wechatURL())})
	in := &instance{log: log, store: st, opts: o}
	in.tokens = &token.Service{Store: st, Box: box, Fetcher: token.WeChatFetcher{Client: client}, Logger: log, Holder: o.Holder,
		RefreshAhead: o.TokenRefreshAhead, LeaseTTL: o.TokenLeaseTTL}
	apps := &token.AppService{Store: st, Box: box}
	in.sessions = &session.Service{Store: st, Box: box, Secrets: apps, Logger: log, WeChat: client, TTL: o.SessionTTL}
	in.credits = &ledger.Service{Store: st, Logger: log, SafetyMargin: o.CreditSafetyMargin}
	in.pipeline = &delivery.Pipeline{
		Store: ds, Tokens: in.tokens, Client: client, Logger: log, Holder: o.Holder,
		Concurrency: o.Concurrency, LeaseTTL: o.LeaseTTL, AppRate: o.AppRate,
		ClaimBatch: o.ClaimBatch, PollInterval: o.PollInterval, MaxAttempts: o.MaxAttempts,
		MinBackoff: o.MinBackoff, MaxBackoff: o.MaxBackoff, AppBurst: o.AppBurst,
		Retention: o.Retention, CreditMargin: o.CreditSafetyMargin,
	}
	cs, ok := st.(catalog.Store)
	if !ok {
		return nil, errNoMessageStore
	}
	in.templates = &catalog.Service{Store: cs, Client: client, Tokens: in.tokens, Logger: log}
	in.messages = &delivery.Service{Store: ds, Apps: apps, Logger: log, Wake: in.pipeline.Wake, Templates: in.templates}
	bs, ok := st.(store.BroadcastStore)
	if !ok {
		return nil, errNoMessageStore
	}
	ws := st.(delivery.WebhookStore)
	in.webhookOutbox = &delivery.WebhookOutbox{Store: ws, Logger: log}
	in.metrics = metrics.New(func(ctx context.Context) (map[string]int64, error) {
		return ds.MessageCounts(ctx, &store.MessageCountsParams{})
	}, log)
	in.pipeline.OnOutcome = func(o delivery.Outcome) {
		in.metrics.Outcome(o.State)
		in.webhookOutbox.OnOutcome(o)
	}
	in.messages.OnOutcome = in.pipeline.OnOutcome
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
	in.webhookSender = &delivery.WebhookSender{Store: ws, Box: box, Logger: log, Holder: o.Holder, AllowPrivateNetworks: o.WebhookAllowPrivate}
	in.scheduler = &delivery.Scheduler{Store: bs, Messages: in.messages, Logger: log, Holder: o.Holder}

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
	srv.EventService = &delivery.EventResolver{Events: in.credits, Store: ds, OnOutcome: in.pipeline.OnOutcome}
	srv.CallbackConfigs = apps
	srv.Metrics = in.metrics.Handler()
	srv.TemplateService = in.templates
	srv.DashboardPassword = wxnotify.Secret(g.env.Getenv("WXNOTIFY_ADMIN_PASSWORD"))
	srv.Counts = func(ctx context.Context) (map[string]int64, error) {
		return ds.MessageCounts(ctx, &store.MessageCountsParams{})
	}
	srv.WeChatErrors = in.metrics.WeChatErrors
	srv.Ready = func(ctx context.Context) error { _, err := st.AppList(ctx); return err }
	in.broadcasts = &delivery.BroadcastService{Store: bs, Messages: in.messages, Logger: log}
	srv.BroadcastService = in.broadcasts
	srv.ScheduleService = &delivery.ScheduleService{Store: bs}
	srv.WebhookService = &delivery.WebhookService{Store: bs, Box: box}
	in.server = srv
	return in, nil
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
	// The outbox outlives the pipeline, so the pipeline's last outcomes
	// still reach it.
	outboxCtx, stopOutbox := context.WithCancel(context.WithoutCancel(ctx))
	defer stopOutbox()
	outboxDone := make(chan struct{})
	go func() { in.webhookOutbox.Run(outboxCtx); close(outboxDone) }()

	grp, gctx := errgroup.WithContext(work)
	grp.Go(func() error { return in.tokens.Run(gctx, 0) })
	grp.Go(func() error { in.sessions.RunPurge(gctx, in.opts.SessionPurgeInterval); return nil })
	grp.Go(func() error { in.credits.RunPurge(gctx, in.opts.CreditPurgeInterval); return nil })
	grp.Go(func() error { return in.pipeline.Run(gctx) })
	grp.Go(func() error { return in.scheduler.Run(gctx) })
	grp.Go(func() error { in.broadcasts.RunRecovery(gctx, 0); return nil })
	grp.Go(func() error { in.templates.RunSync(gctx, 0); return nil })
	grp.Go(func() error { return in.webhookSender.Run(gctx) })
	grp.Go(func() error { in.server.RunDashboardSampler(gctx); return nil })

	select {
	case <-ctx.Done():
	case <-gctx.Done():
	}
	in.log.Info("wxnotify shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := in.server.Close(sctx); err != nil {
		in.log.Error("http shutdown", "err", err)
	}
	stopWork()
	err := grp.Wait() // the pipeline has reported its last outcomes
	stopOutbox()
	<-outboxDone
	return err
}
