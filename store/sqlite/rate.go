package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wxnotify/wxnotify/store"
)

var queryRateTake = queries.MustGet("RateTake")

// RateTake implements store.Executor on the writer.
func (e *executor) RateTake(ctx context.Context, p *store.RateTakeParams) (store.RateTaken, error) {
	if err := p.Validate(); err != nil {
		return store.RateTaken{}, err
	}
	var t store.RateTaken
	err := e.write.QueryRowContext(ctx, queryRateTake, p.Key, p.Rate, p.Burst, p.Want, time.Now().UnixMicro()).Scan(&t.Granted, &t.Left)
	if err != nil {
		return store.RateTaken{}, fmt.Errorf("take from rate bucket: %w", err)
	}
	return t, nil
}

var (
	querySeenAdd    = queries.MustGet("SeenAdd")
	querySeenRemove = queries.MustGet("SeenRemove")
	querySeenPurge  = queries.MustGet("SeenPurge")
)

// SeenAdd implements store.Executor.
func (e *executor) SeenAdd(ctx context.Context, key string, now, expires time.Time) (bool, error) {
	var one int
	err := e.write.QueryRowContext(ctx, querySeenAdd, key, timeArg(now), timeArg(expires)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("add seen key: %w", err)
	}
	return true, nil
}

// SeenRemove implements store.Executor.
func (e *executor) SeenRemove(ctx context.Context, key string) error {
	if _, err := e.write.ExecContext(ctx, querySeenRemove, key); err != nil {
		return fmt.Errorf("remove seen key: %w", err)
	}
	return nil
}

// SeenPurge implements store.Executor.
func (e *executor) SeenPurge(ctx context.Context, now time.Time) (int64, error) {
	res, err := e.write.ExecContext(ctx, querySeenPurge, timeArg(now))
	if err != nil {
		return 0, fmt.Errorf("purge seen keys: %w", err)
	}
	return res.RowsAffected()
}
