package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PGServer owns the fresh database wxbench_<pid> that every PostgreSQL engine of one run uses; each engine
// opening gets its own schema in it.
type PGServer struct {
	admin  *pgx.Conn
	dbName string
	dsn    string
	seq    atomic.Int64
}

func OpenPGServer(ctx context.Context, dsn string) (*PGServer, error) {
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	s := &PGServer{admin: admin, dbName: fmt.Sprintf("wxbench_%d", os.Getpid()), dsn: dsn}
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+s.dbName+" WITH (FORCE)"); err != nil {
		return nil, err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+s.dbName); err != nil {
		admin.Close(ctx)
		return nil, fmt.Errorf("create database: %w", err)
	}
	return s, nil
}

// Pool opens a pool on the bench database whose search_path is schema (created if missing).
func (s *PGServer) Pool(ctx context.Context, schema string, max int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(s.dsn)
	if err != nil {
		return nil, err
	}
	cfg.ConnConfig.Database = s.dbName
	cfg.MaxConns = int32(max)
	cfg.MinConns = int32(max)
	if schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if schema != "" {
		if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return pool, nil
}

func (s *PGServer) NextSchema(prefix string) string {
	return fmt.Sprintf("%s_%d", prefix, s.seq.Add(1))
}

func (s *PGServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+s.dbName+" WITH (FORCE)")
	s.admin.Close(ctx)
	return err
}

// pgSchema is the message table, which is also the queue. Delivered rows stay (state 'sent') because the
// table is the record GET /v1/messages/{id} reads; the partial index keeps only due work in the claim path.
const pgSchema = `
CREATE TABLE message (
	id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	app_id          text        NOT NULL,
	openid          text        NOT NULL,
	template_id     text        NOT NULL,
	data            jsonb       NOT NULL,
	state           text        NOT NULL DEFAULT 'queued',
	attempts        integer     NOT NULL DEFAULT 0,
	run_at          timestamptz NOT NULL DEFAULT now(),
	claimed_by      text,
	lease_until     timestamptz,
	created_at      timestamptz NOT NULL DEFAULT now(),
	updated_at      timestamptz NOT NULL DEFAULT now(),
	idempotency_key text,
	UNIQUE (app_id, idempotency_key)
);
CREATE INDEX message_queued_run_at ON message (run_at) WHERE state = 'queued';
`

const pgInsertOne = `
INSERT INTO message (app_id, openid, template_id, data, idempotency_key)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (app_id, idempotency_key) DO NOTHING
RETURNING id`

// pgInsertMany is the group commit: one statement, one transaction, one WAL flush for many requests.
const pgInsertMany = `
INSERT INTO message (app_id, openid, template_id, data, idempotency_key)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::text[])
ON CONFLICT (app_id, idempotency_key) DO NOTHING
RETURNING id, idempotency_key`

// pgClaim leases up to $3 due messages to instance $1. SKIP LOCKED lets N instances claim concurrently
// without waiting on, or double-claiming, each other's rows.
const pgClaim = `
UPDATE message
SET state = 'sending', claimed_by = $1, lease_until = now() + $2::interval, attempts = attempts + 1, updated_at = now()
WHERE id IN (
	SELECT id FROM message
	WHERE state = 'queued' AND run_at <= now()
	ORDER BY run_at
	LIMIT $3
	FOR UPDATE SKIP LOCKED
)
RETURNING id, app_id, openid, template_id, data, attempts`

// pgComplete records a batch as sent, only where this instance still holds the lease.
const pgComplete = `
UPDATE message
SET state = 'sent', claimed_by = NULL, lease_until = NULL, updated_at = now()
WHERE id = ANY($1) AND claimed_by = $2`

// PGQueue is candidate (b) on PostgreSQL.
type PGQueue struct {
	srv        *PGServer
	pool       *pgxpool.Pool
	schema     string
	batched    bool
	claimBatch int
	workers    int
	reqs       chan *pgInsertReq
	flushWG    sync.WaitGroup
	wake       chan struct{}
	maxBatch   int
}

type pgInsertReq struct {
	m    *Message
	done chan error
}

func OpenPGQueue(ctx context.Context, srv *PGServer, c *Config, mode string) (*PGQueue, error) {
	schema := srv.NextSchema("tq")
	pool, err := srv.Pool(ctx, schema, c.PGPool)
	if err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, pgSchema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	q := &PGQueue{srv: srv, pool: pool, schema: schema, batched: mode == "batched", claimBatch: c.ClaimBatch,
		workers: c.Workers, wake: make(chan struct{}, 1), maxBatch: c.CommitBatch}
	if q.batched {
		q.reqs = make(chan *pgInsertReq, 4*c.CommitBatch)
		for i := 0; i < c.PGFlushers; i++ {
			q.flushWG.Add(1)
			go q.flusher()
		}
	}
	return q, nil
}

func (q *PGQueue) Accept(ctx context.Context, m *Message) error {
	if !q.batched {
		var id int64
		err := q.pool.QueryRow(ctx, pgInsertOne, m.AppID, m.OpenID, m.TemplateID, m.Data, m.IdempotencyKey).Scan(&id)
		if err == pgx.ErrNoRows {
			err = q.pool.QueryRow(ctx, `SELECT id FROM message WHERE app_id = $1 AND idempotency_key = $2`, m.AppID, m.IdempotencyKey).Scan(&id)
		}
		if err == nil {
			q.signal()
		}
		return err
	}
	r := &pgInsertReq{m: m, done: make(chan error, 1)}
	select {
	case q.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (q *PGQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// flusher takes whatever requests are waiting (up to maxBatch) and inserts them in one statement. Several
// flushers run at once so a batch forms while the previous one is being flushed.
func (q *PGQueue) flusher() {
	defer q.flushWG.Done()
	ctx := context.Background()
	for first := range q.reqs {
		batch := []*pgInsertReq{first}
	fill:
		for len(batch) < q.maxBatch {
			select {
			case r, ok := <-q.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		n := len(batch)
		apps, openids, tpls, keys := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		datas := make([]string, n)
		for i, r := range batch {
			apps[i], openids[i], tpls[i], datas[i], keys[i] = r.m.AppID, r.m.OpenID, r.m.TemplateID, string(r.m.Data), r.m.IdempotencyKey
		}
		rows, err := q.pool.Query(ctx, pgInsertMany, apps, openids, tpls, datas, keys)
		if err == nil {
			// Real code maps returned (id, key) to requests and looks up keys that conflicted.
			for rows.Next() {
			}
			rows.Close()
			err = rows.Err()
		}
		for _, r := range batch {
			r.done <- err
		}
		q.signal()
	}
}

func (q *PGQueue) StartWorkers(ctx context.Context, done *atomic.Int64) func() {
	var wg sync.WaitGroup
	for w := 0; w < q.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			me := fmt.Sprintf("instance-%d", w)
			ids := make([]int64, 0, q.claimBatch)
			idle := time.NewTimer(0)
			for ctx.Err() == nil {
				ids = ids[:0]
				rows, err := q.pool.Query(ctx, pgClaim, me, "30 seconds", q.claimBatch)
				if err != nil {
					return
				}
				for rows.Next() {
					var id int64
					var app, openid, tpl string
					var data []byte
					var attempts int
					if err := rows.Scan(&id, &app, &openid, &tpl, &data, &attempts); err != nil {
						rows.Close()
						return
					}
					noopSend(app, openid, tpl, data)
					ids = append(ids, id)
				}
				rows.Close()
				if rows.Err() != nil {
					return
				}
				if len(ids) == 0 {
					idle.Reset(5 * time.Millisecond)
					select {
					case <-q.wake:
					case <-idle.C:
					case <-ctx.Done():
						return
					}
					continue
				}
				if _, err := q.pool.Exec(ctx, pgComplete, ids, me); err != nil {
					return
				}
				done.Add(int64(len(ids)))
			}
		}()
	}
	return wg.Wait
}

func (q *PGQueue) Close() error {
	if q.batched {
		close(q.reqs)
		q.flushWG.Wait()
	}
	_, err := q.pool.Exec(context.Background(), "DROP SCHEMA "+q.schema+" CASCADE")
	q.pool.Close()
	return err
}

var sink atomic.Int64

// noopSend stands in for the WeChat call.
func noopSend(app, openid, tpl string, data []byte) {
	sink.Add(int64(len(app) + len(openid) + len(tpl) + len(data)))
}
