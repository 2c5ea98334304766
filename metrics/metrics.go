// Package metrics exposes wxnotify's Prometheus metrics. One Metrics per
// instance, with its own registry: no global state.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Metrics holds the instance's collectors.
type Metrics struct {
	Registry *prometheus.Registry

	messages     *prometheus.CounterVec
	sendLatency  *prometheus.HistogramVec
	wechatErrors *prometheus.CounterVec
	tokenRefresh *prometheus.CounterVec
	jobRuns      *prometheus.CounterVec
	jobSeconds   *prometheus.HistogramVec
	clockSkew    prometheus.Gauge
	httpRequests *prometheus.CounterVec
	httpSeconds  *prometheus.HistogramVec
	webhookTries *prometheus.CounterVec
}

// QueueCounter counts messages per state, for the queue-depth gauge; it is
// read at scrape time.
type QueueCounter func(ctx context.Context) (map[string]int64, error)

// New returns the metrics of one instance. queue may be nil.
func New(queue QueueCounter, logger *slog.Logger) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.messages = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wxnotify_messages_total",
		Help: "Messages that reached a terminal state in this instance, by outcome.",
	}, []string{"outcome"})
	m.sendLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wxnotify_wechat_send_seconds",
		Help:    "Latency of WeChat send calls, by kind of message.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"kind"})
	m.wechatErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wxnotify_wechat_errors_total",
		Help: "WeChat send answers other than success, by errcode and class (-2: network).",
	}, []string{"errcode", "class"})
	m.tokenRefresh = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wxnotify_token_refreshes_total",
		Help: "access_token fetches from WeChat by this instance, by app and result (ok, error).",
	}, []string{"appid", "result"})
	m.jobRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wxnotify_job_runs_total",
		Help: "Runs of the scheduled jobs of this instance, by job and result (ok, error).",
	}, []string{"job", "result"})
	m.jobSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wxnotify_job_seconds",
		Help:    "How long one run of a scheduled job took, by job.",
		Buckets: []float64{.001, .005, .025, .1, .5, 2.5, 10, 60},
	}, []string{"job"})
	m.clockSkew = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wxnotify_clock_skew_seconds",
		Help: "How far this instance's clock is ahead of the database's (negative: behind). The queue uses the database's.",
	})
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wxnotify_http_requests_total",
		Help: "HTTP requests answered by this instance, by route (the ServeMux pattern, never the raw path) and status code.",
	}, []string{"route", "code"})
	m.httpSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wxnotify_http_request_seconds",
		Help:    "How long this instance took to answer HTTP requests, by route (the ServeMux pattern).",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 60},
	}, []string{"route"})
	m.webhookTries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wxnotify_webhook_attempts_total",
		Help: "Webhook delivery attempts by this instance, by result (delivered, retry, dead).",
	}, []string{"result"})
	for _, r := range []string{"delivered", "retry", "dead"} {
		m.webhookTries.WithLabelValues(r)
	}
	m.Registry.MustRegister(m.messages, m.sendLatency, m.wechatErrors, m.tokenRefresh, m.jobRuns, m.jobSeconds, m.clockSkew,
		m.httpRequests, m.httpSeconds, m.webhookTries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if queue != nil {
		m.Registry.MustRegister(&queueCollector{count: queue, logger: logger,
			desc: prometheus.NewDesc("wxnotify_queue_messages", "Messages waiting to be sent, by state (queued, waiting_credit, sending); every state is present, 0 when empty. Terminal outcomes are wxnotify_messages_total.", []string{"state"}, nil)})
	}
	return m
}

// HTTPRequest counts one answered request by its route pattern.
func (m *Metrics) HTTPRequest(route string, code int, took time.Duration) {
	m.httpRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.httpSeconds.WithLabelValues(route).Observe(took.Seconds())
}

// WebhookAttempt counts one webhook delivery attempt: delivered, retry or
// dead.
func (m *Metrics) WebhookAttempt(result string) { m.webhookTries.WithLabelValues(result).Inc() }

// OutboxCounter counts the webhook outbox's rows per state (pending,
// dead), read at scrape time.
type OutboxCounter func(ctx context.Context) (map[string]int64, error)

// RegisterWebhookOutbox adds wxnotify_webhook_outbox_events: the outbox's
// events by state, pending and dead always present.
func (m *Metrics) RegisterWebhookOutbox(count OutboxCounter, logger *slog.Logger) {
	m.Registry.MustRegister(&stateCollector{count: count, logger: logger, states: []string{"pending", "dead"},
		desc: prometheus.NewDesc("wxnotify_webhook_outbox_events", "Webhook events in the outbox, by state: pending (not delivered yet: its depth) and dead (gave up; replay them through POST /v1/webhooks/{id}/deliveries/replay).", []string{"state"}, nil)})
}

// JobRun counts one run of a scheduled job.
func (m *Metrics) JobRun(job string, took time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.jobRuns.WithLabelValues(job, result).Inc()
	m.jobSeconds.WithLabelValues(job).Observe(took.Seconds())
}

// ClockSkew sets how far the instance's clock is ahead of the database's.
func (m *Metrics) ClockSkew(d time.Duration) { m.clockSkew.Set(d.Seconds()) }

// TokenRefresh counts one access_token fetch.
func (m *Metrics) TokenRefresh(appID string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.tokenRefresh.WithLabelValues(appID, result).Inc()
}

// CreditStock is one row of the credit-stock gauge.
type CreditStock struct {
	AppID, Kind, TemplateID string
	Uses                    int64
}

// RegisterCreditStock adds a gauge of usable credit uses per app, kind and
// template, read through stock at scrape time. The count scans the ledger,
// so it is cached for ttl.
func (m *Metrics) RegisterCreditStock(stock func(ctx context.Context) ([]CreditStock, error), ttl time.Duration, logger *slog.Logger) {
	m.Registry.MustRegister(&stockCollector{stock: stock, ttl: ttl, logger: logger,
		desc: prometheus.NewDesc("wxnotify_credit_uses", "Usable send credits (uses) per app, kind and template.", []string{"appid", "kind", "template_id"}, nil)})
}

type stockCollector struct {
	stock  func(ctx context.Context) ([]CreditStock, error)
	ttl    time.Duration
	logger *slog.Logger
	desc   *prometheus.Desc

	mu     sync.Mutex
	at     time.Time
	cached []CreditStock
}

func (c *stockCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *stockCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cached == nil || time.Since(c.at) > c.ttl {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		rows, err := c.stock(ctx)
		cancel()
		if err != nil {
			if c.logger != nil {
				c.logger.Error("metrics: credit stock", "err", err)
			}
		} else {
			c.cached, c.at = rows, time.Now()
		}
	}
	for _, r := range c.cached {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(r.Uses), r.AppID, r.Kind, r.TemplateID)
	}
}

// Outcome counts a terminal outcome.
func (m *Metrics) Outcome(state string) { m.messages.WithLabelValues(state).Inc() }

// Send records one WeChat send call.
func (m *Metrics) Send(kind string, latency time.Duration, errcode int, class string) {
	m.sendLatency.WithLabelValues(kind).Observe(latency.Seconds())
	if errcode != 0 {
		m.wechatErrors.WithLabelValues(strconv.Itoa(errcode), class).Inc()
	}
}

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// queueCollector is the queue-depth gauge: the non-terminal states only,
// each present.
type queueCollector struct {
	count  QueueCounter
	desc   *prometheus.Desc
	logger *slog.Logger
}

// QueueStates are the states of wxnotify_queue_messages: those of a message
// not yet ended (wxnotify.MessageState's non-terminal ones).
var QueueStates = []string{"queued", "waiting_credit", "sending"}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	(&stateCollector{count: QueueCounter(c.count), desc: c.desc, logger: c.logger, states: QueueStates}).Collect(ch)
}

// stateCollector is a gauge by state of counts read at scrape time: the
// listed states only, each present (0 when absent from the counts).
type stateCollector struct {
	count  func(ctx context.Context) (map[string]int64, error)
	desc   *prometheus.Desc
	logger *slog.Logger
	states []string
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.count(ctx)
	if err != nil {
		if c.logger != nil {
			c.logger.Error("metrics: count by state", "metric", c.desc.String(), "err", err)
		}
		return
	}
	for _, state := range c.states {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[state]), state)
	}
}

// WeChatErrors counts this instance's WeChat send errors since it started,
// per "errcode (class)", for the dashboard's chart.
func (m *Metrics) WeChatErrors(context.Context) (map[string]int64, error) {
	ch := make(chan prometheus.Metric, 16)
	go func() { m.wechatErrors.Collect(ch); close(ch) }()
	out := map[string]int64{}
	var err error
	for pm := range ch {
		var d dto.Metric
		if werr := pm.Write(&d); werr != nil {
			err = werr
			continue
		}
		var code, class string
		for _, l := range d.GetLabel() {
			switch l.GetName() {
			case "errcode":
				code = l.GetValue()
			case "class":
				class = l.GetValue()
			}
		}
		out[code+" ("+class+")"] += int64(d.GetCounter().GetValue())
	}
	return out, err
}

// Build is the build an instance runs, for the wxnotify_build_info gauge.
type Build struct {
	Version, Revision, Time, GoVersion string
	Modified                           bool
}

// RegisterBuild adds wxnotify_build_info: always 1, with the build in its
// labels, so a dashboard shows which commit each instance runs (join on
// instance to group other series by version).
func (m *Metrics) RegisterBuild(b Build) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wxnotify_build_info",
		Help: "The build this instance runs: module version, VCS revision and time, whether the tree was modified, Go version. Always 1.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "time": b.Time,
			"modified": strconv.FormatBool(b.Modified), "goversion": b.GoVersion},
	})
	g.Set(1)
	m.Registry.MustRegister(g)
}

// DailySend is one app's delivered sends of a kind today, and its limit.
type DailySend struct {
	AppID, Kind string
	Sent, Limit int64
}

// RegisterDailySends exports the daily send counters as the pipeline last
// read them (every instance reads the same, shared counters).
func (m *Metrics) RegisterDailySends(read func() []DailySend) {
	m.Registry.MustRegister(&dailyCollector{read: read,
		sent:  prometheus.NewDesc("wxnotify_daily_sends", "Sends delivered today (Beijing time) per app and kind, counted by every instance.", []string{"appid", "kind"}, nil),
		limit: prometheus.NewDesc("wxnotify_daily_send_limit", "The daily send limit per app and kind; at it the app's sends wait for the next day.", []string{"appid", "kind"}, nil)})
}

type dailyCollector struct {
	read        func() []DailySend
	sent, limit *prometheus.Desc
}

func (c *dailyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.sent; ch <- c.limit }

func (c *dailyCollector) Collect(ch chan<- prometheus.Metric) {
	for _, d := range c.read() {
		ch <- prometheus.MustNewConstMetric(c.sent, prometheus.GaugeValue, float64(d.Sent), d.AppID, d.Kind)
		ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(d.Limit), d.AppID, d.Kind)
	}
}
