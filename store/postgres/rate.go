package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wxnotify/wxnotify/store"
)

var queryRateTake = queries.MustGet("RateTake")

// RateTake implements store.Executor in one statement.
func (e *executor) RateTake(ctx context.Context, p *store.RateTakeParams) (store.RateTaken, error) {
	if err := p.Validate(); err != nil {
		return store.RateTaken{}, err
	}
	var t store.RateTaken
	if err := e.q.QueryRow(ctx, queryRateTake, p.Key, p.Rate, p.Burst, p.Want).Scan(&t.Granted, &t.Left); err != nil {
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
	var isNew bool
	err := e.q.QueryRow(ctx, querySeenAdd, key, timeArg(now), timeArg(expires)).Scan(&isNew)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("add seen key: %w", err)
	}
	return true, nil
}

// SeenRemove implements store.Executor.
func (e *executor) SeenRemove(ctx context.Context, key string) error {
	if _, err := e.q.Exec(ctx, querySeenRemove, key); err != nil {
		return fmt.Errorf("remove seen key: %w", err)
	}
	return nil
}

// SeenPurge implements store.Executor.
func (e *executor) SeenPurge(ctx context.Context, now time.Time) (int64, error) {
	tag, err := e.q.Exec(ctx, querySeenPurge, timeArg(now))
	if err != nil {
		return 0, fmt.Errorf("purge seen keys: %w", err)
	}
	return tag.RowsAffected(), nil
}
