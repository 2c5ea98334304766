// Command peer is the baseline wxnotify is measured against: what a competent team builds without
// wxnotify. A backend handler inserts one River job per message (riverpgxv5 on PostgreSQL, riversqlite
// with modernc.org/sqlite on SQLite), and River's workers send each one through the popular WeChat SDK,
// github.com/silenceper/wechat/v2 (miniprogram subscribe Send, its default access_token handling over
// its memory cache).
//
//	peer serve -engine sqlite -dsn /tmp/river.db -wechat-url http://127.0.0.1:9000 -appid … -secret …
//	peer bench -engine postgres -sim-latency 50ms -n 20000                       # the peer alone
//	peer bench -engine sqlite -runs 3 -compare /tmp/wxbench                      # side by side with wxnotify bench
//
// bench measures through the package `wxnotify bench` measures with, github.com/wxnotify/wxnotify/internal/
// loadtest (same simulator, bodies, producers, idle probe, bare-HTTP limit and figures), and only starts
// the peer itself (bench.go). With -compare it runs `BIN bench --json` with the same parameters in each
// run, alternating which goes first, and prints both and the ratio wxnotify ÷ peer.
//
// It is a separate module (replace github.com/wxnotify/wxnotify => ../..) so that the product depends on
// neither River nor the SDK. Its import path lies under github.com/wxnotify/wxnotify, so Go's internal
// rule lets it import internal/loadtest.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "bench"
	if len(args) > 0 && (args[0] == "serve" || args[0] == "bench") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, args, stderr)
	default:
		return runBenchCommand(ctx, args, stdout, stderr)
	}
}

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("peer serve", flag.ContinueOnError)
	c := PeerConfig{}
	fs.StringVar(&c.Engine, "engine", "sqlite", "sqlite or postgres")
	fs.StringVar(&c.DSN, "dsn", "peer.db", "SQLite file, or PostgreSQL postgres:// URL")
	fs.StringVar(&c.Schema, "schema", "", "PostgreSQL schema for River's tables (empty: the search_path's)")
	fs.StringVar(&c.WeChatURL, "wechat-url", "", "base URL replacing https://api.weixin.qq.com (e.g. the simulator's)")
	fs.StringVar(&c.AppID, "appid", "", "mini-program app id")
	fs.StringVar(&c.AppSecret, "secret", "", "mini-program app secret")
	fs.StringVar(&c.TemplateID, "template", "", "the only accepted template id (empty: any)")
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8090", "listen address of POST /v1/messages")
	fs.StringVar(&c.APIKey, "api-key", "", "Bearer key required by POST /v1/messages (empty: none)")
	fs.IntVar(&c.Workers, "workers", DefaultWorkers, "River MaxWorkers")
	fs.IntVar(&c.PGPool, "pg-pool", DefaultPGPool, "pgxpool MaxConns")
	fs.IntVar(&c.SDKPool, "sdk-pool", DefaultWorkers, "idle connections per host of the SDK's HTTP client (0: the SDK's default http.DefaultClient)")
	fs.DurationVar(&c.FetchCooldown, "fetch-cooldown", DefaultFetchCooldown, "River FetchCooldown")
	fs.DurationVar(&c.FetchPollInterval, "fetch-poll", DefaultFetchPollInterval, "River FetchPollInterval")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, err := OpenPeer(ctx, c)
	if err != nil {
		return err
	}
	if err := p.Open(ctx); err != nil {
		p.Close()
		return err
	}
	fmt.Fprintf(stderr, "peer: listening on %s (River on %s, WeChat at %s)\n", p.URL(), c.Engine, cmpOr(c.WeChatURL, wechatHost))
	<-ctx.Done()
	return p.Close()
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func runBenchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("peer bench", flag.ContinueOnError)
	c := benchConfig{}
	fs.StringVar(&c.Engine, "engine", "sqlite", "sqlite (a temporary file) or postgres (a fresh schema in -pg, dropped at the end)")
	fs.StringVar(&c.PG, "pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL DSN")
	fs.IntVar(&c.N, "n", 20000, "messages to send")
	fs.IntVar(&c.Users, "users", 1000, "distinct recipients")
	fs.IntVar(&c.Concurrency, "concurrency", 64, "producers")
	fs.DurationVar(&c.SimLatency, "sim-latency", 0, "fixed latency the simulator adds to every WeChat call")
	fs.IntVar(&c.LimitN, "limit-n", 50000, "requests per bare-HTTP limit measurement")
	fs.IntVar(&c.LimitC, "limit-c", 0, "bare-HTTP clients (0: 64 without -sim-latency, else -workers)")
	fs.DurationVar(&c.Timeout, "timeout", 3*time.Minute, "give up waiting for deliveries after this long")
	fs.IntVar(&c.Workers, "workers", DefaultWorkers, "River MaxWorkers")
	fs.IntVar(&c.PGPool, "pg-pool", DefaultPGPool, "pgxpool MaxConns")
	fs.IntVar(&c.SDKPool, "sdk-pool", DefaultWorkers, "idle connections per host of the SDK's HTTP client (0: the SDK's default http.DefaultClient)")
	fs.DurationVar(&c.Cooldown, "fetch-cooldown", DefaultFetchCooldown, "River FetchCooldown")
	fs.DurationVar(&c.Poll, "fetch-poll", DefaultFetchPollInterval, "River FetchPollInterval")
	fs.IntVar(&c.Runs, "runs", 1, "repeat; medians are printed when > 1")
	fs.StringVar(&c.Compare, "compare", "", "path of a wxnotify binary: also run `wxnotify bench` with the same parameters in every run")
	fs.BoolVar(&c.JSON, "json", false, "print every result as JSON lines")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.Engine != "sqlite" && c.Engine != "postgres" {
		return fmt.Errorf("-engine %q: want sqlite or postgres", c.Engine)
	}
	var wx, peer []*benchResult
	for i := range max(1, c.Runs) {
		// Alternate the order, so neither side always gets the cooler (or hotter) machine.
		order := []string{"wxnotify", "peer"}
		if i%2 == 1 {
			order = []string{"peer", "wxnotify"}
		}
		for _, sys := range order {
			var res *benchResult
			var err error
			switch {
			case sys == "peer":
				res, err = runPeerBench(ctx, c, stderr)
			case c.Compare != "":
				res, err = runWxnotifyBench(ctx, c, stderr)
			default:
				continue
			}
			if res == nil {
				return fmt.Errorf("%s run %d: %w", sys, i+1, err)
			}
			if err != nil {
				fmt.Fprintf(stderr, "%s run %d: %v\n", sys, i+1, err)
			}
			printResult(stdout, c, i+1, res)
			if sys == "peer" {
				peer = append(peer, res)
			} else {
				wx = append(wx, res)
			}
		}
	}
	printSummary(stdout, c, wx, peer)
	return nil
}
