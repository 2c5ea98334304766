package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wxnotify/wxnotify/internal/loadtest"
	"github.com/wxnotify/wxnotify/wechatsim"
)

// benchAPIKey is the Bearer key the peer's endpoint wants in a bench.
const benchAPIKey = "peer-bench-key"

// benchConfig is the flags of the bench subcommand; loadtest.Config holds the ones that mean what
// wxnotify bench's do.
type benchConfig struct {
	loadtest.Config
	Engine   string
	PG       string
	Workers  int
	PGPool   int
	SDKPool  int
	Cooldown time.Duration
	Poll     time.Duration
	Runs     int
	Compare  string // path of a wxnotify binary: run `wxnotify bench` with the same parameters too
	JSON     bool
}

// benchResult has wxnotify bench's JSON field names, so `wxnotify bench --json` decodes into it.
type benchResult struct {
	System       string  `json:"system"`
	Engine       string  `json:"engine"`
	SimLatencyMS float64 `json:"sim_latency_ms"`
	N            int     `json:"n"`
	loadtest.Result
	TokenFetches int `json:"token_fetches,omitempty"`
}

// runPeerBench is one run against the peer. The measurement is internal/loadtest's, as wxnotify
// bench's is, so the two results divide; this only starts the peer between the first bare-HTTP limit
// and the load.
func runPeerBench(ctx context.Context, c benchConfig, stderr io.Writer) (*benchResult, error) {
	b, err := loadtest.Start(c.Config, "peer", stderr)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	if err := b.MeasureLimit(ctx, c.Workers); err != nil {
		return nil, err
	}

	pc := PeerConfig{
		Engine: c.Engine, WeChatURL: b.SimURL(), AppID: loadtest.AppID, AppSecret: loadtest.AppSecret,
		TemplateID: b.TemplateID(), Listen: "127.0.0.1:0", APIKey: benchAPIKey, Workers: c.Workers,
		PGPool: c.PGPool, SDKPool: c.SDKPool, FetchCooldown: c.Cooldown, FetchPollInterval: c.Poll,
	}
	switch c.Engine {
	case "sqlite":
		dir, err := os.MkdirTemp("", "wxnotify-peer")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		pc.DSN = filepath.Join(dir, "river.db")
	case "postgres":
		schema, drop, err := loadtest.NewSchema(ctx, c.PG, "peerbench")
		if err != nil {
			return nil, fmt.Errorf("create schema: %w", err)
		}
		defer drop()
		pc.DSN, pc.Schema = c.PG, schema
	}
	peer, err := OpenPeer(ctx, pc)
	if err != nil {
		return nil, err
	}
	// Discarded and cancelled jobs end without a delivery; count them so the wait does not hang.
	events, unsubscribe := peer.events(river.EventKindJobCancelled, river.EventKindJobFailed)
	defer unsubscribe()
	go func() {
		for ev := range events {
			if ev.Job.State == rivertype.JobStateDiscarded || ev.Job.State == rivertype.JobStateCancelled {
				b.Ended("")
			}
			if len(ev.Job.Errors) > 0 {
				b.SetErr("job: " + ev.Job.Errors[len(ev.Job.Errors)-1].Error)
			}
		}
	}()
	if err := peer.Open(ctx); err != nil {
		peer.Close()
		return nil, err
	}
	defer peer.Close()

	m, err := b.Run(ctx, loadtest.Target{URLs: []string{peer.URL()}, APIKey: benchAPIKey})
	if m == nil {
		return nil, err
	}
	return &benchResult{
		System: "peer", Engine: c.Engine, SimLatencyMS: loadtest.Millis(c.SimLatency), N: c.N, Result: *m,
		TokenFetches: b.Sim().Calls(wechatsim.PathToken, loadtest.AppID),
	}, err
}
