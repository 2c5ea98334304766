package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wxnotify/wxnotify/store"
)

var (
	querySessionInsert        = queries.MustGet("SessionInsert")
	querySessionGet           = queries.MustGet("SessionGet")
	querySessionDeleteExpired = queries.MustGet("SessionDeleteExpired")
	queryAppCallbackSet       = queries.MustGet("AppCallbackSet")
	queryAppCallbackGet       = queries.MustGet("AppCallbackGet")
	queryAppCallbackDelete    = queries.MustGet("AppCallbackDelete")
)

// SessionInsert implements store.Executor.
func (e *executor) SessionInsert(ctx context.Context, p *store.SessionInsertParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	_, err := e.q.Exec(ctx, querySessionInsert,
		p.TokenHash, p.AppID, p.OpenID, p.SessionKeySealed, timeArg(p.Now), timeArg(p.ExpiresAt))
	switch pgCode(err) {
	case codeUniqueViolation:
		return store.ErrConflict
	case codeForeignKeyViolation:
		return store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// SessionGet implements store.Executor.
func (e *executor) SessionGet(ctx context.Context, tokenHash []byte) (*store.Session, error) {
	var s store.Session
	err := e.q.QueryRow(ctx, querySessionGet, tokenHash).Scan(
		&s.TokenHash, &s.AppID, &s.OpenID, &s.SessionKeySealed, &s.CreatedAt, &s.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	s.CreatedAt = s.CreatedAt.UTC()
	s.ExpiresAt = s.ExpiresAt.UTC()
	return &s, nil
}

// SessionDeleteExpired implements store.Executor.
func (e *executor) SessionDeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	tag, err := e.q.Exec(ctx, querySessionDeleteExpired, timeArg(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}

// AppCallbackSet implements store.Executor.
func (e *executor) AppCallbackSet(ctx context.Context, c *store.AppCallback) error {
	_, err := e.q.Exec(ctx, queryAppCallbackSet,
		c.AppID, c.TokenSealed, c.AESKeySealed, c.Mode, timeArg(c.UpdatedAt))
	if pgCode(err) == codeForeignKeyViolation {
		return store.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("set app callback: %w", err)
	}
	return nil
}

// AppCallbackGet implements store.Executor.
func (e *executor) AppCallbackGet(ctx context.Context, appID string) (*store.AppCallback, error) {
	var c store.AppCallback
	err := e.q.QueryRow(ctx, queryAppCallbackGet, appID).Scan(
		&c.AppID, &c.TokenSealed, &c.AESKeySealed, &c.Mode, &c.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get app callback: %w", err)
	}
	c.UpdatedAt = c.UpdatedAt.UTC()
	return &c, nil
}

// AppCallbackDelete implements store.Executor.
func (e *executor) AppCallbackDelete(ctx context.Context, appID string) error {
	tag, err := e.q.Exec(ctx, queryAppCallbackDelete, appID)
	if err != nil {
		return fmt.Errorf("delete app callback: %w", err)
	} else if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}
