package main

import (
	"context"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wxnotify/wxnotify/apikey"
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
type instanceOptions struct {
	Addr        string
	Concurrency int
	LeaseTTL    time.Duration
	AppRate     float64
	Holder      string
}

// instance is one running wxnotify: every service wired over one store.
// serve runs one; bench and dev run them in-process.
type instance struct {
	log      *slog.Logger
	store    store.Store
	server   *wxhttp.Server
	tokens   *token.Service
	messages *delivery.Service
	pipeline *delivery.Pipeline
	sessions *session.Service
	credits  *ledger.Service

	metrics       *metrics.Metrics
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
	client := wechat.New(wechat.Options{BaseURL: g.wechatURL()})
	in := &instance{log: log, store: st}
	in.tokens = &token.Service{Store: st, Box: box, Fetcher: token.WeChatFetcher{Client: client}, Logger: log, Holder: o.Holder}
	apps := &token.AppService{Store: st, Box: box}
	in.sessions = &session.Service{Store: st, Box: box, Secrets: apps, Logger: log, WeChat: client}
	in.credits = &ledger.Service{Store: st, Logger: log}
	in.pipeline = &delivery.Pipeline{
		Store: ds, Tokens: in.tokens, Client: client, Logger: log, Holder: o.Holder,
		Concurrency: o.Concurrency, LeaseTTL: o.LeaseTTL, AppRate: o.AppRate,
	}
	in.messages = &delivery.Service{Store: ds, Apps: apps, Logger: log, Wake: in.pipeline.Wake}
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
	in.pipeline.OnAttempt = func(m *store.Message, a *store.Attempt) {
		in.metrics.Send(m.Kind, time.Duration(a.LatencyMS*float64(time.Millisecond)), a.ErrCode, a.Class)
	}
	in.webhookSender = &delivery.WebhookSender{Store: ws, Box: box, Logger: log, Holder: o.Holder}
	in.scheduler = &delivery.Scheduler{Store: bs, Messages: in.messages, Logger: log, Holder: o.Holder}

	srv := wxhttp.NewServer()
	srv.Addr = o.Addr
	srv.Logger = log
	srv.AppService = apps
	srv.APIKeyService = &apikey.Service{Store: st}
	srv.TokenService = in.tokens
	srv.MessageService = in.messages
	srv.SessionService = in.sessions
	srv.CreditService = in.credits
	srv.EventService = in.credits
	srv.CallbackConfigs = apps
	srv.Metrics = in.metrics.Handler()
	srv.Ready = func(ctx context.Context) error { _, err := st.AppList(ctx); return err }
	srv.BroadcastService = &delivery.BroadcastService{Store: bs, Messages: in.messages, Logger: log}
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
	grp.Go(func() error { in.sessions.RunPurge(gctx, 0); return nil })
	grp.Go(func() error { in.credits.RunPurge(gctx, 0); return nil })
	grp.Go(func() error { return in.pipeline.Run(gctx) })
	grp.Go(func() error { return in.scheduler.Run(gctx) })
	grp.Go(func() error { return in.webhookSender.Run(gctx) })

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
