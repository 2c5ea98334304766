package main

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/silenceper/wechat/v2"
	"github.com/silenceper/wechat/v2/cache"
	miniconfig "github.com/silenceper/wechat/v2/miniprogram/config"
	"github.com/silenceper/wechat/v2/miniprogram/subscribe"
	"github.com/silenceper/wechat/v2/util"
	_ "modernc.org/sqlite"
)

// wechatHost is what the SDK hard-codes in every API URL (subscribeSendURL, accessTokenURL, …).
const wechatHost = "https://api.weixin.qq.com"

// Defaults of the peer server.
const (
	DefaultWorkers           = 256 // = wxnotify's delivery.DefaultConcurrency, so both have as many sends in flight
	DefaultPGPool            = 16  // River's own benchmarks and bench/decision use 16
	DefaultFetchCooldown     = 2 * time.Millisecond
	DefaultFetchPollInterval = 20 * time.Millisecond
)

// PeerConfig is what the peer needs: the engine and DSN, where WeChat is, and the one app it sends for.
type PeerConfig struct {
	Engine     string // sqlite or postgres
	DSN        string // sqlite: a file path; postgres: a postgres:// URL
	Schema     string // PostgreSQL schema for River's tables ("" = the search_path's)
	WeChatURL  string // base URL that replaces https://api.weixin.qq.com ("" = the real one)
	AppID      string
	AppSecret  string
	TemplateID string // the only template the endpoint accepts ("" = any)
	Listen     string
	APIKey     string // Bearer key the endpoint wants ("" = none)
	Workers    int    // River MaxWorkers of the default queue
	PGPool     int    // pgxpool MaxConns
	// SDKPool is MaxIdleConnsPerHost of the *http.Client given to the SDK. 0 leaves the SDK's default,
	// http.DefaultClient, whose transport keeps only 2 idle connections per host.
	SDKPool           int
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration
	Logger            *slog.Logger
}

// sendArgs is the River job: one subscribe message.
type sendArgs struct {
	OpenID     string            `json:"openid"`
	TemplateID string            `json:"template_id"`
	Page       string            `json:"page,omitempty"`
	Data       map[string]string `json:"data"`
}

func (sendArgs) Kind() string { return "wechat_subscribe_send" }

// sendWorker sends through the SDK. WeChat's errors that no retry can fix cancel the job; the rest
// (network, -1 system busy, 45009 quota…) are left to River's retry policy.
type sendWorker struct {
	river.WorkerDefaults[sendArgs]
	sub *subscribe.Subscribe
}

func (w *sendWorker) Work(ctx context.Context, j *river.Job[sendArgs]) error {
	data := make(map[string]*subscribe.DataItem, len(j.Args.Data))
	for k, v := range j.Args.Data {
		data[k] = &subscribe.DataItem{Value: v}
	}
	err := w.sub.Send(&subscribe.Message{ToUser: j.Args.OpenID, TemplateID: j.Args.TemplateID, Page: j.Args.Page, Data: data})
	var ce *util.CommonError
	if errors.As(err, &ce) {
		switch ce.ErrCode {
		case 40003, 40037, 41030, 43101, 47003: // bad openid, bad template, bad page, user refused, bad argument
			return river.JobCancel(err)
		}
	}
	return err
}

// Peer is the baseline: River jobs sent through github.com/silenceper/wechat/v2, behind one
// POST /v1/messages that inserts one job per request.
type Peer struct {
	c        PeerConfig
	insert   func(ctx context.Context, args sendArgs) (int64, error)
	start    func(ctx context.Context) error
	stop     func(ctx context.Context) error
	close    func()
	events   func(kinds ...river.EventKind) (<-chan *river.Event, func())
	srv      *http.Server
	listener net.Listener
}

// OpenPeer migrates River's tables and builds the River client and the SDK. The SDK's API host and
// HTTP client are package variables of github.com/silenceper/wechat/v2/util, so one process holds one peer.
func OpenPeer(ctx context.Context, c PeerConfig) (*Peer, error) {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.WeChatURL != "" {
		base := strings.TrimRight(c.WeChatURL, "/")
		// The SDK's own hook: every util.HTTPGet/PostJSON passes its URI through it.
		util.SetURIModifier(func(uri string) string { return strings.Replace(uri, wechatHost, base, 1) })
	}
	if c.SDKPool > 0 {
		util.DefaultHTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConns: c.SDKPool, MaxIdleConnsPerHost: c.SDKPool, IdleConnTimeout: 90 * time.Second,
		}}
	}
	// The SDK's default access_token handling: credential.DefaultAccessToken over a cache, here its
	// in-memory one. It fetches /cgi-bin/token once under a mutex and keeps it for expires_in−1500 s.
	mp := wechat.NewWechat().GetMiniProgram(&miniconfig.Config{AppID: c.AppID, AppSecret: c.AppSecret, Cache: cache.NewMemory()})
	workers := river.NewWorkers()
	river.AddWorker(workers, &sendWorker{sub: mp.GetSubscribe()})
	cfg := &river.Config{
		Logger:            c.Logger,
		Schema:            c.Schema,
		Workers:           workers,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: c.Workers}},
		FetchCooldown:     c.FetchCooldown,
		FetchPollInterval: c.FetchPollInterval,
	}
	p := &Peer{c: c}
	switch c.Engine {
	case "postgres":
		pc, err := pgxpool.ParseConfig(c.DSN)
		if err != nil {
			return nil, fmt.Errorf("parse dsn: %w", err)
		}
		pc.MaxConns = int32(c.PGPool)
		if c.Schema != "" {
			pc.ConnConfig.RuntimeParams["search_path"] = c.Schema
		}
		pool, err := pgxpool.NewWithConfig(ctx, pc)
		if err != nil {
			return nil, err
		}
		client, err := openRiver(ctx, riverpgxv5.New(pool), cfg)
		if err != nil {
			pool.Close()
			return nil, err
		}
		bindClient(p, client, pool.Close)
	case "sqlite":
		db, err := sql.Open("sqlite", "file:"+c.DSN+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)")
		if err != nil {
			return nil, err
		}
		// riversqlite's package comment: one connection, so River's concurrent operations do not
		// fail with SQLITE_BUSY.
		db.SetMaxOpenConns(1)
		client, err := openRiver(ctx, riversqlite.New(db), cfg)
		if err != nil {
			db.Close()
			return nil, err
		}
		bindClient(p, client, func() { db.Close() })
	default:
		return nil, fmt.Errorf("engine %q: want sqlite or postgres", c.Engine)
	}
	return p, nil
}

func openRiver[TTx any](ctx context.Context, drv riverdriver.Driver[TTx], cfg *river.Config) (*river.Client[TTx], error) {
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: cfg.Logger, Schema: cfg.Schema})
	if err != nil {
		return nil, err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("river migrate: %w", err)
	}
	return river.NewClient(drv, cfg)
}

// bindClient wires the engine-typed River client into the Peer's engine-free fields.
func bindClient[TTx any](p *Peer, client *river.Client[TTx], closeFn func()) {
	p.insert = func(ctx context.Context, args sendArgs) (int64, error) {
		res, err := client.Insert(ctx, args, nil)
		if err != nil {
			return 0, err
		}
		return res.Job.ID, nil
	}
	p.start = client.Start
	p.stop = client.Stop
	p.close = closeFn
	p.events = func(kinds ...river.EventKind) (<-chan *river.Event, func()) {
		return client.SubscribeConfig(&river.SubscribeConfig{ChanSize: 1 << 16, Kinds: kinds})
	}
}

// Open starts River and listens on c.Listen (":0" works; see URL).
func (p *Peer) Open(ctx context.Context) error {
	if err := p.start(ctx); err != nil {
		return fmt.Errorf("river start: %w", err)
	}
	ln, err := net.Listen("tcp", p.c.Listen)
	if err != nil {
		return err
	}
	p.listener = ln
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", p.handleMessageCreate)
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln)
	return nil
}

// URL is the peer's base URL once Open has returned.
func (p *Peer) URL() string { return "http://" + p.listener.Addr().String() }

// Close stops the listener and River (waiting for jobs in flight), then closes the database.
func (p *Peer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if p.srv != nil {
		p.srv.Shutdown(ctx)
	}
	err := p.stop(ctx)
	p.close()
	return err
}

// messageRequest is the same body as wxnotify's POST /v1/messages (subscribe messages only).
type messageRequest struct {
	AppID      string            `json:"appid"`
	OpenID     string            `json:"openid"`
	TemplateID string            `json:"template_id"`
	Page       string            `json:"page"`
	Data       map[string]string `json:"data"`
}

// handleMessageCreate parses, inserts one River job, and answers 202 with its id: what a backend
// handler enqueueing a job per request does.
func (p *Peer) handleMessageCreate(w http.ResponseWriter, r *http.Request) {
	if p.c.APIKey != "" {
		got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), []byte(p.c.APIKey)) != 1 {
			httpError(w, http.StatusUnauthorized, "invalid API key")
			return
		}
	}
	var m messageRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&m); err != nil {
		httpError(w, http.StatusBadRequest, "invalid JSON body")
		return
	}
	switch {
	case m.AppID != p.c.AppID:
		httpError(w, http.StatusBadRequest, "unknown appid")
		return
	case m.OpenID == "" || m.TemplateID == "" || len(m.Data) == 0:
		httpError(w, http.StatusBadRequest, "openid, template_id and data are required")
		return
	case p.c.TemplateID != "" && m.TemplateID != p.c.TemplateID:
		httpError(w, http.StatusBadRequest, "unknown template_id")
		return
	}
	id, err := p.insert(r.Context(), sendArgs{OpenID: m.OpenID, TemplateID: m.TemplateID, Page: m.Page, Data: m.Data})
	if err != nil {
		p.c.Logger.Error("insert job", "err", err)
		httpError(w, http.StatusInternalServerError, "Internal error.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"id":%d}`+"\n", id)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
