package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// sendArgs is the River job for one message.
type sendArgs struct {
	AppID          string          `json:"app_id"`
	OpenID         string          `json:"openid"`
	TemplateID     string          `json:"template_id"`
	Data           json.RawMessage `json:"data"`
	IdempotencyKey string          `json:"idempotency_key"`
}

func (sendArgs) Kind() string { return "wx_send" }

type sendWorker struct {
	river.WorkerDefaults[sendArgs]
}

func (sendWorker) Work(ctx context.Context, j *river.Job[sendArgs]) error {
	noopSend(j.Args.AppID, j.Args.OpenID, j.Args.TemplateID, j.Args.Data)
	return nil
}

// RiverQueue is candidate (a). Completion is counted from River's job_completed events, which River emits
// after its completer has recorded the jobs.
type RiverQueue[TTx any] struct {
	client  *river.Client[TTx]
	closeFn func() error
}

func riverConfig(schema string, maxWorkers int) *river.Config {
	workers := river.NewWorkers()
	river.AddWorker(workers, sendWorker{})
	return &river.Config{
		Logger:            quietLogger(),
		Schema:            schema,
		Workers:           workers,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: maxWorkers}},
		FetchCooldown:     2 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
	}
}

func OpenRiverPG(ctx context.Context, srv *PGServer, c *Config) (*RiverQueue[pgx.Tx], error) {
	schema := srv.NextSchema("river")
	pool, err := srv.Pool(ctx, schema, c.PGPool)
	if err != nil {
		return nil, err
	}
	drv := riverpgxv5.New(pool)
	if err := riverMigrate(ctx, drv, schema); err != nil {
		pool.Close()
		return nil, err
	}
	client, err := river.NewClient(drv, riverConfig(schema, 500))
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &RiverQueue[pgx.Tx]{client: client, closeFn: func() error {
		_, err := pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		pool.Close()
		return err
	}}, nil
}

func OpenRiverSQLite(ctx context.Context, c *Config) (*RiverQueue[*sql.Tx], error) {
	dir, err := os.MkdirTemp("", "wxbench-river-")
	if err != nil {
		return nil, err
	}
	_, dsn := liteDSN("modernc", filepath.Join(dir, "river.db"), "NORMAL", false)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// riversqlite's package comment: one connection avoids SQLITE_BUSY from River's parallel operations.
	db.SetMaxOpenConns(1)
	cleanup := func() error { db.Close(); return os.RemoveAll(dir) }
	drv := riversqlite.New(db)
	if err := riverMigrate(ctx, drv, ""); err != nil {
		cleanup()
		return nil, err
	}
	client, err := river.NewClient(drv, riverConfig("", 100))
	if err != nil {
		cleanup()
		return nil, err
	}
	return &RiverQueue[*sql.Tx]{client: client, closeFn: cleanup}, nil
}

func riverMigrate[TTx any](ctx context.Context, drv riverdriver.Driver[TTx], schema string) error {
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: quietLogger(), Schema: schema})
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrate: %w", err)
	}
	return nil
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func (q *RiverQueue[TTx]) Accept(ctx context.Context, m *Message) error {
	_, err := q.client.Insert(ctx, sendArgs{AppID: m.AppID, OpenID: m.OpenID, TemplateID: m.TemplateID, Data: m.Data, IdempotencyKey: m.IdempotencyKey}, nil)
	return err
}

func (q *RiverQueue[TTx]) StartWorkers(ctx context.Context, done *atomic.Int64) func() {
	events, cancelSub := q.client.SubscribeConfig(&river.SubscribeConfig{ChanSize: 1 << 20, Kinds: []river.EventKind{river.EventKindJobCompleted}})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-events:
				if !ok {
					return
				}
				if ev.Kind == river.EventKindJobCompleted {
					done.Add(1)
				}
			}
		}
	}()
	if err := q.client.Start(context.WithoutCancel(ctx)); err != nil {
		panic(fmt.Errorf("river start: %w", err))
	}
	return func() {
		wg.Wait()
		cancelSub()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.client.Stop(sctx)
	}
}

func (q *RiverQueue[TTx]) Close() error { return q.closeFn() }
