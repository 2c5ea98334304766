// Command decision measures the two storage decisions behind wxnotify's delivery engine:
//
//  1. the delivery engine: River (riverpgxv5 / riversqlite) versus the message table itself used as the
//     queue (SKIP LOCKED claims on PostgreSQL, one group-committing writer goroutine on SQLite);
//  2. the SQLite driver: modernc.org/sqlite (pure Go) versus github.com/mattn/go-sqlite3 (cgo).
//
// Every figure is printed next to the bare-HTTP limit measured in the same run (the logic of
// shared/reference/httplimit, in process), because the delivery goal is stated as a ratio to it.
//
// It is a separate module so that the product does not depend on River. Run it with
//
//	go run . -engine all
//
// It creates a fresh PostgreSQL database (wxbench_<pid>) and temporary SQLite files, and removes both.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// Config holds every knob of one run. Zero values are replaced by the defaults in NewConfig.
type Config struct {
	Engines      []string      // http, river-pg, river-sqlite, pg, sqlite, reads
	N            int           // messages per phase
	Producers    int           // concurrent producers, each submitting one message at a time
	Workers      int           // claiming workers for the table queue (PostgreSQL)
	LiteWorkers  int           // claiming workers for the table queue (SQLite; claims go through the one writer)
	PGDSN        string        // maintenance DSN; a fresh database is created next to it
	PGPool       int           // pgxpool size for the table queue
	PGInsert     []string      // direct (one INSERT per request) and/or batched (group commit through flushers)
	PGFlushers   int           // concurrent group-commit flushers for batched PostgreSQL inserts
	ClaimBatch   int           // rows per claim
	CommitBatch  int           // maximum operations coalesced into one SQLite transaction / PostgreSQL insert
	Syncs        []string      // SQLite synchronous levels to measure: NORMAL, FULL
	Drivers      []string      // SQLite drivers: modernc, mattn
	HTTPN        int           // requests for the bare-HTTP limit
	HTTPC        int           // clients for the bare-HTTP limit
	Readers      int           // concurrent point readers
	ReadFor      time.Duration // duration of the point-read phase
	PhaseTimeout time.Duration // a phase that runs longer is cut and reported as partial
	Runs         int           // repeat everything; medians are printed when > 1
	CPUProfile   string
}

func NewConfig() *Config {
	return &Config{
		N:            50000,
		Producers:    64,
		Workers:      2,
		LiteWorkers:  2,
		PGDSN:        "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		PGPool:       16,
		PGFlushers:   2,
		ClaimBatch:   500,
		CommitBatch:  1024,
		HTTPN:        100000,
		HTTPC:        64,
		Readers:      8,
		ReadFor:      3 * time.Second,
		PhaseTimeout: 20 * time.Second,
		Runs:         1,
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "decision:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	c := NewConfig()
	fs := flag.NewFlagSet("decision", flag.ContinueOnError)
	engine := fs.String("engine", "all", "comma list of: http, river-pg, river-sqlite, pg, sqlite, reads; or all")
	fs.IntVar(&c.N, "n", c.N, "messages per phase")
	fs.IntVar(&c.Producers, "producers", c.Producers, "concurrent producers (one message at a time each)")
	fs.IntVar(&c.Workers, "workers", c.Workers, "claiming workers, PostgreSQL table queue")
	fs.IntVar(&c.LiteWorkers, "lite-workers", c.LiteWorkers, "claiming workers, SQLite table queue")
	fs.StringVar(&c.PGDSN, "pg", c.PGDSN, "PostgreSQL DSN (a database wxbench_<pid> is created and dropped)")
	fs.IntVar(&c.PGPool, "pg-pool", c.PGPool, "pgxpool max connections for the table queue")
	pgInsert := fs.String("pg-insert", "direct,batched", "PostgreSQL accept modes: direct, batched")
	fs.IntVar(&c.PGFlushers, "pg-flushers", c.PGFlushers, "concurrent group-commit flushers (batched PostgreSQL accept)")
	fs.IntVar(&c.ClaimBatch, "claim-batch", c.ClaimBatch, "rows per claim")
	fs.IntVar(&c.CommitBatch, "commit-batch", c.CommitBatch, "max operations per group commit")
	syncs := fs.String("sync", "NORMAL,FULL", "SQLite synchronous levels")
	drivers := fs.String("drivers", "modernc,mattn", "SQLite drivers")
	fs.IntVar(&c.HTTPN, "http-n", c.HTTPN, "requests for the bare-HTTP limit")
	fs.IntVar(&c.HTTPC, "http-c", c.HTTPC, "clients for the bare-HTTP limit")
	fs.IntVar(&c.Readers, "readers", c.Readers, "concurrent point readers")
	fs.DurationVar(&c.ReadFor, "read-for", c.ReadFor, "point-read phase duration")
	fs.DurationVar(&c.PhaseTimeout, "phase-timeout", c.PhaseTimeout, "cut a phase after this long and report it as partial")
	fs.IntVar(&c.Runs, "runs", c.Runs, "repeat the whole set; medians printed when > 1")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *engine == "all" {
		*engine = "http,river-pg,river-sqlite,pg,sqlite,reads"
	}
	c.Engines = split(*engine)
	c.PGInsert = split(*pgInsert)
	c.Syncs = split(*syncs)
	c.Drivers = split(*drivers)

	if c.CPUProfile != "" {
		f, err := os.Create(c.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	b := &Bench{Config: c, Out: out, Logger: slog.New(slog.DiscardHandler)}
	fmt.Fprintf(out, "# %s GOMAXPROCS=%d n=%d producers=%d workers=%d/%d claim-batch=%d commit-batch=%d pg-pool=%d pg-flushers=%d\n",
		runtime.Version(), runtime.GOMAXPROCS(0), c.N, c.Producers, c.Workers, c.LiteWorkers, c.ClaimBatch, c.CommitBatch, c.PGPool, c.PGFlushers)
	start := time.Now()
	var all []Result
	for r := 1; r <= c.Runs; r++ {
		res, err := b.RunOnce(ctx, r)
		if err != nil {
			return err
		}
		all = append(all, res...)
		PrintTable(out, fmt.Sprintf("run %d", r), res)
	}
	if c.Runs > 1 {
		PrintTable(out, fmt.Sprintf("median of %d runs", c.Runs), Medians(all))
	}
	fmt.Fprintf(out, "# total %.0fs\n", time.Since(start).Seconds())
	return nil
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (c *Config) has(engine string) bool { return slices.Contains(c.Engines, engine) }
