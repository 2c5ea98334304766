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
	_, err := e.q.Exec(ctx, queryAppInsert,
		p.AppID, p.Name, p.SecretSealed, p.TokenMode, timeArg(p.Now))
	if pgCode(err) == codeUniqueViolation {
		return store.ErrConflict
	} else if err != nil {
		return fmt.Errorf("insert app: %w", err)
	}
	return nil
}

// AppGet implements store.Executor.
func (e *executor) AppGet(ctx context.Context, appID string) (*store.App, error) {
	app, err := scanApp(e.q.QueryRow(ctx, queryAppGet, appID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get app: %w", err)
	}
	return app, nil
}

// AppList implements store.Executor.
func (e *executor) AppList(ctx context.Context) ([]*store.App, error) {
	rows, err := e.q.Query(ctx, queryAppList)
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
// (ON DELETE CASCADE).
func (e *executor) AppDelete(ctx context.Context, appID string) error {
	tag, err := e.q.Exec(ctx, queryAppDelete, appID)
	if err != nil {
		return fmt.Errorf("delete app: %w", err)
	} else if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// TokenGet implements store.Executor.
func (e *executor) TokenGet(ctx context.Context, appID string) (*store.Token, error) {
	var (
		t                                store.Token
		expiresAt, fetchedAt, leaseUntil *time.Time
		lastErrorAt, retryAt             *time.Time
		leaseHolder, lastError           *string
	)
	err := e.q.QueryRow(ctx, queryTokenGet, appID).Scan(
		&t.AppID, &t.ValueSealed, &expiresAt, &fetchedAt, &t.Generation, &t.Fetches,
		&leaseHolder, &leaseUntil, &lastError, &lastErrorAt, &retryAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	t.ExpiresAt = timeValue(expiresAt)
	t.FetchedAt = timeValue(fetchedAt)
	t.LeaseHolder = stringValue(leaseHolder)
	t.LeaseUntil = timeValue(leaseUntil)
	t.LastError = stringValue(lastError)
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
	err := e.q.QueryRow(ctx, queryTokenLeaseAcquire,
		p.AppID, p.Holder, timeArg(p.Now), timeArg(p.Until)).Scan(&appID)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case pgCode(err) == codeForeignKeyViolation:
		return false, store.ErrNotFound
	case err != nil:
		return false, fmt.Errorf("acquire token lease: %w", err)
	}
	return true, nil
}

// TokenLeaseRelease implements store.Executor.
func (e *executor) TokenLeaseRelease(ctx context.Context, appID, holder string) error {
	if _, err := e.q.Exec(ctx, queryTokenLeaseRelease, appID, holder); err != nil {
		return fmt.Errorf("release token lease: %w", err)
	}
	return nil
}

// TokenSave implements store.Executor.
func (e *executor) TokenSave(ctx context.Context, p *store.TokenSaveParams) (bool, error) {
	tag, err := e.q.Exec(ctx, queryTokenSave,
		p.AppID, p.Holder, p.ValueSealed, timeArg(p.ExpiresAt), timeArg(p.Now))
	if err != nil {
		return false, fmt.Errorf("save token: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// TokenSaveError implements store.Executor.
func (e *executor) TokenSaveError(ctx context.Context, p *store.TokenSaveErrorParams) error {
	if _, err := e.q.Exec(ctx, queryTokenSaveError,
		p.AppID, p.Holder, p.Message, timeArg(p.Now), timeArg(p.RetryAt)); err != nil {
		return fmt.Errorf("save token error: %w", err)
	}
	return nil
}

func scanApp(row pgx.Row) (*store.App, error) {
	var app store.App
	if err := row.Scan(&app.AppID, &app.Name, &app.SecretSealed, &app.TokenMode, &app.CreatedAt); err != nil {
		return nil, err
	}
	app.CreatedAt = app.CreatedAt.UTC()
	return &app, nil
}
