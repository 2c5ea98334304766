package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
	_, err := e.write.ExecContext(ctx, querySessionInsert,
		p.TokenHash, p.AppID, p.OpenID, p.SessionKeySealed, timeArg(p.Now), timeArg(p.ExpiresAt))
	switch {
	case isUniqueViolation(err):
		return store.ErrConflict
	case isForeignKeyViolation(err):
		return store.ErrNotFound
	case err != nil:
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// SessionGet implements store.Executor.
func (e *executor) SessionGet(ctx context.Context, tokenHash []byte) (*store.Session, error) {
	var (
		s                    store.Session
		createdAt, expiresAt sql.NullInt64
	)
	err := e.read.QueryRowContext(ctx, querySessionGet, tokenHash).Scan(
		&s.TokenHash, &s.AppID, &s.OpenID, &s.SessionKeySealed, &createdAt, &expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	s.CreatedAt = timeValue(createdAt)
	s.ExpiresAt = timeValue(expiresAt)
	return &s, nil
}

// SessionDeleteExpired implements store.Executor.
func (e *executor) SessionDeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	res, err := e.write.ExecContext(ctx, querySessionDeleteExpired, timeArg(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return n, nil
}

// AppCallbackSet implements store.Executor.
func (e *executor) AppCallbackSet(ctx context.Context, c *store.AppCallback) error {
	_, err := e.write.ExecContext(ctx, queryAppCallbackSet,
		c.AppID, c.TokenSealed, c.AESKeySealed, c.Mode, timeArg(c.UpdatedAt))
	if isForeignKeyViolation(err) {
		return store.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("set app callback: %w", err)
	}
	return nil
}

// AppCallbackGet implements store.Executor.
func (e *executor) AppCallbackGet(ctx context.Context, appID string) (*store.AppCallback, error) {
	var (
		c         store.AppCallback
		updatedAt sql.NullInt64
	)
	err := e.read.QueryRowContext(ctx, queryAppCallbackGet, appID).Scan(
		&c.AppID, &c.TokenSealed, &c.AESKeySealed, &c.Mode, &updatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get app callback: %w", err)
	}
	c.UpdatedAt = timeValue(updatedAt)
	return &c, nil
}

// AppCallbackDelete implements store.Executor.
func (e *executor) AppCallbackDelete(ctx context.Context, appID string) error {
	res, err := e.write.ExecContext(ctx, queryAppCallbackDelete, appID)
	if err != nil {
		return fmt.Errorf("delete app callback: %w", err)
	}
	return oneRow(res, "delete app callback")
}
