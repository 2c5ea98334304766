package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wxnotify/wxnotify/store"
)

var (
	queryAppInsert = queries.MustGet("AppInsert")
	queryAppGet    = queries.MustGet("AppGet")
	queryAppList   = queries.MustGet("AppList")
	queryAppDelete = queries.MustGet("AppDelete")

	queryTokenGet          = queries.MustGet("TokenGet")
	queryTokenLeaseAcquire = queries.MustGet("TokenLeaseAcquire")
	queryTokenLeaseRelease = queries.MustGet("TokenLeaseRelease")
	queryTokenSave         = queries.MustGet("TokenSave")
	queryTokenSaveError    = queries.MustGet("TokenSaveError")
)

// AppInsert implements store.Executor.
func (e *executor) AppInsert(ctx context.Context, p *store.AppInsertParams) error {
	_, err := e.write.ExecContext(ctx, queryAppInsert,
		p.AppID, p.Name, p.SecretSealed, p.TokenMode, timeArg(p.Now))
	if isUniqueViolation(err) {
		return store.ErrConflict
	} else if err != nil {
		return fmt.Errorf("insert app: %w", err)
	}
	return nil
}

// AppGet implements store.Executor.
func (e *executor) AppGet(ctx context.Context, appID string) (*store.App, error) {
	app, err := scanApp(e.read.QueryRowContext(ctx, queryAppGet, appID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get app: %w", err)
	}
	return app, nil
}

// AppList implements store.Executor.
func (e *executor) AppList(ctx context.Context) ([]*store.App, error) {
	rows, err := e.read.QueryContext(ctx, queryAppList)
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	defer rows.Close()
	apps := []*store.App{}
	for rows.Next() {
		app, err := scanApp(rows)
		if err != nil {
			return nil, fmt.Errorf("list apps: %w", err)
		}
		apps = append(apps, app)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	return apps, nil
}

// AppDelete implements store.Executor. The token row goes with the app
// (ON DELETE CASCADE; foreign_keys is on for every connection).
func (e *executor) AppDelete(ctx context.Context, appID string) error {
	res, err := e.write.ExecContext(ctx, queryAppDelete, appID)
	if err != nil {
		return fmt.Errorf("delete app: %w", err)
	}
	return oneRow(res, "delete app")
}

// TokenGet implements store.Executor.
func (e *executor) TokenGet(ctx context.Context, appID string) (*store.Token, error) {
	var (
		t                                store.Token
		expiresAt, fetchedAt, leaseUntil sql.NullInt64
		lastErrorAt, retryAt             sql.NullInt64
		leaseHolder, lastError           sql.NullString
	)
	err := e.read.QueryRowContext(ctx, queryTokenGet, appID).Scan(
		&t.AppID, &t.ValueSealed, &expiresAt, &fetchedAt, &t.Generation, &t.Fetches,
		&leaseHolder, &leaseUntil, &lastError, &lastErrorAt, &retryAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	t.ExpiresAt = timeValue(expiresAt)
	t.FetchedAt = timeValue(fetchedAt)
	t.LeaseHolder = leaseHolder.String
	t.LeaseUntil = timeValue(leaseUntil)
	t.LastError = lastError.String
	t.LastErrorAt = timeValue(lastErrorAt)
	t.RetryAt = timeValue(retryAt)
	return &t, nil
}

// TokenLeaseAcquire implements store.Executor.
func (e *executor) TokenLeaseAcquire(ctx context.Context, p *store.TokenLeaseAcquireParams) (bool, error) {
	if err := p.Validate(); err != nil {
		return false, err
	}
	var appID string
	err := e.write.QueryRowContext(ctx, queryTokenLeaseAcquire,
		p.AppID, p.Holder, timeArg(p.Now), timeArg(p.Until)).Scan(&appID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case isForeignKeyViolation(err):
		return false, store.ErrNotFound
	case err != nil:
		return false, fmt.Errorf("acquire token lease: %w", err)
	}
	return true, nil
}

// TokenLeaseRelease implements store.Executor.
func (e *executor) TokenLeaseRelease(ctx context.Context, appID, holder string) error {
	if _, err := e.write.ExecContext(ctx, queryTokenLeaseRelease, appID, holder); err != nil {
		return fmt.Errorf("release token lease: %w", err)
	}
	return nil
}

// TokenSave implements store.Executor.
func (e *executor) TokenSave(ctx context.Context, p *store.TokenSaveParams) (bool, error) {
	res, err := e.write.ExecContext(ctx, queryTokenSave,
		p.AppID, p.Holder, p.ValueSealed, timeArg(p.ExpiresAt), timeArg(p.Now))
	if err != nil {
		return false, fmt.Errorf("save token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("save token: %w", err)
	}
	return n == 1, nil
}

// TokenSaveError implements store.Executor.
func (e *executor) TokenSaveError(ctx context.Context, p *store.TokenSaveErrorParams) error {
	if _, err := e.write.ExecContext(ctx, queryTokenSaveError,
		p.AppID, p.Holder, p.Message, timeArg(p.Now), timeArg(p.RetryAt)); err != nil {
		return fmt.Errorf("save token error: %w", err)
	}
	return nil
}

func scanApp(s scanner) (*store.App, error) {
	var (
		app       store.App
		createdAt sql.NullInt64
	)
	if err := s.Scan(&app.AppID, &app.Name, &app.SecretSealed, &app.TokenMode, &createdAt); err != nil {
		return nil, err
	}
	app.CreatedAt = timeValue(createdAt)
	return &app, nil
}
