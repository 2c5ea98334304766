package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers "sqlite3" (cgo)
	_ "modernc.org/sqlite"          // registers "sqlite" (pure Go)
)

// LiteConfig is one SQLite configuration of candidate (b).
type LiteConfig struct {
	Driver      string // modernc or mattn
	Synchronous string // NORMAL: WAL survives a process crash, not a power loss; FULL: fsync per commit
	CommitBatch int    // max operations coalesced into one transaction
	ClaimBatch  int
	Workers     int
	Readers     int
}

// liteSchema differs from PostgreSQL by necessity: times are unix milliseconds (INTEGER), data is TEXT
// holding JSON, and the id is the rowid. The partial index matches the claim only because the claim spells
// state = 'queued' as a literal.
const liteSchema = `
CREATE TABLE message (
	id              INTEGER PRIMARY KEY,
	app_id          TEXT    NOT NULL,
	openid          TEXT    NOT NULL,
	template_id     TEXT    NOT NULL,
	data            TEXT    NOT NULL,
	state           TEXT    NOT NULL DEFAULT 'queued',
	attempts        INTEGER NOT NULL DEFAULT 0,
	run_at          INTEGER NOT NULL,
	claimed_by      TEXT,
	lease_until     INTEGER,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	idempotency_key TEXT,
	UNIQUE (app_id, idempotency_key)
);
CREATE INDEX message_queued_run_at ON message (run_at) WHERE state = 'queued';
`

const liteInsert = `
INSERT INTO message (app_id, openid, template_id, data, idempotency_key, run_at, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (app_id, idempotency_key) DO NOTHING
RETURNING id`

const liteClaim = `
UPDATE message
SET state = 'sending', claimed_by = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
WHERE id IN (
	SELECT id FROM message
	WHERE state = 'queued' AND run_at <= ?
	ORDER BY run_at
	LIMIT ?
)
RETURNING id, app_id, openid, template_id, data, attempts`

const liteComplete = `
UPDATE message
SET state = 'sent', claimed_by = NULL, lease_until = NULL, updated_at = ?
WHERE id IN (SELECT value FROM json_each(?)) AND claimed_by = ?`

const liteGet = `
SELECT id, app_id, openid, template_id, data, state, attempts, run_at, created_at, updated_at
FROM message WHERE id = ?`

// LiteQueue is candidate (b) on SQLite: one writer goroutine owns the only write connection and commits
// whatever operations are waiting as one transaction (group commit); readers use their own pool.
type LiteQueue struct {
	cfg   LiteConfig
	dir   string
	wdb   *sql.DB
	rdb   *sql.DB
	ops   chan *liteOp
	wg    sync.WaitGroup
	wake  chan struct{}
	stmts struct{ insert, claim, complete *sql.Stmt }
}

type liteOpKind int

const (
	opInsert liteOpKind = iota
	opClaim
	opComplete
)

type liteOp struct {
	kind   liteOpKind
	m      *Message
	worker string
	limit  int
	ids    []int64
	claims []claimed
	err    error
	done   chan struct{}
}

type claimed struct {
	ID               int64
	App, OpenID, Tpl string
	Data             string
	Attempts         int
}

func liteDSN(driver, path, sync string, readOnly bool) (name, dsn string) {
	switch driver {
	case "mattn":
		dsn = "file:" + path + "?_journal_mode=WAL&_busy_timeout=10000&_synchronous=" + sync
		if readOnly {
			dsn += "&_query_only=1"
		}
		return "sqlite3", dsn
	default:
		dsn = "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(" + sync + ")"
		if readOnly {
			dsn += "&_pragma=query_only(1)"
		}
		return "sqlite", dsn
	}
}

func OpenLiteQueue(ctx context.Context, cfg LiteConfig) (*LiteQueue, error) {
	dir, err := os.MkdirTemp("", "wxbench-sqlite-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "wxnotify.db")
	q := &LiteQueue{cfg: cfg, dir: dir, ops: make(chan *liteOp, 4*cfg.CommitBatch), wake: make(chan struct{}, 1)}
	drv, dsn := liteDSN(cfg.Driver, path, cfg.Synchronous, false)
	if q.wdb, err = sql.Open(drv, dsn); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	q.wdb.SetMaxOpenConns(1)
	q.wdb.SetMaxIdleConns(1)
	q.wdb.SetConnMaxLifetime(0)
	for _, p := range []string{"PRAGMA temp_store = MEMORY", "PRAGMA cache_size = -65536"} {
		if _, err := q.wdb.ExecContext(ctx, p); err != nil {
			q.Close()
			return nil, err
		}
	}
	var mode, syncLevel string
	if err := q.wdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		q.Close()
		return nil, err
	}
	if err := q.wdb.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncLevel); err != nil {
		q.Close()
		return nil, err
	}
	if mode != "wal" || (cfg.Synchronous == "NORMAL" && syncLevel != "1") || (cfg.Synchronous == "FULL" && syncLevel != "2") {
		q.Close()
		return nil, fmt.Errorf("pragmas not applied: journal_mode=%s synchronous=%s", mode, syncLevel)
	}
	if _, err := q.wdb.ExecContext(ctx, liteSchema); err != nil {
		q.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	for _, s := range []struct {
		dst **sql.Stmt
		sql string
	}{{&q.stmts.insert, liteInsert}, {&q.stmts.claim, liteClaim}, {&q.stmts.complete, liteComplete}} {
		if *s.dst, err = q.wdb.PrepareContext(ctx, s.sql); err != nil {
			q.Close()
			return nil, err
		}
	}
	drv, dsn = liteDSN(cfg.Driver, path, cfg.Synchronous, true)
	if q.rdb, err = sql.Open(drv, dsn); err != nil {
		q.Close()
		return nil, err
	}
	q.rdb.SetMaxOpenConns(max(cfg.Readers, 1))
	q.rdb.SetMaxIdleConns(max(cfg.Readers, 1))
	q.wg.Add(1)
	go q.writer()
	return q, nil
}

func (q *LiteQueue) do(ctx context.Context, op *liteOp) error {
	op.done = make(chan struct{})
	select {
	case q.ops <- op:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued the op will be committed or failed; wait for it so the caller learns which.
	<-op.done
	return op.err
}

func (q *LiteQueue) Accept(ctx context.Context, m *Message) error {
	return q.do(ctx, &liteOp{kind: opInsert, m: m})
}

// writer is the only goroutine that writes. It blocks for one operation, takes every other one already
// waiting (up to CommitBatch), runs them in one transaction and answers all of them after COMMIT.
func (q *LiteQueue) writer() {
	defer q.wg.Done()
	ctx := context.Background()
	batch := make([]*liteOp, 0, q.cfg.CommitBatch)
	for first := range q.ops {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < q.cfg.CommitBatch {
			select {
			case op, ok := <-q.ops:
				if !ok {
					break fill
				}
				batch = append(batch, op)
			default:
				break fill
			}
		}
		err := q.commit(ctx, batch)
		inserted := false
		for _, op := range batch {
			if err != nil {
				op.err, op.claims = err, nil
			}
			inserted = inserted || op.kind == opInsert
			close(op.done)
		}
		if inserted {
			select {
			case q.wake <- struct{}{}:
			default:
			}
		}
	}
}

func (q *LiteQueue) commit(ctx context.Context, batch []*liteOp) error {
	tx, err := q.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := time.Now().UnixMilli()
	ins, claim, complete := tx.Stmt(q.stmts.insert), tx.Stmt(q.stmts.claim), tx.Stmt(q.stmts.complete)
	for _, op := range batch {
		switch op.kind {
		case opInsert:
			m := op.m
			var id int64
			err = ins.QueryRowContext(ctx, m.AppID, m.OpenID, m.TemplateID, string(m.Data), m.IdempotencyKey, now, now, now).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) { // idempotent replay: the existing row stands
				err = tx.QueryRowContext(ctx, `SELECT id FROM message WHERE app_id = ? AND idempotency_key = ?`, m.AppID, m.IdempotencyKey).Scan(&id)
			}
		case opClaim:
			op.claims, err = liteClaimRows(ctx, claim, op, now)
		case opComplete:
			var ids []byte
			ids, err = json.Marshal(op.ids)
			if err == nil {
				_, err = complete.ExecContext(ctx, now, string(ids), op.worker)
			}
		}
		if err != nil {
			// Real code would retry the batch's operations one by one so one bad row fails only itself.
			return err
		}
	}
	return tx.Commit()
}

func liteClaimRows(ctx context.Context, stmt *sql.Stmt, op *liteOp, now int64) ([]claimed, error) {
	rows, err := stmt.QueryContext(ctx, op.worker, now+30_000, now, now, op.limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := op.claims[:0]
	for rows.Next() {
		var c claimed
		if err := rows.Scan(&c.ID, &c.App, &c.OpenID, &c.Tpl, &c.Data, &c.Attempts); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (q *LiteQueue) StartWorkers(ctx context.Context, done *atomic.Int64) func() {
	var wg sync.WaitGroup
	for w := 0; w < q.cfg.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			me := fmt.Sprintf("worker-%d", w)
			buf := make([]claimed, 0, q.cfg.ClaimBatch)
			idle := time.NewTimer(0)
			for ctx.Err() == nil {
				op := &liteOp{kind: opClaim, worker: me, limit: q.cfg.ClaimBatch, claims: buf[:0]}
				if err := q.do(ctx, op); err != nil {
					return
				}
				if len(op.claims) == 0 {
					idle.Reset(5 * time.Millisecond)
					select {
					case <-q.wake:
					case <-idle.C:
					case <-ctx.Done():
						return
					}
					continue
				}
				ids := make([]int64, len(op.claims))
				for i, c := range op.claims {
					noopSend(c.App, c.OpenID, c.Tpl, []byte(c.Data))
					ids[i] = c.ID
				}
				if err := q.do(ctx, &liteOp{kind: opComplete, worker: me, ids: ids}); err != nil {
					return
				}
				done.Add(int64(len(ids)))
			}
		}()
	}
	return wg.Wait
}

// ClaimOnly measures the batch claim alone: one worker claims until the queue is empty.
func (q *LiteQueue) ClaimOnly(ctx context.Context) (int64, error) {
	var n int64
	buf := make([]claimed, 0, q.cfg.ClaimBatch)
	for {
		op := &liteOp{kind: opClaim, worker: "claim-only", limit: q.cfg.ClaimBatch, claims: buf[:0]}
		if err := q.do(ctx, op); err != nil {
			return n, err
		}
		if len(op.claims) == 0 {
			return n, nil
		}
		n += int64(len(op.claims))
	}
}

// Get is a point read by primary key on the reader pool.
func (q *LiteQueue) Get(ctx context.Context, id int64) error {
	var (
		gid, attempts, runAt, created, updated int64
		app, openid, tpl, data, state          string
	)
	return q.rdb.QueryRowContext(ctx, liteGet, id).Scan(&gid, &app, &openid, &tpl, &data, &state, &attempts, &runAt, &created, &updated)
}

func (q *LiteQueue) Close() error {
	if q.ops != nil && q.wdb != nil && q.stmts.complete != nil {
		close(q.ops)
		q.wg.Wait()
	}
	if q.rdb != nil {
		q.rdb.Close()
	}
	if q.wdb != nil {
		q.wdb.Close()
	}
	return os.RemoveAll(q.dir)
}
